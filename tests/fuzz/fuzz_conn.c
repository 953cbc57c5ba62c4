/*
 * fuzz_conn.c — libFuzzer target for the client-connection path: a real
 * in-process server (tree + sequencer + one dataplane worker, the same
 * objects paddockd builds) on a loopback port, fed over TCP.
 *
 * Covers the four-letter-word / ConnectRequest sniffing, frame splitting
 * and jute.maxbuffer checks, the worker's read decoders and watch
 * operations (dataplane/jute.c, proto.c, watch.c, fourlw.c) and, for
 * writes, the sequencer behind it.
 *
 * Each input opens a fresh connection, sends bytes, half-closes (the
 * server must then close: it sees EOF) and reads everything the server
 * answers.  The server not closing within 10 s, or dying, is a finding.
 * The server lives for the whole fuzzing run (state accumulates, as on a
 * real server); it is rebuilt every RESET_EVERY inputs to bound memory.
 *
 * Input: one mode byte, then
 *   mode % 3 == 0  the raw client byte stream from the first byte (4lw or
 *                  ConnectRequest sniffing, frame lengths as given)
 *   mode % 3 == 1  a valid ConnectRequest is sent first, then the raw rest
 *   mode % 3 == 2  a valid ConnectRequest, then frames: each u16 (big
 *                  endian) length + bytes of the input becomes one jute
 *                  frame with a correct int32 length prefix
 * (mode & 0x80): wait for the ConnectResponse before sending the rest.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <urcu-qsbr.h>

#include "config/config.h"
#include "consensus/consensus.h"
#include "dataplane/dataplane.h"
#include "tree/jute.h"
#include "tree/tree.h"

#define RESET_EVERY 20000

static struct zcfg cfg;
static struct tree *tree;
static struct zab_seq *seq;
static struct dp_server *dp;
static unsigned runs;

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &l)) {
		perror("fuzz_conn: free port");
		abort();
	}
	close(fd);
	return ntohs(a.sin_port);
}

static void server_up(void)
{
	char err[256];
	zcfg_defaults(&cfg);
	cfg.client_port = free_port();
	snprintf(cfg.client_port_address, sizeof(cfg.client_port_address),
		 "127.0.0.1");
	cfg.workers = 1;
	cfg.max_client_cnxns = 0;
	cfg.tick_time = 200;
	cfg.min_session_timeout = 400;
	cfg.max_session_timeout = 4000;
	snprintf(cfg.four_lw_whitelist, sizeof(cfg.four_lw_whitelist), "*");
	/* super:superpw, as the integration tests configure */
	snprintf(cfg.super_digest, sizeof(cfg.super_digest),
		 "super:g9oN2HttPfn8MMWJZ2r45Np/LIA=");
	tree = tree_create();
	struct zab_seq_config sc = {
		.tree = tree,
		.n_workers = 1,
		.tick_time = cfg.tick_time,
		.min_session_timeout = cfg.min_session_timeout,
		.max_session_timeout = cfg.max_session_timeout,
		.container_interval_ms = 500,
	};
	seq = tree ? zab_seq_create(&sc) : NULL;
	dp = seq ? dp_server_create(&cfg, tree, seq, err, sizeof(err)) : NULL;
	if (!dp || zab_seq_start(seq) || dp_server_start(dp)) {
		fprintf(stderr, "fuzz_conn: cannot start the server: %s\n",
			dp ? "threads" : err);
		abort();
	}
}

static void server_down(void)
{
	dp_server_stop(dp);
	zab_seq_stop(seq);
	dp_server_destroy(dp);
	zab_seq_destroy(seq);
	rcu_barrier();
	tree_destroy(tree);
	dp = NULL;
	seq = NULL;
	tree = NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	server_up();
	return 0;
}

static void send_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n) {
		ssize_t k = send(fd, b, n, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return; /* the server closed on us: fine */
		b += k;
		n -= (size_t)k;
	}
}

static void connect_request(struct jw *w)
{
	size_t at = jw_frame_begin(w);
	jw_int(w, 0);         /* protocolVersion */
	jw_long(w, 0);        /* lastZxidSeen */
	jw_int(w, 10000);     /* timeOut */
	jw_long(w, 0);        /* sessionId */
	static const uint8_t pw[16];
	jw_buf(w, pw, 16);    /* passwd */
	jw_bool(w, false);    /* readOnly */
	jw_frame_end(w, at);
}

/* Read until EOF; false if the server kept the connection open. */
static bool drain(int fd)
{
	uint8_t buf[65536];
	for (;;) {
		ssize_t k = recv(fd, buf, sizeof(buf), 0);
		if (k > 0)
			continue;
		if (k == 0)
			return true;
		if (errno == EINTR)
			continue;
		if (errno == ECONNRESET)
			return true;
		return false; /* EAGAIN: SO_RCVTIMEO expired */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (!dp)
		server_up();
	uint8_t mode = data[0];
	data++;
	size--;

	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)cfg.client_port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd;
	for (;;) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			break;
		/* libFuzzer's timers interrupt connect(): try again */
		if (fd >= 0 && errno == EINTR) {
			close(fd);
			continue;
		}
		perror("fuzz_conn: connect (server gone?)");
		abort();
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct timeval tv = {.tv_sec = 10};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

	struct jw w = {0};
	if (mode % 3 != 0) {
		connect_request(&w);
		send_all(fd, w.p, w.len);
		w.len = 0;
		if (mode & 0x80) {
			uint8_t hdr[4 + 36];
			ssize_t k = recv(fd, hdr, sizeof(hdr), MSG_WAITALL);
			(void)k;
		}
	}
	if (mode % 3 == 2) {
		size_t off = 0;
		while (size - off >= 2) {
			size_t len = (size_t)data[off] << 8 | data[off + 1];
			off += 2;
			if (len > size - off)
				len = size - off;
			jw_int(&w, (int32_t)len);
			jw_bytes(&w, data + off, len);
			off += len;
		}
		send_all(fd, w.p, w.len);
	} else {
		send_all(fd, data, size);
	}
	jw_free(&w);
	shutdown(fd, SHUT_WR);
	if (!drain(fd)) {
		fprintf(stderr, "fuzz_conn: server did not close the "
				"connection within 10 s of EOF\n");
		abort();
	}
	close(fd);
	if (++runs % RESET_EVERY == 0)
		server_down();
	return 0;
}
