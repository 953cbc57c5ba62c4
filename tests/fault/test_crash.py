"""Crash tests: kill -9 paddockd at random moments under a pipelined
concurrent write load, restart it on the same directories, and check that
every write whose OK reply a client received survived.

Model.  Each writer thread owns a subtree (/rNNN-wK) and keeps a list of
the writes it sent, in order, each with its effect (path -> (data,
version) or None for deleted).  Replies come back in order, so the
acknowledged writes are a prefix of that list; the rest were in flight
at the kill.  Because the log is applied as a prefix of zxid order and one
session's writes get increasing zxids, the recovered state of a writer's
subtree must equal the state after *some* prefix of its writes that
includes every acknowledged one (the "cut").

Counted per round:
  lost           acknowledged writes whose data (or existence / absence)
                 is not in the recovered tree, where no in-flight write
                 explains what is there instead;
  wrong version  paths holding the right data with a version that no
                 prefix of the writes produces.
"""

import os
import threading
import time

import pytest

import jute
from jute import Op
from paddock_fault import (PipeClient, body_create, body_set, body_delete,
                      body_multi, read_states, run_check, say, snapshots,
                      segments, four_letter)

ROUNDS = int(os.environ.get("PADDOCK_FAULT_ROUNDS", "20"))
WRITERS = 4
WINDOW = 48                 # requests in flight per writer
WRITER_SESSION_MS = 4000    # writers never come back: sessions expire


class Writer:
    """One session doing creates, setData, deletes and multis on its own
    subtree, pipelined.  Every write it sends is recorded in ``ops``:
    dict(kind, effects=[(path, state)], acked, err, zxid)."""

    def __init__(self, hosts, prefix, rng):
        self.hosts = hosts
        self.prefix = prefix
        self.rng = rng
        self.ops = []
        self.live = {}        # path -> (data, version) assuming all sent ok
        self.seq = 0
        self.errors = []      # non-OK replies (none expected)
        self.anomalies = []   # reply contents that contradict the model
        self.stop = threading.Event()
        self.client = None
        self.thread = threading.Thread(target=self.run, daemon=True)

    def start(self):
        self.client = PipeClient(self.hosts, timeout_ms=WRITER_SESSION_MS,
                                 window=WINDOW)
        self.thread.start()

    def _data(self):
        self.seq += 1
        return ("%s#%d:%s" % (self.prefix, self.seq,
                              "x" * self.rng.randrange(0, 200))).encode()

    def _new_path(self):
        self.seq += 1
        return "%s/n%05d" % (self.prefix, self.seq)

    def _next_op(self):
        """(op, body, effects, expect) for the next write, chosen on the
        state after all writes already sent."""
        if not self.ops:
            d = self._data()
            return (Op.CREATE2, body_create(self.prefix, d),
                    [(self.prefix, (d, 0))], ("create", self.prefix))
        children = [p for p in self.live if p != self.prefix]
        r = self.rng.random()
        if len(children) < 3 or r < 0.35:
            p, d = self._new_path(), self._data()
            return (Op.CREATE2, body_create(p, d), [(p, (d, 0))],
                    ("create", p))
        if r < 0.65:
            p = self.rng.choice(children + [self.prefix])
            d = self._data()
            v = self.live[p][1]
            ver = v if self.rng.random() < 0.5 else -1
            return (Op.SET_DATA, body_set(p, d, ver), [(p, (d, v + 1))],
                    ("set", v + 1))
        if r < 0.80:
            p = self.rng.choice(children)
            ver = self.live[p][1] if self.rng.random() < 0.5 else -1
            return (Op.DELETE, body_delete(p, ver), [(p, None)],
                    ("delete",))
        # multi: create + setData + delete, all or nothing
        a, b = self.rng.sample(children, 2)
        p, d1, d2 = self._new_path(), self._data(), self._data()
        va = self.live[a][1]
        vb = self.live[b][1]
        ops = [("create", p, d1, jute.Mode.PERSISTENT),
               ("setData", a, d2, va),
               ("delete", b, vb if self.rng.random() < 0.5 else -1)]
        return (Op.MULTI, body_multi(ops),
                [(p, (d1, 0)), (a, (d2, va + 1)), (b, None)],
                ("multi", va + 1))

    def _callback(self, rec):
        def cb(err, zxid, r):
            rec["acked"] = True
            rec["err"] = err
            rec["zxid"] = zxid
            if err:
                self.errors.append((rec["kind"], err))
                return
            try:
                exp = rec["expect"]
                if exp[0] == "create":
                    path = r.string()
                    st = r.stat()
                    if path != exp[1] or st.version != 0:
                        self.anomalies.append((rec["expect"], path, st))
                elif exp[0] == "set":
                    st = r.stat()
                    if st.version != exp[1] or st.mzxid != zxid:
                        self.anomalies.append((rec["expect"], st))
            except Exception as e:   # noqa: BLE001
                self.anomalies.append((rec["expect"], repr(e)))
        return cb

    def run(self):
        c = self.client
        while not self.stop.is_set() and not c.closed.is_set():
            op, body, effects, expect = self._next_op()
            rec = {"kind": op, "effects": effects, "expect": expect,
                   "acked": False, "err": None, "zxid": None}
            self.ops.append(rec)
            for p, st in effects:
                if st is None:
                    self.live.pop(p, None)
                else:
                    self.live[p] = st
            if not c.submit(op, body, self._callback(rec)):
                break

    def join(self):
        self.stop.set()
        self.thread.join(10)
        self.client.close()
        if getattr(self.client, "reader", None):
            self.client.reader.join(5)

    # ------------------------------------------------------------ verify
    def paths(self):
        out = []
        seen = set()
        for rec in self.ops:
            for p, _ in rec["effects"]:
                if p not in seen:
                    seen.add(p)
                    out.append(p)
        return out

    def verify(self, actual):
        """Compare recovered states (path -> (data, version, stat) or
        None) with the model; returns a dict of counts."""
        n_acked = 0
        for rec in self.ops:
            if not rec["acked"]:
                break
            n_acked += 1
        order_ok = all(not r["acked"] for r in self.ops[n_acked:])
        failed = [r["expect"] for r in self.ops[:n_acked] if r["err"]]

        def eq(model, act):
            if model is None:
                return act is None
            return act is not None and act[0] == model[0] and \
                act[1] == model[1]

        def eq_data(model, act):
            if model is None:
                return act is None
            return act is not None and act[0] == model[0]

        # state after the acknowledged prefix, and per path the states an
        # in-flight write would produce
        state = {}
        for rec in self.ops[:n_acked]:
            if rec["err"]:
                continue     # not applied (no errors are expected anyway)
            for p, st in rec["effects"]:
                state[p] = st
        later = {}
        for rec in self.ops[n_acked:]:
            for p, st in rec["effects"]:
                later.setdefault(p, []).append(st)
        bad = {p for p in actual if not eq(state.get(p), actual[p])}
        # lost: the data (or existence) of the last acknowledged write is
        # not there, and no in-flight write explains what is there
        lost_paths = {p for p in bad
                      if not eq_data(state.get(p), actual[p]) and
                      not any(eq_data(st, actual[p])
                              for st in later.get(p, ()))}
        # right data, wrong version
        version_paths = {p for p in bad - lost_paths
                         if not any(eq(st, actual[p])
                                    for st in later.get(p, ()))}
        # number of acknowledged writes whose effect is missing
        lost = 0
        for p in lost_paths:
            hist = [(i, st) for i, rec in enumerate(self.ops[:n_acked])
                    for q, st in rec["effects"] if q == p]
            match = [i for i, st in hist if eq_data(st, actual[p])]
            after = match[-1] if match else -1
            lost += sum(1 for i, _ in hist if i > after)
        examples = []
        for p in sorted(lost_paths | version_paths)[:4]:
            w = state.get(p)
            a = actual[p]
            examples.append("%s want %s got %s" % (
                p, w and "(%r, version %d)" % (w[0][:20], w[1]),
                a and "(%r, version %d, mzxid 0x%x)" %
                (a[0][:20], a[1], a[2].mzxid)))
        # one cut (prefix of this session's writes) for the whole subtree?
        # (compared on data/existence; versions are counted above)
        cut = None
        mism = {p for p in actual if not eq_data(state.get(p), actual[p])}
        for c in range(n_acked, len(self.ops) + 1):
            if not mism:
                cut = c
                break
            if c == len(self.ops):
                break
            for p, st in self.ops[c]["effects"]:
                state[p] = st
                if eq_data(st, actual[p]):
                    mism.discard(p)
                else:
                    mism.add(p)
        return {"acked": n_acked, "inflight": len(self.ops) - n_acked,
                "applied_inflight": (cut - n_acked) if cut is not None
                else None, "lost": lost, "lost_paths": sorted(lost_paths),
                "version_wrong": len(version_paths), "examples": examples,
                "failed": failed, "cut_ok": cut is not None,
                "order_ok": order_ok}


class Keeper:
    """A session that outlives every crash: it owns an ephemeral and
    reconnects with its session id and password after each restart."""

    def __init__(self, srv):
        self.srv = srv
        self.c = jute.RawClient(srv.hosts)
        self.c.connect(timeout_ms=20000)
        self.sid, self.pw = self.c.session_id, self.c.passwd
        self.path = "/keeper-%x" % self.sid
        self.c.create(self.path, b"keeper", mode=jute.Mode.EPHEMERAL)

    def reconnect(self):
        self.c.close_socket()
        self.c = jute.RawClient(self.srv.hosts)
        resp = self.c.connect(timeout_ms=20000, session_id=self.sid,
                              passwd=self.pw)
        assert resp.session_id == self.sid and resp.timeout > 0, \
            "session 0x%x not accepted after restart: %r" % (self.sid, resp)
        self.c.ping()

    def check(self):
        st = self.c.exists(self.path)
        assert st is not None, "ephemeral %s of live session 0x%x lost" % (
            self.path, self.sid)
        assert st.ephemeralOwner == self.sid


def verify_settled(hosts, settled):
    """Paths of earlier rounds whose recovered state is final: they must
    not change over later crashes."""
    if not settled:
        return 0
    act = read_states(hosts, list(settled))
    changed = 0
    for p, want in settled.items():
        got = act[p]
        if (want is None) != (got is None) or \
                (want is not None and want != got[:2]):
            changed += 1
            if changed <= 5:
                say("  settled path %s changed: %r -> %r" %
                    (p, want, got and got[:2]))
    return changed


@pytest.mark.timeout(240 + 12 * ROUNDS)
def test_kill9_under_load(paddock_factory, rng):
    srv = paddock_factory().start()
    keeper = Keeper(srv)
    settled = {}        # path -> state (final states of earlier rounds)
    total_acked = total_lost = total_vwrong = 0
    problems = []
    say("crash test: %d rounds, %d pipelined writers x %d in flight, "
        "snapCount=200 preAllocSize=1024KiB forceSync=yes, dir %s" %
        (ROUNDS, WRITERS, WINDOW, srv.dir))
    t_start = time.monotonic()
    for rnd in range(1, ROUNDS + 1):
        writers = [Writer(srv.hosts, "/r%03d-w%d" % (rnd, k), rng)
                   for k in range(WRITERS)]
        for w in writers:
            w.start()
        delay = rng.uniform(0.05, 0.5)
        time.sleep(delay)
        srv.kill9()
        for w in writers:
            w.join()
        t0 = time.monotonic()
        srv.start()
        t_restart = time.monotonic() - t0
        rec_lines = srv.recovery_lines()
        keeper.reconnect()
        keeper.check()

        # check the recovered directories (server frozen meanwhile)
        with srv.frozen():
            rc, out = run_check(srv)
        if rc != 0:
            problems.append((rnd, "paddock-check exit %d after the "
                             "restart:\n%s" % (rc, out)))

        acked = lost = inflight = applied = vwrong = 0
        failures = []
        for w in writers:
            paths = w.paths()
            act = read_states(srv.hosts, paths)
            res = w.verify(act)
            acked += res["acked"]
            lost += res["lost"]
            vwrong += res["version_wrong"]
            inflight += res["inflight"]
            applied += res["applied_inflight"] or 0
            if res["lost"] or res["version_wrong"] or not res["cut_ok"] or \
                    not res["order_ok"] or res["failed"] or w.errors or \
                    w.anomalies or w.client.unexpected:
                failures.append(
                    "%s: lost=%d lost_paths=%s wrong_version=%d cut_ok=%s "
                    "order_ok=%s failed=%r errors=%r anomalies=%r "
                    "unexpected=%r examples=%r" %
                    (w.prefix, res["lost"], res["lost_paths"][:5],
                     res["version_wrong"], res["cut_ok"], res["order_ok"],
                     res["failed"][:3], w.errors[:3], w.anomalies[:3],
                     w.client.unexpected[:3], res["examples"]))
            for p in paths:
                settled[p] = act[p][:2] if act[p] else None
        changed = verify_settled(srv.hosts, {
            p: s for p, s in settled.items()
            if not p.startswith("/r%03d-" % rnd)})
        total_acked += acked
        total_lost += lost
        total_vwrong += vwrong
        say("round %d: acked=%d lost=%d (wrong version %d; in flight at "
            "kill %d, of which recovered %d; killed after %.0f ms; restart "
            "%.2fs; %d snapshots, %d segments)%s" %
            (rnd, acked, lost, vwrong, inflight, applied, delay * 1000,
             t_restart, len(snapshots(srv)), len(segments(srv)),
             "".join("\n  " + l for l in rec_lines)))
        for f in failures:
            say("  round %d %s" % (rnd, f))
            problems.append((rnd, f))
        if rc != 0:
            say("  round %d: paddock-check exit %d:\n%s" % (rnd, rc, out))
        if changed:
            problems.append((rnd, "%d paths of earlier rounds changed" %
                             changed))
        if lost:
            break       # durability is broken: stop here
    say("crash test: %d rounds, acked=%d lost=%d wrong_version=%d, %.1fs"
        % (rnd, total_acked, total_lost, total_vwrong,
           time.monotonic() - t_start))
    assert total_lost == 0, problems[:3]
    assert total_vwrong == 0, (
        "acknowledged data present but znode versions wrong after "
        "recovery (%d paths): %s" % (total_vwrong, problems[:3]))
    assert not problems, problems[:3]


@pytest.mark.timeout(120)
def test_version_survives_restart(paddock_factory, rng):
    """Focused check of znode versions across a *clean* restart (SIGTERM,
    no crash): a tree of 20000 znodes of 1 KiB (so a fuzzy snapshot walk
    takes a while) under a pipelined setData load, small snapCount, the
    server stopped while the load runs.  Each setData writes "v<version>",
    so the recovered node must read "v<k>" with version k, k at least the
    acknowledged version.  A log replay that applies a setData a fuzzy
    snapshot already holds increments the version a second time."""
    srv = paddock_factory().start()
    n = 20000
    hot = 1000      # setData targets: the oldest nodes (paddockd's walk
    #                 visits children newest first, so these come last)
    c = PipeClient(srv.hosts, window=200)
    for i in range(n):
        c.submit(Op.CREATE2, body_create("/v%05d" % i, b"x" * 1024))
    assert c.drain(60)
    c.close()
    total_bad = 0
    versions_before = [0] * n
    for cycle in (1, 2):
        c = PipeClient(srv.hosts, window=200)
        sent = [0] * n
        acked = [0] * n
        stop = threading.Event()

        def load():
            while not stop.is_set():
                i = rng.randrange(hot)
                sent[i] += 1
                v = sent[i]

                def cb(err, zxid, r, i=i, v=v):
                    if err == 0:
                        acked[i] = max(acked[i], v)
                if not c.submit(Op.SET_DATA,
                                body_set("/v%05d" % i,
                                         b"c%d-v%d" % (cycle, v)), cb):
                    break
        t = threading.Thread(target=load, daemon=True)
        t.start()
        time.sleep(1.0)
        rc = srv.term()          # stop under load (clean shutdown)
        stop.set()
        t.join(10)
        c.close()
        assert rc == 0, "paddockd exit status %r on SIGTERM" % rc
        srv.start()
        act = read_states(srv.hosts, ["/v%05d" % i for i in range(n)])
        bad = []
        for i in range(n):
            got = act["/v%05d" % i]
            base = versions_before[i]
            ok = False
            tag = b"c%d-v" % cycle
            if got is not None:
                if got[0].startswith(tag):
                    k = int(got[0][len(tag):])
                    ok = acked[i] <= k <= sent[i] and got[1] == base + k
                else:       # untouched in this cycle (or nothing applied)
                    ok = acked[i] == 0 and got[1] == base
            if not ok:
                bad.append("/v%05d version %d before; setData #%d of %d "
                           "acked; got %s" % (
                               i, base, acked[i], sent[i],
                    got and "version %d data %r mzxid 0x%x" %
                    (got[1], got[0][:8], got[2].mzxid)))
        say("versions cycle %d: %d znodes, %d setData acked, %d snapshots; "
            "after SIGTERM under load + restart: %d znodes with a wrong "
            "version%s" % (cycle, n, sum(acked), len(snapshots(srv)),
                           len(bad), "".join("\n  " + b for b in bad[:4])))
        total_bad += len(bad)
        versions_before = [act["/v%05d" % i][1] for i in range(n)]
    assert total_bad == 0


@pytest.mark.timeout(120)
def test_sessions_across_kill9(paddock_factory, rng):
    """An ephemeral of a session whose client comes back (session id +
    password) survives kill -9; one whose client never returns is removed
    once its session times out after the restart — and stays removed
    across a further crash."""
    srv = paddock_factory().start()
    tmo = 4000
    back = jute.RawClient(srv.hosts)
    back.connect(timeout_ms=tmo)
    gone = jute.RawClient(srv.hosts)
    gone.connect(timeout_ms=tmo)
    back.create("/eph-back", b"b", mode=jute.Mode.EPHEMERAL)
    gone.create("/eph-gone", b"g", mode=jute.Mode.EPHEMERAL)
    gone.create("/eph-gone-seq-", b"g", mode=jute.Mode.EPHEMERAL_SEQUENTIAL)
    # some load so the kill lands mid-flush
    w = Writer(srv.hosts, "/load", rng)
    w.start()
    time.sleep(rng.uniform(0.05, 0.3))
    srv.kill9()
    w.join()
    back.close_socket()
    gone.close_socket()
    t_kill = time.monotonic()
    srv.start()
    say("sessions: killed under load, restarted in %.2fs" %
        (time.monotonic() - t_kill))

    c = jute.RawClient(srv.hosts)
    c.connect(timeout_ms=10000)
    st = c.exists("/eph-gone")
    assert st is not None and st.ephemeralOwner == gone.session_id, \
        "session of a not-yet-returned client must be restored (the " \
        "client gets its full timeout to come back)"
    assert any(x.startswith("eph-gone-seq-") for x in c.get_children("/"))

    # a wrong password must not take over a restored session (tried
    # first: like ZooKeeper, paddockd drops the session's current
    # connection on any reconnect attempt, even a refused one)
    thief = jute.RawClient(srv.hosts)
    try:
        r2 = thief.connect(timeout_ms=tmo, session_id=back.session_id,
                           passwd=b"\x01" * 16)
        assert r2.session_id == 0 or r2.timeout == 0 or \
            thief.is_closed_by_server(2.0), "wrong password accepted"
    except jute.Closed:
        pass
    thief.close_socket()

    back2 = jute.RawClient(srv.hosts)
    resp = back2.connect(timeout_ms=tmo, session_id=back.session_id,
                         passwd=back.passwd)
    assert resp.session_id == back.session_id and resp.timeout > 0, resp
    say("sessions: session 0x%x reconnected with its password (timeout %d)"
        % (resp.session_id, resp.timeout))

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        back2.ping()
        if c.exists("/eph-gone") is None:
            break
        time.sleep(0.2)
    waited = time.monotonic() - t_kill
    assert c.exists("/eph-gone") is None, \
        "ephemeral of a session that never returned still there %.1fs " \
        "after the restart" % waited
    assert not any(x.startswith("eph-gone-seq-")
                   for x in c.get_children("/"))
    say("sessions: session 0x%x (never returned) expired %.1fs after the "
        "restart; its ephemerals are gone" % (gone.session_id, waited))
    st = back2.exists("/eph-back")
    assert st is not None and st.ephemeralOwner == back.session_id
    back2.create("/eph-back-2", b"", mode=jute.Mode.EPHEMERAL)

    # the expiry itself is durable: another crash must not resurrect it
    c.close_socket()
    srv.kill9()
    back2.close_socket()
    srv.start()
    c = jute.RawClient(srv.hosts)
    c.connect(timeout_ms=10000)
    assert c.exists("/eph-gone") is None, "expired ephemeral came back"
    assert c.exists("/eph-back") is not None
    assert c.exists("/eph-back-2") is not None
    back3 = jute.RawClient(srv.hosts)
    resp = back3.connect(timeout_ms=tmo, session_id=back.session_id,
                         passwd=back.passwd)
    assert resp.session_id == back.session_id and resp.timeout > 0
    # a clean close removes the ephemerals for good
    back3.close_session()
    back3.close_socket()
    assert c.exists("/eph-back") is None
    c.close_socket()
    srv.kill9()
    srv.start()
    c = jute.RawClient(srv.hosts)
    c.connect(timeout_ms=10000)
    assert c.exists("/eph-back") is None and c.exists("/eph-back-2") is None
    c.close_socket()
    with srv.frozen():
        rc, out = run_check(srv)
    assert rc == 0, out
    say("sessions: ok (the returning session kept its ephemerals across 2 "
        "crashes; expiry and close are durable)")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("stop_with", ["term", "kill9"])
def test_first_request_after_restart_is_a_read(paddock_factory, stop_with):
    """The usual way clients come back after a restart: they reconnect
    with their session and read, before anybody has written anything.
    (The other tests create a session first, which is a transaction.)"""
    srv = paddock_factory().start()
    c = jute.RawClient(srv.hosts)
    c.connect(timeout_ms=20000)
    sid, pw = c.session_id, c.passwd
    c.create("/a", b"hello")
    c.close_socket()
    if stop_with == "term":
        assert srv.term() == 0
    else:
        srv.kill9()
    srv.start(session=False)            # ruok only: no transaction yet
    c = jute.RawClient(srv.hosts, timeout=5.0)
    r = c.connect(timeout_ms=20000, session_id=sid, passwd=pw)
    assert r.session_id == sid and r.timeout > 0
    try:
        data = c.get_data("/a")[0]
    except OSError as e:
        data = "no answer within 5 s (%s)" % type(e).__name__
    try:
        ruok = four_letter(srv.hosts, "ruok", timeout=3.0)
    except OSError as e:
        ruok = "no answer (%s)" % type(e).__name__
    say("first request after %s + restart is getData on returning session "
        "0x%x: %r; ruok then: %r" % (stop_with, sid, data, ruok))
    c.close_socket()
    assert data == b"hello"
    assert ruok == "imok"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("stop_with", ["term", "kill9"])
def test_multi_creating_a_parent_and_its_children_survives_restart(
        paddock_factory, stop_with):
    """A multi that creates a node and then children under it, and sets
    nodes it created or set, replayed from the log after the restart:
    every step comes back (the replay once took the pzxid or mzxid that
    an earlier step of the same multi had set for a sign that the
    snapshot already held the change, and skipped the later steps)."""
    from kazoo.client import KazooClient
    srv = paddock_factory().start()
    zk = KazooClient(hosts=srv.hosts, timeout=10.0)
    zk.start(timeout=20)
    zk.create("/s", b"s0")
    t = zk.transaction()
    t.create("/m", b"parent")
    t.create("/m/a", b"a")
    t.create("/m/a/b", b"b")
    t.set_data("/m/a", b"a set")
    t.create("/m/c", b"c")
    t.set_data("/s", b"s1")
    t.set_data("/s", b"s2")
    res = t.commit()
    assert res[:3] + res[4:5] == ["/m", "/m/a", "/m/a/b", "/m/c"], res
    paths = ("/m", "/m/a", "/m/a/b", "/m/c", "/s")
    before = {p: zk.get(p) for p in paths}
    assert before["/m/a"][0] == b"a set" and before["/s"][0] == b"s2"
    zk.stop()
    zk.close()
    if stop_with == "term":
        assert srv.term() == 0
    else:
        srv.kill9()
    srv.start()
    zk = KazooClient(hosts=srv.hosts, timeout=10.0)
    zk.start(timeout=20)
    after = {p: zk.get(p) if zk.exists(p) else None for p in before}
    say("multi-created and set %s after %s + restart: %s" %
        (", ".join(paths), stop_with,
         sorted(p for p, v in after.items() if v)))
    zk.stop()
    zk.close()
    assert after == before


@pytest.mark.timeout(90)
@pytest.mark.parametrize("stop_with", ["term", "kill9"])
def test_containers_and_ttls_survive_restart(paddock_factory, stop_with):
    """Containers and TTL nodes come back from the snapshot and from the
    log still known as such: after the restart the periodic check removes
    a container once its last child goes and an expired TTL node once it
    has no child, and leaves plain nodes alone."""
    srv = paddock_factory({"znode.container.checkIntervalMs": "200"}).start()
    c = jute.RawClient(srv.hosts)
    c.connect(timeout_ms=20000)

    def kinds(tag):
        c.create("/ct-" + tag, mode=jute.Mode.CONTAINER)
        c.create("/ct-%s/kid" % tag)
        c.create("/ttl-" + tag, mode=jute.Mode.PERSISTENT_WITH_TTL, ttl=1000)
        c.create("/ttl-%s/kid" % tag)
        c.create("/plain-" + tag)

    kinds("snap")
    zxid = c.exists("/plain-snap").mzxid
    # snapCount 200: enough writes for a snapshot that holds them
    c.create("/load", b"")
    deadline = time.monotonic() + 30
    while not any(z >= zxid for z, _ in snapshots(srv)):
        assert time.monotonic() < deadline, "no snapshot after 30 s"
        for _ in range(50):
            c.set_data("/load", b"x")
    kinds("log")                # in the log only: no snapshot since
    assert not any(z >= c.exists("/plain-log").mzxid
                   for z, _ in snapshots(srv))
    c.close_socket()
    if stop_with == "term":
        assert srv.term() == 0
    else:
        srv.kill9()
    srv.start()

    c = jute.RawClient(srv.hosts)
    c.connect(timeout_ms=20000)
    for tag in ("snap", "log"):
        for p in ("/ct-", "/ttl-", "/plain-"):
            st = c.exists(p + tag)
            assert st is not None, p + tag + " lost"
            assert st.ephemeralOwner == 0, (p + tag, st)
    time.sleep(1.0)             # kids keep them; the TTL has passed
    for tag in ("snap", "log"):
        assert c.exists("/ct-" + tag) is not None
        assert c.exists("/ttl-" + tag) is not None
        c.delete("/ct-%s/kid" % tag)
        c.delete("/ttl-%s/kid" % tag)
    gone = ["/ct-snap", "/ct-log", "/ttl-snap", "/ttl-log"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(c.exists(p) for p in gone):
        time.sleep(0.1)
    left = [p for p in gone if c.exists(p) is not None]
    assert not left, "not removed after the restart: %s" % left
    assert c.exists("/plain-snap") is not None
    assert c.exists("/plain-log") is not None
    c.close_socket()
    with srv.frozen():
        rc, out = run_check(srv)
    assert rc == 0, out
    say("containers/TTLs after %s: restored from the snapshot and the log, "
        "removed by the periodic check once empty" % stop_with)
