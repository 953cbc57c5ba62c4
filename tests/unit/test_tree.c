/*
 * test_tree.c — znode tree: stat rules (ZooKeeper 3.8 DataTree), owner
 * lists, subtree walks, the seqcount, and concurrent RCU readers.
 *
 * The main thread is the writer and is a registered QSBR thread; it
 * reports quiescent states so call_rcu callbacks run during the tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include <cmocka.h>
#include <urcu-qsbr.h>
#include <zlib.h>

#include "tree/tree.h"
#include "tests/unit/zstat_int.h"

#define S(p) (p), strlen(p)

static const struct znode *L(struct tree *t, const char *p)
{
	return tree_lookup(t, S(p));
}

/* Is n's path (not NUL-terminated) exactly p? */
static bool path_is(const struct znode *n, const char *p)
{
	return n && znode_path_len(n) == strlen(p) &&
	       !memcmp(znode_path(n), p, strlen(p));
}

static struct zstat st(struct tree *t, const char *p)
{
	const struct znode *n = L(t, p);
	struct zview v;

	assert_non_null(n);
	znode_view(n, &v);
	return v.stat;
}

static int mk(struct tree *t, const char *p, const char *data, zxid_t zxid)
{
	struct zacl *a = zacl_open();
	int rc =
	    tree_node_create(t, S(p), data, data ? (int32_t)strlen(data) : 0, a,
			     0, zxid, 1000 + zxid, NULL);

	zacl_unref(a);
	return rc;
}

static int mk_owned(struct tree *t, const char *p, int64_t owner, zxid_t zxid)
{
	struct zacl *a = zacl_open();
	int rc = tree_node_create(t, S(p), NULL, 0, a, owner, zxid, 0, NULL);

	zacl_unref(a);
	return rc;
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

/* ---- initial tree ---- */

struct names {
	int n;
	char buf[8][32];
};

static int collect(const char *name, size_t len, void *arg)
{
	struct names *c = arg;

	if (c->n < 8 && len < 32) {
		memcpy(c->buf[c->n], name, len);
		c->buf[c->n][len] = '\0';
	}
	c->n++;
	return 0;
}

static bool has_name(const struct names *c, const char *s)
{
	int i;

	for (i = 0; i < c->n && i < 8; i++)
		if (strcmp(c->buf[i], s) == 0)
			return true;
	return false;
}

static void test_initial_tree_has_zookeeper_nodes(void **state)
{
	struct tree *t = *state;
	struct names c = {0};

	assert_int_equal(tree_node_count(t), 4);
	/* "/" + "/zookeeper" + "/zookeeper/quota" + "/zookeeper/config" */
	assert_int_equal(tree_data_bytes(t), 1 + 10 + 16 + 17);
	assert_int_equal(st(t, "/").num_children, 1);
	assert_int_equal(st(t, "/zookeeper").num_children, 2);
	assert_int_equal(st(t, "/zookeeper/quota").num_children, 0);
	znode_children(L(t, "/zookeeper"), collect, &c);
	assert_int_equal(c.n, 2);
	assert_true(has_name(&c, "quota"));
	assert_true(has_name(&c, "config"));
	assert_true(path_is(L(t, "/zookeeper/config"), "/zookeeper/config"));
	assert_int_equal(znode_path_len(L(t, "/zookeeper/config")), 17);
	assert_int_equal(tree_applied_zxid(t), 0);
}

static void test_initial_stats_are_zero_except_zookeeper_offsets(void **state)
{
	struct tree *t = *state;
	const char *paths[] = {"/", "/zookeeper", "/zookeeper/quota",
			       "/zookeeper/config"};
	size_t i;

	for (i = 0; i < 4; i++) {
		struct zstat s = st(t, paths[i]);

		assert_int_equal(s.czxid, 0);
		assert_int_equal(s.mzxid, 0);
		assert_int_equal(s.pzxid, 0);
		assert_int_equal(s.ctime, 0);
		assert_int_equal(s.mtime, 0);
		assert_int_equal(s.version, 0);
		assert_int_equal(s.ephemeral_owner, 0);
		assert_int_equal(s.data_length, 0);
	}
	/* ZooKeeper reports cversion*2 - numChildren with cversion 0 */
	assert_int_equal(st(t, "/").cversion, -1);
	assert_int_equal(st(t, "/zookeeper").cversion, -2);
	assert_int_equal(st(t, "/zookeeper/quota").cversion, 0);
	/* addConfigNode: setACL(config, READ_ACL_UNSAFE, -1) */
	assert_int_equal(st(t, "/zookeeper/config").aversion, -1);
	assert_int_equal(st(t, "/zookeeper").aversion, 0);
}

static void test_config_node_acl_is_world_read(void **state)
{
	struct tree *t = *state;
	struct zview v;

	znode_view(L(t, "/zookeeper/config"), &v);
	assert_int_equal(v.acl->n, 1);
	assert_int_equal(v.acl->e[0].perms, ZPERM_READ);
	assert_string_equal(v.acl->e[0].scheme, "world");
	assert_string_equal(v.acl->e[0].id, "anyone");
	znode_view(L(t, "/zookeeper/quota"), &v);
	assert_int_equal(v.acl->e[0].perms, ZPERM_ALL);
	znode_view(L(t, "/"), &v);
	assert_int_equal(v.acl->e[0].perms, ZPERM_ALL);
}

/* ---- create ---- */

static void test_create_sets_new_node_stat(void **state)
{
	struct tree *t = *state;
	struct zacl *a = zacl_open();
	struct zstat out;
	struct zview v;

	assert_int_equal(
	    tree_node_create(t, S("/a"), "hello", 5, a, 0, 0x100, 777, &out),
	    ZOK);
	assert_int_equal(out.czxid, 0x100);
	assert_int_equal(out.mzxid, 0x100);
	assert_int_equal(out.pzxid, 0x100);
	assert_int_equal(out.ctime, 777);
	assert_int_equal(out.mtime, 777);
	assert_int_equal(out.version, 0);
	assert_int_equal(out.cversion, 0);
	assert_int_equal(out.aversion, 0);
	assert_int_equal(out.ephemeral_owner, 0);
	assert_int_equal(out.data_length, 5);
	assert_int_equal(out.num_children, 0);
	znode_view(L(t, "/a"), &v);
	assert_stat_equal(&v.stat, &out);
	assert_memory_equal(v.data, "hello", 5);
	assert_ptr_equal(v.acl, a);
	assert_int_equal(a->refs, 2); /* ours + the version's */
	zacl_unref(a);
}

static void test_create_empty_data_views_null(void **state)
{
	struct tree *t = *state;
	struct zview v;

	assert_int_equal(mk(t, "/e", NULL, 5), ZOK);
	znode_view(L(t, "/e"), &v);
	assert_null(v.data);
	assert_int_equal(v.stat.data_length, 0);
}

static void test_create_increments_parent_cversion(void **state)
{
	struct tree *t = *state;
	struct zstat p;

	assert_int_equal(mk(t, "/a", NULL, 10), ZOK);
	p = st(t, "/");
	assert_int_equal(p.cversion, 0); /* from -1 */
	assert_int_equal(p.pzxid, 10);
	assert_int_equal(p.num_children, 2);
	assert_int_equal(p.mzxid, 0); /* data untouched */
	assert_int_equal(p.version, 0);
	assert_int_equal(mk(t, "/a/b", NULL, 11), ZOK);
	assert_int_equal(mk(t, "/a/c", NULL, 12), ZOK);
	p = st(t, "/a");
	assert_int_equal(p.cversion, 2);
	assert_int_equal(p.pzxid, 12);
	assert_int_equal(p.num_children, 2);
	assert_int_equal(p.czxid, 10);
	assert_int_equal(p.mzxid, 10);
	/* grandparent not touched */
	assert_int_equal(st(t, "/").pzxid, 10);
}

static void test_create_missing_parent_is_nonode(void **state)
{
	struct tree *t = *state;

	assert_int_equal(mk(t, "/x/y", NULL, 1), ZNONODE);
	assert_null(L(t, "/x/y"));
	assert_int_equal(tree_node_count(t), 4);
}

static void test_create_existing_is_nodeexists_without_change(void **state)
{
	struct tree *t = *state;
	struct zstat before, after;

	assert_int_equal(mk(t, "/a", "1", 1), ZOK);
	before = st(t, "/");
	assert_int_equal(mk(t, "/a", "2", 2), ZNODEEXISTS);
	after = st(t, "/");
	assert_stat_equal(&before, &after);
	assert_int_equal(st(t, "/a").czxid, 1);
	assert_int_equal(mk(t, "/", NULL, 3), ZNODEEXISTS);
}

static void test_create_under_ephemeral_is_rejected(void **state)
{
	struct tree *t = *state;

	assert_int_equal(mk_owned(t, "/eph", 0x1234, 1), ZOK);
	assert_int_equal(mk(t, "/eph/c", NULL, 2), ZNOCHILDRENFOREPHEMERALS);
	assert_int_equal(st(t, "/eph").cversion, 0);
}

static void test_create_under_container_and_ttl_is_allowed(void **state)
{
	struct tree *t = *state;

	assert_int_equal(mk_owned(t, "/c", ZK_CONTAINER_OWNER, 1), ZOK);
	assert_int_equal(mk(t, "/c/x", NULL, 2), ZOK);
	assert_int_equal(mk_owned(t, "/t", zk_ttl_owner(5000), 3), ZOK);
	assert_int_equal(mk(t, "/t/x", NULL, 4), ZOK);
	assert_int_equal(st(t, "/t").ephemeral_owner, zk_ttl_owner(5000));
}

static void test_create_rejects_malformed_arguments(void **state)
{
	struct tree *t = *state;

	assert_int_equal(mk(t, "a", NULL, 1), ZBADARGUMENTS);
	assert_int_equal(mk(t, "/a/", NULL, 1), ZBADARGUMENTS);
	assert_int_equal(
	    tree_node_create(t, S("/d"), NULL, 3, NULL, 0, 1, 0, NULL),
	    ZBADARGUMENTS);
}

static void test_create_with_null_acl_is_allowed(void **state)
{
	struct tree *t = *state;
	struct zview v;

	assert_int_equal(
	    tree_node_create(t, S("/n"), "x", 1, NULL, 0, 1, 0, NULL), ZOK);
	znode_view(L(t, "/n"), &v);
	assert_null(v.acl);
	assert_int_equal(zacl_check(v.acl, ZPERM_ADMIN, NULL, 0), ZOK);
}

/* ---- delete ---- */

static void test_delete_increments_parent_cversion_and_pzxid(void **state)
{
	struct tree *t = *state;
	struct zstat p;

	assert_int_equal(mk(t, "/a", NULL, 1), ZOK);
	assert_int_equal(mk(t, "/a/b", NULL, 2), ZOK);
	assert_int_equal(mk(t, "/a/c", NULL, 3), ZOK);
	assert_int_equal(tree_node_delete(t, S("/a/b"), 4), ZOK);
	p = st(t, "/a");
	assert_int_equal(p.cversion, 3);
	assert_int_equal(p.pzxid, 4);
	assert_int_equal(p.num_children, 1);
	assert_int_equal(p.mzxid, 1);
	assert_null(L(t, "/a/b"));
	assert_non_null(L(t, "/a/c"));
}

static void test_cversion_counts_creates_and_deletes_like_zookeeper(void **st8)
{
	struct tree *t = *st8;
	struct zstat p;
	char path[32];
	int i;

	/* ZooKeeper: stored cversion = creates; reported = 2*creates - n */
	assert_int_equal(mk(t, "/p", NULL, 1), ZOK);
	for (i = 0; i < 5; i++) {
		snprintf(path, sizeof(path), "/p/c%d", i);
		assert_int_equal(mk(t, path, NULL, 2 + i), ZOK);
	}
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/p/c%d", i);
		assert_int_equal(tree_node_delete(t, S(path), 10 + i), ZOK);
	}
	p = st(t, "/p");
	assert_int_equal(p.cversion, 2 * 5 - 3);
	assert_int_equal(p.num_children, 3);
	/* sequential suffix as ZooKeeper computes it */
	assert_int_equal((p.cversion + p.num_children) / 2, 5);
	/* and for "/": 2 creates ("/p" + none), 2 children */
	p = st(t, "/");
	assert_int_equal(p.cversion, 2 * 1 - 2 + 0 + 0 + 0);
	assert_int_equal((p.cversion + p.num_children) / 2, 1);
}

static void test_delete_nonempty_is_notempty(void **state)
{
	struct tree *t = *state;

	assert_int_equal(mk(t, "/a", NULL, 1), ZOK);
	assert_int_equal(mk(t, "/a/b", NULL, 2), ZOK);
	assert_int_equal(tree_node_delete(t, S("/a"), 3), ZNOTEMPTY);
	assert_int_equal(st(t, "/").pzxid, 1);
	assert_int_equal(tree_node_delete(t, S("/zookeeper"), 3), ZNOTEMPTY);
}

static void test_delete_missing_is_nonode(void **state)
{
	struct tree *t = *state;

	assert_int_equal(tree_node_delete(t, S("/nope"), 1), ZNONODE);
	assert_int_equal(tree_node_delete(t, S("/a/b"), 1), ZNONODE);
}

static void test_delete_root_is_rejected(void **state)
{
	struct tree *t = *state;

	assert_int_not_equal(tree_node_delete(t, S("/"), 1), ZOK);
	assert_non_null(L(t, "/"));
}

static void test_delete_then_recreate(void **state)
{
	struct tree *t = *state;

	assert_int_equal(mk(t, "/a", "x", 1), ZOK);
	assert_int_equal(tree_node_delete(t, S("/a"), 2), ZOK);
	assert_int_equal(mk(t, "/a", "yy", 3), ZOK);
	assert_int_equal(st(t, "/a").czxid, 3);
	assert_int_equal(st(t, "/a").data_length, 2);
	assert_int_equal(st(t, "/").cversion, 2);
	rcu_quiescent_state();
}

/* ---- setData / setACL ---- */

static void test_set_data_bumps_version_mzxid_mtime(void **state)
{
	struct tree *t = *state;
	struct zstat out, s;
	struct zview v;

	assert_int_equal(mk(t, "/a", "old", 5), ZOK);
	assert_int_equal(
	    tree_node_set_data(t, S("/a"), "newer", 5, 9, 4242, &out), ZOK);
	s = st(t, "/a");
	assert_stat_equal(&s, &out);
	assert_int_equal(s.version, 1);
	assert_int_equal(s.mzxid, 9);
	assert_int_equal(s.mtime, 4242);
	assert_int_equal(s.czxid, 5);
	assert_int_equal(s.ctime, 1005);
	assert_int_equal(s.pzxid, 5);
	assert_int_equal(s.cversion, 0);
	assert_int_equal(s.aversion, 0);
	assert_int_equal(s.data_length, 5);
	znode_view(L(t, "/a"), &v);
	assert_memory_equal(v.data, "newer", 5);
	assert_int_equal(tree_node_set_data(t, S("/a"), NULL, -1, 10, 1, NULL),
			 ZOK);
	assert_int_equal(st(t, "/a").version, 2);
	assert_int_equal(st(t, "/a").data_length, 0);
	/* parent untouched */
	assert_int_equal(st(t, "/").pzxid, 5);
}

static void test_set_data_missing_is_nonode(void **state)
{
	struct tree *t = *state;

	assert_int_equal(tree_node_set_data(t, S("/nope"), "x", 1, 1, 1, NULL),
			 ZNONODE);
}

static void test_set_data_keeps_children_and_acl(void **state)
{
	struct tree *t = *state;
	struct zview v1, v2;

	assert_int_equal(mk(t, "/a", NULL, 1), ZOK);
	assert_int_equal(mk(t, "/a/b", NULL, 2), ZOK);
	znode_view(L(t, "/a"), &v1);
	assert_int_equal(tree_node_set_data(t, S("/a"), "z", 1, 3, 3, NULL),
			 ZOK);
	znode_view(L(t, "/a"), &v2);
	assert_ptr_equal(v1.acl, v2.acl);
	assert_int_equal(v2.stat.num_children, 1);
	assert_int_equal(v2.stat.cversion, 1);
}

static void test_set_acl_bumps_aversion_only(void **state)
{
	struct tree *t = *state;
	int32_t perms = ZPERM_READ;
	const char *scheme = "digest", *id = "bob:x";
	struct zacl *a = zacl_new(1, &perms, &scheme, &id);
	struct zstat before, out, s;
	struct zview v;

	assert_int_equal(mk(t, "/a", "d", 1), ZOK);
	before = st(t, "/a");
	assert_int_equal(tree_node_set_acl(t, S("/a"), a, 7, &out), ZOK);
	s = st(t, "/a");
	assert_stat_equal(&s, &out);
	assert_int_equal(s.aversion, 1);
	before.aversion = 1;
	assert_stat_equal(&s, &before); /* nothing else */
	znode_view(L(t, "/a"), &v);
	assert_ptr_equal(v.acl, a);
	assert_int_equal(a->refs, 2);
	assert_memory_equal(v.data, "d", 1);
	assert_int_equal(tree_node_set_acl(t, S("/nope"), a, 8, NULL), ZNONODE);
	zacl_unref(a);
}

static void test_acl_references_follow_versions(void **state)
{
	struct tree *t = *state;
	struct zacl *a = zacl_open(), *b = zacl_open();

	assert_int_equal(
	    tree_node_create(t, S("/a"), NULL, 0, a, 0, 1, 0, NULL), ZOK);
	assert_int_equal(a->refs, 2);
	/* setData and child creates keep exactly one version reference */
	assert_int_equal(tree_node_set_data(t, S("/a"), "x", 1, 2, 0, NULL),
			 ZOK);
	assert_int_equal(mk(t, "/a/c", NULL, 3), ZOK);
	assert_int_equal(a->refs, 2);
	assert_int_equal(tree_node_set_acl(t, S("/a"), b, 4, NULL), ZOK);
	assert_int_equal(a->refs, 1);
	assert_int_equal(b->refs, 2);
	/* same ACL again: still one reference from the tree */
	assert_int_equal(tree_node_set_acl(t, S("/a"), b, 5, NULL), ZOK);
	assert_int_equal(b->refs, 2);
	assert_int_equal(tree_node_delete(t, S("/a/c"), 6), ZOK);
	assert_int_equal(tree_node_delete(t, S("/a"), 7), ZOK);
	assert_int_equal(b->refs, 1);
	zacl_unref(a);
	zacl_unref(b);
	rcu_quiescent_state();
}

static void test_acl_freed_by_tree_when_last_reference_dropped(void **state)
{
	struct tree *t = *state;
	struct zacl *a = zacl_open();

	assert_int_equal(
	    tree_node_create(t, S("/a"), NULL, 0, a, 0, 1, 0, NULL), ZOK);
	zacl_unref(a); /* the tree holds the only reference now */
	assert_int_equal(tree_node_delete(t, S("/a"), 2), ZOK);
	/* freed after a grace period; ASan/valgrind check there is no leak */
	rcu_quiescent_state();
}

static void test_large_data_survives_stat_only_changes(void **state)
{
	struct tree *t = *state;
	size_t len = 100000;
	char *big = malloc(len), *big2 = malloc(len);
	struct zview v;
	int i;

	memset(big, 'B', len);
	memset(big2, 'C', len);
	assert_int_equal(tree_node_create(t, S("/big"), big, (int32_t)len, NULL,
					  0, 1, 0, NULL),
			 ZOK);
	for (i = 0; i < 10; i++) {
		char p[32];

		snprintf(p, sizeof(p), "/big/%d", i);
		assert_int_equal(mk(t, p, NULL, 2 + i), ZOK);
	}
	assert_int_equal(tree_node_set_acl(t, S("/big"), NULL, 20, NULL), ZOK);
	znode_view(L(t, "/big"), &v);
	assert_int_equal(v.stat.data_length, (int32_t)len);
	assert_memory_equal(v.data, big, len);
	assert_int_equal(v.stat.num_children, 10);
	assert_int_equal(
	    tree_node_set_data(t, S("/big"), big2, (int32_t)len, 21, 0, NULL),
	    ZOK);
	znode_view(L(t, "/big"), &v);
	assert_memory_equal(v.data, big2, len);
	assert_int_equal(tree_data_bytes(t),
			 44 + 4 + len + 10 * strlen("/big/0"));
	free(big);
	free(big2);
	rcu_quiescent_state();
}

/* dataLength past the version's 23-bit field: stored as an extra field */
static void test_data_over_8mb_keeps_its_length(void **state)
{
	struct tree *t = *state;
	size_t len = (1u << 23) + 5;
	char *big = malloc(len);
	struct zview v;

	assert_non_null(big);
	memset(big, 'H', len);
	big[len - 1] = 'Z';
	assert_int_equal(tree_node_create(t, S("/h"), big, (int32_t)len, NULL,
					  0, 3, 0, NULL),
			 ZOK);
	assert_int_equal(mk(t, "/h/c", NULL, 4), ZOK); /* stat-only change */
	znode_view(L(t, "/h"), &v);
	assert_int_equal(v.stat.data_length, (int32_t)len);
	assert_int_equal(v.stat.num_children, 1);
	assert_int_equal(v.stat.pzxid, 4);
	assert_memory_equal(v.data, big, len);
	assert_int_equal(tree_node_set_data(t, S("/h"), "s", 1, 5, 0, NULL),
			 ZOK);
	znode_view(L(t, "/h"), &v);
	assert_int_equal(v.stat.data_length, 1);
	assert_int_equal(v.stat.version, 1);
	free(big);
	rcu_quiescent_state();
}

/* getAllChildrenNumber deeper than the walk's first stack (64 levels) */
static void test_descendants_of_a_deep_chain(void **state)
{
	struct tree *t = *state;
	char p[1024];
	size_t l = 0;
	int i;

	for (i = 0; i < 200; i++) {
		l += (size_t)snprintf(p + l, sizeof(p) - l, "/d");
		p[l] = '\0';
		assert_int_equal(mk(t, p, NULL, 10 + i), ZOK);
	}
	assert_int_equal(mk(t, "/d/side", NULL, 300), ZOK);
	assert_int_equal(znode_descendants(L(t, "/d")), 200);
	assert_int_equal(znode_descendants(L(t, "/")), 3 + 200 + 1);
	assert_int_equal(znode_descendants(tree_lookup(t, p, l)), 0);
}

/* Memory moves between size classes: setting every node once replaces
 * its 128-byte version by a 144-byte one; the freed 128-byte blocks empty
 * whole chunks, which go back, so memory ends near one version per node
 * instead of two. */
static void test_memory_of_replaced_versions_is_given_back(void **state)
{
	struct tree *t = *state;
	const int n = 100000;
	char p[32], v[100];
	uint64_t fresh, after;
	int i;

	memset(v, 'v', sizeof(v));
	assert_int_equal(mk(t, "/m", NULL, 1), ZOK);
	for (i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "/m/k%06d", i);
		assert_int_equal(tree_node_create(t, S(p), v, sizeof(v), NULL,
						  0, 2 + i, 0, NULL),
				 ZOK);
	}
	/* the parent's old versions come back */
	rcu_thread_offline();
	rcu_barrier();
	rcu_thread_online();
	assert_int_equal(mk(t, "/m1", NULL, n + 2), ZOK); /* reclaims */
	tree_write_begin(t);
	tree_write_end(t, n + 2);
	fresh = tree_mem_bytes(t);
	/* 64-byte znodes and 128-byte versions, give or take chunk ends
	 * and the empty chunks kept */
	assert_in_range(fresh, (uint64_t)n * 192,
			(uint64_t)n * 192 + (6u << 20));
	for (i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "/m/k%06d", i);
		assert_int_equal(tree_node_set_data(t, S(p), v, sizeof(v),
						    n + 10 + i, 1, NULL),
				 ZOK);
		if (i % 1000 == 999) { /* let the old versions come back */
			rcu_thread_offline();
			rcu_barrier();
			rcu_thread_online();
		}
	}
	rcu_thread_offline();
	rcu_barrier();
	rcu_thread_online();
	assert_int_equal(mk(t, "/m2", NULL, 3 * n), ZOK); /* reclaims */
	tree_write_begin(t);
	tree_write_end(t, 3 * n);
	after = tree_mem_bytes(t);
	/* versions now 144 bytes (mzxid, mtime, version); without giving
	 * chunks back this would be n * (64 + 128 + 144) */
	assert_in_range(after, (uint64_t)n * 208,
			(uint64_t)n * 208 + (6u << 20)); /* 4 MiB kept */
	print_message("      %llu bytes for %d znodes fresh, %llu after one "
		      "setData each\n",
		      (unsigned long long)fresh, n, (unsigned long long)after);
}

/* ---- lookup, children, descendants ---- */

static void test_lookup_uses_length_not_nul(void **state)
{
	struct tree *t = *state;
	const char *s = "/abc/def";

	assert_int_equal(mk(t, "/abc", NULL, 1), ZOK);
	assert_non_null(tree_lookup(t, s, 4));
	assert_null(tree_lookup(t, s, 3));
	assert_null(tree_lookup(t, s, strlen(s)));
	assert_null(tree_lookup(t, s, 0));
}

static int stop_at_second(const char *name, size_t len, void *arg)
{
	int *n = arg;

	return ++*n == 2 ? 42 : 0;
}

static void test_children_walk_stops_early(void **state)
{
	struct tree *t = *state;
	int n = 0;

	assert_int_equal(mk(t, "/a", NULL, 1), ZOK);
	assert_int_equal(mk(t, "/a/x", NULL, 2), ZOK);
	assert_int_equal(mk(t, "/a/y", NULL, 3), ZOK);
	assert_int_equal(mk(t, "/a/z", NULL, 4), ZOK);
	assert_int_equal(znode_children(L(t, "/a"), stop_at_second, &n), 42);
	assert_int_equal(n, 2);
}

static void test_children_lists_names_after_deletes(void **state)
{
	struct tree *t = *state;
	struct names c = {0};

	assert_int_equal(mk(t, "/a", NULL, 1), ZOK);
	assert_int_equal(mk(t, "/a/x", NULL, 2), ZOK);
	assert_int_equal(mk(t, "/a/yy", NULL, 3), ZOK);
	assert_int_equal(mk(t, "/a/zzz", NULL, 4), ZOK);
	assert_int_equal(tree_node_delete(t, S("/a/yy"), 5), ZOK);
	assert_int_equal(znode_children(L(t, "/a"), collect, &c), 0);
	assert_int_equal(c.n, 2);
	assert_true(has_name(&c, "x"));
	assert_true(has_name(&c, "zzz"));
	assert_false(has_name(&c, "yy"));
	rcu_quiescent_state();
}

static void test_descendants_counts_whole_subtree(void **state)
{
	struct tree *t = *state;

	assert_int_equal(znode_descendants(L(t, "/")), 3);
	assert_int_equal(znode_descendants(L(t, "/zookeeper/quota")), 0);
	assert_int_equal(mk(t, "/a", NULL, 1), ZOK);
	assert_int_equal(mk(t, "/a/b", NULL, 2), ZOK);
	assert_int_equal(mk(t, "/a/b/c", NULL, 3), ZOK);
	assert_int_equal(mk(t, "/a/b/d", NULL, 4), ZOK);
	assert_int_equal(mk(t, "/a/e", NULL, 5), ZOK);
	assert_int_equal(mk(t, "/f", NULL, 6), ZOK);
	assert_int_equal(znode_descendants(L(t, "/a")), 4);
	assert_int_equal(znode_descendants(L(t, "/a/b")), 2);
	assert_int_equal(znode_descendants(L(t, "/a/e")), 0);
	assert_int_equal(znode_descendants(L(t, "/")), 3 + 6);
}

static void test_descendants_of_deep_chain_does_not_recurse(void **state)
{
	struct tree *t = *state;
	enum { DEPTH = 20000 };
	char *p = malloc(DEPTH * 2 + 2);
	size_t len = 0;
	int i;

	for (i = 0; i < DEPTH; i++) {
		p[len++] = '/';
		p[len++] = 'd';
		assert_int_equal(tree_node_create(t, p, len, NULL, 0, NULL, 0,
						  i + 1, 0, NULL),
				 ZOK);
	}
	assert_int_equal(znode_descendants(L(t, "/d")), DEPTH - 1);
	assert_int_equal(tree_node_count(t), 4 + DEPTH);
	free(p);
	/* tree_destroy must free a deep tree without recursing either */
}

/* ---- counters ---- */

static void test_node_count_and_data_bytes_track_writes(void **state)
{
	struct tree *t = *state;

	assert_int_equal(mk(t, "/a", "12345", 1), ZOK);
	assert_int_equal(tree_node_count(t), 5);
	assert_int_equal(tree_data_bytes(t), 44 + 2 + 5);
	assert_int_equal(tree_node_set_data(t, S("/a"), "1", 1, 2, 2, NULL),
			 ZOK);
	assert_int_equal(tree_data_bytes(t), 44 + 2 + 1);
	assert_int_equal(tree_node_delete(t, S("/a"), 3), ZOK);
	assert_int_equal(tree_node_count(t), 4);
	assert_int_equal(tree_data_bytes(t), 44);
	rcu_quiescent_state();
}

/* ---- ephemerals, containers, TTLs ---- */

struct plist {
	int n;
	char p[16][32];
};

static void collect_path(const char *path, size_t len, void *arg)
{
	struct plist *l = arg;

	if (l->n < 16 && len < 32) {
		memcpy(l->p[l->n], path, len);
		l->p[l->n][len] = '\0';
	}
	l->n++;
}

static void test_ephemerals_listed_in_creation_order(void **state)
{
	struct tree *t = *state;
	struct plist l = {0};

	assert_int_equal(mk_owned(t, "/e3", 7, 1), ZOK);
	assert_int_equal(mk_owned(t, "/other", 8, 2), ZOK);
	assert_int_equal(mk(t, "/dir", NULL, 3), ZOK);
	assert_int_equal(mk_owned(t, "/dir/e1", 7, 4), ZOK);
	assert_int_equal(mk_owned(t, "/e2", 7, 5), ZOK);
	assert_int_equal(mk_owned(t, "/cont", ZK_CONTAINER_OWNER, 6), ZOK);
	tree_ephemerals(t, 7, collect_path, &l);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.p[0], "/e3");
	assert_string_equal(l.p[1], "/dir/e1");
	assert_string_equal(l.p[2], "/e2");
	assert_int_equal(st(t, "/e2").ephemeral_owner, 7);
	l.n = 0;
	tree_ephemerals(t, 8, collect_path, &l);
	assert_int_equal(l.n, 1);
	l.n = 0;
	tree_ephemerals(t, 9, collect_path, &l);
	assert_int_equal(l.n, 0);
	l.n = 0;
	tree_ephemerals(t, ZK_CONTAINER_OWNER, collect_path, &l);
	assert_int_equal(l.n, 0);
}

static void test_ephemerals_removed_on_delete(void **state)
{
	struct tree *t = *state;
	struct plist l = {0};

	assert_int_equal(mk_owned(t, "/a", 7, 1), ZOK);
	assert_int_equal(mk_owned(t, "/b", 7, 2), ZOK);
	assert_int_equal(tree_node_delete(t, S("/a"), 3), ZOK);
	tree_ephemerals(t, 7, collect_path, &l);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.p[0], "/b");
	assert_int_equal(tree_node_delete(t, S("/b"), 4), ZOK);
	l.n = 0;
	tree_ephemerals(t, 7, collect_path, &l);
	assert_int_equal(l.n, 0);
	/* the session can own nodes again */
	assert_int_equal(mk_owned(t, "/c", 7, 5), ZOK);
	tree_ephemerals(t, 7, collect_path, &l);
	assert_int_equal(l.n, 1);
	rcu_quiescent_state();
}

struct closer {
	struct tree *t;
	zxid_t zxid;
	int n;
};

static void delete_cb(const char *path, size_t len, void *arg)
{
	struct closer *c = arg;

	assert_int_equal(tree_node_delete(c->t, path, len, c->zxid++), ZOK);
	c->n++;
}

static void test_ephemerals_callback_may_delete_each_node(void **state)
{
	struct tree *t = *state;
	struct closer c = {t, 100, 0};
	struct plist l = {0};
	char p[32];
	int i;

	for (i = 0; i < 50; i++) {
		snprintf(p, sizeof(p), "/s%d", i);
		assert_int_equal(mk_owned(t, p, 0x55, i + 1), ZOK);
	}
	tree_ephemerals(t, 0x55, delete_cb, &c);
	assert_int_equal(c.n, 50);
	assert_int_equal(tree_node_count(t), 4);
	tree_ephemerals(t, 0x55, collect_path, &l);
	assert_int_equal(l.n, 0);
	assert_int_equal(st(t, "/").num_children, 1);
	rcu_quiescent_state();
}

struct nlist {
	int n;
	const struct znode *nodes[16];
};

static void collect_node(const struct znode *n, void *arg)
{
	struct nlist *l = arg;

	if (l->n < 16)
		l->nodes[l->n] = n;
	l->n++;
}

static void test_containers_and_ttls_listed_and_removed(void **state)
{
	struct tree *t = *state;
	struct nlist l = {0};

	assert_int_equal(mk_owned(t, "/c1", ZK_CONTAINER_OWNER, 1), ZOK);
	assert_int_equal(mk_owned(t, "/t1", zk_ttl_owner(1000), 2), ZOK);
	assert_int_equal(mk_owned(t, "/e", 99, 3), ZOK);
	assert_int_equal(mk(t, "/p", NULL, 4), ZOK);
	assert_int_equal(mk_owned(t, "/p/c2", ZK_CONTAINER_OWNER, 5), ZOK);
	tree_containers_and_ttls(t, collect_node, &l);
	assert_int_equal(l.n, 3);
	assert_true(path_is(l.nodes[0], "/c1"));
	assert_true(path_is(l.nodes[1], "/t1"));
	assert_true(path_is(l.nodes[2], "/p/c2"));
	assert_int_equal(tree_node_delete(t, S("/t1"), 6), ZOK);
	l.n = 0;
	tree_containers_and_ttls(t, collect_node, &l);
	assert_int_equal(l.n, 2);
	assert_true(path_is(l.nodes[1], "/p/c2"));
	rcu_quiescent_state();
}

struct reaper {
	struct tree *t;
	int n;
};

static void reap_empty(const struct znode *n, void *arg)
{
	struct reaper *r = arg;
	struct zview v;

	znode_view(n, &v);
	if (v.stat.num_children == 0 &&
	    tree_node_delete(r->t, znode_path(n), znode_path_len(n), 50) == ZOK)
		r->n++;
}

static void test_container_callback_may_delete_node(void **state)
{
	struct tree *t = *state;
	struct reaper r = {t, 0};

	assert_int_equal(mk_owned(t, "/c1", ZK_CONTAINER_OWNER, 1), ZOK);
	assert_int_equal(mk_owned(t, "/c2", ZK_CONTAINER_OWNER, 2), ZOK);
	assert_int_equal(mk(t, "/c2/kid", NULL, 3), ZOK);
	assert_int_equal(mk_owned(t, "/c3", ZK_CONTAINER_OWNER, 4), ZOK);
	tree_containers_and_ttls(t, reap_empty, &r);
	assert_int_equal(r.n, 2);
	assert_non_null(L(t, "/c2"));
	assert_null(L(t, "/c1"));
	assert_null(L(t, "/c3"));
	rcu_quiescent_state();
}

/* ---- seqcount ---- */

static void test_write_end_sets_applied_zxid(void **state)
{
	struct tree *t = *state;

	tree_write_begin(t);
	assert_int_equal(mk(t, "/a", NULL, 0x500000001LL), ZOK);
	tree_write_end(t, 0x500000001LL);
	assert_int_equal(tree_applied_zxid(t), 0x500000001LL);
}

static void test_read_retry_detects_a_write(void **state)
{
	struct tree *t = *state;
	unsigned s = tree_read_begin(t);

	assert_false(tree_read_retry(t, s));
	tree_write_begin(t);
	assert_true(tree_read_retry(t, s));
	tree_write_end(t, 1);
	assert_true(tree_read_retry(t, s));
	s = tree_read_begin(t);
	assert_false(tree_read_retry(t, s));
}

static void test_nested_write_begin_counts_outermost(void **state)
{
	struct tree *t = *state;
	unsigned s = tree_read_begin(t);

	tree_write_begin(t);
	tree_write_begin(t);
	tree_write_end(t, 1);
	/* still inside the outer batch */
	tree_write_end(t, 2);
	assert_int_equal(tree_applied_zxid(t), 2);
	assert_true(tree_read_retry(t, s));
	s = tree_read_begin(t); /* would spin if still odd */
	assert_false(tree_read_retry(t, s));
}

/* ---- concurrency ---- */

#define NREADERS 4

struct race {
	struct tree *t;
	int stop;  /* __atomic: the writer sets it, readers poll it */
	int ready; /* __atomic */
	long views;
	long errors;
	long retries;
};

/* Data of a node at version v: "<v>:<path>" then filler 'a'+v%26 up to a
 * length that varies with v (some beyond the inline limit). */
static size_t make_data(char *buf, const char *path, int v)
{
	size_t n = (size_t)snprintf(buf, 64, "%d:%s", v, path);
	size_t len = n + (size_t)((v * 37) % 900);

	memset(buf + n, 'a' + v % 26, len - n);
	return len;
}

static bool view_consistent(const struct znode *n, const struct zview *v)
{
	char head[64];
	size_t hl, i, len = (size_t)v->stat.data_length;
	int ver = v->stat.version;

	if (v->stat.czxid > v->stat.mzxid)
		return false;
	if (len == 0)
		return v->data == NULL;
	hl = (size_t)snprintf(head, sizeof(head), "%d:%.*s", ver,
			      (int)znode_path_len(n), znode_path(n));
	if (len != hl + (size_t)((ver * 37) % 900))
		return false;
	if (memcmp(v->data, head, hl) != 0)
		return false;
	for (i = hl; i < len; i++)
		if (v->data[i] != 'a' + ver % 26)
			return false;
	return true;
}

struct kid_arg {
	const struct znode *parent;
	char buf[256];
	struct race *r;
	long errors, views; /* this reader's: struct race is shared */
};

static int check_kid(const char *name, size_t len, void *arg)
{
	struct kid_arg *k = arg;
	size_t pl = znode_path_len(k->parent);
	const struct znode *c;
	struct zview v;

	memcpy(k->buf, znode_path(k->parent), pl);
	k->buf[pl] = '/';
	memcpy(k->buf + pl + 1, name, len);
	c = tree_lookup(k->r->t, k->buf, pl + 1 + len);
	if (c) { /* may have been deleted meanwhile */
		znode_view(c, &v);
		if (!view_consistent(c, &v))
			k->errors++;
		/* the child's path is the parent's plus its name */
		if (znode_path_len(c) != pl + 1 + len)
			k->errors++;
		k->views++;
	}
	return 0;
}

static void *reader(void *arg)
{
	struct race *r = arg;
	struct kid_arg k;
	char p[32];
	unsigned x = 12345;
	long errors = 0, views = 0;

	rcu_register_thread();
	__atomic_add_fetch(&r->ready, 1, __ATOMIC_SEQ_CST);
	k.r = r;
	k.errors = k.views = 0;
	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		const struct znode *n;
		struct zview v;

		x = x * 1103515245 + 12345;
		snprintf(p, sizeof(p), "/r%u", (x >> 16) % 8);
		n = tree_lookup(r->t, p, strlen(p));
		if (n) {
			znode_view(n, &v);
			if (v.stat.data_length != 0 || v.data != NULL)
				errors++;
			k.parent = n;
			znode_children(n, check_kid, &k);
			znode_descendants(n);
		}
		snprintf(p, sizeof(p), "/r%u/n%u", (x >> 8) % 8,
			 (x >> 20) % 64);
		n = tree_lookup(r->t, p, strlen(p));
		if (n) {
			znode_view(n, &v);
			if (!view_consistent(n, &v))
				errors++;
			views++;
		}
		rcu_quiescent_state();
	}
	rcu_unregister_thread();
	__atomic_add_fetch(&r->errors, errors + k.errors, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&r->views, views + k.views, __ATOMIC_SEQ_CST);
	return NULL;
}

static void test_concurrent_readers_see_consistent_views(void **state)
{
	struct tree *t = *state;
	struct race r = {.t = t};
	pthread_t th[NREADERS];
	static char buf[1024];
	int vers[8][64] = {{0}};
	char p[32];
	zxid_t z = 1;
	unsigned x = 777;
	int i, op;

	for (i = 0; i < 8; i++) {
		snprintf(p, sizeof(p), "/r%d", i);
		assert_int_equal(mk(t, p, NULL, z++), ZOK);
	}
	for (i = 0; i < NREADERS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, reader, &r), 0);
	while (__atomic_load_n(&r.ready, __ATOMIC_SEQ_CST) < NREADERS)
		rcu_quiescent_state();

	for (op = 0; op < 60000; op++) {
		unsigned d, k;
		size_t len;

		x = x * 1103515245 + 12345;
		d = (x >> 8) % 8;
		k = (x >> 16) % 64;
		snprintf(p, sizeof(p), "/r%u/n%u", d, k);
		if (!tree_lookup(t, p, strlen(p))) {
			vers[d][k] = 0;
			len = make_data(buf, p, 0);
			assert_int_equal(tree_node_create(t, p, strlen(p), buf,
							  (int32_t)len, NULL, 0,
							  z, z, NULL),
					 ZOK);
		} else if ((x >> 4) % 4 == 0) {
			assert_int_equal(tree_node_delete(t, p, strlen(p), z),
					 ZOK);
		} else {
			len = make_data(buf, p, ++vers[d][k]);
			assert_int_equal(tree_node_set_data(t, p, strlen(p),
							    buf, (int32_t)len,
							    z, z, NULL),
					 ZOK);
		}
		z++;
		if (op % 64 == 0)
			rcu_quiescent_state();
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < NREADERS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(r.errors, 0);
	assert_true(r.views > 0);
	print_message("      %ld consistent views\n", r.views);
}

/*
 * Batch atomicity: every batch moves one child from /from to /to (delete
 * + create) and rewrites /ctr with the batch number; readers bracketed by
 * the seqcount must always see num_children(/from) + num_children(/to)
 * == total, the children lists matching num_children, and /ctr equal to
 * tree_applied_zxid().
 */
#define BATCH_TOTAL 32

static int count_kids(const char *name, size_t len, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

static long parse_num(const char *d, int32_t len)
{
	char tmp[32];

	if (!d || len <= 0 || len >= (int32_t)sizeof(tmp))
		return -1;
	memcpy(tmp, d, (size_t)len);
	tmp[len] = '\0';
	return strtol(tmp, NULL, 10);
}

static void *batch_reader(void *arg)
{
	struct race *r = arg;
	const struct znode *from, *to, *ctr;
	long errors = 0, views = 0, retries = 0;

	rcu_register_thread();
	__atomic_add_fetch(&r->ready, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		int nf, nt, kf, kt;
		long cv;
		zxid_t az;
		unsigned s;
		struct zview v;

		do {
			s = tree_read_begin(r->t);
			from = tree_lookup(r->t, "/from", 5);
			to = tree_lookup(r->t, "/to", 3);
			ctr = tree_lookup(r->t, "/ctr", 4);
			znode_view(from, &v);
			nf = v.stat.num_children;
			znode_view(to, &v);
			nt = v.stat.num_children;
			kf = kt = 0;
			znode_children(from, count_kids, &kf);
			znode_children(to, count_kids, &kt);
			znode_view(ctr, &v);
			cv = parse_num(v.data, v.stat.data_length);
			az = tree_applied_zxid(r->t);
			retries++;
		} while (tree_read_retry(r->t, s));
		retries--;
		if (nf + nt != BATCH_TOTAL || kf != nf || kt != nt || cv != az)
			errors++;
		views++;
		rcu_quiescent_state();
	}
	rcu_unregister_thread();
	__atomic_add_fetch(&r->errors, errors, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&r->views, views, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&r->retries, retries, __ATOMIC_SEQ_CST);
	return NULL;
}

static void test_seqcount_gives_batch_atomicity(void **state)
{
	struct tree *t = *state;
	struct race r = {.t = t};
	pthread_t th[NREADERS];
	char p[32], q[32], num[32];
	zxid_t z = 1;
	int i, b, where[BATCH_TOTAL] = {0};

	assert_int_equal(mk(t, "/from", NULL, z++), ZOK);
	assert_int_equal(mk(t, "/to", NULL, z++), ZOK);
	for (i = 0; i < BATCH_TOTAL; i++) {
		snprintf(p, sizeof(p), "/from/k%d", i);
		assert_int_equal(mk(t, p, NULL, z++), ZOK);
	}
	snprintf(num, sizeof(num), "%lld", (long long)z);
	assert_int_equal(mk(t, "/ctr", num, z), ZOK);
	tree_write_begin(t);
	tree_write_end(t, z);
	z++;

	for (i = 0; i < NREADERS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, batch_reader, &r),
				 0);
	while (__atomic_load_n(&r.ready, __ATOMIC_SEQ_CST) < NREADERS)
		rcu_quiescent_state();

	for (b = 0; b < 20000; b++, z++) {
		int k = b % BATCH_TOTAL;

		snprintf(p, sizeof(p), "%s/k%d", where[k] ? "/to" : "/from", k);
		snprintf(q, sizeof(q), "%s/k%d", where[k] ? "/from" : "/to", k);
		snprintf(num, sizeof(num), "%lld", (long long)z);
		tree_write_begin(t);
		assert_int_equal(tree_node_delete(t, S(p), z), ZOK);
		assert_int_equal(mk(t, q, NULL, z), ZOK);
		assert_int_equal(tree_node_set_data(t, S("/ctr"), num,
						    (int32_t)strlen(num), z, z,
						    NULL),
				 ZOK);
		tree_write_end(t, z);
		where[k] = !where[k];
		if (b % 16 == 0)
			rcu_quiescent_state();
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < NREADERS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(r.errors, 0);
	assert_true(r.views > 0);
	print_message("      %ld atomic views, %ld retries\n", r.views,
		      r.retries);
}

static void test_destroy_frees_populated_tree(void **state)
{
	struct tree *t = *state;
	struct zacl *a = zacl_open();
	static char big[4096];
	char p[64];
	int i, j;

	for (i = 0; i < 100; i++) {
		snprintf(p, sizeof(p), "/d%d", i);
		assert_int_equal(
		    tree_node_create(t, S(p), big,
				     i % 2 ? 0 : (int32_t)sizeof(big), a,
				     i % 3 ? 0 : 1000 + i, i, 0, NULL),
		    ZOK);
		for (j = 0; j < 20 && i % 3; j++) {
			snprintf(p, sizeof(p), "/d%d/c%d", i, j);
			assert_int_equal(tree_node_create(t, S(p), "x", 1, a,
							  j % 2 ? 0 : 77, i, 0,
							  NULL),
					 ZOK);
		}
		if (i % 5 == 0 && i % 3) {
			snprintf(p, sizeof(p), "/d%d/c0", i);
			assert_int_equal(tree_node_delete(t, S(p), i), ZOK);
		}
	}
	zacl_unref(a); /* tree's references keep it alive until destroy */
		       /* teardown destroys; ASan/valgrind report any leak */
}

/* ---- tree_node_restore (snapshot loading) ---- */

static void test_restore_creates_node_with_exact_stat_leaving_parent(
    void **state)
{
	struct tree *t = *state;
	struct zacl *a = zacl_open();
	struct zstat s = {0}, root_before = st(t, "/"), got;
	struct zview v;

	s.czxid = 5;
	s.mzxid = 9;
	s.ctime = 111;
	s.mtime = 222;
	s.version = 3;
	s.cversion = 7;
	s.aversion = 2;
	s.num_children = 4; /* taken verbatim, even if no child follows */
	s.pzxid = 8;
	s.data_length = 999; /* replaced by data_len */
	assert_int_equal(tree_node_restore(t, S("/r"), &s, "abc", 3, a, false), ZOK);
	got = st(t, "/r");
	s.data_length = 3;
	assert_stat_equal(&got, &s);
	/* the parent's stat is unchanged */
	got = st(t, "/");
	assert_stat_equal(&got, &root_before);
	znode_view(L(t, "/r"), &v);
	assert_memory_equal(v.data, "abc", 3);
	assert_false(v.data_null);
	assert_true(zacl_equal(v.acl, a));
	assert_int_equal(tree_node_count(t), 5);
	/* null data */
	assert_int_equal(tree_node_restore(t, S("/r/n"), &s, NULL, -1, a, false), ZOK);
	znode_view(L(t, "/r/n"), &v);
	assert_true(v.data_null);
	assert_int_equal(v.stat.data_length, 0);
	/* missing parent */
	assert_int_equal(tree_node_restore(t, S("/x/y"), &s, NULL, 0, a, false),
			 ZNONODE);
	assert_int_equal(tree_node_restore(t, S("bad"), &s, NULL, 0, a, false),
			 ZBADARGUMENTS);
	zacl_unref(a);
}

/* fresh restores: hash insertion deferred to tree_restore_done, parents
 * found along the pre-order path, system nodes still looked up */
static void test_restore_fresh_defers_hashing_until_done(void **state)
{
	struct tree *t = *state;
	struct zacl *a = zacl_open();
	struct zstat s = {0};
	char p[64];
	int i, l;

	s.czxid = 1;
	assert_int_equal(tree_node_restore(t, S("/"), &s, NULL, 0, a, true),
			 ZOK); /* exists: replaced, not added */
	assert_int_equal(tree_node_restore(t, S("/a"), &s, NULL, 0, a, true),
			 ZOK);
	assert_int_equal(tree_node_restore(t, S("/a/b"), &s, NULL, 0, a, true),
			 ZOK);
	assert_int_equal(tree_node_restore(t, S("/a/b/c"), &s, "x", 1, a, true),
			 ZOK);
	/* back up two levels: the parent is an ancestor of the last node */
	for (i = 0; i < 3000; i++) {
		l = snprintf(p, sizeof(p), "/a/k%d", i);
		assert_int_equal(tree_node_restore(t, p, (size_t)l, &s, "v", 1,
						   a, true),
				 ZOK);
	}
	assert_int_equal(tree_node_restore(t, S("/zookeeper"), &s, "z", 1, a,
					   true),
			 ZOK); /* a system node: looked up, so no duplicate */
	assert_int_equal(tree_node_restore(t, S("/q/r"), &s, NULL, 0, a, true),
			 ZNONODE);
	tree_restore_done(t);
	assert_int_equal(tree_node_count(t), 4 + 3 + 3000);
	assert_non_null(L(t, "/a/b/c"));
	for (i = 0; i < 3000; i += 7) {
		l = snprintf(p, sizeof(p), "/a/k%d", i);
		assert_non_null(tree_lookup(t, p, (size_t)l));
	}
	assert_int_equal(st(t, "/a").num_children, 0); /* stat verbatim */
	assert_int_equal(znode_descendants(L(t, "/a")), 3002);
	zacl_unref(a);
}

/* a restore that changes a node's owner kind moves it to a block with
 * (or without) the owner-list link; children and lookups follow */
static void test_restore_changing_owner_kind_keeps_children(void **state)
{
	struct tree *t = *state;
	struct zacl *a = zacl_open();
	struct zstat s = {0};
	struct nlist n = {0};

	s.czxid = 2;
	assert_int_equal(tree_node_restore(t, S("/p"), &s, "d", 1, a, false),
			 ZOK);
	assert_int_equal(tree_node_restore(t, S("/p/c1"), &s, NULL, 0, a, false),
			 ZOK);
	assert_int_equal(tree_node_restore(t, S("/p/c2"), &s, NULL, 0, a, false),
			 ZOK);
	s.ephemeral_owner = ZK_CONTAINER_OWNER;
	s.num_children = 2;
	assert_int_equal(tree_node_restore(t, S("/p"), &s, "e", 1, a, false),
			 ZOK);
	tree_containers_and_ttls(t, collect_node, &n);
	assert_int_equal(n.n, 1);
	assert_true(path_is(n.nodes[0], "/p"));
	assert_int_equal(znode_descendants(L(t, "/p")), 2);
	assert_non_null(L(t, "/p/c1"));
	assert_int_equal(st(t, "/p").ephemeral_owner, ZK_CONTAINER_OWNER);
	assert_int_equal(znode_descendants(L(t, "/")), 3 + 3);
	/* and back */
	s.ephemeral_owner = 0;
	assert_int_equal(tree_node_restore(t, S("/p"), &s, "f", 1, a, false),
			 ZOK);
	n.n = 0;
	tree_containers_and_ttls(t, collect_node, &n);
	assert_int_equal(n.n, 0);
	assert_int_equal(znode_descendants(L(t, "/p")), 2);
	assert_int_equal(tree_node_delete(t, S("/p/c1"), 9), ZOK);
	assert_int_equal(tree_node_delete(t, S("/p/c2"), 10), ZOK);
	assert_int_equal(tree_node_delete(t, S("/p"), 11), ZOK);
	assert_int_equal(tree_node_count(t), 4);
	zacl_unref(a);
	rcu_quiescent_state();
}

/* Every stat survives the version's compact encoding exactly, also at
 * the edges of the 4-byte deltas and with values no server would make. */
/* getChildren's and getEphemerals' order, as ZooKeeper 3.8 answered for
 * the same creations (its java.util.HashSet orders). */
struct order {
	int n;
	char s[40][24];
};

static int take_name(const char *name, size_t len, void *arg)
{
	struct order *o = arg;

	snprintf(o->s[o->n++], sizeof(o->s[0]), "%.*s", (int)len, name);
	return 0;
}

static void take_path(const char *path, size_t len, void *arg)
{
	take_name(path, len, arg);
}

static void test_children_come_in_zookeepers_order(void **state)
{
	static const char *const made[] = {
	    "b", "a", "c", "item-10", "item-2", "x", "pre", "zz",
	    "lock-0000000001", "lock-0000000000", "m", "node",
	    "\u00fc-name", "\u540d\u524d"};
	/* ZooKeeper 3.8's getChildren after those creations */
	static const char *const zk[] = {
	    "zz", "a", "b", "pre", "c", "item-2", "\u540d\u524d", "m",
	    "\u00fc-name", "node", "item-10", "x", "lock-0000000001",
	    "lock-0000000000"};
	struct tree *t = *state;
	struct zorder_buf b = {0};
	struct order o = {0};
	char p[64];
	size_t i;

	mk(t, "/o", NULL, 2);
	for (i = 0; i < sizeof(made) / sizeof(made[0]); i++) {
		snprintf(p, sizeof(p), "/o/%s", made[i]);
		assert_int_equal(mk(t, p, NULL, 3 + (zxid_t)i), ZOK);
	}
	assert_int_equal(znode_children_zk(t, L(t, "/o"), take_name, &o, &b,
					   false), 0);
	assert_int_equal(o.n, 14);
	for (i = 0; i < 14; i++)
		assert_string_equal(o.s[i], zk[i]);
	/* reversed, for the snapshot's stack */
	o.n = 0;
	znode_children_zk(t, L(t, "/o"), take_name, &o, &b, true);
	assert_string_equal(o.s[0], "lock-0000000000");
	assert_string_equal(o.s[13], "zz");
	zorder_buf_free(&b);
}

static void test_ephemerals_come_in_zookeepers_order(void **state)
{
	struct tree *t = *state;
	struct order o = {0};
	struct order creation = {0};
	char p[64];

	mk(t, "/e", NULL, 2);
	for (int i = 0; i < 10; i++) {
		snprintf(p, sizeof(p), "/e/n%d", i);
		assert_int_equal(mk_owned(t, p, 0x77, 3 + i), ZOK);
	}
	tree_ephemerals(t, 0x77, take_path, &creation);
	assert_int_equal(tree_ephemerals_zk(t, 0x77, take_path, &o), 0);
	assert_int_equal(o.n, 10);
	/* the clone's order: by bucket of a 16-entry table (10 / 0.75 + 1
	 * = 14), ties by the set's own order; check it against a direct
	 * computation of spread(String.hashCode) & 15 */
	int last = -1;
	for (int i = 0; i < o.n; i++) {
		int32_t h = zk_java_hash(o.s[i], strlen(o.s[i]));
		uint32_t u = (uint32_t)h;
		int bucket = (int)((u ^ (u >> 16)) & 15);
		assert_true(bucket >= last);
		last = bucket;
	}
	assert_string_equal(creation.s[0], "/e/n0");
}

static void test_restore_keeps_extreme_stats(void **state)
{
	struct tree *t = *state;
	struct zacl *a = zacl_open();
	static const int64_t z[][4] = {
		/* czxid, mzxid, ctime, mtime */
		{1, 1 + 0xffffffffLL, 5, 5 + 0xffffffffLL},	/* delta max */
		{1, 1 + 0x100000000LL, 5, 5 + 0x100000000LL},	/* one more */
		{10, 9, 10, 9},				/* backwards */
		{INT64_MAX, INT64_MIN, INT64_MIN, INT64_MAX},
		{INT64_MIN, INT64_MAX, INT64_MAX, INT64_MIN},
		{-5, -4, -1, 0},
		{0x500000001LL, 0x600000000LL, 0, 1},
	};
	char p[32];
	size_t i;

	for (i = 0; i < sizeof(z) / sizeof(z[0]); i++) {
		struct zstat s = {0}, got;

		s.czxid = z[i][0];
		s.mzxid = z[i][1];
		s.ctime = z[i][2];
		s.mtime = z[i][3];
		s.pzxid = z[i][1] ^ 1;
		s.version = (int32_t)i - 3;
		s.cversion = INT32_MIN + (int32_t)i;
		s.aversion = INT32_MAX - (int32_t)i;
		s.num_children = 0;
		s.ephemeral_owner = ZK_CONTAINER_OWNER;
		snprintf(p, sizeof(p), "/x%zu", i);
		s.data_length = 3;
		assert_int_equal(tree_node_restore(t, S(p), &s, "abc", 3, a,
						   false),
				 ZOK);
		got = st(t, p);
		assert_stat_equal(&got, &s);
	}
	zacl_unref(a);
}

static void test_restore_replaces_existing_system_node(void **state)
{
	struct tree *t = *state;
	static const int32_t rp[] = {ZPERM_READ};
	static const char *const w[] = {"world"}, *const any[] = {"anyone"};
	struct zacl *a = zacl_new(1, rp, w, any);
	struct zstat s = {0};
	struct zview v;
	uint64_t bytes = tree_data_bytes(t);

	s.cversion = 40;
	s.num_children = 2;
	s.pzxid = 77;
	assert_int_equal(tree_node_restore(t, S("/zookeeper"), &s, "cfg", 3, a, false),
			 ZOK);
	znode_view(L(t, "/zookeeper"), &v);
	assert_int_equal(v.stat.cversion, 40);
	assert_int_equal(v.stat.pzxid, 77);
	assert_int_equal(v.stat.data_length, 3);
	assert_true(zacl_equal(v.acl, a));
	assert_int_equal(tree_node_count(t), 4);
	assert_int_equal(tree_data_bytes(t), bytes + 3);
	assert_int_equal(tree_node_restore(t, S("/"), &s, NULL, 0, a, false), ZOK);
	assert_int_equal(st(t, "/").pzxid, 77);
	zacl_unref(a);
}

static void restore_names(const char *path, size_t len, void *arg)
{
	(*(int *)arg)++;
}

static void restore_ctl(const struct znode *n, void *arg)
{
	(*(int *)arg)++;
}

static void test_restore_tracks_ephemerals_containers_and_ttls(void **state)
{
	struct tree *t = *state;
	struct zacl *a = zacl_open();
	struct zstat s = {0};
	int n = 0;

	s.ephemeral_owner = 0x55;
	assert_int_equal(tree_node_restore(t, S("/e1"), &s, NULL, 0, a, false), ZOK);
	assert_int_equal(tree_node_restore(t, S("/e2"), &s, NULL, 0, a, false), ZOK);
	s.ephemeral_owner = ZK_CONTAINER_OWNER;
	assert_int_equal(tree_node_restore(t, S("/c"), &s, NULL, 0, a, false), ZOK);
	s.ephemeral_owner = zk_ttl_owner(1000);
	assert_int_equal(tree_node_restore(t, S("/t"), &s, NULL, 0, a, false), ZOK);
	tree_ephemerals(t, 0x55, restore_names, &n);
	assert_int_equal(n, 2);
	n = 0;
	tree_containers_and_ttls(t, restore_ctl, &n);
	assert_int_equal(n, 2);
	/* restoring over an ephemeral with another owner moves it */
	s.ephemeral_owner = 0x66;
	assert_int_equal(tree_node_restore(t, S("/e2"), &s, NULL, 0, a, false), ZOK);
	n = 0;
	tree_ephemerals(t, 0x55, restore_names, &n);
	assert_int_equal(n, 1);
	n = 0;
	tree_ephemerals(t, 0x66, restore_names, &n);
	assert_int_equal(n, 1);
	/* and a restored ephemeral can be deleted like any other */
	tree_write_begin(t);
	assert_int_equal(tree_node_delete(t, S("/e2"), 100), ZOK);
	tree_write_end(t, 100);
	n = 0;
	tree_ephemerals(t, 0x66, restore_names, &n);
	assert_int_equal(n, 0);
	rcu_quiescent_state();
	zacl_unref(a);
}

/* ---- digest (ZooKeeper's DigestCalculator) ---- */

/* A second implementation to check digest.c and the tree's bookkeeping
 * against: zlib's CRC-32 over the path ("" for "/"), the data and the
 * stat as ZooKeeper stores it, summed over every node reached from the
 * root. */
static uint64_t ref_node(const char *path, size_t len, const struct zview *v)
{
	static const char sys[] = "/zookeeper/";
	unsigned char b[60], *q = b;
	struct zstat s = v->stat;
	int64_t f8[] = {s.czxid, s.mzxid, s.pzxid, s.ctime, s.mtime};
	int32_t f4[] = {s.version, (s.cversion + s.num_children) / 2,
			s.aversion};
	uLong crc = crc32(0, Z_NULL, 0);

	if (len >= strlen(sys) && !memcmp(path, sys, strlen(sys)))
		return 0;
	for (int i = 0; i < 5; i++)
		for (int k = 7; k >= 0; k--)
			*q++ = (unsigned char)((uint64_t)f8[i] >> (8 * k));
	for (int i = 0; i < 3; i++)
		for (int k = 3; k >= 0; k--)
			*q++ = (unsigned char)((uint32_t)f4[i] >> (8 * k));
	for (int k = 7; k >= 0; k--)
		*q++ = (unsigned char)((uint64_t)s.ephemeral_owner >> (8 * k));
	if (len > 1)
		crc = crc32(crc, (const Bytef *)path, (uInt)len);
	if (v->data && s.data_length > 0)
		crc = crc32(crc, (const Bytef *)v->data, (uInt)s.data_length);
	return crc32(crc, b, sizeof(b));
}

struct ref_walk {
	struct tree *t;
	char path[256];
	size_t len;
	uint64_t sum;
};

static void ref_visit(struct ref_walk *w);

static int ref_child(const char *name, size_t len, void *arg)
{
	struct ref_walk *w = arg;
	size_t keep = w->len;

	if (w->len > 1)
		w->path[w->len++] = '/';
	memcpy(w->path + w->len, name, len);
	w->len += len;
	ref_visit(w);
	w->len = keep;
	return 0;
}

static void ref_visit(struct ref_walk *w)
{
	const struct znode *n = tree_lookup(w->t, w->path, w->len);
	struct zview v;

	assert_non_null(n);
	znode_view(n, &v);
	w->sum += ref_node(w->path, w->len, &v);
	znode_children(n, ref_child, w);
}

static uint64_t ref_digest(struct tree *t)
{
	struct ref_walk w = {.t = t, .path = "/", .len = 1};

	ref_visit(&w);
	return w.sum;
}

/* ---- digest log (DataTree.logZxidDigest / getDigestLog) ---- */

/* One transaction: a setData of "/d" (the digest changes each time),
 * applied as the sequencer does, between write_begin and write_end. */
static void dlog_txn(struct tree *t, zxid_t zxid)
{
	char data[24];

	snprintf(data, sizeof(data), "%lld", (long long)zxid);
	tree_write_begin(t);
	assert_int_equal(tree_node_set_data(t, S("/d"), data,
					    (int32_t)strlen(data), zxid,
					    1000 + zxid, NULL),
			 ZOK);
	tree_write_end(t, zxid);
}

static void test_digest_log_keeps_the_last_1024_multiples_of_128(void **state)
{
	struct tree *t = *state;
	/* 1030 multiples of 128 and 50 more: the log wraps by 6 */
	const zxid_t last = 1030 * TREE_DIGEST_LOG_INTERVAL + 50;
	struct tree_zxid_digest *l = malloc(TREE_DIGEST_LOG_LIMIT * sizeof(*l));
	int64_t *want = calloc(1031, sizeof(*want));

	assert_non_null(l);
	assert_non_null(want);
	tree_write_begin(t);
	assert_int_equal(mk(t, "/d", "0", 1), ZOK);
	tree_write_end(t, 1);
	/* neither without the tree digest nor before the log starts */
	tree_digest_log_start(t);
	for (zxid_t z = 2; z <= 128; z++)
		dlog_txn(t, z);
	assert_int_equal(tree_digest_log(t, l), 0);
	tree_digest_start(t);
	tree_digest_log_start(t);
	for (zxid_t z = 129; z <= 255; z++)
		dlog_txn(t, z);
	assert_int_equal(tree_digest_log(t, l), 0);
	dlog_txn(t, 256);
	want[2] = (int64_t)tree_digest(t);
	assert_int_equal(tree_digest_log(t, l), 1);
	assert_int_equal(l[0].zxid, 256);
	assert_int_equal(l[0].digest, want[2]);
	/* a re-publish of the applied zxid is no transaction */
	tree_write_begin(t);
	tree_write_end(t, 256);
	assert_int_equal(tree_digest_log(t, l), 1);
	for (zxid_t z = 257; z <= last; z++) {
		dlog_txn(t, z);
		if (z % TREE_DIGEST_LOG_INTERVAL == 0)
			want[z / TREE_DIGEST_LOG_INTERVAL] =
			    (int64_t)tree_digest(t);
	}
	assert_int_equal(tree_digest_log(t, l), TREE_DIGEST_LOG_LIMIT);
	/* oldest first: 7 * 128 ... 1030 * 128 */
	for (size_t i = 0; i < TREE_DIGEST_LOG_LIMIT; i++) {
		zxid_t k = (zxid_t)i + 1030 - TREE_DIGEST_LOG_LIMIT + 1;
		assert_int_equal(l[i].zxid, k * TREE_DIGEST_LOG_INTERVAL);
		assert_int_equal(l[i].digest, want[k]);
	}
	/* the newest entry is the digest after its transaction */
	assert_int_not_equal(l[TREE_DIGEST_LOG_LIMIT - 1].digest,
			     (int64_t)tree_digest(t));
	free(want);
	free(l);
}

#define DLOG_RACE_ENTRIES 600

struct dlog_race {
	struct tree *t;
	const int64_t *want; /* the digest logged at zxid k * 128 */
	int stop, ready;
	long copies, errors;
};

/* The writer's run: a setData of "/d" at each multiple of 128, an empty
 * transaction at every other zxid; into want[k], the digest at k * 128. */
static void dlog_race_run(struct tree *t, int64_t *want)
{
	tree_write_begin(t);
	assert_int_equal(mk(t, "/d", "0", 1), ZOK);
	tree_write_end(t, 1);
	tree_digest_start(t);
	tree_digest_log_start(t);
	for (zxid_t z = 2; z <= DLOG_RACE_ENTRIES * TREE_DIGEST_LOG_INTERVAL;
	     z++) {
		if (z % TREE_DIGEST_LOG_INTERVAL == 0) {
			dlog_txn(t, z);
			if (want)
				want[z / TREE_DIGEST_LOG_INTERVAL] =
				    (int64_t)tree_digest(t);
		} else {
			tree_write_begin(t);
			tree_write_end(t, z);
		}
	}
}

/* A reader copying the log while the writer appends: every copy is a
 * run of consecutive multiples of 128, at most 1024 long, each with the
 * digest its zxid had. */
static void *dlog_reader(void *arg)
{
	struct dlog_race *r = arg;
	struct tree_zxid_digest *l = malloc(TREE_DIGEST_LOG_LIMIT * sizeof(*l));

	__atomic_add_fetch(&r->ready, 1, __ATOMIC_SEQ_CST);
	while (l && !__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		size_t n = tree_digest_log(r->t, l);

		r->copies++;
		if (n > TREE_DIGEST_LOG_LIMIT)
			r->errors++;
		for (size_t i = 0; i < n; i++) {
			zxid_t z = l[i].zxid;

			if (z <= 0 || z % TREE_DIGEST_LOG_INTERVAL ||
			    z > DLOG_RACE_ENTRIES * TREE_DIGEST_LOG_INTERVAL ||
			    (i &&
			     z != l[i - 1].zxid + TREE_DIGEST_LOG_INTERVAL) ||
			    l[i].digest !=
				r->want[z / TREE_DIGEST_LOG_INTERVAL])
				r->errors++;
		}
	}
	free(l);
	return NULL;
}

static void test_digest_log_copies_are_whole_while_written(void **state)
{
	struct tree *t = *state, *ref = tree_create();
	int64_t *want = calloc(DLOG_RACE_ENTRIES + 1, sizeof(*want));
	struct dlog_race r = {.t = t, .want = want};
	pthread_t th;

	assert_non_null(ref);
	assert_non_null(want);
	/* the same run on a tree of its own gives the digests to expect */
	dlog_race_run(ref, want);
	tree_destroy(ref);
	rcu_quiescent_state();
	assert_int_equal(pthread_create(&th, NULL, dlog_reader, &r), 0);
	while (!__atomic_load_n(&r.ready, __ATOMIC_SEQ_CST))
		;
	dlog_race_run(t, NULL);
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	assert_true(r.copies > 0);
	assert_int_equal(r.errors, 0);
	free(want);
}

static void test_digest_matches_zookeepers_values(void **state)
{
	struct tree *t = *state;
	struct zstat zero = {0};

	(void)t;
	/* "/" with a zero stat, as a fresh ZooKeeper's root */
	assert_int_equal(zk_node_digest("/", 1, NULL, -1, &zero), 68323592);
	/* the two halves chain as one CRC */
	struct zstat s = {.czxid = 5, .mzxid = 9, .pzxid = 7, .ctime = 11,
			  .mtime = 13, .version = 2, .cversion = 3,
			  .aversion = 1, .ephemeral_owner = 0x42};
	assert_int_equal(
		zk_digest_end(zk_digest_start(S("/a/b"), "data", 4), S("/a/b"),
			      &s),
		zk_node_digest(S("/a/b"), "data", 4, &s));
	assert_int_equal(zk_node_digest(S("/zookeeper/config"), "x", 1, &s),
			 0);
	assert_int_not_equal(zk_node_digest(S("/zookeeper"), NULL, 0, &s), 0);
}

static void test_digest_follows_every_change(void **state)
{
	struct tree *t = *state;
	struct zacl *a = zacl_open();
	char big[3000];
	struct zstat rs = {.czxid = 40, .mzxid = 41, .pzxid = 40, .ctime = 7,
			   .mtime = 8, .version = 3, .cversion = 0,
			   .aversion = 0, .ephemeral_owner = 0};

	memset(big, 'b', sizeof(big));
	tree_digest_start(t);
	assert_true(tree_digest_on(t));
	assert_int_equal(tree_digest(t), ref_digest(t));
	tree_write_begin(t);
	assert_int_equal(mk(t, "/a", "one", 1), ZOK);
	assert_int_equal(tree_digest(t), ref_digest(t));
	assert_int_equal(tree_node_create(t, S("/a/big"), big, sizeof(big), a,
					  0, 2, 2000, NULL),
			 ZOK); /* data in a blob */
	assert_int_equal(mk_owned(t, "/a/e", 0x1234, 3), ZOK);
	assert_int_equal(mk_owned(t, "/c", ZK_CONTAINER_OWNER, 4), ZOK);
	assert_int_equal(tree_digest(t), ref_digest(t));
	assert_int_equal(tree_node_set_data(t, S("/a"), "two", 3, 5, 3000,
					    NULL),
			 ZOK);
	assert_int_equal(tree_node_set_data(t, S("/a/big"), NULL, -1, 6, 3001,
					    NULL),
			 ZOK);
	assert_int_equal(tree_node_set_acl(t, S("/c"), a, 7, NULL), ZOK);
	assert_int_equal(tree_digest(t), ref_digest(t));
	assert_int_equal(tree_node_delete(t, S("/a/e"), 8), ZOK);
	assert_int_equal(tree_node_delete(t, S("/c"), 9), ZOK);
	assert_int_equal(tree_digest(t), ref_digest(t));
	assert_int_equal(tree_node_child_replayed(t, S("/a"), true, 10), ZOK);
	assert_int_equal(tree_node_child_replayed(t, S("/a"), false, 11), ZOK);
	assert_int_equal(tree_digest(t), ref_digest(t));
	/* a restore over an existing node and of a new one */
	assert_int_equal(tree_node_restore(t, S("/a"), &rs, "r", 1, a, false),
			 ZOK);
	rs.czxid = rs.pzxid = 42;
	assert_int_equal(tree_node_restore(t, S("/a/r"), &rs, "new", 3, a,
					   false),
			 ZOK);
	assert_int_equal(tree_node_set_data(t, S("/"), "root", 4, 12, 1, NULL),
			 ZOK);
	tree_write_end(t, 12);
	assert_int_equal(tree_digest(t), ref_digest(t));
	/* a node's own digest, cached or not, and its path+data CRC */
	static const char *const each[] = {"/", "/a", "/a/big", "/a/r",
					   "/zookeeper", "/zookeeper/quota"};
	for (size_t i = 0; i < sizeof(each) / sizeof(each[0]); i++) {
		const struct znode *n = L(t, each[i]);
		struct zview v;
		uint32_t dcrc = 0;

		znode_view(n, &v);
		assert_int_equal(tree_node_digest(t, n, &dcrc),
				 ref_node(each[i], strlen(each[i]), &v));
		assert_int_equal(dcrc, zk_digest_start(S(each[i]), v.data,
						       v.stat.data_length));
	}
	/* and one started late over the same tree sums to the same */
	uint64_t kept = tree_digest(t);
	struct tree *u = tree_create();
	assert_non_null(u);
	tree_write_begin(u);
	assert_int_equal(mk(u, "/x", "late", 1), ZOK);
	assert_int_equal(mk(u, "/x/y", NULL, 2), ZOK);
	tree_write_end(u, 2);
	assert_false(tree_digest_on(u));
	tree_digest_start(u);
	assert_int_equal(tree_digest(u), ref_digest(u));
	assert_int_not_equal(tree_digest(u), kept);
	tree_destroy(u);
	rcu_quiescent_state();
	zacl_unref(a);
}

/* A writer's CRC hint (tree_digest_hint) is used by the one create or
 * setData after it, which then sums as if computed; a wrong hint shows,
 * and one left by a call that failed is not taken by the next. */
static void test_digest_hint_is_for_the_next_write_only(void **state)
{
	struct tree *t = *state;
	struct zacl *a = zacl_open();

	tree_digest_start(t);
	tree_write_begin(t);
	tree_digest_hint(t, zk_digest_start(S("/h"), "one", 3));
	assert_int_equal(tree_node_create(t, S("/h"), "one", 3, a, 0, 1, 10,
					  NULL),
			 ZOK);
	assert_int_equal(tree_digest(t), ref_digest(t));
	tree_digest_hint(t, zk_digest_start(S("/h"), "two!", 4));
	assert_int_equal(tree_node_set_data(t, S("/h"), "two!", 4, 2, 11,
					    NULL),
			 ZOK);
	assert_int_equal(tree_digest(t), ref_digest(t));
	/* a failed set takes its hint with it */
	tree_digest_hint(t, 12345);
	assert_int_equal(tree_node_set_data(t, S("/nope"), "x", 1, 3, 12,
					    NULL),
			 ZNONODE);
	assert_int_equal(tree_node_set_data(t, S("/h"), "three", 5, 3, 12,
					    NULL),
			 ZOK);
	assert_int_equal(tree_digest(t), ref_digest(t));
	/* the hint is believed: a wrong one makes a wrong digest */
	tree_digest_hint(t, 12345);
	assert_int_equal(tree_node_set_data(t, S("/h"), "four", 4, 4, 13,
					    NULL),
			 ZOK);
	assert_int_not_equal(tree_digest(t), ref_digest(t));
	tree_write_end(t, 13);
	rcu_quiescent_state();
	zacl_unref(a);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_initial_tree_has_zookeeper_nodes),
	    T(test_digest_hint_is_for_the_next_write_only),
	    T(test_initial_stats_are_zero_except_zookeeper_offsets),
	    T(test_config_node_acl_is_world_read),
	    T(test_create_sets_new_node_stat),
	    T(test_create_empty_data_views_null),
	    T(test_create_increments_parent_cversion),
	    T(test_create_missing_parent_is_nonode),
	    T(test_create_existing_is_nodeexists_without_change),
	    T(test_create_under_ephemeral_is_rejected),
	    T(test_create_under_container_and_ttl_is_allowed),
	    T(test_create_rejects_malformed_arguments),
	    T(test_create_with_null_acl_is_allowed),
	    T(test_delete_increments_parent_cversion_and_pzxid),
	    T(test_cversion_counts_creates_and_deletes_like_zookeeper),
	    T(test_delete_nonempty_is_notempty),
	    T(test_delete_missing_is_nonode),
	    T(test_delete_root_is_rejected),
	    T(test_delete_then_recreate),
	    T(test_set_data_bumps_version_mzxid_mtime),
	    T(test_set_data_missing_is_nonode),
	    T(test_set_data_keeps_children_and_acl),
	    T(test_set_acl_bumps_aversion_only),
	    T(test_acl_references_follow_versions),
	    T(test_acl_freed_by_tree_when_last_reference_dropped),
	    T(test_large_data_survives_stat_only_changes),
	    T(test_data_over_8mb_keeps_its_length),
	    T(test_memory_of_replaced_versions_is_given_back),
	    T(test_descendants_of_a_deep_chain),
	    T(test_restore_changing_owner_kind_keeps_children),
	    T(test_restore_keeps_extreme_stats),
	    T(test_lookup_uses_length_not_nul),
	    T(test_children_walk_stops_early),
	    T(test_children_lists_names_after_deletes),
	    T(test_descendants_counts_whole_subtree),
	    T(test_descendants_of_deep_chain_does_not_recurse),
	    T(test_node_count_and_data_bytes_track_writes),
	    T(test_ephemerals_listed_in_creation_order),
	    T(test_ephemerals_removed_on_delete),
	    T(test_ephemerals_callback_may_delete_each_node),
	    T(test_containers_and_ttls_listed_and_removed),
	    T(test_container_callback_may_delete_node),
	    T(test_write_end_sets_applied_zxid),
	    T(test_read_retry_detects_a_write),
	    T(test_nested_write_begin_counts_outermost),
	    T(test_concurrent_readers_see_consistent_views),
	    T(test_seqcount_gives_batch_atomicity),
	    T(test_destroy_frees_populated_tree),
	    T(test_restore_creates_node_with_exact_stat_leaving_parent),
	    T(test_restore_fresh_defers_hashing_until_done),
	    T(test_restore_replaces_existing_system_node),
	    T(test_restore_tracks_ephemerals_containers_and_ttls),
	    T(test_children_come_in_zookeepers_order),
	    T(test_ephemerals_come_in_zookeepers_order),
	    T(test_digest_matches_zookeepers_values),
	    T(test_digest_follows_every_change),
	    T(test_digest_log_keeps_the_last_1024_multiples_of_128),
	    T(test_digest_log_copies_are_whole_while_written),
	};
	int rc;

	rcu_register_thread();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rcu_unregister_thread();
	return rc;
#undef T
}
