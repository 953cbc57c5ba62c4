/*
 * fuzz_admin.c — libFuzzer target for the AdminServer: a real in-process
 * server (fuzz_server.h) with its AdminServer on a loopback port, fed
 * over TCP.  libmicrohttpd parses HTTP; what is paddock's is behind it:
 * admin/admin.c's routing (commandURL prefix, method, command name,
 * traceMask argument) and every command of dataplane/commands.c, which
 * reads the workers and the sequencer while they serve.
 *
 * Input: one mode byte, then
 *   mode % 2 == 0  raw bytes on a fresh connection, then EOF: the server
 *                  must close within 10 s, and anything it answered
 *                  must be an HTTP/1.x response
 *   mode % 2 == 1  a command name, a NUL, a traceMask value: sent as a
 *                  well-formed GET of /commands/<name> (every byte
 *                  percent-encoded; with ?traceMask=<value> when
 *                  mode & 2).  The answer must be a 200 whose body is
 *                  a JSON object with "command" and "error" (or, for an
 *                  empty name, the HTML list of commands).
 * After every input, GET /commands/ruok must answer {"error": null}: the
 * AdminServer still serves.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "tests/fuzz/fuzz_server.h"

#define RESET_EVERY 20000
#define ANSWER_MAX (1 << 20)

static struct fuzz_server srv;
static unsigned runs;
static char answer[ANSWER_MAX + 1];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_server_up(&srv, true);
	return 0;
}

static void fail(const char *why, const char *got, size_t n)
{
	fprintf(stderr, "fuzz_admin: %s; the answer was:\n%.*s\n", why,
		(int)(n > 2000 ? 2000 : n), got);
	abort();
}

/* Send req, then EOF: the server must answer (or not) and close within
 * 10 s; the answer (NUL-terminated) in `answer`. */
static size_t exchange(const void *req, size_t len)
{
	int fd = fuzz_connect(srv.cfg.admin_port);
	fuzz_send_all(fd, req, len);
	shutdown(fd, SHUT_WR);
	size_t n = 0;
	if (!fuzz_drain(fd, answer, ANSWER_MAX, &n))
		fail("the connection stayed open 10 s after EOF", answer, n);
	close(fd);
	answer[n] = 0;
	return n;
}

/* The body of a 200 answer (after the blank line), or abort. */
static const char *ok_body(size_t n)
{
	if (strncmp(answer, "HTTP/1.1 200 ", 13))
		fail("not a 200", answer, n);
	const char *body = strstr(answer, "\r\n\r\n");
	if (!body)
		fail("no end of headers", answer, n);
	return body + 4;
}

static json_t *json_answer(size_t n)
{
	json_error_t e;
	json_t *j = json_loads(ok_body(n), 0, &e);
	if (!json_is_object(j) || !json_object_get(j, "command") ||
	    !json_object_get(j, "error"))
		fail("not a command's JSON object", answer, n);
	return j;
}

static void put_encoded(char *out, size_t *at, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		*at += (size_t)sprintf(out + *at, "%%%02X", p[i]);
}

static void command(const uint8_t *data, size_t size, bool with_arg)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t nl = nul ? (size_t)(nul - data) : size;
	const uint8_t *arg = nul ? nul + 1 : data + size;
	size_t al = nul ? size - nl - 1 : 0;
	const uint8_t *nul2 = memchr(arg, 0, al);
	if (nul2)
		al = (size_t)(nul2 - arg);
	char *req = malloc(3 * (nl + al) + 128);
	if (!req)
		return;
	size_t at = (size_t)sprintf(req, "GET /commands/");
	put_encoded(req, &at, data, nl);
	if (with_arg) {
		at += (size_t)sprintf(req + at, "?traceMask=");
		put_encoded(req, &at, arg, al);
	}
	at += (size_t)sprintf(req + at, " HTTP/1.1\r\nHost: fuzz\r\n"
					"Connection: close\r\n\r\n");
	size_t n = exchange(req, at);
	free(req);
	if (nl == 0) {
		if (!strstr(ok_body(n), "<a href=\"/commands/ruok\">"))
			fail("no list of commands", answer, n);
		return;
	}
	json_decref(json_answer(n));
}

static void still_serving(void)
{
	static const char ruok[] = "GET /commands/ruok HTTP/1.1\r\n"
				   "Host: fuzz\r\nConnection: close\r\n\r\n";
	size_t n = exchange(ruok, sizeof(ruok) - 1);
	json_t *j = json_answer(n);
	if (!json_is_null(json_object_get(j, "error")))
		fail("ruok has an error", answer, n);
	json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (!srv.dp)
		fuzz_server_up(&srv, true);
	uint8_t mode = data[0];
	data++;
	size--;
	if (mode % 2 == 1) {
		command(data, size, mode & 2);
	} else {
		size_t n = exchange(data, size);
		if (n && strncmp(answer, "HTTP/1.", 7))
			fail("not an HTTP/1.x answer", answer, n);
	}
	still_serving();
	if (++runs % RESET_EVERY == 0)
		fuzz_server_down(&srv);
	return 0;
}
