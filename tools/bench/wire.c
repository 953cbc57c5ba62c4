/* wire.c - jute encoders/decoders for the ZooKeeper client protocol subset
 * paddock-bench speaks (see wire.h; record layouts from
 * zookeeper-jute/src/main/resources/zookeeper.jute).
 */
#include "wire.h"

#include <stdlib.h>

int bench_buf_reserve(struct bench_buf *b, size_t n)
{
	if (b->len + n <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + n)
		cap *= 2;
	uint8_t *p = realloc(b->p, cap);
	if (!p)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

void bench_buf_free(struct bench_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* Unchecked appenders: callers reserve first. */
static inline void w_int(struct bench_buf *b, int32_t v)
{
	bench_put_u32(b->p + b->len, (uint32_t)v);
	b->len += 4;
}

static inline void w_long(struct bench_buf *b, int64_t v)
{
	w_int(b, (int32_t)((uint64_t)v >> 32));
	w_int(b, (int32_t)(uint32_t)v);
}

static inline void w_bytes(struct bench_buf *b, const void *d, int32_t n)
{
	w_int(b, n);
	if (n > 0) {
		memcpy(b->p + b->len, d, (size_t)n);
		b->len += (size_t)n;
	}
}

static inline size_t frame_begin(struct bench_buf *b)
{
	size_t s = b->len;
	b->len += 4;
	return s;
}

static inline void frame_end(struct bench_buf *b, size_t s)
{
	bench_put_u32(b->p + s, (uint32_t)(b->len - s - 4));
}

int bench_enc_connect(struct bench_buf *b, int32_t timeout_ms, int64_t session,
		      const uint8_t passwd[16])
{
	static const uint8_t zero[16];
	if (bench_buf_reserve(b, 64))
		return -1;
	size_t s = frame_begin(b);
	w_int(b, 0);       /* protocolVersion */
	w_long(b, 0);      /* lastZxidSeen */
	w_int(b, timeout_ms);
	w_long(b, session);
	w_bytes(b, passwd ? passwd : zero, 16);
	b->p[b->len++] = 0; /* readOnly = false */
	frame_end(b, s);
	return 0;
}

/* The start every path request shares: room for the frame (`more` bytes
 * after the path), frame length slot, xid, op, path.  Returns the frame
 * start for frame_end, or (size_t)-1 on out of memory. */
static size_t path_request(struct bench_buf *b, int32_t xid, int32_t op, const char *path,
			   size_t more)
{
	int32_t pl = (int32_t)strlen(path);
	if (bench_buf_reserve(b, 24 + (size_t)pl + more))
		return (size_t)-1;
	size_t s = frame_begin(b);
	w_int(b, xid);
	w_int(b, op);
	w_bytes(b, path, pl);
	return s;
}

int bench_enc_path_watch(struct bench_buf *b, int32_t xid, int32_t op, const char *path,
			 int watch)
{
	size_t s = path_request(b, xid, op, path, 0);
	if (s == (size_t)-1)
		return -1;
	b->p[b->len++] = watch ? 1 : 0;
	frame_end(b, s);
	return 0;
}

int bench_enc_sync(struct bench_buf *b, int32_t xid, const char *path)
{
	size_t s = path_request(b, xid, BENCH_OP_SYNC, path, 0);
	if (s == (size_t)-1)
		return -1;
	frame_end(b, s);
	return 0;
}

int bench_enc_create(struct bench_buf *b, int32_t xid, int32_t op, const char *path,
		     const void *data, int32_t len, int32_t flags)
{
	static const char scheme[] = "world", id[] = "anyone";
	size_t s = path_request(b, xid, op, path, 40 + (size_t)(len > 0 ? len : 0));
	if (s == (size_t)-1)
		return -1;
	w_bytes(b, data, data ? len : -1);
	w_int(b, 1);  /* one ACL */
	w_int(b, 31); /* Perms.ALL */
	w_bytes(b, scheme, 5);
	w_bytes(b, id, 6);
	w_int(b, flags);
	frame_end(b, s);
	return 0;
}

int bench_enc_delete(struct bench_buf *b, int32_t xid, const char *path, int32_t version)
{
	size_t s = path_request(b, xid, BENCH_OP_DELETE, path, 0);
	if (s == (size_t)-1)
		return -1;
	w_int(b, version);
	frame_end(b, s);
	return 0;
}

int bench_enc_setdata(struct bench_buf *b, int32_t xid, const char *path, const void *data,
		      int32_t len, int32_t version)
{
	size_t s = path_request(b, xid, BENCH_OP_SETDATA, path, 8 + (size_t)(len > 0 ? len : 0));
	if (s == (size_t)-1)
		return -1;
	w_bytes(b, data, data ? len : -1);
	w_int(b, version);
	frame_end(b, s);
	return 0;
}

int bench_enc_header_only(struct bench_buf *b, int32_t xid, int32_t op)
{
	if (bench_buf_reserve(b, 12))
		return -1;
	size_t s = frame_begin(b);
	w_int(b, xid);
	w_int(b, op);
	frame_end(b, s);
	return 0;
}

int32_t bench_get_int(struct bench_cur *c)
{
	if (c->err || c->end - c->p < 4) {
		c->err = 1;
		return 0;
	}
	int32_t v = (int32_t)bench_get_u32(c->p);
	c->p += 4;
	return v;
}

int64_t bench_get_long(struct bench_cur *c)
{
	if (c->err || c->end - c->p < 8) {
		c->err = 1;
		return 0;
	}
	int64_t v = (int64_t)bench_get_u64(c->p);
	c->p += 8;
	return v;
}

const uint8_t *bench_get_bytes(struct bench_cur *c, int32_t *len)
{
	int32_t n = bench_get_int(c);
	*len = -1;
	if (c->err || n < 0)
		return NULL;
	if (c->end - c->p < n) {
		c->err = 1;
		return NULL;
	}
	const uint8_t *p = c->p;
	c->p += n;
	*len = n;
	return p;
}

void bench_skip(struct bench_cur *c, size_t n)
{
	if (c->err || (size_t)(c->end - c->p) < n) {
		c->err = 1;
		return;
	}
	c->p += n;
}

int bench_dec_connect(const uint8_t *p, size_t n, struct bench_connect_resp *r)
{
	struct bench_cur c = {p, p + n, 0};
	int32_t pl;
	r->proto = bench_get_int(&c);
	r->timeout = bench_get_int(&c);
	r->session = bench_get_long(&c);
	const uint8_t *pw = bench_get_bytes(&c, &pl);
	if (c.err)
		return -1;
	memset(r->passwd, 0, 16);
	if (pw && pl > 0)
		memcpy(r->passwd, pw, pl > 16 ? 16 : (size_t)pl);
	return 0;
}

int bench_dec_reply_hdr(struct bench_cur *c, struct bench_reply_hdr *h)
{
	h->xid = bench_get_int(c);
	h->zxid = bench_get_long(c);
	h->err = bench_get_int(c);
	return c->err ? -1 : 0;
}

int bench_dec_watch(struct bench_cur *c, int32_t *type, int32_t *state, const uint8_t **path,
		    int32_t *path_len)
{
	*type = bench_get_int(c);
	*state = bench_get_int(c);
	*path = bench_get_bytes(c, path_len);
	return c->err ? -1 : 0;
}
