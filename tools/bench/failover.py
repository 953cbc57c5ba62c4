#!/usr/bin/python3
"""failover.py - leader kill -9 to the next acknowledged write, for a
3-server Apache ZooKeeper 3.8 ensemble and a 3-server paddockd ensemble in
the same run, on the same machine and zoo.cfg settings.

usage: tools/bench/failover.py BUILD_DIR [ROUNDS [LABEL...]]
(LABEL: zookeeper, paddock, paddock-fw200; default all three)

Each round: one kazoo session (connected to all three servers) creates
znodes back to back; after 2 s the leader is killed with SIGKILL.  Two
times from the kill: until both survivors serve again (srvr polled every
millisecond: a new leader and its follower), and until the first create
invoked after the kill is acknowledged (this adds the client noticing its
connection broke and finding a serving server: kazoo's reconnect backoff
dominates it).  The killed server is restarted
and rejoins before the next round.  Prints each round and min / median /
max per server kind.  Servers run with tickTime=2000 initLimit=10
syncLimit=5 (the configs/ and ZooKeeper defaults) on 127.0.0.1.
"""
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from kazoo.client import KazooClient
from kazoo.exceptions import NodeExistsError
from kazoo.retry import KazooRetry

ZK_CP = "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def four_letter(port, word):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(word.encode())
            out = b""
            while True:
                c = s.recv(4096)
                if not c:
                    break
                out += c
        return out.decode("utf-8", "replace")
    except OSError:
        return ""


class Ensemble:
    def __init__(self, kind, paddockd, root, extra=()):
        self.kind, self.paddockd = kind, paddockd
        used = set()

        def port():
            while True:
                p = free_port()
                if p not in used:
                    used.add(p)
                    return p
        self.ports = [(port(), port(), port()) for _ in range(3)]
        self.dirs = []
        for i in range(3):
            d = tempfile.mkdtemp(prefix="%s%d-" % (kind, i + 1), dir=root)
            os.makedirs(os.path.join(d, "data"))
            with open(os.path.join(d, "data", "myid"), "w") as f:
                f.write("%d\n" % (i + 1))
            lines = ["tickTime=2000", "initLimit=10", "syncLimit=5",
                     "dataDir=%s/data" % d,
                     "clientPort=%d" % self.ports[i][0],
                     "clientPortAddress=127.0.0.1", "forceSync=yes",
                     "4lw.commands.whitelist=*", "admin.enableServer=false"]
            lines += ["server.%d=127.0.0.1:%d:%d" % (j + 1, q, e)
                      for j, (_, q, e) in enumerate(self.ports)]
            lines += list(extra)
            with open(os.path.join(d, "zoo.cfg"), "w") as f:
                f.write("\n".join(lines) + "\n")
            self.dirs.append(d)
        self.procs = [None] * 3

    def start(self, i):
        cfg = os.path.join(self.dirs[i], "zoo.cfg")
        if self.kind == "paddock":
            cmd = [self.paddockd, cfg]
        else:
            cmd = ["java", "-Xmx256m", "-cp", ZK_CP,
                   "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                   "-Dzookeeper.admin.enableServer=false",
                   "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfg]
        log = open(os.path.join(self.dirs[i], "out.log"), "ab")
        self.procs[i] = subprocess.Popen(cmd, stdout=log,
                                         stderr=subprocess.STDOUT)
        log.close()

    def mode(self, i):
        for line in four_letter(self.ports[i][0], "srvr").splitlines():
            if line.startswith("Mode: "):
                return line[6:]
        return None

    def wait_serving(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            modes = [self.mode(i) for i in range(3)]
            if all(modes) and modes.count("leader") == 1:
                return modes.index("leader")
            time.sleep(0.05)
        raise RuntimeError("%s ensemble not serving: %s" % (self.kind, modes))

    def hosts(self):
        return ",".join("127.0.0.1:%d" % p[0] for p in self.ports)

    def stop(self):
        for p in self.procs:
            if p and p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait()


def round_once(ens, n):
    leader = ens.wait_serving()
    zk = KazooClient(hosts=ens.hosts(), timeout=30.0,
                     connection_retry=KazooRetry(max_tries=-1, delay=0.01,
                                                 max_delay=0.1))
    zk.start(timeout=30)
    zk.ensure_path("/failover")
    acks = []
    stop = threading.Event()

    def writer():
        i = 0
        while not stop.is_set():
            t0 = time.monotonic()
            try:
                zk.create("/failover/r%d-%07d" % (n, i), b"")
                acks.append((t0, time.monotonic()))
                i += 1
            except NodeExistsError:
                i += 1  # an earlier try took effect: not this one's ack
            except Exception:  # noqa: BLE001 - retried until it succeeds
                time.sleep(0.001)
    t = threading.Thread(target=writer)
    t.start()
    time.sleep(2)
    t_kill = time.monotonic()
    ens.procs[leader].send_signal(signal.SIGKILL)
    ens.procs[leader].wait()
    # the two survivors serving again (leader and follower), polled with
    # srvr every millisecond; then the first write invoked after the kill
    # that is acknowledged (one in flight at the kill may have been
    # committed before it)
    survivors = [i for i in range(3) if i != leader]
    t_serving = None
    deadline = time.time() + 60
    while time.time() < deadline:
        if t_serving is None:
            modes = sorted(str(ens.mode(i)) for i in survivors)
            if modes == ["follower", "leader"]:
                t_serving = time.monotonic()
        after = [a for i, a in acks if i > t_kill]
        if after and t_serving is not None:
            break
        time.sleep(0.001)
    stop.set()
    t.join(30)
    zk.stop()
    zk.close()
    after = [a for i, a in acks if i > t_kill]
    ens.start(leader)
    ms = lambda t: (t - t_kill) * 1000 if t else float("inf")  # noqa: E731
    return ms(t_serving), ms(after[0] if after else None)


def main():
    build = os.path.abspath(sys.argv[1])
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    paddockd = os.path.join(build, "tools", "paddockd")
    root = tempfile.mkdtemp(prefix="paddock-failover-")
    print("== failover: %s, %d rounds each, tickTime=2000 initLimit=10 "
          "syncLimit=5, 3 servers on 127.0.0.1, kazoo client on all three"
          % (time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()), rounds))
    results = {}
    try:
        # paddockd as configured by default (finalizeWait 20 ms), then
        # with ZooKeeper's fixed finalizeWait (200 ms)
        runs = [("zookeeper", "zookeeper", ()),
                ("paddock", "paddock", ()),
                ("paddock-fw200", "paddock", ("paddock.finalizeWait=200",))]
        if len(sys.argv) > 3:  # only these labels
            runs = [r for r in runs if r[0] in sys.argv[3:]]
        for label, kind, extra in runs:
            ens = Ensemble(kind, paddockd, root, extra)
            for i in range(3):
                ens.start(i)
            ms = []
            try:
                for n in range(rounds):
                    ms.append(round_once(ens, n))
                    print("%-12s round %d: serving again after %.0f ms, "
                          "next write acknowledged after %.0f ms"
                          % (label, n + 1, ms[-1][0], ms[-1][1]), flush=True)
            finally:
                ens.stop()
            results[label] = ms
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print()
    print("%-12s | %-26s | %-26s" % ("", "serving again (ms)",
                                      "next write acked (ms)"))
    print("%-12s | %8s %8s %8s | %8s %8s %8s" % ("server", "min", "median",
                                                 "max", "min", "median",
                                                 "max"))
    for kind, ms in results.items():
        a = [x[0] for x in ms]
        b = [x[1] for x in ms]
        print("%-12s | %8.0f %8.0f %8.0f | %8.0f %8.0f %8.0f" % (
            kind, min(a), statistics.median(a), max(a), min(b),
            statistics.median(b), max(b)))


if __name__ == "__main__":
    main()
