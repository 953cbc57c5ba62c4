/*
 * jute.c — framing, flow control and batched output of client
 * connections: the byte stream between the backend (backend_int.h) and
 * the request code (proto.c).
 *
 * Input: a readable connection is read into its buffer (at most
 * READ_BUDGET bytes a loop pass, so one client's burst cannot keep the
 * worker from the others) and split into jute frames (int32 length, at
 * most jute.maxbuffer, else the connection is closed — ZooKeeper's
 * NIOServerCnxn.readLength).  The first frame is a ConnectRequest, or
 * four bytes naming a four-letter word (fourlw.c).
 *
 * Flow control (dataplane/PROTOCOL.md §1.1): a frame that must wait (a
 * read behind its connection's writes, a write over an outstanding
 * limit, anything while too many replies are unsent) stays unparsed in
 * the connection's input buffer; once IN_HIGH bytes wait there the
 * backend stops reporting it readable (the kernel's buffers and the
 * client's send() hold the rest).  dp_wake_conn puts it on the run list
 * when it may go on.
 *
 * Output: replies are framed into the connection's output buffer and
 * the connection goes on the dirty list; at the end of a loop pass each
 * dirty connection's output leaves in one backend send (one batch).
 * What the backend cannot take waits with write interest on.
 *
 * Ordering (ARCHITECTURE.md guarantee 2): frames are handled strictly in
 * the order received; a waiting frame holds back every later one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dataplane/dataplane_int.h"

#define READ_CHUNK 65536
/* Per loop pass a connection is read at most this much. */
#define READ_BUDGET (READ_CHUNK / 2)
/* A blocked connection is still read until this many bytes wait in its
 * input buffer; then read interest goes off. */
#define IN_HIGH (256u << 10)
/* Above OUT_HIGH bytes of unsent replies a connection's requests wait
 * (and then its link is not read) until its client reads; watch events
 * and replies to writes already at the sequencer still queue, up to
 * MAX_OUT_PENDING, beyond which the connection is closed. */
#define OUT_HIGH (32u << 20)
#define MAX_OUT_PENDING (64u << 20)
/* Above this many unsent bytes on the whole worker, only connections
 * with nothing unsent may take new requests. */
#define WORKER_OUT_HIGH (256ll << 20)
/* A connection with writes at the sequencer takes no more while these
 * bytes of its requests are there. */
#define CONN_INFLIGHT_BYTES (4 << 20)

/* ------------------------------------------------------------------ */
/* Output                                                                */
/* ------------------------------------------------------------------ */
/* Every append to c->out ends here. */
void dp_mark_dirty(struct dp_worker *w, struct dp_conn *c)
{
	dp_out_account(w, c);
	if (c->dirty)
		return;
	if (w->ndirty == w->capdirty) {
		uint32_t cap = w->capdirty ? w->capdirty * 2 : 256;
		struct dp_conn **n = realloc(w->dirty, cap * sizeof(*n));
		if (!n)
			return; /* flushed on the next writable event/pass */
		w->dirty = n;
		w->capdirty = cap;
	}
	c->dirty = true;
	w->dirty[w->ndirty++] = c;
}

/* Set the connection's backend interest from want_write / no_read. */
static void conn_arm(struct dp_worker *w, struct dp_conn *c)
{
	w->io->interest(w->be, &c->link, !c->no_read, c->want_write);
}

/* ------------------------------------------------------------------ */
/* Reply frames                                                          */
/* ------------------------------------------------------------------ */
void dp_reply_begin(struct jw *o, size_t *at, int32_t xid, int64_t zxid,
		    int32_t err)
{
	*at = jw_frame_begin(o);
	jw_int(o, xid);
	jw_long(o, zxid);
	jw_int(o, err);
}

void dp_send_frame(struct dp_worker *w, struct dp_conn *c, const void *body,
		   size_t len, int32_t xid, int64_t zxid, int32_t err)
{
	size_t at;
	dp_reply_begin(&c->out, &at, xid, zxid, err);
	jw_bytes(&c->out, body, len);
	jw_frame_end(&c->out, at);
	dp_count_reply(w, (int64_t)(c->out.len - at - 4), false);
	dp_stat_add(&c->sent, 1);
	dp_stat_add(&w->packets_sent, 1);
	if (zxid > 0)
		c->last_zxid = zxid;
	dp_mark_dirty(w, c);
}

/* c's next frame may be handled now: parse it again in this pass. */
void dp_wake_conn(struct dp_worker *w, struct dp_conn *c)
{
	if (!c->blocked || c->runnable)
		return;
	if (w->nrun == w->caprun) {
		uint32_t cap = w->caprun ? w->caprun * 2 : 256;
		struct dp_conn **n = realloc(w->run, cap * sizeof(*n));
		if (!n)
			return; /* its next reply or writable event: again */
		w->run = n;
		w->caprun = cap;
	}
	c->runnable = true;
	w->run[w->nrun++] = c;
}

/* ------------------------------------------------------------------ */
/* Input: frames and flow control                                        */
/* ------------------------------------------------------------------ */
/* Whether c's next request (a complete frame of an open connection) must
 * wait, and why.  Reads wait behind the connection's own writes (FIFO);
 * writes wait while the connection has too many at the sequencer, or the
 * server has globalOutstandingLimit outstanding (ZooKeeperServer.
 * shouldThrottle: only connections with something outstanding stop), or
 * the sequencer's ring is full.  Anything waits while too many replies
 * are unsent.  A connection with nothing outstanding and nothing unsent
 * always gets one request through, so every connection progresses. */
static enum block_why must_wait(struct dp_worker *w, struct dp_conn *c,
				const uint8_t *body, size_t len)
{
	const struct zcfg *cfg = w->srv->cfg;
	size_t unsent = dp_out_pending(c);
	if (unsent > OUT_HIGH ||
	    (unsent && w->out_bytes > WORKER_OUT_HIGH))
		return BW_OUTPUT;
	if (len < 8 || !c->inflight)
		return BW_NONE;
	int32_t op = jr_int_at(body + 4);
	if (dp_op_is_read(op))
		return BW_ORDER;
	if (!dp_op_is_write(op))
		return BW_NONE;
	int conn_limit = cfg->conn_outstanding_limit
				 ? cfg->conn_outstanding_limit
				 : cfg->global_outstanding_limit;
	int64_t mine = atomic_load_explicit(&w->outstanding,
					    memory_order_relaxed);
	if (c->inflight >= conn_limit ||
	    c->inflight_bytes >= CONN_INFLIGHT_BYTES ||
	    w->others + mine >= cfg->global_outstanding_limit ||
	    w->post_full)
		return BW_LIMIT;
	return BW_NONE;
}

static void conn_block(struct dp_worker *w, struct dp_conn *c,
		       enum block_why why, enum block_why was)
{
	if (was != why) {
		if (why == BW_LIMIT)
			atomic_fetch_add_explicit(&w->throttled_ops, 1,
						  memory_order_relaxed);
		if (why == BW_OUTPUT)
			c->progress_ms = w->now_ms;
	}
	c->blocked = (uint8_t)why;
	if (why != BW_OUTPUT)
		c->touched = true; /* alive: its requests wait on us */
	if (why == BW_OUTPUT)
		dp_mark_dirty(w, c);
}

static void parse_burst(struct dp_worker *w, struct dp_conn *c);

/* Handle every complete frame in c->in that need not wait.  The reads
 * answered are timed together: one clock read before the burst, one
 * after (ZooKeeper's readlatency; a read waiting behind others in the
 * burst is charged the whole burst). */
static void parse_frames(struct dp_worker *w, struct dp_conn *c)
{
	w->rx_us = zk_clock_us(CLOCK_MONOTONIC);
	w->burst_reads = 0;
	parse_burst(w, c);
	if (w->burst_reads) {
		int64_t us = zk_clock_us(CLOCK_MONOTONIC) - w->rx_us;
		if (c->state == CS_FREE) {
			zk_hist_add(&w->lat[DP_LAT_READ], us, w->burst_reads,
				    w->now_ms);
			dp_lat_add(&w->srv_lat, us, w->burst_reads);
		} else
			dp_record_latency(w, c, us, w->burst_reads,
					  DP_LAT_READ);
	}
}

static void parse_burst(struct dp_worker *w, struct dp_conn *c)
{
	int32_t maxbuf = w->srv->cfg->jute_maxbuffer;
	enum block_why was = (enum block_why)c->blocked;
	c->blocked = BW_NONE;
	while (c->state != CS_FREE && c->state != CS_CLOSING) {
		size_t avail = c->in.len - c->in_off;
		const uint8_t *p = c->in.p + c->in_off;
		if (avail < 4)
			break;
		if (c->state == CS_NEW && c->in_off == 0 && dp_4lw_known(p)) {
			c->in_off = c->in.len; /* ignore what follows */
			dp_stat_add(&w->packets_recv, 1);
			size_t before = c->out.len;
			if (dp_4lw(w, p, p + 4, avail - 4, &c->out)) {
				dp_count_4lw_reply(w, c->out.len - before);
				c->state = CS_CLOSING;
				dp_mark_dirty(w, c);
			} else {
				/* "dump": the sequencer owns the sessions */
				struct zmsg *m = zmsg_new(ZM_DUMP, 0);
				if (!m) {
					dp_conn_close(w, c, "out of memory");
					return;
				}
				m->conn = (struct zconn_ref){(uint16_t)w->idx,
							     c->slot, c->gen};
				c->state = CS_SESSION;
				dp_post(w, m);
			}
			break;
		}
		int32_t flen = jr_int_at(p);
		if (flen < 0 || flen > maxbuf) {
			char why[96];
			snprintf(why, sizeof(why),
				 "frame length %d outside 0..%d (jute.maxbuffer)",
				 flen, maxbuf);
			dp_conn_close(w, c, why);
			return;
		}
		if (avail - 4 < (size_t)flen)
			break;
		const uint8_t *body = p + 4;
		enum block_why why = BW_NONE;
		if (c->state == CS_SESSION)
			why = BW_SESSION;
		else if (c->state == CS_OPEN)
			why = must_wait(w, c, body, (size_t)flen);
		if (why) {
			conn_block(w, c, why, was);
			break;
		}
		c->in_off += 4 + (size_t)flen;
		c->touched = true;
		if (c->state == CS_NEW)
			dp_handle_connect(w, c, body, (size_t)flen);
		else
			dp_handle_request(w, c, body, (size_t)flen);
	}
	if (c->state == CS_FREE)
		return;
	/* compact */
	if (c->in_off == c->in.len) {
		c->in.len = c->in_off = 0;
	} else if (c->in_off > 0) {
		memmove(c->in.p, c->in.p + c->in_off, c->in.len - c->in_off);
		c->in.len -= c->in_off;
		c->in_off = 0;
	}
}

/* Turn reading of c's link on or off: off while c is blocked and its
 * input buffer is full enough. */
static void conn_set_read(struct dp_worker *w, struct dp_conn *c, bool on)
{
	if (c->no_read == !on || c->state == CS_FREE)
		return;
	c->no_read = !on;
	conn_arm(w, c);
}

void dp_conn_readable(struct dp_worker *w, struct dp_conn *c)
{
	size_t budget = READ_BUDGET;
	while (budget) {
		if (c->blocked && c->in.len - c->in_off >= IN_HIGH) {
			conn_set_read(w, c, false); /* resumed by run_ready */
			return;
		}
		if (!jw_reserve(&c->in, READ_CHUNK)) {
			dp_conn_close(w, c, "out of memory");
			return;
		}
		size_t room = c->in.cap - c->in.len;
		if (room > budget)
			room = budget;
		ssize_t n =
		    w->io->recv(w->be, &c->link, c->in.p + c->in.len, room);
		if (n > 0) {
			c->in.len += (size_t)n;
			budget -= (size_t)n;
			dp_stat_add(&w->bytes_in, n);
			if (!c->blocked)
				parse_frames(w, c);
			if (c->state == CS_FREE || c->state == CS_CLOSING)
				return;
			/* a short read took what was there: the link is
			 * reported again if more comes (one recv per
			 * readiness, not two) */
			if ((size_t)n < room)
				return;
			continue;
		}
		if (n == -EAGAIN)
			return;
		dp_stat_add(&w->conn_drops, 1); /* the client went */
		dp_conn_close(w, c, NULL);
		return;
	}
}

/* Parse again the connections whose next frame may now go (a reply, a
 * session, drained output), and read their links again. */
void dp_run_ready(struct dp_worker *w)
{
	for (uint32_t i = 0; i < w->nrun; i++) {
		struct dp_conn *c = w->run[i];
		if (!c->runnable)
			continue; /* closed since */
		c->runnable = false;
		parse_frames(w, c);
		if (c->state == CS_FREE)
			continue;
		if (!c->blocked || c->in.len - c->in_off < IN_HIGH)
			conn_set_read(w, c, true);
	}
	w->nrun = 0;
}

/* ------------------------------------------------------------------ */
/* Batched sends                                                         */
/* ------------------------------------------------------------------ */
static void conn_flush(struct dp_worker *w, struct dp_conn *c)
{
	while (c->out_off < c->out.len) {
		struct iovec iov = {c->out.p + c->out_off,
				    c->out.len - c->out_off};
		ssize_t n = w->io->send(w->be, &c->link, &iov, 1);
		if (n > 0) {
			c->out_off += (size_t)n;
			c->progress_ms = w->now_ms;
			continue;
		}
		if (n == -EAGAIN) {
			dp_out_account(w, c);
			if (dp_out_pending(c) > MAX_OUT_PENDING) {
				dp_conn_close(
				    w, c, "client does not read its replies");
				return;
			}
			if (c->blocked == BW_OUTPUT &&
			    dp_out_pending(c) <= OUT_HIGH / 2)
				dp_wake_conn(w, c);
			if (!c->want_write) {
				c->want_write = true;
				conn_arm(w, c);
			}
			return;
		}
		dp_conn_close(w, c, NULL);
		return;
	}
	c->out.len = c->out_off = 0;
	dp_out_account(w, c);
	if (c->out.cap > (1u << 20)) {
		jw_free(&c->out); /* give back a burst's big buffer */
	}
	if (c->state == CS_CLOSING) {
		dp_conn_close(w, c, NULL);
		return;
	}
	if (c->blocked == BW_OUTPUT)
		dp_wake_conn(w, c);
	if (c->want_write) {
		c->want_write = false;
		conn_arm(w, c);
	}
}

void dp_flush_dirty(struct dp_worker *w)
{
	for (uint32_t i = 0; i < w->ndirty; i++) {
		struct dp_conn *c = w->dirty[i];
		if (!c)
			continue;
		c->dirty = false;
		if (c->state != CS_FREE)
			conn_flush(w, c);
	}
	w->ndirty = 0;
}
