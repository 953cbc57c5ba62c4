"""The AdminServer of quorum members: a 3-member paddockd ensemble beside
a 3-member Apache ZooKeeper 3.8 ensemble, both started by this module,
every member with its AdminServer on (its own admin.serverPort).

The same kazoo traffic goes to both ensembles; then the quorum commands
(leader, voting_view, zabstate, server_stats/srvr, monitor, observers,
initial_configuration) are fetched from the leader and from a follower
of each, and compared: keys and JSON types (test_admin.shape_diff), and
the values that the ensemble's own config and roles fix (leader id and
ip, addresses, learner counts, zab state).

Keys ZooKeeper prints that paddockd leaves out are listed below, each
with its reason; anything else missing fails.
"""

import json
import re
import os
import subprocess
import time

import pytest
from kazoo.client import KazooClient
from kazoo.retry import KazooRetry

import ensemble
from ensemble import Ensemble, Member
from test_admin import command, jtype, normalise, shape_diff

# ZooKeeper's AdminServer needs Jetty on the class path (without it
# ZooKeeper quietly runs a DummyAdminServer): all of /usr/share/java.
# slf4j-simple ahead of the wildcard, or SLF4J may bind slf4j-nop.jar
# from it and the members' server.log (log_tail on a failure) is empty.
ZK_ADMIN_CP = ("/usr/share/java/zookeeper.jar:"
               "/usr/share/java/slf4j-simple.jar:/usr/share/java/*")

# zabstate: ZooKeeper's quorum_address and election_address are Jackson
# dumps of Java MultipleAddresses beans (empty, all_addresses, one,
# wildcard_addresses, all_ports, ...); paddockd leaves them out.
ZABSTATE_NOT_IN_PADDOCK = {"quorum_address", "election_address"}

# server_stats/srvr on the leader: ZooKeeper adds "proposal_stats"
# ({last,min,max}_buffer_size of the proposals it sent to learners,
# ServerStats of a LeaderZooKeeperServer only).  paddockd's leader keeps
# no such buffer stats and leaves it out: allowed, until it does.
SERVER_STATS_LEADER_NOT_IN_PADDOCK = {"proposal_stats"}

# monitor on the leader: the learner counts both print, with the values a
# 3-voter ensemble with no observer must have once both followers synced.
LEADER_LEARNER_COUNTS = {"learners": 2, "synced_followers": 2,
                         "synced_observers": 0, "pending_syncs": 0}

# every test here compares paddockd with a ZooKeeper ensemble
pytestmark = pytest.mark.compare

ROLES = ("leader", "follower")
KINDS = ("paddock", "zookeeper")


class AdminMember(Member):
    """An ensemble Member whose zoo.cfg turns the AdminServer on, on a
    port of its own, and whose ZooKeeper has Jetty on its class path."""

    admin_port = None

    def write_config(self):
        path = super().write_config()
        with open(path) as f:
            lines = [l for l in f.read().splitlines()
                     if not l.startswith("admin.")]
        lines += ["admin.enableServer=true",
                  "admin.serverAddress=127.0.0.1",
                  "admin.serverPort=%d" % self.admin_port]
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def start(self):
        if self.kind != "zookeeper":
            return super().start()
        # Member.start builds the java command line from ensemble.ZK_CP;
        # give it the Jetty class path for this one start.
        saved = ensemble.ZK_CP
        ensemble.ZK_CP = ZK_ADMIN_CP
        try:
            return super().start()
        finally:
            ensemble.ZK_CP = saved


class AdminEnsemble(Ensemble):
    def __init__(self, **kw):
        super().__init__(**kw)
        for m in self.members:
            m.__class__ = AdminMember
            m.admin_port = self.port()


def wait_admin(m, timeout=40):
    """The member's AdminServer answers ruok."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if command(m.admin_port, "ruok")["error"] is None:
                return
        except (OSError, AssertionError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError("s%d (%s): AdminServer 127.0.0.1:%d not "
                                 "answering after %ds\n%s" % (
                                     m.sid, m.kind, m.admin_port, timeout,
                                     m.log_tail()))
        time.sleep(0.2)


def wait_for(fn, timeout=30):
    """fn() until it returns something true; the last value otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(0.2)


class Side:
    """One ensemble with its leader, a follower and a kazoo client."""

    def __init__(self, kind):
        self.kind = kind
        self.ens = AdminEnsemble(voters=3, kind=kind)
        self.client = None
        self.role = {}

    def start_members(self):
        for m in self.ens.members:
            m.start()

    def settle(self):
        leader = self.ens.wait_serving(timeout=60)
        for m in self.ens.members:
            wait_admin(m)
        self.role["leader"] = leader
        self.role["follower"] = min((m for m in self.ens.members
                                     if m is not leader),
                                    key=lambda m: m.sid)

    def traffic(self):
        c = KazooClient(hosts=self.ens.hosts(), timeout=10.0,
                        connection_retry=KazooRetry(max_tries=-1, delay=0.1,
                                                    max_delay=1.0))
        c.start(timeout=30)
        self.client = c
        c.ensure_path("/adm-ens/a")
        c.create("/adm-ens/b", b"12345")
        for i in range(5):
            c.create("/adm-ens/seq-", b"x" * i, sequence=True)
        c.set("/adm-ens/a", b"data")
        c.create("/adm-ens/eph", ephemeral=True)
        c.sync("/adm-ens")
        # every member has applied every write before the tests look
        def zxids():
            z = {command(m.admin_port, "zabstate")["last_zxid"]
                 for m in self.ens.members}
            return len(z) == 1
        assert wait_for(zxids), "%s: members' last_zxid differ" % self.kind

    def admin(self, role, name):
        return command(self.role[role].admin_port, name)

    def stop(self):
        if self.client is not None:
            try:
                self.client.stop()
                self.client.close()
            except Exception:
                pass
        # SIGTERM paddockd (a sanitizer build reports at exit), then -9
        # whatever is left and remove the directories
        if self.kind == "paddock":
            for m in self.ens.members:
                m.stop()
        self.ens.close()


@pytest.fixture(scope="module")
def sides():
    if not os.path.exists("/usr/share/java/zookeeper.jar"):
        pytest.skip("Apache ZooKeeper not installed (apt-get install "
                    "zookeeper)")
    s = {k: Side(k) for k in KINDS}
    try:
        # both ensembles start at once; the JVMs are the slow part
        for side in s.values():
            side.start_members()
        for side in s.values():
            side.settle()
        for side in s.values():
            side.traffic()
        yield s
    finally:
        for side in s.values():
            side.stop()


def both(sides, role, name):
    return (sides["paddock"].admin(role, name),
            sides["zookeeper"].admin(role, name))


def test_every_admin_port_answers_curl(sides):
    """curl gets ruok JSON from every member's AdminServer, ZooKeeper's
    (Jetty on its class path) as well as paddockd's."""
    for kind, side in sides.items():
        for m in side.ens.members:
            out = subprocess.run(
                ["curl", "-sS", "--max-time", "10", "-D", "-",
                 "http://127.0.0.1:%d/commands/ruok" % m.admin_port],
                capture_output=True, timeout=30)
            assert out.returncode == 0, (kind, m.sid, out.stderr)
            head, _, body = out.stdout.decode().partition("\r\n\r\n")
            assert head.startswith("HTTP/1.1 200"), (kind, m.sid, head)
            assert "application/json" in head.lower(), (kind, m.sid, head)
            assert json.loads(body) == {"command": "ruok", "error": None}


@pytest.mark.parametrize("role", ROLES)
def test_leader(sides, role):
    pd, zk = both(sides, role, "leader")
    diff = shape_diff(pd, zk, "leader")
    assert not diff, "\n".join(diff)
    for kind, doc in (("paddock", pd), ("zookeeper", zk)):
        side = sides[kind]
        assert doc["error"] is None, (kind, doc)
        assert doc["is_leader"] is (role == "leader"), (kind, doc)
        # the member that calls itself leader, by zabstate and by srvr
        by_zab = [m.sid for m in side.ens.members
                  if command(m.admin_port, "zabstate")["is_leader"]]
        by_srvr = [m.sid for m in side.ens.members
                   if command(m.admin_port, "srvr")["server_stats"][
                       "server_state"] == "leader"]
        assert by_zab == by_srvr == [side.role["leader"].sid], \
            (kind, by_zab, by_srvr)
        assert doc["leader_id"] == side.role["leader"].sid, (kind, doc)
        assert doc["leader_ip"] == "127.0.0.1", (kind, doc)


@pytest.mark.parametrize("role", ROLES)
def test_voting_view(sides, role):
    pd, zk = both(sides, role, "voting_view")
    assert pd["error"] is None and zk["error"] is None, (pd, zk)
    diff = shape_diff(normalise(pd), normalise(zk), "voting_view")
    assert not diff, "\n".join(diff)
    for kind, doc in (("paddock", pd), ("zookeeper", zk)):
        side = sides[kind]
        cur = doc["current_config"]
        assert sorted(cur) == ["1", "2", "3"], (kind, doc)
        for m in side.ens.members:
            v = cur[str(m.sid)]
            assert sorted(v) == sorted(zk["current_config"][str(m.sid)]), \
                (kind, v)
            assert {k: jtype(x) for k, x in v.items()} == {
                "server_addresses": "list", "election_addresses": "list",
                "client_address": "str", "learner_type": "str"}, (kind, v)
            assert v["server_addresses"] == \
                ["127.0.0.1:%d" % m.quorum_port], (kind, m.sid, v)
            assert v["election_addresses"] == \
                ["127.0.0.1:%d" % m.election_port], (kind, m.sid, v)
            assert v["learner_type"] == "participant", (kind, v)
        # the server.N lines carry no client port: another member's
        # client address is unknown, ""
        me = side.role[role]
        for m in side.ens.members:
            if m is not me:
                assert cur[str(m.sid)]["client_address"] == "", \
                    (kind, m.sid, doc)


@pytest.mark.parametrize("role", ROLES)
def test_voting_view_own_client_address(sides, role):
    """The member's own entry has its clientPortAddress:clientPort."""
    pd, zk = both(sides, role, "voting_view")
    zme = sides["zookeeper"].role[role]
    assert zk["current_config"][str(zme.sid)]["client_address"] == \
        zme.hosts, zk
    pme = sides["paddock"].role[role]
    got = pd["current_config"][str(pme.sid)]["client_address"]
    assert got == pme.hosts, pd


@pytest.mark.parametrize("role", ROLES)
def test_zabstate(sides, role):
    pd, zk = both(sides, role, "zabstate")
    skip = ZABSTATE_NOT_IN_PADDOCK
    want = set(zk) - skip
    assert set(pd) == want, "paddockd lacks %s, has extra %s" % (
        sorted(want - set(pd)), sorted(set(pd) - want))
    diff = shape_diff(pd, zk, "zabstate", skip=skip)
    assert not diff, "\n".join(diff)
    for kind, doc in (("paddock", pd), ("zookeeper", zk)):
        me = sides[kind].role[role]
        assert doc["error"] is None, (kind, doc)
        assert doc["zabstate"] == "broadcast", (kind, doc)
        assert doc["myid"] == me.sid, (kind, doc)
        assert doc["is_leader"] is (role == "leader"), (kind, doc)
        assert doc["voting"] is True, (kind, doc)
        z = doc["last_zxid"]
        assert z.startswith("0x"), (kind, doc)
        assert int(z, 16) == (doc["zab_epoch"] << 32 | doc["zab_counter"]), \
            (kind, doc)
        assert doc["zab_epoch"] >= 1, (kind, doc)
    # the same transactions since the epoch began: the kazoo session's
    # createSession and the traffic's 10 writes
    assert pd["zab_counter"] == zk["zab_counter"] == 11, (pd, zk)


@pytest.mark.parametrize("role", ROLES)
def test_zabstate_client_address(sides, role):
    """ZooKeeper's zabstate names the member's client address
    (clientPortAddress:clientPort), a plain string."""
    pd, zk = both(sides, role, "zabstate")
    assert zk["client_address"] == sides["zookeeper"].role[role].hosts, zk
    assert pd["client_address"] == sides["paddock"].role[role].hosts, pd


@pytest.mark.parametrize("name", ("server_stats", "srvr"))
@pytest.mark.parametrize("role", ROLES)
def test_server_stats(sides, role, name):
    pd, zk = both(sides, role, name)
    assert pd["command"] == zk["command"] == "server_stats"
    skip = set()
    if role == "leader":
        assert "proposal_stats" in zk, zk
        skip = SERVER_STATS_LEADER_NOT_IN_PADDOCK - set(pd)
    else:
        assert "proposal_stats" not in zk, zk
        assert "proposal_stats" not in pd, pd
    diff = shape_diff(pd, zk, name, skip=skip)
    assert not diff, "\n".join(diff)
    for kind, doc in (("paddock", pd), ("zookeeper", zk)):
        assert doc["error"] is None, (kind, doc)
        assert doc["read_only"] is False, (kind, doc)
        assert doc["server_stats"]["server_state"] == role, (kind, doc)
    # the same znodes on both: "" (ZooKeeper's DataTree counts the root
    # twice), /, /zookeeper, /zookeeper/quota, /zookeeper/config,
    # /adm-ens, /adm-ens/{a,b,eph} and 5 sequentials
    assert pd["node_count"] == zk["node_count"] == 14, (pd, zk)


@pytest.mark.parametrize("role", ROLES)
def test_monitor(sides, role):
    pd, zk = both(sides, role, "monitor")
    for kind, doc in (("paddock", pd), ("zookeeper", zk)):
        assert doc["error"] is None, (kind, doc)
        assert doc["server_state"] == role, (kind, doc)
    # every metric paddockd prints is one of ZooKeeper's, typed alike
    # (ZooKeeper's quorum member prints ~500; test_admin.MONITOR_KEYS is
    # the subset paddockd must print)
    diff = shape_diff(pd, {k: v for k, v in zk.items() if k in pd},
                      "monitor")
    assert not diff, "\n".join(diff)
    state = {"leader": "leading - broadcast",
             "follower": "following - broadcast"}[role]
    for kind, doc in (("paddock", pd), ("zookeeper", zk)):
        assert doc["peer_state"] == state, (kind, doc["peer_state"])
        assert doc["quorum_size"] == 3, (kind, doc["quorum_size"])
        # the traffic's writes (and its session) were proposed, sent and
        # committed through this member
        key = "commit_count" if role == "leader" else \
            "learner_commit_received_count"
        assert doc[key] >= 1, (kind, key, doc[key])
    if role == "follower":
        for kind, doc in (("paddock", pd), ("zookeeper", zk)):
            assert not set(LEADER_LEARNER_COUNTS) & set(doc), (kind, doc)
        return
    for kind, doc in (("paddock", pd), ("zookeeper", zk)):
        assert doc["proposal_count"] >= 11, (kind, doc["proposal_count"])
        assert 0 < doc["min_proposal_size"] <= doc["max_proposal_size"], \
            (kind, doc)
        assert doc["leader_uptime"] > 0, (kind, doc)
    for kind, doc in (("paddock", pd), ("zookeeper", zk)):
        assert {k: doc.get(k) for k in LEADER_LEARNER_COUNTS} == \
            LEADER_LEARNER_COUNTS, (kind, doc)
        for k in LEADER_LEARNER_COUNTS:
            assert jtype(doc[k]) == "int", (kind, k, doc[k])


# The ZAB latencies' samples per transaction, as ZooKeeper 3.8 takes
# them: which summaries count on which role
ZAB_LATENCY_ROLES = {
    "proposal_latency": {"follower"},                # Follower.processPacket
    "proposal_ack_creation_latency": {"leader", "follower"},  # own ACKs
    "quorum_ack_latency": {"leader"},                # Leader.tryToCommit
    "commit_propagation_latency": {"follower"},      # FollowerZKS.commit
    "propagation_latency": {"leader", "follower"},   # FinalRequestProcessor
}


@pytest.mark.parametrize("role", ROLES)
def test_zab_latency_summaries(sides, role):
    """ServerMetrics' ZAB latencies count one sample per transaction where
    ZooKeeper takes them: the same keys and the same counts on both
    ensembles after the same traffic (every transaction since the
    ensemble started, the session's createSession included), 0 on the
    roles that take none; min >= 0 and p50 <= p99 <= max."""
    pd, zk = both(sides, role, "monitor")
    for kind, doc in (("paddock", pd), ("zookeeper", zk)):
        keys = {k for k in doc if k.endswith("latency") and
                any(k.endswith("_" + n) for n in ZAB_LATENCY_ROLES)}
        want = {"%s_%s" % (stat, n) for n in ZAB_LATENCY_ROLES
                for stat in ("avg", "min", "max", "cnt", "sum", "p50",
                             "p95", "p99", "p999")}
        assert keys == want, (kind, sorted(keys ^ want))
        txns = doc["proposal_count"] if role == "leader" else \
            doc["learner_proposal_received_count"]
        assert txns >= 11, (kind, txns)
        for n, roles in ZAB_LATENCY_ROLES.items():
            cnt = doc["cnt_" + n]
            assert cnt == (txns if role in roles else 0), (kind, n, cnt, txns)
            assert 0 <= doc["min_" + n] <= doc["p50_" + n] <= \
                doc["p99_" + n] <= doc["max_" + n], (kind, n, doc)
            assert doc["sum_" + n] >= doc["min_" + n] * cnt, (kind, n)
    for n in ZAB_LATENCY_ROLES:
        assert pd["cnt_" + n] == zk["cnt_" + n], (n, pd["cnt_" + n],
                                                  zk["cnt_" + n])


@pytest.mark.parametrize("role", ROLES)
def test_observers(sides, role):
    pd, zk = both(sides, role, "observers")
    assert set(pd) == set(zk), (pd, zk)
    diff = shape_diff(pd, zk, "observers")
    assert not diff, "\n".join(diff)
    for doc in (pd, zk):
        assert doc["synced_observers"] == 0 and doc["observers"] == [], doc


@pytest.mark.parametrize("role", ROLES)
def test_initial_configuration_is_null_on_a_quorum_member(sides, role):
    """ZooKeeper prints the zoo.cfg text only when standalone
    (ZooKeeperServer.getInitialConfig); a quorum member's is null."""
    pd, zk = both(sides, role, "initial_configuration")
    assert set(pd) == set(zk), (pd, zk)
    assert zk["error"] is None and zk["initial_configuration"] is None, zk
    assert pd["error"] is None and pd["initial_configuration"] is None, pd


ACK_STATS = ("avg", "min", "max", "cnt", "sum", "p50", "p95", "p99", "p999")


def ack_latency(doc):
    """monitor's ack_latency keys, {sid: {stat: value}}"""
    out = {}
    for k, v in doc.items():
        m = re.fullmatch(r"(%s)_(\d+)_ack_latency" % "|".join(ACK_STATS), k)
        if m:
            out.setdefault(int(m.group(2)), {})[m.group(1)] = v
    return out


def test_ack_latency_per_sid_on_the_leader(sides):
    """The leader's ack_latency SummarySet (Leader.processAck): one
    sample per voter's ACK (the leader's own included) of a zxid that is
    a multiple of ackLoggingFrequency (1000) while it is uncommitted, so
    after 1100 more writes each sid has at most one per multiple, and the
    ACKs that made each quorum (2 of 3) all count; keyed by sid, printed
    once a sid has a sample, by the leader only.  Last in the module: its
    writes would change the other tests' counts."""
    for kind, side in sides.items():
        c = side.client
        pending = [c.create_async("/adm-ens/ack-", b"", sequence=True)
                   for _ in range(1100)]
        for r in pending:
            r.get(timeout=30)
        c.sync("/adm-ens")

        def same_zxid():
            z = {command(m.admin_port, "zabstate")["last_zxid"]
                 for m in side.ens.members}
            return z.pop() if len(z) == 1 else None
        last = wait_for(same_zxid)
        assert last, "%s: members' last_zxid differ" % kind
        last = int(last, 16)
        start = last >> 32 << 32  # the epoch's NEWLEADER zxid
        multiples = last // 1000 - start // 1000
        assert multiples >= 1, (kind, hex(last))
        sids = {m.sid for m in side.ens.members}
        leader = ack_latency(side.admin("leader", "monitor"))
        assert set(leader) <= sids and len(leader) >= 2, (kind, leader)
        total = 0
        for sid, st in leader.items():
            assert set(st) == set(ACK_STATS), (kind, sid, st)
            assert 1 <= st["cnt"] <= multiples, (kind, sid, st, multiples)
            assert 0 <= st["min"] <= st["p50"] <= st["p99"] <= \
                st["max"], (kind, sid, st)
            total += st["cnt"]
        assert total >= 2 * multiples, (kind, leader, multiples)
        for m in side.ens.members:
            if m is not side.role["leader"]:
                doc = command(m.admin_port, "monitor")
                assert not ack_latency(doc), (kind, m.sid)
