/*
 * test_replay.c — recovery's replay of the log over a fuzzy snapshot
 * (consensus/txn.c, "Replay over a fuzzy snapshot"): each change applied
 * exactly once, and a parent's Stat exact, whichever way the snapshot
 * took its numChildren.
 *
 * Each test writes what a real member would find on disk, a snapshot
 * (log/snap.c) and a log segment of ZooKeeper txn records after it, then
 * recovers a fresh tree with zab_seq_recover and compares Stats with the
 * ones the leader had.
 *
 * The snapshots hold the state a walk records when a change races it:
 * the walk visits /w, pushes the names of its children, and looks each up
 * when it pops it, so a child deleted in between is missing while /w's
 * Stat does not show the delete yet.  paddock's own snapshots store /w's
 * numChildren as of that visit ("visit"); one installed from a SNAP
 * stream (ZooKeeper's format has no numChildren) counts the children it
 * got ("counted").  The main thread is a registered QSBR thread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>

#include <cmocka.h>
#include <urcu-qsbr.h>

#include "consensus/consensus.h"
#include "consensus/zkfmt_int.h"
#include "log/log.h"
#include "log/log_int.h"
#include "tests/unit/tmpdir_int.h"

#define S(p) (p), strlen(p)
#define SNAP_ZXID 0x100000010LL
#define SESSION 0x0100000000000055LL

static int setup(void **state)
{
	assert_int_equal(make_dir("replay"), 0);
	return 0;
}

static int teardown(void **state)
{
	rm_dir(dir);
	rcu_quiescent_state();
	return 0;
}

/* A node as the walk recorded it: czxid = mzxid = 5, the given pzxid,
 * cversion, numChildren and owner. */
static void put(struct tree *t, const char *path, zxid_t pzxid,
		int32_t cversion, int32_t kids, int64_t owner)
{
	struct zstat st = {.czxid = 5, .mzxid = 5, .pzxid = pzxid,
			   .ctime = 1000, .mtime = 1000, .cversion = cversion,
			   .num_children = kids, .ephemeral_owner = owner};
	struct zacl *a = zacl_open();

	assert_int_equal(tree_node_restore(t, S(path), &st, "d", 1, a, true),
			 ZOK);
	zacl_unref(a);
}

/* Write t as snapshot SNAP_ZXID with one session, SESSION, in its
 * blob. */
static void snapshot(struct tree *t)
{
	struct jw blob = {0};
	uint8_t pw[ZK_PASSWD_LEN] = {0};

	tree_restore_done(t);
	tree_write_begin(t);
	tree_write_end(t, SNAP_ZXID);
	jw_int(&blob, 1);
	jw_long(&blob, SESSION);
	jw_int(&blob, 30000);
	jw_buf(&blob, pw, ZK_PASSWD_LEN);
	assert_false(blob.err);
	assert_int_equal(zsnap_write(dir, t, SNAP_ZXID, blob.p, blob.len, NULL),
			 0);
	jw_free(&blob);
	tree_destroy(t);
}

static struct zk_txn txn(zxid_t zxid, int32_t type, enum zk_rec rec)
{
	struct zk_txn z;

	memset(&z, 0, sizeof(z));
	z.hdr = (struct zk_txnhdr){.client_id = SESSION, .cxid = 1,
				   .zxid = zxid, .time = 2000, .type = type};
	z.body.type = type;
	z.body.rec = rec;
	return z;
}

static struct zk_txn del(zxid_t zxid, const char *path)
{
	struct zk_txn z = txn(zxid, ZOP_DELETE, ZK_REC_DELETE);

	z.body.del.path = (struct zk_buf){path, (int32_t)strlen(path)};
	return z;
}

static struct zk_txn create(zxid_t zxid, const char *path,
			    int32_t parent_creates)
{
	struct zk_txn z = txn(zxid, ZOP_CREATE, ZK_REC_CREATE);

	z.body.create.path = (struct zk_buf){path, (int32_t)strlen(path)};
	z.body.create.data = (struct zk_buf){"n", 1};
	z.body.create.acl.n = 0;
	z.body.create.parent_cversion = parent_creates;
	return z;
}

/* Log the records (zxids SNAP_ZXID + 1, + 2, ...) after the snapshot. */
static void log_txns(const struct zk_txn *z, int n)
{
	struct zlog_config c = {dir, dir, 1 << 20, true};
	char err[256] = "";
	struct zlog *l = zlog_open(&c, SNAP_ZXID, err, sizeof(err));

	if (!l)
		fail_msg("zlog_open: %s", err);
	for (int i = 0; i < n; i++) {
		struct jw w = {0};

		assert_int_equal(z[i].hdr.zxid, SNAP_ZXID + 1 + i);
		assert_int_equal(zk_txn_encode(&w, &z[i]), 0);
		assert_int_equal(zlog_append(l, z[i].hdr.zxid, w.p, w.len), 0);
		jw_free(&w);
	}
	zlog_kick(l);
	for (int i = 0; i < 1000 && zlog_durable(l) < SNAP_ZXID + n; i++)
		poll(NULL, 0, 5);
	assert_int_equal(zlog_durable(l), SNAP_ZXID + n);
	zlog_close(l);
}

/* Recover the snapshot and log into a fresh tree. */
static struct tree *recover(struct zab_seq **sp)
{
	struct tree *t = tree_create();
	struct zab_seq_config cfg = {.tree = t, .n_workers = 1,
				     .snap_dir = dir, .log_dir = dir};
	char err[256] = "";

	assert_non_null(t);
	*sp = zab_seq_create(&cfg);
	assert_non_null(*sp);
	if (zab_seq_recover(*sp, err, sizeof(err)))
		fail_msg("zab_seq_recover: %s", err);
	return t;
}

static struct zstat stat_of(struct tree *t, const char *path)
{
	const struct znode *n = tree_lookup(t, S(path));
	struct zview v;

	assert_non_null(n);
	znode_view(n, &v);
	return v.stat;
}

static void count_fn(const char *path, size_t len, void *arg)
{
	(*(int *)arg)++;
}

static void done(struct zab_seq *s, struct tree *t)
{
	zab_seq_destroy(s);
	tree_destroy(t);
}

/* /w had a, b, c (3 creates) when the walk visited it; b was deleted
 * (SNAP_ZXID + 1) before the walk reached it, then d created (+ 2).  The
 * leader's /w: 4 creates, children a, c, d: cversion 2 * 4 - 3 = 5. */
static void check_missed_delete(bool counted)
{
	struct tree *t = tree_create();
	struct zab_seq *s;

	assert_non_null(t);
	/* visit: cversion 2 * 3 - 3, numChildren 3; counted: 2 * 3 - 2, 2 */
	put(t, "/w", 0x10000000fLL, counted ? 4 : 3, counted ? 2 : 3, 0);
	put(t, "/w/a", 5, 0, 0, 0);
	put(t, "/w/c", 5, 0, 0, 0);
	snapshot(t);
	struct zk_txn z[] = {del(SNAP_ZXID + 1, "/w/b"),
			     create(SNAP_ZXID + 2, "/w/d", 4)};
	log_txns(z, 2);
	t = recover(&s);
	struct zstat w = stat_of(t, "/w");
	assert_int_equal(w.cversion, 5);
	assert_int_equal(w.num_children, 3);
	assert_int_equal(w.pzxid, SNAP_ZXID + 2);
	assert_non_null(tree_lookup(t, S("/w/d")));
	assert_null(tree_lookup(t, S("/w/b")));
	done(s, t);
}

static void test_delete_the_walk_missed_visit_count(void **state)
{
	check_missed_delete(false);
}

static void test_delete_the_walk_missed_counted(void **state)
{
	check_missed_delete(true);
}

/* /w had a and b (2 creates); b was deleted (+ 1) and created again
 * (+ 2) before the walk reached it, so the snapshot holds the new b:
 * both changes are the parent's side only.  Leader: 3 creates, 2
 * children, cversion 4. */
static void test_child_deleted_and_created_again(void **state)
{
	struct tree *t = tree_create();
	struct zab_seq *s;

	assert_non_null(t);
	put(t, "/w", 0x10000000fLL, 2, 2, 0);
	put(t, "/w/a", 5, 0, 0, 0);
	struct zstat b = {.czxid = SNAP_ZXID + 2, .mzxid = SNAP_ZXID + 2,
			  .pzxid = SNAP_ZXID + 2};
	struct zacl *a = zacl_open();
	assert_int_equal(tree_node_restore(t, S("/w/b"), &b, "n", 1, a, true),
			 ZOK);
	zacl_unref(a);
	snapshot(t);
	struct zk_txn z[] = {del(SNAP_ZXID + 1, "/w/b"),
			     create(SNAP_ZXID + 2, "/w/b", 3)};
	log_txns(z, 2);
	t = recover(&s);
	struct zstat w = stat_of(t, "/w");
	assert_int_equal(w.cversion, 4);
	assert_int_equal(w.num_children, 2);
	assert_int_equal(w.pzxid, SNAP_ZXID + 2);
	done(s, t);
}

/* /e had x, an ephemeral of SESSION, and y (2 creates); /f had z,
 * another of SESSION's.  The walk missed x; the session's close (+ 1)
 * deletes x and z.  Its record lists both (paths2Delete), so /e gets
 * x's side too.  Leader: /e cversion 2 * 2 - 1, 1 child, pzxid + 1. */
static void test_close_session_deletes_an_ephemeral_the_walk_missed(
    void **state)
{
	struct tree *t = tree_create();
	struct zab_seq *s;

	assert_non_null(t);
	put(t, "/e", 0x10000000fLL, 3, 1, 0); /* counted: 2 * 2 - 1 */
	put(t, "/e/y", 5, 0, 0, 0);
	put(t, "/f", 0x10000000fLL, 0, 1, 0);
	put(t, "/f/z", 5, 0, 0, SESSION);
	snapshot(t);
	struct zk_txn z = txn(SNAP_ZXID + 1, ZOP_CLOSESESSION,
			      ZK_REC_CLOSE_SESSION);
	struct zk_buf paths[] = {{"/e/x", 4}, {"/f/z", 4}};
	z.body.close_session.paths.n = 2;
	z.body.close_session.paths.v = paths;
	log_txns(&z, 1);
	t = recover(&s);
	struct zstat e = stat_of(t, "/e"), f = stat_of(t, "/f");
	assert_int_equal(e.cversion, 3);
	assert_int_equal(e.num_children, 1);
	assert_int_equal(e.pzxid, SNAP_ZXID + 1);
	assert_int_equal(f.cversion, 1);
	assert_int_equal(f.num_children, 0);
	assert_int_equal(f.pzxid, SNAP_ZXID + 1);
	int left = 0;
	tree_ephemerals(t, SESSION, count_fn, &left);
	assert_int_equal(left, 0);
	done(s, t);
}

/* A multi (+ 1) creates /x and /x/y under "/", which the walk saw
 * before it: /x is new, so its pzxid is + 1 from this very multi, and
 * /x/y must still be created. */
static void test_multi_creates_a_parent_and_its_child(void **state)
{
	struct tree *t = tree_create();
	struct zab_seq *s;

	assert_non_null(t);
	snapshot(t);
	struct zk_txn x = create(SNAP_ZXID + 1, "/x", 0);
	struct zk_txn y = create(SNAP_ZXID + 1, "/x/y", 1);
	struct zk_body subs[] = {x.body, y.body};
	struct zk_txn z = txn(SNAP_ZXID + 1, ZOP_MULTI, ZK_REC_MULTI);
	z.body.multi.n = 2;
	z.body.multi.subs = subs;
	log_txns(&z, 1);
	t = recover(&s);
	assert_non_null(tree_lookup(t, S("/x")));
	assert_non_null(tree_lookup(t, S("/x/y")));
	struct zstat st = stat_of(t, "/x");
	assert_int_equal(st.num_children, 1);
	assert_int_equal(st.cversion, 1);
	assert_int_equal(st.pzxid, SNAP_ZXID + 1);
	done(s, t);
}

static struct zk_txn set(zxid_t zxid, const char *path, const char *data,
			 int32_t version)
{
	struct zk_txn z = txn(zxid, ZOP_SETDATA, ZK_REC_SET_DATA);

	z.body.set_data.path = (struct zk_buf){path, (int32_t)strlen(path)};
	z.body.set_data.data = (struct zk_buf){data, (int32_t)strlen(data)};
	z.body.set_data.version = version;
	return z;
}

/* A multi (+ 1) creates /x and sets it, then sets /k (version 0 in the
 * snapshot) twice: every step applies, though each leaves mzxid == + 1
 * for the next. */
static void test_multi_sets_what_it_created_and_sets_twice(void **state)
{
	struct tree *t = tree_create();
	struct zab_seq *s;

	assert_non_null(t);
	put(t, "/k", 0x10000000fLL, 0, 0, 0);
	snapshot(t);
	struct zk_body subs[] = {create(SNAP_ZXID + 1, "/x", 1).body,
				 set(SNAP_ZXID + 1, "/x", "x1", 1).body,
				 set(SNAP_ZXID + 1, "/k", "k1", 1).body,
				 set(SNAP_ZXID + 1, "/k", "k2", 2).body};
	struct zk_txn z = txn(SNAP_ZXID + 1, ZOP_MULTI, ZK_REC_MULTI);
	z.body.multi.n = 4;
	z.body.multi.subs = subs;
	log_txns(&z, 1);
	t = recover(&s);
	struct zview v;
	znode_view(tree_lookup(t, S("/x")), &v);
	assert_int_equal(v.stat.version, 1);
	assert_int_equal(v.stat.data_length, 2);
	assert_memory_equal(v.data, "x1", 2);
	znode_view(tree_lookup(t, S("/k")), &v);
	assert_int_equal(v.stat.version, 2);
	assert_int_equal(v.stat.mzxid, SNAP_ZXID + 1);
	assert_memory_equal(v.data, "k2", 2);
	done(s, t);
}

/* setACL on /a (+ 1, aversion 1), then /a deleted (+ 2) and created
 * again (+ 3) before the walk reached it: the snapshot's /a is the new
 * node, aversion 0, which the setACL must leave alone. */
static void test_set_acl_skips_a_node_created_again_later(void **state)
{
	struct tree *t = tree_create();
	struct zab_seq *s;
	static const char id[] = "anyone";

	assert_non_null(t);
	put(t, "/w", 0x10000000fLL, 1, 1, 0);
	struct zstat a = {.czxid = SNAP_ZXID + 3, .mzxid = SNAP_ZXID + 3,
			  .pzxid = SNAP_ZXID + 3};
	struct zacl *open = zacl_open();
	assert_int_equal(tree_node_restore(t, S("/w/a"), &a, "n", 1, open,
					   true),
			 ZOK);
	zacl_unref(open);
	snapshot(t);
	/* world:anyone READ only: perms, scheme, id */
	struct jw acl = {0};
	jw_int(&acl, 1);
	jw_str(&acl, "world");
	jw_str(&acl, id);
	assert_false(acl.err);
	struct zk_txn z[] = {txn(SNAP_ZXID + 1, ZOP_SETACL, ZK_REC_SET_ACL),
			     del(SNAP_ZXID + 2, "/w/a"),
			     create(SNAP_ZXID + 3, "/w/a", 2)};
	z[0].body.set_acl.path = (struct zk_buf){"/w/a", 4};
	z[0].body.set_acl.acl = (struct zk_acls){.n = 1, .raw = acl.p,
						 .raw_len = acl.len};
	z[0].body.set_acl.version = 1;
	log_txns(z, 3);
	jw_free(&acl);
	t = recover(&s);
	struct zstat st = stat_of(t, "/w/a");
	assert_int_equal(st.aversion, 0);
	assert_int_equal(st.czxid, SNAP_ZXID + 3);
	done(s, t);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_delete_the_walk_missed_visit_count),
	    T(test_delete_the_walk_missed_counted),
	    T(test_child_deleted_and_created_again),
	    T(test_close_session_deletes_an_ephemeral_the_walk_missed),
	    T(test_multi_creates_a_parent_and_its_child),
	    T(test_multi_sets_what_it_created_and_sets_twice),
	    T(test_set_acl_skips_a_node_created_again_later),
	};
	int rc;

	rcu_register_thread();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rcu_unregister_thread();
	return rc;
#undef T
}
