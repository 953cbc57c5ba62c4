/*
 * sb_own.c — stack-bench's lean TCP: the server fast path paddock's own
 * stack would have.  A preallocated connection table (open addressing on
 * the client's address and port), nothing allocated per packet; each
 * request's reply is copied into the connection's send ring (kept for
 * retransmission) and sent at once with the ACK piggybacked; the RTO is
 * armed by storing a deadline.  Both checksums are checked and computed
 * in software, as lwIP does here.  A measuring prototype (sb.h): no
 * retransmission, FIN, RST, or queueing of a reply the window refuses.
 */
#include "sb.h"

#define NSLOT 8192 /* a power of two */
#define SNDBUF 8192
enum { T_FREE, T_SYN_RCVD, T_ESTAB };

struct tcb {
	uint32_t ip;
	uint16_t port, mss;
	uint8_t state, snd_ws;
	uint32_t iss, snd_una, snd_nxt, rcv_nxt, snd_wnd;
	uint64_t rto_at;
	uint32_t head; /* the send ring's bytes [snd_una, snd_nxt) end here */
	unsigned char ring[SNDBUF];
};

static struct tcb tab[NSLOT];
static sb_out_fn g_out;
static size_t g_reply;
static unsigned char g_rep[2048];
static unsigned char pkt_out[2048];
static uint32_t next_iss = 0x12345678;
static uint64_t now_ticks;

static struct tcb *find(uint32_t ip, uint16_t port, int make)
{
	uint32_t s = ((ip ^ ((uint32_t)port << 16 | port)) * 0x9e3779b1u) >>
		     19; /* 13 bits: NSLOT */

	for (int i = 0; i < NSLOT; i++, s = (s + 1) & (NSLOT - 1)) {
		struct tcb *t = &tab[s];
		if (t->state == T_FREE) {
			if (!make)
				return NULL;
			t->ip = ip;
			t->port = port;
			return t;
		}
		if (t->ip == ip && t->port == port)
			return t;
	}
	return NULL;
}

static void send_seg(const struct tcb *t, uint8_t flags, const void *data,
		     size_t len, int syn)
{
	unsigned char *ip = pkt_out, *tcp = pkt_out + 20;
	size_t thl = syn ? 28 : 20, tot = 20 + thl + len;

	memset(ip, 0, 20 + thl);
	ip[0] = 0x45;
	sb_put16(ip + 2, (uint16_t)tot);
	ip[6] = 0x40; /* DF */
	ip[8] = 64;
	ip[9] = 6;
	sb_put32(ip + 12, SB_SRV_IP);
	sb_put32(ip + 16, t->ip);
	sb_put_csum(ip + 10, sb_csum(ip, 20, 0));
	sb_put16(tcp, SB_SRV_PORT);
	sb_put16(tcp + 2, t->port);
	sb_put32(tcp + 4, syn ? t->iss : t->snd_nxt);
	sb_put32(tcp + 8, t->rcv_nxt);
	tcp[12] = (unsigned char)((thl / 4) << 4);
	tcp[13] = flags;
	sb_put16(tcp + 14, 0xffff); /* our window scale is 0 */
	if (syn) {
		static const unsigned char opt[8] = {2, 4, 1460 >> 8,
						     1460 & 0xff, 1, 3, 3, 0};
		memcpy(tcp + 20, opt, sizeof(opt)); /* MSS, NOP, WS 0 */
	}
	if (len)
		memcpy(tcp + thl, data, len);
	sb_put_csum(tcp + 16,
		    sb_csum(tcp, thl + len,
			    sb_pseudo(SB_SRV_IP, t->ip, (uint16_t)(thl + len))));
	g_out(pkt_out, tot);
}

/* the app's reply: into the send ring, then out with the ACK */
static void reply(struct tcb *t, const void *data, size_t len)
{
	size_t room = SNDBUF - (t->snd_nxt - t->snd_una);

	if (len > room || len > t->snd_wnd)
		return;
	for (size_t i = 0; i < len;) {
		size_t at = t->head % SNDBUF, n = SNDBUF - at;
		if (n > len - i)
			n = len - i;
		memcpy(t->ring + at, (const char *)data + i, n);
		t->head += (uint32_t)n;
		i += n;
	}
	send_seg(t, 0x18, data, len, 0); /* PSH|ACK */
	t->snd_nxt += (uint32_t)len;
	t->rto_at = now_ticks + 200;
}

static void syn_options(struct tcb *t, const unsigned char *tcp, size_t thl)
{
	t->mss = 536;
	t->snd_ws = 0;
	for (size_t o = 20; o + 1 < thl;) {
		uint8_t k = tcp[o], ol;
		if (k == 0)
			break;
		if (k == 1) {
			o++;
			continue;
		}
		ol = tcp[o + 1];
		if (ol < 2 || o + ol > thl)
			break;
		if (k == 2 && ol == 4)
			t->mss = sb_get16(tcp + o + 2);
		if (k == 3 && ol == 3)
			t->snd_ws = tcp[o + 2] > 14 ? 14 : tcp[o + 2];
		o += ol;
	}
}

static void own_input(const void *pkt, size_t len)
{
	const unsigned char *ip = pkt, *tcp;
	size_t ihl, tot, tl, thl, dlen;
	uint32_t src, seq, ack, wnd;
	uint16_t sport;
	uint8_t fl;
	struct tcb *t;

	if (len < 40 || (ip[0] >> 4) != 4)
		return;
	ihl = (size_t)(ip[0] & 15) * 4;
	tot = sb_get16(ip + 2);
	if (ihl < 20 || tot > len || tot < ihl + 20 || ip[9] != 6 ||
	    (sb_get16(ip + 6) & 0x3fff) || sb_csum(ip, ihl, 0) ||
	    sb_get32(ip + 16) != SB_SRV_IP)
		return; /* not ours, a fragment, or damaged */
	src = sb_get32(ip + 12);
	tcp = ip + ihl;
	tl = tot - ihl;
	thl = (size_t)(tcp[12] >> 4) * 4;
	if (thl < 20 || thl > tl ||
	    sb_csum(tcp, tl, sb_pseudo(src, SB_SRV_IP, (uint16_t)tl)) ||
	    sb_get16(tcp + 2) != SB_SRV_PORT)
		return;
	sport = sb_get16(tcp);
	seq = sb_get32(tcp + 4);
	ack = sb_get32(tcp + 8);
	fl = tcp[13];
	wnd = sb_get16(tcp + 14);
	dlen = tl - thl;
	if ((fl & 0x12) == 0x02) { /* SYN */
		t = find(src, sport, 1);
		if (!t)
			return;
		t->state = T_SYN_RCVD;
		t->iss = next_iss += 64000;
		t->snd_una = t->iss;
		t->snd_nxt = t->iss + 1;
		t->head = 0;
		t->rcv_nxt = seq + 1;
		t->snd_wnd = wnd;
		syn_options(t, tcp, thl);
		send_seg(t, 0x12, NULL, 0, 1);
		return;
	}
	t = find(src, sport, 0);
	if (!t || !(fl & 0x10))
		return;
	if ((int32_t)(ack - t->snd_una) > 0 && (int32_t)(ack - t->snd_nxt) <= 0) {
		if (t->state == T_SYN_RCVD)
			t->state = T_ESTAB;
		t->snd_una = ack;
		if (t->snd_una == t->snd_nxt)
			t->rto_at = 0;
	}
	t->snd_wnd = wnd << t->snd_ws;
	if (!dlen || t->state != T_ESTAB)
		return;
	if (seq != t->rcv_nxt) {
		send_seg(t, 0x10, NULL, 0, 0); /* a duplicate ACK */
		return;
	}
	t->rcv_nxt += (uint32_t)dlen;
	reply(t, g_rep, g_reply);
}

static int own_start(sb_out_fn out, size_t reply_len)
{
	g_out = out;
	g_reply = reply_len;
	memset(g_rep, 'r', sizeof(g_rep));
	return 0;
}

static void own_poll(void)
{
	now_ticks++;
}

const struct sb_stack sb_own = {"own lean TCP", own_start, own_input,
				own_poll};
