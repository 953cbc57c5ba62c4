/*
 * dataplane.h — client connections: accept, frame, parse, answer reads in
 * place, hand writes to the sequencer, deliver watch events.
 *
 * N worker threads each own a backend instance (kernel TCP: an epoll set
 * and a SO_REUSEPORT listener) and the connections it accepts, for life.
 * A worker parses every complete frame a read returned (a burst), answers
 * reads from the RCU tree, posts writes to the sequencer ring, and at the
 * end of the pass sends each connection's queued replies with one send()
 * (a batch).  It blocks in the backend's poll when idle (RCU-offline
 * while blocked).  A client that pipelines hard or stops reading is
 * throttled by not reading its socket (globalOutstandingLimit and the
 * other limits of dataplane/PROTOCOL.md §1.1); no thread ever waits for
 * another's ring.
 *
 * Everything between the protocol code and the wire — accepting, polling,
 * read/write interest, the peer address, batched sends, close — is behind
 * struct dp_backend_ops (dataplane/backend_int.h), chosen once at
 * start-up, so a DPDK backend can replace kernel TCP (dataplane/io_tcp.c)
 * without touching the protocol code.
 */
#ifndef PADDOCK_DATAPLANE_H
#define PADDOCK_DATAPLANE_H

#include <stdbool.h>
#include <stdint.h>

#include "consensus/consensus.h"
#include "config/config.h"
#include "tree/tree.h"

struct dp_server;

/* Create the workers (not started).  `cfg`, `tree` and `seq` must outlive
 * the server.  NULL with a message in err on failure (e.g. the port is in
 * use). */
struct dp_server *dp_server_create(const struct zcfg *cfg, struct tree *tree,
				   struct zab_seq *seq, char *err,
				   size_t err_len);
/* Start the worker threads; 0 or -errno. */
int dp_server_start(struct dp_server *d);
/* Stop and join the workers, close every connection. */
void dp_server_stop(struct dp_server *d);
void dp_server_destroy(struct dp_server *d);

/*
 * The AdminServer's side (commands.c), for admin/admin.c.  Any thread
 * but a worker's or the sequencer's, while the server runs (between
 * dp_server_start and dp_server_stop): a command may wait for each worker
 * to answer a question on its own thread.
 */
/* ZooKeeper 3.8's command `name` (or one of its aliases, "srvr" for
 * "server_stats"), with its one argument (set_trace_mask's traceMask) or
 * NULL: a JSON object holding "command" (the primary name) and "error"
 * (null, a message, or "Unknown command: <name>").  malloc'ed; NULL when
 * memory is short. */
char *dp_admin_command(struct dp_server *d, const char *name,
		       const char *arg);
/* The primary names, in ZooKeeper's (alphabetical) order; returns how
 * many there are (fills at most max). */
size_t dp_admin_names(const char **out, size_t max);
/* mntr's numbers in Prometheus' text format (version 0.0.4), with
 * ZooKeeper's names (mntr's without "zk_"); malloc'ed, or NULL. */
char *dp_metrics_text(struct dp_server *d);

#endif
