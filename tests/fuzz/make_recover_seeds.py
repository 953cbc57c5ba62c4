#!/usr/bin/env python3
"""Generate seeds for fuzz_recover (tests/fuzz/fuzz_recover.c) from real
paddockd data directories.

    /usr/bin/python3 tests/fuzz/make_recover_seeds.py [--build DIR] [--out DIR]

--build: a build dir with tools/paddockd (default $PADDOCK_BUILD or ./build);
--out: where the seeds go (default tests/fuzz/corpus/recover).  Needs kazoo.

Runs a few scenarios, each against a fresh paddockd on a free loopback
port with a private dataDir, preAllocSize=8 (KiB: two-block segments, so
the log rolls often) and a small snapCount (a snapshot every few
transactions):
  basic     kazoo: persistent/ephemeral/sequential creates, setData,
            digest auth + setACL, multi, deletes, session close; SIGTERM
  raw       raw jute: containers, TTL nodes, failed writes (error txns),
            a failing multi, several sessions; SIGTERM
  reap      a container emptied and a TTL node expiring, reaped by the
            container manager (checkIntervalMs=500); kill -9
  sessions  live sessions with ephemerals at snapshot time (a session
            table in the snapshot blob); kill -9 with them open
  restart   basic, SIGTERM, restart on the same dataDir (recovery), more
            writes, kill -9
Every snapshot and segment left behind is turned into inputs of the
fuzz_recover format (flags byte, u16 big-endian snapshot length, snapshot,
segment bytes with the trailing zeros stripped):
  * each segment alone (replay from the empty tree), with the checksum
    fix-up flag, named by its first zxid as paddockd names it;
  * each snapshot alone;
  * each snapshot with the segment holding the zxids after it;
  * a few damaged variants without the fix-up flag: a flipped byte in
    the last record (torn tail), in a middle record (torn tail or
    corruption, by the rounds that follow), a cut final record, and an
    unpadded file.
Inputs are capped at 4096 bytes (run-fuzzers.sh uses -max_len=4096): a
segment that does not fit is cut at a record boundary.  Files are named
by their sha1; existing files are kept.
"""

import argparse
import hashlib
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
import jute  # noqa: E402
from srvutil import free_port  # noqa: E402

MAX_SEED = 4096
# flags of fuzz_recover.c
F_FIXCRC, F_SNAP, F_SEG, F_SEGNAME, F_NOPAD = 1, 2, 4, 8, 16
SEG_HDR, REC_HDR = 32, 24


class Server:
    def __init__(self, build, tmp, snap_count, extra=""):
        self.build, self.tmp = build, tmp
        self.data = os.path.join(tmp, "data")
        os.makedirs(self.data, exist_ok=True)
        self.port = free_port()
        self.cfg = os.path.join(tmp, "zoo.cfg")
        with open(self.cfg, "w") as f:
            f.write("tickTime=2000\ninitLimit=10\nsyncLimit=5\n"
                    "dataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n"
                    "maxClientCnxns=60\nextendedTypesEnabled=true\n"
                    "preAllocSize=8\nsnapCount=%d\nforceSync=no\n%s"
                    % (self.data, self.port, snap_count, extra))
        self.p = None

    def start(self):
        log = open(os.path.join(self.tmp, "server.log"), "ab")
        self.p = subprocess.Popen(
            [os.path.join(self.build, "tools", "paddockd"), self.cfg],
            stdout=log, stderr=subprocess.STDOUT)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port),
                                         0.2).close()
                return
            except OSError:
                if self.p.poll() is not None:
                    break
                time.sleep(0.05)
        self.p.kill()
        raise SystemExit("paddockd did not start, see %s/server.log"
                         % self.tmp)

    def stop(self, sig):
        time.sleep(0.3)  # let a snapshot in progress finish
        self.p.send_signal(sig)
        self.p.wait(20)

    @property
    def hosts(self):
        return "127.0.0.1:%d" % self.port


# ------------------------------------------------------------ workloads

def w_basic(hosts, tag="b"):
    from kazoo.client import KazooClient
    from kazoo.security import make_digest_acl
    zk = KazooClient(hosts=hosts, timeout=10)
    zk.start(timeout=10)
    root = "/" + tag
    zk.ensure_path(root + "/cfg")
    zk.create(root + "/data", b"hello world")
    zk.set(root + "/data", b"v2")
    zk.create(root + "/eph", b"e", ephemeral=True)
    for i in range(3):
        zk.create(root + "/seq-", b"%d" % i, sequence=True)
    zk.create(root + "/eseq-", b"x", sequence=True, ephemeral=True)
    tx = zk.transaction()
    tx.create(root + "/t1", b"1")
    tx.check(root + "/data", 1)
    tx.set_data(root + "/data", b"v3")
    tx.delete(root + "/cfg")
    tx.commit()
    zk.add_auth("digest", "bob:bobpw")
    acl = make_digest_acl("bob", "bobpw", all=True)
    zk.create(root + "/secret", b"s", acl=[acl])
    zk.set_acls(root + "/secret", [acl, make_digest_acl("eve", "pw",
                                                        read=True)])
    zk.set(root + "/secret", b"s2")
    zk.delete(root + "/t1")
    zk.create(root + "/null", None)
    zk.stop()   # closeSession: the ephemerals go
    zk.close()


def w_raw(hosts):
    c = jute.open_session(hosts)
    c.create("/raw")
    c.create("/raw/c", mode=jute.Mode.CONTAINER)
    c.create("/raw/c/x", b"child")
    c.create("/raw/ttl", b"t", mode=jute.Mode.PERSISTENT_WITH_TTL,
             ttl=600000)
    c.create("/raw/sttl-", mode=jute.Mode.PERSISTENT_SEQUENTIAL_WITH_TTL,
             ttl=600000)
    c.create("/raw/e", mode=jute.Mode.EPHEMERAL)
    try:
        c.create("/raw")  # NODEEXISTS: an error txn
    except jute.ZKError:
        pass
    try:
        c.delete("/raw", version=9)
    except jute.ZKError:
        pass
    c.multi([("create", "/raw/m", b"m", 0), ("setData", "/raw/m", b"n", 0),
             ("check", "/raw/m", 1), ("delete", "/raw/m", -1)])
    c.multi([("create", "/raw/m2", b"m", 0), ("check", "/raw/m2", 7)])
    c.request(jute.Op.SET_ACL, jute.p_string("/raw") +
              jute.p_vector([(31, "world", "anyone"), (1, "ip",
                                                       "127.0.0.1")],
                            jute.p_acl) + jute.p_int(-1))
    c.set_data("/raw/c/x", b"y" * 40)
    c2 = jute.open_session(hosts)
    c2.create("/raw/e2", b"2", mode=jute.Mode.EPHEMERAL_SEQUENTIAL)
    c2.close_session()
    c2.close_socket()
    c.delete("/raw/c/x")
    c.close_session()
    c.close_socket()


def w_reap(hosts):
    c = jute.open_session(hosts)
    c.create("/r")
    c.create("/r/c", mode=jute.Mode.CONTAINER)
    c.create("/r/c/kid")
    c.create("/r/ttl", b"soon", mode=jute.Mode.PERSISTENT_WITH_TTL, ttl=300)
    c.delete("/r/c/kid")
    time.sleep(2.0)  # container manager reaps /r/c and /r/ttl
    c.create("/r/after", b"a")
    c.close_socket()  # no closeSession: the session is still live


def w_sessions(hosts):
    cs = []
    for i in range(4):
        c = jute.open_session(hosts)
        c.create("/s%d" % i, b"owner %d" % i, mode=jute.Mode.EPHEMERAL)
        cs.append(c)
    p = jute.open_session(hosts)
    p.create("/p")
    for i in range(6):
        p.create("/p/n%d" % i, b"x" * (i * 7))
    for i in range(6):
        p.set_data("/p/n%d" % i, b"y")
    return cs + [p]   # left open: killed with the server


# ------------------------------------------------------------ conversion

def strip(b):
    return b.rstrip(b"\0")


def records(seg):
    """[(offset, size, zxid, round)] of the records of a segment (its
    trailing zeros may be stripped: they are put back)."""
    seg = seg + b"\0" * 4096
    out, off = [], SEG_HDR
    while off + REC_HDR <= len(seg):
        h = seg[off:off + REC_HDR]
        if h == b"\0" * REC_HDR:
            break
        ln, _crc, zxid, rnd, _res = struct.unpack_from("<IIqII", h)
        sz = REC_HDR + ((ln + 7) & ~7)
        if off + sz > len(seg):
            break
        out.append((off, sz, zxid, rnd))
        off += sz
    return out


def fit(seg, budget):
    """The segment cut to at most budget bytes at a record boundary."""
    seg = strip(seg)
    if len(seg) <= budget:
        return seg
    end = SEG_HDR
    for off, sz, _z, _r in records(seg):
        if off + sz > budget:
            break
        end = off + sz
    return strip(seg[:end])


def make(flags, snap, seg):
    return bytes([flags]) + struct.pack(">H", len(snap)) + snap + seg


class Out:
    def __init__(self, d):
        self.d = d
        self.n = 0
        os.makedirs(d, exist_ok=True)

    def add(self, data):
        if len(data) > MAX_SEED:
            return
        path = os.path.join(self.d, hashlib.sha1(data).hexdigest())
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(data)
            self.n += 1


def convert(data_dir, out, damage):
    snaps, segs = {}, {}
    for name in os.listdir(data_dir):
        pre, _, hx = name.partition(".")
        if len(hx) != 16:
            continue
        with open(os.path.join(data_dir, name), "rb") as f:
            b = f.read()
        if pre == "snapshot":
            snaps[int(hx, 16)] = b
        elif pre == "log":
            segs[int(hx, 16)] = b
    room = MAX_SEED - 3
    seg_flags = F_FIXCRC | F_SEG | F_SEGNAME
    for z, seg in sorted(segs.items()):
        out.add(make(seg_flags, b"", fit(seg, room)))
    for z, snap in sorted(snaps.items()):
        if len(snap) > room:
            print("make_recover_seeds: snapshot.%016x is %d bytes, skipped"
                  % (z, len(snap)))
            continue
        out.add(make(F_FIXCRC | F_SNAP, snap, b""))
        # the segment holding z + 1 (the newest named <= z + 1)
        names = [s for s in sorted(segs) if s <= z + 1]
        if names:
            seg = fit(segs[names[-1]], room - len(snap))
            out.add(make(F_FIXCRC | F_SNAP | seg_flags, snap, seg))
    if not damage or not segs:
        return
    # damaged variants of the longest segment (no fix-up)
    seg = fit(max(segs.values(), key=lambda b: len(strip(b))), room)
    recs = records(seg)
    if len(recs) < 3:
        return
    flags = F_SEG | F_SEGNAME
    out.add(make(flags, b"", seg))                     # as is, real CRCs
    out.add(make(flags | F_NOPAD, b"", seg))           # file = bytes
    for off, sz, _z, _r in (recs[-1], recs[len(recs) // 2], recs[1]):
        b = bytearray(seg)
        b[off + REC_HDR] ^= 0x40                       # payload byte
        out.add(make(flags, b"", bytes(b)))
    off, sz, _z, _r = recs[-1]
    out.add(make(flags, b"", seg[:off + sz // 2]))     # cut last record
    b = bytearray(seg)
    b[5] ^= 1                                          # header CRC
    out.add(make(flags, b"", bytes(b)))


# ------------------------------------------------------------ scenarios

def scenario(build, name, snap_count, work, sig, extra="", restart=None):
    tmp = tempfile.mkdtemp(prefix="fr-seeds-%s-" % name)
    s = Server(build, tmp, snap_count, extra)
    s.start()
    try:
        keep = work(s.hosts)
        if restart:
            s.stop(signal.SIGTERM)
            s.start()
            keep = restart(s.hosts)
    finally:
        s.stop(sig)
    for c in keep or []:
        c.close_socket()
    print("make_recover_seeds: %s: %s" % (name, " ".join(
        sorted(os.listdir(s.data)))))
    return s.data, tmp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get(
        "PADDOCK_BUILD", os.path.join(TOP, "build")))
    ap.add_argument("--out", default=os.path.join(HERE, "corpus",
                                                  "recover"))
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary data directories")
    a = ap.parse_args()
    out = Out(a.out)
    runs = [
        ("basic", 8, w_basic, signal.SIGTERM, "", None, True),
        ("raw", 6, w_raw, signal.SIGTERM, "", None, True),
        ("reap", 4, w_reap, signal.SIGKILL,
         "znode.container.checkIntervalMs=500\n", None, False),
        ("sessions", 10, w_sessions, signal.SIGKILL, "", None, False),
        ("restart", 12, w_basic, signal.SIGKILL, "",
         lambda h: w_basic(h, "again"), True),
    ]
    import shutil
    for name, sc, work, sig, extra, restart, damage in runs:
        data, tmp = scenario(a.build, name, sc, work, sig, extra, restart)
        convert(data, out, damage)
        if not a.keep:
            shutil.rmtree(tmp)
    print("make_recover_seeds: %d new seeds in %s" % (out.n, a.out))


if __name__ == "__main__":
    main()
