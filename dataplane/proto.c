/*
 * proto.c — ZooKeeper requests and replies on the worker: reads served
 * in place from the RCU tree, watch operations, auth, writes and
 * sessions forwarded to the sequencer, and the sequencer's messages
 * (replies, watch events, session results) turned into frames.
 *
 * Sees frames (from jute.c) and connections, never the backend.
 *
 * Ordering (ARCHITECTURE.md guarantees 2 and 3):
 *  - a connection's requests are answered in order: while it has writes at
 *    the sequencer, later reads wait in its backlog (jute.c);
 *  - before a reply that shows data at zxid Z is queued, every sequencer
 *    message with zxid <= Z has been processed, so watch events for those
 *    changes precede the reply; messages with larger zxids stay queued, so
 *    a watch set by this very read still sees them (ZooKeeper's
 *    FinalRequestProcessor order).
 *
 * Request semantics follow ZooKeeper 3.8 FinalRequestProcessor (reads) and
 * ServerCnxn (auth, ping, setWatches).  Writes are parsed by the
 * sequencer.  Wire layouts: dataplane/PROTOCOL.md.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dataplane/dataplane_int.h"
#include "dataplane/sasl_int.h"

/* ------------------------------------------------------------------ */
/* Sequencer messages, watch events, auth ids                            */
/* ------------------------------------------------------------------ */
/* n requests of c took us µs each (receive to reply queued): the
 * worker's histogram of their kind, and c's own figures for cons.  Only
 * this worker writes them. */
void dp_record_latency(struct dp_worker *w, struct dp_conn *c, int64_t us,
		       int64_t n, int kind)
{
	if (us < 0)
		us = 0;
	zk_hist_add(&w->lat[kind], us, n, w->now_ms);
	dp_lat_add(&w->srv_lat, us, n);
	if (us < c->lat_min)
		c->lat_min = us;
	if (us > c->lat_max)
		c->lat_max = us;
	c->lat_sum += us * n;
	c->lat_n += n;
	c->last_lat_us = us;
	c->last_resp_ms = w->now_ms;
}

/* The bin of an id in ZooKeeper's authInfo, a set over a
 * ConcurrentHashMap of 16 bins (never resized below 13 ids): Java's
 * spread(hashCode) & 15, with jute's Id.hashCode = 37 * (37 * 17 +
 * scheme.hashCode()) + id.hashCode() (Java int arithmetic: wraps). */
static unsigned auth_bin(const char *scheme, const char *id, size_t id_len)
{
	uint32_t h = 37u * (37u * 17u + (uint32_t)zk_java_hash(
					     scheme, strlen(scheme))) +
		     (uint32_t)zk_java_hash(id, id_len);

	return (h ^ (h >> 16)) & 15;
}

/* Add an id to the connection's set, in the order ZooKeeper iterates
 * its authInfo (bin by bin, each bin in insertion order): whoAmI lists
 * them so and the "auth" ACL scheme expands to them so. */
int dp_conn_add_auth(struct dp_conn *c, const char *scheme, const char *id,
		     size_t id_len)
{
	for (int i = 0; i < c->nauth; i++)
		if (!strcmp(c->auth[i].scheme, scheme) &&
		    strlen(c->auth[i].id) == id_len &&
		    !memcmp(c->auth[i].id, id, id_len))
			return 0;
	if (c->nauth == DP_MAX_AUTH)
		return -1;
	char *s = strdup(scheme), *i = strndup(id, id_len);
	if (!s || !i) {
		free(s);
		free(i);
		return -1;
	}
	unsigned bin = auth_bin(s, i, id_len);
	int at = c->nauth;
	while (at > 0 && auth_bin(c->auth[at - 1].scheme, c->auth[at - 1].id,
				  strlen(c->auth[at - 1].id)) > bin) {
		c->auth[at] = c->auth[at - 1];
		at--;
	}
	c->auth[at].scheme = s;
	c->auth[at].id = i;
	c->nauth++;
	return 0;
}

static void notify(struct wt_owner *o, void *arg)
{
	struct dp_worker *w = ((void **)arg)[0];
	struct zmsg *m = ((void **)arg)[1];
	const struct zacl *acl = ((void **)arg)[2];
	struct dp_conn *c = (struct dp_conn *)((char *)o -
					       offsetof(struct dp_conn, watches));
	if (c->state != CS_OPEN ||
	    (acl && zacl_check(acl, ZPERM_READ, c->auth, c->nauth)))
		return;
	size_t at;
	dp_reply_begin(&c->out, &at, ZXID_NOTIFICATION, -1, 0);
	jw_int(&c->out, m->err);
	jw_int(&c->out, ZK_STATE_SYNC_CONNECTED);
	jw_buf(&c->out, m->body, (int32_t)zab_event_path_len(m));
	jw_frame_end(&c->out, at);
	dp_count_reply(w, (int64_t)(c->out.len - at - 4), true);
	dp_stat_add(&c->sent, 1);
	dp_stat_add(&w->packets_sent, 1);
	dp_mark_dirty(w, c);
}

/* Before a tree read that may set a watch: events from now on. */
static void watch_arm(struct dp_worker *w)
{
	if (!w->watching) {
		zab_watching(w->srv->seq, w->idx, true);
		w->watching = true;
		w->unwatched_ms = -1;
	}
}

/* Between loop passes: no watches left for WATCH_LINGER_MS, no events
 * needed.  (Arming again costs a membarrier: zab_watching; a client
 * that sets a one-shot watch after each event would pay it per event.) */
#define WATCH_LINGER_MS 1000
void dp_watch_disarm_if_idle(struct dp_worker *w)
{
	if (!w->watching)
		return;
	if (wt_count(w->watches)) {
		w->unwatched_ms = -1;
	} else if (w->unwatched_ms < 0) {
		w->unwatched_ms = w->now_ms;
	} else if (w->now_ms - w->unwatched_ms >= WATCH_LINGER_MS) {
		zab_watching(w->srv->seq, w->idx, false);
		w->watching = false;
	}
}

/*
 * ServerMetrics' NODE_*_WATCHER summaries.  WatchManager.triggerWatch,
 * once per table an event fires (NodeDeleted: the data table, then the
 * child table), adds the size of its `watchers` set to the event type's
 * summary after telling them, and adds nothing when the set is empty:
 *
 *     if (watchers.isEmpty()) { ... return null; }
 *     ... case NodeCreated:
 *         ServerMetrics.getMetrics().NODE_CREATED_WATCHER
 *             .add(watchers.size());
 *
 * The set counts watchers the ACL keeps the event from and, in the child
 * table, ones the data table told already.  Here `reached` is this
 * worker's part of that set: per worker, one sample per table when the
 * worker holds some of the event's watchers (README, mntr).  Owner
 * thread only: load and store, no locked instruction (zk_basic_add).
 */
static void count_watchers(struct dp_worker *w, int event,
			   const size_t reached[2])
{
	if (event < ZEV_CREATED || event > ZEV_CHILD_CHANGED)
		return;
	for (int k = 0; k < 2; k++)
		if (reached[k])
			zk_basic_add(&w->watchers[event - ZEV_CREATED],
				     (int64_t)reached[k], w->now_ms);
}

static void handle_seq_msg(struct dp_worker *w, struct zmsg *m)
{
	struct dp_conn *c;
	switch (m->type) {
	case ZM_EVENT: {
		/* told only with READ in the node's ACL (ZooKeeper 3.8) */
		struct zacl *acl = zab_event_acl(m);
		if (m->auth_len && !acl)
			break; /* ENOMEM: nobody is told rather than anybody */
		void *arg[3] = {w, m, acl};
		size_t reached[2];
		wt_trigger(w->watches, m->err, (const char *)m->body,
			   zab_event_path_len(m), m->zxid, notify, arg,
			   reached);
		zacl_unref(acl);
		count_watchers(w, m->err, reached);
		break;
	}
	case ZM_APPLIED:
		break;
	case ZM_REPLY:
		if (m->op != ZAB_OP_DUMP) /* one per posted request */
			dp_outstanding_add(w, -1);
		c = dp_conn_lookup(w, m->conn);
		if (!c) {
			dp_stat_add(&w->stale_replies, 1);
			break;
		}
		if (m->op == ZAB_OP_DUMP) { /* text of "dump" */
			size_t before = c->out.len;
			jw_bytes(&c->out, m->body, m->len);
			each_conn_dump(w, c);
			dp_count_4lw_reply(w, c->out.len - before);
			c->state = CS_CLOSING;
			dp_mark_dirty(w, c);
			break;
		}
		c->inflight--;
		c->inflight_bytes -= m->req_len;
		if (m->err == ZAB_UNDECODABLE) {
			dp_conn_close(w, c, "malformed request");
			break;
		}
		dp_send_frame(w, c, m->body, m->len, m->xid, m->zxid, m->err);
		/* one clock read per dequeued batch */
		dp_record_latency(w, c, w->mq_us - m->t0, 1, DP_LAT_UPDATE);
		if (m->op == ZOP_CLOSESESSION) {
			c->session = 0; /* closed: no detach */
			c->state = CS_CLOSING;
			break;
		}
		dp_wake_conn(w, c);
		break;
	case ZM_CONNECTED:
		c = dp_conn_lookup(w, m->conn);
		if (!c || c->state != CS_SESSION)
			break;
		if (m->err == ZAB_UNDECODABLE) {
			/* not serving, or behind what the client saw:
			 * ZooKeeper closes without an answer and the client
			 * tries another server */
			c->session = 0;
			dp_conn_close(w, c, "not serving this client now");
			break;
		}
		{
			size_t at = jw_frame_begin(&c->out);
			jw_int(&c->out, 0); /* protocolVersion */
			jw_int(&c->out, m->session ? m->timeout : 0);
			jw_long(&c->out, m->session);
			jw_buf(&c->out, m->body, ZK_PASSWD_LEN);
			if (c->readonly_sent) /* a read-only session */
				jw_bool(&c->out, m->op == 1);
			jw_frame_end(&c->out, at);
		}
		dp_mark_dirty(w, c);
		if (!m->session) {
			dp_log("refusing session 0x%llx from %s: expired or "
			       "bad password",
			       (unsigned long long)c->session, c->ip);
			c->session = 0;
			c->state = CS_CLOSING;
			break;
		}
		c->session = m->session;
		c->timeout = m->timeout;
		c->state = CS_OPEN;
		dp_wake_conn(w, c);
		break;
	case ZM_KILL:
		c = dp_conn_lookup(w, m->conn);
		if (c) {
			c->session = 0; /* the sequencer already knows */
			dp_conn_close(w, c, "session expired or moved");
		}
		break;
	}
	if (m->zxid > w->seen && m->type != ZM_CONNECTED)
		w->seen = m->zxid;
}

static bool mq_fill(struct dp_worker *w)
{
	if (w->mq_n)
		return true;
	w->mq_head = 0;
	w->mq_n = zab_poll(w->srv->seq, w->idx, w->mq, w->mq_cap);
	if (w->mq_n)
		w->mq_us = zk_clock_us(CLOCK_MONOTONIC);
	return w->mq_n != 0;
}

/* Process sequencer messages whose zxid is <= upto (all if upto < 0). */
void dp_process_msgs(struct dp_worker *w, zxid_t upto)
{
	for (;;) {
		if (!mq_fill(w)) {
			if (upto < 0 || w->seen >= upto)
				return;
			dp_post_flush(w);
			sched_yield(); /* the sequencer is about to send it */
			continue;
		}
		struct zmsg *m = w->mq[w->mq_head];
		if (upto >= 0 && m->zxid > upto &&
		    (m->type == ZM_EVENT || m->type == ZM_APPLIED))
			return;
		w->mq_head++;
		w->mq_n--;
		handle_seq_msg(w, m);
		zmsg_free(m);
	}
}

/* ------------------------------------------------------------------ */
/* Reads                                                                 */
/* ------------------------------------------------------------------ */
static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

/* Zxid a NONODE answer reflects: the pzxid of the nearest ancestor. */
static zxid_t absent_zxid(struct tree *t, const char *path, size_t len)
{
	while (len > 1) {
		while (len > 0 && path[len - 1] != '/')
			len--;
		len = len > 1 ? len - 1 : 1;
		const struct znode *n = tree_lookup(t, path, len);
		if (n) {
			struct zview v;
			znode_view(n, &v);
			return v.stat.pzxid;
		}
	}
	return 0;
}

static int put_child(const char *name, size_t len, void *arg)
{
	struct jw *o = ((struct jw **)arg)[0];
	int32_t *count = ((int32_t **)arg)[1];
	jw_buf(o, name, (int32_t)len);
	(*count)++;
	return 0;
}

struct read_ctx {
	struct dp_worker *w;
	struct dp_conn *c;
	struct jw *o;
	zxid_t z;       /* newest zxid the answer reflects */
};

/* Encode the body of a getData/getChildren(2)/exists/getACL answer for
 * path into ctx->o; returns the error code. */
static int read_node(struct read_ctx *x, int op, const char *path,
		     size_t len)
{
	struct tree *t = x->w->srv->tree;
	if (len == 0) /* DataTree keeps the root under "" too */
		path = "/", len = 1;
	if (op == ZOP_EXISTS && memchr(path, 0, len))
		return ZBADARGUMENTS; /* FinalRequestProcessor's exists check */
	const struct znode *n = tree_lookup(t, path, len);
	if (!n) {
		x->z = max64(x->z, absent_zxid(t, path, len));
		return ZNONODE;
	}
	struct zview v;
	znode_view(n, &v);
	x->z = max64(x->z, max64(v.stat.mzxid, v.stat.pzxid));
	const struct zauth_id *ids = x->c->auth;
	int nids = x->c->nauth;
	switch (op) {
	case ZOP_EXISTS:
		jw_stat(x->o, &v.stat);
		return ZOK;
	case ZOP_GETDATA:
		if (zacl_check(v.acl, ZPERM_READ, ids, nids))
			return ZNOAUTH;
		jw_buf(x->o, v.data, v.data_null ? -1 : v.stat.data_length);
		jw_stat(x->o, &v.stat);
		return ZOK;
	case ZOP_GETACL: {
		if (zacl_check(v.acl, ZPERM_READ | ZPERM_ADMIN, ids, nids))
			return ZNOAUTH;
		bool admin = !zacl_check(v.acl, ZPERM_ADMIN, ids, nids);
		jw_acl(x->o, v.acl, !admin);
		jw_stat(x->o, &v.stat);
		return ZOK;
	}
	case ZOP_GETCHILDREN:
	case ZOP_GETCHILDREN2: {
		if (zacl_check(v.acl, ZPERM_READ, ids, nids))
			return ZNOAUTH;
		size_t at = x->o->len;
		int32_t count = 0;
		jw_int(x->o, 0);
		void *arg[2] = {x->o, &count};
		/* in ZooKeeper's order: clients see it (Curator deletes
		 * children in it, say) */
		if (znode_children_zk(t, n, put_child, arg, &x->w->zorder,
				      false) < 0)
			return ZSYSTEMERROR;
		if (!x->o->err)
			jw_put_int_at(x->o->p + at, count);
		if (op == ZOP_GETCHILDREN2)
			jw_stat(x->o, &v.stat);
		return ZOK;
	}
	case ZOP_GETALLCHILDRENNUMBER: {
		if (zacl_check(v.acl, ZPERM_READ, ids, nids))
			return ZNOAUTH;
		int64_t d = znode_descendants(n);
		if (d < 0)
			return ZSYSTEMERROR;
		jw_int(x->o, (int32_t)d);
		return ZOK;
	}
	}
	return ZUNIMPLEMENTED;
}

/* The table a read's one-shot watch goes to. */
static int watch_table(int op)
{
	switch (op) {
	case ZOP_GETDATA:
	case ZOP_EXISTS:
		return WT_DATA;
	case ZOP_GETCHILDREN:
	case ZOP_GETCHILDREN2:
		return WT_CHILD;
	}
	return 0;
}

/* Queue the scratch answer after delivering events up to z, then set the
 * watches the read asked for (they must not fire for zxids <= z). */
static void finish_read(struct dp_worker *w, struct dp_conn *c, int32_t xid,
			int err, zxid_t z)
{
	dp_process_msgs(w, z);
	if (c->state == CS_FREE)
		return;
	zxid_t applied = tree_applied_zxid(w->srv->tree);
	dp_send_frame(w, c, err ? NULL : w->scratch.p, err ? 0 : w->scratch.len,
		      xid, max64(applied, z), err);
}

struct pend_watch {
	const char *path;
	size_t len;
	int table;
};

static void serve_read(struct dp_worker *w, struct dp_conn *c, int32_t xid,
		       int op, struct jr *r)
{
	struct tree *t = w->srv->tree;
	struct read_ctx x = {.w = w, .c = c, .o = &w->scratch};
	struct pend_watch pw[64];
	int npw = 0;
	int err = ZOK;
	unsigned seq;

	if (op == ZOP_MULTIREAD) {
		/* validate the whole record first */
		size_t start = r->off;
		bool wrong_op = false;
		for (;;) {
			int32_t type = jr_int(r);
			bool done = jr_bool(r);
			jr_int(r);
			if (r->err || done)
				break;
			if (type != ZOP_GETDATA && type != ZOP_GETCHILDREN) {
				/* ZooKeeper decodes it, then refuses it:
				 * MARSHALLINGERROR, the connection stays */
				wrong_op = true;
				break;
			}
			int32_t pl;
			jr_buf(r, &pl);
			jr_bool(r);
			if (r->err || pl < 0) {
				r->err = true;
				break;
			}
		}
		if (r->err) {
			dp_conn_close(w, c, "malformed multiRead");
			return;
		}
		if (wrong_op) {
			finish_read(w, c, xid, ZMARSHALLINGERROR,
				    tree_applied_zxid(t));
			return;
		}
		do {
			seq = tree_read_begin(t);
			w->scratch.len = 0;
			npw = 0;
			x.z = 0;
			struct jr rr = *r;
			rr.off = start;
			for (;;) {
				int32_t type = jr_int(&rr);
				bool done = jr_bool(&rr);
				jr_int(&rr);
				if (done)
					break;
				int32_t pl;
				const char *p = jr_buf(&rr, &pl);
				bool watch = jr_bool(&rr);
				size_t hdr = w->scratch.len;
				jw_int(&w->scratch, type);
				jw_bool(&w->scratch, false);
				jw_int(&w->scratch, 0);
				int e = read_node(&x, type, p, (size_t)pl);
				if (e) {
					w->scratch.len = hdr;
					jw_int(&w->scratch, ZOP_ERROR);
					jw_bool(&w->scratch, false);
					jw_int(&w->scratch, e);
					jw_int(&w->scratch, e);
				} else if (watch && npw < 64) {
					pw[npw++] = (struct pend_watch){
						p, (size_t)pl, watch_table(type)};
				}
			}
			jw_int(&w->scratch, -1);
			jw_bool(&w->scratch, true);
			jw_int(&w->scratch, -1);
		} while (tree_read_retry(t, seq));
		goto done;
	}

	if (op == ZOP_WHOAMI) {
		w->scratch.len = 0;
		jw_int(&w->scratch, c->nauth);
		/* ClientInfo(scheme, provider.getUserName(id)): a digest
		 * id "user:hash" shows as "user"; c->auth is in ZooKeeper's
		 * order (add_auth) */
		for (int i = 0; i < c->nauth; i++) {
			const char *id = c->auth[i].id;
			const char *colon = strchr(id, ':');
			jw_str(&w->scratch, c->auth[i].scheme);
			if (colon && !strcmp(c->auth[i].scheme, "digest"))
				jw_buf(&w->scratch, id, (int32_t)(colon - id));
			else
				jw_str(&w->scratch, id);
		}
		x.z = 0;
		goto done;
	}

	int32_t pl;
	const char *p = jr_buf(r, &pl);
	bool watch = false;
	if (op != ZOP_GETACL && op != ZOP_GETALLCHILDRENNUMBER)
		watch = jr_bool(r);
	if (r->err || pl < 0) {
		dp_conn_close(w, c, "malformed read request");
		return;
	}
	if (watch)
		watch_arm(w);
	do {
		seq = tree_read_begin(t);
		w->scratch.len = 0;
		x.z = 0;
		err = read_node(&x, op, p, (size_t)pl);
	} while (tree_read_retry(t, seq));
	if (watch && (err == ZOK || (op == ZOP_EXISTS && err == ZNONODE)))
		pw[npw++] = (struct pend_watch){p, (size_t)pl, watch_table(op)};
	if (op == ZOP_EXISTS && err == ZNONODE) {
		/* exists answers NONODE with no body */
	}
done:
	if (w->scratch.err) {
		w->scratch.err = false;
		err = ZSYSTEMERROR;
		npw = 0;
	}
	finish_read(w, c, xid, err, x.z);
	if (c->state == CS_FREE)
		return;
	for (int i = 0; i < npw; i++)
		wt_add(w->watches, pw[i].path, pw[i].len, &c->watches,
		       pw[i].table, WM_STANDARD, x.z);
}

/* setWatches / setWatches2 (DataTree.setWatches). */
static void serve_setwatches(struct dp_worker *w, struct dp_conn *c,
			     int32_t xid, int op, struct jr *r)
{
	struct tree *t = w->srv->tree;
	int64_t rel = jr_long(r);
	int nvec = op == ZOP_SETWATCHES2 ? 5 : 3;
	size_t start = r->off;
	for (int v = 0; v < nvec; v++) {
		int32_t n = jr_vec(r, 4);
		for (int i = 0; i < n && !r->err; i++) {
			int32_t l;
			jr_buf(r, &l);
			if (l < 0)
				r->err = true;
		}
	}
	if (r->err) {
		dp_conn_close(w, c, "malformed setWatches");
		return;
	}
	watch_arm(w);
	zxid_t z = tree_applied_zxid(t);
	dp_process_msgs(w, z);
	if (c->state == CS_FREE)
		return;
	r->off = start;
	for (int v = 0; v < nvec; v++) {
		int32_t n = jr_vec(r, 4);
		for (int i = 0; i < n; i++) {
			int32_t l;
			const char *p = jr_buf(r, &l);
			const struct znode *node = tree_lookup(t, p, (size_t)l);
			const struct zstat *st = NULL;
			struct zview vw;
			if (node) {
				znode_view(node, &vw);
				st = &vw.stat;
			}
			int ev = 0, table = 0, mode = WM_STANDARD;
			switch (v) {
			case 0: /* data */
				if (!st)
					ev = ZEV_DELETED;
				else if (st->mzxid > rel)
					ev = ZEV_DATA_CHANGED;
				else
					table = WT_DATA;
				break;
			case 1: /* exist */
				if (st)
					ev = ZEV_CREATED;
				else
					table = WT_DATA;
				break;
			case 2: /* child */
				if (!st)
					ev = ZEV_DELETED;
				else if (st->pzxid > rel)
					ev = ZEV_CHILD_CHANGED;
				else
					table = WT_CHILD;
				break;
			case 3:
			case 4:
				table = WT_DATA | WT_CHILD;
				mode = v == 3 ? WM_PERSISTENT : WM_RECURSIVE;
				break;
			}
			if (table) {
				for (int k = WT_DATA; k <= WT_CHILD; k++)
					if (table & k)
						wt_add(w->watches, p, (size_t)l,
						       &c->watches, k, mode, z);
			} else {
				struct zmsg *m = zmsg_new(ZM_EVENT, (uint32_t)l);
				if (!m)
					continue;
				m->err = ev;
				memcpy(m->body, p, (size_t)l);
				/* unfiltered, as ZooKeeper's process(event) */
				void *arg[3] = {w, m, NULL};
				notify(&c->watches, arg);
				zmsg_free(m);
			}
		}
	}
	dp_send_frame(w, c, NULL, 0, xid, z, 0);
}

/* checkWatches / removeWatches / addWatch */
static void serve_watchop(struct dp_worker *w, struct dp_conn *c, int32_t xid,
			  int op, struct jr *r)
{
	int32_t pl;
	const char *p = jr_buf(r, &pl);
	int32_t type = jr_int(r);
	if (r->err || pl < 0) {
		dp_conn_close(w, c, "malformed watch request");
		return;
	}
	if (op == ZOP_ADDWATCH)
		watch_arm(w);
	zxid_t z = tree_applied_zxid(w->srv->tree);
	int err = ZOK;
	if (op == ZOP_ADDWATCH) {
		/* DataTree.addWatch: the mode goes to both tables */
		if (type != 0 && type != 1) {
			/* WatcherMode.fromZooDef throws: MARSHALLINGERROR,
			 * the connection stays */
			err = ZMARSHALLINGERROR;
		} else {
			dp_process_msgs(w, z);
			if (c->state == CS_FREE)
				return;
			int mode = type ? WM_RECURSIVE : WM_PERSISTENT;
			err = wt_add(w->watches, p, (size_t)pl, &c->watches,
				     WT_DATA, mode, z);
			if (!err)
				err = wt_add(w->watches, p, (size_t)pl,
					     &c->watches, WT_CHILD, mode, z);
		}
	} else {
		/* DataTree.removeWatch / containsWatcher by ZooKeeper 3.8's
		 * WatcherType: Children 1, Data 2, Any 3 (Persistent and
		 * PersistentRecursive came in 3.9).  A table's watch of any
		 * mode counts: removing Data from a persistent watch leaves
		 * its child part (WatchManager.removeWatcher) */
		static const int tables[] = {0, WT_CHILD, WT_DATA,
					     WT_DATA | WT_CHILD};
		if (type < 1 || type > 3) {
			err = ZMARSHALLINGERROR; /* WatcherType.fromInt throws */
		} else {
			bool found =
				op == ZOP_REMOVEWATCHES
					? wt_remove(w->watches, p, (size_t)pl,
						    &c->watches, tables[type], 0)
					: wt_has(w->watches, p, (size_t)pl,
						 &c->watches, tables[type], 0);
			if (!found)
				err = ZNOWATCHER;
		}
	}
	/* addWatch answers an ErrorResponse (an int 0) after the header,
	 * which the Java client reads; the other two answer nothing */
	static const uint8_t zero[4];
	bool body = op == ZOP_ADDWATCH && err == ZOK;
	dp_send_frame(w, c, body ? zero : NULL, body ? sizeof(zero) : 0, xid, z,
		      err);
}

/* ------------------------------------------------------------------ */
/* Requests                                                              */
/* ------------------------------------------------------------------ */
bool dp_op_is_read(int op)
{
	switch (op) {
	case ZOP_EXISTS:
	case ZOP_GETDATA:
	case ZOP_GETACL:
	case ZOP_GETCHILDREN:
	case ZOP_GETCHILDREN2:
	case ZOP_GETALLCHILDRENNUMBER:
	case ZOP_MULTIREAD:
	case ZOP_WHOAMI:
	case ZOP_PING:
	case ZOP_SETWATCHES:
	case ZOP_SETWATCHES2:
	case ZOP_ADDWATCH:
	case ZOP_REMOVEWATCHES:
	case ZOP_CHECKWATCHES:
		return true;
	}
	return false;
}

bool dp_op_is_write(int op)
{
	switch (op) {
	case ZOP_CREATE:
	case ZOP_CREATE2:
	case ZOP_CREATECONTAINER:
	case ZOP_CREATETTL:
	case ZOP_DELETE:
	case ZOP_SETDATA:
	case ZOP_SETACL:
	case ZOP_CHECK:
	case ZOP_MULTI:
	case ZOP_SYNC:
	case ZOP_GETEPHEMERALS:
	case ZOP_CLOSESESSION:
	case ZOP_RECONFIG:	   /* refused by prep, from an error txn */
	case ZOP_DELETECONTAINER: /* likewise */
		return true;
	}
	return false;
}

static void handle_auth(struct dp_worker *w, struct dp_conn *c,
			struct jr *r)
{
	jr_int(r); /* type, always 0 */
	int32_t sl, al;
	const char *scheme = jr_buf(r, &sl);
	const char *auth = jr_buf(r, &al);
	if (r->err || sl < 0) {
		dp_conn_close(w, c, "malformed auth packet");
		return;
	}
	zxid_t z = tree_applied_zxid(w->srv->tree);
	/* IPAuthenticationProvider: whatever the auth bytes, the id is the
	 * connection's own address (already in the set) */
	if (sl == 2 && !memcmp(scheme, "ip", 2) &&
	    dp_conn_add_auth(c, "ip", c->ip, strlen(c->ip)) == 0) {
		dp_send_frame(w, c, NULL, 0, ZXID_AUTH, z, ZOK);
		return;
	}
	if (sl == 6 && !memcmp(scheme, "digest", 6) && al >= 0) {
		char digest[512];
		if (zk_digest(auth, (size_t)al, digest, sizeof(digest)) > 0 &&
		    dp_conn_add_auth(c, "digest", digest, strlen(digest)) ==
			0) {
			const char *sd = w->srv->cfg->super_digest;
			if (sd[0] && !strcmp(sd, digest))
				dp_conn_add_auth(c, "super", "", 0);
			dp_send_frame(w, c, NULL, 0, ZXID_AUTH, z, ZOK);
			return;
		}
	}
	/* Unknown scheme or a failed authentication: ZooKeeper answers
	 * AUTHFAILED and closes the connection. */
	dp_log("authentication failed for scheme '%.*s' from %s", (int)sl,
	       scheme, c->ip);
	dp_send_frame(w, c, NULL, 0, ZXID_AUTH, z, ZAUTHFAILED);
	atomic_fetch_add_explicit(&w->auth_failed, 1, memory_order_relaxed);
	c->state = CS_CLOSING;
}

/* ZooKeeperServer.processSasl: GetSASLRequest {token} in, SetSASLResponse
 * {token} out; done, the connection is sasl:<user>; failed, AUTHFAILED
 * and the connection closes. */
static void handle_sasl(struct dp_worker *w, struct dp_conn *c, int32_t xid,
			struct jr *r)
{
	int32_t tl;
	const char *tok = jr_buf(r, &tl);
	if (r->err) {
		dp_conn_close(w, c, "malformed SASL packet");
		return;
	}
	const uint8_t *out;
	size_t outlen;
	const char *user;
	int rc = dp_sasl_step(&c->sasl, (const uint8_t *)tok,
			      tl > 0 ? (size_t)tl : 0, &out, &outlen, &user);
	zxid_t z = tree_applied_zxid(w->srv->tree);
	if (rc < 0) {
		dp_log("SASL authentication failed from %s: %s", c->ip, user);
		static const uint8_t none[4] = {0xff, 0xff, 0xff, 0xff};
		/* SetSASLResponse(null): a buffer of length -1 */
		dp_send_frame(w, c, none, 4, xid, 0, ZAUTHFAILED);
		atomic_fetch_add_explicit(&w->auth_failed, 1,
					  memory_order_relaxed);
		c->state = CS_CLOSING;
		return;
	}
	if (rc == 1 && dp_conn_add_auth(c, "sasl", user, strlen(user))) {
		dp_conn_close(w, c, "out of memory");
		return;
	}
	w->scratch.len = 0;
	jw_buf(&w->scratch, out, (int32_t)outlen);
	if (w->scratch.err) {
		dp_conn_close(w, c, "out of memory");
		return;
	}
	dp_send_frame(w, c, w->scratch.p, w->scratch.len, xid, z, ZOK);
}

static void post_write(struct dp_worker *w, struct dp_conn *c, int32_t xid,
		       int op, const uint8_t *body, size_t len, int64_t t0)
{
	struct jw a = {0};
	zab_auth_write(&a, c->auth, c->nauth);
	struct zmsg *m = a.err ? NULL : zmsg_new(ZM_REQUEST,
						 (uint32_t)(a.len + len));
	if (!m) {
		jw_free(&a);
		dp_send_frame(w, c, NULL, 0, xid,
			      tree_applied_zxid(w->srv->tree), ZSYSTEMERROR);
		return;
	}
	m->conn = (struct zconn_ref){(uint16_t)w->idx, c->slot, c->gen};
	m->xid = xid;
	m->op = op;
	m->session = c->session;
	m->t0 = t0;
	m->auth_len = (uint32_t)a.len;
	memcpy(m->body, a.p, a.len);
	memcpy(m->body + a.len, body, len);
	jw_free(&a);
	m->req_len = (uint32_t)(len + sizeof(*m));
	c->inflight++;
	c->inflight_bytes += m->req_len;
	dp_outstanding_add(w, 1);
	dp_post(w, m);
}

/* Handle one request frame of an open connection (parse_frames checked
 * that it need not wait). */
void dp_handle_request(struct dp_worker *w, struct dp_conn *c, const uint8_t *p,
		       size_t len)
{
	struct jr r;
	jr_init(&r, p, len);
	int32_t xid = jr_int(&r);
	int32_t op = jr_int(&r);
	if (r.err) {
		dp_conn_close(w, c, "truncated request header");
		return;
	}
	int64_t t0 = w->rx_us;
	c->touched = true;
	c->last_op = op;
	c->last_cxid = xid;
	dp_stat_add(&c->recv, 1);
	dp_stat_add(&w->packets_recv, 1);
	if (op == ZOP_AUTH) {
		handle_auth(w, c, &r);
		return;
	}
	if (op == ZOP_SASL) {
		handle_sasl(w, c, xid, &r);
		return;
	}
	if (dp_op_is_write(op)) {
		post_write(w, c, xid, op, p + r.off, len - r.off, t0);
		return;
	}
	zxid_t z = tree_applied_zxid(w->srv->tree);
	switch (op) {
	case ZOP_PING:
		dp_send_frame(w, c, NULL, 0, ZXID_PING, z, ZOK);
		return;
	case ZOP_SETWATCHES:
	case ZOP_SETWATCHES2:
		serve_setwatches(w, c, xid, op, &r);
		return;
	case ZOP_ADDWATCH:
	case ZOP_REMOVEWATCHES:
	case ZOP_CHECKWATCHES:
		serve_watchop(w, c, xid, op, &r);
		return;
	default:
		if (dp_op_is_read(op)) {
			serve_read(w, c, xid, op, &r);
			w->burst_reads++; /* timed at the end of the burst */
			return;
		}
	}
	dp_log("unknown opcode %d from %s (xid %d)", op, c->ip, xid);
	dp_send_frame(w, c, NULL, 0, xid, z, ZUNIMPLEMENTED);
	c->state = CS_CLOSING;
}

void dp_handle_connect(struct dp_worker *w, struct dp_conn *c, const uint8_t *p,
		       size_t len)
{
	struct jr r;
	jr_init(&r, p, len);
	jr_int(&r); /* protocolVersion */
	int64_t last_zxid = jr_long(&r);
	int32_t timeout = jr_int(&r);
	int64_t session = jr_long(&r);
	int32_t pl;
	const char *pw = jr_buf(&r, &pl);
	if (r.err) {
		dp_conn_close(w, c, "malformed ConnectRequest");
		return;
	}
	/* ZooKeeperServer.processConnectRequest counts a ConnectRequest
	 * read (connection_request_count); a connection that never sends
	 * one (a four-letter word) is not counted */
	dp_stat_add(&w->conn_requests, 1);
	bool readonly = false;
	if (jr_left(&r) >= 1) {
		readonly = jr_bool(&r);
		c->readonly_sent = true;
	}
	zxid_t applied = tree_applied_zxid(w->srv->tree);
	if (last_zxid > applied) {
		char why[160];
		snprintf(why, sizeof(why),
			 "client has seen zxid 0x%llx, our last zxid is "
			 "0x%llx",
			 (unsigned long long)last_zxid,
			 (unsigned long long)applied);
		dp_conn_close(w, c, why);
		return;
	}
	struct zmsg *m = zmsg_new(ZM_CONNECT, ZK_PASSWD_LEN);
	if (!m) {
		dp_conn_close(w, c, "out of memory");
		return;
	}
	m->conn = (struct zconn_ref){(uint16_t)w->idx, c->slot, c->gen};
	m->session = session;
	m->timeout = timeout;
	m->zxid = last_zxid;
	m->op = readonly; /* the client accepts a read-only server */
	memset(m->body, 0, ZK_PASSWD_LEN);
	if (pw && pl > 0)
		memcpy(m->body, pw, pl < ZK_PASSWD_LEN ? (size_t)pl
						      : ZK_PASSWD_LEN);
	c->session = session;
	c->state = CS_SESSION;
	c->touched = true;
	/* X509AuthenticationProvider: a verified client certificate's
	 * subject is the connection's "x509" id */
	char id[512];
	size_t idl = w->srv->cfg->x509_auth && w->io->peer_id
			     ? w->io->peer_id(w->be, &c->link, id, sizeof(id))
			     : 0;
	if (idl)
		dp_conn_add_auth(c, "x509", id, idl);
	dp_post(w, m);
}

