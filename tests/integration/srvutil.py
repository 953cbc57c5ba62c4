"""Helpers both server fixtures use (tests/integration/conftest.py and
tests/fault/conftest.py): a free loopback port, four-letter words, and
"does this port serve sessions"."""
import socket
import struct

import jute


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def distinct_ports(n, host="127.0.0.1"):
    """n free ports, all different (free_port releases each port at
    once, so two calls can return the same one)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind((host, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def kv_lines(text):
    """mntr's "key<TAB>value" lines as a dict."""
    out = {}
    for line in text.splitlines():
        if "\t" in line:
            k, v = line.split("\t", 1)
            out[k] = v
    return out


def four_letter(hosts, word, timeout=5.0):
    """Send a four-letter word, return the whole reply as str."""
    host, port = hosts.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(word.encode() if isinstance(word, str) else word)
        chunks = []
        while True:
            try:
                c = s.recv(65536)
            except ConnectionResetError:
                break
            if not c:
                break
            chunks.append(c)
    return b"".join(chunks).decode("utf-8", "replace")


def serves(hosts, ruok=True, session=True):
    """The port answers ruok (if asked) and, if `session`, a real session
    can be created and closed (ZooKeeper answers imok before it serves
    sessions)."""
    try:
        if ruok and four_letter(hosts, "ruok", timeout=1.0) != "imok":
            return False
        if not session:
            return True
        c = jute.RawClient(hosts, timeout=2.0)
        try:
            c.connect(timeout_ms=5000)
            if c.session_id == 0:
                return False
            c.close_session()
        finally:
            c.close_socket()
        return True
    except (OSError, jute.Closed, jute.ZKError, struct.error):
        return False
