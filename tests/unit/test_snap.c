/*
 * test_snap.c — snapshots: round trip of a tree with nested nodes, ACLs,
 * ephemerals, containers, TTL nodes and null data; fallback from a
 * corrupt or truncated newest snapshot; a fuzzy snapshot taken while the
 * writer keeps changing the tree; autopurge.
 *
 * The main thread is the tree writer and a registered QSBR thread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <urcu-qsbr.h>

#include "log/log.h"
#include "log/log_int.h"
#include "tests/unit/tmpdir_int.h"
#include "tests/unit/zstat_int.h"

#define S(p) (p), strlen(p)


static int setup(void **state)
{
	assert_int_equal(make_dir("snap"), 0);
	return 0;
}

static int teardown(void **state)
{
	rm_dir(dir);
	rcu_quiescent_state();
	return 0;
}

static void mk(struct tree *t, const char *p, const void *data, int32_t len,
	       struct zacl *acl, int64_t owner, zxid_t z)
{
	struct zacl *a = acl ? acl : zacl_open();

	tree_write_begin(t);
	assert_int_equal(
	    tree_node_create(t, S(p), data, len, a, owner, z, 1000 * z, NULL),
	    ZOK);
	tree_write_end(t, z);
	if (!acl)
		zacl_unref(a);
}

struct names {
	int n;
	char p[16][64];
};

static void name_fn(const char *path, size_t len, void *arg)
{
	struct names *n = arg;

	snprintf(n->p[n->n++], 64, "%.*s", (int)len, path);
}

static void ctl_fn(const struct znode *z, void *arg)
{
	struct names *n = arg;

	snprintf(n->p[n->n++], 64, "%.*s", (int)znode_path_len(z),
		 znode_path(z));
}

/* Compare every node of a with b (recursively from p). */
static int cmp_child(const char *name, size_t len, void *arg);

struct cmp_ctx {
	struct tree *a, *b;
	const char *parent;
	int nodes;
};

static void cmp_node(struct cmp_ctx *c, const char *p)
{
	const struct znode *x = tree_lookup(c->a, S(p));
	const struct znode *y = tree_lookup(c->b, S(p));
	struct zview vx, vy;
	struct cmp_ctx sub = *c;

	assert_non_null(x);
	if (!y)
		fail_msg("%s missing after load", p);
	znode_view(x, &vx);
	znode_view(y, &vy);
	assert_stat_equal(&vx.stat, &vy.stat);
	assert_int_equal(vx.data_null, vy.data_null);
	if (vx.stat.data_length)
		assert_memory_equal(vx.data, vy.data, vx.stat.data_length);
	assert_true(zacl_equal(vx.acl, vy.acl));
	c->nodes++;
	sub.parent = p;
	sub.nodes = 0;
	znode_children(x, cmp_child, &sub);
	c->nodes += sub.nodes;
}

static int cmp_child(const char *name, size_t len, void *arg)
{
	struct cmp_ctx *c = arg;
	char p[256];

	snprintf(p, sizeof(p), "%s/%.*s",
		 strcmp(c->parent, "/") ? c->parent : "", (int)len, name);
	cmp_node(c, p);
	return 0;
}

struct rep {
	int n;
	char msg[1024];
};

static void report_fn(const char *msg, void *arg)
{
	struct rep *r = arg;

	r->n++;
	snprintf(r->msg, sizeof(r->msg), "%s", msg);
}

static struct tree *sample_tree(void)
{
	static const int32_t perms[] = {ZPERM_READ | ZPERM_WRITE, ZPERM_ALL};
	static const char *const sch[] = {"digest", "ip"};
	static const char *const ids[] = {"bob:hash=", "10.0.0.0/8"};
	struct tree *t = tree_create();
	struct zacl *acl = zacl_new(2, perms, sch, ids);
	char big[3000];
	zxid_t z = 0x100000000LL;

	memset(big, 'B', sizeof(big));
	assert_non_null(t);
	mk(t, "/a", "hello", 5, NULL, 0, ++z);
	mk(t, "/a/b", NULL, -1, NULL, 0, ++z); /* null data */
	mk(t, "/a/b/c", big, sizeof(big), acl, 0, ++z);
	mk(t, "/a/empty", "", 0, acl, 0, ++z);
	mk(t, "/e1", "x", 1, NULL, 0x1234, ++z);
	mk(t, "/e2", "y", 1, NULL, 0x1234, ++z);
	mk(t, "/e3", "z", 1, NULL, 0x777, ++z);
	mk(t, "/cont", NULL, 0, NULL, ZK_CONTAINER_OWNER, ++z);
	mk(t, "/ttl", NULL, 0, NULL, zk_ttl_owner(5000), ++z);
	tree_write_begin(t);
	assert_int_equal(
	    tree_node_set_data(t, S("/a"), "world!", 6, ++z, 99, NULL), ZOK);
	assert_int_equal(tree_node_set_acl(t, S("/a"), acl, ++z, NULL), ZOK);
	assert_int_equal(tree_node_delete(t, S("/a/empty"), ++z), ZOK);
	tree_write_end(t, z);
	zacl_unref(acl);
	return t;
}

static void
test_snapshot_round_trip_keeps_nodes_stats_acls_and_owners(void **state)
{
	struct tree *t = sample_tree(), *u = tree_create();
	struct cmp_ctx c = {t, u, NULL, 0};
	struct names n = {0};
	char err[256] = "";
	void *blob;
	size_t blen;
	zxid_t z;
	struct rep r = {0};

	assert_int_equal(
	    zsnap_write(dir, t, tree_applied_zxid(t), "sessions!", 9, NULL), 0);
	assert_int_equal(zsnap_load(dir, u, &z, &blob, &blen, report_fn, &r,
				    err, sizeof(err)),
			 ZOK);
	assert_int_equal(z, tree_applied_zxid(t));
	assert_int_equal(blen, 9);
	assert_memory_equal(blob, "sessions!", 9);
	free(blob);
	assert_int_equal(r.n, 0);
	cmp_node(&c, "/");
	assert_int_equal(c.nodes, (int)tree_node_count(t));
	assert_int_equal(tree_node_count(u), tree_node_count(t));
	assert_int_equal(tree_data_bytes(u), tree_data_bytes(t));
	tree_ephemerals(u, 0x1234, name_fn, &n);
	assert_int_equal(n.n, 2);
	n.n = 0;
	tree_ephemerals(u, 0x777, name_fn, &n);
	assert_int_equal(n.n, 1);
	assert_string_equal(n.p[0], "/e3");
	n.n = 0;
	tree_containers_and_ttls(u, ctl_fn, &n);
	assert_int_equal(n.n, 2);
	tree_destroy(t);
	tree_destroy(u);
}

static void test_no_snapshot_loads_nothing(void **state)
{
	struct tree *u = tree_create();
	char err[256];
	void *blob;
	size_t blen;
	zxid_t z = 5;

	assert_int_equal(
	    zsnap_load(dir, u, &z, &blob, &blen, NULL, NULL, err, sizeof(err)),
	    ZOK);
	assert_int_equal(z, 0);
	assert_null(blob);
	assert_int_equal(tree_node_count(u), 4);
	tree_destroy(u);
}

static void corrupt(const char *path, off_t off, size_t trunc_to)
{
	int fd = open(path, O_RDWR);
	uint8_t b;

	assert_true(fd >= 0);
	if (trunc_to) {
		assert_int_equal(ftruncate(fd, (off_t)trunc_to), 0);
	} else {
		assert_int_equal(pread(fd, &b, 1, off), 1);
		b ^= 0x10;
		assert_int_equal(pwrite(fd, &b, 1, off), 1);
	}
	close(fd);
}

static void test_corrupt_newest_snapshot_falls_back_to_older(void **state)
{
	struct tree *t = sample_tree(), *u = tree_create();
	char err[256] = "", p[512];
	struct rep r = {0};
	void *blob;
	size_t blen;
	zxid_t z, z1 = tree_applied_zxid(t);

	assert_int_equal(zsnap_write(dir, t, z1, "old", 3, NULL), 0);
	mk(t, "/later", "x", 1, NULL, 0, z1 + 1);
	assert_int_equal(zsnap_write(dir, t, z1 + 1, "new", 3, NULL), 0);
	snprintf(p, sizeof(p), "%s/snapshot.%016" PRIx64, dir,
		 (uint64_t)(z1 + 1));
	corrupt(p, 100, 0);
	assert_int_equal(zsnap_load(dir, u, &z, &blob, &blen, report_fn, &r,
				    err, sizeof(err)),
			 ZOK);
	assert_int_equal(z, z1);
	assert_memory_equal(blob, "old", 3);
	free(blob);
	assert_int_equal(r.n, 1);
	assert_non_null(strstr(r.msg, "checksum"));
	assert_null(tree_lookup(u, S("/later")));
	assert_non_null(tree_lookup(u, S("/a/b/c")));
	/* paddock-check's view of the same files */
	assert_int_equal(zsnap_walk(p, &z, NULL, NULL, NULL, err, sizeof(err)),
			 ZDATAINCONSISTENCY);
	tree_destroy(t);
	tree_destroy(u);
}

static void test_truncated_only_snapshot_is_an_error(void **state)
{
	struct tree *t = sample_tree(), *u = tree_create();
	char err[256] = "", p[512];
	struct rep r = {0};
	void *blob;
	size_t blen;
	zxid_t z;

	assert_int_equal(zsnap_write(dir, t, 7, NULL, 0, NULL), 0);
	snprintf(p, sizeof(p), "%s/snapshot.%016" PRIx64, dir, (uint64_t)7);
	corrupt(p, 0, 200);
	assert_int_equal(zsnap_load(dir, u, &z, &blob, &blen, report_fn, &r,
				    err, sizeof(err)),
			 ZDATAINCONSISTENCY);
	assert_int_equal(r.n, 1);
	assert_non_null(strstr(err, "none of the 1 snapshots"));
	assert_int_equal(tree_node_count(u), 4); /* untouched */
	tree_destroy(t);
	tree_destroy(u);
}

static int count_files(const char *d)
{
	DIR *dd = opendir(d);
	struct dirent *e;
	int n = 0;

	assert_non_null(dd);
	while ((e = readdir(dd)))
		n += e->d_name[0] != '.';
	closedir(dd);
	return n;
}

static void test_cancelled_snapshot_leaves_nothing(void **state)
{
	struct tree *t = tree_create();
	int cancel = 1, i;
	char p[64];
	zxid_t *v;

	for (i = 0; i < 300; i++) {
		snprintf(p, sizeof(p), "/n%d", i);
		mk(t, p, "x", 1, NULL, 0, (zxid_t)i + 1);
	}
	assert_int_equal(zsnap_write(dir, t, 300, NULL, 0, &cancel),
			 -ECANCELED);
	assert_int_equal(zlog_list(dir, "snapshot", &v), 0);
	free(v);
	assert_int_equal(count_files(dir), 0); /* no .tmp either */
	tree_destroy(t);
}

/* ---- fuzzy snapshot under concurrent writes ---- */

struct snapper {
	struct tree *t;
	bool started; /* __atomic */
	int rc;
};

static void *snap_thread(void *arg)
{
	struct snapper *s = arg;

	rcu_register_thread();
	__atomic_store_n(&s->started, true, __ATOMIC_RELEASE);
	s->rc = zsnap_write(dir, s->t, tree_applied_zxid(s->t), NULL, 0, NULL);
	rcu_unregister_thread();
	return NULL;
}

static void test_fuzzy_snapshot_while_writes_continue_loads(void **state)
{
	struct tree *t = tree_create(), *u = tree_create();
	struct snapper s = {t, false, -1};
	char err[256] = "", p[64];
	void *blob;
	size_t blen;
	zxid_t z = 1;
	pthread_t th;
	int i, j;

	/* 200 parents x 20 children */
	for (i = 0; i < 200; i++) {
		snprintf(p, sizeof(p), "/p%d", i);
		mk(t, p, "d", 1, NULL, 0, z++);
		for (j = 0; j < 20; j++) {
			snprintf(p, sizeof(p), "/p%d/c%d", i, j);
			mk(t, p, "dd", 2, NULL, 0, z++);
		}
	}
	rcu_quiescent_state();
	pthread_create(&th, NULL, snap_thread, &s);
	while (!__atomic_load_n(&s.started, __ATOMIC_ACQUIRE))
		;
	/* delete whole subtrees and add new ones while the walk runs */
	for (i = 0; i < 200; i += 2) {
		for (j = 0; j < 20; j++) {
			snprintf(p, sizeof(p), "/p%d/c%d", i, j);
			tree_write_begin(t);
			assert_int_equal(tree_node_delete(t, S(p), z), ZOK);
			tree_write_end(t, z++);
		}
		snprintf(p, sizeof(p), "/p%d", i);
		tree_write_begin(t);
		assert_int_equal(tree_node_delete(t, S(p), z), ZOK);
		tree_write_end(t, z++);
		snprintf(p, sizeof(p), "/p%d/new", i + 1);
		mk(t, p, "n", 1, NULL, 0, z++);
		rcu_quiescent_state();
	}
	pthread_join(th, NULL);
	assert_int_equal(s.rc, 0);
	assert_int_equal(
	    zsnap_load(dir, u, &z, &blob, &blen, NULL, NULL, err, sizeof(err)),
	    ZOK);
	free(blob);
	/* every loaded node's parent was loaded (restore checks it) */
	assert_true(tree_node_count(u) >= 4 + 100 * 21);
	tree_destroy(t);
	tree_destroy(u);
}

/* ---- purge ---- */

static void touch(const char *name)
{
	char p[512];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	close(fd);
}

static bool exists(const char *name)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return access(p, F_OK) == 0;
}

static void
test_purge_keeps_retained_snapshots_and_needed_segments(void **state)
{
	touch("snapshot.0000000000000100");
	touch("snapshot.0000000000000200");
	touch("snapshot.0000000000000300");
	touch("snapshot.0000000000000400");
	touch("log.0000000000000001");
	touch("log.0000000000000150");
	touch("log.0000000000000201");
	touch("log.0000000000000250"); /* may hold 0x300 + 1 .. 0x34f */
	touch("log.0000000000000301"); /* starts right after 0x300 */
	touch("log.0000000000000350");
	touch("other.file");
	assert_int_equal(zsnap_purge(dir, dir, 2), 0);
	assert_false(exists("snapshot.0000000000000100"));
	assert_false(exists("snapshot.0000000000000200"));
	assert_true(exists("snapshot.0000000000000300"));
	assert_true(exists("snapshot.0000000000000400"));
	assert_false(exists("log.0000000000000001"));
	assert_false(exists("log.0000000000000150"));
	assert_false(exists("log.0000000000000201"));
	/* log.250 holds up to 0x300 only: not needed after snapshot 0x300 */
	assert_false(exists("log.0000000000000250"));
	assert_true(exists("log.0000000000000301"));
	assert_true(exists("log.0000000000000350"));
	assert_true(exists("other.file"));
	/* retain more than exist: nothing goes */
	assert_int_equal(zsnap_purge(dir, dir, 10), 0);
	assert_true(exists("snapshot.0000000000000300"));
	assert_true(exists("log.0000000000000301"));
}

static void test_purge_keeps_segment_spanning_the_oldest_snapshot(void **state)
{
	touch("snapshot.0000000000000300");
	touch("log.0000000000000001");
	touch("log.0000000000000250"); /* holds 0x301 .. 0x34f */
	touch("log.0000000000000350");
	assert_int_equal(zsnap_purge(dir, dir, 1), 0);
	assert_false(exists("log.0000000000000001"));
	assert_true(exists("log.0000000000000250"));
	assert_true(exists("log.0000000000000350"));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_snapshot_round_trip_keeps_nodes_stats_acls_and_owners),
	    T(test_no_snapshot_loads_nothing),
	    T(test_cancelled_snapshot_leaves_nothing),
	    T(test_corrupt_newest_snapshot_falls_back_to_older),
	    T(test_truncated_only_snapshot_is_an_error),
	    T(test_fuzzy_snapshot_while_writes_continue_loads),
	    T(test_purge_keeps_retained_snapshots_and_needed_segments),
	    T(test_purge_keeps_segment_spanning_the_oldest_snapshot),
	};
	int rc;

	rcu_register_thread();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rcu_unregister_thread();
	return rc;
#undef T
}
