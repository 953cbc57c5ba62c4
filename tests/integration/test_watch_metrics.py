"""mntr's watch-trigger summaries, ZooKeeper 3.8's ServerMetrics
NODE_CREATED_WATCHER, NODE_DELETED_WATCHER, NODE_CHANGED_WATCHER and
NODE_CHILDREN_WATCHER: zk_{avg,min,max,cnt,sum}_node_{created,deleted,
changed,children}_watch_count.

WatchManager.triggerWatch runs once per table an event fires (NodeDeleted:
the data table, then the child table with the data table's watchers
suppressed) and adds the size of its watcher set, suppressed watchers
included, to the event type's summary; a set that is empty adds nothing.

The same operations run on a paddockd with one worker and on Apache
ZooKeeper 3.8, each fresh, and every value must be the one worked out
below and the same on both.  With two workers paddockd adds one sample
per worker that holds some of an event's watchers (README, mntr): that
is checked on its own.
"""

import json
import os
import queue
import urllib.request

import pytest

from conftest import JAVA, TARGET, ZK_JAR, new_client
from jute import AddWatchMode, RawClient
from srvutil import four_letter, free_port, kv_lines

NAMES = ("node_created_watch_count", "node_deleted_watch_count",
         "node_changed_watch_count", "node_children_watch_count")
STATS = ("avg", "min", "max", "cnt", "sum")


def watch_keys(kv):
    """The twenty keys of the four summaries, as mntr prints them."""
    return {"zk_%s_%s" % (s, n): kv.get("zk_%s_%s" % (s, n))
            for n in NAMES for s in STATS}


def expected(samples):
    """mntr's five values of an AvgMinMaxCounter given these samples."""
    out = {}
    for name, v in samples.items():
        n, s = len(v), sum(v)
        out.update({"zk_avg_" + name: repr(s / n if n else 0.0),
                    "zk_min_" + name: str(min(v) if v else 0),
                    "zk_max_" + name: str(max(v) if v else 0),
                    "zk_cnt_" + name: str(n),
                    "zk_sum_" + name: str(s)})
    return out


class Calls:
    """kazoo watch callbacks, counted."""

    def __init__(self):
        self.q = queue.Queue()

    def __call__(self, ev):
        self.q.put((ev.type, ev.path))

    def wait(self, n, timeout=10):
        got = [self.q.get(timeout=timeout) for _ in range(n)]
        assert self.q.empty(), got + [self.q.get()]
        return sorted(got)


def mntr(hosts):
    return watch_keys(kv_lines(four_letter(hosts, "mntr")))


def run(hosts):
    """Three watching kazoo sessions (a, b, c), a raw one (r) with a
    persistent recursive watch, and a writer (w) watching nothing; mntr's
    twenty keys after each step."""
    w, a, b, c = (new_client(hosts) for _ in range(4))
    r = RawClient(hosts)
    r.connect()
    cb = Calls()
    seen = {"start": mntr(hosts)}
    try:
        w.create("/wm")
        # NodeCreated /wm/x reaches a and b (exists watches), the parent's
        # NodeChildrenChanged a, b and c
        a.exists("/wm/x", watch=cb)
        b.exists("/wm/x", watch=cb)
        for s in (a, b, c):
            s.get_children("/wm", watch=cb)
        w.create("/wm/x")
        cb.wait(5)
        seen["created"] = mntr(hosts)
        # NodeDataChanged reaches a, b and c
        for s in (a, b, c):
            s.get("/wm/x", watch=cb)
        w.set("/wm/x", b"1")
        cb.wait(3)
        seen["changed"] = mntr(hosts)
        # NodeDeleted: the data table {a, c}, then the child table {a, b}
        # (a suppressed, told once, counted in both); the parent's
        # NodeChildrenChanged reaches c
        a.get("/wm/x", watch=cb)
        c.get("/wm/x", watch=cb)
        a.get_children("/wm/x", watch=cb)
        b.get_children("/wm/x", watch=cb)
        c.get_children("/wm", watch=cb)
        w.delete("/wm/x")
        cb.wait(5)  # kazoo calls a's data and child watcher for one event
        seen["deleted"] = mntr(hosts)
        # events that reach no watcher add nothing, not a 0
        a.exists("/wm/elsewhere", watch=cb)
        w.create("/wm/y")
        w.set("/wm/y", b"2")
        w.delete("/wm/y")
        seen["unwatched"] = mntr(hosts)
        # addWatch puts a recursive watch in both tables (DataTree.
        # addWatch, 3.8): NodeCreated /wm/z reaches r and a, NodeDeleted
        # r in the data table and r again in the child table; recursive
        # watches never get NodeChildrenChanged
        r.add_watch("/wm", AddWatchMode.PERSISTENT_RECURSIVE)
        a.exists("/wm/z", watch=cb)
        w.create("/wm/z")
        w.delete("/wm/z")
        cb.wait(1)
        assert [(e.type, e.path) for e in
                (r.wait_event(), r.wait_event())] == [(1, "/wm/z"),
                                                      (2, "/wm/z")]
        seen["recursive"] = mntr(hosts)
        assert four_letter(hosts, "srst") == "Server stats reset.\n"
        seen["srst"] = mntr(hosts)
    finally:
        r.close_socket()
        for s in (w, a, b, c):
            s.stop()
            s.close()
    return seen


CREATED, DELETED, CHANGED, CHILDREN = NAMES
STEPS = {
    "start": {CREATED: [], DELETED: [], CHANGED: [], CHILDREN: []},
    "created": {CREATED: [2], DELETED: [], CHANGED: [], CHILDREN: [3]},
    "changed": {CREATED: [2], DELETED: [], CHANGED: [3], CHILDREN: [3]},
    "deleted": {CREATED: [2], DELETED: [2, 2], CHANGED: [3],
                CHILDREN: [3, 1]},
    "unwatched": {CREATED: [2], DELETED: [2, 2], CHANGED: [3],
                  CHILDREN: [3, 1]},
    "recursive": {CREATED: [2, 2], DELETED: [2, 2, 1, 1], CHANGED: [3],
                  CHILDREN: [3, 1]},
    # ServerStats.reset calls ServerMetrics.resetAll
    "srst": {CREATED: [], DELETED: [], CHANGED: [], CHILDREN: []},
}


@pytest.mark.compare
def test_watch_trigger_summaries_match_zookeeper(server_factory):
    if not os.path.exists(ZK_JAR) or not os.path.exists(JAVA):
        pytest.skip("reference Apache ZooKeeper not installed")
    one = {"paddock.workers": 1} if TARGET == "paddock" else None
    got = {"target": run(server_factory(one).hosts),
           "zookeeper": run(server_factory(kind="zookeeper").hosts)}
    for step, samples in STEPS.items():
        want = expected(samples)
        for kind, seen in got.items():
            assert seen[step] == want, (kind, step)


def admin_monitor(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/commands/monitor" %
                                port, timeout=10) as f:
        return json.loads(f.read())


@pytest.mark.skipif(TARGET != "paddock", reason="paddockd's workers")
def test_two_workers_add_one_sample_per_worker_reached(server_factory):
    """An event whose watchers sit on both workers is two samples, one per
    worker, of the watchers on each (ZooKeeper: one sample of their
    total); the sum stays exact.  An event whose watchers are all on one
    worker is one sample, as in ZooKeeper."""
    port = free_port()
    srv = server_factory({"paddock.workers": 2, "admin.enableServer": "true",
                          "admin.serverAddress": "127.0.0.1",
                          "admin.serverPort": port})
    on = {0: [], 1: []}
    clients = []

    def conns():
        m = admin_monitor(port)
        return [m['paddock_worker_connections{worker="%d"}' % i]
                for i in (0, 1)]
    try:
        # sessions until worker 0 has two and worker 1 one (SO_REUSEPORT
        # picks the worker from the connection's ports)
        while len(on[0]) < 2 or len(on[1]) < 1:
            assert len(clients) < 40, "the kernel put every session on " \
                "one worker"
            before = conns()
            c = new_client(srv.hosts)
            clients.append(c)
            after = conns()
            i = 0 if after[0] > before[0] else 1
            assert after[i] == before[i] + 1, (before, after)
            on[i].append(c)
        x0, y0, x1 = on[0][0], on[0][1], on[1][0]
        w = clients[-1]
        w.create("/wm2")
        cb = Calls()
        # NodeDataChanged: two watchers on worker 0, one on worker 1
        for s in (x0, y0, x1):
            s.get("/wm2", watch=cb)
        w.set("/wm2", b"1")
        cb.wait(3)
        # NodeCreated: both watchers on worker 0
        x0.exists("/wm2/a", watch=cb)
        y0.exists("/wm2/a", watch=cb)
        w.create("/wm2/a")
        cb.wait(2)
        kv = mntr(srv.hosts)
        assert kv == expected({CHANGED: [2, 1], CREATED: [2], DELETED: [],
                               CHILDREN: []})
        # ZooKeeper would say cnt 1, sum 3, min 3, max 3 for the first
    finally:
        for c in clients:
            c.stop()
            c.close()
