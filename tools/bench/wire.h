/* wire.h - the minimal ZooKeeper client codec paddock-bench needs.
 *
 * Jute encoding as in zookeeper.jute: big-endian int/long, bool as one byte,
 * buffer/string as an int length (-1 = null) then bytes, vector as an int
 * count then elements. Every client frame is a 4-byte length then the
 * record. ConnectRequest has no request header; the readOnly byte is sent
 * (3.4+ servers accept it, older ones ignore the trailing byte).
 *
 * Encoders append to a struct bench_buf (grown with realloc: only at setup
 * or when a connection's batch outgrows its buffer, never per request once
 * warm). Decoders read from a bounded cursor and report underflow through
 * cur->err, so a malformed reply can never read past its frame.
 *
 * Thread: all functions are reentrant; a buffer belongs to one thread.
 */
#ifndef BENCH_WIRE_H
#define BENCH_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* opcodes (ZooDefs.OpCode) */
enum {
	BENCH_OP_NOTIFICATION = 0,
	BENCH_OP_CREATE = 1,
	BENCH_OP_DELETE = 2,
	BENCH_OP_EXISTS = 3,
	BENCH_OP_GETDATA = 4,
	BENCH_OP_SETDATA = 5,
	BENCH_OP_SYNC = 9,
	BENCH_OP_GETCHILDREN = 8,
	BENCH_OP_PING = 11,
	BENCH_OP_GETCHILDREN2 = 12,
	BENCH_OP_CREATE2 = 15,
	BENCH_OP_CLOSE = -11,
};

/* reserved xids */
#define BENCH_XID_WATCH (-1)
#define BENCH_XID_PING (-2)

/* create flags (CreateMode) */
#define BENCH_CREATE_EPHEMERAL 1
#define BENCH_CREATE_SEQUENTIAL 2

/* error codes we test for */
#define BENCH_ZOK 0
#define BENCH_ZNONODE (-101)
#define BENCH_ZNODEEXISTS (-110)
#define BENCH_ZNOTEMPTY (-111)

/* watch event types (Watcher.Event.EventType) */
#define BENCH_EV_CREATED 1
#define BENCH_EV_DELETED 2
#define BENCH_EV_CHANGED 3
#define BENCH_EV_CHILD 4

#define BENCH_STAT_LEN 68

struct bench_buf {
	uint8_t *p;
	size_t len;
	size_t cap;
};

/* Ensures room for n more bytes. 0 or -1 (out of memory). */
int bench_buf_reserve(struct bench_buf *b, size_t n);
void bench_buf_free(struct bench_buf *b);

static inline void bench_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint32_t bench_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t bench_get_u64(const uint8_t *p)
{
	return (uint64_t)bench_get_u32(p) << 32 | bench_get_u32(p + 4);
}

/* A request under construction: frame start recorded so the length prefix
 * can be patched when the body is done. */
struct bench_req {
	struct bench_buf *b;
	size_t start;
};

/* Request encoders. Each appends one whole frame and returns 0, or -1 on
 * out of memory. Paths are NUL-terminated; data may be NULL with len 0. */
int bench_enc_connect(struct bench_buf *b, int32_t timeout_ms, int64_t session,
		      const uint8_t passwd[16]);
int bench_enc_path_watch(struct bench_buf *b, int32_t xid, int32_t op, const char *path,
			 int watch);
int bench_enc_create(struct bench_buf *b, int32_t xid, int32_t op, const char *path,
		     const void *data, int32_t len, int32_t flags);
int bench_enc_delete(struct bench_buf *b, int32_t xid, const char *path, int32_t version);
int bench_enc_setdata(struct bench_buf *b, int32_t xid, const char *path, const void *data,
		      int32_t len, int32_t version);
/* sync: {path} (no watch flag) */
int bench_enc_sync(struct bench_buf *b, int32_t xid, const char *path);
/* ping (xid -2, op 11) and closeSession: header only */
int bench_enc_header_only(struct bench_buf *b, int32_t xid, int32_t op);

/* Decoding cursor over one frame's payload. */
struct bench_cur {
	const uint8_t *p;
	const uint8_t *end;
	int err; /* set on underflow or bad length, sticky */
};

int32_t bench_get_int(struct bench_cur *c);
int64_t bench_get_long(struct bench_cur *c);
/* String or buffer: returns a pointer into the frame and its length (-1 for
 * null), not NUL-terminated. */
const uint8_t *bench_get_bytes(struct bench_cur *c, int32_t *len);
void bench_skip(struct bench_cur *c, size_t n);

struct bench_reply_hdr {
	int32_t xid;
	int64_t zxid;
	int32_t err;
};

struct bench_connect_resp {
	int32_t proto;
	int32_t timeout;
	int64_t session;
	uint8_t passwd[16];
};

/* Decoders over a frame payload (length prefix already stripped). 0 or -1. */
int bench_dec_connect(const uint8_t *p, size_t n, struct bench_connect_resp *r);
int bench_dec_reply_hdr(struct bench_cur *c, struct bench_reply_hdr *h);
/* WatcherEvent body: type, state, path (pointer into the frame). */
int bench_dec_watch(struct bench_cur *c, int32_t *type, int32_t *state, const uint8_t **path,
		    int32_t *path_len);

#endif
