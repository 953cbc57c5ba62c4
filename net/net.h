/*
 * net.h — paddock's user-space IPv4 stack for the DPDK dataplane
 * (issue 15): Ethernet, ARP, IPv4, ICMP echo and TCP.
 *
 * Design
 * ------
 * The stack is ours, not lwIP (dataplane/PROTOCOL.md §9: lwIP's linear
 * PCB lookup, global state and per-packet malloc measured 4-78x our fast
 * path's cost per request).  It is a pure state machine in the manner of
 * the ZAB core: frames and time come in (net_input, with the caller's
 * clock), frames go out through one callback, and nothing else is
 * touched: no clock, no syscall, no lock, no allocation after
 * net_create.  One instance per worker core, each fed by its own RX
 * queue, so nothing is shared; the DPDK backend owns the port, the
 * mbufs and the bursts.  Being pure it is unit-tested and fuzzed on
 * byte arrays, with no NIC.
 *
 * What it answers now:
 *  - ARP requests for its address (RFC 826), learning the asker's MAC;
 *    the ARP cache (NET_ARP_SLOTS entries, replaced by age) also learns
 *    from replies to our own requests;
 *  - ICMP echo requests to its address (RFC 792), the reply carrying the
 *    request's identifier, sequence number and data.
 * Everything else is counted and dropped: frames too short or not IPv4
 * or ARP, IPv4 with a bad header checksum, options that do not fit, a
 * total length past the frame, fragments (a coordination service's
 * requests never need them; the TCP MSS keeps peers from sending any),
 * packets to another address, protocols with no handler yet.  A frame
 * is read only within its length, whatever its headers claim.
 *
 * TCP (net/tcp.c): a server-grade TCP behind a socket-like API that the
 * DPDK backend maps onto struct dp_backend_ops (dataplane/backend_int.h)
 * one to one — listen, accept, recv, send (an iovec, copied into the
 * connection's send ring), close — with events (accept, readable,
 * writable, hung up) queued for the backend's poll.
 *  - Connections live in a table allocated at net_create
 *    (tcp_conns of them, each with its send and receive ring), found by
 *    an open-addressed index on the 4-tuple; a connection is a stable
 *    uint32_t id until the application closes it.  SYN_RCVD
 *    connections are bounded by tcp_half_open, and a listener's
 *    half-open plus unaccepted ones by its backlog; a SYN past either is
 *    dropped (the peer retries), never a crash or an allocation.
 *  - Passive and active open; MSS (ours: 1460) and window scaling
 *    (RFC 7323) negotiated in the SYNs; ISNs from a keyed hash of the
 *    4-tuple plus a 4 µs clock (RFC 6528), the key from the caller.
 *  - RTO per RFC 6298 (SRTT/RTTVAR, Karn's rule, exponential backoff,
 *    tcp_rto_min_ms floor); fast retransmit after three duplicate ACKs
 *    with NewReno recovery (RFC 6582); congestion window per RFC 5681
 *    with an initial window of 10 segments (RFC 6928).
 *  - Delayed ACK: every second full-sized segment is ACKed at once,
 *    otherwise within tcp_delack_ms, or with the reply (a request
 *    answered in the same poll pays no extra frame).  Out-of-order data
 *    waits in the receive ring at its place (up to four ranges a
 *    connection); each such segment gets an immediate duplicate ACK
 *    with SACK blocks naming what is kept (RFC 2018, when the peer's SYN
 *    offered it), so the peer's fast retransmit fills the hole, and the
 *    segment that fills it is ACKed at once.  The peer's SACK blocks
 *    count its ACKs as duplicates; Limited Transmit (RFC 3042).
 *  - Window updates when the application's reads open the window by
 *    two segments or half the ring; zero-window probes (persist timer)
 *    toward a peer that stops reading; keep-alive probes after
 *    tcp_keepalive_ms idle.
 *  - FIN in both directions, RST for segments of no connection (RFC 793
 *    §3.4) and on close with unread data (RFC 2525), acceptable-segment
 *    checks per RFC 793 and RFC 5961's challenge ACK for in-window SYN
 *    and RST; TIME_WAIT lasts tcp_timewait_ms.
 *  - Timers in a wheel of 1 ms slots: a pass touches only the
 *    connections whose slot has come.
 * Checksums are computed and checked in software.
 */
#ifndef PADDOCK_NET_H
#define PADDOCK_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define NET_ARP_SLOTS 64
#define NET_FRAME_MAX 1514 /* Ethernet without FCS, MTU 1500 */

struct net_config {
	uint8_t mac[6];
	uint32_t ip;	  /* host order */
	uint32_t netmask; /* host order */
	uint32_t gateway; /* host order, 0: none */
	/* each frame to send; `frame` is the stack's scratch, valid until
	 * the call returns (the backend copies it into an mbuf) */
	void (*tx)(void *arg, const void *frame, size_t len);
	void *tx_arg;
	/* TCP; 0 takes the default in brackets */
	uint32_t tcp_conns;	     /* connections at most [1024] */
	uint32_t tcp_half_open;	     /* SYN_RCVD at most [256] */
	uint32_t tcp_sndbuf;	     /* bytes, rounded up to a power of two
				      * [65536] */
	uint32_t tcp_rcvbuf;	     /* likewise [65536] */
	uint32_t tcp_rto_min_ms;     /* [200] */
	uint32_t tcp_rto_max_ms;     /* [60000] */
	uint32_t tcp_retries;	     /* RTOs in a row before giving up [8] */
	uint32_t tcp_syn_retries;    /* SYN or SYN-ACK resends [5] */
	uint32_t tcp_delack_ms;	     /* [10] */
	uint32_t tcp_keepalive_ms;   /* idle before probing [7200000] */
	uint32_t tcp_keepalive_intvl_ms; /* [75000] */
	uint32_t tcp_keepalive_probes;	 /* [9] */
	uint32_t tcp_timewait_ms;	 /* [1000] */
	uint64_t tcp_isn_key[2];	 /* RFC 6528's secret: random */
};

struct net_stats {
	uint64_t rx_frames;
	uint64_t tx_frames;
	uint64_t arp_replies;	 /* answers to requests for us */
	uint64_t arp_learned;	 /* cache entries made or refreshed */
	uint64_t icmp_echoes;	 /* echo requests answered */
	uint64_t drop_short;	 /* shorter than its headers */
	uint64_t drop_ethertype; /* neither IPv4 nor ARP */
	uint64_t drop_bad_ip;	 /* version, header length or checksum */
	uint64_t drop_fragment;
	uint64_t drop_not_ours;	 /* another address (or broadcast) */
	uint64_t drop_no_proto;	 /* no handler for the protocol yet */
	uint64_t drop_bad_icmp;	 /* ICMP checksum */
	uint64_t tcp_drop_csum;	 /* TCP checksum */
	uint64_t tcp_drop_bad;	 /* header length, flags, unacceptable */
	uint64_t tcp_drop_syn;	 /* SYNs past the half-open or backlog bound */
	uint64_t tcp_rst_sent;
	uint64_t tcp_rst_rcvd;
	uint64_t tcp_accepted;	 /* passive opens established */
	uint64_t tcp_connected;	 /* active opens established */
	uint64_t tcp_retransmits; /* segments sent again (RTO or fast) */
	uint64_t tcp_fast_retransmits;
	uint64_t tcp_rtos;	   /* retransmission timeouts */
	uint64_t tcp_ooo;	   /* out-of-order segments (data kept) */
	uint64_t tcp_timeouts;	   /* connections given up (RTO, keep-alive) */
	uint64_t tcp_conns;	   /* connections in the table now, any state */
};

struct net;

/* NULL if cfg is unusable (no tx, a zero or multicast MAC, a zero IP)
 * or out of memory. */
struct net *net_create(const struct net_config *cfg);
void net_destroy(struct net *n);

/* One received Ethernet frame (without FCS); now_ms is the caller's
 * monotonic clock, used for the ARP cache's ages. */
void net_input(struct net *n, const void *frame, size_t len, int64_t now_ms);

/* The MAC for ip (host order) if the cache has it, and no older than
 * max_age_ms: 1 and *mac filled; else 0, and an ARP request for it is
 * sent (at most one per ip every second). */
int net_arp_resolve(struct net *n, uint32_t ip, int64_t now_ms,
		    int64_t max_age_ms, uint8_t mac[6]);

const struct net_stats *net_stats(const struct net *n);

/* Run the timers due by now_ms (the caller's monotonic clock, as given
 * to net_input; it never goes back).  Call it every millisecond or so
 * while connections exist; net_input does not run timers. */
void net_tick(struct net *n, int64_t now_ms);

/* ------------------------------------------------------------------ */
/* TCP                                                                 */
/* ------------------------------------------------------------------ */
/* Events, as net_tcp_events reports them.  NET_EV_ACCEPT: connections
 * wait on the listener whose port is the token.  The others are about
 * the connection whose token is given (net_tcp_set_token): data or the
 * end of the stream can be read (NET_EV_IN; read until -EAGAIN, the
 * event comes again only after new data), send space opened after a
 * send fell short (NET_EV_OUT, once per shortfall), the connection
 * ended abnormally (NET_EV_HUP with NET_EV_IN: reset or timed out, recv
 * tells which) or an active open finished (NET_EV_OUT: established;
 * NET_EV_HUP: refused or timed out). */
enum {
	NET_EV_IN = 1u << 0,
	NET_EV_OUT = 1u << 1,
	NET_EV_HUP = 1u << 2,
	NET_EV_ACCEPT = 1u << 3,
};

struct net_event {
	uint64_t token;
	uint32_t what;
	uint32_t id; /* the connection's id (NET_EV_ACCEPT: 0) */
};

/* Connection states (RFC 793), as net_tcp_state reports them. */
enum net_tcp_state {
	NET_TCP_CLOSED,
	NET_TCP_SYN_SENT,
	NET_TCP_SYN_RCVD,
	NET_TCP_ESTABLISHED,
	NET_TCP_FIN_WAIT_1,
	NET_TCP_FIN_WAIT_2,
	NET_TCP_CLOSING,
	NET_TCP_TIME_WAIT,
	NET_TCP_CLOSE_WAIT,
	NET_TCP_LAST_ACK,
};

#define NET_TCP_LISTENERS 8

/* Accept connections to port (SYNs to a port with no listener get a
 * RST).  backlog bounds the connections half-open or waiting to be
 * accepted.  0, -EADDRINUSE, -ENOSPC (NET_TCP_LISTENERS) or -EINVAL. */
int net_tcp_listen(struct net *n, uint16_t port, uint32_t backlog);

/* Take one established connection waiting on port: its id, and the
 * peer's address and port (host order).  0, or -EAGAIN. */
int net_tcp_accept(struct net *n, uint16_t port, uint32_t *id,
		   uint32_t *peer_ip, uint16_t *peer_port);

/* Open a connection to ip:port (host order) from an ephemeral port: its
 * id now, NET_EV_OUT once established, NET_EV_HUP if refused or timed
 * out.  The SYN waits for ARP when the next hop's MAC is not cached.
 * 0, -ENOSPC (table full), -EADDRNOTAVAIL (no ephemeral port free) or
 * -ENETUNREACH (off the subnet with no gateway). */
int net_tcp_connect(struct net *n, uint32_t ip, uint16_t port,
		    uint32_t *id);

/* The token events report for id (0 until set). */
void net_tcp_set_token(struct net *n, uint32_t id, uint64_t token);
uint64_t net_tcp_token(const struct net *n, uint32_t id);

/* Copy up to len received bytes out: a count, 0 at the end of the
 * stream (the peer's FIN, all read), -EAGAIN, or -ECONNRESET,
 * -ETIMEDOUT, -ECONNREFUSED (the connection is gone; close it). */
ssize_t net_tcp_recv(struct net *n, uint32_t id, void *buf, size_t len);

/* Would net_tcp_recv return something other than -EAGAIN (data, the
 * end of the stream, an error)?  For a backend whose callers expect
 * level-triggered readiness. */
int net_tcp_readable(const struct net *n, uint32_t id);

/* Copy iov[0..cnt-1] into the send ring (as much as fits) and transmit
 * what the windows allow now: the bytes taken, -EAGAIN if none fit (a
 * NET_EV_OUT follows), -EPIPE after a FIN or reset, -ENOTCONN before an
 * active open completes. */
ssize_t net_tcp_send(struct net *n, uint32_t id, const struct iovec *iov,
		     int cnt);

/* Hand id back: a FIN after what was sent (a RST instead when received
 * data was left unread); the stack finishes the close on its own.  id
 * is invalid afterwards. */
void net_tcp_close(struct net *n, uint32_t id);

/* Drop id with a RST at once.  id is invalid afterwards. */
void net_tcp_abort(struct net *n, uint32_t id);

/* Store at most max events in ev: how many. */
int net_tcp_events(struct net *n, struct net_event *ev, int max);

/* id's state (NET_TCP_CLOSED for an id not in use). */
enum net_tcp_state net_tcp_state(const struct net *n, uint32_t id);

/* The Internet checksum (RFC 1071) of len bytes, folded into 16 bits and
 * complemented, in network byte order as stored in a header; sum is a
 * partial sum to start from (net_csum_add's, for a pseudo-header).  A
 * header whose checksum field is included verifies if this returns 0. */
uint16_t net_csum(const void *p, size_t len, uint32_t sum);
/* The unfolded one's-complement sum of len bytes added to sum. */
uint32_t net_csum_add(const void *p, size_t len, uint32_t sum);

#endif
