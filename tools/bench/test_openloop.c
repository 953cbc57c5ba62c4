/* Unit tests for the open-loop bookkeeping (openloop.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "openloop.h"

static void test_sched_count_counts_points_in_half_open_interval(void **state)
{
	(void)state;
	/* 10, 20, 30, ...: [20, 50) holds 20, 30, 40 */
	assert_int_equal(bench_sched_count(10, 10, 20, 50), 3);
	/* lo between two points; hi exactly on one is left out */
	assert_int_equal(bench_sched_count(10, 10, 21, 50), 2);
	assert_int_equal(bench_sched_count(10, 10, 21, 51), 3);
	/* the schedule starts inside the interval */
	assert_int_equal(bench_sched_count(35, 10, 20, 50), 2);
	/* matches a walk of the schedule */
	for (uint64_t first = 0; first < 40; first += 3)
		for (uint64_t lo = 0; lo < 60; lo += 7)
			for (uint64_t hi = 0; hi < 80; hi += 5) {
				uint64_t n = 0;
				for (uint64_t t = first; t < hi; t += 7)
					n += t >= lo;
				assert_int_equal(bench_sched_count(first, 7, lo, hi), n);
			}
}

static void test_sched_count_empty_and_degenerate(void **state)
{
	(void)state;
	assert_int_equal(bench_sched_count(100, 10, 20, 50), 0); /* starts after */
	assert_int_equal(bench_sched_count(10, 10, 50, 50), 0);  /* empty */
	assert_int_equal(bench_sched_count(10, 10, 50, 20), 0);  /* backwards */
	assert_int_equal(bench_sched_count(10, 100, 20, 50), 0); /* steps over it */
	assert_int_equal(bench_sched_count(30, 0, 20, 50), 1);
	assert_int_equal(bench_sched_count(10, 0, 20, 50), 0);
	/* near the top of the clock: no overflow (0, M/2, M - 1 with M odd) */
	assert_int_equal(bench_sched_count(0, UINT64_MAX / 2, UINT64_MAX - 2, UINT64_MAX), 1);
	assert_int_equal(bench_sched_count(0, UINT64_MAX / 2, UINT64_MAX - 2, UINT64_MAX - 1), 0);
	assert_int_equal(bench_sched_count(UINT64_MAX - 10, 3, UINT64_MAX - 8, UINT64_MAX), 3);
}

struct item {
	uint32_t seq;
	uint32_t pad;
};

static void test_ring_grow_keeps_elements_across_counter_wrap(void **state)
{
	(void)state;
	uint32_t mask = 7;
	void *ring = calloc(8, sizeof(struct item));
	assert_non_null(ring);
	/* head and tail straddle 2^32, as free-running counters do */
	uint32_t head = UINT32_MAX - 2, tail = head;
	for (uint32_t n = 0; n < 100; n++) {
		if (tail - head > mask)
			assert_int_equal(bench_ring_grow(&ring, sizeof(struct item), &mask,
							 head, tail),
					 0);
		((struct item *)ring)[tail & mask].seq = n;
		tail++;
		if (n % 3 == 0) /* retire one now and then */
			head++;
	}
	assert_true(mask + 1 >= tail - head);
	assert_int_equal(mask & (mask + 1), 0); /* a power of two minus one */
	uint32_t want = 0;
	for (uint32_t i = UINT32_MAX - 2; i != head; i++)
		want++;
	for (uint32_t i = head; i != tail; i++, want++)
		assert_int_equal(((struct item *)ring)[i & mask].seq, want);
	free(ring);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sched_count_counts_points_in_half_open_interval),
		cmocka_unit_test(test_sched_count_empty_and_degenerate),
		cmocka_unit_test(test_ring_grow_keeps_elements_across_counter_wrap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
