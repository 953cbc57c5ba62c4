/*
 * ensemble.c — a sequencer that is a member of a ZAB ensemble: the glue
 * between the sequencer (prep, apply, sessions), the pure protocol core
 * (zab.c) and the peer network (peer.c), all on the sequencer thread.
 *
 * The core's io table is implemented here:
 *   network   peer.c (ZooKeeper 3.8's election and quorum ports)
 *   log       the sequencer's zlog: a proposal is appended as the leader
 *             or a follower receives it; zlog_durable's progress becomes
 *             zab_durable
 *   epochs    dataDir/acceptedEpoch and dataDir/currentEpoch, decimal
 *             text as ZooKeeper writes them, replaced atomically
 *   apply     a commit: on the leader the sequencer's own pending
 *             transaction (prepared from the client's request) becomes
 *             ready and drain_pending applies it and answers; anything
 *             else (a follower's commits, what a member fast-forwards) is
 *             decoded from ZooKeeper's txn record (txn_decode) and applied
 *             the same way, answering the client when this member holds
 *             its request
 *
 * Requests on a follower or observer (ZooKeeper's FollowerRequestProcessor):
 * reads are served locally as always; writes, sync, createSession and
 * closeSession go to the leader in a REQUEST (session, cxid, type, the
 * request record, the connection's auth ids), and the client is answered
 * when the commit comes back (for sync, when the leader's SYNC does).
 * Sessions are global: created and closed by transactions, expired only
 * by the leader, kept alive by the session touches each learner sends in
 * its PING replies.  A member that is not serving (electing, syncing)
 * closes its client connections and refuses new ones, as ZooKeeper does.
 *
 * TRUNC truncates the log files and restarts the process (recovery then
 * rebuilds the state up to the leader's point); see truncate_and_restart.
 * SNAP is received into a tree of its own, written as this member's
 * snapshot, and the process restarts the same way (snap_install).
 * readonlymode.enabled: a member LOOKING for max(2000, tickTime) ms
 * serves clients that accept a read-only server (ConnectRequest.readOnly):
 * reads from its tree, NOTREADONLY for writes and sync, sessions of its
 * own (no transaction) that go when it rejoins, as ZooKeeper's
 * ReadOnlyZooKeeperServer.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "consensus/peer_int.h"
#include "consensus/peerwire_int.h"
#include "consensus/seq_int.h"
#include "consensus/zab_int.h"
#include "consensus/zkfmt_int.h"

#include <urcu-qsbr.h>

#define HIST_MAX 100000 /* default commitLogCount */

/* A client request this member sent to the leader, waiting for its
 * commit (FollowerRequestProcessor / CommitProcessor's pending queue). */
enum fwd_kind { FW_REQUEST = 1, FW_CONNECT, FW_SYNC, FW_REVALIDATE };

/* A request forwarded to the leader, waiting for its commit: in a FIFO
 * (the leader answers syncs in order; dropped all at once) and in a hash
 * by (kind, session, xid), since a follower looks up every commit it
 * applies and most are other members' (a list walk was 12 % of a
 * follower's CPU under set load). */
struct fwd {
	struct fwd *next, *prev; /* FIFO */
	struct fwd *hnext;       /* hash chain, oldest first */
	enum fwd_kind kind;
	int64_t session;
	int32_t xid;
	struct zmsg *m; /* the request, or the ZM_CONNECTED answer */
};
#define FWD_BUCKETS 4096 /* a power of two */

struct rec {
	zxid_t zxid;
	uint32_t len;
	uint8_t *p;
};

struct ens {
	struct zab_seq *s;
	struct zab_ens_config cfg;
	char qv[4096];
	struct zab *z;
	struct peer *peer;
	struct zab_io io;
	enum zab_role role;
	int64_t leader;
	zxid_t durable_seen;
	struct fwd *fh, *ft;
	struct fwd *fwd_hash[FWD_BUCKETS];
	/* follower: sessions touched since the last PING reply */
	int64_t *touched;
	size_t ntouched, captouched;
	/* recovery: the log's newest records, for zab_load */
	struct rec *recent;
	size_t nrecent, recent_head, hist_max;
	struct jw out; /* scratch: packets */
	struct jw auth; /* scratch: a forwarded request's authinfo */
	struct fwd *fwd_free; /* entries kept for reuse (via next) */
	size_t nfwd_free;
	/* readonlymode: when LOOKING began plus the wait, 0 = off */
	int64_t looking_since; /* ms: LOOKING since (unavailable_time) */
	int64_t ro_at;
	bool ro;
	/* acceptedEpoch, currentEpoch: open files and what they hold */
	int epoch_fd[2];
	uint32_t epoch_val[2];
	/* leader: SNAP streams being made (io_snap_send) */
	struct snap_job *snaps;
	/* learner: a SNAP being received, from snap_from */
	struct zk_snap_reader *snap;
	int64_t snap_from;
	struct tree *snap_tree;
	zxid_t snap_zxid;
	struct jw snap_sessions; /* the snapshot's session blob */
	int32_t snap_nsessions;
	struct zacl **snap_acl; /* by ACL cache id (1..) */
	int64_t *snap_acl_id;
	size_t snap_nacl, snap_capacl;
};

static struct ens *ens_of(struct zab_io *io)
{
	return (struct ens *)((char *)io - offsetof(struct ens, io));
}

/* ------------------------------------------------------------------ */
/* Epoch files (QuorumPeer.readLongFromFile / writeLongToFile)          */
/* ------------------------------------------------------------------ */
static int read_epoch(const char *dir, const char *name, int64_t *out)
{
	char path[PATH_MAX + 32], buf[64];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 1 : -errno;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EINVAL;
	buf[n] = 0;
	char *end;
	long long v = strtoll(buf, &end, 10);
	if (end == buf || v < 0 || v > UINT32_MAX)
		return -EINVAL;
	*out = v;
	return 0;
}

/* An epoch file holds the number padded to EPOCH_LEN bytes ("%-10u\n"),
 * so that a change is one pwrite inside the file and an fdatasync that
 * commits no metadata (0.2 ms here, where ZooKeeper's write-a-temporary-
 * and-rename costs a journal commit, 2-40 ms, four times on a failover's
 * critical path).  The file is made with the temporary-and-rename dance
 * at start-up; an 11-byte write within one sector is not torn.  read_epoch
 * reads the padded and the unpadded (ZooKeeper's) form alike. */
#define EPOCH_LEN 11

static int create_epoch(const char *dir, const char *name, const char *buf)
{
	char path[PATH_MAX + 32], tmp[PATH_MAX + 40];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	if (write(fd, buf, EPOCH_LEN) != EPOCH_LEN || fsync(fd) ||
	    rename(tmp, path)) {
		close(fd);
		return -1;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd)) {
		if (dfd >= 0)
			close(dfd);
		close(fd);
		return -1;
	}
	close(dfd);
	return fd; /* the renamed file, kept for the next change */
}

static int write_epoch(struct ens *e, int k, uint32_t v)
{
	static const char *const names[2] = {"acceptedEpoch", "currentEpoch"};
	char buf[EPOCH_LEN + 1];
	if (e->epoch_fd[k] >= 0 && e->epoch_val[k] == v)
		return 0;
	snprintf(buf, sizeof(buf), "%-10u\n", v);
	if (e->epoch_fd[k] < 0) {
		e->epoch_fd[k] = create_epoch(e->s->cfg.snap_dir, names[k],
					      buf);
		if (e->epoch_fd[k] < 0)
			return -1;
	} else if (pwrite(e->epoch_fd[k], buf, EPOCH_LEN, 0) != EPOCH_LEN ||
		   fdatasync(e->epoch_fd[k])) {
		return -1;
	}
	e->epoch_val[k] = v;
	return 0;
}

static void io_epochs_save(struct zab_io *io, uint32_t accepted,
			   uint32_t current)
{
	struct ens *e = ens_of(io);
	if (write_epoch(e, 0, accepted) || write_epoch(e, 1, current))
		fprintf(stderr, "paddockd: cannot write the epoch files in %s: "
				"%s\n", e->s->cfg.snap_dir, strerror(errno));
}

/* ------------------------------------------------------------------ */
/* Network                                                              */
/* ------------------------------------------------------------------ */
static void io_vote_send(struct zab_io *io, int64_t to,
			 const struct zab_vote *v)
{
	peer_vote_send(ens_of(io)->peer, to, v);
}

static void io_connect(struct zab_io *io, int64_t leader)
{
	peer_connect(ens_of(io)->peer, leader);
}

/* A learner's PING answer carries the sessions it saw alive
 * (Learner.ping: sessionId, timeout pairs). */
static void ping_reply(struct ens *e, int64_t to, const struct zab_pkt *p)
{
	struct zab_seq *s = e->s;
	e->out.len = 0;
	for (size_t i = 0; i < e->ntouched; i++) {
		struct zsession *z = seq_sess_find(s, e->touched[i]);
		if (z)
			pw_ping_put(&e->out, z->id, z->timeout);
	}
	e->ntouched = 0;
	struct qpkt q = pw_qpkt(ZP_PING, p->zxid);
	q.data = e->out.p ? e->out.p : (const uint8_t *)"";
	q.len = (int32_t)e->out.len;
	peer_send(e->peer, to, &q);
}

static void io_send(struct zab_io *io, int64_t to, const struct zab_pkt *p)
{
	struct ens *e = ens_of(io);
	if (p->type == ZP_PING && e->role != ZR_LEADING &&
	    zab_leader(e->z) != e->cfg.myid) {
		ping_reply(e, to, p);
		return;
	}
	struct qpkt q = pw_qpkt(p->type, p->zxid);
	q.data = p->data;
	q.len = p->data ? (int32_t)p->len : -1;
	struct zab_stats *st = &e->s->stats;
	if (p->type == ZP_DIFF) {
		stat_add(&st->diffs, 1);
	} else if (p->type == ZP_PROPOSAL) {
		int64_t n = (int64_t)p->len;
		atomic_store_explicit(&st->prop_last, n, memory_order_relaxed);
		int64_t mn = atomic_load_explicit(&st->prop_min,
						  memory_order_relaxed);
		if (!mn || n < mn)
			atomic_store_explicit(&st->prop_min, n,
					      memory_order_relaxed);
		if (n > atomic_load_explicit(&st->prop_max,
					     memory_order_relaxed))
			atomic_store_explicit(&st->prop_max, n,
					      memory_order_relaxed);
	}
	peer_send(e->peer, to, &q);
}

static void io_close(struct zab_io *io, int64_t peer)
{
	peer_close(ens_of(io)->peer, peer);
}

/* ------------------------------------------------------------------ */
/* ZAB latencies (struct zab_stats.lat)                                 */
/* ------------------------------------------------------------------ */
/* Request.logLatency: this pass's wall clock minus the record's
 * TxnHeader time (the leader's clock as it prepared the transaction), in
 * ms, into h; kept only when >= 0 (false: no sample); stored in µs as
 * the workers' histograms. */
static bool hist_add_age(struct zab_seq *s, struct zk_hist *h, const void *p,
			 size_t len)
{
	int64_t t;
	if (!zk_txn_time(p, len, &t) || s->wall_ms < t)
		return false;
	zk_hist_add(h, (s->wall_ms - t) * 1000, 1, s->now);
	return true;
}

static void lat_add(struct ens *e, enum zab_lat k, const void *p, size_t len)
{
	hist_add_age(e->s, &e->s->stats.lat[k], p, len);
}

/* The core's own ACK of a durable proposal (AckRequestProcessor on the
 * leader, SendAckRequestProcessor on a follower): one per transaction */
static void io_acked(struct zab_io *io, zxid_t zxid, const void *p, size_t len)
{
	lat_add(ens_of(io), ZAB_LAT_ACK_CREATION, p, len);
}

/* Leader.processAck's ACK_LATENCY sample (zab_io.ack_sampled): voter
 * sid's ACK of a zxid that is a multiple of ackLoggingFrequency, in the
 * histogram of its slot (the first with its sid, else the first free) */
static void io_ack_sampled(struct zab_io *io, int64_t sid, zxid_t zxid,
			   const void *p, size_t len)
{
	(void)zxid;
	struct zab_seq *s = ens_of(io)->s;
	struct zab_stats *st = &s->stats;
	for (int k = 0; k < ZAB_ACK_SIDS; k++) {
		int64_t v = atomic_load_explicit(&st->ack_sid[k],
						 memory_order_relaxed);
		if (v && v != sid)
			continue;
		/* a sample < 0 adds no key either (Request.logLatency);
		 * the sid after its first sample: a reader sees one */
		if (hist_add_age(s, &st->ack_lat[k], p, len) && !v)
			atomic_store_explicit(&st->ack_sid[k], sid,
					      memory_order_release);
		return;
	}
}

/* ------------------------------------------------------------------ */
/* Log                                                                  */
/* ------------------------------------------------------------------ */
static void io_log_append(struct zab_io *io, zxid_t zxid, const void *p,
			  size_t len)
{
	struct ens *e = ens_of(io);
	stat_add(e->role == ZR_LEADING ? &e->s->stats.proposals
				       : &e->s->stats.learner_proposals,
		 1);
	/* a following member's PROPOSAL (Follower.processPacket); while
	 * syncing the role is still LOOKING, as ZooKeeper's syncWithLeader
	 * counts none */
	if (e->role == ZR_FOLLOWING)
		lat_add(e, ZAB_LAT_PROPOSAL, p, len);
	if (!e->s->log)
		return;
	if (zlog_append(e->s->log, zxid, p, len))
		fprintf(stderr, "paddockd: log: cannot append 0x%" PRIx64
				": %s\n", (uint64_t)zxid,
			strerror(-zlog_error(e->s->log)));
	if (zxid > e->s->zxid)
		e->s->zxid = zxid;
}

/* TRUNC (and reset, to zxid 0), and ens_start's drop of what lies past
 * currentEpoch.  ZooKeeper truncates its log and reloads its database in
 * place (ZKDatabase.truncateLog); paddock truncates the files and
 * restarts the process, whose recovery rebuilds exactly the state up to
 * zxid (a syncing member has no clients).  Where the log cannot be cut
 * there (no snapshot kept before it), it empties the data: the leader
 * then sends its whole state (SNAP). */
static int truncate_and_restart(struct ens *e, zxid_t zxid)
{
	struct zab_seq *s = e->s;
	char err[1024];
	if (!s->cfg.restart)
		return -1;
	if (s->log) {
		zlog_close(s->log); /* flushed, its writer joined */
		s->log = NULL;
	}
	int rc = zlog_truncate(s->cfg.log_dir, s->cfg.snap_dir, zxid, err,
			       sizeof(err));
	if (rc) {
		fprintf(stderr, "paddockd: ensemble: %s\n", err);
		if (rc != ZBADARGUMENTS || zxid == 0 ||
		    zlog_truncate(s->cfg.log_dir, s->cfg.snap_dir, 0, err,
				  sizeof(err))) {
			/* a restart would find the same disk (ens_start's
			 * truncation: again and again) */
			fprintf(stderr, "paddockd: ensemble: cannot reset the "
					"data: %s; exiting\n", err);
			fflush(stderr);
			_exit(1);
		}
	}
	s->cfg.restart(); /* does not return */
	return -1;
}

static int io_log_truncate(struct zab_io *io, zxid_t zxid)
{
	fprintf(stderr, "paddockd: ensemble: the leader drops this member's "
			"transactions after 0x%" PRIx64 ": truncating the log "
			"and restarting to rebuild the state\n",
		(uint64_t)zxid);
	return truncate_and_restart(ens_of(io), zxid);
}

static int io_reset(struct zab_io *io)
{
	fprintf(stderr, "paddockd: ensemble: emptying the data and "
			"restarting (the leader then sends its whole state)\n");
	return truncate_and_restart(ens_of(io), 0);
}

/* ------------------------------------------------------------------ */
/* SNAP                                                                 */
/* ------------------------------------------------------------------ */
/* Leader (LearnerHandler.syncFollower's SNAP, then its
 * ZKDatabase.serializeSnapshot): the tree as ZooKeeper's snapshot stream
 * (sessions, the ACL cache, nodes parent first with StatPersisted, "/",
 * "BenWasHere").  As in ZooKeeper 3.8, writes go on while it is made:
 * the sequencer sends SNAP (zxid = applied), reserves the stream's place
 * on the link (peer_bulk_reserve: a PING or anything else that follows
 * queues behind it), writes the sessions, and a thread of its own walks
 * the live tree (a fuzzy snapshot, as log/snap.c makes; each node read
 * between two transactions), writes the ACLs it met and the nodes, and
 * wakes the sequencer, which hands the stream to the link
 * (peer_bulk_fill; dropped if the link went meanwhile) and tells the
 * core (zab_snap_sent), which sends the proposals after the SNAP's zxid
 * and NEWLEADER only then, as ZooKeeper's LearnerHandler queues
 * NEWLEADER after serializing.  The learner replays the transactions
 * after the SNAP's zxid over the fuzzy tree by the replay rules
 * (apply_record while syncing).  ACLs are
 * numbered by content, so a pointer freed and reused during the walk
 * cannot alias. */
struct snap_acls {
	struct zk_snap_writer sec; /* the ACL section's entries */
	struct zk_snap_writer one; /* scratch: one ACL's entry */
	struct snap_acl {
		uint64_t h;
		size_t off, len; /* its list in sec (after the id) */
	} *ent;
	size_t n, cap;
	uint32_t *slot; /* open addressing: ent index + 1, 0 = empty */
	size_t nslot;
};

struct snap_job {
	struct snap_job *next;
	struct tree *tree;
	int efd; /* the sequencer's, written when done */
	int64_t to;
	uint64_t ticket;
	zxid_t zxid;
	int64_t t0; /* us, for the log line */
	struct zk_snap_writer w;
	pthread_t th;
	_Atomic int cancel, done;
	int err; /* errno */
	int64_t nodes;
};

struct push_ctx {
	struct paths *stack;
	const char *parent;
	size_t plen;
};

static int push_child(const char *name, size_t len, void *arg)
{
	struct push_ctx *c = arg;
	char buf[4096];
	size_t n = c->plen > 1 ? c->plen : 0;
	if (n + 1 + len >= sizeof(buf))
		return 0; /* longer than any path the server accepts */
	memcpy(buf, c->parent, n);
	buf[n++] = '/';
	memcpy(buf + n, name, len);
	paths_add(c->stack, buf, n + len);
	return 0;
}

/* Depth first from "/", parents before children: fn(path, view, arg)
 * for each node; fn may replace the node (it is looked up again for its
 * children). */
static void tree_dfs(struct tree *t,
		     void (*fn)(const char *path, size_t len,
				const struct zview *v, void *arg),
		     void *arg)
{
	struct paths st = {0};
	paths_add(&st, "/", 1);
	while (st.n) {
		char *path = st.p[--st.n];
		size_t len = st.l[st.n];
		const struct znode *n = tree_lookup(t, path, len);
		if (n) {
			struct zview v;
			znode_view(n, &v);
			fn(path, len, &v, arg);
			n = tree_lookup(t, path, len);
			struct push_ctx c = {&st, path, len};
			if (n)
				znode_children(n, push_child, &c);
		}
		free(path);
	}
	paths_free(&st);
}

static bool acls_grow(struct snap_acls *t)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16;
		struct snap_acl *e = realloc(t->ent, cap * sizeof(*e));
		if (!e)
			return false;
		t->ent = e;
		t->cap = cap;
	}
	if (2 * (t->n + 1) > t->nslot) {
		size_t ns = t->nslot ? 2 * t->nslot : 64;
		uint32_t *sl = calloc(ns, sizeof(*sl));
		if (!sl)
			return false;
		for (size_t i = 0; i < t->n; i++) {
			size_t k = t->ent[i].h & (ns - 1);
			while (sl[k])
				k = (k + 1) & (ns - 1);
			sl[k] = (uint32_t)i + 1;
		}
		free(t->slot);
		t->slot = sl;
		t->nslot = ns;
	}
	return true;
}

/* The snapshot's id of ACL `a` (1, 2, ... in order of first use); -1 on
 * ENOMEM.  Found by the bytes of its encoding. */
static int64_t acls_id(struct snap_acls *t, const struct zacl *a)
{
	struct zk_acls za = {.n = a ? a->n : 0, .zacl = a};
	t->one.w.len = 0;
	zk_snap_put_acl(&t->one, 0, &za);
	if (t->one.w.err || !acls_grow(t))
		return -1;
	const uint8_t *b = t->one.w.p + 8; /* after the id */
	size_t len = t->one.w.len - 8;
	uint64_t h = zk_path_hash((const char *)b, len);
	size_t k = h & (t->nslot - 1);
	for (; t->slot[k]; k = (k + 1) & (t->nslot - 1)) {
		const struct snap_acl *e = &t->ent[t->slot[k] - 1];
		if (e->h == h && e->len == len &&
		    !memcmp(t->sec.w.p + e->off, b, len))
			return (int64_t)t->slot[k];
	}
	int64_t id = (int64_t)t->n + 1;
	t->ent[t->n] = (struct snap_acl){h, t->sec.w.len + 8, len};
	zk_snap_put_acl(&t->sec, id, &za);
	if (t->sec.w.err)
		return -1;
	t->slot[k] = (uint32_t)++t->n;
	return id;
}

static void put_node(struct zk_snap_writer *w, const char *path,
		     size_t len, const struct zstat *st, const char *data,
		     int32_t dlen, int64_t acl)
{
	struct zk_snap_node n = {0};
	bool root = len == 1;
	n.path = (struct zk_buf){root ? "" : path, root ? 0 : (int32_t)len};
	n.data = (struct zk_buf){data, dlen};
	n.acl = acl;
	n.stat = *st;
	/* ZooKeeper keeps the number of creates; it reports
	 * 2 * creates - numChildren (tree.c, "Stat rules") */
	n.stat.cversion =
	    (int32_t)(((int64_t)st->cversion + st->num_children) / 2);
	zk_snap_put_node(w, &n);
}

/* The walk, depth first from "/" as log/snap.c's (paths on the stack,
 * each looked up when popped; RCU-offline and yielding every 128
 * nodes).  Appends the ACL section and the nodes to j->w. */
static void snap_walk(struct snap_job *j)
{
	struct snap_acls at = {0};
	struct zk_snap_writer nodes;
	struct paths st = {0};
	char *data = NULL;
	size_t dcap = 0;
	const struct zacl *prev = NULL;
	int64_t prev_id = -1;
	zk_snap_begin(&at.sec, ZK_SNAP_STREAM, 0);
	zk_snap_begin(&at.one, ZK_SNAP_STREAM, 0);
	zk_snap_begin(&nodes, ZK_SNAP_STREAM, 0);
	paths_add(&st, "/", 1);
	while (st.n && !j->err) {
		char *path = st.p[--st.n];
		size_t len = st.l[st.n];
		const struct znode *n;
		const struct zacl *acl = NULL;
		struct zview v;
		struct zstat stat = {0};
		int32_t dlen = -1;
		unsigned seq;
		do {
			seq = tree_read_begin(j->tree);
			n = tree_lookup(j->tree, path, len);
			if (!n)
				break;
			znode_view(n, &v);
			stat = v.stat;
			acl = v.acl;
			dlen = v.data_null ? -1 : (int32_t)stat.data_length;
			if (dlen > 0 && (size_t)dlen > dcap) {
				char *nd = realloc(data, (size_t)dlen);
				if (!nd) {
					j->err = ENOMEM;
					break;
				}
				data = nd;
				dcap = (size_t)dlen;
			}
			if (dlen > 0)
				memcpy(data, v.data, (size_t)dlen);
		} while (tree_read_retry(j->tree, seq));
		if (n && !j->err) {
			int64_t id = acl == prev && prev_id > 0
					 ? prev_id
					 : acls_id(&at, acl);
			if (id < 0)
				j->err = ENOMEM;
			prev = acl;
			prev_id = id;
			struct push_ctx c = {&st, path, len};
			znode_children(n, push_child, &c);
			put_node(&nodes, path, len, &stat, data, dlen, id);
			if (nodes.w.err)
				j->err = ENOMEM;
			if ((++j->nodes & 127) == 0) {
				/* QSBR: report a quiescent state and give the
				 * CPU to the request path now and then (the
				 * ACL pointer compared across it may be
				 * reused: compare again) */
				prev = NULL;
				rcu_thread_offline();
				sched_yield();
				rcu_thread_online();
				if (atomic_load(&j->cancel))
					j->err = ECANCELED;
			}
		}
		free(path);
	}
	rcu_thread_offline();
	while (st.n)
		free(st.p[--st.n]);
	paths_free(&st);
	free(data);
	if (!j->err) {
		zk_snap_put_acls(&j->w, (int32_t)at.n);
		jw_bytes(&j->w.w, at.sec.w.p, at.sec.w.len);
		zk_snap_writer_free(&at.sec);
		jw_bytes(&j->w.w, nodes.w.p, nodes.w.len);
		zk_snap_writer_free(&nodes);
		if (zk_snap_end(&j->w, NULL))
			j->err = ENOMEM;
	}
	zk_snap_writer_free(&at.sec);
	zk_snap_writer_free(&at.one);
	zk_snap_writer_free(&nodes);
	free(at.ent);
	free(at.slot);
}

static void *snap_job_main(void *arg)
{
	struct snap_job *j = arg;
	pthread_setname_np(pthread_self(), "pdk-snapsend");
	/* background work, as the snapshot thread's (sequencer.c) */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), SNAP_NICE) != 0)
		(void)0;
	rcu_register_thread();
	snap_walk(j); /* leaves it offline, as unregistering wants */
	rcu_unregister_thread();
	atomic_store(&j->done, 1);
	uint64_t one = 1;
	if (write(j->efd, &one, sizeof(one)) < 0)
		(void)0; /* the sequencer polls jobs every pass anyway */
	return NULL;
}

static void snap_job_free(struct snap_job *j)
{
	zk_snap_writer_free(&j->w);
	free(j);
}

static zxid_t io_snap_send(struct zab_io *io, int64_t to)
{
	struct ens *e = ens_of(io);
	struct zab_seq *s = e->s;
	stat_add(&s->stats.snaps, 1);
	struct qpkt q = pw_qpkt(ZP_SNAP, s->applied);
	struct snap_job *j = calloc(1, sizeof(*j));
	if (!j || peer_send(e->peer, to, &q) ||
	    peer_bulk_reserve(e->peer, to, &j->ticket)) {
		free(j);
		peer_close(e->peer, to);
		return s->applied;
	}
	j->tree = s->tree;
	j->efd = s->efd;
	j->to = to;
	j->zxid = s->applied;
	j->t0 = zk_clock_us(CLOCK_MONOTONIC);
	/* the sessions are the sequencer's: written here, at `applied` */
	zk_snap_begin(&j->w, ZK_SNAP_STREAM, 0);
	zk_snap_put_sessions(&j->w, (int32_t)s->nsess);
	for (size_t b = 0; b < s->nbuckets; b++)
		for (struct zsession *z = s->sess[b]; z; z = z->next)
			zk_snap_put_session(&j->w, z->id, z->timeout);
	if (pthread_create(&j->th, NULL, snap_job_main, j)) {
		snap_job_free(j);
		peer_close(e->peer, to);
		return s->applied;
	}
	j->next = e->snaps;
	e->snaps = j;
	return s->applied;
}

/* Hand finished snapshot streams to their links (on the sequencer). */
static void snap_jobs_reap(struct ens *e)
{
	for (struct snap_job **pj = &e->snaps; *pj;) {
		struct snap_job *j = *pj;
		if (!atomic_load(&j->done)) {
			pj = &j->next;
			continue;
		}
		*pj = j->next;
		pthread_join(j->th, NULL);
		size_t bytes = j->w.w.len;
		int rc = j->err ? ZSYSTEMERROR
				: peer_bulk_fill(e->peer, j->to, j->ticket,
						 &j->w.w);
		if (j->err)
			peer_close(e->peer, j->to);
		if (rc == ZOK) {
			zab_snap_sent(e->z, e->s->now, j->to);
			fprintf(stderr, "paddockd: ensemble: snapshot 0x%" PRIx64
					" for server %" PRId64 ": %zu bytes, "
					"%" PRId64 " znodes, serialized in %lld "
					"ms while serving\n",
				(uint64_t)j->zxid, j->to, bytes, j->nodes,
				(long long)(zk_clock_us(CLOCK_MONOTONIC) -
					    j->t0) / 1000);
		} else {
			fprintf(stderr, "paddockd: ensemble: cannot send "
					"snapshot 0x%" PRIx64 " to server "
					"%" PRId64 ": %s\n",
				(uint64_t)j->zxid, j->to,
				j->err ? strerror(j->err)
				       : "the link went meanwhile");
		}
		snap_job_free(j);
	}
}

/* Stop and drop every snapshot being made (shutdown). */
static void snap_jobs_cancel(struct ens *e)
{
	for (struct snap_job *j = e->snaps; j; j = j->next)
		atomic_store(&j->cancel, 1);
	while (e->snaps) {
		struct snap_job *j = e->snaps;
		e->snaps = j->next;
		pthread_join(j->th, NULL);
		snap_job_free(j);
	}
}

/* Learner: build the snapshot into a tree of its own, write it as this
 * member's snapshot, drop the old log and restart: recovery loads it,
 * and the next sync is a DIFF from there. */
static int rs_session(void *arg, int64_t id, int32_t timeout)
{
	struct ens *e = arg;
	uint8_t pw[ZK_PASSWD_LEN];
	zk_session_passwd(id, pw);
	jw_long(&e->snap_sessions, id);
	jw_int(&e->snap_sessions, timeout);
	jw_buf(&e->snap_sessions, pw, ZK_PASSWD_LEN);
	e->snap_nsessions++;
	return 0;
}

static int rs_acl(void *arg, int64_t id, const struct zk_acls *acl)
{
	struct ens *e = arg;
	struct zacl *a = zk_acls_to_zacl(acl);
	if (!a)
		return ZSYSTEMERROR;
	if (e->snap_nacl == e->snap_capacl) {
		size_t cap = e->snap_capacl ? 2 * e->snap_capacl : 16;
		struct zacl **n = realloc(e->snap_acl, cap * sizeof(*n));
		int64_t *ni = realloc(e->snap_acl_id, cap * sizeof(*ni));
		if (n)
			e->snap_acl = n;
		if (ni)
			e->snap_acl_id = ni;
		if (!n || !ni) {
			zacl_release(a);
			return ZSYSTEMERROR;
		}
		e->snap_capacl = cap;
	}
	e->snap_acl[e->snap_nacl] = a;
	e->snap_acl_id[e->snap_nacl++] = id;
	return 0;
}

static struct zacl *rs_acl_of(struct ens *e, int64_t id)
{
	for (size_t i = 0; i < e->snap_nacl; i++)
		if (e->snap_acl_id[i] == id)
			return e->snap_acl[i];
	return NULL;
}

static int rs_node(void *arg, const struct zk_snap_node *n)
{
	struct ens *e = arg;
	struct zacl *acl = rs_acl_of(e, n->acl);
	struct zacl *open = NULL;
	if (!acl) {
		/* -1: OPEN_ACL_UNSAFE */
		const int32_t perms[1] = {ZPERM_ALL};
		const char *sc[1] = {"world"}, *id[1] = {"anyone"};
		acl = open = zacl_new(1, perms, sc, id);
		if (!acl)
			return ZSYSTEMERROR;
	}
	const char *path = n->path.len > 0 ? n->path.p : "/";
	size_t len = n->path.len > 0 ? (size_t)n->path.len : 1;
	int rc = tree_node_restore(e->snap_tree, path, len, &n->stat,
				   n->data.p, n->data.len, acl, true);
	zacl_release(open);
	return rc ? rc : 0;
}

static const struct zk_snap_ops snap_ops = {
	.session = rs_session,
	.acl = rs_acl,
	.node = rs_node,
};

/* numChildren is known once every node is in (StatPersisted has none):
 * count it, and turn ZooKeeper's stored cversion (creates) into the
 * reported one paddock keeps. */
static int count_child(const char *name, size_t len, void *arg)
{
	(*(int32_t *)arg)++;
	return 0;
}

static void fix_cversion(const char *path, size_t len, const struct zview *v,
			 void *arg)
{
	struct zstat stat = v->stat;
	int32_t kids = 0;
	const struct znode *n = tree_lookup(arg, path, len);
	if (n)
		znode_children(n, count_child, &kids);
	stat.num_children = kids;
	stat.cversion = 2 * stat.cversion - kids;
	tree_node_restore(arg, path, len, &stat, v->data,
			  v->data_null ? -1 : v->stat.data_length,
			  (struct zacl *)v->acl, false);
}

static void snap_install(struct ens *e)
{
	struct zab_seq *s = e->s;
	char err[1024];
	tree_restore_done(e->snap_tree);
	tree_dfs(e->snap_tree, fix_cversion, e->snap_tree);
	/* the session blob: int count, then (id, timeout, passwd) */
	struct jw blob = {0};
	jw_int(&blob, e->snap_nsessions);
	jw_bytes(&blob, e->snap_sessions.p, e->snap_sessions.len);
	fprintf(stderr, "paddockd: ensemble: received the leader's snapshot "
			"at 0x%" PRIx64 " (%llu znodes): installing it and "
			"restarting\n", (uint64_t)e->snap_zxid,
		(unsigned long long)tree_node_count(e->snap_tree));
	if (s->log) {
		zlog_close(s->log);
		s->log = NULL;
	}
	/* a snapshot of epoch E makes this member's currentEpoch at least E
	 * (ZooKeeper tolerates the same through its updatingEpoch file):
	 * the snapshot is the leader's whole history, so voting with it is
	 * as safe as the leader's own vote */
	uint32_t se = zab_epoch(e->snap_zxid);
	uint32_t acc = zab_accepted_epoch(e->z), cur = zab_current_epoch(e->z);
	if (se > cur)
		io_epochs_save(&e->io, acc > se ? acc : se, se);
	int rc = zlog_truncate(s->cfg.log_dir, s->cfg.snap_dir, 0, err,
			       sizeof(err));
	if (!rc && (blob.err ||
		    zsnap_write(s->cfg.snap_dir, e->snap_tree, e->snap_zxid,
				blob.p, blob.len, NULL))) {
		rc = ZSYSTEMERROR;
		snprintf(err, sizeof(err), "cannot write the snapshot in %s",
			 s->cfg.snap_dir);
	}
	jw_free(&blob);
	if (rc)
		fprintf(stderr, "paddockd: ensemble: %s\n", err);
	if (s->cfg.restart)
		s->cfg.restart(); /* does not return */
}

/* A SNAP stream that went bad, or whose link went before its end:
 * forget it, so that the next SNAP (on a new link) starts afresh. */
static void snap_rx_drop(struct ens *e)
{
	zk_snap_reader_free(e->snap);
	e->snap = NULL;
	tree_destroy(e->snap_tree);
	e->snap_tree = NULL;
	for (size_t i = 0; i < e->snap_nacl; i++)
		zacl_release(e->snap_acl[i]);
	e->snap_nacl = 0;
}

static int ens_snap(void *arg, int64_t from, const uint8_t *p, size_t n,
		    size_t *used)
{
	struct ens *e = arg;
	if (!e->snap) {
		e->snap = zk_snap_reader_new(ZK_SNAP_STREAM, &snap_ops, e);
		e->snap_from = from;
		e->snap_tree = tree_create();
		e->snap_sessions.len = 0;
		e->snap_nsessions = 0;
		if (!e->snap || !e->snap_tree || !e->s->cfg.restart)
			return -1;
	}
	size_t u = 0;
	int rc = zk_snap_feed(e->snap, p, n, &u);
	*used = u;
	if (rc == 0)
		return 0;
	if (rc == 1) {
		snap_install(e);
		return -1; /* not reached */
	}
	fprintf(stderr, "paddockd: ensemble: bad snapshot stream from server "
			"%" PRId64 ": %s\n", from, zkf_strerror(rc));
	snap_rx_drop(e);
	return -1;
}

static void io_request(struct zab_io *io, int64_t from, const void *p,
		       size_t len)
{
	/* REQUESTs are taken from the peer layer directly (ens_packet) */
}

/* ------------------------------------------------------------------ */
/* Forwarded requests (follower side)                                   */
/* ------------------------------------------------------------------ */
static struct fwd **fwd_bucket(struct ens *e, enum fwd_kind kind,
				int64_t session, int32_t xid)
{
	uint64_t h = ((uint64_t)session * 0x9e3779b97f4a7c15ull) ^
		     ((uint64_t)(uint32_t)xid * 0xff51afd7ed558ccdull) ^
		     (uint64_t)kind;
	return &e->fwd_hash[(h ^ h >> 29) & (FWD_BUCKETS - 1)];
}

static void fwd_add(struct ens *e, enum fwd_kind kind, int64_t session,
		    int32_t xid, struct zmsg *m)
{
	struct fwd *f = e->fwd_free;
	if (f) {
		e->fwd_free = f->next;
		e->nfwd_free--;
	} else if (!(f = malloc(sizeof(*f)))) {
		zmsg_free(m);
		return;
	}
	*f = (struct fwd){.prev = e->ft, .kind = kind, .session = session,
			  .xid = xid, .m = m};
	if (e->ft)
		e->ft->next = f;
	else
		e->fh = f;
	e->ft = f;
	struct fwd **pp = fwd_bucket(e, kind, session, xid);
	while (*pp)
		pp = &(*pp)->hnext;
	*pp = f;
}

/* An entry no longer pending: kept for the next forward, up to what a
 * busy follower has in flight. */
#define FWD_KEEP 4096
static void fwd_release(struct ens *e, struct fwd *f)
{
	if (e->nfwd_free >= FWD_KEEP) {
		free(f);
		return;
	}
	f->next = e->fwd_free;
	e->fwd_free = f;
	e->nfwd_free++;
}

/* Take the oldest pending entry of `kind` for (session, xid). */
static struct zmsg *fwd_take(struct ens *e, enum fwd_kind kind,
			     int64_t session, int32_t xid)
{
	struct fwd **pp = fwd_bucket(e, kind, session, xid);
	for (; *pp; pp = &(*pp)->hnext) {
		struct fwd *f = *pp;
		if (f->kind != kind || f->session != session || f->xid != xid)
			continue;
		struct zmsg *m = f->m;
		*pp = f->hnext;
		if (f->prev)
			f->prev->next = f->next;
		else
			e->fh = f->next;
		if (f->next)
			f->next->prev = f->prev;
		else
			e->ft = f->prev;
		fwd_release(e, f);
		return m;
	}
	return NULL;
}

static void fwd_drop_all(struct ens *e)
{
	while (e->fh) {
		struct fwd *f = e->fh;
		e->fh = f->next;
		zmsg_free(f->m);
		fwd_release(e, f);
	}
	e->ft = NULL;
	memset(e->fwd_hash, 0, sizeof(e->fwd_hash));
}

static bool send_request(struct ens *e, int64_t session, int32_t xid,
			 int32_t type, const void *body, size_t len,
			 const uint8_t *auth, uint32_t auth_len)
{
	struct zauth_id ids[16];
	char idbuf[4096];
	int nids = auth_len ? zab_auth_parse(auth, auth_len, ids, idbuf,
					     sizeof(idbuf), 16)
			    : 0;
	if (nids < 0)
		return false;
	struct pw_id pid[16];
	for (int i = 0; i < nids; i++)
		pid[i] = (struct pw_id){.scheme = ids[i].scheme,
					.id = ids[i].id};
	struct jw *w = &e->out;
	w->len = 0;
	struct pw_request r = {.session = session, .cxid = xid, .type = type,
			       .body = body, .body_len = (int32_t)len};
	if (pw_request_encode(w, &r))
		return false;
	size_t dlen = w->len;
	struct jw *a = &e->auth;
	a->len = 0;
	if (pw_auth_encode(a, pid, nids))
		return false;
	struct qpkt q = pw_qpkt(ZP_REQUEST, -1);
	q.data = w->p;
	q.len = (int32_t)dlen;
	q.nauth = nids;
	q.auth = a->len ? a->p : (const uint8_t *)"";
	q.auth_len = a->len;
	return peer_send(e->peer, e->leader, &q) == 0;
}

bool ens_forward(struct zab_seq *s, struct zmsg *m)
{
	struct ens *e = s->ens;
	if (e->role != ZR_FOLLOWING && e->role != ZR_OBSERVING)
		return false;
	if (!send_request(e, m->session, m->xid, m->op, m->body + m->auth_len,
			  m->len - m->auth_len, m->body, m->auth_len))
		return false;
	fwd_add(e, m->op == ZOP_SYNC ? FW_SYNC : FW_REQUEST, m->session,
		m->xid, m);
	return true;
}

bool ens_forward_connect(struct zab_seq *s, struct zmsg *rep, int64_t id,
			 int32_t timeout)
{
	struct ens *e = s->ens;
	uint8_t b[4];
	jw_put_int_at(b, timeout);
	if (!send_request(e, id, 0, ZOP_CREATESESSION, b, 4, NULL, 0))
		return false;
	fwd_add(e, FW_CONNECT, id, 0, rep);
	return true;
}

bool ens_revalidate(struct zab_seq *s, struct zmsg *rep)
{
	struct ens *e = s->ens;
	if (e->role != ZR_FOLLOWING && e->role != ZR_OBSERVING)
		return false;
	struct jw *w = &e->out;
	w->len = 0;
	pw_revalidate_req_put(w, rep->session, rep->timeout);
	struct qpkt q = pw_qpkt(ZP_REVALIDATE, -1);
	q.data = w->p;
	q.len = (int32_t)w->len;
	if (w->err || peer_send(e->peer, e->leader, &q))
		return false;
	fwd_add(e, FW_REVALIDATE, rep->session, 0, rep);
	stat_add(&s->stats.conn_revalidates, 1);
	return true;
}

void ens_touch(struct zab_seq *s, int64_t id)
{
	struct ens *e = s->ens;
	if (e->role == ZR_LEADING)
		return;
	for (size_t i = 0; i < e->ntouched; i++)
		if (e->touched[i] == id)
			return;
	if (e->ntouched == e->captouched) {
		size_t cap = e->captouched ? 2 * e->captouched : 64;
		int64_t *n = realloc(e->touched, cap * sizeof(*n));
		if (!n)
			return;
		e->touched = n;
		e->captouched = cap;
	}
	e->touched[e->ntouched++] = id;
}

/* ------------------------------------------------------------------ */
/* Apply                                                                */
/* ------------------------------------------------------------------ */
static void apply_record(struct ens *e, zxid_t zxid, const void *p,
			 size_t len)
{
	struct zab_seq *s = e->s;
	if (e->role == ZR_LOOKING && !e->ro) {
		/* Syncing or fast-forwarding, with no client to answer: the
		 * tree may be a leader's fuzzy SNAP (io_snap_send) that
		 * already holds some of these changes, so each is applied
		 * once by recovery's replay rules (txn.c), which on a
		 * consistent tree do what applying does.  No digest check:
		 * the first one after the sync checks the whole tree. */
		int rc = txn_replay(s, zxid, p, len);
		if (rc)
			fprintf(stderr, "paddockd: ensemble: transaction 0x%" PRIx64
					" does not replay: %s\n",
				(uint64_t)zxid, zk_strerror(rc));
		s->since_snap++;
		return;
	}
	struct ptxn t;
	memset(&t, 0, sizeof(t));
	int rc = txn_decode(s, p, len, &t);
	if (rc || t.zxid != zxid) {
		fprintf(stderr, "paddockd: ensemble: transaction 0x%" PRIx64
				" does not decode: %s\n", (uint64_t)zxid,
			zk_strerror(rc ? rc : ZMARSHALLINGERROR));
		ptxn_steps_free(&t);
		return;
	}
	bool serving = e->role != ZR_LOOKING;
	switch (t.kind) {
	case PT_SESSION_NEW: {
		struct zmsg *rep = serving ? fwd_take(e, FW_CONNECT, t.session,
						      0)
					   : NULL;
		struct zsession *z = seq_sess_find(s, t.session);
		if (!z) {
			uint8_t pw[ZK_PASSWD_LEN];
			zk_session_passwd(t.session, pw);
			z = seq_sess_add(s, t.session, t.timeout, pw);
		}
		if (z && rep) {
			z->attached = true;
			z->conn = rep->conn;
			z->deadline = s->now + z->timeout;
		}
		t.req = rep; /* sent by seq_apply_one */
		break;
	}
	case PT_SESSION_CLOSE:
	case PT_REQUEST:
		if (serving)
			t.req = fwd_take(e, FW_REQUEST, t.session, t.xid);
		if (serving && !t.req && t.err)
			/* a sync the leader refused (its session expired) */
			t.req = fwd_take(e, FW_SYNC, t.session, t.xid);
		break;
	default:
		break;
	}
	t.zxid = zxid;
	seq_apply_one(s, &t);
	seq_digest_check(s, &t);
	zmsg_free(t.req);
	t.req = NULL;
	ptxn_steps_free(&t);
}

static void io_apply(struct zab_io *io, zxid_t zxid, const void *p,
		     size_t len)
{
	struct ens *e = ens_of(io);
	struct zab_seq *s = e->s;
	if (e->role == ZR_LEADING) {
		stat_add(&s->stats.commits, 1);
		/* a quorum acked: Leader.tryToCommit */
		lat_add(e, ZAB_LAT_QUORUM_ACK, p, len);
	} else if (e->role != ZR_LOOKING) {
		/* a follower's COMMIT (FollowerZooKeeperServer.commit), an
		 * observer's INFORM */
		lat_add(e, ZAB_LAT_COMMIT_PROPAGATION, p, len);
	}
	/* FinalRequestProcessor.applyRequest, on every member serving (not
	 * what a member fast-forwards or syncs while LOOKING) */
	if (e->role != ZR_LOOKING)
		lat_add(e, ZAB_LAT_PROPAGATION, p, len);
	/* the leader's own transaction (the first pending one that is not a
	 * read waiting its turn): seq_drain applies it from prep's steps */
	const struct ptxn *t = s->ph;
	while (t && t->kind == PT_READ)
		t = t->next;
	if (t && t->zxid == zxid) {
		s->committed = zxid;
		seq_drain(s);
		return;
	}
	apply_record(e, zxid, p, len);
	s->committed = zxid;
	/* the workers' ZM_APPLIED goes once per loop pass (seq_drain) */
}

/* ------------------------------------------------------------------ */
/* Roles                                                                */
/* ------------------------------------------------------------------ */
static void io_role(struct zab_io *io, enum zab_role role, int64_t leader)
{
	struct ens *e = ens_of(io);
	struct zab_seq *s = e->s;
	static const char *const names[] = {"looking", "following",
					    "leading", "observing"};
	fprintf(stderr, "paddockd: ensemble: %s (epoch %u, zxid 0x%" PRIx64
			")\n", names[role], zab_current_epoch(e->z),
		(uint64_t)zab_last_logged(e->z));
	e->role = role;
	e->leader = leader;
	atomic_store(&s->mode, (int)role);
	atomic_store(&s->leader_sid, role == ZR_LOOKING ? -1 : leader);
	atomic_store(&s->stats.leading_since,
		     role == ZR_LEADING ? s->now : 0);
	if (role == ZR_LOOKING) {
		stat_add(&s->stats.lookings, 1);
		e->looking_since = s->now;
	} else if (e->looking_since) {
		/* serving again: io_role comes at UPTODATE (a learner) or
		 * once a quorum acked NEWLEADER (the leader) */
		int64_t down = s->now - e->looking_since;
		zk_basic_add(&s->stats.unavailable_ms, down, s->now);
		if (role == ZR_LEADING)
			zk_basic_add(&s->stats.leader_unavailable_ms, down,
				     s->now);
		e->looking_since = 0;
	}
	if (e->ro) {
		/* the read-only server stops: its clients and sessions go */
		e->ro = false;
		seq_expire_local(s, INT64_MAX);
		seq_kill_all(s);
	}
	if (role == ZR_LOOKING) {
		/* ZooKeeperServer.shutdown: every client connection goes */
		seq_kill_all(s);
		fwd_drop_all(e);
		e->ntouched = 0;
		/* QuorumPeer starts a ReadOnlyZooKeeperServer after
		 * max(2000, tickTime) ms still LOOKING */
		if (e->cfg.read_only)
			e->ro_at = s->now + (s->cfg.tick_time > 2000
							? s->cfg.tick_time
							: 2000);
		return;
	}
	e->ro_at = 0;
	s->zxid = zab_last_logged(e->z);
	if (role == ZR_LEADING) {
		/* the new epoch's first zxid is (epoch, 1); sessions all get
		 * a full timeout from now (a new SessionTracker) */
		s->zxid = zab_zxid(zab_current_epoch(e->z), 0);
		/* establishment committed everything before the epoch:
		 * reads queued from now on wait only for this epoch's */
		s->committed = s->zxid;
		seq_sessions_touch_all(s);
	}
}

/* ------------------------------------------------------------------ */
/* Packets from the peer layer                                          */
/* ------------------------------------------------------------------ */
/* Leader: a learner forwards a client's request (LearnerHandler
 * REQUEST -> Leader.submitLearnerRequest). */
static void leader_request(struct ens *e, int64_t from, const struct qpkt *q)
{
	struct zab_seq *s = e->s;
	struct pw_request r;
	if (pw_request_decode(q->data, q->len, &r))
		return;
	/* the connection's auth ids, as ZM_REQUEST bodies carry them */
	struct zauth_id ids[16];
	char idbuf[4096];
	int nids = 0;
	size_t off = 0, used = 0;
	struct pw_id id;
	while (nids < 16 && pw_id_next(q, &off, &id) == 1) {
		size_t sl = id.scheme_len > 0 ? (size_t)id.scheme_len : 0;
		size_t il = id.id_len > 0 ? (size_t)id.id_len : 0;
		if (used + sl + il + 2 > sizeof(idbuf))
			break;
		ids[nids].scheme = memcpy(idbuf + used, sl ? id.scheme : "",
					  sl);
		idbuf[used + sl] = 0;
		used += sl + 1;
		ids[nids].id = memcpy(idbuf + used, il ? id.id : "", il);
		idbuf[used + il] = 0;
		used += il + 1;
		nids++;
	}
	if (r.type == ZOP_CREATESESSION) {
		if (r.body_len >= 4)
			seq_remote_session(s, r.session, jr_int_at(r.body));
		return;
	}
	struct jw *a = &e->auth;
	a->len = 0;
	a->err = false;
	zab_auth_write(a, ids, nids);
	size_t blen = r.body_len > 0 ? (size_t)r.body_len : 0;
	struct zmsg *m = a->err ? NULL
				: seq_remote_msg(s, (uint32_t)(a->len + blen));
	if (!m)
		return;
	m->conn.worker = ENS_REMOTE;
	m->conn.slot = (uint32_t)from;
	m->xid = r.cxid;
	m->op = r.type;
	m->session = r.session;
	m->auth_len = (uint32_t)a->len;
	memcpy(m->body, a->p, a->len);
	if (blen)
		memcpy(m->body + a->len, r.body, blen);
	seq_handle_request(s, m);
}

/* Leader: the sessions a learner saw alive (LearnerHandler PING). */
static void leader_ping(struct ens *e, const struct qpkt *q)
{
	int n = pw_ping_count(q->data, q->len);
	int64_t now = e->s->now;
	for (int i = 0; i < n; i++) {
		int64_t id;
		int32_t timeout;
		pw_ping_get(q->data, i, &id, &timeout);
		struct zsession *z = seq_sess_find(e->s, id);
		if (z)
			z->deadline = now + z->timeout;
	}
}

/* Leader: is a session a learner's client reconnects with alive
 * (Leader.revalidateSession)?  An open session is touched with the
 * timeout the learner sent, as ZooKeeper's checkIfValidGlobalSession
 * does.  paddock keeps no session owner, so there is none to move. */
static void leader_revalidate(struct ens *e, int64_t from,
			      const struct qpkt *q)
{
	int64_t id;
	int32_t to;
	if (pw_revalidate_req_decode(q->data, q->len, &id, &to))
		return;
	struct zsession *z = seq_sess_find(e->s, id);
	bool valid = z && !z->closing;
	if (valid && to > 0)
		z->deadline = e->s->now + to;
	struct jw *w = &e->out;
	w->len = 0;
	pw_revalidate_ans_put(w, id, valid);
	struct qpkt a = pw_qpkt(ZP_REVALIDATE, q->zxid);
	a.data = w->p;
	a.len = (int32_t)w->len;
	if (!w->err)
		peer_send(e->peer, from, &a);
}

/* Learner: the leader's answer to a REVALIDATE (Learner.revalidate). */
static void learner_revalidated(struct ens *e, const struct qpkt *q)
{
	int64_t id;
	bool valid;
	if (pw_revalidate_ans_decode(q->data, q->len, &id, &valid))
		return;
	struct zmsg *rep = fwd_take(e, FW_REVALIDATE, id, 0);
	if (rep)
		seq_connect_finish(e->s, rep, valid);
}

/* Learner: the leader's answer to a forwarded sync. */
static void learner_sync(struct ens *e)
{
	struct zmsg *m = NULL;
	for (struct fwd *f = e->fh; f; f = f->next)
		if (f->kind == FW_SYNC) {
			m = fwd_take(e, FW_SYNC, f->session, f->xid);
			break;
		}
	if (m)
		seq_answer_sync(e->s, m);
}

static void ens_packet(void *arg, int64_t from, const struct qpkt *q)
{
	struct ens *e = arg;
	int64_t now = e->s->now;
	if (zab_role(e->z) == ZR_LEADING) {
		if (q->type == ZP_REQUEST) {
			leader_request(e, from, q);
			return;
		}
		if (q->type == ZP_REVALIDATE) {
			stat_add(&e->s->stats.revalidates, 1);
			leader_revalidate(e, from, q);
			return;
		}
		if (q->type == ZP_PING)
			leader_ping(e, q);
	} else if (q->type == ZP_SYNC && from == e->leader) {
		learner_sync(e);
	} else if (q->type == ZP_REVALIDATE && from == e->leader) {
		learner_revalidated(e, q);
		return;
	} else if (q->type == ZP_SNAP) {
		/* the stream follows (ens_snap); installed by a restart */
		e->snap_zxid = q->zxid;
		return;
	}
	struct zab_pkt p = {.type = q->type, .zxid = q->zxid,
			    .data = q->data,
			    .len = q->len > 0 ? (uint32_t)q->len : 0};
	if (q->type == ZP_COMMIT && e->role != ZR_LEADING)
		stat_add(&e->s->stats.learner_commits, 1);
	zab_recv(e->z, now, from, &p);
}

static void ens_vote(void *arg, int64_t from, const struct zab_vote *v)
{
	struct ens *e = arg;
	zab_vote_recv(e->z, e->s->now, from, v);
}

static void ens_link_up(void *arg, int64_t peer)
{
	struct ens *e = arg;
	zab_link_up(e->z, e->s->now, peer);
}

static void ens_link_down(void *arg, int64_t peer)
{
	struct ens *e = arg;
	if (e->snap && peer == e->snap_from) {
		fprintf(stderr, "paddockd: ensemble: the link to server "
				"%" PRId64 " went during a snapshot: dropped "
				"it\n", peer);
		snap_rx_drop(e);
	}
	zab_link_down(e->z, e->s->now, peer);
}


static const struct peer_ops ops = {
	.vote = ens_vote,
	.link_up = ens_link_up,
	.link_down = ens_link_down,
	.packet = ens_packet,
	.snap = ens_snap,
};

/* ------------------------------------------------------------------ */
/* Life                                                                 */
/* ------------------------------------------------------------------ */
struct ens *ens_new(struct zab_seq *s, const struct zab_ens_config *c)
{
	struct ens *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->s = s;
	e->cfg = *c;
	e->epoch_fd[0] = e->epoch_fd[1] = -1;
	snprintf(e->qv, sizeof(e->qv), "%s", c->qv ? c->qv : "");
	e->cfg.qv = e->qv;
	e->hist_max = c->commit_log_count > 0 ? (size_t)c->commit_log_count
					      : HIST_MAX;
	e->recent = calloc(e->hist_max, sizeof(*e->recent));
	if (!e->recent) {
		free(e);
		return NULL;
	}
	return e;
}

void ens_recovered(struct zab_seq *s, zxid_t zxid, const void *p,
		   size_t len)
{
	struct ens *e = s->ens;
	size_t i = (e->recent_head + e->nrecent) % e->hist_max;
	if (e->nrecent == e->hist_max) {
		i = e->recent_head;
		e->recent_head = (e->recent_head + 1) % e->hist_max;
		free(e->recent[i].p);
	} else {
		e->nrecent++;
	}
	e->recent[i].p = malloc(len ? len : 1);
	if (!e->recent[i].p) {
		e->nrecent--;
		return;
	}
	memcpy(e->recent[i].p, p, len);
	e->recent[i].len = (uint32_t)len;
	e->recent[i].zxid = zxid;
}

static void recent_free(struct ens *e)
{
	for (size_t k = 0; k < e->nrecent; k++)
		free(e->recent[(e->recent_head + k) % e->hist_max].p);
	free(e->recent);
	e->recent = NULL;
	e->nrecent = 0;
}

/* QuorumPeer.initConfigInZKDatabase: /zookeeper/config holds the
 * membership, set at start-up with version -1 and mzxid 0 (DataTree.
 * setData(CONFIG_NODE, qv, -1, qv.getVersion(), now)); its ACL and the
 * rest of its stat stay.  Before the sequencer and the workers run. */
static void config_node(struct zab_seq *s, const char *qv)
{
	static const char path[] = "/zookeeper/config";
	const struct znode *n = tree_lookup(s->tree, path, sizeof(path) - 1);
	if (!n)
		return;
	struct zview v;
	znode_view(n, &v);
	struct zstat st = v.stat;
	st.version = -1;
	st.mzxid = 0;
	st.mtime = s->wall_ms;
	tree_write_begin(s->tree);
	tree_node_restore(s->tree, path, sizeof(path) - 1, &st, qv,
			  (int32_t)strlen(qv), (struct zacl *)v.acl, false);
	tree_write_end(s->tree, tree_applied_zxid(s->tree));
}

int ens_start(struct zab_seq *s, char *err, size_t err_len)
{
	struct ens *e = s->ens;
	seq_clock(s);
	const struct zab_ens_config *c = &e->cfg;
	struct zab_config zc = {
		.sid = c->myid,
		.n = c->n,
		.tick_ms = s->cfg.tick_time,
		.init_limit = c->init_limit,
		.sync_limit = c->sync_limit,
		.finalize_wait_ms = c->finalize_wait_ms,
		/* FastLeaderElection's minNotificationInterval is finalizeWait */
		.min_notify_ms = c->finalize_wait_ms,
		.max_notify_ms = 60000,
		.connect_retry_ms = 5,
		.hist_max = (uint32_t)e->hist_max,
		.cumulative = c->cumulative_acks,
		.ack_log_freq = 1000, /* ZooKeeper's default */
	};
	struct peer_config pc = {.sid = c->myid, .n = c->n, .qv = e->qv,
				 .max_queue = c->peer_queue};
	for (int i = 0; i < c->n; i++) {
		zc.m[i].sid = c->m[i].sid;
		zc.m[i].observer = c->m[i].observer;
		pc.m[i].sid = c->m[i].sid;
		snprintf(pc.m[i].host, sizeof(pc.m[i].host), "%s",
			 c->m[i].host);
		pc.m[i].quorum_port = c->m[i].quorum_port;
		pc.m[i].election_port = c->m[i].election_port;
		pc.m[i].observer = c->m[i].observer;
	}
	zxid_t last = s->zxid;
	int64_t acc = zab_epoch(last), cur = zab_epoch(last);
	int ra = read_epoch(s->cfg.snap_dir, "acceptedEpoch", &acc);
	int rc = read_epoch(s->cfg.snap_dir, "currentEpoch", &cur);
	if (ra < 0 || rc < 0) {
		snprintf(err, err_len, "%s: unreadable acceptedEpoch or "
				       "currentEpoch file",
			 s->cfg.snap_dir);
		return -1;
	}
	if (cur < zab_epoch(last)) {
		/*
		 * ZooKeeper refuses to start here ("The current epoch ... is
		 * older than the last zxid"): its learner logs nothing of a
		 * sync before NEWLEADER.  paddock's logs a DIFF as it comes
		 * and writes currentEpoch once all of it is durable, so a
		 * sync cut short (a crash, or a TRUNC from the next leader
		 * that keeps part of it) leaves transactions past
		 * currentEpoch.  None of them was ACKed (zab.c: nothing
		 * before NEWLEADER's ACK): drop them, as unflushed writes,
		 * and start again from what is left.
		 */
		zxid_t keep = zab_zxid((uint32_t)cur, UINT32_MAX);
		if (!s->cfg.restart || acc < zab_epoch(last)) {
			snprintf(err, err_len, "%s: currentEpoch %" PRId64
					       " (acceptedEpoch %" PRId64
					       ") is older than the last "
					       "zxid 0x%" PRIx64,
				 s->cfg.snap_dir, cur, acc, (uint64_t)last);
			return -1;
		}
		fprintf(stderr, "paddockd: ensemble: the log holds "
				"transactions up to 0x%" PRIx64 ", past "
				"currentEpoch %" PRId64 " (a sync cut short): "
				"dropping those after epoch %" PRId64 "\n",
			(uint64_t)last, cur, cur);
		truncate_and_restart(e, keep); /* returns only on failure */
		snprintf(err, err_len, "%s: cannot restart", s->cfg.snap_dir);
		return -1;
	}
	struct zab_disk d = {(uint32_t)acc, (uint32_t)cur, last};
	e->io = (struct zab_io){
		.vote_send = io_vote_send, .connect = io_connect,
		.send = io_send, .close = io_close,
		.log_append = io_log_append, .log_truncate = io_log_truncate,
		.reset = io_reset, .epochs_save = io_epochs_save,
		.apply = io_apply, .snap_send = io_snap_send,
		.request = io_request, .role = io_role, .acked = io_acked,
		.ack_sampled = io_ack_sampled,
	};
	e->z = zab_create(&zc, &e->io, &d);
	if (!e->z) {
		snprintf(err, err_len, "ensemble: bad membership");
		return -1;
	}
	/* (re)written padded, and kept open (write_epoch) */
	io_epochs_save(&e->io, (uint32_t)acc, (uint32_t)cur);
	for (size_t k = 0; k < e->nrecent; k++) {
		struct rec *r = &e->recent[(e->recent_head + k) % e->hist_max];
		zab_load(e->z, r->zxid, r->p, r->len);
	}
	recent_free(e);
	e->peer = peer_create(&pc, &ops, e);
	if (!e->peer) {
		snprintf(err, err_len, "ensemble: cannot listen on the quorum "
				       "or election port of server.%" PRId64
				       ": %s",
			 c->myid, strerror(errno));
		return -1;
	}
	config_node(s, e->qv);
	e->durable_seen = last;
	zab_start(e->z, s->now); /* LOOKING, without io_role */
	e->looking_since = s->now;
	return 0;
}

void ens_free(struct zab_seq *s)
{
	struct ens *e = s->ens;
	if (!e)
		return;
	fwd_drop_all(e);
	snap_jobs_cancel(e);
	peer_destroy(e->peer);
	zab_destroy(e->z);
	recent_free(e);
	free(e->touched);
	jw_free(&e->out);
	jw_free(&e->auth);
	while (e->fwd_free) {
		struct fwd *f = e->fwd_free;
		e->fwd_free = f->next;
		free(f);
	}
	for (int k = 0; k < 2; k++)
		if (e->epoch_fd[k] >= 0)
			close(e->epoch_fd[k]);
	free(e);
	s->ens = NULL;
}

int ens_pollfds(struct zab_seq *s, struct pollfd *fds, int max)
{
	return s->ens->peer ? peer_pollfds(s->ens->peer, fds, max) : 0;
}

void ens_run(struct zab_seq *s, const struct pollfd *fds, int nfds)
{
	struct ens *e = s->ens;
	if (!e->z)
		return;
	int64_t now = s->now;
	peer_poll(e->peer, fds, nfds, now);
	if (e->snaps)
		snap_jobs_reap(e);
	if (s->log) {
		zxid_t d = zlog_durable(s->log);
		if (d != e->durable_seen) {
			e->durable_seen = d;
			zab_durable(e->z, now, d);
		}
	}
	if (now >= zab_deadline(e->z))
		zab_tick(e->z, now);
	/* what the durable log and the timers queued (ACKs, COMMITs,
	 * PINGs) goes now, not after the next poll() */
	peer_flush(e->peer);
	if (e->ro_at && now >= e->ro_at && e->role == ZR_LOOKING) {
		e->ro_at = 0;
		e->ro = true;
		atomic_store(&s->mode, SEQ_MODE_READ_ONLY);
		fprintf(stderr, "paddockd: ensemble: no quorum: serving "
				"read-only clients\n");
	}
	int f, o;
	int n = zab_learners(e->z, &f, &o);
	atomic_store_explicit(&s->stats.learners, n, memory_order_relaxed);
	atomic_store_explicit(&s->stats.synced_followers, f,
			      memory_order_relaxed);
	atomic_store_explicit(&s->stats.synced_observers, o,
			      memory_order_relaxed);
}

int64_t ens_deadline(const struct zab_seq *s)
{
	struct ens *e = s->ens;
	if (!e->z)
		return INT64_MAX;
	int64_t d = zab_deadline(e->z), p = peer_deadline(e->peer);
	if (p < d)
		d = p;
	if (e->ro_at && e->ro_at < d)
		d = e->ro_at;
	return d;
}

bool ens_read_only(const struct zab_seq *s)
{
	return s->ens && s->ens->ro;
}

bool ens_leading(const struct zab_seq *s)
{
	return s->ens && s->ens->role == ZR_LEADING;
}

bool ens_serving(const struct zab_seq *s)
{
	return !s->ens || s->ens->role != ZR_LOOKING;
}

int ens_propose(struct zab_seq *s, struct ptxn *t)
{
	struct ens *e = s->ens;
	zxid_t zx;
	if (zab_propose(e->z, s->now, s->rec.p, s->rec.len, &zx))
		return ZCONNECTIONLOSS;
	if (zx != t->zxid) {
		fprintf(stderr, "paddockd: ensemble: proposed 0x%" PRIx64
				" as 0x%" PRIx64 "\n", (uint64_t)t->zxid,
			(uint64_t)zx);
		return ZSYSTEMERROR;
	}
	return ZOK;
}

void ens_remote_out(struct zab_seq *s, struct zmsg *m)
{
	/* a learner's request answered: only a sync needs telling (the
	 * learner answers writes when their commits reach it) */
	if (m->type == ZM_REPLY && m->op == ZOP_SYNC && s->ens->peer) {
		struct qpkt q = pw_qpkt(ZP_SYNC, m->zxid);
		peer_send(s->ens->peer, (int64_t)m->conn.slot, &q);
		stat_add(&s->stats.pending_syncs, -1);
	}
	zmsg_free(m);
}
