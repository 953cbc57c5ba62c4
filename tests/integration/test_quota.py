"""Quotas as ZooKeeper 3.8 keeps them: the usage in
/zookeeper/quota<P>/zookeeper_stats, updated by every create, delete and
setData under the longest quota path; hard limits refused with
QUOTAEXCEEDED when enforceQuota is on; mntr's per-namespace gauges; and
the usage counted afresh after a restart.  The same script runs against a
dedicated paddockd and a dedicated Apache ZooKeeper; the transcripts must
be equal."""

import os

import pytest

import jute
from conftest import ZK_JAR, four_letter, new_client

Q = "/zookeeper/quota"


def stats(c, p):
    return c.get(Q + p + "/zookeeper_stats")[0].decode()


def setquota(c, p, limits):
    """What zkCli setquota does: the quota path, limits, then stats."""
    c.ensure_path(Q + p)
    c.create(Q + p + "/zookeeper_limits", limits.encode())
    st = c.create(Q + p + "/zookeeper_stats", b"count=0,bytes=0",
                  include_data=True)[1]
    return st.dataLength


def attempt(fn):
    """The error code of a raw-client call (kazoo 2.8 has no exception
    for QUOTAEXCEEDED, -125: its connection loop dies on it)."""
    try:
        fn()
        return "ok"
    except jute.ZKError as e:
        return "error %d" % e.code


def quota_gauges(srv):
    return sorted(l for l in four_letter(srv.hosts, "mntr").splitlines()
                  if "_quota_" in l)


def script(srv):
    out = []
    c = new_client(srv.hosts)
    r = jute.open_session(srv.hosts)
    try:
        c.create("/q/a", b"12345", makepath=True)
        c.create("/q/n/x", b"xy", makepath=True)
        c.create("/free", b"not under a quota")
        out.append("create reply dataLength %d" % setquota(
            c, "/q", "count=4,bytes=-1=;byteHardLimit=20;countHardLimit=6"))
        out.append("after setquota /q: " + stats(c, "/q"))
        st0 = c.exists(Q + "/q/zookeeper_stats")
        setquota(c, "/q/n", "count=-1,bytes=-1")
        out.append("nested: /q %s, /q/n %s" % (stats(c, "/q"),
                                               stats(c, "/q/n")))
        c.create("/q/b", b"123")                 # counts in /q only
        c.create("/q/n/y", b"1")                 # counts in /q/n only
        c.set("/q/a", b"1")
        c.delete("/q/n/x")
        c.set("/free", b"x")
        out.append("after writes: /q %s, /q/n %s" % (stats(c, "/q"),
                                                      stats(c, "/q/n")))
        st1 = c.exists(Q + "/q/zookeeper_stats")
        out.append("stats node mzxid same %s version %d" % (
            st1.mzxid == st0.mzxid, st1.version))
        # hard limits: countHardLimit=6, byteHardLimit=20; usage now
        # count=4 (/q, /q/a, /q/b, /q/n) bytes=4
        out.append("create within: " + attempt(
            lambda: r.create("/q/c", b"0123456789")))
        out.append("set past bytes: " + attempt(
            lambda: r.set_data("/q/c", b"0123456789012345678")))
        out.append("set past bytes, bad version: " + attempt(
            lambda: r.set_data("/q/c", b"0123456789012345678", 7)))
        out.append("create past count: " + attempt(
            lambda: r.create("/q/d", b"")))
        out.append("create past count: " + attempt(
            lambda: r.create("/q/e", b"")))
        out.append("multi past count: %r" % (r.multi(
            [("create", "/q/f", b"", 0), ("create", "/q/g", b"", 0)]),))
        out.append("after refusals: " + stats(c, "/q"))
        out.extend(quota_gauges(srv))
        # delquota /q: its limit goes, and with it /q/n's (ZooKeeper's
        # PathTrie drops the subtree)
        c.delete(Q + "/q/zookeeper_limits")
        c.create("/q/n/z", b"zz")
        c.create("/q/h", b"h")
        out.append("after delete limit: /q %s, /q/n %s" % (
            stats(c, "/q"), stats(c, "/q/n")))
        out.extend(quota_gauges(srv))
    finally:
        r.close_socket()
        c.stop()
        c.close()
    # a restart counts every quota path afresh
    srv.stop()
    srv.start()
    c = new_client(srv.hosts)
    try:
        # (/q's stats node, without its limit, is left as the snapshot
        # had it: ZooKeeper's value depends on when it took one)
        out.append("after restart: /q/n %s" % stats(c, "/q/n"))
        c.create("/q/n/w", b"www")
        out.append("then: /q/n %s" % stats(c, "/q/n"))
    finally:
        c.stop()
        c.close()
    return out


@pytest.mark.compare
@pytest.mark.timeout(120)
def test_quota_usage_and_hard_limits_match_zookeeper(server_factory):
    if not os.path.exists(ZK_JAR):
        pytest.skip("Apache ZooKeeper not installed")
    cfg = {"enforceQuota": "true", "snapCount": "10"}
    got = script(server_factory(cfg))
    want = script(server_factory(cfg, kind="zookeeper"))
    assert got == want
    # the script saw what it was written to see
    assert "after setquota /q: count=4,bytes=7" in got
    assert "create past count: error -125" in got
