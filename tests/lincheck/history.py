"""Recorder and file format for client histories (see README.md).

A ``History`` collects one record per client operation: who issued it
(``session``), what it was (``op``, ``key``, ``value``, expected
``version``), when it was invoked and when it completed (one monotonic
clock, seconds), and how it completed:

* ``ok``   -- the server answered with a result;
* ``fail`` -- the server answered with a *definite* error, which is a
  result too (NoNode, NodeExists, BadVersion, NotEmpty);
* ``info`` -- indeterminate: connection loss, timeout, session expiry
  while the operation was outstanding.  A write may or may not have taken
  effect (possibly much later); a read says nothing.

Typical use with threads (the class is thread-safe)::

    h = History()
    tok = h.invoke("s1", "set", "/k", b"v1", version=3)
    try:
        stat = zk.set("/k", b"v1", version=3)
    except BadVersionError as e:
        h.fail(tok, e)
    except Exception as e:          # ConnectionLoss, timeouts, ...
        h.info(tok, e)
    else:
        h.ok(tok, stat)
    h.save("history.jsonl")

or let ``RecordedClient`` do the bookkeeping around a ``KazooClient``.

File format: JSON lines, one object per line, ``"type"`` says what it is
(``op`` if absent):

* ``{"type": "meta", "format": "paddock-lincheck/1", "clock": ...}``
* ``{"type": "init", "key": "/k", "value": "x", "version": 0}`` -- the key's
  state before the history (``"value": null`` or no init line: absent)
* ``{"type": "session", "session": "s1", "pipelined": true}`` -- this
  session submits requests from a single thread, possibly several at a
  time, so its invocation order is the order the server receives them
  (ZooKeeper's FIFO order then applies to overlapping operations too)
* ``{"type": "op", "id": 7, "session": "s1", "op": "set", "key": "/k",
  "value": "v1", "version": 3, "inv": 12.5, "ret": 12.51,
  "status": "ok", "result": {"version": 4, "mzxid": 77}, "error": null}``
* streaming form (``History(stream=path)``), one line per event, so a
  crashed test still leaves a usable history:
  ``{"type": "invoke", "id", "session", "op", "key", "value", "version", "t"}``
  and ``{"type": "complete", "id", "status", "result", "error", "t"}``;
  an invocation without completion loads as ``info``.

Operations and results (``result`` of an ``ok``):

=========  ==============================  ================================
op         arguments                       ok result
=========  ==============================  ================================
create     key, value                      null (optionally {"mzxid"})
set        key, value, version (-1/null)   {"version": new version[, "mzxid"]}
delete     key, version (-1/null)          null
get        key                             {"value": v, "version": n[, "mzxid"]}
exists     key                             {"version": n} or null (absent)
sync       key (ignored: sync is global)   null
=========  ==============================  ================================

Values are JSON values; ``bytes`` are stored as UTF-8 strings when they
decode, else as ``{"b64": ...}``.
"""

import base64
import json
import threading
import time

FORMAT = "paddock-lincheck/1"
OPS = ("create", "set", "delete", "get", "exists", "sync")
WRITES = ("create", "set", "delete")
READS = ("get", "exists")

# Errors that are results: the server executed the request and answered.
DEFINITE_ERRORS = {
    "NoNodeError": "NoNode",
    "NodeExistsError": "NodeExists",
    "BadVersionError": "BadVersion",
    "NotEmptyError": "NotEmpty",
}
# kazoo exceptions after which the outcome is unknown.  Anything not in
# DEFINITE_ERRORS is treated as indeterminate too (that is always safe: an
# indeterminate write is allowed to have happened or not).
INDETERMINATE_ERRORS = (
    "ConnectionLoss", "ConnectionDropped", "OperationTimeoutError",
    "SessionExpiredError", "ConnectionClosedError", "SessionMovedError",
    "KazooTimeoutError", "TimeoutError", "CancelledError",
    "ZookeeperStoppedError",
)


def error_name(err):
    """Short error code for an exception instance/class or a string:
    NoNodeError -> "NoNode", ConnectionLoss -> "ConnectionLoss"."""
    if err is None:
        return None
    if isinstance(err, str):
        return DEFINITE_ERRORS.get(err, err)
    cls = err if isinstance(err, type) else type(err)
    for c in cls.__mro__:
        if c.__name__ in DEFINITE_ERRORS:
            return DEFINITE_ERRORS[c.__name__]
    return cls.__name__


def classify_error(err):
    """'fail' for a definite error (a result), 'info' otherwise."""
    return "fail" if error_name(err) in DEFINITE_ERRORS.values() else "info"


def encode_value(v):
    if isinstance(v, (bytes, bytearray, memoryview)):
        b = bytes(v)
        try:
            return b.decode("utf-8")
        except UnicodeDecodeError:
            return {"b64": base64.b64encode(b).decode("ascii")}
    return v


def _stat_fields(stat):
    """Fields of a kazoo ZnodeStat (duck-typed), an int version or a dict."""
    if stat is None:
        return {}
    if isinstance(stat, bool):
        return {}
    if isinstance(stat, int):
        return {"version": stat}
    if isinstance(stat, dict):
        return {k: stat[k] for k in ("version", "mzxid") if k in stat}
    out = {}
    for k in ("version", "mzxid"):
        if hasattr(stat, k):
            out[k] = getattr(stat, k)
    return out


def normalize_result(op, result):
    """Turn what a client library returned into the file's result form."""
    if op == "get":
        if isinstance(result, dict):
            r = dict(result)
            r["value"] = encode_value(r.get("value"))
            return r
        value, stat = result
        r = {"value": encode_value(value) if value is not None else ""}
        r.update(_stat_fields(stat))
        return r
    if op == "exists":
        if result is None or result is False:
            return None
        r = _stat_fields(result)
        return r if r else {}
    if op == "set":
        return _stat_fields(result) or None
    if op == "create":
        # kazoo: path, or (path, stat) with include_data=True
        if isinstance(result, tuple) and len(result) == 2:
            f = _stat_fields(result[1])
            return {"mzxid": f["mzxid"]} if "mzxid" in f else None
        if isinstance(result, dict):
            return result or None
        return None
    return None  # delete, sync


class History:
    """Thread-safe recorder.  ``clock`` returns seconds (default
    time.monotonic: one clock for every session of the process, and for
    every process on the machine on Linux).  ``stream``: a path; every
    event is appended (and flushed) as it happens."""

    def __init__(self, clock=time.monotonic, stream=None):
        self._clock = clock
        self._lock = threading.Lock()
        self._ops = {}        # id -> record
        self._order = []
        self._next = 0
        self.init = {}        # key -> (value, version) or None
        self.sessions = {}    # name -> {"pipelined": bool}
        self._stream = open(stream, "a", encoding="utf-8") if stream else None
        if self._stream:
            self._emit({"type": "meta", "format": FORMAT,
                        "clock": getattr(clock, "__name__", "clock")})

    # -- declarations ------------------------------------------------
    def set_initial(self, key, value=None, version=0, exists=True):
        """Declare a key's state before the first operation (default:
        absent).  ``exists=False`` declares it absent explicitly."""
        with self._lock:
            self.init[key] = (encode_value(value), int(version)) if exists else None
            rec = {"type": "init", "key": key,
                   "value": self.init[key][0] if exists else None,
                   "version": int(version) if exists else None}
            if not exists:
                rec["exists"] = False
            if self._stream:
                self._emit(rec)

    def declare_session(self, session, pipelined=False):
        """``pipelined=True``: the session has one submitting thread and may
        have several requests outstanding; invocation order is then the
        order the server received them."""
        with self._lock:
            self.sessions[session] = {"pipelined": bool(pipelined)}
            if self._stream:
                self._emit({"type": "session", "session": session,
                            "pipelined": bool(pipelined)})

    # -- recording ---------------------------------------------------
    def invoke(self, session, op, key, value=None, version=None, t=None):
        """Record an invocation; call it *before* sending the request.
        Returns a token for ok/fail/info.  ``version`` is the expected
        version of set/delete (None or -1: any)."""
        if op not in OPS:
            raise ValueError("unknown op %r" % (op,))
        if version is not None and version < 0:
            version = None
        if op in ("create", "set") and value is None:
            value = b""
        with self._lock:
            now = self._clock() if t is None else t
            oid = self._next
            self._next += 1
            rec = {"type": "op", "id": oid, "session": session, "op": op,
                   "key": key,
                   "value": encode_value(value) if op in ("create", "set") else None,
                   "version": version if op in ("set", "delete") else None,
                   "inv": now, "ret": None, "status": None,
                   "result": None, "error": None}
            self._ops[oid] = rec
            self._order.append(oid)
            if self._stream:
                ev = {k: rec[k] for k in ("id", "session", "op", "key", "value", "version")}
                ev["type"] = "invoke"
                ev["t"] = now
                self._emit(ev)
        return oid

    def _complete(self, token, status, result, error, t):
        with self._lock:
            now = self._clock() if t is None else t
            rec = self._ops[token]
            if rec["status"] is not None:
                raise ValueError("operation %d completed twice" % token)
            rec["status"] = status
            rec["ret"] = now if status != "info" else None
            rec["result"] = result
            rec["error"] = error
            if self._stream:
                self._emit({"type": "complete", "id": token, "status": status,
                            "result": result, "error": error, "t": now})

    def ok(self, token, result=None, t=None):
        """The server answered; ``result`` as returned by kazoo (ZnodeStat,
        (value, ZnodeStat), path, True, None) or already in file form."""
        op = self._ops[token]["op"]
        self._complete(token, "ok", normalize_result(op, result), None, t)

    def fail(self, token, err, t=None):
        """A definite error answer: NoNode, NodeExists, BadVersion, NotEmpty
        (exception, exception class or name).  Other errors are recorded as
        given; the checker treats unknown error names conservatively."""
        self._complete(token, "fail", None, error_name(err), t)

    def info(self, token, err=None, t=None):
        """Indeterminate outcome (connection loss, timeout, expiry)."""
        self._complete(token, "info", None, error_name(err), t)

    def complete_exc(self, token, err, t=None):
        """Record an exception from the client: definite errors as fail,
        everything else as info.  Returns the status used."""
        status = classify_error(err)
        (self.fail if status == "fail" else self.info)(token, err, t)
        return status

    # -- access / persistence ------------------------------------------
    def records(self):
        """All op records (copies); unfinished ops appear as info."""
        with self._lock:
            out = []
            for oid in self._order:
                r = dict(self._ops[oid])
                if r["status"] is None:
                    r["status"] = "info"
                    r["error"] = r["error"] or "unfinished"
                out.append(r)
            return out

    def __len__(self):
        return len(self._order)

    def lines(self):
        yield {"type": "meta", "format": FORMAT}
        for key, st in sorted(self.init.items()):
            if st is None:
                yield {"type": "init", "key": key, "value": None,
                       "version": None, "exists": False}
            else:
                yield {"type": "init", "key": key, "value": st[0], "version": st[1]}
        for s, m in sorted(self.sessions.items()):
            yield {"type": "session", "session": s, "pipelined": m["pipelined"]}
        for r in self.records():
            yield r

    def save(self, path):
        with open(path, "w", encoding="utf-8") as f:
            for rec in self.lines():
                f.write(json.dumps(rec, sort_keys=True) + "\n")

    def _emit(self, rec):
        self._stream.write(json.dumps(rec, sort_keys=True) + "\n")
        self._stream.flush()

    def close(self):
        if self._stream:
            self._stream.close()
            self._stream = None

    @classmethod
    def load(cls, path_or_lines):
        """Load a file (op lines and/or streamed events) into a History."""
        h = cls()
        if isinstance(path_or_lines, str):
            with open(path_or_lines, encoding="utf-8") as f:
                lines = f.readlines()
        else:
            lines = list(path_or_lines)
        pending = {}
        for n, line in enumerate(lines, 1):
            if isinstance(line, dict):
                rec = line
            else:
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                try:
                    rec = json.loads(line)
                except ValueError as e:
                    raise ValueError("line %d: not JSON: %s" % (n, e))
            typ = rec.get("type", "op")
            if typ == "meta":
                continue
            if typ == "init":
                if rec.get("exists", True) is False or rec.get("value") is None:
                    h.init[rec["key"]] = None
                else:
                    h.init[rec["key"]] = (rec["value"], int(rec.get("version") or 0))
            elif typ == "session":
                h.sessions[rec["session"]] = {"pipelined": bool(rec.get("pipelined"))}
            elif typ == "op":
                r = dict(rec)
                r["type"] = "op"
                for k in ("value", "version", "ret", "result", "error"):
                    r.setdefault(k, None)
                if "id" not in r:
                    r["id"] = h._next
                h._add_loaded(r, n)
            elif typ == "invoke":
                r = {"type": "op", "id": rec["id"], "session": rec["session"],
                     "op": rec["op"], "key": rec.get("key"),
                     "value": rec.get("value"), "version": rec.get("version"),
                     "inv": rec["t"], "ret": None, "status": None,
                     "result": None, "error": None}
                pending[rec["id"]] = r
                h._add_loaded(r, n)
            elif typ == "complete":
                r = pending.pop(rec["id"], None)
                if r is None:
                    raise ValueError("line %d: completion of unknown op %r" % (n, rec["id"]))
                r["status"] = rec["status"]
                r["ret"] = rec["t"] if rec["status"] != "info" else None
                r["result"] = rec.get("result")
                r["error"] = rec.get("error")
            else:
                raise ValueError("line %d: unknown record type %r" % (n, typ))
        return h

    def _add_loaded(self, r, n):
        if r["id"] in self._ops:
            raise ValueError("line %d: duplicate op id %r" % (n, r["id"]))
        self._ops[r["id"]] = r
        self._order.append(r["id"])
        if isinstance(r["id"], int):
            self._next = max(self._next, r["id"] + 1)


class RecordedClient:
    """Record every operation of a ``kazoo.client.KazooClient``.

    Each method returns ``(status, result)``: ``("ok", kazoo's result)``,
    ``("fail", "NoNode")`` ... or ``("info", "ConnectionLoss")``; it never
    raises kazoo errors.  Calls are synchronous: use one RecordedClient per
    thread.  Several threads may share one KazooClient; they then share its
    session label, and only "completed before invoked" orders their ops.

    The session label is ``name`` plus the ZooKeeper session id
    (``name/0x...``), so a new session after expiry gets a new label; an
    operation that ran across a session change is recorded as info.  Do
    not wrap recorded calls in kazoo's retry helpers (a retried write may
    apply twice): record each attempt.
    """

    def __init__(self, history, zk, name, track_session=True):
        self.h = history
        self.zk = zk
        self.name = name
        self.track = track_session
        self._last_sid = None

    def _sid(self):
        cid = self.zk.client_id if self.track else None
        return cid[0] if cid else None

    def _label(self, sid):
        if not self.track:
            return self.name
        return "%s/%s" % (self.name, "0x%x" % sid if sid is not None else "none")

    def _run(self, op, key, fn, value=None, version=None):
        # The session the request should run in: the current one, or, while
        # disconnected (kazoo queues the request), the last one seen.
        sid0 = self._sid()
        expect = sid0 if sid0 is not None else self._last_sid
        tok = self.h.invoke(self._label(expect), op, key, value, version)
        try:
            res = fn()
        except Exception as e:  # noqa: BLE001 - every outcome is recorded
            status = classify_error(e)
            if status == "fail" and not self._same(expect):
                status = "info"
            if status == "fail":
                self.h.fail(tok, e)
            else:
                self.h.info(tok, e)
            return status, error_name(e)
        if not self._same(expect):
            self.h.info(tok, "SessionChanged")
            return "info", "SessionChanged"
        self.h.ok(tok, res)
        return "ok", res

    def _same(self, expect):
        """Did the request run in session ``expect``?  (Unknown counts as
        no: the caller then records the outcome as indeterminate.)"""
        if not self.track:
            return True
        sid1 = self._sid()
        if sid1 is not None:
            self._last_sid = sid1
        return expect is not None and sid1 == expect

    def create(self, key, value=b""):
        return self._run("create", key, lambda: self.zk.create(key, value), value)

    def set(self, key, value, version=-1):
        return self._run("set", key, lambda: self.zk.set(key, value, version=version),
                         value, version)

    def delete(self, key, version=-1):
        return self._run("delete", key, lambda: self.zk.delete(key, version=version),
                         None, version)

    def get(self, key):
        return self._run("get", key, lambda: self.zk.get(key))

    def exists(self, key):
        return self._run("exists", key, lambda: self.zk.exists(key))

    def sync(self, key="/"):
        return self._run("sync", key, lambda: self.zk.sync(key))
