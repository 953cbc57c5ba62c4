"""The Apache ZooKeeper Java client (Debian's 3.8 jar) against paddockd and
against ZooKeeper, same program, outputs compared: javaclient/WatchProbe.java
(addWatch both modes, their events, removeAllWatches, whoAmI,
getAllChildrenNumber, the connection states the client reports)."""

import os
import shutil
import subprocess

import pytest

from conftest import JAVA

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "javaclient", "WatchProbe.java")
CP = "/usr/share/java/zookeeper.jar:/usr/share/java/zookeeper-jute.jar:" \
     "/usr/share/java/slf4j-api.jar:/usr/share/java/slf4j-nop.jar"


@pytest.fixture(scope="module")
def probe_classes(tmp_path_factory):
    javac = shutil.which("javac")
    if not javac:
        pytest.fail("javac missing: apt-get install default-jdk-headless "
                    "(tools/deps.sh installs it)")
    out = tmp_path_factory.mktemp("javaclient")
    r = subprocess.run([javac, "-cp", CP, "-d", str(out), SRC],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stdout
    return str(out)


def run_probe(classes, hosts, root):
    r = subprocess.run([JAVA, "-cp", classes + ":" + CP, "WatchProbe", hosts,
                        root], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=90)
    assert r.returncode == 0, r.stdout
    return r.stdout.splitlines()


@pytest.mark.compare
@pytest.mark.timeout(180)
def test_java_client_watches_match_zookeeper(probe_classes, target, root,
                                             reference, ref_root):
    got = run_probe(probe_classes, target.hosts, root)
    want = run_probe(probe_classes, reference.hosts, ref_root)
    norm = [l.replace(ref_root, root) for l in want]
    assert got == norm
    assert "addWatch ok" in got
    assert got.count("state SyncConnected") == 1  # never reconnected
