"""Churn: a 3-voter ensemble (plus a paddockd observer, or with Apache
ZooKeeper 3.8 as one or two of the voters) takes every kind of write from
several sessions while its members are killed (-9, SIGTERM, or -9 with
their disk wiped) and restarted, or frozen (SIGSTOP) for up to 2.5 s and
woken, one at a time, with a small snapCount so
that fuzzy snapshots race the writes all along.  Every member must then
hold the same tree, node by node: data, every Stat field (numChildren,
cversion and pzxid too, which ZooKeeper's digest leaves out) and ACL.
Then all members are killed at once and restarted: recovery (the newest
fuzzy snapshot plus the log after it) must give back exactly that tree.

A learner's DIFF, TRUNC and SNAP syncs, recovery's replay, the leader's
session expiry and the container reaper are held to that here, in real
processes (tests/unit/test_replay.c holds recovery's replay to it in one
process, seeded).  It found a paddockd learner refusing the failed
multis in a ZooKeeper leader's DIFF.

    PADDOCK_CHURN_SECONDS   load time (default 10)
    PADDOCK_FAULT_SEED      the seed (default random, always printed);
                            the load and the kills follow it, the
                            interleaving is the machine's
"""

import os
import random
import signal
import threading
import time

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NoNodeError
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.security import ACL, Id, OPEN_ACL_UNSAFE, Permissions

import jute
from paddock_fault import SEED, say
from ensemble import ZK_ACK_COMPLAINTS, Ensemble
from srvutil import four_letter

SECONDS = float(os.environ.get("PADDOCK_CHURN_SECONDS", "10"))
# 1 KiB znodes that make each snapshot walk long enough to race writes
BALLAST = 3000
# what a paddockd logs when it cannot apply what it was sent
BAD_LINES = ("does not replay", "recovery failed")
# a ZooKeeper leader's complaint of a skipped ACK (not the drop that
# follows one: a member frozen past syncLimit is dropped for good reason)
ZK_BAD_LINES = ZK_ACK_COMPLAINTS[:1]
# Reported, not yet failed on: once in about 50 runs with a ZooKeeper
# member (seed 847594379, one-zookeeper), a paddockd follower's tree
# digest was off from its leader's by one constant (1021491056) from
# the first transactions of an epoch on, while every member's tree was
# the same node by node (outside /zookeeper).  Not yet explained.  A
# ZooKeeper member's own (ZK_DIGEST_LINE) came, until 7051791, right
# after a SNAP from a paddockd leader, which sent NEWLEADER before what
# committed during its fuzzy walk, so ZooKeeper checked those (seed
# 503521029: 15 of the 30 transactions after the SNAP, then none).
DIGEST_LINE = "digest mismatch"
ZK_DIGEST_LINE = "Digests are not matching"
# a snapshot every ~300 transactions; the reaper every 100 ms; TTL nodes
# on (paddockd has them on always; ZooKeeper reads zookeeper.* system
# properties from unknown zoo.cfg keys)
EXTRA = ["snapCount=300", "znode.container.checkIntervalMs=100",
         "extendedTypesEnabled=true"]
ROOT = "/churn"
# small fan-out, so that creates collide, deletes find children and
# multis fail part of the time
TOP = ["a", "b", "c", "d"]
MID = ["x", "y", "z"]
LOW = ["p", "q"]
ACLS = [
    OPEN_ACL_UNSAFE,
    [ACL(Permissions.READ | Permissions.CREATE | Permissions.DELETE |
         Permissions.WRITE, Id("world", "anyone"))],
    [ACL(Permissions.READ | Permissions.ADMIN | Permissions.CREATE,
         Id("world", "anyone"))],
]
CONTAINER_MODES = (jute.Mode.CONTAINER, jute.Mode.PERSISTENT_WITH_TTL,
                   jute.Mode.PERSISTENT_SEQUENTIAL_WITH_TTL)


def any_path(rng, depth=None):
    depth = depth or rng.choice((1, 2, 2, 3, 3))
    parts = [rng.choice(TOP), rng.choice(MID), rng.choice(LOW)][:depth]
    return ROOT + "/" + "/".join(parts)


def value(rng):
    return bytes(rng.randrange(256) for _ in range(rng.choice(
        (0, 1, 8, 40, 120))))


class Load:
    """Writers and the member killer, until `stop` is set."""

    def __init__(self, ens, seed, wipes):
        self.ens = ens
        self.seed = seed
        self.wipes = wipes
        self.wiped = 0
        self.paused = 0
        self.stop = threading.Event()
        self.ops = [0] * 5
        self.acked = [0] * 5
        self.kills = 0
        self.failures = []

    def kazoo(self, rng):
        ms = list(self.ens.members)
        rng.shuffle(ms)
        c = KazooClient(",".join(m.hosts for m in ms), timeout=4.0,
                        randomize_hosts=False)
        while not self.stop.is_set():
            try:
                c.start(timeout=5)
                return c
            except KazooTimeoutError:
                continue
        return c

    def one_op(self, c, rng):
        """One random write (or multi) through kazoo; errors are
        expected (collisions, versions, connection loss)."""
        k = rng.random()
        if k < 0.25:
            c.create(any_path(rng), value(rng), acl=rng.choice(ACLS) if
                     rng.random() < 0.2 else None,
                     ephemeral=rng.random() < 0.3)
        elif k < 0.35:
            c.create(any_path(rng, 2) + "/s-", value(rng), sequence=True,
                     ephemeral=rng.random() < 0.5)
        elif k < 0.55:
            c.set(any_path(rng), value(rng),
                  version=-1 if rng.random() < 0.7 else
                  rng.randrange(4))
        elif k < 0.70:
            c.delete(any_path(rng), version=-1 if rng.random() < 0.8 else
                     rng.randrange(3))
        elif k < 0.75:
            c.set_acls(any_path(rng), rng.choice(ACLS))
        else:
            # a multi around one subtree: make it, change it, sometimes
            # take part of it away again, sometimes fail on a check
            base = any_path(rng, rng.choice((1, 2)))
            t = c.transaction()
            if rng.random() < 0.5:
                t.create(base, value(rng))
            for _ in range(rng.randrange(1, 5)):
                child = base + "/" + rng.choice(LOW + MID)
                j = rng.random()
                if j < 0.4:
                    t.create(child, value(rng),
                             ephemeral=rng.random() < 0.2)
                elif j < 0.7:
                    t.set_data(rng.choice((base, child)), value(rng))
                elif j < 0.85:
                    t.delete(child)
                else:
                    t.check(base, rng.randrange(3))
            if rng.random() < 0.3:
                t.set_data(base, value(rng))
            if rng.random() < 0.15:
                t.delete(base)
            res = t.commit()
            if any(isinstance(r, Exception) for r in res):
                return False
        return True

    def guarded(self, loop, i):
        """loop(i); what it raises stops the load, and run() reports it."""
        try:
            loop(i)
        except BaseException as e:  # noqa: BLE001 - reported by run()
            self.failures.append("%s(%d): %r" % (loop.__name__, i, e))
            self.stop.set()

    def writer_loop(self, i):
        rng = random.Random(self.seed * 31 + i)
        c = self.kazoo(rng)
        try:
            while not self.stop.is_set():
                if rng.random() < 0.003:
                    # a new session: the old one's ephemerals go with its
                    # closeSession
                    c.stop()
                    c.close()
                    c = self.kazoo(rng)
                    continue
                self.ops[i] += 1
                try:
                    if self.one_op(c, rng):
                        self.acked[i] += 1
                except KazooException:
                    time.sleep(0.002)
                except KazooTimeoutError:
                    time.sleep(0.05)
        finally:
            c.stop()
            c.close()

    def raw_loop(self, i):
        """Containers and TTL nodes (kazoo has neither), each session on
        one member at a time; a session lost with its member expires on
        the leader."""
        rng = random.Random(self.seed * 31 + i)
        c = None
        while not self.stop.is_set():
            try:
                if c is None:
                    m = rng.choice(self.ens.members)
                    c = jute.RawClient(m.hosts, timeout=3.0)
                    c.connect(timeout_ms=4000)
                self.ops[i] += 1
                mode = rng.choice(CONTAINER_MODES)
                path = any_path(rng, rng.choice((1, 2)))
                if mode == jute.Mode.PERSISTENT_SEQUENTIAL_WITH_TTL:
                    path += "/t-"
                try:
                    c.create(path, value(rng), mode=mode,
                             ttl=None if mode == jute.Mode.CONTAINER else
                             rng.choice((1, 200, 600000)))
                    self.acked[i] += 1
                except jute.ZKError:
                    pass
            except (OSError, jute.Closed, AssertionError):
                if c is not None:
                    c.close_socket()
                c = None
                time.sleep(0.05)
        if c is not None:
            try:
                c.close_session()
            except (OSError, jute.Closed, jute.ZKError, AssertionError):
                pass
            c.close_socket()

    def killer(self):
        rng = random.Random(self.seed)
        while not self.stop.wait(rng.uniform(0.8, 2.0)):
            # the leader half of the time: its successor then syncs the
            # others by DIFF or TRUNC (what the dead leader had logged but
            # not committed), and a restarted one often by SNAP
            m = self.ens.leader() if rng.random() < 0.5 else None
            m = m or rng.choice(self.ens.members)
            k = rng.random()
            if k < 0.15:
                # frozen, as by a long GC pause or a stalled VM: past
                # syncLimit the others go on without it, and then it
                # wakes up still believing what it believed
                os.killpg(m.proc.pid, signal.SIGSTOP)
                self.paused += 1
                time.sleep(rng.uniform(0.5, 2.5))
                os.killpg(m.proc.pid, signal.SIGCONT)
            else:
                if k < 0.35 and self.wipes:
                    # its disk lost: it comes back empty and is sent
                    # the whole tree (SNAP) while the writes go on
                    m.wipe()
                    self.wiped += 1
                elif k < 0.85:
                    m.kill9()
                else:
                    m.stop()  # SIGTERM
                self.kills += 1
                time.sleep(rng.uniform(0.2, 1.2))
                m.start()
            try:
                self.ens.wait_serving(timeout=30)
            except AssertionError as e:
                self.failures.append(str(e))
                self.stop.set()

    def run(self, seconds):
        threads = [threading.Thread(target=self.guarded,
                                    args=(self.writer_loop, i))
                   for i in range(4)]
        threads.append(threading.Thread(target=self.guarded,
                                        args=(self.raw_loop, 4)))
        killer = threading.Thread(target=self.killer)
        for t in threads + [killer]:
            t.start()
        self.stop.wait(seconds)
        self.stop.set()
        killer.join()
        for t in threads:
            t.join(60)
            assert not t.is_alive(), "a writer is stuck"
        assert not self.failures, self.failures[0]


def dump(c):
    """{path: (data, Stat, ACLs)} of everything outside /zookeeper, read
    through client c (connected to one member) after a sync; None if a
    node went away meanwhile (a TTL node or a container reaped)."""
    c.sync("/")
    out, todo = {}, ["/"]
    while todo:
        p = todo.pop()
        try:
            data, st = c.get(p)
            acl, _ = c.get_acls(p)
            children = c.get_children(p)
        except NoNodeError:
            return None
        out[p] = (data, tuple(st), tuple((a.perms, a.id.scheme, a.id.id)
                                        for a in acl))
        for ch in children:
            if p == "/" and ch == "zookeeper":
                continue
            todo.append(p.rstrip("/") + "/" + ch)
    return out


def differences(a, b, limit=8):
    out = []
    for p in sorted(set(a) | set(b)):
        if a.get(p) != b.get(p):
            out.append("  %s\n    %r\n    %r" % (p, a.get(p), b.get(p)))
            if len(out) == limit:
                break
    return "\n".join(out)


def settled(ens, timeout=60):
    """Every member serves on one zxid and no ephemeral is left (the
    sessions that lost their member have expired); the members' trees."""
    deadline = time.time() + timeout
    ens.wait_serving(timeout=30)
    # one client per member, opened first: a session's create and close
    # are transactions, and the zxid must stay put while the trees are read
    clients = []
    try:
        for m in ens.members:
            c = KazooClient(m.hosts, timeout=10.0)
            clients.append(c)
            c.start(timeout=15)
        while True:
            got = settle_once(ens, clients)
            if not isinstance(got, str):
                return got
            if time.time() > deadline:
                raise AssertionError("members did not settle: " + got)
            time.sleep(0.5)
    finally:
        for c in clients:
            c.stop()
            c.close()


def settle_once(ens, clients):
    """The members' trees, or why they have not settled yet."""
    zx = {m.zxid() for m in ens.members}
    if len(zx) != 1:
        return "zxids %s" % ["%#x" % z for z in zx if z is not None]
    try:
        trees = [dump(c) for c in clients]
    except KazooException as e:
        # a member that srvr showed serving went on to elect (the last
        # kill's aftermath)
        return "%r while dumping" % e
    if None in trees:
        return "nodes went away while dumping"
    if {m.zxid() for m in ens.members} != zx:
        return "writes while dumping"
    eph = {p: "%#x" % st[7] for p, (_, st, _) in trees[0].items()
           if st[7]}  # ephemeralOwner
    if eph:
        return "ephemerals left: %s; the leader's sessions:\n%s" % (
            eph, four_letter(ens.leader().hosts, "dump"))
    return trees


def same_everywhere(ens, trees, when):
    for m, t in zip(ens.members[1:], trees[1:]):
        assert t == trees[0], (
            "%s: s%d's tree differs from s%d's (%d and %d nodes):\n%s" % (
                when, m.sid, ens.members[0].sid, len(t), len(trees[0]),
                differences(t, trees[0])))


def churn(ens, seconds, wipes=False):
    """Ballast (so that a snapshot walk takes long enough to race
    writes), the load, then the two comparisons."""
    say("churn: seed %d, %.0f s, %s, dir %s" % (
        SEED, seconds, [m.kind for m in ens.members], ens.dir))
    ens.start(timeout=60)
    c = KazooClient(ens.hosts(), timeout=10.0)
    c.start(timeout=15)
    for top in TOP:
        c.ensure_path(ROOT + "/" + top)
    c.ensure_path("/ballast")
    for b in range(0, BALLAST, 500):
        t = c.transaction()
        for i in range(b, b + 500):
            t.create("/ballast/n%05d" % i, b"b" * 1024)
        assert all(r.startswith("/") for r in t.commit())
    c.stop()
    c.close()

    load = Load(ens, SEED, wipes)
    load.run(seconds)
    say("churn: %d ops, %d acknowledged (by writer: %s), %d kills "
        "(%d wiped), %d pauses" % (sum(load.ops), sum(load.acked),
                                   load.acked, load.kills, load.wiped,
                                   load.paused))
    assert min(load.acked) > 50, "a writer got almost nothing done"

    trees = settled(ens)
    say("churn: %d nodes, zxid %#x" % (len(trees[0]),
                                       ens.members[0].zxid()))
    same_everywhere(ens, trees, "after churn")

    for m in ens.members:
        m.kill9()
    for m in ens.members:
        m.start()
    again = settled(ens)
    same_everywhere(ens, again, "after kill -9 of all and restart")
    assert again[0] == trees[0], (
        "recovery changed the tree:\n" + differences(again[0], trees[0]))
    # nor did any member meet, on the way, a transaction it could not
    # apply or a tree digest other than its leader's
    for m in ens.members:
        bad = m.log_lines(BAD_LINES if m.kind == "paddock" else ZK_BAD_LINES)
        assert not bad, "s%d logged:\n%s" % (m.sid, "".join(bad[:5]))
        digest = m.log_lines((DIGEST_LINE if m.kind == "paddock"
                              else ZK_DIGEST_LINE,))
        if digest:
            say("churn: s%d (%s): %d digest mismatch lines, the first: %s"
                % (m.sid, m.kind, len(digest), digest[0].strip()))


def test_members_agree_node_by_node_after_churn_and_recover_it_exactly():
    """Three paddockd voters and a paddockd observer; a killed member
    loses its disk now and then."""
    ens = Ensemble(voters=3, observers=1, tick=200, extra=EXTRA)
    try:
        churn(ens, SECONDS, wipes=True)
    finally:
        ens.close()


# ContainerManager reads its interval from a system property of its own
# name only
ZK_JVM = ["-Dznode.container.checkIntervalMs=100"]


@pytest.mark.parametrize("zookeepers", [[3], [1, 2]],
                         ids=["one-zookeeper", "two-zookeepers"])
def test_zookeeper_members_agree_node_by_node_after_churn(zookeepers):
    """The same with Apache ZooKeeper 3.8 as one or two of the three
    members: it applies what paddockd leaders send it, it leads when the
    kills make it win and paddockd learns from it (DIFF, TRUNC, SNAP from
    ZooKeeper's own committed log and snapshots), and its tree must be
    paddockd's, node by node: the strongest check here of how paddock
    applies each transaction."""
    ens = Ensemble(voters=3, tick=200, extra=EXTRA, jvm=ZK_JVM,
                   kinds={sid: "zookeeper" for sid in zookeepers})
    try:
        churn(ens, SECONDS, wipes=len(zookeepers) == 2)
    finally:
        ens.close()
