/*
 * test_jute.c — the header-only jute codec (tree/jute.h): scalar and
 * buffer round trips, truncated and malformed input, vectors, writer
 * growth and framing, and the Stat/ACL records as ZooKeeper lays them out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tree/jute.h"

/* ------------------------------------------------------------------ */
/* helpers                                                              */
/* ------------------------------------------------------------------ */
static size_t be32(uint8_t *p, int32_t v)
{
	uint32_t u = (uint32_t)v;
	p[0] = (uint8_t)(u >> 24);
	p[1] = (uint8_t)(u >> 16);
	p[2] = (uint8_t)(u >> 8);
	p[3] = (uint8_t)u;
	return 4;
}

static size_t be64(uint8_t *p, int64_t v)
{
	be32(p, (int32_t)((uint64_t)v >> 32));
	be32(p + 4, (int32_t)(uint32_t)v);
	return 8;
}

static struct zacl *acl1(int32_t perms, const char *scheme, const char *id)
{
	struct zacl *a = zacl_new(1, &perms, &scheme, &id);
	assert_non_null(a);
	return a;
}

/* ------------------------------------------------------------------ */
/* round trips                                                          */
/* ------------------------------------------------------------------ */
static void test_int_round_trip_is_big_endian(void **state)
{
	(void)state;
	struct jw w = {0};
	jw_int(&w, 0x01020304);
	jw_int(&w, -1);
	jw_int(&w, INT32_MIN);
	jw_int(&w, INT32_MAX);
	assert_false(w.err);
	assert_int_equal(w.len, 16);
	static const uint8_t first[4] = {1, 2, 3, 4};
	assert_memory_equal(w.p, first, 4);

	struct jr r;
	jr_init(&r, w.p, w.len);
	assert_int_equal(jr_int(&r), 0x01020304);
	assert_int_equal(jr_int(&r), -1);
	assert_int_equal(jr_int(&r), INT32_MIN);
	assert_int_equal(jr_int(&r), INT32_MAX);
	assert_false(r.err);
	assert_int_equal(jr_left(&r), 0);
	jw_free(&w);
}

static void test_long_round_trip_is_big_endian(void **state)
{
	(void)state;
	struct jw w = {0};
	jw_long(&w, 0x0102030405060708LL);
	jw_long(&w, -2);
	jw_long(&w, INT64_MIN);
	jw_long(&w, INT64_MAX);
	jw_long(&w, 0x00000000ffffffffLL);
	assert_false(w.err);
	assert_int_equal(w.len, 40);
	static const uint8_t first[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	assert_memory_equal(w.p, first, 8);

	struct jr r;
	jr_init(&r, w.p, w.len);
	assert_true(jr_long(&r) == 0x0102030405060708LL);
	assert_true(jr_long(&r) == -2);
	assert_true(jr_long(&r) == INT64_MIN);
	assert_true(jr_long(&r) == INT64_MAX);
	assert_true(jr_long(&r) == 0x00000000ffffffffLL);
	assert_false(r.err);
	jw_free(&w);
}

static void test_bool_writes_one_byte_and_reads_nonzero_as_true(void **state)
{
	(void)state;
	struct jw w = {0};
	jw_bool(&w, true);
	jw_bool(&w, false);
	assert_int_equal(w.len, 2);
	assert_int_equal(w.p[0], 1);
	assert_int_equal(w.p[1], 0);

	struct jr r;
	jr_init(&r, w.p, w.len);
	assert_true(jr_bool(&r));
	assert_false(jr_bool(&r));
	assert_false(r.err);

	static const uint8_t two[1] = {2};
	jr_init(&r, two, 1);
	assert_true(jr_bool(&r));
	jw_free(&w);
}

static void test_buffer_round_trip_keeps_bytes_and_points_into_input(
	void **state)
{
	(void)state;
	struct jw w = {0};
	static const char data[] = {'a', 0, 'b', (char)0xff};
	jw_buf(&w, data, 4);
	assert_int_equal(w.len, 8);

	struct jr r;
	jr_init(&r, w.p, w.len);
	int32_t len;
	const char *p = jr_buf(&r, &len);
	assert_false(r.err);
	assert_int_equal(len, 4);
	assert_memory_equal(p, data, 4);
	assert_ptr_equal(p, (const char *)w.p + 4); /* no copy */
	jw_free(&w);
}

static void test_null_buffer_is_minus_one_and_empty_is_zero(void **state)
{
	(void)state;
	struct jw w = {0};
	jw_buf(&w, "x", -1);   /* null */
	jw_buf(&w, "x", 0);    /* empty */
	jw_buf(&w, NULL, 5);   /* NULL pointer: empty, never read */
	jw_str(&w, "");        /* empty ustring */
	assert_int_equal(w.len, 16);
	uint8_t want[16];
	be32(want, -1);
	be32(want + 4, 0);
	be32(want + 8, 0);
	be32(want + 12, 0);
	assert_memory_equal(w.p, want, 16);

	struct jr r;
	jr_init(&r, w.p, w.len);
	int32_t len = 7;
	assert_null(jr_buf(&r, &len));
	assert_int_equal(len, -1);
	const char *p = jr_buf(&r, &len);
	assert_non_null(p); /* empty is not null */
	assert_int_equal(len, 0);
	for (int i = 0; i < 2; i++) {
		jr_buf(&r, &len);
		assert_int_equal(len, 0);
	}
	assert_false(r.err);
	jw_free(&w);
}

static void test_negative_buffer_length_other_than_minus_one_reads_null(
	void **state)
{
	(void)state;
	uint8_t in[4];
	be32(in, -5);
	struct jr r;
	jr_init(&r, in, sizeof(in));
	int32_t len = 3;
	assert_null(jr_buf(&r, &len));
	assert_int_equal(len, -1);
	assert_false(r.err);
}

static void test_ustring_round_trip(void **state)
{
	(void)state;
	struct jw w = {0};
	jw_str(&w, "/zookeeper/quota");
	assert_int_equal(w.len, 4 + 16);
	assert_int_equal(w.p[3], 16);
	assert_memory_equal(w.p + 4, "/zookeeper/quota", 16);
	struct jr r;
	jr_init(&r, w.p, w.len);
	int32_t len;
	const char *s = jr_buf(&r, &len);
	assert_int_equal(len, 16);
	assert_memory_equal(s, "/zookeeper/quota", 16);
	jw_free(&w);
}

/* ------------------------------------------------------------------ */
/* truncated input                                                      */
/* ------------------------------------------------------------------ */
static const uint8_t ones[16] = {0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f,
				 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f,
				 0x7f, 0x7f, 0x7f, 0x7f};

static void test_truncated_int_sets_err_and_reads_zero(void **state)
{
	(void)state;
	for (size_t n = 0; n < 4; n++) {
		struct jr r;
		jr_init(&r, ones, n);
		assert_int_equal(jr_int(&r), 0);
		assert_true(r.err);
	}
}

static void test_truncated_long_sets_err_and_reads_zero(void **state)
{
	(void)state;
	for (size_t n = 0; n < 8; n++) {
		struct jr r;
		jr_init(&r, ones, n);
		assert_true(jr_long(&r) == 0);
		assert_true(r.err);
	}
}

static void test_truncated_bool_sets_err_and_reads_false(void **state)
{
	(void)state;
	struct jr r;
	jr_init(&r, ones, 0);
	assert_false(jr_bool(&r));
	assert_true(r.err);
}

static void test_truncated_buffer_length_sets_err_and_reads_null(void **state)
{
	(void)state;
	for (size_t n = 0; n < 4; n++) {
		struct jr r;
		jr_init(&r, ones, n);
		int32_t len = 9;
		assert_null(jr_buf(&r, &len));
		assert_int_equal(len, -1);
		assert_true(r.err);
	}
}

static void test_buffer_longer_than_input_sets_err_and_reads_null(
	void **state)
{
	(void)state;
	uint8_t in[8];
	be32(in, 5);
	memcpy(in + 4, "abcd", 4); /* one byte short */
	struct jr r;
	jr_init(&r, in, sizeof(in));
	int32_t len = 9;
	assert_null(jr_buf(&r, &len));
	assert_int_equal(len, -1);
	assert_true(r.err);
}

static void test_read_after_err_keeps_returning_zero(void **state)
{
	(void)state;
	struct jr r;
	jr_init(&r, ones, 2);
	jr_int(&r);
	assert_true(r.err);
	/* even though 2 bytes remain, a failed reader stays failed */
	assert_false(jr_bool(&r));
	int32_t len;
	assert_null(jr_buf(&r, &len));
	assert_int_equal(len, -1);
	assert_int_equal(jr_vec(&r, 0), 0);
	assert_true(r.err);
}

/* ------------------------------------------------------------------ */
/* vectors                                                              */
/* ------------------------------------------------------------------ */
static void test_vector_count_round_trip(void **state)
{
	(void)state;
	struct jw w = {0};
	jw_int(&w, 3);
	for (int i = 0; i < 3; i++)
		jw_int(&w, i * 10);
	struct jr r;
	jr_init(&r, w.p, w.len);
	int32_t n = jr_vec(&r, 4);
	assert_int_equal(n, 3);
	for (int i = 0; i < n; i++)
		assert_int_equal(jr_int(&r), i * 10);
	assert_false(r.err);
	jw_free(&w);
}

static void test_negative_vector_count_reads_as_zero(void **state)
{
	(void)state;
	uint8_t in[8];
	be32(in, -1);
	be32(in + 4, INT32_MIN);
	struct jr r;
	jr_init(&r, in, sizeof(in));
	assert_int_equal(jr_vec(&r, 4), 0);
	assert_false(r.err);
	assert_int_equal(jr_vec(&r, 4), 0);
	assert_false(r.err);
}

static void test_vector_count_larger_than_remaining_bytes_sets_err(
	void **state)
{
	(void)state;
	uint8_t in[4 + 8];
	be32(in, 3); /* three ints need 12 bytes; 8 are left */
	memset(in + 4, 0, 8);
	struct jr r;
	jr_init(&r, in, sizeof(in));
	assert_int_equal(jr_vec(&r, 4), 0);
	assert_true(r.err);

	/* exactly enough is fine */
	be32(in, 2);
	jr_init(&r, in, sizeof(in));
	assert_int_equal(jr_vec(&r, 4), 2);
	assert_false(r.err);

	/* a huge count cannot pass either */
	be32(in, INT32_MAX);
	jr_init(&r, in, sizeof(in));
	assert_int_equal(jr_vec(&r, 1), 0);
	assert_true(r.err);
}

static void test_vector_without_min_elem_is_not_bounded(void **state)
{
	(void)state;
	uint8_t in[4];
	be32(in, 1000);
	struct jr r;
	jr_init(&r, in, sizeof(in));
	assert_int_equal(jr_vec(&r, 0), 1000);
	assert_false(r.err);
}

static void test_truncated_vector_count_sets_err_and_reads_zero(void **state)
{
	(void)state;
	struct jr r;
	jr_init(&r, ones, 3);
	assert_int_equal(jr_vec(&r, 4), 0);
	assert_true(r.err);
}

/* ------------------------------------------------------------------ */
/* writer                                                               */
/* ------------------------------------------------------------------ */
static void test_writer_grows_past_initial_capacity(void **state)
{
	(void)state;
	struct jw w = {0};
	for (int i = 0; i < 1000; i++)
		jw_int(&w, i);
	assert_false(w.err);
	assert_int_equal(w.len, 4000);
	assert_true(w.cap >= 4000);
	struct jr r;
	jr_init(&r, w.p, w.len);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(jr_int(&r), i);
	assert_false(r.err);

	/* one big write larger than several doublings */
	size_t big = 100000;
	char *blob = malloc(big);
	assert_non_null(blob);
	for (size_t i = 0; i < big; i++)
		blob[i] = (char)(i * 7);
	jw_buf(&w, blob, (int32_t)big);
	assert_false(w.err);
	assert_int_equal(w.len, 4000 + 4 + big);
	assert_memory_equal(w.p + 4004, blob, big);
	free(blob);
	jw_free(&w);
	assert_null(w.p);
	assert_int_equal(w.len, 0);
	assert_int_equal(w.cap, 0);
}

static void test_writer_with_err_drops_later_writes(void **state)
{
	(void)state;
	struct jw w = {0};
	jw_int(&w, 1);
	w.err = true;
	jw_int(&w, 2);
	jw_long(&w, 3);
	jw_str(&w, "abc");
	assert_int_equal(w.len, 4);
	jw_free(&w);
	assert_false(w.err);
}

static void test_frame_end_writes_big_endian_body_length(void **state)
{
	(void)state;
	struct jw w = {0};
	jw_int(&w, 0x11111111); /* something before the frame */
	size_t at = jw_frame_begin(&w);
	assert_int_equal(at, 4);
	jw_int(&w, -2);
	jw_long(&w, 5);
	jw_int(&w, 0);
	jw_frame_end(&w, at);
	assert_int_equal(w.len, 4 + 4 + 16);
	static const uint8_t len16[4] = {0, 0, 0, 16};
	assert_memory_equal(w.p + at, len16, 4);

	/* a frame larger than 255 bytes and than the initial capacity */
	at = jw_frame_begin(&w);
	for (int i = 0; i < 300; i++)
		jw_int(&w, i);
	jw_frame_end(&w, at);
	static const uint8_t len1200[4] = {0, 0, 0x04, 0xb0};
	assert_memory_equal(w.p + at, len1200, 4);

	/* an empty frame */
	at = jw_frame_begin(&w);
	jw_frame_end(&w, at);
	static const uint8_t zero[4] = {0, 0, 0, 0};
	assert_memory_equal(w.p + at, zero, 4);
	jw_free(&w);
}

/* ------------------------------------------------------------------ */
/* Stat                                                                 */
/* ------------------------------------------------------------------ */
/* org.apache.zookeeper.data.Stat, in jute field order. */
static size_t expected_stat(uint8_t *p, const struct zstat *s,
			    int64_t owner_on_wire)
{
	size_t o = 0;
	o += be64(p + o, s->czxid);
	o += be64(p + o, s->mzxid);
	o += be64(p + o, s->ctime);
	o += be64(p + o, s->mtime);
	o += be32(p + o, s->version);
	o += be32(p + o, s->cversion);
	o += be32(p + o, s->aversion);
	o += be64(p + o, owner_on_wire);
	o += be32(p + o, s->data_length);
	o += be32(p + o, s->num_children);
	o += be64(p + o, s->pzxid);
	return o;
}

static struct zstat sample_stat(int64_t owner)
{
	struct zstat s = {
		.czxid = 0x0101010101010101LL,
		.mzxid = 0x0202020202020202LL,
		.ctime = 0x0303030303030303LL,
		.mtime = 0x0404040404040404LL,
		.version = 0x05050505,
		.cversion = 0x06060606,
		.aversion = 0x07070707,
		.ephemeral_owner = owner,
		.data_length = 0x08080808,
		.num_children = 0x09090909,
		.pzxid = 0x0a0a0a0a0a0a0a0aLL,
	};
	return s;
}

static void test_stat_is_68_bytes_in_zookeeper_field_order(void **state)
{
	(void)state;
	struct zstat s = sample_stat(0x1234567890abcdefLL);
	struct jw w = {0};
	jw_stat(&w, &s);
	uint8_t want[68];
	assert_int_equal(expected_stat(want, &s, s.ephemeral_owner), 68);
	assert_int_equal(w.len, 68);
	assert_memory_equal(w.p, want, 68);
	jw_free(&w);
}

static void test_stat_of_persistent_node_has_zero_owner(void **state)
{
	(void)state;
	struct zstat s = sample_stat(0);
	struct jw w = {0};
	jw_stat(&w, &s);
	uint8_t want[68];
	expected_stat(want, &s, 0);
	assert_memory_equal(w.p, want, 68);
	jw_free(&w);
}

static void test_stat_masks_container_owner_as_zero(void **state)
{
	(void)state;
	struct zstat s = sample_stat(ZK_CONTAINER_OWNER);
	struct jw w = {0};
	jw_stat(&w, &s);
	uint8_t want[68];
	expected_stat(want, &s, 0);
	assert_int_equal(w.len, 68);
	assert_memory_equal(w.p, want, 68);
	jw_free(&w);
}

static void test_stat_masks_ttl_owner_as_zero(void **state)
{
	(void)state;
	int64_t ttls[] = {1, 60000, ZK_TTL_MAX};
	for (size_t i = 0; i < sizeof(ttls) / sizeof(ttls[0]); i++) {
		struct zstat s = sample_stat(zk_ttl_owner(ttls[i]));
		struct jw w = {0};
		jw_stat(&w, &s);
		uint8_t want[68];
		expected_stat(want, &s, 0);
		assert_memory_equal(w.p, want, 68);
		jw_free(&w);
	}
}

static void test_stat_keeps_session_owner_of_ephemeral(void **state)
{
	(void)state;
	/* a typical session id: server id in the top byte */
	int64_t sid = 0x0100001234560001LL;
	struct zstat s = sample_stat(sid);
	struct jw w = {0};
	jw_stat(&w, &s);
	uint8_t want[68];
	expected_stat(want, &s, sid);
	assert_memory_equal(w.p, want, 68);
	jw_free(&w);
}

/* ------------------------------------------------------------------ */
/* ACL                                                                  */
/* ------------------------------------------------------------------ */
static size_t put_str(uint8_t *p, const char *s)
{
	size_t n = strlen(s);
	be32(p, (int32_t)n);
	memcpy(p + 4, s, n);
	return 4 + n;
}

static void test_acl_vector_layout_is_perms_scheme_id(void **state)
{
	(void)state;
	int32_t perms[] = {ZPERM_ALL, ZPERM_READ};
	const char *scheme[] = {"world", "digest"};
	const char *id[] = {"anyone", "bob:abc="};
	struct zacl *a = zacl_new(2, perms, scheme, id);
	assert_non_null(a);
	struct jw w = {0};
	jw_acl(&w, a, false);

	uint8_t want[128];
	size_t o = be32(want, 2);
	o += be32(want + o, ZPERM_ALL);
	o += put_str(want + o, "world");
	o += put_str(want + o, "anyone");
	o += be32(want + o, ZPERM_READ);
	o += put_str(want + o, "digest");
	o += put_str(want + o, "bob:abc=");
	assert_int_equal(w.len, o);
	assert_memory_equal(w.p, want, o);
	jw_free(&w);
	zacl_unref(a);
}

static void test_acl_digest_masking_replaces_hash_with_x(void **state)
{
	(void)state;
	int32_t perms[] = {ZPERM_ALL, ZPERM_READ, ZPERM_ADMIN};
	const char *scheme[] = {"digest", "ip", "digest"};
	/* ip ids with a colon (IPv6) are not masked; digest without a
	 * colon is left as it is */
	const char *id[] = {"user:hash=", "::1", "nocolon"};
	struct zacl *a = zacl_new(3, perms, scheme, id);
	assert_non_null(a);
	struct jw w = {0};
	jw_acl(&w, a, true);

	uint8_t want[128];
	size_t o = be32(want, 3);
	o += be32(want + o, ZPERM_ALL);
	o += put_str(want + o, "digest");
	o += put_str(want + o, "user:x");
	o += be32(want + o, ZPERM_READ);
	o += put_str(want + o, "ip");
	o += put_str(want + o, "::1");
	o += be32(want + o, ZPERM_ADMIN);
	o += put_str(want + o, "digest");
	o += put_str(want + o, "nocolon");
	assert_int_equal(w.len, o);
	assert_memory_equal(w.p, want, o);
	jw_free(&w);
	zacl_unref(a);
}

static void test_acl_masking_reads_back_as_user_x(void **state)
{
	(void)state;
	struct zacl *a = acl1(ZPERM_ALL, "digest", "alice:ZmFrZWhhc2g=");
	struct jw w = {0};
	jw_acl(&w, a, true);
	struct jr r;
	jr_init(&r, w.p, w.len);
	struct zacl *b = jr_acl(&r);
	assert_false(r.err);
	assert_non_null(b);
	assert_int_equal(b->n, 1);
	assert_string_equal(b->e[0].scheme, "digest");
	assert_string_equal(b->e[0].id, "alice:x");
	zacl_unref(b);
	zacl_unref(a);
	jw_free(&w);
}

static void test_acl_null_list_writes_empty_vector(void **state)
{
	(void)state;
	struct jw w = {0};
	jw_acl(&w, NULL, false);
	static const uint8_t zero[4] = {0, 0, 0, 0};
	assert_int_equal(w.len, 4);
	assert_memory_equal(w.p, zero, 4);
	jw_free(&w);
}

static void test_acl_round_trip(void **state)
{
	(void)state;
	int32_t perms[] = {ZPERM_READ | ZPERM_WRITE, ZPERM_ALL};
	const char *scheme[] = {"ip", "world"};
	const char *id[] = {"10.0.0.0/8", "anyone"};
	struct zacl *a = zacl_new(2, perms, scheme, id);
	assert_non_null(a);
	struct jw w = {0};
	jw_acl(&w, a, false);
	jw_int(&w, 42); /* trailing field */
	struct jr r;
	jr_init(&r, w.p, w.len);
	struct zacl *b = jr_acl(&r);
	assert_non_null(b);
	assert_false(r.err);
	assert_true(zacl_equal(a, b));
	assert_int_equal(jr_int(&r), 42);
	zacl_unref(a);
	zacl_unref(b);
	jw_free(&w);
}

static void test_acl_null_scheme_and_id_read_as_empty_strings(void **state)
{
	(void)state;
	uint8_t in[64];
	size_t o = be32(in, 1);
	o += be32(in + o, ZPERM_READ);
	o += be32(in + o, -1); /* null scheme */
	o += be32(in + o, -1); /* null id */
	struct jr r;
	jr_init(&r, in, o);
	struct zacl *a = jr_acl(&r);
	assert_false(r.err);
	assert_non_null(a);
	assert_int_equal(a->n, 1);
	assert_int_equal(a->e[0].perms, ZPERM_READ);
	assert_string_equal(a->e[0].scheme, "");
	assert_string_equal(a->e[0].id, "");
	zacl_unref(a);
}

static void test_acl_empty_vector_reads_as_empty_list(void **state)
{
	(void)state;
	uint8_t in[8];
	be32(in, 0);
	be32(in + 4, -1);
	for (int k = 0; k < 2; k++) {
		struct jr r;
		jr_init(&r, in + 4 * k, 4);
		struct zacl *a = jr_acl(&r);
		assert_false(r.err);
		assert_non_null(a);
		assert_int_equal(a->n, 0);
		zacl_unref(a);
	}
}

static void test_acl_truncated_entry_sets_err_and_returns_null(void **state)
{
	(void)state;
	uint8_t in[64];
	size_t o = be32(in, 2);
	o += be32(in + o, ZPERM_ALL);
	o += put_str(in + o, "world");
	o += put_str(in + o, "anyone");
	o += be32(in + o, ZPERM_ALL);
	o += put_str(in + o, "world");
	size_t full = o + put_str(in + o, "anyone");
	/* every strict prefix is malformed */
	for (size_t n = 0; n < full; n++) {
		struct jr r;
		jr_init(&r, in, n);
		assert_null(jr_acl(&r));
		assert_true(r.err);
	}
	struct jr r;
	jr_init(&r, in, full);
	struct zacl *a = jr_acl(&r);
	assert_non_null(a);
	assert_int_equal(a->n, 2);
	zacl_unref(a);
}

static void test_acl_count_beyond_input_sets_err_and_returns_null(
	void **state)
{
	(void)state;
	uint8_t in[16];
	be32(in, 1000000);
	memset(in + 4, 0, 12); /* room for one minimal entry only */
	struct jr r;
	jr_init(&r, in, sizeof(in));
	assert_null(jr_acl(&r));
	assert_true(r.err);
}

static void test_acl_id_length_beyond_input_sets_err_and_returns_null(
	void **state)
{
	(void)state;
	uint8_t in[64];
	size_t o = be32(in, 1);
	o += be32(in + o, ZPERM_ALL);
	o += put_str(in + o, "world");
	o += be32(in + o, 100); /* id claims 100 bytes */
	memcpy(in + o, "anyone", 6);
	o += 6;
	struct jr r;
	jr_init(&r, in, o);
	assert_null(jr_acl(&r));
	assert_true(r.err);
}

/* ------------------------------------------------------------------ */
/* jr_dup                                                               */
/* ------------------------------------------------------------------ */
static void test_dup_keeps_embedded_nul_and_exact_length(void **state)
{
	(void)state;
	static const char in[] = {'a', 0, 'b', 'c', 'X'};
	char *s = jr_dup(in, 4);
	assert_non_null(s);
	assert_memory_equal(s, in, 4);
	assert_int_equal(s[1], 0);
	assert_int_equal(s[4], 0); /* terminated after exactly len bytes */
	free(s);
}

static void test_dup_of_zero_length_is_empty_string(void **state)
{
	(void)state;
	char *s = jr_dup(NULL, 0);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
	s = jr_dup("abc", 0);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_int_round_trip_is_big_endian),
		cmocka_unit_test(test_long_round_trip_is_big_endian),
		cmocka_unit_test(
			test_bool_writes_one_byte_and_reads_nonzero_as_true),
		cmocka_unit_test(
			test_buffer_round_trip_keeps_bytes_and_points_into_input),
		cmocka_unit_test(
			test_null_buffer_is_minus_one_and_empty_is_zero),
		cmocka_unit_test(
			test_negative_buffer_length_other_than_minus_one_reads_null),
		cmocka_unit_test(test_ustring_round_trip),
		cmocka_unit_test(test_truncated_int_sets_err_and_reads_zero),
		cmocka_unit_test(test_truncated_long_sets_err_and_reads_zero),
		cmocka_unit_test(test_truncated_bool_sets_err_and_reads_false),
		cmocka_unit_test(
			test_truncated_buffer_length_sets_err_and_reads_null),
		cmocka_unit_test(
			test_buffer_longer_than_input_sets_err_and_reads_null),
		cmocka_unit_test(test_read_after_err_keeps_returning_zero),
		cmocka_unit_test(test_vector_count_round_trip),
		cmocka_unit_test(test_negative_vector_count_reads_as_zero),
		cmocka_unit_test(
			test_vector_count_larger_than_remaining_bytes_sets_err),
		cmocka_unit_test(test_vector_without_min_elem_is_not_bounded),
		cmocka_unit_test(
			test_truncated_vector_count_sets_err_and_reads_zero),
		cmocka_unit_test(test_writer_grows_past_initial_capacity),
		cmocka_unit_test(test_writer_with_err_drops_later_writes),
		cmocka_unit_test(test_frame_end_writes_big_endian_body_length),
		cmocka_unit_test(test_stat_is_68_bytes_in_zookeeper_field_order),
		cmocka_unit_test(test_stat_of_persistent_node_has_zero_owner),
		cmocka_unit_test(test_stat_masks_container_owner_as_zero),
		cmocka_unit_test(test_stat_masks_ttl_owner_as_zero),
		cmocka_unit_test(test_stat_keeps_session_owner_of_ephemeral),
		cmocka_unit_test(test_acl_vector_layout_is_perms_scheme_id),
		cmocka_unit_test(test_acl_digest_masking_replaces_hash_with_x),
		cmocka_unit_test(test_acl_masking_reads_back_as_user_x),
		cmocka_unit_test(test_acl_null_list_writes_empty_vector),
		cmocka_unit_test(test_acl_round_trip),
		cmocka_unit_test(
			test_acl_null_scheme_and_id_read_as_empty_strings),
		cmocka_unit_test(test_acl_empty_vector_reads_as_empty_list),
		cmocka_unit_test(
			test_acl_truncated_entry_sets_err_and_returns_null),
		cmocka_unit_test(
			test_acl_count_beyond_input_sets_err_and_returns_null),
		cmocka_unit_test(
			test_acl_id_length_beyond_input_sets_err_and_returns_null),
		cmocka_unit_test(test_dup_keeps_embedded_nul_and_exact_length),
		cmocka_unit_test(test_dup_of_zero_length_is_empty_string),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
