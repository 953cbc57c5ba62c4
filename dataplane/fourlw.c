/*
 * fourlw.c — ZooKeeper's four-letter words on the client port
 * (FourLetterCommands / *Command.java in ZooKeeper 3.8).
 *
 * A connection whose first four bytes spell a known word gets the text
 * answer and is closed; a word not in 4lw.commands.whitelist gets
 * ZooKeeper's refusal line.  Counters of other workers are read racily;
 * their connections and watches (cons, stat, wchs, wchc, wchp, crst, the
 * tail of dump, zk_watch_count) and srst's resets on their own threads,
 * through dp_ask, by the same functions the AdminServer's commands use
 * (dp_each_conn, dp_each_data_watch, dp_conn_stat_reset, dp_stat_reset;
 * srst asks the sequencer too, zab_seq_stats_reset).  The answering
 * worker serves the others' questions while it waits for theirs.
 */
#include <dirent.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "dataplane/dataplane_int.h"
#include "dataplane/tls_int.h"
#include "log/log.h"

static const char *const words[] = {"ruok", "srvr", "stat", "mntr", "conf",
				    "cons", "envi", "wchs", "wchc", "wchp",
				    "dump", "isro", "crst", "srst", "dirs",
				    "gtmk", "stmk", "hash", NULL};

bool dp_4lw_known(const uint8_t cmd[4])
{
	for (int i = 0; words[i]; i++)
		if (!memcmp(words[i], cmd, 4))
			return true;
	return false;
}

static void out(struct jw *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void out(struct jw *o, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		jw_bytes(o, buf, (size_t)n < sizeof(buf) ? (size_t)n
							 : sizeof(buf) - 1);
}

void dp_totals(struct dp_server *d, struct dp_totals *t)
{
	memset(t, 0, sizeof(*t));
	t->lat_min = INT64_MAX;
	t->resp_min = INT64_MAX;
	for (int i = 0; i < d->n; i++) {
		struct dp_worker *w = &d->w[i];
		t->recv += atomic_load(&w->packets_recv);
		t->sent += atomic_load(&w->packets_sent);
		t->conns += atomic_load(&w->nconn_open);
		t->held += atomic_load(&w->throttled_ops);
		t->rejected += atomic_load(&w->cnxn_rejected);
		t->sessionless += atomic_load(&w->sessionless_expired);
		/* "last": the newest of some worker's, not the server's */
		int64_t r = atomic_load(&w->resp_last);
		if (r > t->resp_last)
			t->resp_last = r;
		r = atomic_load(&w->resp_min);
		if (r < t->resp_min)
			t->resp_min = r;
		r = atomic_load(&w->resp_max);
		if (r > t->resp_max)
			t->resp_max = r;
		t->auth_failed += atomic_load(&w->auth_failed);
		t->bytes_in += atomic_load(&w->bytes_in);
		t->resp_bytes += atomic_load(&w->resp_bytes);
		t->watch_bytes += atomic_load(&w->watch_bytes);
		t->conn_requests += atomic_load(&w->conn_requests);
		t->conn_drops += atomic_load(&w->conn_drops);
		t->stale_replies += atomic_load(&w->stale_replies);
	}
	/* every request, reads and writes (ServerStats' request latency) */
	for (int i = 0; i < d->n; i++) {
		const struct dp_lat *l = &d->w[i].srv_lat;
		int64_t n = atomic_load_explicit(&l->n, DP_RLX);
		int64_t v = atomic_load_explicit(&l->min, DP_RLX);
		if (n && v < t->lat_min)
			t->lat_min = v;
		v = atomic_load_explicit(&l->max, DP_RLX);
		if (v > t->lat_max)
			t->lat_max = v;
		t->lat_sum += atomic_load_explicit(&l->sum, DP_RLX);
		t->lat_n += n;
	}
	if (t->lat_min == INT64_MAX)
		t->lat_min = 0;
	if (t->resp_min == INT64_MAX) /* ServerStats' -1: no reply yet */
		t->resp_last = t->resp_min = t->resp_max = -1;
	/* µs to ZooKeeper's whole ms: the minimum rounded down, the maximum
	 * up, so that min <= avg <= max as when each request is timed in
	 * whole ms */
	t->lat_avg = t->lat_n ? (double)t->lat_sum / 1000.0 / (double)t->lat_n
			      : 0.0;
	t->lat_min /= 1000;
	t->lat_max = (t->lat_max + 999) / 1000;
}

void dp_summary_of(struct dp_server *d, int kind, struct dp_summary *s)
{
	memset(s, 0, sizeof(*s));
	s->min = INT64_MAX;
	for (int i = 0; i < d->n; i++)
		dp_summary_add(s, &d->w[i].lat[kind]);
	if (s->min == INT64_MAX)
		s->min = 0;
}

void dp_summary_window(struct dp_server *d, int kind, int64_t now_ms,
		       struct dp_summary *s)
{
	memset(s, 0, sizeof(*s));
	s->max = INT64_MAX;
	for (int i = 0; i < d->n; i++)
		s->n += (int64_t)zk_hist_window(&d->w[i].lat[kind], now_ms,
						s->b);
}

/* What srst resets on each worker (dp_stat_reset): the worker writes
 * every one of these, so only it may store a 0 (a store from another
 * thread between its load and its store would be lost). */
static void stats_reset_here(struct dp_worker *w, void *arg)
{
	bool all = *(const bool *)arg;
	/* ServerStats: latency, packets, response sizes */
	atomic_store_explicit(&w->srv_lat.n, 0, DP_RLX);
	atomic_store_explicit(&w->srv_lat.sum, 0, DP_RLX);
	atomic_store_explicit(&w->srv_lat.min, INT64_MAX, DP_RLX);
	atomic_store_explicit(&w->srv_lat.max, 0, DP_RLX);
	atomic_store(&w->packets_recv, 0);
	atomic_store(&w->packets_sent, 0);
	atomic_store(&w->resp_last, 0);
	atomic_store(&w->resp_min, INT64_MAX);
	atomic_store(&w->resp_max, 0);
	if (!all)
		return;
	/* ServerMetrics' counters and summaries, and paddock's own
	 * counter beside them */
	for (int k = 0; k < DP_LAT_KINDS; k++)
		zk_hist_reset(&w->lat[k]);
	for (int k = 0; k < DP_WATCH_EVENTS; k++)
		zk_basic_reset(&w->watchers[k]);
	_Atomic int64_t *const counters[] = {
		&w->bytes_in,	      &w->resp_bytes,	 &w->watch_bytes,
		&w->conn_requests,    &w->conn_drops,	 &w->stale_replies,
		&w->cnxn_rejected,    &w->sessionless_expired,
		&w->throttled_ops,
	};
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		atomic_store_explicit(counters[i], 0, DP_RLX);
}

/* ZooKeeper 3.8's ServerStats.reset: resetLatency, resetRequestCounters
 * (packets), clientResponseStats.reset, ServerMetrics.getMetrics()
 * .resetAll() (the provider's resetAllValues: DefaultMetricsProvider
 * resets every Counter, Summary and SummarySet, the startup summaries
 * too, and no Gauge; PrometheusMetricsProvider nothing).  The four-letter
 * word then resets a leader's proposal sizes; the AdminServer's
 * stat_reset does not. */
void dp_stat_reset(struct dp_server *d, struct dp_worker *self, bool fourlw)
{
	bool all = !d->cfg->prometheus;
	dp_ask_all(d, self, stats_reset_here, &all);
	const char *mode = zab_seq_mode(d->seq);
	bool leader = fourlw && mode && !strcmp(mode, "leader");
	if (all || leader)
		zab_seq_stats_reset(d->seq, all, leader,
				    self ? &self->query : NULL, self);
	if (all)
		tls_stats_reset();
}

const char *dp_op_name(int op)
{
	switch (op) {
	case ZOP_CREATE: return "CREA";
	case ZOP_CREATE2: return "CRE2";
	case ZOP_CREATECONTAINER: return "CRTC";
	case ZOP_CREATETTL: return "CTTL";
	case ZOP_DELETE: return "DELE";
	case ZOP_EXISTS: return "EXIS";
	case ZOP_GETDATA: return "GETD";
	case ZOP_SETDATA: return "SETD";
	case ZOP_GETACL: return "GETA";
	case ZOP_SETACL: return "SETA";
	case ZOP_GETCHILDREN: return "GETC";
	case ZOP_GETCHILDREN2: return "GET2";
	case ZOP_SYNC: return "SYNC";
	case ZOP_PING: return "PING";
	case ZOP_CHECK: return "CHEC";
	case ZOP_MULTI: return "MULT";
	case ZOP_MULTIREAD: return "MLTR";
	case ZOP_SETWATCHES: return "SETW";
	case ZOP_SETWATCHES2: return "STW2";
	case ZOP_ADDWATCH: return "ADDW";
	case ZOP_REMOVEWATCHES: return "REMW";
	case ZOP_CHECKWATCHES: return "CHKW";
	case ZOP_GETEPHEMERALS: return "GETE";
	case ZOP_GETALLCHILDRENNUMBER: return "GETACN";
	case ZOP_WHOAMI: return "HOMI";
	case ZOP_CLOSESESSION: return "CLOS";
	case ZOP_AUTH: return "AUTH";
	default: return "NA";
	}
}

struct conn_ask {
	void (*each)(void *arg, const struct dp_conn_view *v);
	void *arg;
	int64_t wall_minus_mono;
};

static void conns_here(struct dp_worker *w, void *arg)
{
	const struct conn_ask *q = arg;
	for (uint32_t k = 0; k < w->nconns; k++) {
		const struct dp_conn *c = w->conns[k];
		if (c->state == CS_FREE)
			continue;
		int64_t last = c->last_resp_ms > c->established_ms
				       ? c->last_resp_ms
				       : c->established_ms;
		/* NIOServerCnxnFactory's cnxnExpiryQueue: the last activity
		 * plus the session timeout (10 s without a session), in
		 * 10 s sets */
		int64_t at = last + (c->session ? c->timeout : 10000);
		struct dp_conn_view v = {
			.c = c,
			.established = c->established_ms + q->wall_minus_mono,
			.last_lat = c->last_lat_us / 1000,
			.min_lat = c->lat_n ? c->lat_min / 1000 : 0,
			.avg_lat = c->lat_n ? c->lat_sum / c->lat_n / 1000 : 0,
			.max_lat = (c->lat_max + 999) / 1000,
			.expire_set = (at / 10000 + 1) * 10000,
		};
		q->each(q->arg, &v);
	}
}

void dp_each_conn(struct dp_server *d, struct dp_worker *self,
		  void (*each)(void *arg, const struct dp_conn_view *v),
		  void *arg)
{
	struct conn_ask q = {each, arg,
			     zk_clock_ms(CLOCK_REALTIME) -
				     zk_clock_ms(CLOCK_MONOTONIC)};
	dp_ask_all(d, self, conns_here, &q);
}

static void reset_here(struct dp_worker *w, void *arg)
{
	(void)arg;
	for (uint32_t k = 0; k < w->nconns; k++) {
		struct dp_conn *c = w->conns[k];
		atomic_store(&c->recv, 0);
		atomic_store(&c->sent, 0);
		c->lat_min = INT64_MAX;
		c->lat_max = c->lat_sum = c->lat_n = 0;
		c->last_lat_us = 0;
	}
}

void dp_conn_stat_reset(struct dp_server *d, struct dp_worker *self)
{
	dp_ask_all(d, self, reset_here, NULL);
}

struct watch_ask {
	void (*each)(void *arg, const char *path, size_t len, int64_t session);
	void *arg;
};

static void watch_here(const char *path, size_t len, const struct wt_owner *ow,
		       int table, void *arg)
{
	const struct watch_ask *q = arg;
	const struct dp_conn *c =
		(const struct dp_conn *)((const char *)ow -
					 offsetof(struct dp_conn, watches));
	if (table == WT_DATA)
		q->each(q->arg, path, len, c->session);
}

static void watches_here(struct dp_worker *w, void *arg)
{
	wt_foreach(w->watches, watch_here, arg);
}

void dp_each_data_watch(struct dp_server *d, struct dp_worker *self,
			void (*each)(void *arg, const char *path, size_t len,
				     int64_t session),
			void *arg)
{
	struct watch_ask q = {each, arg};
	dp_ask_all(d, self, watches_here, &q);
}

static void count_here(struct dp_worker *w, void *arg)
{
	*(int64_t *)arg += (int64_t)wt_count(w->watches);
}

int64_t dp_watch_count(struct dp_server *d, struct dp_worker *self)
{
	int64_t n = 0;
	dp_ask_all(d, self, count_here, &n);
	return n;
}

/* cons (full) and stat's client list: ServerCnxn.dumpConnectionInfo */
struct conn_lines {
	struct jw *o;
	bool full;
};

static void conn_line(void *arg, const struct dp_conn_view *v)
{
	const struct conn_lines *l = arg;
	const struct dp_conn *c = v->c;
	struct jw *o = l->o;
	out(o, " /%s:%d[%d](queued=%d,recved=%lld,sent=%lld", c->ip, c->port,
	    c->state == CS_OPEN ? 1 : 0, c->inflight,
	    (long long)atomic_load(&c->recv), (long long)atomic_load(&c->sent));
	/* lresp: the monotonic ms clock, as ZooKeeper's
	 * Time.currentElapsedTime */
	if (l->full && c->session)
		out(o, ",sid=0x%llx,lop=%s,est=%lld,to=%d,lcxid=0x%x,"
		       "lzxid=0x%llx,lresp=%lld,llat=%lld,"
		       "minlat=%lld,avglat=%lld,maxlat=%lld",
		    (unsigned long long)c->session, dp_op_name(c->last_op),
		    (long long)v->established, c->timeout,
		    (unsigned)c->last_cxid, (unsigned long long)c->last_zxid,
		    (long long)c->last_resp_ms, (long long)v->last_lat,
		    (long long)v->min_lat, (long long)v->avg_lat,
		    (long long)v->max_lat);
	out(o, ")\n");
}

static void each_conn(struct dp_worker *w, struct jw *o, bool full)
{
	struct conn_lines l = {o, full};
	dp_each_conn(w->srv, w, conn_line, &l);
}

static void srvr(struct dp_worker *w, struct jw *o, bool clients)
{
	struct dp_server *d = w->srv;
	struct dp_totals t;
	dp_totals(d, &t);
	out(o, "Zookeeper version: %s\n", ZK_COMPAT_VERSION);
	if (clients) {
		out(o, "Clients:\n");
		each_conn(w, o, false);
		out(o, "\n");
	}
	char avg[64];
	dp_fmt_double(avg, sizeof(avg), t.lat_avg);
	out(o, "Latency min/avg/max: %lld/%s/%lld\n", (long long)t.lat_min,
	    avg, (long long)t.lat_max);
	out(o, "Received: %lld\n", (long long)t.recv);
	out(o, "Sent: %lld\n", (long long)t.sent);
	out(o, "Connections: %lld\n", (long long)t.conns);
	out(o, "Outstanding: %lld\n", (long long)dp_outstanding(d));
	out(o, "Zxid: 0x%llx\n",
	    (unsigned long long)tree_applied_zxid(d->tree));
	out(o, "Mode: %s\n", zab_seq_mode(d->seq) ? zab_seq_mode(d->seq) : "");
	/* ZooKeeper's node map also holds "" for the root: count it */
	out(o, "Node count: %llu\n",
	    (unsigned long long)tree_node_count(d->tree) + 1);
}

int64_t dp_dir_size(const char *path)
{
	DIR *dir = opendir(path);
	if (!dir)
		return 0;
	int64_t sum = 0;
	struct dirent *e;
	while ((e = readdir(dir))) {
		char p[PATH_MAX + 256];
		struct stat st;
		snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
		if (e->d_name[0] != '.' && !stat(p, &st) && S_ISREG(st.st_mode))
			sum += st.st_size;
	}
	closedir(dir);
	return sum;
}

int dp_count_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	int n = 0;
	if (!dir)
		return 0;
	while (readdir(dir))
		n++;
	closedir(dir);
	return n > 2 ? n - 3 : 0; /* ., .., the DIR's own fd */
}

/* wchs, wchc, wchp: every data watch as (session, path), sorted */
struct wpair {
	int64_t session;
	char *path;
};

struct wpairs {
	struct wpair *v;
	size_t n, cap;
	bool oom;
};

/* An array v of *cap elements of `elem` bytes, with room made for
 * `need`: v itself, or v moved by realloc to twice its capacity (64 at
 * first) as often as needed.  NULL if memory is short; v is then left as
 * it was, still the caller's. */
static void *grow(void *v, size_t *cap, size_t need, size_t elem)
{
	size_t n = *cap ? *cap : 64;
	if (need <= *cap)
		return v;
	while (n < need)
		n *= 2;
	if (n > SIZE_MAX / elem)
		return NULL;
	v = realloc(v, n * elem);
	if (v)
		*cap = n;
	return v;
}

static void wpair_add(void *arg, const char *path, size_t len, int64_t session)
{
	struct wpairs *l = arg;
	struct wpair *v = grow(l->v, &l->cap, l->n + 1, sizeof(*v));
	if (!v) {
		l->oom = true;
		return;
	}
	l->v = v;
	char *p = strndup(path, len);
	if (!p) {
		l->oom = true;
		return;
	}
	l->v[l->n++] = (struct wpair){session, p};
}

static int by_session(const void *a, const void *b)
{
	const struct wpair *x = a, *y = b;
	if (x->session != y->session)
		return x->session < y->session ? -1 : 1;
	return strcmp(x->path, y->path);
}

static int by_path(const void *a, const void *b)
{
	const struct wpair *x = a, *y = b;
	int r = strcmp(x->path, y->path);
	return r ? r : (x->session > y->session) - (x->session < y->session);
}

static void wpairs_free(struct wpairs *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].path);
	free(l->v);
}

/* Every data watch, sorted by cmp; false if out of memory */
static bool wpairs_get(struct dp_server *d, struct dp_worker *self,
		       int (*cmp)(const void *, const void *),
		       struct wpairs *l)
{
	*l = (struct wpairs){0};
	dp_each_data_watch(d, self, wpair_add, l);
	if (l->n)
		qsort(l->v, l->n, sizeof(*l->v), cmp);
	return !l->oom;
}

/* ZooKeeper's WatchesSummary of its data watches */
bool dp_watch_summary(struct dp_server *d, struct dp_worker *self,
		      int64_t *sessions, int64_t *paths, int64_t *total)
{
	struct wpairs l;
	bool ok = wpairs_get(d, self, by_session, &l);
	*sessions = *paths = 0;
	*total = (int64_t)l.n;
	for (size_t i = 0; i < l.n; i++)
		*sessions += !i || l.v[i].session != l.v[i - 1].session;
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), by_path);
	for (size_t i = 0; i < l.n; i++)
		*paths += !i || strcmp(l.v[i].path, l.v[i - 1].path);
	wpairs_free(&l);
	return ok;
}

/* wchc (by session) and wchp (by path), as WatchManager.dumpWatches:
 * each key once, then its values indented */
static void watch_lists(struct dp_worker *w, struct jw *o, bool sessions)
{
	struct wpairs l;
	if (!wpairs_get(w->srv, w, sessions ? by_session : by_path, &l)) {
		out(o, "out of memory\n");
		wpairs_free(&l);
		return;
	}
	for (size_t i = 0; i < l.n; i++) {
		const struct wpair *x = &l.v[i], *prev = i ? x - 1 : NULL;
		if (sessions) {
			if (!prev || prev->session != x->session)
				out(o, "0x%llx\n",
				    (unsigned long long)x->session);
			out(o, "\t%s\n", x->path);
		} else {
			if (!prev || strcmp(prev->path, x->path))
				out(o, "%s\n", x->path);
			out(o, "\t0x%llx\n", (unsigned long long)x->session);
		}
	}
	wpairs_free(&l);
}

static void m_int(struct dp_msink *s, enum dp_mkind k, const char *key,
		  int64_t v)
{
	s->put(s, key, k, v, 0, NULL);
}

static void m_dbl(struct dp_msink *s, const char *key, double v)
{
	s->put(s, key, DP_M_DOUBLE, 0, v, NULL);
}

/* ZooKeeper's per-namespace quota gauges (QuotaMetricsUtils), named
 * zk_<namespace>_quota_<what>_per_namespace; a namespace appears in the
 * limit gauges once it has a zookeeper_limits node, in the usage gauges
 * once it has a zookeeper_stats node. */
static void quota_gauges(const struct tree *t, struct dp_msink *s)
{
	struct tree_quota_ns *v = malloc(TREE_QUOTA_NS_MAX * sizeof(*v));
	char key[400];
	int n;

	if (!v)
		return;
	n = tree_quota_metrics(t, v);
	for (int i = 0; i < n; i++) {
		const struct tree_quota_ns *q = &v[i];
#define QUOTA(what, val)                                                   \
	do {                                                               \
		snprintf(key, sizeof(key), "zk_%s_quota_%s_per_namespace", \
			 q->ns, what);                                     \
		m_int(s, DP_M_GAUGE, key, val);                            \
	} while (0)
		if (q->has_limit) {
			QUOTA("bytes_limit", q->bytes_limit);
			QUOTA("count_limit", q->count_limit);
		}
		if (q->has_usage) {
			QUOTA("count_usage", q->count_usage);
			QUOTA("bytes_usage", q->bytes_usage);
		}
		if (q->exceeded)
			QUOTA("exceeded_error", q->exceeded);
#undef QUOTA
	}
	free(v);
}

enum { ZAB_PS_LEADING, ZAB_PS_FOLLOWING, ZAB_PS_OBSERVING, ZAB_PS_LOOKING };

/* mntr's nine keys of a summary, in ms: avg rounded to 4 places, min
 * down, max up, percentiles to the nearest */
static void summary_keys(struct dp_msink *s, const char *name,
			 const struct dp_summary *v)
{
	char key[128];
	static const struct {
		const char *p;
		double q;
	} pct[] = {{"p50", 0.5}, {"p95", 0.95}, {"p99", 0.99},
		   {"p999", 0.999}};
#define KEY(what) (snprintf(key, sizeof(key), "zk_%s_%s", what, name), key)
	m_dbl(s, KEY("avg"),
	      v->n ? (double)v->sum / 1000.0 / (double)v->n : 0.0);
	m_int(s, DP_M_GAUGE, KEY("min"), v->min / 1000);
	m_int(s, DP_M_GAUGE, KEY("max"), (v->max + 999) / 1000);
	m_int(s, DP_M_COUNTER, KEY("cnt"), v->n);
	m_int(s, DP_M_COUNTER, KEY("sum"), (v->sum + 500) / 1000);
	for (size_t i = 0; i < sizeof(pct) / sizeof(pct[0]); i++)
		m_int(s, DP_M_GAUGE, KEY(pct[i].p),
		      (dp_summary_quantile(v, pct[i].q) + 500) / 1000);
#undef KEY
}

/* A summary kept in one zk_hist (the sequencer's): mntr's keys under
 * `name`, or the sink's summary as `prom` (a name, with its labels in
 * braces for a SummarySet's key) */
static void hist_summary(struct dp_msink *s, const char *name,
			 const char *prom, const struct zk_hist *h,
			 int64_t now_ms)
{
	struct dp_summary *v = calloc(2, sizeof(*v));
	if (!v)
		return;
	v->min = INT64_MAX;
	dp_summary_add(v, h);
	if (v->min == INT64_MAX)
		v->min = 0;
	if (s->summary) {
		v[1].max = INT64_MAX;
		v[1].n = (int64_t)zk_hist_window(h, now_ms, v[1].b);
		s->summary(s, prom, v, v + 1);
	} else {
		summary_keys(s, name, v);
	}
	free(v);
}

/* An AvgMinMaxCounter as mntr prints it (avg to 4 places), or the
 * sink's BASIC summary with `w`, its window (b and n; min and max set
 * here to v's: the window's samples are among v's) */
static void amm_keys(struct dp_msink *s, const char *name,
		     const struct zk_amm *v, struct dp_summary *w)
{
	if (s->amm && w) {
		w->min = v->min;
		w->max = v->max;
		s->amm(s, name, v, w);
		return;
	}
	char key[128];
#define KEY(what) (snprintf(key, sizeof(key), "zk_%s_%s", what, name), key)
	m_dbl(s, KEY("avg"), v->cnt ? (double)v->sum / (double)v->cnt : 0.0);
	m_int(s, DP_M_GAUGE, KEY("min"), v->min);
	m_int(s, DP_M_GAUGE, KEY("max"), v->max);
	m_int(s, DP_M_COUNTER, KEY("cnt"), v->cnt);
	m_int(s, DP_M_COUNTER, KEY("sum"), v->sum);
#undef KEY
}

/* One event type's watcher counts (dp_worker.watchers), every worker's
 * summed: counts and sums added, the smallest min, the largest max; and
 * with w, their windows at now_ms merged into w (zeroed first). */
static void watchers_of(const struct dp_server *d, int k, struct zk_amm *v,
			struct dp_summary *w, int64_t now_ms)
{
	*v = (struct zk_amm){0};
	if (w)
		memset(w, 0, sizeof(*w));
	for (int i = 0; i < d->n; i++) {
		struct zk_amm x;
		if (w)
			w->n += (int64_t)zk_hist_window(&d->w[i].watchers[k].h,
							now_ms, w->b);
		zk_amm_read(&d->w[i].watchers[k].a, &x);
		if (!x.cnt)
			continue;
		if (!v->cnt || x.min < v->min)
			v->min = x.min;
		if (!v->cnt || x.max > v->max)
			v->max = x.max;
		v->cnt += x.cnt;
		v->sum += x.sum;
	}
}

/* ZooKeeper's AvgMinMaxCounters that paddock has a meaning for (BASIC
 * summaries: mntr's five keys from the zk_amm, Prometheus' windowed 0.5
 * quantile from the zk_hist beside it, struct zk_basic) */
static void amm_counters(struct dp_server *d, struct dp_msink *s,
			 const struct zlog_stats *ls)
{
	const struct zab_stats *zs = zab_seq_stats(d->seq);
	const struct {
		const char *name;
		const struct zk_amm *v;
		const struct zk_hist *h; /* NULL: an empty window */
	} c[] = {
		{"fsynctime", &ls->fsync_ms, ls->fsync_hist},
		{"sync_processor_batch_size", &ls->batch, ls->batch_hist},
		{"snapshottime", &zs->snapshot_ms.a, &zs->snapshot_ms.h},
		{"dbinittime", &zs->dbinit_ms.a, &zs->dbinit_ms.h},
		{"startup_snap_load_time", &zs->snap_load_ms.a,
		 &zs->snap_load_ms.h},
		{"startup_txns_load_time", &zs->txns_load_ms.a,
		 &zs->txns_load_ms.h},
		{"startup_txns_loaded", &zs->txns_loaded.a, &zs->txns_loaded.h},
		{"unavailable_time", &zs->unavailable_ms.a,
		 &zs->unavailable_ms.h},
		{"leader_unavailable_time", &zs->leader_unavailable_ms.a,
		 &zs->leader_unavailable_ms.h},
	};
	/* the sink's summaries' window (Prometheus) */
	struct dp_summary *w = NULL;
	int64_t now_ms = zk_clock_ms(CLOCK_MONOTONIC);
	if (s->amm && !(w = malloc(sizeof(*w))))
		return;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct zk_amm v = {0};
		if (w)
			memset(w, 0, sizeof(*w));
		/* srst came while a snapshot was written: none since */
		if (c[i].v != &zs->snapshot_ms.a ||
		    !atomic_load(&zs->snapshot_reset)) {
			zk_amm_read(c[i].v, &v);
			if (w && c[i].h)
				w->n = (int64_t)zk_hist_window(c[i].h, now_ms,
							       w->b);
		}
		amm_keys(s, c[i].name, &v, w);
	}
	/* watchers each watch event reached, by type (proto.c's
	 * count_watchers; README, mntr: what a sample is with several
	 * workers) */
	static const char *const wn[DP_WATCH_EVENTS] = {
		[ZEV_CREATED - 1] = "node_created_watch_count",
		[ZEV_DELETED - 1] = "node_deleted_watch_count",
		[ZEV_DATA_CHANGED - 1] = "node_changed_watch_count",
		[ZEV_CHILD_CHANGED - 1] = "node_children_watch_count",
	};
	for (int k = 0; k < DP_WATCH_EVENTS; k++) {
		struct zk_amm v;
		watchers_of(d, k, &v, w, now_ms);
		amm_keys(s, wn[k], &v, w);
	}
	free(w);
}

void dp_metrics(struct dp_server *d, struct dp_msink *s, int64_t watches)
{
	const struct zab_stats *zs = zab_seq_stats(d->seq);
	struct dp_totals t;
	dp_totals(d, &t);
	struct rlimit rl = {0};
	getrlimit(RLIMIT_NOFILE, &rl);
	const char *mode = zab_seq_mode(d->seq);
	s->put(s, "zk_version", DP_M_STR, 0, 0, ZK_COMPAT_VERSION);
	s->put(s, "zk_server_state", DP_M_STR, 0, 0, mode ? mode : "");
	m_dbl(s, "zk_avg_latency", t.lat_avg);
	m_int(s, DP_M_GAUGE, "zk_max_latency", t.lat_max);
	m_int(s, DP_M_GAUGE, "zk_min_latency", t.lat_min);
	/* ServerMetrics' readlatency and updatelatency (ADVANCED summaries):
	 * mntr's since start or srst, Prometheus' quantiles over its time
	 * window (hist.c) */
	static const char *const kinds[DP_LAT_KINDS] = {
		[DP_LAT_READ] = "readlatency",
		[DP_LAT_UPDATE] = "updatelatency"};
	int64_t now_ms = zk_clock_ms(CLOCK_MONOTONIC);
	for (int k = 0; k < DP_LAT_KINDS; k++) {
		struct dp_summary *v = malloc(2 * sizeof(*v));
		if (!v)
			continue;
		dp_summary_of(d, k, v);
		if (s->summary) {
			dp_summary_window(d, k, now_ms, v + 1);
			s->summary(s, kinds[k], v, v + 1);
		} else {
			summary_keys(s, kinds[k], v);
		}
		free(v);
	}
	/* ServerMetrics' ZAB latencies (ADVANCED summaries, on every member
	 * as in ZooKeeper, zero where the role takes no samples): the
	 * sequencer's histograms (struct zab_stats.lat) */
	static const char *const zab_lat[ZAB_LAT_KINDS] = {
		[ZAB_LAT_PROPOSAL] = "proposal_latency",
		[ZAB_LAT_ACK_CREATION] = "proposal_ack_creation_latency",
		[ZAB_LAT_QUORUM_ACK] = "quorum_ack_latency",
		[ZAB_LAT_COMMIT_PROPAGATION] = "commit_propagation_latency",
		[ZAB_LAT_PROPAGATION] = "propagation_latency"};
	for (int k = 0; k < ZAB_LAT_KINDS; k++)
		hist_summary(s, zab_lat[k], zab_lat[k], &zs->lat[k], now_ms);
	/* The leader's ack_latency SummarySet, one summary per acking sid
	 * once it has a sample (AvgMinMaxPercentileCounterSet: mntr's
	 * zk_avg_<sid>_ack_latency ..., the counter's name being key + "_"
	 * + the set's), in sid order; Prometheus' labelled summary
	 * (PrometheusLabelledSummary, label "key") */
	int64_t sids[ZAB_ACK_SIDS] = {0};
	int slot[ZAB_ACK_SIDS] = {0}, ns = 0;
	for (int k = 0; k < ZAB_ACK_SIDS; k++) {
		int64_t sid = atomic_load_explicit(&zs->ack_sid[k],
						   memory_order_acquire);
		if (!sid)
			break;
		int j = ns++;
		for (; j > 0 && sids[j - 1] > sid; j--) {
			sids[j] = sids[j - 1];
			slot[j] = slot[j - 1];
		}
		sids[j] = sid;
		slot[j] = k;
	}
	for (int j = 0; j < ns; j++) {
		char mk[48], pk[48];
		snprintf(mk, sizeof(mk), "%lld_ack_latency", (long long)sids[j]);
		snprintf(pk, sizeof(pk), "ack_latency{key=\"%lld\"}",
			 (long long)sids[j]);
		hist_summary(s, mk, pk, &zs->ack_lat[slot[j]], now_ms);
	}
	m_int(s, DP_M_COUNTER, "zk_packets_received", t.recv);
	m_int(s, DP_M_COUNTER, "zk_packets_sent", t.sent);
	m_int(s, DP_M_GAUGE, "zk_num_alive_connections", t.conns);
	/* requests between parse and reply, as ZooKeeper's inProcess */
	m_int(s, DP_M_GAUGE, "zk_outstanding_requests", dp_outstanding(d));
	/* ZooKeeper's node map also holds "" for the root: count it */
	m_int(s, DP_M_GAUGE, "zk_znode_count",
	      (int64_t)tree_node_count(d->tree) + 1);
	m_int(s, DP_M_GAUGE, "zk_watch_count", watches);
	m_int(s, DP_M_GAUGE, "zk_ephemerals_count",
	      atomic_load(&zs->ephemerals));
	m_int(s, DP_M_GAUGE, "zk_approximate_data_size",
	      (int64_t)tree_data_bytes(d->tree));
	quota_gauges(d->tree, s);
	m_int(s, DP_M_GAUGE, "zk_open_file_descriptor_count", dp_count_fds());
	m_int(s, DP_M_GAUGE, "zk_max_file_descriptor_count",
	      (int64_t)rl.rlim_cur);
	m_int(s, DP_M_GAUGE, "zk_global_sessions",
	      atomic_load(&zs->sessions));
	m_int(s, DP_M_COUNTER, "zk_digest_mismatches_count",
	      atomic_load(&zs->digest_mismatches));
	if (mode && !strcmp(mode, "leader")) { /* Leader-only keys */
		m_int(s, DP_M_GAUGE, "zk_learners",
		      atomic_load(&zs->learners));
		m_int(s, DP_M_GAUGE, "zk_synced_followers",
		      atomic_load(&zs->synced_followers));
		/* followers that do not vote exist only with reconfig */
		m_int(s, DP_M_GAUGE, "zk_synced_non_voting_followers", 0);
		m_int(s, DP_M_GAUGE, "zk_synced_observers",
		      atomic_load(&zs->synced_observers));
		m_int(s, DP_M_GAUGE, "zk_pending_syncs",
		      atomic_load(&zs->pending_syncs));
	}
	int64_t now = zk_clock_ms(CLOCK_MONOTONIC);
	m_int(s, DP_M_GAUGE, "zk_uptime", now - d->start_ms);
	m_int(s, DP_M_GAUGE, "zk_last_client_response_size", t.resp_last);
	m_int(s, DP_M_GAUGE, "zk_min_client_response_size", t.resp_min);
	m_int(s, DP_M_GAUGE, "zk_max_client_response_size", t.resp_max);
	m_int(s, DP_M_GAUGE, "zk_auth_failed_count", t.auth_failed);
	m_int(s, DP_M_COUNTER, "zk_bytes_received_count", t.bytes_in);
	m_int(s, DP_M_COUNTER, "zk_response_bytes", t.resp_bytes);
	m_int(s, DP_M_COUNTER, "zk_watch_bytes", t.watch_bytes);
	m_int(s, DP_M_COUNTER, "zk_connection_request_count",
	      t.conn_requests);
	m_int(s, DP_M_COUNTER, "zk_connection_drop_count", t.conn_drops);
	m_int(s, DP_M_COUNTER, "zk_stale_replies", t.stale_replies);
	int64_t tls_open, tls_failed;
	tls_stats(&tls_open, &tls_failed);
	m_int(s, DP_M_GAUGE, "zk_outstanding_tls_handshake", tls_open);
	m_int(s, DP_M_COUNTER, "zk_unsuccessful_handshake", tls_failed);
	m_int(s, DP_M_COUNTER, "zk_stale_sessions_expired",
	      atomic_load(&zs->expired));
	/* the quorum counters (0 when standalone, as in ZooKeeper) */
	static const struct {
		const char *key;
		size_t off;
	} qc[] = {
		{"zk_proposal_count", offsetof(struct zab_stats, proposals)},
		{"zk_commit_count", offsetof(struct zab_stats, commits)},
		{"zk_learner_proposal_received_count",
		 offsetof(struct zab_stats, learner_proposals)},
		{"zk_learner_commit_received_count",
		 offsetof(struct zab_stats, learner_commits)},
		{"zk_looking_count", offsetof(struct zab_stats, lookings)},
		{"zk_diff_count", offsetof(struct zab_stats, diffs)},
		{"zk_snap_count", offsetof(struct zab_stats, snaps)},
		{"zk_revalidate_count",
		 offsetof(struct zab_stats, revalidates)},
		{"zk_connection_revalidate_count",
		 offsetof(struct zab_stats, conn_revalidates)},
	};
	for (size_t i = 0; i < sizeof(qc) / sizeof(qc[0]); i++)
		m_int(s, DP_M_COUNTER, qc[i].key,
		      atomic_load((const _Atomic int64_t *)((const char *)zs +
							    qc[i].off)));
	/* paddock never drops a connection at random to shed load
	 * (BlueThrottle's drop probability) */
	m_dbl(s, "zk_connection_drop_probability", 0.0);
	const struct zcfg *cfg = d->cfg;
	if (cfg->n_servers > 1 ||
	    (cfg->n_servers == 1 && !cfg->standalone_enabled)) {
		int voters = 0;
		for (int i = 0; i < cfg->n_servers; i++)
			voters += !cfg->servers[i].observer;
		m_int(s, DP_M_GAUGE, "zk_quorum_size", voters);
		/* QuorumPeer's state and ZAB phase */
		static const char *const ps[] = {
			[ZAB_PS_LEADING] = "leading - broadcast",
			[ZAB_PS_FOLLOWING] = "following - broadcast",
			[ZAB_PS_OBSERVING] = "observing - broadcast",
			[ZAB_PS_LOOKING] = "looking"};
		int st = !mode ? ZAB_PS_LOOKING
		       : !strcmp(mode, "leader") ? ZAB_PS_LEADING
		       : !strcmp(mode, "observer") ? ZAB_PS_OBSERVING
		       : !strcmp(mode, "follower") ? ZAB_PS_FOLLOWING
						   : ZAB_PS_LOOKING;
		s->put(s, "zk_peer_state", DP_M_STR, 0, 0, ps[st]);
	}
	if (mode && !strcmp(mode, "leader")) {
		int64_t since = atomic_load(&zs->leading_since);
		m_int(s, DP_M_GAUGE, "zk_leader_uptime",
		      since ? now - since : 0);
		/* the Leader's BufferStats: -1 before the first proposal
		 * (since start or the four-letter srst); a proposal is
		 * never 0 bytes, so 0 here means none */
		bool none = !atomic_load(&zs->prop_max);
		m_int(s, DP_M_GAUGE, "zk_last_proposal_size",
		      none ? -1 : atomic_load(&zs->prop_last));
		m_int(s, DP_M_GAUGE, "zk_min_proposal_size",
		      none ? -1 : atomic_load(&zs->prop_min));
		m_int(s, DP_M_GAUGE, "zk_max_proposal_size",
		      none ? -1 : atomic_load(&zs->prop_max));
	}
	/* Flow control.  paddock never fails a request for being throttled
	 * (ZooKeeper's THROTTLEDOP, zookeeper.throttled_op_wait_time), so
	 * zk_throttled_ops stays 0; the RequestThrottler's waits and the
	 * rejected connections mean what they mean in ZooKeeper. */
	m_int(s, DP_M_COUNTER, "zk_throttled_ops", 0);
	m_int(s, DP_M_COUNTER, "zk_request_throttle_wait_count",
	      atomic_load(&zs->throttled));
	m_int(s, DP_M_COUNTER, "zk_connection_rejected", t.rejected);
	m_int(s, DP_M_COUNTER, "zk_sessionless_connections_expired",
	      t.sessionless);
	/* paddock's own: requests the RequestThrottler holds now; times a
	 * connection's next request waited for an outstanding limit */
	m_int(s, DP_M_GAUGE, "paddock_throttled_requests",
	      zab_seq_throttled_now(d->seq));
	m_int(s, DP_M_COUNTER, "paddock_connection_throttled", t.held);
	/* paddock's own: each worker's load, as labelled keys (the form
	 * ZooKeeper's own mntr takes under its Prometheus provider) */
	for (int i = 0; i < d->n; i++) {
		const struct dp_worker *x = &d->w[i];
		char key[96];
#define WKEY(name) (snprintf(key, sizeof(key), "paddock_worker_%s{worker=\"%d\"}", \
			     name, i), key)
		m_int(s, DP_M_COUNTER, WKEY("packets_received"),
		      atomic_load(&x->packets_recv));
		m_int(s, DP_M_GAUGE, WKEY("connections"),
		      atomic_load(&x->nconn_open));
		m_int(s, DP_M_GAUGE, WKEY("outstanding_requests"),
		      atomic_load(&x->outstanding));
#undef WKEY
	}
	/* paddock's own: the DPDK dataplane's stack (io_dpdk.c) */
	const struct dp_backend_ops *io = d->w[0].io;
	if (io->stats) {
		struct dp_backend_stats bs = {0};
		for (int i = 0; i < d->n; i++)
			io->stats(d->w[i].be, &bs);
		const struct {
			const char *key;
			uint64_t v;
			enum dp_mkind k;
		} dk[] = {
			{"paddock_dpdk_tcp_connections", bs.conns, DP_M_GAUGE},
			{"paddock_dpdk_rx_frames", bs.rx_frames, DP_M_COUNTER},
			{"paddock_dpdk_tx_frames", bs.tx_frames, DP_M_COUNTER},
			{"paddock_dpdk_tx_dropped", bs.tx_dropped,
			 DP_M_COUNTER},
			{"paddock_dpdk_tcp_retransmits", bs.retransmits,
			 DP_M_COUNTER},
			{"paddock_dpdk_tcp_timeouts", bs.timeouts,
			 DP_M_COUNTER},
			{"paddock_dpdk_tcp_resets_sent", bs.resets,
			 DP_M_COUNTER},
			{"paddock_dpdk_mbufs_in_use", bs.mbufs_in_use,
			 DP_M_GAUGE}};
		for (size_t i = 0; i < sizeof(dk) / sizeof(dk[0]); i++)
			m_int(s, dk[i].k, dk[i].key, (int64_t)dk[i].v);
	}
	/* paddock's own: group commit */
	struct zlog_stats ls;
	zab_seq_log_stats(d->seq, &ls);
	m_int(s, DP_M_COUNTER, "paddock_log_flushes", (int64_t)ls.batches);
	m_int(s, DP_M_COUNTER, "paddock_log_records", (int64_t)ls.records);
	m_int(s, DP_M_COUNTER, "paddock_log_bytes", (int64_t)ls.bytes);
	m_dbl(s, "paddock_log_records_per_flush",
	      ls.batches ? (double)ls.records / (double)ls.batches : 0.0);
	m_dbl(s, "paddock_log_flush_avg_us",
	      ls.batches ? (double)ls.flush_ns / 1000.0 / (double)ls.batches
			 : 0.0);
	amm_counters(d, s, &ls);
	/* the tree's own memory (znodes and versions, slab chunks) */
	m_int(s, DP_M_GAUGE, "paddock_tree_bytes",
	      (int64_t)tree_mem_bytes(d->tree));
}

/* A double as ZooKeeper prints its 4-decimal averages (Java's
 * Double.toString of a value rounded to 4 places): "1.0159", "0.5",
 * "0.0". */
void dp_fmt_double(char *buf, size_t len, double v)
{
	snprintf(buf, len, "%.4f", v);
	char *dot = strchr(buf, '.');
	if (!dot)
		return;
	char *e = buf + strlen(buf) - 1;
	while (e > dot + 1 && *e == '0')
		*e-- = 0;
}

/* mntr's text: "key<TAB>value" lines */
struct text_sink {
	struct dp_msink s;
	struct jw *o;
};

static void text_put(struct dp_msink *s, const char *key, enum dp_mkind k,
		     int64_t i, double d, const char *str)
{
	struct jw *o = ((struct text_sink *)s)->o;
	if (k == DP_M_STR)
		out(o, "%s\t%s\n", key, str);
	else if (k == DP_M_DOUBLE) {
		char v[64];
		dp_fmt_double(v, sizeof(v), d);
		out(o, "%s\t%s\n", key, v);
	}
	else
		out(o, "%s\t%lld\n", key, (long long)i);
}

static void mntr(struct dp_worker *w, struct jw *o)
{
	struct text_sink t = {{text_put, NULL}, o};
	dp_metrics(w->srv, &t.s, dp_watch_count(w->srv, w));
}

struct dump_conn {
	int64_t at, session;
	char addr[INET6_ADDRSTRLEN + 16];
};

struct dump_conns {
	struct dump_conn *v;
	size_t n, cap;
};

static void dump_add(void *arg, const struct dp_conn_view *x)
{
	struct dump_conns *l = arg;
	struct dump_conn *v = grow(l->v, &l->cap, l->n + 1, sizeof(*v));
	if (!v)
		return; /* listed without it */
	l->v = v;
	struct dump_conn *e = &l->v[l->n++];
	e->at = x->expire_set;
	e->session = x->c->session;
	snprintf(e->addr, sizeof(e->addr), "%s:%d", x->c->ip, x->c->port);
}

static int dump_cmp(const void *a, const void *b)
{
	const struct dump_conn *x = a, *y = b;
	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	return x->session < y->session ? -1 : x->session > y->session;
}

/* NIOServerCnxnFactory.dumpConnections: connections by expiry set */
void each_conn_dump(struct dp_worker *w, struct dp_conn *c)
{
	struct dump_conns l = {0};
	size_t sets = 0;
	dp_each_conn(w->srv, w, dump_add, &l);
	const struct dump_conn *v = l.v;
	size_t n = l.n;
	if (n)
		qsort(l.v, n, sizeof(*v), dump_cmp);
	for (size_t i = 0; i < n; i++)
		sets += !i || v[i].at != v[i - 1].at;
	out(&c->out, "Connections dump:\nConnections Sets (%zu)/(%zu):\n", sets,
	    n);
	int64_t wall = zk_clock_ms(CLOCK_REALTIME) -
		       zk_clock_ms(CLOCK_MONOTONIC);
	for (size_t i = 0, j; i < n; i = j) {
		char date[64];
		for (j = i; j < n && v[j].at == v[i].at; j++)
			;
		zk_java_date(date, sizeof(date), v[i].at + wall);
		out(&c->out, "%zu expire at %s:\n", j - i, date);
		for (size_t x = i; x < j; x++)
			out(&c->out, "\tip: /%s sessionId: 0x%llx\n", v[x].addr,
			    (unsigned long long)v[x].session);
	}
	free(l.v);
}

/* ZooKeeper's Environment.list, without the JVM's java.* entries: the
 * version, the host, the OS, the user, and for the JVM's heap figures
 * (os.memory.*) the machine's memory */
void dp_environment(void (*put)(void *arg, const char *key,
				const char *value),
		    void *arg)
{
	struct utsname u;
	char host[256] = "", cwd[PATH_MAX] = "", mb[32];
	uname(&u);
	gethostname(host, sizeof(host) - 1);
	if (!getcwd(cwd, sizeof(cwd)))
		cwd[0] = 0;
	struct passwd *pw = getpwuid(geteuid());
	put(arg, "zookeeper.version", ZK_COMPAT_VERSION);
	put(arg, "host.name", host);
	put(arg, "os.name", u.sysname);
	/* Java's os.arch: "amd64" for x86_64 */
	put(arg, "os.arch", strcmp(u.machine, "x86_64") ? u.machine : "amd64");
	put(arg, "os.version", u.release);
	put(arg, "user.name", pw ? pw->pw_name : "");
	put(arg, "user.home", pw ? pw->pw_dir : "");
	put(arg, "user.dir", cwd);
	struct sysinfo si;
	if (!sysinfo(&si)) {
		unsigned long long unit = si.mem_unit ? si.mem_unit : 1;
		snprintf(mb, sizeof(mb), "%lluMB",
			 (unsigned long long)si.freeram * unit >> 20);
		put(arg, "os.memory.free", mb);
		snprintf(mb, sizeof(mb), "%lluMB",
			 (unsigned long long)si.totalram * unit >> 20);
		put(arg, "os.memory.max", mb);
		put(arg, "os.memory.total", mb);
	}
}

static void envi_line(void *arg, const char *key, const char *value)
{
	out(arg, "%s=%s\n", key, value);
}

/* The words whose command checks isZKServerRunning() first and prints
 * ZK_NOT_SERVING with println (ZooKeeper 3.8.0's server/command/:
 * StatCommand, MonitorCommand, ConfCommand, ConsCommand, WatchCommand,
 * DumpCommand, CnxnStatResetCommand, StatResetCommand, DirsCommand).
 * DigestCommand (hash) prints it without the newline, IsroCommand
 * prints "null"; RuokCommand, EnvCommand, TraceMaskCommand and
 * SetTraceMaskCommand answer whatever the state. */
static bool needs_server(const char *cmd)
{
	static const char *const w[] = {"srvr", "stat", "mntr", "conf", "cons",
					"wchs", "wchc", "wchp", "dump", "crst",
					"srst", "dirs", NULL};
	for (int i = 0; w[i]; i++)
		if (!strcmp(w[i], cmd))
			return true;
	return false;
}

bool dp_4lw(struct dp_worker *w, const uint8_t cmd4[4], const uint8_t *more,
	    size_t more_len, struct jw *o)
{
	struct dp_server *d = w->srv;
	const struct zcfg *cfg = d->cfg;
	char cmd[5];
	memcpy(cmd, cmd4, 4);
	cmd[4] = 0;
	if (!dp_4lw_known(cmd4))
		return false;
	if (!zcfg_4lw_allowed(cfg, cmd)) {
		out(o, "%s is not executed because it is not in the "
		       "whitelist.\n",
		    cmd);
		return true;
	}
	const char *mode = zab_seq_mode(d->seq);
	if (!strcmp(cmd, "ruok")) {
		out(o, "imok");
	} else if (!mode && needs_server(cmd)) {
		/* an ensemble member between leaders (ZooKeeper's
		 * ZK_NOT_SERVING) */
		out(o, "This ZooKeeper instance is not currently serving "
		       "requests\n");
	} else if (!strcmp(cmd, "hash")) {
		/* DigestCommand: a line per entry of the digest log,
		 * Long.toHexString(zxid) + ": " + digest, println'd; none
		 * where the tree keeps no digest (standalone) */
		if (!mode) {
			out(o, "This ZooKeeper instance is not currently "
			       "serving requests");
		} else {
			struct tree_zxid_digest *l =
			    malloc(TREE_DIGEST_LOG_LIMIT * sizeof(*l));
			size_t n = l ? tree_digest_log(d->tree, l) : 0;
			for (size_t i = 0; i < n; i++)
				out(o, "%llx: %lld\n",
				    (unsigned long long)l[i].zxid,
				    (long long)l[i].digest);
			free(l);
		}
	} else if (!strcmp(cmd, "isro")) {
		out(o, "%s",
		    !mode			 ? "null"
		    : !strcmp(mode, "read-only") ? "ro"
						 : "rw");
	} else if (!strcmp(cmd, "gtmk")) {
		out(o, "%lld", (long long)dp_trace_mask());
	} else if (!strcmp(cmd, "stmk")) {
		/* NIOServerCnxn reads the 8-byte mask from what follows
		 * the word; short of 8 bytes, getLong throws and the
		 * connection closes with no answer */
		if (more_len >= 8) {
			int64_t m = 0;
			for (int i = 0; i < 8; i++)
				m = (int64_t)((uint64_t)m << 8 | more[i]);
			dp_trace_mask_set(m);
			out(o, "%lld", (long long)m);
		}
	} else if (!strcmp(cmd, "srvr")) {
		srvr(w, o, false);
	} else if (!strcmp(cmd, "stat")) {
		srvr(w, o, true);
	} else if (!strcmp(cmd, "mntr")) {
		mntr(w, o);
	} else if (!strcmp(cmd, "conf")) {
		out(o, "clientPort=%d\n", cfg->client_port);
		out(o, "secureClientPort=-1\n");
		out(o, "dataDir=%s/version-2\n", cfg->data_dir);
		out(o, "dataDirSize=%lld\n", (long long)dp_dir_size(cfg->data_dir));
		out(o, "dataLogDir=%s/version-2\n", cfg->data_log_dir);
		out(o, "dataLogSize=%lld\n",
		    (long long)dp_dir_size(cfg->data_log_dir));
		out(o, "tickTime=%d\n", cfg->tick_time);
		out(o, "maxClientCnxns=%d\n", cfg->max_client_cnxns);
		out(o, "minSessionTimeout=%d\n", cfg->min_session_timeout);
		out(o, "maxSessionTimeout=%d\n", cfg->max_session_timeout);
		out(o, "clientPortListenBacklog=-1\n");
		out(o, "serverId=0\n");
		out(o, "paddock.workers=%d\n", cfg->workers);
	} else if (!strcmp(cmd, "cons")) {
		each_conn(w, o, true);
		out(o, "\n");
	} else if (!strcmp(cmd, "envi")) {
		out(o, "Environment:\n");
		dp_environment(envi_line, o);
	} else if (!strcmp(cmd, "wchs")) {
		int64_t sessions, paths, total;
		if (!dp_watch_summary(d, w, &sessions, &paths, &total))
			out(o, "out of memory\n");
		else
			out(o, "%lld connections watching %lld paths\n"
			       "Total watches:%lld\n",
			    (long long)sessions, (long long)paths,
			    (long long)total);
	} else if (!strcmp(cmd, "wchc") || !strcmp(cmd, "wchp")) {
		watch_lists(w, o, cmd[3] == 'c');
		out(o, "\n"); /* WatchCommand's println */
	} else if (!strcmp(cmd, "dump")) {
		return false;
	} else if (!strcmp(cmd, "crst")) {
		dp_conn_stat_reset(d, w);
		out(o, "Connection stats reset.\n");
	} else if (!strcmp(cmd, "srst")) {
		dp_stat_reset(d, w, true);
		out(o, "Server stats reset.\n");
	} else if (!strcmp(cmd, "dirs")) {
		out(o, "datadir_size: %lld\n", (long long)dp_dir_size(cfg->data_dir));
		out(o, "logdir_size: %lld\n",
		    (long long)dp_dir_size(cfg->data_log_dir));
	} else {
		out(o, "%s is not executed because it is not supported.\n",
		    cmd);
	}
	return true;
}
