"""The libzookeeper-mt C client (Debian's libzookeeper-mt-dev) against the
target: cclient/zkc_test.c, compiled once per session into a tmp dir
(fixture zkc_binary, conftest.py)."""

import subprocess


def test_c_client_sync_async_multi_watch(zkc_binary, target, root, zk):
    r = subprocess.run([zkc_binary, target.hosts, root], capture_output=True,
                       text=True, timeout=45)
    out = r.stdout
    assert r.returncode == 0, "zkc_test failed:\n%s\n%s" % (out, r.stderr[-3000:])
    lines = out.splitlines()

    def line(prefix):
        hits = [l for l in lines if l.startswith(prefix + " ")]
        assert hits, "no %r line in:\n%s" % (prefix, out)
        return hits[0]

    assert line("create") == "create %s rc=0" % root
    assert line("create_again") == "create_again rc=-110"
    seq = [l for l in lines if l.startswith("create_seq ")]
    assert seq == ["create_seq %s/seq-0000000000 rc=0" % root,
                   "create_seq %s/seq-0000000001 rc=0" % root]
    assert line("create_under_eph") == "create_under_eph rc=-108"
    assert line("create2") == "create2 %s/c2 rc=0 version=0 dataLength=3" % root
    assert line("get") == "get rootdata rc=0 version=0 numChildren=4"
    assert line("set_badversion") == "set_badversion rc=-103"
    assert line("exists_none") == "exists_none rc=-101"
    assert line("children2") == "children2 rc=0 count=4 cversion=4"
    assert line("multi_ok") == "multi_ok rc=0 results=0,0,0"
    # the C client maps per-op results of a failed multi: ops before the
    # failure report 0 (ZOK), the failing op its error, later ops -2
    assert line("multi_fail") == "multi_fail rc=-103 results=0,-103,-2"
    assert line("watch_data") == "watch_data changed %s" % root
    assert line("watch_exists") == "watch_exists created %s/later" % root
    assert line("watch_child") == "watch_child child %s" % root
    assert line("acreate") == "acreate %s/async rc=0" % root
    assert line("aget") == "aget av v=0 rc=0"
    assert line("aset") == "aset v=1 rc=0"
    assert line("async_sync") == "async_sync %s rc=0" % root
    assert line("adelete_badversion") == "adelete_badversion rc=-103"
    assert line("get_acl") == \
        "get_acl rc=0 count=1 perms=31 scheme=world id=anyone"
    assert line("delete_notempty") == "delete_notempty rc=-111"
    assert "failures=0" in lines
    # the ephemeral went away with the C client's session
    assert zk.exists(root + "/eph") is None
    assert zk.exists(root + "/seq-0000000001") is not None
