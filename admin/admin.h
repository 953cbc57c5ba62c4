/*
 * admin.h — paddockd's HTTP ports: ZooKeeper's AdminServer and the
 * Prometheus metrics endpoint.
 *
 * AdminServer (admin.enableServer, default on): GET
 * http://admin.serverAddress:admin.serverPort/commands/<name> answers
 * ZooKeeper 3.8's command <name> as JSON (dataplane/commands.c), GET
 * /commands lists the commands, as Jetty's CommandServlet does.
 * Prometheus (metricsProvider.className=...PrometheusMetricsProvider):
 * GET http://metricsProvider.httpHost:httpPort/metrics.
 *
 * Both are served by libmicrohttpd, each from one thread of its own that
 * polls all of its connections: never a worker's or the sequencer's, so
 * a slow or hostile HTTP client costs the client port nothing.  At most
 * ADMIN_MAX_CONNS connections each, idle ones closed after
 * ADMIN_IDLE_SECONDS, requests larger than ADMIN_MAX_REQUEST refused by
 * libmicrohttpd itself.  A port that cannot be bound is an error at start
 * (ZooKeeper logs it and serves on without an AdminServer; paddockd
 * refuses to start rather than run without the port it was asked for).
 */
#ifndef PADDOCK_ADMIN_H
#define PADDOCK_ADMIN_H

#include <stddef.h>

#include "config/config.h"
#include "dataplane/dataplane.h"

#define ADMIN_MAX_CONNS 64
#define ADMIN_IDLE_SECONDS 30
#define ADMIN_MAX_REQUEST (32 * 1024)

struct admin;

/* Start the ports cfg asks for (possibly none: then a struct that stops
 * nothing).  d must be running and outlive admin_stop.  NULL with a
 * message in err, such as "admin.serverPort 8080: Address already in
 * use". */
struct admin *admin_start(const struct zcfg *cfg, struct dp_server *d,
			  char *err, size_t err_len);
/* Stop serving and free; before dp_server_stop.  NULL is ignored. */
void admin_stop(struct admin *a);

#endif
