/*
 * consensus.h — the sequencer: the one thread that orders and applies
 * writes, owns sessions and is the only writer of the znode tree.
 *
 * Workers talk to it through two single-producer/single-consumer rte_rings
 * per worker (one each way) carrying struct zmsg pointers.  A consumer that
 * finds its ring empty sleeps on an eventfd; a producer writes that
 * eventfd only when the consumer said it was going to sleep, so a busy
 * system makes no wake-up syscalls.
 *
 * Standalone mode: a write is validated against the tree (ZooKeeper's
 * PrepRequestProcessor rules), given the next zxid, applied to the tree
 * (FinalRequestProcessor/DataTree rules), and answered.  Every applied
 * change is also broadcast to every worker as watch events, followed by
 * one ZM_APPLIED marker per batch, so that a worker can deliver the events
 * up to zxid Z before it answers a read that shows data at zxid Z
 * (ARCHITECTURE.md guarantee 3).  ZAB replication and the durable log will
 * sit between "validated" and "applied".
 */
#ifndef PADDOCK_CONSENSUS_H
#define PADDOCK_CONSENSUS_H

#include <stdatomic.h>
#include <stdint.h>

#include "tree/tree.h"

#define ZAB_MAX_WORKERS 64
#define ZK_PASSWD_LEN 16

enum zmsg_type {
	/* worker -> sequencer */
	ZM_CONNECT = 1, /* session, timeout, zxid = lastZxidSeen,
			   op = 1 if the client accepts a read-only server,
			   body = passwd (16 bytes) */
	ZM_REQUEST,     /* xid, op, session; body = auth ids
			   (auth_len bytes) then the request record */
	ZM_TOUCH,       /* body = int64_t session ids */
	ZM_DETACH,      /* the connection of `session` closed */
	ZM_DUMP,        /* four-letter word "dump": answered as a ZM_REPLY
			   with op ZAB_OP_DUMP and the text as body */
	/* sequencer -> worker */
	ZM_CONNECTED,   /* session (0 = refused/expired), timeout,
			   body = passwd, op = 1: a read-only session (a
			   member cut off from its quorum, readonlymode);
			   err ZAB_UNDECODABLE: close without
			   an answer (not serving, or the client has seen a
			   newer zxid) */
	ZM_REPLY,       /* xid, zxid, err; body = reply record; op as sent;
			   err ZAB_UNDECODABLE: close without a reply */
	ZM_EVENT,       /* zxid, err = event type, body = path (and ACL,
			   zab_event_acl) */
	ZM_APPLIED,     /* zxid: every event up to here has been sent */
	ZM_KILL,        /* close connection conn/gen (session expired,
			   moved or closed) */
};

/* ZM_REPLY.op of the "dump" answer (no ZooKeeper opcode is negative
 * beyond -11). */
#define ZAB_OP_DUMP (-1000)

/* ZM_REPLY.err for a request whose record cannot be decoded: ZooKeeper
 * closes such a connection without an answer (unlike a decodable but
 * wrong one, e.g. a multi holding a read op: MARSHALLINGERROR). */
#define ZAB_UNDECODABLE (-1000)

/* Addressing of a client connection: worker index, slot, generation. */
struct zconn_ref {
	uint16_t worker;
	uint32_t slot;
	uint32_t gen;
};

struct zmsg {
	struct zmsg *next; /* link in a struct zmsg_list (owner's use) */
	uint16_t type;
	struct zconn_ref conn;
	int32_t xid;
	int32_t op;
	int32_t err;
	int32_t timeout;
	int64_t session;
	int64_t zxid;
	int64_t t0; /* worker's receive time (us), echoed in the reply */
	uint32_t auth_len;
	uint32_t req_len; /* ZM_REQUEST: the worker's flow-control charge,
			     echoed in the reply */
	uint32_t len;
	uint32_t cap; /* body bytes allocated (>= len) */
	uint8_t body[];
};

/* ZM_EVENT: body is the path, then (auth_len bytes, 0 if none) the ACL
 * a session needs READ in to be told, as ZooKeeper 3.8 checks it before
 * delivering (NIOServerCnxn.process(event, znodeAcl)).  The ACL for
 * zacl_check (caller zacl_unref's it), or NULL when everyone may be
 * told. */
struct zacl *zab_event_acl(const struct zmsg *m);
static inline uint32_t zab_event_path_len(const struct zmsg *m)
{
	return m->len - m->auth_len;
}

/* Allocate a message with room for `len` body bytes (zeroed header);
 * NULL on ENOMEM.  Ownership passes with zab_post()/zab_post_list(). */
struct zmsg *zmsg_new(uint16_t type, uint32_t len);
void zmsg_free(struct zmsg *m);

/* A FIFO of messages linked through zmsg.next: what a producer could not
 * put in a full ring yet.  Adding never allocates, so it never fails. */
struct zmsg_list {
	struct zmsg *head, *tail;
	unsigned n;
};

static inline void zmsg_list_add(struct zmsg_list *l, struct zmsg *m)
{
	m->next = NULL;
	if (l->tail)
		l->tail->next = m;
	else
		l->head = m;
	l->tail = m;
	l->n++;
}

static inline struct zmsg *zmsg_list_pop(struct zmsg_list *l)
{
	struct zmsg *m = l->head;
	if (m) {
		l->head = m->next;
		if (!l->head)
			l->tail = NULL;
		l->n--;
	}
	return m;
}

/* Ensemble membership (zoo.cfg server.N lines, myid). */
struct zab_ens_member {
	int64_t sid;
	char host[256];
	int quorum_port;
	int election_port;
	bool observer;
};

struct zab_ens_config {
	int64_t myid;
	int n;                   /* members, self included, <= 32 */
	struct zab_ens_member m[32];
	int init_limit;          /* ticks */
	int sync_limit;          /* ticks */
	int finalize_wait_ms;    /* FastLeaderElection finalizeWait (ms) */
	int commit_log_count;    /* committed txns kept for DIFF (100000) */
	size_t peer_queue;       /* bytes of unwritten packets per peer link
				    before it is closed (0: 64 MiB) */
	bool cumulative_acks;    /* announce paddock's cumulative ACK/COMMIT
				    (zab_int.h ZAB_PADDOCK_VERSION) */
	bool read_only;          /* readonlymode.enabled: serve read-only
				    clients while cut off from the quorum */
	bool digest;             /* digest.enabled: keep ZooKeeper's tree
				    digest (tree_digest_start), send it in
				    proposals (TxnDigest) and compare it
				    after applying each one */
	const char *qv;          /* membership as /zookeeper/config shows it
				    ("server.1=...\nversion=0"), copied */
};

struct zab_seq_config {
	struct tree *tree;
	/* NULL: standalone.  Else this member of an ensemble replicates with
	 * ZAB (consensus/ensemble.c); copied. */
	const struct zab_ens_config *ensemble;
	int n_workers;
	int tick_time;           /* ms */
	int min_session_timeout; /* ms */
	int max_session_timeout; /* ms */
	int64_t server_id;       /* top byte of session ids */
	int container_interval_ms; /* ContainerManager period, def 60000 */
	const char *snap_dir;    /* dataDir (NULL: no snapshots) */
	const char *log_dir;     /* dataLogDir */
	int64_t snap_count;      /* snapCount, default 100000 */
	int snap_retain_count;   /* autopurge.snapRetainCount */
	int64_t purge_interval_ms; /* autopurge.purgeInterval, 0 = off */
	/* RequestThrottler: at most this many requests between prep and
	 * apply (zookeeper.request_throttle_max_requests, 0 = no limit);
	 * the rest wait, in arrival order, and are re-checked at least
	 * every stall_ms (request_throttle_stall_time, default 100). */
	int max_requests;
	int stall_ms;
	unsigned ring_size; /* entries per ring, a power of two; 0 = 65536 */
	bool enforce_quota; /* enforceQuota: hard quota limits refuse */
	bool x509;             /* authProvider.x509: "x509" ACLs are valid */
	bool sasl;             /* SASLAuthenticationProvider: "sasl" ones */
	bool reconfig_enabled; /* reconfigEnabled: reconfig UNIMPLEMENTED,
				  else RECONFIGDISABLED */
	/* Ensemble: restart the whole process (main's exec of itself), for
	 * a learner whose log its leader truncates; never returns.  NULL:
	 * such a learner stays out of the ensemble. */
	void (*restart)(void);
};

/* Counters, read racily by four-letter words. */
enum zab_lat {
	ZAB_LAT_PROPOSAL,
	ZAB_LAT_ACK_CREATION,
	ZAB_LAT_QUORUM_ACK,
	ZAB_LAT_COMMIT_PROPAGATION,
	ZAB_LAT_PROPAGATION,
	ZAB_LAT_KINDS
};

#define ZAB_ACK_SIDS 32 /* ack_latency's keys: an ensemble's members */

struct zab_stats {
	_Atomic int64_t sessions;
	_Atomic int64_t ephemerals;
	_Atomic int64_t writes;
	_Atomic int64_t expired;
	_Atomic int64_t throttled; /* requests the RequestThrottler held */
	/* ensemble leader (mntr's leader-only keys) */
	_Atomic int64_t learners;        /* connected followers+observers */
	_Atomic int64_t synced_followers;
	_Atomic int64_t synced_observers;
	_Atomic int64_t pending_syncs;   /* learners' syncs not answered */
	/* transactions after which the tree digest differed from the one
	 * the proposal carried (or, on the leader, from its prediction) */
	_Atomic int64_t digest_mismatches;
	/* ServerMetrics' quorum counters: transactions this member proposed
	 * and committed while leading; PROPOSALs and COMMITs it received
	 * while learning; times it started looking; learners it synced by
	 * DIFF and by SNAP while leading */
	_Atomic int64_t proposals, commits;
	_Atomic int64_t learner_proposals, learner_commits;
	_Atomic int64_t lookings, diffs, snaps;
	_Atomic int64_t leading_since; /* monotonic ms, 0: not leading */
	/* PROPOSAL packet sizes while leading (last_/min_/max_proposal_
	 * size; min 0 until the first) */
	_Atomic int64_t prop_last, prop_min, prop_max;
	/* sessions revalidated: asked of the leader by this learner for a
	 * reconnecting client (connection_revalidate_count), answered by
	 * this leader to its learners (revalidate_count) */
	_Atomic int64_t conn_revalidates, revalidates;
	/* ZooKeeper's AvgMinMaxCounters (BASIC summaries, struct
	 * zk_basic: mntr's keys and Prometheus' windowed 0.5 quantile), in
	 * ms but for the count of transactions replayed: unavailable_time
	 * (LOOKING until serving again, election and sync),
	 * leader_unavailable_time (the same, ending in leading),
	 * snapshottime (a snapshot written), dbinittime (recovery at
	 * start), startup_snap_load_time, startup_txns_load_time,
	 * startup_txns_loaded.  Written by the sequencer (snapshot_ms by
	 * the snapshot thread), reset by zab_seq_stats_reset. */
	struct zk_basic unavailable_ms, leader_unavailable_ms, snapshot_ms,
		dbinit_ms, snap_load_ms, txns_load_ms, txns_loaded;
	/* ZooKeeper 3.8's ZAB latencies (ADVANCED AvgMinMaxPercentileCounters,
	 * Request.logLatency: this member's wall clock minus the TxnHeader
	 * time the leader gave the transaction, in ms, kept when >= 0; held
	 * in µs as the workers' histograms), one sample per transaction:
	 * proposal_latency (a follower receives the PROPOSAL,
	 * Follower.processPacket), proposal_ack_creation_latency (the
	 * leader's own ACK, AckRequestProcessor, or a follower's,
	 * SendAckRequestProcessor, once the transaction is durable; one per
	 * transaction also where one cumulative ACK covers several),
	 * quorum_ack_latency (the leader commits it, Leader.tryToCommit),
	 * commit_propagation_latency (a follower's COMMIT,
	 * FollowerZooKeeperServer.commit, an observer's INFORM) and
	 * propagation_latency (any member applies it while serving,
	 * FinalRequestProcessor.applyRequest).  Written by the sequencer
	 * only (ensemble.c), reset by zab_seq_stats_reset. */
	struct zk_hist lat[ZAB_LAT_KINDS];
	/* The leader's ack_latency SummarySet (ADVANCED
	 * AvgMinMaxPercentileCounterSet keyed by the acking server's sid,
	 * Leader.processAck): for a zxid that is a multiple of
	 * ackLoggingFrequency (1000) and not yet committed, each voter's
	 * ACK of it (its own included), Request.logLatency as above.
	 * ack_sid[i] is the sid whose samples ack_lat[i] holds, 0 for an
	 * unused slot; a slot, once taken, stays (as ZooKeeper's set keeps
	 * a key through a reset).  Written by the sequencer only
	 * (ensemble.c), reset by zab_seq_stats_reset. */
	_Atomic int64_t ack_sid[ZAB_ACK_SIDS];
	struct zk_hist ack_lat[ZAB_ACK_SIDS];
	/* srst came while a snapshot was being written: its thread, the
	 * writer of snapshot_ms, resets it before adding; read it as
	 * empty meanwhile */
	_Atomic int snapshot_reset;
};

struct zab_seq;

/* Create the sequencer and its rings; NULL with errno on failure.  The
 * tree stays owned by the caller and must outlive the sequencer. */
struct zab_seq *zab_seq_create(const struct zab_seq_config *cfg);
/* Before zab_seq_start: load the newest valid snapshot of snap_dir into
 * the tree (created empty by tree_create) and replay log_dir after it,
 * truncating a torn tail.  Sessions come back with a full timeout.  0 or
 * a negative zk_err with a message in err. */
int zab_seq_recover(struct zab_seq *s, char *err, size_t err_len);
/* Last zxid assigned (after recovery: the last one on disk). */
zxid_t zab_seq_last_zxid(const struct zab_seq *s);
/* Before zab_seq_start: every transaction goes through this log and is
 * applied and answered only once durable.  Without a log (unit tests),
 * transactions apply at once. */
struct zlog;
void zab_seq_set_log(struct zab_seq *s, struct zlog *log);

/* Start / stop (join) the sequencer thread.  0 or -errno. */
int zab_seq_start(struct zab_seq *s);
void zab_seq_stop(struct zab_seq *s);
void zab_seq_destroy(struct zab_seq *s);
const struct zab_stats *zab_seq_stats(const struct zab_seq *s);

/* Worker side (worker `w` only). */

/* Flow control (ARCHITECTURE.md, "back-pressure lives at the edge"):
 * neither side ever waits for room in a ring.  The sequencer keeps what
 * a worker's full ring cannot take in a per-worker list and retries; a
 * worker keeps what the sequencer's ring cannot take in its own list
 * (zab_post_list), stops taking new requests from its clients while that
 * list is not empty, and drains its inbound ring on every loop pass.
 * What waits in the sequencer's list for worker w is bounded by what w
 * was allowed to post (its clients' outstanding requests) plus the watch
 * events of changes, which the workers' outstanding limits bound too. */

/* Send up to n messages to the sequencer, in order; returns how many
 * went (ownership of those passes), fewer when the ring is full.  Never
 * waits.  One fence and at most one wake-up per call. */
unsigned zab_post(struct zab_seq *s, int w, struct zmsg **m, unsigned n);
/* Move as much of l as the ring takes, in order; true if l is now
 * empty. */
bool zab_post_list(struct zab_seq *s, int w, struct zmsg_list *l);
/* Dequeue up to n messages for worker w; returns the count.  The worker
 * owns (and frees) the messages. */
unsigned zab_poll(struct zab_seq *s, int w, struct zmsg **out, unsigned n);
/* eventfd the worker adds to its epoll set; readable when messages
 * arrived after zab_sleep_prepare() returned true. */
int zab_worker_fd(struct zab_seq *s, int w);
/* Announce that worker w is about to block; returns false if messages are
 * already waiting (then do not block).  Call zab_sleep_done after
 * waking. */
bool zab_sleep_prepare(struct zab_seq *s, int w);
void zab_sleep_done(struct zab_seq *s, int w);

/* Worker w says whether it holds (or is about to register) watches.
 * While it says no, the sequencer sends it no ZM_EVENT.  A worker must
 * say yes BEFORE the tree read that sets a watch: the call is a full
 * fence, and the sequencer fences between changing the tree and reading
 * this flag, so a change the read did not see always sends its event. */
void zab_watching(struct zab_seq *s, int w, bool on);

/* Any thread but the sequencer's (a worker passes its own question slot
 * and itself as own/self, as to zab_ask; others NULL): srst's part on
 * the sequencer's thread, which writes these counters, waited for.
 * `all`: ServerMetrics.resetAll, every counter and summary of zab_stats
 * (the gauges stay) and the log's (zlog_stats_reset); `proposals`: the
 * leader's proposal sizes (BufferStats.reset, read as -1 until the next
 * proposal).  With the sequencer stopped or not started, done on the
 * caller's thread. */
/* Before zab_seq_start: the periods of the Prometheus window (struct
 * zk_hist; zab_seq_create sets the Java client's 600 s in five periods
 * from its own start), the dataplane's, for the ZAB latency histograms
 * and the BASIC summaries' (zab_stats, the log's: zlog_summary_window,
 * now or at zab_seq_set_log); recovery's samples stay in the window. */
void zab_seq_summary_window(struct zab_seq *s, int64_t origin_ms,
			    int64_t period_ms);
struct zab_ask;
void zab_seq_stats_reset(struct zab_seq *s, bool all, bool proposals,
			 struct zab_ask *_Atomic *own, void *self);
/* Any thread: the log's counters (zeros without a log), for mntr. */
struct zlog_stats;
void zab_seq_log_stats(const struct zab_seq *s, struct zlog_stats *out);
/* Any thread: transactions validated but not yet durable/applied, and
 * requests the RequestThrottler is holding. */
int64_t zab_seq_outstanding(const struct zab_seq *s);
int64_t zab_seq_throttled_now(const struct zab_seq *s);

/* Any thread: "standalone", "leader", "follower", "observer" or
 * "read-only" (cut off, readonlymode), or NULL while an ensemble member
 * is not serving (electing, syncing). */
const char *zab_seq_mode(const struct zab_seq *s);

/*
 * A question one thread puts to another thread's loop, and waits for:
 * zab_ask puts q in *slot (one question at a time: askers take turns),
 * calls wake(wake_arg) and waits until the loop's zab_answer(slot,
 * owner) has run q->fn(owner, q->arg).  The AdminServer asks the workers
 * (dp_ask) and the sequencer (zab_seq_sessions) so, and a worker asks
 * the other workers (four-letter words).
 *
 * An asker that is itself a loop passes its own slot and owner as
 * `own`/`self`: while it waits it answers the questions put to it, so
 * two loops asking each other at once cannot deadlock.  (Otherwise own
 * is NULL.)  A loop that has stopped closes its slot (zab_ask_close):
 * zab_ask then returns false without waiting, and the caller, knowing
 * the loop's thread no longer touches its state, may read it itself.
 */
struct zab_ask {
	void (*fn)(void *owner, void *arg);
	void *arg;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
};
bool zab_ask(struct zab_ask *_Atomic *slot, struct zab_ask *q,
	     void (*wake)(void *wake_arg), void *wake_arg,
	     struct zab_ask *_Atomic *own, void *self);
/* In the loop, once a pass: answer the waiting question if there is one. */
void zab_answer(struct zab_ask *_Atomic *slot, void *owner);
/* When the loop ends: answer what waits, then refuse later questions. */
void zab_ask_close(struct zab_ask *_Atomic *slot, void *owner);

/* One global session, as zab_seq_sessions reports it. */
struct zab_session_info {
	int64_t id;
	int32_t timeout;    /* ms, negotiated */
	int64_t expires_ms; /* CLOCK_MONOTONIC ms, as zk_clock_ms gives */
};
/* Any thread but the sequencer's, while it runs: call fn for each
 * session on the sequencer's own thread (RCU-online there, so fn may read
 * the tree) and wait until it is done.  With the sequencer stopped or not
 * started, fn runs on the caller's thread. */
void zab_seq_sessions(struct zab_seq *s,
		      void (*fn)(void *arg, const struct zab_session_info *i),
		      void *arg);

/* Any thread: the id of the leader this member follows (or its own id
 * when it leads); -1 while it looks for one, and when standalone. */
int64_t zab_seq_leader_id(const struct zab_seq *s);
/* Any thread: the server id (myid; 0 when standalone). */
int64_t zab_seq_server_id(const struct zab_seq *s);

/* Any thread: negotiate a client's requested session timeout. */
int zab_negotiate_timeout(const struct zab_seq *s, int requested);

/* Serialise / parse the auth identities carried in ZM_REQUEST bodies.
 * zab_auth_parse fills up to max ids pointing into `p`; returns count or
 * -1 if malformed. */
struct jw;
void zab_auth_write(struct jw *w, const struct zauth_id *ids, int n);
int zab_auth_parse(const uint8_t *p, uint32_t len, struct zauth_id *ids,
		   char *strbuf, size_t strbuf_len, int max);

#endif
