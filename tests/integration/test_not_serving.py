"""A member that is not serving: one member of a 3-member ensemble started
alone (LOOKING), a paddockd one beside an Apache ZooKeeper 3.8 one, each
with its AdminServer on.  Every AdminServer command (every name and
alias) and every four-letter word is sent to both, and the answers
compared.

ZooKeeper 3.8.0's Commands.runCommand answers a command whose
CommandBase is serverRequired (all but environment, get_trace_mask,
set_trace_mask, system_properties, zabstate and monitor) with
`new CommandResponse(cmdName, "This ZooKeeper instance is not currently
serving requests")`: HTTP 200, keys "command" (the name as asked, not the
primary one) and "error" only.  Its four-letter words print that text
from every command that checks isZKServerRunning(); isro prints "null";
ruok, envi, gtmk and stmk answer as on a serving member.
"""

import json
import os
import time

import pytest

from srvutil import four_letter
from test_admin import http
from test_admin_ensemble import AdminEnsemble

pytestmark = pytest.mark.compare

NOT_SERVING = "This ZooKeeper instance is not currently serving requests"

# every name and alias ZooKeeper 3.8.0 registers, and one it does not
NAMES = [
    "configuration", "conf", "config", "connection_stat_reset", "crst",
    "connections", "cons", "dirs", "dump", "environment", "env", "envi",
    "get_trace_mask", "gtmk", "hash", "initial_configuration", "icfg",
    "is_read_only", "isro", "last_snapshot", "lsnp", "leader", "lead",
    "monitor", "mntr", "observer_connection_stat_reset", "orst",
    "observers", "obsr", "ruok", "server_stats", "srvr", "set_trace_mask",
    "stmk", "set_trace_mask?traceMask=306", "stat_reset", "srst", "stats",
    "stat", "system_properties", "sysp", "voting_view", "watch_summary",
    "wchs", "watches", "wchc", "watches_by_path", "wchp", "zabstate",
    "no_such_command",
]

# environment: ZooKeeper's answer has the JVM's java.* entries too, which
# paddockd's leaves out; system_properties: the JVM's properties against
# paddockd's own (test_admin.py compares what is common)
SOME_KEYS = {"environment", "env", "envi"}
OWN_KEYS = {"system_properties", "sysp"}

# ZooKeeper 3.8.0's MonitorCommand is not serverRequired and calls
# zkServer.dumpMonitorValues on the null server of a member that is not
# serving: Jetty answers 500 with a NullPointerException page.  paddockd
# answers the not-serving JSON instead.
ZK_NPE = {"monitor", "mntr"}

WORDS = ["ruok", "srvr", "stat", "mntr", "conf", "cons", "envi", "wchs",
         "wchc", "wchp", "dump", "isro", "crst", "srst", "dirs", "gtmk",
         "hash"]


def start_lone_member(kind):
    ens = AdminEnsemble(voters=3, kind=kind)
    ens[0].start()
    return ens


def wait_up(m, timeout=40):
    """The member's client port and AdminServer both answer."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if four_letter(m.hosts, "ruok", timeout=1.0) == "imok" and \
                    http(m.admin_port, "/commands/ruok", timeout=2)[0] == 200:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, m.log_tail()
        time.sleep(0.2)


@pytest.fixture(scope="module")
def lone():
    if not os.path.exists("/usr/share/java/zookeeper.jar"):
        pytest.skip("Apache ZooKeeper not installed")
    ens = {}
    try:
        # the JVM is the slow part: both start at once
        for kind in ("zookeeper", "paddock"):
            ens[kind] = start_lone_member(kind)
        for e in ens.values():
            wait_up(e[0])
        yield {k: e[0] for k, e in ens.items()}
    finally:
        for e in ens.values():
            e[0].stop()
            e.close()


def answer(m, name):
    status, ctype, body = http(m.admin_port, "/commands/" + name)
    return status, ctype, body


@pytest.mark.parametrize("name", NAMES)
def test_admin_command_on_a_member_not_serving(lone, name):
    ps, pctype, pbody = answer(lone["paddock"], name)
    zs, zctype, zbody = answer(lone["zookeeper"], name)
    pj = json.loads(pbody)
    assert ps == 200 and pctype.startswith("application/json"), pbody
    if name in ZK_NPE:
        assert zs == 500, zbody[:300]
        assert pj == {"command": name, "error": NOT_SERVING}
        return
    assert zs == 200 and zctype.startswith("application/json"), zbody
    zj = json.loads(zbody)
    assert pj["command"] == zj["command"]
    assert pj["error"] == zj["error"]
    if name in SOME_KEYS:
        assert set(pj) <= set(zj), set(pj) - set(zj)
    elif name not in OWN_KEYS:
        assert set(pj) == set(zj)
    if zj["error"] == NOT_SERVING or name == "zabstate":
        assert pj == zj


@pytest.mark.parametrize("word", WORDS)
def test_four_letter_word_on_a_member_not_serving(lone, word):
    p = four_letter(lone["paddock"].hosts, word)
    z = four_letter(lone["zookeeper"].hosts, word)
    if word == "envi":  # the environment itself differs
        assert p.splitlines()[0] == z.splitlines()[0] == "Environment:"
    else:
        assert p == z


def test_stmk_on_a_member_not_serving(lone):
    """The 8-byte mask after the word is set and printed back."""
    mask = (306).to_bytes(8, "big")
    for m in lone.values():
        assert four_letter(m.hosts, b"stmk" + mask) == "306", m.kind
        assert four_letter(m.hosts, "gtmk") == "306", m.kind
