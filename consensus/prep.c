/*
 * prep.c — ZooKeeper's PrepRequestProcessor: validate a write against the
 * tree as it will be once every pending transaction is applied.
 *
 * Pending transactions are not in the tree yet (they wait for their log
 * record to be durable), so each validated change pushes a record onto a
 * per-path stack (ZooKeeper's outstandingChanges); lookups see the newest
 * record first, then the tree.  When a transaction is applied its records
 * are the oldest of their stacks and are dropped; when its log append
 * fails they are the newest and are popped.
 *
 * Check order follows ZooKeeper 3.8 (pRequest2TxnCreate and friends):
 * create: mode/TTL, path shape, ACL fixup, parent exists, CREATE on the
 * parent, sequential name from the parent's create count, validatePath,
 * exists, ephemeral parent, quota.  delete: path shape and special
 * paths, parent, DELETE on the parent, node, version, children.  setData:
 * validatePath, node, WRITE, quota, version.  setACL / check:
 * validatePath, node, ADMIN / READ, version.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/seq_int.h"

/* The digest of a node in state e, whose path and data CRC is e->dcrc. */
static int64_t pend_digest(const struct pend *e, const char *path, size_t len)
{
	struct zstat st = e->stat;

	if (!e->exists)
		return 0;
	st.cversion = zk_cversion_stored(&st);
	return zk_digest_end(e->dcrc, path, len, &st);
}

/* `hash` is zk_path_hash(path, len): each write hashes a path once, for
 * this table and the tree's. */
static struct ov_path **ov_find(struct zab_seq *s, const char *path,
				size_t len, uint64_t hash)
{
	if (!s->ovb)
		return NULL;
	struct ov_path **pp = &s->ovb[hash & (s->ovn - 1)];
	while (*pp && ((*pp)->hash != hash || (*pp)->len != len ||
		       memcmp((*pp)->path, path, len)))
		pp = &(*pp)->hnext;
	return pp;
}

static void ov_grow(struct zab_seq *s)
{
	size_t n = s->ovn ? s->ovn * 2 : 1024;
	struct ov_path **b = calloc(n, sizeof(*b));
	if (!b)
		return;
	for (size_t i = 0; i < s->ovn; i++) {
		struct ov_path *p = s->ovb[i];
		while (p) {
			struct ov_path *next = p->hnext;
			size_t h = p->hash & (n - 1);
			p->hnext = b[h];
			b[h] = p;
			p = next;
		}
	}
	free(s->ovb);
	s->ovb = b;
	s->ovn = n;
}

static int prep_get(struct zab_seq *s, const char *path, size_t len,
		    uint64_t hash, struct pend *out)
{
	struct ov_path **pp = ov_find(s, path, len, hash);
	if (pp && *pp) {
		const struct ov_rec *r = (*pp)->top;
		out->exists = r->exists;
		out->stat = r->stat;
		out->acl = r->acl;
		out->dcrc = r->dcrc;
		out->digest = r->digest;
		return r->exists ? ZOK : ZNONODE;
	}
	out->dcrc = 0;
	out->digest = 0;
	const struct znode *n = tree_lookup_hashed(s->tree, path, len, hash);
	if (!n) {
		out->exists = false;
		return ZNONODE;
	}
	struct zview v;
	znode_view(n, &v);
	out->exists = true;
	out->stat = v.stat;
	out->acl = v.acl;
	if (s->digest)
		out->digest = tree_node_digest(s->tree, n, &out->dcrc);
	return ZOK;
}

/* ov_path blocks for short paths are recycled (one malloc per write
 * less); longer ones come from malloc. */
static struct ov_path *ovp_alloc(struct zab_seq *s, size_t len)
{
	struct ov_path *p = s->ovp_free;
	if (len > OVP_POOL_LEN)
		return malloc(sizeof(*p) + len + 1);
	if (p) {
		s->ovp_free = p->hnext;
		return p;
	}
	return malloc(sizeof(*p) + OVP_POOL_LEN + 1);
}

static void ovp_free(struct zab_seq *s, struct ov_path *p)
{
	if (p->len > OVP_POOL_LEN) {
		free(p);
		return;
	}
	p->hnext = s->ovp_free;
	s->ovp_free = p;
}

/* Count r for the session owning its node, if a session does. */
static void ov_owned(struct zab_seq *s, const struct ov_rec *r, int d)
{
	struct zsession *z;

	if (r->exists && zk_owner_is_session(r->stat.ephemeral_owner) &&
	    (z = seq_sess_find(s, r->stat.ephemeral_owner)))
		z->ov_owned += d;
}

/* Push the future state of `path` for transaction t. */
static int prep_put(struct zab_seq *s, struct ptxn *t, const char *path,
		    size_t len, uint64_t hash, const struct pend *e)
{
	if (s->ovcount >= s->ovn)
		ov_grow(s);
	if (!s->ovb)
		return ZSYSTEMERROR;
	if (!t->ovp) {
		t->ovp = t->ovp_in;
		t->ovr = t->ovr_in;
		t->capov = 4;
	}
	if (t->nov == t->capov) {
		int cap = t->capov * 2;
		bool inl = t->ovp == t->ovp_in;
		struct ov_path **np =
			realloc(inl ? NULL : t->ovp, (size_t)cap * sizeof(*np));
		struct ov_rec **nr = np ? realloc(inl ? NULL : t->ovr,
						  (size_t)cap * sizeof(*nr))
					: NULL;
		if (!np || !nr) {
			if (np && inl)
				free(np);
			else if (np)
				t->ovp = np;
			return ZSYSTEMERROR;
		}
		if (inl) {
			memcpy(np, t->ovp_in, sizeof(t->ovp_in));
			memcpy(nr, t->ovr_in, sizeof(t->ovr_in));
		}
		t->ovp = np;
		t->ovr = nr;
		t->capov = cap;
	}
	struct ov_rec *r = s->ov_free;
	if (r)
		s->ov_free = r->older;
	else
		r = malloc(sizeof(*r));
	if (!r)
		return ZSYSTEMERROR;
	struct ov_path **pp = ov_find(s, path, len, hash);
	struct ov_path *p = *pp;
	if (!p) {
		p = ovp_alloc(s, len);
		if (!p) {
			free(r);
			return ZSYSTEMERROR;
		}
		p->hnext = NULL;
		p->top = NULL;
		p->hash = hash;
		p->len = len;
		memcpy(p->path, path, len);
		p->path[len] = 0;
		*pp = p;
		s->ovcount++;
	}
	r->zxid = t->zxid;
	r->exists = e->exists;
	r->stat = e->stat;
	r->acl = e->acl ? zacl_ref((struct zacl *)e->acl) : NULL;
	r->dcrc = e->dcrc;
	r->digest = 0;
	ov_owned(s, r, 1);
	if (s->digest) {
		/* AdHash: the old state's digest out, the new one's in */
		r->digest = pend_digest(e, path, len);
		s->pdigest += (uint64_t)r->digest - (uint64_t)e->digest;
	}
	r->older = p->top;
	r->newer = NULL;
	if (p->top)
		p->top->newer = r;
	p->top = r;
	t->ovp[t->nov] = p;
	t->ovr[t->nov] = r;
	t->nov++;
	return ZOK;
}

static void ov_unlink(struct zab_seq *s, struct ov_path *p, struct ov_rec *r)
{
	ov_owned(s, r, -1);
	if (r->newer)
		r->newer->older = r->older;
	else
		p->top = r->older;
	if (r->older)
		r->older->newer = r->newer;
	zacl_release(r->acl);
	r->older = s->ov_free; /* recycle */
	s->ov_free = r;
	if (!p->top) {
		struct ov_path **pp = ov_find(s, p->path, p->len, p->hash);
		*pp = p->hnext;
		ovp_free(s, p);
		s->ovcount--;
	}
}

void prep_release(struct zab_seq *s, struct ptxn *t)
{
	/* newest first, so a path's stack empties last */
	for (int i = t->nov - 1; i >= 0; i--)
		ov_unlink(s, t->ovp[i], t->ovr[i]);
	if (t->ovp != t->ovp_in) {
		free(t->ovp);
		free(t->ovr);
	}
	t->ovp = NULL;
	t->ovr = NULL;
	t->nov = t->capov = 0;
}

/* The records of deleting path (state `node`; its parent, at pl bytes
 * with hash ph, in state `parent`) as ZooKeeper's delete changes them. */
static int prep_put_delete(struct zab_seq *s, struct ptxn *t, const char *path,
			   size_t len, uint64_t hash, struct pend *node,
			   size_t pl, uint64_t ph, struct pend *parent)
{
	int rc;

	parent->stat.cversion++;
	parent->stat.num_children--;
	parent->stat.pzxid = t->zxid;
	node->exists = false;
	if ((rc = prep_put(s, t, path, pl, ph, parent)) ||
	    (rc = prep_put(s, t, path, len, hash, node)))
		return rc;
	return ZOK;
}

static void add_path(const char *path, size_t len, void *arg)
{
	paths_add(arg, path, len);
}

/*
 * PrepRequestProcessor's closeSession: the session's ephemerals as they
 * will be once everything prepared before is applied — the tree's that
 * no pending change touches (in ZooKeeper's order), then those a pending
 * change leaves owned by the session — each deleted with its parent
 * changed, so that later requests already see them gone and the digest
 * follows.  They are what CloseSessionTxn lists.
 */
int prep_close_session(struct zab_seq *s, struct ptxn *t)
{
	struct paths tree_eph = {0}, *x = calloc(1, sizeof(*x));
	int rc = ZOK;

	if (!x)
		return ZSYSTEMERROR;
	t->closing = x;
	if (tree_ephemerals_zk(s->tree, t->session, add_path, &tree_eph) < 0)
		rc = ZSYSTEMERROR;
	for (int i = 0; !rc && i < tree_eph.n; i++) {
		uint64_t h = zk_path_hash(tree_eph.p[i], tree_eph.l[i]);
		struct ov_path **pp =
			ov_find(s, tree_eph.p[i], tree_eph.l[i], h);
		if (!pp || !*pp)
			paths_add(x, tree_eph.p[i], tree_eph.l[i]);
	}
	/* the whole overlay only if a pending change made or touched one
	 * of its nodes (else a close would cost every pending path) */
	const struct zsession *z = seq_sess_find(s, t->session);
	for (size_t b = 0; !rc && z && z->ov_owned && b < s->ovn; b++)
		for (const struct ov_path *p = s->ovb[b]; p; p = p->hnext)
			if (p->top->exists &&
			    p->top->stat.ephemeral_owner == t->session)
				paths_add(x, p->path, p->len);
	paths_free(&tree_eph);
	for (int i = 0; !rc && i < x->n; i++) {
		struct pend node, parent;
		const char *path = x->p[i];
		size_t len = x->l[i], pl = zk_parent_len(path, len);
		uint64_t h = zk_path_hash(path, len), ph = zk_path_hash(path, pl);
		if (prep_get(s, path, len, h, &node) != ZOK)
			continue;
		if (prep_get(s, path, pl, ph, &parent) != ZOK)
			rc = ZSYSTEMERROR; /* a node without its parent: a bug */
		else
			rc = prep_put_delete(s, t, path, len, h, &node, pl, ph,
					     &parent);
	}
	return rc;
}

struct zacl *prep_acl_intern(struct zab_seq *s, struct zacl *a)
{
	const unsigned n = sizeof(s->acl_cache) / sizeof(s->acl_cache[0]);
	if (!a)
		return NULL;
	for (unsigned i = 0; i < n; i++) {
		/* newest first: most workloads use one or two ACLs */
		struct zacl *c = s->acl_cache[(s->acl_next + n - 1 - i) % n];
		if (c && (c == a || zacl_equal(c, a))) {
			zacl_ref(c);
			zacl_release(a);
			return c;
		}
	}
	unsigned slot = s->acl_next++ % n;
	zacl_release(s->acl_cache[slot]);
	s->acl_cache[slot] = zacl_ref(a);
	return a;
}

void prep_free_all(struct zab_seq *s)
{
	while (s->ov_free) {
		struct ov_rec *r = s->ov_free;
		s->ov_free = r->older;
		free(r);
	}
	while (s->ovp_free) {
		struct ov_path *p = s->ovp_free;
		s->ovp_free = p->hnext;
		free(p);
	}
	for (unsigned i = 0; i < sizeof(s->acl_cache) / sizeof(s->acl_cache[0]);
	     i++) {
		zacl_release(s->acl_cache[i]);
		s->acl_cache[i] = NULL;
	}
	zacl_release(s->acl_raw_acl);
	s->acl_raw_acl = NULL;
	for (size_t i = 0; i < s->ovn; i++) {
		struct ov_path *p = s->ovb[i];
		while (p) {
			struct ov_path *next = p->hnext;
			while (p->top) {
				struct ov_rec *r = p->top;
				p->top = r->older;
				zacl_release(r->acl);
				free(r);
			}
			free(p);
			p = next;
		}
	}
	free(s->ovb);
	s->ovb = NULL;
	s->ovn = s->ovcount = 0;
}

/* ------------------------------------------------------------------ */
static bool special_path(const char *path, size_t len)
{
	static const char *const sp[] = {"/", "/zookeeper", "/zookeeper/quota",
					 "/zookeeper/config"};
	for (size_t i = 0; i < sizeof(sp) / sizeof(sp[0]); i++)
		if (strlen(sp[i]) == len && !memcmp(sp[i], path, len))
			return true;
	return false;
}

/* getParentPathAndValidate: a '/' somewhere and no NUL. */
static bool last_slash_ok(const char *p, size_t len)
{
	return len > 0 && memchr(p, '/', len) && !memchr(p, 0, len);
}

static int check_version(int32_t cur, int32_t expected)
{
	return (expected == -1 || expected == cur) ? ZOK : ZBADVERSION;
}

struct pctx {
	struct zab_seq *s;
	struct ptxn *t;
	const struct zauth_id *ids;
	int nids;
};

/* A request's ACL record, located but not yet parsed. */
struct acl_span {
	const uint8_t *p;
	size_t len;
	bool has_auth; /* an "auth" entry: the result depends on the session */
};

/* Step over a vector<ACL> (sets r->err if malformed). */
static void jr_acl_span(struct jr *r, struct acl_span *sp)
{
	size_t start = r->off;
	int32_t n = jr_vec(r, 12);

	sp->has_auth = false;
	for (int32_t i = 0; i < n && !r->err; i++) {
		int32_t sl, il;
		const char *scheme;

		jr_int(r);
		scheme = jr_buf(r, &sl);
		jr_buf(r, &il);
		if (sl == 4 && !memcmp(scheme, "auth", 4))
			sp->has_auth = true;
	}
	sp->p = r->p + start;
	sp->len = r->err ? 0 : r->off - start;
}

/*
 * The fixed-up, interned ACL of a create.  Clients send the same ACL with
 * nearly every create, so the last one's bytes are remembered with their
 * result: a repeat costs a memcmp instead of a parse, a fix-up and an
 * intern lookup (~10 mallocs).  Not for ACLs with an "auth" entry, whose
 * fix-up depends on the session's identities.  ZOK or zacl_fixup's error.
 */
static int acl_resolve(struct pctx *c, const struct acl_span *sp,
		       struct zacl **out)
{
	struct zab_seq *s = c->s;
	struct zacl *acl;
	struct jr r;
	int rc;

	*out = NULL;
	if (!sp->has_auth && s->acl_raw_acl && sp->len == s->acl_raw_len &&
	    !memcmp(sp->p, s->acl_raw, sp->len)) {
		*out = zacl_ref(s->acl_raw_acl);
		return ZOK;
	}
	jr_init(&r, sp->p, sp->len);
	acl = jr_acl(&r);
	if (!acl)
		return r.err ? ZMARSHALLINGERROR : ZSYSTEMERROR;
	rc = zacl_fixup(acl, c->ids, c->nids,
			zab_acl_providers(&s->cfg), out);
	zacl_release(acl);
	if (rc)
		return rc;
	*out = prep_acl_intern(s, *out);
	if (!sp->has_auth && sp->len <= sizeof(s->acl_raw)) {
		zacl_release(s->acl_raw_acl);
		memcpy(s->acl_raw, sp->p, sp->len);
		s->acl_raw_len = sp->len;
		s->acl_raw_acl = zacl_ref(*out);
	}
	return ZOK;
}

/* ZooKeeperServer.checkQuota runs with zookeeper.enforceQuota, and not
 * for the ops a multi parses after its failed one. */
static bool quota_checked(const struct pctx *c)
{
	return c->s->cfg.enforce_quota && c->t->failed < 0;
}

static int prep_create(struct pctx *c, int op, struct jr *r, struct step *st)
{
	int32_t plen, dlen;
	const char *path = jr_buf(r, &plen);
	const char *data = jr_buf(r, &dlen);
	struct acl_span aspan;
	jr_acl_span(r, &aspan);
	int32_t flags = jr_int(r);
	int64_t ttl = op == ZOP_CREATETTL ? jr_long(r) : -1;
	st->kind = ST_CREATE;
	if (r->err || plen < 0)
		return ZMARSHALLINGERROR;
	int rc;
	struct zacl *fixed = NULL;
	bool seq = flags == ZCM_PERSISTENT_SEQUENTIAL ||
		   flags == ZCM_EPHEMERAL_SEQUENTIAL ||
		   flags == ZCM_PERSISTENT_SEQUENTIAL_TTL;
	bool is_ttl = flags == ZCM_PERSISTENT_TTL ||
		      flags == ZCM_PERSISTENT_SEQUENTIAL_TTL;
	struct pend parent, self;
	if (c->t->req && c->t->req->op == ZOP_MULTI && !is_ttl) {
		/* a multi's MultiOperationRecord decodes every create as
		 * Op.create(path, data, acl, flags[, ttl]), whose type
		 * follows the flags: a create2 op is a plain create (its
		 * result has no Stat), createContainer without the container
		 * flag a persistent node, createTTL without a TTL flag a
		 * create that ignores the ttl */
		op = flags == ZCM_CONTAINER ? ZOP_CREATECONTAINER : ZOP_CREATE;
		ttl = -1;
		st->op = op;
	}
	rc = ZBADARGUMENTS;
	/* validateCreateRequest, then the path's shape */
	if (flags < 0 || flags > ZCM_PERSISTENT_SEQUENTIAL_TTL)
		goto out;
	if (is_ttl ? (ttl <= 0 || ttl > ZK_TTL_MAX) : ttl >= 0)
		goto out;
	if (!last_slash_ok(path, (size_t)plen))
		goto out;
	rc = acl_resolve(c, &aspan, &fixed);
	if (rc)
		goto out;
	size_t pl = zk_parent_len(path, (size_t)plen);
	uint64_t ph = zk_path_hash(path, pl);
	rc = prep_get(c->s, path, pl, ph, &parent);
	if (rc)
		goto out;
	rc = zacl_check(parent.acl, ZPERM_CREATE, c->ids, c->nids);
	if (rc)
		goto out;
	/* the request's own path, or a sequential one made here */
	const char *final = plen ? path : "";
	size_t flen = (size_t)plen;
	if (seq) {
		rc = ZSYSTEMERROR;
		if (!(st->own = malloc((size_t)plen + 16)))
			goto out;
		memcpy(st->own, path, (size_t)plen);
		/* ZooKeeper numbers sequential children by the count of
		 * child creations, while cversion also counts deletions;
		 * both start so that the creations are (cversion +
		 * numChildren) / 2 (tree.c). */
		flen += (size_t)sprintf(
			st->own + plen, "%010d",
			(int32_t)(((int64_t)parent.stat.cversion +
				   parent.stat.num_children) / 2));
		final = st->own;
	}
	st->path = final;
	st->len = flen;
	rc = zk_path_validate(final, flen, false);
	if (rc)
		goto out;
	uint64_t h = zk_path_hash(final, flen);
	if (prep_get(c->s, final, flen, h, &self) == ZOK) {
		rc = ZNODEEXISTS;
		goto out;
	}
	if (zk_owner_is_session(parent.stat.ephemeral_owner)) {
		rc = ZNOCHILDRENFOREPHEMERALS;
		goto out;
	}
	if (quota_checked(c) &&
	    (rc = tree_quota_check(c->s->tree, final, flen, 1,
				   dlen < 0 ? 0 : dlen)))
		goto out;
	/* The opcode picks ZooKeeper's txn: CreateContainerTxn makes a
	 * container whatever the flags, CreateTTLTxn a TTL node (the flags
	 * are TTL ones, checked above), CreateTxn an ephemeral or a
	 * persistent node (a container flag with op create is persistent) */
	if (op == ZOP_CREATECONTAINER)
		st->owner = ZK_CONTAINER_OWNER;
	else if (op == ZOP_CREATETTL)
		st->owner = zk_ttl_owner(ttl);
	else if (flags == ZCM_EPHEMERAL || flags == ZCM_EPHEMERAL_SEQUENTIAL)
		st->owner = c->t->session;
	else
		st->owner = 0;
	st->data = data;
	st->data_len = dlen;
	st->acl = fixed;
	fixed = NULL;
	parent.stat.cversion++;
	parent.stat.num_children++;
	/* CreateTxn.parentCVersion: ZooKeeper's stored count of creates
	 * under the parent, this one included (tree.c, "Stat rules") */
	st->version = (int32_t)(((int64_t)parent.stat.cversion +
				 parent.stat.num_children) / 2);
	parent.stat.pzxid = c->t->zxid;
	rc = prep_put(c->s, c->t, path, pl, ph, &parent);
	if (!rc) {
		memset(&self, 0, sizeof(self));
		self.exists = true;
		self.stat.czxid = self.stat.mzxid = self.stat.pzxid = c->t->zxid;
		self.stat.ctime = self.stat.mtime = c->t->time;
		self.stat.ephemeral_owner = st->owner;
		self.stat.data_length = dlen < 0 ? 0 : dlen;
		self.acl = st->acl;
		if (c->s->digest) {
			self.dcrc = zk_digest_start(final, flen, data, dlen);
			st->dcrc = self.dcrc;
			st->has_dcrc = true;
		}
		rc = prep_put(c->s, c->t, st->path, st->len, h, &self);
	}
out:
	zacl_release(fixed);
	return rc;
}

static int prep_path(struct jr *r, struct step *st)
{
	int32_t plen;
	const char *path = jr_buf(r, &plen);
	if (r->err || plen < 0)
		return ZMARSHALLINGERROR;
	st->path = plen ? path : "";
	st->len = (size_t)plen;
	return ZOK;
}

/* DeleteRequest and CheckVersionRequest: {ustring path; int version}. */
static int prep_path_version(struct jr *r, struct step *st, int32_t *version)
{
	int rc = prep_path(r, st);
	*version = jr_int(r);
	if (rc || r->err)
		return rc ? rc : ZMARSHALLINGERROR;
	return ZOK;
}

static int prep_delete(struct pctx *c, struct jr *r, struct step *st)
{
	st->kind = ST_DELETE;
	int32_t version;
	int rc = prep_path_version(r, st, &version);
	if (rc)
		return rc;
	if (!last_slash_ok(st->path, st->len) || special_path(st->path, st->len))
		return ZBADARGUMENTS;
	struct pend parent, node;
	size_t pl = zk_parent_len(st->path, st->len);
	uint64_t ph = zk_path_hash(st->path, pl);
	uint64_t h = zk_path_hash(st->path, st->len);
	if ((rc = prep_get(c->s, st->path, pl, ph, &parent)) ||
	    (rc = zacl_check(parent.acl, ZPERM_DELETE, c->ids, c->nids)) ||
	    (rc = prep_get(c->s, st->path, st->len, h, &node)) ||
	    (rc = check_version(node.stat.version, version)))
		return rc;
	if (node.stat.num_children > 0)
		return ZNOTEMPTY;
	return prep_put_delete(c->s, c->t, st->path, st->len, h, &node, pl, ph,
			       &parent);
}

static int prep_setdata(struct pctx *c, struct jr *r, struct step *st)
{
	st->kind = ST_SETDATA;
	int rc = prep_path(r, st);
	int32_t dlen;
	const char *data = jr_buf(r, &dlen);
	int32_t version = jr_int(r);
	if (rc || r->err)
		return rc ? rc : ZMARSHALLINGERROR;
	if (zk_path_validate(st->path, st->len, false))
		return ZBADARGUMENTS;
	struct pend node;
	uint64_t h = zk_path_hash(st->path, st->len);
	if ((rc = prep_get(c->s, st->path, st->len, h, &node)) ||
	    (rc = zacl_check(node.acl, ZPERM_WRITE, c->ids, c->nids)))
		return rc;
	if (quota_checked(c) &&
	    (rc = tree_quota_check(c->s->tree, st->path, st->len, 0,
				   (dlen < 0 ? 0 : dlen) -
					   (int64_t)node.stat.data_length)))
		return rc;
	if ((rc = check_version(node.stat.version, version)))
		return rc;
	st->data = data;
	st->data_len = dlen;
	node.stat.version++;
	st->version = node.stat.version;
	node.stat.mzxid = c->t->zxid;
	node.stat.mtime = c->t->time;
	node.stat.data_length = dlen < 0 ? 0 : dlen;
	if (c->s->digest) {
		node.dcrc = zk_digest_start(st->path, st->len, data, dlen);
		st->dcrc = node.dcrc;
		st->has_dcrc = true;
	}
	return prep_put(c->s, c->t, st->path, st->len, h, &node);
}

static int prep_setacl(struct pctx *c, struct jr *r, struct step *st)
{
	st->kind = ST_SETACL;
	int rc = prep_path(r, st);
	struct zacl *acl = jr_acl(r);
	int32_t version = jr_int(r);
	if (rc || r->err || !acl) {
		zacl_release(acl);
		return rc ? rc : r->err ? ZMARSHALLINGERROR : ZSYSTEMERROR;
	}
	struct pend node;
	if (zk_path_validate(st->path, st->len, false))
		rc = ZBADARGUMENTS;
	if (!rc)
		rc = zacl_fixup(acl, c->ids, c->nids,
				zab_acl_providers(&c->s->cfg), &st->acl);
	if (!rc)
		st->acl = prep_acl_intern(c->s, st->acl);
	zacl_release(acl);
	uint64_t h = zk_path_hash(st->path, st->len);
	if (rc || (rc = prep_get(c->s, st->path, st->len, h, &node)) ||
	    (rc = zacl_check(node.acl, ZPERM_ADMIN, c->ids, c->nids)) ||
	    (rc = check_version(node.stat.aversion, version)))
		return rc;
	node.stat.aversion++;
	st->version = node.stat.aversion;
	node.acl = st->acl;
	return prep_put(c->s, c->t, st->path, st->len, h, &node);
}

static int prep_check(struct pctx *c, struct jr *r, struct step *st)
{
	st->kind = ST_CHECK;
	int32_t version;
	int rc = prep_path_version(r, st, &version);
	if (rc)
		return rc;
	if (zk_path_validate(st->path, st->len, false))
		return ZBADARGUMENTS;
	struct pend node;
	if ((rc = prep_get(c->s, st->path, st->len,
			   zk_path_hash(st->path, st->len), &node)) ||
	    (rc = zacl_check(node.acl, ZPERM_READ, c->ids, c->nids)))
		return rc;
	/* CheckVersionTxn holds checkAndIncVersion's result */
	st->version = node.stat.version + 1;
	return check_version(node.stat.version, version);
}

int prep_one(struct zab_seq *s, struct ptxn *t, const struct zauth_id *ids,
	     int nids, int op, struct jr *r, struct step *st)
{
	struct pctx c = {s, t, ids, nids};
	st->op = op;
	switch (op) {
	case ZOP_CREATE:
	case ZOP_CREATE2:
	case ZOP_CREATECONTAINER:
	case ZOP_CREATETTL:
		return prep_create(&c, op, r, st);
	case ZOP_DELETE:
		return prep_delete(&c, r, st);
	case ZOP_SETDATA:
		return prep_setdata(&c, r, st);
	case ZOP_SETACL:
		return prep_setacl(&c, r, st);
	case ZOP_CHECK:
		return prep_check(&c, r, st);
	case ZOP_RECONFIG:
		/* standalone ZooKeeperServer has no reconfig of its own */
		return s->cfg.reconfig_enabled ? ZUNIMPLEMENTED
					       : ZRECONFIGDISABLED;
	case ZOP_DELETECONTAINER:
		/* ZooKeeper reads this request's whole body as the path, so
		 * a client's (jute-encoded, with its length) never
		 * validates: BADARGUMENTS.  A body of bare path bytes would
		 * delete any childless non-ephemeral node there without an
		 * ACL check; paddockd refuses that too. */
		return ZBADARGUMENTS;
	default:
		return ZUNIMPLEMENTED;
	}
}
