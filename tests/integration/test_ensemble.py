"""Replicated paddockd: 3- and 5-member ensembles (and an observer) on
loopback from real zoo.cfg files with server.N lines and myid files,
driven by kazoo and raw sessions: elections, writes at any member, reads
everywhere with identical Stats, sessions moving between members,
ephemerals vanishing everywhere, kill -9 of the leader under write load,
kill -9 of every member at once, and garbage on the peer ports."""
import os
import signal
import socket
import subprocess
import threading
import time

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import (ConnectionLoss, NodeExistsError,
                              NotEmptyError, SessionExpiredError)
from kazoo.retry import KazooRetry
from kazoo.security import OPEN_ACL_UNSAFE

import jute
import test_overload as overload
from conftest import PADDOCK_BUILD
from ensemble import ZK_ACK_COMPLAINTS, Ensemble, fill
from srvutil import four_letter, kv_lines

ZKFMT = os.path.join(PADDOCK_BUILD, "tools", "zkfmt-check")
# ZooKeeper 3.8.0's follower-side NullPointerException in sync (below)
ZK4394 = 'Cannot read field "hdr" because "pif" is null'


@pytest.fixture
def ens3():
    e = Ensemble(voters=3)
    e.start()
    yield e
    e.close()


def client(hosts, timeout=10.0):
    zk = KazooClient(hosts=hosts, timeout=timeout,
                     connection_retry=KazooRetry(max_tries=-1, delay=0.05,
                                                 max_delay=0.5))
    zk.start(timeout=20)
    return zk


def create_once(hosts, path, data=b""):
    """A session of its own creates path, then closes."""
    zk = client(hosts)
    zk.create(path, data)
    zk.stop()
    zk.close()


def connect_session(hosts, sid, pw, seen, timeout=10.0):
    """A raw connection resuming session sid; a member that has not
    caught up with `seen` yet closes it, and is tried again (as clients
    do)."""
    deadline = time.time() + timeout
    while True:
        d = jute.RawClient(hosts)
        try:
            r = d.connect(timeout_ms=10000, session_id=sid, passwd=pw,
                          last_zxid=seen)
            assert r.session_id == sid, "%s refused the session" % hosts
            return d
        except jute.Closed:
            if time.time() > deadline:
                raise
            time.sleep(0.05)


def stat_tuple(st):
    return (st.czxid, st.mzxid, st.pzxid, st.ctime, st.mtime, st.version,
            st.cversion, st.aversion, st.ephemeralOwner, st.dataLength,
            st.numChildren)


def test_one_leader_and_modes(ens3):
    modes = sorted(m.mode() for m in ens3.members)
    assert modes == ["follower", "follower", "leader"]
    # the highest (epoch, zxid, sid) wins a fresh election: server 3
    assert ens3.leader().sid == 3
    mntr = kv_lines(four_letter(ens3[2].hosts, "mntr"))
    assert mntr["zk_server_state"] == "leader"
    assert mntr["zk_learners"] == "2" and mntr["zk_synced_followers"] == "2"
    assert mntr["zk_synced_observers"] == "0"
    assert mntr["zk_pending_syncs"] == "0"
    f = four_letter(ens3[0].hosts, "mntr")
    assert "zk_server_state\tfollower" in f and "zk_learners" not in f
    # one stretch LOOKING until serving, on each; the leader's counts
    # as the leader's too
    assert mntr["zk_cnt_unavailable_time"] == "1"
    assert mntr["zk_cnt_leader_unavailable_time"] == "1"
    f = kv_lines(f)
    assert f["zk_cnt_unavailable_time"] == "1"
    assert f["zk_cnt_leader_unavailable_time"] == "0"


def test_writes_at_any_member_are_read_everywhere(ens3):
    zks = [client(m.hosts) for m in ens3.members]
    try:
        for i, zk in enumerate(zks):
            zk.create("/w%d" % i, b"from %d" % i)
            zk.create("/w%d/c" % i, b"", sequence=True)
            zk.set("/w%d" % i, b"again %d" % i)
        tx = zks[0].transaction()
        tx.create("/m", b"multi")
        tx.check("/w1", 1)
        assert not any(isinstance(r, Exception) for r in tx.commit())
        with pytest.raises(NodeExistsError):
            zks[1].create("/w2", b"")
        for zk in zks:
            zk.sync("/")
        views = []
        for zk in zks:
            v = {}
            for p in ["/w0", "/w1", "/w2", "/m"]:
                data, st = zk.get(p)
                v[p] = (data, stat_tuple(st), sorted(zk.get_children(p)))
            views.append(v)
        assert views[0] == views[1] == views[2]
        assert views[0]["/w1"][0] == b"again 1"
    finally:
        for zk in zks:
            zk.stop()
            zk.close()


def test_ephemerals_vanish_everywhere_on_close_and_expiry(ens3):
    zks = [client(m.hosts) for m in ens3.members]
    try:
        zks[0].create("/e-close", b"", ephemeral=True)
        raw = jute.RawClient(ens3[1].hosts)
        raw.connect(timeout_ms=2000)
        raw.create("/e-expire", b"", mode=jute.Mode.EPHEMERAL)
        for zk in zks:
            zk.sync("/")
            assert zk.exists("/e-close") and zk.exists("/e-expire")
        zks[0].stop()
        raw.close_socket()  # no close: the leader expires it
        deadline = time.time() + 10
        while time.time() < deadline:
            if all(zk.exists("/e-expire") is None and
                   zk.exists("/e-close") is None for zk in zks[1:]):
                break
            time.sleep(0.1)
        for zk in zks[1:]:
            zk.sync("/")
            assert zk.exists("/e-close") is None
            assert zk.exists("/e-expire") is None
    finally:
        for zk in zks:
            zk.stop()
            zk.close()


def test_session_moves_between_members(ens3):
    a = jute.RawClient(ens3[0].hosts)
    a.connect(timeout_ms=10000)
    a.create("/moving", b"", mode=jute.Mode.EPHEMERAL)
    sid, pw = a.session_id, a.passwd
    a.close_socket()
    for m in (ens3[1], ens3[2], ens3[0]):
        # a member that has not applied the create yet closes the
        # connection (ZooKeeper's rule); the client tries again
        b = connect_session(m.hosts, sid, pw, a.last_zxid)
        assert b.exists("/moving").ephemeralOwner == sid
        b.close_socket()
    # a member other than the leader asks the leader to revalidate the
    # session (Learner.validateSession), the leader counts its answers
    mntr = {m.sid: kv_lines(four_letter(m.hosts, "mntr"))
            for m in ens3.members}
    leader = ens3.leader()
    assert int(mntr[leader.sid]["zk_revalidate_count"]) >= 1, mntr
    assert sum(int(v["zk_connection_revalidate_count"])
               for sid, v in mntr.items() if sid != leader.sid) >= 1, mntr
    # a wrong password is refused everywhere
    for m in ens3.members:
        c = jute.RawClient(m.hosts)
        r = c.connect(timeout_ms=10000, session_id=sid, passwd=b"x" * 16)
        assert r.session_id == 0
        c.close_socket()


def test_session_ids_stay_in_each_members_own_space(ens3):
    """A session id is the creating member's server id << 56 | its
    counter (ZooKeeper's SessionTrackerImpl).  Applying another member's
    createSession moved a member's counter past that id, into the other
    member's space: both then handed out the same next ids, and a
    member's new client waited for its connect timeout on a
    createSession the leader never committed (found by kazoo's suite).
    Every member's new sessions must stay in its own space, distinct,
    and each connect must be answered at once."""
    ids = []
    for _ in range(3):
        for m in ens3.members:  # highest server id last: it pulled most
            d = jute.RawClient(m.hosts)
            t0 = time.monotonic()
            r = d.connect(timeout_ms=10000)
            assert time.monotonic() - t0 < 2, "member %d: slow connect" % \
                m.sid
            assert r.session_id >> 56 == m.sid, \
                "member %d gave 0x%x" % (m.sid, r.session_id)
            d.create("/sid-%x" % r.session_id, b"", mode=jute.Mode.EPHEMERAL)
            ids.append(r.session_id)
            d.close_socket()
    assert len(set(ids)) == len(ids)
    # after a restart too (the log replays the others' sessions)
    ens3[0].stop()
    ens3[0].start()
    ens3.wait_serving()
    d = jute.RawClient(ens3[0].hosts)
    r = d.connect(timeout_ms=10000)
    assert r.session_id >> 56 == ens3[0].sid and r.session_id not in ids
    d.close_socket()


def _writer(hosts, prefix, acked, stop, errors, times):
    zk = client(hosts, timeout=4.0)
    i = 0
    try:
        while not stop.is_set():
            path = "%s-%06d" % (prefix, i)
            t0 = time.monotonic()
            try:
                zk.create(path, b"x")
                acked.append(path)
                times.append((t0, time.monotonic()))
                i += 1
            except NodeExistsError:
                acked.append(path)  # a retry of a write that took effect
                i += 1
            except (ConnectionLoss, SessionExpiredError):
                time.sleep(0.02)  # indeterminate: retried (same path)
            except Exception as ex:  # noqa: BLE001 - reported below
                errors.append(repr(ex))
                time.sleep(0.05)
    finally:
        zk.stop()
        zk.close()


def test_leader_kill9_under_write_load_loses_no_acknowledged_write(ens3):
    create_once(ens3.hosts(), "/load")
    old = ens3.leader()
    others = [m for m in ens3.members if m is not old]
    acked, errors, times, stop = [], [], [], threading.Event()
    threads = [threading.Thread(target=_writer,
                                args=(m.hosts, "/load/w%d" % m.sid, acked,
                                      stop, errors, times))
               for m in others]
    for t in threads:
        t.start()
    time.sleep(1.0)
    before = len(acked)
    t_kill = time.monotonic()
    old.kill9()
    # the first write invoked after the kill to be acknowledged (one in
    # flight at the kill may have committed before it)
    while time.monotonic() - t_kill < 10 and \
            not [a for i, a in list(times) if i > t_kill]:
        time.sleep(0.002)
    after = [a for i, a in list(times) if i > t_kill]
    gap = (min(after) - t_kill) if after else float("inf")
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join(30)
    new = ens3.wait_serving(members=others)
    assert new is not old
    print("\n  ensemble: leader kill -9 -> next acknowledged write after "
          "%.0f ms (%d writes acknowledged)" % (gap * 1000, len(acked)))
    assert len(acked) > before, "no write acknowledged after the kill"
    old.start()
    ens3.wait_serving()
    for m in ens3.members:
        zk = client(m.hosts)
        zk.sync("/")
        have = set("/load/" + c for c in zk.get_children("/load"))
        zk.stop()
        zk.close()
        missing = [p for p in acked if p not in have]
        assert not missing, "server %d lacks %d acknowledged writes" % (
            m.sid, len(missing))
    assert not errors, errors[:5]


def test_kill9_every_member_at_once_loses_nothing(ens3):
    zk = client(ens3.hosts())
    acked = []
    for i in range(300):
        zk.create("/k%03d" % i, b"%d" % i)
        acked.append("/k%03d" % i)
    zk.stop()
    zk.close()
    for m in ens3.members:
        m.kill9()
    for m in ens3.members:
        m.start()
    ens3.wait_serving()
    for m in ens3.members:
        zk = client(m.hosts)
        zk.sync("/")
        kids = set("/" + c for c in zk.get_children("/"))
        zk.stop()
        zk.close()
        assert set(acked) <= kids
    # the new epoch is in every member's epoch files (rewritten in place
    # since start-up: the number padded to 11 bytes)
    create_once(ens3.hosts(), "/after-restart")
    for m in ens3.members:
        zk = client(m.hosts)
        zk.sync("/")
        zk.stop()
        zk.close()
        epoch = m.zxid() >> 32
        for name in ("acceptedEpoch", "currentEpoch"):
            with open(os.path.join(m.data, name), "rb") as f:
                raw = f.read()
            assert len(raw) == 11 and int(raw) == epoch, (m.sid, name, raw)


def test_garbage_on_peer_ports_drops_that_connection_only(ens3):
    target = ens3[0]
    for port in (target.election_port, target.quorum_port):
        for junk in (b"\x00" * 64, os.urandom(4096),
                     b"\xff\xff\xff\xff\xff\xff\x00\x01" + b"A" * 100):
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            try:
                s.sendall(junk)
                s.settimeout(2)
                try:
                    s.recv(100)
                except (socket.timeout, ConnectionResetError):
                    pass
            finally:
                s.close()
    # a LearnerInfo naming a server id that is not in the config
    leader = ens3.leader()
    s = socket.create_connection(("127.0.0.1", leader.quorum_port), timeout=2)
    li = (99).to_bytes(8, "big") + (0x10000).to_bytes(4, "big") + \
        (0).to_bytes(8, "big")
    pkt = (11).to_bytes(4, "big") + (0).to_bytes(8, "big") + \
        len(li).to_bytes(4, "big") + li + (0xffffffff).to_bytes(4, "big")
    s.sendall(pkt)
    s.settimeout(3)
    try:
        assert s.recv(100) == b""  # closed
    except ConnectionResetError:
        pass
    s.close()
    assert ens3.wait_serving() is leader
    create_once(target.hosts, "/still-serving")


@pytest.mark.timeout(180)  # JVM or several restarts, on 2 cores
def test_five_members_survive_two_failures():
    e = Ensemble(voters=5)
    try:
        e.start()
        create_once(e.hosts(), "/five")
        leader = e.leader()
        leader.kill9()
        [m for m in e.members if m.alive()][0].kill9()
        live = [m for m in e.members if m.alive()]
        e.wait_serving(members=live)
        create_once(e.hosts(live), "/five/after")
        for m in live:
            zk = client(m.hosts)
            zk.sync("/")
            assert zk.exists("/five/after")
            zk.stop()
            zk.close()
    finally:
        e.close()


@pytest.mark.timeout(180)  # JVM or several restarts, on 2 cores
def test_observer_serves_reads_and_forwards_writes():
    e = Ensemble(voters=3, observers=1)
    try:
        e.start()
        obs = e[3]
        assert obs.mode() == "observer"
        zk = client(obs.hosts)
        zk.create("/via-observer", b"o")
        other = client(e[0].hosts)
        other.sync("/")
        assert other.get("/via-observer")[0] == b"o"
        other.create("/to-observer", b"v")
        zk.sync("/")
        assert zk.get("/to-observer")[0] == b"v"
        for c in (zk, other):
            c.stop()
            c.close()
        # an observer does not vote: the voters elect without it
        e.leader().kill9()
        live = [m for m in e.members if m.alive()]
        e.wait_serving(members=live)
    finally:
        e.close()


@pytest.mark.timeout(180)  # JVM or several restarts, on 2 cores
def test_member_far_behind_syncs_by_snapshot():
    # commitLogCount=20: a member more than 20 transactions behind gets the
    # leader's tree as a SNAP (ZooKeeper's snapshot stream), installs it
    # and rejoins
    e = Ensemble(voters=3, extra=["commitLogCount=20"])
    try:
        e.start()
        late = [m for m in e.members if m.mode() != "leader"][0]
        late.kill9()
        zk = client(e.hosts([m for m in e.members if m is not late]))
        zk.create("/snap", b"top")
        zk.create("/snap/eph", b"", ephemeral=True)
        for i in range(100):
            zk.create("/snap/n%03d" % i, b"%d" % i)
        zk.set("/snap/n007", b"changed")
        zk.delete("/snap/n050")
        late.start()
        e.wait_serving(timeout=30)
        assert "installing it and restarting" in late.log_tail(200)
        lz = client(late.hosts)
        lz.sync("/")
        want = {c: stat_tuple(zk.get("/snap/" + c)[1])
                for c in zk.get_children("/snap")}
        got = {c: stat_tuple(lz.get("/snap/" + c)[1])
               for c in lz.get_children("/snap")}
        assert got == want
        assert stat_tuple(lz.get("/snap")[1]) == stat_tuple(zk.get("/snap")[1])
        assert lz.get("/snap/n007")[0] == b"changed"
        # the session the snapshot carried lives on: its ephemeral goes
        # when it closes, on the late member too
        zk.stop()
        zk.close()
        deadline = time.time() + 10
        while lz.exists("/snap/eph") and time.time() < deadline:
            time.sleep(0.1)
        assert lz.exists("/snap/eph") is None
        lz.stop()
        lz.close()
    finally:
        e.close()


def test_snapshot_larger_than_the_peer_queue_limit():
    # a member that lost its data dir gets the whole tree as a SNAP; the
    # stream (~3.5 MB here) is more than paddock.peerQueueLimit (1 MiB)
    # allows packets to queue on a link, and still goes through (it used
    # to be refused, so a member could not join a large tree)
    e = Ensemble(voters=3, extra=["paddock.peerQueueLimit=1"])
    try:
        e.start()
        late = [m for m in e.members if m.mode() != "leader"][0]
        late.wipe()
        zk = client(e.hosts([m for m in e.members if m is not late]))
        value = bytes(range(200))
        fill(zk, "/big", 12000, value)
        late.start()
        e.wait_serving(timeout=60)
        assert "installing it and restarting" in late.log_tail(200)
        lz = client(late.hosts)
        lz.sync("/")
        assert lz.get("/big")[1].numChildren == 12000
        for c in ("n000000", "n005555", "n011999"):
            data, st = lz.get("/big/" + c)
            assert data == value
            assert stat_tuple(st) == stat_tuple(zk.get("/big/" + c)[1])
        lz.create("/big/after", b"x")  # forwarded to the leader
        assert zk.get("/big/after")[0] == b"x"
        lz.stop()
        lz.close()
        zk.stop()
        zk.close()
    finally:
        e.close()


def _tree(zk, path, skip=None):
    """{path: (data, stat tuple)} of path and everything under it (but
    not under `skip`)."""
    out, todo = {}, [path]
    while todo:
        p = todo.pop()
        data, st = zk.get(p)
        out[p] = (data, stat_tuple(st))
        if p != skip:
            todo.extend(p.rstrip("/") + "/" + c for c in zk.get_children(p))
    return out


def _one_wiped(e, n):
    """Start e (initLimit=30: a learner has 15 s, not 5, to sync, for
    the sanitizer builds' slower walk and transfer), wipe a follower and
    leave it stopped, create /big with n children of 256 bytes at the
    leader: (leader, the wiped one, the other, a client of the leader)."""
    e.start()
    leader = e.leader()
    late, other = [m for m in e.members if m is not leader]
    late.wipe()
    zk = client(leader.hosts)
    fill(zk, "/big", n, bytes(range(256)))
    return leader, late, other, zk


@pytest.mark.timeout(240)
def test_writes_go_on_while_the_leader_serializes_a_snap():
    # As ZooKeeper 3.8's LearnerHandler (serializeSnapshot outside the
    # log lock), the leader walks its tree for a SNAP beside the write
    # path: a writer on the leader keeps being answered meanwhile, and
    # the learner, replaying the writes after the SNAP's zxid over the
    # fuzzy tree, ends identical to the leader (every node's data and
    # Stat, and the tree digest each later proposal checks).
    e = Ensemble(voters=3, extra=["initLimit=30"])
    try:
        leader, late, _, zk = _one_wiped(e, 120000)
        zk.create("/w")
        for k in range(20):
            zk.create("/w/k%d" % k, b"0")
        # /w/p/*: 10,000 children the writer deletes oldest first, while
        # the walk (which takes /w's children youngest first) has yet to
        # reach them: deletes the snapshot misses, whose parent's side
        # alone the learner replays
        fill(zk, "/w/p", 10000, b"p")
        # the writer: sets, creates and deletes (the replay rules' three
        # cases), each answered before the next; the longest wait kept
        stop, lat, n = threading.Event(), [0.0], [0]

        def writer():
            wz = client(leader.hosts)
            i = 0
            while not stop.is_set():
                t0 = time.monotonic()
                wz.set("/w/k%d" % (i % 20), b"%d" % i)
                if i < 10000:
                    wz.delete("/w/p/n%06d" % i)
                if i % 3 == 0:
                    wz.create("/w/c%d" % i, b"c")
                if i % 3 == 0 and i >= 30:
                    wz.delete("/w/c%d" % (i - 30))
                lat[0] = max(lat[0], time.monotonic() - t0)
                i += 1
            n[0] = i
            wz.stop()
            wz.close()

        th = threading.Thread(target=writer)
        th.start()
        time.sleep(0.5)
        late.start()
        deadline = time.monotonic() + 120
        line = None
        while time.monotonic() < deadline and line is None:
            for ln in leader.log_tail(400).splitlines():
                if "while serving" in ln and "server %d" % late.sid in ln:
                    line = ln
            time.sleep(0.1)
        assert line, leader.log_tail(50)
        e.wait_serving(timeout=60)
        time.sleep(0.5)
        stop.set()
        th.join(30)
        ms = int(line.split("serialized in ")[1].split(" ms")[0])
        # the walk took long enough to tell a pause from none, and the
        # writer never waited for it
        assert ms >= 100, line
        assert lat[0] * 1000 < ms / 2, (lat[0], line)
        assert n[0] > 30
        # a few writes after the sync: the learner checks the leader's
        # digest of the whole tree against its own at each
        for k in range(5):
            zk.set("/w/k%d" % k, b"after")
        lz = client(late.hosts)
        lz.sync("/")
        assert _tree(lz, "/w", skip="/w/p") == _tree(zk, "/w", skip="/w/p")
        assert lz.get("/w/p") == zk.get("/w/p")
        # (in ZooKeeper's HashSet order, which follows each member's own
        # table size: compared as sets)
        assert sorted(lz.get_children("/w/p")) == sorted(zk.get_children("/w/p"))
        # /big whole by the digest; its Stat and a few nodes here
        for p in ("/big", "/big/n000000", "/big/n060000", "/big/n119999"):
            assert lz.get(p) == zk.get(p)
        mntr = kv_lines(four_letter(late.hosts, "mntr"))
        assert mntr["zk_digest_mismatches_count"] == "0", late.log_tail(40)
        for c in (lz, zk):
            c.stop()
            c.close()
    finally:
        e.close()


@pytest.mark.timeout(180)
def test_learner_whose_leader_dies_mid_snapshot_takes_the_next_one():
    # The learner is stopped (SIGSTOP) once the leader has handed it the
    # stream, the leader is killed, and the learner resumed: it reads
    # what the sockets held (a part of a 27 MB stream) and then the end
    # of the link.  It must forget that half snapshot: the new leader's
    # SNAP starts a new stream (a learner once fed it into the old,
    # dead reader and never synced again).
    e = Ensemble(voters=3, extra=["initLimit=30"])
    try:
        leader, late, other, zk = _one_wiped(e, 100000)
        zk.stop()
        zk.close()
        late.start()
        deadline = time.monotonic() + 60
        while "while serving" not in leader.log_tail(50):
            assert time.monotonic() < deadline, leader.log_tail(20)
            time.sleep(0.005)
        os.killpg(late.proc.pid, signal.SIGSTOP)
        leader.kill9()
        os.killpg(late.proc.pid, signal.SIGCONT)
        e.wait_serving(members=[late, other], timeout=90)
        log = late.log_tail(400)
        assert "went during a snapshot: dropped it" in log, log
        assert "bad snapshot stream" not in log, log
        lz = client(late.hosts)
        lz.sync("/")
        assert lz.get("/big")[1].numChildren == 100000
        assert lz.get("/big/n099999")[0] == bytes(range(256))
        lz.stop()
        lz.close()
    finally:
        e.close()


@pytest.mark.timeout(240)  # a JVM
def test_zookeeper_follower_takes_a_fuzzy_snap_from_paddock():
    # An Apache ZooKeeper 3.8 follower (sid 1) that lost its data gets
    # the tree from a paddock leader by SNAP while a writer keeps going:
    # ZooKeeper loads the fuzzy snapshot, applies the proposals after
    # its zxid, and ends with the leader's data and Stats.
    e = Ensemble(voters=3, kinds={1: "zookeeper"},
                 extra=["initLimit=30"])
    try:
        e.start(timeout=60)
        leader = e.leader()
        if leader.kind != "paddock":
            pytest.skip("the ZooKeeper member was elected")
        zkm = e.members[0]
        zkm.wipe()
        zk = client(leader.hosts)
        fill(zk, "/big", 30000, bytes(range(256)))
        zk.create("/w")
        stop = threading.Event()

        def writer():
            wz = client(leader.hosts)
            i = 0
            while not stop.is_set():
                wz.create("/w/c%d" % i, b"c")
                if i >= 10:
                    wz.delete("/w/c%d" % (i - 10))
                wz.set("/w", b"%d" % i)
                # and nodes all over the tree, many at a time: the walk
                # meets some after their change
                sets = [wz.set_async("/big/n%06d" % ((i * 7919 + j * 997)
                                                      % 30000), b"%d" % i)
                        for j in range(20)]
                for r in sets:
                    r.get()
                i += 1
            wz.stop()
            wz.close()

        th = threading.Thread(target=writer)
        th.start()
        zkm.start()
        e.wait_serving(timeout=90)
        time.sleep(0.5)
        stop.set()
        th.join(30)
        assert "snapshot 0x" in leader.log_tail(400)
        zz = client(zkm.hosts)
        zz.sync("/")
        got, want = _tree(zz, "/w"), _tree(zk, "/w")
        # ZooKeeper 3.8.0's Learner.syncWithLeader reads
        # packetsNotCommitted.peekFirst().hdr for every COMMIT, also one
        # after NEWLEADER for a proposal it logged at NEWLEADER (the list
        # is empty then): a NullPointerException that drops the link,
        # fixed in 3.8.1 (ZOOKEEPER-4394).  ZooKeeper's own leader sends
        # that whenever a proposal is outstanding as a learner syncs; a
        # paddock leader sends those proposals after NEWLEADER instead
        # (zab.c, sync_learner), so under this writer the follower must
        # never meet it.
        assert ZK4394 not in zkm.log_tail(10 ** 6)
        assert got == want
        for p in ("/big", "/big/n000000", "/big/n029999"):
            assert zz.get(p) == zk.get(p)
        # and it checked its tree digest against every proposal after
        # NEWLEADER without a mismatch: the ones committed while the
        # leader walked its tree come before NEWLEADER (zab.c,
        # sync_from), as from a ZooKeeper leader; a ZooKeeper learner
        # checks them after NEWLEADER against a tree the fuzzy snapshot
        # made ahead of them
        assert not zkm.log_lines(("Digests are not matching",))
        mn = kv_lines(four_letter(zkm.hosts, "mntr"))
        assert mn.get("zk_digest_mismatches_count") == "0", mn
        for c in (zz, zk):
            c.stop()
            c.close()
    finally:
        e.close()


def _start_mixed(e, zk_leads):
    """Start e (one ZooKeeper member); with zk_leads, see that the
    ZooKeeper member (sid 3) leads.  Returns the leader."""
    e.start(timeout=60)
    leader = e.leader()
    if zk_leads and leader.kind != "zookeeper":
        # the two paddockd elected one of them before the JVM was up:
        # without it, the ZooKeeper server (highest sid, same zxid) wins,
        # and the paddockd rejoins as its follower
        leader.kill9()
        e.wait_serving(members=[m for m in e.members if m.alive()],
                       timeout=60)
        leader.start()
        e.wait_serving(timeout=60)
        leader = e.leader()
    assert (leader.kind == "zookeeper") == zk_leads
    return leader


@pytest.mark.timeout(180)  # JVM or several restarts, on 2 cores
@pytest.mark.parametrize("zk_leads", [False, True], ids=["paddock-leads",
                                                          "zookeeper-leads"])
def test_mixed_ensemble_with_apache_zookeeper(zk_leads):
    # one ZooKeeper 3.8 server and two paddockd in one ensemble, speaking
    # ZooKeeper's own election and quorum protocols: the highest sid wins
    # a fresh election, so the ZooKeeper server is sid 3 to lead, sid 1 to
    # follow
    zsid = 3 if zk_leads else 1
    e = Ensemble(voters=3, kinds={zsid: "zookeeper"})
    try:
        _start_mixed(e, zk_leads)
        zks = [client(m.hosts) for m in e.members]
        for i, zk in enumerate(zks):
            zk.create("/mixed%d" % i, b"via %d" % e[i].sid)
            zk.create("/mixed%d/e" % i, b"", ephemeral=True)
        tx = zks[0].transaction()
        tx.create("/mixed-multi", b"m")
        tx.set_data("/mixed1", b"set")
        assert not any(isinstance(r, Exception) for r in tx.commit())
        views = []
        for zk in zks:
            zk.sync("/")
            views.append({p: (zk.get(p)[0], stat_tuple(zk.get(p)[1]))
                          for p in ["/mixed0", "/mixed1", "/mixed2",
                                    "/mixed-multi", "/mixed0/e"]})
        assert views[0] == views[1] == views[2]
        # /zookeeper/config shows the membership alike (its mtime is each
        # server's start)
        configs = []
        for zk in zks:
            data, st = zk.get("/zookeeper/config")
            configs.append((data, st.version, st.mzxid, st.czxid,
                            st.aversion, st.dataLength))
        assert configs[0] == configs[1] == configs[2]
        assert configs[0][0].startswith(b"server.1=127.0.0.1:")
        # a session made at each member moves to every other one and back,
        # writing at each: a learner revalidates a moved session with its
        # leader (REVALIDATE), which a ZooKeeper leader needs to move the
        # session's owner (else SESSIONMOVED) and a ZooKeeper follower
        # waits for (else it refuses the session after a timeout)
        for a in e.members:
            c = jute.RawClient(a.hosts)
            c.connect(timeout_ms=10000)
            c.create("/moved-eph%d" % a.sid, b"", mode=jute.Mode.EPHEMERAL)
            sid, pw, seen = c.session_id, c.passwd, c.last_zxid
            c.close_socket()
            for b in [m for m in e.members if m is not a] + [a]:
                d = connect_session(b.hosts, sid, pw, seen)
                d.create("/moved-%d-to-%d" % (a.sid, b.sid), b"")
                assert d.exists("/moved-eph%d" % a.sid).ephemeralOwner == sid
                seen = d.last_zxid
                d.close_socket()
        # every kind of change, for the tree digest (TxnDigest) below
        w = zks[1]
        w.create("/dg", b"d")
        w.create("/dg/seq-", b"s", sequence=True)
        w.create("/dg/eseq-", b"", sequence=True, ephemeral=True)
        w.set("/dg", b"d2")
        w.set("/mixed2", b"x" * 600)
        w.set_acls("/dg", OPEN_ACL_UNSAFE)
        w.delete("/mixed-multi")
        with pytest.raises(NodeExistsError):
            w.create("/dg")                 # an error txn: no digest
        tx = zks[2].transaction()
        tx.create("/dg/m", b"")
        tx.create("/dg/m", b"")
        assert isinstance(tx.commit()[1], NodeExistsError)  # failed multi
        c = jute.RawClient(e[2].hosts)
        c.connect(timeout_ms=10000)
        c.create("/dg/c", b"", mode=jute.Mode.CONTAINER)
        c.create("/dg/c/x", b"")
        c.delete("/dg/c/x")
        c.close_session()
        c.close_socket()
        # a session that creates ephemerals and closes without waiting:
        # its closeSession is prepared while the creates are outstanding,
        # so prep must find them there (ZooKeeper's outstandingChanges)
        pc = jute.RawClient(e[1].hosts)
        pc.connect(timeout_ms=10000)
        xids = []
        for i in range(20):
            xids.append(pc.next_xid())
            pc.send_frame(jute.p_int(xids[-1]) + jute.p_int(jute.Op.CREATE2) +
                          jute.p_string("/dg/piped-%d" % i) +
                          jute.p_buffer(b"") +
                          jute.p_vector(jute.OPEN_ACL, jute.p_acl) +
                          jute.p_int(jute.Mode.EPHEMERAL))
        cx = pc.next_xid()
        pc.send_frame(jute.p_int(cx) + jute.p_int(jute.Op.CLOSE_SESSION))
        for x in xids + [cx]:
            assert pc.read_reply(x).err == 0
        pc.close_socket()
        zks[0].stop()                  # closeSession with ephemerals
        zks[0].close()
        for zk in zks[1:]:
            deadline = time.time() + 10
            while zk.exists("/mixed0/e") and time.time() < deadline:
                time.sleep(0.1)
            assert zk.exists("/mixed0/e") is None
        for zk in zks[1:]:
            zk.sync("/")
            assert not [c for c in zk.get_children("/dg")
                        if c.startswith("piped-")]
        # the tree digest: a ZooKeeper follower compares its tree's with
        # each paddock proposal's, a paddock follower with each of the
        # ZooKeeper leader's (and a paddock leader with its own
        # prediction); no member counts a mismatch
        for m in e.members:
            mn = kv_lines(four_letter(m.hosts, "mntr"))
            assert mn.get("zk_digest_mismatches_count") == "0", \
                (m.sid, m.kind, mn.get("zk_digest_mismatches_count"))
        # a ZooKeeper leader had each proposal's ACK from each paddockd
        assert not e[zsid - 1].log_lines(ZK_ACK_COMPLAINTS)
        if not zk_leads:
            # and what the ZooKeeper follower logged from the paddock
            # leader carries a TxnDigest on every txn but error txns
            vdir = os.path.join(e[0].data, "version-2")
            logs = sorted(n for n in os.listdir(vdir)
                          if n.startswith("log."))
            assert logs
            seen = {"digest": 0, "error": 0}
            for n in logs:
                out = subprocess.run([ZKFMT, os.path.join(vdir, n)],
                                     capture_output=True, text=True,
                                     timeout=60).stdout
                for ln in out.splitlines():
                    if not ln.startswith("0x"):
                        continue
                    f = ln.split()
                    has = any(x.startswith("digest=2:") for x in f)
                    assert has == (f[1] != "error"), ln
                    seen["digest" if has else "error"] += 1
            assert seen["digest"] >= 30 and seen["error"] >= 1, seen
        for zk in zks[1:]:
            zk.stop()
            zk.close()
    finally:
        e.close()


@pytest.mark.timeout(180)  # JVM and restarts, on 2 cores
def test_paddock_follower_takes_failed_multis_in_a_zookeeper_diff():
    # A ZooKeeper leader syncs a learner by DIFF from its committed log,
    # which holds a failed multi as DataTree.processTxn left it: every
    # sub-txn type error, the bodies those of the original ops.  A
    # paddockd follower once refused such a txn ("marshalling error"),
    # wrote it to its log anyway and then could not even restart.
    e = Ensemble(voters=3, kinds={3: "zookeeper"})
    try:
        leader = _start_mixed(e, True)
        late = e[0]
        zk = client(leader.hosts)
        zk.create("/fm", b"0")
        zk.create("/fm/full", b"")
        zk.create("/fm/full/c", b"")
        late.kill9()
        for i in range(3):
            tx = zk.transaction()
            tx.set_data("/fm", b"%d" % i)
            tx.create("/fm/new%d" % i, b"n")
            tx.delete("/fm/full")                  # not empty: fails
            res = tx.commit()
            assert isinstance(res[2], NotEmptyError), res
            zk.set("/fm", b"ok %d" % i)
        late.start()
        e.wait_serving(timeout=60)
        assert late.mode() == "follower"
        lz = client(late.hosts)
        lz.sync("/")
        assert "does not replay" not in late.log_tail(200)
        assert _tree(lz, "/fm") == _tree(zk, "/fm")
        assert lz.get("/fm")[0] == b"ok 2"
        # and what it logged replays at a restart
        late.kill9()
        late.start()
        e.wait_serving(timeout=60)
        lz.stop()
        lz.close()
        lz = client(late.hosts)
        lz.sync("/")
        assert _tree(lz, "/fm") == _tree(zk, "/fm")
        for c in (lz, zk):
            c.stop()
            c.close()
    finally:
        e.close()


def _epoch_file(m, name):
    with open(os.path.join(m.data, name)) as f:
        return int(f.read())


def test_member_whose_sync_was_cut_short_drops_what_is_past_its_epoch():
    # A learner logs a DIFF as it comes and writes currentEpoch once all
    # of it is durable, before NEWLEADER's ACK.  A sync cut short there
    # (kill -9, or a TRUNC from the next leader keeping part of it: the
    # churn test met that) leaves transactions past currentEpoch on
    # disk.  ZooKeeper refuses to start on such a disk; paddockd did too
    # ("currentEpoch 1 is older than the last zxid"), on every restart.
    # None of them was ACKed (nothing is before NEWLEADER's ACK): now it
    # drops them and syncs again.  The disk is made here by setting a
    # member's currentEpoch back one epoch under its log.
    e = Ensemble(voters=3)
    try:
        e.start()
        first = e.leader()
        zk = client(e.hosts())
        zk.create("/cut")
        for i in range(20):
            zk.create("/cut/a%d" % i)
        first.kill9()
        leader = e.wait_serving(timeout=30)
        for i in range(20):
            zk.create("/cut/b%d" % i)
        first.start()   # so that the quorum outlives the next kill
        assert e.wait_serving(timeout=30) is leader
        f = next(m for m in e.members if m is not leader and m is not first)
        epoch = _epoch_file(f, "currentEpoch")
        assert epoch >= 2 and f.zxid() >> 32 == epoch
        f.kill9()
        with open(os.path.join(f.data, "currentEpoch"), "w") as fh:
            fh.write("%d\n" % (epoch - 1))
        f.start()
        assert e.wait_serving(timeout=30) is leader
        log = f.log_tail(40)
        assert "past currentEpoch %d" % (epoch - 1) in log, log
        assert "older than the last zxid" not in log, log
        assert _epoch_file(f, "currentEpoch") == epoch
        fz = client(f.hosts)
        fz.sync("/")
        assert sorted(fz.get_children("/cut")) == sorted(
            zk.get_children("/cut"))
        assert len(fz.get_children("/cut")) == 40
        for c in (fz, zk):
            c.stop()
            c.close()
    finally:
        e.close()


def test_configs_ensemble_3_runs_as_documented(tmp_path):
    # configs/ensemble-3.cfg as its comment says: one copy per server with
    # its own dataDir, and dataDir/myid
    from ensemble import PADDOCKD
    from srvutil import four_letter
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                       "configs", "ensemble-3.cfg")
    text = open(src).read()
    procs = []
    try:
        for i in (1, 2, 3):
            d = tmp_path / str(i)
            d.mkdir()
            (d / "myid").write_text("%d\n" % i)
            cfg = tmp_path / ("zoo%d.cfg" % i)
            cfg.write_text(text.replace("dataDir=/tmp/paddock/1",
                                        "dataDir=%s" % d))
            procs.append(subprocess.Popen([PADDOCKD, str(cfg)],
                                          stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
        deadline = time.time() + 30
        modes = []
        while time.time() < deadline:
            modes = []
            for port in (2181, 2182, 2183):
                try:
                    out = four_letter("127.0.0.1:%d" % port, "srvr", 1.0)
                except OSError:
                    out = ""
                modes += [l[6:] for l in out.splitlines()
                          if l.startswith("Mode: ")]
            if sorted(modes) == ["follower", "follower", "leader"]:
                break
            time.sleep(0.1)
        assert sorted(modes) == ["follower", "follower", "leader"]
        create_once("127.0.0.1:2181,127.0.0.1:2182,127.0.0.1:2183",
                    "/documented", b"yes")
        other = client("127.0.0.1:2183")
        other.sync("/")
        assert other.get("/documented")[0] == b"yes"
        other.stop()
        other.close()
    finally:
        for p in procs:
            p.kill()
            p.wait(10)


@pytest.mark.timeout(180)  # JVM or several restarts, on 2 cores
def test_read_only_mode_when_cut_off():
    # readonlymode.enabled: a member without a quorum for max(2000,
    # tickTime) ms serves clients that accept a read-only server
    e = Ensemble(voters=3, extra=["readonlymode.enabled=true"])
    try:
        e.start()
        create_once(e.hosts(), "/ro", b"before")
        survivor = e[0]
        for m in e.members[1:]:
            m.kill9()
        deadline = time.time() + 15
        while survivor.mode() != "read-only" and time.time() < deadline:
            time.sleep(0.05)
        assert survivor.mode() == "read-only"
        # a client that does not accept read-only is refused (closed)
        raw = jute.RawClient(survivor.hosts)
        with pytest.raises(jute.Closed):
            raw.connect(read_only=False)
        # one that does gets a read-only session: reads work, writes
        # and sync answer NOTREADONLY
        ro = jute.RawClient(survivor.hosts)
        r = ro.connect(read_only=True)
        assert r.session_id != 0 and r.read_only is True
        assert ro.exists("/ro") is not None
        for fn in (lambda: ro.create("/ro/x", b""),
                   lambda: ro.delete("/ro")):
            with pytest.raises(jute.ZKError) as ex:
                fn()
            assert ex.value.code == -119
        ro.close_socket()
        # the others come back: the read-only clients are closed and the
        # member serves read-write again
        for m in e.members[1:]:
            m.start()
        e.wait_serving(timeout=30)
        assert survivor.mode() in ("leader", "follower")
        create_once(survivor.hosts, "/ro/after")
    finally:
        e.close()


def test_c_client_against_a_follower(ens3, zkc_binary):
    # the libzookeeper-mt C client's sync, async, multi and watch script
    # through a follower (its writes forwarded to the leader), then the
    # results read at every member
    follower = [m for m in ens3.members if m.mode() == "follower"][0]
    r = subprocess.run([zkc_binary, follower.hosts, "/cc"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr[-2000:]
    assert "failures=0" in r.stdout.splitlines()
    for m in ens3.members:
        zk = client(m.hosts)
        zk.sync("/")
        assert zk.exists("/cc/seq-0000000001") is not None
        assert zk.exists("/cc/eph") is None
        zk.stop()
        zk.close()


def test_pipelined_writes_at_a_follower_all_answered(ens3):
    """The overload rule across the forwarding hop: a session on a
    follower pipelines N writes (200,000; N/2 creates, then N/2 deletes of
    the same nodes) without reading, then reads every reply: all OK, in
    xid order, zxids increasing, while other sessions on that follower
    are served meanwhile (test_overload's probe); then every member has
    applied the same last zxid."""
    follower = [m for m in ens3.members if m.mode() == "follower"][0]
    got = overload.writes_scenario(follower.hosts, "/rude", "follower")
    assert got["replies"] == overload.N
    assert got["errors"] == [(0, overload.N)]
    assert got["zxids strictly increasing"]
    assert got["create replies name the node"] == overload.N // 2
    assert got["delete replies empty"] == overload.N // 2
    zk = client(follower.hosts)
    zk.sync("/")
    zk.stop()
    zk.close()
    deadline = time.time() + 10
    while len({m.zxid() for m in ens3.members}) != 1:
        assert time.time() < deadline, [m.zxid() for m in ens3.members]
        time.sleep(0.1)


def test_new_leader_applies_its_first_writes_once(ens3):
    # a sync queued at a new leader before its epoch's first write must
    # not make that write apply twice there (the versions would differ
    # from the followers')
    # the session outlives the election (a new one would take the new
    # epoch's first zxid itself)
    zk = client(ens3.hosts())
    zk.create("/once", b"0")
    ens3.leader().kill9()
    live = [m for m in ens3.members if m.alive()]
    ens3.wait_serving(members=live)
    zk.retry(zk.sync, "/")  # the session may still be reconnecting
    for i in range(3):
        zk.set("/once", b"%d" % (i + 1))
    zk.create("/once/child", b"")
    want = stat_tuple(zk.get("/once")[1])
    zk.stop()
    zk.close()
    for m in live:
        c = client(m.hosts)
        c.sync("/")
        assert stat_tuple(c.get("/once")[1]) == want, "server %d" % m.sid
        c.stop()
        c.close()


def test_member_behind_replays_multis_it_missed(ens3):
    # A member that was down while multis created nodes with children
    # under them, and set what they had just created, syncs by DIFF: it
    # replays those transactions (txn.c's rules, as recovery does) and
    # must end with every node and Stat the others have.  (Those rules
    # once skipped a multi's later steps on a node an earlier one had
    # created or set, so the member lacked the children.)
    late = [m for m in ens3.members if m.mode() != "leader"][0]
    zk = client(ens3.hosts([m for m in ens3.members if m is not late]))
    zk.create("/mx", b"")
    lz = client(late.hosts)
    lz.sync("/")
    assert lz.exists("/mx")  # the late member has it: DIFF, not SNAP
    lz.stop()
    lz.close()
    late.kill9()
    for i in range(5):
        t = zk.transaction()
        t.create("/mx/p%d" % i, b"p")
        t.create("/mx/p%d/c" % i, b"c")
        t.create("/mx/p%d/c/g" % i, b"g")
        t.set_data("/mx/p%d/c" % i, b"c set")
        t.set_data("/mx/p%d/c" % i, b"c set again")
        t.delete("/mx/p%d/c/g" % i)
        t.commit()
    late.start()
    ens3.wait_serving(timeout=30)
    lz = client(late.hosts)
    lz.sync("/")
    assert "installing it" not in late.log_tail(60)
    assert _tree(lz, "/mx") == _tree(zk, "/mx")
    assert lz.get("/mx/p3/c")[0] == b"c set again"
    for c in (lz, zk):
        c.stop()
        c.close()
