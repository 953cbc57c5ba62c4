/*
 * net.c — Ethernet, ARP, IPv4 and ICMP echo (net.h).
 *
 * Headers are read and written byte by byte through the get/put helpers
 * (frames are not aligned, and the stack runs on any endianness); the
 * checksum alone works on native words (RFC 1071 §2: the sum is
 * byte-order independent) and its result is stored as it comes.
 */
#include <stdlib.h>
#include <string.h>

#include "net/net_int.h"

enum {
	ARP_LEN = 28, /* Ethernet/IPv4 ARP */
	ICMP_ECHO_REPLY = 0,
	ICMP_ECHO_REQUEST = 8,
	ICMP_HLEN = 8,
	ARP_RETRY_MS = 1000,
};

static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* ------------------------------------------------------------------ */
/* Checksum                                                             */
/* ------------------------------------------------------------------ */
uint32_t net_csum_add(const void *p, size_t len, uint32_t sum)
{
	const unsigned char *b = p;
	uint64_t acc = sum;

	/* 32-bit halves of 64-bit loads into 64-bit sums: the carries
	 * are folded back at the end, which one's-complement addition
	 * allows; four sums, so the adds of a 32-byte block do not wait on
	 * each other.  Whole-word loads: copying the block into a uint32_t
	 * array went through the stack (a 16-byte store, then 4-byte loads
	 * of it), a third of this function's time */
	uint64_t a1 = 0, a2 = 0, a3 = 0;
	const uint64_t lo = 0xffffffffu;

	while (len >= 32) {
		uint64_t w0, w1, w2, w3;

		memcpy(&w0, b, 8);
		memcpy(&w1, b + 8, 8);
		memcpy(&w2, b + 16, 8);
		memcpy(&w3, b + 24, 8);
		acc += (w0 & lo) + (w0 >> 32);
		a1 += (w1 & lo) + (w1 >> 32);
		a2 += (w2 & lo) + (w2 >> 32);
		a3 += (w3 & lo) + (w3 >> 32);
		b += 32;
		len -= 32;
	}
	acc = (acc & lo) + (acc >> 32) + (a1 & lo) + (a1 >> 32) + (a2 & lo) +
	      (a2 >> 32) + (a3 & lo) + (a3 >> 32);
	while (len >= 8) {
		uint64_t w;

		memcpy(&w, b, 8);
		acc += (w & lo) + (w >> 32);
		b += 8;
		len -= 8;
	}
	if (len >= 4) {
		uint32_t w;

		memcpy(&w, b, sizeof(w));
		acc += w;
		b += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t w;

		memcpy(&w, b, sizeof(w));
		acc += w;
		b += 2;
		len -= 2;
	}
	if (len) {
		uint16_t w = 0;

		memcpy(&w, b, 1); /* the odd byte, padded with a zero */
		acc += w;
	}
	acc = (acc & 0xffffffffu) + (acc >> 32);
	acc = (acc & 0xffffffffu) + (acc >> 32);
	return (uint32_t)acc;
}

uint16_t net_csum(const void *p, size_t len, uint32_t sum)
{
	uint32_t s = net_csum_add(p, len, sum);

	s = (s & 0xffffu) + (s >> 16);
	s = (s & 0xffffu) + (s >> 16);
	return (uint16_t)~s;
}

/* ------------------------------------------------------------------ */
/* Frames out                                                           */
/* ------------------------------------------------------------------ */
void net_eth_header(struct net *n, const uint8_t dst[6], uint16_t type)
{
	memcpy(n->tx, dst, 6);
	memcpy(n->tx + 6, n->cfg.mac, 6);
	put16(n->tx + 12, type);
}

void net_send_frame(struct net *n, size_t len)
{
	/* Ethernet's minimum: the NIC pads, af_packet does not */
	if (len < 60) {
		memset(n->tx + len, 0, 60 - len);
		len = 60;
	}
	n->st.tx_frames++;
	n->cfg.tx(n->cfg.tx_arg, n->tx, len);
}

void net_ip_header(struct net *n, unsigned char *p, uint8_t proto,
		   uint32_t dst, size_t payload)
{
	memset(p, 0, IP_HLEN);
	p[0] = 0x45;
	put16(p + 2, (uint16_t)(IP_HLEN + payload));
	put16(p + 4, n->ip_id++);
	p[6] = 0x40; /* DF: TCP's MSS keeps segments within the MTU */
	p[8] = 64;   /* TTL */
	p[9] = proto;
	put32(p + 12, n->cfg.ip);
	put32(p + 16, dst);
	put_csum(p + 10, net_csum(p, IP_HLEN, 0));
}

static void send_arp(struct net *n, uint16_t op, const uint8_t tha[6],
		     uint32_t tpa, const uint8_t eth_dst[6])
{
	unsigned char *a = n->tx + ETH_HLEN;

	net_eth_header(n, eth_dst, ETH_P_ARP);
	put16(a, 1);		/* Ethernet */
	put16(a + 2, ETH_P_IP); /* IPv4 */
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, n->cfg.mac, 6);
	put32(a + 14, n->cfg.ip);
	memcpy(a + 18, tha, 6);
	put32(a + 24, tpa);
	net_send_frame(n, ETH_HLEN + ARP_LEN);
}

/* ------------------------------------------------------------------ */
/* ARP                                                                  */
/* ------------------------------------------------------------------ */
static struct arp_slot *arp_find(struct net *n, uint32_t ip)
{
	for (int i = 0; i < NET_ARP_SLOTS; i++)
		if (n->arp[i].ip == ip)
			return &n->arp[i];
	return NULL;
}

/* ip's slot, made (replacing the least recently learned) if missing */
static struct arp_slot *arp_slot_for(struct net *n, uint32_t ip)
{
	struct arp_slot *s = arp_find(n, ip), *old = &n->arp[0];

	if (s)
		return s;
	for (int i = 0; i < NET_ARP_SLOTS; i++) {
		if (!n->arp[i].ip) {
			old = &n->arp[i];
			break;
		}
		if (n->arp[i].seen_ms < old->seen_ms)
			old = &n->arp[i];
	}
	memset(old, 0, sizeof(*old));
	old->ip = ip;
	old->seen_ms = INT64_MIN;
	old->asked_ms = INT64_MIN;
	return old;
}

static void arp_learn(struct net *n, uint32_t ip, const uint8_t mac[6],
		      int64_t now_ms)
{
	struct arp_slot *s = arp_slot_for(n, ip);

	memcpy(s->mac, mac, 6);
	s->seen_ms = now_ms;
	n->st.arp_learned++;
	tcp_arp_learned(n, ip);
}

static void arp_input(struct net *n, const unsigned char *a, size_t len,
		      int64_t now_ms)
{
	uint32_t spa, tpa;
	uint16_t op;

	if (len < ARP_LEN) {
		n->st.drop_short++;
		return;
	}
	if (get16(a) != 1 || get16(a + 2) != ETH_P_IP || a[4] != 6 ||
	    a[5] != 4) {
		n->st.drop_ethertype++;
		return;
	}
	op = get16(a + 6);
	spa = get32(a + 14);
	tpa = get32(a + 24);
	if (tpa != n->cfg.ip || (op != 1 && op != 2)) {
		n->st.drop_not_ours++;
		return;
	}
	/* RFC 826's merge: whoever asks us or answers us is remembered */
	if (spa && !(a[8] & 1))
		arp_learn(n, spa, a + 8, now_ms);
	if (op == 1) {
		n->st.arp_replies++;
		send_arp(n, 2, a + 8, spa, a + 8);
	}
}

int net_arp_resolve(struct net *n, uint32_t ip, int64_t now_ms,
		    int64_t max_age_ms, uint8_t mac[6])
{
	static const uint8_t zero[6];
	struct arp_slot *s = arp_find(n, ip);

	if (s && s->seen_ms != INT64_MIN && now_ms - s->seen_ms <= max_age_ms) {
		memcpy(mac, s->mac, 6);
		return 1;
	}
	s = arp_slot_for(n, ip);
	if (s->asked_ms == INT64_MIN || now_ms - s->asked_ms >= ARP_RETRY_MS) {
		s->asked_ms = now_ms;
		send_arp(n, 1, zero, ip, bcast);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* IPv4 and ICMP                                                        */
/* ------------------------------------------------------------------ */
static void icmp_input(struct net *n, const unsigned char *eth,
		       const unsigned char *ip, const unsigned char *icmp,
		       size_t len)
{
	unsigned char *rip = n->tx + ETH_HLEN, *r = rip + IP_HLEN;

	if (len < ICMP_HLEN) {
		n->st.drop_short++;
		return;
	}
	if (net_csum(icmp, len, 0)) {
		n->st.drop_bad_icmp++;
		return;
	}
	if (icmp[0] != ICMP_ECHO_REQUEST || icmp[1] != 0 ||
	    ETH_HLEN + IP_HLEN + len > NET_FRAME_MAX) {
		n->st.drop_no_proto++;
		return;
	}
	/* to the frame's sender, not through ARP: the answer goes back
	 * the way the request came */
	net_eth_header(n, eth + 6, ETH_P_IP);
	net_ip_header(n, rip, IPPROTO_ICMP_, get32(ip + 12), len);
	memcpy(r, icmp, len);
	r[0] = ICMP_ECHO_REPLY;
	r[2] = r[3] = 0;
	put_csum(r + 2, net_csum(r, len, 0));
	n->st.icmp_echoes++;
	net_send_frame(n, ETH_HLEN + IP_HLEN + len);
}

static void ip_input(struct net *n, const unsigned char *eth,
		     const unsigned char *ip, size_t len)
{
	size_t ihl, tot;

	if (len < IP_HLEN) {
		n->st.drop_short++;
		return;
	}
	ihl = (size_t)(ip[0] & 15) * 4;
	tot = get16(ip + 2);
	if ((ip[0] >> 4) != 4 || ihl < IP_HLEN || ihl > len || tot < ihl) {
		n->st.drop_bad_ip++;
		return;
	}
	if (tot > len) { /* Ethernet padding only ever adds bytes */
		n->st.drop_short++;
		return;
	}
	if (net_csum(ip, ihl, 0)) {
		n->st.drop_bad_ip++;
		return;
	}
	if (get16(ip + 6) & 0x3fff) { /* MF, or an offset */
		n->st.drop_fragment++;
		return;
	}
	if (get32(ip + 16) != n->cfg.ip) {
		n->st.drop_not_ours++;
		return;
	}
	if (ip[9] == IPPROTO_TCP_) {
		tcp_input(n, eth, ip, ip + ihl, tot - ihl);
		return;
	}
	if (ip[9] == IPPROTO_ICMP_) {
		icmp_input(n, eth, ip, ip + ihl, tot - ihl);
		return;
	}
	n->st.drop_no_proto++;
}

void net_input(struct net *n, const void *frame, size_t len, int64_t now_ms)
{
	const unsigned char *f = frame;
	uint16_t type;

	n->st.rx_frames++;
	if (now_ms > n->now)
		n->now = now_ms;
	if (len < ETH_HLEN) {
		n->st.drop_short++;
		return;
	}
	type = get16(f + 12);
	if (type == ETH_P_ARP)
		arp_input(n, f + ETH_HLEN, len - ETH_HLEN, now_ms);
	else if (type == ETH_P_IP)
		ip_input(n, f, f + ETH_HLEN, len - ETH_HLEN);
	else
		n->st.drop_ethertype++;
}

/* ------------------------------------------------------------------ */
struct net *net_create(const struct net_config *cfg)
{
	static const uint8_t zero[6];
	struct net *n;

	if (!cfg || !cfg->tx || !cfg->ip || !memcmp(cfg->mac, zero, 6) ||
	    (cfg->mac[0] & 1))
		return NULL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->cfg = *cfg;
	n->tcp = tcp_create(n);
	if (!n->tcp) {
		free(n);
		return NULL;
	}
	return n;
}

void net_destroy(struct net *n)
{
	if (!n)
		return;
	tcp_destroy(n->tcp);
	free(n);
}

void net_tick(struct net *n, int64_t now_ms)
{
	if (now_ms > n->now)
		n->now = now_ms;
	tcp_tick(n);
}

const struct net_stats *net_stats(const struct net *n)
{
	return &n->st;
}
