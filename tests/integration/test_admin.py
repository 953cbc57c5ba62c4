"""The AdminServer (/commands/<name>) and Prometheus' /metrics, beside
Apache ZooKeeper 3.8's own AdminServer in the same test.

Both servers get the same client traffic (two kazoo sessions, znodes,
ephemerals, data and exists watches, a child watch); then every command
is fetched from both and the JSON compared key by key, nested objects and
list entries included, with JSON types (an int is not a float).  Values
are compared where the same traffic must give the same value (watch
counts and paths, ephemeral paths, node count, session timeouts).

Keys ZooKeeper prints that paddockd does not are listed below with the
reason; a key missing that is not listed fails the test, as does a
paddockd key ZooKeeper does not print (paddockd's own keys are named
paddock_* or paddock.*).
"""

import json
import re
import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

from conftest import Server, ServerError, new_client, prom_server
from srvutil import free_port, four_letter

# ServerMetrics' ZAB latencies (ADVANCED summaries): ZooKeeper prints
# them on every member, standalone too, zero where the role takes no
# samples
ZAB_LATENCIES = ("proposal_latency", "proposal_ack_creation_latency",
                 "quorum_ack_latency", "commit_propagation_latency",
                 "propagation_latency")

# ServerMetrics' AvgMinMaxCounters that paddockd prints (BASIC
# summaries: in Prometheus a windowed 0.5 quantile, _count and _sum)
BASIC_SUMMARIES = ("fsynctime", "sync_processor_batch_size", "snapshottime",
                   "dbinittime", "startup_snap_load_time",
                   "startup_txns_load_time", "startup_txns_loaded",
                   "unavailable_time", "leader_unavailable_time",
                   "node_created_watch_count", "node_deleted_watch_count",
                   "node_changed_watch_count", "node_children_watch_count")

# monitor: ZooKeeper 3.8 prints ~495 metrics; paddockd prints these of
# them.  Every key paddockd prints must be one of ZooKeeper's, with its
# type; this list is what the comparison requires of paddockd.
MONITOR_KEYS = {
    "version", "server_state", "avg_latency", "max_latency", "min_latency",
    "packets_received", "packets_sent", "num_alive_connections",
    "outstanding_requests", "znode_count", "watch_count",
    "ephemerals_count", "approximate_data_size",
    "open_file_descriptor_count", "max_file_descriptor_count",
    "global_sessions", "digest_mismatches_count", "uptime",
    "throttled_ops", "request_throttle_wait_count", "connection_rejected",
    "sessionless_connections_expired", "last_client_response_size",
    "min_client_response_size", "max_client_response_size",
    "auth_failed_count", "bytes_received_count", "response_bytes",
    "watch_bytes", "connection_request_count", "connection_drop_count",
    "stale_sessions_expired", "proposal_count", "commit_count",
    "learner_proposal_received_count", "learner_commit_received_count",
    "looking_count", "diff_count", "snap_count",
    "connection_drop_probability",
} | {"%s_%s" % (stat, name)
     for stat in ("avg", "min", "max", "cnt", "sum", "p50", "p95", "p99",
                  "p999")
     for name in ("readlatency", "updatelatency") + ZAB_LATENCIES} \
  | {"%s_%s" % (stat, name)
     for stat in ("avg", "min", "max", "cnt", "sum")
     for name in ("node_created_watch_count", "node_deleted_watch_count",
                  "node_changed_watch_count", "node_children_watch_count")}

# Keys ZooKeeper prints that paddockd leaves out, per command.
NOT_IN_PADDOCK = {
    # JVM facts (java.*), and user.* / os.memory.* are there
    "environment": {"java.version", "java.vendor", "java.home",
                    "java.class.path", "java.library.path", "java.io.tmpdir",
                    "java.compiler"},
    # Java system properties: a C server has none to show
    "system_properties": None,  # None: compare nothing but command/error
}

ADMIN = {"admin.enableServer": "true", "admin.serverAddress": "127.0.0.1"}

COMMANDS = [
    "ruok", "server_stats", "srvr", "stats", "stat", "monitor", "mntr",
    "configuration", "conf", "connections", "cons", "watch_summary", "wchs",
    "watches", "wchc", "watches_by_path", "wchp", "dump", "environment",
    "envi", "dirs", "is_read_only", "isro", "get_trace_mask", "gtmk",
    "leader", "voting_view", "zabstate", "observers", "hash",
    "last_snapshot", "initial_configuration", "observer_connection_stat_reset",
    "system_properties",
]


def http(port, path, method="GET", data=None, timeout=10):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path),
                                 method=method, data=data)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type"), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read()


def command(port, name):
    status, ctype, body = http(port, "/commands/" + name)
    assert status == 200, (name, status, body[:300])
    assert ctype.startswith("application/json"), (name, ctype)
    return json.loads(body)


class Pair:
    """paddockd and ZooKeeper with their AdminServers on, same traffic."""

    def __init__(self):
        self.srv = {}
        self.admin = {}
        self.clients = {}
        for kind in ("paddock", "zookeeper"):
            port = free_port()
            over = dict(ADMIN, **{"admin.serverPort": port})
            # full_cp: Jetty, without which ZooKeeper quietly runs a
            # DummyAdminServer
            self.srv[kind] = Server(kind, over, name="admin",
                                    full_cp=True).start()
            self.admin[kind] = port

    def traffic(self):
        for kind, s in self.srv.items():
            a = new_client(s.hosts)
            b = new_client(s.hosts)
            a.ensure_path("/adm/x")
            a.create("/adm/y", b"12345")
            a.create("/adm/eph-a", ephemeral=True)
            b.create("/adm/eph-b", b"b", ephemeral=True)
            a.get("/adm/x", watch=lambda e: None)
            a.exists("/adm/missing", watch=lambda e: None)
            b.get("/adm/y", watch=lambda e: None)
            b.get_children("/adm", watch=lambda e: None)
            self.clients[kind] = (a, b)

    def stop(self):
        for a, b in self.clients.values():
            for c in (a, b):
                c.stop()
                c.close()
        for s in self.srv.values():
            s.cleanup()


@pytest.fixture(scope="module")
def pair():
    p = Pair()
    try:
        p.traffic()
        yield p
    finally:
        p.stop()


def jtype(v):
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "str"
    if v is None:
        return "null"
    if isinstance(v, list):
        return "list"
    return "object"


def own(key):
    return key.startswith("paddock_") or key.startswith("paddock.")


def shape_diff(pd, zk, where, skip=frozenset()):
    """Differences in keys and types between two JSON values."""
    out = []
    if jtype(pd) != jtype(zk) and not (pd is None or zk is None):
        return ["%s: paddockd %s, ZooKeeper %s" % (where, jtype(pd),
                                                     jtype(zk))]
    if isinstance(zk, dict) and isinstance(pd, dict):
        for k in zk:
            if k in skip:
                continue
            if k not in pd:
                out.append("%s.%s: missing in paddockd" % (where, k))
            else:
                out += shape_diff(pd[k], zk[k], "%s.%s" % (where, k))
        for k in pd:
            if k not in zk and not own(k):
                out.append("%s.%s: paddockd only" % (where, k))
    elif isinstance(zk, list) and isinstance(pd, list) and zk and pd:
        out += shape_diff(pd[0], zk[0], where + "[0]")
    return out


# Object-valued maps keyed by data (session ids, paths, sids, expiry
# times): compared by their values' shapes, not their keys.
KEYED_MAPS = {"session_id_to_watched_paths", "path_to_session_ids",
              "expiry_time_to_session_ids", "session_id_to_ephemeral_paths",
              "current_config"}


def normalise(v):
    if isinstance(v, dict):
        return {k: ({"*": next(iter(x.values()))} if k in KEYED_MAPS and x
                    else normalise(x)) for k, x in v.items()}
    return v


@pytest.mark.compare
@pytest.mark.parametrize("name", COMMANDS)
def test_command_json_has_zookeepers_keys_and_types(pair, name):
    pd = command(pair.admin["paddock"], name)
    zk = command(pair.admin["zookeeper"], name)
    assert pd["command"] == zk["command"]
    assert (pd["error"] is None) == (zk["error"] is None), (pd, zk)
    skip = NOT_IN_PADDOCK.get(zk["command"], set())
    if skip is None:
        return
    if zk["command"] == "monitor":
        # ZooKeeper's hundreds of metrics: paddockd's subset, typed alike
        missing = MONITOR_KEYS - set(pd)
        assert not missing, "monitor lacks %s" % sorted(missing)
        zk = {k: v for k, v in zk.items() if k in pd}
    diff = shape_diff(normalise(pd), normalise(zk), name, skip)
    assert not diff, "\n".join(diff)


@pytest.mark.compare
def test_same_traffic_gives_the_same_values(pair):
    pd = {n: command(pair.admin["paddock"], n) for n in
          ("watch_summary", "watches", "watches_by_path", "dump",
           "server_stats", "connections", "configuration")}
    zk = {n: command(pair.admin["zookeeper"], n) for n in pd}
    assert pd["watch_summary"] == zk["watch_summary"]
    # the same paths watched by the same sessions (ids differ)
    def per_session(doc):
        return sorted(sorted(p) for p in
                      doc["session_id_to_watched_paths"].values())
    assert per_session(pd["watches"]) == per_session(zk["watches"])
    assert per_session(pd["watches"]) == [["/adm/missing", "/adm/x"],
                                          ["/adm/y"]]
    def by_path(doc):
        return {p: len(s) for p, s in doc["path_to_session_ids"].items()}
    assert by_path(pd["watches_by_path"]) == by_path(zk["watches_by_path"])
    # ids: the same sessions in watches, watches_by_path, connections, dump
    ids = {c["session_id"] for c in pd["connections"]["connections"]}
    assert {int(k) for k in pd["watches"]["session_id_to_watched_paths"]} \
        <= ids
    def ephemerals(doc):
        return sorted(p for ps in
                      doc["session_id_to_ephemeral_paths"].values()
                      for p in ps)
    assert ephemerals(pd["dump"]) == ephemerals(zk["dump"]) == \
        ["/adm/eph-a", "/adm/eph-b"]
    assert {int(k) for k in pd["dump"]["session_id_to_ephemeral_paths"]} \
        <= ids
    expiring = [i for v in pd["dump"]["expiry_time_to_session_ids"].values()
                for i in v]
    assert sorted(expiring) == sorted(ids)
    assert pd["server_stats"]["node_count"] == \
        zk["server_stats"]["node_count"]
    for doc in (pd, zk):
        assert len(doc["connections"]["connections"]) == 2
        for c in doc["connections"]["connections"]:
            assert c["session_timeout"] == 10000
            assert c["last_zxid"] > 0
            # established: wall-clock ms, within the last minute
            assert abs(c["established"] / 1000.0 - time.time()) < 60
    for k in ("tick_time", "max_client_cnxns", "min_session_timeout",
              "max_session_timeout", "server_id",
              "client_port_listen_backlog"):
        assert pd["configuration"][k] == zk["configuration"][k], k


@pytest.mark.compare
def test_http_edges_answer_as_zookeeper(pair):
    for kind, port in pair.admin.items():
        # an unknown name: 200 and an error, as CommandServlet answers
        assert command(port, "nosuch") == {"command": "nosuch",
                                           "error": "Unknown command: nosuch"}
        assert command(port, "RUOK")["error"] == "Unknown command: RUOK"
        assert command(port, "ruok?x=1") == {"command": "ruok",
                                             "error": None}
        status, _, _ = http(port, "/commands/ruok", "POST", b"x=1")
        assert status == 405, kind
        status, _, _ = http(port, "/")
        assert status == 404, kind
        status, _, body = http(port, "/commands")
        assert status == 200
    names = {}
    for kind, port in pair.admin.items():
        _, _, body = http(port, "/commands")
        names[kind] = sorted(set(
            x.split('"')[0].rsplit("/", 1)[1]
            for x in body.decode().split('href="')[1:]))
    assert names["paddock"] == names["zookeeper"]
    for kind, port in pair.admin.items():
        r = command(port, "set_trace_mask")
        assert r["error"] == "setTraceMask requires long traceMask argument"
        r = command(port, "set_trace_mask?traceMask=abc")
        assert r["error"] == ("setTraceMask requires long traceMask "
                              "argument, got abc")
        assert command(port, "set_trace_mask?traceMask=1234")[
            "tracemask"] == 1234
        assert command(port, "gtmk")["tracemask"] == 1234
        command(port, "set_trace_mask?traceMask=306")


def test_latency_summaries_count_reads_and_writes(pair):
    """readlatency and updatelatency count every request, in whole ms
    as ZooKeeper prints them: min <= avg <= max, percentiles between."""
    port = pair.admin["paddock"]
    a, _ = pair.clients["paddock"]
    before = command(port, "monitor")
    for i in range(50):
        a.get("/adm/x")
    for i in range(20):
        a.set("/adm/x", b"%d" % i)
    m = command(port, "monitor")
    assert m["cnt_readlatency"] >= before["cnt_readlatency"] + 50
    assert m["cnt_updatelatency"] >= before["cnt_updatelatency"] + 20
    for name in ("readlatency", "updatelatency"):
        assert m["min_" + name] <= m["avg_" + name] <= m["max_" + name]
        assert m["min_" + name] <= m["p50_" + name] <= \
            m["p999_" + name] <= m["max_" + name]
    assert m["min_latency"] <= m["avg_latency"] <= m["max_latency"]
    srvr = four_letter(pair.srv["paddock"].hosts, "srvr")
    line = [l for l in srvr.splitlines() if l.startswith("Latency")][0]
    lo, avg, hi = line.split(": ")[1].split("/")
    assert int(lo) <= float(avg) <= int(hi), line


def test_stat_reset_and_connection_stat_reset(pair):
    port = pair.admin["paddock"]
    a, _ = pair.clients["paddock"]
    for _ in range(5):
        a.get("/adm/x")
    assert command(port, "srvr")["server_stats"]["packets_received"] > 5
    assert command(port, "srst")["error"] is None
    assert command(port, "srvr")["server_stats"]["packets_received"] <= 2
    a.get("/adm/x")
    conns = command(port, "cons")["connections"]
    assert max(c["packets_received"] for c in conns) >= 1
    assert command(port, "crst")["error"] is None
    conns = command(port, "cons")["connections"]
    assert all(c["packets_received"] == 0 for c in conns)


def test_hostile_http_clients_leave_every_port_serving(pair):
    """Idle connections, garbage, a huge header: clear errors, and the
    AdminServer and the client port keep answering."""
    srv = pair.srv["paddock"]
    port = pair.admin["paddock"]
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
    try:
        garbage = socket.create_connection(("127.0.0.1", port), timeout=5)
        garbage.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" +
                        os.urandom(64) + b"\r\n\r\n")
        reply = garbage.recv(4096)
        assert reply == b"" or reply.startswith(b"HTTP/1.1 400"), reply[:80]
        garbage.close()
        big = socket.create_connection(("127.0.0.1", port), timeout=5)
        big.sendall(b"GET /commands/ruok HTTP/1.1\r\nHost: x\r\nX-Big: " +
                    b"a" * 100000 + b"\r\n\r\n")
        reply = big.recv(4096)
        assert reply.startswith(b"HTTP/1.1 431") or \
            reply.startswith(b"HTTP/1.1 413") or reply == b"", reply[:80]
        big.close()
        assert command(port, "ruok")["error"] is None
        assert four_letter(srv.hosts, "ruok") == "imok"
        a, _ = pair.clients["paddock"]
        assert a.get("/adm/y")[0] == b"12345"
    finally:
        for s in idle:
            s.close()


def test_a_request_with_eof_behind_it_is_answered_and_closed(pair):
    """`printf 'GET ...' | nc -N` sends the request and EOF together.
    libmicrohttpd answered that and then held the connection (a slot of
    ADMIN_MAX_CONNS) until its 30 s idle timeout; each answer now says
    Connection: close and the connection ends with it."""
    port = pair.admin["paddock"]
    for path in ("/commands/ruok", "/commands/nosuch", "/nowhere"):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
        s.shutdown(socket.SHUT_WR)
        t0, got = time.time(), b""
        while True:
            b = s.recv(65536)  # times out (fails) after 5 s
            if not b:
                break
            got += b
        s.close()
        assert got.startswith(b"HTTP/1.1 "), got[:80]
        assert b"\r\nConnection: close\r\n" in got, got[:300]
        assert time.time() - t0 < 2, path


def test_partial_requests_closed_by_their_clients_free_their_slots(pair):
    """Seventy clients each send part of a request and close: with epoll,
    libmicrohttpd kept each such connection (CLOSE-WAIT) until its 30 s
    idle timeout, and once the 64 slots were taken ruok went unanswered
    (a Kubernetes liveness probe would have failed).  Each must be
    closed at once, and the AdminServer must answer."""
    port = pair.admin["paddock"]
    for _ in range(70):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET /commands/ru")
        s.shutdown(socket.SHUT_WR)
        s.close()
    assert http(port, "/commands/ruok", timeout=5)[0] == 200


def test_a_command_name_that_is_not_utf8_gets_a_whole_answer(pair):
    """/commands/%87x: JSON carries text only, so the bytes that are not
    UTF-8 come back as U+FFFD (as Java decodes them); the answer was {}
    (found by tests/fuzz/fuzz_admin)."""
    port = pair.admin["paddock"]
    for raw, name in (("%87x", "\ufffdx"), ("%E2%82", "\ufffd\ufffd"),
                      ("%C3%A9t%C3%A9", "\u00e9t\u00e9")):
        got = command(port, raw)
        assert got["command"] == name, got
        assert got["error"] == "Unknown command: " + name, got


def test_admin_port_in_use_is_a_start_error():
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    s = Server("paddock", dict(ADMIN, **{"admin.serverPort": port}),
               name="busy")
    try:
        with pytest.raises(ServerError) as e:
            s.start(timeout=5)
        assert "AdminServer 127.0.0.1:%d: Address already in use" % port \
            in str(e.value)
    finally:
        busy.close()
        s.cleanup()


# ---- Prometheus ---------------------------------------------------------

def test_metrics_endpoint_text_format():
    s, mport = prom_server("prom")
    try:
        c = new_client(s.hosts)
        c.ensure_path("/m/a/b")
        status, ctype, body = http(mport, "/metrics")
        assert status == 200
        assert ctype == "text/plain; version=0.0.4; charset=utf-8"
        text = body.decode()
        samples = {}
        types = {}
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split()
                types[name] = kind
            elif line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                samples[name] = float(value)
        assert types["znode_count"] == "gauge"
        assert types["packets_received"] == "counter"
        assert types["readlatency"] == "summary"
        assert samples['readlatency{quantile="0.99",}'] >= 0
        assert samples["readlatency_count"] >= 1
        assert samples["updatelatency_count"] >= 3
        # AvgMinMaxCounters (BASIC summaries, PrometheusSummary with
        # .quantile(0.5, 0.05)): the windowed median, _count, _sum
        for name in BASIC_SUMMARIES:
            assert types[name] == "summary", name
            assert re.search(r'^%s\{quantile="0\.5",\} \S+\n%s_count \d+\n'
                             r'%s_sum -?\d+$' % (name, name, name), text,
                             re.M), name
            assert '%s{quantile="0.9",}' % name not in samples, name
        assert samples["node_created_watch_count_count"] == 0
        q = samples['node_created_watch_count{quantile="0.5",}']
        assert q != q  # NaN: no sample in the window
        # ensure_path's creates went through the log; recovery's samples
        # are in the window (one each: the median is the value)
        assert samples['fsynctime{quantile="0.5",}'] >= 0
        assert samples['sync_processor_batch_size{quantile="0.5",}'] >= 1
        assert samples['startup_txns_loaded{quantile="0.5",}'] == 0
        assert samples['dbinittime{quantile="0.5",}'] == \
            int(command_free_key(s.hosts, "zk_max_dbinittime"))
        assert samples["dbinittime_count"] == 1
        # each worker's load, labelled; one TYPE line per family
        assert types["paddock_worker_packets_received"] == "counter"
        assert samples['paddock_worker_packets_received{worker="0"}'] >= 3
        assert samples['paddock_worker_connections{worker="0"}'] >= 1
        assert text.count("# TYPE paddock_worker_connections ") == 1
        # /, /zookeeper, /zookeeper/quota, /zookeeper/config, "", /m...
        assert samples["znode_count"] == \
            command_free_znode_count(s.hosts) == 8
        assert samples["global_sessions"] == 1
        assert "version" not in samples
        assert http(mport, "/nosuch")[0] == 404
        c.stop()
        c.close()
    finally:
        s.cleanup()


def prom_samples(port):
    _, _, body = http(port, "/metrics")
    out = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def test_prometheus_quantiles_cover_a_sliding_window(monkeypatch):
    """The Java client's Summary (PrometheusMetricsProvider's): quantiles
    over the last maxAgeSeconds (600 s in five 120 s buckets; 2 s here,
    PADDOCK_SUMMARY_MAX_AGE_MS), NaN once no sample is left in it;
    _count and _sum since start."""
    monkeypatch.setenv("PADDOCK_SUMMARY_MAX_AGE_MS", "2000")
    s, mport = prom_server("window")
    try:
        c = new_client(s.hosts)
        c.create("/w")
        for _ in range(20):
            c.get("/w")
        c.stop()  # no pings from here on
        c.close()
        t0 = time.monotonic()
        m = prom_samples(mport)
        for q in ("0.5", "0.9", "0.99"):
            for name in ("readlatency", "updatelatency"):
                v = m['%s{quantile="%s",}' % (name, q)]
                assert v == v and v >= 0, (name, q, v)  # not NaN
        n, total = m["readlatency_count"], m["readlatency_sum"]
        assert n >= 20
        # 2 s: every sample is older than the window (the last read may
        # still count until 2 s after its 400 ms period began)
        time.sleep(max(0.0, t0 + 2.5 - time.monotonic()))
        m = prom_samples(mport)
        for q in ("0.5", "0.9", "0.99"):
            for name in ("readlatency", "updatelatency"):
                v = m['%s{quantile="%s",}' % (name, q)]
                assert v != v, (name, q, v)  # NaN
        assert m["readlatency_count"] == n
        assert m["readlatency_sum"] == total
        # mntr's summary is since start: still every sample
        assert int(command_free_key(s.hosts, "zk_cnt_readlatency")) == n
        c = new_client(s.hosts)
        c.set("/w", b"1")
        m = prom_samples(mport)
        v = m['updatelatency{quantile="0.5",}']
        assert v == v and v >= 0
        c.stop()
        c.close()
    finally:
        s.cleanup()


def test_prometheus_basic_summaries_have_a_windowed_median(monkeypatch):
    """ZooKeeper's BASIC summaries (AvgMinMaxCounters: fsynctime, the
    watch counts, ...) are the Java client's Summary with the 0.5
    quantile only: over the same window as the ADVANCED ones (2 s here),
    NaN once no sample is left in it, in the counter's unit."""
    monkeypatch.setenv("PADDOCK_SUMMARY_MAX_AGE_MS", "2000")
    s, mport = prom_server("basic-window")
    try:
        c = new_client(s.hosts)
        m = prom_samples(mport)
        v = m['node_changed_watch_count{quantile="0.5",}']
        assert v != v, v  # NaN
        fired = []
        c.create("/bw", b"0")
        c.get("/bw", watch=fired.append)
        c.set("/bw", b"1")  # one watcher told: a sample of 1
        for _ in range(5):
            c.set("/bw", b"2")
        deadline = time.monotonic() + 10
        while not fired and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fired
        c.stop()
        c.close()
        t0 = time.monotonic()
        m = prom_samples(mport)
        assert m['node_changed_watch_count{quantile="0.5",}'] == 1.0
        assert m["node_changed_watch_count_count"] == 1
        assert m["node_changed_watch_count_sum"] == 1
        v = m['fsynctime{quantile="0.5",}']
        assert v == v and 0 <= v <= m["fsynctime_sum"] + 1000, v
        assert m["fsynctime_count"] >= 7
        v = m['sync_processor_batch_size{quantile="0.5",}']
        assert v == v and v >= 1, v
        n = {k: m[k + "_count"] for k in BASIC_SUMMARIES}
        # every sample is older than the window (2 s and its last 400 ms
        # period)
        time.sleep(max(0.0, t0 + 2.5 - time.monotonic()))
        m = prom_samples(mport)
        for name in BASIC_SUMMARIES:
            v = m['%s{quantile="0.5",}' % name]
            assert v != v, (name, v)  # NaN
            assert m[name + "_count"] == n[name], name
        # mntr's summaries are since start
        assert command_free_key(s.hosts, "zk_cnt_node_changed_watch_count") \
            == "1"
        assert int(command_free_key(s.hosts, "zk_cnt_fsynctime")) == \
            n["fsynctime"]
    finally:
        s.cleanup()


def command_free_key(hosts, key):
    for line in four_letter(hosts, "mntr").splitlines():
        k, v = line.split("\t")
        if k == key:
            return v
    return None


def command_free_znode_count(hosts):
    for line in four_letter(hosts, "mntr").splitlines():
        k, v = line.split("\t")
        if k == "zk_znode_count":
            return int(v)
    return None


def test_a_real_prometheus_scrapes_paddockd(tmp_path):
    prom = "/usr/bin/prometheus"
    if not os.path.exists(prom):
        pytest.skip("prometheus not installed (tools/deps.sh installs it)")
    s, mport = prom_server("scraped")
    pport = free_port()
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text("global:\n  scrape_interval: 1s\n"
                   "scrape_configs:\n  - job_name: paddock\n"
                   "    static_configs:\n"
                   "      - targets: ['127.0.0.1:%d']\n" % mport)
    log = open(tmp_path / "prometheus.log", "wb")
    p = subprocess.Popen([prom, "--config.file=%s" % cfg,
                          "--storage.tsdb.path=%s" % (tmp_path / "tsdb"),
                          "--web.listen-address=127.0.0.1:%d" % pport],
                         stdout=log, stderr=subprocess.STDOUT)
    try:
        c = new_client(s.hosts)
        for i in range(10):
            c.create("/scraped-%d" % i)
        want = command_free_znode_count(s.hosts)
        deadline = time.monotonic() + 60
        got = None
        while time.monotonic() < deadline:
            try:
                _, _, body = http(pport, "/api/v1/query?query=znode_count",
                                  timeout=2)
                res = json.loads(body)["data"]["result"]
                if res:
                    got = float(res[0]["value"][1])
                    assert res[0]["metric"]["job"] == "paddock"
                    if got == want:
                        break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.5)
        assert got == want, open(tmp_path / "prometheus.log").read()[-2000:]
        _, _, body = http(pport, "/api/v1/query?query=up")
        up = json.loads(body)["data"]["result"]
        assert up and up[0]["value"][1] == "1"
        c.stop()
        c.close()
    finally:
        p.terminate()
        p.wait(timeout=20)
        log.close()
        s.cleanup()


@pytest.mark.compare
def test_cons_four_letter_word_has_zookeepers_fields(pair):
    """cons: the same fields in the same order, est in wall-clock ms."""
    fields = {}
    for kind, s in pair.srv.items():
        lines = [l for l in four_letter(s.hosts, "cons").splitlines()
                 if "sid=" in l]
        assert len(lines) == 2, (kind, lines)
        kv = [f.split("=") for f in
              lines[0].split("(", 1)[1].rstrip(")").split(",")]
        fields[kind] = [k for k, _ in kv]
        est = int(dict(kv)["est"])
        assert abs(est / 1000.0 - time.time()) < 60, (kind, est)
    assert fields["paddock"] == fields["zookeeper"]


@pytest.mark.compare
def test_envi_four_letter_word_has_zookeepers_keys(pair):
    """envi: ZooKeeper's keys in its order, but the JVM's java.* ones."""
    keys = {}
    for kind, s in pair.srv.items():
        lines = four_letter(s.hosts, "envi").splitlines()
        assert lines[0] == "Environment:"
        keys[kind] = [l.split("=", 1)[0] for l in lines[1:]
                      if not l.startswith("java.")]
    assert keys["paddock"] == keys["zookeeper"]


def dump_shape(text):
    """dump's lines with ids, dates, ports and set counts blanked: the
    layout, the sessions', ephemerals' and connections' counts stay."""
    out = []
    for line in text.splitlines():
        line = re.sub(r"0x[0-9a-f]+", "ID", line)
        line = re.sub(r"expire at .*:$", "expire at DATE:", line)
        line = re.sub(r"^\d+ expire", "N expire", line)
        line = re.sub(r":\d+ sessionId", ":PORT sessionId", line)
        line = re.sub(r"Sets \(\d+\)/", "Sets (S)/", line)
        out.append(line)
    return out


@pytest.mark.compare
def test_dump_four_letter_word_has_zookeepers_layout(pair):
    # the expiry sets may split differently (timing), and sessions come
    # in hash order: the same lines, and the same headings in order.  A
    # session an earlier test closed may still be listed for a moment on
    # either server (a loaded CI machine): compare once both have settled
    deadline = time.monotonic() + 10
    while True:
        shapes = {}
        for kind, s in pair.srv.items():
            shapes[kind] = [l for l in dump_shape(four_letter(s.hosts,
                                                              "dump"))
                            if l != "N expire at DATE:"]
        if sorted(shapes["paddock"]) == sorted(shapes["zookeeper"]) or \
                time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert sorted(shapes["paddock"]) == sorted(shapes["zookeeper"])
    heads = {k: [l for l in v if not l.startswith("\t") and l != "ID:"]
             for k, v in shapes.items()}
    assert heads["paddock"] == heads["zookeeper"]
    assert "Session Sets (S)/(2):" in shapes["paddock"]
    assert "\t/adm/eph-a" in shapes["paddock"]
