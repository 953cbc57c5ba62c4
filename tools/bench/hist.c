/* hist.c - log-linear latency histogram (see hist.h).
 *
 * Layout, as in Gil Tene's HdrHistogram with sub-bucket count 128: bucket i
 * for i < 128 holds exactly value i; above that, row r (r >= 1) covers
 * [64 << r, 128 << r) in 64 steps of width 1 << r. The percentile rule
 * ("highest equivalent value" of the bucket holding the rank) is
 * HdrHistogram's getValueAtPercentile.
 */
#include "hist.h"

#include <string.h>

#define FIRST (2 * BENCH_HIST_SUB) /* 128 exact buckets */

void bench_hist_init(struct bench_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

unsigned bench_hist_bucket(uint64_t v)
{
	if (v < FIRST)
		return (unsigned)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v); /* >= 7 */
	if (msb >= BENCH_HIST_MAX_BITS)
		return BENCH_HIST_NBUCKETS - 1;
	unsigned shift = msb - BENCH_HIST_SUB_BITS; /* >= 1 */
	unsigned sub = (unsigned)(v >> shift);      /* 64..127 */
	return FIRST + (shift - 1) * BENCH_HIST_SUB + (sub - BENCH_HIST_SUB);
}

uint64_t bench_hist_bucket_low(unsigned i)
{
	if (i < FIRST)
		return i;
	unsigned shift = (i - FIRST) / BENCH_HIST_SUB + 1;
	uint64_t sub = (i - FIRST) % BENCH_HIST_SUB + BENCH_HIST_SUB;
	return sub << shift;
}

uint64_t bench_hist_bucket_high(unsigned i)
{
	if (i < FIRST)
		return i;
	unsigned shift = (i - FIRST) / BENCH_HIST_SUB + 1;
	return bench_hist_bucket_low(i) + ((uint64_t)1 << shift) - 1;
}

void bench_hist_record(struct bench_hist *h, uint64_t v)
{
	unsigned i = bench_hist_bucket(v);
	/* Single writer: relaxed stores let a reader snapshot without tearing. */
	__atomic_store_n(&h->buckets[i], h->buckets[i] + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&h->sum, h->sum + v, __ATOMIC_RELAXED);
	if (v < h->min)
		__atomic_store_n(&h->min, v, __ATOMIC_RELAXED);
	if (v > h->max)
		__atomic_store_n(&h->max, v, __ATOMIC_RELAXED);
	__atomic_store_n(&h->count, h->count + 1, __ATOMIC_RELAXED);
}

void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src)
{
	for (unsigned i = 0; i < BENCH_HIST_NBUCKETS; i++)
		dst->buckets[i] += src->buckets[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

void bench_hist_snapshot(struct bench_hist *dst, const struct bench_hist *src)
{
	uint64_t total = 0;
	for (unsigned i = 0; i < BENCH_HIST_NBUCKETS; i++) {
		dst->buckets[i] = __atomic_load_n(&src->buckets[i], __ATOMIC_RELAXED);
		total += dst->buckets[i];
	}
	/* count from the buckets so percentiles stay consistent */
	dst->count = total;
	dst->sum = __atomic_load_n(&src->sum, __ATOMIC_RELAXED);
	dst->min = __atomic_load_n(&src->min, __ATOMIC_RELAXED);
	dst->max = __atomic_load_n(&src->max, __ATOMIC_RELAXED);
}

void bench_hist_diff(struct bench_hist *dst, const struct bench_hist *a,
		     const struct bench_hist *b)
{
	bench_hist_init(dst);
	for (unsigned i = 0; i < BENCH_HIST_NBUCKETS; i++) {
		uint64_t n = a->buckets[i] >= b->buckets[i] ? a->buckets[i] - b->buckets[i] : 0;
		dst->buckets[i] = n;
		dst->count += n;
		if (n) {
			if (dst->min == UINT64_MAX)
				dst->min = bench_hist_bucket_low(i);
			dst->max = bench_hist_bucket_high(i);
		}
	}
	if (dst->max > a->max)
		dst->max = a->max;
	dst->sum = a->sum >= b->sum ? a->sum - b->sum : 0;
}

uint64_t bench_hist_percentile(const struct bench_hist *h, double p)
{
	if (h->count == 0)
		return 0;
	if (p < 0)
		p = 0;
	if (p > 100)
		p = 100;
	uint64_t rank = (uint64_t)(p / 100.0 * (double)h->count + 0.5);
	if (rank < 1)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	if (rank == h->count)
		return h->max; /* the top sample is known exactly */
	uint64_t seen = 0;
	for (unsigned i = 0; i < BENCH_HIST_NBUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= rank) {
			uint64_t v = bench_hist_bucket_high(i);
			return v > h->max ? h->max : v;
		}
	}
	return h->max;
}

double bench_hist_mean(const struct bench_hist *h)
{
	return h->count ? (double)h->sum / (double)h->count : 0.0;
}
