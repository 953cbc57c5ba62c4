/*
 * test_zkfmt.c — consensus/zkfmt.c, ZooKeeper 3.8's txn records, txn log
 * files and snapshot streams: every record built by hand byte by byte
 * (with this file's own big-endian writer and Adler32, not the codec's),
 * decoded, checked field by field and re-encoded to the same bytes;
 * entries and a snapshot.0 that a real ZooKeeper 3.8.0 wrote; every
 * truncation and thousands of mutations of each record either rejected
 * or round-tripped exactly; the push reader fed at every split point;
 * node digests against values ZooKeeper's DigestCalculator computed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "consensus/zkfmt_int.h"

/* ------------------------------------------------------------------ */
/* A byte builder independent of the codec                              */
/* ------------------------------------------------------------------ */
struct bb {
	uint8_t p[8192];
	size_t n;
};

static void b8(struct bb *b, uint8_t v)
{
	assert_true(b->n < sizeof(b->p));
	b->p[b->n++] = v;
}

static void b32(struct bb *b, int32_t v)
{
	for (int s = 24; s >= 0; s -= 8)
		b8(b, (uint8_t)((uint32_t)v >> s));
}

static void b64(struct bb *b, int64_t v)
{
	b32(b, (int32_t)((uint64_t)v >> 32));
	b32(b, (int32_t)(uint32_t)v);
}

/* buffer/ustring: n < 0 writes null */
static void bbuf(struct bb *b, const void *p, int32_t n)
{
	b32(b, n);
	for (int32_t i = 0; i < n; i++)
		b8(b, ((const uint8_t *)p)[i]);
}

static void bstr(struct bb *b, const char *s)
{
	bbuf(b, s, s ? (int32_t)strlen(s) : -1);
}

static void bhdr(struct bb *b, int64_t zxid, int32_t type)
{
	b64(b, 0x1000abcd0001LL); /* clientId */
	b32(b, 7);		  /* cxid */
	b64(b, zxid);
	b64(b, 1700000000123LL); /* time */
	b32(b, type);
}

static void bacl(struct bb *b, int32_t perms, const char *scheme,
		 const char *id)
{
	b32(b, perms);
	bstr(b, scheme);
	bstr(b, id);
}

static void bdigest(struct bb *b, int64_t tree)
{
	b32(b, 2);
	b64(b, tree);
}

static uint32_t t_adler(const uint8_t *p, size_t n)
{
	uint32_t a = 1, s = 0;
	for (size_t i = 0; i < n; i++) {
		a = (a + p[i]) % 65521;
		s = (s + a) % 65521;
	}
	return s << 16 | a;
}

static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
	size_t n = strlen(h) / 2;
	assert_true(n <= cap);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	return n;
}

static bool buf_is(struct zk_buf b, const char *s)
{
	return b.len == (int32_t)strlen(s) && memcmp(b.p, s, strlen(s)) == 0;
}

/* ------------------------------------------------------------------ */
/* Checks every test shares                                             */
/* ------------------------------------------------------------------ */
static void walk_body(const struct zk_body *b)
{
	struct zk_iter it;
	struct zk_acl_ent e;
	struct zk_buf s;
	struct zk_body sub;
	int rc;

	switch (b->rec) {
	case ZK_REC_CREATE:
	case ZK_REC_CREATE_V0:
	case ZK_REC_CREATE_CONTAINER:
	case ZK_REC_CREATE_TTL:
	case ZK_REC_SET_ACL:
		zk_acl_iter(&it, b->rec == ZK_REC_SET_ACL ? &b->set_acl.acl
							  : &b->create.acl);
		while ((rc = zk_acl_next(&it, &e)) == 1)
			;
		assert_int_equal(rc, 0);
		break;
	case ZK_REC_CLOSE_SESSION:
		zk_strv_iter(&it, &b->close_session.paths);
		while ((rc = zk_strv_next(&it, &s)) == 1)
			;
		assert_int_equal(rc, 0);
		break;
	case ZK_REC_MULTI:
		zk_multi_iter(&it, &b->multi);
		while ((rc = zk_multi_next(&it, &sub)) == 1)
			walk_body(&sub);
		assert_int_equal(rc, 0);
		break;
	default:
		break;
	}
}

/* Whatever the bytes: no crash; a negative code, or a txn that
 * re-encodes to exactly these bytes. */
static int check_any(const uint8_t *p, size_t n)
{
	struct zk_txn t;
	struct jw w = {0};
	int rc = zk_txn_decode(p, n, &t);

	if (rc) {
		assert_true(rc < 0);
		return rc;
	}
	walk_body(&t.body);
	assert_int_equal(zk_txn_encode(&w, &t), 0);
	assert_int_equal(w.len, n);
	assert_memory_equal(w.p, p, n);
	jw_free(&w);
	return 0;
}

static void round_trip(const struct bb *b, struct zk_txn *t)
{
	assert_int_equal(zk_txn_decode(b->p, b->n, t), 0);
	assert_int_equal(check_any(b->p, b->n), 0);
	/* every shorter prefix: rejected or itself a valid record */
	for (size_t k = 0; k < b->n; k++)
		check_any(b->p, k);
}

/* ------------------------------------------------------------------ */
/* Records                                                              */
/* ------------------------------------------------------------------ */
static void test_create_txn_fields_acl_and_digest(void **state)
{
	(void)state;
	struct bb b = {.n = 0};
	struct zk_txn t;
	struct zk_iter it;
	struct zk_acl_ent e;

	bhdr(&b, 0x100000005LL, ZOP_CREATE);
	bstr(&b, "/app/node");
	bbuf(&b, "hello", 5);
	b32(&b, 2);
	bacl(&b, ZPERM_ALL, "world", "anyone");
	bacl(&b, ZPERM_READ, "digest", "u:hash");
	b8(&b, 1);
	b32(&b, 4);
	bdigest(&b, -1234567890123LL);
	round_trip(&b, &t);

	assert_int_equal(t.hdr.client_id, 0x1000abcd0001LL);
	assert_int_equal(t.hdr.cxid, 7);
	assert_int_equal(t.hdr.zxid, 0x100000005LL);
	assert_int_equal(t.hdr.time, 1700000000123LL);
	assert_int_equal(t.hdr.type, ZOP_CREATE);
	assert_int_equal(t.body.rec, ZK_REC_CREATE);
	assert_true(buf_is(t.body.create.path, "/app/node"));
	assert_true(buf_is(t.body.create.data, "hello"));
	assert_true(t.body.create.ephemeral);
	assert_int_equal(t.body.create.parent_cversion, 4);
	assert_true(t.has_digest);
	assert_int_equal(t.digest.version, 2);
	assert_int_equal(t.digest.tree, -1234567890123LL);
	/* zero copy: the path points into the input */
	assert_ptr_equal(t.body.create.path.p, (const char *)b.p + 36);

	assert_int_equal(t.body.create.acl.n, 2);
	zk_acl_iter(&it, &t.body.create.acl);
	assert_int_equal(zk_acl_next(&it, &e), 1);
	assert_int_equal(e.perms, ZPERM_ALL);
	assert_true(buf_is(e.scheme, "world") && buf_is(e.id, "anyone"));
	assert_int_equal(zk_acl_next(&it, &e), 1);
	assert_int_equal(e.perms, ZPERM_READ);
	assert_true(buf_is(e.scheme, "digest") && buf_is(e.id, "u:hash"));
	assert_int_equal(zk_acl_next(&it, &e), 0);

	struct zacl *z = zk_acls_to_zacl(&t.body.create.acl);
	assert_non_null(z);
	assert_int_equal(z->n, 2);
	assert_string_equal(z->e[1].scheme, "digest");
	assert_string_equal(z->e[1].id, "u:hash");
	assert_int_equal(z->e[1].perms, ZPERM_READ);
	zacl_unref(z);
}

static void test_create2_container_and_ttl_records(void **state)
{
	(void)state;
	struct bb b = {.n = 0};
	struct zk_txn t;

	/* create2 logs a CreateTxn under its own type */
	bhdr(&b, 9, ZOP_CREATE2);
	bstr(&b, "/c2");
	bbuf(&b, "", 0);
	b32(&b, 1);
	bacl(&b, 31, "world", "anyone");
	b8(&b, 0);
	b32(&b, 1);
	bdigest(&b, 5);
	round_trip(&b, &t);
	assert_int_equal(t.body.rec, ZK_REC_CREATE);
	assert_int_equal(t.body.create.data.len, 0);
	assert_false(t.body.create.ephemeral);

	b.n = 0;
	bhdr(&b, 10, ZOP_CREATECONTAINER);
	bstr(&b, "/cont");
	bbuf(&b, "d", 1);
	b32(&b, 0);
	b32(&b, 8);
	bdigest(&b, 6);
	round_trip(&b, &t);
	assert_int_equal(t.body.rec, ZK_REC_CREATE_CONTAINER);
	assert_int_equal(t.body.create.parent_cversion, 8);
	assert_int_equal(t.body.create.acl.n, 0);

	b.n = 0;
	bhdr(&b, 11, ZOP_CREATETTL);
	bstr(&b, "/ttl");
	bbuf(&b, "t", 1);
	b32(&b, 0);
	b32(&b, 9);
	b64(&b, 300);
	bdigest(&b, 7);
	round_trip(&b, &t);
	assert_int_equal(t.body.rec, ZK_REC_CREATE_TTL);
	assert_int_equal(t.body.create.parent_cversion, 9);
	assert_int_equal(t.body.create.ttl, 300);
}

static void test_delete_setdata_setacl_error_session_records(void **state)
{
	(void)state;
	struct bb b = {.n = 0};
	struct zk_txn t;

	bhdr(&b, 1, ZOP_DELETE);
	bstr(&b, "/gone");
	bdigest(&b, 1);
	round_trip(&b, &t);
	assert_true(buf_is(t.body.del.path, "/gone"));

	b.n = 0; /* the container reaper's delete: a DeleteTxn too */
	bhdr(&b, 2, ZOP_DELETECONTAINER);
	bstr(&b, "/cont");
	bdigest(&b, 2);
	round_trip(&b, &t);
	assert_int_equal(t.body.rec, ZK_REC_DELETE);

	b.n = 0;
	bhdr(&b, 3, ZOP_SETDATA);
	bstr(&b, "/a");
	bbuf(&b, "\0\xff", 2);
	b32(&b, 12);
	bdigest(&b, 3);
	round_trip(&b, &t);
	assert_int_equal(t.body.set_data.version, 12);
	assert_int_equal(t.body.set_data.data.len, 2);

	b.n = 0; /* reconfig logs a SetDataTxn of /zookeeper/config */
	bhdr(&b, 4, ZOP_RECONFIG);
	bstr(&b, "/zookeeper/config");
	bbuf(&b, "server.1=a:1:2", 14);
	b32(&b, 3);
	bdigest(&b, 4);
	round_trip(&b, &t);
	assert_int_equal(t.body.rec, ZK_REC_SET_DATA);

	b.n = 0;
	bhdr(&b, 5, ZOP_SETACL);
	bstr(&b, "/a");
	b32(&b, 1);
	bacl(&b, 3, "ip", "10.0.0.0/8");
	b32(&b, 2);
	bdigest(&b, 5);
	round_trip(&b, &t);
	assert_int_equal(t.body.set_acl.acl.n, 1);
	assert_int_equal(t.body.set_acl.version, 2);

	b.n = 0; /* a failed request: no digest (Prep threw before it) */
	bhdr(&b, 6, ZOP_ERROR);
	b32(&b, ZNODEEXISTS);
	round_trip(&b, &t);
	assert_int_equal(t.body.error.err, ZNODEEXISTS);
	assert_false(t.has_digest);

	b.n = 0;
	bhdr(&b, 7, ZOP_CREATESESSION);
	b32(&b, 30000);
	bdigest(&b, 6);
	round_trip(&b, &t);
	assert_int_equal(t.body.create_session.timeout, 30000);

	b.n = 0; /* top-level check: ZooKeeper logs it (raw clients) */
	bhdr(&b, 8, ZOP_CHECK);
	bstr(&b, "/a");
	b32(&b, 4);
	round_trip(&b, &t);
	assert_int_equal(t.body.check.version, 4);
}

static void test_null_buffers_and_vectors_stay_null(void **state)
{
	(void)state;
	struct bb b = {.n = 0};
	struct zk_txn t;

	bhdr(&b, 1, ZOP_CREATE);
	bstr(&b, NULL);
	bbuf(&b, NULL, -1);
	b32(&b, -1);
	b8(&b, 0);
	b32(&b, -1);
	round_trip(&b, &t);
	assert_int_equal(t.body.create.path.len, -1);
	assert_null(t.body.create.path.p);
	assert_int_equal(t.body.create.data.len, -1);
	assert_int_equal(t.body.create.acl.n, -1);
	assert_false(t.has_digest);

	b.n = 0;
	bhdr(&b, 2, ZOP_MULTI);
	b32(&b, -1);
	round_trip(&b, &t);
	assert_int_equal(t.body.multi.n, -1);
}

static void test_close_session_with_and_without_body(void **state)
{
	(void)state;
	struct bb b = {.n = 0};
	struct zk_txn t;
	struct zk_iter it;
	struct zk_buf s;

	bhdr(&b, 1, ZOP_CLOSESESSION);
	b32(&b, 2);
	bstr(&b, "/e1");
	bstr(&b, "/x/e2");
	bdigest(&b, 42);
	round_trip(&b, &t);
	assert_int_equal(t.body.rec, ZK_REC_CLOSE_SESSION);
	assert_true(t.has_digest);
	zk_strv_iter(&it, &t.body.close_session.paths);
	assert_int_equal(zk_strv_next(&it, &s), 1);
	assert_true(buf_is(s, "/e1"));
	assert_int_equal(zk_strv_next(&it, &s), 1);
	assert_true(buf_is(s, "/x/e2"));
	assert_int_equal(zk_strv_next(&it, &s), 0);

	/* zookeeper.closeSessionTxn.enabled=false: header and digest only
	 * (read as a CloseSessionTxn, version 2 would be a count of 2) */
	b.n = 0;
	bhdr(&b, 2, ZOP_CLOSESESSION);
	bdigest(&b, 0x0000000500000006LL);
	round_trip(&b, &t);
	assert_int_equal(t.body.rec, ZK_REC_NONE);
	assert_true(t.has_digest);
	assert_int_equal(t.digest.tree, 0x0000000500000006LL);

	b.n = 0;
	bhdr(&b, 3, ZOP_CLOSESESSION);
	round_trip(&b, &t);
	assert_int_equal(t.body.rec, ZK_REC_NONE);
	assert_false(t.has_digest);

	b.n = 0;
	bhdr(&b, 4, ZOP_CLOSESESSION);
	b32(&b, 0);
	round_trip(&b, &t);
	assert_int_equal(t.body.rec, ZK_REC_CLOSE_SESSION);
	assert_int_equal(t.body.close_session.paths.n, 0);
}

static void test_create_v0_is_read_when_create_txn_runs_out(void **state)
{
	(void)state;
	struct bb b = {.n = 0};
	struct zk_txn t;

	bhdr(&b, 1, ZOP_CREATE);
	bstr(&b, "/old");
	bbuf(&b, "v", 1);
	b32(&b, 0);
	b8(&b, 1);
	round_trip(&b, &t);
	assert_int_equal(t.body.rec, ZK_REC_CREATE_V0);
	assert_true(t.body.create.ephemeral);
	/* only create has a V0; create2 runs out of bytes */
	jw_put_int_at(b.p + 28, ZOP_CREATE2);
	assert_int_equal(zk_txn_decode(b.p, b.n, &t), ZKF_TRUNCATED);
}

/* A multi with every sub-record kind; ok = false builds 3.8's failed
 * multi: create kept, the failing check as ErrorTxn(-103), the rest
 * ErrorTxn(-2). */
static void build_multi(struct bb *b, bool ok)
{
	struct bb s = {.n = 0};

	bhdr(b, 0x20, ZOP_MULTI);
	b32(b, ok ? 5 : 3);
	b32(b, ZOP_CREATE);
	bstr(&s, "/m/x");
	bbuf(&s, "1", 1);
	b32(&s, 1);
	bacl(&s, 31, "world", "anyone");
	b8(&s, 0);
	b32(&s, 3);
	bbuf(b, s.p, (int32_t)s.n);
	s.n = 0;
	if (ok) {
		b32(b, ZOP_CHECK);
		bstr(&s, "/m");
		b32(&s, 2);
		bbuf(b, s.p, (int32_t)s.n);
		s.n = 0;
		b32(b, ZOP_SETDATA);
		bstr(&s, "/m/x");
		bbuf(&s, "22", 2);
		b32(&s, 1);
		bbuf(b, s.p, (int32_t)s.n);
		s.n = 0;
		b32(b, ZOP_DELETE);
		bstr(&s, "/m/x");
		bbuf(b, s.p, (int32_t)s.n);
		s.n = 0;
		b32(b, ZOP_CREATETTL);
		bstr(&s, "/m/t");
		bbuf(&s, NULL, -1);
		b32(&s, 0);
		b32(&s, 4);
		b64(&s, 1000);
		bbuf(b, s.p, (int32_t)s.n);
	} else {
		b32(b, ZOP_ERROR);
		b32(&s, ZBADVERSION);
		bbuf(b, s.p, (int32_t)s.n);
		s.n = 0;
		b32(b, ZOP_ERROR);
		b32(&s, ZRUNTIMEINCONSISTENCY);
		bbuf(b, s.p, (int32_t)s.n);
	}
	bdigest(b, 77);
}

static void test_multi_sub_txns_decode_and_iterate(void **state)
{
	(void)state;
	struct bb b = {.n = 0};
	struct zk_txn t;
	struct zk_iter it;
	struct zk_body sub;

	build_multi(&b, true);
	round_trip(&b, &t);
	assert_int_equal(t.body.multi.n, 5);
	zk_multi_iter(&it, &t.body.multi);
	assert_int_equal(zk_multi_next(&it, &sub), 1);
	assert_int_equal(sub.type, ZOP_CREATE);
	assert_true(buf_is(sub.create.path, "/m/x"));
	assert_int_equal(sub.create.parent_cversion, 3);
	assert_int_equal(zk_multi_next(&it, &sub), 1);
	assert_int_equal(sub.rec, ZK_REC_CHECK);
	assert_int_equal(sub.check.version, 2);
	assert_int_equal(zk_multi_next(&it, &sub), 1);
	assert_true(buf_is(sub.set_data.data, "22"));
	assert_int_equal(zk_multi_next(&it, &sub), 1);
	assert_int_equal(sub.rec, ZK_REC_DELETE);
	assert_int_equal(zk_multi_next(&it, &sub), 1);
	assert_int_equal(sub.create.ttl, 1000);
	assert_int_equal(sub.create.data.len, -1);
	assert_int_equal(zk_multi_next(&it, &sub), 0);

	b.n = 0;
	build_multi(&b, false);
	round_trip(&b, &t);
	zk_multi_iter(&it, &t.body.multi);
	assert_int_equal(zk_multi_next(&it, &sub), 1);
	assert_int_equal(sub.rec, ZK_REC_CREATE);
	assert_int_equal(zk_multi_next(&it, &sub), 1);
	assert_int_equal(sub.error.err, ZBADVERSION);
	assert_int_equal(zk_multi_next(&it, &sub), 1);
	assert_int_equal(sub.error.err, ZRUNTIMEINCONSISTENCY);
	assert_int_equal(zk_multi_next(&it, &sub), 0);
}

/* A failed multi as a ZooKeeper leader's committed log holds it, and so
 * as its DIFF sends it: DataTree.processTxn made every sub-txn type
 * error in place and kept its body, and the proposal was serialized
 * after that.  Each sub-txn reads as ErrorTxn, its first four bytes the
 * code, as ZooKeeper reads it. */
static void test_failed_multi_from_a_zookeeper_committed_log(void **state)
{
	(void)state;
	struct bb b = {.n = 0}, s = {.n = 0};
	struct zk_txn t;
	struct zk_iter it;
	struct zk_body sub;

	bhdr(&b, 0x21, ZOP_MULTI);
	b32(&b, 3);
	b32(&b, ZOP_ERROR); /* was a setData of /churn/b */
	bstr(&s, "/churn/b");
	bbuf(&s, "\xb0", 1);
	b32(&s, 0x6d);
	bbuf(&b, s.p, (int32_t)s.n);
	s.n = 0;
	b32(&b, ZOP_ERROR); /* was a create of /churn/b/q */
	bstr(&s, "/churn/b/q");
	bbuf(&s, "x", 1);
	b32(&s, 1);
	bacl(&s, 31, "world", "anyone");
	b8(&s, 0);
	b32(&s, 0x14f);
	bbuf(&b, s.p, (int32_t)s.n);
	s.n = 0;
	b32(&b, ZOP_ERROR); /* the op that failed */
	b32(&s, ZNOTEMPTY);
	bbuf(&b, s.p, (int32_t)s.n);
	bdigest(&b, 78);
	assert_int_equal(zk_txn_decode(b.p, b.n, &t), 0);
	assert_int_equal(t.body.multi.n, 3);
	zk_multi_iter(&it, &t.body.multi);
	assert_int_equal(zk_multi_next(&it, &sub), 1);
	assert_int_equal(sub.rec, ZK_REC_ERROR);
	assert_int_equal(sub.error.err, 8); /* the path's length */
	assert_int_equal(zk_multi_next(&it, &sub), 1);
	assert_int_equal(sub.rec, ZK_REC_ERROR);
	assert_int_equal(sub.error.err, 10);
	assert_int_equal(zk_multi_next(&it, &sub), 1);
	assert_int_equal(sub.error.err, ZNOTEMPTY);
	assert_int_equal(zk_multi_next(&it, &sub), 0);
	/* an ErrorTxn too short for its code is still an error */
	b.n = 0;
	bhdr(&b, 1, ZOP_MULTI);
	b32(&b, 1);
	b32(&b, ZOP_ERROR);
	bbuf(&b, "\0\0", 2);
	assert_int_equal(zk_txn_decode(b.p, b.n, &t), ZKF_TRUNCATED);
}

static void test_encode_from_structured_fields(void **state)
{
	(void)state;
	struct bb b = {.n = 0};
	struct zk_txn t, u;
	struct zk_body subs[5];
	struct zk_iter it;
	struct jw w = {0};
	int n = 0;

	/* a multi from an array of sub-bodies, ACLs from a paddock zacl */
	build_multi(&b, true);
	assert_int_equal(zk_txn_decode(b.p, b.n, &t), 0);
	u = t;
	zk_multi_iter(&it, &t.body.multi);
	while (zk_multi_next(&it, &subs[n]) == 1)
		n++;
	assert_int_equal(n, 5);
	struct zacl *open = zacl_open();
	subs[0].create.acl.raw = NULL;
	subs[0].create.acl.zacl = open;
	u.body.multi.raw = NULL;
	u.body.multi.subs = subs;
	assert_int_equal(zk_txn_encode(&w, &u), 0);
	assert_int_equal(w.len, b.n);
	assert_memory_equal(w.p, b.p, b.n);

	/* closeSession paths from an array */
	struct zk_buf paths[2] = {{"/e1", 3}, {"/x/e2", 5}};
	b.n = 0;
	bhdr(&b, 1, ZOP_CLOSESESSION);
	b32(&b, 2);
	bstr(&b, "/e1");
	bstr(&b, "/x/e2");
	memset(&u, 0, sizeof(u));
	u.hdr = (struct zk_txnhdr){0x1000abcd0001LL, 7, 1, 1700000000123LL,
				   ZOP_CLOSESESSION};
	u.body.type = ZOP_CLOSESESSION;
	u.body.rec = ZK_REC_CLOSE_SESSION;
	u.body.close_session.paths.n = 2;
	u.body.close_session.paths.v = paths;
	w.len = 0;
	assert_int_equal(zk_txn_encode(&w, &u), 0);
	assert_int_equal(w.len, b.n);
	assert_memory_equal(w.p, b.p, b.n);

	/* a create with a null ACL vector and a set ACL */
	b.n = 0;
	bhdr(&b, 2, ZOP_CREATE);
	bstr(&b, "/n");
	bbuf(&b, NULL, -1);
	b32(&b, -1);
	b8(&b, 0);
	b32(&b, 1);
	memset(&u, 0, sizeof(u));
	u.hdr = (struct zk_txnhdr){0x1000abcd0001LL, 7, 2, 1700000000123LL,
				   ZOP_CREATE};
	u.body.type = ZOP_CREATE;
	u.body.rec = ZK_REC_CREATE;
	u.body.create.path = (struct zk_buf){"/n", 2};
	u.body.create.data = (struct zk_buf){NULL, -1};
	u.body.create.acl.n = -1;
	u.body.create.parent_cversion = 1;
	w.len = 0;
	assert_int_equal(zk_txn_encode(&w, &u), 0);
	assert_int_equal(w.len, b.n);
	assert_memory_equal(w.p, b.p, b.n);
	zacl_unref(open);
	jw_free(&w);
}

static void test_encode_rejects_records_that_do_not_fit(void **state)
{
	(void)state;
	struct zk_txn t;
	struct zk_body sub;
	struct jw w = {0};

	memset(&t, 0, sizeof(t));
	t.hdr.type = t.body.type = ZOP_SETDATA;
	t.body.rec = ZK_REC_DELETE;
	assert_int_equal(zk_txn_encode(&w, &t), ZKF_BADTYPE);
	t.body.rec = ZK_REC_SET_DATA;
	t.body.type = ZOP_SETACL;
	assert_int_equal(zk_txn_encode(&w, &t), ZKF_BADTYPE);
	t.hdr.type = t.body.type = ZOP_PING;
	t.body.rec = ZK_REC_NONE;
	assert_int_equal(zk_txn_encode(&w, &t), ZKF_BADTYPE);
	/* a V0 create is top-level only; a setACL never sits in a multi */
	memset(&sub, 0, sizeof(sub));
	sub.type = ZOP_SETACL;
	sub.rec = ZK_REC_SET_ACL;
	t.hdr.type = t.body.type = ZOP_MULTI;
	t.body.rec = ZK_REC_MULTI;
	t.body.multi.n = 1;
	t.body.multi.subs = &sub;
	assert_int_equal(zk_txn_encode(&w, &t), ZKF_BADSUB);
	sub.type = ZOP_CREATE;
	sub.rec = ZK_REC_CREATE_V0;
	assert_int_equal(zk_txn_encode(&w, &t), ZKF_BADSUB);
	jw_free(&w);
}

static void test_malformed_records_name_the_problem(void **state)
{
	(void)state;
	struct bb b = {.n = 0};
	struct zk_txn t;

	bhdr(&b, 1, ZOP_PING);
	assert_int_equal(zk_txn_decode(b.p, b.n, &t), ZKF_BADTYPE);
	assert_int_equal(zk_txn_decode(b.p, 31, &t), ZKF_TRUNCATED);
	assert_int_equal(zk_txn_decode(NULL, 0, &t), ZKF_TRUNCATED);

	b.n = 0;
	bhdr(&b, 1, ZOP_DELETE);
	b32(&b, -2); /* only -1 means null */
	assert_int_equal(zk_txn_decode(b.p, b.n, &t), ZKF_BADLEN);

	b.n = 0;
	bhdr(&b, 1, ZOP_DELETE);
	bstr(&b, "/a");
	b8(&b, 0);
	assert_int_equal(zk_txn_decode(b.p, b.n, &t), ZKF_TRAILING);

	b.n = 0;
	bhdr(&b, 1, ZOP_CREATE2);
	bstr(&b, "/a");
	bbuf(&b, "", 0);
	b32(&b, 0);
	b8(&b, 2); /* Java reads it as true, but would write 1 */
	b32(&b, 1);
	assert_int_equal(zk_txn_decode(b.p, b.n, &t), ZKF_BADBOOL);

	b.n = 0;
	bhdr(&b, 1, ZOP_SETACL);
	bstr(&b, "/a");
	b32(&b, 0x7fffffff); /* far more ACLs than bytes */
	b32(&b, 1);
	assert_int_equal(zk_txn_decode(b.p, b.n, &t), ZKF_TRUNCATED);

	b.n = 0;
	bhdr(&b, 1, ZOP_SETDATA);
	bstr(&b, "/a");
	b32(&b, 1000); /* data longer than the record */
	assert_int_equal(zk_txn_decode(b.p, b.n, &t), ZKF_TRUNCATED);

	static const int32_t not_in_multi[] = {
	    ZOP_SETACL,	      ZOP_MULTI,    ZOP_CREATESESSION,
	    ZOP_CLOSESESSION, ZOP_RECONFIG, ZOP_PING};
	for (size_t i = 0; i < sizeof(not_in_multi) / 4; i++) {
		b.n = 0;
		bhdr(&b, 1, ZOP_MULTI);
		b32(&b, 1);
		b32(&b, not_in_multi[i]);
		bbuf(&b, "\0\0\0\0", 4);
		assert_int_equal(zk_txn_decode(b.p, b.n, &t), ZKF_BADSUB);
	}

	b.n = 0; /* a sub-record with bytes after it */
	bhdr(&b, 1, ZOP_MULTI);
	b32(&b, 1);
	b32(&b, ZOP_DELETE);
	bbuf(&b, "\0\0\0\0\0", 5);
	assert_int_equal(zk_txn_decode(b.p, b.n, &t), ZKF_TRAILING);

	for (int c = ZKF_NOMEM; c <= ZKF_TRUNCATED; c++)
		assert_string_not_equal(zkf_strerror(c), "unknown error");
	assert_string_equal(zkf_strerror(ZNONODE), zk_strerror(ZNONODE));
}

/* xorshift: deterministic garbage */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void mutate_all(const struct bb *src)
{
	struct bb b;

	for (int i = 0; i < 3000; i++) {
		b = *src;
		int k = 1 + (int)(rnd() % 4);
		while (k--) {
			size_t at = rnd() % b.n;
			switch (rnd() % 3) {
			case 0:
				b.p[at] ^= (uint8_t)(1u << (rnd() % 8));
				break;
			case 1:
				b.p[at] = (uint8_t)rnd();
				break;
			default: /* a length or count of an edge value */
				if (at + 4 <= b.n)
					jw_put_int_at(
					    b.p + at,
					    (int32_t[]){-1, -2, 0, 1,
							0x7fffffff,
							INT32_MIN}[rnd() % 6]);
			}
		}
		check_any(b.p, b.n);
		check_any(b.p, rnd() % (b.n + 1));
	}
}

static void test_garbage_and_mutations_never_crash(void **state)
{
	(void)state;
	struct bb b = {.n = 0};

	build_multi(&b, true);
	mutate_all(&b);
	b.n = 0;
	build_multi(&b, false);
	mutate_all(&b);
	b.n = 0;
	bhdr(&b, 1, ZOP_CLOSESESSION);
	b32(&b, 2);
	bstr(&b, "/e1");
	bstr(&b, "/e2");
	bdigest(&b, 1);
	mutate_all(&b);
	b.n = 0;
	bhdr(&b, 1, ZOP_CREATE);
	bstr(&b, "/a");
	bbuf(&b, "xy", 2);
	b32(&b, 1);
	bacl(&b, 31, "world", "anyone");
	b8(&b, 0);
	b32(&b, 1);
	bdigest(&b, 1);
	mutate_all(&b);
	for (int i = 0; i < 20000; i++) {
		uint8_t junk[96];
		size_t n = rnd() % sizeof(junk);
		for (size_t j = 0; j < n; j++)
			junk[j] = (uint8_t)rnd();
		if (n >= 32) /* a plausible type, so bodies get parsed */
			jw_put_int_at(junk + 28, (int32_t)(rnd() % 23) - 11);
		check_any(junk, n);
	}
}

static void test_body_codec_iterators_and_names(void **state)
{
	(void)state;
	struct bb b = {.n = 0};
	struct zk_body body;
	struct zk_iter it;
	struct zk_acl_ent e;
	struct jw w = {0};

	/* a multi's sub-record on its own */
	bstr(&b, "/s");
	bbuf(&b, "v", 1);
	b32(&b, 3);
	assert_int_equal(zk_body_decode(ZOP_SETDATA, true, b.p, b.n, &body), 0);
	assert_int_equal(body.set_data.version, 3);
	assert_int_equal(zk_body_encode(&w, &body, true), 0);
	assert_int_equal(w.len, b.n);
	assert_memory_equal(w.p, b.p, b.n);
	assert_int_equal(zk_body_decode(ZOP_SETACL, true, b.p, b.n, &body),
			 ZKF_BADSUB);
	assert_int_equal(zk_body_decode(ZOP_PING, false, b.p, b.n, &body),
			 ZKF_BADTYPE);
	assert_int_equal(zk_rec_of(ZOP_SETACL, true), ZK_REC_NONE);
	assert_int_equal(zk_rec_of(ZOP_SETACL, false), ZK_REC_SET_ACL);
	assert_int_equal(zk_rec_of(ZOP_RECONFIG, false), ZK_REC_SET_DATA);
	assert_int_equal(zk_rec_of(ZOP_DELETECONTAINER, true), ZK_REC_DELETE);
	assert_string_equal(zk_op_name(ZOP_CREATETTL), "createTTL");
	assert_string_equal(zk_op_name(ZOP_CLOSESESSION), "closeSession");
	assert_string_equal(zk_op_name(999), "unknown");

	/* iterators over caller-made raw bytes report, not overrun */
	b.n = 0;
	bacl(&b, 31, "world", "anyone");
	struct zk_acls a = {.n = 2, .raw = b.p, .raw_len = b.n};
	zk_acl_iter(&it, &a);
	assert_int_equal(zk_acl_next(&it, &e), 1);
	assert_int_equal(zk_acl_next(&it, &e), ZKF_TRUNCATED);
	assert_int_equal(zk_acl_next(&it, &e), 0);
	/* built for encoding (no raw): nothing to walk */
	a.raw = NULL;
	zk_acl_iter(&it, &a);
	assert_int_equal(zk_acl_next(&it, &e), 0);
	jw_free(&w);
}

static int big_node(void *arg, const struct zk_snap_node *n)
{
	int *seen = arg;
	for (int32_t i = 0; i < n->data.len; i++)
		assert_int_equal((uint8_t)n->data.p[i], (uint8_t)(i * 7));
	*seen += n->data.len;
	return 0;
}

static void test_large_node_straddles_many_feeds(void **state)
{
	(void)state;
	enum { DATA = 100000 };
	struct zk_snap_ops ops = {.node = big_node};
	struct jw w = {0};
	size_t used, off = 0;
	int seen = 0, rc = 0;

	jw_int(&w, 0); /* sessions */
	jw_int(&w, 0); /* ACL entries */
	jw_buf(&w, "", 0);
	jw_int(&w, DATA);
	for (int i = 0; i < DATA; i++)
		jw_bytes(&w, &(uint8_t){(uint8_t)(i * 7)}, 1);
	jw_long(&w, -1);
	for (int i = 0; i < 15; i++)
		jw_int(&w, 0); /* StatPersisted */
	jw_str(&w, "/");
	jw_str(&w, "BenWasHere");
	assert_false(w.err);
	struct zk_snap_reader *r =
	    zk_snap_reader_new(ZK_SNAP_STREAM, &ops, &seen);
	while (off < w.len && rc == 0) {
		size_t n = w.len - off < 777 ? w.len - off : 777;
		rc = zk_snap_feed(r, w.p + off, n, &used);
		off += used;
	}
	assert_int_equal(rc, 1);
	assert_int_equal(off, w.len);
	assert_int_equal(seen, DATA);
	zk_snap_reader_free(r);
	jw_free(&w);
}

/* ------------------------------------------------------------------ */
/* Entries a real ZooKeeper 3.8.0 wrote (log.<zxid> of a test run)      */
/* ------------------------------------------------------------------ */
/* a failed create: error txn -110, no digest */
static const char real_error[] =
    "000000006cf40be8000000240100016202cf000100000009000000000000000c0000"
    "01a24af276bcffffffffffffff9242";
/* a failed multi: create /zkfmt/m2, check failing, setData not run */
static const char real_multi[] =
    "0000000064761db3000000810100016202cf00010000000b000000000000000e0000"
    "01a24af276c60000000e000000030000000100000031000000092f7a6b666d742f6d"
    "3200000000000000010000001f00000005776f726c6400000006616e796f6e650000"
    "000006ffffffff00000004ffffff99ffffffff00000004fffffffe00000002000000"
    "026417c91742";
/* createTTL /zkfmt/ttl, ttl 300 */
static const char real_ttl[] =
    "00000000265c10cc000000660100016202cf0002000000040000000000000013000001"
    "a24af276d5000000150000000a2f7a6b666d742f74746c0000000174000000010000"
    "001f00000005776f726c6400000006616e796f6e6500000007000000000000012c00"
    "00000200000002ebf10de342";
/* closeSession with paths2Delete [/zkfmt/eph2] */
static const char real_close[] =
    "000000009b060f340000003f0100016202cf0004000000020000000000000018000001"
    "a24af276e2fffffff5000000010000000b2f7a6b666d742f657068320000000200000"
    "003cfd3d43742";

/* A log file: header, the four real entries, then `tail` zero bytes. */
static size_t real_log(uint8_t *p, size_t cap, size_t tail)
{
	const char *ents[] = {real_error, real_multi, real_ttl, real_close};
	size_t n = 0;

	memcpy(p, "ZKLG\0\0\0\2\0\0\0\0\0\0\0\0", 16);
	n = 16;
	for (int i = 0; i < 4; i++)
		n += unhex(ents[i], p + n, cap - n);
	assert_true(n + tail <= cap);
	memset(p + n, 0, tail);
	return n + tail;
}

static void test_real_zookeeper_log_entries(void **state)
{
	(void)state;
	static uint8_t f[4096];
	size_t len = real_log(f, sizeof(f), 300);
	struct zk_log_iter it;
	struct zk_log_entry e[4], x;
	struct zk_filehdr h;
	struct zk_txn t;
	struct zk_iter mi;
	struct zk_body sub;
	struct zk_buf s;
	struct jw w = {0};

	assert_int_equal(zk_log_open(&it, f, len, &h), 0);
	assert_int_equal(h.magic, ZK_LOG_MAGIC);
	assert_int_equal(h.dbid, 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(zk_log_next(&it, &e[i]), 1);
	assert_int_equal(zk_log_next(&it, &x), 0); /* the zero tail */
	assert_int_equal(it.off, len - 300);

	assert_int_equal(zk_txn_decode(e[0].rec, e[0].len, &t), 0);
	assert_int_equal(t.hdr.type, ZOP_ERROR);
	assert_int_equal(t.body.error.err, ZNODEEXISTS);
	assert_false(t.has_digest);

	assert_int_equal(zk_txn_decode(e[1].rec, e[1].len, &t), 0);
	assert_int_equal(t.hdr.type, ZOP_MULTI); /* not error */
	assert_true(t.has_digest);
	zk_multi_iter(&mi, &t.body.multi);
	assert_int_equal(zk_multi_next(&mi, &sub), 1);
	assert_int_equal(sub.type, ZOP_CREATE);
	assert_true(buf_is(sub.create.path, "/zkfmt/m2"));
	assert_int_equal(zk_multi_next(&mi, &sub), 1);
	assert_int_equal(sub.error.err, ZBADVERSION);
	assert_int_equal(zk_multi_next(&mi, &sub), 1);
	assert_int_equal(sub.error.err, ZRUNTIMEINCONSISTENCY);
	assert_int_equal(zk_multi_next(&mi, &sub), 0);

	assert_int_equal(zk_txn_decode(e[2].rec, e[2].len, &t), 0);
	assert_int_equal(t.body.create.ttl, 300);

	assert_int_equal(zk_txn_decode(e[3].rec, e[3].len, &t), 0);
	zk_strv_iter(&mi, &t.body.close_session.paths);
	assert_int_equal(zk_strv_next(&mi, &s), 1);
	assert_true(buf_is(s, "/zkfmt/eph2"));

	/* the writer makes the same file (minus the tail) */
	zk_log_put_header(&w, 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(zk_txn_decode(e[i].rec, e[i].len, &t), 0);
		assert_int_equal(zk_log_put_txn(&w, &t), 0);
	}
	assert_int_equal(w.len, len - 300);
	assert_memory_equal(w.p, f, w.len);
	/* and zk_log_put_record frames raw bytes the same way */
	w.len = 0;
	assert_int_equal(zk_log_put_record(&w, e[1].rec, e[1].len), 0);
	assert_memory_equal(w.p, f + e[1].off, w.len);
	jw_free(&w);
}

static void test_log_reader_ends_and_damage(void **state)
{
	(void)state;
	static uint8_t f[4096], g[4096];
	size_t len = real_log(f, sizeof(f), 0), end1;
	struct zk_log_iter it;
	struct zk_log_entry e;
	struct zk_filehdr h;

	/* end of file right after an entry: a clean end */
	assert_int_equal(zk_log_open(&it, f, len, &h), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(zk_log_next(&it, &e), 1);
	assert_int_equal(zk_log_next(&it, &e), 0);
	assert_int_equal(zk_log_open(&it, f, len, &h), 0);
	assert_int_equal(zk_log_next(&it, &e), 1);
	end1 = e.end;

	/* cut anywhere inside the second entry: torn (but not inside the
	 * checksum's high half, always 0: that reads as the zero tail) */
	for (size_t cut = end1 + 5; cut < end1 + 13 + 0x81; cut++) {
		assert_int_equal(zk_log_open(&it, f, cut, &h), 0);
		assert_int_equal(zk_log_next(&it, &e), 1);
		assert_int_equal(zk_log_next(&it, &e), ZKF_TORN);
	}
	/* a few zero bytes (less than a checksum and length) end it too */
	memcpy(g, f, end1);
	memset(g + end1, 0, 7);
	assert_int_equal(zk_log_open(&it, g, end1 + 7, &h), 0);
	assert_int_equal(zk_log_next(&it, &e), 1);
	assert_int_equal(zk_log_next(&it, &e), 0);

	memcpy(g, f, len);
	g[end1 + 40] ^= 0x10; /* inside the record */
	assert_int_equal(zk_log_open(&it, g, len, &h), 0);
	assert_int_equal(zk_log_next(&it, &e), 1);
	assert_int_equal(zk_log_next(&it, &e), ZKF_BADCRC);
	assert_int_equal(it.off, end1); /* does not advance */

	memcpy(g, f, len);
	g[end1 + 12 + 0x81] = 'C';
	assert_int_equal(zk_log_open(&it, g, len, &h), 0);
	assert_int_equal(zk_log_next(&it, &e), 1);
	assert_int_equal(zk_log_next(&it, &e), ZKF_BADEOR);

	memcpy(g, f, len);
	jw_put_int_at(g + end1 + 8, -5);
	assert_int_equal(zk_log_open(&it, g, len, &h), 0);
	assert_int_equal(zk_log_next(&it, &e), 1);
	assert_int_equal(zk_log_next(&it, &e), ZKF_BADLEN);

	memcpy(g, f, len);
	g[0] = 'X';
	assert_int_equal(zk_log_open(&it, g, len, &h), ZKF_BADMAGIC);
	g[0] = 'Z';
	g[7] = 1;
	assert_int_equal(zk_log_open(&it, g, len, &h), ZKF_BADVERSION);
	assert_int_equal(zk_log_open(&it, g, 15, &h), ZKF_TRUNCATED);

	/* random damage: never a crash, never an out-of-bounds entry */
	for (int i = 0; i < 5000; i++) {
		memcpy(g, f, len);
		for (int k = 0; k < 3; k++)
			g[16 + rnd() % (len - 16)] = (uint8_t)rnd();
		size_t n = 16 + rnd() % (len - 15);
		int rc;
		assert_int_equal(zk_log_open(&it, g, n, &h), 0);
		while ((rc = zk_log_next(&it, &e)) == 1) {
			assert_true(e.end <= n);
			check_any(e.rec, e.len);
		}
		assert_true(rc <= 0);
	}
}

static void test_log_padding_follows_file_padding(void **state)
{
	(void)state;
	const int64_t m64 = ZK_LOG_PREALLOC;

	/* a new file: the size counts from the 16-byte header, so the
	 * first step makes it prealloc + 16 bytes (ZooKeeper's log files
	 * are 64 MiB + 16) */
	assert_int_equal(zk_log_padded_size(16, 16, m64), m64 + 16);
	assert_int_equal(zk_log_padded_size(16, 0, m64), m64);
	/* far from the end: unchanged */
	assert_int_equal(zk_log_padded_size(1000, m64, m64), m64);
	/* within 4 KiB of the end: one more step */
	assert_int_equal(zk_log_padded_size(m64 - 4096, m64, m64), 2 * m64);
	/* past the end: the next multiple above */
	assert_int_equal(zk_log_padded_size(m64 + 5, m64, m64), 2 * m64);
	assert_int_equal(zk_log_padded_size(100, 16, 0), 16);
}

/* ------------------------------------------------------------------ */
/* Snapshots                                                            */
/* ------------------------------------------------------------------ */
struct snap_at {
	size_t seal1, seal2, digest, end; /* offsets */
};

static void bnode(struct bb *b, const char *path, const char *data, int64_t acl,
		  int64_t owner, int64_t zxid)
{
	bstr(b, path);
	bstr(b, data);
	b64(b, acl);
	b64(b, zxid);	  /* czxid */
	b64(b, zxid + 1); /* mzxid */
	b64(b, 1700000000000LL);
	b64(b, 1700000000500LL);
	b32(b, 1);
	b32(b, 2);
	b32(b, 0);
	b64(b, owner);
	b64(b, zxid + 2); /* pzxid */
}

static void build_snap(struct bb *b, enum zk_snap_mode mode, bool digest,
		       struct snap_at *at)
{
	if (mode == ZK_SNAP_FILE) {
		b32(b, ZK_SNAP_MAGIC);
		b32(b, 2);
		b64(b, -1);
	}
	b32(b, 2);
	b64(b, 0x100016162030001LL);
	b32(b, 30000);
	b64(b, 0x100016162030002LL);
	b32(b, 4000);
	b32(b, 2);
	b64(b, 1);
	b32(b, 1);
	bacl(b, 1, "world", "anyone");
	b64(b, 2);
	b32(b, 2);
	bacl(b, 31, "digest", "u:h");
	bacl(b, 1, "ip", "10.0.0.1");
	bnode(b, "", "", -1, 0, 0);
	bnode(b, "/zookeeper", "", -1, 0, 0);
	bnode(b, "/a", "hello", 2, 0, 4);
	bnode(b, "/a/e", NULL, 1, 0x100016162030001LL, 9);
	bstr(b, "/");
	if (mode == ZK_SNAP_STREAM) {
		bstr(b, "BenWasHere");
		at->end = b->n;
		return;
	}
	at->seal1 = b->n;
	b64(b, t_adler(b->p, b->n));
	bstr(b, "/");
	if (digest) {
		at->digest = b->n;
		b64(b, 9);
		b32(b, 2);
		b64(b, 123456789);
		at->seal2 = b->n;
		b64(b, t_adler(b->p, b->n));
		bstr(b, "/");
	}
	at->end = b->n;
}

/* Collects what a reader hands out, and writes it back. */
struct got {
	struct zk_snap_writer sw;
	struct jw out;
	int sessions, acls, nodes, digests, headers;
	char paths[256];
	int64_t last_session;
	struct zk_zxid_digest d;
	int abort_at_node; /* > 0: return -77 at that node */
};

static void got_drain(struct got *g)
{
	jw_bytes(&g->out, g->sw.w.p, g->sw.w.len);
	zk_snap_drained(&g->sw);
}

static int g_header(void *arg, const struct zk_filehdr *h)
{
	struct got *g = arg;
	g->headers++;
	assert_int_equal(h->dbid, -1);
	zk_snap_begin(&g->sw, ZK_SNAP_FILE, h->dbid);
	return 0;
}

static int g_sessions(void *arg, int32_t n)
{
	struct got *g = arg;
	if (!g->headers && !g->sw.mode)
		zk_snap_begin(&g->sw, ZK_SNAP_STREAM, 0);
	zk_snap_put_sessions(&g->sw, n);
	return 0;
}

static int g_session(void *arg, int64_t id, int32_t timeout)
{
	struct got *g = arg;
	g->sessions++;
	g->last_session = id;
	zk_snap_put_session(&g->sw, id, timeout);
	got_drain(g);
	return 0;
}

static int g_acls(void *arg, int32_t n)
{
	struct got *g = arg;
	zk_snap_put_acls(&g->sw, n);
	return 0;
}

static int g_acl(void *arg, int64_t id, const struct zk_acls *a)
{
	struct got *g = arg;
	struct zacl *z = zk_acls_to_zacl(a);
	struct zk_acls from_zacl = {.n = 0, .zacl = z};

	assert_non_null(z);
	assert_int_equal(z->n, (int)id); /* this test's ids say so */
	g->acls++;
	zk_snap_put_acl(&g->sw, id, &from_zacl);
	zacl_unref(z);
	return 0;
}

static int g_node(void *arg, const struct zk_snap_node *n)
{
	struct got *g = arg;
	if (++g->nodes == g->abort_at_node)
		return -77;
	strncat(g->paths, "[", sizeof(g->paths) - strlen(g->paths) - 1);
	strncat(g->paths, n->path.p ? n->path.p : "?",
		n->path.len > 0 ? (size_t)n->path.len : 0);
	strncat(g->paths, "]", sizeof(g->paths) - strlen(g->paths) - 1);
	if (n->path.len == 2) {
		assert_true(buf_is(n->data, "hello"));
		assert_int_equal(n->acl, 2);
		assert_int_equal(n->stat.czxid, 4);
		assert_int_equal(n->stat.mzxid, 5);
		assert_int_equal(n->stat.pzxid, 6);
		assert_int_equal(n->stat.version, 1);
		assert_int_equal(n->stat.cversion, 2);
		assert_int_equal(n->stat.data_length, 5);
	}
	zk_snap_put_node(&g->sw, n);
	if (g->nodes % 2)
		got_drain(g);
	return 0;
}

static int g_digest(void *arg, const struct zk_zxid_digest *d)
{
	struct got *g = arg;
	g->digests++;
	g->d = *d;
	return 0;
}

/* For damaged input: read every byte handed out, assert nothing. */
static int t_sum;
static void touch(struct zk_buf b)
{
	for (int32_t i = 0; i < b.len; i++)
		t_sum += (uint8_t)b.p[i];
}

static int t_acl(void *arg, int64_t id, const struct zk_acls *a)
{
	struct zk_iter it;
	struct zk_acl_ent e;
	int rc;

	zk_acl_iter(&it, a);
	while ((rc = zk_acl_next(&it, &e)) == 1) {
		touch(e.scheme);
		touch(e.id);
	}
	assert_int_equal(rc, 0);
	return 0;
}

static int t_node(void *arg, const struct zk_snap_node *n)
{
	touch(n->path);
	touch(n->data);
	return 0;
}

static const struct zk_snap_ops t_ops = {.acl = t_acl, .node = t_node};

static const struct zk_snap_ops g_ops = {
    .header = g_header,
    .sessions = g_sessions,
    .session = g_session,
    .acls = g_acls,
    .acl = g_acl,
    .node = g_node,
    .digest = g_digest,
};

/* Feed in the given pieces; returns the last rc, *used total. */
static int feed_pieces(struct zk_snap_reader *r, const uint8_t *p, size_t len,
		       const size_t *cuts, int ncuts, size_t *used)
{
	size_t off = 0, u;
	int rc = 0;

	*used = 0;
	for (int i = 0; i <= ncuts && rc == 0; i++) {
		size_t end = i < ncuts ? cuts[i] : len;
		rc = zk_snap_feed(r, p + off, end - off, &u);
		*used += u;
		if (rc == 0)
			assert_int_equal(u, end - off);
		off = end;
	}
	return rc;
}

static void check_got(struct got *g, const struct bb *b, size_t end,
		      bool digest)
{
	assert_int_equal(g->sessions, 2);
	assert_int_equal(g->last_session, 0x100016162030002LL);
	assert_int_equal(g->acls, 2);
	assert_int_equal(g->nodes, 4);
	assert_string_equal(g->paths, "[][/zookeeper][/a][/a/e]");
	assert_int_equal(g->digests, digest ? 1 : 0);
	if (digest) {
		assert_int_equal(g->d.zxid, 9);
		assert_int_equal(g->d.version, 2);
		assert_int_equal(g->d.digest, 123456789);
	}
	/* the writer reproduces the stream */
	assert_int_equal(zk_snap_end(&g->sw, digest ? &g->d : NULL), 0);
	got_drain(g);
	assert_int_equal(g->out.len, end);
	assert_memory_equal(g->out.p, b->p, end);
	zk_snap_writer_free(&g->sw);
	jw_free(&g->out);
}

static void test_snapshot_file_at_every_split_point(void **state)
{
	(void)state;
	struct bb b = {.n = 0};
	struct snap_at at;
	size_t used;

	build_snap(&b, ZK_SNAP_FILE, true, &at);
	for (size_t k = 0; k <= b.n; k++) {
		struct got g;
		memset(&g, 0, sizeof(g));
		struct zk_snap_reader *r =
		    zk_snap_reader_new(ZK_SNAP_FILE, &g_ops, &g);
		assert_non_null(r);
		assert_int_equal(feed_pieces(r, b.p, b.n, &k, 1, &used), 1);
		assert_int_equal(used, b.n);
		assert_int_equal(zk_snap_finish(r), 0);
		assert_int_equal(zk_snap_reader_adler(r), t_adler(b.p, b.n));
		zk_snap_reader_free(r);
		assert_int_equal(g.headers, 1);
		check_got(&g, &b, b.n, true);
	}
	/* byte by byte; and three random cuts many times */
	for (int i = 0; i < 300; i++) {
		struct got g;
		size_t cuts[600];
		int n = 0;
		if (i == 0)
			for (size_t k = 1; k < b.n && n < 600; k++)
				cuts[n++] = k;
		else
			for (size_t k = 0; k < 3; k++)
				cuts[n++] = rnd() % (b.n + 1);
		for (int x = 1; x < n; x++) /* sort */
			for (int y = x; y > 0 && cuts[y - 1] > cuts[y]; y--) {
				size_t t = cuts[y];
				cuts[y] = cuts[y - 1];
				cuts[y - 1] = t;
			}
		memset(&g, 0, sizeof(g));
		struct zk_snap_reader *r =
		    zk_snap_reader_new(ZK_SNAP_FILE, &g_ops, &g);
		assert_int_equal(feed_pieces(r, b.p, b.n, cuts, n, &used), 1);
		zk_snap_reader_free(r);
		check_got(&g, &b, b.n, true);
	}
}

static void test_snap_stream_stops_at_its_signature(void **state)
{
	(void)state;
	struct bb b = {.n = 0};
	struct snap_at at;
	size_t used;

	build_snap(&b, ZK_SNAP_STREAM, false, &at);
	/* the next quorum packet follows on the same socket */
	memcpy(b.p + b.n, "NEXTPACKET", 10);
	for (size_t k = 0; k <= at.end + 10; k++) {
		struct got g;
		memset(&g, 0, sizeof(g));
		struct zk_snap_reader *r =
		    zk_snap_reader_new(ZK_SNAP_STREAM, &g_ops, &g);
		int rc = feed_pieces(r, b.p, at.end + 10, &k,
				     k <= at.end ? 1 : 0, &used);
		if (k > at.end) /* one feed holding all of it */
			assert_int_equal(rc, 1);
		assert_int_equal(rc, 1);
		assert_int_equal(used, at.end);
		/* more feeding after the end consumes nothing */
		assert_int_equal(zk_snap_feed(r, "x", 1, &used), 1);
		assert_int_equal(used, 0);
		assert_int_equal(zk_snap_finish(r), 0);
		zk_snap_reader_free(r);
		assert_int_equal(g.headers, 0);
		check_got(&g, &b, at.end, false);
	}
}

static int feed_once(struct bb *b, enum zk_snap_mode mode, size_t len,
		     struct got *g, int *finish)
{
	struct zk_snap_reader *r = zk_snap_reader_new(mode, &g_ops, g);
	size_t used;
	int rc = zk_snap_feed(r, b->p, len, &used);

	*finish = zk_snap_finish(r);
	if (rc < 0) { /* dead: stays dead */
		assert_int_equal(zk_snap_feed(r, b->p, len, &used), rc);
		assert_int_equal(*finish, rc);
	}
	zk_snap_reader_free(r);
	zk_snap_writer_free(&g->sw);
	jw_free(&g->out);
	memset(g, 0, sizeof(*g));
	return rc;
}

static void test_snapshot_damage_is_reported(void **state)
{
	(void)state;
	struct bb b = {.n = 0}, c;
	struct snap_at at;
	struct got g;
	int fin;

	memset(&g, 0, sizeof(g));
	build_snap(&b, ZK_SNAP_FILE, true, &at);

	c = b; /* a byte of node data: the first seal's checksum fails */
	c.p[at.seal1 - 40] ^= 1;
	assert_int_equal(feed_once(&c, ZK_SNAP_FILE, c.n, &g, &fin),
			 ZKF_BADCRC);
	c = b; /* the digest: the second seal's */
	c.p[at.digest + 3] ^= 1;
	assert_int_equal(feed_once(&c, ZK_SNAP_FILE, c.n, &g, &fin),
			 ZKF_BADCRC);
	c = b;
	c.p[at.seal1 + 12] = 'x';
	assert_int_equal(feed_once(&c, ZK_SNAP_FILE, c.n, &g, &fin),
			 ZKF_BADSEAL);
	c = b;
	c.p[1] = 'X';
	assert_int_equal(feed_once(&c, ZK_SNAP_FILE, c.n, &g, &fin),
			 ZKF_BADMAGIC);
	c = b;
	c.p[7] = 3;
	assert_int_equal(feed_once(&c, ZK_SNAP_FILE, c.n, &g, &fin),
			 ZKF_BADVERSION);
	c = b; /* a pre-3.6 digest (a hex string) is not supported */
	jw_put_int_at(c.p + at.digest + 8, 1);
	assert_int_equal(feed_once(&c, ZK_SNAP_FILE, c.n, &g, &fin),
			 ZKF_BADVERSION);
	c = b;
	jw_put_int_at(c.p + 16, -3); /* session count */
	assert_int_equal(feed_once(&c, ZK_SNAP_FILE, c.n, &g, &fin),
			 ZKF_BADLEN);
	/* cut short anywhere before the first seal ends: truncated */
	for (size_t k = 0; k < at.seal1 + 13; k++) {
		assert_int_equal(feed_once(&b, ZK_SNAP_FILE, k, &g, &fin), 0);
		assert_int_equal(fin, ZKF_TRUNCATED);
	}
	/* ... but a file that ends after the first seal has no digest */
	assert_int_equal(feed_once(&b, ZK_SNAP_FILE, at.seal1 + 13, &g, &fin),
			 0);
	assert_int_equal(fin, 0);
	assert_int_equal(feed_once(&b, ZK_SNAP_FILE, at.seal1 + 20, &g, &fin),
			 0);
	assert_int_equal(fin, ZKF_TRUNCATED);
	/* a callback stops the reader with its own code */
	g.abort_at_node = 3;
	assert_int_equal(feed_once(&b, ZK_SNAP_FILE, b.n, &g, &fin), -77);

	c.n = 0;
	build_snap(&c, ZK_SNAP_STREAM, false, &at);
	c.p[at.end - 1] = 'x';
	assert_int_equal(feed_once(&c, ZK_SNAP_STREAM, at.end, &g, &fin),
			 ZKF_BADSIG);
	/* a null path; a path too long to buffer */
	c.n = 0;
	b32(&c, 0);
	b32(&c, 0);
	b32(&c, -1);
	assert_int_equal(feed_once(&c, ZK_SNAP_STREAM, c.n, &g, &fin),
			 ZKF_BADPATH);
	jw_put_int_at(c.p + 8, 0x7fffffff);
	assert_int_equal(feed_once(&c, ZK_SNAP_STREAM, c.n, &g, &fin),
			 ZKF_BADLEN);

	/* random damage: no crash, any error or a complete snapshot */
	for (int i = 0; i < 3000; i++) {
		size_t used, n;
		c = b;
		for (int k = 0; k < 2; k++)
			c.p[rnd() % c.n] = (uint8_t)rnd();
		n = rnd() % (c.n + 1);
		struct zk_snap_reader *r =
		    zk_snap_reader_new(ZK_SNAP_FILE, &t_ops, NULL);
		int rc = zk_snap_feed(r, c.p, n, &used);
		assert_true(rc <= 1 && used <= n);
		zk_snap_finish(r);
		zk_snap_reader_free(r);
	}
}

/* snapshot.0 of a fresh ZooKeeper 3.8.0: no sessions, the ACL cache entry
 * of /zookeeper/config (READ_ACL_UNSAFE, id 1), the four nodes "",
 * /zookeeper, /zookeeper/config, /zookeeper/quota, an empty ZxidDigest. */
static const char real_snapshot0[] =
    "5a4b534e00000002ffffffffffffffff0000000000000001000000000000000100"
    "0000010000000100000005776f726c6400000006616e796f6e6500000000000000"
    "00ffffffffffffffff000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000a2f7a6f6f6b656570657200000000ffffffffffffffff00000000"
    "000000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000112f7a6f6f6b65"
    "657065722f636f6e66696700000000000000000000000100000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000ffffff"
    "ff00000000000000000000000000000000000000102f7a6f6f6b65657065722f71"
    "756f746100000000ffffffffffffffff0000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000"
    "00000000000000000000000000012f00000000b8a23b49000000012f0000000000"
    "0000000000000200000000000000000000000095b93d59000000012f";

static int count_node(void *arg, const struct zk_snap_node *n)
{
	uint64_t *sum = arg;
	*sum += (uint64_t)zk_node_digest(n->path.p, (size_t)n->path.len,
					 n->data.p, n->data.len, &n->stat);
	return 0;
}

static void test_real_zookeeper_snapshot0(void **state)
{
	(void)state;
	static uint8_t f[1024];
	size_t len = unhex(real_snapshot0, f, sizeof(f)), used;
	struct zk_snap_ops ops = {.node = count_node};
	uint64_t sum = 0;
	struct got g;

	assert_int_equal(len, 457);
	struct zk_snap_reader *r = zk_snap_reader_new(ZK_SNAP_FILE, &ops, &sum);
	assert_int_equal(zk_snap_feed(r, f, len, &used), 1);
	assert_int_equal(used, len);
	zk_snap_reader_free(r);
	/* "" and /zookeeper count; /zookeeper/ children do not.  The
	 * value is the digest ZooKeeper logged with its first txn. */
	assert_int_equal(sum, 1371985504);

	/* and the writer rebuilds it byte for byte */
	memset(&g, 0, sizeof(g));
	r = zk_snap_reader_new(ZK_SNAP_FILE, &g_ops, &g);
	assert_int_equal(zk_snap_feed(r, f, len, &used), 1);
	zk_snap_reader_free(r);
	assert_int_equal(g.nodes, 4);
	assert_string_equal(
	    g.paths, "[][/zookeeper][/zookeeper/config][/zookeeper/quota]");
	assert_int_equal(g.d.zxid, 0);
	assert_int_equal(g.d.version, 2);
	assert_int_equal(zk_snap_end(&g.sw, &g.d), 0);
	got_drain(&g);
	assert_int_equal(g.out.len, len);
	assert_memory_equal(g.out.p, f, len);
	zk_snap_writer_free(&g.sw);
	jw_free(&g.out);
}

/* ------------------------------------------------------------------ */
/* Digest                                                               */
/* ------------------------------------------------------------------ */
static void test_node_digest_matches_zookeeper(void **state)
{
	(void)state;
	/* values from org.apache.zookeeper.server.DigestCalculator
	 * .calculateDigest (3.8.0), called through reflection */
	struct zstat s = {.czxid = 1,
			  .mzxid = 2,
			  .ctime = 4,
			  .mtime = 5,
			  .version = 6,
			  .cversion = 7,
			  .aversion = 8,
			  .ephemeral_owner = 9,
			  .pzxid = 3,
			  .data_length = 99,
			  .num_children = 99};
	struct zstat zero = {0};
	struct zstat t = {.czxid = 0x100000002LL,
			  .mzxid = 0x100000003LL,
			  .ctime = 1700000000000LL,
			  .mtime = 1700000000123LL,
			  .version = -1,
			  .cversion = INT32_MAX,
			  .aversion = 3,
			  .ephemeral_owner = INT64_MIN,
			  .pzxid = 0x100000004LL};

	assert_int_equal(zk_node_digest("/a", 2, "x", 1, &s), 1615157272);
	assert_int_equal(zk_node_digest("/", 1, NULL, -1, &zero), 68323592);
	assert_int_equal(zk_node_digest("", 0, "", 0, &zero), 68323592);
	assert_int_equal(zk_node_digest("/zookeeper", 10, "\0\xff\7", 3, &t),
			 1929018127);
	assert_int_equal(zk_node_digest("/zookeeper/quota", 16, NULL, -1, &t),
			 0);
	/* data_length / num_children are not part of it */
	s.data_length = 0;
	s.num_children = 0;
	assert_int_equal(zk_node_digest("/a", 2, "x", 1, &s), 1615157272);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_create_txn_fields_acl_and_digest),
	    cmocka_unit_test(test_create2_container_and_ttl_records),
	    cmocka_unit_test(test_delete_setdata_setacl_error_session_records),
	    cmocka_unit_test(test_null_buffers_and_vectors_stay_null),
	    cmocka_unit_test(test_close_session_with_and_without_body),
	    cmocka_unit_test(test_create_v0_is_read_when_create_txn_runs_out),
	    cmocka_unit_test(test_multi_sub_txns_decode_and_iterate),
	    cmocka_unit_test(test_failed_multi_from_a_zookeeper_committed_log),
	    cmocka_unit_test(test_encode_from_structured_fields),
	    cmocka_unit_test(test_encode_rejects_records_that_do_not_fit),
	    cmocka_unit_test(test_malformed_records_name_the_problem),
	    cmocka_unit_test(test_garbage_and_mutations_never_crash),
	    cmocka_unit_test(test_body_codec_iterators_and_names),
	    cmocka_unit_test(test_real_zookeeper_log_entries),
	    cmocka_unit_test(test_log_reader_ends_and_damage),
	    cmocka_unit_test(test_log_padding_follows_file_padding),
	    cmocka_unit_test(test_snapshot_file_at_every_split_point),
	    cmocka_unit_test(test_snap_stream_stops_at_its_signature),
	    cmocka_unit_test(test_snapshot_damage_is_reported),
	    cmocka_unit_test(test_large_node_straddles_many_feeds),
	    cmocka_unit_test(test_real_zookeeper_snapshot0),
	    cmocka_unit_test(test_node_digest_matches_zookeeper),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
