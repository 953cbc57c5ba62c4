/* hist.h - log-bucketed latency histogram for paddock-bench.
 *
 * HdrHistogram-style log-linear buckets: values below 128 ns are exact;
 * above, every power of two is split into 64 linear sub-buckets, so any
 * recorded value is reported within 1/64 (1.6 %) of its true value. The
 * range is 0 .. 2^40 ns (about 18 minutes); larger values are clamped to
 * the top bucket (max stays exact).
 *
 * Thread: a histogram is written by one thread. Another thread may read it
 * concurrently with bench_hist_snapshot(), which gives an approximate copy
 * (counts are stored with relaxed atomics; no torn 64-bit values on x86-64).
 * No allocation: embed the struct in its owner.
 */
#ifndef BENCH_HIST_H
#define BENCH_HIST_H

#include <stdint.h>

#define BENCH_HIST_SUB_BITS 6 /* 64 sub-buckets per half-octave row */
#define BENCH_HIST_SUB (1u << BENCH_HIST_SUB_BITS)
#define BENCH_HIST_MAX_BITS 40 /* values up to 2^40 ns */
#define BENCH_HIST_NBUCKETS                                                  \
	(2 * BENCH_HIST_SUB + (BENCH_HIST_MAX_BITS - BENCH_HIST_SUB_BITS) * BENCH_HIST_SUB)

struct bench_hist {
	uint64_t count;
	uint64_t sum; /* ns, for the mean */
	uint64_t min;
	uint64_t max;
	uint64_t buckets[BENCH_HIST_NBUCKETS];
};

/* Empties h. */
void bench_hist_init(struct bench_hist *h);

/* Index of the bucket holding value v (ns). Clamped to the last bucket. */
unsigned bench_hist_bucket(uint64_t v);

/* Lowest and highest value that fall in bucket i. */
uint64_t bench_hist_bucket_low(unsigned i);
uint64_t bench_hist_bucket_high(unsigned i);

/* Records one value. Single writer per histogram. */
void bench_hist_record(struct bench_hist *h, uint64_t v);

/* Adds every count of src into dst (dst owned by the caller's thread). */
void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src);

/* Copies src into dst with relaxed loads: safe while src's writer runs. */
void bench_hist_snapshot(struct bench_hist *dst, const struct bench_hist *src);

/* dst = a - b, counts only (a taken after b from the same histogram). min and
 * max of the difference are derived from the buckets. */
void bench_hist_diff(struct bench_hist *dst, const struct bench_hist *a,
		     const struct bench_hist *b);

/* Value at percentile p (0..100): the highest value equivalent to the bucket
 * holding the p-th percentile sample, capped at max. 0 if empty. */
uint64_t bench_hist_percentile(const struct bench_hist *h, double p);

/* Mean in ns, 0 if empty. */
double bench_hist_mean(const struct bench_hist *h);

#endif
