/*
 * tree.c — the znode tree under liburcu QSBR.
 *
 * Design note
 * -----------
 * Threads.  One writer (the sequencer) mutates; workers read.  Both must be
 * registered RCU threads (rcu_register_thread): cds_lfht_add/del need the
 * writer to be a registered reader, and the writer must also report
 * quiescent states (e.g. rcu_quiescent_state() after each batch), or the
 * call_rcu callbacks that free old versions never run.
 *
 * Layout.  Every znode sits in one cds_lfht keyed by its full path
 * (FNV-1a 64) and on its parent's RCU children list.  The path is stored
 * inline after the znode.  The mutable part is an immutable struct zver
 * {stat, acl, data}: data up to ZVER_INLINE_MAX bytes lives inline after
 * the stat; larger data lives in a separate struct zblob that versions of
 * the same znode share, so a stat-only change (a child created, setACL) of
 * a node holding 1 MB copies only the stat.  The writer replaces a version
 * with rcu_assign_pointer() and retires the old one with call_rcu().
 *
 * Reference counts (zacl.refs, zblob.refs) are touched by the writer only.
 * Each version holds one reference on its ACL and blob.  When a version is
 * retired the writer drops those references at once; if a count reaches 0
 * the memory itself is freed by the version's call_rcu callback (the
 * callback is chosen among four so no flag word is needed), never by the
 * writer, because readers of the old version may still be looking at it.
 *
 * A deleted znode leaves the lfht and its parent's list, its version is
 * retired, and the znode is freed by call_rcu.  Its rcu_head shares
 * storage with owner_link (the writer-only per-session / container-TTL
 * list link), which is unlinked first.
 *
 * Batch atomicity: a seqcount, odd while the writer is inside
 * tree_write_begin()/tree_write_end() (nesting allowed, the outermost pair
 * counts), with smp_wmb on the writer and smp_rmb on readers, as Linux's
 * seqcount_t.
 *
 * Stat rules (Apache ZooKeeper 3.8 DataTree / PrepRequestProcessor):
 *  - create: czxid = mzxid = pzxid = zxid, ctime = mtime = time, versions
 *    0; parent cversion++, pzxid = zxid, numChildren++.
 *  - delete: parent cversion++, pzxid = zxid, numChildren--.
 *  - setData: version++, mzxid = zxid, mtime = time.  setACL: aversion++.
 *  - ZooKeeper stores cversion as the number of creates under a node and
 *    reports cversion * 2 - numChildren (DataNode.copyStat).  We keep the
 *    reported value and bump it on create and delete, which is the same
 *    number, provided the initial nodes start where ZooKeeper's do: "/"
 *    (1 child, 0 creates) at cversion -1 and "/zookeeper" (2 children) at
 *    -2.  ZooKeeper's sequential suffix is the stored count, i.e.
 *    (cversion + numChildren) / 2.
 *  - /zookeeper/config gets READ_ACL_UNSAFE (world:anyone READ) through
 *    DataTree.addConfigNode -> setACL(configZookeeper, READ_ACL_UNSAFE, -1),
 *    which leaves its aversion at -1 (ZOOKEEPER-2014).
 *  - ephemeralOwner is stored raw (session id, container or TTL encoding);
 *    ZooKeeper reports 0 for containers and TTL nodes — that mapping is the
 *    reply encoder's job.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <urcu-qsbr.h>
#include <urcu/rculfhash.h>
#include <urcu/rculist.h>

#include "tree/tree.h"

/* One-word fields read by other threads (seqcount, applied zxid, stats):
 * C11 relaxed atomics.  The same instructions as CMM_LOAD_SHARED /
 * CMM_STORE_SHARED on x86-64, but not a data race in the C11 model, so
 * ThreadSanitizer checks them instead of reporting them.  Ordering still
 * comes from cmm_smp_rmb()/cmm_smp_wmb() around the seqcount. */
#define TREE_LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define TREE_STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

#define ZVER_INLINE_MAX 512
#define LFHT_INIT_BUCKETS 1024
#define SESS_INIT_BUCKETS 64

struct zblob {
	int refs; /* writer only */
	char bytes[];
};

struct zver {
	struct rcu_head rcu;
	struct zacl *acl;
	bool null_data; /* created/set with a null buffer (length -1) */
	struct zstat stat;
	/* data_length <= ZVER_INLINE_MAX: the bytes; else a struct zblob * */
	char data[] __attribute__((aligned(8)));
};

struct znode {
	struct cds_lfht_node ht;
	struct znode *parent;
	struct zver *ver;	       /* RCU */
	struct cds_list_head children; /* RCU, of znode.sibling */
	struct cds_list_head sibling;
	union {
		/* writer only: session's ephemerals, or containers+TTLs */
		struct cds_list_head owner_link;
		struct rcu_head rcu; /* after the node has been unlinked */
	};
	uint32_t path_len;
	uint32_t name_off;
	char path[]; /* NUL-terminated */
};

struct sess {
	int64_t id;
	struct sess *next;
	struct cds_list_head nodes; /* znode.owner_link, creation order */
};

struct tree {
	struct cds_lfht *ht;
	struct znode *root;
	unsigned seq; /* seqcount, odd while writing */
	int write_depth;
	zxid_t applied;
	uint64_t node_count;
	uint64_t data_bytes;
	struct cds_list_head ctl; /* containers and TTL nodes */
	struct sess **sb;	  /* session -> ephemerals, writer only */
	size_t sb_mask;
	size_t sb_count;
	int iter_depth; /* writer is inside tree_ephemerals & co */
	/* Hash table growth.  liburcu's lazy auto-resize did not keep up
	 * in paddockd (lookups degraded ~10x after a few hundred thousand
	 * creates), so the writer asks a resizer thread for a table of
	 * about one bucket per znode whenever the count doubles. */
	unsigned long ht_size; /* buckets last asked for (writer only) */
	struct znode *restore_parent; /* tree_node_restore's last parent */
	struct znode *restore_last;   /* and its last node */
	struct znode *create_parent;  /* tree_node_create's last parent */
	struct deferred *dq;	      /* restored, not yet in the lfht */
	size_t dq_n, dq_cap;
	pthread_t resizer;
	bool resizer_started;
	pthread_mutex_t rs_lock;
	pthread_cond_t rs_cond;
	unsigned long rs_target;
	bool rs_stop;
};

/* ------------------------------------------------------------------ */
/* Helpers                                                              */
/* ------------------------------------------------------------------ */

uint64_t zk_path_hash(const char *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ULL;
	}
	/* final avalanche so low bits (lfht bucket index) mix well */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

struct path_key {
	const char *p;
	size_t len;
};

static int path_match(struct cds_lfht_node *node, const void *key)
{
	const struct znode *n = caa_container_of(node, struct znode, ht);
	const struct path_key *k = key;

	return n->path_len == k->len && memcmp(n->path, k->p, k->len) == 0;
}

static struct znode *lookup(const struct tree *t, const char *path, size_t len)
{
	struct path_key k = {path, len};
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;

	if (!path || len == 0)
		return NULL;
	cds_lfht_lookup(t->ht, (unsigned long)zk_path_hash(path, len), path_match,
			&k, &it);
	node = cds_lfht_iter_get_node(&it);
	return node ? caa_container_of(node, struct znode, ht) : NULL;
}

static inline int32_t inc32(int32_t v, int32_t d)
{
	return (int32_t)((uint32_t)v + (uint32_t)d);
}

static inline bool ver_has_blob(const struct zver *v)
{
	return v->stat.data_length > ZVER_INLINE_MAX;
}

static inline struct zblob *ver_blob(const struct zver *v)
{
	struct zblob *b;

	memcpy(&b, v->data, sizeof(b));
	return b;
}

static inline void ver_set_blob(struct zver *v, struct zblob *b)
{
	memcpy(v->data, &b, sizeof(b));
}

static inline const char *ver_bytes(const struct zver *v)
{
	if (v->stat.data_length <= 0)
		return NULL;
	return ver_has_blob(v) ? ver_blob(v)->bytes : v->data;
}

/* A version able to hold data_len bytes (inline or a blob pointer). */
static struct zver *ver_alloc(int32_t data_len)
{
	size_t extra = data_len > ZVER_INLINE_MAX
			   ? sizeof(struct zblob *)
			   : (size_t)(data_len > 0 ? data_len : 0);

	return malloc(sizeof(struct zver) + extra);
}

/*
 * A new version with fresh data (create, setData).  Holds references on
 * nothing yet: ver_commit() takes them, so a failed operation can simply
 * free() what it allocated.
 */
static struct zver *ver_new_data(const void *data, int32_t len)
{
	struct zver *v = ver_alloc(len);
	struct zblob *b;

	if (!v)
		return NULL;
	v->acl = NULL;
	v->null_data = false; /* callers that store null data set it */
	v->stat.data_length = len;
	if (len > ZVER_INLINE_MAX) {
		b = malloc(sizeof(*b) + (size_t)len);
		if (!b) {
			free(v);
			return NULL;
		}
		b->refs = 0;
		memcpy(b->bytes, data, (size_t)len);
		ver_set_blob(v, b);
	} else if (len > 0) {
		memcpy(v->data, data, (size_t)len);
	}
	return v;
}

/* Free an uncommitted version from ver_new_data()/ver_clone(). */
static void ver_discard(struct zver *v, bool fresh_blob)
{
	if (!v)
		return;
	if (fresh_blob && ver_has_blob(v))
		free(ver_blob(v));
	free(v);
}

/* A copy of `old` (stat, ACL, data shared if in a blob) for a stat-only
 * change. */
static struct zver *ver_clone(const struct zver *old)
{
	int32_t len = old->stat.data_length;
	struct zver *v = ver_alloc(len);

	if (!v)
		return NULL;
	v->acl = old->acl;
	v->null_data = old->null_data;
	v->stat = old->stat;
	if (len > ZVER_INLINE_MAX)
		ver_set_blob(v, ver_blob(old));
	else if (len > 0)
		memcpy(v->data, old->data, (size_t)len);
	return v;
}

/* Take the references a live version holds. */
static void ver_commit(struct zver *v)
{
	zacl_ref(v->acl);
	if (ver_has_blob(v))
		ver_blob(v)->refs++;
}

static void ver_free_cb(struct rcu_head *h)
{
	free(caa_container_of(h, struct zver, rcu));
}

static void ver_free_acl_cb(struct rcu_head *h)
{
	struct zver *v = caa_container_of(h, struct zver, rcu);

	free(v->acl);
	free(v);
}

static void ver_free_blob_cb(struct rcu_head *h)
{
	struct zver *v = caa_container_of(h, struct zver, rcu);

	free(ver_blob(v));
	free(v);
}

static void ver_free_all_cb(struct rcu_head *h)
{
	struct zver *v = caa_container_of(h, struct zver, rcu);

	free(v->acl);
	free(ver_blob(v));
	free(v);
}

/* Drop a version's references (writer); report what died with it. */
static void ver_release(struct zver *v, bool *acl_dead, bool *blob_dead)
{
	*acl_dead = v->acl && --v->acl->refs == 0;
	*blob_dead = ver_has_blob(v) && --ver_blob(v)->refs == 0;
}

/* Retire a version that readers may still see: free after a grace period. */
static void ver_retire(struct zver *v)
{
	static void (*const cb[2][2])(struct rcu_head *) = {
	    {ver_free_cb, ver_free_blob_cb},
	    {ver_free_acl_cb, ver_free_all_cb},
	};
	bool a, b;

	ver_release(v, &a, &b);
	call_rcu(&v->rcu, cb[a][b]);
}

/* Free a version nobody can see any more (tree_destroy). */
static void ver_free_now(struct zver *v)
{
	bool a, b;

	ver_release(v, &a, &b);
	if (a)
		free(v->acl);
	if (b)
		free(ver_blob(v));
	free(v);
}

/* Publish nv as n's version and retire the old one. */
static void node_swap_ver(struct znode *n, struct zver *nv)
{
	struct zver *old = n->ver;

	ver_commit(nv);
	rcu_assign_pointer(n->ver, nv);
	ver_retire(old);
}

static struct znode *node_alloc(const char *path, size_t len)
{
	struct znode *n = malloc(sizeof(*n) + len + 1);
	const char *slash;

	if (!n)
		return NULL;
	cds_lfht_node_init(&n->ht);
	CDS_INIT_LIST_HEAD(&n->children);
	CDS_INIT_LIST_HEAD(&n->sibling);
	CDS_INIT_LIST_HEAD(&n->owner_link);
	n->parent = NULL;
	n->ver = NULL;
	memcpy(n->path, path, len);
	n->path[len] = '\0';
	n->path_len = (uint32_t)len;
	slash = memrchr(path, '/', len);
	n->name_off = slash ? (uint32_t)(slash - path + 1) : 0;
	return n;
}

static void node_free_cb(struct rcu_head *h)
{
	free(caa_container_of(h, struct znode, rcu));
}

/* ------------------------------------------------------------------ */
/* Sessions -> ephemerals (writer only)                                 */
/* ------------------------------------------------------------------ */

static size_t sess_slot(const struct tree *t, int64_t id)
{
	uint64_t h = (uint64_t)id * 0x9e3779b97f4a7c15ULL;

	return (size_t)(h >> 32) & t->sb_mask;
}

static struct sess *sess_find(const struct tree *t, int64_t id)
{
	struct sess *s;

	for (s = t->sb[sess_slot(t, id)]; s; s = s->next)
		if (s->id == id)
			return s;
	return NULL;
}

static void sess_grow(struct tree *t)
{
	size_t nb = (t->sb_mask + 1) * 2, i;
	struct sess **b = calloc(nb, sizeof(*b));
	struct sess **old = t->sb;
	size_t old_n = t->sb_mask + 1;

	if (!b)
		return; /* keep the old table; chains just get longer */
	t->sb = b;
	t->sb_mask = nb - 1;
	for (i = 0; i < old_n; i++) {
		struct sess *s = old[i], *next;

		for (; s; s = next) {
			size_t k = sess_slot(t, s->id);

			next = s->next;
			s->next = b[k];
			b[k] = s;
		}
	}
	free(old);
}

/* Find or make the entry; NULL on ENOMEM. */
static struct sess *sess_get(struct tree *t, int64_t id)
{
	struct sess *s = sess_find(t, id);
	size_t k;

	if (s)
		return s;
	s = malloc(sizeof(*s));
	if (!s)
		return NULL;
	s->id = id;
	CDS_INIT_LIST_HEAD(&s->nodes);
	k = sess_slot(t, id);
	s->next = t->sb[k];
	t->sb[k] = s;
	if (++t->sb_count > t->sb_mask + 1)
		sess_grow(t);
	return s;
}

static void sess_drop_if_empty(struct tree *t, int64_t id)
{
	struct sess **pp, *s;

	if (t->iter_depth)
		return; /* tree_ephemerals is walking a list: keep heads */
	for (pp = &t->sb[sess_slot(t, id)]; (s = *pp); pp = &s->next) {
		if (s->id != id)
			continue;
		if (cds_list_empty(&s->nodes)) {
			*pp = s->next;
			t->sb_count--;
			free(s);
		}
		return;
	}
}

/* ------------------------------------------------------------------ */
/* Create / destroy                                                     */
/* ------------------------------------------------------------------ */

static void lfht_add(struct tree *t, struct znode *n)
{
	cds_lfht_add(t->ht, (unsigned long)zk_path_hash(n->path, n->path_len),
		     &n->ht);
}

/* Insert n unless its path is there; false (nothing changed) if it is. */
static bool lfht_add_unique(struct tree *t, struct znode *n)
{
	struct path_key k = {n->path, n->path_len};

	return cds_lfht_add_unique(t->ht,
				   (unsigned long)zk_path_hash(n->path,
							       n->path_len),
				   path_match, &k, &n->ht) == &n->ht;
}

/* A restored node waiting for its hash-table insertion. */
struct deferred {
	uint64_t hash;
	struct znode *n;
};

/* The lfht is a list sorted by bit-reversed hash: its first 16 bits. */
static unsigned split_key(uint64_t hash)
{
	static uint8_t rev8[256];
	unsigned lo = (unsigned)hash & 0xffffu;

	if (!rev8[128])
		for (unsigned i = 0; i < 256; i++) {
			unsigned r = 0;

			for (unsigned b = 0; b < 8; b++)
				r |= ((i >> b) & 1u) << (7 - b);
			rev8[i] = (uint8_t)r;
		}
	return (unsigned)rev8[lo & 0xffu] << 8 | rev8[lo >> 8];
}

void tree_restore_done(struct tree *t)
{
	struct deferred *sorted;
	size_t *count, i;

	if (!t->dq_n)
		goto out;
	/* one counting-sort pass: neighbours in the list are inserted one
	 * after another, so each insertion walks nodes still in cache */
	sorted = malloc(t->dq_n * sizeof(*sorted));
	count = calloc(65537, sizeof(*count));
	if (!sorted || !count) {
		free(sorted);
		sorted = NULL;
	} else {
		for (i = 0; i < t->dq_n; i++)
			count[split_key(t->dq[i].hash) + 1]++;
		for (i = 1; i <= 65536; i++)
			count[i] += count[i - 1];
		for (i = 0; i < t->dq_n; i++)
			sorted[count[split_key(t->dq[i].hash)]++] = t->dq[i];
	}
	free(count);
	for (i = 0; i < t->dq_n; i++) {
		const struct deferred *d = sorted ? &sorted[i] : &t->dq[i];

		cds_lfht_add(t->ht, (unsigned long)d->hash, &d->n->ht);
	}
	free(sorted);
out:
	free(t->dq);
	t->dq = NULL;
	t->dq_n = t->dq_cap = 0;
}

/* Queue n for tree_restore_done; false if out of memory. */
static bool restore_defer(struct tree *t, struct znode *n)
{
	struct deferred *d;

	if (t->dq_n == t->dq_cap) {
		size_t cap = t->dq_cap ? t->dq_cap * 2 : 4096;

		d = realloc(t->dq, cap * sizeof(*d));
		if (!d)
			return false;
		t->dq = d;
		t->dq_cap = cap;
	}
	t->dq[t->dq_n].hash = zk_path_hash(n->path, n->path_len);
	t->dq[t->dq_n++].n = n;
	return true;
}

/* The restored parent of path (parent part plen bytes) without the hash
 * table: a snapshot is in depth-first pre-order, so it is the last
 * parent or an ancestor-or-self of the last node.  NULL if not there. */
static struct znode *restore_find_parent(struct tree *t, const char *path,
					 size_t plen)
{
	struct znode *p = t->restore_parent;

	if (p && p->path_len == plen && !memcmp(p->path, path, plen))
		return p;
	for (p = t->restore_last; p; p = p->parent)
		if (p->path_len == plen && !memcmp(p->path, path, plen))
			return p;
	return NULL;
}

/* A system node with an all-zero stat but the given overrides. */
static struct znode *sys_node(struct tree *t, struct znode *parent,
			      const char *path, struct zacl *acl,
			      int32_t num_children, int32_t cversion,
			      int32_t aversion)
{
	struct znode *n = node_alloc(path, strlen(path));
	struct zver *v = ver_new_data(NULL, 0);

	if (!n || !v) {
		free(n);
		free(v);
		return NULL;
	}
	memset(&v->stat, 0, sizeof(v->stat));
	v->stat.num_children = num_children;
	v->stat.cversion = cversion;
	v->stat.aversion = aversion;
	v->acl = zacl_ref(acl); /* no data, so no blob reference */
	n->ver = v;
	n->parent = parent;
	if (parent)
		cds_list_add_tail_rcu(&n->sibling, &parent->children);
	lfht_add(t, n);
	t->node_count++;
	t->data_bytes += n->path_len;
	return n;
}

static void destroy_nodes(struct tree *t);

struct tree *tree_create(void)
{
	struct zacl *open = NULL, *read = NULL;
	static const int32_t rperm[] = {ZPERM_READ};
	static const char *const world[] = {"world"};
	static const char *const anyone[] = {"anyone"};
	struct znode *zk;
	struct tree *t;

	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	pthread_mutex_init(&t->rs_lock, NULL);
	pthread_cond_init(&t->rs_cond, NULL);
	t->ht_size = LFHT_INIT_BUCKETS;
	CDS_INIT_LIST_HEAD(&t->ctl);
	t->sb = calloc(SESS_INIT_BUCKETS, sizeof(*t->sb));
	t->sb_mask = SESS_INIT_BUCKETS - 1;
	t->ht = cds_lfht_new(LFHT_INIT_BUCKETS, LFHT_INIT_BUCKETS, 0,
			     CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, NULL);
	open = zacl_open();
	read = zacl_new(1, rperm, world, anyone);
	if (!t->sb || !t->ht || !open || !read)
		goto err;

	/* ZooKeeper's reported cversion of "/" and "/zookeeper" starts at
	 * -numChildren (see the design note). */
	t->root = sys_node(t, NULL, "/", open, 1, -1, 0);
	if (!t->root)
		goto err;
	zk = sys_node(t, t->root, "/zookeeper", open, 2, -2, 0);
	if (!zk || !sys_node(t, zk, "/zookeeper/quota", open, 0, 0, 0) ||
	    /* DataTree.addConfigNode: READ_ACL_UNSAFE, aversion -1 */
	    !sys_node(t, zk, "/zookeeper/config", read, 0, 0, -1))
		goto err;
	zacl_unref(open);
	zacl_unref(read);
	return t;
err:
	if (t->ht)
		destroy_nodes(t);
	if (t->ht)
		cds_lfht_destroy(t->ht, NULL);
	zacl_unref(open);
	zacl_unref(read);
	free(t->sb);
	free(t);
	return NULL;
}

/* Remove every node from the lfht; runs on a registered RCU thread. */
static void lfht_clear(struct tree *t)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;

	/* Not cds_lfht_for_each_entry: its caa_container_of(NULL) at the
	 * end of the table is pointer arithmetic on NULL (UBSan
	 * pointer-overflow). */
	cds_lfht_first(t->ht, &it);
	while ((node = cds_lfht_iter_get_node(&it)) != NULL) {
		cds_lfht_del(t->ht, node);
		cds_lfht_next(t->ht, &it);
	}
}

static void *lfht_clear_thread(void *arg)
{
	rcu_register_thread();
	lfht_clear(arg);
	rcu_unregister_thread();
	return NULL;
}

/*
 * Free every node (no readers, nodes already out of the lfht).  Leaves are
 * freed one by one walking up through the parents: O(n), no recursion.
 */
static void free_subtrees(struct znode *root)
{
	struct znode *cur = root, *p;

	while (cur) {
		if (!cds_list_empty(&cur->children)) {
			cur = caa_container_of(cur->children.next, struct znode,
					       sibling);
			continue;
		}
		p = cur->parent;
		cds_list_del(&cur->sibling);
		if (cur->ver)
			ver_free_now(cur->ver);
		free(cur);
		cur = p;
	}
}

static void destroy_nodes(struct tree *t)
{
	pthread_t th;

	/*
	 * Deleting from the lfht needs a registered, online RCU thread (a
	 * concurrent automatic shrink frees bucket memory after a grace
	 * period), and the caller may be unregistered or offline: do it on
	 * a short-lived registered thread.
	 */
	if (pthread_create(&th, NULL, lfht_clear_thread, t) == 0)
		pthread_join(th, NULL);
	else
		lfht_clear(t); /* best effort */
	/* callbacks queued by earlier writes (old versions, deleted nodes) */
	rcu_barrier();
	free_subtrees(t->root);
	t->root = NULL;
}

void tree_destroy(struct tree *t)
{
	bool online;
	size_t i;

	if (!t)
		return;
	/* rcu_barrier() and the lfht resize worker need this thread to be
	 * quiescent if it is a registered QSBR reader. */
	online = rcu_read_ongoing();
	if (online)
		rcu_thread_offline();
	if (t->resizer_started) {
		pthread_mutex_lock(&t->rs_lock);
		t->rs_stop = true;
		pthread_cond_signal(&t->rs_cond);
		pthread_mutex_unlock(&t->rs_lock);
		pthread_join(t->resizer, NULL);
	}
	pthread_mutex_destroy(&t->rs_lock);
	pthread_cond_destroy(&t->rs_cond);
	destroy_nodes(t); /* deferred nodes too: it walks the children */
	free(t->dq);
	cds_lfht_destroy(t->ht, NULL);
	for (i = 0; i <= t->sb_mask; i++) {
		struct sess *s = t->sb[i], *next;

		for (; s; s = next) {
			next = s->next;
			free(s);
		}
	}
	free(t->sb);
	free(t);
	if (online)
		rcu_thread_online();
}

uint64_t tree_node_count(const struct tree *t)
{
	return TREE_LOAD(t->node_count);
}

uint64_t tree_data_bytes(const struct tree *t)
{
	return TREE_LOAD(t->data_bytes);
}

/* ------------------------------------------------------------------ */
/* Read side                                                            */
/* ------------------------------------------------------------------ */

unsigned tree_read_begin(const struct tree *t)
{
	unsigned s;

	for (;;) {
		s = TREE_LOAD(t->seq);
		if (!(s & 1))
			break;
		caa_cpu_relax();
	}
	cmm_smp_rmb();
	return s;
}

bool tree_read_retry(const struct tree *t, unsigned seq)
{
	cmm_smp_rmb();
	return TREE_LOAD(t->seq) != seq;
}

const struct znode *tree_lookup(const struct tree *t, const char *path,
				size_t len)
{
	return lookup(t, path, len);
}

void znode_view(const struct znode *n, struct zview *v)
{
	const struct zver *ver = rcu_dereference(n->ver);

	v->stat = &ver->stat;
	v->data = ver_bytes(ver);
	v->data_null = ver->null_data;
	v->acl = ver->acl;
}

const char *znode_path(const struct znode *n)
{
	return n->path;
}

size_t znode_path_len(const struct znode *n)
{
	return n->path_len;
}

const struct znode *znode_parent(const struct znode *n)
{
	return n->parent;
}

int znode_children(const struct znode *n,
		   int (*fn)(const char *name, size_t len, void *arg),
		   void *arg)
{
	struct znode *c;
	int r;

	cds_list_for_each_entry_rcu(c, &n->children, sibling)
	{
		r = fn(c->path + c->name_off, c->path_len - c->name_off, arg);
		if (r)
			return r;
	}
	return 0;
}

static inline const struct znode *first_child(const struct znode *n)
{
	struct cds_list_head *h = rcu_dereference(n->children.next);

	return h == &n->children ? NULL
				 : caa_container_of(h, struct znode, sibling);
}

static inline const struct znode *next_sibling(const struct znode *n)
{
	struct cds_list_head *h = rcu_dereference(n->sibling.next);

	return h == &n->parent->children
		   ? NULL
		   : caa_container_of(h, struct znode, sibling);
}

int64_t znode_descendants(const struct znode *n)
{
	const struct znode *cur = n, *x;
	int64_t count = 0;

	/* pre-order walk through parent pointers: no stack, no recursion */
	for (;;) {
		x = first_child(cur);
		if (x) {
			cur = x;
			count++;
			continue;
		}
		for (;;) {
			if (cur == n)
				return count;
			x = next_sibling(cur);
			if (x) {
				cur = x;
				count++;
				break;
			}
			cur = cur->parent;
		}
	}
}

zxid_t tree_applied_zxid(const struct tree *t)
{
	return TREE_LOAD(t->applied);
}

/* ------------------------------------------------------------------ */
/* Write side                                                           */
/* ------------------------------------------------------------------ */

void tree_write_begin(struct tree *t)
{
	if (t->write_depth++ == 0) {
		TREE_STORE(t->seq, t->seq + 1);
		cmm_smp_wmb();
	}
}

static void *resizer_main(void *arg)
{
	struct tree *t = arg;

	rcu_register_thread();
	rcu_thread_offline();
	pthread_mutex_lock(&t->rs_lock);
	for (;;) {
		while (!t->rs_target && !t->rs_stop)
			pthread_cond_wait(&t->rs_cond, &t->rs_lock);
		if (t->rs_stop)
			break;
		unsigned long target = t->rs_target;

		t->rs_target = 0;
		pthread_mutex_unlock(&t->rs_lock);
		rcu_thread_online();
		cds_lfht_resize(t->ht, target);
		rcu_thread_offline();
		pthread_mutex_lock(&t->rs_lock);
	}
	pthread_mutex_unlock(&t->rs_lock);
	rcu_thread_online();
	rcu_unregister_thread();
	return NULL;
}

/* Writer: grow the hash table in the background when the tree outgrew
 * it.  A failure to start the thread only leaves lookups slower. */
static void maybe_grow(struct tree *t)
{
	unsigned long want = t->ht_size;

	while (want < t->node_count)
		want <<= 1;
	if (want == t->ht_size)
		return;
	t->ht_size = want;
	pthread_mutex_lock(&t->rs_lock);
	if (!t->resizer_started)
		t->resizer_started =
			pthread_create(&t->resizer, NULL, resizer_main, t) == 0;
	t->rs_target = want;
	pthread_cond_signal(&t->rs_cond);
	pthread_mutex_unlock(&t->rs_lock);
}

struct acl_defer {
	struct rcu_head rcu;
	struct zacl *a;
};

static void acl_defer_cb(struct rcu_head *h)
{
	struct acl_defer *d = caa_container_of(h, struct acl_defer, rcu);

	free(d->a);
	free(d);
}

void zacl_release(struct zacl *a)
{
	struct acl_defer *d;

	if (!a || --a->refs > 0)
		return;
	d = malloc(sizeof(*d));
	if (!d) {
		synchronize_rcu(); /* out of memory: wait here instead */
		free(a);
		return;
	}
	d->a = a;
	call_rcu(&d->rcu, acl_defer_cb);
}

void tree_write_end(struct tree *t, zxid_t zxid)
{
	if (t->write_depth > 1) {
		t->write_depth--;
		return;
	}
	TREE_STORE(t->applied, zxid);
	if (t->write_depth == 1) {
		t->write_depth = 0;
		cmm_smp_wmb();
		TREE_STORE(t->seq, t->seq + 1);
	}
	if (t->node_count > 2 * t->ht_size)
		maybe_grow(t);
}

static void owner_link_add(struct tree *t, struct znode *n, struct sess *s,
			   int64_t owner)
{
	if (s)
		cds_list_add_tail(&n->owner_link, &s->nodes);
	else if (owner == ZK_CONTAINER_OWNER || zk_owner_is_ttl(owner))
		cds_list_add_tail(&n->owner_link, &t->ctl);
}

int tree_node_create(struct tree *t, const char *path, size_t len,
		     const void *data, int32_t data_len, struct zacl *acl,
		     int64_t ephemeral_owner, zxid_t zxid, int64_t time_ms,
		     struct zstat *stat_out)
{
	struct znode *parent, *n = NULL;
	struct zver *v = NULL, *pv = NULL;
	struct sess *s = NULL;
	const char *slash;
	size_t plen;
	bool null_data = data_len < 0;

	if (data_len < 0)
		data_len = 0;
	if (path && len == 1 && path[0] == '/')
		return ZNODEEXISTS; /* the root always exists */
	if (!path || len < 2 || path[0] != '/' || len > UINT32_MAX ||
	    (data_len > 0 && !data))
		return ZBADARGUMENTS;
	slash = memrchr(path, '/', len);
	if ((size_t)(slash - path) == len - 1)
		return ZBADARGUMENTS; /* empty last component */
	plen = slash == path ? 1 : (size_t)(slash - path);
	/* creates cluster under a few parents: remember the last one (any
	 * delete forgets it) */
	parent = t->create_parent;
	if (!parent || parent->path_len != plen ||
	    memcmp(parent->path, path, plen)) {
		parent = lookup(t, path, plen);
		if (!parent)
			return ZNONODE;
		t->create_parent = parent;
	}
	if (zk_owner_is_session(parent->ver->stat.ephemeral_owner))
		return lookup(t, path, len) ? ZNODEEXISTS
					    : ZNOCHILDRENFOREPHEMERALS;

	n = node_alloc(path, len);
	v = ver_new_data(data, data_len);
	pv = ver_clone(parent->ver);
	if (!n || !v || !pv)
		goto nomem;
	if (zk_owner_is_session(ephemeral_owner)) {
		s = sess_get(t, ephemeral_owner);
		if (!s)
			goto nomem;
	}

	/* the new node */
	v->acl = acl;
	memset(&v->stat, 0, sizeof(v->stat));
	v->stat.czxid = v->stat.mzxid = v->stat.pzxid = zxid;
	v->stat.ctime = v->stat.mtime = time_ms;
	v->stat.ephemeral_owner = ephemeral_owner;
	v->stat.data_length = data_len;
	v->null_data = null_data;
	n->ver = v;
	n->parent = parent;
	/* the existence check and the insertion in one walk of the table;
	 * on a duplicate nothing was published */
	if (!lfht_add_unique(t, n)) {
		free(n);
		ver_discard(v, true);
		ver_discard(pv, false);
		return ZNODEEXISTS;
	}
	ver_commit(v); /* references; only this thread ever drops them */

	/* the parent */
	pv->stat.cversion = inc32(pv->stat.cversion, 1);
	pv->stat.pzxid = zxid;
	pv->stat.num_children = inc32(pv->stat.num_children, 1);

	cds_list_add_tail_rcu(&n->sibling, &parent->children);
	node_swap_ver(parent, pv);
	owner_link_add(t, n, s, ephemeral_owner);
	TREE_STORE(t->node_count, t->node_count + 1);
	TREE_STORE(t->data_bytes, t->data_bytes + len + (size_t)data_len);
	if (stat_out)
		*stat_out = v->stat;
	return ZOK;
nomem:
	free(n);
	ver_discard(v, true);
	ver_discard(pv, false);
	return ZSYSTEMERROR;
}

int tree_node_delete(struct tree *t, const char *path, size_t len, zxid_t zxid)
{
	struct znode *n, *parent;
	struct zver *pv;
	int64_t owner;

	if (!path || len == 0)
		return ZBADARGUMENTS;
	n = lookup(t, path, len);
	if (!n)
		return ZNONODE;
	/* they may be the node going away */
	t->restore_parent = t->restore_last = t->create_parent = NULL;
	parent = n->parent;
	if (!parent)
		return ZBADARGUMENTS; /* "/" */
	if (n->ver->stat.num_children != 0 || !cds_list_empty(&n->children))
		return ZNOTEMPTY;
	pv = ver_clone(parent->ver);
	if (!pv)
		return ZSYSTEMERROR;

	cds_lfht_del(t->ht, &n->ht);
	cds_list_del_rcu(&n->sibling);
	pv->stat.cversion = inc32(pv->stat.cversion, 1);
	pv->stat.pzxid = zxid;
	pv->stat.num_children = inc32(pv->stat.num_children, -1);
	node_swap_ver(parent, pv);

	owner = n->ver->stat.ephemeral_owner;
	if (owner != 0) {
		cds_list_del(&n->owner_link);
		if (zk_owner_is_session(owner))
			sess_drop_if_empty(t, owner);
	}
	TREE_STORE(t->node_count, t->node_count - 1);
	TREE_STORE(t->data_bytes, t->data_bytes - n->path_len -
					    (uint64_t)n->ver->stat.data_length);
	ver_retire(n->ver);
	call_rcu(&n->rcu, node_free_cb);
	return ZOK;
}

int tree_node_set_data(struct tree *t, const char *path, size_t len,
		       const void *data, int32_t data_len, zxid_t zxid,
		       int64_t time_ms, struct zstat *stat_out)
{
	struct znode *n;
	struct zver *v;
	int32_t old_len;
	bool null_data = data_len < 0;

	if (data_len < 0)
		data_len = 0;
	if (!path || (data_len > 0 && !data))
		return ZBADARGUMENTS;
	n = lookup(t, path, len);
	if (!n)
		return ZNONODE;
	v = ver_new_data(data, data_len);
	if (!v)
		return ZSYSTEMERROR;
	old_len = n->ver->stat.data_length;
	v->acl = n->ver->acl;
	v->stat = n->ver->stat;
	v->stat.version = inc32(v->stat.version, 1);
	v->stat.mzxid = zxid;
	v->stat.mtime = time_ms;
	v->stat.data_length = data_len;
	v->null_data = null_data;
	node_swap_ver(n, v);
	TREE_STORE(t->data_bytes, t->data_bytes + (uint64_t)data_len -
					    (uint64_t)old_len);
	if (stat_out)
		*stat_out = v->stat;
	return ZOK;
}

int tree_node_set_acl(struct tree *t, const char *path, size_t len,
		      struct zacl *acl, zxid_t zxid, struct zstat *stat_out)
{
	struct znode *n;
	struct zver *v;

	if (!path)
		return ZBADARGUMENTS;
	n = lookup(t, path, len);
	if (!n)
		return ZNONODE;
	v = ver_clone(n->ver);
	if (!v)
		return ZSYSTEMERROR;
	v->acl = acl;
	v->stat.aversion = inc32(v->stat.aversion, 1);
	node_swap_ver(n, v);
	if (stat_out)
		*stat_out = v->stat;
	return ZOK;
}

void tree_reserve(struct tree *t, uint64_t nodes)
{
	unsigned long want = t->ht_size;

	while (want < nodes)
		want <<= 1;
	if (want == t->ht_size)
		return;
	t->ht_size = want;
	cds_lfht_resize(t->ht, want);
}

int tree_node_child_changed(struct tree *t, const char *path, size_t len,
			    int delta, zxid_t zxid)
{
	struct znode *n = path ? lookup(t, path, len) : NULL;
	struct zver *v;

	if (!n)
		return ZNONODE;
	v = ver_clone(n->ver);
	if (!v)
		return ZSYSTEMERROR;
	v->stat.cversion = inc32(v->stat.cversion, 1);
	v->stat.num_children = inc32(v->stat.num_children, delta);
	v->stat.pzxid = zxid;
	node_swap_ver(n, v);
	return ZOK;
}

/*
 * The iterators below walk writer-only lists with the _safe variant, so
 * fn may delete the znode it is given (session close does exactly that),
 * but no other znode of the same list.
 */
void tree_ephemerals(const struct tree *ct, int64_t session,
		     void (*fn)(const char *path, size_t len, void *arg),
		     void *arg)
{
	struct tree *t = (struct tree *)ct;
	struct sess *s = sess_find(t, session);
	struct znode *n, *tmp;

	if (!s)
		return;
	t->iter_depth++;
	cds_list_for_each_entry_safe(n, tmp, &s->nodes, owner_link)
	    fn(n->path, n->path_len, arg);
	t->iter_depth--;
	if (!t->iter_depth)
		sess_drop_if_empty(t, session);
}

void tree_containers_and_ttls(const struct tree *ct,
			      void (*fn)(const struct znode *n, void *arg),
			      void *arg)
{
	struct tree *t = (struct tree *)ct;
	struct znode *n, *tmp;

	t->iter_depth++;
	cds_list_for_each_entry_safe(n, tmp, &t->ctl, owner_link) fn(n, arg);
	t->iter_depth--;
}

/*
 * Snapshot loading.  Unlike tree_node_create, the stat is taken verbatim
 * (ZooKeeper's DataTree.deserialize also restores nodes without touching
 * their parents' stats) and an existing node is overwritten in place.
 */
static void owner_link_del(struct tree *t, struct znode *n, int64_t owner)
{
	if (owner == 0)
		return;
	cds_list_del(&n->owner_link);
	CDS_INIT_LIST_HEAD(&n->owner_link);
	if (zk_owner_is_session(owner))
		sess_drop_if_empty(t, owner);
}

/* One of the nodes tree_create makes: "/", "/zookeeper" and below. */
static bool sys_path(const char *path, size_t len)
{
	static const char zk[] = "/zookeeper";

	return len == 1 ||
	       (len >= sizeof(zk) - 1 && !memcmp(path, zk, sizeof(zk) - 1) &&
		(len == sizeof(zk) - 1 || path[sizeof(zk) - 1] == '/'));
}

int tree_node_restore(struct tree *t, const char *path, size_t len,
		      const struct zstat *stat, const void *data,
		      int32_t data_len, struct zacl *acl, bool fresh)
{
	struct znode *parent, *n;
	struct zver *v;
	struct sess *s = NULL;
	const char *slash;
	size_t plen;
	int64_t owner, old_owner;
	int32_t old_len;
	bool null_data = data_len < 0;

	if (data_len < 0)
		data_len = 0;
	if (!path || !stat || len == 0 || path[0] != '/' || len > UINT32_MAX ||
	    (data_len > 0 && !data) || (len > 1 && path[len - 1] == '/'))
		return ZBADARGUMENTS;
	owner = stat->ephemeral_owner;
	if (zk_owner_is_session(owner)) {
		s = sess_get(t, owner);
		if (!s)
			return ZSYSTEMERROR;
	}
	v = ver_new_data(data, data_len);
	if (!v)
		goto nomem;
	v->acl = acl;
	v->stat = *stat;
	v->stat.data_length = data_len;
	v->null_data = null_data;

	fresh = fresh && !sys_path(path, len);
	if (!fresh)
		tree_restore_done(t);
	n = fresh ? NULL : lookup(t, path, len);
	if (n) {
		old_owner = n->ver->stat.ephemeral_owner;
		old_len = n->ver->stat.data_length;
		if (old_owner != owner) {
			owner_link_del(t, n, old_owner);
			owner_link_add(t, n, s, owner);
		}
		node_swap_ver(n, v);
		TREE_STORE(t->data_bytes,
				 t->data_bytes + (uint64_t)data_len -
				     (uint64_t)old_len);
		return ZOK;
	}
	slash = memrchr(path, '/', len);
	plen = slash == path ? 1 : (size_t)(slash - path);
	/* a snapshot lists siblings together: remember the last parent */
	parent = restore_find_parent(t, path, plen);
	if (!parent) {
		tree_restore_done(t);
		parent = lookup(t, path, plen);
	}
	t->restore_parent = parent;
	if (!parent) {
		ver_discard(v, true);
		if (s)
			sess_drop_if_empty(t, owner);
		return ZNONODE;
	}
	n = node_alloc(path, len);
	if (!n) {
		ver_discard(v, true);
		goto nomem;
	}
	ver_commit(v);
	n->ver = v;
	n->parent = parent;
	if (!fresh || !restore_defer(t, n))
		lfht_add(t, n);
	t->restore_last = n;
	cds_list_add_tail_rcu(&n->sibling, &parent->children);
	owner_link_add(t, n, s, owner);
	TREE_STORE(t->node_count, t->node_count + 1);
	TREE_STORE(t->data_bytes, t->data_bytes + len + (size_t)data_len);
	/* Loading: no readers and no quiescent states until the end, so grow
	 * the table here, synchronously (cds_lfht_resize goes offline for
	 * its grace periods), rather than through the resizer thread. */
	if (t->node_count > 2 * t->ht_size) {
		while (t->ht_size < 4 * t->node_count)
			t->ht_size <<= 1;
		cds_lfht_resize(t->ht, t->ht_size);
	}
	return ZOK;
nomem:
	if (s)
		sess_drop_if_empty(t, owner);
	return ZSYSTEMERROR;
}
