/*
 * commands.c — the AdminServer's commands (ZooKeeper 3.8's
 * org.apache.zookeeper.server.admin.Commands) as JSON, and mntr's values
 * in Prometheus' text format.  The HTTP side is admin/admin.c; this file
 * knows the server.
 *
 * Runs on an HTTP thread, never on a worker's or the sequencer's.  What
 * a worker owns (its connections, its watches) is read on that worker's
 * own thread through dp_ask, one worker after the other; mntr's values
 * on worker 0 (the quota gauges walk the tree: an RCU reader); what the
 * sequencer owns (sessions) through zab_seq_sessions; counters are read
 * racily, as four-letter words read them.
 *
 * Key names, nesting and JSON types are ZooKeeper's (checked against a
 * running ZooKeeper 3.8 by tests/integration/test_admin.py).  Where a
 * value has no meaning in paddock it is what ZooKeeper prints for the
 * same state (provider_null false, secure_connections empty).
 */
#include <dirent.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dataplane/dataplane_int.h"

/* ZooKeeper's trace mask (ZooTrace.getTextTraceLevel): paddock keeps no
 * trace log, but the mask is remembered as set_trace_mask sets it. */
static _Atomic int64_t trace_mask = 306; /* ZooTrace's default */

int64_t dp_trace_mask(void)
{
	return atomic_load(&trace_mask);
}

void dp_trace_mask_set(int64_t mask)
{
	atomic_store(&trace_mask, mask);
}

/* ZooKeeper's averages: rounded to 4 decimal places */
static double round4(double v)
{
	return round(v * 1e4) / 1e4;
}

static json_t *jstr(const char *s)
{
	return json_string(s ? s : "");
}

/* The length of the valid UTF-8 sequence at s (n bytes left), 0 if it
 * is not one (jansson refuses strings that are not UTF-8) */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len = s[0] < 0x80 ? 1 : s[0] >= 0xc2 && s[0] <= 0xdf ? 2
				  : s[0] >= 0xe0 && s[0] <= 0xef   ? 3
				  : s[0] >= 0xf0 && s[0] <= 0xf4   ? 4
								   : 0;
	if (!len || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
		return 0; /* overlong, a surrogate, above U+10FFFF */
	return len;
}

/* s[0..n) as UTF-8, each byte that is not part of a valid sequence (a
 * URL's %87, a path written by a raw client, a cut) as U+FFFD, as Java
 * decodes malformed input; NUL-terminated, to free() */
static char *utf8_clean(const char *s, size_t n)
{
	char *out = malloc(3 * n + 1), *o = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n;) {
		size_t l = utf8_seq((const unsigned char *)s + i, n - i);
		if (l && !(l == 1 && !s[i])) {
			memcpy(o, s + i, l);
			o += l;
			i += l;
		} else {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	*o = 0;
	return out;
}

/* A JSON string of s[0..n), made valid UTF-8 */
static json_t *jtext(const char *s, size_t n)
{
	char *c = utf8_clean(s, n);
	json_t *j = c ? json_string(c) : NULL;
	free(c);
	return j ? j : json_string("");
}

/* ---- on the workers ---------------------------------------------------- */

static void addr_of(const struct dp_conn *c, char *buf, size_t len)
{
	if (strchr(c->ip, ':'))
		snprintf(buf, len, "[%s]:%d", c->ip, c->port);
	else
		snprintf(buf, len, "%s:%d", c->ip, c->port);
}

struct conn_query {
	json_t *list;
	bool full; /* cons: the session's fields too */
};

/* One connection, as NIOServerCnxn.getConnectionInfo(brief) has it. */
static void conn_json(void *arg, const struct dp_conn_view *v)
{
	const struct conn_query *q = arg;
	const struct dp_conn *c = v->c;
	char a[INET6_ADDRSTRLEN + 16];
	addr_of(c, a, sizeof(a));
	json_t *o = json_object();
	json_object_set_new(o, "remote_socket_address", json_string(a));
	json_object_set_new(o, "interest_ops",
			    json_integer((c->no_read ? 0 : 1) |
					 (c->want_write ? 4 : 0)));
	json_object_set_new(o, "outstanding_requests",
			    json_integer(c->inflight));
	json_object_set_new(o, "packets_received",
			    json_integer(atomic_load(&c->recv)));
	json_object_set_new(o, "packets_sent",
			    json_integer(atomic_load(&c->sent)));
	json_array_append_new(q->list, o);
	if (!q->full || !c->session)
		return;
	json_object_set_new(o, "session_id", json_integer(c->session));
	json_object_set_new(o, "last_operation",
			    json_string(dp_op_name(c->last_op)));
	json_object_set_new(o, "established", json_integer(v->established));
	json_object_set_new(o, "session_timeout", json_integer(c->timeout));
	json_object_set_new(o, "last_cxid", json_integer(c->last_cxid));
	json_object_set_new(o, "last_zxid", json_integer(c->last_zxid));
	json_object_set_new(o, "last_response_time",
			    json_integer(c->last_resp_ms));
	json_object_set_new(o, "last_latency", json_integer(v->last_lat));
	json_object_set_new(o, "min_latency", json_integer(v->min_lat));
	json_object_set_new(o, "avg_latency", json_integer(v->avg_lat));
	json_object_set_new(o, "max_latency", json_integer(v->max_lat));
}

static json_t *connections(struct dp_server *d, bool full)
{
	struct conn_query q = {json_array(), full};
	dp_each_conn(d, NULL, conn_json, &q);
	return q.list;
}

/* watches / watches_by_path: session → paths, or path → sessions */
struct watch_query {
	json_t *by;
	bool by_session;
};

static void watch_json(void *arg, const char *path, size_t len,
		       int64_t session)
{
	struct watch_query *q = arg;
	char key[32];
	char *p = utf8_clean(path, len);
	if (!p)
		return;
	json_t *list;
	if (q->by_session) {
		snprintf(key, sizeof(key), "%lld", (long long)session);
		list = json_object_get(q->by, key);
		if (!list) {
			list = json_array();
			json_object_set_new(q->by, key, list);
		}
		json_array_append_new(list, json_string(p));
	} else {
		list = json_object_get(q->by, p);
		if (!list) {
			list = json_array();
			json_object_set_new(q->by, p, list);
		}
		json_array_append_new(list, json_integer(session));
	}
	free(p);
}

struct metrics_query {
	struct dp_msink *sink;
	int64_t watches;
};

static void metrics_on_worker(struct dp_worker *w, void *arg)
{
	struct metrics_query *q = arg;
	dp_metrics(w->srv, q->sink, q->watches);
}

/* mntr's values, as mntr has them: on a worker (an RCU reader, for the
 * quota gauges' walk), with every worker's watch count read on its own
 * thread first. */
static void metrics(struct dp_server *d, struct dp_msink *sink)
{
	struct metrics_query q = {sink, dp_watch_count(d, NULL)};
	dp_ask(d, NULL, 0, metrics_on_worker, &q);
}

/* ---- on the sequencer --------------------------------------------------- */

struct dump_query {
	struct dp_server *d;
	int tick;
	json_t *expiry, *eph;
};

static void eph_path(const char *path, size_t len, void *arg)
{
	json_array_append_new(arg, jtext(path, len));
}

/* ZooKeeper's SessionTrackerImpl keeps sessions in buckets of tickTime
 * (ExpiryQueue.roundToNextInterval): the bucket is the key. */
static void dump_session(void *arg, const struct zab_session_info *i)
{
	struct dump_query *q = arg;
	char key[32];
	int64_t bucket = (i->expires_ms / q->tick + 1) * q->tick;
	snprintf(key, sizeof(key), "%lld", (long long)bucket);
	json_t *ids = json_object_get(q->expiry, key);
	if (!ids) {
		ids = json_array();
		json_object_set_new(q->expiry, key, ids);
	}
	json_array_append_new(ids, json_integer(i->id));
	json_t *paths = json_array();
	tree_ephemerals(q->d->tree, i->id, eph_path, paths);
	if (json_array_size(paths)) {
		snprintf(key, sizeof(key), "%lld", (long long)i->id);
		json_object_set_new(q->eph, key, paths);
	} else {
		json_decref(paths);
	}
}

/* ---- the commands -------------------------------------------------------- */

static void server_stats(struct dp_server *d, json_t *r)
{
	const struct zcfg *cfg = d->cfg;
	const char *mode = zab_seq_mode(d->seq);
	struct dp_totals t;
	dp_totals(d, &t);
	json_object_set_new(r, "version", json_string(ZK_COMPAT_VERSION));
	json_object_set_new(r, "read_only",
			    json_boolean(mode && !strcmp(mode, "read-only")));
	json_t *s = json_object();
	json_object_set_new(s, "packets_sent", json_integer(t.sent));
	json_object_set_new(s, "packets_received", json_integer(t.recv));
	json_object_set_new(s, "fsync_threshold_exceed_count",
			    json_integer(0));
	json_t *resp = json_object();
	json_object_set_new(resp, "last_buffer_size",
			    json_integer(t.resp_last));
	json_object_set_new(resp, "min_buffer_size",
			    json_integer(t.resp_min));
	json_object_set_new(resp, "max_buffer_size",
			    json_integer(t.resp_max));
	json_object_set_new(s, "client_response_stats", resp);
	json_object_set_new(s, "data_dir_size",
			    json_integer(dp_dir_size(cfg->data_dir)));
	json_object_set_new(s, "log_dir_size",
			    json_integer(dp_dir_size(cfg->data_log_dir)));
	json_object_set_new(s, "provider_null", json_false());
	json_object_set_new(s, "server_state", jstr(mode));
	json_object_set_new(s, "last_processed_zxid",
			    json_integer(tree_applied_zxid(d->tree)));
	json_object_set_new(s, "outstanding_requests",
			    json_integer(dp_outstanding(d)));
	json_object_set_new(s, "avg_latency", json_real(round4(t.lat_avg)));
	json_object_set_new(s, "max_latency", json_integer(t.lat_max));
	json_object_set_new(s, "min_latency", json_integer(t.lat_min));
	json_object_set_new(s, "num_alive_client_connections",
			    json_integer(t.conns));
	json_object_set_new(s, "auth_failed_count",
			    json_integer(t.auth_failed));
	json_object_set_new(s, "non_mtlsremote_conn_count", json_integer(0));
	json_object_set_new(s, "non_mtlslocal_conn_count", json_integer(0));
	json_object_set_new(s, "uptime",
			    json_integer(zk_clock_ms(CLOCK_MONOTONIC) -
					 d->start_ms));
	json_object_set_new(r, "server_stats", s);
	json_object_set_new(r, "client_response", json_deep_copy(resp));
	/* ZooKeeper's node map also holds "" for the root: count it */
	json_object_set_new(r, "node_count",
			    json_integer((json_int_t)tree_node_count(d->tree) +
					 1));
}

struct json_sink {
	struct dp_msink s;
	json_t *o;
};

static void json_put(struct dp_msink *s, const char *key, enum dp_mkind k,
		     int64_t i, double v, const char *str)
{
	json_t *o = ((struct json_sink *)s)->o;
	if (!strncmp(key, "zk_", 3))
		key += 3;
	if (k == DP_M_STR)
		json_object_set_new(o, key, json_string(str));
	else if (k == DP_M_DOUBLE) /* ZooKeeper's 4 decimal places */
		json_object_set_new(o, key, json_real(round4(v)));
	else
		json_object_set_new(o, key, json_integer(i));
}

static void configuration(struct dp_server *d, json_t *r)
{
	const struct zcfg *cfg = d->cfg;
	char dir[PATH_MAX + 16];
	json_object_set_new(r, "client_port", json_integer(cfg->client_port));
	snprintf(dir, sizeof(dir), "%s/version-2", cfg->data_dir);
	json_object_set_new(r, "data_dir", json_string(dir));
	snprintf(dir, sizeof(dir), "%s/version-2", cfg->data_log_dir);
	json_object_set_new(r, "data_log_dir", json_string(dir));
	json_object_set_new(r, "tick_time", json_integer(cfg->tick_time));
	json_object_set_new(r, "max_client_cnxns",
			    json_integer(cfg->max_client_cnxns));
	json_object_set_new(r, "min_session_timeout",
			    json_integer(cfg->min_session_timeout));
	json_object_set_new(r, "max_session_timeout",
			    json_integer(cfg->max_session_timeout));
	json_object_set_new(r, "server_id",
			    json_integer(zab_seq_server_id(d->seq)));
	json_object_set_new(r, "client_port_listen_backlog",
			    json_integer(-1));
	json_object_set_new(r, "paddock.workers", json_integer(d->n));
}

static void env_put(void *arg, const char *key, const char *value)
{
	json_object_set_new(arg, key, json_string(value));
}

static bool is_ensemble(const struct zcfg *cfg)
{
	return cfg->n_servers > 1 ||
	       (cfg->n_servers == 1 && !cfg->standalone_enabled);
}

/* This member's client address as QuorumPeer knows it: its server.N
 * line's, else clientPortAddress:clientPort */
static void own_client_address(struct dp_server *d, char *a, size_t len)
{
	const struct zcfg *cfg = d->cfg;
	int64_t me = zab_seq_server_id(d->seq);
	for (int i = 0; i < cfg->n_servers; i++) {
		const struct zcfg_server *sv = &cfg->servers[i];
		if (sv->id == me && sv->client_port) {
			snprintf(a, len, "%s:%d",
				 sv->client_addr[0] ? sv->client_addr
						    : "0.0.0.0",
				 sv->client_port);
			return;
		}
	}
	snprintf(a, len, "%s:%d",
		 cfg->client_port_address[0] ? cfg->client_port_address
					     : "0.0.0.0",
		 cfg->client_port);
}

/* leader, voting_view, zabstate, observers */
static void voting_view(struct dp_server *d, json_t *r)
{
	const struct zcfg *cfg = d->cfg;
	json_t *all = json_object();
	bool ensemble = is_ensemble(cfg);
	int64_t me = zab_seq_server_id(d->seq);
	for (int i = 0; ensemble && i < cfg->n_servers; i++) {
		const struct zcfg_server *sv = &cfg->servers[i];
		char a[300], key[16];
		json_t *m = json_object();
		snprintf(a, sizeof(a), "%s:%d", sv->host, sv->quorum_port);
		json_object_set_new(m, "server_addresses",
				    json_pack("[s]", a));
		snprintf(a, sizeof(a), "%s:%d", sv->host, sv->election_port);
		json_object_set_new(m, "election_addresses",
				    json_pack("[s]", a));
		a[0] = 0;
		if (sv->id == me)
			own_client_address(d, a, sizeof(a));
		else if (sv->client_port)
			snprintf(a, sizeof(a), "%s:%d",
				 sv->client_addr[0] ? sv->client_addr
						    : "0.0.0.0",
				 sv->client_port);
		json_object_set_new(m, "client_address", json_string(a));
		json_object_set_new(m, "learner_type",
				    json_string(sv->observer ? "observer"
							     : "participant"));
		snprintf(key, sizeof(key), "%d", sv->id);
		json_object_set_new(all, key, m);
	}
	json_object_set_new(r, "current_config", all);
}

static const char *leader(struct dp_server *d, json_t *r)
{
	const struct zcfg *cfg = d->cfg;
	const char *mode = zab_seq_mode(d->seq);
	int64_t lid = zab_seq_leader_id(d->seq);
	if (!mode || lid <= 0 || !strcmp(mode, "standalone") ||
	    !strcmp(mode, "read-only"))
		return "server is not initialized";
	json_object_set_new(r, "is_leader",
			    json_boolean(!strcmp(mode, "leader")));
	json_object_set_new(r, "leader_id", json_integer(lid));
	for (int i = 0; i < cfg->n_servers; i++)
		if (cfg->servers[i].id == lid)
			json_object_set_new(r, "leader_ip",
					    json_string(cfg->servers[i].host));
	return NULL;
}

/* ZooKeeper's QuorumPeer.getZabState: election, discovery,
 * synchronization, broadcast; "" and not voting when standalone.  (Its
 * quorum_address and election_address, Java MultipleAddresses beans,
 * are left out.) */
static void zabstate(struct dp_server *d, json_t *r)
{
	const char *mode = zab_seq_mode(d->seq);
	int64_t lid = zab_seq_leader_id(d->seq);
	/* ZabStateCommand's answer for a server that is no
	 * QuorumZooKeeperServer: ZooKeeperServerMain's, a read-only
	 * member's (ReadOnlyZooKeeperServer), and none at all (null on a
	 * member that looks for a leader) */
	if ((!mode && lid <= 0) || !strcmp(mode ? mode : "", "standalone") ||
	    !strcmp(mode ? mode : "", "read-only")) {
		json_object_set_new(r, "voting", json_false());
		json_object_set_new(r, "zabstate", json_string(""));
		return;
	}
	int64_t me = zab_seq_server_id(d->seq);
	zxid_t z = tree_applied_zxid(d->tree);
	char hex[32];
	snprintf(hex, sizeof(hex), "0x%llx", (unsigned long long)z);
	char ca[300];
	own_client_address(d, ca, sizeof(ca));
	json_object_set_new(r, "myid", json_integer(me));
	json_object_set_new(r, "is_leader", json_boolean(lid == me));
	json_object_set_new(r, "client_address", json_string(ca));
	json_object_set_new(r, "voting",
			    json_boolean(!d->cfg->peer_type_observer));
	json_object_set_new(r, "last_zxid", json_string(hex));
	json_object_set_new(r, "zab_epoch", json_integer((int64_t)(z >> 32)));
	json_object_set_new(r, "zab_counter",
			    json_integer((int64_t)(z & 0xffffffffu)));
	json_object_set_new(r, "zabstate",
			    json_string(!mode || lid <= 0 ? "election"
							  : "broadcast"));
}

/* The newest "snapshot.<hex zxid>" in the data directory. */
static void last_snapshot(const char *dir, int64_t *zxid, int64_t *secs)
{
	DIR *dh = opendir(dir);
	struct dirent *e;
	*zxid = 0;
	*secs = 0;
	while (dh && (e = readdir(dh))) {
		char *end;
		if (strncmp(e->d_name, "snapshot.", 9))
			continue;
		unsigned long long z = strtoull(e->d_name + 9, &end, 16);
		char p[PATH_MAX + 300];
		struct stat st;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (*end || (int64_t)z < *zxid || stat(p, &st))
			continue;
		*zxid = (int64_t)z;
		*secs = st.st_mtime;
	}
	if (dh)
		closedir(dh);
}

/* The command's canonical name (CommandBase.getPrimaryName) for any of
 * its names, or NULL. */
static const char *const names[][4] = {
	{"configuration", "conf", "config"},
	{"connection_stat_reset", "crst"},
	{"connections", "cons"},
	{"dirs"},
	{"dump"},
	{"environment", "env", "envi"},
	{"get_trace_mask", "gtmk"},
	{"hash"},
	{"initial_configuration", "icfg"},
	{"is_read_only", "isro"},
	{"last_snapshot", "lsnp"},
	{"leader", "lead"},
	{"monitor", "mntr"},
	{"observer_connection_stat_reset", "orst"},
	{"observers", "obsr"},
	{"ruok"},
	{"server_stats", "srvr"},
	{"set_trace_mask", "stmk"},
	{"stat_reset", "srst"},
	{"stats", "stat"},
	{"system_properties", "sysp"},
	{"voting_view"},
	{"watch_summary", "wchs"},
	{"watches", "wchc"},
	{"watches_by_path", "wchp"},
	{"zabstate"},
};

static const char *primary(const char *name)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		for (int k = 0; k < 4 && names[i][k]; k++)
			if (!strcmp(names[i][k], name))
				return names[i][0];
	return NULL;
}

size_t dp_admin_names(const char **out, size_t max)
{
	size_t n = sizeof(names) / sizeof(names[0]);
	for (size_t i = 0; i < n && i < max; i++)
		out[i] = names[i][0];
	return n;
}

/* Run command `cmd`; its JSON fields go into r.  Returns an error
 * message for the "error" field, or NULL. */
static const char *run(struct dp_server *d, const char *cmd,
		       const char *arg, json_t *r, char *bad, size_t badlen)
{
	const struct zcfg *cfg = d->cfg;
	const char *mode = zab_seq_mode(d->seq);
	if (!strcmp(cmd, "ruok"))
		return NULL;
	if (!strcmp(cmd, "server_stats") || !strcmp(cmd, "stats")) {
		server_stats(d, r);
		if (!strcmp(cmd, "stats")) {
			json_object_set_new(r, "connections",
					    connections(d, false));
			json_object_set_new(r, "secure_connections",
					    json_array());
		}
		return NULL;
	}
	if (!strcmp(cmd, "monitor")) {
		struct json_sink s = {{json_put, NULL}, r};
		metrics(d, &s.s);
		return NULL;
	}
	if (!strcmp(cmd, "configuration")) {
		configuration(d, r);
		return NULL;
	}
	if (!strcmp(cmd, "connections")) {
		json_object_set_new(r, "connections", connections(d, true));
		json_object_set_new(r, "secure_connections", json_array());
		return NULL;
	}
	if (!strcmp(cmd, "connection_stat_reset")) {
		dp_conn_stat_reset(d, NULL);
		return NULL;
	}
	if (!strcmp(cmd, "stat_reset")) {
		dp_stat_reset(d, NULL, false);
		return NULL;
	}
	if (!strcmp(cmd, "watch_summary")) {
		int64_t sessions, paths, total;
		if (!dp_watch_summary(d, NULL, &sessions, &paths, &total))
			return "out of memory";
		json_object_set_new(r, "num_connections",
				    json_integer(sessions));
		json_object_set_new(r, "num_paths", json_integer(paths));
		json_object_set_new(r, "num_total_watches",
				    json_integer(total));
		return NULL;
	}
	if (!strcmp(cmd, "watches") || !strcmp(cmd, "watches_by_path")) {
		struct watch_query q = {json_object(),
					!strcmp(cmd, "watches")};
		dp_each_data_watch(d, NULL, watch_json, &q);
		json_object_set_new(r, q.by_session
					       ? "session_id_to_watched_paths"
					       : "path_to_session_ids",
				    q.by);
		return NULL;
	}
	if (!strcmp(cmd, "dump")) {
		struct dump_query q = {d, cfg->tick_time > 0 ? cfg->tick_time
							     : 1,
				       json_object(), json_object()};
		zab_seq_sessions(d->seq, dump_session, &q);
		json_object_set_new(r, "expiry_time_to_session_ids", q.expiry);
		json_object_set_new(r, "session_id_to_ephemeral_paths", q.eph);
		return NULL;
	}
	if (!strcmp(cmd, "environment")) {
		dp_environment(env_put, r);
		return NULL;
	}
	if (!strcmp(cmd, "dirs")) {
		json_object_set_new(r, "datadir_size",
				    json_integer(dp_dir_size(cfg->data_dir)));
		json_object_set_new(r, "logdir_size",
				    json_integer(dp_dir_size(cfg->data_log_dir)));
		return NULL;
	}
	if (!strcmp(cmd, "is_read_only")) {
		json_object_set_new(r, "read_only",
				    json_boolean(mode &&
						 !strcmp(mode, "read-only")));
		return NULL;
	}
	if (!strcmp(cmd, "get_trace_mask")) {
		json_object_set_new(r, "tracemask",
				    json_integer(dp_trace_mask()));
		return NULL;
	}
	if (!strcmp(cmd, "set_trace_mask")) {
		char *end = NULL;
		long long v = arg ? strtoll(arg, &end, 10) : 0;
		if (!arg)
			return "setTraceMask requires long traceMask argument";
		if (!*arg || *end) {
			snprintf(bad, badlen,
				 "setTraceMask requires long traceMask "
				 "argument, got %.200s", arg);
			return bad;
		}
		dp_trace_mask_set(v);
		json_object_set_new(r, "tracemask", json_integer(v));
		return NULL;
	}
	if (!strcmp(cmd, "leader"))
		return leader(d, r);
	if (!strcmp(cmd, "voting_view")) {
		voting_view(d, r);
		return NULL;
	}
	if (!strcmp(cmd, "observers") ||
	    !strcmp(cmd, "observer_connection_stat_reset")) {
		if (!strcmp(cmd, "observers")) {
			const struct zab_stats *zs = zab_seq_stats(d->seq);
			json_object_set_new(
				r, "synced_observers",
				json_integer(atomic_load(&zs->synced_observers)));
			json_object_set_new(r, "observers", json_array());
		}
		return NULL;
	}
	if (!strcmp(cmd, "zabstate")) {
		zabstate(d, r);
		return NULL;
	}
	if (!strcmp(cmd, "initial_configuration") && is_ensemble(cfg)) {
		/* QuorumPeer's, unlike ZooKeeperServerMain's, is null */
		json_object_set_new(r, "initial_configuration", json_null());
		return NULL;
	}
	if (!strcmp(cmd, "initial_configuration")) {
		char *text = NULL;
		size_t len = 0;
		FILE *f = cfg->path[0] ? fopen(cfg->path, "r") : NULL;
		if (f) {
			text = malloc(1 << 20);
			len = text ? fread(text, 1, (1 << 20) - 1, f) : 0;
			fclose(f);
		}
		json_object_set_new(r, "initial_configuration",
				    json_stringn(text ? text : "", len));
		free(text);
		return NULL;
	}
	if (!strcmp(cmd, "last_snapshot")) {
		int64_t zxid = 0, secs = 0;
		last_snapshot(cfg->data_dir, &zxid, &secs);
		char z[32];
		snprintf(z, sizeof(z), "%llx", (unsigned long long)zxid);
		json_object_set_new(r, "zxid", json_string(z));
		json_object_set_new(r, "timestamp", json_integer(secs));
		return NULL;
	}
	if (!strcmp(cmd, "hash")) {
		/* Commands.DigestCommand: DataTree.getDigestLog, each
		 * ZxidDigest by its getters in snake case */
		json_t *a = json_array();
		struct tree_zxid_digest *l =
		    malloc(TREE_DIGEST_LOG_LIMIT * sizeof(*l));
		size_t n = l ? tree_digest_log(d->tree, l) : 0;
		for (size_t i = 0; i < n; i++) {
			json_t *e = json_object();
			json_object_set_new(e, "zxid", json_integer(l[i].zxid));
			json_object_set_new(e, "digest",
					    json_integer(l[i].digest));
			json_object_set_new(e, "digest_version",
					    json_integer(ZK_DIGEST_VERSION));
			json_array_append_new(a, e);
		}
		free(l);
		json_object_set_new(r, "digests", a);
		return NULL;
	}
	if (!strcmp(cmd, "system_properties")) {
		json_object_set_new(r, "paddock.workers", json_integer(d->n));
		return NULL;
	}
	return "unknown";
}

/* Whether command `cmd` (a primary name) needs a running server:
 * CommandBase's serverRequired, true but for the six commands ZooKeeper
 * 3.8.0 constructs with `false`.  ZooKeeper's MonitorCommand is one of
 * them, and on a member that is not serving it dereferences the null
 * server: Jetty answers 500 with a NullPointerException page.  paddock
 * answers it as a command that needs the server instead. */
static bool server_required(const char *cmd)
{
	static const char *const free_cmds[] = {
	    "environment",	 "get_trace_mask", "set_trace_mask",
	    "system_properties", "zabstate",	   NULL};
	for (int i = 0; free_cmds[i]; i++)
		if (!strcmp(free_cmds[i], cmd))
			return false;
	return true;
}

char *dp_admin_command(struct dp_server *d, const char *name,
		       const char *arg)
{
	const char *cmd = primary(name);
	json_t *r = json_object();
	char msg[300];
	const char *err = NULL;
	bool as_named = !cmd;
	if (!cmd) {
		snprintf(msg, sizeof(msg), "Unknown command: %.200s", name);
		err = msg;
	} else if (server_required(cmd) && !zab_seq_mode(d->seq)) {
		/* Commands.runCommand: new CommandResponse(cmdName, ...),
		 * with the name as asked ("srvr"), no other key */
		err = "This ZooKeeper instance is not currently serving "
		      "requests";
		as_named = true;
	} else {
		err = run(d, cmd, arg, r, msg, sizeof(msg));
	}
	json_object_set_new(r, "command",
			    !as_named ? json_string(cmd)
				      : jtext(name, strlen(name)));
	json_object_set_new(r, "error",
			    err ? jtext(err, strlen(err)) : json_null());
	char *text = json_dumps(r, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(r);
	return text;
}

/* ---- Prometheus ------------------------------------------------------- */

struct prom_sink {
	struct dp_msink s;
	FILE *f;
	char family[96]; /* the last sample's name without its labels */
};

static void prom_put(struct dp_msink *s, const char *key, enum dp_mkind k,
		     int64_t i, double v, const char *str)
{
	FILE *f = ((struct prom_sink *)s)->f;
	if (k == DP_M_STR)
		return; /* version, server_state: not metrics */
	if (!strncmp(key, "zk_", 3))
		key += 3;
	/* one HELP and TYPE per family: name{label="..."} samples follow
	 * their first one */
	struct prom_sink *ps = (struct prom_sink *)s;
	size_t n = strcspn(key, "{");
	if (strlen(ps->family) != n || strncmp(ps->family, key, n)) {
		snprintf(ps->family, sizeof(ps->family), "%.*s", (int)n, key);
		fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", ps->family,
			ps->family, ps->family,
			k == DP_M_COUNTER ? "counter" : "gauge");
	}
	if (k == DP_M_DOUBLE)
		fprintf(f, "%s %.17g\n", key, v);
	else
		fprintf(f, "%s %lld\n", key, (long long)i);
}

/* ZooKeeper's ADVANCED summaries in Prometheus (PrometheusMetricsProvider
 * .PrometheusSummary: the Java client's Summary with quantiles 0.5, 0.9
 * and 0.99): each quantile over the client's time window (hist.c), NaN
 * when the window holds no sample (CKMSQuantiles.get); _count and _sum
 * since start; in ms.  A SummarySet's summary comes as
 * name{key="..."} (PrometheusLabelledSummary): one HELP and TYPE for
 * the family, its label ahead of quantile's, as the client prints them. */
static void prom_summary(struct dp_msink *s, const char *name,
			 const struct dp_summary *all,
			 const struct dp_summary *window)
{
	struct prom_sink *ps = (struct prom_sink *)s;
	FILE *f = ps->f;
	int n = (int)strcspn(name, "{");
	char lab[64] = ""; /* `key="1",` */
	if (name[n]) {
		snprintf(lab, sizeof(lab), "%s", name + n + 1);
		size_t l = strcspn(lab, "}");
		if (l + 1 < sizeof(lab)) {
			lab[l] = ',';
			lab[l + 1] = 0;
		}
	}
	if (!name[n] || strlen(ps->family) != (size_t)n ||
	    strncmp(ps->family, name, (size_t)n))
		fprintf(f, "# HELP %.*s %.*s\n# TYPE %.*s summary\n", n, name,
			n, name, n, name);
	/* a labelled family goes on over its keys; a plain one ends here */
	snprintf(ps->family, sizeof(ps->family), "%.*s", name[n] ? n : 0,
		 name);
	static const char *const q[] = {"0.5", "0.9", "0.99"};
	for (int i = 0; i < 3; i++) {
		if (!window->n)
			fprintf(f, "%.*s{%squantile=\"%s\",} NaN\n", n, name,
				lab, q[i]);
		else
			fprintf(f, "%.*s{%squantile=\"%s\",} %.3f\n", n, name,
				lab, q[i],
				(double)dp_summary_quantile(
					window, strtod(q[i], NULL)) /
					1000.0);
	}
	if (lab[0])
		fprintf(f, "%.*s_count{%s} %lld\n%.*s_sum{%s} %.3f\n", n, name,
			lab, (long long)all->n, n, name, lab,
			(double)all->sum / 1000.0);
	else
		fprintf(f, "%s_count %lld\n%s_sum %.3f\n", name,
			(long long)all->n, name, (double)all->sum / 1000.0);
}

/* An AvgMinMaxCounter (a BASIC summary: PrometheusSummary with only
 * .quantile(0.5, 0.05)): the 0.5 quantile over the same time window as
 * prom_summary's, NaN when the window is empty, then _count and _sum
 * since start, in the counter's own unit (ms, or a count), as
 * Summary.observe(delta) took the values ZooKeeper adds.  The quantile
 * is read from a zk_hist (the middle of its bucket, within the values'
 * min and max: within 25 %, where CKMS keeps 5 % of rank), printed as
 * Java prints a double that is a whole number ("3.0"). */
static void prom_amm(struct dp_msink *s, const char *name,
		     const struct zk_amm *v, const struct dp_summary *window)
{
	FILE *f = ((struct prom_sink *)s)->f;
	((struct prom_sink *)s)->family[0] = 0;
	fprintf(f, "# HELP %s %s\n# TYPE %s summary\n", name, name, name);
	if (!window->n)
		fprintf(f, "%s{quantile=\"0.5\",} NaN\n", name);
	else
		fprintf(f, "%s{quantile=\"0.5\",} %.1f\n", name,
			(double)dp_summary_quantile(window, 0.5));
	fprintf(f, "%s_count %lld\n%s_sum %lld\n", name, (long long)v->cnt,
		name, (long long)v->sum);
}

char *dp_metrics_text(struct dp_server *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	struct prom_sink s = {{prom_put, prom_summary, prom_amm}, f, ""};
	metrics(d, &s.s);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}
