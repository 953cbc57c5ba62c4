/*
 * log.c — the transaction log: group-commit writer, segments, replay.
 *
 * Design note
 * -----------
 * Apache ZooKeeper (FileTxnLog + SyncRequestProcessor) appends each
 * transaction to a BufferedOutputStream and calls FileChannel.force()
 * when the request queue runs dry; files are "log.<hex zxid>", padded
 * with zeros ahead of the write position (FilePadding) so a flush seldom
 * changes the file size.  paddock keeps the idea and tightens it:
 *
 *  - Group commit.  The sequencer appends records to a buffer of its
 *    own and kicks once per pass, which hands them to the "filling"
 *    buffer under a mutex (the buffers trade places when the writer
 *    has taken everything, else a memcpy: a lock per record was 5 % of
 *    an ensemble's CPU under set load); the writer
 *    thread takes everything kicked whenever its previous flush ended,
 *    writes it with one pwrite and one fdatasync (a "round"), then
 *    publishes the durable zxid (an atomic plus an eventfd).  A round
 *    carries at most ZLOG_ROUND_MAX bytes (or one larger record).
 *
 *  - O_DIRECT.  Segments are written in whole 4 KiB blocks from an
 *    aligned buffer.  The last, partial block of a round is padded with
 *    zeros and kept in memory (the "tail"); the next round starts by
 *    rewriting that block with more records in it.  Where the filesystem
 *    refuses O_DIRECT (EINVAL, e.g. tmpfs) we use buffered writes +
 *    fdatasync and say so once on stderr.
 *
 *  - Preallocation.  A segment is created as "log.<zxid>.tmp", fallocated
 *    and then really written with zeros (fallocate alone leaves unwritten
 *    extents whose conversion is a metadata update at every flush),
 *    fdatasynced, renamed to "log.<first zxid of the round>" and the
 *    directory fsynced.  A segment therefore always has a valid header,
 *    and zeros are the end of the log.  The next round rolls to a new
 *    segment when it would not fit, or after zlog_roll().
 *
 *  - Rounds on disk.  Each record carries the number of the round that
 *    wrote it (1, 2 … per segment).  Recovery uses it to tell a torn
 *    tail from corruption: only the last round may be partly on disk
 *    (rounds are flushed one after another), so a bad record followed by
 *    a valid record two or more rounds after the last good one means a
 *    flushed round was damaged: ZDATAINCONSISTENCY.  Anything else after
 *    the last good record of the newest segment is a torn tail: it is
 *    zeroed, flushed and reported — never applied, never fatal.
 *
 *  - Errors.  A failed write, flush or segment creation leaves the round
 *    in place (the tail block and round number advance only on success),
 *    sets the sticky error and retries every ZLOG_RETRY_MS; a retry
 *    rewrites the whole round (after a failed fdatasync the page cache
 *    may have dropped the dirty state, so flushing again is not enough).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "log/log_int.h"

#define ZERO_CHUNK (1u << 20)

struct zbuf {
	uint8_t *p;
	size_t len;
	size_t cap;
};

struct zlog {
	char *dir;
	int64_t seg_size;
	bool force_sync;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct zbuf fill;     /* mu: appended records */
	size_t kicked;	      /* mu: bytes of fill the writer may take */
	size_t roll_at;	      /* mu: fill offset where a new segment starts */
	bool stop;	      /* mu */
	bool idle;	      /* mu: writer is waiting for work */
	bool spare_want;      /* mu: the writer started a segment */
	bool spare_ready;     /* mu: "log.spare" is whole and unused */
	bool spare_stop;      /* mu (read racily between chunks) */
	pthread_cond_t spare_cv;
	pthread_t spare_th;
	uint8_t *spare_blk;   /* spare thread: aligned header block */
	zxid_t last_appended; /* sequencer only */
	struct zbuf stage;    /* sequencer only: appended, not yet kicked */

	zxid_t durable; /* atomic */
	int error;	/* atomic */
	int efd;
	uint64_t st_batches, st_records, st_bytes, st_flush_ns; /* atomic */
	struct zk_basic st_fsync_ms, st_batch; /* the writer's */
	/* srst (zlog_stats_reset): resets asked for, and done by the
	 * writer, which alone writes the counters above */
	uint64_t st_reset_asked, st_reset_done; /* atomic */
	pthread_t th;

	/* writer thread only */
	struct zbuf work;
	size_t work_pos;
	size_t work_roll_at; /* SIZE_MAX: none */
	int fd;
	int64_t seg_off; /* end of records in the segment */
	uint32_t round;	 /* number of the next round */
	uint8_t *tail;	 /* ZLOG_BLOCK bytes, aligned */
	size_t tail_len;
	uint8_t *wbuf; /* aligned write buffer */
	size_t wcap;
	uint8_t *zeros; /* ZERO_CHUNK aligned zeros */
};

static void say_buffered_once(const char *dir)
{
	static int said;

	if (!__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED))
		fprintf(stderr,
			"paddock: log: O_DIRECT refused in %s; using buffered "
			"writes + fdatasync\n",
			dir);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *aligned_alloc_zero(size_t n)
{
	void *p;

	if (posix_memalign(&p, ZLOG_BLOCK, n))
		return NULL;
	memset(p, 0, n);
	return p;
}

static int buf_reserve(struct zbuf *b, size_t extra)
{
	size_t cap = b->cap ? b->cap : 64 * 1024;
	uint8_t *p;

	if (b->len + extra <= b->cap)
		return 0;
	while (cap < b->len + extra)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

static void signal_event(struct zlog *l)
{
	uint64_t one = 1;
	ssize_t r = write(l->efd, &one, sizeof(one));

	(void)r; /* EAGAIN: counter saturated, still readable */
}

/* Write all of buf at off through pw; 0 or -errno. */
static int write_all(ssize_t (*pw)(int, const void *, size_t, off_t), int fd,
		     const uint8_t *buf, size_t n, off_t off)
{
	ssize_t w;

	while (n) {
		w = pw(fd, buf, n, off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -EIO;
		buf += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

static void seg_header(uint8_t *h, int64_t seg_size)
{
	memset(h, 0, ZLOG_SEG_HDR);
	memcpy(h, ZLOG_SEG_MAGIC, 8);
	put_le32(h + 8, ZLOG_VERSION);
	put_le32(h + 12, ZLOG_BLOCK);
	put_le64(h + 16, (uint64_t)seg_size);
	put_le32(h + 28, zlog_crc32c(0, h, 28));
}

static bool seg_header_ok(const uint8_t *m, size_t size)
{
	return size >= ZLOG_SEG_HDR && memcmp(m, ZLOG_SEG_MAGIC, 8) == 0 &&
	       get_le32(m + 8) == ZLOG_VERSION &&
	       get_le32(m + 28) == zlog_crc32c(0, m, 28);
}

/* ------------------------------------------------------------------ */
/* Writer                                                               */
/* ------------------------------------------------------------------ */

/* Open with O_DIRECT, or buffered where the filesystem refuses it. */
static int open_direct(const char *dir, const char *path, int flags)
{
	int fd = open(path, flags | O_DIRECT | O_CLOEXEC, 0644);

	if (fd < 0 && errno == EINVAL) {
		fd = open(path, flags | O_CLOEXEC, 0644);
		if (fd >= 0)
			say_buffered_once(dir);
	}
	return fd;
}

/*
 * Create `tmp` as a segment of seg_size bytes: fallocated, header block,
 * zeros to the end, flushed.  I/O goes through pw/sync (the fault hooks
 * for the writer, plain pwrite/fdatasync for the spare thread).  `stop`
 * (may be NULL) is polled between chunks.  The open fd, or -errno (tmp
 * is removed).
 */
static int seg_prepare(const struct zlog *l, const char *tmp, uint8_t *blk,
		       ssize_t (*pw)(int, const void *, size_t, off_t),
		       int (*sync)(int), const bool *stop)
{
	int64_t off;
	int fd, rc;

	fd = open_direct(l->dir, tmp, O_RDWR | O_CREAT | O_TRUNC);
	if (fd < 0)
		return -errno;
	rc = posix_fallocate(fd, 0, l->seg_size);
	if (rc == EOPNOTSUPP || rc == EINVAL)
		rc = 0;
	rc = -rc;
	/* block 0: the header and zeros; then zeros to the end */
	memset(blk, 0, ZLOG_BLOCK);
	seg_header(blk, l->seg_size);
	if (!rc)
		rc = write_all(pw, fd, blk, ZLOG_BLOCK, 0);
	for (off = ZLOG_BLOCK; !rc && off < l->seg_size; off += ZERO_CHUNK) {
		size_t n = (size_t)(l->seg_size - off) < ZERO_CHUNK
			       ? (size_t)(l->seg_size - off)
			       : ZERO_CHUNK;

		if (stop && __atomic_load_n(stop, __ATOMIC_RELAXED))
			rc = -ECANCELED;
		else
			rc = write_all(pw, fd, l->zeros, n, off);
	}
	if (!rc && (sync(fd) || fsync(fd)))
		rc = -errno;
	if (rc) {
		close(fd);
		unlink(tmp);
		return rc;
	}
	return fd;
}

/* Writer: take the spare segment as `path`.  The open fd, or -1 if there
 * is no spare (or it could not be used; then it is gone). */
static int seg_take_spare(struct zlog *l, const char *path)
{
	char spare[4096];
	bool have;
	int fd;

	pthread_mutex_lock(&l->mu);
	have = l->spare_ready;
	l->spare_ready = false;
	pthread_mutex_unlock(&l->mu);
	if (!have)
		return -1;
	snprintf(spare, sizeof(spare), "%s/" ZLOG_SPARE, l->dir);
	fd = open_direct(l->dir, spare, O_RDWR);
	if (fd >= 0 && rename(spare, path) == 0)
		return fd;
	if (fd >= 0)
		close(fd);
	unlink(spare);
	return -1;
}

/* Create (or take the spare as) segment log.<first>, publish it, switch
 * to it, and ask the spare thread for the next one. */
static int seg_new(struct zlog *l, zxid_t first)
{
	char path[4096], tmp[4096 + 8];
	int fd, rc;

	snprintf(path, sizeof(path), "%s/log.%016" PRIx64, l->dir,
		 (uint64_t)first);
	fd = seg_take_spare(l, path);
	if (fd < 0) {
		snprintf(tmp, sizeof(tmp), "%s.tmp", path);
		fd = seg_prepare(l, tmp, l->wbuf, zlog_pwrite_hook,
				 zlog_fdatasync_hook, NULL);
		if (fd < 0)
			return fd;
		if (rename(tmp, path)) {
			rc = -errno;
			close(fd);
			unlink(tmp);
			return rc;
		}
	}
	rc = zlog_fsync_dir(l->dir);
	if (rc) {
		/* the segment exists but may not survive a crash: drop it */
		unlink(path);
		close(fd);
		return rc;
	}
	if (l->fd >= 0)
		close(l->fd);
	l->fd = fd;
	l->seg_off = ZLOG_SEG_HDR;
	memset(l->tail, 0, ZLOG_BLOCK);
	seg_header(l->tail, l->seg_size);
	l->tail_len = ZLOG_SEG_HDR;
	l->round = 1;
	pthread_mutex_lock(&l->mu);
	l->spare_want = true;
	pthread_cond_broadcast(&l->spare_cv);
	pthread_mutex_unlock(&l->mu);
	return 0;
}

/*
 * The spare thread: whenever the writer has started a segment, prepare
 * the next one as "log.spare" (zero-filling 64 MB takes tens of ms, which
 * would otherwise stall every write at each rollover).  A failure (disk
 * full) is not an error: the writer then creates its segment itself and
 * reports what that attempt hits.
 */
static void *spare_main(void *arg)
{
	struct zlog *l = arg;
	char spare[4096], tmp[4096 + 8];
	int fd;
	pthread_setname_np(pthread_self(), "pdk-spare");

	snprintf(spare, sizeof(spare), "%s/" ZLOG_SPARE, l->dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", spare);
	pthread_mutex_lock(&l->mu);
	for (;;) {
		while (!l->spare_stop && (!l->spare_want || l->spare_ready))
			pthread_cond_wait(&l->spare_cv, &l->mu);
		if (l->spare_stop)
			break;
		l->spare_want = false;
		pthread_mutex_unlock(&l->mu);
		fd = seg_prepare(l, tmp, l->spare_blk, pwrite, fdatasync,
				 &l->spare_stop);
		if (fd >= 0) {
			close(fd);
			if (rename(tmp, spare) || zlog_fsync_dir(l->dir)) {
				unlink(tmp);
				unlink(spare);
				fd = -1;
			}
		}
		pthread_mutex_lock(&l->mu);
		if (fd >= 0)
			l->spare_ready = true;
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

/* zlog_open: keep a spare left by the previous run if it is whole (it is
 * renamed into place only after its flush) and of the configured size. */
static bool spare_usable(const struct zlog *l)
{
	char spare[4096];
	uint8_t h[ZLOG_SEG_HDR];
	struct stat st;
	bool ok = false;
	int fd;

	snprintf(spare, sizeof(spare), "%s/" ZLOG_SPARE, l->dir);
	fd = open(spare, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (fstat(fd, &st) == 0 && st.st_size == l->seg_size &&
	    pread(fd, h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
	    seg_header_ok(h, sizeof(h)) &&
	    (int64_t)get_le64(h + 16) == l->seg_size)
		ok = true;
	close(fd);
	if (!ok)
		unlink(spare);
	return ok;
}

static int wbuf_reserve(struct zlog *l, size_t n)
{
	uint8_t *p;

	if (n <= l->wcap)
		return 0;
	p = aligned_alloc_zero(n);
	if (!p)
		return -ENOMEM;
	free(l->wbuf);
	l->wbuf = p;
	l->wcap = n;
	return 0;
}

static inline uint32_t rec_len(const uint8_t *r)
{
	return get_le32(r);
}

static inline zxid_t rec_zxid(const uint8_t *r)
{
	return (zxid_t)get_le64(r + 8);
}

/* One round: write and flush the next records of `work`.  0 or -errno;
 * on error nothing of the writer's state has moved. */

/* The writer, before it counts a round: a reset asked for since the last
 * one (zlog_stats_reset) zeroes the counters here, on the only thread
 * that writes them. */
static void stats_reset_if_asked(struct zlog *l)
{
	uint64_t asked = __atomic_load_n(&l->st_reset_asked, __ATOMIC_ACQUIRE);
	if (asked == __atomic_load_n(&l->st_reset_done, __ATOMIC_RELAXED))
		return;
	__atomic_store_n(&l->st_batches, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&l->st_records, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&l->st_bytes, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&l->st_flush_ns, 0, __ATOMIC_RELAXED);
	zk_basic_reset(&l->st_fsync_ms);
	zk_basic_reset(&l->st_batch);
	__atomic_store_n(&l->st_reset_done, asked, __ATOMIC_RELEASE);
}
static int do_round(struct zlog *l)
{
	size_t pos = l->work_pos, bytes = 0, total, padded, sz;
	uint32_t nrec = 0, crc;
	const uint8_t *r = l->work.p + pos;
	zxid_t last = 0;
	uint8_t *w;
	uint64_t t0;
	off_t woff;
	int rc;

	sz = zlog_rec_size(rec_len(r));
	if (pos == l->work_roll_at && l->fd >= 0 &&
	    l->seg_off * 2 < l->seg_size)
		l->work_roll_at = SIZE_MAX; /* less than half used: keep it */
	if (l->fd < 0 || pos == l->work_roll_at ||
	    (l->seg_off + (int64_t)sz > l->seg_size &&
	     l->seg_off > (int64_t)ZLOG_SEG_HDR)) {
		rc = seg_new(l, rec_zxid(r));
		if (rc)
			return rc;
		if (pos == l->work_roll_at)
			l->work_roll_at = SIZE_MAX;
	}
	while (pos < l->work.len) {
		sz = zlog_rec_size(rec_len(l->work.p + pos));
		if (nrec && (bytes + sz > ZLOG_ROUND_MAX ||
			     l->seg_off + (int64_t)(bytes + sz) > l->seg_size ||
			     pos == l->work_roll_at))
			break;
		bytes += sz;
		pos += sz;
		nrec++;
	}
	total = l->tail_len + bytes;
	padded = (total + ZLOG_BLOCK - 1) & ~(size_t)(ZLOG_BLOCK - 1);
	rc = wbuf_reserve(l, padded);
	if (rc)
		return rc;
	memcpy(l->wbuf, l->tail, l->tail_len);
	memcpy(l->wbuf + l->tail_len, l->work.p + l->work_pos, bytes);
	memset(l->wbuf + total, 0, padded - total);
	/* stamp round and CRC */
	for (w = l->wbuf + l->tail_len; w < l->wbuf + total;
	     w += zlog_rec_size(rec_len(w))) {
		put_le32(w + 16, l->round);
		crc = zlog_crc32c(0, w, 4);
		crc = zlog_crc32c(crc, w + 8, 16);
		crc = zlog_crc32c(crc, w + ZLOG_REC_HDR, rec_len(w));
		put_le32(w + 4, crc);
		last = rec_zxid(w);
	}
	woff = (off_t)(l->seg_off - (int64_t)l->tail_len);
	t0 = now_ns();
	rc = write_all(zlog_pwrite_hook, l->fd, l->wbuf, padded, woff);
	if (!rc && l->force_sync && zlog_fdatasync_hook(l->fd))
		rc = -errno;
	if (rc)
		return rc;
	uint64_t t1 = now_ns(), took = t1 - t0;
	stats_reset_if_asked(l);
	__atomic_add_fetch(&l->st_flush_ns, took, __ATOMIC_RELAXED);
	zk_basic_add(&l->st_fsync_ms, (int64_t)(took / 1000000),
		     (int64_t)(t1 / 1000000));

	/* success: keep the partial last block as the new tail */
	l->seg_off += (int64_t)bytes;
	l->tail_len = total % ZLOG_BLOCK;
	memcpy(l->tail, l->wbuf + (total - l->tail_len), l->tail_len);
	l->round++;
	l->work_pos = pos;
	__atomic_add_fetch(&l->st_batches, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&l->st_records, nrec, __ATOMIC_RELAXED);
	__atomic_add_fetch(&l->st_bytes, bytes, __ATOMIC_RELAXED);
	zk_basic_add(&l->st_batch, (int64_t)nrec, (int64_t)(t1 / 1000000));
	__atomic_store_n(&l->durable, last, __ATOMIC_RELEASE);
	signal_event(l);
	return 0;
}

/* Take the kicked part of `fill` into `work` (writer, mu held). */
static int take(struct zlog *l)
{
	struct zbuf tmp = l->work;
	size_t rem = l->fill.len - l->kicked;

	tmp.len = 0;
	if (rem && buf_reserve(&tmp, rem))
		return -ENOMEM;
	if (rem)
		memcpy(tmp.p, l->fill.p + l->kicked, rem);
	tmp.len = rem;
	l->work = l->fill;
	l->work.len = l->kicked;
	l->fill = tmp;
	l->work_pos = 0;
	l->work_roll_at = SIZE_MAX;
	if (l->roll_at != SIZE_MAX) {
		if (l->roll_at < l->kicked) {
			l->work_roll_at = l->roll_at;
			l->roll_at = SIZE_MAX;
		} else {
			l->roll_at -= l->kicked;
		}
	}
	l->kicked = 0;
	return 0;
}

static void set_error(struct zlog *l, int err)
{
	if (__atomic_exchange_n(&l->error, err, __ATOMIC_ACQ_REL) != err)
		signal_event(l);
}

static void *writer_main(void *arg)
{
	struct zlog *l = arg;
	struct timespec ts;
	bool stop;
	pthread_setname_np(pthread_self(), "pdk-log");
	int rc;

	pthread_mutex_lock(&l->mu);
	for (;;) {
		while (!l->stop && l->kicked == 0) {
			l->idle = true;
			pthread_cond_wait(&l->cv, &l->mu);
			l->idle = false;
		}
		if (l->kicked == 0)
			break; /* stop, nothing left */
		if (take(l)) {
			/* ENOMEM: leave the records in fill and retry */
			set_error(l, -ENOMEM);
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += ZLOG_RETRY_MS * 1000000L;
			ts.tv_sec += ts.tv_nsec / 1000000000L;
			ts.tv_nsec %= 1000000000L;
			pthread_cond_timedwait(&l->cv, &l->mu, &ts);
			continue;
		}
		pthread_mutex_unlock(&l->mu);

		while (l->work_pos < l->work.len) {
			rc = do_round(l);
			if (rc == 0) {
				if (__atomic_load_n(&l->error,
						    __ATOMIC_ACQUIRE))
					set_error(l, 0);
				continue;
			}
			set_error(l, rc);
			pthread_mutex_lock(&l->mu);
			stop = l->stop;
			if (!stop) {
				clock_gettime(CLOCK_REALTIME, &ts);
				ts.tv_nsec += ZLOG_RETRY_MS * 1000000L;
				ts.tv_sec += ts.tv_nsec / 1000000000L;
				ts.tv_nsec %= 1000000000L;
				pthread_cond_timedwait(&l->cv, &l->mu, &ts);
			}
			pthread_mutex_unlock(&l->mu);
			if (stop)
				return NULL; /* closing: give up, nothing acked
					      */
		}
		pthread_mutex_lock(&l->mu);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

/* Remove "log.<hex>.tmp" and "log.spare.tmp" left by a crash during
 * preallocation. */
static void remove_stale_tmp(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096];
	size_t n;

	if (!d)
		return;
	while ((e = readdir(d))) {
		n = strlen(e->d_name);
		if ((n == 4 + 16 + 4 && strncmp(e->d_name, "log.", 4) == 0 &&
		     strcmp(e->d_name + 20, ".tmp") == 0) ||
		    strcmp(e->d_name, ZLOG_SPARE ".tmp") == 0) {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
	}
	closedir(d);
}

static void stop_spare(struct zlog *l)
{
	pthread_mutex_lock(&l->mu);
	__atomic_store_n(&l->spare_stop, true, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&l->spare_cv);
	pthread_mutex_unlock(&l->mu);
	pthread_join(l->spare_th, NULL);
}

struct zlog *zlog_open(const struct zlog_config *cfg, zxid_t last_zxid,
		       char *err, size_t err_len)
{
	struct zlog *l;
	int64_t sz;

	if (!cfg || !cfg->log_dir) {
		snprintf(err, err_len, "log: no log directory");
		return NULL;
	}
	if (mkdir(cfg->log_dir, 0755) && errno != EEXIST) {
		snprintf(err, err_len, "log: mkdir %s: %s", cfg->log_dir,
			 strerror(errno));
		return NULL;
	}
	if (access(cfg->log_dir, W_OK | X_OK)) {
		snprintf(err, err_len, "log: %s: %s", cfg->log_dir,
			 strerror(errno));
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		goto nomem;
	l->fd = -1;
	l->efd = -1;
	l->roll_at = SIZE_MAX;
	l->work_roll_at = SIZE_MAX;
	l->force_sync = cfg->force_sync;
	zk_hist_init(&l->st_fsync_ms.h, (int64_t)(now_ns() / 1000000),
		     600000 / ZK_HIST_SLOTS);
	zk_hist_init(&l->st_batch.h, l->st_fsync_ms.h.origin_ms,
		     600000 / ZK_HIST_SLOTS);
	sz =
	    cfg->prealloc_size > 0 ? cfg->prealloc_size : ZLOG_DEFAULT_PREALLOC;
	if (sz < ZLOG_MIN_PREALLOC)
		sz = ZLOG_MIN_PREALLOC;
	l->seg_size = (sz + ZLOG_BLOCK - 1) & ~(int64_t)(ZLOG_BLOCK - 1);
	l->last_appended = last_zxid;
	l->durable = last_zxid;
	l->dir = strdup(cfg->log_dir);
	l->tail = aligned_alloc_zero(ZLOG_BLOCK);
	l->zeros = aligned_alloc_zero(ZERO_CHUNK);
	l->spare_blk = aligned_alloc_zero(ZLOG_BLOCK);
	if (!l->dir || !l->tail || !l->zeros || !l->spare_blk ||
	    wbuf_reserve(l, ZLOG_BLOCK * 16))
		goto nomem;
	l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->efd < 0) {
		snprintf(err, err_len, "log: eventfd: %s", strerror(errno));
		goto err;
	}
	remove_stale_tmp(l->dir);
	l->spare_ready = spare_usable(l);
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	pthread_cond_init(&l->spare_cv, NULL);
	if (pthread_create(&l->spare_th, NULL, spare_main, l)) {
		snprintf(err, err_len, "log: cannot start the spare thread");
		goto err_sync;
	}
	if (pthread_create(&l->th, NULL, writer_main, l)) {
		snprintf(err, err_len, "log: cannot start the writer thread");
		stop_spare(l);
		goto err_sync;
	}
	return l;
err_sync:
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
	pthread_cond_destroy(&l->spare_cv);
	goto err;
nomem:
	snprintf(err, err_len, "log: out of memory");
err:
	if (l) {
		if (l->efd >= 0)
			close(l->efd);
		free(l->dir);
		free(l->tail);
		free(l->zeros);
		free(l->spare_blk);
		free(l->wbuf);
		free(l);
	}
	return NULL;
}

/* mu held: hand the staged records to `fill`: the buffers trade places
 * when fill is empty (the writer took it all), else they are copied.  On
 * ENOMEM they stay staged for the next kick. */
static void stage_move(struct zlog *l)
{
	if (!l->stage.len)
		return;
	if (!l->fill.len) {
		struct zbuf t = l->fill;
		l->fill = l->stage;
		l->stage = t;
	} else if (buf_reserve(&l->fill, l->stage.len) == 0) {
		memcpy(l->fill.p + l->fill.len, l->stage.p, l->stage.len);
		l->fill.len += l->stage.len;
		l->stage.len = 0;
	}
}

void zlog_close(struct zlog *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->mu);
	stage_move(l);
	l->stop = true;
	l->kicked = l->fill.len;
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
	pthread_join(l->th, NULL);
	stop_spare(l);
	if (l->fd >= 0)
		close(l->fd);
	close(l->efd);
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
	pthread_cond_destroy(&l->spare_cv);
	free(l->spare_blk);
	free(l->fill.p);
	free(l->stage.p);
	free(l->work.p);
	free(l->dir);
	free(l->tail);
	free(l->zeros);
	free(l->wbuf);
	free(l);
}

int zlog_append(struct zlog *l, zxid_t zxid, const void *payload, size_t len)
{
	int e = __atomic_load_n(&l->error, __ATOMIC_ACQUIRE);
	size_t sz;
	uint8_t *r;

	if (e)
		return e;
	if (zxid <= l->last_appended || len > ZLOG_REC_MAX || (len && !payload))
		return ZBADARGUMENTS;
	sz = zlog_rec_size((uint32_t)len);
	if (buf_reserve(&l->stage, sz))
		return -ENOMEM;
	r = l->stage.p + l->stage.len;
	memset(r, 0, ZLOG_REC_HDR);
	put_le32(r, (uint32_t)len);
	put_le64(r + 8, (uint64_t)zxid);
	if (len)
		memcpy(r + ZLOG_REC_HDR, payload, len);
	memset(r + ZLOG_REC_HDR + len, 0, sz - ZLOG_REC_HDR - len);
	l->stage.len += sz;
	l->last_appended = zxid;
	return 0;
}

void zlog_kick(struct zlog *l)
{
	if (!l->stage.len)
		return; /* everything appended was kicked */
	pthread_mutex_lock(&l->mu);
	stage_move(l);
	if (l->kicked != l->fill.len) {
		l->kicked = l->fill.len;
		if (l->idle)
			pthread_cond_signal(&l->cv);
	}
	pthread_mutex_unlock(&l->mu);
}

void zlog_roll(struct zlog *l)
{
	pthread_mutex_lock(&l->mu);
	stage_move(l);
	l->roll_at = l->fill.len;
	pthread_mutex_unlock(&l->mu);
}

zxid_t zlog_durable(const struct zlog *l)
{
	return __atomic_load_n(&l->durable, __ATOMIC_ACQUIRE);
}

int zlog_error(const struct zlog *l)
{
	return __atomic_load_n(&l->error, __ATOMIC_ACQUIRE);
}

int zlog_event_fd(const struct zlog *l)
{
	return l->efd;
}

void zlog_stats_reset(struct zlog *l)
{
	__atomic_add_fetch(&l->st_reset_asked, 1, __ATOMIC_RELEASE);
}

void zlog_get_stats(const struct zlog *l, struct zlog_stats *out)
{
	/* asked, not yet done: what the writer will find is nothing */
	if (__atomic_load_n(&l->st_reset_asked, __ATOMIC_ACQUIRE) !=
	    __atomic_load_n(&l->st_reset_done, __ATOMIC_ACQUIRE)) {
		memset(out, 0, sizeof(*out));
		return;
	}
	out->batches = __atomic_load_n(&l->st_batches, __ATOMIC_RELAXED);
	out->records = __atomic_load_n(&l->st_records, __ATOMIC_RELAXED);
	out->bytes = __atomic_load_n(&l->st_bytes, __ATOMIC_RELAXED);
	out->flush_ns = __atomic_load_n(&l->st_flush_ns, __ATOMIC_RELAXED);
	zk_amm_read(&l->st_fsync_ms.a, &out->fsync_ms);
	zk_amm_read(&l->st_batch.a, &out->batch);
	out->fsync_hist = &l->st_fsync_ms.h;
	out->batch_hist = &l->st_batch.h;
}

void zlog_summary_window(struct zlog *l, int64_t origin_ms, int64_t period_ms)
{
	int64_t now_ms = (int64_t)(now_ns() / 1000000);
	zk_hist_retime(&l->st_fsync_ms.h, origin_ms, period_ms, now_ms);
	zk_hist_retime(&l->st_batch.h, origin_ms, period_ms, now_ms);
}

/* ------------------------------------------------------------------ */
/* Reading segments                                                     */
/* ------------------------------------------------------------------ */

/* A valid record at off with zxid > min?  Its size, or 0. */
static size_t rec_check(const uint8_t *m, size_t size, size_t off, zxid_t min,
			struct zlog_rec *out)
{
	const uint8_t *r = m + off;
	uint32_t len, crc, round;
	zxid_t zxid;
	size_t sz;

	if (off + ZLOG_REC_HDR > size)
		return 0;
	len = get_le32(r);
	zxid = (zxid_t)get_le64(r + 8);
	round = get_le32(r + 16);
	if (len > ZLOG_REC_MAX || zxid <= 0 || zxid <= min || round == 0 ||
	    get_le32(r + 20) != 0)
		return 0;
	sz = zlog_rec_size(len);
	if (sz > size - off)
		return 0;
	crc = zlog_crc32c(0, r, 4);
	crc = zlog_crc32c(crc, r + 8, 16);
	crc = zlog_crc32c(crc, r + ZLOG_REC_HDR, len);
	if (crc != get_le32(r + 4))
		return 0;
	if (out) {
		out->offset = off;
		out->zxid = zxid;
		out->len = len;
		out->round = round;
		out->crc_ok = true;
		out->payload = r + ZLOG_REC_HDR;
	}
	return sz;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* What follows the last good record. */
struct tail_info {
	size_t dirty_end; /* end of the last non-zero byte at or after end */
	unsigned later;	  /* valid records found after the end */
	bool proof;	  /* one of them is >= 2 rounds after the last good */
	uint64_t proof_off;
	zxid_t proof_zxid;
};

static void scan_tail(const uint8_t *m, size_t size, size_t end,
		      zxid_t last_zxid, uint32_t last_round,
		      struct tail_info *ti)
{
	struct zlog_rec r;
	size_t o, e = size;

	memset(ti, 0, sizeof(*ti));
	while (e > end && m[e - 1] == 0)
		e--;
	ti->dirty_end = e;
	if (e == end)
		return;
	for (o = end + ZLOG_REC_ALIGN; o + ZLOG_REC_HDR <= e;
	     o += ZLOG_REC_ALIGN) {
		if (all_zero(m + o, ZLOG_REC_HDR))
			continue;
		if (!rec_check(m, size, o, last_zxid, &r))
			continue;
		ti->later++;
		if (r.round >= last_round + 2) {
			ti->proof = true;
			ti->proof_off = o;
			ti->proof_zxid = r.zxid;
			return;
		}
	}
}

struct seg_result {
	size_t end;	/* after the last good record */
	zxid_t last;	/* its zxid, or min if none */
	uint32_t round; /* its round, 0 if none */
	int stopped;	/* fn's non-zero value */
};

/* Walk good records from the header on; stop at the first bad one. */
static void seg_walk(const uint8_t *m, size_t size, zxid_t min,
		     int (*fn)(const struct zlog_rec *r, void *arg), void *arg,
		     struct seg_result *res)
{
	struct zlog_rec r;
	size_t off = ZLOG_SEG_HDR, sz;

	res->last = min;
	res->round = 0;
	res->stopped = 0;
	while ((sz = rec_check(m, size, off, res->last, &r))) {
		if (r.round < res->round)
			break; /* rounds never go back */
		if (fn) {
			res->stopped = fn(&r, arg);
			if (res->stopped) {
				res->end = off;
				return;
			}
		}
		res->last = r.zxid;
		res->round = r.round;
		off += sz;
	}
	res->end = off;
}

static int zero_range(const char *path, size_t from, size_t to)
{
	static const uint8_t z[ZLOG_BLOCK];
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	while (!rc && from < to) {
		size_t n = to - from < sizeof(z) ? to - from : sizeof(z);

		rc = write_all(zlog_pwrite_hook, fd, z, n, (off_t)from);
		from += n;
	}
	if (!rc && zlog_fdatasync_hook(fd))
		rc = -errno;
	close(fd);
	return rc;
}

struct replay_ctx {
	zxid_t from;
	int (*fn)(zxid_t, const void *, size_t, void *);
	void *arg;
	zxid_t last;
};

static int replay_rec(const struct zlog_rec *r, void *arg)
{
	struct replay_ctx *c = arg;
	int rc;

	if (r->zxid <= c->from)
		return 0;
	rc = c->fn ? c->fn(r->zxid, r->payload, r->len, c->arg) : 0;
	if (rc == 0)
		c->last = r->zxid;
	return rc;
}

int zlog_replay(const char *log_dir, zxid_t from,
		int (*fn)(zxid_t zxid, const void *payload, size_t len,
			  void *arg),
		void (*report)(const char *msg, void *arg), void *arg,
		zxid_t *last, char *err, size_t err_len)
{
	struct replay_ctx c = {from, fn, arg, from};
	struct seg_result res;
	struct tail_info ti;
	const uint8_t *m;
	char path[4096], msg[4096 + 512];
	zxid_t *segs = NULL, prev = 0;
	size_t size;
	int n, i, rc = 0;
	bool newest;

	*last = from;
	n = zlog_list(log_dir, "log", &segs);
	if (n < 0) {
		snprintf(err, err_len, "log: cannot list %s: %s", log_dir,
			 strerror(-n));
		return ZSYSTEMERROR;
	}
	for (i = 0; i < n; i++) {
		newest = i == n - 1;
		/* holds only zxids < next name <= from + 1: nothing to do */
		if (!newest && segs[i + 1] <= from + 1)
			continue;
		snprintf(path, sizeof(path), "%s/log.%016" PRIx64, log_dir,
			 (uint64_t)segs[i]);
		rc = zlog_map(path, &m, &size);
		if (rc) {
			snprintf(err, err_len, "log: %s: %s", path,
				 strerror(-rc));
			rc = ZSYSTEMERROR;
			break;
		}
		if (!seg_header_ok(m, size)) {
			if (size >= ZLOG_SEG_HDR &&
			    !memcmp(m, ZLOG_SEG_MAGIC, 8) &&
			    get_le32(m + 8) != ZLOG_VERSION)
				snprintf(err, err_len,
					 "log: %s: format version %u; this "
					 "paddockd reads version %u only "
					 "(log/FORMAT.md)",
					 path, get_le32(m + 8), ZLOG_VERSION);
			else
				snprintf(err, err_len,
					 "log: %s: bad segment header", path);
			zlog_unmap(m, size);
			rc = ZDATAINCONSISTENCY;
			break;
		}
		seg_walk(m, size, prev > segs[i] - 1 ? prev : segs[i] - 1,
			 replay_rec, &c, &res);
		if (res.stopped) {
			snprintf(err, err_len,
				 "log: replay stopped by the callback after "
				 "zxid 0x%" PRIx64,
				 (uint64_t)c.last);
			zlog_unmap(m, size);
			rc = res.stopped;
			break;
		}
		prev = res.last;
		scan_tail(m, size, res.end, res.last, res.round, &ti);
		zlog_unmap(m, size);
		if (ti.dirty_end == res.end)
			continue; /* clean end */
		if (!newest || ti.proof) {
			if (ti.proof)
				snprintf(err, err_len,
					 "log: %s: corrupt record at offset "
					 "%zu, followed by a valid record "
					 "(zxid 0x%" PRIx64
					 " at offset %" PRIu64
					 ") of a later flush",
					 path, res.end, (uint64_t)ti.proof_zxid,
					 ti.proof_off);
			else
				snprintf(err, err_len,
					 "log: %s: corrupt record at offset "
					 "%zu in a segment that is not the "
					 "newest",
					 path, res.end);
			rc = ZDATAINCONSISTENCY;
			break;
		}
		rc = zero_range(path, res.end, ti.dirty_end);
		if (rc) {
			snprintf(err, err_len,
				 "log: %s: cannot truncate the torn tail: %s",
				 path, strerror(-rc));
			rc = ZSYSTEMERROR;
			break;
		}
		snprintf(msg, sizeof(msg),
			 "log: %s: torn tail after zxid 0x%" PRIx64
			 " at offset %zu: zeroed %zu bytes (%u complete "
			 "records of the unflushed round dropped)",
			 path, (uint64_t)res.last, res.end,
			 ti.dirty_end - res.end, ti.later);
		if (report)
			report(msg, arg);
	}
	free(segs);
	*last = c.last;
	return rc;
}

int zlog_segment_walk(const char *path,
		      int (*fn)(const struct zlog_rec *r, void *arg), void *arg,
		      char *err, size_t err_len)
{
	struct seg_result res;
	struct tail_info ti;
	struct zlog_rec bad;
	const uint8_t *m;
	size_t size;
	int rc;

	rc = zlog_map(path, &m, &size);
	if (rc) {
		snprintf(err, err_len, "%s: %s", path, strerror(-rc));
		return rc;
	}
	if (!seg_header_ok(m, size)) {
		snprintf(err, err_len, "%s: bad segment header", path);
		zlog_unmap(m, size);
		return ZDATAINCONSISTENCY;
	}
	seg_walk(m, size, 0, fn, arg, &res);
	if (res.stopped) {
		zlog_unmap(m, size);
		return res.stopped;
	}
	scan_tail(m, size, res.end, res.last, res.round, &ti);
	rc = 0;
	if (ti.dirty_end != res.end) {
		memset(&bad, 0, sizeof(bad));
		bad.offset = res.end;
		if (res.end + ZLOG_REC_HDR <= size) {
			bad.len = get_le32(m + res.end);
			bad.zxid = (zxid_t)get_le64(m + res.end + 8);
			bad.round = get_le32(m + res.end + 16);
		}
		if (fn)
			fn(&bad, arg);
		snprintf(err, err_len,
			 "%s: bad record at offset %zu (%zu bytes of damage "
			 "after the last good record, zxid 0x%" PRIx64 "%s)",
			 path, res.end, ti.dirty_end - res.end,
			 (uint64_t)res.last,
			 ti.proof ? "; valid records of later flushes follow: "
				    "corruption"
				  : "; looks like a torn tail");
		rc = ZDATAINCONSISTENCY;
	}
	zlog_unmap(m, size);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Truncation (an ensemble learner told to TRUNC)                       */
/* ------------------------------------------------------------------ */
struct trunc_ctx {
	zxid_t zxid;
	uint64_t cut; /* offset of the first record after zxid, or 0 */
};

static int trunc_rec(const struct zlog_rec *r, void *arg)
{
	struct trunc_ctx *c = arg;
	if (r->crc_ok && r->zxid > c->zxid) {
		c->cut = r->offset;
		return 1;
	}
	return 0;
}

int zlog_truncate(const char *log_dir, const char *snap_dir, zxid_t zxid,
		  char *err, size_t err_len)
{
	zxid_t *segs = NULL, *snaps = NULL, kept = 0;
	char path[4096];
	int n, ns, rc = 0;

	ns = zlog_list(snap_dir, "snapshot", &snaps);
	n = ns < 0 ? ns : zlog_list(log_dir, "log", &segs);
	if (n < 0) {
		snprintf(err, err_len, "log: cannot list %s / %s: %s", log_dir,
			 snap_dir, strerror(-n));
		rc = ZSYSTEMERROR;
		goto out;
	}
	for (int i = 0; i < ns; i++)
		if (snaps[i] <= zxid && snaps[i] > kept)
			kept = snaps[i];
	/* what is kept must still replay to zxid: a snapshot at or before
	 * it, and the log from just after that snapshot on */
	if ((kept > 0 || zxid > 0) && n > 0 && segs[0] > kept + 1) {
		snprintf(err, err_len, "log: cannot truncate to 0x%" PRIx64
				       ": the log starts at 0x%" PRIx64
				       " and no snapshot before that is kept",
			 (uint64_t)zxid, (uint64_t)segs[0]);
		rc = ZBADARGUMENTS;
		goto out;
	}
	for (int i = 0; i < ns; i++) {
		if (snaps[i] <= zxid)
			continue;
		snprintf(path, sizeof(path), "%s/snapshot.%016" PRIx64,
			 snap_dir, (uint64_t)snaps[i]);
		if (unlink(path) && errno != ENOENT) {
			rc = ZSYSTEMERROR;
			snprintf(err, err_len, "%s: %s", path, strerror(errno));
			goto out;
		}
	}
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/log.%016" PRIx64, log_dir,
			 (uint64_t)segs[i]);
		if (segs[i] > zxid) {
			if (unlink(path) && errno != ENOENT) {
				rc = ZSYSTEMERROR;
				snprintf(err, err_len, "%s: %s", path,
					 strerror(errno));
				goto out;
			}
			continue;
		}
		struct trunc_ctx c = {zxid, 0};
		char werr[256];
		rc = zlog_segment_walk(path, trunc_rec, &c, werr, sizeof(werr));
		if (rc < 0) {
			snprintf(err, err_len, "%s: %s", path, strerror(-rc));
			rc = ZSYSTEMERROR;
			goto out;
		}
		rc = 0;
		if (c.cut) {
			struct stat st;
			if (stat(path, &st) ||
			    (rc = zero_range(path, c.cut, (size_t)st.st_size))) {
				snprintf(err, err_len, "%s: %s", path,
					 strerror(rc ? -rc : errno));
				rc = ZSYSTEMERROR;
				goto out;
			}
		}
	}
	if (zlog_fsync_dir(log_dir) || zlog_fsync_dir(snap_dir)) {
		snprintf(err, err_len, "%s: %s", log_dir, strerror(errno));
		rc = ZSYSTEMERROR;
	}
out:
	free(segs);
	free(snaps);
	return rc;
}
