/*
 * snap.c — fuzzy snapshots of the znode tree, loading, autopurge.
 *
 * Design note
 * -----------
 * As ZooKeeper's FileSnap/DataTree.serialize, a snapshot is "fuzzy": the
 * snapshot thread walks the live tree while the sequencer keeps applying
 * writes, so the file holds every znode as it was at some moment between
 * the start and the end of the walk.  Replaying the log from the zxid the
 * tree had reached when the walk started (the name of the file) brings it
 * to a consistent state because applying a transaction is idempotent
 * given ZooKeeper's rules (the sequencer's job, as in
 * ZooKeeperServer.processTxn / DataTree.processTxn ignoring NONODE and
 * NODEEXISTS during replay).
 *
 * The walk runs under QSBR RCU: the snapshot thread is a registered
 * reader and reports no quiescent state while it walks, so every znode
 * and version it has reached stays valid (writers' grace periods wait for
 * the walk; memory of retired versions grows meanwhile).  Each znode's
 * stat, data and ACL come from one immutable version (znode_view), so a
 * node record is self-consistent even if its neighbours are not.  The
 * order is depth-first pre-order from "/", so a parent is always written
 * before its children, which is what loading needs.  Paths, not pointers,
 * are kept on the explicit stack, and each is looked up when popped: a
 * znode deleted in between is simply left out.
 *
 * Writing goes to "snapshot.<zxid>.tmp" through a 1 MiB buffer, then
 * fdatasync + fsync, rename, fsync of the directory.  Loading maps the
 * file, checks the trailer CRC and the whole structure before touching
 * the tree, and falls back to the next older snapshot if the newest is
 * bad.  The byte layout is in log/FORMAT.md.
 */
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <urcu-qsbr.h>

#include "log/log_int.h"

#define SW_BUF (1u << 20)

/* ------------------------------------------------------------------ */
/* Writing                                                              */
/* ------------------------------------------------------------------ */

struct swriter {
	int fd;
	uint8_t *buf;
	size_t len;
	uint64_t off;
	uint32_t crc;
	int err; /* first -errno */
	bool offline_io; /* sw_flush goes RCU-offline around its writes */
};

static void sw_flush(struct swriter *w)
{
	size_t done = 0;
	ssize_t r;

	if (w->err || !w->len)
		return;
	w->crc = zlog_crc32c(w->crc, w->buf, w->len);
	/* a write may sleep (dirty-page throttling): not while holding up
	 * every grace period, when the caller holds no RCU pointer */
	if (w->offline_io)
		rcu_thread_offline();
	while (done < w->len) {
		r = zlog_pwrite_hook(w->fd, w->buf + done, w->len - done,
				     (off_t)(w->off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			w->err = r < 0 ? -errno : -EIO;
			break;
		}
		done += (size_t)r;
	}
	if (w->offline_io)
		rcu_thread_online();
	if (w->err)
		return;
	w->off += w->len;
	w->len = 0;
}

static void sw_put(struct swriter *w, const void *p, size_t n)
{
	const uint8_t *s = p;
	size_t k;

	while (n && !w->err) {
		if (w->len == SW_BUF)
			sw_flush(w);
		k = SW_BUF - w->len < n ? SW_BUF - w->len : n;
		memcpy(w->buf + w->len, s, k);
		w->len += k;
		s += k;
		n -= k;
	}
}

static void sw_u32(struct swriter *w, uint32_t v)
{
	uint8_t b[4];

	put_le32(b, v);
	sw_put(w, b, 4);
}

static void sw_u64(struct swriter *w, uint64_t v)
{
	uint8_t b[8];

	put_le64(b, v);
	sw_put(w, b, 8);
}

static void stat_encode(uint8_t *b, const struct zstat *s)
{
	put_le64(b + 0, (uint64_t)s->czxid);
	put_le64(b + 8, (uint64_t)s->mzxid);
	put_le64(b + 16, (uint64_t)s->ctime);
	put_le64(b + 24, (uint64_t)s->mtime);
	put_le32(b + 32, (uint32_t)s->version);
	put_le32(b + 36, (uint32_t)s->cversion);
	put_le32(b + 40, (uint32_t)s->aversion);
	put_le64(b + 44, (uint64_t)s->ephemeral_owner);
	put_le32(b + 52, (uint32_t)s->data_length);
	put_le32(b + 56, (uint32_t)s->num_children);
	put_le64(b + 60, (uint64_t)s->pzxid);
}

static void stat_decode(const uint8_t *b, struct zstat *s)
{
	s->czxid = (int64_t)get_le64(b + 0);
	s->mzxid = (int64_t)get_le64(b + 8);
	s->ctime = (int64_t)get_le64(b + 16);
	s->mtime = (int64_t)get_le64(b + 24);
	s->version = (int32_t)get_le32(b + 32);
	s->cversion = (int32_t)get_le32(b + 36);
	s->aversion = (int32_t)get_le32(b + 40);
	s->ephemeral_owner = (int64_t)get_le64(b + 44);
	s->data_length = (int32_t)get_le32(b + 52);
	s->num_children = (int32_t)get_le32(b + 56);
	s->pzxid = (int64_t)get_le64(b + 60);
}

/* The DFS stack of paths still to visit. */
/*
 * The paths still to visit, as one byte stack: each entry is the path's
 * bytes followed by its length (a uint32_t, unaligned), so the top entry
 * is found from the end.  One growing buffer instead of a malloc per
 * child: a node with a million children costs ~17 MB here while it is
 * walked, not a million small blocks that fragment the heap.
 */
struct pstack {
	char *b;
	size_t used, cap;
	const char *parent; /* of the children being pushed */
	size_t parent_len;
	int err;
};

static bool ps_room(struct pstack *s, size_t more)
{
	size_t cap = s->cap ? s->cap : 4096;
	char *nb;

	if (s->used + more <= s->cap)
		return true;
	while (cap < s->used + more)
		cap *= 2;
	nb = realloc(s->b, cap);
	if (!nb) {
		s->err = -ENOMEM;
		return false;
	}
	s->b = nb;
	s->cap = cap;
	return true;
}

/* Pop the top path into *cur (grown as needed); false when empty. */
static bool ps_pop(struct pstack *s, char **cur, size_t *cur_cap,
		   size_t *len)
{
	uint32_t l;
	char *nc;

	if (!s->used)
		return false;
	memcpy(&l, s->b + s->used - sizeof(l), sizeof(l));
	s->used -= sizeof(l) + l;
	if (!*cur || l + 1 > *cur_cap) {
		nc = realloc(*cur, l + 1);
		if (!nc) {
			s->err = -ENOMEM;
			return false;
		}
		*cur = nc;
		*cur_cap = l + 1;
	}
	memcpy(*cur, s->b + s->used, l);
	(*cur)[l] = '\0';
	*len = l;
	return true;
}

/* znode_children callback: push parent/name (parent "" pushes "/"). */
static int push_child(const char *name, size_t len, void *arg)
{
	struct pstack *s = arg;
	size_t pl = s->parent_len == 1 ? 0 : s->parent_len;
	uint32_t l = (uint32_t)(pl + 1 + len);
	char *p;

	if (!ps_room(s, l + sizeof(l)))
		return s->err;
	p = s->b + s->used;
	memcpy(p, s->parent, pl);
	p[pl] = '/';
	memcpy(p + pl + 1, name, len);
	memcpy(p + l, &l, sizeof(l));
	s->used += l + sizeof(l);
	return 0;
}

static void write_acl(struct swriter *w, const struct zacl *acl,
		      const struct zacl **prev, bool *have_prev)
{
	int i;

	if (*have_prev &&
	    (acl == *prev || (acl && *prev && zacl_equal(acl, *prev)))) {
		sw_u32(w, ZSNAP_ACL_SAME);
		return;
	}
	*prev = acl;
	*have_prev = true;
	if (!acl) {
		sw_u32(w, 0);
		return;
	}
	sw_u32(w, (uint32_t)acl->n);
	for (i = 0; i < acl->n; i++) {
		size_t sl = strlen(acl->e[i].scheme), il = strlen(acl->e[i].id);

		sw_u32(w, (uint32_t)acl->e[i].perms);
		sw_u32(w, (uint32_t)sl);
		sw_put(w, acl->e[i].scheme, sl);
		sw_u32(w, (uint32_t)il);
		sw_put(w, acl->e[i].id, il);
	}
}

/* Walk the tree into w; returns the node count or -errno. */
/*
 * Walk the tree into w; returns the node count or -errno.
 *
 * Each node's stat and data are read inside the tree's seqcount
 * (tree_read_begin/retry), so they come from between two of the
 * sequencer's transactions: recovery relies on a node never showing half
 * of a multi (consensus/txn.c, the replay rules).  Its child list is read
 * after that (a huge list would rarely fit between two writes) and may
 * hold newer children.  Different nodes are read at different moments:
 * the snapshot is fuzzy across nodes.
 */
static int64_t walk_tree(struct swriter *w, struct tree *t, const int *cancel)
{
	struct pstack s = {0};
	struct zorder_buf zorder = {0};
	const struct zacl *prev_acl = NULL;
	bool have_prev = false;
	const struct znode *n;
	struct zview v;
	struct zstat stat = {0};
	uint8_t st[ZSNAP_STAT_SIZE];
	int64_t count = 0;
	char *path = NULL, *data = NULL;
	size_t len, path_cap = 0, data_cap = 0;
	int32_t dlen = 0;
	const struct zacl *acl = NULL;
	unsigned seq;

	s.parent = "";
	if (push_child("", 0, &s))
		return -ENOMEM;
	while (!s.err && !w->err && ps_pop(&s, &path, &path_cap, &len)) {
		do {
			seq = tree_read_begin(t);
			n = tree_lookup(t, path, len);
			if (!n)
				break;
			znode_view(n, &v);
			stat = v.stat;
			acl = v.acl;
			dlen = v.data_null ? -1 : stat.data_length;
			if (dlen > 0 && (size_t)dlen > data_cap) {
				char *nd = realloc(data, (size_t)dlen);
				if (!nd) {
					s.err = -ENOMEM;
					break;
				}
				data = nd;
				data_cap = (size_t)dlen;
			}
			if (dlen > 0)
				memcpy(data, v.data, (size_t)dlen);
		} while (tree_read_retry(t, seq) && !s.err);
		if (!n || s.err)
			continue; /* deleted since its parent was visited */
		/* the child list may be newer than the stat: a child created
		 * after it is replayed as "parent side only" */
		s.parent = path;
		s.parent_len = len;
		/* pushed in reverse, popped (and written) in ZooKeeper's
		 * children order, which a restore keeps (tree.c, "Children
		 * order") */
		if (znode_children_zk(t, n, push_child, &s, &zorder, true) < 0)
			s.err = -ENOMEM;
		sw_u32(w, (uint32_t)len);
		sw_put(w, path, len);
		stat_encode(st, &stat);
		sw_put(w, st, sizeof(st));
		sw_u32(w, (uint32_t)dlen);
		if (dlen > 0)
			sw_put(w, data, (size_t)dlen);
		write_acl(w, acl, &prev_acl, &have_prev);
		count++;
		/* write out between nodes, RCU-offline: nothing is held here
		 * but the previous ACL, whose comparison restarts */
		if (w->len >= SW_BUF / 2) {
			have_prev = false;
			w->offline_io = true;
			sw_flush(w);
			w->offline_io = false;
		}
		/* QSBR: a walk that never reports a quiescent state would
		 * stall every grace period (memory reclaim, the hash table's
		 * resize) for the whole snapshot.  Nothing is held across
		 * iterations but paths (copied) and the previous ACL, whose
		 * comparison restarts here.  It is background work: every
		 * 128 nodes it also yields the CPU, offline (which is a
		 * quiescent state), so that it neither holds a CPU the
		 * request path shares for a whole scheduler slice (5 ms runs
		 * were seen) nor holds up grace periods while it waits. */
		if ((count & 127) == 0) {
			have_prev = false;
			rcu_thread_offline();
			sched_yield();
			rcu_thread_online();
			if (cancel && __atomic_load_n(cancel, __ATOMIC_RELAXED)) {
				s.err = -ECANCELED;
				break;
			}
		}
	}
	free(s.b);
	zorder_buf_free(&zorder);
	free(path);
	free(data);
	if (s.err)
		return s.err;
	return w->err ? w->err : count;
}

int zsnap_write(const char *snap_dir, struct tree *t, zxid_t zxid,
		const void *blob, size_t blob_len, const int *cancel)
{
	struct swriter w = {.fd = -1};
	char path[4096], tmp[4096 + 8];
	uint8_t hdr[ZSNAP_HDR], tr[ZSNAP_TRAILER];
	int64_t count;
	int rc;
	bool online = false;

	snprintf(path, sizeof(path), "%s/snapshot.%016" PRIx64, snap_dir,
		 (uint64_t)zxid);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	w.buf = malloc(SW_BUF);
	if (!w.buf)
		return -ENOMEM;
	w.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w.fd < 0) {
		rc = -errno;
		free(w.buf);
		return rc;
	}
	memset(hdr, 0, sizeof(hdr));
	memcpy(hdr, ZSNAP_MAGIC, 8);
	put_le32(hdr + 8, ZSNAP_VERSION);
	put_le64(hdr + 16, (uint64_t)zxid);
	sw_put(&w, hdr, sizeof(hdr));
	count = walk_tree(&w, t, cancel);
	if (count < 0) {
		rc = (int)count;
		goto err;
	}
	/* the rest reads no tree: RCU-offline, so a slow flush of a big
	 * snapshot does not hold up grace periods (and with them the reuse
	 * of the memory of every version the writer replaces meanwhile) */
	online = rcu_read_ongoing();
	if (online)
		rcu_thread_offline();
	sw_u32(&w, 0); /* end of nodes */
	sw_u64(&w, (uint64_t)count);
	sw_u64(&w, blob_len);
	if (blob_len)
		sw_put(&w, blob, blob_len);
	sw_flush(&w);
	put_le32(tr, w.crc);
	put_le32(tr + 4, ZSNAP_TRAILER_MAGIC);
	memcpy(w.buf, tr, sizeof(tr));
	w.len = sizeof(tr);
	sw_flush(&w);
	if (w.err) {
		rc = w.err;
		goto err;
	}
	if (zlog_fdatasync_hook(w.fd) || fsync(w.fd)) {
		rc = -errno;
		goto err;
	}
	close(w.fd);
	w.fd = -1;
	if (rename(tmp, path)) {
		rc = -errno;
		goto err;
	}
	free(w.buf);
	rc = zlog_fsync_dir(snap_dir);
	if (online)
		rcu_thread_online();
	return rc;
err:
	if (w.fd >= 0)
		close(w.fd);
	unlink(tmp);
	free(w.buf);
	if (online)
		rcu_thread_online();
	return rc;
}

/* ------------------------------------------------------------------ */
/* Reading                                                              */
/* ------------------------------------------------------------------ */

struct sreader {
	const uint8_t *p;
	size_t left;
	bool bad;
};

static const uint8_t *sr_take(struct sreader *r, size_t n)
{
	const uint8_t *p = r->p;

	if (r->bad || n > r->left) {
		r->bad = true;
		return NULL;
	}
	r->p += n;
	r->left -= n;
	return p;
}

static uint32_t sr_u32(struct sreader *r)
{
	const uint8_t *p = sr_take(r, 4);

	return p ? get_le32(p) : 0;
}

static uint64_t sr_u64(struct sreader *r)
{
	const uint8_t *p = sr_take(r, 8);

	return p ? get_le64(p) : 0;
}

/* Parse one ACL list; with build, *out is a new zacl (or NULL for an
 * empty list).  false if malformed or out of memory (then *nomem). */
static bool parse_acl(struct sreader *r, uint32_t n, bool build,
		      struct zacl **out, bool *nomem)
{
	int32_t *perms = NULL;
	char **sch = NULL, **ids = NULL;
	uint32_t i, sl, il;
	const uint8_t *s, *d;
	bool ok = true;

	*out = NULL;
	if (n > r->left / 12) {
		r->bad = true;
		return false;
	}
	if (build && n) {
		perms = calloc(n, sizeof(*perms));
		sch = calloc(n, sizeof(*sch));
		ids = calloc(n, sizeof(*ids));
		if (!perms || !sch || !ids) {
			*nomem = true;
			ok = false;
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		int32_t pm = (int32_t)sr_u32(r);

		sl = sr_u32(r);
		s = sr_take(r, sl);
		il = sr_u32(r);
		d = sr_take(r, il);
		if (r->bad) {
			ok = false;
			goto out;
		}
		if (build) {
			perms[i] = pm;
			sch[i] = strndup((const char *)s, sl);
			ids[i] = strndup((const char *)d, il);
			if (!sch[i] || !ids[i]) {
				*nomem = true;
				ok = false;
				goto out;
			}
		}
	}
	if (build && n) {
		*out = zacl_new((int)n, perms, (const char *const *)sch,
				(const char *const *)ids);
		if (!*out) {
			*nomem = true;
			ok = false;
		}
	}
out:
	if (sch)
		for (i = 0; i < n; i++)
			free(sch[i]);
	if (ids)
		for (i = 0; i < n; i++)
			free(ids[i]);
	free(perms);
	free(sch);
	free(ids);
	return ok;
}

/*
 * Check header, trailer and CRC of a mapped snapshot, then parse it,
 * calling node/blob if given (and building ACLs only then).
 */
static int snap_parse(const uint8_t *m, size_t size, zxid_t *zxid,
		      int (*node)(const struct zsnap_node *n, void *arg),
		      void (*blob)(const void *data, size_t len, void *arg),
		      void *arg, char *err, size_t err_len)
{
	struct sreader r;
	struct zsnap_node zn;
	struct zacl *acl = NULL, *na;
	const uint8_t *p;
	uint64_t count = 0, want, blen;
	uint32_t plen, an;
	int32_t dlen;
	bool nomem = false, build = node != NULL, have_acl = false;
	int rc = 0;

	if (size < ZSNAP_HDR + ZSNAP_TRAILER || memcmp(m, ZSNAP_MAGIC, 8)) {
		snprintf(err, err_len, "not a snapshot (bad magic or size)");
		return ZDATAINCONSISTENCY;
	}
	if (get_le32(m + 8) != ZSNAP_VERSION) {
		snprintf(err, err_len, "unknown snapshot version %u",
			 get_le32(m + 8));
		return ZDATAINCONSISTENCY;
	}
	if (get_le32(m + size - 4) != ZSNAP_TRAILER_MAGIC) {
		snprintf(err, err_len, "no trailer (truncated file?)");
		return ZDATAINCONSISTENCY;
	}
	if (zlog_crc32c(0, m, size - ZSNAP_TRAILER) != get_le32(m + size - 8)) {
		snprintf(err, err_len, "checksum mismatch");
		return ZDATAINCONSISTENCY;
	}
	*zxid = (zxid_t)get_le64(m + 16);
	if (*zxid < 0) {
		snprintf(err, err_len, "negative zxid in the header");
		return ZDATAINCONSISTENCY;
	}
	r.p = m + ZSNAP_HDR;
	r.left = size - ZSNAP_HDR - ZSNAP_TRAILER;
	r.bad = false;
	for (;;) {
		plen = sr_u32(&r);
		if (r.bad || plen == 0)
			break;
		zn.path = (const char *)sr_take(&r, plen);
		zn.path_len = plen;
		p = sr_take(&r, ZSNAP_STAT_SIZE);
		dlen = (int32_t)sr_u32(&r);
		if (r.bad || dlen < -1 || zn.path[0] != '/')
			goto bad;
		stat_decode(p, &zn.stat);
		zn.data_len = dlen;
		zn.data = dlen > 0 ? sr_take(&r, (size_t)dlen) : NULL;
		an = sr_u32(&r);
		if (r.bad)
			goto bad;
		if (an == ZSNAP_ACL_SAME) {
			if (!have_acl)
				goto bad;
		} else {
			if (!parse_acl(&r, an, build, &na, &nomem))
				goto bad;
			if (acl)
				zacl_unref(acl);
			acl = na;
			have_acl = true;
		}
		zn.acl = acl;
		count++;
		if (node) {
			rc = node(&zn, arg);
			if (rc)
				goto out;
		}
	}
	want = sr_u64(&r);
	blen = sr_u64(&r);
	p = sr_take(&r, blen);
	if (r.bad || want != count || r.left != 0)
		goto bad;
	if (blob)
		blob(p, blen, arg);
	goto out;
bad:
	if (nomem) {
		snprintf(err, err_len, "out of memory");
		rc = -ENOMEM;
	} else {
		snprintf(err, err_len, "malformed content after node %" PRIu64,
			 count);
		rc = ZDATAINCONSISTENCY;
	}
out:
	if (acl)
		zacl_unref(acl);
	return rc;
}

int zsnap_walk(const char *path, zxid_t *zxid,
	       int (*node)(const struct zsnap_node *n, void *arg),
	       void (*blob)(const void *data, size_t len, void *arg), void *arg,
	       char *err, size_t err_len)
{
	const uint8_t *m;
	size_t size;
	char e[256];
	int rc;

	*zxid = 0;
	rc = zlog_map(path, &m, &size);
	if (rc) {
		snprintf(err, err_len, "%s: %s", path, strerror(-rc));
		return rc;
	}
	/* verify everything first, so callers see nodes of good files only */
	rc = snap_parse(m, size, zxid, NULL, NULL, NULL, e, sizeof(e));
	if (!rc)
		rc = snap_parse(m, size, zxid, node, blob, arg, e, sizeof(e));
	if (rc)
		snprintf(err, err_len, "%s: %s", path, e);
	zlog_unmap(m, size);
	return rc;
}

struct load_ctx {
	struct tree *t;
	zxid_t zxid;	 /* the snapshot's */
	bool seen_new;	 /* a node created after the walk began */
	void *blob;
	size_t blob_len;
	bool blob_nomem;
	int fail;
	char where[128];
};

static int load_node(const struct zsnap_node *n, void *arg)
{
	struct load_ctx *c = arg;
	int rc;

	/*
	 * A path can appear twice in a fuzzy snapshot only if a node was
	 * deleted during the walk and one with the same path created: the
	 * later copy then has czxid > the snapshot's zxid.  Nodes that
	 * existed when the walk began have distinct paths.  So until the
	 * first "new" node, no path can repeat and the lookup is skipped.
	 */
	if (n->stat.czxid > c->zxid)
		c->seen_new = true;
	rc = tree_node_restore(c->t, n->path, n->path_len, &n->stat, n->data,
			       n->data_len, n->acl, !c->seen_new);
	if (rc) {
		snprintf(c->where, sizeof(c->where), "%.*s",
			 (int)(n->path_len > 100 ? 100 : n->path_len), n->path);
		c->fail = rc;
	}
	return rc;
}

static void load_blob(const void *data, size_t len, void *arg)
{
	struct load_ctx *c = arg;

	c->blob_len = len;
	c->blob = malloc(len ? len : 1);
	if (!c->blob)
		c->blob_nomem = true;
	else if (len)
		memcpy(c->blob, data, len);
}

int zsnap_load(const char *snap_dir, struct tree *t, zxid_t *zxid, void **blob,
	       size_t *blob_len, void (*report)(const char *msg, void *arg),
	       void *arg, char *err, size_t err_len)
{
	struct load_ctx c;
	zxid_t *v = NULL, z;
	const uint8_t *m;
	char path[4096], e[256], msg[4400];
	size_t size;
	int n, i, rc;

	*zxid = 0;
	*blob = NULL;
	*blob_len = 0;
	n = zlog_list(snap_dir, "snapshot", &v);
	if (n < 0) {
		snprintf(err, err_len, "snapshot: cannot list %s: %s", snap_dir,
			 strerror(-n));
		return ZSYSTEMERROR;
	}
	for (i = n - 1; i >= 0; i--) {
		snprintf(path, sizeof(path), "%s/snapshot.%016" PRIx64,
			 snap_dir, (uint64_t)v[i]);
		rc = zlog_map(path, &m, &size);
		if (!rc)
			rc = snap_parse(m, size, &z, NULL, NULL, NULL, e,
					sizeof(e));
		else
			snprintf(e, sizeof(e), "%s", strerror(-rc));
		if (rc) {
			zlog_unmap(m, size);
			snprintf(msg, sizeof(msg),
				 "snapshot: %s is invalid (%s); trying an "
				 "older one",
				 path, e);
			if (report)
				report(msg, arg);
			continue;
		}
		memset(&c, 0, sizeof(c));
		c.t = t;
		/* the header zxid (snap_parse checks the header) */
		c.zxid = size >= ZSNAP_HDR ? (zxid_t)get_le64(m + 16) : 0;
		/* a node record takes at least ~80 bytes; most hold data */
		tree_reserve(t, size / 128);
		rc = snap_parse(m, size, &z, load_node, load_blob, &c, e,
				sizeof(e));
		tree_restore_done(t);
		zlog_unmap(m, size);
		if (rc || c.blob_nomem) {
			free(c.blob);
			if (c.fail)
				snprintf(err, err_len,
					 "snapshot: %s: cannot restore %s: %s",
					 path, c.where, zk_strerror(c.fail));
			else
				snprintf(err, err_len, "snapshot: %s: %s", path,
					 rc ? e : "out of memory");
			free(v);
			return c.fail == ZNONODE ? ZDATAINCONSISTENCY
						 : ZSYSTEMERROR;
		}
		*zxid = z;
		*blob = c.blob;
		*blob_len = c.blob_len;
		free(v);
		return ZOK;
	}
	free(v);
	if (n > 0) {
		snprintf(err, err_len,
			 "snapshot: none of the %d snapshots in %s is valid", n,
			 snap_dir);
		return ZDATAINCONSISTENCY;
	}
	return ZOK;
}

int zsnap_purge(const char *snap_dir, const char *log_dir, int retain)
{
	zxid_t *snaps = NULL, *segs = NULL, keep;
	char path[4096];
	int ns, ng, i, rc = 0;

	if (retain < 1)
		retain = 1;
	ns = zlog_list(snap_dir, "snapshot", &snaps);
	if (ns < 0)
		return ns;
	if (ns == 0) {
		free(snaps);
		return 0;
	}
	if (ns < retain)
		retain = ns;
	keep = snaps[ns - retain]; /* oldest snapshot kept */
	for (i = 0; i < ns - retain; i++) {
		snprintf(path, sizeof(path), "%s/snapshot.%016" PRIx64,
			 snap_dir, (uint64_t)snaps[i]);
		if (unlink(path) && errno != ENOENT && !rc)
			rc = -errno;
	}
	free(snaps);
	ng = zlog_list(log_dir, "log", &segs);
	if (ng < 0)
		return rc ? rc : ng;
	/* segment i holds zxids in [segs[i], segs[i+1]): needed iff it may
	 * hold a zxid > keep, i.e. segs[i+1] > keep + 1; the newest always */
	for (i = 0; i + 1 < ng; i++) {
		if (segs[i + 1] > keep + 1)
			break;
		snprintf(path, sizeof(path), "%s/log.%016" PRIx64, log_dir,
			 (uint64_t)segs[i]);
		if (unlink(path) && errno != ENOENT && !rc)
			rc = -errno;
	}
	free(segs);
	zlog_fsync_dir(snap_dir);
	if (strcmp(snap_dir, log_dir))
		zlog_fsync_dir(log_dir);
	return rc;
}
