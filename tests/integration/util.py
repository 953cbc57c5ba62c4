"""Helpers shared by the integration tests (comparison normalisation etc.)."""

import threading
import time

from kazoo.protocol.states import ZnodeStat

import jute

STAT_FIELDS = ("czxid", "mzxid", "ctime", "mtime", "version", "cversion",
               "aversion", "ephemeralOwner", "dataLength", "numChildren",
               "pzxid")
ZXID_FIELDS = ("czxid", "mzxid", "pzxid")


def wait_for(pred, timeout=10.0, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" %
                                 (timeout, what))
        time.sleep(interval)


def is_stat(x):
    return isinstance(x, (ZnodeStat, jute.Stat))


def _collect_zxids(x, out):
    if is_stat(x):
        for f in ZXID_FIELDS:
            out.add(getattr(x, f))
    elif isinstance(x, (list, tuple)):
        for y in x:
            _collect_zxids(y, out)
    elif isinstance(x, dict):
        for y in x.values():
            _collect_zxids(y, out)


class Normaliser:
    """Turn results of one run into something comparable with another run
    on another server: zxids become their rank among all zxids seen in the
    run (0 stays 0), times are dropped (only mtime>=ctime is kept), the
    root path becomes <root>, session ids become 'self'/'other'."""

    def __init__(self, results, root, session_ids=()):
        zx = set()
        _collect_zxids(results, zx)
        zx.discard(0)
        self.rank = {z: i + 1 for i, z in enumerate(sorted(zx))}
        self.root = root
        self.sessions = {sid: "session%d" % i
                         for i, sid in enumerate(session_ids)}

    def stat(self, s):
        d = {f: getattr(s, f) for f in STAT_FIELDS}
        for f in ZXID_FIELDS:
            d[f] = self.rank.get(d[f], 0) if d[f] else 0
        d["mtime>=ctime"] = d.pop("mtime") >= d.pop("ctime")
        eo = d["ephemeralOwner"]
        d["ephemeralOwner"] = 0 if eo == 0 else self.sessions.get(eo, "other")
        return d

    def __call__(self, x):
        if is_stat(x):
            return self.stat(x)
        if isinstance(x, BaseException):
            return "EXC:" + type(x).__name__
        if isinstance(x, str):
            return x.replace(self.root, "<root>")
        if isinstance(x, bytes):
            return x
        if hasattr(x, "_asdict"):   # namedtuples such as WatchedEvent
            return (type(x).__name__,) + tuple(self(y) for y in x)
        if isinstance(x, list):
            return [self(y) for y in x]
        if isinstance(x, tuple):
            return tuple(self(y) for y in x)
        if isinstance(x, dict):
            return {self(k): self(v) for k, v in x.items()}
        return x


def normalise(results, root, session_ids=()):
    return Normaliser(results, root, session_ids)(results)


def attempt(fn, *a, **kw):
    """Call fn; return its result or the exception instance."""
    try:
        return fn(*a, **kw)
    except Exception as e:   # noqa: BLE001 - recorded for comparison
        return e


def compare_runs(scenario, target_client, root, ref_client, ref_root):
    """Run scenario(client, root) -> results on both servers; assert the
    normalised results are equal and return them (target's)."""
    got = scenario(target_client, root)
    want = scenario(ref_client, ref_root)
    sid_t = getattr(target_client, "client_id", None)
    sid_r = getattr(ref_client, "client_id", None)
    n_got = normalise(got, root, [sid_t[0]] if sid_t else [])
    n_want = normalise(want, ref_root, [sid_r[0]] if sid_r else [])
    assert n_got == n_want, ("target differs from reference ZooKeeper:\n"
                             "target:    %r\nreference: %r" % (n_got, n_want))
    return n_got


def rss_mb(pid):
    """Resident memory of process pid, in MiB (0 if it is gone)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


class RssSampler(threading.Thread):
    """Samples pid's RSS every 20 ms; .peak in MiB.  Set .stop, join."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.stop = False

    def run(self):
        while not self.stop:
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.02)
