"""Torn-write tests: damage the on-disk log and snapshots of a stopped
paddockd, restart it, and check what log/FORMAT.md promises.

* Tail damage of the newest segment (truncate the file, zero or garble
  bytes of one of the last records, flip a byte of the last record): the
  server starts, zeroes the torn tail, says so on stderr
  ("paddockd: recovery: log: ...: torn tail ..."), and holds exactly the
  writes whose records come before the damaged one.  Every write is an
  acknowledged create, so the writes in or after the damaged record are
  known from paddock-logdump before the damage (record zxid = the zxid of
  the create's reply) and must be absent.
* Damage in the middle of the log (a valid record of a later flush round
  follows), or in a segment that is not the newest: the server refuses to
  start, says why, and changes nothing.
* A damaged newest snapshot: paddock-check reports it, the server falls
  back to the older snapshot plus the log, and every write is present.
"""

import hashlib
import os
import time

import pytest

from jute import Op
from paddock_fault import (PipeClient, body_create, read_states, run_check,
                      logdump, rec_size, segments, snapshots, say)

NO_SNAP = {"snapCount": "1000000"}   # the torn tests want no snapshots


def populate(srv, prefix, n, window, rng=None):
    """Create n znodes prefix/kNNNN pipelined `window` deep; returns
    {path: (data, zxid)} of the acknowledged ones (all of them)."""
    c = PipeClient(srv.hosts, window=window)
    out = {}
    errs = []

    def make_cb(path, data):
        def cb(err, zxid, r):
            if err:
                errs.append((path, err))
            else:
                out[path] = (data, zxid)
        return cb
    c.call(Op.CREATE2, body_create(prefix, b""))
    for i in range(n):
        path = "%s/k%04d" % (prefix, i)
        data = ("%s=%d;" % (path, i) + "z" * ((i * 37) % 300)).encode()
        c.submit(Op.CREATE2, body_create(path, data), make_cb(path, data))
    assert c.drain(30), "creates not answered"
    assert not errs, errs[:5]
    c.close()          # socket only: the session stays (no closeSession)
    return out


def stop(srv, how):
    if how == "term":
        rc = srv.term()
        assert rc == 0, "paddockd exit status %r on SIGTERM" % rc
    else:
        srv.kill9()


def file_hashes(*dirs):
    out = {}
    for d in dirs:
        for name in sorted(os.listdir(d)):
            p = os.path.join(d, name)
            if os.path.isfile(p):
                with open(p, "rb") as f:
                    out[p] = hashlib.sha256(f.read()).hexdigest()
    return out


def fatal_after(recs, k):
    """Would damage of record k be corruption per FORMAT.md (a valid record
    after it whose round is >= round(last good) + 2)?"""
    good_round = recs[k - 1].round if k > 0 else 0
    return any(r.round >= good_round + 2 for r in recs[k + 1:])


def damage(path, rec, how, rng):
    """Damage record `rec` of segment `path`.  Returns a description."""
    end = rec.offset + 24 + rec.len            # header + payload
    full = rec.offset + rec_size(rec.len)      # + padding
    if how == "truncate":
        cut = rng.randrange(rec.offset + 1, full)
        os.truncate(path, cut)
        return "truncated the file at offset %d (record at %d..%d)" % (
            cut, rec.offset, full)
    with open(path, "r+b") as f:
        if how == "flip":
            pos = rng.randrange(rec.offset, end)
            f.seek(pos)
            b = f.read(1)[0]
            f.seek(pos)
            f.write(bytes([b ^ (1 << rng.randrange(8))]))
            return "flipped a bit at offset %d (record at %d..%d)" % (
                pos, rec.offset, end)
        a = rng.randrange(rec.offset, end)
        b = rng.randrange(a + 1, end + 1)
        f.seek(a)
        old = f.read(b - a)
        if how == "zero":
            new = bytes(b - a)
            if new == old:          # already zero there: zero the header
                a, b = rec.offset, rec.offset + 8
                new = bytes(8)
        else:   # garble
            new = bytes(rng.randrange(256) for _ in range(b - a))
            if new == old:
                new = bytes(x ^ 0xff for x in old)
        f.seek(a)
        f.write(new)
        return "%s bytes %d..%d (record at %d..%d)" % (
            "zeroed" if how == "zero" else "garbled", a, b, rec.offset, end)


def nonzero_from(path, off):
    with open(path, "rb") as f:
        f.seek(off)
        return any(f.read())


def recovered_zxid(output):
    for line in output.splitlines():
        if line.startswith("paddockd: recovered to zxid 0x"):
            return int(line.split("0x")[1].split()[0], 16)
    return None


def verify_nodes(srv, expect_present, expect_absent):
    act = read_states(srv.hosts, list(expect_present) + list(expect_absent))
    missing = [p for p, (d, z) in expect_present.items()
               if act[p] is None or act[p][0] != d or act[p][1] != 0]
    extra = [p for p in expect_absent if act[p] is not None]
    return missing, extra


@pytest.mark.parametrize("how", ["truncate", "zero", "garble", "flip"])
@pytest.mark.parametrize("stop_with", ["term", "kill9"])
@pytest.mark.timeout(90)
def test_torn_tail(paddock_factory, rng, how, stop_with):
    srv = paddock_factory(NO_SNAP).start()
    survivors = {}      # acknowledged writes that must be present forever
    for it in range(1, 4):
        window = rng.choice([1, 4, 32])
        nodes = populate(srv, "/t%d" % it, rng.randrange(20, 120), window)
        stop(srv, stop_with)
        seg = segments(srv)[-1][1]
        recs, rc = logdump(seg)
        assert rc == 0 and recs and all(r.crc_ok for r in recs), \
            "newest segment not clean after %s: %s" % (stop_with, recs[-3:])
        by_zxid = {z: p for p, (d, z) in nodes.items()}
        # the damaged record: one of the last 5, never one whose damage
        # would be corruption (FORMAT.md's round rule); flips hit the last
        if how == "flip":
            k = len(recs) - 1
        else:
            cands = [k for k in range(max(0, len(recs) - 5), len(recs))
                     if not fatal_after(recs, k)]
            k = rng.choice(cands)
        zk = recs[k].zxid
        what = damage(seg, recs[k], how, rng)
        loud = nonzero_from(seg, recs[k].offset)
        crc, cout = run_check(srv)
        assert crc == (1 if loud else 0), \
            "paddock-check on the damaged dirs: exit %d\n%s" % (crc, cout)
        lost = {p: v for p, v in nodes.items() if v[1] >= zk}
        kept = {p: v for p, v in nodes.items() if v[1] < zk}
        t0 = time.monotonic()
        srv.start()
        lines = srv.recovery_lines()
        say("torn %s/%s #%d: %d creates (window %d) in %d records of "
            "%d rounds; %s of record %d/%d (zxid 0x%x, round %d); "
            "restart %.2fs; lost as expected %d; stderr: %s" %
            (how, stop_with, it, len(nodes), window, len(recs),
             recs[-1].round, what, k + 1, len(recs), zk, recs[k].round,
             time.monotonic() - t0, len(lost), lines or "(nothing)"))
        if loud:
            assert any("torn tail" in l and os.path.basename(seg) in l
                       for l in lines), \
                "no torn-tail report on stderr:\n%s" % srv.output
        else:
            say("  (damage left only zeros after the last good record: a "
                "clean end, nothing to report)")
        assert recovered_zxid(srv.output) == zk - 1, srv.output
        missing, extra = verify_nodes(srv, {**survivors, **kept}, lost)
        assert not missing, "acknowledged writes before the tear missing: " \
            "%s" % missing[:10]
        assert not extra, "writes of the torn tail applied: %s" % extra[:10]
        survivors.update(kept)
        with srv.frozen():
            crc, cout = run_check(srv)
        assert crc == 0, "paddock-check after the restart:\n%s" % cout
        if by_zxid and lost:
            # the same zxids are used again: the log must stay coherent
            more = populate(srv, "/t%d-after" % it, 10, 4)
            survivors.update(more)
            srv.kill9()
            srv.start()
            missing, _ = verify_nodes(srv, survivors, [])
            assert not missing, "after a further crash: %s" % missing[:10]
    # the server must end up with every survivor after one more clean cycle
    stop(srv, "term")
    srv.start()
    assert not srv.recovery_lines(), srv.output
    missing, _ = verify_nodes(srv, survivors, [])
    assert not missing


@pytest.mark.timeout(60)
def test_corrupt_middle_refuses_to_start(paddock_factory, rng):
    """A damaged record followed by a valid record two or more flush rounds
    later: a flushed round was damaged.  The server must refuse to start
    with a clear message and leave the files alone."""
    srv = paddock_factory(NO_SNAP).start()
    populate(srv, "/m", 40, 1)         # one create per flush round
    stop(srv, "term")
    seg = segments(srv)[-1][1]
    recs, _ = logdump(seg)
    cands = [k for k in range(1, len(recs) - 3) if fatal_after(recs, k)]
    assert cands, "no record with later flush rounds: %s" % (recs,)
    k = cands[len(cands) // 2]
    what = damage(seg, recs[k], rng.choice(["flip", "garble", "zero"]), rng)
    crc, cout = run_check(srv)
    assert crc == 1 and "corruption" in cout, cout
    before = file_hashes(srv.data_dir, srv.log_dir)
    rc, out = srv.start_expect_exit()
    say("middle: %s of record %d/%d (zxid 0x%x, round %d; %d rounds in "
        "the segment): exit status %s, output:\n  %s" %
        (what, k + 1, len(recs), recs[k].zxid, recs[k].round,
         recs[-1].round, rc, "\n  ".join(out.strip().splitlines())))
    assert rc is not None, "paddockd started on a corrupt log"
    assert rc != 0
    assert "corrupt record" in out and os.path.basename(seg) in out, out
    after = file_hashes(srv.data_dir, srv.log_dir)
    changed = [p for p in before if before[p] != after.get(p)]
    assert not changed, "files changed by the refused start: %s" % changed


@pytest.mark.timeout(60)
def test_corrupt_older_segment_refuses_to_start(paddock_factory, rng):
    """Any damage in a segment that is not the newest is corruption (a
    segment is complete before the next one is started)."""
    srv = paddock_factory(NO_SNAP).start()
    populate(srv, "/a", 30, 4)
    stop(srv, "term")
    srv.start()                       # the next writes go to a new segment
    populate(srv, "/b", 30, 4)
    stop(srv, "kill9")
    segs = segments(srv)
    assert len(segs) >= 2, segs
    old = segs[-2][1]
    recs, _ = logdump(old)
    what = damage(old, recs[-1], "flip", rng)
    crc, cout = run_check(srv)
    assert crc == 1, cout
    before = file_hashes(srv.data_dir, srv.log_dir)
    rc, out = srv.start_expect_exit()
    say("older segment: %s of the last record of %s (newest is %s): exit "
        "status %s, output:\n  %s" %
        (what, os.path.basename(old), os.path.basename(segs[-1][1]), rc,
         "\n  ".join(out.strip().splitlines())))
    assert rc is not None and rc != 0, "paddockd started on a corrupt log"
    assert "corrupt record" in out and os.path.basename(old) in out, out
    assert file_hashes(srv.data_dir, srv.log_dir) == before


def damage_snapshot(path, how, rng):
    size = os.path.getsize(path)
    if how == "truncate":
        cut = rng.randrange(32, size - 1)
        os.truncate(path, cut)
        return "truncated %d -> %d bytes" % (size, cut)
    with open(path, "r+b") as f:
        if how == "flip":
            pos = rng.randrange(32, size - 8)
            f.seek(pos)
            b = f.read(1)[0]
            f.seek(pos)
            f.write(bytes([b ^ 0x10]))
            return "flipped a bit at offset %d of %d" % (pos, size)
        f.seek(size - 8)
        f.write(bytes(8))                # zero the trailer
        return "zeroed the 8-byte trailer"


@pytest.mark.parametrize("how", ["flip", "truncate", "trailer"])
@pytest.mark.parametrize("stop_with", ["term", "kill9"])
@pytest.mark.timeout(60)
def test_corrupt_newest_snapshot(paddock_factory, rng, how, stop_with):
    srv = paddock_factory({"snapCount": "200"}).start()
    nodes = {}
    for part in range(4):
        nodes.update(populate(srv, "/s%d" % part, 150, 8))
        # let the background snapshot finish before the next batch
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(
                n.endswith(".tmp") for n in os.listdir(srv.data_dir)):
            time.sleep(0.01)
    time.sleep(0.2)
    last = max(z for d, z in nodes.values())
    stop(srv, stop_with)
    snaps = snapshots(srv)
    assert len(snaps) >= 2, "need two snapshots, have %s" % snaps
    crc, cout = run_check(srv)
    assert crc == 0, cout
    newest = snaps[-1][1]
    what = damage_snapshot(newest, how, rng)
    crc, cout = run_check(srv)
    assert crc == 1 and "DAMAGED" in cout and \
        os.path.basename(newest) in cout, cout
    srv.start()
    lines = srv.recovery_lines()
    say("snapshot %s/%s: %s of %s (older: %s); stderr: %s" %
        (how, stop_with, what, os.path.basename(newest),
         os.path.basename(snaps[-2][1]), lines))
    assert any(os.path.basename(newest) in l and "invalid" in l
               for l in lines), srv.output
    rz = recovered_zxid(srv.output)
    assert rz is not None and rz >= last, srv.output
    missing, _ = verify_nodes(srv, nodes, [])
    say("  all %d acknowledged creates present: %s; recovered to 0x%x "
        "(last acknowledged 0x%x)" % (len(nodes), not missing, rz, last))
    assert not missing, missing[:10]
    # and again, once the server has written on top of the fallback
    more = populate(srv, "/s-after", 50, 8)
    srv.kill9()
    srv.start()
    missing, _ = verify_nodes(srv, {**nodes, **more}, [])
    assert not missing, missing[:10]


@pytest.mark.timeout(60)
def test_all_snapshots_corrupt(paddock_factory, rng):
    """No valid snapshot while snapshots exist: paddockd refuses to start
    (like ZooKeeper's "No snapshot found, but there are log entries"),
    with a clear message, rather than starting from an empty tree."""
    srv = paddock_factory({"snapCount": "200"}).start()
    populate(srv, "/x", 400, 8)
    time.sleep(0.3)
    stop(srv, "term")
    snaps = snapshots(srv)
    assert snaps
    for _, p in snaps:
        damage_snapshot(p, "trailer", rng)
    rc, out = srv.start_expect_exit()
    say("all %d snapshots damaged: exit status %s, output:\n  %s" %
        (len(snaps), rc, "\n  ".join(out.strip().splitlines())))
    assert rc is not None and rc != 0, "started from an empty tree"
    assert "snapshot" in out and "valid" in out, out
