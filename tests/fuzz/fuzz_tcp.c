/*
 * fuzz_tcp.c — libFuzzer target for net/'s TCP: the input is a sequence
 * of received frames, each as [ctl][len: 2 bytes, big-endian][frame],
 * fed to a fresh stack listening on port 2181 whose application echoes
 * what it reads and closes at the end of a stream.  ctl's low six bits
 * are milliseconds to advance (timers run: RTO, delayed ACK, TIME_WAIT),
 * 0x40 toggles whether the application reads, 0x80 makes it close every
 * connection it holds.  The stack's clock and ISN key are fixed, so a
 * recorded exchange (make_tcp_seeds.c writes them) replays to the same
 * states.
 *
 * Checked besides memory safety (ASan): every frame sent is 60..1514
 * bytes with valid IPv4 and TCP or ICMP checksums, and a TCP segment
 * never carries more than the MSS; after the input, with the
 * application's connections closed and the clock run on for fifteen
 * minutes, the stack holds no connection (nothing leaks).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_tcp_int.h"

static void check_tx(void *arg, const void *frame, size_t len)
{
	const unsigned char *f = frame;
	size_t ihl, tot;

	(void)arg;
	if (len < 60 || len > NET_FRAME_MAX)
		abort();
	if (f[12] != 0x08 || f[13] != 0x00)
		return; /* ARP */
	ihl = (size_t)(f[14] & 15) * 4;
	tot = (size_t)(f[16] << 8 | f[17]);
	if (ihl != 20 || 14 + tot > len || net_csum(f + 14, ihl, 0))
		abort();
	if (f[23] == 1 && net_csum(f + 34, tot - 20, 0))
		abort();
	if (f[23] == 6) {
		const unsigned char *h = f + 34;
		size_t hl = (size_t)(h[12] >> 4) * 4;
		uint32_t seed = net_csum_add(f + 26, 8, 0);
		unsigned char ph[4] = {0, 6, (unsigned char)((tot - 20) >> 8),
				       (unsigned char)(tot - 20)};

		seed = net_csum_add(ph, 4, seed);
		if (hl < 20 || hl > tot - 20 || tot - 20 - hl > 1460 ||
		    net_csum(h, tot - 20, seed))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct net_config cfg;
	struct net *n;
	uint32_t held[FUZZ_TCP_CONNS];
	int nheld = 0, reading = 1;
	int64_t now = FUZZ_TCP_T0;
	size_t i = 0;

	fuzz_tcp_config(&cfg, check_tx, NULL);
	n = net_create(&cfg);
	if (!n || net_tcp_listen(n, FUZZ_TCP_PORT, 4))
		abort();
	while (i + 3 <= size) {
		uint8_t ctl = data[i];
		size_t len = (size_t)(data[i + 1] << 8 | data[i + 2]);

		i += 3;
		if (len > size - i)
			len = size - i;
		now += ctl & 0x3f;
		net_input(n, data + i, len, now);
		net_tick(n, now);
		i += len;
		if (ctl & 0x40)
			reading = !reading;
		fuzz_tcp_app(n, held, &nheld, reading, ctl);
	}
	for (int c = 0; c < nheld; c++)
		net_tcp_close(n, held[c]);
	for (int s = 0; s < 900; s++) /* RTO backoff (9 x 60 s at most) */
		net_tick(n, now += 1000);
	if (net_stats(n)->tcp_conns)
		abort();
	net_destroy(n);
	return 0;
}
