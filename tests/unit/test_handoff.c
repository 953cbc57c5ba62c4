/*
 * test_handoff.c — the worker/sequencer hand-off under back-pressure
 * (consensus.h, "Flow control").  The test thread plays a worker that
 * posts far more requests than both rings hold before it reads a single
 * reply: the old hand-off deadlocked here (each side waiting for room in
 * the ring the other one drains).  Tiny rings make both directions fill.
 */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <urcu-qsbr.h>

#include "consensus/consensus.h"
#include "tests/fuzz/fuzz_seq_int.h"
#include "tree/jute.h"
#include "tree/tree.h"

#define RING 64

static struct tree *tree;
static struct zab_seq *seq;

static int64_t now_ms(void)
{
	return zk_clock_ms(CLOCK_MONOTONIC);
}

static void start(int max_requests)
{
	tree = tree_create();
	assert_non_null(tree);
	struct zab_seq_config sc;
	fuzz_seq_config(&sc, tree);
	sc.max_requests = max_requests;
	sc.ring_size = RING;
	seq = zab_seq_create(&sc);
	assert_non_null(seq);
	assert_int_equal(zab_seq_start(seq), 0);
}

static void stop(void)
{
	zab_seq_destroy(seq);
	tree_destroy(tree);
}

/* Next message from the sequencer, waiting up to 10 s. */
static struct zmsg *next_msg(void)
{
	struct zmsg *m;
	int64_t deadline = now_ms() + 10000;
	while (!zab_poll(seq, 0, &m, 1)) {
		if (now_ms() > deadline)
			return NULL;
		sched_yield();
	}
	return m;
}

/* The next reply or session answer, skipping watch events and markers. */
static struct zmsg *next_answer(void)
{
	for (;;) {
		struct zmsg *m = next_msg();
		if (!m || (m->type != ZM_EVENT && m->type != ZM_APPLIED))
			return m;
		zmsg_free(m);
	}
}

static int64_t open_session(void)
{
	struct zmsg *m = zmsg_new(ZM_CONNECT, ZK_PASSWD_LEN);
	assert_non_null(m);
	m->conn = (struct zconn_ref){0, 1, 1};
	m->timeout = 30000;
	assert_int_equal(zab_post(seq, 0, &m, 1), 1);
	m = next_answer();
	assert_non_null(m);
	assert_int_equal(m->type, ZM_CONNECTED);
	int64_t id = m->session;
	assert_true(id != 0);
	zmsg_free(m);
	return id;
}

/* A create of /n<i> (world:anyone ALL), as a worker would post it. */
static struct zmsg *create_req(int64_t session, int32_t xid)
{
	struct zauth_id ip = {"ip", "127.0.0.1"};
	struct jw a = {0}, b = {0};
	char path[32];
	snprintf(path, sizeof(path), "/n%d", xid);
	zab_auth_write(&a, &ip, 1);
	jw_str(&b, path);
	jw_buf(&b, "x", 1);
	jw_int(&b, 1); /* one ACL */
	jw_int(&b, ZPERM_ALL);
	jw_str(&b, "world");
	jw_str(&b, "anyone");
	jw_int(&b, 0); /* persistent */
	assert_false(a.err || b.err);
	struct zmsg *m = zmsg_new(ZM_REQUEST, (uint32_t)(a.len + b.len));
	assert_non_null(m);
	m->conn = (struct zconn_ref){0, 1, 1};
	m->xid = xid;
	m->op = ZOP_CREATE;
	m->session = session;
	m->auth_len = (uint32_t)a.len;
	memcpy(m->body, a.p, a.len);
	memcpy(m->body + a.len, b.p, b.len);
	jw_free(&a);
	jw_free(&b);
	return m;
}

/* Post n creates without reading; then read every reply.  Returns how
 * many times the ring refused part of the list (the worker kept them). */
static int flood(int n)
{
	int64_t session = open_session();
	struct zmsg_list l = {0};
	int refused = 0;
	for (int i = 1; i <= n; i++) {
		zmsg_list_add(&l, create_req(session, i));
		/* a worker's loop pass: try to post, never wait */
		if (l.n >= 16 && !zab_post_list(seq, 0, &l))
			refused++;
	}
	/* Now both rings are full: ours with requests, the sequencer's with
	 * replies, and its overflow list holds more.  Drain and post, as a
	 * worker's loop does, until every reply came, in xid order. */
	int32_t expect = 1;
	int64_t deadline = now_ms() + 30000;
	while (expect <= n) {
		zab_post_list(seq, 0, &l);
		struct zmsg *m;
		while (zab_poll(seq, 0, &m, 1)) {
			if (m->type == ZM_REPLY) {
				assert_int_equal(m->xid, expect);
				assert_int_equal(m->err, ZOK);
				expect++;
			}
			zmsg_free(m);
		}
		assert_true(now_ms() < deadline);
		sched_yield();
	}
	assert_null(l.head);
	return refused;
}

static void test_flood_with_full_rings_both_ways_completes_in_order(
	void **state)
{
	(void)state;
	start(0);
	uint64_t before = tree_node_count(tree);
	/* 100 times the ring: the old zab_post would have spun forever */
	int refused = flood(100 * RING);
	assert_true(refused > 0); /* the ring did fill */
	rcu_thread_online();
	assert_non_null(tree_lookup(tree, "/n6400", 6));
	assert_int_equal(tree_node_count(tree), before + 100 * RING);
	rcu_thread_offline();
	assert_int_equal(zab_seq_outstanding(seq), 0);
	stop();
}

static void test_request_throttler_holds_in_order_and_drops_nothing(
	void **state)
{
	(void)state;
	start(4); /* request_throttle_max_requests=4 */
	uint64_t before = tree_node_count(tree);
	flood(20 * RING);
	const struct zab_stats *st = zab_seq_stats(seq);
	assert_true(atomic_load(&st->throttled) > 0);
	assert_int_equal(zab_seq_throttled_now(seq), 0);
	rcu_thread_online();
	assert_int_equal(tree_node_count(tree), before + 20 * RING);
	rcu_thread_offline();
	stop();
}

static void test_post_returns_what_the_ring_took(void **state)
{
	(void)state;
	start(0);
	/* the sequencer is running and drains; still, one call never takes
	 * more than the ring's free room and never blocks */
	struct zmsg *m[4 * RING];
	for (int i = 0; i < 4 * RING; i++) {
		m[i] = zmsg_new(ZM_TOUCH, 0);
		assert_non_null(m[i]);
	}
	unsigned done = 0;
	int64_t deadline = now_ms() + 10000;
	while (done < 4 * RING) {
		unsigned k = zab_post(seq, 0, m + done, 4 * RING - done);
		assert_true(k <= RING);
		done += k;
		assert_true(now_ms() < deadline);
	}
	stop();
}

int main(void)
{
	rcu_register_thread();
	rcu_thread_offline();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_flood_with_full_rings_both_ways_completes_in_order),
		cmocka_unit_test(
			test_request_throttler_holds_in_order_and_drops_nothing),
		cmocka_unit_test(test_post_returns_what_the_ring_took),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	rcu_unregister_thread();
	return rc;
}
