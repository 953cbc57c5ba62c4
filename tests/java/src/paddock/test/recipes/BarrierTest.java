package paddock.test.recipes;

import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.barriers.DistributedBarrier;
import org.apache.curator.framework.recipes.barriers.DistributedDoubleBarrier;
import org.junit.jupiter.api.Test;

import paddock.test.Zk;

/** Single and double barriers with several clients. */
class BarrierTest extends Zk {
    @Test
    void barrierReleasesAll() throws Exception {
        int n = 4;
        List<CuratorFramework> cs = Rx.clients(n + 1);
        String p = root + "/bar";
        DistributedBarrier ctl = new DistributedBarrier(cs.get(n), p);
        ctl.setBarrier();
        log("barrier node %s", stat(cs.get(n).checkExists().forPath(p)));
        log("wait with timeout while set: %b",
            new DistributedBarrier(cs.get(0), p).waitOnBarrier(200,
                TimeUnit.MILLISECONDS));
        AtomicInteger passed = new AtomicInteger();
        CountDownLatch ready = new CountDownLatch(n);
        CountDownLatch done = new CountDownLatch(n);
        for (int i = 0; i < n; i++) {
            DistributedBarrier b = new DistributedBarrier(cs.get(i), p);
            Thread t = new Thread(() -> {
                try {
                    ready.countDown();
                    if (b.waitOnBarrier(15, TimeUnit.SECONDS))
                        passed.incrementAndGet();
                } catch (Exception e) {
                    // not passed
                } finally {
                    done.countDown();
                }
            });
            t.setDaemon(true);
            t.start();
        }
        ready.await(5, TimeUnit.SECONDS);
        Thread.sleep(300);
        log("passed before removal: %d", passed.get());
        ctl.removeBarrier();
        log("all returned: %b", done.await(10, TimeUnit.SECONDS));
        log("passed after removal: %d", passed.get());
        log("wait on removed barrier: %b", new DistributedBarrier(cs.get(0), p)
            .waitOnBarrier(1, TimeUnit.SECONDS));
        log("remove again: %s", code(ctl::removeBarrier));
        ctl.setBarrier();
        log("set twice: %s", code(ctl::setBarrier));
        ctl.removeBarrier();
    }

    @Test
    void doubleBarrier() throws Exception {
        int n = 4;
        List<CuratorFramework> cs = Rx.clients(n);
        String p = root + "/dbl";
        AtomicInteger arrived = new AtomicInteger();
        AtomicBoolean early = new AtomicBoolean();
        AtomicInteger entered = new AtomicInteger();
        AtomicInteger inside = new AtomicInteger();
        AtomicBoolean leftEarly = new AtomicBoolean();
        AtomicInteger left = new AtomicInteger();
        Rx.race(n, 30000, i -> {
            DistributedDoubleBarrier b = new DistributedDoubleBarrier(cs.get(i),
                p, n);
            Thread.sleep(40L * i);
            arrived.incrementAndGet();
            if (!b.enter(15, TimeUnit.SECONDS))
                return;
            if (arrived.get() < n)
                early.set(true);
            entered.incrementAndGet();
            inside.incrementAndGet();
            Thread.sleep(30L * (n - i));
            inside.decrementAndGet();
            if (!b.leave(15, TimeUnit.SECONDS))
                return;
            if (inside.get() != 0)
                leftEarly.set(true);
            left.incrementAndGet();
        });
        log("entered %d, any before all arrived: %b", entered.get(),
            early.get());
        log("left %d, any before all were leaving: %b", left.get(),
            leftEarly.get());
        log("barrier children left %s", Rx.childrenOrNone(cs.get(0), p));
    }

    @Test
    void doubleBarrierTimeout() throws Exception {
        List<CuratorFramework> cs = Rx.clients(2);
        String p = root + "/dbl";
        AtomicInteger ok = new AtomicInteger();
        Rx.race(2, 10000, i -> {
            DistributedDoubleBarrier b = new DistributedDoubleBarrier(cs.get(i),
                p, 3);
            if (b.enter(400, TimeUnit.MILLISECONDS))
                ok.incrementAndGet();
        });
        log("entered with 2 of 3: %d", ok.get());
        log("children after timeout %s",
            Rx.sorted(cs.get(0).getChildren().forPath(p)).size());
    }
}
