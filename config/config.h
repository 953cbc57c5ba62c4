/*
 * config.h — zoo.cfg parsing (Apache ZooKeeper's QuorumPeerConfig /
 * ServerConfig key set).
 *
 * paddockd accepts an unmodified ZooKeeper zoo.cfg.  Keys paddock uses are
 * parsed and range-checked; every other key ZooKeeper knows is accepted
 * with one warning line on stderr; an unknown key is also only a warning
 * (ZooKeeper puts unknown keys into system properties).  Malformed lines
 * and bad values are errors naming the file and line.
 */
#ifndef PADDOCK_CONFIG_H
#define PADDOCK_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZCFG_MAX_SERVERS 32
#define ZCFG_AUTH_NONE 0
#define ZCFG_AUTH_WANT 1
#define ZCFG_AUTH_NEED 2
#define ZCFG_MAX_WORKERS 64     /* paddock.workers limit, <= ZAB_MAX_WORKERS */

struct zcfg_server {
	int id;                 /* server.N */
	char host[256];
	int quorum_port;        /* first port  */
	int election_port;      /* second port */
	bool observer;          /* ":observer" role */
	char client_addr[256];  /* optional ";[addr:]port" part, "" if none */
	int client_port;        /* 0 if none */
};

struct zcfg {
	int tick_time;                  /* ms, default 2000 */
	char data_dir[PATH_MAX];        /* default "./data" */
	char data_log_dir[PATH_MAX];    /* default = data_dir */
	int client_port;                /* default 2181; 0 when a file sets no
					   clientPort but server.N lines carry
					   client ports (use this server's) */
	char client_port_address[256];  /* default "127.0.0.1" when no
					   config file, else "0.0.0.0" */
	int max_client_cnxns;           /* per IP, default 60, 0 = no limit */
	int min_session_timeout;        /* ms, default 2 * tick_time */
	int max_session_timeout;        /* ms, default 20 * tick_time */
	char four_lw_whitelist[1024];   /* default "srvr", "*" = all */
	int init_limit;                 /* default 10 */
	int sync_limit;                 /* default 5 */
	int64_t snap_count;             /* default 100000 */
	int64_t prealloc_size;          /* bytes, default 64 MiB
					   (preAllocSize is in KiB) */
	int32_t jute_maxbuffer;         /* default 0xfffff */
	bool force_sync;                /* forceSync=yes|no, default yes */
	char super_digest[512];         /* "super:<base64 sha1>" or "" */
	int snap_retain_count;          /* autopurge.snapRetainCount, def 3 */
	int purge_interval;             /* autopurge.purgeInterval h, def 0 */
	int workers;                    /* paddock.workers, default
					   max(1, ncores - 1), at most
					   ZCFG_MAX_WORKERS */
	int container_check_interval_ms; /* znode.container.checkIntervalMs
					   (a JVM property in ZooKeeper),
					   default 60000 */
	/* Flow control, with ZooKeeper's names: JVM properties
	 * "zookeeper.<key>" there, which a zoo.cfg line "<key>=..." sets */
	int global_outstanding_limit;   /* globalOutstandingLimit, def 1000 */
	int conn_outstanding_limit;     /* paddock.maxOutstandingPerConnection,
					   0 (default) = globalOutstandingLimit */
	int max_cnxns;                  /* maxCnxns, 0 = no limit */
	int request_throttle_max;       /* request_throttle_max_requests,
					   0 = off */
	int request_throttle_stall_ms;  /* request_throttle_stall_time,
					   default 100 */
	int conn_throttle_tokens;       /* connection_throttle_tokens, 0 =
					   off */
	int conn_throttle_fill_ms;      /* connection_throttle_fill_time,
					   default 1 */
	int conn_throttle_fill_count;   /* connection_throttle_fill_count,
					   default 1 */
	bool standalone_enabled;        /* default true */
	bool reconfig_enabled;          /* reconfigEnabled, default false */
	bool enforce_quota;             /* enforceQuota (zookeeper.
					   enforceQuota), default false */
	int finalize_wait_ms;           /* paddock.finalizeWait: how long an
					   election waits for a better vote
					   once a quorum agrees (ZooKeeper's
					   FastLeaderElection.finalizeWait,
					   fixed at 200 there), default 20;
					   also the first notification
					   resend interval, as there */
	int commit_log_count;           /* commitLogCount (zookeeper.
					   commitLogCount): committed txns a
					   leader keeps to sync a learner by
					   DIFF; further behind is a SNAP.
					   Default 100000 (ZooKeeper: 500,
					   then its txn log on disk) */
	bool read_only_mode;            /* readonlymode.enabled (a JVM
					   property in ZooKeeper), default
					   false */
	bool digest_enabled;            /* digest.enabled (zookeeper.digest.
					   enabled): an ensemble keeps
					   ZooKeeper's tree digest, puts it
					   in proposals and checks the
					   leader's; default true */
	bool peer_type_observer;        /* peerType=observer, default
					   participant */
	int peer_queue_mib;             /* paddock.peerQueueLimit: MiB of
					   unwritten packets a peer link may
					   hold before it is closed as too
					   slow, default 64 */
	bool cumulative_acks;           /* paddock.cumulativeAcks: one ACK
					   per durable log flush and one
					   COMMIT per commit pass between
					   paddock members, default true */
	/* The client port's dataplane (issue 15, dataplane/io_dpdk.c):
	 * paddock.dataplane=kernel (default) or dpdk.  In DPDK mode the
	 * server answers at paddock.dpdk.ip:clientPort on a DPDK port with
	 * its own TCP (net/), one RX/TX queue pair per worker. */
	bool dpdk;
	char dpdk_eal[1024];            /* paddock.dpdk.eal: EAL arguments,
					   space-separated */
	int dpdk_port;                  /* paddock.dpdk.port, default 0 */
	uint32_t dpdk_ip;               /* paddock.dpdk.ip (host order),
					   required in DPDK mode */
	uint32_t dpdk_netmask;          /* paddock.dpdk.netmask, default
					   255.255.255.0 */
	uint32_t dpdk_gateway;          /* paddock.dpdk.gateway, default
					   none */
	int dpdk_mbufs;                 /* paddock.dpdk.mbufs, default 8191 */
	int dpdk_conns;                 /* paddock.dpdk.maxConns: TCP
					   connections per worker, default
					   4096 */
	int dpdk_buf_kib;               /* paddock.dpdk.socketBufferKiB: each
					   connection's send and receive
					   ring, default 64 */
	bool dpdk_busy_poll;            /* paddock.dpdk.busyPoll, default
					   true; false: an idle worker sleeps
					   up to 1 ms between polls */
	/* paddock.dpdk.impair=loss=P,dup=P,reorder=P,delay=MS,jitter=MS,
	 * seed=N: a lossy link emulated at the DPDK port, for tests (tc
	 * netem's job, where the kernel has none); percentages per frame,
	 * loss and dup both ways, reorder/delay/jitter on arrival.  All 0:
	 * off (the default). */
	int impair_loss_pm, impair_dup_pm, impair_reorder_pm; /* per mille */
	int impair_delay_ms, impair_jitter_ms;
	unsigned impair_seed;
	/* The AdminServer (admin/admin.h): HTTP JSON commands, as ZooKeeper
	 * 3.8's Jetty AdminServer (admin.* keys, zookeeper.admin.* JVM
	 * properties there). */
	bool admin_enabled;             /* admin.enableServer, default true */
	char admin_address[256];        /* admin.serverAddress, default
					   "0.0.0.0" ("127.0.0.1" when no
					   config file) */
	int admin_port;                 /* admin.serverPort, default 8080 */
	char admin_url[128];            /* admin.commandURL, default
					   "/commands" */
	/* metricsProvider.className=...PrometheusMetricsProvider turns on
	 * /metrics at metricsProvider.httpHost:httpPort (0.0.0.0:7000) */
	bool prometheus;
	char metrics_host[256];
	int metrics_port;
	/* TLS on the client port, as ZooKeeper configures it (its
	 * X509Util: "ssl.*" keys, or "zookeeper.ssl.*"): a second listener
	 * on secureClientPort (0: none).  Key and trust stores are PEM files
	 * (ssl.keyStore.type=PEM, ZooKeeper 3.8's PEM support) or PKCS12;
	 * JKS is Java's own format and refused with advice. */
	int secure_client_port;
	char secure_client_addr[256];   /* default: clientPortAddress */
	char ssl_key_store[PATH_MAX];
	char ssl_key_store_password[256];
	char ssl_key_store_type[16];    /* "" = by extension, PEM, PKCS12 */
	char ssl_trust_store[PATH_MAX];
	char ssl_trust_store_password[256];
	char ssl_trust_store_type[16];
	int ssl_client_auth;            /* ssl.clientAuth: ZCFG_AUTH_*,
					   default need, as ZooKeeper */
	char ssl_protocols[128];        /* ssl.enabledProtocols, or
					   ssl.protocol and above; "" =
					   TLSv1.2 and TLSv1.3 */
	char ssl_ciphers[1024];         /* ssl.ciphersuites (OpenSSL names
					   or IANA TLS_* names), "" =
					   OpenSSL's defaults */
	bool sasl_auth;                 /* authProvider.N=...SASL-
					   AuthenticationProvider: SASL
					   DIGEST-MD5 logins (sasl_int.h) */
	char jaas_config[PATH_MAX];     /* java.security.auth.login.config:
					   the JAAS file with the users */
	bool x509_auth;                 /* authProvider.N=...X509-
					   AuthenticationProvider: a client
					   certificate's subject is the
					   connection's "x509" id */
	int n_servers;
	struct zcfg_server servers[ZCFG_MAX_SERVERS];
	char path[PATH_MAX];            /* the file loaded, "" for defaults */
};

/* Fill with the defaults of a standalone server with no config file. */
void zcfg_defaults(struct zcfg *c);

/*
 * Load `path` over the defaults (zcfg_load calls zcfg_defaults itself).
 * Returns 0, or -1 with a message such as
 * "zoo.cfg:12: clientPort: not a port number: 'abc'" in err (the path is
 * printed as given; checks over the whole file print "zoo.cfg: ...").
 * On -1 *c is left unchanged.  Warnings for accepted-but-unused keys go
 * to `warn` (one line each, may be NULL), as do ZooKeeper's own warnings
 * (snapCount < 2, autopurge.snapRetainCount < 3, even ensembles, a key
 * given twice).  Any thread; no global state.
 */
int zcfg_load(struct zcfg *c, const char *path, char *err, size_t err_len,
	      void (*warn)(const char *line));

/* Is the four-letter word `cmd` (e.g. "ruok") allowed by the whitelist?
 * "*" allows all; ZooKeeper always allows "srvr"-whitelisted defaults. */
bool zcfg_4lw_allowed(const struct zcfg *c, const char *cmd);

#endif
