/*
 * sim.c — whole ZAB ensembles in one process, on the pure core
 * (consensus/zab_int.h), with a virtual clock and seeded faults.
 *
 * Each seed builds an ensemble (3, 5 or 7 voters, sometimes observers)
 * and runs a chaos phase followed by a calm one:
 *   network   election notifications are dropped, duplicated and delayed
 *             (so reordered); quorum links are FIFO (TCP) with random
 *             delays, and break; partitions split the members in two and
 *             heal; connects across a partition fail.
 *   disks     appends become durable after a random delay, in order; a
 *             crash loses what was not durable; the epoch files and an
 *             installed snapshot are durable at once.
 *   members   crash at random and restart later from their disk (the
 *             state rebuilt from snapshot + log, as ZooKeeper's
 *             loadDataBase does).
 *   clients   propose a write every few ms at whichever member leads.
 * The state a member applies is a hash chain over (zxid, payload), so two
 * states are equal exactly when they applied the same transactions in
 * the same order.
 *
 * Checked after every event:
 *   - at most one leader is established per epoch, and epochs of
 *     established leaders only grow;
 *   - a serving member's state (follower and observer from UPTODATE,
 *     leader from establishment) is a prefix of the one committed
 *     history, and only an established leader extends it: committed
 *     prefixes agree and nothing committed is lost (a new leader starts
 *     from at least everything committed);
 *   - a member's log zxids only grow (between truncations) and a leader's
 *     proposals only grow;
 * and at the end of the calm phase (everything healed and up): one
 * established leader, every member serving its epoch, a last write
 * committed everywhere, every state equal.
 *
 * Usage: zab-sim [--seeds N] [--first S] [--verbose]; a failing seed
 * prints its number and how to replay it (--first S --seeds 1 --verbose).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/zab_int.h"

#define MAXS 9

/* --- deterministic randomness (splitmix64) ------------------------- */

static uint64_t rng;

static uint64_t rnd(void)
{
	uint64_t x = (rng += 0x9e3779b97f4a7c15ull);
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static int64_t range(int64_t lo, int64_t hi) /* [lo, hi] */
{
	return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

static bool chance(double p)
{
	return (double)(rnd() >> 11) / (double)(1ull << 53) < p;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdull;
}

/* --- the run's state ----------------------------------------------- */

struct entry {
	zxid_t zxid;
	uint64_t val; /* the payload: a client's write id */
};

struct point { /* a state: applied up to zxid, chain hash */
	zxid_t zxid;
	uint64_t chain;
};

struct srv {
	int64_t sid;
	struct zab *z;       /* NULL while crashed */
	bool cumulative;     /* cfg.cumulative for this member */
	struct zab_io io;
	int inc;             /* incarnation: events of older ones are void */
	/* disk */
	struct entry *log;   /* durable, then volatile (from ndur) */
	int nlog, ndur, caplog;
	struct point snap;   /* installed snapshot */
	struct point *snapst; /* the snapshot's history (a sim-only luxury:
				 it lets a state installed by SNAP be checked
				 against the committed history) */
	int nsnapst, capsnapst;
	uint32_t accepted, current;
	bool flushing;
	/* state machine: every applied point since the snapshot */
	struct point *st;
	int nst, capst;
	enum zab_role role;
	int64_t tick_at;
	zxid_t last_logged_seen;
	int group;           /* partition side */
	int64_t down_until;
};

static struct srv S[MAXS];
static int N;
static int64_t now;
static bool verbose;
static const char *failure;
static char failbuf[512];

/* the committed history */
static struct point *G;
static int nG, capG;
static int64_t epoch_leader[4096];
static uint32_t max_est_epoch;
static int64_t commits, elections, starts_truncated, snaps_sent;

static bool partitioned;
static int64_t flush_max; /* ms a flush may take, per seed */

static void fail(const char *fmt, ...)
{
	if (failure)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(failbuf, sizeof(failbuf), fmt, ap);
	va_end(ap);
	failure = failbuf;
}

static void trace(const char *fmt, ...)
{
	if (!verbose)
		return;
	va_list ap;
	va_start(ap, fmt);
	printf("%8" PRId64 " ", now);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void *grow(void *p, int *cap, int need, size_t size)
{
	if (need <= *cap)
		return p;
	int nc = *cap ? *cap * 2 : 64;
	while (nc < need)
		nc *= 2;
	p = realloc(p, (size_t)nc * size);
	if (!p) {
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	*cap = nc;
	return p;
}

/* --- events -------------------------------------------------------- */

enum ev_type { EV_VOTE = 1, EV_PKT, EV_LINK_UP, EV_LINK_DOWN, EV_FLUSH,
	       EV_TICK, EV_CRASH, EV_RESTART, EV_PARTITION, EV_HEAL,
	       EV_WRITE, EV_SNAP_SENT };

struct ev {
	int64_t t;
	uint64_t seq;
	int type;
	int to, from;
	int inc;           /* the target's incarnation */
	uint64_t link;     /* EV_PKT / EV_LINK_*: the link generation */
	struct zab_vote v;
	struct zab_pkt p;
	uint8_t *data;
};

static struct ev *Q;
static int nq, capq;
static uint64_t evseq;

static bool ev_less(const struct ev *a, const struct ev *b)
{
	return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void push(struct ev e)
{
	Q = grow(Q, &capq, nq + 1, sizeof(*Q));
	e.seq = evseq++;
	int i = nq++;
	while (i > 0) {
		int p = (i - 1) / 2;
		if (!ev_less(&e, &Q[p]))
			break;
		Q[i] = Q[p];
		i = p;
	}
	Q[i] = e;
}

static struct ev pop(void)
{
	struct ev top = Q[0], last = Q[--nq];
	int i = 0;
	for (;;) {
		int c = 2 * i + 1;
		if (c >= nq)
			break;
		if (c + 1 < nq && ev_less(&Q[c + 1], &Q[c]))
			c++;
		if (!ev_less(&Q[c], &last))
			break;
		Q[i] = Q[c];
		i = c;
	}
	if (nq)
		Q[i] = last;
	return top;
}

/* --- links --------------------------------------------------------- */

/* One quorum link per pair: its generation (0 = down) and the time its
 * last packet arrives (FIFO). */
static uint64_t link_gen[MAXS][MAXS];
static int64_t link_tail[MAXS][MAXS];
static uint64_t next_gen = 1;

static int idx(int64_t sid)
{
	return (int)sid - 1;
}

static bool reachable(int a, int b)
{
	return S[a].z && S[b].z && (!partitioned || S[a].group == S[b].group);
}

static int64_t net_delay(void)
{
	return chance(0.9) ? range(0, 2) : range(3, 30);
}

static void link_break(int a, int b)
{
	int lo = a < b ? a : b, hi = a < b ? b : a;
	if (!link_gen[lo][hi])
		return;
	uint64_t g = link_gen[lo][hi];
	link_gen[lo][hi] = 0;
	/* both ends hear it (a crashed end never will) */
	push((struct ev){.t = now + net_delay(), .type = EV_LINK_DOWN,
			 .to = a, .from = b, .inc = S[a].inc, .link = g});
	push((struct ev){.t = now + net_delay(), .type = EV_LINK_DOWN,
			 .to = b, .from = a, .inc = S[b].inc, .link = g});
}

/* --- the io table -------------------------------------------------- */

static struct srv *me(struct zab_io *io)
{
	return (struct srv *)((char *)io - offsetof(struct srv, io));
}

static void io_vote_send(struct zab_io *io, int64_t to, const struct zab_vote *v)
{
	int a = (int)(me(io) - S), b = idx(to);
	if (!reachable(a, b) || chance(0.05))
		return;
	int copies = chance(0.03) ? 2 : 1;
	for (int k = 0; k < copies; k++)
		push((struct ev){.t = now + net_delay(), .type = EV_VOTE,
				 .to = b, .from = a, .inc = S[b].inc,
				 .v = *v});
}

static void io_connect(struct zab_io *io, int64_t leader)
{
	int a = (int)(me(io) - S), b = idx(leader);
	link_break(a, b);
	if (!reachable(a, b)) {
		push((struct ev){.t = now + range(1, 20), .type = EV_LINK_DOWN,
				 .to = a, .from = b, .inc = S[a].inc,
				 .link = 0});
		return;
	}
	int lo = a < b ? a : b, hi = a < b ? b : a;
	link_gen[lo][hi] = next_gen++;
	link_tail[lo][hi] = now;
	push((struct ev){.t = now + net_delay(), .type = EV_LINK_UP, .to = a,
			 .from = b, .inc = S[a].inc, .link = link_gen[lo][hi]});
}

static void send_raw(int a, int b, const struct zab_pkt *p)
{
	int lo = a < b ? a : b, hi = a < b ? b : a;
	if (!link_gen[lo][hi])
		return;
	int64_t t = now + net_delay();
	if (t < link_tail[lo][hi])
		t = link_tail[lo][hi];
	link_tail[lo][hi] = t;
	struct ev e = {.t = t, .type = EV_PKT, .to = b, .from = a,
		       .inc = S[b].inc, .link = link_gen[lo][hi], .p = *p};
	if (p->len) {
		e.data = malloc(p->len);
		memcpy(e.data, p->data, p->len);
		e.p.data = e.data;
	}
	push(e);
}

static void io_send(struct zab_io *io, int64_t to, const struct zab_pkt *p)
{
	send_raw((int)(me(io) - S), idx(to), p);
}

static void io_close(struct zab_io *io, int64_t peer)
{
	link_break((int)(me(io) - S), idx(peer));
}

static void io_log_append(struct zab_io *io, zxid_t zxid, const void *p,
			  size_t len)
{
	struct srv *s = me(io);
	if (len != 8) {
		fail("server %" PRId64 " logged a %zu-byte payload", s->sid,
		     len);
		return;
	}
	if (zxid <= s->last_logged_seen)
		fail("server %" PRId64 " logged zxid %" PRIx64 " after %" PRIx64,
		     s->sid, zxid, s->last_logged_seen);
	s->last_logged_seen = zxid;
	s->log = grow(s->log, &s->caplog, s->nlog + 1, sizeof(*s->log));
	uint64_t v;
	memcpy(&v, p, 8);
	s->log[s->nlog++] = (struct entry){zxid, v};
	if (!s->flushing) {
		s->flushing = true;
		push((struct ev){.t = now + range(0, flush_max), .type = EV_FLUSH,
				 .to = (int)(s - S), .inc = s->inc});
	}
}

static struct point state_of(const struct srv *s)
{
	return s->nst ? s->st[s->nst - 1] : (struct point){0, 0};
}

static void st_apply(struct srv *s, zxid_t zxid, uint64_t val)
{
	struct point cur = state_of(s);
	if (zxid <= cur.zxid)
		fail("server %" PRId64 " applied %" PRIx64 " after %" PRIx64,
		     s->sid, zxid, cur.zxid);
	s->st = grow(s->st, &s->capst, s->nst + 1, sizeof(*s->st));
	s->st[s->nst++] = (struct point){zxid, mix(mix(cur.chain, (uint64_t)zxid), val)};
}

/* Rebuild the state from snapshot + log (loadDataBase). */
static void st_rebuild(struct srv *s)
{
	s->st = grow(s->st, &s->capst, s->nsnapst, sizeof(*s->st));
	if (s->nsnapst)
		memcpy(s->st, s->snapst, sizeof(*s->st) * (size_t)s->nsnapst);
	s->nst = s->nsnapst;
	for (int i = 0; i < s->nlog; i++)
		if (s->log[i].zxid > s->snap.zxid)
			st_apply(s, s->log[i].zxid, s->log[i].val);
}

static int io_log_truncate(struct zab_io *io, zxid_t zxid)
{
	struct srv *s = me(io);
	if (zxid < s->snap.zxid)
		return -1;
	while (s->nlog && s->log[s->nlog - 1].zxid > zxid)
		s->nlog--;
	if (s->ndur > s->nlog)
		s->ndur = s->nlog;
	s->last_logged_seen = s->nlog ? s->log[s->nlog - 1].zxid : s->snap.zxid;
	st_rebuild(s);
	return 0;
}

static int io_reset(struct zab_io *io)
{
	struct srv *s = me(io);
	s->nlog = s->ndur = 0;
	s->snap = (struct point){0, 0};
	s->nst = s->nsnapst = 0;
	s->last_logged_seen = 0;
	return 0;
}

static void io_epochs_save(struct zab_io *io, uint32_t a, uint32_t c)
{
	struct srv *s = me(io);
	if (a < s->accepted || c < s->current)
		fail("server %" PRId64 " epochs went back: %u/%u -> %u/%u",
		     s->sid, s->accepted, s->current, a, c);
	s->accepted = a;
	s->current = c;
}

static struct point *G_find(zxid_t zxid)
{
	int lo = 0, hi = nG;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (G[mid].zxid < zxid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < nG && G[lo].zxid == zxid ? &G[lo] : NULL;
}

static const struct point *st_find(const struct srv *s, zxid_t zxid)
{
	for (int i = s->nst - 1; i >= 0; i--)
		if (s->st[i].zxid == zxid)
			return &s->st[i];
	return NULL;
}

/* The serving member's state must be a prefix of the committed history;
 * a leader (extend) may add what it has beyond the history's end. */
static void check_state(struct srv *s, bool extend)
{
	struct point cur = state_of(s);
	zxid_t tip = nG ? G[nG - 1].zxid : 0;
	if (cur.zxid <= tip) {
		if (extend && cur.zxid < tip) {
			fail("leader %" PRId64 " established at %" PRIx64
			     " without committed %" PRIx64, s->sid, cur.zxid,
			     tip);
			return;
		}
		if (cur.zxid == 0)
			return;
		struct point *g = G_find(cur.zxid);
		if (!g || g->chain != cur.chain)
			fail("server %" PRId64 " state at %" PRIx64
			     " is not the committed history", s->sid,
			     cur.zxid);
		return;
	}
	if (!extend) {
		fail("server %" PRId64 " serves %" PRIx64 " beyond committed %"
		     PRIx64, s->sid, cur.zxid, tip);
		return;
	}
	if (nG) {
		const struct point *p = st_find(s, tip);
		if (!p || p->chain != G[nG - 1].chain) {
			fail("leader %" PRId64 " diverges from the committed "
			     "history at %" PRIx64, s->sid, tip);
			return;
		}
	}
	for (int i = 0; i < s->nst; i++) {
		if (s->st[i].zxid <= tip)
			continue;
		G = grow(G, &capG, nG + 1, sizeof(*G));
		G[nG++] = s->st[i];
		commits++;
	}
}

static bool serving(const struct srv *s)
{
	return s->role != ZR_LOOKING;
}

static void io_apply(struct zab_io *io, zxid_t zxid, const void *p,
		     size_t len)
{
	struct srv *s = me(io);
	uint64_t v = 0;
	if (len == 8)
		memcpy(&v, p, 8);
	st_apply(s, zxid, v);
	if (serving(s))
		check_state(s, s->role == ZR_LEADING);
}

static zxid_t io_snap_send(struct zab_io *io, int64_t to)
{
	struct srv *s = me(io);
	struct point cur = state_of(s);
	struct zab_pkt p = {.type = ZP_SNAP, .zxid = cur.zxid,
			    .data = (const uint8_t *)s->st,
			    .len = (uint32_t)(sizeof(*s->st) * (size_t)s->nst)};
	int a = (int)(s - S), b = idx(to);
	send_raw(a, b, &p);
	/* the state is on the link a while later (paddockd's io walks its
	 * tree meanwhile): zab_snap_sent, unless that link broke first */
	int lo = a < b ? a : b, hi = a < b ? b : a;
	push((struct ev){.t = now + range(0, 30), .type = EV_SNAP_SENT,
			 .to = a, .from = b, .inc = s->inc,
			 .link = link_gen[lo][hi]});
	return cur.zxid;
}

static void io_request(struct zab_io *io, int64_t from, const void *p,
		       size_t len)
{
}

static void io_role(struct zab_io *io, enum zab_role role, int64_t leader)
{
	struct srv *s = me(io);
	s->role = role;
	trace("server %" PRId64 " role %d leader %" PRId64 " epoch %u zxid %"
	      PRIx64, s->sid, role, leader, zab_current_epoch(s->z),
	      state_of(s).zxid);
	if (role == ZR_LOOKING)
		return;
	if (role == ZR_LEADING) {
		uint32_t e = zab_current_epoch(s->z);
		elections++;
		if (e >= 4096)
			fail("epoch %u too large for the sim", e);
		else if (epoch_leader[e] && epoch_leader[e] != s->sid)
			fail("two leaders established in epoch %u: %" PRId64
			     " and %" PRId64, e, epoch_leader[e], s->sid);
		else if (e <= max_est_epoch)
			fail("leader %" PRId64 " established epoch %u after %u",
			     s->sid, e, max_est_epoch);
		epoch_leader[e] = s->sid;
		max_est_epoch = e;
	}
	check_state(s, role == ZR_LEADING);
}

/* --- members ------------------------------------------------------- */

static struct zab_config cfg;

static void schedule_tick(struct srv *s)
{
	if (!s->z)
		return;
	int64_t d = zab_deadline(s->z);
	if (d <= now)
		d = now + 1;
	if (s->tick_at > now && s->tick_at <= d)
		return;
	s->tick_at = d;
	push((struct ev){.t = d, .type = EV_TICK, .to = (int)(s - S),
			 .inc = s->inc});
}

/* paddockd's ens_start: transactions logged past currentEpoch's epoch
 * are from a sync cut short before its NEWLEADER was durable (a learner
 * logs a DIFF as it comes), which ZooKeeper refuses to start with; none
 * of them was ACKed (nothing is before NEWLEADER's ACK, which follows
 * currentEpoch on disk), so paddockd drops them and starts. */
static void drop_past_current(struct srv *s)
{
	zxid_t bound = zab_zxid(s->current, UINT32_MAX);
	if (s->snap.zxid > bound) {
		io_reset(&s->io);
		starts_truncated++;
		return;
	}
	if (s->nlog && s->log[s->nlog - 1].zxid > bound) {
		io_log_truncate(&s->io, bound);
		starts_truncated++;
	}
}

static void srv_start(struct srv *s)
{
	s->inc++;
	s->role = ZR_LOOKING;
	s->flushing = false;
	s->tick_at = 0;
	drop_past_current(s);
	st_rebuild(s);
	s->last_logged_seen = state_of(s).zxid;
	cfg.sid = s->sid;
	cfg.cumulative = s->cumulative;
	struct zab_disk d = {s->accepted, s->current, state_of(s).zxid};
	s->z = zab_create(&cfg, &s->io, &d);
	if (!s->z) {
		fprintf(stderr, "zab_create failed\n");
		exit(2);
	}
	for (int i = 0; i < s->nlog; i++) {
		if (s->log[i].zxid <= s->snap.zxid)
			continue;
		zab_load(s->z, s->log[i].zxid, &s->log[i].val, 8);
	}
	zab_start(s->z, now);
	schedule_tick(s);
}

static void srv_crash(struct srv *s)
{
	trace("server %" PRId64 " crashes", s->sid);
	for (int i = 0; i < N; i++)
		if (&S[i] != s)
			link_break((int)(s - S), i);
	zab_destroy(s->z);
	s->z = NULL;
	s->inc++;
	s->nlog = s->ndur; /* unflushed writes are lost */
	s->role = ZR_LOOKING;
}

/* --- clients ------------------------------------------------------- */

static uint64_t next_val = 1;

static void client_write(void)
{
	for (int i = 0; i < N; i++) {
		struct srv *s = &S[i];
		if (!s->z || zab_role(s->z) != ZR_LEADING)
			continue;
		uint64_t v = next_val++;
		zxid_t zx;
		if (zab_propose(s->z, now, &v, 8, &zx) == 0) {
			trace("server %" PRId64 " proposes %" PRIx64, s->sid,
			      zx);
		}
		schedule_tick(s);
	}
}

/* --- the run ------------------------------------------------------- */

static void deliver(struct ev *e)
{
	struct srv *s = &S[e->to < 0 ? 0 : e->to];
	if (e->type == EV_CRASH || e->type == EV_RESTART ||
	    e->type == EV_PARTITION || e->type == EV_HEAL ||
	    e->type == EV_WRITE) {
		/* not addressed to an incarnation */
	} else if (!s->z || e->inc != s->inc) {
		return;
	}
	int lo = e->to < e->from ? e->to : e->from;
	int hi = e->to < e->from ? e->from : e->to;
	switch (e->type) {
	case EV_VOTE:
		zab_vote_recv(s->z, now, S[e->from].sid, &e->v);
		break;
	case EV_PKT:
		if (link_gen[lo][hi] != e->link)
			return;
		if (e->p.type == ZP_SNAP) {
			/* the io installs the snapshot, durably */
			int n = (int)(e->p.len / sizeof(struct point));
			s->snapst = grow(s->snapst, &s->capsnapst, n,
					 sizeof(*s->snapst));
			if (n)
				memcpy(s->snapst, e->p.data, e->p.len);
			s->nsnapst = n;
			s->snap = n ? s->snapst[n - 1] : (struct point){0, 0};
			s->nlog = s->ndur = 0;
			st_rebuild(s);
			s->last_logged_seen = s->snap.zxid;
		}
		zab_recv(s->z, now, S[e->from].sid, &e->p);
		break;
	case EV_LINK_UP:
		if (link_gen[lo][hi] != e->link)
			return;
		zab_link_up(s->z, now, S[e->from].sid);
		break;
	case EV_SNAP_SENT:
		if (!e->link || link_gen[lo][hi] != e->link)
			return;
		zab_snap_sent(s->z, now, S[e->from].sid);
		snaps_sent++;
		break;
	case EV_LINK_DOWN:
		if (link_gen[lo][hi])
			return; /* a newer link is up already */
		zab_link_down(s->z, now, S[e->from].sid);
		break;
	case EV_FLUSH:
		s->flushing = false;
		if (s->ndur < s->nlog) {
			s->ndur = s->nlog;
			zab_durable(s->z, now, s->log[s->nlog - 1].zxid);
		}
		break;
	case EV_TICK:
		if (now != s->tick_at)
			return;
		s->tick_at = 0;
		zab_tick(s->z, now);
		break;
	case EV_CRASH:
		if (e->to < 0) { /* whoever leads now */
			for (int i = 0; i < N; i++)
				if (S[i].z && zab_role(S[i].z) == ZR_LEADING)
					srv_crash(&S[i]);
		} else if (s->z) {
			srv_crash(s);
		}
		break;
	case EV_RESTART:
		if (e->to < 0) {
			for (int i = 0; i < N; i++)
				if (!S[i].z)
					srv_start(&S[i]);
		} else if (!s->z) {
			srv_start(s);
		}
		break;
	case EV_PARTITION:
		partitioned = true;
		for (int i = 0; i < N; i++)
			S[i].group = (int)(rnd() & 1);
		for (int a = 0; a < N; a++)
			for (int b = a + 1; b < N; b++)
				if (S[a].group != S[b].group)
					link_break(a, b);
		trace("partition");
		break;
	case EV_HEAL:
		partitioned = false;
		trace("heal");
		break;
	case EV_WRITE:
		client_write();
		break;
	}
	if (s->z)
		schedule_tick(s);
}

static void run_until(int64_t end)
{
	while (nq && !failure) {
		if (Q[0].t > end)
			break;
		struct ev e = pop();
		now = e.t;
		deliver(&e);
		free(e.data);
		if (now > end)
			break;
	}
	now = end;
}

static void reset_run(void)
{
	for (int i = 0; i < nq; i++)
		free(Q[i].data);
	nq = 0;
	for (int i = 0; i < N; i++) {
		zab_destroy(S[i].z);
		free(S[i].log);
		free(S[i].st);
		free(S[i].snapst);
	}
	memset(S, 0, sizeof(S));
	memset(link_gen, 0, sizeof(link_gen));
	memset(epoch_leader, 0, sizeof(epoch_leader));
	max_est_epoch = 0;
	nG = 0;
	now = 0;
	partitioned = false;
	failure = NULL;
	commits = elections = 0;
}

static struct zab_io io_template = {
	.vote_send = io_vote_send, .connect = io_connect, .send = io_send,
	.close = io_close, .log_append = io_log_append,
	.log_truncate = io_log_truncate, .reset = io_reset,
	.epochs_save = io_epochs_save, .apply = io_apply,
	.snap_send = io_snap_send, .request = io_request, .role = io_role,
};

/* The end: one leader, everyone serving it, a last write everywhere. */
static void check_converged(void)
{
	int leader = -1;
	for (int i = 0; i < N; i++)
		if (zab_role(S[i].z) == ZR_LEADING)
			leader = i;
	if (leader < 0) {
		fail("no leader after the calm phase");
		return;
	}
	for (int i = 0; i < N; i++) {
		if (zab_role(S[i].z) == ZR_LOOKING ||
		    zab_leader(S[i].z) != S[leader].sid)
			fail("server %" PRId64 " is not following %" PRId64
			     " after the calm phase (role %d)", S[i].sid,
			     S[leader].sid, zab_role(S[i].z));
	}
	client_write();
	run_until(now + 2000);
	struct point want = state_of(&S[leader]);
	if (nG && G[nG - 1].zxid != want.zxid)
		fail("leader's state %" PRIx64 " is not the last committed %"
		     PRIx64, want.zxid, G[nG - 1].zxid);
	for (int i = 0; i < N; i++) {
		struct point p = state_of(&S[i]);
		if (p.zxid != want.zxid || p.chain != want.chain)
			fail("server %" PRId64 " ends at %" PRIx64
			     ", the leader at %" PRIx64, S[i].sid, p.zxid,
			     want.zxid);
	}
}

static int64_t downtime(void)
{
	return chance(0.5) ? range(10, 500) : range(500, 6000);
}

static bool run_seed(uint64_t seed)
{
	reset_run();
	rng = seed * 0x2545f4914f6cdd1dull + 1;
	int voters = (int[]){3, 3, 5, 5, 7}[rnd() % 5];
	int observers = chance(0.3) ? (int)range(1, 2) : 0;
	N = voters + observers;
	memset(&cfg, 0, sizeof(cfg));
	cfg.n = N;
	for (int i = 0; i < N; i++) {
		cfg.m[i].sid = i + 1;
		cfg.m[i].observer = i >= voters;
	}
	cfg.tick_ms = 50;
	cfg.init_limit = 10;
	cfg.sync_limit = 5;
	cfg.finalize_wait_ms = (int)range(5, 50);
	cfg.min_notify_ms = 50;
	cfg.max_notify_ms = 800;
	cfg.connect_retry_ms = 20;
	cfg.hist_max = (uint32_t)range(5, 100);
	cfg.max_counter = chance(0.2) ? (uint32_t)range(20, 200) : 0;
	/* paddock's cumulative ACK/COMMIT: everywhere, nowhere, or on some
	 * members (a mixed ensemble: the links between two that announce
	 * it use it, the others ZooKeeper's framing) */
	int cum = (int)range(0, 2);
	for (int i = 0; i < N; i++) {
		S[i].sid = i + 1;
		S[i].io = io_template;
		S[i].cumulative = cum == 2 ? chance(0.5) : cum == 1;
	}
	for (int i = 0; i < N; i++)
		srv_start(&S[i]);

	int64_t chaos = 20000, calm = 15000;
	/* the chaos script */
	for (int64_t t = (int64_t)range(1, 5); t < chaos + calm - 5000;
	     t += range(1, 8))
		push((struct ev){.t = t, .type = EV_WRITE});
	flush_max = chance(0.5) ? 4 : range(5, 40);
	int ncrash = (int)range(0, 8);
	for (int k = 0; k < ncrash; k++) {
		int who = chance(0.5) ? -1 : (int)range(0, N - 1);
		int64_t t = range(100, chaos - 2000);
		push((struct ev){.t = t, .type = EV_CRASH, .to = who});
		push((struct ev){.t = t + downtime(), .type = EV_RESTART,
				 .to = who});
	}
	int nparts = (int)range(0, 4);
	for (int k = 0; k < nparts; k++) {
		int64_t t = range(100, chaos - 2000);
		push((struct ev){.t = t, .type = EV_PARTITION});
		push((struct ev){.t = t + range(50, 2000), .type = EV_HEAL});
	}
	/* every member at once (kill -9 of the whole ensemble) */
	int nall = chance(0.5) ? (int)range(1, 3) : 0;
	for (int k = 0; k < nall; k++) {
		int64_t t = range(1000, chaos - 3000);
		for (int i = 0; i < N; i++) {
			push((struct ev){.t = t, .type = EV_CRASH, .to = i});
			push((struct ev){.t = t + downtime(),
					 .type = EV_RESTART, .to = i});
		}
	}
	run_until(chaos);
	/* calm: heal, restart everyone still down */
	partitioned = false;
	for (int i = 0; i < N; i++)
		if (!S[i].z)
			srv_start(&S[i]);
	run_until(chaos + calm);
	if (!failure)
		check_converged();
	if (failure) {
		printf("seed %" PRIu64 ": FAILED at %" PRId64 " ms: %s\n"
		       "  replay: zab-sim --first %" PRIu64
		       " --seeds 1 --verbose\n",
		       seed, now, failure, seed);
		return false;
	}
	if (verbose)
		printf("seed %" PRIu64 ": ok, %d voters %d observers, %" PRId64
		       " commits, %" PRId64 " leaders\n",
		       seed, voters, observers, commits, elections);
	return true;
}

int main(int argc, char **argv)
{
	uint64_t first = 1, seeds = 200;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seeds") && i + 1 < argc)
			seeds = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--first") && i + 1 < argc)
			first = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--verbose"))
			verbose = true;
		else {
			fprintf(stderr, "usage: zab-sim [--seeds N] "
					"[--first S] [--verbose]\n");
			return 2;
		}
	}
	uint64_t failed = 0, total_commits = 0, total_leaders = 0;
	for (uint64_t s = first; s < first + seeds; s++) {
		if (!run_seed(s))
			failed++;
		total_commits += (uint64_t)commits;
		total_leaders += (uint64_t)elections;
	}
	reset_run();
	free(Q);
	free(G);
	printf("zab-sim: %" PRIu64 " seeds (%" PRIu64 "..%" PRIu64 "), %" PRIu64
	       " failed; %" PRIu64 " commits, %" PRIu64 " leaders established, "
	       "%" PRId64 " snapshots sent, %" PRId64 " restarts that dropped "
	       "a log past currentEpoch\n",
	       seeds, first, first + seeds - 1, failed, total_commits,
	       total_leaders, snaps_sent, starts_truncated);
	return failed ? 1 : 0;
}
