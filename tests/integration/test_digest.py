"""A paddockd follower checks ZooKeeper's tree digest exactly.

A lone real paddockd (sid 1 of a three-voter zoo.cfg) is told by voters 2
and 3 -- the test, through zkpeer.py -- that 3 leads; it joins 3's quorum
port and the test leads it, as test_zkpeer.py's
test_zookeeper_follows_the_test_as_leader does with a real ZooKeeper.  The
test's leader then proposes txns whose TxnDigest it computes in Python
from ZooKeeper's DigestCalculator (version 2) rules -- zlib CRC-32 of
path, data and the 60-byte StatPersisted, "/" as "", "/zookeeper/..." as
0, summed modulo 2^64 -- independently of paddock's C code:

1. a create with the correct digest: no mismatch;
2. a create with a wrong digest (correct + 1): the mismatch count of
   `mntr` (zk_digest_mismatches_count) becomes 1, and the log line shows
   the tree's digest equal to the test's correct one and the leader's
   equal to the wrong one;
3. a setData with the digest correct for the tree as it now is (which
   includes the node of step 2): still 1;
4. a create without any TxnDigest: still 1 (nothing to compare);
5. a create with the correct digest after that: still 1 (the undigested
   txn was folded into the tree digest too).

A kazoo client on paddockd's client port (it serves reads as a follower)
checks every node and its data, so a txn that failed to apply is not
mistaken for a digest that matched.  This proves that a paddockd follower
computes ZooKeeper's tree digest exactly and counts a leader's wrong one,
so the mismatch count the mixed-ensemble tests assert to be 0 is not
vacuous.
"""

import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import zlib

import pytest
from kazoo.client import KazooClient

import zkpeer as zp
from srvutil import distinct_ports, four_letter, kv_lines

PADDOCK_BUILD = os.environ.get("PADDOCK_BUILD", "/work/main/build")
PADDOCKD = os.environ.get("PADDOCKD",
                          os.path.join(PADDOCK_BUILD, "tools", "paddockd"))
KEEP = os.environ.get("PADDOCK_KEEP_TMP")
LOCAL = "127.0.0.1"
TICK = 500

OP_SET_DATA = 5
DIGEST_VERSION = 2
MASK64 = (1 << 64) - 1
OPEN_ACL = ((31, "world", "anyone"),)


# ------------------------------------------------------------ digest model
def node_digest(path, data, st):
    """DigestCalculator.calculateDigest, from its rules (zlib CRC-32)."""
    if path.startswith("/zookeeper/"):
        return 0
    crc = zlib.crc32(b"" if path == "/" else path.encode())
    if data:
        crc = zlib.crc32(data, crc)
    return zlib.crc32(struct.pack(
        ">qqqqqiiiq", st["czxid"], st["mzxid"], st["pzxid"], st["ctime"],
        st["mtime"], st["version"], st["cversion"], st["aversion"],
        st["owner"]), crc)


def new_stat(zxid=0, t=0, owner=0):
    return {"czxid": zxid, "mzxid": zxid, "pzxid": zxid, "ctime": t,
            "mtime": t, "version": 0, "cversion": 0, "aversion": 0,
            "owner": owner}


class Tree:
    """path -> (data, stat); cversion is the STORED one (creates only)."""

    def __init__(self):
        self.nodes = {p: (None, new_stat())
                      for p in ("/", "/zookeeper", "/zookeeper/config",
                                "/zookeeper/quota")}

    def digest(self):
        """The tree digest as the signed long TxnDigest carries."""
        return zp.signed64(sum(node_digest(p, d, st)
                               for p, (d, st) in self.nodes.items()))

    @staticmethod
    def parent(path):
        return path.rsplit("/", 1)[0] or "/"

    def create(self, path, data, zxid, t):
        """Returns the parent's new stored cversion (CreateTxn's
        parentCVersion)."""
        assert path not in self.nodes
        self.nodes[path] = (data, new_stat(zxid, t))
        pst = self.nodes[self.parent(path)][1]
        pst["cversion"] += 1
        pst["pzxid"] = zxid
        return pst["cversion"]

    def set_data(self, path, data, zxid, t):
        """Returns the new version (SetDataTxn's version)."""
        st = self.nodes[path][1]
        st["mzxid"] = zxid
        st["mtime"] = t
        st["version"] += 1
        self.nodes[path] = (data, st)
        return st["version"]


def encode_txn_digest(d):
    return zp.p_int(DIGEST_VERSION) + zp.p_long(d)


def encode_set_data_txn(path, data, version):
    return zp.p_string(path) + zp.p_buffer(data) + zp.p_int(version)


def test_digest_model_of_a_fresh_tree():
    """Sanity of the model itself: only "/" and "/zookeeper" count."""
    t = Tree()
    zero = new_stat()
    want = (zlib.crc32(b"\0" * 60) +
            zlib.crc32(b"\0" * 60, zlib.crc32(b"/zookeeper")))
    assert t.digest() == want
    assert node_digest("/zookeeper/quota", b"x", zero) == 0
    assert node_digest("/", None, zero) == node_digest("", b"", zero)


# ------------------------------------------------------------ the server
class Paddock:
    """paddockd as sid 1 of voters 1..3 (2 and 3 are the test)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="paddock-digest-")
        ports = iter(distinct_ports(9))
        self.ports = {i: {"q": next(ports), "e": next(ports),
                          "c": next(ports)} for i in (1, 2, 3)}
        self.log_path = os.path.join(self.dir, "server.log")
        self.proc = None

    @property
    def hosts(self):
        return "%s:%d" % (LOCAL, self.ports[1]["c"])

    @property
    def qv_string(self):
        """QuorumMaj.toString(), as notifications and NEWLEADER carry."""
        return ("\n".join("server.%d=%s:%d:%d:participant" % (
            i, LOCAL, self.ports[i]["q"], self.ports[i]["e"])
            for i in (1, 2, 3)) + "\nversion=0").encode()

    def start(self):
        if not os.path.exists(PADDOCKD):
            pytest.fail("paddockd not found at %s" % PADDOCKD)
        data = os.path.join(self.dir, "data")
        os.makedirs(data)
        with open(os.path.join(data, "myid"), "w") as f:
            f.write("1\n")
        cfg = ["tickTime=%d" % TICK, "initLimit=10", "syncLimit=5",
               "dataDir=%s" % data,
               "clientPort=%d" % self.ports[1]["c"],
               "clientPortAddress=%s" % LOCAL,
               "4lw.commands.whitelist=*", "admin.enableServer=false",
               "minSessionTimeout=1000", "maxSessionTimeout=40000",
               "paddock.workers=1", "paddock.finalizeWait=50"]
        cfg += ["server.%d=%s:%d:%d" % (i, LOCAL, self.ports[i]["q"],
                                        self.ports[i]["e"])
                for i in (1, 2, 3)]
        path = os.path.join(self.dir, "zoo.cfg")
        with open(path, "w") as f:
            f.write("\n".join(cfg) + "\n")
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([PADDOCKD, path], stdout=log,
                                     stderr=subprocess.STDOUT, cwd=self.dir,
                                     start_new_session=True)
        log.close()

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n=40):
        return "--- paddockd log (tail):\n" + \
            "\n".join(self.log().splitlines()[-n:])

    def check_alive(self):
        rc = self.proc.poll()
        assert rc is None, "paddockd exited (%s)\n%s" % (rc, self.log_tail())

    def mntr(self):
        return kv_lines(four_letter(self.hosts, "mntr", timeout=3.0))

    def mismatches(self):
        kv = self.mntr()
        assert "zk_digest_mismatches_count" in kv, kv
        return int(kv["zk_digest_mismatches_count"])

    def mode(self):
        try:
            out = four_letter(self.hosts, "srvr", timeout=2.0)
        except OSError:
            return None
        m = re.search(r"Mode: (\S+)", out)
        return m.group(1) if m else None

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(10)
        if not KEEP:
            shutil.rmtree(self.dir, ignore_errors=True)


def wait_until(pred, timeout, what, srv):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        srv.check_alive()
        assert time.monotonic() < deadline, \
            "timed out waiting for %s\n%s" % (what, srv.log_tail())
        time.sleep(0.05)


def mismatch_lines(srv):
    return [ln for ln in srv.log().splitlines() if "digest mismatch" in ln]


# ------------------------------------------------------------ the test
@pytest.mark.timeout(120)
def test_paddock_follower_checks_the_leaders_digest():
    srv = Paddock()
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((LOCAL, srv.ports[3]["q"]))
    lsock.listen(4)
    lsock.settimeout(15)
    peers, conn, zk = [], None, None
    try:
        srv.start()
        deadline = time.monotonic() + 20
        while True:
            try:
                for sid in (2, 3):
                    peers.append(zp.ElectionPeer(
                        LOCAL, srv.ports[1]["e"], sid,
                        "%s:%d" % (LOCAL, srv.ports[sid]["e"])))
                break
            except OSError:
                for p in peers:
                    p.close()
                peers = []
                srv.check_alive()
                assert time.monotonic() < deadline, srv.log_tail()
                time.sleep(0.1)
        n, _ = peers[1].recv_notification(timeout=10)
        assert (n.state, n.leader, n.zxid) == (zp.LOOKING, 1, 0), n
        epoch = 1
        peers[1].send_notification(zp.LEADING, 3, 0, n.election_epoch,
                                   epoch, srv.qv_string)
        peers[0].send_notification(zp.FOLLOWING, 3, 0, n.election_epoch,
                                   epoch, srv.qv_string)
        try:
            s, _ = lsock.accept()
        except socket.timeout:
            pytest.fail("paddockd never connected to the leader's quorum "
                        "port\n%s" % srv.log_tail())
        conn = zp.LeaderSide(s)
        ez = zp.make_zxid(epoch, 0)

        # the handshake; paddockd may announce paddock's own protocol
        # version: the answer is ZooKeeper's, so it treats us as 3.8
        p = conn.expect(zp.FOLLOWERINFO)
        sid, ver, _ = zp.decode_learner_info(p.data)
        assert sid == 1 and ver >= zp.ZAB_VERSION, (sid, ver)
        conn.send(zp.LEADERINFO, ez, struct.pack(">i", zp.ZAB_VERSION))
        p = conn.expect(zp.ACKEPOCH)
        assert p.zxid == 0, p
        conn.send(zp.DIFF, 0)
        conn.send(zp.NEWLEADER, ez, srv.qv_string)
        p = conn.expect(zp.ACK)
        assert p.zxid == ez, p
        conn.send(zp.UPTODATE, -1)
        p = conn.expect(zp.ACK)
        assert p.zxid == ez, p
        conn.zxid = ez
        conn.start()            # PINGs, and createSession from kazoo
        wait_until(lambda: srv.mode() == "follower", 10, "follower mode",
                   srv)
        assert srv.mismatches() == 0

        # a client on the follower; its createSession goes through us
        # (a session is not part of the digest)
        zk = KazooClient(hosts=srv.hosts, timeout=6.0)
        zk.start(timeout=10)

        tree = Tree()

        def propose(hdr_type, body_of, digest_of):
            """PROPOSAL of the txn body_of(zxid, time) makes, with the
            TxnDigest digest_of(correct) (None: no TxnDigest); ACK, COMMIT.
            Returns (zxid, the correct digest after it)."""
            conn.zxid += 1
            z = conn.zxid
            t = int(time.time() * 1000)
            body = body_of(z, t)
            correct = tree.digest()
            data = zp.encode_txn(0, 0, z, t, hdr_type, body)
            d = digest_of(correct)
            if d is not None:
                data += encode_txn_digest(d)
            conn.send(zp.PROPOSAL, z, data)
            try:
                conn.wait_for(lambda q: q.type == zp.ACK and q.zxid == z,
                              timeout=10)
            except (zp.LearnerError, EOFError) as e:
                pytest.fail("no ACK of 0x%x: %s\n%s" % (z, e,
                                                         srv.log_tail()))
            conn.commit(z)
            return z, correct

        def create(path, data, digest_of):
            return propose(zp.OP_CREATE, lambda z, t: zp.encode_create_txn(
                path, data, OPEN_ACL,
                parent_cversion=tree.create(path, data, z, t)), digest_of)

        def wait_data(path, data, zxid, what):
            def got():
                st = zk.exists(path)
                return st is not None and st.mzxid == zxid
            wait_until(got, 10, what, srv)
            d, st = zk.get(path)
            assert d == data, (path, d)
            _, want = tree.nodes[path]
            assert (st.czxid, st.mzxid, st.ctime, st.mtime, st.version) == \
                (want["czxid"], want["mzxid"], want["ctime"], want["mtime"],
                 want["version"]), (path, st, want)

        # 1. a create with the correct digest
        z1, d1 = create("/digest-ok", b"first", lambda c: c)
        wait_data("/digest-ok", b"first", z1, "/digest-ok applied")
        assert srv.mismatches() == 0, \
            "a correct digest (%d) counted as a mismatch:\n%s" % (
                d1, "\n".join(mismatch_lines(srv)))
        root = zk.exists("/")
        assert root.pzxid == z1 and root.numChildren == 2, root

        # 2. a create with a wrong digest: counted, and logged with the
        # tree's digest (ours) and the leader's (ours + 1)
        z2, d2 = create("/digest-bad", b"second",
                        lambda c: zp.signed64(c + 1))
        wait_data("/digest-bad", b"second", z2, "/digest-bad applied")
        wait_until(lambda: srv.mismatches() >= 1, 10, "mismatch counted",
                   srv)
        lines = mismatch_lines(srv)
        assert len(lines) == 1, lines
        m = re.search(r"after zxid 0x([0-9a-f]+) .*the tree's is (-?\d+), "
                      r"the leader's (-?\d+)", lines[0])
        assert m, lines[0]
        assert (int(m.group(1), 16), int(m.group(2)), int(m.group(3))) == \
            (z2, d2, zp.signed64(d2 + 1)), lines[0]
        assert srv.mismatches() == 1

        # 3. a setData with the digest correct for the tree as it is
        z3, d3 = propose(OP_SET_DATA, lambda z, t: encode_set_data_txn(
            "/digest-ok", b"changed",
            tree.set_data("/digest-ok", b"changed", z, t)), lambda c: c)
        wait_data("/digest-ok", b"changed", z3, "setData applied")
        assert srv.mismatches() == 1, mismatch_lines(srv)

        # 4. no TxnDigest at all: nothing to compare
        z4, _ = create("/digest-none", b"", lambda c: None)
        wait_data("/digest-none", b"", z4, "/digest-none applied")
        assert srv.mismatches() == 1, mismatch_lines(srv)

        # 5. the undigested txn still changed the tree digest
        z5, d5 = create("/digest-after", b"fifth", lambda c: c)
        wait_data("/digest-after", b"fifth", z5, "/digest-after applied")
        assert srv.mismatches() == 1, mismatch_lines(srv)

        assert sorted(zk.get_children("/")) == [
            "digest-after", "digest-bad", "digest-none", "digest-ok",
            "zookeeper"]
        root = zk.exists("/")
        assert root.pzxid == z5 and root.numChildren == 5, root
        assert srv.mode() == "follower"
        srv.check_alive()
        # nothing applied after the last check could still be pending
        time.sleep(0.2)
        assert srv.mismatches() == 1
        assert len(mismatch_lines(srv)) == 1, mismatch_lines(srv)
    finally:
        if zk:
            try:
                zk.stop()
                zk.close()
            except Exception:
                pass
        for p in peers:
            p.close()
        if conn:
            conn.close()
        lsock.close()
        srv.cleanup()
