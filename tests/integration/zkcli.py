"""Drive Debian's zkCli.sh (ZooKeeper 3.8's ZooKeeperMain) through a script
of commands in one JVM and split its output per command.

Without JLine (Debian's classpath has none) zkCli reads commands from stdin
one line at a time, runs each synchronously and prints no prompt.  We send
one command at a time, followed by a marker line, an unknown command that
zkCli answers with its usage text and ``Command not found: Command not
found <marker>`` (both on stderr), and wait for that line before sending the
next command.  stdout and stderr share one pipe: every println of Java 17's
System.out/System.err is a single write, so the main thread's lines keep
their order.

Watch events are printed by the client's event thread (``\\nWATCHER::`` and
``\\nWatchedEvent ...``, two printlns) at any moment, so they are taken out
of the stream and returned as one list: their order is the server's
notification order; their place among the commands' output is a race of two
client threads.  ``sync`` is a barrier: its callback runs on the event
thread, so every event received before the sync reply is printed before
"Sync is OK".

Script steps that start with ``@`` are for the driver, not zkCli:
``@await <State>`` waits until the client has printed the k-th connection
state event (type None) of that state, k = how often it was awaited so far
(e.g. ``@await AuthFailed`` after an addauth the server refuses, ``@await
SyncConnected`` after ``connect``: zkCli does not wait for either).
"""

import os
import re
import subprocess
import threading
import time

ZKCLI = "/usr/share/zookeeper/bin/zkCli.sh"
MARK = "@@zkcli-mark-"
MARK_RE = re.compile(r"^(.*?)Command not found: Command not found %s(\d+)$" %
                     re.escape(MARK))
EVENT_RE = re.compile(r"^WatchedEvent state:(\S+) type:(\S+) path:(.*)$")
USAGE_HEAD = "ZooKeeper -server host:port -client-configuration " \
             "properties-file cmd args"
HEADER = ("Welcome to ZooKeeper!", "JLine support is disabled")


def available():
    return os.path.exists(ZKCLI)


class Transcript:
    """One zkCli run: outputs[i] is the list of lines printed by
    commands[i]; events the watch events in the order printed, each a tuple
    (state, type, path); rc zkCli's exit status (None if it was still
    running after the last command and had to be stopped)."""

    def __init__(self, commands, outputs, events, raw, rc):
        self.commands = commands
        self.outputs = outputs
        self.events = events
        self.raw = raw
        self.rc = rc

    def __iter__(self):
        return iter(zip(self.commands, self.outputs))


def _strip_usage(cur):
    """Drop the full usage text that zkCli prints just before ``Command not
    found`` (it may start in the middle of a line when the command's own
    output ended without a newline)."""
    i = len(cur)
    while i > 0 and cur[i - 1].startswith("\t"):
        i -= 1
    if i > 0 and cur[i - 1].endswith(USAGE_HEAD):
        prefix = cur[i - 1][:-len(USAGE_HEAD)]
        del cur[i - 1:]
        if prefix:
            cur.append(prefix)


def parse(text):
    """Split zkCli's output: returns (outputs, events); outputs[i] is the
    text printed between marker i-1 and marker i (the last element what
    follows the last marker)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    events = []
    kept = []
    for line in lines:
        m = EVENT_RE.match(line)
        if line == "WATCHER::" or m:
            # "\nWATCHER::" / "\nWatchedEvent ..." are single writes: the
            # blank line before each is part of it, unless its "\n" ended a
            # line the main thread had printed without one
            if kept and kept[-1] == "":
                kept.pop()
            if m:
                events.append(m.groups())
            continue
        kept.append(line)
    outputs = []
    cur = []
    for line in kept:
        if line.startswith("SLF4J:") or line in HEADER or \
                line.startswith("Connecting to "):
            continue
        m = MARK_RE.match(line)
        if m:
            if m.group(1):       # the marker line glued to unended output
                cur.append(m.group(1))
            _strip_usage(cur)
            if int(m.group(2)) != len(outputs):
                raise AssertionError("marker %s out of order:\n%s" %
                                     (m.group(2), compact(text)))
            outputs.append(cur)
            cur = []
        else:
            cur.append(line)
    outputs.append(cur)
    return outputs, events


class _Reader(threading.Thread):
    def __init__(self, stream):
        super().__init__(daemon=True)
        self.stream = stream
        self.lines = []
        self.cond = threading.Condition()
        self.eof = False
        self.marks = set()
        self.events = []

    def run(self):
        for line in self.stream:
            with self.cond:
                self.lines.append(line)
                m = MARK_RE.match(line.rstrip("\n"))
                if m:
                    self.marks.add(int(m.group(2)))
                if line.startswith("WatchedEvent "):
                    self.events.append(line)
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def wait_for(self, pred, deadline, what):
        with self.cond:
            while not pred(self):
                if self.eof:
                    raise AssertionError("zkCli exited while waiting for %s:"
                                         "\n%s" % (what, compact(
                                             "".join(self.lines))))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("timed out waiting for %s in zkCli "
                                         "output:\n%s" %
                                         (what, compact(
                                             "".join(self.lines))))
                self.cond.wait(left)

    def text(self):
        with self.cond:
            return "".join(self.lines)


def compact(text):
    """zkCli output for error messages: each usage text as <usage>, no
    SLF4J noise."""
    out = []
    for line in text.split("\n"):
        if line.startswith("\t") and out and out[-1].endswith("<usage>"):
            continue
        if line.endswith(USAGE_HEAD):
            line = line[:-len(USAGE_HEAD)] + "<usage>"
        if not line.startswith("SLF4J:"):
            out.append(line)
    return "\n".join(out)


def run(hosts, steps, timeout=30.0, await_timeout=5.0, env=None):
    """Run the script steps (zkCli command lines and @-steps) in one zkCli
    started with ``-server hosts``; returns a Transcript.  An @await step
    is in the transcript too, its output ["seen"] or ["not seen"] (after
    await_timeout seconds)."""
    e = dict(os.environ)
    # zkCli.sh appends CLIENT_JVMFLAGS: keep the JVM start cheap
    e.setdefault("CLIENT_JVMFLAGS", "-Xshare:auto -XX:TieredStopAtLevel=1 "
                 "-XX:+UseSerialGC")
    if env:
        e.update(env)
    proc = subprocess.Popen([ZKCLI, "-server", hosts],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=e)
    reader = _Reader(proc.stdout)
    reader.start()
    deadline = time.monotonic() + timeout
    entries = []          # (step, index of its marker or await result)
    n_cmds = 0
    awaited = {}
    rc = None
    quit = False
    try:
        for step in steps:
            if step.startswith("@await "):
                state = step.split()[1]
                line = "WatchedEvent state:%s type:None path:null\n" % state
                k = awaited[state] = awaited.get(state, 0) + 1

                def seen(r, line=line, k=k):
                    return r.events.count(line) >= k
                try:
                    reader.wait_for(seen, min(deadline, time.monotonic() +
                                              await_timeout),
                                    "event %s (#%d)" % (state, k))
                    entries.append((step, ["seen"]))
                except AssertionError:
                    if reader.eof:
                        raise
                    entries.append((step, ["not seen"]))
                continue
            assert not step.startswith("@"), "unknown step %r" % step
            entries.append((step, n_cmds))
            if step.split()[:1] == ["quit"]:
                proc.stdin.write(step + "\n")
                proc.stdin.close()
                quit = True
                break
            proc.stdin.write("%s\n%s%d\n" % (step, MARK, n_cmds))
            proc.stdin.flush()
            reader.wait_for(lambda r, n=n_cmds: n in r.marks, deadline,
                            "the end of %r" % step)
            n_cmds += 1
        else:
            proc.stdin.close()
        rc = proc.wait(max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        pass
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        reader.join(10)
    raw = reader.text()
    outputs, events = parse(raw)
    # outputs[-1] is what follows the last marker: quit's output, if any
    if not quit and outputs[-1]:
        raise AssertionError("zkCli printed after the last command:\n" +
                             compact(raw))
    if len(outputs) != n_cmds + 1:
        raise AssertionError("%d outputs for %d commands:\n%s" %
                             (len(outputs) - 1, n_cmds, compact(raw)))
    commands = [st for st, _ in entries]
    outs = [outputs[x] if isinstance(x, int) else x for _, x in entries]
    return Transcript(commands, outs, events, raw, rc)


# ------------------------------------------------------------ normalising

ZXID_LINE = re.compile(r"^(cZxid|mZxid|pZxid) = (0x[0-9a-f]+)$")
TIME_LINE = re.compile(r"^(ctime|mtime) = (.*)$")
OWNER_LINE = re.compile(r"^ephemeralOwner = (0x[0-9a-f]+)$")
DELETEALL_RACE = "Failed to delete some node(s) in the subtree!"


def java_string_hash(s):
    """java.lang.String.hashCode (over UTF-16 code units)."""
    h = 0
    for unit in _utf16_units(s):
        h = (31 * h + unit) & 0xffffffff
    return h


def _utf16_units(s):
    b = s.encode("utf-16-be")
    return [int.from_bytes(b[i:i + 2], "big") for i in range(0, len(b), 2)]


def _table_size_for(n):
    c = 1
    while c < n:
        c <<= 1
    return c


def java_hashset_clone_order(paths, capacity=16):
    """The iteration order of ``((HashSet<String>) set).clone()`` for a
    HashSet that got the strings paths in that order (and never more than
    0.75 * capacity of them): ZooKeeper's getEphemerals lists a session's
    ephemerals in this order (DataTree.getEphemerals clones the session's
    set).  The clone is a HashMap of tableSizeFor(n / 0.75 + 1) buckets
    (Java 17) filled in the original's iteration order: by bucket of the
    original table, then insertion order."""
    n = len(paths)
    if not n:
        return []
    cap = _table_size_for(int(n / 0.75 + 1.0))

    def spread(p):
        h = java_string_hash(p)
        return h ^ (h >> 16)
    original = sorted(range(n), key=lambda i: (spread(paths[i]) &
                                               (capacity - 1), i))
    order = sorted(range(n), key=lambda k: (spread(paths[original[k]]) &
                                            (cap - 1), k))
    return [paths[original[k]] for k in order]


class Normaliser:
    """Makes the transcripts of the two servers comparable; only what
    legitimately differs between two servers is replaced:

    - the test's root path -> <root>; the server's host:port -> <server>
    - ctime/mtime values -> <time> (the lines stay)
    - cZxid/mZxid/pZxid -> z<k>, the rank of the zxid among all zxids the
      transcript shows (0x0 stays 0x0): equality and order are kept, the
      absolute values (which depend on what else the server has done) not
    - ephemeralOwner: a session id -> <session k>, k in order of first
      appearance; 0x0 (and values with the top bit set) stay
    - watch events: node events keep their order (but for the removal
      events of one removewatches, see sort_removals); connection-state events
      (type None) are compared as a sorted list since a ``connect`` makes
      two client event threads race; ``Closed`` (printed by the client
      itself while exiting, or not) is dropped
    - deleteall: "Failed to delete some node(s) in the subtree!" is
      dropped: zkCli 3.8 prints it or not by a race of its own
      (ZKUtil.deleteInBatch's multi callback releases the semaphore the
      main thread waits on before it records the failure); what is left of
      the tree shows what the server did
    - getEphemerals: ZooKeeper lists the paths in java.util.HashSet order,
      which depends on the hash of the whole path and so on the root's
      name; the list becomes sorted, followed by whether the printed order
      is the HashSet order of these paths (java_hashset_clone_order, with
      the session's ephemerals in creation order as tracked from the
      transcript's create -e / delete / close / connect commands)
    """

    def __init__(self, transcript, root, hosts):
        self.root = root
        self.hosts = hosts
        zx = set()
        for out in transcript.outputs:
            for line in out:
                m = ZXID_LINE.match(line)
                if m:
                    zx.add(int(m.group(2), 16))
        zx.discard(0)
        self.rank = {z: i + 1 for i, z in enumerate(sorted(zx))}
        self.sessions = {}

    def text(self, s):
        s = s.replace(self.root, "<root>")
        if self.hosts:
            s = s.replace(self.hosts, "<server>")
        return s

    def line(self, line):
        m = ZXID_LINE.match(line)
        if m:
            z = int(m.group(2), 16)
            return "%s = %s" % (m.group(1),
                                "z%d" % self.rank[z] if z else "0x0")
        m = TIME_LINE.match(line)
        if m:
            return "%s = <time>" % m.group(1)
        m = OWNER_LINE.match(line)
        # a session id; not 0, nor what a server might show for a container
        # or TTL node (top bit set): ZooKeeper shows 0 for those
        if m and 0 < int(m.group(1), 16) < 1 << 63:
            k = self.sessions.setdefault(m.group(1), len(self.sessions))
            return "ephemeralOwner = <session %d>" % k
        return self.text(line)

    def ephemerals(self, command, output, live, capacity):
        """Normalised getEphemerals output (see the class comment)."""
        if len(output) != 1 or not output[0].startswith("[") or \
                not output[0].endswith("]"):
            return [self.line(l) for l in output]
        body = output[0][1:-1]
        printed = body.split(", ") if body else []
        args = command.split()[1:]
        prefix = args[0] if args else ""
        order = java_hashset_clone_order(live, capacity)
        if prefix.strip() and prefix.strip() != "/":
            order = [p for p in order if p.startswith(prefix)]
        listed = "[%s]" % ", ".join(self.text(p)
                                    for p in sorted(printed))
        if printed == order:
            return [listed, "(in java.util.HashSet order)"]
        if sorted(printed) == sorted(order):
            return [listed, "(not in java.util.HashSet order: %s)" %
                    self.text(output[0])]
        return [listed, "(the session's ephemerals are %s)" %
                self.text(str(sorted(order)))]

    def __call__(self, t):
        outs = []
        live = []           # this session's ephemerals, in creation order
        capacity = 16       # of ZooKeeper's HashSet of them
        for c, out in t:
            words = c.split()
            cmd = words[0] if words else ""
            if cmd == "getEphemerals":
                outs.append((self.text(c),
                             self.ephemerals(c, out, live, capacity)))
                continue
            shown = [l for l in out if l != DELETEALL_RACE] \
                if cmd == "deleteall" else out
            outs.append((self.text(c), [self.line(l) for l in shown]))
            if cmd == "create" and any(w.startswith("-") and "e" in w
                                       for w in words[1:-1]):
                for l in out:
                    if l.startswith("Created "):
                        live.append(l[len("Created "):])
                while len(live) > capacity * 3 // 4:
                    capacity *= 2
            elif cmd in ("delete", "deleteall") and not out:
                gone = words[-1] if cmd == "delete" else words[1]
                live[:] = [p for p in live if p != gone and
                           not p.startswith(gone + "/")]
            elif cmd in ("close", "connect"):
                live, capacity = [], 16
        node = sort_removals([tuple(self.text(x) for x in e)
                              for e in t.events if e[1] != "None"])
        state = sorted(e[0] for e in t.events
                       if e[1] == "None" and e[0] != "Closed")
        return {"outputs": outs, "node_events": node, "state_events": state,
                "rc": t.rc}


def sort_removals(events):
    """Sort each run of *WatchRemoved events of one path: the client makes
    them itself when a removeWatches succeeds, one per watch type, in the
    order of a HashMap keyed by an enum (identity hash: differs from one
    JVM to the next)."""
    out = []
    i = 0
    while i < len(events):
        j = i
        if events[i][1].endswith("WatchRemoved"):
            while j + 1 < len(events) and \
                    events[j + 1][1].endswith("WatchRemoved") and \
                    events[j + 1][2] == events[i][2]:
                j += 1
        out.extend(sorted(events[i:j + 1]))
        i = j + 1
    return out


def normalise(transcript, root, hosts):
    return Normaliser(transcript, root, hosts)(transcript)


def diff(got, want, names=("paddock", "zookeeper")):
    """Readable list of what differs between two normalised transcripts."""
    parts = []
    for (c, g), (_, w) in zip(got["outputs"], want["outputs"]):
        if g != w:
            parts.append("$ %s\n%s\n%s" % (
                c, "\n".join("  %-9s| %s" % (names[1], l) for l in w),
                "\n".join("  %-9s| %s" % (names[0], l) for l in g)))
    for k in ("node_events", "state_events", "rc"):
        if got[k] != want[k]:
            parts.append("%s\n  %-9s| %r\n  %-9s| %r" % (
                k, names[1], want[k], names[0], got[k]))
    return "\n".join(parts)
