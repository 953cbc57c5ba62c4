/*
 * test_zab.c — the ZAB core (consensus/zab.c) as a learner of a scripted
 * ZooKeeper 3.8 leader: the packets a real one sends, one at a time, and
 * what the core answers.  tests/sim checks whole ensembles of cores; this
 * checks what only a ZooKeeper leader minds.
 *
 * The ACK stream: a ZooKeeper leader's LearnerHandler.SyncLimitCheck
 * tracks the oldest proposal it sent a learner and drops the learner
 * ("Closing connection to peer due to transaction timeout") when that
 * one's own ACK has not come within syncLimit.  So a follower ACKs every
 * proposal it logs after NEWLEADER, also one the leader committed (on
 * the other followers' ACKs) before this follower's disk had it; and
 * nothing before NEWLEADER's ACK, which the leader reads as the first
 * ACK on the link.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "consensus/zab_int.h"

#define LEADER 3
#define MAXSENT 64

struct fake {
	struct zab_io io;
	int64_t connected;		/* io->connect's leader */
	struct zab_pkt sent[MAXSENT];	/* to the leader, data not kept */
	int nsent;
	zxid_t applied[MAXSENT];
	int napplied;
};

static struct fake F;
static int64_t now;

static void f_vote_send(struct zab_io *io, int64_t to, const struct zab_vote *v)
{
	(void)io, (void)to, (void)v;
}

static void f_connect(struct zab_io *io, int64_t leader)
{
	(void)io;
	F.connected = leader;
}

static void f_send(struct zab_io *io, int64_t to, const struct zab_pkt *p)
{
	(void)io;
	assert_int_equal(to, LEADER);
	assert_true(F.nsent < MAXSENT);
	F.sent[F.nsent++] = (struct zab_pkt){p->type, p->zxid, NULL, 0};
}

static void f_close(struct zab_io *io, int64_t peer)
{
	(void)io, (void)peer;
	fail_msg("the core closed the link with %lld", (long long)peer);
}

static void f_log_append(struct zab_io *io, zxid_t zxid, const void *p,
			 size_t len)
{
	(void)io, (void)zxid, (void)p, (void)len;
}

static int f_log_truncate(struct zab_io *io, zxid_t zxid)
{
	(void)io, (void)zxid;
	return -1;
}

static int f_reset(struct zab_io *io)
{
	(void)io;
	return 0;
}

static void f_epochs_save(struct zab_io *io, uint32_t a, uint32_t c)
{
	(void)io, (void)a, (void)c;
}

static void f_apply(struct zab_io *io, zxid_t zxid, const void *p, size_t len)
{
	(void)io, (void)p, (void)len;
	assert_true(F.napplied < MAXSENT);
	F.applied[F.napplied++] = zxid;
}

static zxid_t f_snap_send(struct zab_io *io, int64_t to)
{
	(void)io, (void)to;
	fail_msg("a learner sends no snapshot");
	return 0;
}

static void f_request(struct zab_io *io, int64_t from, const void *p,
		      size_t len)
{
	(void)io, (void)from, (void)p, (void)len;
}

static void f_role(struct zab_io *io, enum zab_role role, int64_t leader)
{
	(void)io, (void)role, (void)leader;
}

static const uint8_t TXN[8] = "txnbody";

static void recv_pkt(struct zab *z, int type, zxid_t zxid)
{
	struct zab_pkt p = {type, zxid, NULL, 0};
	uint8_t version[4] = {0, 1, 0, 0}; /* 0x10000: ZooKeeper's */

	if (type == ZP_LEADERINFO) {
		p.data = version;
		p.len = sizeof(version);
	} else if (type == ZP_PROPOSAL) {
		p.data = TXN;
		p.len = sizeof(TXN);
	}
	zab_recv(z, ++now, LEADER, &p);
}

/* The packets sent since the last call, as "TYPE:zxid-counter ...". */
static const char *sent(void)
{
	static char buf[512];
	static int seen;
	size_t n = 0;

	buf[0] = 0;
	for (; seen < F.nsent; seen++) {
		const struct zab_pkt *p = &F.sent[seen];
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%d:%x.%x",
				      n ? " " : "", p->type, zab_epoch(p->zxid),
				      (unsigned)(p->zxid & 0xffffffff));
	}
	if (F.nsent == 0)
		seen = 0;
	return buf;
}

/* Member 1 of {1, 2, 3}, with an empty disk, told by 2 and 3 that 3
 * leads epoch `epoch`; it connects, and the leader's LEADERINFO gets its
 * ACKEPOCH. */
static struct zab *follow(uint32_t epoch)
{
	struct zab_config cfg = {
		.sid = 1, .n = 3, .tick_ms = 100, .init_limit = 10,
		.sync_limit = 5, .finalize_wait_ms = 200,
		.min_notify_ms = 200, .max_notify_ms = 60000,
		.connect_retry_ms = 100, .hist_max = 1000,
	};
	struct zab_disk disk = {0, 0, 0};
	struct zab *z;

	memset(&F, 0, sizeof(F));
	F.io = (struct zab_io){
		.vote_send = f_vote_send, .connect = f_connect,
		.send = f_send, .close = f_close,
		.log_append = f_log_append, .log_truncate = f_log_truncate,
		.reset = f_reset, .epochs_save = f_epochs_save,
		.apply = f_apply, .snap_send = f_snap_send,
		.request = f_request, .role = f_role,
	};
	for (int i = 0; i < 3; i++)
		cfg.m[i] = (struct zab_member){i + 1, false};
	sent(); /* forget the last test's */
	now = 1000;
	z = zab_create(&cfg, &F.io, &disk);
	assert_non_null(z);
	zab_start(z, now);
	struct zab_vote lead = {LEADER, 0, 1, epoch - 1, ZS_LEADING};
	struct zab_vote fol = {LEADER, 0, 1, epoch - 1, ZS_FOLLOWING};
	zab_vote_recv(z, ++now, LEADER, &lead);
	zab_vote_recv(z, ++now, 2, &fol);
	for (int i = 0; i < 20 && !F.connected; i++) {
		now += 100;
		zab_tick(z, now);
	}
	assert_int_equal(F.connected, LEADER);
	zab_link_up(z, ++now, LEADER);
	assert_string_equal(sent(), "11:0.0"); /* FOLLOWERINFO */
	recv_pkt(z, ZP_LEADERINFO, zab_zxid(epoch, 0));
	assert_string_equal(sent(), "18:0.0"); /* ACKEPOCH */
	return z;
}

/* A proposal the leader commits before this follower's disk has it is
 * still ACKed once durable, in zxid order with the rest. */
static void test_acks_a_proposal_committed_before_it_was_durable(void **st)
{
	(void)st;
	struct zab *z = follow(1);

	recv_pkt(z, ZP_DIFF, 0);
	recv_pkt(z, ZP_NEWLEADER, zab_zxid(1, 0));
	assert_string_equal(sent(), "3:1.0"); /* nothing to wait for */
	recv_pkt(z, ZP_UPTODATE, -1);
	assert_string_equal(sent(), "3:1.0");
	assert_int_equal(zab_role(z), ZR_FOLLOWING);

	recv_pkt(z, ZP_PROPOSAL, zab_zxid(1, 1));
	recv_pkt(z, ZP_PROPOSAL, zab_zxid(1, 2));
	recv_pkt(z, ZP_PROPOSAL, zab_zxid(1, 3));
	/* the other follower's ACKs made a quorum: committed, applied */
	recv_pkt(z, ZP_COMMIT, zab_zxid(1, 1));
	recv_pkt(z, ZP_COMMIT, zab_zxid(1, 2));
	assert_int_equal(F.napplied, 2);
	assert_string_equal(sent(), "");
	zab_durable(z, ++now, zab_zxid(1, 3));
	assert_string_equal(sent(), "3:1.1 3:1.2 3:1.3");
	recv_pkt(z, ZP_COMMIT, zab_zxid(1, 3));
	assert_int_equal(F.napplied, 3);
	assert_int_equal(F.applied[2], zab_zxid(1, 3));
	assert_string_equal(sent(), "");
	zab_destroy(z);
}

/* In a DIFF: what it commits gets no ACK; what it leaves uncommitted is
 * ACKed, after NEWLEADER's ACK; nothing is ACKed before that one, which
 * waits until everything logged so far is durable. */
static void test_diff_acks_only_its_uncommitted_tail_after_newleader(void **st)
{
	(void)st;
	struct zab *z = follow(2);

	recv_pkt(z, ZP_DIFF, zab_zxid(1, 3));
	recv_pkt(z, ZP_PROPOSAL, zab_zxid(1, 1));
	recv_pkt(z, ZP_COMMIT, zab_zxid(1, 1));
	recv_pkt(z, ZP_PROPOSAL, zab_zxid(1, 2));
	recv_pkt(z, ZP_COMMIT, zab_zxid(1, 2));
	recv_pkt(z, ZP_PROPOSAL, zab_zxid(1, 3)); /* not committed */
	zab_durable(z, ++now, zab_zxid(1, 2));
	assert_string_equal(sent(), "");
	recv_pkt(z, ZP_NEWLEADER, zab_zxid(2, 0));
	assert_string_equal(sent(), ""); /* 1.3 is not durable yet */
	recv_pkt(z, ZP_PROPOSAL, zab_zxid(2, 1)); /* queued after it */
	zab_durable(z, ++now, zab_zxid(1, 3));
	assert_string_equal(sent(), ""); /* 2.1 is logged, not durable */
	zab_durable(z, ++now, zab_zxid(2, 1));
	assert_string_equal(sent(), "3:2.0 3:1.3 3:2.1");
	recv_pkt(z, ZP_UPTODATE, -1);
	assert_string_equal(sent(), "3:2.0");
	recv_pkt(z, ZP_COMMIT, zab_zxid(1, 3));
	recv_pkt(z, ZP_COMMIT, zab_zxid(2, 1));
	assert_int_equal(F.napplied, 4);
	assert_string_equal(sent(), "");
	zab_destroy(z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_acks_a_proposal_committed_before_it_was_durable),
		cmocka_unit_test(
			test_diff_acks_only_its_uncommitted_tail_after_newleader),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
