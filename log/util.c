/*
 * util.c — helpers shared by the log and the snapshots: CRC32C, the I/O
 * fault hooks, file naming and directory listing.
 *
 * Design note
 * -----------
 * CRC32C is computed here rather than with DPDK's rte_hash_crc so that
 * log/ and the offline tools do not depend on the EAL (rte_hash_crc's
 * constructor probes CPU flags through librte_eal and logs through
 * rte_log).  The result is the standard CRC-32C (iSCSI, ext4, RocksDB
 * masked-less): reflected polynomial 0x82f63b78, init and final xor
 * 0xffffffff.  The SSE4.2 crc32 instruction does 8 bytes per step; other
 * CPUs use a byte-wise table.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log/log_int.h"

ssize_t (*zlog_pwrite_hook)(int fd, const void *buf, size_t n,
			    off_t off) = pwrite;
int (*zlog_fdatasync_hook)(int fd) = fdatasync;

/* ---- CRC32C ---- */

static uint32_t crc_table[256];

static void crc_table_init(void)
{
	uint32_t i, j, c;

	for (i = 0; i < 256; i++) {
		c = i;
		for (j = 0; j < 8; j++)
			c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1)));
		crc_table[i] = c;
	}
}

static uint32_t crc_sw(uint32_t c, const uint8_t *p, size_t len)
{
	while (len--)
		c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t
crc_hw(uint32_t c, const uint8_t *p, size_t len)
{
	uint64_t c64 = c, w;

	while (len && ((uintptr_t)p & 7)) {
		c64 = __builtin_ia32_crc32qi((uint32_t)c64, *p++);
		len--;
	}
	while (len >= 8) {
		memcpy(&w, p, 8);
		c64 = __builtin_ia32_crc32di(c64, w);
		p += 8;
		len -= 8;
	}
	c = (uint32_t)c64;
	while (len--)
		c = __builtin_ia32_crc32qi(c, *p++);
	return c;
}
#endif

static uint32_t crc_pick(uint32_t c, const uint8_t *p, size_t len);
static uint32_t (*crc_impl)(uint32_t, const uint8_t *, size_t) = crc_pick;

static uint32_t crc_pick(uint32_t c, const uint8_t *p, size_t len)
{
	uint32_t (*f)(uint32_t, const uint8_t *, size_t) = crc_sw;

	crc_table_init();
#if defined(__x86_64__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("sse4.2"))
		f = crc_hw;
#endif
	__atomic_store_n(&crc_impl, f, __ATOMIC_RELEASE);
	return f(c, p, len);
}

uint32_t zlog_crc32c(uint32_t crc, const void *buf, size_t len)
{
	uint32_t (*f)(uint32_t, const uint8_t *, size_t) =
	    __atomic_load_n(&crc_impl, __ATOMIC_ACQUIRE);

	return ~f(~crc, buf, len);
}

/* ---- names and directories ---- */

int zlog_parse_name(const char *name, const char *prefix, zxid_t *zxid)
{
	size_t pl = strlen(prefix), i;
	uint64_t v = 0;
	const char *h;

	if (strncmp(name, prefix, pl) != 0 || name[pl] != '.')
		return -1;
	h = name + pl + 1;
	for (i = 0; i < 16; i++) {
		char c = h[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint64_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint64_t)(c - 'A' + 10);
		else
			return -1;
	}
	/* zxids are non-negative int64s: a name at or above 2^63 is not one
	 * of ours (and would overflow the arithmetic on segment names) */
	if (h[16] != '\0' || v > (uint64_t)INT64_MAX)
		return -1;
	*zxid = (zxid_t)v;
	return 0;
}

static int cmp_zxid(const void *a, const void *b)
{
	zxid_t x = *(const zxid_t *)a, y = *(const zxid_t *)b;

	return (x > y) - (x < y);
}

int zlog_list(const char *dir, const char *prefix, zxid_t **out)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	zxid_t *v = NULL, *nv, z;
	size_t n = 0, cap = 0;

	*out = NULL;
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d))) {
		if (zlog_parse_name(e->d_name, prefix, &z))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
		}
		v[n++] = z;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_zxid);
	*out = v;
	return (int)n;
}

int zlog_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd))
		rc = -errno;
	close(fd);
	return rc;
}

int zlog_map(const char *path, const uint8_t **map, size_t *len)
{
	struct stat st;
	void *m;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*map = NULL;
	*len = 0;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		close(fd);
		return -errno;
	}
	if (st.st_size == 0) {
		close(fd);
		return 0;
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return -errno;
	*map = m;
	*len = (size_t)st.st_size;
	return 0;
}

void zlog_unmap(const uint8_t *map, size_t len)
{
	if (map)
		munmap((void *)map, len);
}
