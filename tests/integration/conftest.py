"""Integration-test fixtures: real servers, real clients.

Target server (the one under test) is chosen by PADDOCK_TARGET:
    paddock    (default) $PADDOCK_BUILD/tools/paddockd <zoo.cfg>
    zookeeper  Apache ZooKeeper 3.8 from Debian (java QuorumPeerMain)

Comparison tests (@pytest.mark.compare) also use a *reference* Apache
ZooKeeper.  When the target itself is ZooKeeper, the reference is the same
server process (tests then use different root paths for the two runs).

Every test gets its own root path (fixture ``root``), removed afterwards,
so one long-lived server per session is enough.
"""

import atexit
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from kazoo.client import KazooClient
from kazoo.security import make_digest_acl_credential

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ensemble  # noqa: E402
import jute  # noqa: E402
from srvutil import free_port, four_letter, serves  # noqa: E402,F401

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET = os.environ.get("PADDOCK_TARGET", "paddock")
PADDOCK_BUILD = os.environ.get("PADDOCK_BUILD", "/work/main/build")
PADDOCKD = os.environ.get("PADDOCKD",
                          os.path.join(PADDOCK_BUILD, "tools", "paddockd"))
ZK_JAR = "/usr/share/java/zookeeper.jar"
ZK_CP = os.environ.get(
    "ZK_CLASSPATH", ZK_JAR + ":/usr/share/java/slf4j-simple.jar")
# With Jetty (the AdminServer) and Netty (TLS) too; slf4j-simple first,
# or SLF4J picks slf4j-nop and ZooKeeper's log is empty
ZK_FULL_CP = ZK_CP + ":/usr/share/java/*"
JAVA = os.environ.get("JAVA", shutil.which("java") or "/usr/bin/java")
KEEP = os.environ.get("PADDOCK_KEEP_TMP")  # keep server dirs for debugging

SUPER_USER = "super"
SUPER_PW = "superpw"
SUPER_DIGEST = make_digest_acl_credential(SUPER_USER, SUPER_PW)  # super:xxx

# Container/TTL check interval: ZooKeeper reads the JVM property
# znode.container.checkIntervalMs (default 60000); paddockd is expected to
# honour the same name as a zoo.cfg key.
CONTAINER_CHECK_MS = 1000

# zoo.cfg keys that ZooKeeper only honours as JVM system properties.  (ZK
# turns unknown zoo.cfg keys into "zookeeper.<key>" system properties, which
# happens to work for the first two but not for the container interval, so
# we pass all of them explicitly with -D.)
ZK_JVM_PROPS = {
    "DigestAuthenticationProvider.superDigest":
        "zookeeper.DigestAuthenticationProvider.superDigest",
    "extendedTypesEnabled": "zookeeper.extendedTypesEnabled",
    "znode.container.checkIntervalMs": "znode.container.checkIntervalMs",
    "java.security.auth.login.config": "java.security.auth.login.config",
}


def base_config():
    return {
        "tickTime": "2000",
        "initLimit": "10",
        "syncLimit": "5",
        "minSessionTimeout": "1000",
        "maxSessionTimeout": "40000",
        "maxClientCnxns": "60",
        "4lw.commands.whitelist": "*",
        "admin.enableServer": "false",
        "DigestAuthenticationProvider.superDigest": SUPER_DIGEST,
        "extendedTypesEnabled": "true",
        "znode.container.checkIntervalMs": str(CONTAINER_CHECK_MS),
    }


class ServerError(Exception):
    pass


_LIVE = set()


@atexit.register
def _kill_leftovers():
    """Servers run in their own process group; never leave one behind even
    if pytest is interrupted."""
    for srv in list(_LIVE):
        srv.kill()


class Server:
    """One standalone server process (paddockd or Apache ZooKeeper)."""

    def __init__(self, kind, overrides=None, name="srv", full_cp=False):
        assert kind in ("paddock", "zookeeper"), kind
        self.kind = kind
        self.full_cp = full_cp  # ZooKeeper with every Debian jar
        self.dir = tempfile.mkdtemp(prefix="paddock-it-%s-%s-" % (kind, name))
        self.port = free_port()
        self.config = base_config()
        self.config.update({"dataDir": os.path.join(self.dir, "data"),
                            "clientPort": str(self.port),
                            "clientPortAddress": "127.0.0.1"})
        for k, v in (overrides or {}).items():
            if v is None:
                self.config.pop(k, None)
            else:
                self.config[k] = str(v)
        self.cfg_path = os.path.join(self.dir, "zoo.cfg")
        self.log_path = os.path.join(self.dir, "server.log")
        self.proc = None
        self.restarts = 0

    @property
    def hosts(self):
        return "127.0.0.1:%d" % self.port

    def write_config(self):
        os.makedirs(self.config["dataDir"], exist_ok=True)
        with open(self.cfg_path, "w") as f:
            for k, v in self.config.items():
                f.write("%s=%s\n" % (k, v))

    def command(self):
        if self.kind == "paddock":
            if not os.path.exists(PADDOCKD):
                raise ServerError(
                    "paddockd binary not found at %s (build it, or set "
                    "PADDOCK_BUILD / PADDOCKD, or run with "
                    "PADDOCK_TARGET=zookeeper)" % PADDOCKD)
            return [PADDOCKD, self.cfg_path]
        if not os.path.exists(ZK_JAR):
            raise ServerError("Apache ZooKeeper not installed (%s missing; "
                              "apt-get install zookeeper)" % ZK_JAR)
        cmd = [JAVA, "-Xshare:auto", "-XX:+UseSerialGC", "-Xmx256m",
               "-cp", ZK_FULL_CP if self.full_cp else ZK_CP,
               "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
               "-Dzookeeper.admin.enableServer=false"]
        for key, prop in ZK_JVM_PROPS.items():
            if key in self.config:
                cmd.append("-D%s=%s" % (prop, self.config[key]))
        cmd += ["org.apache.zookeeper.server.quorum.QuorumPeerMain",
                self.cfg_path]
        return cmd

    def start(self, timeout=None):
        if timeout is None:
            timeout = 10.0 if self.kind == "paddock" else 20.0
        self.write_config()
        cmd = self.command()
        logf = open(self.log_path, "ab")
        logf.write(("\n=== start: %s\n" % " ".join(cmd)).encode())
        logf.flush()
        try:
            self.proc = subprocess.Popen(cmd, stdout=logf,
                                         stderr=subprocess.STDOUT,
                                         cwd=self.dir,
                                         start_new_session=True)
        except OSError as e:
            raise ServerError("cannot run %s: %s" % (cmd[0], e))
        finally:
            logf.close()
        _LIVE.add(self)
        deadline = time.monotonic() + timeout
        ruok = self._ruok_allowed()
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                raise ServerError("%s exited with status %s during start-up."
                                  "\n--- %s (tail):\n%s" %
                                  (self.kind, rc, self.log_path,
                                   self.log_tail()))
            if self._answers(ruok):
                return self
            time.sleep(0.05)
        self.kill()
        raise ServerError("%s did not answer on %s within %.0fs.\n--- %s "
                          "(tail):\n%s" % (self.kind, self.hosts, timeout,
                                           self.log_path, self.log_tail()))

    def _ruok_allowed(self):
        wl = self.config.get("4lw.commands.whitelist", "srvr")
        words = [w.strip() for w in wl.split(",")]
        return "*" in words or "ruok" in words

    def _answers(self, ruok):
        return serves(self.hosts, ruok=ruok)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10.0):
        _LIVE.discard(self)
        if not self.proc:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None

    def kill(self):
        _LIVE.discard(self)
        if not self.proc:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(10)
        self.proc = None

    def cleanup(self):
        self.stop()
        if not KEEP:
            shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self, n=40):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return "(no log)"


# PADDOCK_TARGET_HOSTS=host:port: the target is an external server that is
# already running (test_dpdk.py runs part of this suite inside a network
# namespace against a DPDK-mode paddockd).  Nothing starts, restarts or
# stops it; a test that needs a server of its own (server_factory) skips.
# The reference ZooKeeper is still started as usual, on 127.0.0.1.
EXTERNAL_HOSTS = os.environ.get("PADDOCK_TARGET_HOSTS")


class ExternalServer:
    """The target given by PADDOCK_TARGET_HOSTS: only its address."""

    def __init__(self, hosts):
        self.kind = TARGET
        self.hosts = hosts
        self.port = int(hosts.rsplit(":", 1)[1])
        self.proc = None
        self.restarts = 0

    def alive(self):
        """It accepts a TCP connection (needs no 4lw whitelist)."""
        host, port = self.hosts.rsplit(":", 1)
        try:
            socket.create_connection((host, int(port)), timeout=5).close()
            return True
        except OSError:
            return False

    def start(self, timeout=None):
        raise ServerError("the external target %s (PADDOCK_TARGET_HOSTS) "
                          "does not answer" % self.hosts)

    def stop(self, timeout=None):
        pass

    kill = cleanup = stop

    def log_tail(self, n=40):
        return "(external server %s: its log is its runner's)" % self.hosts


# ------------------------------------------------------------------ pytest

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report gets what the members of its ensembles
    (ensemble.py) logged: in CI their directories are gone afterwards."""
    outcome = yield
    ensemble.add_logs(outcome.get_result())


def pytest_configure(config):
    config.addinivalue_line("markers", "compare: runs the same operations "
                            "against the target and a reference ZooKeeper")
    config.addinivalue_line("markers", "slow: takes several seconds")
    config.addinivalue_line("markers", "paddock_gap(reason): known paddockd "
                            "difference; strict xfail on the paddock target")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(60))
        # @pytest.mark.paddock_gap("why"): a known difference of paddockd
        # from ZooKeeper.  Strict xfail on the paddock target only (so a fix
        # shows up as XPASS and the marker must be removed); no effect when
        # the target is ZooKeeper itself, where the test must pass.
        gap = item.get_closest_marker("paddock_gap")
        if gap is not None and TARGET == "paddock":
            reason = gap.args[0] if gap.args else gap.kwargs.get("reason", "")
            item.add_marker(pytest.mark.xfail(
                strict=True, reason="paddock gap: %s" % reason))


def pytest_report_header(config):
    if EXTERNAL_HOSTS:
        return ["paddock integration: target=%s, external at %s" %
                (TARGET, EXTERNAL_HOSTS)]
    return ["paddock integration: target=%s paddockd=%s" % (TARGET, PADDOCKD)]


def _start_or_raise(server):
    try:
        server.start()
    except ServerError:
        server.cleanup()
        raise
    return server


@pytest.fixture(scope="session")
def target_server():
    if EXTERNAL_HOSTS:
        yield ExternalServer(EXTERNAL_HOSTS)
        return
    srv = _start_or_raise(Server(TARGET, name="target"))
    yield srv
    srv.cleanup()


@pytest.fixture(scope="session")
def ref_server(target_server):
    if TARGET == "zookeeper" and not os.environ.get("PADDOCK_REF_SEPARATE"):
        yield target_server
        return
    if not os.path.exists(ZK_JAR) or not os.path.exists(JAVA):
        pytest.skip("reference Apache ZooKeeper not installed")
    srv = _start_or_raise(Server("zookeeper", name="ref"))
    yield srv
    srv.cleanup()


def _ensure_alive(srv):
    if not srv.alive():
        srv.restarts += 1
        srv.start()


@pytest.fixture
def target(target_server):
    """The session's target server, restarted first if an earlier test
    killed it; a test during which it dies fails at teardown."""
    _ensure_alive(target_server)
    yield target_server
    if not target_server.alive():
        pytest.fail("%s server died during this test.\n--- log tail:\n%s" %
                    (target_server.kind, target_server.log_tail()))


@pytest.fixture
def reference(ref_server):
    _ensure_alive(ref_server)
    return ref_server


PROM = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"


def prom_server(name):
    """A started paddockd with ZooKeeper's Prometheus provider serving
    /metrics on 127.0.0.1 at a free port: (the Server, that port)."""
    port = free_port()
    s = Server("paddock", {"metricsProvider.className": PROM,
                           "metricsProvider.httpHost": "127.0.0.1",
                           "metricsProvider.httpPort": port},
               name=name).start()
    return s, port


def new_client(hosts, timeout=10.0, **kw):
    c = KazooClient(hosts=hosts, timeout=timeout, **kw)
    c.start(timeout=10)
    return c


def _admin_delete(hosts, path):
    try:
        c = new_client(hosts, auth_data=[("digest", "%s:%s" %
                                          (SUPER_USER, SUPER_PW))])
    except Exception:
        return
    try:
        if c.exists(path):
            c.delete(path, recursive=True)
    except Exception:
        pass
    finally:
        c.stop()
        c.close()


def _root_name(request, prefix):
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name)
    return "/%s-%s" % (prefix, name)


@pytest.fixture
def root(request, target):
    """A unique, not-yet-existing root path for this test on the target."""
    path = _root_name(request, "t")
    _admin_delete(target.hosts, path)
    yield path
    if target.alive():
        _admin_delete(target.hosts, path)


@pytest.fixture
def ref_root(request, reference):
    path = _root_name(request, "r")
    _admin_delete(reference.hosts, path)
    yield path
    if reference.alive():
        _admin_delete(reference.hosts, path)


class ClientFactory:
    def __init__(self, hosts):
        self.hosts = hosts
        self.clients = []

    def __call__(self, **kw):
        c = new_client(self.hosts, **kw)
        self.clients.append(c)
        return c

    def close(self):
        for c in self.clients:
            try:
                c.stop()
                c.close()
            except Exception:
                pass


@pytest.fixture
def make_zk(target):
    """Factory: make_zk(**KazooClient kwargs) -> started client on target."""
    f = ClientFactory(target.hosts)
    yield f
    f.close()


@pytest.fixture
def zk(make_zk):
    """A connected kazoo client on the target server."""
    return make_zk()


@pytest.fixture
def ref(reference):
    """A connected kazoo client on the reference ZooKeeper."""
    f = ClientFactory(reference.hosts)
    yield f()
    f.close()


class RawFactory:
    def __init__(self, hosts):
        self.hosts = hosts
        self.clients = []

    def __call__(self, connect=True, timeout_ms=10000, hosts=None, **kw):
        c = jute.RawClient(hosts or self.hosts)
        self.clients.append(c)
        if connect:
            c.connect(timeout_ms=timeout_ms, **kw)
        return c

    def close(self):
        for c in self.clients:
            c.close_socket()


@pytest.fixture
def raw(target):
    """Factory: raw(connect=True, timeout_ms=...) -> jute.RawClient."""
    f = RawFactory(target.hosts)
    yield f
    f.close()


@pytest.fixture
def ref_raw(reference):
    f = RawFactory(reference.hosts)
    yield f
    f.close()


@pytest.fixture
def server_factory():
    """Factory for a dedicated target-kind server with zoo.cfg overrides:
    server_factory({"maxClientCnxns": 2}).  Stopped after the test."""
    if EXTERNAL_HOSTS:
        pytest.skip("needs a server with its own zoo.cfg; the target is the "
                    "external %s (PADDOCK_TARGET_HOSTS)" % EXTERNAL_HOSTS)
    servers = []

    def make(overrides=None, kind=None):
        srv = Server(kind or TARGET, overrides=overrides, name="dedicated")
        servers.append(srv)
        srv.start()
        return srv
    yield make
    for s in servers:
        s.cleanup()


@pytest.fixture(scope="session")
def zkc_binary(tmp_path_factory):
    """tests/integration/cclient/zkc_test.c built against Debian's
    libzookeeper-mt (the C client)."""
    if not os.path.exists("/usr/include/zookeeper/zookeeper.h"):
        pytest.skip("libzookeeper-mt-dev not installed")
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler")
    out = str(tmp_path_factory.mktemp("cclient") / "zkc_test")
    cmd = [cc, "-O1", "-g", "-Wall", "-o", out,
           os.path.join(HERE, "cclient", "zkc_test.c"), "-lzookeeper_mt",
           "-lpthread"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, "compiling zkc_test.c failed:\n%s" % r.stderr
    return out
