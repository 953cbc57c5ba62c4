#!/usr/bin/env python3
"""Record real client traffic against paddockd and turn it into seed
corpora for the fuzz targets in tests/fuzz.

    /usr/bin/python3 tests/fuzz/record_corpus.py [--build DIR] [--out DIR]

Starts paddockd ($PADDOCK_BUILD/tools/paddockd, default ./build) on a free
loopback port with a temporary zoo.cfg, puts a recording TCP proxy in front
of it, and drives through the proxy:
  * kazoo (CRUD, ephemeral/sequential nodes, watches, transactions, digest
    auth and ACLs, sync, reconnect with setWatches),
  * the libzookeeper-mt C client (tests/integration/cclient/zkc_test.c, if
    the headers are installed),
  * raw jute requests for what kazoo lacks (containers, TTL, addWatch,
    removeWatches, getEphemerals, whoAmI, multiRead, setWatches2, ...),
  * four-letter words.
Each connection's client->server byte stream is split into frames and
written, deduplicated by content (file name = sha1), as:
  corpus/conn/       mode 0 (raw stream), 1 (after ConnectRequest, raw),
                     2 (after ConnectRequest, u16-length records)
  corpus/sequencer/  the write requests (records of fuzz_sequencer.c)
  corpus/jute/       ACL vectors, auth blocks, paths, request bodies
  corpus/config/     configs/*.cfg and the integration tests' zoo.cfg
Inputs are capped at MAX_SEED bytes so the checked-in corpus stays small.
"""

import argparse
import hashlib
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
import jute  # noqa: E402
from jute import Op, p_int, p_string, p_bool, p_buffer, p_long  # noqa: E402
from srvutil import free_port, four_letter  # noqa: E402

MAX_SEED = 4096

# must match write_ops[] in fuzz_sequencer.c
SEQ_OPS = [Op.CREATE, Op.CREATE2, Op.CREATE_CONTAINER, Op.CREATE_TTL,
           Op.DELETE, Op.SET_DATA, Op.SET_ACL, Op.CHECK, Op.MULTI, Op.SYNC,
           Op.GET_EPHEMERALS, Op.CLOSE_SESSION]


class Proxy:
    """Accepts on a loopback port, forwards to the server, records the
    client->server bytes of every connection."""

    def __init__(self, upstream_port):
        self.up = upstream_port
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.streams = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            u = socket.create_connection(("127.0.0.1", self.up))
            rec = bytearray()
            with self.lock:
                self.streams.append(rec)
            threading.Thread(target=self._pump, args=(c, u, rec),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(u, c, None),
                             daemon=True).start()

    @staticmethod
    def _pump(src, dst, rec):
        try:
            while True:
                b = src.recv(65536)
                if not b:
                    break
                if rec is not None:
                    rec += b
                dst.sendall(b)
        except OSError:
            pass
        for s in (dst,):
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    @property
    def hosts(self):
        return "127.0.0.1:%d" % self.port


def start_server(build, tmp):
    port = free_port()
    cfg = os.path.join(tmp, "zoo.cfg")
    with open(cfg, "w") as f:
        f.write("tickTime=2000\ninitLimit=10\nsyncLimit=5\n"
                "dataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n"
                "maxClientCnxns=60\n4lw.commands.whitelist=*\n"
                "extendedTypesEnabled=true\n"
                "znode.container.checkIntervalMs=1000\n"
                % (os.path.join(tmp, "data"), port))
    log = open(os.path.join(tmp, "server.log"), "wb")
    p = subprocess.Popen([os.path.join(build, "tools", "paddockd"), cfg],
                         stdout=log, stderr=subprocess.STDOUT)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return p, port, cfg
        except OSError:
            time.sleep(0.05)
    p.kill()
    raise SystemExit("paddockd did not start")


# ------------------------------------------------------------ scenarios

def kazoo_sessions(hosts):
    from kazoo.client import KazooClient
    from kazoo.security import make_digest_acl
    zk = KazooClient(hosts=hosts, timeout=10)
    zk.start(timeout=10)
    zk.ensure_path("/rec/a/b")
    zk.create("/rec/data", b"hello world")
    zk.get("/rec/data", watch=lambda e: None)
    zk.set("/rec/data", b"v2")
    zk.exists("/rec/missing", watch=lambda e: None)
    zk.get_children("/rec", watch=lambda e: None, include_data=True)
    zk.create("/rec/eph", b"", ephemeral=True)
    zk.create("/rec/seq-", b"x", sequence=True)
    zk.create("/rec/eseq-", b"x", sequence=True, ephemeral=True)
    tx = zk.transaction()
    tx.create("/rec/t1", b"1")
    tx.check("/rec/data", 1)
    tx.set_data("/rec/data", b"v3")
    tx.delete("/rec/a/b")
    tx.commit()
    zk.sync("/rec")
    zk.get_acls("/rec")
    zk.add_auth("digest", "bob:bobpw")
    acl = make_digest_acl("bob", "bobpw", all=True)
    zk.create("/rec/secret", b"s", acl=[acl])
    zk.set_acls("/rec/secret", [acl, make_digest_acl("eve", "pw",
                                                    read=True)])
    zk.get("/rec/secret")
    zk.delete("/rec/secret")
    try:
        zk.delete("/rec/a", version=7)
    except Exception:
        pass
    zk.delete("/rec", recursive=True)
    zk.stop()
    zk.close()


def raw_sessions(hosts):
    c = jute.open_session(hosts)
    c.create("/raw")
    c.create("/raw/c", mode=jute.Mode.CONTAINER)
    c.create("/raw/c/x")
    c.create("/raw/ttl", mode=jute.Mode.PERSISTENT_WITH_TTL, ttl=60000)
    c.create("/raw/e", mode=jute.Mode.EPHEMERAL)
    c.add_watch("/raw", 1)
    c.add_watch("/raw/c", 0)
    c.get_data("/raw", watch=True)
    c.get_children("/raw", watch=True)
    c.get_children2("/raw")
    c.check_watches("/raw", jute.WatcherType.DATA, check=False)
    c.remove_watches("/raw", jute.WatcherType.CHILDREN, check=False)
    c.get_ephemerals("/raw")
    c.get_all_children_number("/raw")
    c.who_am_i()
    c.multi_read([("getData", "/raw"), ("getChildren", "/raw"),
                  ("getData", "/nope")])
    c.multi([("create", "/raw/m", b"m", 0), ("setData", "/raw/m", b"n", 0),
             ("check", "/raw/m", 1), ("delete", "/raw/m", -1)])
    c.set_watches(0, data=["/raw"], exist=["/raw/nope"], child=["/raw"])
    c.set_watches2(0, data=["/raw"], exist=["/raw/n"], child=["/raw"],
                   persistent=["/raw"], recursive=["/raw/c"])
    c.sync("/raw")
    c.ping()
    c.request(Op.GET_ACL, p_string("/raw"))
    c.request(Op.SET_ACL, p_string("/raw") +
              jute.p_vector([(31, "world", "anyone")], jute.p_acl) +
              p_int(-1))
    c.request(Op.CREATE, p_string("/raw/p") + p_buffer(None) +
              jute.p_vector([(31, "ip", "127.0.0.1")], jute.p_acl) +
              p_int(0))
    c.request(Op.DELETE_CONTAINER, p_string("/raw/c"), check=False)
    c.request(Op.RECONFIG, p_string("") + p_string("") + p_string("") +
              p_long(-1), check=False)
    c.auth("digest", "super:superpw")
    c.delete("/raw/p")
    c.close_session()
    c.close_socket()
    # a reconnect to an existing session, then an unknown opcode
    c1 = jute.open_session(hosts)
    c2 = jute.open_session(hosts, session_id=c1.session_id,
                           passwd=c1.passwd)
    c2.exists("/")
    try:
        c2.request(999, b"", check=False)
    except Exception:
        pass
    c1.close_socket()
    c2.close_socket()


def four_letter_words(hosts):
    for w in ("ruok", "srvr", "stat", "mntr", "cons", "conf", "envi",
              "wchs", "wchc", "wchp", "dump", "isro", "crst", "srst",
              "dirs", "gtmk", "stmk"):
        try:
            four_letter(hosts, w)
        except OSError:
            pass


def c_client(hosts, tmp):
    src = os.path.join(TOP, "tests", "integration", "cclient", "zkc_test.c")
    if not os.path.exists("/usr/include/zookeeper/zookeeper.h"):
        print("record_corpus: no libzookeeper-mt headers, skipping C client")
        return
    exe = os.path.join(tmp, "zkc_test")
    subprocess.run(["cc", "-O1", "-o", exe, src, "-lzookeeper_mt",
                    "-lpthread"], check=True, capture_output=True)
    r = subprocess.run([exe, hosts, "/cclient"], capture_output=True,
                       timeout=60)
    print("record_corpus: C client exit %d" % r.returncode)


# ------------------------------------------------------------ splitting

def frames(stream):
    out, off = [], 0
    while len(stream) - off >= 4:
        n = struct.unpack_from("!i", stream, off)[0]
        if n < 0 or len(stream) - off - 4 < n:
            break
        out.append(bytes(stream[off + 4:off + 4 + n]))
        off += 4 + n
    return out


def chunks(items, cap):
    cur, size = [], 0
    for it in items:
        if cur and size + len(it) > cap:
            yield cur
            cur, size = [], 0
        cur.append(it)
        size += len(it)
    if cur:
        yield cur


class Writer:
    def __init__(self, out):
        self.out = out
        self.count = {}

    def add(self, target, data):
        if len(data) > MAX_SEED or not data:
            return
        d = os.path.join(self.out, target)
        os.makedirs(d, exist_ok=True)
        name = hashlib.sha1(data).hexdigest()
        path = os.path.join(d, name)
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(data)
            self.count[target] = self.count.get(target, 0) + 1


def acl_slice(body):
    """The vector<ACL> bytes of a create request body, or None."""
    r = jute.Reader(body)
    try:
        r.string()
        r.buffer()
        start = r.off
        r.vector(jute.Reader.acl)
        return body[start:r.off]
    except Exception:
        return None


def emit(w, streams):
    for st in streams:
        st = bytes(st)
        if not st:
            continue
        fs = frames(st)
        if not fs or len(st) == 4 or (len(st) < 8 and fs == []):
            w.add("conn", b"\x00" + st[:MAX_SEED - 1])
            continue
        if not fs:
            w.add("conn", b"\x00" + st[:MAX_SEED - 1])
            continue
        # whole stream (cut at a frame boundary)
        enc = [struct.pack("!i", len(f)) + f for f in fs]
        for ch in chunks(enc, MAX_SEED - 1):
            w.add("conn", b"\x00" + b"".join(ch))
            break
        reqs = fs[1:]
        for ch in chunks([struct.pack("!i", len(f)) + f for f in reqs],
                         MAX_SEED - 1):
            w.add("conn", b"\x01" + b"".join(ch))
        for ch in chunks([struct.pack("!H", len(f)) + f for f in reqs
                          if len(f) < 65536], MAX_SEED - 1):
            w.add("conn", b"\x02" + b"".join(ch))
            w.add("conn", b"\x80" + b"".join(ch))  # 128 % 3 == 2, + wait
        # sequencer records and jute pieces
        recs = []
        for f in reqs:
            if len(f) < 8:
                continue
            xid, op = struct.unpack_from("!ii", f)
            body = f[8:]
            w.add("jute", b"\x03" + body)
            if len(body) >= 4:
                plen = struct.unpack_from("!i", body)[0]
                if 0 <= plen <= len(body) - 4:
                    w.add("jute", b"\x02" + body[:4 + plen])
            if op in (Op.CREATE, Op.CREATE2, Op.CREATE_TTL,
                      Op.CREATE_CONTAINER):
                a = acl_slice(body)
                if a:
                    w.add("jute", b"\x00" + a)
            if op == Op.AUTH:
                try:
                    r = jute.Reader(body)
                    r.int()
                    r.string()
                    w.add("jute", b"\x04" + r.buffer())
                except Exception:
                    pass
            if op in SEQ_OPS and len(body) < 65536:
                rec = bytes([SEQ_OPS.index(op), 0]) + \
                    struct.pack("!H", len(body)) + body
                recs.append(rec)
                w.add("sequencer", rec)
        for ch in chunks(recs, MAX_SEED):
            w.add("sequencer", b"".join(ch))
            # the same writes by a digest-authenticated / super client
            w.add("sequencer", b"".join(r[:1] + b"\x01" + r[2:] for r in ch))
            w.add("sequencer", b"".join(r[:1] + b"\x06" + r[2:] for r in ch))
    # auth blocks (zab_auth_write format) as a worker builds them
    for ids in ([("ip", "127.0.0.1")],
                [("ip", "127.0.0.1"), ("digest", "bob:0ezhUayTjEymfNB3K9C0+wkMLMo=")],
                [("ip", "::1"), ("super", "")], []):
        blk = p_int(len(ids)) + b"".join(p_string(s) + p_string(i)
                                         for s, i in ids)
        w.add("jute", b"\x01" + blk)


def configs(w, cfg_used):
    for d in (os.path.join(TOP, "configs"),):
        for n in sorted(os.listdir(d)):
            with open(os.path.join(d, n), "rb") as f:
                w.add("config", f.read())
    with open(cfg_used, "rb") as f:
        txt = f.read().decode()
    # fixed dataDir/clientPort, so re-recording adds no near-duplicates
    txt = "".join("dataDir=/tmp/paddock-data\n" if l.startswith("dataDir=")
                  else "clientPort=2181\n" if l.startswith("clientPort=")
                  else l for l in txt.splitlines(True))
    w.add("config", txt.encode())
    w.add("config", b"server.1=host1:2888:3888;2181\nserver.2=[::1]:2888:"
          b"3888:observer;127.0.0.1:2182\ndataDir=/tmp/x\npeerType=observer"
          b"\nautopurge.snapRetainCount=2\nsnapCount=1\npreAllocSize=8\n"
          b"jute.maxbuffer=1048575\nforceSync=no\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get(
        "PADDOCK_BUILD", os.path.join(TOP, "build")))
    ap.add_argument("--out", default=os.path.join(HERE, "corpus"))
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="paddock-rec-")
    srv, port, cfg = start_server(a.build, tmp)
    try:
        proxy = Proxy(port)
        kazoo_sessions(proxy.hosts)
        raw_sessions(proxy.hosts)
        c_client(proxy.hosts, tmp)
        four_letter_words(proxy.hosts)
        time.sleep(0.5)
        w = Writer(a.out)
        with proxy.lock:
            streams = list(proxy.streams)
        emit(w, streams)
        configs(w, cfg)
        print("record_corpus: %d connections recorded; new seeds: %s" %
              (len(streams), w.count))
    finally:
        srv.terminate()
        srv.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
