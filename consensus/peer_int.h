/*
 * peer_int.h — the peer network of an ensemble member: Apache ZooKeeper
 * 3.8's election port (QuorumCnxManager) and quorum port (Learner /
 * LearnerHandler sockets), non-blocking, driven by the caller's poll()
 * loop.  Wire facts: consensus/PEER-PROTOCOL.md; codecs:
 * consensus/peerwire_int.h.
 *
 * What it does:
 *   election  one connection per member, kept only if it runs from the
 *             larger sid to the smaller one (QuorumCnxManager's
 *             tie-break); each side sends notifications in frames over
 *             it.  peer_vote_send queues one vote per member (a newer one
 *             replaces an unsent one) and dials on demand with a backoff;
 *             a vote that reached the socket is "sent" and is sent again
 *             when the next connection with that member starts, if
 *             nothing newer is queued (SendWorker's lastMessageSent).
 *   quorum    one link per member: the one we dialled with peer_connect
 *             (we are its learner) or one a learner dialled to us,
 *             identified by its first packet (FOLLOWERINFO /
 *             OBSERVERINFO naming a member).  QuorumPackets both ways,
 *             and after a SNAP from a leader, the raw snapshot stream.
 *
 * Thread: a struct peer belongs to one thread (the sequencer); every
 * function below must be called from it.  No locks, no threads, no
 * blocking call.  Callbacks (struct peer_ops) are made only from inside
 * peer_poll, never from another peer_* call; a callback may call any
 * peer_* function except peer_poll and peer_destroy.
 *
 * Failures of the network are never returned to the caller: a connection
 * that misbehaves (bad bytes, unknown sid, too slow, reset) is closed on
 * its own, and a quorum link's end is reported once by link_down.  No
 * peer can make another connection fail or make the caller block.
 */
#ifndef PADDOCK_PEER_INT_H
#define PADDOCK_PEER_INT_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consensus/peerwire_int.h"
#include "consensus/zab_int.h"

/* peer_pollfds never needs more slots than this: 2 listeners; per member
 * an election connection, an election dial and a quorum link; at most
 * ZAB_MAX_MEMBERS accepted connections not yet identified (more are
 * closed at once). */
#define PEER_MAX_FDS (2 + 4 * ZAB_MAX_MEMBERS)

struct peer_member {
	int64_t sid;
	char host[256]; /* IP literal or a name, resolved once at create */
	int quorum_port;
	int election_port;
	bool observer;
};

struct peer_config {
	int64_t sid; /* myid: must be one of m[] */
	int n;	     /* members incl. self, 1..ZAB_MAX_MEMBERS */
	struct peer_member m[ZAB_MAX_MEMBERS];
	/* QuorumVerifier text put in every notification
	 * ("server.1=...\nversion=0"); copied; NULL: empty config */
	const char *qv;
	/* bytes waiting to be written on one connection before it is closed
	 * as too slow (0: 64 MiB) */
	size_t max_queue;
	/* a dial, or an accepted connection's identification, that takes
	 * longer is abandoned (0: 5000, QuorumCnxManager's cnxTO) */
	int connect_timeout_ms;
};

struct peer_ops {
	/* A notification from member `from` (never self).  As
	 * FastLeaderElection's WorkerReceiver: a note that does not decode
	 * is dropped and the connection kept; a state outside 0..3 is
	 * dropped when it comes from a voter, passed on from an observer.
	 * Duplicates and stale votes happen (resends on reconnect). */
	void (*vote)(void *arg, int64_t from, const struct zab_vote *v);
	/* The link dialled by peer_connect(peer) is connected. */
	void (*link_up)(void *arg, int64_t peer);
	/* The quorum link with `peer` closed or failed: once per link
	 * (a dial that fails, a link that breaks, is replaced by a new
	 * accepted one from the same sid, overflows max_queue or sends
	 * garbage).  Not for links the caller closed or replaced itself
	 * (peer_close, peer_connect), nor at peer_destroy. */
	void (*link_down)(void *arg, int64_t peer);
	/* A whole QuorumPacket on the quorum link with `from`.  On an
	 * accepted link the first one is the FOLLOWERINFO / OBSERVERINFO
	 * that named it.  p and what it points to live only for the call. */
	void (*packet)(void *arg, int64_t from, const struct qpkt *p);
	/* On a link we dialled (to a leader), after a SNAP packet was
	 * delivered: the bytes of the snapshot stream, in order, in pieces
	 * of any size (n > 0, p valid for the call).  Return 0: all n bytes
	 * taken, want more; 1: the snapshot ended after *used (<= n) bytes
	 * of p (the rest are QuorumPackets again); < 0: bad stream, the link
	 * is closed (link_down).  NULL: a SNAP is an ordinary packet. */
	int (*snap)(void *arg, int64_t from, const uint8_t *p, size_t n,
		    size_t *used);
};

struct peer;

/* Resolve every member's address, bind and listen on member sid's quorum
 * and election ports (on its configured host, SO_REUSEADDR).  c and ops
 * are copied (c->qv too); arg is handed to every callback.  NULL and
 * errno: EINVAL (bad config: n out of range, sid not a member, duplicate
 * sid, bad port), EADDRNOTAVAIL (a host does not resolve), ENOMEM, or
 * bind/listen's errno (EADDRINUSE). */
struct peer *peer_create(const struct peer_config *c,
			 const struct peer_ops *ops, void *arg);

/* Close every socket and free everything; no callbacks.  NULL is fine. */
void peer_destroy(struct peer *p);

/* Fill fds[0..ret) with the sockets and the events wanted now (POLLIN,
 * POLLOUT while output waits or a dial is under way).  max >=
 * PEER_MAX_FDS always suffices; with fewer, the rest wait for a later
 * round.  The array is remembered until the next peer_poll. */
int peer_pollfds(struct peer *p, struct pollfd *fds, int max);

/*
 * After poll(): accept, finish dials, read, write, expire timers, dial
 * for queued votes, and make the callbacks.  fds/nfds: exactly the array
 * peer_pollfds filled, revents set by poll() (the caller may poll it
 * together with its own fds, but passes this slice back unchanged).
 * fds == NULL: peer_poll polls its own sockets with a zero timeout
 * (for callers that cannot pass revents).  now_ms: a monotonic clock in
 * ms, the same one for every call.  Output queued by the callbacks is
 * written before it returns (one write per connection).
 */
void peer_poll(struct peer *p, const struct pollfd *fds, int nfds,
	       int64_t now_ms);

/* The time (now_ms clock) at which peer_poll must run at the latest even
 * if no socket is ready; INT64_MAX: none; 0 (or anything <= now): at
 * once (an event waits: a link_down, a dial to time-stamp). */
int64_t peer_deadline(const struct peer *p);

/* Queue a notification to member `to` (copied).  One slot per member: a
 * newer vote replaces one not yet handed to the socket; one already
 * handed to it is delivered too (so a vote queued twice before delivery
 * arrives once, the newer, if the connection was not up, and both, in
 * order, if it was).  Dials as QuorumCnxManager.connectOne does when
 * there is no connection: at once, then no more often than a backoff
 * from 100 ms to 1 s while votes stay undelivered.  A vote to self or to
 * a sid that is not a member is ignored. */
void peer_vote_send(struct peer *p, int64_t to, const struct zab_vote *v);

/* Open the quorum link to member `leader`'s quorum port, replacing (and
 * closing, without link_down) any link with it.  The outcome comes back
 * from peer_poll: link_up, or link_down if the dial fails or times out.
 * Packets may be queued with peer_send at once; they are written when the
 * dial completes.  0, ZBADARGUMENTS (not a member, or self), ZSYSTEMERROR
 * (ENOMEM). */
int peer_connect(struct peer *p, int64_t leader);

/* Queue one packet on the quorum link with `to` (encoded and copied: pkt
 * and its data are the caller's again on return).  Written at the end of
 * the current peer_poll, on POLLOUT, or at once when a batch of 64 KiB
 * has gathered.  0; ZCONNECTIONLOSS: no link with `to`, or the link just failed
 * (its queue went over max_queue, no memory, a write error: it is
 * closed and link_down follows from peer_poll); ZBADARGUMENTS: a
 * malformed packet or data over PW_JUTE_MAXBUFFER (nothing queued). */
int peer_send(struct peer *p, int64_t to, const struct qpkt *pkt);

/* A bulk run made elsewhere (a snapshot serialized by a thread of its
 * own): reserve its place after everything queued so far.  Packets sent
 * meanwhile queue behind it (up to 4 x max_queue) and nothing past the
 * place is written until peer_bulk_fill gives the bytes, taking *b.
 * *ticket names this link: a fill for a link that has since gone (or
 * been replaced) is dropped with ZCONNECTIONLOSS.  One run at a time: a
 * reserve while a run is pending closes the link.  An empty or failed
 * run (b->err) closes it too. */
int peer_bulk_reserve(struct peer *p, int64_t to, uint64_t *ticket);
int peer_bulk_fill(struct peer *p, int64_t to, uint64_t ticket,
		   struct jw *b);

/* Bytes queued on the link with `to` and not yet written, a bulk run
 * included (0: none or no link). */
size_t peer_queued(const struct peer *p, int64_t to);

/* Write what is queued on every connection now, as far as the sockets
 * take it (callers that send outside peer_poll may call it before
 * poll(); otherwise POLLOUT does it one round later). */
void peer_flush(struct peer *p);

/* Close the quorum link with `peer` (queued output is dropped).  No
 * link_down for it, even one already pending. */
void peer_close(struct peer *p, int64_t peer);

#endif
