/*
 * fuzz_conn.c — libFuzzer target for the client-connection path: a real
 * in-process server (tree + sequencer + one dataplane worker, the same
 * objects paddockd builds) on a loopback port, fed over TCP.
 *
 * Covers the four-letter-word / ConnectRequest sniffing, frame splitting
 * and jute.maxbuffer checks, the worker's read decoders and watch
 * operations (dataplane/jute.c, proto.c, watch.c, fourlw.c) and, for
 * writes, the sequencer behind it.
 *
 * Each input opens a fresh connection, sends bytes, half-closes (the
 * server must then close: it sees EOF) and reads everything the server
 * answers.  The server not closing within 10 s, or dying, is a finding.
 * The server lives for the whole fuzzing run (state accumulates, as on a
 * real server); it is rebuilt every RESET_EVERY inputs to bound memory.
 *
 * Input: one mode byte, then
 *   mode % 3 == 0  the raw client byte stream from the first byte (4lw or
 *                  ConnectRequest sniffing, frame lengths as given)
 *   mode % 3 == 1  a valid ConnectRequest is sent first, then the raw rest
 *   mode % 3 == 2  a valid ConnectRequest, then frames: each u16 (big
 *                  endian) length + bytes of the input becomes one jute
 *                  frame with a correct int32 length prefix
 * (mode & 0x80): wait for the ConnectResponse before sending the rest.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/fuzz/fuzz_server.h"
#include "tree/jute.h"

#define RESET_EVERY 20000

static struct fuzz_server srv;
static unsigned runs;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_server_up(&srv, false);
	return 0;
}

static void connect_request(struct jw *w)
{
	size_t at = jw_frame_begin(w);
	jw_int(w, 0);         /* protocolVersion */
	jw_long(w, 0);        /* lastZxidSeen */
	jw_int(w, 10000);     /* timeOut */
	jw_long(w, 0);        /* sessionId */
	static const uint8_t pw[16];
	jw_buf(w, pw, 16);    /* passwd */
	jw_bool(w, false);    /* readOnly */
	jw_frame_end(w, at);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (!srv.dp)
		fuzz_server_up(&srv, false);
	uint8_t mode = data[0];
	data++;
	size--;

	int fd = fuzz_connect(srv.cfg.client_port);

	struct jw w = {0};
	if (mode % 3 != 0) {
		connect_request(&w);
		fuzz_send_all(fd, w.p, w.len);
		w.len = 0;
		if (mode & 0x80) {
			uint8_t hdr[4 + 36];
			ssize_t k = recv(fd, hdr, sizeof(hdr), MSG_WAITALL);
			(void)k;
		}
	}
	if (mode % 3 == 2) {
		size_t off = 0;
		while (size - off >= 2) {
			size_t len = (size_t)data[off] << 8 | data[off + 1];
			off += 2;
			if (len > size - off)
				len = size - off;
			jw_int(&w, (int32_t)len);
			jw_bytes(&w, data + off, len);
			off += len;
		}
		fuzz_send_all(fd, w.p, w.len);
	} else {
		fuzz_send_all(fd, data, size);
	}
	jw_free(&w);
	shutdown(fd, SHUT_WR);
	if (!fuzz_drain(fd, NULL, 0, NULL)) {
		fprintf(stderr, "fuzz_conn: server did not close the "
				"connection within 10 s of EOF\n");
		abort();
	}
	close(fd);
	if (++runs % RESET_EVERY == 0)
		fuzz_server_down(&srv);
	return 0;
}
