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
 *
 * With secureClientPort, each worker has a second SO_REUSEPORT listener
 * whose connections speak TLS (tls_int.h).  Their state hangs off
 * `tls[fd]`; a plain link's slot there is NULL and costs one load.  A TLS
 * link whose decrypted bytes wait in OpenSSL is reported readable by the
 * next poll without a socket event (the `pend` list); one whose
 * handshake must write first gets write interest until it could.
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
#include "dataplane/tls_int.h"

/* epoll data of the two descriptors that are not links (a link's token
 * is (gen << 32) | slot, never all ones in its high half) */
#define TOK_LISTEN UINT64_MAX
#define TOK_WAKE (UINT64_MAX - 1)
#define TOK_SLISTEN (UINT64_MAX - 2)

struct tls_link {
	struct tls_conn *c;
	uint64_t token;
	bool pending; /* on b->pend */
	bool out;     /* write interest for the handshake's sake */
	bool rd, wr;  /* the protocol's interest */
};

struct dp_backend {
	int ep;
	int lfd;
	int slfd;    /* secureClientPort, -1 if none */
	int wake_fd; /* the sequencer's, not ours to close */
	struct tls_ctx *tls_ctx;
	struct tls_link **tls; /* by fd; NULL: plain */
	int ntls;
	int *pend;   /* fds of TLS links with decrypted bytes waiting */
	int npend;
	int nout;    /* TLS links waiting to write their handshake */
	struct epoll_event evs[DP_POLL_MAX];
};

/* Open a listening socket on clientPortAddress:clientPort.  With
 * `reuseport` it joins this process's SO_REUSEPORT group (one listener
 * per worker); without, it only probes that no other process holds the
 * port — a REUSEPORT group of another paddockd would otherwise silently
 * share the port with us. */
static int listen_at(const char *addr, int portno, bool reuseport,
		     char *err, size_t err_len)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res;
	char port[16];
	snprintf(port, sizeof(port), "%d", portno);
	const char *host = addr[0] ? addr : NULL;
	int rc = getaddrinfo(host, port, &hints, &res);
	if (rc) {
		snprintf(err, err_len, "address %s: %s", host ? host : "*",
			 gai_strerror(rc));
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
			 host ? host : "*", portno, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

static int listen_on(const struct zcfg *cfg, bool reuseport, char *err,
		     size_t err_len)
{
	return listen_at(cfg->client_port_address, cfg->client_port,
			 reuseport, err, err_len);
}

static int tcp_check(const struct zcfg *cfg, char *err, size_t err_len)
{
	int probe = listen_on(cfg, false, err, err_len);
	if (probe < 0)
		return -1;
	close(probe);
	if (!cfg->secure_client_port)
		return 0;
	probe = listen_at(cfg->secure_client_addr, cfg->secure_client_port,
			  false, err, err_len);
	if (probe < 0)
		return -1;
	close(probe);
	/* the stores, once, so a bad one is one clear error */
	struct tls_ctx *t = tls_ctx_new(cfg, err, err_len);
	tls_ctx_free(t);
	return t ? 0 : -1;
}

static void tcp_destroy(struct dp_backend *b)
{
	if (!b)
		return;
	if (b->lfd >= 0)
		close(b->lfd);
	if (b->slfd >= 0)
		close(b->slfd);
	if (b->ep >= 0)
		close(b->ep);
	tls_ctx_free(b->tls_ctx);
	free(b->tls);
	free(b->pend);
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
	b->lfd = b->slfd = -1;
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
	if (cfg->secure_client_port) {
		b->tls_ctx = tls_ctx_new(cfg, err, err_len);
		if (!b->tls_ctx)
			goto fail;
		b->slfd = listen_at(cfg->secure_client_addr,
				    cfg->secure_client_port, true, err,
				    err_len);
		if (b->slfd < 0)
			goto fail;
		ev.data.u64 = TOK_SLISTEN;
		epoll_ctl(b->ep, EPOLL_CTL_ADD, b->slfd, &ev);
	}
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
	int k = 0;
	/* TLS links with decrypted bytes waiting: readable now */
	for (int i = 0; i < b->npend && k < n; i++) {
		struct tls_link *t = b->tls[b->pend[i]];
		t->pending = false;
		ev[k++] = (struct dp_event){t->token, DP_EV_IN};
	}
	b->npend = 0;
	int got = epoll_wait(b->ep, b->evs, n - k, k ? 0 : timeout_ms);
	for (int i = 0; i < got; i++) {
		uint64_t u = b->evs[i].data.u64;
		uint32_t e = b->evs[i].events;
		if (u == TOK_WAKE)
			continue; /* the caller polls the ring anyway */
		if (u == TOK_LISTEN || u == TOK_SLISTEN) {
			ev[k++] = (struct dp_event){0, DP_EV_ACCEPT};
			continue;
		}
		ev[k].token = u;
		ev[k].what = ((e & EPOLLIN) ? DP_EV_IN : 0) |
			     ((e & EPOLLOUT) ? DP_EV_OUT : 0) |
			     ((e & (EPOLLHUP | EPOLLERR)) ? DP_EV_HUP : 0);
		/* a TLS handshake waiting to write goes on in recv */
		if (b->nout && (e & EPOLLOUT))
			ev[k].what |= DP_EV_IN;
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
	if (b->slfd >= 0) {
		ev.data.u64 = TOK_SLISTEN;
		epoll_ctl(b->ep, EPOLL_CTL_MOD, b->slfd, &ev);
	}
}

/* A TLS link's state for fd, the table grown to hold it. */
static int tls_attach_fd(struct dp_backend *b, int fd, const char *peer)
{
	if (fd >= b->ntls) {
		int cap = fd < 1024 ? 1024 : 2 * fd;
		struct tls_link **v = realloc(b->tls, (size_t)cap * sizeof(*v));
		int *p = realloc(b->pend, (size_t)cap * sizeof(*p));
		if (v)
			b->tls = v;
		if (p)
			b->pend = p;
		if (!v || !p)
			return -ENOMEM;
		memset(v + b->ntls, 0, (size_t)(cap - b->ntls) * sizeof(*v));
		b->ntls = cap;
	}
	struct tls_link *t = calloc(1, sizeof(*t));
	if (t)
		t->c = tls_conn_new(b->tls_ctx, fd, peer);
	if (!t || !t->c) {
		free(t);
		return -ENOMEM;
	}
	b->tls[fd] = t;
	return 0;
}

static struct tls_link *tls_of(const struct dp_backend *b, int fd)
{
	return fd < b->ntls ? b->tls[fd] : NULL;
}

static int tcp_accept(struct dp_backend *b, struct dp_link *l,
		      struct dp_peer *peer)
{
	struct sockaddr_storage ss = {0}; /* analyzers: accept4 fills it */
	socklen_t sl = sizeof(ss);
	int fd;
	bool secure = false;
	do
		fd = accept4(b->lfd, (struct sockaddr *)&ss, &sl,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0 && errno == EWOULDBLOCK && b->slfd >= 0) {
		secure = true;
		sl = sizeof(ss);
		do
			fd = accept4(b->slfd, (struct sockaddr *)&ss, &sl,
				     SOCK_NONBLOCK | SOCK_CLOEXEC);
		while (fd < 0 && errno == EINTR);
	}
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
	if (secure) {
		int rc = tls_attach_fd(b, fd, peer->ip);
		if (rc) {
			close(fd);
			return rc;
		}
	}
	return 0;
}

static int tcp_attach(struct dp_backend *b, struct dp_link *l)
{
	int one = 1;
	setsockopt((int)l->h, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = l->token};
	struct tls_link *t = tls_of(b, (int)l->h);
	if (t) {
		t->token = l->token;
		t->rd = true;
	}
	if (epoll_ctl(b->ep, EPOLL_CTL_ADD, (int)l->h, &ev))
		return -errno;
	return 0;
}

static void tcp_interest(struct dp_backend *b, struct dp_link *l, bool rd,
			 bool wr)
{
	struct tls_link *t = tls_of(b, (int)l->h);
	if (t) {
		t->rd = rd;
		t->wr = wr;
		wr |= t->out;
	}
	struct epoll_event ev = {.events =
				     (rd ? EPOLLIN : 0) | (wr ? EPOLLOUT : 0),
				 .data.u64 = l->token};
	epoll_ctl(b->ep, EPOLL_CTL_MOD, (int)l->h, &ev);
}

static ssize_t tls_link_recv(struct dp_backend *b, struct dp_link *l,
			     struct tls_link *t, void *buf, size_t len)
{
	int fd = (int)l->h;
	ssize_t n = tls_recv(t->c, buf, len);
	bool out = n == -EAGAIN && tls_wants_out(t->c);
	if (out != t->out) { /* the handshake's write interest */
		t->out = out;
		b->nout += out ? 1 : -1;
		tcp_interest(b, l, t->rd, t->wr);
	}
	if (n > 0 && !t->pending && tls_pending(t->c)) {
		t->pending = true;
		b->pend[b->npend++] = fd;
	}
	return n;
}

static ssize_t tcp_recv(struct dp_backend *b, struct dp_link *l, void *buf,
			size_t len)
{
	struct tls_link *t = tls_of(b, (int)l->h);
	if (t)
		return tls_link_recv(b, l, t, buf, len);
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
	struct tls_link *t = tls_of(b, (int)l->h);
	if (t)
		return tls_send(t->c, iov, n);
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
	int fd = (int)l->h;
	struct tls_link *t = tls_of(b, fd);
	if (t) {
		if (t->pending) /* off the pending list */
			for (int i = 0; i < b->npend; i++)
				if (b->pend[i] == fd)
					b->pend[i--] = b->pend[--b->npend];
		if (t->out)
			b->nout--;
		tls_conn_free(t->c);
		free(t);
		b->tls[fd] = NULL;
	}
	close(fd);
	l->h = (uintptr_t)-1;
}

static size_t tcp_peer_id(struct dp_backend *b, struct dp_link *l,
			  char *buf, size_t len)
{
	struct tls_link *t = tls_of(b, (int)l->h);
	return t ? tls_peer_id(t->c, buf, len) : 0;
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
    .peer_id = tcp_peer_id,
};
