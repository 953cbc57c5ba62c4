"""net/'s user-space TCP against the Linux kernel's TCP, through a TAP
device.

tools/net-tap.c (paddock-net-tap) runs the stack of net/net.h on a TAP
device that it moves into a network namespace of its own
(``pdk-tap-<pid>-<n>``); the kernel side of the link is 10.77.0.1/24, the
stack 10.77.0.2.  Kernel clients (net_tap_client.py) run inside the
namespace with ``ip netns exec``.  This machine's kernel has no netem and
no netfilter, so loss, duplication, delay, jitter and reordering happen
inside the harness, on IPv4 frames in both directions (ARP passes
untouched).  The harness prints its counters (every field of struct
net_stats, the connections its application holds, its own app_*, imp_*,
tap_* counters) as one JSON line on SIGUSR1.

test_impairment_is_survivable_kernel_to_kernel is the control of the
impaired echo: the same clients and impairment with the kernel (SACK and
timestamps off, as the stack offers neither) in the stack's place, via
``paddock-net-tap --relay``; it takes ~3 s, so the stack's run gets 30 s.

Needs root and /dev/net/tun (skipped otherwise) and paddock-net-tap in
$PADDOCK_BUILD/tools.  PADDOCK_NET_TRACE=1 runs the harness with --trace
and --pcap; PADDOCK_KEEP_TMP=1 keeps its directory (stderr, pcap).
"""
import itertools
import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PADDOCK_BUILD = os.environ.get("PADDOCK_BUILD", "/work/main/build")
NET_TAP = os.path.join(PADDOCK_BUILD, "tools", "paddock-net-tap")
CLIENT = os.path.join(HERE, "net_tap_client.py")
PYTHON = "/usr/bin/python3"
IP = shutil.which("ip") or "/usr/sbin/ip"
TRACE = os.environ.get("PADDOCK_NET_TRACE") == "1"
KEEP = os.environ.get("PADDOCK_KEEP_TMP")

KERNEL_IP = "10.77.0.1"
STACK_IP = "10.77.0.2"
ECHO_PORT = 7
HANGUP_PORT = 8

_seq = itertools.count(1)


def _skip_reason():
    if os.geteuid() != 0:
        return "needs root (TAP device, network namespaces)"
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun missing"
    if not os.path.exists(IP):
        return "iproute2's ip missing"
    return None


pytestmark = pytest.mark.skipif(_skip_reason() is not None,
                                reason=str(_skip_reason()))


def ip(*args, check=True):
    r = subprocess.run([IP] + list(args), capture_output=True, text=True,
                       timeout=10)
    if check and r.returncode != 0:
        raise AssertionError("ip %s: %s" % (" ".join(args), r.stderr))
    return r


class Lines:
    """A process's stdout read by a thread, line by line."""

    def __init__(self, stream):
        self.q = queue.Queue()
        self.t = threading.Thread(target=self._run, args=(stream,),
                                  daemon=True)
        self.t.start()

    def _run(self, stream):
        for line in stream:
            self.q.put(line)
        self.q.put(None)

    def get(self, timeout):
        """The next line, or None at EOF; AssertionError on timeout."""
        try:
            return self.q.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no output within %.1fs" % timeout)


class Stack:
    """paddock-net-tap on a TAP device in a namespace of its own."""

    def __init__(self, args):
        n = next(_seq)
        self.ns = "pdk-tap-%d-%d" % (os.getpid(), n)
        self.dev = "pdk%dt%d" % (os.getpid() % 10000000, n)
        self.dir = tempfile.mkdtemp(prefix="paddock-net-tap-")
        self.err_path = os.path.join(self.dir, "stderr")
        self.proc = None
        self.lines = None
        self.args = [str(x) for x in args]
        self.cmd = [NET_TAP] + self.args

    def start(self):
        ip("netns", "add", self.ns)
        cmd = [NET_TAP, "--dev", self.dev, "--netns", self.ns,
               "--ip", STACK_IP, "--port", str(ECHO_PORT),
               "--hangup-port", str(HANGUP_PORT)] + self.args
        if TRACE:
            cmd += ["--trace", "--pcap", os.path.join(self.dir, "stack.pcap")]
        self.cmd = cmd
        with open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                         stderr=err, text=True,
                                         start_new_session=True)
        self.lines = Lines(self.proc.stdout)
        first = self.lines.get(10)
        if first is None:
            self.proc.wait(5)
            raise AssertionError("paddock-net-tap exited with %s:\n%s" %
                                 (self.proc.returncode, self.stderr()))
        assert json.loads(first).get("ready"), first
        # the device is in the namespace once `ip -n NS link show` finds it
        deadline = time.monotonic() + 5
        while ip("-n", self.ns, "link", "show", self.dev,
                 check=False).returncode != 0:
            assert time.monotonic() < deadline, "no %s in %s" % (self.dev,
                                                                 self.ns)
            time.sleep(0.02)
        ip("-n", self.ns, "addr", "add", KERNEL_IP + "/24", "dev", self.dev)
        # the kernel's queue toward us (the TAP's txqueuelen, 1000 by
        # default) overflows in a 20-connection burst; the loss the
        # tests see is the harness's alone
        ip("-n", self.ns, "link", "set", self.dev, "txqueuelen", "10000")
        ip("-n", self.ns, "link", "set", self.dev, "up")
        ip("-n", self.ns, "link", "set", "lo", "up")

    def stderr(self, n=40):
        try:
            with open(self.err_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return "(no stderr)"

    def stats(self):
        assert self.proc.poll() is None, (
            "paddock-net-tap died (status %s):\n%s" %
            (self.proc.returncode, self.stderr()))
        self.proc.send_signal(signal.SIGUSR1)
        line = self.lines.get(5)
        assert line is not None, "paddock-net-tap closed stdout:\n%s" % (
            self.stderr())
        return json.loads(line)

    def wait_stats(self, cond, timeout, what):
        """Poll the counters until cond(stats) holds; the last ones."""
        deadline = time.monotonic() + timeout
        while True:
            st = self.stats()
            if cond(st):
                return st
            if time.monotonic() > deadline:
                raise AssertionError("%s: not within %.1fs; counters: %s" %
                                     (what, timeout, st))
            time.sleep(0.05)

    def client(self, cmd, *args, timeout=30):
        """Run net_tap_client.py CMD in the namespace: its result."""
        argv = [IP, "netns", "exec", self.ns, PYTHON, CLIENT, cmd] + [
            str(x) for x in args]
        try:
            r = subprocess.run(argv, capture_output=True, text=True,
                               timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise AssertionError("client %s hung past %ss; stdout %r" %
                                 (cmd, timeout, e.stdout))
        lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
        res = json.loads(lines[-1]) if lines else {}
        if "ok" not in res:
            raise AssertionError("client %s: no result (status %d):\n%s%s" %
                                 (cmd, r.returncode, r.stdout, r.stderr))
        return res

    def spawn(self, cmd, *args):
        """Start net_tap_client.py CMD in the namespace: (Popen, Lines)."""
        argv = [IP, "netns", "exec", self.ns, PYTHON, CLIENT, cmd] + [
            str(x) for x in args]
        with open(os.path.join(self.dir, "client-%s.err" % cmd), "ab") as err:
            p = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=err,
                                 text=True)
        return p, Lines(p.stdout)

    def close(self):
        """SIGTERM, then the namespace goes: the harness's exit status
        (0 expected; None if it had to be killed or never started)."""
        rc = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
            self.proc = None
        ip("netns", "del", self.ns, check=False)
        if not KEEP:
            shutil.rmtree(self.dir, ignore_errors=True)
        return rc


@pytest.fixture
def make_stack():
    """Factory: make_stack(*harness options) -> a started Stack; all are
    stopped and their namespaces deleted afterwards, pass or fail."""
    if not os.path.exists(NET_TAP):
        pytest.fail("%s not built (meson setup build && ninja -C build, "
                    "or set PADDOCK_BUILD)" % NET_TAP)
    stacks = []

    def make(*args):
        s = Stack(args)
        stacks.append(s)  # torn down below even if start() fails
        s.start()
        return s

    make.stacks = stacks
    bad = []
    try:
        yield make
    finally:
        for s in stacks:
            tail = s.stderr()
            rc = s.close()
            if rc != 0:
                bad.append("%s exited with %s:\n%s" % (" ".join(s.cmd), rc,
                                                       tail))
    if bad:
        pytest.fail("\n".join(bad))


def _explain(stack, res, st=None):
    return "client result %s\ncounters %s\nharness stderr:\n%s" % (
        res, st if st is not None else stack.stats(), stack.stderr())


# ------------------------------------------------------------------ tests

def test_ping_is_answered_after_arp(make_stack):
    s = make_stack()
    res = s.client("ping", "--count", 3, "--timeout", 5, timeout=15)
    assert res["ok"], _explain(s, res)
    st = s.stats()
    assert st["icmp_echoes"] == 3, st
    assert st["arp_replies"] >= 1, st


def test_echo_twenty_connections_of_one_mib(make_stack):
    s = make_stack("--seed", 1)
    res = s.client("echo", "--conns", 20, "--bytes", 1 << 20,
                   "--timeout", 20, timeout=30)
    st = s.stats()
    assert res["ok"], _explain(s, res, st)
    st = s.wait_stats(lambda x: x["app_conns"] == 0, 3, "connections closed")
    assert st["app_bytes_in"] == st["app_bytes_out"] == 20 << 20, st
    assert st["app_accepted"] == 20 and st["tcp_accepted"] == 20, st


IMPAIRED = ["--seed", 7, "--loss", 3, "--dup", 1, "--delay-ms", 2,
            "--jitter-ms", 3, "--reorder", 5]


@pytest.mark.timeout(90)
def test_echo_twenty_connections_through_loss_dup_delay_reorder(make_stack):
    s = make_stack(*IMPAIRED)
    # kernel to kernel through the same impairment this takes ~3 s
    # (test_impairment_is_survivable_kernel_to_kernel).  Under ASan with
    # the TSan suite beside it, one connection once needed more than 30
    # s (its RTOs back off): 60 s
    res = s.client("echo", "--conns", 20, "--bytes", 1 << 20,
                   "--timeout", 60, timeout=70)
    st = s.stats()
    assert res["ok"], _explain(s, res, st)
    # the impairment did happen, and the stack repaired it
    assert st["imp_rx_lost"] and st["imp_tx_lost"] and st["imp_dup"], st
    assert st["imp_reordered"] and st["tcp_retransmits"], st
    assert st["imp_overflow"] == 0, st  # no loss but the intended
    assert st["app_bytes_in"] == st["app_bytes_out"] == 20 << 20, st


def test_source_probes_a_zero_window_then_streams_four_mib(make_stack):
    s = make_stack("--mode", "source", "--rto-min-ms", 200)
    p, out = s.spawn("source", "--stall", 3, "--bytes", 4 << 20,
                     "--rcvbuf", 16384, "--timeout", 20)
    try:
        ev = out.get(10)
        assert ev and json.loads(ev)["event"] == "connected", ev
        t0 = time.monotonic()
        # by now the kernel's small receive buffer is full and it
        # advertises a zero window; the stack must keep probing it
        time.sleep(0.8)
        a = s.stats()
        assert a["app_wait_out"] == 1, a
        time.sleep(max(0, 2.7 - (time.monotonic() - t0)))
        b = s.stats()
        ev = out.get(5)
        assert ev and json.loads(ev)["event"] == "resumed", ev
        res = json.loads(out.get(30) or "{}")
        p.wait(5)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert res.get("ok"), _explain(s, res)
    # nothing else is sent while the window is closed (keep-alive is
    # 2 h): what the stack sent are its probes (answered, or not when
    # Linux rate-limits its answers, tcp_invalid_ratelimit)
    probes = b["tx_frames"] - a["tx_frames"]
    assert probes >= 1, (
        "no zero-window probe in 1.9 s of a closed window: %s -> %s" % (a, b))
    assert b["app_bytes_out"] - a["app_bytes_out"] < 4096, (a, b)


@pytest.mark.timeout(60)
def test_thousand_connections_then_no_leak(make_stack):
    s = make_stack("--timewait-ms", 500)
    res = s.client("churn", "--n", 1000, "--halfclose", 200, "--hangup", 200,
                   "--port", ECHO_PORT, "--hangup-port", HANGUP_PORT,
                   "--timeout", 40, timeout=50)
    assert res["ok"], _explain(s, res)
    st = s.wait_stats(lambda x: x["tcp_conns"] == 0 and x["app_conns"] == 0,
                      3, "every connection gone after TIME_WAIT")
    assert st["tcp_accepted"] == 1400 and st["app_accepted"] == 1400, st
    assert st["app_closed"] == 1400 and st["app_eof"] >= 1200, st
    assert st["tcp_rst_sent"] == 0 and st["tcp_rst_rcvd"] == 0, st


def test_connect_to_a_closed_port_is_refused(make_stack):
    s = make_stack()
    res = s.client("refused", "--port", 9, "--timeout", 5, timeout=15)
    assert res["ok"], _explain(s, res)
    assert s.stats()["tcp_rst_sent"] >= 1


def test_keepalive_drops_a_peer_that_went_away(make_stack):
    s = make_stack("--keepalive-ms", 300, "--keepalive-intvl-ms", 100,
                   "--keepalive-probes", 3)
    p, out = s.spawn("hold", "--timeout", 5)
    try:
        ev = out.get(10)
        assert ev and json.loads(ev)["event"] == "ready", ev
        # keep-alive probes (one per 300 ms idle) are answered while
        # the link is up, and the connection lives
        st0 = s.stats()
        time.sleep(1.0)
        st = s.stats()
        assert st["app_conns"] == 1 and st["tcp_timeouts"] == 0, st
        assert st["tx_frames"] - st0["tx_frames"] >= 2, (
            "no keep-alive probes in 1 s: %s -> %s" % (st0, st))
        assert st["rx_frames"] - st0["rx_frames"] >= 2, (st0, st)
        ip("-n", s.ns, "link", "set", s.dev, "down")
        t0 = time.monotonic()
        st = s.wait_stats(lambda x: x["app_conns"] == 0, 2.5,
                          "keep-alive gives up")
        took = time.monotonic() - t0
    finally:
        p.stdin.close()
        p.kill()
        p.wait()
    assert st["tcp_timeouts"] == 1 and st["app_timedout"] == 1, st
    assert st["tcp_conns"] == 0, st
    # idle 300 ms + 3 probes 100 ms apart, plus polling slack
    assert took < 1.5, "keep-alive took %.2fs: %s" % (took, st)


def test_peer_reset_mid_stream_is_reported(make_stack):
    s = make_stack()
    res = s.client("reset", "--bytes", 1 << 20, "--timeout", 10, timeout=20)
    assert res["ok"], _explain(s, res)
    st = s.wait_stats(lambda x: x["app_conns"] == 0 and x["tcp_conns"] == 0,
                      3, "the reset connection is gone")
    assert st["tcp_rst_rcvd"] >= 1, st
    assert st["app_reset"] + st["app_epipe"] == 1, st
    assert st["app_eof"] == 0, st


class Relay(Stack):
    """paddock-net-tap --relay: two TAP devices in two namespaces, the
    kernel on both sides, frames passed through the same impairment."""

    def __init__(self, args):
        super().__init__(args)
        self.ns_b = self.ns + "b"
        self.dev_b = self.dev + "b"
        self.server = None

    def start(self):
        ip("netns", "add", self.ns)
        ip("netns", "add", self.ns_b)
        self.cmd = [NET_TAP, "--dev", self.dev, "--netns", self.ns,
                    "--relay", self.dev_b, "--relay-netns", self.ns_b
                    ] + self.args
        with open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE,
                                         stderr=err, text=True,
                                         start_new_session=True)
        self.lines = Lines(self.proc.stdout)
        first = self.lines.get(10)
        assert first and json.loads(first).get("ready"), (
            first, self.stderr())
        for ns, dev, addr in ((self.ns, self.dev, KERNEL_IP),
                              (self.ns_b, self.dev_b, STACK_IP)):
            deadline = time.monotonic() + 5
            while ip("-n", ns, "link", "show", dev,
                     check=False).returncode != 0:
                assert time.monotonic() < deadline, "no %s in %s" % (dev, ns)
                time.sleep(0.02)
            # RFC 2018 SACK and RFC 7323 timestamps off, as our stack
            # offers neither: the kernel peer then recovers as it must
            # with our stack
            subprocess.run([IP, "netns", "exec", ns, "sysctl", "-qw",
                            "net.ipv4.tcp_sack=0",
                            "net.ipv4.tcp_timestamps=0"], check=True,
                           timeout=10)
            ip("-n", ns, "addr", "add", addr + "/24", "dev", dev)
            ip("-n", ns, "link", "set", dev, "txqueuelen", "10000")
            ip("-n", ns, "link", "set", dev, "up")
            ip("-n", ns, "link", "set", "lo", "up")
        argv = [IP, "netns", "exec", self.ns_b, PYTHON, CLIENT, "serve",
                "--port", str(ECHO_PORT)]
        self.server = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL, text=True)
        line = Lines(self.server.stdout).get(10)
        assert line and json.loads(line)["event"] == "listening", line

    def close(self):
        if self.server is not None:
            self.server.kill()
            self.server.wait(5)
            self.server = None
        rc = super().close()
        ip("netns", "del", self.ns_b, check=False)
        return rc


def test_impairment_is_survivable_kernel_to_kernel(make_stack):
    """The control of the impaired echo test: the same clients and the
    same impairment, with the kernel (SACK and timestamps off) in the
    stack's place; it must pass, so a failure of the stack's run is the
    stack's."""
    r = Relay(IMPAIRED)
    make_stack.stacks.append(r)
    r.start()
    res = r.client("echo", "--conns", 20, "--bytes", 1 << 20,
                   "--timeout", 30, timeout=40)
    st = r.stats()
    assert res["ok"], _explain(r, res, st)
    assert st["imp_rx_lost"] and st["imp_tx_lost"] and st["imp_dup"], st
    assert st["imp_reordered"] and st["imp_delayed"], st
