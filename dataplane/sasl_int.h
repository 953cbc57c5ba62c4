/*
 * sasl_int.h — SASL DIGEST-MD5 logins on the client port (Cyrus SASL),
 * as ZooKeeper's SASLAuthenticationProvider with DigestLoginModule.
 *
 * ZooKeeper reads its users from the "Server" section of a JAAS file
 * (-Djava.security.auth.login.config):
 *
 *     Server {
 *         org.apache.zookeeper.server.auth.DigestLoginModule required
 *         user_super="adminsecret"
 *         user_bob="bobsecret";
 *     };
 *
 * paddockd reads the same file, named by the zoo.cfg key
 * java.security.auth.login.config (with authProvider.N=...
 * SASLAuthenticationProvider).  The exchange is ZooKeeperServer.
 * processSasl's: each OpCode.sasl request carries a token, the reply a
 * token; the first starts DIGEST-MD5 (service "zookeeper", server name
 * "zk-sasl-md5", as ZooKeeper's SaslServer), and once it completes the
 * connection gets the id sasl:<user>.  A failed login is AUTHFAILED and
 * the connection closes.
 *
 * Cyrus finds the passwords through an auxiliary-property plug-in of
 * paddock's own, which looks users up in the table read at start-up.
 * Cyrus keeps process-wide state (sasl_server_init), so the table is
 * too: one per process, set by dp_sasl_init before the workers start.
 */
#ifndef PADDOCK_DATAPLANE_SASL_INT_H
#define PADDOCK_DATAPLANE_SASL_INT_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

struct dp_sasl; /* one connection's exchange */

/* Read the JAAS file and start Cyrus; 0, or -1 with a message naming the
 * file in err.  Does nothing without cfg->sasl_auth. */
int dp_sasl_init(const struct zcfg *cfg, char *err, size_t len);
void dp_sasl_shutdown(void);

/* One step: the client's token in, the reply's token out (*out points
 * into the exchange, valid until the next step).  Returns 1 when the
 * login completed (the user in *user), 0 when more steps follow, -1 when
 * it failed (a reason in *user). */
int dp_sasl_step(struct dp_sasl **s, const uint8_t *in, size_t inlen,
		 const uint8_t **out, size_t *outlen, const char **user);
void dp_sasl_free(struct dp_sasl *s);

#endif
