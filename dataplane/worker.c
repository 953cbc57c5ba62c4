/*
 * worker.c — the per-core worker loop, above the connection backend.
 *
 * The dataplane's files: backend_int.h is the seam (accept events, a
 * poll step, read/write interest, the peer address, batched writes);
 * io_tcp.c the kernel-TCP backend behind it; above it, with no socket
 * in sight, this file (the loop, the connection table, accept-time
 * limits, sequencer posts, heartbeats, start/stop), jute.c (framing,
 * flow control and batched output), proto.c (requests, replies, watch
 * operations, auth, sequencer messages), fourlw.c and watch.c.
 *
 * One pass: (1) process messages from the sequencer (replies, watch
 * events, session results) and parse again the connections they
 * unblocked, (2) poll the backend — blocking, RCU offline, only when the
 * sequencer ring is empty and no connection is runnable, (3) read each
 * ready connection (at most READ_BUDGET bytes a pass, jute.c) and handle
 * every complete frame that need not wait, (4) post to the sequencer and
 * send each dirty connection's output as one batch, (5) report an RCU
 * quiescent state.
 *
 * Flow control (dataplane/PROTOCOL.md §1.1, jute.c): a frame that must
 * wait stays unparsed in the connection's input buffer.  Nothing here
 * waits for the sequencer: posts the ring cannot take stay in w->post
 * and block new writes meanwhile.
 *
 * Accepting follows ZooKeeper's NIOServerCnxnFactory: maxCnxns and
 * maxClientCnxns close a new connection at once; the connection-rate
 * throttle (BlueThrottle) leaves it in the backlog instead.  Connections
 * that never send a ConnectRequest are closed after
 * zookeeper.nio.sessionlessCnxnTimeout (10 s).
 */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <urcu-qsbr.h>

#include "dataplane/dataplane_int.h"
#include "dataplane/sasl_int.h"

/* A connection blocked on its unsent output (OUT_HIGH) that moved none
 * of it for this long is dropped: the client stopped reading. */
#define STALL_MS 5000
/* A connection that has not completed a ConnectRequest (nor asked a
 * four-letter word) after this long is closed: ZooKeeper's
 * zookeeper.nio.sessionlessCnxnTimeout default.  Otherwise idle sockets
 * could hold maxCnxns / maxClientCnxns slots for ever. */
#define SESSIONLESS_MS 10000
#define MSG_BURST 256
#define TOUCH_MS 250

void dp_log(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("paddockd: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ------------------------------------------------------------------ */
/* Per-IP connection counts (maxClientCnxns)                             */
/* ------------------------------------------------------------------ */
struct ipcount {
	struct ipcount *next;
	int n;
	char ip[INET6_ADDRSTRLEN];
};

static bool ip_take(struct dp_server *d, const char *ip)
{
	int max = d->cfg->max_client_cnxns;
	bool ok = true;
	pthread_mutex_lock(&d->ip_lock);
	struct ipcount *e = d->ips;
	while (e && strcmp(e->ip, ip))
		e = e->next;
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (e) {
			snprintf(e->ip, sizeof(e->ip), "%s", ip);
			e->next = d->ips;
			d->ips = e;
		}
	}
	if (!e || (max > 0 && e->n >= max))
		ok = false;
	else
		e->n++;
	pthread_mutex_unlock(&d->ip_lock);
	return ok;
}

static void ip_release(struct dp_server *d, const char *ip)
{
	pthread_mutex_lock(&d->ip_lock);
	for (struct ipcount *e = d->ips; e; e = e->next)
		if (!strcmp(e->ip, ip)) {
			e->n--;
			break;
		}
	pthread_mutex_unlock(&d->ip_lock);
}

/* ------------------------------------------------------------------ */
/* Connections and sequencer posts                                       */
/* ------------------------------------------------------------------ */
static struct dp_conn *conn_new(struct dp_worker *w, uintptr_t h)
{
	struct dp_conn *c;
	uint32_t slot;
	if (w->nfree) {
		slot = w->free_slots[--w->nfree];
		c = w->conns[slot];
	} else {
		/* The slot table is allocated once (dp_server_create) and
		 * never moves: four-letter words on other workers read it. */
		if (w->nconns == w->capconns)
			return NULL;
		c = calloc(1, sizeof(*c));
		if (!c)
			return NULL;
		slot = w->nconns;
		w->conns[w->nconns++] = c;
		c->slot = slot;
	}
	uint32_t gen = c->gen + 1;
	memset(c, 0, sizeof(*c));
	c->slot = slot;
	c->gen = gen;
	c->link.token = ((uint64_t)gen << 32) | slot;
	c->link.h = h;
	c->state = CS_NEW;
	c->established_ms = zk_clock_ms(CLOCK_MONOTONIC);
	c->lat_min = INT64_MAX;
	return c;
}

static void conn_free_auth(struct dp_conn *c)
{
	for (int i = 0; i < c->nauth; i++) {
		free((char *)c->auth[i].scheme);
		free((char *)c->auth[i].id);
	}
	c->nauth = 0;
}

void dp_conn_close(struct dp_worker *w, struct dp_conn *c, const char *why)
{
	if (c->state == CS_FREE)
		return;
	if (why)
		dp_log("closing connection %s:%d session 0x%llx: %s", c->ip,
		       c->port, (unsigned long long)c->session, why);
	if (c->session && c->state != CS_NEW) {
		struct zmsg *m = zmsg_new(ZM_DETACH, 0);
		if (m) {
			m->session = c->session;
			m->conn = (struct zconn_ref){(uint16_t)w->idx, c->slot,
						     c->gen};
			dp_post(w, m);
		}
	}
	w->io->close(w->be, &c->link);
	ip_release(w->srv, c->ip);
	wt_remove_owner(w->watches, &c->watches);
	w->out_bytes -= c->out_acct;
	c->out_acct = 0;
	c->runnable = false;
	atomic_fetch_sub(&w->srv->nconns, 1);
	jw_free(&c->in);
	jw_free(&c->out);
	conn_free_auth(c);
	dp_sasl_free(c->sasl);
	c->sasl = NULL;
	c->state = CS_FREE;
	c->gen++;
	atomic_fetch_sub(&w->nconn_open, 1);
	if (c->dirty) {
		for (uint32_t i = 0; i < w->ndirty; i++)
			if (w->dirty[i] == c)
				w->dirty[i] = NULL;
		c->dirty = false;
	}
	w->free_slots[w->nfree++] = c->slot;
}

struct dp_conn *dp_conn_lookup(struct dp_worker *w, struct zconn_ref r)
{
	if (r.slot >= w->nconns)
		return NULL;
	struct dp_conn *c = w->conns[r.slot];
	if (c->gen != r.gen || c->state == CS_FREE)
		return NULL;
	return c;
}

/* Messages to the sequencer leave together, at the end of a loop pass
 * (or when 64 are waiting): one ring operation and at most one wake-up
 * for a burst of requests, instead of one each.  What the ring cannot
 * take stays in w->post (in order) and new requests wait meanwhile. */
void dp_post_flush(struct dp_worker *w)
{
	if (w->post.head)
		w->post_full = !zab_post_list(w->srv->seq, w->idx, &w->post);
}

void dp_post(struct dp_worker *w, struct zmsg *m)
{
	zmsg_list_add(&w->post, m);
	if (w->post.n >= 64)
		dp_post_flush(w);
}

int64_t dp_outstanding(const struct dp_server *d)
{
	int64_t n = 0;
	for (int i = 0; i < d->n; i++)
		n += atomic_load_explicit(&d->w[i].outstanding,
					  memory_order_relaxed);
	return n;
}

/* ------------------------------------------------------------------ */
/* Accepting, heartbeats, the loop                                       */
/* ------------------------------------------------------------------ */
/* The connection-rate throttle (ZooKeeper's BlueThrottle token bucket:
 * connection_throttle_tokens at most, fill_count more every fill_time
 * ms).  Takes a token (true), or says when the next one comes.  Where
 * ZooKeeper closes a connection that finds the bucket empty, paddock
 * leaves it in the listen backlog until a token is there. */
static bool conn_token(struct dp_server *d, int64_t now, int64_t *next_ms)
{
	const struct zcfg *cfg = d->cfg;
	if (cfg->conn_throttle_tokens <= 0)
		return true;
	pthread_mutex_lock(&d->ip_lock);
	int64_t periods = (now - d->fill_ms) / cfg->conn_throttle_fill_ms;
	if (periods > 0) {
		if (periods > cfg->conn_throttle_tokens)
			periods = cfg->conn_throttle_tokens;
		d->tokens += periods * cfg->conn_throttle_fill_count;
		if (d->tokens > cfg->conn_throttle_tokens)
			d->tokens = cfg->conn_throttle_tokens;
		d->fill_ms = now;
	}
	bool ok = d->tokens > 0;
	if (ok)
		d->tokens--;
	*next_ms = d->fill_ms + cfg->conn_throttle_fill_ms;
	pthread_mutex_unlock(&d->ip_lock);
	return ok;
}

static void conn_token_return(struct dp_server *d)
{
	if (d->cfg->conn_throttle_tokens <= 0)
		return;
	pthread_mutex_lock(&d->ip_lock);
	if (d->tokens < d->cfg->conn_throttle_tokens)
		d->tokens++;
	pthread_mutex_unlock(&d->ip_lock);
}

/* Turn accept events off until `until` (0: back on). */
static void listen_pause(struct dp_worker *w, int64_t until)
{
	w->listen_until = until;
	w->io->listen_set(w->be, !until);
}

static void accept_all(struct dp_worker *w)
{
	struct dp_server *d = w->srv;
	for (;;) {
		int64_t next_ms;
		if (!conn_token(d, zk_clock_ms(CLOCK_MONOTONIC), &next_ms)) {
			listen_pause(w, next_ms);
			return;
		}
		struct dp_link l;
		struct dp_peer peer;
		int rc = w->io->accept(w->be, &l, &peer);
		if (rc) {
			conn_token_return(d);
			if (rc != -EAGAIN)
				dp_log("accept: %s", strerror(-rc));
			return;
		}
		int max = d->cfg->max_cnxns;
		if (max > 0 && atomic_load(&d->nconns) >= max) {
			/* NIOServerCnxnFactory.AcceptThread: close it */
			dp_log("too many connections - max allowed is %d "
			       "(maxCnxns)",
			       max);
			atomic_fetch_add(&w->cnxn_rejected, 1);
			w->io->close(w->be, &l);
			continue;
		}
		if (!ip_take(w->srv, peer.ip)) {
			dp_log("too many connections from %s - max is %d",
			       peer.ip, w->srv->cfg->max_client_cnxns);
			atomic_fetch_add(&w->cnxn_rejected, 1);
			w->io->close(w->be, &l);
			continue;
		}
		struct dp_conn *c = conn_new(w, l.h);
		if (!c) {
			dp_log("refusing %s: %u connections on this worker",
			       peer.ip, w->nconns);
			ip_release(w->srv, peer.ip);
			w->io->close(w->be, &l);
			continue;
		}
		snprintf(c->ip, sizeof(c->ip), "%s", peer.ip);
		c->port = peer.port;
		dp_conn_add_auth(c, "ip", peer.ip, strlen(peer.ip));
		atomic_fetch_add(&w->nconn_open, 1);
		atomic_fetch_add(&d->nconns, 1);
		rc = w->io->attach(w->be, &c->link);
		if (rc) {
			char why[96];
			snprintf(why, sizeof(why), "%s attach: %s", w->io->name,
				 strerror(-rc));
			dp_conn_close(w, c, why);
			continue;
		}
	}
}

/* Tell the sequencer which sessions were active (heartbeats); drop
 * connections whose client stopped reading. */
static void send_touches(struct dp_worker *w)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < w->nconns; i++) {
		struct dp_conn *c = w->conns[i];
		if (c->state != CS_FREE && c->blocked == BW_OUTPUT &&
		    w->now_ms - c->progress_ms > STALL_MS) {
			dp_conn_close(w, c, "client does not read its replies");
			continue;
		}
		if (c->state == CS_NEW &&
		    w->now_ms - c->established_ms > SESSIONLESS_MS) {
			atomic_fetch_add(&w->sessionless_expired, 1);
			dp_conn_close(w, c, "no ConnectRequest within 10 s");
			continue;
		}
		if (c->state == CS_OPEN && c->touched)
			n++;
	}
	if (!n)
		return;
	struct zmsg *m = zmsg_new(ZM_TOUCH, n * (uint32_t)sizeof(int64_t));
	if (!m)
		return;
	uint32_t k = 0;
	for (uint32_t i = 0; i < w->nconns && k < n; i++) {
		struct dp_conn *c = w->conns[i];
		if (c->state == CS_OPEN && c->touched) {
			memcpy(m->body + k * sizeof(int64_t), &c->session,
			       sizeof(int64_t));
			c->touched = false;
			k++;
		}
	}
	dp_post(w, m);
}

struct dp_query {
	void (*fn)(struct dp_worker *w, void *arg);
	void *arg;
};

static void run_query(void *owner, void *arg)
{
	struct dp_query *q = arg;
	q->fn(owner, q->arg);
}

static void wake_worker(void *arg)
{
	struct dp_worker *w = arg;
	w->io->wake(w->be);
}

void dp_ask(struct dp_server *d, struct dp_worker *self, int i,
	    void (*fn)(struct dp_worker *w, void *arg), void *arg)
{
	struct dp_worker *w = &d->w[i];
	if (w == self) {
		fn(w, arg);
		return;
	}
	struct dp_query dq = {fn, arg};
	struct zab_ask q = {.fn = run_query, .arg = &dq};
	if (!zab_ask(&w->query, &q, wake_worker, w, self ? &self->query : NULL,
		     self))
		fn(w, arg); /* w's loop has ended */
}

void dp_ask_all(struct dp_server *d, struct dp_worker *self,
		void (*fn)(struct dp_worker *w, void *arg), void *arg)
{
	for (int i = 0; i < d->n; i++)
		dp_ask(d, self, i, fn, arg);
}

static void *worker_main(void *arg)
{
	struct dp_worker *w = arg;
	struct dp_event evs[DP_POLL_MAX];
	char name[16];
	snprintf(name, sizeof(name), "pdk-w%d", w->idx);
	pthread_setname_np(pthread_self(), name);
	rcu_register_thread();
	w->next_touch = zk_clock_ms(CLOCK_MONOTONIC) + TOUCH_MS;
	while (atomic_load(&w->srv->running)) {
		int64_t others = dp_outstanding(w->srv);
		w->others = others - atomic_load_explicit(&w->outstanding,
							  memory_order_relaxed);
		int64_t now = zk_clock_ms(CLOCK_MONOTONIC);
		w->now_ms = now;
		dp_process_msgs(w, -1);
		dp_run_ready(w);
		dp_watch_disarm_if_idle(w);
		zab_answer(&w->query, w);
		if (now >= w->next_touch) {
			send_touches(w);
			w->next_touch = now + TOUCH_MS;
		}
		if (w->listen_until && now >= w->listen_until)
			listen_pause(w, 0);
		dp_flush_dirty(w);
		dp_post_flush(w);
		int64_t wake_at = w->next_touch;
		if (w->listen_until && w->listen_until < wake_at)
			wake_at = w->listen_until;
		if (w->post_full && now + 1 < wake_at)
			wake_at = now + 1; /* the sequencer's ring was full */
		int timeout = (int)(wake_at - now);
		if (timeout < 0 || w->nrun)
			timeout = 0;
		/* a spinning backend (DPDK) never blocks: the sequencer
		 * need not wake it, and RCU need not wait for it */
		bool spin = w->io->spins && w->io->spins(w->be);
		bool sleep = !spin && zab_sleep_prepare(w->srv->seq, w->idx);
		if (!sleep)
			timeout = 0;
		if (timeout)
			rcu_thread_offline();
		int n = w->io->poll(w->be, timeout, evs, DP_POLL_MAX);
		if (timeout)
			rcu_thread_online();
		if (sleep)
			zab_sleep_done(w->srv->seq, w->idx);
		for (int i = 0; i < n; i++) {
			uint32_t what = evs[i].what;
			if (what & DP_EV_ACCEPT) {
				accept_all(w);
				continue;
			}
			uint64_t u = evs[i].token;
			uint32_t slot = (uint32_t)u, gen = (uint32_t)(u >> 32);
			if (slot >= w->nconns)
				continue;
			struct dp_conn *c = w->conns[slot];
			if (c->gen != gen || c->state == CS_FREE)
				continue;
			if (what & DP_EV_OUT)
				dp_mark_dirty(w, c);
			if (c->no_read && (what & DP_EV_HUP)) {
				dp_conn_close(w, c, NULL); /* gone, unread */
				continue;
			}
			if (what & (DP_EV_IN | DP_EV_HUP))
				dp_conn_readable(w, c);
		}
		dp_post_flush(w); /* the sequencer starts on them meanwhile */
		dp_flush_dirty(w);
		rcu_quiescent_state();
	}
	for (uint32_t i = 0; i < w->nconns; i++)
		if (w->conns[i]->state != CS_FREE)
			dp_conn_close(w, w->conns[i], NULL);
	dp_post_flush(w); /* what the ring does not take is freed below */
	zab_ask_close(&w->query, w); /* dp_ask now reads w itself */
	rcu_unregister_thread();
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Server                                                                */
/* ------------------------------------------------------------------ */
struct dp_server *dp_server_create(const struct zcfg *cfg, struct tree *tree,
				   struct zab_seq *seq, char *err,
				   size_t err_len)
{
	struct dp_server *d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	d->cfg = cfg;
	d->tree = tree;
	d->seq = seq;
	d->n = cfg->workers;
	if (dp_sasl_init(cfg, err, err_len)) {
		free(d);
		return NULL;
	}
	d->start_ms = zk_clock_ms(CLOCK_MONOTONIC);
	/* Prometheus' summary window (hist.c): the Java client's default
	 * maxAgeSeconds, 600; PADDOCK_SUMMARY_MAX_AGE_MS for tests */
	d->win_ms = 600000;
	const char *age = getenv("PADDOCK_SUMMARY_MAX_AGE_MS");
	if (age && *age) {
		char *end;
		long long v = strtoll(age, &end, 10);
		if (!*end && v >= ZK_HIST_SLOTS)
			d->win_ms = v;
		else
			dp_log("PADDOCK_SUMMARY_MAX_AGE_MS=%s: not a number of "
			       "ms >= %d, using 600000", age, ZK_HIST_SLOTS);
	}
	/* the sequencer's ZAB latencies and BASIC summaries (the log's
	 * too) in the same window */
	zab_seq_summary_window(seq, d->start_ms, d->win_ms / ZK_HIST_SLOTS);
	d->tokens = cfg->conn_throttle_tokens;
	d->fill_ms = d->start_ms;
	pthread_mutex_init(&d->ip_lock, NULL);
	d->w = calloc((size_t)d->n, sizeof(*d->w));
	if (!d->w) {
		snprintf(err, err_len, "out of memory");
		goto fail;
	}
	const struct dp_backend_ops *io =
	    cfg->dpdk ? &dp_dpdk_backend : &dp_tcp_backend;
	if (io->check(cfg, err, err_len))
		goto fail;
	for (int i = 0; i < d->n; i++) {
		struct dp_worker *w = &d->w[i];
		w->srv = d;
		w->idx = i;
		w->io = io;
		w->watches = wt_new();
		w->capconns = DP_MAX_CONNS;
		w->conns = calloc(w->capconns, sizeof(*w->conns));
		w->free_slots = calloc(w->capconns, sizeof(*w->free_slots));
		if (!w->conns || !w->free_slots) {
			snprintf(err, err_len, "out of memory");
			goto fail;
		}
		w->mq_cap = MSG_BURST;
		for (int k = 0; k < DP_LAT_KINDS; k++)
			zk_hist_init(&w->lat[k], d->start_ms,
				     d->win_ms / ZK_HIST_SLOTS);
		for (int k = 0; k < DP_WATCH_EVENTS; k++)
			zk_hist_init(&w->watchers[k].h, d->start_ms,
				     d->win_ms / ZK_HIST_SLOTS);
		w->srv_lat.min = INT64_MAX;
		w->resp_min = INT64_MAX;
		/* recovered state: no events will come for what is already
		 * in the tree */
		w->seen = tree_applied_zxid(tree);
		w->mq = calloc(w->mq_cap, sizeof(*w->mq));
		if (!w->watches || !w->mq) {
			snprintf(err, err_len, "out of memory");
			goto fail;
		}
		w->be = io->open(cfg, i, zab_worker_fd(seq, i), err, err_len);
		if (!w->be)
			goto fail;
	}
	return d;
fail:
	dp_server_destroy(d);
	return NULL;
}

int dp_server_start(struct dp_server *d)
{
	atomic_store(&d->running, 1);
	for (int i = 0; i < d->n; i++) {
		int rc = pthread_create(&d->w[i].thread, NULL, worker_main,
					&d->w[i]);
		if (rc) {
			atomic_store(&d->running, 0);
			for (int k = 0; k < i; k++)
				pthread_join(d->w[k].thread, NULL);
			return -rc;
		}
	}
	return 0;
}

void dp_server_stop(struct dp_server *d)
{
	if (!atomic_exchange(&d->running, 0))
		return;
	for (int i = 0; i < d->n; i++)
		d->w[i].io->wake(d->w[i].be);
	for (int i = 0; i < d->n; i++)
		pthread_join(d->w[i].thread, NULL);
}

void dp_server_destroy(struct dp_server *d)
{
	if (!d)
		return;
	dp_server_stop(d);
	for (int i = 0; d->w && i < d->n; i++) {
		struct dp_worker *w = &d->w[i];
		if (w->be)
			w->io->destroy(w->be);
		wt_free(w->watches);
		for (unsigned k = 0; k < w->mq_n; k++)
			zmsg_free(w->mq[w->mq_head + k]);
		free(w->mq);
		for (struct zmsg *m; (m = zmsg_list_pop(&w->post));)
			zmsg_free(m);
		free(w->run);
		for (uint32_t k = 0; k < w->nconns; k++)
			free(w->conns[k]);
		free(w->conns);
		free(w->free_slots);
		free(w->dirty);
		jw_free(&w->scratch);
		zorder_buf_free(&w->zorder);
	}
	free(d->w);
	while (d->ips) {
		struct ipcount *n = d->ips->next;
		free(d->ips);
		d->ips = n;
	}
	pthread_mutex_destroy(&d->ip_lock);
	free(d);
	dp_sasl_shutdown();
}
