"""Tests for the history checker (run: /usr/bin/python3 -m pytest tests/lincheck).

* hand-written histories: valid ones pass, each kind of anomaly is caught;
* differential tests against an independent brute-force implementation of
  the model (all write orders, all subsets of indeterminate writes);
* a simulated ZooKeeper-like ensemble (leader, lagging followers, sessions
  that reconnect, lost replies, late indeterminate writes): correct runs
  pass (and the order found is re-validated), runs with an injected fault
  fail;
* the search's reductions never change a verdict; performance;
* recorder, file format, CLI, budget.
"""

import heapq
import itertools
import json
import os
import random
import subprocess
import sys
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import lincheck  # noqa: E402
from history import History, RecordedClient  # noqa: E402

INF = float("inf")


# ---------------------------------------------------------------------------
# helpers for hand-written histories


class H:
    """Tiny builder for hand-written histories, e.g.
    H().create("a", "/k", "x", 0, 1).set("b", "/k", "y", 2, 3, ver=1)
    (session, key, value, invocation, completion, reported version)."""

    def __init__(self):
        self.recs = []
        self.init = []
        self.sess = []

    def op(self, s, op, key, value=None, inv=0, ret=1, status="ok", result=None,
           error=None, expect=None):
        self.recs.append({"type": "op", "id": len(self.recs) + 1, "session": s, "op": op,
                          "key": key, "value": value, "version": expect, "inv": inv,
                          "ret": None if status == "info" else ret, "status": status,
                          "result": result, "error": error})
        return self

    # shorthands: (session, inv, ret, ...)
    def create(self, s, k, v, inv, ret, status="ok", error=None):
        if status == "fail" and error is None:
            error = "NodeExists"
        return self.op(s, "create", k, v, inv, ret, status, None, error)

    def set(self, s, k, v, inv, ret, ver=None, status="ok", error=None, expect=None):
        return self.op(s, "set", k, v, inv, ret, status,
                       {"version": ver} if ver is not None else None, error, expect)

    def delete(self, s, k, inv, ret, status="ok", error=None, expect=None):
        return self.op(s, "delete", k, None, inv, ret, status, None, error, expect)

    def get(self, s, k, v, ver, inv, ret, status="ok"):
        if v is None:
            return self.op(s, "get", k, None, inv, ret, "fail", None, "NoNode")
        return self.op(s, "get", k, None, inv, ret, status, {"value": v, "version": ver})

    def sync(self, s, inv, ret, k="/"):
        return self.op(s, "sync", k, None, inv, ret)

    def pipelined(self, s):
        self.sess.append({"type": "session", "session": s, "pipelined": True})
        return self

    def initial(self, k, v, ver=0):
        self.init.append({"type": "init", "key": k, "value": v, "version": ver})
        return self

    def lines(self):
        return self.init + self.sess + self.recs

    def check(self, **kw):
        return lincheck.check(History.load(self.lines()), **kw)


def ok(h):
    r = h.check()
    assert r.verdict == "ok", r.text()
    return r


def bad(h, key="/k", core_has=()):
    r = h.check()
    assert r.verdict == "anomaly", r.text()
    kr = [k for k in r.anomalies if k.key == key]
    assert kr, r.text()
    txt = r.text()
    assert key in txt
    for i in core_has:  # in the core or named as context
        assert "#%d " % i in txt, txt
    return r


# ---------------------------------------------------------------------------
# valid histories


def test_sequential_ops_pass():
    h = H()
    h.get("a", "/k", None, None, 0, 1)
    h.create("a", "/k", "x", 2, 3)
    h.create("b", "/k", "y", 4, 5, status="fail")
    h.set("b", "/k", "y", 6, 7, ver=1)
    h.set("a", "/k", "z", 8, 9, status="fail", error="BadVersion", expect=0)
    h.get("a", "/k", "y", 1, 10, 11)
    h.delete("b", "/k", 12, 13, status="fail", error="BadVersion", expect=0)
    h.delete("b", "/k", 14, 15, expect=1)
    h.set("a", "/k", "w", 16, 17, status="fail", error="NoNode")
    h.delete("a", "/k", 18, 19, status="fail", error="NoNode")
    h.op("a", "exists", "/k", None, 20, 21, "ok", None)
    h.create("a", "/k", "again", 22, 23)
    h.op("b", "exists", "/k", None, 24, 25, "ok", {"version": 0})
    r = ok(h)
    assert r.keys[0].order  # a witness order is produced


def test_concurrent_writes_need_non_obvious_order():
    # w1 is invoked first but must take effect after w2 (versions say so),
    # and a sync'd read pins the final state.
    h = H()
    h.create("a", "/k", "x", 0, 1)
    h.set("a", "/k", "late", 2, 20, ver=2)
    h.set("b", "/k", "early", 3, 4, ver=1)
    h.sync("c", 21, 22)
    h.get("c", "/k", "late", 2, 23, 24)
    ok(h)


def test_concurrent_creates_one_wins():
    h = H()
    h.create("a", "/k", "x", 0, 10)
    h.create("b", "/k", "y", 1, 9, status="fail")
    h.get("b", "/k", "x", 0, 11, 12)
    ok(h)


def test_indeterminate_write_that_happened_and_one_that_did_not():
    h = H()
    h.create("a", "/k", "x", 0, 1)
    h.set("a", "/k", "lost?", 2, None, status="info", error="ConnectionLoss")
    h.set("b", "/k", "maybe", 3, None, status="info", error="OperationTimeoutError")
    h.get("c", "/k", "maybe", 1, 5, 6)            # "maybe" happened, "lost?" not
    h.set("c", "/k", "z", 7, 8, ver=2)
    h.sync("d", 9, 10)
    h.get("d", "/k", "z", 2, 11, 12)
    ok(h)


def test_indeterminate_write_takes_effect_much_later():
    # session a loses the reply of its set, reconnects, and its own later
    # read does not see it; the write lands after that read
    h = H()
    h.create("a", "/k", "x", 0, 1)
    h.set("a", "/k", "slow", 2, None, status="info", error="ConnectionLoss")
    h.get("a", "/k", "x", 0, 3, 4)
    h.sync("a", 5, 6)
    h.get("a", "/k", "x", 0, 7, 8)
    h.get("b", "/k", "slow", 1, 30, 31)
    ok(h)


def test_stale_read_on_another_session_is_allowed():
    # plain reads are not linearizable: b's follower may lag behind
    h = H()
    h.create("a", "/k", "x", 0, 1)
    h.set("a", "/k", "y", 2, 3, ver=1)
    h.get("a", "/k", "y", 1, 4, 5)
    h.get("b", "/k", "x", 0, 6, 7)
    h.get("b", "/k", "x", 0, 8, 9)
    h.get("b", "/k", None, None, 0.5, 0.6)        # even older, earlier
    h.get("b", "/k", "y", 1, 10, 11)
    ok(h)


def test_read_without_sync_may_miss_concurrent_and_earlier_writes():
    # no sync: reading the state before a write that completed long ago is
    # fine as long as the session never saw anything newer
    h = H()
    h.create("a", "/k", "x", 0, 1)
    for i in range(5):
        h.set("a", "/k", "v%d" % i, 2 + 2 * i, 3 + 2 * i, ver=i + 1)
    h.get("b", "/k", "x", 0, 100, 101)
    h.get("b", "/k", "v2", 3, 102, 103)
    ok(h)


def test_touching_intervals_are_concurrent():
    # a read that returned at the very instant a write was invoked may
    # have seen it: only "returned strictly before invoked" orders ops
    h = H()
    h.create("a", "/k", "x", 0, 1)
    h.get("b", "/k", "y", 1, 0.5, 2)
    h.set("a", "/k", "y", 2, 3, ver=1)
    ok(h)
    h = H()
    h.create("a", "/k", "x", 0, 1)
    h.get("b", "/k", "y", 1, 0.5, 1.999)
    h.set("a", "/k", "y", 2, 3, ver=1)
    bad(h)


def test_initial_state_declared():
    h = H().initial("/k", "init", 4)
    h.get("a", "/k", "init", 4, 0, 1)
    h.set("a", "/k", "n", 2, 3, ver=5, expect=4)
    ok(h)


def test_non_pipelined_session_overlapping_writes_may_reorder():
    # two threads share one session: overlapping ops carry no FIFO promise
    h = H()
    h.create("a", "/k", "x", 0, 1)
    h.set("a", "/k", "first", 2, 6, ver=2)
    h.set("a", "/k", "second", 3, 5, ver=1)
    ok(h)


def test_pipelined_session_fifo_order_passes():
    h = H().pipelined("a")
    h.create("a", "/k", "x", 0, 1)
    h.set("a", "/k", "first", 2, 6, ver=1)
    h.get("a", "/k", "first", 1, 2.5, 6.5)
    h.set("a", "/k", "second", 3, 7, ver=2)
    ok(h)


def test_unknown_errors_are_conservative():
    h = H()
    h.create("a", "/k", "x", 0, 1)
    h.set("a", "/k", "y", 2, 3, status="fail", error="NoAuth")
    h.op("a", "get", "/k", None, 4, 5, "fail", None, "NoAuth")
    h.get("a", "/k", "x", 0, 6, 7)
    r = ok(h)
    assert any("NoAuth" in w for w in r.warnings)


# ---------------------------------------------------------------------------
# anomalies


def test_stale_read_after_own_write():
    h = H()
    h.create("a", "/k", "x", 0, 1)
    h.set("b", "/k", "mine", 2, 3, ver=1)
    h.get("b", "/k", "x", 0, 4, 5)
    r = bad(h, core_has=(2, 3))
    assert "own write" in r.text()


def test_stale_read_after_own_failed_write():
    # the BadVersion error is ordered like a write: the session then can't
    # read a state older than the one its set was checked against
    h = H()
    h.create("a", "/k", "x", 0, 1)
    h.set("a", "/k", "y", 2, 3, ver=1)
    h.set("b", "/k", "z", 4, 5, status="fail", error="BadVersion", expect=0)
    h.get("b", "/k", "x", 0, 6, 7)
    bad(h)


def test_read_going_backwards_on_one_session():
    h = H()
    h.create("a", "/k", "x", 0, 1)
    h.set("a", "/k", "y", 2, 3, ver=1)
    h.get("b", "/k", "y", 1, 4, 5)
    h.get("b", "/k", "x", 0, 6, 7)
    r = bad(h, core_has=(3, 4))
    assert "backwards" in r.text()


def test_lost_acknowledged_write():
    h = H()
    h.create("a", "/k", "x", 0, 1)
    h.set("a", "/k", "acked", 2, 3, ver=1)
    h.sync("b", 4, 5)
    h.get("b", "/k", "x", 0, 6, 7)
    r = bad(h, core_has=(2, 4))
    assert "sync" in r.text()


def test_lost_acknowledged_create_seen_by_version():
    # the lost write is only visible through versions
    h = H()
    h.create("a", "/k", "x", 0, 1)
    h.set("a", "/k", "acked", 2, 3, ver=1)
    h.set("b", "/k", "next", 4, 5, ver=1)
    bad(h)


def test_two_creates_both_ok():
    h = H()
    h.create("a", "/k", "x", 0, 2)
    h.create("b", "/k", "y", 1, 3)
    r = bad(h)
    assert "create" in r.text()


def test_version_skip():
    h = H()
    h.create("a", "/k", "x", 0, 1)
    h.set("a", "/k", "y", 2, 3, ver=2)
    r = bad(h)
    assert "version" in r.text()


def test_read_shows_version_skip():
    h = H()
    h.create("a", "/k", "x", 0, 1)
    h.set("a", "/k", "y", 2, 3)       # result without version
    h.get("b", "/k", "y", 2, 4, 5)
    bad(h)


def test_read_of_value_never_written():
    h = H()
    h.create("a", "/k", "x", 0, 1)
    h.get("b", "/k", "ghost", 0, 2, 3)
    r = bad(h, core_has=(2,))
    assert "no write produced" in r.text()


def test_syncd_read_sees_stale_state():
    # b synced after a's set completed: its read must not show the create
    h = H()
    h.create("a", "/k", "x", 0, 1)
    h.set("a", "/k", "y", 2, 3, ver=1)
    h.set("a", "/k", "z", 4, 5, ver=2)
    h.sync("b", 6, 7)
    h.get("b", "/k", "y", 1, 8, 9)
    bad(h)


def test_sync_does_not_cover_writes_completed_after_its_invocation():
    h = H()
    h.create("a", "/k", "x", 0, 1)
    h.set("a", "/k", "y", 2, 7, ver=1)      # completes after the sync started
    h.sync("b", 6, 8)
    h.get("b", "/k", "x", 0, 9, 10)
    ok(h)


def test_syncd_read_older_than_another_sessions_earlier_read():
    # W completes late, but b saw it by t=4, so it took effect by then;
    # c's sync started at 5: sync + read is linearizable, c must see W
    h = H()
    h.create("a", "/k", "x", 0, 1)
    h.set("a", "/k", "w", 2, 10, ver=1)
    h.get("b", "/k", "w", 1, 3, 4)
    h.sync("c", 5, 6)
    h.get("c", "/k", "x", 0, 7, 8)
    r = bad(h, core_has=(3, 5))
    assert "sync" in r.text()
    lines = json.loads(json.dumps(h.lines()))
    assert not brute(lines)


def test_syncd_read_may_miss_what_a_concurrent_read_saw():
    # same, but b's read was still running when the sync started
    h = H()
    h.create("a", "/k", "x", 0, 1)
    h.set("a", "/k", "w", 2, 10, ver=1)
    h.get("b", "/k", "w", 1, 3, 5.5)
    h.sync("c", 5, 6)
    h.get("c", "/k", "x", 0, 7, 8)
    ok(h)
    assert brute(json.loads(json.dumps(h.lines())))


def test_own_write_elsewhere_orders_after_other_sessions_reads():
    # b saw /k's new value by t=4; c's write of /a started at 5, so c's
    # later reads of /k must not be older than what b saw
    h = H()
    h.create("a", "/k", "x", 0, 1)
    h.create("a", "/a", "x", 0, 1)
    h.set("a", "/k", "w", 2, 10, ver=1)
    h.get("b", "/k", "w", 1, 3, 4)
    h.set("c", "/a", "c", 5, 6, ver=1)
    h.get("c", "/k", "x", 0, 7, 8)
    bad(h, core_has=(4, 6))
    assert not brute(json.loads(json.dumps(h.lines())))


def test_write_visible_before_its_invocation():
    h = H()
    h.create("a", "/k", "x", 0, 1)
    h.get("b", "/k", "future", 1, 2, 3)
    h.set("a", "/k", "future", 4, 5, ver=1)
    r = bad(h, core_has=(2, 3))
    assert "invoked only after" in r.text()


def test_indeterminate_write_visible_before_its_invocation():
    h = H()
    h.create("a", "/k", "x", 0, 1)
    h.get("b", "/k", "future", 1, 2, 3)
    h.set("a", "/k", "future", 4, None, status="info")
    bad(h)


def test_bad_version_answer_when_version_matched():
    h = H()
    h.create("a", "/k", "x", 0, 1)
    h.set("a", "/k", "y", 2, 3, status="fail", error="BadVersion", expect=0)
    bad(h)


def test_delete_then_read_old_value_after_sync():
    h = H()
    h.create("a", "/k", "x", 0, 1)
    h.delete("a", "/k", 2, 3)
    h.sync("b", 4, 5)
    h.get("b", "/k", "x", 0, 6, 7)
    bad(h)


def test_pipelined_session_writes_applied_in_reverse_order():
    # one submitting thread: FIFO must hold although the two sets overlap
    h = H().pipelined("a")
    h.create("a", "/k", "x", 0, 1)
    h.set("a", "/k", "first", 2, 6, ver=2)
    h.set("a", "/k", "second", 3, 7, ver=1)
    bad(h)


def test_pipelined_read_sees_later_own_write():
    h = H().pipelined("a")
    h.create("a", "/k", "x", 0, 1)
    h.get("a", "/k", "y", 1, 2, 6)
    h.set("a", "/k", "y", 3, 5, ver=1)
    bad(h)


def test_cross_key_own_write_acts_as_barrier():
    # b's set of /a started after a's set of /k completed, so b's later
    # read of /k must include it
    h = H()
    h.create("a", "/k", "x", 0, 1)
    h.create("a", "/a", "x", 0, 1)
    h.set("a", "/k", "new", 2, 3, ver=1)
    h.set("b", "/a", "b", 4, 5, ver=1)
    h.get("b", "/k", "x", 0, 6, 7)
    r = bad(h)
    assert "/a" in r.text()


def test_cross_key_read_acts_as_barrier():
    # b read /a's value written by #3, which started after #2 (on /k)
    # completed; b's later read of /k must include #2
    h = H()
    h.create("a", "/k", "x", 0, 1)
    h.set("a", "/k", "new", 2, 3, ver=1)
    h.create("a", "/a", "a1", 4, 5)
    h.get("b", "/a", "a1", 0, 6, 7)
    h.get("b", "/k", "x", 0, 8, 9)
    r = bad(h)
    assert "can only have seen" in r.text()


def test_cross_key_without_ordering_evidence_passes():
    # concurrent writes give no cross-key ordering: nothing to report
    h = H()
    h.create("a", "/k", "x", 0, 1)
    h.set("a", "/k", "new", 2, 5, ver=1)
    h.create("c", "/a", "a1", 3, 4)
    h.get("b", "/a", "a1", 0, 6, 7)
    h.get("b", "/k", "x", 0, 8, 9)
    ok(h)


def test_known_limit_cross_key_order_through_write_order():
    """Documented limit: session order across keys is checked only where
    real time implies it.  Here c's reads order w_k before w_a in the one
    write order, so b (which saw w_a) must see w_k -- the full model says
    anomaly, the per-key check cannot see it."""
    h = H()
    h.create("a", "/k", "x", 0, 0.5)
    h.set("a", "/k", "new", 1, 10, ver=1)      # w_k, long
    h.create("d", "/a", "a1", 2, 9)             # w_a, inside w_k
    h.get("c", "/k", "new", 1, 3, 4)
    h.get("c", "/a", None, None, 5, 6)          # so w_k before w_a
    h.get("b", "/a", "a1", 0, 11, 12)
    h.get("b", "/k", "x", 0, 13, 14)            # older than w_k
    assert not brute(json.loads(json.dumps(h.lines())))
    assert h.check().verdict == "ok"


def test_only_bad_key_reported():
    h = H()
    h.create("a", "/good", "x", 0, 1)
    h.get("b", "/good", "x", 0, 2, 3)
    h.create("a", "/k", "x", 0, 1)
    h.get("b", "/k", "nope", 0, 2, 3)
    r = h.check()
    assert [k.key for k in r.anomalies] == ["/k"]


def test_core_is_small_in_a_long_history():
    rng = random.Random(5)
    h = H()
    h.create("a", "/k", "v0", 0, 1)
    t = 2
    for i in range(1, 150):
        h.set("a", "/k", "v%d" % i, t, t + 1, ver=i)
        h.get("r%d" % i, "/k", "v%d" % rng.randrange(i + 1), None, t + 0.5, t + 0.7)
        if i == 100:
            h.sync("z", t + 1.2, t + 1.3)
            h.get("z", "/k", "v50", 50, t + 1.4, t + 1.5)   # stale after sync
        t += 2
    r = h.check()
    assert r.verdict == "anomaly"
    kr = r.anomalies[0]
    assert len(kr.core) <= 4, r.text()


# ---------------------------------------------------------------------------
# brute force: the model, implemented directly (independent of lincheck)

WRITES = ("create", "set", "delete")


def _apply(op, s):
    """(result, new state) per ZooKeeper, state None or (value, version)."""
    f, v, ev = op["op"], op["value"], op["version"]
    if f == "create":
        return (("ok", 0), (v, 0)) if s is None else (("err", "NodeExists"), s)
    if s is None:
        return ("err", "NoNode"), s
    if ev is not None and ev != s[1]:
        return ("err", "BadVersion"), s
    return (("ok", s[1] + 1), (v, s[1] + 1)) if f == "set" else (("ok", None), None)


def _result_ok(op, res):
    if op["status"] == "fail":
        return res == ("err", op["error"])
    if res[0] != "ok":
        return False
    if op["op"] == "set" and op["result"] and op["result"].get("version") is not None:
        return res[1] == op["result"]["version"]
    return True


def _obs_ok(op, s):
    if op["status"] == "fail":
        return s is None
    if op["op"] == "exists":
        if op["result"] is None:
            return s is None
        return s is not None and s[1] == op["result"]["version"]
    return s is not None and (s[0], s[1]) == (op["result"]["value"], op["result"]["version"])


def brute(lines):
    """The model, implemented directly and globally (all keys at once):
    every op has a time -- a write within its interval (an indeterminate
    one after its invocation, or never), a sync within its interval, a read
    not after its completion -- each session's times never decrease
    (session order: completed before invoked, or invocation order on a
    pipelined session), and each read returns the state at its time.
    Equivalently: one order of the writes, and for every read and sync a
    prefix of it, such that all these respect the time windows.
    Enumerates write orders; the read/sync prefixes then have a least
    solution (all constraints are lower bounds that only grow)."""
    recs = [r for r in lines if r.get("type", "op") == "op"]
    pipe = {r["session"] for r in lines if r.get("type") == "session" and r["pipelined"]}
    ops = []
    for r in recs:
        o = dict(r)
        o["ret"] = INF if o["status"] == "info" else o["ret"]
        ops.append(o)
    writes = [o for o in ops if o["op"] in WRITES]
    definite = [w for w in writes if w["status"] != "info"]
    infos = [w for w in writes if w["status"] == "info"]
    noops = [o for o in ops if o["op"] not in WRITES and o["status"] != "info" and
             (o["op"] != "sync" or o["status"] == "ok")]
    for o in noops:
        o["lo"] = o["inv"] if o["op"] == "sync" else -INF

    def so(x, y):  # session order between definite ops
        if x["session"] != y["session"] or x is y:
            return False
        return x["ret"] < y["inv"] or (x["session"] in pipe and x["inv"] < y["inv"])

    dops = definite + noops
    so_pred = {id(y): [x for x in dops if so(x, y)] for y in dops}

    def positions_ok(order):
        idx = {id(w): i for i, w in enumerate(order)}
        n = len(order)
        states = [{}]
        for w in order:
            st = dict(states[-1])
            st[w["key"]] = _apply(w, st.get(w["key"]))[1]
            states.append(st)
        # definite writes: session order among writes
        for y in definite:
            for x in so_pred[id(y)]:
                if x["op"] in WRITES and idx[id(x)] >= idx[id(y)]:
                    return False
        hi = {}
        for o in noops:  # not after a write invoked after it completed
            hi[id(o)] = min([idx[id(w)] for w in order if w["inv"] > o["ret"]] + [n])
        p = {id(o): 0 for o in noops}
        changed = True
        while changed:
            changed = False
            for o in noops:
                lb = p[id(o)]
                for w in order:          # writes that completed before its window
                    if w["ret"] < o["lo"]:
                        lb = max(lb, idx[id(w)] + 1)
                for x in noops:          # reads/syncs that completed before its window
                    if x["ret"] < o["lo"]:
                        lb = max(lb, p[id(x)])
                for x in so_pred[id(o)]:  # session order
                    lb = max(lb, idx[id(x)] + 1 if x["op"] in WRITES else p[id(x)])
                if o["op"] != "sync":
                    while lb <= hi[id(o)] and not _obs_ok(o, states[lb].get(o["key"])):
                        lb += 1
                if lb > hi[id(o)]:
                    return False
                if lb != p[id(o)]:
                    p[id(o)] = lb
                    changed = True
        for y in definite:  # a write comes after its session's earlier reads/syncs
            for x in so_pred[id(y)]:
                if x["op"] not in WRITES and p[id(x)] > idx[id(y)]:
                    return False
        return True

    def orders(rest, placed, st):
        if not rest:
            yield list(placed)
            return
        for w in rest:
            if any(x["ret"] < w["inv"] for x in rest if x is not w):
                continue
            res, ns = _apply(w, st.get(w["key"]))
            if w["status"] == "info":
                if res[0] != "ok":
                    continue
            elif not _result_ok(w, res):
                continue
            old = st.get(w["key"], "MISSING")
            st[w["key"]] = ns
            placed.append(w)
            yield from orders([x for x in rest if x is not w], placed, st)
            placed.pop()
            if old == "MISSING":
                del st[w["key"]]
            else:
                st[w["key"]] = old

    for k in range(len(infos) + 1):
        for sub in itertools.combinations(infos, k):
            for order in orders(definite + list(sub), [], {}):
                if positions_ok(order):
                    return True
    return False


def tiny_history(rng, keys=("/k",), nsess=3, nops=7, pipelined=False, p_info=0.15, lag=3,
                 shared=False):
    """A small random history: a random true execution (write points in
    their intervals, reads at random lagging prefixes), then sometimes a
    random corruption.  Produces both valid and invalid histories.
    ``pipelined``: session s0 is declared pipelined and has overlapping
    ops; ``shared``: s0 has overlapping ops without the declaration (two
    threads sharing a session)."""
    sess = ["s%d" % i for i in range(nsess)]
    pipe = {sess[0]} if pipelined else set()
    overlap = {sess[0]} if (pipelined or shared) else set()
    ops = []
    clock = {s: rng.uniform(0, 2) for s in sess}
    for n in range(nops):
        s = rng.choice(sess)
        kind = rng.choice(["create", "set", "set", "setv", "delete", "get", "get",
                           "exists", "sync", "sync" if lag > 3 else "get"])
        inv = clock[s]
        d = rng.uniform(0.2, 3) if rng.random() < 0.8 else rng.uniform(3, 8)
        if s in overlap:
            clock[s] = inv + rng.uniform(0.1, 1.5)
        else:
            clock[s] = inv + d + rng.uniform(0.05, 1)
        ops.append({"session": s, "kind": kind, "key": rng.choice(keys), "inv": inv,
                    "ret": inv + d, "value": "v%d" % n})
    if pipe:  # FIFO replies on a pipelined session
        p = sorted([o for o in ops if o["session"] in pipe], key=lambda o: o["inv"])
        for a, b in zip(p, p[1:]):
            b["ret"] = max(b["ret"], a["ret"] + 0.01)
    # true execution: each write at a point in its interval
    for o in ops:
        o["pt"] = rng.uniform(o["inv"], o["ret"])
    writes = sorted([o for o in ops if o["kind"] not in ("get", "exists", "sync")],
                    key=lambda o: o["pt"])
    st = {}
    hist = [(-INF, {})]
    recs = []
    for w in writes:
        f = "set" if w["kind"] == "setv" else w["kind"]
        ev = None
        if w["kind"] == "setv" or (f == "delete" and rng.random() < 0.3):
            ev = rng.choice([0, 1])
        w["rec"] = {"op": f, "value": w["value"] if f != "delete" else None, "version": ev}
        res, ns = _apply(w["rec"], st.get(w["key"]))
        if rng.random() < p_info:
            w["status"] = "info"
            if rng.random() < 0.5:
                continue  # never applied
        elif res[0] == "ok":
            w["status"] = "ok"
        else:
            w["status"] = "fail"
            w["error"] = res[1]
        w["res"] = res
        st = dict(st)
        st[w["key"]] = ns
        hist.append((w["pt"], st))
    for o in ops:
        if o["kind"] in ("get", "exists", "sync"):
            # observe a random prefix not later than the op's point
            cands = [h for h in hist if h[0] <= o["pt"]]
            o["seen"] = rng.choice(cands[-lag:])[1]
    for i, o in enumerate(ops):
        r = {"type": "op", "id": i + 1, "session": o["session"], "key": o["key"],
             "inv": o["inv"], "ret": o["ret"], "result": None, "error": None,
             "value": None, "version": None}
        if o["kind"] == "sync":
            r.update(op="sync", status="ok")
        elif o["kind"] in ("get", "exists"):
            s = o["seen"].get(o["key"])
            r["op"] = o["kind"]
            if s is None:
                r.update(status="ok" if o["kind"] == "exists" else "fail",
                         error=None if o["kind"] == "exists" else "NoNode")
            else:
                r["status"] = "ok"
                r["result"] = ({"value": s[0], "version": s[1]} if o["kind"] == "get"
                               else {"version": s[1]})
        else:
            rec = o["rec"]
            r.update(op=rec["op"], value=rec["value"], version=rec["version"],
                     status=o.get("status", "info"))
            if r["status"] == "info":
                r["ret"] = None
            elif r["status"] == "fail":
                r["error"] = o["error"]
            elif rec["op"] == "set":
                r["result"] = {"version": o["res"][1]}
        recs.append(r)
    if rng.random() < 0.4:  # corrupt one result
        r = rng.choice(recs)
        if r["op"] == "get" and r["status"] == "ok":
            r["result"]["version"] += rng.choice([-1, 1])
        elif r["op"] == "set" and r["status"] == "ok":
            r["result"]["version"] += 1
        elif r["status"] == "fail" and r["op"] in WRITES:
            r["status"], r["error"] = "ok", None
        elif r["op"] in ("get", "exists"):
            r["status"], r["error"] = "fail", "NoNode"
            r["op"] = "get"
            r["result"] = None
    lines = [{"type": "session", "session": s, "pipelined": True} for s in pipe]
    return lines + recs


def timed_history(rng):
    """Long overlapping writes of /k observed by short reads of several
    sessions, syncs and writes of /a in between: the cases where times
    (not just orders) matter -- e.g. a read that returned before a sync
    started bounds what the sync'd read may show."""
    h = H()
    h.create("s0", "/k", "x", 0, 0.5)
    if rng.random() < 0.5:
        h.create("s0", "/a", "a0", 0, 0.5)
    states = [("x", 0, 0)]
    t = 1
    for i in range(1, rng.randint(1, 3) + 1):
        inv = t + rng.uniform(0, 2)
        h.set("w%d" % i, "/k", "w%d" % i, inv, inv + rng.uniform(0.5, 8), ver=i)
        states.append(("w%d" % i, i, inv))
        t = inv
    for s in range(rng.randint(2, 4)):
        name = "o%d" % s
        t = rng.uniform(0.6, 6)
        for j in range(rng.randint(1, 3)):
            kind = rng.choice(["get", "sync", "wa", "geta"])
            d = rng.uniform(0.1, 1.5)
            if kind == "sync":
                h.sync(name, t, t + d)
            elif kind == "wa":
                h.set(name, "/a", "%s-%d" % (name, j), t, t + d)
            elif kind == "geta":
                h.get(name, "/a", "a0", 0, t, t + d)
            else:
                st = rng.choice([x for x in states if x[2] < t + d])
                h.get(name, "/k", st[0], st[1], t, t + d)
            t += d + rng.uniform(0.05, 1)
        st = rng.choice([x for x in states if x[2] < t + 0.3])
        h.get(name, "/k", st[0], st[1], t, t + 0.3)
    return h.lines()


def _verdict(lines, **kw):
    r = lincheck.check(History.load(lines), explain=False, **kw)
    return r.verdict


@pytest.mark.parametrize("sessions", ["sequential", "pipelined", "shared"])
def test_differential_single_key_equals_brute_force(sessions):
    rng = random.Random(sessions)
    counts = {True: 0, False: 0}
    for n in range(1200):
        lines = tiny_history(rng, nsess=rng.randint(2, 4), nops=rng.randint(3, 9),
                             pipelined=sessions == "pipelined", shared=sessions == "shared",
                             p_info=rng.choice([0.1, 0.3, 0.5]), lag=rng.choice([2, 3, 5, 8]))
        want = brute(json.loads(json.dumps(lines)))
        got = _verdict(lines)
        assert got in ("ok", "anomaly")
        assert (got == "ok") == want, (n, json.dumps(lines), got, want)
        counts[want] += 1
    assert counts[True] > 200 and counts[False] > 200, counts


def test_differential_timed_windows():
    """Histories where a sync or a session's write must order after reads
    of other sessions: equal to brute force on one key, sound on two."""
    rng = random.Random(77)
    seen = {}
    for n in range(1500):
        lines = timed_history(rng)
        want = brute(json.loads(json.dumps(lines)))
        got = _verdict(lines)
        one_key = not any(r.get("key") == "/a" for r in lines)
        if got == "anomaly":
            assert not want, (n, json.dumps(lines))
        elif one_key:
            assert want, (n, json.dumps(lines))
        seen[want] = seen.get(want, 0) + 1
    assert seen.get(True, 0) > 100 and seen.get(False, 0) > 100, seen


def test_differential_two_keys_anomalies_are_real():
    """Across keys the checker checks only part of session order: every
    anomaly it reports must be one for the full model; count what it
    misses."""
    rng = random.Random(99)
    missed = caught = valid = 0
    for n in range(800):
        lines = tiny_history(rng, keys=("/a", "/b"), nsess=rng.randint(2, 4),
                             nops=rng.randint(4, 9), p_info=rng.choice([0.1, 0.3]),
                             lag=rng.choice([2, 3, 5]))
        want = brute(json.loads(json.dumps(lines)))
        got = _verdict(lines)
        if got == "anomaly":
            assert not want, (n, json.dumps(lines))
            caught += 1
        elif not want:
            missed += 1
        else:
            valid += 1
    assert caught > 100 and valid > 100
    print("two keys: %d valid, %d anomalies caught, %d cross-key-only anomalies missed"
          % (valid, caught, missed))


# ---------------------------------------------------------------------------
# simulated ZooKeeper-like ensemble


class Sim:
    """A leader with a log (ZooKeeper's zxids: errors are logged too),
    followers that apply prefixes of it with lag, sessions that read from
    their follower (which first catches up to the session's last zxid),
    write through the leader, sync, lose replies (the write then lands
    later or never) and reconnect elsewhere.  Correct by construction for
    the full model; ``fault`` breaks it once in a way the model forbids."""

    def __init__(self, seed, nsess=5, keys=("/a", "/b", "/c"), nops=60, followers=3,
                 p_info=0.05, p_sync=0.12, fault=None, final_reads=True, fault_after=0.0):
        self.rng = random.Random(seed)
        self.h = History()
        self.keys = list(keys)
        self.log = []                        # zxid = index + 1
        self.kstates = {k: [(0, None)] for k in keys}
        self.leader = {k: None for k in keys}
        self.applied = [0] * followers
        self.nf = followers
        self.p_info, self.p_sync = p_info, p_sync
        self.fault = fault
        self.fault_after = fault_after
        self.injected = False
        self.frozen = {}                     # key -> session allowed to write it
        self.inflight = {k: 0 for k in keys}
        self.had_info = set()
        self.done = {k: [] for k in keys}    # completed ok writes: (inv, ret, fn, state)
        self.deferred = None
        self.events = []
        self.seq = itertools.count()
        self.final_reads = final_reads
        self.ctr = itertools.count()
        self.sessions = []
        for i in range(nsess):
            s = {"name": "s%d" % i, "f": self.rng.randrange(followers), "z": 0,
                 "left": nops, "synced": None, "forced": None, "last": {}, "ver": {}}
            self.sessions.append(s)
            self.at(self.rng.uniform(0, 1), self.next_op, s)

    def at(self, t, fn, *a):
        heapq.heappush(self.events, (t, next(self.seq), fn, a))

    def run(self):
        while self.events:
            t, _, fn, a = heapq.heappop(self.events)
            fn(t, *a)
        if self.final_reads:
            t = max(max((r["ret"] or r["inv"]) for r in self.h.records()), 0) + 100
            for s in self.sessions:
                self.reconnect(s)
                tok = self.h.invoke(s["name"], "sync", "/", t=t)
                self.catch_up(s, len(self.log))
                self.h.ok(tok, None, t=t + 0.1)
                t += 0.2
                for k in self.keys:
                    self.read(s, k, t, t + 0.1, "get")
                    t += 0.2
        return self.h

    # -- state -----------------------------------------------------------
    def state_at(self, k, z):
        hs = self.kstates[k]
        lo, hi = 0, len(hs)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if hs[mid][0] <= z:
                lo = mid
            else:
                hi = mid
        return hs[lo][1]

    def commit(self, k, ns, changed):
        self.log.append(k)
        z = len(self.log)
        if changed:
            self.leader[k] = ns
            self.kstates[k].append((z, ns))
        return z

    def catch_up(self, s, z):
        self.applied[s["f"]] = max(self.applied[s["f"]], z)
        s["z"] = max(s["z"], self.applied[s["f"]])

    def reconnect(self, s):
        s["f"] = self.rng.randrange(self.nf)
        self.applied[s["f"]] = max(self.applied[s["f"]], s["z"])

    # -- client ----------------------------------------------------------
    def next_op(self, t, s):
        if s["left"] <= 0:
            return
        s["left"] -= 1
        rng = self.rng
        d = rng.uniform(0.2, 2.0)
        if s["forced"]:
            kind, k = s["forced"]
            s["forced"] = None
        else:
            k = rng.choice(self.keys)
            kind = rng.choices(["get", "exists", "set", "cas", "create", "delete", "delv",
                                "sync"],
                               [30, 5, 20, 8, 12, 6, 3, 100 * self.p_sync])[0]
            if kind in ("set", "cas", "create", "delete", "delv") and \
                    self.frozen.get(k, s["name"]) != s["name"]:
                kind = "get"
        if kind == "sync":
            tok = self.h.invoke(s["name"], "sync", "/", t=t)
            pt = t + rng.uniform(0, d)
            self.at(pt, self.sync_point, s, tok, t + d)
            s["forced"] = ("get", k)
            s["left"] += 1
            return
        if kind in ("get", "exists"):
            self.at(t + rng.uniform(0, d), self.read_point, s, k, t, t + d, kind)
            return
        fn = {"cas": "set", "delv": "delete"}.get(kind, kind)
        ev = s["ver"].get(k, 0) if kind in ("cas", "delv") else None
        val = "%s-%d" % (s["name"], next(self.ctr)) if fn != "delete" else None
        tok = self.h.invoke(s["name"], fn, k, val, ev, t=t)
        w = {"tok": tok, "k": k, "fn": fn, "val": val, "ev": ev, "inv": t, "ret": t + d,
             "s": s, "victim": None}
        if self.fault in ("lost_write", "reorder") and not self.injected and \
                t >= self.fault_after and \
                self.inflight[k] == 0 and k not in self.had_info and k not in self.frozen \
                and (fn == "set" and ev is None or self.fault == "lost_write"):
            w["victim"] = self.fault
            self.frozen[k] = s["name"]
        info = w["victim"] is None and rng.random() < self.p_info
        self.inflight[k] += 1
        if info:
            self.had_info.add(k)
            if rng.random() < 0.5:
                self.at(t + rng.uniform(0, d + 4), self.write_point, w, True)
            else:
                self.inflight[k] -= 1  # never reaches the leader
            self.at(t + d, self.lost_reply, s, tok)
        else:
            self.at(t + rng.uniform(0, d), self.write_point, w, False)

    def write_point(self, t, w, info):
        k = w["k"]
        self.inflight[k] -= 1
        op = {"op": w["fn"], "value": w["val"], "version": w["ev"]}
        res, ns = _apply(op, self.leader[k])
        vic = w["victim"]
        if vic and (res[0] != "ok" or (vic == "reorder" and self.leader[k] is None)):
            vic = w["victim"] = None       # cannot inject here: behave
            del self.frozen[k]
        if vic == "lost_write":
            self.injected = True           # acknowledge, never apply; nobody writes k again
            self.frozen[k] = "#nobody"
            z = len(self.log)
        elif vic == "reorder":
            self.injected = True           # acknowledge now, apply after the next write
            self.deferred = (k, ns)
            self.inflight[k] += 1
            w["s"]["forced"] = ("set2", k)
            z = len(self.log)
        else:
            z = self.commit(k, ns, res[0] == "ok")
            if self.deferred and self.deferred[0] == k and w.get("second"):
                _, dns = self.deferred
                self.deferred = None
                self.inflight[k] -= 1
                z = self.commit(k, (dns[0], ns[1] + 1), True)
                res = ("ok", ns[1])
                del self.frozen[k]
        if not info:
            self.at(max(t, w["ret"]), self.reply, w, res, z)

    def reply(self, t, w, res, z):
        s = w["s"]
        self.catch_up(s, z)
        if res[0] == "ok":
            result = {"version": res[1], "mzxid": z} if w["fn"] == "set" else None
            self.h.ok(w["tok"], result, t=t)
            st = self.state_at(w["k"], z) if w["victim"] is None else None
            self.done[w["k"]].append((w["inv"], t, w["fn"], st, w["victim"]))
            if w["fn"] != "delete":
                s["ver"][w["k"]] = res[1]
        else:
            self.h.fail(w["tok"], res[1], t=t)
        self.schedule(s, t)

    def lost_reply(self, t, s, tok):
        self.h.info(tok, "ConnectionLoss", t=t)
        self.reconnect(s)
        self.schedule(s, t)

    def sync_point(self, t, s, tok, ret):
        L = len(self.log)
        self.at(ret, self.sync_reply, s, tok, L)

    def sync_reply(self, t, s, tok, L):
        self.catch_up(s, L)
        self.h.ok(tok, None, t=t)
        s["synced"] = True
        self.schedule(s, t)

    def read_point(self, t, s, k, inv, ret, kind):
        self.read(s, k, inv, ret, kind)
        self.schedule(s, ret)

    def read(self, s, k, inv, ret, kind):
        rng = self.rng
        f = s["f"]
        self.applied[f] = max(self.applied[f], s["z"])
        if rng.random() < 0.5:
            self.applied[f] = rng.randint(self.applied[f], len(self.log))
        st = self.state_at(k, self.applied[f])
        s["z"] = max(s["z"], self.applied[f])
        st = self.maybe_corrupt_read(s, k, st, inv, kind)
        tok = self.h.invoke(s["name"], kind, k, t=inv)
        if kind == "get":
            if st is None:
                self.h.fail(tok, "NoNode", t=ret)
            else:
                self.h.ok(tok, {"value": st[0], "version": st[1]}, t=ret)
        else:
            self.h.ok(tok, None if st is None else {"version": st[1]}, t=ret)
        s["last"][k] = (st, inv)
        if st is not None:
            s["ver"][k] = st[1]
        s["synced"] = False

    def maybe_corrupt_read(self, s, k, st, inv, kind):
        if self.injected or self.fault not in ("stale_sync_read", "backwards_read") or \
                inv < self.fault_after:
            return st
        done = [d for d in self.done[k] if d[4] is None]
        if self.fault == "stale_sync_read" and s["synced"]:
            # the sync was invoked after w completed, w0 completed before w began
            sync_inv = [r for r in self.h.records() if r["session"] == s["name"]][-1]["inv"]
            for w in done:
                if w[1] < sync_inv:
                    for w0 in done:
                        if w0[2] != "delete" and w0[1] < w[0] and w0[3] != st:
                            self.injected = True
                            return w0[3]
        if self.fault == "backwards_read" and kind == "get" and \
                s["last"].get(k, (None,))[0] is not None:
            # the session's previous read of k saw w1's state; w0 completed
            # before w1 began
            seen = s["last"][k][0]
            w1 = [w for w in done if w[3] == seen and w[2] != "delete"]
            if w1:
                for w0 in done:
                    if w0[2] != "delete" and w0[1] < w1[0][0]:
                        self.injected = True
                        return w0[3]
        return st

    def schedule(self, s, t):
        if s["forced"] and s["forced"][0] == "set2":
            k = s["forced"][1]
            s["forced"] = None
            tok = self.h.invoke(s["name"], "set", k, "%s-%d" % (s["name"], next(self.ctr)),
                                t=t + 0.01)
            r = self.h._ops[tok]
            w = {"tok": tok, "k": k, "fn": "set", "val": r["value"], "ev": None,
                 "inv": t + 0.01, "ret": t + 1, "s": s, "victim": None, "second": True}
            self.inflight[k] += 1
            self.at(t + 0.5, self.write_point, w, False)
            return
        self.at(t + self.rng.expovariate(2.0), self.next_op, s)


def validate_witness(h, result):
    """Re-check the order the search returned for each key against the
    per-key model, directly: results and reads match the state at their
    place, real time and session order are respected, and each read comes
    after every op of its key that completed before its barrier time."""
    prep = lincheck.Prepared(h)
    for kr in result.keys:
        assert kr.verdict == "ok" and kr.order is not None
        ops = {o.id: o for o in prep.key_ops(kr.key)}
        pos = {i: n for n, i in enumerate(kr.order)}
        # every definite op and every read is in the order, nothing else
        for o in ops.values():
            assert (o.id in pos) or not o.definite, o.describe()
        assert set(pos) <= set(ops)
        st = prep.init.get(kr.key)
        for i in kr.order:
            o = ops[i]
            if o.kind == lincheck.WRITE:
                res, ns = lincheck.apply_write(o.op, o.cval, o.ever, st)
                if not o.definite:
                    assert res[0] == "ok"
                elif o.outcome[0] == "ok":
                    assert res[0] == "ok" and o.outcome[1] in (None, res[1]), o.describe()
                elif o.outcome[1] == "NotEmpty":
                    assert res[0] == "ok"
                    ns = st
                elif o.outcome[1] == "NoNodeParent":
                    assert st is None
                else:
                    assert res == ("err", o.outcome[1]), o.describe()
                if res[0] == "ok" and o.outcome and o.outcome[0] == "ok" or not o.definite:
                    st = ns
            else:
                assert o.obs in lincheck.match_keys(st), (o.describe(), st)
        order = [ops[i] for i in kr.order]
        for x in order:
            for y in order:
                if x is y:
                    continue
                before = pos[y.id] < pos[x.id]   # y placed before x
                if x.kind == lincheck.WRITE and y.kind == lincheck.WRITE and y.ret < x.inv:
                    assert before, ("real time", x.describe(), y.describe())
                if x.kind != lincheck.READ:
                    continue
                if y.kind == lincheck.WRITE and y.inv > x.ret:
                    assert not before, ("future write", x.describe(), y.describe())
                if y.session == x.session and y.definite and y.ret < x.inv:
                    assert before, ("session order", x.describe(), y.describe())
                bar = prep.barrier.get(x.id)
                if bar is not None and y.definite and y.ret < bar[0]:
                    assert before, ("barrier", x.describe(), y.describe())


def test_simulated_correct_ensemble_passes():
    t0 = time.monotonic()
    for seed in range(12):
        h = Sim(seed, nsess=4 + seed % 4, nops=80).run()
        r = lincheck.check(h)
        assert r.verdict == "ok", (seed, r.text())
        validate_witness(h, r)
        info = sum(1 for x in h.records() if x["status"] == "info")
        assert info > 0 or seed % 5 == 4
    assert time.monotonic() - t0 < 8


def test_simulated_lagging_reads_actually_lag():
    """The simulator's reads are really stale sometimes (else the test
    above would prove little about the non-linearizable read model)."""
    h = Sim(3, nsess=6, nops=100, p_sync=0).run()
    assert lincheck.check(h).verdict == "ok"
    recs = h.records()
    # the same history where every read is declared to come after a sync of
    # its own session must fail: plain reads saw old states
    strict = []
    for r in recs:
        if r["op"] in ("get", "exists"):
            strict.append({"type": "op", "id": "sync%d" % r["id"], "session": r["session"],
                           "op": "sync", "key": "/", "inv": r["inv"] - 1e-6,
                           "ret": r["inv"] - 1e-6, "status": "ok"})
        strict.append(r)
    assert lincheck.check(History.load(strict)).verdict == "anomaly"


@pytest.mark.parametrize("fault", ["stale_sync_read", "lost_write", "reorder",
                                   "backwards_read"])
def test_simulated_fault_is_caught(fault):
    caught = 0
    for seed in range(40):
        sim = Sim(1000 + seed, nsess=5, nops=60, fault=fault,
                  p_sync=0.25 if fault == "stale_sync_read" else 0.1)
        h = sim.run()
        if not sim.injected:
            continue
        r = lincheck.check(h, explain_budget=2)
        assert r.verdict == "anomaly", (fault, seed, r.text())
        caught += 1
        if caught >= 8:
            break
    assert caught >= 8, "fault %s injected only %d times" % (fault, caught)


def test_search_reductions_never_change_verdicts():
    """Value placeholders, symmetry between indeterminate writes and the
    dominance memo only prune: the plain search (exact values, plain memo)
    agrees on simulated histories with many lost replies, some corrupted.
    The listed seeds caught a deliberately inverted dominance test."""
    agree = 0
    for seed in list(range(100)) + [263, 706, 828, 955, 1323]:
        rng = random.Random(seed)
        h = Sim(seed, nsess=rng.randint(3, 6), keys=["/a"], nops=rng.randint(8, 25),
                p_info=rng.choice([0.1, 0.3]), final_reads=rng.random() < 0.5).run()
        recs = h.records()
        for _ in range(rng.randint(0, 2)):
            r = rng.choice(recs)
            if r["op"] == "get" and r["status"] == "ok":
                r["result"]["version"] += rng.choice([-1, 1])
            elif r["op"] == "set" and r["status"] == "ok" and r["result"]:
                r["result"]["version"] += 1
            elif r["op"] in ("create", "delete") and r["status"] == "ok":
                r["status"] = "fail"
                r["error"] = "NodeExists" if r["op"] == "create" else "NoNode"
        prep = lincheck.Prepared(History.load(recs))
        for k in prep.keys:
            ops = prep.key_ops(k)
            v = {lincheck.KeyProblem(prep, k, ops).solve(node_limit=50000)[0],
                 lincheck.KeyProblem(prep, k, ops).solve(node_limit=50000,
                                                         dominance=False)[0],
                 lincheck.KeyProblem(prep, k, ops, exact=True).solve(node_limit=20000,
                                                                      dominance=False)[0]}
            v.discard("unknown")
            assert len(v) <= 1, (seed, v)
            agree += 1
    assert agree >= 100


def test_hints_do_not_change_verdicts():
    """mzxid only orders the search: a server that lies about it changes
    nothing, and neither does ignoring it."""
    for seed in range(6):
        for fault in (None, "lost_write"):
            h = Sim(500 + seed, nsess=5, nops=50, fault=fault).run()
            recs = [r for r in History.load(list(h.lines())).records()]
            rng = random.Random(seed)
            lying = json.loads(json.dumps(recs))
            for r in lying:
                if r["result"] and "mzxid" in r["result"]:
                    r["result"]["mzxid"] = rng.randrange(1000)
            v = {lincheck.check(History.load(recs), explain=False).verdict,
                 lincheck.check(History.load(recs), explain=False, hints=False).verdict,
                 lincheck.check(History.load(lying), explain=False).verdict}
            assert len(v) == 1, (seed, fault, v)


def test_performance_10k_ops_50_keys():
    keys = ["/k%02d" % i for i in range(50)]
    h = Sim(7, nsess=10, keys=keys, nops=1000, p_info=0.01, final_reads=False).run()
    assert len(h) >= 10000
    t0 = time.monotonic()
    r = lincheck.check(h, budget=30)
    dt = time.monotonic() - t0
    assert r.verdict == "ok", r.text()
    assert dt < 6, dt
    print("10k ops / 50 keys: %.2f s" % dt)
    validate_witness(h, r)


def test_performance_hot_key_with_anomaly():
    # 2000 ops on one key, 10 sessions, one lost write: found and explained
    h = Sim(11, nsess=10, keys=["/hot"], nops=200, p_info=0.01, fault="lost_write").run()
    t0 = time.monotonic()
    r = lincheck.check(h, budget=20, explain_budget=3)
    assert r.verdict == "anomaly", r.text()
    assert len(r.anomalies[0].core) <= 6, r.text()
    assert time.monotonic() - t0 < 8


def test_performance_hot_key():
    # 3000+ ops on one key, 10 sessions, 5% lost replies: valid, and with
    # a stale read after sync injected late in the run
    h = Sim(7, nsess=10, keys=["/hot"], nops=300, p_info=0.05, final_reads=False).run()
    t0 = time.monotonic()
    r = lincheck.check(h, budget=30)
    assert r.verdict == "ok", r.text()
    dt = time.monotonic() - t0
    sim = Sim(3, nsess=10, keys=["/hot"], nops=300, p_info=0.02, fault="stale_sync_read",
              fault_after=150, p_sync=0.2)
    h = sim.run()
    assert sim.injected
    t0 = time.monotonic()
    r = lincheck.check(h, budget=30, explain_budget=2)
    assert r.verdict == "anomaly", r.text()
    dt2 = time.monotonic() - t0
    assert dt < 5 and dt2 < 6, (dt, dt2)
    print("hot key: valid %.2f s, anomaly %.2f s" % (dt, dt2))


def test_budget_exhausted_is_unknown_not_ok():
    # 22 concurrent sets whose results carry no version, then a read nobody
    # can explain: proving that means trying every subset of them
    h = H()
    h.create("a", "/k", "x", 0, 1)
    for i in range(22):
        h.set("w%d" % i, "/k", "u%d" % i, 2 + i * 0.01, 9)
    h.get("r", "/k", "nope", 1, 10, 11)
    r = h.check(budget=0.3, explain=False)
    assert r.verdict == "unknown", r.text()
    assert "UNKNOWN" in r.text()


# ---------------------------------------------------------------------------
# recorder, file format, CLI


class FakeStat:
    def __init__(self, version, mzxid):
        self.version, self.mzxid = version, mzxid


def test_recorder_threads_and_roundtrip(tmp_path):
    h = History()
    h.set_initial("/k", b"init", 0)

    def worker(n):
        for i in range(200):
            t = h.invoke("s%d" % n, "get", "/k")
            h.ok(t, (b"init", FakeStat(0, 1)))

    th = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for x in th:
        x.start()
    for x in th:
        x.join()
    assert len(h) == 800
    recs = h.records()
    assert len({r["id"] for r in recs}) == 800
    assert all(r["inv"] <= r["ret"] for r in recs)
    p = str(tmp_path / "h.jsonl")
    h.save(p)
    h2 = History.load(p)
    assert h2.records() == recs
    assert h2.init == {"/k": ("init", 0)}
    assert lincheck.check(h2).verdict == "ok"


def test_streamed_history_with_unfinished_op(tmp_path):
    p = str(tmp_path / "s.jsonl")
    h = History(stream=p)
    h.declare_session("a", pipelined=False)
    t = h.invoke("a", "create", "/k", b"x")
    h.ok(t, "/k")
    t = h.invoke("a", "set", "/k", b"y")
    h.ok(t, FakeStat(1, 9))
    h.invoke("a", "set", "/k", b"z")          # the test crashed here
    t = h.invoke("b", "get", "/k")
    h.ok(t, (b"z", FakeStat(2, 10)))
    h.close()
    h2 = History.load(p)
    recs = h2.records()
    assert [r["status"] for r in recs] == ["ok", "ok", "info", "ok"]
    assert recs[1]["result"] == {"version": 1, "mzxid": 9}
    assert lincheck.check(h2).verdict == "ok"


def test_kazoo_exceptions_classified():
    kex = pytest.importorskip("kazoo.exceptions")
    from history import classify_error, error_name
    for e in (kex.NoNodeError, kex.NodeExistsError, kex.BadVersionError, kex.NotEmptyError):
        assert classify_error(e()) == "fail"
    assert error_name(kex.NoNodeError()) == "NoNode"
    for e in (kex.ConnectionLoss, kex.OperationTimeoutError, kex.SessionExpiredError,
              kex.ConnectionClosedError, kex.NoAuthError):
        assert classify_error(e()) == "info"


def test_recorded_client_with_fake_kazoo():
    kex = pytest.importorskip("kazoo.exceptions")

    class FakeZK:
        client_id = (0x1234, b"pw")

        def __init__(self):
            self.data = {}

        def create(self, k, v):
            if k in self.data:
                raise kex.NodeExistsError()
            self.data[k] = (v, 0)
            return k

        def set(self, k, v, version=-1):
            if k not in self.data:
                raise kex.NoNodeError()
            if version not in (-1, self.data[k][1]):
                raise kex.BadVersionError()
            self.data[k] = (v, self.data[k][1] + 1)
            return FakeStat(self.data[k][1], 0)

        def get(self, k):
            if k not in self.data:
                raise kex.NoNodeError()
            return self.data[k][0], FakeStat(self.data[k][1], 0)

        def delete(self, k, version=-1):
            raise kex.ConnectionLoss()

        def exists(self, k):
            return FakeStat(self.data[k][1], 0) if k in self.data else None

        def sync(self, k):
            return k

    h = History()
    zk = FakeZK()
    c = RecordedClient(h, zk, "c1")
    assert c.get("/k") == ("fail", "NoNode")
    assert c.create("/k", b"a")[0] == "ok"
    assert c.create("/k", b"b") == ("fail", "NodeExists")
    assert c.set("/k", b"c", version=5) == ("fail", "BadVersion")
    assert c.set("/k", b"d")[0] == "ok"
    assert c.delete("/k") == ("info", "ConnectionLoss")
    c.sync()
    assert c.exists("/k")[0] == "ok"
    assert c.get("/k")[1][0] == b"d"
    zk.client_id = (0x9999, b"pw")             # session expired, new one
    c.get("/k")
    sess = [r["session"] for r in h.records()]
    assert sess[0] == "c1/0x1234" and sess[-1] == "c1/0x9999"
    assert lincheck.check(h).verdict == "ok"


def test_bad_input_rejected():
    with pytest.raises(ValueError):
        lincheck.check(History.load([{"id": 1, "session": "a", "op": "frob", "key": "/k",
                                      "inv": 0, "ret": 1, "status": "ok"}]))
    with pytest.raises(ValueError):
        lincheck.check(History.load([{"id": 1, "session": "a", "op": "get", "key": "/k",
                                      "inv": 2, "ret": 1, "status": "fail",
                                      "error": "NoNode"}]))


def _cli(path, *args):
    return subprocess.run([sys.executable, os.path.join(HERE, "lincheck.py"), path] +
                          list(args), capture_output=True, text=True, timeout=60)


def test_cli(tmp_path):
    good = H()
    good.create("a", "/k", "x", 0, 1).get("b", "/k", "x", 0, 2, 3)
    p = tmp_path / "good.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in good.lines()))
    r = _cli(str(p))
    assert r.returncode == 0 and r.stdout.startswith("OK"), r.stdout + r.stderr

    badh = H()
    badh.create("a", "/k", "x", 0, 1).set("a", "/k", "y", 2, 3, ver=1)
    badh.sync("b", 4, 5).get("b", "/k", "x", 0, 6, 7)
    p = tmp_path / "bad.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in badh.lines()))
    r = _cli(str(p))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "ANOMALY" in r.stdout and "/k" in r.stdout and "#4" in r.stdout and "#2" in r.stdout
    r = _cli(str(p), "--json")
    j = json.loads(r.stdout)
    assert j["verdict"] == "anomaly" and j["keys"][0]["core"] == [4]

    p = tmp_path / "broken.jsonl"
    p.write_text("{not json\n")
    assert _cli(str(p)).returncode == 3
