"""Network partitions of a real paddockd ensemble, checked for
linearizability.

Five paddockd, each in a network namespace of its own on a bridge (one
veth each); the clients sit in the test's namespace and may reach every
member.  While kazoo sessions read, write, create, delete and sync a few
keys, a nemesis cuts members off from each other with blackhole routes in
their namespaces (the client paths stay up, as when the links between
servers fail): first it isolates the leader, then it splits the ensemble
2|3, healing in between.  Every operation's invocation and completion is
recorded (tests/lincheck/history.py) and the whole history is checked
against ZooKeeper's consistency model (tests/lincheck/lincheck.py): writes
linearizable, a session's reads in order and never older than what it saw,
reads after sync linearizable.  Zero anomalies allowed, and the ensemble
must make progress and converge after each heal.

Needs root (network namespaces); skipped otherwise.
"""
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import pytest
from kazoo.client import KazooClient
from kazoo.retry import KazooRetry

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lincheck"))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import lincheck  # noqa: E402
from history import History, RecordedClient  # noqa: E402
from srvutil import four_letter  # noqa: E402

PADDOCK_BUILD = os.environ.get("PADDOCK_BUILD", "/work/main/build")
PADDOCKD = os.path.join(PADDOCK_BUILD, "tools", "paddockd")

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("ip"),
                                reason="needs root and ip")


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True)


class NetEnsemble:
    """n members in namespaces <tag>n<i> with addresses 10.<net>.<i>."""

    def __init__(self, n=5):
        self.n = n
        tag = os.getpid() % 10000
        self.tag = "pk%d" % tag
        self.net = "10.%d.%d" % (100 + tag % 100, tag // 100 % 250)
        self.bridge = self.tag + "br"
        self.dir = tempfile.mkdtemp(prefix="paddock-part-")
        self.procs = {}
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        sh("ip", "addr", "add", self.net + ".254/24", "dev", self.bridge)
        sh("ip", "link", "set", self.bridge, "up")
        for i in range(1, n + 1):
            ns, host, inner = self.ns(i), self.tag + "h%d" % i, self.dev(i)
            sh("ip", "netns", "add", ns)
            sh("ip", "link", "add", host, "type", "veth", "peer", "name",
               inner, "netns", ns)
            sh("ip", "link", "set", host, "master", self.bridge, "up")
            sh("ip", "-n", ns, "addr", "add", self.addr(i) + "/24", "dev",
               inner)
            sh("ip", "-n", ns, "link", "set", inner, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            d = os.path.join(self.dir, "s%d" % i)
            os.makedirs(os.path.join(d, "data"))
            with open(os.path.join(d, "data", "myid"), "w") as f:
                f.write("%d\n" % i)
            lines = ["tickTime=200", "initLimit=10", "syncLimit=5",
                     "dataDir=%s/data" % d, "clientPort=2181",
                     "clientPortAddress=%s" % self.addr(i),
                     "4lw.commands.whitelist=*", "paddock.workers=1",
                     "admin.enableServer=false",
                     "paddock.finalizeWait=50", "minSessionTimeout=1000",
                     "maxSessionTimeout=20000"]
            lines += ["server.%d=%s:2888:3888" % (j, self.addr(j))
                      for j in range(1, n + 1)]
            with open(os.path.join(d, "zoo.cfg"), "w") as f:
                f.write("\n".join(lines) + "\n")

    def ns(self, i):
        return "%sn%d" % (self.tag, i)

    def dev(self, i):
        return "%sv%d" % (self.tag, i)

    def addr(self, i):
        return "%s.%d" % (self.net, i)

    def hosts(self, i=None):
        ids = [i] if i else range(1, self.n + 1)
        return ",".join("%s:2181" % self.addr(j) for j in ids)

    def start(self, i):
        d = os.path.join(self.dir, "s%d" % i)
        log = open(os.path.join(d, "server.log"), "ab")
        self.procs[i] = subprocess.Popen(
            ["ip", "netns", "exec", self.ns(i), PADDOCKD,
             os.path.join(d, "zoo.cfg")], stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    def mode(self, i):
        try:
            out = four_letter("%s:2181" % self.addr(i), "srvr", timeout=0.5)
        except OSError:
            return None
        for line in out.splitlines():
            if line.startswith("Mode: "):
                return line[6:]
        return None

    def leader(self):
        for i in range(1, self.n + 1):
            if self.mode(i) == "leader":
                return i
        return None

    def wait_serving(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            modes = [self.mode(i) for i in range(1, self.n + 1)]
            if all(modes) and modes.count("leader") == 1:
                return modes.index("leader") + 1
            time.sleep(0.1)
        raise AssertionError("not serving: %s\n%s" % (modes, self.logs()))

    def partition(self, *groups):
        """Members in different groups cannot reach each other: each
        member's namespace routes the other side's addresses into a
        blackhole (both ways, so every packet between the sides is
        dropped); the clients' paths stay up."""
        side = {i: g for g, members in enumerate(groups) for i in members}
        self.cut = []
        for i in range(1, self.n + 1):
            for j in range(1, self.n + 1):
                if side[j] != side[i]:
                    sh("ip", "-n", self.ns(i), "route", "add", "blackhole",
                       self.addr(j) + "/32")
                    self.cut.append((i, j))

    def heal(self):
        for i, j in getattr(self, "cut", []):
            sh("ip", "-n", self.ns(i), "route", "del", "blackhole",
               self.addr(j) + "/32", check=False)
        self.cut = []

    def logs(self):
        out = []
        for i in range(1, self.n + 1):
            try:
                with open(os.path.join(self.dir, "s%d" % i,
                                       "server.log")) as f:
                    out.append("--- s%d\n%s" % (
                        i, "\n".join(f.read().splitlines()[-8:])))
            except OSError:
                pass
        return "\n".join(out)

    def close(self):
        for p in self.procs.values():
            try:
                os.killpg(p.pid, 9)
            except ProcessLookupError:
                pass
            p.wait(10)
        for i in range(1, self.n + 1):
            sh("ip", "netns", "del", self.ns(i), check=False)
        sh("ip", "link", "del", self.bridge, check=False)
        if not os.environ.get("PADDOCK_KEEP_TMP"):
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def net5():
    e = NetEnsemble(5)
    try:
        for i in range(1, 6):
            e.start(i)
        e.wait_serving()
        yield e
    finally:
        e.close()


KEYS = ["/lin/k%d" % i for i in range(4)]


def worker(e, name, hist, stop, seed, stats):
    rnd = random.Random(seed)
    zk = KazooClient(hosts=e.hosts(), timeout=6.0,
                     connection_retry=KazooRetry(max_tries=-1, delay=0.05,
                                                 max_delay=0.5))
    zk.start(timeout=30)
    c = RecordedClient(hist, zk, name)
    n = 0
    while not stop.is_set():
        key = rnd.choice(KEYS)
        r = rnd.random()
        value = ("%s-%d" % (name, n)).encode()
        n += 1
        try:
            if r < 0.35:
                c.get(key)
            elif r < 0.6:
                c.set(key, value)
            elif r < 0.72:
                c.create(key, value)
            elif r < 0.8:
                c.delete(key)
            else:
                c.sync(key)
                c.get(key)
            stats["ops"] += 1
        except Exception:  # noqa: BLE001 - recorded by RecordedClient
            stats["errors"] += 1
            time.sleep(0.05)
    zk.stop()
    zk.close()


def test_partitions_keep_zookeepers_consistency(net5):
    e = net5
    zk = KazooClient(hosts=e.hosts(), timeout=10)
    zk.start(timeout=30)
    zk.ensure_path("/lin")
    zk.stop()
    zk.close()
    hist = History()
    stop = threading.Event()
    stats = {"ops": 0, "errors": 0}
    threads = [threading.Thread(target=worker,
                                args=(e, "c%d" % i, hist, stop, 1000 + i,
                                      stats))
               for i in range(5)]
    for t in threads:
        t.start()

    def cut(*groups):
        """Partition for 4 s, heal, and see the clients progress."""
        e.partition(*groups)
        time.sleep(4)
        e.heal()
        e.wait_serving()
        before = stats["ops"]
        time.sleep(2)
        assert stats["ops"] > before, "no progress after healing %s" % (
            groups,)

    try:
        time.sleep(2)
        leader = e.leader()
        cut([leader], [i for i in range(1, 6) if i != leader])  # the leader
        ids = list(range(1, 6))
        random.Random(7).shuffle(ids)
        cut(ids[:2], ids[2:])                                   # 2|3
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    res = lincheck.check(hist, budget=120.0)
    ops = len(hist)
    print("\n  partitions: %d operations recorded, %d raised; lincheck: %s"
          % (ops, stats["errors"], res.summary()))
    if res.verdict != "ok":
        path = os.path.join(tempfile.gettempdir(),
                            "paddock-partition-history.jsonl")
        hist.save(path)
        pytest.fail("%s\n(history saved in %s)" % (res.text(), path))
    # every member ends with the same keys
    views = []
    for i in range(1, 6):
        zk = KazooClient(hosts=e.hosts(i), timeout=10)
        zk.start(timeout=30)
        zk.sync("/")
        views.append({k: zk.exists(k) and zk.get(k)[0] for k in KEYS})
        zk.stop()
        zk.close()
    assert all(v == views[0] for v in views), views
