/*
 * hist.c — the workers' latency histograms (dataplane_int.h, struct
 * dp_hist) and the summaries read from them: mntr's over every sample
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

void dp_hist_init(struct dp_hist *h, int64_t origin_ms, int64_t period_ms)
{
	h->origin_ms = origin_ms;
	h->period_ms = period_ms > 0 ? period_ms : 1;
	dp_hist_reset(h);
}

void dp_hist_reset(struct dp_hist *h)
{
	for (int s = 0; s < DP_WIN_SLOTS; s++) {
		for (int i = 0; i < DP_HIST_BUCKETS; i++)
			atomic_store_explicit(&h->b[s][i], 0, DP_RLX);
		atomic_store_explicit(&h->period[s], -1, DP_RLX);
	}
	for (int i = 0; i < DP_HIST_BUCKETS; i++)
		atomic_store_explicit(&h->old[i], 0, DP_RLX);
	atomic_store_explicit(&h->n, 0, DP_RLX);
	atomic_store_explicit(&h->sum, 0, DP_RLX);
	atomic_store_explicit(&h->min, INT64_MAX, DP_RLX);
	atomic_store_explicit(&h->max, 0, DP_RLX);
	h->cur = 0;
	h->next_ms = INT64_MIN; /* the next sample rotates */
}

static int64_t period_of(const struct dp_hist *h, int64_t now_ms)
{
	int64_t t = now_ms - h->origin_ms;
	return t < 0 ? 0 : t / h->period_ms;
}

void dp_hist_rotate(struct dp_hist *h, int64_t now_ms)
{
	int64_t p = period_of(h, now_ms);
	int s = (int)(p % DP_WIN_SLOTS);
	if (atomic_load_explicit(&h->period[s], DP_RLX) != p) {
		/* the slot's period has left the window: its counts go to
		 * `old` first, then the slot is emptied and renamed */
		for (int i = 0; i < DP_HIST_BUCKETS; i++) {
			uint64_t v = atomic_load_explicit(&h->b[s][i], DP_RLX);
			if (!v)
				continue;
			atomic_store_explicit(
			    &h->old[i],
			    atomic_load_explicit(&h->old[i], DP_RLX) + v,
			    DP_RLX);
			atomic_store_explicit(&h->b[s][i], 0, DP_RLX);
		}
		atomic_store_explicit(&h->period[s], p, DP_RLX);
	}
	h->cur = s;
	h->next_ms = h->origin_ms + (p + 1) * h->period_ms;
}

uint64_t dp_hist_window(const struct dp_hist *h, int64_t now_ms,
			uint64_t b[DP_HIST_BUCKETS])
{
	int64_t p = period_of(h, now_ms);
	uint64_t n = 0;
	for (int s = 0; s < DP_WIN_SLOTS; s++) {
		int64_t sp = atomic_load_explicit(&h->period[s], DP_RLX);
		if (sp < 0 || sp > p || sp <= p - DP_WIN_SLOTS)
			continue;
		for (int i = 0; i < DP_HIST_BUCKETS; i++) {
			uint64_t v = atomic_load_explicit(&h->b[s][i], DP_RLX);
			b[i] += v;
			n += v;
		}
	}
	return n;
}

void dp_hist_all(const struct dp_hist *h, uint64_t b[DP_HIST_BUCKETS])
{
	for (int i = 0; i < DP_HIST_BUCKETS; i++) {
		uint64_t v = atomic_load_explicit(&h->old[i], DP_RLX);
		for (int s = 0; s < DP_WIN_SLOTS; s++)
			v += atomic_load_explicit(&h->b[s][i], DP_RLX);
		b[i] += v;
	}
}

void dp_summary_add(struct dp_summary *s, const struct dp_hist *h)
{
	s->n += atomic_load_explicit(&h->n, DP_RLX);
	s->sum += atomic_load_explicit(&h->sum, DP_RLX);
	int64_t v = atomic_load_explicit(&h->min, DP_RLX);
	if (v < s->min)
		s->min = v;
	v = atomic_load_explicit(&h->max, DP_RLX);
	if (v > s->max)
		s->max = v;
	dp_hist_all(h, s->b);
}

int64_t dp_summary_quantile(const struct dp_summary *s, double q)
{
	uint64_t total = 0, seen = 0;
	for (int k = 0; k < DP_HIST_BUCKETS; k++)
		total += s->b[k];
	if (!total)
		return 0;
	uint64_t rank = (uint64_t)(q * (double)total);
	if (rank >= total)
		rank = total - 1;
	for (int k = 0; k < DP_HIST_BUCKETS; k++) {
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
