/* zkc_async.c - throughput of the stock libzookeeper-mt C client's async API.
 *
 * The reference point for paddock-bench (issue 4): C handles (sessions), each
 * keeping W async requests in flight (zoo_aget / zoo_aset / zoo_aexists),
 * every completion issuing the next one from the client's completion thread.
 * Prints ops/s after a warm-up. It exists only to show that paddock-bench is
 * not the bottleneck of a comparison: run both against the same server.
 *
 * usage: zkc_async HOST:PORT [get|set|exists] [conns] [window] [seconds] [keys]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#define THREADED 1 /* the mt library: synchronous API too */
#include <zookeeper/zookeeper.h>

static int op;     /* 0 get, 1 set, 2 exists */
static int nkeys;
static char **keys;
static volatile int running = 1;
static unsigned long done_ops, errors;
static char value[100];

static void issue(zhandle_t *zh);

static void data_done(int rc, const char *v, int len, const struct Stat *st, const void *d)
{
	(void)v, (void)len, (void)st;
	__atomic_add_fetch(&done_ops, 1, __ATOMIC_RELAXED);
	if (rc)
		__atomic_add_fetch(&errors, 1, __ATOMIC_RELAXED);
	if (running)
		issue((zhandle_t *)d);
}

static void stat_done(int rc, const struct Stat *st, const void *d)
{
	data_done(rc, NULL, 0, st, d);
}

static void issue(zhandle_t *zh)
{
	const char *k = keys[(unsigned)rand() % (unsigned)nkeys];
	int rc;
	if (op == 0)
		rc = zoo_aget(zh, k, 0, data_done, zh);
	else if (op == 1)
		rc = zoo_aset(zh, k, value, sizeof(value), -1, stat_done, zh);
	else
		rc = zoo_aexists(zh, k, 0, stat_done, zh);
	if (rc != ZOK)
		__atomic_add_fetch(&errors, 1, __ATOMIC_RELAXED);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Close the first n sessions and free the array (error exits). */
static void close_all(zhandle_t **zh, int n)
{
	for (int i = 0; i < n; i++)
		zookeeper_close(zh[i]);
	free(zh);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: zkc_async HOST:PORT [get|set|exists] [conns] [window] "
				"[seconds] [keys]\n");
		return 2;
	}
	const char *w = argc > 2 ? argv[2] : "get";
	op = !strcmp(w, "set") ? 1 : !strcmp(w, "exists") ? 2 : 0;
	int conns = argc > 3 ? atoi(argv[3]) : 16;
	int window = argc > 4 ? atoi(argv[4]) : 32;
	double secs = argc > 5 ? atof(argv[5]) : 10;
	nkeys = argc > 6 ? atoi(argv[6]) : 1000;
	if (conns < 1 || window < 1 || secs <= 0 || nkeys < 1)
		return 2;
	memset(value, 'v', sizeof(value));
	zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
	zhandle_t **zh = calloc((size_t)conns, sizeof(*zh));
	if (!zh) {
		perror("calloc");
		return 1;
	}
	for (int i = 0; i < conns; i++) {
		zh[i] = zookeeper_init(argv[1], NULL, 30000, NULL, NULL, 0);
		if (!zh[i]) {
			perror("zookeeper_init");
			close_all(zh, i);
			return 1;
		}
	}
	for (int i = 0; i < conns; i++) {
		int tries = 0;
		while (zoo_state(zh[i]) != ZOO_CONNECTED_STATE && tries++ < 1000)
			usleep(10000);
		if (zoo_state(zh[i]) != ZOO_CONNECTED_STATE) {
			fprintf(stderr, "zkc_async: session %d did not connect\n", i);
			close_all(zh, conns);
			return 1;
		}
	}
	/* the keys, created synchronously */
	keys = calloc((size_t)nkeys, sizeof(char *));
	if (!keys) {
		perror("calloc");
		close_all(zh, conns);
		return 1;
	}
	zoo_create(zh[0], "/zkc-bench", "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
	for (int i = 0; i < nkeys; i++) {
		if (asprintf(&keys[i], "/zkc-bench/k%d", i) < 0) {
			close_all(zh, conns);
			return 1;
		}
		int rc = zoo_create(zh[0], keys[i], value, sizeof(value), &ZOO_OPEN_ACL_UNSAFE, 0,
				    NULL, 0);
		if (rc != ZOK && rc != ZNODEEXISTS) {
			fprintf(stderr, "zkc_async: create %s: %s\n", keys[i], zerror(rc));
			close_all(zh, conns);
			return 1;
		}
	}
	double t0 = now_s();
	for (int i = 0; i < conns; i++)
		for (int j = 0; j < window; j++)
			issue(zh[i]);
	/* one second of warm-up, then measure */
	usleep(1000000);
	unsigned long a = __atomic_load_n(&done_ops, __ATOMIC_RELAXED);
	double ta = now_s();
	usleep((useconds_t)(secs * 1e6));
	unsigned long b = __atomic_load_n(&done_ops, __ATOMIC_RELAXED);
	double tb = now_s();
	running = 0;
	usleep(200000);
	close_all(zh, conns);
	(void)t0;
	printf("zkc_async %s conns=%d window=%d: %.0f ops/s (%lu ops in %.2fs, errors %lu)\n",
	       w, conns, window, (double)(b - a) / (tb - ta), b - a, tb - ta, errors);
	return errors ? 1 : 0;
}
