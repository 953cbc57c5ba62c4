"""zkpeer.py -- the peer (server-to-server) side of Apache ZooKeeper 3.8's
quorum protocol, for tests: it lets a test take the place of one server of
a ZooKeeper ensemble.

Two TCP ports per server (consensus/PEER-PROTOCOL.md has the byte layouts
and the source of every rule used here):

* the election port (QuorumCnxManager + FastLeaderElection): an initial
  message naming the connecting server, then length-prefixed frames, each
  one Notification;
* the quorum port (Leader / LearnerHandler / Learner): a stream of jute
  QuorumPacket records with NO length prefix, and after a SNAP packet the
  leader's raw snapshot followed by the string "BenWasHere".

`ElectionPeer` connects to an election port as a given sid.  `Learner`
runs the learner handshake (FOLLOWERINFO or OBSERVERINFO -> LEADERINFO ->
ACKEPOCH -> DIFF/TRUNC/SNAP ... NEWLEADER -> ACK -> UPTODATE -> ACK) and
then, on a thread of its own, does what a follower does: ACK each
PROPOSAL, answer each PING with its session touches.  `LeaderSide` is the
other end, for a real ZooKeeper learner that connected to the test.
Every packet either way is kept in `transcript` with its exact bytes.
"""

import collections
import socket
import struct
import threading
import time

# ---------------------------------------------------------------- constants
# Leader.java packet types
REQUEST = 1
PROPOSAL = 2
ACK = 3
COMMIT = 4
PING = 5
REVALIDATE = 6
SYNC = 7
INFORM = 8
COMMITANDACTIVATE = 9
NEWLEADER = 10
FOLLOWERINFO = 11
UPTODATE = 12
DIFF = 13
TRUNC = 14
SNAP = 15
OBSERVERINFO = 16
LEADERINFO = 17
ACKEPOCH = 18
INFORMANDACTIVATE = 19

TYPE_NAMES = {
    REQUEST: "REQUEST", PROPOSAL: "PROPOSAL", ACK: "ACK", COMMIT: "COMMIT",
    PING: "PING", REVALIDATE: "REVALIDATE", SYNC: "SYNC", INFORM: "INFORM",
    COMMITANDACTIVATE: "COMMITANDACTIVATE", NEWLEADER: "NEWLEADER",
    FOLLOWERINFO: "FOLLOWERINFO", UPTODATE: "UPTODATE", DIFF: "DIFF",
    TRUNC: "TRUNC", SNAP: "SNAP", OBSERVERINFO: "OBSERVERINFO",
    LEADERINFO: "LEADERINFO", ACKEPOCH: "ACKEPOCH",
    INFORMANDACTIVATE: "INFORMANDACTIVATE",
}

# QuorumPeer.ServerState ordinals, as sent in notifications
LOOKING = 0
FOLLOWING = 1
LEADING = 2
OBSERVING = 3
STATE_NAMES = {LOOKING: "LOOKING", FOLLOWING: "FOLLOWING",
               LEADING: "LEADING", OBSERVING: "OBSERVING"}

ELECTION_V1 = -65536          # QuorumCnxManager.PROTOCOL_VERSION_V1 (3.5+)
ELECTION_V2 = -65535          # PROTOCOL_VERSION_V2 (3.6+, multiAddress)
NOTIFICATION_VERSION = 2      # FastLeaderElection.Notification.CURRENTVERSION
ZAB_VERSION = 0x10000         # LearnerInfo.protocolVersion, LEADERINFO data
ELECTION_MAX_FRAME = 512 * 1024   # QuorumCnxManager.PACKETMAXSIZE
INITMSG_MAX_ADDR = 2048           # QuorumCnxManager.maxBuffer
JUTE_MAXBUFFER = 0xfffff + 1024   # BinaryInputArchive maxBuffer + extra
SNAP_SIGNATURE = b"BenWasHere"

OP_CREATE = 1
OP_CREATE2 = 15
OP_CREATE_SESSION = -10
OP_CLOSE_SESSION = -11
OP_SYNC = 9


def make_zxid(epoch, counter):
    return ((epoch << 32) | (counter & 0xffffffff)) & 0xffffffffffffffff


def epoch_of(zxid):
    return (zxid & 0xffffffffffffffff) >> 32


def counter_of(zxid):
    return zxid & 0xffffffff


def signed64(v):
    v &= 0xffffffffffffffff
    return v - (1 << 64) if v >= 1 << 63 else v


class Incomplete(Exception):
    """More bytes are needed."""


class Malformed(Exception):
    """The bytes can never become a valid record."""


# ---------------------------------------------------------------- jute
class Reader:
    """Big-endian jute reader over bytes; Incomplete at the end."""

    def __init__(self, data, off=0, max_buffer=JUTE_MAXBUFFER):
        self.d = data
        self.off = off
        self.max_buffer = max_buffer

    def take(self, n):
        if self.off + n > len(self.d):
            raise Incomplete()
        b = bytes(self.d[self.off:self.off + n])
        self.off += n
        return b

    def int(self):
        return struct.unpack(">i", self.take(4))[0]

    def long(self):
        return struct.unpack(">q", self.take(8))[0]

    def bool(self):
        return self.take(1) != b"\0"

    def buffer(self):
        n = self.int()
        if n == -1:
            return None
        if n < 0 or n > self.max_buffer:
            raise Malformed("unreasonable length %d" % n)
        return self.take(n)

    def string(self):
        b = self.buffer()
        return None if b is None else b.decode("utf-8", "replace")

    def left(self):
        return len(self.d) - self.off


def p_int(v):
    return struct.pack(">i", v)


def p_long(v):
    return struct.pack(">q", signed64(v))


def p_buffer(b):
    if b is None:
        return p_int(-1)
    return p_int(len(b)) + bytes(b)


def p_string(s):
    return p_buffer(None if s is None else s.encode())


# ---------------------------------------------------------------- QuorumPacket
class Packet(collections.namedtuple("Packet",
                                    "type zxid data authinfo")):
    """zookeeper.jute QuorumPacket: data None = null buffer; authinfo None
    = null vector, else a list of (scheme, id)."""

    @property
    def name(self):
        return TYPE_NAMES.get(self.type, "UNKNOWN%d" % self.type)

    def __repr__(self):
        d = "null" if self.data is None else "%dB" % len(self.data)
        return "%s(0x%x, %s)" % (self.name, self.zxid & 0xffffffffffffffff,
                                 d)


def encode_packet(ptype, zxid, data=None, authinfo=None):
    """One QuorumPacket record exactly as BinaryOutputArchive.writeRecord
    writes it: no length prefix."""
    out = p_int(ptype) + p_long(zxid) + p_buffer(data)
    if authinfo is None:
        out += p_int(-1)
    else:
        out += p_int(len(authinfo))
        for scheme, ident in authinfo:
            out += p_string(scheme) + p_string(ident)
    return out


def decode_packet(buf, off=0):
    """(Packet, end offset); Incomplete / Malformed."""
    r = Reader(buf, off)
    ptype = r.int()
    zxid = r.long()
    data = r.buffer()
    n = r.int()
    auth = None
    if n != -1:
        if n < 0:
            raise Malformed("vector count %d" % n)
        auth = []
        for _ in range(n):
            auth.append((r.string(), r.string()))
    return Packet(ptype, zxid, data, auth), r.off


# Snapshot as sent after SNAP (ZKDatabase.serializeSnapshot +
# "BenWasHere"): int sessions, (long id, int timeout)*; ACL cache: int n,
# (long key, vector<ACL>)*; nodes: (ustring path, DataNode)* until path
# "/"; then ustring signature.
Snapshot = collections.namedtuple("Snapshot",
                                  "sessions acls nodes signature raw")
STATP = struct.Struct(">qqqqiiiqq")   # StatPersisted, 60 bytes


def decode_snapshot(buf, off=0):
    r = Reader(buf, off)
    sessions = {}
    n = r.int()
    if n < 0:
        raise Malformed("session count %d" % n)
    for _ in range(n):
        sid = r.long()
        sessions[sid] = r.int()
    acls = {}
    n = r.int()
    if n < 0:
        raise Malformed("acl map size %d" % n)
    for _ in range(n):
        key = r.long()
        k = r.int()
        lst = []
        for _ in range(max(k, 0)):
            perms = r.int()
            lst.append((perms, r.string(), r.string()))
        acls[key] = lst
    nodes = []
    while True:
        path = r.string()
        if path is None:
            raise Malformed("null path")
        if path == "/":
            break
        data = r.buffer()
        acl = r.long()
        stat = STATP.unpack(r.take(STATP.size))
        nodes.append((path, data, acl, stat))
    sig = r.buffer()
    if sig != SNAP_SIGNATURE:
        raise Malformed("signature %r" % (sig,))
    return Snapshot(sessions, acls, nodes, sig, bytes(buf[off:r.off])), r.off


# ---------------------------------------------------------------- payloads
def encode_learner_info(sid, protocol_version=ZAB_VERSION, config_version=0):
    """LearnerInfo record (FOLLOWERINFO / OBSERVERINFO data)."""
    return p_long(sid) + p_int(protocol_version) + p_long(config_version)


def decode_learner_info(data):
    """As LearnerHandler.run reads it: sid if >= 8 bytes, protocol version
    if >= 12, config version if >= 20 (missing parts: None)."""
    sid = ver = cfg = None
    if data is not None and len(data) >= 8:
        sid = struct.unpack_from(">q", data, 0)[0]
    if data is not None and len(data) >= 12:
        ver = struct.unpack_from(">i", data, 8)[0]
    if data is not None and len(data) >= 20:
        cfg = struct.unpack_from(">q", data, 12)[0]
    return sid, ver, cfg


TxnHeader = collections.namedtuple("TxnHeader",
                                   "client_id cxid zxid time type")


def decode_txn_header(data):
    """The TxnHeader that starts PROPOSAL / INFORM data."""
    return TxnHeader(*struct.unpack_from(">qiqqi", data, 0))


def encode_ping_payload(touches):
    """Follower's PING reply data: (long session, int timeout)* -- an
    empty bytes object, never None (LearnerHandler reads it blindly)."""
    return b"".join(p_long(s) + p_int(t) for s, t in touches)


def decode_ping_payload(data):
    if data is None:
        return []
    if len(data) % 12:
        raise Malformed("ping payload of %d bytes" % len(data))
    return [struct.unpack_from(">qi", data, i)
            for i in range(0, len(data), 12)]


def encode_request_payload(session, cxid, op, body=b""):
    """REQUEST data: long sessionId, int cxid, int type, request bytes."""
    return p_long(session) + p_int(cxid) + p_int(op) + body


def decode_request_payload(data):
    if data is None or len(data) < 16:
        raise Malformed("request payload too short")
    s, c, t = struct.unpack_from(">qii", data, 0)
    return s, c, t, bytes(data[16:])


# ---------------------------------------------------------------- election
def encode_initial_message(sid, addrs, version=ELECTION_V1):
    """QuorumCnxManager.startConnection: long protocol version, long sid,
    int length, "host:port[|host:port...]".  version=None sends the
    pre-3.5 form (just the sid)."""
    if version is None:
        return p_long(sid)
    a = "|".join(addrs).encode()
    return p_long(version) + p_long(sid) + p_int(len(a)) + a


def decode_initial_message(buf):
    """(version, sid, [addr...], end); version None for the old form."""
    r = Reader(buf)
    first = r.long()
    if first >= 0:
        return None, first, [], r.off
    if first not in (ELECTION_V1, ELECTION_V2):
        raise Malformed("protocol version %d" % first)
    sid = r.long()
    n = r.int()
    if n <= 0 or n > INITMSG_MAX_ADDR:
        raise Malformed("address length %d" % n)
    a = r.take(n).decode("utf-8", "replace")
    return first, sid, a.split("|"), r.off


Notification = collections.namedtuple(
    "Notification",
    "state leader zxid election_epoch peer_epoch version config")


def encode_notification(state, leader, zxid, election_epoch, peer_epoch,
                        config=b"", version=NOTIFICATION_VERSION):
    """FastLeaderElection.buildMsg payload (without the frame length)."""
    return (p_int(state) + p_long(leader) + p_long(zxid) +
            p_long(election_epoch) + p_long(peer_epoch) + p_int(version) +
            p_int(len(config)) + bytes(config))


def decode_notification(payload):
    """As 3.8's WorkerReceiver reads one: 28 bytes = no peer epoch (taken
    from the zxid), 40 bytes = no version (even though the 40-byte form
    carries one), otherwise version read and, if > 1, int length + config.
    Anything else is Malformed (ZooKeeper drops it)."""
    cap = len(payload)
    if cap < 28:
        raise Malformed("short notification (%d)" % cap)
    r = Reader(payload)
    try:
        state = r.int()
        leader = r.long()
        zxid = r.long()
        eepoch = r.long()
        version = 0
        config = None
        if cap == 28:
            pepoch = epoch_of(zxid)
        else:
            pepoch = r.long()
            if cap != 40:
                version = r.int()
        if version > 1:
            n = r.int()
            if n < 0 or n > cap:
                raise Malformed("config length %d" % n)
            config = r.take(n)
    except Incomplete:
        raise Malformed("partial notification (%d)" % cap)
    return Notification(state, leader, zxid, eepoch, pepoch, version,
                        config)


def frame(payload):
    return p_int(len(payload)) + payload


class ElectionPeer:
    """A connection to a server's election port, as server `sid`."""

    def __init__(self, host, port, sid, my_addr, version=ELECTION_V1,
                 timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.sent = []       # raw bytes written
        self.received = []   # raw frames (with length) read
        # one write: 3.8's parse reads the address with a single read()
        msg = encode_initial_message(sid, [my_addr] if my_addr else [],
                                     version)
        self.sock.sendall(msg)
        self.sent.append(msg)

    def send_notification(self, *args, **kw):
        b = frame(encode_notification(*args, **kw))
        self.sock.sendall(b)
        self.sent.append(b)

    def send_raw(self, b):
        self.sock.sendall(b)
        self.sent.append(b)

    def recv_frame(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 4:
                n = struct.unpack_from(">i", self.buf, 0)[0]
                if n <= 0 or n > ELECTION_MAX_FRAME:
                    raise Malformed("frame length %d" % n)
                if len(self.buf) >= 4 + n:
                    raw = bytes(self.buf[:4 + n])
                    del self.buf[:4 + n]
                    self.received.append(raw)
                    return raw
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no notification")
            self.sock.settimeout(left)
            c = self.sock.recv(65536)
            if not c:
                raise EOFError("election connection closed")
            self.buf += c

    def recv_notification(self, timeout=5.0):
        raw = self.recv_frame(timeout)
        return decode_notification(raw[4:]), raw

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------- quorum port
class LearnerError(Exception):
    pass


class QuorumConn:
    """One quorum-port connection, either side.  transcript: [(direction,
    Packet, raw bytes)], ">" sent, "<" received; a snapshot appears as
    ("<", "SNAPSHOT", raw bytes)."""

    def __init__(self, sock, timeout=10.0):
        self.sock = sock
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = bytearray()
        self.transcript = []
        self.lock = threading.Condition()
        self.closed = False
        self.stop = False
        self.thread = None
        self.pending = []     # received by the thread, not yet claimed

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("peer sent nothing")
        self.sock.settimeout(min(left, 0.2))
        try:
            c = self.sock.recv(1 << 16)
        except socket.timeout:
            return
        if not c:
            self.closed = True
            raise EOFError("peer closed the connection")
        self.buf += c

    def _read(self, decoder, timeout):
        deadline = time.monotonic() + timeout
        while True:
            try:
                obj, end = decoder(self.buf, 0)
            except Incomplete:
                self._fill(deadline)
                continue
            raw = bytes(self.buf[:end])
            del self.buf[:end]
            return obj, raw

    def read_packet(self, timeout=None):
        p, raw = self._read(decode_packet, timeout or self.timeout)
        with self.lock:
            self.transcript.append(("<", p, raw))
        return p

    def read_snapshot(self, timeout=None):
        snap, raw = self._read(decode_snapshot, timeout or self.timeout)
        with self.lock:
            self.transcript.append(("<", "SNAPSHOT", raw))
        return snap

    def expect(self, ptype, timeout=None):
        p = self.read_packet(timeout)
        if p.type != ptype:
            raise LearnerError("expected %s, got %r" %
                               (TYPE_NAMES.get(ptype, ptype), p))
        return p

    def send(self, ptype, zxid, data=None, authinfo=None):
        raw = encode_packet(ptype, zxid, data, authinfo)
        with self.lock:
            self.transcript.append((">", Packet(ptype, zxid, data, authinfo),
                                    raw))
            self.sock.sendall(raw)
        return raw

    # -- a background reader; subclasses answer in on_packet
    def start(self):
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name="zkpeer-%s" % type(self).__name__)
        self.thread.start()
        return self

    def on_packet(self, p):
        pass

    def on_idle(self):
        pass

    def _run(self):
        try:
            while not self.stop:
                try:
                    p = self.read_packet(timeout=0.2)
                except socket.timeout:
                    self.on_idle()
                    continue
                self.on_packet(p)
                with self.lock:
                    self.pending.append(p)
                    self.lock.notify_all()
                self.on_idle()
        except (EOFError, OSError, Malformed):
            pass
        self.closed = True
        with self.lock:
            self.lock.notify_all()

    def wait_for(self, pred, timeout=10.0):
        """First packet received by the thread matching pred (removed
        from `pending`)."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                for i, p in enumerate(self.pending):
                    if pred(p):
                        del self.pending[i]
                        return p
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LearnerError("timed out; pending %r" %
                                       (self.pending,))
                if self.closed:
                    raise EOFError("connection closed; pending %r" %
                                   (self.pending,))
                self.lock.wait(min(left, 0.2))

    def wait_closed(self, timeout):
        deadline = time.monotonic() + timeout
        with self.lock:
            while not self.closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.lock.wait(min(left, 0.2))
        return True

    def packets(self, direction="<"):
        with self.lock:
            return [p for d, p, _ in self.transcript
                    if d == direction and isinstance(p, Packet)]

    def raw(self, direction, ptype):
        """Raw bytes of every packet of type ptype sent/received."""
        with self.lock:
            return [r for d, p, r in self.transcript
                    if d == direction and isinstance(p, Packet) and
                    p.type == ptype]

    def sequence(self, skip_pings=False):
        """['>FOLLOWERINFO 0x0', '<LEADERINFO 0x100000000', ...]"""
        out = []
        with self.lock:
            for d, p, raw in self.transcript:
                if isinstance(p, Packet):
                    if skip_pings and p.type == PING:
                        continue
                    out.append("%s%s 0x%x" % (d, p.name,
                                              p.zxid & 0xffffffffffffffff))
                else:
                    out.append("%s%s" % (d, p))
        return out

    def close(self):
        self.stop = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass
        if self.thread and self.thread is not threading.current_thread():
            self.thread.join(2)


class Learner(QuorumConn):
    """A follower (kind="follower") or observer joining a leader's quorum
    port: handshake() runs Learner.registerWithLeader + syncWithLeader;
    start() then ACKs each PROPOSAL and answers each PING with `touches`
    (session -> timeout), as Follower.processPacket does."""

    def __init__(self, host, port, sid, kind="follower", accepted_epoch=0,
                 current_epoch=0, last_zxid=0, config_version=0,
                 timeout=10.0):
        QuorumConn.__init__(self, socket.create_connection(
            (host, port), timeout=timeout), timeout)
        self.sid = sid
        self.kind = kind
        self.accepted_epoch = accepted_epoch
        self.current_epoch = current_epoch
        self.last_zxid = last_zxid
        self.config_version = config_version
        self.ack_proposals = True
        self.answer_pings = True
        self.touches = {}
        self.snapshot = None
        self.sync_kind = None        # "DIFF" / "TRUNC" / "SNAP"
        self.new_leader_zxid = None
        self.newleader_config = None
        self.leader_version = None

    def handshake(self):
        first = FOLLOWERINFO if self.kind == "follower" else OBSERVERINFO
        self.send(first, make_zxid(self.accepted_epoch, 0),
                  encode_learner_info(self.sid, ZAB_VERSION,
                                      self.config_version))
        p = self.expect(LEADERINFO)
        self.leader_version = struct.unpack(">i", p.data)[0]
        new_epoch = epoch_of(p.zxid)
        if new_epoch > self.accepted_epoch:
            epoch_bytes = p_int(self.current_epoch)
            self.accepted_epoch = new_epoch
        elif new_epoch == self.accepted_epoch:
            epoch_bytes = p_int(-1)   # already acked this epoch
        else:
            raise LearnerError("leader epoch %d < accepted %d" %
                               (new_epoch, self.accepted_epoch))
        self.new_leader_zxid = make_zxid(new_epoch, 0)
        self.send(ACKEPOCH, self.last_zxid, epoch_bytes)

        p = self.read_packet()
        if p.type == SNAP:
            self.snapshot = self.read_snapshot()
        elif p.type not in (DIFF, TRUNC):
            raise LearnerError("expected DIFF/TRUNC/SNAP, got %r" % (p,))
        self.sync_kind = p.name
        while True:
            p = self.read_packet()
            if p.type == NEWLEADER:
                self.newleader_config = p.data
                self.current_epoch = new_epoch
                self.send(ACK, self.new_leader_zxid)
            elif p.type == UPTODATE:
                self.send(ACK, self.new_leader_zxid)
                break
            elif p.type in (PROPOSAL, COMMIT, INFORM, PING):
                pass    # history being synced; PING before UPTODATE ignored
            else:
                raise LearnerError("unexpected %r during sync" % (p,))
        return self

    def on_packet(self, p):
        if p.type == PROPOSAL and self.ack_proposals:
            self.send(ACK, p.zxid)
        elif p.type == PING and self.answer_pings:
            with self.lock:
                touches = list(self.touches.items())
            # never null data: LearnerHandler reads it without a check
            self.send(PING, p.zxid, encode_ping_payload(touches),
                      p.authinfo)


class LeaderSide(QuorumConn):
    """The leader's end of a connection a real ZooKeeper learner opened:
    the test drives the handshake with expect()/send(); start() then
    PINGs every `ping_interval` and turns each createSession /
    closeSession REQUEST, and each create of a new persistent node, into
    PROPOSAL -> (ACK) -> COMMIT: enough for a client to connect and write
    through a ZooKeeper follower (no validation: a test's leader)."""

    def __init__(self, sock, timeout=10.0):
        QuorumConn.__init__(self, sock, timeout)
        self.zxid = 0                # last proposed
        self.ping_interval = 0.25
        self.last_ping = 0.0
        self.acked = set()
        self.awaiting = set()        # proposed, COMMIT sent on first ACK
        self.observer = False

    def propose(self, hdr_type, client_id, cxid, body):
        self.zxid += 1
        data = encode_txn(client_id, cxid, self.zxid,
                          int(time.time() * 1000), hdr_type, body)
        if self.observer:
            self.send(INFORM, self.zxid, data)
        else:
            self.send(PROPOSAL, self.zxid, data)
        return self.zxid

    def commit(self, zxid):
        if not self.observer:
            self.send(COMMIT, zxid)

    def on_packet(self, p):
        if p.type == ACK:
            self.acked.add(p.zxid)
            if p.zxid in self.awaiting:
                self.awaiting.discard(p.zxid)
                self.commit(p.zxid)
        elif p.type == REQUEST:
            session, cxid, op, body = decode_request_payload(p.data)
            if op == OP_CREATE_SESSION:
                z = self.propose(op, session, cxid, body[:4])
            elif op == OP_CLOSE_SESSION:
                z = self.propose(op, session, cxid, p_int(0))
            elif op in (OP_CREATE, OP_CREATE2):
                z = self.propose(op, session, cxid,
                                 create_txn_from_request(body))
            else:
                return
            if self.observer:
                return
            self.awaiting.add(z)

    def on_idle(self):
        now = time.monotonic()
        if now - self.last_ping >= self.ping_interval:
            self.last_ping = now
            self.send(PING, self.zxid)


def encode_txn(client_id, cxid, zxid, t, hdr_type, body):
    """PROPOSAL / INFORM data: TxnHeader then the txn record (no digest:
    SerializeUtils.deserializeTxn accepts its absence)."""
    return (p_long(client_id) + p_int(cxid) + p_long(zxid) + p_long(t) +
            p_int(hdr_type) + body)


def encode_create_txn(path, data, acl=((31, "world", "anyone"),),
                      ephemeral=False, parent_cversion=0):
    """zookeeper.jute CreateTxn {path, data, vector<ACL>, ephemeral,
    parentCVersion} (txn type 1)."""
    out = p_string(path) + p_buffer(data) + p_int(len(acl))
    for perms, scheme, ident in acl:
        out += p_int(perms) + p_string(scheme) + p_string(ident)
    return out + (b"\1" if ephemeral else b"\0") + p_int(parent_cversion)


def create_txn_from_request(body):
    """CreateRequest {path, data, vector<ACL>, int flags} -> CreateTxn
    (what PrepRequestProcessor makes of it, for a new persistent or
    ephemeral node; the follower fixes up the parent's cversion)."""
    r = Reader(body)
    path = r.string()
    data = r.buffer()
    acl = []
    for _ in range(max(r.int(), 0)):
        perms = r.int()
        acl.append((perms, r.string(), r.string()))
    flags = r.int()
    return encode_create_txn(path, data, acl, ephemeral=bool(flags & 1),
                             parent_cversion=-1)
