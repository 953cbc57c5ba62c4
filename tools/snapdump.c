/*
 * paddock-snapdump — print the znodes of one snapshot file (the
 * counterpart of ZooKeeper's SnapshotFormatter).
 *
 *   paddock-snapdump snapshot.<zxid>
 *
 * The checksum and structure are verified before anything is printed.
 * Exit 0 on a good file, 1 if it is damaged, 2 on usage or I/O errors.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "log/log.h"

static void preview(const unsigned char *p, int32_t len)
{
	int32_t i, show = len > 64 ? 64 : len;
	bool text = true;

	for (i = 0; i < show; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			text = false;
	if (text) {
		printf("\"%.*s\"", (int)show, (const char *)p);
	} else {
		for (i = 0; i < show; i++)
			printf("%02x", p[i]);
	}
	if (show < len)
		printf("…");
}

static int print_node(const struct zsnap_node *n, void *arg)
{
	const struct zstat *s = &n->stat;
	int i;

	printf("%.*s\n", (int)n->path_len, n->path);
	printf("  czxid 0x%" PRIx64 " mzxid 0x%" PRIx64 " pzxid 0x%" PRIx64
	       "\n",
	       (uint64_t)s->czxid, (uint64_t)s->mzxid, (uint64_t)s->pzxid);
	printf("  ctime %" PRId64 " mtime %" PRId64 "\n", s->ctime, s->mtime);
	printf("  version %d cversion %d aversion %d numChildren %d "
	       "ephemeralOwner 0x%" PRIx64 "\n",
	       s->version, s->cversion, s->aversion, s->num_children,
	       (uint64_t)s->ephemeral_owner);
	printf("  data (%d bytes): ", n->data_len < 0 ? 0 : n->data_len);
	if (n->data_len < 0)
		printf("null");
	else
		preview(n->data, n->data_len);
	printf("\n  acl:");
	if (!n->acl || n->acl->n == 0)
		printf(" (none)");
	for (i = 0; n->acl && i < n->acl->n; i++)
		printf(" %s:%s:%s%s%s%s%s", n->acl->e[i].scheme,
		       n->acl->e[i].id,
		       n->acl->e[i].perms & ZPERM_CREATE ? "c" : "",
		       n->acl->e[i].perms & ZPERM_DELETE ? "d" : "",
		       n->acl->e[i].perms & ZPERM_READ ? "r" : "",
		       n->acl->e[i].perms & ZPERM_WRITE ? "w" : "",
		       n->acl->e[i].perms & ZPERM_ADMIN ? "a" : "");
	printf("\n");
	(*(uint64_t *)arg)++;
	return 0;
}

static void print_blob(const void *data, size_t len, void *arg)
{
	printf("session blob: %zu bytes\n", len);
}

int main(int argc, char **argv)
{
	char err[4096] = "";
	uint64_t n = 0;
	zxid_t z;
	int rc;

	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: paddock-snapdump SNAPSHOTFILE\n");
		return 2;
	}
	rc = zsnap_walk(argv[1], &z, print_node, print_blob, &n, err,
			sizeof(err));
	if (rc) {
		fprintf(stderr, "paddock-snapdump: %s\n", err);
		return rc == ZDATAINCONSISTENCY ? 1 : 2;
	}
	printf("snapshot zxid 0x%" PRIx64 ": %" PRIu64 " znodes\n", (uint64_t)z,
	       n);
	return 0;
}
