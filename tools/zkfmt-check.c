/*
 * zkfmt-check — check consensus/zkfmt.c against files Apache ZooKeeper
 * 3.8 wrote (a test tool: built, not installed).
 *
 *   zkfmt-check [-q] [--chunk N] FILE...
 *   zkfmt-check --replay DIR
 *
 * FILE is a txn log (log.<zxid>) or a snapshot (snapshot.<zxid>), told
 * apart by magic.  A log: every entry's checksum is verified, its record
 * decoded, re-encoded (as decoded, and again from structured fields:
 * ACLs as paddock zacls, multi sub-txns and closeSession paths as
 * arrays) and compared byte for byte, and the entry re-framed; one line
 * per txn:
 *
 *   <zxid> <type> <path|-> [fields] session=<id> cxid=<n> time=<ms>
 *       [digest=<version>:<treeDigest>]
 *     sub <type> <path|-> [fields]          (one per multi sub-txn)
 *
 * then "end: <n> txns, tail <zero|none>".  A snapshot is fed to the push
 * reader in --chunk byte pieces (default 4093, so items straddle feeds),
 * written back with the streaming writer and compared; one summary line:
 *
 *   snapshot <file> dbid=<id> sessions=<n> acls=<n> nodes=<n> bytes=<n>
 *       nodes_digest=<sum of node digests> digest=0x<zxid>:<version>:<d>
 *
 * (nodes_digest equals the ZxidDigest's digest unless writes went on
 * while ZooKeeper walked the tree.)
 *
 * --replay DIR loads each snapshot in DIR (ZooKeeper's version-2 dir),
 * replays the logs after it with DataTree's rules on a small in-memory
 * tree, and checks that the tree digest zk_node_digest() gives matches
 * every txn's TxnDigest, and each later snapshot's ZxidDigest, as
 * ZooKeeper's own restore does (skipping the fuzzy range after a
 * snapshot up to its digest's zxid); one line per start snapshot:
 *
 *   replay from <snapshot>: nodes=<n> txns=<n> digests=<checked>
 *       snapshot_digests=<checked> mismatches=<n> start=<ok|stale|none>
 *
 * start= compares the start snapshot with its own ZxidDigest at the end
 * of its fuzzy range; it is reported, not counted (see start_digest).
 *
 * Exit 0 if everything matched, 1 on any mismatch or damage, 2 on usage
 * or I/O errors.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "consensus/zkfmt_int.h"

static bool quiet;
static size_t chunk = 4093;

static int fail(const char *file, size_t off, const char *what, int code)
{
	fprintf(stderr, "zkfmt-check: %s: offset %zu: %s%s%s\n", file, off,
		what, code ? ": " : "", code ? zkf_strerror(code) : "");
	return 1;
}

static uint8_t *read_file(const char *path, size_t *len)
{
	struct stat sb;
	uint8_t *p = NULL;
	size_t got = 0;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &sb) < 0)
		goto err;
	p = malloc((size_t)sb.st_size + 1);
	if (!p)
		goto err;
	while (got < (size_t)sb.st_size) {
		ssize_t n = read(fd, p + got, (size_t)sb.st_size - got);
		if (n <= 0)
			goto err;
		got += (size_t)n;
	}
	close(fd);
	*len = got;
	return p;
err:
	fprintf(stderr, "zkfmt-check: %s: %s\n", path, strerror(errno));
	free(p);
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Printing                                                             */
/* ------------------------------------------------------------------ */
static void print_str(struct zk_buf b)
{
	if (b.len < 0)
		printf("(null)");
	else if (b.len == 0)
		printf("\"\"");
	else
		printf("%.*s", (int)b.len, b.p);
}

static void print_paths(const struct zk_strv *v)
{
	struct zk_iter it;
	struct zk_buf s;
	const char *sep = "";

	printf(" paths=");
	zk_strv_iter(&it, v);
	while (zk_strv_next(&it, &s) == 1) {
		printf("%s", sep);
		print_str(s);
		sep = ",";
	}
}

static void print_body(const struct zk_body *b)
{
	printf("%s ", zk_op_name(b->type));
	switch (b->rec) {
	case ZK_REC_CREATE:
	case ZK_REC_CREATE_V0:
	case ZK_REC_CREATE_CONTAINER:
	case ZK_REC_CREATE_TTL:
		print_str(b->create.path);
		printf(" data=%d acl=%d", b->create.data.len, b->create.acl.n);
		if (b->rec == ZK_REC_CREATE || b->rec == ZK_REC_CREATE_V0)
			printf(" eph=%d", b->create.ephemeral);
		if (b->rec != ZK_REC_CREATE_V0)
			printf(" pcv=%d", b->create.parent_cversion);
		if (b->rec == ZK_REC_CREATE_TTL)
			printf(" ttl=%" PRId64, b->create.ttl);
		break;
	case ZK_REC_DELETE:
		print_str(b->del.path);
		break;
	case ZK_REC_SET_DATA:
		print_str(b->set_data.path);
		printf(" data=%d version=%d", b->set_data.data.len,
		       b->set_data.version);
		break;
	case ZK_REC_SET_ACL:
		print_str(b->set_acl.path);
		printf(" acl=%d version=%d", b->set_acl.acl.n,
		       b->set_acl.version);
		break;
	case ZK_REC_CHECK:
		print_str(b->check.path);
		printf(" version=%d", b->check.version);
		break;
	case ZK_REC_ERROR:
		printf("- err=%d", b->error.err);
		break;
	case ZK_REC_CREATE_SESSION:
		printf("- timeout=%d", b->create_session.timeout);
		break;
	case ZK_REC_CLOSE_SESSION:
		printf("-");
		print_paths(&b->close_session.paths);
		break;
	case ZK_REC_MULTI:
		printf("- n=%d", b->multi.n);
		break;
	case ZK_REC_NONE:
		printf("- nobody");
		break;
	}
}

static void print_txn(const struct zk_txn *t)
{
	printf("0x%016" PRIx64 " ", (uint64_t)t->hdr.zxid);
	print_body(&t->body);
	printf(" session=0x%" PRIx64 " cxid=%d time=%" PRId64,
	       (uint64_t)t->hdr.client_id, t->hdr.cxid, t->hdr.time);
	if (t->has_digest)
		printf(" digest=%d:%" PRId64, t->digest.version,
		       t->digest.tree);
	printf("\n");
	if (t->body.rec != ZK_REC_MULTI)
		return;
	struct zk_iter it;
	struct zk_body sub;
	zk_multi_iter(&it, &t->body.multi);
	while (zk_multi_next(&it, &sub) == 1) {
		printf("  sub ");
		print_body(&sub);
		printf("\n");
	}
}

/* ------------------------------------------------------------------ */
/* Structured re-encoding: the builder's path of zk_txn_encode          */
/* ------------------------------------------------------------------ */
struct owned {
	struct zacl *acls[64];
	int nacl;
	void *mem[64];
	int nmem;
};

static void owned_free(struct owned *o)
{
	for (int i = 0; i < o->nacl; i++)
		zacl_unref(o->acls[i]);
	for (int i = 0; i < o->nmem; i++)
		free(o->mem[i]);
	o->nacl = o->nmem = 0;
}

/* Replace a raw ACL vector by a zacl (when every scheme/id is a real,
 * non-null string: a zacl cannot say null). */
static int restructure_acls(struct zk_acls *a, struct owned *o)
{
	struct zk_iter it;
	struct zk_acl_ent e;

	if (a->n < 0 || o->nacl == 64)
		return 0;
	zk_acl_iter(&it, a);
	while (zk_acl_next(&it, &e) == 1)
		if (e.scheme.len < 0 || e.id.len < 0 ||
		    memchr(e.scheme.p, 0, (size_t)e.scheme.len) ||
		    memchr(e.id.p, 0, (size_t)e.id.len))
			return 0;
	struct zacl *z = zk_acls_to_zacl(a);
	if (!z)
		return -1;
	o->acls[o->nacl++] = z;
	a->raw = NULL;
	a->zacl = z;
	return 0;
}

static int restructure(struct zk_body *b, struct owned *o);

static void *own(struct owned *o, size_t n)
{
	if (o->nmem == 64)
		return NULL;
	void *p = calloc(n ? n : 1, 1);
	if (p)
		o->mem[o->nmem++] = p;
	return p;
}

static int restructure_multi(struct zk_multi *m, struct owned *o)
{
	struct zk_iter it;
	struct zk_body *subs;
	int i = 0, rc;

	if (m->n <= 0)
		return 0;
	subs = own(o, sizeof(*subs) * (size_t)m->n);
	if (!subs)
		return -1;
	zk_multi_iter(&it, m);
	while ((rc = zk_multi_next(&it, &subs[i])) == 1)
		if (restructure(&subs[i++], o))
			return -1;
	if (rc || i != m->n)
		return -1;
	m->raw = NULL;
	m->subs = subs;
	return 0;
}

static int restructure_paths(struct zk_strv *v, struct owned *o)
{
	struct zk_iter it;
	struct zk_buf *s;
	int i = 0;

	if (v->n <= 0)
		return 0;
	s = own(o, sizeof(*s) * (size_t)v->n);
	if (!s)
		return -1;
	zk_strv_iter(&it, v);
	while (zk_strv_next(&it, &s[i]) == 1)
		i++;
	v->raw = NULL;
	v->v = s;
	return i == v->n ? 0 : -1;
}

static int restructure(struct zk_body *b, struct owned *o)
{
	switch (b->rec) {
	case ZK_REC_CREATE:
	case ZK_REC_CREATE_V0:
	case ZK_REC_CREATE_CONTAINER:
	case ZK_REC_CREATE_TTL:
		return restructure_acls(&b->create.acl, o);
	case ZK_REC_SET_ACL:
		return restructure_acls(&b->set_acl.acl, o);
	case ZK_REC_CLOSE_SESSION:
		return restructure_paths(&b->close_session.paths, o);
	case ZK_REC_MULTI:
		return restructure_multi(&b->multi, o);
	default:
		return 0;
	}
}

/* ------------------------------------------------------------------ */
/* Logs                                                                 */
/* ------------------------------------------------------------------ */
static int check_entry(const char *file, const struct zk_log_entry *e,
		       const uint8_t *base)
{
	struct jw w = {0};
	struct owned o = {.nacl = 0};
	struct zk_txn t;
	int rc, bad = 0;

	rc = zk_txn_decode(e->rec, e->len, &t);
	if (rc)
		return fail(file, e->off, "decode", rc);
	if (!quiet)
		print_txn(&t);
	rc = zk_txn_encode(&w, &t);
	if (rc || w.len != e->len || memcmp(w.p, e->rec, e->len))
		bad = fail(file, e->off, "re-encoded record differs", rc);
	w.len = 0;
	rc = zk_log_put_txn(&w, &t);
	if (!bad && (rc || w.len != e->end - e->off ||
		     memcmp(w.p, base + e->off, w.len)))
		bad = fail(file, e->off, "re-framed entry differs", rc);
	w.len = 0;
	if (!bad && restructure(&t.body, &o))
		bad = fail(file, e->off, "sub-records do not iterate", 0);
	if (!bad) {
		rc = zk_txn_encode(&w, &t);
		if (rc || w.len != e->len || memcmp(w.p, e->rec, e->len))
			bad =
			    fail(file, e->off,
				 "encoding from structured fields differs", rc);
	}
	owned_free(&o);
	jw_free(&w);
	return bad;
}

static int check_log(const char *file, const uint8_t *p, size_t len)
{
	struct zk_log_iter it;
	struct zk_log_entry e;
	struct zk_filehdr h;
	struct jw w = {0};
	int rc, bad = 0;
	unsigned long n = 0;

	rc = zk_log_open(&it, p, len, &h);
	if (rc)
		return fail(file, 0, "file header", rc);
	zk_log_put_header(&w, h.dbid);
	if (w.err || memcmp(w.p, p, ZK_FILEHDR_LEN))
		bad = fail(file, 0, "re-encoded file header differs", 0);
	jw_free(&w);
	if (!quiet)
		printf("log %s dbid=0x%" PRIx64 "\n", file, (uint64_t)h.dbid);
	while ((rc = zk_log_next(&it, &e)) == 1) {
		bad |= check_entry(file, &e, p);
		n++;
	}
	if (rc < 0)
		return fail(file, it.off, "entry", rc);
	for (size_t i = it.off; i < len; i++)
		if (p[i]) {
			bad = fail(file, i, "non-zero byte in the tail", 0);
			break;
		}
	printf("end: %lu txns, tail %s%s\n", n, it.off < len ? "zero" : "none",
	       bad ? ", MISMATCH" : "");
	return bad;
}

/* ------------------------------------------------------------------ */
/* Snapshots                                                            */
/* ------------------------------------------------------------------ */
struct snap_ck {
	struct zk_snap_writer sw;
	struct jw out; /* everything written, collected at each drain */
	long sessions, acls, nodes;
	uint64_t nodes_digest; /* wraps as Java's long */
	bool has_digest;
	struct zk_zxid_digest digest;
	int64_t dbid;
	int bad;
};

static void ck_drain(struct snap_ck *c)
{
	jw_bytes(&c->out, c->sw.w.p, c->sw.w.len);
	zk_snap_drained(&c->sw);
}

static int ck_header(void *arg, const struct zk_filehdr *h)
{
	struct snap_ck *c = arg;
	c->dbid = h->dbid;
	zk_snap_begin(&c->sw, ZK_SNAP_FILE, h->dbid);
	return 0;
}

static int ck_sessions(void *arg, int32_t n)
{
	struct snap_ck *c = arg;
	zk_snap_put_sessions(&c->sw, n);
	return 0;
}

static int ck_session(void *arg, int64_t id, int32_t timeout)
{
	struct snap_ck *c = arg;
	zk_snap_put_session(&c->sw, id, timeout);
	c->sessions++;
	return 0;
}

static int ck_acls(void *arg, int32_t n)
{
	struct snap_ck *c = arg;
	zk_snap_put_acls(&c->sw, n);
	return 0;
}

/* Re-emit the entry from a paddock zacl; the writer's bytes must still
 * match (checked at the end). */
static int ck_acl(void *arg, int64_t id, const struct zk_acls *a)
{
	struct snap_ck *c = arg;
	struct zk_acls z = *a;
	struct owned o = {.nacl = 0};

	if (restructure_acls(&z, &o))
		return ZKF_NOMEM;
	zk_snap_put_acl(&c->sw, id, &z);
	owned_free(&o);
	c->acls++;
	ck_drain(c);
	return 0;
}

static int ck_node(void *arg, const struct zk_snap_node *n)
{
	struct snap_ck *c = arg;

	zk_snap_put_node(&c->sw, n);
	c->nodes++;
	c->nodes_digest += (uint64_t)zk_node_digest(
	    n->path.p, (size_t)n->path.len, n->data.p, n->data.len, &n->stat);
	if (c->sw.w.len > 65536)
		ck_drain(c);
	return 0;
}

static int ck_digest(void *arg, const struct zk_zxid_digest *d)
{
	struct snap_ck *c = arg;
	c->has_digest = true;
	c->digest = *d;
	return 0;
}

static const struct zk_snap_ops ck_ops = {
    .header = ck_header,
    .sessions = ck_sessions,
    .session = ck_session,
    .acls = ck_acls,
    .acl = ck_acl,
    .node = ck_node,
    .digest = ck_digest,
};

/* Feed p in `chunk` pieces; 0 or an error. */
static int feed_all(struct zk_snap_reader *r, const uint8_t *p, size_t len,
		    size_t *consumed)
{
	size_t off = 0, used;
	int rc = 0;

	while (off < len && rc == 0) {
		size_t n = len - off < chunk ? len - off : chunk;
		rc = zk_snap_feed(r, p + off, n, &used);
		off += used;
		if (rc == 0 && used != n)
			return ZKF_TRAILING;
	}
	*consumed = off;
	if (rc < 0)
		return rc;
	return zk_snap_finish(r);
}

static int check_snap(const char *file, const uint8_t *p, size_t len)
{
	struct snap_ck c;
	struct zk_snap_reader *r;
	size_t used = 0;
	int rc;

	memset(&c, 0, sizeof(c));
	r = zk_snap_reader_new(ZK_SNAP_FILE, &ck_ops, &c);
	if (!r)
		return fail(file, 0, "reader", ZKF_NOMEM);
	rc = feed_all(r, p, len, &used);
	zk_snap_reader_free(r);
	if (rc) {
		c.bad = fail(file, used, "snapshot", rc);
		goto out;
	}
	if (used != len) {
		c.bad = fail(file, used, "bytes after the snapshot", 0);
		goto out;
	}
	rc = zk_snap_end(&c.sw, c.has_digest ? &c.digest : NULL);
	ck_drain(&c);
	if (rc || c.out.err || c.out.len != len || memcmp(c.out.p, p, len)) {
		size_t i = 0;
		while (i < len && i < c.out.len && c.out.p[i] == p[i])
			i++;
		c.bad = fail(file, i, "re-written snapshot differs", rc);
	}
	printf("snapshot %s dbid=0x%" PRIx64 " sessions=%ld acls=%ld nodes=%ld "
	       "bytes=%zu nodes_digest=%" PRId64,
	       file, (uint64_t)c.dbid, c.sessions, c.acls, c.nodes, len,
	       (int64_t)c.nodes_digest);
	if (c.has_digest)
		printf(" digest=0x%" PRIx64 ":%d:%" PRId64,
		       (uint64_t)c.digest.zxid, c.digest.version,
		       c.digest.digest);
	printf("%s\n", c.bad ? " MISMATCH" : "");
out:
	zk_snap_writer_free(&c.sw);
	jw_free(&c.out);
	return c.bad;
}

static int check_file(const char *file)
{
	size_t len;
	uint8_t *p = read_file(file, &len);
	int rc;

	if (!p)
		return 2;
	if (len >= 4 && jr_int_at(p) == ZK_SNAP_MAGIC)
		rc = check_snap(file, p, len);
	else
		rc = check_log(file, p, len);
	free(p);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Replay: a small DataTree for the digest                              */
/* ------------------------------------------------------------------ */
struct mnode {
	struct mnode *next;
	char *path;
	size_t plen;
	uint8_t *data;
	int32_t dlen;
	struct zstat st;
	int64_t digest;
};

struct model {
	struct mnode **tab;
	size_t mask;
	size_t n;
	uint64_t digest; /* NodeHashMapImpl's AdHash: wraps */
};

static uint64_t hash(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 1099511628211ULL;
	return h;
}

/* "/" is the root's alias "" (DataTree keeps both keys). */
static void norm(const char **p, size_t *n)
{
	if (*n == 1 && (*p)[0] == '/')
		*n = 0;
}

static struct mnode **slot(struct model *m, const char *p, size_t n)
{
	norm(&p, &n);
	struct mnode **s = &m->tab[hash(p, n) & m->mask];
	while (*s && ((*s)->plen != n || memcmp((*s)->path, p, n)))
		s = &(*s)->next;
	return s;
}

static struct mnode *get(struct model *m, const char *p, size_t n)
{
	return *slot(m, p, n);
}

static void pre_change(struct model *m, struct mnode *x)
{
	m->digest -= (uint64_t)x->digest;
}

static void post_change(struct model *m, struct mnode *x)
{
	x->digest = zk_node_digest(x->path, x->plen, x->data, x->dlen, &x->st);
	m->digest += (uint64_t)x->digest;
}

static void grow(struct model *m)
{
	size_t cap = (m->mask + 1) * 2;
	struct mnode **t = calloc(cap, sizeof(*t));
	if (!t)
		return;
	for (size_t i = 0; i <= m->mask; i++)
		while (m->tab[i]) {
			struct mnode *x = m->tab[i];
			m->tab[i] = x->next;
			size_t h = hash(x->path, x->plen) & (cap - 1);
			x->next = t[h];
			t[h] = x;
		}
	free(m->tab);
	m->tab = t;
	m->mask = cap - 1;
}

static int put(struct model *m, const char *p, size_t n, struct zk_buf data,
	       const struct zstat *st)
{
	struct mnode *x = calloc(1, sizeof(*x));

	norm(&p, &n);
	if (!x)
		return -1;
	x->path = malloc(n + 1);
	x->data = malloc(data.len > 0 ? (size_t)data.len : 1);
	if (!x->path || !x->data) {
		free(x->path);
		free(x->data);
		free(x);
		return -1;
	}
	memcpy(x->path, p, n);
	x->plen = n;
	if (data.len > 0)
		memcpy(x->data, data.p, (size_t)data.len);
	x->dlen = data.len;
	x->st = *st;
	struct mnode **s = slot(m, p, n);
	x->next = *s;
	*s = x;
	post_change(m, x);
	if (++m->n > m->mask)
		grow(m);
	return 0;
}

static void del(struct model *m, struct mnode **s)
{
	struct mnode *x = *s;
	pre_change(m, x);
	*s = x->next;
	free(x->path);
	free(x->data);
	free(x);
	m->n--;
}

static void model_free(struct model *m)
{
	for (size_t i = 0; m->tab && i <= m->mask; i++)
		while (m->tab[i])
			del(m, &m->tab[i]);
	free(m->tab);
	memset(m, 0, sizeof(*m));
}

static size_t parent_len(const char *p, size_t n)
{
	while (n > 0 && p[n - 1] != '/')
		n--;
	return n ? n - 1 : 0;
}

/* DataTree.createNode. */
static int m_create(struct model *m, const struct zk_body *b, int64_t owner,
		    const struct zk_txnhdr *h)
{
	const char *p = b->create.path.p;
	size_t n = (size_t)(b->create.path.len > 0 ? b->create.path.len : 0);
	struct mnode *par = get(m, p, parent_len(p, n));
	int32_t pcv =
	    b->rec == ZK_REC_CREATE_V0 ? -1 : b->create.parent_cversion;
	struct zstat st = {.czxid = h->zxid,
			   .mzxid = h->zxid,
			   .pzxid = h->zxid,
			   .ctime = h->time,
			   .mtime = h->time,
			   .ephemeral_owner = owner};

	if (!par)
		return ZNONODE;
	if (get(m, p, n))
		return ZNODEEXISTS;
	pre_change(m, par);
	if (pcv == -1)
		pcv = par->st.cversion + 1;
	if (pcv > par->st.cversion) {
		par->st.cversion = pcv;
		par->st.pzxid = h->zxid;
	}
	post_change(m, par);
	return put(m, p, n, b->create.data, &st) ? ZSYSTEMERROR : ZOK;
}

/* DataTree.deleteNode: the parent's pzxid moves even if the child is
 * already gone. */
static int m_delete(struct model *m, const char *p, size_t n, int64_t zxid)
{
	struct mnode *par = get(m, p, parent_len(p, n));

	if (!par)
		return ZNONODE;
	pre_change(m, par);
	if (zxid > par->st.pzxid)
		par->st.pzxid = zxid;
	post_change(m, par);
	struct mnode **s = slot(m, p, n);
	if (!*s)
		return ZNONODE;
	del(m, s);
	return ZOK;
}

static int m_set_data(struct model *m, const struct zk_body *b,
		      const struct zk_txnhdr *h)
{
	struct zk_buf path = b->set_data.path, d = b->set_data.data;
	struct mnode *x = get(m, path.p, (size_t)(path.len > 0 ? path.len : 0));
	uint8_t *nd = malloc(d.len > 0 ? (size_t)d.len : 1);

	if (!x || !nd) {
		free(nd);
		return x ? ZSYSTEMERROR : ZNONODE;
	}
	pre_change(m, x);
	if (d.len > 0)
		memcpy(nd, d.p, (size_t)d.len);
	free(x->data);
	x->data = nd;
	x->dlen = d.len;
	x->st.mtime = h->time;
	x->st.mzxid = h->zxid;
	x->st.version = b->set_data.version;
	post_change(m, x);
	return ZOK;
}

static int m_set_acl(struct model *m, const struct zk_body *b)
{
	struct zk_buf path = b->set_acl.path;
	struct mnode *x = get(m, path.p, (size_t)(path.len > 0 ? path.len : 0));

	if (!x)
		return ZNONODE;
	pre_change(m, x);
	x->st.aversion = b->set_acl.version;
	post_change(m, x);
	return ZOK;
}

/* DataTree.killSession: the txn's paths, then whatever else the session
 * still owns. */
static void m_close(struct model *m, const struct zk_body *b, int64_t sid,
		    int64_t zxid)
{
	struct zk_iter it;
	struct zk_buf s;

	if (b->rec == ZK_REC_CLOSE_SESSION) {
		zk_strv_iter(&it, &b->close_session.paths);
		while (zk_strv_next(&it, &s) == 1)
			m_delete(m, s.p, (size_t)(s.len > 0 ? s.len : 0), zxid);
	}
	for (size_t i = 0; i <= m->mask; i++) {
		struct mnode *x = m->tab[i], *next;
		for (; x; x = next) {
			next = x->next;
			if (x->st.ephemeral_owner == sid)
				m_delete(m, x->path, x->plen, zxid);
		}
	}
}

static int m_apply(struct model *m, const struct zk_body *b,
		   const struct zk_txnhdr *h);

/* DataTree.processTxn's multi: nothing if any sub-txn is an error; 3.8.0
 * throws on a sub-txn type it does not know (create2) and skips the
 * rest. */
static void m_multi(struct model *m, const struct zk_body *b,
		    const struct zk_txnhdr *h)
{
	struct zk_iter it;
	struct zk_body sub;
	struct zk_txnhdr sh = *h;

	zk_multi_iter(&it, &b->multi);
	while (zk_multi_next(&it, &sub) == 1)
		if (sub.type == ZOP_ERROR)
			return;
	zk_multi_iter(&it, &b->multi);
	while (zk_multi_next(&it, &sub) == 1) {
		if (sub.type == ZOP_CREATE2)
			return;
		sh.type = sub.type;
		m_apply(m, &sub, &sh);
	}
}

/* setCversionPzxid, for a replayed create that finds its node. */
static void m_fix_parent(struct model *m, const struct zk_body *b, int64_t zxid)
{
	const char *p = b->create.path.p;
	size_t n = (size_t)(b->create.path.len > 0 ? b->create.path.len : 0);
	struct mnode *par = get(m, p, parent_len(p, n));
	int32_t pcv = b->create.parent_cversion;

	if (!par)
		return;
	if (pcv == -1)
		pcv = par->st.cversion + 1;
	if (pcv > par->st.cversion) {
		pre_change(m, par);
		par->st.cversion = pcv;
		par->st.pzxid = zxid;
		post_change(m, par);
	}
}

static int m_apply(struct model *m, const struct zk_body *b,
		   const struct zk_txnhdr *h)
{
	int rc = ZOK;

	switch (h->type) {
	case ZOP_CREATE:
	case ZOP_CREATE2:
		rc = m_create(m, b, b->create.ephemeral ? h->client_id : 0, h);
		break;
	case ZOP_CREATETTL:
		rc = m_create(m, b, zk_ttl_owner(b->create.ttl), h);
		break;
	case ZOP_CREATECONTAINER:
		rc = m_create(m, b, ZK_CONTAINER_OWNER, h);
		break;
	case ZOP_DELETE:
	case ZOP_DELETECONTAINER:
		rc = m_delete(
		    m, b->del.path.p,
		    (size_t)(b->del.path.len > 0 ? b->del.path.len : 0),
		    h->zxid);
		break;
	case ZOP_SETDATA:
	case ZOP_RECONFIG:
		rc = m_set_data(m, b, h);
		break;
	case ZOP_SETACL:
		rc = m_set_acl(m, b);
		break;
	case ZOP_CLOSESESSION:
		m_close(m, b, h->client_id, h->zxid);
		break;
	case ZOP_MULTI:
		m_multi(m, b, h);
		break;
	}
	if (h->type == ZOP_CREATE && rc == ZNODEEXISTS)
		m_fix_parent(m, b, h->zxid);
	return rc;
}

struct loading {
	struct model *m; /* NULL: only the digest */
	struct zk_zxid_digest *d;
};

static int load_node(void *arg, const struct zk_snap_node *n)
{
	struct loading *l = arg;

	if (!l->m)
		return 0;
	if (put(l->m, n->path.p, (size_t)n->path.len, n->data, &n->stat))
		return ZKF_NOMEM;
	return 0;
}

static int load_digest(void *arg, const struct zk_zxid_digest *d)
{
	struct loading *l = arg;

	*l->d = *d;
	return 0;
}

struct zfile {
	char name[256];
	int64_t zxid;
};

static int zfile_cmp(const void *a, const void *b)
{
	const struct zfile *x = a, *y = b;
	return x->zxid < y->zxid ? -1 : x->zxid > y->zxid;
}

static int list_files(const char *dir, const char *prefix, struct zfile *f,
		      int max)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t pl = strlen(prefix);
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) && n < max) {
		char *end;
		if (strncmp(e->d_name, prefix, pl) ||
		    strlen(e->d_name) >= sizeof(f->name))
			continue;
		f[n].zxid = (int64_t)strtoull(e->d_name + pl, &end, 16);
		if (*end)
			continue;
		strcpy(f[n++].name, e->d_name);
	}
	closedir(d);
	qsort(f, (size_t)n, sizeof(*f), zfile_cmp);
	return n;
}

struct replay {
	const char *dir;
	struct zfile logs[1024], snaps[1024];
	int nlogs, nsnaps;
	struct zk_zxid_digest sdig[1024]; /* each snapshot's ZxidDigest */
	/* one run */
	struct model m;
	bool fuzzy;	   /* before the start snapshot's digest zxid */
	const char *start; /* start_digest()'s verdict */
	struct zk_zxid_digest want;
	long txns, checked, snap_checked, bad;
};

/* Load snapshot i into m (NULL: only note its ZxidDigest). */
static int load_snap(struct replay *R, int i, struct model *m)
{
	static const struct zk_snap_ops ops = {.node = load_node,
					       .digest = load_digest};
	struct loading l = {m, &R->sdig[i]};
	struct zk_snap_reader *r;
	char path[1400];
	size_t len, used;
	uint8_t *p;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", R->dir, R->snaps[i].name);
	if (!(p = read_file(path, &len)))
		return ZKF_TRUNCATED;
	memset(&R->sdig[i], 0, sizeof(R->sdig[i]));
	r = zk_snap_reader_new(ZK_SNAP_FILE, &ops, &l);
	if (!r) {
		free(p);
		return ZKF_NOMEM;
	}
	rc = zk_snap_feed(r, p, len, &used);
	rc = rc < 0 ? rc : zk_snap_finish(r);
	zk_snap_reader_free(r);
	free(p);
	return rc;
}

/*
 * The end of the fuzzy range: the start snapshot's own ZxidDigest.  Not
 * a check: ZooKeeper reads lastProcessedZxidDigest after its tree walk,
 * and the commit thread logs a txn's digest only after applying it, so a
 * walk that saw txn Z+1 applied can still record (Z, digest after Z); the
 * snapshot's content is then one txn ahead of its digest (ZooKeeper's own
 * restore reports a mismatch there).  The replay of Z+1 repairs that, and
 * every later txn is checked.
 */
static void start_digest(struct replay *R)
{
	R->fuzzy = false;
	R->start = (int64_t)R->m.digest == R->want.digest ? "ok" : "stale";
}

/* After txn zxid: compare with its own digest and with any snapshot's. */
static void check_digest(struct replay *R, const struct zk_txn *t)
{
	int64_t zxid = t->hdr.zxid;

	if (R->fuzzy) {
		if (zxid == R->want.zxid)
			start_digest(R);
		return;
	}
	if (t->has_digest) {
		R->checked++;
		if (t->digest.tree != (int64_t)R->m.digest) {
			printf("MISMATCH 0x%" PRIx64 " %s log %" PRId64
			       " model %" PRId64 "\n",
			       (uint64_t)zxid, zk_op_name(t->hdr.type),
			       t->digest.tree, (int64_t)R->m.digest);
			R->bad++;
		}
	}
	for (int i = 0; i < R->nsnaps; i++)
		if (R->sdig[i].zxid == zxid) {
			R->snap_checked++;
			if (R->sdig[i].digest != (int64_t)R->m.digest) {
				printf("MISMATCH %s digest\n",
				       R->snaps[i].name);
				R->bad++;
			}
		}
}

static int replay_log(struct replay *R, int li, int64_t from)
{
	char path[1400];
	struct zk_log_iter it;
	struct zk_log_entry e;
	struct zk_filehdr h;
	struct zk_txn t;
	size_t len;
	uint8_t *p;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", R->dir, R->logs[li].name);
	if (!(p = read_file(path, &len)))
		return -1;
	rc = zk_log_open(&it, p, len, &h);
	while (!rc && (rc = zk_log_next(&it, &e)) == 1) {
		rc = zk_txn_decode(e.rec, e.len, &t);
		if (rc || t.hdr.zxid <= from)
			continue;
		R->txns++;
		m_apply(&R->m, &t.body, &t.hdr);
		check_digest(R, &t);
	}
	free(p);
	return rc < 0 ? rc : 0;
}

/* Start from snapshot si: ZooKeeper's FileTxnSnapLog.restore. */
static int replay_from(struct replay *R, int si)
{
	struct model *m = &R->m;
	int64_t from = R->snaps[si].zxid;
	int rc;

	memset(m, 0, sizeof(*m));
	m->mask = 255;
	m->tab = calloc(m->mask + 1, sizeof(*m->tab));
	if (!m->tab)
		return -1;
	R->txns = R->checked = R->snap_checked = R->bad = 0;
	rc = load_snap(R, si, m);
	if (rc) {
		model_free(m);
		return fail(R->snaps[si].name, 0, "snapshot", rc);
	}
	R->want = R->sdig[si];
	R->fuzzy = R->want.zxid > 0 && R->want.zxid >= from;
	R->start = "none";
	if (R->fuzzy && R->want.zxid == from)
		start_digest(R);
	for (int i = 0; i < R->nlogs && !rc; i++)
		if (i + 1 == R->nlogs || R->logs[i + 1].zxid > from)
			rc = replay_log(R, i, from);
	printf("replay from %s: nodes=%zu txns=%ld digests=%ld "
	       "snapshot_digests=%ld mismatches=%ld start=%s%s\n",
	       R->snaps[si].name, m->n, R->txns, R->checked, R->snap_checked,
	       R->bad, R->start, rc ? " (log damaged)" : "");
	model_free(m);
	return rc || R->bad ? 1 : 0;
}

static int replay(const char *dir)
{
	struct replay *R = calloc(1, sizeof(*R));
	int bad = 0;

	if (!R)
		return 2;
	R->dir = dir;
	R->nlogs = list_files(dir, "log.", R->logs, 1024);
	R->nsnaps = list_files(dir, "snapshot.", R->snaps, 1024);
	if (R->nlogs < 0 || R->nsnaps <= 0) {
		fprintf(stderr, "zkfmt-check: %s: no snapshot or logs\n", dir);
		free(R);
		return 2;
	}
	for (int i = 0; i < R->nsnaps; i++)
		if (load_snap(R, i, NULL))
			bad = fail(R->snaps[i].name, 0, "snapshot", 0);
	for (int i = 0; i < R->nsnaps; i++)
		bad |= replay_from(R, i);
	free(R);
	return bad;
}

int main(int argc, char **argv)
{
	int i = 1, bad = 0, rc;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-q"))
			quiet = true;
		else if (!strcmp(argv[i], "--chunk") && i + 1 < argc)
			chunk = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--replay") && i + 1 < argc)
			return replay(argv[i + 1]);
		else
			break;
	}
	if (i >= argc || !chunk) {
		fprintf(stderr, "usage: zkfmt-check [-q] [--chunk N] FILE...\n"
				"       zkfmt-check --replay DIR\n");
		return 2;
	}
	for (; i < argc; i++) {
		rc = check_file(argv[i]);
		if (rc > bad)
			bad = rc;
	}
	return bad;
}
