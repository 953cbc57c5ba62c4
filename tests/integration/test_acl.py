"""ACLs: world, digest, auth, ip, super; CREATE/DELETE on the parent;
getACL masking; auth failures; whoAmI."""

import pytest
from kazoo.exceptions import AuthFailedError, InvalidACLError, NoAuthError
from kazoo.security import (ACL, Id, OPEN_ACL_UNSAFE, make_acl,
                            make_digest_acl, make_digest_acl_credential)

from jute import Err, Perm
from conftest import SUPER_USER, SUPER_PW
from util import attempt


def digest_client(make_zk, user, pw):
    return make_zk(auth_data=[("digest", "%s:%s" % (user, pw))])


def test_digest_acl_allows_owner_denies_others(make_zk, root):
    alice = digest_client(make_zk, "alice", "pw")
    anon = make_zk()
    acl = [make_digest_acl("alice", "pw", all=True)]
    alice.create(root, b"secret", acl=acl)
    assert alice.get(root)[0] == b"secret"
    with pytest.raises(NoAuthError):
        anon.get(root)
    with pytest.raises(NoAuthError):
        anon.set(root, b"x")
    with pytest.raises(NoAuthError):
        anon.get_children(root)
    # exists is never ACL-checked
    assert anon.exists(root) is not None


def test_digest_wrong_password_is_denied(make_zk, root):
    alice = digest_client(make_zk, "alice", "pw")
    mallory = digest_client(make_zk, "alice", "wrong")
    alice.create(root, b"s", acl=[make_digest_acl("alice", "pw", all=True)])
    with pytest.raises(NoAuthError):
        mallory.get(root)


def test_add_auth_after_connect(zk, make_zk, root):
    owner = digest_client(make_zk, "bob", "pw")
    owner.create(root, b"s", acl=[make_digest_acl("bob", "pw", read=True)])
    with pytest.raises(NoAuthError):
        zk.get(root)
    zk.add_auth("digest", "bob:pw")
    assert zk.get(root)[0] == b"s"


def test_auth_scheme_acl_expands_to_session_identities(make_zk, root):
    alice = digest_client(make_zk, "alice", "pw")
    alice.create(root, b"", acl=[make_acl("auth", "", all=True)])
    acls, _ = alice.get_acls(root)
    assert list(acls) == [ACL(Perm.ALL, Id(
        "digest", make_digest_acl_credential("alice", "pw")))]


def test_auth_scheme_acl_without_auth_is_invalid(zk, root):
    with pytest.raises(InvalidACLError):
        zk.create(root, b"", acl=[make_acl("auth", "", all=True)])


def test_invalid_digest_acl_id_is_invalid(zk, root):
    # a digest id must be "user:hash"
    with pytest.raises(InvalidACLError):
        zk.create(root, b"", acl=[ACL(Perm.ALL, Id("digest", "nocolon"))])


def test_unknown_acl_scheme_is_invalid(zk, root):
    with pytest.raises(InvalidACLError):
        zk.create(root, b"", acl=[ACL(Perm.ALL, Id("nosuch", "x"))])


def test_ip_acl(zk, root):
    zk.create(root)
    zk.create(root + "/mine", b"m", acl=[make_acl("ip", "127.0.0.1",
                                                 read=True)])
    zk.create(root + "/net", b"n", acl=[make_acl("ip", "127.0.0.0/8",
                                                read=True)])
    zk.create(root + "/other", b"o", acl=[make_acl("ip", "10.1.2.3",
                                                  all=True)])
    assert zk.get(root + "/mine")[0] == b"m"
    assert zk.get(root + "/net")[0] == b"n"
    with pytest.raises(NoAuthError):
        zk.get(root + "/other")
    with pytest.raises(NoAuthError):
        zk.set(root + "/mine", b"x")


def test_create_and_delete_are_checked_on_parent(zk, make_zk, root):
    owner = digest_client(make_zk, "o", "pw")
    owner.create(root, b"", acl=[make_digest_acl("o", "pw", all=True),
                                 make_acl("world", "anyone", read=True)])
    owner.create(root + "/c", b"", acl=OPEN_ACL_UNSAFE)
    with pytest.raises(NoAuthError):
        zk.create(root + "/x")
    with pytest.raises(NoAuthError):
        zk.delete(root + "/c")          # c itself is world:anyone ALL
    zk.set(root + "/c", b"ok")          # but WRITE is checked on c
    owner.delete(root + "/c")


def test_set_acl_needs_admin(zk, make_zk, root):
    owner = digest_client(make_zk, "o", "pw")
    owner.create(root, b"", acl=[make_digest_acl("o", "pw", all=True),
                                 make_acl("world", "anyone", read=True,
                                          write=True)])
    with pytest.raises(NoAuthError):
        zk.set_acls(root, OPEN_ACL_UNSAFE)
    owner.set_acls(root, OPEN_ACL_UNSAFE)
    zk.set_acls(root, OPEN_ACL_UNSAFE)


def test_get_acl_masks_digest_without_admin(zk, make_zk, root):
    # ZooKeeper 3.8: getACL needs READ or ADMIN; without ADMIN the digest
    # hashes are replaced by "x" ("user:x").
    owner = digest_client(make_zk, "o", "pw")
    cred = make_digest_acl_credential("o", "pw")
    owner.create(root, b"", acl=[make_digest_acl("o", "pw", all=True),
                                 make_acl("world", "anyone", read=True)])
    acls, _ = zk.get_acls(root)
    assert [(a.perms, a.id.scheme, a.id.id) for a in acls] == [
        (Perm.ALL, "digest", "o:x"), (Perm.READ, "world", "anyone")]
    acls, _ = owner.get_acls(root)
    assert acls[0].id.id == cred
    owner.create(root + "/hidden", b"",
                 acl=[make_digest_acl("o", "pw", all=True)])
    with pytest.raises(NoAuthError):
        zk.get_acls(root + "/hidden")


def test_super_user_bypasses_acls(make_zk, root):
    owner = digest_client(make_zk, "o", "pw")
    owner.create(root, b"s", acl=[make_digest_acl("o", "pw", read=True)])
    su = digest_client(make_zk, SUPER_USER, SUPER_PW)
    assert su.get(root)[0] == b"s"
    su.set(root, b"changed")
    su.set_acls(root, OPEN_ACL_UNSAFE)
    su.create(root + "/c")
    su.delete(root, recursive=True)


def test_super_user_with_wrong_password_is_not_super(make_zk, root):
    owner = digest_client(make_zk, "o", "pw")
    owner.create(root, b"s", acl=[make_digest_acl("o", "pw", all=True)])
    fake = digest_client(make_zk, SUPER_USER, "nope")
    with pytest.raises(NoAuthError):
        fake.get(root)


def test_unknown_auth_scheme_fails_and_closes_session(raw, root):
    c = raw()
    rep = c.auth("nosuchscheme", b"whatever")
    assert rep.err == Err.AUTH_FAILED
    assert rep.xid == -4
    assert c.is_closed_by_server(timeout=5)


def test_kazoo_bad_auth_raises_auth_failed(make_zk):
    c = make_zk()
    with pytest.raises(AuthFailedError):
        c.add_auth("nosuchscheme", "x")


def test_digest_auth_reply_is_xid_minus4(raw):
    c = raw()
    rep = c.auth("digest", b"u:p")
    assert (rep.xid, rep.err) == (-4, 0)


def test_who_am_i(raw):
    c = raw()
    assert c.who_am_i() == [("ip", "127.0.0.1")]
    c.auth("digest", b"carol:pw")
    assert sorted(c.who_am_i()) == [("digest", "carol"), ("ip", "127.0.0.1")]


def test_who_am_i_super(raw):
    c = raw()
    c.auth("digest", ("%s:%s" % (SUPER_USER, SUPER_PW)).encode())
    # The superDigest user gets the extra "super" identity
    assert sorted(c.who_am_i()) == [("digest", SUPER_USER),
                                    ("ip", "127.0.0.1"),
                                    ("super", "")]


@pytest.mark.compare
def test_acl_behaviour_matches_zookeeper(make_zk, root, reference, ref_root):
    from conftest import ClientFactory
    rf = ClientFactory(reference.hosts)
    try:
        def scenario(kind, r):
            f = make_zk if kind == "t" else rf
            a = f(auth_data=[("digest", "a:1")])
            n = f()
            out = [a.create(r, b"", acl=[make_digest_acl("a", "1", all=True),
                                         make_acl("world", "anyone",
                                                  read=True)])]
            out.append(attempt(n.create, r + "/x"))
            out.append(attempt(n.get, r))
            out.append(attempt(n.get_acls, r))
            out.append(a.get_acls(r))
            out.append(a.create(r + "/y", acl=[make_acl("auth", "",
                                                        read=True,
                                                        create=True)]))
            out.append(attempt(a.create, r + "/y/z"))
            out.append(attempt(n.create, r + "/y/z"))
            out.append(attempt(a.set, r + "/y", b"x"))
            out.append(attempt(a.set_acls, r + "/y", OPEN_ACL_UNSAFE))
            out.append(attempt(n.delete, r + "/y/z"))
            out.append(a.get_acls(r + "/y"))
            return out
        got = scenario("t", root)
        want = scenario("r", ref_root)
        from util import normalise
        assert normalise(got, root) == normalise(want, ref_root)
    finally:
        rf.close()
