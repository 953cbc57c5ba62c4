/*
 * admin.c — the AdminServer and /metrics over libmicrohttpd (admin.h).
 *
 * What Jetty's CommandServlet and Prometheus' MetricsServlet answer, as
 * captured from ZooKeeper 3.8.0:
 *   GET /commands/<name>  200, application/json, whatever the command
 *                         says (an unknown name is a 200 too, with
 *                         "error": "Unknown command: <name>")
 *   GET /commands[/]      200, an HTML list of links to the commands
 *   GET /metrics          200, text/plain; version=0.0.4
 *   other paths           404; other methods than GET and HEAD 405
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"

struct admin {
	struct dp_server *d;
	char url[128];          /* admin.commandURL, "/commands" */
	struct MHD_Daemon *cmd; /* the AdminServer, or NULL */
	struct MHD_Daemon *prom; /* /metrics, or NULL */
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status,
			     const char *type, char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	if (type)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	/* One request per connection.  libmicrohttpd (0.9.75) keeps a
	 * connection whose client sent EOF along with its request open
	 * after answering, until the idle timeout: 30 s of a slot for a
	 * request as `printf ... | nc -N` sends it.  Closing after each
	 * answer frees the slot at once. */
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	enum MHD_Result ok = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ok;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn,
				  unsigned status, const char *text)
{
	char *b = strdup(text);
	return b ? reply(conn, status, "text/plain; charset=utf-8", b,
			 strlen(b))
		 : MHD_NO;
}

/* Methods: GET and HEAD (libmicrohttpd leaves HEAD's body out). */
static bool method_ok(const char *method)
{
	return !strcmp(method, MHD_HTTP_METHOD_GET) ||
	       !strcmp(method, MHD_HTTP_METHOD_HEAD);
}

static enum MHD_Result list_commands(struct admin *a,
				     struct MHD_Connection *conn)
{
	const char *names[64];
	size_t n = dp_admin_names(names, 64);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return MHD_NO;
	for (size_t i = 0; i < n && i < 64; i++)
		fprintf(f, "<a href=\"%s/%s\">%s</a>\n<br/>\n", a->url,
			names[i], names[i]);
	if (fclose(f)) {
		free(buf);
		return MHD_NO;
	}
	return reply(conn, MHD_HTTP_OK, "text/html; charset=utf-8", buf, len);
}

/* libmicrohttpd calls a handler first with the headers only, then with
 * the body in pieces, then once more: true when this is that last call
 * (a body is read and dropped: no command takes one). */
static bool request_complete(void *cls, size_t *upload_data_size,
			     void **req)
{
	if (!*req) {
		*req = cls;
		return false;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;
		return false;
	}
	return true;
}

static enum MHD_Result on_command(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version,
				  const char *upload_data,
				  size_t *upload_data_size, void **req)
{
	struct admin *a = cls;
	if (!request_complete(cls, upload_data_size, req))
		return MHD_YES;
	size_t ul = strlen(a->url);
	if (strncmp(url, a->url, ul) || (url[ul] && url[ul] != '/'))
		return reply_text(conn, MHD_HTTP_NOT_FOUND, "Not Found\n");
	if (!method_ok(method))
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
				  "HTTP method not supported\n");
	const char *name = url + ul;
	if (!*name || !strcmp(name, "/"))
		return list_commands(a, conn);
	name++; /* after the '/' */
	const char *arg = MHD_lookup_connection_value(
		conn, MHD_GET_ARGUMENT_KIND, "traceMask");
	char *json = dp_admin_command(a->d, name, arg);
	if (!json)
		return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				  "out of memory\n");
	return reply(conn, MHD_HTTP_OK, "application/json", json,
		     strlen(json));
}

static enum MHD_Result on_metrics(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version,
				  const char *upload_data,
				  size_t *upload_data_size, void **req)
{
	struct admin *a = cls;
	if (!request_complete(cls, upload_data_size, req))
		return MHD_YES;
	if (strcmp(url, "/metrics"))
		return reply_text(conn, MHD_HTTP_NOT_FOUND, "Not Found\n");
	/* MetricsServlet answers POST as GET */
	if (!method_ok(method) && strcmp(method, MHD_HTTP_METHOD_POST))
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
				  "HTTP method not supported\n");
	char *text = dp_metrics_text(a->d);
	if (!text)
		return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				  "out of memory\n");
	return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
		     text, strlen(text));
}

/* libmicrohttpd's own complaints (a malformed request, a connection
 * limit reached) go to stderr once each, as paddockd's other lines. */
static void log_mhd(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	vsnprintf(line, sizeof(line), fmt, ap);
	size_t n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = 0;
	fprintf(stderr, "paddockd: %s: %s\n", (const char *)cls, line);
}

static struct MHD_Daemon *serve(const char *what, const char *host, int port,
				MHD_AccessHandlerCallback fn, struct admin *a,
				char *err, size_t err_len)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
	/* poll(), not epoll: with epoll (edge-triggered) libmicrohttpd
	 * 0.9.75 misses an EOF that arrives with the bytes before it, and
	 * keeps such a connection (CLOSE-WAIT) until its idle timeout: 64
	 * partial requests, each sent and closed, took every slot and
	 * ruok went unanswered (found by tests/fuzz/fuzz_admin) */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
			 MHD_USE_ERROR_LOG;
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
	} else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		flags |= MHD_USE_IPv6;
	} else {
		snprintf(err, err_len, "%s: not an IP address: '%.200s'", what,
			 host);
		return NULL;
	}
	errno = 0;
	struct MHD_Daemon *m = MHD_start_daemon(
		flags, (uint16_t)port, NULL, NULL, fn, a,
		MHD_OPTION_EXTERNAL_LOGGER, log_mhd, (void *)what,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)ADMIN_MAX_CONNS,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)ADMIN_IDLE_SECONDS,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)ADMIN_MAX_REQUEST,
		MHD_OPTION_END);
	if (!m)
		snprintf(err, err_len, "%s %s:%d: %s", what, host, port,
			 errno ? strerror(errno) : "cannot start");
	return m;
}

struct admin *admin_start(const struct zcfg *cfg, struct dp_server *d,
			  char *err, size_t err_len)
{
	struct admin *a = calloc(1, sizeof(*a));
	if (!a) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	a->d = d;
	snprintf(a->url, sizeof(a->url), "%s", cfg->admin_url);
	size_t ul = strlen(a->url);
	while (ul > 1 && a->url[ul - 1] == '/') /* "/commands/" */
		a->url[--ul] = 0;
	if (cfg->admin_enabled) {
		a->cmd = serve("AdminServer", cfg->admin_address,
			       cfg->admin_port, on_command, a, err, err_len);
		if (!a->cmd)
			goto fail;
	}
	if (cfg->prometheus) {
		a->prom = serve("Prometheus metrics", cfg->metrics_host,
				cfg->metrics_port, on_metrics, a, err,
				err_len);
		if (!a->prom)
			goto fail;
	}
	return a;
fail:
	admin_stop(a);
	return NULL;
}

void admin_stop(struct admin *a)
{
	if (!a)
		return;
	if (a->cmd)
		MHD_stop_daemon(a->cmd);
	if (a->prom)
		MHD_stop_daemon(a->prom);
	free(a);
}
