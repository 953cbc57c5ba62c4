/*
 * zkfmt.c — Apache ZooKeeper 3.8's txn records, txn log files and
 * snapshot streams, byte for byte (formats: consensus/zkfmt_int.h).
 *
 * Design
 * ------
 * Decoders run over untrusted bytes with tree/jute.h's bounds-checked
 * reader, wrapped in `struct rd` to keep the first specific error
 * (ZooKeeper's own BinaryInputArchive mostly throws EOFException or
 * "Unreasonable length"; we say which field was wrong).  They keep
 * pointers into the input instead of copying, and keep vectors as their
 * raw encoded bytes, walked later by small iterators: a PROPOSAL can be
 * checked and applied without one allocation.  Decoding is strict where
 * Java is lax (a length of -7, a boolean byte of 2, a negative vector
 * count, bytes after the record), so that whatever decodes re-encodes to
 * the same bytes.
 *
 * Two places where the record is not fully determined by its type follow
 * SerializeUtils.deserializeTxn: a closeSession has a CloseSessionTxn
 * body only when the leader ran with zookeeper.closeSessionTxn.enabled
 * (the default), and a create may be a pre-3.3 CreateTxnV0 (tried only
 * when the CreateTxn reading runs out of bytes, as Java does on its
 * EOFException).  The TxnDigest is whatever 12 bytes follow the body.
 *
 * The snapshot reader is a push parser: ZooKeeper streams a SNAP on the
 * quorum socket and then keeps sending packets, so the reader must take
 * bytes as they come and stop exactly at the snapshot's end.  Each item
 * (a session, an ACL-cache entry, a node, a seal) is handed to a callback
 * straight from the caller's bytes when it lies inside one feed; an item
 * straddling two feeds is gathered in one growing buffer, copying only
 * as many bytes as its length fields say it still needs.
 */
#include <string.h>
#include <zlib.h>

#include "consensus/zkfmt_int.h"

const char *zkf_strerror(int code)
{
	switch (code) {
#define ZKF_ERR_TEXT(name, value, text)                                        \
	case name:                                                             \
		return text;
		ZKF_ERRORS(ZKF_ERR_TEXT)
#undef ZKF_ERR_TEXT
	default:
		return zk_strerror(code);
	}
}

const char *zk_op_name(int32_t type)
{
	switch (type) {
	case ZOP_NOTIFICATION:
		return "notification";
	case ZOP_CREATE:
		return "create";
	case ZOP_DELETE:
		return "delete";
	case ZOP_EXISTS:
		return "exists";
	case ZOP_GETDATA:
		return "getData";
	case ZOP_SETDATA:
		return "setData";
	case ZOP_GETACL:
		return "getACL";
	case ZOP_SETACL:
		return "setACL";
	case ZOP_GETCHILDREN:
		return "getChildren";
	case ZOP_SYNC:
		return "sync";
	case ZOP_PING:
		return "ping";
	case ZOP_GETCHILDREN2:
		return "getChildren2";
	case ZOP_CHECK:
		return "check";
	case ZOP_MULTI:
		return "multi";
	case ZOP_CREATE2:
		return "create2";
	case ZOP_RECONFIG:
		return "reconfig";
	case ZOP_CREATECONTAINER:
		return "createContainer";
	case ZOP_DELETECONTAINER:
		return "deleteContainer";
	case ZOP_CREATETTL:
		return "createTTL";
	case ZOP_MULTIREAD:
		return "multiRead";
	case ZOP_CREATESESSION:
		return "createSession";
	case ZOP_CLOSESESSION:
		return "closeSession";
	case ZOP_ERROR:
		return "error";
	default:
		return "unknown";
	}
}

uint32_t zk_adler32(uint32_t adler, const void *p, size_t len)
{
	return (uint32_t)adler32_z(adler, (const Bytef *)p, len);
}

/* ------------------------------------------------------------------ */
/* Reading                                                              */
/* ------------------------------------------------------------------ */
struct rd {
	struct jr r;
	int code; /* first specific error; r.err alone means truncated */
};

static void rd_init(struct rd *d, const void *p, size_t len)
{
	jr_init(&d->r, p, len);
	d->code = 0;
}

static void rd_fail(struct rd *d, int code)
{
	if (!d->r.err)
		d->code = code;
	d->r.err = true;
}

static int rd_result(const struct rd *d)
{
	if (!d->r.err)
		return 0;
	return d->code ? d->code : ZKF_TRUNCATED;
}

/* buffer / ustring: -1 is null, any other negative length is an error
 * (BinaryInputArchive.checkLength). */
static struct zk_buf rd_buf(struct rd *d)
{
	struct zk_buf b = {NULL, -1};
	int32_t n = jr_int(&d->r);

	if (d->r.err)
		return b;
	if (n < -1) {
		rd_fail(d, ZKF_BADLEN);
		return b;
	}
	if (n == -1 || !jr_need(&d->r, (size_t)n))
		return b;
	b.p = (const char *)d->r.p + d->r.off;
	b.len = n;
	d->r.off += (size_t)n;
	return b;
}

/* Vector count: -1 (null) is kept; more elements than the bytes left
 * could hold (min_elem each) is a truncation. */
static int32_t rd_count(struct rd *d, size_t min_elem)
{
	int32_t n = jr_int(&d->r);

	if (d->r.err)
		return 0;
	if (n < -1) {
		rd_fail(d, ZKF_BADLEN);
		return 0;
	}
	if (n > 0 && (size_t)n > jr_left(&d->r) / min_elem) {
		rd_fail(d, ZKF_TRUNCATED);
		return 0;
	}
	return n;
}

static bool rd_bool(struct rd *d)
{
	if (!jr_need(&d->r, 1))
		return false;
	uint8_t b = d->r.p[d->r.off++];
	if (b > 1)
		rd_fail(d, ZKF_BADBOOL);
	return b == 1;
}

static void rd_acls(struct rd *d, struct zk_acls *a)
{
	int32_t n = rd_count(d, 12);
	size_t at = d->r.off;

	for (int32_t i = 0; i < n && !d->r.err; i++) {
		jr_int(&d->r);
		rd_buf(d);
		rd_buf(d);
	}
	a->n = n;
	a->raw = d->r.p + at;
	a->raw_len = d->r.off - at;
	a->zacl = NULL;
}

static void rd_strv(struct rd *d, struct zk_strv *v)
{
	int32_t n = rd_count(d, 4);
	size_t at = d->r.off;

	for (int32_t i = 0; i < n && !d->r.err; i++)
		rd_buf(d);
	v->n = n;
	v->raw = d->r.p + at;
	v->raw_len = d->r.off - at;
	v->v = NULL;
}

/* vector<Txn>; each sub-record is decoded (and dropped) to check it. */
static void rd_multi(struct rd *d, struct zk_multi *m)
{
	int32_t n = rd_count(d, 8);
	size_t at = d->r.off;

	for (int32_t i = 0; i < n && !d->r.err; i++) {
		struct zk_body sub;
		int32_t type = jr_int(&d->r);
		struct zk_buf b = rd_buf(d);
		if (d->r.err)
			break;
		int rc = zk_body_decode(type, true, b.p, b.len < 0 ? 0 : b.len,
					&sub);
		if (rc)
			rd_fail(d, rc);
	}
	m->n = n;
	m->raw = d->r.p + at;
	m->raw_len = d->r.off - at;
	m->subs = NULL;
}

static void rd_create(struct rd *d, struct zk_body *b)
{
	b->create.path = rd_buf(d);
	b->create.data = rd_buf(d);
	rd_acls(d, &b->create.acl);
	if (b->rec == ZK_REC_CREATE || b->rec == ZK_REC_CREATE_V0)
		b->create.ephemeral = rd_bool(d);
	if (b->rec != ZK_REC_CREATE_V0)
		b->create.parent_cversion = jr_int(&d->r);
	if (b->rec == ZK_REC_CREATE_TTL)
		b->create.ttl = jr_long(&d->r);
}

/* The fields of b->rec; b->type and b->rec are set. */
static void rd_body(struct rd *d, struct zk_body *b)
{
	int32_t type = b->type;
	enum zk_rec rec = b->rec;

	memset(b, 0, sizeof(*b));
	b->type = type;
	b->rec = rec;
	switch (rec) {
	case ZK_REC_NONE:
		break;
	case ZK_REC_CREATE:
	case ZK_REC_CREATE_V0:
	case ZK_REC_CREATE_CONTAINER:
	case ZK_REC_CREATE_TTL:
		rd_create(d, b);
		break;
	case ZK_REC_DELETE:
		b->del.path = rd_buf(d);
		break;
	case ZK_REC_SET_DATA:
		b->set_data.path = rd_buf(d);
		b->set_data.data = rd_buf(d);
		b->set_data.version = jr_int(&d->r);
		break;
	case ZK_REC_SET_ACL:
		b->set_acl.path = rd_buf(d);
		rd_acls(d, &b->set_acl.acl);
		b->set_acl.version = jr_int(&d->r);
		break;
	case ZK_REC_CHECK:
		b->check.path = rd_buf(d);
		b->check.version = jr_int(&d->r);
		break;
	case ZK_REC_ERROR:
		b->error.err = jr_int(&d->r);
		break;
	case ZK_REC_CREATE_SESSION:
		b->create_session.timeout = jr_int(&d->r);
		break;
	case ZK_REC_CLOSE_SESSION:
		rd_strv(d, &b->close_session.paths);
		break;
	case ZK_REC_MULTI:
		rd_multi(d, &b->multi);
		break;
	}
}

enum zk_rec zk_rec_of(int32_t type, bool sub)
{
	switch (type) {
	case ZOP_CREATE:
	case ZOP_CREATE2:
		return ZK_REC_CREATE;
	case ZOP_CREATECONTAINER:
		return ZK_REC_CREATE_CONTAINER;
	case ZOP_CREATETTL:
		return ZK_REC_CREATE_TTL;
	case ZOP_DELETE:
	case ZOP_DELETECONTAINER:
		return ZK_REC_DELETE;
	case ZOP_SETDATA:
		return ZK_REC_SET_DATA;
	case ZOP_CHECK:
		return ZK_REC_CHECK;
	case ZOP_ERROR:
		return ZK_REC_ERROR;
	}
	if (sub)
		return ZK_REC_NONE;
	switch (type) {
	case ZOP_RECONFIG:
		return ZK_REC_SET_DATA;
	case ZOP_SETACL:
		return ZK_REC_SET_ACL;
	case ZOP_CREATESESSION:
		return ZK_REC_CREATE_SESSION;
	case ZOP_CLOSESESSION:
		return ZK_REC_CLOSE_SESSION;
	case ZOP_MULTI:
		return ZK_REC_MULTI;
	}
	return ZK_REC_NONE;
}

/* May a body of `type` carry `rec`?  Besides the regular record: a
 * body-less closeSession, a V0 create (top level only). */
static bool rec_fits(int32_t type, enum zk_rec rec, bool sub)
{
	enum zk_rec want = zk_rec_of(type, sub);

	if (want == ZK_REC_NONE)
		return false;
	if (rec == want)
		return true;
	if (sub)
		return false;
	return (type == ZOP_CLOSESESSION && rec == ZK_REC_NONE) ||
	       (type == ZOP_CREATE && rec == ZK_REC_CREATE_V0);
}

int zk_body_decode(int32_t type, bool sub, const void *p, size_t len,
		   struct zk_body *out)
{
	struct rd d;

	out->type = type;
	out->rec = zk_rec_of(type, sub);
	if (out->rec == ZK_REC_NONE)
		return sub ? ZKF_BADSUB : ZKF_BADTYPE;
	rd_init(&d, p, len);
	rd_body(&d, out);
	if (d.r.err)
		return rd_result(&d);
	/* A failed multi from a ZooKeeper leader's committed log (the
	 * proposals a DIFF sends): DataTree.processTxn turns every sub-txn
	 * of a failed multi into type error in place, keeping its body, and
	 * ZKDatabase.addCommittedProposal serializes the request after that.
	 * ZooKeeper reads such a sub-txn as ErrorTxn, its first four bytes
	 * as the code, and ignores the rest; so do we. */
	if (sub && out->rec == ZK_REC_ERROR)
		return 0;
	return jr_left(&d.r) ? ZKF_TRAILING : 0;
}

/* What may follow a body: nothing, or a TxnDigest. */
static bool tail_ok(size_t left)
{
	return left == 0 || left == 12;
}

/* The body at `at` again as another record (closeSession without body,
 * CreateTxnV0). */
static void rd_retry(struct rd *d, size_t at, struct zk_body *b,
		     enum zk_rec rec)
{
	d->r.err = false;
	d->r.off = at;
	d->code = 0;
	b->rec = rec;
	rd_body(d, b);
}

int zk_txn_decode(const void *p, size_t len, struct zk_txn *out)
{
	struct rd d;
	struct zk_txnhdr *h = &out->hdr;
	size_t at;

	memset(out, 0, sizeof(*out));
	rd_init(&d, p, len);
	h->client_id = jr_long(&d.r);
	h->cxid = jr_int(&d.r);
	h->zxid = jr_long(&d.r);
	h->time = jr_long(&d.r);
	h->type = jr_int(&d.r);
	if (d.r.err)
		return ZKF_TRUNCATED;
	out->body.type = h->type;
	out->body.rec = zk_rec_of(h->type, false);
	if (out->body.rec == ZK_REC_NONE)
		return ZKF_BADTYPE;
	at = d.r.off;
	rd_body(&d, &out->body);
	if (d.r.err || !tail_ok(jr_left(&d.r))) {
		if (h->type == ZOP_CLOSESESSION && tail_ok(len - at))
			rd_retry(&d, at, &out->body, ZK_REC_NONE);
		else if (h->type == ZOP_CREATE && d.r.err && !d.code)
			rd_retry(&d, at, &out->body, ZK_REC_CREATE_V0);
	}
	if (d.r.err)
		return rd_result(&d);
	if (jr_left(&d.r) == 12) {
		out->has_digest = true;
		out->digest.version = jr_int(&d.r);
		out->digest.tree = jr_long(&d.r);
	}
	return jr_left(&d.r) ? ZKF_TRAILING : 0;
}

/* ------------------------------------------------------------------ */
/* Writing                                                              */
/* ------------------------------------------------------------------ */
static void put_buf(struct jw *w, struct zk_buf b)
{
	jw_buf(w, b.p, b.len);
}

static void put_acls(struct jw *w, const struct zk_acls *a)
{
	if (a->raw) {
		jw_int(w, a->n);
		jw_bytes(w, a->raw, a->raw_len);
	} else if (a->zacl) {
		jw_acl(w, a->zacl, false);
	} else {
		jw_int(w, a->n < 0 ? -1 : 0);
	}
}

static void put_strv(struct jw *w, const struct zk_strv *v)
{
	if (v->raw || !v->v) {
		jw_int(w, v->raw || v->n < 0 ? v->n : 0);
		if (v->raw)
			jw_bytes(w, v->raw, v->raw_len);
		return;
	}
	jw_int(w, v->n);
	for (int32_t i = 0; i < v->n; i++)
		put_buf(w, v->v[i]);
}

static int put_body(struct jw *w, const struct zk_body *b, bool sub);

static int put_multi(struct jw *w, const struct zk_multi *m)
{
	if (m->raw || !m->subs) {
		jw_int(w, m->raw || m->n < 0 ? m->n : 0);
		if (m->raw)
			jw_bytes(w, m->raw, m->raw_len);
		return 0;
	}
	jw_int(w, m->n);
	for (int32_t i = 0; i < m->n; i++) {
		jw_int(w, m->subs[i].type);
		size_t at = jw_frame_begin(w);
		int rc = put_body(w, &m->subs[i], true);
		if (rc)
			return rc;
		jw_frame_end(w, at);
	}
	return 0;
}

static void put_create(struct jw *w, const struct zk_body *b)
{
	put_buf(w, b->create.path);
	put_buf(w, b->create.data);
	put_acls(w, &b->create.acl);
	if (b->rec == ZK_REC_CREATE || b->rec == ZK_REC_CREATE_V0)
		jw_bool(w, b->create.ephemeral);
	if (b->rec != ZK_REC_CREATE_V0)
		jw_int(w, b->create.parent_cversion);
	if (b->rec == ZK_REC_CREATE_TTL)
		jw_long(w, b->create.ttl);
}

static int put_body(struct jw *w, const struct zk_body *b, bool sub)
{
	if (!rec_fits(b->type, b->rec, sub))
		return sub ? ZKF_BADSUB : ZKF_BADTYPE;
	switch (b->rec) {
	case ZK_REC_NONE:
		break;
	case ZK_REC_CREATE:
	case ZK_REC_CREATE_V0:
	case ZK_REC_CREATE_CONTAINER:
	case ZK_REC_CREATE_TTL:
		put_create(w, b);
		break;
	case ZK_REC_DELETE:
		put_buf(w, b->del.path);
		break;
	case ZK_REC_SET_DATA:
		put_buf(w, b->set_data.path);
		put_buf(w, b->set_data.data);
		jw_int(w, b->set_data.version);
		break;
	case ZK_REC_SET_ACL:
		put_buf(w, b->set_acl.path);
		put_acls(w, &b->set_acl.acl);
		jw_int(w, b->set_acl.version);
		break;
	case ZK_REC_CHECK:
		put_buf(w, b->check.path);
		jw_int(w, b->check.version);
		break;
	case ZK_REC_ERROR:
		jw_int(w, b->error.err);
		break;
	case ZK_REC_CREATE_SESSION:
		jw_int(w, b->create_session.timeout);
		break;
	case ZK_REC_CLOSE_SESSION:
		put_strv(w, &b->close_session.paths);
		break;
	case ZK_REC_MULTI:
		return put_multi(w, &b->multi);
	}
	return 0;
}

int zk_body_encode(struct jw *w, const struct zk_body *b, bool sub)
{
	int rc = put_body(w, b, sub);

	if (rc)
		return rc;
	return w->err ? ZKF_NOMEM : 0;
}

int zk_txn_encode(struct jw *w, const struct zk_txn *t)
{
	const struct zk_txnhdr *h = &t->hdr;

	if (t->body.type != h->type)
		return ZKF_BADTYPE;
	jw_long(w, h->client_id);
	jw_int(w, h->cxid);
	jw_long(w, h->zxid);
	jw_long(w, h->time);
	jw_int(w, h->type);
	int rc = put_body(w, &t->body, false);
	if (rc)
		return rc;
	if (t->has_digest) {
		jw_int(w, t->digest.version);
		jw_long(w, t->digest.tree);
	}
	return w->err ? ZKF_NOMEM : 0;
}

/* ------------------------------------------------------------------ */
/* Iterators                                                            */
/* ------------------------------------------------------------------ */
static void iter_init(struct zk_iter *it, const uint8_t *raw, size_t len,
		      int32_t n)
{
	it->p = raw;
	it->len = raw ? len : 0;
	it->off = 0;
	it->left = raw && n > 0 ? n : 0;
}

static void iter_rd(const struct zk_iter *it, struct rd *d)
{
	rd_init(d, it->p, it->len);
	d->r.off = it->off;
}

/* Finish one element: advance, or report why it failed. */
static int iter_step(struct zk_iter *it, const struct rd *d)
{
	if (d->r.err) {
		it->left = 0;
		return rd_result(d);
	}
	it->off = d->r.off;
	it->left--;
	return 1;
}

void zk_acl_iter(struct zk_iter *it, const struct zk_acls *a)
{
	iter_init(it, a->raw, a->raw_len, a->n);
}

int zk_acl_next(struct zk_iter *it, struct zk_acl_ent *e)
{
	struct rd d;

	if (it->left <= 0)
		return 0;
	iter_rd(it, &d);
	e->perms = jr_int(&d.r);
	e->scheme = rd_buf(&d);
	e->id = rd_buf(&d);
	return iter_step(it, &d);
}

void zk_strv_iter(struct zk_iter *it, const struct zk_strv *v)
{
	iter_init(it, v->raw, v->raw_len, v->n);
}

int zk_strv_next(struct zk_iter *it, struct zk_buf *s)
{
	struct rd d;

	if (it->left <= 0)
		return 0;
	iter_rd(it, &d);
	*s = rd_buf(&d);
	return iter_step(it, &d);
}

void zk_multi_iter(struct zk_iter *it, const struct zk_multi *m)
{
	iter_init(it, m->raw, m->raw_len, m->n);
}

int zk_multi_next(struct zk_iter *it, struct zk_body *sub)
{
	struct rd d;

	if (it->left <= 0)
		return 0;
	iter_rd(it, &d);
	int32_t type = jr_int(&d.r);
	struct zk_buf b = rd_buf(&d);
	if (!d.r.err) {
		int rc =
		    zk_body_decode(type, true, b.p, b.len < 0 ? 0 : b.len, sub);
		if (rc)
			rd_fail(&d, rc);
	}
	return iter_step(it, &d);
}

struct zacl *zk_acls_to_zacl(const struct zk_acls *a)
{
	size_t n = a->n > 0 ? (size_t)a->n : 0, k = n ? n : 1, got = 0;
	int32_t *perms = calloc(k, sizeof(*perms));
	char **scheme = calloc(k, sizeof(*scheme));
	char **id = calloc(k, sizeof(*id));
	struct zacl *acl = NULL;
	struct zk_acl_ent e;
	struct zk_iter it;

	if (!perms || !scheme || !id)
		goto out;
	zk_acl_iter(&it, a);
	for (; got < n; got++) {
		if (zk_acl_next(&it, &e) != 1)
			goto out;
		perms[got] = e.perms;
		scheme[got] =
		    jr_dup(e.scheme.p ? e.scheme.p : "",
			   e.scheme.len > 0 ? (size_t)e.scheme.len : 0);
		id[got] = jr_dup(e.id.p ? e.id.p : "",
				 e.id.len > 0 ? (size_t)e.id.len : 0);
		if (!scheme[got] || !id[got]) {
			got++;
			goto out;
		}
	}
	acl = zacl_new((int)n, perms, (const char *const *)scheme,
		       (const char *const *)id);
out:
	for (size_t i = 0; i < got && scheme && id; i++) {
		free(scheme[i]);
		free(id[i]);
	}
	free(perms);
	free(scheme);
	free(id);
	return acl;
}

/* ------------------------------------------------------------------ */
/* Txn log files                                                        */
/* ------------------------------------------------------------------ */
static void be64_put(uint8_t *p, int64_t v)
{
	jw_put_int_at(p, (int32_t)((uint64_t)v >> 32));
	jw_put_int_at(p + 4, (int32_t)(uint32_t)v);
}

static int64_t be64_at(const uint8_t *p)
{
	return (int64_t)((uint64_t)(uint32_t)jr_int_at(p) << 32 |
			 (uint32_t)jr_int_at(p + 4));
}

int zk_log_open(struct zk_log_iter *it, const void *p, size_t len,
		struct zk_filehdr *h)
{
	const uint8_t *q = p;

	it->p = q;
	it->len = len;
	it->off = 0;
	if (len < ZK_FILEHDR_LEN)
		return ZKF_TRUNCATED;
	h->magic = jr_int_at(q);
	h->version = jr_int_at(q + 4);
	h->dbid = be64_at(q + 8);
	if (h->magic != ZK_LOG_MAGIC)
		return ZKF_BADMAGIC;
	if (h->version != ZK_FILE_VERSION)
		return ZKF_BADVERSION;
	it->off = ZK_FILEHDR_LEN;
	return 0;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

int zk_log_next(struct zk_log_iter *it, struct zk_log_entry *e)
{
	const uint8_t *q = it->p + it->off;
	size_t left = it->len - it->off;

	if (left < 12)
		return all_zero(q, left) ? 0 : ZKF_TORN;
	int32_t n = jr_int_at(q + 8);
	if (n == 0)
		return 0;
	if (n < 0)
		return ZKF_BADLEN;
	if ((size_t)n + 13 > left)
		return ZKF_TORN;
	if (q[12 + n] != 'B')
		return ZKF_BADEOR;
	e->off = it->off;
	e->checksum = be64_at(q);
	e->rec = q + 12;
	e->len = (size_t)n;
	e->end = it->off + 13 + (size_t)n;
	if (e->checksum != (int64_t)zk_adler32(1, e->rec, e->len))
		return ZKF_BADCRC;
	it->off = e->end;
	return 1;
}

void zk_log_put_header(struct jw *w, int64_t dbid)
{
	jw_int(w, ZK_LOG_MAGIC);
	jw_int(w, ZK_FILE_VERSION);
	jw_long(w, dbid);
}

int zk_log_put_record(struct jw *w, const void *rec, size_t len)
{
	jw_long(w, zk_adler32(1, rec, len));
	jw_int(w, (int32_t)len);
	jw_bytes(w, rec, len);
	jw_bytes(w, "B", 1);
	return w->err ? ZKF_NOMEM : 0;
}

int zk_log_put_txn(struct jw *w, const struct zk_txn *t)
{
	size_t at = w->len, n;

	jw_long(w, 0); /* checksum and length, filled in below */
	jw_int(w, 0);
	int rc = zk_txn_encode(w, t);
	if (rc) {
		if (!w->err)
			w->len = at;
		return rc;
	}
	jw_bytes(w, "B", 1);
	if (w->err)
		return ZKF_NOMEM;
	n = w->len - at - 13;
	be64_put(w->p + at, zk_adler32(1, w->p + at + 12, n));
	jw_put_int_at(w->p + at + 8, (int32_t)n);
	return 0;
}

int64_t zk_log_padded_size(int64_t pos, int64_t size, int64_t prealloc)
{
	if (prealloc > 0 && pos + 4096 >= size) {
		if (pos > size) {
			size = pos + prealloc;
			size -= size % prealloc;
		} else {
			size += prealloc;
		}
	}
	return size;
}

/* ------------------------------------------------------------------ */
/* Snapshot reader                                                      */
/* ------------------------------------------------------------------ */
/* An item longer than this is refused (ZKF_BADLEN) rather than buffered:
 * ZooKeeper's own limit is jute.maxbuffer, 1 MiB by default. */
#define ZK_SNAP_MAX_ITEM ((size_t)256 << 20)

#define ZK_STATP_LEN 60 /* StatPersisted */

enum snap_stage {
	S_HDR,
	S_NSESS,
	S_SESS,
	S_NACL,
	S_ACL,
	S_NODE,
	S_SEAL1,
	S_DIGEST,
	S_SEAL2,
	S_SIG,
	S_DONE,
	S_DEAD,
};

struct zk_snap_reader {
	enum zk_snap_mode mode;
	const struct zk_snap_ops *ops;
	void *arg;
	enum snap_stage st;
	int32_t left;	/* sessions / ACL entries still to come */
	uint32_t adler; /* of every byte consumed (file mode) */
	int err;	/* S_DEAD: why */
	/* an ACL entry's length scan, resumable across feeds */
	int32_t scan_i;
	size_t scan_off;
	/* the part of an item that straddles feeds */
	uint8_t *buf;
	size_t len;
	size_t cap;
};

struct zk_snap_reader *zk_snap_reader_new(enum zk_snap_mode mode,
					  const struct zk_snap_ops *ops,
					  void *arg)
{
	static const struct zk_snap_ops none;
	struct zk_snap_reader *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->mode = mode;
	r->ops = ops ? ops : &none;
	r->arg = arg;
	r->st = mode == ZK_SNAP_FILE ? S_HDR : S_NSESS;
	r->adler = 1;
	r->scan_off = 12;
	return r;
}

void zk_snap_reader_free(struct zk_snap_reader *r)
{
	if (!r)
		return;
	free(r->buf);
	free(r);
}

uint32_t zk_snap_reader_adler(const struct zk_snap_reader *r)
{
	return r->adler;
}

/* Length of a ustring's bytes from its length field; -1 on a bad one. */
static int64_t str_bytes(const uint8_t *p)
{
	int32_t n = jr_int_at(p);
	return n == -1 ? 0 : n < 0 ? -1 : n;
}

/* For unit_len: need at least n bytes to go on. */
#define NEED(n)                                                                \
	do {                                                                   \
		*need = (n);                                                   \
		if (*need > ZK_SNAP_MAX_ITEM)                                  \
			return ZKF_BADLEN;                                     \
		if (have < *need)                                              \
			return 0;                                              \
	} while (0)

/* ACL cache entry: long id, int n, n x {int, ustring, ustring}. */
static int acl_len(struct zk_snap_reader *r, const uint8_t *p, size_t have,
		   size_t *need)
{
	int64_t s;

	NEED(12);
	int32_t n = jr_int_at(p + 8);
	if (n < 0)
		return ZKF_BADLEN;
	while (r->scan_i < n) {
		NEED(r->scan_off + 8);
		if ((s = str_bytes(p + r->scan_off + 4)) < 0)
			return ZKF_BADLEN;
		NEED(r->scan_off + 8 + (size_t)s + 4);
		r->scan_off += 8 + (size_t)s;
		if ((s = str_bytes(p + r->scan_off)) < 0)
			return ZKF_BADLEN;
		r->scan_off += 4 + (size_t)s;
		r->scan_i++;
	}
	NEED(r->scan_off);
	return 1;
}

/* Node: ustring path, buffer data, long acl, StatPersisted; or the "/"
 * end marker. */
static int node_len(const uint8_t *p, size_t have, size_t *need)
{
	NEED(4);
	int32_t l = jr_int_at(p);
	if (l < 0)
		return ZKF_BADPATH;
	NEED(4 + (size_t)l);
	if (l == 1 && p[4] == '/')
		return 1;
	NEED(4 + (size_t)l + 4);
	int64_t d = str_bytes(p + 4 + l);
	if (d < 0)
		return ZKF_BADLEN;
	NEED(4 + (size_t)l + 4 + (size_t)d + 8 + ZK_STATP_LEN);
	return 1;
}

/* `skip` fixed bytes, then a ustring. */
static int str_len(const uint8_t *p, size_t have, size_t skip, size_t *need)
{
	NEED(skip + 4);
	int64_t n = str_bytes(p + skip);
	if (n < 0)
		return ZKF_BADLEN;
	NEED(skip + 4 + (size_t)n);
	return 1;
}

/*
 * How long the current item is, from the `have` bytes of it seen so far:
 * 1 and *need = its length (perhaps more than have), 0 and *need = a
 * length it has at least (more than have), or an error.
 */
static int unit_len(struct zk_snap_reader *r, const uint8_t *p, size_t have,
		    size_t *need)
{
	switch (r->st) {
	case S_HDR:
		NEED(ZK_FILEHDR_LEN);
		return 1;
	case S_NSESS:
	case S_NACL:
		NEED(4);
		return 1;
	case S_SESS:
		NEED(12);
		return 1;
	case S_ACL:
		return acl_len(r, p, have, need);
	case S_NODE:
		return node_len(p, have, need);
	case S_SEAL1:
	case S_SEAL2:
		return str_len(p, have, 8, need);
	case S_DIGEST:
		NEED(12);
		if (jr_int_at(p + 8) < ZK_DIGEST_VERSION)
			return ZKF_BADVERSION; /* pre-3.6: a hex string */
		NEED(20);
		return 1;
	case S_SIG:
		return str_len(p, have, 0, need);
	default:
		return ZKF_DONE;
	}
}

static bool str_is(const uint8_t *p, size_t len, const char *s)
{
	return len == 4 + strlen(s) && jr_int_at(p) == (int32_t)strlen(s) &&
	       memcmp(p + 4, s, strlen(s)) == 0;
}

static int do_counted(struct zk_snap_reader *r, const uint8_t *p,
		      int (*cb)(void *, int32_t), enum snap_stage item,
		      enum snap_stage next)
{
	int32_t n = jr_int_at(p);

	if (n < 0)
		return ZKF_BADLEN;
	r->left = n;
	r->st = n ? item : next;
	return cb ? cb(r->arg, n) : 0;
}

static int do_header(struct zk_snap_reader *r, const uint8_t *p)
{
	struct zk_filehdr h = {jr_int_at(p), jr_int_at(p + 4), be64_at(p + 8)};

	if (h.magic != ZK_SNAP_MAGIC)
		return ZKF_BADMAGIC;
	if (h.version != ZK_FILE_VERSION)
		return ZKF_BADVERSION;
	r->st = S_NSESS;
	return r->ops->header ? r->ops->header(r->arg, &h) : 0;
}

static int do_session(struct zk_snap_reader *r, const uint8_t *p)
{
	if (--r->left == 0)
		r->st = S_NACL;
	if (!r->ops->session)
		return 0;
	return r->ops->session(r->arg, be64_at(p), jr_int_at(p + 8));
}

static int do_acl(struct zk_snap_reader *r, const uint8_t *p, size_t len)
{
	struct zk_acls a;
	struct rd d;

	rd_init(&d, p, len);
	int64_t id = jr_long(&d.r);
	rd_acls(&d, &a);
	if (d.r.err)
		return rd_result(&d);
	if (--r->left == 0)
		r->st = S_NODE;
	return r->ops->acl ? r->ops->acl(r->arg, id, &a) : 0;
}

static void rd_statp(struct rd *d, struct zstat *s)
{
	s->czxid = jr_long(&d->r);
	s->mzxid = jr_long(&d->r);
	s->ctime = jr_long(&d->r);
	s->mtime = jr_long(&d->r);
	s->version = jr_int(&d->r);
	s->cversion = jr_int(&d->r);
	s->aversion = jr_int(&d->r);
	s->ephemeral_owner = jr_long(&d->r);
	s->pzxid = jr_long(&d->r);
}

static int do_node(struct zk_snap_reader *r, const uint8_t *p, size_t len)
{
	struct zk_snap_node n;
	struct rd d;

	if (len == 5) { /* the "/" end marker (node_len) */
		r->st = r->mode == ZK_SNAP_FILE ? S_SEAL1 : S_SIG;
		return 0;
	}
	memset(&n, 0, sizeof(n));
	rd_init(&d, p, len);
	n.path = rd_buf(&d);
	n.data = rd_buf(&d);
	n.acl = jr_long(&d.r);
	rd_statp(&d, &n.stat);
	if (d.r.err)
		return rd_result(&d);
	n.stat.data_length = n.data.len > 0 ? n.data.len : 0;
	return r->ops->node ? r->ops->node(r->arg, &n) : 0;
}

/* A seal: long Adler32 of everything before it, ustring "/". */
static int do_seal(struct zk_snap_reader *r, const uint8_t *p, size_t len,
		   enum snap_stage next)
{
	if (be64_at(p) != (int64_t)r->adler)
		return ZKF_BADCRC;
	if (!str_is(p + 8, len - 8, "/"))
		return ZKF_BADSEAL;
	r->st = next;
	return 0;
}

static int do_digest(struct zk_snap_reader *r, const uint8_t *p)
{
	struct zk_zxid_digest z = {be64_at(p), jr_int_at(p + 8),
				   be64_at(p + 12)};

	r->st = S_SEAL2;
	return r->ops->digest ? r->ops->digest(r->arg, &z) : 0;
}

/* Act on one whole item of `len` bytes. */
static int unit_do(struct zk_snap_reader *r, const uint8_t *p, size_t len)
{
	int rc;

	switch (r->st) {
	case S_HDR:
		rc = do_header(r, p);
		break;
	case S_NSESS:
		rc = do_counted(r, p, r->ops->sessions, S_SESS, S_NACL);
		break;
	case S_SESS:
		rc = do_session(r, p);
		break;
	case S_NACL:
		rc = do_counted(r, p, r->ops->acls, S_ACL, S_NODE);
		break;
	case S_ACL:
		rc = do_acl(r, p, len);
		r->scan_i = 0;
		r->scan_off = 12;
		break;
	case S_NODE:
		rc = do_node(r, p, len);
		break;
	case S_SEAL1:
		rc = do_seal(r, p, len, S_DIGEST);
		break;
	case S_DIGEST:
		rc = do_digest(r, p);
		break;
	case S_SEAL2:
		rc = do_seal(r, p, len, S_DONE);
		break;
	case S_SIG:
		rc = str_is(p, len, "BenWasHere") ? 0 : ZKF_BADSIG;
		r->st = S_DONE;
		break;
	default:
		rc = ZKF_DONE;
	}
	if (r->mode == ZK_SNAP_FILE)
		r->adler = zk_adler32(r->adler, p, len);
	return rc;
}

static int buf_add(struct zk_snap_reader *r, const uint8_t *p, size_t n)
{
	if (r->cap - r->len < n) {
		size_t cap = r->cap ? r->cap : 4096;
		while (cap - r->len < n)
			cap *= 2;
		uint8_t *b = realloc(r->buf, cap);
		if (!b)
			return ZKF_NOMEM;
		r->buf = b;
		r->cap = cap;
	}
	memcpy(r->buf + r->len, p, n);
	r->len += n;
	return 0;
}

/* One step of feeding: handle or gather the current item.  Returns 1 to
 * go on, 0 when the input is used up, or an error. */
static int feed_step(struct zk_snap_reader *r, const uint8_t *in, size_t len,
		     size_t *pos)
{
	const uint8_t *u = r->len ? r->buf : in + *pos;
	size_t have = r->len ? r->len : len - *pos, need, take;
	int rc = unit_len(r, u, have, &need);

	if (rc < 0)
		return rc;
	if (rc == 1 && have >= need) {
		rc = unit_do(r, u, need);
		if (rc)
			return rc;
		if (r->len)
			r->len = 0;
		else
			*pos += need;
		return 1;
	}
	/* need > have: every byte up to `need` belongs to this item */
	take = r->len ? need - r->len : have;
	if (take > len - *pos)
		take = len - *pos;
	if (!take)
		return 0;
	rc = buf_add(r, in + *pos, take);
	if (rc)
		return rc;
	*pos += take;
	return 1;
}

int zk_snap_feed(struct zk_snap_reader *r, const void *p, size_t len,
		 size_t *used)
{
	size_t pos = 0;
	int rc = 1;

	*used = 0;
	if (r->st == S_DEAD)
		return r->err;
	while (r->st != S_DONE && rc == 1)
		rc = feed_step(r, p, len, &pos);
	*used = pos;
	if (rc < 0) {
		r->err = rc;
		r->st = S_DEAD;
		return rc;
	}
	return r->st == S_DONE ? 1 : 0;
}

int zk_snap_finish(struct zk_snap_reader *r)
{
	if (r->st == S_DEAD)
		return r->err;
	if (r->st == S_DONE)
		return 0;
	if (r->st == S_DIGEST && r->len == 0)
		return 0;
	return ZKF_TRUNCATED;
}

/* ------------------------------------------------------------------ */
/* Snapshot writer                                                      */
/* ------------------------------------------------------------------ */
void zk_snap_begin(struct zk_snap_writer *s, enum zk_snap_mode mode,
		   int64_t dbid)
{
	memset(s, 0, sizeof(*s));
	s->mode = mode;
	s->adler = 1;
	if (mode != ZK_SNAP_FILE)
		return;
	jw_int(&s->w, ZK_SNAP_MAGIC);
	jw_int(&s->w, ZK_FILE_VERSION);
	jw_long(&s->w, dbid);
}

void zk_snap_put_sessions(struct zk_snap_writer *s, int32_t count)
{
	jw_int(&s->w, count);
}

void zk_snap_put_session(struct zk_snap_writer *s, int64_t id, int32_t timeout)
{
	jw_long(&s->w, id);
	jw_int(&s->w, timeout);
}

void zk_snap_put_acls(struct zk_snap_writer *s, int32_t count)
{
	jw_int(&s->w, count);
}

void zk_snap_put_acl(struct zk_snap_writer *s, int64_t id,
		     const struct zk_acls *acl)
{
	jw_long(&s->w, id);
	put_acls(&s->w, acl);
}

void zk_snap_put_node(struct zk_snap_writer *s, const struct zk_snap_node *n)
{
	const struct zstat *st = &n->stat;
	struct jw *w = &s->w;

	jw_buf(w, n->path.p ? n->path.p : "", n->path.p ? n->path.len : 0);
	put_buf(w, n->data);
	jw_long(w, n->acl);
	jw_long(w, st->czxid);
	jw_long(w, st->mzxid);
	jw_long(w, st->ctime);
	jw_long(w, st->mtime);
	jw_int(w, st->version);
	jw_int(w, st->cversion);
	jw_int(w, st->aversion);
	jw_long(w, st->ephemeral_owner);
	jw_long(w, st->pzxid);
}

static void put_seal(struct zk_snap_writer *s)
{
	uint32_t sum = s->w.err ? 0 : zk_adler32(s->adler, s->w.p, s->w.len);

	jw_long(&s->w, sum);
	jw_str(&s->w, "/");
}

int zk_snap_end(struct zk_snap_writer *s, const struct zk_zxid_digest *d)
{
	jw_str(&s->w, "/");
	if (s->mode == ZK_SNAP_FILE) {
		put_seal(s);
		if (d) {
			jw_long(&s->w, d->zxid);
			jw_int(&s->w, d->version);
			jw_long(&s->w, d->digest);
			put_seal(s);
		}
	} else {
		jw_str(&s->w, "BenWasHere");
	}
	return s->w.err ? ZKF_NOMEM : 0;
}

void zk_snap_drained(struct zk_snap_writer *s)
{
	if (s->mode == ZK_SNAP_FILE && !s->w.err)
		s->adler = zk_adler32(s->adler, s->w.p, s->w.len);
	s->w.len = 0;
}

void zk_snap_writer_free(struct zk_snap_writer *s)
{
	jw_free(&s->w);
}

