/*
 * zkfmt_int.h — a byte-exact codec for Apache ZooKeeper 3.8's own
 * replication and persistence formats: the transaction record (a ZAB
 * PROPOSAL's payload and a txn log entry), the txn log file, and the
 * snapshot stream (a learner's SNAP sync and the snapshot.<zxid> file).
 * It lets paddock speak ZooKeeper's quorum protocol and read and write
 * ZooKeeper's data directory.
 *
 * Everything is jute (tree/jute.h): big-endian int/long, buffer/ustring =
 * int length (-1 = null) + bytes, vector = int count (-1 = null) +
 * elements.  Sources: zookeeper.jute, SerializeUtils.deserializeTxn,
 * Util.marshallTxnEntry, FileTxnLog, FileSnap, SnapStream, DataTree
 * (serialize, serializeZxidDigest), ReferenceCountedACLCache, DataNode,
 * PrepRequestProcessor, DigestCalculator, NodeHashMapImpl (3.8.0; the
 * formats are unchanged up to 3.8.6).
 *
 * Transaction record (Util.marshallTxnEntry; also QuorumPacket.data of a
 * PROPOSAL, SerializeUtils.serializeRequest):
 *
 *   TxnHeader   long clientId, int cxid, long zxid, long time, int type
 *   body        chosen by type (below); absent for a closeSession written
 *               with zookeeper.closeSessionTxn.enabled=false
 *   TxnDigest   int version (2), long treeDigest — present iff the leader
 *               had zookeeper.digest.enabled (default true); the tree
 *               digest *after* the txn is applied
 *
 *   type                          body record
 *   create 1, create2 15          CreateTxn {ustring path, buffer data,
 *                                  vector<ACL> acl, boolean ephemeral,
 *                                  int parentCVersion}   (a create may
 *                                  also be the pre-3.3 CreateTxnV0 {path,
 *                                  data, acl, ephemeral})
 *   createContainer 19            CreateContainerTxn {path, data, acl,
 *                                  int parentCVersion}
 *   createTTL 21                  CreateTTLTxn {path, data, acl,
 *                                  int parentCVersion, long ttl}
 *   delete 2, deleteContainer 20  DeleteTxn {ustring path}
 *   setData 5, reconfig 16        SetDataTxn {path, buffer data,
 *                                  int version (the new one)}
 *   setACL 7                      SetACLTxn {path, vector<ACL>, int version}
 *   check 13                      CheckVersionTxn {path, int version}
 *                                  (only inside a multi in practice)
 *   error -1                      ErrorTxn {int err}
 *   createSession -10             CreateSessionTxn {int timeOut}
 *   closeSession -11              CloseSessionTxn {vector<ustring>
 *                                  paths2Delete} (the session's ephemerals)
 *   multi 14                      MultiTxn {vector<Txn {int type,
 *                                  buffer data}>}, data = the sub-record
 *
 *   ACL = int perms, ustring scheme, ustring id.
 *
 * A failed request still takes a zxid: its header's type becomes error
 * and its body ErrorTxn(code).  A failed multi keeps type multi; its
 * sub-txns are the real records of the ops before the failing one, then
 * ErrorTxn(code) for the failing op, then ErrorTxn(-2,
 * RUNTIMEINCONSISTENCY) for each op after it (DataTree applies none of
 * them).  A ZooKeeper leader's DIFF sends such a multi from its committed
 * log, serialized after DataTree.processTxn set every sub-txn's type to
 * error in place: each body is still the op's own record, so an ErrorTxn
 * inside a multi is read for its first four bytes only, as ZooKeeper
 * reads it.  A multi's sub-txn types are the create family,
 * delete(Container), setData, check and error.
 *
 * Txn log file log.<hex zxid of its first txn> (FileTxnLog.append):
 *
 *   FileHeader  int magic "ZKLG", int version 2, long dbid
 *   entries     long checksum (java.util.zip.Adler32 of the record, so
 *                0..2^32-1), int length, the record, byte 'B' (0x42)
 *   zeros       preallocation (FilePadding: the file grows in steps of
 *                zookeeper.preAllocSize, default 64 MiB, as a sparse tail)
 *
 * ZooKeeper stops reading at an entry whose length is 0 (the zero tail),
 * and also, silently, at a torn last entry; this reader reports the two
 * apart (0 vs ZKF_TORN).
 *
 * Snapshot stream (SerializeUtils.serializeSnapshot):
 *
 *   int count, count x {long sessionId, int timeout}
 *   int count, count x {long aclId, vector<ACL>}   (the ACL cache; id -1
 *                is OPEN_ACL_UNSAFE and has no entry)
 *   nodes, parent before child: ustring path ("" for the root), DataNode
 *     {buffer data, long aclId, StatPersisted {long czxid, mzxid, ctime,
 *     mtime, int version, cversion, aversion, long ephemeralOwner,
 *     long pzxid}}
 *   ustring "/"  end of the nodes
 *
 * The snapshot is fuzzy: nodes are copied one at a time while writes go
 * on.  Session and ACL entries come in java.util.HashMap order.
 *
 *   SNAP sync (LearnerHandler):  stream, then ustring "BenWasHere"
 *   snapshot.<hex zxid> file (FileSnap.serialize, SnapStream.sealStream):
 *     FileHeader {"ZKSN", 2, dbid}, stream,
 *     long Adler32 of every byte before it, ustring "/",
 *     ZxidDigest {long zxid, int digestVersion (2), long digest},
 *     long Adler32 of every byte before it (so including the first seal
 *     and the digest), ustring "/"
 *   The ZxidDigest and its seal are absent if digests are disabled.  Its
 *   zxid is the last txn applied when the tree walk finished (0 if none).
 *
 * Digest (DigestCalculator, NodeHashMapImpl, AdHash): a node's digest is
 * the CRC-32 (java.util.zip.CRC32) of its path bytes ("" for the root),
 * its data, then 60 bytes: long czxid, mzxid, pzxid, ctime, mtime, int
 * version, cversion, aversion, long ephemeralOwner; it is 0 for every
 * path under "/zookeeper/" (but "/zookeeper" itself counts).  The tree
 * digest is the sum of all node digests modulo 2^64.
 *
 * Decoding never copies: strings, buffers and vectors point into the
 * input, which must outlive the decoded structures.  Every decoder takes
 * untrusted bytes (a peer's packets, a damaged disk) and fails with a
 * ZKF_* code instead of reading out of bounds; a record that decodes
 * re-encodes to the same bytes (lengths of -1 stay null, booleans must be
 * 0 or 1, nothing may follow the record).
 *
 * Thread safety: none needed; no global state.  Any thread.
 */
#ifndef PADDOCK_ZKFMT_INT_H
#define PADDOCK_ZKFMT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tree/jute.h"
#include "tree/tree.h"

/* ------------------------------------------------------------------ */
/* Errors                                                               */
/* ------------------------------------------------------------------ */
/* Codec errors, below every ZooKeeper wire code.  A caller answering a
 * peer maps any of them to ZMARSHALLINGERROR. */
#define ZKF_ERRORS(X)                                                          \
	X(ZKF_TRUNCATED, -2001, "record truncated")                            \
	X(ZKF_BADLEN, -2002, "negative length or count other than -1")         \
	X(ZKF_BADTYPE, -2003, "txn type has no record")                        \
	X(ZKF_BADSUB, -2004, "sub-txn type not allowed in a multi")            \
	X(ZKF_TRAILING, -2005, "bytes left after the record")                  \
	X(ZKF_BADBOOL, -2006, "boolean byte is not 0 or 1")                    \
	X(ZKF_BADMAGIC, -2007, "bad file magic")                               \
	X(ZKF_BADVERSION, -2008, "unsupported file or digest version")         \
	X(ZKF_BADCRC, -2009, "checksum mismatch")                              \
	X(ZKF_BADEOR, -2010, "log entry does not end with 'B'")                \
	X(ZKF_TORN, -2011, "log ends inside an entry")                         \
	X(ZKF_BADSEAL, -2012, "snapshot seal is not \"/\"")                    \
	X(ZKF_BADSIG, -2013, "SNAP stream signature is not BenWasHere")        \
	X(ZKF_BADPATH, -2014, "snapshot node path is null")                    \
	X(ZKF_DONE, -2015, "snapshot already complete")                        \
	X(ZKF_NOMEM, -2016, "out of memory")

enum zkf_err {
#define ZKF_ERR_ENUM(name, value, text) name = value,
	ZKF_ERRORS(ZKF_ERR_ENUM)
#undef ZKF_ERR_ENUM
};

/* Text of a ZKF_* code, or zk_strerror()'s for any other; never NULL. */
const char *zkf_strerror(int code);

/* ------------------------------------------------------------------ */
/* Records                                                              */
/* ------------------------------------------------------------------ */
/* buffer or ustring; len -1 = null (p is then NULL). */
struct zk_buf {
	const char *p;
	int32_t len;
};

/*
 * vector<ACL>.  Decoded: n (-1 = null) and the n encoded ACLs in
 * raw/raw_len (read them with zk_acl_iter).  To encode, either set raw
 * (bytes of n ACLs, written as they are) or leave raw NULL and point zacl
 * at paddock's ACL (written as n = zacl->n entries; zacl NULL and n -1:
 * null).  Pointers are borrowed.
 */
struct zk_acls {
	int32_t n;
	const uint8_t *raw;
	size_t raw_len;
	const struct zacl *zacl;
};

/* vector<ustring> (CloseSessionTxn.paths2Delete): raw as above, or raw
 * NULL and v[0..n) to encode. */
struct zk_strv {
	int32_t n;
	const uint8_t *raw;
	size_t raw_len;
	const struct zk_buf *v;
};

/* Which record a body holds (several opcodes share one). */
enum zk_rec {
	ZK_REC_NONE = 0,	 /* no body (closeSession, feature off) */
	ZK_REC_CREATE,		 /* CreateTxn: create, create2 */
	ZK_REC_CREATE_V0,	 /* CreateTxnV0 (create, pre-3.3 logs) */
	ZK_REC_CREATE_CONTAINER, /* CreateContainerTxn */
	ZK_REC_CREATE_TTL,	 /* CreateTTLTxn */
	ZK_REC_DELETE,		 /* DeleteTxn: delete, deleteContainer */
	ZK_REC_SET_DATA,	 /* SetDataTxn: setData, reconfig */
	ZK_REC_SET_ACL,		 /* SetACLTxn */
	ZK_REC_CHECK,		 /* CheckVersionTxn */
	ZK_REC_ERROR,		 /* ErrorTxn */
	ZK_REC_CREATE_SESSION,	 /* CreateSessionTxn */
	ZK_REC_CLOSE_SESSION,	 /* CloseSessionTxn */
	ZK_REC_MULTI,		 /* MultiTxn */
};

struct zk_body;

/* MultiTxn: n sub-txns (-1 = null vector).  Decoded: raw holds the n
 * encoded Txn {int type, buffer data} (walk them with zk_multi_iter; each
 * was checked at decode time).  To encode: raw, or raw NULL and
 * subs[0..n). */
struct zk_multi {
	int32_t n;
	const uint8_t *raw;
	size_t raw_len;
	const struct zk_body *subs;
};

/* The body of a txn or of a multi's sub-txn: `type` is the opcode (the
 * header's, or the sub-Txn's), `rec` the record it carries. */
struct zk_body {
	int32_t type;
	enum zk_rec rec;
	union {
		/* CREATE: ephemeral, parent_cversion; CREATE_V0: ephemeral;
		 * CREATE_CONTAINER: parent_cversion; CREATE_TTL:
		 * parent_cversion, ttl.  Unused fields are 0 after decode
		 * and ignored by encode. */
		struct {
			struct zk_buf path;
			struct zk_buf data;
			struct zk_acls acl;
			bool ephemeral;
			int32_t parent_cversion;
			int64_t ttl;
		} create;
		struct {
			struct zk_buf path;
		} del;
		struct {
			struct zk_buf path;
			struct zk_buf data;
			int32_t version;
		} set_data;
		struct {
			struct zk_buf path;
			struct zk_acls acl;
			int32_t version;
		} set_acl;
		struct {
			struct zk_buf path;
			int32_t version;
		} check;
		struct {
			int32_t err;
		} error;
		struct {
			int32_t timeout;
		} create_session;
		struct {
			struct zk_strv paths;
		} close_session;
		struct zk_multi multi;
	};
};

struct zk_txnhdr {
	int64_t client_id;
	int32_t cxid;
	int64_t zxid;
	int64_t time;
	int32_t type;
};

/* TxnDigest.  ZooKeeper 3.8 writes version 2 (ZK_DIGEST_VERSION, tree.h). */
struct zk_digest {
	int32_t version;
	int64_t tree;
};

struct zk_txn {
	struct zk_txnhdr hdr;
	struct zk_body body; /* body.type == hdr.type */
	bool has_digest;
	struct zk_digest digest;
};

/*
 * Decode one transaction record (TxnHeader, body, optional TxnDigest) of
 * exactly `len` bytes at p.  Returns 0, or a ZKF_* code: ZKF_TRUNCATED,
 * ZKF_BADLEN, ZKF_BADBOOL (malformed), ZKF_BADTYPE (a type with no
 * record: pings, reads...), ZKF_BADSUB (a multi holding a session op, a
 * setACL or a multi), ZKF_TRAILING (bytes after the record that are not
 * a 12-byte TxnDigest).  `out` points into p, which the caller keeps
 * alive while it uses `out`.  A top-level check (13), which ZooKeeper
 * logs but cannot read back, is accepted.  Allocates nothing.
 */
int zk_txn_decode(const void *p, size_t len, struct zk_txn *out);

/*
 * The TxnHeader's time of the record at p (len bytes): the leader's wall
 * clock in ms when it prepared the transaction, as Request.logLatency
 * reads it.  false when the record is too short for a header.  Reads in
 * place, decodes nothing else.
 */
static inline bool zk_txn_time(const void *p, size_t len, int64_t *time)
{
	if (len < 28) /* clientId, cxid, zxid, time */
		return false;
	const uint8_t *b = (const uint8_t *)p + 20;
	*time = (int64_t)((uint64_t)(uint32_t)jr_int_at(b) << 32 |
			  (uint32_t)jr_int_at(b + 4));
	return true;
}

/*
 * Append the encoding of t to w.  Returns 0, ZKF_BADTYPE if body.rec
 * does not fit hdr.type (or body.type differs from it), ZKF_BADSUB for a
 * multi sub-txn likewise, ZKF_NOMEM if w ran out of memory.  A decoded
 * txn encodes to the bytes it was decoded from.
 */
int zk_txn_encode(struct jw *w, const struct zk_txn *t);

/* Decode one body record of `type` from exactly len bytes (a multi's
 * sub-txn data, sub = true, or a header-less body).  As zk_txn_decode. */
int zk_body_decode(int32_t type, bool sub, const void *p, size_t len,
		   struct zk_body *out);
/* Append b (its record only, no header). */
int zk_body_encode(struct jw *w, const struct zk_body *b, bool sub);

/* The record `type` carries (ZK_REC_NONE if it has none: then it is not a
 * txn type; closeSession answers ZK_REC_CLOSE_SESSION). */
enum zk_rec zk_rec_of(int32_t type, bool sub);

/* Opcode name as ZooKeeper's Request.op2String ("create", "multi", ...),
 * "unknown" for others. */
const char *zk_op_name(int32_t type);

/* Iterators over decoded vectors.  Each *_next returns 1 with the next
 * element, 0 at the end, ZKF_TRUNCATED/ZKF_BADLEN if raw is malformed
 * (never for a decoded record: decode checked it). */
struct zk_iter {
	const uint8_t *p;
	size_t len;
	size_t off;
	int32_t left;
};

struct zk_acl_ent {
	int32_t perms;
	struct zk_buf scheme;
	struct zk_buf id;
};

void zk_acl_iter(struct zk_iter *it, const struct zk_acls *a);
int zk_acl_next(struct zk_iter *it, struct zk_acl_ent *e);
void zk_strv_iter(struct zk_iter *it, const struct zk_strv *v);
int zk_strv_next(struct zk_iter *it, struct zk_buf *s);
void zk_multi_iter(struct zk_iter *it, const struct zk_multi *m);
/* sub->type is the sub-txn's opcode; sub points into the multi's raw. */
int zk_multi_next(struct zk_iter *it, struct zk_body *sub);

/* A paddock ACL from decoded ACL records (null scheme/id read as "");
 * NULL on ENOMEM or malformed raw.  Caller owns (refs == 1). */
struct zacl *zk_acls_to_zacl(const struct zk_acls *a);

/* ------------------------------------------------------------------ */
/* Txn log files                                                        */
/* ------------------------------------------------------------------ */
#define ZK_LOG_MAGIC 0x5a4b4c47	 /* "ZKLG" */
#define ZK_SNAP_MAGIC 0x5a4b534e /* "ZKSN" */
#define ZK_FILE_VERSION 2
#define ZK_FILEHDR_LEN 16
/* FilePadding's default zookeeper.preAllocSize (bytes). */
#define ZK_LOG_PREALLOC (64LL * 1024 * 1024)

struct zk_filehdr {
	int32_t magic;
	int32_t version;
	int64_t dbid;
};

/* Reader over a whole log file in memory (read or mmap'd by the caller,
 * who keeps it alive while entries are in use). */
struct zk_log_iter {
	const uint8_t *p;
	size_t len;
	size_t off;
};

struct zk_log_entry {
	size_t off;	  /* of the checksum, from the file's start */
	int64_t checksum; /* as stored (== Adler32 of the record) */
	const uint8_t *rec;
	size_t len; /* the record: decode with zk_txn_decode */
	size_t end; /* offset after the 'B' */
};

/* Check the FileHeader (magic ZK_LOG_MAGIC, version 2) and position the
 * iterator after it.  0, ZKF_TRUNCATED, ZKF_BADMAGIC, ZKF_BADVERSION. */
int zk_log_open(struct zk_log_iter *it, const void *p, size_t len,
		struct zk_filehdr *h);

/*
 * Next entry: 1 and *e filled; 0 at the end of the entries (end of file
 * at an entry boundary, or an entry of length 0: the preallocated zero
 * tail; it->off then points there); ZKF_TORN if the file ends inside an
 * entry (a crash mid-append: ZooKeeper silently stops there too);
 * ZKF_BADLEN (negative length), ZKF_BADEOR, ZKF_BADCRC for damage (the
 * iterator does not advance).  The record itself is not decoded.
 */
int zk_log_next(struct zk_log_iter *it, struct zk_log_entry *e);

/* Append a FileHeader {ZK_LOG_MAGIC, 2, dbid}. */
void zk_log_put_header(struct jw *w, int64_t dbid);
/* Append one entry around an encoded record: checksum, length, the
 * bytes, 'B'.  ZKF_NOMEM or 0. */
int zk_log_put_record(struct jw *w, const void *rec, size_t len);
/* Encode t and append it as an entry.  As zk_txn_encode. */
int zk_log_put_txn(struct jw *w, const struct zk_txn *t);

/* FilePadding.calculateFileSizeWithPadding: the file size ZooKeeper
 * grows the log to before appending at `pos` when it is `size` bytes
 * now (unchanged unless within 4 KiB of the end). */
int64_t zk_log_padded_size(int64_t pos, int64_t size, int64_t prealloc);

/* java.util.zip.Adler32 of p[0..len), continuing from `adler` (start with
 * 1).  zlib's adler32. */
uint32_t zk_adler32(uint32_t adler, const void *p, size_t len);

/* ------------------------------------------------------------------ */
/* Snapshots                                                            */
/* ------------------------------------------------------------------ */
enum zk_snap_mode {
	ZK_SNAP_FILE = 1,   /* snapshot.<zxid>: header, stream, seals */
	ZK_SNAP_STREAM = 2, /* learner SNAP: stream, "BenWasHere" */
};

/* OPEN_ACL_UNSAFE's id in the ACL cache (no entry in the map). */
#define ZK_ACL_ID_OPEN (-1LL)

struct zk_snap_node {
	struct zk_buf path; /* "" for the root; never null */
	struct zk_buf data;
	int64_t acl; /* ACL cache id */
	/* StatPersisted; data_length = data.len (0 if null) and
	 * num_children = 0 on read, both ignored on write */
	struct zstat stat;
};

/* DataTree.ZxidDigest. */
struct zk_zxid_digest {
	int64_t zxid;
	int32_t version;
	int64_t digest;
};

/*
 * What a snapshot reader hands out, in stream order.  Any member may be
 * NULL.  Pointers inside the arguments are valid during the call only.
 * A callback returning non-zero stops the reader, which returns that
 * value (use a negative one).
 */
struct zk_snap_ops {
	int (*header)(void *arg, const struct zk_filehdr *h); /* file */
	int (*sessions)(void *arg, int32_t count);
	int (*session)(void *arg, int64_t id, int32_t timeout);
	int (*acls)(void *arg, int32_t count);
	int (*acl)(void *arg, int64_t id, const struct zk_acls *acl);
	int (*node)(void *arg, const struct zk_snap_node *n);
	int (*digest)(void *arg, const struct zk_zxid_digest *d); /* file */
};

struct zk_snap_reader;

/* A push parser: feed bytes as they arrive (a socket, a file read in
 * chunks) and get callbacks per session, ACL entry and node.  It buffers
 * at most one item that straddles two feeds, so a caller can build its
 * tree from a SNAP without holding the stream.  NULL on ENOMEM.  The
 * ops table is borrowed. */
struct zk_snap_reader *zk_snap_reader_new(enum zk_snap_mode mode,
					  const struct zk_snap_ops *ops,
					  void *arg);
void zk_snap_reader_free(struct zk_snap_reader *r);

/*
 * Consume bytes.  Returns 0 (wants more), 1 (the snapshot is complete:
 * the signature read, or the file's second seal), or a ZKF_* code / a
 * callback's value (the reader is then dead).  *used = bytes consumed;
 * it stops at the snapshot's last byte, so the rest belongs to whatever
 * follows (the next quorum packets).  A file's checksums are verified.
 */
int zk_snap_feed(struct zk_snap_reader *r, const void *p, size_t len,
		 size_t *used);

/* End of input: 0 if the snapshot is complete, or is a file that ends
 * after its first seal (digests disabled, or written before 3.6), else
 * ZKF_TRUNCATED. */
int zk_snap_finish(struct zk_snap_reader *r);

/* Adler32 of the bytes consumed so far (file mode). */
uint32_t zk_snap_reader_adler(const struct zk_snap_reader *r);

/*
 * Streaming writer.  The bytes accumulate in `w`; the caller sends or
 * writes w.p[0..w.len) whenever it likes and then calls
 * zk_snap_drained(), which keeps the running checksum and empties w.  The
 * caller supplies the counts first and then exactly that many items, and
 * the nodes parent before child starting with the root (path "").
 */
struct zk_snap_writer {
	struct jw w;
	enum zk_snap_mode mode;
	uint32_t adler; /* of the bytes already drained */
};

/* Start: writes the FileHeader {ZK_SNAP_MAGIC, 2, dbid} in file mode. */
void zk_snap_begin(struct zk_snap_writer *s, enum zk_snap_mode mode,
		   int64_t dbid);
void zk_snap_put_sessions(struct zk_snap_writer *s, int32_t count);
void zk_snap_put_session(struct zk_snap_writer *s, int64_t id, int32_t timeout);
void zk_snap_put_acls(struct zk_snap_writer *s, int32_t count);
void zk_snap_put_acl(struct zk_snap_writer *s, int64_t id,
		     const struct zk_acls *acl);
void zk_snap_put_node(struct zk_snap_writer *s, const struct zk_snap_node *n);
/* Finish: the "/" end marker, then the seal, the digest (if d) and its
 * seal (file) or "BenWasHere" (stream).  0 or ZKF_NOMEM (any earlier
 * allocation failure too). */
int zk_snap_end(struct zk_snap_writer *s, const struct zk_zxid_digest *d);
/* The caller has consumed w.p[0..w.len). */
void zk_snap_drained(struct zk_snap_writer *s);
/* Free the buffer (after zk_snap_end and the last drain, or on abort). */
void zk_snap_writer_free(struct zk_snap_writer *s);

#endif
