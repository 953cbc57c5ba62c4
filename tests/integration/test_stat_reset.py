"""srst and the AdminServer's stat_reset, against Apache ZooKeeper 3.8 in
the same test.

ZooKeeper 3.8's ServerStats.reset() resets the request latency, the
packet counts and the client response sizes, then calls
ServerMetrics.getMetrics().resetAll(): DefaultMetricsProvider's
resetAllValues() resets every Counter and every Summary and SummarySet
(the startup ones too) and no Gauge.  The same traffic runs on a fresh
paddockd and a fresh ZooKeeper, mntr is taken, the reset is done (the
four-letter word, or the AdminServer's command), mntr is taken again: the
keys both print must be reset to the same values on both.

With the Prometheus provider ZooKeeper's resetAllValues() does nothing:
only ServerStats' own numbers reset (checked on paddockd alone: Debian's
ZooKeeper has no Prometheus provider).
"""

import json
import os
import queue
import time
import urllib.request

import pytest

from conftest import JAVA, TARGET, ZK_JAR, Server, new_client, prom_server
from ensemble import Ensemble
from srvutil import four_letter, free_port, kv_lines

ADMIN = {"admin.enableServer": "true", "admin.serverAddress": "127.0.0.1"}

# keys the traffic below makes non-zero on both servers, all of which a
# reset must zero (counters and summaries of ServerMetrics, and
# ServerStats' own)
MADE_NONZERO = (
    "zk_packets_received", "zk_packets_sent", "zk_avg_latency",
    "zk_bytes_received_count", "zk_response_bytes", "zk_watch_bytes",
    "zk_connection_request_count", "zk_cnt_readlatency",
    "zk_cnt_updatelatency", "zk_sum_updatelatency", "zk_cnt_fsynctime",
    "zk_cnt_sync_processor_batch_size", "zk_sum_sync_processor_batch_size",
    "zk_cnt_dbinittime", "zk_cnt_startup_snap_load_time",
    "zk_cnt_node_children_watch_count", "zk_cnt_node_deleted_watch_count",
    "zk_max_client_response_size")


def zeroish(v):
    return v in ("0", "0.0", "-1")


def traffic(hosts):
    """Writes, reads, two watches fired; the clients stay connected."""
    w, r = new_client(hosts), new_client(hosts)
    events = queue.Queue()
    w.create("/sr")
    for i in range(20):
        w.create("/sr/n%d" % i, b"x" * i)
        r.get("/sr/n%d" % i)
        w.set("/sr/n%d" % i, b"y")
    r.get_children("/sr", watch=events.put)
    r.exists("/sr/n0", watch=events.put)
    w.delete("/sr/n0")
    for _ in range(2):
        events.get(timeout=10)
    return [w, r]


def admin_command(port, name):
    with urllib.request.urlopen("http://127.0.0.1:%d/commands/%s" %
                                (port, name), timeout=10) as f:
        return f.read()


def run(kind, how):
    """mntr before and after the reset, on a fresh server of `kind`."""
    over, port = None, None
    if how == "admin":
        port = free_port()
        over = dict(ADMIN, **{"admin.serverPort": port})
    srv = Server(kind, over, name="srst", full_cp=how == "admin").start()
    try:
        clients = traffic(srv.hosts)
        before = kv_lines(four_letter(srv.hosts, "mntr"))
        if how == "4lw":
            assert four_letter(srv.hosts, "srst") == "Server stats reset.\n"
        else:
            doc = json.loads(admin_command(port, "stat_reset"))
            assert doc["error"] is None, doc
        after = kv_lines(four_letter(srv.hosts, "mntr"))
        for c in clients:
            c.stop()
            c.close()
        return before, after
    finally:
        srv.cleanup()


@pytest.mark.compare
@pytest.mark.skipif(TARGET != "paddock", reason="compares paddockd")
@pytest.mark.parametrize("how", ["4lw", "admin"])
def test_stat_reset_zeroes_what_zookeeper_zeroes(how):
    if not os.path.exists(ZK_JAR) or not os.path.exists(JAVA):
        pytest.skip("reference Apache ZooKeeper not installed")
    got = {kind: run(kind, how) for kind in ("paddock", "zookeeper")}
    for kind, (before, _) in got.items():
        for k in MADE_NONZERO:
            assert not zeroish(before[k]), (kind, k, before[k])
    zk_after, pd_after = got["zookeeper"][1], got["paddock"][1]
    common = set(zk_after) & set(pd_after)
    zk_zero = {k for k in common if zeroish(zk_after[k])}
    pd_zero = {k for k in common if zeroish(pd_after[k])}
    assert sorted(zk_zero - pd_zero) == [], "ZooKeeper resets, paddock not"
    assert sorted(pd_zero - zk_zero) == [], "paddock resets, ZooKeeper not"
    assert {k: pd_after[k] for k in zk_zero} == \
        {k: zk_after[k] for k in zk_zero}
    # after the reset: mntr's own 4 bytes and packet, and for srst its
    # own answer (sent after the reset); no ConnectRequest since
    want = {"zk_bytes_received_count": "4", "zk_packets_received": "1",
            "zk_packets_sent": "1" if how == "4lw" else "0",
            "zk_connection_request_count": "0"}
    for after in (zk_after, pd_after):
        assert {k: after[k] for k in want} == want
    assert set(MADE_NONZERO) <= zk_zero | {
        "zk_packets_received", "zk_packets_sent", "zk_bytes_received_count"}


def prom_samples(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                timeout=10) as f:
        body = f.read().decode()
    return {name: float(value) for name, value in
            (line.rsplit(" ", 1) for line in body.splitlines()
             if line and not line.startswith("#"))}


# BASIC summaries (AvgMinMaxCounters) the traffic gives a sample in
# Prometheus' window, and what their 0.5 quantile is then (None: >= 0)
BASIC_MEDIANS = {"fsynctime": None, "sync_processor_batch_size": None,
                 "dbinittime": None, "node_children_watch_count": 1.0,
                 "node_deleted_watch_count": 1.0}


@pytest.mark.skipif(TARGET != "paddock", reason="paddockd's Prometheus")
def test_stat_reset_with_prometheus_resets_server_stats_only():
    """PrometheusMetricsProvider.resetAllValues is empty ("not supported
    on Prometheus"): counters and summaries go on, ServerStats' latency,
    packets and response sizes reset.  The summaries' windowed quantiles
    (the BASIC ones' 0.5 among them) stay as they were."""
    srv, mport = prom_server("srst-prom")
    try:
        clients = traffic(srv.hosts)
        before = kv_lines(four_letter(srv.hosts, "mntr"))
        pb = prom_samples(mport)
        four_letter(srv.hosts, "srst")
        after = kv_lines(four_letter(srv.hosts, "mntr"))
        pa = prom_samples(mport)
        for name, want in BASIC_MEDIANS.items():
            q = '%s{quantile="0.5",}' % name
            assert pb[q] == pb[q] and pb[q] >= 0, (name, pb[q])  # not NaN
            assert pa[q] == pb[q], (name, pb[q], pa[q])
            if want is not None:
                assert pa[q] == want, (name, pa[q])
            assert pa[name + "_count"] == pb[name + "_count"] > 0, name
        for k in ("zk_avg_latency", "zk_max_client_response_size"):
            assert not zeroish(before[k]) and zeroish(after[k]), k
        assert after["zk_packets_received"] == "1"
        for k in ("zk_cnt_readlatency", "zk_cnt_updatelatency",
                  "zk_cnt_fsynctime", "zk_cnt_dbinittime",
                  "zk_cnt_node_children_watch_count", "zk_response_bytes"):
            assert int(after[k]) >= int(before[k]) > 0, k
        for c in clients:
            c.stop()
            c.close()
    finally:
        srv.cleanup()


@pytest.mark.compare
@pytest.mark.parametrize("kind", ["paddock", "zookeeper"])
def test_srst_and_crst_on_a_member_not_serving(kind):
    """One member of three, alone: LOOKING.  StatResetCommand and
    CnxnStatResetCommand answer ZK_NOT_SERVING and reset nothing."""
    if kind == "zookeeper" and not (os.path.exists(ZK_JAR) and
                                    os.path.exists(JAVA)):
        pytest.skip("reference Apache ZooKeeper not installed")
    if kind == "paddock" and TARGET != "paddock":
        pytest.skip("compares paddockd")
    ens = Ensemble(voters=3, kind=kind)
    try:
        ens[0].start()
        deadline = time.monotonic() + 30
        while True:
            try:
                if four_letter(ens[0].hosts, "ruok") == "imok":
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, ens[0].log_tail()
            time.sleep(0.1)
        for word in ("srst", "crst"):
            assert four_letter(ens[0].hosts, word) == \
                "This ZooKeeper instance is not currently serving " \
                "requests\n", word
    finally:
        ens.close()
