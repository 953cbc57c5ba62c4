/*
 * txn.c — the transaction record: what the sequencer logs for every zxid
 * and how it is applied to the tree, live and at recovery.
 *
 * A record (jute encoding, inside the log's framing — log/FORMAT.md):
 *   int  type      1 steps (a write), 2 error (a failed write: it still
 *                  takes a zxid, as ZooKeeper's ErrorTxn), 3 createSession,
 *                  4 closeSession, 5 steps from the container manager
 *   long time      ms since the epoch (ctime/mtime of the changes)
 *   long session
 *   type 1, 5: int n, then n steps:
 *     int kind (1 create, 2 delete, 3 setData, 4 setACL, 5 check),
 *     ustring path, then create: buffer data, vector<ACL>, long owner;
 *     setData: buffer data, int new version; setACL: vector<ACL>, int new
 *     aversion
 *   type 3: int timeout, buffer passwd
 *
 * Replay over a fuzzy snapshot (taken while writes went on, so any node
 * may already show changes made after the snapshot's zxid) must apply
 * each change exactly once.  The snapshot visits a parent before its
 * children, and pzxid / mzxid / aversion only grow, so for a transaction
 * at zxid Z:
 *   create, delete: if the parent's pzxid > Z, or == Z without an
 *     earlier step of the same multi having set it, the snapshot saw the
 *     parent after Z (and the child after that): skip.  (The snapshot
 *     reads each node inside the tree's seqcount, so a node never shows
 *     half a multi.)  Otherwise, if the
 *     child is already there (create) or already gone or re-created
 *     (delete), only the parent's side is applied; else the whole change.
 *   setData: skip if the node is missing or its mzxid >= Z.
 *   setACL: skip if the node is missing or its aversion >= the new one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/seq_int.h"

enum { TX_STEPS = 1, TX_ERROR, TX_SESSION_NEW, TX_SESSION_CLOSE, TX_REAP };

void step_free(struct step *st)
{
	free(st->path);
	zacl_release(st->acl);
	memset(st, 0, sizeof(*st));
}

int txn_apply_step(struct zab_seq *s, struct step *st, zxid_t zxid,
		   int64_t now, struct jw *out, bool events)
{
	struct zstat stat;
	int rc = ZOK;
	size_t pl = zk_parent_len(st->path, st->len);
	switch (st->kind) {
	case ST_CREATE:
		rc = tree_node_create(s->tree, st->path, st->len, st->data,
				      st->data_len, st->acl, st->owner, zxid,
				      now, &stat);
		if (rc)
			break;
		if (zk_owner_is_session(st->owner))
			atomic_fetch_add(&s->stats.ephemerals, 1);
		if (events) {
			seq_send_event(s, ZEV_CREATED, st->path, st->len, zxid,
				       NULL);
			seq_send_event(s, ZEV_CHILD_CHANGED, st->path, pl, zxid,
				       NULL);
		}
		if (out) {
			jw_buf(out, st->path, (int32_t)st->len);
			if (st->op != ZOP_CREATE)
				jw_stat(out, &stat);
		}
		break;
	case ST_DELETE: {
		const struct znode *n = tree_lookup(s->tree, st->path, st->len);
		bool eph = false;
		/* the deleted version (and its ACL) stays readable until this
		 * thread's next quiescent state */
		const struct zacl *acl = NULL;
		if (n) {
			struct zview v;
			znode_view(n, &v);
			eph = zk_owner_is_session(v.stat.ephemeral_owner);
			acl = v.acl;
		}
		rc = tree_node_delete(s->tree, st->path, st->len, zxid);
		if (rc)
			break;
		if (eph)
			atomic_fetch_sub(&s->stats.ephemerals, 1);
		if (events) {
			seq_send_event(s, ZEV_DELETED, st->path, st->len, zxid,
				       acl);
			seq_send_event(s, ZEV_CHILD_CHANGED, st->path, pl, zxid,
				       NULL);
		}
		break;
	}
	case ST_SETDATA:
		rc = tree_node_set_data(s->tree, st->path, st->len, st->data,
					st->data_len, zxid, now, &stat);
		if (rc)
			break;
		if (events)
			seq_send_event(s, ZEV_DATA_CHANGED, st->path, st->len,
				       zxid, NULL);
		if (out)
			jw_stat(out, &stat);
		break;
	case ST_SETACL:
		rc = tree_node_set_acl(s->tree, st->path, st->len, st->acl,
				       zxid, &stat);
		if (!rc && out)
			jw_stat(out, &stat);
		break;
	case ST_CHECK:
		break;
	}
	return rc;
}

void paths_add(struct paths *x, const char *path, size_t len)
{
	if (x->n == x->cap) {
		int cap = x->cap ? x->cap * 2 : 16;
		char **np = realloc(x->p, (size_t)cap * sizeof(*np));
		if (np)
			x->p = np;
		size_t *nl = realloc(x->l, (size_t)cap * sizeof(*nl));
		if (nl)
			x->l = nl;
		if (!np || !nl)
			return;
		x->cap = cap;
	}
	x->p[x->n] = jr_dup(path, len);
	if (x->p[x->n])
		x->l[x->n++] = len;
}

void paths_free(struct paths *x)
{
	for (int i = 0; i < x->n; i++)
		free(x->p[i]);
	free(x->p);
	free(x->l);
	memset(x, 0, sizeof(*x));
}

static void collect(const char *path, size_t len, void *arg)
{
	paths_add(arg, path, len);
}

void txn_close_session(struct zab_seq *s, int64_t session, zxid_t zxid,
		       bool events)
{
	struct paths x = {0};
	tree_ephemerals(s->tree, session, collect, &x);
	for (int i = 0; i < x.n; i++) {
		struct step st = {.kind = ST_DELETE, .path = x.p[i],
				  .len = x.l[i]};
		txn_apply_step(s, &st, zxid, 0, NULL, events);
	}
	paths_free(&x);
}

/* ------------------------------------------------------------------ */
static void put_acl(struct jw *w, const struct zacl *a)
{
	jw_acl(w, a, false);
}

void txn_encode(struct zab_seq *s, const struct ptxn *t)
{
	struct jw *w = &s->rec;
	w->len = 0;
	int type;
	switch (t->kind) {
	case PT_REQUEST:
		type = (t->err || t->failed >= 0) ? TX_ERROR : TX_STEPS;
		break;
	case PT_REAP:
		type = TX_REAP;
		break;
	case PT_SESSION_NEW:
		type = TX_SESSION_NEW;
		break;
	case PT_SESSION_CLOSE:
		type = TX_SESSION_CLOSE;
		break;
	default:
		return;
	}
	jw_int(w, type);
	jw_long(w, t->time);
	jw_long(w, t->session);
	if (type == TX_SESSION_NEW) {
		jw_int(w, t->sess->timeout);
		jw_buf(w, t->sess->passwd, ZK_PASSWD_LEN);
		return;
	}
	if (type != TX_STEPS && type != TX_REAP)
		return;
	jw_int(w, t->n);
	for (int i = 0; i < t->n; i++) {
		const struct step *st = &t->st[i];
		jw_int(w, st->kind);
		jw_buf(w, st->path, (int32_t)st->len);
		switch (st->kind) {
		case ST_CREATE:
			jw_buf(w, st->data, st->data_len);
			put_acl(w, st->acl);
			jw_long(w, st->owner);
			break;
		case ST_SETDATA:
			jw_buf(w, st->data, st->data_len);
			jw_int(w, st->version);
			break;
		case ST_SETACL:
			put_acl(w, st->acl);
			jw_int(w, st->version);
			break;
		default:
			break;
		}
	}
}

/* The stat of path into *out; NULL if there is no such node. */
static const struct zstat *stat_of(struct zab_seq *s, const char *path,
				   size_t len, struct zstat *out)
{
	const struct znode *n = tree_lookup(s->tree, path, len);
	if (!n)
		return NULL;
	struct zview v;
	znode_view(n, &v);
	*out = v.stat;
	return out;
}

/* Did an earlier step of this same transaction change `path`'s
 * children?  Then its pzxid == zxid comes from the replay, not from the
 * snapshot. */
static bool touched_here(const struct paths *here, const char *path,
			 size_t len)
{
	for (int i = 0; i < here->n; i++)
		if (here->l[i] == len && !memcmp(here->p[i], path, len))
			return true;
	return false;
}

/* Apply one logged change exactly once over a fuzzy snapshot (see the
 * rules at the top of this file).  `here`: parents this transaction's
 * earlier steps changed. */
static int replay_step(struct zab_seq *s, struct step *st, zxid_t zxid,
		       int64_t time, struct paths *here)
{
	size_t pl = zk_parent_len(st->path, st->len);
	struct zstat node_st, parent_st;
	const struct zstat *node = stat_of(s, st->path, st->len, &node_st);
	const struct zstat *parent;
	switch (st->kind) {
	case ST_CREATE:
	case ST_DELETE:
		parent = stat_of(s, st->path, pl, &parent_st);
		if (!parent || parent->pzxid > zxid ||
		    (parent->pzxid == zxid && !touched_here(here, st->path, pl)))
			return ZOK;
		if (!touched_here(here, st->path, pl))
			paths_add(here, st->path, pl);
		if (st->kind == ST_CREATE && node)
			return tree_node_child_changed(s->tree, st->path, pl, 1,
						       zxid);
		if (st->kind == ST_DELETE && (!node || node->czxid > zxid))
			return tree_node_child_changed(s->tree, st->path, pl, -1,
						       zxid);
		break;
	case ST_SETDATA:
		if (!node || node->mzxid >= zxid)
			return ZOK;
		break;
	case ST_SETACL:
		if (!node || node->aversion >= st->version)
			return ZOK;
		break;
	case ST_CHECK:
		return ZOK;
	}
	return txn_apply_step(s, st, zxid, time, NULL, false);
}

int txn_replay(struct zab_seq *s, zxid_t zxid, const void *p, size_t len)
{
	struct jr r;
	jr_init(&r, p, len);
	int type = jr_int(&r);
	int64_t time = jr_long(&r);
	int64_t session = jr_long(&r);
	if (r.err)
		return ZMARSHALLINGERROR;
	if (zxid > s->zxid)
		s->zxid = zxid;
	int rc = ZOK;
	tree_write_begin(s->tree);
	switch (type) {
	case TX_ERROR:
		break;
	case TX_SESSION_NEW: {
		int32_t timeout = jr_int(&r), pl;
		const char *pw = jr_buf(&r, &pl);
		if (r.err || pl != ZK_PASSWD_LEN) {
			rc = ZMARSHALLINGERROR;
			break;
		}
		if (!seq_sess_find(s, session) &&
		    !seq_sess_add(s, session, timeout, (const uint8_t *)pw))
			rc = ZSYSTEMERROR;
		if (session >= s->next_session)
			s->next_session = session + 1;
		break;
	}
	case TX_SESSION_CLOSE: {
		txn_close_session(s, session, zxid, false);
		struct zsession *z = seq_sess_find(s, session);
		if (z)
			seq_sess_remove(s, z);
		break;
	}
	case TX_STEPS:
	case TX_REAP: {
		struct paths here = {0};
		int32_t n = jr_vec(&r, 8);
		for (int i = 0; i < n && !r.err; i++) {
			struct step st = {0};
			int32_t pl;
			st.kind = (enum step_kind)jr_int(&r);
			const char *path = jr_buf(&r, &pl);
			if (r.err || pl < 0)
				break;
			st.path = jr_dup(path, (size_t)pl);
			st.len = (size_t)pl;
			st.op = ZOP_CREATE;
			switch (st.kind) {
			case ST_CREATE:
				st.data = jr_buf(&r, &st.data_len);
				st.acl = prep_acl_intern(s, jr_acl(&r));
				st.owner = jr_long(&r);
				if (!st.acl)
					r.err = true;
				break;
			case ST_SETDATA:
				st.data = jr_buf(&r, &st.data_len);
				st.version = jr_int(&r);
				break;
			case ST_SETACL:
				st.acl = prep_acl_intern(s, jr_acl(&r));
				st.version = jr_int(&r);
				if (!st.acl)
					r.err = true;
				break;
			default:
				break;
			}
			if (!r.err && st.path) {
				int e = replay_step(s, &st, zxid, time, &here);
				if (e)
					rc = e;
			}
			step_free(&st);
		}
		paths_free(&here);
		if (r.err)
			rc = ZMARSHALLINGERROR;
		break;
	}
	default:
		rc = ZMARSHALLINGERROR;
	}
	tree_write_end(s->tree, zxid);
	s->applied = zxid;
	return rc;
}

/* Sessions blob: int count, then (long id, int timeout, buffer passwd). */
void txn_sessions_encode(struct zab_seq *s, struct jw *out)
{
	jw_int(out, (int32_t)s->nsess);
	for (size_t b = 0; b < s->nbuckets; b++)
		for (struct zsession *z = s->sess[b]; z; z = z->next) {
			jw_long(out, z->id);
			jw_int(out, z->timeout);
			jw_buf(out, z->passwd, ZK_PASSWD_LEN);
		}
}

int txn_sessions_decode(struct zab_seq *s, const void *p, size_t len)
{
	struct jr r;
	jr_init(&r, p, len);
	int32_t n = jr_vec(&r, 16);
	for (int i = 0; i < n && !r.err; i++) {
		int64_t id = jr_long(&r);
		int32_t timeout = jr_int(&r), pl;
		const char *pw = jr_buf(&r, &pl);
		if (r.err || pl != ZK_PASSWD_LEN)
			return ZMARSHALLINGERROR;
		if (!seq_sess_find(s, id) &&
		    !seq_sess_add(s, id, timeout, (const uint8_t *)pw))
			return ZSYSTEMERROR;
		if (id >= s->next_session)
			s->next_session = id + 1;
	}
	return r.err ? ZMARSHALLINGERROR : ZOK;
}
