/*
 * quota.c — ZooKeeper 3.8's quota bookkeeping (DataTree, StatsTrack,
 * QuotaMetricsUtils), over the tree.
 *
 * Design note
 * -----------
 * Quotas are plain znodes, as in ZooKeeper: zkCli's setquota creates
 * /zookeeper/quota<P>/zookeeper_limits ("count=C,bytes=B", plus
 * ";countHardLimit=..;byteHardLimit=.." when hard limits are set) and
 * then /zookeeper/quota<P>/zookeeper_stats.  The server keeps the usage
 * in the stats node itself:
 *  - creating a zookeeper_limits node makes P a quota path;
 *  - creating a zookeeper_stats node sets its data to P's usage, counted
 *    over P's subtree (P included) — the create's own reply still shows
 *    the data the client sent, as ZooKeeper's does;
 *  - every create, delete and setData under a quota path adds to the
 *    usage of the longest quota path above it (only that one: nested
 *    quotas do not add up), by rewriting the stats node's data in place,
 *    without a new mzxid, version or watch event (tree_data_rewrite);
 *  - deleting a zookeeper_limits node forgets P (only P: quota paths
 *    below it stay);
 *  - after recovery tree_quota_setup counts every quota path's usage
 *    afresh (DataTree.setupQuota), so a fuzzy snapshot's stats nodes do
 *    not matter.
 * The quota paths are a small writer-only array: with none (the usual
 * case) a write pays one comparison.  Usage is derived state, never a
 * transaction, exactly as in ZooKeeper.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tree/quota_int.h"

#define QUOTA_ROOT "/zookeeper/quota"
#define QUOTA_ROOT_LEN (sizeof(QUOTA_ROOT) - 1)
#define PROC_ROOT "/zookeeper"
#define PROC_ROOT_LEN (sizeof(PROC_ROOT) - 1)
#define LIMIT_NODE "zookeeper_limits"
#define STAT_NODE "zookeeper_stats"
#define QUOTA_MAX_DEPTH 256 /* metrics/setup walk of /zookeeper/quota */

struct qpath {
	char *p;
	size_t len;
};

/* QUOTA_EXCEEDED_ERROR_PER_NAMESPACE: refusals per top-level namespace
 * of the refused path.  Append-only; the writer fills an entry, then
 * publishes nerr; mntr reads. */
struct qerr {
	char ns[sizeof(((struct tree_quota_ns *)0)->ns)];
	_Atomic int64_t n;
};

struct quota {
	struct qpath *v;
	size_t n, cap;
	struct qerr err[TREE_QUOTA_NS_MAX];
	_Atomic int nerr;
};

struct quota *quota_new(void)
{
	return calloc(1, sizeof(struct quota));
}

void quota_free(struct quota *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->n; i++)
		free(q->v[i].p);
	free(q->v);
	free(q);
}

/* ---------------------------------------------------------------- */
/* StatsTrack: "count=N,bytes=M" and, after a '=', ";key=value" pairs  */
/* ---------------------------------------------------------------- */

#define ST_KEYS 8
#define ST_KEY_MAX 32

struct stats_track {
	int n;
	struct {
		char key[ST_KEY_MAX];
		int64_t v;
	} kv[ST_KEYS];
};

static int64_t st_get(const struct stats_track *s, const char *key)
{
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->kv[i].key, key))
			return s->kv[i].v;
	return -1;
}

static void st_set(struct stats_track *s, const char *key, size_t klen,
		   int64_t v)
{
	int i;

	if (klen >= ST_KEY_MAX)
		return;
	for (i = 0; i < s->n; i++)
		if (strlen(s->kv[i].key) == klen &&
		    !memcmp(s->kv[i].key, key, klen))
			break;
	if (i == s->n) {
		if (s->n == ST_KEYS)
			return;
		s->n++;
		memcpy(s->kv[i].key, key, klen);
		s->kv[i].key[klen] = 0;
	}
	s->kv[i].v = v;
}

/* StatsTrack(String): pairs split on runs of ',' and ';'; in each, the
 * key ends at the first '=' and the value at the next (an empty value is
 * -1).  A pair ZooKeeper would throw on (no '=', a value that is not a
 * long) is skipped. */
static void st_parse(struct stats_track *s, const char *d, size_t len)
{
	size_t i = 0;

	s->n = 0;
	while (i < len) {
		while (i < len && (d[i] == ',' || d[i] == ';'))
			i++;
		size_t b = i;
		while (i < len && d[i] != ',' && d[i] != ';')
			i++;
		const char *eq = memchr(d + b, '=', i - b);
		if (!eq)
			continue;
		const char *val = eq + 1, *end = d + i;
		const char *eq2 = memchr(val, '=', (size_t)(end - val));
		if (eq2)
			end = eq2;
		int64_t v = -1;
		if (end > val) {
			char num[24], *stop;
			size_t nl = (size_t)(end - val);
			if (nl >= sizeof(num))
				continue;
			memcpy(num, val, nl);
			num[nl] = 0;
			v = strtoll(num, &stop, 10);
			if (*stop)
				continue;
		}
		st_set(s, d + b, (size_t)(eq - (d + b)), v);
	}
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* StatsTrack.toString: count and bytes first, then the other keys in
 * order after an extra '=' (which old parsers ignore). */
static size_t st_format(const struct stats_track *s, char *out, size_t cap)
{
	const char *keys[ST_KEYS] = {NULL};
	int nk = 0;
	size_t n = (size_t)snprintf(out, cap, "count=%lld,bytes=%lld",
				    (long long)st_get(s, "count"),
				    (long long)st_get(s, "bytes"));

	for (int i = 0; i < s->n; i++)
		if (strcmp(s->kv[i].key, "count") &&
		    strcmp(s->kv[i].key, "bytes"))
			keys[nk++] = s->kv[i].key;
	if (nk > 1)
		qsort(keys, (size_t)nk, sizeof(keys[0]), key_cmp);
	if (nk && n < cap)
		n += (size_t)snprintf(out + n, cap - n, "=");
	for (int i = 0; i < nk && n < cap; i++)
		n += (size_t)snprintf(out + n, cap - n, ";%s=%lld", keys[i],
				      (long long)st_get(s, keys[i]));
	return n < cap ? n : cap - 1;
}

/* ---------------------------------------------------------------- */
/* Quota paths                                                        */
/* ---------------------------------------------------------------- */

/* The quota path of a node under /zookeeper/quota: Quotas.trimQuotaPath,
 * read as PathTrie reads it (components, so "X" is "/X").  Writes at
 * most len + 1 bytes; 0 when nothing is left ("/zookeeper/quota"). */
static size_t trim_quota(const char *parent, size_t plen, char *out)
{
	const char *p = parent + QUOTA_ROOT_LEN;
	size_t n = plen - QUOTA_ROOT_LEN, o = 0;

	if (!n)
		return 0;
	if (p[0] != '/')
		out[o++] = '/';
	memcpy(out + o, p, n);
	return o + n;
}

static bool is_under(const char *path, size_t len, const char *q,
		     size_t qlen)
{
	return qlen <= len && !memcmp(path, q, qlen) &&
	       (qlen == len || path[qlen] == '/');
}

static void quota_add(struct quota *q, const char *p, size_t len)
{
	for (size_t i = 0; i < q->n; i++)
		if (q->v[i].len == len && !memcmp(q->v[i].p, p, len))
			return;
	if (q->n == q->cap) {
		size_t cap = q->cap ? 2 * q->cap : 4;
		struct qpath *v = realloc(q->v, cap * sizeof(*v));
		if (!v)
			return;
		q->v = v;
		q->cap = cap;
	}
	char *copy = malloc(len);
	if (!copy)
		return;
	memcpy(copy, p, len);
	q->v[q->n++] = (struct qpath){copy, len};
}

/* PathTrie.deletePath */
static void quota_remove(struct quota *q, const char *p, size_t len)
{
	for (size_t i = 0; i < q->n; i++)
		if (q->v[i].len == len && !memcmp(q->v[i].p, p, len)) {
			free(q->v[i].p);
			q->v[i] = q->v[--q->n];
			return;
		}
}

/* getMaxPrefixWithQuota: the longest quota path at or above `path`. */
static const struct qpath *max_prefix(const struct quota *q,
				      const char *path, size_t len)
{
	const struct qpath *best = NULL;

	for (size_t i = 0; i < q->n; i++)
		if (is_under(path, len, q->v[i].p, q->v[i].len) &&
		    (!best || q->v[i].len > best->len))
			best = &q->v[i];
	return best;
}

/* "/zookeeper/quota" + p + "/" + node, malloc'd; NULL on ENOMEM. */
static char *quota_node(const char *p, size_t len, const char *node,
			size_t *out_len)
{
	size_t nl = strlen(node);
	char *s = malloc(QUOTA_ROOT_LEN + len + 1 + nl + 1);

	if (!s)
		return NULL;
	memcpy(s, QUOTA_ROOT, QUOTA_ROOT_LEN);
	memcpy(s + QUOTA_ROOT_LEN, p, len);
	s[QUOTA_ROOT_LEN + len] = '/';
	memcpy(s + QUOTA_ROOT_LEN + len + 1, node, nl + 1);
	*out_len = QUOTA_ROOT_LEN + len + 1 + nl;
	return s;
}

/* The StatsTrack in p's zookeeper_stats or zookeeper_limits node; false
 * if that node does not exist. */
static bool read_track(const struct tree *t, const char *p, size_t len,
		       const char *node, struct stats_track *s)
{
	size_t sl;
	char *sp = quota_node(p, len, node, &sl);
	const struct znode *n = sp ? tree_lookup(t, sp, sl) : NULL;
	struct zview v;

	free(sp);
	if (!n)
		return false;
	znode_view(n, &v);
	st_parse(s, v.data, (size_t)v.stat.data_length);
	return true;
}

static void write_stats(struct tree *t, const char *p, size_t len,
			const struct stats_track *s)
{
	char buf[ST_KEYS * (ST_KEY_MAX + 24) + 64];
	size_t sl, bl = st_format(s, buf, sizeof(buf));
	char *sp = quota_node(p, len, STAT_NODE, &sl);

	if (sp)
		tree_data_rewrite(t, sp, sl, buf, bl);
	free(sp);
}

/* DataTree.updateQuotaStat */
static void add_usage(struct tree *t, const struct qpath *q, int64_t dbytes,
		      int64_t dcount)
{
	struct stats_track s;

	if (!read_track(t, q->p, q->len, STAT_NODE, &s))
		return; /* "should not happen" (a client deleted it) */
	st_set(&s, "count", 5, st_get(&s, "count") + dcount);
	st_set(&s, "bytes", 5, st_get(&s, "bytes") + dbytes);
	write_stats(t, q->p, q->len, &s);
}

/* DataTree.updateQuotaForPath: P's stats node gets P's subtree's usage,
 * as a fresh StatsTrack (other keys dropped). */
static void recount(struct tree *t, const char *p, size_t len)
{
	const struct znode *n = tree_lookup(t, p, len);
	struct stats_track s = {0};
	int64_t count = 0, bytes = 0;
	size_t sl;
	char *sp = quota_node(p, len, STAT_NODE, &sl);
	bool have = sp && tree_lookup(t, sp, sl);

	free(sp);
	if (!have || (n && !znode_subtree_usage(n, &count, &bytes)))
		return;
	st_set(&s, "count", 5, count);
	st_set(&s, "bytes", 5, bytes);
	write_stats(t, p, len, &s);
}

static bool child_is(const char *path, size_t len, size_t plen,
		     const char *name)
{
	size_t nl = strlen(name), off = plen == 1 ? 1 : plen + 1;

	return len - off == nl && !memcmp(path + off, name, nl);
}

void quota_created(struct tree *t, struct quota *q, const char *path,
		   size_t len, int32_t dlen)
{
	size_t plen = zk_parent_len(path, len);

	if (plen >= QUOTA_ROOT_LEN && !memcmp(path, QUOTA_ROOT, QUOTA_ROOT_LEN)) {
		char *qp = malloc(plen + 1);
		size_t ql = qp ? trim_quota(path, plen, qp) : 0;
		if (ql && child_is(path, len, plen, LIMIT_NODE))
			quota_add(q, qp, ql);
		if (ql && child_is(path, len, plen, STAT_NODE))
			recount(t, qp, ql);
		free(qp);
	}
	const struct qpath *m = q->n ? max_prefix(q, path, len) : NULL;
	if (m)
		add_usage(t, m, dlen, 1);
}

void quota_deleted(struct tree *t, struct quota *q, const char *path,
		   size_t len, int32_t dlen)
{
	size_t plen = zk_parent_len(path, len);

	if (q->n && plen >= QUOTA_ROOT_LEN &&
	    !memcmp(path, PROC_ROOT, PROC_ROOT_LEN) &&
	    child_is(path, len, plen, LIMIT_NODE)) {
		/* the parent is "/zookeeper..." but not always under
		 * "/zookeeper/quota": trimQuotaPath cuts 16 characters */
		char *qp = malloc(plen + 1);
		size_t ql = qp ? trim_quota(path, plen, qp) : 0;
		if (ql)
			quota_remove(q, qp, ql);
		free(qp);
	}
	const struct qpath *m = q->n ? max_prefix(q, path, len) : NULL;
	if (m)
		add_usage(t, m, -(int64_t)dlen, -1);
}

void quota_resized(struct tree *t, struct quota *q, const char *path,
		   size_t len, int64_t dbytes)
{
	const struct qpath *m = q->n ? max_prefix(q, path, len) : NULL;

	if (m)
		add_usage(t, m, dbytes, 0);
}

/* ---------------------------------------------------------------- */
/* Walks of /zookeeper/quota                                          */
/* ---------------------------------------------------------------- */

struct walk {
	const struct tree *t;
	char *path; /* the node being visited; grows */
	size_t len, cap;
	int depth;
	void (*leaf)(struct walk *w, const struct znode *n);
	void *arg;
};

static void visit(struct walk *w);

static int visit_child(const char *name, size_t nl, void *arg)
{
	struct walk *w = arg;
	size_t keep = w->len;

	if (w->len + 1 + nl > w->cap) {
		size_t cap = 2 * (w->len + 1 + nl);
		char *p = realloc(w->path, cap);
		if (!p)
			return 1;
		w->path = p;
		w->cap = cap;
	}
	w->path[w->len++] = '/';
	memcpy(w->path + w->len, name, nl);
	w->len += nl;
	visit(w);
	w->len = keep;
	return 0;
}

/* DataTree.traverseNode's shape: leaves only, depth-first. */
static void visit(struct walk *w)
{
	const struct znode *n = tree_lookup(w->t, w->path, w->len);
	struct zview v;

	if (!n || w->depth >= QUOTA_MAX_DEPTH)
		return;
	znode_view(n, &v);
	if (v.stat.num_children == 0) {
		w->leaf(w, n);
		return;
	}
	w->depth++;
	znode_children(n, visit_child, w);
	w->depth--;
}

static void walk_quota(const struct tree *t,
		       void (*leaf)(struct walk *w, const struct znode *n),
		       void *arg)
{
	struct walk w = {.t = t, .leaf = leaf, .arg = arg};

	w.cap = 256;
	w.path = malloc(w.cap);
	if (!w.path)
		return;
	memcpy(w.path, QUOTA_ROOT, QUOTA_ROOT_LEN);
	w.len = QUOTA_ROOT_LEN;
	visit(&w);
	free(w.path);
}

static bool ends_with(const char *p, size_t len, const char *suffix)
{
	size_t sl = strlen(suffix);

	return len > sl && p[len - sl - 1] == '/' &&
	       !memcmp(p + len - sl, suffix, sl);
}

static void setup_leaf(struct walk *w, const struct znode *n)
{
	struct tree *t = w->arg;
	size_t sl = sizeof(LIMIT_NODE); /* with its '/' */

	(void)n;
	if (!ends_with(w->path, w->len, LIMIT_NODE))
		return;
	char *qp = malloc(w->len + 1);
	size_t ql = qp ? trim_quota(w->path, w->len - sl, qp) : 0;
	if (ql) {
		recount(t, qp, ql);
		quota_add(tree_quota(t), qp, ql);
	}
	free(qp);
}

void tree_quota_setup(struct tree *t)
{
	struct quota *q = tree_quota(t);

	for (size_t i = 0; i < q->n; i++)
		free(q->v[i].p);
	q->n = 0;
	walk_quota(t, setup_leaf, t);
}

/* PathUtils.getTopNamespace: the first component; false if none. */
static bool top_namespace(const char *path, size_t len, const char **ns,
			  size_t *nl)
{
	const char *end;

	if (len < 2 || path[0] != '/')
		return false;
	end = memchr(path + 1, '/', len - 1);
	*ns = path + 1;
	*nl = end ? (size_t)(end - *ns) : len - 1;
	return *nl > 0;
}

static void count_refusal(struct quota *q, const char *path, size_t len)
{
	const char *ns;
	size_t nl;
	int i, n = atomic_load_explicit(&q->nerr, memory_order_relaxed);

	if (!top_namespace(path, len, &ns, &nl) || nl >= sizeof(q->err[0].ns))
		return;
	for (i = 0; i < n; i++)
		if (strlen(q->err[i].ns) == nl && !memcmp(q->err[i].ns, ns, nl))
			break;
	if (i == n) {
		if (n == TREE_QUOTA_NS_MAX)
			return;
		memcpy(q->err[i].ns, ns, nl);
		q->err[i].ns[nl] = 0;
		atomic_store_explicit(&q->err[i].n, 0, memory_order_relaxed);
		atomic_store_explicit(&q->nerr, n + 1, memory_order_release);
	}
	atomic_fetch_add_explicit(&q->err[i].n, 1, memory_order_relaxed);
}

int tree_quota_check(struct tree *t, const char *path, size_t len,
		     int64_t dcount, int64_t dbytes)
{
	const struct quota *q = tree_quota(t);
	const struct qpath *m = q->n ? max_prefix(q, path, len) : NULL;
	struct stats_track lim, cur;

	if (!m || !read_track(t, m->p, m->len, LIMIT_NODE, &lim))
		return ZOK;
	int64_t chard = st_get(&lim, "countHardLimit");
	int64_t bhard = st_get(&lim, "byteHardLimit");
	bool check_count = dcount && (st_get(&lim, "count") > -1 || chard > -1);
	bool check_bytes = dbytes && (st_get(&lim, "bytes") > -1 || bhard > -1);
	if ((!check_count && !check_bytes) ||
	    !read_track(t, m->p, m->len, STAT_NODE, &cur))
		return ZOK;
	/* only hard limits refuse; ZooKeeper logs soft ones */
	if ((check_count && chard > -1 &&
	     st_get(&cur, "count") + dcount > chard) ||
	    (check_bytes && bhard > -1 &&
	     st_get(&cur, "bytes") + dbytes > bhard)) {
		count_refusal(tree_quota(t), path, len);
		return ZQUOTAEXCEEDED;
	}
	return ZOK;
}

/* QuotaMetricsUtils: per top-level namespace sums. */
struct ns_sums {
	struct tree_quota_ns v[TREE_QUOTA_NS_MAX];
	int n;
};

static struct tree_quota_ns *ns_sum(struct ns_sums *s, const char *ns,
				     size_t nl)
{
	int i;

	if (nl >= sizeof(s->v[0].ns))
		return NULL;
	for (i = 0; i < s->n; i++)
		if (strlen(s->v[i].ns) == nl && !memcmp(s->v[i].ns, ns, nl))
			return &s->v[i];
	if (s->n == TREE_QUOTA_NS_MAX)
		return NULL;
	memset(&s->v[i], 0, sizeof(s->v[i]));
	memcpy(s->v[i].ns, ns, nl);
	s->n++;
	return &s->v[i];
}

static void metrics_leaf(struct walk *w, const struct znode *n)
{
	struct ns_sums *s = w->arg;
	bool limit = ends_with(w->path, w->len, LIMIT_NODE);
	struct stats_track st;
	struct zview v;

	if (!limit && !ends_with(w->path, w->len, STAT_NODE))
		return;
	const char *ns;
	size_t nl;
	znode_view(n, &v);
	if (v.data_null ||
	    !top_namespace(w->path + QUOTA_ROOT_LEN, w->len - QUOTA_ROOT_LEN,
			   &ns, &nl))
		return;
	struct tree_quota_ns *o = ns_sum(s, ns, nl);
	if (!o)
		return;
	st_parse(&st, v.data, (size_t)v.stat.data_length);
	if (limit) {
		int64_t ch = st_get(&st, "countHardLimit");
		int64_t bh = st_get(&st, "byteHardLimit");
		o->count_limit += ch > -1 ? ch : st_get(&st, "count");
		o->bytes_limit += bh > -1 ? bh : st_get(&st, "bytes");
		o->has_limit = true;
	} else {
		o->count_usage += st_get(&st, "count");
		o->bytes_usage += st_get(&st, "bytes");
		o->has_usage = true;
	}
}

int tree_quota_metrics(const struct tree *t, struct tree_quota_ns *out)
{
	struct ns_sums s;

	const struct quota *q = tree_quota(t);
	int nerr = atomic_load_explicit(&q->nerr, memory_order_acquire);

	s.n = 0;
	walk_quota(t, metrics_leaf, &s);
	for (int i = 0; i < nerr; i++) {
		struct tree_quota_ns *o =
		    ns_sum(&s, q->err[i].ns, strlen(q->err[i].ns));
		if (o)
			o->exceeded = atomic_load_explicit(
			    &q->err[i].n, memory_order_relaxed);
	}
	memcpy(out, s.v, (size_t)s.n * sizeof(s.v[0]));
	return s.n;
}
