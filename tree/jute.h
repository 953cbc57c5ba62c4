/*
 * jute.h — Apache ZooKeeper's "jute" binary record encoding.
 *
 * Everything is big-endian: int = 4 bytes, long = 8 bytes, boolean = 1
 * byte, buffer and ustring = int length (-1 for null) then the bytes,
 * vector = int count (-1 for null) then the elements.  Records are the
 * concatenation of their fields (see dataplane/PROTOCOL.md for the
 * records paddock reads and writes).
 *
 * The reader never copies: strings and buffers point into the input.  A
 * read past the end, or a negative/oversized length, sets `err` and
 * returns zero values; callers check `err` once after a whole record.
 *
 * The writer appends to a growable buffer; an allocation failure sets
 * `err` and later writes are dropped.  Header-only: shared by the
 * dataplane (client wire), the sequencer (request bodies) and later the
 * log and snapshots.
 */
#ifndef PADDOCK_JUTE_H
#define PADDOCK_JUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct jr {
	const uint8_t *p;
	size_t len;
	size_t off;
	bool err;
};

static inline void jr_init(struct jr *r, const void *p, size_t len)
{
	r->p = (const uint8_t *)p;
	r->len = len;
	r->off = 0;
	r->err = false;
}

static inline size_t jr_left(const struct jr *r)
{
	return r->len - r->off;
}

static inline bool jr_need(struct jr *r, size_t n)
{
	if (r->err || jr_left(r) < n) {
		r->err = true;
		return false;
	}
	return true;
}

/* The big-endian int at p (4 readable bytes): a frame length, or a
 * field read in place. */
static inline int32_t jr_int_at(const uint8_t *p)
{
	return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
			 (uint32_t)p[2] << 8 | (uint32_t)p[3]);
}

static inline int32_t jr_int(struct jr *r)
{
	if (!jr_need(r, 4))
		return 0;
	const uint8_t *p = r->p + r->off;
	r->off += 4;
	return jr_int_at(p);
}

static inline int64_t jr_long(struct jr *r)
{
	/* all 8 bytes or nothing: a long cut after its high half must not
	 * return that half */
	if (!jr_need(r, 8))
		return 0;
	uint64_t hi = (uint32_t)jr_int(r);
	uint64_t lo = (uint32_t)jr_int(r);
	return (int64_t)(hi << 32 | lo);
}

static inline bool jr_bool(struct jr *r)
{
	if (!jr_need(r, 1))
		return false;
	return r->p[r->off++] != 0;
}

/* buffer or ustring: *len = -1 for null (returns NULL). */
static inline const char *jr_buf(struct jr *r, int32_t *len)
{
	int32_t n = jr_int(r);
	*len = -1;
	if (r->err)
		return NULL;
	if (n < 0)
		return NULL;
	if (!jr_need(r, (size_t)n))
		return NULL;
	const char *s = (const char *)r->p + r->off;
	r->off += (size_t)n;
	*len = n;
	return s;
}

/* A NUL-terminated heap copy of exactly len bytes (which may contain
 * NULs: callers keep len, so strndup's stop at a NUL would make them read
 * past the copy).  NULL on ENOMEM. */
static inline char *jr_dup(const char *p, size_t len)
{
	char *s = (char *)malloc(len + 1);
	if (s) {
		if (len)
			memcpy(s, p, len);
		s[len] = 0;
	}
	return s;
}

/* Vector count; -1 (null) reads as 0.  A count larger than the bytes
 * left could possibly hold (at least `min_elem` bytes each) is an error. */
static inline int32_t jr_vec(struct jr *r, size_t min_elem)
{
	int32_t n = jr_int(r);
	if (r->err)
		return 0;
	if (n < 0)
		return 0;
	if (min_elem && (size_t)n > jr_left(r) / min_elem) {
		r->err = true;
		return 0;
	}
	return n;
}

struct jw {
	uint8_t *p;
	size_t len;
	size_t cap;
	bool err;
};

static inline bool jw_reserve(struct jw *w, size_t n)
{
	if (w->err)
		return false;
	if (w->cap - w->len >= n)
		return true;
	size_t cap = w->cap ? w->cap : 256;
	while (cap - w->len < n)
		cap *= 2;
	uint8_t *p = (uint8_t *)realloc(w->p, cap);
	if (!p) {
		w->err = true;
		return false;
	}
	w->p = p;
	w->cap = cap;
	return true;
}

static inline void jw_free(struct jw *w)
{
	free(w->p);
	w->p = NULL;
	w->len = w->cap = 0;
	w->err = false;
}

static inline void jw_bytes(struct jw *w, const void *p, size_t n)
{
	if (!jw_reserve(w, n))
		return;
	if (n)
		memcpy(w->p + w->len, p, n);
	w->len += n;
}

static inline void jw_put_int_at(uint8_t *p, int32_t v)
{
	uint32_t u = (uint32_t)v;
	p[0] = (uint8_t)(u >> 24);
	p[1] = (uint8_t)(u >> 16);
	p[2] = (uint8_t)(u >> 8);
	p[3] = (uint8_t)u;
}

static inline void jw_int(struct jw *w, int32_t v)
{
	if (!jw_reserve(w, 4))
		return;
	jw_put_int_at(w->p + w->len, v);
	w->len += 4;
}

static inline void jw_long(struct jw *w, int64_t v)
{
	jw_int(w, (int32_t)((uint64_t)v >> 32));
	jw_int(w, (int32_t)(uint32_t)v);
}

static inline void jw_bool(struct jw *w, bool v)
{
	uint8_t b = v ? 1 : 0;
	jw_bytes(w, &b, 1);
}

/* buffer/ustring; len < 0 writes null (-1); p == NULL writes an empty
 * buffer whatever len says (never reads through NULL). */
static inline void jw_buf(struct jw *w, const void *p, int32_t len)
{
	if (!p || len <= 0) {
		jw_int(w, len < 0 ? -1 : 0);
		return;
	}
	jw_int(w, len);
	jw_bytes(w, p, (size_t)len);
}

static inline void jw_str(struct jw *w, const char *s)
{
	jw_buf(w, s, (int32_t)strlen(s));
}

/* Start a length-prefixed frame; returns its offset for jw_frame_end. */
static inline size_t jw_frame_begin(struct jw *w)
{
	size_t at = w->len;
	jw_int(w, 0);
	return at;
}

static inline void jw_frame_end(struct jw *w, size_t at)
{
	if (!w->err)
		jw_put_int_at(w->p + at, (int32_t)(w->len - at - 4));
}

/* ------------------------------------------------------------------ */
/* ZooKeeper protocol constants and common records                     */
/* ------------------------------------------------------------------ */
#include "tree/tree.h"

enum zk_op { /* ZooDefs.OpCode */
	ZOP_NOTIFICATION = 0,
	ZOP_CREATE = 1,
	ZOP_DELETE = 2,
	ZOP_EXISTS = 3,
	ZOP_GETDATA = 4,
	ZOP_SETDATA = 5,
	ZOP_GETACL = 6,
	ZOP_SETACL = 7,
	ZOP_GETCHILDREN = 8,
	ZOP_SYNC = 9,
	ZOP_PING = 11,
	ZOP_GETCHILDREN2 = 12,
	ZOP_CHECK = 13,
	ZOP_MULTI = 14,
	ZOP_CREATE2 = 15,
	ZOP_RECONFIG = 16,
	ZOP_CHECKWATCHES = 17,
	ZOP_REMOVEWATCHES = 18,
	ZOP_CREATECONTAINER = 19,
	ZOP_DELETECONTAINER = 20,
	ZOP_CREATETTL = 21,
	ZOP_MULTIREAD = 22,
	ZOP_AUTH = 100,
	ZOP_SETWATCHES = 101,
	ZOP_SASL = 102,
	ZOP_GETEPHEMERALS = 103,
	ZOP_GETALLCHILDRENNUMBER = 104,
	ZOP_SETWATCHES2 = 105,
	ZOP_ADDWATCH = 106,
	ZOP_WHOAMI = 107,
	ZOP_CREATESESSION = -10,
	ZOP_CLOSESESSION = -11,
	ZOP_ERROR = -1,
};

enum { /* special xids */
	ZXID_NOTIFICATION = -1,
	ZXID_PING = -2,
	ZXID_AUTH = -4,
	ZXID_SETWATCHES = -8,
};

enum zk_event { /* Watcher.Event.EventType */
	ZEV_NONE = -1,
	ZEV_CREATED = 1,
	ZEV_DELETED = 2,
	ZEV_DATA_CHANGED = 3,
	ZEV_CHILD_CHANGED = 4,
	ZEV_DATA_WATCH_REMOVED = 5,
	ZEV_CHILD_WATCH_REMOVED = 6,
	ZEV_PERSISTENT_WATCH_REMOVED = 7,
};

#define ZK_STATE_SYNC_CONNECTED 3

enum { /* CreateMode flags */
	ZCM_PERSISTENT = 0,
	ZCM_EPHEMERAL = 1,
	ZCM_PERSISTENT_SEQUENTIAL = 2,
	ZCM_EPHEMERAL_SEQUENTIAL = 3,
	ZCM_CONTAINER = 4,
	ZCM_PERSISTENT_TTL = 5,
	ZCM_PERSISTENT_SEQUENTIAL_TTL = 6,
};

/* big-endian stores into reserved bytes (jw_stat's one reservation,
 * the digest's StatPersisted) */
static inline void jw_put_long_at(uint8_t *p, int64_t v)
{
	jw_put_int_at(p, (int32_t)((uint64_t)v >> 32));
	jw_put_int_at(p + 4, (int32_t)(uint32_t)v);
}

/* Stat: 68 bytes, reserved once (a read's reply is mostly this) */
static inline void jw_stat(struct jw *w, const struct zstat *s)
{
	uint8_t *p;

	if (!jw_reserve(w, 68))
		return;
	p = w->p + w->len;
	jw_put_long_at(p, s->czxid);
	jw_put_long_at(p + 8, s->mzxid);
	jw_put_long_at(p + 16, s->ctime);
	jw_put_long_at(p + 24, s->mtime);
	jw_put_int_at(p + 32, s->version);
	jw_put_int_at(p + 36, s->cversion);
	jw_put_int_at(p + 40, s->aversion);
	/* DataTree.getClientEphemeralOwner: containers and TTL nodes show 0 */
	jw_put_long_at(p + 44, zk_owner_is_session(s->ephemeral_owner)
				       ? s->ephemeral_owner
				       : 0);
	jw_put_int_at(p + 52, s->data_length);
	jw_put_int_at(p + 56, s->num_children);
	jw_put_long_at(p + 60, s->pzxid);
	w->len += 68;
}

/* vector<ACL>; `mask_digest` replaces digest ids' hash with "x"
 * (getACL by a client without ADMIN). */
static inline void jw_acl(struct jw *w, const struct zacl *a,
			  bool mask_digest)
{
	jw_int(w, a ? a->n : 0);
	for (int i = 0; a && i < a->n; i++) {
		jw_int(w, a->e[i].perms);
		jw_str(w, a->e[i].scheme);
		const char *id = a->e[i].id;
		const char *colon = strchr(id, ':');
		if (mask_digest && colon && !strcmp(a->e[i].scheme, "digest")) {
			/* "user:hash" -> "user:x" */
			int32_t ul = (int32_t)(colon - id + 1);
			jw_int(w, ul + 1);
			jw_bytes(w, id, (size_t)ul);
			jw_bytes(w, "x", 1);
		} else {
			jw_str(w, id);
		}
	}
}

/* Read vector<ACL> into a new zacl (caller owns); NULL and r->err set if
 * malformed, NULL without err on ENOMEM (check both). */
static inline struct zacl *jr_acl(struct jr *r)
{
	int32_t n = jr_vec(r, 12);
	if (r->err)
		return NULL;
	size_t k = n ? (size_t)n : 1;
	int32_t *perms = (int32_t *)calloc(k, sizeof(*perms));
	char **scheme = (char **)calloc(k, sizeof(char *));
	char **id = (char **)calloc(k, sizeof(char *));
	struct zacl *a = NULL;
	int got = 0;
	if (!perms || !scheme || !id)
		goto out;
	for (; got < n; got++) {
		int32_t sl, il;
		perms[got] = jr_int(r);
		const char *s = jr_buf(r, &sl);
		const char *i = jr_buf(r, &il);
		if (r->err)
			goto out;
		/* a null ustring (-1) reads as "" (kazoo writes "" as null) */
		scheme[got] = strndup(sl > 0 ? s : "", sl > 0 ? (size_t)sl : 0);
		id[got] = strndup(il > 0 ? i : "", il > 0 ? (size_t)il : 0);
		if (!scheme[got] || !id[got]) {
			got++;
			goto out;
		}
	}
	a = zacl_new(n, perms, (const char *const *)scheme,
		     (const char *const *)id);
out:
	for (int j = 0; j < got; j++) {
		free(scheme[j]);
		free(id[j]);
	}
	free(perms);
	free(scheme);
	free(id);
	return a;
}

#endif
