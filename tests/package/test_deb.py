"""The Debian package (debian/): build it, check it, install it, run it,
remove it.

A copy of the source tree (git's tracked and untracked files, without
ignored ones such as build/) is built in a temporary directory with
``dpkg-buildpackage -us -uc -b``; nothing is written to the source tree.
The .deb must be lintian-clean (debian/paddock.lintian-overrides
justifies what is left), install a ``paddock`` system user, the conffile
/etc/paddock/zoo.cfg, a unit that ``systemd-analyze verify`` accepts, the
binaries and their man pages.  The installed /usr/bin/paddockd then runs
as the paddock user on a copy of the installed zoo.cfg (free ports, data
in a temporary directory), tells $NOTIFY_SOCKET READY=1 once it serves
and STOPPING=1 on SIGTERM, as systemd's Type=notify expects, and serves a
kazoo client.  Last, dpkg -r keeps the conffile and dpkg --purge removes
it and /var/lib/paddock.

Needs root, the build dependencies (tools/deps.sh installs them) and no
paddock package installed already (the test would replace and purge
it: it skips instead).  About 40 s on 2 CPUs, most of it the build; the
build time, lintian's output and systemd-analyze's are printed.

    /usr/bin/python3 -m pytest -q tests/package

Environment:
    PADDOCK_DEB_JOBS   build parallelism (default 2)
    PADDOCK_KEEP_TMP=1 keep the build directory
"""

import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest

from kazoo.client import KazooClient

try:  # a bound for the whole module when pytest-timeout is there
    import pytest_timeout  # noqa: F401
    pytestmark = pytest.mark.timeout(600)
except ImportError:
    pass

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
JOBS = os.environ.get("PADDOCK_DEB_JOBS", "2")
KEEP = os.environ.get("PADDOCK_KEEP_TMP")
UNIT = "/lib/systemd/system/paddock.service"
TOOLS = ["paddockd", "paddock-logdump", "paddock-snapdump", "paddock-check",
         "paddock-bench", "paddock-bench-dpdk"]


def run(cmd, timeout=120, check=True, **kw):
    """cmd's combined output; fails the test on a non-zero status."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        pytest.fail("%s: exit %d\n%s" % (" ".join(cmd), p.returncode,
                                         p.stdout[-4000:]))
    return p


def say(config, text):
    """To the terminal also when pytest captures output (no -s)."""
    cap = config.pluginmanager.get_plugin("capturemanager")
    if cap:
        with cap.global_and_fixture_disabled():
            print(text, flush=True)
    else:
        print(text)


def installed(pkg):
    p = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Status}", pkg],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       text=True)
    return p.returncode == 0 and p.stdout.strip() not in ("", "not-installed")


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def copy_tree(dst):
    """The source tree as git sees it (tracked and untracked files, not
    the ignored ones: build/, data/), or, outside a checkout, everything
    but build directories."""
    p = subprocess.run(["git", "-C", ROOT, "ls-files", "-z", "-c", "-o",
                        "--exclude-standard"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL)
    if p.returncode == 0 and p.stdout:
        for rel in sorted(set(p.stdout.decode().split("\0")) - {""}):
            src = os.path.join(ROOT, rel)
            if not os.path.lexists(src):  # deleted, not yet committed
                continue
            os.makedirs(os.path.dirname(os.path.join(dst, rel)),
                        exist_ok=True)
            shutil.copy2(src, os.path.join(dst, rel), follow_symlinks=False)
    else:
        shutil.rmtree(dst)
        skip = shutil.ignore_patterns(".git", "build", "build-*", "obj-*",
                                      "data", "__pycache__")
        shutil.copytree(ROOT, dst, symlinks=True, ignore=skip)


def free_ports(n):
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def cfg_set(text, key, value):
    """zoo.cfg text with key=value: its line replaced, or appended."""
    line = "%s=%s" % (key, value)
    pat = re.compile(r"^%s\s*=.*$" % re.escape(key), re.M)
    if pat.search(text):
        return pat.sub(line, text, count=1)
    return text.rstrip("\n") + "\n" + line + "\n"


def cfg_get(text, key):
    m = re.search(r"^%s\s*=\s*(.*?)\s*$" % re.escape(key), text, re.M)
    return m and m.group(1)


@pytest.fixture(scope="module")
def work():
    if os.geteuid() != 0:
        pytest.skip("needs root (dpkg -i)")
    if not shutil.which("dpkg-buildpackage"):
        pytest.skip("not a Debian system (no dpkg-buildpackage)")
    if installed("paddock"):
        pytest.skip("a paddock package is installed; the test would replace "
                    "and purge it")
    d = tempfile.mkdtemp(prefix="paddock-deb-")
    os.chmod(d, 0o755)  # the paddock user reaches its data dir under it
    yield d
    if KEEP:
        print("kept %s" % d)
    else:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def deb(work, pytestconfig):
    """Build the package from a copy of the source tree; the .deb's path."""
    src = os.path.join(work, "paddock")
    os.makedirs(src)
    copy_tree(src)
    deps = run(["dpkg-checkbuilddeps"], check=False, cwd=src)
    if deps.returncode:
        pytest.fail("build dependencies missing (tools/deps.sh installs "
                    "them):\n" + deps.stdout)
    env = dict(os.environ, DEB_BUILD_OPTIONS="parallel=%s" % JOBS,
               LC_ALL="C.UTF-8")
    t0 = time.monotonic()
    with open(os.path.join(work, "build.log"), "w") as log:
        rc = subprocess.call(["dpkg-buildpackage", "-us", "-uc", "-b"],
                             cwd=src, env=env, stdout=log,
                             stderr=subprocess.STDOUT, timeout=600)
    took = time.monotonic() - t0
    say(pytestconfig, "\npackage build: %.1f s (dpkg-buildpackage -b, "
        "parallel=%s)" % (took, JOBS))
    if rc:
        with open(os.path.join(work, "build.log")) as f:
            pytest.fail("dpkg-buildpackage: exit %d\n%s"
                        % (rc, f.read()[-6000:]))
    debs = glob.glob(os.path.join(work, "paddock_*.deb"))
    assert len(debs) == 1, debs
    return debs[0]


@pytest.fixture(scope="module")
def pkg(deb):
    """The package installed (purged again at the end, whatever happens;
    the paddock user too if the test created it)."""
    had_user = user_exists("paddock")
    run(["dpkg", "-i", deb])
    yield deb
    if installed("paddock"):
        run(["dpkg", "--purge", "paddock"], check=False)
    if not had_user and user_exists("paddock"):
        run(["deluser", "--system", "--quiet", "paddock"], check=False)


def test_deb_contains_the_tools_their_man_pages_the_unit_and_conffile(deb):
    files = run(["dpkg-deb", "-c", deb]).stdout
    names = {line.split()[-1].lstrip(".") for line in files.splitlines()}
    for t in TOOLS:
        assert "/usr/bin/" + t in names
        section = 8 if t == "paddockd" else 1
        assert "/usr/share/man/man%d/%s.%d.gz" % (section, t, section) in names
    assert UNIT in names
    assert "/etc/paddock/zoo.cfg" in names
    depends = run(["dpkg-deb", "-f", deb, "Depends"]).stdout
    assert "adduser" in depends and "libsystemd0" in depends, depends
    conffiles = run(["dpkg-deb", "-I", deb, "conffiles"]).stdout
    assert conffiles.split() == ["/etc/paddock/zoo.cfg"], conffiles


def test_lintian_reports_nothing_but_overridden_tags(deb, pytestconfig):
    if not shutil.which("lintian"):
        pytest.fail("lintian is not installed (tools/deps.sh installs it)")
    # as nobody: lintian warns about running as root.  Overridden tags
    # (O:) are shown with their justification; with --show-overrides an
    # overridden info tag makes the status 2, so the lines decide.
    p = run(["lintian", "--display-info", "--pedantic", "--show-overrides",
             deb], check=False, timeout=300, user="nobody", group="nogroup",
            extra_groups=[], cwd="/",
            env={"PATH": "/usr/bin:/bin", "HOME": "/tmp",
                 "LC_ALL": "C.UTF-8"})
    say(pytestconfig, "\nlintian:\n" + (p.stdout.rstrip() or "(no output)"))
    assert p.returncode in (0, 2), p.stdout  # 1: lintian itself failed
    tags = [line for line in p.stdout.splitlines()
            if re.match(r"^[EWIPX]: ", line)]
    assert not tags, tags


def test_install_creates_the_paddock_system_user_and_state_dir(pkg):
    pw = pwd.getpwnam("paddock")
    assert pw.pw_dir == "/var/lib/paddock"
    assert pw.pw_uid < 1000  # a system user
    assert pw.pw_shell in ("/usr/sbin/nologin", "/bin/false")
    st = os.stat("/var/lib/paddock")
    assert (st.st_uid, st.st_gid) == (pw.pw_uid, pw.pw_gid)
    assert st.st_mode & 0o777 == 0o750
    conf = run(["dpkg-query", "-W", "-f=${Conffiles}", "paddock"]).stdout
    assert "/etc/paddock/zoo.cfg" in conf


def test_installed_zoo_cfg_is_the_standalone_localhost_config(pkg):
    with open("/etc/paddock/zoo.cfg") as f:
        text = f.read()
    want = {
        "dataDir": "/var/lib/paddock/data",
        "dataLogDir": "/var/lib/paddock/datalog",
        "clientPort": "2181",
        "clientPortAddress": "127.0.0.1",
        "admin.serverAddress": "127.0.0.1",
        "4lw.commands.whitelist": "srvr,ruok,mntr,conf,stat",
    }
    for k, v in want.items():
        assert cfg_get(text, k) == v, k
    assert not re.search(r"^server\.\d+\s*=", text, re.M)  # standalone


def test_man_pages_are_installed(pkg):
    for t in TOOLS:
        path = run(["man", "-w", t]).stdout.strip()
        assert path.startswith("/usr/share/man/man"), path
        # and it renders without a groff warning
        r = subprocess.run(["man", "--warnings", "-l", path],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True, timeout=60,
                           env=dict(os.environ, MANWIDTH="80",
                                    LC_ALL="C.UTF-8"))
        assert r.returncode == 0 and not r.stderr, (path, r.stderr)


def test_unit_passes_systemd_analyze_verify(pkg, pytestconfig):
    with open(UNIT) as f:
        unit = f.read()
    for line in ["Type=notify", "User=paddock",
                 "ExecStart=/usr/bin/paddockd /etc/paddock/zoo.cfg",
                 "Restart=on-failure", "NoNewPrivileges=yes",
                 "ProtectSystem=strict", "ReadWritePaths=/var/lib/paddock",
                 "ProtectHome=yes", "PrivateTmp=yes", "PrivateDevices=yes",
                 "ProtectKernelTunables=yes", "ProtectKernelModules=yes",
                 "ProtectControlGroups=yes", "LimitNOFILE=65536",
                 "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX"]:
        assert re.search("^%s$" % re.escape(line), unit, re.M), line
    p = run(["systemd-analyze", "verify", UNIT], check=False)
    say(pytestconfig, "\nsystemd-analyze verify %s: exit %d%s" % (
        UNIT, p.returncode, (":\n" + p.stdout) if p.stdout else
        ", no output"))
    assert p.returncode == 0 and not p.stdout.strip(), p.stdout
    sec = run(["systemd-analyze", "security", "--offline=true", UNIT],
              check=False)
    m = re.search(r"Overall exposure level for \S+: ([\d.]+)", sec.stdout)
    assert m, sec.stdout
    say(pytestconfig, "systemd-analyze security --offline=true: exposure %s"
        % m.group(1))
    assert float(m.group(1)) < 2.5, sec.stdout


def test_installed_paddockd_notifies_ready_and_serves_as_paddock(pkg):
    pw = pwd.getpwnam("paddock")
    base = tempfile.mkdtemp(prefix="srv-", dir=os.path.dirname(pkg))
    os.chmod(base, 0o755)
    data = os.path.join(base, "data")
    os.mkdir(data)
    os.chown(data, pw.pw_uid, pw.pw_gid)
    port, admin = free_ports(2)
    with open("/etc/paddock/zoo.cfg") as f:
        text = f.read()
    for k, v in [("clientPort", port), ("admin.serverPort", admin),
                 ("dataDir", data + "/data"),
                 ("dataLogDir", data + "/datalog")]:
        text = cfg_set(text, k, v)
    cfg = os.path.join(base, "zoo.cfg")
    with open(cfg, "w") as f:
        f.write(text)
    os.chmod(cfg, 0o644)
    # systemd's side of Type=notify: a datagram socket in $NOTIFY_SOCKET
    nsock_path = os.path.join(base, "notify")
    nsock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    nsock.bind(nsock_path)
    os.chmod(nsock_path, 0o666)
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8",
           "NOTIFY_SOCKET": nsock_path}
    log = open(os.path.join(base, "paddockd.log"), "w+")
    proc = subprocess.Popen(["/usr/bin/paddockd", cfg], user="paddock",
                            group="paddock", extra_groups=[], env=env,
                            stdout=log, stderr=subprocess.STDOUT, cwd="/")

    def server_log():
        log.seek(0)
        return log.read()

    def notification(timeout):
        nsock.settimeout(timeout)
        try:
            return nsock.recv(4096).decode()
        except socket.timeout:
            pytest.fail("no sd_notify message in %ss; paddockd says:\n%s"
                        % (timeout, server_log()))

    zk = None
    try:
        msg = notification(15)
        assert "READY=1" in msg.split("\n"), msg
        assert "serving on 127.0.0.1:%d" % port in server_log()
        # READY=1 means it serves: no retries needed
        zk = KazooClient(hosts="127.0.0.1:%d" % port, timeout=10)
        zk.start(timeout=10)
        zk.create("/paddock-deb", b"installed", makepath=True)
        value, stat = zk.get("/paddock-deb")
        assert value == b"installed" and stat.version == 0
        zk.stop()
        zk.close()
        zk = None
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"ruok")
            assert s.recv(16) == b"imok"
        with urllib.request.urlopen("http://127.0.0.1:%d/commands/ruok"
                                    % admin, timeout=5) as r:
            assert r.status == 200
        proc.send_signal(signal.SIGTERM)
        msg = notification(10)
        assert "STOPPING=1" in msg.split("\n"), msg
        assert proc.wait(timeout=30) == 0, server_log()
    finally:
        if zk is not None:
            zk.stop()
            zk.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        nsock.close()
        log.close()
    # the files it wrote are the paddock user's, and intact
    st = os.stat(os.path.join(data, "datalog"))
    assert st.st_uid == pw.pw_uid
    chk = subprocess.run(["/usr/bin/paddock-check", data + "/data",
                          data + "/datalog"], user="paddock",
                         group="paddock", extra_groups=[],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, timeout=60)
    assert chk.returncode == 0 and chk.stdout.rstrip().endswith("clean"), \
        chk.stdout


def test_remove_keeps_the_conffile_and_purge_removes_it_and_the_data(pkg):
    os.makedirs("/var/lib/paddock/data", exist_ok=True)
    run(["dpkg", "-r", "paddock"])
    for t in TOOLS:
        assert not os.path.exists("/usr/bin/" + t)
    assert not os.path.exists(UNIT)
    assert os.path.exists("/etc/paddock/zoo.cfg")
    run(["dpkg", "--purge", "paddock"])
    assert not installed("paddock")
    assert not os.path.exists("/etc/paddock/zoo.cfg")
    assert not os.path.exists("/var/lib/paddock")
