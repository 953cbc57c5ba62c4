"""Node kinds: ephemeral, container, TTL; getEphemerals, getAllChildrenNumber."""

import time

import pytest
from kazoo.exceptions import NoChildrenForEphemeralsError

import jute
from jute import Err, Mode, Op
from conftest import new_client
from util import wait_for


def test_ephemeral_vanishes_on_session_close(zk, make_zk, root):
    zk.create(root)
    other = make_zk()
    other.create(root + "/e", b"", ephemeral=True)
    assert zk.exists(root + "/e").ephemeralOwner == other.client_id[0]
    other.stop()
    assert zk.exists(root + "/e") is None


def test_ephemeral_vanishes_on_session_expiry(zk, raw, root):
    zk.create(root)
    c = raw(timeout_ms=1000)           # minSessionTimeout is 1000
    assert c.negotiated_timeout == 1000
    c.create(root + "/e", b"", mode=Mode.EPHEMERAL)
    assert zk.exists(root + "/e") is not None
    # stop pinging: the server must expire the session (ZooKeeper checks
    # expiry once per tickTime, so allow timeout + tickTime + slack)
    t0 = time.monotonic()
    wait_for(lambda: zk.exists(root + "/e") is None, timeout=10,
             what="ephemeral removal after expiry")
    assert time.monotonic() - t0 >= 0.5
    # the expired session's connection is closed by the server
    assert c.is_closed_by_server(timeout=5)


def test_ephemeral_cannot_have_children(zk, root):
    zk.create(root)
    zk.create(root + "/e", ephemeral=True)
    with pytest.raises(NoChildrenForEphemeralsError):
        zk.create(root + "/e/child")
    with pytest.raises(NoChildrenForEphemeralsError):
        zk.create(root + "/e/child", ephemeral=True)


def test_ephemeral_survives_reconnect_with_session_id(zk, raw, root):
    zk.create(root)
    a = raw(timeout_ms=10000)
    a.create(root + "/e", b"", mode=Mode.EPHEMERAL)
    sid, pw = a.session_id, a.passwd
    a.close_socket()                     # drop TCP, no closeSession
    b = raw(connect=False)
    resp = b.connect(timeout_ms=10000, session_id=sid, passwd=pw)
    assert resp.session_id == sid and resp.timeout == 10000
    assert zk.exists(root + "/e").ephemeralOwner == sid
    b.close_session()
    assert zk.exists(root + "/e") is None


def test_get_ephemerals_lists_own_session_only(raw, root):
    a, b = raw(), raw()
    a.create(root)
    a.create(root + "/e1", mode=Mode.EPHEMERAL)
    a.create(root + "/q-", mode=Mode.EPHEMERAL_SEQUENTIAL)
    b.create(root + "/e2", mode=Mode.EPHEMERAL)
    assert sorted(a.get_ephemerals(root)) == [root + "/e1",
                                               root + "/q-0000000001"]
    assert sorted(a.get_ephemerals("/")) == sorted(a.get_ephemerals(root))
    assert b.get_ephemerals(root) == [root + "/e2"]
    assert b.get_ephemerals(root + "/nothing") == []


def test_get_ephemerals_prefix_is_a_string_prefix(raw, root):
    # Surprise: the prefix is matched as a plain string, not a path:
    # prefix "/r/e" also returns "/r/e-longer".
    a = raw()
    a.create(root)
    a.create(root + "/e", mode=Mode.EPHEMERAL)
    a.create(root + "/e-longer", mode=Mode.EPHEMERAL)
    assert sorted(a.get_ephemerals(root + "/e")) == [root + "/e",
                                                     root + "/e-longer"]


def test_get_all_children_number_counts_descendants(raw, root):
    c = raw()
    c.create(root)
    assert c.get_all_children_number(root) == 0
    c.create(root + "/a")
    c.create(root + "/a/b")
    c.create(root + "/a/b/c")
    c.create(root + "/d", mode=Mode.EPHEMERAL)
    assert c.get_all_children_number(root) == 4
    assert c.get_all_children_number(root + "/a") == 2
    with pytest.raises(jute.ZKError) as ei:
        c.get_all_children_number(root + "/none")
    assert ei.value.code == Err.NO_NODE


def test_container_created_with_create_container_opcode(raw, root):
    c = raw()
    c.create(root)
    path, stat = c.create(root + "/c", b"d", mode=Mode.CONTAINER)
    assert path == root + "/c"
    # containers show ephemeralOwner 0 to clients (ZK stores a marker
    # internally)
    assert stat.ephemeralOwner == 0 and stat.dataLength == 1


@pytest.mark.slow
def test_container_deleted_after_last_child_removed(zk, raw, root):
    c = raw()
    c.create(root)
    c.create(root + "/c", b"", mode=Mode.CONTAINER)
    c.create(root + "/never", b"", mode=Mode.CONTAINER)
    c.create(root + "/c/child")
    c.create(root + "/c/child2")
    c.delete(root + "/c/child")
    time.sleep(2.5)    # several check intervals
    assert zk.exists(root + "/c") is not None, "container with a child died"
    c.delete(root + "/c/child2")
    wait_for(lambda: zk.exists(root + "/c") is None, timeout=10,
             what="container removal")
    # A container that never had a child (cversion 0) is NOT deleted.
    assert zk.exists(root + "/never") is not None


def test_ttl_node_requires_ttl_mode_and_positive_ttl(raw, root):
    c = raw()
    c.create(root)
    for mode, ttl, op in ((Mode.PERSISTENT, 1000, Op.CREATE_TTL),
                          (Mode.PERSISTENT_WITH_TTL, 0, Op.CREATE_TTL),
                          (Mode.PERSISTENT_WITH_TTL, -5, Op.CREATE_TTL),
                          (Mode.EPHEMERAL, 1000, Op.CREATE_TTL)):
        with pytest.raises(jute.ZKError) as ei:
            c.create(root + "/t", b"", mode=mode, ttl=ttl, op=op)
        assert ei.value.code == Err.BAD_ARGUMENTS, (mode, ttl)
    # TTL modes through plain create2 (no ttl field) are rejected too
    with pytest.raises(jute.ZKError) as ei:
        c.create(root + "/t", b"", mode=Mode.PERSISTENT_WITH_TTL,
                 op=Op.CREATE2)
    assert ei.value.code == Err.BAD_ARGUMENTS
    # an unknown CreateMode flag value
    with pytest.raises(jute.ZKError) as ei:
        c.create(root + "/t", b"", mode=7, op=Op.CREATE2)
    assert ei.value.code == Err.BAD_ARGUMENTS


def test_ttl_sequential_node_gets_suffix(raw, root):
    c = raw()
    c.create(root)
    p, st = c.create(root + "/t-", b"x",
                     mode=Mode.PERSISTENT_SEQUENTIAL_WITH_TTL, ttl=60000)
    assert p == root + "/t-0000000000"
    assert st.ephemeralOwner == 0    # TTL is not visible in the Stat


@pytest.mark.slow
def test_ttl_node_expires(zk, raw, root):
    c = raw()
    c.create(root)
    c.create(root + "/t", b"", mode=Mode.PERSISTENT_WITH_TTL, ttl=500)
    c.create(root + "/keep", b"", mode=Mode.PERSISTENT_WITH_TTL, ttl=500)
    c.create(root + "/keep/child")           # a TTL node with children stays
    c.create(root + "/long", b"", mode=Mode.PERSISTENT_WITH_TTL, ttl=600000)
    wait_for(lambda: zk.exists(root + "/t") is None, timeout=10,
             what="TTL node removal")
    assert zk.exists(root + "/keep") is not None
    assert zk.exists(root + "/long") is not None


def _children_orders(srv):
    """getChildren after creations, a re-creation, growth past the set's
    table and deletions, of /zookeeper and /, and after a restart (which
    rebuilds ZooKeeper's sets from its snapshot)."""
    names = ["b", "a", "c", "item-10", "item-2", "x", "pre", "zz",
             "lock-0000000001", "lock-0000000000", "m", "node",
             "\u00fc-name", "\u540d\u524d"] + ["k%d" % i for i in range(20)]
    out = []
    c = new_client(srv.hosts)
    try:
        c.create("/o")
        for n in names[:14]:
            c.create("/o/" + n)
        out.append(c.get_children("/o"))
        c.delete("/o/a")
        c.create("/o/a")
        out.append(c.get_children("/o"))
        for n in names[14:]:
            c.create("/o/" + n)
        for n in names[14:30]:
            c.delete("/o/" + n)
        out += [c.get_children("/o"), c.get_children("/zookeeper"),
                c.get_children("/")]
        # A restart rebuilds the order from the last snapshot, then
        # replays the log: for both servers to rebuild the same order
        # (their snapshots are taken at different moments), let a
        # snapshot (snapCount=10) cover every change of /o first.
        c.create("/pad")
        for i in range(30):
            c.set("/pad", b"%d" % i)
        time.sleep(1)
    finally:
        c.stop()
        c.close()
    srv.stop()
    srv.start()
    c = new_client(srv.hosts)
    try:
        out.append(c.get_children("/o"))
        c.create("/o/new1")
        c.create("/o/new2")
        out.append(c.get_children("/o"))
    finally:
        c.stop()
        c.close()
    return out


@pytest.mark.compare
@pytest.mark.timeout(120)
def test_children_order_matches_zookeeper(server_factory):
    # ZooKeeper lists children in its java.util.HashSet's order; Curator
    # passes it on (deletingChildrenIfNeeded, service discovery)
    got = _children_orders(server_factory({"snapCount": "10"}))
    want = _children_orders(server_factory({"snapCount": "10"},
                                           kind="zookeeper"))
    assert got == want
    assert got[0][0] == "zz"  # not creation order
