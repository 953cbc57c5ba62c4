/*
 * make_tcp_seeds.c — writes fuzz_tcp's seeds: real exchanges between a
 * client stack and the stack fuzz_tcp.c builds (fuzz_tcp_int.h), the
 * frames the server received recorded in fuzz_tcp's input format.
 *
 *   make_tcp_seeds DIR
 *
 * The server here advances exactly as fuzz_tcp advances it (one record:
 * the clock moved by ctl's milliseconds, the frame in, timers, the
 * application), with an empty record every 20 ms between frames, so a
 * seed replays to the same states.  Scenarios: an echo and both
 * closes, a reset, loss on the way in (retransmissions, duplicate ACKs),
 * the application not reading (zero window, probes), the server
 * closing first, more connections than the table holds, a SYN to a
 * closed port, ARP and ping.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_tcp_int.h"

#define CLIENT_IP 0x0a630002u
#define MAXF 64

static unsigned char out[1 << 20];
static size_t outlen;
static int64_t last_rec; /* the server's clock at the last record */
static int reading;
static uint32_t held[FUZZ_TCP_CONNS];
static int nheld;

/* frames the client sent, not yet given to the server */
static unsigned char q[MAXF][NET_FRAME_MAX];
static size_t qlen[MAXF];
static int nq, drop_every, sent_count;

static struct net *srv, *cli;
static unsigned char sq[MAXF][NET_FRAME_MAX];
static size_t sqlen[MAXF];
static int nsq;

static void cli_tx(void *arg, const void *f, size_t len)
{
	(void)arg;
	sent_count++;
	if (drop_every && sent_count % drop_every == 0)
		return;
	if (nq < MAXF) {
		memcpy(q[nq], f, len);
		qlen[nq++] = len;
	}
}

static void srv_tx(void *arg, const void *f, size_t len)
{
	(void)arg;
	if (nsq < MAXF) {
		memcpy(sq[nsq], f, len);
		sqlen[nsq++] = len;
	}
}

/* one record: the server takes it as fuzz_tcp would */
static void record(int64_t now, const void *f, size_t len, uint8_t bits)
{
	uint8_t ctl = (uint8_t)((now - last_rec) | bits);

	if (outlen + 3 + len > sizeof(out))
		return;
	out[outlen++] = ctl;
	out[outlen++] = (unsigned char)(len >> 8);
	out[outlen++] = (unsigned char)len;
	if (len)
		memcpy(out + outlen, f, len);
	outlen += len;
	last_rec = now;
	net_input(srv, f, len, now);
	net_tick(srv, now);
	if (bits & 0x40)
		reading = !reading;
	fuzz_tcp_app(srv, held, &nheld, reading, bits);
}

/* one millisecond: the client's timers, its frames to the server (or
 * an empty record when 20 ms passed without one), the server's to it */
static void step(int64_t now, uint8_t bits)
{
	net_tick(cli, now);
	if (nq) {
		for (int i = 0; i < nq; i++)
			record(now, q[i], qlen[i], i ? 0 : bits);
		nq = 0;
	} else if (now - last_rec >= 20 || bits) {
		record(now, NULL, 0, bits);
	}
	for (int i = 0; i < nsq; i++)
		net_input(cli, sq[i], sqlen[i], now);
	nsq = 0;
}

static void start(void)
{
	struct net_config c;

	fuzz_tcp_config(&c, srv_tx, NULL);
	srv = net_create(&c);
	net_tcp_listen(srv, FUZZ_TCP_PORT, 4);
	c.mac[5] = 2;
	c.ip = CLIENT_IP;
	c.tx = cli_tx;
	c.tcp_isn_key[0] = 77;
	c.tcp_sndbuf = c.tcp_rcvbuf = 16384;
	cli = net_create(&c);
	if (!srv || !cli)
		exit(1);
	net_tick(cli, FUZZ_TCP_T0);
	outlen = 0;
	last_rec = FUZZ_TCP_T0;
	reading = 1;
	nheld = nq = nsq = sent_count = drop_every = 0;
}

static void finish(const char *dir, const char *name)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/seed-%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(out, 1, outlen, f) != outlen || fclose(f)) {
		perror(path);
		exit(1);
	}
	printf("%s: %zu bytes; the server took %llu frames, accepted %llu, "
	       "retransmitted %llu; client retransmitted %llu\n",
	       path, outlen, (unsigned long long)net_stats(srv)->rx_frames,
	       (unsigned long long)net_stats(srv)->tcp_accepted,
	       (unsigned long long)net_stats(srv)->tcp_retransmits,
	       (unsigned long long)net_stats(cli)->tcp_retransmits);
	net_destroy(srv);
	net_destroy(cli);
}

/* the client: nconn connections sending `bytes` each in `chunk`-byte
 * writes, reading the echo back, closing (or aborting) at the end */
static void client(int nconn, size_t bytes, size_t chunk, int abort_it,
		   int64_t ms, int64_t noread_at, int64_t srvclose_at)
{
	uint32_t id[16];
	size_t sent[16] = {0}, got[16] = {0};
	int est[16] = {0}, done[16] = {0};
	unsigned char buf[4096];
	int64_t now = FUZZ_TCP_T0;

	for (int i = 0; i < nconn; i++)
		net_tcp_connect(cli, FUZZ_TCP_IP, FUZZ_TCP_PORT, &id[i]);
	for (int64_t t = 0; t < ms; t++) {
		struct net_event ev[16];
		uint8_t bits = 0;
		int k;

		now++;
		if (t == noread_at || t == noread_at + 400)
			bits |= 0x40;
		if (t == srvclose_at)
			bits |= 0x80;
		step(now, bits);
		while ((k = net_tcp_events(cli, ev, 16)) > 0)
			for (int e = 0; e < k; e++)
				if (ev[e].what & NET_EV_OUT)
					est[ev[e].token] = 1;
		for (int i = 0; i < nconn; i++) {
			ssize_t r;

			if (done[i])
				continue;
			net_tcp_set_token(cli, id[i], (uint64_t)i);
			if (est[i] && sent[i] < bytes) {
				struct iovec v = {buf, chunk < bytes - sent[i]
							       ? chunk
							       : bytes - sent[i]};

				memset(buf, 'a' + i, sizeof(buf));
				r = net_tcp_send(cli, id[i], &v, 1);
				if (r > 0)
					sent[i] += (size_t)r;
			}
			while ((r = net_tcp_recv(cli, id[i], buf, sizeof(buf))) >
			       0)
				got[i] += (size_t)r;
			if (r == 0 || (r < 0 && r != -EAGAIN) ||
			    (sent[i] == bytes && got[i] == bytes)) {
				if (abort_it)
					net_tcp_abort(cli, id[i]);
				else
					net_tcp_close(cli, id[i]);
				done[i] = 1;
			}
		}
	}
}

int main(int argc, char **argv)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	unsigned char f[64] = {0};
	uint32_t id;

	if (argc != 2) {
		fprintf(stderr, "usage: make_tcp_seeds DIR\n");
		return 2;
	}
	start();
	client(1, 3000, 1000, 0, 1500, -1, -1);
	finish(argv[1], "echo");
	start();
	client(1, 600, 300, 1, 300, -1, -1);
	finish(argv[1], "reset");
	start();
	drop_every = 5;
	client(1, 9000, 1460, 0, 6000, -1, -1);
	finish(argv[1], "loss");
	start();
	client(1, 9000, 1460, 0, 3000, 20, -1);
	finish(argv[1], "noread");
	start();
	client(1, 100000, 100, 0, 1500, -1, 40);
	finish(argv[1], "srvclose");
	start();
	client(10, 200, 200, 0, 2000, -1, -1);
	finish(argv[1], "many");
	/* a SYN to a closed port; an ARP request; an ICMP echo */
	start();
	{
		struct net_config c;

		net_destroy(cli);
		fuzz_tcp_config(&c, cli_tx, NULL);
		c.mac[5] = 2;
		c.ip = CLIENT_IP;
		cli = net_create(&c);
		net_tick(cli, FUZZ_TCP_T0);
		net_tcp_connect(cli, FUZZ_TCP_IP, 2182, &id);
		for (int64_t t = 1; t < 50; t++)
			step(FUZZ_TCP_T0 + t, 0);
	}
	memcpy(f, bcast, 6);
	f[6] = 2;
	f[11] = 2;
	f[12] = 0x08;
	f[13] = 0x06;
	f[14] = 0;
	f[15] = 1;
	f[16] = 8;
	f[18] = 6;
	f[19] = 4;
	f[21] = 1;
	f[22] = 2;
	f[27] = 2;
	f[28] = 10;
	f[29] = 99;
	f[31] = 2;
	f[38] = 10;
	f[39] = 99;
	f[41] = 1;
	record(FUZZ_TCP_T0 + 60, f, 60, 0);
	finish(argv[1], "misc");
	return 0;
}
