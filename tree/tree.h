/*
 * tree.h — the znode tree, stat rules, ACLs and path validation.
 *
 * Design
 * ------
 * One thread (the sequencer) writes; any number of worker threads read
 * concurrently under liburcu's QSBR flavour (each reader thread is
 * registered with rcu_register_thread() and reports quiescent states
 * between loop passes).
 *
 * A znode is found by its full path in one lock-free hash table
 * (cds_lfht).  Its mutable part (stat + data + ACL) lives in an immutable
 * "version" that the writer replaces with rcu_assign_pointer() and frees
 * after a grace period, so a reader always sees a stat that matches the
 * data it returns.  Children hang off their parent on an RCU list, so a
 * reader can list them while the writer adds and removes.  Znodes and
 * versions are packed (a 100-byte value costs ~215 bytes in all); the
 * layout is described at the top of tree.c.
 *
 * A multi-op transaction, or a batch of them, is applied between
 * tree_write_begin() and tree_write_end(); readers that must see a batch
 * atomically bracket their read with tree_read_begin()/tree_read_retry()
 * (a sequence count, as Linux's seqcount_t).
 *
 * Semantics follow Apache ZooKeeper 3.8 DataTree: czxid/mzxid/pzxid,
 * version/cversion/aversion, sequential counters from the parent's
 * cversion, ephemeralOwner encodings for containers and TTL nodes.
 */
#ifndef PADDOCK_TREE_H
#define PADDOCK_TREE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

typedef int64_t zxid_t;

/* Milliseconds / microseconds of a clock: CLOCK_MONOTONIC for deadlines
 * and latencies, CLOCK_REALTIME for ctime/mtime. */
static inline int64_t zk_clock_ms(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int64_t zk_clock_us(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ZooKeeper's AvgMinMaxCounter (mntr's zk_avg_/min_/max_/cnt_/sum_<name>;
 * struct zk_basic adds Prometheus' 0.5 quantile): one writer thread, read
 * racily by any (relaxed atomics: no locked instruction on the writer's
 * path).  min is 0 until the first value, as ZooKeeper prints it. */
struct zk_amm {
	int64_t cnt, sum, min, max;
};

static inline void zk_amm_add(struct zk_amm *a, int64_t v)
{
	int64_t n = __atomic_load_n(&a->cnt, __ATOMIC_RELAXED);
	int64_t mn = __atomic_load_n(&a->min, __ATOMIC_RELAXED);
	int64_t mx = __atomic_load_n(&a->max, __ATOMIC_RELAXED);
	if (!n || v < mn)
		__atomic_store_n(&a->min, v, __ATOMIC_RELAXED);
	if (!n || v > mx)
		__atomic_store_n(&a->max, v, __ATOMIC_RELAXED);
	__atomic_store_n(&a->sum, __atomic_load_n(&a->sum, __ATOMIC_RELAXED) + v,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&a->cnt, n + 1, __ATOMIC_RELAXED);
}

/* Back to no values (ServerMetrics.resetAll); the writer thread only. */
static inline void zk_amm_reset(struct zk_amm *a)
{
	__atomic_store_n(&a->cnt, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&a->sum, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&a->min, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&a->max, 0, __ATOMIC_RELAXED);
}

static inline void zk_amm_read(const struct zk_amm *a, struct zk_amm *out)
{
	out->cnt = __atomic_load_n(&a->cnt, __ATOMIC_RELAXED);
	out->sum = __atomic_load_n(&a->sum, __ATOMIC_RELAXED);
	out->min = __atomic_load_n(&a->min, __ATOMIC_RELAXED);
	out->max = __atomic_load_n(&a->max, __ATOMIC_RELAXED);
}

/*
 * A latency histogram (µs), written by one thread (a worker, the
 * sequencer), read racily by any: log-linear buckets, four per power of
 * two (values below 4 µs exact), so a percentile read from it is within
 * 25 % of the true one.  ZooKeeper's AvgMinMaxPercentileCounters come
 * from these (readlatency and updatelatency from the workers', the ZAB
 * latencies from the sequencer's): mntr's avg_, min_, max_, cnt_, sum_,
 * p50_ .. p999_ (in ms) over every sample since start or srst,
 * Prometheus' quantiles over a time window (dataplane/hist.c).
 *
 * The window is the Prometheus Java client's (Summary's
 * TimeWindowQuantiles, maxAgeSeconds 600 and ageBuckets 5 by default): a
 * quantile covers the samples of the current period and the
 * ZK_HIST_SLOTS - 1 before it, a period being max age / ZK_HIST_SLOTS long
 * and counted from zk_hist_init's origin.  Where the client adds each
 * sample to all five of its buckets, a sample here is counted once, in
 * the slot of its period (zk_hist_add: one bucket increment), and a
 * reader adds up the slots whose period is in the window
 * (zk_hist_window).  When the writer reuses a slot for a new period
 * it first moves the slot's counts to `old`, so old plus every slot is
 * everything since start or srst (zk_hist_all).
 */
#define ZK_HIST_BUCKETS 120 /* up to 2^31 µs */
#define ZK_HIST_SLOTS 5      /* the client's default ageBuckets */
struct zk_hist {
	_Atomic int64_t n, sum, min, max; /* samples; µs; since srst */
	/* the writer's: the slot of the current period, when it ends;
	 * the periods' origin and length (zk_hist_init) */
	int cur;
	int64_t next_ms, origin_ms, period_ms;
	_Atomic int64_t period[ZK_HIST_SLOTS]; /* slot i's period, -1: none */
	_Atomic uint64_t b[ZK_HIST_SLOTS][ZK_HIST_BUCKETS];
	_Atomic uint64_t old[ZK_HIST_BUCKETS]; /* periods left behind */
};

static inline unsigned zk_hist_bucket(int64_t us)
{
	if (us < 4)
		return us < 0 ? 0 : (unsigned)us;
	unsigned e = 63u - (unsigned)__builtin_clzll((uint64_t)us);
	unsigned i = 4 * (e - 1) + (unsigned)((us >> (e - 2)) & 3);
	return i < ZK_HIST_BUCKETS ? i : ZK_HIST_BUCKETS - 1;
}

/* Any thread, before the writer starts: empty, with periods of
 * period_ms (> 0) counted from origin_ms (monotonic ms). */
void zk_hist_init(struct zk_hist *h, int64_t origin_ms, int64_t period_ms);
/* The writer: everything back to empty (srst), periods unchanged. */
void zk_hist_reset(struct zk_hist *h);
/* The writer, at the first sample of a new period (zk_hist_add). */
void zk_hist_rotate(struct zk_hist *h, int64_t now_ms);
/* n samples of us µs at now_ms (monotonic ms, not before the last
 * call's); only the writer calls it (loads and stores, no locked
 * instruction; one bucket increment) */
static inline void zk_hist_add(struct zk_hist *h, int64_t us, int64_t n,
			       int64_t now_ms)
{
	if (now_ms >= h->next_ms)
		zk_hist_rotate(h, now_ms);
	_Atomic uint64_t *b = &h->b[h->cur][zk_hist_bucket(us)];
	atomic_store_explicit(b, atomic_load_explicit(b, memory_order_relaxed) +
					 (uint64_t)n, memory_order_relaxed);
	atomic_store_explicit(&h->n, atomic_load_explicit(&h->n, memory_order_relaxed) + n,
			      memory_order_relaxed);
	atomic_store_explicit(&h->sum,
			      atomic_load_explicit(&h->sum, memory_order_relaxed) + us * n,
			      memory_order_relaxed);
	if (us < atomic_load_explicit(&h->min, memory_order_relaxed))
		atomic_store_explicit(&h->min, us, memory_order_relaxed);
	if (us > atomic_load_explicit(&h->max, memory_order_relaxed))
		atomic_store_explicit(&h->max, us, memory_order_relaxed);
}

/* Any thread: add h's buckets since start or srst to b; h's window at
 * now_ms (the periods now_ms's and the ZK_HIST_SLOTS - 1 before it) to
 * b, returning how many samples that is */
void zk_hist_all(const struct zk_hist *h, uint64_t b[ZK_HIST_BUCKETS]);
uint64_t zk_hist_window(const struct zk_hist *h, int64_t now_ms,
			uint64_t b[ZK_HIST_BUCKETS]);
/* The writer, or any thread before the writer starts: periods of
 * period_ms (> 0) from origin_ms from now on.  The samples of the
 * window at now_ms (under the old periods) move to now_ms's period under
 * the new ones, the rest stay in zk_hist_all; n, sum, min, max stay. */
void zk_hist_retime(struct zk_hist *h, int64_t origin_ms, int64_t period_ms,
		    int64_t now_ms);

/*
 * ZooKeeper's BASIC summaries (AvgMinMaxCounters: fsynctime,
 * node_created_watch_count, ...): mntr's avg/min/max/cnt/sum from the
 * zk_amm, exactly as before; Prometheus' windowed 0.5 quantile
 * (PrometheusMetricsProvider.PrometheusSummary builds a BASIC summary
 * with .quantile(0.5, 0.05)) from a zk_hist of the same values, in the
 * counter's own unit (ms, a count: the buckets hold any int64, not only
 * µs), so within 25 % (the bucket) where the Java client's CKMS sketch
 * is within 5 % of rank.  One writer; zk_basic_add is a few plain loads
 * and stores, no locked instruction.  zk_hist_init the histogram before
 * the first sample (a zeroed zk_amm is empty).
 */
struct zk_basic {
	struct zk_amm a;
	struct zk_hist h;
};

/* The writer: v at now_ms (monotonic ms, not before the last call's) */
static inline void zk_basic_add(struct zk_basic *b, int64_t v, int64_t now_ms)
{
	zk_amm_add(&b->a, v);
	zk_hist_add(&b->h, v, 1, now_ms);
}

/* The writer: back to no values (srst), the histogram's periods kept */
static inline void zk_basic_reset(struct zk_basic *b)
{
	zk_amm_reset(&b->a);
	zk_hist_reset(&b->h);
}

/* A wall-clock time in ms as Java's Date.toString prints it ("Mon Dec 07
 * 05:00:53 UTC 2026"), as four-letter words show expiry times. */
static inline void zk_java_date(char *buf, size_t len, int64_t wall_ms)
{
	time_t t = (time_t)(wall_ms / 1000);
	struct tm tm;
	if (!localtime_r(&t, &tm) ||
	    !strftime(buf, len, "%a %b %d %H:%M:%S %Z %Y", &tm))
		snprintf(buf, len, "%lld", (long long)wall_ms);
}

/* ------------------------------------------------------------------ */
/* Error codes: ZooKeeper's wire values (KeeperException.Code).         */
/* ------------------------------------------------------------------ */
#define ZK_ERRORS(X)                                                      \
	X(ZOK, 0, "ok")                                                   \
	X(ZSYSTEMERROR, -1, "system error")                               \
	X(ZRUNTIMEINCONSISTENCY, -2, "runtime inconsistency")             \
	X(ZDATAINCONSISTENCY, -3, "data inconsistency")                   \
	X(ZCONNECTIONLOSS, -4, "connection loss")                         \
	X(ZMARSHALLINGERROR, -5, "marshalling error")                     \
	X(ZUNIMPLEMENTED, -6, "unimplemented")                            \
	X(ZOPERATIONTIMEOUT, -7, "operation timeout")                     \
	X(ZBADARGUMENTS, -8, "bad arguments")                             \
	X(ZNEWCONFIGNOQUORUM, -13, "new config has no quorum")            \
	X(ZRECONFIGINPROGRESS, -14, "reconfig in progress")               \
	X(ZAPIERROR, -100, "api error")                                   \
	X(ZNONODE, -101, "no node")                                       \
	X(ZNOAUTH, -102, "not authenticated")                             \
	X(ZBADVERSION, -103, "bad version")                               \
	X(ZNOCHILDRENFOREPHEMERALS, -108, "no children for ephemerals")   \
	X(ZNODEEXISTS, -110, "node exists")                               \
	X(ZNOTEMPTY, -111, "not empty")                                   \
	X(ZSESSIONEXPIRED, -112, "session expired")                       \
	X(ZINVALIDCALLBACK, -113, "invalid callback")                     \
	X(ZINVALIDACL, -114, "invalid acl")                               \
	X(ZAUTHFAILED, -115, "authentication failed")                     \
	X(ZCLOSING, -116, "closing")                                      \
	X(ZNOTHING, -117, "nothing")                                      \
	X(ZSESSIONMOVED, -118, "session moved")                           \
	X(ZNOTREADONLY, -119, "not read only")                            \
	X(ZEPHEMERALONLOCALSESSION, -120, "ephemeral on local session")   \
	X(ZNOWATCHER, -121, "no watcher")                                 \
	X(ZRECONFIGDISABLED, -123, "reconfig disabled")                   \
	X(ZSESSIONCLOSEDREQUIRESASLAUTH, -124, "session requires sasl")   \
	X(ZQUOTAEXCEEDED, -125, "quota exceeded")                         \
	X(ZTHROTTLEDOP, -127, "throttled")

enum zk_err {
#define ZK_ERR_ENUM(name, value, text) name = value,
	ZK_ERRORS(ZK_ERR_ENUM)
#undef ZK_ERR_ENUM
};

/* Human-readable text of a code; never NULL ("unknown error" for others). */
const char *zk_strerror(int code);

/* ------------------------------------------------------------------ */
/* Stat, ACL                                                            */
/* ------------------------------------------------------------------ */
struct zstat {
	int64_t czxid;
	int64_t mzxid;
	int64_t ctime; /* ms since the epoch */
	int64_t mtime;
	int32_t version;
	int32_t cversion;
	int32_t aversion;
	int64_t ephemeral_owner;
	int32_t data_length;
	int32_t num_children;
	int64_t pzxid;
};

/* Permission bits (ZooDefs.Perms). */
enum {
	ZPERM_READ = 1,
	ZPERM_WRITE = 2,
	ZPERM_CREATE = 4,
	ZPERM_DELETE = 8,
	ZPERM_ADMIN = 16,
	ZPERM_ALL = 31,
};

/* ephemeralOwner encodings (EphemeralType.java). */
#define ZK_CONTAINER_OWNER ((int64_t)INT64_MIN)
#define ZK_TTL_MASK 0xff00000000000000ULL
#define ZK_TTL_MAX 0x000000ffffffffffLL
static inline bool zk_owner_is_ttl(int64_t owner)
{
	return owner != ZK_CONTAINER_OWNER &&
	       ((uint64_t)owner & ZK_TTL_MASK) == ZK_TTL_MASK;
}
static inline int64_t zk_owner_ttl(int64_t owner)
{
	return (int64_t)((uint64_t)owner & ~ZK_TTL_MASK);
}
static inline int64_t zk_ttl_owner(int64_t ttl_ms)
{
	return (int64_t)(ZK_TTL_MASK | (uint64_t)ttl_ms);
}
/* A real session id (ephemeral node), not container/TTL/persistent. */
static inline bool zk_owner_is_session(int64_t owner)
{
	return owner != 0 && owner != ZK_CONTAINER_OWNER &&
	       !zk_owner_is_ttl(owner);
}

struct zacl_entry {
	int32_t perms;
	char *scheme; /* NUL-terminated, owned by the zacl */
	char *id;
};

/*
 * An ACL list.  Immutable once built; shared between znode versions and
 * reference-counted by the writer thread only (readers never touch the
 * count: a zacl referenced by a live version outlives every reader of
 * that version because versions are freed through call_rcu).
 */
struct zacl {
	int refs;
	int n;
	int32_t anyone; /* the perms world:anyone entries grant (zacl_check) */
	struct zacl_entry e[];
};

/* Build an ACL with n entries copied from the arrays; NULL on ENOMEM.
 * The result has refs == 1 and belongs to the caller. */
struct zacl *zacl_new(int n, const int32_t *perms, const char *const *scheme,
		      const char *const *id);
/* World:anyone with ZPERM_ALL (ZooDefs.Ids.OPEN_ACL_UNSAFE). Caller owns. */
struct zacl *zacl_open(void);
struct zacl *zacl_ref(struct zacl *a);
/* Drop a reference to an ACL nobody else can see yet (frees at once). */
void zacl_unref(struct zacl *a);
/* Writer: drop a reference to an ACL that readers may see (it is or was
 * in the tree); the last one frees it after an RCU grace period.  The
 * caller is a registered RCU thread. */
void zacl_release(struct zacl *a);
bool zacl_equal(const struct zacl *a, const struct zacl *b);

/* An authenticated identity of a connection ("digest","bob:hash"), ("ip",
 * "127.0.0.1"), ("super",""), ("sasl",...).  Owned by the connection. */
struct zauth_id {
	const char *scheme;
	const char *id;
};

/*
 * ACL check (ZooKeeperServer.checkACL): does any entry of `acl` grant
 * `perm` to any of the `n` identities?  world:anyone matches everyone; an
 * "ip" entry matches an ("ip", addr) identity, with an optional /bits
 * prefix; "digest" and "auth"-expanded entries match by exact id.  An
 * identity with scheme "super" passes every check.  acl == NULL or empty
 * grants everything.  Returns ZOK or ZNOAUTH.  Any thread.
 */
int zacl_check(const struct zacl *acl, int perm, const struct zauth_id *ids,
	       int n);

/*
 * Validate and fix up an ACL from a create/setACL request
 * (PrepRequestProcessor.fixupACL): "world" must be "anyone"; "auth"
 * entries are replaced by one entry per authenticated non-ip/non-world
 * identity of the caller (ZINVALIDACL if there is none); "digest" ids must
 * contain ':'; "ip" ids must parse as an address[/bits]; unknown schemes
 * and an empty list are ZINVALIDACL.  On ZOK *out is a new zacl (refs 1),
 * owned by the caller.  `providers`: the optional schemes that have a
 * provider (ZACL_X509: authProvider.x509, ZACL_SASL: authProvider's
 * SASLAuthenticationProvider; ids compared exactly).
 */
#define ZACL_X509 1u
#define ZACL_SASL 2u
int zacl_fixup(const struct zacl *in, const struct zauth_id *ids, int n,
	       unsigned providers, struct zacl **out);

/* "user:password" -> "user:base64(sha1(user:password))" into out (NUL
 * terminated).  Returns length or -1 if out_len is too small. */
int zk_digest(const char *user_pw, size_t len, char *out, size_t out_len);

/*
 * Path validation (PathUtils.validatePath): starts with '/', no empty
 * component ("//"), no trailing '/' except for "/", no "." or ".."
 * component, no NUL or other forbidden characters (\u0001-\u001F,
 * \u007F-\u009F, \ud800-\uf8ff, \ufff0-\uffff in UTF-8).  `sequential`
 * allows a trailing '/' (a create of "/a/" with the sequential flag makes
 * "/a/0000000001").  Returns ZOK or ZBADARGUMENTS.
 */
int zk_path_validate(const char *path, size_t len, bool sequential);

/* java.lang.String.hashCode of the string a Java server decodes from
 * these UTF-8 bytes (over its UTF-16 code units; a malformed byte is
 * U+FFFD).  For orders that follow a Java hash table's, e.g. whoAmI's. */
int32_t zk_java_hash(const char *s, size_t len);

/* The length of a path's parent part: "/" (1) for "/a" and for a path
 * without a '/', "/a" (2) for "/a/b" and for "/a/" (a sequential
 * create's prefix). */
static inline size_t zk_parent_len(const char *path, size_t len)
{
	size_t i = len;

	while (i > 0 && path[i - 1] != '/')
		i--;
	return i <= 1 ? 1 : i - 1;
}

/* The hash of a path used by the tree's table; also good for other
 * path-keyed tables (the sequencer's outstanding changes, watches). */
uint64_t zk_path_hash(const char *path, size_t len);

/* ------------------------------------------------------------------ */
/* The tree                                                             */
/* ------------------------------------------------------------------ */
struct tree;
struct znode;

/*
 * A consistent view of a znode's current version: the stat decoded (a
 * version stores only the fields that differ from their defaults), the
 * data and ACL by pointer, valid until the reading thread's next
 * quiescent state.
 */
struct zview {
	struct zstat stat;
	const char *data; /* stat->data_length bytes; NULL if 0 */
	bool data_null;   /* set with a null buffer: getData answers -1 */
	const struct zacl *acl;
};

/* Create a tree holding "/", "/zookeeper", "/zookeeper/quota" and
 * "/zookeeper/config" (all zxid 0, world:anyone ALL, except
 * /zookeeper/config whose ACL is world:anyone READ, as in ZooKeeper 3.8).
 * NULL on ENOMEM.  Caller owns; call before starting readers. */
struct tree *tree_create(void);
/* Free everything; no readers or writer may be running. */
void tree_destroy(struct tree *t);

/* Number of znodes, and total bytes of paths + data (for mntr). */
uint64_t tree_node_count(const struct tree *t);
uint64_t tree_data_bytes(const struct tree *t);
/* Bytes the tree holds for znodes and versions: its slab chunks in use
 * or kept, and its blocks too big for them (ACLs, data over 512 bytes
 * and the hash table not counted).  Updated at each tree_write_end. */
uint64_t tree_mem_bytes(const struct tree *t);

/* -- read side: any registered RCU reader thread, inside a read-side
 *    section (with QSBR: between quiescent states) -- */

/* Seqcount bracketing for readers that need a batch-atomic view:
 *   do { s = tree_read_begin(t); ...read... } while (tree_read_retry(t, s));
 * tree_read_begin spins while a writer is inside write_begin/end. */
unsigned tree_read_begin(const struct tree *t);
bool tree_read_retry(const struct tree *t, unsigned seq);

/* Look up a znode by full path (not NUL-terminated necessarily). NULL if
 * absent. */
const struct znode *tree_lookup(const struct tree *t, const char *path,
				size_t len);
/* The same with hash = zk_path_hash(path, len), for callers that use the
 * hash for their own tables too. */
const struct znode *tree_lookup_hashed(const struct tree *t, const char *path,
				       size_t len, uint64_t hash);
void znode_view(const struct znode *n, struct zview *v);
/* The full path: znode_path_len bytes, not NUL-terminated. */
const char *znode_path(const struct znode *n);
size_t znode_path_len(const struct znode *n);

/* Call fn(child_name, name_len, arg) for each child, in no particular
 * order (creation order today); stop early if fn returns non-zero (that value is returned).
 * Returns 0 after a full walk. */
int znode_children(const struct znode *n,
		   int (*fn)(const char *name, size_t len, void *arg),
		   void *arg);

/* The same in the order ZooKeeper's getChildren lists them (its
 * HashSet's iteration order; see "Children order" in tree.c), or in the
 * reverse of it.  `b` is one reader thread's scratch and cache of recent
 * orders, kept between calls ({0} to start, zorder_buf_free at the end).
 * -1 if out of memory, before any call of fn. */
struct zorder_buf {
	void *p;
	size_t cap;
	struct zorder_cache *cache;
};
int znode_children_zk(const struct tree *t, const struct znode *n,
		      int (*fn)(const char *name, size_t len, void *arg),
		      void *arg, struct zorder_buf *b, bool reverse);
void zorder_buf_free(struct zorder_buf *b);

/* Number of descendants (not counting n itself), for
 * getAllChildrenNumber.  Walks the subtree; -1 if out of memory (a tree
 * deeper than 64 levels needs a bigger stack). */
int64_t znode_descendants(const struct znode *n);

/* Largest zxid reflected in the tree so far (set by tree_write_end). */
zxid_t tree_applied_zxid(const struct tree *t);

/* -- write side: the sequencer thread only -- */

void tree_write_begin(struct tree *t);
/* Publish everything written since tree_write_begin; `zxid` becomes
 * tree_applied_zxid(). */
void tree_write_end(struct tree *t, zxid_t zxid);

/*
 * Create a znode.  The caller (sequencer prep) has already validated the
 * path, the ACL and that the parent exists, may have children and the
 * node does not exist; here these are re-checked and reported as
 * ZNONODE / ZNOCHILDRENFOREPHEMERALS / ZNODEEXISTS without change.
 * `path` is the final path (sequential suffix already added).
 * data_len < 0 (a null buffer on the wire) stores empty data that reads
 * back as null, as ZooKeeper does; the same holds for set_data.  The
 * parent's cversion is incremented, its pzxid set to zxid, its
 * num_children incremented.  `acl` is referenced (caller keeps its own
 * reference).  On ZOK, *stat_out (if not NULL) gets the new node's stat.
 */
int tree_node_create(struct tree *t, const char *path, size_t len,
		     const void *data, int32_t data_len, struct zacl *acl,
		     int64_t ephemeral_owner, zxid_t zxid, int64_t time_ms,
		     struct zstat *stat_out);

/* Delete a leaf znode.  ZNONODE, ZNOTEMPTY.  Parent: cversion++,
 * pzxid = zxid, num_children--.  The node is freed after a grace period. */
int tree_node_delete(struct tree *t, const char *path, size_t len,
		     zxid_t zxid);

/* Replace data; version++, mzxid = zxid, mtime = time.  ZNONODE. */
int tree_node_set_data(struct tree *t, const char *path, size_t len,
		       const void *data, int32_t data_len, zxid_t zxid,
		       int64_t time_ms, struct zstat *stat_out);

/* Replace the ACL; aversion++.  ZNONODE.  `acl` is referenced. */
int tree_node_set_acl(struct tree *t, const char *path, size_t len,
		      struct zacl *acl, zxid_t zxid, struct zstat *stat_out);

/*
 * Snapshot loading (log/snap.c): the writer thread, before readers start.
 * Create the znode with exactly this stat (stat->data_length is taken
 * from data_len; data_len < 0 stores null data), without touching the
 * parent's stat; the parent must exist (ZNONODE otherwise).  If the node
 * exists (the nodes tree_create makes), its version is replaced by this
 * stat, data and ACL.  The session/container/TTL lists follow
 * stat->ephemeral_owner.  `acl` is referenced (caller keeps its own
 * reference).  `fresh`: the caller knows no earlier restore made this
 * path, so only the nodes tree_create makes need a lookup, and the node's
 * hash-table insertion may be deferred to tree_restore_done (inserting
 * in hash order there keeps the table's list walks in cache: a random
 * insertion order made them half of a 1M-znode restart).  A call with
 * fresh = false first inserts everything deferred.  ZOK, ZBADARGUMENTS,
 * ZNONODE, ZSYSTEMERROR (ENOMEM).
 */
int tree_node_restore(struct tree *t, const char *path, size_t len,
		      const struct zstat *stat, const void *data,
		      int32_t data_len, struct zacl *acl, bool fresh);

/* Recovery (writer, before readers start): size the hash table for about
 * `nodes` znodes now, instead of growing it step by step as they load. */
void tree_reserve(struct tree *t, uint64_t nodes);
/* Recovery (writer): after the last tree_node_restore and before any
 * other use of the tree, insert the deferred nodes into the hash table. */
void tree_restore_done(struct tree *t);

/* Recovery (writer): a child was created (`created`) or deleted by
 * transaction `zxid` while the tree holds the child's own side already
 * (a fuzzy snapshot's walk reached the child after the change): apply
 * only the parent's side.  The parent's count of creates (ZooKeeper's
 * stored cversion) grows by one for a create; numChildren becomes the
 * number of children it has now; cversion follows from both; pzxid =
 * zxid.  Counting, not adding one, makes this right whichever way the
 * snapshot's numChildren was taken: at the parent's own visit (paddock's
 * snapshots, which count children the walk then missed) or from the
 * children loaded (ZooKeeper's format, which has no numChildren).
 * O(children); it happens only for changes that raced the walk.
 * ZNONODE if the parent is missing. */
int tree_node_child_replayed(struct tree *t, const char *path, size_t len,
			     bool created, zxid_t zxid);

/* Writer-side helpers for sessions, containers and TTL nodes. */

/* Call fn(path, len, arg) for each ephemeral znode owned by `session`
 * (in creation order). */
void tree_ephemerals(const struct tree *t, int64_t session,
		     void (*fn)(const char *path, size_t len, void *arg),
		     void *arg);
/* getEphemerals' order: ZooKeeper answers from a clone of the session's
 * HashSet of paths, so the paths come by bucket of the clone's table,
 * ties in the set's own order (by bucket of its table, sized by the most
 * ephemerals the session had, then creation).  fn must not change the
 * tree.  -1 if out of memory. */
int tree_ephemerals_zk(const struct tree *t, int64_t session,
		       void (*fn)(const char *path, size_t len, void *arg),
		       void *arg);
/* Same for every container or TTL znode (candidates for the periodic
 * cleanup; the caller checks num_children / mtime). */
void tree_containers_and_ttls(const struct tree *t,
			      void (*fn)(const struct znode *n, void *arg),
			      void *arg);

/* -- Quotas (quota.c): ZooKeeper 3.8's bookkeeping in
 *    /zookeeper/quota<P>/zookeeper_stats; see quota.c's design note -- */

/* Recovery (writer): find every quota path and count its usage afresh
 * (DataTree.setupQuota), after the snapshot and the log are in. */
void tree_quota_setup(struct tree *t);

/* Writer (prep): ZooKeeperServer.checkQuota with zookeeper.enforceQuota
 * on.  Would a change of `dcount` znodes and `dbytes` data bytes at
 * `path` pass the hard limits of the quota path above it?  ZOK or
 * ZQUOTAEXCEEDED (soft limits never refuse). */
int tree_quota_check(struct tree *t, const char *path, size_t len,
		     int64_t dcount, int64_t dbytes);

/* Reader: mntr's per-namespace quota gauges (QuotaMetricsUtils): sums
 * over the limit and stats nodes under /zookeeper/quota whose path
 * starts with namespace `ns` (a hard limit counts instead of the soft
 * one), and the refusals of tree_quota_check per namespace of the
 * refused path.  Returns the number of namespaces written to out. */
#define TREE_QUOTA_NS_MAX 64
struct tree_quota_ns {
	char ns[128];
	int64_t count_limit, bytes_limit, count_usage, bytes_usage;
	bool has_limit, has_usage;
	int64_t exceeded; /* writes refused (QUOTAEXCEEDED), 0: none */
};
int tree_quota_metrics(const struct tree *t, struct tree_quota_ns *out);

/* ------------------------------------------------------------------ */
/* Digest (ZooKeeper's DigestCalculator, version 2; tree/digest.c)      */
/* ------------------------------------------------------------------ */
/*
 * A node's digest is the CRC-32 of its path ("/" hashed as ""), its data
 * and its StatPersisted fields czxid, mzxid, pzxid, ctime, mtime,
 * version, cversion, aversion and ephemeralOwner; 0 for paths under
 * "/zookeeper/".  The tree digest (TxnDigest.treeDigest,
 * ZxidDigest.digest) is the sum of all node digests, root included,
 * modulo 2^64.  ZooKeeper computes them unless zookeeper.digest.enabled
 * is false, and a follower compares its tree's digest after each
 * transaction with the one the leader's proposal carries.
 *
 * zk_node_digest reads st->cversion as ZooKeeper stores it (the count of
 * creates, zk_cversion_stored) and data NULL or dlen <= 0 as no data.
 * zk_digest_start / zk_digest_end are its two halves: the CRC over path
 * and data, then the stat (a stat-only change reuses the first).
 */
#define ZK_DIGEST_VERSION 2
int64_t zk_node_digest(const char *path, size_t len, const void *data,
		       int32_t dlen, const struct zstat *st);
uint32_t zk_digest_start(const char *path, size_t len, const void *data,
			 int32_t dlen);
int64_t zk_digest_end(uint32_t crc, const char *path, size_t len,
		      const struct zstat *st);

/* The cversion ZooKeeper stores (its number of creates under the node)
 * from the one it reports, which the tree keeps ("Stat rules"). */
static inline int32_t zk_cversion_stored(const struct zstat *st)
{
	return (int32_t)(((int64_t)st->cversion + st->num_children) / 2);
}

/* Keep the tree digest from now on (writer; off at tree_create): sums
 * every node's digest once, then follows each change.  Standalone
 * servers leave it off; an ensemble turns it on before loading. */
void tree_digest_start(struct tree *t);
bool tree_digest_on(const struct tree *t);
/* The CRC of path and data (zk_digest_start) of the node the next
 * tree_node_create or tree_node_set_data makes, which the writer already
 * has (prep): that call then skips computing it.  For that one call
 * only, whatever it returns; a wrong hint is a wrong digest. */
void tree_digest_hint(struct tree *t, uint32_t dcrc);
/* The tree digest as of the last change (writer thread, or any thread as
 * a racy read for monitoring). */
uint64_t tree_digest(const struct tree *t);
/* Node n's digest now (writer; the tree keeps a cache of them), and in
 * *dcrc the CRC of its path and data (zk_digest_start). */
int64_t tree_node_digest(struct tree *t, const struct znode *n,
			 uint32_t *dcrc);

/* ------------------------------------------------------------------ */
/* Digest log (ZooKeeper's DataTree.digestLog, the "hash" command)      */
/* ------------------------------------------------------------------ */
/*
 * As DataTree.logZxidDigest: after each transaction whose zxid is a
 * multiple of TREE_DIGEST_LOG_INTERVAL, the tree keeps (zxid, tree
 * digest), the last TREE_DIGEST_LOG_LIMIT of them, oldest dropped.
 * tree_write_end is the point: it logs `zxid` when it is above every
 * zxid it was given before (a re-publish of the applied zxid is not a
 * transaction) and the tree keeps its digest (tree_digest_start) and
 * logs (tree_digest_log_start).
 */
#define TREE_DIGEST_LOG_LIMIT 1024   /* DataTree.DIGEST_LOG_LIMIT */
#define TREE_DIGEST_LOG_INTERVAL 128 /* DataTree.DIGEST_LOG_INTERVAL */

struct tree_zxid_digest {
	zxid_t zxid;
	int64_t digest; /* tree_digest() after transaction zxid */
};

/* Writer: log from the next tree_write_end on (off at tree_create).
 * Call it once the tree's digest is right: a recovery's replay over a
 * fuzzy snapshot passes through trees no server had. */
void tree_digest_log_start(struct tree *t);
/* Any thread (no RCU read side needed): copy the log, oldest first,
 * into out[TREE_DIGEST_LOG_LIMIT]; returns the number of entries.  A
 * copy that the writer overwrote meanwhile is taken again (the log
 * changes once per TREE_DIGEST_LOG_INTERVAL transactions). */
size_t tree_digest_log(const struct tree *t, struct tree_zxid_digest *out);

#endif
