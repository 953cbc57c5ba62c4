/*
 * net_int.h — what net.c and tcp.c share: the stack's struct, the
 * header helpers and the frame output.  Private to net/.
 */
#ifndef PADDOCK_NET_INT_H
#define PADDOCK_NET_INT_H

#include <stdint.h>
#include <string.h>

#include "net/net.h"

enum {
	ETH_HLEN = 14,
	ETH_P_IP = 0x0800,
	ETH_P_ARP = 0x0806,
	IP_HLEN = 20,
	IPPROTO_ICMP_ = 1,
	IPPROTO_TCP_ = 6,
};

struct arp_slot {
	uint32_t ip; /* 0: free */
	uint8_t mac[6];
	int64_t seen_ms;  /* learned at */
	int64_t asked_ms; /* our last request for it, or INT64_MIN */
};

struct tcp; /* tcp.c */

struct net {
	struct net_config cfg;
	struct net_stats st;
	struct arp_slot arp[NET_ARP_SLOTS];
	uint16_t ip_id;
	int64_t now; /* the latest clock net_input or net_tick was given */
	struct tcp *tcp;
	unsigned char tx[NET_FRAME_MAX];
};

static inline uint16_t get16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline void put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static inline void put32(unsigned char *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* a checksum as net_csum returns it, stored as it comes */
static inline void put_csum(unsigned char *p, uint16_t c)
{
	memcpy(p, &c, sizeof(c));
}

/* net.c: n->tx's Ethernet header, and n->tx sent (padded to 60) */
void net_eth_header(struct net *n, const uint8_t dst[6], uint16_t type);
void net_send_frame(struct net *n, size_t len);
/* an IPv4 header at p (no options, DF), its checksum filled */
void net_ip_header(struct net *n, unsigned char *p, uint8_t proto,
		   uint32_t dst, size_t payload);

/* tcp.c */
struct tcp *tcp_create(struct net *n);
void tcp_destroy(struct tcp *t);
/* one TCP segment of tot bytes at seg, from the frame eth whose IPv4
 * header is ip (addresses checked: it is ours) */
void tcp_input(struct net *n, const unsigned char *eth,
	       const unsigned char *ip, const unsigned char *seg, size_t tot);
void tcp_tick(struct net *n);
/* ARP learned ip: active opens waiting for it send their SYN */
void tcp_arp_learned(struct net *n, uint32_t ip);

#endif
