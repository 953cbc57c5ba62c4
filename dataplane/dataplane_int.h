/*
 * dataplane_int.h — worker and connection state shared by the protocol
 * side of the dataplane: worker.c (the loop and the connection table),
 * jute.c (framing, flow control, output), proto.c (requests, replies,
 * sequencer messages) and fourlw.c.  The backend (backend_int.h, io_tcp.c)
 * does not include it: it sees a connection only as its struct dp_link.
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
	/* Flow control (jute.c): a complete frame in `in` that cannot be
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
	struct dp_sasl *sasl; /* a SASL login under way (sasl_int.h) */
	/* statistics (cons) */
	_Atomic int64_t recv, sent;
	int64_t established_ms;
	int64_t last_zxid;
	int32_t last_op;
	int32_t last_cxid;
	int64_t last_resp_ms; /* monotonic */
	int64_t last_lat_us;
	int64_t lat_min, lat_max, lat_sum, lat_n;
};

/* The workers' request latency histograms (tree.h, struct zk_hist), by
 * kind: ZooKeeper's readlatency and updatelatency summaries. */
enum { DP_LAT_READ, DP_LAT_UPDATE, DP_LAT_KINDS };

#define DP_RLX memory_order_relaxed

/* ZooKeeper's ServerStats request latency (srvr's and mntr's
 * min/avg/max latency), every request, µs: apart from the summaries
 * because srst resets it even where it leaves them (the Prometheus
 * provider).  The owning worker writes, any thread reads racily. */
struct dp_lat {
	_Atomic int64_t n, sum, min, max;
};

static inline void dp_lat_add(struct dp_lat *l, int64_t us, int64_t n)
{
	atomic_store_explicit(&l->n, atomic_load_explicit(&l->n, DP_RLX) + n,
			      DP_RLX);
	atomic_store_explicit(&l->sum,
			      atomic_load_explicit(&l->sum, DP_RLX) + us * n,
			      DP_RLX);
	if (us < atomic_load_explicit(&l->min, DP_RLX))
		atomic_store_explicit(&l->min, us, DP_RLX);
	if (us > atomic_load_explicit(&l->max, DP_RLX))
		atomic_store_explicit(&l->max, us, DP_RLX);
}

struct dp_server;

/* Watch event types with a watcher-count summary: ZEV_CREATED (1) to
 * ZEV_CHILD_CHANGED (4) */
#define DP_WATCH_EVENTS 4

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
	struct zk_hist lat[DP_LAT_KINDS]; /* request latency, by kind */
	struct dp_lat srv_lat; /* every request's (ServerStats) */
	int64_t burst_reads; /* reads answered in this parse_frames pass */
	_Atomic int64_t throttled_ops; /* frames held back by a limit */
	_Atomic int64_t cnxn_rejected; /* maxCnxns, maxClientCnxns */
	_Atomic int64_t sessionless_expired; /* closed without a session */
	/* reply sizes without the length prefix (ServerStats' client
	 * response stats), failed authentications */
	_Atomic int64_t resp_last, resp_min, resp_max;
	_Atomic int64_t auth_failed;
	/* ServerMetrics' byte and connection counters: bytes read from
	 * clients, reply and watch event bytes queued (with their length
	 * prefixes), connections accepted, connections that ended by the
	 * client going (end of stream, reset) */
	_Atomic int64_t bytes_in, resp_bytes, watch_bytes;
	_Atomic int64_t conn_requests, conn_drops;
	/* replies (and watch events) for a connection gone meanwhile */
	_Atomic int64_t stale_replies;
	/* ServerMetrics' NODE_CREATED/DELETED/CHANGED/CHILDREN_WATCHER, by
	 * event type less ZEV_CREATED: one sample per watch table an event
	 * fires that reaches some of this worker's connections, of how many
	 * it reached (proto.c's count_watchers).  mntr sums the workers':
	 * an event reaching watchers on k workers is k samples, where
	 * ZooKeeper has one of their total (README, mntr).  The owner
	 * writes (zk_basic_add, zk_basic_reset), any thread reads racily;
	 * the histograms' periods are the latency ones'. */
	struct zk_basic watchers[DP_WATCH_EVENTS];
	/* a question from another thread (dp_ask), answered in the loop */
	struct zab_ask *_Atomic query;
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
	/* Prometheus' summary window: max age and ZK_HIST_SLOTS periods
	 * (PADDOCK_SUMMARY_MAX_AGE_MS, default 600000) */
	int64_t win_ms;
	pthread_mutex_t ip_lock;
	struct ipcount *ips;
	_Atomic int nconns; /* open client connections, for maxCnxns */
	/* connection-rate throttle (BlueThrottle's token bucket), ip_lock */
	int64_t tokens;
	int64_t fill_ms;
};

/* Why a connection's next complete frame waits (dp_conn.blocked). */
enum block_why {
	BW_NONE = 0,
	BW_SESSION, /* ConnectRequest at the sequencer */
	BW_ORDER,   /* a read behind the connection's own writes */
	BW_LIMIT,   /* an outstanding-request limit or a full ring */
	BW_OUTPUT,  /* too many unsent replies */
};

/* Everything below: the worker's own thread only, unless said. */

/* ---- worker.c: the loop, connections, sequencer posts ---- */

/* Outstanding requests of the whole server (what globalOutstandingLimit
 * limits), read racily from every worker's counter.  Any thread. */
int64_t dp_outstanding(const struct dp_server *d);
/* Run fn(w, arg) on worker i's thread and wait for it.  From a worker,
 * self is that worker (fn runs at once if i is self; while it waits, self
 * answers the other workers' questions); from any other thread, NULL.  A
 * worker answers within one loop pass (it is woken if it sleeps); one
 * whose loop has ended is read here, on the caller's thread. */
void dp_ask(struct dp_server *d, struct dp_worker *self, int i,
	    void (*fn)(struct dp_worker *w, void *arg), void *arg);
/* dp_ask of every worker in turn, 0 first: fn(w, arg) runs once per
 * worker, never two at once.  Same threads as dp_ask. */
void dp_ask_all(struct dp_server *d, struct dp_worker *self,
		void (*fn)(struct dp_worker *w, void *arg), void *arg);
/* A line on stderr, "paddockd: " first. */
void dp_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Close c now (unsent output is dropped); `why` is logged unless NULL.
 * Tells the sequencer (ZM_DETACH) if c has a session.  c's slot may be
 * reused at once: callers check c->state == CS_FREE afterwards. */
void dp_conn_close(struct dp_worker *w, struct dp_conn *c, const char *why);
/* The open connection r names, or NULL (closed since). */
struct dp_conn *dp_conn_lookup(struct dp_worker *w, struct zconn_ref r);
/* Queue m (ownership passes) for the sequencer; they leave together at
 * dp_post_flush (end of a loop pass, or 64 queued). */
void dp_post(struct dp_worker *w, struct zmsg *m);
void dp_post_flush(struct dp_worker *w);

/* Only w's thread writes w->outstanding (no atomic read-modify-write
 * needed); other workers and four-letter words read it. */
static inline void dp_outstanding_add(struct dp_worker *w, int64_t d)
{
	atomic_store_explicit(&w->outstanding,
			      atomic_load_explicit(&w->outstanding,
						   memory_order_relaxed) + d,
			      memory_order_relaxed);
}

/* ---- jute.c: framing, flow control, batched output ---- */

static inline size_t dp_out_pending(const struct dp_conn *c)
{
	return c->out.len - c->out_off;
}

/* Keep w->out_bytes (the worker's unsent bytes) equal to the sum of its
 * connections' dp_out_pending(), after c's output grew or shrank. */
static inline void dp_out_account(struct dp_worker *w, struct dp_conn *c)
{
	int64_t now = (int64_t)dp_out_pending(c);
	w->out_bytes += now - c->out_acct;
	c->out_acct = now;
}

/* Every append to c->out ends here: c is sent at dp_flush_dirty. */
void dp_mark_dirty(struct dp_worker *w, struct dp_conn *c);
/* Start a reply frame (ReplyHeader xid, zxid, err) in o; *at for
 * jw_frame_end. */
void dp_reply_begin(struct jw *o, size_t *at, int32_t xid, int64_t zxid,
		    int32_t err);
/* Queue a whole reply: the header, then len bytes of body (may be NULL
 * when len is 0). */
void dp_send_frame(struct dp_worker *w, struct dp_conn *c, const void *body,
		   size_t len, int32_t xid, int64_t zxid, int32_t err);
/* c's next frame may be handled now: parse it again in this pass. */
void dp_wake_conn(struct dp_worker *w, struct dp_conn *c);
/* The backend says c is readable (or hung up): read it, within the
 * per-pass budget, and handle the frames that need not wait. */
void dp_conn_readable(struct dp_worker *w, struct dp_conn *c);
/* Parse again the connections dp_wake_conn named. */
void dp_run_ready(struct dp_worker *w);
/* Send every dirty connection's output, one batch each. */
void dp_flush_dirty(struct dp_worker *w);

/* ---- proto.c: requests, replies, sequencer messages ---- */

/* Whether op is answered on the worker (reads, watch operations, ping)
 * or goes to the sequencer (writes, sessions). */
bool dp_op_is_read(int op);
bool dp_op_is_write(int op);
/* Handle the first frame of a connection (a ConnectRequest), or one
 * request frame of an open connection that need not wait.  c may be
 * closed on return (c->state == CS_FREE). */
void dp_handle_connect(struct dp_worker *w, struct dp_conn *c,
		       const uint8_t *p, size_t len);
void dp_handle_request(struct dp_worker *w, struct dp_conn *c,
		       const uint8_t *p, size_t len);
/* n requests of c took us µs each; kind DP_LAT_READ or DP_LAT_UPDATE */
void dp_record_latency(struct dp_worker *w, struct dp_conn *c, int64_t us,
		       int64_t n, int kind);
/* Process sequencer messages whose zxid is <= upto (all if upto < 0). */
void dp_process_msgs(struct dp_worker *w, zxid_t upto);
/* Once a loop pass: stop the sequencer's events when no watch is left. */
void dp_watch_disarm_if_idle(struct dp_worker *w);
/* Add an authenticated id to c's set (ZooKeeper's authInfo order);
 * 0, or -1 if the set is full or memory is short. */
int dp_conn_add_auth(struct dp_conn *c, const char *scheme, const char *id,
		     size_t id_len);

/* ---- fourlw.c: four-letter words, and what the AdminServer shares ---- */

/* What four-letter words and the AdminServer say the server is */
#define ZK_COMPAT_VERSION                                                  \
	"3.8.0-paddock-" PADDOCK_VERSION ", built on " PADDOCK_BUILT_ON

/* Every worker's counters, summed (racily). */
struct dp_totals {
	int64_t recv, sent, conns;
	int64_t lat_n, lat_sum, lat_min, lat_max; /* µs sum; ms min, max */
	double lat_avg; /* ms */
	int64_t held, rejected, sessionless;
	int64_t resp_last, resp_min, resp_max, auth_failed;
	int64_t bytes_in, resp_bytes, watch_bytes, conn_requests, conn_drops;
	int64_t stale_replies;
};
void dp_totals(struct dp_server *d, struct dp_totals *t);
/* srst / stat_reset: ZooKeeper's ServerStats.reset, each part on the
 * thread that writes it (dp_ask_all's threads, the sequencer's, the log
 * writer's at its next round): request latency, packets, response
 * sizes; then ServerMetrics.resetAll, every counter and summary (not the
 * gauges), unless the Prometheus provider is on (its resetAllValues does
 * nothing).  `fourlw`: the four-letter word, which on a leader also
 * resets the proposal sizes (StatResetCommand). */
void dp_stat_reset(struct dp_server *d, struct dp_worker *self, bool fourlw);

/* What a worker owns is read on that worker's thread (dp_ask), by both
 * the four-letter words (self: the worker answering) and the AdminServer
 * (self NULL).  One connection as cons and `connections` show it
 * (ZooKeeper's ServerCnxn.getConnectionInfo): c's own fields, and these
 * in ms. */
struct dp_conn_view {
	const struct dp_conn *c;
	int64_t established; /* wall clock */
	int64_t last_lat, min_lat, avg_lat, max_lat; /* min down, max up */
	int64_t expire_set; /* dump: its expiry set, monotonic */
};
/* each(arg, v) for every open connection, on its worker's thread. */
void dp_each_conn(struct dp_server *d, struct dp_worker *self,
		  void (*each)(void *arg, const struct dp_conn_view *v),
		  void *arg);
/* crst / connection_stat_reset: every connection's counters to zero */
void dp_conn_stat_reset(struct dp_server *d, struct dp_worker *self);
/* each(arg, path, len, session) for every data watch (ZooKeeper's
 * wchs/wchc/wchp and their commands show its dataWatches only). */
void dp_each_data_watch(struct dp_server *d, struct dp_worker *self,
			void (*each)(void *arg, const char *path, size_t len,
				     int64_t session),
			void *arg);
/* All watches, data and child (zk_watch_count) */
int64_t dp_watch_count(struct dp_server *d, struct dp_worker *self);
/* ZooKeeper's WatchesSummary of the data watches (wchs, watch_summary):
 * false if out of memory */
bool dp_watch_summary(struct dp_server *d, struct dp_worker *self,
		      int64_t *sessions, int64_t *paths, int64_t *total);
/* Add d to a counter only its worker writes (no locked instruction). */
static inline void dp_stat_add(_Atomic int64_t *x, int64_t d)
{
	atomic_store_explicit(x, atomic_load_explicit(x, memory_order_relaxed) +
				     d, memory_order_relaxed);
}

/* A reply (or, with `watch`, a watch event) of `size` bytes without its
 * length prefix was queued. */
static inline void dp_count_reply(struct dp_worker *w, int64_t size,
				  bool watch)
{
	dp_stat_add(watch ? &w->watch_bytes : &w->resp_bytes, size + 4);
	atomic_store_explicit(&w->resp_last, size, memory_order_relaxed);
	if (size < atomic_load_explicit(&w->resp_min, memory_order_relaxed))
		atomic_store_explicit(&w->resp_min, size,
				      memory_order_relaxed);
	if (size > atomic_load_explicit(&w->resp_max, memory_order_relaxed))
		atomic_store_explicit(&w->resp_max, size,
				      memory_order_relaxed);
}
/* A four-letter word's answer of len bytes was queued: ZooKeeper's
 * NIOServerCnxn sends it through a PrintWriter over a BufferedWriter
 * (8192 chars) over SendBufferWriter, one packetSent() per buffer it
 * hands on, so a packet per 8192 bytes begun.  (The word itself is a
 * packet received: checkFourLetterWord's packetReceived(4).) */
static inline void dp_count_4lw_reply(struct dp_worker *w, size_t len)
{
	dp_stat_add(&w->packets_sent, (int64_t)((len + 8191) / 8192));
}
/* Request.op2String's abbreviation of op ("GETD"), as cons prints it */
const char *dp_op_name(int op);
/* Bytes in the regular files of a directory; open descriptors */
int64_t dp_dir_size(const char *path);
int dp_count_fds(void);
void dp_fmt_double(char *buf, size_t len, double v);
/* envi's and the AdminServer's environment: put(arg, key, value) each */
void dp_environment(void (*put)(void *arg, const char *key,
				const char *value),
		    void *arg);

/* Histograms merged (racily): every worker's of one kind. */
struct dp_summary {
	int64_t n, sum, min, max; /* µs */
	uint64_t b[ZK_HIST_BUCKETS];
};
/* Merge h into s (s->min starts at INT64_MAX, the rest at 0). */
void dp_summary_add(struct dp_summary *s, const struct zk_hist *h);
/* fourlw.c: since start or srst (min 0 with no samples) */
void dp_summary_of(struct dp_server *d, int kind, struct dp_summary *s);
/* fourlw.c: the window at now_ms: b and n only (sum 0, min 0, max
 * INT64_MAX: no bound) */
void dp_summary_window(struct dp_server *d, int kind, int64_t now_ms,
		       struct dp_summary *s);
/* The q-quantile (0 < q < 1) in µs: the middle of the bucket it falls
 * in, within [min, max]; 0 with no samples */
int64_t dp_summary_quantile(const struct dp_summary *s, double q);

/* mntr's values, one put() each, for mntr, the AdminServer's monitor and
 * Prometheus' /metrics: key as mntr prints it ("zk_znode_count",
 * "paddock_log_flushes"), kind, and an int64, a double or a string. */
enum dp_mkind { DP_M_STR, DP_M_GAUGE, DP_M_COUNTER, DP_M_DOUBLE };
struct dp_msink {
	void (*put)(struct dp_msink *s, const char *key, enum dp_mkind k,
		    int64_t i, double d, const char *str);
	/* a summary (ZooKeeper's AvgMinMaxPercentileCounter): name as
	 * "readlatency", values in µs, since start or srst and in the
	 * window (dp_summary_window); NULL: put() gets mntr's keys */
	void (*summary)(struct dp_msink *s, const char *name,
			const struct dp_summary *all,
			const struct dp_summary *window);
	/* an AvgMinMaxCounter ("fsynctime", a BASIC summary) since start
	 * or srst, and the histogram of its values in the window (b and n;
	 * min and max v's); NULL: put() gets mntr's five keys */
	void (*amm)(struct dp_msink *s, const char *name,
		    const struct zk_amm *v, const struct dp_summary *window);
};
/* Any thread (counters are read racily); `watches`: dp_watch_count. */
void dp_metrics(struct dp_server *d, struct dp_msink *s, int64_t watches);

/* ---- commands.c: the AdminServer's commands, Prometheus' text ---- */
/* (declared in dataplane.h) */

/* Any thread: ZooKeeper's text trace mask (ZooTrace), 306 until set by
 * set_trace_mask or stmk.  paddock keeps no trace log. */
int64_t dp_trace_mask(void);
void dp_trace_mask_set(int64_t mask);

/* fourlw.c: answer the four-letter word `cmd` (dp_4lw_known) into `out`
 * and return true (the caller closes after sending); false for "dump",
 * whose session part the sequencer writes (then call each_conn_dump).
 * `more` is what the client sent after the word, `more_len` bytes of it
 * (stmk's 8-byte mask; not kept). */
bool dp_4lw(struct dp_worker *w, const uint8_t cmd[4], const uint8_t *more,
	    size_t more_len, struct jw *out);
/* The "Connections dump" tail of "dump", appended to c's output (w is
 * c's worker, on its thread). */
void each_conn_dump(struct dp_worker *w, struct dp_conn *c);
bool dp_4lw_known(const uint8_t cmd[4]);

#endif
