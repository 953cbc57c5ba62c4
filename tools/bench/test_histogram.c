/* Unit tests for the latency histogram (hist.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "hist.h"

static struct bench_hist h, h2, d;

static void test_small_values_are_exact(void **state)
{
	(void)state;
	for (uint64_t v = 0; v < 128; v++) {
		unsigned i = bench_hist_bucket(v);
		assert_int_equal(bench_hist_bucket_low(i), v);
		assert_int_equal(bench_hist_bucket_high(i), v);
	}
}

static void test_buckets_are_contiguous_and_monotonic(void **state)
{
	(void)state;
	for (unsigned i = 1; i < BENCH_HIST_NBUCKETS; i++)
		assert_int_equal(bench_hist_bucket_low(i), bench_hist_bucket_high(i - 1) + 1);
}

static void test_relative_error_is_below_two_percent(void **state)
{
	(void)state;
	/* from 1 ns to ~10 minutes, every value maps to a bucket that holds it and
	 * is at most 1/64 of it wide */
	for (uint64_t v = 1; v < 600000000000ull; v = v * 1.013 + 1) {
		unsigned i = bench_hist_bucket(v);
		uint64_t lo = bench_hist_bucket_low(i), hi = bench_hist_bucket_high(i);
		assert_true(lo <= v && v <= hi);
		assert_true((double)(hi - lo) <= (double)v / 64.0 + 1e-9);
	}
}

static void test_huge_values_clamp_to_last_bucket(void **state)
{
	(void)state;
	assert_int_equal(bench_hist_bucket(UINT64_MAX), BENCH_HIST_NBUCKETS - 1);
	bench_hist_init(&h);
	bench_hist_record(&h, UINT64_MAX / 2);
	assert_int_equal(h.max, UINT64_MAX / 2);
	assert_int_equal(bench_hist_percentile(&h, 100), UINT64_MAX / 2);
}

static void test_percentiles_of_uniform_1_to_100000(void **state)
{
	(void)state;
	bench_hist_init(&h);
	for (uint64_t v = 1; v <= 100000; v++)
		bench_hist_record(&h, v * 1000); /* 1us .. 100ms */
	assert_int_equal(h.count, 100000);
	assert_int_equal(h.min, 1000);
	assert_int_equal(h.max, 100000000);
	const double ps[] = {50, 90, 99, 99.9};
	for (int i = 0; i < 4; i++) {
		double want = ps[i] / 100.0 * 100000.0 * 1000.0;
		double got = (double)bench_hist_percentile(&h, ps[i]);
		assert_true(got >= want * 0.99 && got <= want * 1.02);
	}
	assert_int_equal(bench_hist_percentile(&h, 100), 100000000);
	assert_true(bench_hist_mean(&h) > 50000000 * 0.999 && bench_hist_mean(&h) < 50001000 * 1.001);
}

static void test_empty_histogram_reports_zero(void **state)
{
	(void)state;
	bench_hist_init(&h);
	assert_int_equal(bench_hist_percentile(&h, 99), 0);
	assert_true(bench_hist_mean(&h) == 0.0);
}

static void test_merge_adds_counts_and_keeps_extremes(void **state)
{
	(void)state;
	bench_hist_init(&h);
	bench_hist_init(&h2);
	for (int i = 0; i < 99; i++)
		bench_hist_record(&h, 1000);
	bench_hist_record(&h2, 5000000);
	bench_hist_record(&h2, 10);
	bench_hist_merge(&h, &h2);
	assert_int_equal(h.count, 101);
	assert_int_equal(h.min, 10);
	assert_int_equal(h.max, 5000000);
	/* reported as the bucket's highest equivalent value: within 1/64 */
	uint64_t p50 = bench_hist_percentile(&h, 50);
	assert_true(p50 >= 1000 && p50 <= 1000 + 1000 / 64);
	assert_int_equal(bench_hist_percentile(&h, 100), 5000000);
}

static void test_diff_gives_the_interval(void **state)
{
	(void)state;
	bench_hist_init(&h);
	for (int i = 0; i < 1000; i++)
		bench_hist_record(&h, 100);
	bench_hist_snapshot(&h2, &h);
	for (int i = 0; i < 10; i++)
		bench_hist_record(&h, 1000000);
	bench_hist_diff(&d, &h, &h2);
	assert_int_equal(d.count, 10);
	uint64_t p = bench_hist_percentile(&d, 50);
	assert_true(p >= 1000000 && p <= 1000000 * 1.016);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_values_are_exact),
		cmocka_unit_test(test_buckets_are_contiguous_and_monotonic),
		cmocka_unit_test(test_relative_error_is_below_two_percent),
		cmocka_unit_test(test_huge_values_clamp_to_last_bucket),
		cmocka_unit_test(test_percentiles_of_uniform_1_to_100000),
		cmocka_unit_test(test_empty_histogram_reports_zero),
		cmocka_unit_test(test_merge_adds_counts_and_keeps_extremes),
		cmocka_unit_test(test_diff_gives_the_interval),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
