package paddock.test.recipes;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.cache.ChildData;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheBridge;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.curator.framework.recipes.cache.NodeCache;
import org.apache.curator.framework.recipes.cache.PathChildrenCache;
import org.apache.curator.framework.recipes.cache.PathChildrenCacheEvent;
import org.apache.curator.framework.recipes.cache.TreeCache;
import org.apache.curator.framework.recipes.cache.TreeCacheEvent;
import org.apache.curator.framework.recipes.watch.PersistentWatcher;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;
import org.junit.jupiter.api.Test;

import static paddock.test.recipes.Rx.rest;
import static paddock.test.recipes.Rx.take;

import paddock.test.Zk;

/** CuratorCache and the older path-children, node and tree caches: event
 *  sequences for one writer (each step awaited), convergence for several. */
class CacheTest extends Zk {
    private String cd(ChildData d) {
        if (d == null)
            return "null";
        return Rx.rel(root, d.getPath()) + "=" + (d.getData() == null ? "null"
            : s(d.getData())) + (d.getStat() == null ? ""
            : "@v" + d.getStat().getVersion());
    }

    /** The next n events in arrival order: Curator's caches process one
     *  connection's replies in order, so on one server this order is fixed
     *  (where it follows getChildren, by the server's order of children). */
    private List<String> takeN(BlockingQueue<String> q, int n)
            throws Exception {
        List<String> l = new ArrayList<>();
        for (int i = 0; i < n; i++)
            l.add(take(q));
        return l;
    }

    private CuratorCacheListener recorder(BlockingQueue<String> q) {
        return new CuratorCacheListener() {
            @Override
            public void event(Type type, ChildData oldData, ChildData data) {
                q.add(type + " " + (type == Type.NODE_CREATED ? cd(data)
                    : type == Type.NODE_DELETED ? cd(oldData)
                    : cd(oldData) + " -> " + cd(data)));
            }

            @Override
            public void initialized() {
                q.add("initialized");
            }
        };
    }

    private Map<String, String> cacheTree(CuratorCache c, String base) {
        Map<String, String> m = new TreeMap<>();
        c.stream().forEach(d -> {
            if (!d.getPath().equals(base))
                m.put(d.getPath().substring(base.length()),
                      d.getData() == null ? "null" : s(d.getData()));
        });
        return m;
    }

    @Test
    void curatorCacheSingleWriter() throws Exception {
        CuratorFramework c = curator();
        CuratorFramework w = curator();
        String p = root + "/c";
        BlockingQueue<String> q = new LinkedBlockingQueue<>();
        CuratorCache cache = closeLater(CuratorCache.build(c, p));
        cache.listenable().addListener(recorder(q));
        cache.start();
        log("%s", take(q));
        log("size %d", cache.size());
        w.create().forPath(p, b("root"));
        log("%s", take(q));
        w.create().forPath(p + "/a", b("1"));
        log("%s", take(q));
        w.setData().forPath(p + "/a", b("2"));
        log("%s", take(q));
        w.create().forPath(p + "/a/b", b("3"));
        log("%s", take(q));
        w.setData().forPath(p, b("root2"));
        log("%s", take(q));
        w.create().withMode(CreateMode.EPHEMERAL).forPath(p + "/e", b("e"));
        log("%s", take(q));
        w.setData().forPath(p + "/a/b", b("3"));
        log("%s", take(q));
        w.delete().forPath(p + "/a/b");
        log("%s", take(q));
        w.delete().forPath(p + "/a");
        log("%s", take(q));
        w.transaction().forOperations(
            w.transactionOp().create().forPath(p + "/t1", b("t1")),
            w.transactionOp().create().forPath(p + "/t2", b("t2")),
            w.transactionOp().setData().forPath(p + "/t1", b("t1b")));
        log("txn %s", takeN(q, 2));
        log("txn extra %s", rest(q, 150));
        w.close();
        log("session close %s", take(q));
        log("cache %s", cacheTree(cache, p));
        log("get /c %s", cache.get(p).map(this::cd).orElse("none"));
        CuratorFramework w2 = curator();
        w2.delete().deletingChildrenIfNeeded().forPath(p);
        log("delete all %s", takeN(q, 3));
        log("extra %s", rest(q, 150));
        log("size %d", cache.size());
    }

    @Test
    void curatorCacheInitialLoad() throws Exception {
        CuratorFramework c = curator();
        String p = root + "/c";
        for (String x : new String[] {"", "/a", "/a/b", "/a/b/c", "/d", "/e"})
            c.create().forPath(p + x, b("v" + x));
        BlockingQueue<String> q = new LinkedBlockingQueue<>();
        CuratorCache cache = closeLater(CuratorCache.build(c, p));
        cache.listenable().addListener(recorder(q));
        cache.start();
        log("initial %s", takeN(q, 6));
        log("%s", take(q));
        log("cache %s", cacheTree(cache, p));
        BlockingQueue<String> q2 = new LinkedBlockingQueue<>();
        CuratorCache single = closeLater(CuratorCache.build(c, p + "/a",
            CuratorCache.Options.SINGLE_NODE_CACHE));
        single.listenable().addListener(recorder(q2));
        single.start();
        log("single node %s", take(q2));
        log("single node %s", take(q2));
        c.setData().forPath(p + "/a/b", b("changed"));
        c.setData().forPath(p + "/a", b("changed"));
        log("single node %s", take(q2));
        log("single node extra %s", rest(q2, 150));
        log("single size %d", single.size());
        log("main %s", take(q));
        log("main %s", take(q));
        CuratorCache keep = CuratorCache.build(c, p + "/d",
            CuratorCache.Options.DO_NOT_CLEAR_ON_CLOSE);
        keep.start();
        log("kept loaded %b", Rx.until(() -> keep.size() == 1, 5000));
        keep.close();
        log("kept after close %d", keep.size());
    }

    @Test
    void curatorCacheConverges() throws Exception {
        // one session per cache: a standard watch on a path replaces the
        // session's persistent recursive watch there (ZooKeeper's
        // WatchManager keeps one mode per path and session)
        List<CuratorFramework> rs = Rx.clients(3);
        List<CuratorFramework> ws = Rx.clients(3);
        String p = root + "/t";
        rs.get(0).create().forPath(p, b(""));
        CuratorCache cache = closeLater(CuratorCache.build(rs.get(0), p));
        PathChildrenCache pcc = closeLater(new PathChildrenCache(rs.get(1), p,
                                                                 true));
        TreeCache tc = closeLater(TreeCache.newBuilder(rs.get(2), p).build());
        java.util.concurrent.CountDownLatch ready =
            new java.util.concurrent.CountDownLatch(3);
        cache.listenable().addListener(CuratorCacheListener.builder()
            .forInitialized(ready::countDown).build());
        pcc.getListenable().addListener((cl, e) -> {
            if (e.getType() == PathChildrenCacheEvent.Type.INITIALIZED)
                ready.countDown();
        });
        tc.getListenable().addListener((cl, e) -> {
            if (e.getType() == TreeCacheEvent.Type.INITIALIZED)
                ready.countDown();
        });
        cache.start();
        pcc.start(PathChildrenCache.StartMode.POST_INITIALIZED_EVENT);
        tc.start();
        log("caches initialized: %b", ready.await(10, TimeUnit.SECONDS));
        Rx.race(3, 60000, i -> {
            CuratorFramework w = ws.get(i);
            for (int k = 0; k < 15; k++) {
                String n = p + "/w" + i + "-" + (k % 6);
                if (w.checkExists().forPath(n) == null)
                    w.create().forPath(n, b("c" + k));
                else if (k % 3 == 0)
                    w.delete().deletingChildrenIfNeeded().forPath(n);
                else if (k % 3 == 1)
                    w.create().orSetData().forPath(n + "/sub", b("s" + k));
                else
                    w.setData().forPath(n, b("u" + k));
            }
        });
        ZooKeeper zk = client();
        Map<String, String> truth = Rx.tree(zk, p);
        log("server tree %s", truth);
        boolean conv = Rx.until(() -> cacheTree(cache, p).equals(truth), 5000);
        log("CuratorCache converged: %b", conv);
        if (!conv)
            log("CuratorCache has %s", cacheTree(cache, p));
        Map<String, String> kids = new TreeMap<>();
        for (Map.Entry<String, String> e : truth.entrySet())
            if (e.getKey().lastIndexOf('/') == 0)
                kids.put(e.getKey(), e.getValue());
        log("PathChildrenCache converged: %b", Rx.until(() -> {
            Map<String, String> m = new TreeMap<>();
            for (ChildData d : pcc.getCurrentData())
                m.put(d.getPath().substring(p.length()), s(d.getData()));
            return m.equals(kids);
        }, 5000));
        log("TreeCache converged: %b", Rx.until(() -> {
            Map<String, String> m = new TreeMap<>();
            walkTree(tc, p, p, m);
            return m.equals(truth);
        }, 5000));
    }

    private void walkTree(TreeCache tc, String base, String path,
                          Map<String, String> out) {
        Map<String, ChildData> kids = tc.getCurrentChildren(path);
        if (kids == null)
            return;
        for (Map.Entry<String, ChildData> e : kids.entrySet()) {
            String cp = path + "/" + e.getKey();
            out.put(cp.substring(base.length()), e.getValue() == null
                ? "null" : s(e.getValue().getData()));
            walkTree(tc, base, cp, out);
        }
    }

    @Test
    void curatorCacheCompatibilityListeners() throws Exception {
        CuratorFramework c = curator();
        CuratorFramework w = curator();
        String p = root + "/cc";
        w.create().forPath(p, b("r"));
        w.create().forPath(p + "/pre", b("pre"));
        BlockingQueue<String> all = new LinkedBlockingQueue<>();
        List<String> compat = new ArrayList<>();
        CuratorCacheListener l = CuratorCacheListener.builder()
            .forPathChildrenCache(p, c, (cl, e) -> compat.add("pcc "
                + e.getType() + " " + cd(e.getData())))
            .forTreeCache(c, (cl, e) -> compat.add("tree " + e.getType() + " "
                + cd(e.getData()) + (e.getOldData() == null ? ""
                : " old " + cd(e.getOldData()))))
            .forNodeCache(() -> compat.add("node changed"))
            .forCreates(d -> compat.add("creates " + cd(d)))
            .forChanges((o, n) -> compat.add("changes " + cd(o) + " -> "
                + cd(n)))
            .forCreatesAndChanges((o, n) -> compat.add("createsAndChanges "
                + cd(o) + " -> " + cd(n)))
            .forDeletes(d -> compat.add("deletes " + cd(d)))
            .forInitialized(() -> compat.add("initialized"))
            .forAll(recorder(all))
            .build();
        List<String> afterList = new java.util.concurrent.CopyOnWriteArrayList<>();
        CuratorCacheListener after = CuratorCacheListener.builder()
            .forAll((t, o, n) -> afterList.add("afterInitialized " + t + " "
                + cd(n == null ? o : n)))
            .afterInitialized()
            .build();
        CuratorCache cache = closeLater(CuratorCache.build(c, p));
        cache.listenable().addListener(after);
        cache.listenable().addListener(l);
        cache.start();
        List<String> init = takeN(all, 3);
        log("initial %s", init);
        synchronized (compat) {
            log("initial compat %s", Rx.sorted(compat));
            compat.clear();
        }
        w.create().forPath(p + "/x", b("1"));
        log("%s", take(all));
        w.setData().forPath(p + "/x", b("2"));
        log("%s", take(all));
        w.create().forPath(p + "/x/y", b("3"));
        log("%s", take(all));
        w.delete().forPath(p + "/x/y");
        log("%s", take(all));
        w.setData().forPath(p, b("r2"));
        log("%s", take(all));
        w.delete().deletingChildrenIfNeeded().forPath(p);
        log("%s", takeN(all, 3));
        Thread.sleep(100);
        synchronized (compat) {
            for (String x : compat)
                log("  %s", x);
        }
        for (String x : afterList)
            log("  %s", x);
    }

    @Test
    void curatorCacheInNamespace() throws Exception {
        CuratorFramework c = curator().usingNamespace(root.substring(1)
                                                      + "/ns");
        CuratorFramework w = curator().usingNamespace(root.substring(1)
                                                      + "/ns");
        BlockingQueue<String> q = new LinkedBlockingQueue<>();
        w.create().forPath("/x", b("1"));
        CuratorCache cache = closeLater(CuratorCache.build(c, "/x"));
        cache.listenable().addListener(new CuratorCacheListener() {
            @Override
            public void event(Type type, ChildData o, ChildData d) {
                ChildData x = d == null ? o : d;
                q.add(type + " " + x.getPath() + "=" + s(x.getData()));
            }

            @Override
            public void initialized() {
                q.add("initialized");
            }
        });
        cache.start();
        log("%s", take(q));
        log("%s", take(q));
        w.create().forPath("/x/y", b("2"));
        log("%s", take(q));
        w.setData().forPath("/x", b("3"));
        log("%s", take(q));
        w.delete().deletingChildrenIfNeeded().forPath("/x");
        log("%s", takeN(q, 2));
        log("extra %s", rest(q, 100));
    }

    @Test
    void curatorCacheBridge() throws Exception {
        CuratorFramework c = curator();
        String p = root + "/br";
        c.create().forPath(p, b("r"));
        BlockingQueue<String> q = new LinkedBlockingQueue<>();
        CuratorCacheBridge br = closeLater(CuratorCache.bridgeBuilder(c, p)
            .build());
        br.listenable().addListener(recorder(q));
        br.start();
        log("is CuratorCache %b", br.isCuratorCache());
        log("%s", take(q));
        log("%s", take(q));
        c.create().forPath(p + "/k", b("k"));
        log("%s", take(q));
        log("get %s", br.get(p + "/k").map(this::cd).orElse("none"));
    }

    @SuppressWarnings("deprecation")
    @Test
    void pathChildrenCache() throws Exception {
        CuratorFramework c = curator();
        CuratorFramework w = curator();
        String p = root + "/pcc";
        w.create().forPath(p, b(""));
        w.create().forPath(p + "/pre1", b("1"));
        w.create().forPath(p + "/pre2", b("2"));
        BlockingQueue<String> q = new LinkedBlockingQueue<>();
        PathChildrenCache pcc = closeLater(new PathChildrenCache(c, p, true));
        pcc.getListenable().addListener((cl, e) -> {
            StringBuilder sb = new StringBuilder(e.getType().toString());
            sb.append(" ").append(cd(e.getData()));
            if (e.getType() == PathChildrenCacheEvent.Type.INITIALIZED) {
                List<String> l = new ArrayList<>();
                for (ChildData d : e.getInitialData())
                    l.add(cd(d));
                sb.append(" initial ").append(Rx.sorted(l));
            }
            q.add(sb.toString());
        });
        pcc.start(PathChildrenCache.StartMode.POST_INITIALIZED_EVENT);
        log("initial %s", takeN(q, 2));
        log("%s", take(q));
        w.create().forPath(p + "/a", b("a"));
        log("%s", take(q));
        w.setData().forPath(p + "/a", b("a2"));
        log("%s", take(q));
        w.create().forPath(p + "/a/deep", b("ignored"));
        w.setData().forPath(p + "/pre1", b("1b"));
        log("%s", take(q));
        w.delete().forPath(p + "/pre2");
        log("%s", take(q));
        w.create().withMode(CreateMode.EPHEMERAL_SEQUENTIAL).forPath(p + "/s-",
                                                                     b("s"));
        log("%s", take(q));
        w.close();
        log("session close %s", take(q));
        List<String> cur = new ArrayList<>();
        for (ChildData d : pcc.getCurrentData())
            cur.add(cd(d));
        log("current %s", cur);
        log("current /a %s", cd(pcc.getCurrentData(p + "/a")));
        // the cache may still be refreshing after the child watch of the
        // ephemeral's removal (a rebuild now would race it)
        Thread.sleep(300);
        pcc.clearDataBytes(p + "/a");
        log("cleared bytes %s", cd(pcc.getCurrentData(p + "/a")));
        pcc.rebuild();
        log("rebuilt /a %s", cd(pcc.getCurrentData(p + "/a")));
        log("extra %s", rest(q, 150));
        PathChildrenCache nodata = closeLater(new PathChildrenCache(c, p, false));
        nodata.start(PathChildrenCache.StartMode.BUILD_INITIAL_CACHE);
        List<String> nd = new ArrayList<>();
        for (ChildData d : nodata.getCurrentData())
            nd.add(cd(d));
        log("without data %s", nd);
        PathChildrenCache missing = closeLater(new PathChildrenCache(c,
            root + "/nope", true));
        missing.start(PathChildrenCache.StartMode.BUILD_INITIAL_CACHE);
        log("missing parent %s, parent created %b", missing.getCurrentData(),
            c.checkExists().forPath(root + "/nope") != null);
    }

    @SuppressWarnings("deprecation")
    @Test
    void nodeCache() throws Exception {
        CuratorFramework c = curator();
        CuratorFramework w = curator();
        String p = root + "/n";
        NodeCache nc = closeLater(new NodeCache(c, p));
        BlockingQueue<String> q = new LinkedBlockingQueue<>();
        nc.getListenable().addListener(() -> q.add("changed "
            + cd(nc.getCurrentData())));
        nc.start(true);
        log("initial %s", cd(nc.getCurrentData()));
        w.create().forPath(p, b("1"));
        log("%s", take(q));
        w.setData().forPath(p, b("2"));
        log("%s", take(q));
        w.create().forPath(p + "/child", b("c"));
        log("child ignored %s", rest(q, 150));
        w.delete().deletingChildrenIfNeeded().forPath(p);
        log("%s", take(q));
        w.create().forPath(p, b("3"));
        log("%s", take(q));
        log("extra %s", rest(q, 100));
        w.create().compressed().forPath(p + "/z", b("zipped"));
        NodeCache nc2 = closeLater(new NodeCache(c, p + "/z", true));
        nc2.start(true);
        log("compressed cache %s", cd(nc2.getCurrentData()));
    }

    @SuppressWarnings("deprecation")
    @Test
    void treeCache() throws Exception {
        CuratorFramework c = curator();
        CuratorFramework w = curator();
        String p = root + "/tc";
        w.create().forPath(p, b("r"));
        w.create().forPath(p + "/a", b("a"));
        w.create().forPath(p + "/a/b", b("b"));
        w.create().forPath(p + "/a/b/c", b("c"));
        BlockingQueue<String> q = new LinkedBlockingQueue<>();
        TreeCache tc = closeLater(TreeCache.newBuilder(c, p).setMaxDepth(2)
            .build());
        tc.getListenable().addListener((cl, e) -> {
            if (e.getType() == TreeCacheEvent.Type.CONNECTION_RECONNECTED
                    || e.getType() == TreeCacheEvent.Type.CONNECTION_SUSPENDED
                    || e.getType() == TreeCacheEvent.Type.CONNECTION_LOST)
                q.add(e.getType().toString());
            else
                q.add(e.getType() + " " + cd(e.getData())
                      + (e.getOldData() == null ? "" : " old "
                      + cd(e.getOldData())));
        });
        tc.start();
        log("initial %s", takeN(q, 3));
        log("%s", take(q));
        w.create().forPath(p + "/d", b("d"));
        log("%s", take(q));
        w.setData().forPath(p + "/a/b", b("b2"));
        log("%s", take(q));
        w.setData().forPath(p + "/a/b/c", b("beyond depth"));
        w.create().forPath(p + "/a/b/x", b("beyond depth"));
        log("beyond depth %s", rest(q, 150));
        w.delete().deletingChildrenIfNeeded().forPath(p + "/a");
        log("%s", takeN(q, 2));
        log("children of root %s", tc.getCurrentChildren(p).keySet());
        w.delete().deletingChildrenIfNeeded().forPath(p);
        log("%s", takeN(q, 2));
        log("root data %s", cd(tc.getCurrentData(p)));
        w.create().forPath(p, b("again"));
        log("%s", take(q));
        log("extra %s", rest(q, 100));
    }

    @Test
    void persistentWatcherRecipe() throws Exception {
        CuratorFramework c = curator();
        CuratorFramework w = curator();
        String p = root + "/pw";
        BlockingQueue<String> q = new LinkedBlockingQueue<>();
        PersistentWatcher pw = closeLater(new PersistentWatcher(c, p, true));
        pw.getListenable().addListener(e -> {
            if (e.getType() != Watcher.Event.EventType.None)
                q.add(e.getType() + " " + Rx.rel(root, e.getPath()));
        });
        List<String> resets = new ArrayList<>();
        pw.getResetListenable().addListener(() -> resets.add("reset"));
        pw.start();
        Rx.until(() -> !resets.isEmpty(), 5000);
        log("resets at start %s", resets);
        w.create().forPath(p, b("1"));
        w.create().forPath(p + "/a", b("2"));
        w.setData().forPath(p + "/a", b("3"));
        w.create().withMode(CreateMode.EPHEMERAL).forPath(p + "/a/e", b("4"));
        w.close();
        w = curator();
        w.delete().forPath(p + "/a");
        w.delete().forPath(p);
        List<String> l = new ArrayList<>();
        for (int i = 0; i < 7; i++)
            l.add(take(q));
        log("events %s", l);
        log("extra %s", rest(q, 100));
        PersistentWatcher flat = closeLater(new PersistentWatcher(c, p, false));
        BlockingQueue<String> fq = new LinkedBlockingQueue<>();
        flat.getListenable().addListener(e -> {
            if (e.getType() != Watcher.Event.EventType.None)
                fq.add(e.getType() + " " + Rx.rel(root, e.getPath()));
        });
        flat.start();
        Thread.sleep(100);
        w.create().forPath(p, b("1"));
        w.create().forPath(p + "/a", b("2"));
        w.create().forPath(p + "/a/b", b("2"));
        w.setData().forPath(p, b("3"));
        List<String> f = new ArrayList<>();
        for (int i = 0; i < 3; i++)
            f.add(take(fq));
        log("non-recursive %s", f);
        log("non-recursive extra %s", rest(fq, 100));
    }
}
