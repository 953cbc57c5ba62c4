package paddock.test.recipes;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.locks.InterProcessLock;
import org.apache.curator.framework.recipes.locks.InterProcessMultiLock;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.InterProcessReadWriteLock;
import org.apache.curator.framework.recipes.locks.InterProcessSemaphoreMutex;
import org.apache.curator.framework.recipes.locks.InterProcessSemaphoreV2;
import org.apache.curator.framework.recipes.locks.Lease;
import org.apache.curator.framework.recipes.locks.Locker;
import org.apache.curator.framework.recipes.locks.Revoker;
import org.apache.curator.framework.recipes.shared.SharedCount;
import org.junit.jupiter.api.Test;

import paddock.test.Zk;

/** Curator's locks with several clients (sessions) racing. */
class LockTest extends Zk {
    /** Counts holders inside a critical section; records the maximum. */
    static final class Section {
        final AtomicInteger in = new AtomicInteger();
        final AtomicInteger max = new AtomicInteger();
        final AtomicInteger entries = new AtomicInteger();

        void enter() throws InterruptedException {
            int n = in.incrementAndGet();
            max.accumulateAndGet(n, Math::max);
            entries.incrementAndGet();
            Thread.sleep(1);
        }

        void leave() {
            in.decrementAndGet();
        }
    }

    private void hammer(List<InterProcessLock> locks, int iterations,
                        Section sec) throws Exception {
        Rx.race(locks.size(), 60000, i -> {
            InterProcessLock l = locks.get(i);
            for (int k = 0; k < iterations; k++) {
                if (!l.acquire(20, TimeUnit.SECONDS))
                    throw new AssertionError("acquire timed out");
                try {
                    sec.enter();
                    sec.leave();
                } finally {
                    l.release();
                }
            }
        });
    }

    private List<String> names(Collection<String> nodes) {
        List<String> l = new ArrayList<>();
        for (String n : nodes)
            l.add(Rx.unprotect(Rx.rel(root, n)));
        return Rx.sorted(l);
    }

    @Test
    void mutexRace() throws Exception {
        List<CuratorFramework> cs = Rx.clients(4);
        String p = root + "/mutex";
        List<InterProcessLock> locks = new ArrayList<>();
        for (CuratorFramework c : cs)
            locks.add(new InterProcessMutex(c, p));
        Section sec = new Section();
        hammer(locks, 20, sec);
        log("max concurrent holders %d, acquisitions %d", sec.max.get(),
            sec.entries.get());
        log("lock nodes left %s", Rx.childrenOrNone(cs.get(0), p));
        assertThat(sec.max.get()).isEqualTo(1);
    }

    @Test
    void mutexReentrancyAndNodes() throws Exception {
        CuratorFramework a = curator();
        CuratorFramework o = curator();
        String p = root + "/m";
        InterProcessMutex m = new InterProcessMutex(a, p);
        m.acquire();
        log("acquired %b held=%b", true, m.isAcquiredInThisProcess());
        log("reentrant %b", m.acquire(1, TimeUnit.SECONDS));
        log("participants %s", names(m.getParticipantNodes()));
        InterProcessMutex other = new InterProcessMutex(o, p);
        log("other acquire 200ms %b", other.acquire(200, TimeUnit.MILLISECONDS));
        log("participants after other gave up %s",
            names(m.getParticipantNodes()));
        m.release();
        log("held after one release %b", m.isAcquiredInThisProcess());
        log("other acquire while still held %b",
            other.acquire(200, TimeUnit.MILLISECONDS));
        m.release();
        log("held after two releases %b", m.isAcquiredInThisProcess());
        log("other acquire now %b", other.acquire(5, TimeUnit.SECONDS));
        log("participants %s", names(other.getParticipantNodes()));
        log("release unheld: %s", code(() -> m.release()));
        other.release();
        try (Locker l = new Locker(m, 5, TimeUnit.SECONDS)) {
            log("locker holds %b", m.isAcquiredInThisProcess());
        }
        log("after locker %b, nodes %s", m.isAcquiredInThisProcess(),
            a.getChildren().forPath(p));
    }

    @Test
    void mutexHolderSessionCloses() throws Exception {
        List<CuratorFramework> cs = Rx.clients(3);
        String p = root + "/m";
        InterProcessMutex m0 = new InterProcessMutex(cs.get(0), p);
        m0.acquire();
        CountDownLatch got = new CountDownLatch(2);
        AtomicInteger concurrent = new AtomicInteger();
        AtomicInteger max = new AtomicInteger();
        List<Thread> ts = new ArrayList<>();
        for (int i = 1; i <= 2; i++) {
            InterProcessMutex m = new InterProcessMutex(cs.get(i), p);
            Thread t = new Thread(() -> {
                try {
                    if (m.acquire(15, TimeUnit.SECONDS)) {
                        max.accumulateAndGet(concurrent.incrementAndGet(),
                                             Math::max);
                        Thread.sleep(50);
                        concurrent.decrementAndGet();
                        m.release();
                        got.countDown();
                    }
                } catch (Exception e) {
                    // counted as not acquired
                }
            });
            t.setDaemon(true);
            ts.add(t);
            t.start();
        }
        Thread.sleep(300);
        log("waiters acquired while holder alive: %d", 2 - got.getCount());
        cs.get(0).close();
        log("both waiters acquired after holder's session closed: %b",
            got.await(10, TimeUnit.SECONDS));
        log("max concurrent %d", max.get());
        log("nodes left %s", Rx.childrenOrNone(cs.get(1), p));
    }

    @Test
    void revocation() throws Exception {
        CuratorFramework a = curator();
        CuratorFramework o = curator();
        String p = root + "/rv";
        InterProcessMutex m = new InterProcessMutex(a, p);
        CountDownLatch asked = new CountDownLatch(1);
        m.makeRevocable(lock -> asked.countDown());
        m.acquire();
        String node = m.getParticipantNodes().iterator().next();
        Revoker.attemptRevoke(o, node);
        log("revocation requested: %b", asked.await(5, TimeUnit.SECONDS));
        log("node data after revoke '%s'", s(o.getData().forPath(node)));
        m.release();
        log("revoke missing node: %s", code(() -> Revoker.attemptRevoke(o,
            node)));
    }

    @Test
    void semaphoreMutexRace() throws Exception {
        List<CuratorFramework> cs = Rx.clients(4);
        String p = root + "/sm";
        List<InterProcessLock> locks = new ArrayList<>();
        for (CuratorFramework c : cs)
            locks.add(new InterProcessSemaphoreMutex(c, p));
        Section sec = new Section();
        hammer(locks, 12, sec);
        log("max concurrent holders %d, acquisitions %d", sec.max.get(),
            sec.entries.get());
        InterProcessSemaphoreMutex sm = (InterProcessSemaphoreMutex) locks.get(0);
        sm.acquire();
        log("not reentrant: second acquire %b",
            sm.acquire(200, TimeUnit.MILLISECONDS));
        log("other client %b", locks.get(1).acquire(200, TimeUnit.MILLISECONDS));
        sm.release();
        log("other client after release %b",
            locks.get(1).acquire(5, TimeUnit.SECONDS));
        locks.get(1).release();
        log("structure %s", Rx.nonEmptyChildren(cs.get(0), p));
        log("leases left %s", Rx.childrenOrNone(cs.get(0), p + "/leases"));
        assertThat(sec.max.get()).isEqualTo(1);
    }

    @Test
    void readWriteLockRace() throws Exception {
        List<CuratorFramework> cs = Rx.clients(4);
        String p = root + "/rw";
        AtomicInteger readers = new AtomicInteger();
        AtomicInteger writers = new AtomicInteger();
        AtomicBoolean bad = new AtomicBoolean();
        AtomicInteger reads = new AtomicInteger();
        AtomicInteger writes = new AtomicInteger();
        Rx.race(4, 60000, i -> {
            InterProcessReadWriteLock rw =
                new InterProcessReadWriteLock(cs.get(i), p);
            for (int k = 0; k < 12; k++) {
                boolean write = i < 2;
                InterProcessMutex l = write ? rw.writeLock() : rw.readLock();
                if (!l.acquire(20, TimeUnit.SECONDS))
                    throw new AssertionError("acquire timed out");
                try {
                    if (write) {
                        if (writers.incrementAndGet() != 1 || readers.get() != 0)
                            bad.set(true);
                        writes.incrementAndGet();
                        Thread.sleep(1);
                        writers.decrementAndGet();
                    } else {
                        readers.incrementAndGet();
                        if (writers.get() != 0)
                            bad.set(true);
                        reads.incrementAndGet();
                        Thread.sleep(1);
                        readers.decrementAndGet();
                    }
                } finally {
                    l.release();
                }
            }
        });
        log("exclusion violated: %b, reads %d, writes %d", bad.get(),
            reads.get(), writes.get());
        log("nodes left %s", Rx.childrenOrNone(cs.get(0), p));
    }

    @Test
    void readWriteLockSemantics() throws Exception {
        List<CuratorFramework> cs = Rx.clients(3);
        String p = root + "/rw";
        InterProcessReadWriteLock a = new InterProcessReadWriteLock(cs.get(0), p);
        InterProcessReadWriteLock b = new InterProcessReadWriteLock(cs.get(1), p);
        InterProcessReadWriteLock c = new InterProcessReadWriteLock(cs.get(2), p);
        log("a read %b", a.readLock().acquire(5, TimeUnit.SECONDS));
        log("b read while a reads %b", b.readLock().acquire(5, TimeUnit.SECONDS));
        log("c write while reading %b",
            c.writeLock().acquire(200, TimeUnit.MILLISECONDS));
        List<String> kinds = new ArrayList<>();
        for (String n : cs.get(0).getChildren().forPath(p))
            kinds.add(n.replaceAll("^_c_[0-9a-f-]{36}-", "")
                .replaceAll("[0-9]{10}$", "N"));
        log("nodes %s", Rx.sorted(kinds));
        a.readLock().release();
        b.readLock().release();
        log("c write after readers left %b",
            c.writeLock().acquire(5, TimeUnit.SECONDS));
        log("a read while c writes %b",
            a.readLock().acquire(200, TimeUnit.MILLISECONDS));
        log("c read while c writes (downgrade) %b",
            c.readLock().acquire(5, TimeUnit.SECONDS));
        c.writeLock().release();
        log("a write while c reads %b",
            a.writeLock().acquire(200, TimeUnit.MILLISECONDS));
        log("a read while c reads %b", a.readLock().acquire(5, TimeUnit.SECONDS));
        a.readLock().release();
        c.readLock().release();
        log("nodes left %s", Rx.childrenOrNone(cs.get(0), p));
        log("participants of empty lock %s", c.writeLock().getParticipantNodes());
    }

    @Test
    void multiLock() throws Exception {
        List<CuratorFramework> cs = Rx.clients(3);
        List<String> paths = Arrays.asList(root + "/l1", root + "/l2");
        List<InterProcessLock> locks = new ArrayList<>();
        for (CuratorFramework c : cs)
            locks.add(new InterProcessMultiLock(c, paths));
        Section sec = new Section();
        hammer(locks, 12, sec);
        log("max concurrent holders %d, acquisitions %d", sec.max.get(),
            sec.entries.get());
        InterProcessLock m = locks.get(0);
        m.acquire();
        InterProcessMutex single = new InterProcessMutex(cs.get(1), root + "/l2");
        log("single lock on l2 while multi held %b",
            single.acquire(200, TimeUnit.MILLISECONDS));
        log("held in this process %b", m.isAcquiredInThisProcess());
        m.release();
        log("single lock after release %b", single.acquire(5, TimeUnit.SECONDS));
        log("multi while single holds l2 %b",
            locks.get(2).acquire(200, TimeUnit.MILLISECONDS));
        log("l1 free again (multi backed out) %b",
            new InterProcessMutex(cs.get(0), root + "/l1")
                .acquire(1, TimeUnit.SECONDS));
        single.release();
        assertThat(sec.max.get()).isEqualTo(1);
    }

    @Test
    void semaphoreV2Race() throws Exception {
        List<CuratorFramework> cs = Rx.clients(5);
        String p = root + "/sem";
        Section sec = new Section();
        Rx.race(5, 60000, i -> {
            InterProcessSemaphoreV2 s = new InterProcessSemaphoreV2(cs.get(i), p, 2);
            for (int k = 0; k < 10; k++) {
                Lease l = s.acquire(20, TimeUnit.SECONDS);
                if (l == null)
                    throw new AssertionError("acquire timed out");
                try {
                    sec.enter();
                    Thread.sleep(2);
                    sec.leave();
                } finally {
                    s.returnLease(l);
                }
            }
        });
        log("max concurrent leases <= 2: %b, leases %d", sec.max.get() <= 2,
            sec.entries.get());
        log("structure %s", Rx.nonEmptyChildren(cs.get(0), p));
        log("leases left %s", Rx.childrenOrNone(cs.get(0), p + "/leases"));
        assertThat(sec.max.get()).isLessThanOrEqualTo(2);
    }

    @Test
    void semaphoreV2Semantics() throws Exception {
        List<CuratorFramework> cs = Rx.clients(3);
        String p = root + "/sem";
        InterProcessSemaphoreV2 a = new InterProcessSemaphoreV2(cs.get(0), p, 3);
        InterProcessSemaphoreV2 b = new InterProcessSemaphoreV2(cs.get(1), p, 3);
        Collection<Lease> two = a.acquire(2, 5, TimeUnit.SECONDS);
        log("a got %d", two == null ? 0 : two.size());
        log("participants %d", a.getParticipantNodes().size());
        log("b 2 leases %s", b.acquire(2, 300, TimeUnit.MILLISECONDS));
        Lease one = b.acquire(5, TimeUnit.SECONDS);
        log("b 1 lease %b", one != null);
        List<String> names = new ArrayList<>();
        for (Lease l : two)
            names.add(Rx.unprotect(Rx.rel(root, l.getNodeName()))
                .replaceAll("[0-9]{10}$", "N"));
        log("lease names %s", Rx.sorted(names));
        log("a one more %s", a.acquire(300, TimeUnit.MILLISECONDS));
        a.returnAll(two);
        Collection<Lease> b2 = b.acquire(2, 5, TimeUnit.SECONDS);
        log("b 2 more after return %d", b2 == null ? 0 : b2.size());
        b.returnAll(b2);
        b.returnLease(one);
        log("leases left %s", Rx.childrenOrNone(cs.get(0), p + "/leases"));
        // a lease holder's session ends: its lease goes with it
        Lease held = b.acquire(5, TimeUnit.SECONDS);
        Collection<Lease> more = b.acquire(2, 5, TimeUnit.SECONDS);
        log("b holds 3 %b", held != null && more != null);
        CountDownLatch got = new CountDownLatch(1);
        Thread t = new Thread(() -> {
            try {
                if (a.acquire(10, TimeUnit.SECONDS) != null)
                    got.countDown();
            } catch (Exception e) {
                // not acquired
            }
        });
        t.setDaemon(true);
        t.start();
        Thread.sleep(200);
        log("a waiting while full: %b", got.getCount() == 1);
        cs.get(1).close();
        log("a acquired after b's session closed: %b",
            got.await(10, TimeUnit.SECONDS));
        // a semaphore whose size is a SharedCount
        SharedCount count = closeLater(new SharedCount(cs.get(2), root + "/max", 1));
        count.start();
        InterProcessSemaphoreV2 c = new InterProcessSemaphoreV2(cs.get(2),
            root + "/sem2", count);
        Lease c1 = c.acquire(5, TimeUnit.SECONDS);
        log("shared-count semaphore second lease at max=1: %s",
            c.acquire(200, TimeUnit.MILLISECONDS));
        count.setCount(2);
        log("second lease after max=2: %b", Rx.until(() -> {
            Lease l = c.acquire(100, TimeUnit.MILLISECONDS);
            return l != null;
        }, 5000));
        c.returnLease(c1);
    }
}
