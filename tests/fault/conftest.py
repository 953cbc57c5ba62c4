"""Fault-injection fixtures: a real paddockd on its own data directories,
killed, restarted and damaged on purpose.

Everything here drives ``$PADDOCK_BUILD/tools/paddockd`` (default build dir
/work/main/build, like tests/integration) and the data tools next to it
(paddock-check, paddock-logdump, paddock-snapdump).  The raw wire client
comes from tests/integration/jute.py; on top of it ``PipeClient`` keeps
many requests in flight on one connection (a sender and a reader thread),
so a kill -9 lands while a whole group-commit round is unanswered.

Environment:
    PADDOCK_BUILD         build dir (default /work/main/build)
    PADDOCKD              explicit paddockd binary
    PADDOCK_FAULT_ROUNDS  crash rounds in test_crash (default 20)
    PADDOCK_FAULT_SEED    random seed (default: random, always printed)
    PADDOCK_KEEP_TMP=1    keep the servers' tmp dirs
"""

import collections
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import ensemble  # noqa: E402
import jute  # noqa: E402
from jute import Op, Err, Reader, p_int, p_bool, p_buffer, \
    p_string, p_vector, p_acl, OPEN_ACL  # noqa: E402
from srvutil import free_port, four_letter, serves  # noqa: E402,F401

PADDOCK_BUILD = os.environ.get("PADDOCK_BUILD", "/work/main/build")
TOOLS = os.path.join(PADDOCK_BUILD, "tools")
PADDOCKD = os.environ.get("PADDOCKD", os.path.join(TOOLS, "paddockd"))
CHECK = os.path.join(TOOLS, "paddock-check")
LOGDUMP = os.path.join(TOOLS, "paddock-logdump")
SNAPDUMP = os.path.join(TOOLS, "paddock-snapdump")
KEEP = os.environ.get("PADDOCK_KEEP_TMP")

SEED = int(os.environ.get("PADDOCK_FAULT_SEED") or
           random.SystemRandom().randrange(1, 2 ** 31))


def say(*a):
    """Progress lines: visible with -s, and in the captured output of a
    failing test otherwise."""
    print(*a, flush=True)


# ------------------------------------------------------------------ server

class StartFailed(Exception):
    def __init__(self, msg, rc=None, output=""):
        super().__init__(msg)
        self.rc = rc
        self.output = output


_LIVE = set()


class Paddock:
    """One paddockd with its own zoo.cfg, dataDir and dataLogDir that
    survive restarts.  Each start's stdout+stderr goes to its own file;
    ``output`` is the text of the latest start."""

    def __init__(self, tmpdir, overrides=None, data_dir=None, log_dir=None):
        self.dir = tmpdir
        self.data_dir = data_dir or os.path.join(tmpdir, "data")
        self.log_dir = log_dir or os.path.join(tmpdir, "datalog")
        os.makedirs(self.data_dir, exist_ok=True)
        os.makedirs(self.log_dir, exist_ok=True)
        self.port = free_port()
        self.config = {
            "tickTime": "2000",
            "minSessionTimeout": "4000",
            "maxSessionTimeout": "40000",
            "dataDir": self.data_dir,
            "dataLogDir": self.log_dir,
            "forceSync": "yes",
            "snapCount": "200",
            "preAllocSize": "1024",
            "4lw.commands.whitelist": "*",
            "clientPort": str(self.port),
            "clientPortAddress": "127.0.0.1",
            "admin.enableServer": "false",
        }
        for k, v in (overrides or {}).items():
            if v is None:
                self.config.pop(k, None)
            else:
                self.config[k] = str(v)
        self.cfg_path = os.path.join(tmpdir, "zoo.cfg")
        self.proc = None
        self.starts = 0
        self.out_path = None

    @property
    def hosts(self):
        return "127.0.0.1:%d" % self.port

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def write_config(self):
        with open(self.cfg_path, "w") as f:
            for k, v in self.config.items():
                f.write("%s=%s\n" % (k, v))

    def _spawn(self):
        if not os.path.exists(PADDOCKD):
            raise StartFailed("paddockd not found at %s (build it; set "
                              "PADDOCK_BUILD or PADDOCKD)" % PADDOCKD)
        self.write_config()
        self.starts += 1
        self.out_path = os.path.join(self.dir, "start%03d.log" % self.starts)
        with open(self.out_path, "wb") as out:
            self.proc = subprocess.Popen([PADDOCKD, self.cfg_path],
                                         stdout=out, stderr=subprocess.STDOUT,
                                         cwd=self.dir, start_new_session=True)
        _LIVE.add(self)

    @property
    def output(self):
        if not self.out_path:
            return ""
        with open(self.out_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def recovery_lines(self):
        return [l for l in self.output.splitlines()
                if l.startswith("paddockd: recovery:")]

    def start(self, timeout=15.0, session=True):
        """Start and wait until a session can be created (session=False:
        until ruok answers imok); StartFailed if the process exits or
        never serves."""
        self._spawn()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                self.proc = None
                _LIVE.discard(self)
                raise StartFailed("paddockd exited with status %s during "
                                  "start-up:\n%s" % (rc, self.output),
                                  rc, self.output)
            if self.serves(session):
                return self
            time.sleep(0.02)
        self.kill()
        raise StartFailed("paddockd did not serve on %s within %.0fs:\n%s" %
                          (self.hosts, timeout, self.output), None,
                          self.output)

    def start_expect_exit(self, timeout=15.0):
        """Start a server that is expected to refuse to start: returns
        (exit status, output).  If it serves instead, returns (None, out)
        and leaves it running."""
        self._spawn()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                self.proc = None
                _LIVE.discard(self)
                return rc, self.output
            if self.serves():
                return None, self.output
            time.sleep(0.02)
        return None, self.output

    def serves(self, session=True):
        return serves(self.hosts, session=session)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        _LIVE.discard(self)
        if not self.proc:
            return
        try:
            os.kill(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)
        self.proc = None

    kill = kill9

    def term(self, timeout=10.0):
        """SIGTERM and wait; returns the exit status."""
        _LIVE.discard(self)
        if not self.proc:
            return None
        try:
            os.kill(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            rc = "timeout (killed)"
        self.proc = None
        return rc

    def frozen(self):
        """Context manager: SIGSTOP the server (every thread parked
        outside a system call, so files show only completed writes) and
        SIGCONT it afterwards.  For running paddock-check on live dirs."""
        return _Frozen(self)

    def cleanup(self):
        self.kill9()
        if not KEEP:
            shutil.rmtree(self.dir, ignore_errors=True)


class _Frozen:
    def __init__(self, srv):
        self.pid = srv.pid

    def __enter__(self):
        if self.pid is None:
            return self
        os.kill(self.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            states = []
            try:
                for t in os.listdir("/proc/%d/task" % self.pid):
                    with open("/proc/%d/task/%s/stat" % (self.pid, t)) as f:
                        states.append(f.read().rsplit(")", 1)[1].split()[0])
            except OSError:
                pass
            if states and all(s in ("T", "t") for s in states):
                break
            time.sleep(0.002)
        return self

    def __exit__(self, *exc):
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        return False


def _kill_leftovers():
    for s in list(_LIVE):
        s.kill9()


import atexit  # noqa: E402
atexit.register(_kill_leftovers)


# ------------------------------------------------------------------ tools

def run_check(srv_or_dirs):
    """paddock-check DATADIR DATALOGDIR -> (exit status, output)."""
    if isinstance(srv_or_dirs, Paddock):
        dirs = [srv_or_dirs.data_dir, srv_or_dirs.log_dir]
    else:
        dirs = list(srv_or_dirs)
    p = subprocess.run([CHECK] + dirs, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace")


LogRec = collections.namedtuple("LogRec", "offset zxid len round crc_ok")
_REC_RE = re.compile(r"offset (\d+)\s+zxid 0x([0-9a-f]+) len (\d+)\s+round "
                     r"(\d+)\s+crc (ok|BAD)")


def logdump(path):
    """Records of one segment per paddock-logdump: (records, exit status).
    A damaged tail shows as a last record with crc_ok False."""
    p = subprocess.run([LOGDUMP, path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    recs = []
    for line in p.stdout.decode().splitlines():
        m = _REC_RE.match(line)
        if m:
            recs.append(LogRec(int(m.group(1)), int(m.group(2), 16),
                               int(m.group(3)), int(m.group(4)),
                               m.group(5) == "ok"))
    return recs, p.returncode


def rec_size(length):
    return 24 + ((length + 7) & ~7)


def files(d, prefix):
    """Sorted [(zxid, path)] of prefix.<16 hex> files in d."""
    out = []
    for name in os.listdir(d):
        m = re.fullmatch(prefix + r"\.([0-9a-f]{16})", name)
        if m:
            out.append((int(m.group(1), 16), os.path.join(d, name)))
    return sorted(out)


def segments(srv):
    return files(srv.log_dir, "log")


def snapshots(srv):
    return files(srv.data_dir, "snapshot")


# ---------------------------------------------------------- raw pipelining

class PipeClient:
    """A ZooKeeper session on one TCP connection with many requests in
    flight.  ``submit`` sends without waiting (bounded by ``window``); a
    reader thread matches each reply to its request by xid and calls the
    request's callback(err, zxid, reader).  ZooKeeper answers a session's
    requests in order: a reply that overtakes an earlier unanswered
    request is recorded in ``unexpected``.  When the connection drops,
    unanswered requests simply never get a callback."""

    def __init__(self, hosts, timeout_ms=10000, session_id=0, passwd=None,
                 window=64):
        self.raw = jute.RawClient(hosts, timeout=10.0)
        self.resp = self.raw.connect(timeout_ms=timeout_ms,
                                     session_id=session_id, passwd=passwd)
        self.session_id = self.raw.session_id
        self.passwd = self.raw.passwd
        self.sock = self.raw.sock
        self.buf = self.raw.buf
        self.pending = collections.OrderedDict()   # xid -> callback
        self.lock = threading.Lock()
        self.window = threading.Semaphore(window)
        self.closed = threading.Event()
        self.xid = 0
        self.unexpected = []
        if self.session_id == 0:      # session refused (expired)
            self.closed.set()
            self.raw.close_socket()
            return
        self.sock.settimeout(None)
        self.reader = threading.Thread(target=self._read_loop, daemon=True)
        self.reader.start()

    def _recv_exact(self, n):
        while len(self.buf) < n:
            try:
                chunk = self.sock.recv(1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                raise jute.Closed()
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _read_loop(self):
        try:
            while True:
                n = struct.unpack("!i", self._recv_exact(4))[0]
                frame = self._recv_exact(n)
                r = Reader(frame)
                xid, zxid, err = r.int(), r.long(), r.int()
                if xid in (-1, -2):   # watch event, ping reply
                    if xid == -2:
                        self.window.release()
                    continue
                with self.lock:
                    if xid not in self.pending:
                        self.unexpected.append(("reply to no request", xid))
                        continue
                    first = next(iter(self.pending))
                    cb = self.pending.pop(xid)
                if first != xid:
                    # ZooKeeper answers a session's requests in order;
                    # match by xid anyway so the bookkeeping stays right
                    self.unexpected.append(
                        ("out of order: reply xid %d (err %d) while xid %d "
                         "is unanswered" % (xid, err, first)))
                try:
                    if cb:
                        cb(err, zxid, r)
                finally:
                    self.window.release()
        except (jute.Closed, struct.error, OSError):
            pass
        finally:
            self.closed.set()

    def submit(self, op, body, cb=None, xid=None, timeout=None):
        """Send one request; False if the connection is gone (or no room
        in the window within timeout seconds)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.window.acquire(timeout=0.05):
            if self.closed.is_set():
                return False
            if deadline is not None and time.monotonic() > deadline:
                return False
        if self.closed.is_set():
            return False
        with self.lock:
            if xid is None:
                self.xid += 1
                xid = self.xid
            if xid != -2:
                self.pending[xid] = cb
            try:
                self.sock.sendall(p_int(len(body) + 8) + p_int(xid) +
                                  p_int(op) + body)
            except OSError:
                self.closed.set()
                return False
        return True

    def call(self, op, body, timeout=10.0):
        """Synchronous request: (err, zxid, reader)."""
        ev = threading.Event()
        res = []

        def cb(err, zxid, r):
            res.append((err, zxid, r))
            ev.set()
        if not self.submit(op, body, cb):
            raise jute.Closed("connection gone")
        deadline = time.monotonic() + timeout
        while not ev.wait(0.05):
            if self.closed.is_set() or time.monotonic() > deadline:
                raise jute.Closed("no reply")
        return res[0]

    def ping(self):
        self.submit(Op.PING, b"", xid=-2)

    def drain(self, timeout=10.0):
        """Wait until every submitted request is answered (or the
        connection is gone); True if all were answered."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if not self.pending:
                    return True
            if self.closed.is_set():
                return False
            time.sleep(0.005)
        return False

    def close_session(self):
        try:
            self.call(Op.CLOSE_SESSION, b"", timeout=5)
        except jute.Closed:
            pass
        self.close()

    def close(self):
        self.closed.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.raw.close_socket()


# request bodies ---------------------------------------------------------

def body_create(path, data, mode=jute.Mode.PERSISTENT):
    return (p_string(path) + p_buffer(data) + p_vector(OPEN_ACL, p_acl) +
            p_int(mode))


def body_set(path, data, version=-1):
    return p_string(path) + p_buffer(data) + p_int(version)


def body_delete(path, version=-1):
    return p_string(path) + p_int(version)


def body_get(path):
    return p_string(path) + p_bool(False)


def body_multi(ops):
    """ops as jute.RawClient.multi takes them."""
    body = b""
    for o in ops:
        kind = o[0]
        if kind == "create":
            body += p_int(Op.CREATE) + p_bool(False) + p_int(-1)
            body += body_create(o[1], o[2], o[3])
        elif kind == "delete":
            body += p_int(Op.DELETE) + p_bool(False) + p_int(-1)
            body += body_delete(o[1], o[2])
        elif kind == "setData":
            body += p_int(Op.SET_DATA) + p_bool(False) + p_int(-1)
            body += body_set(o[1], o[2], o[3])
        elif kind == "check":
            body += p_int(Op.CHECK) + p_bool(False) + p_int(-1)
            body += p_string(o[1]) + p_int(o[2])
        else:
            raise ValueError(kind)
    return body + p_int(-1) + p_bool(True) + p_int(-1)


def read_states(hosts, paths, window=256, session=None, timeout=60):
    """{path: (data, version, stat) or None} for every path, read with one
    pipelined session (a new one, or session=(id, passwd) to reattach to an
    existing one, which is then not closed)."""
    if session:
        c = PipeClient(hosts, timeout_ms=20000, window=window,
                       session_id=session[0], passwd=session[1])
        assert c.session_id == session[0], "session not accepted"
    else:
        c = PipeClient(hosts, timeout_ms=10000, window=window)
    out = {}
    errors = []

    def make_cb(path):
        def cb(err, zxid, r):
            if err == Err.NO_NODE:
                out[path] = None
            elif err:
                errors.append((path, err))
            else:
                data = r.buffer()
                st = r.stat()
                out[path] = (data if data is not None else b"", st.version,
                             st)
        return cb
    try:
        deadline = time.monotonic() + timeout
        for p in paths:
            if not c.submit(Op.GET_DATA, body_get(p), make_cb(p),
                            timeout=max(0.1, deadline - time.monotonic())):
                raise AssertionError(
                    "reads not answered within %ds (or connection lost)" %
                    timeout)
        if not c.drain(timeout):
            raise AssertionError("reads not answered within %ds" % timeout)
        if not session:
            c.close_session()
    finally:
        c.close()
    assert not errors, "read errors: %r" % errors[:10]
    return out


# ------------------------------------------------------------------ pytest

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report gets what its ensembles' members logged."""
    outcome = yield
    ensemble.add_logs(outcome.get_result())


def pytest_configure(config):
    config.addinivalue_line("markers", "fault: fault-injection test with a "
                            "dedicated paddockd")
    _give_back_conftest_name(config)


def _give_back_conftest_name(config):
    """pytest imports every rootless conftest.py as module "conftest"; the
    last one loaded wins sys.modules["conftest"].  tests/integration's test
    modules do "from conftest import ...", so when both directories run in
    one pytest invocation and this file was loaded after theirs, point the
    name back at tests/integration/conftest.py (this file's helpers are
    imported as "paddock_fault")."""
    if sys.modules.get("conftest") is not _SELF:
        return
    want = os.path.join(os.path.dirname(HERE), "integration", "conftest.py")
    for plugin in config.pluginmanager.get_plugins():
        f = getattr(plugin, "__file__", None)
        if f and os.path.abspath(f) == want:
            sys.modules["conftest"] = plugin
            return


def pytest_report_header(config):
    return ["paddock fault: paddockd=%s seed=%d (PADDOCK_FAULT_SEED)" %
            (PADDOCKD, SEED)]


@pytest.fixture
def rng(request):
    """A random.Random seeded from PADDOCK_FAULT_SEED and the test name, so
    a failing test reruns identically with the printed seed."""
    r = random.Random("%d:%s" % (SEED, request.node.nodeid))
    say("[%s] seed %d" % (request.node.name, SEED))
    return r


@pytest.fixture
def paddock_factory():
    """paddock_factory(overrides=None, data_dir=None, log_dir=None) ->
    Paddock (not started).  Killed and removed afterwards."""
    made = []

    def make(overrides=None, **kw):
        if not os.path.exists(PADDOCKD):
            pytest.fail("paddockd not found at %s (build first; set "
                        "PADDOCK_BUILD or PADDOCKD)" % PADDOCKD)
        d = tempfile.mkdtemp(prefix="paddock-fault-")
        srv = Paddock(d, overrides, **kw)
        made.append(srv)
        return srv
    yield make
    for s in made:
        if KEEP:
            say("kept %s" % s.dir)
        s.cleanup()


# The test modules import the helpers above as "paddock_fault": a plain
# "import conftest" is ambiguous when tests/integration (which has its own
# conftest.py) runs in the same pytest invocation.
_SELF = sys.modules[__name__]
sys.modules["paddock_fault"] = _SELF
