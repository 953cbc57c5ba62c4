/*
 * peerwire.c — codecs for Apache ZooKeeper 3.8's peer protocol (election
 * port and quorum port), so that a paddock server can be one server of a
 * ZooKeeper ensemble.  consensus/PEER-PROTOCOL.md gives each layout with
 * the ZooKeeper source it comes from; the unit test replays bytes
 * captured from real 3.8.0 servers.
 *
 * Design: every decoder is a pure function over (pointer, length) that
 * walks the input with a bounds-checked cursor distinguishing "ran out of
 * bytes" (a valid prefix: return 0, the caller reads more) from "can
 * never be valid" (ZMARSHALLINGERROR).  Lengths are checked against
 * ZooKeeper's own limits before the bytes they announce are awaited, so
 * a hostile length fails at once instead of making the caller buffer it.
 * Nothing is copied or allocated; encoders append to a struct jw.
 *
 * The quorum port has no framing of its own: QuorumPackets are jute
 * records back to back (Learner.writePacket, LearnerHandler.sendPackets
 * use BinaryOutputArchive.writeRecord on a BufferedOutputStream), so
 * pw_qpkt_decode is what cuts them out of a connection's input.  The
 * raw snapshot and "BenWasHere" signature that follow a SNAP packet
 * (LearnerHandler.run, Learner.syncWithLeader) are read elsewhere
 * (consensus/peer.c's ops->snap, zkfmt's snapshot reader).
 */
#include "consensus/peerwire_int.h"

#include <string.h>

#include "tree/tree.h"

/* ------------------------------------------------------------------ */
/* cursor                                                               */
/* ------------------------------------------------------------------ */
enum { C_OK = 0, C_SHORT = 1, C_BAD = 2 };

struct cur {
	const uint8_t *p;
	size_t n;
	size_t off;
	int st;
};

static void c_init(struct cur *c, const void *p, size_t n)
{
	c->p = (const uint8_t *)p;
	c->n = n;
	c->off = 0;
	c->st = C_OK;
}

static bool c_need(struct cur *c, size_t k)
{
	if (c->st != C_OK)
		return false;
	if (c->n - c->off < k) {
		c->st = C_SHORT;
		return false;
	}
	return true;
}

static void c_bad(struct cur *c)
{
	if (c->st == C_OK)
		c->st = C_BAD;
}

static int32_t c_int(struct cur *c)
{
	if (!c_need(c, 4))
		return 0;
	int32_t v = jr_int_at(c->p + c->off);
	c->off += 4;
	return v;
}

static int64_t c_long(struct cur *c)
{
	if (!c_need(c, 8))
		return 0;
	uint64_t hi = (uint32_t)jr_int_at(c->p + c->off);
	uint64_t lo = (uint32_t)jr_int_at(c->p + c->off + 4);
	c->off += 8;
	return (int64_t)(hi << 32 | lo);
}

static bool c_bool(struct cur *c)
{
	if (!c_need(c, 1))
		return false;
	return c->p[c->off++] != 0;
}

/* jute buffer/ustring: -1 = null; other negatives and > max are bad
 * (BinaryInputArchive.checkLength) even before the bytes arrive. */
static const uint8_t *c_buf(struct cur *c, int32_t *len, int32_t max)
{
	*len = -1;
	int32_t k = c_int(c);
	if (c->st != C_OK || k == -1)
		return NULL;
	if (k < 0 || k > max) {
		c_bad(c);
		return NULL;
	}
	if (!c_need(c, (size_t)k))
		return NULL;
	const uint8_t *s = c->p + c->off;
	c->off += (size_t)k;
	*len = k;
	return s;
}

static long c_result(const struct cur *c)
{
	if (c->st == C_SHORT)
		return 0;
	if (c->st == C_BAD)
		return ZMARSHALLINGERROR;
	return (long)c->off;
}

static int enc_result(const struct jw *w)
{
	return w->err ? ZSYSTEMERROR : ZOK;
}

/* ------------------------------------------------------------------ */
/* names                                                                */
/* ------------------------------------------------------------------ */
const char *pw_qtype_name(int32_t type)
{
	static const char *const names[] = {
	    [PW_REQUEST] = "REQUEST",
	    [PW_PROPOSAL] = "PROPOSAL",
	    [PW_ACK] = "ACK",
	    [PW_COMMIT] = "COMMIT",
	    [PW_PING] = "PING",
	    [PW_REVALIDATE] = "REVALIDATE",
	    [PW_SYNC] = "SYNC",
	    [PW_INFORM] = "INFORM",
	    [PW_COMMITANDACTIVATE] = "COMMITANDACTIVATE",
	    [PW_NEWLEADER] = "NEWLEADER",
	    [PW_FOLLOWERINFO] = "FOLLOWERINFO",
	    [PW_UPTODATE] = "UPTODATE",
	    [PW_DIFF] = "DIFF",
	    [PW_TRUNC] = "TRUNC",
	    [PW_SNAP] = "SNAP",
	    [PW_OBSERVERINFO] = "OBSERVERINFO",
	    [PW_LEADERINFO] = "LEADERINFO",
	    [PW_ACKEPOCH] = "ACKEPOCH",
	    [PW_INFORMANDACTIVATE] = "INFORMANDACTIVATE",
	};
	if (type < PW_REQUEST || type > PW_INFORMANDACTIVATE)
		return "UNKNOWN";
	return names[type];
}

/* ------------------------------------------------------------------ */
/* QuorumPacket                                                         */
/* ------------------------------------------------------------------ */

/* Total bytes a packet's authinfo may take: ZooKeeper sets no bound on
 * the count; paddock bounds the whole vector like one jute buffer, so
 * one packet always fits PW_RX_MAX_ITEM. */
#define PW_AUTH_MAX PW_JUTE_MAXBUFFER

int pw_qpkt_encode(struct jw *w, const struct qpkt *p)
{
	/* an Id is at least two string lengths: 8 bytes */
	if (p->len < -1 || (!p->data && p->len > 0) || p->nauth < -1 ||
	    (!p->auth && p->auth_len > 0) ||
	    (p->nauth > 0 && (!p->auth || p->auth_len / 8 < (size_t)p->nauth)))
		return ZBADARGUMENTS;
	jw_int(w, p->type);
	jw_long(w, p->zxid);
	if (p->len < 0)
		jw_int(w, -1);
	else
		jw_buf(w, p->data, p->len);
	jw_int(w, p->nauth);
	if (p->nauth > 0)
		jw_bytes(w, p->auth, p->auth_len);
	return enc_result(w);
}

static void put_ustr(struct jw *w, const char *s)
{
	if (!s)
		jw_int(w, -1);
	else
		jw_str(w, s);
}

int pw_auth_encode(struct jw *w, const struct pw_id *ids, int n)
{
	if (n < 0 || (n > 0 && !ids))
		return ZBADARGUMENTS;
	for (int i = 0; i < n; i++) {
		put_ustr(w, ids[i].scheme);
		put_ustr(w, ids[i].id);
	}
	return enc_result(w);
}

/* Walk one Id record (two ustrings) inside a region that started at
 * `start` and may take PW_AUTH_MAX bytes: each string gets what is left
 * of that budget as its limit, so the region never exceeds it by more
 * than the two length fields. */
static void c_id(struct cur *c, size_t start, struct pw_id *id)
{
	int32_t left = PW_AUTH_MAX - (int32_t)(c->off - start);
	id->scheme = (const char *)c_buf(c, &id->scheme_len, left);
	left = PW_AUTH_MAX - (int32_t)(c->off - start);
	id->id = (const char *)c_buf(c, &id->id_len, left);
}

static void c_qpkt(struct cur *c, struct qpkt *out)
{
	memset(out, 0, sizeof(*out));
	out->type = c_int(c);
	out->zxid = c_long(c);
	out->data = c_buf(c, &out->len, PW_JUTE_MAXBUFFER);
	out->nauth = c_int(c);
	if (c->st != C_OK)
		return;
	if (out->nauth < -1) {
		/* startVector: only -1 means null; Java would then loop
		 * zero times, but no writer produces this */
		c_bad(c);
		return;
	}
	size_t start = c->off;
	/* each Id takes at least 8 bytes: a count above what the bound
	 * allows is bad before its bytes arrive */
	if (out->nauth > 0 && (size_t)out->nauth > PW_AUTH_MAX / 8) {
		c_bad(c);
		return;
	}
	for (int32_t i = 0; i < out->nauth && c->st == C_OK; i++) {
		struct pw_id id;
		c_id(c, start, &id);
	}
	/* null strings are length fields only, which c_id does not charge:
	 * the whole region, as c_id bounds it, is the budget plus one Id's
	 * two length fields at most */
	if (c->st == C_OK && c->off - start > PW_AUTH_MAX + 8)
		c_bad(c);
	if (c->st == C_OK && out->nauth > 0) {
		out->auth = c->p + start;
		out->auth_len = c->off - start;
	}
}

long pw_qpkt_decode(const uint8_t *p, size_t n, struct qpkt *out)
{
	struct cur c;
	c_init(&c, p, n);
	c_qpkt(&c, out);
	return c_result(&c);
}

int pw_id_next(const struct qpkt *p, size_t *off, struct pw_id *id)
{
	if (p->nauth <= 0 || !p->auth || *off >= p->auth_len)
		return 0;
	struct cur c;
	c_init(&c, p->auth, p->auth_len);
	c.off = *off;
	c_id(&c, *off, id);
	if (c.st != C_OK)
		return ZMARSHALLINGERROR;
	*off = c.off;
	return 1;
}

/* ------------------------------------------------------------------ */
/* payloads                                                             */
/* ------------------------------------------------------------------ */
int pw_learnerinfo_encode(struct jw *w, int64_t sid, int32_t version,
			  int64_t config_version)
{
	jw_long(w, sid);
	jw_int(w, version);
	jw_long(w, config_version);
	return enc_result(w);
}

void pw_learnerinfo_decode(const uint8_t *data, int32_t len,
			   struct pw_learnerinfo *li)
{
	memset(li, 0, sizeof(*li));
	li->protocol_version = 0x1; /* LearnerHandler.version default */
	if (!data || len < 8)
		return;
	struct cur c;
	c_init(&c, data, (size_t)len);
	li->has_sid = true;
	li->sid = c_long(&c);
	if (len >= 12)
		li->protocol_version = c_int(&c);
	if (len >= 20) {
		li->has_config = true;
		li->config_version = c_long(&c);
	}
}

int pw_int_payload_decode(const uint8_t *data, int32_t len, int32_t *v)
{
	if (!data || len < 4)
		return ZMARSHALLINGERROR;
	*v = jr_int_at(data);
	return ZOK;
}

int pw_request_encode(struct jw *w, const struct pw_request *r)
{
	if (r->body_len < 0 || (!r->body && r->body_len > 0))
		return ZBADARGUMENTS;
	jw_long(w, r->session);
	jw_int(w, r->cxid);
	jw_int(w, r->type);
	if (r->body_len)
		jw_bytes(w, r->body, (size_t)r->body_len);
	return enc_result(w);
}

int pw_request_decode(const uint8_t *data, int32_t len, struct pw_request *r)
{
	memset(r, 0, sizeof(*r));
	if (!data || len < 16)
		return ZMARSHALLINGERROR;
	struct cur c;
	c_init(&c, data, (size_t)len);
	r->session = c_long(&c);
	r->cxid = c_int(&c);
	r->type = c_int(&c);
	r->body = data + 16;
	r->body_len = len - 16;
	return ZOK;
}

int pw_ping_count(const uint8_t *data, int32_t len)
{
	if (len <= 0 || !data)
		return 0;
	if (len % 12)
		return ZMARSHALLINGERROR;
	return len / 12;
}

void pw_ping_get(const uint8_t *data, int i, int64_t *session, int32_t *timeout)
{
	struct cur c;
	c_init(&c, data + (size_t)i * 12, 12);
	*session = c_long(&c);
	*timeout = c_int(&c);
}

void pw_ping_put(struct jw *w, int64_t session, int32_t timeout)
{
	jw_long(w, session);
	jw_int(w, timeout);
}

void pw_revalidate_req_put(struct jw *w, int64_t session, int32_t timeout)
{
	jw_long(w, session);
	jw_int(w, timeout);
}

void pw_revalidate_ans_put(struct jw *w, int64_t session, bool valid)
{
	jw_long(w, session);
	jw_bool(w, valid);
}

int pw_revalidate_req_decode(const uint8_t *data, int32_t len, int64_t *session,
			     int32_t *timeout)
{
	if (!data || len < 12)
		return ZMARSHALLINGERROR;
	struct cur c;
	c_init(&c, data, (size_t)len);
	*session = c_long(&c);
	*timeout = c_int(&c);
	return ZOK;
}

int pw_revalidate_ans_decode(const uint8_t *data, int32_t len, int64_t *session,
			     bool *valid)
{
	if (!data || len < 9)
		return ZMARSHALLINGERROR;
	struct cur c;
	c_init(&c, data, (size_t)len);
	*session = c_long(&c);
	*valid = c_bool(&c);
	return ZOK;
}

/* ------------------------------------------------------------------ */
/* election port                                                        */
/* ------------------------------------------------------------------ */
int pw_initmsg_encode(struct jw *w, int64_t version, int64_t sid,
		      const char *addr)
{
	if (version == 0) { /* pre-3.5 form: the sid alone */
		if (sid < 0)
			return ZBADARGUMENTS;
		jw_long(w, sid);
		return enc_result(w);
	}
	size_t n = addr ? strlen(addr) : 0;
	if ((version != PW_ELECTION_V1 && version != PW_ELECTION_V2) ||
	    n == 0 || n > PW_INITMSG_MAX_ADDR)
		return ZBADARGUMENTS;
	jw_long(w, version);
	jw_long(w, sid);
	jw_int(w, (int32_t)n);
	jw_bytes(w, addr, n);
	return enc_result(w);
}

/* One "host:port" or "[v6]:port" as InitialMessage.parse accepts it
 * (ConfigUtils.getHostAndPort, then Integer.parseInt and
 * InetSocketAddress's 0..65535), a little stricter: non-empty host,
 * digits only, no trailing colon. */
static bool addr_valid(const char *s, size_t n)
{
	size_t port_at;
	if (n && s[0] == '[') {
		const char *rb = memchr(s, ']', n);
		if (!rb)
			return false;
		size_t i = (size_t)(rb - s);
		if (i == 1 || i + 1 >= n || s[i + 1] != ':')
			return false;
		port_at = i + 2;
	} else {
		const char *colon = memchr(s, ':', n);
		if (!colon || colon == s)
			return false;
		port_at = (size_t)(colon - s) + 1;
		if (memchr(s + port_at, ':', n - port_at))
			return false;
	}
	if (port_at >= n || n - port_at > 5)
		return false;
	long port = 0;
	for (size_t k = port_at; k < n; k++) {
		if (s[k] < '0' || s[k] > '9')
			return false;
		port = port * 10 + (s[k] - '0');
	}
	return port <= 65535;
}

/* "a|b|c" with Java's split(): trailing empty pieces are dropped, any
 * other piece must be an address. */
static bool addrs_valid(const char *s, size_t n)
{
	while (n && s[n - 1] == '|')
		n--;
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '|') {
			if (!addr_valid(s + start, i - start))
				return false;
			start = i + 1;
		}
	}
	return true;
}

long pw_initmsg_decode(const uint8_t *p, size_t n, struct pw_initmsg *m)
{
	struct cur c;
	c_init(&c, p, n);
	memset(m, 0, sizeof(*m));
	int64_t first = c_long(&c);
	if (c.st != C_OK)
		return c_result(&c);
	if (first >= 0) { /* QuorumCnxManager.handleConnection: a sid */
		m->sid = first;
		return c_result(&c);
	}
	if (first != PW_ELECTION_V1 && first != PW_ELECTION_V2)
		return ZMARSHALLINGERROR;
	m->version = first;
	m->sid = c_long(&c);
	int32_t k = c_int(&c);
	if (c.st != C_OK)
		return c_result(&c);
	if (k <= 0 || k > PW_INITMSG_MAX_ADDR)
		return ZMARSHALLINGERROR;
	if (!c_need(&c, (size_t)k))
		return c_result(&c);
	m->addr = (const char *)c.p + c.off;
	m->addr_len = k;
	c.off += (size_t)k;
	if (!addrs_valid(m->addr, (size_t)k)) {
		memset(m, 0, sizeof(*m));
		return ZMARSHALLINGERROR;
	}
	return c_result(&c);
}

long pw_eframe_decode(const uint8_t *p, size_t n, const uint8_t **payload,
		      int32_t *len)
{
	*payload = NULL;
	*len = 0;
	if (n < 4)
		return 0;
	int32_t k = jr_int_at(p);
	if (k <= 0 || k > PW_ELECTION_MAX_FRAME)
		return ZMARSHALLINGERROR;
	if (n - 4 < (size_t)k)
		return 0;
	*payload = p + 4;
	*len = k;
	return 4 + (long)k;
}

int pw_note_encode(struct jw *w, const struct pw_note *n)
{
	if (n->config_len < 0 || (!n->config && n->config_len > 0) ||
	    n->config_len > PW_ELECTION_MAX_FRAME - PW_NOTIFICATION_HDR)
		return ZBADARGUMENTS;
	jw_int(w, PW_NOTIFICATION_HDR + n->config_len);
	jw_int(w, n->state);
	jw_long(w, n->leader);
	jw_long(w, n->zxid);
	jw_long(w, n->election_epoch);
	jw_long(w, n->peer_epoch);
	jw_int(w, PW_NOTIFICATION_VERSION);
	jw_int(w, n->config_len);
	if (n->config_len)
		jw_bytes(w, n->config, (size_t)n->config_len);
	return enc_result(w);
}

int pw_note_decode(const uint8_t *payload, int32_t len, struct pw_note *n)
{
	memset(n, 0, sizeof(*n));
	if (!payload || len < 28)
		return ZMARSHALLINGERROR; /* "Got a short response" */
	struct cur c;
	c_init(&c, payload, (size_t)len);
	n->state = c_int(&c);
	n->leader = c_long(&c);
	n->zxid = c_long(&c);
	n->election_epoch = c_long(&c);
	if (len == 28) { /* pre-ZOOKEEPER-107: no peer epoch */
		n->peer_epoch = pw_zxid_epoch(n->zxid);
		return ZOK;
	}
	n->peer_epoch = c_long(&c);
	if (len != 40) /* 3.8: a 40-byte message's version is not read */
		n->version = c_int(&c);
	if (c.st == C_OK && n->version > 1) {
		int32_t k = c_int(&c);
		if (c.st == C_OK && (k < 0 || k > len))
			c_bad(&c);
		if (c_need(&c, (size_t)k)) {
			n->config = (const char *)c.p + c.off;
			n->config_len = k;
		}
	}
	if (c.st != C_OK) {
		/* BufferUnderflowException / IOException: dropped */
		memset(n, 0, sizeof(*n));
		return ZMARSHALLINGERROR;
	}
	return ZOK;
}
