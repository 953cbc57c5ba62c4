package paddock.test.recipes;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.api.CuratorWatcher;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.nodes.PersistentNode;
import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.Watcher;
import org.junit.jupiter.api.Test;

import static paddock.test.recipes.Rx.rest;
import static paddock.test.recipes.Rx.take;

import paddock.test.Zk;

/** Curator through a TCP relay that the case cuts: SUSPENDED/RECONNECTED
 *  within the session (watches re-registered with SetWatches), LOST when
 *  the session expires, and how recipes recover. */
class SessionTest extends Zk {
    private CuratorFramework viaProxy(TcpProxy px, int sessionMs,
            BlockingQueue<String> states) throws Exception {
        CuratorFramework c = Rx.curatorAt(px.connect(), sessionMs,
            CuratorFrameworkFactory.builder());
        c.getConnectionStateListenable().addListener((cl, st) ->
            states.add(st.toString()));
        c.start();
        if (!c.blockUntilConnected(20, TimeUnit.SECONDS))
            throw new AssertionError("no connection through the proxy");
        return c;
    }

    @Test
    void suspendedReconnectedKeepsSessionAndWatches() throws Exception {
        TcpProxy px = closeLater(new TcpProxy(CONNECT));
        BlockingQueue<String> states = new LinkedBlockingQueue<>();
        CuratorFramework c = viaProxy(px, 15000, states);
        CuratorFramework o = curator();
        log("%s", take(states, 5000));
        String p = root + "/s";
        o.create().forPath(p, b("0"));
        o.create().forPath(p + "/gone", b("g"));
        o.create().forPath(p + "/re", b("r"));
        o.create().forPath(p + "/still", b("s"));
        c.create().withMode(CreateMode.EPHEMERAL).forPath(p + "/mine", b("m"));
        long sid = c.getZookeeperClient().getZooKeeper().getSessionId();
        BlockingQueue<String> ev = new LinkedBlockingQueue<>();
        CuratorWatcher w = e -> {
            if (e.getType() != Watcher.Event.EventType.None)
                ev.add(e.getType() + " " + Rx.rel(root, e.getPath()));
        };
        c.getData().usingWatcher(w).forPath(p);
        c.getChildren().usingWatcher(w).forPath(p);
        c.checkExists().usingWatcher(w).forPath(p + "/new");
        c.getData().usingWatcher(w).forPath(p + "/gone");
        c.checkExists().usingWatcher(w).forPath(p + "/never");
        c.getData().usingWatcher(w).forPath(p + "/mine");
        c.getData().usingWatcher(w).forPath(p + "/re");
        CuratorWatcher cw = e -> {
            if (e.getType() != Watcher.Event.EventType.None)
                ev.add("child " + e.getType() + " " + Rx.rel(root, e.getPath()));
        };
        c.getChildren().usingWatcher(cw).forPath(p + "/gone");
        c.checkExists().usingWatcher(w).forPath(p + "/still");
        c.getChildren().usingWatcher(cw).forPath(p + "/still");
        BlockingQueue<String> rec = new LinkedBlockingQueue<>();
        c.watchers().add().withMode(AddWatchMode.PERSISTENT_RECURSIVE)
            .usingWatcher((Watcher) e -> {
                if (e.getType() != Watcher.Event.EventType.None)
                    rec.add(e.getType() + " " + Rx.rel(root, e.getPath()));
            }).forPath(root + "/r");
        px.cut();
        log("%s", take(states, 10000));
        o.setData().forPath(p, b("1"));
        o.create().forPath(p + "/new", b("n"));
        o.delete().forPath(p + "/gone");
        o.create().forPath(root + "/r", b("missed"));
        o.delete().forPath(p + "/re");
        o.create().forPath(p + "/re", b("again"));
        o.create().forPath(p + "/still/kid", b("k"));
        Thread.sleep(300);
        log("events while cut %s", rest(ev, 50));
        px.restore();
        log("%s", take(states, 15000));
        log("same session %b",
            c.getZookeeperClient().getZooKeeper().getSessionId() == sid);
        List<String> l = new ArrayList<>();
        for (int i = 0; i < 7; i++)
            l.add(take(ev, 5000));
        log("watches fired on reconnect %s", new java.util.TreeSet<>(l));
        log("extra %s", rest(ev, 200));
        log("ephemeral kept %b", o.checkExists().forPath(p + "/mine") != null);
        log("recursive watch while cut %s", rest(rec, 50));
        o.create().forPath(root + "/r/after", b("a"));
        log("recursive watch after reconnect %s", take(rec, 5000));
        o.create().forPath(p + "/never", b("x"));
        log("exists watch kept %s", take(ev, 5000));
        o.setData().forPath(p + "/mine", b("m2"));
        log("data watch kept %s", take(ev, 5000));
        log("states %s", rest(states, 50));
    }

    @Test
    void sessionExpiryLostAndRecipesRecover() throws Exception {
        TcpProxy px = closeLater(new TcpProxy(CONNECT));
        BlockingQueue<String> states = new LinkedBlockingQueue<>();
        CuratorFramework c = viaProxy(px, 2000, states);
        CuratorFramework o = curator();
        log("%s", take(states, 5000));
        log("negotiated %d", c.getZookeeperClient().getZooKeeper()
            .getSessionTimeout());
        String p = root + "/x";
        c.create().withMode(CreateMode.EPHEMERAL).forPath(p + "-plain", b("e"));
        PersistentNode pn = closeLater(new PersistentNode(c,
            CreateMode.EPHEMERAL, false, p + "-pn", b("pn")));
        pn.start();
        log("persistent node %b", pn.waitForInitialCreate(5, TimeUnit.SECONDS));
        // a persistent latch parent: a container parent would be reaped
        // once the expired session's latch node is gone, and Curator 5.4's
        // latch does not recover from a missing parent
        o.create().forPath(root + "/latch", b(""));
        LeaderLatch latch = closeLater(new LeaderLatch(c, root + "/latch", "a"));
        latch.start();
        log("leader %b", latch.await(5, TimeUnit.SECONDS));
        CuratorCache cache = closeLater(CuratorCache.build(c, root + "/cache"));
        cache.start();
        o.create().forPath(root + "/cache", b("c"));
        log("cache loaded %b", Rx.until(() -> cache.size() == 1, 5000));
        long sid = c.getZookeeperClient().getZooKeeper().getSessionId();
        px.cut();
        log("%s", take(states, 10000));
        Thread.sleep(300);
        log("ephemeral still there 300 ms after the cut: %b",
            o.checkExists().forPath(p + "-plain") != null);
        log("leadership dropped on SUSPENDED %b", Rx.until(() ->
            !latch.hasLeadership(), 2000));
        log("%s", take(states, 15000));
        log("old session's ephemerals removed by the server: %b",
            Rx.until(() -> o.checkExists().forPath(p + "-plain") == null
                && o.checkExists().forPath(p + "-pn") == null, 15000));
        o.create().forPath(root + "/cache/while-lost", b("w"));
        px.restore();
        log("%s", take(states, 15000));
        log("new session %b", c.getZookeeperClient().getZooKeeper()
            .getSessionId() != sid);
        log("plain ephemeral stays gone %b",
            o.checkExists().forPath(p + "-plain") == null);
        log("persistent node recreated %b", Rx.until(() ->
            o.checkExists().forPath(p + "-pn") != null, 10000));
        log("owner is the new session %b", Rx.until(() ->
            o.checkExists().forPath(p + "-pn").getEphemeralOwner()
            == c.getZookeeperClient().getZooKeeper().getSessionId(), 5000));
        log("leader again %b", latch.await(10, TimeUnit.SECONDS));
        log("latch nodes %d", o.getChildren().forPath(root + "/latch").size());
        log("cache converged %b", Rx.until(() -> cache.size() == 2, 10000));
        log("states %s", rest(states, 100));
    }

    @Test
    void latchAndLockAcrossDisconnect() throws Exception {
        TcpProxy px = closeLater(new TcpProxy(CONNECT));
        BlockingQueue<String> states = new LinkedBlockingQueue<>();
        CuratorFramework a = viaProxy(px, 15000, states);
        CuratorFramework bc = curator();
        String lp = root + "/latch";
        log("%s", take(states, 5000));
        LeaderLatch la = closeLater(new LeaderLatch(a, lp, "a"));
        la.start();
        log("a leads %b", la.await(5, TimeUnit.SECONDS));
        LeaderLatch lb = closeLater(new LeaderLatch(bc, lp, "b"));
        lb.start();
        log("b registered %b", Rx.until(() -> lb.getParticipants().size() == 2,
                                        5000));
        InterProcessMutex ma = new InterProcessMutex(a, root + "/lock");
        ma.acquire();
        px.cut();
        log("%s", take(states, 10000));
        log("a lost leadership on SUSPENDED %b", Rx.until(() ->
            !la.hasLeadership(), 5000));
        log("b not leader while a's node exists %b", !lb.hasLeadership());
        InterProcessMutex mb = new InterProcessMutex(bc, root + "/lock");
        log("lock still held by a's session: b acquire %b",
            mb.acquire(300, TimeUnit.MILLISECONDS));
        px.restore();
        log("%s", take(states, 15000));
        log("someone leads after reconnect %b", Rx.until(() ->
            la.hasLeadership() || lb.hasLeadership(), 10000));
        log("a leads %b, b leads %b", la.hasLeadership(), lb.hasLeadership());
        log("participants %d", la.getParticipants().size());
        ma.release();
        log("b acquires after a released %b", mb.acquire(5, TimeUnit.SECONDS));
        mb.release();
        Map<String, String> t = Rx.tree(client(), root + "/lock");
        log("lock nodes left %s", t);
        log("states %s", rest(states, 50));
    }

    @Test
    void protectedCreateWhoseReplyIsLost() throws Exception {
        TcpProxy px = closeLater(new TcpProxy(CONNECT));
        BlockingQueue<String> states = new LinkedBlockingQueue<>();
        CuratorFramework c = viaProxy(px, 15000, states);
        CuratorFramework o = curator();
        log("%s", take(states, 5000));
        String p = root + "/prot";
        o.create().forPath(p);
        BlockingQueue<String> q = new LinkedBlockingQueue<>();
        px.mute();
        c.create().withProtection().withMode(CreateMode.EPHEMERAL_SEQUENTIAL)
            .inBackground((cl, e) -> q.add(e.getType() + " "
                + Rx.code(e.getResultCode()) + " " + Rx.unprotect(
                Rx.rel(root, e.getName())))).forPath(p + "/n-", b("x"));
        c.setData().inBackground((cl, e) -> q.add(e.getType() + " "
            + Rx.code(e.getResultCode()))).forPath(p, b("lost reply"));
        log("created on the server although the reply is lost: %b",
            Rx.until(() -> o.getChildren().forPath(p).size() == 1, 5000));
        log("setData applied: %b", Rx.until(() -> s(o.getData().forPath(p))
            .equals("lost reply"), 5000));
        px.cut();
        log("%s", take(states, 10000));
        px.restore();
        log("%s", take(states, 15000));
        List<String> l = new ArrayList<>();
        l.add(take(q, 15000));
        l.add(take(q, 15000));
        log("callbacks %s", new java.util.TreeSet<>(l));
        List<String> kids = new ArrayList<>();
        for (String k : o.getChildren().forPath(p))
            kids.add(Rx.unprotect(k));
        log("children %s", kids);
        log("version after retried setData %d",
            o.checkExists().forPath(p).getVersion());
    }

    @Test
    void negotiatedSessionTimeouts() throws Exception {
        int[] asked = {500, 1000, 2000, 4000, 39000, 40000, 100000};
        for (int ms : asked) {
            CuratorFramework c = Rx.curatorAt(CONNECT, ms,
                CuratorFrameworkFactory.builder());
            c.start();
            c.blockUntilConnected(10, TimeUnit.SECONDS);
            log("asked %d got %d", ms, c.getZookeeperClient().getZooKeeper()
                .getSessionTimeout());
            c.close();
        }
    }

    @Test
    void idleSessionKeptAliveByPings() throws Exception {
        BlockingQueue<String> states = new LinkedBlockingQueue<>();
        CuratorFramework c = Rx.curatorAt(CONNECT, 1000,
            CuratorFrameworkFactory.builder());
        c.getConnectionStateListenable().addListener((cl, st) ->
            states.add(st.toString()));
        c.start();
        c.blockUntilConnected(10, TimeUnit.SECONDS);
        log("%s negotiated %d", take(states, 5000), c.getZookeeperClient()
            .getZooKeeper().getSessionTimeout());
        c.create().withMode(CreateMode.EPHEMERAL).forPath(root + "/e", b("e"));
        Thread.sleep(2500);
        log("after 2.5 s idle: states %s, ephemeral %b", rest(states, 10),
            curator().checkExists().forPath(root + "/e") != null);
        CuratorFramework ro = Rx.curatorAt(CONNECT, 10000,
            CuratorFrameworkFactory.builder().canBeReadOnly(true));
        BlockingQueue<String> rs = new LinkedBlockingQueue<>();
        ro.getConnectionStateListenable().addListener((cl, st) ->
            rs.add(st.toString()));
        ro.start();
        log("canBeReadOnly client: %s", take(rs, 10000));
        ro.create().forPath(root + "/w", b("w"));
        log("and it can write %s", s(ro.getData().forPath(root + "/w")));
    }

    @Test
    void manyWatchesAcrossReconnect() throws Exception {
        TcpProxy px = closeLater(new TcpProxy(CONNECT));
        BlockingQueue<String> states = new LinkedBlockingQueue<>();
        CuratorFramework c = viaProxy(px, 20000, states);
        CuratorFramework o = curator();
        log("%s", take(states, 5000));
        String p = root + "/a-rather-long-directory-name-to-fill-setwatches";
        o.create().forPath(p);
        int n = 3000;
        java.util.concurrent.CountDownLatch set =
            new java.util.concurrent.CountDownLatch(n);
        java.util.Set<String> fired =
            java.util.concurrent.ConcurrentHashMap.newKeySet();
        CuratorWatcher w = e -> {
            if (e.getType() != Watcher.Event.EventType.None)
                fired.add(e.getType() + " " + e.getPath().substring(
                    p.length()));
        };
        for (int i = 0; i < n; i++)
            c.checkExists().usingWatcher(w).inBackground((cl, e) ->
                set.countDown()).forPath(String.format("%s/node-%05d", p, i));
        log("%d exists watches set: %b", n, set.await(20, TimeUnit.SECONDS));
        px.cut();
        log("%s", take(states, 10000));
        for (int i = 0; i < n; i += 500)
            o.create().forPath(String.format("%s/node-%05d", p, i));
        px.restore();
        log("%s", take(states, 15000));
        log("all 6 fired on reconnect: %b", Rx.until(() -> fired.size() == 6,
                                                     10000));
        for (int i = 250; i < n; i += 500)
            o.create().forPath(String.format("%s/node-%05d", p, i));
        log("6 more fired after: %b", Rx.until(() -> fired.size() == 12,
                                              10000));
        log("fired %s", new java.util.TreeSet<>(fired));
        log("states %s", rest(states, 50));
    }

    @Test
    void backgroundOpRetriedAcrossDisconnect() throws Exception {
        TcpProxy px = closeLater(new TcpProxy(CONNECT));
        BlockingQueue<String> states = new LinkedBlockingQueue<>();
        CuratorFramework c = viaProxy(px, 15000, states);
        CuratorFramework o = curator();
        log("%s", take(states, 5000));
        px.cut();
        log("%s", take(states, 5000));
        BlockingQueue<String> q = new LinkedBlockingQueue<>();
        c.create().inBackground((cl, e) -> q.add(e.getType() + " "
            + Rx.code(e.getResultCode()) + " " + Rx.rel(root, e.getName())))
            .forPath(root + "/bg", b("1"));
        c.delete().guaranteed().inBackground((cl, e) -> q.add(e.getType() + " "
            + Rx.code(e.getResultCode()))).forPath(root + "/pre");
        Thread.sleep(200);
        px.restore();
        log("%s", take(states, 15000));
        List<String> l = new ArrayList<>();
        l.add(take(q, 15000));
        l.add(take(q, 15000));
        log("background results %s", new java.util.TreeSet<>(l));
        Map<String, String> tree = new TreeMap<>(Rx.tree(client(), root));
        log("tree %s", tree);
        log("states %s", rest(states, 50));
    }
}
