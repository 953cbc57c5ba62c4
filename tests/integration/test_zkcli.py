"""Debian's Java zkCli.sh (ZooKeeper 3.8's CLI) against the target.

The first tests run one zkCli per command and check the target alone.  The
``*_match_zookeeper`` tests drive every zkCli command (with its main flags
and the error paths a user meets) through one zkCli process per server
(zkcli.py: a script on stdin, the output split per command) against the
target and against Apache ZooKeeper 3.8 at the same time, and compare the
normalised transcripts: root paths, host:port, times, session ids and the
absolute values of zxids (kept: their order and equality) differ
legitimately; everything else must be what ZooKeeper shows.
"""

import os
import subprocess
import threading

import pytest
from kazoo.security import make_digest_acl_credential

import zkcli as cli
from conftest import SUPER_PW, SUPER_USER, _admin_delete

ZKCLI = cli.ZKCLI


def zkcli(hosts, *args):
    # zkCli prints results on stdout or stderr depending on the command and
    # on whether stdout is a terminal, so the two are merged.
    r = subprocess.run([ZKCLI, "-server", hosts] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=40)
    return r.returncode, r.stdout, ""


@pytest.fixture
def cli_target(target):
    if not os.path.exists(ZKCLI):
        pytest.skip("zookeeper package (zkCli.sh) not installed")
    return target


def test_zkcli_create_get_set_ls_delete(cli_target, root, zk):
    h = cli_target.hosts
    rc, out, err = zkcli(h, "create", root, "data")
    assert "Created %s" % root in out, out + err
    assert zk.get(root)[0] == b"data"

    rc, out, err = zkcli(h, "get", root)
    assert "\ndata\n" in out, out + err

    rc, out, err = zkcli(h, "set", root, "d2")
    assert zk.get(root)[0] == b"d2"

    rc, out, err = zkcli(h, "get", "-s", root)
    assert "\nd2\n" in out, out + err
    assert "dataVersion = 1" in out and "dataLength = 2" in out
    assert "ephemeralOwner = 0x0" in out

    rc, out, err = zkcli(h, "ls", "/")
    listing = [l for l in out.splitlines() if l.startswith("[")]
    assert listing, out + err
    names = [n.strip() for n in listing[-1].strip("[]").split(",")]
    assert root[1:] in names and "zookeeper" in names

    rc, out, err = zkcli(h, "create", root + "/child", "c")
    assert "Created %s/child" % root in out, out + err
    rc, out, err = zkcli(h, "ls", root)
    assert "[child]" in out, out + err

    rc, out, err = zkcli(h, "delete", root)
    assert "Node not empty" in out + err, out + err
    zkcli(h, "delete", root + "/child")
    rc, out, err = zkcli(h, "delete", root)
    assert zk.exists(root) is None

    rc, out, err = zkcli(h, "get", root)
    assert "Node does not exist: %s" % root in out, out


def test_zkcli_ephemeral_and_sequential(cli_target, root, zk):
    h = cli_target.hosts
    zk.create(root)
    rc, out, err = zkcli(h, "create", "-s", root + "/s-", "x")
    assert "Created %s/s-0000000000" % root in out, out + err
    rc, out, err = zkcli(h, "create", "-e", root + "/e", "x")
    assert "Created %s/e" % root in out, out + err
    # zkCli exits without closeSession, so the ephemeral lives on until
    # its session expires
    assert zk.exists(root + "/e").ephemeralOwner != 0
    rc, out, err = zkcli(h, "stat", root)
    assert "numChildren = 2" in out and "cversion = 2" in out, out + err


@pytest.mark.compare
def test_zkcli_addwatch_and_whoami_match_zookeeper(cli_target, root,
                                                   reference, ref_root):
    # addWatch used to end in "Disconnected" / ConnectionLoss from the Java
    # client (paddockd's reply lacked ZooKeeper's 4-byte body)
    outs = {}
    for name, h, r in (("target", cli_target.hosts, root),
                       ("reference", reference.hosts, ref_root)):
        zkcli(h, "create", r, "d")
        rc, out, _ = zkcli(h, "addWatch", "-m", "PERSISTENT_RECURSIVE", r)
        assert "Disconnected" not in out and "ConnectionLoss" not in out, \
            out
        rc2, who, _ = zkcli(h, "whoami")
        zkcli(h, "delete", r)
        outs[name] = (rc, "KeeperErrorCode" in out, rc2,
                      [l for l in who.splitlines() if l.startswith("ip:")])
    assert outs["target"] == outs["reference"]
    assert outs["target"][3], "whoami printed no ip id"


# ------------------------------------------------- compared with ZooKeeper

ALICE = make_digest_acl_credential("alice", "apw")   # alice:<hash>
BOB = make_digest_acl_credential("bob", "bpw")


@pytest.fixture
def cli_ref(reference):
    if not cli.available():
        pytest.skip("zookeeper package (zkCli.sh) not installed")
    return reference


@pytest.fixture
def quota_cleanup(target, root, reference, ref_root):
    """Quota nodes live under /zookeeper/quota<root>, outside the root that
    the root fixtures remove."""
    yield
    _admin_delete(target.hosts, "/zookeeper/quota" + root)
    _admin_delete(reference.hosts, "/zookeeper/quota" + ref_root)


def run_both(target, root, reference, ref_root, script, **kw):
    """Run script (zkCli lines, {r} = the root path, {srv} = host:port) in
    one zkCli per server, both at once; returns the two normalised
    transcripts (target's, reference's)."""
    res = {}

    def go(name, srv, r):
        steps = [line.format(r=r, srv=srv.hosts) for line in script]
        try:
            t = cli.run(srv.hosts, steps, **kw)
            res[name] = cli.normalise(t, r, srv.hosts)
        except BaseException as e:   # noqa: BLE001 - re-raised below
            res[name] = e
    threads = [threading.Thread(target=go, args=a) for a in
               (("target", target, root), ("reference", reference, ref_root))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for name in ("reference", "target"):
        if isinstance(res[name], BaseException):
            raise AssertionError("zkCli against the %s failed" % name) \
                from res[name]
    return res["target"], res["reference"]


def compare(target, root, reference, ref_root, script, **kw):
    """Assert zkCli prints the same against the target as against
    ZooKeeper; returns ZooKeeper's normalised transcript."""
    got, want = run_both(target, root, reference, ref_root, script, **kw)
    if got != want:
        pytest.fail("zkCli output differs from ZooKeeper's (normalised):\n" +
                    cli.diff(got, want, ("target", "zookeeper")),
                    pytrace=False)
    return want


def outs(transcript, command):
    """The normalised outputs of the steps equal to command (written with
    <root>), in order."""
    found = [o for c, o in transcript["outputs"] if c == command]
    if not found:
        raise KeyError(command)
    return found


def out(transcript, command):
    return outs(transcript, command)[0]


NODES = [
    "create {r} data",
    "create {r} again",                        # NodeExists
    "get {r}",
    "get -s {r}",
    "set {r} d2",
    "set -s {r} d3",
    "set -v 1 {r} stale",                      # BadVersion
    "set -s -v 2 {r} d4",
    "set -v -1 {r} d5",
    "set -s -v -1 {r} d4",
    "set {r}/nope x",
    "set {r}",                                 # bad args
    "get -s {r}",
    "create {r}/child c",
    "create -s {r}/seq- s",
    "create -s {r}/seq- s",
    "create -e {r}/eph e",
    # (a single ephemeral: the order of several is another test's)
    "getEphemerals {r}",
    "getEphemerals {r}/eph",
    "getEphemerals {r}/nope",
    "getEphemerals /",
    "getEphemerals",
    "create -s -e {r}/eseq- x",
    "create -c {r}/cont",
    "create -t 600000 {r}/ttl t",
    "create -t 600000 -s {r}/ttls- t",
    "create -t 600000 -e {r}/bad t",           # TTL with ephemeral
    "create -t 0 {r}/bad t",
    "create -t x {r}/bad t",
    "create -t 600000 -c {r}/bad",
    "create -c -s {r}/bad",
    "create {r}/nochild/x",                    # parent missing
    "create {r}/eph/x",                        # ephemerals have no children
    "create {r}/empty",
    "create {r}/quoted \"hello world\"",
    "create {r}/e2 ''",
    "create -x {r}/bad",                       # unknown option
    "create",
    "create noslash",
    "create {r}/",
    # (the client's message gives an index into the path: the roots
    # /t-<test> and /r-<test> have the same length)
    "create {r}//x",
    "create {r}/./x",
    "get {r}/empty",
    "get -s {r}/e2",
    "get {r}/quoted",
    "get -s {r}/eph",
    "get {r}/nope",
    "get",
    "stat {r}/eph",
    "stat {r}/cont",
    "stat {r}/ttl",
    "stat {r}",
    "stat {r}/nope",
    "stat",
    "ls {r}",
    "ls -s {r}",
    "ls -R {r}",
    "ls -s {r}/child",
    "ls {r}/nope",
    "ls -R {r}/nope",
    "ls -s {r}/nope",
    "ls",
    "getAllChildrenNumber {r}",
    "getAllChildrenNumber {r}/child",
    "getAllChildrenNumber {r}/nope",
    "getAllChildrenNumber",
    "sync {r}",
    "sync {r}/nope",
    "sync",
    "delete {r}",                              # NotEmpty
    "delete -v 7 {r}/child",                   # BadVersion
    "delete -v -1 {r}/child",
    "delete {r}/child",
    "delete {r}/nope",
    "delete",
    "create {r}/t1 1",
    "create {r}/t1/a a",
    "create {r}/t1/a/b b",
    "create {r}/t1/a/b/c c",
    "create {r}/t1/d d",
    "create {r}/t1/e e",
    "getAllChildrenNumber {r}/t1",
    "ls -R {r}/t1",
    "deleteall {r}/t1/a -b 2",
    "ls -R {r}/t1",
    "deleteall {r}/t1 -b x",
    "deleteall {r}/t1 -b 1",
    "deleteall {r}/t1",
    "deleteall {r}/nope",
    "deleteall",
    "stat {r}",
    "delete {r}/eph",
    "delete {r}/eseq-0000000004",
    "stat {r}",
    # sequence numbers come from the parent's cversion (deletes count)
    "delete {r}/seq-0000000001",
    "create -s {r}/seq- s",
    "create -s {r}/cont/s- s",
    "create -s {r}/seq-0000000001/ x",
    "create -s {r}/ x",
    "create -s -e {r}/cont/s- x",
    "ls {r}",
    "quit",
]


@pytest.mark.compare
def test_zkcli_nodes_match_zookeeper(cli_target, root, cli_ref, ref_root):
    """create (-s -e -c -t), get (-s), set (-s -v), stat, ls (-s -R),
    delete (-v), deleteall (-b), getEphemerals, getAllChildrenNumber, sync,
    quit, and their errors."""
    want = compare(cli_target, root, cli_ref, ref_root, NODES)
    # the scenario did what it is meant to (on ZooKeeper)
    assert out(want, "create <root> data") == ["Created <root>"]
    assert out(want, "create <root> again") == \
        ["Node already exists: <root>"]
    assert out(want, "delete <root>") == ["Node not empty: <root>"]
    assert out(want, "create -s <root>/seq- s") == \
        ["Created <root>/seq-0000000001"]
    assert out(want, "getAllChildrenNumber <root>") == ["11"]
    assert "version No is not valid : <root>" in \
        out(want, "set -v 1 <root> stale")
    assert out(want, "getEphemerals <root>") == \
        ["[<root>/eph]", "(in java.util.HashSet order)"]


WATCHES = [
    "create {r} data",
    "create {r}/a a",
    "create {r}/a/b b",
    # one-shot watches: get -w, ls -w, stat -w (exists, also on a missing
    # node), ls -w -R
    "get -w {r}",
    "ls -w {r}",
    "stat -w {r}/a",
    "stat -w {r}/new",
    "get -s -w {r}/a/b",
    "set {r} x",
    "create {r}/new n",
    "set {r}/a y",
    "set {r}/a/b y",
    "sync {r}",
    "get -w {r}/nope",
    "ls -w {r}/nope",
    "ls -w -R {r}/a",
    "create {r}/a/c c",
    "delete {r}/a/c",
    "sync {r}",
    # persistent watches
    "addWatch {r}/a",
    "addWatch -m PERSISTENT {r}",
    "addWatch -m PERSISTENT_RECURSIVE {r}/new",
    "addWatch -m BOGUS {r}",
    "addWatch -m PERSISTENT {r}/nope",
    "addWatch",
    "set {r}/a/b 1",
    "create {r}/a/c c",
    "set {r} z",
    "create {r}/x x",
    "delete {r}/x",
    "set {r}/new n2",
    "sync {r}",
    # printwatches off hides events, on shows them again
    "printwatches",
    "printwatches off",
    "printwatches",
    "set {r}/a/b 2",
    "sync {r}",
    "printwatches on",
    "printwatches",
    "printwatches bogus",
    "printwatches",
    "printwatches on",
    # removewatches: -a (default) / -d / -c / -l, persistent ones too
    "removewatches {r}",
    "removewatches {r} -a",
    "removewatches {r}/nope -c",
    "removewatches {r}/nope",
    "removewatches {r}/nope",
    "get -w {r}/a/b",
    "ls -w {r}/a/b",
    "removewatches {r}/a/b -d",
    "removewatches {r}/a/b -d",
    "removewatches {r}/a/b -c",
    "removewatches {r}/a/b -c",
    "get -w {r}/a/b",
    "ls -w {r}/a/b",
    "removewatches {r}/a/b -a -l",
    "removewatches {r}/a/b -a",
    "removewatches {r}/a/b -x",
    "removewatches",
    "set {r}/a/b 3",
    "sync {r}",
    "removewatches {r}/a",
    "removewatches {r}/new -d",
    "removewatches {r}/new",
    "set {r}/a/b 4",
    "set {r}/new n3",
    "get -w {r}/new",
    "delete {r}/new",
    "stat -w {r}/a/c",
    "deleteall {r}/a",
    "sync {r}",
    # a recursive watch sees every op of deleteall's multi, in order
    "create {r}/rw r",
    "addWatch -m PERSISTENT_RECURSIVE {r}/rw",
    "create {r}/rw/m 1",
    "create {r}/rw/m/n 2",
    "create -s {r}/rw/m/n/s- 3",
    "set {r}/rw/m/n 4",
    "deleteall {r}/rw/m",
    "sync {r}",
    "removewatches {r}/rw -a",
    "removewatches {r}/rw",
    # no -m: zkCli 3.8 reuses the last mode given, PERSISTENT_RECURSIVE
    "addWatch {r}",
    "create {r}/m 1",
    "create {r}/m/n 2",
    "set {r}/m/n 4",
    "deleteall {r}/m",
    "sync {r}",
    "removewatches {r} -a",
    "removewatches {r}",
    "quit",
]


@pytest.mark.compare
def test_zkcli_watches_match_zookeeper(cli_target, root, cli_ref, ref_root):
    """get -w, ls -w (-R), stat -w, addWatch (-m both modes), removewatches
    (-c -d -a -l), printwatches; the events zkCli prints, in order."""
    want = compare(cli_target, root, cli_ref, ref_root, WATCHES)
    ev = want["node_events"]
    assert ("SyncConnected", "NodeCreated", "<root>/new") in ev
    assert ("SyncConnected", "NodeCreated",
            "<root>/rw/m/n/s-0000000000") in ev
    assert ("SyncConnected", "PersistentWatchRemoved", "<root>") in ev
    assert ("SyncConnected", "DataWatchRemoved", "<root>/a/b") in ev
    assert ("SyncConnected", "ChildWatchRemoved", "<root>/a/b") in ev
    assert out(want, "removewatches <root>/a/b -d") == []
    assert "KeeperErrorCode = No such watcher for <root>/a/b" in \
        out(want, "removewatches <root>/a/b -a")


ACLS = [
    "create {r} data",
    "getAcl {r}",
    "getAcl -s {r}",
    "getAcl {r}/nope",
    "getAcl",
    "create {r}/ip x ip:127.0.0.1:cdrwa",
    "getAcl {r}/ip",
    "get {r}/ip",
    "create {r}/net x ip:127.0.0.0/8:r,world:anyone:c",
    "getAcl {r}/net",
    "get {r}/net",
    "create {r}/other x ip:10.1.2.3:cdrwa",
    "get {r}/other",
    "create {r}/r x world:anyone:r",
    "getAcl -s {r}/r",
    "set {r}/r y",
    "create {r}/r/c c",
    "setAcl {r}/r world:anyone:cdrwa",
    "create {r}/bad x bogus:x:r",
    "create {r}/bad x world:anyone:q",
    "create {r}/bad2 x ip:999.1.1.1:r",
    "create {r}/bad3 x digest:nohash:r",
    "create {r}/bad4 x auth::cdrwa",            # no auth yet: InvalidACL
    "create {r}/bad5 x ip:127.0.0.1/33:r",
    "create {r}/bad6 x world:nobody:r",
    "create {r}/bad7 x super:x:r",
    "create {r}/bad8 x x509:CN=foo:r",
    "create {r}/bad9 x ip::r",
    "create {r}/dup x world:anyone:cdrwa,world:anyone:r",
    "getAcl {r}/dup",
    "create {r}/dup2 x world:anyone:r,ip:127.0.0.1:cdrwa,world:anyone:r",
    "getAcl {r}/dup2",
    "setAcl {r}/dup2 world:anyone:r,world:anyone:r",
    "getAcl {r}/dup2",
    "create {r}/anynet x ip:127.0.0.1/0:r",
    "getAcl {r}/anynet",
    "create {r}/noperm x world:anyone:",
    "get {r}/noperm",
    "create {r}/t1 a",
    "create {r}/t1/c1 b",
    "create {r}/t1/c1/d c",
    "setAcl {r}/t1 world:anyone:rwa",
    "setAcl -s {r}/t1 world:anyone:cdrwa",
    "setAcl -v 5 {r}/t1 world:anyone:r",       # BadVersion
    "setAcl -s -v 2 {r}/t1 world:anyone:cdrwa",
    "setAcl -R {r}/t1 world:anyone:rwa",
    "getAcl -s {r}/t1/c1/d",
    "setAcl {r}/nope world:anyone:r",
    "setAcl {r}/t1",
    "create {r}/z0 x",
    "setAcl {r}/z0 world:anyone:xyz",           # no known perm: none
    "getAcl {r}/z0",
    "get {r}/z0",
    "delete {r}/z0",
    # NoAuth once ADMIN is gone
    "setAcl {r}/t1/c1 world:anyone:r",
    "setAcl {r}/t1/c1 world:anyone:cdrwa",
    "set {r}/t1/c1 x",
    "create {r}/t1/c1/e e",
    "delete {r}/t1/c1/d",
    "get {r}/t1/c1",
    "setAcl -R {r}/t1 world:anyone:cdrwa",
    "deleteall {r}/t1 -b 1",                    # NoAuth on t1/c1/d
    "deleteall {r}/t1",
    "ls -R {r}/t1",
    # digest: a node only alice can use
    "create {r}/alice x digest:" + ALICE + ":cdrwa",
    "getAcl {r}/alice",
    "get {r}/alice",
    "set {r}/alice y",
    "ls {r}/alice",
    "stat {r}/alice",
    "create {r}/alice/c c",
    # no READ: no watch either (the later set and create fire nothing)
    "get -w {r}/alice",
    "ls -w {r}/alice",
    "addWatch -m PERSISTENT {r}/alice",
    "addauth digest bob:bpw",
    "whoami",
    "get {r}/alice",
    "create {r}/bobs x auth::cdrwa",
    "getAcl {r}/bobs",
    "setAcl {r}/bobs auth::rw,world:anyone:r",
    "getAcl {r}/bobs",
    "addauth digest alice:apw",
    "whoami",
    "getAcl -s {r}/alice",
    "get {r}/alice",
    "set -s {r}/alice y",
    "create {r}/alice/c c",
    "create {r}/both x digest:" + BOB + ":r,digest:" + ALICE + ":cdrwa",
    "getAcl {r}/both",
    "addauth digest nocolon",
    "addauth digest a:b:c",
    "addauth digest :",
    "whoami",
    "addauth digest",                           # no data: AuthFailed
    "@await AuthFailed",
    "whoami",
    "addauth",
    # the super user passes every ACL
    "connect {srv}",
    "@await SyncConnected",
    "whoami",
    "get {r}/alice",
    "addauth digest %s:%s" % (SUPER_USER, SUPER_PW),
    "whoami",
    "get {r}/alice",
    "setAcl {r}/alice world:anyone:r",
    "getAcl {r}/alice",
    "delete {r}/alice/c",
    "delete {r}/alice",
    "quit",
]


@pytest.mark.compare
def test_zkcli_acl_match_zookeeper(cli_target, root, cli_ref, ref_root):
    """getAcl (-s), setAcl (-s -v -R), create with ACLs (world, ip with and
    without mask, digest, auth), invalid ACLs, NoAuth after setAcl,
    addauth digest, whoami, super user."""
    want = compare(cli_target, root, cli_ref, ref_root, ACLS)
    assert out(want, "set <root>/t1/c1 x") == \
        ["Insufficient permission : <root>/t1/c1"]
    assert out(want, "get <root>/alice")[0] == \
        "Insufficient permission : <root>/alice"
    assert out(want, "getAcl <root>/bobs")[0] == "'digest,'" + BOB


@pytest.mark.compare
def test_zkcli_auth_acl_order_match_zookeeper(cli_target, root, cli_ref,
                                              ref_root):
    """create/setAcl with the auth scheme and two digest identities:
    ZooKeeper's fixupACL walks the session's authInfo, a set over a
    ConcurrentHashMap, so the ACL lists them in the order whoami does."""
    want = compare(cli_target, root, cli_ref, ref_root, [
        "create {r} data",
        "addauth digest bob:bpw",
        "addauth digest alice:apw",
        "whoami",
        "create {r}/mine x auth::cdrwa",
        "getAcl {r}/mine",
        "setAcl {r}/mine auth::rw,world:anyone:r",
        "getAcl {r}/mine",
        "quit",
    ])
    assert out(want, "whoami")[1:3] == ["digest: alice", "digest: bob"]
    assert out(want, "getAcl <root>/mine")[0].startswith("'digest,'alice:")


@pytest.mark.compare
def test_zkcli_getephemerals_order_match_zookeeper(cli_target, root,
                                                   cli_ref, ref_root):
    """ZooKeeper answers getEphemerals from a clone of the session's
    HashSet<String> of paths: its order depends on the paths' hashes (see
    zkcli.java_hashset_clone_order, checked on every getEphemerals)."""
    names = ["lock-1", "a", "zz", "worker_7", "b2", "m", "q-000", "x.y"]
    want = compare(cli_target, root, cli_ref, ref_root, [
        "create {r} data",
        "create {r}/sub s"] + [
        "create -e {r}/%s x" % n for n in names] + [
        "create -e {r}/sub/e x",
        "create -s -e {r}/sub/s- x",
        "getEphemerals {r}",
        "getEphemerals",
        "getEphemerals {r}/sub",
        "getEphemerals {r}/l",
        "delete {r}/a",
        "delete {r}/m",
        "create -e {r}/a x",
        "getEphemerals",
        "quit",
    ])
    assert out(want, "getEphemerals")[1] == "(in java.util.HashSet order)"


AUTH_FAILURES = [
    "create {r} data",
    "addauth bogus x",
    "@await AuthFailed",
    "sync {r}",
    "whoami",
    "get {r}",
    "connect {srv}",
    "@await SyncConnected",
    "get {r}",
    "addauth sasl foo",
    "@await AuthFailed",
    "get {r}",
    "connect {srv}",
    "@await SyncConnected",
    "addauth x509 foo",
    "@await AuthFailed",
    "get {r}",
    "connect {srv}",
    "@await SyncConnected",
    "addauth world anyone",
    "@await AuthFailed",
    "get {r}",
    "connect {srv}",
    "@await SyncConnected",
    "addauth super " + SUPER_PW,
    "@await AuthFailed",
    "get {r}",
    "connect {srv}",
    "@await SyncConnected",
    "whoami",
    "get {r}",
    "quit",
]


@pytest.mark.compare
def test_zkcli_addauth_failures_match_zookeeper(cli_target, root, cli_ref,
                                                ref_root):
    """addauth with a scheme the server refuses: AuthFailed, then "Not
    connected" until connect opens a new session."""
    want = compare(cli_target, root, cli_ref, ref_root, AUTH_FAILURES)
    assert want["state_events"].count("AuthFailed") == 5
    assert out(want, "@await AuthFailed") == ["seen"]


@pytest.mark.compare
def test_zkcli_addauth_ip_match_zookeeper(cli_target, root, cli_ref,
                                          ref_root):
    """ZooKeeper's ip provider accepts any addauth ip: it (re)adds the
    connection's own address; the session stays usable."""
    want = compare(cli_target, root, cli_ref, ref_root, [
        "create {r} data",
        "addauth ip 10.9.8.7",
        "sync {r}",
        "whoami",
        "get {r}",
        "quit",
    ])
    assert out(want, "whoami") == ["Auth scheme: User", "ip: 127.0.0.1"]


QUOTA_LIMITS = [
    "create {r} data",
    "create {r}/q q",
    "create {r}/q/a aaaa",
    "create {r}/q/b bb",
    "setquota -n 1000 {r}/q",
    "ls /zookeeper/quota{r}/q",
    "get -s /zookeeper/quota{r}/q/zookeeper_limits",
    "setquota -b 100000 {r}/q",
    "setquota -N 2000 {r}/q",
    "setquota -B 200000 {r}/q",
    "get /zookeeper/quota{r}/q/zookeeper_limits",
    "setquota -n 5 {r}/q/a",                   # parent has a quota
    "setquota -n 5 {r}",                       # child has a quota
    "setquota -n 5 {r}/nope",
    "setquota -n abc {r}/q",
    "setquota -n 0 {r}/q",
    "setquota -b -1 {r}/q",
    "setquota {r}/q",
    "setquota -n 2 -b 10 {r}/q",
    "setquota -n 5",
    "setquota -n 5 /",
    "setquota -n 5 /zookeeper/quota{r}",
    "setquota -n 5 {r}/q/",
    "delquota -n {r}/q",
    "get /zookeeper/quota{r}/q/zookeeper_limits",
    "delquota -b {r}/q",
    "delquota -N {r}/q",
    "get /zookeeper/quota{r}/q/zookeeper_limits",
    "delquota -B {r}/q",
    "get /zookeeper/quota{r}/q/zookeeper_limits",
    "delquota {r}/q",
    "ls /zookeeper/quota{r}",
    "delquota {r}/q",
    "delquota -n {r}/q",
    "delquota {r}/nope",
    "delquota",
    "setquota -N 3000 {r}/q",
    "get /zookeeper/quota{r}/q/zookeeper_limits",
    "delquota -N {r}/q",
    "delquota {r}/q",
    "quit",
]


@pytest.mark.compare
def test_zkcli_quota_limits_match_zookeeper(cli_target, root, cli_ref,
                                            ref_root, quota_cleanup):
    """setquota -n|-b|-N|-B and delquota (-n|-b|-N|-B or all): the
    zookeeper_limits node and the errors, without the usage part (limits
    far above the usage, which listquota and the stats node show: see the
    next test)."""
    want = compare(cli_target, root, cli_ref, ref_root, QUOTA_LIMITS)
    assert out(want, "get /zookeeper/quota<root>/q/zookeeper_limits")[0] \
        == "count=1000,bytes=100000=;byteHardLimit=200000;" \
        "countHardLimit=2000"


QUOTA_USAGE = [
    "create {r} data",
    "create {r}/q q",
    "create {r}/q/a aaaa",
    "create {r}/q/b bb",
    "listquota {r}/q",
    "setquota -n 10 {r}/q",
    "listquota {r}/q",
    "get /zookeeper/quota{r}/q/zookeeper_stats",
    "create {r}/q/c ccc",
    "set {r}/q/a a",
    "listquota {r}/q",
    "setquota -b 100 {r}/q",
    "setquota -N 20 {r}/q",
    "setquota -B 1000 {r}/q",
    "listquota {r}/q",
    "delete {r}/q/b",
    "create -e {r}/q/eph 12345",
    "create -s {r}/q/a/s- xx",
    "listquota {r}/q",
    "setquota -n 2 {r}/q",                     # warns: usage is above
    "setquota -b 3 {r}/q",
    "setquota -N 2 {r}/q",
    "setquota -B 3 {r}/q",
    "create {r}/q/over o",                     # not enforced by default
    "listquota {r}/q",
    "delquota -n {r}/q",
    "listquota {r}/q",
    "delquota {r}/q",
    "listquota {r}/q",
    "listquota {r}/nope",
    "listquota",
    "setquota -n 10 {r}/q/a",
    "listquota {r}/q/a",
    "get /zookeeper/quota{r}/q/a/zookeeper_stats",
    "deleteall {r}/q/a",
    "get /zookeeper/quota{r}/q/a/zookeeper_stats",
    "listquota {r}/q/a",
    "delquota {r}/q/a",
    "delete {r}/q/eph",
    "quit",
]


@pytest.mark.compare
def test_zkcli_quota_usage_match_zookeeper(cli_target, root, cli_ref,
                                           ref_root, quota_cleanup):
    """listquota prints the limits and the usage ZooKeeper keeps in
    zookeeper_stats; setquota warns when the usage is above a new limit."""
    want = compare(cli_target, root, cli_ref, ref_root, QUOTA_USAGE)
    assert "Output stat for <root>/q count=3,bytes=7" in \
        outs(want, "listquota <root>/q")[1]


CONFIG = [
    "create {r} data",
    "config",
    "config -s",
    "config -c",
    "config -w",
    "config -c -s",
    "config -x",
    "get -s /zookeeper/config",
    "getAcl -s /zookeeper/config",
    "setAcl /zookeeper/config world:anyone:cdrwa",
    "ls -s /zookeeper/config",
    "getEphemerals /zookeeper",
    "set /zookeeper/config x",
    "delete /zookeeper/config",
    "create /zookeeper/config/x x",
    "ls /zookeeper",
    "ls -s /zookeeper",
    "getAcl /zookeeper",
    "getAcl /zookeeper/quota",
    "delete /zookeeper/quota",
    "delete /zookeeper",
    "reconfig -add server.5=127.0.0.1:1234:1235;1236",
    "reconfig -remove 1",
    "reconfig -members server.1=127.0.0.1:1234:1235;1236",
    "reconfig -s -v 0 -remove 1",
    "reconfig",
    "reconfig -x",
    "reconfig -file /nonexistent",
    "sync {r}",
    "quit",
]


@pytest.mark.compare
def test_zkcli_config_reconfig_match_zookeeper(cli_target, root, cli_ref,
                                               ref_root):
    """config (-c -w -s), /zookeeper's system nodes and reconfig, which a
    standalone server refuses."""
    want = compare(cli_target, root, cli_ref, ref_root, CONFIG)
    assert out(want, "reconfig -remove 1") == \
        ["KeeperErrorCode = Reconfig is disabled"]


SESSION = [
    "version",
    "whoami",
    "create {r} data",
    "create -e {r}/eph e",
    "getEphemerals",
    "foo bar",                                  # unknown command
    "printwatches",
    # zkCli numbers the marker lines that follow every command too: the
    # k-th command of this script (from 0) is number 2k
    "history",
    "redo 4",                                   # create {r} data
    "redo 14",                                  # history
    "redo 999",
    "redo",
    "history",
    "get -w {r}",
    "close",
    "get {r}",
    "ls {r}",
    "whoami",
    "close",
    "connect {srv}",
    "@await SyncConnected",
    "ls {r}",
    "getEphemerals",
    "set {r} d2",
    "create -e {r}/eph2 e",
    "stat {r}/eph2",
    "get -w {r}",
    "connect {srv}",
    "@await SyncConnected",
    "set {r} d3",
    "sync {r}",
    "stat {r}/eph2",
    "create -e {r}/eph3 e",
    "stat {r}/eph3",
    "whoami",
    "quit",
]


@pytest.mark.compare
def test_zkcli_session_commands_match_zookeeper(cli_target, root, cli_ref,
                                                ref_root):
    """version, whoami, history, redo, close, connect, quit, an unknown
    command; the session's ephemerals and watches end with close."""
    want = compare(cli_target, root, cli_ref, ref_root, SESSION)
    assert out(want, "ls <root>") == ["Not connected"]
    assert out(want, "getEphemerals") == ["[<root>/eph]",
                                          "(in java.util.HashSet order)"]
