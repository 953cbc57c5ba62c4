/*
 * fuzz_recover.c — libFuzzer target for crash recovery end to end: the
 * snapshot parser and loader (log/snap.c, tree_node_restore), the session
 * blob decoder and the transaction decoder/replayer (consensus/txn.c),
 * and the segment reader with its torn-tail truncation (log/log.c
 * zlog_replay), all through zab_seq_recover() as paddockd calls it.
 *
 * Each input becomes at most one snapshot file and one log segment in a
 * per-process temporary directory (/dev/shm if writable, else /tmp); a
 * fresh tree (tree_create) and sequencer (zab_seq_create, snap_dir =
 * log_dir = that directory, no log opened, thread not started) recover
 * from it, then both are destroyed and the directory is emptied, so a
 * crash reproduces from its input alone.
 *
 * Input:
 *     u8 flags   bit 0  fix up the checksums as the writers compute them:
 *                       the snapshot's CRC32C trailer (and trailer magic),
 *                       the segment header CRC and each record's CRC,
 *                       walking records by their length field as
 *                       zlog_replay does; without it, checksum rejection
 *                       and torn tails are what gets fuzzed
 *                bit 1  write the snapshot (else its bytes are skipped)
 *                bit 2  write the segment
 *                bit 3  name the segment by its first record's zxid (as
 *                       the writer does); else log.0000000000000001
 *                bit 4  do not pad the segment: the file is exactly the
 *                       segment bytes (short files, records cut by EOF)
 *     u16 slen   big-endian, clamped to what is left
 *     slen bytes the snapshot file, named snapshot.<its header zxid>
 *     the rest   the segment's first bytes; the file is zero-padded to
 *                SEG_SIZE (or a multiple of 4096 above it), like a
 *                preallocated segment, so the input is only its non-zero
 *                beginning
 *
 * Checks beyond "no crash, leak or hang": an error return carries a
 * message; if recovery changed the segment (torn-tail truncation), a
 * second recovery from the files it left must succeed or fail the same
 * way, reach the same zxid and node count, and change nothing more
 * (truncation is idempotent and does not change what is recovered).
 * FUZZ_RECOVER_DEBUG=1 prints each input's outcome.
 *
 * Speed: tree_destroy() ends in rcu_barrier(), and liburcu's call_rcu
 * thread sleeps 10 ms after each wake-up, so destroying every tree in
 * line caps the fuzzer at ~80 exec/s.  Under libFuzzer the trees are
 * therefore destroyed by REAPERS threads at once (their barriers share
 * one call_rcu batch), at most REAP_QUEUE inputs behind; all are
 * destroyed before exit.  Frees then land in later inputs, which would
 * make libFuzzer's per-input leak check (run whenever an input mallocs
 * more than it frees) fire on most inputs, so LLVMFuzzerInitialize puts
 * -detect_leaks=0 in front of the command line (a later -detect_leaks=1
 * wins): leaks are still reported by LeakSanitizer at exit, without the
 * input; find it by replaying the corpus one file at a time with
 * fuzz_recover_replay of an ASan build.  A crash inside tree_destroy
 * also names a later input.  FUZZ_RECOVER_SYNC=1 destroys every tree in line (~80 exec/s,
 * per-input leak checks, exact attribution), as the replay binary does.
 *
 * Seeds: make_recover_seeds.py converts real paddockd data directories.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <urcu-qsbr.h>

#include "consensus/consensus.h"
#include "log/log_int.h"
#include "tree/tree.h"

#include "fuzz_seq_int.h"

#define F_FIXCRC 0x01
#define F_SNAP 0x02
#define F_SEG 0x04
#define F_SEGNAME 0x08
#define F_NOPAD 0x10

/* a small preallocated segment: >= ZLOG_MIN_PREALLOC, multiple of 4096 */
#define SEG_SIZE (16u * 1024)
_Static_assert(SEG_SIZE >= ZLOG_MIN_PREALLOC && SEG_SIZE % ZLOG_BLOCK == 0,
	       "SEG_SIZE");

static char dir[64];
static bool debug;

/* ---- destroying trees off the fuzzing thread (see the header) ---- */
#define REAPERS 8
#define REAP_QUEUE 16

/* defined only when libFuzzer is linked in (not in the replay binary) */
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size)
	__attribute__((weak));

static struct {
	pthread_mutex_t mu;
	pthread_cond_t work, room;
	struct tree *q[REAP_QUEUE];
	unsigned head, n;
	bool stop, on, want;
	pthread_t th[REAPERS];
} reap = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
	  PTHREAD_COND_INITIALIZER};

static void *reaper(void *arg)
{
	pthread_mutex_lock(&reap.mu);
	for (;;) {
		while (!reap.n && !reap.stop)
			pthread_cond_wait(&reap.work, &reap.mu);
		if (!reap.n)
			break;
		struct tree *t = reap.q[reap.head];
		reap.head = (reap.head + 1) % REAP_QUEUE;
		reap.n--;
		pthread_cond_signal(&reap.room);
		pthread_mutex_unlock(&reap.mu);
		tree_destroy(t); /* from an unregistered thread: allowed */
		pthread_mutex_lock(&reap.mu);
	}
	pthread_mutex_unlock(&reap.mu);
	return NULL;
}

static void destroy_tree(struct tree *t)
{
	if (!reap.on) {
		tree_destroy(t);
		return;
	}
	pthread_mutex_lock(&reap.mu);
	while (reap.n == REAP_QUEUE)
		pthread_cond_wait(&reap.room, &reap.mu);
	reap.q[(reap.head + reap.n) % REAP_QUEUE] = t;
	reap.n++;
	pthread_cond_signal(&reap.work);
	pthread_mutex_unlock(&reap.mu);
}

/* Under libFuzzer unless FUZZ_RECOVER_SYNC is set: destroy trees on the
 * reapers, and turn libFuzzer's per-input leak check off by default. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char **args;

	if (!LLVMFuzzerMutate || getenv("FUZZ_RECOVER_SYNC") || *argc < 1)
		return 0;
	args = calloc((size_t)*argc + 2, sizeof(*args));
	if (!args)
		abort();
	args[0] = (*argv)[0];
	args[1] = "-detect_leaks=0";
	for (int i = 1; i < *argc; i++)
		args[i + 1] = (*argv)[i];
	*argv = args;
	(*argc)++;
	reap.want = true;
	return 0;
}

static void reap_start(void)
{
	if (!reap.want)
		return;
	for (int i = 0; i < REAPERS; i++)
		if (pthread_create(&reap.th[i], NULL, reaper, NULL))
			abort();
	reap.on = true;
}

/* Destroy every queued tree and stop the reapers. */
static void reap_stop(void)
{
	if (!reap.on)
		return;
	pthread_mutex_lock(&reap.mu);
	reap.stop = true;
	pthread_cond_broadcast(&reap.work);
	pthread_mutex_unlock(&reap.mu);
	for (int i = 0; i < REAPERS; i++)
		pthread_join(reap.th[i], NULL);
	reap.on = false;
}

static void remove_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
}

static void cleanup_at_exit(void)
{
	reap_stop();
	remove_dir();
	rmdir(dir);
}

static void init(void)
{
	static const char *const bases[] = {"/dev/shm", "/tmp"};

	for (size_t i = 0; i < 2 && !dir[0]; i++) {
		snprintf(dir, sizeof(dir), "%s/fuzz_recover.XXXXXX", bases[i]);
		if (!mkdtemp(dir))
			dir[0] = 0;
	}
	if (!dir[0]) {
		perror("fuzz_recover: mkdtemp");
		abort();
	}
	atexit(cleanup_at_exit);
	reap_start();
	debug = getenv("FUZZ_RECOVER_DEBUG") != NULL;
	/* tree_create and recovery need a registered QSBR thread (the
	 * tree's hash table, rcu_quiescent_state() in replay); offline
	 * between inputs */
	rcu_register_thread();
	rcu_thread_offline();
}

static void write_file(const char *name, const void *p, size_t n)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || (n && write(fd, p, n) != (ssize_t)n) || close(fd)) {
		perror(path);
		abort();
	}
}

/* Read back a file we wrote (same size); false if it is gone. */
static bool read_file(const char *name, uint8_t *p, size_t n)
{
	char path[128];
	int fd;
	bool ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ok = pread(fd, p, n, 0) == (ssize_t)n;
	close(fd);
	return ok;
}

/* The writers' checksums (log/snap.c zsnap_write, log/log.c seg_header
 * and do_round). */
static void fix_snapshot(uint8_t *s, size_t n)
{
	if (n < ZSNAP_TRAILER)
		return;
	put_le32(s + n - 4, ZSNAP_TRAILER_MAGIC);
	put_le32(s + n - 8, zlog_crc32c(0, s, n - ZSNAP_TRAILER));
}

static void fix_segment(uint8_t *m, size_t size)
{
	size_t off = ZLOG_SEG_HDR, sz;
	uint32_t len, crc;

	if (size < ZLOG_SEG_HDR)
		return;
	put_le32(m + 28, zlog_crc32c(0, m, 28));
	while (off + ZLOG_REC_HDR <= size) {
		uint8_t *r = m + off;
		static const uint8_t zero[ZLOG_REC_HDR];

		if (!memcmp(r, zero, ZLOG_REC_HDR))
			break; /* the end of the log */
		len = get_le32(r);
		if (len > ZLOG_REC_MAX)
			break;
		sz = zlog_rec_size(len);
		if (sz > size - off)
			break;
		crc = zlog_crc32c(0, r, 4);
		crc = zlog_crc32c(crc, r + 8, 16);
		crc = zlog_crc32c(crc, r + ZLOG_REC_HDR, len);
		put_le32(r + 4, crc);
		off += sz;
	}
}

struct outcome {
	int rc;
	zxid_t last;
	uint64_t nodes, bytes;
};

static void recover(struct outcome *o, char *err, size_t err_len)
{
	struct tree *t;
	struct zab_seq *s;

	rcu_thread_online();
	t = tree_create();
	if (!t)
		abort();
	struct zab_seq_config sc;
	fuzz_seq_config(&sc, t);
	sc.snap_dir = dir;
	sc.log_dir = dir;
	sc.snap_count = 100; /* unused: no log, not started */
	s = zab_seq_create(&sc);
	if (!s)
		abort();
	err[0] = 0;
	o->rc = zab_seq_recover(s, err, err_len);
	o->last = zab_seq_last_zxid(s);
	o->nodes = tree_node_count(t);
	o->bytes = tree_data_bytes(t);
	if (o->rc && !err[0]) {
		fprintf(stderr, "fuzz_recover: error %d without a message\n",
			o->rc);
		abort();
	}
	zab_seq_destroy(s);
	rcu_thread_offline();
	/* its rcu_barrier() also waits for the ACLs the sequencer freed */
	destroy_tree(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *seg;
	static size_t seg_cap;
	char snap_name[32] = "", seg_name[32] = "", err[4096];
	uint8_t flags, *snap = NULL, *back;
	size_t slen = 0, glen = 0, seg_size = 0;
	struct outcome a, b;

	if (!dir[0])
		init();
	if (size < 3)
		return 0;
	flags = data[0];
	slen = (size_t)data[1] << 8 | data[2];
	data += 3;
	size -= 3;
	if (slen > size)
		slen = size;

	if (flags & F_SNAP) {
		zxid_t z = slen >= 24 ? (zxid_t)get_le64(data + 16) : 0;

		snap = malloc(slen ? slen : 1);
		if (!snap)
			abort();
		memcpy(snap, data, slen);
		if (flags & F_FIXCRC)
			fix_snapshot(snap, slen);
		snprintf(snap_name, sizeof(snap_name), "snapshot.%016" PRIx64,
			 (uint64_t)z);
		write_file(snap_name, snap, slen);
		free(snap);
	}
	data += slen;
	size -= slen;

	if (flags & F_SEG) {
		zxid_t z = 1;

		glen = size;
		if (flags & F_NOPAD)
			seg_size = glen;
		else
			seg_size = glen <= SEG_SIZE
					   ? SEG_SIZE
					   : (glen + ZLOG_BLOCK - 1) &
						     ~(size_t)(ZLOG_BLOCK - 1);
		if (!seg || seg_size > seg_cap) {
			free(seg);
			/* the second half holds the file read back */
			seg = malloc(2 * (seg_size ? seg_size : 1));
			if (!seg)
				abort();
			seg_cap = seg_size;
		}
		memset(seg, 0, seg_size);
		memcpy(seg, data, glen);
		if (flags & F_FIXCRC)
			fix_segment(seg, seg_size);
		if ((flags & F_SEGNAME) && seg_size >= ZLOG_SEG_HDR + 16)
			z = (zxid_t)get_le64(seg + ZLOG_SEG_HDR + 8);
		snprintf(seg_name, sizeof(seg_name), "log.%016" PRIx64,
			 (uint64_t)z);
		write_file(seg_name, seg, seg_size);
	}

	recover(&a, err, sizeof(err));
	if (debug)
		fprintf(stderr, "fuzz_recover: flags 0x%02x snap %zu seg %zu: "
				"rc %d last 0x%" PRIx64 " nodes %" PRIu64
				" %s\n",
			flags, slen, glen, a.rc, (uint64_t)a.last, a.nodes,
			err);

	/* Did recovery change the segment (torn tail)?  Then recovering
	 * again must give the same result and change nothing more. */
	back = seg_size ? seg + seg_cap : NULL;
	if (back && read_file(seg_name, back, seg_size) &&
	    memcmp(back, seg, seg_size)) {
		memcpy(seg, back, seg_size);
		recover(&b, err, sizeof(err));
		if (b.rc != a.rc || b.last != a.last || b.nodes != a.nodes ||
		    b.bytes != a.bytes) {
			fprintf(stderr,
				"fuzz_recover: recovery after the truncation "
				"differs: rc %d/%d, zxid 0x%" PRIx64
				"/0x%" PRIx64 ", nodes %" PRIu64 "/%" PRIu64
				" (%s)\n",
				a.rc, b.rc, (uint64_t)a.last, (uint64_t)b.last,
				a.nodes, b.nodes, err);
			abort();
		}
		if (!read_file(seg_name, back, seg_size) ||
		    memcmp(back, seg, seg_size)) {
			fprintf(stderr, "fuzz_recover: a second recovery "
					"changed the segment again\n");
			abort();
		}
	}
	remove_dir();
	return 0;
}
