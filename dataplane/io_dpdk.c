/*
 * io_dpdk.c — the DPDK connection backend (backend_int.h), issue 15.
 *
 * One DPDK port per process (paddock.dpdk.port, made by the EAL
 * arguments in paddock.dpdk.eal, e.g. --vdev=net_af_packet0,iface=pd0),
 * started in check() with one RX/TX queue pair per worker and RSS over
 * them where the port has it (net_af_packet has none: its qpairs=N
 * spreads flows by the kernel's fanout hash instead, and with one worker
 * nothing needs spreading).  Each worker's backend owns its queue pair
 * and its own TCP/IP stack (net/net.h) answering at paddock.dpdk.ip:
 * frames from rte_eth_rx_burst go into net_input and are freed at once
 * (the stack copies what it keeps into its rings); frames the stack
 * sends are copied into mbufs and leave in one rte_eth_tx_burst per
 * poll (or per 32).  Nothing is shared between workers but the mbuf
 * pool; each worker (paddockd's own thread) registers with EAL at its
 * first poll, so it has an lcore id and its own cache of the pool.
 *
 * Readiness is level-triggered, as io_tcp.c's epoll is: the protocol
 * reads at most its budget a pass, so a link whose recv left data (or an
 * end of stream) behind is reported readable again at the next poll
 * while its read interest is on.
 *
 * Polling: with paddock.dpdk.busyPoll (the default) a poll never blocks:
 * the worker's loop spins, as a DPDK dataplane should on a core of its
 * own.  Without it (a laptop, the test suite on two cores), an idle poll
 * sleeps in poll(2) on the sequencer's eventfd for at most 1 ms, so
 * frames wait at most that long.
 *
 * EAL pins the calling thread to its first lcore; paddockd's threads
 * would inherit that, so the caller's CPU affinity is put back after
 * rte_eal_init.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/random.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "dataplane/backend_int.h"
#include "net/net.h"

#define RX_BURST 32
#define TX_BURST 32
#define RING_DESC 1024
#define HELD_MAX 1024 /* frames paddock.dpdk.impair holds back */

/* the process's port */
static struct {
	int users; /* open backends */
	bool started;
	uint16_t port;
	int nq;
	struct rte_mempool *pool;
	struct rte_ether_addr mac;
} G;

struct dp_backend {
	uint16_t q;
	int wake_fd; /* the sequencer's, not ours to close */
	bool busy, listening, accept_waiting, registered;
	uint16_t client_port;
	struct net *net;
	uint32_t nconn;
	uint8_t *rd;	/* read interest per stack id */
	uint8_t *again; /* on the `againq` list */
	uint64_t *stamp, stepno; /* reported by the stack in step stepno */
	uint32_t *againq, nagain;
	struct rte_mbuf *tx[TX_BURST];
	unsigned ntx;
	uint64_t tx_dropped;
	struct net_event nev[DP_POLL_MAX];
	/* paddock.dpdk.impair (zcfg): frames held back until `due` */
	int loss_pm, dup_pm, reorder_pm, delay_ms, jitter_ms;
	uint64_t rnd;
	struct rte_mbuf *held[HELD_MAX];
	int64_t due[HELD_MAX];
	unsigned nheld;
	/* net_stats' and our counters, published once a poll for mntr */
	_Atomic uint64_t pub[8];
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void tx_flush(struct dp_backend *b)
{
	uint16_t sent = 0;

	while (sent < b->ntx) {
		uint16_t k = rte_eth_tx_burst(G.port, b->q, b->tx + sent,
					      (uint16_t)(b->ntx - sent));
		if (!k)
			break;
		sent += k;
	}
	for (unsigned i = sent; i < b->ntx; i++) { /* the ring is full */
		rte_pktmbuf_free(b->tx[i]);
		b->tx_dropped++;
	}
	b->ntx = 0;
}

/* paddock.dpdk.impair's dice: 0..999 */
static int roll(struct dp_backend *b)
{
	b->rnd ^= b->rnd << 13;
	b->rnd ^= b->rnd >> 7;
	b->rnd ^= b->rnd << 17;
	return (int)(b->rnd % 1000);
}

/* the stack's output: one frame, copied into an mbuf */
static void stack_tx(void *arg, const void *frame, size_t len)
{
	struct dp_backend *b = arg;
	struct rte_mbuf *m;
	char *p;

	if (b->loss_pm && roll(b) < b->loss_pm)
		return; /* lost on the way out */
	if (b->dup_pm && roll(b) < b->dup_pm) {
		b->dup_pm = -b->dup_pm; /* once: the copy is not copied */
		stack_tx(arg, frame, len);
		b->dup_pm = -b->dup_pm;
	}
	m = rte_pktmbuf_alloc(G.pool);
	if (!m || !(p = rte_pktmbuf_append(m, (uint16_t)len))) {
		if (m)
			rte_pktmbuf_free(m);
		b->tx_dropped++; /* TCP sends it again */
		return;
	}
	memcpy(p, frame, len);
	b->tx[b->ntx++] = m;
	if (b->ntx == TX_BURST)
		tx_flush(b);
}

/* ------------------------------------------------------------------ */
/* Start-up                                                             */
/* ------------------------------------------------------------------ */
static int eal_start(const struct zcfg *cfg, char *err, size_t err_len)
{
	char args[sizeof(cfg->dpdk_eal)], *argv[64], *save = NULL;
	int argc = 0, rc;
	cpu_set_t cpus;

	snprintf(args, sizeof(args), "%s", cfg->dpdk_eal);
	argv[argc++] = "paddockd";
	for (char *t = strtok_r(args, " \t", &save); t;
	     t = strtok_r(NULL, " \t", &save)) {
		if (argc == 63) {
			snprintf(err, err_len,
				 "paddock.dpdk.eal: more than 62 arguments");
			return -1;
		}
		argv[argc++] = t;
	}
	argv[argc] = NULL;
	if (sched_getaffinity(0, sizeof(cpus), &cpus))
		CPU_ZERO(&cpus);
	rc = rte_eal_init(argc, argv);
	if (CPU_COUNT(&cpus))
		sched_setaffinity(0, sizeof(cpus), &cpus);
	if (rc < 0) {
		snprintf(err, err_len,
			 "DPDK: EAL start failed with paddock.dpdk.eal='%s': "
			 "%s (EAL's own message is above)",
			 cfg->dpdk_eal, rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

static int port_start(const struct zcfg *cfg, char *err, size_t err_len)
{
	struct rte_eth_conf conf = {0};
	struct rte_eth_dev_info info;
	uint16_t port = (uint16_t)cfg->dpdk_port;
	int nq = cfg->workers, rc, sock;

	if (!rte_eth_dev_is_valid_port(port)) {
		snprintf(err, err_len,
			 "DPDK: paddock.dpdk.port=%d: no such port (EAL found "
			 "%u; a virtual one comes from --vdev in "
			 "paddock.dpdk.eal)",
			 cfg->dpdk_port, rte_eth_dev_count_avail());
		return -1;
	}
	rc = rte_eth_dev_info_get(port, &info);
	if (rc) {
		snprintf(err, err_len, "DPDK: port %u: no device info: %s",
			 port, rte_strerror(-rc));
		return -1;
	}
	if (info.max_rx_queues < nq || info.max_tx_queues < nq) {
		snprintf(err, err_len,
			 "DPDK: port %u (%s) has %u RX and %u TX queues; "
			 "paddock.workers=%d needs one pair per worker (for "
			 "net_af_packet: qpairs=%d in its --vdev)",
			 port, info.driver_name, info.max_rx_queues,
			 info.max_tx_queues, nq, nq);
		return -1;
	}
	if (nq > 1) {
		uint64_t hf = info.flow_type_rss_offloads &
			      (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP);

		if (hf) {
			conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
			conf.rx_adv_conf.rss_conf.rss_hf = hf;
		} else if (strcmp(info.driver_name, "net_af_packet")) {
			snprintf(err, err_len,
				 "DPDK: port %u (%s) has no RSS to spread "
				 "connections over %d workers; set "
				 "paddock.workers=1",
				 port, info.driver_name, nq);
			return -1;
		}
	}
	sock = rte_eth_dev_socket_id(port);
	if (sock < 0)
		sock = 0;
	G.pool = rte_pktmbuf_pool_create("paddock_mbufs",
					 (unsigned)cfg->dpdk_mbufs, 256, 0,
					 RTE_MBUF_DEFAULT_BUF_SIZE, sock);
	if (!G.pool) {
		snprintf(err, err_len,
			 "DPDK: cannot make a pool of %d mbufs: %s (reserve "
			 "hugepages, or give EAL --no-huge -m <MB>)",
			 cfg->dpdk_mbufs, rte_strerror(rte_errno));
		return -1;
	}
	rc = rte_eth_dev_configure(port, (uint16_t)nq, (uint16_t)nq, &conf);
	for (int q = 0; !rc && q < nq; q++) {
		rc = rte_eth_rx_queue_setup(port, (uint16_t)q, RING_DESC,
					    (unsigned)sock, NULL, G.pool);
		if (!rc)
			rc = rte_eth_tx_queue_setup(port, (uint16_t)q,
						    RING_DESC, (unsigned)sock,
						    NULL);
	}
	if (!rc)
		rc = rte_eth_dev_start(port);
	if (!rc)
		rc = rte_eth_macaddr_get(port, &G.mac);
	if (rc) {
		snprintf(err, err_len,
			 "DPDK: port %u (%s): cannot start %d queue pairs: %s",
			 port, info.driver_name, nq, rte_strerror(-rc));
		return -1;
	}
	G.port = port;
	G.nq = nq;
	G.started = true;
	return 0;
}

static int dpdk_check(const struct zcfg *cfg, char *err, size_t err_len)
{
	if (G.started)
		return 0;
	if (eal_start(cfg, err, err_len))
		return -1;
	return port_start(cfg, err, err_len);
}

static void port_stop(void)
{
	if (!G.started)
		return;
	rte_eth_dev_stop(G.port);
	rte_eth_dev_close(G.port);
	rte_mempool_free(G.pool);
	G.started = false;
	rte_eal_cleanup();
}

static void dpdk_destroy(struct dp_backend *b)
{
	if (!b)
		return;
	for (unsigned i = 0; i < b->nheld; i++)
		rte_pktmbuf_free(b->held[i]);
	tx_flush(b);
	if (b->net) {
		const struct net_stats *s = net_stats(b->net);

		fprintf(stderr,
			"paddockd: DPDK queue %u: %llu frames in, %llu out "
			"(%llu dropped for want of an mbuf or TX room), %llu "
			"TCP segments sent again, %llu out of order, %llu "
			"timeouts\n",
			b->q, (unsigned long long)s->rx_frames,
			(unsigned long long)s->tx_frames,
			(unsigned long long)b->tx_dropped,
			(unsigned long long)s->tcp_retransmits,
			(unsigned long long)s->tcp_ooo,
			(unsigned long long)s->tcp_timeouts);
	}
	net_destroy(b->net);
	free(b->rd);
	free(b->again);
	free(b->againq);
	free(b->stamp);
	free(b);
	if (--G.users == 0)
		port_stop();
}

static struct dp_backend *dpdk_open(const struct zcfg *cfg, int idx,
				    int wake_fd, char *err, size_t err_len)
{
	struct dp_backend *b;
	struct net_config nc = {0};

	if (!G.started || idx >= G.nq) {
		snprintf(err, err_len, "DPDK: worker %d has no queue", idx);
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	G.users++;
	b->q = (uint16_t)idx;
	b->wake_fd = wake_fd;
	b->busy = cfg->dpdk_busy_poll;
	b->client_port = (uint16_t)cfg->client_port;
	b->nconn = (uint32_t)cfg->dpdk_conns;
	b->loss_pm = cfg->impair_loss_pm;
	b->dup_pm = cfg->impair_dup_pm;
	b->reorder_pm = cfg->impair_reorder_pm;
	b->delay_ms = cfg->impair_delay_ms;
	b->jitter_ms = cfg->impair_jitter_ms;
	b->rnd = 0x9e3779b97f4a7c15ull ^ cfg->impair_seed ^ (uint64_t)idx;
	memcpy(nc.mac, G.mac.addr_bytes, 6);
	nc.ip = cfg->dpdk_ip;
	nc.netmask = cfg->dpdk_netmask;
	nc.gateway = cfg->dpdk_gateway;
	nc.tx = stack_tx;
	nc.tx_arg = b;
	nc.tcp_conns = b->nconn;
	nc.tcp_half_open = b->nconn / 4 + 1;
	nc.tcp_sndbuf = nc.tcp_rcvbuf = (uint32_t)cfg->dpdk_buf_kib * 1024;
	if (getrandom(nc.tcp_isn_key, sizeof(nc.tcp_isn_key), 0) !=
	    (ssize_t)sizeof(nc.tcp_isn_key)) {
		snprintf(err, err_len, "getrandom: %s", strerror(errno));
		goto fail;
	}
	b->rd = calloc(b->nconn, 1);
	b->again = calloc(b->nconn, 1);
	b->againq = calloc(b->nconn, sizeof(*b->againq));
	b->stamp = calloc(b->nconn, sizeof(*b->stamp));
	b->net = net_create(&nc);
	if (!b->net || !b->rd || !b->again || !b->againq || !b->stamp) {
		snprintf(err, err_len,
			 "DPDK: no memory for %u connections of 2 x %d KiB "
			 "(paddock.dpdk.maxConns, paddock.dpdk.socketBufferKiB)",
			 b->nconn, cfg->dpdk_buf_kib);
		goto fail;
	}
	net_tick(b->net, now_ms());
	if (net_tcp_listen(b->net, b->client_port, b->nconn)) {
		snprintf(err, err_len, "DPDK: cannot listen on port %u",
			 b->client_port);
		goto fail;
	}
	b->listening = true;
	return b;
fail:
	dpdk_destroy(b);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* The poll step                                                        */
/* ------------------------------------------------------------------ */
static void publish(struct dp_backend *b)
{
	const struct net_stats *s = net_stats(b->net);
	uint64_t v[8] = {s->tcp_conns,	   s->rx_frames,   s->tx_frames,
			 b->tx_dropped,	   s->tcp_retransmits, s->tcp_timeouts,
			 s->tcp_rst_sent, 0};

	for (int i = 0; i < 7; i++)
		atomic_store_explicit(&b->pub[i], v[i], memory_order_relaxed);
}

static void dpdk_stats(struct dp_backend *b, struct dp_backend_stats *s)
{
	uint64_t v[7];

	for (int i = 0; i < 7; i++)
		v[i] = atomic_load_explicit(&b->pub[i], memory_order_relaxed);
	s->conns += v[0];
	s->rx_frames += v[1];
	s->tx_frames += v[2];
	s->tx_dropped += v[3];
	s->retransmits += v[4];
	s->timeouts += v[5];
	s->resets += v[6];
	/* the pool is the process's: counted once, by queue 0 */
	if (b->q == 0)
		s->mbufs_in_use += rte_mempool_in_use_count(G.pool);
}

static void again_add(struct dp_backend *b, uint32_t id)
{
	if (!b->again[id]) {
		b->again[id] = 1;
		b->againq[b->nagain++] = id;
	}
}

static void deliver(struct dp_backend *b, struct rte_mbuf *p, int64_t now)
{
	if (p->nb_segs == 1)
		net_input(b->net, rte_pktmbuf_mtod(p, void *), p->data_len,
			  now);
	rte_pktmbuf_free(p);
}

/* one received frame: into the stack, or through paddock.dpdk.impair */
static void arrive(struct dp_backend *b, struct rte_mbuf *p, int64_t now)
{
	int64_t hold = b->delay_ms;

	if (b->loss_pm && roll(b) < b->loss_pm) {
		rte_pktmbuf_free(p);
		return;
	}
	if (b->dup_pm && roll(b) < b->dup_pm && p->nb_segs == 1)
		net_input(b->net, rte_pktmbuf_mtod(p, void *), p->data_len,
			  now);
	if (b->jitter_ms)
		hold += roll(b) % (b->jitter_ms + 1);
	if (b->reorder_pm && roll(b) < b->reorder_pm)
		hold += 1 + roll(b) % 3; /* overtaken by what follows */
	if (!hold || b->nheld == HELD_MAX) {
		deliver(b, p, now);
		return;
	}
	b->held[b->nheld] = p;
	b->due[b->nheld++] = now + hold;
}

/* receive bursts and timers; the stack's events, and links still
 * readable, into ev */
static int step(struct dp_backend *b, struct dp_event *ev, int n)
{
	struct rte_mbuf *pkts[RX_BURST];
	int64_t now = now_ms();
	uint16_t got;
	int k = 0, m;

	do {
		got = rte_eth_rx_burst(G.port, b->q, pkts, RX_BURST);
		for (uint16_t i = 0; i < got; i++)
			arrive(b, pkts[i], now);
	} while (got == RX_BURST);
	/* frames paddock.dpdk.impair held back, in whatever order they
	 * come due */
	for (unsigned i = 0; i < b->nheld;) {
		if (b->due[i] > now) {
			i++;
			continue;
		}
		deliver(b, b->held[i], now);
		b->nheld--;
		b->held[i] = b->held[b->nheld];
		b->due[i] = b->due[b->nheld];
	}
	net_tick(b->net, now);
	if (n > DP_POLL_MAX)
		n = DP_POLL_MAX;
	b->stepno++;
	m = net_tcp_events(b->net, b->nev, n);
	for (int i = 0; i < m; i++) {
		if (b->nev[i].what & NET_EV_ACCEPT) {
			b->accept_waiting = true;
			continue;
		}
		ev[k].token = b->nev[i].token;
		ev[k].what = b->nev[i].what & (DP_EV_IN | DP_EV_OUT | DP_EV_HUP);
		k++;
		/* reported: not again below (a link reported twice in one
		 * poll would be read twice before its output is flushed,
		 * and an end of stream read second closed it unanswered) */
		b->stamp[b->nev[i].id] = b->stepno;
	}
	if (b->accept_waiting && b->listening && k < n) {
		b->accept_waiting = false;
		ev[k++] = (struct dp_event){0, DP_EV_ACCEPT};
	}
	/* level-triggered reads: what the last pass left */
	for (uint32_t i = 0; i < b->nagain;) {
		uint32_t id = b->againq[i];

		if (k == n)
			break;
		int reported = b->stamp[id] == b->stepno;

		b->again[id] = 0;
		b->againq[i] = b->againq[--b->nagain];
		if (!reported && b->rd[id] && net_tcp_readable(b->net, id)) {
			/* the token is the stack's, set at attach */
			ev[k].token = net_tcp_token(b->net, id);
			ev[k].what = DP_EV_IN;
			k++;
		}
	}
	tx_flush(b);
	publish(b);
	return k;
}

static int dpdk_poll(struct dp_backend *b, int timeout_ms, struct dp_event *ev,
		     int n)
{
	int k;

	/* the worker's thread as an EAL thread: an lcore id of its own, so
	 * mbufs come from its per-lcore cache of the pool, not the pool's
	 * shared ring (if EAL has no lcore left, the ring it is) */
	if (!b->registered) {
		b->registered = true;
		rte_thread_register();
	}
	k = step(b, ev, n);
	struct pollfd pfd = {.fd = b->wake_fd, .events = POLLIN};

	if (k || !timeout_ms)
		return k;
	if (b->busy)
		return 0; /* the caller's loop is the spin */
	if (poll(&pfd, 1, timeout_ms < 0 || timeout_ms > 1 ? 1 : timeout_ms) >
	    0)
		return step(b, ev, n); /* the sequencer resets the eventfd */
	return step(b, ev, n);
}

static bool dpdk_spins(const struct dp_backend *b)
{
	return b->busy;
}

static void dpdk_wake(struct dp_backend *b)
{
	uint64_t one = 1;
	ssize_t rc = write(b->wake_fd, &one, sizeof(one));

	(void)rc;
}

static void dpdk_listen_set(struct dp_backend *b, bool on)
{
	b->listening = on;
}

static int dpdk_accept(struct dp_backend *b, struct dp_link *l,
		       struct dp_peer *peer)
{
	uint32_t id, ip;
	uint16_t port;
	struct in_addr a;

	if (net_tcp_accept(b->net, b->client_port, &id, &ip, &port))
		return -EAGAIN;
	l->h = id;
	a.s_addr = htonl(ip);
	inet_ntop(AF_INET, &a, peer->ip, sizeof(peer->ip));
	peer->port = port;
	return 0;
}

static int dpdk_attach(struct dp_backend *b, struct dp_link *l)
{
	uint32_t id = (uint32_t)l->h;

	net_tcp_set_token(b->net, id, l->token);
	b->rd[id] = 1;
	if (net_tcp_readable(b->net, id))
		again_add(b, id);
	return 0;
}

static void dpdk_interest(struct dp_backend *b, struct dp_link *l, bool rd,
			  bool wr)
{
	uint32_t id = (uint32_t)l->h;

	/* writable comes from the stack after a send fell short */
	(void)wr;
	b->rd[id] = rd;
	if (rd && net_tcp_readable(b->net, id))
		again_add(b, id);
}

static ssize_t dpdk_recv(struct dp_backend *b, struct dp_link *l, void *buf,
			 size_t len)
{
	uint32_t id = (uint32_t)l->h;
	ssize_t r = net_tcp_recv(b->net, id, buf, len);

	if (r > 0 && net_tcp_readable(b->net, id))
		again_add(b, id);
	return r;
}

static ssize_t dpdk_send(struct dp_backend *b, struct dp_link *l,
			 const struct iovec *iov, int n)
{
	return net_tcp_send(b->net, (uint32_t)l->h, iov, n);
}

static void dpdk_close(struct dp_backend *b, struct dp_link *l)
{
	uint32_t id = (uint32_t)l->h;

	b->rd[id] = 0;
	net_tcp_close(b->net, id);
	tx_flush(b);
}

const struct dp_backend_ops dp_dpdk_backend = {
	.name = "dpdk",
	.check = dpdk_check,
	.open = dpdk_open,
	.destroy = dpdk_destroy,
	.poll = dpdk_poll,
	.wake = dpdk_wake,
	.listen_set = dpdk_listen_set,
	.accept = dpdk_accept,
	.attach = dpdk_attach,
	.interest = dpdk_interest,
	.recv = dpdk_recv,
	.send = dpdk_send,
	.close = dpdk_close,
	.spins = dpdk_spins,
	.stats = dpdk_stats,
};
