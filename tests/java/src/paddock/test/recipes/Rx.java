package paddock.test.recipes;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;

import paddock.test.Zk;

/** Helpers shared by the Curator recipe cases: racing clients, bounded
 *  waits, path and tree formatting. */
final class Rx {
    private Rx() {
    }

    /** n separate Curator clients (n sessions), closed after the case. */
    static List<CuratorFramework> clients(int n) throws Exception {
        List<CuratorFramework> cs = new ArrayList<>();
        for (int i = 0; i < n; i++)
            cs.add(Zk.curator());
        return cs;
    }

    /** A started Curator client that is not connected through Zk's
     *  factory (connect string, session timeout of our own), closed
     *  after the case. */
    static CuratorFramework curatorAt(String connect, int sessionMs,
            CuratorFrameworkFactory.Builder b) throws Exception {
        CuratorFramework c = b.connectString(connect)
            .retryPolicy(new ExponentialBackoffRetry(100, 5))
            .sessionTimeoutMs(sessionMs).connectionTimeoutMs(15000).build();
        Zk.closeLater(c);
        return c;
    }

    @FunctionalInterface
    interface Body {
        void run(int i) throws Exception;
    }

    /** Runs body(0..n-1) in n threads at once; fails with the first error
     *  or when they do not all finish within timeoutMs. */
    static void race(int n, long timeoutMs, Body body) throws Exception {
        CountDownLatch go = new CountDownLatch(1);
        CountDownLatch done = new CountDownLatch(n);
        AtomicReference<Throwable> err = new AtomicReference<>();
        List<Thread> ts = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            final int k = i;
            Thread t = new Thread(() -> {
                try {
                    go.await();
                    body.run(k);
                } catch (Throwable e) {
                    err.compareAndSet(null, e);
                } finally {
                    done.countDown();
                }
            }, "race-" + i);
            t.setDaemon(true);
            ts.add(t);
            t.start();
        }
        go.countDown();
        boolean ok = done.await(timeoutMs, TimeUnit.MILLISECONDS);
        if (!ok) {
            for (Thread t : ts)
                t.interrupt();
        }
        Throwable e = err.get();
        if (e instanceof Exception)
            throw (Exception) e;
        if (e != null)
            throw new RuntimeException(e);
        if (!ok)
            throw new AssertionError("race did not finish in " + timeoutMs
                                     + " ms");
    }

    @FunctionalInterface
    interface Cond {
        boolean get() throws Exception;
    }

    /** Polls cond every 20 ms until true or ms elapsed; its last value. */
    /** The next event within 10 s, or "timeout". */
    static String take(BlockingQueue<String> q) throws Exception {
        return take(q, 10000);
    }

    /** The next event within ms, or "timeout". */
    static String take(BlockingQueue<String> q, long ms) throws Exception {
        String e = q.poll(ms, TimeUnit.MILLISECONDS);
        return e == null ? "timeout" : e;
    }

    /** What arrives in ms, then until 50 ms pass quietly ("none"). */
    static String rest(BlockingQueue<String> q, long ms) throws Exception {
        List<String> l = new ArrayList<>();
        String e = q.poll(ms, TimeUnit.MILLISECONDS);
        while (e != null) {
            l.add(e);
            e = q.poll(50, TimeUnit.MILLISECONDS);
        }
        return l.isEmpty() ? "none" : l.toString();
    }

    static boolean until(Cond cond, long ms) throws Exception {
        long end = System.nanoTime() + ms * 1_000_000L;
        while (true) {
            if (cond.get())
                return true;
            if (System.nanoTime() > end)
                return false;
            Thread.sleep(20);
        }
    }

    static List<String> sorted(Collection<String> c) {
        List<String> l = new ArrayList<>(c);
        Collections.sort(l);
        return l;
    }

    /** path's children that have children themselves, sorted ([] when
     *  path is gone).  Curator makes a recipe's parents containers, and
     *  the reaper (every second in this suite) takes an empty one at a
     *  moment of its own on either server: whether an empty container
     *  is still listed is timing, not behaviour. */
    static List<String> nonEmptyChildren(CuratorFramework c, String path)
            throws Exception {
        List<String> out = new ArrayList<>();
        for (String ch : childrenOrNone(c, path)) {
            org.apache.zookeeper.data.Stat st =
                c.checkExists().forPath(path + "/" + ch);
            if (st != null && st.getNumChildren() > 0)
                out.add(ch);
        }
        return out;
    }

    /** path's children, sorted; [] when path is gone (an empty
     *  container the reaper took: nonEmptyChildren). */
    static List<String> childrenOrNone(CuratorFramework c, String path)
            throws Exception {
        try {
            return sorted(c.getChildren().forPath(path));
        } catch (KeeperException.NoNodeException e) {
            return new ArrayList<>();
        }
    }

    /** path relative to root ("/a"), "." for root itself. */
    static String rel(String root, String path) {
        if (path == null)
            return "null";
        if (path.equals(root))
            return ".";
        if (path.startsWith(root + "/"))
            return path.substring(root.length());
        return path;
    }

    /** Curator's protected-name UUID replaced by a constant. */
    static String unprotect(String path) {
        return path == null ? "null"
            : path.replaceAll("_c_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-"
                              + "[0-9a-f]{4}-[0-9a-f]{12}-", "_c_UUID-");
    }

    /** The subtree under path (path itself excluded) as "rel=data",
     *  sorted, read with a raw client; empty if path is missing. */
    static Map<String, String> tree(ZooKeeper zk, String path)
            throws Exception {
        Map<String, String> out = new TreeMap<>();
        walk(zk, path, path, out);
        return out;
    }

    private static void walk(ZooKeeper zk, String base, String path,
                             Map<String, String> out) throws Exception {
        List<String> kids;
        try {
            kids = zk.getChildren(path, false);
        } catch (KeeperException.NoNodeException e) {
            return;
        }
        for (String k : kids) {
            String p = path.equals("/") ? "/" + k : path + "/" + k;
            try {
                out.put(p.substring(base.length()),
                        Zk.s(zk.getData(p, false, null)));
            } catch (KeeperException.NoNodeException e) {
                continue;
            }
            walk(zk, base, p, out);
        }
    }

    static String acls(List<ACL> l) {
        if (l == null)
            return "null";
        List<String> out = new ArrayList<>();
        for (ACL a : l)
            out.add(a.getPerms() + ":" + a.getId().getScheme() + ":"
                    + a.getId().getId());
        return out.toString();
    }

    static String code(int rc) {
        try {
            return KeeperException.Code.get(rc).name();
        } catch (RuntimeException e) {
            return String.valueOf(rc);
        }
    }
}
