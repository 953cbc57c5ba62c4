#!/usr/bin/env python3
"""snap-resync.py - writes on a leader while a member resyncs by SNAP.

    PADDOCK_BUILD=/tmp/bm /usr/bin/python3 tools/bench/snap-resync.py N

A 3-member paddockd ensemble on loopback (tests/integration/ensemble.py),
N znodes of 150 bytes under /big, one member wiped (it rejoins with
nothing, so the leader sends it the whole tree), and meanwhile one kazoo
session on the leader sets one znode in a loop, each set answered before
the next.  Prints the leader's SNAP log line and the writes made from
the restart until the ensemble serves again: count, longest wait, p99.
"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "tests", "integration"))
from ensemble import Ensemble, fill  # noqa: E402
from kazoo.client import KazooClient  # noqa: E402


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 400000
    e = Ensemble(voters=3, extra=["initLimit=60"])
    try:
        e.start()
        leader = e.leader()
        late = [m for m in e.members if m is not leader][0]
        late.wipe()
        zk = KazooClient(hosts=leader.hosts, timeout=30)
        zk.start()
        fill(zk, "/big", n, b"v" * 150, batch=1000)
        zk.create("/w", b"0")
        stop, lat = threading.Event(), []

        def writer():
            i = 0
            while not stop.is_set():
                t0 = time.monotonic()
                zk.set("/w", b"%d" % i)
                lat.append(time.monotonic() - t0)
                i += 1

        th = threading.Thread(target=writer)
        th.start()
        time.sleep(1)
        n0 = len(lat)
        late.start()
        e.wait_serving(timeout=120)
        stop.set()
        th.join()
        during = sorted(lat[n0:])
        line = [ln for ln in leader.log_tail(400).splitlines()
                if "snapshot 0x" in ln]
        print("znodes %d: %s" % (n, line[-1] if line else "no SNAP line"))
        print("writes during the resync: %d, longest %.1f ms, p99 %.1f ms"
              % (len(during), during[-1] * 1000,
                 during[int(len(during) * .99)] * 1000))
        zk.stop()
        zk.close()
    finally:
        e.close()


if __name__ == "__main__":
    main()
