/* fuzz_server.c — see fuzz_server.h */
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

#include "tests/fuzz/fuzz_server.h"

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &l)) {
		perror("fuzz: free port");
		abort();
	}
	close(fd);
	return ntohs(a.sin_port);
}

void fuzz_server_up(struct fuzz_server *s, bool with_admin)
{
	char err[256] = "";
	struct zcfg *cfg = &s->cfg;
	zcfg_defaults(cfg);
	cfg->client_port = free_port();
	snprintf(cfg->client_port_address, sizeof(cfg->client_port_address),
		 "127.0.0.1");
	cfg->workers = 1;
	cfg->max_client_cnxns = 0;
	cfg->tick_time = 200;
	cfg->min_session_timeout = 400;
	cfg->max_session_timeout = 4000;
	snprintf(cfg->four_lw_whitelist, sizeof(cfg->four_lw_whitelist), "*");
	/* super:superpw, as the integration tests configure */
	snprintf(cfg->super_digest, sizeof(cfg->super_digest),
		 "super:g9oN2HttPfn8MMWJZ2r45Np/LIA=");
	cfg->admin_enabled = with_admin;
	cfg->admin_port = with_admin ? free_port() : 0;
	snprintf(cfg->admin_address, sizeof(cfg->admin_address), "127.0.0.1");
	s->tree = tree_create();
	struct zab_seq_config sc = {
		.tree = s->tree,
		.n_workers = 1,
		.tick_time = cfg->tick_time,
		.min_session_timeout = cfg->min_session_timeout,
		.max_session_timeout = cfg->max_session_timeout,
		.container_interval_ms = 500,
	};
	s->seq = s->tree ? zab_seq_create(&sc) : NULL;
	s->dp = s->seq ? dp_server_create(cfg, s->tree, s->seq, err,
					  sizeof(err))
		       : NULL;
	if (!s->dp || zab_seq_start(s->seq) || dp_server_start(s->dp)) {
		fprintf(stderr, "fuzz: cannot start the server: %s\n",
			s->dp ? "threads" : err);
		abort();
	}
	s->admin = admin_start(cfg, s->dp, err, sizeof(err));
	if (!s->admin) {
		fprintf(stderr, "fuzz: cannot start the AdminServer: %s\n",
			err);
		abort();
	}
}

void fuzz_server_down(struct fuzz_server *s)
{
	admin_stop(s->admin);
	dp_server_stop(s->dp);
	zab_seq_stop(s->seq);
	dp_server_destroy(s->dp);
	zab_seq_destroy(s->seq);
	rcu_barrier();
	tree_destroy(s->tree);
	s->admin = NULL;
	s->dp = NULL;
	s->seq = NULL;
	s->tree = NULL;
}

int fuzz_connect(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
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
		perror("fuzz: connect (server gone?)");
		abort();
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct timeval tv = {.tv_sec = 10};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

void fuzz_send_all(int fd, const void *p, size_t n)
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

bool fuzz_drain(int fd, char *buf, size_t cap, size_t *got)
{
	char tmp[65536];
	size_t n = 0;
	for (;;) {
		ssize_t k = recv(fd, tmp, sizeof(tmp), 0);
		if (k > 0) {
			size_t take = buf && n < cap ? cap - n : 0;
			if (take > (size_t)k)
				take = (size_t)k;
			if (take)
				memcpy(buf + n, tmp, take);
			n += take;
			continue;
		}
		if (got)
			*got = n;
		if (k == 0)
			return true;
		if (errno == EINTR)
			continue;
		if (errno == ECONNRESET)
			return true;
		return false; /* EAGAIN: SO_RCVTIMEO expired */
	}
}
