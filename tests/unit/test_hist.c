/*
 * test_hist.c — the workers' latency histograms (dataplane/hist.c): the
 * Prometheus Java client's time window (TimeWindowQuantiles: a quantile
 * read at a time in period p covers the samples of periods p-4 .. p,
 * periods of max age / 5), and the totals since start or srst that mntr
 * reads.  Time is an argument: every test drives its own clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dataplane/dataplane_int.h"

#define PERIOD 100 /* ms: a 500 ms window */
#define ORIGIN 1000

static struct zk_hist *new_hist(void)
{
	struct zk_hist *h = calloc(1, sizeof(*h));
	assert_non_null(h);
	zk_hist_init(h, ORIGIN, PERIOD);
	return h;
}

static uint64_t in_window(const struct zk_hist *h, int64_t now)
{
	uint64_t b[ZK_HIST_BUCKETS] = {0};
	return zk_hist_window(h, now, b);
}

static uint64_t in_all(const struct zk_hist *h)
{
	uint64_t b[ZK_HIST_BUCKETS] = {0}, n = 0;
	zk_hist_all(h, b);
	for (int i = 0; i < ZK_HIST_BUCKETS; i++)
		n += b[i];
	return n;
}

static void test_sample_stays_in_window_five_periods_then_leaves(void **st)
{
	(void)st;
	struct zk_hist *h = new_hist();
	assert_int_equal(in_window(h, ORIGIN), 0);
	zk_hist_add(h, 10, 3, ORIGIN + 50); /* period 0 */
	assert_int_equal(in_window(h, ORIGIN + 50), 3);
	/* the client's bucket read in period 4 was emptied at the start
	 * of period 0: it has the sample */
	assert_int_equal(in_window(h, ORIGIN + 4 * PERIOD + 99), 3);
	/* period 5 reads the bucket emptied at the start of period 1 */
	assert_int_equal(in_window(h, ORIGIN + 5 * PERIOD), 0);
	assert_int_equal(in_all(h), 3);
	assert_int_equal(atomic_load(&h->n), 3);
	free(h);
}

static void test_window_slides_one_period_at_a_time(void **st)
{
	(void)st;
	struct zk_hist *h = new_hist();
	/* period k gets k + 1 samples, for k = 0 .. 11 */
	uint64_t total = 0;
	for (int k = 0; k < 12; k++) {
		zk_hist_add(h, 100 * (k + 1), k + 1, ORIGIN + k * PERIOD + 7);
		total += (uint64_t)k + 1;
		uint64_t want = 0;
		for (int j = k - 4 < 0 ? 0 : k - 4; j <= k; j++)
			want += (uint64_t)j + 1;
		assert_int_equal(in_window(h, ORIGIN + k * PERIOD + 8), want);
		/* slots reused: their counts live on in the totals */
		assert_int_equal(in_all(h), total);
	}
	free(h);
}

static void test_idle_writer_window_empties_on_reader_clock(void **st)
{
	(void)st;
	struct zk_hist *h = new_hist();
	zk_hist_add(h, 5, 1, ORIGIN);
	zk_hist_add(h, 5, 1, ORIGIN + 2 * PERIOD);
	/* nothing written since: the reader's clock alone moves the
	 * window */
	assert_int_equal(in_window(h, ORIGIN + 4 * PERIOD), 2);
	assert_int_equal(in_window(h, ORIGIN + 5 * PERIOD), 1);
	assert_int_equal(in_window(h, ORIGIN + 7 * PERIOD), 0);
	assert_int_equal(in_window(h, ORIGIN + 1000 * PERIOD), 0);
	assert_int_equal(in_all(h), 2);
	/* a writer back after a long pause: old slots move to the totals */
	zk_hist_add(h, 5, 4, ORIGIN + 1000 * PERIOD + 1);
	assert_int_equal(in_window(h, ORIGIN + 1000 * PERIOD + 2), 4);
	assert_int_equal(in_all(h), 6);
	free(h);
}

static void test_quantiles_of_window_forget_old_samples(void **st)
{
	(void)st;
	struct zk_hist *h = new_hist();
	struct dp_summary *all = calloc(1, sizeof(*all));
	struct dp_summary *win = calloc(1, sizeof(*win));
	assert_non_null(all);
	assert_non_null(win);
	zk_hist_add(h, 50000, 100, ORIGIN);		/* 50 ms, slow */
	zk_hist_add(h, 1000, 300, ORIGIN + 6 * PERIOD); /* 1 ms, later */
	int64_t now = ORIGIN + 6 * PERIOD + 1;
	all->min = INT64_MAX;
	dp_summary_add(all, h);
	win->max = INT64_MAX;
	win->n = (int64_t)zk_hist_window(h, now, win->b);
	assert_int_equal(all->n, 400);
	assert_int_equal(all->sum, 50000 * 100 + 1000 * 300);
	assert_int_equal(win->n, 300);
	/* the slow samples are the top quarter of all, none of the
	 * window's */
	int64_t p99_all = dp_summary_quantile(all, 0.99);
	int64_t p99_win = dp_summary_quantile(win, 0.99);
	assert_true(p99_all > 40000 && p99_all <= 50000);
	assert_true(p99_win >= 800 && p99_win <= 1250);
	free(all);
	free(win);
	free(h);
}

static void test_reset_empties_everything_and_periods_go_on(void **st)
{
	(void)st;
	struct zk_hist *h = new_hist();
	zk_hist_add(h, 20, 2, ORIGIN + 10);
	zk_hist_add(h, 30, 2, ORIGIN + 3 * PERIOD);
	zk_hist_reset(h);
	assert_int_equal(in_window(h, ORIGIN + 3 * PERIOD + 1), 0);
	assert_int_equal(in_all(h), 0);
	assert_int_equal(atomic_load(&h->n), 0);
	assert_int_equal(atomic_load(&h->sum), 0);
	assert_int_equal(atomic_load(&h->min), INT64_MAX);
	assert_int_equal(atomic_load(&h->max), 0);
	zk_hist_add(h, 40, 1, ORIGIN + 3 * PERIOD + 2);
	assert_int_equal(in_window(h, ORIGIN + 7 * PERIOD + 99), 1);
	assert_int_equal(in_window(h, ORIGIN + 8 * PERIOD), 0);
	assert_int_equal(in_all(h), 1);
	assert_int_equal(atomic_load(&h->min), 40);
	free(h);
}

static void test_before_origin_counts_as_first_period(void **st)
{
	(void)st;
	struct zk_hist *h = new_hist();
	zk_hist_add(h, 1, 1, ORIGIN - 500);
	assert_int_equal(in_window(h, ORIGIN - 400), 1);
	assert_int_equal(in_window(h, ORIGIN + 4 * PERIOD), 1);
	assert_int_equal(in_window(h, ORIGIN + 5 * PERIOD), 0);
	free(h);
}

/* zk_hist_retime (recovery's BASIC summaries, taken under the
 * sequencer's default periods before the dataplane's window is known):
 * what is in the window now stays in it, in now's period under the new
 * periods; what had left it stays in the totals only */
static void test_retime_keeps_window_samples_in_the_new_periods(void **st)
{
	(void)st;
	struct zk_hist *h = new_hist();
	zk_hist_add(h, 7, 1, ORIGIN + 10);		/* leaves the window */
	zk_hist_add(h, 9, 2, ORIGIN + 6 * PERIOD + 10); /* in it */
	int64_t now = ORIGIN + 6 * PERIOD + 20;
	assert_int_equal(in_window(h, now), 2);
	zk_hist_retime(h, 5000, 10, now); /* now is before the new origin */
	assert_int_equal(in_window(h, now), 2);
	assert_int_equal(in_all(h), 3);
	assert_int_equal(atomic_load(&h->n), 3);
	assert_int_equal(atomic_load(&h->min), 7);
	assert_int_equal(atomic_load(&h->max), 9);
	/* the new periods: 10 ms, period 0 from 5000 */
	zk_hist_add(h, 9, 1, 5000 + 2 * 10);
	assert_int_equal(in_window(h, 5000 + 4 * 10 + 9), 3);
	assert_int_equal(in_window(h, 5000 + 5 * 10), 1);
	assert_int_equal(in_window(h, 5000 + 7 * 10), 0);
	assert_int_equal(in_all(h), 4);
	free(h);
}

/* struct zk_basic: mntr's zk_amm as before, the same values in the
 * histogram; a reset empties both */
static void test_basic_summary_keeps_amm_and_histogram_together(void **st)
{
	(void)st;
	struct zk_basic *b = calloc(1, sizeof(*b));
	assert_non_null(b);
	zk_hist_init(&b->h, ORIGIN, PERIOD);
	zk_basic_add(b, 3, ORIGIN);
	zk_basic_add(b, 0, ORIGIN + 1);
	zk_basic_add(b, 12, ORIGIN + 2);
	assert_int_equal(b->a.cnt, 3);
	assert_int_equal(b->a.sum, 15);
	assert_int_equal(b->a.min, 0);
	assert_int_equal(b->a.max, 12);
	struct dp_summary *w = calloc(1, sizeof(*w));
	assert_non_null(w);
	w->n = (int64_t)zk_hist_window(&b->h, ORIGIN + 3, w->b);
	w->min = b->a.min;
	w->max = b->a.max;
	assert_int_equal(w->n, 3);
	assert_int_equal(dp_summary_quantile(w, 0.5), 3); /* exact below 4 */
	zk_basic_reset(b);
	assert_int_equal(b->a.cnt, 0);
	assert_int_equal(b->a.min, 0);
	assert_int_equal(in_window(&b->h, ORIGIN + 3), 0);
	free(w);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
		test_sample_stays_in_window_five_periods_then_leaves),
	    cmocka_unit_test(test_window_slides_one_period_at_a_time),
	    cmocka_unit_test(test_idle_writer_window_empties_on_reader_clock),
	    cmocka_unit_test(test_quantiles_of_window_forget_old_samples),
	    cmocka_unit_test(test_reset_empties_everything_and_periods_go_on),
	    cmocka_unit_test(test_before_origin_counts_as_first_period),
	    cmocka_unit_test(
		test_retime_keeps_window_samples_in_the_new_periods),
	    cmocka_unit_test(
		test_basic_summary_keeps_amm_and_histogram_together),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
