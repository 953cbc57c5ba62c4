"""Cumulative ACK/COMMIT between paddock members, seen from the wire.

Two real paddockd (sids 1 and 2) of a three-voter ensemble run on
loopback; the test itself is voter 3, joining the elected leader's quorum
port as a follower through zkpeer.py (it never speaks on the election
port, so its vote cannot make it the leader).  With the other paddockd
killed, leader + test are the quorum, so every commit needs the test's
ACK.  consensus/PEER-PROTOCOL.md ("Where paddock differs") and
consensus/zab.c describe the feature:

* test announces 0x10100 (paddock's protocol version) in LearnerInfo:
  LEADERINFO says 0x10100; the test ACKs only the newest proposal it has,
  now and then, and the leader commits everything up to it, with fewer
  COMMITs than proposals, each for a proposal the test holds, increasing,
  and never above the newest zxid the test ACKed;
* test announces 0x10000 (ZooKeeper 3.8's): LEADERINFO says 0x10000, one
  COMMIT per proposal in zxid order, and an ACK of a later proposal does
  not commit an earlier un-ACKed one (per-zxid quorum);
* with paddock.cumulativeAcks=false the leader says 0x10000 even to a
  learner announcing 0x10100, and the link stays per zxid.
"""

import atexit
import os
import struct
import time

import pytest
from kazoo.client import KazooClient

import zkpeer as zp
from ensemble import PADDOCKD, Ensemble

pytestmark = pytest.mark.slow

TEST_SID = 3
PADDOCK_VERSION = 0x10100     # consensus/zab_int.h ZAB_PADDOCK_VERSION
ZK_VERSION = zp.ZAB_VERSION   # 0x10000
ACK_EVERY = 7                 # "newest" mode: ACK after this many new
ACK_DELAY = 0.05              # proposals, or this long after the first
QUIET = 1.0                   # how long a withheld commit must stay away


# ------------------------------------------------------------------ peer
class Peer(zp.Learner):
    """zkpeer's follower with a chosen LearnerInfo protocolVersion
    (zkpeer.Learner always announces 0x10000) and a chosen ACK policy:

    * "each":   ACK every PROPOSAL at once (a ZooKeeper follower);
    * "newest": ACK only the newest PROPOSAL received, once ACK_EVERY
      of them are un-ACKed or the oldest of them waited ACK_DELAY
      seconds (what a cumulative learner may do);
    * "manual": ACK nothing; the test calls send(ACK, ...) itself.

    PINGs are answered as zkpeer.Learner does."""

    def __init__(self, host, port, version, ack="each"):
        zp.Learner.__init__(self, host, port, TEST_SID)
        self.version = version
        self.ack = ack
        self.ack_proposals = False   # ours: on_packet / on_idle
        self.newest = 0              # newest PROPOSAL received
        self.unacked = 0             # PROPOSALs since our last ACK
        self.unacked_since = None
        self.base = 0                # transcript index after the handshake

    def send(self, ptype, zxid, data=None, authinfo=None):
        if ptype == zp.FOLLOWERINFO:
            data = zp.encode_learner_info(self.sid, self.version,
                                          self.config_version)
        return zp.Learner.send(self, ptype, zxid, data, authinfo)

    def handshake(self):
        zp.Learner.handshake(self)
        with self.lock:
            self.base = len(self.transcript)
        return self

    def on_packet(self, p):
        zp.Learner.on_packet(self, p)          # PING replies
        if p.type != zp.PROPOSAL:
            return
        self.newest = p.zxid
        if self.ack == "each":
            self.send(zp.ACK, p.zxid)
            return
        self.unacked += 1
        if self.unacked_since is None:
            self.unacked_since = time.monotonic()
        if self.ack == "newest" and self.unacked >= ACK_EVERY:
            self.ack_newest()

    def on_idle(self):
        if self.ack == "newest" and self.unacked_since is not None and \
                time.monotonic() - self.unacked_since >= ACK_DELAY:
            self.ack_newest()

    def ack_newest(self):
        self.unacked = 0
        self.unacked_since = None
        self.send(zp.ACK, self.newest)

    def broadcast(self):
        """[(direction, type, zxid)] of the PROPOSALs, ACKs and COMMITs
        after the handshake, in the order sent / received."""
        with self.lock:
            tr = self.transcript[self.base:]
        return [(d, p.type, p.zxid) for d, p, _ in tr
                if isinstance(p, zp.Packet) and
                p.type in (zp.PROPOSAL, zp.ACK, zp.COMMIT)]

    def proposals(self):
        return [z for d, t, z in self.broadcast() if t == zp.PROPOSAL]

    def commits(self):
        return [z for d, t, z in self.broadcast() if t == zp.COMMIT]


def proposal_path(data):
    """Path of the CreateTxn that follows a PROPOSAL's 32-byte
    TxnHeader."""
    return zp.Reader(data, 32).string()


def paths_proposed(lr):
    """{path: zxid} of the create PROPOSALs received after the
    handshake."""
    with lr.lock:
        tr = lr.transcript[lr.base:]
    out = {}
    for d, p, _ in tr:
        if d == "<" and isinstance(p, zp.Packet) and p.type == zp.PROPOSAL \
                and zp.decode_txn_header(p.data).type in (1, 15):
            out[proposal_path(p.data)] = p.zxid
    return out


def wait_until(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.02)


# ------------------------------------------------------------------ servers
_live = set()


@atexit.register
def _kill_leftovers():
    for e in list(_live):
        e.close()


@pytest.fixture
def pair():
    """start(extra=()) -> (ensemble, leader, follower): paddockd sids 1
    and 2 of voters 1..3 (3 is the test), elected and serving."""
    made = []

    def start(extra=()):
        if not os.path.exists(PADDOCKD):
            pytest.fail("paddockd not found at %s (set PADDOCK_BUILD or "
                        "PADDOCKD)" % PADDOCKD)
        e = Ensemble(voters=3, tick=500, extra=extra)
        made.append(e)
        _live.add(e)
        for m in e.members[:2]:
            m.start()
        leader = e.wait_serving(members=e.members[:2], timeout=20)
        follower = [m for m in e.members[:2] if m is not leader][0]
        assert follower.mode() == "follower"
        return e, leader, follower

    yield start
    for e in made:
        e.close()
        _live.discard(e)


@pytest.fixture
def closing():
    """Things (Peers, kazoo clients) closed at the end, even on
    failure."""
    things = []
    yield things.append
    for t in things:           # let a closeSession commit
        if isinstance(t, Peer):
            t.ack = "each"
    for t in reversed(things):
        try:
            if isinstance(t, KazooClient):
                t.stop()
                t.close()
            else:
                t.close()
        except Exception:
            pass


def join(leader, version, ack):
    lr = Peer("127.0.0.1", leader.quorum_port, version, ack=ack)
    try:
        return lr.handshake()
    except BaseException:
        lr.close()
        raise


def kazoo(hosts):
    c = KazooClient(hosts=hosts, timeout=6.0)
    c.start(timeout=10)
    return c


def check_leaderinfo(lr, want):
    p = [q for q in lr.packets("<") if q.type == zp.LEADERINFO][0]
    assert p.data is not None and len(p.data) == 4, p
    got = struct.unpack(">i", p.data)[0]
    assert got == want, \
        "learner announced 0x%x, LEADERINFO says 0x%x, expected 0x%x" % (
            lr.version, got, want)


def joined(pair, closing, announce, expect, ack, extra=(), alone=True):
    """Two paddockd elected (with `extra` zoo.cfg lines), the test
    joined to the leader announcing `announce` and checked to get
    LEADERINFO `expect`; with `alone`, the other paddockd killed so every
    commit needs our ACK.  Returns (leader, learner, kazoo client)."""
    e, leader, follower = pair(extra=list(extra))
    lr = join(leader, announce, ack)
    closing(lr)
    check_leaderinfo(lr, expect)
    lr.start()
    if alone:
        follower.kill9()
    zk = kazoo(leader.hosts)     # createSession: needs our ACK if alone
    closing(zk)
    return leader, lr, zk


def write_n(zk, root, n):
    """Create root and n children of it asynchronously; all succeed."""
    zk.create(root, b"")
    results = [zk.create_async("%s/n%02d" % (root, i), b"x")
               for i in range(n)]
    for i, r in enumerate(results):
        assert r.get(timeout=15) == "%s/n%02d" % (root, i)


def commits_one_per_proposal(zk, lr, root, n=20):
    """Write n children of root; every proposal gets its own COMMIT, in
    zxid order.  Returns (the last proposal's zxid, the proposals)."""
    write_n(zk, root, n)
    top = max(paths_proposed(lr).values())
    wait_until(lambda: top in lr.commits(), 5, "COMMIT of 0x%x" % top)
    props = lr.proposals()
    assert len(props) >= n + 2
    assert lr.commits() == props          # one each, in zxid order
    assert props == sorted(props)
    return top, props


# ------------------------------------------------------------------ tests
def test_cumulative_ack_and_commit(pair, closing):
    """Both ends announce 0x10100: the test ACKs only its newest proposal
    now and then; every write commits, with fewer COMMITs than
    proposals, each for a proposal we hold, increasing, and none above
    our newest ACK (our ACK is needed: the other follower is dead)."""
    leader, lr, zk = joined(pair, closing, PADDOCK_VERSION,
                            PADDOCK_VERSION, "newest")
    n = 50
    write_n(zk, "/cum", n)
    assert len(zk.get_children("/cum")) == n
    assert leader.mode() == "leader"

    want = paths_proposed(lr)
    assert set("/cum/n%02d" % i for i in range(n)) <= set(want)
    top = max(want.values())
    # the COMMIT covering the last create was sent before its reply
    wait_until(lambda: any(z >= top for z in lr.commits()), 5,
               "COMMIT of 0x%x; commits %s" % (
                   top, [hex(z) for z in lr.commits()]))

    bc = lr.broadcast()
    held, acked, commits = set(), 0, []
    for d, t, z in bc:
        if t == zp.PROPOSAL:
            held.add(z)
        elif t == zp.ACK:
            assert z in held, "test ACKed 0x%x it never got" % z
            acked = max(acked, z)
        else:
            assert z in held, "COMMIT 0x%x of a proposal we lack" % z
            assert z <= acked, \
                "COMMIT 0x%x above our newest ACK 0x%x" % (z, acked)
            assert not commits or z > commits[-1], \
                "COMMIT 0x%x after 0x%x" % (z, commits[-1])
            commits.append(z)
    props = lr.proposals()
    acks = [z for d, t, z in bc if t == zp.ACK]
    assert len(props) >= n + 2            # session, /cum, the creates
    # the test's own side: it really skipped ACKs
    assert len(acks) < len(props), (len(acks), len(props))
    skipped = set(props) - set(acks)
    assert skipped & set(want[p] for p in want if p.startswith("/cum/n"))
    # the leader's side: cumulative COMMITs
    assert len(commits) < len(props), (len(commits), len(props))
    assert commits[-1] >= top


def test_zookeeper_learner_gets_per_zxid_ack_and_commit(pair, closing):
    """The test announces 0x10000: LEADERINFO says 0x10000, each
    proposal gets its own COMMIT in zxid order, and ACKing only a later
    proposal B leaves an earlier un-ACKed A -- and so B -- uncommitted
    until A is ACKed too."""
    leader, lr, zk = joined(pair, closing, ZK_VERSION, ZK_VERSION, "each")
    top, props = commits_one_per_proposal(zk, lr, "/per")
    seq = lr.broadcast()
    for z in props:                       # and each after its ACK
        assert seq.index((">", zp.ACK, z)) < seq.index(("<", zp.COMMIT, z))

    # per-zxid quorum: an ACK of B does not vouch for A
    lr.ack = "manual"
    ra = zk.create_async("/per/a", b"")
    pa = lr.wait_for(lambda p: p.type == zp.PROPOSAL and p.zxid > top)
    rb = zk.create_async("/per/b", b"")
    pb = lr.wait_for(lambda p: p.type == zp.PROPOSAL and p.zxid > pa.zxid)
    assert [proposal_path(pa.data), proposal_path(pb.data)] == \
        ["/per/a", "/per/b"]
    lr.send(zp.ACK, pb.zxid)
    time.sleep(QUIET)
    late = [z for z in lr.commits() if z > top]
    assert not late, "COMMITs %s without an ACK of 0x%x" % (
        [hex(z) for z in late], pa.zxid)
    assert not ra.ready() and not rb.ready()
    assert leader.mode() == "leader"
    lr.send(zp.ACK, pa.zxid)
    assert ra.get(timeout=5) == "/per/a"
    assert rb.get(timeout=5) == "/per/b"
    wait_until(lambda: pb.zxid in lr.commits(), 5, "COMMIT of B")
    assert [z for z in lr.commits() if z > top] == [pa.zxid, pb.zxid]


def test_cumulative_acks_off_says_zookeeper_version(pair, closing):
    """paddock.cumulativeAcks=false: a learner announcing 0x10100 gets
    LEADERINFO 0x10000 and one COMMIT per proposal."""
    leader, lr, zk = joined(pair, closing, PADDOCK_VERSION, ZK_VERSION,
                            "each", ["paddock.cumulativeAcks=false"],
                            alone=False)
    commits_one_per_proposal(zk, lr, "/off")
