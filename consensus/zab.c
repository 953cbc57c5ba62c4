/*
 * zab.c — the ZAB protocol core (design note and contract: zab_int.h).
 *
 * Sources of each rule, in Apache ZooKeeper 3.8:
 *   election   FastLeaderElection.lookForLeader, totalOrderPredicate,
 *              checkLeader, Vote.equals, WorkerReceiver (answers)
 *   discovery  Leader.lead / getEpochToPropose / waitForEpochAck,
 *              Learner.registerWithLeader
 *   sync       LearnerHandler.syncFollower (DIFF / TRUNC / SNAP choice),
 *              Leader.startForwarding, Learner.syncWithLeader
 *   broadcast  Leader.propose / processAck / tryToCommit (in order),
 *              Follower.processPacket, Observer.processPacket (INFORM)
 *   liveness   Leader.lead's tick loop (syncedAckSet), LearnerHandler.ping,
 *              the learner's socket timeout (syncLimit, initLimit)
 * Deliberate differences: a learner logs every transaction it receives
 * while syncing and ACKs NEWLEADER only when all of them are durable
 * (ZooKeeper 3.8 applies DIFF's committed ones in memory); the leader
 * counts its own NEWLEADER ACK only once its log is durable.
 */
#include <stdlib.h>
#include <string.h>

#include "consensus/zab_int.h"
#include "tree/jute.h"

enum phase {
	PH_LOOKING = 0,
	PH_LEAD_INFO,     /* leader: waiting for a quorum of *INFO */
	PH_LEAD_EPOCH,    /* leader: waiting for a quorum of ACKEPOCH */
	PH_LEAD_NEWLEADER, /* leader: waiting for a quorum of NEWLEADER acks */
	PH_LEADING,
	PH_LEARN_CONNECT, /* learner: link to the leader not up yet */
	PH_LEARN_INFO,    /* learner: sent *INFO, waiting for LEADERINFO */
	PH_LEARN_SYNC,    /* learner: sent ACKEPOCH, syncing */
	PH_LEARN_SERVING, /* learner: UPTODATE received */
};

/* Leader's view of one learner (LearnerHandler). */
enum lh_stage {
	LH_NONE = 0,
	LH_INFO,     /* *INFO received, LEADERINFO maybe sent */
	LH_EPOCH,    /* ACKEPOCH received, waiting to be synced */
	LH_SNAP,     /* SNAP sent, the state on its way (zab_snap_sent) */
	LH_SYNCED,   /* DIFF/TRUNC/SNAP + NEWLEADER sent, forwarding */
	LH_UPTODATE, /* UPTODATE sent */
};

struct lh {
	enum lh_stage stage;
	bool observer;
	bool info_sent;    /* LEADERINFO sent */
	bool nl_acked;     /* NEWLEADER acked */
	uint32_t accepted; /* its acceptedEpoch */
	int64_t cur_epoch; /* from ACKEPOCH, -1 if it had accepted ours */
	zxid_t last;       /* its lastLoggedZxid */
	int64_t heard;     /* last packet from it */
	bool cumulative;   /* both ends announced ZAB_PADDOCK_VERSION */
	zxid_t acked;      /* cumulative: its newest ACK */
	zxid_t snap_at;    /* LH_SNAP: the zxid of the state sent */
};

/* A transaction in the window. */
struct htx {
	zxid_t zxid;
	uint32_t len;
	uint8_t *data; /* in `chunk` */
	struct hchunk *chunk;
	uint64_t acks; /* leader: voters that acked (member bits) */
};

/* The window's records are copied into chunks, one after another (a
 * malloc and a free per transaction were a tenth of a follower's CPU); a
 * chunk is freed when none of its records is left and it is no longer
 * the one being filled. */
struct hchunk {
	uint32_t used, cap, live;
	uint8_t data[];
};
#define HCHUNK_SIZE (1u << 20)

struct zab {
	struct zab_config cfg;
	struct zab_io *io;
	int self;             /* my index in cfg.m */
	uint64_t voters;      /* member bits of the voters */
	int nvoters;
	int64_t now;
	enum phase ph;
	enum zab_role role;
	uint32_t accepted_epoch, current_epoch;
	zxid_t logged, durable, applied;
	/* window of recent transactions, oldest first (a ring) */
	struct htx *h;
	struct hchunk *hcur; /* the chunk records go into */
	struct hchunk *hspare; /* an emptied chunk, kept for the next */
	uint32_t hcap, hhead, hn;
	/* election */
	int64_t lclock;
	struct zab_vote prop;      /* my proposal */
	struct zab_vote recv[ZAB_MAX_MEMBERS];
	uint64_t recv_mask;
	struct zab_vote outof[ZAB_MAX_MEMBERS];
	uint64_t outof_mask;
	int64_t not_timeout;       /* current notification timeout */
	int64_t resend_at;
	int64_t decide_at;         /* 0: not finalizing */
	struct zab_vote vote;      /* the vote followed / led */
	/* leader */
	struct lh lh[ZAB_MAX_MEMBERS];
	uint64_t info_mask, epoch_mask, nl_mask;
	int64_t new_epoch;         /* -1 until a quorum of *INFO */
	bool epoch_wait;           /* epoch quorum, waiting for the log */
	int64_t ss_epoch;          /* leaderStateSummary */
	zxid_t ss_zxid;
	int64_t phase_deadline;
	int64_t next_ping;
	zxid_t committed;          /* leader: last committed */
	uint32_t counter;          /* leader: last counter proposed */
	/* learner */
	int64_t lead_sid;
	int64_t heard;             /* last packet from the leader */
	int64_t connect_at;        /* next connect attempt (0: none) */
	bool nl_got;               /* NEWLEADER received */
	bool nl_pending;           /* NEWLEADER ack waits for durability */
	zxid_t nl_zxid;
	zxid_t acked;              /* follower: last proposal acked */
	zxid_t ack_floor;          /* follower: committed at NEWLEADER */
	bool lead_cumulative;      /* learner: the leader announced it too */
};

/* --- members ------------------------------------------------------- */

static int member(const struct zab *z, int64_t sid)
{
	for (int i = 0; i < z->cfg.n; i++)
		if (z->cfg.m[i].sid == sid)
			return i;
	return -1;
}

static bool is_voter(const struct zab *z, int64_t sid)
{
	int i = member(z, sid);
	return i >= 0 && !z->cfg.m[i].observer;
}

static bool quorum(const struct zab *z, uint64_t mask)
{
	return 2 * __builtin_popcountll(mask & z->voters) > z->nvoters;
}

static bool i_vote(const struct zab *z)
{
	return !z->cfg.m[z->self].observer;
}

static int64_t tick_ms(const struct zab *z, int ticks)
{
	return (int64_t)z->cfg.tick_ms * ticks;
}

/* --- the window ---------------------------------------------------- */

static struct htx *hat(const struct zab *z, uint32_t i)
{
	return &z->h[(z->hhead + i) & (z->hcap - 1)];
}

/* An empty chunk: kept as the spare (a fresh 1 MiB malloc is an mmap
 * whose pages each fault), or freed. */
static void chunk_drop(struct zab *z, struct hchunk *c)
{
	if (!z->hspare && c->cap == HCHUNK_SIZE) {
		z->hspare = c;
		return;
	}
	free(c);
}

static bool hist_push(struct zab *z, zxid_t zxid, const void *p, size_t len)
{
	if (z->hn == z->hcap) {
		uint32_t ncap = z->hcap ? 2 * z->hcap : 64;
		struct htx *nh = malloc(sizeof(*nh) * ncap);
		if (!nh)
			return false;
		for (uint32_t i = 0; i < z->hn; i++)
			nh[i] = *hat(z, i);
		free(z->h);
		z->h = nh;
		z->hcap = ncap;
		z->hhead = 0;
	}
	struct hchunk *c = z->hcur;
	if (!c || c->cap - c->used < len) {
		uint32_t cap = len > HCHUNK_SIZE ? (uint32_t)len : HCHUNK_SIZE;
		if (z->hspare && z->hspare->cap >= cap) {
			c = z->hspare; /* its pages are already mapped */
			z->hspare = NULL;
			cap = c->cap;
		} else {
			c = malloc(sizeof(*c) + cap);
			if (!c)
				return false;
		}
		*c = (struct hchunk){.cap = cap};
		if (z->hcur && !z->hcur->live)
			chunk_drop(z, z->hcur);
		z->hcur = c;
	}
	struct htx *t = hat(z, z->hn);
	t->data = c->data + c->used;
	t->chunk = c;
	c->used += (uint32_t)len;
	c->live++;
	if (len)
		memcpy(t->data, p, len);
	t->len = (uint32_t)len;
	t->zxid = zxid;
	t->acks = 0;
	z->hn++;
	return true;
}

static void htx_release(struct zab *z, struct htx *t)
{
	struct hchunk *c = t->chunk;
	if (!c)
		return; /* never filled */
	if (--c->live == 0) {
		if (c != z->hcur)
			chunk_drop(z, c);
		else
			c->used = 0; /* empty: fill it again from the start */
	}
	t->data = NULL;
	t->chunk = NULL;
}

static void hist_drop_oldest(struct zab *z)
{
	struct htx *t = hat(z, 0);
	htx_release(z, t);
	z->hhead = (z->hhead + 1) & (z->hcap - 1);
	z->hn--;
}

/* Keep at most hist_max applied transactions (never an unapplied one),
 * trimmed 1/64 of the window at a time rather than one per commit. */
static void hist_trim(struct zab *z)
{
	if (z->hn <= z->cfg.hist_max + z->cfg.hist_max / 64)
		return;
	/* what a learner in LH_SNAP is yet to be sent stays */
	zxid_t keep = z->applied;
	for (int i = 0; i < z->cfg.n; i++)
		if (z->lh[i].stage == LH_SNAP && z->lh[i].snap_at < keep)
			keep = z->lh[i].snap_at;
	while (z->hn > z->cfg.hist_max && hat(z, 0)->zxid <= keep)
		hist_drop_oldest(z);
}

static void hist_cut_after(struct zab *z, zxid_t zxid)
{
	while (z->hn && hat(z, z->hn - 1)->zxid > zxid) {
		htx_release(z, hat(z, z->hn - 1));
		z->hn--;
	}
}

static void hist_clear(struct zab *z)
{
	hist_cut_after(z, -1);
	z->hhead = 0;
}

/* Index of the first entry with zxid > after (hn if none).  Within an
 * epoch zxids are consecutive, so the newest entry gives the answer
 * directly when `after` is in its epoch (every ACK, COMMIT and commit
 * pass asks; a binary search over a 100,000-entry window cost 17 cache
 * misses each); otherwise, or if the guess is wrong, a binary search. */
static uint32_t hist_after(const struct zab *z, zxid_t after)
{
	if (z->hn) {
		zxid_t last = hat(z, z->hn - 1)->zxid;
		if (after >= last)
			return z->hn;
		uint64_t d = (uint64_t)(last - after);
		if (zab_epoch(after) == zab_epoch(last) && d <= z->hn) {
			uint32_t k = z->hn - (uint32_t)d;
			if (hat(z, k)->zxid > after &&
			    (k == 0 || hat(z, k - 1)->zxid <= after))
				return k;
		}
	}
	uint32_t lo = 0, hi = z->hn;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (hat(z, mid)->zxid <= after)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* --- sending ------------------------------------------------------- */

static void send_pkt(struct zab *z, int64_t to, int type, zxid_t zxid,
		     const void *data, uint32_t len)
{
	struct zab_pkt p = {.type = type, .zxid = zxid, .data = data,
			    .len = len};
	z->io->send(z->io, to, &p);
}

static void send_int(struct zab *z, int64_t to, int type, zxid_t zxid,
		     int32_t v)
{
	uint8_t b[4];
	jw_put_int_at(b, v);
	send_pkt(z, to, type, zxid, b, 4);
}

/* --- roles --------------------------------------------------------- */

static void set_role(struct zab *z, enum zab_role r, int64_t leader)
{
	z->role = r;
	z->io->role(z->io, r, leader);
}

static void save_epochs(struct zab *z)
{
	z->io->epochs_save(z->io, z->accepted_epoch, z->current_epoch);
}

/* Apply everything logged that is not applied yet, in order. */
static void apply_upto(struct zab *z, zxid_t upto)
{
	for (uint32_t i = hist_after(z, z->applied); i < z->hn; i++) {
		struct htx *t = hat(z, i);
		if (t->zxid > upto)
			break;
		z->io->apply(z->io, t->zxid, t->data, t->len);
		z->applied = t->zxid;
	}
	hist_trim(z);
}

static void start_election(struct zab *z);

/* Leave whatever role: close the links, fast-forward, look again
 * (QuorumPeer.run's finally blocks, ZooKeeperServer.shutdown). */
static void go_looking(struct zab *z)
{
	if (z->ph >= PH_LEAD_INFO && z->ph <= PH_LEADING) {
		for (int i = 0; i < z->cfg.n; i++)
			if (z->lh[i].stage != LH_NONE)
				z->io->close(z->io, z->cfg.m[i].sid);
	} else if (z->ph >= PH_LEARN_CONNECT) {
		z->io->close(z->io, z->lead_sid);
	}
	memset(z->lh, 0, sizeof(z->lh));
	z->nl_pending = false;
	z->connect_at = 0;
	z->ph = PH_LOOKING;
	if (z->role != ZR_LOOKING)
		set_role(z, ZR_LOOKING, 0);
	apply_upto(z, z->logged);
	start_election(z);
}

/* --- election ------------------------------------------------------ */

/* FastLeaderElection.totalOrderPredicate */
static bool better(const struct zab *z, int64_t id, zxid_t zxid,
		   int64_t epoch, int64_t cid, zxid_t czxid, int64_t cepoch)
{
	if (!is_voter(z, id))
		return false;
	return epoch > cepoch ||
	       (epoch == cepoch &&
		(zxid > czxid || (zxid == czxid && id > cid)));
}

/* Vote.equals: LOOKING votes match on everything, others on (leader,
 * peerEpoch). */
static bool vote_eq(const struct zab_vote *a, const struct zab_vote *b)
{
	if (a->state == ZS_LOOKING || b->state == ZS_LOOKING)
		return a->leader == b->leader && a->zxid == b->zxid &&
		       a->election_epoch == b->election_epoch &&
		       a->peer_epoch == b->peer_epoch;
	return a->leader == b->leader && a->peer_epoch == b->peer_epoch;
}

static uint64_t votes_for(const struct zab *z, const struct zab_vote *set,
			  uint64_t mask, const struct zab_vote *v)
{
	uint64_t m = 0;
	for (int i = 0; i < z->cfg.n; i++)
		if ((mask >> i & 1) && vote_eq(&set[i], v))
			m |= 1ull << i;
	return m;
}

static void send_notifications(struct zab *z)
{
	struct zab_vote v = z->prop;
	v.election_epoch = z->lclock;
	v.state = ZS_LOOKING;
	for (int i = 0; i < z->cfg.n; i++) {
		if (z->cfg.m[i].observer)
			continue;
		if (i == z->self) {
			/* our own notification, as the loopback delivers it */
			z->recv[i] = v;
			z->recv_mask |= 1ull << i;
			continue;
		}
		z->io->vote_send(z->io, z->cfg.m[i].sid, &v);
	}
}

static void update_proposal(struct zab *z, int64_t leader, zxid_t zxid,
			    int64_t epoch)
{
	z->prop.leader = leader;
	z->prop.zxid = zxid;
	z->prop.peer_epoch = epoch;
}

static void init_proposal(struct zab *z)
{
	if (i_vote(z))
		update_proposal(z, z->cfg.sid, z->logged, z->current_epoch);
	else
		update_proposal(z, INT64_MIN, INT64_MIN, INT64_MIN);
}

static void start_election(struct zab *z)
{
	z->lclock++;
	z->recv_mask = 0;
	z->outof_mask = 0;
	z->decide_at = 0;
	init_proposal(z);
	z->not_timeout = z->cfg.min_notify_ms;
	z->resend_at = z->now + z->not_timeout;
	send_notifications(z);
}

static void become_leader(struct zab *z);
static void become_learner(struct zab *z, int64_t leader);

static void decide(struct zab *z, const struct zab_vote *v)
{
	z->vote = *v;
	z->vote.state = ZS_LOOKING;
	z->decide_at = 0;
	if (v->leader == z->cfg.sid)
		become_leader(z);
	else
		become_learner(z, v->leader);
}

/* FastLeaderElection.checkLeader */
static bool check_leader(const struct zab *z, const struct zab_vote *set,
			 uint64_t mask, int64_t leader, int64_t eepoch)
{
	if (leader != z->cfg.sid) {
		int i = member(z, leader);
		return i >= 0 && (mask >> i & 1) &&
		       set[i].state == ZS_LEADING;
	}
	return z->lclock == eepoch;
}

static void check_term(struct zab *z)
{
	struct zab_vote pv = z->prop;
	pv.election_epoch = z->lclock;
	pv.state = ZS_LOOKING;
	if (quorum(z, votes_for(z, z->recv, z->recv_mask, &pv)))
		z->decide_at = z->now + z->cfg.finalize_wait_ms;
}

static void looking_recv(struct zab *z, int i, const struct zab_vote *n)
{
	if (n->state == ZS_LOOKING) {
		if (n->election_epoch > z->lclock) {
			z->lclock = n->election_epoch;
			z->recv_mask = 0;
			init_proposal(z);
			if (better(z, n->leader, n->zxid, n->peer_epoch,
				   z->prop.leader, z->prop.zxid,
				   z->prop.peer_epoch))
				update_proposal(z, n->leader, n->zxid,
						n->peer_epoch);
			send_notifications(z);
		} else if (n->election_epoch < z->lclock) {
			return;
		} else if (better(z, n->leader, n->zxid, n->peer_epoch,
				  z->prop.leader, z->prop.zxid,
				  z->prop.peer_epoch)) {
			update_proposal(z, n->leader, n->zxid, n->peer_epoch);
			send_notifications(z);
		} else if (better(z, z->prop.leader, z->prop.zxid,
				  z->prop.peer_epoch, n->leader, n->zxid,
				  n->peer_epoch)) {
			/* paddock: the sender proposes a worse leader than we
			 * do, most likely because our notification reached it
			 * while it was still following.  Tell it ours now;
			 * ZooKeeper waits for a notification timeout, which
			 * cost failovers 20-40 ms (finalizeWait's doubling) */
			struct zab_vote v = zab_current_vote(z);
			z->io->vote_send(z->io, z->cfg.m[i].sid, &v);
		}
		z->recv[i] = *n;
		z->recv_mask |= 1ull << i;
		check_term(z);
		return;
	}
	if (n->state == ZS_OBSERVING)
		return;
	/* FOLLOWING / LEADING */
	if (n->election_epoch == z->lclock) {
		struct zab_vote r = *n;
		r.state = ZS_LOOKING; /* recvset keeps Votes without state */
		z->recv[i] = r;
		z->recv_mask |= 1ull << i;
		if (quorum(z, votes_for(z, z->recv, z->recv_mask, n)) &&
		    check_leader(z, z->recv, z->recv_mask, n->leader,
				 n->election_epoch)) {
			decide(z, n);
			return;
		}
	}
	z->outof[i] = *n;
	z->outof_mask |= 1ull << i;
	if (quorum(z, votes_for(z, z->outof, z->outof_mask, n)) &&
	    check_leader(z, z->outof, z->outof_mask, n->leader,
			 n->election_epoch)) {
		z->lclock = n->election_epoch;
		decide(z, n);
	}
}

static enum zab_state my_state(const struct zab *z)
{
	switch (z->ph) {
	case PH_LOOKING:
		return ZS_LOOKING;
	case PH_LEAD_INFO:
	case PH_LEAD_EPOCH:
	case PH_LEAD_NEWLEADER:
	case PH_LEADING:
		return ZS_LEADING;
	default:
		return i_vote(z) ? ZS_FOLLOWING : ZS_OBSERVING;
	}
}

struct zab_vote zab_current_vote(const struct zab *z)
{
	struct zab_vote v = z->ph == PH_LOOKING ? z->prop : z->vote;
	if (z->ph == PH_LOOKING)
		v.election_epoch = z->lclock;
	v.state = my_state(z);
	return v;
}

void zab_vote_recv(struct zab *z, int64_t now, int64_t from,
		   const struct zab_vote *n)
{
	z->now = now;
	int i = member(z, from);
	if (i < 0 || i == z->self)
		return;
	if (z->ph != PH_LOOKING) {
		/* WorkerReceiver: tell a LOOKING peer what we follow */
		if (n->state == ZS_LOOKING) {
			struct zab_vote v = zab_current_vote(z);
			z->io->vote_send(z->io, from, &v);
		}
		return;
	}
	if (z->cfg.m[i].observer) {
		/* a non-voter only learns our vote */
		struct zab_vote v = zab_current_vote(z);
		z->io->vote_send(z->io, from, &v);
		return;
	}
	if (n->state == ZS_LOOKING && n->election_epoch < z->lclock) {
		struct zab_vote v = zab_current_vote(z);
		z->io->vote_send(z->io, from, &v);
	}
	z->resend_at = now + z->not_timeout;
	if (z->decide_at) {
		/* finalizeWait: only a better proposal interrupts it; others
		 * are consumed and restart the wait */
		if (!better(z, n->leader, n->zxid, n->peer_epoch,
			    z->prop.leader, z->prop.zxid, z->prop.peer_epoch)) {
			z->decide_at = now + z->cfg.finalize_wait_ms;
			return;
		}
		z->decide_at = 0;
	}
	looking_recv(z, i, n);
}

static void election_tick(struct zab *z)
{
	if (z->decide_at && z->now >= z->decide_at) {
		struct zab_vote v = z->prop;
		v.election_epoch = z->lclock;
		v.state = ZS_LOOKING;
		decide(z, &v);
		return;
	}
	if (z->now >= z->resend_at) {
		send_notifications(z);
		z->not_timeout *= 2;
		if (z->not_timeout > z->cfg.max_notify_ms)
			z->not_timeout = z->cfg.max_notify_ms;
		z->resend_at = z->now + z->not_timeout;
	}
}

/* --- leader -------------------------------------------------------- */

static void lead_set_role(struct zab *z)
{
	z->ph = PH_LEADING;
	z->counter = 0;
	/* QuorumPeer.updateElectionVote (ZOOKEEPER-1732): every member
	 * answers a newcomer with the same vote, in the new epoch */
	z->vote.peer_epoch = z->new_epoch;
	z->next_ping = z->now;
	set_role(z, ZR_LEADING, z->cfg.sid);
	for (int i = 0; i < z->cfg.n; i++) {
		if (z->lh[i].stage == LH_SYNCED && z->lh[i].nl_acked) {
			send_pkt(z, z->cfg.m[i].sid, ZP_UPTODATE, -1, NULL, 0);
			z->lh[i].stage = LH_UPTODATE;
		}
	}
}

static void try_establish(struct zab *z)
{
	if (z->ph != PH_LEAD_NEWLEADER)
		return;
	uint64_t acks = z->nl_mask;
	if (z->durable >= z->logged)
		acks |= 1ull << z->self;
	if (quorum(z, acks))
		lead_set_role(z);
}

/* LearnerHandler.syncFollower, then NEWLEADER.  The learner is brought to
 * the committed point C (what a leader has applied): DIFF when it is
 * there, TRUNC when it has more (uncommitted proposals are then sent
 * again, Leader.startForwarding), DIFF or TRUNC+DIFF when the window
 * reaches back to its last zxid, SNAP otherwise. */
static void sync_from(struct zab *z, int i, uint32_t from);

static void sync_learner(struct zab *z, int i)
{
	struct lh *l = &z->lh[i];
	int64_t sid = z->cfg.m[i].sid;
	zxid_t p = l->last, c = z->applied;
	uint32_t from;
	if (p == c) {
		send_pkt(z, sid, ZP_DIFF, c, NULL, 0);
		from = hist_after(z, c);
	} else if (p > c) {
		send_pkt(z, sid, ZP_TRUNC, c, NULL, 0);
		from = hist_after(z, c);
	} else if (z->hn && hat(z, 0)->zxid <= p) {
		from = hist_after(z, p);
		zxid_t prev = hat(z, from - 1)->zxid;
		if (prev != p)
			send_pkt(z, sid, ZP_TRUNC, prev, NULL, 0);
		else
			send_pkt(z, sid, ZP_DIFF, c, NULL, 0);
	} else {
		/* the rest once the state is on the link (zab_snap_sent) */
		l->snap_at = z->io->snap_send(z->io, sid);
		if (l->stage == LH_EPOCH) /* (the link may have failed) */
			l->stage = LH_SNAP;
		return;
	}
	sync_from(z, i, from);
}

/* The rest of a learner's sync, from window index `from`: the committed
 * proposals with their COMMITs, NEWLEADER, then the uncommitted ones.
 * After a SNAP this runs once the state is sent, so that the proposals
 * committed while a paddock leader walked its tree go before NEWLEADER,
 * as a ZooKeeper leader sends the ones committed while it serializes:
 * a ZooKeeper learner applies those without checking its digest (it
 * checks none before NEWLEADER), and after NEWLEADER it would check
 * them against a tree the fuzzy snapshot made ahead of them ("Digests
 * are not matching", once per transaction, until past the walk's end). */
static void sync_from(struct zab *z, int i, uint32_t from)
{
	struct lh *l = &z->lh[i];
	int64_t sid = z->cfg.m[i].sid;
	zxid_t c = z->applied;
	uint32_t k = from;
	for (; k < z->hn && hat(z, k)->zxid <= c; k++) {
		struct htx *t = hat(z, k);
		send_pkt(z, sid, ZP_PROPOSAL, t->zxid, t->data, t->len);
		send_pkt(z, sid, ZP_COMMIT, t->zxid, NULL, 0);
	}
	send_pkt(z, sid, ZP_NEWLEADER, zab_zxid((uint32_t)z->new_epoch, 0),
		 NULL, 0);
	/* The proposals not committed yet follow NEWLEADER (ZooKeeper's
	 * leader sends them before it).  ZooKeeper 3.8.0's Learner logs
	 * and forgets the proposals it holds at NEWLEADER, and then throws
	 * on a COMMIT for one of them (ZOOKEEPER-4394, fixed in 3.8.1),
	 * dropping the link; after NEWLEADER it keeps them, as any
	 * learner, until their COMMITs.  An observer gets them as INFORMs
	 * once committed. */
	for (; k < z->hn && !l->observer; k++) {
		struct htx *t = hat(z, k);
		send_pkt(z, sid, ZP_PROPOSAL, t->zxid, t->data, t->len);
	}
	l->stage = LH_SYNCED;
}

static void lead_epoch_quorum(struct zab *z)
{
	/* as a learner at NEWLEADER: currentEpoch only over a durable log
	 * (what this member logged as a follower may still be in flight) */
	if (z->durable < z->logged) {
		z->epoch_wait = true;
		return;
	}
	z->epoch_wait = false;
	z->current_epoch = (uint32_t)z->new_epoch;
	save_epochs(z);
	z->ph = PH_LEAD_NEWLEADER;
	z->phase_deadline = z->now + tick_ms(z, z->cfg.init_limit);
	for (int i = 0; i < z->cfg.n; i++)
		if (z->lh[i].stage == LH_EPOCH)
			sync_learner(z, i);
	try_establish(z);
}

static int32_t my_version(const struct zab *z)
{
	return z->cfg.cumulative ? ZAB_PADDOCK_VERSION : ZAB_PROTOCOL_VERSION;
}

/* The version says which framing the link uses: paddock's only if the
 * learner announced it too (l->cumulative). */
static void send_leaderinfo(struct zab *z, int i)
{
	send_int(z, z->cfg.m[i].sid, ZP_LEADERINFO,
		 zab_zxid((uint32_t)z->new_epoch, 0),
		 z->lh[i].cumulative ? ZAB_PADDOCK_VERSION
				     : ZAB_PROTOCOL_VERSION);
	z->lh[i].info_sent = true;
}

/* Leader.getEpochToPropose, counting member i's acceptedEpoch. */
static void lead_info(struct zab *z, int i, uint32_t accepted)
{
	if (z->ph != PH_LEAD_INFO) {
		send_leaderinfo(z, i);
		return;
	}
	if ((int64_t)accepted >= z->new_epoch)
		z->new_epoch = (int64_t)accepted + 1;
	if (!z->cfg.m[i].observer)
		z->info_mask |= 1ull << i;
	if (!quorum(z, z->info_mask))
		return;
	if (z->new_epoch > UINT32_MAX - 1) {
		go_looking(z); /* no epoch left: cannot lead */
		return;
	}
	z->accepted_epoch = (uint32_t)z->new_epoch;
	save_epochs(z);
	z->ph = PH_LEAD_EPOCH;
	z->phase_deadline = z->now + tick_ms(z, z->cfg.init_limit);
	z->epoch_mask = 1ull << z->self;
	for (int k = 0; k < z->cfg.n; k++)
		if (z->lh[k].stage == LH_INFO)
			send_leaderinfo(z, k);
	if (quorum(z, z->epoch_mask))
		lead_epoch_quorum(z); /* a one-voter ensemble */
}

static void become_leader(struct zab *z)
{
	z->ph = PH_LEAD_INFO;
	z->lead_sid = z->cfg.sid;
	z->phase_deadline = z->now + tick_ms(z, z->cfg.init_limit);
	z->ss_epoch = z->current_epoch;
	z->ss_zxid = z->logged;
	z->committed = z->applied;
	z->info_mask = 0;
	z->nl_mask = 0;
	z->new_epoch = -1;
	z->epoch_wait = false;
	memset(z->lh, 0, sizeof(z->lh));
	lead_info(z, z->self, z->accepted_epoch);
}

static void lead_drop(struct zab *z, int i)
{
	z->io->close(z->io, z->cfg.m[i].sid);
	memset(&z->lh[i], 0, sizeof(z->lh[i]));
	z->nl_mask &= ~(1ull << i);
}

static void broadcast_commit(struct zab *z, const struct htx *t)
{
	for (int i = 0; i < z->cfg.n; i++) {
		if (z->lh[i].stage < LH_SYNCED ||
		    (z->lh[i].cumulative && !z->lh[i].observer))
			continue; /* (one COMMIT per pass: try_commit) */
		int64_t sid = z->cfg.m[i].sid;
		if (z->lh[i].observer)
			send_pkt(z, sid, ZP_INFORM, t->zxid, t->data, t->len);
		else
			send_pkt(z, sid, ZP_COMMIT, t->zxid, NULL, 0);
	}
}

/* Leader.tryToCommit: in zxid order, each once a quorum acked. */
static void try_commit(struct zab *z)
{
	if (z->ph != PH_LEADING)
		return;
	zxid_t from = z->committed;
	for (uint32_t k = hist_after(z, z->committed); k < z->hn; k++) {
		struct htx *t = hat(z, k);
		uint64_t acks = t->acks;
		if (z->durable >= t->zxid)
			acks |= 1ull << z->self;
		for (int i = 0; i < z->cfg.n; i++)
			if (z->lh[i].cumulative && z->lh[i].acked >= t->zxid)
				acks |= 1ull << i;
		if (!quorum(z, acks))
			break;
		z->committed = t->zxid;
		broadcast_commit(z, t);
		z->io->apply(z->io, t->zxid, t->data, t->len);
		z->applied = t->zxid;
	}
	if (z->committed != from)
		for (int i = 0; i < z->cfg.n; i++)
			if (z->lh[i].cumulative && !z->lh[i].observer &&
			    z->lh[i].stage >= LH_SYNCED)
				send_pkt(z, z->cfg.m[i].sid, ZP_COMMIT,
					 z->committed, NULL, 0);
	hist_trim(z);
}

static void lead_ackepoch(struct zab *z, int i, const struct zab_pkt *p)
{
	struct lh *l = &z->lh[i];
	if (l->stage != LH_INFO || !l->info_sent || p->len < 4) {
		lead_drop(z, i);
		return;
	}
	l->cur_epoch = jr_int_at(p->data);
	l->last = p->zxid;
	l->stage = LH_EPOCH;
	if (l->cur_epoch != -1) {
		/* StateSummary.isMoreRecentThan: this learner saw more */
		if (l->cur_epoch > z->ss_epoch ||
		    (l->cur_epoch == z->ss_epoch && l->last > z->ss_zxid)) {
			go_looking(z);
			return;
		}
		if (!l->observer)
			z->epoch_mask |= 1ull << i;
	}
	if (z->ph == PH_LEAD_EPOCH) {
		if (quorum(z, z->epoch_mask) && !z->epoch_wait)
			lead_epoch_quorum(z);
	} else if (z->ph >= PH_LEAD_NEWLEADER) {
		sync_learner(z, i);
	}
}

/* The first multiple of f at or after x (x >= 0). */
static zxid_t multiple_from(zxid_t x, int64_t f)
{
	return x % f ? x - x % f + f : x;
}

/* Leader.processAck's ACK_LATENCY sample: member i's ACK covers the
 * transactions in (from, to]; io->ack_sampled for each one still
 * uncommitted whose zxid is a multiple of cfg.ack_log_freq.  Steps from
 * multiple to multiple, and over the zxids the window does not hold
 * (an epoch's start is 2^32 past the last one's end: stepping through
 * that gap was millions of lookups for a new leader's first ACKs). */
static void sample_acks(struct zab *z, int i, zxid_t from, zxid_t to)
{
	int64_t f = z->cfg.ack_log_freq;
	if (!z->io->ack_sampled || f <= 0 || z->ph != PH_LEADING)
		return;
	if (from < z->committed)
		from = z->committed;
	if (from < 0)
		from = 0;
	zxid_t m = multiple_from(from + 1, f);
	while (m <= to) {
		uint32_t k = hist_after(z, m - 1);
		if (k >= z->hn)
			break;
		const struct htx *t = hat(z, k);
		if (t->zxid != m) {
			m = multiple_from(t->zxid, f); /* t->zxid > m */
			continue;
		}
		z->io->ack_sampled(z->io, z->cfg.m[i].sid, m, t->data, t->len);
		m += f;
	}
}

static void lead_ack(struct zab *z, int i, zxid_t zxid)
{
	struct lh *l = &z->lh[i];
	if (l->stage >= LH_SYNCED && (zxid & 0xffffffff) == 0) {
		/* NEWLEADER's ack (or the one after UPTODATE) */
		if (zxid != zab_zxid((uint32_t)z->new_epoch, 0) || l->nl_acked)
			return;
		l->nl_acked = true;
		if (z->ph == PH_LEADING) {
			send_pkt(z, z->cfg.m[i].sid, ZP_UPTODATE, -1, NULL, 0);
			l->stage = LH_UPTODATE;
		} else {
			if (!l->observer)
				z->nl_mask |= 1ull << i;
			try_establish(z);
		}
		return;
	}
	if (l->observer || zxid <= z->committed)
		return;
	if (l->cumulative) {
		if (zxid > l->acked && zxid <= z->logged) {
			sample_acks(z, i, l->acked, zxid);
			l->acked = zxid;
			try_commit(z);
		}
		return;
	}
	uint32_t k = hist_after(z, zxid - 1);
	if (k < z->hn && hat(z, k)->zxid == zxid) {
		sample_acks(z, i, zxid - 1, zxid);
		hat(z, k)->acks |= 1ull << i;
		try_commit(z);
	}
}

static void lead_recv(struct zab *z, int i, const struct zab_pkt *p)
{
	struct lh *l = &z->lh[i];
	l->heard = z->now;
	switch (p->type) {
	case ZP_FOLLOWERINFO:
	case ZP_OBSERVERINFO: {
		/* a (re)connecting learner: a fresh handler */
		if (l->stage != LH_NONE)
			z->nl_mask &= ~(1ull << i);
		memset(l, 0, sizeof(*l));
		l->heard = z->now;
		l->observer = p->type == ZP_OBSERVERINFO;
		if (l->observer != z->cfg.m[i].observer) {
			lead_drop(z, i);
			return;
		}
		l->stage = LH_INFO;
		/* LearnerInfo's protocolVersion (LearnerHandler: >= 12 bytes) */
		l->cumulative = z->cfg.cumulative && p->len >= 12 &&
				jr_int_at(p->data + 8) == ZAB_PADDOCK_VERSION;
		lead_info(z, i, zab_epoch(p->zxid));
		return;
	}
	case ZP_ACKEPOCH:
		lead_ackepoch(z, i, p);
		return;
	case ZP_ACK:
		if (l->stage >= LH_SYNCED)
			lead_ack(z, i, p->zxid);
		return;
	case ZP_PING:
		return; /* session touches: the io's business (later) */
	case ZP_REQUEST:
		if (l->stage == LH_UPTODATE)
			z->io->request(z->io, z->cfg.m[i].sid, p->data, p->len);
		return;
	default:
		lead_drop(z, i);
	}
}

static void lead_tick(struct zab *z)
{
	if (z->ph != PH_LEADING) {
		if (z->now >= z->phase_deadline)
			go_looking(z); /* no quorum in initLimit */
		return;
	}
	if (z->now < z->next_ping)
		return;
	z->next_ping = z->now + z->cfg.tick_ms / 2;
	uint64_t synced = 1ull << z->self;
	int64_t limit = z->now - tick_ms(z, z->cfg.sync_limit);
	int64_t init = z->now - tick_ms(z, z->cfg.init_limit);
	for (int i = 0; i < z->cfg.n; i++) {
		struct lh *l = &z->lh[i];
		if (l->stage == LH_NONE)
			continue;
		/* a learner still syncing has initLimit, and gets no PING: a
		 * ZooKeeper learner's syncWithLeader exits on one */
		bool up = l->stage == LH_UPTODATE;
		if (l->heard < (up ? limit : init)) {
			lead_drop(z, i);
			continue;
		}
		if (up)
			send_pkt(z, z->cfg.m[i].sid, ZP_PING, z->logged, NULL,
				 0);
		if (l->stage >= LH_SNAP) /* (ZooKeeper: alive, in time) */
			synced |= 1ull << i;
	}
	if (!quorum(z, synced))
		go_looking(z); /* "Not sufficient followers synced" */
}

void zab_snap_sent(struct zab *z, int64_t now, int64_t to)
{
	z->now = now;
	int i = member(z, to);
	if (i < 0 || z->lh[i].stage != LH_SNAP)
		return;
	sync_from(z, i, hist_after(z, z->lh[i].snap_at));
}

int zab_propose(struct zab *z, int64_t now, const void *p, size_t len,
		zxid_t *zxid)
{
	z->now = now;
	if (z->ph != PH_LEADING)
		return -1;
	uint32_t max = z->cfg.max_counter ? z->cfg.max_counter : 0xffffffff;
	if (z->counter >= max) {
		go_looking(z); /* XidRolloverException: a new epoch */
		return -1;
	}
	zxid_t zx = zab_zxid(z->current_epoch, z->counter + 1);
	if (!hist_push(z, zx, p, len))
		return -1;
	z->counter++;
	z->logged = zx;
	z->io->log_append(z->io, zx, p, len);
	for (int i = 0; i < z->cfg.n; i++)
		if (z->lh[i].stage >= LH_SYNCED && !z->lh[i].observer)
			send_pkt(z, z->cfg.m[i].sid, ZP_PROPOSAL, zx, p,
				 (uint32_t)len);
	*zxid = zx;
	try_commit(z); /* a one-voter ensemble */
	return 0;
}

/* --- learner ------------------------------------------------------- */

static void become_learner(struct zab *z, int64_t leader)
{
	z->ph = PH_LEARN_CONNECT;
	z->lead_sid = leader;
	z->heard = z->now;
	z->connect_at = 0;
	z->nl_got = false;
	z->nl_pending = false;
	z->io->connect(z->io, leader);
}

static void learner_fail(struct zab *z)
{
	go_looking(z);
}

static void send_info(struct zab *z)
{
	/* LearnerInfo: long serverid, int protocolVersion, long
	 * configVersion */
	uint8_t b[20];
	jw_put_int_at(b, (int32_t)((uint64_t)z->cfg.sid >> 32));
	jw_put_int_at(b + 4, (int32_t)z->cfg.sid);
	jw_put_int_at(b + 8, my_version(z));
	memset(b + 12, 0, 8);
	send_pkt(z, z->lead_sid, i_vote(z) ? ZP_FOLLOWERINFO : ZP_OBSERVERINFO,
		 zab_zxid(z->accepted_epoch, 0), b, sizeof(b));
	z->ph = PH_LEARN_INFO;
}

/* Learner: log one transaction from the leader. */
static bool learn_log(struct zab *z, const struct zab_pkt *p)
{
	if (p->zxid <= z->logged || !hist_push(z, p->zxid, p->data, p->len))
		return false;
	z->logged = p->zxid;
	z->io->log_append(z->io, p->zxid, p->data, p->len);
	return true;
}

/* Learner: a COMMIT (of the next logged transaction, or cumulative). */
static bool learn_commit(struct zab *z, zxid_t zxid)
{
	if (z->lead_cumulative && zxid <= z->applied)
		return true; /* an older cumulative COMMIT: nothing new */
	/* the next logged transaction (Follower: "Committing X, but next is
	 * Y"), or with cumulative COMMITs any logged one: all up to it */
	uint32_t k = hist_after(z, z->lead_cumulative ? zxid - 1 : z->applied);
	if (k >= z->hn || hat(z, k)->zxid != zxid)
		return false;
	apply_upto(z, zxid);
	return true;
}

/* io->acked for each transaction of the window in (from, to]. */
static void report_acks(struct zab *z, zxid_t from, zxid_t to)
{
	if (!z->io->acked)
		return;
	for (uint32_t k = hist_after(z, from); k < z->hn; k++) {
		const struct htx *t = hat(z, k);
		if (t->zxid > to)
			break;
		z->io->acked(z->io, t->zxid, t->data, t->len);
	}
}

static void learn_ack_durable(struct zab *z)
{
	if (z->nl_pending && z->durable >= z->logged) {
		/* currentEpoch only once the history it vouches for is on
		 * disk: a crash in between would otherwise leave a member
		 * claiming the new epoch over a shorter log, and win an
		 * election against one holding committed transactions
		 * (tests/sim seed 1847) */
		z->nl_pending = false;
		z->current_epoch = zab_epoch(z->nl_zxid);
		save_epochs(z);
		send_pkt(z, z->lead_sid, ZP_ACK, z->nl_zxid, NULL, 0);
	}
	if (!i_vote(z))
		return;
	zxid_t was = z->acked;
	if (!z->nl_got || z->nl_pending) {
		/* nothing before NEWLEADER's ACK, which follows currentEpoch
		 * on disk: so whatever this member logged past currentEpoch
		 * (a sync cut short) was never ACKed, and a restart may drop
		 * it (ens_start) */
	} else if (z->lead_cumulative) {
		/* one ACK for every proposal now durable */
		uint32_t k = hist_after(z, z->durable);
		if (k == 0)
			return;
		zxid_t top = hat(z, k - 1)->zxid;
		if (top > z->acked && top > z->applied)
			send_pkt(z, z->lead_sid, ZP_ACK, top, NULL, 0);
		if (top > z->acked)
			z->acked = top;
	} else {
		/*
		 * SendAckRequestProcessor: one ACK per durable proposal,
		 * from NEWLEADER's own ACK on (a ZooKeeper leader takes the
		 * first ACK it reads for that one), for every proposal not
		 * committed by NEWLEADER -- committed since or not: a
		 * ZooKeeper leader's LearnerHandler.SyncLimitCheck waits for
		 * the ACK of the oldest proposal it tracks, and drops a
		 * learner that never sends it ("transaction timeout") once
		 * syncLimit has passed.
		 */
		for (uint32_t k = hist_after(z, z->acked); k < z->hn; k++) {
			struct htx *t = hat(z, k);
			if (t->zxid > z->durable)
				break;
			if (t->zxid > z->ack_floor)
				send_pkt(z, z->lead_sid, ZP_ACK, t->zxid, NULL,
					 0);
			z->acked = t->zxid;
		}
	}
	if (z->ph == PH_LEARN_SERVING)
		report_acks(z, was, z->acked);
}

static void learn_leaderinfo(struct zab *z, const struct zab_pkt *p)
{
	uint32_t e = zab_epoch(p->zxid);
	int32_t cur;
	z->lead_cumulative = z->cfg.cumulative && p->len >= 4 &&
			     jr_int_at(p->data) == ZAB_PADDOCK_VERSION;
	if (e > z->accepted_epoch) {
		cur = (int32_t)z->current_epoch;
		z->accepted_epoch = e;
		save_epochs(z);
	} else if (e == z->accepted_epoch) {
		cur = -1;
	} else {
		learner_fail(z); /* "Leaders epoch is less than accepted" */
		return;
	}
	send_int(z, z->lead_sid, ZP_ACKEPOCH, z->logged, cur);
	z->ph = PH_LEARN_SYNC;
}

static void learn_sync_start(struct zab *z, const struct zab_pkt *p)
{
	switch (p->type) {
	case ZP_DIFF:
		break;
	case ZP_TRUNC:
		if (z->io->log_truncate(z->io, p->zxid)) {
			if (z->io->reset(z->io) == 0) {
				hist_clear(z);
				z->logged = z->durable = z->applied = 0;
			}
			learner_fail(z); /* sync again (from nothing: SNAP) */
			return;
		}
		hist_cut_after(z, p->zxid);
		z->logged = z->applied = p->zxid;
		if (z->durable > p->zxid)
			z->durable = p->zxid;
		break;
	case ZP_SNAP:
		/* the io installed the snapshot durably before this */
		hist_clear(z);
		z->logged = z->durable = z->applied = p->zxid;
		break;
	}
	z->acked = z->logged;
}

static void learn_recv(struct zab *z, const struct zab_pkt *p)
{
	z->heard = z->now;
	if (z->ph == PH_LEARN_INFO) {
		if (p->type != ZP_LEADERINFO)
			learner_fail(z);
		else
			learn_leaderinfo(z, p);
		return;
	}
	switch (p->type) {
	case ZP_DIFF:
	case ZP_TRUNC:
	case ZP_SNAP:
		if (z->ph != PH_LEARN_SYNC)
			break;
		learn_sync_start(z, p);
		return;
	case ZP_PROPOSAL:
		if (!i_vote(z) && z->ph == PH_LEARN_SERVING)
			break;
		if (!learn_log(z, p))
			break;
		return;
	case ZP_COMMIT:
		if (!learn_commit(z, p->zxid))
			break;
		return;
	case ZP_INFORM:
		if (i_vote(z) || !learn_log(z, p))
			break;
		apply_upto(z, p->zxid);
		return;
	case ZP_NEWLEADER:
		if (z->ph != PH_LEARN_SYNC)
			break;
		z->nl_zxid = p->zxid;
		z->nl_got = true;
		z->nl_pending = true;
		z->ack_floor = z->applied; /* the DIFF's commits */
		learn_ack_durable(z);
		return;
	case ZP_UPTODATE:
		if (z->ph != PH_LEARN_SYNC || !z->nl_got || z->nl_pending)
			break;
		z->ph = PH_LEARN_SERVING;
		send_pkt(z, z->lead_sid, ZP_ACK, z->nl_zxid, NULL, 0);
		z->vote.peer_epoch = zab_epoch(z->nl_zxid); /* as the leader */
		set_role(z, i_vote(z) ? ZR_FOLLOWING : ZR_OBSERVING,
			 z->lead_sid);
		return;
	case ZP_PING:
		send_pkt(z, z->lead_sid, ZP_PING, p->zxid, NULL, 0);
		return;
	case ZP_SYNC:
		return; /* client syncs: the io's business (later) */
	default:
		break;
	}
	learner_fail(z); /* a packet out of place */
}

static void learn_tick(struct zab *z)
{
	int limit = z->ph == PH_LEARN_SERVING ? z->cfg.sync_limit
					       : z->cfg.init_limit;
	if (z->now - z->heard >= tick_ms(z, limit)) {
		learner_fail(z);
		return;
	}
	if (z->ph == PH_LEARN_CONNECT && z->connect_at &&
	    z->now >= z->connect_at) {
		z->connect_at = 0;
		z->io->connect(z->io, z->lead_sid);
	}
}

/* --- inputs -------------------------------------------------------- */

void zab_recv(struct zab *z, int64_t now, int64_t from,
	      const struct zab_pkt *p)
{
	z->now = now;
	int i = member(z, from);
	if (i < 0 || i == z->self)
		return;
	if (z->ph >= PH_LEAD_INFO && z->ph <= PH_LEADING) {
		lead_recv(z, i, p);
	} else if (z->ph >= PH_LEARN_INFO && from == z->lead_sid) {
		learn_recv(z, p);
	} else if (p->type == ZP_FOLLOWERINFO || p->type == ZP_OBSERVERINFO) {
		z->io->close(z->io, from); /* not leading */
	}
}

void zab_link_up(struct zab *z, int64_t now, int64_t peer)
{
	z->now = now;
	if (z->ph == PH_LEARN_CONNECT && peer == z->lead_sid)
		send_info(z);
	else
		z->io->close(z->io, peer);
}

void zab_link_down(struct zab *z, int64_t now, int64_t peer)
{
	z->now = now;
	int i = member(z, peer);
	if (i < 0)
		return;
	if (z->ph >= PH_LEAD_INFO && z->ph <= PH_LEADING) {
		if (z->lh[i].stage != LH_NONE) {
			memset(&z->lh[i], 0, sizeof(z->lh[i]));
			z->nl_mask &= ~(1ull << i);
		}
	} else if ((z->ph == PH_LEARN_CONNECT || z->ph == PH_LEARN_INFO) &&
		   peer == z->lead_sid) {
		/* refused, or closed before LEADERINFO (the leader we chose
		 * is still finishing its election): dial again, as
		 * Learner.connectToLeader retries, until initLimit runs out
		 * (going back to election here could leave a 2-of-3 quorum
		 * split between a leader waiting in discovery and a learner
		 * that cannot count it alone) */
		z->ph = PH_LEARN_CONNECT;
		z->connect_at = now + z->cfg.connect_retry_ms;
	} else if (z->ph > PH_LEARN_CONNECT && peer == z->lead_sid) {
		learner_fail(z);
	}
}

void zab_durable(struct zab *z, int64_t now, zxid_t zxid)
{
	z->now = now;
	if (zxid > z->logged)
		zxid = z->logged; /* a completion from before a TRUNC */
	if (zxid <= z->durable)
		return;
	zxid_t was = z->durable;
	z->durable = zxid;
	if (z->ph == PH_LEADING) {
		report_acks(z, was, zxid); /* AckRequestProcessor */
		sample_acks(z, z->self, was, zxid); /* its processAck */
		try_commit(z);
	} else if (z->ph == PH_LEAD_NEWLEADER) {
		try_establish(z);
	} else if (z->ph == PH_LEAD_EPOCH && z->epoch_wait) {
		lead_epoch_quorum(z);
	} else if (z->ph == PH_LEARN_SYNC || z->ph == PH_LEARN_SERVING) {
		learn_ack_durable(z);
	}
}

void zab_tick(struct zab *z, int64_t now)
{
	z->now = now;
	if (z->ph == PH_LOOKING)
		election_tick(z);
	else if (z->ph <= PH_LEADING)
		lead_tick(z);
	else
		learn_tick(z);
}

int64_t zab_deadline(const struct zab *z)
{
	switch (z->ph) {
	case PH_LOOKING:
		return z->decide_at && z->decide_at < z->resend_at
			       ? z->decide_at
			       : z->resend_at;
	case PH_LEADING:
		return z->next_ping;
	case PH_LEAD_INFO:
	case PH_LEAD_EPOCH:
	case PH_LEAD_NEWLEADER:
		return z->phase_deadline;
	default: {
		int limit = z->ph == PH_LEARN_SERVING ? z->cfg.sync_limit
						       : z->cfg.init_limit;
		int64_t d = z->heard + tick_ms(z, limit);
		if (z->connect_at && z->connect_at < d)
			d = z->connect_at;
		return d;
	}
	}
}

/* --- life ---------------------------------------------------------- */

struct zab *zab_create(const struct zab_config *cfg, struct zab_io *io,
		       const struct zab_disk *disk)
{
	if (cfg->n <= 0 || cfg->n > ZAB_MAX_MEMBERS || cfg->tick_ms <= 0)
		return NULL;
	struct zab *z = calloc(1, sizeof(*z));
	if (!z)
		return NULL;
	z->cfg = *cfg;
	z->io = io;
	z->self = member(z, cfg->sid);
	for (int i = 0; i < cfg->n; i++) {
		if (!cfg->m[i].observer) {
			z->voters |= 1ull << i;
			z->nvoters++;
		}
	}
	if (z->self < 0 || !z->nvoters) {
		free(z);
		return NULL;
	}
	if (!z->cfg.hist_max)
		z->cfg.hist_max = 500; /* ZKDatabase.commitLogCount */
	z->accepted_epoch = disk->accepted_epoch;
	z->current_epoch = disk->current_epoch;
	z->logged = z->durable = z->applied = disk->last_zxid;
	z->acked = disk->last_zxid;
	return z;
}

void zab_destroy(struct zab *z)
{
	if (!z)
		return;
	hist_clear(z);
	free(z->hcur);
	free(z->hspare);
	free(z->h);
	free(z);
}

void zab_load(struct zab *z, zxid_t zxid, const void *p, size_t len)
{
	if (z->hn && zxid <= hat(z, z->hn - 1)->zxid)
		return;
	if (hist_push(z, zxid, p, len))
		hist_trim(z);
}

void zab_start(struct zab *z, int64_t now)
{
	z->now = now;
	z->ph = PH_LOOKING;
	z->role = ZR_LOOKING;
	start_election(z);
}

enum zab_role zab_role(const struct zab *z)
{
	return z->role;
}

int64_t zab_leader(const struct zab *z)
{
	return z->role == ZR_LOOKING ? 0 : z->lead_sid;
}

uint32_t zab_accepted_epoch(const struct zab *z)
{
	return z->accepted_epoch;
}

uint32_t zab_current_epoch(const struct zab *z)
{
	return z->current_epoch;
}

zxid_t zab_last_logged(const struct zab *z)
{
	return z->logged;
}

zxid_t zab_last_applied(const struct zab *z)
{
	return z->applied;
}

int zab_learners(const struct zab *z, int *synced_followers,
		 int *synced_observers)
{
	int n = 0, f = 0, o = 0;
	if (z->ph >= PH_LEAD_INFO && z->ph <= PH_LEADING) {
		for (int i = 0; i < z->cfg.n; i++) {
			n += z->lh[i].stage != LH_NONE;
			if (z->lh[i].stage == LH_UPTODATE)
				*(z->lh[i].observer ? &o : &f) += 1;
		}
	}
	if (synced_followers)
		*synced_followers = f;
	if (synced_observers)
		*synced_observers = o;
	return n;
}
