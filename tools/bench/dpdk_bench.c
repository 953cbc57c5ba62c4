/*
 * dpdk_bench.c — paddock-bench-dpdk: paddock-bench's `get` workload as
 * a DPDK client (issue 15), over net/'s TCP (its active open) on a DPDK
 * port, typically net_memif to a paddockd in DPDK mode on the same
 * machine:
 *
 *   paddock-bench-dpdk --eal "--no-pci --no-huge --no-shconf -m 256 -l 0
 *       --vdev=net_memif0,role=client,socket=/tmp/pdk.sock"
 *       --ip 10.89.0.1 --server 10.89.0.2:2181 -c 16 -w 32 -d 10
 *
 * One thread, busy-polling its queue: -c sessions (a ConnectRequest
 * each), then the first creates /paddock-bench-dpdk-<pid> and -k keys of
 * -s bytes under it, then every session keeps -w getData requests of
 * random keys outstanding for --warmup + -d seconds.  Prints ops/s and
 * the latency percentiles of the -d seconds (from the request's copy
 * into the stack to its reply's parse), in paddock-bench's format;
 * -c 1 -w 1 is the round trip of a single outstanding getData.  Deletes
 * its keys at the end.  Exits 1 on any error reply or lost connection.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/uio.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>

#include "hist.h"
#include "net/net.h"
#include "wire.h"

#define MAXC 1024
#define WMAX 4096
#define BURST 32

struct bconn {
	uint32_t id;
	int state; /* 0 connecting, 1 ConnectRequest sent, 2 ready, 3 done */
	struct bench_buf out;
	uint8_t *in;
	size_t in_len, in_cap;
	int inflight;
	uint64_t sent[WMAX]; /* send times, FIFO by xid (replies are in order) */
	unsigned head;
	int32_t xid;
};

static struct {
	uint16_t port;
	struct rte_mempool *pool;
	struct rte_mbuf *tx[BURST];
	unsigned ntx;
} P;

static struct net *net;
static struct bconn *conns;
static int nconn = 16, window = 32, keys = 1000, size = 100;
static double dur = 10, warm = 2;
static char root[64];
static uint64_t errors, replies;
static struct bench_hist hist;
static int measuring;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* per-request stamps: the TSC (a vDSO clock_gettime per request and
 * reply was a sixth of this one-thread client's time) */
static double ns_per_tsc;

static uint64_t stamp(void)
{
	return rte_rdtsc();
}

static void flush_tx(void)
{
	unsigned sent = 0;

	while (sent < P.ntx) {
		uint16_t k = rte_eth_tx_burst(P.port, 0, P.tx + sent,
					      (uint16_t)(P.ntx - sent));
		if (!k)
			break;
		sent += k;
	}
	for (unsigned i = sent; i < P.ntx; i++)
		rte_pktmbuf_free(P.tx[i]);
	P.ntx = 0;
}

static void tx(void *arg, const void *f, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(P.pool);
	char *p;

	(void)arg;
	if (!m || !(p = rte_pktmbuf_append(m, (uint16_t)len))) {
		if (m)
			rte_pktmbuf_free(m);
		return;
	}
	memcpy(p, f, len);
	P.tx[P.ntx++] = m;
	if (P.ntx == BURST)
		flush_tx();
}

static void poll_once(void)
{
	struct rte_mbuf *pk[BURST];
	int64_t ms = (int64_t)((double)stamp() * ns_per_tsc / 1e6);
	uint16_t n = rte_eth_rx_burst(P.port, 0, pk, BURST);

	for (uint16_t i = 0; i < n; i++) {
		if (pk[i]->nb_segs == 1)
			net_input(net, rte_pktmbuf_mtod(pk[i], void *),
				  pk[i]->data_len, ms);
		rte_pktmbuf_free(pk[i]);
	}
	net_tick(net, ms);
}

static void send_out(struct bconn *c)
{
	size_t off = 0;

	while (off < c->out.len) {
		struct iovec v = {c->out.p + off, c->out.len - off};
		ssize_t k = net_tcp_send(net, c->id, &v, 1);

		if (k == -EAGAIN) {
			poll_once(); /* the window opens as ACKs come */
			flush_tx();
			continue;
		}
		if (k < 0) {
			fprintf(stderr, "paddock-bench-dpdk: send: %s\n",
				strerror((int)-k));
			exit(1);
		}
		off += (size_t)k;
	}
	c->out.len = 0;
}

static char (*paths)[96]; /* the keys' paths, made once */

static void request(struct bconn *c, int op_create, int i)
{
	const char *path = paths[i];

	c->xid++;
	if (op_create == 1) {
		static uint8_t data[1 << 16];

		bench_enc_create(&c->out, c->xid, BENCH_OP_CREATE, path, data,
				 size, 0);
	} else if (op_create == 2) {
		bench_enc_delete(&c->out, c->xid, path, -1);
	} else {
		bench_enc_path_watch(&c->out, c->xid, BENCH_OP_GETDATA, path,
				     0);
	}
	c->sent[c->head++ % WMAX] = stamp();
	c->inflight++;
}

/* parse what came; returns replies consumed */
static int reader(struct bconn *c)
{
	int got = 0;

	for (;;) {
		ssize_t r;

		if (c->in_cap - c->in_len < 65536) {
			c->in_cap = c->in_cap ? c->in_cap * 2 : 1 << 18;
			c->in = realloc(c->in, c->in_cap);
			if (!c->in)
				exit(1);
		}
		r = net_tcp_recv(net, c->id, c->in + c->in_len,
				 c->in_cap - c->in_len);
		if (r == -EAGAIN)
			break;
		if (r <= 0) {
			fprintf(stderr,
				"paddock-bench-dpdk: connection lost: %s\n",
				r ? strerror((int)-r) : "closed by the server");
			exit(1);
		}
		c->in_len += (size_t)r;
	}
	size_t off = 0;
	while (c->in_len - off >= 4) {
		uint32_t len = bench_get_u32(c->in + off);
		const uint8_t *f = c->in + off + 4;

		if (c->in_len - off - 4 < len)
			break;
		if (c->state == 1) {
			struct bench_connect_resp cr;

			if (bench_dec_connect(f, len, &cr) || !cr.session) {
				fprintf(stderr, "paddock-bench-dpdk: session "
						"refused\n");
				exit(1);
			}
			c->state = 2;
		} else {
			struct bench_cur cur = {f, f + len, 0};
			struct bench_reply_hdr h;

			if (bench_dec_reply_hdr(&cur, &h) == 0 && h.xid > 0) {
				uint64_t t0 = c->sent[(c->head - (unsigned)
							       c->inflight) %
						      WMAX];

				c->inflight--;
				got++;
				if (h.err && h.err != BENCH_ZNODEEXISTS &&
				    h.err != BENCH_ZNONODE)
					errors++;
				if (measuring) {
					bench_hist_record(
					    &hist, (uint64_t)((double)(stamp() - t0) *
							      ns_per_tsc));
					replies++;
				}
			}
		}
		off += 4 + len;
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
	return got;
}

static void drive(void)
{
	struct net_event ev[64];
	int k;

	poll_once();
	while ((k = net_tcp_events(net, ev, 64)) > 0)
		for (int i = 0; i < k; i++) {
			struct bconn *c = &conns[ev[i].token];

			if (ev[i].what & NET_EV_HUP) {
				fprintf(stderr, "paddock-bench-dpdk: "
						"connection refused or lost\n");
				exit(1);
			}
			if ((ev[i].what & NET_EV_OUT) && c->state == 0) {
				bench_enc_connect(&c->out, 30000, 0, NULL);
				c->state = 1;
				send_out(c);
			}
		}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: paddock-bench-dpdk --eal ARGS --ip A.B.C.D "
		"--server A.B.C.D:PORT [--netmask M] [-c conns] [-w window] "
		"[-d seconds] [--warmup seconds] [-k keys] [-s bytes]\n");
	exit(2);
}

static uint32_t ip4(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		usage();
	return ntohl(a.s_addr);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"eal", 1, 0, 'e'},    {"ip", 1, 0, 'i'},
		{"server", 1, 0, 'S'}, {"netmask", 1, 0, 'm'},
		{"warmup", 1, 0, 'W'}, {0, 0, 0, 0}};
	char *eal = NULL, *srv = NULL, *ea[64];
	uint32_t ip = 0, mask = 0xffffff00u, sip;
	int o, ea_n = 0, sport;
	struct net_config nc = {0};
	struct rte_eth_conf conf = {0};
	struct rte_ether_addr mac;
	struct rte_eth_link link = {0};
	uint64_t t;

	while ((o = getopt_long(argc, argv, "c:w:d:k:s:", lo, NULL)) != -1) {
		switch (o) {
		case 'e': eal = optarg; break;
		case 'i': ip = ip4(optarg); break;
		case 'S': srv = optarg; break;
		case 'm': mask = ip4(optarg); break;
		case 'W': warm = atof(optarg); break;
		case 'c': nconn = atoi(optarg); break;
		case 'w': window = atoi(optarg); break;
		case 'd': dur = atof(optarg); break;
		case 'k': keys = atoi(optarg); break;
		case 's': size = atoi(optarg); break;
		default: usage();
		}
	}
	if (!eal || !ip || !srv || !strchr(srv, ':') || nconn < 1 ||
	    nconn > MAXC || window < 1 || window > WMAX || keys < 1 ||
	    size < 0 || size > 65536)
		usage();
	sport = atoi(strchr(srv, ':') + 1);
	*strchr(srv, ':') = '\0';
	sip = ip4(srv);
	ea[ea_n++] = argv[0];
	for (char *s = strtok(eal, " "); s && ea_n < 63; s = strtok(NULL, " "))
		ea[ea_n++] = s;
	ea[ea_n] = NULL;
	if (rte_eal_init(ea_n, ea) < 0) {
		fprintf(stderr, "paddock-bench-dpdk: EAL: %s\n",
			rte_strerror(rte_errno));
		return 1;
	}
	P.pool = rte_pktmbuf_pool_create("bench", 8191, 256, 0,
					 RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	if (!P.pool || !rte_eth_dev_is_valid_port(0) ||
	    rte_eth_dev_configure(0, 1, 1, &conf) ||
	    rte_eth_rx_queue_setup(0, 0, 1024, 0, NULL, P.pool) ||
	    rte_eth_tx_queue_setup(0, 0, 1024, 0, NULL) ||
	    rte_eth_dev_start(0) || rte_eth_macaddr_get(0, &mac)) {
		fprintf(stderr, "paddock-bench-dpdk: cannot start port 0\n");
		return 1;
	}
	ns_per_tsc = 1e9 / (double)rte_get_tsc_hz();
	for (t = now_ns(); now_ns() - t < 10000000000ull;) {
		rte_eth_link_get_nowait(0, &link);
		if (link.link_status)
			break;
	}
	if (!link.link_status) {
		fprintf(stderr, "paddock-bench-dpdk: port 0 link down\n");
		return 1;
	}
	memcpy(nc.mac, mac.addr_bytes, 6);
	nc.ip = ip;
	nc.netmask = mask;
	nc.tx = tx;
	nc.tcp_conns = (uint32_t)nconn + 8;
	nc.tcp_sndbuf = nc.tcp_rcvbuf = 1 << 18;
	nc.tcp_isn_key[0] = now_ns();
	net = net_create(&nc);
	conns = calloc((size_t)nconn, sizeof(*conns));
	if (!net || !conns)
		return 1;
	poll_once();
	for (int i = 0; i < nconn; i++) {
		if (net_tcp_connect(net, sip, (uint16_t)sport, &conns[i].id))
			return 1;
		net_tcp_set_token(net, conns[i].id, (uint64_t)i);
	}
	/* sessions */
	for (t = now_ns();;) {
		int ready = 0;

		drive();
		for (int i = 0; i < nconn; i++) {
			if (conns[i].state >= 1)
				reader(&conns[i]);
			ready += conns[i].state == 2;
		}
		flush_tx();
		if (ready == nconn)
			break;
		if (now_ns() - t > 10000000000ull) {
			fprintf(stderr, "paddock-bench-dpdk: %d of %d sessions "
					"after 10 s\n", ready, nconn);
			return 1;
		}
	}
	/* keys */
	snprintf(root, sizeof(root), "/paddock-bench-dpdk-%d", (int)getpid());
	paths = calloc((size_t)keys, sizeof(*paths));
	if (!paths)
		return 1;
	for (int i = 0; i < keys; i++)
		snprintf(paths[i], sizeof(paths[i]), "%s/k%d", root, i);
	{
		struct bconn *c = &conns[0];

		c->xid++;
		bench_enc_create(&c->out, c->xid, BENCH_OP_CREATE, root, NULL,
				 0, 0);
		c->sent[c->head++ % WMAX] = stamp();
		c->inflight++;
		for (int i = 0; i < keys;) {
			while (c->inflight < window && i < keys)
				request(c, 1, i++);
			send_out(c);
			drive();
			reader(c);
			flush_tx();
		}
		while (c->inflight) {
			drive();
			reader(c);
			flush_tx();
		}
	}
	/* the run */
	bench_hist_init(&hist);
	uint64_t start = stamp(),
		 mstart = start + (uint64_t)(warm * 1e9 / ns_per_tsc),
		 end = mstart + (uint64_t)(dur * 1e9 / ns_per_tsc);
	unsigned seed = 1;
	for (uint64_t now = start; now < end; now = stamp()) {
		if (!measuring && now >= mstart)
			measuring = 1;
		drive();
		for (int i = 0; i < nconn; i++) {
			struct bconn *c = &conns[i];

			reader(c);
			while (c->inflight < window) {
				seed = seed * 1103515245u + 12345u;
				request(c, 0, (int)((seed >> 8) % (unsigned)keys));
			}
			if (c->out.len)
				send_out(c);
		}
		flush_tx();
	}
	measuring = 0;
	for (int i = 0; i < nconn; i++)
		while (conns[i].inflight) {
			drive();
			reader(&conns[i]);
			flush_tx();
		}
	/* paddock-bench's own format (tools/bench/dpdk-compare.sh reads
	 * both the same way) */
	printf("workload  get  (closed loop over DPDK, 1 thread(s), %d "
	       "conn(s), window %d)\n", nconn, window);
	printf("ops       %" PRIu64 " in %.2fs = %.0f ops/s\n", replies, dur,
	       (double)replies / dur);
	printf("errors    %" PRIu64 "\n", errors);
	printf("latency   p50 %.1fus  p90 %.1fus  p99 %.1fus  p99.9 %.1fus  "
	       "max %.1fus  mean %.1fus\n",
	       bench_hist_percentile(&hist, 50) / 1e3,
	       bench_hist_percentile(&hist, 90) / 1e3,
	       bench_hist_percentile(&hist, 99) / 1e3,
	       bench_hist_percentile(&hist, 99.9) / 1e3, (double)hist.max / 1e3,
	       bench_hist_mean(&hist) / 1e3);
	/* clean up */
	{
		struct bconn *c = &conns[0];

		for (int i = 0; i <= keys;) {
			while (c->inflight < window && i < keys)
				request(c, 2, i++);
			if (i == keys && !c->inflight) {
				c->xid++;
				bench_enc_delete(&c->out, c->xid, root, -1);
				c->sent[c->head++ % WMAX] = stamp();
				c->inflight++;
				i++;
			}
			send_out(c);
			drive();
			reader(c);
			flush_tx();
		}
		while (c->inflight) {
			drive();
			reader(c);
			flush_tx();
		}
	}
	for (int i = 0; i < nconn; i++)
		net_tcp_close(net, conns[i].id);
	for (t = now_ns(); now_ns() - t < 200000000ull;) {
		poll_once();
		flush_tx();
	}
	return errors ? 1 : 0;
}
