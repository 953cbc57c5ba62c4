/*
 * path.c — znode path validation.
 *
 * Design note
 * -----------
 * Mirrors org.apache.zookeeper.common.PathUtils.validatePath (3.8), which
 * works on the Java (UTF-16) string the server decoded from the request's
 * UTF-8 bytes:
 *   - non-empty, starts with '/'; "/" alone is valid;
 *   - no trailing '/';
 *   - no NUL, no empty component ("//"), no "." or ".." component;
 *   - no char in \u0001-\u001F, \u007F-\u009F, \uD800-\uF8FF, \uFFF0-\uFFFF.
 * A sequential create validates path + "1" (so "/a/" is fine then).
 *
 * Here the structural rules run on the bytes: '/' and '.' are single
 * bytes in UTF-8 and never occur inside a multi-byte sequence, so their
 * neighbours in bytes are their neighbours in UTF-16 units.  The character
 * rules decode code points.  Malformed UTF-8 becomes U+FFFD in Java
 * (forbidden), and a code point above U+FFFF becomes a surrogate pair in
 * Java (forbidden), so both are rejected here too.
 */
#include <stddef.h>
#include <stdint.h>

#include "tree/tree.h"

/* Byte i of path + (sequential ? "1" : ""). */
static inline unsigned char at(const char *p, size_t len, size_t i)
{
	return i < len ? (unsigned char)p[i] : '1';
}

/* Decode one UTF-8 code point at p[i]; returns its byte length, or 0 if
 * malformed (overlong, surrogate, > U+10FFFF, truncated). */
static size_t utf8_decode(const char *p, size_t len, size_t i, uint32_t *cp)
{
	unsigned char c = (unsigned char)p[i];
	size_t n, k;
	uint32_t v, min;

	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		v = c & 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		v = c & 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		v = c & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (i + n > len)
		return 0;
	for (k = 1; k < n; k++) {
		unsigned char cc = (unsigned char)p[i + k];

		if ((cc & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (cc & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return n;
}

int32_t zk_java_hash(const char *s, size_t len)
{
	uint32_t h = 0; /* Java int arithmetic: wraps */
	size_t i = 0;

	while (i < len) {
		uint32_t cp = (unsigned char)s[i];
		size_t n;

		if (cp < 0x80) { /* ASCII, the usual name: one UTF-16 unit */
			h = 31 * h + cp;
			i++;
			continue;
		}
		n = utf8_decode(s, len, i, &cp);
		if (!n) {
			cp = 0xfffd;
			n = 1;
		}
		i += n;
		if (cp >= 0x10000) {
			cp -= 0x10000;
			h = 31 * h + (0xd800 + (cp >> 10));
			h = 31 * h + (0xdc00 + (cp & 0x3ff));
		} else {
			h = 31 * h + cp;
		}
	}
	return (int32_t)h;
}

static bool forbidden(uint32_t c)
{
	return c == 0 || (c >= 0x01 && c <= 0x1f) || (c >= 0x7f && c <= 0x9f) ||
	       (c >= 0xd800 && c <= 0xf8ff) ||
	       c >= 0xfff0; /* includes > U+FFFF (surrogates in Java) */
}

/*
 * One pass for the usual all-ASCII path: 1 valid, 0 invalid, -1 when a
 * byte >= 0x80 is met (the general rules below decide).  `path` starts
 * with '/' and is not the bare root.  A component ends at a '/' or at
 * the end; with `sequential` the last one gets a '1' appended, so it can
 * be neither empty nor "." or "..".
 */
static int validate_ascii(const char *p, size_t len, bool sequential)
{
	size_t comp = 1, i, cl;
	unsigned char c;

	for (i = 1; i <= len; i++) {
		c = i < len ? (unsigned char)p[i] : '/';
		if (c == '/') {
			if (i == len && sequential)
				return 1;
			cl = i - comp;
			if (cl == 0 || (p[comp] == '.' &&
					(cl == 1 || (cl == 2 && p[comp + 1] == '.'))))
				return 0;
			comp = i + 1;
		} else if (c < 0x20 || c == 0x7f) {
			return 0; /* NUL and the other control characters */
		} else if (c >= 0x80) {
			return -1;
		}
	}
	return 1;
}

int zk_path_validate(const char *path, size_t len, bool sequential)
{
	size_t n = len + (sequential ? 1 : 0);
	size_t i;

	if (!path && len > 0)
		return ZBADARGUMENTS;
	if (n == 0 || at(path, len, 0) != '/')
		return ZBADARGUMENTS;
	if (n == 1)
		return ZOK; /* the root */
	if (at(path, len, n - 1) == '/')
		return ZBADARGUMENTS;
	switch (validate_ascii(path, len, sequential)) {
	case 1:
		return ZOK;
	case 0:
		return ZBADARGUMENTS;
	default:
		break;
	}

	/* structure, on bytes */
	for (i = 1; i < n; i++) {
		unsigned char c = at(path, len, i);
		unsigned char last = at(path, len, i - 1);
		bool end_next = i + 1 == n || at(path, len, i + 1) == '/';

		if (c == 0)
			return ZBADARGUMENTS;
		if (c == '/' && last == '/')
			return ZBADARGUMENTS;
		if (c == '.' && last == '.') {
			if (at(path, len, i - 2) == '/' && end_next)
				return ZBADARGUMENTS;
		} else if (c == '.') {
			if (last == '/' && end_next)
				return ZBADARGUMENTS;
		}
	}

	/* characters, on code points (the appended '1' is always fine) */
	for (i = 1; i < len;) {
		uint32_t cp;
		size_t k = utf8_decode(path, len, i, &cp);

		if (k == 0 || forbidden(cp))
			return ZBADARGUMENTS;
		i += k;
	}
	return ZOK;
}
