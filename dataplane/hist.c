/*
 * hist.c — the summaries read from latency histograms (tree.h, struct
 * zk_hist: the workers', the sequencer's): mntr's over every sample
 * since start or srst (ZooKeeper's AvgMinMaxPercentileCounter, reset by
 * ServerMetrics.resetAll), Prometheus' quantiles over a sliding time
 * window as the Prometheus Java client's Summary keeps them
 * (TimeWindowQuantiles: maxAgeSeconds 600, ageBuckets 5, the bucket read
 * being the one that has taken every sample since it was last emptied,
 * four to five periods ago), with _count and _sum since start.
 *
 * Time is an argument everywhere: the writer passes its loop pass's
 * clock, a reader its own; nothing here reads a clock.
 */
#include <stdint.h>
#include <string.h>

#include "dataplane/dataplane_int.h"

void dp_summary_add(struct dp_summary *s, const struct zk_hist *h)
{
	s->n += atomic_load_explicit(&h->n, DP_RLX);
	s->sum += atomic_load_explicit(&h->sum, DP_RLX);
	int64_t v = atomic_load_explicit(&h->min, DP_RLX);
	if (v < s->min)
		s->min = v;
	v = atomic_load_explicit(&h->max, DP_RLX);
	if (v > s->max)
		s->max = v;
	zk_hist_all(h, s->b);
}

int64_t dp_summary_quantile(const struct dp_summary *s, double q)
{
	uint64_t total = 0, seen = 0;
	for (int k = 0; k < ZK_HIST_BUCKETS; k++)
		total += s->b[k];
	if (!total)
		return 0;
	uint64_t rank = (uint64_t)(q * (double)total);
	if (rank >= total)
		rank = total - 1;
	for (int k = 0; k < ZK_HIST_BUCKETS; k++) {
		seen += s->b[k];
		if (seen <= rank)
			continue;
		if (k < 4)
			return k;
		int e = k / 4 + 1, sub = k % 4;
		int64_t lo = (int64_t)(4 + sub) << (e - 2);
		int64_t hi = (int64_t)(5 + sub) << (e - 2);
		int64_t v = (lo + hi) / 2;
		return v < s->min ? s->min : v > s->max ? s->max : v;
	}
	return s->max;
}
