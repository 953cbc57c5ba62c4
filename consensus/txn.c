/*
 * txn.c — the transaction record: what the sequencer logs for every zxid
 * and how it is applied to the tree, live and at recovery.
 *
 * A record is Apache ZooKeeper 3.8's own transaction record, the bytes
 * its txn log holds and a ZAB PROPOSAL carries (consensus/zkfmt_int.h):
 * TxnHeader {clientId = session, cxid = the request's xid, zxid, time,
 * type} and the record PrepRequestProcessor makes for that type:
 *   create family   CreateTxn (ephemeral = a session owns it,
 *                   parentCVersion = the parent's cversion after it),
 *                   CreateContainerTxn, CreateTTLTxn (the TTL)
 *   delete          DeleteTxn; deleteContainer for the container
 *                   manager's deletions (one transaction each)
 *   setData/setACL  the new version / aversion
 *   a failed write  ErrorTxn(code) (it still takes a zxid)
 *   multi           MultiTxn; when it fails, the ops before the failing
 *                   one keep their records, the failing one is
 *                   ErrorTxn(code), those after ErrorTxn(-2)
 *   sessions        CreateSessionTxn {timeOut} (the password is derived
 *                   from the id, zk_session_passwd), CloseSessionTxn
 *                   {the session's ephemerals when it was prepared}
 * In an ensemble (digest.enabled) the TxnDigest follows: the tree digest
 * once the transaction is applied, as prep predicted it (seq_int.h,
 * zab_seq.pdigest); error txns have none, as in ZooKeeper.  txn_decode turns a record back into the steps prep made, so
 * the leader (from prep), followers and recovery (from the record) apply
 * through the same txn_apply_step.  It changes only the tree and returns
 * the rest (watch events, the ephemeral count) as a struct txn_effects;
 * seq_apply_step (sequencer.c) acts on that: it sends the events live
 * and only counts at recovery.
 *
 * Replay over a fuzzy snapshot (taken while writes went on, so any node
 * may already show changes made after the snapshot's zxid) must apply
 * each change exactly once.  The snapshot visits a parent before its
 * children, and pzxid / mzxid / aversion only grow, so for a transaction
 * at zxid Z:
 *   create, delete: if the parent's pzxid > Z, or == Z without an
 *     earlier step of the same multi having set it (by changing its
 *     children or by creating it), the snapshot saw the
 *     parent after Z (and the child after that): skip.  (The snapshot
 *     reads each node inside the tree's seqcount, so a node never shows
 *     half a multi.)  Otherwise, if the
 *     child is already there (create) or already gone or re-created,
 *     at Z too when not by an earlier step (delete), only the parent's
 *     side is applied
 *     (tree_node_child_replayed: its count of creates, and numChildren
 *     counted, since the snapshot's may or may not include a child the
 *     walk missed); else the whole change.
 *   closeSession: each path its record lists (paths2Delete) as a
 *     delete, so a parent whose ephemeral the walk missed still gets its
 *     side; a record without the list (ZooKeeper's with
 *     closeSessionTxn disabled) deletes the ephemerals the tree has.
 *   setData: skip if the node is missing or its mzxid > Z, or == Z
 *     without an earlier step of the same multi having set it (a create
 *     or a setData of the same node).
 *   setACL: skip if the node is missing, was created after Z (the
 *     snapshot holds a later node of that name, whose aversion started
 *     again from 0) or its aversion >= the new one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/seq_int.h"
#include "consensus/zkfmt_int.h"

void step_free(struct step *st)
{
	free(st->own);
	zacl_release(st->acl);
	memset(st, 0, sizeof(*st));
}

static void fx_event(struct txn_effects *fx, int type, const char *path,
		     size_t len, const struct zacl *acl)
{
	fx->ev[fx->n++] = (struct txn_event){type, path, len, acl};
}

int txn_apply_step(struct tree *tree, struct step *st, zxid_t zxid, int64_t now,
		   struct jw *out, struct txn_effects *fx)
{
	struct zstat stat;
	int rc = ZOK;
	size_t pl = zk_parent_len(st->path, st->len);
	fx->ephemerals = 0;
	fx->n = 0;
	switch (st->kind) {
	case ST_CREATE:
		if (st->has_dcrc)
			tree_digest_hint(tree, st->dcrc);
		rc = tree_node_create(tree, st->path, st->len, st->data,
				      st->data_len, st->acl, st->owner, zxid,
				      now, &stat);
		if (rc)
			break;
		if (zk_owner_is_session(st->owner))
			fx->ephemerals = 1;
		fx_event(fx, ZEV_CREATED, st->path, st->len, NULL);
		fx_event(fx, ZEV_CHILD_CHANGED, st->path, pl, NULL);
		if (out) {
			jw_buf(out, st->path, (int32_t)st->len);
			if (st->op != ZOP_CREATE)
				jw_stat(out, &stat);
		}
		break;
	case ST_DELETE: {
		const struct znode *n = tree_lookup(tree, st->path, st->len);
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
		rc = tree_node_delete(tree, st->path, st->len, zxid);
		if (rc)
			break;
		if (eph)
			fx->ephemerals = -1;
		fx_event(fx, ZEV_DELETED, st->path, st->len, acl);
		fx_event(fx, ZEV_CHILD_CHANGED, st->path, pl, NULL);
		break;
	}
	case ST_SETDATA:
		if (st->has_dcrc)
			tree_digest_hint(tree, st->dcrc);
		rc = tree_node_set_data(tree, st->path, st->len, st->data,
					st->data_len, zxid, now, &stat);
		if (rc)
			break;
		fx_event(fx, ZEV_DATA_CHANGED, st->path, st->len, NULL);
		if (out)
			jw_stat(out, &stat);
		break;
	case ST_SETACL:
		rc = tree_node_set_acl(tree, st->path, st->len, st->acl, zxid,
				       &stat);
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
		seq_apply_step(s, &st, zxid, 0, NULL, events);
	}
	paths_free(&x);
}

/* ------------------------------------------------------------------ */
/* Records: ZooKeeper's own (consensus/zkfmt_int.h)                     */
/* ------------------------------------------------------------------ */
static struct zk_buf zbuf(const char *p, int32_t len)
{
	return (struct zk_buf){len < 0 ? NULL : p, len < 0 ? -1 : len};
}

static struct zk_acls zacls(const struct zacl *a)
{
	return (struct zk_acls){.n = a ? a->n : -1, .zacl = a};
}

/* The record of one step (PrepRequestProcessor.pRequest2Txn*). */
static void step_body(const struct step *st, struct zk_body *b)
{
	memset(b, 0, sizeof(*b));
	b->type = st->op;
	struct zk_buf path = zbuf(st->path, (int32_t)st->len);
	switch (st->kind) {
	case ST_CREATE:
		b->rec = st->op == ZOP_CREATECONTAINER ? ZK_REC_CREATE_CONTAINER
			 : st->op == ZOP_CREATETTL     ? ZK_REC_CREATE_TTL
						       : ZK_REC_CREATE;
		b->create.path = path;
		b->create.data = zbuf(st->data, st->data_len);
		b->create.acl = zacls(st->acl);
		b->create.ephemeral = zk_owner_is_session(st->owner);
		b->create.parent_cversion = st->version;
		b->create.ttl = st->op == ZOP_CREATETTL ? zk_owner_ttl(st->owner)
							: 0;
		break;
	case ST_DELETE:
		b->rec = ZK_REC_DELETE;
		b->del.path = path;
		break;
	case ST_SETDATA:
		b->rec = ZK_REC_SET_DATA;
		b->set_data.path = path;
		b->set_data.data = zbuf(st->data, st->data_len);
		b->set_data.version = st->version;
		break;
	case ST_SETACL:
		b->rec = ZK_REC_SET_ACL;
		b->set_acl.path = path;
		b->set_acl.acl = zacls(st->acl);
		b->set_acl.version = st->version;
		break;
	case ST_CHECK:
		b->rec = ZK_REC_CHECK;
		b->check.path = path;
		b->check.version = st->version;
		break;
	}
}

static void error_body(struct zk_body *b, int err)
{
	memset(b, 0, sizeof(*b));
	b->type = ZOP_ERROR;
	b->rec = ZK_REC_ERROR;
	b->error.err = err;
}

void txn_encode(struct zab_seq *s, const struct ptxn *t)
{
	struct jw *w = &s->rec;
	w->len = 0;
	struct zk_txn z = {0};
	struct zk_body subs_in[8], *subs = subs_in;
	struct zk_buf *ev = NULL;
	z.hdr.client_id = t->session;
	z.hdr.cxid = t->req ? t->req->xid : 0;
	z.hdr.zxid = t->zxid;
	z.hdr.time = t->time;
	switch (t->kind) {
	case PT_REQUEST:
		if (t->err) {
			error_body(&z.body, t->err);
		} else if ((t->req ? t->req->op : t->op) != ZOP_MULTI) {
			step_body(&t->st[0], &z.body);
		} else {
			if (t->n > 8 && !(subs = malloc(sizeof(*subs) *
							(size_t)t->n))) {
				w->err = true;
				return;
			}
			/* a failed multi: the ops before the failure keep
			 * their records, the failing one and those after it
			 * are ErrorTxns (DataTree applies none) */
			for (int i = 0; i < t->n; i++) {
				if (t->failed >= 0 && i >= t->failed)
					error_body(&subs[i],
						   i == t->failed
							   ? t->st[i].err
							   : ZRUNTIMEINCONSISTENCY);
				else
					step_body(&t->st[i], &subs[i]);
			}
			z.body.type = ZOP_MULTI;
			z.body.rec = ZK_REC_MULTI;
			z.body.multi.n = t->n;
			z.body.multi.subs = subs;
		}
		break;
	case PT_REAP:
		step_body(&t->st[0], &z.body);
		z.body.type = ZOP_DELETECONTAINER;
		break;
	case PT_SESSION_NEW:
		z.body.type = ZOP_CREATESESSION;
		z.body.rec = ZK_REC_CREATE_SESSION;
		z.body.create_session.timeout = t->sess->timeout;
		break;
	case PT_SESSION_CLOSE: {
		/* CloseSessionTxn.paths2Delete: what prep_close_session found
		 * (log_txn runs it before encoding) */
		const struct paths *x = t->closing;
		if (!x || (x->n && !(ev = calloc((size_t)x->n, sizeof(*ev))))) {
			w->err = true;
			goto out;
		}
		for (int i = 0; i < x->n; i++)
			ev[i] = zbuf(x->p[i], (int32_t)x->l[i]);
		z.body.type = ZOP_CLOSESESSION;
		z.body.rec = ZK_REC_CLOSE_SESSION;
		z.body.close_session.paths.n = x->n;
		z.body.close_session.paths.v = ev;
		break;
	}
	default:
		return;
	}
	z.hdr.type = z.body.type;
	z.has_digest = t->has_digest;
	z.digest.version = ZK_DIGEST_VERSION;
	z.digest.tree = (int64_t)t->digest;
	if (zk_txn_encode(w, &z))
		w->err = true;
out:
	free(ev);
	if (subs != subs_in)
		free(subs);
}

static int body_step(struct zab_seq *s, const struct zk_body *b,
		     int64_t client, struct step *st)
{
	memset(st, 0, sizeof(*st));
	st->op = b->type;
	const struct zk_buf *path;
	switch (b->rec) {
	case ZK_REC_CREATE:
	case ZK_REC_CREATE_V0:
	case ZK_REC_CREATE_CONTAINER:
	case ZK_REC_CREATE_TTL:
		st->kind = ST_CREATE;
		path = &b->create.path;
		st->data = b->create.data.p;
		st->data_len = b->create.data.len;
		st->acl = prep_acl_intern(s, zk_acls_to_zacl(&b->create.acl));
		if (!st->acl)
			return ZSYSTEMERROR;
		st->owner = b->rec == ZK_REC_CREATE_CONTAINER ? ZK_CONTAINER_OWNER
			    : b->rec == ZK_REC_CREATE_TTL
				    ? zk_ttl_owner(b->create.ttl)
			    : b->create.ephemeral ? client
						  : 0;
		st->version = b->create.parent_cversion;
		break;
	case ZK_REC_DELETE:
		st->kind = ST_DELETE;
		path = &b->del.path;
		break;
	case ZK_REC_SET_DATA:
		st->kind = ST_SETDATA;
		path = &b->set_data.path;
		st->data = b->set_data.data.p;
		st->data_len = b->set_data.data.len;
		st->version = b->set_data.version;
		break;
	case ZK_REC_SET_ACL:
		st->kind = ST_SETACL;
		path = &b->set_acl.path;
		st->acl = prep_acl_intern(s, zk_acls_to_zacl(&b->set_acl.acl));
		if (!st->acl)
			return ZSYSTEMERROR;
		st->version = b->set_acl.version;
		break;
	case ZK_REC_CHECK:
		st->kind = ST_CHECK;
		path = &b->check.path;
		st->version = b->check.version;
		break;
	case ZK_REC_ERROR:
		st->kind = ST_CHECK; /* changes nothing */
		st->err = b->error.err;
		return ZOK;
	default:
		return ZMARSHALLINGERROR;
	}
	if (path->len < 0)
		return ZMARSHALLINGERROR;
	st->path = path->len ? path->p : "";
	st->len = (size_t)path->len;
	return ZOK;
}

int txn_decode(struct zab_seq *s, const void *p, size_t len, struct ptxn *t)
{
	struct zk_txn z;
	int rc = zk_txn_decode(p, len, &z);
	if (rc)
		return ZMARSHALLINGERROR;
	t->session = z.hdr.client_id;
	t->zxid = z.hdr.zxid;
	t->time = z.hdr.time;
	t->xid = z.hdr.cxid;
	t->op = z.hdr.type;
	/* another digest version is not compared (DataTree.compareDigest) */
	t->has_digest = z.has_digest && z.digest.version == ZK_DIGEST_VERSION;
	t->digest = (uint64_t)z.digest.tree;
	t->failed = -1;
	t->err = ZOK;
	t->n = 0;
	t->st = &t->one;
	switch (z.hdr.type) {
	case ZOP_CREATESESSION:
		t->kind = PT_SESSION_NEW;
		t->timeout = z.body.create_session.timeout;
		return ZOK;
	case ZOP_CLOSESESSION:
		t->kind = PT_SESSION_CLOSE;
		return ZOK;
	case ZOP_ERROR:
		t->kind = PT_REQUEST;
		t->err = z.body.error.err;
		return ZOK;
	case ZOP_MULTI:
		break;
	default:
		t->kind = z.hdr.type == ZOP_DELETECONTAINER ? PT_REAP
							    : PT_REQUEST;
		t->n = 1;
		return body_step(s, &z.body, t->session, &t->one);
	}
	t->kind = PT_REQUEST;
	int32_t n = z.body.multi.n < 0 ? 0 : z.body.multi.n;
	if (n > 1 && !(t->st = calloc((size_t)n, sizeof(*t->st)))) {
		t->st = &t->one;
		return ZSYSTEMERROR;
	}
	struct zk_iter it;
	struct zk_body sub;
	zk_multi_iter(&it, &z.body.multi);
	for (int i = 0; i < n; i++) {
		if (zk_multi_next(&it, &sub) != 1)
			return ZMARSHALLINGERROR;
		t->n = i + 1;
		rc = body_step(s, &sub, t->session, &t->st[i]);
		if (rc)
			return rc;
		if (sub.rec == ZK_REC_ERROR && t->failed < 0)
			t->failed = i;
	}
	return ZOK;
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
 * children, create `path` or set its data?  Then its pzxid or mzxid ==
 * zxid comes from the replay, not from the snapshot.  (A node the
 * snapshot shows after zxid is never also one the replay changed at
 * zxid: both need the walk to have seen it before.) */
static bool touched_here(const struct paths *here, const char *path,
			 size_t len)
{
	for (int i = 0; i < here->n; i++)
		if (here->l[i] == len && !memcmp(here->p[i], path, len))
			return true;
	return false;
}

/* Note that this transaction changed `path` (touched_here). */
static void here_add(struct paths *here, const char *path, size_t len)
{
	if (!touched_here(here, path, len))
		paths_add(here, path, len);
}

/* Apply one logged change exactly once over a fuzzy snapshot (see the
 * rules at the top of this file).  `here`: parents this transaction's
 * earlier steps changed, and nodes they created or set. */
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
		here_add(here, st->path, pl);
		if (st->kind == ST_CREATE && node)
			return tree_node_child_replayed(s->tree, st->path, pl,
							true, zxid);
		if (st->kind == ST_DELETE &&
		    (!node || node->czxid > zxid ||
		     (node->czxid == zxid &&
		      !touched_here(here, st->path, st->len))))
			return tree_node_child_replayed(s->tree, st->path, pl,
							false, zxid);
		break;
	case ST_SETDATA:
		if (!node || node->mzxid > zxid ||
		    (node->mzxid == zxid && !touched_here(here, st->path, st->len)))
			return ZOK;
		break;
	case ST_SETACL:
		if (!node || node->czxid > zxid ||
		    node->aversion >= st->version)
			return ZOK;
		break;
	case ST_CHECK:
		return ZOK;
	}
	int rc = seq_apply_step(s, st, zxid, time, NULL, false);
	/* a node this transaction creates or sets has mzxid (and, created,
	 * pzxid) == zxid from the replay: later steps may still set it or
	 * create its children */
	if (!rc && (st->kind == ST_CREATE || st->kind == ST_SETDATA))
		here_add(here, st->path, st->len);
	return rc;
}

/* A closeSession over a fuzzy snapshot: each ephemeral its record lists
 * is a delete under replay_step's rules. */
static int replay_close(struct zab_seq *s, zxid_t zxid, const void *p,
			size_t len)
{
	struct zk_txn z;
	if (zk_txn_decode(p, len, &z))
		return ZMARSHALLINGERROR;
	if (z.body.rec != ZK_REC_CLOSE_SESSION) {
		txn_close_session(s, z.hdr.client_id, zxid, false);
		return ZOK;
	}
	struct paths here = {0};
	struct zk_iter it;
	struct zk_buf b;
	int rc = ZOK, more;
	zk_strv_iter(&it, &z.body.close_session.paths);
	while ((more = zk_strv_next(&it, &b)) == 1) {
		if (b.len <= 0) {
			rc = ZMARSHALLINGERROR;
			continue;
		}
		struct step st = {.op = ZOP_DELETE, .kind = ST_DELETE,
				  .path = b.p, .len = (size_t)b.len};
		int e = replay_step(s, &st, zxid, z.hdr.time, &here);
		if (e)
			rc = e;
	}
	paths_free(&here);
	return more < 0 ? ZMARSHALLINGERROR : rc;
}

int txn_replay(struct zab_seq *s, zxid_t zxid, const void *p, size_t len)
{
	struct ptxn t = {0};
	int rc = txn_decode(s, p, len, &t);
	if (rc) {
		ptxn_steps_free(&t);
		return rc;
	}
	if (t.zxid != zxid) {
		ptxn_steps_free(&t);
		return ZMARSHALLINGERROR;
	}
	if (zxid > s->zxid)
		s->zxid = zxid;
	tree_write_begin(s->tree);
	switch (t.kind) {
	case PT_SESSION_NEW:
		if (!seq_sess_find(s, t.session)) {
			uint8_t pw[ZK_PASSWD_LEN];
			zk_session_passwd(t.session, pw);
			if (!seq_sess_add(s, t.session, t.timeout, pw))
				rc = ZSYSTEMERROR;
		}
		seq_session_seen(s, t.session);
		break;
	case PT_SESSION_CLOSE: {
		rc = replay_close(s, zxid, p, len);
		struct zsession *z = seq_sess_find(s, t.session);
		if (z)
			seq_sess_remove(s, z);
		break;
	}
	case PT_REQUEST:
	case PT_REAP: {
		if (t.err || t.failed >= 0)
			break; /* an ErrorTxn, a failed multi: no change */
		struct paths here = {0};
		for (int i = 0; i < t.n; i++) {
			int e = replay_step(s, &t.st[i], zxid, t.time, &here);
			if (e)
				rc = e;
		}
		paths_free(&here);
		break;
	}
	default:
		rc = ZMARSHALLINGERROR;
	}
	tree_write_end(s->tree, zxid);
	s->applied = zxid;
	ptxn_steps_free(&t);
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
		seq_session_seen(s, id);
	}
	return r.err ? ZMARSHALLINGERROR : ZOK;
}
