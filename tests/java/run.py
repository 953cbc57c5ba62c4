#!/usr/bin/env python3
"""tests/java: the JUnit 5 suite (Java client API and Curator recipes) run
against a real paddockd and, in the same run, against Apache ZooKeeper 3.8.

    /usr/bin/python3 tests/java/run.py [JUnit console selectors...]

Compiles tests/java/src with javac against Debian's jars (libzookeeper-java,
libcurator-*-java, junit5, libassertj-core-java; no Maven), starts both
servers with the integration suite's zoo.cfg (tests/integration/conftest.py
Server), then runs the JUnit console launcher against both at once.  Each run
sees -Dpaddock.connect=HOST:PORT and -Dpaddock.server=paddock|zookeeper;
tests record what they observed (Transcript.java) into one file per test.

A case passes when it passes against paddockd, and its transcript equals
the one ZooKeeper produced (or differs from it, as a case marked @Gap
says it does).  Every case ZooKeeper passes must pass against
paddockd; a case ZooKeeper fails is reported (the test is wrong) and fails
the run too.  The last line is the suite's summary.  PADDOCK_BUILD selects
the paddockd build (default: build/)."""

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
os.environ.setdefault("PADDOCK_BUILD", os.path.join(ROOT, "build"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from conftest import JAVA, Server  # noqa: E402

JARS = ["zookeeper", "zookeeper-jute", "curator-client", "curator-framework",
        "curator-recipes", "curator-test", "curator-x-discovery", "guava",
        "jackson-annotations", "jackson-core", "jackson-databind",
        "slf4j-api", "slf4j-nop", "commons-io", "commons-lang3",
        "junit-platform-console-standalone", "assertj-core",
        "apiguardian-api", "opentest4j"]
CLASSPATH = ":".join("/usr/share/java/%s.jar" % j for j in JARS)

# Servers for the suite: session timeouts down to 1 s for the expiry
# tests; the container/TTL reaper runs every second (conftest's base).
OVERRIDES = {"minSessionTimeout": "1000", "maxClientCnxns": "0"}


def compile_suite(out):
    javac = shutil.which("javac")
    if not javac:
        sys.exit("tests/java: javac missing (tools/deps.sh installs "
                 "default-jdk-headless)")
    missing = [p for p in CLASSPATH.split(":") if not os.path.exists(p)]
    if missing:
        sys.exit("tests/java: missing jars %s (tools/deps.sh installs them)"
                 % " ".join(missing))
    srcs = sorted(glob.glob(os.path.join(HERE, "src", "**", "*.java"),
                            recursive=True))
    r = subprocess.run([javac, "-nowarn", "-encoding", "UTF-8", "-cp",
                        CLASSPATH, "-d", out] + srcs,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    if r.returncode:
        sys.exit("tests/java: javac failed\n" + r.stdout)
    return len(srcs)


def start_junit(classes, srv, name, work, selectors):
    """Start the JUnit console launcher against srv; finish_junit waits."""
    tdir = os.path.join(work, "transcripts-" + name)
    rdir = os.path.join(work, "reports-" + name)
    os.makedirs(tdir)
    cmd = [JAVA, "-Xss1m", "-XX:+UseSerialGC", "-Xmx512m",
           "-Dpaddock.connect=" + srv.hosts, "-Dpaddock.server=" + name,
           "-Dpaddock.transcripts=" + tdir,
           "-cp", classes + ":" + CLASSPATH,
           "org.junit.platform.console.ConsoleLauncher",
           "--disable-banner", "--details=summary", "--details-theme=ascii",
           "--disable-ansi-colors", "--reports-dir=" + rdir]
    cmd += selectors or ["--scan-classpath", classes]
    out = open(os.path.join(work, "junit-%s.out" % name), "w+",
               encoding="utf-8")
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                            text=True)
    return dict(name=name, srv=srv, proc=proc, out=out, rdir=rdir,
                tdir=tdir, t0=time.monotonic())


def finish_junit(run):
    """Wait for a run; print JUnit's own summary block (and failures in
    full); return ({case id: outcome}, transcript directory)."""
    try:
        run["proc"].wait(timeout=1800)
    except subprocess.TimeoutExpired:
        run["proc"].kill()
        run["proc"].wait()
    secs = time.monotonic() - run["t0"]
    run["out"].seek(0)
    print("== tests/java against %s (%s)" % (run["name"], run["srv"].hosts))
    print(run["out"].read().rstrip())
    run["out"].close()
    print("(%s: %.0f s)" % (run["name"], secs), flush=True)
    return parse_reports(run["rdir"]), run["tdir"]


def parse_reports(rdir):
    """{case id: 'passed' | 'failed: message' | 'skipped'}"""
    res = {}
    for path in glob.glob(os.path.join(rdir, "TEST-*.xml")):
        for tc in ET.parse(path).getroot().iter("testcase"):
            cid = "%s.%s" % (tc.get("classname"), tc.get("name"))
            status = "passed"
            for tag in ("failure", "error"):
                e = tc.find(tag)
                if e is not None:
                    status = "failed: %s" % (e.get("message") or tag)
            if tc.find("skipped") is not None:
                status = "skipped"
            res[cid] = status
    return res


def transcript(tdir, cid):
    path = os.path.join(tdir, cid.replace("/", "_") + ".txt")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines()


def main():
    selectors = sys.argv[1:]
    work = tempfile.mkdtemp(prefix="paddock-java-")
    classes = os.path.join(work, "classes")
    nsrc = compile_suite(classes)
    print("tests/java: compiled %d sources" % nsrc, flush=True)
    # Both servers at once, each with its own JUnit JVM: the cases spend
    # most of their time waiting (session expiry, timeouts), so the two
    # runs overlap without slowing each other much.
    results, servers, runs = {}, [], []
    try:
        for kind in ("zookeeper", "paddock"):
            srv = Server(kind, OVERRIDES, name="java")
            servers.append(srv)
            srv.start()
        for srv in servers:
            runs.append(start_junit(classes, srv, srv.kind, work, selectors))
        for run in runs:
            results[run["name"]] = finish_junit(run)
            if not run["srv"].alive():
                print("tests/java: %s died during the run; log tail:\n%s" %
                      (run["name"], run["srv"].log_tail()))
                results[run["name"]][0]["server-alive"] = \
                    "failed: server died"
    finally:
        for run in runs:
            if run["proc"].poll() is None:
                run["proc"].kill()
        for srv in servers:
            srv.cleanup()
    (zk, zk_t), (pd, pd_t) = results["zookeeper"], results["paddock"]
    bad, gaps = [], []
    for kind, res in results.items():
        if not res[0]:
            bad.append("no case ran against %s (no JUnit report)" % kind)
    same = 0
    for cid in sorted(set(zk) | set(pd)):
        z, p = zk.get(cid, "missing"), pd.get(cid, "missing")
        if z != "passed" and z != "skipped":
            bad.append("%s: against ZooKeeper %s" % (cid, z))
        if p != "passed" and z == "passed":
            bad.append("%s: against paddockd %s" % (cid, p))
        if z == "passed" and p == "passed":
            a, b = transcript(zk_t, cid), transcript(pd_t, cid)
            gap = a[0][2:] if a and a[0].startswith("# known gap") else None
            if a is None or b is None:
                bad.append("%s: no transcript" % cid)
            elif gap and a == b:
                bad.append("%s: marked @Gap but the transcripts agree now: "
                           "remove the mark" % cid)
            elif gap:
                gaps.append("%s: %s\n%s" % (cid, gap, diff(a, b)))
            elif a != b:
                bad.append("%s: transcripts differ\n%s" %
                           (cid, diff(a or [], b or [])))
            else:
                same += 1
    for g in gaps:
        print("GAP " + g)
    for b in bad:
        print("DIFF " + b)
    if bad or os.environ.get("PADDOCK_KEEP_TMP"):
        print("tests/java: work directory kept: " + work)
    else:
        shutil.rmtree(work, ignore_errors=True)

    def count(res):
        return sum(1 for v in res.values() if v == "passed"), len(res)
    print("tests/java: %d/%d cases passed against ZooKeeper 3.8, %d/%d "
          "against paddockd, %d transcripts identical, %d known gaps, %d "
          "differences" % (count(zk) + count(pd) + (same, len(gaps),
                                                     len(bad))))
    return 1 if bad else 0


def diff(a, b):
    import difflib
    return "\n".join(difflib.unified_diff(a, b, "zookeeper", "paddockd",
                                          lineterm="", n=2))


if __name__ == "__main__":
    sys.exit(main())
