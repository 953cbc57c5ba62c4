/*
 * digest.c — ZooKeeper's node digest (DigestCalculator, version 2).
 *
 * A node's digest is the CRC-32 (zlib's polynomial, as java.util.zip.CRC32)
 * of its path, its data and 60 bytes of its StatPersisted: czxid, mzxid,
 * pzxid, ctime, mtime (8 bytes each, big-endian), version, cversion,
 * aversion (4 each), ephemeralOwner (8).  "/" is hashed as "" (DataTree
 * keeps the root under both names and digests it as ""), and every path
 * under "/zookeeper/" digests to 0 (its quota nodes change locally).  The
 * tree digest is the sum of all node digests modulo 2^64 (AdHash).
 *
 * The CRC is split in two so that a stat-only change (a parent gaining a
 * child) can reuse the CRC of an unchanged path and data: zk_digest_start
 * runs over path and data, zk_digest_end adds the stat.  ISA-L's
 * crc32_gzip_refl is the same function as zlib's crc32, about five times
 * faster on short inputs (37 ns against 176 ns for 180 bytes here), which
 * matters because an ensemble computes two or three digests per write on
 * every member.
 */
#include <string.h>

#include <isa-l/crc.h>

#include "tree/jute.h"
#include "tree/tree.h"

static const char sys_prefix[] = "/zookeeper/";

static bool digest_excluded(const char *path, size_t len)
{
	return len >= sizeof(sys_prefix) - 1 &&
	       !memcmp(path, sys_prefix, sizeof(sys_prefix) - 1);
}

uint32_t zk_digest_start(const char *path, size_t len, const void *data,
			 int32_t dlen)
{
	uint32_t crc = 0;

	if (len == 1 && path[0] == '/')
		len = 0;
	if (len)
		crc = crc32_gzip_refl(crc, (const unsigned char *)path,
				      (uint64_t)len);
	if (data && dlen > 0)
		crc = crc32_gzip_refl(crc, data, (uint64_t)dlen);
	return crc;
}

int64_t zk_digest_end(uint32_t crc, const char *path, size_t len,
		      const struct zstat *st)
{
	uint8_t b[60];

	if (digest_excluded(path, len))
		return 0;
	jw_put_long_at(b, st->czxid);
	jw_put_long_at(b + 8, st->mzxid);
	jw_put_long_at(b + 16, st->pzxid);
	jw_put_long_at(b + 24, st->ctime);
	jw_put_long_at(b + 32, st->mtime);
	jw_put_int_at(b + 40, st->version);
	jw_put_int_at(b + 44, st->cversion);
	jw_put_int_at(b + 48, st->aversion);
	jw_put_long_at(b + 52, st->ephemeral_owner);
	return (int64_t)crc32_gzip_refl(crc, b, sizeof(b));
}

int64_t zk_node_digest(const char *path, size_t len, const void *data,
		       int32_t dlen, const struct zstat *st)
{
	if (digest_excluded(path, len))
		return 0;
	return zk_digest_end(zk_digest_start(path, len, data, dlen), path, len,
			     st);
}
