/*
 * sasl.c — SASL DIGEST-MD5 logins (sasl_int.h).
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sasl/sasl.h>
#include <sasl/saslplug.h>

#include "dataplane/sasl_int.h"

#define SERVICE "zookeeper"
#define SERVER_NAME "zk-sasl-md5" /* ZooKeeper's SaslServer's */

struct user {
	char *name, *password;
};

/* The JAAS file's users: Cyrus' state is the process's, and so is this. */
static struct user *users;
static int nusers;

struct dp_sasl {
	sasl_conn_t *conn;
	bool started;
};

static void free_users(void)
{
	for (int i = 0; i < nusers; i++) {
		free(users[i].name);
		free(users[i].password);
	}
	free(users);
	users = NULL;
	nusers = 0;
}

/* The value after '=': "quoted" (with \" and \\) or up to a blank or ';'.
 * Returns a malloc'ed copy and moves *p past it. */
static char *jaas_value(const char **p)
{
	const char *s = *p;
	size_t cap = strlen(s) + 1, n = 0;
	char *v = malloc(cap);
	if (!v)
		return NULL;
	if (*s == '"') {
		for (s++; *s && *s != '"'; s++) {
			if (*s == '\\' && s[1])
				s++;
			v[n++] = *s;
		}
		if (*s == '"')
			s++;
	} else {
		while (*s && !isspace((unsigned char)*s) && *s != ';')
			v[n++] = *s++;
	}
	v[n] = 0;
	*p = s;
	return v;
}

/* The "Server" section's user_<name>=<password> options: 0, or 1 if the
 * file has no Server section, or -1 (an error in err either way). */
static int read_jaas(const char *path, char *err, size_t len)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, len, "java.security.auth.login.config %s: %s",
			 path, strerror(errno));
		return -1;
	}
	char *text = NULL;
	size_t tl = 0;
	if (getdelim(&text, &tl, 0, f) < 0) {
		free(text);
		text = NULL;
	}
	fclose(f);
	const char *s = text ? text : "";
	const char *sec = NULL;
	/* a section: a name, then '{' */
	for (const char *p = s; (p = strstr(p, "Server")); p += 6) {
		bool start = p == s || isspace((unsigned char)p[-1]) ||
			     p[-1] == ';' || p[-1] == '}';
		const char *q = p + 6;
		while (isspace((unsigned char)*q))
			q++;
		if (start && *q == '{') {
			sec = q + 1;
			break;
		}
	}
	if (!sec) {
		snprintf(err, len, "java.security.auth.login.config %s: no "
				   "Server section", path);
		free(text);
		return 1;
	}
	const char *end = strchr(sec, '}');
	for (const char *p = sec; (p = strstr(p, "user_")) && (!end || p < end);) {
		const char *name = p + 5, *eq = strchr(name, '=');
		if (!eq || (end && eq > end))
			break;
		const char *ne = eq;
		while (ne > name && isspace((unsigned char)ne[-1]))
			ne--;
		const char *v = eq + 1;
		while (isspace((unsigned char)*v))
			v++;
		struct user *nu = realloc(users, (size_t)(nusers + 1) *
							 sizeof(*users));
		if (!nu)
			break;
		users = nu;
		users[nusers].name = strndup(name, (size_t)(ne - name));
		users[nusers].password = jaas_value(&v);
		if (!users[nusers].name || !users[nusers].password)
			break;
		nusers++;
		p = v;
	}
	free(text);
	if (!nusers) {
		snprintf(err, len, "java.security.auth.login.config %s: no "
				   "user_<name>=\"<password>\" in its Server "
				   "section", path);
		return -1;
	}
	return 0;
}

static const struct user *find_user(const char *name, size_t n)
{
	const char *at = memchr(name, '@', n); /* "bob@zk-sasl-md5" */
	if (at)
		n = (size_t)(at - name);
	for (int i = 0; i < nusers; i++)
		if (strlen(users[i].name) == n && !memcmp(users[i].name, name, n))
			return &users[i];
	return NULL;
}

/* The auxiliary-property plug-in: userPassword of a JAAS user, as
 * Cyrus' sasldb plug-in answers it from its database. */
static int aux_lookup(void *glob, sasl_server_params_t *sp, unsigned flags,
		      const char *user, unsigned ulen)
{
	const struct user *u = find_user(user, ulen);
	const struct propval *want = sp->utils->prop_get(sp->propctx);
	if (!want)
		return SASL_FAIL;
	for (const struct propval *cur = want; cur->name; cur++) {
		const char *real = cur->name;
		if (flags & SASL_AUXPROP_AUTHZID) {
			if (real[0] == '*')
				continue;
		} else {
			if (real[0] != '*')
				continue;
			real++;
		}
		if (strcmp(real, SASL_AUX_PASSWORD_PROP))
			continue;
		if (cur->values && !(flags & SASL_AUXPROP_OVERRIDE))
			continue;
		if (cur->values)
			sp->utils->prop_erase(sp->propctx, cur->name);
		if (u)
			sp->utils->prop_set(sp->propctx, cur->name, u->password,
					    (int)strlen(u->password));
	}
	return u ? SASL_OK : SASL_NOUSER;
}

static sasl_auxprop_plug_t aux_plug = {
	.auxprop_lookup = aux_lookup,
	.name = (char *)"paddock",
};

static int aux_init(const sasl_utils_t *utils, int max_version,
		    int *out_version, sasl_auxprop_plug_t **plug,
		    const char *name)
{
	if (max_version < SASL_AUXPROP_PLUG_VERSION)
		return SASL_BADVERS;
	*out_version = SASL_AUXPROP_PLUG_VERSION;
	*plug = &aux_plug;
	return SASL_OK;
}

/* Cyrus' options, which would otherwise come from a sasl2 config file */
static int get_option(void *ctx, const char *plugin, const char *option,
		      const char **result, unsigned *len)
{
	if (!strcmp(option, "auxprop_plugin"))
		*result = "paddock";
	else if (!strcmp(option, "mech_list"))
		*result = "DIGEST-MD5";
	else if (!strcmp(option, "pwcheck_method"))
		*result = "auxprop";
	else
		return SASL_FAIL;
	if (len)
		*len = (unsigned)strlen(*result);
	return SASL_OK;
}

static int no_log(void *ctx, int level, const char *msg)
{
	return SASL_OK; /* a failed login is logged once, by the caller */
}

/* sasl_callback_t.proc is a generic int (*)(void), cast back by Cyrus
 * according to the id (its documented use) */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wcast-function-type"
static const sasl_callback_t callbacks[] = {
	{SASL_CB_GETOPT, (int (*)(void))get_option, NULL},
	{SASL_CB_LOG, (int (*)(void))no_log, NULL},
	{SASL_CB_LIST_END, NULL, NULL},
};
#pragma GCC diagnostic pop

static bool started;

int dp_sasl_init(const struct zcfg *cfg, char *err, size_t len)
{
	if (!cfg->sasl_auth || started)
		return 0;
	/* No JAAS file, or no Server section in it: ZooKeeper serves
	 * without SASL then (ServerCnxnFactory.configureSaslLogin), and
	 * so does paddockd: a SASL login gets AUTHFAILED. */
	int r = 1;
	if (!cfg->jaas_config[0])
		snprintf(err, len, "no java.security.auth.login.config");
	else
		r = read_jaas(cfg->jaas_config, err, len);
	if (r == 1) {
		fprintf(stderr, "paddockd: authProvider "
				"SASLAuthenticationProvider: %s, so SASL logins "
				"will fail\n",
			err);
		err[0] = 0;
		return 0;
	}
	if (r)
		return -1;
	int rc = sasl_server_init(callbacks, "paddockd");
	if (rc == SASL_OK)
		rc = sasl_auxprop_add_plugin("paddock", aux_init);
	if (rc != SASL_OK) {
		snprintf(err, len, "SASL: %s", sasl_errstring(rc, NULL, NULL));
		free_users();
		return -1;
	}
	started = true;
	return 0;
}

void dp_sasl_shutdown(void)
{
	if (!started)
		return;
	sasl_server_done();
	free_users();
	started = false;
}

int dp_sasl_step(struct dp_sasl **sp, const uint8_t *in, size_t inlen,
		 const uint8_t **out, size_t *outlen, const char **user)
{
	struct dp_sasl *s = *sp;
	const char *o = NULL;
	unsigned ol = 0;
	*out = NULL;
	*outlen = 0;
	if (!started) {
		*user = "SASL is not configured";
		return -1;
	}
	if (!s) {
		s = calloc(1, sizeof(*s));
		/* SASL_SUCCESS_DATA: the last step's reply carries rspauth
		 * and completes (Java's client sends no empty step after) */
		if (!s || sasl_server_new(SERVICE, SERVER_NAME, NULL, NULL, NULL,
					  NULL, SASL_SUCCESS_DATA,
					  &s->conn) != SASL_OK) {
			free(s);
			*user = "out of memory";
			return -1;
		}
		*sp = s;
	}
	int rc;
	if (!s->started) {
		s->started = true;
		rc = sasl_server_start(s->conn, "DIGEST-MD5",
				       inlen ? (const char *)in : NULL,
				       (unsigned)inlen, &o, &ol);
	} else {
		rc = sasl_server_step(s->conn, (const char *)in,
				      (unsigned)inlen, &o, &ol);
	}
	*out = (const uint8_t *)o;
	*outlen = ol;
	if (rc == SASL_CONTINUE)
		return 0;
	if (rc != SASL_OK) {
		*user = sasl_errdetail(s->conn);
		return -1;
	}
	const void *name = NULL;
	if (sasl_getprop(s->conn, SASL_USERNAME, &name) != SASL_OK || !name) {
		*user = "no user name";
		return -1;
	}
	*user = name;
	return 1;
}

void dp_sasl_free(struct dp_sasl *s)
{
	if (!s)
		return;
	sasl_dispose(&s->conn);
	free(s);
}
