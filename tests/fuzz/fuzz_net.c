/*
 * fuzz_net.c — libFuzzer target for net/ (net_input): the input is one
 * received Ethernet frame.  Besides not crashing or reading past the
 * frame (ASan), everything the stack sends must be a whole frame no
 * larger than NET_FRAME_MAX, and an IPv4 one must carry valid header and
 * ICMP checksums; at most one frame answers one frame.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"

static int sent;

static void check_tx(void *arg, const void *frame, size_t len)
{
	const unsigned char *f = frame;

	(void)arg;
	sent++;
	if (len < 60 || len > NET_FRAME_MAX)
		abort();
	if (f[12] == 0x08 && f[13] == 0x00) {
		size_t ihl = (size_t)(f[14] & 15) * 4;
		size_t tot = (size_t)(f[16] << 8 | f[17]);

		if (ihl != 20 || 14 + tot > len || net_csum(f + 14, ihl, 0) ||
		    (f[23] == 1 && net_csum(f + 14 + ihl, tot - ihl, 0)))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct net *n;
	static int64_t now;

	if (!n) {
		struct net_config c = {.ip = 0x0a630001u,
				       .netmask = 0xffffff00u,
				       .tx = check_tx,
				       .mac = {2, 0, 0, 0, 0, 1}};
		n = net_create(&c);
		if (!n)
			abort();
	}
	sent = 0;
	net_input(n, data, size, now += 10);
	if (sent > 1)
		abort();
	return 0;
}
