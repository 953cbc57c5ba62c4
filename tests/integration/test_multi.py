"""multi (14) with check (13) inside, and multiRead (22)."""

import pytest
from kazoo.exceptions import (BadVersionError, NoNodeError, NodeExistsError,
                              RolledBackError, RuntimeInconsistency)

from jute import Err, Mode
from util import compare_runs


def test_transaction_success_returns_per_op_results(zk, root):
    zk.create(root)
    zk.create(root + "/a", b"a")
    t = zk.transaction()
    t.create(root + "/b", b"b")
    t.check(root + "/a", 0)
    t.set_data(root + "/a", b"a2")
    t.delete(root + "/b")
    t.create(root + "/s-", sequence=True)
    res = t.commit()
    assert res[0] == root + "/b"
    assert res[1] is True
    assert res[2].version == 1 and res[2].dataLength == 2
    assert res[3] is True
    assert res[4] == root + "/s-0000000002"   # 2 earlier creates (a, b)
    assert zk.get(root + "/a")[0] == b"a2"
    assert zk.exists(root + "/b") is None


def test_transaction_ops_share_one_zxid(zk, root):
    zk.create(root)
    t = zk.transaction()
    t.create(root + "/x")
    t.create(root + "/y")
    t.commit()
    sx, sy = zk.exists(root + "/x"), zk.exists(root + "/y")
    assert sx.czxid == sy.czxid


def test_transaction_failure_reports_each_op(zk, root):
    # What ZooKeeper 3.8 returns for a failed multi: the reply header err is
    # 0 (!), and every op gets an ErrorResult: ops before the failing one
    # carry err 0 (kazoo: RolledBackError), the failing op its own error,
    # and the ops after it RUNTIMEINCONSISTENCY (-2).
    zk.create(root)
    zk.create(root + "/a")
    t = zk.transaction()
    t.create(root + "/b")
    t.delete(root + "/missing")
    t.set_data(root + "/a", b"x")
    t.check(root + "/a", 5)
    res = t.commit()
    assert [type(r) for r in res] == [RolledBackError, NoNodeError,
                                      RuntimeInconsistency,
                                      RuntimeInconsistency]
    assert zk.exists(root + "/b") is None           # rolled back
    assert zk.get(root + "/a")[1].version == 0


def test_transaction_failing_check_rolls_back(zk, root):
    zk.create(root)
    t = zk.transaction()
    t.create(root + "/n")
    t.check(root, 7)
    res = t.commit()
    assert isinstance(res[0], RolledBackError)
    assert isinstance(res[1], BadVersionError)
    assert zk.exists(root + "/n") is None


def test_transaction_create_existing_fails(zk, root):
    zk.create(root)
    t = zk.transaction()
    t.create(root)
    res = t.commit()
    assert len(res) == 1 and isinstance(res[0], NodeExistsError)


def test_transaction_sees_its_own_earlier_ops(zk, root):
    t = zk.transaction()
    t.create(root)
    t.create(root + "/child")
    t.set_data(root + "/child", b"v", version=0)
    t.check(root + "/child", 1)
    t.delete(root + "/child", version=1)
    t.delete(root)
    res = t.commit()
    assert not any(isinstance(r, Exception) for r in res), res
    assert zk.exists(root) is None


def test_raw_multi_failure_wire_format(raw, root):
    c = raw()
    c.create(root)
    c.create(root + "/a")
    err, res = c.multi([("create", root + "/b", b"x", Mode.PERSISTENT),
                        ("delete", root + "/missing", -1),
                        ("setData", root + "/a", b"y", -1),
                        ("check", root + "/a", 5)])
    assert err == 0     # header err is OK even though the multi failed
    assert res == [("error", 0), ("error", Err.NO_NODE),
                   ("error", Err.RUNTIME_INCONSISTENCY),
                   ("error", Err.RUNTIME_INCONSISTENCY)]


def test_raw_empty_multi_succeeds(raw):
    assert raw().multi([]) == (0, [])


def test_raw_multi_success_wire_format(raw, root):
    c = raw()
    c.create(root)
    c.create(root + "/a")
    err, res = c.multi([("create", root + "/b", b"x", Mode.PERSISTENT),
                        ("check", root + "/a", 0),
                        ("setData", root + "/a", b"y", 0),
                        ("delete", root + "/b", 0)])
    assert err == 0
    # plain create (opcode 1) in a multi returns a path without stat
    assert res[0] == ("create", root + "/b", None)
    assert res[1] == ("check",)
    assert res[2][0] == "setData" and res[2][1].version == 1
    assert res[3] == ("delete",)


def test_multi_read_returns_data_children_and_errors(raw, root):
    c = raw()
    c.create(root, b"r")
    c.create(root + "/a", b"A")
    res = c.multi_read([("getData", root + "/a"), ("getChildren", root),
                        ("getData", root + "/none"),
                        ("getChildren", root + "/none")])
    assert res[0][0] == "data" and res[0][1] == b"A"
    assert res[0][2].dataLength == 1
    assert res[1] == ("children", ["a"])
    # multiRead does not roll back: each failing read has its own error
    assert res[2] == ("error", Err.NO_NODE)
    assert res[3] == ("error", Err.NO_NODE)


@pytest.mark.compare
def test_multi_results_match_zookeeper(zk, root, ref, ref_root):
    def scenario(c, r):
        out = []
        c.create(r)
        c.create(r + "/a", b"a")
        for build in (
            lambda t: (t.create(r + "/b"), t.delete(r + "/zz")),
            lambda t: (t.check(r + "/a", 0), t.create(r + "/a")),
            lambda t: (t.set_data(r + "/a", b"x", version=9),
                       t.create(r + "/c")),
            lambda t: (t.create(r + "/d", ephemeral=True),
                       t.create(r + "/d/e")),
            lambda t: (t.create(r + "/q-", sequence=True),
                       t.set_data(r + "/a", b"x"), t.check(r + "/a", 1),
                       t.delete(r + "/a", version=1)),
            lambda t: (t.delete(r), ),
        ):
            t = c.transaction()
            build(t)
            out.append(t.commit())
            out.append(c.exists(r))
        out.append(sorted(c.get_children(r)))
        return out
    compare_runs(scenario, zk, root, ref, ref_root)


@pytest.mark.compare
def test_raw_multi_and_multiread_match_zookeeper(raw, root, ref_raw, ref_root):
    def scenario(c, r):
        out = []
        c.create(r, b"x")
        out.append(c.multi([("create", r + "/a", b"1", Mode.EPHEMERAL),
                            ("create", r + "/s", b"", Mode.PERSISTENT_SEQUENTIAL),
                            ("setData", r, b"yy", 0)]))
        out.append(c.multi([("check", r, 0)]))
        out.append(c.multi([("delete", r, -1), ("check", r, 1)]))
        out.append(c.multi_read([("getChildren", r), ("getData", r),
                                 ("getData", r + "/nope")]))
        return out
    a = scenario(raw(), root)
    b = scenario(ref_raw(), ref_root)
    from util import normalise
    assert normalise(a, root) == normalise(b, ref_root)


def _wrong_kinds(c, r):
    """multi holding reads, multiRead holding writes: each answered
    MARSHALLINGERROR on a connection that stays; a multi's refusal is an
    error txn (it uses a zxid), a multiRead's is not."""
    from jute import Op, p_bool, p_int, p_string

    def hdr(op):
        return p_int(op) + p_bool(False) + p_int(-1)
    end = p_int(-1) + p_bool(True) + p_int(-1)
    get = hdr(Op.GET_DATA) + p_string(r) + p_bool(False)
    setd = hdr(Op.SET_DATA) + p_string(r) + p_int(1) + b"x" + p_int(-1)
    c.create(r)
    out = []
    base = c.exists(r).czxid
    for name, op, body in [("multi of a read", Op.MULTI, get + end),
                           ("multi mixed", Op.MULTI, setd + get + end),
                           ("multiRead of a write", Op.MULTI_READ,
                            setd + end)]:
        rep = c.request(op, body, check=False)
        probe = c.create(r + "/" + name.replace(" ", "-"))[1]
        out.append((name, rep.err, probe.czxid - base))
    return out


@pytest.mark.compare
def test_multi_of_the_wrong_kind_matches_zookeeper(raw, root, ref_raw,
                                                   ref_root):
    got = _wrong_kinds(raw(), root)
    assert got == _wrong_kinds(ref_raw(), ref_root)
    assert [e for _, e, _ in got] == [Err.MARSHALLING_ERROR] * 3
