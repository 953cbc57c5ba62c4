/* config.h - paddock-bench command line and workload names.
 *
 * Parsing is separate from main() so the unit tests can drive it.
 * Thread: main thread only (uses getopt_long's globals).
 */
#ifndef BENCH_CONFIG_H
#define BENCH_CONFIG_H

#include <stddef.h>
#include <stdint.h>

enum bench_workload {
	BENCH_W_GET,
	BENCH_W_EXISTS,
	BENCH_W_CHILDREN,
	BENCH_W_SET,
	BENCH_W_CREATE,
	BENCH_W_CREATE_SEQ,
	BENCH_W_CREATE_DELETE,
	BENCH_W_MIX,
	BENCH_W_EPHEMERAL_CHURN,
	BENCH_W_LOCK,
	BENCH_W_WATCH_FANOUT,
	BENCH_W_MESSAGING,
	BENCH_W__COUNT
};

#define BENCH_MAX_SERVERS 16
/* -w: in open loop under overload the in-flight requests of a connection
 * grow towards it (its ring grows on demand, 16 bytes a request) */
#define BENCH_MAX_WINDOW (16 * 1000 * 1000)

struct bench_config {
	char host[256];
	int port;
	/* --servers h1:p1,h2:p2,... (a ZooKeeper connect string without a
	 * chroot): connection i talks to server i % nservers; setup and the
	 * recipes' control sessions use the first.  Without it, one server:
	 * host:port. */
	int nservers;
	char server_host[BENCH_MAX_SERVERS][256]; /* as long as host */
	int server_port[BENCH_MAX_SERVERS];
	int threads;
	int conns;
	int window;
	double rate; /* target ops/s over all connections; 0 = closed loop */
	enum bench_workload workload;
	double read_ratio;   /* mix: fraction of getData, the rest setData */
	uint32_t value_size; /* bytes */
	uint32_t keys;
	uint64_t duration_ns;
	uint64_t warmup_ns;
	char prefix[200];
	int session_timeout_ms;
	int json;
	int csv;
	int quiet;
	int cleanup;  /* delete the prefix subtree at the end */
	int no_setup; /* assume the keys exist */
	char plot[512];
	/* --tls CA[,CERT,KEY]: speak TLS (to a secureClientPort), verify the
	 * server against CA, present CERT/KEY if given (as the C client's
	 * zookeeper_init_ssl "ca,cert,key") */
	char tls_ca[512], tls_cert[512], tls_key[512];
};

/* Fills c with the defaults. */
void bench_config_defaults(struct bench_config *c);

/* Parses argv (getopt_long; resets optind). Returns 0 on success, 1 when
 * --help was given (usage already printed to stdout), -1 on a bad argument
 * with a one-line message in err. c must hold the defaults first. */
int bench_config_parse(struct bench_config *c, int argc, char **argv, char *err,
		       size_t errlen);

/* "get", "mix", ... -> enum. "mix:0.8" also sets *ratio when ratio is not
 * NULL. 0 or -1 for an unknown name or bad ratio. */
int bench_workload_parse(const char *s, enum bench_workload *w, double *ratio);
const char *bench_workload_name(enum bench_workload w);

/* "10s", "500ms", "2m", "1.5" (seconds), "250us" -> ns. 0 or -1. */
int bench_parse_duration(const char *s, uint64_t *ns);
/* "100", "4k" (x1000), "2m" (x1000000) -> n. 0 or -1. */
int bench_parse_count(const char *s, uint64_t *n);
/* "100", "4k" (x1024), "1m" (x1048576) -> bytes. 0 or -1. */
int bench_parse_bytes(const char *s, uint64_t *n);

void bench_usage(void);

#endif
