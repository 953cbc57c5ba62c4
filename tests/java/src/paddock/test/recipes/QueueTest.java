package paddock.test.recipes;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.queue.DistributedDelayQueue;
import org.apache.curator.framework.recipes.queue.DistributedIdQueue;
import org.apache.curator.framework.recipes.queue.DistributedPriorityQueue;
import org.apache.curator.framework.recipes.queue.DistributedQueue;
import org.apache.curator.framework.recipes.queue.ErrorMode;
import org.apache.curator.framework.recipes.queue.QueueBuilder;
import org.apache.curator.framework.recipes.queue.QueueConsumer;
import org.apache.curator.framework.recipes.queue.QueuePutListener;
import org.apache.curator.framework.recipes.queue.QueueSerializer;
import org.apache.curator.framework.recipes.queue.SimpleDistributedQueue;
import org.apache.curator.framework.state.ConnectionState;
import org.junit.jupiter.api.Test;

import paddock.test.Zk;

/** Distributed, priority, delay, id and simple queues: several producers
 *  and consumers (sessions), each item consumed exactly once, order where
 *  the recipe promises one. */
class QueueTest extends Zk {
    static final QueueSerializer<String> SER = new QueueSerializer<String>() {
        @Override
        public byte[] serialize(String item) {
            return b(item);
        }

        @Override
        public String deserialize(byte[] bytes) {
            return s(bytes);
        }
    };

    interface Sink {
        void take(String item) throws Exception;
    }

    static QueueConsumer<String> consumer(Sink sink) {
        return new QueueConsumer<String>() {
            @Override
            public void consumeMessage(String message) throws Exception {
                sink.take(message);
            }

            @Override
            public void stateChanged(CuratorFramework c, ConnectionState s) {
            }
        };
    }

    private void racingQueue(String lockPath) throws Exception {
        int producers = 2;
        int consumers = 3;
        int per = 25;
        List<CuratorFramework> cs = Rx.clients(producers + consumers);
        String p = root + "/q";
        Map<String, AtomicInteger> seen = new ConcurrentHashMap<>();
        AtomicInteger total = new AtomicInteger();
        for (int i = 0; i < consumers; i++) {
            QueueBuilder<String> qb = QueueBuilder.builder(cs.get(producers + i),
                consumer(m -> {
                    seen.computeIfAbsent(m, k -> new AtomicInteger())
                        .incrementAndGet();
                    total.incrementAndGet();
                }), SER, p);
            if (lockPath != null)
                qb.lockPath(lockPath);
            DistributedQueue<String> q = closeLater(qb.buildQueue());
            q.start();
        }
        Rx.race(producers, 30000, i -> {
            DistributedQueue<String> q = closeLater(QueueBuilder.builder(
                cs.get(i), null, SER, p).buildQueue());
            q.start();
            for (int k = 0; k < per; k++)
                q.put("p" + i + "-" + k);
        });
        int want = producers * per;
        log("all consumed: %b", Rx.until(() -> total.get() >= want, 20000));
        Thread.sleep(200);
        boolean once = seen.size() == want;
        for (AtomicInteger n : seen.values())
            once &= n.get() == 1;
        log("consumed %d, distinct %d, every item consumed once: %b",
            total.get(), seen.size(), once);
        log("queue empty: %b", Rx.until(() -> cs.get(0).getChildren()
            .forPath(p).isEmpty(), 5000));
        if (lockPath != null)
            log("lock nodes left %s", Rx.childrenOrNone(cs.get(0), lockPath));
        assertThat(once).isTrue();
    }

    @Test
    void distributedQueueRace() throws Exception {
        racingQueue(null);
    }

    @Test
    void distributedQueueLockSafetyRace() throws Exception {
        racingQueue(root + "/locks");
    }

    @Test
    void distributedQueueOrderAndNodes() throws Exception {
        CuratorFramework c = curator();
        String p = root + "/q";
        DistributedQueue<String> prod = closeLater(QueueBuilder.builder(c, null,
            SER, p).putInBackground(false).buildQueue());
        prod.start();
        List<String> puts = Collections.synchronizedList(new ArrayList<>());
        prod.getPutListenerContainer().addListener(new QueuePutListener<String>() {
            @Override
            public void putCompleted(String item) {
                puts.add(item);
            }

            @Override
            public void putMultiCompleted(
                    org.apache.curator.framework.recipes.queue.MultiItem<String> items) {
                puts.add("multi");
            }
        });
        for (int i = 0; i < 5; i++)
            prod.put("i" + i);
        prod.putMulti(() -> null);
        List<String> multi = new ArrayList<>(Arrays.asList("m0", "m1", "m2"));
        prod.putMulti(() -> multi.isEmpty() ? null : multi.remove(0));
        log("put listener: all 7 reported %b", Rx.until(() -> puts.size() == 7,
                                                    5000));
        synchronized (puts) {
            log("put listener %s", puts);
        }
        List<String> nodes = Rx.sorted(c.getChildren().forPath(p));
        log("nodes %s", nodes);
        log("last node data length %d", c.getData().forPath(p + "/"
            + nodes.get(nodes.size() - 1)).length);
        log("message count %d", prod.getLastMessageCount());
        List<String> got = Collections.synchronizedList(new ArrayList<>());
        CuratorFramework c2 = curator();
        DistributedQueue<String> cons = closeLater(QueueBuilder.builder(c2,
            consumer(got::add), SER, p).buildQueue());
        cons.start();
        log("consumed 8: %b", Rx.until(() -> got.size() == 8, 10000));
        log("order %s", got);
        DistributedQueue<String> bounded = closeLater(QueueBuilder.builder(c,
            null, SER, root + "/bounded").maxItems(2).putInBackground(false)
            .buildQueue());
        bounded.start();
        log("bounded put 1 %b", bounded.put("a", 1, TimeUnit.SECONDS));
        log("bounded put 2 %b", bounded.put("b", 1, TimeUnit.SECONDS));
        Thread.sleep(300);
        log("bounded put 3 %b", bounded.put("c", 300, TimeUnit.MILLISECONDS));
    }

    @Test
    void distributedQueueRequeueOnError() throws Exception {
        CuratorFramework c = curator();
        String p = root + "/q";
        DistributedQueue<String> prod = closeLater(QueueBuilder.builder(c, null,
            SER, p).putInBackground(false).buildQueue());
        prod.start();
        prod.put("a");
        prod.put("bad");
        prod.put("b");
        List<String> got = Collections.synchronizedList(new ArrayList<>());
        AtomicBoolean failed = new AtomicBoolean();
        CuratorFramework c2 = curator();
        DistributedQueue<String> cons = closeLater(QueueBuilder.builder(c2,
            consumer(m -> {
                if (m.equals("bad") && failed.compareAndSet(false, true)) {
                    got.add("bad!");
                    throw new Exception("first attempt fails");
                }
                got.add(m);
            }), SER, p).lockPath(root + "/lock").buildQueue());
        cons.setErrorMode(ErrorMode.REQUEUE);
        cons.start();
        log("consumed: %b", Rx.until(() -> got.size() == 4, 10000));
        log("order %s", got);
        log("queue empty: %b", Rx.until(() -> c.getChildren().forPath(p)
            .isEmpty(), 5000));
        // DELETE mode: a failed item is dropped
        failed.set(false);
        got.clear();
        cons.setErrorMode(ErrorMode.DELETE);
        prod.put("bad");
        prod.put("c");
        log("consumed: %b", Rx.until(() -> got.contains("c"), 10000));
        Thread.sleep(200);
        log("order %s", got);
    }

    @Test
    void priorityQueue() throws Exception {
        CuratorFramework c = curator();
        String p = root + "/pq";
        DistributedPriorityQueue<String> prod = closeLater(QueueBuilder
            .builder(c, null, SER, p).putInBackground(false)
            .buildPriorityQueue(0));
        prod.start();
        int[] prios = {5, 1, 3, -2, 10, 0, 3, -7};
        for (int i = 0; i < prios.length; i++)
            prod.put("item" + i + "@" + prios[i], prios[i]);
        List<String> nodes = new ArrayList<>();
        for (String n : c.getChildren().forPath(p))
            nodes.add(n);
        log("node count %d", nodes.size());
        List<String> got = Collections.synchronizedList(new ArrayList<>());
        CuratorFramework c2 = curator();
        DistributedPriorityQueue<String> cons = closeLater(QueueBuilder
            .builder(c2, consumer(got::add), SER, p).buildPriorityQueue(0));
        cons.start();
        log("consumed: %b", Rx.until(() -> got.size() == prios.length, 10000));
        log("order %s", got);
    }

    @Test
    void priorityQueueRace() throws Exception {
        List<CuratorFramework> cs = Rx.clients(4);
        String p = root + "/pq";
        Map<String, AtomicInteger> seen = new ConcurrentHashMap<>();
        AtomicInteger total = new AtomicInteger();
        for (int i = 2; i < 4; i++) {
            DistributedPriorityQueue<String> q = closeLater(QueueBuilder.builder(
                cs.get(i), consumer(m -> {
                    seen.computeIfAbsent(m, k -> new AtomicInteger())
                        .incrementAndGet();
                    total.incrementAndGet();
                }), SER, p).buildPriorityQueue(1));
            q.start();
        }
        Rx.race(2, 30000, i -> {
            DistributedPriorityQueue<String> q = closeLater(QueueBuilder.builder(
                cs.get(i), null, SER, p).buildPriorityQueue(1));
            q.start();
            for (int k = 0; k < 20; k++)
                q.put("p" + i + "-" + k, k % 4);
        });
        log("all consumed: %b", Rx.until(() -> total.get() >= 40, 20000));
        Thread.sleep(200);
        boolean once = seen.size() == 40;
        for (AtomicInteger n : seen.values())
            once &= n.get() == 1;
        log("every item consumed once: %b", once);
    }

    @Test
    void delayQueue() throws Exception {
        CuratorFramework c = curator();
        CuratorFramework c2 = curator();
        String p = root + "/dq";
        Map<String, Long> due = new ConcurrentHashMap<>();
        List<String> got = Collections.synchronizedList(new ArrayList<>());
        AtomicBoolean early = new AtomicBoolean();
        DistributedDelayQueue<String> cons = closeLater(QueueBuilder.builder(c2,
            consumer(m -> {
                if (System.currentTimeMillis() < due.get(m))
                    early.set(true);
                got.add(m);
            }), SER, p).buildDelayQueue());
        cons.start();
        DistributedDelayQueue<String> prod = closeLater(QueueBuilder.builder(c,
            null, SER, p).putInBackground(false).buildDelayQueue());
        prod.start();
        long now = System.currentTimeMillis();
        String[] names = {"late", "mid", "now", "past"};
        long[] at = {now + 900, now + 450, now, now - 10000};
        for (int i = 0; i < names.length; i++) {
            due.put(names[i], at[i]);
            prod.put(names[i], at[i]);
        }
        log("consumed: %b", Rx.until(() -> got.size() == 4, 10000));
        List<String> firstTwo = Rx.sorted(got.subList(0, 2));
        log("order %s then %s", firstTwo, got.subList(2, 4));
        log("delayed item consumed before its time: %b", early.get());
    }

    @Test
    void idQueue() throws Exception {
        CuratorFramework c = curator();
        String p = root + "/iq";
        DistributedIdQueue<String> prod = closeLater(QueueBuilder.builder(c,
            null, SER, p).putInBackground(false).buildIdQueue());
        prod.start();
        prod.put("first", "id1");
        prod.put("second", "id2");
        prod.put("third", "id3");
        prod.put("second-again", "id2");
        log("remove id2: %d", prod.remove("id2"));
        log("remove id2 again: %d", prod.remove("id2"));
        log("remove missing: %d", prod.remove("nope"));
        log("bad id: %s", code(() -> prod.put("x", "a|b")));
        List<String> nodes = new ArrayList<>();
        for (String n : c.getChildren().forPath(p))
            nodes.add(n.replaceAll("[0-9]{10}$", "N"));
        log("nodes %s", Rx.sorted(nodes));
        List<String> got = Collections.synchronizedList(new ArrayList<>());
        CuratorFramework c2 = curator();
        DistributedIdQueue<String> cons = closeLater(QueueBuilder.builder(c2,
            consumer(got::add), SER, p).buildIdQueue());
        cons.start();
        log("consumed: %b", Rx.until(() -> got.size() == 3, 10000));
        log("order %s", got);
    }

    @Test
    void simpleQueueRace() throws Exception {
        List<CuratorFramework> cs = Rx.clients(5);
        String p = root + "/sq";
        Map<String, AtomicInteger> seen = new ConcurrentHashMap<>();
        AtomicInteger total = new AtomicInteger();
        int want = 50;
        Rx.race(5, 60000, i -> {
            SimpleDistributedQueue q = new SimpleDistributedQueue(cs.get(i), p);
            if (i < 2) {
                for (int k = 0; k < want / 2; k++)
                    if (!q.offer(b("p" + i + "-" + k)))
                        throw new AssertionError("offer failed");
                return;
            }
            long end = System.currentTimeMillis() + 30000;
            while (total.get() < want && System.currentTimeMillis() < end) {
                byte[] m = q.poll(200, TimeUnit.MILLISECONDS);
                if (m != null) {
                    seen.computeIfAbsent(s(m), k -> new AtomicInteger())
                        .incrementAndGet();
                    total.incrementAndGet();
                }
            }
        });
        boolean once = seen.size() == want;
        for (AtomicInteger n : seen.values())
            once &= n.get() == 1;
        log("consumed %d, every item consumed once: %b", total.get(), once);
        log("queue empty %s", cs.get(0).getChildren().forPath(p));
        assertThat(once).isTrue();
    }

    @Test
    void simpleQueueSemantics() throws Exception {
        CuratorFramework c = curator();
        CuratorFramework c2 = curator();
        String p = root + "/sq";
        SimpleDistributedQueue q = new SimpleDistributedQueue(c, p);
        SimpleDistributedQueue q2 = new SimpleDistributedQueue(c2, p);
        log("peek empty %s", q.peek() == null ? "null" : "item");
        log("poll empty %s", q.poll() == null ? "null" : "item");
        log("element empty: %s", code(q::element));
        log("remove empty: %s", code(q::remove));
        long t0 = System.nanoTime();
        byte[] none = q.poll(300, TimeUnit.MILLISECONDS);
        log("timed poll empty %s, waited >= 250ms %b", none == null ? "null"
            : "item", System.nanoTime() - t0 >= 250_000_000L);
        for (int i = 0; i < 6; i++)
            q.offer(b("m" + i));
        log("nodes %s", Rx.sorted(c.getChildren().forPath(p)));
        log("peek %s element %s", s(q2.peek()), s(q2.element()));
        List<String> got = new ArrayList<>();
        got.add(s(q2.take()));
        got.add(s(q2.remove()));
        got.add(s(q2.poll()));
        got.add(s(q2.poll(1, TimeUnit.SECONDS)));
        got.add(s(q.take()));
        got.add(s(q.take()));
        log("FIFO %s", got);
        BlockingQueue<String> taken = new LinkedBlockingQueue<>();
        Thread t = new Thread(() -> {
            try {
                taken.add(s(q2.take()));
            } catch (Exception e) {
                taken.add("error " + e);
            }
        });
        t.setDaemon(true);
        t.start();
        Thread.sleep(200);
        log("take blocked while empty: %b", taken.isEmpty());
        q.offer(b("late"));
        String l = taken.poll(5, TimeUnit.SECONDS);
        log("take after offer %s", l);
    }
}
