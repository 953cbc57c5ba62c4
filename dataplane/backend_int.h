/*
 * backend_int.h — the connection backend: everything between the
 * protocol code and the bytes on the wire.
 *
 * The dataplane is two layers:
 *
 *   protocol   worker.c (loop glue, connection table, limits), jute.c
 *              (framing, flow control, batched output), proto.c
 *              (requests, replies, watches, auth), fourlw.c, watch.c
 *   ---------  struct dp_backend_ops (this header)
 *   backend    io_tcp.c: kernel TCP (epoll, listen/accept4,
 *              SO_REUSEPORT, TCP_NODELAY, EAGAIN, the sequencer's
 *              eventfd); io_dpdk.c: a DPDK port with net/'s TCP
 *
 * The protocol code never sees a socket: a connection's backend part is
 * a struct dp_link (an opaque handle the backend owns — the kernel
 * backend's fd, a DPDK backend's TCB — and a token the protocol side
 * chooses and the backend echoes in events).  The backend never sees a
 * frame or a struct dp_conn.  The table is chosen once per server at
 * start-up (STYLE.md "choose function tables once at setup").
 *
 * One struct dp_backend per worker, used only by that worker's thread,
 * except wake(), which any thread may call.  Nothing here allocates,
 * locks or makes more than one system call per call on the request path
 * (recv, send, interest, poll).
 *
 * Return values: counts or 0, else a negative errno value; -EAGAIN means
 * "nothing now, an event will say when" (EINTR is retried inside).
 */
#ifndef PADDOCK_DATAPLANE_BACKEND_INT_H
#define PADDOCK_DATAPLANE_BACKEND_INT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "config/config.h"

/* A connection as the backend sees it; embedded in the protocol's
 * connection.  `token` is the protocol's (set before attach), `h` the
 * backend's (set by accept). */
struct dp_link {
	uint64_t token;
	uintptr_t h;
};

/* The peer's address, as accept reports it (numeric). */
struct dp_peer {
	char ip[INET6_ADDRSTRLEN];
	int port;
};

/* What poll reports.  DP_EV_ACCEPT: connections wait to be accepted
 * (token unused).  The others are about the link whose token is given:
 * readable, writable (after interest asked for it), hung up or failed
 * (recv then reports it). */
enum {
	DP_EV_IN = 1u << 0,
	DP_EV_OUT = 1u << 1,
	DP_EV_HUP = 1u << 2,
	DP_EV_ACCEPT = 1u << 3,
};

struct dp_event {
	uint64_t token;
	uint32_t what;
};

/* Most events one poll reports. */
#define DP_POLL_MAX 256

struct dp_backend;

/* A user-space stack's counters (mntr's paddock_dpdk_* keys). */
struct dp_backend_stats {
	uint64_t conns;	      /* TCP connections in the stack, any state */
	uint64_t rx_frames, tx_frames;
	uint64_t tx_dropped;  /* no mbuf, or the TX ring full */
	uint64_t retransmits; /* TCP segments sent again */
	uint64_t timeouts;    /* connections given up (RTO, keep-alive) */
	uint64_t resets;      /* RSTs sent */
	uint64_t mbufs_in_use;
};

struct dp_backend_ops {
	const char *name;
	/* Once per server, before any open: check that the client port
	 * can be served (kernel: no other process holds it).  0 or -1 with
	 * a message in err. */
	int (*check)(const struct zcfg *cfg, char *err, size_t err_len);
	/* Worker idx's backend, listening on clientPortAddress:clientPort
	 * (kernel: its own SO_REUSEPORT listener).  `wake_fd` is the
	 * sequencer's eventfd for this worker (zab_worker_fd): a backend
	 * that blocks in poll must wake when it is readable.  NULL with a
	 * message in err. */
	struct dp_backend *(*open)(const struct zcfg *cfg, int idx, int wake_fd,
				   char *err, size_t err_len);
	/* Release the backend and its listener; links must be closed. */
	void (*destroy)(struct dp_backend *b);
	/* One poll step: wait at most timeout_ms (0: do not wait; the
	 * caller is RCU-offline if it may block) for events, drive the
	 * backend's own receive bursts and timers, and store at most n
	 * events in ev.  Returns how many (0 on timeout). */
	int (*poll)(struct dp_backend *b, int timeout_ms, struct dp_event *ev,
		    int n);
	/* Make a blocked poll of b return.  Any thread. */
	void (*wake)(struct dp_backend *b);
	/* Report DP_EV_ACCEPT or not (the connection-rate throttle leaves
	 * new connections waiting in the backlog). */
	void (*listen_set)(struct dp_backend *b, bool on);
	/* Take one waiting connection: sets l->h and *peer and returns 0;
	 * -EAGAIN when none waits; another negative errno on failure. */
	int (*accept)(struct dp_backend *b, struct dp_link *l,
		      struct dp_peer *peer);
	/* Start reporting events for an accepted link (readable, not
	 * writable) under l->token.  0 or a negative errno (then close). */
	int (*attach)(struct dp_backend *b, struct dp_link *l);
	/* Which events to report for l: readable, writable. */
	void (*interest)(struct dp_backend *b, struct dp_link *l, bool rd,
			 bool wr);
	/* Receive up to len bytes: a count, 0 at end of stream, -EAGAIN,
	 * or another negative errno (the connection is lost).  Readiness
	 * is level-triggered: while bytes (or the end of stream) wait
	 * after a recv, the link is reported readable again, so a caller
	 * may stop at a short count instead of reading until -EAGAIN. */
	ssize_t (*recv)(struct dp_backend *b, struct dp_link *l, void *buf,
			size_t len);
	/* Send from iov[0..n-1] (one batch): the count of bytes taken
	 * (possibly fewer), -EAGAIN, or another negative errno. */
	ssize_t (*send)(struct dp_backend *b, struct dp_link *l,
			const struct iovec *iov, int n);
	/* Close l (attached or not); its handle is invalid afterwards. */
	void (*close)(struct dp_backend *b, struct dp_link *l);
	/* Optional: true if b's poll never blocks (it busy-polls a queue):
	 * the worker then polls with timeout 0 and never tells the
	 * sequencer it sleeps. */
	bool (*spins)(const struct dp_backend *b);
	/* Optional (NULL: the kernel keeps these): add b's counters to *s.
	 * Any thread; the owner publishes them once a poll. */
	void (*stats)(struct dp_backend *b, struct dp_backend_stats *s);
	/* Optional: the id a verified client certificate gives the link
	 * (TLS, x509 auth: its subject); the length, 0 if none. */
	size_t (*peer_id)(struct dp_backend *b, struct dp_link *l, char *buf,
			  size_t len);
};

/* io_tcp.c */
extern const struct dp_backend_ops dp_tcp_backend;
/* io_dpdk.c: paddock.dataplane=dpdk */
extern const struct dp_backend_ops dp_dpdk_backend;

#endif
