/*
 * fuzz_tcp_int.h — the stack fuzz_tcp.c fuzzes, shared with
 * make_tcp_seeds.c so recorded exchanges replay to the same states
 * (the ISN key and the clock are fixed).
 */
#ifndef PADDOCK_FUZZ_TCP_INT_H
#define PADDOCK_FUZZ_TCP_INT_H

#include <errno.h>
#include <string.h>

#include "net/net.h"

#define FUZZ_TCP_PORT 2181
#define FUZZ_TCP_CONNS 8
#define FUZZ_TCP_T0 1000000
#define FUZZ_TCP_IP 0x0a630001u /* 10.99.0.1 */

static inline void fuzz_tcp_config(struct net_config *c,
				   void (*tx)(void *, const void *, size_t),
				   void *arg)
{
	static const uint8_t mac[6] = {2, 0, 0, 0, 0, 1};

	memset(c, 0, sizeof(*c));
	memcpy(c->mac, mac, 6);
	c->ip = FUZZ_TCP_IP;
	c->netmask = 0xffffff00u;
	c->tx = tx;
	c->tx_arg = arg;
	c->tcp_conns = FUZZ_TCP_CONNS;
	c->tcp_half_open = 4;
	c->tcp_sndbuf = 4096;
	c->tcp_rcvbuf = 4096;
	c->tcp_isn_key[0] = 0x5eed;
	c->tcp_isn_key[1] = 0xf022;
}

/* The application: accept what waits (while fewer than FUZZ_TCP_CONNS
 * are held), echo what it reads (if reading), close at the end of a
 * stream, on an error, or all of them when ctl has 0x80. */
static inline void fuzz_tcp_app(struct net *n, uint32_t *held, int *nheld,
				int reading, uint8_t ctl)
{
	struct net_event ev[16];
	unsigned char buf[2048];
	uint32_t id;

	while (net_tcp_events(n, ev, 16) > 0)
		;
	while (*nheld < FUZZ_TCP_CONNS &&
	       !net_tcp_accept(n, FUZZ_TCP_PORT, &id, NULL, NULL)) {
		net_tcp_set_token(n, id, id);
		held[(*nheld)++] = id;
	}
	for (int c = 0; c < *nheld; c++) {
		ssize_t r = reading ? net_tcp_recv(n, held[c], buf, sizeof(buf))
				    : -EAGAIN;

		if (r > 0) {
			struct iovec v = {buf, (size_t)r};

			(void)net_tcp_send(n, held[c], &v, 1);
		}
		if (r == 0 || (r < 0 && r != -EAGAIN) || (ctl & 0x80)) {
			net_tcp_close(n, held[c]);
			held[c--] = held[--(*nheld)];
		}
	}
}

#endif
