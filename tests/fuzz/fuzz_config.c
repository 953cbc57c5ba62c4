/*
 * fuzz_config.c — libFuzzer target for the zoo.cfg parser (zcfg_load).
 *
 * The input is the whole file.  zcfg_load() takes a path, so the input is
 * written to one memfd and loaded as /proc/self/fd/N (no temp files, no
 * refactoring of the parser).  On success the loaded config is checked
 * for the invariants paddockd relies on.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config/config.h"

static int mfd = -1;
static char mpath[64];

static void warn_line(const char *line)
{
	/* must be a NUL-terminated string: touch every byte */
	volatile size_t n = strlen(line);
	(void)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct zcfg c;
	char err[512];

	if (mfd < 0) {
		mfd = memfd_create("zoo.cfg", MFD_CLOEXEC);
		if (mfd < 0) {
			perror("memfd_create");
			abort();
		}
		snprintf(mpath, sizeof(mpath), "/proc/self/fd/%d", mfd);
	}
	if (ftruncate(mfd, 0) ||
	    (size && pwrite(mfd, data, size, 0) != (ssize_t)size)) {
		perror("memfd write");
		abort();
	}
	memset(&c, 0xa5, sizeof(c)); /* "left unchanged on -1" is checked */
	zcfg_defaults(&c);
	static struct zcfg before;
	memcpy(&before, &c, sizeof(c)); /* padding included */
	int rc = zcfg_load(&c, mpath, err, sizeof(err), warn_line);
	if (rc) {
		if (memchr(err, 0, sizeof(err)) == NULL || !err[0])
			abort(); /* an error must come with a message */
		if (memcmp((const unsigned char *)&before,
			   (const unsigned char *)&c, sizeof(c)))
			abort(); /* "On -1 *c is left unchanged" */
		return 0;
	}
	if (c.n_servers < 0 || c.n_servers > ZCFG_MAX_SERVERS)
		abort();
	if (c.workers < 1 || c.workers > ZCFG_MAX_WORKERS)
		abort();
	if (c.tick_time <= 0 || c.jute_maxbuffer < 0)
		abort();
	if (!memchr(c.data_dir, 0, sizeof(c.data_dir)) ||
	    !memchr(c.client_port_address, 0, sizeof(c.client_port_address)) ||
	    !memchr(c.four_lw_whitelist, 0, sizeof(c.four_lw_whitelist)) ||
	    !memchr(c.super_digest, 0, sizeof(c.super_digest)))
		abort();
	for (int i = 0; i < c.n_servers; i++)
		if (!memchr(c.servers[i].host, 0, sizeof(c.servers[i].host)) ||
		    !memchr(c.servers[i].client_addr, 0,
			    sizeof(c.servers[i].client_addr)))
			abort();
	static const char *const words[] = {"ruok", "srvr", "stat", "mntr",
					    "cons", "conf", "wchp", ""};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		(void)zcfg_4lw_allowed(&c, words[i]);
	return 0;
}
