/*
 * net.h — paddock's user-space IPv4 stack for the DPDK dataplane
 * (issue 15): Ethernet, ARP, IPv4 and ICMP echo so far; TCP comes next.
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
 * TCP, the next step (the plan; stackbench/sb_own.c measured its fast
 * path): a socket-like API for the DPDK backend's struct
 * dp_backend_ops (dataplane/backend_int.h) — listen, an accept queue,
 * recv copying out of a per-connection receive ring, send copying an
 * iovec into a send ring, close — and events (accept, readable,
 * writable, hung up) queued for the backend's poll.  Connections live in
 * a table allocated at net_create (a maximum from the config, open
 * addressing on the 4-tuple), their rings in a pool made then too; a
 * half-open count bounded by its own limit.  Passive open with MSS and
 * window scaling (RFC 7323), ISNs from a keyed hash (RFC 6528); RTO and
 * its estimator per RFC 6298 with Karn's rule, fast retransmit after
 * three duplicate ACKs, Reno congestion control with an initial window
 * of 10 segments (RFC 6928), delayed ACK (one per two segments or 40
 * ms), keep-alive, FIN in both directions, RST for segments of no
 * connection, a short TIME_WAIT (the server closes first only to drop a
 * client).  Timers in a wheel of 1 ms slots, since a poll loop cannot
 * scan thousands of connections per pass.  Tested like the rest of
 * net/: a synthetic peer in unit tests and the fuzzer, then kernel
 * clients through a veth with tc netem loss, delay and reorder.
 */
#ifndef PADDOCK_NET_H
#define PADDOCK_NET_H

#include <stddef.h>
#include <stdint.h>

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

/* The Internet checksum (RFC 1071) of len bytes, folded into 16 bits and
 * complemented, in network byte order as stored in a header; sum is a
 * partial sum to start from (net_csum_add's, for a pseudo-header).  A
 * header whose checksum field is included verifies if this returns 0. */
uint16_t net_csum(const void *p, size_t len, uint32_t sum);
/* The unfolded one's-complement sum of len bytes added to sum. */
uint32_t net_csum_add(const void *p, size_t len, uint32_t sum);

#endif
