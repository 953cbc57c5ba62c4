"""Every plain opcode through kazoo: create/create2, delete, exists, getData,
setData, getACL/setACL, getChildren/getChildren2, sync; the initial tree;
stat rules; error codes."""

import pytest
from kazoo.exceptions import (BadVersionError, NodeExistsError, NoNodeError,
                              NotEmptyError)
from kazoo.security import OPEN_ACL_UNSAFE, READ_ACL_UNSAFE, make_acl

import jute
from util import attempt, compare_runs


def test_create_persistent_and_get(zk, root):
    assert zk.create(root, b"hello") == root
    data, stat = zk.get(root)
    assert data == b"hello"
    assert stat.version == 0 and stat.cversion == 0 and stat.aversion == 0
    assert stat.dataLength == 5 and stat.numChildren == 0
    assert stat.ephemeralOwner == 0
    assert stat.czxid == stat.mzxid == stat.pzxid > 0
    assert stat.ctime == stat.mtime > 0


def test_create_empty_and_null_data(zk, raw, root):
    zk.create(root, b"")
    data, stat = zk.get(root)
    assert data == b"" and stat.dataLength == 0
    # raw create with a null (-1 length) buffer: ZooKeeper stores it as null
    # and getData returns a null buffer (length -1) again.
    r = raw()
    r.create(root + "/null", None)
    data, stat = r.get_data(root + "/null")
    assert data is None and stat.dataLength == 0


def test_create_existing_raises_node_exists(zk, root):
    zk.create(root)
    with pytest.raises(NodeExistsError):
        zk.create(root)


def test_create_without_parent_raises_no_node(zk, root):
    with pytest.raises(NoNodeError):
        zk.create(root + "/a/b")


def test_create_makepath_creates_parents(zk, root):
    zk.create(root + "/a/b/c", b"x", makepath=True)
    assert zk.get(root + "/a/b/c")[0] == b"x"
    assert zk.get_children(root + "/a") == ["b"]


def test_create2_include_data_returns_stat(zk, root):
    path, stat = zk.create(root, b"abc", include_data=True)
    assert path == root
    assert stat.dataLength == 3 and stat.version == 0
    assert stat == zk.exists(root)


def test_create_sequential_pads_ten_digits(zk, root):
    zk.create(root)
    names = [zk.create(root + "/s-", b"", sequence=True) for _ in range(3)]
    assert names == [root + "/s-%010d" % i for i in range(3)]


def test_sequence_suffix_counts_creates_not_deletes(zk, root):
    # Surprise (ZooKeeper 3.8.0): the documented rule is "the suffix is the
    # parent's cversion", but deletes of children DO bump cversion while the
    # suffix only counts child creations.  After create+delete of a plain
    # child, cversion is 2 yet the next sequential child gets ...0001.
    zk.create(root)
    for _ in range(3):
        zk.create(root + "/plain")
        zk.delete(root + "/plain")
    assert zk.exists(root).cversion == 6
    p = zk.create(root + "/s-", sequence=True)
    assert p == root + "/s-0000000003"
    assert zk.exists(root).cversion == 7
    zk.create(root + "/plain")
    zk.delete(root + "/plain")
    assert zk.create(root + "/s-", sequence=True) == root + "/s-0000000005"
    assert zk.exists(root).cversion == 10


@pytest.mark.compare
def test_sequence_numbers_match_zookeeper(zk, root, ref, ref_root):
    def scenario(c, r):
        out = [c.create(r)]
        out.append(c.create(r + "/a-", sequence=True))
        out.append(c.create(r + "/b-", sequence=True, ephemeral=True))
        c.create(r + "/x")
        c.delete(r + "/x")
        out.append(c.create(r + "/a-", sequence=True))
        t = c.transaction()
        t.create(r + "/y")
        t.delete(r + "/y")
        t.create(r + "/m-", sequence=True)
        out.append(t.commit())
        c.delete(r + "/a-0000000000")
        out.append(c.create(r + "/", sequence=True))
        out.append(c.exists(r))
        out.append(sorted(c.get_children(r)))
        return out
    compare_runs(scenario, zk, root, ref, ref_root)


def test_create_sequential_with_trailing_slash_is_allowed(zk, root):
    # "/parent/" + sequential is legal: the name is just the 10 digits.
    zk.create(root)
    assert zk.create(root + "/", sequence=True) == root + "/0000000000"


def test_create_ephemeral_sequential(zk, root):
    zk.create(root)
    p = zk.create(root + "/e-", ephemeral=True, sequence=True)
    assert p == root + "/e-0000000000"
    assert zk.exists(p).ephemeralOwner == zk.client_id[0]


def test_delete_removes_node_and_exists_returns_none(zk, root):
    zk.create(root)
    zk.delete(root)
    assert zk.exists(root) is None
    with pytest.raises(NoNodeError):
        zk.get(root)
    with pytest.raises(NoNodeError):
        zk.delete(root)


def test_delete_with_version(zk, root):
    zk.create(root)
    zk.set(root, b"1")
    with pytest.raises(BadVersionError):
        zk.delete(root, version=0)
    zk.delete(root, version=1)
    assert zk.exists(root) is None


def test_delete_non_empty_raises_not_empty(zk, root):
    zk.create(root + "/c", makepath=True)
    with pytest.raises(NotEmptyError):
        zk.delete(root)


def test_set_with_version(zk, root):
    zk.create(root, b"a")
    st = zk.set(root, b"bb", version=0)
    assert st.version == 1 and st.dataLength == 2
    assert st.mzxid > st.czxid
    with pytest.raises(BadVersionError):
        zk.set(root, b"c", version=0)
    st = zk.set(root, b"c", version=-1)
    assert st.version == 2
    with pytest.raises(NoNodeError):
        zk.set(root + "/none", b"x")


def test_set_same_data_still_bumps_version(zk, root):
    zk.create(root, b"a")
    assert zk.set(root, b"a").version == 1


def test_get_children_sorted_not_guaranteed_but_complete(zk, root):
    zk.create(root)
    for n in ("b", "a", "c"):
        zk.create(root + "/" + n)
    assert sorted(zk.get_children(root)) == ["a", "b", "c"]
    with pytest.raises(NoNodeError):
        zk.get_children(root + "/none")


def test_get_children2_returns_stat(zk, root):
    zk.create(root)
    zk.create(root + "/x")
    children, stat = zk.get_children(root, include_data=True)
    assert children == ["x"]
    assert stat.numChildren == 1 and stat.cversion == 1
    assert stat == zk.exists(root)


def test_sync_returns_path(zk, root):
    zk.create(root)
    assert zk.sync(root) == root
    # sync of a missing node is not an error in ZooKeeper
    assert zk.sync(root + "/none") == root + "/none"


def test_large_data_near_limit(zk, root):
    data = b"x" * (1024 * 1000)
    zk.create(root, data)
    assert zk.get(root)[0] == data


def test_get_acls_default_open(zk, root):
    zk.create(root)
    acls, stat = zk.get_acls(root)
    assert list(acls) == list(OPEN_ACL_UNSAFE)
    assert stat.aversion == 0


def test_set_acls_with_version_bumps_aversion(zk, root):
    zk.create(root)
    ra = [make_acl("world", "anyone", read=True, admin=True)]
    st = zk.set_acls(root, ra, version=0)
    assert st.aversion == 1 and st.version == 0
    with pytest.raises(BadVersionError):
        zk.set_acls(root, OPEN_ACL_UNSAFE, version=0)
    acls, stat = zk.get_acls(root)
    assert list(acls) == ra and stat.aversion == 1


def test_set_acls_on_missing_node_raises_no_node(zk, root):
    with pytest.raises(NoNodeError):
        zk.set_acls(root, READ_ACL_UNSAFE)
    with pytest.raises(NoNodeError):
        zk.get_acls(root)


def test_create_with_empty_acl_is_invalid(raw, root):
    c = raw()
    with pytest.raises(jute.ZKError) as ei:
        c.create(root, b"", acl=[])
    assert ei.value.code == jute.Err.INVALID_ACL


def test_initial_tree_exists(zk):
    assert "zookeeper" in zk.get_children("/")
    assert sorted(zk.get_children("/zookeeper")) == ["config", "quota"]
    for p in ("/zookeeper", "/zookeeper/quota", "/zookeeper/config"):
        assert zk.exists(p) is not None, p
    root_stat = zk.exists("/")
    assert root_stat.czxid == 0 and root_stat.ctime == 0
    assert root_stat.ephemeralOwner == 0


@pytest.mark.compare
def test_initial_tree_stats_match_zookeeper(zk, ref):
    # Surprising ZooKeeper facts: /zookeeper has cversion -1 and
    # /zookeeper/config has aversion -1 (both created by internal code
    # paths, not by transactions); all three have czxid 0 and times 0.
    def scenario(c, root):
        out = []
        for p in ("/zookeeper", "/zookeeper/quota", "/zookeeper/config"):
            st = c.exists(p)
            out.append((p, st, c.get(p)[0]))
        out.append(c.get_acls("/zookeeper/config")[0])
        out.append(c.get_acls("/zookeeper")[0])
        return out
    compare_runs(scenario, zk, "/", ref, "/")


# ----------------------------------------------------------- bad paths

BAD_CREATE_PATHS = ["x", "", "/x/", "//x", "/x/.", "/x/..", "/.", "/..",
                    "/x/a\x00b", "/x/a\x01"]


@pytest.mark.parametrize("suffix", BAD_CREATE_PATHS)
def test_create_bad_path_raises_bad_arguments(raw, root, suffix):
    # kazoo normalises paths client-side, so send raw frames.
    c = raw()
    c.create(root)
    path = suffix.replace("/x", root, 1) if suffix.startswith("/x") else suffix
    with pytest.raises(jute.ZKError) as ei:
        c.create(path)
    assert ei.value.code == jute.Err.BAD_ARGUMENTS, path


def test_create_bad_path_under_missing_parent_is_no_node(raw, root):
    # Surprise: ZooKeeper looks the parent up BEFORE validating the full
    # path, so "/root/./a" and "/root//a" give NONODE (parent "/root/." or
    # "/root/" does not exist), not BADARGUMENTS.
    c = raw()
    c.create(root)
    for p in (root + "/./a", root + "//a", root + "/../a"):
        with pytest.raises(jute.ZKError) as ei:
            c.create(p)
        assert ei.value.code == jute.Err.NO_NODE, p


def test_odd_but_valid_names(raw, root):
    c = raw()
    c.create(root)
    for name in (".a", "...", "a.", "a b", "\u00e9t\u00e9"):
        assert c.create(root + "/" + name)[0] == root + "/" + name


@pytest.mark.compare
def test_reads_with_bad_paths_match_zookeeper(raw, root, ref_raw, ref_root):
    # ZooKeeper does not validate paths of reads on the server (clients
    # do): a malformed path is simply not found (NONODE), except that a
    # NUL character gives BADARGUMENTS and "" names the root.
    def scenario(c, r):
        c.create(r, b"d")
        out = []
        for p in ("x", r + "/", "//" + r[1:], r + "/.", r + "/..", "",
                  r + "\x00"):
            for op, body in ((jute.Op.EXISTS, jute.p_string(p) +
                              jute.p_bool(False)),
                             (jute.Op.GET_DATA, jute.p_string(p) +
                              jute.p_bool(False)),
                             (jute.Op.GET_CHILDREN, jute.p_string(p) +
                              jute.p_bool(False))):
                rep = c.request(op, body, check=False)
                out.append((p.replace(r, "<r>"), op, rep.err))
        return out
    a = scenario(raw(), root)
    b = scenario(ref_raw(), ref_root)
    assert a == b


# ----------------------------------------------------------- stat rules

@pytest.mark.compare
def test_stat_rules_match_zookeeper(zk, root, ref, ref_root):
    def scenario(c, r):
        out = []
        out.append(c.create(r, b"abc", include_data=True))
        out.append(c.create(r + "/a", b"", include_data=True))
        out.append(c.exists(r))                       # cversion 1, pzxid
        out.append(c.set(r, b"defg"))                 # version 1
        out.append(c.exists(r))
        out.append(c.create(r + "/e", ephemeral=True, include_data=True))
        out.append(c.exists(r))
        c.delete(r + "/a")
        out.append(c.exists(r))                       # cversion 3, pzxid
        out.append(c.set_acls(r, READ_ACL_UNSAFE + [make_acl(
            "world", "anyone", all=True)]))          # aversion 1
        out.append(c.get_children(r, include_data=True))
        out.append(c.set(r + "/e", b"x", version=0))
        out.append(c.get(r + "/e"))
        c.delete(r + "/e")
        out.append(c.exists(r + "/e"))                # None after delete
        out.append(attempt(c.get, r + "/e"))
        out.append(c.exists(r))
        out.append(c.create(r + "/s", sequence=True))
        out.append(c.create(r + "/s", sequence=True, ephemeral=True))
        out.append(c.get_children(r, include_data=True))
        return out
    compare_runs(scenario, zk, root, ref, ref_root)


@pytest.mark.compare
def test_error_codes_match_zookeeper(zk, root, ref, ref_root):
    def scenario(c, r):
        out = [c.create(r)]
        out.append(attempt(c.create, r))
        out.append(attempt(c.create, r + "/a/b"))
        out.append(attempt(c.delete, r + "/none"))
        c.create(r + "/a")
        out.append(attempt(c.delete, r))
        out.append(attempt(c.delete, r + "/a", version=3))
        out.append(attempt(c.set, r + "/a", b"", version=3))
        out.append(attempt(c.set_acls, r + "/a", OPEN_ACL_UNSAFE, version=3))
        out.append(attempt(c.get_children, r + "/none"))
        out.append(attempt(c.get_acls, r + "/none"))
        c.create(r + "/e", ephemeral=True)
        out.append(attempt(c.create, r + "/e/c"))
        out.append(attempt(c.create, r + "/e/c", sequence=True))
        return out
    compare_runs(scenario, zk, root, ref, ref_root)
