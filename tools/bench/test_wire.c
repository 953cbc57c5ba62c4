/* Unit tests for paddock-bench's jute codec (wire.c), checked against byte
 * layouts from zookeeper.jute. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "wire.h"

static void test_connect_request_layout(void **state)
{
	(void)state;
	struct bench_buf b = {0};
	assert_int_equal(bench_enc_connect(&b, 30000, 0, NULL), 0);
	/* len + proto(4) zxid(8) timeout(4) session(8) passwd(4+16) readOnly(1) */
	assert_int_equal(b.len, 4 + 45);
	assert_int_equal(bench_get_u32(b.p), 45);
	assert_int_equal(bench_get_u32(b.p + 16), 30000);
	assert_int_equal(bench_get_u32(b.p + 28), 16);
	assert_int_equal(b.p[48], 0);
	bench_buf_free(&b);
}

static void test_getdata_request_layout(void **state)
{
	(void)state;
	struct bench_buf b = {0};
	assert_int_equal(bench_enc_path_watch(&b, 7, BENCH_OP_GETDATA, "/a/b", 1), 0);
	static const uint8_t want[] = {0, 0, 0, 17, 0, 0, 0, 7, 0, 0, 0, 4, 0, 0,
				       0, 4, '/', 'a', '/', 'b', 1};
	assert_int_equal(b.len, sizeof(want));
	assert_memory_equal(b.p, want, sizeof(want));
	bench_buf_free(&b);
}

static void test_sync_request_is_path_only(void **state)
{
	(void)state;
	struct bench_buf b = {0};
	assert_int_equal(bench_enc_sync(&b, 9, "/p"), 0);
	static const uint8_t want[] = {0, 0, 0, 14, 0, 0, 0, 9, 0, 0, 0, 9, 0, 0,
				       0, 2, '/', 'p'};
	assert_int_equal(b.len, sizeof(want));
	assert_memory_equal(b.p, want, sizeof(want));
	bench_buf_free(&b);
}

static void test_create_request_has_world_acl_and_flags(void **state)
{
	(void)state;
	struct bench_buf b = {0};
	assert_int_equal(bench_enc_create(&b, 1, BENCH_OP_CREATE2, "/x", "hi", 2, 3), 0);
	struct bench_cur c = {b.p + 4, b.p + b.len, 0};
	int32_t l;
	assert_int_equal(bench_get_int(&c), 1);
	assert_int_equal(bench_get_int(&c), BENCH_OP_CREATE2);
	assert_memory_equal(bench_get_bytes(&c, &l), "/x", 2);
	assert_memory_equal(bench_get_bytes(&c, &l), "hi", 2);
	assert_int_equal(bench_get_int(&c), 1);  /* one ACL */
	assert_int_equal(bench_get_int(&c), 31); /* ALL */
	assert_memory_equal(bench_get_bytes(&c, &l), "world", 5);
	assert_memory_equal(bench_get_bytes(&c, &l), "anyone", 6);
	assert_int_equal(bench_get_int(&c), 3);
	assert_int_equal(c.err, 0);
	assert_true(c.p == c.end);
	bench_buf_free(&b);
}

static void test_setdata_and_delete_carry_version(void **state)
{
	(void)state;
	struct bench_buf b = {0};
	bench_enc_setdata(&b, 2, "/k", "v", 1, -1);
	bench_enc_delete(&b, 3, "/k", 5);
	struct bench_cur c = {b.p + 4, b.p + 4 + bench_get_u32(b.p), 0};
	int32_t l;
	bench_get_int(&c);
	assert_int_equal(bench_get_int(&c), BENCH_OP_SETDATA);
	bench_get_bytes(&c, &l);
	bench_get_bytes(&c, &l);
	assert_int_equal(bench_get_int(&c), -1);
	assert_true(c.p == c.end);
	size_t off = 4 + bench_get_u32(b.p);
	struct bench_cur d = {b.p + off + 4, b.p + b.len, 0};
	assert_int_equal(bench_get_int(&d), 3);
	assert_int_equal(bench_get_int(&d), BENCH_OP_DELETE);
	bench_get_bytes(&d, &l);
	assert_int_equal(bench_get_int(&d), 5);
	assert_true(d.p == d.end);
	bench_buf_free(&b);
}

static void test_reply_header_and_watch_event_decode(void **state)
{
	(void)state;
	static const uint8_t f[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				    0xff, 0xff, 0,    0,    0,    0,    0,    0,    0,    3,
				    0,    0,    0,    3,    0,    0,    0,    2,    '/',  'w'};
	struct bench_cur c = {f, f + sizeof(f), 0};
	struct bench_reply_hdr h;
	assert_int_equal(bench_dec_reply_hdr(&c, &h), 0);
	assert_int_equal(h.xid, BENCH_XID_WATCH);
	assert_int_equal(h.zxid, -1);
	assert_int_equal(h.err, 0);
	int32_t type, st, pl;
	const uint8_t *p;
	assert_int_equal(bench_dec_watch(&c, &type, &st, &p, &pl), 0);
	assert_int_equal(type, BENCH_EV_CHANGED);
	assert_int_equal(st, 3);
	assert_int_equal(pl, 2);
	assert_memory_equal(p, "/w", 2);
}

static void test_truncated_input_sets_error_and_stays_in_bounds(void **state)
{
	(void)state;
	static const uint8_t f[] = {0, 0, 0, 9, 'a', 'b'};
	struct bench_cur c = {f, f + sizeof(f), 0};
	int32_t l;
	assert_null(bench_get_bytes(&c, &l));
	assert_int_equal(c.err, 1);
	assert_int_equal(bench_get_int(&c), 0);
	struct bench_connect_resp r;
	assert_int_equal(bench_dec_connect(f, sizeof(f), &r), -1);
}

static void test_connect_response_decodes_session_and_password(void **state)
{
	(void)state;
	uint8_t f[40] = {0};
	bench_put_u32(f + 4, 4000);
	bench_put_u32(f + 8, 0x01020304);
	bench_put_u32(f + 12, 0x05060708);
	bench_put_u32(f + 16, 16);
	memset(f + 20, 0xab, 16);
	struct bench_connect_resp r;
	assert_int_equal(bench_dec_connect(f, 36, &r), 0); /* without readOnly byte */
	assert_int_equal(r.timeout, 4000);
	assert_int_equal(r.session, 0x0102030405060708ll);
	assert_int_equal(r.passwd[15], 0xab);
	assert_int_equal(bench_dec_connect(f, 37, &r), 0); /* with it */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect_request_layout),
		cmocka_unit_test(test_getdata_request_layout),
		cmocka_unit_test(test_sync_request_is_path_only),
		cmocka_unit_test(test_create_request_has_world_acl_and_flags),
		cmocka_unit_test(test_setdata_and_delete_carry_version),
		cmocka_unit_test(test_reply_header_and_watch_event_decode),
		cmocka_unit_test(test_truncated_input_sets_error_and_stays_in_bounds),
		cmocka_unit_test(test_connect_response_decodes_session_and_password),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
