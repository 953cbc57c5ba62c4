"""consensus/zkfmt.c against the files a real Apache ZooKeeper 3.8 writes.

One standalone ZooKeeper (whatever PADDOCK_TARGET says) with snapCount=16,
so it rolls its txn log and writes a (fuzzy) snapshot every 8-16 txns while
the script writes, and preAllocSize=16 KiB, so the logs grow in padded steps.
The script performs every kind of write: create (persistent, ephemeral,
sequential, container, TTL), create2, setData, setACL, delete, a failed
create (an error txn), a successful and a failing multi with check, sessions
created, closed and expired, and the container reaper's deleteContainer.

Then, with the server stopped, $PADDOCK_BUILD/tools/zkfmt-check:
  * decodes every entry of every log, re-encodes it (as decoded and from
    structured fields) and re-frames it, byte for byte; the printed txns
    must be what each session did, in order;
  * reads every snapshot with the push reader (in 4093-byte pieces, and one
    of them byte by byte), writes it back with the streaming writer and
    compares the files;
  * --replay: from every snapshot, replays the logs on a small DataTree and
    checks zk_node_digest's tree digest against every TxnDigest and every
    later snapshot's ZxidDigest.
"""

import os
import re
import subprocess
import time

import pytest
from kazoo.exceptions import (BadVersionError, NodeExistsError,
                              NoNodeError)
from kazoo.security import OPEN_ACL_UNSAFE, make_digest_acl

import jute
from conftest import JAVA, PADDOCK_BUILD, ZK_JAR, Server, new_client

ZKFMT = os.path.join(PADDOCK_BUILD, "tools", "zkfmt-check")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]


@pytest.fixture
def zkserver():
    if not os.path.exists(ZK_JAR) or not os.path.exists(JAVA):
        pytest.skip("Apache ZooKeeper not installed")
    if not os.path.exists(ZKFMT):
        pytest.fail("%s not built (ninja -C %s)" % (ZKFMT, PADDOCK_BUILD))
    srv = Server("zookeeper", name="zkfmt",
                 overrides={"snapCount": "16", "preAllocSize": "16"})
    srv.start()
    yield srv
    srv.cleanup()


def run_check(*args):
    p = subprocess.run([ZKFMT] + list(args), capture_output=True, text=True,
                       timeout=60)
    return p.returncode, p.stdout, p.stderr


def parse_txns(out):
    """zkfmt-check's log lines -> list of dicts (zxid, type, path, fields,
    subs)."""
    txns = []
    for line in out.splitlines():
        if line.startswith("0x"):
            f = line.split()
            kv = dict(x.split("=", 1) for x in f[3:] if "=" in x)
            txns.append({"zxid": int(f[0], 16), "type": f[1], "path": f[2],
                         "kv": kv, "subs": []})
        elif line.startswith("  sub "):
            f = line.split()
            kv = dict(x.split("=", 1) for x in f[3:] if "=" in x)
            txns[-1]["subs"].append((f[1], f[2], kv))
    return txns


def wait_gone(zk, paths, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(zk.exists(p) for p in paths):
            return True
        time.sleep(0.2)
    return False


def drive(srv):
    """Every kind of write.  Returns {session id: [(type, path)...]} as
    each session must see its txns logged, and the sequential path."""
    exp = {}
    zk = new_client(srv.hosts)
    s1 = zk.client_id[0]
    a = exp[s1] = [("createSession", "-")]

    def do(kind, path, fn, *args, **kw):
        r = fn(*args, **kw)
        a.append((kind, path))
        return r

    do("create", "/zkfmt", zk.create, "/zkfmt", b"root")
    do("create", "/zkfmt/a", zk.create, "/zkfmt/a", b"x" * 10)
    do("create", "/zkfmt/eph", zk.create, "/zkfmt/eph", b"", ephemeral=True)
    seq = zk.create("/zkfmt/seq-", b"s", sequence=True)
    a.append(("create", seq))
    do("create2", "/zkfmt/c2", zk.create, "/zkfmt/c2", b"c2",
       include_data=True)
    do("setData", "/zkfmt/a", zk.set, "/zkfmt/a", b"y")
    acl = [make_digest_acl("u", "p", all=True), OPEN_ACL_UNSAFE[0]]
    do("setACL", "/zkfmt/a", zk.set_acls, "/zkfmt/a", acl)
    do("delete", "/zkfmt/c2", zk.delete, "/zkfmt/c2")
    with pytest.raises(NodeExistsError):
        zk.create("/zkfmt/a")
    a.append(("error", "-"))

    t = zk.transaction()
    t.check("/zkfmt/a", 1)
    t.create("/zkfmt/m1", b"m")
    t.set_data("/zkfmt/m1", b"mm")
    t.delete("/zkfmt/m1")
    res = t.commit()
    assert not any(isinstance(r, Exception) for r in res), res
    a.append(("multi", "-"))
    t = zk.transaction()
    t.create("/zkfmt/m2", b"")
    t.check("/zkfmt/a", 99)
    t.set_data("/zkfmt/a", b"z")
    res = t.commit()
    assert isinstance(res[1], BadVersionError), res
    a.append(("multi", "-"))

    # container and TTL node for the reaper (checkIntervalMs 1000)
    raw = jute.RawClient(srv.hosts)
    raw.connect(timeout_ms=30000)
    b = exp[raw.session_id] = [("createSession", "-")]
    raw.create("/zkfmt/cont", mode=jute.Mode.CONTAINER)
    b.append(("createContainer", "/zkfmt/cont"))
    raw.create("/zkfmt/cont/child")
    b.append(("create2", "/zkfmt/cont/child"))
    raw.delete("/zkfmt/cont/child")
    b.append(("delete", "/zkfmt/cont/child"))
    raw.create("/zkfmt/ttl", b"t", mode=jute.Mode.PERSISTENT_WITH_TTL,
               ttl=300)
    b.append(("createTTL", "/zkfmt/ttl"))

    # a session that expires (its socket just goes away)
    gone = jute.RawClient(srv.hosts)
    gone.connect(timeout_ms=1000)
    exp[gone.session_id] = [("createSession", "-"),
                            ("create2", "/zkfmt/eph-exp"),
                            ("closeSession", "-")]
    gone.create("/zkfmt/eph-exp", mode=jute.Mode.EPHEMERAL)
    gone.close_socket()

    # a session closed by its client
    zk2 = new_client(srv.hosts)
    exp[zk2.client_id[0]] = [("createSession", "-"),
                             ("create", "/zkfmt/eph2"),
                             ("closeSession", "-")]
    zk2.create("/zkfmt/eph2", b"e", ephemeral=True)
    zk2.stop()
    zk2.close()

    # enough writes for several snapshots, taken while writes go on
    for i in range(60):
        do("create", "/zkfmt/n%02d" % i, zk.create, "/zkfmt/n%02d" % i,
           b"v%d" % i)
        do("setData", "/zkfmt/a", zk.set, "/zkfmt/a", b"w" * (i % 7))
    for i in range(0, 60, 3):
        do("delete", "/zkfmt/n%02d" % i, zk.delete, "/zkfmt/n%02d" % i)

    assert wait_gone(zk, ["/zkfmt/cont", "/zkfmt/ttl", "/zkfmt/eph-exp"],
                     20), "reaper or session expiry did not happen"
    with pytest.raises(NoNodeError):
        zk.get("/zkfmt/eph2")
    raw.close_session()
    b.append(("closeSession", "-"))
    raw.close_socket()
    zk.stop()
    zk.close()
    a.append(("closeSession", "-"))
    return exp, seq


def test_zookeeper_files_round_trip_and_digests_replay(zkserver):
    exp, seq = drive(zkserver)
    zkserver.stop()
    vdir = os.path.join(zkserver.config["dataDir"], "version-2")
    names = sorted(os.listdir(vdir))
    logs = sorted((n for n in names if n.startswith("log.")),
                  key=lambda n: int(n[4:], 16))
    snaps = sorted((n for n in names if n.startswith("snapshot.")),
                   key=lambda n: int(n[9:], 16))
    assert len(logs) >= 3 and len(snaps) >= 3, names

    # -- logs: decode, re-encode, re-frame; collect the txns
    txns = []
    for n in logs:
        rc, out, err = run_check(os.path.join(vdir, n))
        assert rc == 0, "%s:\n%s\n%s" % (n, err, out[-3000:])
        m = re.search(r"^end: (\d+) txns, tail (zero|none)$", out, re.M)
        assert m, out[-500:]
        got = parse_txns(out)
        assert len(got) == int(m.group(1))
        txns += got
    zxids = [t["zxid"] for t in txns]
    assert zxids == sorted(zxids) and len(set(zxids)) == len(zxids)
    # digests are on (3.8's default); a failed request's error txn has
    # none: PrepRequestProcessor throws before it sets one
    assert [t["zxid"] for t in txns if "digest" not in t["kv"]] == \
        [t["zxid"] for t in txns if t["type"] == "error"]

    # -- each session's txns, in order
    by_session = {}
    for t in txns:
        by_session.setdefault(int(t["kv"]["session"], 16), []).append(t)
    for sid, want in exp.items():
        got = [(t["type"], t["path"]) for t in by_session.get(sid, [])]
        assert got == want, "session 0x%x" % sid
    mine = {}                                # path -> its create txn
    for sid in exp:
        for t in by_session[sid]:
            if t["type"].startswith("create") and t["path"] != "-":
                mine.setdefault(t["path"], t)
    assert mine["/zkfmt/eph"]["kv"]["eph"] == "1"
    assert mine["/zkfmt/a"]["kv"]["eph"] == "0"
    assert seq.startswith("/zkfmt/seq-") and len(seq) == len("/zkfmt/seq-") + 10
    assert mine["/zkfmt/ttl"]["kv"]["ttl"] == "300"
    s1 = by_session[next(iter(exp))]
    err = [t for t in s1 if t["type"] == "error"]
    assert err[0]["kv"]["err"] == "-110"
    multis = [t for t in s1 if t["type"] == "multi"]
    assert [(s[0], s[1]) for s in multis[0]["subs"]] == [
        ("check", "/zkfmt/a"), ("create", "/zkfmt/m1"),
        ("setData", "/zkfmt/m1"), ("delete", "/zkfmt/m1")]
    # a failed multi: the ops before the failure keep their records, the
    # failing one is ErrorTxn(code), the rest ErrorTxn(RUNTIMEINCONSISTENCY)
    assert [(s[0], s[1], s[2].get("err")) for s in multis[1]["subs"]] == [
        ("create", "/zkfmt/m2", None), ("error", "-", "-103"),
        ("error", "-", "-2")]
    # closeSession carries the ephemerals to delete (closeSessionTxn on)
    closes = {sid: [t for t in ts if t["type"] == "closeSession"]
              for sid, ts in by_session.items()}
    sids = list(exp)
    assert closes[sids[0]][0]["kv"]["paths"] == "/zkfmt/eph"
    assert closes[sids[1]][0]["kv"]["paths"] == ""
    assert closes[sids[2]][0]["kv"]["paths"] == "/zkfmt/eph-exp"
    assert closes[sids[3]][0]["kv"]["paths"] == "/zkfmt/eph2"
    # the container reaper (session 0) removed the container and TTL node
    reaped = sorted(t["path"] for t in by_session.get(0, [])
                    if t["type"] == "deleteContainer")
    assert reaped == ["/zkfmt/cont", "/zkfmt/ttl"]
    for sid in exp:
        assert by_session[sid][0]["kv"]["timeout"].isdigit()

    # -- snapshots: push reader + streaming writer, byte for byte
    for i, n in enumerate(snaps):
        args = ["--chunk", "1"] if i == len(snaps) // 2 else []
        rc, out, err = run_check(*args, os.path.join(vdir, n))
        assert rc == 0, "%s:\n%s\n%s" % (n, err, out)
        m = re.search(r"nodes=(\d+) .*digest=0x([0-9a-f]+):2:(-?\d+)$", out,
                      re.M)
        assert m, out
        assert int(m.group(1)) >= 4          # "", /zookeeper, quota, config
    # the first snapshot (empty tree at start-up) is not fuzzy
    rc, out, _ = run_check(os.path.join(vdir, snaps[0]))
    m = re.search(r"nodes_digest=(-?\d+) digest=0x0:2:0", out)
    assert m, out

    # -- digests: replay from every snapshot
    rc, out, err = run_check("--replay", vdir)
    assert rc == 0, err + out
    runs = re.findall(r"^replay from (\S+): nodes=\d+ txns=(\d+) "
                      r"digests=(\d+) snapshot_digests=(\d+) "
                      r"mismatches=(\d+) start=(ok|stale|none)$", out,
                      re.M)
    assert len(runs) == len(snaps), out
    first = runs[0]
    assert first[0] == snaps[0] and int(first[1]) == len(txns)
    assert int(first[2]) == len([t for t in txns if "digest" in t["kv"]])
    assert int(first[3]) >= len(snaps) - 2   # later snapshots' digests
    assert all(r[4] == "0" for r in runs)
    # a snapshot's ZxidDigest may lag its content by one txn (ZooKeeper
    # reads it after the tree walk, and logs a txn's digest after applying
    # it); most are exact
    assert [r[5] for r in runs].count("stale") <= len(runs) // 2
    print("\nzkfmt: %d log files, %d txns, %d snapshots; replay: %s" %
          (len(logs), len(txns), len(snaps),
           ", ".join("%s/%s" % (r[2], r[1]) for r in runs)))
