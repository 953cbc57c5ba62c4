/*
 * tree.c — the znode tree under liburcu QSBR.
 *
 * Design note
 * -----------
 * Threads.  One writer (the sequencer) mutates; workers read.  Both must be
 * registered RCU threads (rcu_register_thread): cds_lfht_add/del need the
 * writer to be a registered reader, and the writer must also report
 * quiescent states (e.g. rcu_quiescent_state() after each batch), or the
 * memory of old versions and deleted nodes is never reused.
 *
 * Layout.  Every znode sits in one cds_lfht keyed by its full path
 * (FNV-1a 64) and on its parent's RCU children list, in creation order:
 * readers follow next links; writer-only prev links (the oldest child's
 * points at the youngest) make appending and unlinking O(1).  The path
 * is stored inline after the znode, without a NUL (a child's name starts
 * after its path's last '/').
 *
 * Versions.  The mutable part is an immutable struct zver {ACL, stat,
 * data} that the writer replaces with rcu_assign_pointer().  A version
 * keeps czxid, ctime and dataLength (21 bits; more in an extra field)
 * always and each other stat field only when it differs from its
 * default (mzxid = pzxid = czxid, mtime = ctime, the rest 0; mzxid and
 * mtime as 4-byte deltas when they fit): a fresh leaf's stat takes 20
 * bytes instead of 72, 32 once it has been set.  Readers get it decoded into
 * a struct zstat (znode_view).  Data up to ZVER_INLINE_MAX bytes lives
 * inline after the stat; larger data lives in a struct zblob that
 * versions of the same znode share, so a stat-only change (a child
 * created, setACL) of a node holding 1 MB copies only the stat.  The
 * null-data flag is bit 0 of the ACL pointer.
 *
 * Owners.  Znodes whose owner is a session, a container or a TTL carry
 * the writer-only link of their owner's list (a session's ephemerals, or
 * the containers+TTLs list) just before the struct; other znodes do not
 * pay for it.
 *
 * Memory.  Znodes and versions come from a size-class slab (slab_int.h):
 * no malloc header, 8-byte rounding, and chunks that go back when their
 * last block does, so memory moves between classes (a znode's first
 * setData grows its version from 128 to 144 bytes, say).  A block
 * readers may still see is retired into a batch; a full batch goes to
 * call_rcu, whose callback (any thread) pushes it on a lock-free stack
 * that the writer drains into the slab before its next allocation.  The
 * hash table keeps between one and two znodes per bucket.  With 100-byte
 * values and 12-byte paths a znode costs 64 + 128 + ~8 bytes (node,
 * version, buckets); 16 more once it has been set.
 *
 * Reference counts (zacl.refs, zblob.refs) are touched by the writer only.
 * Each version holds one reference on its ACL and blob.  When a version is
 * retired the writer drops those references at once; a count that reaches
 * 0 retires the ACL or blob with the version, freed after the same grace
 * period, because readers of the old version may still be looking at it.
 *
 * Batch atomicity: a seqcount, odd while the writer is inside
 * tree_write_begin()/tree_write_end() (nesting allowed, the outermost pair
 * counts), with smp_wmb on the writer and smp_rmb on readers, as Linux's
 * seqcount_t.
 *
 * Digest log ("hash"): tree_write_end keeps (zxid, tree digest) for each
 * zxid that is a multiple of 128, the last 1024 in a ring, as ZooKeeper's
 * DataTree.logZxidDigest; readers copy it under a per-entry seqcount
 * (tree_digest_log).
 *
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
#include <urcu/list.h>
#include <urcu/rculfhash.h>

#include "tree/quota_int.h"
#include "tree/slab_int.h"
#include "tree/tree.h"

/* One-word fields read by other threads (seqcount, applied zxid, stats,
 * list links): C11 atomics.  The same instructions as CMM_LOAD_SHARED /
 * CMM_STORE_SHARED on x86-64, but not a data race in the C11 model, so
 * ThreadSanitizer checks them instead of reporting them.  Ordering of the
 * seqcount still comes from cmm_smp_rmb()/cmm_smp_wmb(). */
#define TREE_LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define TREE_STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
/* publication of a child link (rcu_assign_pointer / rcu_dereference) */
#define LINK_LOAD(x) __atomic_load_n(&(x), __ATOMIC_CONSUME)
#define LINK_PUBLISH(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

#define ZVER_INLINE_MAX 512
#define LFHT_INIT_BUCKETS 1024
#define SESS_INIT_BUCKETS 64
#define RETIRE_BATCH 255

struct zblob {
	int refs; /* writer only */
	char bytes[];
};

/* Stat fields a version stores only when they differ from the default:
 * 8-byte ones first, then 4-byte ones, in this order, after the header.
 * mzxid and mtime take 4 bytes (a delta from czxid / ctime) when they
 * fit, as they do after a setData; dataLength's own field comes last. */
enum {
	VF_MZXID = 1u << 0,	/* default czxid */
	VF_MTIME = 1u << 1,	/* default ctime */
	VF_PZXID = 1u << 2,	/* default czxid */
	VF_OWNER = 1u << 3,	/* ephemeralOwner, default 0 */
	VF_WIDE = 0x0fu,	/* the 8-byte ones */
	VF_VERSION = 1u << 4,	/* default 0 ... */
	VF_CVERSION = 1u << 5,
	VF_AVERSION = 1u << 6,
	VF_NCHILD = 1u << 7,
	VF_MZXID32 = 1u << 8,	/* mzxid - czxid, 1 .. UINT32_MAX */
	VF_MTIME32 = 1u << 9,	/* mtime - ctime, 1 .. UINT32_MAX */
	VF_LONG = 1u << 10,	/* dataLength >= VER_LEN_MAX, stored here */
};
#define VER_LEN_MAX ((1u << 21) - 1)
#define VER_NULL_DATA ((uintptr_t)1) /* in zver.acl: read back as null */

struct zver {
	uintptr_t acl; /* struct zacl * | VER_NULL_DATA */
	int64_t czxid;
	int64_t ctime;
	uint32_t len : 21; /* dataLength unless VF_LONG */
	uint32_t has : 11; /* VF_* */
	/* the fields in `has` (unaligned), then the data (or a struct
	 * zblob *): 28 bytes of header, so 100 bytes of data make 128 */
	unsigned char f[];
};
#define VER_HDR offsetof(struct zver, f)

struct znode {
	struct cds_lfht_node ht;
	struct zver *ver;      /* RCU */
	struct znode *child;   /* RCU: oldest child */
	struct znode *next;    /* RCU: next (younger) sibling, or NULL */
	struct znode *prev;    /* writer only: previous sibling; the
				* oldest child's is the youngest */
	uint32_t path_len : 31;
	uint32_t linked : 1;   /* an owner link (cds_list_head) precedes */
	uint8_t zk_cap;	       /* log2 of the table of ZooKeeper's HashSet of
				* these children (0: none yet); read
				* racily by readers (TREE_LOAD) */
	char path[];	       /* path_len bytes, no NUL */
};

struct sess {
	int64_t id;
	struct sess *next;
	struct cds_list_head nodes; /* owner links, creation order */
	int32_t n;		    /* nodes on the list */
	uint8_t zk_cap; /* log2 of ZooKeeper's HashSet table for them */
};

/* Blocks waiting for a grace period.  size 0: an ACL or blob, freed with
 * free() by the callback; otherwise a slab block of that size. */
struct retire {
	struct rcu_head rcu;
	struct tree *t;
	struct retire *next; /* on tree.reclaim */
	unsigned n;
	struct {
		void *p;
		size_t size;
	} it[RETIRE_BATCH];
};

struct tree {
	struct cds_lfht *ht;
	struct znode *root;
	unsigned seq; /* seqcount, odd while writing */
	int write_depth;
	zxid_t applied;
	uint64_t node_count;
	uint64_t data_bytes;
	uint64_t mem_bytes; /* tree_mem_bytes, from the slab */
	struct slab slab;	  /* writer only */
	struct retire *retiring;  /* the batch being filled */
	struct retire *reclaim;	  /* past their grace period: a stack */
	struct cds_list_head ctl; /* containers and TTL nodes */
	struct quota *quota;	  /* quota paths (quota.c), writer only */
	struct sess **sb;	  /* session -> ephemerals, writer only */
	size_t sb_mask;
	size_t sb_count;
	int iter_depth; /* writer is inside tree_ephemerals & co */
	/* Hash table growth.  liburcu's lazy auto-resize did not keep up
	 * in paddockd (lookups degraded ~10x after a few hundred thousand
	 * creates), so the writer asks a resizer thread for a table of
	 * one bucket per one to two znodes whenever the count doubles. */
	unsigned long ht_size; /* buckets last asked for (writer only) */
	bool digest_on;	       /* tree_digest_start was called */
	uint64_t digest;       /* sum of node digests, while digest_on */
	struct dcache *dcache; /* DCACHE_SLOTS, while digest_on */
	bool hinted;           /* tree_digest_hint, for the next write */
	uint32_t hint;
	/* digest log (tree_digest_log): entry j is in dlog[j % LIMIT];
	 * dlog_begun / dlog_done count the entries whose writing began /
	 * ended; dlog_seen (writer only) is the highest zxid of any
	 * tree_write_end, dlog_on (writer only) tree_digest_log_start */
	struct tree_zxid_digest dlog[TREE_DIGEST_LOG_LIMIT];
	uint64_t dlog_begun, dlog_done;
	zxid_t dlog_seen;
	bool dlog_on;
	struct znode *create_parent; /* tree_node_create's last parent */
	struct znode **rstack;	     /* restore: the last node's ancestors */
	size_t rs_n, rs_cap;
	struct deferred *dq;	     /* restored, not yet in the lfht */
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
	uint64_t h = 0xcbf29ce484222325ULL ^ len;

	/* eight bytes a step (an in-memory hash only: nothing stores it) */
	while (len >= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
		p += 8;
		len -= 8;
	}
	if (len) {
		/* the last 1..7 bytes by whole loads (a byte-wise copy into
		 * a word stalls the load that reads it back: a failed store
		 * forward was most of this function's time); which bytes
		 * the loads overlap on does not matter, len is hashed too */
		uint64_t w;

		if (len >= 4) {
			uint32_t a, b;

			memcpy(&a, p, 4);
			memcpy(&b, p + len - 4, 4);
			w = (uint64_t)a | (uint64_t)b << 32;
		} else {
			w = (uint64_t)(unsigned char)p[0] |
			    (uint64_t)(unsigned char)p[len / 2] << 8 |
			    (uint64_t)(unsigned char)p[len - 1] << 16;
		}
		h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
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

static struct znode *lookup_hashed(const struct tree *t, const char *path,
				   size_t len, uint64_t hash)
{
	struct path_key k = {path, len};
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;

	if (!path || len == 0)
		return NULL;
	cds_lfht_lookup(t->ht, (unsigned long)hash, path_match, &k, &it);
	node = cds_lfht_iter_get_node(&it);
	return node ? caa_container_of(node, struct znode, ht) : NULL;
}

static struct znode *lookup(const struct tree *t, const char *path, size_t len)
{
	return path ? lookup_hashed(t, path, len, zk_path_hash(path, len))
		    : NULL;
}

static inline int32_t inc32(int32_t v, int32_t d)
{
	return (int32_t)((uint32_t)v + (uint32_t)d);
}

/* ------------------------------------------------------------------ */
/* Retirement: free after a grace period, reuse on the writer           */
/* ------------------------------------------------------------------ */

static void retire_cb(struct rcu_head *h)
{
	struct retire *r = caa_container_of(h, struct retire, rcu);
	struct tree *t = r->t;
	struct retire *top;
	unsigned i, k = 0;

	/* ACLs and blobs can go from here; slab blocks go back to the
	 * writer, the only thread that touches the slab */
	for (i = 0; i < r->n; i++) {
		if (r->it[i].size == 0)
			free(r->it[i].p);
		else
			r->it[k++] = r->it[i];
	}
	r->n = k;
	if (!k) {
		free(r);
		return;
	}
	top = __atomic_load_n(&t->reclaim, __ATOMIC_RELAXED);
	do
		r->next = top;
	while (!__atomic_compare_exchange_n(&t->reclaim, &top, r, true,
					    __ATOMIC_RELEASE,
					    __ATOMIC_RELAXED));
}

static void block_free(struct tree *t, void *p, size_t size)
{
	if (size == 0)
		free(p);
	else
		slab_free(&t->slab, p, size);
}

/* Writer: put the blocks whose grace period has passed back in the slab. */
static void reclaim(struct tree *t)
{
	struct retire *r, *next;
	unsigned i;

	if (!__atomic_load_n(&t->reclaim, __ATOMIC_RELAXED))
		return;
	r = __atomic_exchange_n(&t->reclaim, NULL, __ATOMIC_ACQUIRE);
	for (; r; r = next) {
		next = r->next;
		for (i = 0; i < r->n; i++)
			slab_free(&t->slab, r->it[i].p, r->it[i].size);
		free(r);
	}
}

/* Writer: free `p` (a slab block of `size`, or a malloc'ed ACL or blob
 * for size 0) once no reader can see it any more. */
static void retire(struct tree *t, void *p, size_t size)
{
	struct retire *r = t->retiring;

	if (!r) {
		r = malloc(sizeof(*r));
		if (!r) {
			synchronize_rcu(); /* out of memory: wait here */
			block_free(t, p, size);
			return;
		}
		r->t = t;
		r->n = 0;
		t->retiring = r;
	}
	r->it[r->n].p = p;
	r->it[r->n].size = size;
	if (++r->n == RETIRE_BATCH) {
		t->retiring = NULL;
		call_rcu(&r->rcu, retire_cb);
	}
}

static void *tree_alloc(struct tree *t, size_t size)
{
	reclaim(t);
	return slab_alloc(&t->slab, size);
}

/* ------------------------------------------------------------------ */
/* Versions                                                             */
/* ------------------------------------------------------------------ */

/* Bits set in x < 16 (no popcnt instruction in the baseline x86-64
 * target: __builtin_popcount would be a libgcc call). */
static inline unsigned pop4(unsigned x)
{
	return (x & 1) + (x >> 1 & 1) + (x >> 2 & 1) + (x >> 3 & 1);
}

static inline size_t ver_fields(unsigned has)
{
	return 8 * pop4(has & VF_WIDE) +
	       4 * (pop4(has >> 4 & 0xf) + pop4(has >> 8 & 0x7));
}

static inline bool ver_has_blob(const struct zver *v)
{
	return (v->has & VF_LONG) || v->len > ZVER_INLINE_MAX;
}

static inline int32_t ver_len(const struct zver *v)
{
	int32_t l;

	if (!(v->has & VF_LONG))
		return (int32_t)v->len;
	/* the last of the 4-byte fields */
	memcpy(&l, v->f + ver_fields(v->has) - sizeof(l), sizeof(l));
	return l;
}

static inline size_t ver_size(const struct zver *v)
{
	size_t room = ver_has_blob(v) ? sizeof(struct zblob *) : v->len;

	return VER_HDR + ver_fields(v->has) + room;
}

static inline unsigned char *ver_data(const struct zver *v)
{
	return (unsigned char *)v->f + ver_fields(v->has);
}

static inline struct zblob *ver_blob(const struct zver *v)
{
	struct zblob *b;

	memcpy(&b, ver_data(v), sizeof(b));
	return b;
}

static inline const char *ver_bytes(const struct zver *v)
{
	if (!(v->has & VF_LONG) && v->len == 0)
		return NULL;
	return ver_has_blob(v) ? ver_blob(v)->bytes
			       : (const char *)ver_data(v);
}

static inline struct zacl *ver_acl(const struct zver *v)
{
	return (struct zacl *)(v->acl & ~VER_NULL_DATA);
}

static inline int64_t get64(const unsigned char **p)
{
	int64_t x;

	memcpy(&x, *p, sizeof(x));
	*p += sizeof(x);
	return x;
}

static inline int32_t get32(const unsigned char **p)
{
	int32_t x;

	memcpy(&x, *p, sizeof(x));
	*p += sizeof(x);
	return x;
}

/* base + d without signed overflow (the stat is the client's to choose
 * on restore, so czxid may be anything). */
static inline int64_t add_u32(int64_t base, uint32_t d)
{
	return (int64_t)((uint64_t)base + d);
}

/* Does v - base fit a VF_*32 field (1 .. UINT32_MAX)? */
static inline bool fits_u32(int64_t v, int64_t base)
{
	uint64_t d = (uint64_t)v - (uint64_t)base;

	return v > base && d <= UINT32_MAX;
}

/* The full stat of a version. */
static void ver_stat(const struct zver *v, struct zstat *s)
{
	const unsigned char *p = v->f;
	unsigned h = v->has;

	memset(s, 0, sizeof(*s)); /* the padding too: stats get compared */
	s->czxid = v->czxid;
	s->ctime = v->ctime;
	s->mzxid = h & VF_MZXID ? get64(&p) : v->czxid;
	s->mtime = h & VF_MTIME ? get64(&p) : v->ctime;
	s->pzxid = h & VF_PZXID ? get64(&p) : v->czxid;
	s->ephemeral_owner = h & VF_OWNER ? get64(&p) : 0;
	s->version = h & VF_VERSION ? get32(&p) : 0;
	s->cversion = h & VF_CVERSION ? get32(&p) : 0;
	s->aversion = h & VF_AVERSION ? get32(&p) : 0;
	s->num_children = h & VF_NCHILD ? get32(&p) : 0;
	if (h & VF_MZXID32)
		s->mzxid = add_u32(v->czxid, (uint32_t)get32(&p));
	if (h & VF_MTIME32)
		s->mtime = add_u32(v->ctime, (uint32_t)get32(&p));
	s->data_length = h & VF_LONG ? get32(&p) : (int32_t)v->len;
}

static inline void put64(unsigned char **p, int64_t x)
{
	memcpy(*p, &x, sizeof(x));
	*p += sizeof(x);
}

static inline void put32(unsigned char **p, int32_t x)
{
	memcpy(*p, &x, sizeof(x));
	*p += sizeof(x);
}

/*
 * A new version: stat `s` (data_length included, >= 0), ACL word `acl`,
 * and the data: `blob` if s->data_length > ZVER_INLINE_MAX, else
 * data_length bytes at `data`.  Holds references on nothing yet:
 * ver_commit() takes them, so a failed operation can just ver_discard()
 * it.  NULL on ENOMEM.
 */
static struct zver *ver_build(struct tree *t, const struct zstat *s,
			      uintptr_t acl, const void *data,
			      struct zblob *blob)
{
	bool wide = (uint32_t)s->data_length >= VER_LEN_MAX;
	bool mz32 = fits_u32(s->mzxid, s->czxid);
	bool mt32 = fits_u32(s->mtime, s->ctime);
	struct zver hdr = {
		.acl = acl,
		.czxid = s->czxid,
		.ctime = s->ctime,
		.len = wide ? 0 : (uint32_t)s->data_length,
		.has = (wide ? VF_LONG : 0) |
		       (mz32 ? VF_MZXID32
			     : s->mzxid != s->czxid ? VF_MZXID : 0) |
		       (mt32 ? VF_MTIME32
			     : s->mtime != s->ctime ? VF_MTIME : 0) |
		       (s->pzxid != s->czxid ? VF_PZXID : 0) |
		       (s->ephemeral_owner ? VF_OWNER : 0) |
		       (s->version ? VF_VERSION : 0) |
		       (s->cversion ? VF_CVERSION : 0) |
		       (s->aversion ? VF_AVERSION : 0) |
		       (s->num_children ? VF_NCHILD : 0),
	};
	struct zver *v = tree_alloc(t, ver_size(&hdr));
	unsigned char *p;

	if (!v)
		return NULL;
	memcpy(v, &hdr, VER_HDR);
	p = v->f;
	if (hdr.has & VF_MZXID)
		put64(&p, s->mzxid);
	if (hdr.has & VF_MTIME)
		put64(&p, s->mtime);
	if (hdr.has & VF_PZXID)
		put64(&p, s->pzxid);
	if (hdr.has & VF_OWNER)
		put64(&p, s->ephemeral_owner);
	if (hdr.has & VF_VERSION)
		put32(&p, s->version);
	if (hdr.has & VF_CVERSION)
		put32(&p, s->cversion);
	if (hdr.has & VF_AVERSION)
		put32(&p, s->aversion);
	if (hdr.has & VF_NCHILD)
		put32(&p, s->num_children);
	if (hdr.has & VF_MZXID32)
		put32(&p, (int32_t)(uint32_t)((uint64_t)s->mzxid -
					      (uint64_t)s->czxid));
	if (hdr.has & VF_MTIME32)
		put32(&p, (int32_t)(uint32_t)((uint64_t)s->mtime -
					      (uint64_t)s->ctime));
	if (hdr.has & VF_LONG)
		put32(&p, s->data_length);
	if (ver_has_blob(v))
		memcpy(p, &blob, sizeof(blob));
	else if (s->data_length > 0)
		memcpy(p, data, (size_t)s->data_length);
	return v;
}

/* A blob for data over ZVER_INLINE_MAX bytes (refs 0), else NULL with
 * *ok true; *ok false on ENOMEM. */
static struct zblob *blob_new(const void *data, int32_t len, bool *ok)
{
	struct zblob *b;

	*ok = true;
	if (len <= ZVER_INLINE_MAX)
		return NULL;
	b = malloc(sizeof(*b) + (size_t)len);
	if (!b) {
		*ok = false;
		return NULL;
	}
	b->refs = 0;
	memcpy(b->bytes, data, (size_t)len);
	return b;
}

/* A version with fresh data (create, setData, restore). */
static struct zver *ver_new_data(struct tree *t, const struct zstat *s,
				 struct zacl *acl, bool null_data,
				 const void *data)
{
	bool ok;
	struct zblob *b = blob_new(data, s->data_length, &ok);
	struct zver *v;

	if (!ok)
		return NULL;
	v = ver_build(t, s, (uintptr_t)acl | (null_data ? VER_NULL_DATA : 0),
		      data, b);
	if (!v)
		free(b);
	return v;
}

/* A version of `old`'s data with stat `s` and ACL `acl` (a stat-only
 * change: the blob, if any, is shared). */
static struct zver *ver_restat(struct tree *t, const struct zver *old,
			       const struct zstat *s, const struct zacl *acl)
{
	return ver_build(t, s, (uintptr_t)acl | (old->acl & VER_NULL_DATA),
			 ver_bytes(old),
			 ver_has_blob(old) ? ver_blob(old) : NULL);
}

/* Free an uncommitted version; `fresh_blob`: its blob was made for it. */
static void ver_discard(struct tree *t, struct zver *v, bool fresh_blob)
{
	if (!v)
		return;
	if (fresh_blob && ver_has_blob(v))
		free(ver_blob(v));
	slab_free(&t->slab, v, ver_size(v));
}

/* Take the references a live version holds. */
static void ver_commit(struct zver *v)
{
	zacl_ref(ver_acl(v));
	if (ver_has_blob(v))
		ver_blob(v)->refs++;
}

/* Drop a version's references (writer); `now`: nobody can see it any
 * more (tree_destroy), else free it after a grace period. */
static void ver_release(struct tree *t, struct zver *v, bool now)
{
	struct zacl *a = ver_acl(v);
	struct zblob *b = ver_has_blob(v) ? ver_blob(v) : NULL;

	if (a && --a->refs == 0) {
		if (now)
			free(a);
		else
			retire(t, a, 0);
	}
	if (b && --b->refs == 0) {
		if (now)
			free(b);
		else
			retire(t, b, 0);
	}
	if (now)
		slab_free(&t->slab, v, ver_size(v));
	else
		retire(t, v, ver_size(v));
}

/* ZooKeeper's digest of node n at version v (digest.c); *dcrc gets the
 * CRC of its path and data (zk_digest_start). */
static int64_t ver_digest(const struct znode *n, const struct zver *v,
			  uint32_t *dcrc)
{
	struct zstat st;

	ver_stat(v, &st);
	st.cversion = zk_cversion_stored(&st);
	*dcrc = zk_digest_start(n->path, n->path_len, ver_bytes(v), ver_len(v));
	return zk_digest_end(*dcrc, n->path, n->path_len, &st);
}

/*
 * Digests of versions in the tree, by version address (direct-mapped,
 * writer only): a version's digest is computed when it enters the tree
 * and found here when it leaves it (a setData's old version, a parent's
 * before a child changes it) or when prep asks (tree_node_digest), so a
 * write computes one CRC per node it changes instead of two.  A slot is
 * cleared when its version leaves the tree, before the version can be
 * freed, so an address is never found for a version it no longer is.
 */
#define DCACHE_SLOTS 4096
struct dcache {
	const struct zver *v;
	int64_t d;
	uint32_t dcrc;
};

static struct dcache *dcache_slot(const struct tree *t, const struct zver *v)
{
	uint64_t h = (uint64_t)(uintptr_t)v * 0x9e3779b97f4a7c15ull;

	return &t->dcache[h >> (64 - 12)]; /* 12 bits: DCACHE_SLOTS */
}

/* The tree digest loses n at version v; *dcrc gets the CRC of v's path
 * and data. */
static void digest_drop(struct tree *t, const struct znode *n,
			const struct zver *v, uint32_t *dcrc)
{
	struct dcache *c = dcache_slot(t, v);
	int64_t d;

	if (c->v == v) {
		d = c->d;
		*dcrc = c->dcrc;
		c->v = NULL;
	} else {
		d = ver_digest(n, v, dcrc);
	}
	TREE_STORE(t->digest, t->digest - (uint64_t)d);
}

/* The tree digest gains n at version v; `dcrc` is the CRC of v's path
 * and data if `known`. */
static void digest_add(struct tree *t, const struct znode *n,
		       const struct zver *v, bool known, uint32_t dcrc)
{
	struct zstat st;
	int64_t d;

	if (known) {
		ver_stat(v, &st);
		st.cversion = zk_cversion_stored(&st);
		d = zk_digest_end(dcrc, n->path, n->path_len, &st);
	} else {
		d = ver_digest(n, v, &dcrc);
	}
	*dcache_slot(t, v) = (struct dcache){v, d, dcrc};
	TREE_STORE(t->digest, t->digest + (uint64_t)d);
}

/* The digest of a node made with new data: the hint the writer gave for
 * it (tree_digest_hint), else computed. */
static void digest_add_new(struct tree *t, const struct znode *n,
			   const struct zver *v, bool hinted)
{
	if (t->digest_on)
		digest_add(t, n, v, hinted, t->hint);
}

/* Take the writer's hint for this write (tree_digest_hint): it is for
 * the one write that follows it, done or not. */
static bool hint_take(struct tree *t)
{
	bool h = t->hinted;

	t->hinted = false;
	return h;
}

/* Publish nv as n's version and retire the old one.  `same_data`: nv
 * has old's data (a stat-only change), so the CRC of path and data
 * carries over; else `hinted` says whether t->hint is nv's. */
static void node_swap_ver_as(struct tree *t, struct znode *n, struct zver *nv,
			     bool same_data, bool hinted)
{
	struct zver *old = n->ver;
	uint32_t dcrc;

	if (t->digest_on) {
		digest_drop(t, n, old, &dcrc);
		if (same_data)
			digest_add(t, n, nv, true, dcrc);
		else
			digest_add(t, n, nv, hinted, t->hint);
	}
	ver_commit(nv);
	rcu_assign_pointer(n->ver, nv);
	ver_release(t, old, false);
}

static void node_swap_ver(struct tree *t, struct znode *n, struct zver *nv)
{
	node_swap_ver_as(t, n, nv, false, false);
}

/* A stat-only change: nv has n's data. */
static void node_restat(struct tree *t, struct znode *n, struct zver *nv)
{
	node_swap_ver_as(t, n, nv, true, false);
}

/* ------------------------------------------------------------------ */
/* Znodes                                                               */
/* ------------------------------------------------------------------ */

/* Owners whose znodes are on a writer-only list (and carry its link). */
static inline bool owner_listed(int64_t owner)
{
	return zk_owner_is_session(owner) || owner == ZK_CONTAINER_OWNER ||
	       zk_owner_is_ttl(owner);
}

static inline struct cds_list_head *node_link(const struct znode *n)
{
	return (struct cds_list_head *)n - 1;
}

static inline struct znode *link_node(struct cds_list_head *l)
{
	return (struct znode *)(l + 1);
}

static inline size_t node_size(const struct znode *n)
{
	return sizeof(*n) + n->path_len +
	       (n->linked ? sizeof(struct cds_list_head) : 0);
}

static inline void *node_block(struct znode *n)
{
	return n->linked ? (void *)node_link(n) : (void *)n;
}

static struct znode *node_alloc(struct tree *t, const char *path, size_t len,
				bool linked)
{
	size_t extra = linked ? sizeof(struct cds_list_head) : 0;
	char *b = tree_alloc(t, extra + sizeof(struct znode) + len);
	struct znode *n;

	if (!b)
		return NULL;
	n = (struct znode *)(b + extra);
	cds_lfht_node_init(&n->ht);
	n->ver = NULL;
	n->child = n->next = NULL;
	n->prev = NULL;
	n->linked = linked;
	n->zk_cap = 0;
	if (linked)
		CDS_INIT_LIST_HEAD(node_link(n));
	memcpy(n->path, path, len);
	n->path_len = (uint32_t)len & INT32_MAX;
	return n;
}

/* Free a node nobody saw (never published). */
static void node_discard(struct tree *t, struct znode *n)
{
	if (n)
		slab_free(&t->slab, node_block(n), node_size(n));
}

/* Append c to p's children (publishes c to readers). */
static void child_add(struct znode *p, struct znode *c)
{
	struct znode *first = p->child;

	c->next = NULL;
	if (!first) {
		c->prev = c;
		LINK_PUBLISH(p->child, c);
		return;
	}
	c->prev = first->prev;
	first->prev = c;
	LINK_PUBLISH(c->prev->next, c);
}

/* Put m where c is among p's children (m == NULL: unlink c).  Readers
 * at c can still go on: c's own next link is left as it is. */
static void child_replace(struct znode *p, struct znode *c, struct znode *m)
{
	struct znode *first = p->child, *next = c->next;

	if (m) {
		m->next = next;
		m->prev = c == first && c->prev == c ? m : c->prev;
	}
	if (c == first) {
		if (next) /* the new first child keeps the youngest */
			next->prev = m ? m : c->prev;
		LINK_PUBLISH(p->child, m ? m : next);
		return;
	}
	if (next)
		next->prev = m ? m : c->prev;
	else /* c was the youngest */
		first->prev = m ? m : c->prev;
	LINK_PUBLISH(c->prev->next, m ? m : next);
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
	s->n = 0;
	s->zk_cap = 4; /* new HashSet<>(): 16 */
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


/*
 * Restore: the parent of path (parent part plen bytes) without the hash
 * table.  A snapshot is in depth-first pre-order, so the parent is on the
 * stack of the last restored node's ancestors (the stack is popped down
 * to it).  NULL if it is not there.
 */
static struct znode *restore_find_parent(struct tree *t, const char *path,
					 size_t plen)
{
	struct znode *p;

	while (t->rs_n) {
		p = t->rstack[t->rs_n - 1];
		if (p->path_len == plen && !memcmp(p->path, path, plen))
			return p;
		t->rs_n--;
	}
	return NULL;
}

/* Restore: n, a child of parent, is the newest restored node. */
static void restore_push(struct tree *t, struct znode *parent,
			 struct znode *n)
{
	struct znode **s;
	size_t cap;

	if (!t->rs_n || t->rstack[t->rs_n - 1] != parent)
		t->rs_n = 0; /* parent came from a lookup: start from it */
	if (t->rs_n + 2 > t->rs_cap) {
		cap = t->rs_cap ? t->rs_cap * 2 : 64;
		s = realloc(t->rstack, cap * sizeof(*s));
		if (!s) {
			t->rs_n = 0; /* only slower: lookups instead */
			return;
		}
		t->rstack = s;
		t->rs_cap = cap;
	}
	if (!t->rs_n)
		t->rstack[t->rs_n++] = parent;
	t->rstack[t->rs_n++] = n;
}

/*
 * Children order.  ZooKeeper keeps a node's children in a
 * java.util.HashSet (new HashSet<>(8)) and getChildren lists them in its
 * iteration order: by bucket, spread(String.hashCode) & (table - 1), and
 * within a bucket in insertion order (a resize keeps that order).  The
 * table starts at 8 entries, doubles when the count passes 3/4 of it and
 * never shrinks, so it is a function of the most children the node ever
 * had; zk_cap keeps its log2.  Our child list is in insertion order, so
 * a stable sort by bucket gives ZooKeeper's order.  After a restart
 * ZooKeeper re-inserts the children in the order its snapshot wrote them
 * (its iteration order) into a table sized by their count: our snapshot
 * writes them in that order too and tree_node_restore sizes zk_cap by the
 * count.  Not modelled: a bucket of 9 or more colliding names, which
 * Java turns into a tree bin (or answers with an early resize).
 */
/* Java's HashMap: the log2 of a table of 2^lg that n entries grew
 * (past 3/4 full it doubles; it never shrinks). */
static unsigned java_table_lg(unsigned lg, int64_t n)
{
	while (n > ((int64_t)3 << lg) / 4)
		lg++;
	return lg;
}

/* p's children count (its current version's) grew the table, maybe. */
static void note_children(struct znode *p)
{
	struct zstat st;
	unsigned lg;

	ver_stat(p->ver, &st);
	if (st.num_children <= 0)
		return;
	lg = java_table_lg(p->zk_cap > 3 ? p->zk_cap : 3, st.num_children);
	if (lg > p->zk_cap)
		TREE_STORE(p->zk_cap, (uint8_t)lg);
}

/* A system node with an all-zero stat but the given overrides. */
static struct znode *sys_node(struct tree *t, struct znode *parent,
			      const char *path, struct zacl *acl,
			      int32_t num_children, int32_t cversion,
			      int32_t aversion)
{
	struct zstat st = {.num_children = num_children,
			   .cversion = cversion,
			   .aversion = aversion};
	struct znode *n = node_alloc(t, path, strlen(path), false);
	struct zver *v = ver_new_data(t, &st, acl, false, "");

	if (!n || !v) {
		node_discard(t, n);
		ver_discard(t, v, true);
		return NULL;
	}
	ver_commit(v);
	n->ver = v;
	note_children(n);
	if (parent)
		child_add(parent, n);
	lfht_add(t, n);
	digest_add_new(t, n, v, false);
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
	slab_init(&t->slab);
	pthread_mutex_init(&t->rs_lock, NULL);
	pthread_cond_init(&t->rs_cond, NULL);
	t->ht_size = LFHT_INIT_BUCKETS;
	CDS_INIT_LIST_HEAD(&t->ctl);
	t->sb = calloc(SESS_INIT_BUCKETS, sizeof(*t->sb));
	t->sb_mask = SESS_INIT_BUCKETS - 1;
	t->ht = cds_lfht_new(LFHT_INIT_BUCKETS, LFHT_INIT_BUCKETS, 0,
			     CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, NULL);
	t->quota = quota_new();
	open = zacl_open();
	read = zacl_new(1, rperm, world, anyone);
	if (!t->sb || !t->ht || !t->quota || !open || !read)
		goto err;

	/* ZooKeeper's reported cversion of "/" and "/zookeeper" starts at
	 * -numChildren (see the design note). */
	t->root = sys_node(t, NULL, "/", open, 1, -1, 0);
	if (!t->root)
		goto err;
	zk = sys_node(t, t->root, "/zookeeper", open, 2, -2, 0);
	/* DataTree.addConfigNode: READ_ACL_UNSAFE, aversion -1; the list is
	 * newest first, so config is made before quota */
	if (!zk || !sys_node(t, zk, "/zookeeper/config", read, 0, 0, -1) ||
	    !sys_node(t, zk, "/zookeeper/quota", open, 0, 0, 0))
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
	quota_free(t->quota);
	slab_destroy(&t->slab);
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
 * Free every node (no readers, nodes already out of the lfht).  With no
 * parent pointers, a node's writer-only prev is reused as one on the
 * way down; leaves are freed walking back up: O(n), no recursion.
 */
static void free_subtrees(struct tree *t, struct znode *root)
{
	struct znode *cur = root, *p;

	if (!root)
		return;
	root->prev = NULL;
	while (cur) {
		if (cur->child) {
			p = cur;
			cur = cur->child;
			cur->prev = p;
			continue;
		}
		p = cur->prev;
		if (p)
			p->child = cur->next;
		if (cur->ver)
			ver_release(t, cur->ver, true);
		slab_free(&t->slab, node_block(cur), node_size(cur));
		cur = p;
	}
}

static void destroy_nodes(struct tree *t)
{
	pthread_t th;
	struct retire *r = t->retiring;
	unsigned i;

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
	reclaim(t);
	if (r) {
		for (i = 0; i < r->n; i++)
			block_free(t, r->it[i].p, r->it[i].size);
		free(r);
		t->retiring = NULL;
	}
	free_subtrees(t, t->root);
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
	free(t->rstack);
	cds_lfht_destroy(t->ht, NULL);
	for (i = 0; i <= t->sb_mask; i++) {
		struct sess *s = t->sb[i], *next;

		for (; s; s = next) {
			next = s->next;
			free(s);
		}
	}
	free(t->sb);
	free(t->dcache);
	quota_free(t->quota);
	slab_destroy(&t->slab);
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

uint64_t tree_mem_bytes(const struct tree *t)
{
	return TREE_LOAD(t->mem_bytes);
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

const struct znode *tree_lookup_hashed(const struct tree *t, const char *path,
				       size_t len, uint64_t hash)
{
	return lookup_hashed(t, path, len, hash);
}

void znode_view(const struct znode *n, struct zview *v)
{
	const struct zver *ver = rcu_dereference(n->ver);

	ver_stat(ver, &v->stat);
	v->data = ver_bytes(ver);
	v->data_null = ver->acl & VER_NULL_DATA;
	v->acl = ver_acl(ver);
}

const char *znode_path(const struct znode *n)
{
	return n->path;
}

size_t znode_path_len(const struct znode *n)
{
	return n->path_len;
}

int znode_children(const struct znode *n,
		   int (*fn)(const char *name, size_t len, void *arg),
		   void *arg)
{
	const struct znode *c;
	const char *name;
	int r;

	for (c = LINK_LOAD(n->child); c; c = LINK_LOAD(c->next)) {
		/* a child's path has a '/' (the root's has no parent) */
		name = (const char *)memrchr(c->path, '/', c->path_len) + 1;
		r = fn(name, c->path_len - (size_t)(name - c->path), arg);
		if (r)
			return r;
	}
	return 0;
}

/* Pre-order walk of n's descendants: their number and, if bytes is not
 * NULL, the sum of their data lengths.  false if out of memory (a tree
 * deeper than 64 levels needs a bigger stack). */
static bool descendants(const struct znode *n, int64_t *count,
			int64_t *bytes)
{
	const struct znode *small[64], **stack = small, **grown;
	const struct znode *c;
	size_t depth = 0, cap = 64;
	bool ok = true;

	*count = 0;
	/* stack[i] is the next node to visit at depth i */
	c = LINK_LOAD(n->child);
	if (c)
		stack[depth++] = c;
	while (depth) {
		c = stack[depth - 1];
		++*count;
		if (bytes)
			*bytes += ver_len(rcu_dereference(c->ver));
		stack[depth - 1] = LINK_LOAD(c->next);
		if (!stack[depth - 1])
			depth--;
		c = LINK_LOAD(c->child);
		if (!c)
			continue;
		if (depth == cap) {
			grown = stack == small ? malloc(2 * cap * sizeof(*grown))
					       : realloc(stack, 2 * cap *
								sizeof(*grown));
			if (!grown) {
				ok = false;
				break;
			}
			if (stack == small)
				memcpy(grown, small, sizeof(small));
			stack = grown;
			cap *= 2;
		}
		stack[depth++] = c;
	}
	if (stack != small)
		free(stack);
	return ok;
}

struct zorder_ent {
	const char *name;
	uint32_t len;
	uint32_t bucket;
};

/* A String.hashCode's bucket in a java.util.HashMap table of mask + 1
 * entries (HashMap.hash spreads the high half down). */
static inline uint32_t java_bucket(int32_t hash, uint32_t mask)
{
	uint32_t h = (uint32_t)hash;

	return (h ^ (h >> 16)) & mask;
}

/* Orders computed lately, by parent: a getChildren of a parent whose
 * children did not change since (same node, czxid and pzxid: every
 * child created or deleted sets pzxid to its own zxid) reuses its order,
 * names included (those children are all alive while pzxid stands).
 * Only orders read with no writer active are kept (the seqcount), so
 * list and pzxid agree. */
#define ZORDER_SLOTS 16

struct zorder_slot {
	const struct znode *n;
	zxid_t czxid, pzxid;
	size_t k, cap;
	struct zorder_ent *e;
};

struct zorder_cache {
	struct zorder_slot s[ZORDER_SLOTS];
};

void zorder_buf_free(struct zorder_buf *b)
{
	if (b->cache)
		for (int i = 0; i < ZORDER_SLOTS; i++)
			free(b->cache->s[i].e);
	free(b->cache);
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Compute n's children order into b->p; returns the entry count, or -1
 * on ENOMEM.  *sorted points at the ordered entries. */
static ssize_t zorder_compute(const struct znode *n, struct zorder_buf *b,
			      struct zorder_ent **sorted)
{
	const struct znode *c;
	struct zorder_ent *e = b->p;
	unsigned lg = TREE_LOAD(n->zk_cap);
	uint32_t mask = (1u << lg) - 1, *count;
	size_t k = 0, i, room;

	/* the buffer: entries, then as many again (the sorted copy), then
	 * the table's counts */
	for (c = LINK_LOAD(n->child); c; c = LINK_LOAD(c->next)) {
		room = b->cap / (2 * sizeof(*e) + sizeof(uint32_t));
		if (k == room || (size_t)1 << lg > room) {
			size_t cap = 2 * b->cap > 4096 ? 2 * b->cap : 4096;
			while (cap / (2 * sizeof(*e) + sizeof(uint32_t)) <=
			       ((size_t)1 << lg))
				cap *= 2;
			struct zorder_ent *g = malloc(cap);
			if (!g)
				return -1;
			if (k)
				memcpy(g, e, k * sizeof(*e));
			free(e);
			b->p = e = g;
			b->cap = cap;
		}
		const char *name =
		    (const char *)memrchr(c->path, '/', c->path_len) + 1;
		uint32_t len = (uint32_t)(c->path_len - (size_t)(name - c->path));
		e[k++] = (struct zorder_ent){
		    name, len, java_bucket(zk_java_hash(name, len), mask)};
	}
	/* a stable counting sort by bucket into the second part */
	room = b->cap / (2 * sizeof(*e) + sizeof(uint32_t));
	struct zorder_ent *out = e + room;
	count = (uint32_t *)(out + room);
	if (k > 1) {
		memset(count, 0, ((size_t)mask + 1) * sizeof(*count));
		for (i = 0; i < k; i++)
			count[e[i].bucket]++;
		uint32_t at = 0;
		for (i = 0; i <= mask; i++) {
			uint32_t m = count[i];
			count[i] = at;
			at += m;
		}
		for (i = 0; i < k; i++)
			out[count[e[i].bucket]++] = e[i];
	} else {
		out = e;
	}
	*sorted = out;
	return (ssize_t)k;
}

int znode_children_zk(const struct tree *t, const struct znode *n,
		      int (*fn)(const char *name, size_t len, void *arg),
		      void *arg, struct zorder_buf *b, bool reverse)
{
	struct zorder_ent *e;
	struct zorder_slot *sl = NULL;
	const struct zver *v;
	size_t k, i;
	ssize_t got;
	unsigned seq;
	int r;

	if (!b->cache)
		b->cache = calloc(1, sizeof(*b->cache));
	seq = tree_read_begin(t);
	v = rcu_dereference(n->ver);
	zxid_t czxid = v->czxid, pzxid;
	{
		struct zstat st;

		ver_stat(v, &st);
		pzxid = st.pzxid;
	}
	if (b->cache) {
		sl = &b->cache->s[((uintptr_t)n >> 6) % ZORDER_SLOTS];
		if (sl->n == n && sl->czxid == czxid && sl->pzxid == pzxid) {
			e = sl->e;
			k = sl->k;
			goto emit;
		}
	}
	got = zorder_compute(n, b, &e);
	if (got < 0)
		return -1;
	k = (size_t)got;
	/* keep it if no writer ran meanwhile (then pzxid and list agree) */
	if (sl && !tree_read_retry(t, seq) &&
	    rcu_dereference(n->ver) == v) {
		if (k > sl->cap) {
			struct zorder_ent *g = realloc(sl->e, k * sizeof(*g));
			if (!g)
				goto emit;
			sl->e = g;
			sl->cap = k;
		}
		if (k)
			memcpy(sl->e, e, k * sizeof(*e));
		sl->n = n;
		sl->czxid = czxid;
		sl->pzxid = pzxid;
		sl->k = k;
	}
emit:
	for (i = 0; i < k; i++) {
		const struct zorder_ent *x = &e[reverse ? k - 1 - i : i];
		r = fn(x->name, x->len, arg);
		if (r)
			return r;
	}
	return 0;
}

int64_t znode_descendants(const struct znode *n)
{
	int64_t count;

	return descendants(n, &count, NULL) ? count : -1;
}

bool znode_subtree_usage(const struct znode *n, int64_t *count,
			 int64_t *bytes)
{
	*bytes = ver_len(rcu_dereference(n->ver));
	if (!descendants(n, count, bytes))
		return false;
	++*count;
	return true;
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

/* Buckets for `count` znodes: the power of two that keeps one to two
 * znodes per bucket (a lookup walks about 1.5 nodes; a bucket is 16
 * bytes, so this is 8-16 bytes per znode). */
static unsigned long buckets_for(uint64_t count, unsigned long have)
{
	unsigned long want = have;

	while (2 * (uint64_t)want < count)
		want <<= 1;
	return want;
}

/* Writer: grow the hash table in the background when the tree outgrew
 * it.  A failure to start the thread only leaves lookups slower. */
static void maybe_grow(struct tree *t)
{
	unsigned long want = buckets_for(t->node_count, t->ht_size);

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

static void dlog_add(struct tree *t, zxid_t zxid);

void tree_write_end(struct tree *t, zxid_t zxid)
{
	if (zxid > t->dlog_seen) {
		t->dlog_seen = zxid;
		if (!((uint64_t)zxid % TREE_DIGEST_LOG_INTERVAL))
			dlog_add(t, zxid);
	}
	if (t->write_depth > 1) {
		t->write_depth--;
		return;
	}
	TREE_STORE(t->applied, zxid);
	TREE_STORE(t->mem_bytes, t->slab.mapped + t->slab.big);
	if (t->write_depth == 1) {
		t->write_depth = 0;
		cmm_smp_wmb();
		TREE_STORE(t->seq, t->seq + 1);
	}
	if (t->node_count > 2 * (uint64_t)t->ht_size)
		maybe_grow(t);
}

static void owner_link_add(struct tree *t, struct znode *n, struct sess *s)
{
	if (s) {
		cds_list_add_tail(node_link(n), &s->nodes);
		s->zk_cap = (uint8_t)java_table_lg(s->zk_cap, ++s->n);
	} else if (n->linked)
		cds_list_add_tail(node_link(n), &t->ctl);
}

static void owner_link_del(struct tree *t, struct znode *n, int64_t owner)
{
	if (!n->linked)
		return;
	cds_list_del(node_link(n));
	CDS_INIT_LIST_HEAD(node_link(n));
	if (zk_owner_is_session(owner)) {
		struct sess *s = sess_find(t, owner);

		if (s)
			s->n--;
		sess_drop_if_empty(t, owner);
	}
}

/* The parent of a path, through the create cache or the table. */
static struct znode *find_parent(struct tree *t, const char *path, size_t plen)
{
	struct znode *p = t->create_parent;

	if (p && p->path_len == plen && !memcmp(p->path, path, plen))
		return p;
	return lookup(t, path, plen);
}

/* The parent's next version when a child is created (delta 1) or
 * deleted (-1) by zxid; NULL on ENOMEM. */
static struct zver *parent_ver(struct tree *t, const struct znode *parent,
			       int delta, zxid_t zxid)
{
	struct zstat st;

	ver_stat(parent->ver, &st);
	st.cversion = inc32(st.cversion, 1);
	st.pzxid = zxid;
	st.num_children = inc32(st.num_children, delta);
	return ver_restat(t, parent->ver, &st, ver_acl(parent->ver));
}

static int parent_changed(struct tree *t, struct znode *parent, int delta,
			  zxid_t zxid)
{
	struct zver *pv = parent_ver(t, parent, delta, zxid);

	if (!pv)
		return ZSYSTEMERROR;
	node_restat(t, parent, pv);
	return ZOK;
}

int tree_node_create(struct tree *t, const char *path, size_t len,
		     const void *data, int32_t data_len, struct zacl *acl,
		     int64_t ephemeral_owner, zxid_t zxid, int64_t time_ms,
		     struct zstat *stat_out)
{
	struct znode *parent, *n = NULL;
	struct zver *v = NULL, *pv = NULL;
	struct sess *s = NULL;
	struct zstat st = {0};
	size_t plen;
	bool null_data = data_len < 0, hinted = hint_take(t);

	if (data_len < 0)
		data_len = 0;
	if (path && len == 1 && path[0] == '/')
		return ZNODEEXISTS; /* the root always exists */
	if (!path || len < 2 || path[0] != '/' || len > INT32_MAX ||
	    (data_len > 0 && !data))
		return ZBADARGUMENTS;
	if (path[len - 1] == '/')
		return ZBADARGUMENTS; /* empty last component */
	plen = zk_parent_len(path, len);
	/* creates cluster under a few parents: remember the last one (any
	 * delete forgets it) */
	parent = find_parent(t, path, plen);
	if (!parent)
		return ZNONODE;
	t->create_parent = parent;
	if (parent->ver->has & VF_OWNER) {
		struct zstat ps;

		ver_stat(parent->ver, &ps);
		if (zk_owner_is_session(ps.ephemeral_owner))
			return lookup(t, path, len) ? ZNODEEXISTS
						    : ZNOCHILDRENFOREPHEMERALS;
	}

	st.czxid = st.mzxid = st.pzxid = zxid;
	st.ctime = st.mtime = time_ms;
	st.ephemeral_owner = ephemeral_owner;
	st.data_length = data_len;
	n = node_alloc(t, path, len, owner_listed(ephemeral_owner));
	v = ver_new_data(t, &st, acl, null_data, data);
	pv = parent_ver(t, parent, 1, zxid);
	if (!n || !v || !pv)
		goto nomem;
	if (zk_owner_is_session(ephemeral_owner)) {
		s = sess_get(t, ephemeral_owner);
		if (!s)
			goto nomem;
	}
	n->ver = v;
	/* the existence check and the insertion in one walk of the table;
	 * on a duplicate nothing was published */
	if (!lfht_add_unique(t, n)) {
		node_discard(t, n);
		ver_discard(t, v, true);
		ver_discard(t, pv, false);
		if (s)
			sess_drop_if_empty(t, ephemeral_owner);
		return ZNODEEXISTS;
	}
	ver_commit(v); /* references; only this thread ever drops them */
	child_add(parent, n);
	digest_add_new(t, n, v, hinted);
	node_restat(t, parent, pv);
	note_children(parent);
	owner_link_add(t, n, s);
	TREE_STORE(t->node_count, t->node_count + 1);
	TREE_STORE(t->data_bytes, t->data_bytes + len + (size_t)data_len);
	if (stat_out)
		*stat_out = st;
	quota_created(t, t->quota, path, len, data_len);
	return ZOK;
nomem:
	node_discard(t, n);
	ver_discard(t, v, true);
	ver_discard(t, pv, false);
	if (s)
		sess_drop_if_empty(t, ephemeral_owner);
	return ZSYSTEMERROR;
}

int tree_node_delete(struct tree *t, const char *path, size_t len, zxid_t zxid)
{
	struct znode *n, *parent;
	struct zstat st;
	int rc;

	if (!path || len == 0)
		return ZBADARGUMENTS;
	n = lookup(t, path, len);
	if (!n)
		return ZNONODE;
	if (n == t->root)
		return ZBADARGUMENTS; /* "/" */
	ver_stat(n->ver, &st);
	if (st.num_children != 0 || n->child)
		return ZNOTEMPTY;
	parent = find_parent(t, path, zk_parent_len(path, len));
	if (!parent)
		return ZSYSTEMERROR; /* a node without its parent: a bug */
	rc = parent_changed(t, parent, -1, zxid);
	if (rc)
		return rc;
	/* they may be the node going away */
	t->create_parent = NULL;
	t->rs_n = 0;
	cds_lfht_del(t->ht, &n->ht);
	child_replace(parent, n, NULL);
	owner_link_del(t, n, st.ephemeral_owner);
	TREE_STORE(t->node_count, t->node_count - 1);
	TREE_STORE(t->data_bytes,
		   t->data_bytes - n->path_len - (uint64_t)st.data_length);
	if (t->digest_on) {
		uint32_t dcrc;

		digest_drop(t, n, n->ver, &dcrc);
	}
	ver_release(t, n->ver, false);
	retire(t, node_block(n), node_size(n));
	quota_deleted(t, t->quota, path, len, st.data_length);
	return ZOK;
}

int tree_node_set_data(struct tree *t, const char *path, size_t len,
		       const void *data, int32_t data_len, zxid_t zxid,
		       int64_t time_ms, struct zstat *stat_out)
{
	struct znode *n;
	struct zver *v;
	struct zstat st;
	int32_t old_len;
	bool null_data = data_len < 0, hinted = hint_take(t);

	if (data_len < 0)
		data_len = 0;
	if (!path || (data_len > 0 && !data))
		return ZBADARGUMENTS;
	n = lookup(t, path, len);
	if (!n)
		return ZNONODE;
	ver_stat(n->ver, &st);
	old_len = st.data_length;
	st.version = inc32(st.version, 1);
	st.mzxid = zxid;
	st.mtime = time_ms;
	st.data_length = data_len;
	v = ver_new_data(t, &st, ver_acl(n->ver), null_data, data);
	if (!v)
		return ZSYSTEMERROR;
	node_swap_ver_as(t, n, v, false, hinted);
	TREE_STORE(t->data_bytes, t->data_bytes + (uint64_t)data_len -
					    (uint64_t)old_len);
	if (stat_out)
		*stat_out = st;
	quota_resized(t, t->quota, path, len, (int64_t)data_len - old_len);
	return ZOK;
}

int tree_data_rewrite(struct tree *t, const char *path, size_t len,
		      const char *data, size_t dlen)
{
	struct znode *n = lookup(t, path, len);
	struct zver *v;
	struct zstat st;

	if (!n)
		return ZNONODE;
	ver_stat(n->ver, &st);
	TREE_STORE(t->data_bytes,
		   t->data_bytes + dlen - (uint64_t)st.data_length);
	st.data_length = (int32_t)dlen;
	v = ver_new_data(t, &st, ver_acl(n->ver), false, data);
	if (!v)
		return ZSYSTEMERROR;
	node_swap_ver(t, n, v);
	return ZOK;
}

struct quota *tree_quota(const struct tree *t)
{
	return t->quota;
}

int tree_node_set_acl(struct tree *t, const char *path, size_t len,
		      struct zacl *acl, zxid_t zxid, struct zstat *stat_out)
{
	struct znode *n;
	struct zver *v;
	struct zstat st;

	(void)zxid;
	if (!path)
		return ZBADARGUMENTS;
	n = lookup(t, path, len);
	if (!n)
		return ZNONODE;
	ver_stat(n->ver, &st);
	st.aversion = inc32(st.aversion, 1);
	v = ver_restat(t, n->ver, &st, acl);
	if (!v)
		return ZSYSTEMERROR;
	node_restat(t, n, v);
	if (stat_out)
		*stat_out = st;
	return ZOK;
}

void tree_reserve(struct tree *t, uint64_t nodes)
{
	unsigned long want = buckets_for(nodes, t->ht_size);

	if (want == t->ht_size)
		return;
	t->ht_size = want;
	cds_lfht_resize(t->ht, want);
}

int tree_node_child_replayed(struct tree *t, const char *path, size_t len,
			     bool created, zxid_t zxid)
{
	struct znode *n = path ? lookup(t, path, len) : NULL;
	const struct znode *c;
	struct zstat st;
	struct zver *pv;
	int32_t kids = 0;

	if (!n)
		return ZNONODE;
	for (c = n->child; c; c = c->next)
		kids++;
	ver_stat(n->ver, &st);
	/* creates = (cversion + numChildren) / 2 (the Stat rules above) */
	st.cversion = (int32_t)(2 * ((int64_t)zk_cversion_stored(&st) +
				     (created ? 1 : 0)) -
				kids);
	st.num_children = kids;
	st.pzxid = zxid;
	pv = ver_restat(t, n->ver, &st, ver_acl(n->ver));
	if (!pv)
		return ZSYSTEMERROR;
	node_restat(t, n, pv);
	if (created)
		note_children(n);
	return ZOK;
}

struct eph_ent {
	const char *path;
	uint32_t len;
	int32_t hash;
	uint32_t bucket;
	size_t rank;
};

static int eph_cmp(const void *a, const void *b)
{
	const struct eph_ent *x = a, *y = b;

	if (x->bucket != y->bucket)
		return x->bucket < y->bucket ? -1 : 1;
	return x->rank < y->rank ? -1 : x->rank > y->rank;
}

/* Java's HashMap.tableSizeFor */
static uint32_t table_size_for(uint32_t c)
{
	uint32_t n = 1;

	while (n < c)
		n <<= 1;
	return n;
}

int tree_ephemerals_zk(const struct tree *ct, int64_t session,
		       void (*fn)(const char *path, size_t len, void *arg),
		       void *arg)
{
	struct tree *t = (struct tree *)ct;
	struct sess *s = sess_find(t, session);
	struct cds_list_head *l;
	struct eph_ent *e;
	size_t k = 0, i;

	if (!s || s->n <= 0)
		return 0;
	e = malloc((size_t)s->n * sizeof(*e));
	if (!e)
		return -1;
	/* the session's set: by bucket of its table, then insertion */
	uint32_t mask = (1u << s->zk_cap) - 1;
	cds_list_for_each(l, &s->nodes) {
		struct znode *n = link_node(l);
		int32_t h = zk_java_hash(n->path, n->path_len);

		if (k == (size_t)s->n)
			break;
		e[k] = (struct eph_ent){n->path, n->path_len, h,
					java_bucket(h, mask), k};
		k++;
	}
	qsort(e, k, sizeof(*e), eph_cmp);
	/* its clone (getEphemerals answers from one): a table of
	 * tableSizeFor(size / 0.75 + 1), filled in that order */
	uint32_t cmask = table_size_for((uint32_t)((float)k / 0.75f + 1.0f)) - 1;
	for (i = 0; i < k; i++) {
		e[i].rank = i;
		e[i].bucket = java_bucket(e[i].hash, cmask);
	}
	qsort(e, k, sizeof(*e), eph_cmp);
	for (i = 0; i < k; i++)
		fn(e[i].path, e[i].len, arg);
	free(e);
	return 0;
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
	struct cds_list_head *l, *tmp;
	struct znode *n;

	if (!s)
		return;
	t->iter_depth++;
	cds_list_for_each_safe(l, tmp, &s->nodes) {
		n = link_node(l);
		fn(n->path, n->path_len, arg);
	}
	t->iter_depth--;
	if (!t->iter_depth)
		sess_drop_if_empty(t, session);
}

void tree_containers_and_ttls(const struct tree *ct,
			      void (*fn)(const struct znode *n, void *arg),
			      void *arg)
{
	struct tree *t = (struct tree *)ct;
	struct cds_list_head *l, *tmp;

	t->iter_depth++;
	cds_list_for_each_safe(l, tmp, &t->ctl) fn(link_node(l), arg);
	t->iter_depth--;
}

/* One of the nodes tree_create makes: "/", "/zookeeper" and below. */
static bool sys_path(const char *path, size_t len)
{
	static const char zk[] = "/zookeeper";

	return len == 1 ||
	       (len >= sizeof(zk) - 1 && !memcmp(path, zk, sizeof(zk) - 1) &&
		(len == sizeof(zk) - 1 || path[sizeof(zk) - 1] == '/'));
}

/*
 * Restore over an existing node n whose owner list membership must
 * change (a persistent node becoming a container, say): the link lives
 * in front of the node, so the node moves to a new block.  Loading runs
 * before readers start, but the old block is retired all the same.
 */
static struct znode *node_relink(struct tree *t, struct znode *n, bool linked)
{
	struct znode *m, *p = NULL;

	if (n != t->root) {
		p = find_parent(t, n->path,
				zk_parent_len(n->path, n->path_len));
		if (!p)
			return NULL; /* a node without its parent: a bug */
	}
	m = node_alloc(t, n->path, n->path_len, linked);
	if (!m)
		return NULL;
	m->ver = n->ver;
	m->child = n->child; /* the children do not point back */
	cds_lfht_del(t->ht, &n->ht);
	lfht_add(t, m);
	if (p)
		child_replace(p, n, m);
	else
		t->root = m;
	t->create_parent = NULL;
	t->rs_n = 0;
	retire(t, node_block(n), node_size(n));
	return m;
}

/*
 * Snapshot loading.  Unlike tree_node_create, the stat is taken verbatim
 * (ZooKeeper's DataTree.deserialize also restores nodes without touching
 * their parents' stats) and an existing node is overwritten in place.
 */
int tree_node_restore(struct tree *t, const char *path, size_t len,
		      const struct zstat *stat, const void *data,
		      int32_t data_len, struct zacl *acl, bool fresh)
{
	struct znode *parent, *n;
	struct zver *v;
	struct sess *s = NULL;
	struct zstat st, old;
	size_t plen;
	int64_t owner;
	bool null_data = data_len < 0;

	if (data_len < 0)
		data_len = 0;
	if (!path || !stat || len == 0 || path[0] != '/' || len > INT32_MAX ||
	    (data_len > 0 && !data) || (len > 1 && path[len - 1] == '/'))
		return ZBADARGUMENTS;
	owner = stat->ephemeral_owner;
	if (zk_owner_is_session(owner)) {
		s = sess_get(t, owner);
		if (!s)
			return ZSYSTEMERROR;
	}
	st = *stat;
	st.data_length = data_len;
	v = ver_new_data(t, &st, acl, null_data, data);
	if (!v)
		goto nomem;

	fresh = fresh && !sys_path(path, len);
	if (!fresh)
		tree_restore_done(t);
	n = fresh ? NULL : lookup(t, path, len);
	if (n) {
		ver_stat(n->ver, &old);
		if (old.ephemeral_owner != owner) {
			owner_link_del(t, n, old.ephemeral_owner);
			if (n->linked != owner_listed(owner)) {
				struct znode *m =
					node_relink(t, n, owner_listed(owner));

				if (!m) {
					ver_discard(t, v, true);
					goto nomem;
				}
				n = m;
			}
			owner_link_add(t, n, s);
		}
		node_swap_ver(t, n, v);
		note_children(n);
		TREE_STORE(t->data_bytes,
			   t->data_bytes + (uint64_t)data_len -
				   (uint64_t)old.data_length);
		return ZOK;
	}
	/* a snapshot lists siblings together: the parent is on the stack */
	plen = zk_parent_len(path, len);
	parent = restore_find_parent(t, path, plen);
	if (!parent) {
		tree_restore_done(t);
		parent = lookup(t, path, plen);
	}
	if (!parent) {
		ver_discard(t, v, true);
		if (s)
			sess_drop_if_empty(t, owner);
		return ZNONODE;
	}
	n = node_alloc(t, path, len, owner_listed(owner));
	if (!n) {
		ver_discard(t, v, true);
		goto nomem;
	}
	ver_commit(v);
	n->ver = v;
	note_children(n);
	digest_add_new(t, n, v, false);
	if (!fresh || !restore_defer(t, n))
		lfht_add(t, n);
	restore_push(t, parent, n);
	child_add(parent, n);
	owner_link_add(t, n, s);
	TREE_STORE(t->node_count, t->node_count + 1);
	TREE_STORE(t->data_bytes, t->data_bytes + len + (size_t)data_len);
	/* Loading: no readers and no quiescent states until the end, so grow
	 * the table here, synchronously (cds_lfht_resize goes offline for
	 * its grace periods), rather than through the resizer thread. */
	if (t->node_count > 2 * (uint64_t)t->ht_size)
		tree_reserve(t, 2 * t->node_count);
	return ZOK;
nomem:
	if (s)
		sess_drop_if_empty(t, owner);
	return ZSYSTEMERROR;
}

/* ------------------------------------------------------------------ */
/* Digest                                                               */
/* ------------------------------------------------------------------ */
int64_t tree_node_digest(struct tree *t, const struct znode *n,
			 uint32_t *dcrc)
{
	const struct zver *v = n->ver;
	struct dcache *c = t->digest_on ? dcache_slot(t, v) : NULL;

	if (c && c->v == v) {
		*dcrc = c->dcrc;
		return c->d;
	}
	return ver_digest(n, v, dcrc);
}

void tree_digest_hint(struct tree *t, uint32_t dcrc)
{
	t->hint = dcrc;
	t->hinted = true;
}

void tree_digest_start(struct tree *t)
{
	struct cds_lfht_iter it;
	struct znode *n;
	uint64_t sum = 0;

	uint32_t dcrc;

	if (t->digest_on)
		return;
	t->dcache = calloc(DCACHE_SLOTS, sizeof(*t->dcache));
	if (!t->dcache)
		abort(); /* 96 KiB at start-up */
	tree_restore_done(t); /* every node in the table */
	cds_lfht_for_each_entry(t->ht, &it, n, ht)
		sum += (uint64_t)ver_digest(n, n->ver, &dcrc);
	TREE_STORE(t->digest, sum);
	t->digest_on = true;
}

bool tree_digest_on(const struct tree *t)
{
	return t->digest_on;
}

uint64_t tree_digest(const struct tree *t)
{
	return TREE_LOAD(t->digest);
}

/* Digest log.  A seqcount per entry, as the tree's own: the writer
 * counts an entry begun, writes it, counts it done; a reader copies the
 * entries done and takes the copy again if the writer began overwriting
 * one of them meanwhile.  Every field is a C11 atomic, so a torn copy
 * is a retry, never a data race. */
static void dlog_add(struct tree *t, zxid_t zxid)
{
	uint64_t j = t->dlog_done; /* written by this thread only */
	struct tree_zxid_digest *e = &t->dlog[j % TREE_DIGEST_LOG_LIMIT];

	if (!t->dlog_on || !t->digest_on)
		return;
	TREE_STORE(t->dlog_begun, j + 1);
	cmm_smp_wmb();
	TREE_STORE(e->zxid, zxid);
	TREE_STORE(e->digest, (int64_t)t->digest);
	cmm_smp_wmb();
	TREE_STORE(t->dlog_done, j + 1);
}

void tree_digest_log_start(struct tree *t)
{
	t->dlog_on = true;
}

size_t tree_digest_log(const struct tree *t, struct tree_zxid_digest *out)
{
	for (;;) {
		uint64_t done = TREE_LOAD(t->dlog_done), first, j;
		size_t n = 0;

		cmm_smp_rmb();
		first = done > TREE_DIGEST_LOG_LIMIT
			    ? done - TREE_DIGEST_LOG_LIMIT
			    : 0;
		for (j = first; j < done; j++, n++) {
			const struct tree_zxid_digest *e =
			    &t->dlog[j % TREE_DIGEST_LOG_LIMIT];

			out[n].zxid = TREE_LOAD(e->zxid);
			out[n].digest = TREE_LOAD(e->digest);
		}
		cmm_smp_rmb();
		/* entry j's slot is rewritten by entry j + LIMIT */
		if (TREE_LOAD(t->dlog_begun) <= first + TREE_DIGEST_LOG_LIMIT)
			return n;
	}
}
