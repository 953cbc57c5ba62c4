/*
 * test_acl.c — ACL lists, checkACL, fixupACL, digest, error strings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "tree/tree.h"

static struct zacl *acl1(int32_t perms, const char *scheme, const char *id)
{
	struct zacl *a = zacl_new(1, &perms, &scheme, &id);

	assert_non_null(a);
	return a;
}

static struct zacl *acl2(int32_t p0, const char *s0, const char *i0, int32_t p1,
			 const char *s1, const char *i1)
{
	int32_t p[] = {p0, p1};
	const char *s[] = {s0, s1};
	const char *i[] = {i0, i1};
	struct zacl *a = zacl_new(2, p, s, i);

	assert_non_null(a);
	return a;
}

static int check_ip(const char *acl_id, const char *addr, int perm)
{
	struct zacl *a = acl1(ZPERM_ALL, "ip", acl_id);
	struct zauth_id id = {"ip", addr};
	int rc = zacl_check(a, perm, &id, 1);

	zacl_unref(a);
	return rc;
}

static int fixup1(const char *scheme, const char *id,
		  const struct zauth_id *ids, int n, struct zacl **out)
{
	struct zacl *a = acl1(ZPERM_ALL, scheme, id);
	int rc = zacl_fixup(a, ids, n, 0, out);

	zacl_unref(a);
	return rc;
}

/* ---- strings and digests ---- */

static void test_strerror_uses_table(void **state)
{
	assert_string_equal(zk_strerror(ZOK), "ok");
	assert_string_equal(zk_strerror(ZNONODE), "no node");
	assert_string_equal(zk_strerror(ZTHROTTLEDOP), "throttled");
	assert_string_equal(zk_strerror(12345), "unknown error");
	assert_string_equal(zk_strerror(-109), "unknown error");
}

static void test_digest_super_test_matches_zookeeper(void **state)
{
	char out[64];
	int n = zk_digest("super:test", 10, out, sizeof(out));

	assert_int_equal(n, (int)strlen("super:D/InIHSb7yEEbrWz8b9l71RjZJU="));
	assert_string_equal(out, "super:D/InIHSb7yEEbrWz8b9l71RjZJU=");
}

static void test_digest_rejects_small_buffer(void **state)
{
	char out[35];

	/* needs 34 + NUL */
	assert_int_equal(zk_digest("super:test", 10, out, 34), -1);
	assert_int_equal(zk_digest("super:test", 10, out, sizeof(out)), 34);
	assert_int_equal(zk_digest("super:test", 10, NULL, 0), -1);
}

static void test_digest_without_colon_uses_whole_string_as_user(void **state)
{
	char out[64];

	assert_true(zk_digest("bob", 3, out, sizeof(out)) > 0);
	assert_memory_equal(out, "bob:", 4);
	assert_int_equal(strlen(out), 4 + 28);
}

/* ---- lists ---- */

static void test_open_acl_is_world_anyone_all(void **state)
{
	struct zacl *a = zacl_open();

	assert_int_equal(a->refs, 1);
	assert_int_equal(a->n, 1);
	assert_int_equal(a->e[0].perms, ZPERM_ALL);
	assert_string_equal(a->e[0].scheme, "world");
	assert_string_equal(a->e[0].id, "anyone");
	zacl_unref(a);
}

static void test_acl_ref_unref_counts(void **state)
{
	struct zacl *a = zacl_open();

	assert_ptr_equal(zacl_ref(a), a);
	assert_int_equal(a->refs, 2);
	zacl_unref(a);
	assert_int_equal(a->refs, 1);
	zacl_unref(a);
	zacl_unref(NULL);
}

static void test_acl_equal_compares_entries_in_order(void **state)
{
	struct zacl *a = acl2(1, "world", "anyone", 31, "digest", "u:x");
	struct zacl *b = acl2(1, "world", "anyone", 31, "digest", "u:x");
	struct zacl *c = acl2(31, "digest", "u:x", 1, "world", "anyone");
	struct zacl *d = acl2(1, "world", "anyone", 30, "digest", "u:x");

	assert_true(zacl_equal(a, b));
	assert_false(zacl_equal(a, c));
	assert_false(zacl_equal(a, d));
	assert_false(zacl_equal(a, NULL));
	assert_true(zacl_equal(NULL, NULL));
	zacl_unref(a);
	zacl_unref(b);
	zacl_unref(c);
	zacl_unref(d);
}

static void test_acl_new_empty_list(void **state)
{
	struct zacl *a = zacl_new(0, NULL, NULL, NULL);

	assert_non_null(a);
	assert_int_equal(a->n, 0);
	zacl_unref(a);
}

/* ---- check ---- */

static void test_check_null_or_empty_acl_grants_all(void **state)
{
	struct zacl *e = zacl_new(0, NULL, NULL, NULL);

	assert_int_equal(zacl_check(NULL, ZPERM_ADMIN, NULL, 0), ZOK);
	assert_int_equal(zacl_check(e, ZPERM_ADMIN, NULL, 0), ZOK);
	zacl_unref(e);
}

static void test_check_world_anyone_matches_everyone(void **state)
{
	struct zacl *a = acl1(ZPERM_READ, "world", "anyone");

	assert_int_equal(zacl_check(a, ZPERM_READ, NULL, 0), ZOK);
	assert_int_equal(zacl_check(a, ZPERM_WRITE, NULL, 0), ZNOAUTH);
	zacl_unref(a);
}

/* world:anyone entries grant the union of their perms, whatever else
 * the list holds; other perms still go by the other entries */
static void test_check_world_anyone_beside_other_entries(void **state)
{
	struct zacl *a =
	    acl2(ZPERM_WRITE, "digest", "a:1", ZPERM_READ, "world", "anyone");
	struct zacl *b = acl2(ZPERM_READ, "world", "anyone", ZPERM_DELETE,
			      "world", "anyone");
	struct zauth_id id = {"digest", "a:1"};

	assert_int_equal(zacl_check(a, ZPERM_READ, NULL, 0), ZOK);
	assert_int_equal(zacl_check(a, ZPERM_WRITE, NULL, 0), ZNOAUTH);
	assert_int_equal(zacl_check(a, ZPERM_WRITE, &id, 1), ZOK);
	assert_int_equal(zacl_check(b, ZPERM_DELETE, NULL, 0), ZOK);
	assert_int_equal(zacl_check(b, ZPERM_READ, NULL, 0), ZOK);
	assert_int_equal(zacl_check(b, ZPERM_ADMIN, NULL, 0), ZNOAUTH);
	zacl_unref(a);
	zacl_unref(b);
}

static void test_check_world_other_id_does_not_match(void **state)
{
	struct zacl *a = acl1(ZPERM_ALL, "world", "someone");
	struct zauth_id id = {"world", "someone"};

	assert_int_equal(zacl_check(a, ZPERM_READ, NULL, 0), ZNOAUTH);
	/* no "world" provider: not even an identical identity matches */
	assert_int_equal(zacl_check(a, ZPERM_READ, &id, 1), ZNOAUTH);
	zacl_unref(a);
}

static void test_check_super_passes_everything(void **state)
{
	struct zacl *a = acl1(ZPERM_READ, "digest", "bob:x");
	struct zauth_id ids[] = {{"ip", "1.2.3.4"}, {"super", ""}};

	assert_int_equal(zacl_check(a, ZPERM_ADMIN, ids, 2), ZOK);
	assert_int_equal(zacl_check(a, ZPERM_ADMIN, ids, 1), ZNOAUTH);
	zacl_unref(a);
}

static void test_check_digest_exact_match(void **state)
{
	struct zacl *a = acl1(ZPERM_READ | ZPERM_WRITE, "digest", "bob:abc=");
	struct zauth_id ok = {"digest", "bob:abc="};
	struct zauth_id bad = {"digest", "bob:abd="};
	struct zauth_id wrong_scheme = {"ip", "bob:abc="};

	assert_int_equal(zacl_check(a, ZPERM_WRITE, &ok, 1), ZOK);
	assert_int_equal(zacl_check(a, ZPERM_DELETE, &ok, 1), ZNOAUTH);
	assert_int_equal(zacl_check(a, ZPERM_READ, &bad, 1), ZNOAUTH);
	assert_int_equal(zacl_check(a, ZPERM_READ, &wrong_scheme, 1), ZNOAUTH);
	zacl_unref(a);
}

static void test_check_any_entry_any_identity(void **state)
{
	struct zacl *a =
	    acl2(ZPERM_READ, "digest", "a:1", ZPERM_WRITE, "digest", "b:2");
	struct zauth_id ids[] = {{"digest", "a:1"}, {"digest", "b:2"}};

	assert_int_equal(zacl_check(a, ZPERM_WRITE, ids, 2), ZOK);
	assert_int_equal(zacl_check(a, ZPERM_WRITE, ids, 1), ZNOAUTH);
	zacl_unref(a);
}

static void test_check_ip_exact_v4(void **state)
{
	assert_int_equal(check_ip("10.1.2.3", "10.1.2.3", ZPERM_READ), ZOK);
	assert_int_equal(check_ip("10.1.2.3", "10.1.2.4", ZPERM_READ), ZNOAUTH);
}

static void test_check_ip_prefix_v4(void **state)
{
	assert_int_equal(check_ip("10.1.0.0/16", "10.1.200.3", ZPERM_READ),
			 ZOK);
	assert_int_equal(check_ip("10.1.0.0/16", "10.2.0.1", ZPERM_READ),
			 ZNOAUTH);
	assert_int_equal(check_ip("10.1.2.128/25", "10.1.2.200", ZPERM_READ),
			 ZOK);
	assert_int_equal(check_ip("10.1.2.128/25", "10.1.2.100", ZPERM_READ),
			 ZNOAUTH);
	assert_int_equal(check_ip("0.0.0.0/0", "192.168.1.1", ZPERM_READ), ZOK);
	/* host bits in the ACL address are masked too */
	assert_int_equal(check_ip("10.1.2.3/8", "10.9.9.9", ZPERM_READ), ZOK);
}

static void test_check_ip_bad_expression_never_matches(void **state)
{
	assert_int_equal(check_ip("10.1.2.3/33", "10.1.2.3", ZPERM_READ),
			 ZNOAUTH);
	assert_int_equal(check_ip("10.1.2", "10.1.2", ZPERM_READ), ZNOAUTH);
	assert_int_equal(check_ip("host", "host", ZPERM_READ), ZNOAUTH);
}

/* ZooKeeper 3.8's ip provider knows IPv4 only: an IPv6 client matches
 * nothing, not even an IPv6 expression (which fixup refuses anyway) */
static void test_check_ip_v6_never_matches(void **state)
{
	assert_int_equal(check_ip("::1", "0:0:0:0:0:0:0:1", ZPERM_READ),
			 ZNOAUTH);
	assert_int_equal(check_ip("fe80::/10", "fe80::1234:5678", ZPERM_READ),
			 ZNOAUTH);
}

static void test_check_ip_family_mismatch_fails(void **state)
{
	assert_int_equal(check_ip("::/0", "1.2.3.4", ZPERM_READ), ZNOAUTH);
	assert_int_equal(check_ip("0.0.0.0/0", "::1", ZPERM_READ), ZNOAUTH);
}

static void test_check_perm_zero_is_denied(void **state)
{
	struct zacl *a = acl1(ZPERM_ALL, "world", "anyone");

	assert_int_equal(zacl_check(a, 0, NULL, 0), ZNOAUTH);
	zacl_unref(a);
}

/* ---- fixup ---- */

static void test_fixup_empty_or_null_is_invalid(void **state)
{
	struct zacl *e = zacl_new(0, NULL, NULL, NULL), *out;

	assert_int_equal(zacl_fixup(e, NULL, 0, 0, &out), ZINVALIDACL);
	assert_null(out);
	assert_int_equal(zacl_fixup(NULL, NULL, 0, 0, &out), ZINVALIDACL);
	zacl_unref(e);
}

static void test_fixup_world_anyone_passes(void **state)
{
	struct zacl *out;

	assert_int_equal(fixup1("world", "anyone", NULL, 0, &out), ZOK);
	assert_int_equal(out->n, 1);
	assert_int_equal(out->refs, 1);
	assert_string_equal(out->e[0].id, "anyone");
	zacl_unref(out);
}

static void test_fixup_world_must_be_anyone(void **state)
{
	struct zacl *out;

	assert_int_equal(fixup1("world", "bob", NULL, 0, &out), ZINVALIDACL);
}

static void test_fixup_auth_expands_to_authenticated_ids(void **state)
{
	struct zauth_id ids[] = {{"ip", "127.0.0.1"},
				 {"digest", "bob:hash"},
				 {"super", ""},
				 {"digest", "amy:hash2"}};
	struct zacl *a = acl1(ZPERM_READ | ZPERM_ADMIN, "auth", ""), *out;

	assert_int_equal(zacl_fixup(a, ids, 4, 0, &out), ZOK);
	assert_int_equal(out->n, 2);
	assert_string_equal(out->e[0].scheme, "digest");
	assert_string_equal(out->e[0].id, "bob:hash");
	assert_int_equal(out->e[0].perms, ZPERM_READ | ZPERM_ADMIN);
	assert_string_equal(out->e[1].id, "amy:hash2");
	zacl_unref(a);
	zacl_unref(out);
}

/* "x509" has a provider only with authProvider.x509; its ids are
 * compared exactly, and "auth" expands to an x509 identity */
static void test_fixup_x509_needs_its_provider(void **state)
{
	struct zacl *a = acl1(ZPERM_READ, "x509", "CN=client1,O=paddock");
	struct zacl *au = acl1(ZPERM_ALL, "auth", "");
	struct zauth_id ids[] = {{"x509", "CN=client1,O=paddock"}};
	struct zacl *out;

	assert_int_equal(zacl_fixup(a, NULL, 0, 0, &out), ZINVALIDACL);
	assert_int_equal(zacl_fixup(a, NULL, 0, ZACL_X509, &out), ZOK);
	assert_string_equal(out->e[0].id, "CN=client1,O=paddock");
	assert_int_equal(zacl_check(out, ZPERM_READ, ids, 1), ZOK);
	ids[0].id = "CN=client2,O=paddock";
	assert_int_equal(zacl_check(out, ZPERM_READ, ids, 1), ZNOAUTH);
	zacl_unref(out);
	assert_int_equal(zacl_fixup(au, ids, 1, ZACL_X509, &out), ZOK);
	assert_string_equal(out->e[0].scheme, "x509");
	zacl_unref(out);
	zacl_unref(a);
	zacl_unref(au);
}

static void test_fixup_auth_without_authenticated_id_is_invalid(void **state)
{
	struct zauth_id ids[] = {{"ip", "127.0.0.1"}, {"super", ""}};
	struct zacl *out;

	assert_int_equal(fixup1("auth", "", ids, 2, &out), ZINVALIDACL);
	assert_int_equal(fixup1("auth", "", NULL, 0, &out), ZINVALIDACL);
}

static void test_fixup_digest_needs_user_colon_hash(void **state)
{
	struct zacl *out;

	assert_int_equal(fixup1("digest", "bob:x", NULL, 0, &out), ZOK);
	zacl_unref(out);
	assert_int_equal(fixup1("digest", ":x", NULL, 0, &out), ZOK);
	zacl_unref(out);
	/* Java's split drops trailing empty strings */
	assert_int_equal(fixup1("digest", "bob:x:", NULL, 0, &out), ZOK);
	zacl_unref(out);
	assert_int_equal(fixup1("digest", "bob", NULL, 0, &out), ZINVALIDACL);
	assert_int_equal(fixup1("digest", "bob:", NULL, 0, &out), ZINVALIDACL);
	assert_int_equal(fixup1("digest", "a:b:c", NULL, 0, &out), ZINVALIDACL);
	assert_int_equal(fixup1("digest", "", NULL, 0, &out), ZINVALIDACL);
}

static void test_fixup_ip_must_parse(void **state)
{
	static const char *const good[] = {"1.2.3.4", "10.0.0.0/8",
					   "0.0.0.0/0"};
	static const char *const bad[] = {
	    "1.2.3",	 "1.2.3.256", "1.2.3.4/33", "1.2.3.4/", "host",
	    "1::2::3",	 "::1",	      "fe80::/10",  "1:2:3:4:5:6:7:8",
	    "1.2.3.4.5", "12345::"};
	struct zacl *out;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(fixup1("ip", good[i], NULL, 0, &out), ZOK);
		zacl_unref(out);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(fixup1("ip", bad[i], NULL, 0, &out),
				 ZINVALIDACL);
}

static void test_fixup_unknown_scheme_is_invalid(void **state)
{
	struct zacl *out;

	assert_int_equal(fixup1("kerberos", "x", NULL, 0, &out), ZINVALIDACL);
	assert_int_equal(fixup1("super", "", NULL, 0, &out), ZINVALIDACL);
	assert_int_equal(fixup1("", "", NULL, 0, &out), ZINVALIDACL);
}

static void test_fixup_removes_duplicates_keeping_order(void **state)
{
	int32_t p[] = {31, 1, 31, 1, 3};
	const char *s[] = {"world", "digest", "world", "digest", "world"};
	const char *i[] = {"anyone", "a:b", "anyone", "a:b", "anyone"};
	struct zacl *a = zacl_new(5, p, s, i), *out;

	assert_int_equal(zacl_fixup(a, NULL, 0, 0, &out), ZOK);
	assert_int_equal(out->n, 3);
	assert_int_equal(out->e[0].perms, 31);
	assert_string_equal(out->e[1].scheme, "digest");
	assert_int_equal(out->e[2].perms, 3); /* different perms: kept */
	zacl_unref(a);
	zacl_unref(out);
}

static void test_fixup_one_bad_entry_rejects_all(void **state)
{
	struct zacl *a = acl2(31, "world", "anyone", 31, "ip", "nope"), *out;

	assert_int_equal(zacl_fixup(a, NULL, 0, 0, &out), ZINVALIDACL);
	assert_null(out);
	zacl_unref(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_strerror_uses_table),
	    cmocka_unit_test(test_digest_super_test_matches_zookeeper),
	    cmocka_unit_test(test_digest_rejects_small_buffer),
	    cmocka_unit_test(
		test_digest_without_colon_uses_whole_string_as_user),
	    cmocka_unit_test(test_open_acl_is_world_anyone_all),
	    cmocka_unit_test(test_acl_ref_unref_counts),
	    cmocka_unit_test(test_acl_equal_compares_entries_in_order),
	    cmocka_unit_test(test_acl_new_empty_list),
	    cmocka_unit_test(test_check_null_or_empty_acl_grants_all),
	    cmocka_unit_test(test_check_world_anyone_matches_everyone),
	    cmocka_unit_test(test_check_world_anyone_beside_other_entries),
	    cmocka_unit_test(test_check_world_other_id_does_not_match),
	    cmocka_unit_test(test_check_super_passes_everything),
	    cmocka_unit_test(test_check_digest_exact_match),
	    cmocka_unit_test(test_check_any_entry_any_identity),
	    cmocka_unit_test(test_check_ip_exact_v4),
	    cmocka_unit_test(test_check_ip_prefix_v4),
	    cmocka_unit_test(test_check_ip_bad_expression_never_matches),
	    cmocka_unit_test(test_check_ip_v6_never_matches),
	    cmocka_unit_test(test_check_ip_family_mismatch_fails),
	    cmocka_unit_test(test_check_perm_zero_is_denied),
	    cmocka_unit_test(test_fixup_empty_or_null_is_invalid),
	    cmocka_unit_test(test_fixup_world_anyone_passes),
	    cmocka_unit_test(test_fixup_world_must_be_anyone),
	    cmocka_unit_test(test_fixup_auth_expands_to_authenticated_ids),
	    cmocka_unit_test(test_fixup_x509_needs_its_provider),
	    cmocka_unit_test(
		test_fixup_auth_without_authenticated_id_is_invalid),
	    cmocka_unit_test(test_fixup_digest_needs_user_colon_hash),
	    cmocka_unit_test(test_fixup_ip_must_parse),
	    cmocka_unit_test(test_fixup_unknown_scheme_is_invalid),
	    cmocka_unit_test(test_fixup_removes_duplicates_keeping_order),
	    cmocka_unit_test(test_fixup_one_bad_entry_rejects_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
