"""Disk full: dataLogDir on a small tmpfs (8 MiB, 4 MiB of it taken by a
filler file), dataDir elsewhere, preAllocSize=1024 KiB.

Write until the log cannot take more: paddockd must answer writes with an
error (ZSYSTEMERROR, -1; kazoo raises SystemZookeeperError), keep serving
reads and existing sessions, resume writing within a few seconds once the
filler is deleted, and lose nothing it acknowledged — checked after a
restart.  Needs root (mount -t tmpfs); skipped otherwise.
"""

import os
import subprocess
import tempfile
import threading
import time

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import SystemZookeeperError, KazooException

import jute
from jute import Op, Err
from paddock_fault import (PipeClient, body_create, read_states, run_check,
                      segments, say)

FS_SIZE = "8m"
FILLER = 4 << 20


@pytest.fixture
def small_tmpfs():
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a tmpfs")
    d = tempfile.mkdtemp(prefix="paddock-fault-tmpfs-")
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + FS_SIZE,
                        "tmpfs", d], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    if p.returncode != 0:
        os.rmdir(d)
        pytest.skip("cannot mount a tmpfs: %s" % p.stdout.decode().strip())
    try:
        yield d
    finally:
        if subprocess.run(["umount", d]).returncode != 0:
            subprocess.run(["umount", "-l", d])
        try:
            os.rmdir(d)
        except OSError:
            pass


def df(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


class Filler:
    """Pipelined creates of 2 KiB znodes; remembers what was acknowledged
    and what was refused."""

    def __init__(self, hosts, prefix):
        self.c = PipeClient(hosts, timeout_ms=30000, window=16)
        self.prefix = prefix
        self.acked = {}
        self.refused = {}
        self.sent = 0
        self.c.call(Op.CREATE2, body_create(prefix, b""))

    def one(self):
        i = self.sent
        self.sent += 1
        path = "%s/f%05d" % (self.prefix, i)
        data = (path + ":").encode() + b"d" * 2000

        def cb(err, zxid, r):
            if err == 0:
                self.acked[path] = data
            else:
                self.refused[path] = err
        return self.c.submit(Op.CREATE2, body_create(path, data), cb,
                             timeout=5)


@pytest.mark.timeout(120)
def test_disk_full(small_tmpfs, paddock_factory):
    filler = os.path.join(small_tmpfs, "filler")
    with open(filler, "wb") as f:
        f.write(bytes(FILLER))
        f.flush()
        os.fsync(f.fileno())
    srv = paddock_factory({"snapCount": "1000000"}, log_dir=small_tmpfs)
    srv.start()
    say("disk full: dataLogDir on a %s tmpfs with a %d MiB filler, %d KiB "
        "free at start" % (FS_SIZE, FILLER >> 20, df(small_tmpfs) >> 10))

    # an existing session with an ephemeral, via kazoo
    zk = KazooClient(hosts=srv.hosts, timeout=4.0)
    zk.start(timeout=10)
    zk.create("/eph", b"e", ephemeral=True)
    zk.create("/before", b"b")
    raw = jute.RawClient(srv.hosts)
    raw.connect(timeout_ms=4000)

    # fill the log's filesystem
    # The filling session pipelines: once a round cannot be written its
    # writes stay unanswered, and the writes it sends after them are
    # refused but answered only after them, in xid order (so only when
    # there is room again).  The filler stops when its window is stuck.
    w = Filler(srv.hosts, "/fill")
    t0 = time.monotonic()
    while not w.refused and time.monotonic() - t0 < 30:
        if not w.one():
            break
    stuck_now = w.sent - len(w.acked) - len(w.refused)
    assert w.refused or stuck_now, "the log never filled after %d creates " \
        "(%d KiB free)" % (w.sent, df(small_tmpfs) >> 10)
    codes = sorted(set(w.refused.values()))
    time.sleep(0.5)
    stuck = w.sent - len(w.acked) - len(w.refused)
    say("disk full: %d creates sent, %d acknowledged, %d refused with %s, "
        "%d unanswered (in the round the log could not write) after %.1fs; "
        "%d KiB free, %d segments" %
        (w.sent, len(w.acked), len(w.refused), codes, stuck,
         time.monotonic() - t0, df(small_tmpfs) >> 10, len(segments(srv))))
    assert set(codes) <= {Err.SYSTEM_ERROR}, codes

    # writes of a session with nothing pending fail at once, with
    # SystemZookeeperError
    raised = {}
    for name, fn in (("create", lambda: zk.create("/during", b"x")),
                     ("set", lambda: zk.set("/before", b"y")),
                     ("delete", lambda: zk.delete("/before"))):
        try:
            fn()
            raised[name] = None
        except KazooException as e:
            raised[name] = type(e).__name__
    say("disk full: kazoo create/set/delete raised %s" % raised)
    assert all(v == SystemZookeeperError.__name__ for v in raised.values()), \
        raised

    # reads and sessions keep working; sessions outlive their timeout
    t_full = time.monotonic()
    while time.monotonic() - t_full < 5.0:     # > the 4 s session timeout
        assert zk.get("/before")[0] == b"b"
        assert zk.exists("/eph") is not None
        some = next(iter(w.acked))
        assert zk.get(some)[0] == w.acked[some]
        raw.ping()
        time.sleep(0.25)
    assert zk.connected
    assert zk.exists("/eph").ephemeralOwner == zk.client_id[0]
    say("disk full: get/exists/ping fine for %.1fs, kazoo session and its "
        "ephemeral alive" % (time.monotonic() - t_full))
    # a new session while full: its createSession cannot be logged, so it
    # is refused at once (a session only in memory would be forgotten by a
    # restart while its ephemerals stayed)
    late = {}

    def connect_late():
        try:
            c = jute.RawClient(srv.hosts, timeout=20.0)
            r = c.connect(timeout_ms=4000)
            late["client"], late["resp"] = c, r
            late["t"] = time.monotonic()
        except Exception as e:     # noqa: BLE001
            late["error"] = "%s: %s" % (type(e).__name__, e)
    t_late = threading.Thread(target=connect_late, daemon=True)
    t_late.start()
    time.sleep(1.0)
    say("disk full: a new session while full: %s after 1 s" %
        ("answered %r" % (late["resp"],) if "resp" in late else
         late.get("error", "no answer yet")))

    # free space: writes must come back within a few seconds
    os.unlink(filler)
    t_free = time.monotonic()
    ok_after = None
    while time.monotonic() - t_free < 10:
        try:
            zk.create("/after-free", b"a")
            ok_after = time.monotonic() - t_free
            break
        except SystemZookeeperError:
            time.sleep(0.05)
    assert ok_after is not None, "writes still refused 10 s after freeing " \
        "%d MiB" % (FILLER >> 20)
    assert w.c.drain(10), "writes stuck in the full round never answered"
    say("disk full: filler deleted, first write accepted after %.2fs; the "
        "%d stuck creates answered (now %d acknowledged, %d refused)" %
        (ok_after, stuck, len(w.acked), len(w.refused)))
    assert ok_after < 5.0
    t_late.join(10)
    assert "resp" in late, "new session never answered: %s" % late
    assert (late["resp"].session_id, late["resp"].timeout) == (0, 0), \
        "a session was created while the log could not record it"
    late["client"].close_socket()
    # write on a while (more segments)
    w.refused_before = dict(w.refused)
    for _ in range(300):
        w.one()
    assert w.c.drain(20)
    assert len(w.refused) == len(w.refused_before), \
        "writes refused after space came back"
    zk.set("/before", b"b2")
    eph_owner = zk.client_id

    # restart: nothing acknowledged may be lost, nothing refused applied
    w.c.close()
    raw.close_socket()
    zk.stop()
    zk.close()
    srv.kill9()
    srv.start()
    want = dict(w.acked)
    act = read_states(srv.hosts, list(want) + list(w.refused) +
                      ["/before", "/after-free", "/during"])
    lost = [p for p, d in want.items() if act[p] is None or act[p][0] != d]
    ghosts = [p for p in w.refused if act[p] is not None]
    say("disk full: after kill -9 + restart: acked=%d lost=%d; refused=%d "
        "of which present %d; stderr %s" %
        (len(want), len(lost), len(w.refused), len(ghosts),
         srv.recovery_lines()))
    for p in (lost[:3] + ghosts[:3]):
        say("  %s: acked=%s refused=%s now %s" % (
            p, p in want, w.refused.get(p), act[p] and
            (act[p][0][:16], "czxid 0x%x" % act[p][2].czxid)))
    assert not lost, lost[:10]
    assert act["/before"][0] == b"b2" and act["/after-free"] is not None
    assert act["/during"] is None
    assert not ghosts, "refused writes applied after restart: %s" % \
        ghosts[:10]
    with srv.frozen():
        rc, out = run_check(srv)
    assert rc == 0, out
    del eph_owner
    # ZooKeeper answers a session's requests in order (clients match
    # replies to requests by position: kazoo raises "xids do not match",
    # the Java client "Xid out of order")
    ooo = w.c.unexpected
    say("disk full: replies out of order on the filling session: %d%s" %
        (len(ooo), "".join("\n  " + str(u) for u in ooo[:3])))
    problems = []
    if ooo:
        problems.append("%d refused writes answered before earlier "
                        "unanswered requests of the same session: %s" %
                        (len(ooo), ooo[:2]))
    assert not problems, "\n".join(problems)


@pytest.mark.timeout(90)
def test_disk_full_kill9_and_restart_while_full(small_tmpfs,
                                                paddock_factory):
    """kill -9 while the log's filesystem is full (a round stuck, never
    acknowledged), restart on the still-full filesystem: the server must
    start, serve every acknowledged write, refuse writes, and accept them
    again once there is room."""
    filler = os.path.join(small_tmpfs, "filler")
    with open(filler, "wb") as f:
        f.write(bytes(FILLER))
    srv = paddock_factory({"snapCount": "1000000"}, log_dir=small_tmpfs)
    srv.start()
    # a session that will come back after the restart: on a full disk a
    # new session cannot be logged, so only a returning one can read
    keep = jute.RawClient(srv.hosts)
    keep.connect(timeout_ms=20000)
    keep_s = (keep.session_id, keep.passwd)
    w = Filler(srv.hosts, "/fill")
    t0 = time.monotonic()
    while not w.refused and time.monotonic() - t0 < 30:
        if not w.one():
            break
    assert w.refused or w.sent > len(w.acked)  # refused, or stuck
    time.sleep(0.3)
    srv.kill9()
    acked = dict(w.acked)
    w.c.close()
    keep.close_socket()
    srv.start(session=False)
    try:
        c = jute.RawClient(srv.hosts, timeout=2.0)
        r = c.connect(timeout_ms=4000)
        newsess = "answered (session 0x%x)" % r.session_id
    except Exception as e:    # noqa: BLE001
        newsess = "no answer (%s)" % type(e).__name__
    c.close_socket()
    say("full + kill -9: %d acknowledged, %d refused, %d unanswered at the "
        "kill; restarted on the full filesystem (%d KiB free); stderr %s" %
        (len(acked), len(w.refused), w.sent - len(acked) - len(w.refused),
         df(small_tmpfs) >> 10, srv.recovery_lines()))
    say("full + kill -9: a new session on the full filesystem: %s" %
        newsess)
    # (a returning session's reads: see test_crash.py
    # test_first_request_after_restart_is_a_read)
    act = read_states(srv.hosts, list(acked), session=keep_s, timeout=10)
    lost = [p for p, d in acked.items() if act[p] is None or act[p][0] != d]
    zk = KazooClient(hosts=srv.hosts, timeout=20.0,
                     client_id=(keep_s[0], keep_s[1]))
    zk.start(timeout=10)
    try:
        try:
            zk.create("/while-full", b"x")
            refused = None
        except KazooException as e:
            refused = type(e).__name__
        os.unlink(filler)
        t_free = time.monotonic()
        ok_after = None
        while time.monotonic() - t_free < 10:
            try:
                zk.create("/after-free", b"a")
                ok_after = time.monotonic() - t_free
                break
            except SystemZookeeperError:
                time.sleep(0.05)
    finally:
        zk.stop()
        zk.close()
    say("full + kill -9: after restart acked=%d lost=%d; a write while "
        "still full -> %s; after freeing space the first write took %s" %
        (len(acked), len(lost), refused or "accepted",
         "%.2fs" % ok_after if ok_after is not None else "never"))
    assert not lost, lost[:10]
    assert ok_after is not None and ok_after < 5.0
    srv.kill9()
    srv.start()
    act = read_states(srv.hosts, list(acked) + ["/after-free"])
    assert all(act[p] is not None and act[p][0] == d
               for p, d in acked.items())
    assert act["/after-free"] is not None
    with srv.frozen():
        rc, out = run_check(srv)
    assert rc == 0, out
