/*
 * hist.c — latency histograms (tree.h, struct zk_hist), written by one
 * thread and read racily by any: a workers' request latencies, the
 * sequencer's ZAB latencies.  The summaries read from them, and how
 * they follow ZooKeeper's and the Prometheus Java client's, are
 * dataplane/hist.c's.
 *
 * Time is an argument everywhere: the writer passes its loop pass's
 * clock, a reader its own; nothing here reads a clock.
 */
#include <stdint.h>

#include "tree/tree.h"

void zk_hist_init(struct zk_hist *h, int64_t origin_ms, int64_t period_ms)
{
	h->origin_ms = origin_ms;
	h->period_ms = period_ms > 0 ? period_ms : 1;
	zk_hist_reset(h);
}

void zk_hist_reset(struct zk_hist *h)
{
	for (int s = 0; s < ZK_HIST_SLOTS; s++) {
		for (int i = 0; i < ZK_HIST_BUCKETS; i++)
			atomic_store_explicit(&h->b[s][i], 0, memory_order_relaxed);
		atomic_store_explicit(&h->period[s], -1, memory_order_relaxed);
	}
	for (int i = 0; i < ZK_HIST_BUCKETS; i++)
		atomic_store_explicit(&h->old[i], 0, memory_order_relaxed);
	atomic_store_explicit(&h->n, 0, memory_order_relaxed);
	atomic_store_explicit(&h->sum, 0, memory_order_relaxed);
	atomic_store_explicit(&h->min, INT64_MAX, memory_order_relaxed);
	atomic_store_explicit(&h->max, 0, memory_order_relaxed);
	h->cur = 0;
	h->next_ms = INT64_MIN; /* the next sample rotates */
}

static int64_t period_of(const struct zk_hist *h, int64_t now_ms)
{
	int64_t t = now_ms - h->origin_ms;
	return t < 0 ? 0 : t / h->period_ms;
}

void zk_hist_rotate(struct zk_hist *h, int64_t now_ms)
{
	int64_t p = period_of(h, now_ms);
	int s = (int)(p % ZK_HIST_SLOTS);
	if (atomic_load_explicit(&h->period[s], memory_order_relaxed) != p) {
		/* the slot's period has left the window: its counts go to
		 * `old` first, then the slot is emptied and renamed */
		for (int i = 0; i < ZK_HIST_BUCKETS; i++) {
			uint64_t v = atomic_load_explicit(&h->b[s][i], memory_order_relaxed);
			if (!v)
				continue;
			atomic_store_explicit(
			    &h->old[i],
			    atomic_load_explicit(&h->old[i], memory_order_relaxed) + v,
			    memory_order_relaxed);
			atomic_store_explicit(&h->b[s][i], 0, memory_order_relaxed);
		}
		atomic_store_explicit(&h->period[s], p, memory_order_relaxed);
	}
	h->cur = s;
	h->next_ms = h->origin_ms + (p + 1) * h->period_ms;
}

uint64_t zk_hist_window(const struct zk_hist *h, int64_t now_ms,
			uint64_t b[ZK_HIST_BUCKETS])
{
	int64_t p = period_of(h, now_ms);
	uint64_t n = 0;
	for (int s = 0; s < ZK_HIST_SLOTS; s++) {
		int64_t sp = atomic_load_explicit(&h->period[s], memory_order_relaxed);
		if (sp < 0 || sp > p || sp <= p - ZK_HIST_SLOTS)
			continue;
		for (int i = 0; i < ZK_HIST_BUCKETS; i++) {
			uint64_t v = atomic_load_explicit(&h->b[s][i], memory_order_relaxed);
			b[i] += v;
			n += v;
		}
	}
	return n;
}

void zk_hist_all(const struct zk_hist *h, uint64_t b[ZK_HIST_BUCKETS])
{
	for (int i = 0; i < ZK_HIST_BUCKETS; i++) {
		uint64_t v = atomic_load_explicit(&h->old[i], memory_order_relaxed);
		for (int s = 0; s < ZK_HIST_SLOTS; s++)
			v += atomic_load_explicit(&h->b[s][i], memory_order_relaxed);
		b[i] += v;
	}
}


void zk_hist_retime(struct zk_hist *h, int64_t origin_ms, int64_t period_ms,
		    int64_t now_ms)
{
	uint64_t win[ZK_HIST_BUCKETS] = {0}, all[ZK_HIST_BUCKETS] = {0};
	zk_hist_window(h, now_ms, win);
	zk_hist_all(h, all);
	for (int s = 0; s < ZK_HIST_SLOTS; s++) {
		for (int i = 0; i < ZK_HIST_BUCKETS; i++)
			atomic_store_explicit(&h->b[s][i], 0, memory_order_relaxed);
		atomic_store_explicit(&h->period[s], -1, memory_order_relaxed);
	}
	for (int i = 0; i < ZK_HIST_BUCKETS; i++)
		atomic_store_explicit(&h->old[i], all[i] - win[i],
				      memory_order_relaxed);
	h->origin_ms = origin_ms;
	h->period_ms = period_ms > 0 ? period_ms : 1;
	zk_hist_rotate(h, now_ms); /* now_ms's slot, empty */
	for (int i = 0; i < ZK_HIST_BUCKETS; i++)
		atomic_store_explicit(&h->b[h->cur][i], win[i],
				      memory_order_relaxed);
}
