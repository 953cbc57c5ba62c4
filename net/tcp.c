/*
 * tcp.c — TCP (net.h has the design and the API).
 *
 * Connection records (struct tcb) sit in one array made at net_create,
 * with the send and receive rings in one block beside it; a record's
 * index is the id the application holds.  Free records are chained
 * through q_next, as are a listener's established-but-unaccepted ones.
 * The 4-tuple index is open addressing with linear probing and
 * backward-shift deletion, so it never fills with tombstones.
 *
 * Sequence space: the send ring holds [snd_una, snd_end), byte s at
 * (s - iss - 1) & smask; snd_nxt is the next to send (it goes back to
 * snd_una on a timeout), snd_max the highest sent.  A FIN the
 * application asked for (F_FIN_Q) takes the sequence number snd_end.
 * The receive ring holds the rcv_len bytes the application has not read,
 * from rcv_rd.
 *
 * Each record has three deadlines — rto_at (retransmission, persist
 * probes, the SYN and the ARP wait), ack_at (delayed ACK) and idle_at
 * (keep-alive, TIME_WAIT, FIN_WAIT_2) — and sits in the timer wheel's
 * slot for the earliest; keep-alive's deadline is checked lazily against
 * the time the last segment came, so a segment costs no relinking.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "net/net_int.h"

#define NIL UINT32_MAX
#define WHEEL 1024 /* slots of 1 ms, a power of two */
#define OUR_MSS (NET_FRAME_MAX - ETH_HLEN - IP_HLEN - 20)
#define LST_BIT 0x80000000u /* an event queue entry naming a listener */
#define FIN_WAIT_2_MS 60000
#define ARP_WAIT_MS 3000 /* an active open's wait for the next hop */
#define ARP_POLL_MS 10
#define NOOO 4 /* out-of-order ranges kept per connection */

#define SEQ_LT(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define SEQ_LE(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) <= 0)
#define SEQ_GT(a, b) SEQ_LT(b, a)
#define SEQ_GE(a, b) SEQ_LE(b, a)

enum { /* TCP header flags */
       TH_FIN = 0x01,
       TH_SYN = 0x02,
       TH_RST = 0x04,
       TH_PSH = 0x08,
       TH_ACK = 0x10,
};

enum { /* struct tcb's flags */
       F_APP = 1 << 0,	   /* the application holds the id */
       F_EVQ = 1 << 1,	   /* on the event queue (survives reuse) */
       F_ACCEPTQ = 1 << 2, /* on a listener's accept queue */
       F_FIN_RCVD = 1 << 3,
       F_FIN_Q = 1 << 4,   /* our FIN goes after the data */
       F_RECOVERY = 1 << 5,
       F_WANT_OUT = 1 << 6, /* a send fell short */
       F_RTT = 1 << 7,	    /* a segment is being timed */
       F_PERSIST = 1 << 8,  /* rto_at is the zero-window probe's */
       F_NOMAC = 1 << 9,    /* an active open waits for ARP */
       F_ACK_NOW = 1 << 10,
       F_HASHED = 1 << 11,
       F_WS = 1 << 12,	 /* the peer's SYN offered window scaling */
       F_SACK = 1 << 13, /* ... and SACK */
};

struct tcb {
	uint8_t state;
	uint8_t snd_ws, rcv_ws;
	uint8_t dupacks, retries, ka_probes;
	uint8_t lt; /* segments Limited Transmit allows past cwnd */
	uint8_t lst; /* the listener of a passive open */
	uint8_t err; /* an errno for recv once the connection is gone */
	uint8_t ev;  /* events not yet reported */
	uint16_t flags;
	uint16_t lport, rport;
	uint16_t mss; /* the largest segment we send */
	uint8_t rmac[6];
	uint32_t rip;
	uint32_t iss, irs;
	uint32_t snd_una, snd_nxt, snd_max, snd_end;
	uint32_t snd_wnd, snd_wl1, snd_wl2;
	uint32_t cwnd, ssthresh, recover;
	uint32_t rcv_nxt, rcv_adv, rcv_unacked;
	uint8_t nooo;
	struct {
		uint32_t s, e;
	} ooo[NOOO]; /* out-of-order data in the ring: [s, e) ranges */
	uint32_t rcv_rd, rcv_len;
	uint32_t rtt_seq;
	int32_t srtt8, rttvar4; /* ms, scaled; srtt8 0: no sample yet */
	uint32_t rto;		/* ms */
	int64_t rtt_at, rto_at, ack_at, idle_at, last_rcv, arp_until;
	int64_t tm_at; /* the wheel's deadline: the earliest of the three */
	uint32_t tm_next, tm_prev;
	uint32_t q_next;
	uint64_t token;
	unsigned char *sbuf, *rbuf;
};

struct listener {
	uint16_t port; /* 0: unused */
	uint8_t queued;
	uint32_t backlog, pending; /* pending: half-open and unaccepted */
	uint32_t qhead, qtail;
};

struct tcp {
	struct tcb *c;
	unsigned char *bufs;
	uint32_t nconn, free_head, half_open;
	uint32_t *hidx; /* id + 1, 0: empty */
	uint32_t hmask;
	uint32_t sndbuf, rcvbuf, smask, rmask;
	uint8_t rcv_ws;
	uint16_t next_port;
	uint32_t arp_waiting;
	struct listener l[NET_TCP_LISTENERS];
	uint32_t *evq, evq_cap, evq_head, evq_len;
	uint32_t wheel[WHEEL];
	int64_t wheel_now;
	EVP_MAC *mac;
	EVP_MAC_CTX *isn;
	/* the config with its defaults */
	uint32_t half_open_max, rto_min, rto_max, retries, syn_retries,
		delack, ka_idle, ka_intvl, ka_probes, timewait;
	uint8_t key[16];
};

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static uint32_t min32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static uint32_t max32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

static uint32_t tcb_id(const struct tcp *t, const struct tcb *c)
{
	return (uint32_t)(c - t->c);
}

/* ------------------------------------------------------------------ */
/* The 4-tuple index                                                    */
/* ------------------------------------------------------------------ */
static uint32_t hash4(const struct tcp *t, uint32_t rip, uint16_t rport,
		      uint16_t lport)
{
	uint64_t h = ((uint64_t)rip << 32 | (uint32_t)rport << 16 | lport) *
		     0x9e3779b97f4a7c15ull;

	return (uint32_t)(h >> 32) & t->hmask;
}

static struct tcb *lookup(struct tcp *t, uint32_t rip, uint16_t rport,
			  uint16_t lport)
{
	for (uint32_t i = hash4(t, rip, rport, lport);; i = (i + 1) & t->hmask) {
		uint32_t v = t->hidx[i];
		struct tcb *c;

		if (!v)
			return NULL;
		c = &t->c[v - 1];
		if (c->rip == rip && c->rport == rport && c->lport == lport)
			return c;
	}
}

static void hash_add(struct tcp *t, struct tcb *c)
{
	uint32_t i = hash4(t, c->rip, c->rport, c->lport);

	while (t->hidx[i])
		i = (i + 1) & t->hmask;
	t->hidx[i] = tcb_id(t, c) + 1;
	c->flags |= F_HASHED;
}

static void hash_del(struct tcp *t, struct tcb *c)
{
	uint32_t i = hash4(t, c->rip, c->rport, c->lport), j;

	if (!(c->flags & F_HASHED))
		return;
	c->flags &= (uint16_t)~F_HASHED;
	while (t->hidx[i] != tcb_id(t, c) + 1)
		i = (i + 1) & t->hmask;
	t->hidx[i] = 0;
	/* backward shift: move later entries of the run whose home is not
	 * in (i, j] into the hole */
	for (j = (i + 1) & t->hmask; t->hidx[j]; j = (j + 1) & t->hmask) {
		const struct tcb *o = &t->c[t->hidx[j] - 1];
		uint32_t k = hash4(t, o->rip, o->rport, o->lport);

		if (((j - k) & t->hmask) >= ((j - i) & t->hmask)) {
			t->hidx[i] = t->hidx[j];
			t->hidx[j] = 0;
			i = j;
		}
	}
}

/* ------------------------------------------------------------------ */
/* Timers                                                               */
/* ------------------------------------------------------------------ */
static void wheel_unlink(struct tcp *t, struct tcb *c)
{
	if (c->tm_at == INT64_MAX)
		return;
	if (c->tm_prev != NIL)
		t->c[c->tm_prev].tm_next = c->tm_next;
	else
		t->wheel[c->tm_at & (WHEEL - 1)] = c->tm_next;
	if (c->tm_next != NIL)
		t->c[c->tm_next].tm_prev = c->tm_prev;
	c->tm_at = INT64_MAX;
}

/* relink c at its earliest deadline */
static void timer_sync(struct tcp *t, struct tcb *c)
{
	int64_t at = min64(c->rto_at, min64(c->ack_at, c->idle_at));
	uint32_t s, id = tcb_id(t, c);

	if (at <= t->wheel_now)
		at = t->wheel_now + 1; /* due: the next slot the wheel visits */
	if (at == c->tm_at)
		return;
	wheel_unlink(t, c);
	if (at == INT64_MAX)
		return;
	/* a deadline past the wheel's span waits in its slot's list, met
	 * and skipped once a turn */
	s = (uint32_t)(at & (WHEEL - 1));
	c->tm_at = at;
	c->tm_prev = NIL;
	c->tm_next = t->wheel[s];
	if (c->tm_next != NIL)
		t->c[c->tm_next].tm_prev = id;
	t->wheel[s] = id;
}

static void rto_arm(struct net *n, struct tcb *c)
{
	c->rto_at = n->now + c->rto;
}

/* ------------------------------------------------------------------ */
/* Events                                                               */
/* ------------------------------------------------------------------ */
static void evq_push(struct tcp *t, uint32_t v)
{
	/* every record and listener is queued at most once */
	t->evq[(t->evq_head + t->evq_len++) % t->evq_cap] = v;
}

static void ev_add(struct tcp *t, struct tcb *c, uint8_t what)
{
	c->ev |= what;
	if (!(c->flags & F_EVQ)) {
		c->flags |= F_EVQ;
		evq_push(t, tcb_id(t, c));
	}
}

static void ev_listener(struct tcp *t, unsigned li)
{
	if (!t->l[li].queued) {
		t->l[li].queued = 1;
		evq_push(t, LST_BIT | li);
	}
}

int net_tcp_events(struct net *n, struct net_event *ev, int max)
{
	struct tcp *t = n->tcp;
	int k = 0;

	while (k < max && t->evq_len) {
		uint32_t v = t->evq[t->evq_head];

		t->evq_head = (t->evq_head + 1) % t->evq_cap;
		t->evq_len--;
		if (v & LST_BIT) {
			struct listener *l = &t->l[v & ~LST_BIT];

			l->queued = 0;
			if (l->port && l->qhead != NIL)
				ev[k++] = (struct net_event){l->port,
							     NET_EV_ACCEPT, 0};
		} else {
			struct tcb *c = &t->c[v];

			c->flags &= (uint16_t)~F_EVQ;
			if ((c->flags & F_APP) && c->ev)
				ev[k++] = (struct net_event){c->token, c->ev,
							     v};
			c->ev = 0;
		}
	}
	return k;
}

/* ------------------------------------------------------------------ */
/* Records                                                              */
/* ------------------------------------------------------------------ */
static struct tcb *tcb_alloc(struct net *n)
{
	struct tcp *t = n->tcp;
	struct tcb *c;
	uint16_t keep;

	if (t->free_head == NIL)
		return NULL;
	c = &t->c[t->free_head];
	t->free_head = c->q_next;
	keep = c->flags & F_EVQ;
	{
		unsigned char *sb = c->sbuf, *rb = c->rbuf;

		memset(c, 0, sizeof(*c));
		c->sbuf = sb;
		c->rbuf = rb;
	}
	c->flags = keep;
	c->tm_at = INT64_MAX;
	c->rto_at = c->ack_at = c->idle_at = INT64_MAX;
	c->q_next = NIL;
	c->rto = 1000; /* RFC 6298 (2.1) */
	c->last_rcv = n->now;
	n->st.tcp_conns++;
	return c;
}

static void tcb_free(struct net *n, struct tcb *c)
{
	struct tcp *t = n->tcp;

	hash_del(t, c);
	wheel_unlink(t, c);
	if (c->state == NET_TCP_SYN_RCVD) {
		t->half_open--;
		t->l[c->lst].pending--;
	}
	if (c->flags & F_NOMAC)
		t->arp_waiting--;
	c->state = NET_TCP_CLOSED;
	c->flags &= F_EVQ;
	c->ev = 0;
	c->q_next = t->free_head;
	t->free_head = tcb_id(t, c);
	n->st.tcp_conns--;
}

/* The connection is over: free the record unless the application or an
 * accept queue still holds it (then it stays, CLOSED, with its error). */
static void tcb_done(struct net *n, struct tcb *c, int err)
{
	struct tcp *t = n->tcp;

	if (c->flags & (F_APP | F_ACCEPTQ)) {
		hash_del(t, c);
		c->rto_at = c->ack_at = c->idle_at = INT64_MAX;
		wheel_unlink(t, c);
		if (c->flags & F_NOMAC) {
			c->flags &= (uint16_t)~F_NOMAC;
			t->arp_waiting--;
		}
		c->state = NET_TCP_CLOSED;
		if (err) {
			c->err = (uint8_t)err;
			ev_add(t, c, NET_EV_IN | NET_EV_HUP);
		}
		return;
	}
	tcb_free(n, c);
}

/* ------------------------------------------------------------------ */
/* Output                                                               */
/* ------------------------------------------------------------------ */
static uint32_t rcv_space(const struct tcp *t, const struct tcb *c)
{
	return t->rcvbuf - c->rcv_len;
}

static uint32_t tcp_csum_seed(uint32_t src, uint32_t dst, size_t len)
{
	unsigned char ph[12];

	put32(ph, src);
	put32(ph + 4, dst);
	ph[8] = 0;
	ph[9] = IPPROTO_TCP_;
	put16(ph + 10, (uint16_t)len);
	return net_csum_add(ph, sizeof(ph), 0);
}

/* One segment of c's: seq, flags, and len bytes of the send ring from
 * seq (SYN: options instead). */
static void seg_out(struct net *n, struct tcb *c, uint32_t seq,
		    uint8_t flags, uint32_t len)
{
	struct tcp *t = n->tcp;
	unsigned char *ip = n->tx + ETH_HLEN, *h = ip + IP_HLEN;
	size_t hl = 20;
	uint32_t win = rcv_space(t, c);

	if (flags & TH_SYN) {
		unsigned char *o = h + 20;

		o[0] = 2; /* MSS */
		o[1] = 4;
		put16(o + 2, OUR_MSS);
		hl += 4;
		/* window scale: always offered in our SYN, in a SYN-ACK
		 * only when the peer's SYN offered it (RFC 7323 §2.2) */
		if (c->state == NET_TCP_SYN_SENT || (c->flags & F_WS)) {
			o[4] = 1; /* NOP */
			o[5] = 3;
			o[6] = 3;
			o[7] = t->rcv_ws;
			hl += 4;
		}
		/* SACK-permitted likewise (RFC 2018): we send SACK blocks
		 * for the out-of-order data we keep, and ignore the peer's
		 * (our retransmissions go by ACKs alone) */
		if (c->state == NET_TCP_SYN_SENT || (c->flags & F_SACK)) {
			o[hl - 20] = 1;
			o[hl - 19] = 1;
			o[hl - 18] = 4;
			o[hl - 17] = 2;
			hl += 4;
		}
		win = min32(win, 65535); /* never scaled in a SYN */
		c->rcv_adv = c->rcv_nxt + win;
	} else {
		uint32_t old = SEQ_GT(c->rcv_adv, c->rcv_nxt)
				       ? c->rcv_adv - c->rcv_nxt
				       : 0;

		/* receiver-side silly window avoidance (RFC 1122 4.2.3.3):
		 * the right edge moves only by min(half the ring, an MSS) */
		if (win > old && win - old < min32(t->rcvbuf / 2, OUR_MSS))
			win = old;
		win = min32(win >> c->rcv_ws, 65535);
		c->rcv_adv = c->rcv_nxt + (win << c->rcv_ws);
		/* a pure ACK tells what out-of-order data we hold */
		if ((c->flags & F_SACK) && c->nooo && !len &&
		    !(flags & (TH_RST | TH_FIN))) {
			unsigned char *o = h + 20;

			o[0] = 1;
			o[1] = 1;
			o[2] = 5;
			o[3] = (uint8_t)(2 + 8 * c->nooo);
			for (unsigned i = 0; i < c->nooo; i++) {
				put32(o + 4 + 8 * i, c->ooo[i].s);
				put32(o + 8 + 8 * i, c->ooo[i].e);
			}
			hl += 4 + 8u * c->nooo;
		}
	}
	net_eth_header(n, c->rmac, ETH_P_IP);
	net_ip_header(n, ip, IPPROTO_TCP_, c->rip, hl + len);
	put16(h, c->lport);
	put16(h + 2, c->rport);
	put32(h + 4, seq);
	put32(h + 8, (flags & TH_ACK) ? c->rcv_nxt : 0);
	h[12] = (unsigned char)((hl / 4) << 4);
	h[13] = flags;
	put16(h + 14, (uint16_t)win);
	h[16] = h[17] = h[18] = h[19] = 0;
	if (len) {
		uint32_t off = (seq - c->iss - 1) & t->smask;
		uint32_t first = min32(len, t->sndbuf - off);

		memcpy(h + hl, c->sbuf + off, first);
		memcpy(h + hl + first, c->sbuf, len - first);
	}
	put_csum(h + 16, net_csum(h, hl + len,
				  tcp_csum_seed(n->cfg.ip, c->rip, hl + len)));
	if (flags & TH_ACK) {
		c->ack_at = INT64_MAX;
		c->rcv_unacked = 0;
		c->flags &= (uint16_t)~F_ACK_NOW;
	}
	net_send_frame(n, ETH_HLEN + IP_HLEN + hl + len);
}

/* A RST answering a segment of no connection (RFC 793 §3.4). */
static void rst_reply(struct net *n, const unsigned char *eth,
		      const unsigned char *ip, const unsigned char *h,
		      uint32_t seq, uint32_t ack, uint8_t flags)
{
	unsigned char *rip = n->tx + ETH_HLEN, *r = rip + IP_HLEN;
	uint32_t dst = get32(ip + 12);

	net_eth_header(n, eth + 6, ETH_P_IP);
	net_ip_header(n, rip, IPPROTO_TCP_, dst, 20);
	memcpy(r, h + 2, 2);
	memcpy(r + 2, h, 2);
	put32(r + 4, seq);
	put32(r + 8, ack);
	r[12] = 5 << 4;
	r[13] = flags;
	memset(r + 14, 0, 6);
	put_csum(r + 16, net_csum(r, 20, tcp_csum_seed(n->cfg.ip, dst, 20)));
	n->st.tcp_rst_sent++;
	net_send_frame(n, ETH_HLEN + IP_HLEN + 20);
}

static void ack_out(struct net *n, struct tcb *c)
{
	seg_out(n, c, c->snd_nxt, TH_ACK, 0);
}

/* Send what the windows allow: new data, then our FIN. */
static void output(struct net *n, struct tcb *c)
{
	struct tcp *t = n->tcp;

	for (;;) {
		uint32_t wnd = min32(c->snd_wnd, c->cwnd + c->lt * c->mss);
		uint32_t flight = c->snd_nxt - c->snd_una, len;
		uint8_t fl = TH_ACK;

		if (c->state < NET_TCP_ESTABLISHED ||
		    c->state == NET_TCP_TIME_WAIT)
			break;
		if (SEQ_LT(c->snd_nxt, c->snd_end)) {
			if (wnd <= flight)
				break;
			len = min32(min32(c->snd_end - c->snd_nxt, wnd - flight),
				    c->mss);
			/* sender-side silly window avoidance (RFC 1122
			 * 4.2.3.4): a short segment only if it is all there
			 * is or nothing else is in flight */
			if (len < c->mss && len < c->snd_end - c->snd_nxt &&
			    flight)
				break;
			if (c->snd_nxt + len == c->snd_end) {
				fl |= TH_PSH;
				if (c->flags & F_FIN_Q)
					fl |= TH_FIN;
			}
		} else if ((c->flags & F_FIN_Q) && c->snd_nxt == c->snd_end) {
			len = 0;
			fl |= TH_FIN;
		} else {
			break;
		}
		seg_out(n, c, c->snd_nxt, fl, len);
		if (c->snd_nxt == c->snd_max && !(c->flags & F_RTT)) {
			c->flags |= F_RTT;
			c->rtt_seq = c->snd_nxt;
			c->rtt_at = n->now;
		}
		c->snd_nxt += len + !!(fl & TH_FIN);
		if (SEQ_GT(c->snd_nxt, c->snd_max))
			c->snd_max = c->snd_nxt;
		if (c->rto_at == INT64_MAX || (c->flags & F_PERSIST)) {
			c->flags &= (uint16_t)~F_PERSIST;
			rto_arm(n, c);
		}
		if (fl & TH_FIN)
			break;
	}
	/* a zero window with data waiting and nothing in flight: probe */
	if (SEQ_LT(c->snd_nxt, c->snd_end) && c->snd_una == c->snd_max &&
	    c->snd_wnd == 0 && !(c->flags & F_PERSIST)) {
		c->flags |= F_PERSIST;
		rto_arm(n, c);
	}
	if (c->flags & F_ACK_NOW)
		ack_out(n, c);
	timer_sync(t, c);
}

/* ------------------------------------------------------------------ */
/* Input                                                                */
/* ------------------------------------------------------------------ */
struct seg {
	uint32_t seq, ack, wnd;
	uint8_t flags;
	uint16_t mss;
	int ws; /* -1: no window scale option */
	int sack_ok; /* SACK-permitted (RFC 2018) */
	int sack;    /* SACK blocks */
	const unsigned char *data;
	uint32_t len;
};

static void parse_options(const unsigned char *o, size_t len, struct seg *s)
{
	size_t i = 0;

	while (i < len) {
		uint8_t kind = o[i], l;

		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 1 >= len)
			break;
		l = o[i + 1];
		if (l < 2 || i + l > len)
			break;
		if (kind == 2 && l == 4)
			s->mss = get16(o + i + 2);
		else if (kind == 3 && l == 3)
			s->ws = o[i + 2] > 14 ? 14 : o[i + 2];
		else if (kind == 4 && l == 2)
			s->sack_ok = 1;
		else if (kind == 5 && l >= 10)
			s->sack = 1;
		i += l;
	}
}

static uint32_t make_isn(struct net *n, uint32_t rip, uint16_t rport,
			 uint16_t lport)
{
	struct tcp *t = n->tcp;
	unsigned char in[12], out[8];
	size_t outl = 0;
	uint32_t f = 0;

	put32(in, n->cfg.ip);
	put32(in + 4, rip);
	put16(in + 8, lport);
	put16(in + 10, rport);
	if (EVP_MAC_init(t->isn, t->key, sizeof(t->key), NULL) &&
	    EVP_MAC_update(t->isn, in, sizeof(in)) &&
	    EVP_MAC_final(t->isn, out, &outl, sizeof(out)) && outl >= 4)
		f = get32(out);
	/* RFC 6528: F(4-tuple, key) plus a clock of 4 µs ticks */
	return f + (uint32_t)(n->now * 250);
}

static void init_seq(struct tcb *c, uint32_t iss)
{
	c->iss = iss;
	c->snd_una = c->snd_nxt = c->snd_max = c->snd_end = iss;
	c->ssthresh = UINT32_MAX;
}

/* window scale and MSS from the peer's SYN */
static void syn_options(struct tcp *t, struct tcb *c, const struct seg *s)
{
	c->mss = (uint16_t)min32(s->mss ? s->mss : 536, OUR_MSS);
	if (c->mss < 64)
		c->mss = 64;
	if (s->sack_ok)
		c->flags |= F_SACK;
	if (s->ws >= 0) {
		c->flags |= F_WS;
		c->snd_ws = (uint8_t)s->ws;
		c->rcv_ws = t->rcv_ws;
	} else {
		c->snd_ws = c->rcv_ws = 0;
	}
	/* RFC 6928: min(10 MSS, max(2 MSS, 14600)) */
	c->cwnd = min32(10u * c->mss, max32(2u * c->mss, 14600));
}

static void passive_open(struct net *n, const unsigned char *eth,
			 uint32_t rip, uint16_t rport, uint16_t lport,
			 const struct seg *s, unsigned li)
{
	struct tcp *t = n->tcp;
	struct listener *l = &t->l[li];
	struct tcb *c;

	if (l->pending >= l->backlog || t->half_open >= t->half_open_max ||
	    !(c = tcb_alloc(n))) {
		n->st.tcp_drop_syn++;
		return;
	}
	memcpy(c->rmac, eth + 6, 6);
	c->rip = rip;
	c->rport = rport;
	c->lport = lport;
	c->lst = (uint8_t)li;
	c->irs = s->seq;
	c->rcv_nxt = s->seq + 1;
	init_seq(c, make_isn(n, rip, rport, lport));
	syn_options(t, c, s);
	c->snd_wnd = s->wnd; /* unscaled in a SYN */
	c->snd_wl1 = s->seq;
	c->state = NET_TCP_SYN_RCVD;
	t->half_open++;
	l->pending++;
	hash_add(t, c);
	seg_out(n, c, c->iss, TH_SYN | TH_ACK, 0);
	c->snd_nxt = c->snd_max = c->snd_end = c->iss + 1;
	c->flags |= F_RTT;
	c->rtt_seq = c->iss;
	c->rtt_at = n->now;
	rto_arm(n, c);
	timer_sync(t, c);
}

static void rtt_sample(struct tcp *t, struct tcb *c, int64_t now)
{
	int32_t r = (int32_t)(now - c->rtt_at), d;
	uint32_t rto;

	c->flags &= (uint16_t)~F_RTT;
	if (r < 0)
		r = 0;
	if (!c->srtt8) {
		c->srtt8 = r * 8 + 1; /* +1: a sample of 0 is still a sample */
		c->rttvar4 = r * 2;
	} else {
		d = r - c->srtt8 / 8;
		c->srtt8 += d;
		if (c->srtt8 < 1)
			c->srtt8 = 1;
		c->rttvar4 += (d < 0 ? -d : d) - c->rttvar4 / 4;
	}
	rto = (uint32_t)(c->srtt8 / 8) + max32(1, (uint32_t)c->rttvar4);
	c->rto = min32(max32(rto, t->rto_min), t->rto_max);
}

/* A connection reached ESTABLISHED from SYN_RCVD: to its listener's
 * accept queue. */
static void established_passive(struct net *n, struct tcb *c)
{
	struct tcp *t = n->tcp;
	struct listener *l = &t->l[c->lst];

	t->half_open--;
	c->state = NET_TCP_ESTABLISHED;
	c->idle_at = n->now + t->ka_idle;
	n->st.tcp_accepted++;
	c->flags |= F_ACCEPTQ;
	c->q_next = NIL;
	if (l->qtail != NIL)
		t->c[l->qtail].q_next = tcb_id(t, c);
	else
		l->qhead = tcb_id(t, c);
	l->qtail = tcb_id(t, c);
	ev_listener(t, c->lst);
}

/* The first unacknowledged segment again, within the peer's window
 * (its original may have been cut shorter by it). */
static void resend_first(struct net *n, struct tcb *c)
{
	uint32_t len = min32(c->mss, c->snd_end - c->snd_una);

	if (c->snd_wnd && len > c->snd_wnd)
		len = c->snd_wnd;
	n->st.tcp_retransmits++;
	if (c->snd_una == c->snd_end) /* only our FIN is outstanding */
		seg_out(n, c, c->snd_una, TH_ACK | TH_FIN, 0);
	else
		seg_out(n, c, c->snd_una, TH_ACK, len);
}

static void timeout_drop(struct net *n, struct tcb *c)
{
	n->st.tcp_timeouts++;
	tcb_done(n, c, ETIMEDOUT);
}

/* The ACK field of an acceptable segment in a synchronized state.
 * Returns 0 when the segment is to be dropped. */
static int ack_input(struct net *n, struct tcb *c, const struct seg *s)
{
	struct tcp *t = n->tcp;
	uint32_t wnd = s->wnd << c->snd_ws;

	if (SEQ_GT(s->ack, c->snd_max)) {
		c->flags |= F_ACK_NOW;
		return 0;
	}
	if (SEQ_GT(s->ack, c->snd_una)) {
		/* bytes: the SYN's sequence number is not one */
		uint32_t acked = s->ack - c->snd_una - (c->snd_una == c->iss);

		if ((c->flags & F_RTT) && SEQ_GT(s->ack, c->rtt_seq))
			rtt_sample(t, c, n->now);
		c->snd_una = s->ack;
		if (SEQ_LT(c->snd_nxt, c->snd_una))
			c->snd_nxt = c->snd_una;
		c->retries = 0;
		if (c->flags & F_RECOVERY) {
			if (SEQ_GE(s->ack, c->recover)) {
				c->flags &= (uint16_t)~F_RECOVERY;
				c->cwnd = c->ssthresh;
			} else { /* RFC 6582: a partial ACK */
				resend_first(n, c);
				c->cwnd = c->cwnd > acked ? c->cwnd - acked : 0;
				c->cwnd += c->mss;
			}
		} else if (c->cwnd < c->ssthresh) {
			c->cwnd += min32(acked, c->mss);
		} else {
			c->cwnd += max32(1, c->mss * c->mss / c->cwnd);
		}
		c->dupacks = 0;
		c->lt = 0;
		if (c->snd_una == c->snd_max)
			c->rto_at = INT64_MAX;
		else
			rto_arm(n, c);
		c->flags &= (uint16_t)~F_PERSIST;
		if ((c->flags & F_WANT_OUT) &&
		    t->sndbuf - (c->snd_end - c->snd_una) >= t->sndbuf / 4) {
			c->flags &= (uint16_t)~F_WANT_OUT;
			ev_add(t, c, NET_EV_OUT);
		}
	} else if (s->ack == c->snd_una && !s->len &&
		   !(s->flags & (TH_FIN | TH_SYN)) &&
		   (wnd == c->snd_wnd || s->sack) && c->snd_una != c->snd_max) {
		/* a duplicate ACK (RFC 5681: same window; with SACK blocks,
		 * a peer growing its window still reports a hole) */
		if (++c->dupacks < 3 && !(c->flags & F_RECOVERY)) {
			/* Limited Transmit (RFC 3042): a new segment for each
			 * of the first two, past cwnd, so a small window
			 * still makes the third */
			c->lt = c->dupacks;
		} else if (c->dupacks == 3 && !(c->flags & F_RECOVERY)) {
			c->lt = 0;
			uint32_t flight = c->snd_max - c->snd_una;

			c->ssthresh = max32(flight / 2, 2u * c->mss);
			c->recover = c->snd_max;
			c->flags |= F_RECOVERY;
			c->flags &= (uint16_t)~F_RTT;
			resend_first(n, c);
			n->st.tcp_fast_retransmits++;
			c->cwnd = c->ssthresh + 3u * c->mss;
		} else if (c->dupacks > 3 && (c->flags & F_RECOVERY)) {
			c->cwnd += c->mss;
		}
	}
	if (c->flags & F_PERSIST)
		c->retries = 0; /* the peer answers our probes: it lives */
	/* the send window (RFC 793's SND.WL1/WL2 rule) */
	if (SEQ_LT(c->snd_wl1, s->seq) ||
	    (c->snd_wl1 == s->seq && SEQ_LE(c->snd_wl2, s->ack))) {
		c->snd_wnd = wnd;
		c->snd_wl1 = s->seq;
		c->snd_wl2 = s->ack;
	}
	/* our FIN acknowledged */
	if ((c->flags & F_FIN_Q) && c->snd_una == c->snd_end + 1) {
		switch (c->state) {
		case NET_TCP_FIN_WAIT_1:
			c->state = NET_TCP_FIN_WAIT_2;
			c->idle_at = n->now + FIN_WAIT_2_MS;
			break;
		case NET_TCP_CLOSING:
			c->state = NET_TCP_TIME_WAIT;
			c->idle_at = n->now + t->timewait;
			break;
		case NET_TCP_LAST_ACK:
			tcb_done(n, c, 0);
			return 0;
		default:
			break;
		}
	}
	return 1;
}

/* Out-of-order data waits in the receive ring at its place (its offset
 * from rcv_nxt past the unread bytes), its sequence ranges in c->ooo
 * (sorted, disjoint, at most NOOO: a segment that would need another
 * range is not kept).  Only data: a FIN out of order is sent again. */
static void ooo_store(struct tcp *t, struct tcb *c, const struct seg *s)
{
	uint32_t off = s->seq - c->rcv_nxt, room = rcv_space(t, c), len, at,
		 first, ns, ne;
	unsigned i, k;

	if (off >= room)
		return;
	len = min32(s->len, room - off);
	ns = s->seq;
	ne = s->seq + len;
	/* merge with the ranges it touches */
	for (i = 0, k = 0; i < c->nooo; i++) {
		if (SEQ_LT(ne, c->ooo[i].s) || SEQ_GT(ns, c->ooo[i].e)) {
			c->ooo[k++] = c->ooo[i];
			continue;
		}
		if (SEQ_LT(c->ooo[i].s, ns))
			ns = c->ooo[i].s;
		if (SEQ_GT(c->ooo[i].e, ne))
			ne = c->ooo[i].e;
	}
	if (k == NOOO)
		return; /* no range left for it: not kept */
	for (i = k; i > 0 && SEQ_GT(c->ooo[i - 1].s, ns); i--)
		c->ooo[i] = c->ooo[i - 1];
	c->ooo[i].s = ns;
	c->ooo[i].e = ne;
	c->nooo = (uint8_t)(k + 1);
	at = (c->rcv_rd + c->rcv_len + off) & t->rmask;
	first = min32(len, t->rcvbuf - at);
	memcpy(c->rbuf + at, s->data, first);
	memcpy(c->rbuf, s->data + first, len - first);
}

/* rcv_nxt moved: take the ranges it reached.  Whether any was taken. */
static int ooo_advance(struct tcb *c)
{
	int took = 0;

	while (c->nooo && SEQ_LE(c->ooo[0].s, c->rcv_nxt)) {
		if (SEQ_GT(c->ooo[0].e, c->rcv_nxt)) {
			uint32_t add = c->ooo[0].e - c->rcv_nxt;

			c->rcv_len += add;
			c->rcv_nxt += add;
			c->rcv_unacked += add;
			took = 1;
		}
		memmove(&c->ooo[0], &c->ooo[1],
			(size_t)(c->nooo - 1) * sizeof(c->ooo[0]));
		c->nooo--;
	}
	return took;
}

/* The segment's data and FIN, in a state that takes them. */
static void data_input(struct net *n, struct tcb *c, struct seg *s)
{
	struct tcp *t = n->tcp;
	uint32_t take;

	if (SEQ_LT(s->seq, c->rcv_nxt)) { /* the front was had already */
		uint32_t dup = c->rcv_nxt - s->seq;

		if (dup >= s->len) {
			/* all had; a FIN right after it is still new */
			if (s->seq + s->len != c->rcv_nxt)
				s->flags &= (uint8_t)~TH_FIN;
			if (s->len)
				c->flags |= F_ACK_NOW;
			s->len = 0;
			s->seq = c->rcv_nxt;
		} else {
			s->data += dup;
			s->len -= dup;
			s->seq = c->rcv_nxt;
		}
	}
	if (s->seq != c->rcv_nxt) { /* a hole before it */
		if (s->len || (s->flags & TH_FIN))
			n->st.tcp_ooo++;
		if (s->len && (c->flags & (F_APP | F_ACCEPTQ)))
			ooo_store(t, c, s);
		c->flags |= F_ACK_NOW; /* a duplicate ACK: fast retransmit */
		return;
	}
	if (s->len) {
		if (!(c->flags & (F_APP | F_ACCEPTQ))) {
			/* closed by the application: nobody will read it */
			c->flags |= F_ACK_NOW;
			return;
		}
		take = min32(s->len, rcv_space(t, c));
		if (take) {
			uint32_t off = (c->rcv_rd + c->rcv_len) & t->rmask;
			uint32_t first = min32(take, t->rcvbuf - off);

			memcpy(c->rbuf + off, s->data, first);
			memcpy(c->rbuf, s->data + first, take - first);
			c->rcv_len += take;
			c->rcv_nxt += take;
			c->rcv_unacked += take;
			ev_add(t, c, NET_EV_IN);
			if (c->nooo && ooo_advance(c))
				c->flags |= F_ACK_NOW; /* a hole filled */
		}
		if (take < s->len) { /* past our window */
			c->flags |= F_ACK_NOW;
			return;
		}
		if (c->rcv_unacked >= 2u * OUR_MSS)
			c->flags |= F_ACK_NOW;
		else if (c->ack_at == INT64_MAX)
			c->ack_at = n->now + t->delack;
	}
	if ((s->flags & TH_FIN) && !(c->flags & F_FIN_RCVD)) {
		c->rcv_nxt++;
		c->flags |= F_FIN_RCVD | F_ACK_NOW;
		ev_add(t, c, NET_EV_IN);
		switch (c->state) {
		case NET_TCP_ESTABLISHED:
			c->state = NET_TCP_CLOSE_WAIT;
			break;
		case NET_TCP_FIN_WAIT_1: /* our FIN not yet acknowledged */
			c->state = NET_TCP_CLOSING;
			break;
		case NET_TCP_FIN_WAIT_2:
			c->state = NET_TCP_TIME_WAIT;
			c->idle_at = n->now + t->timewait;
			break;
		default:
			break;
		}
	}
}

static int acceptable(const struct tcp *t, const struct tcb *c,
		      const struct seg *s)
{
	uint32_t wnd = SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt
						    : 0;
	uint32_t slen = s->len + !!(s->flags & TH_FIN);

	(void)t;
	if (!wnd)
		return slen ? 0 : s->seq == c->rcv_nxt;
	if (SEQ_GE(s->seq, c->rcv_nxt) && SEQ_LT(s->seq, c->rcv_nxt + wnd))
		return 1;
	return slen && SEQ_GE(s->seq + slen - 1, c->rcv_nxt) &&
	       SEQ_LT(s->seq + slen - 1, c->rcv_nxt + wnd);
}

static void syn_sent_input(struct net *n, struct tcb *c, struct seg *s)
{
	struct tcp *t = n->tcp;

	if ((s->flags & TH_ACK) && s->ack != c->iss + 1)
		return; /* not for this attempt (the caller RSTs it) */
	if (s->flags & TH_RST) {
		if (s->flags & TH_ACK) {
			n->st.tcp_rst_rcvd++;
			tcb_done(n, c, ECONNREFUSED);
		}
		return;
	}
	if (!(s->flags & TH_SYN) || !(s->flags & TH_ACK))
		return; /* simultaneous open is not supported */
	c->irs = s->seq;
	c->rcv_nxt = s->seq + 1;
	syn_options(t, c, s);
	c->snd_una = s->ack;
	c->snd_wnd = s->wnd; /* unscaled in a SYN */
	c->snd_wl1 = s->seq;
	c->snd_wl2 = s->ack;
	if ((c->flags & F_RTT) && c->retries == 0)
		rtt_sample(t, c, n->now);
	c->flags &= (uint16_t)~F_RTT;
	c->retries = 0;
	c->rto_at = INT64_MAX;
	c->state = NET_TCP_ESTABLISHED;
	c->idle_at = n->now + t->ka_idle;
	n->st.tcp_connected++;
	ev_add(t, c, NET_EV_OUT);
	c->flags |= F_ACK_NOW;
	output(n, c);
}

void tcp_input(struct net *n, const unsigned char *eth,
	       const unsigned char *ip, const unsigned char *h, size_t tot)
{
	struct tcp *t = n->tcp;
	uint32_t rip = get32(ip + 12);
	uint16_t rport, lport;
	struct seg s = {.ws = -1};
	struct tcb *c;
	size_t hl;

	if (tot < 20 || (hl = (size_t)(h[12] >> 4) * 4) < 20 || hl > tot) {
		n->st.tcp_drop_bad++;
		return;
	}
	if (net_csum(h, tot, tcp_csum_seed(rip, n->cfg.ip, tot))) {
		n->st.tcp_drop_csum++;
		return;
	}
	rport = get16(h);
	lport = get16(h + 2);
	s.seq = get32(h + 4);
	s.ack = get32(h + 8);
	s.flags = h[13] & 0x3f;
	s.wnd = get16(h + 14);
	s.data = h + hl;
	s.len = (uint32_t)(tot - hl);
	if (hl > 20)
		parse_options(h + 20, hl - 20, &s);
	if (!(s.flags & TH_SYN)) { /* those are SYN options */
		s.mss = 0;
		s.ws = -1;
		s.sack_ok = 0;
	}
	if ((s.flags & (TH_SYN | TH_FIN)) == (TH_SYN | TH_FIN) ||
	    (s.flags & (TH_SYN | TH_RST)) == (TH_SYN | TH_RST) || !rport ||
	    !lport || (rip >> 24) == 127 || (rip >> 28) >= 14) {
		n->st.tcp_drop_bad++;
		return;
	}
	c = lookup(t, rip, rport, lport);
	/* RFC 6191's reuse: a new SYN to a TIME_WAIT connection */
	if (c && c->state == NET_TCP_TIME_WAIT && (s.flags & TH_SYN) &&
	    !(s.flags & TH_ACK) && SEQ_GT(s.seq, c->rcv_nxt)) {
		tcb_done(n, c, 0);
		c = NULL;
	}
	if (!c) {
		if (s.flags & TH_RST)
			return;
		if ((s.flags & (TH_SYN | TH_ACK)) == TH_SYN) {
			for (unsigned i = 0; i < NET_TCP_LISTENERS; i++)
				if (t->l[i].port == lport) {
					passive_open(n, eth, rip, rport, lport,
						     &s, i);
					return;
				}
		}
		if (s.flags & TH_ACK)
			rst_reply(n, eth, ip, h, s.ack, 0, TH_RST);
		else
			rst_reply(n, eth, ip, h, 0,
				  s.seq + s.len + !!(s.flags & TH_SYN) +
					  !!(s.flags & TH_FIN),
				  TH_RST | TH_ACK);
		return;
	}
	c->last_rcv = n->now;
	c->ka_probes = 0;
	if (c->state == NET_TCP_SYN_SENT) {
		syn_sent_input(n, c, &s);
		if (c->state == NET_TCP_SYN_SENT && (s.flags & TH_ACK) &&
		    s.ack != c->iss + 1 && !(s.flags & TH_RST))
			rst_reply(n, eth, ip, h, s.ack, 0, TH_RST);
		if (c->state != NET_TCP_CLOSED)
			timer_sync(t, c);
		return;
	}
	if (c->state == NET_TCP_CLOSED)
		return; /* held by the application, unhashed: unreachable */
	/* our SYN-ACK lost: the peer's SYN again */
	if (c->state == NET_TCP_SYN_RCVD && (s.flags & TH_SYN) &&
	    !(s.flags & TH_ACK) && s.seq == c->irs) {
		seg_out(n, c, c->iss, TH_SYN | TH_ACK, 0);
		return;
	}
	/* a closed window takes no data, but the ACK in the segment still
	 * counts (RFC 793 p. 69): a peer whose data we cannot take may
	 * be acknowledging ours */
	if (s.seq == c->rcv_nxt && (s.len || (s.flags & TH_FIN)) &&
	    !SEQ_GT(c->rcv_adv, c->rcv_nxt) && c->state != NET_TCP_SYN_RCVD) {
		s.len = 0;
		s.flags &= (uint8_t)~TH_FIN;
		c->flags |= F_ACK_NOW;
	}
	if (!acceptable(t, c, &s)) {
		/* the peer's FIN again (our ACK was lost): wait anew */
		if (c->state == NET_TCP_TIME_WAIT && (s.flags & TH_FIN))
			c->idle_at = n->now + t->timewait;
		if (!(s.flags & TH_RST)) {
			c->flags |= F_ACK_NOW;
			if (c->state == NET_TCP_SYN_RCVD)
				rst_reply(n, eth, ip, h, s.ack, 0, TH_RST);
			else
				output(n, c);
		}
		if (c->state != NET_TCP_SYN_RCVD)
			n->st.tcp_drop_bad++;
		return;
	}
	if (s.flags & TH_RST) {
		/* RFC 5961 §3.2: only the exact sequence number resets */
		if (s.seq != c->rcv_nxt) {
			c->flags |= F_ACK_NOW;
			output(n, c);
			return;
		}
		n->st.tcp_rst_rcvd++;
		if (c->state == NET_TCP_SYN_RCVD)
			tcb_free(n, c);
		else
			tcb_done(n, c, ECONNRESET);
		return;
	}
	if (s.flags & TH_SYN) { /* RFC 5961 §4.2: a challenge ACK */
		c->flags |= F_ACK_NOW;
		output(n, c);
		return;
	}
	if (!(s.flags & TH_ACK))
		return;
	if (c->state == NET_TCP_SYN_RCVD) {
		if (s.ack != c->iss + 1) {
			rst_reply(n, eth, ip, h, s.ack, 0, TH_RST);
			return;
		}
		established_passive(n, c);
	}
	if (!ack_input(n, c, &s))
		goto out;
	switch (c->state) {
	case NET_TCP_ESTABLISHED:
	case NET_TCP_FIN_WAIT_1:
	case NET_TCP_FIN_WAIT_2:
		data_input(n, c, &s);
		break;
	case NET_TCP_TIME_WAIT: /* the peer's FIN again: ACK, wait anew */
		if (s.flags & TH_FIN) {
			c->flags |= F_ACK_NOW;
			c->idle_at = n->now + t->timewait;
		}
		break;
	default:
		if (s.len)
			c->flags |= F_ACK_NOW; /* data after the peer's FIN */
		break;
	}
	/* data for an application that has closed: RST (RFC 2525 §2.17) */
	if (s.len && !(c->flags & (F_APP | F_ACCEPTQ)) &&
	    (c->state == NET_TCP_FIN_WAIT_1 ||
	     c->state == NET_TCP_FIN_WAIT_2)) {
		seg_out(n, c, c->snd_nxt, TH_RST | TH_ACK, 0);
		n->st.tcp_rst_sent++;
		tcb_done(n, c, 0);
		return;
	}
out:
	if (c->state != NET_TCP_CLOSED || (c->flags & (F_APP | F_ACCEPTQ)))
		if (c->state != NET_TCP_CLOSED)
			output(n, c);
}

/* ------------------------------------------------------------------ */
/* Timers firing                                                        */
/* ------------------------------------------------------------------ */
static void rto_fire(struct net *n, struct tcb *c)
{
	struct tcp *t = n->tcp;
	uint8_t mac[6];

	c->rto_at = INT64_MAX;
	if (c->flags & F_NOMAC) {
		uint32_t hop = (c->rip & n->cfg.netmask) ==
					       (n->cfg.ip & n->cfg.netmask)
				       ? c->rip
				       : n->cfg.gateway;

		if (net_arp_resolve(n, hop, n->now, INT64_MAX, mac)) {
			memcpy(c->rmac, mac, 6);
			c->flags &= (uint16_t)~F_NOMAC;
			t->arp_waiting--;
			seg_out(n, c, c->iss, TH_SYN, 0);
			c->flags |= F_RTT;
			c->rtt_seq = c->iss;
			c->rtt_at = n->now;
			rto_arm(n, c);
		} else if (n->now >= c->arp_until) {
			timeout_drop(n, c);
		} else {
			c->rto_at = n->now + ARP_POLL_MS;
		}
		return;
	}
	c->flags &= (uint16_t)~F_RTT; /* Karn: no sample from a resend */
	c->rto = min32(c->rto * 2, t->rto_max);
	if (c->flags & F_PERSIST) {
		if (c->snd_wnd) {
			c->flags &= (uint16_t)~F_PERSIST;
			output(n, c);
			return;
		}
		if (++c->retries > t->retries) {
			timeout_drop(n, c);
			return;
		}
		/* seq one below snd_una: the peer answers with its window */
		seg_out(n, c, c->snd_una - 1, TH_ACK, 0);
		rto_arm(n, c);
		return;
	}
	if (c->state == NET_TCP_SYN_RCVD || c->state == NET_TCP_SYN_SENT) {
		if (++c->retries > t->syn_retries) {
			if (c->state == NET_TCP_SYN_RCVD)
				tcb_free(n, c);
			else
				timeout_drop(n, c);
			return;
		}
		n->st.tcp_retransmits++;
		seg_out(n, c, c->iss,
			c->state == NET_TCP_SYN_RCVD ? TH_SYN | TH_ACK : TH_SYN,
			0);
		rto_arm(n, c);
		return;
	}
	if (c->snd_una == c->snd_max)
		return;
	if (++c->retries > t->retries) {
		timeout_drop(n, c);
		return;
	}
	n->st.tcp_rtos++;
	n->st.tcp_retransmits++;
	/* RFC 5681 (4): one segment, slow start from there */
	c->ssthresh = max32((c->snd_max - c->snd_una) / 2, 2u * c->mss);
	c->cwnd = c->mss;
	c->recover = c->snd_max;
	c->flags &= (uint16_t)~F_RECOVERY;
	c->dupacks = 0;
	c->snd_nxt = c->snd_una;
	rto_arm(n, c);
	output(n, c);
}

static void idle_fire(struct net *n, struct tcb *c)
{
	struct tcp *t = n->tcp;

	c->idle_at = INT64_MAX;
	switch (c->state) {
	case NET_TCP_TIME_WAIT:
	case NET_TCP_FIN_WAIT_2:
		tcb_done(n, c, 0);
		return;
	case NET_TCP_ESTABLISHED:
	case NET_TCP_CLOSE_WAIT:
		break;
	default:
		return;
	}
	if (n->now - c->last_rcv < t->ka_idle) {
		c->ka_probes = 0;
		c->idle_at = c->last_rcv + t->ka_idle;
		return;
	}
	if (c->ka_probes >= t->ka_probes) {
		timeout_drop(n, c);
		return;
	}
	c->ka_probes++;
	seg_out(n, c, c->snd_una - 1, TH_ACK, 0);
	c->idle_at = n->now + t->ka_intvl;
}

static void fire(struct net *n, struct tcb *c)
{
	struct tcp *t = n->tcp;

	if (c->ack_at <= n->now)
		ack_out(n, c);
	if (c->rto_at <= n->now)
		rto_fire(n, c);
	if (c->state != NET_TCP_CLOSED && c->idle_at <= n->now)
		idle_fire(n, c);
	if (c->state != NET_TCP_CLOSED)
		timer_sync(t, c);
}

void tcp_tick(struct net *n)
{
	struct tcp *t = n->tcp;
	int64_t steps = n->now - t->wheel_now;

	if (steps <= 0)
		return;
	if (steps > WHEEL)
		steps = WHEEL;
	for (int64_t i = 1; i <= steps; i++) {
		int64_t now = i == steps ? n->now : t->wheel_now + 1;
		uint32_t id = t->wheel[now & (WHEEL - 1)];

		/* a slot holds deadlines a whole turn apart; those of
		 * a skipped stretch have reached this one by now */
		t->wheel_now = now;
		while (id != NIL) {
			struct tcb *c = &t->c[id];

			id = c->tm_next;
			if (c->tm_at <= n->now) {
				wheel_unlink(t, c);
				fire(n, c);
			}
		}
	}
	t->wheel_now = n->now;
}

/* ------------------------------------------------------------------ */
/* The application's calls                                              */
/* ------------------------------------------------------------------ */
static struct tcb *app_tcb(struct net *n, uint32_t id)
{
	struct tcp *t = n->tcp;

	if (id >= t->nconn || !(t->c[id].flags & F_APP))
		return NULL;
	return &t->c[id];
}

int net_tcp_listen(struct net *n, uint16_t port, uint32_t backlog)
{
	struct tcp *t = n->tcp;
	int slot = -1;

	if (!port || !backlog)
		return -EINVAL;
	for (int i = 0; i < NET_TCP_LISTENERS; i++) {
		if (t->l[i].port == port)
			return -EADDRINUSE;
		if (!t->l[i].port && slot < 0)
			slot = i;
	}
	if (slot < 0)
		return -ENOSPC;
	t->l[slot].port = port;
	t->l[slot].backlog = backlog;
	t->l[slot].pending = 0;
	t->l[slot].qhead = t->l[slot].qtail = NIL;
	return 0;
}

int net_tcp_accept(struct net *n, uint16_t port, uint32_t *id,
		   uint32_t *peer_ip, uint16_t *peer_port)
{
	struct tcp *t = n->tcp;

	for (int i = 0; i < NET_TCP_LISTENERS; i++) {
		struct listener *l = &t->l[i];
		struct tcb *c;

		if (l->port != port)
			continue;
		if (l->qhead == NIL)
			return -EAGAIN;
		c = &t->c[l->qhead];
		l->qhead = c->q_next;
		if (l->qhead == NIL)
			l->qtail = NIL;
		l->pending--;
		c->flags = (uint16_t)((c->flags & ~F_ACCEPTQ) | F_APP);
		c->token = 0;
		c->ev = 0;
		/* what came before the accept is reported after it */
		if (c->rcv_len || (c->flags & F_FIN_RCVD) || c->err)
			ev_add(t, c, NET_EV_IN | (c->err ? NET_EV_HUP : 0));
		*id = tcb_id(t, c);
		if (peer_ip)
			*peer_ip = c->rip;
		if (peer_port)
			*peer_port = c->rport;
		return 0;
	}
	return -EAGAIN;
}

static int port_in_use(struct tcp *t, uint32_t ip, uint16_t rport,
		       uint16_t lport)
{
	for (int i = 0; i < NET_TCP_LISTENERS; i++)
		if (t->l[i].port == lport)
			return 1;
	return lookup(t, ip, rport, lport) != NULL;
}

int net_tcp_connect(struct net *n, uint32_t ip, uint16_t port,
		    uint32_t *id)
{
	struct tcp *t = n->tcp;
	uint32_t hop = (ip & n->cfg.netmask) == (n->cfg.ip & n->cfg.netmask)
			       ? ip
			       : n->cfg.gateway;
	uint16_t lport = 0;
	uint8_t mac[6];
	struct tcb *c;

	if (!ip || !port)
		return -EINVAL;
	if (!hop)
		return -ENETUNREACH;
	if (t->free_head == NIL)
		return -ENOSPC;
	for (int i = 0; i < 28232; i++) { /* 32768..60999, as Linux */
		uint16_t p = t->next_port;

		t->next_port = p >= 60999 ? 32768 : (uint16_t)(p + 1);
		if (!port_in_use(t, ip, port, p)) {
			lport = p;
			break;
		}
	}
	if (!lport)
		return -EADDRNOTAVAIL;
	c = tcb_alloc(n);
	c->rip = ip;
	c->rport = port;
	c->lport = lport;
	init_seq(c, make_isn(n, ip, port, lport));
	c->mss = 536;
	c->state = NET_TCP_SYN_SENT;
	c->flags |= F_APP;
	c->snd_nxt = c->snd_max = c->snd_end = c->iss + 1;
	hash_add(t, c);
	if (net_arp_resolve(n, hop, n->now, INT64_MAX, mac)) {
		memcpy(c->rmac, mac, 6);
		seg_out(n, c, c->iss, TH_SYN, 0);
		c->flags |= F_RTT;
		c->rtt_seq = c->iss;
		c->rtt_at = n->now;
		rto_arm(n, c);
	} else {
		c->flags |= F_NOMAC;
		t->arp_waiting++;
		c->arp_until = n->now + ARP_WAIT_MS;
		c->rto_at = n->now + ARP_POLL_MS;
	}
	timer_sync(t, c);
	*id = tcb_id(t, c);
	return 0;
}

/* net.c tells when ARP learned an address: SYNs waiting for it go now */
void tcp_arp_learned(struct net *n, uint32_t ip)
{
	struct tcp *t = n->tcp;

	if (!t->arp_waiting)
		return;
	for (uint32_t i = 0; i < t->nconn; i++) {
		struct tcb *c = &t->c[i];
		uint32_t hop;

		if (c->state != NET_TCP_SYN_SENT || !(c->flags & F_NOMAC))
			continue;
		hop = (c->rip & n->cfg.netmask) ==
				      (n->cfg.ip & n->cfg.netmask)
			      ? c->rip
			      : n->cfg.gateway;
		if (hop == ip) {
			rto_fire(n, c);
			timer_sync(t, c);
		}
	}
}

void net_tcp_set_token(struct net *n, uint32_t id, uint64_t token)
{
	struct tcb *c = app_tcb(n, id);

	if (c)
		c->token = token;
}

uint64_t net_tcp_token(const struct net *n, uint32_t id)
{
	const struct tcp *t = n->tcp;

	return id < t->nconn ? t->c[id].token : 0;
}

ssize_t net_tcp_recv(struct net *n, uint32_t id, void *buf, size_t len)
{
	struct tcp *t = n->tcp;
	struct tcb *c = app_tcb(n, id);
	uint32_t take, first, before, after;

	if (!c)
		return -EBADF;
	if (!c->rcv_len) {
		if (c->err)
			return -(ssize_t)c->err;
		if (c->flags & F_FIN_RCVD)
			return 0;
		return c->state == NET_TCP_CLOSED ? 0 : -EAGAIN;
	}
	take = (uint32_t)(len < c->rcv_len ? len : c->rcv_len);
	first = min32(take, t->rcvbuf - c->rcv_rd);
	memcpy(buf, c->rbuf + c->rcv_rd, first);
	memcpy((unsigned char *)buf + first, c->rbuf, take - first);
	c->rcv_rd = (c->rcv_rd + take) & t->rmask;
	c->rcv_len -= take;
	if (c->state == NET_TCP_CLOSED || (c->flags & F_FIN_RCVD))
		return take;
	/* a window update when the reads opened it by two segments or half
	 * the ring (RFC 1122 4.2.3.3's receiver-side silly window rule) */
	before = SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	after = (min32(rcv_space(t, c) >> c->rcv_ws, 65535)) << c->rcv_ws;
	if (after > before &&
	    after - before >= min32(2u * OUR_MSS, t->rcvbuf / 2)) {
		ack_out(n, c);
		timer_sync(t, c);
	}
	return take;
}

int net_tcp_readable(const struct net *n, uint32_t id)
{
	const struct tcp *t = n->tcp;
	const struct tcb *c;

	if (id >= t->nconn || !(t->c[id].flags & F_APP))
		return 0;
	c = &t->c[id];
	return c->rcv_len || (c->flags & F_FIN_RCVD) || c->err ||
	       c->state == NET_TCP_CLOSED;
}

ssize_t net_tcp_send(struct net *n, uint32_t id, const struct iovec *iov,
		     int cnt)
{
	struct tcp *t = n->tcp;
	struct tcb *c = app_tcb(n, id);
	uint32_t room, took = 0;

	if (!c)
		return -EBADF;
	if (c->state == NET_TCP_SYN_SENT || c->state == NET_TCP_SYN_RCVD)
		return -ENOTCONN;
	if (c->state != NET_TCP_ESTABLISHED && c->state != NET_TCP_CLOSE_WAIT)
		return -EPIPE;
	room = t->sndbuf - (c->snd_end - c->snd_una);
	for (int i = 0; i < cnt && room; i++) {
		const unsigned char *p = iov[i].iov_base;
		uint32_t k = (uint32_t)(iov[i].iov_len < room ? iov[i].iov_len
							      : room);
		uint32_t off = (c->snd_end - c->iss - 1) & t->smask;
		uint32_t first = min32(k, t->sndbuf - off);

		memcpy(c->sbuf + off, p, first);
		memcpy(c->sbuf, p + first, k - first);
		c->snd_end += k;
		room -= k;
		took += k;
		if (k < iov[i].iov_len)
			break;
	}
	{
		size_t want = 0;

		for (int i = 0; i < cnt; i++)
			want += iov[i].iov_len;
		if (took < want)
			c->flags |= F_WANT_OUT;
	}
	if (took)
		output(n, c);
	return took ? (ssize_t)took : -EAGAIN;
}

/* A RST for c (if the peer knows it) and the record freed. */
static void abort_rst(struct net *n, struct tcb *c)
{
	if (c->state != NET_TCP_SYN_SENT && c->state != NET_TCP_TIME_WAIT &&
	    c->state != NET_TCP_CLOSED) {
		seg_out(n, c, c->snd_nxt, TH_RST | TH_ACK, 0);
		n->st.tcp_rst_sent++;
	}
	c->flags &= (uint16_t)~(F_APP | F_ACCEPTQ);
	tcb_free(n, c);
}

void net_tcp_close(struct net *n, uint32_t id)
{
	struct tcp *t = n->tcp;
	struct tcb *c = app_tcb(n, id);

	if (!c)
		return;
	c->flags &= (uint16_t)~(F_APP | F_WANT_OUT);
	c->ev = 0;
	if (c->state == NET_TCP_CLOSED) {
		tcb_free(n, c);
		return;
	}
	if (c->rcv_len || c->state == NET_TCP_SYN_SENT) {
		/* unread data: the peer must learn it was not read */
		abort_rst(n, c);
		return;
	}
	if (c->state == NET_TCP_ESTABLISHED)
		c->state = NET_TCP_FIN_WAIT_1;
	else if (c->state == NET_TCP_CLOSE_WAIT)
		c->state = NET_TCP_LAST_ACK;
	else
		return;
	c->flags |= F_FIN_Q;
	output(n, c);
	(void)t;
}

void net_tcp_abort(struct net *n, uint32_t id)
{
	struct tcb *c = app_tcb(n, id);

	if (c)
		abort_rst(n, c);
}

enum net_tcp_state net_tcp_state(const struct net *n, uint32_t id)
{
	const struct tcp *t = n->tcp;

	if (id >= t->nconn || !(t->c[id].flags & (F_APP | F_ACCEPTQ)))
		return NET_TCP_CLOSED;
	return (enum net_tcp_state)t->c[id].state;
}

/* ------------------------------------------------------------------ */
static uint32_t pow2_or(uint32_t v, uint32_t dflt)
{
	uint32_t p = 1;

	if (!v)
		return dflt;
	while (p < v && p < (1u << 30))
		p <<= 1;
	return p;
}

static uint32_t or_default(uint32_t v, uint32_t dflt)
{
	return v ? v : dflt;
}

struct tcp *tcp_create(struct net *n)
{
	const struct net_config *cfg = &n->cfg;
	OSSL_PARAM params[2];
	size_t eight = 8;
	struct tcp *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->nconn = or_default(cfg->tcp_conns, 1024);
	t->sndbuf = pow2_or(cfg->tcp_sndbuf, 65536);
	t->rcvbuf = pow2_or(cfg->tcp_rcvbuf, 65536);
	if (t->sndbuf < 1024)
		t->sndbuf = 1024;
	if (t->rcvbuf < 1024)
		t->rcvbuf = 1024;
	t->smask = t->sndbuf - 1;
	t->rmask = t->rcvbuf - 1;
	while ((t->rcvbuf >> t->rcv_ws) > 65535)
		t->rcv_ws++;
	t->half_open_max = or_default(cfg->tcp_half_open, 256);
	t->rto_min = or_default(cfg->tcp_rto_min_ms, 200);
	t->rto_max = or_default(cfg->tcp_rto_max_ms, 60000);
	t->retries = or_default(cfg->tcp_retries, 8);
	t->syn_retries = or_default(cfg->tcp_syn_retries, 5);
	t->delack = or_default(cfg->tcp_delack_ms, 10);
	t->ka_idle = or_default(cfg->tcp_keepalive_ms, 7200000);
	t->ka_intvl = or_default(cfg->tcp_keepalive_intvl_ms, 75000);
	t->ka_probes = or_default(cfg->tcp_keepalive_probes, 9);
	t->timewait = or_default(cfg->tcp_timewait_ms, 1000);
	memcpy(t->key, cfg->tcp_isn_key, sizeof(t->key));
	t->next_port = 32768 + (uint16_t)(cfg->tcp_isn_key[0] % 28232);
	for (t->hmask = 1; t->hmask < 2 * t->nconn; t->hmask <<= 1)
		;
	t->hmask--;
	t->evq_cap = t->nconn + NET_TCP_LISTENERS;
	t->c = calloc(t->nconn, sizeof(*t->c));
	t->hidx = calloc((size_t)t->hmask + 1, sizeof(*t->hidx));
	t->evq = calloc(t->evq_cap, sizeof(*t->evq));
	t->bufs = malloc((size_t)t->nconn * (t->sndbuf + t->rcvbuf));
	t->mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_SIPHASH, NULL);
	t->isn = t->mac ? EVP_MAC_CTX_new(t->mac) : NULL;
	params[0] = OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &eight);
	params[1] = OSSL_PARAM_construct_end();
	if (!t->c || !t->hidx || !t->evq || !t->bufs || !t->isn ||
	    !EVP_MAC_CTX_set_params(t->isn, params)) {
		tcp_destroy(t);
		return NULL;
	}
	for (uint32_t i = 0; i < t->nconn; i++) {
		struct tcb *c = &t->c[i];

		c->sbuf = t->bufs + (size_t)i * (t->sndbuf + t->rcvbuf);
		c->rbuf = c->sbuf + t->sndbuf;
		c->tm_at = INT64_MAX;
		c->q_next = i + 1 < t->nconn ? i + 1 : NIL;
	}
	for (int i = 0; i < WHEEL; i++)
		t->wheel[i] = NIL;
	t->wheel_now = n->now;
	return t;
}

void tcp_destroy(struct tcp *t)
{
	if (!t)
		return;
	EVP_MAC_CTX_free(t->isn);
	EVP_MAC_free(t->mac);
	free(t->bufs);
	free(t->evq);
	free(t->hidx);
	free(t->c);
	free(t);
}
