package paddock.test.client;

import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;

import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.AsyncCallback;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;
import org.junit.jupiter.api.Test;

/** Every async variant: the callbacks' rc, path, ctx and results, in the
 *  order the client delivers them (which is the order of the requests). */
class AsyncTest extends ClientBase {
    static final long HOUR = 3_600_000L;

    /** Callback factories recording into one Rec. */
    final class Cb {
        final Rec r;

        Cb(Rec r) {
            this.r = r;
        }

        String rc(int rc) {
            return codeName(rc);
        }

        AsyncCallback.StringCallback str() {
            return (rc, path, ctx, name) -> r.add("%s string rc=%s path=%s name=%s",
                ctx, rc(rc), p(path), p(name));
        }

        AsyncCallback.Create2Callback create2() {
            return (rc, path, ctx, name, stat) -> r.add(
                "%s create2 rc=%s path=%s name=%s stat=%s", ctx, rc(rc), p(path),
                p(name), st(stat));
        }

        AsyncCallback.StatCallback stat() {
            return (rc, path, ctx, stat) -> r.add("%s stat rc=%s path=%s stat=%s",
                ctx, rc(rc), p(path), st(stat));
        }

        AsyncCallback.VoidCallback vd() {
            return (rc, path, ctx) -> r.add("%s void rc=%s path=%s", ctx, rc(rc),
                p(path));
        }

        AsyncCallback.DataCallback data() {
            return (rc, path, ctx, data, stat) -> r.add(
                "%s data rc=%s path=%s data=%s stat=%s", ctx, rc(rc), p(path),
                s(data), st(stat));
        }

        AsyncCallback.ChildrenCallback children() {
            return (rc, path, ctx, ch) -> r.add("%s children rc=%s path=%s %s", ctx,
                rc(rc), p(path), kids(ch));
        }

        AsyncCallback.Children2Callback children2() {
            return (rc, path, ctx, ch, stat) -> r.add(
                "%s children2 rc=%s path=%s %s stat=%s", ctx, rc(rc), p(path),
                kids(ch), st(stat));
        }

        AsyncCallback.ACLCallback acls() {
            return (rc, path, ctx, a, stat) -> r.add("%s acl rc=%s path=%s %s stat=%s",
                ctx, rc(rc), p(path), acl(a), st(stat));
        }

        AsyncCallback.AllChildrenNumberCallback count() {
            return (rc, path, ctx, n) -> r.add("%s count rc=%s path=%s n=%d", ctx,
                rc(rc), p(path), n);
        }

        AsyncCallback.EphemeralsCallback ephemerals() {
            return (rc, ctx, l) -> r.add("%s ephemerals rc=%s %s", ctx, rc(rc),
                paths(l));
        }

        AsyncCallback.MultiCallback multi() {
            return (rc, path, ctx, rs) -> {
                StringBuilder sb = new StringBuilder();
                if (rs != null)
                    for (org.apache.zookeeper.OpResult o : rs)
                        sb.append(" [").append(res(o)).append("]");
                r.add("%s multi rc=%s path=%s%s", ctx, rc(rc), p(path),
                      rs == null ? " null" : sb.toString());
            };
        }
    }

    /** Issues every op without waiting, then logs all callbacks in order. */
    @Test
    void everyOpPipelined() throws Exception {
        ZooKeeper zk = client();
        Rec r = new Rec();
        Cb cb = new Cb(r);
        String a = root + "/a", b2 = root + "/b", t = root + "/t";
        zk.create(a, b("1"), OPEN, CreateMode.PERSISTENT, cb.str(), "c1");
        zk.create(b2, b("2"), OPEN, CreateMode.PERSISTENT, cb.create2(), "c2");
        zk.create(t, b("3"), OPEN, CreateMode.PERSISTENT_WITH_TTL, cb.create2(),
                  "c3", HOUR);
        zk.create(root + "/s-", b(""), OPEN, CreateMode.EPHEMERAL_SEQUENTIAL,
                  cb.create2(), "c4");
        zk.create(root + "/s-", b(""), OPEN, CreateMode.EPHEMERAL_SEQUENTIAL,
                  cb.str(), "c5");
        zk.create(root + "/k", b(""), OPEN, CreateMode.CONTAINER, cb.create2(),
                  "c6");
        zk.create(a, b(""), OPEN, CreateMode.PERSISTENT, cb.str(), "e1");
        zk.create(a, b(""), OPEN, CreateMode.PERSISTENT, cb.create2(), "e2");
        zk.create(root + "/no/x", b(""), OPEN, CreateMode.PERSISTENT,
                  cb.create2(), "e3");
        zk.exists(a, false, cb.stat(), "x1");
        zk.exists(root + "/missing", false, cb.stat(), "x2");
        zk.getData(a, false, cb.data(), "g1");
        zk.getData(root + "/missing", false, cb.data(), "g2");
        zk.setData(a, b("one"), 0, cb.stat(), "s1");
        zk.setData(a, b("two"), 0, cb.stat(), "s2");
        zk.setData(a, b("two"), -1, cb.stat(), "s3");
        zk.setData(root + "/missing", b(""), -1, cb.stat(), "s4");
        zk.getData(a, false, cb.data(), "g3");
        zk.getChildren(root, false, cb.children(), "l1");
        zk.getChildren(root, false, cb.children2(), "l2");
        zk.getChildren(root + "/missing", false, cb.children(), "l3");
        zk.getChildren(root + "/missing", false, cb.children2(), "l4");
        zk.getACL(a, new Stat(), cb.acls(), "a1");
        zk.getACL(root + "/missing", new Stat(), cb.acls(), "a2");
        zk.setACL(a, ZooDefs.Ids.OPEN_ACL_UNSAFE, 0, cb.stat(), "a3");
        zk.setACL(a, ZooDefs.Ids.OPEN_ACL_UNSAFE, 0, cb.stat(), "a4");
        zk.setACL(root + "/missing", OPEN, -1, cb.stat(), "a5");
        zk.getACL(a, new Stat(), cb.acls(), "a6");
        zk.getAllChildrenNumber(root, cb.count(), "n1");
        zk.getAllChildrenNumber(root + "/missing", cb.count(), "n2");
        zk.getEphemerals(root, cb.ephemerals(), "p1");
        zk.getEphemerals(cb.ephemerals(), "p2");
        zk.getEphemerals(root + "/nothing", cb.ephemerals(), "p3");
        zk.sync(root, cb.vd(), "y1");
        zk.sync(root + "/missing", cb.vd(), "y2");
        zk.delete(b2, 0, cb.vd(), "d1");
        zk.delete(b2, -1, cb.vd(), "d2");
        zk.delete(a, 7, cb.vd(), "d3");
        zk.delete(root, -1, cb.vd(), "d4");
        zk.addWatch(a, AddWatchMode.PERSISTENT, cb.vd(), "w1");
        zk.addWatch(root + "/missing", r.w("pw"), AddWatchMode.PERSISTENT_RECURSIVE,
                    cb.vd(), "w2");
        zk.removeAllWatches(a, Watcher.WatcherType.Any, false, cb.vd(), "w3");
        zk.removeAllWatches(a, Watcher.WatcherType.Data, false, cb.vd(), "w4");
        Watcher never = e -> { };
        zk.removeWatches(a, never, Watcher.WatcherType.Data, false, cb.vd(), "w5");
        zk.multi(Arrays.asList(Op.create(root + "/m", b(""), OPEN,
                                         CreateMode.PERSISTENT),
                               Op.setData(root + "/m", b("m"), 0),
                               Op.check(a, 2)), cb.multi(), "m1");
        zk.multi(Arrays.asList(Op.create(root + "/m2", b(""), OPEN,
                                         CreateMode.PERSISTENT),
                               Op.delete(root + "/nope", -1)), cb.multi(), "m2");
        zk.multi(Arrays.asList(Op.getData(a), Op.getChildren(root + "/m"),
                               Op.getData(root + "/nope")), cb.multi(), "m3");
        zk.transaction().setData(a, b("tx"), 2).delete(root + "/m", -1)
            .commit(cb.multi(), "m4");
        zk.exists(a, false, cb.stat(), "x3");
        zk.getChildren(root, false, cb.children2(), "l5");
        CountDownLatch done = new CountDownLatch(1);
        zk.sync("/", (rc, path, ctx) -> done.countDown(), null);
        await(done, 20);
        for (String s : r.drain(zk))
            log("%s", s);
    }

    /** Watch events and callbacks of one session, in delivery order: an
     *  event comes before the reply of the request that triggered it. */
    @Test
    void eventsBeforeReplies() throws Exception {
        ZooKeeper zk = client();
        Rec r = new Rec();
        Cb cb = new Cb(r);
        Watcher w = r.w("W");
        String a = root + "/a", c = root + "/c";
        zk.create(a, b("a"), OPEN, CreateMode.PERSISTENT);
        zk.getData(a, w, cb.data(), "get");
        zk.setData(a, b("b"), -1, cb.stat(), "set");
        zk.exists(c, w, cb.stat(), "exists");
        zk.create(c, b(""), OPEN, CreateMode.PERSISTENT, cb.str(), "create");
        zk.getChildren(root, w, cb.children(), "children");
        zk.exists(c, w, cb.stat(), "exists2");
        zk.delete(c, -1, cb.vd(), "delete");
        zk.getData(a, w, cb.data(), "get2");
        zk.getChildren(a, w, cb.children(), "children2");
        zk.multi(Arrays.asList(Op.create(a + "/x", b(""), OPEN, CreateMode.PERSISTENT),
                               Op.setData(a, b("c"), -1)), cb.multi(), "multi");
        zk.getData(a, w, cb.data(), "get3");
        zk.sync(a, cb.vd(), "sync");
        zk.delete(a + "/x", -1, cb.vd(), "delx");
        zk.delete(a, -1, cb.vd(), "dela");
        for (String s : r.drain(zk))
            log("%s", s);
    }

    /** Many interleaved writes and reads on one session: replies in
     *  request order, every read sees every earlier write. */
    @Test
    void fifoOrder() throws Exception {
        ZooKeeper zk = client();
        Rec r = new Rec();
        String a = root + "/a";
        zk.create(a, b("0"), OPEN, CreateMode.PERSISTENT);
        for (int i = 1; i <= 40; i++) {
            final int n = i;
            zk.setData(a, b("" + i), -1, (rc, path, ctx, stat) -> r.add(
                "set %d rc=%s version=%d", n, codeName(rc),
                stat == null ? -1 : stat.getVersion()), null);
            zk.getData(a, false, (rc, path, ctx, data, stat) -> r.add(
                "get %d rc=%s data=%s version=%d", n, codeName(rc), s(data),
                stat == null ? -1 : stat.getVersion()), null);
            if (i % 10 == 0)
                zk.create(a + "/c" + i, b(""), OPEN, CreateMode.PERSISTENT,
                    (rc, path, ctx, name) -> r.add("create %s rc=%s", p(name),
                                                   codeName(rc)), null);
        }
        zk.getChildren(a, false, (rc, path, ctx, ch) -> r.add("children %s",
                                                             kids(ch)), null);
        List<String> got = r.drain(zk);
        for (String s : got)
            log("%s", s);
        log("final %s", st(zk.exists(a, false)));
    }

    /** Several sessions racing: record only the race's invariants. */
    @Test
    void racingSessions() throws Exception {
        int clients = 4, each = 25;
        List<ZooKeeper> zks = new java.util.ArrayList<>();
        for (int i = 0; i < clients; i++)
            zks.add(client());
        java.util.Set<String> names =
            java.util.Collections.synchronizedSet(new java.util.TreeSet<>());
        List<String> winners = java.util.Collections.synchronizedList(
            new java.util.ArrayList<>());
        List<String> bad = java.util.Collections.synchronizedList(
            new java.util.ArrayList<>());
        CountDownLatch done = new CountDownLatch(clients * each + clients);
        for (int i = 0; i < clients; i++) {
            ZooKeeper zk = zks.get(i);
            final int who = i;
            zk.create(root + "/one", b("" + i), OPEN, CreateMode.EPHEMERAL,
                (rc, path, ctx, name) -> {
                    if (rc == 0)
                        winners.add("" + who);
                    else if (rc != KeeperException.Code.NODEEXISTS.intValue())
                        bad.add(codeName(rc));
                    done.countDown();
                }, null);
            for (int j = 0; j < each; j++)
                zk.create(root + "/q-", b(""), OPEN, CreateMode.PERSISTENT_SEQUENTIAL,
                    (rc, path, ctx, name) -> {
                        if (rc == 0)
                            names.add(name.substring(root.length()));
                        else
                            bad.add(codeName(rc));
                        done.countDown();
                    }, null);
        }
        await(done, 30);
        log("errors %s", bad);
        log("one winner: %d", winners.size());
        log("owner is the winner: %b", winners.size() == 1
            && s(zks.get(0).getData(root + "/one", false, null)).equals(winners.get(0)));
        java.util.List<String> l = new java.util.ArrayList<>(names);
        log("distinct names %d first %s last %s", l.size(), l.get(0),
            l.get(l.size() - 1));
        Stat s = new Stat();
        zks.get(0).getChildren(root, false, s);
        log("root %s", stat(s).replaceAll("pzxid=\\S+ ", ""));
    }

    @Test
    void chrootCallbacks() throws Exception {
        ZooKeeper c = new ZooKeeper(CONNECT + root, 30000, e -> { });
        closeLater(c::close);
        Rec r = new Rec();
        Cb cb = new Cb(r);
        c.create("/a", b("a"), OPEN, CreateMode.PERSISTENT, cb.create2(), "c1");
        c.create("/a/s-", b(""), OPEN, CreateMode.EPHEMERAL_SEQUENTIAL, cb.str(), "c2");
        c.exists("/a", false, cb.stat(), "x1");
        c.getData("/nope", false, cb.data(), "g1");
        c.getChildren("/", false, cb.children2(), "l1");
        c.getEphemerals("/", cb.ephemerals(), "p1");
        c.getAllChildrenNumber("/", cb.count(), "n1");
        c.sync("/a", cb.vd(), "y1");
        c.multi(Arrays.asList(Op.create("/b", b(""), OPEN, CreateMode.PERSISTENT),
                              Op.delete("/nope", -1)), cb.multi(), "m1");
        c.multi(Arrays.asList(Op.create("/b", b(""), OPEN, CreateMode.PERSISTENT_SEQUENTIAL),
                              Op.setData("/a", b("x"), -1)), cb.multi(), "m2");
        for (String s : r.drain(c))
            log("%s", s);
        ZooKeeper missing = new ZooKeeper(CONNECT + root + "/nothere", 30000,
                                          e -> { });
        closeLater(missing::close);
        log("chroot missing: exists / %s", st(missing.exists("/", false)));
        log("chroot missing: create /x %s", code(() -> missing.create("/x", b(""),
            OPEN, CreateMode.PERSISTENT)));
        log("chroot missing: getChildren / %s", code(() -> missing.getChildren("/",
                                                                               false)));
    }

    /** Thousands of requests in flight on one session. */
    @Test
    void deepPipeline() throws Exception {
        ZooKeeper zk = client();
        String a = root + "/a";
        zk.create(a, new byte[1024], OPEN, CreateMode.PERSISTENT);
        int n = 5000;
        java.util.concurrent.atomic.AtomicInteger seen =
            new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicBoolean ordered =
            new java.util.concurrent.atomic.AtomicBoolean(true);
        List<String> bad = java.util.Collections.synchronizedList(
            new java.util.ArrayList<>());
        CountDownLatch done = new CountDownLatch(n);
        for (int i = 0; i < n; i++) {
            final int k = i;
            if (i % 5 == 4)
                zk.setData(a, new byte[1024], -1, (rc, path, ctx, stat) -> {
                    if (seen.getAndIncrement() != k)
                        ordered.set(false);
                    if (rc != 0)
                        bad.add(codeName(rc));
                    done.countDown();
                }, null);
            else
                zk.getData(a, false, (rc, path, ctx, data, stat) -> {
                    if (seen.getAndIncrement() != k)
                        ordered.set(false);
                    if (rc != 0 || stat.getVersion() != (k + 1) / 5)
                        bad.add(codeName(rc) + " at " + k);
                    done.countDown();
                }, null);
        }
        await(done, 60);
        log("replies %d in order %b bad %s", seen.get(), ordered.get(),
            bad.size() > 5 ? bad.subList(0, 5) + "..." : bad);
        log("a %s", st(zk.exists(a, false)));
    }
}
