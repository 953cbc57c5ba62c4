#!/usr/bin/python3
"""Consistency checker for client histories of a ZooKeeper-compatible
ensemble.  README.md states the model exactly; in short, every operation
gets a point in time --

* a write (create/set/delete, including definite failures such as
  NodeExists or BadVersion, which ZooKeeper orders like any other
  transaction) within its interval: writes are linearizable;
* an indeterminate write (``info``) any time after its invocation, or never;
* a sync within its interval;
* a read at or before its completion, possibly long before (a follower
  may lag), and it returns the state at that point;

-- and each session's points never go backwards (ZooKeeper's FIFO client
order: a read never shows an older state than its session already saw or
wrote; after a sync, it is not older than the sync).

The search is Wing & Gong / Lowe's just-in-time linearization with
memoization of (linearized set, state), per key (P-compositionality):
only the order of writes branches; reads are placed greedily, which is
provably without loss of generality.

Usage: /usr/bin/python3 lincheck.py history.jsonl [--budget S] [--json]
Exit status: 0 consistent, 1 anomaly, 2 unknown (budget exceeded),
3 bad input.
"""

import argparse
import bisect
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from history import History  # noqa: E402

INF = float("inf")
NONE = ("none",)          # observation: the node does not exist
WRITE, READ, SYNC, BARRIER = "w", "r", "s", "b"
KNOWN_WRITE_ERRORS = {
    "create": ("NodeExists", "NoNode"),
    "set": ("NoNode", "BadVersion"),
    "delete": ("NoNode", "BadVersion", "NotEmpty"),
}


class HistoryError(ValueError):
    pass


def canon(v):
    return json.dumps(v, sort_keys=True, separators=(",", ":"))


class Op:
    """One operation, normalized for the checker."""
    __slots__ = ("id", "session", "op", "key", "value", "cval", "ever", "inv",
                 "ret", "status", "error", "result", "kind", "outcome", "obs",
                 "zxid", "definite")

    def describe(self, t0=0.0):
        a = self.op + " " + str(self.key)
        if self.op in ("create", "set"):
            a += " " + _short(self.value)
        if self.ever is not None:
            a += " (expect v%d)" % self.ever
        if self.status == "info":
            r = "info" + (" (%s)" % self.error if self.error else "")
        elif self.status == "fail":
            r = "error " + str(self.error)
        elif self.kind == READ:
            r = obs_text(self.obs)
        elif self.op == "set" and self.outcome[1] is not None:
            r = "ok v%d" % self.outcome[1]
        else:
            r = "ok"
        ret = "inf" if self.ret == INF else "%.6f" % (self.ret - t0)
        return "#%s %s %s -> %s  [%.6f, %s]" % (self.id, self.session, a, r,
                                                 self.inv - t0, ret)


class Barrier:
    """Pseudo-op in one key's problem: a session-earlier op x of a read,
    with x's time window [B, x.ret] (see Prepared._barriers).  It changes
    nothing; the read must come after it, and it comes after every op of
    the key that completed before B (the usual real-time rule)."""
    kind = BARRIER
    definite = True
    op = "barrier"
    outcome = None
    obs = None
    zxid = None
    cval = None
    ever = None
    status = "ok"
    error = None

    def __init__(self, src, lo):
        self.id = ("barrier", src.id)
        self.src = src
        self.session = src.session
        self.key = src.key
        self.inv = lo
        self.ret = src.ret

    def describe(self, t0=0.0):
        return "(time of #%s, at least %.6f)" % (self.src.id, self.inv - t0)


def _short(v, n=40):
    s = json.dumps(v)
    return s if len(s) <= n else s[:n - 3] + "..."


def obs_text(o):
    if o == NONE:
        return "NoNode"
    if o[0] == "vv":
        return "%s v%d" % (_short(json.loads(o[1])), o[2])
    if o[0] == "v":
        return _short(json.loads(o[1]))
    if o[0] == "ver":
        return "exists v%d" % o[1]
    return "exists"


UNREAD = "?"  # stands for any value no read of the key returned


def state_text(s):
    if s is None:
        return "absent"
    if s[0] == UNREAD:
        return "(a value no read returned) v%d" % s[1]
    return "%s v%d" % (_short(json.loads(s[0])), s[1])


def match_keys(s):
    if s is None:
        return (NONE,)
    return (("vv", s[0], s[1]), ("v", s[0]), ("ver", s[1]), ("ex",))


# ---------------------------------------------------------------------------
# Loading and normalization


class Prepared:
    """A whole history, normalized: ops per key, sessions, read barriers."""

    def __init__(self, hist):
        if not isinstance(hist, History):
            hist = History.load(hist)
        self.warnings = []
        self.pipelined = {s for s, m in hist.sessions.items() if m.get("pipelined")}
        self.init = {}
        for k, st in hist.init.items():
            self.init[k] = None if st is None else (canon(st[0]), int(st[1]))
        self.ops = []
        self.by_id = {}
        dropped = 0
        for r in hist.records():
            op = self._normalize(r)
            self.by_id[op.id] = op
            if op.kind is None:
                dropped += 1
                continue
            self.ops.append(op)
        self.dropped = dropped
        self.t0 = min((o.inv for o in self.by_id.values()), default=0.0)
        self.groups = {}
        for o in self.ops:
            if o.kind in (WRITE, READ):
                self.groups.setdefault(o.key, []).append(o)
        self.keys = sorted(self.groups, key=str)
        self._barriers()

    def _normalize(self, r):
        o = Op()
        o.id = r["id"]
        o.session = r["session"]
        o.op = r["op"]
        o.key = r.get("key")
        o.value = r.get("value")
        o.cval = canon(o.value) if o.op in ("create", "set") else None
        v = r.get("version")
        o.ever = int(v) if v is not None and int(v) >= 0 else None
        o.status = r.get("status") or "info"
        if o.status not in ("ok", "fail", "info"):
            raise HistoryError("op %s: bad status %r" % (o.id, o.status))
        try:
            o.inv = float(r["inv"])
        except (KeyError, TypeError, ValueError):
            raise HistoryError("op %s: missing or bad inv time" % (o.id,))
        if o.status == "info":
            o.ret = INF
        else:
            if r.get("ret") is None:
                raise HistoryError("op %s: %s without ret time" % (o.id, o.status))
            o.ret = float(r["ret"])
            if o.ret < o.inv:
                raise HistoryError("op %s: ret before inv" % (o.id,))
        o.error = r.get("error")
        o.result = r.get("result")
        o.definite = o.status != "info"
        o.outcome = o.obs = o.zxid = None
        res = o.result if isinstance(o.result, dict) else {}
        if o.op in ("create", "set", "delete"):
            o.kind = WRITE
            if o.status == "ok":
                if o.op == "set":
                    ver = res.get("version")
                    o.outcome = ("ok", int(ver) if ver is not None else None)
                elif o.op == "create":
                    o.outcome = ("ok", 0)
                else:
                    o.outcome = ("ok", None)
                o.zxid = res.get("mzxid")
            elif o.status == "fail":
                err = o.error
                if err == "NoNode" and o.op == "create":
                    err = "NoNodeParent"  # parent missing: the node is absent too
                elif err not in KNOWN_WRITE_ERRORS[o.op]:
                    # might not have reached the leader at all: no effect,
                    # no place in any order
                    self.warnings.append("op %s: %s failed with %r: ignored (no effect, "
                                         "not ordered)" % (o.id, o.op, o.error))
                    o.kind = None
                o.outcome = ("err", err)
        elif o.op in ("get", "exists"):
            o.kind = READ
            if o.status == "info":
                o.kind = None  # an indeterminate read says nothing
            elif o.status == "fail":
                if o.error == "NoNode":
                    o.obs = NONE
                else:
                    self.warnings.append("op %s: read failed with %r: ignored" % (o.id, o.error))
                    o.kind = None
            elif o.op == "get":
                if not isinstance(o.result, dict) or "value" not in o.result:
                    raise HistoryError("op %s: get ok needs result {value, version}" % (o.id,))
                cv = canon(o.result["value"])
                ver = o.result.get("version")
                o.obs = ("vv", cv, int(ver)) if ver is not None else ("v", cv)
            else:
                if o.result is None:
                    o.obs = NONE
                elif res.get("version") is not None:
                    o.obs = ("ver", int(res["version"]))
                else:
                    o.obs = ("ex",)
        elif o.op == "sync":
            o.kind = SYNC if o.status == "ok" else None
        else:
            raise HistoryError("op %s: unknown op %r" % (o.id, o.op))
        if o.kind in (WRITE, READ) and o.key is None:
            raise HistoryError("op %s: no key" % (o.id,))
        return o

    def _barriers(self):
        """For every read y: the session-earlier op x whose time is known to
        be latest, as (B, x.id, w.id or None), where x's time is at least B.
        In the model every op has a time (writes and syncs within their
        interval, a read not after its completion), and a session's times
        never decrease, so y's time is at least B and y must observe every
        operation (on its key) that completed before B.  x is a sync or a
        definite write on any key (B = x's invocation), or a read that can
        only have observed write w (w alone wrote that value, and it is not
        the key's initial value; B = w's invocation)."""
        writers = {}
        for o in self.ops:
            if o.kind == WRITE and o.op in ("create", "set") and o.status != "fail":
                writers.setdefault((o.key, o.cval), []).append(o)
        self.barrier = {}
        sessions = {}
        for o in self.ops:
            sessions.setdefault(o.session, []).append(o)
        for s, ops in sessions.items():
            contrib = []
            for x in ops:
                c = None
                if x.kind == SYNC or (x.kind == WRITE and x.definite):
                    c = (x.inv, x.id, None)
                elif x.kind == READ and x.obs[0] in ("vv", "v"):
                    ws = writers.get((x.key, x.obs[1]), [])
                    ini = self.init.get(x.key)
                    if len(ws) == 1 and not (ini is not None and ini[0] == x.obs[1]):
                        c = (ws[0].inv, x.id, ws[0].id)
                if c is not None:
                    contrib.append((x, c))
            if not contrib:
                continue
            # real-time part: x.ret < y.inv
            by_ret = sorted(contrib, key=lambda e: e[0].ret)
            rets = [e[0].ret for e in by_ret]
            pmax = []
            best = None
            for _, c in by_ret:
                if best is None or c[0] > best[0]:
                    best = c
                pmax.append(best)
            pipe = s in self.pipelined
            if pipe:
                by_inv = sorted([e for e in contrib if e[0].definite], key=lambda e: e[0].inv)
                invs = [e[0].inv for e in by_inv]
                pmax2 = []
                best = None
                for _, c in by_inv:
                    if best is None or c[0] > best[0]:
                        best = c
                    pmax2.append(best)
            for y in ops:
                if y.kind != READ:
                    continue
                b = None
                i = bisect.bisect_left(rets, y.inv)
                if i:
                    b = pmax[i - 1]
                if pipe:
                    i = bisect.bisect_left(invs, y.inv)
                    if i and (b is None or pmax2[i - 1][0] > b[0]):
                        b = pmax2[i - 1]
                if b is not None:
                    self.barrier[y.id] = b

    def key_ops(self, key):
        return self.groups.get(key, [])


# ---------------------------------------------------------------------------
# One key: the search problem


def apply_write(fn, cval, ever, s):
    """ZooKeeper's semantics of one write on one node: (result, new state)."""
    if fn == "create":
        if s is None:
            return ("ok", 0), (cval, 0)
        return ("err", "NodeExists"), s
    if s is None:
        return ("err", "NoNode"), s
    if ever is not None and ever != s[1]:
        return ("err", "BadVersion"), s
    if fn == "set":
        return ("ok", s[1] + 1), (cval, s[1] + 1)
    return ("ok", None), None


_BAD = object()


def step(o, val, s, mode):
    """New state if op ``o`` can take effect in state ``s`` with the result
    it reported, else _BAD.  mode 1: optional (indeterminate) op, which
    only ever takes effect successfully (a failed attempt is the same as
    none); mode 2: result not checked (relaxed while explaining)."""
    if mode == 3:
        return s
    res, ns = apply_write(o.op, val, o.ever, s)
    if mode:
        return ns if (mode == 2 or res[0] == "ok") else _BAD
    out = o.outcome
    if out[0] == "ok":
        if res[0] == "ok" and (out[1] is None or out[1] == res[1]):
            return ns
        return _BAD
    code = out[1]
    if code == "NotEmpty":  # delete refused because of children: node exists
        return s if res[0] == "ok" else _BAD
    if code == "NoNodeParent":
        return s if s is None else _BAD
    return s if res == ("err", code) else _BAD


class KeyProblem:
    """Ops on one key: writes and reads, with the partial order they must
    respect, ready for the search.

    Every op gets a bit (writes first, ordered by deadline, then reads).
    Required ops must be linearized by their deadline: definite writes and
    reads by their completion; an indeterminate write whose value a read
    returned (and no other write wrote) by the earliest such read's
    completion -- it must have taken effect for that read to see it.  The
    other indeterminate writes are optional: any time after invocation, or
    never."""

    def __init__(self, prep, key, ops, weak=frozenset(), hints=True, exact=False):
        """``weak``: ids of definite writes whose results are not checked
        (they still take effect within their interval, in session order).
        ``exact``: keep every value in the state (for explanations)."""
        self.prep = prep
        self.key = key
        self.weak = weak
        writes = [o for o in ops if o.kind == WRITE]
        reads = [o for o in ops if o.kind == READ]
        barriers, rb = {}, {}
        for o in reads:
            b = prep.barrier.get(o.id)
            if b is not None:
                if b[1] not in barriers:
                    barriers[b[1]] = Barrier(prep.by_id[b[1]], b[0])
                rb[o.id] = barriers[b[1]]
        # Values no read returned are interchangeable (no result depends on
        # a value, only on existence and version): one placeholder for all
        # of them merges states that differ only there.
        seen = {}
        for o in reads:
            if o.obs[0] in ("vv", "v"):
                seen[o.obs[1]] = min(seen.get(o.obs[1], INF), o.ret)
        ini = prep.init.get(key)
        self.init = ini if ini is None or ini[0] in seen or exact else (UNREAD, ini[1])
        nwriters = {}
        for o in writes:
            if o.op in ("create", "set") and o.status != "fail":
                nwriters[o.cval] = nwriters.get(o.cval, 0) + 1
        dret = {}
        for z in barriers.values():
            dret[z.id] = z.ret
        writes += list(barriers.values())
        for o in writes:
            if o.kind == BARRIER:
                continue
            if o.definite:
                dret[o.id] = o.ret
            elif o.op != "delete" and o.cval in seen and nwriters[o.cval] == 1 and \
                    not (ini is not None and ini[0] == o.cval):
                dret[o.id] = seen[o.cval]   # must be in before its first reader
            else:
                dret[o.id] = INF            # optional
        writes.sort(key=lambda o: (dret[o.id], o.inv))
        reads.sort(key=lambda o: (o.ret, o.inv))
        self.ops = writes + reads
        n = self.n = len(self.ops)
        self.nreal = n - len(barriers)
        self.nw = nw = len(writes)
        self.inv = [o.inv for o in self.ops]
        self.dret = [dret[o.id] for o in writes] + [o.ret for o in reads]
        self.val = [o.cval if (o.cval in seen or exact) else UNREAD for o in self.ops]
        self.opt = [self.dret[i] == INF for i in range(n)]
        # step mode: 0 result checked, 1 indeterminate (only a successful
        # attempt counts), 2 result not checked (weak)
        self.mode = [3 if o.kind == BARRIER else
                     1 if not o.definite else (2 if o.id in weak else 0)
                     for o in self.ops]
        self.zmask = 0
        for i in range(nw):
            if self.ops[i].kind == BARRIER:
                self.zmask |= 1 << i
        self.zxid = [o.zxid if hints else None for o in self.ops]
        # Symmetry: optional writes with the same op and expected version
        # (and, being optional, an unread value) are interchangeable; the one
        # invoked earlier can stand in for a later one anywhere, so they are
        # only linearized in invocation order (class "heads" only).
        self.optmask = 0
        self.cls_next = [None] * n
        self.heads0 = 0
        last = {}
        for i in sorted((i for i in range(nw) if self.opt[i]), key=lambda i: (self.inv[i], i)):
            o = self.ops[i]
            self.optmask |= 1 << i
            c = (o.op, o.ever, self.val[i])
            if c in last:
                self.cls_next[last[c]] = i
            else:
                self.heads0 |= 1 << i
            last[c] = i
        # deadlines of required ops
        self.dl = sorted((i for i in range(n) if not self.opt[i]), key=lambda i: self.dret[i])
        self.dl_ret = [self.dret[i] for i in self.dl]
        # writes by invocation: candidates are those invoked by the deadline
        wi = sorted(range(nw), key=lambda i: self.inv[i])
        self.winv = [self.inv[i] for i in wi]
        self.wpref = [0]
        for i in wi:
            self.wpref.append(self.wpref[-1] | (1 << i))
        # Explicit precedence, beyond real time between writes (which the
        # deadlines enforce).  Session order only relates definite ops.
        pred = [0] * n
        self.why = [dict() for _ in range(n)]
        by_sess = {}
        for i, o in enumerate(self.ops):
            if o.definite and o.kind != BARRIER:
                by_sess.setdefault(o.session, []).append(i)
        for s, items in by_sess.items():
            pipe = s in prep.pipelined
            if pipe:
                items.sort(key=lambda i: self.inv[i])
                keys = [self.inv[i] for i in items]
            else:
                items.sort(key=lambda i: self.ops[i].ret)
                keys = [self.ops[i].ret for i in items]
                pm, m = [], -INF
                for i in items:
                    m = max(m, self.inv[i])
                    pm.append(m)
            for y in items:
                if y < nw and not pipe:
                    continue  # real time already orders it after its session's past
                j = bisect.bisect_left(keys, self.inv[y])
                if not j:
                    continue
                # only the maximal session predecessors: the rest precede them
                k = j - 1
                top = keys[k] if pipe else pm[k]
                while k >= 0 and (keys[k] == top if pipe else keys[k] >= top):
                    x = items[k]
                    if x != y:
                        pred[y] |= 1 << x
                        self.why[y].setdefault("session", []).append(x)
                    k -= 1
        # barriers: the read comes after its barrier pseudo-op
        zi = {o.id: i for i, o in enumerate(self.ops) if o.kind == BARRIER}
        for y in range(nw, n):
            z = rb.get(self.ops[y].id)
            if z is not None:
                pred[y] |= 1 << zi[z.id]
                self.why[y]["barrier"] = prep.barrier[self.ops[y].id]
                self.why[y]["barrier_op"] = zi[z.id]
        self.pred = pred
        self.succ = [[] for _ in range(n)]
        for y in range(nw, n):
            p = pred[y]
            while p:
                b = p & -p
                self.succ[b.bit_length() - 1].append(y)
                p ^= b
        # reads by what they observed
        self.bucket = {}
        for y in range(nw, n):
            k = self.ops[y].obs
            self.bucket[k] = self.bucket.get(k, 0) | (1 << y)
        self._mm = {}
        self.elig0 = 0
        for y in range(nw, n):
            if not pred[y]:
                self.elig0 |= 1 << y

    def matchmask(self, s):
        m = self._mm.get(s)
        if m is None:
            m = 0
            for k in match_keys(s):
                m |= self.bucket.get(k, 0)
            self._mm[s] = m
        return m

    def _lin(self, x, lin, elig):
        lin |= 1 << x
        elig &= ~(1 << x)
        pred = self.pred
        for y in self.succ[x]:
            if not (lin >> y) & 1 and pred[y] & lin == pred[y]:
                elig |= 1 << y
        return lin, elig

    def _greedy(self, lin, s, elig, added):
        """Linearize every read that may be observed now and matches ``s``;
        repeat (a read can unblock the session's next read).  Reads do not
        change the state and nothing needs to precede them once their
        predecessors are in, so observing them as early as possible never
        loses a solution."""
        mk = self.matchmask(s)
        while True:
            m = elig & mk
            if not m:
                return lin, elig
            while m:
                b = m & -m
                y = b.bit_length() - 1
                m ^= b
                lin, elig = self._lin(y, lin, elig)
                added.append(y)

    def solve(self, deadline=INF, node_limit=None, trace=False, dominance=True):
        """Search.  Returns (verdict, info): ('ok', {"order": op ids}),
        ('fail', trace) or ('unknown', {"nodes"}).  ``dominance=False``:
        plain memo (for testing that dominance never changes a verdict)."""
        ops, pred, opt = self.ops, self.pred, self.opt
        mode, val, optmask, cls_next = self.mode, self.val, self.optmask, self.cls_next
        zmask = self.zmask
        # bits: [required writes by deadline | optional writes | reads by deadline]
        nw = self.nw
        nrw = nw - bin(optmask).count("1")
        rwmask = (1 << nrw) - 1
        nomask = (1 << (nw - nrw)) - 1
        dl, dl_ret, nd = self.dl, self.dl_ret, len(self.dl)
        winv, wpref, zx = self.winv, self.wpref, self.zxid
        s0 = self.init
        added0 = []
        lin0, elig0 = self._greedy(0, s0, self.elig0, added0)
        # frame: [lin, elig, state, heads, ptr, cands, ci, added]
        stack = [[lin0, elig0, s0, self.heads0, 0, None, 0, added0]]
        # Memo with dominance: (required writes in, reads in, state) ->
        # [optional writes in].  A configuration is no better than a visited
        # one that differs only by having fewer optional writes in (they
        # stay available, and may stay out).  Sets are stored compactly:
        # ops are indexed by deadline, so a set is a prefix of ones (its
        # length) plus a small window above it.
        visited = {}
        nodes = 0
        best_ptr, best_states = -1, []
        t_check = time.monotonic
        while stack:
            fr = stack[-1]
            cands = fr[5]
            if cands is None:
                lin, s, p = fr[0], fr[2], fr[4]
                x = lin & rwmask
                a = (~x & (x + 1)).bit_length()
                y = lin >> nw
                b = (~y & (y + 1)).bit_length()
                vk = (a, x >> a, b, y >> b, s)
                li = (lin >> nrw) & nomask
                seen = visited.get(vk)
                if seen is None:
                    visited[vk] = [li]
                elif li in seen:
                    stack.pop()
                    continue
                else:
                    if li and dominance:
                        nli = ~li
                        dom = False
                        for vi in seen:
                            if not (vi & nli):
                                dom = True
                                break
                        if dom:
                            stack.pop()
                            continue
                    seen.append(li)
                nodes += 1
                if not nodes & 1023:
                    if t_check() > deadline or (node_limit and nodes > node_limit):
                        return "unknown", {"nodes": nodes}
                while p < nd and (lin >> dl[p]) & 1:
                    p += 1
                fr[4] = p
                if p == nd:
                    order = []
                    for f in stack:
                        order.extend(ops[i].id for i in f[7] if ops[i].kind != BARRIER)
                    return "ok", {"order": order, "nodes": nodes}
                rmin = dl_ret[p]
                pm = wpref[bisect.bisect_right(winv, rmin)]
                cm = (pm & ~lin & ~optmask) | (pm & fr[3])
                if cm & zmask:
                    # a barrier that may go in goes in now: it changes nothing
                    # and only unblocks reads, so no other choice is needed
                    cm &= zmask
                    cm &= -cm
                cands = []
                while cm:
                    b = cm & -cm
                    i = b.bit_length() - 1
                    cm ^= b
                    pi = pred[i]
                    if pi and pi & lin != pi:
                        continue
                    ns = step(ops[i], val[i], s, mode[i])
                    if ns is _BAD:
                        continue
                    cands.append((i, ns))
                if len(cands) > 1 and zx[cands[0][0]] is not None and \
                        all(zx[i] is not None for i, _ in cands):
                    cands.sort(key=lambda c: zx[c[0]])  # order hint only
                fr[5] = cands
            ci = fr[6]
            if ci < len(cands):
                fr[6] = ci + 1
                i, ns = cands[ci]
                lin, elig = self._lin(i, fr[0], fr[1])
                added = [i]
                lin, elig = self._greedy(lin, ns, elig, added)
                heads = fr[3]
                if opt[i]:
                    heads &= ~(1 << i)
                    if cls_next[i] is not None:
                        heads |= 1 << cls_next[i]
                stack.append([lin, elig, ns, heads, fr[4], None, 0, added])
            else:
                if trace:
                    p = fr[4]
                    if p > best_ptr:
                        best_ptr, best_states = p, []
                    if p == best_ptr and fr[2] not in best_states and len(best_states) < 8:
                        best_states.append(fr[2])
                stack.pop()
        if best_ptr < 0:
            best_ptr = 0
        return "fail", {"nodes": nodes, "stuck": self.dl[best_ptr] if nd else None,
                        "ptr": best_ptr, "states": best_states}


# ---------------------------------------------------------------------------
# Checking and explaining


class KeyResult:
    def __init__(self, key, verdict, nops, nodes=0, seconds=0.0):
        self.key = key
        self.verdict = verdict
        self.nops = nops
        self.nodes = nodes
        self.seconds = seconds
        self.order = None
        self.trace = None
        self.core = None
        self.kind = None
        self.explanation = None

    def to_json(self):
        return {"key": self.key, "verdict": self.verdict, "ops": self.nops,
                "nodes": self.nodes, "seconds": round(self.seconds, 4),
                "kind": self.kind, "core": self.core, "explanation": self.explanation}


class Result:
    def __init__(self, prep, keys, seconds):
        self.prep = prep
        self.keys = keys
        self.seconds = seconds
        self.anomalies = [k for k in keys if k.verdict == "fail"]
        self.unknown = [k for k in keys if k.verdict == "unknown"]
        self.verdict = "anomaly" if self.anomalies else ("unknown" if self.unknown else "ok")
        self.warnings = prep.warnings

    @property
    def ok(self):
        return self.verdict == "ok"

    def summary(self):
        p = self.prep
        sess = len({o.session for o in p.ops})
        info = sum(1 for o in p.ops if o.status == "info")
        return ("%d ops (%d indeterminate writes, %d dropped reads/syncs), %d keys, "
                "%d sessions, %.2f s" % (len(p.ops), info, p.dropped, len(p.keys),
                                         sess, self.seconds))

    def text(self):
        out = []
        if self.verdict == "ok":
            out.append("OK: consistent with ZooKeeper's model: " + self.summary())
        elif self.verdict == "unknown":
            out.append("UNKNOWN: search budget exceeded on %d key(s): %s; no anomaly "
                       "found elsewhere. %s" % (len(self.unknown),
                                                ", ".join(str(k.key) for k in self.unknown[:10]),
                                                self.summary()))
        else:
            out.append("ANOMALY on %d key(s): %s. %s" % (
                len(self.anomalies), ", ".join(str(k.key) for k in self.anomalies[:10]),
                self.summary()))
            for k in self.anomalies:
                out.append("")
                out.append(k.explanation or ("key %s: no linearization" % k.key))
            if self.unknown:
                out.append("")
                out.append("(also unknown, budget exceeded: %s)" %
                           ", ".join(str(k.key) for k in self.unknown[:10]))
        for w in self.warnings[:20]:
            out.append("warning: " + w)
        return "\n".join(out)

    def to_json(self):
        return {"verdict": self.verdict, "seconds": round(self.seconds, 3),
                "summary": self.summary(), "warnings": self.warnings,
                "keys": [k.to_json() for k in self.keys if k.verdict != "ok"]}


def check(history, budget=60.0, explain=True, explain_budget=5.0, hints=True,
          max_explained=5):
    """Check a history (a History, a path, or a list of records).

    ``budget``: seconds for the search over all keys; keys that exhaust
    their share are 'unknown' (never 'ok').  ``explain_budget``: seconds in
    all for isolating small cores of up to ``max_explained`` failing keys.
    ``hints``: let reported mzxids order the search (never the verdict)."""
    t_start = time.monotonic()
    prep = Prepared(history)
    groups = prep.groups
    order = sorted(prep.keys, key=lambda k: len(groups[k]))
    results = {}
    problems = {}
    end = t_start + budget
    retry = []
    for n, k in enumerate(order):
        now = time.monotonic()
        share = max(0.0, end - now) / (len(order) - n)
        kp = problems[k] = KeyProblem(prep, k, groups[k], hints=hints)
        v, info = kp.solve(deadline=now + share, trace=explain)
        kr = results[k] = KeyResult(k, v, len(groups[k]), (info or {}).get("nodes", 0),
                                    time.monotonic() - now)
        if v == "ok":
            kr.order = info["order"]
            del problems[k]
        elif v == "fail":
            kr.trace = info
        else:
            retry.append(k)
    for n, k in enumerate(retry):  # leftover time to the hard keys
        now = time.monotonic()
        share = max(0.0, end - now) / (len(retry) - n)
        if share < 0.05:
            continue
        v, info = problems[k].solve(deadline=now + share, trace=explain)
        kr = results[k]
        kr.verdict, kr.seconds = v, kr.seconds + time.monotonic() - now
        kr.nodes += (info or {}).get("nodes", 0)
        if v == "ok":
            kr.order = info["order"]
        elif v == "fail":
            kr.trace = info
    failing = [k for k in prep.keys if results[k].verdict == "fail"]
    t_explain = time.monotonic() + explain_budget
    for n, k in enumerate(failing):
        kr = results[k]
        if explain and n < max_explained:
            left = max(0.0, t_explain - time.monotonic()) / (min(len(failing), max_explained) - n)
            explain_key(prep, problems[k], kr, time.monotonic() + left, hints)
            kr.trace = None
        else:
            kr.explanation = "key %s: no linearization (not explained)" % (k,)
    return Result(prep, [results[k] for k in prep.keys], time.monotonic() - t_start)


def _still_fails(prep, key, ops, weak, deadline, hints, node_limit):
    if time.monotonic() > deadline:
        return None
    kp = KeyProblem(prep, key, ops, weak=weak, hints=hints)
    v, info = kp.solve(deadline=deadline, node_limit=node_limit, trace=True)
    return (kp, info) if v == "fail" else None


def explain_key(prep, kp, kr, deadline, hints=True, node_limit=30000):
    """Find a small core of ops whose results alone admit no linearization
    once every other definite write of the key is weakened (it still takes
    effect within its interval and in session order, but its result is not
    checked) and every other read is dropped.  That is a relaxation of the
    history, so the core alone proves the anomaly.  The core is grown from
    the op at which the search got stuck (plus what bounds it), then
    shrunk; if no core is found in time the explanation falls back to the
    stuck op and its context."""
    key = kp.key
    tr = kr.trace
    kr.core = None
    total = kp.nreal
    if tr.get("stuck") is None:
        kr.explanation, kr.kind = _describe(prep, kp, tr, total, core=None)
        return
    r_max = kp.dl_ret[tr["ptr"]]
    # nothing invoked after the stuck deadline could take part
    ops = [o for o in kp.ops if (o.kind == WRITE and o.inv <= r_max) or
           (o.kind == READ and o.ret <= r_max)]
    byid = {o.id: o for o in ops}
    x = kp.ops[tr["stuck"]]
    seeds = [x.id]
    why = kp.why[tr["stuck"]]
    for i in why.get("session", []):
        seeds.append(kp.ops[i].id)
    if "barrier_op" in why:  # the latest ops that completed before the barrier
        lo = kp.inv[why["barrier_op"]]
        seeds += [o.id for o in sorted((o for o in ops if o.ret < lo), key=lambda o: -o.ret)[:4]]
    if x.kind == READ and x.obs[0] in ("vv", "v"):
        seeds += [o.id for o in ops if o.kind == WRITE and o.cval == x.obs[1]]
    checkable = [o for o in ops if o.definite]
    mid = (x.inv + min(kp.dret[tr["stuck"]], r_max)) / 2

    def dist(o):
        return max(o.inv - mid, mid - min(o.ret, r_max), 0.0)

    near = [o.id for o in sorted(checkable, key=dist) if o.id not in seeds]

    def attempt(core):
        core = set(core)
        use = [o for o in ops if o.kind == WRITE or o.id in core]
        weak = frozenset(o.id for o in use if o.kind == WRITE and o.definite and o.id not in core)
        return _still_fails(prep, key, use, weak, deadline, hints, node_limit)

    core = [i for i in dict.fromkeys(seeds) if i in byid and byid[i].definite]
    found, size = None, 0
    while time.monotonic() < deadline:
        found = attempt(core)
        if found or size >= len(near):
            break
        size = max(8, size * 2)
        core = core[:len(seeds)] + near[:size]
    if not found:
        kr.explanation, kr.kind = _describe(prep, kp, tr, total, core=None)
        return
    # shrink (ddmin-style: drop chunks while it still fails)
    chunk = max(1, len(core) // 2)
    while len(core) > 1 and time.monotonic() < deadline:
        changed = False
        j = len(core)
        while j > 0 and time.monotonic() < deadline:
            part = core[max(0, j - chunk):j]
            j -= chunk
            rest = [i for i in core if i not in part]
            if not rest:
                continue
            f = attempt(rest)
            if f:
                core, found, changed = rest, f, True
        if not changed:
            if chunk == 1:
                break
            chunk = max(1, chunk // 2)
        chunk = min(chunk, max(1, len(core) // 2))
    kpc, info = found
    # The states to show: from the same search with real values instead of
    # placeholders if that is quick; else, if the full history got stuck at
    # the same op, the states the full history allows there (the core
    # search's own states include what its weakened writes allow).
    kpx = KeyProblem(prep, key, kpc.ops, weak=kpc.weak, hints=hints, exact=True)
    v, ix = kpx.solve(deadline=deadline, node_limit=min(node_limit, 20000), trace=True)
    if v == "fail":
        kpc, info = kpx, ix
    elif info.get("stuck") is not None and kpc.ops[info["stuck"]].id == x.id and tr["states"]:
        info = dict(info, states=tr["states"])
    kr.core = sorted(core, key=lambda i: byid[i].inv)
    kr.explanation, kr.kind = _describe(prep, kpc, info, total, core=kr.core)


def _describe(prep, kp, info, total, core):
    """Text for a failing key.  ``kp``/``info``: the (core) problem and the
    trace of its failed search; ``core``: op ids of the core, or None when
    no core was isolated (then the stuck op and its context are shown)."""
    t0 = prep.t0
    key = kp.key
    if core is not None:
        cset = set(core)
        core = [i for i, o in enumerate(kp.ops) if o.id in cset]
        nweak = len(kp.weak)
        head = ("key %s: no linearization. Core: %d of the key's %d ops%s; the results of "
                "these alone are impossible. Times in s from the first invocation:" % (
                    key, len(core), total,
                    " (%d other writes count with their effect but not their result, other "
                    "reads dropped)" % nweak if nweak else ""))
    else:
        core = [info["stuck"]] if info.get("stuck") is not None else []
        head = ("key %s: no linearization (%d ops; no small core isolated in the time "
                "allowed). Where every order got stuck; times in s from the first "
                "invocation:" % (key, total))
    lines = [head]
    core.sort(key=lambda i: kp.ops[i].inv)
    for i in core:
        lines.append("  " + kp.ops[i].describe(t0))
    if kp.init is not None:
        lines.append("  (initial state: %s)" % state_text(kp.init))
    stuck = info.get("stuck")
    kind = "no linearization"
    if stuck is None:
        return "\n".join(lines), kind
    o = kp.ops[stuck]
    states = info.get("states") or []
    st = ", ".join(state_text(s) for s in states) or "none"
    if o.kind == READ:
        kind = _read_kind(prep, kp, stuck)
        why = kp.why[stuck]
        bounds = []
        ctx = []
        for x in why.get("session", []):
            xo = kp.ops[x]
            bounds.append("after #%s (%s on the same session)" %
                          (xo.id, "its own write" if xo.kind == WRITE else "an earlier read"))
            ctx.append(x)
        b = why.get("barrier")
        if b is not None and b[1] in {kp.ops[x].id for x in why.get("session", [])}:
            b = None  # the session's own op on this key: already said
        if b is not None:
            src = prep.by_id[b[1]]
            if src.kind == SYNC:
                bw = "sync #%s was invoked" % src.id
            elif src.kind == WRITE:
                bw = "the session's write #%s on %s was invoked" % (src.id, src.key)
            else:
                bw = ("write #%s was invoked (the session's earlier read #%s of %s can only "
                      "have seen #%s)" % (b[2], src.id, src.key, b[2]))
            done = sorted((i for i, x in enumerate(kp.ops)
                           if x.kind in (WRITE, READ) and x.ret < b[0] and i != stuck),
                          key=lambda i: -kp.ops[i].ret)[:3]
            bounds.append("after every operation on %s that completed before %s at t=%.6f%s"
                          % (key, bw, b[0] - t0, " (the last of them: %s)" %
                             ", ".join("#%s" % kp.ops[x].id for x in done) if done else ""))
            ctx.extend(done)
            lines.append("  context: " + src.describe(t0))
            if b[2] is not None and src.kind == READ:
                lines.append("  context: " + prep.by_id[b[2]].describe(t0))
        ctx = [x for x in dict.fromkeys(ctx) if x not in core]
        for x in ctx:
            lines.append("  context: " + kp.ops[x].describe(t0))
        if o.obs[0] in ("vv", "v"):  # who wrote what it saw
            shown = {kp.ops[i].id for i in ctx + core}
            ws = [w for w in prep.key_ops(key) if w.kind == WRITE and w.cval == o.obs[1]
                  and w.id not in shown]
            for w in ws[:5]:
                lines.append("  context: " + w.describe(t0))
        lines.append("Why: read #%s returned %s. It may observe any state from %s up to "
                     "its return at t=%.6f. Over every order of the writes allowed by real "
                     "time and session order, the states reachable when it had to return "
                     "were: %s." % (o.id, obs_text(o.obs),
                                    "; ".join(bounds) if bounds else "the initial state",
                                    o.ret - t0, st))
    else:
        kind = _write_kind(o, states)
        alts = []
        for s in states:
            res, _ = apply_write(o.op, kp.val[stuck], o.ever, s)
            alts.append("in state %s it would return %s" % (
                state_text(s), "ok" + (" v%d" % res[1] if res[1] is not None and o.op == "set"
                                       else "") if res[0] == "ok" else "error " + res[1]))
        ctx = [x for x in kp.why[stuck].get("session", [])]
        if ctx and o.session in prep.pipelined:
            lines.append("  (session %s is pipelined: its ops take effect in invocation order)"
                         % o.session)
        ws = [i for i in range(kp.nw) if i != stuck and i not in core and i not in ctx
              and kp.ops[i].kind == WRITE]
        before = [i for i in ws if kp.ops[i].ret < o.inv]
        if before:  # the last write completed before it started
            ctx.append(max(before, key=lambda i: kp.ops[i].ret))
        ctx += [i for i in ws if kp.ops[i].inv <= kp.dret[stuck] and kp.ops[i].ret >= o.inv][:6]
        for x in dict.fromkeys(ctx):
            lines.append("  context: " + kp.ops[x].describe(t0))
        if o.definite:
            what = "write #%s returned %s" % (o.id, "ok" if o.outcome[0] == "ok" else o.outcome[1])
        else:
            what = ("indeterminate write #%s must have taken effect (a read returned its "
                    "value)" % o.id)
        lines.append("Why: %s, and must take effect before t=%.6f; over every order of the "
                     "writes allowed by real time and session order, %s." % (
                         what, kp.dret[stuck] - t0,
                         "; ".join(alts) if alts else "no state fits"))
    lines[0] = "[%s] " % kind + lines[0]
    return "\n".join(lines), kind


def _read_kind(prep, kp, y):
    o = kp.ops[y]
    writers = [w for w in prep.ops if w.key == o.key and w.kind == WRITE and
               w.op in ("create", "set") and w.status != "fail"]
    ini = prep.init.get(o.key)
    if o.obs[0] in ("vv", "v") and not (ini is not None and ini[0] == o.obs[1]):
        ws = [w for w in writers if w.cval == o.obs[1]]
        if not ws:
            return "read of a value no write produced"
        if all(w.inv > o.ret for w in ws):
            return "read saw a write invoked only after the read returned"
    why = kp.why[y]
    if any(kp.ops[x].kind == WRITE for x in why.get("session", [])):
        return "stale read: misses the session's own write or older"
    if any(kp.ops[x].kind == READ for x in why.get("session", [])):
        return "session read went backwards (or missed its own writes)"
    b = why.get("barrier")
    if b is not None:
        src = prep.by_id[b[1]]
        if src.kind == SYNC:
            return ("read after sync misses an op completed before the sync "
                    "(lost write or stale read)")
        return "read older than what the session already saw or wrote (cross-key)"
    return "read matches no reachable state"


def _write_kind(o, states):
    if not o.definite:
        return "a value was read that its (indeterminate) write cannot have produced in time"
    if o.op == "create" and o.outcome == ("ok", 0):
        return "create succeeded on an existing node (e.g. two successful creates)"
    if o.op == "set" and o.outcome[0] == "ok" and o.outcome[1] is not None:
        return "version mismatch (skipped or repeated version)"
    return "write result fits no reachable state"


# ---------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("history", help="history file (JSON lines)")
    ap.add_argument("--budget", type=float, default=60.0,
                    help="search time budget in seconds (default 60)")
    ap.add_argument("--explain-budget", type=float, default=5.0,
                    help="seconds for isolating small cores of failing keys (default 5)")
    ap.add_argument("--no-explain", action="store_true")
    ap.add_argument("--no-hints", action="store_true",
                    help="do not order the search by reported mzxids")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    a = ap.parse_args(argv)
    try:
        res = check(a.history, budget=a.budget, explain=not a.no_explain,
                    explain_budget=a.explain_budget, hints=not a.no_hints)
    except (HistoryError, ValueError, KeyError, OSError) as e:
        print("ERROR: bad history: %s" % e, file=sys.stderr)
        return 3
    print(json.dumps(res.to_json(), indent=1) if a.json else res.text())
    return {"ok": 0, "anomaly": 1, "unknown": 2}[res.verdict]


if __name__ == "__main__":
    sys.exit(main())
