/*
 * test_peer.c — the peer network (consensus/peer.c) on loopback: three
 * struct peer in this process, one poll loop driving them all, plus raw
 * sockets playing a fourth member ("ghost", sid 4, whose ports nobody
 * listens on) that sends garbage, never reads, or connects twice.
 *
 * What QuorumCnxManager does that is checked here: only the connection
 * from the larger sid survives, whoever dials first; one queued vote per
 * member; the last vote is sent again on a new connection.  On the quorum
 * port: FOLLOWERINFO identifies a learner; packets flow in order both
 * ways; after SNAP the raw stream (read here by zk_snap_reader, as the
 * sequencer will) and then packets again.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "consensus/peer_int.h"
#include "consensus/zkfmt_int.h"

#define NS 5	/* sids 1..4 index their own slots */
#define NREAL 3 /* peers 1..3 run; 4 is the ghost */
#define GHOST 4
#define VLOG 16

struct prec {
	int64_t from;
	int32_t type;
	int64_t zxid;
	int32_t len;
	uint32_t sum;
};

struct node {
	int64_t sid;
	struct peer *p;
	int votes[NS];
	struct zab_vote vlog[NS][VLOG];
	int ups[NS], downs[NS];
	struct prec *pk;
	size_t npk, pkcap;
	/* snapshot stream */
	struct zk_snap_reader *snap;
	int snap_nodes, snap_sessions, snaps_done;
	int64_t snap_data;
};

struct fix {
	struct node nd[NS];
	struct peer_config cfg;
	char qv[1024];
	int qport[NS], eport[NS];
	/* this sid is driven by peer_poll(p, NULL, ...): it polls itself */
	int64_t self_polled;
	/* this sid writes what it queued outside peer_poll before poll() */
	int64_t flushes;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t fnv(const uint8_t *p, int32_t n)
{
	uint32_t h = 2166136261u;
	for (int32_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* ------------------------------------------------------------------ */
/* callbacks                                                            */
/* ------------------------------------------------------------------ */

static void cb_vote(void *arg, int64_t from, const struct zab_vote *v)
{
	struct node *n = arg;
	assert_true(from >= 1 && from < NS && from != n->sid);
	if (n->votes[from] < VLOG)
		n->vlog[from][n->votes[from]] = *v;
	n->votes[from]++;
}

static void cb_up(void *arg, int64_t peer)
{
	struct node *n = arg;
	assert_true(peer >= 1 && peer < NS);
	n->ups[peer]++;
}

static void cb_down(void *arg, int64_t peer)
{
	struct node *n = arg;
	assert_true(peer >= 1 && peer < NS);
	n->downs[peer]++;
}

static void cb_packet(void *arg, int64_t from, const struct qpkt *q)
{
	struct node *n = arg;
	if (n->npk == n->pkcap) {
		n->pkcap = n->pkcap ? 2 * n->pkcap : 1024;
		n->pk = realloc(n->pk, n->pkcap * sizeof(*n->pk));
		assert_non_null(n->pk);
	}
	n->pk[n->npk++] = (struct prec){from, q->type, q->zxid, q->len,
					q->len > 0 ? fnv(q->data, q->len) : 0};
}

static int sn_session(void *arg, int64_t id, int32_t timeout)
{
	struct node *n = arg;
	n->snap_sessions++;
	return 0;
}

static int sn_node(void *arg, const struct zk_snap_node *sn)
{
	struct node *n = arg;
	n->snap_nodes++;
	n->snap_data += sn->data.len > 0 ? sn->data.len : 0;
	return 0;
}

static const struct zk_snap_ops snap_ops = {.session = sn_session,
					    .node = sn_node};

static int cb_snap(void *arg, int64_t from, const uint8_t *p, size_t len,
		   size_t *used)
{
	struct node *n = arg;
	if (!n->snap)
		n->snap = zk_snap_reader_new(ZK_SNAP_STREAM, &snap_ops, n);
	assert_non_null(n->snap);
	int rc = zk_snap_feed(n->snap, p, len, used);
	if (rc != 0) {
		zk_snap_reader_free(n->snap);
		n->snap = NULL;
		if (rc == 1)
			n->snaps_done++;
	}
	return rc;
}

static const struct peer_ops ops = {
    .vote = cb_vote,
    .link_up = cb_up,
    .link_down = cb_down,
    .packet = cb_packet,
    .snap = cb_snap,
};

/* ------------------------------------------------------------------ */
/* fixture                                                              */
/* ------------------------------------------------------------------ */

/* 2 * (NS - 1) ports nobody uses now: bound to port 0 together, so all
 * differ, then released for the peers' listeners. */
static void free_ports(struct fix *f)
{
	int fds[2 * NS];
	int k = 0;
	for (int s = 1; s < NS; s++)
		for (int j = 0; j < 2; j++) {
			struct sockaddr_in a = {.sin_family = AF_INET};
			socklen_t len = sizeof(a);
			a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			int fd = socket(AF_INET, SOCK_STREAM, 0);
			assert_true(fd >= 0);
			assert_int_equal(
			    bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
			assert_int_equal(
			    getsockname(fd, (struct sockaddr *)&a, &len), 0);
			fds[k++] = fd;
			if (j == 0)
				f->qport[s] = ntohs(a.sin_port);
			else
				f->eport[s] = ntohs(a.sin_port);
		}
	for (int i = 0; i < k; i++)
		close(fds[i]);
}

static void node_start(struct fix *f, int64_t sid)
{
	struct node *n = &f->nd[sid];
	f->cfg.sid = sid;
	n->sid = sid;
	n->p = peer_create(&f->cfg, &ops, n);
	assert_non_null(n->p);
}

static void node_stop(struct fix *f, int64_t sid)
{
	struct node *n = &f->nd[sid];
	peer_destroy(n->p);
	n->p = NULL;
	if (n->snap)
		zk_snap_reader_free(n->snap);
	n->snap = NULL;
}

/* Stop sid and forget what it saw (a restart). */
static void node_reset(struct fix *f, int64_t sid)
{
	node_stop(f, sid);
	free(f->nd[sid].pk);
	memset(&f->nd[sid], 0, sizeof(f->nd[sid]));
}

static void fix_init(struct fix *f, size_t max_queue)
{
	memset(f, 0, sizeof(*f));
	free_ports(f);
	f->cfg.n = NS - 1;
	f->cfg.max_queue = max_queue;
	f->cfg.connect_timeout_ms = 500;
	size_t off = 0;
	for (int s = 1; s < NS; s++) {
		struct peer_member *m = &f->cfg.m[s - 1];
		m->sid = s;
		/* one member by name, to cover resolution */
		snprintf(m->host, sizeof(m->host), "%s",
			 s == 3 ? "localhost" : "127.0.0.1");
		m->quorum_port = f->qport[s];
		m->election_port = f->eport[s];
		off +=
		    (size_t)snprintf(f->qv + off, sizeof(f->qv) - off,
				     "server.%d=127.0.0.1:%d:%d:participant\n",
				     s, f->qport[s], f->eport[s]);
	}
	snprintf(f->qv + off, sizeof(f->qv) - off, "version=0");
	f->cfg.qv = f->qv;
	for (int s = 1; s <= NREAL; s++)
		node_start(f, s);
}

static void fix_fini(struct fix *f)
{
	for (int s = 1; s < NS; s++) {
		if (f->nd[s].p)
			node_stop(f, s);
		free(f->nd[s].pk);
	}
}

/* One round of the loop every peer shares: poll all, then peer_poll each
 * with its own slice of the array. */
static void pump_once(struct fix *f, int max_ms)
{
	struct pollfd fds[NS * PEER_MAX_FDS];
	int off[NS] = {0}, cnt[NS] = {0}, k = 0;
	int64_t now = now_ms(), dl = now + max_ms;
	for (int s = 1; s < NS; s++) {
		if (!f->nd[s].p)
			continue;
		if (s == f->flushes)
			peer_flush(f->nd[s].p);
		off[s] = k;
		cnt[s] = peer_pollfds(f->nd[s].p, fds + k, PEER_MAX_FDS);
		k += cnt[s];
		int64_t d = peer_deadline(f->nd[s].p);
		if (d < dl)
			dl = d;
	}
	int to = dl <= now ? 0 : (int)(dl - now);
	(void)poll(fds, (nfds_t)k, to);
	now = now_ms();
	for (int s = 1; s < NS; s++) {
		if (!f->nd[s].p)
			continue;
		if (s == f->self_polled)
			peer_poll(f->nd[s].p, NULL, 0, now);
		else
			peer_poll(f->nd[s].p, fds + off[s], cnt[s], now);
	}
}

static void pump_for(struct fix *f, int ms)
{
	int64_t end = now_ms() + ms;
	while (now_ms() < end)
		pump_once(f, 10);
}

/* Run the loop until cond holds (at most ms), then check it (cond is
 * evaluated once per round: it may consume what it looks at). */
#define PUMP_UNTIL(f, cond, ms)                                                \
	do {                                                                   \
		int64_t end_ = now_ms() + (ms);                                \
		bool ok_;                                                      \
		while (!(ok_ = (cond)) && now_ms() < end_)                     \
			pump_once((f), 10);                                    \
		_assert_true(ok_, #cond, __FILE__, __LINE__);                  \
	} while (0)

static struct zab_vote vote(int64_t leader, int64_t epoch)
{
	struct zab_vote v = {.leader = leader,
			     .zxid = 0x100000000LL + leader,
			     .election_epoch = epoch,
			     .peer_epoch = 1,
			     .state = ZS_LOOKING};
	return v;
}

/* Sockets the peer polls besides its two listeners. */
static int conns_of(struct fix *f, int64_t sid)
{
	struct pollfd fds[PEER_MAX_FDS];
	return peer_pollfds(f->nd[sid].p, fds, PEER_MAX_FDS) - 2;
}

/* ESTABLISHED loopback TCP connections whose far end is one of the real
 * peers' election ports (each connection counted once: at its dialler). */
static int election_links(const struct fix *f)
{
	FILE *fp = fopen("/proc/net/tcp", "r");
	char line[512];
	int n = 0;
	if (!fp)
		return -1;
	if (!fgets(line, sizeof(line), fp)) {
		fclose(fp);
		return -1;
	}
	while (fgets(line, sizeof(line), fp)) {
		unsigned la, lp, ra, rp, st;
		if (sscanf(line, " %*d: %x:%x %x:%x %x", &la, &lp, &ra, &rp,
			   &st) != 5)
			continue;
		for (int s = 1; s <= NREAL; s++)
			if (st == 1 && (int)rp == f->eport[s])
				n++;
	}
	fclose(fp);
	return n;
}

static void put_info(struct jw *w, int32_t type, int64_t sid)
{
	struct jw li = {0};
	assert_int_equal(pw_learnerinfo_encode(&li, sid, PW_ZAB_VERSION, 0), 0);
	struct qpkt q = pw_qpkt(type, 0);
	q.data = li.p;
	q.len = (int32_t)li.len;
	assert_int_equal(pw_qpkt_encode(w, &q), 0);
	jw_free(&li);
}

/* A learner's FOLLOWERINFO through the peer API. */
static void send_info(struct fix *f, int64_t from, int64_t to)
{
	struct jw w = {0};
	put_info(&w, PW_FOLLOWERINFO, from);
	struct qpkt q;
	assert_true(pw_qpkt_decode(w.p, w.len, &q) > 0);
	assert_int_equal(peer_send(f->nd[from].p, to, &q), 0);
	jw_free(&w);
}

/* Packets from `from` with type t seen at node n. */
static int count_pk(const struct node *n, int64_t from, int32_t t)
{
	int c = 0;
	for (size_t i = 0; i < n->npk; i++)
		c += n->pk[i].from == from && n->pk[i].type == t;
	return c;
}

/* learner dials leader, says FOLLOWERINFO; both sides see it */
static void join(struct fix *f, int64_t learner, int64_t leader)
{
	int ups = f->nd[learner].ups[leader];
	int infos = count_pk(&f->nd[leader], learner, PW_FOLLOWERINFO);
	assert_int_equal(peer_connect(f->nd[learner].p, leader), 0);
	PUMP_UNTIL(f, f->nd[learner].ups[leader] == ups + 1, 3000);
	send_info(f, learner, leader);
	PUMP_UNTIL(
	    f, count_pk(&f->nd[leader], learner, PW_FOLLOWERINFO) == infos + 1,
	    3000);
}

/* ---- raw sockets (the ghost) ---- */

static int raw_connect(int port, int rcvbuf)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	if (rcvbuf)
		assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
					    sizeof(rcvbuf)),
				 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	return fd;
}

static void raw_send(int fd, const void *b, size_t n)
{
	assert_int_equal(send(fd, b, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* The other side closed fd (EOF or reset); reads and drops data. */
static bool raw_closed(int fd)
{
	uint8_t b[4096];
	for (;;) {
		ssize_t k = recv(fd, b, sizeof(b), MSG_DONTWAIT);
		if (k > 0)
			continue;
		return k == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
	}
}

/* Read into in[*got..); true once it holds one whole election frame. */
static bool raw_frame(int fd, uint8_t *in, size_t cap, size_t *got)
{
	ssize_t k = recv(fd, in + *got, cap - *got, MSG_DONTWAIT);
	if (k > 0)
		*got += (size_t)k;
	return *got >= 4 && *got == 4 + ((size_t)in[2] << 8 | in[3]);
}

/* ------------------------------------------------------------------ */
/* election                                                             */
/* ------------------------------------------------------------------ */

static void test_votes_cross_when_the_smaller_sid_dials_first(void **state)
{
	struct fix f;
	(void)state;
	fix_init(&f, 0);
	/* 1 dials 2 and 3: it says hello and hangs up, they dial back */
	peer_vote_send(f.nd[1].p, 2, &(struct zab_vote){0});
	struct zab_vote v12 = vote(12, 1), v13 = vote(13, 1);
	peer_vote_send(f.nd[1].p, 2, &v12);
	peer_vote_send(f.nd[1].p, 3, &v13);
	PUMP_UNTIL(&f, f.nd[2].votes[1] && f.nd[3].votes[1], 3000);
	/* queued twice before any connection: only the newer arrives */
	assert_int_equal(f.nd[2].votes[1], 1);
	assert_int_equal(f.nd[2].vlog[1][0].leader, 12);
	assert_int_equal(f.nd[2].vlog[1][0].zxid, 0x100000000LL + 12);
	assert_int_equal(f.nd[2].vlog[1][0].election_epoch, 1);
	assert_int_equal(f.nd[2].vlog[1][0].peer_epoch, 1);
	assert_int_equal(f.nd[2].vlog[1][0].state, ZS_LOOKING);
	assert_int_equal(f.nd[3].vlog[1][0].leader, 13);
	/* the answers ride the connections 2 and 3 dialled back */
	struct zab_vote v21 = vote(21, 1), v31 = vote(31, 1);
	v31.state = ZS_LEADING;
	peer_vote_send(f.nd[2].p, 1, &v21);
	peer_vote_send(f.nd[3].p, 1, &v31);
	PUMP_UNTIL(&f, f.nd[1].votes[2] && f.nd[1].votes[3], 3000);
	assert_int_equal(f.nd[1].vlog[2][0].leader, 21);
	assert_int_equal(f.nd[1].vlog[3][0].leader, 31);
	assert_int_equal(f.nd[1].vlog[3][0].state, ZS_LEADING);
	pump_for(&f, 50);
	assert_int_equal(conns_of(&f, 1), 2);
	assert_int_equal(election_links(&f), 2);
	fix_fini(&f);
}

static void test_votes_cross_when_the_larger_sid_dials_first(void **state)
{
	struct fix f;
	(void)state;
	fix_init(&f, 0);
	struct zab_vote v32 = vote(32, 1), v31 = vote(31, 1);
	peer_vote_send(f.nd[3].p, 2, &v32);
	peer_vote_send(f.nd[3].p, 1, &v31);
	PUMP_UNTIL(&f, f.nd[2].votes[3] && f.nd[1].votes[3], 3000);
	struct zab_vote v23 = vote(23, 1), v13 = vote(13, 1);
	peer_vote_send(f.nd[2].p, 3, &v23);
	peer_vote_send(f.nd[1].p, 3, &v13);
	PUMP_UNTIL(&f, f.nd[3].votes[2] && f.nd[3].votes[1], 3000);
	assert_int_equal(f.nd[3].vlog[2][0].leader, 23);
	assert_int_equal(f.nd[3].vlog[1][0].leader, 13);
	pump_for(&f, 50);
	assert_int_equal(conns_of(&f, 3), 2);
	assert_int_equal(election_links(&f), 2);
	/* a connected pair: a vote handed to the socket is delivered even if
	 * another follows before the peer reads (both, in order) */
	struct zab_vote a = vote(7, 2), b = vote(8, 3);
	peer_vote_send(f.nd[3].p, 1, &a);
	peer_vote_send(f.nd[3].p, 1, &b);
	PUMP_UNTIL(&f, f.nd[1].votes[3] == 3, 3000);
	assert_int_equal(f.nd[1].vlog[3][1].leader, 7);
	assert_int_equal(f.nd[1].vlog[3][2].leader, 8);
	fix_fini(&f);
}

/* Every real member's latest vote from every other is of this round. */
static bool all_have_round(const struct fix *f, int round)
{
	for (int s = 1; s <= NREAL; s++)
		for (int t = 1; t <= NREAL; t++) {
			const struct node *n = &f->nd[t];
			int k = n->votes[s];
			if (s != t &&
			    (k == 0 || k > VLOG ||
			     n->vlog[s][k - 1].election_epoch != round))
				return false;
		}
	return true;
}

static void test_every_pair_at_once_keeps_one_connection_per_pair(void **state)
{
	struct fix f;
	(void)state;
	fix_init(&f, 0);
	/* a self vote, and one to a sid that is no member, go nowhere */
	struct zab_vote self = vote(1, 1);
	peer_vote_send(f.nd[1].p, 1, &self);
	peer_vote_send(f.nd[1].p, 99, &self);
	for (int round = 0; round < 3; round++) {
		for (int s = 1; s <= NREAL; s++)
			for (int t = 1; t <= NREAL; t++)
				if (s != t) {
					struct zab_vote v =
					    vote(10 * s + t, round);
					peer_vote_send(f.nd[s].p, t, &v);
				}
		/* everything got the newest vote of this round */
		PUMP_UNTIL(&f, all_have_round(&f, round), 3000);
	}
	pump_for(&f, 100);
	for (int s = 1; s <= NREAL; s++)
		assert_int_equal(conns_of(&f, s), 2);
	assert_int_equal(election_links(&f), 3);
	assert_int_equal(f.nd[1].votes[1], 0);
	fix_fini(&f);
}

/* The last vote goes again on a new connection; votes to a dead member
 * do no harm and reach it once it is back (after the backoff). */
static void test_votes_survive_a_restart_and_are_resent(void **state)
{
	struct fix f;
	(void)state;
	fix_init(&f, 0);
	struct zab_vote v = vote(21, 5);
	peer_vote_send(f.nd[2].p, 1, &v);
	PUMP_UNTIL(&f, f.nd[1].votes[2] == 1, 3000);
	node_reset(&f, 1);
	for (int i = 0; i < 5; i++) {
		struct zab_vote w = vote(30 + i, 6);
		peer_vote_send(f.nd[3].p, 1, &w);
		peer_vote_send(f.nd[2].p, 1, &w);
		pump_for(&f, 40);
	}
	node_start(&f, 1);
	/* 2 and 3 hold one vote each for 1: the newest */
	PUMP_UNTIL(&f, f.nd[1].votes[2] == 1 && f.nd[1].votes[3] == 1, 4000);
	assert_int_equal(f.nd[1].vlog[2][0].leader, 34);
	assert_int_equal(f.nd[1].vlog[3][0].leader, 34);
	/* 1 dies again with nothing queued for it: when 1 asks for a vote
	 * later, 3 sends its last one again on the new connection */
	node_reset(&f, 1);
	pump_for(&f, 50);
	node_start(&f, 1);
	struct zab_vote q = vote(13, 7);
	peer_vote_send(f.nd[1].p, 3, &q);
	PUMP_UNTIL(&f, f.nd[3].votes[1] >= 1 && f.nd[1].votes[3] >= 1, 3000);
	assert_int_equal(f.nd[1].vlog[3][0].leader, 34);
	fix_fini(&f);
}

/* ------------------------------------------------------------------ */
/* quorum                                                               */
/* ------------------------------------------------------------------ */

static struct qpkt seq_pkt(int32_t i, uint8_t *buf)
{
	int32_t len = i % 97;
	for (int32_t j = 0; j < len; j++)
		buf[j] = (uint8_t)(i * 31 + j);
	struct qpkt q =
	    pw_qpkt(i % 3 ? PW_PROPOSAL : PW_COMMIT, pw_zxid_make(1, i));
	q.data = i % 5 ? buf : NULL;
	q.len = i % 5 ? len : -1;
	return q;
}

static void check_seq(const struct node *n, size_t first, int64_t from,
		      int count)
{
	uint8_t buf[128];
	int got = 0;
	for (size_t k = first; k < n->npk; k++) {
		const struct prec *r = &n->pk[k];
		if (r->from != from)
			continue;
		struct qpkt q = seq_pkt(got + 1, buf);
		assert_int_equal(r->type, q.type);
		assert_int_equal(r->zxid, q.zxid);
		assert_int_equal(r->len, q.len);
		assert_int_equal(r->sum, q.len > 0 ? fnv(q.data, q.len) : 0);
		got++;
	}
	assert_int_equal(got, count);
}

/* A bulk run of a copy of b[0..n), reserved and given at once */
static int send_bulk(struct peer *p, int64_t to, const void *b, size_t n)
{
	struct jw w = {0};
	uint64_t ticket;
	jw_bytes(&w, b, n);
	int rc = peer_bulk_reserve(p, to, &ticket);
	if (!rc)
		rc = peer_bulk_fill(p, to, ticket, &w);
	jw_free(&w);
	return rc;
}

static void test_learner_and_leader_exchange_packets_in_order(void **state)
{
	struct fix f;
	(void)state;
	fix_init(&f, 0);
	join(&f, 2, 1);
	/* the learner's FOLLOWERINFO, as the leader saw it */
	assert_int_equal(f.nd[1].npk, 1);
	assert_int_equal(f.nd[1].pk[0].from, 2);
	assert_int_equal(f.nd[1].ups[2] + f.nd[1].downs[2], 0);
	/* answers go back on the accepted link */
	struct qpkt li = pw_qpkt(PW_LEADERINFO, pw_zxid_make(2, 0));
	uint8_t ver[4] = {0, 1, 0, 0};
	li.data = ver;
	li.len = 4;
	assert_int_equal(peer_send(f.nd[1].p, 2, &li), 0);
	PUMP_UNTIL(&f, count_pk(&f.nd[2], 1, PW_LEADERINFO) == 1, 3000);
	/* 10k each way, queued between two polls */
	enum { N = 10000 };
	uint8_t buf[128];
	size_t at1 = f.nd[1].npk, at2 = f.nd[2].npk;
	for (int32_t i = 1; i <= N; i++) {
		struct qpkt q = seq_pkt(i, buf);
		assert_int_equal(peer_send(f.nd[1].p, 2, &q), 0);
		assert_int_equal(peer_send(f.nd[2].p, 1, &q), 0);
	}
	PUMP_UNTIL(&f, f.nd[2].npk == at2 + N && f.nd[1].npk == at1 + N, 5000);
	check_seq(&f.nd[2], at2, 1, N);
	check_seq(&f.nd[1], at1, 2, N);
	assert_int_equal(peer_queued(f.nd[1].p, 2), 0);
	/* no link with 3: nothing to send on */
	assert_int_equal(peer_send(f.nd[1].p, 3, &li), ZCONNECTIONLOSS);
	uint64_t ticket;
	assert_int_equal(peer_bulk_reserve(f.nd[1].p, 3, &ticket),
			 ZCONNECTIONLOSS);
	/* a packet ZooKeeper could not read is refused, the link stays */
	struct qpkt big = pw_qpkt(PW_PROPOSAL, 1);
	big.data = buf;
	big.len = PW_JUTE_MAXBUFFER + 1;
	assert_int_equal(peer_send(f.nd[1].p, 2, &big), ZBADARGUMENTS);
	assert_int_equal(f.nd[2].downs[1], 0);
	fix_fini(&f);
}

/* A snapshot stream: 2 sessions, no ACLs, root + `nodes` children with
 * `dlen` bytes each, "/", "BenWasHere". */
static void put_snapshot(struct jw *w, int nodes, int dlen)
{
	jw_int(w, 2);
	jw_long(w, 0x1000);
	jw_int(w, 6000);
	jw_long(w, 0x1001);
	jw_int(w, 6000);
	jw_int(w, 0);
	for (int i = 0; i <= nodes; i++) {
		char path[32];
		snprintf(path, sizeof(path), i ? "/n%d" : "", i);
		jw_str(w, path);
		jw_int(w, i ? dlen : 0);
		for (int j = 0; i && j < dlen; j++)
			jw_bytes(w, &(uint8_t){(uint8_t)(i + j)}, 1);
		jw_long(w, -1);
		for (int j = 0; j < 15; j++)
			jw_int(w, 0); /* StatPersisted */
	}
	jw_str(w, "/");
	jw_str(w, "BenWasHere");
	assert_false(w->err);
}

static void test_snapshot_stream_reaches_snap_then_packets_resume(void **state)
{
	struct fix f;
	(void)state;
	fix_init(&f, 0);
	f.self_polled = 3;
	f.flushes = 1;
	join(&f, 3, 1);
	enum { NODES = 3000, DLEN = 200 };
	struct jw snap = {0};
	put_snapshot(&snap, NODES, DLEN);
	size_t at = f.nd[3].npk;
	uint8_t buf[128];
	struct qpkt s = pw_qpkt(PW_SNAP, pw_zxid_make(1, 77));
	assert_int_equal(peer_send(f.nd[1].p, 3, &s), 0);
	/* the stream, then packets: the snapshot's end and the next
	 * packets may share a read */
	uint64_t ticket;
	assert_int_equal(peer_bulk_reserve(f.nd[1].p, 3, &ticket), 0);
	assert_int_equal(peer_bulk_fill(f.nd[1].p, 3, ticket, &snap), 0);
	for (int32_t i = 1; i <= 100; i++) {
		struct qpkt q = seq_pkt(i, buf);
		assert_int_equal(peer_send(f.nd[1].p, 3, &q), 0);
	}
	PUMP_UNTIL(&f, f.nd[3].npk == at + 101, 5000);
	assert_int_equal(f.nd[3].snaps_done, 1);
	assert_int_equal(f.nd[3].snap_sessions, 2);
	assert_int_equal(f.nd[3].snap_nodes, NODES + 1);
	assert_int_equal(f.nd[3].snap_data, (int64_t)NODES * DLEN);
	assert_int_equal(f.nd[3].pk[at].type, PW_SNAP);
	assert_int_equal(f.nd[3].pk[at].zxid, pw_zxid_make(1, 77));
	check_seq(&f.nd[3], at + 1, 1, 100);
	/* a SNAP from a learner is just a packet: no stream follows */
	size_t at1 = f.nd[1].npk;
	assert_int_equal(peer_send(f.nd[3].p, 1, &s), 0);
	struct qpkt ping = pw_qpkt(PW_PING, 5);
	ping.data = buf;
	ping.len = 0;
	assert_int_equal(peer_send(f.nd[3].p, 1, &ping), 0);
	PUMP_UNTIL(&f, f.nd[1].npk == at1 + 2, 3000);
	assert_int_equal(f.nd[1].pk[at1 + 1].type, PW_PING);
	assert_int_equal(f.nd[1].pk[at1 + 1].len, 0);
	/* a broken stream closes the link */
	assert_int_equal(peer_send(f.nd[1].p, 3, &s), 0);
	assert_int_equal(send_bulk(f.nd[1].p, 3,
				   "\0\0\0\0\0\0\0\0\xff\xff\xff\xff"
				   "garbage garbage",
				   27),
			 0);
	PUMP_UNTIL(&f, f.nd[3].downs[1] == 1 && f.nd[1].downs[3] == 1, 3000);
	jw_free(&snap);
	fix_fini(&f);
}

/* A snapshot many times max_queue goes through whole (it is not
 * counted against the limit), with packets queued before and behind it
 * in order (test_slow_reader_is_closed_when_its_queue_overflows covers
 * the limit itself). */
/* A snapshot stream made while packets are queued behind its place: the
 * learner gets nothing past SNAP until the stream is given, then all of
 * it in order; the stream and what waited behind it may exceed
 * max_queue. */
static void test_snapshot_larger_than_max_queue(void **state)
{
	struct fix f;
	(void)state;
	fix_init(&f, 64 * 1024);
	f.self_polled = 3;
	f.flushes = 1;
	join(&f, 3, 1);
	enum { NODES = 4000, DLEN = 400 }; /* ~1.7 MB: 26 x max_queue */
	struct jw snap = {0};
	put_snapshot(&snap, NODES, DLEN);
	assert_true(snap.len > 20 * 64 * 1024);
	size_t at = f.nd[3].npk;
	uint8_t buf[128];
	struct qpkt s = pw_qpkt(PW_SNAP, pw_zxid_make(1, 78));
	assert_int_equal(peer_send(f.nd[1].p, 3, &s), 0);
	uint64_t ticket;
	assert_int_equal(peer_bulk_reserve(f.nd[1].p, 3, &ticket), 0);
	/* packets behind the place: more than max_queue, less than 4x */
	enum { BEHIND = 3000 };
	for (int32_t i = 1; i <= BEHIND; i++) {
		struct qpkt q = seq_pkt(i, buf);
		assert_int_equal(peer_send(f.nd[1].p, 3, &q), 0);
	}
	assert_true(peer_queued(f.nd[1].p, 3) > 64 * 1024);
	pump_for(&f, 200);
	assert_int_equal(f.nd[3].npk, at + 1); /* SNAP only */
	assert_int_equal(f.nd[3].pk[at].type, PW_SNAP);
	assert_int_equal(f.nd[3].snaps_done, 0);
	assert_int_equal(f.nd[3].downs[1], 0);
	/* a fill with another link's ticket is dropped, and takes b */
	struct jw other = {0};
	jw_bytes(&other, "x", 1);
	assert_int_equal(peer_bulk_fill(f.nd[1].p, 3, ticket + 1000, &other),
			 ZCONNECTIONLOSS);
	assert_null(other.p);
	struct jw run = snap;
	memset(&snap, 0, sizeof(snap));
	assert_int_equal(peer_bulk_fill(f.nd[1].p, 3, ticket, &run), 0);
	assert_null(run.p);
	PUMP_UNTIL(&f, f.nd[3].npk == at + 1 + BEHIND, 5000);
	assert_int_equal(f.nd[3].snaps_done, 1);
	assert_int_equal(f.nd[3].snap_nodes, NODES + 1);
	assert_int_equal(f.nd[3].snap_data, (int64_t)NODES * DLEN);
	assert_int_equal(f.nd[3].pk[at].type, PW_SNAP);
	check_seq(&f.nd[3], at + 1, 1, BEHIND);
	assert_int_equal(peer_queued(f.nd[1].p, 3), 0);
	assert_int_equal(f.nd[3].downs[1], 0);
	fix_fini(&f);
}

static void test_close_destroy_and_reconnect(void **state)
{
	struct fix f;
	(void)state;
	fix_init(&f, 0);
	join(&f, 2, 1);
	join(&f, 3, 1);
	/* the leader drops 2: 2 hears it, 1 does not (it asked) */
	peer_close(f.nd[1].p, 2);
	PUMP_UNTIL(&f, f.nd[2].downs[1] == 1, 3000);
	pump_for(&f, 50);
	assert_int_equal(f.nd[1].downs[2], 0);
	assert_int_equal(
	    peer_send(f.nd[1].p, 2,
		      &(struct qpkt){PW_PING, 0, NULL, -1, -1, NULL, 0}),
	    ZCONNECTIONLOSS);
	/* the learner drops its link: the leader hears it */
	join(&f, 2, 1);
	peer_close(f.nd[2].p, 1);
	PUMP_UNTIL(&f, f.nd[1].downs[2] == 1, 3000);
	/* a new dial replaces the old link without a link_down for it */
	join(&f, 2, 1);
	int downs1 = f.nd[1].downs[2];
	join(&f, 2, 1);
	PUMP_UNTIL(&f, f.nd[1].downs[2] == downs1 + 1, 3000);
	assert_int_equal(f.nd[2].downs[1], 1);
	struct qpkt up = pw_qpkt(PW_UPTODATE, -1);
	assert_int_equal(peer_send(f.nd[1].p, 2, &up), 0);
	PUMP_UNTIL(&f, count_pk(&f.nd[2], 1, PW_UPTODATE) == 1, 3000);
	/* the leader dies: both learners hear it; votes to it are harmless */
	node_reset(&f, 1);
	PUMP_UNTIL(&f, f.nd[2].downs[1] == 2 && f.nd[3].downs[1] == 1, 3000);
	struct zab_vote v = vote(2, 9);
	peer_vote_send(f.nd[2].p, 1, &v);
	peer_vote_send(f.nd[3].p, 1, &v);
	/* a dial to a dead leader fails with link_down */
	assert_int_equal(peer_connect(f.nd[3].p, 1), 0);
	PUMP_UNTIL(&f, f.nd[3].downs[1] == 2, 3000);
	assert_int_equal(f.nd[3].ups[1], 1);
	pump_for(&f, 200);
	/* it comes back: votes and links work again */
	node_start(&f, 1);
	PUMP_UNTIL(&f, f.nd[1].votes[2] == 1 && f.nd[1].votes[3] == 1, 4000);
	join(&f, 3, 1);
	assert_int_equal(peer_connect(f.nd[1].p, 1), ZBADARGUMENTS);
	assert_int_equal(peer_connect(f.nd[1].p, 42), ZBADARGUMENTS);
	fix_fini(&f);
}

/* ------------------------------------------------------------------ */
/* hostile input                                                        */
/* ------------------------------------------------------------------ */

/* The real members still talk: a vote from 2 to 1 and a packet on the
 * 3 -> 1 link. */
static void still_working(struct fix *f, int round)
{
	int votes = f->nd[1].votes[2];
	struct zab_vote v = vote(2, 100 + round);
	peer_vote_send(f->nd[2].p, 1, &v);
	size_t at = f->nd[1].npk;
	struct qpkt q = pw_qpkt(PW_ACK, round);
	assert_int_equal(peer_send(f->nd[3].p, 1, &q), 0);
	PUMP_UNTIL(f, f->nd[1].votes[2] > votes && f->nd[1].npk > at, 3000);
	assert_int_equal(f->nd[1].downs[3], 0);
	assert_int_equal(f->nd[3].downs[1], 0);
}

static void garbage_closes(struct fix *f, int port, const void *b, size_t n,
			   int round)
{
	int fd = raw_connect(port, 0);
	raw_send(fd, b, n);
	PUMP_UNTIL(f, raw_closed(fd), 3000);
	close(fd);
	still_working(f, round);
}

static void
test_garbage_on_the_election_port_closes_only_that_connection(void **state)
{
	struct fix f;
	(void)state;
	fix_init(&f, 0);
	join(&f, 3, 1);
	still_working(&f, 0);
	int ep = f.eport[1], round = 1;
	uint8_t rnd[4096];
	srand(7);
	for (size_t i = 0; i < sizeof(rnd); i++)
		rnd[i] = (uint8_t)rand();
	rnd[0] = 0x80; /* a negative first long, not V1/V2 */
	garbage_closes(&f, ep, rnd, sizeof(rnd), round++);
	/* V2 with an address length of 0, then one over 2048 */
	struct jw w = {0};
	jw_long(&w, PW_ELECTION_V2);
	jw_long(&w, GHOST);
	jw_int(&w, 0);
	garbage_closes(&f, ep, w.p, w.len, round++);
	w.len = 0;
	jw_long(&w, PW_ELECTION_V1);
	jw_long(&w, GHOST);
	jw_int(&w, 4000);
	garbage_closes(&f, ep, w.p, w.len, round++);
	/* an address that is not host:port */
	w.len = 0;
	jw_long(&w, PW_ELECTION_V2);
	jw_long(&w, GHOST);
	jw_int(&w, 5);
	jw_bytes(&w, "nohost", 5);
	garbage_closes(&f, ep, w.p, w.len, round++);
	/* a sid that is no member; the pre-3.5 form too */
	w.len = 0;
	assert_int_equal(
	    pw_initmsg_encode(&w, PW_ELECTION_V2, 99, "127.0.0.1:1"), 0);
	garbage_closes(&f, ep, w.p, w.len, round++);
	w.len = 0;
	assert_int_equal(pw_initmsg_encode(&w, 0, 77, NULL), 0);
	garbage_closes(&f, ep, w.p, w.len, round++);
	/* the ghost (sid 4 > 1) says hello properly: kept.  A note that does
	 * not decode is dropped (the connection stays, as in ZooKeeper), a
	 * good one arrives, a bad frame length closes */
	w.len = 0;
	assert_int_equal(
	    pw_initmsg_encode(&w, PW_ELECTION_V1, GHOST, "127.0.0.1:1"), 0);
	jw_int(&w, 10);
	jw_bytes(&w, "0123456789", 10);
	struct pw_note nt = {.state = PW_FOLLOWING,
			     .leader = 3,
			     .zxid = 5,
			     .election_epoch = 2,
			     .peer_epoch = 1};
	assert_int_equal(pw_note_encode(&w, &nt), 0);
	int fd = raw_connect(ep, 0);
	raw_send(fd, w.p, w.len);
	PUMP_UNTIL(&f, f.nd[1].votes[GHOST] == 1, 3000);
	assert_false(raw_closed(fd));
	assert_int_equal(f.nd[1].vlog[GHOST][0].leader, 3);
	assert_int_equal(f.nd[1].vlog[GHOST][0].state, ZS_FOLLOWING);
	/* 1 answers on that connection: a whole frame with its config */
	struct zab_vote back = vote(1, 2);
	peer_vote_send(f.nd[1].p, GHOST, &back);
	uint8_t in[2048];
	size_t got = 0;
	PUMP_UNTIL(&f, raw_frame(fd, in, sizeof(in), &got), 3000);
	struct pw_note rn;
	const uint8_t *pl;
	int32_t plen;
	assert_true(pw_eframe_decode(in, got, &pl, &plen) > 0);
	assert_int_equal(pw_note_decode(pl, plen, &rn), 0);
	assert_int_equal(rn.leader, 1);
	assert_int_equal(rn.version, 2);
	assert_int_equal(rn.config_len, (int32_t)strlen(f.qv));
	assert_memory_equal(rn.config, f.qv, strlen(f.qv));
	/* from a voter, a state outside 0..3 is dropped; a note cut in
	 * single bytes is put back together */
	struct jw nw = {0};
	nt.state = 7;
	assert_int_equal(pw_note_encode(&nw, &nt), 0);
	nt.state = PW_LEADING;
	nt.leader = 4;
	assert_int_equal(pw_note_encode(&nw, &nt), 0);
	for (size_t i = 0; i < nw.len; i++) {
		raw_send(fd, nw.p + i, 1);
		pump_once(&f, 0);
	}
	PUMP_UNTIL(&f, f.nd[1].votes[GHOST] == 2, 3000);
	assert_int_equal(f.nd[1].vlog[GHOST][1].leader, 4);
	assert_int_equal(f.nd[1].vlog[GHOST][1].state, ZS_LEADING);
	jw_free(&nw);
	/* a second connection from the same sid replaces the first, and
	 * gets the last vote again (SendWorker.run) */
	int fd2 = raw_connect(ep, 0);
	raw_send(fd2, w.p, w.len);
	PUMP_UNTIL(&f, raw_closed(fd), 3000);
	close(fd);
	got = 0;
	PUMP_UNTIL(&f, raw_frame(fd2, in, sizeof(in), &got), 3000);
	assert_true(pw_eframe_decode(in, got, &pl, &plen) > 0);
	assert_int_equal(pw_note_decode(pl, plen, &rn), 0);
	assert_int_equal(rn.leader, 1);
	PUMP_UNTIL(&f, f.nd[1].votes[GHOST] == 3, 3000);
	uint8_t zero[4] = {0};
	raw_send(fd2, zero, 4);
	PUMP_UNTIL(&f, raw_closed(fd2), 3000);
	close(fd2);
	still_working(&f, round++);
	/* half a hello, then silence: dropped at the connect timeout */
	fd = raw_connect(ep, 0);
	raw_send(fd, w.p, 10);
	PUMP_UNTIL(&f, raw_closed(fd), 4000);
	close(fd);
	still_working(&f, round++);
	jw_free(&w);
	fix_fini(&f);
}

static void
test_garbage_on_the_quorum_port_closes_only_that_connection(void **state)
{
	struct fix f;
	(void)state;
	fix_init(&f, 0);
	join(&f, 3, 1);
	still_working(&f, 0);
	int qp = f.qport[1], round = 1;
	uint8_t rnd[8192];
	srand(11);
	for (size_t i = 0; i < sizeof(rnd); i++)
		rnd[i] = (uint8_t)rand();
	rnd[12] = 0x7f; /* a data length far over jute.maxbuffer */
	garbage_closes(&f, qp, rnd, sizeof(rnd), round++);
	/* a first packet that is not FOLLOWERINFO / OBSERVERINFO */
	struct jw w = {0};
	struct qpkt ping = pw_qpkt(PW_PING, 0);
	assert_int_equal(pw_qpkt_encode(&w, &ping), 0);
	garbage_closes(&f, qp, w.p, w.len, round++);
	/* LearnerInfo naming no member, naming the leader itself, or none */
	w.len = 0;
	put_info(&w, PW_FOLLOWERINFO, 42);
	garbage_closes(&f, qp, w.p, w.len, round++);
	w.len = 0;
	put_info(&w, PW_OBSERVERINFO, 1);
	garbage_closes(&f, qp, w.p, w.len, round++);
	w.len = 0;
	struct qpkt nul = pw_qpkt(PW_FOLLOWERINFO, 0);
	assert_int_equal(pw_qpkt_encode(&w, &nul), 0);
	garbage_closes(&f, qp, w.p, w.len, round++);
	/* a good learner that turns bad: link_down for it alone */
	w.len = 0;
	put_info(&w, PW_OBSERVERINFO, GHOST);
	int fd = raw_connect(qp, 0);
	raw_send(fd, w.p, w.len);
	PUMP_UNTIL(&f, count_pk(&f.nd[1], GHOST, PW_OBSERVERINFO) == 1, 3000);
	raw_send(fd, rnd, 64);
	PUMP_UNTIL(&f, f.nd[1].downs[GHOST] == 1 && raw_closed(fd), 3000);
	close(fd);
	still_working(&f, round++);
	/* a second link from the same sid replaces the first */
	int a = raw_connect(qp, 0), b = raw_connect(qp, 0);
	raw_send(a, w.p, w.len);
	PUMP_UNTIL(&f, count_pk(&f.nd[1], GHOST, PW_OBSERVERINFO) == 2, 3000);
	raw_send(b, w.p, w.len);
	PUMP_UNTIL(&f, count_pk(&f.nd[1], GHOST, PW_OBSERVERINFO) == 3, 3000);
	PUMP_UNTIL(&f, f.nd[1].downs[GHOST] == 2 && raw_closed(a), 3000);
	assert_false(raw_closed(b));
	struct qpkt li = pw_qpkt(PW_LEADERINFO, 0);
	assert_int_equal(peer_send(f.nd[1].p, GHOST, &li), 0);
	uint8_t in[64];
	ssize_t k = -1;
	PUMP_UNTIL(&f, (k = recv(b, in, sizeof(in), MSG_DONTWAIT)) > 0, 3000);
	struct qpkt rq;
	assert_int_equal(pw_qpkt_decode(in, (size_t)k, &rq), k);
	assert_int_equal(rq.type, PW_LEADERINFO);
	close(a);
	close(b);
	PUMP_UNTIL(&f, f.nd[1].downs[GHOST] == 3, 3000);
	still_working(&f, round++);
	jw_free(&w);
	fix_fini(&f);
}

/* A leader whose accept queue is full never answers the SYN: the dial
 * times out (connect_timeout_ms) and says link_down. */
static void test_a_dial_that_hangs_times_out_with_link_down(void **state)
{
	struct fix f;
	(void)state;
	fix_init(&f, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)f.qport[GHOST]);
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	assert_int_equal(
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(lfd, 0), 0);
	int fill[3];
	for (int i = 0; i < 3; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		assert_true(fill[i] >= 0);
		(void)connect(fill[i], (struct sockaddr *)&a, sizeof(a));
	}
	pump_for(&f, 20);
	int64_t t0 = now_ms();
	assert_int_equal(peer_connect(f.nd[1].p, GHOST), 0);
	PUMP_UNTIL(&f, f.nd[1].downs[GHOST] == 1, 3000);
	assert_true(now_ms() - t0 >= 400);
	assert_int_equal(f.nd[1].ups[GHOST], 0);
	assert_int_equal(
	    peer_send(f.nd[1].p, GHOST,
		      &(struct qpkt){PW_PING, 0, NULL, -1, -1, NULL, 0}),
	    ZCONNECTIONLOSS);
	for (int i = 0; i < 3; i++)
		close(fill[i]);
	close(lfd);
	fix_fini(&f);
}

static void test_create_rejects_bad_configs_and_busy_ports(void **state)
{
	struct fix f;
	(void)state;
	fix_init(&f, 0);
	struct peer_config c = f.cfg;
	c.sid = 1; /* its ports are taken by the running node 1 */
	errno = 0;
	assert_null(peer_create(&c, &ops, NULL));
	assert_int_equal(errno, EADDRINUSE);
	c.sid = 9; /* not a member */
	assert_null(peer_create(&c, &ops, NULL));
	assert_int_equal(errno, EINVAL);
	c = f.cfg;
	c.sid = GHOST;
	c.m[1].sid = 1; /* twice */
	assert_null(peer_create(&c, &ops, NULL));
	assert_int_equal(errno, EINVAL);
	c = f.cfg;
	c.sid = GHOST;
	c.m[0].election_port = 70000;
	assert_null(peer_create(&c, &ops, NULL));
	assert_int_equal(errno, EINVAL);
	c = f.cfg;
	c.n = 0;
	assert_null(peer_create(&c, &ops, NULL));
	assert_int_equal(errno, EINVAL);
	peer_destroy(NULL);
	fix_fini(&f);
}

static void test_slow_reader_is_closed_when_its_queue_overflows(void **state)
{
	struct fix f;
	(void)state;
	fix_init(&f, 256 * 1024);
	join(&f, 2, 1);
	/* the ghost joins and never reads */
	struct jw w = {0};
	put_info(&w, PW_FOLLOWERINFO, GHOST);
	int fd = raw_connect(f.qport[1], 4096);
	raw_send(fd, w.p, w.len);
	PUMP_UNTIL(&f, count_pk(&f.nd[1], GHOST, PW_FOLLOWERINFO) == 1, 3000);
	static uint8_t big[60000];
	struct qpkt q = pw_qpkt(PW_PROPOSAL, 1);
	q.data = big;
	q.len = sizeof(big);
	int sent = 0, rc = 0;
	for (int i = 0; i < 2000 && rc == 0; i++) {
		rc = peer_send(f.nd[1].p, GHOST, &q);
		sent += rc == 0;
		/* the healthy learner gets a packet alongside each */
		struct qpkt small = pw_qpkt(PW_COMMIT, i);
		assert_int_equal(peer_send(f.nd[1].p, 2, &small), 0);
		pump_once(&f, 0);
	}
	assert_int_equal(rc, ZCONNECTIONLOSS);
	assert_true(sent > 4);
	PUMP_UNTIL(&f, f.nd[1].downs[GHOST] == 1, 3000);
	assert_int_equal(peer_queued(f.nd[1].p, GHOST), 0);
	PUMP_UNTIL(&f, count_pk(&f.nd[2], 1, PW_COMMIT) == sent + 1, 3000);
	assert_int_equal(f.nd[1].downs[2], 0);
	assert_int_equal(f.nd[2].downs[1], 0);
	close(fd);
	jw_free(&w);
	fix_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_votes_cross_when_the_smaller_sid_dials_first),
	    cmocka_unit_test(test_votes_cross_when_the_larger_sid_dials_first),
	    cmocka_unit_test(
		test_every_pair_at_once_keeps_one_connection_per_pair),
	    cmocka_unit_test(test_votes_survive_a_restart_and_are_resent),
	    cmocka_unit_test(test_learner_and_leader_exchange_packets_in_order),
	    cmocka_unit_test(
		test_snapshot_stream_reaches_snap_then_packets_resume),
	    cmocka_unit_test(test_snapshot_larger_than_max_queue),
	    cmocka_unit_test(test_close_destroy_and_reconnect),
	    cmocka_unit_test(
		test_garbage_on_the_election_port_closes_only_that_connection),
	    cmocka_unit_test(
		test_garbage_on_the_quorum_port_closes_only_that_connection),
	    cmocka_unit_test(test_a_dial_that_hangs_times_out_with_link_down),
	    cmocka_unit_test(test_create_rejects_bad_configs_and_busy_ports),
	    cmocka_unit_test(
		test_slow_reader_is_closed_when_its_queue_overflows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
