/*
 * log_int.h — private to log/ (and its unit tests): on-disk constants,
 * little-endian helpers, CRC32C, the I/O fault hooks, directory listing.
 * The byte layout is documented in log/FORMAT.md; keep both in step.
 */
#ifndef PADDOCK_LOG_INT_H
#define PADDOCK_LOG_INT_H

#include <endian.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "log/log.h"

/* -- transaction log segment -- */
#define ZLOG_BLOCK 4096u	  /* O_DIRECT alignment and write unit */
#define ZLOG_SEG_MAGIC "PADDOCKL" /* 8 bytes, no NUL on disk */
#define ZLOG_VERSION 2u
#define ZLOG_SEG_HDR 32u	  /* segment header; records start here */
#define ZLOG_REC_HDR 24u	  /* record header */
#define ZLOG_REC_ALIGN 8u	  /* records start on 8-byte boundaries */
#define ZLOG_REC_MAX (256u << 20) /* largest payload accepted */
/* A flush round carries at most this many record bytes (or one larger
 * record): recovery relies on it only through the round numbers. */
#define ZLOG_ROUND_MAX (4u << 20)
#define ZLOG_DEFAULT_PREALLOC (64LL << 20)
#define ZLOG_MIN_PREALLOC (2LL * ZLOG_BLOCK)
#define ZLOG_RETRY_MS 100
#define ZLOG_SPARE "log.spare" /* the next segment, prepared ahead */

/* -- snapshot -- */
#define ZSNAP_MAGIC "PADDOCKS"
#define ZSNAP_TRAILER_MAGIC 0x444e4553u /* "SEND" little-endian */
#define ZSNAP_VERSION 1u
#define ZSNAP_HDR 32u
#define ZSNAP_TRAILER 8u
#define ZSNAP_ACL_SAME 0xffffffffu /* acl count: same as previous node */
#define ZSNAP_STAT_SIZE 68u

static inline size_t zlog_rec_size(uint32_t len)
{
	return ZLOG_REC_HDR + (((size_t)len + ZLOG_REC_ALIGN - 1) &
			       ~(size_t)(ZLOG_REC_ALIGN - 1));
}

static inline void put_le32(void *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}
static inline void put_le64(void *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}
static inline uint32_t get_le32(const void *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}
static inline uint64_t get_le64(const void *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

/*
 * CRC32C (Castagnoli, reflected polynomial 0x82f63b78, initial value and
 * final xor 0xffffffff — the iSCSI/ext4 check value: "123456789" gives
 * 0xe3069283).  Chainable like zlib's crc32(): pass 0 to start, the
 * previous result to continue.  SSE4.2 instruction when the CPU has it.
 */
uint32_t zlog_crc32c(uint32_t crc, const void *buf, size_t len);

/*
 * Fault hooks (SQLite test6.c style): every data write and flush of the
 * log and snapshots goes through these.  Tests swap them to fail or tear
 * I/O; they default to pwrite(2) and fdatasync(2).  Set them only while
 * no log is open.
 */
extern ssize_t (*zlog_pwrite_hook)(int fd, const void *buf, size_t n,
				   off_t off);
extern int (*zlog_fdatasync_hook)(int fd);

/* Segment/snapshot names: "log.<16 hex>", "snapshot.<16 hex>". */
int zlog_parse_name(const char *name, const char *prefix, zxid_t *zxid);

/*
 * Sorted (ascending zxid) list of the files in dir named prefix.<16 hex>.
 * *out is malloc'd (caller frees); returns the count, or -errno.  A
 * missing directory is an empty list.
 */
int zlog_list(const char *dir, const char *prefix, zxid_t **out);

/* fsync a directory (after a rename or unlink in it). 0 or -errno. */
int zlog_fsync_dir(const char *dir);

/* Read a whole file read-only through mmap; *len 0 gives map NULL.
 * 0 or -errno. */
int zlog_map(const char *path, const uint8_t **map, size_t *len);
void zlog_unmap(const uint8_t *map, size_t len);

#endif
