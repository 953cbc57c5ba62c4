"""Debian's Java zkCli.sh against the target."""

import os
import subprocess

import pytest

ZKCLI = "/usr/share/zookeeper/bin/zkCli.sh"


def zkcli(hosts, *args):
    # zkCli prints results on stdout or stderr depending on the command and
    # on whether stdout is a terminal, so the two are merged.
    r = subprocess.run([ZKCLI, "-server", hosts] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=40)
    return r.returncode, r.stdout, ""


@pytest.fixture
def cli_target(target):
    if not os.path.exists(ZKCLI):
        pytest.skip("zookeeper package (zkCli.sh) not installed")
    return target


def test_zkcli_create_get_set_ls_delete(cli_target, root, zk):
    h = cli_target.hosts
    rc, out, err = zkcli(h, "create", root, "data")
    assert "Created %s" % root in out, out + err
    assert zk.get(root)[0] == b"data"

    rc, out, err = zkcli(h, "get", root)
    assert "\ndata\n" in out, out + err

    rc, out, err = zkcli(h, "set", root, "d2")
    assert zk.get(root)[0] == b"d2"

    rc, out, err = zkcli(h, "get", "-s", root)
    assert "\nd2\n" in out, out + err
    assert "dataVersion = 1" in out and "dataLength = 2" in out
    assert "ephemeralOwner = 0x0" in out

    rc, out, err = zkcli(h, "ls", "/")
    listing = [l for l in out.splitlines() if l.startswith("[")]
    assert listing, out + err
    names = [n.strip() for n in listing[-1].strip("[]").split(",")]
    assert root[1:] in names and "zookeeper" in names

    rc, out, err = zkcli(h, "create", root + "/child", "c")
    assert "Created %s/child" % root in out, out + err
    rc, out, err = zkcli(h, "ls", root)
    assert "[child]" in out, out + err

    rc, out, err = zkcli(h, "delete", root)
    assert "Node not empty" in out + err, out + err
    zkcli(h, "delete", root + "/child")
    rc, out, err = zkcli(h, "delete", root)
    assert zk.exists(root) is None

    rc, out, err = zkcli(h, "get", root)
    assert "Node does not exist: %s" % root in out, out


def test_zkcli_ephemeral_and_sequential(cli_target, root, zk):
    h = cli_target.hosts
    zk.create(root)
    rc, out, err = zkcli(h, "create", "-s", root + "/s-", "x")
    assert "Created %s/s-0000000000" % root in out, out + err
    rc, out, err = zkcli(h, "create", "-e", root + "/e", "x")
    assert "Created %s/e" % root in out, out + err
    # zkCli exits without closeSession, so the ephemeral lives on until
    # its session expires
    assert zk.exists(root + "/e").ephemeralOwner != 0
    rc, out, err = zkcli(h, "stat", root)
    assert "numChildren = 2" in out and "cversion = 2" in out, out + err


@pytest.mark.compare
def test_zkcli_addwatch_and_whoami_match_zookeeper(cli_target, root,
                                                   reference, ref_root):
    # addWatch used to end in "Disconnected" / ConnectionLoss from the Java
    # client (paddockd's reply lacked ZooKeeper's 4-byte body)
    outs = {}
    for name, h, r in (("target", cli_target.hosts, root),
                       ("reference", reference.hosts, ref_root)):
        zkcli(h, "create", r, "d")
        rc, out, _ = zkcli(h, "addWatch", "-m", "PERSISTENT_RECURSIVE", r)
        assert "Disconnected" not in out and "ConnectionLoss" not in out, \
            out
        rc2, who, _ = zkcli(h, "whoami")
        zkcli(h, "delete", r)
        outs[name] = (rc, "KeeperErrorCode" in out, rc2,
                      [l for l in who.splitlines() if l.startswith("ip:")])
    assert outs["target"] == outs["reference"]
    assert outs["target"][3], "whoami printed no ip id"
