/* config.c - paddock-bench flags (see config.h and README.md). */
#include "config.h"

#include <ctype.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[BENCH_W__COUNT] = {
	[BENCH_W_GET] = "get",
	[BENCH_W_EXISTS] = "exists",
	[BENCH_W_CHILDREN] = "children",
	[BENCH_W_SET] = "set",
	[BENCH_W_CREATE] = "create",
	[BENCH_W_CREATE_SEQ] = "create-seq",
	[BENCH_W_CREATE_DELETE] = "create-delete",
	[BENCH_W_MIX] = "mix",
	[BENCH_W_EPHEMERAL_CHURN] = "ephemeral-churn",
	[BENCH_W_LOCK] = "lock",
	[BENCH_W_WATCH_FANOUT] = "watch-fanout",
	[BENCH_W_MESSAGING] = "messaging",
};

const char *bench_workload_name(enum bench_workload w)
{
	return (unsigned)w < BENCH_W__COUNT ? names[w] : "?";
}

static int parse_ratio(const char *s, double *r)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || *end || !(v >= 0.0 && v <= 1.0))
		return -1;
	*r = v;
	return 0;
}

int bench_workload_parse(const char *s, enum bench_workload *w, double *ratio)
{
	const char *colon = strchr(s, ':');
	size_t n = colon ? (size_t)(colon - s) : strlen(s);
	for (int i = 0; i < BENCH_W__COUNT; i++) {
		if (strlen(names[i]) == n && strncmp(names[i], s, n) == 0) {
			if (colon) {
				double r;
				if (i != BENCH_W_MIX || parse_ratio(colon + 1, &r))
					return -1;
				if (ratio)
					*ratio = r;
			}
			*w = (enum bench_workload)i;
			return 0;
		}
	}
	/* a few aliases users type */
	if (n == 11 && strncmp(s, "getchildren", 11) == 0 && !colon) {
		*w = BENCH_W_CHILDREN;
		return 0;
	}
	return -1;
}

int bench_parse_duration(const char *s, uint64_t *ns)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || !(v >= 0) || !isfinite(v))
		return -1;
	double mul;
	if (!*end || !strcmp(end, "s"))
		mul = 1e9;
	else if (!strcmp(end, "ms"))
		mul = 1e6;
	else if (!strcmp(end, "us"))
		mul = 1e3;
	else if (!strcmp(end, "m"))
		mul = 60e9;
	else
		return -1;
	double r = v * mul;
	if (r > 1e18)
		return -1;
	*ns = (uint64_t)r;
	return 0;
}

static int parse_suffixed(const char *s, uint64_t *n, uint64_t k)
{
	char *end;
	if (!isdigit((unsigned char)*s))
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	uint64_t mul = 1;
	if (*end == 'k' || *end == 'K')
		mul = k, end++;
	else if (*end == 'm' || *end == 'M')
		mul = k * k, end++;
	if (*end || v > UINT64_MAX / mul)
		return -1;
	*n = v * mul;
	return 0;
}

int bench_parse_count(const char *s, uint64_t *n)
{
	return parse_suffixed(s, n, 1000);
}

int bench_parse_bytes(const char *s, uint64_t *n)
{
	return parse_suffixed(s, n, 1024);
}

void bench_config_defaults(struct bench_config *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->host, "127.0.0.1");
	c->port = 2181;
	c->threads = 1;
	c->conns = 16;
	c->window = 32;
	c->workload = BENCH_W_GET;
	c->read_ratio = 0.9;
	c->value_size = 100;
	c->keys = 1000;
	c->duration_ns = 10000000000ull;
	c->warmup_ns = 1000000000ull;
	strcpy(c->prefix, "/paddock-bench");
	c->session_timeout_ms = 30000;
}

void bench_usage(void)
{
	printf("usage: paddock-bench [options]\n"
	       "  -h, --host HOST          server address (127.0.0.1)\n"
	       "  -p, --port PORT          client port (2181)\n"
	       "      --servers LIST       host:port,host:port,... (an ensemble):\n"
	       "                           connection i goes to server i %% n\n"
	       "  -t, --threads N          client threads (1)\n"
	       "  -c, --conns N            connections (sessions) in total (16)\n"
	       "  -w, --window N           pipelined requests per connection (32); in\n"
	       "                           open loop the most in flight before the\n"
	       "                           schedule backs up in the generator\n"
	       "  -r, --rate R             open loop: R ops/s in total; latency from the\n"
	       "                           intended send time (default: closed loop)\n"
	       "  -W, --workload NAME      get exists children set create create-seq\n"
	       "                           create-delete mix[:RATIO] ephemeral-churn lock\n"
	       "                           watch-fanout messaging (get)\n"
	       "      --read-ratio F       mix: fraction of reads (0.9)\n"
	       "  -s, --value-size BYTES   value size, k/m suffixes (100)\n"
	       "  -k, --keys N             key count, k/m suffixes (1000)\n"
	       "  -d, --duration T         measured time: 10s 500ms 2m (10s)\n"
	       "      --warmup T           unmeasured time first (1s)\n"
	       "      --prefix PATH        root znode of the bench (/paddock-bench)\n"
	       "      --session-timeout MS (30000)\n"
	       "      --no-setup           do not create the prefix and keys\n"
	       "      --cleanup            delete the prefix subtree at the end\n"
	       "      --json               print the result as JSON on stdout\n"
	       "      --csv                print the result as CSV on stdout\n"
	       "      --plot FILE.png      draw throughput and latency (needs gnuplot)\n"
	       "      --tls CA[,CERT,KEY]  TLS (a secureClientPort): CA verifies the\n"
	       "                           server; CERT and KEY: a client certificate\n"
	       "  -q, --quiet              no progress line\n"
	       "      --help\n");
}

enum {
	OPT_READ_RATIO = 256,
	OPT_WARMUP,
	OPT_PREFIX,
	OPT_TIMEOUT,
	OPT_NO_SETUP,
	OPT_CLEANUP,
	OPT_JSON,
	OPT_CSV,
	OPT_PLOT,
	OPT_SERVERS,
	OPT_TLS,
	OPT_HELP,
};

static int parse_int(const char *s, long lo, long hi, long *out)
{
	uint64_t v;
	if (bench_parse_count(s, &v) || v < (uint64_t)lo || v > (uint64_t)hi)
		return -1;
	*out = (long)v;
	return 0;
}

#define FAIL(...)                                                                        \
	do {                                                                             \
		snprintf(err, errlen, __VA_ARGS__);                                      \
		return -1;                                                               \
	} while (0)

/* "h1:p1,h2:p2" -> c->server_*; the first also becomes host/port. */
static int parse_servers(struct bench_config *c, const char *list, char *err,
			 size_t errlen)
{
	const char *p = list;
	int n = 0;
	long v;

	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *colon = memrchr(p, ':', len);
		char port[8];

		if (n == BENCH_MAX_SERVERS)
			FAIL("--servers: at most %d servers", BENCH_MAX_SERVERS);
		if (!colon || colon == p)
			FAIL("--servers: want host:port, got '%.*s'", (int)len, p);
		size_t hl = (size_t)(colon - p), pl = len - hl - 1;
		if (hl >= sizeof(c->server_host[0]))
			FAIL("--servers: host too long");
		if (pl == 0 || pl >= sizeof(port))
			FAIL("--servers: bad port in '%.*s'", (int)len, p);
		memcpy(port, colon + 1, pl);
		port[pl] = 0;
		if (parse_int(port, 1, 65535, &v))
			FAIL("--servers: port want 1..65535, got '%s'", port);
		memcpy(c->server_host[n], p, hl);
		c->server_host[n][hl] = 0;
		c->server_port[n] = (int)v;
		n++;
		if (!end)
			break;
		p = end + 1;
	}
	c->nservers = n;
	strcpy(c->host, c->server_host[0]);
	c->port = c->server_port[0];
	return 0;
}

int bench_config_parse(struct bench_config *c, int argc, char **argv, char *err,
		       size_t errlen)
{
	static const struct option opts[] = {
		{"host", required_argument, 0, 'h'},
		{"port", required_argument, 0, 'p'},
		{"threads", required_argument, 0, 't'},
		{"conns", required_argument, 0, 'c'},
		{"window", required_argument, 0, 'w'},
		{"rate", required_argument, 0, 'r'},
		{"workload", required_argument, 0, 'W'},
		{"read-ratio", required_argument, 0, OPT_READ_RATIO},
		{"value-size", required_argument, 0, 's'},
		{"keys", required_argument, 0, 'k'},
		{"duration", required_argument, 0, 'd'},
		{"warmup", required_argument, 0, OPT_WARMUP},
		{"prefix", required_argument, 0, OPT_PREFIX},
		{"session-timeout", required_argument, 0, OPT_TIMEOUT},
		{"no-setup", no_argument, 0, OPT_NO_SETUP},
		{"cleanup", no_argument, 0, OPT_CLEANUP},
		{"json", no_argument, 0, OPT_JSON},
		{"csv", no_argument, 0, OPT_CSV},
		{"plot", required_argument, 0, OPT_PLOT},
		{"tls", required_argument, 0, OPT_TLS},
		{"servers", required_argument, 0, OPT_SERVERS},
		{"quiet", no_argument, 0, 'q'},
		{"help", no_argument, 0, OPT_HELP},
		{0, 0, 0, 0},
	};
	long v;
	uint64_t u;
	int o;
	err[0] = 0;
	optind = 0; /* glibc: full re-initialisation */
	opterr = 0;
	while ((o = getopt_long(argc, argv, ":h:p:t:c:w:r:W:s:k:d:q", opts, NULL)) != -1) {
		switch (o) {
		case 'h':
			if (strlen(optarg) >= sizeof(c->host))
				FAIL("--host: too long");
			strcpy(c->host, optarg);
			break;
		case 'p':
			if (parse_int(optarg, 1, 65535, &v))
				FAIL("--port: want 1..65535, got '%s'", optarg);
			c->port = (int)v;
			break;
		case 't':
			if (parse_int(optarg, 1, 256, &v))
				FAIL("--threads: want 1..256, got '%s'", optarg);
			c->threads = (int)v;
			break;
		case 'c':
			if (parse_int(optarg, 1, 1000000, &v))
				FAIL("--conns: want 1..1000000, got '%s'", optarg);
			c->conns = (int)v;
			break;
		case 'w':
			if (parse_int(optarg, 1, BENCH_MAX_WINDOW, &v))
				FAIL("--window: want 1..%d, got '%s'", BENCH_MAX_WINDOW, optarg);
			c->window = (int)v;
			break;
		case 'r': {
			char *end;
			double r = strtod(optarg, &end);
			uint64_t n;
			if (end != optarg && !*end && r >= 0 && isfinite(r))
				c->rate = r;
			else if (!bench_parse_count(optarg, &n))
				c->rate = (double)n;
			else
				FAIL("--rate: want ops/s, got '%s'", optarg);
			break;
		}
		case 'W':
			if (bench_workload_parse(optarg, &c->workload, &c->read_ratio))
				FAIL("--workload: unknown '%s'", optarg);
			break;
		case OPT_READ_RATIO:
			if (parse_ratio(optarg, &c->read_ratio))
				FAIL("--read-ratio: want 0..1, got '%s'", optarg);
			break;
		case 's':
			if (bench_parse_bytes(optarg, &u) || u > 1000000)
				FAIL("--value-size: want 0..1000000 bytes, got '%s'", optarg);
			c->value_size = (uint32_t)u;
			break;
		case 'k':
			if (bench_parse_count(optarg, &u) || u < 1 || u > 100000000)
				FAIL("--keys: want 1..100m, got '%s'", optarg);
			c->keys = (uint32_t)u;
			break;
		case 'd':
			if (bench_parse_duration(optarg, &c->duration_ns) || c->duration_ns == 0)
				FAIL("--duration: want e.g. 10s, got '%s'", optarg);
			break;
		case OPT_WARMUP:
			if (bench_parse_duration(optarg, &c->warmup_ns))
				FAIL("--warmup: want e.g. 1s, got '%s'", optarg);
			break;
		case OPT_PREFIX: {
			size_t n = strlen(optarg);
			if (n < 2 || n >= sizeof(c->prefix) || optarg[0] != '/' ||
			    optarg[n - 1] == '/' || strstr(optarg, "//"))
				FAIL("--prefix: want an absolute znode path like /bench, got '%s'",
				     optarg);
			strcpy(c->prefix, optarg);
			break;
		}
		case OPT_TIMEOUT:
			if (parse_int(optarg, 100, 3600000, &v))
				FAIL("--session-timeout: want 100..3600000 ms, got '%s'", optarg);
			c->session_timeout_ms = (int)v;
			break;
		case OPT_NO_SETUP:
			c->no_setup = 1;
			break;
		case OPT_CLEANUP:
			c->cleanup = 1;
			break;
		case OPT_JSON:
			c->json = 1;
			break;
		case OPT_CSV:
			c->csv = 1;
			break;
		case OPT_PLOT:
			if (strlen(optarg) >= sizeof(c->plot))
				FAIL("--plot: path too long");
			strcpy(c->plot, optarg);
			break;
		case OPT_SERVERS:
			if (parse_servers(c, optarg, err, errlen))
				return -1;
			break;
		case OPT_TLS: {
			char *f[3] = {c->tls_ca, c->tls_cert, c->tls_key};
			const char *s = optarg;
			int k = 0;
			for (; k < 3 && *s; k++) {
				size_t n = strcspn(s, ",");
				if (n >= sizeof(c->tls_ca))
					FAIL("--tls: path too long");
				memcpy(f[k], s, n);
				f[k][n] = 0;
				s += n + (s[n] == ',');
			}
			if (*s || !c->tls_ca[0] || k == 2)
				FAIL("--tls: want CA or CA,CERT,KEY");
			break;
		}
		case 'q':
			c->quiet = 1;
			break;
		case OPT_HELP:
			bench_usage();
			return 1;
		case ':':
			FAIL("option %s needs a value", argv[optind - 1]);
		default:
			FAIL("unknown option %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		FAIL("unexpected argument '%s'", argv[optind]);
	if (c->json && c->csv)
		FAIL("--json and --csv are exclusive");
	if (c->nservers == 0) {
		_Static_assert(sizeof(c->host) == sizeof(c->server_host[0]),
			       "-h fits a server_host");
		strcpy(c->server_host[0], c->host);
		c->server_port[0] = c->port;
		c->nservers = 1;
	}
	if (c->conns < c->threads)
		c->threads = c->conns; /* never an idle thread */
	if (c->workload == BENCH_W_WATCH_FANOUT && c->conns < 2)
		FAIL("watch-fanout needs --conns >= 2 (one writer, the rest watch)");
	return 0;
}
