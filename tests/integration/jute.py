"""A tiny raw ZooKeeper client protocol (jute) implementation for tests.

kazoo 2.8 (Debian 12) has no API for containers, TTL nodes, addWatch,
removeWatches, checkWatches, getEphemerals, getAllChildrenNumber, whoAmI,
multiRead or setWatches2, and it hides the wire (xids, session ids,
reconnects).  This module speaks the protocol directly over a socket so the
tests can send exactly the frames a Java/C client sends and look at exactly
what comes back.

Only what the tests need is implemented; everything is synchronous.  Watch
notifications (xid -1) that arrive while waiting for a reply are queued in
``RawClient.events`` in arrival order, and ``RawClient.log`` records every
frame received (("event", WatchEvent) or ("reply", xid)) so ordering can be
asserted.
"""

import socket
import struct
import time
from collections import namedtuple

# ---------------------------------------------------------------- constants

class Op:
    NOTIFICATION = 0
    CREATE = 1
    DELETE = 2
    EXISTS = 3
    GET_DATA = 4
    SET_DATA = 5
    GET_ACL = 6
    SET_ACL = 7
    GET_CHILDREN = 8
    SYNC = 9
    PING = 11
    GET_CHILDREN2 = 12
    CHECK = 13
    MULTI = 14
    CREATE2 = 15
    RECONFIG = 16
    CHECK_WATCHES = 17
    REMOVE_WATCHES = 18
    CREATE_CONTAINER = 19
    DELETE_CONTAINER = 20
    CREATE_TTL = 21
    MULTI_READ = 22
    AUTH = 100
    SET_WATCHES = 101
    SASL = 102
    GET_EPHEMERALS = 103
    GET_ALL_CHILDREN_NUMBER = 104
    SET_WATCHES2 = 105
    ADD_WATCH = 106
    WHO_AM_I = 107
    CREATE_SESSION = -10
    CLOSE_SESSION = -11
    ERROR = -1


class Err:
    OK = 0
    SYSTEM_ERROR = -1
    RUNTIME_INCONSISTENCY = -2
    DATA_INCONSISTENCY = -3
    CONNECTION_LOSS = -4
    MARSHALLING_ERROR = -5
    UNIMPLEMENTED = -6
    OPERATION_TIMEOUT = -7
    BAD_ARGUMENTS = -8
    UNKNOWN_SESSION = -12
    API_ERROR = -100
    NO_NODE = -101
    NO_AUTH = -102
    BAD_VERSION = -103
    NO_CHILDREN_FOR_EPHEMERALS = -108
    NODE_EXISTS = -110
    NOT_EMPTY = -111
    SESSION_EXPIRED = -112
    INVALID_CALLBACK = -113
    INVALID_ACL = -114
    AUTH_FAILED = -115
    SESSION_MOVED = -118
    NOT_READ_ONLY = -119
    NO_WATCHER = -121


class Ev:
    NONE = -1
    NODE_CREATED = 1
    NODE_DELETED = 2
    NODE_DATA_CHANGED = 3
    NODE_CHILDREN_CHANGED = 4
    DATA_WATCH_REMOVED = 5
    CHILD_WATCH_REMOVED = 6
    PERSISTENT_WATCH_REMOVED = 7


class Mode:
    PERSISTENT = 0
    EPHEMERAL = 1
    PERSISTENT_SEQUENTIAL = 2
    EPHEMERAL_SEQUENTIAL = 3
    CONTAINER = 4
    PERSISTENT_WITH_TTL = 5
    PERSISTENT_SEQUENTIAL_WITH_TTL = 6


class WatcherType:   # removeWatches / checkWatches
    CHILDREN = 1
    DATA = 2
    ANY = 3
    PERSISTENT = 4
    PERSISTENT_RECURSIVE = 5


class AddWatchMode:
    PERSISTENT = 0
    PERSISTENT_RECURSIVE = 1


class Perm:
    READ = 1
    WRITE = 2
    CREATE = 4
    DELETE = 8
    ADMIN = 16
    ALL = 31


OPEN_ACL = [(Perm.ALL, "world", "anyone")]

Stat = namedtuple("Stat", "czxid mzxid ctime mtime version cversion aversion "
                          "ephemeralOwner dataLength numChildren pzxid")
WatchEvent = namedtuple("WatchEvent", "type state path zxid")
Reply = namedtuple("Reply", "xid zxid err body")
ConnectResponse = namedtuple("ConnectResponse",
                             "protocol_version timeout session_id passwd "
                             "read_only")


class ZKError(Exception):
    def __init__(self, code, what=""):
        super().__init__("ZooKeeper error %d %s" % (code, what))
        self.code = code


class Closed(Exception):
    """The server closed the connection."""


# ------------------------------------------------------------ jute encoding

def p_int(v):
    return struct.pack("!i", v)


def p_long(v):
    return struct.pack("!q", v)


def p_bool(v):
    return b"\x01" if v else b"\x00"


def p_buffer(b):
    if b is None:
        return p_int(-1)
    return p_int(len(b)) + b


def p_string(s):
    if s is None:
        return p_int(-1)
    return p_buffer(s.encode("utf-8"))


def p_vector(items, enc):
    if items is None:
        return p_int(-1)
    return p_int(len(items)) + b"".join(enc(i) for i in items)


def p_acl(a):
    perms, scheme, ident = a
    return p_int(perms) + p_string(scheme) + p_string(ident)


class Reader:
    def __init__(self, data, off=0):
        self.data = data
        self.off = off

    def int(self):
        v = struct.unpack_from("!i", self.data, self.off)[0]
        self.off += 4
        return v

    def long(self):
        v = struct.unpack_from("!q", self.data, self.off)[0]
        self.off += 8
        return v

    def bool(self):
        v = self.data[self.off] != 0
        self.off += 1
        return v

    def buffer(self):
        n = self.int()
        if n < 0:
            return None
        v = bytes(self.data[self.off:self.off + n])
        self.off += n
        return v

    def string(self):
        b = self.buffer()
        return None if b is None else b.decode("utf-8")

    def vector(self, dec):
        n = self.int()
        if n < 0:
            return None
        return [dec(self) for _ in range(n)]

    def stat(self):
        return Stat(self.long(), self.long(), self.long(), self.long(),
                    self.int(), self.int(), self.int(), self.long(),
                    self.int(), self.int(), self.long())

    def acl(self):
        return (self.int(), self.string(), self.string())

    def remaining(self):
        return len(self.data) - self.off


# ------------------------------------------------------------------ client

class RawClient:
    """One TCP connection speaking the ZooKeeper client protocol."""

    def __init__(self, hosts, timeout=10.0):
        host, port = hosts.split(",")[0].rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.xid = 0
        self.events = []          # pending watch events, arrival order
        self.log = []             # ("event", ev) / ("reply", xid) in order
        self.session_id = 0
        self.passwd = b"\x00" * 16
        self.negotiated_timeout = None
        self.last_zxid = 0
        self.buf = b""

    # -------------------------------------------------------------- framing
    def send_frame(self, payload):
        self.sock.sendall(p_int(len(payload)) + payload)

    def _recv_exact(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("timed out waiting for server")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                raise Closed("connection reset by server")
            if not chunk:
                raise Closed("connection closed by server")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv_frame(self, timeout=None):
        deadline = time.monotonic() + (self.timeout if timeout is None
                                       else timeout)
        n = struct.unpack("!i", self._recv_exact(4, deadline))[0]
        return self._recv_exact(n, deadline)

    def close_socket(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def is_closed_by_server(self, timeout=5.0):
        """True if the server closes the connection within timeout (any
        unread frames are discarded)."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self.recv_frame(timeout=max(0.01, deadline - time.monotonic()))
        except Closed:
            return True
        except socket.timeout:
            return False

    # ------------------------------------------------------------- session
    def connect(self, timeout_ms=10000, session_id=0, passwd=None,
                last_zxid=0, read_only=False, send_read_only=True):
        body = (p_int(0) + p_long(last_zxid) + p_int(timeout_ms) +
                p_long(session_id) + p_buffer(passwd or b"\x00" * 16))
        if send_read_only:
            body += p_bool(read_only)
        self.send_frame(body)
        frame = self.recv_frame()
        r = Reader(frame)
        proto = r.int()
        tmo = r.int()
        sid = r.long()
        pw = r.buffer()
        ro = r.bool() if r.remaining() >= 1 else None
        resp = ConnectResponse(proto, tmo, sid, pw, ro)
        self.session_id, self.passwd = sid, pw
        self.negotiated_timeout = tmo
        self.connect_frame = frame
        return resp

    # ------------------------------------------------------------- requests
    def next_xid(self):
        self.xid += 1
        return self.xid

    def _parse_event(self, r, zxid):
        return WatchEvent(r.int(), r.int(), r.string(), zxid)

    def read_reply(self, xid, timeout=None):
        """Read frames until the reply for xid; queue events meanwhile."""
        while True:
            frame = self.recv_frame(timeout)
            r = Reader(frame)
            rxid, zxid, err = r.int(), r.long(), r.int()
            if rxid == -1:
                ev = self._parse_event(r, zxid)
                self.events.append(ev)
                self.log.append(("event", ev))
                continue
            self.log.append(("reply", rxid))
            if zxid > 0:
                self.last_zxid = max(self.last_zxid, zxid)
            if rxid != xid:
                raise AssertionError("reply xid %d, expected %d" % (rxid, xid))
            return Reply(rxid, zxid, err, r)

    def request(self, op, body=b"", xid=None, check=True):
        if xid is None:
            xid = self.next_xid()
        self.send_frame(p_int(xid) + p_int(op) + body)
        rep = self.read_reply(xid)
        if check and rep.err != 0:
            raise ZKError(rep.err, "op %d" % op)
        return rep

    def wait_event(self, timeout=5.0):
        """Return the next watch event (queued or from the socket)."""
        if self.events:
            return self.events.pop(0)
        deadline = time.monotonic() + timeout
        while True:
            frame = self.recv_frame(max(0.01, deadline - time.monotonic()))
            r = Reader(frame)
            rxid, zxid, err = r.int(), r.long(), r.int()
            if rxid == -1:
                ev = self._parse_event(r, zxid)
                self.log.append(("event", ev))
                return ev
            self.log.append(("reply", rxid))
            if rxid == -2:      # ping reply
                continue
            raise AssertionError("unexpected reply xid %d" % rxid)

    def no_event(self, timeout=0.5):
        """Assert no event arrives within timeout; returns the event or None."""
        try:
            return self.wait_event(timeout)
        except socket.timeout:
            return None

    # -------------------------------------------------------------- opcodes
    def ping(self):
        return self.request(Op.PING, xid=-2)

    def close_session(self):
        rep = self.request(Op.CLOSE_SESSION)
        return rep

    def auth(self, scheme, auth):
        if isinstance(auth, str):
            auth = auth.encode()
        return self.request(Op.AUTH, p_int(0) + p_string(scheme) +
                            p_buffer(auth), xid=-4, check=False)

    def create(self, path, data=b"", acl=None, mode=Mode.PERSISTENT,
               ttl=None, op=None):
        """Create via create2-style opcodes; returns (path, stat) or path."""
        acl = OPEN_ACL if acl is None else acl
        body = p_string(path) + p_buffer(data) + p_vector(acl, p_acl) + \
            p_int(mode)
        if op is None:
            if ttl is not None:
                op = Op.CREATE_TTL
            elif mode == Mode.CONTAINER:
                op = Op.CREATE_CONTAINER
            else:
                op = Op.CREATE2
        if op == Op.CREATE_TTL:
            body += p_long(ttl)
        rep = self.request(op, body)
        p = rep.body.string()
        if op == Op.CREATE:
            return p
        return p, rep.body.stat()

    def delete(self, path, version=-1):
        return self.request(Op.DELETE, p_string(path) + p_int(version))

    def exists(self, path, watch=False):
        rep = self.request(Op.EXISTS, p_string(path) + p_bool(watch),
                           check=False)
        if rep.err == Err.NO_NODE:
            return None
        if rep.err:
            raise ZKError(rep.err)
        return rep.body.stat()

    def get_data(self, path, watch=False):
        rep = self.request(Op.GET_DATA, p_string(path) + p_bool(watch))
        return rep.body.buffer(), rep.body.stat()

    def set_data(self, path, data, version=-1):
        rep = self.request(Op.SET_DATA, p_string(path) + p_buffer(data) +
                           p_int(version))
        return rep.body.stat()

    def get_children(self, path, watch=False):
        rep = self.request(Op.GET_CHILDREN, p_string(path) + p_bool(watch))
        return rep.body.vector(Reader.string)

    def get_children2(self, path, watch=False):
        rep = self.request(Op.GET_CHILDREN2, p_string(path) + p_bool(watch))
        return rep.body.vector(Reader.string), rep.body.stat()

    def sync(self, path):
        rep = self.request(Op.SYNC, p_string(path))
        return rep.body.string()

    def add_watch(self, path, mode):
        return self.request(Op.ADD_WATCH, p_string(path) + p_int(mode))

    def remove_watches(self, path, wtype, check=True):
        return self.request(Op.REMOVE_WATCHES, p_string(path) + p_int(wtype),
                            check=check)

    def check_watches(self, path, wtype, check=True):
        return self.request(Op.CHECK_WATCHES, p_string(path) + p_int(wtype),
                            check=check)

    def get_ephemerals(self, prefix):
        rep = self.request(Op.GET_EPHEMERALS, p_string(prefix))
        return rep.body.vector(Reader.string)

    def get_all_children_number(self, path):
        rep = self.request(Op.GET_ALL_CHILDREN_NUMBER, p_string(path))
        return rep.body.int()

    def who_am_i(self):
        rep = self.request(Op.WHO_AM_I)
        return rep.body.vector(lambda r: (r.string(), r.string()))

    def set_watches(self, rel_zxid, data=(), exist=(), child=()):
        body = (p_long(rel_zxid) + p_vector(list(data), p_string) +
                p_vector(list(exist), p_string) +
                p_vector(list(child), p_string))
        return self.request(Op.SET_WATCHES, body, xid=-8)

    def set_watches2(self, rel_zxid, data=(), exist=(), child=(),
                     persistent=(), recursive=()):
        body = (p_long(rel_zxid) + p_vector(list(data), p_string) +
                p_vector(list(exist), p_string) +
                p_vector(list(child), p_string) +
                p_vector(list(persistent), p_string) +
                p_vector(list(recursive), p_string))
        return self.request(Op.SET_WATCHES2, body, xid=-8)

    def multi_read(self, ops):
        """ops: list of ("getData"|"getChildren", path).  Returns a list of
        ("data", bytes, Stat) | ("children", [names]) | ("error", code)."""
        body = b""
        for kind, path in ops:
            op = Op.GET_DATA if kind == "getData" else Op.GET_CHILDREN
            body += p_int(op) + p_bool(False) + p_int(-1)
            body += p_string(path) + p_bool(False)
        body += p_int(-1) + p_bool(True) + p_int(-1)
        rep = self.request(Op.MULTI_READ, body)
        return self._read_multi_results(rep.body)

    def _read_multi_results(self, r):
        out = []
        while True:
            typ, done, err = r.int(), r.bool(), r.int()
            if done:
                break
            if typ == Op.GET_DATA:
                out.append(("data", r.buffer(), r.stat()))
            elif typ == Op.GET_CHILDREN:
                out.append(("children", r.vector(Reader.string)))
            elif typ == Op.ERROR:
                out.append(("error", r.int()))
            elif typ in (Op.CREATE, Op.CREATE2, Op.CREATE_TTL,
                         Op.CREATE_CONTAINER):
                path = r.string()
                st = r.stat() if typ != Op.CREATE else None
                out.append(("create", path, st))
            elif typ == Op.SET_DATA:
                out.append(("setData", r.stat()))
            elif typ in (Op.DELETE, Op.CHECK):
                out.append(("delete" if typ == Op.DELETE else "check",))
            else:
                raise AssertionError("unknown multi result type %d" % typ)
        return out

    def multi(self, ops):
        """ops: list of tuples ("create", path, data, mode) |
        ("delete", path, version) | ("setData", path, data, version) |
        ("check", path, version).  Returns (header_err, results)."""
        body = b""
        for o in ops:
            kind = o[0]
            if kind == "create":
                body += p_int(Op.CREATE) + p_bool(False) + p_int(-1)
                body += (p_string(o[1]) + p_buffer(o[2]) +
                         p_vector(OPEN_ACL, p_acl) + p_int(o[3]))
            elif kind == "delete":
                body += p_int(Op.DELETE) + p_bool(False) + p_int(-1)
                body += p_string(o[1]) + p_int(o[2])
            elif kind == "setData":
                body += p_int(Op.SET_DATA) + p_bool(False) + p_int(-1)
                body += p_string(o[1]) + p_buffer(o[2]) + p_int(o[3])
            elif kind == "check":
                body += p_int(Op.CHECK) + p_bool(False) + p_int(-1)
                body += p_string(o[1]) + p_int(o[2])
            else:
                raise ValueError(kind)
        body += p_int(-1) + p_bool(True) + p_int(-1)
        rep = self.request(Op.MULTI, body, check=False)
        return rep.err, self._read_multi_results(rep.body)


def open_session(hosts, timeout_ms=10000, **kw):
    c = RawClient(hosts)
    c.connect(timeout_ms=timeout_ms, **kw)
    return c
