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
#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* ---- random writes racing the walk ----
 *
 * A seeded generator applies random transactions to a live tree (the
 * leader's, the truth: straight through the tree's own calls) and logs
 * their records, while log/snap.c walks that tree for a snapshot.  The
 * walk hands over at each buffer flush (the pwrite hook) to the
 * generator, which applies a few more transactions there, so the races
 * are the seed's and replay exactly.  Then the snapshot plus the log
 * are recovered, once as written and once with numChildren counted as
 * a SNAP install counts it, and every node (data, Stat, ACL) must equal
 * the live tree's.  Paths come from a few names three levels deep, so
 * transactions keep hitting the same nodes; some data is 70 kB, so the
 * buffer fills (and the generator runs) inside subtrees. */
#define RW_NAMES "abcd"
#define RW_BIG 70000

struct rw {
	struct tree *t;
	struct zlog *log;
	uint64_t rng;
	zxid_t zxid;
	int64_t session;
	int cxid;
	/* the current transaction's records (a closeSession's paths, up to
	 * every node there can be) */
	struct zk_body b[96];
	char path[96][32];
	int n;
	bool single; /* the transaction is one op (a reaper's may be) */
	/* the walk's hand-over */
	int want;   /* __atomic: transactions the walk asks for */
	bool in_walk;
	struct jw acl_open, acl_read;
};

static struct rw *rw_now;
static __thread bool rw_walker;
static char rw_data[RW_BIG];

static uint32_t rw_rand(struct rw *g, uint32_t n)
{
	g->rng = g->rng * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(g->rng >> 33) % n;
}

static void rw_path(struct rw *g, char *p)
{
	int depth = 1 + (int)rw_rand(g, 3), k = 0;
	for (int i = 0; i < depth; i++) {
		p[k++] = '/';
		p[k++] = RW_NAMES[rw_rand(g, sizeof(RW_NAMES) - 1)];
	}
	p[k] = 0;
}

static int32_t rw_dlen(struct rw *g)
{
	static const int32_t len[] = {0, 1, 9, 100, RW_BIG};
	return len[rw_rand(g, 5)];
}

static const struct zstat *rw_stat(struct rw *g, const char *p,
				   struct zstat *st)
{
	const struct znode *n = tree_lookup(g->t, p, strlen(p));
	struct zview v;
	if (!n)
		return NULL;
	znode_view(n, &v);
	*st = v.stat;
	return st;
}

/* One op on `p` applied to the live tree and recorded as b[n]; false if
 * it does not apply there (nothing changed). */
static bool rw_op(struct rw *g, int kind, const char *p)
{
	struct zk_body *b = &g->b[g->n];
	char *path = g->path[g->n];
	size_t len = strlen(p);
	struct zstat st, ps;
	const struct zstat *node = rw_stat(g, p, &st);
	char parent[32];
	size_t pl = zk_parent_len(p, len);
	memcpy(parent, p, pl);
	parent[pl] = 0;
	const struct zstat *par = rw_stat(g, parent, &ps);
	int32_t dlen = rw_dlen(g);
	rw_data[0] = (char)g->zxid; /* the same for a multi's ops */
	memset(b, 0, sizeof(*b));
	snprintf(path, 32, "%s", p);
	struct zk_buf zp = {path, (int32_t)len};
	switch (kind) {
	case 0: { /* create: persistent, ephemeral (1 in 4), container or
		   * TTL (1 in 8 each); sequential 1 time in 4 */
		uint32_t how = rw_rand(g, 8);
		int64_t owner = how < 2    ? g->session
				: how == 2 ? ZK_CONTAINER_OWNER
				: how == 3 ? zk_ttl_owner(5000)
					   : 0;
		if (!par || zk_owner_is_session(par->ephemeral_owner))
			return false;
		if (rw_rand(g, 4) == 0) {
			/* PrepRequestProcessor: the parent's count of
			 * creates, %010d */
			snprintf(path, 32, "%s%010d", p,
				 zk_cversion_stored(par));
			len = strlen(path);
			zp.len = (int32_t)len;
			if (rw_stat(g, path, &st))
				return false;
		} else if (node) {
			return false;
		}
		struct zacl *a = zacl_open();
		int rc = tree_node_create(g->t, path, len, rw_data, dlen, a,
					  owner, g->zxid, 3000, NULL);
		zacl_unref(a);
		assert_int_equal(rc, ZOK);
		rw_stat(g, parent, &ps);
		*b = (struct zk_body){.type = ZOP_CREATE, .rec = ZK_REC_CREATE};
		if (owner == ZK_CONTAINER_OWNER)
			*b = (struct zk_body){.type = ZOP_CREATECONTAINER,
					      .rec = ZK_REC_CREATE_CONTAINER};
		else if (zk_owner_is_ttl(owner))
			*b = (struct zk_body){.type = ZOP_CREATETTL,
					      .rec = ZK_REC_CREATE_TTL};
		b->create.path = zp;
		b->create.data = (struct zk_buf){rw_data, dlen};
		b->create.acl = (struct zk_acls){.n = 1, .raw = g->acl_open.p,
						 .raw_len = g->acl_open.len};
		b->create.ephemeral = zk_owner_is_session(owner);
		b->create.parent_cversion = zk_cversion_stored(&ps);
		b->create.ttl = zk_owner_is_ttl(owner) ? 5000 : 0;
		break;
	}
	case 4: /* check (a multi's) */
		if (!node)
			return false;
		*b = (struct zk_body){.type = ZOP_CHECK, .rec = ZK_REC_CHECK};
		b->check.path = zp;
		b->check.version = node->version;
		break;
	case 1: /* delete */
		if (!node || node->num_children)
			return false;
		assert_int_equal(tree_node_delete(g->t, p, len, g->zxid), ZOK);
		*b = (struct zk_body){.type = ZOP_DELETE, .rec = ZK_REC_DELETE};
		/* the reaper's deleteContainer, alone in its transaction */
		if (g->single && node->ephemeral_owner &&
		    !zk_owner_is_session(node->ephemeral_owner))
			b->type = ZOP_DELETECONTAINER;
		b->del.path = zp;
		break;
	case 2: /* setData */
		if (!node)
			return false;
		assert_int_equal(tree_node_set_data(g->t, p, len, rw_data, dlen,
						    g->zxid, 3000, NULL),
				 ZOK);
		*b = (struct zk_body){.type = ZOP_SETDATA,
				      .rec = ZK_REC_SET_DATA};
		b->set_data.path = zp;
		b->set_data.data = (struct zk_buf){rw_data, dlen};
		b->set_data.version = node->version + 1;
		break;
	default: { /* setACL: read-only or open, in turn */
		if (!node)
			return false;
		bool ro = node->aversion % 2 == 0;
		struct jw *raw = ro ? &g->acl_read : &g->acl_open;
		struct zacl *a = ro ? zacl_new(1, (int32_t[]){ZPERM_READ},
					       (const char *[]){"world"},
					       (const char *[]){"anyone"})
				    : zacl_open();
		assert_int_equal(tree_node_set_acl(g->t, p, len, a, g->zxid,
						   NULL),
				 ZOK);
		zacl_unref(a);
		*b = (struct zk_body){.type = ZOP_SETACL, .rec = ZK_REC_SET_ACL};
		b->set_acl.path = zp;
		b->set_acl.acl = (struct zk_acls){.n = 1, .raw = raw->p,
						  .raw_len = raw->len};
		b->set_acl.version = node->aversion + 1;
		break;
	}
	}
	g->n++;
	return true;
}

static void rw_log(struct rw *g, struct zk_txn *z)
{
	struct jw w = {0};
	if (!g->log)
		return; /* before the snapshot */
	assert_int_equal(zk_txn_encode(&w, z), 0);
	assert_int_equal(zlog_append(g->log, g->zxid, w.p, w.len), 0);
	jw_free(&w);
}

static void rw_ephemeral(const char *path, size_t len, void *arg)
{
	struct rw *g = arg;
	snprintf(g->path[g->n], 32, "%.*s", (int)len, path);
	g->b[g->n].del.path = (struct zk_buf){g->path[g->n], (int32_t)len};
	g->n++;
}

/* One transaction: a single op, a multi of up to four (each on the
 * last one's path, a child or the parent of it, or anywhere), or the
 * session's close and a new session. */
static void rw_txn(struct rw *g)
{
	uint32_t what = rw_rand(g, 20);
	struct zk_txn z;
	memset(&z, 0, sizeof(z));
	g->n = 0;
	g->zxid++;
	z.hdr = (struct zk_txnhdr){.client_id = g->session, .cxid = ++g->cxid,
				   .zxid = g->zxid, .time = 3000};
	tree_write_begin(g->t);
	if (what == 0) {
		/* closeSession: the session's ephemerals, as prep found
		 * them (paths2Delete), deleted here */
		tree_ephemerals(g->t, g->session, rw_ephemeral, g);
		struct zk_buf v[96];
		for (int i = 0; i < g->n; i++) {
			v[i] = g->b[i].del.path;
			assert_int_equal(tree_node_delete(g->t, v[i].p, (size_t)v[i].len,
							  g->zxid),
					 ZOK);
		}
		z.hdr.type = z.body.type = ZOP_CLOSESESSION;
		z.body.rec = ZK_REC_CLOSE_SESSION;
		z.body.close_session.paths.n = g->n;
		z.body.close_session.paths.v = v;
		tree_write_end(g->t, g->zxid);
		rw_log(g, &z);
		/* and the next session */
		g->session++;
		g->zxid++;
		z = (struct zk_txn){0};
		z.hdr = (struct zk_txnhdr){.client_id = g->session, .cxid = 0,
					   .zxid = g->zxid, .time = 3000,
					   .type = ZOP_CREATESESSION};
		z.body.type = ZOP_CREATESESSION;
		z.body.rec = ZK_REC_CREATE_SESSION;
		z.body.create_session.timeout = 30000;
		tree_write_begin(g->t);
		tree_write_end(g->t, g->zxid);
		rw_log(g, &z);
		return;
	}
	if (what <= 2) {
		/* an ErrorTxn, or a failed multi (ErrorTxns): a zxid and
		 * no change */
		struct zk_body e[2] = {
		    {.type = ZOP_ERROR, .rec = ZK_REC_ERROR, .error = {ZOK}},
		    {.type = ZOP_ERROR, .rec = ZK_REC_ERROR,
		     .error = {ZNONODE}}};
		if (what == 1) {
			z.body = e[1];
		} else {
			z.body.type = ZOP_MULTI;
			z.body.rec = ZK_REC_MULTI;
			z.body.multi.n = 2;
			z.body.multi.subs = e;
		}
		z.hdr.type = z.body.type;
		tree_write_end(g->t, g->zxid);
		rw_log(g, &z);
		return;
	}
	char p[32];
	rw_path(g, p);
	g->single = what < 10;
	if (g->single) {
		for (int tries = 0; tries < 50 && !g->n; tries++) {
			rw_op(g, (int)rw_rand(g, 4), p);
			rw_path(g, p);
		}
	} else {
		int want = 2 + (int)rw_rand(g, 3);
		for (int tries = 0; tries < 50 && g->n < want; tries++) {
			if (g->n && rw_rand(g, 4)) {
				char *last = g->path[g->n - 1];
				size_t l = strlen(last);
				int how = (int)rw_rand(g, 3);
				if (how == 0)
					snprintf(p, sizeof(p), "%s", last);
				else if (how == 1 && l < 20)
					snprintf(p, sizeof(p), "%s/%c",
						 l > 1 ? last : "",
						 RW_NAMES[rw_rand(g, 4)]);
				else if (l > 2)
					snprintf(p, sizeof(p), "%.*s",
						 (int)zk_parent_len(last, l),
						 last);
			}
			uint32_t k = rw_rand(g, 4); /* no setACL in a multi */
			if (!rw_op(g, k == 3 ? 4 : (int)k, p))
				rw_path(g, p);
		}
	}
	tree_write_end(g->t, g->zxid);
	if (!g->n) {
		g->zxid--; /* nothing applied: no transaction */
		return;
	}
	if (g->n == 1) {
		z.body = g->b[0];
	} else {
		z.body.type = ZOP_MULTI;
		z.body.rec = ZK_REC_MULTI;
		z.body.multi.n = g->n;
		z.body.multi.subs = g->b;
	}
	z.hdr.type = z.body.type;
	rw_log(g, &z);
}

/* The walk's pwrite: first the generator's turn, then the write. */
static ssize_t rw_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	struct rw *g = rw_now;
	if (rw_walker && g) {
		__atomic_store_n(&g->want, 1 + (int)rw_rand(g, 8),
				 __ATOMIC_RELEASE);
		while (__atomic_load_n(&g->want, __ATOMIC_ACQUIRE))
			sched_yield();
	}
	return pwrite(fd, buf, n, off);
}

struct rw_walk {
	struct tree *t;
	zxid_t zxid;
	struct jw blob;
	bool done; /* __atomic */
	int rc;
};

static void *rw_walk_main(void *arg)
{
	struct rw_walk *w = arg;
	rcu_register_thread();
	rw_walker = true;
	w->rc = zsnap_write(dir, w->t, w->zxid, w->blob.p, w->blob.len, NULL);
	rcu_unregister_thread();
	__atomic_store_n(&w->done, true, __ATOMIC_RELEASE);
	return NULL;
}

/* The paths of a node's children ("/zookeeper" left out). */
struct rw_kids {
	char (*p)[32];
	int n;
	const char *parent;
};

static int rw_kid(const char *name, size_t len, void *arg)
{
	struct rw_kids *k = arg;
	if (!strcmp(k->parent, "/") && len == 9 && !memcmp(name, "zookeeper", 9))
		return 0; /* the system nodes: not the generator's */
	char (*np)[32] = realloc(k->p, (size_t)(k->n + 1) * sizeof(*np));
	assert_non_null(np);
	k->p = np;
	snprintf(k->p[k->n++], 32, "%s/%.*s",
		 strcmp(k->parent, "/") ? k->parent : "", (int)len, name);
	return 0;
}

static struct rw_kids rw_kids(struct tree *t, const char *path)
{
	struct rw_kids k = {NULL, 0, path};
	znode_children(tree_lookup(t, path, strlen(path)), rw_kid, &k);
	return k;
}

/* Every node of a under path equals b's; the number compared. */
static int rw_same(struct tree *a, struct tree *b, const char *path,
		   uint64_t seed, const char *how)
{
	const struct znode *na = tree_lookup(a, path, strlen(path));
	const struct znode *nb = tree_lookup(b, path, strlen(path));
	struct zview va, vb;
	if (!nb)
		fail_msg("seed %llu (%s): %s missing", (unsigned long long)seed,
			 how, path);
	znode_view(na, &va);
	znode_view(nb, &vb);
	const struct zstat *x = &va.stat, *y = &vb.stat;
	if (x->czxid != y->czxid || x->mzxid != y->mzxid ||
	    x->ctime != y->ctime || x->mtime != y->mtime ||
	    x->version != y->version || x->cversion != y->cversion ||
	    x->aversion != y->aversion ||
	    x->ephemeral_owner != y->ephemeral_owner ||
	    x->data_length != y->data_length ||
	    x->num_children != y->num_children || x->pzxid != y->pzxid ||
	    va.data_null != vb.data_null ||
	    (va.stat.data_length &&
	     memcmp(va.data, vb.data, (size_t)va.stat.data_length)) ||
	    va.acl->n != vb.acl->n || va.acl->e[0].perms != vb.acl->e[0].perms)
		fail_msg("seed %llu (%s): %s differs: cversion %d/%d "
			 "numChildren %d/%d pzxid %llx/%llx version %d/%d "
			 "mzxid %llx/%llx aversion %d/%d czxid %llx/%llx "
			 "times %lld/%lld %lld/%lld owner %llx/%llx "
			 "length %d/%d",
			 (unsigned long long)seed, how, path, va.stat.cversion,
			 vb.stat.cversion, va.stat.num_children,
			 vb.stat.num_children, (unsigned long long)va.stat.pzxid,
			 (unsigned long long)vb.stat.pzxid, va.stat.version,
			 vb.stat.version, (unsigned long long)va.stat.mzxid,
			 (unsigned long long)vb.stat.mzxid, va.stat.aversion,
			 vb.stat.aversion, (unsigned long long)va.stat.czxid,
			 (unsigned long long)vb.stat.czxid,
			 (long long)va.stat.ctime, (long long)vb.stat.ctime,
			 (long long)va.stat.mtime, (long long)vb.stat.mtime,
			 (unsigned long long)va.stat.ephemeral_owner,
			 (unsigned long long)vb.stat.ephemeral_owner,
			 va.stat.data_length, vb.stat.data_length);
	struct rw_kids k = rw_kids(a, path), kb = rw_kids(b, path);
	if (k.n != kb.n)
		fail_msg("seed %llu (%s): %s has %d children, not %d",
			 (unsigned long long)seed, how, path, kb.n, k.n);
	int n = 1;
	for (int i = 0; i < k.n; i++)
		n += rw_same(a, b, k.p[i], seed, how);
	free(k.p);
	free(kb.p);
	return n;
}

/* A SNAP install's numChildren: counted from the children loaded, and
 * cversion from the creates the walk recorded (ensemble.c,
 * fix_cversion). */
static int rw_count_kid(const char *name, size_t len, void *arg)
{
	(*(int32_t *)arg)++;
	return 0;
}

static void rw_recount(struct tree *t, const char *path)
{
	const struct znode *n = tree_lookup(t, path, strlen(path));
	struct zview v;
	int32_t kids = 0;
	znode_view(n, &v);
	znode_children(n, rw_count_kid, &kids);
	struct zstat st = v.stat;
	st.cversion = 2 * zk_cversion_stored(&v.stat) - kids;
	st.num_children = kids;
	assert_int_equal(tree_node_restore(t, path, strlen(path), &st, v.data,
					   v.data_null ? -1 : v.stat.data_length,
					   (struct zacl *)v.acl, false),
			 ZOK);
	struct rw_kids k = rw_kids(t, path);
	for (int i = 0; i < k.n; i++)
		rw_recount(t, k.p[i]);
	free(k.p);
}

static void rw_check(struct tree *live, const char *snap_dir, uint64_t seed,
		     const char *how)
{
	struct tree *r = tree_create();
	struct zab_seq_config cfg = {.tree = r, .n_workers = 1,
				     .snap_dir = snap_dir, .log_dir = dir};
	char err[256] = "";
	struct zab_seq *s = zab_seq_create(&cfg);
	assert_non_null(s);
	if (zab_seq_recover(s, err, sizeof(err)))
		fail_msg("seed %llu (%s): %s", (unsigned long long)seed, how,
			 err);
	int n = rw_same(live, r, "/", seed, how);
	/* the tree holds "/zookeeper" and its two children besides */
	assert_int_equal(tree_node_count(r), (uint64_t)n + 3);
	done(s, r);
}

static void rw_seed(uint64_t seed)
{
	struct rw g = {.t = tree_create(), .rng = seed, .zxid = 0x100000000ull,
		       .session = SESSION};
	char sdir[300];
	jw_int(&g.acl_open, ZPERM_ALL);
	jw_str(&g.acl_open, "world");
	jw_str(&g.acl_open, "anyone");
	jw_int(&g.acl_read, ZPERM_READ);
	jw_str(&g.acl_read, "world");
	jw_str(&g.acl_read, "anyone");
	for (int i = 0; i < 300; i++)
		rw_txn(&g); /* before the snapshot: not logged */
	rm_dir(dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	struct zlog_config c = {dir, dir, 1 << 20, true};
	char err[256] = "";
	struct rw_walk w = {.t = g.t, .zxid = g.zxid};
	/* the hook before the log's writer thread starts, back after it
	 * ends: it reads the hook too */
	rw_now = &g;
	zlog_pwrite_hook = rw_pwrite;
	g.log = zlog_open(&c, g.zxid, err, sizeof(err));
	if (!g.log)
		fail_msg("zlog_open: %s", err);
	uint8_t pw[ZK_PASSWD_LEN] = {0};
	jw_int(&w.blob, 1);
	jw_long(&w.blob, g.session);
	jw_int(&w.blob, 30000);
	jw_buf(&w.blob, pw, ZK_PASSWD_LEN);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, rw_walk_main, &w), 0);
	/* the generator's turns while the walk goes on */
	while (!__atomic_load_n(&w.done, __ATOMIC_ACQUIRE)) {
		int k = __atomic_load_n(&g.want, __ATOMIC_ACQUIRE);
		if (!k) {
			rcu_quiescent_state();
			sched_yield();
			continue;
		}
		while (k--)
			rw_txn(&g);
		rcu_quiescent_state();
		__atomic_store_n(&g.want, 0, __ATOMIC_RELEASE);
	}
	pthread_join(th, NULL);
	assert_int_equal(w.rc, 0);
	for (int i = 0; i < 50; i++)
		rw_txn(&g);
	zlog_kick(g.log);
	for (int i = 0; i < 2000 && zlog_durable(g.log) < g.zxid; i++)
		poll(NULL, 0, 5);
	assert_int_equal(zlog_durable(g.log), g.zxid);
	zlog_close(g.log);
	zlog_pwrite_hook = pwrite;
	rw_now = NULL;
	rw_check(g.t, dir, seed, "paddock's snapshot");
	/* the same snapshot as a learner installs a SNAP: numChildren
	 * counted, in a directory of its own, the same log */
	struct tree *u = tree_create();
	zxid_t sz;
	void *blob;
	size_t blen;
	assert_int_equal(zsnap_load(dir, u, &sz, &blob, &blen, NULL, NULL, err,
				    sizeof(err)),
			 ZOK);
	tree_restore_done(u);
	tree_write_begin(u);
	rw_recount(u, "/");
	tree_write_end(u, sz);
	snprintf(sdir, sizeof(sdir), "%s/snap", dir);
	assert_int_equal(mkdir(sdir, 0700), 0);
	assert_int_equal(zsnap_write(sdir, u, sz, blob, blen, NULL), 0);
	free(blob);
	tree_destroy(u);
	rw_check(g.t, sdir, seed, "counted as a SNAP install");
	rm_dir(sdir);
	tree_destroy(g.t);
	jw_free(&g.acl_open);
	jw_free(&g.acl_read);
	jw_free(&w.blob);
}

static void test_random_writes_racing_the_walk_recover_exactly(void **state)
{
	const char *env = getenv("PADDOCK_REPLAY_SEEDS");
	uint64_t first = 1, n = env ? strtoull(env, NULL, 10) : 40;
	const char *one = getenv("PADDOCK_REPLAY_SEED");
	if (one)
		first = strtoull(one, NULL, 10), n = 1;
	for (uint64_t seed = first; seed < first + n; seed++)
		rw_seed(seed);
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
	    T(test_random_writes_racing_the_walk_recover_exactly),
	};
	int rc;

	rcu_register_thread();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rcu_unregister_thread();
	return rc;
#undef T
}
