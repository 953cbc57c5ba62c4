"""paddockd logs Apache ZooKeeper 3.8's own transaction records.

The same client script runs against a fresh paddockd and a fresh ZooKeeper
3.8.  Both logs are then read back by ZooKeeper's own code (txnrec/
TxnRecords.java: FileTxnLog for ZooKeeper's files, SerializeUtils.
deserializeTxn for paddock's payloads, which paddock-logdump prints), and
the two sequences must be the same record for record: type, cxid, path,
data, ACL, ephemeral flag, parentCVersion, versions, error codes, multi
sub-records, session txns, the container manager's deleteContainer.  Only
session ids (each server makes its own), zxids' epoch bits and times are
normalised away.  These are the bytes a ZAB PROPOSAL carries, so a
ZooKeeper follower can apply what a paddock leader proposes.
"""

import glob
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError
from kazoo.security import make_acl

import jute
from conftest import PADDOCK_BUILD

HERE = os.path.dirname(os.path.abspath(__file__))
CP = "/usr/share/java/zookeeper.jar:/usr/share/java/*"


@pytest.fixture(scope="module")
def txnrecords():
    javac = shutil.which("javac")
    if not javac:
        pytest.skip("no javac")
    out = tempfile.mkdtemp(prefix="paddock-txnrec-")
    subprocess.run([javac, "-nowarn", "-cp", CP, "-d", out,
                    os.path.join(HERE, "txnrec", "TxnRecords.java")],
                   check=True, capture_output=True)
    yield out
    shutil.rmtree(out, ignore_errors=True)


def script(hosts):
    """Every kind of write, as kazoo sends them."""
    zk = KazooClient(hosts=hosts, timeout=10)
    zk.start()
    zk.create("/t", b"top")
    zk.create("/t/p", b"")
    zk.create("/t/s-", b"seq", sequence=True)
    zk.create("/t/s-", b"seq", sequence=True, ephemeral=True)
    zk.create("/t/c2", b"two", include_data=True)          # create2
    raw = jute.RawClient(hosts)        # kazoo 2.8 has no TTL / container
    raw.connect()
    raw.create("/t/ttl", b"", mode=jute.Mode.PERSISTENT_WITH_TTL,
               ttl=60000)                                   # createTTL
    raw.create("/t/box", b"", mode=jute.Mode.CONTAINER)     # createContainer
    raw.close_session()
    zk.create("/t/box/x", b"")
    zk.set("/t", b"again")
    zk.set("/t", b"thrice", version=1)
    with pytest.raises(BadVersionError):
        zk.set("/t", b"no", version=7)                      # ErrorTxn
    with pytest.raises(NodeExistsError):
        zk.create("/t/p", b"")                              # ErrorTxn
    with pytest.raises(NoNodeError):
        zk.delete("/t/none")                                # ErrorTxn
    zk.set_acls("/t/p", [make_acl("world", "anyone", read=True,
                                  write=True, create=True, delete=True)])
    zk.create("/t/e", b"mine", ephemeral=True)
    tx = zk.transaction()                                   # multi, ok
    tx.create("/t/m1", b"a")
    tx.set_data("/t/p", b"b")
    tx.check("/t/p", 1)
    tx.delete("/t/m1")
    assert not any(isinstance(r, Exception) for r in tx.commit())
    tx = zk.transaction()                                   # multi, fails
    tx.create("/t/m2", b"a")
    tx.check("/t/p", 99)
    tx.delete("/t/p")
    res = tx.commit()
    assert isinstance(res[1], BadVersionError)
    zk.delete("/t/box/x")                                   # the container
    # is reaped; polled from a session of its own, left to outlive the
    # server, so that how often it polls changes no record
    poller = jute.RawClient(hosts)
    poller.connect(timeout_ms=30000)
    deadline = time.time() + 15
    while poller.exists("/t/box") and time.time() < deadline:
        time.sleep(0.2)
    assert not poller.exists("/t/box")
    poller.close_socket()
    zk.delete("/t/c2", version=0)
    zk.stop()                                               # closeSession
    zk.close()


def paddock_records(srv, java_dir):
    logdump = os.path.join(PADDOCK_BUILD, "tools", "paddock-logdump")
    hexes = []
    for seg in sorted(glob.glob(os.path.join(srv.config["dataDir"],
                                             "log.*"))):
        if not re.search(r"log\.[0-9a-f]+$", seg):
            continue
        out = subprocess.run([logdump, "--raw", seg], check=True,
                             capture_output=True, text=True).stdout
        for line in out.splitlines():
            m = re.search(r"crc ok\s+([0-9a-f]*)$", line)
            if m:
                hexes.append(m.group(1))
    r = subprocess.run(["java", "-cp", java_dir + ":" + CP, "TxnRecords",
                        "hex"], input="\n".join(hexes) + "\n",
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def zookeeper_records(srv, java_dir):
    d = os.path.join(srv.config["dataDir"], "version-2")
    r = subprocess.run(["java", "-cp", java_dir + ":" + CP, "TxnRecords",
                        "zk", d], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def normalise(lines):
    """Session ids by order of appearance, zxid counters only."""
    sessions = {"0": "0"}
    out = []
    for line in lines:
        client, cxid, zxid, rest = line.split(" ", 3)
        if client not in sessions:
            sessions[client] = "s%d" % len(sessions)
        rec = rest
        for sid, name in sessions.items():
            if sid != "0":
                # ephemeral owners appear as hex inside records
                rec = rec.replace("%x" % (int(sid) & (2**64 - 1)), name)
        out.append("%s %s %d %s" % (sessions[client], cxid,
                                    int(zxid) & 0xffffffff, rec))
    return out


def test_log_records_are_zookeepers_own(server_factory, txnrecords):
    ours = server_factory(kind="paddock")
    ref = server_factory(kind="zookeeper")
    script(ours.hosts)
    script(ref.hosts)
    ours.stop()
    ref.stop()
    got = normalise(paddock_records(ours, txnrecords))
    want = normalise(zookeeper_records(ref, txnrecords))
    kinds = {line.split(" ")[3] for line in want}
    # the script covered every record kind it means to
    for k in ("-10", "-11", "-1", "1", "2", "5", "7", "14", "15", "19",
              "20", "21"):
        assert k in kinds, "ZooKeeper logged no txn of type %s" % k
    assert got == want
