/*
 * worker.c — per-core worker loop, above the connection backend
 * (backend_int.h; kernel TCP in io_tcp.c).
 *
 * One pass: (1) process messages from the sequencer (replies, watch
 * events, session results) and parse again the connections they
 * unblocked, (2) poll the backend — blocking, RCU offline, only when the
 * sequencer ring is empty and no connection is runnable, (3) read each
 * ready connection (at most READ_BUDGET bytes a pass) and handle every
 * complete frame that need not wait, (4) post to the sequencer and send
 * each dirty connection's output as one batch, (5) report an RCU
 * quiescent state.
 *
 * Flow control (dataplane/PROTOCOL.md §1.1): a frame that must wait (a
 * read behind its connection's writes, a write over an outstanding
 * limit, anything while too many replies are unsent) stays unparsed in
 * the connection's input buffer; once IN_HIGH bytes wait there the
 * socket is not read.  Nothing here waits for the sequencer: posts the
 * ring cannot take stay in w->post and block new writes meanwhile.
 *
 * Ordering (ARCHITECTURE.md guarantees 2 and 3):
 *  - a connection's requests are answered in order: while it has writes at
 *    the sequencer, later reads wait in its backlog;
 *  - before a reply that shows data at zxid Z is queued, every sequencer
 *    message with zxid <= Z has been processed, so watch events for those
 *    changes precede the reply; messages with larger zxids stay queued, so
 *    a watch set by this very read still sees them (ZooKeeper's
 *    FinalRequestProcessor order).
 *
 * Request semantics follow ZooKeeper 3.8 FinalRequestProcessor (reads) and
 * ServerCnxn (auth, ping, setWatches).  Writes are parsed by the
 * sequencer.  Wire layouts: dataplane/PROTOCOL.md.
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

#define READ_CHUNK 65536
/* Per loop pass a connection's socket is read at most this much, so one
 * client's burst cannot keep the worker from the others. */
#define READ_BUDGET (READ_CHUNK / 2)
/* A blocked connection's socket is still read until this many bytes wait
 * in its input buffer; then read interest goes off and the kernel's buffers
 * (and the client's send()) hold the rest. */
#define IN_HIGH (256u << 10)
/* Above OUT_HIGH bytes of unsent replies a connection's requests wait
 * (and then its socket is not read) until its client reads; watch events
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
/* A connection blocked on its unsent output (OUT_HIGH) that moved none
 * of it for this long is dropped: the client stopped reading. */
#define STALL_MS 5000
/* A connection that has not completed a ConnectRequest (nor asked a
 * four-letter word) after this long is closed: ZooKeeper's
 * zookeeper.nio.sessionlessCnxnTimeout default.  Otherwise idle sockets
 * could hold maxCnxns / maxClientCnxns slots for ever. */
#define SESSIONLESS_MS 10000
#define MSG_BURST 256

/* Why a connection's next complete frame waits (dp_conn.blocked). */
enum block_why {
	BW_NONE = 0,
	BW_SESSION, /* ConnectRequest at the sequencer */
	BW_ORDER,   /* a read behind the connection's own writes */
	BW_LIMIT,   /* an outstanding-request limit or a full ring */
	BW_OUTPUT,  /* too many unsent replies */
};

static void post(struct dp_worker *w, struct zmsg *m);
static void post_flush(struct dp_worker *w);
#define TOUCH_MS 250


static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
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
/* Connections                                                           */
/* ------------------------------------------------------------------ */
static size_t out_pending(const struct dp_conn *c)
{
	return c->out.len - c->out_off;
}

/* Keep w->out_bytes (the worker's unsent bytes) equal to the sum of its
 * connections' out_pending(), after c's output grew or shrank. */
static void out_account(struct dp_worker *w, struct dp_conn *c)
{
	int64_t now = (int64_t)out_pending(c);
	w->out_bytes += now - c->out_acct;
	c->out_acct = now;
}

/* Every append to c->out ends here. */
static void mark_dirty(struct dp_worker *w, struct dp_conn *c)
{
	out_account(w, c);
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

/* Request latency (receive to reply queued), for stat/srvr/mntr/cons.
 * Only this worker writes its counters. */
static void record_latency(struct dp_worker *w, struct dp_conn *c,
			   int64_t t0)
{
	int64_t us = w->mq_us - t0; /* one clock read per dequeued batch */
	if (us < 0)
		us = 0;
	if (us < atomic_load_explicit(&w->lat_min, memory_order_relaxed))
		atomic_store_explicit(&w->lat_min, us, memory_order_relaxed);
	if (us > atomic_load_explicit(&w->lat_max, memory_order_relaxed))
		atomic_store_explicit(&w->lat_max, us, memory_order_relaxed);
	atomic_fetch_add_explicit(&w->lat_sum, us, memory_order_relaxed);
	atomic_fetch_add_explicit(&w->lat_n, 1, memory_order_relaxed);
	if (us < c->lat_min)
		c->lat_min = us;
	if (us > c->lat_max)
		c->lat_max = us;
	c->lat_sum += us;
	c->lat_n++;
}

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

static void conn_close(struct dp_worker *w, struct dp_conn *c,
		       const char *why)
{
	if (c->state == CS_FREE)
		return;
	if (why)
		logf_("closing connection %s:%d session 0x%llx: %s", c->ip,
		      c->port, (unsigned long long)c->session, why);
	if (c->session && c->state != CS_NEW) {
		struct zmsg *m = zmsg_new(ZM_DETACH, 0);
		if (m) {
			m->session = c->session;
			m->conn = (struct zconn_ref){(uint16_t)w->idx, c->slot,
						     c->gen};
			post(w, m);
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

static struct dp_conn *conn_lookup(struct dp_worker *w, struct zconn_ref r)
{
	if (r.slot >= w->nconns)
		return NULL;
	struct dp_conn *c = w->conns[r.slot];
	if (c->gen != r.gen || c->state == CS_FREE)
		return NULL;
	return c;
}

/* The bin of an id in ZooKeeper's authInfo, a set over a
 * ConcurrentHashMap of 16 bins (never resized below 13 ids): Java's
 * spread(hashCode) & 15, with jute's Id.hashCode = 37 * (37 * 17 +
 * scheme.hashCode()) + id.hashCode() (Java int arithmetic: wraps). */
static unsigned auth_bin(const char *scheme, const char *id, size_t id_len)
{
	uint32_t h = 37u * (37u * 17u + (uint32_t)zk_java_hash(
					     scheme, strlen(scheme))) +
		     (uint32_t)zk_java_hash(id, id_len);

	return (h ^ (h >> 16)) & 15;
}

/* Add an id to the connection's set, in the order ZooKeeper iterates
 * its authInfo (bin by bin, each bin in insertion order): whoAmI lists
 * them so and the "auth" ACL scheme expands to them so. */
static int add_auth(struct dp_conn *c, const char *scheme, const char *id,
		    size_t id_len)
{
	for (int i = 0; i < c->nauth; i++)
		if (!strcmp(c->auth[i].scheme, scheme) &&
		    strlen(c->auth[i].id) == id_len &&
		    !memcmp(c->auth[i].id, id, id_len))
			return 0;
	if (c->nauth == DP_MAX_AUTH)
		return -1;
	char *s = strdup(scheme), *i = strndup(id, id_len);
	if (!s || !i) {
		free(s);
		free(i);
		return -1;
	}
	unsigned bin = auth_bin(s, i, id_len);
	int at = c->nauth;
	while (at > 0 && auth_bin(c->auth[at - 1].scheme, c->auth[at - 1].id,
				  strlen(c->auth[at - 1].id)) > bin) {
		c->auth[at] = c->auth[at - 1];
		at--;
	}
	c->auth[at].scheme = s;
	c->auth[at].id = i;
	c->nauth++;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Replies                                                               */
/* ------------------------------------------------------------------ */
static void reply_begin(struct jw *o, size_t *at, int32_t xid, int64_t zxid,
			int32_t err)
{
	*at = jw_frame_begin(o);
	jw_int(o, xid);
	jw_long(o, zxid);
	jw_int(o, err);
}

static void send_frame(struct dp_worker *w, struct dp_conn *c,
		       const void *body, size_t len, int32_t xid, int64_t zxid,
		       int32_t err)
{
	size_t at;
	reply_begin(&c->out, &at, xid, zxid, err);
	jw_bytes(&c->out, body, len);
	jw_frame_end(&c->out, at);
	atomic_fetch_add(&c->sent, 1);
	atomic_fetch_add(&w->packets_sent, 1);
	if (zxid > 0)
		c->last_zxid = zxid;
	mark_dirty(w, c);
}

static void notify(struct wt_owner *o, void *arg)
{
	struct dp_worker *w = ((void **)arg)[0];
	struct zmsg *m = ((void **)arg)[1];
	const struct zacl *acl = ((void **)arg)[2];
	struct dp_conn *c = (struct dp_conn *)((char *)o -
					       offsetof(struct dp_conn, watches));
	if (c->state != CS_OPEN ||
	    (acl && zacl_check(acl, ZPERM_READ, c->auth, c->nauth)))
		return;
	size_t at;
	reply_begin(&c->out, &at, ZXID_NOTIFICATION, -1, 0);
	jw_int(&c->out, m->err);
	jw_int(&c->out, ZK_STATE_SYNC_CONNECTED);
	jw_buf(&c->out, m->body, (int32_t)zab_event_path_len(m));
	jw_frame_end(&c->out, at);
	atomic_fetch_add(&c->sent, 1);
	atomic_fetch_add(&w->packets_sent, 1);
	mark_dirty(w, c);
}

/* Messages to the sequencer leave together, at the end of a loop pass
 * (or when 64 are waiting): one ring operation and at most one wake-up
 * for a burst of requests, instead of one each.  What the ring cannot
 * take stays in w->post (in order) and new requests wait meanwhile. */
static void post_flush(struct dp_worker *w)
{
	if (w->post.head)
		w->post_full = !zab_post_list(w->srv->seq, w->idx, &w->post);
}

static void post(struct dp_worker *w, struct zmsg *m)
{
	zmsg_list_add(&w->post, m);
	if (w->post.n >= 64)
		post_flush(w);
}

/* c's next frame may be handled now: parse it again in this pass. */
static void wake_conn(struct dp_worker *w, struct dp_conn *c)
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

/* Only w's thread writes w->outstanding (no atomic read-modify-write
 * needed); other workers and four-letter words read it. */
static void outstanding_add(struct dp_worker *w, int64_t d)
{
	atomic_store_explicit(&w->outstanding,
			      atomic_load_explicit(&w->outstanding,
						   memory_order_relaxed) + d,
			      memory_order_relaxed);
}

int64_t dp_outstanding(const struct dp_server *d)
{
	int64_t n = 0;
	for (int i = 0; i < d->n; i++)
		n += atomic_load_explicit(&d->w[i].outstanding,
					  memory_order_relaxed);
	return n;
}

/* Before a tree read that may set a watch: events from now on. */
static void watch_arm(struct dp_worker *w)
{
	if (!w->watching) {
		zab_watching(w->srv->seq, w->idx, true);
		w->watching = true;
		w->unwatched_ms = -1;
	}
}

/* Between loop passes: no watches left for WATCH_LINGER_MS, no events
 * needed.  (Arming again costs a membarrier: zab_watching; a client
 * that sets a one-shot watch after each event would pay it per event.) */
#define WATCH_LINGER_MS 1000
static void watch_disarm_if_idle(struct dp_worker *w)
{
	if (!w->watching)
		return;
	if (wt_count(w->watches)) {
		w->unwatched_ms = -1;
	} else if (w->unwatched_ms < 0) {
		w->unwatched_ms = w->now_ms;
	} else if (w->now_ms - w->unwatched_ms >= WATCH_LINGER_MS) {
		zab_watching(w->srv->seq, w->idx, false);
		w->watching = false;
	}
}

static void handle_seq_msg(struct dp_worker *w, struct zmsg *m)
{
	struct dp_conn *c;
	switch (m->type) {
	case ZM_EVENT: {
		/* told only with READ in the node's ACL (ZooKeeper 3.8) */
		struct zacl *acl = zab_event_acl(m);
		if (m->auth_len && !acl)
			break; /* ENOMEM: nobody is told rather than anybody */
		void *arg[3] = {w, m, acl};
		wt_trigger(w->watches, m->err, (const char *)m->body,
			   zab_event_path_len(m), m->zxid, notify, arg);
		zacl_unref(acl);
		break;
	}
	case ZM_APPLIED:
		break;
	case ZM_REPLY:
		if (m->op != ZAB_OP_DUMP) /* one per posted request */
			outstanding_add(w, -1);
		c = conn_lookup(w, m->conn);
		if (!c)
			break;
		if (m->op == ZAB_OP_DUMP) { /* text of "dump" */
			jw_bytes(&c->out, m->body, m->len);
			each_conn_dump(w, c);
			c->state = CS_CLOSING;
			mark_dirty(w, c);
			break;
		}
		c->inflight--;
		c->inflight_bytes -= m->req_len;
		if (m->err == ZAB_UNDECODABLE) {
			conn_close(w, c, "malformed request");
			break;
		}
		send_frame(w, c, m->body, m->len, m->xid, m->zxid, m->err);
		record_latency(w, c, m->t0);
		if (m->op == ZOP_CLOSESESSION) {
			c->session = 0; /* closed: no detach */
			c->state = CS_CLOSING;
			break;
		}
		wake_conn(w, c);
		break;
	case ZM_CONNECTED:
		c = conn_lookup(w, m->conn);
		if (!c || c->state != CS_SESSION)
			break;
		if (m->err == ZAB_UNDECODABLE) {
			/* not serving, or behind what the client saw:
			 * ZooKeeper closes without an answer and the client
			 * tries another server */
			c->session = 0;
			conn_close(w, c, "not serving this client now");
			break;
		}
		{
			size_t at = jw_frame_begin(&c->out);
			jw_int(&c->out, 0); /* protocolVersion */
			jw_int(&c->out, m->session ? m->timeout : 0);
			jw_long(&c->out, m->session);
			jw_buf(&c->out, m->body, ZK_PASSWD_LEN);
			if (c->readonly_sent) /* a read-only session */
				jw_bool(&c->out, m->op == 1);
			jw_frame_end(&c->out, at);
		}
		mark_dirty(w, c);
		if (!m->session) {
			logf_("refusing session 0x%llx from %s: expired or "
			      "bad password",
			      (unsigned long long)c->session, c->ip);
			c->session = 0;
			c->state = CS_CLOSING;
			break;
		}
		c->session = m->session;
		c->timeout = m->timeout;
		c->state = CS_OPEN;
		wake_conn(w, c);
		break;
	case ZM_KILL:
		c = conn_lookup(w, m->conn);
		if (c) {
			c->session = 0; /* the sequencer already knows */
			conn_close(w, c, "session expired or moved");
		}
		break;
	}
	if (m->zxid > w->seen && m->type != ZM_CONNECTED)
		w->seen = m->zxid;
}

static bool mq_fill(struct dp_worker *w)
{
	if (w->mq_n)
		return true;
	w->mq_head = 0;
	w->mq_n = zab_poll(w->srv->seq, w->idx, w->mq, w->mq_cap);
	if (w->mq_n)
		w->mq_us = zk_clock_us(CLOCK_MONOTONIC);
	return w->mq_n != 0;
}

/* Process sequencer messages whose zxid is <= upto (all if upto < 0). */
static void process_msgs(struct dp_worker *w, zxid_t upto)
{
	for (;;) {
		if (!mq_fill(w)) {
			if (upto < 0 || w->seen >= upto)
				return;
			post_flush(w);
			sched_yield(); /* the sequencer is about to send it */
			continue;
		}
		struct zmsg *m = w->mq[w->mq_head];
		if (upto >= 0 && m->zxid > upto &&
		    (m->type == ZM_EVENT || m->type == ZM_APPLIED))
			return;
		w->mq_head++;
		w->mq_n--;
		handle_seq_msg(w, m);
		zmsg_free(m);
	}
}

/* ------------------------------------------------------------------ */
/* Reads                                                                 */
/* ------------------------------------------------------------------ */
static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

/* Zxid a NONODE answer reflects: the pzxid of the nearest ancestor. */
static zxid_t absent_zxid(struct tree *t, const char *path, size_t len)
{
	while (len > 1) {
		while (len > 0 && path[len - 1] != '/')
			len--;
		len = len > 1 ? len - 1 : 1;
		const struct znode *n = tree_lookup(t, path, len);
		if (n) {
			struct zview v;
			znode_view(n, &v);
			return v.stat.pzxid;
		}
	}
	return 0;
}

static int put_child(const char *name, size_t len, void *arg)
{
	struct jw *o = ((struct jw **)arg)[0];
	int32_t *count = ((int32_t **)arg)[1];
	jw_buf(o, name, (int32_t)len);
	(*count)++;
	return 0;
}

struct read_ctx {
	struct dp_worker *w;
	struct dp_conn *c;
	struct jw *o;
	zxid_t z;       /* newest zxid the answer reflects */
};

/* Encode the body of a getData/getChildren(2)/exists/getACL answer for
 * path into ctx->o; returns the error code. */
static int read_node(struct read_ctx *x, int op, const char *path,
		     size_t len)
{
	struct tree *t = x->w->srv->tree;
	if (len == 0) /* DataTree keeps the root under "" too */
		path = "/", len = 1;
	if (op == ZOP_EXISTS && memchr(path, 0, len))
		return ZBADARGUMENTS; /* FinalRequestProcessor's exists check */
	const struct znode *n = tree_lookup(t, path, len);
	if (!n) {
		x->z = max64(x->z, absent_zxid(t, path, len));
		return ZNONODE;
	}
	struct zview v;
	znode_view(n, &v);
	x->z = max64(x->z, max64(v.stat.mzxid, v.stat.pzxid));
	const struct zauth_id *ids = x->c->auth;
	int nids = x->c->nauth;
	switch (op) {
	case ZOP_EXISTS:
		jw_stat(x->o, &v.stat);
		return ZOK;
	case ZOP_GETDATA:
		if (zacl_check(v.acl, ZPERM_READ, ids, nids))
			return ZNOAUTH;
		jw_buf(x->o, v.data, v.data_null ? -1 : v.stat.data_length);
		jw_stat(x->o, &v.stat);
		return ZOK;
	case ZOP_GETACL: {
		if (zacl_check(v.acl, ZPERM_READ | ZPERM_ADMIN, ids, nids))
			return ZNOAUTH;
		bool admin = !zacl_check(v.acl, ZPERM_ADMIN, ids, nids);
		jw_acl(x->o, v.acl, !admin);
		jw_stat(x->o, &v.stat);
		return ZOK;
	}
	case ZOP_GETCHILDREN:
	case ZOP_GETCHILDREN2: {
		if (zacl_check(v.acl, ZPERM_READ, ids, nids))
			return ZNOAUTH;
		size_t at = x->o->len;
		int32_t count = 0;
		jw_int(x->o, 0);
		void *arg[2] = {x->o, &count};
		/* in ZooKeeper's order: clients see it (Curator deletes
		 * children in it, say) */
		if (znode_children_zk(t, n, put_child, arg, &x->w->zorder,
				      false) < 0)
			return ZSYSTEMERROR;
		if (!x->o->err)
			jw_put_int_at(x->o->p + at, count);
		if (op == ZOP_GETCHILDREN2)
			jw_stat(x->o, &v.stat);
		return ZOK;
	}
	case ZOP_GETALLCHILDRENNUMBER: {
		if (zacl_check(v.acl, ZPERM_READ, ids, nids))
			return ZNOAUTH;
		int64_t d = znode_descendants(n);
		if (d < 0)
			return ZSYSTEMERROR;
		jw_int(x->o, (int32_t)d);
		return ZOK;
	}
	}
	return ZUNIMPLEMENTED;
}

/* The table a read's one-shot watch goes to. */
static int watch_table(int op)
{
	switch (op) {
	case ZOP_GETDATA:
	case ZOP_EXISTS:
		return WT_DATA;
	case ZOP_GETCHILDREN:
	case ZOP_GETCHILDREN2:
		return WT_CHILD;
	}
	return 0;
}

/* Queue the scratch answer after delivering events up to z, then set the
 * watches the read asked for (they must not fire for zxids <= z). */
static void finish_read(struct dp_worker *w, struct dp_conn *c, int32_t xid,
			int err, zxid_t z)
{
	process_msgs(w, z);
	if (c->state == CS_FREE)
		return;
	zxid_t applied = tree_applied_zxid(w->srv->tree);
	send_frame(w, c, err ? NULL : w->scratch.p, err ? 0 : w->scratch.len,
		   xid, max64(applied, z), err);
}

struct pend_watch {
	const char *path;
	size_t len;
	int table;
};

static void serve_read(struct dp_worker *w, struct dp_conn *c, int32_t xid,
		       int op, struct jr *r)
{
	struct tree *t = w->srv->tree;
	struct read_ctx x = {.w = w, .c = c, .o = &w->scratch};
	struct pend_watch pw[64];
	int npw = 0;
	int err = ZOK;
	unsigned seq;

	if (op == ZOP_MULTIREAD) {
		/* validate the whole record first */
		size_t start = r->off;
		bool wrong_op = false;
		for (;;) {
			int32_t type = jr_int(r);
			bool done = jr_bool(r);
			jr_int(r);
			if (r->err || done)
				break;
			if (type != ZOP_GETDATA && type != ZOP_GETCHILDREN) {
				/* ZooKeeper decodes it, then refuses it:
				 * MARSHALLINGERROR, the connection stays */
				wrong_op = true;
				break;
			}
			int32_t pl;
			jr_buf(r, &pl);
			jr_bool(r);
			if (r->err || pl < 0) {
				r->err = true;
				break;
			}
		}
		if (r->err) {
			conn_close(w, c, "malformed multiRead");
			return;
		}
		if (wrong_op) {
			finish_read(w, c, xid, ZMARSHALLINGERROR,
				    tree_applied_zxid(t));
			return;
		}
		do {
			seq = tree_read_begin(t);
			w->scratch.len = 0;
			npw = 0;
			x.z = 0;
			struct jr rr = *r;
			rr.off = start;
			for (;;) {
				int32_t type = jr_int(&rr);
				bool done = jr_bool(&rr);
				jr_int(&rr);
				if (done)
					break;
				int32_t pl;
				const char *p = jr_buf(&rr, &pl);
				bool watch = jr_bool(&rr);
				size_t hdr = w->scratch.len;
				jw_int(&w->scratch, type);
				jw_bool(&w->scratch, false);
				jw_int(&w->scratch, 0);
				int e = read_node(&x, type, p, (size_t)pl);
				if (e) {
					w->scratch.len = hdr;
					jw_int(&w->scratch, ZOP_ERROR);
					jw_bool(&w->scratch, false);
					jw_int(&w->scratch, e);
					jw_int(&w->scratch, e);
				} else if (watch && npw < 64) {
					pw[npw++] = (struct pend_watch){
						p, (size_t)pl, watch_table(type)};
				}
			}
			jw_int(&w->scratch, -1);
			jw_bool(&w->scratch, true);
			jw_int(&w->scratch, -1);
		} while (tree_read_retry(t, seq));
		goto done;
	}

	if (op == ZOP_WHOAMI) {
		w->scratch.len = 0;
		jw_int(&w->scratch, c->nauth);
		/* ClientInfo(scheme, provider.getUserName(id)): a digest
		 * id "user:hash" shows as "user"; c->auth is in ZooKeeper's
		 * order (add_auth) */
		for (int i = 0; i < c->nauth; i++) {
			const char *id = c->auth[i].id;
			const char *colon = strchr(id, ':');
			jw_str(&w->scratch, c->auth[i].scheme);
			if (colon && !strcmp(c->auth[i].scheme, "digest"))
				jw_buf(&w->scratch, id, (int32_t)(colon - id));
			else
				jw_str(&w->scratch, id);
		}
		x.z = 0;
		goto done;
	}

	int32_t pl;
	const char *p = jr_buf(r, &pl);
	bool watch = false;
	if (op != ZOP_GETACL && op != ZOP_GETALLCHILDRENNUMBER)
		watch = jr_bool(r);
	if (r->err || pl < 0) {
		conn_close(w, c, "malformed read request");
		return;
	}
	if (watch)
		watch_arm(w);
	do {
		seq = tree_read_begin(t);
		w->scratch.len = 0;
		x.z = 0;
		err = read_node(&x, op, p, (size_t)pl);
	} while (tree_read_retry(t, seq));
	if (watch && (err == ZOK || (op == ZOP_EXISTS && err == ZNONODE)))
		pw[npw++] = (struct pend_watch){p, (size_t)pl, watch_table(op)};
	if (op == ZOP_EXISTS && err == ZNONODE) {
		/* exists answers NONODE with no body */
	}
done:
	if (w->scratch.err) {
		w->scratch.err = false;
		err = ZSYSTEMERROR;
		npw = 0;
	}
	finish_read(w, c, xid, err, x.z);
	if (c->state == CS_FREE)
		return;
	for (int i = 0; i < npw; i++)
		wt_add(w->watches, pw[i].path, pw[i].len, &c->watches,
		       pw[i].table, WM_STANDARD, x.z);
}

/* setWatches / setWatches2 (DataTree.setWatches). */
static void serve_setwatches(struct dp_worker *w, struct dp_conn *c,
			     int32_t xid, int op, struct jr *r)
{
	struct tree *t = w->srv->tree;
	int64_t rel = jr_long(r);
	int nvec = op == ZOP_SETWATCHES2 ? 5 : 3;
	size_t start = r->off;
	for (int v = 0; v < nvec; v++) {
		int32_t n = jr_vec(r, 4);
		for (int i = 0; i < n && !r->err; i++) {
			int32_t l;
			jr_buf(r, &l);
			if (l < 0)
				r->err = true;
		}
	}
	if (r->err) {
		conn_close(w, c, "malformed setWatches");
		return;
	}
	watch_arm(w);
	zxid_t z = tree_applied_zxid(t);
	process_msgs(w, z);
	if (c->state == CS_FREE)
		return;
	r->off = start;
	for (int v = 0; v < nvec; v++) {
		int32_t n = jr_vec(r, 4);
		for (int i = 0; i < n; i++) {
			int32_t l;
			const char *p = jr_buf(r, &l);
			const struct znode *node = tree_lookup(t, p, (size_t)l);
			const struct zstat *st = NULL;
			struct zview vw;
			if (node) {
				znode_view(node, &vw);
				st = &vw.stat;
			}
			int ev = 0, table = 0, mode = WM_STANDARD;
			switch (v) {
			case 0: /* data */
				if (!st)
					ev = ZEV_DELETED;
				else if (st->mzxid > rel)
					ev = ZEV_DATA_CHANGED;
				else
					table = WT_DATA;
				break;
			case 1: /* exist */
				if (st)
					ev = ZEV_CREATED;
				else
					table = WT_DATA;
				break;
			case 2: /* child */
				if (!st)
					ev = ZEV_DELETED;
				else if (st->pzxid > rel)
					ev = ZEV_CHILD_CHANGED;
				else
					table = WT_CHILD;
				break;
			case 3:
			case 4:
				table = WT_DATA | WT_CHILD;
				mode = v == 3 ? WM_PERSISTENT : WM_RECURSIVE;
				break;
			}
			if (table) {
				for (int k = WT_DATA; k <= WT_CHILD; k++)
					if (table & k)
						wt_add(w->watches, p, (size_t)l,
						       &c->watches, k, mode, z);
			} else {
				struct zmsg *m = zmsg_new(ZM_EVENT, (uint32_t)l);
				if (!m)
					continue;
				m->err = ev;
				memcpy(m->body, p, (size_t)l);
				/* unfiltered, as ZooKeeper's process(event) */
				void *arg[3] = {w, m, NULL};
				notify(&c->watches, arg);
				zmsg_free(m);
			}
		}
	}
	send_frame(w, c, NULL, 0, xid, z, 0);
}

/* checkWatches / removeWatches / addWatch */
static void serve_watchop(struct dp_worker *w, struct dp_conn *c, int32_t xid,
			  int op, struct jr *r)
{
	int32_t pl;
	const char *p = jr_buf(r, &pl);
	int32_t type = jr_int(r);
	if (r->err || pl < 0) {
		conn_close(w, c, "malformed watch request");
		return;
	}
	if (op == ZOP_ADDWATCH)
		watch_arm(w);
	zxid_t z = tree_applied_zxid(w->srv->tree);
	int err = ZOK;
	if (op == ZOP_ADDWATCH) {
		/* DataTree.addWatch: the mode goes to both tables */
		if (type != 0 && type != 1) {
			/* WatcherMode.fromZooDef throws: MARSHALLINGERROR,
			 * the connection stays */
			err = ZMARSHALLINGERROR;
		} else {
			process_msgs(w, z);
			if (c->state == CS_FREE)
				return;
			int mode = type ? WM_RECURSIVE : WM_PERSISTENT;
			err = wt_add(w->watches, p, (size_t)pl, &c->watches,
				     WT_DATA, mode, z);
			if (!err)
				err = wt_add(w->watches, p, (size_t)pl,
					     &c->watches, WT_CHILD, mode, z);
		}
	} else {
		/* DataTree.removeWatch / containsWatcher by ZooKeeper 3.8's
		 * WatcherType: Children 1, Data 2, Any 3 (Persistent and
		 * PersistentRecursive came in 3.9).  A table's watch of any
		 * mode counts: removing Data from a persistent watch leaves
		 * its child part (WatchManager.removeWatcher) */
		static const int tables[] = {0, WT_CHILD, WT_DATA,
					     WT_DATA | WT_CHILD};
		if (type < 1 || type > 3) {
			err = ZMARSHALLINGERROR; /* WatcherType.fromInt throws */
		} else {
			bool found =
				op == ZOP_REMOVEWATCHES
					? wt_remove(w->watches, p, (size_t)pl,
						    &c->watches, tables[type], 0)
					: wt_has(w->watches, p, (size_t)pl,
						 &c->watches, tables[type], 0);
			if (!found)
				err = ZNOWATCHER;
		}
	}
	/* addWatch answers an ErrorResponse (an int 0) after the header,
	 * which the Java client reads; the other two answer nothing */
	static const uint8_t zero[4];
	bool body = op == ZOP_ADDWATCH && err == ZOK;
	send_frame(w, c, body ? zero : NULL, body ? sizeof(zero) : 0, xid, z,
		   err);
}

/* ------------------------------------------------------------------ */
/* Requests                                                              */
/* ------------------------------------------------------------------ */
static bool is_read(int op)
{
	switch (op) {
	case ZOP_EXISTS:
	case ZOP_GETDATA:
	case ZOP_GETACL:
	case ZOP_GETCHILDREN:
	case ZOP_GETCHILDREN2:
	case ZOP_GETALLCHILDRENNUMBER:
	case ZOP_MULTIREAD:
	case ZOP_WHOAMI:
	case ZOP_PING:
	case ZOP_SETWATCHES:
	case ZOP_SETWATCHES2:
	case ZOP_ADDWATCH:
	case ZOP_REMOVEWATCHES:
	case ZOP_CHECKWATCHES:
		return true;
	}
	return false;
}

static bool is_write(int op)
{
	switch (op) {
	case ZOP_CREATE:
	case ZOP_CREATE2:
	case ZOP_CREATECONTAINER:
	case ZOP_CREATETTL:
	case ZOP_DELETE:
	case ZOP_SETDATA:
	case ZOP_SETACL:
	case ZOP_CHECK:
	case ZOP_MULTI:
	case ZOP_SYNC:
	case ZOP_GETEPHEMERALS:
	case ZOP_CLOSESESSION:
	case ZOP_RECONFIG:	   /* refused by prep, from an error txn */
	case ZOP_DELETECONTAINER: /* likewise */
		return true;
	}
	return false;
}

static void handle_auth(struct dp_worker *w, struct dp_conn *c,
			struct jr *r)
{
	jr_int(r); /* type, always 0 */
	int32_t sl, al;
	const char *scheme = jr_buf(r, &sl);
	const char *auth = jr_buf(r, &al);
	if (r->err || sl < 0) {
		conn_close(w, c, "malformed auth packet");
		return;
	}
	zxid_t z = tree_applied_zxid(w->srv->tree);
	/* IPAuthenticationProvider: whatever the auth bytes, the id is the
	 * connection's own address (already in the set) */
	if (sl == 2 && !memcmp(scheme, "ip", 2) &&
	    add_auth(c, "ip", c->ip, strlen(c->ip)) == 0) {
		send_frame(w, c, NULL, 0, ZXID_AUTH, z, ZOK);
		return;
	}
	if (sl == 6 && !memcmp(scheme, "digest", 6) && al >= 0) {
		char digest[512];
		if (zk_digest(auth, (size_t)al, digest, sizeof(digest)) > 0 &&
		    add_auth(c, "digest", digest, strlen(digest)) == 0) {
			const char *sd = w->srv->cfg->super_digest;
			if (sd[0] && !strcmp(sd, digest))
				add_auth(c, "super", "", 0);
			send_frame(w, c, NULL, 0, ZXID_AUTH, z, ZOK);
			return;
		}
	}
	/* Unknown scheme or a failed authentication: ZooKeeper answers
	 * AUTHFAILED and closes the connection. */
	logf_("authentication failed for scheme '%.*s' from %s", (int)sl,
	      scheme, c->ip);
	send_frame(w, c, NULL, 0, ZXID_AUTH, z, ZAUTHFAILED);
	c->state = CS_CLOSING;
}

static void post_write(struct dp_worker *w, struct dp_conn *c, int32_t xid,
		       int op, const uint8_t *body, size_t len, int64_t t0)
{
	struct jw a = {0};
	zab_auth_write(&a, c->auth, c->nauth);
	struct zmsg *m = a.err ? NULL : zmsg_new(ZM_REQUEST,
						 (uint32_t)(a.len + len));
	if (!m) {
		jw_free(&a);
		send_frame(w, c, NULL, 0, xid,
			   tree_applied_zxid(w->srv->tree), ZSYSTEMERROR);
		return;
	}
	m->conn = (struct zconn_ref){(uint16_t)w->idx, c->slot, c->gen};
	m->xid = xid;
	m->op = op;
	m->session = c->session;
	m->t0 = t0;
	m->auth_len = (uint32_t)a.len;
	memcpy(m->body, a.p, a.len);
	memcpy(m->body + a.len, body, len);
	jw_free(&a);
	m->req_len = (uint32_t)(len + sizeof(*m));
	c->inflight++;
	c->inflight_bytes += m->req_len;
	outstanding_add(w, 1);
	post(w, m);
}

/* Handle one request frame of an open connection (parse_frames checked
 * that it need not wait). */
static void handle_request(struct dp_worker *w, struct dp_conn *c,
			   const uint8_t *p, size_t len)
{
	struct jr r;
	jr_init(&r, p, len);
	int32_t xid = jr_int(&r);
	int32_t op = jr_int(&r);
	if (r.err) {
		conn_close(w, c, "truncated request header");
		return;
	}
	int64_t t0 = w->rx_us;
	c->touched = true;
	c->last_op = op;
	atomic_fetch_add(&c->recv, 1);
	atomic_fetch_add(&w->packets_recv, 1);
	if (op == ZOP_AUTH) {
		handle_auth(w, c, &r);
		return;
	}
	if (is_write(op)) {
		post_write(w, c, xid, op, p + r.off, len - r.off, t0);
		return;
	}
	zxid_t z = tree_applied_zxid(w->srv->tree);
	switch (op) {
	case ZOP_PING:
		send_frame(w, c, NULL, 0, ZXID_PING, z, ZOK);
		return;
	case ZOP_SETWATCHES:
	case ZOP_SETWATCHES2:
		serve_setwatches(w, c, xid, op, &r);
		return;
	case ZOP_ADDWATCH:
	case ZOP_REMOVEWATCHES:
	case ZOP_CHECKWATCHES:
		serve_watchop(w, c, xid, op, &r);
		return;
	default:
		if (is_read(op)) {
			serve_read(w, c, xid, op, &r);
			if (c->state != CS_FREE)
				record_latency(w, c, t0);
			return;
		}
	}
	logf_("unknown opcode %d from %s (xid %d)", op, c->ip, xid);
	send_frame(w, c, NULL, 0, xid, z, ZUNIMPLEMENTED);
	c->state = CS_CLOSING;
}

static void handle_connect(struct dp_worker *w, struct dp_conn *c,
			   const uint8_t *p, size_t len)
{
	struct jr r;
	jr_init(&r, p, len);
	jr_int(&r); /* protocolVersion */
	int64_t last_zxid = jr_long(&r);
	int32_t timeout = jr_int(&r);
	int64_t session = jr_long(&r);
	int32_t pl;
	const char *pw = jr_buf(&r, &pl);
	if (r.err) {
		conn_close(w, c, "malformed ConnectRequest");
		return;
	}
	bool readonly = false;
	if (jr_left(&r) >= 1) {
		readonly = jr_bool(&r);
		c->readonly_sent = true;
	}
	zxid_t applied = tree_applied_zxid(w->srv->tree);
	if (last_zxid > applied) {
		char why[160];
		snprintf(why, sizeof(why),
			 "client has seen zxid 0x%llx, our last zxid is "
			 "0x%llx",
			 (unsigned long long)last_zxid,
			 (unsigned long long)applied);
		conn_close(w, c, why);
		return;
	}
	struct zmsg *m = zmsg_new(ZM_CONNECT, ZK_PASSWD_LEN);
	if (!m) {
		conn_close(w, c, "out of memory");
		return;
	}
	m->conn = (struct zconn_ref){(uint16_t)w->idx, c->slot, c->gen};
	m->session = session;
	m->timeout = timeout;
	m->zxid = last_zxid;
	m->op = readonly; /* the client accepts a read-only server */
	memset(m->body, 0, ZK_PASSWD_LEN);
	if (pw && pl > 0)
		memcpy(m->body, pw, pl < ZK_PASSWD_LEN ? (size_t)pl
						      : ZK_PASSWD_LEN);
	c->session = session;
	c->state = CS_SESSION;
	c->touched = true;
	post(w, m);
}

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
	size_t unsent = out_pending(c);
	if (unsent > OUT_HIGH ||
	    (unsent && w->out_bytes > WORKER_OUT_HIGH))
		return BW_OUTPUT;
	if (len < 8 || !c->inflight)
		return BW_NONE;
	int32_t op = jr_int_at(body + 4);
	if (is_read(op))
		return BW_ORDER;
	if (!is_write(op))
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
		mark_dirty(w, c);
}

/* Handle every complete frame in c->in that need not wait. */
static void parse_frames(struct dp_worker *w, struct dp_conn *c)
{
	int32_t maxbuf = w->srv->cfg->jute_maxbuffer;
	w->rx_us = zk_clock_us(CLOCK_MONOTONIC); /* one read per burst */
	enum block_why was = (enum block_why)c->blocked;
	c->blocked = BW_NONE;
	while (c->state != CS_FREE && c->state != CS_CLOSING) {
		size_t avail = c->in.len - c->in_off;
		const uint8_t *p = c->in.p + c->in_off;
		if (avail < 4)
			break;
		if (c->state == CS_NEW && c->in_off == 0 && dp_4lw_known(p)) {
			c->in_off = c->in.len; /* ignore what follows */
			if (dp_4lw(w, p, &c->out)) {
				c->state = CS_CLOSING;
				mark_dirty(w, c);
			} else {
				/* "dump": the sequencer owns the sessions */
				struct zmsg *m = zmsg_new(ZM_DUMP, 0);
				if (!m) {
					conn_close(w, c, "out of memory");
					return;
				}
				m->conn = (struct zconn_ref){(uint16_t)w->idx,
							     c->slot, c->gen};
				c->state = CS_SESSION;
				post(w, m);
			}
			break;
		}
		int32_t flen = jr_int_at(p);
		if (flen < 0 || flen > maxbuf) {
			char why[96];
			snprintf(why, sizeof(why),
				 "frame length %d outside 0..%d (jute.maxbuffer)",
				 flen, maxbuf);
			conn_close(w, c, why);
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
			handle_connect(w, c, body, (size_t)flen);
		else
			handle_request(w, c, body, (size_t)flen);
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

/* Turn reading of c's socket on or off: off while c is blocked and its
 * input buffer is full enough. */
static void conn_set_read(struct dp_worker *w, struct dp_conn *c, bool on)
{
	if (c->no_read == !on || c->state == CS_FREE)
		return;
	c->no_read = !on;
	conn_arm(w, c);
}

static void conn_readable(struct dp_worker *w, struct dp_conn *c)
{
	size_t budget = READ_BUDGET;
	while (budget) {
		if (c->blocked && c->in.len - c->in_off >= IN_HIGH) {
			conn_set_read(w, c, false); /* resumed by run_ready */
			return;
		}
		if (!jw_reserve(&c->in, READ_CHUNK)) {
			conn_close(w, c, "out of memory");
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
			if (!c->blocked)
				parse_frames(w, c);
			if (c->state == CS_FREE || c->state == CS_CLOSING)
				return;
			continue;
		}
		if (n == 0) {
			conn_close(w, c, NULL);
			return;
		}
		if (n == -EAGAIN)
			return;
		conn_close(w, c, NULL);
		return;
	}
}

/* Parse again the connections whose next frame may now go (a reply, a
 * session, drained output), and read their sockets again. */
static void run_ready(struct dp_worker *w)
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
			out_account(w, c);
			if (out_pending(c) > MAX_OUT_PENDING) {
				conn_close(w, c,
					   "client does not read its replies");
				return;
			}
			if (c->blocked == BW_OUTPUT &&
			    out_pending(c) <= OUT_HIGH / 2)
				wake_conn(w, c);
			if (!c->want_write) {
				c->want_write = true;
				conn_arm(w, c);
			}
			return;
		}
		conn_close(w, c, NULL);
		return;
	}
	c->out.len = c->out_off = 0;
	out_account(w, c);
	if (c->out.cap > (1u << 20)) {
		jw_free(&c->out); /* give back a burst's big buffer */
	}
	if (c->state == CS_CLOSING) {
		conn_close(w, c, NULL);
		return;
	}
	if (c->blocked == BW_OUTPUT)
		wake_conn(w, c);
	if (c->want_write) {
		c->want_write = false;
		conn_arm(w, c);
	}
}

static void flush_dirty(struct dp_worker *w)
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
				logf_("accept: %s", strerror(-rc));
			return;
		}
		int max = d->cfg->max_cnxns;
		if (max > 0 && atomic_load(&d->nconns) >= max) {
			/* NIOServerCnxnFactory.AcceptThread: close it */
			logf_("too many connections - max allowed is %d "
			      "(maxCnxns)",
			      max);
			atomic_fetch_add(&w->cnxn_rejected, 1);
			w->io->close(w->be, &l);
			continue;
		}
		if (!ip_take(w->srv, peer.ip)) {
			logf_("too many connections from %s - max is %d",
			      peer.ip, w->srv->cfg->max_client_cnxns);
			atomic_fetch_add(&w->cnxn_rejected, 1);
			w->io->close(w->be, &l);
			continue;
		}
		struct dp_conn *c = conn_new(w, l.h);
		if (!c) {
			logf_("refusing %s: %u connections on this worker",
			      peer.ip, w->nconns);
			ip_release(w->srv, peer.ip);
			w->io->close(w->be, &l);
			continue;
		}
		snprintf(c->ip, sizeof(c->ip), "%s", peer.ip);
		c->port = peer.port;
		add_auth(c, "ip", peer.ip, strlen(peer.ip));
		atomic_fetch_add(&w->nconn_open, 1);
		atomic_fetch_add(&d->nconns, 1);
		rc = w->io->attach(w->be, &c->link);
		if (rc) {
			char why[96];
			snprintf(why, sizeof(why), "%s attach: %s", w->io->name,
				 strerror(-rc));
			conn_close(w, c, why);
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
			conn_close(w, c, "client does not read its replies");
			continue;
		}
		if (c->state == CS_NEW &&
		    w->now_ms - c->established_ms > SESSIONLESS_MS) {
			atomic_fetch_add(&w->sessionless_expired, 1);
			conn_close(w, c, "no ConnectRequest within 10 s");
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
	post(w, m);
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
		process_msgs(w, -1);
		run_ready(w);
		watch_disarm_if_idle(w);
		if (now >= w->next_touch) {
			send_touches(w);
			w->next_touch = now + TOUCH_MS;
		}
		if (w->listen_until && now >= w->listen_until)
			listen_pause(w, 0);
		flush_dirty(w);
		post_flush(w);
		int64_t wake_at = w->next_touch;
		if (w->listen_until && w->listen_until < wake_at)
			wake_at = w->listen_until;
		if (w->post_full && now + 1 < wake_at)
			wake_at = now + 1; /* the sequencer's ring was full */
		int timeout = (int)(wake_at - now);
		if (timeout < 0 || w->nrun)
			timeout = 0;
		bool sleep = zab_sleep_prepare(w->srv->seq, w->idx);
		if (!sleep)
			timeout = 0;
		rcu_thread_offline();
		int n = w->io->poll(w->be, timeout, evs, DP_POLL_MAX);
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
				mark_dirty(w, c);
			if (c->no_read && (what & DP_EV_HUP)) {
				conn_close(w, c, NULL); /* gone, unread */
				continue;
			}
			if (what & (DP_EV_IN | DP_EV_HUP))
				conn_readable(w, c);
		}
		post_flush(w); /* the sequencer starts on them meanwhile */
		flush_dirty(w);
		rcu_quiescent_state();
	}
	for (uint32_t i = 0; i < w->nconns; i++)
		if (w->conns[i]->state != CS_FREE)
			conn_close(w, w->conns[i], NULL);
	post_flush(w); /* what the ring does not take is freed below */
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
	d->start_ms = zk_clock_ms(CLOCK_MONOTONIC);
	d->tokens = cfg->conn_throttle_tokens;
	d->fill_ms = d->start_ms;
	pthread_mutex_init(&d->ip_lock, NULL);
	d->w = calloc((size_t)d->n, sizeof(*d->w));
	if (!d->w) {
		snprintf(err, err_len, "out of memory");
		goto fail;
	}
	const struct dp_backend_ops *io = &dp_tcp_backend;
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
		w->lat_min = INT64_MAX;
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
}
