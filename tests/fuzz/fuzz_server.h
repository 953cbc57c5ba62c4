/*
 * fuzz_server.h — a real in-process server for the fuzz targets that
 * feed it over loopback TCP (fuzz_conn: the client port, fuzz_admin: the
 * AdminServer): tree + sequencer + one dataplane worker, the objects
 * paddockd builds, and optionally the AdminServer.  Any failure to set
 * up, connect or read aborts (a finding).
 */
#ifndef PADDOCK_FUZZ_SERVER_H
#define PADDOCK_FUZZ_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "admin/admin.h"
#include "config/config.h"
#include "consensus/consensus.h"
#include "dataplane/dataplane.h"
#include "tree/tree.h"

struct fuzz_server {
	struct zcfg cfg;
	struct tree *tree;
	struct zab_seq *seq;
	struct dp_server *dp;
	struct admin *admin; /* with_admin: on cfg.admin_port */
};

/* Client port (and admin port) on free loopback ports; 4lw whitelist
 * "*", super:superpw as the integration tests configure. */
void fuzz_server_up(struct fuzz_server *s, bool with_admin);
void fuzz_server_down(struct fuzz_server *s);
/* A TCP connection to 127.0.0.1:port with TCP_NODELAY and a 10 s
 * receive timeout. */
int fuzz_connect(int port);
/* Send everything, or stop quietly when the server has closed. */
void fuzz_send_all(int fd, const void *p, size_t n);
/* Read until EOF, keeping at most cap bytes in buf (NULL: none) and
 * their count in *got; false if the server kept the connection open
 * for 10 s. */
bool fuzz_drain(int fd, char *buf, size_t cap, size_t *got);

#endif
