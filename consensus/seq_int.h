/*
 * seq_int.h — the sequencer's private state, shared by sequencer.c
 * (threads, rings, sessions, the pending queue), prep.c (validation
 * against the tree plus outstanding changes) and txn.c (the transaction
 * record: encode for the log, apply to the tree, replay at recovery).
 */
#ifndef PADDOCK_SEQ_INT_H
#define PADDOCK_SEQ_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "consensus/consensus.h"
#include "log/log.h"
#include "tree/jute.h"

struct rte_ring;
struct pollfd;
struct ens;

/* zconn_ref.worker of a request a learner forwarded to this leader
 * (zconn_ref.slot is the learner's sid): answers go to ens_remote_out. */
#define ENS_REMOTE 0xffff

struct zsession {
	int64_t id;
	int32_t timeout;
	uint8_t passwd[ZK_PASSWD_LEN];
	int64_t deadline; /* monotonic ms */
	bool attached;
	bool closing;     /* a closeSession is pending */
	bool local;       /* made by a read-only member: not in the
			     ensemble, dropped when it rejoins */
	int npending;     /* its requests in the pending queue */
	int ov_owned;     /* outstanding-change records of nodes it owns
			     (prep_close_session looks for them only if
			     there are any) */
	struct zconn_ref conn;
	struct zsession *next;
};

struct wside {
	struct rte_ring *in;  /* worker -> seq */
	struct rte_ring *out; /* seq -> worker */
	int efd;
	_Atomic int sleeping;
	_Atomic int watching; /* zab_watching */
	struct zmsg_list q; /* for `out`, waiting for room in it */
	char pad[64];
};

/* One change of a transaction, as validated by prep and applied later. */
enum step_kind { ST_CREATE = 1, ST_DELETE, ST_SETDATA, ST_SETACL, ST_CHECK };

struct step {
	int op;              /* request opcode, for the result record */
	enum step_kind kind;
	const char *path;    /* final path, not NUL-terminated: points into
				the owning request or record, or at `own` */
	char *own;           /* what path points into when the step owns it
				(a sequential create's path, a reaper's
				request); freed with the step */
	size_t len;
	const char *data;    /* points into the owning request or record */
	int32_t data_len;    /* -1: null */
	struct zacl *acl;    /* owned */
	int64_t owner;
	int32_t version;     /* setData: the new version; setACL: aversion;
				create: the parent's count of creates with
				this one (CreateTxn.parentCVersion); check:
				the node's version + 1 (CheckVersionTxn) */
	int err;             /* prep's verdict (multi) */
	bool has_dcrc;       /* create, setData: prep's CRC of the new */
	uint32_t dcrc;       /* node's path and data (tree_digest_hint) */
};

/* What applying one step changed besides the tree (txn_apply_step fills
 * it, seq_apply_step acts on it): the watch events to send, in order,
 * and the change in the count of ephemeral nodes.
 *   create   ZEV_CREATED on the path, ZEV_CHILD_CHANGED on its parent
 *   delete   ZEV_DELETED on the path (acl: the deleted node's),
 *            ZEV_CHILD_CHANGED on its parent
 *   setData  ZEV_DATA_CHANGED on the path
 *   setACL, check, or a step that failed: nothing
 * Paths point into the step's path (the parent's is its prefix): valid
 * while the step is.  The deleted node's ACL is the old version's, which
 * stays readable until the sequencer thread's next RCU quiescent state
 * (tree nodes are freed with call_rcu). */
struct txn_effects {
	int ephemerals; /* +1 created an ephemeral, -1 deleted one, else 0 */
	int n;          /* events in ev */
	struct txn_event {
		int type;         /* ZEV_* */
		const char *path; /* not NUL-terminated */
		size_t len;
		const struct zacl *acl; /* ZEV_DELETED: the node's, else NULL */
	} ev[2];
};

/* Outstanding changes (ZooKeeper's outstandingChanges): the state a path
 * will have once the pending transactions are applied. */
struct ov_rec {
	struct ov_rec *older, *newer;
	zxid_t zxid;
	bool exists;
	struct zstat stat;
	struct zacl *acl; /* referenced */
	uint32_t dcrc;	  /* while digests are kept: as struct pend's */
	int64_t digest;
};

struct ov_path {
	struct ov_path *hnext; /* bucket chain, or the recycled list */
	struct ov_rec *top;
	uint64_t hash; /* zk_path_hash(path, len) */
	size_t len;
	char path[];
};
#define OVP_POOL_LEN 47 /* ov_path blocks for paths up to this are recycled */

/* What prep_get returns.  While the tree keeps its digest, also the
 * node's digest in this state (0 if it does not exist) and the CRC of
 * its path and data (zk_digest_start).  prep_put takes the new state in
 * the same form: `digest` still the old digest, `dcrc` the new CRC when
 * the data changed. */
struct pend {
	bool exists;
	struct zstat stat;
	const struct zacl *acl;
	uint32_t dcrc;
	int64_t digest;
};

enum ptxn_kind {
	PT_REQUEST = 1, /* a client's write (or failed write) */
	PT_SESSION_NEW,
	PT_SESSION_CLOSE, /* closeSession request or expiry */
	PT_REAP,          /* container/TTL deletion */
	PT_READ,          /* sync, getEphemerals, errors: answered in
			     order */
};

/* A transaction between prep and apply (waiting for durability). */
struct ptxn {
	struct ptxn *next;
	enum ptxn_kind kind;
	zxid_t zxid;
	int64_t time;
	struct zmsg *req;     /* owned; steps' data point into it */
	struct step *st;
	int n;
	int failed;           /* index of the failing op, or -1 */
	int err;              /* single request's error */
	int64_t session;
	int32_t xid;          /* txn_decode: the header's cxid */
	int32_t op;           /* txn_decode: ZOP_MULTI for a multi */
	int32_t timeout;      /* txn_decode: PT_SESSION_NEW's */
	struct zsession *sess; /* PT_SESSION_NEW */
	bool kill;            /* PT_SESSION_CLOSE from expiry */
	struct zconn_ref conn;
	/* overlay records this transaction pushed (inline for small ones) */
	struct ov_path **ovp;
	struct ov_rec **ovr;
	int nov, capov;
	struct ov_path *ovp_in[4];
	struct ov_rec *ovr_in[4];
	struct step one; /* st of a single-op request */
	/* TxnDigest: the tree digest once this transaction is applied
	 * (prep's prediction on the leader, the record's on a learner) */
	bool has_digest;
	uint64_t digest;
	uint64_t digest0; /* s->pdigest before this one was prepared */
	struct paths *closing; /* PT_SESSION_CLOSE: the ephemerals it
				  deletes, as prep_close_session found them */
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
	struct zab_ask *_Atomic query; /* zab_seq_sessions' question */
	bool membarrier;     /* registered: see zab_watching */
	zxid_t zxid;         /* last assigned */
	zxid_t applied;      /* last applied to the tree */
	int64_t next_session;
	int64_t replayed; /* transactions replayed by recovery */
	struct zsession **sess;
	size_t nbuckets;
	size_t nsess;
	int64_t next_expiry_scan;
	/* The sequencer's inputs of time and chance (seq_clock, seq_rand):
	 * the clocks are read once per pass of its loop, and nothing it
	 * runs (sessions, ensemble, timers) reads one itself. */
	int64_t now;     /* CLOCK_MONOTONIC, ms */
	int64_t wall_ms; /* CLOCK_REALTIME, ms: txn times (ctime/mtime) */
	uint64_t rng;    /* xorshift64* state, seeded at start */
	int64_t next_container_scan;
	struct zab_stats stats;
	struct jw reply;     /* scratch reply body */
	struct jw rec;       /* scratch log record */
	/* outstanding changes */
	struct ov_path **ovb;
	size_t ovn, ovcount;
	struct ov_rec *ov_free; /* recycled records (linked by .older) */
	struct ov_path *ovp_free; /* recycled short ov_paths (by .hnext) */
	/* the tree digest once every prepared transaction is applied
	 * (PrepRequestProcessor's precalculated digest), while the tree
	 * keeps one */
	uint64_t pdigest;
	bool digest; /* the tree keeps its digest (digest.enabled) */
	struct ptxn *ptxn_free; /* recycled transactions (linked by .next) */
	/* recycled learners' requests (seq_remote_msg, linked by .next) */
	struct zmsg *remote_free;
	size_t nremote_free;
	/* pending transactions, in zxid order */
	struct ptxn *ph, *pt;
	size_t npending;
	/* RequestThrottler: connects and requests held while npending is
	 * at cfg.max_requests, in arrival order */
	struct zmsg_list parked;
	size_t nparked; /* parked.n, for other threads (atomic stores) */
	/* interned ACLs (ZooKeeper's ReferenceCountedACLCache): nodes with
	 * equal ACLs share one zacl */
	struct zacl *acl_cache[16];
	unsigned acl_next;
	/* prep.c acl_resolve: the last create's ACL bytes and result */
	uint8_t acl_raw[256];
	size_t acl_raw_len;
	struct zacl *acl_raw_acl;
	/* durability */
	struct zlog *log;
	/* zab_seq_summary_window's periods, for a log set after it */
	int64_t win_origin_ms, win_period_ms;
	/* ensemble (ensemble.c), NULL when standalone */
	struct ens *ens;
	zxid_t committed;  /* ensemble: last committed (what may apply) */
	zxid_t marked;     /* last zxid workers got a ZM_APPLIED for */
	_Atomic int mode;  /* enum zab_role or SEQ_MODE_READ_ONLY, for
			      four-letter words (zab_seq_mode) */
	_Atomic int64_t leader_sid; /* the leader followed or this one; -1
				       while looking or standalone */
	/* snapshots */
	int64_t since_snap;
	int64_t snap_at;
	pthread_t snap_thread;
	_Atomic int snap_running;
	int snap_cancel; /* atomic: zab_seq_stop abandons a snapshot */
	bool snap_joinable;
};

/* A message for a request a learner forwarded (ensemble.c): made and,
 * once applied, freed on the sequencer, so kept there for reuse (one
 * malloc and free per forwarded write less); zmsg_free is right for it
 * too. */
struct zmsg *seq_remote_msg(struct zab_seq *s, uint32_t len);

/* A zab_stats counter, written by the sequencer thread only: a relaxed
 * load and store, not a locked add (a full barrier per write, 3 % of an
 * ensemble's CPU under set load); readers (4lw) load it relaxed. */
/* A session id replayed from the log or applied from the leader.  Ids
 * are the creating member's server id << 56 | a counter started from the
 * clock (ZooKeeper's SessionTrackerImpl.initializeNextSessionId), so
 * only an id of this member's own moves its counter on (a restart whose
 * clock went back).  Another member's must not: it would pull this
 * member into that member's id space, where both then hand out the same
 * next ids (two clients on one session, or a createSession the leader
 * never commits: the client waits for its connect timeout). */
static inline void seq_session_seen(struct zab_seq *s, int64_t id)
{
	if ((uint64_t)id >> 56 == (uint64_t)s->next_session >> 56 &&
	    id >= s->next_session)
		s->next_session = id + 1;
}

static inline void stat_add(_Atomic int64_t *x, int64_t d)
{
	atomic_store_explicit(
		x, atomic_load_explicit(x, memory_order_relaxed) + d,
		memory_order_relaxed);
}

/* zacl_fixup's providers for the configured authProviders */
static inline unsigned zab_acl_providers(const struct zab_seq_config *c)
{
	return (c->x509 ? ZACL_X509 : 0) | (c->sasl ? ZACL_SASL : 0);
}

/* zab_seq.mode beyond enum zab_role's values: looking, and serving
 * read-only clients (readonlymode) */
#define SEQ_MODE_READ_ONLY 4

/* sequencer.c */
/* Read both clocks into s->now and s->wall_ms (once per pass). */
void seq_clock(struct zab_seq *s);
/* The next pseudo-random number (xorshift64*). */
uint64_t seq_rand(struct zab_seq *s);
/* Apply one step (txn_apply_step) and act on what it reports: count the
 * ephemerals (zab_stats.ephemerals), and if `events` send the watch
 * events to every worker that watches (ZM_EVENT) at once, before the
 * next step changes the tree (an event's ACL, except NodeDeleted's, is
 * its path's as the tree is now).  Sequencer thread, inside
 * tree_write_begin/end.  Returns txn_apply_step's result. */
int seq_apply_step(struct zab_seq *s, struct step *st, zxid_t zxid,
		   int64_t now, struct jw *out, bool events);
struct zsession *seq_sess_find(struct zab_seq *s, int64_t id);
struct zsession *seq_sess_add(struct zab_seq *s, int64_t id, int32_t timeout,
			      const uint8_t *passwd);
void seq_sess_remove(struct zab_seq *s, struct zsession *z);

/* The sequencer's steps, for ensemble.c. */
void seq_handle_request(struct zab_seq *s, struct zmsg *m);
void seq_apply_one(struct zab_seq *s, struct ptxn *t);
void seq_drain(struct zab_seq *s);
void seq_kill_all(struct zab_seq *s);
void seq_expire_local(struct zab_seq *s, int64_t now);
void seq_sessions_touch_all(struct zab_seq *s);
void seq_remote_session(struct zab_seq *s, int64_t id, int32_t timeout);
/* Answer a reconnect to the existing session rep->session (its password
 * checked): attach it to rep's connection (closing any other it has) if
 * `valid` and it is still open here, else refuse it (session 0: the
 * client sees it expired). */
void seq_connect_finish(struct zab_seq *s, struct zmsg *rep, bool valid);
void seq_answer_sync(struct zab_seq *s, struct zmsg *m);

/* ensemble.c (design note there) */
struct ens *ens_new(struct zab_seq *s, const struct zab_ens_config *c);
void ens_recovered(struct zab_seq *s, zxid_t zxid, const void *p,
		   size_t len);
int ens_start(struct zab_seq *s, char *err, size_t err_len);
void ens_free(struct zab_seq *s);
int ens_pollfds(struct zab_seq *s, struct pollfd *fds, int max);
void ens_run(struct zab_seq *s, const struct pollfd *fds, int nfds);
int64_t ens_deadline(const struct zab_seq *s);
bool ens_leading(const struct zab_seq *s);
bool ens_serving(const struct zab_seq *s);
/* Cut off from the quorum, serving read-only clients (readonlymode). */
bool ens_read_only(const struct zab_seq *s);
int ens_propose(struct zab_seq *s, struct ptxn *t);
bool ens_forward(struct zab_seq *s, struct zmsg *m);
/* Learner: ask the leader whether session rep->session (whose password
 * checked out here) is alive (REVALIDATE, Learner.validateSession);
 * the answer comes to seq_connect_finish.  false: not following, or
 * the link failed (the caller decides alone). */
bool ens_revalidate(struct zab_seq *s, struct zmsg *rep);
bool ens_forward_connect(struct zab_seq *s, struct zmsg *rep, int64_t id,
			 int32_t timeout);
void ens_touch(struct zab_seq *s, int64_t id);
void ens_remote_out(struct zab_seq *s, struct zmsg *m);

/* prep.c: validation of one op of a request against tree + overlay.
 * Pushes overlay records onto `t`.  Returns ZOK or the error. */
int prep_one(struct zab_seq *s, struct ptxn *t, const struct zauth_id *ids,
	     int nids, int op, struct jr *r, struct step *st);
/* Drop t's overlay records: commit (they are the oldest of their paths)
 * or rollback (the newest). */
void prep_release(struct zab_seq *s, struct ptxn *t);
/* closeSession: find the ephemerals it deletes (t->closing) and push
 * their deletions.  ZOK or ZSYSTEMERROR. */
int prep_close_session(struct zab_seq *s, struct ptxn *t);
void prep_free_all(struct zab_seq *s);
/* Free t's steps (st may be t->one). */
void ptxn_steps_free(struct ptxn *t);
/* After t is applied: count and log a tree digest other than the one t
 * carries (a learner: the leader's; the leader: its prediction). */
void seq_digest_check(struct zab_seq *s, const struct ptxn *t);
/* Return an ACL equal to `a` that other nodes already share (consuming
 * the caller's reference to `a`), or `a` itself, now remembered. */
struct zacl *prep_acl_intern(struct zab_seq *s, struct zacl *a);

/* Background walks of the tree (the snapshot thread, a SNAP being
 * serialized): their threads' nice value. */
#define SNAP_NICE 10

/* txn.c */
/* A growable list of path copies (the writer collects paths from tree
 * callbacks before it changes the tree). */
struct paths {
	char **p;
	size_t *l;
	int n, cap;
};
void paths_add(struct paths *x, const char *path, size_t len);
void paths_free(struct paths *x);
void step_free(struct step *st);
/* Apply one step to `tree` at zxid (`now`: a create's ctime/mtime, a
 * setData's mtime); append its result record to `out` if not NULL.
 * Sends nothing: *fx (caller's, required) gets the events and ephemeral
 * count change, empty unless the step returns ZOK (seq_apply_step acts
 * on it).  Returns ZOK or the tree's error.  The sequencer
 * thread (the tree's only writer), inside tree_write_begin/end; fx
 * points into `st` and the tree as struct txn_effects says. */
int txn_apply_step(struct tree *tree, struct step *st, zxid_t zxid, int64_t now,
		   struct jw *out, struct txn_effects *fx);
/* Delete every ephemeral of `session` (closeSession), through
 * seq_apply_step(events). */
void txn_close_session(struct zab_seq *s, int64_t session, zxid_t zxid,
		       bool events);
/* Encode t as its record, ZooKeeper 3.8's txn (TxnHeader + record, no
 * TxnDigest), into s->rec (s->rec.err on ENOMEM). */
void txn_encode(struct zab_seq *s, const struct ptxn *t);
/* The transaction a record holds: kind, session, zxid, time, xid, and
 * the steps prep would have made (ACLs owned, paths and data pointing
 * into p, which must outlive t's use); free with ptxn_steps_free.
 * ZMARSHALLINGERROR for a record that does not decode. */
int txn_decode(struct zab_seq *s, const void *p, size_t len, struct ptxn *t);
/* Recovery: apply one log record to the tree and session table. */
int txn_replay(struct zab_seq *s, zxid_t zxid, const void *p, size_t len);
/* A session's password, as ZooKeeper derives it from the id
 * (ZooKeeperServer.generatePasswd: java.util.Random seeded with
 * id ^ superSecret), so that any member of an ensemble can check it. */
void zk_session_passwd(int64_t id, uint8_t out[ZK_PASSWD_LEN]);
/* Sessions as the snapshot's blob, and back. */
void txn_sessions_encode(struct zab_seq *s, struct jw *out);
int txn_sessions_decode(struct zab_seq *s, const void *p, size_t len);

#endif
