/*
 * config.c — zoo.cfg parsing.
 *
 * Design note.  Apache ZooKeeper reads zoo.cfg with java.util.Properties
 * .load() and then walks the resulting hash table in
 * QuorumPeerConfig.parseProperties(), trimming every key and value.  We do
 * the same in two passes:
 *
 *  1. Split the file into logical lines exactly as Properties.load does:
 *     "\n", "\r" and "\r\n" end a natural line; leading blanks (space, tab,
 *     form feed) are skipped; a line whose first non-blank is '#' or '!' is
 *     a comment (a comment is never continued); a line ending in an odd
 *     number of backslashes continues on the next one, whose leading
 *     blanks are dropped.  The key ends at the first unescaped '=', ':' or
 *     blank; blanks, then one '=' or ':', then blanks separate it from the
 *     value.  "\t \n \r \f \uXXXX" escapes are decoded (\u as UTF-8) and
 *     any other "\c" is "c".  Key and value are then trimmed like
 *     String.trim().  The file is bytes (Java reads it as ISO-8859-1; we
 *     pass bytes through unchanged).
 *  2. Because a Properties table keeps only the last value of a repeated
 *     key, an entry overridden later in the file is skipped (with a
 *     warning); the survivors are applied in file order, then the checks
 *     ZooKeeper makes after parsing run (dataDir set, clientPort vs
 *     clientPortAddress, session timeout defaults of 2x/20x tickTime and
 *     min <= max, participant/observer counts, initLimit/syncLimit in an
 *     ensemble), so like ZooKeeper the result does not depend on key order.
 *
 * Numbers parse like Integer.parseInt/Long.parseLong (decimal, optional
 * sign); snapCount and jute.maxbuffer are system properties that ZooKeeper
 * reads with Integer.getInteger, i.e. Integer.decode, so "0x..", "#.." and
 * leading-zero octal are accepted there.  Keys that are ZooKeeper system
 * properties (snapCount, preAllocSize, forceSync, 4lw.commands.whitelist,
 * DigestAuthenticationProvider.superDigest) work in zoo.cfg because
 * ZooKeeper copies unknown keys to "zookeeper.<key>" system properties.
 *
 * Everything is parsed into a heap copy, so *c is only written on success.
 */
#include <ctype.h>
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "config/config.h"

#define ZCFG_MAX_FILE (16 << 20)

/* One key=value pair of the file after Properties decoding. */
struct zentry {
	char *key;
	char *val;
	int line;        /* natural line the logical line starts on */
	bool has_sep;    /* false for a bare "key" line */
	int overridden;  /* line of the later entry that replaces it, or 0 */
};

struct zparse {
	struct zcfg *c;
	const char *path;
	char *err;
	size_t err_len;
	void (*warn)(const char *line);
	int line; /* line of the entry being applied, 0 for file-level */

	/* which keys were given, and where (0 = not given) */
	int line_data_dir;
	int line_data_log_dir;
	int line_client_port;
	int line_client_port_address;
	int line_admin_address;
	int line_secure_addr;
	int line_protocols;
	int line_min_st;
	int line_max_st;
	int line_dynamic;
	int line_init_limit;
	int line_sync_limit;
	int server_line[ZCFG_MAX_SERVERS];
};

/* ---- messages ---------------------------------------------------------- */

static int perr(struct zparse *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void pwarn(struct zparse *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static size_t loc_prefix(struct zparse *p, char *buf, size_t len)
{
	int n;

	if (p->line > 0)
		n = snprintf(buf, len, "%s:%d: ", p->path, p->line);
	else
		n = snprintf(buf, len, "%s: ", p->path);
	if (n < 0)
		return 0;
	return (size_t)n < len ? (size_t)n : len - 1;
}

static int perr(struct zparse *p, const char *fmt, ...)
{
	va_list ap;
	size_t off;

	if (!p->err || p->err_len == 0)
		return -1;
	off = loc_prefix(p, p->err, p->err_len);
	va_start(ap, fmt);
	vsnprintf(p->err + off, p->err_len - off, fmt, ap);
	va_end(ap);
	return -1;
}

static void pwarn(struct zparse *p, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	size_t off;

	if (!p->warn)
		return;
	off = loc_prefix(p, buf, sizeof(buf));
	va_start(ap, fmt);
	vsnprintf(buf + off, sizeof(buf) - off, fmt, ap);
	va_end(ap);
	p->warn(buf);
}

/* ---- Properties.load ---------------------------------------------------- */

struct sbuf {
	char *s;
	size_t len, cap;
};

static int sbuf_put(struct sbuf *b, char ch)
{
	if (b->len + 1 >= b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 128;
		char *s = realloc(b->s, cap);

		if (!s)
			return -1;
		b->s = s;
		b->cap = cap;
	}
	b->s[b->len++] = ch;
	b->s[b->len] = '\0';
	return 0;
}

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\f';
}

struct lreader {
	const char *buf;
	size_t n;
	size_t pos;
	int lineno; /* number of the natural line at pos */
};

/* Consume a line terminator at r->pos, if any. */
static void lr_eol(struct lreader *r)
{
	if (r->pos >= r->n)
		return;
	if (r->buf[r->pos] == '\r') {
		r->pos++;
		if (r->pos < r->n && r->buf[r->pos] == '\n')
			r->pos++;
	} else if (r->buf[r->pos] == '\n') {
		r->pos++;
	} else {
		return;
	}
	r->lineno++;
}

static bool lr_at_eol(const struct lreader *r)
{
	return r->pos >= r->n || r->buf[r->pos] == '\n' ||
	       r->buf[r->pos] == '\r';
}

/*
 * Next logical line into `out` (continuations joined, escapes still raw).
 * Returns 1 and its first line number in *start, 0 at end of file, -1 on
 * allocation failure.
 */
static int lr_next(struct lreader *r, struct sbuf *out, int *start)
{
	out->len = 0;
	if (out->s)
		out->s[0] = '\0';
	for (;;) {
		while (r->pos < r->n && is_blank(r->buf[r->pos]))
			r->pos++;
		if (r->pos >= r->n)
			return 0;
		if (lr_at_eol(r)) { /* blank line */
			lr_eol(r);
			continue;
		}
		if (r->buf[r->pos] == '#' || r->buf[r->pos] == '!') {
			while (!lr_at_eol(r))
				r->pos++;
			lr_eol(r);
			continue;
		}
		break;
	}
	*start = r->lineno;
	for (;;) {
		size_t bs = 0;

		while (!lr_at_eol(r)) {
			char ch = r->buf[r->pos++];

			bs = ch == '\\' ? bs + 1 : 0;
			if (sbuf_put(out, ch))
				return -1;
		}
		if (bs % 2 == 0) { /* the logical line ends here */
			lr_eol(r);
			break;
		}
		/* continuation: drop the backslash, join the next line */
		out->s[--out->len] = '\0';
		if (r->pos >= r->n)
			break;
		lr_eol(r);
		while (r->pos < r->n && is_blank(r->buf[r->pos]))
			r->pos++;
	}
	return 1; /* out->s is set: the first character was stored */
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static int read_u4(const char *s, size_t n, size_t i, unsigned *cp)
{
	unsigned v = 0;

	if (i + 4 > n)
		return -1;
	for (size_t k = 0; k < 4; k++) {
		int h = hexval(s[i + k]);

		if (h < 0)
			return -1;
		v = v << 4 | (unsigned)h;
	}
	*cp = v;
	return 0;
}

static size_t utf8_put(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * Properties.loadConvert of s[0..n) into a new string, then String.trim().
 * Returns NULL with *bad set on a malformed escape or a NUL character, or
 * NULL with *bad clear when out of memory.
 */
static char *prop_convert(const char *s, size_t n, bool *bad)
{
	char *o = malloc(n + 1), *a, *b;
	size_t j = 0;

	*bad = false;
	if (!o)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		unsigned cp, lo;

		if (ch == '\0')
			goto bad;
		if (ch != '\\' || i + 1 >= n) {
			o[j++] = ch;
			continue;
		}
		ch = s[++i];
		switch (ch) {
		case 't':
			o[j++] = '\t';
			break;
		case 'n':
			o[j++] = '\n';
			break;
		case 'r':
			o[j++] = '\r';
			break;
		case 'f':
			o[j++] = '\f';
			break;
		case 'u':
			if (read_u4(s, n, i + 1, &cp))
				goto bad;
			i += 4;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				goto bad;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (i + 2 >= n || s[i + 1] != '\\' ||
				    s[i + 2] != 'u' ||
				    read_u4(s, n, i + 3, &lo) || lo < 0xdc00 ||
				    lo > 0xdfff)
					goto bad;
				i += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				     (lo - 0xdc00);
			}
			if (cp == 0)
				goto bad;
			j += utf8_put(o + j, cp);
			break;
		default:
			o[j++] = ch;
			break;
		}
	}
	o[j] = '\0';
	/* String.trim(): strip chars <= ' ' at both ends */
	for (a = o; *a && (unsigned char)*a <= ' '; a++)
		;
	for (b = a + strlen(a); b > a && (unsigned char)b[-1] <= ' '; b--)
		;
	*b = '\0';
	memmove(o, a, (size_t)(b - a) + 1);
	return o;
bad:
	free(o);
	*bad = true;
	return NULL;
}

/* Split a logical line into key and value as Properties.load0 does. */
static int prop_split(struct zparse *p, const char *line, size_t len,
		      struct zentry *e)
{
	size_t klen = 0, vstart = len;
	bool sep = false, prev_bs = false, bad;

	while (klen < len) {
		char ch = line[klen];

		if ((ch == '=' || ch == ':') && !prev_bs) {
			vstart = klen + 1;
			sep = true;
			break;
		}
		if (is_blank(ch) && !prev_bs) {
			vstart = klen + 1;
			break;
		}
		prev_bs = ch == '\\' ? !prev_bs : false;
		klen++;
	}
	while (vstart < len) {
		char ch = line[vstart];

		if (!is_blank(ch)) {
			if (!sep && (ch == '=' || ch == ':'))
				sep = true;
			else
				break;
		}
		vstart++;
	}
	e->has_sep = sep || vstart < len;
	e->key = prop_convert(line, klen, &bad);
	if (!e->key)
		goto fail;
	e->val = prop_convert(line + vstart, len - vstart, &bad);
	if (!e->val)
		goto fail;
	return 0;
fail:
	if (bad)
		return perr(p, "malformed \\uxxxx escape or NUL character");
	return perr(p, "out of memory");
}

/* ---- value parsers ------------------------------------------------------ */

/* Integer.parseInt / Long.parseLong: optional sign, decimal digits. */
static int num_dec(const char *s, int64_t *out)
{
	const char *d = (*s == '+' || *s == '-') ? s + 1 : s;
	char *end;
	long long v;

	if (!isdigit((unsigned char)*d))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end)
		return -1;
	if (errno == ERANGE)
		return -2;
	*out = v;
	return 0;
}

/* Integer.decode: sign, then "0x", "0X", "#" (hex), "0" (octal) or dec. */
static int num_decode(const char *s, int64_t *out)
{
	const char *d = s;
	bool neg = false;
	int base = 10;
	char *end;
	unsigned long long v;

	if (*d == '+' || *d == '-')
		neg = *d++ == '-';
	if (d[0] == '0' && (d[1] == 'x' || d[1] == 'X')) {
		base = 16;
		d += 2;
	} else if (d[0] == '#') {
		base = 16;
		d++;
	} else if (d[0] == '0' && d[1]) {
		base = 8;
		d++;
	}
	if (base == 16 ? hexval(*d) < 0 :
	    base == 8 ? (*d < '0' || *d > '7') : !isdigit((unsigned char)*d))
		return -1;
	errno = 0;
	v = strtoull(d, &end, base);
	if (*end)
		return -1;
	if (errno == ERANGE || v > (unsigned long long)INT64_MAX)
		return -2;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

static int get_num(struct zparse *p, const char *key, const char *val,
		   bool decode, int64_t min, int64_t max, int64_t *out)
{
	int rc = decode ? num_decode(val, out) : num_dec(val, out);

	if (rc == -1)
		return perr(p, "%s: not a number: '%.80s'", key, val);
	if (rc == -2 || *out < min || *out > max)
		return perr(p, "%s: out of range [%lld, %lld]: '%.80s'", key,
			    (long long)min, (long long)max, val);
	return 0;
}

static int get_int(struct zparse *p, const char *key, const char *val,
		   int min, int max, int *out)
{
	int64_t v = 0;

	if (get_num(p, key, val, false, min, max, &v))
		return -1;
	*out = (int)v;
	return 0;
}

static int get_port(struct zparse *p, const char *key, const char *val,
		    int min, int *out)
{
	int64_t v;

	if (num_dec(val, &v) || v < min || v > 65535)
		return perr(p, "%s: not a port number: '%.80s'", key, val);
	*out = (int)v;
	return 0;
}

/* QuorumPeerConfig.parseBoolean */
static int get_bool(struct zparse *p, const char *key, const char *val,
		    bool *out)
{
	if (!strcasecmp(val, "true"))
		*out = true;
	else if (!strcasecmp(val, "false"))
		*out = false;
	else
		return perr(p, "%s: invalid option '%.80s', choose 'true' or "
			    "'false'", key, val);
	return 0;
}

static int get_str(struct zparse *p, const char *key, const char *val,
		   bool allow_empty, char *dst, size_t cap)
{
	size_t n = strlen(val);

	if (!n && !allow_empty)
		return perr(p, "%s: empty value", key);
	if (n >= cap)
		return perr(p, "%s: value too long (max %zu bytes)", key,
			    cap - 1);
	memcpy(dst, val, n + 1);
	return 0;
}

/* ---- keys paddock uses -------------------------------------------------- */

typedef int (*zkey_fn)(struct zparse *p, const char *key, const char *val);

static int k_tick_time(struct zparse *p, const char *key, const char *val)
{
	return get_int(p, key, val, 1, INT_MAX, &p->c->tick_time);
}

static int k_data_dir(struct zparse *p, const char *key, const char *val)
{
	p->line_data_dir = p->line;
	return get_str(p, key, val, false, p->c->data_dir,
		       sizeof(p->c->data_dir));
}

static int k_data_log_dir(struct zparse *p, const char *key, const char *val)
{
	p->line_data_log_dir = p->line;
	return get_str(p, key, val, false, p->c->data_log_dir,
		       sizeof(p->c->data_log_dir));
}

static int k_client_port(struct zparse *p, const char *key, const char *val)
{
	/* like ZooKeeper, clientPort=0 means "not set" */
	if (get_port(p, key, val, 0, &p->c->client_port))
		return -1;
	p->line_client_port = p->c->client_port ? p->line : 0;
	return 0;
}

static int k_client_port_address(struct zparse *p, const char *key,
				 const char *val)
{
	char *a = p->c->client_port_address;
	size_t n;

	if (get_str(p, key, val, false, a, sizeof(p->c->client_port_address)))
		return -1;
	n = strlen(a);
	if (a[0] == '[') { /* "[::1]" → "::1" */
		if (n < 3 || a[n - 1] != ']')
			return perr(p, "%s: bad address: '%.80s'", key, val);
		memmove(a, a + 1, n - 2);
		a[n - 2] = '\0';
	}
	p->line_client_port_address = p->line;
	return 0;
}

static int k_max_client_cnxns(struct zparse *p, const char *key,
			      const char *val)
{
	return get_int(p, key, val, 0, INT_MAX, &p->c->max_client_cnxns);
}

/* -1 is ZooKeeper's "use the default" */
static int k_min_st(struct zparse *p, const char *key, const char *val)
{
	if (get_int(p, key, val, -1, INT_MAX, &p->c->min_session_timeout))
		return -1;
	p->line_min_st = p->c->min_session_timeout == -1 ? 0 : p->line;
	return 0;
}

static int k_max_st(struct zparse *p, const char *key, const char *val)
{
	if (get_int(p, key, val, -1, INT_MAX, &p->c->max_session_timeout))
		return -1;
	p->line_max_st = p->c->max_session_timeout == -1 ? 0 : p->line;
	return 0;
}

/* FourLetterCommands: comma separated, each trimmed, "*" = everything */
static int k_4lw(struct zparse *p, const char *key, const char *val)
{
	char *out = p->c->four_lw_whitelist;
	size_t cap = sizeof(p->c->four_lw_whitelist), len = 0;
	const char *s = val;

	out[0] = '\0';
	while (*s) {
		const char *e = strchr(s, ','), *a = s, *b;

		if (!e)
			e = s + strlen(s);
		b = e;
		while (a < b && (unsigned char)*a <= ' ')
			a++;
		while (b > a && (unsigned char)b[-1] <= ' ')
			b--;
		if (b - a == 1 && *a == '*') {
			strcpy(out, "*");
			return 0;
		}
		if (b > a) {
			size_t n = (size_t)(b - a);

			if (len + n + 2 > cap)
				return perr(p, "%s: value too long (max %zu "
					    "bytes)", key, cap - 1);
			if (len)
				out[len++] = ',';
			memcpy(out + len, a, n);
			len += n;
			out[len] = '\0';
		}
		s = *e ? e + 1 : e;
	}
	return 0;
}

static int k_init_limit(struct zparse *p, const char *key, const char *val)
{
	p->line_init_limit = p->line;
	return get_int(p, key, val, 0, INT_MAX, &p->c->init_limit);
}

static int k_sync_limit(struct zparse *p, const char *key, const char *val)
{
	p->line_sync_limit = p->line;
	return get_int(p, key, val, 0, INT_MAX, &p->c->sync_limit);
}

/* ZooKeeperServer: "SnapCount should be 2 or more", reset to 2 */
static int k_snap_count(struct zparse *p, const char *key, const char *val)
{
	if (get_num(p, key, val, true, INT32_MIN, INT32_MAX,
		    &p->c->snap_count))
		return -1;
	if (p->c->snap_count < 2) {
		pwarn(p, "%s: %lld is less than 2, using 2 like ZooKeeper",
		      key, (long long)p->c->snap_count);
		p->c->snap_count = 2;
	}
	return 0;
}

/* FilePadding: KiB; 0 turns preallocation off */
static int k_prealloc(struct zparse *p, const char *key, const char *val)
{
	int64_t kib = 0;

	if (get_num(p, key, val, false, 0, INT64_MAX / 1024, &kib))
		return -1;
	p->c->prealloc_size = kib * 1024;
	return 0;
}

static int k_jute_maxbuffer(struct zparse *p, const char *key,
			    const char *val)
{
	int64_t v = 0;

	if (get_num(p, key, val, true, 1, INT32_MAX, &v))
		return -1;
	p->c->jute_maxbuffer = (int32_t)v;
	return 0;
}

static int k_force_sync(struct zparse *p, const char *key, const char *val)
{
	if (!strcasecmp(val, "yes"))
		p->c->force_sync = true;
	else if (!strcasecmp(val, "no"))
		p->c->force_sync = false;
	else
		return perr(p, "%s: invalid option '%.80s', choose 'yes' or "
			    "'no'", key, val);
	return 0;
}

/* "user:base64(sha1(user:password))"; empty = no super user */
static int k_super_digest(struct zparse *p, const char *key, const char *val)
{
	const char *colon = strchr(val, ':');

	if (*val && (!colon || colon == val || !colon[1]))
		return perr(p, "%s: expected 'user:digest': '%.80s'", key,
			    val);
	return get_str(p, key, val, true, p->c->super_digest,
		       sizeof(p->c->super_digest));
}

/* QuorumPeerConfig: below MIN_SNAP_RETAIN_COUNT (3) resets to 3 */
static int k_snap_retain(struct zparse *p, const char *key, const char *val)
{
	if (get_int(p, key, val, INT_MIN, INT_MAX, &p->c->snap_retain_count))
		return -1;
	if (p->c->snap_retain_count < 3) {
		pwarn(p, "%s: %d is less than 3, using 3 like ZooKeeper", key,
		      p->c->snap_retain_count);
		p->c->snap_retain_count = 3;
	}
	return 0;
}

/* DatadirCleanupManager: <= 0 means the purge task is off */
static int k_purge_interval(struct zparse *p, const char *key,
			    const char *val)
{
	if (get_int(p, key, val, INT_MIN, INT_MAX, &p->c->purge_interval))
		return -1;
	if (p->c->purge_interval < 0)
		p->c->purge_interval = 0;
	return 0;
}

/* Standalone: reconfig is answered RECONFIGDISABLED, or UNIMPLEMENTED
 * when enabled (ZooKeeperServer has no reconfig of its own). */
static int k_reconfig(struct zparse *p, const char *key, const char *val)
{
	return get_bool(p, key, val, &p->c->reconfig_enabled);
}

/* Hard quota limits refuse writes (QUOTAEXCEEDED) only when on. */
static int k_enforce_quota(struct zparse *p, const char *key, const char *val)
{
	return get_bool(p, key, val, &p->c->enforce_quota);
}

static int k_standalone(struct zparse *p, const char *key, const char *val)
{
	return get_bool(p, key, val, &p->c->standalone_enabled);
}

static int k_commit_log_count(struct zparse *p, const char *key,
			      const char *val)
{
	return get_int(p, key, val, 1, 10000000, &p->c->commit_log_count);
}

static int k_read_only(struct zparse *p, const char *key, const char *val)
{
	return get_bool(p, key, val, &p->c->read_only_mode);
}

static int k_digest(struct zparse *p, const char *key, const char *val)
{
	return get_bool(p, key, val, &p->c->digest_enabled);
}

static int k_admin_enable(struct zparse *p, const char *key, const char *val)
{
	return get_bool(p, key, val, &p->c->admin_enabled);
}

static int k_admin_address(struct zparse *p, const char *key,
			   const char *val)
{
	p->line_admin_address = p->line;
	return get_str(p, key, val, false, p->c->admin_address,
		       sizeof(p->c->admin_address));
}

static int k_admin_port(struct zparse *p, const char *key, const char *val)
{
	return get_port(p, key, val, 1, &p->c->admin_port);
}

static int k_admin_url(struct zparse *p, const char *key, const char *val)
{
	if (val[0] != '/')
		return perr(p, "%s: must start with '/': '%.80s'", key, val);
	return get_str(p, key, val, false, p->c->admin_url,
		       sizeof(p->c->admin_url));
}

/* ZooKeeper loads any class named here; paddock has one provider, the
 * Prometheus one, and refuses other names rather than ignore them. */
static int k_metrics_class(struct zparse *p, const char *key,
			   const char *val)
{
	const char *dot = strrchr(val, '.');
	const char *base = dot ? dot + 1 : val;

	if (!strcmp(base, "PrometheusMetricsProvider"))
		p->c->prometheus = true;
	else if (!strcmp(base, "DefaultMetricsProvider") ||
		 !strcmp(base, "NullMetricsProvider"))
		p->c->prometheus = false;
	else
		return perr(p, "%s: unknown metrics provider '%.80s' (paddockd "
			    "has PrometheusMetricsProvider and "
			    "DefaultMetricsProvider)", key, val);
	return 0;
}

static int k_metrics_host(struct zparse *p, const char *key,
			  const char *val)
{
	return get_str(p, key, val, false, p->c->metrics_host,
		       sizeof(p->c->metrics_host));
}

static int k_metrics_port(struct zparse *p, const char *key,
			  const char *val)
{
	return get_port(p, key, val, 1, &p->c->metrics_port);
}

static int k_secure_port(struct zparse *p, const char *key, const char *val)
{
	return get_port(p, key, val, 0, &p->c->secure_client_port);
}

static int k_secure_addr(struct zparse *p, const char *key, const char *val)
{
	p->line_secure_addr = p->line;
	return get_str(p, key, val, false, p->c->secure_client_addr,
		       sizeof(p->c->secure_client_addr));
}

#define SSL_STR(fn, field, empty)                                         \
	static int fn(struct zparse *p, const char *key, const char *val) \
	{                                                                 \
		return get_str(p, key, val, empty, p->c->field,           \
			       sizeof(p->c->field));                      \
	}
SSL_STR(k_ks, ssl_key_store, false)
SSL_STR(k_ks_pw, ssl_key_store_password, true)
SSL_STR(k_ts, ssl_trust_store, false)
SSL_STR(k_ts_pw, ssl_trust_store_password, true)
SSL_STR(k_ciphers, ssl_ciphers, true)
#undef SSL_STR

static int store_type(struct zparse *p, const char *key, const char *val,
		      char *dst, size_t cap)
{
	if (!strcasecmp(val, "PEM") || !strcasecmp(val, "PKCS12"))
		return get_str(p, key, val, false, dst, cap);
	if (!strcasecmp(val, "JKS") || !strcasecmp(val, "BCFKS"))
		return perr(p, "%s: %s stores are Java's own format; convert "
			    "to PKCS12 (keytool -importkeystore "
			    "-deststoretype PKCS12) or PEM", key, val);
	return perr(p, "%s: unknown store type '%.80s' (PEM or PKCS12)", key,
		    val);
}

static int k_ks_type(struct zparse *p, const char *key, const char *val)
{
	return store_type(p, key, val, p->c->ssl_key_store_type,
			  sizeof(p->c->ssl_key_store_type));
}

static int k_ts_type(struct zparse *p, const char *key, const char *val)
{
	return store_type(p, key, val, p->c->ssl_trust_store_type,
			  sizeof(p->c->ssl_trust_store_type));
}

static int k_client_auth(struct zparse *p, const char *key, const char *val)
{
	if (!strcasecmp(val, "need"))
		p->c->ssl_client_auth = ZCFG_AUTH_NEED;
	else if (!strcasecmp(val, "want"))
		p->c->ssl_client_auth = ZCFG_AUTH_WANT;
	else if (!strcasecmp(val, "none"))
		p->c->ssl_client_auth = ZCFG_AUTH_NONE;
	else
		return perr(p, "%s: '%.80s' is not need, want or none", key,
			    val);
	return 0;
}

/* ssl.protocol=TLSv1.2 (that and newer) or ssl.enabledProtocols=a,b */
static int k_protocols(struct zparse *p, const char *key, const char *val)
{
	char buf[128], *save = NULL;
	if (get_str(p, key, val, false, buf, sizeof(buf)))
		return -1;
	for (char *t = strtok_r(buf, ", ", &save); t;
	     t = strtok_r(NULL, ", ", &save))
		if (strcmp(t, "TLSv1.2") && strcmp(t, "TLSv1.3") &&
		    strcmp(t, "TLS"))
			return perr(p, "%s: '%.40s' is not TLSv1.2 or TLSv1.3",
				    key, t);
	if (!strcmp(key + strlen(key) - 8, "protocol")) {
		if (p->line_protocols) /* enabledProtocols wins */
			return 0;
		snprintf(p->c->ssl_protocols, sizeof(p->c->ssl_protocols),
			 "%s", !strcmp(val, "TLSv1.3") ? "TLSv1.3"
						       : "TLSv1.2,TLSv1.3");
		return 0;
	}
	p->line_protocols = p->line;
	snprintf(p->c->ssl_protocols, sizeof(p->c->ssl_protocols), "%s", val);
	return 0;
}

/* authProvider.N=<class>: X509AuthenticationProvider is paddock's; the
 * others (SASL, Kerberos) are accepted and not used. */
static int k_auth_provider(struct zparse *p, const char *key,
			   const char *val)
{
	const char *dot = strrchr(val, '.');
	if (!strcmp(dot ? dot + 1 : val, "X509AuthenticationProvider"))
		p->c->x509_auth = true;
	else if (!strcmp(dot ? dot + 1 : val, "SASLAuthenticationProvider"))
		p->c->sasl_auth = true;
	else
		pwarn(p, "%s: %.120s: accepted, not used by paddockd", key,
		      val);
	return 0;
}

/* A JVM property in ZooKeeper; a zoo.cfg key for paddockd */
static int k_jaas(struct zparse *p, const char *key, const char *val)
{
	return get_str(p, key, val, false, p->c->jaas_config,
		       sizeof(p->c->jaas_config));
}

static int k_dataplane(struct zparse *p, const char *key, const char *val)
{
	if (!strcmp(val, "kernel"))
		p->c->dpdk = false;
	else if (!strcmp(val, "dpdk"))
		p->c->dpdk = true;
	else
		return perr(p, "%s: '%.80s' is neither kernel nor dpdk", key,
			    val);
	return 0;
}

static int k_dpdk_eal(struct zparse *p, const char *key, const char *val)
{
	if (strlen(val) >= sizeof(p->c->dpdk_eal))
		return perr(p, "%s: longer than %zu bytes", key,
			    sizeof(p->c->dpdk_eal) - 1);
	strcpy(p->c->dpdk_eal, val);
	return 0;
}

static int k_dpdk_port(struct zparse *p, const char *key, const char *val)
{
	return get_int(p, key, val, 0, 1023, &p->c->dpdk_port);
}

/* a dotted IPv4 address, host order; `mask`: must be a netmask */
static int get_ipv4(struct zparse *p, const char *key, const char *val,
		    bool mask, uint32_t *out)
{
	struct in_addr a;
	uint32_t v;

	if (inet_pton(AF_INET, val, &a) != 1)
		return perr(p, "%s: not an IPv4 address: '%.80s'", key, val);
	v = ntohl(a.s_addr);
	/* a netmask's complement is 2^k - 1 */
	if (mask && ((~v + 1) & ~v))
		return perr(p, "%s: not a netmask: '%.80s'", key, val);
	*out = v;
	return 0;
}

static int k_dpdk_ip(struct zparse *p, const char *key, const char *val)
{
	return get_ipv4(p, key, val, false, &p->c->dpdk_ip);
}

static int k_dpdk_netmask(struct zparse *p, const char *key, const char *val)
{
	return get_ipv4(p, key, val, true, &p->c->dpdk_netmask);
}

static int k_dpdk_gateway(struct zparse *p, const char *key, const char *val)
{
	return get_ipv4(p, key, val, false, &p->c->dpdk_gateway);
}

static int k_dpdk_mbufs(struct zparse *p, const char *key, const char *val)
{
	return get_int(p, key, val, 1023, 16 << 20, &p->c->dpdk_mbufs);
}

static int k_dpdk_conns(struct zparse *p, const char *key, const char *val)
{
	return get_int(p, key, val, 1, 1 << 20, &p->c->dpdk_conns);
}

static int k_dpdk_buf(struct zparse *p, const char *key, const char *val)
{
	return get_int(p, key, val, 4, 1 << 20, &p->c->dpdk_buf_kib);
}

static int k_dpdk_busy(struct zparse *p, const char *key, const char *val)
{
	return get_bool(p, key, val, &p->c->dpdk_busy_poll);
}

/* "loss=3,dup=0.5,reorder=5,delay=2,jitter=3,seed=7" */
static int k_dpdk_impair(struct zparse *p, const char *key, const char *val)
{
	struct zcfg *c = p->c;
	char buf[256], *save = NULL;

	if (strlen(val) >= sizeof(buf))
		return perr(p, "%s: too long", key);
	strcpy(buf, val);
	for (char *t = strtok_r(buf, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(t, '='), *end;
		double v;

		if (!eq)
			return perr(p, "%s: '%.40s' is not name=value", key, t);
		*eq = '\0';
		v = strtod(eq + 1, &end);
		if (end == eq + 1 || *end || v < 0)
			return perr(p, "%s: %s: not a number >= 0: '%.40s'", key,
				    t, eq + 1);
		if (!strcmp(t, "loss") && v <= 100)
			c->impair_loss_pm = (int)(v * 10);
		else if (!strcmp(t, "dup") && v <= 100)
			c->impair_dup_pm = (int)(v * 10);
		else if (!strcmp(t, "reorder") && v <= 100)
			c->impair_reorder_pm = (int)(v * 10);
		else if (!strcmp(t, "delay") && v <= 1000)
			c->impair_delay_ms = (int)v;
		else if (!strcmp(t, "jitter") && v <= 1000)
			c->impair_jitter_ms = (int)v;
		else if (!strcmp(t, "seed"))
			c->impair_seed = (unsigned)v;
		else
			return perr(p, "%s: unknown or out of range: %s=%s "
				    "(loss, dup, reorder: percent; delay, "
				    "jitter: ms up to 1000; seed)", key, t,
				    eq + 1);
	}
	return 0;
}

static int k_cumulative_acks(struct zparse *p, const char *key,
			     const char *val)
{
	return get_bool(p, key, val, &p->c->cumulative_acks);
}

static int k_peer_queue_limit(struct zparse *p, const char *key,
			      const char *val)
{
	return get_int(p, key, val, 1, 65536, &p->c->peer_queue_mib);
}

static int k_finalize_wait(struct zparse *p, const char *key,
			   const char *val)
{
	return get_int(p, key, val, 1, 60000, &p->c->finalize_wait_ms);
}

static int k_workers(struct zparse *p, const char *key, const char *val)
{
	return get_int(p, key, val, 1, ZCFG_MAX_WORKERS, &p->c->workers);
}

/* Flow-control limits (see config_int.h).  ZooKeeper reads them as
 * "zookeeper.<key>" system properties, which a zoo.cfg line "<key>=v"
 * sets (QuorumPeerConfig puts unknown keys there); a zoo.cfg line
 * "zookeeper.<key>=v" would set "zookeeper.zookeeper.<key>", which
 * ZooKeeper ignores, and so does paddockd (an unknown-key warning). */
static int k_global_outstanding(struct zparse *p, const char *key,
				const char *val)
{
	return get_int(p, key, val, 1, INT_MAX,
		       &p->c->global_outstanding_limit);
}

static int k_conn_outstanding(struct zparse *p, const char *key,
			      const char *val)
{
	return get_int(p, key, val, 1, INT_MAX,
		       &p->c->conn_outstanding_limit);
}

static int k_max_cnxns(struct zparse *p, const char *key, const char *val)
{
	return get_int(p, key, val, 0, INT_MAX, &p->c->max_cnxns);
}

static int k_throttle_max(struct zparse *p, const char *key, const char *val)
{
	return get_int(p, key, val, 0, INT_MAX, &p->c->request_throttle_max);
}

static int k_throttle_stall(struct zparse *p, const char *key,
			    const char *val)
{
	return get_int(p, key, val, 1, INT_MAX,
		       &p->c->request_throttle_stall_ms);
}

static int k_conn_tokens(struct zparse *p, const char *key, const char *val)
{
	return get_int(p, key, val, 0, INT_MAX, &p->c->conn_throttle_tokens);
}

static int k_conn_fill_time(struct zparse *p, const char *key,
			    const char *val)
{
	return get_int(p, key, val, 1, INT_MAX, &p->c->conn_throttle_fill_ms);
}

static int k_conn_fill_count(struct zparse *p, const char *key,
			     const char *val)
{
	return get_int(p, key, val, 1, INT_MAX,
		       &p->c->conn_throttle_fill_count);
}

static int k_container_interval(struct zparse *p, const char *key,
				const char *val)
{
	return get_int(p, key, val, 1, INT32_MAX,
		       &p->c->container_check_interval_ms);
}

static int k_peer_type(struct zparse *p, const char *key, const char *val)
{
	if (!strcasecmp(val, "observer"))
		p->c->peer_type_observer = true;
	else if (!strcasecmp(val, "participant"))
		p->c->peer_type_observer = false;
	else
		return perr(p, "%s: unrecognised peer type '%.80s', choose "
			    "'participant' or 'observer'", key, val);
	return 0;
}

/* Accepted and otherwise unused, but ZooKeeper rejects anything but 3. */
static int k_election_alg(struct zparse *p, const char *key, const char *val)
{
	int64_t v;

	if (num_dec(val, &v) || v != 3)
		return perr(p, "%s: invalid value '%.80s', only 3 is supported",
			    key, val);
	pwarn(p, "%s: accepted, not used by paddockd", key);
	return 0;
}

static int k_dynamic(struct zparse *p, const char *key, const char *val)
{
	p->line_dynamic = p->line;
	pwarn(p, "%s: accepted, not used by paddockd", key);
	return 0;
}

static const struct {
	const char *name;
	zkey_fn fn;
} used_keys[] = {
	{ "tickTime", k_tick_time },
	{ "dataDir", k_data_dir },
	{ "dataLogDir", k_data_log_dir },
	{ "clientPort", k_client_port },
	{ "clientPortAddress", k_client_port_address },
	{ "maxClientCnxns", k_max_client_cnxns },
	{ "minSessionTimeout", k_min_st },
	{ "maxSessionTimeout", k_max_st },
	{ "4lw.commands.whitelist", k_4lw },
	{ "initLimit", k_init_limit },
	{ "syncLimit", k_sync_limit },
	{ "snapCount", k_snap_count },
	{ "preAllocSize", k_prealloc },
	{ "jute.maxbuffer", k_jute_maxbuffer },
	{ "forceSync", k_force_sync },
	{ "DigestAuthenticationProvider.superDigest", k_super_digest },
	{ "zookeeper.DigestAuthenticationProvider.superDigest",
	  k_super_digest },
	{ "autopurge.snapRetainCount", k_snap_retain },
	{ "autopurge.purgeInterval", k_purge_interval },
	{ "standaloneEnabled", k_standalone },
	{ "reconfigEnabled", k_reconfig },
	{ "enforceQuota", k_enforce_quota },
	{ "paddock.workers", k_workers },
	{ "paddock.finalizeWait", k_finalize_wait },
	{ "paddock.cumulativeAcks", k_cumulative_acks },
	{ "paddock.peerQueueLimit", k_peer_queue_limit },
	{ "paddock.dataplane", k_dataplane },
	{ "paddock.dpdk.eal", k_dpdk_eal },
	{ "paddock.dpdk.port", k_dpdk_port },
	{ "paddock.dpdk.ip", k_dpdk_ip },
	{ "paddock.dpdk.netmask", k_dpdk_netmask },
	{ "paddock.dpdk.gateway", k_dpdk_gateway },
	{ "paddock.dpdk.mbufs", k_dpdk_mbufs },
	{ "paddock.dpdk.maxConns", k_dpdk_conns },
	{ "paddock.dpdk.socketBufferKiB", k_dpdk_buf },
	{ "paddock.dpdk.busyPoll", k_dpdk_busy },
	{ "paddock.dpdk.impair", k_dpdk_impair },
	{ "commitLogCount", k_commit_log_count },
	{ "java.security.auth.login.config", k_jaas },
	{ "secureClientPort", k_secure_port },
	{ "secureClientPortAddress", k_secure_addr },
	{ "ssl.keyStore.location", k_ks },
	{ "ssl.keyStore.password", k_ks_pw },
	{ "ssl.keyStore.type", k_ks_type },
	{ "ssl.trustStore.location", k_ts },
	{ "ssl.trustStore.password", k_ts_pw },
	{ "ssl.trustStore.type", k_ts_type },
	{ "ssl.clientAuth", k_client_auth },
	{ "ssl.protocol", k_protocols },
	{ "ssl.enabledProtocols", k_protocols },
	{ "ssl.ciphersuites", k_ciphers },
	{ "admin.enableServer", k_admin_enable },
	{ "admin.serverAddress", k_admin_address },
	{ "admin.serverPort", k_admin_port },
	{ "admin.commandURL", k_admin_url },
	{ "metricsProvider.className", k_metrics_class },
	{ "metricsProvider.httpHost", k_metrics_host },
	{ "metricsProvider.httpPort", k_metrics_port },
	{ "readonlymode.enabled", k_read_only },
	{ "digest.enabled", k_digest },
	{ "znode.container.checkIntervalMs", k_container_interval },
	{ "peerType", k_peer_type },
	{ "globalOutstandingLimit", k_global_outstanding },
	{ "paddock.maxOutstandingPerConnection", k_conn_outstanding },
	{ "maxCnxns", k_max_cnxns },
	{ "request_throttle_max_requests", k_throttle_max },
	{ "request_throttle_stall_time", k_throttle_stall },
	{ "connection_throttle_tokens", k_conn_tokens },
	{ "connection_throttle_fill_time", k_conn_fill_time },
	{ "connection_throttle_fill_count", k_conn_fill_count },
};

/* Keys with some checking of their own but otherwise unused. */
static const struct {
	const char *name;
	zkey_fn fn;
} checked_unused_keys[] = {
	{ "electionAlg", k_election_alg },
	{ "dynamicConfigFile", k_dynamic },
};

/* ZooKeeper keys (and common system properties) paddock ignores. */
static const char *const unused_keys[] = {
	"leaderServes", "quorumListenOnAllIPs",
	"syncEnabled", "skipACL", "localSessionsEnabled",
	"localSessionsUpgradingEnabled", "observerMasterPort",
	"clientPortListenBacklog", "connectToLearnerMasterLimit",
	"sslQuorum", "portUnification", "sslQuorumReloadCertFiles",
	"quorum.cnxn.threads.size", "oraclePath", "serverCnxnFactory",
	"fsync.warningthresholdms", "snapSizeLimitInKb",
	"txnLogSizeLimitInKb", "commitLogCount",
	"snapshot.trust.empty", "audit.enable", "electionPortBindRetry",
	"requireClientAuthScheme",
	/* flow control: paddock never drops a request or a connection to
	 * throttle it, so BlueThrottle's random drop, the RequestThrottler's
	 * stale drop and THROTTLEDOP answers have nothing to configure */
	"connection_throttle_freeze_time", "connection_throttle_drop_increase",
	"connection_throttle_drop_decrease",
	"connection_throttle_decrease_ratio",
	"connection_throttle_weight_enabled",
	"connection_throttle_global_session_weight",
	"connection_throttle_local_session_weight",
	"connection_throttle_renew_session_weight",
	"request_throttle_drop_stale", "throttled_op_wait_time",
};

static const char *const unused_prefixes[] = {
	"admin.", "metricsProvider.", "authProvider.", "ssl.",
	"quorum.auth.", "jvm.pause.", "multiAddress.", "group.", "weight.",
	"kerberos.", "zookeeper.ssl.", "netty.",
};

/* ---- server.N lines ------------------------------------------------------ */

#define WRONG_FORMAT                                                     \
	"does not have the form host:port:port[:participant|:observer]" \
	"[;[clientaddr:]clientport]"

/*
 * ZooKeeper's splitWithLeadingHostname: "[v6]:a:b" → {"v6", "a", "b"}, or
 * a plain split on ':'.  Splits `s` in place; returns the number of parts,
 * -1 for a '[' without "]:", -2 for too many parts.
 */
static int split_host(char *s, char **parts, int max)
{
	int n = 0;

	if (*s == '[') {
		char *e = strstr(s, "]:");

		if (!e)
			return -1;
		*e = '\0';
		parts[n++] = s + 1;
		s = e + 2;
	}
	for (;;) {
		char *c = strchr(s, ':');

		if (n == max)
			return -2;
		parts[n++] = s;
		if (!c)
			break;
		*c = '\0';
		s = c + 1;
	}
	return n;
}

static void trim_inplace(char **s)
{
	char *a = *s, *b;

	while ((unsigned char)*a && (unsigned char)*a <= ' ')
		a++;
	b = a + strlen(a);
	while (b > a && (unsigned char)b[-1] <= ' ')
		b--;
	*b = '\0';
	*s = a;
}

static int server_port(struct zparse *p, const char *key, char *s, int *out)
{
	trim_inplace(&s);
	return get_port(p, key, s, 1, out);
}

static int parse_server(struct zparse *p, const char *key, const char *val)
{
	struct zcfg *c = p->c;
	struct zcfg_server *sv;
	char buf[1024], *semi, *parts[5], *host;
	int64_t id;
	int n;

	if (num_dec(key + 7, &id) || id < 0 || id > INT_MAX)
		return perr(p, "%s: bad server id '%.80s'", key, key + 7);
	for (int i = 0; i < c->n_servers; i++)
		if (c->servers[i].id == id)
			return perr(p, "%s: duplicate server id %lld (first "
				    "given on line %d)", key, (long long)id,
				    p->server_line[i]);
	if (c->n_servers == ZCFG_MAX_SERVERS)
		return perr(p, "%s: too many servers (max %d)", key,
			    ZCFG_MAX_SERVERS);
	if (strlen(val) >= sizeof(buf))
		return perr(p, "%s: value too long", key);
	strcpy(buf, val);
	if (strchr(buf, '|'))
		return perr(p, "%s: multiple addresses ('|') are not supported "
			    "by paddockd", key);

	sv = &c->servers[c->n_servers];
	memset(sv, 0, sizeof(*sv));
	sv->id = (int)id;

	semi = strchr(buf, ';');
	if (semi) {
		*semi++ = '\0';
		if (strchr(semi, ';'))
			return perr(p, "%s: '%.80s' " WRONG_FORMAT, key, val);
	}

	n = split_host(buf, parts, 5);
	if (n == -1)
		return perr(p, "%s: '%.80s' starts with '[' but has no "
			    "matching ']:'", key, val);
	if (n < 3 || n > 4)
		return perr(p, "%s: '%.80s' " WRONG_FORMAT, key, val);
	host = parts[0];
	trim_inplace(&host);
	if (!*host || strlen(host) >= sizeof(sv->host))
		return perr(p, "%s: bad host in '%.80s'", key, val);
	strcpy(sv->host, host);
	if (server_port(p, key, parts[1], &sv->quorum_port) ||
	    server_port(p, key, parts[2], &sv->election_port))
		return -1;
	if (sv->quorum_port == sv->election_port)
		return perr(p, "%s: quorum and election port must be "
			    "different", key);
	if (n == 4) {
		char *t = parts[3];

		trim_inplace(&t);
		if (!strcasecmp(t, "observer"))
			sv->observer = true;
		else if (strcasecmp(t, "participant"))
			return perr(p, "%s: unrecognised peer type '%.80s'",
				    key, t);
	}

	if (semi) {
		char *cp[3];
		int m;

		trim_inplace(&semi);
		m = split_host(semi, cp, 3);
		if (m == -1)
			return perr(p, "%s: '%.80s' starts with '[' but has "
				    "no matching ']:'", key, val);
		if (m < 1 || m > 2)
			return perr(p, "%s: '%.80s' " WRONG_FORMAT, key,
				    val);
		if (m == 2) {
			host = cp[0];
			trim_inplace(&host);
			if (!*host || strlen(host) >= sizeof(sv->client_addr))
				return perr(p, "%s: bad client address in "
					    "'%.80s'", key, val);
			strcpy(sv->client_addr, host);
		}
		if (server_port(p, key, cp[m - 1], &sv->client_port))
			return -1;
		if (sv->client_port == sv->quorum_port ||
		    sv->client_port == sv->election_port)
			return perr(p, "%s: client port %d is also a quorum "
				    "or election port", key, sv->client_port);
	}

	for (int i = 0; i < c->n_servers; i++) {
		const struct zcfg_server *o = &c->servers[i];
		int mine[2] = { sv->quorum_port, sv->election_port };
		int theirs[2] = { o->quorum_port, o->election_port };

		if (strcasecmp(o->host, sv->host))
			continue;
		for (int a = 0; a < 2; a++)
			for (int b = 0; b < 2; b++)
				if (mine[a] == theirs[b])
					return perr(p, "%s: address %s:%d is "
						    "already used by "
						    "server.%d (line %d)",
						    key, sv->host, mine[a],
						    o->id, p->server_line[i]);
	}
	p->server_line[c->n_servers++] = p->line;
	return 0;
}

/* ---- dispatch ------------------------------------------------------------ */

static bool has_prefix(const char *s, const char *pre)
{
	return strncmp(s, pre, strlen(pre)) == 0;
}

static int apply(struct zparse *p, const struct zentry *e)
{
	const char *key = e->key, *val = e->val;

	p->line = e->line;
	/* X509Util's keys are JVM properties "zookeeper.ssl.*" that a
	 * zoo.cfg line "ssl.*" also sets */
	if (has_prefix(key, "zookeeper.ssl."))
		key += strlen("zookeeper.");
	for (size_t i = 0; i < sizeof(used_keys) / sizeof(used_keys[0]); i++) {
		if (strcmp(key, used_keys[i].name))
			continue;
		if (!e->has_sep)
			return perr(p, "%s: missing value", key);
		return used_keys[i].fn(p, key, val);
	}
	if (has_prefix(key, "authProvider.")) {
		if (!e->has_sep)
			return perr(p, "%s: missing value", key);
		return k_auth_provider(p, key, val);
	}
	if (has_prefix(key, "server.")) {
		if (!e->has_sep)
			return perr(p, "%s: missing value", key);
		return parse_server(p, key, val);
	}
	for (size_t i = 0;
	     i < sizeof(checked_unused_keys) / sizeof(checked_unused_keys[0]);
	     i++)
		if (!strcmp(key, checked_unused_keys[i].name))
			return checked_unused_keys[i].fn(p, key, val);
	for (size_t i = 0; i < sizeof(unused_keys) / sizeof(unused_keys[0]);
	     i++) {
		if (!strcmp(key, unused_keys[i])) {
			pwarn(p, "%s: accepted, not used by paddockd", key);
			return 0;
		}
	}
	for (size_t i = 0;
	     i < sizeof(unused_prefixes) / sizeof(unused_prefixes[0]); i++) {
		if (has_prefix(key, unused_prefixes[i])) {
			pwarn(p, "%s: accepted, not used by paddockd", key);
			return 0;
		}
	}
	pwarn(p, "%s: unknown key, not used by paddockd", key);
	return 0;
}

/* ---- checks ZooKeeper makes after parsing ------------------------------- */

static int finish(struct zparse *p)
{
	struct zcfg *c = p->c;
	int voters = 0, observers = 0;
	int64_t v;

	p->line = 0;
	if (!p->line_data_dir)
		return perr(p, "dataDir is not set");
	if (c->dpdk && !c->dpdk_ip)
		return perr(p, "paddock.dataplane=dpdk needs paddock.dpdk.ip "
			    "(the address the DPDK port answers at)");
	if (!p->line_data_log_dir)
		strcpy(c->data_log_dir, c->data_dir);

	if (p->line_dynamic && c->n_servers) {
		p->line = p->server_line[0];
		return perr(p, "server.%d: must be in the separate dynamic "
			    "config file (dynamicConfigFile is set on line "
			    "%d)", c->servers[0].id, p->line_dynamic);
	}

	if (!p->line_client_port) {
		bool any = false;

		if (p->line_client_port_address) {
			p->line = p->line_client_port_address;
			return perr(p, "clientPortAddress is set but "
				    "clientPort is not set");
		}
		for (int i = 0; i < c->n_servers; i++)
			any |= c->servers[i].client_port != 0;
		if (!any)
			return perr(p, "clientPort is not set (and no server.N "
				    "line has a ';clientport' part)");
		c->client_port = 0; /* comes from this server's line */
	}
	if (!p->line_client_port_address)
		strcpy(c->client_port_address, "0.0.0.0");
	if (!p->line_admin_address)
		strcpy(c->admin_address, "0.0.0.0");
	if (!p->line_secure_addr)
		strcpy(c->secure_client_addr, c->client_port_address);
	if (c->secure_client_port && !c->ssl_key_store[0])
		return perr(p, "secureClientPort is set but "
			    "ssl.keyStore.location is not");
	if (c->secure_client_port && c->dpdk)
		return perr(p, "secureClientPort needs the kernel dataplane "
			    "(paddock.dataplane=dpdk has no TLS)");

	if (!p->line_min_st) {
		v = 2 * (int64_t)c->tick_time;
		if (v > INT_MAX)
			return perr(p, "tickTime %d is too large for the "
				    "default minSessionTimeout", c->tick_time);
		c->min_session_timeout = (int)v;
	}
	if (!p->line_max_st) {
		v = 20 * (int64_t)c->tick_time;
		if (v > INT_MAX)
			return perr(p, "tickTime %d is too large for the "
				    "default maxSessionTimeout", c->tick_time);
		c->max_session_timeout = (int)v;
	}
	if (c->min_session_timeout > c->max_session_timeout) {
		p->line = p->line_min_st ? p->line_min_st : p->line_max_st;
		return perr(p, "minSessionTimeout (%d) must not be larger than "
			    "maxSessionTimeout (%d)", c->min_session_timeout,
			    c->max_session_timeout);
	}

	/* QuorumPeerConfig.parseDynamicConfig and checkValidity */
	for (int i = 0; i < c->n_servers; i++) {
		if (c->servers[i].observer)
			observers++;
		else
			voters++;
	}
	if (voters == 0) {
		if (!c->standalone_enabled)
			return perr(p, "standaloneEnabled is false, so at "
				    "least one participant server.N line is "
				    "needed");
		if (observers)
			return perr(p, "observers without participants is an "
				    "invalid configuration");
	} else if (voters == 1 && c->standalone_enabled) {
		if (observers)
			return perr(p, "observers without a quorum is an "
				    "invalid configuration");
		pwarn(p, "only one server specified, running standalone "
		      "(ignoring server.%d)", c->servers[0].id);
	} else if (voters <= 2) {
		pwarn(p, "no server failure will be tolerated, you need at "
		      "least 3 servers");
	} else if (voters % 2 == 0) {
		pwarn(p, "non-optimal configuration, consider an odd number "
		      "of servers");
	}
	if (voters > 1 || (voters == 1 && !c->standalone_enabled)) {
		if (c->init_limit == 0) {
			p->line = p->line_init_limit;
			return perr(p, "initLimit is not set");
		}
		if (c->sync_limit == 0) {
			p->line = p->line_sync_limit;
			return perr(p, "syncLimit is not set");
		}
	}
	return 0;
}

/* ---- public API ---------------------------------------------------------- */

static int default_workers(void)
{
	cpu_set_t set;
	long n = 0;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = CPU_COUNT(&set);
	if (n <= 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	n -= 1;
	if (n < 1)
		n = 1;
	if (n > ZCFG_MAX_WORKERS)
		n = ZCFG_MAX_WORKERS;
	return (int)n;
}

void zcfg_defaults(struct zcfg *c)
{
	memset(c, 0, sizeof(*c));
	c->tick_time = 2000;
	strcpy(c->data_dir, "./data");
	strcpy(c->data_log_dir, c->data_dir);
	c->client_port = 2181;
	strcpy(c->client_port_address, "127.0.0.1");
	c->max_client_cnxns = 60;
	c->min_session_timeout = 2 * c->tick_time;
	c->max_session_timeout = 20 * c->tick_time;
	strcpy(c->four_lw_whitelist, "srvr");
	c->init_limit = 10;
	c->sync_limit = 5;
	c->snap_count = 100000;
	c->prealloc_size = 64 << 20;
	c->jute_maxbuffer = 0xfffff;
	c->force_sync = true;
	c->snap_retain_count = 3;
	c->purge_interval = 0;
	c->workers = default_workers();
	c->container_check_interval_ms = 60000;
	c->global_outstanding_limit = 1000;
	c->conn_outstanding_limit = 0; /* = global_outstanding_limit */
	c->max_cnxns = 0;
	c->request_throttle_max = 0;
	c->request_throttle_stall_ms = 100;
	c->conn_throttle_tokens = 0;
	c->conn_throttle_fill_ms = 1;
	c->conn_throttle_fill_count = 1;
	c->standalone_enabled = true;
	c->peer_type_observer = false;
	c->finalize_wait_ms = 20;
	c->cumulative_acks = true;
	c->peer_queue_mib = 64;
	c->commit_log_count = 100000;
	c->digest_enabled = true;
	c->ssl_client_auth = ZCFG_AUTH_NEED;
	c->admin_enabled = true;
	strcpy(c->admin_address, "127.0.0.1");
	c->admin_port = 8080;
	strcpy(c->admin_url, "/commands");
	c->prometheus = false;
	strcpy(c->metrics_host, "0.0.0.0");
	c->metrics_port = 7000;
	c->dpdk = false;
	c->dpdk_eal[0] = '\0';
	c->dpdk_port = 0;
	c->dpdk_ip = 0;
	c->dpdk_netmask = 0xffffff00u;
	c->dpdk_gateway = 0;
	c->dpdk_mbufs = 8191;
	c->dpdk_conns = 4096;
	c->dpdk_buf_kib = 64;
	c->dpdk_busy_poll = true;
	c->n_servers = 0;
}

static int read_file(struct zparse *p, char **out, size_t *out_len)
{
	FILE *f = fopen(p->path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (!f)
		return perr(p, "cannot open: %s", strerror(errno));
	for (;;) {
		size_t got;

		if (len + 4096 + 1 > cap) {
			char *nb;

			cap = cap ? cap * 2 : 8192;
			nb = realloc(buf, cap);
			if (!nb) {
				perr(p, "out of memory");
				goto err;
			}
			buf = nb;
		}
		got = fread(buf + len, 1, cap - len - 1, f);
		len += got;
		if (len > ZCFG_MAX_FILE) {
			perr(p, "file too large (max %d bytes)", ZCFG_MAX_FILE);
			goto err;
		}
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		perr(p, "cannot read: %s", strerror(errno));
		goto err;
	}
	fclose(f);
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	return 0;
err:
	fclose(f);
	free(buf);
	return -1;
}

int zcfg_load(struct zcfg *c, const char *path, char *err, size_t err_len,
	      void (*warn)(const char *line))
{
	struct zparse p = { .path = path, .err = err, .err_len = err_len,
			    .warn = warn };
	struct lreader r = { .lineno = 1 };
	struct zentry *ents = NULL;
	size_t n_ents = 0, cap_ents = 0;
	struct sbuf line = { 0 };
	char *text = NULL;
	int rc = -1, start;

	if (err && err_len)
		err[0] = '\0';
	if (!path || strlen(path) >= sizeof(c->path)) {
		p.path = "(config)";
		return perr(&p, "bad config file path");
	}
	p.c = malloc(sizeof(*p.c));
	if (!p.c)
		return perr(&p, "out of memory");
	zcfg_defaults(p.c);
	strcpy(p.c->path, path);

	if (read_file(&p, &text, &r.n))
		goto out;
	r.buf = text;

	/* pass 1: Properties.load */
	for (;;) {
		int got = lr_next(&r, &line, &start);

		if (got < 0) {
			perr(&p, "out of memory");
			goto out;
		}
		if (got == 0)
			break;
		if (n_ents == cap_ents) {
			size_t nc = cap_ents ? cap_ents * 2 : 32;
			struct zentry *ne = realloc(ents, nc * sizeof(*ne));

			if (!ne) {
				perr(&p, "out of memory");
				goto out;
			}
			ents = ne;
			cap_ents = nc;
		}
		memset(&ents[n_ents], 0, sizeof(ents[0]));
		ents[n_ents].line = start;
		p.line = start;
		n_ents++;
		if (prop_split(&p, line.s, line.len, &ents[n_ents - 1]))
			goto out;
	}

	/* a later value of the same key replaces an earlier one; two
	 * server.N lines with one id are an error, reported by pass 2 */
	for (size_t i = 0; i < n_ents; i++) {
		if (has_prefix(ents[i].key, "server."))
			continue;
		for (size_t j = i + 1; j < n_ents; j++) {
			if (!strcmp(ents[i].key, ents[j].key)) {
				ents[i].overridden = ents[j].line;
				break;
			}
		}
	}

	/* pass 2: apply */
	for (size_t i = 0; i < n_ents; i++) {
		if (ents[i].overridden) {
			p.line = ents[i].line;
			pwarn(&p, "%s: given again on line %d, this value is "
			      "ignored", ents[i].key, ents[i].overridden);
			continue;
		}
		if (apply(&p, &ents[i]))
			goto out;
	}
	if (finish(&p))
		goto out;

	*c = *p.c;
	rc = 0;
out:
	for (size_t i = 0; i < n_ents; i++) {
		free(ents[i].key);
		free(ents[i].val);
	}
	free(ents);
	free(line.s);
	free(text);
	free(p.c);
	return rc;
}

bool zcfg_4lw_allowed(const struct zcfg *c, const char *cmd)
{
	const char *s = c->four_lw_whitelist;
	size_t n = strlen(cmd);

	/* zkServer.sh needs "srvr", so ZooKeeper always allows it */
	if (!strcmp(cmd, "srvr") || !strcmp(s, "*"))
		return true;
	while (*s) {
		const char *e = strchr(s, ',');
		size_t len = e ? (size_t)(e - s) : strlen(s);

		if (len == n && !memcmp(s, cmd, n))
			return true;
		if (!e)
			break;
		s = e + 1;
	}
	return false;
}
