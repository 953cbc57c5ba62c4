/*
 * fuzz_sequencer.c — libFuzzer target for the sequencer's write path:
 * request decoding, PrepRequestProcessor-style validation (paths, ACLs,
 * versions, multi) and application to the tree (consensus/sequencer.c,
 * tree/).
 *
 * Driven through the public API only (consensus.h), as a dataplane worker
 * drives it: a tree and a zab_seq (n_workers = 1, its thread started)
 * live across inputs; each input opens a session (ZM_CONNECT), sends one
 * ZM_REQUEST per record, waits (zab_poll) until every request has its
 * ZM_REPLY, closes the session and then deletes every znode it left
 * (through the sequencer, as super), so each input starts from the
 * initial tree and a crash reproduces from its input alone.  A request
 * without a reply within 10 s aborts (a hang is a finding too).
 * Everything is rebuilt every RESET_EVERY inputs: a fresh tree and
 * sequencer per input would cost two rcu_barrier() calls, ~20 ms, per
 * input (50 exec/s instead of ~1000).

 * Input: a sequence of records
 *     u8 op      index into the write opcodes a worker forwards
 *                (dp_op_is_write() in dataplane/proto.c)
 *     u8 who     identities: bit 0 digest "bob", bit 1 super, bit 2 no
 *                "ip" identity (a worker always adds one)
 *     u16 len    big-endian, clamped to what is left
 *     len bytes  the request record after the xid/op header
 * The auth block in front of the body is written with zab_auth_write, as
 * post_write() in dataplane/proto.c does.
 */
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <urcu-qsbr.h>

#include "consensus/consensus.h"
#include "tree/jute.h"
#include "tree/tree.h"

#include "fuzz_seq_int.h"

#define MAX_REQS 64

static const int write_ops[] = {
	ZOP_CREATE,  ZOP_CREATE2,  ZOP_CREATECONTAINER, ZOP_CREATETTL,
	ZOP_DELETE,  ZOP_SETDATA,  ZOP_SETACL,          ZOP_CHECK,
	ZOP_MULTI,   ZOP_SYNC,     ZOP_GETEPHEMERALS,   ZOP_CLOSESESSION,
};
#define N_OPS ((int)(sizeof(write_ops) / sizeof(write_ops[0])))

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define RESET_EVERY 1000
#define ADMIN_XID 1000000

static bool debug; /* FUZZ_SEQ_DEBUG=1: print every message */
static struct tree *tree;
static struct zab_seq *seq;
static int64_t admin; /* a super session that cleans up */
static unsigned runs;

/* Wait for the next message of `type` (freeing others); NULL on timeout. */
static struct zmsg *wait_for(struct zab_seq *s, uint16_t type)
{
	int64_t deadline = now_ms() + 10000;
	for (;;) {
		struct zmsg *m;
		while (zab_poll(s, 0, &m, 1) == 1) {
			if (debug)
				fprintf(stderr, "fuzz_sequencer: got type %d "
					"xid %d op %d err %d zxid %lld\n",
					m->type, m->xid, m->op, m->err,
					(long long)m->zxid);
			if (m->type == type)
				return m;
			zmsg_free(m);
		}
		if (now_ms() > deadline)
			return NULL;
		sched_yield();
	}
}

/* The harness posts one message at a time and reads replies only later;
 * the ring is far larger than any input's requests, but zab_post never
 * waits, so retry until it took the message. */
static void post_msg(struct zmsg *m)
{
	while (!zab_post(seq, 0, &m, 1))
		sched_yield();
}

static int64_t open_session(uint32_t slot)
{
	struct zmsg *m = zmsg_new(ZM_CONNECT, ZK_PASSWD_LEN);
	if (!m)
		abort();
	m->conn = (struct zconn_ref){0, slot, 1};
	m->timeout = 30000;
	post_msg(m);
	m = wait_for(seq, ZM_CONNECTED);
	if (!m || m->session == 0) {
		fprintf(stderr, "fuzz_sequencer: no session\n");
		abort();
	}
	int64_t id = m->session;
	zmsg_free(m);
	return id;
}

static void post(int64_t session, int32_t xid, int op, uint8_t who,
		 const void *body, size_t len)
{
	struct zauth_id ids[3];
	int nids = 0;
	if (!(who & 4))
		ids[nids++] = (struct zauth_id){"ip", "127.0.0.1"};
	if (who & 1) /* bob:bobpw */
		ids[nids++] = (struct zauth_id){
			"digest", "bob:0ezhUayTjEymfNB3K9C0+wkMLMo="};
	if (who & 2)
		ids[nids++] = (struct zauth_id){"super", ""};
	struct jw a = {0};
	zab_auth_write(&a, ids, nids);
	if (a.err)
		abort();
	struct zmsg *m = zmsg_new(ZM_REQUEST, (uint32_t)(a.len + len));
	if (!m)
		abort();
	m->conn = (struct zconn_ref){0, session == admin ? 1 : 2, 1};
	m->xid = xid;
	m->op = op;
	m->session = session;
	m->auth_len = (uint32_t)a.len;
	memcpy(m->body, a.p, a.len);
	if (len)
		memcpy(m->body + a.len, body, len);
	jw_free(&a);
	post_msg(m);
}

static void setup(void)
{
	tree = tree_create();
	if (!tree)
		abort();
	struct zab_seq_config sc;
	fuzz_seq_config(&sc, tree);
	seq = zab_seq_create(&sc);
	if (!seq || zab_seq_start(seq))
		abort();
	zab_watching(seq, 0, true); /* keep the watch-event path covered */
	admin = open_session(1);
}

static void teardown(void)
{
	zab_seq_stop(seq);
	zab_seq_destroy(seq);
	rcu_barrier();
	tree_destroy(tree);
	seq = NULL;
	tree = NULL;
}

/* Paths of the tree in pre-order (parents first). */
struct paths {
	char **p;
	size_t n, cap;
	const char *parent;
	size_t parent_len;
};

static int add_child(const char *name, size_t len, void *arg)
{
	struct paths *ps = arg;
	if (ps->n == ps->cap) {
		ps->cap = ps->cap ? ps->cap * 2 : 64;
		ps->p = realloc(ps->p, ps->cap * sizeof(*ps->p));
		if (!ps->p)
			abort();
	}
	size_t pl = ps->parent_len == 1 ? 0 : ps->parent_len;
	char *full = malloc(pl + 1 + len + 1);
	if (!full)
		abort();
	memcpy(full, ps->parent, pl);
	full[pl] = '/';
	memcpy(full + pl + 1, name, len);
	full[pl + 1 + len] = 0;
	ps->p[ps->n++] = full;
	return 0;
}

static bool system_path(const char *p)
{
	return !strcmp(p, "/zookeeper") || !strcmp(p, "/zookeeper/quota") ||
	       !strcmp(p, "/zookeeper/config");
}

/* Delete every znode but the initial ones, children first. */
static void clean_tree(void)
{
	struct paths ps = {0};
	rcu_thread_online();
	for (size_t i = 0; i <= ps.n; i++) {
		const char *parent = i == 0 ? "/" : ps.p[i - 1];
		const struct znode *n = tree_lookup(tree, parent,
						    strlen(parent));
		if (!n)
			continue;
		ps.parent = parent;
		ps.parent_len = strlen(parent);
		znode_children(n, add_child, &ps);
	}
	rcu_thread_offline();
	int32_t xid = ADMIN_XID, sent = 0;
	for (size_t i = ps.n; i-- > 0;) {
		if (!system_path(ps.p[i])) {
			struct jw b = {0};
			jw_str(&b, ps.p[i]);
			jw_int(&b, -1);
			post(admin, ++xid, ZOP_DELETE, 2 | 4, b.p, b.len);
			jw_free(&b);
			sent++;
		}
		free(ps.p[i]);
	}
	free(ps.p);
	for (int32_t k = 0; k < sent; k++) {
		struct zmsg *m = wait_for(seq, ZM_REPLY);
		if (!m) {
			fprintf(stderr, "fuzz_sequencer: clean-up stuck\n");
			abort();
		}
		zmsg_free(m);
	}
	/* keep the admin session alive */
	struct zmsg *m = zmsg_new(ZM_TOUCH, sizeof(admin));
	if (!m)
		abort();
	memcpy(m->body, &admin, sizeof(admin));
	post_msg(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	debug = getenv("FUZZ_SEQ_DEBUG") != NULL;
	static bool registered;
	if (!registered) {
		/* reads the tree in clean_tree(); offline otherwise */
		rcu_register_thread();
		rcu_thread_offline();
		registered = true;
	}
	if (!seq)
		setup();
	struct zmsg *m;
	int64_t session = open_session(2);

	size_t off = 0;
	int32_t xid = 0;
	while (size - off >= 4 && xid < MAX_REQS) {
		int op = write_ops[data[off] % N_OPS];
		uint8_t who = data[off + 1];
		size_t len = (size_t)data[off + 2] << 8 | data[off + 3];
		off += 4;
		if (len > size - off)
			len = size - off;
		post(session, ++xid, op, who, data + off, len);
		off += len;
	}
	/* Every request gets exactly one reply, in request order, except
	 * that an undecodable request (ZAB_UNDECODABLE) is answered at once
	 * (it may overtake queued writes: the worker closes the connection
	 * on it).  Known
	 * and reported: a request pipelined after closeSession gets its
	 * SESSIONEXPIRED before the closeSession reply (reply_now() in
	 * sequencer.c bypasses the session's queue); FUZZ_SEQ_STRICT=1
	 * checks that order too. */
	bool strict = getenv("FUZZ_SEQ_STRICT") != NULL;
	static uint8_t seen[MAX_REQS + 1];
	memset(seen, 0, sizeof(seen));
	int32_t last = 0;
	for (int32_t got = 0; got < xid; got++) {
		m = wait_for(seq, ZM_REPLY);
		if (!m) {
			fprintf(stderr, "fuzz_sequencer: %d of %d replies\n",
				got, xid);
			abort();
		}
		if (m->xid < 1 || m->xid > xid || seen[m->xid]++) {
			fprintf(stderr, "fuzz_sequencer: unexpected reply "
					"xid %d\n", m->xid);
			abort();
		}
		if (m->err != ZAB_UNDECODABLE &&
		    (strict || m->err != ZSESSIONEXPIRED)) {
			if (m->xid < last) {
				fprintf(stderr, "fuzz_sequencer: reply xid %d "
						"after %d\n", m->xid, last);
				abort();
			}
			last = m->xid;
		}
		if (m->err > 0)
			abort();
		zmsg_free(m);
	}
	/* close the session (SESSIONEXPIRED if the input did) and clean */
	post(session, ++xid, ZOP_CLOSESESSION, 0, NULL, 0);
	m = wait_for(seq, ZM_REPLY);
	if (!m || m->xid != xid) {
		fprintf(stderr, "fuzz_sequencer: no closeSession reply\n");
		abort();
	}
	zmsg_free(m);
	clean_tree();
	if (++runs % RESET_EVERY == 0)
		teardown();
	return 0;
}
