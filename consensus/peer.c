/*
 * peer.c — the peer network (contract: peer_int.h): Apache ZooKeeper
 * 3.8's QuorumCnxManager on the election port and the learner sockets of
 * the quorum port, as one non-blocking state machine per connection,
 * run by the caller's poll() loop.  Wire facts: PEER-PROTOCOL.md.
 *
 * Design:
 * - Every socket is a struct conn on one list.  A connection that dies is
 *   closed at once (its fd released, its member slot cleared) but its
 *   memory lives until the end of peer_poll, so that a callback may close
 *   the very connection whose bytes it is being handed.  A quorum link's
 *   end is recorded (down_pending) and reported from peer_poll before the
 *   next event it delivers, so the caller hears link_down from the top of
 *   its loop and in order, never from inside a peer_send.
 * - Election (QCM.startConnection / handleConnection): the dialling side
 *   writes the V2 initial message in one send() and keeps the connection
 *   only if its own sid is the larger; the accepting side keeps a
 *   connection from a larger sid (replacing an older one, vsw.finish())
 *   and answers one from a smaller sid by closing it and dialling back
 *   (connectOne).  Per member one vote waits (SEND_CAPACITY = 1) until the
 *   connection's output is empty; the last one handed to a socket is sent
 *   again when a new connection starts with nothing waiting
 *   (SendWorker.run).  WorkerReceiver's tolerance: a note that does not
 *   decode is dropped, the connection kept; a bad frame length closes it.
 * - Quorum: QuorumPackets have no length prefix; pw_qpkt_decode cuts
 *   them out of an input buffer bounded by PW_RX_MAX_ITEM.  An accepted
 *   connection must start with FOLLOWERINFO / OBSERVERINFO naming a
 *   member (LearnerHandler.run); after a SNAP on a link we dialled, the
 *   raw stream (snapshot and "BenWasHere", Learner.syncWithLeader) goes
 *   to ops->snap until it says the snapshot ended, and the leftover
 *   bytes are packets again.
 * - Output: one growable buffer per connection, written with sendmsg()
 *   (no SIGPIPE) when POLLOUT says so, whenever 64 KiB have gathered, and
 *   for everything queued during a peer_poll in one write at its end.
 *   Beyond max_queue unwritten bytes the connection is closed as too
 *   slow.  A leader's snapshot stream is a bulk run beside that buffer
 *   (peer_bulk_reserve, then peer_bulk_fill: the buffer is taken, not
 *   copied), written in its place in the byte order and not counted
 *   against max_queue: it is as large as the tree.
 * - Timers take the caller's clock (now_ms of peer_poll).  A dial started
 *   outside peer_poll is stamped at the next one.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "consensus/peer_int.h"

#define IN_START (64 * 1024)   /* first input buffer */
#define BATCH (64 * 1024)      /* queued bytes that are written at once */
#define OUT_KEEP (1024 * 1024) /* a drained buffer above this is freed */
#define READS_PER_POLL 8       /* per connection and peer_poll */
#define ACCEPTS_PER_POLL 16    /* per listener and peer_poll */
#define BACKOFF_MIN_MS 100     /* election re-dial while a vote waits */
#define BACKOFF_MAX_MS 1000
#define MAX_ANON ZAB_MAX_MEMBERS /* accepted, not yet identified */
#define HELLO_MAX (8 + 8 + 4 + PW_INITMSG_MAX_ADDR)
#define DEFAULT_MAX_QUEUE ((size_t)64 << 20)
#define DEFAULT_TIMEOUT_MS 5000

#define T_NONE INT64_MAX	  /* no deadline */
#define T_UNSTAMPED INT64_MIN	  /* now + timeout at the next peer_poll */
#define T_EXPIRED (INT64_MIN + 1) /* fails at the next peer_poll */

enum plane { PL_ELECTION = 0, PL_QUORUM = 1 };

enum cstate {
	CS_DIAL,  /* our connect() is under way */
	CS_HELLO, /* accepted, not identified yet (initial message /
		     LearnerInfo) */
	CS_EST,	  /* identified: sid, mi */
};

struct conn {
	struct conn *next;
	int fd; /* -1 once dead, or a dial that failed at once */
	enum plane plane;
	enum cstate state;
	bool dialed; /* we connected it */
	bool anon;   /* counted in peer.nanon */
	bool dead;
	bool down_pending; /* link_down owed to the caller */
	bool in_snap;	   /* the leader's snapshot stream is flowing */
	int mi;		   /* member index, -1 until identified */
	int64_t sid;
	int64_t deadline; /* dial / identification; T_NONE once up */
	uint8_t *in;
	size_t in_len, in_cap, in_max;
	struct jw out;
	size_t woff; /* out.p[0..woff) has been written */
	/* a bulk run (peer_bulk_fill): written after out.p[0..bulk_at) and
	 * before the rest of out; not counted against max_queue */
	struct jw bulk;
	size_t bulk_off; /* bulk.p[0..bulk_off) has been written */
	size_t bulk_at;
	/* the run's place is reserved (peer_bulk_reserve) and its bytes
	 * are still being made: nothing after bulk_at is written */
	bool bulk_wait;
	uint64_t serial; /* peer_bulk_reserve's ticket */
};

struct member {
	struct peer_member cfg;
	struct sockaddr_storage ea, qa; /* election, quorum */
	socklen_t ea_len, qa_len;
	struct conn *econn; /* the election connection, both ways */
	struct conn *edial; /* our election dial under way */
	struct conn *qlink; /* the quorum link (dialled or accepted) */
	bool has_pending, has_last;
	struct zab_vote pending, last;
	int64_t next_try; /* no election dial before (while votes wait) */
	int backoff_ms;
};

struct peer {
	int64_t sid;
	int self; /* index of sid in m[] */
	int n;
	struct member m[ZAB_MAX_MEMBERS];
	char *qv;
	int32_t qv_len;
	struct jw hello; /* our initial message, encoded once */
	size_t max_queue;
	int timeout_ms;
	struct peer_ops ops;
	void *arg;
	int lfd[2]; /* listeners, by enum plane */
	struct conn *conns;
	int nanon;
	int ndown; /* conns with down_pending */
	int64_t now;
	bool in_poll;
	uint64_t serials;		 /* conns made so far */
	int nslots;			 /* from the last peer_pollfds */
	struct conn *slot[PEER_MAX_FDS]; /* NULL: a listener */
};

/* ------------------------------------------------------------------ */
/* helpers                                                              */
/* ------------------------------------------------------------------ */

static int member_index(const struct peer *p, int64_t sid)
{
	for (int i = 0; i < p->n; i++)
		if (p->m[i].cfg.sid == sid)
			return i;
	return -1;
}

static void set_nodelay(int fd)
{
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int64_t stamp(const struct peer *p, int ms)
{
	return p->in_poll ? p->now + ms : T_UNSTAMPED;
}

/* Queued bytes that count against max_queue (not a bulk run). */
static size_t out_pending(const struct conn *c)
{
	return c->out.len - c->woff;
}

/* A bulk run is queued or reserved. */
static bool bulk_on(const struct conn *c)
{
	return c->bulk_wait || c->bulk_off < c->bulk.len;
}

/* Bytes that can be written now. */
static bool has_output(const struct conn *c)
{
	if (c->bulk_wait)
		return c->woff < c->bulk_at;
	return out_pending(c) || c->bulk_off < c->bulk.len;
}

/* Resolve host:port once; an IPv4 address is preferred (the one
 * "localhost" means to every process on the machine). */
static int resolve(const char *host, int port, struct sockaddr_storage *ss,
		   socklen_t *len)
{
	char ps[16];
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(ps, sizeof(ps), "%d", port);
	if (getaddrinfo(host, ps, &hints, &res) != 0 || !res)
		return -1;
	const struct addrinfo *pick = res;
	for (const struct addrinfo *a = res; a; a = a->ai_next)
		if (a->ai_family == AF_INET) {
			pick = a;
			break;
		}
	int rc = -1;
	if (pick->ai_addrlen <= sizeof(*ss)) {
		memcpy(ss, pick->ai_addr, pick->ai_addrlen);
		*len = (socklen_t)pick->ai_addrlen;
		rc = 0;
	}
	freeaddrinfo(res);
	return rc;
}

static int listen_on(const struct sockaddr_storage *ss, socklen_t len)
{
	int fd = socket(ss->ss_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (const struct sockaddr *)ss, len) < 0 ||
	    listen(fd, 64) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* ------------------------------------------------------------------ */
/* connection life                                                      */
/* ------------------------------------------------------------------ */

static struct conn *conn_new(struct peer *p, int fd, enum plane plane,
			     enum cstate state)
{
	struct conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->fd = fd;
	c->plane = plane;
	c->state = state;
	c->serial = ++p->serials;
	c->mi = -1;
	c->sid = -1;
	c->deadline = T_NONE;
	if (plane == PL_QUORUM) /* a LearnerInfo is 20 bytes */
		c->in_max = state == CS_HELLO ? IN_START : PW_RX_MAX_ITEM;
	else
		c->in_max =
		    state == CS_HELLO ? HELLO_MAX : 4 + PW_ELECTION_MAX_FRAME;
	c->next = p->conns;
	p->conns = c;
	return c;
}

static void anon_done(struct peer *p, struct conn *c)
{
	if (c->anon) {
		c->anon = false;
		p->nanon--;
	}
}

/* Close c now; its memory goes at the end of peer_poll.  notify: owe the
 * caller a link_down if c is a quorum link with a member. */
static void conn_kill(struct peer *p, struct conn *c, bool notify)
{
	if (c->dead)
		return;
	c->dead = true;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	anon_done(p, c);
	if (c->mi >= 0) {
		struct member *m = &p->m[c->mi];
		if (m->econn == c)
			m->econn = NULL;
		if (m->edial == c)
			m->edial = NULL;
		if (m->qlink == c)
			m->qlink = NULL;
	}
	if (notify && c->plane == PL_QUORUM && c->mi >= 0 &&
	    c->state != CS_HELLO) {
		c->down_pending = true;
		p->ndown++;
	}
}

static void conn_free(struct conn *c)
{
	free(c->in);
	jw_free(&c->out);
	jw_free(&c->bulk);
	free(c);
}

/* Report the link_downs owed, oldest events first (only from peer_poll). */
static void flush_downs(struct peer *p)
{
	while (p->ndown > 0) {
		int64_t sid = -1;
		for (struct conn *c = p->conns; c; c = c->next)
			if (c->down_pending) {
				c->down_pending = false;
				p->ndown--;
				sid = c->sid;
				break;
			}
		if (sid < 0)
			break; /* cannot happen: ndown counts them */
		if (p->ops.link_down)
			p->ops.link_down(p->arg, sid);
	}
}

/* The caller closes or replaces the link itself: nothing more to say. */
static void cancel_downs(struct peer *p, int64_t sid)
{
	for (struct conn *c = p->conns; c && p->ndown > 0; c = c->next)
		if (c->down_pending && c->sid == sid) {
			c->down_pending = false;
			p->ndown--;
		}
}

static void sweep(struct peer *p)
{
	struct conn **pp = &p->conns;
	while (*pp) {
		struct conn *c = *pp;
		if (c->dead && !c->down_pending) {
			*pp = c->next;
			conn_free(c);
		} else {
			pp = &c->next;
		}
	}
}

/* Start a non-blocking connect to member mi's election or quorum port.
 * A connect() that fails at once leaves fd -1 and an expired deadline:
 * the failure is handled by the next peer_poll like any other.  NULL on
 * ENOMEM. */
static struct conn *dial(struct peer *p, int mi, enum plane plane)
{
	const struct member *m = &p->m[mi];
	const struct sockaddr_storage *sa =
	    plane == PL_ELECTION ? &m->ea : &m->qa;
	socklen_t len = plane == PL_ELECTION ? m->ea_len : m->qa_len;
	struct conn *c = conn_new(p, -1, plane, CS_DIAL);
	if (!c)
		return NULL;
	c->dialed = true;
	c->mi = mi;
	c->sid = m->cfg.sid;
	c->deadline = stamp(p, p->timeout_ms);
	int fd = socket(sa->ss_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		c->deadline = T_EXPIRED;
		return c;
	}
	set_nodelay(fd);
	if (connect(fd, (const struct sockaddr *)sa, len) < 0 &&
	    errno != EINPROGRESS && errno != EINTR) {
		close(fd);
		c->deadline = T_EXPIRED;
		return c;
	}
	c->fd = fd;
	return c;
}

/* ------------------------------------------------------------------ */
/* output                                                               */
/* ------------------------------------------------------------------ */

/* The next bytes to write, in order: out up to the bulk run, the run,
 * the rest of out.  Returns the number of iovecs (0: nothing). */
static int out_iov(const struct conn *c, struct iovec iov[3])
{
	int n = 0;
	size_t from = c->woff;
	if (c->bulk_wait) {
		if (from < c->bulk_at)
			iov[n++] = (struct iovec){c->out.p + from,
						  c->bulk_at - from};
		return n;
	}
	if (c->bulk_off < c->bulk.len) {
		if (from < c->bulk_at)
			iov[n++] = (struct iovec){c->out.p + from,
						  c->bulk_at - from};
		iov[n++] = (struct iovec){c->bulk.p + c->bulk_off,
					  c->bulk.len - c->bulk_off};
		from = from > c->bulk_at ? from : c->bulk_at;
	}
	if (from < c->out.len)
		iov[n++] = (struct iovec){c->out.p + from, c->out.len - from};
	return n;
}

/* Account for k bytes written from out_iov's vectors. */
static void out_advance(struct conn *c, size_t k)
{
	if (c->bulk_off < c->bulk.len) {
		size_t a = c->bulk_at > c->woff ? c->bulk_at - c->woff : 0;
		a = a < k ? a : k;
		c->woff += a;
		k -= a;
		size_t b = c->bulk.len - c->bulk_off;
		b = b < k ? b : k;
		c->bulk_off += b;
		k -= b;
		if (c->bulk_off < c->bulk.len)
			return;
		jw_free(&c->bulk); /* the run is out */
		c->bulk_off = 0;
		c->woff = c->bulk_at;
	}
	c->woff += k;
}

static void conn_write(struct peer *p, struct conn *c)
{
	if (c->dead || c->state == CS_DIAL)
		return;
	struct iovec iov[3];
	int n;
	while ((n = out_iov(c, iov)) > 0) {
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
		ssize_t k = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k > 0) {
			out_advance(c, (size_t)k);
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		conn_kill(p, c, true);
		return;
	}
	bool bulk = bulk_on(c);
	if (c->woff == c->out.len && !bulk) {
		c->woff = c->out.len = 0;
		if (c->out.cap > OUT_KEEP)
			jw_free(&c->out);
	} else if (c->woff >= c->out.cap / 2) {
		/* out.p[0..woff) is written: reuse it (the bulk run's
		 * place moves with the bytes, woff <= bulk_at while the run
		 * is pending) */
		memmove(c->out.p, c->out.p + c->woff, c->out.len - c->woff);
		c->out.len -= c->woff;
		if (bulk)
			c->bulk_at -= c->woff;
		c->woff = 0;
	}
}

/* After appending to c->out: write a full batch, close c if its queue
 * is over the limit (after trying to write it). */
static int conn_queued(struct peer *p, struct conn *c)
{
	if (c->out.err) {
		conn_kill(p, c, true);
		return ZCONNECTIONLOSS;
	}
	/* while a reserved run is made, the packets behind it wait: the
	 * walk's time at the write rate, allowed up to 4 x max_queue */
	size_t max = c->bulk_wait ? 4 * p->max_queue : p->max_queue;
	if (out_pending(c) >= BATCH || out_pending(c) > max)
		conn_write(p, c);
	if (!c->dead && out_pending(c) > max)
		conn_kill(p, c, true);
	return c->dead ? ZCONNECTIONLOSS : ZOK;
}

/* Hand the waiting vote to the election connection once its output is
 * empty (a newer vote replaces a waiting one meanwhile). */
static void e_pump(struct peer *p, struct member *m)
{
	struct conn *c = m->econn;
	while (c && !c->dead && c->state == CS_EST && m->has_pending &&
	       out_pending(c) == 0) {
		struct pw_note nt = {
		    .state = m->pending.state,
		    .leader = m->pending.leader,
		    .zxid = m->pending.zxid,
		    .election_epoch = m->pending.election_epoch,
		    .peer_epoch = m->pending.peer_epoch,
		    .version = PW_NOTIFICATION_VERSION,
		    .config = p->qv,
		    .config_len = p->qv_len,
		};
		if (pw_note_encode(&c->out, &nt) != ZOK) {
			conn_kill(p, c, false);
			return;
		}
		m->last = m->pending;
		m->has_last = true;
		m->has_pending = false;
		conn_write(p, c);
	}
}

/* ------------------------------------------------------------------ */
/* election                                                             */
/* ------------------------------------------------------------------ */

static void e_backoff(struct peer *p, struct member *m)
{
	m->next_try = p->now + m->backoff_ms;
	m->backoff_ms *= 2;
	if (m->backoff_ms > BACKOFF_MAX_MS)
		m->backoff_ms = BACKOFF_MAX_MS;
}

/* QCM.connectOne: nothing if a connection exists or is being made. */
static void e_dial(struct peer *p, int mi)
{
	struct member *m = &p->m[mi];
	if (m->econn || m->edial)
		return;
	m->edial = dial(p, mi, PL_ELECTION);
	if (!m->edial)
		e_backoff(p, m);
}

/* c (accepted from a larger sid, or dialled to a smaller one) is the
 * member's election connection from now on. */
static void e_establish(struct peer *p, struct member *m, struct conn *c)
{
	if (m->econn && m->econn != c)
		conn_kill(p, m->econn, false);
	if (m->edial && m->edial != c)
		conn_kill(p, m->edial, false); /* it would only say hello */
	m->edial = NULL;
	m->econn = c;
	c->state = CS_EST;
	c->deadline = T_NONE;
	c->in_max = 4 + PW_ELECTION_MAX_FRAME;
	m->backoff_ms = BACKOFF_MIN_MS;
	m->next_try = p->now;
	if (!m->has_pending && m->has_last) { /* SendWorker.run */
		m->pending = m->last;
		m->has_pending = true;
	}
	e_pump(p, m);
}

/* Our election dial connected: the initial message in one write, then
 * keep it if our sid is the larger (QCM.startConnection). */
static void e_dial_done(struct peer *p, struct conn *c)
{
	struct member *m = &p->m[c->mi];
	ssize_t k;
	do
		k = send(c->fd, p->hello.p, p->hello.len,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
	while (k < 0 && errno == EINTR);
	if (k != (ssize_t)p->hello.len || m->cfg.sid > p->sid) {
		/* a larger sid dials back; until it does, the vote waits */
		conn_kill(p, c, false);
		e_backoff(p, m);
		return;
	}
	e_establish(p, m, c);
}

/* One item from an election connection: bytes used, or -1 to stop
 * (more bytes needed, or c closed). */
static long e_input(struct peer *p, struct conn *c, const uint8_t *b, size_t n)
{
	if (c->state == CS_HELLO) {
		struct pw_initmsg im;
		long k = pw_initmsg_decode(b, n, &im);
		if (k == 0)
			return -1;
		int mi = k > 0 ? member_index(p, im.sid) : -1;
		if (mi < 0 || mi == p->self) {
			conn_kill(p, c, false);
			return -1;
		}
		anon_done(p, c);
		if (im.sid < p->sid) { /* QCM.handleConnection */
			conn_kill(p, c, false);
			e_dial(p, mi);
			return -1;
		}
		c->mi = mi;
		c->sid = im.sid;
		e_establish(p, &p->m[mi], c);
		return k;
	}
	const uint8_t *pl;
	int32_t len;
	long k = pw_eframe_decode(b, n, &pl, &len);
	if (k == 0)
		return -1;
	if (k < 0) {
		conn_kill(p, c, false);
		return -1;
	}
	struct pw_note nt;
	if (pw_note_decode(pl, len, &nt) != ZOK)
		return k; /* WorkerReceiver drops it, keeps the connection */
	if (!p->m[c->mi].cfg.observer && !pw_note_state_valid(nt.state))
		return k;
	struct zab_vote v = {
	    .leader = nt.leader,
	    .zxid = nt.zxid,
	    .election_epoch = nt.election_epoch,
	    .peer_epoch = nt.peer_epoch,
	    .state = nt.state,
	};
	flush_downs(p);
	if (p->ops.vote)
		p->ops.vote(p->arg, c->sid, &v);
	return k;
}

/* ------------------------------------------------------------------ */
/* quorum                                                               */
/* ------------------------------------------------------------------ */

static void q_dial_done(struct peer *p, struct conn *c)
{
	c->state = CS_EST;
	c->deadline = T_NONE;
	flush_downs(p);
	if (p->ops.link_up)
		p->ops.link_up(p->arg, c->sid);
	conn_write(p, c); /* what was queued while dialling */
}

static long q_snap_input(struct peer *p, struct conn *c, const uint8_t *b,
			 size_t n)
{
	size_t used = 0;
	flush_downs(p);
	int r = p->ops.snap(p->arg, c->sid, b, n, &used);
	if (c->dead)
		return -1;
	if (r < 0 || (r > 0 && used > n)) {
		conn_kill(p, c, true);
		return -1;
	}
	if (r == 0)
		return (long)n;
	c->in_snap = false;
	return (long)used;
}

static long q_input(struct peer *p, struct conn *c, const uint8_t *b, size_t n)
{
	struct qpkt pkt;
	long k = pw_qpkt_decode(b, n, &pkt);
	if (k == 0)
		return -1;
	if (k < 0) {
		conn_kill(p, c, true);
		return -1;
	}
	if (c->state == CS_HELLO) { /* LearnerHandler.run */
		struct pw_learnerinfo li;
		int mi = -1;
		if (pkt.type == PW_FOLLOWERINFO ||
		    pkt.type == PW_OBSERVERINFO) {
			pw_learnerinfo_decode(pkt.data, pkt.len, &li);
			if (li.has_sid)
				mi = member_index(p, li.sid);
		}
		if (mi < 0 || mi == p->self) {
			conn_kill(p, c, false);
			return -1;
		}
		anon_done(p, c);
		struct member *m = &p->m[mi];
		c->mi = mi;
		c->sid = m->cfg.sid;
		c->state = CS_EST;
		c->deadline = T_NONE;
		c->in_max = PW_RX_MAX_ITEM;
		if (m->qlink)
			conn_kill(p, m->qlink, true);
		m->qlink = c;
	}
	flush_downs(p);
	if (p->ops.packet)
		p->ops.packet(p->arg, c->sid, &pkt);
	if (!c->dead && c->dialed && pkt.type == PW_SNAP && p->ops.snap)
		c->in_snap = true;
	return k;
}

/* ------------------------------------------------------------------ */
/* input                                                                */
/* ------------------------------------------------------------------ */

static void conn_input(struct peer *p, struct conn *c)
{
	size_t off = 0;
	while (!c->dead && off < c->in_len) {
		const uint8_t *b = c->in + off;
		size_t n = c->in_len - off;
		long k;
		if (c->plane == PL_ELECTION)
			k = e_input(p, c, b, n);
		else if (c->in_snap)
			k = q_snap_input(p, c, b, n);
		else
			k = q_input(p, c, b, n);
		if (k < 0)
			break;
		off += (size_t)k;
	}
	if (c->dead || off == 0)
		return;
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
}

static bool in_grow(struct conn *c)
{
	if (c->in_cap >= c->in_max)
		return false;
	size_t cap = c->in_cap ? c->in_cap * 2 : IN_START;
	if (cap > c->in_max)
		cap = c->in_max;
	uint8_t *q = realloc(c->in, cap);
	if (!q)
		return false;
	c->in = q;
	c->in_cap = cap;
	return true;
}

static void conn_read(struct peer *p, struct conn *c)
{
	for (int r = 0; r < READS_PER_POLL && !c->dead; r++) {
		/* a full buffer at its bound holds no whole item: garbage */
		if (c->in_len == c->in_cap && !in_grow(c)) {
			conn_kill(p, c, true);
			return;
		}
		size_t room = c->in_cap - c->in_len;
		ssize_t k = recv(c->fd, c->in + c->in_len, room, MSG_DONTWAIT);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (k <= 0) { /* EOF or reset */
			conn_kill(p, c, true);
			return;
		}
		c->in_len += (size_t)k;
		conn_input(p, c);
		if ((size_t)k < room)
			return; /* the socket is drained */
	}
}

static void do_accept(struct peer *p, enum plane plane)
{
	for (int i = 0; i < ACCEPTS_PER_POLL; i++) {
		int fd = accept4(p->lfd[plane], NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;
		}
		if (p->nanon >= MAX_ANON) {
			close(fd);
			continue;
		}
		set_nodelay(fd);
		struct conn *c = conn_new(p, fd, plane, CS_HELLO);
		if (!c) {
			close(fd);
			continue;
		}
		c->anon = true;
		p->nanon++;
		c->deadline = p->now + p->timeout_ms;
	}
}

static void dial_failed(struct peer *p, struct conn *c)
{
	if (c->plane == PL_ELECTION) {
		struct member *m = &p->m[c->mi];
		conn_kill(p, c, false);
		e_backoff(p, m);
	} else {
		conn_kill(p, c, true);
	}
}

static void dial_check(struct peer *p, struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == EINPROGRESS || err == EALREADY)
		return;
	if (err) {
		dial_failed(p, c);
		return;
	}
	if (c->plane == PL_ELECTION)
		e_dial_done(p, c);
	else
		q_dial_done(p, c);
}

/* ------------------------------------------------------------------ */
/* API                                                                  */
/* ------------------------------------------------------------------ */

static bool port_ok(int port)
{
	return port > 0 && port <= 65535;
}

struct peer *peer_create(const struct peer_config *cfg,
			 const struct peer_ops *ops, void *arg)
{
	if (!cfg || !ops || cfg->n < 1 || cfg->n > ZAB_MAX_MEMBERS) {
		errno = EINVAL;
		return NULL;
	}
	struct peer *p = calloc(1, sizeof(*p));
	if (!p) {
		errno = ENOMEM;
		return NULL;
	}
	int e = EINVAL;
	p->lfd[0] = p->lfd[1] = -1;
	p->sid = cfg->sid;
	p->n = cfg->n;
	p->self = -1;
	p->ops = *ops;
	p->arg = arg;
	p->max_queue = cfg->max_queue ? cfg->max_queue : DEFAULT_MAX_QUEUE;
	p->timeout_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms
						    : DEFAULT_TIMEOUT_MS;
	for (int i = 0; i < cfg->n; i++) {
		struct member *m = &p->m[i];
		m->cfg = cfg->m[i];
		m->cfg.host[sizeof(m->cfg.host) - 1] = '\0';
		m->backoff_ms = BACKOFF_MIN_MS;
		if (m->cfg.sid < 0 || m->cfg.sid == PW_OBSERVER_ID ||
		    !port_ok(m->cfg.quorum_port) ||
		    !port_ok(m->cfg.election_port) ||
		    member_index(p, m->cfg.sid) < i)
			goto err;
		if (m->cfg.sid == cfg->sid)
			p->self = i;
		if (resolve(m->cfg.host, m->cfg.election_port, &m->ea,
			    &m->ea_len) ||
		    resolve(m->cfg.host, m->cfg.quorum_port, &m->qa,
			    &m->qa_len)) {
			e = EADDRNOTAVAIL;
			goto err;
		}
	}
	if (p->self < 0)
		goto err;
	const char *qv = cfg->qv ? cfg->qv : "";
	size_t qlen = strlen(qv);
	if (qlen > PW_ELECTION_MAX_FRAME - PW_NOTIFICATION_HDR)
		goto err;
	p->qv = strdup(qv);
	p->qv_len = (int32_t)qlen;
	/* NetUtils.formatInetAddr: an IPv6 literal in brackets */
	const struct peer_member *me = &p->m[p->self].cfg;
	char addr[sizeof(me->host) + 16];
	bool v6 = strchr(me->host, ':') && me->host[0] != '[';
	snprintf(addr, sizeof(addr), v6 ? "[%s]:%d" : "%s:%d", me->host,
		 me->election_port);
	e = ENOMEM;
	if (!p->qv ||
	    pw_initmsg_encode(&p->hello, PW_ELECTION_V2, p->sid, addr))
		goto err;
	const struct member *ms = &p->m[p->self];
	p->lfd[PL_ELECTION] = listen_on(&ms->ea, ms->ea_len);
	if (p->lfd[PL_ELECTION] < 0)
		goto err_errno;
	p->lfd[PL_QUORUM] = listen_on(&ms->qa, ms->qa_len);
	if (p->lfd[PL_QUORUM] < 0)
		goto err_errno;
	return p;
err_errno:
	e = errno;
err:
	peer_destroy(p);
	errno = e;
	return NULL;
}

void peer_destroy(struct peer *p)
{
	if (!p)
		return;
	while (p->conns) {
		struct conn *c = p->conns;
		p->conns = c->next;
		if (c->fd >= 0)
			close(c->fd);
		conn_free(c);
	}
	for (int i = 0; i < 2; i++)
		if (p->lfd[i] >= 0)
			close(p->lfd[i]);
	jw_free(&p->hello);
	free(p->qv);
	free(p);
}

int peer_pollfds(struct peer *p, struct pollfd *fds, int max)
{
	int k = 0;
	for (int i = 0; i < 2 && k < max && k < PEER_MAX_FDS; i++) {
		fds[k].fd = p->lfd[i];
		fds[k].events = POLLIN;
		fds[k].revents = 0;
		p->slot[k++] = NULL;
	}
	for (struct conn *c = p->conns; c && k < max && k < PEER_MAX_FDS;
	     c = c->next) {
		if (c->dead || c->fd < 0)
			continue;
		fds[k].fd = c->fd;
		if (c->state == CS_DIAL)
			fds[k].events = POLLOUT;
		else
			fds[k].events =
			    (short)(POLLIN | (has_output(c) ? POLLOUT : 0));
		fds[k].revents = 0;
		p->slot[k++] = c;
	}
	p->nslots = k;
	return k;
}

static void poll_fds(struct peer *p, const struct pollfd *fds, int nfds)
{
	int ns = nfds < p->nslots ? nfds : p->nslots;
	for (int i = 0; i < ns; i++) {
		short re = fds[i].revents;
		if (!re)
			continue;
		struct conn *c = p->slot[i];
		if (!c) {
			if (fds[i].fd == p->lfd[PL_ELECTION])
				do_accept(p, PL_ELECTION);
			else if (fds[i].fd == p->lfd[PL_QUORUM])
				do_accept(p, PL_QUORUM);
			continue;
		}
		if (c->dead || c->fd != fds[i].fd)
			continue;
		if (c->state == CS_DIAL) {
			if (re & (POLLOUT | POLLERR | POLLHUP))
				dial_check(p, c);
			continue;
		}
		if (re & (POLLIN | POLLERR | POLLHUP))
			conn_read(p, c);
		if (!c->dead && (re & POLLOUT)) {
			conn_write(p, c);
			if (c->plane == PL_ELECTION && c->mi >= 0)
				e_pump(p, &p->m[c->mi]);
		}
	}
	p->nslots = 0;
}

void peer_poll(struct peer *p, const struct pollfd *fds, int nfds,
	       int64_t now_ms)
{
	p->now = now_ms;
	p->in_poll = true;
	for (struct conn *c = p->conns; c; c = c->next)
		if (c->deadline == T_UNSTAMPED)
			c->deadline = now_ms + p->timeout_ms;
	flush_downs(p);

	if (!fds) {
		struct pollfd own[PEER_MAX_FDS];
		int n = peer_pollfds(p, own, PEER_MAX_FDS);
		if (poll(own, (nfds_t)n, 0) > 0)
			poll_fds(p, own, n);
		p->nslots = 0;
	} else {
		poll_fds(p, fds, nfds);
	}

	/* timers: dials and identifications that took too long */
	for (struct conn *c = p->conns; c; c = c->next) {
		if (c->dead || c->deadline > now_ms)
			continue;
		if (c->state == CS_DIAL)
			dial_failed(p, c);
		else if (c->state == CS_HELLO)
			conn_kill(p, c, false);
	}
	/* votes waiting for a connection */
	for (int i = 0; i < p->n; i++) {
		struct member *m = &p->m[i];
		if (m->has_pending && !m->econn && !m->edial &&
		    m->next_try <= now_ms)
			e_dial(p, i);
	}
	flush_downs(p);
	/* everything the callbacks queued, one write per connection */
	for (struct conn *c = p->conns; c; c = c->next) {
		if (c->dead || c->state == CS_DIAL)
			continue;
		conn_write(p, c);
		if (c->plane == PL_ELECTION && c->mi >= 0)
			e_pump(p, &p->m[c->mi]);
	}
	flush_downs(p);
	sweep(p);
	p->in_poll = false;
}

int64_t peer_deadline(const struct peer *p)
{
	if (p->ndown > 0)
		return 0;
	int64_t d = T_NONE;
	for (const struct conn *c = p->conns; c; c = c->next) {
		if (c->dead)
			continue;
		if (c->deadline == T_UNSTAMPED || c->deadline == T_EXPIRED)
			return 0;
		if (c->deadline < d)
			d = c->deadline;
	}
	for (int i = 0; i < p->n; i++) {
		const struct member *m = &p->m[i];
		if (m->has_pending && !m->econn && !m->edial && m->next_try < d)
			d = m->next_try;
	}
	return d;
}

void peer_vote_send(struct peer *p, int64_t to, const struct zab_vote *v)
{
	int mi = member_index(p, to);
	if (mi < 0 || mi == p->self)
		return;
	struct member *m = &p->m[mi];
	m->pending = *v;
	m->has_pending = true;
	if (m->econn)
		e_pump(p, m);
	else if (!m->edial && m->next_try <= p->now)
		e_dial(p, mi);
}

int peer_connect(struct peer *p, int64_t leader)
{
	int mi = member_index(p, leader);
	if (mi < 0 || mi == p->self)
		return ZBADARGUMENTS;
	struct member *m = &p->m[mi];
	cancel_downs(p, leader);
	if (m->qlink)
		conn_kill(p, m->qlink, false);
	m->qlink = dial(p, mi, PL_QUORUM);
	return m->qlink ? ZOK : ZSYSTEMERROR;
}

static struct conn *qlink_of(const struct peer *p, int64_t sid)
{
	int mi = member_index(p, sid);
	if (mi < 0)
		return NULL;
	struct conn *c = p->m[mi].qlink;
	return c && !c->dead ? c : NULL;
}

int peer_send(struct peer *p, int64_t to, const struct qpkt *pkt)
{
	struct conn *c = qlink_of(p, to);
	if (!c)
		return ZCONNECTIONLOSS;
	if (pkt->len > PW_JUTE_MAXBUFFER)
		return ZBADARGUMENTS;
	int rc = pw_qpkt_encode(&c->out, pkt);
	if (rc == ZBADARGUMENTS)
		return rc;
	return conn_queued(p, c);
}

int peer_bulk_reserve(struct peer *p, int64_t to, uint64_t *ticket)
{
	struct conn *c = qlink_of(p, to);
	if (!c)
		return ZCONNECTIONLOSS;
	if (bulk_on(c)) {
		/* one run at a time on a link (one SNAP per sync) */
		conn_kill(p, c, true);
		return ZCONNECTIONLOSS;
	}
	/* no run on: out_advance freed the last one (bulk_off = 0) */
	c->bulk_at = c->out.len;
	c->bulk_wait = true;
	*ticket = c->serial;
	return ZOK;
}

int peer_bulk_fill(struct peer *p, int64_t to, uint64_t ticket,
		   struct jw *b)
{
	struct jw run = *b;
	memset(b, 0, sizeof(*b));
	struct conn *c = qlink_of(p, to);
	if (!c || c->serial != ticket || !c->bulk_wait) {
		jw_free(&run);
		return ZCONNECTIONLOSS;
	}
	c->bulk_wait = false;
	if (run.err || !run.len) {
		jw_free(&run);
		conn_kill(p, c, true);
		return run.err ? ZBADARGUMENTS : ZCONNECTIONLOSS;
	}
	c->bulk = run;
	c->bulk_off = 0;
	conn_write(p, c);
	return c->dead ? ZCONNECTIONLOSS : ZOK;
}

size_t peer_queued(const struct peer *p, int64_t to)
{
	const struct conn *c = qlink_of(p, to);
	return c ? out_pending(c) + (c->bulk.len - c->bulk_off) : 0;
}

void peer_flush(struct peer *p)
{
	for (struct conn *c = p->conns; c; c = c->next) {
		if (c->dead || c->state == CS_DIAL || !has_output(c))
			continue;
		conn_write(p, c);
		if (c->plane == PL_ELECTION && c->mi >= 0)
			e_pump(p, &p->m[c->mi]);
	}
}

void peer_close(struct peer *p, int64_t peer)
{
	int mi = member_index(p, peer);
	if (mi < 0)
		return;
	cancel_downs(p, peer);
	if (p->m[mi].qlink)
		conn_kill(p, p->m[mi].qlink, false);
}
