package paddock.test.recipes;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.atomic.AtomicValue;
import org.apache.curator.framework.recipes.atomic.CachedAtomicLong;
import org.apache.curator.framework.recipes.atomic.DistributedAtomicInteger;
import org.apache.curator.framework.recipes.atomic.DistributedAtomicLong;
import org.apache.curator.framework.recipes.atomic.DistributedAtomicValue;
import org.apache.curator.framework.recipes.atomic.PromotedToLock;
import org.apache.curator.framework.recipes.shared.SharedCount;
import org.apache.curator.framework.recipes.shared.SharedCountListener;
import org.apache.curator.framework.recipes.shared.SharedCountReader;
import org.apache.curator.framework.recipes.shared.SharedValue;
import org.apache.curator.framework.recipes.shared.VersionedValue;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.RetryNTimes;
import org.apache.zookeeper.data.Stat;
import org.junit.jupiter.api.Test;

import paddock.test.Zk;

/** Shared count/value and the distributed atomics, racing clients. */
class CounterTest extends Zk {
    private static String av(AtomicValue<?> v) {
        return v.succeeded() ? v.preValue() + "->" + v.postValue() : "failed";
    }

    @Test
    void sharedCountRace() throws Exception {
        List<CuratorFramework> cs = Rx.clients(4);
        String p = root + "/count";
        List<SharedCount> counts = new ArrayList<>();
        for (CuratorFramework c : cs) {
            SharedCount sc = closeLater(new SharedCount(c, p, 0));
            sc.start();
            counts.add(sc);
        }
        Rx.race(4, 30000, i -> {
            SharedCount sc = counts.get(i);
            for (int k = 0; k < 25; k++) {
                for (int tries = 0; ; tries++) {
                    if (tries > 1000)
                        throw new AssertionError("no progress");
                    VersionedValue<Integer> v = sc.getVersionedValue();
                    if (sc.trySetCount(v, v.getValue() + 1))
                        break;
                }
            }
        });
        Stat st = new Stat();
        byte[] raw = cs.get(0).getData().storingStatIn(st).forPath(p);
        log("counter %d version %d", java.nio.ByteBuffer.wrap(raw).getInt(),
            st.getVersion());
        log("all readers converge: %b", Rx.until(() -> {
            for (SharedCount sc : counts)
                if (sc.getCount() != 100)
                    return false;
            return true;
        }, 5000));
    }

    @Test
    void sharedCountListener() throws Exception {
        CuratorFramework a = curator();
        CuratorFramework b = curator();
        String p = root + "/count";
        SharedCount w = closeLater(new SharedCount(a, p, 7));
        w.start();
        SharedCount r = closeLater(new SharedCount(b, p, 99));
        List<Integer> seen = Collections.synchronizedList(new ArrayList<>());
        r.addListener(new SharedCountListener() {
            @Override
            public void countHasChanged(SharedCountReader rd, int n) {
                seen.add(n);
            }

            @Override
            public void stateChanged(CuratorFramework c, ConnectionState s) {
            }
        });
        r.start();
        log("reader sees seed of first: %d", r.getCount());
        log("raw data length %d", b.getData().forPath(p).length);
        VersionedValue<Integer> old = w.getVersionedValue();
        for (int i = 1; i <= 5; i++) {
            w.setCount(i * 10);
            int want = i * 10;
            log("reader saw %d: %b", want, Rx.until(() -> seen.contains(want),
                                                     5000));
        }
        VersionedValue<Integer> v = r.getVersionedValue();
        log("versioned %d@%d", v.getValue(), v.getVersion());
        log("stale trySet: %b", w.trySetCount(old, 5));
        log("good trySet: %b", r.trySetCount(v, 77));
        log("writer sees 77: %b", Rx.until(() -> w.getCount() == 77, 5000));
        b.delete().forPath(p);
        log("after external delete: setCount %s", code(() -> w.setCount(3)));
    }

    @Test
    void sharedValue() throws Exception {
        CuratorFramework a = curator();
        CuratorFramework b = curator();
        String p = root + "/val";
        SharedValue va = closeLater(new SharedValue(a, p, b("init")));
        va.start();
        SharedValue vb = closeLater(new SharedValue(b, p, b("other")));
        vb.start();
        log("a=%s b=%s", s(va.getValue()), s(vb.getValue()));
        VersionedValue<byte[]> v = vb.getVersionedValue();
        log("b trySet %b", vb.trySetValue(v, b("from-b")));
        log("a sees it %b", Rx.until(() -> s(va.getValue()).equals("from-b"),
                                     5000));
        log("b stale trySet %b", vb.trySetValue(v, b("again")));
        va.setValue(b("from-a"));
        log("b sees it %b", Rx.until(() -> s(vb.getValue()).equals("from-a"),
                                     5000));
        log("version %d", vb.getVersionedValue().getVersion());
    }

    @Test
    void atomicLongRace() throws Exception {
        List<CuratorFramework> cs = Rx.clients(4);
        String p = root + "/along";
        AtomicInteger ok = new AtomicInteger();
        Set<Long> posts = ConcurrentHashMap.newKeySet();
        Rx.race(4, 60000, i -> {
            DistributedAtomicLong d = new DistributedAtomicLong(cs.get(i), p,
                new RetryNTimes(100, 1));
            for (int k = 0; k < 25; k++) {
                for (int tries = 0; ; tries++) {
                    if (tries > 50)
                        throw new AssertionError("no progress");
                    AtomicValue<Long> v = d.increment();
                    if (v.succeeded()) {
                        ok.incrementAndGet();
                        posts.add(v.postValue());
                        break;
                    }
                }
            }
        });
        DistributedAtomicLong d = new DistributedAtomicLong(cs.get(0), p,
            new RetryNTimes(3, 10));
        log("value %s, successful increments %d, distinct results %d",
            d.get().postValue(), ok.get(), posts.size());
        assertThat(posts).hasSize(100);
    }

    @Test
    void atomicLongPromotedToLockRace() throws Exception {
        List<CuratorFramework> cs = Rx.clients(3);
        String p = root + "/along";
        PromotedToLock ptl = PromotedToLock.builder().lockPath(root + "/lock")
            .retryPolicy(new RetryNTimes(20, 10)).timeout(20, TimeUnit.SECONDS)
            .build();
        AtomicInteger ok = new AtomicInteger();
        Rx.race(3, 60000, i -> {
            DistributedAtomicLong d = new DistributedAtomicLong(cs.get(i), p,
                new RetryNTimes(0, 0), ptl);
            for (int k = 0; k < 15; k++)
                if (d.add(2L).succeeded())
                    ok.incrementAndGet();
        });
        DistributedAtomicLong d = new DistributedAtomicLong(cs.get(0), p,
            new RetryNTimes(3, 10));
        log("value %d successful adds %d", d.get().postValue(), ok.get());
        log("lock nodes left %s", Rx.childrenOrNone(cs.get(0), root + "/lock"));
    }

    @Test
    void atomicLongSemantics() throws Exception {
        CuratorFramework c = curator();
        String p = root + "/a";
        DistributedAtomicLong d = new DistributedAtomicLong(c, p,
            new RetryNTimes(3, 10));
        AtomicValue<Long> g = d.get();
        log("get missing: succeeded %b post %d", g.succeeded(), g.postValue());
        log("exists after get: %b", c.checkExists().forPath(p) != null);
        log("initialize 9: %b", d.initialize(9L));
        log("initialize again: %b", d.initialize(10L));
        log("get %s", av(d.get()));
        log("cas 4->6 %s", av(d.compareAndSet(4L, 6L)));
        log("cas 9->6 %s", av(d.compareAndSet(9L, 6L)));
        log("trySet 7 %s", av(d.trySet(7L)));
        log("add 3 %s", av(d.add(3L)));
        log("subtract 4 %s", av(d.subtract(4L)));
        log("decrement %s", av(d.decrement()));
        log("increment %s", av(d.increment()));
        d.forceSet(-5L);
        log("forceSet -5 -> %s", av(d.get()));
        byte[] raw = c.getData().forPath(p);
        log("raw %d bytes", raw.length);
        log("stat version %d", c.checkExists().forPath(p).getVersion());
        c.setData().forPath(p, b("xy"));
        log("corrupt value get: %s", code(() -> d.get()));
    }

    @Test
    void atomicIntegerRace() throws Exception {
        List<CuratorFramework> cs = Rx.clients(3);
        String p = root + "/aint";
        AtomicInteger ok = new AtomicInteger();
        Rx.race(3, 60000, i -> {
            DistributedAtomicInteger d = new DistributedAtomicInteger(cs.get(i),
                p, new RetryNTimes(100, 1));
            for (int k = 0; k < 20; k++) {
                for (int tries = 0; ; tries++) {
                    if (tries > 50)
                        throw new AssertionError("no progress");
                    AtomicValue<Integer> v = d.add(i + 1);
                    if (v.succeeded()) {
                        ok.incrementAndGet();
                        break;
                    }
                }
            }
        });
        DistributedAtomicInteger d = new DistributedAtomicInteger(cs.get(0), p,
            new RetryNTimes(3, 10));
        log("value %d (expected 120), adds %d", d.get().postValue(), ok.get());
        log("raw %d bytes", cs.get(0).getData().forPath(p).length);
        log("cas %s", av(d.compareAndSet(120, -1)));
        log("decrement %s", av(d.decrement()));
    }

    @Test
    void atomicValueBytes() throws Exception {
        CuratorFramework c = curator();
        String p = root + "/v";
        DistributedAtomicValue v = new DistributedAtomicValue(c, p,
            new RetryNTimes(3, 10));
        AtomicValue<byte[]> g = v.get();
        log("get missing %b '%s'", g.succeeded(), s(g.postValue()));
        log("initialize %b", v.initialize(b("abc")));
        AtomicValue<byte[]> r = v.compareAndSet(b("abc"), b("def"));
        log("cas %b '%s'->'%s'", r.succeeded(), s(r.preValue()), s(r.postValue()));
        r = v.compareAndSet(b("abc"), b("ghi"));
        log("cas stale %b", r.succeeded());
        r = v.trySet(b("jkl"));
        log("trySet %b '%s'", r.succeeded(), s(r.postValue()));
    }

    @Test
    void cachedAtomicLongRace() throws Exception {
        List<CuratorFramework> cs = Rx.clients(3);
        String p = root + "/cal";
        Set<Long> all = ConcurrentHashMap.newKeySet();
        AtomicInteger n = new AtomicInteger();
        Rx.race(3, 60000, i -> {
            CachedAtomicLong cal = new CachedAtomicLong(
                new DistributedAtomicLong(cs.get(i), p, new RetryNTimes(200, 1)),
                5);
            for (int k = 0; k < 20; k++) {
                AtomicValue<Long> v = cal.next();
                if (!v.succeeded())
                    throw new AssertionError("next failed");
                all.add(v.postValue());
                n.incrementAndGet();
            }
        });
        log("values %d distinct %d", n.get(), all.size());
        assertThat(all).hasSize(60);
    }
}
