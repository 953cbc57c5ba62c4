"""The digest log: the four-letter word `hash` and the AdminServer's
`/commands/hash`, as ZooKeeper 3.8's DataTree.logZxidDigest keeps it.

After each transaction whose zxid is a multiple of 128, a member keeps
(zxid, tree digest), the last 1024 of them.  `hash` prints a line per
entry, Long.toHexString(zxid) + ": " + the digest as a signed decimal
long, each ended by println ("\\n"); `/commands/hash` answers {"digests":
[{"zxid", "digest", "digest_version": 2}, ...]} (Jackson's snake case of
ZxidDigest's getters), oldest first.

Checked here:
- a 3-member paddockd ensemble: every member lists the same entries,
  one per multiple of 128 of the zxids the test's own writes took, each
  digest equal to the tree digest the test computes in Python from the
  tree it reads at that zxid (DigestCalculator's rules, test_digest.py);
  the AdminServer's JSON holds the same entries;
- mixed ensembles with an Apache ZooKeeper 3.8 member (following, then
  leading): the ZooKeeper member's `hash` is byte for byte the paddockd
  members', and its `/commands/hash` has the same keys and values;
- standalone, paddockd keeps no tree digest and lists nothing (ZooKeeper
  keeps the digest there too and lists its entries: see README.md).
"""

import re
import socket
import time

import pytest
from kazoo.client import KazooClient
from kazoo.retry import KazooRetry

import test_digest
from srvutil import four_letter, free_port
from test_admin import ADMIN, command
from test_admin_ensemble import AdminEnsemble, wait_admin
from conftest import Server
from ensemble import ZK_ACK_COMPLAINTS

INTERVAL = 128   # DataTree.DIGEST_LOG_INTERVAL
LINE = re.compile(r"([0-9a-f]+): (-?[0-9]+)\n")


def tree_digest(c):
    """The tree digest of everything c reads now: the sum of
    DigestCalculator's node digests modulo 2^64, as a signed long."""
    total = 0
    todo = ["/"]
    while todo:
        path = todo.pop()
        data, st = c.get(path)
        stored_cversion = (st.cversion + st.numChildren) // 2
        total += test_digest.node_digest(path, data, {
            "czxid": st.czxid, "mzxid": st.mzxid, "pzxid": st.pzxid,
            "ctime": st.ctime, "mtime": st.mtime, "version": st.version,
            "cversion": stored_cversion, "aversion": st.aversion,
            "owner": st.ephemeralOwner})
        for name in c.get_children(path):
            todo.append(("" if path == "/" else path) + "/" + name)
    total &= (1 << 64) - 1
    return total - (1 << 64) if total >= 1 << 63 else total


def parse_hash(text):
    """[(zxid, digest)] from a `hash` answer; every byte accounted for."""
    entries = [(int(z, 16), int(d)) for z, d in LINE.findall(text)]
    assert "".join("%x: %d\n" % e for e in entries) == text, repr(text)
    return entries


def write_past(c, n, top="/h"):
    """At least n writes from c (creates and setDatas under top), ending
    on a zxid that is a multiple of 128.  Returns {zxid: tree digest} for
    every multiple of 128 the writes took, the digest read from the tree
    right after that write (nothing else writes meanwhile)."""
    c.ensure_path(top)
    want = {}
    i = 0
    while True:
        if i % 3 == 2:
            st = c.set("%s/n%d" % (top, i - 1), b"set %d" % i)
            zxid = st.mzxid
        else:
            _, st = c.create("%s/n%d" % (top, i), b"v%d" % i * (i % 7),
                             include_data=True)
            zxid = st.czxid
        i += 1
        if zxid % INTERVAL == 0:
            want[zxid] = tree_digest(c)
            if i >= n:
                return want


def client(hosts):
    c = KazooClient(hosts=hosts, timeout=10.0,
                    connection_retry=KazooRetry(max_tries=-1, delay=0.1))
    c.start(timeout=30)
    return c


def wait_hash(m, last, timeout=30):
    """m's `hash` once it lists zxid `last`."""
    deadline = time.monotonic() + timeout
    while True:
        text = four_letter(m.hosts, "hash")
        entries = parse_hash(text)
        if entries and entries[-1][0] >= last:
            return text, entries
        assert time.monotonic() < deadline, \
            "s%d (%s): hash never reached 0x%x: %r\n%s" % (
                m.sid, m.kind, last, text[-300:], m.log_tail())
        time.sleep(0.1)


def check_admin(m, entries):
    r = command(m.admin_port, "hash")
    assert r["command"] == "hash" and r["error"] is None, r
    assert set(r) == {"digests", "command", "error"}, r
    for d in r["digests"]:
        assert list(d) == ["zxid", "digest", "digest_version"] or \
            set(d) == {"zxid", "digest", "digest_version"}, d
        assert d["digest_version"] == 2, d
    assert [(d["zxid"], d["digest"]) for d in r["digests"]] == entries
    return r


def wait_listening(port, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, port
            time.sleep(0.1)


def run_ensemble(kinds, leader_sid=None):
    """A 3-voter ensemble with its AdminServers on; the test's writes and
    their checks.  `leader_sid`: the member that must lead (started
    first, and the highest sid: it wins the first election)."""
    e = AdminEnsemble(voters=3, kinds=kinds)
    try:
        if leader_sid:
            # the JVM's election port before the paddockd start, or the
            # two paddockd elect one of them without it
            e.members[leader_sid - 1].start()
            wait_listening(e.members[leader_sid - 1].election_port)
        for m in e.members:
            if not m.alive():
                m.start()
        leader = e.wait_serving(timeout=60)
        if leader_sid and leader.sid != leader_sid:
            # elected before the JVM answered: without that leader, the
            # highest sid (same zxid) wins, and it rejoins as a follower
            leader.kill9()
            e.wait_serving(members=[m for m in e.members if m.alive()],
                           timeout=60)
            leader.start()
            leader = e.wait_serving(timeout=60)
        for m in e.members:
            wait_admin(m)
        # the writes through a follower: its session sees its own writes
        # (and the tree as of each) before they are answered
        via = min((m for m in e.members if m is not leader),
                  key=lambda m: m.sid)
        c = client(via.hosts)
        try:
            want = write_past(c, 300)
        finally:
            c.stop()
            c.close()
        last = max(want)
        texts = {}
        for m in e.members:
            text, entries = wait_hash(m, last)
            # no other client wrote: the log holds the test's multiples
            # of 128 and, after the session's close, nothing newer
            # unless the close's zxid is one (it is not: last + 1)
            assert [z for z, _ in entries] == sorted(want), \
                (m.sid, m.kind, entries)
            assert dict(entries) == want, (m.sid, m.kind, entries, want)
            check_admin(m, entries)
            texts[m.sid] = text
        assert len(set(texts.values())) == 1, texts
        return e, texts, want, leader
    except BaseException:
        e.close()
        raise


def test_hash_on_every_member_lists_the_digest_at_each_128th_zxid():
    e, texts, want, _ = run_ensemble({})
    try:
        assert len(want) >= 2, want          # >= 300 writes
        text = texts[1]
        assert text.endswith("\n") and "0x" not in text, text
        # one epoch: 0x100000080, 0x100000100, ...
        assert len({z >> 32 for z in want}) == 1, want
    finally:
        e.close()


@pytest.mark.compare
@pytest.mark.timeout(180)  # a JVM, maybe a restart, on 2 cores
@pytest.mark.parametrize("zk_leads", [False, True],
                         ids=["zookeeper_follows", "zookeeper_leads"])
def test_hash_is_zookeepers_in_a_mixed_ensemble(zk_leads):
    # the member with the highest sid wins the first election (all
    # zxids equal)
    zsid = 3 if zk_leads else 1
    e, texts, want, leader = run_ensemble({zsid: "zookeeper"},
                                          zsid if zk_leads else None)
    try:
        assert (leader.sid == zsid) == zk_leads, (leader.sid, zsid)
        zk = e.members[zsid - 1]
        assert zk.kind == "zookeeper"
        # byte for byte the same answer on ZooKeeper and on paddockd
        assert all(t == texts[zsid] for t in texts.values()), texts
        # and the same JSON document (keys, types, values)
        docs = {m.sid: command(m.admin_port, "hash") for m in e.members}
        assert all(d == docs[zsid] for d in docs.values()), docs
        # every proposal ACKed by every paddockd follower
        assert not zk.log_lines(ZK_ACK_COMPLAINTS), zk.log_tail(20)
    finally:
        e.close()


def test_standalone_paddock_keeps_no_digest_log():
    port = free_port()
    srv = Server("paddock", dict(ADMIN, **{"admin.serverPort": port}),
                 name="hash").start()
    try:
        c = client(srv.hosts)
        try:
            for i in range(300):
                c.create("/s%d" % i, b"x")
        finally:
            c.stop()
            c.close()
        assert four_letter(srv.hosts, "hash") == ""
        r = command(port, "hash")
        assert r == {"digests": [], "command": "hash", "error": None}, r
    finally:
        srv.cleanup()


def test_restarted_member_lists_the_diff_it_syncs_but_not_its_replay():
    # paddockd starts its log after recovery (its snapshots do not say
    # where their fuzzy walk ended, so a replay's digests may be of trees
    # no server had): a member killed and restarted lists none of the
    # transactions it replays from its own log, then, like ZooKeeper,
    # the ones its leader sends it (DIFF) and every later one
    e, texts, want, leader = run_ensemble({})
    try:
        down = max((m for m in e.members if m is not leader),
                   key=lambda m: m.sid)
        down.kill9()
        up = [m for m in e.members if m is not down]
        c = client(",".join(m.hosts for m in up))
        try:
            while_down = write_past(c, 130, "/down")
        finally:
            c.stop()
            c.close()
        down.start()
        e.wait_serving(timeout=60)
        c = client(down.hosts)
        try:
            after = write_past(c, 130, "/after")
        finally:
            c.stop()
            c.close()
        last = max(after)
        logs = {m.sid: dict(wait_hash(m, last)[1]) for m in e.members}
        for m in up:
            assert logs[m.sid] == {**want, **while_down, **after}, m.sid
        assert logs[down.sid] == {**while_down, **after}, logs[down.sid]
    finally:
        e.close()
