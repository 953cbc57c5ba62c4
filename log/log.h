/*
 * log.h — the durable write path: transaction log segments with group
 * commit, fuzzy snapshots of the tree, recovery.  Formats: log/FORMAT.md.
 *
 * Transaction log
 * ---------------
 * Append-only segment files "log.<first zxid, 16 hex digits>" in the log
 * directory, preallocated (preAllocSize) and zero-filled so a flush needs
 * no metadata update, written with O_DIRECT from aligned buffers.  Each
 * record: length, CRC32C, zxid, payload.  The payload is opaque here (the
 * sequencer's encoded transaction).
 *
 * Group commit: the sequencer appends records into the "filling" buffer;
 * a dedicated writer thread takes the whole buffer whenever the previous
 * write+flush finished, writes it with one pwrite and one fdatasync (or
 * none with force_sync off), then publishes the durable zxid and signals
 * an eventfd.  While one flush is in flight, the next batch accumulates.
 * The sequencer never waits for the writer (the filling buffer grows)
 * and the writer never waits for the sequencer, so neither can stall
 * the other; how much can accumulate is bounded upstream, by the
 * requests the workers may have outstanding (globalOutstandingLimit and
 * friends, dataplane/PROTOCOL.md §1.1) and request_throttle_max_requests.
 *
 * Errors: a failed write or flush (ENOSPC, EIO) puts the log in the
 * failed state: zlog_error() returns the -errno, zlog_append refuses new
 * records, and the writer retries the unwritten batch every 100 ms; when a
 * retry succeeds the error clears.  Nothing acknowledged is lost: records
 * become durable only when their flush succeeded.
 *
 * Recovery: zlog_replay() reads every segment in zxid order, checks each
 * record's CRC and length; the first bad or torn record in the NEWEST
 * segment ends the log: the tail is truncated (zeroed) and reported
 * through `report`; a bad record followed by a valid one, or in an older
 * segment, is corruption: ZDATAINCONSISTENCY with a message.
 *
 * Snapshots
 * ---------
 * "snapshot.<zxid, 16 hex digits>" in the data directory: every znode
 * (path, stat, ACL, data) walked under RCU while writes continue (fuzzy:
 * replay from the snapshot's zxid is idempotent), then an opaque blob
 * (the sequencer's session table), then a CRC32C trailer.  Written to a
 * temporary name, fsynced, renamed.
 *
 * Threads: zlog_append/zlog_kick/zlog_roll are the sequencer's; the writer
 * thread and the spare thread (which zero-fills the next segment,
 * "log.spare", ahead of need) are internal; zlog_durable/zlog_error/
 * zlog_event_fd any thread.
 */
#ifndef PADDOCK_LOG_H
#define PADDOCK_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tree/tree.h"

struct zlog;

struct zlog_config {
	const char *log_dir;   /* dataLogDir: segments */
	const char *snap_dir;  /* dataDir: snapshots */
	int64_t prealloc_size; /* bytes per segment, default 64 MiB */
	bool force_sync;       /* fdatasync each batch (forceSync=yes) */
};

/* Statistics for mntr and BENCHMARKS.md. */
struct zlog_stats {
	uint64_t batches;   /* write+flush rounds */
	uint64_t records;   /* records made durable */
	uint64_t bytes;
	uint64_t flush_ns;  /* total time in write+fdatasync */
	/* per write+flush round: its ms (ZooKeeper's fsynctime) and its
	 * records (sync_processor_batch_size) */
	struct zk_amm fsync_ms, batch;
	/* the same values' histograms (struct zk_basic), for Prometheus'
	 * windowed 0.5 quantile: the writer's, read racily (zk_hist_window),
	 * valid while the log is open; NULL while a reset is pending */
	const struct zk_hist *fsync_hist, *batch_hist;
};

/* Open the log for appending after recovery has run; the next record's
 * zxid must be > last_zxid.  Starts the writer thread.  NULL with a
 * message in err. */
struct zlog *zlog_open(const struct zlog_config *cfg, zxid_t last_zxid,
		       char *err, size_t err_len);
/* Flush what was appended, stop the writer, close files. */
void zlog_close(struct zlog *l);

/* Sequencer: append one record (the payload is copied).  0, or the
 * sticky -errno of a failed log (then nothing was appended). */
int zlog_append(struct zlog *l, zxid_t zxid, const void *payload,
		size_t len);
/* Sequencer: let the writer take everything appended so far. */
void zlog_kick(struct zlog *l);
/* Newest zxid whose record is durable. */
zxid_t zlog_durable(const struct zlog *l);
/* 0 or the -errno that stopped the log (ENOSPC, EIO …). */
int zlog_error(const struct zlog *l);
/* An eventfd, readable when zlog_durable() or zlog_error() changed. */
int zlog_event_fd(const struct zlog *l);
/* Any thread (racy reads); zeros while a reset waits for the writer. */
void zlog_get_stats(const struct zlog *l, struct zlog_stats *out);
/* Any thread: every counter of zlog_stats back to 0 (srst).  The writer
 * does it before it counts its next round; zlog_get_stats shows zeros
 * meanwhile. */
void zlog_stats_reset(struct zlog *l);
/* Before the first zlog_append (the writer takes no sample before one):
 * the Prometheus window's periods for fsync_hist and batch_hist
 * (zk_hist_retime; zlog_open sets the Java client's 600 s in five
 * periods from its own time). */
void zlog_summary_window(struct zlog *l, int64_t origin_ms, int64_t period_ms);

/*
 * Recovery, before zlog_open: call fn(zxid, payload, len, arg) for every
 * record with zxid > from, in order.  fn returns 0 to go on.  A torn or
 * corrupt tail of the newest segment is truncated and described through
 * report(msg, arg) (may be NULL).  Returns the last zxid replayed (or
 * `from` if none) in *last.  0, or a negative zk_err with a message in
 * err.
 */
int zlog_replay(const char *log_dir, zxid_t from,
		int (*fn)(zxid_t zxid, const void *payload, size_t len,
			  void *arg),
		void (*report)(const char *msg, void *arg), void *arg,
		zxid_t *last, char *err, size_t err_len);

/*
 * Write a fuzzy snapshot of `t` as of at least `zxid` (the tree's applied
 * zxid when the walk starts) with the opaque `blob` (sessions).  Call from
 * a registered RCU reader thread (not the sequencer: it takes long).  If
 * `*cancel` (may be NULL) becomes non-zero the walk stops within 128
 * nodes and nothing is left on disk (-ECANCELED).  0 or -errno.
 */
int zsnap_write(const char *snap_dir, struct tree *t, zxid_t zxid,
		const void *blob, size_t blob_len, const int *cancel);
/*
 * Load the newest valid snapshot of snap_dir into the empty tree `t`
 * (built by tree_create; the caller is the only thread).  An invalid
 * newest snapshot is reported and the next older one tried.  *zxid = the
 * snapshot's zxid (0 and ZOK if there is none), *blob = malloc'd session
 * blob (caller frees).  0 or a negative zk_err with a message in err.
 */
int zsnap_load(const char *snap_dir, struct tree *t, zxid_t *zxid,
	       void **blob, size_t *blob_len,
	       void (*report)(const char *msg, void *arg), void *arg,
	       char *err, size_t err_len);
/* Keep the newest `retain` snapshots and the log segments needed to
 * replay from the oldest kept one; delete the rest (autopurge). */
int zsnap_purge(const char *snap_dir, const char *log_dir, int retain);

/* ---- additions (issue 5 implementation) ---- */

/* Sequencer: start a new segment with the next flush round if the
 * current one is at least half used.  ZooKeeper rolls the log whenever it
 * starts a snapshot, so purge can drop whole segments; at hundreds of
 * thousands of writes/s that is several 64 MB segments a second, so
 * paddock rolls only a segment worth dropping. */
void zlog_roll(struct zlog *l);

/*
 * Ensemble (a learner told by its leader to TRUNC): with no zlog open on
 * log_dir, drop every record after `zxid` (later segments are deleted,
 * the segment holding the first later record is zeroed from that record
 * on, durably) and every snapshot of snap_dir newer than zxid, so that a
 * recovery rebuilds exactly the state up to zxid.  0, or a negative
 * zk_err with a message in err: ZBADARGUMENTS when what would be left
 * cannot rebuild zxid (no snapshot kept before the oldest segment).
 */
int zlog_truncate(const char *log_dir, const char *snap_dir, zxid_t zxid,
		  char *err, size_t err_len);

/*
 * Tools (paddock-logdump, paddock-check): read one segment file without
 * changing it.  fn is called for each record in file order; for the first
 * record that fails its checks crc_ok is false and the walk stops there.
 * Returns 0 if the segment ends cleanly (zeros after the last record),
 * ZDATAINCONSISTENCY if it holds a bad record or stray bytes after the end
 * (described in err), -errno on I/O errors, or fn's non-zero value.
 */
struct zlog_rec {
	uint64_t offset; /* of the record header in the file */
	zxid_t zxid;
	uint32_t len;	/* payload bytes */
	uint32_t round; /* flush round within the segment (1, 2 …) */
	bool crc_ok;
	const void *payload; /* valid during the call; NULL if !crc_ok */
};
int zlog_segment_walk(const char *path,
		      int (*fn)(const struct zlog_rec *r, void *arg),
		      void *arg, char *err, size_t err_len);

/*
 * Tools (paddock-snapdump, paddock-check): verify one snapshot file's
 * checksum and structure, then call node(n, arg) for each node (in file
 * order, parents first) and blob(data, len, arg) once; either may be
 * NULL.  The pointers in *n are valid during the call only.  *zxid gets
 * the snapshot's zxid.  0, ZDATAINCONSISTENCY (message in err), -errno,
 * or node's non-zero value.
 */
struct zsnap_node {
	const char *path; /* not NUL-terminated */
	size_t path_len;
	struct zstat stat;
	const void *data;
	int32_t data_len; /* -1: null data */
	struct zacl *acl; /* borrowed; zacl_ref() to keep */
};
int zsnap_walk(const char *path, zxid_t *zxid,
	       int (*node)(const struct zsnap_node *n, void *arg),
	       void (*blob)(const void *data, size_t len, void *arg),
	       void *arg, char *err, size_t err_len);

#endif
