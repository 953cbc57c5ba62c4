/*
 * sequencer.c — orders and applies every write; owns the session table.
 *
 * Mirrors Apache ZooKeeper 3.8's standalone pipeline:
 *   PrepRequestProcessor  -> prep_*(): validate against the tree plus the
 *                            changes earlier ops of the same multi made
 *                            (an "overlay", ZooKeeper's outstandingChanges),
 *                            check ACLs, fix up ACLs, pick sequential names;
 *   FinalRequestProcessor -> apply_*(): one zxid per request, apply to the
 *                            tree, build the reply, emit watch events.
 * A failed write still consumes a zxid (ZooKeeper logs an ErrorTxn).  A
 * failed multi answers per-op results: OK for the ops before the failing
 * one, its error, RUNTIMEINCONSISTENCY after it; header err stays 0.
 *
 * Sessions: createSession/closeSession are transactions; the expiry
 * check (ZooKeeper's SessionTrackerImpl, here a scan every tick/2) closes
 * sessions whose deadline passed, deleting their ephemerals.  Containers
 * and TTL nodes are reaped as ContainerManager does.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <rte_ring.h>
#include <urcu-qsbr.h>

#include "consensus/consensus.h"
#include "tree/jute.h"

#define RING_SIZE 65536
#define BURST 256
#define MAX_MULTI_OPS 4096
#define MAX_AUTH 32

struct zsession {
	int64_t id;
	int32_t timeout;
	uint8_t passwd[ZK_PASSWD_LEN];
	int64_t deadline; /* monotonic ms */
	bool attached;
	struct zconn_ref conn;
	struct zsession *next;
};

struct outq {
	struct zmsg **m;
	unsigned n, cap;
};

struct wside {
	struct rte_ring *in;  /* worker -> seq */
	struct rte_ring *out; /* seq -> worker */
	int efd;
	_Atomic int sleeping;
	struct outq q;
	char pad[64];
};

struct zab_seq {
	struct zab_seq_config cfg;
	struct tree *tree;
	struct wside w[ZAB_MAX_WORKERS];
	int efd;
	_Atomic int sleeping;
	_Atomic int running;
	pthread_t thread;
	bool started;
	zxid_t zxid;
	int64_t next_session;
	struct zsession **sess;
	size_t nbuckets;
	size_t nsess;
	int64_t next_expiry_scan;
	int64_t next_container_scan;
	struct zab_stats stats;
	struct jw reply; /* scratch reply body */
};

/* ------------------------------------------------------------------ */
static int64_t now_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct zmsg *zmsg_new(uint16_t type, uint32_t len)
{
	struct zmsg *m = malloc(sizeof(*m) + len);
	if (!m)
		return NULL;
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->len = len;
	return m;
}

void zmsg_free(struct zmsg *m)
{
	free(m);
}

static struct rte_ring *ring_new(const char *name)
{
	ssize_t sz = rte_ring_get_memsize(RING_SIZE);
	void *mem = NULL;
	if (sz < 0 || posix_memalign(&mem, 64, (size_t)sz))
		return NULL;
	struct rte_ring *r = mem;
	if (rte_ring_init(r, name, RING_SIZE, RING_F_SP_ENQ | RING_F_SC_DEQ)) {
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

/* Enqueue everything, waiting for room; wake the consumer if asleep. */
static void ring_push(struct rte_ring *r, struct zmsg **m, unsigned n,
		      _Atomic int *sleeping, int efd)
{
	unsigned done = 0;
	while (done < n) {
		done += rte_ring_enqueue_burst(r, (void **)m + done, n - done,
					       NULL);
		atomic_thread_fence(memory_order_seq_cst);
		if (atomic_load(sleeping))
			wake(efd);
		if (done < n)
			sched_yield();
	}
}

/* ------------------------------------------------------------------ */
/* Worker-facing API                                                     */
/* ------------------------------------------------------------------ */
void zab_post(struct zab_seq *s, int w, struct zmsg *m)
{
	ring_push(s->w[w].in, &m, 1, &s->sleeping, s->efd);
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
	if (rte_ring_count(s->w[w].out)) {
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
static void out_add(struct zab_seq *s, int w, struct zmsg *m)
{
	struct outq *q = &s->w[w].q;
	if (q->n == q->cap) {
		unsigned cap = q->cap ? q->cap * 2 : 256;
		struct zmsg **nm = realloc(q->m, cap * sizeof(*nm));
		if (!nm) {
			/* Cannot queue: deliver what we have, then this. */
			ring_push(s->w[w].out, q->m, q->n, &s->w[w].sleeping,
				  s->w[w].efd);
			q->n = 0;
			ring_push(s->w[w].out, &m, 1, &s->w[w].sleeping,
				  s->w[w].efd);
			return;
		}
		q->m = nm;
		q->cap = cap;
	}
	q->m[q->n++] = m;
}

static void out_flush(struct zab_seq *s)
{
	for (int w = 0; w < s->cfg.n_workers; w++) {
		struct outq *q = &s->w[w].q;
		if (!q->n)
			continue;
		ring_push(s->w[w].out, q->m, q->n, &s->w[w].sleeping,
			  s->w[w].efd);
		q->n = 0;
	}
}

static void send_event(struct zab_seq *s, int type, const char *path,
		       size_t len, zxid_t zxid)
{
	for (int w = 0; w < s->cfg.n_workers; w++) {
		struct zmsg *m = zmsg_new(ZM_EVENT, (uint32_t)len);
		if (!m)
			continue; /* the watch is lost; logged by no one */
		m->zxid = zxid;
		m->err = type;
		memcpy(m->body, path, len);
		out_add(s, w, m);
	}
}

static void send_kill(struct zab_seq *s, struct zconn_ref c)
{
	struct zmsg *m = zmsg_new(ZM_KILL, 0);
	if (!m)
		return;
	m->conn = c;
	out_add(s, c.worker, m);
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
	if (len)
		memcpy(m->body, s->reply.p, len);
	out_add(s, req->conn.worker, m);
}

/* ------------------------------------------------------------------ */
/* Sessions                                                             */
/* ------------------------------------------------------------------ */
static size_t sess_hash(const struct zab_seq *s, int64_t id)
{
	uint64_t h = (uint64_t)id * 0x9e3779b97f4a7c15ULL;
	return (size_t)(h >> 20) & (s->nbuckets - 1);
}

static struct zsession *sess_find(struct zab_seq *s, int64_t id)
{
	for (struct zsession *x = s->sess[sess_hash(s, id)]; x; x = x->next)
		if (x->id == id)
			return x;
	return NULL;
}

static void sess_remove(struct zab_seq *s, struct zsession *z)
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

/* ------------------------------------------------------------------ */
/* Prep: validation against tree + overlay                               */
/* ------------------------------------------------------------------ */
struct pend {
	const char *path; /* points into a multi's request or step */
	size_t len;
	bool exists;
	struct zstat stat;
	const struct zacl *acl;
};

enum step_kind { ST_CREATE, ST_DELETE, ST_SETDATA, ST_SETACL, ST_CHECK };

struct step {
	int op;              /* request opcode, for the result */
	enum step_kind kind;
	char *path;          /* final path, owned */
	size_t len;
	const char *data;    /* into the request */
	int32_t data_len;
	struct zacl *acl;    /* owned */
	int64_t owner;
	int err;
};

struct prep {
	struct zab_seq *s;
	const struct zauth_id *ids;
	int nids;
	int64_t session;
	struct pend *ov;
	int nov, cap;
};

static int prep_get(struct prep *p, const char *path, size_t len,
		    struct pend *out)
{
	for (int i = p->nov - 1; i >= 0; i--) {
		if (p->ov[i].len == len && !memcmp(p->ov[i].path, path, len)) {
			*out = p->ov[i];
			return out->exists ? ZOK : ZNONODE;
		}
	}
	const struct znode *n = tree_lookup(p->s->tree, path, len);
	out->path = path;
	out->len = len;
	if (!n) {
		out->exists = false;
		return ZNONODE;
	}
	struct zview v;
	znode_view(n, &v);
	out->exists = true;
	out->stat = *v.stat;
	out->acl = v.acl;
	return ZOK;
}

static int prep_put(struct prep *p, const struct pend *e)
{
	if (p->nov == p->cap) {
		int cap = p->cap ? p->cap * 2 : 16;
		struct pend *n = realloc(p->ov, (size_t)cap * sizeof(*n));
		if (!n)
			return ZSYSTEMERROR;
		p->ov = n;
		p->cap = cap;
	}
	p->ov[p->nov++] = *e;
	return ZOK;
}

static size_t parent_len(const char *path, size_t len)
{
	size_t i = len;
	while (i > 0 && path[i - 1] != '/')
		i--;
	/* i is one past the last '/'; parent of "/a" is "/" */
	return i <= 1 ? 1 : i - 1;
}

static bool special_path(const char *path, size_t len)
{
	static const char *const sp[] = {"/", "/zookeeper", "/zookeeper/quota",
					 "/zookeeper/config"};
	for (size_t i = 0; i < sizeof(sp) / sizeof(sp[0]); i++)
		if (strlen(sp[i]) == len && !memcmp(sp[i], path, len))
			return true;
	return false;
}

static bool has_nul(const char *p, size_t len)
{
	return memchr(p, 0, len) != NULL;
}

static bool last_slash_ok(const char *p, size_t len)
{
	return len > 0 && memchr(p, '/', len) != NULL && !has_nul(p, len);
}

static int check_version(int32_t cur, int32_t expected)
{
	return (expected == -1 || expected == cur) ? ZOK : ZBADVERSION;
}

static int prep_create(struct prep *p, int op, struct jr *r, struct step *st)
{
	int32_t plen, dlen;
	const char *path = jr_buf(r, &plen);
	const char *data = jr_buf(r, &dlen);
	struct zacl *acl = jr_acl(r);
	int32_t flags = jr_int(r);
	int64_t ttl = -1;
	if (op == ZOP_CREATETTL)
		ttl = jr_long(r);
	st->op = op;
	st->kind = ST_CREATE;
	if (r->err || plen < 0) {
		zacl_unref(acl);
		return ZMARSHALLINGERROR;
	}
	if (!acl) {
		return ZSYSTEMERROR;
	}
	int rc = ZOK;
	struct zacl *fixed = NULL;
	bool seq = flags == ZCM_PERSISTENT_SEQUENTIAL ||
		   flags == ZCM_EPHEMERAL_SEQUENTIAL ||
		   flags == ZCM_PERSISTENT_SEQUENTIAL_TTL;
	bool is_ttl = flags == ZCM_PERSISTENT_TTL ||
		      flags == ZCM_PERSISTENT_SEQUENTIAL_TTL;
	/* validateCreateRequest */
	if (flags < 0 || flags > ZCM_PERSISTENT_SEQUENTIAL_TTL) {
		rc = ZBADARGUMENTS;
		goto out;
	}
	if (is_ttl ? (ttl <= 0 || ttl > ZK_TTL_MAX) : ttl >= 0) {
		rc = ZBADARGUMENTS;
		goto out;
	}
	if (op == ZOP_CREATECONTAINER && flags != ZCM_CONTAINER) {
		rc = ZBADARGUMENTS;
		goto out;
	}
	if (!last_slash_ok(path, (size_t)plen)) {
		rc = ZBADARGUMENTS;
		goto out;
	}
	rc = zacl_fixup(acl, p->ids, p->nids, &fixed);
	if (rc)
		goto out;
	struct pend parent;
	size_t pl = parent_len(path, (size_t)plen);
	rc = prep_get(p, path, pl, &parent);
	if (rc)
		goto out;
	rc = zacl_check(parent.acl, ZPERM_CREATE, p->ids, p->nids);
	if (rc)
		goto out;
	char *final = malloc((size_t)plen + 16);
	if (!final) {
		rc = ZSYSTEMERROR;
		goto out;
	}
	memcpy(final, path, (size_t)plen);
	size_t flen = (size_t)plen;
	/* ZooKeeper 3.8 numbers sequential children by the count of child
	 * creations, while cversion also counts deletions (observed; see
	 * tests/integration/test_basic_ops.py).  Both start at 0, so the
	 * creations are (cversion + numChildren) / 2. */
	if (seq)
		flen += (size_t)sprintf(
			final + plen, "%010d",
			(int32_t)(((int64_t)parent.stat.cversion +
				   parent.stat.num_children) / 2));
	final[flen] = 0;
	st->path = final;
	st->len = flen;
	rc = zk_path_validate(final, flen, false);
	if (rc)
		goto out;
	struct pend self;
	if (prep_get(p, final, flen, &self) == ZOK) {
		rc = ZNODEEXISTS;
		goto out;
	}
	if (zk_owner_is_session(parent.stat.ephemeral_owner)) {
		rc = ZNOCHILDRENFOREPHEMERALS;
		goto out;
	}
	if (flags == ZCM_EPHEMERAL || flags == ZCM_EPHEMERAL_SEQUENTIAL)
		st->owner = p->session;
	else if (flags == ZCM_CONTAINER)
		st->owner = ZK_CONTAINER_OWNER;
	else if (is_ttl)
		st->owner = zk_ttl_owner(ttl);
	else
		st->owner = 0;
	st->data = data;
	st->data_len = dlen; /* -1: null data */
	st->acl = fixed;
	fixed = NULL;
	/* overlay: parent gains a child, node exists */
	parent.stat.cversion++;
	parent.stat.num_children++;
	rc = prep_put(p, &parent);
	if (!rc) {
		memset(&self, 0, sizeof(self));
		self.path = st->path;
		self.len = st->len;
		self.exists = true;
		self.stat.ephemeral_owner = st->owner;
		self.stat.data_length = dlen < 0 ? 0 : dlen;
		self.acl = st->acl;
		rc = prep_put(p, &self);
	}
out:
	zacl_unref(acl);
	zacl_unref(fixed);
	return rc;
}

static int prep_path(struct jr *r, struct step *st)
{
	int32_t plen;
	const char *path = jr_buf(r, &plen);
	if (r->err || plen < 0)
		return ZMARSHALLINGERROR;
	st->path = strndup(path, (size_t)plen);
	st->len = (size_t)plen;
	return st->path ? ZOK : ZSYSTEMERROR;
}

static int prep_delete(struct prep *p, struct jr *r, struct step *st)
{
	st->kind = ST_DELETE;
	int rc = prep_path(r, st);
	int32_t version = jr_int(r);
	if (rc || r->err)
		return rc ? rc : ZMARSHALLINGERROR;
	if (!last_slash_ok(st->path, st->len) || special_path(st->path, st->len))
		return ZBADARGUMENTS;
	struct pend parent, node;
	rc = prep_get(p, st->path, parent_len(st->path, st->len), &parent);
	if (rc)
		return rc;
	rc = zacl_check(parent.acl, ZPERM_DELETE, p->ids, p->nids);
	if (rc)
		return rc;
	rc = prep_get(p, st->path, st->len, &node);
	if (rc)
		return rc;
	rc = check_version(node.stat.version, version);
	if (rc)
		return rc;
	if (node.stat.num_children > 0)
		return ZNOTEMPTY;
	parent.stat.cversion++;
	parent.stat.num_children--;
	node.exists = false;
	node.path = st->path;
	if ((rc = prep_put(p, &parent)) || (rc = prep_put(p, &node)))
		return rc;
	return ZOK;
}

static int prep_setdata(struct prep *p, struct jr *r, struct step *st)
{
	st->kind = ST_SETDATA;
	int rc = prep_path(r, st);
	int32_t dlen;
	const char *data = jr_buf(r, &dlen);
	int32_t version = jr_int(r);
	if (rc || r->err)
		return rc ? rc : ZMARSHALLINGERROR;
	if (zk_path_validate(st->path, st->len, false))
		return ZBADARGUMENTS;
	struct pend node;
	rc = prep_get(p, st->path, st->len, &node);
	if (rc)
		return rc;
	rc = zacl_check(node.acl, ZPERM_WRITE, p->ids, p->nids);
	if (rc)
		return rc;
	rc = check_version(node.stat.version, version);
	if (rc)
		return rc;
	st->data = data;
	st->data_len = dlen; /* -1: null data */
	node.stat.version++;
	node.stat.data_length = dlen < 0 ? 0 : dlen;
	node.path = st->path;
	return prep_put(p, &node);
}

static int prep_setacl(struct prep *p, struct jr *r, struct step *st)
{
	st->kind = ST_SETACL;
	int rc = prep_path(r, st);
	struct zacl *acl = jr_acl(r);
	int32_t version = jr_int(r);
	if (rc || r->err || !acl) {
		zacl_unref(acl);
		return rc ? rc : r->err ? ZMARSHALLINGERROR : ZSYSTEMERROR;
	}
	struct pend node;
	if (zk_path_validate(st->path, st->len, false))
		rc = ZBADARGUMENTS;
	if (!rc)
		rc = zacl_fixup(acl, p->ids, p->nids, &st->acl);
	zacl_unref(acl);
	if (!rc)
		rc = prep_get(p, st->path, st->len, &node);
	if (!rc)
		rc = zacl_check(node.acl, ZPERM_ADMIN, p->ids, p->nids);
	if (!rc)
		rc = check_version(node.stat.aversion, version);
	if (rc)
		return rc;
	node.stat.aversion++;
	node.acl = st->acl;
	node.path = st->path;
	return prep_put(p, &node);
}

static int prep_check(struct prep *p, struct jr *r, struct step *st)
{
	st->kind = ST_CHECK;
	int rc = prep_path(r, st);
	int32_t version = jr_int(r);
	if (rc || r->err)
		return rc ? rc : ZMARSHALLINGERROR;
	if (zk_path_validate(st->path, st->len, false))
		return ZBADARGUMENTS;
	struct pend node;
	rc = prep_get(p, st->path, st->len, &node);
	if (!rc)
		rc = zacl_check(node.acl, ZPERM_READ, p->ids, p->nids);
	if (!rc)
		rc = check_version(node.stat.version, version);
	return rc;
}

static int prep_one(struct prep *p, int op, struct jr *r, struct step *st)
{
	st->op = op;
	switch (op) {
	case ZOP_CREATE:
	case ZOP_CREATE2:
	case ZOP_CREATECONTAINER:
	case ZOP_CREATETTL:
		return prep_create(p, op, r, st);
	case ZOP_DELETE:
		return prep_delete(p, r, st);
	case ZOP_SETDATA:
		return prep_setdata(p, r, st);
	case ZOP_SETACL:
		return prep_setacl(p, r, st);
	case ZOP_CHECK:
		return prep_check(p, r, st);
	default:
		return ZUNIMPLEMENTED;
	}
}

/* ------------------------------------------------------------------ */
/* Apply                                                                */
/* ------------------------------------------------------------------ */
static void step_free(struct step *st)
{
	free(st->path);
	zacl_unref(st->acl);
	memset(st, 0, sizeof(*st));
}

/* Apply one validated step (inside tree_write_begin/end); emits events
 * and writes the op's result record to `out` (if not NULL).  The tree
 * re-checks; a failure here means prep and tree disagree. */
static int apply_step(struct zab_seq *s, struct step *st, zxid_t zxid,
		      int64_t now, struct jw *out)
{
	struct zstat stat;
	int rc = ZOK;
	size_t pl = parent_len(st->path, st->len);
	switch (st->kind) {
	case ST_CREATE:
		rc = tree_node_create(s->tree, st->path, st->len, st->data,
				      st->data_len, st->acl, st->owner, zxid,
				      now, &stat);
		if (rc)
			break;
		if (zk_owner_is_session(st->owner))
			atomic_fetch_add(&s->stats.ephemerals, 1);
		send_event(s, ZEV_CREATED, st->path, st->len, zxid);
		send_event(s, ZEV_CHILD_CHANGED, st->path, pl, zxid);
		if (out) {
			jw_buf(out, st->path, (int32_t)st->len);
			if (st->op != ZOP_CREATE)
				jw_stat(out, &stat);
		}
		break;
	case ST_DELETE: {
		const struct znode *n = tree_lookup(s->tree, st->path, st->len);
		bool eph = false;
		if (n) {
			struct zview v;
			znode_view(n, &v);
			eph = zk_owner_is_session(v.stat->ephemeral_owner);
		}
		rc = tree_node_delete(s->tree, st->path, st->len, zxid);
		if (rc)
			break;
		if (eph)
			atomic_fetch_sub(&s->stats.ephemerals, 1);
		send_event(s, ZEV_DELETED, st->path, st->len, zxid);
		send_event(s, ZEV_CHILD_CHANGED, st->path, pl, zxid);
		break;
	}
	case ST_SETDATA:
		rc = tree_node_set_data(s->tree, st->path, st->len, st->data,
					st->data_len, zxid, now, &stat);
		if (rc)
			break;
		send_event(s, ZEV_DATA_CHANGED, st->path, st->len, zxid);
		if (out)
			jw_stat(out, &stat);
		break;
	case ST_SETACL:
		rc = tree_node_set_acl(s->tree, st->path, st->len, st->acl,
				       zxid, &stat);
		if (!rc && out)
			jw_stat(out, &stat);
		break;
	case ST_CHECK:
		break;
	}
	if (rc)
		fprintf(stderr, "paddockd: sequencer: apply of %.*s failed "
				"after prep: %s\n",
			(int)st->len, st->path, zk_strerror(rc));
	return rc;
}

static void begin(struct zab_seq *s)
{
	tree_write_begin(s->tree);
}

static void end(struct zab_seq *s, zxid_t zxid)
{
	tree_write_end(s->tree, zxid);
}

/* ------------------------------------------------------------------ */
/* Requests                                                              */
/* ------------------------------------------------------------------ */
static void do_single(struct zab_seq *s, struct prep *p, struct zmsg *m,
		      struct jr *r)
{
	struct step st = {0};
	zxid_t zxid = ++s->zxid;
	int rc = prep_one(p, m->op, r, &st);
	s->reply.len = 0;
	begin(s);
	if (!rc)
		rc = apply_step(s, &st, zxid, now_wall_ms(), &s->reply);
	end(s, zxid);
	if (rc == ZOK)
		atomic_fetch_add(&s->stats.writes, 1);
	send_reply(s, m, rc, zxid);
	step_free(&st);
}

static void do_multi(struct zab_seq *s, struct prep *p, struct zmsg *m,
		     struct jr *r)
{
	struct step *st = calloc(MAX_MULTI_OPS, sizeof(*st));
	int n = 0, failed = -1, rc = ZOK;
	zxid_t zxid = ++s->zxid;
	if (!st) {
		send_reply(s, m, ZSYSTEMERROR, zxid);
		return;
	}
	for (;;) {
		int32_t type = jr_int(r);
		bool done = jr_bool(r);
		jr_int(r); /* err */
		if (r->err) {
			rc = ZMARSHALLINGERROR;
			break;
		}
		if (done)
			break;
		if (n == MAX_MULTI_OPS) {
			rc = ZMARSHALLINGERROR;
			break;
		}
		if (type != ZOP_CREATE && type != ZOP_CREATE2 &&
		    type != ZOP_CREATECONTAINER && type != ZOP_CREATETTL &&
		    type != ZOP_DELETE && type != ZOP_SETDATA &&
		    type != ZOP_CHECK) {
			rc = ZMARSHALLINGERROR;
			break;
		}
		int e = prep_one(p, type, r, &st[n]);
		if (e == ZMARSHALLINGERROR) {
			rc = e;
			n++;
			break;
		}
		if (failed < 0 && e) {
			failed = n;
			st[n].err = e;
		}
		n++;
	}
	if (rc) {
		/* Undecodable multi: the worker closes the connection. */
		for (int i = 0; i < n; i++)
			step_free(&st[i]);
		free(st);
		send_reply(s, m, rc, zxid);
		return;
	}
	int64_t now = now_wall_ms();
	s->reply.len = 0;
	begin(s);
	for (int i = 0; i < n; i++) {
		if (failed >= 0) {
			int e = i < failed ? ZOK
				: i == failed ? st[i].err
					      : ZRUNTIMEINCONSISTENCY;
			jw_int(&s->reply, ZOP_ERROR);
			jw_bool(&s->reply, false);
			jw_int(&s->reply, e);
			jw_int(&s->reply, e);
			continue;
		}
		int type = st[i].op == ZOP_CREATECONTAINER ||
					   st[i].op == ZOP_CREATETTL
				   ? ZOP_CREATE2
				   : st[i].op;
		jw_int(&s->reply, type);
		jw_bool(&s->reply, false);
		jw_int(&s->reply, 0);
		if (st[i].op == ZOP_CREATECONTAINER || st[i].op == ZOP_CREATETTL)
			st[i].op = ZOP_CREATE2;
		apply_step(s, &st[i], zxid, now, &s->reply);
	}
	jw_int(&s->reply, -1);
	jw_bool(&s->reply, true);
	jw_int(&s->reply, -1);
	end(s, zxid);
	if (failed < 0)
		atomic_fetch_add(&s->stats.writes, 1);
	send_reply(s, m, ZOK, zxid);
	for (int i = 0; i < n; i++)
		step_free(&st[i]);
	free(st);
}

struct eph_list {
	char **paths;
	size_t *lens;
	int n, cap;
};

static void eph_collect(const char *path, size_t len, void *arg)
{
	struct eph_list *l = arg;
	if (l->n == l->cap) {
		int cap = l->cap ? l->cap * 2 : 16;
		char **np = realloc(l->paths, (size_t)cap * sizeof(char *));
		if (!np)
			return;
		l->paths = np;
		size_t *nl = realloc(l->lens, (size_t)cap * sizeof(size_t));
		if (!nl)
			return;
		l->lens = nl;
		l->cap = cap;
	}
	l->paths[l->n] = strndup(path, len);
	if (l->paths[l->n])
		l->lens[l->n++] = len;
}

static void eph_free(struct eph_list *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->paths[i]);
	free(l->paths);
	free(l->lens);
}

/* closeSession txn: delete the session's ephemerals (deepest first, as
 * ZooKeeper does not need: ephemerals have no children). */
static void close_session(struct zab_seq *s, struct zsession *z, zxid_t zxid)
{
	struct eph_list l = {0};
	tree_ephemerals(s->tree, z->id, eph_collect, &l);
	begin(s);
	for (int i = 0; i < l.n; i++) {
		struct step st = {.kind = ST_DELETE,
				  .path = l.paths[i],
				  .len = l.lens[i]};
		apply_step(s, &st, zxid, 0, NULL);
	}
	end(s, zxid);
	eph_free(&l);
	sess_remove(s, z);
}

static void do_getephemerals(struct zab_seq *s, struct zmsg *m, struct jr *r)
{
	int32_t plen;
	const char *prefix = jr_buf(r, &plen);
	if (r->err) {
		send_reply(s, m, ZMARSHALLINGERROR, s->zxid);
		return;
	}
	struct eph_list l = {0};
	tree_ephemerals(s->tree, m->session, eph_collect, &l);
	bool all = plen <= 0 || (plen == 1 && prefix[0] == '/');
	int cnt = 0;
	for (int i = 0; i < l.n; i++)
		if (all || (l.lens[i] >= (size_t)plen &&
			    !memcmp(l.paths[i], prefix, (size_t)plen)))
			cnt++;
	s->reply.len = 0;
	jw_int(&s->reply, cnt);
	for (int i = 0; i < l.n; i++)
		if (all || (l.lens[i] >= (size_t)plen &&
			    !memcmp(l.paths[i], prefix, (size_t)plen)))
			jw_buf(&s->reply, l.paths[i], (int32_t)l.lens[i]);
	eph_free(&l);
	send_reply(s, m, ZOK, s->zxid);
}

static void handle_request(struct zab_seq *s, struct zmsg *m)
{
	struct zauth_id ids[MAX_AUTH];
	char idbuf[8192];
	int nids = zab_auth_parse(m->body, m->auth_len, ids, idbuf,
				  sizeof(idbuf), MAX_AUTH);
	if (nids < 0) {
		send_reply(s, m, ZMARSHALLINGERROR, s->zxid);
		return;
	}
	struct prep p = {.s = s, .ids = ids, .nids = nids,
			 .session = m->session};
	struct jr r;
	jr_init(&r, m->body + m->auth_len, m->len - m->auth_len);
	struct zsession *z = sess_find(s, m->session);
	if (!z && m->op != ZOP_SYNC) {
		send_reply(s, m, ZSESSIONEXPIRED, s->zxid);
		return;
	}
	switch (m->op) {
	case ZOP_MULTI:
		do_multi(s, &p, m, &r);
		break;
	case ZOP_SYNC: {
		int32_t plen;
		const char *path = jr_buf(&r, &plen);
		s->reply.len = 0;
		if (r.err || plen < 0) {
			send_reply(s, m, ZMARSHALLINGERROR, s->zxid);
			break;
		}
		jw_buf(&s->reply, path, plen);
		send_reply(s, m, ZOK, s->zxid);
		break;
	}
	case ZOP_GETEPHEMERALS:
		do_getephemerals(s, m, &r);
		break;
	case ZOP_CLOSESESSION: {
		zxid_t zxid = ++s->zxid;
		close_session(s, z, zxid);
		s->reply.len = 0;
		send_reply(s, m, ZOK, zxid);
		break;
	}
	default:
		do_single(s, &p, m, &r);
		break;
	}
	free(p.ov);
}

static void handle_connect(struct zab_seq *s, struct zmsg *m)
{
	struct zmsg *rep = zmsg_new(ZM_CONNECTED, ZK_PASSWD_LEN);
	if (!rep)
		return;
	rep->conn = m->conn;
	memset(rep->body, 0, ZK_PASSWD_LEN); /* refused: 16 zero bytes */
	int64_t now = now_mono_ms();
	int timeout = zab_negotiate_timeout(s, m->timeout);
	if (m->session == 0) {
		struct zsession *z = calloc(1, sizeof(*z));
		if (!z) {
			out_add(s, m->conn.worker, rep); /* session 0: refused */
			return;
		}
		z->id = s->next_session++;
		z->timeout = timeout;
		if (getrandom(z->passwd, ZK_PASSWD_LEN, 0) != ZK_PASSWD_LEN)
			for (int i = 0; i < ZK_PASSWD_LEN; i++)
				z->passwd[i] = (uint8_t)rand();
		z->deadline = now + timeout;
		z->attached = true;
		z->conn = m->conn;
		if (s->nsess >= s->nbuckets)
			sess_grow(s);
		size_t h = sess_hash(s, z->id);
		z->next = s->sess[h];
		s->sess[h] = z;
		s->nsess++;
		atomic_store(&s->stats.sessions, (int64_t)s->nsess);
		s->zxid++; /* createSession txn */
		begin(s);
		end(s, s->zxid);
		rep->session = z->id;
		rep->timeout = timeout;
		rep->zxid = s->zxid;
		memcpy(rep->body, z->passwd, ZK_PASSWD_LEN);
	} else {
		struct zsession *z = sess_find(s, m->session);
		/* ZooKeeper closes the session's current connection before
		 * it checks the password (the session itself survives). */
		if (z && z->attached &&
		    (z->conn.worker != m->conn.worker ||
		     z->conn.slot != m->conn.slot ||
		     z->conn.gen != m->conn.gen)) {
			send_kill(s, z->conn);
			z->attached = false;
		}
		if (z && m->len >= ZK_PASSWD_LEN &&
		    !memcmp(z->passwd, m->body, ZK_PASSWD_LEN)) {
			z->attached = true;
			z->conn = m->conn;
			z->deadline = now + z->timeout;
			rep->session = z->id;
			rep->timeout = timeout;
			memcpy(rep->body, z->passwd, ZK_PASSWD_LEN);
		}
		rep->zxid = s->zxid;
	}
	out_add(s, m->conn.worker, rep);
}

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

/* The session part of ZooKeeper's "dump" (DumpCommand). */
static void handle_dump(struct zab_seq *s, struct zmsg *m)
{
	struct jw body = {0}, eph = {0};
	char line[128];
	int64_t now = now_mono_ms();
	int with = 0;
	int n = snprintf(line, sizeof(line),
			 "SessionTracker dump:\nGlobal Sessions(%zu):\n",
			 s->nsess);
	jw_bytes(&body, line, (size_t)n);
	for (size_t b = 0; b < s->nbuckets; b++)
		for (struct zsession *z = s->sess[b]; z; z = z->next) {
			n = snprintf(line, sizeof(line),
				     "0x%llx\t%dms (expires in %lldms)\n",
				     (unsigned long long)z->id, z->timeout,
				     (long long)(z->deadline - now));
			jw_bytes(&body, line, (size_t)n);
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
	int64_t now = now_mono_ms();
	size_t n = m->len / sizeof(int64_t);
	for (size_t i = 0; i < n; i++) {
		int64_t id;
		memcpy(&id, m->body + i * sizeof(int64_t), sizeof(id));
		struct zsession *z = sess_find(s, id);
		if (z)
			z->deadline = now + z->timeout;
	}
}

static void handle_detach(struct zab_seq *s, struct zmsg *m)
{
	struct zsession *z = sess_find(s, m->session);
	if (z && z->conn.worker == m->conn.worker &&
	    z->conn.slot == m->conn.slot && z->conn.gen == m->conn.gen)
		z->attached = false;
}

/* ------------------------------------------------------------------ */
/* Periodic work                                                         */
/* ------------------------------------------------------------------ */
static void expire_sessions(struct zab_seq *s, int64_t now)
{
	for (size_t b = 0; b < s->nbuckets; b++) {
		struct zsession *z = s->sess[b];
		while (z) {
			struct zsession *next = z->next;
			if (z->deadline <= now) {
				if (z->attached)
					send_kill(s, z->conn);
				atomic_fetch_add(&s->stats.expired, 1);
				close_session(s, z, ++s->zxid);
			}
			z = next;
		}
	}
}

struct reap {
	struct eph_list l;
	int64_t now;
};

static void reap_collect(const struct znode *n, void *arg)
{
	struct reap *r = arg;
	struct zview v;
	znode_view(n, &v);
	const struct zstat *st = v.stat;
	if (st->num_children != 0)
		return;
	bool dead;
	if (st->ephemeral_owner == ZK_CONTAINER_OWNER)
		dead = st->cversion > 0;
	else
		dead = r->now - st->mtime > zk_owner_ttl(st->ephemeral_owner);
	if (dead)
		eph_collect(znode_path(n), znode_path_len(n), &r->l);
}

/* ContainerManager: delete empty containers that once had children and
 * TTL nodes with no children whose mtime is older than their TTL.  Each
 * deletion is a deleteContainer transaction of its own. */
static void reap_containers(struct zab_seq *s)
{
	struct reap r = {.now = now_wall_ms()};
	tree_containers_and_ttls(s->tree, reap_collect, &r);
	for (int i = 0; i < r.l.n; i++) {
		struct step st = {.kind = ST_DELETE,
				  .path = r.l.paths[i],
				  .len = r.l.lens[i]};
		zxid_t zxid = ++s->zxid;
		begin(s);
		apply_step(s, &st, zxid, 0, NULL);
		end(s, zxid);
	}
	eph_free(&r.l);
}

static void broadcast_applied(struct zab_seq *s)
{
	for (int w = 0; w < s->cfg.n_workers; w++) {
		struct zmsg *m = zmsg_new(ZM_APPLIED, 0);
		if (!m)
			continue;
		m->zxid = s->zxid;
		out_add(s, w, m);
	}
}

static void *seq_main(void *arg)
{
	struct zab_seq *s = arg;
	struct zmsg *burst[BURST];
	pthread_setname_np(pthread_self(), "pdk-seq");
	rcu_register_thread(); /* it reads the tree and frees by call_rcu */
	while (atomic_load(&s->running)) {
		rcu_quiescent_state();
		unsigned total = 0;
		zxid_t before = s->zxid;
		for (int w = 0; w < s->cfg.n_workers; w++) {
			unsigned n = rte_ring_dequeue_burst(
				s->w[w].in, (void **)burst, BURST, NULL);
			total += n;
			for (unsigned i = 0; i < n; i++) {
				struct zmsg *m = burst[i];
				switch (m->type) {
				case ZM_CONNECT:
					handle_connect(s, m);
					break;
				case ZM_REQUEST:
					handle_request(s, m);
					break;
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
		}
		int64_t now = now_mono_ms();
		if (now >= s->next_expiry_scan) {
			expire_sessions(s, now);
			s->next_expiry_scan = now + s->cfg.tick_time / 2;
		}
		if (now >= s->next_container_scan) {
			reap_containers(s);
			s->next_container_scan =
				now + s->cfg.container_interval_ms;
		}
		if (s->zxid != before)
			broadcast_applied(s);
		out_flush(s);
		if (total)
			continue;
		/* Nothing to do: sleep until a worker posts or a timer. */
		atomic_store(&s->sleeping, 1);
		atomic_thread_fence(memory_order_seq_cst);
		bool pending = false;
		for (int w = 0; w < s->cfg.n_workers; w++)
			pending |= rte_ring_count(s->w[w].in) != 0;
		if (!pending) {
			int64_t next = s->next_expiry_scan;
			if (s->next_container_scan < next)
				next = s->next_container_scan;
			int to = (int)(next - now_mono_ms());
			struct pollfd pfd = {.fd = s->efd, .events = POLLIN};
			rcu_thread_offline();
			if (to > 0 && poll(&pfd, 1, to) > 0) {
				uint64_t v;
				ssize_t rc = read(s->efd, &v, sizeof(v));
				(void)rc;
			}
			rcu_thread_online();
		}
		atomic_store(&s->sleeping, 0);
	}
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
	if (s->cfg.container_interval_ms <= 0)
		s->cfg.container_interval_ms = 60000;
	if (s->cfg.tick_time <= 0)
		s->cfg.tick_time = 2000;
	s->tree = cfg->tree;
	s->zxid = tree_applied_zxid(s->tree);
	/* SessionTrackerImpl.initializeNextSessionId */
	uint64_t t = (uint64_t)now_wall_ms();
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
		s->w[w].in = ring_new(name);
		snprintf(name, sizeof(name), "out%d", w);
		s->w[w].out = ring_new(name);
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

int zab_seq_start(struct zab_seq *s)
{
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
}

void zab_seq_destroy(struct zab_seq *s)
{
	if (!s)
		return;
	zab_seq_stop(s);
	for (int w = 0; w < s->cfg.n_workers; w++) {
		struct zmsg *m;
		for (struct rte_ring *r = s->w[w].in; r;
		     r = r == s->w[w].in ? s->w[w].out : NULL)
			while (rte_ring_dequeue(r, (void **)&m) == 0)
				zmsg_free(m);
		for (unsigned i = 0; i < s->w[w].q.n; i++)
			zmsg_free(s->w[w].q.m[i]);
		free(s->w[w].q.m);
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
	if (s->efd > 0)
		close(s->efd);
	free(s);
}
