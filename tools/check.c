/*
 * paddock-check — verify every checksum of a data directory: each
 * snapshot (trailer CRC32C and structure) and each log segment (header
 * and every record's CRC32C; only zeros after the last record).
 *
 *   paddock-check DATADIR [DATALOGDIR]
 *
 * Prints one line per file and a message for each damaged one.  Exit 0
 * if everything is clean, 1 if anything is damaged (a torn tail that the
 * server would truncate at its next start counts as damage here), 2 on
 * usage or I/O errors.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/log.h"

static int cmp_zxid(const void *a, const void *b)
{
	zxid_t x = *(const zxid_t *)a, y = *(const zxid_t *)b;

	return (x > y) - (x < y);
}

/* Files named prefix.<16 hex digits>, sorted; count or -1. */
static int list(const char *dir, const char *prefix, zxid_t **out)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t pl = strlen(prefix), n = 0, cap = 0;
	zxid_t *v = NULL, *nv;
	unsigned long long z;
	int used;

	*out = NULL;
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, prefix, pl) || e->d_name[pl] != '.' ||
		    strlen(e->d_name + pl + 1) != 16 ||
		    sscanf(e->d_name + pl + 1, "%16llx%n", &z, &used) != 1 ||
		    used != 16)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv)
				break;
			v = nv;
		}
		v[n++] = (zxid_t)z;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_zxid);
	*out = v;
	return (int)n;
}

static int rec_count(const struct zlog_rec *r, void *arg)
{
	if (r->crc_ok)
		(*(uint64_t *)arg)++;
	return 0;
}

static int node_count(const struct zsnap_node *n, void *arg)
{
	(*(uint64_t *)arg)++;
	return 0;
}

/* 0 clean, 1 damaged, 2 error */
static int check_dir(const char *dir, const char *prefix)
{
	char path[4096 + 64], err[8192];
	zxid_t *v = NULL, z;
	uint64_t n;
	int cnt, i, rc, worst = 0;

	cnt = list(dir, prefix, &v);
	if (cnt < 0) {
		perror(dir);
		return 2;
	}
	for (i = 0; i < cnt; i++) {
		snprintf(path, sizeof(path), "%s/%s.%016" PRIx64, dir, prefix,
			 (uint64_t)v[i]);
		n = 0;
		if (prefix[0] == 'l')
			rc = zlog_segment_walk(path, rec_count, &n, err,
					       sizeof(err));
		else
			rc = zsnap_walk(path, &z, node_count, NULL, &n, err,
					sizeof(err));
		if (rc == 0) {
			printf("ok       %s (%" PRIu64 " %s)\n", path, n,
			       prefix[0] == 'l' ? "records" : "znodes");
		} else {
			printf("DAMAGED  %s: %s\n", path, err);
			if (worst < (rc == ZDATAINCONSISTENCY ? 1 : 2))
				worst = rc == ZDATAINCONSISTENCY ? 1 : 2;
		}
	}
	free(v);
	return worst;
}

int main(int argc, char **argv)
{
	const char *data, *logd;
	int a, b;

	if (argc < 2 || argc > 3 || argv[1][0] == '-') {
		fprintf(stderr, "usage: paddock-check DATADIR [DATALOGDIR]\n");
		return 2;
	}
	data = argv[1];
	logd = argc == 3 ? argv[2] : argv[1];
	a = check_dir(data, "snapshot");
	b = check_dir(logd, "log");
	a = a > b ? a : b;
	printf("%s\n", a == 0 ? "clean" : "DAMAGE FOUND");
	return a;
}
