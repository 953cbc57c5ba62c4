/* bench.c - paddock-bench: a ZooKeeper-protocol load generator.
 *
 * Design: -t worker threads, each with its own epoll and a fixed share of
 * the -c connections (sessions). A connection keeps up to -w requests in
 * flight. ZooKeeper answers a session's requests in order (FIFO client
 * order, ZooKeeper Programmer's Guide "Ordering Guarantees"), so the
 * in-flight requests of a connection are a ring and each reply pops the
 * head: no lookup table. Replies are read in bulk into one large per-thread
 * buffer and parsed in place; requests produced during one loop pass are
 * appended to the connection's output buffer and leave with one send() per
 * connection per pass.
 *
 * Closed loop: each reply immediately issues the next request. Open loop
 * (--rate): every connection has a schedule of intended send times; a
 * request's latency is measured from its intended time, so a stalled server
 * shows up as queueing delay instead of being hidden (coordinated omission).
 * A connection whose window is full keeps its schedule as a backlog and
 * sends it, late, as replies free the window; what is still unsent at the
 * end is counted (unsent), as are requests sent but never answered
 * (unanswered). The in-flight ring grows on demand, so a large -w costs
 * memory only when the server really falls behind (openloop.h).
 *
 * Latency goes into two per-thread histograms: "all" (never reset, read by
 * the main thread each second for the progress line and the timeline) and
 * "measured" (only requests whose intended send time falls in the measured
 * interval, after the warm-up). They are merged at the end.
 *
 * The stateful workloads (ephemeral churn, lock, watch fan-out, messaging)
 * are small per-connection state machines driven by replies and watch
 * notifications (xid -1).
 */
#include "config.h"
#include "hist.h"
#include "openloop.h"
#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define RBUF_SIZE (4u << 20)
#define MAX_FRAME (64u << 20)
#define DRAIN_NS 3000000000ull
/* open loop: the most requests one connection issues in a loop pass, so a
 * generator that fell behind its schedule still reads replies between
 * bursts (a server drops a client that stops reading) */
#define ISSUE_BURST 1024
#define MAX_SECONDS 100000

/* ------------------------------------------------------------------------ */
/* shared state */

static struct bench_config cfg;
static SSL_CTX *g_tls; /* --tls */

/* --tls: a client context verifying the server against the CA. */
static SSL_CTX *tls_client_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx || SSL_CTX_load_verify_locations(ctx, cfg.tls_ca, NULL) != 1 ||
	    (cfg.tls_cert[0] &&
	     (SSL_CTX_use_certificate_chain_file(ctx, cfg.tls_cert) != 1 ||
	      SSL_CTX_use_PrivateKey_file(ctx, cfg.tls_key, SSL_FILETYPE_PEM) != 1))) {
		char e[256];
		ERR_error_string_n(ERR_get_error(), e, sizeof(e));
		fprintf(stderr, "paddock-bench: --tls: %s\n", e);
		exit(2);
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
				      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return ctx;
}

/* A TLS session over connected, blocking fd (then made non-blocking by
 * the caller if it wants); NULL on failure. */
static SSL *tls_open(int fd)
{
	SSL *ssl = SSL_new(g_tls);
	if (!ssl || SSL_set_fd(ssl, fd) != 1 || SSL_connect(ssl) != 1) {
		char e[256];
		ERR_error_string_n(ERR_get_error(), e, sizeof(e));
		fprintf(stderr, "paddock-bench: TLS handshake: %s\n", e);
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

/* send/recv, through TLS when there is a session: -1 with errno EAGAIN
 * when the socket must become ready first. */
static ssize_t io_send(SSL *ssl, int fd, const void *p, size_t n, int flags)
{
	if (!ssl)
		return send(fd, p, n, flags);
	ERR_clear_error();
	int r = SSL_write(ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
	if (r > 0)
		return r;
	int e = SSL_get_error(ssl, r);
	errno = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? EAGAIN
	      : errno ? errno : EPIPE;
	return -1;
}

static ssize_t io_recv(SSL *ssl, int fd, void *p, size_t n, int flags)
{
	if (!ssl)
		return recv(fd, p, n, flags);
	ssize_t got = 0;
	/* one record, then what OpenSSL already holds (a blocking socket
	 * must not wait for more) */
	while ((size_t)got < n && (!got || SSL_pending(ssl) > 0)) {
		ERR_clear_error();
		int r = SSL_read(ssl, (char *)p + got,
				 n - (size_t)got > INT32_MAX ? INT32_MAX : (int)(n - (size_t)got));
		if (r > 0) {
			got += r;
			continue;
		}
		if (got)
			return got;
		int e = SSL_get_error(ssl, r);
		if (e == SSL_ERROR_ZERO_RETURN)
			return 0;
		errno = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? EAGAIN
		      : errno ? errno : ECONNRESET;
		return e == SSL_ERROR_SYSCALL && !errno ? 0 : -1;
	}
	return got;
}
static struct server_addr {
	struct sockaddr_storage sa;
	socklen_t len;
} g_addr[BENCH_MAX_SERVERS]; /* cfg.nservers, resolved once */
static uint64_t t_start, t_measure, t_end;
static volatile int g_interrupted;
static char g_run[24];     /* unique per run: names of created znodes */
static char **g_keypaths;  /* /prefix/k<i> */
static char **g_topicpaths; /* messaging: /prefix/m/topics/t<i> */
static char **g_offsetpaths; /* messaging: /prefix/m/offsets/g<i> */
static uint8_t *g_value;
static char p_dir[256], p_c[256], p_s[256], p_e[256], p_lock[256], p_w[256], p_m[256],
	p_ids[256], p_topics[256], p_offsets[256], p_ctrl[256];

/* watch fan-out round */
static int g_armed;        /* watchers armed for the next round */
static uint64_t g_tset;    /* when the writer sent this round's setData */
static int g_nwatchers;

static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------------------ */
/* connections and workers */

enum cstate { CS_DOWN, CS_HANDSHAKE, CS_READY, CS_CLOSING };

/* what a request in flight means to the workload */
enum kind {
	K_OP,        /* plain measured op */
	K_CHURN_CREATE,
	K_CHURN_CLOSE,
	K_LOCK_CREATE,
	K_LOCK_LIST,
	K_LOCK_WATCH,
	K_LOCK_RELEASE,
	K_FAN_ARM,
	K_FAN_SET,
	K_MSG_REGISTER,
	K_MSG_ELECT,
	K_MSG_RESIGN,
	K_MSG_CTRL_WATCH,
	K_CLOSE,
};

struct slot {
	int32_t xid;
	int16_t op;
	int16_t kind;
	uint64_t t0; /* intended send time */
};

struct worker;

struct conn {
	int fd;
	SSL *ssl; /* --tls */
	int id; /* global index */
	enum cstate state;
	struct worker *w;
	int32_t next_xid;
	struct slot *ring;
	uint32_t head, tail, mask, cap; /* cap: window limit */
	struct bench_buf out;
	size_t out_off;
	int dirty;
	int epout; /* EPOLLOUT registered */
	uint8_t *pend;
	size_t pend_len, pend_cap;
	uint64_t last_send;
	uint64_t next_intended; /* open loop */
	uint64_t counter;
	/* workload state */
	uint64_t cycle_t0;
	int waiting; /* lock: waiting for the predecessor's deletion */
	int is_writer, fan_busy, is_ctrl;
	char mine[128];    /* lock: my node's name */
	char waitpath[400]; /* lock: predecessor path */
};

struct worker {
	int id;
	pthread_t th;
	int ep;
	struct conn *conns;
	int nconns;
	int active; /* connections not yet finished */
	uint8_t *rbuf;
	size_t rcap;
	struct conn **dirty;
	int ndirty;
	uint64_t rng;
	uint64_t ops, errs; /* all completions, relaxed atomics */
	uint64_t mops, merrs; /* measured interval */
	/* windowed workloads, intended time in the measured interval: sent,
	 * never sent (open loop), sent but never answered */
	uint64_t msent, munsent, munanswered;
	uint64_t mlag_sum, mlag_max; /* open loop: send time - intended time, ns */
	uint64_t mreplies; /* completions whose reply came in the measured interval */
	uint64_t conn_fail;
	char errmsg[160];
	struct bench_hist all;
	struct bench_hist meas;
} __attribute__((aligned(64)));

static struct worker *g_workers;

static inline uint64_t rnd(struct worker *w)
{
	/* xorshift64* */
	uint64_t x = w->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	w->rng = x;
	return x * 0x2545F4914F6CDD1Dull;
}

static inline void count_add(uint64_t *p, uint64_t n)
{
	__atomic_store_n(p, *p + n, __ATOMIC_RELAXED);
}

static void complete(struct worker *w, uint64_t t0, uint64_t now, int error)
{
	uint64_t lat = now > t0 ? now - t0 : 0;
	bench_hist_record(&w->all, lat);
	count_add(&w->ops, 1);
	if (error)
		count_add(&w->errs, 1);
	if (now >= t_measure && now < t_end)
		w->mreplies++;
	if (t0 >= t_measure && t0 < t_end) {
		bench_hist_record(&w->meas, lat);
		w->mops++;
		if (error)
			w->merrs++;
	}
}

static void note_error(struct worker *w, uint64_t t0, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void note_error(struct worker *w, uint64_t t0, const char *fmt, ...)
{
	(void)t0;
	if (!w->errmsg[0]) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(w->errmsg, sizeof(w->errmsg), fmt, ap);
		va_end(ap);
	}
}

static inline uint32_t inflight(const struct conn *c)
{
	return c->tail - c->head;
}

static inline void mark_dirty(struct conn *c)
{
	if (!c->dirty) {
		c->dirty = 1;
		c->w->dirty[c->w->ndirty++] = c;
	}
}

static void oom(void);

/* Registers the request just encoded with xid c->next_xid. */
static inline void pushed(struct conn *c, int op, int kind, uint64_t t0, uint64_t now)
{
	if (inflight(c) > c->mask &&
	    bench_ring_grow((void **)&c->ring, sizeof(struct slot), &c->mask, c->head, c->tail))
		oom();
	struct slot *s = &c->ring[c->tail & c->mask];
	s->xid = c->next_xid++;
	s->op = (int16_t)op;
	s->kind = (int16_t)kind;
	s->t0 = t0;
	c->tail++;
	c->last_send = now;
	mark_dirty(c);
}

static void oom(void)
{
	fprintf(stderr, "paddock-bench: out of memory\n");
	_exit(2);
}

static void req_path(struct conn *c, int op, const char *path, int watch, int kind,
		     uint64_t t0, uint64_t now)
{
	if (bench_enc_path_watch(&c->out, c->next_xid, op, path, watch))
		oom();
	pushed(c, op, kind, t0, now);
}

static void req_create(struct conn *c, int op, const char *path, const void *data,
		       uint32_t len, int flags, int kind, uint64_t t0, uint64_t now)
{
	if (bench_enc_create(&c->out, c->next_xid, op, path, data, (int32_t)len, flags))
		oom();
	pushed(c, op, kind, t0, now);
}

static void req_set(struct conn *c, const char *path, int kind, uint64_t t0, uint64_t now)
{
	if (bench_enc_setdata(&c->out, c->next_xid, path, g_value, (int32_t)cfg.value_size,
			      -1))
		oom();
	pushed(c, BENCH_OP_SETDATA, kind, t0, now);
}

static void req_delete(struct conn *c, const char *path, int kind, uint64_t t0, uint64_t now)
{
	if (bench_enc_delete(&c->out, c->next_xid, path, -1))
		oom();
	pushed(c, BENCH_OP_DELETE, kind, t0, now);
}

/* ------------------------------------------------------------------------ */
/* workloads */

static int simple_workload(void)
{
	switch (cfg.workload) {
	case BENCH_W_EPHEMERAL_CHURN:
	case BENCH_W_LOCK:
	case BENCH_W_WATCH_FANOUT:
		return 0;
	default:
		return 1;
	}
}

/* Issues one op of a windowed workload with intended time t0. */
static void issue(struct conn *c, uint64_t t0, uint64_t now)
{
	struct worker *w = c->w;
	char path[320];
	uint32_t k = (uint32_t)(rnd(w) % cfg.keys);
	if (t0 >= t_measure && t0 < t_end) {
		uint64_t lag = now - t0; /* t0 <= now: the schedule only issues what is due */
		w->msent++;
		w->mlag_sum += lag;
		if (lag > w->mlag_max)
			w->mlag_max = lag;
	}
	switch (cfg.workload) {
	case BENCH_W_GET:
		req_path(c, BENCH_OP_GETDATA, g_keypaths[k], 0, K_OP, t0, now);
		break;
	case BENCH_W_EXISTS:
		req_path(c, BENCH_OP_EXISTS, g_keypaths[k], 0, K_OP, t0, now);
		break;
	case BENCH_W_CHILDREN:
		req_path(c, BENCH_OP_GETCHILDREN2, p_dir, 0, K_OP, t0, now);
		break;
	case BENCH_W_SET:
		req_set(c, g_keypaths[k], K_OP, t0, now);
		break;
	case BENCH_W_MIX:
		if ((double)(rnd(w) >> 11) * (1.0 / 9007199254740992.0) < cfg.read_ratio)
			req_path(c, BENCH_OP_GETDATA, g_keypaths[k], 0, K_OP, t0, now);
		else
			req_set(c, g_keypaths[k], K_OP, t0, now);
		break;
	case BENCH_W_CREATE:
		snprintf(path, sizeof(path), "%s/%s-%d-%llu", p_c, g_run, c->id,
			 (unsigned long long)c->counter++);
		req_create(c, BENCH_OP_CREATE, path, g_value, cfg.value_size, 0, K_OP, t0, now);
		break;
	case BENCH_W_CREATE_SEQ:
		snprintf(path, sizeof(path), "%s/n-", p_s);
		req_create(c, BENCH_OP_CREATE2, path, g_value, cfg.value_size,
			   BENCH_CREATE_SEQUENTIAL, K_OP, t0, now);
		break;
	case BENCH_W_CREATE_DELETE:
		/* create N then delete N; FIFO order makes pipelining them safe */
		snprintf(path, sizeof(path), "%s/%s-%d-%llu", p_c, g_run, c->id,
			 (unsigned long long)(c->counter / 2));
		if (c->counter++ % 2 == 0)
			req_create(c, BENCH_OP_CREATE, path, g_value, cfg.value_size, 0, K_OP, t0,
				   now);
		else
			req_delete(c, path, K_OP, t0, now);
		break;
	case BENCH_W_MESSAGING: {
		/* Kafka-style metadata traffic: topic metadata reads, broker list,
		 * consumer offset commits, controller watch; the controller
		 * occasionally resigns and the brokers race to take over. */
		unsigned r = (unsigned)(rnd(w) % 1000);
		if (c->is_ctrl && r == 0) {
			c->is_ctrl = 0;
			req_delete(c, p_ctrl, K_MSG_RESIGN, t0, now);
		} else if (r < 600)
			req_path(c, BENCH_OP_GETDATA, g_topicpaths[k], 0, K_OP, t0, now);
		else if (r < 700)
			req_path(c, BENCH_OP_GETCHILDREN, p_ids, 0, K_OP, t0, now);
		else if (r < 950)
			req_set(c, g_offsetpaths[k], K_OP, t0, now);
		else
			req_path(c, BENCH_OP_EXISTS, p_ctrl, 1, K_MSG_CTRL_WATCH, t0, now);
		break;
	}
	default:
		break;
	}
}

static void conn_start(struct conn *c, uint64_t now);
static void conn_close_fd(struct conn *c);

/* Closed loop: top the window up again. */
static inline void refill(struct conn *c, uint64_t now)
{
	if (cfg.rate > 0 || now >= t_end || c->state != CS_READY)
		return;
	while (inflight(c) < c->cap)
		issue(c, now, now);
}

static void lock_begin(struct conn *c, uint64_t now)
{
	char path[300];
	c->cycle_t0 = now;
	c->waiting = 0;
	snprintf(path, sizeof(path), "%s/l-", p_lock);
	req_create(c, BENCH_OP_CREATE2, path, NULL, 0,
		   BENCH_CREATE_EPHEMERAL | BENCH_CREATE_SEQUENTIAL, K_LOCK_CREATE, now, now);
}

static void fan_arm(struct conn *c, uint64_t now)
{
	req_path(c, BENCH_OP_GETDATA, p_w, 1, K_FAN_ARM, now, now);
}

static void churn_begin(struct conn *c, uint64_t now)
{
	c->cycle_t0 = now;
	conn_start(c, now);
}

/* Connection is established and the session is open. */
static void on_ready(struct conn *c, uint64_t now)
{
	char path[320];
	switch (cfg.workload) {
	case BENCH_W_EPHEMERAL_CHURN:
		snprintf(path, sizeof(path), "%s/%s-%d-%llu", p_e, g_run, c->id,
			 (unsigned long long)c->counter++);
		req_create(c, BENCH_OP_CREATE, path, NULL, 0, BENCH_CREATE_EPHEMERAL,
			   K_CHURN_CREATE, c->cycle_t0, now);
		return;
	case BENCH_W_LOCK:
		if (now < t_end)
			lock_begin(c, now);
		return;
	case BENCH_W_WATCH_FANOUT:
		if (c->id == 0)
			c->is_writer = 1;
		else
			fan_arm(c, now);
		return;
	case BENCH_W_MESSAGING:
		snprintf(path, sizeof(path), "%s/%s-%d", p_ids, g_run, c->id);
		req_create(c, BENCH_OP_CREATE, path, g_value, cfg.value_size,
			   BENCH_CREATE_EPHEMERAL, K_MSG_REGISTER, now, now);
		req_create(c, BENCH_OP_CREATE, p_ctrl, g_value, 8, BENCH_CREATE_EPHEMERAL,
			   K_MSG_ELECT, now, now);
		req_path(c, BENCH_OP_EXISTS, p_ctrl, 1, K_MSG_CTRL_WATCH, now, now);
		break;
	default:
		break;
	}
	refill(c, now); /* open loop: the schedule issues instead */
}

static int name_cmp(const uint8_t *a, int32_t al, const char *b)
{
	size_t bl = strlen(b);
	int r = memcmp(a, b, (size_t)al < bl ? (size_t)al : bl);
	if (r)
		return r;
	return (size_t)al < bl ? -1 : (size_t)al > bl;
}

/* Lock: children listed; acquire or watch the predecessor. */
static int lock_children(struct conn *c, struct bench_cur *cur, uint64_t now)
{
	int32_t n = bench_get_int(cur);
	const uint8_t *best = NULL;
	int32_t bestl = 0;
	int found = 0;
	for (int32_t i = 0; i < n && !cur->err; i++) {
		int32_t l;
		const uint8_t *s = bench_get_bytes(cur, &l);
		if (!s)
			continue;
		int r = name_cmp(s, l, c->mine);
		if (r == 0)
			found = 1;
		else if (r < 0 && (!best || memcmp(s, best, (size_t)(l < bestl ? l : bestl)) > 0 ||
				   (memcmp(s, best, (size_t)(l < bestl ? l : bestl)) == 0 && l > bestl))) {
			best = s;
			bestl = l;
		}
	}
	if (cur->err || !found)
		return -1;
	if (!best) {
		/* lowest: acquired. Record acquisition latency, then release. */
		complete(c->w, c->cycle_t0, now, 0);
		char path[400];
		snprintf(path, sizeof(path), "%s/%s", p_lock, c->mine);
		req_delete(c, path, K_LOCK_RELEASE, now, now);
		return 0;
	}
	snprintf(c->waitpath, sizeof(c->waitpath), "%s/%.*s", p_lock, (int)bestl, best);
	req_path(c, BENCH_OP_EXISTS, c->waitpath, 1, K_LOCK_WATCH, now, now);
	return 0;
}

static void on_notification(struct conn *c, struct bench_cur *cur, uint64_t now)
{
	int32_t type, state, pl;
	const uint8_t *path;
	if (bench_dec_watch(cur, &type, &state, &path, &pl))
		return;
	switch (cfg.workload) {
	case BENCH_W_LOCK:
		if (c->waiting && type == BENCH_EV_DELETED && pl >= 0 &&
		    name_cmp(path, pl, c->waitpath) == 0) {
			c->waiting = 0;
			req_path(c, BENCH_OP_GETCHILDREN, p_lock, 0, K_LOCK_LIST, now, now);
		}
		break;
	case BENCH_W_WATCH_FANOUT:
		if (type == BENCH_EV_CHANGED) {
			uint64_t t0 = __atomic_load_n(&g_tset, __ATOMIC_ACQUIRE);
			complete(c->w, t0, now, 0);
			if (now < t_end)
				fan_arm(c, now);
		}
		break;
	case BENCH_W_MESSAGING:
		if (type == BENCH_EV_DELETED && now < t_end && inflight(c) < c->cap && pl >= 0 &&
		    name_cmp(path, pl, p_ctrl) == 0)
			req_create(c, BENCH_OP_CREATE, p_ctrl, g_value, 8, BENCH_CREATE_EPHEMERAL,
				   K_MSG_ELECT, now, now);
		break;
	default:
		break;
	}
}

/* One reply for slot s. Returns -1 when the connection must stop parsing
 * (it was closed). */
static int on_reply(struct conn *c, const struct slot *s, const struct bench_reply_hdr *h,
		    struct bench_cur *cur, uint64_t now)
{
	struct worker *w = c->w;
	int err = h->err != 0;
	switch (s->kind) {
	case K_OP:
		complete(w, s->t0, now, err);
		if (err)
			note_error(w, s->t0, "op %d returned error %d", s->op, h->err);
		refill(c, now);
		return 0;
	case K_CHURN_CREATE:
		if (err) {
			count_add(&w->errs, 1);
			note_error(w, s->t0, "ephemeral create returned %d", h->err);
		}
		if (bench_enc_header_only(&c->out, c->next_xid, BENCH_OP_CLOSE))
			oom();
		pushed(c, BENCH_OP_CLOSE, K_CHURN_CLOSE, s->t0, now);
		c->state = CS_CLOSING;
		return 0;
	case K_CHURN_CLOSE:
		complete(w, c->cycle_t0, now, err);
		conn_close_fd(c);
		if (now < t_end && !g_interrupted)
			churn_begin(c, now);
		else
			w->active--;
		return -1;
	case K_LOCK_CREATE: {
		int32_t l;
		const uint8_t *p = bench_get_bytes(cur, &l);
		if (err || !p) {
			complete(w, c->cycle_t0, now, 1);
			note_error(w, s->t0, "lock create returned %d", h->err);
			return 0;
		}
		/* keep the last path component */
		int32_t i = l;
		while (i > 0 && p[i - 1] != '/')
			i--;
		snprintf(c->mine, sizeof(c->mine), "%.*s", (int)(l - i), p + i);
		req_path(c, BENCH_OP_GETCHILDREN, p_lock, 0, K_LOCK_LIST, now, now);
		return 0;
	}
	case K_LOCK_LIST:
		if (err || lock_children(c, cur, now)) {
			complete(w, c->cycle_t0, now, 1);
			note_error(w, s->t0, "lock getChildren failed (%d)", h->err);
		}
		return 0;
	case K_LOCK_WATCH:
		if (h->err == BENCH_ZNONODE)
			req_path(c, BENCH_OP_GETCHILDREN, p_lock, 0, K_LOCK_LIST, now, now);
		else if (err) {
			complete(w, c->cycle_t0, now, 1);
			note_error(w, s->t0, "lock exists returned %d", h->err);
		} else
			c->waiting = 1;
		return 0;
	case K_LOCK_RELEASE:
		if (err) {
			count_add(&w->errs, 1);
			note_error(w, s->t0, "lock release returned %d", h->err);
		}
		if (now < t_end)
			lock_begin(c, now);
		return 0;
	case K_FAN_ARM:
		if (err) {
			count_add(&w->errs, 1);
			note_error(w, s->t0, "watch getData returned %d", h->err);
		}
		__atomic_add_fetch(&g_armed, 1, __ATOMIC_ACQ_REL);
		return 0;
	case K_FAN_SET:
		if (err) {
			count_add(&w->errs, 1);
			note_error(w, s->t0, "fan-out setData returned %d", h->err);
		}
		c->fan_busy = 0;
		return 0;
	case K_MSG_REGISTER:
		complete(w, s->t0, now, err);
		if (err)
			note_error(w, s->t0, "broker register returned %d", h->err);
		refill(c, now);
		return 0;
	case K_MSG_ELECT:
		/* losing the election is the normal outcome */
		complete(w, s->t0, now, err && h->err != BENCH_ZNODEEXISTS);
		if (!err)
			c->is_ctrl = 1;
		refill(c, now);
		return 0;
	case K_MSG_RESIGN:
	case K_MSG_CTRL_WATCH:
		complete(w, s->t0, now, err && h->err != BENCH_ZNONODE);
		refill(c, now);
		return 0;
	case K_CLOSE:
		conn_close_fd(c);
		w->active--;
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* I/O */

static void conn_fail(struct conn *c, const char *why, int e)
{
	struct worker *w = c->w;
	if (c->state == CS_DOWN)
		return;
	int was_closing = c->state == CS_CLOSING;
	if (!(was_closing && cfg.workload != BENCH_W_EPHEMERAL_CHURN)) {
		w->conn_fail++;
		count_add(&w->errs, 1 + inflight(c));
		if (e)
			note_error(w, 0, "connection %d: %s: %s", c->id, why, strerror(e));
		else
			note_error(w, 0, "connection %d: %s", c->id, why);
	}
	conn_close_fd(c);
	w->active--;
}

/* The requests issue() made (and the measured interval wants) that are still
 * in flight when the connection goes. */
static void count_unanswered(struct conn *c)
{
	for (uint32_t i = c->head; i != c->tail; i++) {
		const struct slot *s = &c->ring[i & c->mask];
		if ((s->kind == K_OP || s->kind == K_MSG_RESIGN || s->kind == K_MSG_CTRL_WATCH) &&
		    s->t0 >= t_measure && s->t0 < t_end)
			c->w->munanswered++;
	}
}

static void conn_close_fd(struct conn *c)
{
	count_unanswered(c);
	if (c->fd >= 0) {
		epoll_ctl(c->w->ep, EPOLL_CTL_DEL, c->fd, NULL);
		SSL_free(c->ssl);
		c->ssl = NULL;
		close(c->fd);
	}
	c->fd = -1;
	c->state = CS_DOWN;
	c->head = c->tail = 0;
	c->out.len = 0;
	c->out_off = 0;
	c->pend_len = 0;
	c->epout = 0;
}

static void conn_start(struct conn *c, uint64_t now)
{
	const struct server_addr *a = &g_addr[c->id % cfg.nservers];
	int fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		conn_fail(c, "socket", errno);
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	c->state = CS_HANDSHAKE;
	c->head = c->tail = 0;
	c->next_xid = 1;
	c->out.len = c->out_off = 0;
	c->pend_len = 0;
	c->last_send = now;
	if (g_tls) { /* connect and handshake blocking, then as plain */
		int fl = fcntl(fd, F_GETFL);
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
		if (connect(fd, (const struct sockaddr *)&a->sa, a->len)) {
			conn_fail(c, "connect", errno);
			return;
		}
		c->ssl = tls_open(fd);
		if (!c->ssl) {
			conn_fail(c, "TLS handshake", 0);
			return;
		}
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	} else if (connect(fd, (const struct sockaddr *)&a->sa, a->len) &&
		   errno != EINPROGRESS) {
		conn_fail(c, "connect", errno);
		return;
	}
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
	c->epout = 1;
	if (epoll_ctl(c->w->ep, EPOLL_CTL_ADD, fd, &ev)) {
		conn_fail(c, "epoll_ctl", errno);
		return;
	}
	if (bench_enc_connect(&c->out, cfg.session_timeout_ms, 0, NULL))
		oom();
	mark_dirty(c);
}

static void conn_flush(struct conn *c)
{
	c->dirty = 0;
	if (c->fd < 0)
		return;
	while (c->out_off < c->out.len) {
		ssize_t n = io_send(c->ssl, c->fd, c->out.p + c->out_off,
				    c->out.len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOTCONN)) {
			if (c->out_off >= (1u << 20) && c->out_off * 2 >= c->out.len) {
				/* the server does not keep up: the unsent rest to the front */
				memmove(c->out.p, c->out.p + c->out_off, c->out.len - c->out_off);
				c->out.len -= c->out_off;
				c->out_off = 0;
			}
			if (!c->epout) {
				struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
				epoll_ctl(c->w->ep, EPOLL_CTL_MOD, c->fd, &ev);
				c->epout = 1;
			}
			return;
		}
		if (n < 0 && errno == EINTR)
			continue;
		conn_fail(c, "send", errno);
		return;
	}
	c->out.len = c->out_off = 0;
	if (c->epout) {
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		epoll_ctl(c->w->ep, EPOLL_CTL_MOD, c->fd, &ev);
		c->epout = 0;
	}
}

/* One complete frame. -1: stop parsing this connection. */
static int on_frame(struct conn *c, const uint8_t *p, uint32_t len, uint64_t now)
{
	if (c->state == CS_HANDSHAKE) {
		struct bench_connect_resp r;
		if (bench_dec_connect(p, len, &r) || r.timeout <= 0 || r.session == 0) {
			conn_fail(c, "session refused by server", 0);
			return -1;
		}
		c->state = CS_READY;
		if (cfg.rate > 0 && simple_workload()) {
			/* first intended send: now, spread by a random phase */
			double iv = 1e9 * cfg.conns / cfg.rate;
			c->next_intended = now + (uint64_t)(iv * (double)(rnd(c->w) % 1000) / 1000.0);
		}
		on_ready(c, now);
		return 0;
	}
	struct bench_cur cur = {p, p + len, 0};
	struct bench_reply_hdr h;
	if (bench_dec_reply_hdr(&cur, &h)) {
		conn_fail(c, "short reply", 0);
		return -1;
	}
	if (h.xid == BENCH_XID_WATCH) {
		on_notification(c, &cur, now);
		return 0;
	}
	if (h.xid == BENCH_XID_PING)
		return 0;
	if (inflight(c) == 0) {
		conn_fail(c, "reply with no request in flight", 0);
		return -1;
	}
	struct slot s = c->ring[c->head & c->mask];
	if (s.xid != h.xid) {
		conn_fail(c, "reply out of order", 0);
		return -1;
	}
	c->head++;
	return on_reply(c, &s, &h, &cur, now);
}

static void conn_read_once(struct worker *w, struct conn *c, uint64_t now);

/* With TLS, bytes OpenSSL decrypted beyond the buffer wait in it, where
 * epoll cannot see them: read until none is left. */
static void conn_read(struct worker *w, struct conn *c, uint64_t now)
{
	do
		conn_read_once(w, c, now);
	while (c->fd >= 0 && c->ssl && SSL_pending(c->ssl) > 0);
}

static void conn_read_once(struct worker *w, struct conn *c, uint64_t now)
{
	/* carried-over partial frame first, then one bulk recv behind it */
	if (c->pend_len)
		memcpy(w->rbuf, c->pend, c->pend_len);
	size_t have = c->pend_len;
	c->pend_len = 0;
	ssize_t n = io_recv(c->ssl, c->fd, w->rbuf + have, w->rcap - have, MSG_DONTWAIT);
	if (n == 0) {
		if (c->state == CS_CLOSING && inflight(c) <= 1) {
			/* server closed after closeSession: the expected end */
			if (cfg.workload == BENCH_W_EPHEMERAL_CHURN) {
				complete(w, c->cycle_t0, now, 0);
				conn_close_fd(c);
				if (now < t_end && !g_interrupted)
					churn_begin(c, now);
				else
					w->active--;
			} else {
				conn_close_fd(c);
				w->active--;
			}
			return;
		}
		conn_fail(c, "server closed the connection", 0);
		return;
	}
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
			c->pend_len = have;
			if (have)
				memcpy(c->pend, w->rbuf, have);
			return;
		}
		conn_fail(c, "recv", errno);
		return;
	}
	size_t total = have + (size_t)n, off = 0;
	while (total - off >= 4) {
		uint32_t len = bench_get_u32(w->rbuf + off);
		if (len > MAX_FRAME) {
			conn_fail(c, "oversized frame", 0);
			return;
		}
		if (total - off - 4 < len) {
			if (len + 4 > w->rcap) {
				/* a frame bigger than the bulk buffer: grow it */
				size_t cap = w->rcap;
				while (cap < len + 4)
					cap *= 2;
				uint8_t *nb = malloc(cap);
				if (!nb)
					oom();
				memcpy(nb, w->rbuf + off, total - off);
				free(w->rbuf);
				w->rbuf = nb;
				w->rcap = cap;
				total -= off;
				off = 0;
			}
			break;
		}
		if (on_frame(c, w->rbuf + off + 4, len, now))
			return;
		off += 4 + len;
	}
	size_t left = total - off;
	if (left) {
		if (left > c->pend_cap) {
			size_t cap = c->pend_cap ? c->pend_cap : 256;
			while (cap < left)
				cap *= 2;
			uint8_t *np = realloc(c->pend, cap);
			if (!np)
				oom();
			c->pend = np;
			c->pend_cap = cap;
		}
		memmove(c->pend, w->rbuf + off, left);
		c->pend_len = left;
	}
}

/* ------------------------------------------------------------------------ */
/* worker loop */

/* open loop: ns between two intended sends of one connection */
static uint64_t open_loop_step(void)
{
	uint64_t step = (uint64_t)(1e9 * cfg.conns / cfg.rate);
	return step ? step : 1;
}

static void housekeeping(struct worker *w, uint64_t now, int stopping, uint64_t *next_wake)
{
	uint64_t ping_ns = (uint64_t)cfg.session_timeout_ms * 1000000ull / 3;
	uint64_t iv = cfg.rate > 0 ? open_loop_step() : 0;
	for (int i = 0; i < w->nconns; i++) {
		struct conn *c = &w->conns[i];
		if (c->state != CS_READY)
			continue;
		if (iv > 0 && simple_workload() && !stopping) {
			int burst = 0;
			while (c->next_intended <= now && c->next_intended < t_end &&
			       inflight(c) < c->cap && burst++ < ISSUE_BURST) {
				issue(c, c->next_intended, now);
				c->next_intended += iv;
			}
			if (c->next_intended < *next_wake && inflight(c) < c->cap)
				*next_wake = c->next_intended;
		}
		if (c->is_writer && !c->fan_busy && !stopping && now < t_end) {
			int armed = __atomic_load_n(&g_armed, __ATOMIC_ACQUIRE);
			uint64_t tset = __atomic_load_n(&g_tset, __ATOMIC_RELAXED);
			if (armed >= g_nwatchers || now - tset > 1000000000ull) {
				__atomic_store_n(&g_armed, 0, __ATOMIC_RELEASE);
				__atomic_store_n(&g_tset, now, __ATOMIC_RELEASE);
				req_set(c, p_w, K_FAN_SET, now, now);
				c->fan_busy = 1;
			} else if (now + 200000 < *next_wake)
				*next_wake = now + 200000; /* poll the armed count */
		}
		if (now - c->last_send > ping_ns) {
			if (bench_enc_header_only(&c->out, BENCH_XID_PING, BENCH_OP_PING))
				oom();
			c->last_send = now;
			mark_dirty(c);
		}
	}
}

static void begin_close(struct worker *w, uint64_t now)
{
	for (int i = 0; i < w->nconns; i++) {
		struct conn *c = &w->conns[i];
		if (c->state == CS_READY) {
			if (bench_enc_header_only(&c->out, c->next_xid, BENCH_OP_CLOSE))
				oom();
			pushed(c, BENCH_OP_CLOSE, K_CLOSE, now, now);
			c->state = CS_CLOSING;
		} else if (c->state == CS_HANDSHAKE) {
			conn_close_fd(c);
			w->active--;
		}
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[512];
	uint64_t now = now_ns();
	for (int i = 0; i < w->nconns; i++) {
		w->conns[i].cycle_t0 = now;
		conn_start(&w->conns[i], now);
	}
	for (int i = 0; i < w->ndirty; i++)
		conn_flush(w->dirty[i]);
	w->ndirty = 0;
	int closing = 0;
	uint64_t close_deadline = 0;
	while (w->active > 0) {
		uint64_t next_wake = now + 100000000ull; /* 100 ms housekeeping at least */
		int stopping = now >= t_end || g_interrupted;
		if (!closing && stopping) {
			/* drain what is in flight, then close the sessions */
			int busy = 0;
			for (int i = 0; i < w->nconns; i++)
				if (w->conns[i].state == CS_READY && inflight(&w->conns[i]) &&
				    !w->conns[i].waiting)
					busy = 1;
			if (!busy || now >= t_end + DRAIN_NS || g_interrupted) {
				if (cfg.workload != BENCH_W_EPHEMERAL_CHURN)
					begin_close(w, now);
				closing = 1;
				close_deadline = now + 2000000000ull;
			}
		}
		if (closing && now > close_deadline) {
			for (int i = 0; i < w->nconns; i++)
				if (w->conns[i].state != CS_DOWN) {
					conn_close_fd(&w->conns[i]);
					w->active--;
				}
			break;
		}
		housekeeping(w, now, stopping, &next_wake);
		for (int i = 0; i < w->ndirty; i++)
			conn_flush(w->dirty[i]);
		w->ndirty = 0;
		if (stopping && next_wake > now + 10000000ull)
			next_wake = now + 10000000ull;
		struct timespec ts = {0, 0};
		if (next_wake > now) {
			uint64_t d = next_wake - now;
			ts.tv_sec = (time_t)(d / 1000000000ull);
			ts.tv_nsec = (long)(d % 1000000000ull);
		}
		int n = epoll_pwait2(w->ep, evs, 512, &ts, NULL);
		now = now_ns();
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (c->fd < 0)
				continue;
			if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				conn_read(w, c, now);
			if (c->fd >= 0 && (evs[i].events & EPOLLOUT))
				mark_dirty(c);
		}
		for (int i = 0; i < w->ndirty; i++)
			conn_flush(w->dirty[i]);
		w->ndirty = 0;
	}
	/* open loop: the rest of each schedule in the measured interval never
	 * left (window full, or the generator behind) */
	if (cfg.rate > 0 && simple_workload())
		for (int i = 0; i < w->nconns; i++)
			if (w->conns[i].next_intended)
				w->munsent += bench_sched_count(w->conns[i].next_intended,
								open_loop_step(), t_measure, t_end);
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* setup and cleanup over one blocking connection */

struct sconn {
	int fd;
	SSL *ssl;
	struct bench_buf out;
	uint8_t *in;
	size_t in_len, in_cap;
	int32_t xid;
};

static int s_flush(struct sconn *s)
{
	size_t off = 0;
	while (off < s->out.len) {
		ssize_t n = io_send(s->ssl, s->fd, s->out.p + off, s->out.len - off,
				    MSG_NOSIGNAL);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return -1;
		}
		off += (size_t)n;
	}
	s->out.len = 0;
	return 0;
}

/* Next frame, skipping watch events and pings. Points into s->in, valid
 * until the next call. */
static int s_frame(struct sconn *s, const uint8_t **p, uint32_t *len, size_t *consumed)
{
	if (*consumed) {
		memmove(s->in, s->in + *consumed, s->in_len - *consumed);
		s->in_len -= *consumed;
		*consumed = 0;
	}
	for (;;) {
		if (s->in_len >= 4) {
			uint32_t l = bench_get_u32(s->in);
			if (l > MAX_FRAME)
				return -1;
			if (s->in_len >= 4 + (size_t)l) {
				*p = s->in + 4;
				*len = l;
				*consumed = 4 + l;
				return 0;
			}
			if (s->in_cap < 4 + (size_t)l) {
				size_t cap = s->in_cap;
				while (cap < 4 + (size_t)l)
					cap *= 2;
				uint8_t *np = realloc(s->in, cap);
				if (!np)
					return -1;
				s->in = np;
				s->in_cap = cap;
			}
		}
		ssize_t n = io_recv(s->ssl, s->fd, s->in + s->in_len,
				    s->in_cap - s->in_len, 0);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return -1;
		}
		s->in_len += (size_t)n;
	}
}

static int s_reply(struct sconn *s, struct bench_reply_hdr *h, struct bench_cur *cur,
		   size_t *consumed)
{
	for (;;) {
		const uint8_t *p;
		uint32_t len;
		if (s_frame(s, &p, &len, consumed))
			return -1;
		*cur = (struct bench_cur){p, p + len, 0};
		if (bench_dec_reply_hdr(cur, h))
			return -1;
		if (h->xid >= 0)
			return 0;
	}
}

/* On failure everything s_open allocated is released again (s->fd = -1,
 * s->in = NULL), errno kept for the caller's message; s_close(s) is then a
 * harmless no-op. */
static int s_open_at(struct sconn *s, int server)
{
	const struct server_addr *a = &g_addr[server];
	memset(s, 0, sizeof(*s));
	s->in_cap = 1 << 16;
	s->in = malloc(s->in_cap);
	s->fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!s->in || s->fd < 0)
		goto fail;
	struct timeval tv = {30, 0};
	setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(s->fd, (const struct sockaddr *)&a->sa, a->len))
		goto fail;
	if (g_tls && !(s->ssl = tls_open(s->fd)))
		goto fail;
	if (bench_enc_connect(&s->out, cfg.session_timeout_ms, 0, NULL) || s_flush(s))
		goto fail;
	const uint8_t *p;
	uint32_t len;
	size_t consumed = 0;
	struct bench_connect_resp r;
	if (s_frame(s, &p, &len, &consumed) || bench_dec_connect(p, len, &r) || r.session == 0)
		goto fail;
	s->in_len -= consumed;
	memmove(s->in, s->in + consumed, s->in_len);
	s->xid = 1;
	return 0;
fail:;
	int e = errno;
	SSL_free(s->ssl);
	s->ssl = NULL;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	bench_buf_free(&s->out);
	free(s->in);
	s->in = NULL;
	errno = e;
	return -1;
}

/* the first server: setup, cleanup and the recipes' control session */
static int s_open(struct sconn *s)
{
	return s_open_at(s, 0);
}

static void s_close(struct sconn *s)
{
	if (s->fd >= 0) {
		bench_enc_header_only(&s->out, s->xid++, BENCH_OP_CLOSE);
		s_flush(s);
		struct bench_reply_hdr h;
		struct bench_cur cur;
		size_t consumed = 0;
		s_reply(s, &h, &cur, &consumed);
		SSL_free(s->ssl);
		close(s->fd);
	}
	bench_buf_free(&s->out);
	free(s->in);
}

/* Creates paths[0..n) in order (pipelined, in batches), with value v for
 * those where v is wanted; an existing node gets its value set instead.
 * Returns the number of unexpected errors. */
static long s_create_all(struct sconn *s, char **paths, long n, int with_value)
{
	long bad = 0;
	const long batch = 2000;
	for (long i = 0; i < n; i += batch) {
		long m = n - i < batch ? n - i : batch;
		for (long j = 0; j < m; j++)
			bench_enc_create(&s->out, s->xid++, BENCH_OP_CREATE, paths[i + j],
					 with_value ? g_value : (const void *)"", with_value ? (int32_t)cfg.value_size : 0, 0);
		if (s_flush(s))
			return -1;
		int nset = 0;
		size_t consumed = 0;
		for (long j = 0; j < m; j++) {
			struct bench_reply_hdr h;
			struct bench_cur cur;
			if (s_reply(s, &h, &cur, &consumed))
				return -1;
			if (h.err == BENCH_ZNODEEXISTS && with_value) {
				bench_enc_setdata(&s->out, s->xid++, paths[i + j], g_value,
						  (int32_t)cfg.value_size, -1);
				nset++;
			} else if (h.err && h.err != BENCH_ZNODEEXISTS)
				bad++;
		}
		if (nset) {
			if (s_flush(s))
				return -1;
			for (int j = 0; j < nset; j++) {
				struct bench_reply_hdr h;
				struct bench_cur cur;
				if (s_reply(s, &h, &cur, &consumed))
					return -1;
				if (h.err)
					bad++;
			}
		}
		if (consumed) {
			memmove(s->in, s->in + consumed, s->in_len - consumed);
			s->in_len -= consumed;
		}
	}
	return bad;
}

/* Deletes path and everything under it. 0 or -1. */
static int s_delete_tree(struct sconn *s, const char *path, int depth)
{
	if (depth > 32)
		return -1;
	struct bench_reply_hdr h;
	struct bench_cur cur;
	size_t consumed = 0;
	bench_enc_path_watch(&s->out, s->xid++, BENCH_OP_GETCHILDREN, path, 0);
	if (s_flush(s) || s_reply(s, &h, &cur, &consumed))
		return -1;
	if (h.err == BENCH_ZNONODE)
		return 0;
	int32_t n = bench_get_int(&cur);
	char **kids = calloc(n > 0 ? (size_t)n : 1, sizeof(char *));
	if (!kids)
		return -1;
	int32_t got = 0;
	for (int32_t i = 0; i < n && !cur.err; i++) {
		int32_t l;
		const uint8_t *p = bench_get_bytes(&cur, &l);
		if (!p)
			break;
		if (asprintf(&kids[got], "%s/%.*s", path, (int)l, p) < 0)
			break;
		got++;
	}
	if (consumed) {
		memmove(s->in, s->in + consumed, s->in_len - consumed);
		s->in_len -= consumed;
		consumed = 0;
	}
	int rc = 0;
	for (int32_t i = 0; i < got && !rc; i += 2000) {
		int32_t m = got - i < 2000 ? got - i : 2000;
		for (int32_t j = 0; j < m; j++)
			bench_enc_delete(&s->out, s->xid++, kids[i + j], -1);
		if (s_flush(s)) {
			rc = -1;
			break;
		}
		for (int32_t j = 0; j < m; j++) {
			if (s_reply(s, &h, &cur, &consumed)) {
				rc = -1;
				break;
			}
			if (h.err == BENCH_ZNOTEMPTY) {
				/* recurse later; mark by keeping the name */
				continue;
			}
			free(kids[i + j]);
			kids[i + j] = NULL;
		}
		if (consumed) {
			memmove(s->in, s->in + consumed, s->in_len - consumed);
			s->in_len -= consumed;
			consumed = 0;
		}
	}
	for (int32_t i = 0; i < got; i++) {
		if (kids[i] && !rc)
			rc = s_delete_tree(s, kids[i], depth + 1);
		free(kids[i]);
	}
	free(kids);
	if (rc)
		return rc;
	bench_enc_delete(&s->out, s->xid++, path, -1);
	if (s_flush(s) || s_reply(s, &h, &cur, &consumed))
		return -1;
	return h.err == 0 || h.err == BENCH_ZNONODE ? 0 : -1;
}

static char **make_paths(const char *dir, const char *stem, uint32_t n)
{
	char **v = malloc(n * sizeof(char *));
	if (!v)
		oom();
	for (uint32_t i = 0; i < n; i++)
		if (asprintf(&v[i], "%s/%s%u", dir, stem, i) < 0)
			oom();
	return v;
}

/* --servers: setup went through the first server; a sync on each other
 * one (ZooKeeper's sync: that server catches up with the leader) so that
 * no session there starts before the keys have reached it. */
static int sync_other_servers(void)
{
	for (int i = 1; i < cfg.nservers; i++) {
		struct sconn s;
		struct bench_reply_hdr h;
		struct bench_cur cur;
		size_t consumed = 0;
		if (s_open_at(&s, i)) {
			fprintf(stderr, "paddock-bench: cannot open a session to %s:%d: %s\n",
				cfg.server_host[i], cfg.server_port[i], strerror(errno));
			return -1;
		}
		int rc = bench_enc_sync(&s.out, s.xid++, cfg.prefix) || s_flush(&s) ||
			 s_reply(&s, &h, &cur, &consumed) || h.err;
		s.in_len -= consumed;
		memmove(s.in, s.in + consumed, s.in_len);
		s_close(&s);
		if (rc) {
			fprintf(stderr, "paddock-bench: sync of %s on %s:%d failed\n", cfg.prefix,
				cfg.server_host[i], cfg.server_port[i]);
			return -1;
		}
	}
	return 0;
}

static int do_setup(void)
{
	struct sconn s;
	if (s_open(&s)) {
		fprintf(stderr, "paddock-bench: cannot open a session to %s:%d: %s\n", cfg.host,
			cfg.port, strerror(errno));
		return -1;
	}
	/* the prefix's ancestors, then the bench's directories */
	char *dirs[32];
	int nd = 0;
	char tmp[256];
	strcpy(tmp, cfg.prefix);
	for (char *q = tmp + 1; *q; q++)
		if (*q == '/') {
			*q = 0;
			dirs[nd++] = strdup(tmp);
			*q = '/';
		}
	const char *own[] = {p_dir, p_c, p_s, p_e, p_lock, p_w, p_m, p_ids, p_topics, p_offsets};
	int nown = (int)(sizeof(own) / sizeof(own[0]));
	if (cfg.workload != BENCH_W_MESSAGING)
		nown = 7;
	for (int i = 0; i < nown && nd < 31; i++)
		dirs[nd++] = strdup(own[i]);
	long bad = s_create_all(&s, dirs, nd, 0);
	for (int i = 0; i < nd; i++)
		free(dirs[i]);
	if (bad == 0) {
		if (cfg.workload == BENCH_W_MESSAGING) {
			bad = s_create_all(&s, g_topicpaths, cfg.keys, 1);
			if (bad == 0)
				bad = s_create_all(&s, g_offsetpaths, cfg.keys, 1);
		} else if (cfg.workload == BENCH_W_WATCH_FANOUT) {
			char *w = p_w;
			bad = s_create_all(&s, &w, 1, 1);
		} else if (cfg.workload == BENCH_W_GET || cfg.workload == BENCH_W_EXISTS ||
			   cfg.workload == BENCH_W_CHILDREN || cfg.workload == BENCH_W_SET ||
			   cfg.workload == BENCH_W_MIX)
			bad = s_create_all(&s, g_keypaths, cfg.keys, 1);
	}
	s_close(&s);
	if (bad) {
		fprintf(stderr, "paddock-bench: setup under %s failed (%ld errors)\n", cfg.prefix,
			bad);
		return -1;
	}
	return sync_other_servers();
}

static void do_cleanup(void)
{
	struct sconn s;
	if (s_open(&s) || s_delete_tree(&s, cfg.prefix, 0))
		fprintf(stderr, "paddock-bench: cleanup of %s failed\n", cfg.prefix);
	s_close(&s);
}

/* ------------------------------------------------------------------------ */
/* reporting */

struct tick {
	double t;  /* seconds since start */
	double ops_per_s;
	uint64_t errors;
	double p50_us, p99_us;
	int warmup;
};

static struct tick *g_ticks;
static int g_nticks;

static void fmt_lat(char *buf, size_t n, uint64_t ns)
{
	if (ns < 10000)
		snprintf(buf, n, "%.2fus", ns / 1e3);
	else if (ns < 10000000)
		snprintf(buf, n, "%.0fus", ns / 1e3);
	else if (ns < 10000000000ull)
		snprintf(buf, n, "%.1fms", ns / 1e6);
	else
		snprintf(buf, n, "%.1fs", ns / 1e9);
}

static void snapshot_all(struct bench_hist *h, uint64_t *ops, uint64_t *errs)
{
	static struct bench_hist tmp;
	bench_hist_init(h);
	*ops = *errs = 0;
	for (int i = 0; i < cfg.threads; i++) {
		bench_hist_snapshot(&tmp, &g_workers[i].all);
		bench_hist_merge(h, &tmp);
		*ops += __atomic_load_n(&g_workers[i].ops, __ATOMIC_RELAXED);
		*errs += __atomic_load_n(&g_workers[i].errs, __ATOMIC_RELAXED);
	}
}

/* CPU time of the whole process (every thread), ns */
static uint64_t cpu_ns(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ull +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
}

static void on_sigint(int sig)
{
	(void)sig;
	g_interrupted = 1;
}

static int plot(const char *file, const struct bench_hist *h)
{
	/* A constant command, no input from the user; the shell's PATH
	 * lookup of gnuplot is the point. NOLINTNEXTLINE(cert-env33-c) */
	if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
		fprintf(stderr, "paddock-bench: --plot: gnuplot not found (apt-get install "
				"gnuplot-nox); no plot drawn\n");
		return -1;
	}
	char tl[] = "/tmp/paddock-bench-tl-XXXXXX", lat[] = "/tmp/paddock-bench-lat-XXXXXX";
	int fd1 = mkstemp(tl), fd2 = mkstemp(lat);
	if (fd1 < 0 || fd2 < 0)
		return -1;
	FILE *f1 = fdopen(fd1, "w"), *f2 = fdopen(fd2, "w");
	for (int i = 0; i < g_nticks; i++)
		fprintf(f1, "%.3f %.1f %.3f %.3f\n", g_ticks[i].t, g_ticks[i].ops_per_s,
			g_ticks[i].p50_us, g_ticks[i].p99_us);
	static const double ps[] = {0,    10,   25,    50,     75,      90,      95,
				    99,   99.5, 99.9,  99.95,  99.99,   99.999,  100};
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
		double p = ps[i] >= 100 ? 99.9999 : ps[i];
		fprintf(f2, "%.6f %.3f\n", 1.0 / (1.0 - p / 100.0),
			bench_hist_percentile(h, ps[i]) / 1e3);
	}
	fclose(f1);
	fclose(f2);
	/* A constant command (gnuplot from PATH, the script on its stdin);
	 * no user input reaches the shell. NOLINTNEXTLINE(cert-env33-c) */
	FILE *g = popen("gnuplot", "w");
	int rc = -1;
	if (g) {
		fprintf(g,
			"set terminal pngcairo size 1200,500 noenhanced\n"
			"set output '%s'\n"
			"set multiplot layout 1,2 title 'paddock-bench %s  %s:%d  t=%d c=%d w=%d'\n"
			"set xlabel 'time (s)'\nset ylabel 'ops/s'\nset y2label 'latency (us)'\n"
			"set ytics nomirror\nset y2tics\nset grid\nset yrange [0:*]\nset y2range [0:*]\n"
			"plot '%s' using 1:2 with lines lw 2 title 'ops/s', "
			"'' using 1:4 axes x1y2 with lines title 'p99 (us)', "
			"'' using 1:3 axes x1y2 with lines title 'p50 (us)'\n"
			"unset y2label\nunset y2tics\nset yrange [*:*]\n"
			"set logscale x\nset xlabel 'percentile'\nset ylabel 'latency (us)'\n"
			"set xtics ('0%%%%' 1, '90%%%%' 10, '99%%%%' 100, '99.9%%%%' 1000, "
			"'99.99%%%%' 10000, '99.999%%%%' 100000, 'max' 1000000)\n"
			"set key left top\nplot '%s' using 1:2 with linespoints lw 2 title 'latency (measured)'\n"
			"unset multiplot\n",
			file, bench_workload_name(cfg.workload), cfg.host, cfg.port, cfg.threads,
			cfg.conns, cfg.window, tl, lat);
		rc = pclose(g) == 0 ? 0 : -1;
	}
	unlink(tl);
	unlink(lat);
	if (rc)
		fprintf(stderr, "paddock-bench: gnuplot failed; no plot drawn\n");
	return rc;
}

/* ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
	char err[256];
	bench_config_defaults(&cfg);
	int pr = bench_config_parse(&cfg, argc, argv, err, sizeof(err));
	if (pr == 1)
		return 0;
	if (pr < 0) {
		fprintf(stderr, "paddock-bench: %s (see --help)\n", err);
		return 2;
	}
	if (cfg.rate > 0 && !simple_workload())
		fprintf(stderr, "paddock-bench: --rate ignored for %s (a closed-loop recipe)\n",
			bench_workload_name(cfg.workload));

	if (cfg.tls_ca[0])
		g_tls = tls_client_ctx();
	/* resolve once */
	for (int i = 0; i < cfg.nservers; i++) {
		struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
		char port[16];
		snprintf(port, sizeof(port), "%d", cfg.server_port[i]);
		int gai = getaddrinfo(cfg.server_host[i], port, &hints, &ai);
		if (gai) {
			fprintf(stderr, "paddock-bench: %s: %s\n", cfg.server_host[i],
				gai_strerror(gai));
			return 2;
		}
		memcpy(&g_addr[i].sa, ai->ai_addr, ai->ai_addrlen);
		g_addr[i].len = ai->ai_addrlen;
		freeaddrinfo(ai);
	}

	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_sigint);
	signal(SIGTERM, on_sigint);

	snprintf(g_run, sizeof(g_run), "r%x%x", (unsigned)getpid(), (unsigned)time(NULL));
	g_value = malloc(cfg.value_size + 8);
	if (!g_value)
		oom();
	memset(g_value, 'v', cfg.value_size + 8);
	const char *P = cfg.prefix;
	snprintf(p_dir, sizeof(p_dir), "%s", P);
	snprintf(p_c, sizeof(p_c), "%s/c", P);
	snprintf(p_s, sizeof(p_s), "%s/s", P);
	snprintf(p_e, sizeof(p_e), "%s/e", P);
	snprintf(p_lock, sizeof(p_lock), "%s/lock", P);
	snprintf(p_w, sizeof(p_w), "%s/w", P);
	snprintf(p_m, sizeof(p_m), "%s/m", P);
	snprintf(p_ids, sizeof(p_ids), "%s/m/ids", P);
	snprintf(p_topics, sizeof(p_topics), "%s/m/topics", P);
	snprintf(p_offsets, sizeof(p_offsets), "%s/m/offsets", P);
	snprintf(p_ctrl, sizeof(p_ctrl), "%s/m/controller", P);
	if (cfg.workload == BENCH_W_MESSAGING) {
		g_topicpaths = make_paths(p_topics, "t", cfg.keys);
		g_offsetpaths = make_paths(p_offsets, "g", cfg.keys);
	} else
		g_keypaths = make_paths(p_dir, "k", cfg.keys);
	g_nwatchers = cfg.conns - 1;

	if (!cfg.no_setup && do_setup())
		return 1;

	/* workers and their connections */
	g_workers = aligned_alloc(64, sizeof(struct worker) * (size_t)cfg.threads);
	if (!g_workers)
		oom();
	memset(g_workers, 0, sizeof(struct worker) * (size_t)cfg.threads);
	/* the ring starts at a closed loop's window and grows on demand */
	uint32_t ringsz = 1;
	while (ringsz < (uint32_t)(cfg.window < 4096 ? cfg.window : 4096) + 8)
		ringsz <<= 1;
	int next_id = 0;
	for (int t = 0; t < cfg.threads; t++) {
		struct worker *w = &g_workers[t];
		w->id = t;
		w->ep = epoll_create1(EPOLL_CLOEXEC);
		w->nconns = cfg.conns / cfg.threads + (t < cfg.conns % cfg.threads);
		w->active = w->nconns;
		w->conns = calloc((size_t)w->nconns, sizeof(struct conn));
		w->dirty = calloc((size_t)w->nconns, sizeof(struct conn *));
		w->rcap = RBUF_SIZE;
		w->rbuf = malloc(w->rcap);
		w->rng = 0x9E3779B97F4A7C15ull * (uint64_t)(t + 1) ^ (uint64_t)now_ns();
		if (w->ep < 0 || !w->conns || !w->dirty || !w->rbuf)
			oom();
		bench_hist_init(&w->all);
		bench_hist_init(&w->meas);
		for (int i = 0; i < w->nconns; i++) {
			struct conn *c = &w->conns[i];
			c->fd = -1;
			c->id = next_id++;
			c->w = w;
			c->mask = ringsz - 1;
			c->cap = (uint32_t)cfg.window;
			if (!simple_workload())
				c->cap = ringsz - 1;
			c->ring = calloc(ringsz, sizeof(struct slot));
			if (!c->ring || bench_buf_reserve(&c->out, 16384))
				oom();
		}
	}

	t_start = now_ns();
	t_measure = t_start + cfg.warmup_ns;
	t_end = t_measure + cfg.duration_ns;
	__atomic_store_n(&g_tset, t_start, __ATOMIC_RELEASE);
	if (!cfg.quiet)
		fprintf(stderr,
			"paddock-bench: %s against %s:%d%s, %d thread(s), %d connection(s), window %d, "
			"%s, warm-up %.1fs, measure %.1fs\n",
			bench_workload_name(cfg.workload), cfg.host, cfg.port,
			cfg.nservers > 1 ? " and the rest of --servers" : "", cfg.threads, cfg.conns,
			cfg.window, cfg.rate > 0 ? "open loop" : "closed loop", cfg.warmup_ns / 1e9,
			cfg.duration_ns / 1e9);
	for (int t = 0; t < cfg.threads; t++)
		if (pthread_create(&g_workers[t].th, NULL, worker_main, &g_workers[t])) {
			fprintf(stderr, "paddock-bench: pthread_create failed\n");
			return 2;
		}

	/* progress, one line a second, and the timeline for --json/--plot */
	static struct bench_hist cur, prev, diff;
	uint64_t prev_ops = 0, prev_errs = 0, ops, errs;
	bench_hist_init(&prev);
	int maxticks = (int)((t_end - t_start) / 1000000000ull) + 8;
	g_ticks = calloc((size_t)maxticks, sizeof(struct tick));
	uint64_t prev_t = t_start;
	/* the generator's own CPU use from the first tick in the measured
	 * interval to its end: near 1 per thread, the bench may be the limit */
	uint64_t cpu0 = 0, cpu_t0 = 0;
	if (t_measure == t_start) {
		cpu0 = cpu_ns();
		cpu_t0 = t_start;
	}
	for (int sec = 1;; sec++) {
		uint64_t target = t_start + (uint64_t)sec * 1000000000ull;
		if (target > t_end)
			target = t_end;
		uint64_t now = now_ns();
		while (now < target && !g_interrupted) {
			uint64_t d = target - now;
			if (d > 50000000ull)
				d = 50000000ull;
			struct timespec ts = {0, (long)d};
			nanosleep(&ts, NULL);
			now = now_ns();
		}
		snapshot_all(&cur, &ops, &errs);
		bench_hist_diff(&diff, &cur, &prev);
		double dt = (double)(now - prev_t) / 1e9;
		if (g_nticks < maxticks && dt > 0.05) {
			struct tick *k = &g_ticks[g_nticks++];
			k->t = (double)(now - t_start) / 1e9;
			k->ops_per_s = (double)(ops - prev_ops) / dt;
			k->errors = errs - prev_errs;
			k->p50_us = bench_hist_percentile(&diff, 50) / 1e3;
			k->p99_us = bench_hist_percentile(&diff, 99) / 1e3;
			k->warmup = prev_t < t_measure; /* the second it covers began in the warm-up */
			if (!cfg.quiet) {
				char p99[32];
				fmt_lat(p99, sizeof(p99), bench_hist_percentile(&cur, 99));
				fprintf(stderr, "[%5.1fs] %10.0f ops/s  errors %llu  p99 so far %s%s\n",
					k->t, k->ops_per_s, (unsigned long long)errs, p99,
					k->warmup ? "  (warm-up)" : "");
			}
		}
		prev = cur;
		prev_ops = ops;
		prev_errs = errs;
		prev_t = now;
		if (!cpu_t0 && now >= t_measure) {
			cpu0 = cpu_ns();
			cpu_t0 = now;
		}
		if (now >= t_end || g_interrupted)
			break;
	}
	uint64_t t_stop = now_ns();
	double client_cpu = cpu_t0 && t_stop > cpu_t0
				    ? (double)(cpu_ns() - cpu0) / (double)(t_stop - cpu_t0)
				    : 0;
	for (int t = 0; t < cfg.threads; t++)
		pthread_join(g_workers[t].th, NULL);

	/* merge */
	static struct bench_hist m;
	bench_hist_init(&m);
	uint64_t mops = 0, merrs = 0, allerrs = 0, fails = 0;
	uint64_t msent = 0, munsent = 0, munans = 0, mreplies = 0, lag_sum = 0, lag_max = 0;
	const char *firsterr = NULL;
	for (int t = 0; t < cfg.threads; t++) {
		struct worker *w = &g_workers[t];
		bench_hist_merge(&m, &w->meas);
		mops += w->mops;
		merrs += w->merrs;
		allerrs += w->errs;
		fails += w->conn_fail;
		msent += w->msent;
		munsent += w->munsent;
		munans += w->munanswered;
		mreplies += w->mreplies;
		lag_sum += w->mlag_sum;
		if (w->mlag_max > lag_max)
			lag_max = w->mlag_max;
		if (!firsterr && w->errmsg[0])
			firsterr = w->errmsg;
	}
	double secs = cfg.duration_ns / 1e9;
	if (g_interrupted && t_stop < t_end)
		secs = t_stop > t_measure ? (double)(t_stop - t_measure) / 1e9 : 0;
	double rate = secs > 0 ? (double)mops / secs : 0;
	/* under overload the ops of the interval are answered after it, so
	 * the replies received during it give the server's throughput */
	double offered = secs > 0 ? (double)msent / secs : 0;
	double tput = secs > 0 ? (double)mreplies / secs : 0;
	double us = 1e3;
	/* how late the generator sent (open loop; 0 in closed loop) */
	double lag_mean = msent ? (double)lag_sum / (double)msent / us : 0, lag_top = lag_max / us;
	double p50 = bench_hist_percentile(&m, 50) / us, p90 = bench_hist_percentile(&m, 90) / us,
	       p99 = bench_hist_percentile(&m, 99) / us, p999 = bench_hist_percentile(&m, 99.9) / us,
	       pmax = m.count ? m.max / us : 0, mean = bench_hist_mean(&m) / us;

	if (cfg.json) {
		printf("{\"workload\":\"%s\",\"host\":\"%s\",\"port\":%d,\"servers\":%d,\"threads\":%d,"
		       "\"conns\":%d,\"window\":%d,\"target_rate\":%.1f,\"mode\":\"%s\","
		       "\"value_size\":%u,\"keys\":%u,\"read_ratio\":%.3f,"
		       "\"duration_s\":%.3f,\"warmup_s\":%.3f,\"ops\":%llu,\"errors\":%llu,"
		       "\"errors_total\":%llu,\"connection_failures\":%llu,\"rate\":%.1f,"
		       "\"sent\":%llu,\"unsent\":%llu,\"unanswered\":%llu,\"offered\":%.1f,"
		       "\"throughput\":%.1f,\"client_cpu\":%.3f,"
		       "\"send_lag_us\":{\"mean\":%.2f,\"max\":%.2f},"
		       "\"latency_us\":{\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,\"p999\":%.2f,"
		       "\"max\":%.2f,\"mean\":%.2f},\"timeline\":[",
		       bench_workload_name(cfg.workload), cfg.host, cfg.port, cfg.nservers, cfg.threads,
		       cfg.conns, cfg.window, cfg.rate, cfg.rate > 0 ? "open" : "closed", cfg.value_size,
		       cfg.keys, cfg.read_ratio, secs, cfg.warmup_ns / 1e9,
		       (unsigned long long)mops, (unsigned long long)merrs,
		       (unsigned long long)allerrs, (unsigned long long)fails, rate,
		       (unsigned long long)msent, (unsigned long long)munsent,
		       (unsigned long long)munans, offered, tput, client_cpu, lag_mean, lag_top, p50,
		       p90, p99, p999, pmax, mean);
		for (int i = 0; i < g_nticks; i++)
			printf("%s{\"t\":%.3f,\"ops_per_s\":%.1f,\"errors\":%llu,\"p50_us\":%.2f,"
			       "\"p99_us\":%.2f,\"warmup\":%s}",
			       i ? "," : "", g_ticks[i].t, g_ticks[i].ops_per_s,
			       (unsigned long long)g_ticks[i].errors, g_ticks[i].p50_us,
			       g_ticks[i].p99_us, g_ticks[i].warmup ? "true" : "false");
		printf("]");
		if (firsterr) {
			printf(",\"first_error\":\"");
			for (const char *q = firsterr; *q; q++)
				putchar(*q == '"' || *q == '\\' ? '\'' : *q);
			printf("\"");
		}
		printf("}\n");
	} else if (cfg.csv) {
		printf("workload,threads,conns,window,target_rate,value_size,ops,errors,rate,"
		       "p50_us,p90_us,p99_us,p999_us,max_us,mean_us,sent,unsent,unanswered,offered,"
		       "throughput,client_cpu,send_lag_mean_us,send_lag_max_us\n");
		printf("%s,%d,%d,%d,%.1f,%u,%llu,%llu,%.1f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%llu,%llu,"
		       "%llu,%.1f,%.1f,%.3f,%.2f,%.2f\n",
		       bench_workload_name(cfg.workload), cfg.threads, cfg.conns, cfg.window,
		       cfg.rate, cfg.value_size, (unsigned long long)mops,
		       (unsigned long long)merrs, rate, p50, p90, p99, p999, pmax, mean,
		       (unsigned long long)msent, (unsigned long long)munsent,
		       (unsigned long long)munans, offered, tput, client_cpu, lag_mean, lag_top);
	} else {
		printf("workload  %s  (%s, %d thread(s), %d conn(s), window %d%s)\n",
		       bench_workload_name(cfg.workload), cfg.rate > 0 ? "open loop" : "closed loop",
		       cfg.threads, cfg.conns, cfg.window, "");
		if (cfg.rate > 0 && simple_workload())
			printf("target    %.0f ops/s: sent %llu = %.0f ops/s (late by %.1fus on average, "
			       "%.1fus at most), never sent %llu, unanswered %llu\n",
			       cfg.rate, (unsigned long long)msent, offered, lag_mean, lag_top,
			       (unsigned long long)munsent, (unsigned long long)munans);
		printf("ops       %llu in %.2fs = %.0f ops/s (replies received in it: %.0f/s)\n",
		       (unsigned long long)mops, secs, rate, tput);
		printf("errors    %llu (all phases: %llu, connection failures: %llu)\n",
		       (unsigned long long)merrs, (unsigned long long)allerrs,
		       (unsigned long long)fails);
		printf("latency   p50 %.1fus  p90 %.1fus  p99 %.1fus  p99.9 %.1fus  max %.1fus  "
		       "mean %.1fus\n",
		       p50, p90, p99, p999, pmax, mean);
		printf("client    %.2f CPU (paddock-bench's own, in the measured interval)\n",
		       client_cpu);
	}
	if (firsterr && !cfg.quiet)
		fprintf(stderr, "paddock-bench: first error: %s\n", firsterr);
	if (cfg.plot[0])
		plot(cfg.plot, &m);
	if (cfg.cleanup)
		do_cleanup();
	/* errors are results; failing to talk to the server at all is not */
	return fails || mops == 0 ? 1 : 0;
}
