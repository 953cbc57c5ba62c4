"""Four-letter words on the client port (server runs with
4lw.commands.whitelist=*), and the whitelist rules."""

import json
import re
import threading
import time
import urllib.request

import pytest
from kazoo.client import KazooClient

import jute
from conftest import TARGET, Server, four_letter
from srvutil import free_port, kv_lines


def test_ruok_answers_imok(target):
    # exactly "imok", no newline
    assert four_letter(target.hosts, "ruok") == "imok"


def test_srvr(target):
    out = four_letter(target.hosts, "srvr")
    assert out.startswith("Zookeeper version: ")
    for key in ("Latency min/avg/max: ", "Received: ", "Sent: ",
                "Connections: ", "Outstanding: ", "Zxid: 0x", "Mode: ",
                "Node count: "):
        assert "\n" + key in out, key
    assert re.search(r"\nMode: standalone\n", out)
    assert re.search(r"\nLatency min/avg/max: \d+/[\d.]+/\d+\n", out)


def test_stat_lists_clients(target, raw):
    raw()
    out = four_letter(target.hosts, "stat")
    assert out.startswith("Zookeeper version: ")
    assert "\nClients:\n" in out
    assert re.search(r"\n /127\.0\.0\.1:\d+\[\d+\]\(queued=\d+,recved=\d+,"
                     r"sent=\d+\)\n", out)
    assert "\nNode count: " in out and "\nMode: standalone\n" in out


def test_mntr_has_zk_keys(target, raw, root):
    c = raw()
    c.create(root, b"", mode=jute.Mode.EPHEMERAL)
    kv = kv_lines(four_letter(target.hosts, "mntr"))
    for key in ("zk_version", "zk_server_state", "zk_avg_latency",
                "zk_max_latency", "zk_min_latency", "zk_packets_received",
                "zk_packets_sent", "zk_num_alive_connections",
                "zk_outstanding_requests", "zk_znode_count",
                "zk_watch_count", "zk_ephemerals_count",
                "zk_approximate_data_size", "zk_open_file_descriptor_count",
                "zk_max_file_descriptor_count", "zk_uptime",
                "zk_global_sessions"):
        assert key in kv, key
    assert kv["zk_server_state"] == "standalone"
    assert int(kv["zk_znode_count"]) >= 5
    assert int(kv["zk_ephemerals_count"]) >= 1
    assert int(kv["zk_num_alive_connections"]) >= 1


def test_conf(target):
    kv = dict(l.split("=", 1) for l in
              four_letter(target.hosts, "conf").splitlines() if "=" in l)
    assert kv["clientPort"] == str(target.port)
    assert kv["tickTime"] == "2000"
    assert kv["minSessionTimeout"] == "1000"
    assert kv["maxSessionTimeout"] == "40000"
    assert kv["maxClientCnxns"] == "60"
    assert "dataDir" in kv and "dataLogDir" in kv


def test_envi(target):
    out = four_letter(target.hosts, "envi")
    assert out.startswith("Environment:\n")
    assert re.search(r"\nzookeeper\.version=", out)
    assert re.search(r"\nhost\.name=", out)
    assert re.search(r"\nos\.name=", out)


def test_cons_lists_session(target, raw):
    c = raw()
    out = four_letter(target.hosts, "cons")
    assert "sid=0x%x" % c.session_id in out
    assert re.search(r" /127\.0\.0\.1:\d+\[\d+\]\(queued=\d+,recved=\d+,"
                     r"sent=\d+", out)


def watch_blocks(text):
    """wchc/wchp text: each key once, its values indented, then the blank
    line WatchCommand's println adds."""
    assert text.endswith("\n\n"), repr(text)
    blocks, key = {}, None
    for line in text[:-1].splitlines():
        if line.startswith("\t"):
            blocks[key].append(line[1:])
        else:
            key = line
            assert key not in blocks, "%s listed twice" % key
            blocks[key] = []
    return blocks


def test_watch_words(target, raw, root):
    a, b = raw(), raw()
    for p in ("", "/x", "/y"):
        a.create(root + p)
    a.get_data(root + "/x", watch=True)
    a.get_data(root + "/y", watch=True)
    a.get_children(root, watch=True)  # a child watch: not listed
    b.get_data(root + "/x", watch=True)
    sa, sb = "0x%x" % a.session_id, "0x%x" % b.session_id
    wchs = four_letter(target.hosts, "wchs")
    assert re.match(r"\d+ connections watching \d+ paths\nTotal watches:\d+\n$",
                    wchs), wchs
    by_session = watch_blocks(four_letter(target.hosts, "wchc"))
    assert sorted(by_session[sa]) == [root + "/x", root + "/y"]
    assert by_session[sb] == [root + "/x"]
    by_path = watch_blocks(four_letter(target.hosts, "wchp"))
    assert sorted(by_path[root + "/x"]) == sorted([sa, sb])
    assert by_path[root + "/y"] == [sa]
    assert root not in by_path


def test_dump_lists_ephemerals(target, raw, root):
    c = raw()
    c.create(root, b"", mode=jute.Mode.EPHEMERAL)
    out = four_letter(target.hosts, "dump")
    assert out.startswith("SessionTracker dump:\n")
    assert "ephemeral nodes dump:\n" in out
    assert "0x%x:\n\t%s\n" % (c.session_id, root) in out


def test_isro(target):
    assert four_letter(target.hosts, "isro") == "rw"


def test_crst_srst(target):
    assert four_letter(target.hosts, "crst") == "Connection stats reset.\n"
    assert four_letter(target.hosts, "srst") == "Server stats reset.\n"
    out = four_letter(target.hosts, "srvr")
    # after srst the counters restart (this very srvr counts itself at most)
    assert re.search(r"\nReceived: [01]\n", out), out


def test_dirs(target):
    out = four_letter(target.hosts, "dirs")
    assert re.match(r"datadir_size: \d+\nlogdir_size: \d+\n$", out), out


def test_unknown_word_closes_without_reply(target):
    # an unknown 4-byte word is read as a frame length (0x78797a77 is far
    # beyond jute.maxbuffer): the connection is just closed
    assert four_letter(target.hosts, "xyzw") == ""


def test_non_whitelisted_word_is_refused(server_factory):
    srv = server_factory({"4lw.commands.whitelist": "srvr, ruok"})
    assert four_letter(srv.hosts, "ruok") == "imok"
    assert four_letter(srv.hosts, "stat") == \
        "stat is not executed because it is not in the whitelist.\n"
    assert four_letter(srv.hosts, "mntr") == \
        "mntr is not executed because it is not in the whitelist.\n"
    out = four_letter(srv.hosts, "srvr")
    # a fresh ZooKeeper counts 5 nodes: the root is stored twice in its
    # node map ("" and "/"), plus /zookeeper, /zookeeper/quota,
    # /zookeeper/config
    assert "\nNode count: 5" in out, out


def test_default_whitelist_is_srvr_only(server_factory):
    srv = server_factory({"4lw.commands.whitelist": None})
    assert four_letter(srv.hosts, "ruok") == \
        "ruok is not executed because it is not in the whitelist.\n"
    assert four_letter(srv.hosts, "srvr").startswith("Zookeeper version: ")


@pytest.mark.skipif(TARGET != "paddock", reason="paddockd's workers")
def test_words_that_read_every_worker_answer_at_once(tmp_path):
    """With two workers, each four-letter word that lists connections or
    watches reads the other worker's on that worker's thread: two words
    answered at once on both workers ask each other, and the AdminServer
    asks both meanwhile.  Every answer must be whole (all sessions), and
    none may wait on another forever."""
    port = free_port()
    s = Server("paddock", {"paddock.workers": 2,
                           "admin.enableServer": "true",
                           "admin.serverAddress": "127.0.0.1",
                           "admin.serverPort": port}, name="w2")
    clients = []
    try:
        s.start()
        for i in range(12):
            c = KazooClient(s.hosts)
            c.start()
            clients.append(c)
        clients[0].ensure_path("/w")
        for c in clients:
            c.exists("/w", watch=lambda e: None)
        sessions = {"0x%x" % c.client_id[0] for c in clients}
        errors = []

        def words(name):
            try:
                for _ in range(25):
                    for w in ("cons", "wchc", "stat", "crst", "dump",
                              "mntr", "wchs"):
                        out = four_letter(s.hosts, w)
                        if w == "cons":
                            got = set(re.findall(r"sid=(0x[0-9a-f]+)", out))
                            assert sessions <= got, (w, sessions - got)
                        elif w == "wchc":
                            got = set(watch_blocks(out))
                            assert sessions <= got, (w, sessions - got)
                        elif w == "mntr":
                            kv = kv_lines(out)
                            assert int(kv["zk_watch_count"]) >= 12, out
            except Exception as e:  # noqa: BLE001 (reported below)
                errors.append("%s: %r" % (name, e))

        def admin():
            try:
                for _ in range(25):
                    with urllib.request.urlopen(
                            "http://127.0.0.1:%d/commands/watches" % port,
                            timeout=10) as r:
                        got = json.loads(r.read())
                    ids = {"0x%x" % int(k) for k in
                           got["session_id_to_watched_paths"]}
                    assert sessions <= ids, sessions - ids
            except Exception as e:  # noqa: BLE001
                errors.append("admin: %r" % e)

        threads = [threading.Thread(target=words, args=("4lw%d" % i,))
                   for i in range(4)] + [threading.Thread(target=admin)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not any(t.is_alive() for t in threads), "a word never ended"
        assert not errors, errors
        for c in clients:
            assert c.exists("/w") is not None
    finally:
        for c in clients:
            c.stop()
        s.cleanup()


@pytest.mark.skipif(TARGET != "paddock", reason="restarts its own paddockd")
def test_mntr_group_commit_and_startup_counters():
    """ZooKeeper's AvgMinMaxCounters that paddock fills: fsynctime and
    sync_processor_batch_size per group commit, dbinittime and the
    startup_* ones per recovery (the log replayed at a restart)."""
    s = Server("paddock", name="amm")
    try:
        s.start()
        c = KazooClient(s.hosts)
        c.start()
        for i in range(100):
            c.create("/amm-%d" % i)
        c.stop()
        kv = kv_lines(four_letter(s.hosts, "mntr"))
        flushes = int(kv["zk_cnt_fsynctime"])
        assert flushes >= 1
        assert int(kv["zk_cnt_sync_processor_batch_size"]) == flushes
        # 100 creates, the session's create and close
        assert int(kv["zk_sum_sync_processor_batch_size"]) >= 102
        assert int(kv["zk_max_sync_processor_batch_size"]) >= 1
        assert int(kv["zk_sum_fsynctime"]) >= int(kv["zk_max_fsynctime"])
        assert int(kv["zk_cnt_dbinittime"]) == 1
        before = int(kv["zk_sum_startup_txns_loaded"])
        s.stop()
        s.start()
        kv = kv_lines(four_letter(s.hosts, "mntr"))
        assert int(kv["zk_cnt_startup_txns_loaded"]) == 1
        assert int(kv["zk_sum_startup_txns_loaded"]) >= before + 102
        assert int(kv["zk_cnt_startup_snap_load_time"]) == 1
    finally:
        s.cleanup()


@pytest.mark.skipif(TARGET != "paddock", reason="paddockd's counter")
def test_a_reply_for_a_connection_gone_counts_as_stale(target, root):
    """A write sent and the connection closed at once: its reply comes
    back after the group commit, for a connection the worker has closed
    (ZooKeeper's stale_replies)."""
    before = int(kv_lines(four_letter(target.hosts, "mntr"))
                 .get("zk_stale_replies", 0))
    c = jute.RawClient(target.hosts)
    c.connect()
    c.create(root)
    for i in range(20):
        d = jute.RawClient(target.hosts)
        d.connect()
        body = jute.p_string("%s/s%d" % (root, i)) + jute.p_buffer(b"") + \
            jute.p_vector(jute.OPEN_ACL, jute.p_acl) + jute.p_int(0)
        d.send_frame(jute.p_int(1) + jute.p_int(jute.Op.CREATE2) + body)
        d.close_socket()
    deadline = time.time() + 5
    while time.time() < deadline:
        now = int(kv_lines(four_letter(target.hosts, "mntr"))
                  .get("zk_stale_replies", 0))
        if now > before:
            break
        time.sleep(0.05)
    assert now > before
