/*
 * stack-bench — a server TCP stack's CPU per request, in memory (sb.h).
 *
 *   stack-bench own|lwip|null [conns [rounds [request_bytes [reply_bytes]]]]
 *
 * CONNS clients (10.0.0.2, ports 10000 up) connect (SYN, SYN-ACK, ACK),
 * then ROUNDS rounds in which every client sends one request (PSH|ACK,
 * carrying its ACK of the previous reply) and the stack answers it at
 * once; the stack's timers run once per round.  200 rounds of warm-up
 * verify the checksums of everything the stack sends; then one packet in
 * 1,000.  One line: ns per request/response on this core, all in one
 * thread.  `null` is the client's own share: a "stack" that answers each
 * request with a prebuilt packet.  One stack per process (lwIP's state
 * is global): run it several times and take the best, as BENCHMARKS.md
 * does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sb.h"

uint16_t sb_csum(const void *p, size_t len, uint32_t sum)
{
	const unsigned char *b = p;
	uint16_t r;

	while (len > 1) {
		sum += sb_get16(b);
		b += 2;
		len -= 2;
	}
	if (len)
		sum += (uint32_t)(b[0] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	sb_put16((unsigned char *)&r, (uint16_t)~sum);
	return r;
}

uint32_t sb_pseudo(uint32_t src, uint32_t dst, uint16_t tcplen)
{
	return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + 6 +
	       tcplen;
}

struct cli {
	uint32_t snd_nxt, rcv_nxt;
	int up;
};

static struct cli *cl;
static int ncli;
static long bad, replies;
static unsigned long seen, verify_every = 1;
static unsigned char pkt[2048];

static struct cli *cli_of(uint16_t port)
{
	int i = port - 10000;
	return i >= 0 && i < ncli ? &cl[i] : NULL;
}

/* client i's segment with `flags` and dlen bytes of request into pkt */
static size_t build(int i, uint8_t flags, size_t dlen)
{
	const struct cli *c = &cl[i];
	unsigned char *ip = pkt, *tcp = pkt + 20;
	size_t thl = flags & 0x02 ? 24 : 20, tot = 20 + thl + dlen;

	memset(pkt, 0, 20 + thl);
	ip[0] = 0x45;
	sb_put16(ip + 2, (uint16_t)tot);
	ip[8] = 64;
	ip[9] = 6;
	sb_put32(ip + 12, SB_CLI_IP);
	sb_put32(ip + 16, SB_SRV_IP);
	sb_put_csum(ip + 10, sb_csum(ip, 20, 0));
	sb_put16(tcp, (uint16_t)(10000 + i));
	sb_put16(tcp + 2, SB_SRV_PORT);
	sb_put32(tcp + 4, c->snd_nxt);
	sb_put32(tcp + 8, c->rcv_nxt);
	tcp[12] = (unsigned char)((thl / 4) << 4);
	tcp[13] = flags;
	sb_put16(tcp + 14, 0xffff);
	if (flags & 0x02) {
		static const unsigned char mss[4] = {2, 4, 1460 >> 8,
						     1460 & 0xff};
		memcpy(tcp + 20, mss, sizeof(mss));
	}
	memset(tcp + thl, 'q', dlen);
	sb_put_csum(tcp + 16,
		    sb_csum(tcp, thl + dlen,
			    sb_pseudo(SB_CLI_IP, SB_SRV_IP,
				      (uint16_t)(thl + dlen))));
	return tot;
}

/* what the stack sends */
static void on_out(const void *p, size_t len)
{
	const unsigned char *ip = p, *tcp;
	size_t ihl, tot, thl, dlen;
	struct cli *c;

	if (len < 40) {
		bad++;
		return;
	}
	ihl = (size_t)(ip[0] & 15) * 4;
	tot = sb_get16(ip + 2);
	if (tot > len || tot < ihl + 20) {
		bad++;
		return;
	}
	if (++seen % verify_every == 0 &&
	    (sb_csum(ip, ihl, 0) ||
	     sb_csum(ip + ihl, tot - ihl,
		     sb_pseudo(SB_SRV_IP, SB_CLI_IP, (uint16_t)(tot - ihl))))) {
		bad++;
		return;
	}
	tcp = ip + ihl;
	c = cli_of(sb_get16(tcp + 2));
	if (!c) {
		bad++;
		return;
	}
	thl = (size_t)(tcp[12] >> 4) * 4;
	dlen = tot - ihl - thl;
	if ((tcp[13] & 0x12) == 0x12) {
		c->rcv_nxt = sb_get32(tcp + 4) + 1;
		c->up = 1;
	} else if (dlen) {
		c->rcv_nxt = sb_get32(tcp + 4) + (uint32_t)dlen;
		replies++;
	}
}

/* null: the client's share; answers with a prebuilt packet (its
 * checksums are not valid and not verified) */
static sb_out_fn null_out;
static size_t null_reply;
static unsigned char null_pkt[2048];

static int null_start(sb_out_fn out, size_t reply_len)
{
	null_out = out;
	null_reply = reply_len;
	null_pkt[0] = 0x45;
	null_pkt[9] = 6;
	null_pkt[32] = 0x50;
	verify_every = (unsigned long)-1;
	return 0;
}

static void null_input(const void *p, size_t len)
{
	const unsigned char *tcp = (const unsigned char *)p + 20;
	uint16_t port = sb_get16(tcp);
	struct cli *c = cli_of(port);
	size_t n = c && c->up ? 40 + null_reply : 40;

	if (!c || (tcp[13] == 0x10 && len <= 40))
		return; /* a bare ACK gets nothing */
	sb_put16(null_pkt + 2, (uint16_t)n);
	sb_put16(null_pkt + 22, port);
	null_pkt[33] = c->up ? 0x18 : 0x12;
	null_out(null_pkt, n);
}

static void null_poll(void)
{
}

static const struct sb_stack sb_null = {"null (the client's share)",
					null_start, null_input, null_poll};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void round_all(const struct sb_stack *s, size_t req)
{
	for (int i = 0; i < ncli; i++) {
		s->input(pkt, build(i, 0x18, req));
		cl[i].snd_nxt += (uint32_t)req;
	}
	s->poll();
}

int main(int argc, char **argv)
{
	const struct sb_stack *s = NULL;
	long rounds;
	size_t req, rep;
	int up = 0;

	if (argc > 1)
		s = !strcmp(argv[1], "own")    ? &sb_own
		    : !strcmp(argv[1], "lwip") ? &sb_lwip
		    : !strcmp(argv[1], "null") ? &sb_null
					       : NULL;
	if (!s) {
		fprintf(stderr, "usage: stack-bench own|lwip|null [conns "
				"[rounds [request_bytes [reply_bytes]]]]\n");
		return 2;
	}
	ncli = argc > 2 ? atoi(argv[2]) : 64;
	rounds = argc > 3 ? atol(argv[3]) : 20000;
	req = argc > 4 ? (size_t)atol(argv[4]) : 48;
	rep = argc > 5 ? (size_t)atol(argv[5]) : 200;
	if (ncli < 1 || ncli > 4096 || rounds < 1 || req < 1 || req > 1400 ||
	    rep < 1 || rep > 1400) {
		fprintf(stderr, "stack-bench: conns 1..4096, rounds >= 1, "
				"sizes 1..1400\n");
		return 2;
	}
	cl = calloc((size_t)ncli, sizeof(*cl));
	if (!cl || s->start(on_out, rep)) {
		fprintf(stderr, "stack-bench: %s did not start\n", s->name);
		return 1;
	}
	for (int i = 0; i < ncli; i++) {
		cl[i].snd_nxt = 1000u * (uint32_t)i;
		s->input(pkt, build(i, 0x02, 0));
		cl[i].snd_nxt++;
		s->input(pkt, build(i, 0x10, 0));
	}
	s->poll();
	for (int i = 0; i < ncli; i++)
		up += cl[i].up;
	for (int r = 0; r < 200; r++)
		round_all(s, req);
	long warm = replies;
	replies = 0;
	if (verify_every == 1)
		verify_every = 1000;
	double t0 = now_s();
	for (long r = 0; r < rounds; r++)
		round_all(s, req);
	double dt = now_s() - t0;
	long n = (long)ncli * rounds;
	printf("%-26s conns %4d (%d up) request %zu B reply %zu B: %7.1f ns "
	       "per request/response, %5.2f M/s; replies %ld of %ld, "
	       "warm-up %ld, bad %ld\n",
	       s->name, ncli, up, req, rep, dt * 1e9 / (double)n,
	       (double)n / dt / 1e6, replies, n, warm, bad);
	free(cl);
	return replies == n && bad == 0 && up == ncli ? 0 : 1;
}
