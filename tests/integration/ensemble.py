"""Real ensembles on loopback for tests: N paddockd processes (or Apache
ZooKeeper 3.8 servers) from real zoo.cfg files with server.N lines and
myid files, each in its own directory, started, killed (-9) and
restarted by the test."""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from srvutil import four_letter, free_port

PADDOCK_BUILD = os.environ.get("PADDOCK_BUILD", "/work/main/build")
PADDOCKD = os.environ.get("PADDOCKD",
                          os.path.join(PADDOCK_BUILD, "tools", "paddockd"))
ZK_CP = "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar"
KEEP = os.environ.get("PADDOCK_KEEP_TMP")

# What a ZooKeeper leader logs when a learner skipped the ACK of a
# proposal (LearnerHandler.SyncLimitCheck tracks the oldest one it sent),
# and then, syncLimit later, when it drops that learner for it
ZK_ACK_COMPLAINTS = ("received before ACK for", "transaction timeout")

# What the members of this test's ensembles logged, for a failed test's
# report (conftest.py's pytest_runtest_makereport): the live ensembles,
# and the last LOG_TAIL lines of each member of one closed meanwhile
# (close() removes its directory).
LOG_TAIL = 80
_OPEN = []
_CLOSED = []


class Member:
    def __init__(self, ens, sid, observer):
        self.ens = ens
        self.sid = sid
        self.observer = observer
        self.client_port = ens.port()
        self.quorum_port = ens.port()
        self.election_port = ens.port()
        self.dir = os.path.join(ens.dir, "s%d" % sid)
        self.data = os.path.join(self.dir, "data")
        os.makedirs(self.data)
        with open(os.path.join(self.data, "myid"), "w") as f:
            f.write("%d\n" % sid)
        self.proc = None
        self.kind = ens.kinds.get(sid, ens.kind)
        self.log_path = os.path.join(self.dir, "server.log")

    @property
    def hosts(self):
        return "127.0.0.1:%d" % self.client_port

    def write_config(self):
        lines = ["tickTime=%d" % self.ens.tick,
                 "initLimit=10", "syncLimit=5",
                 "dataDir=%s" % self.data,
                 "clientPort=%d" % self.client_port,
                 "clientPortAddress=127.0.0.1",
                 "4lw.commands.whitelist=*",
                 "admin.enableServer=false",
                 "minSessionTimeout=1000", "maxSessionTimeout=40000",
                 "paddock.workers=1",
                 "paddock.finalizeWait=50"]
        # a key in `extra` replaces the default above (zoo.cfg keeps the
        # first of two)
        given = {x.split("=", 1)[0] for x in self.ens.extra}
        lines = [x for x in lines if x.split("=", 1)[0] not in given]
        if self.observer:
            lines.append("peerType=observer")
        for m in self.ens.members:
            lines.append("server.%d=127.0.0.1:%d:%d%s" % (
                m.sid, m.quorum_port, m.election_port,
                ":observer" if m.observer else ""))
        lines += self.ens.extra
        path = os.path.join(self.dir, "zoo.cfg")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def start(self):
        cfg = self.write_config()
        if self.kind == "paddock":
            cmd = [PADDOCKD, cfg]
        else:
            cmd = ["java", "-Xshare:auto", "-XX:+UseSerialGC", "-Xmx256m",
                   "-cp", ZK_CP, "-Dzookeeper.admin.enableServer=false",
                   "-Dorg.slf4j.simpleLogger.defaultLogLevel=info"] + \
                list(self.ens.jvm) + \
                ["org.apache.zookeeper.server.quorum.QuorumPeerMain", cfg]
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                     cwd=self.dir, start_new_session=True)
        log.close()

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def wipe(self):
        """kill -9, then lose everything but myid: the member rejoins
        with nothing and is sent the leader's whole tree (SNAP)."""
        self.kill9()
        for f in os.listdir(self.data):
            path = os.path.join(self.data, f)
            if os.path.isdir(path):
                shutil.rmtree(path)   # ZooKeeper's version-2/
            elif f != "myid":
                os.unlink(path)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill9()
        self.proc = None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def mode(self):
        """'leader', 'follower', 'observer', or None (not serving)."""
        if not self.alive():
            return None
        try:
            out = four_letter(self.hosts, "srvr", timeout=1.0)
        except OSError:
            return None
        m = re.search(r"^Mode: (\S+)", out, re.M)
        return m.group(1) if m else None

    def zxid(self):
        out = four_letter(self.hosts, "srvr", timeout=2.0)
        m = re.search(r"^Zxid: (0x[0-9a-f]+)", out, re.M)
        return int(m.group(1), 16) if m else None

    def log_lines(self, needles):
        """The lines of the member's log that hold any of `needles`."""
        try:
            with open(self.log_path, errors="replace") as f:
                return [ln for ln in f if any(x in ln for x in needles)]
        except OSError:
            return []

    def log_tail(self, n=30):
        try:
            with open(self.log_path, "rb") as f:
                return "\n".join(f.read().decode("utf-8", "replace")
                                 .splitlines()[-n:])
        except OSError:
            return ""


class Ensemble:
    def __init__(self, voters=3, observers=0, kind="paddock", kinds=None,
                 tick=500, extra=(), jvm=()):
        """extra: zoo.cfg lines; jvm: system properties (-Dkey=value) for
        the ZooKeeper members, for what ZooKeeper reads only there."""
        self.dir = tempfile.mkdtemp(prefix="paddock-ens-")
        self.kind = kind
        self.kinds = kinds or {}
        self.tick = tick
        self.extra = list(extra)
        self.jvm = list(jvm)
        self.members = []
        self.used = set()
        for i in range(voters + observers):
            self.members.append(Member(self, i + 1, i >= voters))
        _OPEN.append(self)

    def port(self):
        """A free loopback port no other member of this ensemble got."""
        while True:
            p = free_port()
            if p not in self.used:
                self.used.add(p)
                return p

    def __getitem__(self, i):
        return self.members[i]

    def start(self, timeout=30):
        for m in self.members:
            m.start()
        self.wait_serving(timeout=timeout)

    def hosts(self, members=None):
        return ",".join(m.hosts for m in (members or self.members))

    def leader(self):
        for m in self.members:
            if m.mode() == "leader":
                return m
        return None

    def wait_serving(self, members=None, timeout=30):
        """Every given (default: every live) member serves; returns the
        leader."""
        deadline = time.time() + timeout
        while True:
            ms = members or [m for m in self.members if m.alive()]
            modes = [m.mode() for m in ms]
            leaders = [m for m in self.members if m.mode() == "leader"]
            # a read-only member (readonlymode) is cut off, not serving
            if all(modes) and "read-only" not in modes and \
                    len(leaders) == 1:
                return leaders[0]
            if time.time() > deadline:
                raise AssertionError(
                    "ensemble not serving after %ds: %s\n%s" % (
                        timeout, modes,
                        "\n".join("--- s%d\n%s" % (m.sid, m.log_tail())
                                  for m in self.members)))
            time.sleep(0.05)

    def close(self):
        for m in self.members:
            m.kill9()
        if self in _OPEN:
            _OPEN.remove(self)
            _CLOSED.extend(self.log_sections())
        if not KEEP:
            shutil.rmtree(self.dir, ignore_errors=True)

    def log_sections(self):
        return [("s%d (%s) log, last %d lines" % (m.sid, m.kind, LOG_TAIL),
                 m.log_tail(LOG_TAIL)) for m in self.members]


def add_logs(rep):
    """For conftest.py's pytest_runtest_makereport: a failed report gets
    each member's log tail, of the ensembles closed since the last
    report and of those open now (once, though both tests/integration's
    and tests/fault's conftest.py call this)."""
    if getattr(rep, "ensemble_logs", False):
        return
    rep.ensemble_logs = True
    closed = list(_CLOSED)
    del _CLOSED[:]
    if rep.failed and not getattr(rep, "wasxfail", None):
        for e in _OPEN:
            closed += e.log_sections()
        rep.sections += closed


def fill(zk, parent, n, value, batch=500):
    """Create parent and n children parent/n000000... holding value, in
    multis of `batch` creates."""
    zk.create(parent)
    for b in range(0, n, batch):
        t = zk.transaction()
        for i in range(b, min(n, b + batch)):
            t.create("%s/n%06d" % (parent, i), value)
        res = t.commit()
        assert all(r is True or isinstance(r, str) for r in res), res
