/*
 * io_tcp.c — the kernel-TCP connection backend (backend_int.h).
 *
 * Per worker: one epoll set holding the worker's SO_REUSEPORT listener
 * (the kernel spreads new connections over the workers' listeners, and a
 * connection stays with the worker that accepted it), the sequencer's
 * eventfd for this worker (a message arrived while the worker slept; the
 * sequencer resets it in zab_sleep_done) and every accepted socket.  A
 * link's handle is its socket; epoll reports the link's token.  Level
 * triggered: the protocol reads a socket only up to its budget per pass
 * and relies on being told again.
 *
 * Accepted sockets are non-blocking with TCP_NODELAY (replies leave as
 * soon as a pass's batch is written, as ZooKeeper's NIOServerCnxn sets
 * it).  EINTR is retried here; EAGAIN becomes -EAGAIN.  Sends use
 * MSG_NOSIGNAL: a client gone away is an error return, not a SIGPIPE.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dataplane/backend_int.h"

/* epoll data of the two descriptors that are not links (a link's token
 * is (gen << 32) | slot, never all ones in its high half) */
#define TOK_LISTEN UINT64_MAX
#define TOK_WAKE (UINT64_MAX - 1)

struct dp_backend {
	int ep;
	int lfd;
	int wake_fd; /* the sequencer's, not ours to close */
	struct epoll_event evs[DP_POLL_MAX];
};

/* Open a listening socket on clientPortAddress:clientPort.  With
 * `reuseport` it joins this process's SO_REUSEPORT group (one listener
 * per worker); without, it only probes that no other process holds the
 * port — a REUSEPORT group of another paddockd would otherwise silently
 * share the port with us. */
static int listen_on(const struct zcfg *cfg, bool reuseport, char *err,
		     size_t err_len)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res;
	char port[16];
	snprintf(port, sizeof(port), "%d", cfg->client_port);
	const char *host =
	    cfg->client_port_address[0] ? cfg->client_port_address : NULL;
	int rc = getaddrinfo(host, port, &hints, &res);
	if (rc) {
		snprintf(err, err_len, "clientPortAddress %s: %s",
			 host ? host : "*", gai_strerror(rc));
		return -1;
	}
	int fd = socket(res->ai_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (reuseport)
			setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
				   sizeof(one));
	}
	if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) ||
	    listen(fd, 1024)) {
		snprintf(err, err_len, "cannot listen on %s:%d: %s",
			 host ? host : "*", cfg->client_port, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

static int tcp_check(const struct zcfg *cfg, char *err, size_t err_len)
{
	int probe = listen_on(cfg, false, err, err_len);
	if (probe < 0)
		return -1;
	close(probe);
	return 0;
}

static void tcp_destroy(struct dp_backend *b)
{
	if (!b)
		return;
	if (b->lfd >= 0)
		close(b->lfd);
	if (b->ep >= 0)
		close(b->ep);
	free(b);
}

static struct dp_backend *tcp_open(const struct zcfg *cfg, int idx, int wake_fd,
				   char *err, size_t err_len)
{
	struct dp_backend *b = calloc(1, sizeof(*b));
	if (!b) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	b->lfd = -1;
	b->wake_fd = wake_fd;
	b->ep = epoll_create1(EPOLL_CLOEXEC);
	if (b->ep < 0) {
		snprintf(err, err_len, "epoll_create1: %s", strerror(errno));
		goto fail;
	}
	b->lfd = listen_on(cfg, true, err, err_len);
	if (b->lfd < 0)
		goto fail;
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TOK_LISTEN};
	epoll_ctl(b->ep, EPOLL_CTL_ADD, b->lfd, &ev);
	ev.data.u64 = TOK_WAKE;
	epoll_ctl(b->ep, EPOLL_CTL_ADD, wake_fd, &ev);
	return b;
fail:
	tcp_destroy(b);
	return NULL;
}

static int tcp_poll(struct dp_backend *b, int timeout_ms, struct dp_event *ev,
		    int n)
{
	if (n > DP_POLL_MAX)
		n = DP_POLL_MAX;
	int got = epoll_wait(b->ep, b->evs, n, timeout_ms);
	int k = 0;
	for (int i = 0; i < got; i++) {
		uint64_t u = b->evs[i].data.u64;
		uint32_t e = b->evs[i].events;
		if (u == TOK_WAKE)
			continue; /* the caller polls the ring anyway */
		if (u == TOK_LISTEN) {
			ev[k++] = (struct dp_event){0, DP_EV_ACCEPT};
			continue;
		}
		ev[k].token = u;
		ev[k].what = ((e & EPOLLIN) ? DP_EV_IN : 0) |
			     ((e & EPOLLOUT) ? DP_EV_OUT : 0) |
			     ((e & (EPOLLHUP | EPOLLERR)) ? DP_EV_HUP : 0);
		k++;
	}
	return k;
}

static void tcp_wake(struct dp_backend *b)
{
	uint64_t one = 1;
	ssize_t rc = write(b->wake_fd, &one, sizeof(one));
	(void)rc;
}

static void tcp_listen_set(struct dp_backend *b, bool on)
{
	struct epoll_event ev = {.events = on ? EPOLLIN : 0,
				 .data.u64 = TOK_LISTEN};
	epoll_ctl(b->ep, EPOLL_CTL_MOD, b->lfd, &ev);
}

static int tcp_accept(struct dp_backend *b, struct dp_link *l,
		      struct dp_peer *peer)
{
	struct sockaddr_storage ss = {0}; /* analyzers: accept4 fills it */
	socklen_t sl = sizeof(ss);
	int fd;
	do
		fd = accept4(b->lfd, (struct sockaddr *)&ss, &sl,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	snprintf(peer->ip, sizeof(peer->ip), "?");
	peer->port = 0;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &a->sin_addr, peer->ip, sizeof(peer->ip));
		peer->port = ntohs(a->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &a->sin6_addr, peer->ip, sizeof(peer->ip));
		peer->port = ntohs(a->sin6_port);
	}
	l->h = (uintptr_t)fd;
	return 0;
}

static int tcp_attach(struct dp_backend *b, struct dp_link *l)
{
	int one = 1;
	setsockopt((int)l->h, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = l->token};
	if (epoll_ctl(b->ep, EPOLL_CTL_ADD, (int)l->h, &ev))
		return -errno;
	return 0;
}

static void tcp_interest(struct dp_backend *b, struct dp_link *l, bool rd,
			 bool wr)
{
	struct epoll_event ev = {.events =
				     (rd ? EPOLLIN : 0) | (wr ? EPOLLOUT : 0),
				 .data.u64 = l->token};
	epoll_ctl(b->ep, EPOLL_CTL_MOD, (int)l->h, &ev);
}

static ssize_t tcp_recv(struct dp_backend *b, struct dp_link *l, void *buf,
			size_t len)
{
	for (;;) {
		ssize_t n = recv((int)l->h, buf, len, 0);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
}

static ssize_t tcp_send(struct dp_backend *b, struct dp_link *l,
			const struct iovec *iov, int n)
{
	for (;;) {
		ssize_t k;
		if (n == 1) {
			k = send((int)l->h, iov[0].iov_base, iov[0].iov_len,
				 MSG_NOSIGNAL);
		} else {
			struct msghdr mh = {.msg_iov = (struct iovec *)iov,
					    .msg_iovlen = (size_t)n};
			k = sendmsg((int)l->h, &mh, MSG_NOSIGNAL);
		}
		if (k >= 0)
			return k;
		if (errno == EINTR)
			continue;
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
}

/* Closing the socket also takes it out of the epoll set: nothing else
 * holds the socket (no dup, no fork), so no EPOLL_CTL_DEL is needed. */
static void tcp_close(struct dp_backend *b, struct dp_link *l)
{
	close((int)l->h);
	l->h = (uintptr_t)-1;
}

const struct dp_backend_ops dp_tcp_backend = {
    .name = "tcp",
    .check = tcp_check,
    .open = tcp_open,
    .destroy = tcp_destroy,
    .poll = tcp_poll,
    .wake = tcp_wake,
    .listen_set = tcp_listen_set,
    .accept = tcp_accept,
    .attach = tcp_attach,
    .interest = tcp_interest,
    .recv = tcp_recv,
    .send = tcp_send,
    .close = tcp_close,
};
