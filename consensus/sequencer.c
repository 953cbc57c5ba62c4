/*
 * sequencer.c — orders and applies every write; owns the session table.
 *
 * Mirrors Apache ZooKeeper 3.8's standalone pipeline:
 *   PrepRequestProcessor  -> prep.c: validate against the tree plus the
 *                            outstanding changes, one zxid per request;
 *   SyncRequestProcessor  -> the log (log/): the transaction record
 *                            (txn.c) is appended and group-committed;
 *   FinalRequestProcessor -> drain_pending(): once the log says a zxid is
 *                            durable, apply it to the tree, emit the
 *                            watch events, answer.
 * Reads on the workers therefore never see a change before it is durable.
 * A failed write still consumes a zxid (ZooKeeper logs an ErrorTxn).  A
 * failed multi answers per-op results: OK for the ops before the failing
 * one, its error, RUNTIMEINCONSISTENCY after it; header err stays 0.
 *
 * Sessions: createSession/closeSession are transactions; the expiry
 * check (ZooKeeper's SessionTrackerImpl, here a scan every tick/2) closes
 * sessions whose deadline passed, deleting their ephemerals.  Containers
 * and TTL nodes are reaped as ContainerManager does.
 *
 * Time and chance are inputs: the loop reads both clocks once per pass
 * (seq_clock: s->now for deadlines and timers, s->wall_ms for txn
 * times) and draws randomness from its own seeded generator (seq_rand);
 * nothing below it (sessions, prep, txn, the ensemble, zab.c) reads a
 * clock or calls rand().  Only the snapshot thread, recovery and a
 * leader serializing a SNAP time themselves, for their log lines.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <linux/membarrier.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>

#include <rte_ring.h>
#include <urcu-qsbr.h>

#include "consensus/peer_int.h"
#include "consensus/seq_int.h"

#define RING_SIZE 65536
#define BURST 256
#define MAX_MULTI_OPS 4096
#define MAX_AUTH 32

/* ------------------------------------------------------------------ */
void zk_session_passwd(int64_t id, uint8_t out[ZK_PASSWD_LEN])
{
	/* java.util.Random(seed).nextBytes: a 48-bit LCG, each nextInt()
	 * giving four bytes, low byte first */
	const uint64_t mult = 0x5DEECE66DULL, mask = (1ULL << 48) - 1;
	uint64_t seed = ((uint64_t)id ^ 0xB3415C00ULL ^ mult) & mask;
	for (int i = 0; i < ZK_PASSWD_LEN;) {
		seed = (seed * mult + 0xB) & mask;
		uint32_t r = (uint32_t)(seed >> 16);
		for (int k = 0; k < 4 && i < ZK_PASSWD_LEN; k++, r >>= 8)
			out[i++] = (uint8_t)r;
	}
}

void seq_clock(struct zab_seq *s)
{
	s->now = zk_clock_ms(CLOCK_MONOTONIC);
	s->wall_ms = zk_clock_ms(CLOCK_REALTIME);
}

uint64_t seq_rand(struct zab_seq *s)
{
	uint64_t x = s->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	s->rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

struct zmsg *zmsg_new(uint16_t type, uint32_t len)
{
	struct zmsg *m = malloc(sizeof(*m) + len);
	if (!m)
		return NULL;
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->len = len;
	m->cap = len;
	return m;
}

void zmsg_free(struct zmsg *m)
{
	free(m);
}

static struct rte_ring *ring_new(const char *name, unsigned size)
{
	ssize_t sz = rte_ring_get_memsize(size);
	void *mem = NULL;
	if (sz < 0 || posix_memalign(&mem, 64, (size_t)sz))
		return NULL;
	struct rte_ring *r = mem;
	if (rte_ring_init(r, name, size, RING_F_SP_ENQ | RING_F_SC_DEQ)) {
		free(mem);
		return NULL;
	}
	return r;
}

static void wake(int efd)
{
	uint64_t one = 1;
	ssize_t rc = write(efd, &one, sizeof(one));
	(void)rc;
}

/* Whether r holds entries.  rte_ring_count reads the ring's indexes with
 * plain loads (a data race in the C11 model, and so in TSan's eyes):
 * acquire loads here, the same instructions on x86-64. */
static bool ring_nonempty(const struct rte_ring *r)
{
	uint32_t prod = __atomic_load_n(&r->prod.tail, __ATOMIC_ACQUIRE);
	uint32_t cons = __atomic_load_n(&r->cons.tail, __ATOMIC_ACQUIRE);

	return ((prod - cons) & r->mask) != 0;
}

/* Enqueue what fits (never waits); wake the consumer if it sleeps. */
static unsigned ring_push(struct rte_ring *r, struct zmsg **m, unsigned n,
			  _Atomic int *sleeping, int efd)
{
	unsigned done = rte_ring_enqueue_burst(r, (void **)m, n, NULL);
	atomic_thread_fence(memory_order_seq_cst);
	if (done && atomic_load(sleeping))
		wake(efd);
	return done;
}

/* Move the head of l into r, a burst at a time, until r is full.  The
 * successors are read before each enqueue: once in the ring a message
 * belongs to the consumer.  True if l is now empty. */
static bool list_push(struct rte_ring *r, struct zmsg_list *l,
		      _Atomic int *sleeping, int efd)
{
	while (l->head) {
		struct zmsg *b[BURST];
		unsigned n = 0;
		for (struct zmsg *m = l->head; m && n < BURST; m = m->next)
			b[n++] = m;
		struct zmsg *rest = b[n - 1]->next;
		unsigned k = ring_push(r, b, n, sleeping, efd);
		l->n -= k;
		if (k < n) {
			l->head = b[k];
			return false;
		}
		l->head = rest;
		if (!rest)
			l->tail = NULL;
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* Worker-facing API                                                     */
/* ------------------------------------------------------------------ */
unsigned zab_post(struct zab_seq *s, int w, struct zmsg **m, unsigned n)
{
	return ring_push(s->w[w].in, m, n, &s->sleeping, s->efd);
}

bool zab_post_list(struct zab_seq *s, int w, struct zmsg_list *l)
{
	return list_push(s->w[w].in, l, &s->sleeping, s->efd);
}

unsigned zab_poll(struct zab_seq *s, int w, struct zmsg **out, unsigned n)
{
	return rte_ring_dequeue_burst(s->w[w].out, (void **)out, n, NULL);
}

int zab_worker_fd(struct zab_seq *s, int w)
{
	return s->w[w].efd;
}

bool zab_sleep_prepare(struct zab_seq *s, int w)
{
	atomic_store(&s->w[w].sleeping, 1);
	atomic_thread_fence(memory_order_seq_cst);
	if (ring_nonempty(s->w[w].out)) {
		atomic_store(&s->w[w].sleeping, 0);
		return false;
	}
	return true;
}

void zab_sleep_done(struct zab_seq *s, int w)
{
	uint64_t v;
	atomic_store(&s->w[w].sleeping, 0);
	ssize_t rc = read(s->w[w].efd, &v, sizeof(v));
	(void)rc;
}

const char *zab_seq_mode(const struct zab_seq *s)
{
	static const char *const names[] = {
	    [ZR_FOLLOWING] = "follower", [ZR_LEADING] = "leader",
	    [ZR_OBSERVING] = "observer", [SEQ_MODE_READ_ONLY] = "read-only"};
	if (!s->ens)
		return "standalone";
	int m = atomic_load(&((struct zab_seq *)s)->mode);
	return m >= 0 && m <= SEQ_MODE_READ_ONLY ? names[m] : NULL;
}

int64_t zab_seq_leader_id(const struct zab_seq *s)
{
	return s->ens ? atomic_load(&((struct zab_seq *)s)->leader_sid) : -1;
}

int64_t zab_seq_server_id(const struct zab_seq *s)
{
	return s->cfg.server_id;
}

int zab_negotiate_timeout(const struct zab_seq *s, int requested)
{
	if (requested < s->cfg.min_session_timeout)
		return s->cfg.min_session_timeout;
	if (requested > s->cfg.max_session_timeout)
		return s->cfg.max_session_timeout;
	return requested;
}

const struct zab_stats *zab_seq_stats(const struct zab_seq *s)
{
	return &s->stats;
}

void zab_auth_write(struct jw *w, const struct zauth_id *ids, int n)
{
	jw_int(w, n);
	for (int i = 0; i < n; i++) {
		jw_str(w, ids[i].scheme);
		jw_str(w, ids[i].id);
	}
}

int zab_auth_parse(const uint8_t *p, uint32_t len, struct zauth_id *ids,
		   char *buf, size_t buf_len, int max)
{
	struct jr r;
	jr_init(&r, p, len);
	int n = jr_int(&r);
	if (r.err || n < 0 || n > max)
		return -1;
	size_t used = 0;
	for (int i = 0; i < n; i++) {
		const char *str[2];
		for (int k = 0; k < 2; k++) {
			int32_t l;
			const char *s = jr_buf(&r, &l);
			if (r.err || l < 0 || used + (size_t)l + 1 > buf_len)
				return -1;
			memcpy(buf + used, s, (size_t)l);
			buf[used + (size_t)l] = 0;
			str[k] = buf + used;
			used += (size_t)l + 1;
		}
		ids[i].scheme = str[0];
		ids[i].id = str[1];
	}
	return n;
}

/* ------------------------------------------------------------------ */
/* Outgoing messages                                                     */
/* ------------------------------------------------------------------ */
/* Messages for a worker wait in its list until the end of the pass (or
 * until its ring has room: the sequencer never waits for a worker). */
static void out_add(struct zab_seq *s, int w, struct zmsg *m)
{
	if (w == ENS_REMOTE) {
		ens_remote_out(s, m);
		return;
	}
	zmsg_list_add(&s->w[w].q, m);
}

/* True if every list went into its ring. */
static bool out_flush(struct zab_seq *s)
{
	bool all = true;
	for (int w = 0; w < s->cfg.n_workers; w++)
		if (s->w[w].q.head)
			all &= list_push(s->w[w].out, &s->w[w].q,
					 &s->w[w].sleeping, s->w[w].efd);
	return all;
}

/*
 * Events and watches meet as in Dekker's algorithm: the sequencer changes
 * the tree, then loads a worker's `watching`; the worker stores
 * `watching`, then reads the tree (and may set a watch); a full barrier
 * on both sides between the store and the load means at least one sees
 * the other.  The sequencer's side ran for every event (an mfence: 3 %
 * of the CPU of a 3-server set load), the worker's only when it starts
 * watching.  So where the kernel has it, the worker's side is
 * membarrier(PRIVATE_EXPEDITED), which makes every running thread of the
 * process execute a full barrier before it returns, and the sequencer's
 * is a compiler barrier only (liburcu's urcu-memb does the same).
 */
static void full_barrier(void)
{
#ifdef __SANITIZE_THREAD__
	/* TSan does not model fences (gcc: -Wtsan); a seq_cst RMW is one */
	static _Atomic int dummy;
	atomic_fetch_add(&dummy, 0);
#else
	atomic_thread_fence(memory_order_seq_cst);
#endif
}

static long sys_membarrier(int cmd)
{
	return syscall(__NR_membarrier, cmd, 0, 0);
}

void zab_watching(struct zab_seq *s, int w, bool on)
{
	atomic_store(&s->w[w].watching, on);
	if (!on)
		return;
	if (!s->membarrier || sys_membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED))
		full_barrier();
}

/* Does the ACL let every session read (world:anyone with READ, or an
 * empty list)?  Then an event needs no check. */
static bool readable_by_all(const struct zacl *a)
{
	if (!a || a->n == 0)
		return true;
	for (int i = 0; i < a->n; i++)
		if ((a->e[i].perms & ZPERM_READ) &&
		    !strcmp(a->e[i].scheme, "world") &&
		    !strcmp(a->e[i].id, "anyone"))
			return true;
	return false;
}

/* ZM_EVENT's ACL, after the path (zab_event_acl reads it back). */
static void event_acl_write(struct jw *o, const struct zacl *a)
{
	jw_int(o, a->n);
	for (int i = 0; i < a->n; i++) {
		jw_int(o, a->e[i].perms);
		jw_str(o, a->e[i].scheme);
		jw_str(o, a->e[i].id);
	}
}

/* The ACL of `path` now (NULL if it is gone). */
static const struct zacl *acl_of(struct zab_seq *s, const char *path,
				 size_t len)
{
	const struct znode *n = tree_lookup(s->tree, path, len);
	struct zview v;

	if (!n)
		return NULL;
	znode_view(n, &v);
	return v.acl;
}

/* A session is told only with READ in the ACL of the event's path (for
 * NodeChildrenChanged that is the parent), looked up here once a worker
 * watches; for NodeDeleted the node is gone: `deleted_acl` is its ACL. */
static void seq_send_event(struct zab_seq *s, int type, const char *path,
			   size_t len, zxid_t zxid,
			   const struct zacl *deleted_acl)
{
	struct jw a = {0};
	bool acl_done = false;
	/* the change is in the tree: now look at the workers' flags (the
	 * barrier pairs with zab_watching's) */
	if (s->membarrier)
		atomic_signal_fence(memory_order_seq_cst);
	else
		full_barrier();
	for (int w = 0; w < s->cfg.n_workers; w++) {
		if (!atomic_load_explicit(&s->w[w].watching,
					  memory_order_relaxed))
			continue;
		if (!acl_done) { /* once, and only when someone watches */
			const struct zacl *acl = type == ZEV_DELETED
							 ? deleted_acl
							 : acl_of(s, path, len);
			if (!readable_by_all(acl))
				event_acl_write(&a, acl);
			if (a.err)
				break; /* ENOMEM: the watch is lost, as below */
			acl_done = true;
		}
		struct zmsg *m = zmsg_new(ZM_EVENT, (uint32_t)(len + a.len));
		if (!m)
			continue; /* the watch is lost; logged by no one */
		m->zxid = zxid;
		m->err = type;
		memcpy(m->body, path, len);
		if (a.len)
			memcpy(m->body + len, a.p, a.len);
		m->auth_len = (uint32_t)a.len;
		out_add(s, w, m);
	}
	free(a.p);
}

int seq_apply_step(struct zab_seq *s, struct step *st, zxid_t zxid,
		   int64_t now, struct jw *out, bool events)
{
	struct txn_effects fx;
	int rc = txn_apply_step(s->tree, st, zxid, now, out, &fx);
	if (fx.ephemerals)
		stat_add(&s->stats.ephemerals, fx.ephemerals);
	if (events)
		for (int i = 0; i < fx.n; i++)
			seq_send_event(s, fx.ev[i].type, fx.ev[i].path,
				       fx.ev[i].len, zxid, fx.ev[i].acl);
	return rc;
}

struct zacl *zab_event_acl(const struct zmsg *m)
{
	struct zacl *acl = NULL;
	struct jr r;

	if (!m->auth_len)
		return NULL;
	jr_init(&r, m->body + m->len - m->auth_len, m->auth_len);
	int n = jr_int(&r);
	/* each entry takes 12 bytes or more: n is bounded by auth_len */
	if (r.err || n < 0 || (uint32_t)n > m->auth_len / 12)
		return zacl_new(0, NULL, NULL, NULL);
	int32_t *perms = malloc(((size_t)n + 1) * sizeof(*perms));
	const char **str = malloc(((size_t)n + 1) * 2 * sizeof(*str));
	char *buf = malloc(m->auth_len); /* strings + NULs fit in it */
	size_t used = 0;
	if (!perms || !str || !buf)
		goto out;
	for (int i = 0; i < n; i++) {
		perms[i] = jr_int(&r);
		for (int k = 0; k < 2; k++) {
			int32_t l;
			const char *p = jr_buf(&r, &l);
			if (r.err || l < 0 || used + (size_t)l + 1 > m->auth_len)
				goto out;
			memcpy(buf + used, p, (size_t)l);
			buf[used + (size_t)l] = 0;
			str[k * n + i] = buf + used;
			used += (size_t)l + 1;
		}
	}
	acl = zacl_new(n, perms, str, str + n);
out:
	free(perms);
	free(str);
	free(buf);
	return acl;
}

static void send_kill(struct zab_seq *s, struct zconn_ref c)
{
	struct zmsg *m = zmsg_new(ZM_KILL, 0);
	if (!m)
		return;
	m->conn = c;
	out_add(s, c.worker, m);
}

static bool conn_same(struct zconn_ref a, struct zconn_ref b)
{
	return a.worker == b.worker && a.slot == b.slot && a.gen == b.gen;
}

/* A session that a connection other than c holds loses it: that
 * connection is closed, the session survives unattached. */
static void sess_take_from_other(struct zab_seq *s, struct zsession *z,
				 struct zconn_ref c)
{
	if (z->attached && !conn_same(z->conn, c)) {
		send_kill(s, z->conn);
		z->attached = false;
	}
}

static void send_reply(struct zab_seq *s, const struct zmsg *req, int err,
		       zxid_t zxid)
{
	size_t len = err ? 0 : s->reply.len;
	struct zmsg *m = zmsg_new(ZM_REPLY, (uint32_t)len);
	if (!m)
		return;
	m->conn = req->conn;
	m->xid = req->xid;
	m->op = req->op;
	m->err = err;
	m->zxid = zxid;
	m->session = req->session;
	m->t0 = req->t0;
	m->req_len = req->req_len;
	if (len)
		memcpy(m->body, s->reply.p, len);
	out_add(s, req->conn.worker, m);
}

/* Answer t's request with s->reply, turning the request message itself
 * into the reply when it is big enough (the common case: a request
 * carries at least its path).  That saves the sequencer a malloc and a
 * free of memory the worker allocated, and the worker frees its own. */
static void send_reply_in_place(struct zab_seq *s, struct ptxn *t, int err,
				zxid_t zxid)
{
	struct zmsg *m = t->req;
	size_t len = err ? 0 : s->reply.len;

	if (m->cap < len) {
		send_reply(s, m, err, zxid);
		return;
	}
	t->req = NULL;
	m->type = ZM_REPLY;
	m->err = err;
	m->zxid = zxid;
	m->auth_len = 0;
	m->len = (uint32_t)len;
	if (len)
		memcpy(m->body, s->reply.p, len);
	out_add(s, m->conn.worker, m);
}

/* ------------------------------------------------------------------ */
/* Sessions                                                             */
/* ------------------------------------------------------------------ */
static size_t sess_hash(const struct zab_seq *s, int64_t id)
{
	uint64_t h = (uint64_t)id * 0x9e3779b97f4a7c15ULL;
	return (size_t)(h >> 20) & (s->nbuckets - 1);
}

struct zsession *seq_sess_find(struct zab_seq *s, int64_t id)
{
	for (struct zsession *x = s->sess[sess_hash(s, id)]; x; x = x->next)
		if (x->id == id)
			return x;
	return NULL;
}

void seq_sess_remove(struct zab_seq *s, struct zsession *z)
{
	struct zsession **pp = &s->sess[sess_hash(s, z->id)];
	while (*pp != z)
		pp = &(*pp)->next;
	*pp = z->next;
	s->nsess--;
	atomic_store(&s->stats.sessions, (int64_t)s->nsess);
	free(z);
}

static void sess_grow(struct zab_seq *s)
{
	size_t nb = s->nbuckets * 2;
	struct zsession **t = calloc(nb, sizeof(*t));
	if (!t)
		return;
	size_t old = s->nbuckets;
	struct zsession **ot = s->sess;
	s->sess = t;
	s->nbuckets = nb;
	for (size_t i = 0; i < old; i++) {
		struct zsession *x = ot[i];
		while (x) {
			struct zsession *n = x->next;
			size_t h = sess_hash(s, x->id);
			x->next = t[h];
			t[h] = x;
			x = n;
		}
	}
	free(ot);
}

struct zsession *seq_sess_add(struct zab_seq *s, int64_t id, int32_t timeout,
			      const uint8_t *passwd)
{
	struct zsession *z = calloc(1, sizeof(*z));
	if (!z)
		return NULL;
	z->id = id;
	z->timeout = timeout;
	memcpy(z->passwd, passwd, ZK_PASSWD_LEN);
	z->deadline = s->now + timeout;
	if (s->nsess >= s->nbuckets)
		sess_grow(s);
	size_t h = sess_hash(s, id);
	z->next = s->sess[h];
	s->sess[h] = z;
	s->nsess++;
	atomic_store(&s->stats.sessions, (int64_t)s->nsess);
	return z;
}

/* ------------------------------------------------------------------ */
/* Pending transactions                                                  */
/* ------------------------------------------------------------------ */
/* Pending transactions are recycled (a sequencer-local free list): the
 * write path allocates none once warm. */
static struct ptxn *ptxn_new(struct zab_seq *s, enum ptxn_kind kind,
			     struct zmsg *req)
{
	struct ptxn *t = s->ptxn_free;
	if (t) {
		s->ptxn_free = t->next;
		memset(t, 0, sizeof(*t));
	} else {
		t = calloc(1, sizeof(*t));
		if (!t)
			return NULL;
	}
	t->kind = kind;
	t->req = req;
	t->failed = -1;
	t->time = s->wall_ms;
	/* with nothing pending the tree is what prep would predict */
	if (!s->ph && s->digest)
		s->pdigest = tree_digest(s->tree);
	t->digest0 = s->pdigest;
	if (req) {
		t->session = req->session;
		t->conn = req->conn;
	}
	return t;
}

void ptxn_steps_free(struct ptxn *t)
{
	for (int i = 0; i < t->n; i++)
		step_free(&t->st[i]);
	if (t->st != &t->one)
		free(t->st);
	t->st = NULL;
	t->n = 0;
}

#define REMOTE_KEEP 1024 /* recycled learners' requests kept */
#define REMOTE_CAP 512   /* body bytes of each */

struct zmsg *seq_remote_msg(struct zab_seq *s, uint32_t len)
{
	struct zmsg *m = s->remote_free;
	if (len > REMOTE_CAP)
		return zmsg_new(ZM_REQUEST, len);
	if (m) {
		s->remote_free = m->next;
		s->nremote_free--;
		memset(m, 0, sizeof(*m));
		m->type = ZM_REQUEST;
		m->cap = REMOTE_CAP;
	} else if (!(m = zmsg_new(ZM_REQUEST, REMOTE_CAP))) {
		return NULL;
	}
	m->len = len;
	return m;
}

static void msg_release(struct zab_seq *s, struct zmsg *m)
{
	if (!m || m->conn.worker != ENS_REMOTE || m->cap != REMOTE_CAP ||
	    s->nremote_free >= REMOTE_KEEP) {
		zmsg_free(m);
		return;
	}
	m->next = s->remote_free;
	s->remote_free = m;
	s->nremote_free++;
}

static void ptxn_free(struct zab_seq *s, struct ptxn *t)
{
	prep_release(s, t);
	ptxn_steps_free(t);
	if (t->closing) {
		paths_free(t->closing);
		free(t->closing);
		t->closing = NULL;
	}
	msg_release(s, t->req);
	t->req = NULL;
	t->next = s->ptxn_free;
	s->ptxn_free = t;
}

/* Pending requests per session: an answer that could be given at once
 * must still wait behind the session's own pending ones (xid order). */
static void sess_pending(struct zab_seq *s, const struct ptxn *t, int d)
{
	if (!t->req || (t->kind != PT_REQUEST && t->kind != PT_READ &&
			t->kind != PT_SESSION_CLOSE))
		return;
	struct zsession *z = seq_sess_find(s, t->session);
	if (z)
		z->npending += d;
}

static void enqueue(struct zab_seq *s, struct ptxn *t)
{
	sess_pending(s, t, 1);
	t->next = NULL;
	if (s->pt)
		s->pt->next = t;
	else
		s->ph = t;
	s->pt = t;
	__atomic_store_n(&s->npending, s->npending + 1, __ATOMIC_RELAXED);
}

/* Write t's record to the log.  On failure the transaction's changes are
 * withdrawn and the error is returned. */
static int log_txn(struct zab_seq *s, struct ptxn *t)
{
	int rc = ZOK;
	if (t->kind == PT_SESSION_CLOSE && !t->closing)
		rc = prep_close_session(s, t);
	if (s->digest) {
		/* an error txn or a failed multi changes nothing; an error
		 * txn has no TxnDigest (PrepRequestProcessor throws before it
		 * sets one), a failed multi has one */
		if (t->err || t->failed >= 0)
			s->pdigest = t->digest0;
		t->has_digest = !t->err;
		t->digest = s->pdigest;
	}
	if (rc || (!s->log && !s->ens))
		goto out;
	txn_encode(s, t);
	if (s->rec.err) {
		s->rec.err = false;
		rc = ZSYSTEMERROR;
	} else if (s->ens) { /* a proposal: the core logs it (and its
				followers) */
		rc = ens_propose(s, t);
	} else if (zlog_append(s->log, t->zxid, s->rec.p, s->rec.len)) {
		rc = ZSYSTEMERROR;
	}
out:
	if (rc) /* withdrawn: the caller drops its records */
		s->pdigest = t->digest0;
	return rc;
}

void seq_digest_check(struct zab_seq *s, const struct ptxn *t)
{
	if (!t->has_digest || !s->digest)
		return;
	uint64_t have = tree_digest(s->tree);
	if (have == t->digest)
		return;
	int64_t n = atomic_load(&s->stats.digest_mismatches) + 1;
	stat_add(&s->stats.digest_mismatches, 1);
	if (!(n & (n - 1))) /* the 1st, 2nd, 4th, 8th... */
		fprintf(stderr,
			"paddockd: digest mismatch after zxid 0x%" PRIx64
			" (type %d): the tree's is %" PRId64 ", the %s %" PRId64
			" (%" PRId64 " mismatches so far)\n",
			(uint64_t)t->zxid, t->op, (int64_t)have,
			s->ens && ens_leading(s) ? "prediction" : "leader's",
			(int64_t)t->digest, n);
}

/* What may be applied: durable (standalone) or committed (ensemble). */
static zxid_t durable(struct zab_seq *s)
{
	if (s->ens)
		return s->committed;
	return s->log ? zlog_durable(s->log) : s->zxid;
}

/* ------------------------------------------------------------------ */
/* Requests                                                              */
/* ------------------------------------------------------------------ */
static bool op_in_multi(int type)
{
	return type == ZOP_CREATE || type == ZOP_CREATE2 ||
	       type == ZOP_CREATECONTAINER || type == ZOP_CREATETTL ||
	       type == ZOP_DELETE || type == ZOP_SETDATA || type == ZOP_CHECK;
}

/* Validate a write (single op or multi) into t->st.  ZMARSHALLINGERROR
 * for an undecodable request, else ZOK (t->err / t->failed say whether
 * the write itself failed). */
static int prep_request(struct zab_seq *s, struct ptxn *t,
			const struct zauth_id *ids, int nids, struct jr *r)
{
	int op = t->req->op;
	int cap = 1;
	if (op != ZOP_MULTI) {
		t->st = &t->one;
		t->n = 1;
		t->err = prep_one(s, t, ids, nids, op, r, &t->st[0]);
		return t->err == ZMARSHALLINGERROR ? t->err : ZOK;
	}
	for (;;) {
		int32_t type = jr_int(r);
		bool done = jr_bool(r);
		jr_int(r); /* err */
		if (r->err)
			return ZMARSHALLINGERROR;
		if (done)
			return ZOK;
		if (!op_in_multi(type)) {
			/* a read, or an op no multi holds: ZooKeeper's
			 * MultiOperationRecord refuses it while decoding and
			 * PrepRequestProcessor logs an error txn
			 * (MARSHALLINGERROR); the connection stays */
			t->err = ZMARSHALLINGERROR;
			return ZOK;
		}
		if (t->n == 0 || t->n == cap) {
			cap = t->n ? cap * 2 : 8;
			struct step *n = realloc(t->st, (size_t)cap * sizeof(*n));
			if (!n)
				return ZSYSTEMERROR;
			t->st = n;
		}
		struct step *st = &t->st[t->n++];
		memset(st, 0, sizeof(*st));
		if (t->failed >= 0) {
			/* after a failure ZooKeeper does not prep the rest;
			 * still parse them to find the record's end (a
			 * scratch with `failed` set: prep leaves out the
			 * quota check, whose refusals mntr counts) */
			struct ptxn scratch = {.zxid = t->zxid,
					       .session = t->session,
					       .failed = t->failed};
			int e = prep_one(s, &scratch, ids, nids, type, r, st);
			prep_release(s, &scratch);
			if (e == ZMARSHALLINGERROR)
				return e;
			continue;
		}
		int e = prep_one(s, t, ids, nids, type, r, st);
		if (e == ZMARSHALLINGERROR)
			return e;
		if (e) {
			st->err = e;
			t->failed = t->n - 1;
		}
	}
}

static void reply_now(struct zab_seq *s, struct zmsg *m, int err)
{
	s->reply.len = 0;
	send_reply(s, m, err, s->applied);
}

void seq_handle_request(struct zab_seq *s, struct zmsg *m)
{
	struct zauth_id ids[MAX_AUTH];
	char idbuf[8192];
	int nids = zab_auth_parse(m->body, m->auth_len, ids, idbuf,
				  sizeof(idbuf), MAX_AUTH);
	if (nids < 0) {
		reply_now(s, m, ZAB_UNDECODABLE);
		zmsg_free(m);
		return;
	}
	bool remote = m->conn.worker == ENS_REMOTE;
	if (s->ens && !remote && ens_read_only(s)) {
		/* ReadOnlyRequestProcessor: writes and sync are refused;
		 * closeSession ends the session here only */
		if (m->op == ZOP_CLOSESESSION) {
			struct zsession *z = seq_sess_find(s, m->session);
			if (z && z->local)
				seq_sess_remove(s, z);
			else if (z)
				z->attached = false;
			s->reply.len = 0;
			send_reply(s, m, ZOK, s->applied);
			zmsg_free(m);
			return;
		}
		if (m->op != ZOP_GETEPHEMERALS) {
			reply_now(s, m, ZNOTREADONLY);
			zmsg_free(m);
			return;
		}
	} else if (s->ens && !remote) {
		if (!ens_serving(s)) {
			/* not in an ensemble now: ZooKeeper closes */
			reply_now(s, m, ZAB_UNDECODABLE);
			zmsg_free(m);
			return;
		}
		if (!ens_leading(s) && m->op != ZOP_GETEPHEMERALS &&
		    seq_sess_find(s, m->session)) {
			/* a follower's write, sync or close goes to the
			 * leader; answered when its commit comes back */
			if (!ens_forward(s, m)) {
				reply_now(s, m, ZAB_UNDECODABLE);
				zmsg_free(m);
			}
			return;
		}
	}
	struct jr r;
	jr_init(&r, m->body + m->auth_len, m->len - m->auth_len);
	struct zsession *z = seq_sess_find(s, m->session);
	if ((!z || z->closing) && remote) {
		/* PrepRequestProcessor's checkSession: an error txn the
		 * learner answers from */
		struct ptxn *t = ptxn_new(s, PT_REQUEST, m);
		if (!t) {
			zmsg_free(m);
			return;
		}
		t->err = ZSESSIONEXPIRED;
		t->zxid = ++s->zxid;
		if (log_txn(s, t)) {
			s->zxid--;
			ptxn_free(s, t);
			return;
		}
		enqueue(s, t);
		return;
	}
	if (!z || z->closing) {
		/* answered in order, after the session's pending requests
		 * (its closeSession among them) */
		struct ptxn *t = ptxn_new(s, PT_READ, m);
		if (!t) {
			reply_now(s, m, ZSESSIONEXPIRED);
			zmsg_free(m);
			return;
		}
		t->err = ZSESSIONEXPIRED;
		t->zxid = s->zxid;
		enqueue(s, t);
		return;
	}
	enum ptxn_kind kind = PT_REQUEST;
	if (m->op == ZOP_SYNC || m->op == ZOP_GETEPHEMERALS)
		kind = PT_READ;
	else if (m->op == ZOP_CLOSESESSION)
		kind = PT_SESSION_CLOSE;
	struct ptxn *t = ptxn_new(s, kind, m);
	if (!t) {
		reply_now(s, m, ZSYSTEMERROR);
		zmsg_free(m);
		return;
	}
	if (kind == PT_READ) {
		t->zxid = s->zxid; /* answered once everything before is */
		if (remote && m->op == ZOP_SYNC) /* a learner's: mntr */
			stat_add(&s->stats.pending_syncs, 1);
		enqueue(s, t);
		return;
	}
	t->zxid = ++s->zxid;
	int rc = ZOK;
	if (kind == PT_REQUEST)
		rc = prep_request(s, t, ids, nids, &r);
	if (rc == ZMARSHALLINGERROR) {
		/* undecodable: the worker closes the connection; the zxid
		 * is given back, nothing was logged */
		s->zxid--;
		reply_now(s, m, ZAB_UNDECODABLE);
		ptxn_free(s, t);
		return;
	}
	if (kind == PT_SESSION_CLOSE)
		z->closing = true;
	rc = rc ? rc : log_txn(s, t);
	if (rc) {
		/* the log refused it (disk full, I/O error): withdraw it and
		 * answer with the error, at once unless the session has
		 * requests pending (they answer first, once the log is back) */
		s->zxid--;
		if (kind == PT_SESSION_CLOSE)
			z->closing = false;
		prep_release(s, t);
		ptxn_steps_free(t);
		if (z->npending) {
			t->kind = PT_READ;
			t->err = rc;
			t->zxid = s->zxid;
			enqueue(s, t);
			return;
		}
		t->req = NULL;
		reply_now(s, m, rc);
		zmsg_free(m);
		ptxn_free(s, t);
		return;
	}
	if (t->err || t->failed >= 0)
		prep_release(s, t); /* a failed write changes nothing */
	enqueue(s, t);
}

static void handle_connect(struct zab_seq *s, struct zmsg *m)
{
	struct zmsg *rep = zmsg_new(ZM_CONNECTED, ZK_PASSWD_LEN);
	if (!rep)
		return;
	rep->conn = m->conn;
	memset(rep->body, 0, ZK_PASSWD_LEN); /* refused: 16 zero bytes */
	int timeout = zab_negotiate_timeout(s, m->timeout);
	rep->zxid = s->applied;
	bool ro = s->ens && ens_read_only(s);
	if ((s->ens && !ens_serving(s) && !(ro && m->op == 1)) ||
	    m->zxid > s->applied) {
		/* not serving (or read-only, and the client wants a r/w
		 * server), or behind what the client has seen
		 * (ZooKeeperServer.processConnectRequest: "client must try
		 * another server"): closed without an answer */
		rep->err = ZAB_UNDECODABLE;
		out_add(s, m->conn.worker, rep);
		return;
	}
	rep->op = ro; /* ConnectResponse.readOnly */
	if (ro && m->session == 0) {
		/* ReadOnlyZooKeeperServer: a session of this member alone,
		 * with no transaction */
		int64_t id = s->next_session++;
		uint8_t pw[ZK_PASSWD_LEN];
		zk_session_passwd(id, pw);
		struct zsession *z = seq_sess_add(s, id, timeout, pw);
		if (z) {
			z->local = true;
			z->attached = true;
			z->conn = m->conn;
			z->deadline = s->now + z->timeout;
			rep->session = id;
			rep->timeout = timeout;
			memcpy(rep->body, pw, ZK_PASSWD_LEN);
		}
		out_add(s, m->conn.worker, rep);
		return;
	}
	if (m->session == 0 && s->ens && !ens_leading(s)) {
		/* a learner's new session is created by the leader */
		int64_t id = s->next_session++;
		rep->session = id;
		rep->timeout = timeout;
		zk_session_passwd(id, rep->body);
		if (!ens_forward_connect(s, rep, id, timeout)) {
			rep->session = 0;
			rep->timeout = 0;
			memset(rep->body, 0, ZK_PASSWD_LEN);
			out_add(s, m->conn.worker, rep);
		}
		return;
	}
	if (m->session == 0) {
		uint8_t pw[ZK_PASSWD_LEN];
		zk_session_passwd(s->next_session, pw);
		struct zsession *z = seq_sess_add(s, s->next_session++, timeout,
						  pw);
		struct ptxn *t = z ? ptxn_new(s, PT_SESSION_NEW, NULL) : NULL;
		if (!t) {
			if (z)
				seq_sess_remove(s, z);
			out_add(s, m->conn.worker, rep); /* refused */
			return;
		}
		z->attached = true;
		z->conn = m->conn;
		t->sess = z;
		t->session = z->id;
		t->conn = m->conn;
		t->zxid = ++s->zxid;
		if (log_txn(s, t)) {
			/* the log is failing: a session it cannot record would
			 * be forgotten by a restart while its ephemerals stay;
			 * refuse it (the client retries) */
			s->zxid--;
			seq_sess_remove(s, z);
			t->req = NULL;
			ptxn_free(s, t);
			rep->session = 0;
			rep->timeout = 0;
			memset(rep->body, 0, ZK_PASSWD_LEN);
			out_add(s, m->conn.worker, rep);
			return;
		}
		rep->session = z->id;
		rep->timeout = timeout;
		memcpy(rep->body, z->passwd, ZK_PASSWD_LEN);
		t->req = rep; /* sent when the session is durable */
		enqueue(s, t);
		return;
	}
	struct zsession *z = seq_sess_find(s, m->session);
	/* ZooKeeper closes the session's current connection before it
	 * checks the password (the session itself survives). */
	if (z)
		sess_take_from_other(s, z, m->conn);
	if (!z || z->closing || m->len < ZK_PASSWD_LEN ||
	    memcmp(z->passwd, m->body, ZK_PASSWD_LEN)) {
		out_add(s, m->conn.worker, rep); /* refused */
		return;
	}
	rep->session = z->id;
	rep->timeout = timeout;
	/* a learner asks the leader first, as ZooKeeper's do: the leader
	 * may have expired it, and a ZooKeeper leader moves the session's
	 * owner to this member (else its requests from here are refused
	 * with SESSIONMOVED) */
	if (s->ens && !ens_leading(s) && !ens_read_only(s) &&
	    ens_revalidate(s, rep))
		return;
	seq_connect_finish(s, rep, true);
}

void seq_connect_finish(struct zab_seq *s, struct zmsg *rep, bool valid)
{
	struct zsession *z = valid ? seq_sess_find(s, rep->session) : NULL;
	if (!z || z->closing) {
		rep->session = 0;
		rep->timeout = 0;
		memset(rep->body, 0, ZK_PASSWD_LEN);
		out_add(s, rep->conn.worker, rep);
		return;
	}
	/* another connection may have resumed it while the leader was asked */
	sess_take_from_other(s, z, rep->conn);
	z->attached = true;
	z->conn = rep->conn;
	z->deadline = s->now + z->timeout;
	memcpy(rep->body, z->passwd, ZK_PASSWD_LEN);
	out_add(s, rep->conn.worker, rep);
}

/* ------------------------------------------------------------------ */
/* Apply (once durable)                                                  */
/* ------------------------------------------------------------------ */
struct eph_list {
	struct jw *o;
	const char *prefix;
	int32_t plen;
	int32_t n;
};

static void eph_put(const char *path, size_t len, void *arg)
{
	struct eph_list *l = arg;
	if (l->plen > 0 && !(l->plen == 1 && l->prefix[0] == '/') &&
	    (len < (size_t)l->plen || memcmp(path, l->prefix, (size_t)l->plen)))
		return;
	jw_buf(l->o, path, (int32_t)len);
	l->n++;
}

static void apply_read(struct zab_seq *s, struct ptxn *t)
{
	struct zmsg *m = t->req;
	if (t->err) {
		reply_now(s, m, t->err);
		return;
	}
	struct jr r;
	jr_init(&r, m->body + m->auth_len, m->len - m->auth_len);
	int32_t plen;
	const char *path = jr_buf(&r, &plen);
	s->reply.len = 0;
	if (r.err) {
		send_reply(s, m, ZAB_UNDECODABLE, s->applied);
		return;
	}
	if (m->op == ZOP_SYNC) {
		jw_buf(&s->reply, path, plen);
	} else {
		/* getEphemerals: a plain string-prefix match */
		struct eph_list l = {&s->reply, path, plen, 0};
		jw_int(&s->reply, 0);
		if (tree_ephemerals_zk(s->tree, m->session, eph_put, &l) < 0)
			s->reply.err = true;
		if (!s->reply.err)
			jw_put_int_at(s->reply.p, l.n);
	}
	send_reply(s, m, ZOK, s->applied);
}

/* No reply is built for a commit this member holds no request of (a
 * follower applying another member's client's write: t->req is NULL),
 * nor on the leader for a learner's write, which the learner answers
 * when the commit reaches it (ens_remote_out would drop the reply; the
 * request goes back to seq_remote_msg's list instead). */
/* A multi reply's MultiHeader {type, done, err}. */
static void multi_head(struct jw *out, int type, bool done, int err)
{
	jw_int(out, type);
	jw_bool(out, done);
	jw_int(out, err);
}

static void apply_request(struct zab_seq *s, struct ptxn *t)
{
	struct zmsg *m = t->req && t->req->conn.worker != ENS_REMOTE
				 ? t->req
				 : NULL;
	struct jw *out = m ? &s->reply : NULL;
	s->reply.len = 0;
	if ((t->req ? t->req->op : t->op) != ZOP_MULTI || t->err) {
		int rc = t->err;
		if (!rc && t->n)
			rc = seq_apply_step(s, &t->st[0], t->zxid, t->time,
					    out, true);
		if (rc == ZOK)
			stat_add(&s->stats.writes, 1);
		if (m)
			send_reply_in_place(s, t, rc, t->zxid);
		return;
	}
	/* the reply's MultiHeaders, for a client of this member only (a
	 * learner's write is answered by the learner) */
	for (int i = 0; i < t->n; i++) {
		struct step *st = &t->st[i];
		if (t->failed >= 0) {
			int e = i < t->failed ? ZOK
				: i == t->failed ? st->err
						 : ZRUNTIMEINCONSISTENCY;
			if (out) {
				multi_head(out, ZOP_ERROR, false, e);
				jw_int(out, e); /* ErrorResult */
			}
			continue;
		}
		if (st->op == ZOP_CREATECONTAINER || st->op == ZOP_CREATETTL)
			st->op = ZOP_CREATE2; /* Create2Result */
		if (out)
			multi_head(out, st->op, false, 0);
		int e = seq_apply_step(s, st, t->zxid, t->time, out, true);
		if (e)
			fprintf(stderr, "paddockd: sequencer: multi op on %.*s "
					"failed after prep: %s\n",
				(int)st->len, st->path, zk_strerror(e));
	}
	if (out)
		multi_head(out, -1, true, -1);
	if (t->failed < 0)
		stat_add(&s->stats.writes, 1);
	if (m)
		send_reply_in_place(s, t, ZOK, t->zxid);
}

void seq_apply_one(struct zab_seq *s, struct ptxn *t)
{
	bool changes = t->kind != PT_READ;
	if (changes)
		tree_write_begin(s->tree);
	switch (t->kind) {
	case PT_REQUEST:
		apply_request(s, t);
		break;
	case PT_READ:
		apply_read(s, t);
		break;
	case PT_SESSION_NEW:
		if (t->req)
			out_add(s, t->req->conn.worker, t->req);
		t->req = NULL;
		break;
	case PT_SESSION_CLOSE: {
		txn_close_session(s, t->session, t->zxid, true);
		struct zsession *z = seq_sess_find(s, t->session);
		bool attached = z && z->attached;
		struct zconn_ref conn = z ? z->conn : t->conn;
		if (z)
			seq_sess_remove(s, z);
		if (t->req) {
			s->reply.len = 0;
			send_reply(s, t->req, ZOK, t->zxid);
		} else if (t->kill) {
			send_kill(s, t->conn);
		} else if (attached) {
			/* expired by the leader while attached here */
			send_kill(s, conn);
		}
		break;
	}
	case PT_REAP:
		for (int i = 0; i < t->n; i++)
			seq_apply_step(s, &t->st[i], t->zxid, t->time, NULL,
				       true);
		break;
	}
	if (changes) {
		tree_write_end(s->tree, t->zxid);
		s->applied = t->zxid;
		s->since_snap++;
	}
}

static void start_snapshot(struct zab_seq *s);

/* After how many logged transactions the next snapshot starts: snapCount
 * / 2 plus a random part of it, so that servers started together do not
 * snapshot together (SyncRequestProcessor's randRoll). */
static int64_t next_snap_at(struct zab_seq *s)
{
	int64_t half = s->cfg.snap_count / 2;
	return half + (int64_t)(seq_rand(s) % (uint64_t)half) + 1;
}

/* Tell every worker how far the tree is applied (ZM_APPLIED), once per
 * change: the events up to there have been sent before it. */
static void seq_applied_marker(struct zab_seq *s)
{
	if (s->applied == s->marked)
		return;
	s->marked = s->applied;
	for (int w = 0; w < s->cfg.n_workers; w++) {
		struct zmsg *m = zmsg_new(ZM_APPLIED, 0);
		if (!m)
			continue;
		m->zxid = s->applied;
		out_add(s, w, m);
	}
}

/* Apply every pending transaction whose record is durable (committed, in
 * an ensemble). */
void seq_drain(struct zab_seq *s)
{
	zxid_t d = durable(s);
	while (s->ph && s->ph->zxid <= d) {
		struct ptxn *t = s->ph;
		s->ph = t->next;
		if (!s->ph)
			s->pt = NULL;
		sess_pending(s, t, -1);
		__atomic_store_n(&s->npending, s->npending - 1, __ATOMIC_RELAXED);
		seq_apply_one(s, t);
		seq_digest_check(s, t);
		ptxn_free(s, t);
	}
	seq_applied_marker(s);
	if (s->cfg.snap_dir && s->since_snap >= s->snap_at)
		start_snapshot(s);
}

/* ------------------------------------------------------------------ */
/* The "dump" four-letter word                                           */
/* ------------------------------------------------------------------ */
struct dump_ctx {
	struct jw *o;
	int n;
};

static void dump_path(const char *path, size_t len, void *arg)
{
	struct dump_ctx *d = arg;
	d->n++;
	jw_bytes(d->o, "\t", 1);
	jw_bytes(d->o, path, len);
	jw_bytes(d->o, "\n", 1);
}

struct dump_sess {
	int64_t at, id; /* expiry bucket (monotonic ms), session */
};

static int dump_cmp(const void *a, const void *b)
{
	const struct dump_sess *x = a, *y = b;
	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* SessionTrackerImpl.toString: the sessions by expiry set (deadlines
 * rounded up to tickTime, as its ExpiryQueue keeps them), each set with
 * its wall-clock time; then the ephemerals of each session that has
 * some. */
static void dump_sessions(struct zab_seq *s, struct jw *body)
{
	char line[160], date[64];
	int64_t tick = s->cfg.tick_time > 0 ? s->cfg.tick_time : 1;
	struct dump_sess *v = malloc((s->nsess + 1) * sizeof(*v));
	size_t n = 0, sets = 0;
	for (size_t b = 0; v && b < s->nbuckets; b++)
		for (struct zsession *z = s->sess[b]; z && n < s->nsess;
		     z = z->next)
			v[n++] = (struct dump_sess){
				(z->deadline / tick + 1) * tick, z->id};
	if (v)
		qsort(v, n, sizeof(*v), dump_cmp);
	for (size_t i = 0; i < n; i++)
		sets += !i || v[i].at != v[i - 1].at;
	int k = snprintf(line, sizeof(line),
			 "SessionTracker dump:\nSession Sets (%zu)/(%zu):\n",
			 sets, n);
	jw_bytes(body, line, (size_t)k);
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i; j < n && v[j].at == v[i].at; j++)
			;
		zk_java_date(date, sizeof(date), v[i].at - s->now + s->wall_ms);
		k = snprintf(line, sizeof(line), "%zu expire at %s:\n", j - i,
			     date);
		jw_bytes(body, line, (size_t)k);
		for (size_t x = i; x < j; x++) {
			k = snprintf(line, sizeof(line), "\t0x%llx\n",
				     (unsigned long long)v[x].id);
			jw_bytes(body, line, (size_t)k);
		}
	}
	free(v);
}

static void handle_dump(struct zab_seq *s, struct zmsg *m)
{
	struct jw body = {0}, eph = {0};
	char line[128];
	int n;
	int with = 0;
	dump_sessions(s, &body);
	for (size_t b = 0; b < s->nbuckets; b++)
		for (struct zsession *z = s->sess[b]; z; z = z->next) {
			size_t at = eph.len;
			n = snprintf(line, sizeof(line), "0x%llx:\n",
				     (unsigned long long)z->id);
			jw_bytes(&eph, line, (size_t)n);
			struct dump_ctx d = {&eph, 0};
			tree_ephemerals(s->tree, z->id, dump_path, &d);
			if (d.n)
				with++;
			else
				eph.len = at;
		}
	n = snprintf(line, sizeof(line),
		     "ephemeral nodes dump:\nSessions with Ephemerals (%d):\n",
		     with);
	jw_bytes(&body, line, (size_t)n);
	jw_bytes(&body, eph.p, eph.len);
	struct zmsg *r = body.err ? NULL : zmsg_new(ZM_REPLY, (uint32_t)body.len);
	if (r) {
		r->conn = m->conn;
		r->op = ZAB_OP_DUMP;
		memcpy(r->body, body.p, body.len);
		out_add(s, m->conn.worker, r);
	}
	jw_free(&body);
	jw_free(&eph);
}

static void handle_touch(struct zab_seq *s, struct zmsg *m)
{
	int64_t now = s->now;
	size_t n = m->len / sizeof(int64_t);
	for (size_t i = 0; i < n; i++) {
		int64_t id;
		memcpy(&id, m->body + i * sizeof(int64_t), sizeof(id));
		struct zsession *z = seq_sess_find(s, id);
		if (z)
			z->deadline = now + z->timeout;
		if (z && s->ens)
			ens_touch(s, id); /* told to the leader in PINGs */
	}
}

/* Ensemble: this member stops serving; every client goes (ZooKeeper
 * closes all connections when its server shuts down for an election). */
void seq_kill_all(struct zab_seq *s)
{
	for (size_t b = 0; b < s->nbuckets; b++)
		for (struct zsession *z = s->sess[b]; z; z = z->next)
			if (z->attached) {
				send_kill(s, z->conn);
				z->attached = false;
			}
}

/* A read-only member's own sessions expire there (no transaction); when
 * it rejoins (now = INT64_MAX) they all go, never the ensemble's. */
void seq_expire_local(struct zab_seq *s, int64_t now)
{
	for (size_t b = 0; b < s->nbuckets; b++) {
		struct zsession *z = s->sess[b];
		while (z) {
			struct zsession *next = z->next;
			if (z->local && z->deadline <= now) {
				if (z->attached)
					send_kill(s, z->conn);
				seq_sess_remove(s, z);
			}
			z = next;
		}
	}
}

/* A new leader's session tracker: every session gets a full timeout. */
void seq_sessions_touch_all(struct zab_seq *s)
{
	int64_t now = s->now;
	for (size_t b = 0; b < s->nbuckets; b++)
		for (struct zsession *z = s->sess[b]; z; z = z->next)
			z->deadline = now + z->timeout;
}

/* Leader: a learner's client asks for a session (its id made there). */
void seq_remote_session(struct zab_seq *s, int64_t id, int32_t timeout)
{
	if (seq_sess_find(s, id))
		return;
	uint8_t pw[ZK_PASSWD_LEN];
	zk_session_passwd(id, pw);
	struct zsession *z = seq_sess_add(s, id, timeout, pw);
	struct ptxn *t = z ? ptxn_new(s, PT_SESSION_NEW, NULL) : NULL;
	if (!t) {
		if (z)
			seq_sess_remove(s, z);
		return;
	}
	t->sess = z;
	t->session = id;
	t->zxid = ++s->zxid;
	if (log_txn(s, t)) {
		s->zxid--;
		seq_sess_remove(s, z);
		ptxn_free(s, t);
		return;
	}
	enqueue(s, t);
}

/* Learner: the leader's SYNC for a client's sync request: answer it
 * (SyncResponse: the path). */
void seq_answer_sync(struct zab_seq *s, struct zmsg *m)
{
	struct ptxn t = {.kind = PT_READ, .req = m};
	apply_read(s, &t);
	zmsg_free(m);
}

static void handle_detach(struct zab_seq *s, struct zmsg *m)
{
	struct zsession *z = seq_sess_find(s, m->session);
	if (z && conn_same(z->conn, m->conn))
		z->attached = false;
}

/* ------------------------------------------------------------------ */
/* Periodic work                                                         */
/* ------------------------------------------------------------------ */
/* SessionTrackerImpl: a session whose deadline passed is closed by a
 * closeSession transaction of its own. */
static void expire_sessions(struct zab_seq *s, int64_t now)
{
	for (size_t b = 0; b < s->nbuckets; b++)
		for (struct zsession *z = s->sess[b]; z; z = z->next) {
			if (z->deadline > now || z->closing)
				continue;
			struct ptxn *t = ptxn_new(s, PT_SESSION_CLOSE, NULL);
			if (!t)
				return;
			t->session = z->id;
			t->kill = z->attached;
			t->conn = z->conn;
			t->zxid = ++s->zxid;
			if (log_txn(s, t)) {
				s->zxid--;
				ptxn_free(s, t);
				return; /* retried on the next scan */
			}
			z->closing = true;
			stat_add(&s->stats.expired, 1);
			enqueue(s, t);
		}
}

struct reap {
	struct paths x;
	int64_t now;
};

static void reap_collect(const struct znode *n, void *arg)
{
	struct reap *r = arg;
	struct zview v;
	znode_view(n, &v);
	const struct zstat *st = &v.stat;
	if (st->num_children != 0)
		return;
	bool dead = st->ephemeral_owner == ZK_CONTAINER_OWNER
			    ? st->cversion > 0
			    : r->now - st->mtime >
				      zk_owner_ttl(st->ephemeral_owner);
	if (dead && r->x.n < 4096) /* the rest on the next round */
		paths_add(&r->x, znode_path(n), znode_path_len(n));
}

/* ContainerManager: delete empty containers that once had children and
 * childless TTL nodes not modified for their TTL, each as a transaction
 * of its own, validated like a client's delete (it may have gained a
 * child meanwhile). */
static void reap_containers(struct zab_seq *s)
{
	static const struct zauth_id super = {"super", ""};
	struct reap r = {.now = s->wall_ms};
	tree_containers_and_ttls(s->tree, reap_collect, &r);
	for (int i = 0; i < r.x.n; i++) {
		struct jw body = {0};
		jw_buf(&body, r.x.p[i], (int32_t)r.x.l[i]);
		jw_int(&body, -1);
		struct ptxn *t = body.err ? NULL : ptxn_new(s, PT_REAP, NULL);
		if (!t) {
			jw_free(&body);
			break;
		}
		struct step *st = &t->one;
		t->st = st;
		t->n = 1;
		t->zxid = ++s->zxid;
		struct jr jr;
		jr_init(&jr, body.p, body.len);
		/* the step's path points into the body: the step keeps it */
		st->own = (char *)body.p;
		if (prep_one(s, t, &super, 1, ZOP_DELETE, &jr, st) ||
		    log_txn(s, t)) {
			s->zxid--;
			ptxn_free(s, t);
		} else {
			enqueue(s, t);
		}
	}
	paths_free(&r.x);
}

/* ------------------------------------------------------------------ */
/* Snapshots                                                             */
/* ------------------------------------------------------------------ */
struct snap_job {
	struct zab_seq *s;
	zxid_t zxid;
	struct jw blob;
};

static void *snap_main(void *arg)
{
	struct snap_job *j = arg;
	struct zab_seq *s = j->s;
	pthread_setname_np(pthread_self(), "pdk-snap");
	/* Below the request path in priority: on a busy server a snapshot of
	 * a large tree (seconds of CPU) may take longer, but writes do not
	 * wait for it.  Best effort (per-thread nice on Linux).  Not
	 * SCHED_IDLE: a reader starved while online would hold up every
	 * grace period, and with them the reuse of the memory of every
	 * version replaced meanwhile; the walk yields instead (snap.c). */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), SNAP_NICE) != 0)
		(void)0;
	rcu_register_thread();
	int64_t t0 = zk_clock_ms(CLOCK_MONOTONIC);
	int rc = zsnap_write(s->cfg.snap_dir, s->tree, j->zxid, j->blob.p,
			     j->blob.len, &s->snap_cancel);
	rcu_unregister_thread();
	if (rc == -ECANCELED)
		fprintf(stderr, "paddockd: snapshot 0x%llx abandoned: shutting "
				"down\n",
			(unsigned long long)j->zxid);
	else if (rc)
		fprintf(stderr, "paddockd: snapshot 0x%llx failed: %s\n",
			(unsigned long long)j->zxid, strerror(-rc));
	else {
		int64_t t1 = zk_clock_ms(CLOCK_MONOTONIC), took = t1 - t0;
		if (atomic_exchange(&s->stats.snapshot_reset, 0))
			zk_basic_reset(&s->stats.snapshot_ms);
		zk_basic_add(&s->stats.snapshot_ms, took, t1);
		fprintf(stderr, "paddockd: snapshot 0x%llx written in %lld ms "
				"(%llu znodes)\n",
			(unsigned long long)j->zxid, (long long)took,
			(unsigned long long)tree_node_count(s->tree));
	}
	if (!rc && s->cfg.purge_interval_ms > 0 && s->cfg.log_dir)
		zsnap_purge(s->cfg.snap_dir, s->cfg.log_dir,
			    s->cfg.snap_retain_count);
	jw_free(&j->blob);
	free(j);
	atomic_store(&s->snap_running, 0);
	return NULL;
}

/* SyncRequestProcessor: every snapCount/2 + rand(snapCount/2)
 * transactions, roll the log and write a fuzzy snapshot in the
 * background. */
static void start_snapshot(struct zab_seq *s)
{
	if (atomic_load(&s->snap_running))
		return;
	if (s->snap_joinable) {
		pthread_join(s->snap_thread, NULL);
		s->snap_joinable = false;
	}
	struct snap_job *j = calloc(1, sizeof(*j));
	if (!j)
		return;
	j->s = s;
	j->zxid = s->applied;
	txn_sessions_encode(s, &j->blob);
	if (s->log)
		zlog_roll(s->log);
	atomic_store(&s->snap_running, 1);
	if (pthread_create(&s->snap_thread, NULL, snap_main, j)) {
		atomic_store(&s->snap_running, 0);
		jw_free(&j->blob);
		free(j);
		return;
	}
	s->snap_joinable = true;
	s->since_snap = 0;
	s->snap_at = next_snap_at(s);
}

/* ------------------------------------------------------------------ */
/* The thread                                                            */
/* ------------------------------------------------------------------ */
/* RequestThrottler.submitRequest: while max_requests transactions are
 * between prep and apply, connects and requests wait (in order) instead
 * of being prepped.  Nothing is dropped; the workers' outstanding limits
 * bound how many can wait. */
static bool throttling(const struct zab_seq *s)
{
	return s->cfg.max_requests > 0 &&
	       s->npending >= (size_t)s->cfg.max_requests;
}

static void handle_msg(struct zab_seq *s, struct zmsg *m)
{
	switch (m->type) {
	case ZM_CONNECT:
		handle_connect(s, m);
		break;
	case ZM_REQUEST:
		seq_handle_request(s, m);
		return; /* kept by the transaction */
	case ZM_TOUCH:
		handle_touch(s, m);
		break;
	case ZM_DETACH:
		handle_detach(s, m);
		break;
	case ZM_DUMP:
		handle_dump(s, m);
		break;
	}
	zmsg_free(m);
}

static void handle_or_park(struct zab_seq *s, struct zmsg *m)
{
	if ((m->type == ZM_CONNECT || m->type == ZM_REQUEST) &&
	    (s->parked.head || throttling(s))) {
		zmsg_list_add(&s->parked, m);
		__atomic_store_n(&s->nparked, s->parked.n, __ATOMIC_RELAXED);
		stat_add(&s->stats.throttled, 1);
		return;
	}
	handle_msg(s, m);
}

static void unpark(struct zab_seq *s)
{
	while (s->parked.head && !throttling(s))
		handle_msg(s, zmsg_list_pop(&s->parked));
	__atomic_store_n(&s->nparked, s->parked.n, __ATOMIC_RELAXED);
}

/* The value of a closed slot (zab_ask_close): never a question. */
static struct zab_ask ask_closed;

bool zab_ask(struct zab_ask *_Atomic *slot, struct zab_ask *q,
	     void (*wake_fn)(void *wake_arg), void *wake_arg,
	     struct zab_ask *_Atomic *own, void *self)
{
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	q->done = false;
	bool asked = true;
	struct zab_ask *none = NULL;
	while (!atomic_compare_exchange_weak(slot, &none, q)) {
		if (none == &ask_closed) {
			asked = false;
			goto out;
		}
		none = NULL;
		if (own)
			zab_answer(own, self);
		sched_yield();
	}
	wake_fn(wake_arg);
	pthread_mutex_lock(&q->mu);
	while (!q->done) {
		if (!own) {
			pthread_cond_wait(&q->cv, &q->mu);
			continue;
		}
		/* a loop asking: answer its own questions every 1 ms (the
		 * asker of this loop cannot wake it: it sleeps here) */
		pthread_mutex_unlock(&q->mu);
		zab_answer(own, self);
		pthread_mutex_lock(&q->mu);
		if (q->done)
			break;
		struct timespec t;
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_nsec += 1000000;
		if (t.tv_nsec >= 1000000000) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&q->cv, &q->mu, &t);
	}
	pthread_mutex_unlock(&q->mu);
out:
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	return asked;
}

void zab_answer(struct zab_ask *_Atomic *slot, void *owner)
{
	struct zab_ask *q = atomic_load_explicit(slot, memory_order_acquire);
	if (!q || q == &ask_closed)
		return;
	q->fn(owner, q->arg);
	atomic_store(slot, NULL);
	pthread_mutex_lock(&q->mu);
	q->done = true;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

void zab_ask_close(struct zab_ask *_Atomic *slot, void *owner)
{
	struct zab_ask *none = NULL;
	while (!atomic_compare_exchange_weak(slot, &none, &ask_closed)) {
		if (none == &ask_closed)
			return;
		zab_answer(slot, owner);
		none = NULL;
	}
}

struct sessions_query {
	void (*fn)(void *arg, const struct zab_session_info *i);
	void *arg;
};

static void sessions_each(void *owner, void *arg)
{
	struct zab_seq *s = owner;
	struct sessions_query *q = arg;
	for (size_t b = 0; b < s->nbuckets; b++)
		for (struct zsession *z = s->sess[b]; z; z = z->next) {
			struct zab_session_info i = {z->id, z->timeout,
						     z->deadline};
			q->fn(q->arg, &i);
		}
}

static void wake_seq(void *arg)
{
	wake(((struct zab_seq *)arg)->efd);
}

/* Run fn(s, arg) on the sequencer's thread, which owns what it reads
 * or writes, and wait for it; here when that thread's loop is not
 * running (not started, or ended).  own/self: zab_ask's, for a caller
 * that answers asks of its own meanwhile. */
static void seq_run_owned(struct zab_seq *s, void (*fn)(void *, void *),
			  void *arg, struct zab_ask *_Atomic *own, void *self)
{
	if (!atomic_load(&s->running)) {
		fn(s, arg);
		return;
	}
	struct zab_ask q = {.fn = fn, .arg = arg};
	if (!zab_ask(&s->query, &q, wake_seq, s, own, self))
		fn(s, arg); /* the loop has ended */
}

void zab_seq_sessions(struct zab_seq *s,
		      void (*fn)(void *arg, const struct zab_session_info *i),
		      void *arg)
{
	struct sessions_query sq = {fn, arg};
	seq_run_owned(s, sessions_each, &sq, NULL, NULL);
}

struct stats_reset {
	bool all, proposals;
};

/* srst on the sequencer's thread: the counters it writes (ensemble.c's
 * too, all on this thread); snapshot_ms is the snapshot thread's. */
static void stats_reset_here(void *owner, void *arg)
{
	struct zab_seq *s = owner;
	const struct stats_reset *r = arg;
	struct zab_stats *st = &s->stats;
	if (r->proposals) {
		atomic_store_explicit(&st->prop_last, 0, memory_order_relaxed);
		atomic_store_explicit(&st->prop_min, 0, memory_order_relaxed);
		atomic_store_explicit(&st->prop_max, 0, memory_order_relaxed);
	}
	if (!r->all)
		return;
	_Atomic int64_t *const counters[] = {
		&st->expired,	    &st->throttled,
		&st->digest_mismatches, &st->proposals,
		&st->commits,	    &st->learner_proposals,
		&st->learner_commits, &st->lookings,
		&st->diffs,	    &st->snaps,
		&st->conn_revalidates, &st->revalidates,
	};
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		atomic_store_explicit(counters[i], 0, memory_order_relaxed);
	/* the startup summaries too: DefaultMetricsProvider resets every
	 * Summary */
	struct zk_basic *const amms[] = {
		&st->unavailable_ms, &st->leader_unavailable_ms,
		&st->dbinit_ms,	     &st->snap_load_ms,
		&st->txns_load_ms,   &st->txns_loaded,
	};
	for (size_t i = 0; i < sizeof(amms) / sizeof(amms[0]); i++)
		zk_basic_reset(amms[i]);
	for (int k = 0; k < ZAB_LAT_KINDS; k++)
		zk_hist_reset(&st->lat[k]);
	for (int k = 0; k < ZAB_ACK_SIDS; k++)
		zk_hist_reset(&st->ack_lat[k]);
	/* no snapshot thread: none starts but from this thread */
	if (atomic_load(&s->snap_running)) {
		atomic_store(&st->snapshot_reset, 1);
	} else {
		atomic_store(&st->snapshot_reset, 0);
		zk_basic_reset(&st->snapshot_ms);
	}
	if (s->log)
		zlog_stats_reset(s->log);
}

/* The BASIC summaries' histograms (zab_stats), for their window */
#define SEQ_BASICS 7
static void basic_hists(struct zab_stats *st, struct zk_hist *h[SEQ_BASICS])
{
	struct zk_basic *const b[SEQ_BASICS] = {
		&st->unavailable_ms, &st->leader_unavailable_ms,
		&st->snapshot_ms,    &st->dbinit_ms,
		&st->snap_load_ms,   &st->txns_load_ms,
		&st->txns_loaded,
	};
	for (int i = 0; i < SEQ_BASICS; i++)
		h[i] = &b[i]->h;
}

void zab_seq_summary_window(struct zab_seq *s, int64_t origin_ms,
			    int64_t period_ms)
{
	for (int k = 0; k < ZAB_LAT_KINDS; k++)
		zk_hist_init(&s->stats.lat[k], origin_ms, period_ms);
	for (int k = 0; k < ZAB_ACK_SIDS; k++)
		zk_hist_init(&s->stats.ack_lat[k], origin_ms, period_ms);
	/* recovery's samples (dbinittime, startup_*) came before: kept */
	struct zk_hist *h[SEQ_BASICS];
	basic_hists(&s->stats, h);
	int64_t now_ms = zk_clock_ms(CLOCK_MONOTONIC);
	for (int i = 0; i < SEQ_BASICS; i++)
		zk_hist_retime(h[i], origin_ms, period_ms, now_ms);
	s->win_origin_ms = origin_ms;
	s->win_period_ms = period_ms;
	if (s->log)
		zlog_summary_window(s->log, origin_ms, period_ms);
}

void zab_seq_stats_reset(struct zab_seq *s, bool all, bool proposals,
			 struct zab_ask *_Atomic *own, void *self)
{
	struct stats_reset r = {all, proposals};
	seq_run_owned(s, stats_reset_here, &r, own, self);
}

static void *seq_main(void *arg)
{
	struct zab_seq *s = arg;
	struct zmsg *burst[BURST];
	struct pollfd pfds[PEER_MAX_FDS];
	pthread_setname_np(pthread_self(), "pdk-seq");
	rcu_register_thread(); /* it reads the tree and frees by call_rcu */
	int lfd = s->log ? zlog_event_fd(s->log) : -1;
	while (atomic_load(&s->running)) {
		rcu_quiescent_state();
		seq_clock(s);
		zab_answer(&s->query, s);
		unsigned total = 0;
		for (int w = 0; w < s->cfg.n_workers; w++) {
			unsigned n = rte_ring_dequeue_burst(
				s->w[w].in, (void **)burst, BURST, NULL);
			total += n;
			for (unsigned i = 0; i < n; i++)
				/* the ring filled burst[0..n) */
				/* NOLINTNEXTLINE(clang-analyzer-core.uninitialized.Assign,clang-analyzer-core.CallAndMessage) */
				handle_or_park(s, burst[i]);
		}
		if (s->ens) {
			/* peers: a non-blocking look at their sockets, the
			 * log's progress, the protocol's timers */
			int n = ens_pollfds(s, pfds, PEER_MAX_FDS);
			if (n && poll(pfds, (nfds_t)n, 0) < 0)
				n = 0;
			ens_run(s, pfds, n);
		}
		int64_t now = s->now;
		/* only a leader expires sessions and reaps (in an ensemble) */
		bool leads = !s->ens || ens_leading(s);
		if (now >= s->next_expiry_scan) {
			if (leads)
				expire_sessions(s, now);
			else if (s->ens && ens_read_only(s))
				seq_expire_local(s, now);
			s->next_expiry_scan = now + s->cfg.tick_time / 2;
		}
		if (now >= s->next_container_scan) {
			if (leads)
				reap_containers(s);
			s->next_container_scan =
				now + s->cfg.container_interval_ms;
		}
		if (s->log)
			zlog_kick(s->log);
		seq_drain(s);
		if (s->parked.head) {
			size_t before = s->npending;
			unpark(s);
			if (s->log && s->npending != before)
				zlog_kick(s->log);
			seq_drain(s); /* without a log: applied at once */
		}
		bool flushed = out_flush(s);
		if (total)
			continue;
		/* Nothing to do: sleep until a worker posts, the log made
		 * progress, or a timer is due; a full worker ring or held
		 * requests are retried after at most 1 ms / stall_ms. */
		atomic_store(&s->sleeping, 1);
		atomic_thread_fence(memory_order_seq_cst);
		bool pending = false;
		for (int w = 0; w < s->cfg.n_workers; w++)
			pending |= ring_nonempty(s->w[w].in);
		if (s->ph && s->ph->zxid <= durable(s))
			pending = true;
		if (s->parked.head && !throttling(s))
			pending = true;
		if (!pending) {
			seq_clock(s); /* the pass took time: sleep from now */
			int64_t next = s->next_expiry_scan;
			if (s->next_container_scan < next)
				next = s->next_container_scan;
			int to = (int)(next - s->now);
			if (!flushed && to > 1)
				to = 1;
			if (s->parked.head && to > s->cfg.stall_ms)
				to = s->cfg.stall_ms;
			struct pollfd pfd[2 + PEER_MAX_FDS] = {
				{.fd = s->efd, .events = POLLIN},
				{.fd = lfd, .events = POLLIN}};
			int np = 2;
			if (s->ens) {
				int64_t d = ens_deadline(s) - s->now;
				if (d < to)
					to = d < 0 ? 0 : (int)d;
				np += ens_pollfds(s, pfd + 2, PEER_MAX_FDS);
			}
			rcu_thread_offline();
			if (to > 0 && poll(pfd, (nfds_t)np, to) > 0) {
				uint64_t v;
				for (int i = 0; i < 2; i++)
					if (pfd[i].fd >= 0 &&
					    (pfd[i].revents & POLLIN) &&
					    read(pfd[i].fd, &v, sizeof(v)) < 0)
						continue;
			}
			rcu_thread_online();
		}
		atomic_store(&s->sleeping, 0);
	}
	zab_ask_close(&s->query, s);
	rcu_unregister_thread();
	return NULL;
}

/* ------------------------------------------------------------------ */
struct zab_seq *zab_seq_create(const struct zab_seq_config *cfg)
{
	if (cfg->n_workers < 1 || cfg->n_workers > ZAB_MAX_WORKERS) {
		errno = EINVAL;
		return NULL;
	}
	struct zab_seq *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cfg = *cfg;
	struct zk_hist *h[SEQ_BASICS];
	basic_hists(&s->stats, h);
	for (int i = 0; i < SEQ_BASICS; i++)
		zk_hist_init(h[i], 0, 1); /* periods: just below */
	zab_seq_summary_window(s, zk_clock_ms(CLOCK_MONOTONIC),
			       600000 / ZK_HIST_SLOTS);
	if (!s->cfg.ring_size)
		s->cfg.ring_size = RING_SIZE;
	if (s->cfg.ring_size & (s->cfg.ring_size - 1) ||
	    s->cfg.ring_size < 2) {
		free(s);
		errno = EINVAL;
		return NULL;
	}
	if (s->cfg.stall_ms <= 0)
		s->cfg.stall_ms = 100;
	if (s->cfg.container_interval_ms <= 0)
		s->cfg.container_interval_ms = 60000;
	if (s->cfg.tick_time <= 0)
		s->cfg.tick_time = 2000;
	if (s->cfg.snap_count < 2)
		s->cfg.snap_count = 100000;
	if (s->cfg.snap_retain_count < 3)
		s->cfg.snap_retain_count = 3;
	seq_clock(s);
	/* a seed of chance for the sequencer (seq_rand): when it snapshots */
	if (getrandom(&s->rng, sizeof(s->rng), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(s->rng))
		s->rng = (uint64_t)s->wall_ms ^ ((uint64_t)getpid() << 32);
	s->rng |= 1; /* xorshift's state is never 0 */
	s->snap_at = next_snap_at(s);
	s->tree = cfg->tree;
	s->membarrier = sys_membarrier(
				MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
	s->zxid = s->applied = tree_applied_zxid(s->tree);
	s->cfg.ensemble = NULL;
	if (cfg->ensemble && !(s->ens = ens_new(s, cfg->ensemble))) {
		free(s);
		errno = ENOMEM;
		return NULL;
	}
	/* an ensemble keeps ZooKeeper's tree digest (before the snapshot
	 * loads: each restored node is added as it comes) */
	if (cfg->ensemble && cfg->ensemble->digest) {
		tree_digest_start(s->tree);
		s->digest = true;
	}
	/* SessionTrackerImpl.initializeNextSessionId */
	uint64_t t = (uint64_t)s->wall_ms;
	s->next_session = (int64_t)(((t << 24) >> 8) |
				    ((uint64_t)cfg->server_id << 56));
	s->nbuckets = 1024;
	s->sess = calloc(s->nbuckets, sizeof(*s->sess));
	s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!s->sess || s->efd < 0)
		goto err;
	for (int w = 0; w < cfg->n_workers; w++) {
		char name[32];
		snprintf(name, sizeof(name), "in%d", w);
		s->w[w].in = ring_new(name, s->cfg.ring_size);
		snprintf(name, sizeof(name), "out%d", w);
		s->w[w].out = ring_new(name, s->cfg.ring_size);
		s->w[w].efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (!s->w[w].in || !s->w[w].out || s->w[w].efd < 0)
			goto err;
	}
	return s;
err:
	zab_seq_destroy(s);
	errno = ENOMEM;
	return NULL;
}

static void report(const char *msg, void *arg)
{
	fprintf(stderr, "paddockd: recovery: %s\n", msg);
}

static int replay_one(zxid_t zxid, const void *p, size_t len, void *arg)
{
	struct zab_seq *s = arg;
	int rc = txn_replay(s, zxid, p, len);
	s->replayed++;
	if (s->ens)
		ens_recovered(s, zxid, p, len);
	if (rc)
		fprintf(stderr, "paddockd: recovery: transaction 0x%llx: %s\n",
			(unsigned long long)zxid, zk_strerror(rc));
	rcu_quiescent_state();
	return rc == ZMARSHALLINGERROR ? rc : 0;
}

int zab_seq_recover(struct zab_seq *s, char *err, size_t err_len)
{
	zxid_t snap = 0, last = 0;
	void *blob = NULL;
	size_t blob_len = 0;
	int64_t t0 = zk_clock_us(CLOCK_MONOTONIC), t1;
	int rc = zsnap_load(s->cfg.snap_dir, s->tree, &snap, &blob, &blob_len,
			    report, s, err, err_len);
	if (rc)
		return rc;
	if (blob) {
		rc = txn_sessions_decode(s, blob, blob_len);
		free(blob);
		if (rc) {
			snprintf(err, err_len, "snapshot 0x%llx: bad session "
					       "table",
				 (unsigned long long)snap);
			return rc;
		}
	}
	s->zxid = s->applied = snap;
	tree_write_begin(s->tree);
	tree_write_end(s->tree, snap);
	t1 = zk_clock_us(CLOCK_MONOTONIC);
	rc = zlog_replay(s->cfg.log_dir, snap, replay_one, report, s, &last,
			 err, err_len);
	if (rc)
		return rc;
	tree_write_begin(s->tree);
	tree_quota_setup(s->tree);
	tree_write_end(s->tree, last > snap ? last : snap);
	tree_digest_log_start(s->tree); /* "hash": transactions from here on */
	int64_t t2 = zk_clock_us(CLOCK_MONOTONIC);
	zk_basic_add(&s->stats.snap_load_ms, (t1 - t0) / 1000, t2 / 1000);
	zk_basic_add(&s->stats.txns_load_ms, (t2 - t1) / 1000, t2 / 1000);
	zk_basic_add(&s->stats.txns_loaded, s->replayed, t2 / 1000);
	zk_basic_add(&s->stats.dbinit_ms, (t2 - t0) / 1000, t2 / 1000);
	fprintf(stderr,
		"paddockd: loaded snapshot 0x%llx in %lld ms, replayed the "
		"log to 0x%llx in %lld ms\n",
		(unsigned long long)snap, (long long)(t1 - t0) / 1000,
		(unsigned long long)(last > snap ? last : snap),
		(long long)(t2 - t1) / 1000);
	if (last > s->zxid)
		s->zxid = s->applied = last;
	/* sessions restored from disk get a full timeout to come back */
	seq_clock(s);
	int64_t now = s->now;
	for (size_t b = 0; b < s->nbuckets; b++)
		for (struct zsession *z = s->sess[b]; z; z = z->next)
			z->deadline = now + z->timeout;
	return ZOK;
}

void zab_seq_log_stats(const struct zab_seq *s, struct zlog_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (s->log)
		zlog_get_stats(s->log, out);
}

int64_t zab_seq_outstanding(const struct zab_seq *s)
{
	return (int64_t)__atomic_load_n(&s->npending, __ATOMIC_RELAXED) +
	       (int64_t)__atomic_load_n(&s->nparked, __ATOMIC_RELAXED);
}

int64_t zab_seq_throttled_now(const struct zab_seq *s)
{
	return (int64_t)__atomic_load_n(&s->nparked, __ATOMIC_RELAXED);
}

zxid_t zab_seq_last_zxid(const struct zab_seq *s)
{
	return s->zxid;
}

void zab_seq_set_log(struct zab_seq *s, struct zlog *log)
{
	s->log = log;
	if (log)
		zlog_summary_window(log, s->win_origin_ms, s->win_period_ms);
}

int zab_seq_start(struct zab_seq *s)
{
	if (s->ens) {
		char err[512];
		if (ens_start(s, err, sizeof(err))) {
			fprintf(stderr, "paddockd: %s\n", err);
			return -EINVAL;
		}
	}
	atomic_store(&s->running, 1);
	int rc = pthread_create(&s->thread, NULL, seq_main, s);
	if (rc) {
		atomic_store(&s->running, 0);
		return -rc;
	}
	s->started = true;
	return 0;
}

void zab_seq_stop(struct zab_seq *s)
{
	if (!s->started)
		return;
	atomic_store(&s->running, 0);
	wake(s->efd);
	pthread_join(s->thread, NULL);
	s->started = false;
	__atomic_store_n(&s->snap_cancel, 1, __ATOMIC_RELAXED);
	if (s->snap_joinable) {
		pthread_join(s->snap_thread, NULL);
		s->snap_joinable = false;
	}
}

void zab_seq_destroy(struct zab_seq *s)
{
	if (!s)
		return;
	zab_seq_stop(s);
	ens_free(s);
	while (s->ph) {
		struct ptxn *t = s->ph;
		s->ph = t->next;
		ptxn_free(s, t);
	}
	while (s->ptxn_free) {
		struct ptxn *t = s->ptxn_free;
		s->ptxn_free = t->next;
		free(t);
	}
	while (s->remote_free) {
		struct zmsg *m = s->remote_free;
		s->remote_free = m->next;
		zmsg_free(m);
	}
	prep_free_all(s);
	for (struct zmsg *m; (m = zmsg_list_pop(&s->parked));)
		zmsg_free(m);
	for (int w = 0; w < s->cfg.n_workers; w++) {
		struct zmsg *m;
		for (struct rte_ring *r = s->w[w].in; r;
		     r = r == s->w[w].in ? s->w[w].out : NULL)
			while (rte_ring_dequeue(r, (void **)&m) == 0)
				zmsg_free(m);
		while ((m = zmsg_list_pop(&s->w[w].q)))
			zmsg_free(m);
		free(s->w[w].in);
		free(s->w[w].out);
		if (s->w[w].efd > 0)
			close(s->w[w].efd);
	}
	for (size_t b = 0; s->sess && b < s->nbuckets; b++) {
		struct zsession *z = s->sess[b];
		while (z) {
			struct zsession *n = z->next;
			free(z);
			z = n;
		}
	}
	free(s->sess);
	jw_free(&s->reply);
	jw_free(&s->rec);
	if (s->efd > 0)
		close(s->efd);
	free(s);
}
