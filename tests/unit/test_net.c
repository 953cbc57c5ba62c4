/*
 * test_net.c — net/: the Internet checksum against a byte-wise
 * reference, ARP (answers, learning, resolving with retries), ICMP echo,
 * and every kind of frame the stack must drop, including every
 * truncation of valid frames and random garbage (run under ASan in CI).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net/net.h"

#define OUR_IP 0x0a630001u  /* 10.99.0.1 */
#define PEER_IP 0x0a630002u /* 10.99.0.2 */
static const uint8_t our_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
static const uint8_t peer_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};

/* what the stack sent */
static unsigned char sent[8][NET_FRAME_MAX];
static size_t sent_len[8];
static int nsent;

static void tx(void *arg, const void *frame, size_t len)
{
	(void)arg;
	assert_true(len <= NET_FRAME_MAX);
	if (nsent < 8) {
		memcpy(sent[nsent], frame, len);
		sent_len[nsent] = len;
	}
	nsent++;
}

static int setup(void **state)
{
	struct net_config c = {.ip = OUR_IP, .netmask = 0xffffff00u,
			       .tx = tx};
	memcpy(c.mac, our_mac, 6);
	*state = net_create(&c);
	nsent = 0;
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	net_destroy(*state);
	return 0;
}

static uint16_t g16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t g32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void p16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static void p32(unsigned char *p, uint32_t v)
{
	p16(p, (uint16_t)(v >> 16));
	p16(p + 2, (uint16_t)v);
}

/* RFC 1071 the slow way: big-endian 16-bit words, end-around carry */
static uint16_t ref_csum(const unsigned char *p, size_t len)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* net_csum's value as a big-endian number */
static uint16_t csum_be(const void *p, size_t len, uint32_t sum)
{
	uint16_t c = net_csum(p, len, sum);
	unsigned char b[2];

	memcpy(b, &c, 2);
	return g16(b);
}

static void test_checksum_matches_rfc1071(void **state)
{
	static const unsigned char rfc[] = {0x00, 0x01, 0xf2, 0x03,
					    0xf4, 0xf5, 0xf6, 0xf7};
	unsigned char buf[300];

	(void)state;
	/* RFC 1071 §3's example: the sum is 0xddf2 */
	assert_int_equal(csum_be(rfc, sizeof(rfc), 0), 0x220d);
	srand(7);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)rand();
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len + off <= sizeof(buf); len++)
			assert_int_equal(csum_be(buf + off, len, 0),
					 ref_csum(buf + off, len));
	/* partial sums chain over even lengths */
	for (size_t cut = 0; cut <= 100; cut += 2)
		assert_int_equal(
			csum_be(buf + cut, 100 - cut, net_csum_add(buf, cut, 0)),
			ref_csum(buf, 100));
	memset(buf, 0xff, 64);
	assert_int_equal(csum_be(buf, 64, 0), 0);
}

/* An ARP frame (op 1 request, 2 reply) from the peer. */
static size_t arp_frame(unsigned char *f, uint16_t op, uint32_t tpa)
{
	memset(f, 0, 60);
	memcpy(f, op == 1 ? (const uint8_t *)"\xff\xff\xff\xff\xff\xff"
			  : our_mac,
	       6);
	memcpy(f + 6, peer_mac, 6);
	p16(f + 12, 0x0806);
	p16(f + 14, 1);
	p16(f + 16, 0x0800);
	f[18] = 6;
	f[19] = 4;
	p16(f + 20, op);
	memcpy(f + 22, peer_mac, 6);
	p32(f + 28, PEER_IP);
	if (op == 2)
		memcpy(f + 32, our_mac, 6);
	p32(f + 38, tpa);
	return 42;
}

static void test_arp_request_for_us_is_answered_and_learned(void **state)
{
	struct net *n = *state;
	unsigned char f[64];
	uint8_t mac[6];
	const unsigned char *r = sent[0];

	net_input(n, f, arp_frame(f, 1, OUR_IP), 1000);
	assert_int_equal(nsent, 1);
	assert_int_equal(sent_len[0], 60); /* padded to Ethernet's minimum */
	assert_memory_equal(r, peer_mac, 6);
	assert_memory_equal(r + 6, our_mac, 6);
	assert_int_equal(g16(r + 12), 0x0806);
	assert_int_equal(g16(r + 20), 2);
	assert_memory_equal(r + 22, our_mac, 6);
	assert_int_equal(g32(r + 28), OUR_IP);
	assert_memory_equal(r + 32, peer_mac, 6);
	assert_int_equal(g32(r + 38), PEER_IP);
	assert_int_equal(net_stats(n)->arp_replies, 1);
	/* the asker is in the cache: no request goes out */
	assert_int_equal(net_arp_resolve(n, PEER_IP, 2000, 60000, mac), 1);
	assert_memory_equal(mac, peer_mac, 6);
	assert_int_equal(nsent, 1);
	/* for another address: nothing */
	net_input(n, f, arp_frame(f, 1, OUR_IP + 5), 3000);
	assert_int_equal(nsent, 1);
	assert_int_equal(net_stats(n)->drop_not_ours, 1);
}

static void test_arp_resolve_asks_once_a_second_until_answered(void **state)
{
	struct net *n = *state;
	unsigned char f[64];
	uint8_t mac[6];

	assert_int_equal(net_arp_resolve(n, PEER_IP, 0, 60000, mac), 0);
	assert_int_equal(nsent, 1);
	assert_memory_equal(sent[0], "\xff\xff\xff\xff\xff\xff", 6);
	assert_int_equal(g16(sent[0] + 20), 1);
	assert_int_equal(g32(sent[0] + 38), PEER_IP);
	assert_int_equal(net_arp_resolve(n, PEER_IP, 999, 60000, mac), 0);
	assert_int_equal(nsent, 1);
	assert_int_equal(net_arp_resolve(n, PEER_IP, 1000, 60000, mac), 0);
	assert_int_equal(nsent, 2);
	/* the reply fills the cache; it is not answered */
	net_input(n, f, arp_frame(f, 2, OUR_IP), 1200);
	assert_int_equal(nsent, 2);
	assert_int_equal(net_arp_resolve(n, PEER_IP, 1300, 60000, mac), 1);
	assert_memory_equal(mac, peer_mac, 6);
	/* too old: asked again */
	assert_int_equal(net_arp_resolve(n, PEER_IP, 70000, 60000, mac), 0);
	assert_int_equal(nsent, 3);
}

static void test_arp_cache_replaces_the_oldest(void **state)
{
	struct net *n = *state;
	unsigned char f[64];
	uint8_t mac[6];

	for (uint32_t i = 0; i < NET_ARP_SLOTS + 1; i++) {
		arp_frame(f, 1, OUR_IP);
		p32(f + 28, 0x0b000000u + i);
		net_input(n, f, 42, 100 + i);
	}
	/* the first one learned went for the last */
	assert_int_equal(net_arp_resolve(n, 0x0b000000u, 500, 60000, mac), 0);
	assert_int_equal(net_arp_resolve(n, 0x0b000001u + NET_ARP_SLOTS - 1,
					 500, 60000, mac),
			 1);
}

/* An ICMP echo request from the peer with `dlen` bytes of data. */
static size_t echo_frame(unsigned char *f, size_t dlen)
{
	unsigned char *ip = f + 14, *ic = ip + 20;

	memcpy(f, our_mac, 6);
	memcpy(f + 6, peer_mac, 6);
	p16(f + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	p16(ip + 2, (uint16_t)(28 + dlen));
	p16(ip + 4, 77);
	p16(ip + 6, 0x4000); /* DF */
	ip[8] = 64;
	ip[9] = 1;
	p32(ip + 12, PEER_IP);
	p32(ip + 16, OUR_IP);
	{
		uint16_t c = net_csum(ip, 20, 0);
		memcpy(ip + 10, &c, 2);
	}
	ic[0] = 8;
	ic[1] = 0;
	ic[2] = ic[3] = 0;
	p16(ic + 4, 0x1234); /* identifier */
	p16(ic + 6, 9);	     /* sequence */
	for (size_t i = 0; i < dlen; i++)
		ic[8 + i] = (unsigned char)(i * 7);
	{
		uint16_t c = net_csum(ic, 8 + dlen, 0);
		memcpy(ic + 2, &c, 2);
	}
	return 14 + 28 + dlen;
}

static void test_icmp_echo_is_answered(void **state)
{
	struct net *n = *state;
	unsigned char f[NET_FRAME_MAX];
	size_t len = echo_frame(f, 56);
	const unsigned char *r = sent[0], *ip = r + 14, *ic = ip + 20;

	net_input(n, f, len, 0);
	assert_int_equal(nsent, 1);
	assert_int_equal(sent_len[0], len);
	assert_memory_equal(r, peer_mac, 6);
	assert_memory_equal(r + 6, our_mac, 6);
	assert_int_equal(g16(r + 12), 0x0800);
	assert_int_equal(ip[0], 0x45);
	assert_int_equal(g16(ip + 2), 28 + 56);
	assert_int_equal(ip[9], 1);
	assert_int_equal(g32(ip + 12), OUR_IP);
	assert_int_equal(g32(ip + 16), PEER_IP);
	assert_int_equal(net_csum(ip, 20, 0), 0);
	assert_int_equal(ic[0], 0);
	assert_int_equal(g16(ic + 4), 0x1234);
	assert_int_equal(g16(ic + 6), 9);
	assert_memory_equal(ic + 8, f + 14 + 28, 56);
	assert_int_equal(net_csum(ic, 8 + 56, 0), 0);
	assert_int_equal(net_stats(n)->icmp_echoes, 1);
	/* the largest that fits, and one with odd length */
	nsent = 0;
	net_input(n, f, echo_frame(f, 1500 - 28), 0);
	net_input(n, f, echo_frame(f, 33), 0);
	assert_int_equal(nsent, 2);
	assert_int_equal(sent_len[0], NET_FRAME_MAX);
	assert_int_equal(net_csum(sent[1] + 34, 8 + 33, 0), 0);
}

static void test_bad_frames_are_counted_and_dropped(void **state)
{
	struct net *n = *state;
	unsigned char f[NET_FRAME_MAX];
	const struct net_stats *st = net_stats(n);
	size_t len;

	len = echo_frame(f, 16);
	f[14 + 10] ^= 1; /* IP checksum */
	net_input(n, f, len, 0);
	assert_int_equal(st->drop_bad_ip, 1);
	len = echo_frame(f, 16);
	f[14] = 0x65; /* IPv6's version in an IPv4 frame */
	net_input(n, f, len, 0);
	assert_int_equal(st->drop_bad_ip, 2);
	len = echo_frame(f, 16);
	f[14 + 42] ^= 1; /* ICMP data, so its checksum */
	net_input(n, f, len, 0);
	assert_int_equal(st->drop_bad_icmp, 1);
	len = echo_frame(f, 16);
	p16(f + 14 + 6, 0x2000); /* more fragments */
	f[14 + 10] = f[14 + 11] = 0;
	{
		uint16_t c = net_csum(f + 14, 20, 0);
		memcpy(f + 14 + 10, &c, 2);
	}
	net_input(n, f, len, 0);
	assert_int_equal(st->drop_fragment, 1);
	len = echo_frame(f, 16);
	p16(f + 14 + 2, 200); /* longer than the frame */
	net_input(n, f, len, 0);
	assert_int_equal(st->drop_short, 1);
	len = echo_frame(f, 16);
	f[14 + 9] = 17; /* UDP: no handler */
	f[14 + 10] = f[14 + 11] = 0;
	{
		uint16_t c = net_csum(f + 14, 20, 0);
		memcpy(f + 14 + 10, &c, 2);
	}
	net_input(n, f, len, 0);
	assert_int_equal(st->drop_no_proto, 1);
	p16(f + 12, 0x86dd); /* IPv6 */
	net_input(n, f, len, 0);
	assert_int_equal(st->drop_ethertype, 1);
	assert_int_equal(nsent, 0);
}

static void test_truncated_and_random_frames_send_nothing(void **state)
{
	struct net *n = *state;
	unsigned char f[NET_FRAME_MAX], *copy;
	size_t full;

	/* every cut of a valid echo request and ARP request, each in a
	 * buffer of exactly that size (ASan sees any read past it) */
	full = echo_frame(f, 40);
	for (size_t len = 0; len < full; len++) {
		copy = malloc(len ? len : 1);
		memcpy(copy, f, len);
		net_input(n, copy, len, 0);
		free(copy);
	}
	full = arp_frame(f, 1, OUR_IP);
	for (size_t len = 0; len < full; len++) {
		copy = malloc(len ? len : 1);
		memcpy(copy, f, len);
		net_input(n, copy, len, 0);
		free(copy);
	}
	assert_int_equal(nsent, 0);
	/* random bytes behind valid Ethernet/IPv4/ARP types */
	srand(11);
	for (int i = 0; i < 20000; i++) {
		size_t len = (size_t)rand() % 120;
		copy = malloc(len ? len : 1);
		for (size_t k = 0; k < len; k++)
			copy[k] = (unsigned char)rand();
		if (len >= 14)
			p16(copy + 12, i & 1 ? 0x0800 : 0x0806);
		net_input(n, copy, len, i);
		free(copy);
	}
	assert_int_equal(net_stats(n)->rx_frames,
			 20000 + 40 + 14 + 28 + 42);
}

static void test_create_refuses_unusable_configs(void **state)
{
	struct net_config c = {.ip = OUR_IP, .tx = tx};

	(void)state;
	assert_null(net_create(NULL));
	assert_null(net_create(&c)); /* zero MAC */
	memcpy(c.mac, our_mac, 6);
	c.mac[0] |= 1; /* multicast */
	assert_null(net_create(&c));
	c.mac[0] &= (uint8_t)~1u;
	c.tx = NULL;
	assert_null(net_create(&c));
	c.tx = tx;
	c.ip = 0;
	assert_null(net_create(&c));
	c.ip = OUR_IP;
	struct net *n = net_create(&c);
	assert_non_null(n);
	net_destroy(n);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_checksum_matches_rfc1071),
	    T(test_arp_request_for_us_is_answered_and_learned),
	    T(test_arp_resolve_asks_once_a_second_until_answered),
	    T(test_arp_cache_replaces_the_oldest),
	    T(test_icmp_echo_is_answered),
	    T(test_bad_frames_are_counted_and_dropped),
	    T(test_truncated_and_random_frames_send_nothing),
	    T(test_create_refuses_unusable_configs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
#undef T
}
