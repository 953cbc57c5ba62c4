/*
 * tmpdir_int.h — a scratch directory per test for the unit tests that
 * write files (test_log.c, test_snap.c).
 */
#ifndef PADDOCK_TMPDIR_INT_H
#define PADDOCK_TMPDIR_INT_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[256];

/* Remove d and the files in it (no subdirectories are made). */
static void rm_dir(const char *d)
{
	DIR *dd = opendir(d);
	struct dirent *e;
	char p[512];

	if (!dd)
		return;
	while ((e = readdir(dd))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", d, e->d_name);
		unlink(p);
	}
	closedir(dd);
	rmdir(d);
}

/* Make a fresh /tmp/paddock-test-<name>-XXXXXX in dir; 0 or -1. */
static int make_dir(const char *name)
{
	snprintf(dir, sizeof(dir), "/tmp/paddock-test-%s-XXXXXX", name);
	return mkdtemp(dir) ? 0 : -1;
}

#endif
