"""Watches: one-shot data/exist/child (kazoo), persistent and persistent
recursive (addWatch, raw), removeWatches/checkWatches, ordering, and
setWatches/setWatches2 replay on reconnect."""

import queue

import pytest
from kazoo.protocol.states import EventType

from jute import AddWatchMode, Err, Ev, Mode, WatcherType
from util import normalise


class Events:
    """Collects kazoo watch callbacks."""

    def __init__(self):
        self.q = queue.Queue()

    def __call__(self, ev):
        self.q.put(ev)

    def get(self, timeout=5):
        ev = self.q.get(timeout=timeout)
        return (ev.type, ev.path)

    def none(self, timeout=0.5):
        try:
            return self.q.get(timeout=timeout)
        except queue.Empty:
            return None


def test_data_watch_fires_changed_on_set(zk, make_zk, root):
    other = make_zk()
    zk.create(root, b"a")
    ev = Events()
    zk.get(root, watch=ev)
    other.set(root, b"b")
    assert ev.get() == (EventType.CHANGED, root)


def test_data_watch_fires_deleted_on_delete(zk, make_zk, root):
    other = make_zk()
    zk.create(root, b"a")
    ev = Events()
    zk.get(root, watch=ev)
    other.delete(root)
    assert ev.get() == (EventType.DELETED, root)


def test_exists_watch_on_absent_node_fires_created(zk, make_zk, root):
    other = make_zk()
    ev = Events()
    assert zk.exists(root, watch=ev) is None
    other.create(root)
    assert ev.get() == (EventType.CREATED, root)


def test_exists_watch_on_present_node_fires_changed(zk, make_zk, root):
    other = make_zk()
    zk.create(root)
    ev = Events()
    assert zk.exists(root, watch=ev) is not None
    other.set(root, b"x")
    assert ev.get() == (EventType.CHANGED, root)


def test_child_watch_fires_on_child_create_and_delete(zk, make_zk, root):
    other = make_zk()
    zk.create(root)
    ev = Events()
    zk.get_children(root, watch=ev)
    other.create(root + "/c")
    assert ev.get() == (EventType.CHILD, root)
    zk.get_children(root, watch=ev)
    other.delete(root + "/c")
    assert ev.get() == (EventType.CHILD, root)


def test_child_watch_not_fired_by_child_data_change(zk, make_zk, root):
    other = make_zk()
    zk.create(root)
    zk.create(root + "/c")
    ev = Events()
    zk.get_children(root, watch=ev)
    other.set(root + "/c", b"x")
    other.set(root, b"x")    # data change of the parent: no child event
    assert ev.none() is None


def test_child_watch_fires_deleted_when_parent_deleted(zk, make_zk, root):
    other = make_zk()
    zk.create(root)
    ev = Events()
    zk.get_children(root, watch=ev)
    other.delete(root)
    assert ev.get() == (EventType.DELETED, root)


def test_watch_is_one_shot(zk, make_zk, root):
    other = make_zk()
    zk.create(root)
    ev = Events()
    zk.get(root, watch=ev)
    other.set(root, b"1")
    other.set(root, b"2")
    assert ev.get() == (EventType.CHANGED, root)
    assert ev.none() is None


def test_raw_one_shot_fires_once_per_session_even_if_set_twice(raw, root):
    # the same watch registered by getData and exists on one path is one
    # data watch: a single NodeDataChanged event
    a, b = raw(), raw()
    a.create(root)
    a.get_data(root, watch=True)
    a.exists(root, watch=True)
    b.set_data(root, b"x")
    ev = a.wait_event()
    assert (ev.type, ev.path) == (Ev.NODE_DATA_CHANGED, root)
    assert ev.state == 3         # SyncConnected
    assert a.no_event() is None


def test_watch_event_arrives_before_read_reply(raw, root):
    # Ordering guarantee: a client sees the event before any data that
    # reflects the change.
    a, b = raw(), raw()
    a.create(root, b"0")
    for i in range(20):
        a.get_data(root, watch=True)
        b.set_data(root, b"%d" % (i + 1))
        a.log.clear()
        data, _ = a.get_data(root)
        assert data == b"%d" % (i + 1)
        kinds = [k for k, _ in a.log]
        assert kinds == ["event", "reply"], kinds
        ev = a.events.pop(0)
        assert ev.type == Ev.NODE_DATA_CHANGED


def test_notification_header_is_xid_minus1_zxid_minus1(raw, root):
    # Watch notifications are sent with xid -1, and (surprise) ZooKeeper 3.8
    # puts zxid -1 in the reply header too, not the zxid of the change;
    # err is 0 and the state is SyncConnected (3).
    a, b = raw(), raw()
    a.create(root)
    a.get_data(root, watch=True)
    b.set_data(root, b"x")
    ev = a.wait_event()
    assert ev.zxid == -1 and ev.state == 3


# ------------------------------------------------------------ persistent

def test_persistent_watch_fires_repeatedly(raw, root):
    a, b = raw(), raw()
    a.create(root)
    a.add_watch(root, AddWatchMode.PERSISTENT)
    b.set_data(root, b"1")
    b.set_data(root, b"2")
    b.create(root + "/c")
    b.create(root + "/c/gc")        # grandchild: not seen by non-recursive
    b.delete(root + "/c/gc")
    b.delete(root + "/c")
    b.delete(root)
    b.create(root)                  # persistent watch survives deletion
    got = [(e.type, e.path) for e in
           (a.wait_event() for _ in range(6))]
    assert got == [(Ev.NODE_DATA_CHANGED, root), (Ev.NODE_DATA_CHANGED, root),
                   (Ev.NODE_CHILDREN_CHANGED, root),
                   (Ev.NODE_CHILDREN_CHANGED, root),
                   (Ev.NODE_DELETED, root), (Ev.NODE_CREATED, root)]
    assert a.no_event() is None


def test_persistent_recursive_watch_sees_all_descendants(raw, root):
    a, b = raw(), raw()
    a.create(root)
    a.add_watch(root, AddWatchMode.PERSISTENT_RECURSIVE)
    b.create(root + "/c")
    b.create(root + "/c/gc", b"")
    b.set_data(root + "/c/gc", b"x")
    b.delete(root + "/c/gc")
    b.set_data(root, b"r")
    got = [(e.type, e.path) for e in (a.wait_event() for _ in range(5))]
    # no NodeChildrenChanged events for recursive watches
    assert got == [(Ev.NODE_CREATED, root + "/c"),
                   (Ev.NODE_CREATED, root + "/c/gc"),
                   (Ev.NODE_DATA_CHANGED, root + "/c/gc"),
                   (Ev.NODE_DELETED, root + "/c/gc"),
                   (Ev.NODE_DATA_CHANGED, root)]
    assert a.no_event() is None


def test_persistent_watch_on_absent_node(raw, root):
    a, b = raw(), raw()
    a.add_watch(root, AddWatchMode.PERSISTENT)
    b.create(root)
    ev = a.wait_event()
    assert (ev.type, ev.path) == (Ev.NODE_CREATED, root)


def test_persistent_and_one_shot_watch_both_fire_once(raw, root):
    # A one-shot data watch and a persistent watch on the same path of the
    # same session produce ONE event (the watcher is the connection).
    a, b = raw(), raw()
    a.create(root)
    a.add_watch(root, AddWatchMode.PERSISTENT)
    a.get_data(root, watch=True)
    b.set_data(root, b"x")
    ev = a.wait_event()
    assert ev.type == Ev.NODE_DATA_CHANGED
    assert a.no_event() is None


def test_remove_persistent_watch(raw, root):
    a, b = raw(), raw()
    a.create(root)
    a.add_watch(root, AddWatchMode.PERSISTENT_RECURSIVE)
    a.check_watches(root, WatcherType.ANY)
    a.remove_watches(root, WatcherType.ANY)
    b.set_data(root, b"x")
    assert a.no_event() is None


# ------------------------------------------------ removeWatches/checkWatches

def test_check_and_remove_watches(raw, root):
    a, b = raw(), raw()
    a.create(root)
    # no watch yet -> NOWATCHER
    assert a.check_watches(root, WatcherType.DATA, check=False).err == \
        Err.NO_WATCHER
    a.get_data(root, watch=True)
    a.get_children(root, watch=True)
    assert a.check_watches(root, WatcherType.DATA).err == 0
    assert a.check_watches(root, WatcherType.CHILDREN).err == 0
    assert a.remove_watches(root, WatcherType.DATA).err == 0
    assert a.check_watches(root, WatcherType.DATA, check=False).err == \
        Err.NO_WATCHER
    assert a.remove_watches(root, WatcherType.DATA, check=False).err == \
        Err.NO_WATCHER
    # the server sends no DataWatchRemoved event (the Java client makes it
    # up locally); the remaining child watch still fires
    b.set_data(root, b"x")
    b.create(root + "/c")
    ev = a.wait_event()
    assert (ev.type, ev.path) == (Ev.NODE_CHILDREN_CHANGED, root)
    assert a.no_event() is None


def test_remove_watches_on_missing_path_is_no_watcher(raw, root):
    a = raw()
    assert a.remove_watches(root + "/nope", WatcherType.ANY,
                            check=False).err == Err.NO_WATCHER


# ------------------------------------------------------------ setWatches

def _drop_and_reconnect(raw, a):
    sid, pw, zx = a.session_id, a.passwd, a.last_zxid
    a.close_socket()
    n = raw(connect=False)
    resp = n.connect(timeout_ms=10000, session_id=sid, passwd=pw,
                     last_zxid=zx)
    assert resp.session_id == sid
    return n, zx


def test_set_watches_replays_missed_changes(raw, root):
    a, b = raw(), raw()
    a.create(root, b"0")
    a.create(root + "/kids")
    a.get_data(root)
    a.exists(root + "/later")
    a.get_children(root + "/kids")
    zx = a.last_zxid
    sid, pw = a.session_id, a.passwd
    a.close_socket()
    # changes while "disconnected"
    b.set_data(root, b"1")
    b.create(root + "/later")
    b.create(root + "/kids/k")
    n = raw(connect=False)
    n.connect(session_id=sid, passwd=pw, last_zxid=zx)
    n.set_watches(zx, data=[root], exist=[root + "/later"],
                  child=[root + "/kids"])
    # ZooKeeper queues the replayed events BEFORE the setWatches reply
    assert [k for k, _ in n.log] == ["event", "event", "event", "reply"]
    got = sorted((e.type, e.path) for e in n.events)
    assert got == sorted([(Ev.NODE_DATA_CHANGED, root),
                          (Ev.NODE_CREATED, root + "/later"),
                          (Ev.NODE_CHILDREN_CHANGED, root + "/kids")])


def test_set_watches_registers_when_nothing_changed(raw, root):
    a, b = raw(), raw()
    a.create(root, b"0")
    a.get_data(root)
    n, zx = _drop_and_reconnect(raw, a)
    n.set_watches(zx, data=[root], exist=[root + "/x"])
    assert n.no_event() is None
    b.set_data(root, b"1")
    ev = n.wait_event()
    assert (ev.type, ev.path) == (Ev.NODE_DATA_CHANGED, root)
    b.create(root + "/x")
    ev = n.wait_event()
    assert (ev.type, ev.path) == (Ev.NODE_CREATED, root + "/x")


def test_set_watches_data_watch_on_deleted_node_fires_deleted(raw, root):
    a, b = raw(), raw()
    a.create(root)
    a.create(root + "/d")
    a.get_data(root + "/d")
    n, zx = _drop_and_reconnect(raw, a)
    b.delete(root + "/d")
    n.set_watches(zx, data=[root + "/d"], child=[root + "/d"])
    evs = {(n.wait_event().type)}
    evs.add(n.no_event(0.5) and Ev.NODE_DELETED)
    assert Ev.NODE_DELETED in evs


def test_set_watches2_restores_persistent_watches(raw, root):
    a, b = raw(), raw()
    a.create(root)
    a.get_data(root)
    n, zx = _drop_and_reconnect(raw, a)
    n.set_watches2(zx, persistent=[root], recursive=[root + "/sub"])
    b.set_data(root, b"1")
    b.set_data(root, b"2")
    b.create(root + "/sub")
    b.create(root + "/sub/x")
    got = [(e.type, e.path) for e in (n.wait_event() for _ in range(5))]
    # within one transaction the created node's own event comes before the
    # parent's NodeChildrenChanged
    assert got == [(Ev.NODE_DATA_CHANGED, root), (Ev.NODE_DATA_CHANGED, root),
                   (Ev.NODE_CREATED, root + "/sub"),
                   (Ev.NODE_CHILDREN_CHANGED, root),
                   (Ev.NODE_CREATED, root + "/sub/x")]


# ------------------------------------------------------------ comparison

def _watch_scenario(a, b, r):
    """a watches, b mutates; returns the events a saw, in order."""
    a.create(r)
    a.create(r + "/x", b"")
    a.get_data(r, watch=True)
    a.get_children(r, watch=True)
    a.exists(r + "/x", watch=True)
    a.exists(r + "/y", watch=True)
    a.get_children(r + "/x", watch=True)
    a.add_watch(r + "/x", AddWatchMode.PERSISTENT_RECURSIVE)
    b.create(r + "/y")
    b.set_data(r + "/x", b"1")
    b.create(r + "/x/z", b"", mode=Mode.EPHEMERAL)
    b.multi([("setData", r, b"v", -1), ("delete", r + "/x/z", -1),
             ("delete", r + "/x", -1)])
    b.create(r + "/x")
    a.sync(r)
    evs = []
    while True:
        e = a.no_event(0.7)
        if e is None:
            break
        evs.append((e.type, e.state, e.path))
    return evs


@pytest.mark.compare
def test_watch_event_sequence_matches_zookeeper(raw, root, ref_raw, ref_root):
    got = _watch_scenario(raw(), raw(), root)
    want = _watch_scenario(ref_raw(), ref_raw(), ref_root)
    assert normalise(got, root) == normalise(want, ref_root)
    assert len(got) >= 8


def _acl_scenario(a, b, r):
    """a (no auth) watches nodes only b (digest) may read; b changes
    them.  ZooKeeper 3.8 tells a session of an event only with READ on
    the node (on the parent for NodeChildrenChanged)."""
    bob = [(31, "digest", "bob:" + _bob_hash())]
    b.auth("digest", "bob:bpw")
    b.create(r)
    b.create(r + "/open")
    b.create(r + "/hidden", b"", acl=bob)
    b.create(r + "/closed", b"", acl=bob)      # a parent a cannot read
    a.exists(r + "/hidden", watch=True)       # exists needs no READ
    a.exists(r + "/gone", watch=True)
    a.get_children(r, watch=True)
    a.add_watch(r + "/closed", AddWatchMode.PERSISTENT_RECURSIVE)
    a.add_watch(r + "/open", AddWatchMode.PERSISTENT)
    b.set_data(r + "/hidden", b"1")           # not told
    b.create(r + "/gone", b"", acl=bob)       # NodeCreated not told (its
                                              # ACL), r's child change is
    b.create(r + "/closed/c")                 # created: told (open ACL)
    b.create(r + "/closed/d", b"", acl=bob)   # not told
    b.delete(r + "/hidden")                   # not told
    b.set_data(r + "/open", b"2")             # told
    a.sync(r)
    out = []
    while True:
        e = a.no_event(0.7)
        if e is None:
            return out
        out.append((e.type, e.path.replace(r, "<r>")))


def _bob_hash():
    import base64
    import hashlib
    return base64.b64encode(hashlib.sha1(b"bob:bpw").digest()).decode()


@pytest.mark.compare
def test_events_need_read_on_the_node_as_in_zookeeper(raw, root, ref_raw,
                                                      ref_root):
    got = _acl_scenario(raw(), raw(), root)
    want = _acl_scenario(ref_raw(), ref_raw(), ref_root)
    assert got == want
    assert got == [(Ev.NODE_CHILDREN_CHANGED, "<r>"),
                   (Ev.NODE_CREATED, "<r>/closed/c"),
                   (Ev.NODE_DATA_CHANGED, "<r>/open")]


def _mode_scenario(a, b, r, case):
    a.create(r)
    if case == "child-then-recursive":
        a.get_children(r, watch=True)
        a.add_watch(r, AddWatchMode.PERSISTENT_RECURSIVE)
    elif case == "recursive-then-child":
        a.add_watch(r, AddWatchMode.PERSISTENT_RECURSIVE)
        a.get_children(r, watch=True)
    elif case == "recursive-then-data":
        a.add_watch(r, AddWatchMode.PERSISTENT_RECURSIVE)
        a.get_data(r, watch=True)
    b.create(r + "/c")
    b.set_data(r, b"1")
    b.create(r + "/c/d")
    b.set_data(r, b"2")
    out = []
    while True:
        e = a.no_event(0.5)
        if e is None:
            return out
        out.append((e.type, e.path.replace(r, "<r>")))


@pytest.mark.parametrize("case", ["child-then-recursive",
                                  "recursive-then-child",
                                  "recursive-then-data"])
def test_last_watch_registration_on_a_path_sets_its_mode(raw, root, case):
    # Surprise (ZooKeeper 3.6+ WatchManager): one session has ONE mode per
    # (path, data|child) watch table; the last registration wins.  A
    # one-shot getChildren watch followed by addWatch(recursive) loses its
    # NodeChildrenChanged; addWatch(recursive) followed by a one-shot
    # getData watch degrades the recursive watch to a one-shot one.
    got = _mode_scenario(raw(), raw(), root, case)
    expected = {
        "child-then-recursive": [(Ev.NODE_CREATED, "<r>/c"),
                                 (Ev.NODE_DATA_CHANGED, "<r>"),
                                 (Ev.NODE_CREATED, "<r>/c/d"),
                                 (Ev.NODE_DATA_CHANGED, "<r>")],
        "recursive-then-child": [(Ev.NODE_CREATED, "<r>/c"),
                                 (Ev.NODE_CHILDREN_CHANGED, "<r>"),
                                 (Ev.NODE_DATA_CHANGED, "<r>"),
                                 (Ev.NODE_CREATED, "<r>/c/d"),
                                 (Ev.NODE_DATA_CHANGED, "<r>")],
        "recursive-then-data": [(Ev.NODE_DATA_CHANGED, "<r>")],
    }[case]
    assert got == expected


def _persistent_parts(a, b, r):
    """checkWatches/removeWatches by type on a persistent watch: ZooKeeper
    3.8 counts a table's watch of any mode, so Data removes the data part
    and the child part keeps firing; types 4 and 5 (3.9's) are refused."""
    a.create(r)
    a.add_watch(r, AddWatchMode.PERSISTENT)
    out = [("check %d" % t, a.check_watches(r, t, check=False).err)
           for t in (1, 2, 3, 4, 5)]
    out.append(("remove data", a.remove_watches(r, 2, check=False).err))
    out.append(("check data", a.check_watches(r, 2, check=False).err))
    b.set_data(r, b"1")
    b.create(r + "/c")
    a.sync(r)
    while True:
        e = a.no_event(0.5)
        if e is None:
            return out
        out.append((e.type, e.path.replace(r, "<r>")))


@pytest.mark.compare
def test_persistent_watch_parts_match_zookeeper(raw, root, ref_raw,
                                                ref_root):
    got = _persistent_parts(raw(), raw(), root)
    assert got == _persistent_parts(ref_raw(), ref_raw(), ref_root)
    assert got[-1] == (Ev.NODE_CHILDREN_CHANGED, "<r>")
