/*
 * tls.c — TLS on the secure client port (tls_int.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "dataplane/tls_int.h"

struct tls_ctx {
	SSL_CTX *ctx;
};

struct tls_conn {
	SSL *ssl;
	bool shaking;   /* handshake not done yet */
	bool want_out;  /* stopped until the socket is writable */
	char peer[64];
};

/* OpenSSL's reason for the last failure, or `fallback`. */
static const char *ossl_reason(char *buf, size_t len, const char *fallback)
{
	unsigned long e = ERR_get_error();
	if (!e) {
		snprintf(buf, len, "%s", fallback);
		return buf;
	}
	ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

static bool is_pkcs12(const char *type, const char *path)
{
	if (type[0])
		return !strcasecmp(type, "PKCS12");
	const char *dot = strrchr(path, '.');
	return dot && (!strcasecmp(dot, ".p12") || !strcasecmp(dot, ".pfx"));
}

/* A PKCS12 file's key, certificate and chain (each may be NULL). */
struct p12 {
	EVP_PKEY *key;
	X509 *cert;
	STACK_OF(X509) *ca;
};

static int read_p12(const char *path, const char *pw, struct p12 *out)
{
	FILE *f = fopen(path, "rb");
	PKCS12 *p = f ? d2i_PKCS12_fp(f, NULL) : NULL;
	if (f)
		fclose(f);
	int ok = p && PKCS12_parse(p, pw, &out->key, &out->cert, &out->ca);
	PKCS12_free(p);
	return ok ? 0 : -1;
}

static void p12_free(struct p12 *p)
{
	EVP_PKEY_free(p->key);
	X509_free(p->cert);
	sk_X509_pop_free(p->ca, X509_free);
}

static int fail(char *err, size_t len, const char *what, const char *path)
{
	char r[256];
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, len, "%s %s: %s", what, path, strerror(errno));
		ERR_clear_error();
		return -1;
	}
	fclose(f);
	snprintf(err, len, "%s %s: %s", what, path,
		 ossl_reason(r, sizeof(r), "not a usable store"));
	return -1;
}

static int password_cb(char *buf, int size, int rwflag, void *u)
{
	const char *pw = u;
	int n = (int)strlen(pw);
	if (n >= size)
		n = size - 1;
	memcpy(buf, pw, (size_t)n);
	return n;
}

/* ssl.keyStore.*: the server's certificate chain and private key */
static int load_key_store(SSL_CTX *ctx, const struct zcfg *cfg, char *err,
			  size_t len)
{
	const char *path = cfg->ssl_key_store;
	const char *pw = cfg->ssl_key_store_password;
	if (is_pkcs12(cfg->ssl_key_store_type, path)) {
		struct p12 p = {0};
		int ok = !read_p12(path, pw, &p) && p.key && p.cert &&
			 SSL_CTX_use_certificate(ctx, p.cert) == 1 &&
			 SSL_CTX_use_PrivateKey(ctx, p.key) == 1;
		for (int i = 0; ok && p.ca && i < sk_X509_num(p.ca); i++)
			ok = SSL_CTX_add1_chain_cert(ctx, sk_X509_value(p.ca, i));
		p12_free(&p);
		if (!ok)
			return fail(err, len, "ssl.keyStore.location", path);
	} else {
		SSL_CTX_set_default_passwd_cb(ctx, password_cb);
		SSL_CTX_set_default_passwd_cb_userdata(ctx, (void *)pw);
		if (SSL_CTX_use_certificate_chain_file(ctx, path) != 1 ||
		    SSL_CTX_use_PrivateKey_file(ctx, path, SSL_FILETYPE_PEM) !=
			    1)
			return fail(err, len, "ssl.keyStore.location", path);
	}
	if (SSL_CTX_check_private_key(ctx) != 1)
		return fail(err, len, "ssl.keyStore.location (the key does "
				      "not match the certificate)", path);
	return 0;
}

/* ssl.trustStore.*: the CAs a client certificate must chain to; without
 * one, the system's (ZooKeeper: the JVM's cacerts) */
static int load_trust_store(SSL_CTX *ctx, const struct zcfg *cfg, char *err,
			    size_t len)
{
	const char *path = cfg->ssl_trust_store;
	if (!path[0])
		return SSL_CTX_set_default_verify_paths(ctx) == 1
			       ? 0
			       : fail(err, len, "default trust store", "");
	if (is_pkcs12(cfg->ssl_trust_store_type, path)) {
		struct p12 p = {0};
		int ok = !read_p12(path, cfg->ssl_trust_store_password, &p);
		X509_STORE *st = SSL_CTX_get_cert_store(ctx);
		if (ok && p.cert)
			ok = X509_STORE_add_cert(st, p.cert);
		for (int i = 0; ok && p.ca && i < sk_X509_num(p.ca); i++)
			ok = X509_STORE_add_cert(st, sk_X509_value(p.ca, i));
		p12_free(&p);
		return ok ? 0 : fail(err, len, "ssl.trustStore.location", path);
	}
	if (SSL_CTX_load_verify_locations(ctx, path, NULL) != 1)
		return fail(err, len, "ssl.trustStore.location", path);
	return 0;
}

/* ssl.ciphersuites: Java's (IANA) names; TLS 1.3 suites go to
 * SSL_CTX_set_ciphersuites, TLS 1.2 ones are found by their standard
 * name among OpenSSL's */
static int set_ciphers(SSL_CTX *ctx, const char *list, char *err, size_t len)
{
	char buf[1024], v12[2048] = "", v13[512] = "", *save = NULL;
	snprintf(buf, sizeof(buf), "%s", list);
	STACK_OF(SSL_CIPHER) *all = SSL_CTX_get_ciphers(ctx);
	for (char *t = strtok_r(buf, ", ", &save); t;
	     t = strtok_r(NULL, ", ", &save)) {
		const char *name = NULL;
		bool v3 = false;
		for (int i = 0; all && i < sk_SSL_CIPHER_num(all); i++) {
			const SSL_CIPHER *c = sk_SSL_CIPHER_value(all, i);
			const char *std = SSL_CIPHER_standard_name(c);
			if ((std && !strcmp(std, t)) ||
			    !strcmp(SSL_CIPHER_get_name(c), t)) {
				name = SSL_CIPHER_get_name(c);
				v3 = !strcmp(SSL_CIPHER_get_version(c),
					     "TLSv1.3");
				break;
			}
		}
		if (!name) {
			snprintf(err, len, "ssl.ciphersuites: unknown cipher "
					   "suite '%.80s'", t);
			return -1;
		}
		char *dst = v3 ? v13 : v12;
		size_t cap = v3 ? sizeof(v13) : sizeof(v12), at = strlen(dst);
		snprintf(dst + at, cap - at, "%s%s", at ? ":" : "", name);
	}
	if ((v12[0] && SSL_CTX_set_cipher_list(ctx, v12) != 1) ||
	    SSL_CTX_set_ciphersuites(ctx, v13) != 1) {
		char r[256];
		snprintf(err, len, "ssl.ciphersuites: %s",
			 ossl_reason(r, sizeof(r), "rejected"));
		return -1;
	}
	if (!v12[0]) /* TLS 1.3 suites only: no TLS 1.2 */
		SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	return 0;
}

struct tls_ctx *tls_ctx_new(const struct zcfg *cfg, char *err, size_t len)
{
	struct tls_ctx *t = calloc(1, sizeof(*t));
	if (!t || !(t->ctx = SSL_CTX_new(TLS_server_method()))) {
		snprintf(err, len, "TLS: out of memory");
		free(t);
		return NULL;
	}
	SSL_CTX *ctx = t->ctx;
	bool has12 = !cfg->ssl_protocols[0] ||
		     strstr(cfg->ssl_protocols, "TLSv1.2") ||
		     strstr(cfg->ssl_protocols, "TLS,") ||
		     !strcmp(cfg->ssl_protocols, "TLS");
	bool has13 = !cfg->ssl_protocols[0] ||
		     strstr(cfg->ssl_protocols, "TLSv1.3") ||
		     strstr(cfg->ssl_protocols, "TLS,") ||
		     !strcmp(cfg->ssl_protocols, "TLS");
	SSL_CTX_set_min_proto_version(ctx, has12 ? TLS1_2_VERSION
						 : TLS1_3_VERSION);
	SSL_CTX_set_max_proto_version(ctx, has13 ? TLS1_3_VERSION
						 : TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
				      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				      SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	int v = SSL_VERIFY_NONE;
	if (cfg->ssl_client_auth == ZCFG_AUTH_NEED)
		v = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	else if (cfg->ssl_client_auth == ZCFG_AUTH_WANT)
		v = SSL_VERIFY_PEER;
	SSL_CTX_set_verify(ctx, v, NULL);
	if (load_key_store(ctx, cfg, err, len) ||
	    (cfg->ssl_client_auth != ZCFG_AUTH_NONE &&
	     load_trust_store(ctx, cfg, err, len)) ||
	    (cfg->ssl_ciphers[0] && set_ciphers(ctx, cfg->ssl_ciphers, err,
						len))) {
		tls_ctx_free(t);
		return NULL;
	}
	return t;
}

void tls_ctx_free(struct tls_ctx *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->ctx);
	free(t);
}

/* Handshakes in progress and failed (protocol errors: a certificate
 * refused, garbage), all workers: connection set-up and tear-down only */
static int64_t handshakes_open, handshakes_failed;

struct tls_conn *tls_conn_new(struct tls_ctx *t, int fd, const char *peer)
{
	struct tls_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->ssl = SSL_new(t->ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1) {
		SSL_free(c->ssl);
		free(c);
		ERR_clear_error();
		return NULL;
	}
	SSL_set_accept_state(c->ssl);
	c->shaking = true;
	__atomic_add_fetch(&handshakes_open, 1, __ATOMIC_RELAXED);
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	return c;
}

void tls_stats(int64_t *outstanding, int64_t *failed)
{
	*outstanding = __atomic_load_n(&handshakes_open, __ATOMIC_RELAXED);
	*failed = __atomic_load_n(&handshakes_failed, __ATOMIC_RELAXED);
}

void tls_stats_reset(void)
{
	__atomic_store_n(&handshakes_failed, 0, __ATOMIC_RELAXED);
}

void tls_conn_free(struct tls_conn *c)
{
	if (!c)
		return;
	if (!c->shaking)
		SSL_shutdown(c->ssl); /* close_notify, best effort */
	else
		__atomic_sub_fetch(&handshakes_open, 1, __ATOMIC_RELAXED);
	SSL_free(c->ssl);
	ERR_clear_error();
	free(c);
}

/* What SSL_get_error says of a call that returned r <= 0. */
static ssize_t io_error(struct tls_conn *c, int r, const char *what)
{
	int e = SSL_get_error(c->ssl, r);
	char reason[256];
	switch (e) {
	case SSL_ERROR_WANT_READ:
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		c->want_out = true;
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN: /* close_notify */
		return 0;
	case SSL_ERROR_SYSCALL:
		if (errno == EAGAIN || errno == EINTR)
			return -EAGAIN;
		ERR_clear_error();
		/* the peer went without close_notify: the end of it */
		return errno ? -errno : 0;
	default:
		fprintf(stderr, "paddockd: TLS %s with %s failed: %s\n", what,
			c->peer,
			ossl_reason(reason, sizeof(reason), "protocol error"));
		return -EPROTO;
	}
}

ssize_t tls_recv(struct tls_conn *c, void *buf, size_t len)
{
	c->want_out = false;
	if (c->shaking) {
		ERR_clear_error();
		int r = SSL_do_handshake(c->ssl);
		if (r != 1) {
			ssize_t rc = io_error(c, r, "handshake");
			if (rc == -EPROTO)
				__atomic_add_fetch(&handshakes_failed, 1,
						   __ATOMIC_RELAXED);
			return rc;
		}
		c->shaking = false;
		__atomic_sub_fetch(&handshakes_open, 1, __ATOMIC_RELAXED);
	}
	ERR_clear_error();
	int r = SSL_read(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	return r > 0 ? r : io_error(c, r, "read");
}

ssize_t tls_send(struct tls_conn *c, const struct iovec *iov, int n)
{
	ssize_t done = 0;
	c->want_out = false;
	for (int i = 0; i < n; i++) {
		size_t len = iov[i].iov_len;
		if (!len)
			continue;
		ERR_clear_error();
		int r = SSL_write(c->ssl, iov[i].iov_base,
				  len > INT32_MAX ? INT32_MAX : (int)len);
		if (r <= 0) {
			ssize_t e = io_error(c, r, "write");
			return done ? done : (e ? e : -EPIPE);
		}
		done += r;
		if ((size_t)r < len)
			break;
	}
	return done;
}

bool tls_pending(const struct tls_conn *c)
{
	return SSL_pending(c->ssl) > 0;
}

bool tls_wants_out(const struct tls_conn *c)
{
	return c->want_out;
}

size_t tls_peer_id(const struct tls_conn *c, char *buf, size_t len)
{
	if (c->shaking || SSL_get_verify_result(c->ssl) != X509_V_OK)
		return 0;
	X509 *cert = SSL_get1_peer_certificate(c->ssl);
	if (!cert)
		return 0;
	BIO *b = BIO_new(BIO_s_mem());
	size_t n = 0;
	if (b && X509_NAME_print_ex(b, X509_get_subject_name(cert), 0,
				    XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >=
			 0) {
		int k = BIO_read(b, buf, len > 1 ? (int)len - 1 : 0);
		n = k > 0 ? (size_t)k : 0;
		if (len)
			buf[n] = 0;
	}
	BIO_free(b);
	X509_free(cert);
	return n;
}
