/*
 * fuzz_jute.c — libFuzzer target for the jute record reader (tree/jute.h),
 * the ACL decoder and checks (jr_acl, zacl_fixup, zacl_check), path
 * validation (zk_path_validate) and the auth-identity block the workers
 * prepend to every write (zab_auth_parse).
 *
 * Input: one mode byte, then the bytes that mode decodes.
 *   mode % 5 == 0  vector<ACL>: jr_acl, then write it back (jw_acl) and
 *                  re-read: the round trip must be exact; zacl_fixup and
 *                  zacl_check against a few identities.
 *   mode % 5 == 1  zab_auth_parse with the remaining mode bits choosing
 *                  the string buffer size and id limit; a parsed block is
 *                  re-serialised (zab_auth_write) and must match.
 *   mode % 5 == 2  a path: zk_path_validate (both flavours) and, as a
 *                  jute ustring, jr_buf.
 *   mode % 5 == 3  "soup": each next byte picks a reader (int, long,
 *                  bool, buffer, vector count, ACL) until an error; every
 *                  buffer returned must lie inside the input.
 *   mode % 5 == 4  zk_digest of "user:password".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/consensus.h"
#include "tree/jute.h"
#include "tree/tree.h"

static const uint8_t *in_lo, *in_hi;

static void check_inside(const char *p, int32_t len)
{
	if (!p)
		return;
	if ((const uint8_t *)p < in_lo || (const uint8_t *)p + len > in_hi)
		abort();
	volatile uint8_t sum = 0;
	for (int32_t i = 0; i < len; i++)
		sum ^= (uint8_t)p[i];
	(void)sum;
}

static void do_acl(const uint8_t *d, size_t n)
{
	struct jr r;
	jr_init(&r, d, n);
	struct zacl *a = jr_acl(&r);
	if (!a)
		return;
	struct jw w = {0};
	jw_acl(&w, a, false);
	if (!w.err) {
		struct jr r2;
		jr_init(&r2, w.p, w.len);
		struct zacl *b = jr_acl(&r2);
		/* NUL inside a scheme/id is cut by strndup: compare only the
		 * shape unless the strings are clean */
		if (!b || r2.err || jr_left(&r2) != 0)
			abort();
		struct jw w2 = {0};
		jw_acl(&w2, b, false);
		if (w2.err || w2.len != w.len || memcmp(w2.p, w.p, w.len))
			abort();
		if (!zacl_equal(a, b))
			abort();
		jw_free(&w2);
		zacl_unref(b);
	}
	jw_free(&w);
	jw_acl(&w, a, true);
	jw_free(&w);

	static const struct zauth_id ids[] = {
		{"ip", "127.0.0.1"},
		{"digest", "bob:aGFzaA=="},
		{"ip", "::1"},
	};
	static const struct zauth_id super[] = {{"super", ""}};
	for (int k = 0; k <= 3; k++) {
		struct zacl *out = NULL;
		int rc = zacl_fixup(a, ids, k, 0, &out);
		if (rc == ZOK) {
			if (!out)
				abort();
			for (int perm = 1; perm <= 31; perm <<= 1) {
				(void)zacl_check(out, perm, ids, k);
				if (zacl_check(out, perm, super, 1) != ZOK)
					abort();
			}
			zacl_unref(out);
		} else if (rc != ZINVALIDACL && rc != ZSYSTEMERROR) {
			abort();
		}
	}
	for (int perm = 1; perm <= 31; perm <<= 1)
		(void)zacl_check(a, perm, ids, 3);
	zacl_unref(a);
}

static void do_auth(uint8_t mode, const uint8_t *d, size_t n)
{
	struct zauth_id ids[32];
	char buf[8192];
	size_t buf_len = (mode & 0x80) ? 64 : sizeof(buf);
	int max = (mode & 0x40) ? 2 : 32;
	int got = zab_auth_parse(d, (uint32_t)n, ids, buf, buf_len, max);
	if (got < -1 || got > max)
		abort();
	if (got < 0)
		return;
	for (int i = 0; i < got; i++) {
		if (ids[i].scheme < buf || ids[i].scheme >= buf + buf_len ||
		    ids[i].id < buf || ids[i].id >= buf + buf_len)
			abort();
		(void)strlen(ids[i].scheme);
		(void)strlen(ids[i].id);
	}
	/* re-serialise: identical to the prefix that was parsed, unless a
	 * string held a NUL (the parsed copy stops there) */
	struct jw w = {0};
	zab_auth_write(&w, ids, got);
	if (w.err)
		abort();
	struct zauth_id again[32];
	char buf2[8192];
	if (zab_auth_parse(w.p, (uint32_t)w.len, again, buf2, sizeof(buf2),
			   32) != got)
		abort();
	for (int i = 0; i < got; i++)
		if (strcmp(again[i].scheme, ids[i].scheme) ||
		    strcmp(again[i].id, ids[i].id))
			abort();
	jw_free(&w);
}

static void do_path(const uint8_t *d, size_t n)
{
	/* exact-size heap copy: the validator gets (ptr, len), no NUL */
	char *p = malloc(n ? n : 1);
	if (!p)
		return;
	if (n)
		memcpy(p, d, n);
	int a = zk_path_validate(p, n, false);
	int b = zk_path_validate(p, n, true);
	if ((a != ZOK && a != ZBADARGUMENTS) ||
	    (b != ZOK && b != ZBADARGUMENTS))
		abort();
	/* every path valid without the sequential flag is valid with it */
	if (a == ZOK && b != ZOK)
		abort();
	if (a == ZOK && (n == 0 || p[0] != '/' || memchr(p, 0, n)))
		abort();
	free(p);
	struct jr r;
	jr_init(&r, d, n);
	int32_t len;
	const char *s = jr_buf(&r, &len);
	check_inside(s, len);
}

static void do_soup(const uint8_t *d, size_t n)
{
	struct jr r;
	jr_init(&r, d, n);
	while (!r.err && jr_left(&r) > 0) {
		uint8_t op = r.p[r.off++];
		int32_t len;
		const char *s;
		switch (op % 6) {
		case 0:
			(void)jr_int(&r);
			break;
		case 1:
			(void)jr_long(&r);
			break;
		case 2:
			(void)jr_bool(&r);
			break;
		case 3:
			s = jr_buf(&r, &len);
			if (!r.err && s && len < 0)
				abort();
			check_inside(s, s ? len : 0);
			break;
		case 4: {
			size_t left = jr_left(&r);
			size_t min_elem = op / 6 % 16;
			int32_t cnt = jr_vec(&r, min_elem);
			if (cnt < 0)
				abort();
			if (!r.err && min_elem &&
			    (size_t)cnt * min_elem > left - 4)
				abort();
			break;
		}
		case 5: {
			struct zacl *a = jr_acl(&r);
			if (a && r.err)
				abort();
			zacl_unref(a);
			break;
		}
		}
		if (r.off > r.len)
			abort();
	}
}

static void do_digest(const uint8_t *d, size_t n)
{
	char out[128];
	int rc = zk_digest((const char *)d, n, out, sizeof(out));
	if (rc >= 0 && (size_t)rc != strlen(out))
		abort();
	char small[8];
	(void)zk_digest((const char *)d, n, small, sizeof(small));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	const uint8_t *d = data + 1;
	size_t n = size - 1;
	in_lo = d;
	in_hi = d + n;
	switch (mode % 5) {
	case 0:
		do_acl(d, n);
		break;
	case 1:
		do_auth(mode, d, n);
		break;
	case 2:
		do_path(d, n);
		break;
	case 3:
		do_soup(d, n);
		break;
	case 4:
		do_digest(d, n);
		break;
	}
	return 0;
}
