"""SASL DIGEST-MD5 logins, beside Apache ZooKeeper 3.8 with the same JAAS
file: the Java client (zkCli with a JAAS "Client" section), one zkCli
against each server at once, transcripts compared; and kazoo
(sasl_options, through Debian's python3-pure-sasl), outcomes compared.
kazoo's own SASL tests run too: tests/kazoo runs kazoo's whole suite.
"""

import logging
import threading
import time

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.security import make_acl

import zkcli as cli
from conftest import Server, ServerError

JAAS_SERVER = """Server {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_super="adminsecret"
    user_bob="bobsecret"
    user_amy="amy \\"quoted\\" secret";
};
"""

SASL = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"


def client_jaas(path, user, password):
    with open(path, "w") as f:
        f.write('Client {\n    org.apache.zookeeper.server.auth.'
                'DigestLoginModule required\n    username="%s"\n'
                '    password="%s";\n};\n' % (user, password))
    return path


@pytest.fixture(scope="module")
def jaas(tmp_path_factory):
    d = tmp_path_factory.mktemp("sasl")
    server = d / "server.jaas"
    server.write_text(JAAS_SERVER)
    return {"dir": str(d), "server": str(server),
            "bob": client_jaas(str(d / "bob.jaas"), "bob", "bobsecret"),
            "amy": client_jaas(str(d / "amy.jaas"), "amy",
                               'amy \\"quoted\\" secret'),
            "wrong": client_jaas(str(d / "wrong.jaas"), "bob", "nope"),
            "nobody": client_jaas(str(d / "nobody.jaas"), "carol", "x")}


@pytest.fixture(scope="module")
def servers(jaas):
    out = {}
    try:
        for kind in ("paddock", "zookeeper"):
            out[kind] = Server(kind, {
                "authProvider.1": SASL,
                # a JVM property for ZooKeeper (conftest passes it -D)
                "java.security.auth.login.config": jaas["server"],
            }, name="sasl").start()
        yield out
    finally:
        for s in out.values():
            s.cleanup()


def run_both(servers, script, jaas_file, root):
    """One zkCli per server at once, logging in with jaas_file (None: no
    SASL); the normalised transcripts {kind: transcript}."""
    flags = "-Xshare:auto -XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
    if jaas_file:
        flags += (" -Djava.security.auth.login.config=%s "
                  "-Dzookeeper.sasl.client=true" % jaas_file)
    else:
        flags += " -Dzookeeper.sasl.client=false"
    res = {}

    def go(kind, srv):
        r = root + "-" + kind
        steps = [s.format(r=r) for s in script]
        try:
            t = cli.run(srv.hosts, steps, env={"CLIENT_JVMFLAGS": flags})
            res[kind] = cli.normalise(t, r, srv.hosts)
        except BaseException as e:  # noqa: BLE001 - re-raised below
            res[kind] = e
    threads = [threading.Thread(target=go, args=kv)
               for kv in servers.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for kind in ("zookeeper", "paddock"):
        if isinstance(res[kind], BaseException):
            raise res[kind]
    return res


def same(res):
    if res["paddock"] != res["zookeeper"]:
        pytest.fail("zkCli output differs from ZooKeeper's:\n" +
                    cli.diff(res["paddock"], res["zookeeper"]),
                    pytrace=False)
    return res["zookeeper"]


def outputs(t):
    """The outputs of the script's steps, in order."""
    return [o for _, o in t["outputs"]]


@pytest.mark.compare
def test_digest_md5_login_gives_a_sasl_identity(servers, jaas):
    t = same(run_both(servers, [
        "@await SaslAuthenticated",
        "create {r} data sasl:bob:cdrwa",
        "getAcl {r}", "get {r}", "whoami",
        "create {r}/auth x auth::cdrwa", "getAcl {r}/auth",
    ], jaas["bob"], "/sasl-bob"))
    out = outputs(t)
    assert out[0] == ["seen"]
    assert out[3] == ["data"]
    assert "sasl: bob" in out[4]


@pytest.mark.compare
def test_quoted_password_and_other_users_acls(servers, jaas):
    same(run_both(servers, ["@await SaslAuthenticated",
                            "create {r} secret sasl:amy:cdrwa",
                            "whoami"], jaas["amy"], "/sasl-amy"))
    # bob may not read amy's node ({r}: the same root, per server)
    t = same(run_both(servers, ["@await SaslAuthenticated", "get {r}"],
                      jaas["bob"], "/sasl-amy"))
    assert outputs(t)[1][0].startswith("Insufficient permission")
    # nor may a client without SASL.  It awaits its SyncConnected first:
    # zkCli's event thread prints that event while the main thread runs
    # "get", and a zkCli whose only command has returned may exit before
    # it is printed (seen once, against the slower TSan paddockd)
    t = same(run_both(servers, ["@await SyncConnected", "get {r}"], None,
                      "/sasl-amy"))
    assert outputs(t)[1][0].startswith("Insufficient permission")


@pytest.mark.compare
@pytest.mark.parametrize("who", ["wrong", "nobody"])
def test_a_failed_login_is_auth_failed(servers, jaas, who):
    """A wrong password or an unknown user: AUTHFAILED, the connection
    closed, the client in state AuthFailed; the server serves on."""
    t = same(run_both(servers, ["@await AuthFailed", "ls /"], jaas[who],
                      "/f"))
    assert outputs(t)[0] == ["seen"]
    for s in servers.values():
        assert s.alive()
    assert "SASL authentication failed from 127.0.0.1" in \
        servers["paddock"].log_tail(100)


def kazoo_sasl(srv, user, password):
    c = KazooClient(srv.hosts, sasl_options={
        "mechanism": "DIGEST-MD5", "username": user, "password": password})
    c.start(timeout=10)
    return c


class KazooLog(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def kazoo_refused(srv, user, password):
    """kazoo's SASL login fails: AUTHFAILED; kazoo logs "AUTH_FAILED
    closing" and closes the client"""
    c = KazooClient(srv.hosts, sasl_options={
        "mechanism": "DIGEST-MD5", "username": user, "password": password})
    log = KazooLog()
    logging.getLogger("kazoo.client").addHandler(log)
    try:
        c.start_async()
        deadline = time.time() + 10
        while not any(m.startswith("AUTH_FAILED closing") for m in
                      log.lines) and time.time() < deadline:
            time.sleep(0.05)
        assert any(m.startswith("AUTH_FAILED closing") for m in
                   log.lines), (srv.kind, log.lines)
        assert not c.connected
    finally:
        logging.getLogger("kazoo.client").removeHandler(log)
        c.stop()
        c.close()


@pytest.mark.compare
def test_kazoo_logs_in_and_a_sasl_acl_is_enforced(servers):
    for kind, srv in servers.items():
        bob = kazoo_sasl(srv, "bob", "bobsecret")
        plain = KazooClient(srv.hosts)
        plain.start(timeout=10)
        try:
            bob.create("/kz-sasl", b"b", acl=[make_acl("sasl", "bob",
                                                       all=True)])
            assert bob.get("/kz-sasl")[0] == b"b", kind
            assert bob.get_acls("/kz-sasl")[0][0].id.id == "bob", kind
            with pytest.raises(NoAuthError):
                plain.get("/kz-sasl")
            amy = kazoo_sasl(srv, "amy", 'amy "quoted" secret')
            with pytest.raises(NoAuthError):
                amy.set("/kz-sasl", b"a")
            amy.stop()
            bob.delete("/kz-sasl")
        finally:
            bob.stop()
            plain.stop()


@pytest.mark.compare
@pytest.mark.parametrize("user,password", [("bob", "nope"), ("carol", "x")])
def test_kazoo_wrong_password_is_auth_failed(servers, user, password):
    for kind, srv in servers.items():
        kazoo_refused(srv, user, password)
        ok = KazooClient(srv.hosts)
        ok.start(timeout=10)
        assert ok.exists("/") is not None, kind
        ok.stop()


@pytest.mark.compare
@pytest.mark.parametrize("jaas_text", [None, 'Client { x required; };'])
def test_sasl_provider_without_a_server_section_serves_without_sasl(
        tmp_path, jaas_text):
    """The SASL provider with no JAAS file, or one with no Server section
    (kazoo's own test harness starts ZooKeeper so): ZooKeeper serves and
    fails SASL logins, and so does paddockd.  (ZooKeeper logs
    "cnxn.saslServer is null" and leaves the login unanswered until the
    client gives up; paddockd answers AUTHFAILED at once, so only its
    refusal is waited for here.)"""
    over = {"authProvider.1": SASL}
    if jaas_text is not None:
        f = tmp_path / "client-only.jaas"
        f.write_text(jaas_text)
        over["java.security.auth.login.config"] = str(f)
    started = []
    try:
        for kind in ("paddock", "zookeeper"):
            started.append(Server(kind, over, name="nojaas").start())
            srv = started[-1]
            if kind == "paddock":
                kazoo_refused(srv, "bob", "bobsecret")
            ok = KazooClient(srv.hosts)
            ok.start(timeout=10)
            ok.create("/x")
            ok.stop()
        assert "so SASL logins will fail" in started[0].log_tail(50)
    finally:
        for srv in started:
            srv.cleanup()


@pytest.mark.parametrize("jaas_text,why", [
    (None, "java.security.auth.login.config %(f)s: No such file"),
    ("Server { org.apache.zookeeper.server.auth.DigestLoginModule "
     "required; };", "no user_<name>="),
])
def test_a_bad_jaas_file_is_a_clear_start_up_error(tmp_path, jaas_text,
                                                    why):
    f = str(tmp_path / "server.jaas")
    if jaas_text is not None:
        with open(f, "w") as fh:
            fh.write(jaas_text)
    s = Server("paddock", {"authProvider.1": SASL,
                           "java.security.auth.login.config": f},
               name="badjaas")
    try:
        with pytest.raises(ServerError) as e:
            s.start(timeout=5)
        assert why % {"f": f} in str(e.value)
    finally:
        s.cleanup()
