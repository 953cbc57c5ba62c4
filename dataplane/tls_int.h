/*
 * tls_int.h — TLS on the kernel backend's secure client port (OpenSSL),
 * for io_tcp.c only.
 *
 * ZooKeeper 3.8 serves TLS on secureClientPort (NettyServerCnxnFactory
 * with X509Util's ssl.* keys); paddockd does the same on a second
 * listener of each worker.  One struct tls_ctx per worker (an SSL_CTX
 * built from the key and trust stores at start-up, where every bad file
 * or password is an error naming it) and one struct tls_conn per
 * connection, driven non-blocking over the connection's socket:
 *
 *  - tls_recv does the handshake first, then SSL_read.  OpenSSL may hold
 *    decrypted bytes the socket no longer signals (tls_pending): the
 *    backend reports such a link readable itself.  A handshake or read
 *    that must write first (tls_wants_out) needs the socket writable.
 *  - tls_send writes the iovecs with SSL_write, partial writes allowed;
 *    a retry passes the same bytes, as the protocol's output buffer does.
 *
 * Nothing here runs for plain connections.
 */
#ifndef PADDOCK_DATAPLANE_TLS_INT_H
#define PADDOCK_DATAPLANE_TLS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "config/config.h"

struct tls_ctx;
struct tls_conn;

/* The worker's context from cfg's ssl.* keys; NULL with a message naming
 * the key and file in err. */
struct tls_ctx *tls_ctx_new(const struct zcfg *cfg, char *err, size_t len);
void tls_ctx_free(struct tls_ctx *t);

/* A server-side connection over fd (accepted, non-blocking), from the
 * client at `peer` (for log lines); NULL if memory is short. */
struct tls_conn *tls_conn_new(struct tls_ctx *t, int fd, const char *peer);
/* Frees the connection (the socket stays the caller's). */
void tls_conn_free(struct tls_conn *c);

/* backend_int.h's recv and send: a count, 0 at the end of the stream,
 * -EAGAIN, or another negative errno (a failed handshake is -EPROTO,
 * logged once with OpenSSL's reason). */
ssize_t tls_recv(struct tls_conn *c, void *buf, size_t len);
ssize_t tls_send(struct tls_conn *c, const struct iovec *iov, int n);
/* Decrypted bytes wait in OpenSSL (read them without a socket event). */
bool tls_pending(const struct tls_conn *c);
/* The last recv or send stopped until the socket is writable. */
bool tls_wants_out(const struct tls_conn *c);
/* After the handshake: the client certificate's subject in RFC 2253
 * form ("CN=client,O=example"), as ZooKeeper's X509AuthenticationProvider
 * names it; its length, or 0 when there is no verified certificate. */
size_t tls_peer_id(const struct tls_conn *c, char *buf, size_t len);
/* mntr's outstanding_tls_handshake (now) and unsuccessful_handshake
 * (since start or srst: protocol errors), over every worker */
void tls_stats(int64_t *outstanding, int64_t *failed);
/* srst: the failed handshakes (a Counter) back to 0; any thread (the
 * workers add to it with an atomic read-modify-write). */
void tls_stats_reset(void);

#endif
