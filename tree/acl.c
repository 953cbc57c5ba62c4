/*
 * acl.c — ACL lists, the ACL check, ACL fix-up, digests and error text.
 *
 * Design note
 * -----------
 * A struct zacl is one allocation: the header, the entry array, then the
 * scheme and id strings.  It is immutable once built; its reference count
 * is touched only by the writer (sequencer) thread, see tree.h.
 *
 * Behaviour follows Apache ZooKeeper 3.8:
 *  - zacl_check:  ZooKeeperServer.checkACL — empty/NULL list passes, a
 *    "super" identity passes, world:anyone matches everyone, "ip" entries
 *    match with IPAuthenticationProvider.matches (address[/bits], IPv4 only
 *    in 3.8), every other scheme by exact id.
 *  - zacl_fixup:  PrepRequestProcessor.fixupACL — duplicates are removed
 *    first (removeDuplicates, order kept), then world must be "anyone",
 *    "auth" expands to every authenticated identity of the caller (an "ip"
 *    identity is not "authenticated", and "super"/"world" have no provider,
 *    so those are skipped), "digest" ids must split on ':' into exactly
 *    two parts (Java String.split semantics), "ip" ids must parse.  Only the
 *    two providers ZooKeeper registers by default (ip, digest) are known.
 *  - zk_digest:   DigestAuthenticationProvider.generateDigest —
 *    user + ":" + base64(sha1("user:password")).
 *  - Java's Integer.parseInt is mirrored for address parts and prefix
 *    lengths (optional sign, decimal or hex digits, overflow rejected).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "tree/tree.h"

/* ------------------------------------------------------------------ */
/* Error text                                                           */
/* ------------------------------------------------------------------ */

const char *zk_strerror(int code)
{
	switch (code) {
#define ZK_ERR_CASE(name, value, text)                                         \
	case value:                                                            \
		return text;
		ZK_ERRORS(ZK_ERR_CASE)
#undef ZK_ERR_CASE
	default:
		return "unknown error";
	}
}

/* ------------------------------------------------------------------ */
/* Lists                                                                */
/* ------------------------------------------------------------------ */

struct zacl *zacl_new(int n, const int32_t *perms, const char *const *scheme,
		      const char *const *id)
{
	size_t sz, off;
	struct zacl *a;
	char *p;
	int i;

	if (n < 0 || (n > 0 && (!perms || !scheme || !id)))
		return NULL;
	sz = sizeof(*a) + (size_t)n * sizeof(a->e[0]);
	for (i = 0; i < n; i++) {
		sz += (scheme[i] ? strlen(scheme[i]) : 0) + 1;
		sz += (id[i] ? strlen(id[i]) : 0) + 1;
	}
	a = malloc(sz);
	if (!a)
		return NULL;
	a->refs = 1;
	a->n = n;
	a->anyone = 0;
	p = (char *)&a->e[n];
	for (i = 0; i < n; i++) {
		const char *s = scheme[i] ? scheme[i] : "";
		const char *d = id[i] ? id[i] : "";

		a->e[i].perms = perms[i];
		if (!strcmp(s, "world") && !strcmp(d, "anyone"))
			a->anyone |= perms[i];
		off = strlen(s) + 1;
		memcpy(p, s, off);
		a->e[i].scheme = p;
		p += off;
		off = strlen(d) + 1;
		memcpy(p, d, off);
		a->e[i].id = p;
		p += off;
	}
	return a;
}

struct zacl *zacl_open(void)
{
	static const int32_t perms[] = {ZPERM_ALL};
	static const char *const scheme[] = {"world"};
	static const char *const id[] = {"anyone"};

	return zacl_new(1, perms, scheme, id);
}

struct zacl *zacl_ref(struct zacl *a)
{
	if (a)
		a->refs++;
	return a;
}

void zacl_unref(struct zacl *a)
{
	if (a && --a->refs == 0)
		free(a);
}

static bool entry_equal(const struct zacl_entry *x, const struct zacl_entry *y)
{
	return x->perms == y->perms && strcmp(x->scheme, y->scheme) == 0 &&
	       strcmp(x->id, y->id) == 0;
}

bool zacl_equal(const struct zacl *a, const struct zacl *b)
{
	int i;

	if (a == b)
		return true;
	if (!a || !b || a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++)
		if (!entry_equal(&a->e[i], &b->e[i]))
			return false;
	return true;
}

/* ------------------------------------------------------------------ */
/* IP addresses (IPAuthenticationProvider)                              */
/* ------------------------------------------------------------------ */

/* Java Integer.parseInt(s[0..len), radix): optional sign, >= 1 digit. */
static bool java_parse_int(const char *s, size_t len, int radix, int *out)
{
	long long v = 0;
	bool neg = false;
	size_t i = 0;

	if (len == 0)
		return false;
	if (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-';
		i = 1;
		if (len == 1)
			return false;
	}
	for (; i < len; i++) {
		int d;
		char c = s[i];

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'z')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'Z')
			d = c - 'A' + 10;
		else
			return false;
		if (d >= radix)
			return false;
		v = v * radix + d;
		if (v > (long long)INT_MAX + 1)
			return false;
	}
	if (neg)
		v = -v;
	if (v > INT_MAX || v < INT_MIN)
		return false;
	*out = (int)v;
	return true;
}

/* v4addr2Bytes: exactly four '.'-separated decimal parts 0..255. */
static int parse_v4(const char *s, size_t len, unsigned char *b)
{
	size_t start = 0, i;
	int part = 0, v;

	for (i = 0; i <= len; i++) {
		if (i < len && s[i] != '.')
			continue;
		if (part == 4)
			return -1;
		if (!java_parse_int(s + start, i - start, 10, &v) || v < 0 ||
		    v > 255)
			return -1;
		b[part++] = (unsigned char)v;
		start = i + 1;
	}
	return part == 4 ? 4 : -1;
}

/* addr2Bytes of ZooKeeper 3.8: IPv4 only (an IPv6 ip ACL is INVALIDACL
 * and an IPv6 client matches no ip ACL; IPv6 came in 3.9).  Returns the
 * byte count. */
static int addr_bytes(const char *s, size_t len, unsigned char *b)
{
	return parse_v4(s, len, b);
}

/* Parse "address[/bits]"; returns address length, *bits set. */
static int parse_ip_expr(const char *expr, unsigned char *b, int *bits)
{
	const char *slash = strchr(expr, '/');
	size_t alen = slash ? (size_t)(slash - expr) : strlen(expr);
	int n = addr_bytes(expr, alen, b);

	if (n < 0)
		return -1;
	*bits = n * 8;
	if (slash) {
		if (!java_parse_int(slash + 1, strlen(slash + 1), 10, bits) ||
		    *bits < 0 || *bits > n * 8)
			return -1;
	}
	return n;
}

static void mask_bytes(unsigned char *b, int n, int bits)
{
	int start = bits / 8;
	int m = ~((1 << (8 - bits % 8)) - 1);

	for (; start < n; start++) {
		b[start] &= (unsigned char)m;
		m = 0;
	}
}

static bool ip_matches(const char *id, const char *expr)
{
	unsigned char a[16], r[16];
	int n, rn, bits;

	n = parse_ip_expr(expr, a, &bits);
	if (n < 0)
		return false;
	rn = addr_bytes(id, strlen(id), r);
	if (rn != n)
		return false;
	mask_bytes(a, n, bits);
	mask_bytes(r, n, bits);
	return memcmp(a, r, (size_t)n) == 0;
}

static bool ip_valid(const char *id)
{
	unsigned char a[16];
	int bits;

	return parse_ip_expr(id, a, &bits) >= 0;
}

/* DigestAuthenticationProvider.isValid: id.split(":").length == 2.  Java's
 * split drops trailing empty strings, so trailing ':' are ignored; what is
 * left must be non-empty and hold exactly one ':' ("a:b", ":b", "a:b:"). */
static bool digest_valid(const char *id)
{
	size_t len = strlen(id), i;
	int colons = 0;

	while (len > 0 && id[len - 1] == ':')
		len--;
	for (i = 0; i < len; i++)
		colons += id[i] == ':';
	return colons == 1;
}

/* ------------------------------------------------------------------ */
/* Check and fix-up                                                     */
/* ------------------------------------------------------------------ */

int zacl_check(const struct zacl *acl, int perm, const struct zauth_id *ids,
	       int n)
{
	int i, j;

	/* the common case, world:anyone, without a string compared */
	if (!acl || acl->n == 0 || (acl->anyone & perm))
		return ZOK;
	for (j = 0; j < n; j++)
		if (ids[j].scheme && strcmp(ids[j].scheme, "super") == 0)
			return ZOK;
	for (i = 0; i < acl->n; i++) {
		const struct zacl_entry *e = &acl->e[i];
		bool ip;

		if (!(e->perms & perm))
			continue;
		if (strcmp(e->scheme, "world") == 0 &&
		    strcmp(e->id, "anyone") == 0)
			return ZOK;
		if (strcmp(e->scheme, "world") == 0)
			continue; /* no provider for world:<other> */
		ip = strcmp(e->scheme, "ip") == 0;
		for (j = 0; j < n; j++) {
			if (!ids[j].scheme || !ids[j].id ||
			    strcmp(ids[j].scheme, e->scheme) != 0)
				continue;
			if (ip ? ip_matches(ids[j].id, e->id)
			       : strcmp(ids[j].id, e->id) == 0)
				return ZOK;
		}
	}
	return ZNOAUTH;
}

/* Schemes whose provider reports isAuthenticated() == true. */
static bool auth_scheme_authenticated(const char *scheme)
{
	return scheme && scheme[0] && strcmp(scheme, "ip") != 0 &&
	       strcmp(scheme, "world") != 0 && strcmp(scheme, "super") != 0;
}

int zacl_fixup(const struct zacl *in, const struct zauth_id *ids, int n,
	       unsigned providers, struct zacl **out)
{
	const char **sch = NULL, **id = NULL;
	int32_t *perms = NULL;
	int i, j, k, cnt = 0, max, rc = ZINVALIDACL;

	*out = NULL;
	if (!in || in->n == 0)
		return ZINVALIDACL;
	if (n < 0 || (n > 0 && !ids))
		return ZBADARGUMENTS;
	max = in->n * (n > 0 ? n : 1);
	perms = malloc((size_t)max * sizeof(*perms));
	sch = malloc((size_t)max * sizeof(*sch));
	id = malloc((size_t)max * sizeof(*id));
	if (!perms || !sch || !id) {
		rc = ZSYSTEMERROR;
		goto out;
	}
	for (i = 0; i < in->n; i++) {
		const struct zacl_entry *e = &in->e[i];

		/* removeDuplicates: skip an entry equal to an earlier one */
		for (k = 0; k < i; k++)
			if (entry_equal(&in->e[k], e))
				break;
		if (k < i)
			continue;

		/* world:anyone, and the schemes whose ids are taken as
		 * they are (x509, sasl) when their provider is there */
		if ((strcmp(e->scheme, "world") == 0 &&
		     strcmp(e->id, "anyone") == 0) ||
		    ((providers & ZACL_X509) &&
		     strcmp(e->scheme, "x509") == 0) ||
		    ((providers & ZACL_SASL) &&
		     strcmp(e->scheme, "sasl") == 0)) {
			perms[cnt] = e->perms;
			sch[cnt] = e->scheme;
			id[cnt++] = e->id;
		} else if (strcmp(e->scheme, "auth") == 0) {
			bool any = false;

			for (j = 0; j < n; j++) {
				if (!auth_scheme_authenticated(ids[j].scheme))
					continue;
				any = true;
				perms[cnt] = e->perms;
				sch[cnt] = ids[j].scheme;
				id[cnt++] = ids[j].id ? ids[j].id : "";
			}
			if (!any)
				goto out;
		} else if (strcmp(e->scheme, "digest") == 0) {
			if (!digest_valid(e->id))
				goto out;
			perms[cnt] = e->perms;
			sch[cnt] = e->scheme;
			id[cnt++] = e->id;
		} else if (strcmp(e->scheme, "ip") == 0) {
			if (!ip_valid(e->id))
				goto out;
			perms[cnt] = e->perms;
			sch[cnt] = e->scheme;
			id[cnt++] = e->id;
		} else {
			goto out; /* no provider for this scheme */
		}
	}
	*out = zacl_new(cnt, perms, sch, id);
	rc = *out ? ZOK : ZSYSTEMERROR;
out:
	free(perms);
	free(sch);
	free(id);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Digest                                                               */
/* ------------------------------------------------------------------ */

int zk_digest(const char *user_pw, size_t len, char *out, size_t out_len)
{
	unsigned char sha[SHA_DIGEST_LENGTH];
	const char *colon = memchr(user_pw, ':', len);
	size_t ulen = colon ? (size_t)(colon - user_pw) : len;
	/* base64 of 20 bytes is 28 characters */
	size_t need = ulen + 1 + 28;

	if (!out || out_len < need + 1)
		return -1;
	/* A NUL in the user name would cut the identity short ("a\0b:pw"
	 * would authenticate as "a"): refuse it (the caller answers
	 * AUTHFAILED). */
	if (memchr(user_pw, '\0', ulen))
		return -1;
	SHA1((const unsigned char *)user_pw, len, sha);
	memcpy(out, user_pw, ulen);
	out[ulen] = ':';
	EVP_EncodeBlock((unsigned char *)out + ulen + 1, sha, sizeof(sha));
	out[need] = '\0';
	return (int)need;
}
