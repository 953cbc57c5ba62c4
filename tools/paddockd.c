/*
 * paddockd — the paddock server.
 *
 *   paddockd [zoo.cfg]
 *
 * With no argument: a standalone server on 127.0.0.1:2181 with data
 * under ./data.  With a file: an unmodified Apache ZooKeeper zoo.cfg.
 * Runs until SIGINT or SIGTERM.
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <urcu-qsbr.h>

#include "admin/admin.h"
#include "config/config.h"
#include "consensus/consensus.h"
#include "dataplane/dataplane.h"
#include "log/log.h"
#include "tree/tree.h"

static void warn_line(const char *line)
{
	fprintf(stderr, "paddockd: warning: %s\n", line);
}

static int mkdirs(const char *path)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0755) && errno != EEXIST)
		return -1;
	return 0;
}

/* Stop and free what was made (any of them may be NULL), also when
 * paddockd refuses to start, so sanitizer builds report no leaks then. */
static int teardown(struct tree *tree, struct zab_seq *seq, struct zlog *log,
		    struct dp_server *dp, struct admin *adm, int rc)
{
	rcu_thread_offline();
	admin_stop(adm);
	if (dp)
		dp_server_stop(dp);
	if (seq)
		zab_seq_stop(seq);
	zlog_close(log);
	dp_server_destroy(dp);
	zab_seq_destroy(seq);
	rcu_thread_online();
	rcu_barrier();
	tree_destroy(tree);
	rcu_unregister_thread();
	return rc;
}

_Static_assert(ZCFG_MAX_WORKERS <= ZAB_MAX_WORKERS,
	       "paddock.workers must fit the sequencer's ring table");

/* Ensemble: a learner whose log the leader truncated starts over, its
 * recovery rebuilding the state from what is left on disk. */
static char **saved_argv;

static void restart_self(void)
{
	fflush(NULL);
	execv("/proc/self/exe", saved_argv);
	fprintf(stderr, "paddockd: cannot restart: %s\n", strerror(errno));
	_exit(1);
}

/* dataDir/myid, as QuorumPeerConfig reads it: a number, the id of one
 * of the server.N lines. */
static int read_myid(const char *dir, int64_t *out, char *err, size_t len)
{
	char path[PATH_MAX + 16], buf[64];
	snprintf(path, sizeof(path), "%s/myid", dir);
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, len, "%.900s: %s (an ensemble member needs its id "
				   "there)", path, strerror(errno));
		return -1;
	}
	char *line = fgets(buf, sizeof(buf), f);
	fclose(f);
	char *end;
	long long v = line ? strtoll(line, &end, 10) : 0;
	if (!line || end == line || v <= 0 || v > 255) {
		snprintf(err, len, "%.900s: not a server id (1..255)", path);
		return -1;
	}
	*out = v;
	return 0;
}

/* The ensemble from server.N lines and myid; this server's client port
 * may come from its own line. */
static int ensemble_config(struct zcfg *cfg, struct zab_ens_config *e,
			   char *err, size_t len)
{
	static char qv[4096];
	size_t ql = 0;
	memset(e, 0, sizeof(*e));
	if (read_myid(cfg->data_dir, &e->myid, err, len))
		return -1;
	int self = -1;
	for (int i = 0; i < cfg->n_servers && i < 32; i++) {
		const struct zcfg_server *sv = &cfg->servers[i];
		struct zab_ens_member *m = &e->m[e->n++];
		m->sid = sv->id;
		snprintf(m->host, sizeof(m->host), "%s", sv->host);
		m->quorum_port = sv->quorum_port;
		m->election_port = sv->election_port;
		m->observer = sv->observer;
		if (sv->id == e->myid)
			self = i;
		/* QuorumMaj.toString, as /zookeeper/config shows it */
		int w = snprintf(qv + ql, sizeof(qv) - ql,
				 "server.%d=%s:%d:%d:%s", sv->id, sv->host,
				 sv->quorum_port, sv->election_port,
				 sv->observer ? "observer" : "participant");
		if (w > 0 && (size_t)w < sizeof(qv) - ql)
			ql += (size_t)w;
		if (sv->client_port && ql < sizeof(qv)) {
			w = snprintf(qv + ql, sizeof(qv) - ql, ";%s:%d",
				     sv->client_addr[0] ? sv->client_addr
							: "0.0.0.0",
				     sv->client_port);
			if (w > 0 && (size_t)w < sizeof(qv) - ql)
				ql += (size_t)w;
		}
		if (ql < sizeof(qv) - 1)
			qv[ql++] = '\n';
	}
	snprintf(qv + ql, sizeof(qv) - ql, "version=0");
	if (self < 0) {
		snprintf(err, len, "myid %lld is not one of the server.N lines",
			 (long long)e->myid);
		return -1;
	}
	if (cfg->peer_type_observer != cfg->servers[self].observer) {
		snprintf(err, len, "peerType and server.%lld's role disagree",
			 (long long)e->myid);
		return -1;
	}
	if (!cfg->client_port)
		cfg->client_port = cfg->servers[self].client_port;
	e->init_limit = cfg->init_limit;
	e->sync_limit = cfg->sync_limit;
	e->finalize_wait_ms = cfg->finalize_wait_ms;
	e->commit_log_count = cfg->commit_log_count;
	e->cumulative_acks = cfg->cumulative_acks;
	e->peer_queue = (size_t)cfg->peer_queue_mib << 20;
	e->read_only = cfg->read_only_mode;
	e->digest = cfg->digest_enabled;
	e->qv = qv;
	return 0;
}

int main(int argc, char **argv)
{
	static struct zcfg cfg;
	char err[1024];
	if (argc > 2 || (argc == 2 && (!strcmp(argv[1], "-h") ||
				       !strcmp(argv[1], "--help")))) {
		fprintf(stderr, "usage: %s [zoo.cfg]\n", argv[0]);
		return 2;
	}
	/* glibc raises its mmap and trim thresholds each time a big block
	 * is freed, after which big blocks (a snapshot's path stack, the
	 * tree's slab chunks) come from the heaps and stay resident after
	 * free: ~10 MB more RSS per million znodes.  Fixed thresholds keep
	 * big blocks mmap'ed and returned when freed. */
	saved_argv = argv;
	/* From the start: a SIGTERM while paddockd starts waits for sigwait
	 * below and ends it cleanly (exit 0), as one once it serves does */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
	zcfg_defaults(&cfg);
	if (argc == 2 && zcfg_load(&cfg, argv[1], err, sizeof(err),
				   warn_line)) {
		fprintf(stderr, "paddockd: %s\n", err);
		return 1;
	}
	if (mkdirs(cfg.data_dir) || mkdirs(cfg.data_log_dir)) {
		fprintf(stderr, "paddockd: cannot create %s: %s\n",
			cfg.data_dir, strerror(errno));
		return 1;
	}
	/* server.N lines make an ensemble (QuorumPeerConfig: one line with
	 * standaloneEnabled=false too) */
	static struct zab_ens_config ens;
	bool ensemble = cfg.n_servers > 1 ||
			(cfg.n_servers == 1 && !cfg.standalone_enabled);
	if (ensemble && ensemble_config(&cfg, &ens, err, sizeof(err))) {
		fprintf(stderr, "paddockd: %s\n", err);
		return 1;
	}
	if (cfg.client_port <= 0) {
		fprintf(stderr, "paddockd: %s: no clientPort for this server\n",
			argc == 2 ? argv[1] : "defaults");
		return 1;
	}

	/* One server per data directory: a second one would replay and
	 * truncate the first one's log under it. */
	char lock_path[PATH_MAX + 32];
	snprintf(lock_path, sizeof(lock_path), "%s/paddockd.lock",
		 cfg.data_log_dir);
	int lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB)) {
		fprintf(stderr, "paddockd: %s: %s\n", lock_path,
			errno == EWOULDBLOCK
				? "in use by another paddockd"
				: strerror(errno));
		return 1;
	}

	/* The tree's hash table must be built by a registered RCU thread;
	 * main then stays offline (it never reads the tree). */
	rcu_register_thread();
	struct tree *tree = tree_create();
	if (!tree) {
		fprintf(stderr, "paddockd: out of memory\n");
		return 1;
	}
	struct zab_seq_config sc = {
		.tree = tree,
		.n_workers = cfg.workers,
		.tick_time = cfg.tick_time,
		.min_session_timeout = cfg.min_session_timeout,
		.max_session_timeout = cfg.max_session_timeout,
		.server_id = ensemble ? ens.myid : 0,
		.ensemble = ensemble ? &ens : NULL,
		.restart = restart_self,
		.container_interval_ms = cfg.container_check_interval_ms,
		.snap_dir = cfg.data_dir,
		.log_dir = cfg.data_log_dir,
		.snap_count = cfg.snap_count,
		.snap_retain_count = cfg.snap_retain_count,
		.purge_interval_ms = (int64_t)cfg.purge_interval * 3600 * 1000,
		.max_requests = cfg.request_throttle_max,
		.stall_ms = cfg.request_throttle_stall_ms,
		.enforce_quota = cfg.enforce_quota,
		.reconfig_enabled = cfg.reconfig_enabled,
		.x509 = cfg.x509_auth,
		.sasl = cfg.sasl_auth,
	};
	struct zab_seq *seq = zab_seq_create(&sc);
	if (!seq) {
		fprintf(stderr, "paddockd: sequencer: %s\n", strerror(errno));
		return teardown(tree, NULL, NULL, NULL, NULL, 1);
	}
	if (zab_seq_recover(seq, err, sizeof(err))) {
		fprintf(stderr, "paddockd: recovery failed: %s\n", err);
		return teardown(tree, seq, NULL, NULL, NULL, 1);
	}
	fprintf(stderr, "paddockd: recovered to zxid 0x%llx (%llu znodes)\n",
		(unsigned long long)zab_seq_last_zxid(seq),
		(unsigned long long)tree_node_count(tree));
	struct zlog_config lc = {
		.log_dir = cfg.data_log_dir,
		.snap_dir = cfg.data_dir,
		.prealloc_size = cfg.prealloc_size,
		.force_sync = cfg.force_sync,
	};
	struct zlog *log = zlog_open(&lc, zab_seq_last_zxid(seq), err,
				     sizeof(err));
	if (!log) {
		fprintf(stderr, "paddockd: log: %s\n", err);
		return teardown(tree, seq, NULL, NULL, NULL, 1);
	}
	zab_seq_set_log(seq, log);
	struct dp_server *dp = dp_server_create(&cfg, tree, seq, err,
						sizeof(err));
	if (!dp) {
		fprintf(stderr, "paddockd: %s\n", err);
		return teardown(tree, seq, log, NULL, NULL, 1);
	}
	if (zab_seq_start(seq) || dp_server_start(dp)) {
		fprintf(stderr, "paddockd: cannot start threads\n");
		return 1;
	}
	/* ZooKeeperServerMain exits when its AdminServer cannot start */
	struct admin *adm = admin_start(&cfg, dp, err, sizeof(err));
	if (!adm) {
		fprintf(stderr, "paddockd: %s\n", err);
		return teardown(tree, seq, log, dp, NULL, 1);
	}
	char at[sizeof(cfg.client_port_address) + 32];
	if (cfg.dpdk) /* the DPDK port's own address (io_dpdk.c) */
		snprintf(at, sizeof(at), "%u.%u.%u.%u (DPDK port %d)",
			 cfg.dpdk_ip >> 24, (cfg.dpdk_ip >> 16) & 255,
			 (cfg.dpdk_ip >> 8) & 255, cfg.dpdk_ip & 255,
			 cfg.dpdk_port);
	else
		snprintf(at, sizeof(at), "%s",
			 cfg.client_port_address[0] ? cfg.client_port_address
						    : "*");
	fprintf(stderr,
		"paddockd: serving on %s:%d (%d worker%s), dataDir %s\n", at,
		cfg.client_port, cfg.workers, cfg.workers == 1 ? "" : "s",
		cfg.data_dir);
	/* Type=notify (debian/paddock.service): serving now; a no-op when
	 * not started by systemd (no $NOTIFY_SOCKET) */
	sd_notify(0, "READY=1");

	rcu_thread_offline();
	sigdelset(&set, SIGPIPE);
	int sig = 0;
	sigwait(&set, &sig);
	fprintf(stderr, "paddockd: signal %d, shutting down\n", sig);
	sd_notify(0, "STOPPING=1");
	rcu_thread_online();
	return teardown(tree, seq, log, dp, adm, 0);
}
