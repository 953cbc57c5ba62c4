/*
 * paddock-net-tap — the user-space stack (net/net.h) on a Linux TAP
 * device, so that the kernel's own TCP can be its peer
 * (tests/integration/test_net_tcp.py).
 *
 *   paddock-net-tap --dev NAME --ip A.B.C.D --port P [options]
 *
 * The TAP device is opened in IFF_TAP|IFF_NO_PI mode and, with
 * --netns, moved into an existing network namespace (`ip link set DEV
 * netns NS`); whoever runs us gives the kernel side its address and
 * sets the link up.  One struct net answers on --ip: it listens on
 * --port and serves one of
 *   echo     every byte received is sent back (a pending buffer per
 *            connection; reading stops while it cannot be sent, and
 *            resumes on NET_EV_OUT);
 *   source   an endless stream, byte i of a connection being
 *            (i * 7 + i / 251) & 0xff, sent as fast as the windows allow;
 *            what the peer sends is read and dropped;
 *   discard  what is received is read and dropped.
 * A connection is closed when its peer's FIN has been read (echo: once
 * everything read has been sent back) or when recv reports an error.
 * --hangup-port Q adds a listener whose connections are echoed until
 * the first burst of data has been read, and then closed by us: our FIN
 * goes first, so our side passes through FIN_WAIT and TIME_WAIT.
 *
 * The loop: poll() on the TAP fd for at most 1 ms; then, in bursts of
 * up to 64 frames while the device has more: each frame is read
 * (non-blocking) and given to net_input with CLOCK_MONOTONIC in ms, then
 * frames held by the impairment stage whose time has come are released,
 * then net_tick, then net_tcp_events is drained and acted on.  (Bursts
 * as a DPDK loop has them: with one pass over a whole 1000-frame
 * backlog the application reads nothing for tens of ms and the
 * receive windows close.)
 *
 * Impairment (a seeded xorshift64* PRNG, --seed), for IPv4 frames in
 * both directions independently: received frames before net_input,
 * frames the stack sends before they are written to the TAP device.
 * ARP (and anything else not IPv4) always passes untouched: the tests
 * are about TCP, and a lost ARP exchange only costs the kernel's 1 s
 * ARP retry.  Per frame, in this order:
 *   --loss P      percent: dropped;
 *   --dup P       percent: sent twice (each copy goes on alone);
 *   --reorder P   percent: held back until the next frame of the same
 *                 direction has passed (or --reorder-max-ms, default
 *                 10, has elapsed, so a flight's last frame is not held
 *                 forever);
 *   --delay-ms D, --jitter-ms J: held for D + uniform[0, J] ms in a
 *                 fixed-size queue (a heap by release time), which
 *                 reorders when J > 0; a frame that finds the queue full
 *                 is dropped and counted (imp_overflow).
 *
 * SIGUSR1 writes one JSON line to stdout: every field of struct
 * net_stats, app_conns (connections the application holds), and this
 * tool's own counters (app_*, imp_*, tap_*).  SIGTERM or SIGINT writes
 * the same line and exits 0.  A first line {"ready": ...} tells that the
 * device is in place.  --trace logs every frame and impairment decision
 * to stderr (one line each, TCP decoded); --pcap FILE records the frames
 * as the stack saw them (received, after impairment) and sent them
 * (before impairment).
 *
 * --relay DEV2 [--relay-netns NS2] runs no stack: frames from --dev go
 * to a second TAP device and back, through the same impairment (as
 * "received" and "sent"), so that the kernel can take the stack's place
 * in a test: a control showing what the kernel's TCP makes of the same
 * impairment.
 *
 * Exit 2 on bad arguments or when the device or the stack cannot be set
 * up, 1 on a fatal I/O error later, 0 after SIGTERM.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "net/net.h"

enum { MODE_ECHO, MODE_SOURCE, MODE_DISCARD };
enum { DIR_RX, DIR_TX };

#define DQ_SLOTS 4096	   /* delayed frames at most */
#define ECHO_BUF 16384	   /* pending bytes per echo connection */
#define SRC_CHUNK 16384	   /* bytes offered per send in source mode */
#define RX_BURST 64	   /* frames read before the timers and the app run */
#define RX_BURSTS 32	   /* bursts per poll() at most */
#define TAP_READ_MAX 65536 /* a frame from the TAP device */

/* every field of struct net_stats, in order */
#define NET_STATS_FIELDS(X)                                                    \
	X(rx_frames)                                                           \
	X(tx_frames)                                                           \
	X(arp_replies)                                                         \
	X(arp_learned)                                                         \
	X(icmp_echoes)                                                         \
	X(drop_short)                                                          \
	X(drop_ethertype)                                                      \
	X(drop_bad_ip)                                                         \
	X(drop_fragment)                                                       \
	X(drop_not_ours)                                                       \
	X(drop_no_proto)                                                       \
	X(drop_bad_icmp)                                                       \
	X(tcp_drop_csum)                                                       \
	X(tcp_drop_bad)                                                        \
	X(tcp_drop_syn)                                                        \
	X(tcp_rst_sent)                                                        \
	X(tcp_rst_rcvd)                                                        \
	X(tcp_accepted)                                                        \
	X(tcp_connected)                                                       \
	X(tcp_retransmits)                                                     \
	X(tcp_fast_retransmits)                                                \
	X(tcp_rtos)                                                            \
	X(tcp_ooo)                                                             \
	X(tcp_timeouts)                                                        \
	X(tcp_conns)

/* a field added to struct net_stats must be added above too */
struct net_stats_listed {
#define X_FIELD(f) uint64_t f;
	NET_STATS_FIELDS(X_FIELD)
#undef X_FIELD
};
_Static_assert(sizeof(struct net_stats) == sizeof(struct net_stats_listed),
	       "NET_STATS_FIELDS does not list every field of net_stats");

/* this tool's own counters */
#define TOOL_STATS_FIELDS(X)                                                   \
	X(app_accepted)	 /* connections taken by net_tcp_accept */             \
	X(app_closed)	 /* handed back with net_tcp_close */                  \
	X(app_eof)	 /* recv returned 0 */                                 \
	X(app_reset)	 /* recv returned -ECONNRESET */                       \
	X(app_timedout)	 /* recv returned -ETIMEDOUT */                        \
	X(app_epipe)	 /* send returned -EPIPE */                            \
	X(app_other_err) /* any other error from recv or send */               \
	X(app_no_slot)	 /* accepted with the app table full: aborted */       \
	X(app_bytes_in)                                                        \
	X(app_bytes_out)                                                       \
	X(app_send_short) /* sends that took less than offered */              \
	X(app_wait_out)	  /* connections waiting for NET_EV_OUT now */         \
	X(app_stale_ev)	  /* events for a connection already closed */         \
	X(imp_rx_lost)                                                         \
	X(imp_tx_lost)                                                         \
	X(imp_dup)                                                             \
	X(imp_reordered)                                                       \
	X(imp_delayed)                                                         \
	X(imp_overflow)                                                        \
	X(tap_rx)      /* frames read from the device */                       \
	X(tap_tx)      /* frames written to it */                              \
	X(tap_rx_err)  /* reads that failed (EIO: link down) */                \
	X(tap_tx_err)  /* writes that failed */                                \
	X(tap_too_big) /* frames past NET_FRAME_MAX, not impaired */

struct tool_stats {
#define X_FIELD(f) uint64_t f;
	TOOL_STATS_FIELDS(X_FIELD)
#undef X_FIELD
};

struct conn {
	bool used;
	bool eof;    /* the peer's FIN has been read */
	bool hangup; /* --hangup-port: we close after the first burst */
	bool got_data;
	bool wait_out; /* a send fell short: NET_EV_OUT will come */
	uint32_t id;
	uint32_t gen;	   /* bumped at close: stale tokens are ignored */
	uint64_t off;	   /* source: the next stream offset to send */
	size_t plen, poff; /* echo: pending bytes buf[poff..plen) */
	unsigned char *buf;
};

struct dq_ent {
	int64_t at;
	uint64_t seq; /* FIFO among equal release times */
	uint8_t dir;
	uint16_t len;
	unsigned char f[NET_FRAME_MAX];
};

struct held {
	bool full;
	int64_t since;
	size_t len;
	unsigned char f[NET_FRAME_MAX];
};

struct opts {
	const char *dev, *netns, *pcap, *relay, *relay_netns;
	uint32_t ip, netmask, gateway;
	uint8_t mac[6];
	uint16_t port, hangup_port;
	uint32_t backlog;
	int mode;
	bool trace;
	uint64_t seed;
	double loss, dup, reorder;
	uint32_t delay_ms, jitter_ms, reorder_max_ms;
};

static struct {
	struct opts o;
	struct net *n;
	int fd;
	int relay_fd; /* --relay: the second device, else -1 */
	int64_t now, t0;
	uint64_t rng;
	struct tool_stats ts;
	struct conn *conns;
	uint32_t nconns;
	uint32_t app_conns;
	/* impairment */
	struct dq_ent *dq;  /* DQ_SLOTS entries */
	uint32_t *heap;	    /* indices into dq, min-heap on (at, seq) */
	uint32_t *free_idx; /* free dq indices, a stack */
	uint32_t heap_len, free_len;
	uint64_t dq_seq;
	struct held held[2];
	FILE *pcap;
} h;

static volatile sig_atomic_t g_usr1, g_term;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		g_usr1 = 1;
	else
		g_term = 1;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ */
/* PRNG and trace                                                      */
/* ------------------------------------------------------------------ */
static uint64_t rnd(void)
{
	uint64_t x = h.rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	h.rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* true with probability pct percent */
static bool chance(double pct)
{
	if (pct <= 0)
		return false;
	return (double)(rnd() >> 11) * 0x1.0p-53 * 100.0 < pct;
}

static uint16_t rd16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static bool is_ipv4(const unsigned char *f, size_t len)
{
	return len >= 14 + 20 && rd16(f + 12) == 0x0800;
}

/* the TCP options worth seeing: mss, wscale, sackOK, sack, ts */
static void trace_opts(const unsigned char *tcp, size_t thl, size_t avail)
{
	size_t i = 20, l;

	if (thl > avail)
		thl = avail;
	while (i < thl) {
		if (tcp[i] == 0)
			break;
		if (tcp[i] == 1) {
			i++;
			continue;
		}
		if (i + 1 >= thl || tcp[i + 1] < 2 || i + tcp[i + 1] > thl)
			break;
		l = tcp[i + 1];
		if (tcp[i] == 2 && l == 4)
			fprintf(stderr, " <mss %u>", rd16(tcp + i + 2));
		else if (tcp[i] == 3 && l == 3)
			fprintf(stderr, " <wscale %u>", tcp[i + 2]);
		else if (tcp[i] == 4)
			fprintf(stderr, " <sackOK>");
		else if (tcp[i] == 5)
			fprintf(stderr, " <sack %zu>", (l - 2) / 8);
		else if (tcp[i] == 8 && l == 10)
			fprintf(stderr, " <ts %u %u>", rd32(tcp + i + 2),
				rd32(tcp + i + 6));
		else
			fprintf(stderr, " <opt %u>", tcp[i]);
		i += l;
	}
}

static void trace(const char *tag, const unsigned char *f, size_t len)
{
	int64_t t = h.now - h.t0;
	const unsigned char *ip, *tcp;
	size_t ihl, tot, thl;
	char fl[8];
	int k = 0;

	if (!h.o.trace)
		return;
	fprintf(stderr, "%6" PRId64 ".%03" PRId64 " %-9s ", t / 1000, t % 1000,
		tag);
	if (len >= 14 && rd16(f + 12) == 0x0806) {
		fprintf(stderr, "ARP op %u len %zu\n",
			len >= 22 ? (unsigned int)rd16(f + 20) : 0u, len);
		return;
	}
	if (!is_ipv4(f, len)) {
		fprintf(stderr, "ethertype 0x%04x len %zu\n",
			len >= 14 ? (unsigned int)rd16(f + 12) : 0u, len);
		return;
	}
	ip = f + 14;
	ihl = (size_t)(ip[0] & 15) * 4;
	tot = rd16(ip + 2);
	if (ip[9] != 6 || ihl < 20 || 14 + ihl + 20 > len || tot < ihl + 20) {
		fprintf(stderr,
			"IPv4 proto %u %u.%u.%u.%u > %u.%u.%u.%u len %zu\n",
			ip[9], ip[12], ip[13], ip[14], ip[15], ip[16], ip[17],
			ip[18], ip[19], len);
		return;
	}
	tcp = ip + ihl;
	thl = (size_t)(tcp[12] >> 4) * 4;
	if (tcp[13] & 0x02)
		fl[k++] = 'S';
	if (tcp[13] & 0x01)
		fl[k++] = 'F';
	if (tcp[13] & 0x04)
		fl[k++] = 'R';
	if (tcp[13] & 0x08)
		fl[k++] = 'P';
	if (tcp[13] & 0x10)
		fl[k++] = '.';
	fl[k] = 0;
	fprintf(stderr, "TCP %u > %u [%s] seq %u ack %u win %u len %zu",
		rd16(tcp), rd16(tcp + 2), fl, rd32(tcp + 4), rd32(tcp + 8),
		rd16(tcp + 14), tot >= ihl + thl ? tot - ihl - thl : 0);
	trace_opts(tcp, thl, len - 14 - ihl);
	fputc('\n', stderr);
}

static void pcap_frame(const unsigned char *f, size_t len)
{
	struct timeval tv;
	uint32_t rec[4];

	if (!h.pcap)
		return;
	gettimeofday(&tv, NULL);
	rec[0] = (uint32_t)tv.tv_sec;
	rec[1] = (uint32_t)tv.tv_usec;
	rec[2] = rec[3] = (uint32_t)len;
	fwrite(rec, sizeof(rec), 1, h.pcap);
	fwrite(f, 1, len, h.pcap);
}

static FILE *pcap_open(const char *path)
{
	/* the classic libpcap header: v2.4, snaplen 65535, Ethernet */
	const uint32_t hdr[6] = {0xa1b2c3d4, 2 | 4u << 16, 0, 0, 65535, 1};
	FILE *f = fopen(path, "wb");

	if (f && fwrite(hdr, sizeof(hdr), 1, f) != 1) {
		fclose(f);
		return NULL;
	}
	return f;
}

/* ------------------------------------------------------------------ */
/* Impairment                                                          */
/* ------------------------------------------------------------------ */
/* the frame reaches its destination now */
static void deliver(int dir, const unsigned char *f, size_t len)
{
	if (dir == DIR_RX) {
		trace("rx", f, len);
		pcap_frame(f, len);
		if (h.relay_fd < 0) {
			net_input(h.n, f, len, h.now);
			return;
		}
		/* --relay: on to the second device */
		if (write(h.relay_fd, f, len) == (ssize_t)len)
			h.ts.tap_tx++;
		else
			h.ts.tap_tx_err++;
		return;
	}
	trace("tx", f, len);
	if (write(h.fd, f, len) == (ssize_t)len)
		h.ts.tap_tx++;
	else
		h.ts.tap_tx_err++;
}

static bool dq_before(uint32_t a, uint32_t b)
{
	const struct dq_ent *x = &h.dq[a], *y = &h.dq[b];

	return x->at < y->at || (x->at == y->at && x->seq < y->seq);
}

static void dq_push(int dir, const unsigned char *f, size_t len, int64_t at)
{
	uint32_t i, k, p, t;

	if (!h.free_len) {
		h.ts.imp_overflow++;
		trace(dir == DIR_RX ? "rx-ovfl" : "tx-ovfl", f, len);
		return;
	}
	i = h.free_idx[--h.free_len];
	h.dq[i].at = at;
	h.dq[i].seq = h.dq_seq++;
	h.dq[i].dir = (uint8_t)dir;
	h.dq[i].len = (uint16_t)len;
	memcpy(h.dq[i].f, f, len);
	k = h.heap_len++;
	h.heap[k] = i;
	while (k > 0) {
		p = (k - 1) / 2;
		if (!dq_before(h.heap[k], h.heap[p]))
			break;
		t = h.heap[k];
		h.heap[k] = h.heap[p];
		h.heap[p] = t;
		k = p;
	}
}

/* the index of the earliest entry, removed from the heap (not freed) */
static uint32_t dq_pop(void)
{
	uint32_t top = h.heap[0], k = 0, c, t;

	h.heap[0] = h.heap[--h.heap_len];
	for (;;) {
		c = 2 * k + 1;
		if (c >= h.heap_len)
			break;
		if (c + 1 < h.heap_len && dq_before(h.heap[c + 1], h.heap[c]))
			c++;
		if (!dq_before(h.heap[c], h.heap[k]))
			break;
		t = h.heap[k];
		h.heap[k] = h.heap[c];
		h.heap[c] = t;
		k = c;
	}
	return top;
}

static void stage_delay(int dir, const unsigned char *f, size_t len)
{
	uint32_t d;

	if (!h.o.delay_ms && !h.o.jitter_ms) {
		deliver(dir, f, len);
		return;
	}
	d = h.o.delay_ms;
	if (h.o.jitter_ms)
		d += (uint32_t)(rnd() % (h.o.jitter_ms + 1));
	h.ts.imp_delayed++;
	dq_push(dir, f, len, h.now + d);
}

static void stage_reorder(int dir, const unsigned char *f, size_t len)
{
	struct held *hd = &h.held[dir];
	unsigned char copy[NET_FRAME_MAX];
	size_t clen;

	if (hd->full) {
		/* this frame passes the held one */
		memcpy(copy, hd->f, hd->len);
		clen = hd->len;
		hd->full = false;
		stage_delay(dir, f, len);
		stage_delay(dir, copy, clen);
		return;
	}
	if (chance(h.o.reorder)) {
		h.ts.imp_reordered++;
		trace(dir == DIR_RX ? "rx-hold" : "tx-hold", f, len);
		memcpy(hd->f, f, len);
		hd->len = len;
		hd->since = h.now;
		hd->full = true;
		return;
	}
	stage_delay(dir, f, len);
}

/* a frame enters the impairment stage in direction dir */
static void impair(int dir, const unsigned char *f, size_t len)
{
	if (!is_ipv4(f, len)) {
		deliver(dir, f, len);
		return;
	}
	if (len > NET_FRAME_MAX) {
		h.ts.tap_too_big++;
		deliver(dir, f, len);
		return;
	}
	if (chance(h.o.loss)) {
		if (dir == DIR_RX)
			h.ts.imp_rx_lost++;
		else
			h.ts.imp_tx_lost++;
		trace(dir == DIR_RX ? "rx-lost" : "tx-lost", f, len);
		return;
	}
	if (chance(h.o.dup)) {
		h.ts.imp_dup++;
		trace(dir == DIR_RX ? "rx-dup" : "tx-dup", f, len);
		stage_reorder(dir, f, len);
	}
	stage_reorder(dir, f, len);
}

/* held and delayed frames whose time has come */
static void impair_release(void)
{
	unsigned char copy[NET_FRAME_MAX];
	struct held *hd;
	uint32_t i, guard;
	size_t len;
	int dir;

	for (dir = DIR_RX; dir <= DIR_TX; dir++) {
		hd = &h.held[dir];
		if (hd->full && h.now - hd->since >= h.o.reorder_max_ms) {
			memcpy(copy, hd->f, hd->len);
			len = hd->len;
			hd->full = false;
			stage_delay(dir, copy, len);
		}
	}
	/* what a released frame makes the stack send may join the queue;
	 * bound the pass so that a zero delay cannot keep it going */
	for (guard = 0; h.heap_len && guard < DQ_SLOTS; guard++) {
		i = h.heap[0];
		if (h.dq[i].at > h.now)
			break;
		dq_pop();
		memcpy(copy, h.dq[i].f, h.dq[i].len);
		len = h.dq[i].len;
		dir = h.dq[i].dir;
		h.free_idx[h.free_len++] = i;
		deliver(dir, copy, len);
	}
}

static void stack_tx(void *arg, const void *frame, size_t len)
{
	(void)arg;
	pcap_frame(frame, len);
	impair(DIR_TX, frame, len);
}

/* ------------------------------------------------------------------ */
/* The application                                                     */
/* ------------------------------------------------------------------ */
static uint64_t conn_token(const struct conn *c)
{
	return (uint64_t)c->gen << 32 | (uint64_t)(c - h.conns + 1);
}

static struct conn *conn_of(uint64_t token)
{
	uint64_t slot = token & 0xffffffffu;
	struct conn *c;

	if (!slot || slot > h.nconns)
		return NULL;
	c = &h.conns[slot - 1];
	if (!c->used || c->gen != (uint32_t)(token >> 32))
		return NULL;
	return c;
}

static void conn_close(struct conn *c)
{
	net_tcp_close(h.n, c->id);
	h.ts.app_closed++;
	if (c->wait_out)
		h.ts.app_wait_out--;
	free(c->buf);
	c->buf = NULL;
	c->used = false;
	c->gen++;
	h.app_conns--;
}

/* recv's or send's error r: counted, and the connection closed */
static void conn_error(struct conn *c, ssize_t r)
{
	if (r == -ECONNRESET)
		h.ts.app_reset++;
	else if (r == -ETIMEDOUT)
		h.ts.app_timedout++;
	else if (r == -EPIPE)
		h.ts.app_epipe++;
	else
		h.ts.app_other_err++;
	if (h.o.trace)
		fprintf(stderr, "app: conn %u: %s\n", c->id, strerror((int)-r));
	conn_close(c);
}

static void set_wait_out(struct conn *c, bool w)
{
	if (c->wait_out == w)
		return;
	c->wait_out = w;
	if (w)
		h.ts.app_wait_out++;
	else
		h.ts.app_wait_out--;
}

/* offer len bytes; *taken of them were taken.  true if all were (and
 * the connection is still open); false if a NET_EV_OUT is awaited or the
 * connection was closed on an error (c->used is false then) */
static bool send_some(struct conn *c, const void *p, size_t len, size_t *taken)
{
	struct iovec iov = {(void *)p, len};
	ssize_t r = net_tcp_send(h.n, c->id, &iov, 1);

	*taken = 0;
	if (r == -EAGAIN) {
		set_wait_out(c, true);
		return false;
	}
	if (r < 0) {
		conn_error(c, r);
		return false;
	}
	*taken = (size_t)r;
	h.ts.app_bytes_out += (uint64_t)r;
	if ((size_t)r < len) {
		h.ts.app_send_short++;
		set_wait_out(c, true);
		return false;
	}
	return true;
}

/* echo: read, send back, until the stack has no more to read, a send
 * falls short (NET_EV_OUT brings us back) or the connection closes */
static void serve_echo(struct conn *c)
{
	size_t taken;
	ssize_t r;

	for (;;) {
		if (c->poff < c->plen) {
			bool all = send_some(c, c->buf + c->poff,
					     c->plen - c->poff, &taken);

			if (!c->used)
				return;
			c->poff += taken;
			if (!all)
				return; /* NET_EV_OUT brings us back */
		}
		c->poff = c->plen = 0;
		if (c->eof) {
			conn_close(c);
			return;
		}
		r = net_tcp_recv(h.n, c->id, c->buf, ECHO_BUF);
		if (r == -EAGAIN) {
			if (c->hangup && c->got_data)
				conn_close(c); /* our FIN goes first */
			return;
		}
		if (r == 0) {
			h.ts.app_eof++;
			c->eof = true;
			continue;
		}
		if (r < 0) {
			conn_error(c, r);
			return;
		}
		h.ts.app_bytes_in += (uint64_t)r;
		c->got_data = true;
		c->plen = (size_t)r;
	}
}

/* read and drop: false if the connection was closed */
static bool drain_input(struct conn *c)
{
	unsigned char tmp[16384];
	ssize_t r;

	for (;;) {
		r = net_tcp_recv(h.n, c->id, tmp, sizeof(tmp));
		if (r == -EAGAIN)
			return true;
		if (r == 0) {
			h.ts.app_eof++;
			conn_close(c);
			return false;
		}
		if (r < 0) {
			conn_error(c, r);
			return false;
		}
		h.ts.app_bytes_in += (uint64_t)r;
	}
}

static void source_fill(unsigned char *p, uint64_t off, size_t len)
{
	size_t k;

	for (k = 0; k < len; k++) {
		uint64_t i = off + k;

		p[k] = (unsigned char)((i * 7 + i / 251) & 0xff);
	}
}

static void serve_source(struct conn *c)
{
	unsigned char chunk[SRC_CHUNK];
	size_t taken;
	bool all;

	if (!drain_input(c))
		return;
	do {
		source_fill(chunk, c->off, sizeof(chunk));
		all = send_some(c, chunk, sizeof(chunk), &taken);
		if (!c->used)
			return;
		c->off += taken;
	} while (all);
}

static void serve(struct conn *c, uint32_t what)
{
	if (what & NET_EV_OUT)
		set_wait_out(c, false);
	if (c->hangup || h.o.mode == MODE_ECHO)
		serve_echo(c);
	else if (h.o.mode == MODE_SOURCE)
		serve_source(c);
	else
		drain_input(c);
}

static void accept_all(uint16_t port)
{
	uint32_t id, pip, s;
	uint16_t pport;
	struct conn *c;

	while (net_tcp_accept(h.n, port, &id, &pip, &pport) == 0) {
		h.ts.app_accepted++;
		c = NULL;
		for (s = 0; s < h.nconns; s++) {
			if (!h.conns[s].used) {
				c = &h.conns[s];
				break;
			}
		}
		if (!c) {
			h.ts.app_no_slot++;
			net_tcp_abort(h.n, id);
			continue;
		}
		c->used = true;
		c->eof = c->got_data = c->wait_out = false;
		c->id = id;
		c->off = 0;
		c->plen = c->poff = 0;
		c->hangup = h.o.hangup_port && port == h.o.hangup_port;
		c->buf = NULL;
		if (c->hangup || h.o.mode == MODE_ECHO) {
			c->buf = malloc(ECHO_BUF);
			if (!c->buf) {
				h.ts.app_other_err++;
				net_tcp_abort(h.n, id);
				c->used = false;
				continue;
			}
		}
		h.app_conns++;
		if (h.o.trace)
			fprintf(stderr, "app: accepted conn %u from port %u\n",
				id, pport);
		net_tcp_set_token(h.n, id, conn_token(c));
		serve(c, 0); /* data may have come with the handshake */
	}
}

static void handle_events(void)
{
	struct net_event ev[64];
	int k, i, rounds;
	struct conn *c;

	for (rounds = 0; rounds < 64; rounds++) {
		k = net_tcp_events(h.n, ev, 64);
		for (i = 0; i < k; i++) {
			if (ev[i].what & NET_EV_ACCEPT) {
				accept_all((uint16_t)ev[i].token);
				continue;
			}
			c = conn_of(ev[i].token);
			if (!c) {
				h.ts.app_stale_ev++;
				continue;
			}
			serve(c, ev[i].what);
		}
		if (k < 64)
			break;
	}
}

static void print_stats(void)
{
	static const struct net_stats none;
	const struct net_stats *s = h.n ? net_stats(h.n) : &none;

	printf("{");
#define X_PRINT(f) printf("\"" #f "\": %" PRIu64 ", ", (uint64_t)s->f);
	NET_STATS_FIELDS(X_PRINT)
#undef X_PRINT
#define X_PRINT(f) printf("\"" #f "\": %" PRIu64 ", ", h.ts.f);
	TOOL_STATS_FIELDS(X_PRINT)
#undef X_PRINT
	printf("\"app_conns\": %u}\n", h.app_conns);
	fflush(stdout);
}

/* ------------------------------------------------------------------ */
/* Set-up                                                              */
/* ------------------------------------------------------------------ */
static int tap_open(const char *name)
{
	struct ifreq ifr;
	int fd;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "paddock-net-tap: /dev/net/tun: %s\n",
			strerror(errno));
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		fprintf(stderr, "paddock-net-tap: TUNSETIFF %s: %s\n", name,
			strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* `ip link set dev DEV netns NS`: 0 or -1 */
static int move_to_netns(const char *dev, const char *ns)
{
	const char *ip = access("/usr/sbin/ip", X_OK) == 0 ? "/usr/sbin/ip"
			 : access("/sbin/ip", X_OK) == 0   ? "/sbin/ip"
							   : "ip";
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("paddock-net-tap: fork");
		return -1;
	}
	if (pid == 0) {
		execlp(ip, ip, "link", "set", "dev", dev, "netns", ns,
		       (char *)NULL);
		fprintf(stderr, "paddock-net-tap: exec %s: %s\n", ip,
			strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			perror("paddock-net-tap: waitpid");
			return -1;
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr,
			"paddock-net-tap: `ip link set dev %s netns %s` "
			"failed (status 0x%x)\n",
			dev, ns, status);
		return -1;
	}
	return 0;
}

/* up to RX_BURST frames from fd into the impairment, as received (the
 * first device) or as sent (--relay's second one): false once fd has
 * no more */
static bool read_burst(int fd, int dir)
{
	static unsigned char frame[TAP_READ_MAX];
	ssize_t r;
	int i;

	for (i = 0; i < RX_BURST; i++) {
		r = read(fd, frame, sizeof(frame));
		if (r < 0) {
			if (errno != EAGAIN && errno != EINTR)
				h.ts.tap_rx_err++;
			return false;
		}
		h.ts.tap_rx++;
		impair(dir, frame, (size_t)r);
	}
	return true;
}

static void usage(FILE *f)
{
	fprintf(
	    f, "usage: paddock-net-tap --dev NAME --ip A.B.C.D --port P "
	       "[options]\n"
	       "  --netns NS             move the device into namespace NS\n"
	       "  --netmask M            [255.255.255.0]\n"
	       "  --gateway G\n"
	       "  --mac XX:XX:XX:XX:XX:XX [02:00:00:00:00:01]\n"
	       "  --mode echo|source|discard [echo]\n"
	       "  --hangup-port Q        echo the first burst, then close "
	       "first\n"
	       "  --backlog N            [128]\n"
	       "  --conns N --half-open N --sndbuf B --rcvbuf B\n"
	       "  --rto-min-ms MS --rto-max-ms MS --retries N --syn-retries N\n"
	       "  --delack-ms MS --keepalive-ms MS --keepalive-intvl-ms MS\n"
	       "  --keepalive-probes N --timewait-ms MS\n"
	       "                         the stack's knobs (0: its default)\n"
	       "  --seed N --loss PCT --dup PCT --reorder PCT\n"
	       "  --reorder-max-ms MS [10] --delay-ms MS --jitter-ms MS\n"
	       "                         impairment of IPv4 frames, both "
	       "directions\n"
	       "  --trace                every frame to stderr\n"
	       "  --pcap FILE            the stack's frames to a pcap file\n"
	       "  --relay DEV2 [--relay-netns NS2]\n"
	       "                         no stack: frames from --dev go to "
	       "DEV2 and back,\n"
	       "                         through the same impairment (a "
	       "kernel-to-kernel\n"
	       "                         control for the stack's results)\n"
	       "SIGUSR1: one JSON line of counters on stdout; SIGTERM: the "
	       "same, exit 0.\n");
}

static bool parse_u32(const char *s, uint32_t max, uint32_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v > max)
		return false;
	*out = (uint32_t)v;
	return true;
}

static bool parse_pct(const char *s, double *out)
{
	char *end;
	double v;

	if (!s || !*s)
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !(v >= 0 && v <= 100))
		return false;
	*out = v;
	return true;
}

static bool parse_ip(const char *s, uint32_t *out)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return false;
	*out = ntohl(a.s_addr);
	return true;
}

static bool parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char tail;
	int i;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &tail) != 6)
		return false;
	for (i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return true;
}

enum {
	O_DEV = 256,
	O_NETNS,
	O_IP,
	O_NETMASK,
	O_GATEWAY,
	O_MAC,
	O_PORT,
	O_MODE,
	O_HANGUP,
	O_BACKLOG,
	O_CONNS,
	O_HALF,
	O_SNDBUF,
	O_RCVBUF,
	O_RTOMIN,
	O_RTOMAX,
	O_RETRIES,
	O_SYNRETRIES,
	O_DELACK,
	O_KA,
	O_KAI,
	O_KAP,
	O_TW,
	O_SEED,
	O_LOSS,
	O_DUP,
	O_REORDER,
	O_REORDERMAX,
	O_DELAY,
	O_JITTER,
	O_TRACE,
	O_PCAP,
	O_RELAY,
	O_RELAYNS,
	O_HELP,
};

static const struct option long_opts[] = {
    {"dev", required_argument, NULL, O_DEV},
    {"netns", required_argument, NULL, O_NETNS},
    {"ip", required_argument, NULL, O_IP},
    {"netmask", required_argument, NULL, O_NETMASK},
    {"gateway", required_argument, NULL, O_GATEWAY},
    {"mac", required_argument, NULL, O_MAC},
    {"port", required_argument, NULL, O_PORT},
    {"mode", required_argument, NULL, O_MODE},
    {"hangup-port", required_argument, NULL, O_HANGUP},
    {"backlog", required_argument, NULL, O_BACKLOG},
    {"conns", required_argument, NULL, O_CONNS},
    {"half-open", required_argument, NULL, O_HALF},
    {"sndbuf", required_argument, NULL, O_SNDBUF},
    {"rcvbuf", required_argument, NULL, O_RCVBUF},
    {"rto-min-ms", required_argument, NULL, O_RTOMIN},
    {"rto-max-ms", required_argument, NULL, O_RTOMAX},
    {"retries", required_argument, NULL, O_RETRIES},
    {"syn-retries", required_argument, NULL, O_SYNRETRIES},
    {"delack-ms", required_argument, NULL, O_DELACK},
    {"keepalive-ms", required_argument, NULL, O_KA},
    {"keepalive-intvl-ms", required_argument, NULL, O_KAI},
    {"keepalive-probes", required_argument, NULL, O_KAP},
    {"timewait-ms", required_argument, NULL, O_TW},
    {"seed", required_argument, NULL, O_SEED},
    {"loss", required_argument, NULL, O_LOSS},
    {"dup", required_argument, NULL, O_DUP},
    {"reorder", required_argument, NULL, O_REORDER},
    {"reorder-max-ms", required_argument, NULL, O_REORDERMAX},
    {"delay-ms", required_argument, NULL, O_DELAY},
    {"jitter-ms", required_argument, NULL, O_JITTER},
    {"trace", no_argument, NULL, O_TRACE},
    {"pcap", required_argument, NULL, O_PCAP},
    {"relay", required_argument, NULL, O_RELAY},
    {"relay-netns", required_argument, NULL, O_RELAYNS},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0},
};

static const char *opt_name(int val)
{
	const struct option *p;

	for (p = long_opts; p->name; p++)
		if (p->val == val)
			return p->name;
	return "?";
}

/* 0, or -1 with a message */
static int parse_args(int argc, char **argv, struct net_config *cfg)
{
	struct opts *o = &h.o;
	uint32_t v = 0, seed_lo = 0;
	bool ok, have_ip = false, have_port = false, have_seed = false;
	int c;

	o->netmask = 0xffffff00u;
	memcpy(o->mac, (const uint8_t[6]){2, 0, 0, 0, 0, 1}, 6);
	o->mode = MODE_ECHO;
	o->backlog = 128;
	o->reorder_max_ms = 10;
	while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		ok = true;
		switch (c) {
		case O_DEV:
			o->dev = optarg;
			ok = *optarg && strlen(optarg) < IFNAMSIZ;
			break;
		case O_NETNS:
			o->netns = optarg;
			ok = *optarg;
			break;
		case O_IP:
			ok = parse_ip(optarg, &o->ip) && o->ip;
			have_ip = true;
			break;
		case O_NETMASK:
			ok = parse_ip(optarg, &o->netmask);
			break;
		case O_GATEWAY:
			ok = parse_ip(optarg, &o->gateway);
			break;
		case O_MAC:
			ok = parse_mac(optarg, o->mac) && !(o->mac[0] & 1);
			break;
		case O_PORT:
			ok = parse_u32(optarg, 65535, &v) && v;
			o->port = (uint16_t)v;
			have_port = true;
			break;
		case O_HANGUP:
			ok = parse_u32(optarg, 65535, &v) && v;
			o->hangup_port = (uint16_t)v;
			break;
		case O_MODE:
			if (!strcmp(optarg, "echo"))
				o->mode = MODE_ECHO;
			else if (!strcmp(optarg, "source"))
				o->mode = MODE_SOURCE;
			else if (!strcmp(optarg, "discard"))
				o->mode = MODE_DISCARD;
			else
				ok = false;
			break;
		case O_BACKLOG:
			ok = parse_u32(optarg, UINT32_MAX, &o->backlog);
			break;
		case O_CONNS:
			ok = parse_u32(optarg, 1u << 20, &cfg->tcp_conns);
			break;
		case O_HALF:
			ok = parse_u32(optarg, 1u << 20, &cfg->tcp_half_open);
			break;
		case O_SNDBUF:
			ok = parse_u32(optarg, 1u << 30, &cfg->tcp_sndbuf);
			break;
		case O_RCVBUF:
			ok = parse_u32(optarg, 1u << 30, &cfg->tcp_rcvbuf);
			break;
		case O_RTOMIN:
			ok =
			    parse_u32(optarg, UINT32_MAX, &cfg->tcp_rto_min_ms);
			break;
		case O_RTOMAX:
			ok =
			    parse_u32(optarg, UINT32_MAX, &cfg->tcp_rto_max_ms);
			break;
		case O_RETRIES:
			ok = parse_u32(optarg, UINT32_MAX, &cfg->tcp_retries);
			break;
		case O_SYNRETRIES:
			ok = parse_u32(optarg, UINT32_MAX,
				       &cfg->tcp_syn_retries);
			break;
		case O_DELACK:
			ok = parse_u32(optarg, UINT32_MAX, &cfg->tcp_delack_ms);
			break;
		case O_KA:
			ok = parse_u32(optarg, UINT32_MAX,
				       &cfg->tcp_keepalive_ms);
			break;
		case O_KAI:
			ok = parse_u32(optarg, UINT32_MAX,
				       &cfg->tcp_keepalive_intvl_ms);
			break;
		case O_KAP:
			ok = parse_u32(optarg, UINT32_MAX,
				       &cfg->tcp_keepalive_probes);
			break;
		case O_TW:
			ok = parse_u32(optarg, UINT32_MAX,
				       &cfg->tcp_timewait_ms);
			break;
		case O_SEED:
			ok = parse_u32(optarg, UINT32_MAX, &seed_lo);
			have_seed = true;
			break;
		case O_LOSS:
			ok = parse_pct(optarg, &o->loss);
			break;
		case O_DUP:
			ok = parse_pct(optarg, &o->dup);
			break;
		case O_REORDER:
			ok = parse_pct(optarg, &o->reorder);
			break;
		case O_REORDERMAX:
			ok = parse_u32(optarg, 60000, &o->reorder_max_ms);
			break;
		case O_DELAY:
			ok = parse_u32(optarg, 60000, &o->delay_ms);
			break;
		case O_JITTER:
			ok = parse_u32(optarg, 60000, &o->jitter_ms);
			break;
		case O_TRACE:
			o->trace = true;
			break;
		case O_PCAP:
			o->pcap = optarg;
			break;
		case O_RELAY:
			o->relay = optarg;
			ok = *optarg && strlen(optarg) < IFNAMSIZ;
			break;
		case O_RELAYNS:
			o->relay_netns = optarg;
			ok = *optarg;
			break;
		case O_HELP:
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
		if (!ok) {
			fprintf(stderr,
				"paddock-net-tap: bad value for --%s: "
				"'%s'\n",
				opt_name(c), optarg ? optarg : "");
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "paddock-net-tap: unexpected argument '%s'\n",
			argv[optind]);
		return -1;
	}
	if (!o->dev || (!o->relay && (!have_ip || !have_port))) {
		fprintf(stderr, "paddock-net-tap: --dev, and --ip and --port "
				"or --relay, are required\n");
		usage(stderr);
		return -1;
	}
	if (o->relay && !strcmp(o->relay, o->dev)) {
		fprintf(stderr, "paddock-net-tap: --relay must name another "
				"device than --dev\n");
		return -1;
	}
	if (o->hangup_port && o->hangup_port == o->port) {
		fprintf(stderr, "paddock-net-tap: --hangup-port must differ "
				"from --port\n");
		return -1;
	}
	o->seed = have_seed ? seed_lo : (uint64_t)time(NULL);
	return 0;
}

int main(int argc, char **argv)
{
	struct net_config cfg;
	struct sigaction sa;
	struct pollfd pfd[2];
	bool more[2] = {false, false};
	uint32_t i, b;
	int k, rc, d, nfds;

	memset(&cfg, 0, sizeof(cfg));
	h.fd = h.relay_fd = -1;
	if (parse_args(argc, argv, &cfg) < 0)
		return 2;
	h.rng = h.o.seed * 0x9E3779B97F4A7C15ULL + 0x1234567ULL;
	if (!h.rng)
		h.rng = 1;

	memcpy(cfg.mac, h.o.mac, 6);
	cfg.ip = h.o.ip;
	cfg.netmask = h.o.netmask;
	cfg.gateway = h.o.gateway;
	cfg.tx = stack_tx;
	cfg.tx_arg = NULL;
	if (getrandom(cfg.tcp_isn_key, sizeof(cfg.tcp_isn_key), 0) !=
	    (ssize_t)sizeof(cfg.tcp_isn_key)) {
		perror("paddock-net-tap: getrandom");
		return 2;
	}

	h.nconns = cfg.tcp_conns ? cfg.tcp_conns : 1024;
	h.conns = calloc(h.nconns, sizeof(*h.conns));
	h.dq = malloc(sizeof(*h.dq) * DQ_SLOTS);
	h.heap = malloc(sizeof(*h.heap) * DQ_SLOTS);
	h.free_idx = malloc(sizeof(*h.free_idx) * DQ_SLOTS);
	if (!h.conns || !h.dq || !h.heap || !h.free_idx) {
		fprintf(stderr, "paddock-net-tap: out of memory\n");
		return 2;
	}
	for (i = 0; i < DQ_SLOTS; i++)
		h.free_idx[i] = DQ_SLOTS - 1 - i;
	h.free_len = DQ_SLOTS;

	if (!h.o.relay) {
		h.n = net_create(&cfg);
		if (!h.n) {
			fprintf(stderr, "paddock-net-tap: net_create refused "
					"the configuration or ran out of "
					"memory\n");
			return 2;
		}
		rc = net_tcp_listen(h.n, h.o.port, h.o.backlog);
		if (rc == 0 && h.o.hangup_port)
			rc = net_tcp_listen(h.n, h.o.hangup_port, h.o.backlog);
		if (rc < 0) {
			fprintf(stderr,
				"paddock-net-tap: net_tcp_listen: "
				"%s\n",
				strerror(-rc));
			return 2;
		}
	}
	if (h.o.pcap) {
		h.pcap = pcap_open(h.o.pcap);
		if (!h.pcap) {
			fprintf(stderr, "paddock-net-tap: %s: %s\n", h.o.pcap,
				strerror(errno));
			return 2;
		}
	}

	h.fd = tap_open(h.o.dev);
	if (h.fd < 0)
		return 2;
	if (h.o.netns && move_to_netns(h.o.dev, h.o.netns) < 0)
		return 2;
	if (h.o.relay) {
		h.relay_fd = tap_open(h.o.relay);
		if (h.relay_fd < 0)
			return 2;
		if (h.o.relay_netns &&
		    move_to_netns(h.o.relay, h.o.relay_netns) < 0)
			return 2;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: poll returns EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (h.o.trace) /* flushed once per loop pass */
		setvbuf(stderr, NULL, _IOFBF, 1 << 16);
	h.t0 = h.now = mono_ms();
	printf("{\"ready\": true, \"dev\": \"%s\", \"seed\": %" PRIu64 "}\n",
	       h.o.dev, h.o.seed);
	fflush(stdout);

	pfd[0].fd = h.fd;
	pfd[1].fd = h.relay_fd;
	pfd[0].events = pfd[1].events = POLLIN;
	nfds = h.relay_fd >= 0 ? 2 : 1;
	while (!g_term) {
		k = poll(pfd, nfds, 1);
		if (k < 0 && errno != EINTR) {
			perror("paddock-net-tap: poll");
			return 1;
		}
		for (d = 0; d < nfds; d++) {
			more[d] = k > 0 && (pfd[d].revents & POLLIN);
			if (k > 0 && !more[d] &&
			    (pfd[d].revents & (POLLERR | POLLHUP))) {
				/* the device went away or down: no spin */
				h.ts.tap_rx_err++;
				usleep(1000);
			}
		}
		/* bursts of RX_BURST frames, each followed by the timers and
		 * the application, as a DPDK loop would do */
		for (b = 0; b < RX_BURSTS; b++) {
			h.now = mono_ms();
			for (d = 0; d < nfds; d++)
				more[d] = more[d] && read_burst(pfd[d].fd, d);
			h.now = mono_ms();
			impair_release();
			if (h.n) {
				net_tick(h.n, h.now);
				handle_events();
			}
			if (!more[0] && !more[1])
				break;
		}
		if (h.o.trace)
			fflush(stderr);
		if (g_usr1) {
			g_usr1 = 0;
			print_stats();
		}
	}
	print_stats();
	if (h.pcap)
		fclose(h.pcap);
	for (i = 0; i < h.nconns; i++)
		free(h.conns[i].buf);
	net_destroy(h.n);
	close(h.fd);
	if (h.relay_fd >= 0)
		close(h.relay_fd);
	free(h.conns);
	free(h.dq);
	free(h.heap);
	free(h.free_idx);
	return 0;
}
