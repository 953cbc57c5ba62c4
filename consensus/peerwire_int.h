/*
 * peerwire_int.h — Apache ZooKeeper 3.8's server-to-server wire formats:
 * the election port (QuorumCnxManager, FastLeaderElection) and the quorum
 * port (Leader, LearnerHandler, Learner).  Byte layouts, handshake order
 * and the source of each rule: consensus/PEER-PROTOCOL.md.
 *
 * Pure codecs: no sockets, no clocks, no allocation except through the
 * `struct jw` writer (tree/jute.h).  Decoders never copy: every pointer
 * they return points into the caller's input and lives as long as it.
 * Everything here is network input: decoders check every length against
 * the bytes present and against ZooKeeper's own limits, and never read
 * out of bounds whatever they are given.
 *
 * Decoder return convention (the same for every `*_decode`): > 0 =
 * bytes consumed, a whole item decoded; 0 = the input is a valid
 * prefix, give more bytes; < 0 = ZMARSHALLINGERROR, the bytes
 * can never become a valid item (ZooKeeper closes the connection or drops
 * the message, see each function).  Encoders return 0, or ZSYSTEMERROR
 * when the writer is out of memory (w->err), or ZBADARGUMENTS.
 *
 * Thread: any; functions touch only their arguments.
 */
#ifndef PADDOCK_PEERWIRE_INT_H
#define PADDOCK_PEERWIRE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tree/jute.h"

/* ------------------------------------------------------------------ */
/* Constants                                                            */
/* ------------------------------------------------------------------ */

/* QuorumPacket.type (Leader.java) */
enum pw_qtype {
	PW_REQUEST = 1,	   /* learner -> leader: a write to order */
	PW_PROPOSAL = 2,   /* leader -> follower: txn to log and ACK */
	PW_ACK = 3,	   /* follower -> leader */
	PW_COMMIT = 4,	   /* leader -> follower */
	PW_PING = 5,	   /* both ways, leader starts, learner echoes */
	PW_REVALIDATE = 6, /* learner asks / leader answers */
	PW_SYNC = 7,	   /* leader -> learner: answer to a sync REQUEST */
	PW_INFORM = 8,	   /* leader -> observer: committed txn */
	PW_COMMITANDACTIVATE = 9,
	PW_NEWLEADER = 10,
	PW_FOLLOWERINFO = 11,
	PW_UPTODATE = 12,
	PW_DIFF = 13,
	PW_TRUNC = 14,
	PW_SNAP = 15,
	PW_OBSERVERINFO = 16,
	PW_LEADERINFO = 17,
	PW_ACKEPOCH = 18,
	PW_INFORMANDACTIVATE = 19,
};

/* Name of a packet type ("PROPOSAL"), "UNKNOWN" for others. */
const char *pw_qtype_name(int32_t type);

/* QuorumPeer.ServerState ordinals, as sent in notifications. */
enum pw_state {
	PW_LOOKING = 0,
	PW_FOLLOWING = 1,
	PW_LEADING = 2,
	PW_OBSERVING = 3,
};

/* Election-port initial message versions (QuorumCnxManager).  3.8 sends
 * V1 unless multiAddress.enabled (then V2) and accepts V1, V2 and the
 * pre-3.5 form (a non-negative long that is the sid itself). */
#define PW_ELECTION_V1 (-65536LL)
#define PW_ELECTION_V2 (-65535LL)
#define PW_INITMSG_MAX_ADDR 2048	   /* QuorumCnxManager.maxBuffer */
#define PW_ELECTION_MAX_FRAME (512 * 1024) /* PACKETMAXSIZE */
#define PW_OBSERVER_ID INT64_MAX	   /* QuorumPeer.OBSERVER_ID */

#define PW_NOTIFICATION_VERSION 2 /* Notification.CURRENTVERSION */
#define PW_NOTIFICATION_HDR 44	  /* buildMsg bytes before config */

/* LearnerInfo.protocolVersion, and LEADERINFO's data */
#define PW_ZAB_VERSION 0x10000

/* BinaryInputArchive: jute.maxbuffer (0xfffff) + extrasize (1024); a
 * longer buffer/string fails readRecord, which closes the connection. */
#define PW_JUTE_MAXBUFFER (0xfffff + 1024)

static inline int64_t pw_zxid_make(int64_t epoch, int64_t counter)
{
	return (int64_t)(((uint64_t)epoch << 32) |
			 ((uint64_t)counter & 0xffffffffu));
}

static inline int64_t pw_zxid_epoch(int64_t zxid)
{
	return zxid >> 32; /* ZxidUtils: arithmetic shift, as Java's >> */
}

static inline int64_t pw_zxid_counter(int64_t zxid)
{
	return (int64_t)((uint64_t)zxid & 0xffffffffu);
}

/* ------------------------------------------------------------------ */
/* Quorum port: QuorumPacket                                            */
/* ------------------------------------------------------------------ */

/*
 * zookeeper.jute QuorumPacket { int type; long zxid; buffer data;
 * vector<Id> authinfo }, written with BinaryOutputArchive.writeRecord on
 * a BufferedOutputStream: NO length prefix; the record delimits itself.
 *
 * data == NULL, len == -1: null buffer (ZooKeeper's "no data").  A
 * non-NULL data with len 0 is an empty buffer, which differs on the wire
 * and matters: LearnerHandler reads PING/REVALIDATE data without a null
 * check, so a learner must send an empty buffer, never null, there.
 *
 * authinfo: nauth == -1 is a null vector; otherwise `auth` points at the
 * nauth encoded Id records (ustring scheme, ustring id), auth_len bytes;
 * walk them with pw_id_next.  The encoder copies `auth` verbatim, so a
 * decoded REQUEST can be forwarded unchanged.
 */
struct qpkt {
	int32_t type;
	int64_t zxid;
	const uint8_t *data;
	int32_t len;
	int32_t nauth;
	const uint8_t *auth;
	size_t auth_len;
};

struct pw_id {
	const char *scheme;
	int32_t scheme_len; /* -1 = null */
	const char *id;
	int32_t id_len;
};

/* A packet with no data (len -1) and no authinfo (nauth -1). */
static inline struct qpkt pw_qpkt(int32_t type, int64_t zxid)
{
	struct qpkt p = {type, zxid, NULL, -1, -1, NULL, 0};
	return p;
}

/* Append one packet to w.  0, ZSYSTEMERROR (w->err), ZBADARGUMENTS
 * (len < -1, data NULL with len > 0, nauth < -1, nauth > 0 without
 * auth_len >= 8 * nauth bytes at auth). */
int pw_qpkt_encode(struct jw *w, const struct qpkt *p);

/* Encode n Ids as a packet's raw authinfo region (then set nauth = n,
 * auth/auth_len to the bytes written).  scheme and id are NUL-terminated,
 * NULL writes a null ustring; the *_len fields are ignored. */
int pw_auth_encode(struct jw *w, const struct pw_id *ids, int n);

/*
 * Decode one packet at the start of p[0..n).  Lengths above
 * PW_JUTE_MAXBUFFER and negative lengths other than -1 are errors, as in
 * ZooKeeper.  ZooKeeper does not bound the authinfo vector; paddock
 * bounds its encoded Ids, length fields included, to PW_JUTE_MAXBUFFER
 * bytes in all, so that a packet always fits PW_RX_MAX_ITEM.
 * Return: see top.
 *
 * This is also the quorum port's stream cutter.  Packets come back to
 * back with no length prefix, so a connection keeps the bytes not yet
 * consumed and calls pw_qpkt_decode with all of them: > 0, drop that
 * many and go on; 0, read more; ZMARSHALLINGERROR, the stream is broken
 * (ZooKeeper closes the connection).  consensus/peer.c bounds that input
 * to PW_RX_MAX_ITEM bytes and closes a connection whose full buffer
 * holds no whole packet.  What a leader writes right after a SNAP packet
 * (its database in snapshot format, then "BenWasHere":
 * PEER-PROTOCOL.md) is not packets and is not this decoder's business:
 * peer.c hands it to ops->snap, which reads it with zkfmt's snapshot
 * reader, and cuts packets again from the byte after it.
 */
long pw_qpkt_decode(const uint8_t *p, size_t n, struct qpkt *out);

/* The input buffer a quorum-port connection needs for one packet: type,
 * zxid and the two lengths, data up to PW_JUTE_MAXBUFFER, authinfo up
 * to PW_JUTE_MAXBUFFER and the length fields of one Id. */
#define PW_RX_MAX_ITEM (2 * PW_JUTE_MAXBUFFER + 128)

/* Next Id of a decoded authinfo region: 1 and *id filled, 0 at the end,
 * ZMARSHALLINGERROR if malformed.  *off starts at 0. */
int pw_id_next(const struct qpkt *p, size_t *off, struct pw_id *id);

/* ------------------------------------------------------------------ */
/* Quorum port: payloads (QuorumPacket.data)                            */
/* ------------------------------------------------------------------ */

/* LearnerInfo { long serverid; int protocolVersion; long configVersion }
 * — FOLLOWERINFO / OBSERVERINFO data.  Decoded as LearnerHandler.run
 * does: sid from >= 8 bytes, version from >= 12 (else 0x1), config
 * version from >= 20 (has_config); shorter or null data is accepted
 * (has_sid false: ZooKeeper then invents a negative sid). */
struct pw_learnerinfo {
	bool has_sid;
	bool has_config;
	int64_t sid;
	int32_t protocol_version;
	int64_t config_version;
};
int pw_learnerinfo_encode(struct jw *w, int64_t sid, int32_t version,
			  int64_t config_version);
void pw_learnerinfo_decode(const uint8_t *data, int32_t len,
			   struct pw_learnerinfo *li);

/* LEADERINFO data and ACKEPOCH data are one big-endian int: the leader's
 * protocol version (0x10000), resp. the learner's currentEpoch or -1
 * ("already acked this epoch; do not count me").  Fewer than 4 bytes:
 * ZMARSHALLINGERROR. */
int pw_int_payload_decode(const uint8_t *data, int32_t len, int32_t *v);

/* REQUEST data: long sessionId, int cxid, int type, then the request
 * record (body points into data).  Fewer than 16 bytes:
 * ZMARSHALLINGERROR (ZooKeeper's ByteBuffer would underflow and end the
 * LearnerHandler). */
struct pw_request {
	int64_t session;
	int32_t cxid;
	int32_t type;
	const uint8_t *body;
	int32_t body_len;
};
int pw_request_encode(struct jw *w, const struct pw_request *r);
int pw_request_decode(const uint8_t *data, int32_t len, struct pw_request *r);

/* PING reply data (learner -> leader): (long session, int timeout)*,
 * the learner's session touches.  pw_ping_count: the number of entries
 * (0 for null or empty data), ZMARSHALLINGERROR if the length is not a
 * multiple of 12 (LearnerHandler's DataInputStream would throw and close
 * the connection).  pw_ping_get: entry i < count.  pw_ping_put appends
 * one entry; a learner with no touches still sends an empty, non-null
 * buffer. */
int pw_ping_count(const uint8_t *data, int32_t len);
void pw_ping_get(const uint8_t *data, int i, int64_t *session,
		 int32_t *timeout);
void pw_ping_put(struct jw *w, int64_t session, int32_t timeout);

/* REVALIDATE: learner -> leader data is long session, int timeout;
 * leader -> learner data is long session, boolean valid.  Short data:
 * ZMARSHALLINGERROR.  The _put functions append that data. */
void pw_revalidate_req_put(struct jw *w, int64_t session, int32_t timeout);
void pw_revalidate_ans_put(struct jw *w, int64_t session, bool valid);
int pw_revalidate_req_decode(const uint8_t *data, int32_t len, int64_t *session,
			     int32_t *timeout);
int pw_revalidate_ans_decode(const uint8_t *data, int32_t len, int64_t *session,
			     bool *valid);

/* ------------------------------------------------------------------ */
/* Election port                                                        */
/* ------------------------------------------------------------------ */

/*
 * Initial message, sent once by the connecting side:
 *   long version (PW_ELECTION_V1/V2), long sid, int n, n bytes of
 *   "host:port" (V2: several joined by '|'), n in 1..2048;
 * or, pre-3.5, just long sid (>= 0).  Decoding validates what 3.8's
 * InitialMessage.parse validates (version, length, each address
 * host:port or [v6]:port with a numeric port) so that whatever decodes
 * here, ZooKeeper accepts.  `addr` points at the raw address bytes.
 */
struct pw_initmsg {
	int64_t version; /* V1, V2, or 0 for the pre-3.5 form */
	int64_t sid;
	const char *addr;
	int32_t addr_len;
};
int pw_initmsg_encode(struct jw *w, int64_t version, int64_t sid,
		      const char *addr);
long pw_initmsg_decode(const uint8_t *p, size_t n, struct pw_initmsg *m);

/* One election frame: int length (1..PW_ELECTION_MAX_FRAME), payload
 * (*payload points into p).  A length outside that range:
 * ZMARSHALLINGERROR (RecvWorker closes the connection).  Frames are
 * written by pw_note_encode, the only message sent in one. */
long pw_eframe_decode(const uint8_t *p, size_t n, const uint8_t **payload,
		      int32_t *len);

/*
 * Notification payload (FastLeaderElection.buildMsg, 44 + config bytes):
 *   int state, long leader, long zxid, long electionEpoch,
 *   long peerEpoch, int version (2), int configLength, config bytes
 * (config: QuorumVerifier.toString(), "server.N=...\n...version=<hex>").
 *
 * Decoded exactly as 3.8's WorkerReceiver does: 28 bytes: no peerEpoch
 * (taken from the zxid's epoch), version 0; 40 bytes: peerEpoch, no
 * version (3.8 ignores the version the 40-byte form carries); other
 * lengths >= 44 (41..43 when version <= 1): version read and, if > 1,
 * config length (0..payload length) and bytes; trailing bytes ignored.
 * Shorter, or too short for what the length promises: ZMARSHALLINGERROR
 * (ZooKeeper drops the message, keeps the connection).  A state outside
 * 0..3 decodes (ZooKeeper drops it from a voter, not from a non-voter);
 * see pw_note_state_valid.
 */
struct pw_note {
	int32_t state;
	int64_t leader;
	int64_t zxid;
	int64_t election_epoch;
	int64_t peer_epoch;
	int32_t version;
	const char *config; /* NULL if none (version <= 1) */
	int32_t config_len;
};
/* pw_note_encode appends the whole frame (length + 44 + config bytes)
 * with version 2, ZBADARGUMENTS if config does not fit a frame.
 * pw_note_decode takes a frame's payload: ZOK or ZMARSHALLINGERROR. */
int pw_note_encode(struct jw *w, const struct pw_note *n);
int pw_note_decode(const uint8_t *payload, int32_t len, struct pw_note *n);

static inline bool pw_note_state_valid(int32_t s)
{
	return s >= PW_LOOKING && s <= PW_OBSERVING;
}

#endif
