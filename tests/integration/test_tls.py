"""TLS on secureClientPort, beside Apache ZooKeeper 3.8 (Netty) with the
same PEM key and trust stores in the same test.

Certificates are made here with the openssl command: a CA, the server's
certificate for 127.0.0.1, two client certificates from that CA and one
from a CA the servers do not trust.  Both servers run with
authProvider.x509, so a verified client certificate's subject is an
"x509" identity ACLs can name.

Debian's libzookeeper-mt is built without SSL (no zookeeper_init_ssl),
so the C client cannot be tested over TLS here; kazoo and the Java
client are.
"""

import os
import socket
import ssl
import subprocess
import time

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.security import ACL, Id, Permissions

from conftest import Server, ServerError, new_client
from srvutil import free_port, four_letter, kv_lines


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_ca(d, name, cn):
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
            name + "-key.pem", "-out", name + ".pem", "-days", "2", "-subj",
            "/CN=%s" % cn, cwd=d)


def make_cert(d, name, subj, ca, ext=None):
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout",
            name + "-key.pem", "-out", name + ".csr", "-subj", subj, cwd=d)
    args = ["x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem",
            "-CAkey", ca + "-key.pem", "-CAcreateserial", "-out",
            name + "-cert.pem", "-days", "2"]
    if ext:
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write(ext)
        args += ["-extfile", name + ".ext"]
    openssl(*args, cwd=d)
    with open(os.path.join(d, name + ".pem"), "w") as out:
        for part in ("-key.pem", "-cert.pem"):
            out.write(open(os.path.join(d, name + part)).read())


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("tls"))
    make_ca(d, "ca", "paddock test CA")
    make_ca(d, "rogue", "someone else")
    make_cert(d, "server", "/O=paddock/CN=localhost", "ca",
              "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    make_cert(d, "client1", "/O=paddock/CN=client1", "ca")
    make_cert(d, "client2", "/O=paddock/CN=client2", "ca")
    make_cert(d, "stranger", "/O=paddock/CN=stranger", "rogue")
    return d


def tls_config(certs, port):
    return {
        "secureClientPort": port,
        "serverCnxnFactory": "org.apache.zookeeper.server."
                             "NettyServerCnxnFactory",
        "ssl.keyStore.location": os.path.join(certs, "server.pem"),
        "ssl.keyStore.type": "PEM",
        "ssl.trustStore.location": os.path.join(certs, "ca.pem"),
        "ssl.trustStore.type": "PEM",
        "authProvider.x509": "org.apache.zookeeper.server.auth."
                             "X509AuthenticationProvider",
    }


@pytest.fixture(scope="module")
def servers(certs):
    """{kind: (server, secure port)} for paddockd and ZooKeeper"""
    out = {}
    try:
        for kind in ("paddock", "zookeeper"):
            port = free_port()
            s = Server(kind, tls_config(certs, port), name="tls",
                       full_cp=True).start()
            out[kind] = (s, port)
        yield out
    finally:
        for s, _ in out.values():
            s.cleanup()


def tls_client(certs, port, who="client1", timeout=10.0, **kw):
    kw.setdefault("ca", os.path.join(certs, "ca.pem"))
    c = KazooClient(hosts="127.0.0.1:%d" % port, use_ssl=True,
                    certfile=os.path.join(certs, who + "-cert.pem"),
                    keyfile=os.path.join(certs, who + "-key.pem"),
                    timeout=timeout, **kw)
    c.start(timeout=timeout)
    return c


def close(c):
    c.stop()
    c.close()


@pytest.mark.compare
@pytest.mark.parametrize("kind", ["paddock", "zookeeper"])
def test_kazoo_over_tls_reads_and_writes(servers, certs, kind):
    srv, port = servers[kind]
    c = tls_client(certs, port)
    try:
        c.ensure_path("/tls")
        c.create("/tls/big", b"x" * 500000)  # many TLS records
        assert c.get("/tls/big")[0] == b"x" * 500000
        got = []
        c.get("/tls/big", watch=got.append)
        plain = new_client(srv.hosts)  # the plain port serves alongside
        plain.set("/tls/big", b"y")
        close(plain)
        for _ in range(100):
            if got:
                break
            c.handler.sleep_func(0.05)
        assert got and got[0].path == "/tls/big"
        c.delete("/tls", recursive=True)
    finally:
        close(c)


@pytest.mark.compare
@pytest.mark.parametrize("kind", ["paddock", "zookeeper"])
def test_x509_identity_names_the_certificate_subject(servers, certs, kind):
    srv, port = servers[kind]
    one = tls_client(certs, port, "client1")
    two = tls_client(certs, port, "client2")
    try:
        me = "CN=client1,O=paddock"
        one.create("/x509-%s" % kind, b"secret",
                   acl=[ACL(Permissions.ALL, Id("x509", me))])
        assert one.get("/x509-%s" % kind)[0] == b"secret"
        assert one.get_acls("/x509-%s" % kind)[0] == \
            [ACL(Permissions.ALL, Id("x509", me))]
        with pytest.raises(NoAuthError):
            two.get("/x509-%s" % kind)
        # "auth" expands to the connection's x509 identity
        two.create("/auth-%s" % kind, acl=[ACL(Permissions.ALL,
                                                Id("auth", ""))])
        assert two.get_acls("/auth-%s" % kind)[0] == \
            [ACL(Permissions.ALL, Id("x509", "CN=client2,O=paddock"))]
        with pytest.raises(NoAuthError):
            one.get("/auth-%s" % kind)
        one.delete("/x509-%s" % kind)
        two.delete("/auth-%s" % kind)
    finally:
        close(one)
        close(two)


def handshake(port, who, certs):
    """A TLS handshake with client certificate `who` (None: none); the
    ssl error or None, after a round trip (TLS 1.3 servers refuse a
    certificate after the client thinks the handshake is done)."""
    ctx = ssl.create_default_context(cafile=os.path.join(certs, "ca.pem"))
    if who:
        ctx.load_cert_chain(os.path.join(certs, who + "-cert.pem"),
                            os.path.join(certs, who + "-key.pem"))
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        t = ctx.wrap_socket(s, server_hostname="127.0.0.1")
        t.sendall(b"ruok")
        return None if t.recv(16) else "closed"
    except (ssl.SSLError, OSError) as e:
        return type(e).__name__
    finally:
        s.close()


@pytest.mark.compare
def test_certificates_are_checked_as_zookeeper_checks_them(servers, certs):
    """ssl.clientAuth=need (the default): no certificate, or one from an
    untrusted CA, fails the handshake on both servers."""
    for kind, (srv, port) in servers.items():
        assert handshake(port, "client1", certs) is None, kind
        assert handshake(port, None, certs) is not None, kind
        assert handshake(port, "stranger", certs) is not None, kind


def test_plain_and_garbage_on_the_tls_port_leave_it_serving(servers, certs):
    srv, port = servers["paddock"]
    failed = int(kv_lines(four_letter(srv.hosts, "mntr"))
                 ["zk_unsuccessful_handshake"])
    c = tls_client(certs, port)
    try:
        for junk in (b"\x00\x00\x00\x2c" + b"\x00" * 44,  # a plain connect
                     b"\x16\x03\x01\xff\xff" + os.urandom(300),
                     b"GET / HTTP/1.0\r\n\r\n"):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(junk)
            try:
                s.recv(100)
            except OSError:
                pass
            s.close()
        half = socket.create_connection(("127.0.0.1", port))  # never talks
        c.ensure_path("/still")
        assert c.exists("/still")
        assert four_letter(srv.hosts, "ruok") == "imok"
        kv = kv_lines(four_letter(srv.hosts, "mntr"))
        # three refused handshakes; the silent one is still in progress
        assert int(kv["zk_unsuccessful_handshake"]) >= failed + 3, kv
        assert int(kv["zk_outstanding_tls_handshake"]) >= 1, kv
        half.close()
        c.delete("/still")
    finally:
        close(c)
    assert "TLS handshake with 127.0.0.1 failed" in srv.log_tail(200)
    deadline = time.time() + 5
    while int(kv_lines(four_letter(srv.hosts, "mntr"))
              ["zk_outstanding_tls_handshake"]) and time.time() < deadline:
        time.sleep(0.05)
    assert int(kv_lines(four_letter(srv.hosts, "mntr"))
               ["zk_outstanding_tls_handshake"]) == 0


@pytest.mark.parametrize("bad,why", [
    ({"ssl.keyStore.location": "/nonexistent.pem"},
     "ssl.keyStore.location /nonexistent.pem: No such file or directory"),
    ({"ssl.keyStore.location": "@ca.pem"},
     "ssl.keyStore.location"),
    ({"ssl.trustStore.location": "@server-cert.pem",
      "ssl.keyStore.location": "@client1-cert.pem"},
     "ssl.keyStore.location"),
    ({"ssl.keyStore.type": "JKS"}, "JKS stores are Java's own format"),
    ({"ssl.ciphersuites": "TLS_NO_SUCH_SUITE"},
     "ssl.ciphersuites: unknown cipher suite 'TLS_NO_SUCH_SUITE'"),
])
def test_a_bad_store_is_a_clear_start_up_error(certs, bad, why):
    over = tls_config(certs, free_port())
    for k, v in bad.items():
        over[k] = v.replace("@", certs + "/") if v.startswith("@") else v
    s = Server("paddock", over, name="badtls")
    try:
        with pytest.raises(ServerError) as e:
            s.start(timeout=5)
        assert why in str(e.value)
    finally:
        s.cleanup()


def test_encrypted_key_and_pkcs12_stores(certs, tmp_path):
    """A PEM key under ssl.keyStore.password, and PKCS12 stores."""
    enc = str(tmp_path / "enc.pem")
    openssl("pkey", "-in", os.path.join(certs, "server-key.pem"), "-aes256",
            "-passout", "pass:sekret", "-out", enc, cwd=certs)
    with open(enc, "a") as f:
        f.write(open(os.path.join(certs, "server-cert.pem")).read())
    p12 = str(tmp_path / "server.p12")
    openssl("pkcs12", "-export", "-in", os.path.join(certs, "server.pem"),
            "-passout", "pass:p12pw", "-out", p12, cwd=certs)
    for over in ({"ssl.keyStore.location": enc,
                  "ssl.keyStore.password": "sekret"},
                 {"ssl.keyStore.location": p12, "ssl.keyStore.type": "PKCS12",
                  "ssl.keyStore.password": "p12pw"}):
        port = free_port()
        cfg = tls_config(certs, port)
        cfg.update(over)
        s = Server("paddock", cfg, name="keys").start()
        try:
            c = tls_client(certs, port)
            assert c.exists("/zookeeper")
            close(c)
        finally:
            s.cleanup()
    cfg = tls_config(certs, free_port())
    cfg.update({"ssl.keyStore.location": enc,
                "ssl.keyStore.password": "wrong"})
    s = Server("paddock", cfg, name="badpw")
    try:
        with pytest.raises(ServerError) as e:
            s.start(timeout=5)
        assert "ssl.keyStore.location %s" % enc in str(e.value)
    finally:
        s.cleanup()
