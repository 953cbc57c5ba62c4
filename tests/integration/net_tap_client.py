"""Kernel-side clients for test_net_tcp.py, run inside the test's network
namespace (``ip netns exec NS /usr/bin/python3 net_tap_client.py CMD ...``)
against paddock-net-tap (tools/net-tap.c).

Every command prints JSON lines on stdout: progress events
(``{"event": ...}``) and, last, one result (``{"ok": true/false, ...}``);
it exits 0 when ok, 1 otherwise.  Every wait is bounded by --timeout, so
a stack that stalls makes the command fail with the progress it made,
never hang.

Commands:
  ping      raw ICMP echo requests; each reply must carry our identifier,
            sequence number and data
  echo      N concurrent connections each send M random bytes and must
            get them back byte-exact, then half-close and see EOF
  source    connect with a small SO_RCVBUF, read nothing for --stall
            seconds (the peer meets a zero window), then read --bytes and
            check the pattern byte i = (i * 7 + i // 251) & 0xff
  churn     --n sequential connections closed by us first, --halfclose
            more where we shutdown(SHUT_WR) and wait for the peer's FIN,
            and --hangup more to --hangup-port, which closes first
  refused   a connect must fail with ECONNREFUSED
  hold      one connection, a short echo, then it is held open until
            stdin closes
  reset     an echo connection in mid-stream is closed with SO_LINGER 0
            (a RST)
  serve     a kernel echo (or --mode source) server, until killed
  upload    N concurrent connections each send M bytes to a discard
            server, half-close and wait for its FIN (one direction only)
"""
import argparse
import json
import os
import random
import selectors
import socket
import struct
import sys
import time

PERIOD = 64256  # the source pattern repeats every 256 * 251 bytes
_PATTERN = bytes(((i * 7 + i // 251) & 0xff) for i in range(PERIOD))


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def finish(ok, **kw):
    kw["ok"] = bool(ok)
    emit(kw)
    sys.exit(0 if ok else 1)


def pattern(off, n):
    """Bytes off..off+n of the source stream."""
    start = off % PERIOD
    reps = (start + n) // PERIOD + 1
    return (_PATTERN * reps)[start:start + n]


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


# ------------------------------------------------------------------ ping
def cmd_ping(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    ident = os.getpid() & 0xffff
    got = []
    deadline = time.monotonic() + a.timeout
    for seq in range(1, a.count + 1):
        data = os.urandom(56)
        hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
        pkt = struct.pack("!BBHHH", 8, 0, csum(hdr + data), ident, seq) + data
        t0 = time.monotonic()
        s.sendto(pkt, (a.host, 0))
        while True:
            left = min(1.0, deadline - time.monotonic())
            if left <= 0:
                finish(False, error="no reply to seq %d" % seq, replies=got)
            s.settimeout(left)
            try:
                r = s.recv(2048)
            except socket.timeout:
                break
            ihl = (r[0] & 15) * 4
            icmp = r[ihl:]
            if len(icmp) < 8:
                continue
            typ, code, _, rid, rseq = struct.unpack("!BBHHH", icmp[:8])
            if typ != 0 or rid != ident or rseq != seq:
                continue
            if icmp[8:] != data:
                finish(False, error="reply %d carries other data" % seq)
            if csum(icmp) != 0:
                finish(False, error="reply %d: bad ICMP checksum" % seq)
            got.append({"seq": seq, "ms": (time.monotonic() - t0) * 1e3})
            break
        if not got or got[-1]["seq"] != seq:
            finish(False, error="no reply to seq %d" % seq, replies=got)
    finish(True, replies=got)


# ------------------------------------------------------------------ echo
class EchoConn:
    def __init__(self, i, data):
        self.i = i
        self.data = data
        self.sent = 0
        self.rcvd = 0
        self.shut = False
        self.done = False
        self.error = None
        self.sock = None


def cmd_echo(a):
    rnd = random.Random(a.seed)
    conns = [EchoConn(i, rnd.randbytes(a.bytes)) for i in range(a.conns)]
    sel = selectors.DefaultSelector()
    t0 = time.monotonic()
    deadline = t0 + a.timeout
    for c in conns:
        s = socket.socket()
        s.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            s.connect((a.host, a.port))
        except OSError as e:
            finish(False, error="connect %d: %s" % (c.i, e))
        s.setblocking(False)
        c.sock = s
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
    emit({"event": "connected", "conns": len(conns),
          "ms": (time.monotonic() - t0) * 1e3})
    left = len(conns)
    while left:
        wait = deadline - time.monotonic()
        if wait <= 0:
            break
        for key, ev in sel.select(min(wait, 0.5)):
            c = key.data
            s = c.sock
            if ev & selectors.EVENT_WRITE and not c.shut:
                try:
                    k = s.send(c.data[c.sent:c.sent + 65536])
                    c.sent += k
                except BlockingIOError:
                    pass
                except OSError as e:
                    c.error = "send: %s" % e
                if c.sent == len(c.data) and not c.error:
                    s.shutdown(socket.SHUT_WR)
                    c.shut = True
                    sel.modify(s, selectors.EVENT_READ, c)
            if ev & selectors.EVENT_READ and not c.error:
                try:
                    b = s.recv(262144)
                except BlockingIOError:
                    b = None
                except OSError as e:
                    c.error = "recv: %s" % e
                    b = None
                if b:
                    want = c.data[c.rcvd:c.rcvd + len(b)]
                    if b != want:
                        bad = next((k for k in range(len(want))
                                    if k >= len(b) or b[k] != want[k]),
                                   len(want))
                        c.error = ("byte %d differs (got %r, sent %r)" %
                                   (c.rcvd + bad, b[bad:bad + 8],
                                    want[bad:bad + 8]))
                    c.rcvd += len(b)
                elif b == b"":
                    if c.rcvd != len(c.data):
                        c.error = "EOF after %d of %d bytes" % (
                            c.rcvd, len(c.data))
                    else:
                        c.done = True
            if c.error or c.done:
                sel.unregister(s)
                s.close()
                left -= 1
    elapsed = time.monotonic() - t0
    bad = [{"conn": c.i, "sent": c.sent, "rcvd": c.rcvd,
            "error": c.error or ("timed out" if not c.done else None)}
           for c in conns if not c.done]
    for c in conns:
        if not c.done and not c.error:
            c.sock.close()
    finish(not bad, elapsed=elapsed, conns=len(conns),
           bytes=a.bytes, failed=bad)


# ------------------------------------------------------------------ source
def cmd_source(a):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, a.rcvbuf)
    s.settimeout(a.timeout)
    t0 = time.monotonic()
    s.connect((a.host, a.port))
    emit({"event": "connected"})
    time.sleep(a.stall)
    emit({"event": "resumed"})
    deadline = time.monotonic() + a.timeout
    off = 0
    while off < a.bytes:
        s.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            b = s.recv(min(262144, a.bytes - off))
        except OSError as e:
            finish(False, error="recv at %d: %s" % (off, e), got=off)
        if not b:
            finish(False, error="EOF at %d" % off, got=off)
        want = pattern(off, len(b))
        if b != want:
            k = next(k for k in range(len(b)) if b[k] != want[k])
            finish(False, error="byte %d is %d, expected %d" %
                   (off + k, b[k], want[k]), got=off)
        off += len(b)
    s.close()
    finish(True, got=off, elapsed=time.monotonic() - t0)


# ------------------------------------------------------------------ churn
def one_conn(a, port, mode, rnd):
    """One connection: send 64 bytes, read them back; mode 'client'
    closes first, 'halfclose' shuts down writing first and waits for
    the peer's FIN, 'hangup' waits for the peer's FIN (it closes first).
    None or an error string."""
    data = rnd.randbytes(64)
    s = socket.socket()
    s.settimeout(a.op_timeout)
    try:
        s.connect((a.host, port))
        s.sendall(data)
        if mode == "halfclose":
            s.shutdown(socket.SHUT_WR)
        got = b""
        while len(got) < len(data):
            b = s.recv(4096)
            if not b:
                return "EOF after %d of %d echoed bytes" % (len(got),
                                                            len(data))
            got += b
        if got[:len(data)] != data:
            return "echo differs"
        if mode in ("halfclose", "hangup"):
            b = s.recv(4096)
            if b:
                return "data (%d bytes) where EOF was expected" % len(b)
        return None
    except OSError as e:
        return "%s: %s" % (type(e).__name__, e)
    finally:
        s.close()


def cmd_churn(a):
    rnd = random.Random(a.seed)
    t0 = time.monotonic()
    deadline = t0 + a.timeout
    plan = ([("client", a.port)] * a.n + [("halfclose", a.port)] * a.halfclose
            + [("hangup", a.hangup_port)] * a.hangup)
    counts = {"client": 0, "halfclose": 0, "hangup": 0}
    for i, (mode, port) in enumerate(plan):
        if time.monotonic() > deadline:
            finish(False, error="timed out after %d connections" % i,
                   done=counts)
        err = one_conn(a, port, mode, rnd)
        if err:
            finish(False, error="connection %d (%s): %s" % (i, mode, err),
                   done=counts)
        counts[mode] += 1
    finish(True, done=counts, elapsed=time.monotonic() - t0)


# ------------------------------------------------------------------ upload
def cmd_upload(a):
    """--conns connections each send --bytes (to a discard server), shut
    down writing and wait for the peer's FIN."""
    rnd = random.Random(a.seed)
    data = rnd.randbytes(a.bytes)
    t0 = time.monotonic()
    deadline = t0 + a.timeout
    socks = []
    for i in range(a.conns):
        s = socket.socket()
        s.settimeout(a.timeout)
        s.connect((a.host, a.port))
        s.setblocking(False)
        socks.append([s, 0, False])
    sel = selectors.DefaultSelector()
    for st in socks:
        sel.register(st[0], selectors.EVENT_WRITE, st)
    left = len(socks)
    while left and time.monotonic() < deadline:
        for key, ev in sel.select(0.2):
            st = key.data
            s = st[0]
            if ev & selectors.EVENT_WRITE:
                try:
                    st[1] += s.send(data[st[1]:st[1] + 65536])
                except BlockingIOError:
                    pass
                if st[1] == len(data):
                    s.shutdown(socket.SHUT_WR)
                    sel.modify(s, selectors.EVENT_READ, st)
            elif ev & selectors.EVENT_READ:
                try:
                    b = s.recv(4096)
                except OSError:
                    b = b""
                if not b:
                    st[2] = True
                    sel.unregister(s)
                    s.close()
                    left -= 1
    failed = [{"conn": i, "sent": st[1]} for i, st in enumerate(socks)
              if not st[2]]
    finish(not failed, elapsed=time.monotonic() - t0, failed=failed)


# ------------------------------------------------------------------ refused
def cmd_refused(a):
    s = socket.socket()
    s.settimeout(a.timeout)
    try:
        s.connect((a.host, a.port))
    except ConnectionRefusedError:
        finish(True)
    except OSError as e:
        finish(False, error="%s: %s" % (type(e).__name__, e))
    finish(False, error="connect succeeded")


# ------------------------------------------------------------------ hold
def cmd_hold(a):
    s = socket.socket()
    s.settimeout(a.timeout)
    s.connect((a.host, a.port))
    s.sendall(b"keep me")
    got = b""
    while len(got) < 7:
        b = s.recv(64)
        if not b:
            finish(False, error="EOF")
        got += b
    emit({"event": "ready", "local": s.getsockname()})
    sys.stdin.read()  # until the test closes our stdin
    s.close()
    finish(True)


# ------------------------------------------------------------------ reset
def cmd_reset(a):
    rnd = random.Random(a.seed)
    data = rnd.randbytes(a.bytes)
    s = socket.socket()
    s.settimeout(a.timeout)
    s.connect((a.host, a.port))
    s.setblocking(False)
    sent = rcvd = 0
    deadline = time.monotonic() + a.timeout
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    while rcvd < a.bytes // 4 or sent < a.bytes // 2:
        if time.monotonic() > deadline:
            finish(False, error="timed out", sent=sent, rcvd=rcvd)
        for _, ev in sel.select(0.2):
            if ev & selectors.EVENT_WRITE and sent < len(data):
                try:
                    sent += s.send(data[sent:sent + 16384])
                except BlockingIOError:
                    pass
            if ev & selectors.EVENT_READ:
                try:
                    b = s.recv(16384)
                except BlockingIOError:
                    continue
                if not b:
                    finish(False, error="EOF", sent=sent, rcvd=rcvd)
                if b != data[rcvd:rcvd + len(b)]:
                    finish(False, error="echo differs", sent=sent,
                           rcvd=rcvd)
                rcvd += len(b)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                 struct.pack("ii", 1, 0))
    s.close()  # a RST, with data in flight both ways
    finish(True, sent=sent, rcvd=rcvd)


# ------------------------------------------------------------------ serve
def cmd_serve(a):
    """A kernel echo server on --port until killed (the --relay control
    of test_net_tcp.py: the kernel where the stack would be)."""
    import threading

    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", a.port))
    ls.listen(128)
    emit({"event": "listening"})

    def serve(c):
        with c:
            if a.mode == "source":
                off = 0
                try:
                    while True:
                        off += c.send(pattern(off, 65536))
                except OSError:
                    return
            while True:
                b = c.recv(65536)
                if not b:
                    return
                c.sendall(b)

    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("cmd", choices=["ping", "echo", "source", "churn",
                                   "refused", "hold", "reset", "upload",
                                   "serve"])
    p.add_argument("--host", default="10.77.0.2")
    p.add_argument("--port", type=int, default=7)
    p.add_argument("--hangup-port", type=int, default=8)
    p.add_argument("--timeout", type=float, default=20.0)
    p.add_argument("--op-timeout", type=float, default=5.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--count", type=int, default=3)
    p.add_argument("--conns", type=int, default=20)
    p.add_argument("--bytes", type=int, default=1 << 20)
    p.add_argument("--stall", type=float, default=3.0)
    p.add_argument("--rcvbuf", type=int, default=16384)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--halfclose", type=int, default=200)
    p.add_argument("--hangup", type=int, default=0)
    p.add_argument("--mode", choices=["echo", "source"], default="echo",
                   help="serve: echo, or send the source pattern")
    a = p.parse_args()
    globals()["cmd_" + a.cmd](a)


if __name__ == "__main__":
    main()
