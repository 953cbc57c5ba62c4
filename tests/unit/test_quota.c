/*
 * test_quota.c — quota bookkeeping in the tree (tree/quota.c), against
 * what ZooKeeper 3.8's DataTree does with /zookeeper/quota<P> nodes: the
 * usage in zookeeper_stats, the longest quota path only, the subtree of
 * quota paths a deleted limit drops, recovery's recount, hard limits, and
 * mntr's per-namespace gauges.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <urcu-qsbr.h>

#include "tree/tree.h"

#define S(p) (p), strlen(p)

static zxid_t next_zxid = 100;

static int mk(struct tree *t, const char *p, const char *data)
{
	struct zacl *a = zacl_open();
	zxid_t z = next_zxid++;
	int rc = tree_node_create(t, S(p), data,
				  data ? (int32_t)strlen(data) : -1, a, 0, z,
				  1000 + z, NULL);

	zacl_unref(a);
	return rc;
}

static int set(struct tree *t, const char *p, const char *data)
{
	zxid_t z = next_zxid++;

	return tree_node_set_data(t, S(p), data, (int32_t)strlen(data), z, z,
				  NULL);
}

static int del(struct tree *t, const char *p)
{
	return tree_node_delete(t, S(p), next_zxid++);
}

/* The data of p as a string (static buffer). */
static const char *data(struct tree *t, const char *p)
{
	static char buf[256];
	const struct znode *n = tree_lookup(t, S(p));
	struct zview v;

	assert_non_null(n);
	znode_view(n, &v);
	assert_true((size_t)v.stat.data_length < sizeof(buf));
	memcpy(buf, v.data, (size_t)v.stat.data_length);
	buf[v.stat.data_length] = 0;
	return buf;
}

static struct zstat stat_of(struct tree *t, const char *p)
{
	struct zview v;

	znode_view(tree_lookup(t, S(p)), &v);
	return v.stat;
}

/* zkCli setquota's nodes for p: limits first, then stats. */
static void setquota(struct tree *t, const char *p, const char *limits)
{
	char q[256];

	snprintf(q, sizeof(q), "/zookeeper/quota%s", p);
	for (char *s = q + strlen("/zookeeper/quota") + 1; (s = strchr(s, '/'));
	     s++) {
		*s = 0;
		mk(t, q, NULL);
		*s = '/';
	}
	mk(t, q, NULL);
	snprintf(q, sizeof(q), "/zookeeper/quota%s/zookeeper_limits", p);
	assert_int_equal(mk(t, q, limits), ZOK);
	snprintf(q, sizeof(q), "/zookeeper/quota%s/zookeeper_stats", p);
	assert_int_equal(mk(t, q, "count=0,bytes=0"), ZOK);
}

static int setup(void **state)
{
	struct tree *t = tree_create();

	assert_non_null(t);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	tree_destroy(*state);
	rcu_quiescent_state();
	return 0;
}

#define STATS(p) data(t, "/zookeeper/quota" p "/zookeeper_stats")

static void test_stats_node_counts_the_subtree_when_created(void **state)
{
	struct tree *t = *state;

	mk(t, "/a", "xy");
	mk(t, "/a/b", "123");
	mk(t, "/a/b/c", NULL);
	mk(t, "/ab", "not under /a");
	setquota(t, "/a", "count=10,bytes=-1");
	assert_string_equal(STATS("/a"), "count=3,bytes=5");
}

static void test_writes_under_a_quota_update_its_usage_in_place(void **state)
{
	struct tree *t = *state;

	mk(t, "/a", NULL);
	setquota(t, "/a", "count=-1,bytes=100");
	struct zstat before = stat_of(t, "/zookeeper/quota/a/zookeeper_stats");
	mk(t, "/a/x", "hello");
	assert_string_equal(STATS("/a"), "count=2,bytes=5");
	set(t, "/a/x", "hi");
	assert_string_equal(STATS("/a"), "count=2,bytes=2");
	set(t, "/a", "1234567890");
	assert_string_equal(STATS("/a"), "count=2,bytes=12");
	del(t, "/a/x");
	assert_string_equal(STATS("/a"), "count=1,bytes=10");
	mk(t, "/abc", "elsewhere");
	assert_string_equal(STATS("/a"), "count=1,bytes=10");
	/* no new mzxid or version: only the data (and its length) */
	struct zstat after = stat_of(t, "/zookeeper/quota/a/zookeeper_stats");
	assert_int_equal(after.mzxid, before.mzxid);
	assert_int_equal(after.version, before.version);
	assert_int_equal(after.data_length, strlen("count=1,bytes=10"));
}

static void test_only_the_longest_quota_path_counts(void **state)
{
	struct tree *t = *state;

	mk(t, "/a", NULL);
	mk(t, "/a/b", NULL);
	setquota(t, "/a", "count=-1,bytes=-1");
	setquota(t, "/a/b", "count=-1,bytes=-1");
	assert_string_equal(STATS("/a"), "count=2,bytes=0");
	assert_string_equal(STATS("/a/b"), "count=1,bytes=0");
	mk(t, "/a/b/c", "12");
	mk(t, "/a/d", "3");
	assert_string_equal(STATS("/a"), "count=3,bytes=1");
	assert_string_equal(STATS("/a/b"), "count=2,bytes=2");
}

static void test_deleting_a_limit_forgets_that_quota_only(void **state)
{
	struct tree *t = *state;

	mk(t, "/a", NULL);
	mk(t, "/a/b", NULL);
	setquota(t, "/a", "count=-1,bytes=-1");
	setquota(t, "/a/b", "count=-1,bytes=-1");
	assert_int_equal(del(t, "/zookeeper/quota/a/zookeeper_limits"), ZOK);
	mk(t, "/a/b/c", "12");
	mk(t, "/a/d", "3");
	assert_string_equal(STATS("/a"), "count=2,bytes=0");
	assert_string_equal(STATS("/a/b"), "count=2,bytes=2");
	/* recovery finds /a/b's limit only */
	set(t, "/zookeeper/quota/a/b/zookeeper_stats", "count=0,bytes=0");
	tree_quota_setup(t);
	assert_string_equal(STATS("/a/b"), "count=2,bytes=2");
	assert_string_equal(STATS("/a"), "count=2,bytes=0");
	mk(t, "/a/b/e", NULL);
	assert_string_equal(STATS("/a/b"), "count=3,bytes=2");
	mk(t, "/a/f", NULL);
	assert_string_equal(STATS("/a"), "count=2,bytes=0");
}

static void test_setup_recounts_every_quota(void **state)
{
	struct tree *t = *state;

	mk(t, "/a", NULL);
	setquota(t, "/a", "count=-1,bytes=-1");
	mk(t, "/a/x", "abc");
	/* a client may write the stats node; recovery counts afresh */
	set(t, "/zookeeper/quota/a/zookeeper_stats", "count=77,bytes=77");
	tree_quota_setup(t);
	assert_string_equal(STATS("/a"), "count=2,bytes=3");
}

static void test_stats_keep_other_keys_in_zookeepers_format(void **state)
{
	struct tree *t = *state;

	mk(t, "/a", NULL);
	setquota(t, "/a", "count=-1,bytes=-1");
	set(t, "/zookeeper/quota/a/zookeeper_stats",
	    "count=1,bytes=0=;zeta=4;alpha=");
	mk(t, "/a/x", "ab");
	/* StatsTrack.toString: count, bytes, '=', the rest sorted; an
	 * empty value reads as -1 */
	assert_string_equal(STATS("/a"),
			    "count=2,bytes=2=;alpha=-1;zeta=4");
}

static void test_hard_limits_refuse_soft_limits_do_not(void **state)
{
	struct tree *t = *state;

	mk(t, "/a", NULL);
	setquota(t, "/a", "count=1,bytes=1=;byteHardLimit=10;countHardLimit=3");
	mk(t, "/a/x", "12345");
	/* usage count=2 bytes=5: soft limits are past, hard ones not */
	assert_int_equal(tree_quota_check(t, S("/a/y"), 1, 5), ZOK);
	assert_int_equal(tree_quota_check(t, S("/a/y"), 1, 6), ZQUOTAEXCEEDED);
	mk(t, "/a/y", NULL);
	assert_int_equal(tree_quota_check(t, S("/a/z"), 1, 0), ZQUOTAEXCEEDED);
	assert_int_equal(tree_quota_check(t, S("/a/x"), 0, 5), ZOK);
	assert_int_equal(tree_quota_check(t, S("/a/x"), 0, 6), ZQUOTAEXCEEDED);
	/* shrinking always passes; outside the quota nothing is checked */
	assert_int_equal(tree_quota_check(t, S("/a/x"), 0, -5), ZOK);
	assert_int_equal(tree_quota_check(t, S("/b"), 1, 1000), ZOK);
	/* the refusals are counted for mntr */
	struct tree_quota_ns ns[TREE_QUOTA_NS_MAX];
	assert_int_equal(tree_quota_metrics(t, ns), 1);
	assert_int_equal(ns[0].exceeded, 3);
}

static void test_mntr_gauges_sum_per_namespace(void **state)
{
	struct tree *t = *state;
	struct tree_quota_ns ns[TREE_QUOTA_NS_MAX];

	mk(t, "/a", NULL);
	mk(t, "/a/b", "xyz");
	mk(t, "/c", NULL);
	setquota(t, "/a", "count=10,bytes=-1");
	setquota(t, "/a/b", "count=-1,bytes=-1=;byteHardLimit=50");
	setquota(t, "/c", "count=4,bytes=8");
	int n = tree_quota_metrics(t, ns);
	assert_int_equal(n, 2);
	int a = strcmp(ns[0].ns, "a") ? 1 : 0;
	assert_string_equal(ns[a].ns, "a");
	assert_int_equal(ns[a].count_limit, 10 - 1);
	assert_int_equal(ns[a].bytes_limit, -1 + 50);
	assert_int_equal(ns[a].count_usage, 2 + 1);
	assert_int_equal(ns[a].bytes_usage, 3 + 3);
	assert_string_equal(ns[1 - a].ns, "c");
	assert_int_equal(ns[1 - a].count_limit, 4);
	assert_int_equal(ns[1 - a].bytes_usage, 0);
	assert_true(ns[1 - a].has_limit && ns[1 - a].has_usage);
}

static void test_no_quota_no_change(void **state)
{
	struct tree *t = *state;
	uint64_t bytes;

	mk(t, "/a", "x");
	bytes = tree_data_bytes(t);
	set(t, "/a", "y");
	assert_int_equal(tree_data_bytes(t), bytes);
	assert_int_equal(tree_quota_check(t, S("/a"), 1, 1), ZOK);
	struct tree_quota_ns ns[TREE_QUOTA_NS_MAX];
	assert_int_equal(tree_quota_metrics(t, ns), 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_stats_node_counts_the_subtree_when_created),
	    T(test_writes_under_a_quota_update_its_usage_in_place),
	    T(test_only_the_longest_quota_path_counts),
	    T(test_deleting_a_limit_forgets_that_quota_only),
	    T(test_setup_recounts_every_quota),
	    T(test_stats_keep_other_keys_in_zookeepers_format),
	    T(test_hard_limits_refuse_soft_limits_do_not),
	    T(test_mntr_gauges_sum_per_namespace),
	    T(test_no_quota_no_change),
	};
	int rc;

	rcu_register_thread();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rcu_unregister_thread();
	return rc;
#undef T
}
