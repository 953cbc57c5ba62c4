/*
 * dataplane_int.h — worker and connection state shared by worker.c and
 * fourlw.c.  The backend (backend_int.h, io_tcp.c) does not include it:
 * it sees a connection only as its struct dp_link.
 *
 * Owned by one worker thread; four-letter words read other workers'
 * counters and connection slots racily (statistics only).
 */
#ifndef PADDOCK_DATAPLANE_INT_H
#define PADDOCK_DATAPLANE_INT_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/uio.h>

#include "dataplane/backend_int.h"
#include "dataplane/dataplane.h"
#include "dataplane/watch_int.h"
#include "tree/jute.h"

#define DP_MAX_AUTH 8
#define DP_MAX_CONNS 65536 /* per worker */

enum conn_state {
	CS_FREE = 0,
	CS_NEW,       /* waiting for ConnectRequest (or a 4lw) */
	CS_SESSION,   /* ConnectRequest sent to the sequencer */
	CS_OPEN,
	CS_CLOSING,   /* flush output, then close */
};

struct dp_conn {
	enum conn_state state;
	struct dp_link link; /* the backend's part; token (gen << 32) | slot */
	uint32_t slot, gen;
	char ip[INET6_ADDRSTRLEN];
	int port;
	int64_t session;
	int32_t timeout;
	bool readonly_sent; /* client sent the readOnly byte */
	bool dirty;         /* on the flush list */
	bool want_write;    /* write interest on (output waits) */
	/* Flow control (worker.c): a complete frame in `in` that cannot be
	 * handled yet stops parsing (blocked); a blocked connection's link
	 * is read only while `in` holds less than IN_HIGH bytes (no_read:
	 * read interest is off). */
	uint8_t blocked;    /* enum block_why, 0 = parsing */
	bool no_read;
	bool runnable;      /* on the worker's run list */
	int64_t progress_ms; /* last time output moved (while blocked) */
	bool touched;       /* activity since last touch batch */
	int inflight;       /* requests at the sequencer */
	int64_t inflight_bytes;
	struct jw in;
	size_t in_off;
	struct jw out;
	size_t out_off;
	int64_t out_acct; /* out_pending() as counted in dp_worker.out_bytes */
	struct zauth_id auth[DP_MAX_AUTH];
	int nauth;
	struct wt_owner watches;
	/* statistics (cons) */
	_Atomic int64_t recv, sent;
	int64_t established_ms;
	int64_t last_zxid;
	int32_t last_op;
	int64_t lat_min, lat_max, lat_sum, lat_n;
};

struct dp_server;

struct dp_worker {
	struct dp_server *srv;
	int idx;
	pthread_t thread;
	const struct dp_backend_ops *io; /* chosen at dp_server_create */
	struct dp_backend *be;
	struct dp_conn **conns;
	uint32_t nconns, capconns;
	uint32_t *free_slots;
	uint32_t nfree;
	struct dp_conn **dirty;
	uint32_t ndirty, capdirty;
	struct wt *watches;
	bool watching; /* told the sequencer (zab_watching) */
	int64_t unwatched_ms; /* since when no watch is set, -1: some are */
	zxid_t seen; /* every event up to here delivered */
	struct zmsg **mq; /* messages dequeued but not yet processed */
	struct zmsg_list post; /* to the sequencer, sent by post_flush */
	bool post_full; /* the ring did not take all of `post` */
	struct dp_conn **run; /* connections to parse again (run_ready) */
	uint32_t nrun, caprun;
	/* flow control: requests at the sequencer (every connection's
	 * inflight, also of closed ones until their replies came); unsent
	 * reply bytes; the other workers' outstanding, read once per loop
	 * pass */
	_Atomic int64_t outstanding;
	int64_t out_bytes;
	int64_t others;
	unsigned mq_head, mq_n, mq_cap;
	struct jw scratch;
	struct zorder_buf zorder; /* getChildren's sort (znode_children_zk) */
	int64_t next_touch;
	int64_t listen_until; /* listener off until then (conn_token) */
	int64_t now_ms; /* at the start of the loop pass */
	int64_t rx_us;	/* monotonic, when the frames being parsed were read */
	int64_t mq_us;	/* monotonic, when the messages in mq were dequeued */
	/* statistics */
	_Atomic int64_t packets_recv, packets_sent, nconn_open;
	_Atomic int64_t throttled_ops; /* frames held back by a limit */
	_Atomic int64_t cnxn_rejected; /* maxCnxns, maxClientCnxns */
	_Atomic int64_t sessionless_expired; /* closed without a session */
	_Atomic int64_t lat_min, lat_max, lat_sum, lat_n;
	char pad[64];
};

struct dp_server {
	const struct zcfg *cfg;
	struct tree *tree;
	struct zab_seq *seq;
	int n;
	struct dp_worker *w;
	_Atomic int running;
	int64_t start_ms;
	pthread_mutex_t ip_lock;
	struct ipcount *ips;
	_Atomic int nconns; /* open client connections, for maxCnxns */
	/* connection-rate throttle (BlueThrottle's token bucket), ip_lock */
	int64_t tokens;
	int64_t fill_ms;
};

/* Outstanding requests of the whole server (what globalOutstandingLimit
 * limits), read racily from every worker's counter.  Any thread. */
int64_t dp_outstanding(const struct dp_server *d);

/* fourlw.c: answer the four-letter word `cmd` (dp_4lw_known) into `out`
 * and return true (the caller closes after sending); false for "dump",
 * whose session part the sequencer writes (then call each_conn_dump). */
bool dp_4lw(struct dp_worker *w, const uint8_t cmd[4], struct jw *out);
/* The "Connections dump" tail of "dump", appended to c's output. */
void each_conn_dump(struct dp_worker *w, struct dp_conn *c);
bool dp_4lw_known(const uint8_t cmd[4]);

#endif
