/*
 * paddock-logdump — print the records of one transaction log segment
 * (the counterpart of ZooKeeper's TxnLogToolkit dump mode).
 *
 *   paddock-logdump [--raw] log.<zxid>
 *
 * One line per record: offset, zxid, payload length, flush round, CRC
 * verdict and a hex preview of the payload (--raw: the whole payload).
 * Decoding the payload (the sequencer's transaction encoding) is not done
 * here.  Exit 0 if the segment ends cleanly, 1 on damage, 2 on usage or
 * I/O errors.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "log/log.h"

struct opts {
	bool raw;
	uint64_t n;
};

static int print_rec(const struct zlog_rec *r, void *arg)
{
	struct opts *o = arg;
	const unsigned char *p = r->payload;
	uint32_t i, show;

	printf("offset %-10" PRIu64 " zxid 0x%016" PRIx64 " len %-7u round "
	       "%-6u crc %s",
	       r->offset, (uint64_t)r->zxid, r->len, r->round,
	       r->crc_ok ? "ok " : "BAD");
	if (r->crc_ok) {
		show = o->raw || r->len <= 32 ? r->len : 32;
		printf("  ");
		for (i = 0; i < show; i++)
			printf("%02x", p[i]);
		if (show < r->len)
			printf("…");
		o->n++;
	}
	printf("\n");
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = {false, 0};
	const char *path = NULL;
	char err[4096] = "";
	int i, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--raw") == 0)
			o.raw = true;
		else if (!path && argv[i][0] != '-')
			path = argv[i];
		else
			path = NULL, i = argc;
	}
	if (!path) {
		fprintf(stderr, "usage: paddock-logdump [--raw] LOGFILE\n");
		return 2;
	}
	rc = zlog_segment_walk(path, print_rec, &o, err, sizeof(err));
	printf("%" PRIu64 " records\n", o.n);
	if (rc) {
		fprintf(stderr, "paddock-logdump: %s\n", err);
		return rc == ZDATAINCONSISTENCY ? 1 : 2;
	}
	return 0;
}
