"""Apache ZooKeeper 3.8's peer protocol, checked against real servers.

Two real ZooKeeper servers (sids 1 and 2) of a three-voter ensemble run on
loopback; the test itself is voter 3 (and observer 4), speaking the
election and quorum protocols through zkpeer.py:

* election port: what ZooKeeper sends when it connects to a larger sid,
  and what it answers a LOOKING notification in each state;
* quorum port: follower joins with SNAP, TRUNC and DIFF sync, the
  broadcast phase (PROPOSAL/ACK/COMMIT, PING replies, REQUEST,
  REVALIDATE, SYNC), an observer join (INFORM), and what the leader needs
  from a follower to count it (ACKs within syncLimit; any packet within
  syncLimit);
* the other way round: a lone ZooKeeper follows the test as its leader.

consensus/PEER-PROTOCOL.md records these sequences; the C codec's unit
test (tests/unit/test_peerwire.c) replays bytes captured here.  Run with
PADDOCK_PEERWIRE_CAPTURE=<file> to write the captured bytes as C arrays.

Needs Apache ZooKeeper 3.8 (Debian's zookeeper package) and kazoo; uses
nothing of paddock itself.
"""

import atexit
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

import pytest
from kazoo.client import KazooClient
from kazoo.security import make_digest_acl_credential

import zkpeer as zp
from conftest import JAVA, KEEP, ZK_CP, ZK_JAR
from srvutil import distinct_ports, four_letter

pytestmark = pytest.mark.slow

TICK = 500          # ms; pings every TICK/2, syncLimit * TICK = 2.5 s
INIT_LIMIT = 10
SYNC_LIMIT = 5
LOCAL = "127.0.0.1"

CAPTURE = os.environ.get("PADDOCK_PEERWIRE_CAPTURE")
captured = {}


def keep(name, raw):
    """Remember bytes for the C test vectors (first capture wins)."""
    captured.setdefault(name, bytes(raw))


def write_capture():
    if not CAPTURE:
        return
    with open(CAPTURE, "w") as f:
        for name, raw in captured.items():
            f.write("/* %s: %d bytes */\nstatic const uint8_t %s[] = {"
                    % (name, len(raw), name))
            for i, b in enumerate(raw):
                f.write(("\n\t" if i % 12 == 0 else " ") + "0x%02x," % b)
            f.write("\n};\n\n")


# ------------------------------------------------------------------ servers
_procs = set()


@atexit.register
def _kill_all():
    for p in list(_procs):
        _killpg(p)


def _killpg(p):
    _procs.discard(p)
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait(10)


class Ensemble:
    """zoo.cfg with voters 1..3 and observer 4; servers `run` are real
    ZooKeepers, the others are the test."""

    def __init__(self, run=(1, 2), name="ens"):
        if not os.path.exists(ZK_JAR) or not JAVA:
            pytest.skip("Apache ZooKeeper 3.8 not installed")
        self.dir = tempfile.mkdtemp(prefix="paddock-zkpeer-%s-" % name)
        self.run = run
        ports = iter(distinct_ports(12))
        self.ports = {i: {"q": next(ports), "e": next(ports),
                          "c": next(ports)} for i in (1, 2, 3, 4)}
        self.procs = {}

    def server_line(self, i):
        p = self.ports[i]
        return "server.%d=%s:%d:%d:%s" % (
            i, LOCAL, p["q"], p["e"], "observer" if i == 4 else "participant")

    @property
    def qv_string(self):
        """QuorumMaj.toString(): what notifications and NEWLEADER carry
        (no client address: it came from clientPort, not server.N)."""
        return ("\n".join(self.server_line(i) for i in (1, 2, 3, 4)) +
                "\nversion=0").encode()

    def start(self, i):
        d = os.path.join(self.dir, "s%d" % i)
        os.makedirs(os.path.join(d, "data"), exist_ok=True)
        with open(os.path.join(d, "data", "myid"), "w") as f:
            f.write("%d\n" % i)
        cfg = ["tickTime=%d" % TICK, "initLimit=%d" % INIT_LIMIT,
               "syncLimit=%d" % SYNC_LIMIT, "forceSync=no",
               "4lw.commands.whitelist=*", "admin.enableServer=false",
               "dataDir=%s" % os.path.join(d, "data"),
               "clientPort=%d" % self.ports[i]["c"],
               "clientPortAddress=%s" % LOCAL]
        cfg += [self.server_line(k) for k in (1, 2, 3, 4)]
        with open(os.path.join(d, "zoo.cfg"), "w") as f:
            f.write("\n".join(cfg) + "\n")
        log = open(os.path.join(d, "server.log"), "ab")
        cmd = [JAVA, "-Xshare:auto", "-XX:+UseSerialGC",
               "-XX:TieredStopAtLevel=1", "-Xmx128m", "-cp", ZK_CP,
               "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
               "-Dzookeeper.admin.enableServer=false",
               "org.apache.zookeeper.server.quorum.QuorumPeerMain",
               os.path.join(d, "zoo.cfg")]
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                             cwd=d, start_new_session=True)
        log.close()
        _procs.add(p)
        self.procs[i] = p

    def kill(self, i):
        p = self.procs.pop(i, None)
        if p:
            _killpg(p)

    def hosts(self, i):
        return "%s:%d" % (LOCAL, self.ports[i]["c"])

    def mode(self, i):
        try:
            out = four_letter(self.hosts(i), "srvr", timeout=2.0)
        except OSError:
            return None
        m = re.search(r"Mode: (\w+)", out)
        return m.group(1) if m else None

    def srvr_zxid(self, i):
        out = four_letter(self.hosts(i), "srvr", timeout=2.0)
        return int(re.search(r"Zxid: 0x([0-9a-f]+)", out).group(1), 16)

    def log_tail(self, i, n=30):
        try:
            with open(os.path.join(self.dir, "s%d" % i, "server.log"),
                      "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return "(no log)"

    def wait_modes(self, want, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            modes = {i: self.mode(i) for i in want}
            if all(modes[i] in want[i] for i in want):
                return modes
            for i, p in self.procs.items():
                if p.poll() is not None:
                    pytest.fail("server %d exited:\n%s" %
                                (i, self.log_tail(i)))
            time.sleep(0.1)
        pytest.fail("modes %r, wanted %r\n%s" % (
            {i: self.mode(i) for i in want}, want,
            "\n".join(self.log_tail(i) for i in want)))

    def cleanup(self):
        for i in list(self.procs):
            self.kill(i)
        if not KEEP:
            shutil.rmtree(self.dir, ignore_errors=True)


def make_digest(user, pw):
    return make_digest_acl_credential(user, pw).split(":", 1)[1]


def kazoo(hosts):
    c = KazooClient(hosts=hosts, timeout=6.0)
    c.start(timeout=10)
    return c


def stop_kazoo(c):
    try:
        c.stop()
        c.close()
    except Exception:
        pass


class Listener:
    """Accepts connections on a port and keeps all bytes each sent until
    it closed (or 3 s passed)."""

    def __init__(self, port):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((LOCAL, port))
        self.sock.listen(16)
        self.got = []       # (bytes, closed_by_peer)
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._drain, args=(c,),
                             daemon=True).start()

    def _drain(self, c):
        c.settimeout(3.0)
        data, eof = b"", False
        try:
            while True:
                d = c.recv(4096)
                if not d:
                    eof = True
                    break
                data += d
        except OSError:
            pass
        c.close()
        with self.lock:
            self.got.append((data, eof))

    def close(self):
        self.sock.close()


# ------------------------------------------------------------------ fixture
@pytest.fixture(scope="module")
def ens():
    e = Ensemble()
    # voter 3's election port: catch the connections 1 and 2 open to it
    e.incoming = Listener(e.ports[3]["e"])
    try:
        for i in e.run:
            e.start(i)
        modes = e.wait_modes({1: ("leader", "follower"),
                              2: ("leader", "follower")})
        e.leader = [i for i in modes if modes[i] == "leader"][0]
        e.follower = 3 - e.leader
        e.incoming.close()
        yield e
    finally:
        e.incoming.close()
        e.cleanup()
        write_capture()


def join(e, sid=3, kind="follower", **kw):
    lr = zp.Learner(LOCAL, e.ports[e.leader]["q"], sid, kind=kind, **kw)
    return lr.handshake()


def create_path(data):
    """Path of the CreateTxn that follows a PROPOSAL's TxnHeader."""
    hdr = zp.decode_txn_header(data)
    r = zp.Reader(data, 32)
    return hdr, r.string()


# ------------------------------------------------------------------ leading
# First: runs before the shared ensemble exists (no stray peer can reach
# its ports).
def test_zookeeper_follows_the_test_as_leader():
    """A lone ZooKeeper (sid 1) is told by voters 2 and 3 that 3 leads;
    it joins 3's quorum port and the test leads it: handshake, a
    proposal, a client session through it, PING replies with touches."""
    e = Ensemble(run=(1,), name="lead")
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((LOCAL, e.ports[3]["q"]))
    lsock.listen(4)
    lsock.settimeout(15)
    peers, conn, zk = [], None, None
    try:
        e.start(1)
        deadline = time.monotonic() + 20
        while True:
            try:
                for sid in (2, 3):
                    peers.append(zp.ElectionPeer(
                        LOCAL, e.ports[1]["e"], sid,
                        "%s:%d" % (LOCAL, e.ports[sid]["e"])))
                break
            except OSError:
                for p in peers:
                    p.close()
                peers = []
                assert time.monotonic() < deadline, e.log_tail(1)
                time.sleep(0.1)
        # its own vote first: LOOKING, for itself, peerEpoch 0
        n, raw = peers[1].recv_notification(timeout=10)
        assert (n.state, n.leader, n.zxid, n.peer_epoch) == \
            (zp.LOOKING, 1, 0, 0)
        keep("zk_note_looking_fresh", raw)
        epoch = 1
        # 3 says it leads, 2 that it follows 3: a quorum that includes
        # the leader's own LEADING vote (FastLeaderElection.checkLeader)
        peers[1].send_notification(zp.LEADING, 3, 0, n.election_epoch,
                                   epoch, e.qv_string)
        peers[0].send_notification(zp.FOLLOWING, 3, 0, n.election_epoch,
                                   epoch, e.qv_string)
        s, _ = lsock.accept()
        conn = zp.LeaderSide(s)
        ez = zp.make_zxid(epoch, 0)
        p = conn.expect(zp.FOLLOWERINFO)
        assert p.zxid == 0
        assert zp.decode_learner_info(p.data) == (1, zp.ZAB_VERSION, 0)
        conn.send(zp.LEADERINFO, ez, struct.pack(">i", zp.ZAB_VERSION))
        p = conn.expect(zp.ACKEPOCH)
        assert p.zxid == 0 and p.data == struct.pack(">i", 0)
        conn.send(zp.DIFF, 0)
        conn.send(zp.NEWLEADER, ez, e.qv_string)
        p = conn.expect(zp.ACK)
        assert p.zxid == ez
        conn.send(zp.UPTODATE, -1)
        p = conn.expect(zp.ACK)
        assert p.zxid == ez
        keep("zkf_followerinfo", conn.raw("<", zp.FOLLOWERINFO)[0])
        keep("zkf_ackepoch", conn.raw("<", zp.ACKEPOCH)[0])
        keep("zkf_ack_newleader", conn.raw("<", zp.ACK)[0])

        conn.zxid = ez
        conn.start()
        z = conn.propose(1, 0, 0, zp.encode_create_txn(
            "/paddock", b"led by a test", parent_cversion=-1))
        conn.wait_for(lambda p: p.type == zp.ACK and p.zxid == z)
        conn.commit(z)
        e.wait_modes({1: ("follower",)}, timeout=10)

        zk = kazoo(e.hosts(1))     # createSession goes through us
        data, stat = zk.get("/paddock")
        assert data == b"led by a test" and stat.czxid == z
        sess = zk.client_id[0]
        req = [q for q in conn.packets("<") if q.type == zp.REQUEST][0]
        assert zp.decode_request_payload(req.data)[:3] == \
            (sess, 0, zp.OP_CREATE_SESSION)
        keep("zkf_request_createsession", conn.raw("<", zp.REQUEST)[0])
        p = conn.wait_for(lambda p: p.type == zp.PING and
                          sess in dict(zp.decode_ping_payload(p.data)),
                          timeout=10)
        assert dict(zp.decode_ping_payload(p.data))[sess] == 6000
        keep("zkf_ping_touch", [r for d, q, r in conn.transcript
                                if q is p][0])
        # a write by an authenticated client: the follower forwards the
        # request with the connection's auth ids (QuorumPacket.authinfo)
        zk.add_auth("digest", "paddock:pw")
        zk.create("/paddock/w", b"via follower")
        req = [q for q in conn.packets("<") if q.type == zp.REQUEST][1]
        s2, cxid, op, body = zp.decode_request_payload(req.data)
        assert (s2, op) == (sess, zp.OP_CREATE) and cxid > 0
        assert ("digest", "paddock:" + make_digest("paddock", "pw")) \
            in req.authinfo
        assert zk.get("/paddock/w")[0] == b"via follower"
        keep("zkf_request_create_auth", conn.raw("<", zp.REQUEST)[1])
        stop_kazoo(zk)                # closeSession goes through us too
        zk = None
        assert e.srvr_zxid(1) == z + 3
        assert e.mode(1) == "follower"
    finally:
        for p in peers:
            p.close()
        if conn:
            conn.close()
        lsock.close()
        if zk:
            stop_kazoo(zk)
        e.cleanup()
        write_capture()


# ------------------------------------------------------------------ election
def test_smaller_sid_sends_initial_message_then_drops_connection(ens):
    """QuorumCnxManager.startConnection: a server connecting to a larger
    sid sends its initial message (V1 unless multiAddress is enabled) and
    closes; only the larger sid's own connection survives."""
    deadline = time.monotonic() + 5
    while True:     # drains finish at the peer's EOF
        with ens.incoming.lock:
            got = list(ens.incoming.got)
        sids = {zp.decode_initial_message(d)[1] for d, _ in got
                if len(d) >= 16}
        if sids >= {1, 2} or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert got, "no server connected to voter 3's election port"
    seen = set()
    for data, eof in got:
        ver, sid, addrs, end = zp.decode_initial_message(data)
        assert ver == zp.ELECTION_V1
        assert addrs == ["%s:%d" % (LOCAL, ens.ports[sid]["e"])]
        assert end == len(data) == 20 + len(addrs[0])   # nothing follows
        assert eof, "server %d kept the connection to a larger sid" % sid
        seen.add(sid)
        keep("zk_initmsg_sid%d" % sid, data)
    assert seen == {1, 2}


@pytest.mark.parametrize("version", [zp.ELECTION_V1, zp.ELECTION_V2, None],
                         ids=["v1", "v2", "pre3.5"])
def test_looking_notification_answered_with_current_vote(ens, version):
    """FastLeaderElection.WorkerReceiver: a FOLLOWING/LEADING server
    answers a LOOKING voter with its current vote (state, leader, the
    vote's election epoch, peerEpoch = the established epoch, version 2,
    its config).  A queued notification from its own election may come
    first."""
    epoch = zp.epoch_of(ens.srvr_zxid(ens.leader))
    for i in (1, 2):
        ep = zp.ElectionPeer(LOCAL, ens.ports[i]["e"], 3,
                             "%s:%d" % (LOCAL, ens.ports[3]["e"]),
                             version=version)
        try:
            ep.send_notification(zp.LOOKING, 3, 0, 1, 0, ens.qv_string)
            answers = []
            while True:
                n, raw = ep.recv_notification(timeout=5.0)
                answers.append(n)
                keep("zk_note_%s_%d" % (zp.STATE_NAMES[n.state].lower(), i),
                     raw)
                if n.state != zp.LOOKING:
                    break
                assert len(answers) < 3, answers
        finally:
            ep.close()
        n = answers[-1]
        want = zp.LEADING if i == ens.leader else zp.FOLLOWING
        assert n.state == want
        assert n.leader == ens.leader
        assert n.version == zp.NOTIFICATION_VERSION
        assert n.config == ens.qv_string
        assert n.peer_epoch == epoch
        assert n.election_epoch >= 1
        # the stale LOOKING one, if any, is the server's election vote
        for old in answers[:-1]:
            assert old.state == zp.LOOKING and old.config == ens.qv_string
        if version == zp.ELECTION_V1:
            keep("probe_initmsg_v1", ep.sent[0])
            keep("probe_note_looking", ep.sent[1])


# ------------------------------------------------------------------ learner
def test_follower_snap_sync_then_broadcast(ens):
    zk_f = kazoo(ens.hosts(ens.follower))
    zk_l = kazoo(ens.hosts(ens.leader))
    lr = None
    try:
        zk_f.create("/snap", b"before")
        last = ens.srvr_zxid(ens.leader)
        epoch = zp.epoch_of(last)
        ez = zp.make_zxid(epoch, 0)

        # a fresh follower (zxid 0) has nothing of the history: SNAP
        lr = join(ens)
        assert lr.sequence(skip_pings=True) == [
            ">FOLLOWERINFO 0x0", "<LEADERINFO 0x%x" % ez, ">ACKEPOCH 0x0",
            "<SNAP 0x%x" % last, "<SNAPSHOT", "<NEWLEADER 0x%x" % ez,
            ">ACK 0x%x" % ez, "<UPTODATE 0xffffffffffffffff",
            ">ACK 0x%x" % ez]
        # a leader may PING a learner once NEWLEADER is queued (ZooKeeper's
        # LearnerHandler too; a learner ignores it while syncing)
        pk = [p for p in lr.packets("<") if p.type != zp.PING]
        assert pk[0].data == struct.pack(">i", zp.ZAB_VERSION)
        assert pk[1].data is None and pk[1].authinfo is None   # SNAP
        assert pk[2].data == ens.qv_string                     # NEWLEADER
        assert pk[3].data is None                              # UPTODATE
        snap = lr.snapshot
        paths = [n[0] for n in snap.nodes]
        assert paths[0] == ""                     # the root, then preorder
        assert {"/zookeeper", "/zookeeper/config", "/zookeeper/quota",
                "/snap"} <= set(paths)
        node = dict((n[0], n) for n in snap.nodes)
        assert node["/snap"][1] == b"before"
        assert node["/zookeeper/config"][1] == ens.qv_string
        assert zk_f.client_id[0] in snap.sessions
        assert snap.sessions[zk_f.client_id[0]] == 6000
        for name, t in (("leaderinfo", zp.LEADERINFO), ("snap", zp.SNAP),
                        ("newleader", zp.NEWLEADER),
                        ("uptodate", zp.UPTODATE)):
            keep("zk_" + name, lr.raw("<", t)[0])
        keep("zk_snapshot", [r for d, p, r in lr.transcript
                             if p == "SNAPSHOT"][0])
        keep("probe_followerinfo", lr.raw(">", zp.FOLLOWERINFO)[0])

        # broadcast: writes through both servers reach us as PROPOSALs;
        # we ACK each, COMMIT follows
        lr.start()
        for c, path in ((zk_f, "/snap/f"), (zk_l, "/snap/l")):
            c.create(path, b"x")
            p = lr.wait_for(lambda p: p.type == zp.PROPOSAL)
            hdr, got_path = create_path(p.data)
            assert got_path == path and hdr.zxid == p.zxid
            assert hdr.type == 1                  # OpCode.create
            lr.wait_for(lambda q: q.type == zp.COMMIT and q.zxid == p.zxid)
        keep("zk_proposal_create", lr.raw("<", zp.PROPOSAL)[0])
        keep("zk_commit", lr.raw("<", zp.COMMIT)[0])
        seq = [s for s in lr.sequence(skip_pings=True)][9:]
        z1, z2 = p.zxid - 1, p.zxid
        assert seq == ["<PROPOSAL 0x%x" % z1, ">ACK 0x%x" % z1,
                       "<COMMIT 0x%x" % z1, "<PROPOSAL 0x%x" % z2,
                       ">ACK 0x%x" % z2, "<COMMIT 0x%x" % z2]

        # PING: the leader pings every tickTime/2 with zxid = last
        # proposed; we echo it with our session touches
        lr.wait_for(lambda p: p.type == zp.PING and p.zxid == z2)
        t0 = time.monotonic()
        p = lr.wait_for(lambda p: p.type == zp.PING and p.zxid == z2)
        assert p.data is None and p.authinfo is None
        assert time.monotonic() - t0 < 4 * TICK / 1000.0
        keep("zk_ping", lr.raw("<", zp.PING)[0])

        # REQUEST: our own session, created through the leader
        sess = (3 << 56) | 0x5a5a
        lr.touches[sess] = 6000
        lr.send(zp.REQUEST, -1, zp.encode_request_payload(
            sess, 0, zp.OP_CREATE_SESSION, struct.pack(">i", 6000)))
        p = lr.wait_for(lambda p: p.type == zp.PROPOSAL)
        hdr = zp.decode_txn_header(p.data)
        assert (hdr.client_id, hdr.cxid, hdr.type) == \
            (sess, 0, zp.OP_CREATE_SESSION)
        assert p.data[32:36] == struct.pack(">i", 6000)  # CreateSessionTxn
        lr.wait_for(lambda q: q.type == zp.COMMIT and q.zxid == p.zxid)
        keep("probe_request_createsession", lr.raw(">", zp.REQUEST)[0])
        keep("zk_proposal_createsession", lr.raw("<", zp.PROPOSAL)[-1])
        # the next PING is answered with our session's touch
        lr.wait_for(lambda q: q.type == zp.PING and q.zxid >= p.zxid)
        keep("probe_ping_reply", [r for d, q, r in lr.transcript
                                  if d == ">" and isinstance(q, zp.Packet)
                                  and q.type == zp.PING and q.data][0])

        # REVALIDATE: long session + int timeout -> long session + bool
        lr.send(zp.REVALIDATE, -1, struct.pack(">qi", sess, 6000))
        r = lr.wait_for(lambda p: p.type == zp.REVALIDATE)
        assert r.zxid == -1 and r.data == struct.pack(">q?", sess, True)
        keep("zk_revalidate_valid", lr.raw("<", zp.REVALIDATE)[0])
        lr.send(zp.REVALIDATE, -1, struct.pack(">qi", sess + 1, 6000))
        r = lr.wait_for(lambda p: p.type == zp.REVALIDATE)
        assert r.data == struct.pack(">q?", sess + 1, False)

        # sync: a REQUEST of type sync, answered by a SYNC packet
        lr.send(zp.REQUEST, 0, zp.encode_request_payload(
            sess, 1, zp.OP_SYNC, zp.p_string("/snap")))
        r = lr.wait_for(lambda p: p.type == zp.SYNC)
        assert r.zxid == 0 and r.data is None
        keep("zk_sync", lr.raw("<", zp.SYNC)[0])

        lr.send(zp.REQUEST, -1, zp.encode_request_payload(
            sess, 2, zp.OP_CLOSE_SESSION))
        p = lr.wait_for(lambda p: p.type == zp.PROPOSAL)
        assert zp.decode_txn_header(p.data).type == zp.OP_CLOSE_SESSION
        lr.wait_for(lambda q: q.type == zp.COMMIT and q.zxid == p.zxid)
        del lr.touches[sess]

        # a proposal not ACKed within syncLimit ticks: the leader drops
        # this follower (LearnerHandler.ping's SyncLimitCheck); the write
        # itself commits with the other server's ACK
        lr.ack_proposals = False
        zk_l.create("/snap/unacked", b"")
        t0 = time.monotonic()
        assert lr.wait_closed(SYNC_LIMIT * TICK / 1000.0 + 4.0)
        took = time.monotonic() - t0
        assert SYNC_LIMIT * TICK / 1000.0 - 0.5 <= took, took
        assert zk_f.exists("/snap/unacked")
    finally:
        if lr:
            lr.close()
        stop_kazoo(zk_f)
        stop_kazoo(zk_l)


def test_follower_silent_for_synclimit_is_dropped(ens):
    """After NEWLEADER's ACK the leader reads a follower with
    soTimeout = syncLimit * tickTime: no packet (not even a PING reply)
    for that long closes the connection."""
    lr = join(ens, accepted_epoch=0, last_zxid=ens.srvr_zxid(ens.leader))
    assert lr.sync_kind == "DIFF"
    lr.answer_pings = False
    t0 = time.monotonic()
    lr.start()
    try:
        assert lr.wait_closed(SYNC_LIMIT * TICK / 1000.0 + 4.0)
        took = time.monotonic() - t0
        assert SYNC_LIMIT * TICK / 1000.0 - 0.5 <= took, took
        assert len(lr.packets("<")) > 4       # the leader kept pinging
    finally:
        lr.close()


def test_follower_trunc_then_diff(ens):
    zk = kazoo(ens.hosts(ens.leader))
    try:
        zk.create("/trunc", b"")
        last = ens.srvr_zxid(ens.leader)
        epoch = zp.epoch_of(last)
        ez = zp.make_zxid(epoch, 0)

        # claims 5 txns the leader never had, same epoch: TRUNC to the
        # leader's last; the epoch already accepted is acked with -1
        lr = join(ens, accepted_epoch=epoch, current_epoch=epoch,
                  last_zxid=last + 5)
        lr.close()
        assert lr.sequence(skip_pings=True) == [
            ">FOLLOWERINFO 0x%x" % ez, "<LEADERINFO 0x%x" % ez,
            ">ACKEPOCH 0x%x" % (last + 5), "<TRUNC 0x%x" % last,
            "<NEWLEADER 0x%x" % ez, ">ACK 0x%x" % ez,
            "<UPTODATE 0xffffffffffffffff", ">ACK 0x%x" % ez]
        assert lr.packets(">")[1].data == struct.pack(">i", -1)
        keep("zk_trunc", lr.raw("<", zp.TRUNC)[0])
        keep("probe_ackepoch_minus1", lr.raw(">", zp.ACKEPOCH)[0])

        # missed two writes: DIFF (zxid = leader's last committed), then
        # each missed txn as PROPOSAL + COMMIT, then NEWLEADER
        zk.create("/trunc/a", b"1")
        zk.set("/trunc", b"2")
        now = ens.srvr_zxid(ens.leader)
        assert now == last + 2
        lr = join(ens, accepted_epoch=epoch, current_epoch=epoch,
                  last_zxid=last)
        lr.close()
        assert lr.sequence(skip_pings=True) == [
            ">FOLLOWERINFO 0x%x" % ez, "<LEADERINFO 0x%x" % ez,
            ">ACKEPOCH 0x%x" % last, "<DIFF 0x%x" % now,
            "<PROPOSAL 0x%x" % (last + 1), "<COMMIT 0x%x" % (last + 1),
            "<PROPOSAL 0x%x" % now, "<COMMIT 0x%x" % now,
            "<NEWLEADER 0x%x" % ez, ">ACK 0x%x" % ez,
            "<UPTODATE 0xffffffffffffffff", ">ACK 0x%x" % ez]
        props = [p for p in lr.packets("<") if p.type == zp.PROPOSAL]
        assert create_path(props[0].data)[1] == "/trunc/a"
        assert zp.decode_txn_header(props[1].data).type == 5   # setData
        keep("zk_diff", lr.raw("<", zp.DIFF)[0])
        keep("zk_proposal_setdata", lr.raw("<", zp.PROPOSAL)[1])

        # in sync already: an empty DIFF carrying our own zxid
        lr = join(ens, accepted_epoch=epoch, current_epoch=epoch,
                  last_zxid=now)
        lr.close()
        assert lr.sequence(skip_pings=True)[3:5] == ["<DIFF 0x%x" % now,
                                      "<NEWLEADER 0x%x" % ez]
    finally:
        stop_kazoo(zk)


def test_observer_gets_inform_not_proposal(ens):
    zk = kazoo(ens.hosts(ens.leader))
    ob = None
    try:
        zk.ensure_path("/obs")
        last = ens.srvr_zxid(ens.leader)
        ez = zp.make_zxid(zp.epoch_of(last), 0)
        ob = join(ens, sid=4, kind="observer")
        assert ob.sequence(skip_pings=True) == [
            ">OBSERVERINFO 0x0", "<LEADERINFO 0x%x" % ez, ">ACKEPOCH 0x0",
            "<SNAP 0x%x" % last, "<SNAPSHOT", "<NEWLEADER 0x%x" % ez,
            ">ACK 0x%x" % ez, "<UPTODATE 0xffffffffffffffff",
            ">ACK 0x%x" % ez]
        ob.start()
        zk.create("/obs/x", b"seen")
        p = ob.wait_for(lambda p: p.type == zp.INFORM)
        hdr, path = create_path(p.data)
        assert path == "/obs/x" and hdr.zxid == p.zxid == last + 1
        ob.wait_for(lambda p: p.type == zp.PING)
        assert not [p for p in ob.packets("<")
                    if p.type in (zp.PROPOSAL, zp.COMMIT)]
        assert not [p for p in ob.packets(">") if p.type == zp.ACK][2:]
        keep("zk_inform", ob.raw("<", zp.INFORM)[0])
        keep("probe_observerinfo", ob.raw(">", zp.OBSERVERINFO)[0])
    finally:
        if ob:
            ob.close()
        stop_kazoo(zk)


def test_leader_counts_our_acks_for_quorum(ens):
    """With the other ZooKeeper gone, leader + test are the quorum: a
    write commits only after our ACK; stop ACKing and the leader drops us
    after syncLimit and gives up leadership.  (Last: breaks the
    ensemble.)"""
    last = ens.srvr_zxid(ens.leader)
    epoch = zp.epoch_of(last)
    lr = join(ens, accepted_epoch=epoch, current_epoch=epoch, last_zxid=last)
    lr.start()
    zk = None
    try:
        ens.kill(ens.follower)
        zk = kazoo(ens.hosts(ens.leader))   # createSession: needs our ACK
        zk.create("/quorum", b"")
        lr.wait_for(lambda p: p.type == zp.COMMIT and p.zxid == last + 2)
        seq = lr.sequence(skip_pings=True)
        for z in range(last + 1, last + 3):
            assert seq.index(">ACK 0x%x" % z) < seq.index("<COMMIT 0x%x" % z)
        assert ens.mode(ens.leader) == "leader"

        lr.ack_proposals = False
        zk.create_async("/quorum/stuck", b"")
        p = lr.wait_for(lambda p: p.type == zp.PROPOSAL and
                        p.zxid > last + 2)
        t0 = time.monotonic()
        assert lr.wait_closed(SYNC_LIMIT * TICK / 1000.0 + 4.0)
        took = time.monotonic() - t0
        assert not [q for q in lr.packets("<")
                    if q.type == zp.COMMIT and q.zxid == p.zxid]
        assert SYNC_LIMIT * TICK / 1000.0 - 0.5 <= took, took
        deadline = time.monotonic() + 5
        while ens.mode(ens.leader) == "leader" and \
                time.monotonic() < deadline:
            time.sleep(0.1)
        assert ens.mode(ens.leader) != "leader"
    finally:
        lr.close()
        if zk:
            stop_kazoo(zk)
