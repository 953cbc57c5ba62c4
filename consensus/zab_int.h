/*
 * zab_int.h — the ZAB protocol core: a pure state machine.
 *
 * Apache ZooKeeper 3.8's own protocol (FastLeaderElection, Leader,
 * LearnerHandler, Learner, Follower, Observer), without sockets, disk,
 * clock or threads.  Everything arrives through calls (a peer's packet, an
 * election notification, a link coming up or going down, a disk write
 * becoming durable, the time) and everything leaves through a struct
 * zab_io table (send, connect, append to the log, truncate it, persist
 * the epochs, apply a committed transaction, ship a snapshot).  The real
 * server implements the table with sockets and the log; tests/sim
 * implements it in memory with a virtual clock and seeded faults.
 * (canonical/raft's raft_io.)
 *
 * Phases, as ZooKeeper runs them:
 *   election   each voter proposes the best (currentEpoch, lastZxid, sid)
 *              it has heard of, with a logical clock; a quorum agreeing
 *              on one proposal, and finalize_wait_ms without a better
 *              one, decides.  A member that is following or leading
 *              answers a LOOKING peer with the vote it followed.
 *   discovery  learners send FOLLOWERINFO / OBSERVERINFO (their
 *              acceptedEpoch); the leader picks newEpoch = max + 1 once a
 *              quorum (itself included) has spoken, sends LEADERINFO, and
 *              waits for a quorum of ACKEPOCHs (an ACKEPOCH carrying -1,
 *              from a voter that had already accepted newEpoch, does not
 *              count, as in Leader.waitForEpochAck).  A learner whose
 *              (currentEpoch, lastZxid) beats the leader's makes it
 *              abdicate.
 *   sync       per learner: DIFF (PROPOSAL+COMMIT pairs for what it
 *              lacks, PROPOSAL alone for outstanding proposals), TRUNC
 *              (to the leader's history) or SNAP (the io ships the
 *              state); then NEWLEADER.  A learner makes everything it
 *              received durable, then persists currentEpoch, then ACKs
 *              NEWLEADER; a quorum of
 *              those ACKs (the leader's own included) establishes the
 *              leader, and each acked learner gets UPTODATE.
 *   broadcast  PROPOSAL to followers in sync; each ACKs once the proposal
 *              is durable; the leader counts its own durable write like a
 *              follower's ACK and commits in zxid order once a quorum of
 *              voters has acked; COMMIT to followers, INFORM (with the
 *              transaction) to observers.
 *   liveness   the leader PINGs every learner every tick/2 and abdicates
 *              when fewer than a quorum were heard from within syncLimit
 *              ticks; a learner gives up on a leader silent for syncLimit
 *              ticks (initLimit while syncing).  Either goes back to
 *              election.
 *
 * The log is the state: like ZooKeeper (ZKDatabase.fastForwardDataBase,
 * loadDataBase), a member applies everything it has logged before it
 * votes, so lastZxid = applied = logged while LOOKING, and a learner told
 * to TRUNC has the io truncate its log and rebuild the state from what is
 * left.  The core keeps the recent transactions (committed and not) in a
 * window, for DIFF and for COMMIT of what a follower logged.
 *
 * zxid = epoch << 32 | counter.  A leader whose counter would wrap gives
 * up leadership so that the next one starts a new epoch.
 *
 * Thread: a struct zab is used by one thread at a time; io callbacks are
 * made from inside the zab_* call that caused them and must not call back
 * into the core.
 */
#ifndef PADDOCK_ZAB_INT_H
#define PADDOCK_ZAB_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tree/tree.h"

#define ZAB_MAX_MEMBERS 32

/* QuorumPacket types (Leader.java). */
enum zab_pkt_type {
	ZP_REQUEST = 1,
	ZP_PROPOSAL = 2,
	ZP_ACK = 3,
	ZP_COMMIT = 4,
	ZP_PING = 5,
	ZP_REVALIDATE = 6,
	ZP_SYNC = 7,
	ZP_INFORM = 8,
	ZP_COMMITANDACTIVATE = 9,
	ZP_NEWLEADER = 10,
	ZP_FOLLOWERINFO = 11,
	ZP_UPTODATE = 12,
	ZP_DIFF = 13,
	ZP_TRUNC = 14,
	ZP_SNAP = 15,
	ZP_OBSERVERINFO = 16,
	ZP_LEADERINFO = 17,
	ZP_ACKEPOCH = 18,
	ZP_INFORMANDACTIVATE = 19,
};

/* ServerState as FastLeaderElection puts it on the wire. */
enum zab_state {
	ZS_LOOKING = 0,
	ZS_FOLLOWING = 1,
	ZS_LEADING = 2,
	ZS_OBSERVING = 3,
};

/* Protocol version a 3.8 leader announces in LEADERINFO and a learner in
 * LearnerInfo (0x10000). */
#define ZAB_PROTOCOL_VERSION 0x10000
/* What a paddock member announces instead when cfg.cumulative is set (a
 * paddock leader only to a learner that announced it): a 3.8 peer only
 * asks "< 0x10000?" of either.  When both ends of a link
 * announce it, ACK(Z) and COMMIT(Z) are cumulative: a learner acks only
 * the newest proposal each time its log becomes durable (everything up
 * to Z is on its disk, as proposals are logged in order), and the leader
 * sends one COMMIT for everything a commit pass decided.  With a 3.8
 * peer on the other end the link keeps ZooKeeper's one ACK and one
 * COMMIT per zxid. */
#define ZAB_PADDOCK_VERSION 0x10100

static inline uint32_t zab_epoch(zxid_t z)
{
	return (uint32_t)((uint64_t)z >> 32);
}
static inline zxid_t zab_zxid(uint32_t epoch, uint32_t counter)
{
	return (zxid_t)(((uint64_t)epoch << 32) | counter);
}

/* One quorum-port packet.  data points into the caller's buffer for the
 * duration of the call. */
struct zab_pkt {
	int32_t type;
	zxid_t zxid;
	const uint8_t *data;
	uint32_t len;
};

/* One election notification (FastLeaderElection.Notification). */
struct zab_vote {
	int64_t leader;
	zxid_t zxid;
	int64_t election_epoch;
	int64_t peer_epoch;
	int32_t state; /* enum zab_state of the sender */
};

struct zab_member {
	int64_t sid;
	bool observer;
};

struct zab_config {
	int64_t sid;                 /* myid */
	int n;                       /* members, observers included */
	struct zab_member m[ZAB_MAX_MEMBERS];
	int tick_ms;                 /* tickTime */
	int init_limit;              /* initLimit, ticks */
	int sync_limit;              /* syncLimit, ticks */
	int finalize_wait_ms;        /* FLE finalizeWait (ZooKeeper: 200) */
	int min_notify_ms;           /* first notification timeout (200) */
	int max_notify_ms;           /* its cap (60000) */
	int connect_retry_ms;        /* learner: between connect attempts */
	uint32_t hist_max;           /* committed transactions kept for DIFF */
	uint32_t max_counter;        /* a leader gives up at this counter
					(0: 0xffffffff, as ZooKeeper) */
	bool cumulative;             /* announce ZAB_PADDOCK_VERSION */
	int ack_log_freq;            /* leader: io->ack_sampled for zxids
					that are a multiple of this
					(zookeeper.leader.
					ackLoggingFrequency, 1000 in
					ZooKeeper); <= 0: never */
};

/* What the io has on disk at start: the epoch files and the last
 * transaction in the log (which the io has already applied to the
 * state, as ZooKeeper's loadDataBase does). */
struct zab_disk {
	uint32_t accepted_epoch;
	uint32_t current_epoch;
	zxid_t last_zxid;
};

enum zab_role {
	ZR_LOOKING = 0,
	ZR_FOLLOWING,  /* in sync with a leader and serving */
	ZR_LEADING,    /* established and serving */
	ZR_OBSERVING,  /* in sync with a leader and serving */
};

struct zab_io {
	/* Election notification to a member; may be lost (QuorumCnxManager
	 * keeps one queued message per peer and drops older ones). */
	void (*vote_send)(struct zab_io *io, int64_t to,
			  const struct zab_vote *v);
	/* Learner: open the quorum link to `leader`; the result comes back
	 * as zab_link_up or zab_link_down. */
	void (*connect)(struct zab_io *io, int64_t leader);
	/* Send on the quorum link with `to`, in order; a packet on a link
	 * that is down is dropped (the core hears zab_link_down). */
	void (*send)(struct zab_io *io, int64_t to, const struct zab_pkt *p);
	/* Close the quorum link with `peer` (the other side hears
	 * zab_link_down). */
	void (*close)(struct zab_io *io, int64_t peer);
	/* Append a transaction to the log after every earlier one;
	 * zab_durable reports, in order, when it is on disk. */
	void (*log_append)(struct zab_io *io, zxid_t zxid, const void *p,
			   size_t len);
	/* Drop every transaction after `zxid` from the log (durably) and
	 * make the state what the log up to zxid builds.  0, or -1 when it
	 * cannot (zxid is older than the newest snapshot): the core then
	 * calls reset. */
	int (*log_truncate)(struct zab_io *io, zxid_t zxid);
	/* Empty state, log and snapshots (zxid 0), durably.  0, or -1 when
	 * it cannot (the core then leaves its state as it is and looks for
	 * a leader again). */
	int (*reset)(struct zab_io *io);
	/* Persist acceptedEpoch and currentEpoch (durable on return). */
	void (*epochs_save)(struct zab_io *io, uint32_t accepted,
			    uint32_t current);
	/* Apply a transaction to the state, in zxid order.  While the role
	 * is LOOKING this is the fast-forward of what is logged, not a
	 * commit. */
	void (*apply)(struct zab_io *io, zxid_t zxid, const void *p,
		      size_t len);
	/* Leader: send SNAP and then the state (as of the last applied
	 * zxid, which is what it returns) on the link with `to`, and call
	 * zab_snap_sent once the state is on the link: the core sends
	 * that learner nothing more until then (the proposals committed
	 * meanwhile then go before NEWLEADER, as a ZooKeeper leader sends
	 * them).  Learner: the io installs a received snapshot durably
	 * before it delivers the SNAP packet (zxid = the snapshot's). */
	zxid_t (*snap_send)(struct zab_io *io, int64_t to);
	/* Leader: a learner forwarded a client request (REQUEST body). */
	void (*request)(struct zab_io *io, int64_t from, const void *p,
			size_t len);
	/* The role changed (leader: the leader's sid, 0 while LOOKING). */
	void (*role)(struct zab_io *io, enum zab_role role, int64_t leader);
	/* Optional (NULL: not told).  This member's own ACK of a durable
	 * proposal while broadcasting, once per transaction, in zxid order,
	 * with its record (valid during the call): the leader's, counted
	 * before the commit it may complete (AckRequestProcessor), and a
	 * following voter's (SendAckRequestProcessor), also where one
	 * cumulative ACK covers several transactions. */
	void (*acked)(struct zab_io *io, zxid_t zxid, const void *p,
		      size_t len);
	/* Optional (NULL: not told).  Leader while broadcasting: voter
	 * `sid` (this member's own sid included) acked transaction `zxid`,
	 * a multiple of cfg.ack_log_freq, before it was committed
	 * (Leader.processAck's ACK_LATENCY sample), with its record (valid
	 * during the call).  Once per ACK packet and transaction: a
	 * cumulative ACK reports each such zxid it covers that is still
	 * uncommitted; the leader's own as it becomes durable, before the
	 * commit it may complete. */
	void (*ack_sampled)(struct zab_io *io, int64_t sid, zxid_t zxid,
			    const void *p, size_t len);
};

struct zab;

/* A core for member cfg->sid (which must be one of cfg->m).  NULL on
 * ENOMEM or a bad config.  The io table must outlive it. */
struct zab *zab_create(const struct zab_config *cfg, struct zab_io *io,
		       const struct zab_disk *disk);
void zab_destroy(struct zab *z);
/* Before zab_start: the log's newest transactions, oldest first, ending
 * with disk->last_zxid (those a leader can DIFF from). */
void zab_load(struct zab *z, zxid_t zxid, const void *p, size_t len);
/* Begin looking for a leader. */
void zab_start(struct zab *z, int64_t now_ms);

/* Inputs.  `now_ms` never goes backwards. */
void zab_vote_recv(struct zab *z, int64_t now_ms, int64_t from,
		   const struct zab_vote *v);
void zab_recv(struct zab *z, int64_t now_ms, int64_t from,
	      const struct zab_pkt *p);
void zab_link_up(struct zab *z, int64_t now_ms, int64_t peer);
void zab_link_down(struct zab *z, int64_t now_ms, int64_t peer);
/* Every transaction appended up to `zxid` is durable. */
void zab_durable(struct zab *z, int64_t now_ms, zxid_t zxid);
/* Leader: the state io->snap_send began for learner `to` is on the link
 * (not called when the link broke first). */
void zab_snap_sent(struct zab *z, int64_t now_ms, int64_t to);
/* Timers; call again no later than zab_deadline(). */
void zab_tick(struct zab *z, int64_t now_ms);
int64_t zab_deadline(const struct zab *z);

/* Leader, established: propose a transaction (copied).  0 with *zxid, or
 * -1 when this member is not an established leader, or when the zxid
 * counter is exhausted (the core then goes back to election). */
int zab_propose(struct zab *z, int64_t now_ms, const void *p, size_t len,
		zxid_t *zxid);

/* State, for mntr and tests. */
enum zab_role zab_role(const struct zab *z);
int64_t zab_leader(const struct zab *z);
uint32_t zab_accepted_epoch(const struct zab *z);
uint32_t zab_current_epoch(const struct zab *z);
zxid_t zab_last_logged(const struct zab *z);
zxid_t zab_last_applied(const struct zab *z);
/* Leader: learners connected; those in sync (UPTODATE sent), voters
 * and observers apart. */
int zab_learners(const struct zab *z, int *synced_followers,
		 int *synced_observers);
/* The vote this member holds (what it answers LOOKING peers with). */
struct zab_vote zab_current_vote(const struct zab *z);

#endif
