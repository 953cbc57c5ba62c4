"""Smoke test for paddock-bench (issue 4): a 2-second bench against a real
paddockd, parsed from --json: zero errors and a non-zero rate. A smoke test,
not a performance assertion.

The build dir comes from $PADDOCK_BUILD (default /work/main/build). The test
skips only when the paddockd binary is missing; a paddockd that does not
answer is a failure. The same check also runs against Apache ZooKeeper when
Debian's zookeeper package is installed, so the generator itself is tested
independently of the server.
"""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from srvutil import four_letter, free_port

BUILD = os.environ.get("PADDOCK_BUILD", "/work/main/build")
PADDOCKD = os.path.join(BUILD, "tools", "paddockd")
BENCH = os.path.join(BUILD, "tools", "bench", "paddock-bench")
ZK_JAR = "/usr/share/java/zookeeper.jar"


def write_cfg(d, port):
    os.makedirs(os.path.join(d, "data"), exist_ok=True)
    path = os.path.join(d, "zoo.cfg")
    with open(path, "w") as f:
        f.write(
            "tickTime=2000\n"
            f"dataDir={d}/data\n"
            f"clientPort={port}\n"
            "clientPortAddress=127.0.0.1\n"
            "maxClientCnxns=0\n"
            "admin.enableServer=false\n"
            "4lw.commands.whitelist=*\n"
        )
    return path


def wait_port(proc, port, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def wait_session(port, timeout):
    """ZooKeeper accepts TCP (and answers ruok) before it serves sessions:
    wait until a real session opens."""
    from kazoo.client import KazooClient
    end = time.time() + timeout
    while time.time() < end:
        zk = KazooClient(hosts="127.0.0.1:%d" % port, timeout=5.0)
        try:
            zk.start(timeout=5)
            return True
        except Exception:  # noqa: BLE001 - not serving yet
            time.sleep(0.5)
        finally:
            zk.stop()
            zk.close()
    return False


def run_bench(port, workload, servers=None):
    assert os.access(BENCH, os.X_OK), f"{BENCH} not built"
    target = ["--servers", servers] if servers else ["-p", str(port)]
    cmd = [BENCH] + target + ["-W", workload, "-t", "2", "-c", "8", "-w", "8",
           "-d", "2", "--warmup", "0.5", "-k", "100", "--json", "-q",
           "--prefix", f"/smoke-{workload}", "--cleanup"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.stdout.strip(), f"no JSON; rc={r.returncode} stderr={r.stderr}"
    res = json.loads(r.stdout)
    assert res.get("first_error") is None, res.get("first_error")
    assert res["errors"] == 0, r.stdout
    assert res["errors_total"] == 0, r.stdout
    assert res["connection_failures"] == 0, r.stdout
    assert res["ops"] > 0 and res["rate"] > 0, r.stdout
    assert res["latency_us"]["p50"] > 0
    assert res["latency_us"]["p99"] >= res["latency_us"]["p50"]
    assert r.returncode == 0, r.stderr
    return res


@pytest.fixture
def tmpdir_():
    d = tempfile.mkdtemp(prefix="paddock-bench-smoke-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.mark.skipif(not os.path.exists(PADDOCKD), reason=f"{PADDOCKD} not built")
@pytest.mark.parametrize("workload", ["get", "mix"])
def test_bench_runs_two_seconds_against_paddockd_without_errors(tmpdir_, workload):
    port = free_port()
    cfg = write_cfg(tmpdir_, port)
    log = open(os.path.join(tmpdir_, "paddockd.log"), "w")
    proc = subprocess.Popen([PADDOCKD, cfg], stdout=log, stderr=subprocess.STDOUT,
                            cwd=tmpdir_)
    try:
        assert wait_port(proc, port, 15), (
            f"paddockd did not listen on {port}; log:\n"
            + open(os.path.join(tmpdir_, "paddockd.log")).read()[-2000:])
        run_bench(port, workload)
    finally:
        stop(proc)
        log.close()


@pytest.mark.skipif(not (os.path.exists(ZK_JAR) and shutil.which("java")),
                    reason="Apache ZooKeeper (Debian zookeeper package) not installed")
def test_bench_runs_two_seconds_against_apache_zookeeper_without_errors(tmpdir_):
    port = free_port()
    cfg = write_cfg(tmpdir_, port)
    log = open(os.path.join(tmpdir_, "zk.log"), "w")
    proc = subprocess.Popen(
        ["java", f"-Dzookeeper.log.dir={tmpdir_}", "-cp",
         f"{ZK_JAR}:/usr/share/java/*",
         "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfg],
        stdout=log, stderr=subprocess.STDOUT, cwd=tmpdir_)
    try:
        assert wait_port(proc, port, 60), "ZooKeeper did not start"
        assert wait_session(port, 60), "ZooKeeper serves no session"
        run_bench(port, "mix")
    finally:
        stop(proc)
        log.close()


def packets_received(port):
    mntr = four_letter(f"127.0.0.1:{port}", "mntr")
    return int(mntr.split("zk_packets_received")[1].split()[0])


@pytest.mark.skipif(not (os.path.exists(ZK_JAR) and shutil.which("java")),
                    reason="Apache ZooKeeper (Debian zookeeper package) not installed")
def test_bench_spreads_sessions_over_a_three_server_zookeeper_ensemble(tmpdir_):
    """--servers: connection i goes to server i % 3; a real ensemble, so
    writes sent to followers go through its leader and every server sees
    its share of the requests."""
    # nine distinct ports (free_port can hand out a port twice: each is
    # free when drawn), as ensemble.py's Ensemble.port does
    drawn = set()
    while len(drawn) < 9:
        drawn.add(free_port())
    drawn = list(drawn)
    ports = drawn[:3]
    members = "".join(f"server.{i + 1}=127.0.0.1:{drawn[3 + 2 * i]}:"
                      f"{drawn[4 + 2 * i]}\n" for i in range(3))
    procs, logs = [], []
    try:
        for i, port in enumerate(ports):
            d = os.path.join(tmpdir_, f"zk{i + 1}")
            cfg = write_cfg(d, port)
            with open(cfg, "a") as f:
                f.write("initLimit=10\nsyncLimit=5\n" + members)
            with open(os.path.join(d, "data", "myid"), "w") as f:
                f.write(f"{i + 1}\n")
            logs.append(open(os.path.join(d, "zk.log"), "w"))
            procs.append(subprocess.Popen(
                ["java", "-Xmx256m", f"-Dzookeeper.log.dir={d}", "-cp",
                 f"{ZK_JAR}:/usr/share/java/*",
                 "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfg],
                stdout=logs[-1], stderr=subprocess.STDOUT, cwd=d))
        for p, port in zip(procs, ports):
            assert wait_port(p, port, 60), "a ZooKeeper server did not start"
            assert wait_session(port, 90), f"server on {port} serves no session"
        before = [packets_received(p) for p in ports]
        res = run_bench(None, "mix",
                        servers=",".join(f"127.0.0.1:{p}" for p in ports))
        assert res["servers"] == 3
        after = [packets_received(p) for p in ports]
        got = [a - b for a, b in zip(after, before)]
        # 8 connections: 3, 3 and 2 per server, each ~1/3 of the requests
        assert all(g > res["ops"] / 8 for g in got), (got, res["ops"])
    finally:
        for p in procs:
            stop(p)
        for f in logs:
            f.close()
