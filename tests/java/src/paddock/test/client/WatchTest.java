package paddock.test.client;

import java.util.ArrayList;
import java.util.List;

import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;
import org.junit.jupiter.api.Test;

/** One-shot data, exists and child watches: event types, paths and their
 *  order on one session; removeWatches / removeAllWatches. */
class WatchTest extends ClientBase {

    @Test
    void dataWatchOneShot() throws Exception {
        ZooKeeper zk = client();
        Rec r = new Rec();
        Watcher w = r.w("W");
        String a = root + "/a";
        zk.create(a, b("0"), OPEN, CreateMode.PERSISTENT);
        zk.getData(a, w, null);
        zk.setData(a, b("1"), -1);
        zk.setData(a, b("2"), -1);
        r.logDrain("two sets", zk);
        zk.getData(a, w, null);
        zk.create(a + "/c", b(""), OPEN, CreateMode.PERSISTENT);
        r.logDrain("child created (data watch)", zk);
        zk.setACL(a, OPEN, -1);
        r.logDrain("setACL (data watch)", zk);
        zk.setData(a, b("3"), -1);
        r.logDrain("set", zk);
        zk.getData(a + "/c", w, null);
        zk.delete(a + "/c", -1);
        r.logDrain("delete", zk);
        log("getData missing with watch: %s", code(() -> zk.getData(a + "/c", w, null)));
        zk.create(a + "/c", b(""), OPEN, CreateMode.PERSISTENT);
        r.logDrain("create after failed getData", zk);
        zk.getData(a, w, null);
        zk.setData(a, b("3"), -1);
        r.logDrain("same data set", zk);
    }

    @Test
    void existsWatch() throws Exception {
        ZooKeeper zk = client();
        Rec r = new Rec();
        Watcher w = r.w("W");
        String a = root + "/a";
        log("exists %s", st(zk.exists(a, w)));
        zk.create(a, b(""), OPEN, CreateMode.PERSISTENT);
        zk.setData(a, b("x"), -1);
        r.logDrain("create+set", zk);
        log("exists %s", st(zk.exists(a, w)));
        zk.setData(a, b("y"), -1);
        r.logDrain("set", zk);
        zk.exists(a, w);
        zk.delete(a, -1);
        zk.create(a, b(""), OPEN, CreateMode.PERSISTENT);
        r.logDrain("delete+create", zk);
        zk.exists(a, w);
        zk.getData(a, w, null);
        zk.setData(a, b("z"), -1);
        r.logDrain("exists+getData same watcher", zk);
    }

    @Test
    void childWatch() throws Exception {
        ZooKeeper zk = client();
        Rec r = new Rec();
        Watcher w = r.w("W");
        String a = root + "/a";
        zk.create(a, b(""), OPEN, CreateMode.PERSISTENT);
        zk.getChildren(a, w);
        zk.setData(a, b("x"), -1);
        r.logDrain("setData of parent", zk);
        zk.create(a + "/c", b(""), OPEN, CreateMode.PERSISTENT);
        zk.create(a + "/d", b(""), OPEN, CreateMode.PERSISTENT);
        r.logDrain("two creates", zk);
        zk.getChildren(a, w, new Stat());
        zk.setData(a + "/c", b("x"), -1);
        zk.create(a + "/c/g", b(""), OPEN, CreateMode.PERSISTENT);
        r.logDrain("grandchild", zk);
        zk.delete(a + "/c/g", -1);
        zk.delete(a + "/c", -1);
        r.logDrain("delete child", zk);
        zk.getChildren(a, w);
        zk.delete(a + "/d", -1);
        zk.getChildren(a, w);
        zk.delete(a, -1);
        r.logDrain("delete last child, then parent", zk);
        log("getChildren missing: %s", code(() -> zk.getChildren(a, w)));
        zk.create(a, b(""), OPEN, CreateMode.PERSISTENT);
        zk.create(a + "/c", b(""), OPEN, CreateMode.PERSISTENT);
        r.logDrain("recreate", zk);
    }

    /** Several watches on one change: order of creation/deletion events and
     *  of the parent's NodeChildrenChanged. */
    @Test
    void createDeleteEventOrder() throws Exception {
        ZooKeeper zk = client();
        Rec r = new Rec();
        String a = root + "/a";
        zk.getChildren(root, r.w("root-children"));
        zk.exists(a, r.w("a-exists"));
        zk.create(a, b(""), OPEN, CreateMode.PERSISTENT);
        r.logDrain("create", zk);
        zk.getChildren(root, r.w("root-children"));
        zk.getData(a, r.w("a-data"), null);
        zk.delete(a, -1);
        r.logDrain("delete", zk);
        zk.create(a, b(""), OPEN, CreateMode.PERSISTENT);
        zk.getData(a, r.w("a-data"), null);
        zk.getChildren(a, r.w("a-children"));
        zk.delete(a, -1);
        r.logDrainSorted("delete with data and child watches", zk);
        zk.create(a, b(""), OPEN, CreateMode.PERSISTENT);
        Watcher one = r.w("one");
        zk.getData(a, one, null);
        zk.getChildren(a, one);
        zk.exists(a, one);
        zk.delete(a, -1);
        r.logDrain("delete, one watcher three ways", zk);
    }

    @Test
    void defaultWatcher() throws Exception {
        Rec r = new Rec();
        ZooKeeper zk = client(30000, r.w("default"));
        String a = root + "/a";
        zk.exists(a, true);
        zk.create(a, b(""), OPEN, CreateMode.PERSISTENT);
        zk.getData(a, true, null);
        zk.exists(a, true);
        zk.getChildren(a, true);
        zk.setData(a, b("x"), -1);
        zk.create(a + "/c", b(""), OPEN, CreateMode.PERSISTENT);
        r.logDrain("events", zk);
        zk.getData(a, true, null);
        zk.getData(a, r.w("own"), null);
        zk.setData(a, b("y"), -1);
        r.logDrainSorted("default and own", zk);
    }

    @Test
    void otherSessionChanges() throws Exception {
        ZooKeeper zk = client();
        ZooKeeper other = client();
        Rec r = new Rec();
        Watcher w = r.w("W");
        String a = root + "/a";
        zk.exists(a, w);
        zk.getChildren(root, w);
        other.create(a, b(""), OPEN, CreateMode.PERSISTENT);
        r.logDrain("create", zk);
        zk.getData(a, w, null);
        zk.getChildren(a, w);
        other.setData(a, b("x"), -1);
        other.create(a + "/e", b(""), OPEN, CreateMode.EPHEMERAL);
        r.logDrain("set+child", zk);
        zk.exists(a + "/e", w);
        zk.getChildren(a, w);
        other.close();
        r.logDrain("other closed", zk);
        log("a %s", st(zk.exists(a, false)));
    }

    @Test
    void removeWatchesEachType() throws Exception {
        ZooKeeper zk = client();
        Rec r = new Rec();
        Watcher w = r.w("W");
        Watcher v = r.w("V");
        String a = root + "/a";
        zk.create(a, b(""), OPEN, CreateMode.PERSISTENT);
        zk.getData(a, w, null);
        zk.getChildren(a, w);
        log("remove data: %s", code(() -> zk.removeWatches(a, w,
            Watcher.WatcherType.Data, false)));
        log("remove data again: %s", code(() -> zk.removeWatches(a, w,
            Watcher.WatcherType.Data, false)));
        log("remove children: %s", code(() -> zk.removeWatches(a, w,
            Watcher.WatcherType.Children, false)));
        log("remove children again: %s", code(() -> zk.removeWatches(a, w,
            Watcher.WatcherType.Children, false)));
        log("remove any none: %s", code(() -> zk.removeWatches(a, w,
            Watcher.WatcherType.Any, false)));
        log("remove other watcher: %s", code(() -> zk.removeWatches(a, v,
            Watcher.WatcherType.Any, false)));
        log("remove on missing node: %s", code(() -> zk.removeWatches(
            root + "/nope", w, Watcher.WatcherType.Data, false)));
        r.logDrain("removal events", zk);
        zk.setData(a, b("x"), -1);
        zk.create(a + "/c", b(""), OPEN, CreateMode.PERSISTENT);
        r.logDrain("changes after removal", zk);

        zk.getData(a, w, null);
        zk.getChildren(a, w);
        zk.getData(a, v, null);
        log("remove any: %s", code(() -> zk.removeWatches(a, w,
            Watcher.WatcherType.Any, false)));
        r.logDrainSorted("removal events (any)", zk);
        zk.setData(a, b("y"), -1);
        r.logDrain("set: only V", zk);

        zk.exists(root + "/m", w);
        log("remove exists watch as data: %s", code(() -> zk.removeWatches(
            root + "/m", w, Watcher.WatcherType.Data, false)));
        zk.create(root + "/m", b(""), OPEN, CreateMode.PERSISTENT);
        r.logDrain("exists watch removed", zk);

        zk.getData(a, w, null);
        log("remove local: %s", code(() -> zk.removeWatches(a, w,
            Watcher.WatcherType.Data, true)));
        zk.setData(a, b("z"), -1);
        r.logDrain("local removal", zk);

        zk.exists(root + "/m2", w);
        log("remove exists watch as children: %s", code(() -> zk.removeWatches(
            root + "/m2", w, Watcher.WatcherType.Children, false)));
        zk.create(root + "/m2", b(""), OPEN, CreateMode.PERSISTENT);
        r.logDrain("exists watch kept", zk);
    }

    @Test
    void removeAllWatches() throws Exception {
        Rec r = new Rec();
        ZooKeeper zk = client(30000, r.w("default"));
        Watcher w = r.w("W");
        Watcher v = r.w("V");
        String a = root + "/a";
        zk.create(a, b(""), OPEN, CreateMode.PERSISTENT);
        zk.getData(a, w, null);
        zk.getData(a, v, null);
        zk.getData(a, true, null);
        zk.getChildren(a, w);
        log("remove all data: %s", code(() -> zk.removeAllWatches(a,
            Watcher.WatcherType.Data, false)));
        r.logDrainSorted("removed", zk);
        log("remove all data again: %s", code(() -> zk.removeAllWatches(a,
            Watcher.WatcherType.Data, false)));
        zk.setData(a, b("x"), -1);
        zk.create(a + "/c", b(""), OPEN, CreateMode.PERSISTENT);
        r.logDrain("child watch left", zk);
        zk.getData(a, w, null);
        zk.getChildren(a, v);
        log("remove all any: %s", code(() -> zk.removeAllWatches(a,
            Watcher.WatcherType.Any, false)));
        r.logDrainSorted("removed", zk);
        log("remove all any again: %s", code(() -> zk.removeAllWatches(a,
            Watcher.WatcherType.Any, false)));
        log("remove all children none: %s", code(() -> zk.removeAllWatches(a,
            Watcher.WatcherType.Children, false)));
        zk.setData(a, b("y"), -1);
        zk.delete(a + "/c", -1);
        r.logDrain("nothing left", zk);
        zk.getData(a, w, null);
        log("remove all local: %s", code(() -> zk.removeAllWatches(a,
            Watcher.WatcherType.Any, true)));
        zk.setData(a, b("z"), -1);
        r.logDrain("after local removal", zk);
    }

    @Test
    void manyWatchesOneMulti() throws Exception {
        ZooKeeper zk = client();
        Rec r = new Rec();
        Watcher w = r.w("W");
        List<Op> ops = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            String n = String.format("%s/n%02d", root, (i * 7) % 30);
            zk.create(n, b(""), OPEN, CreateMode.PERSISTENT);
            zk.getData(n, w, null);
            ops.add(Op.setData(n, b("x"), -1));
        }
        zk.multi(ops);
        List<String> got = r.drain(zk);
        log("%d events", got.size());
        for (String s : got)
            log("%s", s);
    }

    @Test
    void watchesAndShortLivedNodesInMulti() throws Exception {
        ZooKeeper zk = client();
        Rec r = new Rec();
        Watcher w = r.w("W");
        String x = root + "/x";
        zk.exists(x, w);
        zk.getChildren(root, w);
        zk.multi(java.util.Arrays.asList(
            Op.create(x, b(""), OPEN, CreateMode.PERSISTENT),
            Op.setData(x, b("1"), -1),
            Op.delete(x, -1),
            Op.create(root + "/y", b(""), OPEN, CreateMode.PERSISTENT),
            Op.delete(root + "/y", -1)));
        r.logDrain("create+set+delete in one multi", zk);
        log("x %s", st(zk.exists(x, w)));
        zk.multi(java.util.Arrays.asList(
            Op.create(x, b(""), OPEN, CreateMode.PERSISTENT),
            Op.delete(x, -1)));
        r.logDrain("again", zk);
        log("root %s", st(zk.exists(root, false)));
    }

    /**
     * ZooKeeper 3.8 (as shipped) sends a watch notification only when the
     * watching session may READ the node the event is about (the parent
     * for NodeChildrenChanged): exists() on an unreadable node succeeds and
     * sets a watch, whose events are then never delivered.
     */
    @Test
    void notificationsNeedRead() throws Exception {
        ZooKeeper zk = client();
        ZooKeeper su = client();
        su.addAuthInfo("digest", b("super:superpw"));
        Rec r = new Rec();
        Watcher w = r.w("W");
        java.util.List<org.apache.zookeeper.data.ACL> none = java.util.Arrays.asList(
            new org.apache.zookeeper.data.ACL(0,
                org.apache.zookeeper.ZooDefs.Ids.ANYONE_ID_UNSAFE));
        String a = root + "/a";
        zk.create(a, b(""), none, CreateMode.PERSISTENT);
        log("exists %s", st(zk.exists(a, w)));
        log("getData: %s", code(() -> zk.getData(a, w, null)));
        log("getChildren: %s", code(() -> zk.getChildren(a, w)));
        su.setData(a, b("x"), -1);
        su.create(a + "/c", b(""), OPEN, CreateMode.PERSISTENT);
        r.logDrain("unreadable node changed", zk);
        zk.exists(a, w);
        su.delete(a + "/c", -1);
        su.delete(a, -1);
        r.logDrain("unreadable node deleted", zk);

        String p = root + "/p";
        zk.create(p, b(""), OPEN, CreateMode.PERSISTENT);
        zk.getChildren(p, w);
        zk.exists(p + "/hidden", w);
        zk.create(p + "/hidden", b(""), none, CreateMode.PERSISTENT);
        r.logDrain("unreadable child created under readable parent", zk);
        zk.addWatch(p, w, org.apache.zookeeper.AddWatchMode.PERSISTENT_RECURSIVE);
        su.setData(p + "/hidden", b("x"), -1);
        su.create(p + "/hidden/deeper", b(""), OPEN, CreateMode.PERSISTENT);
        su.create(p + "/open", b(""), OPEN, CreateMode.PERSISTENT);
        su.setACL(p + "/open", none, -1);
        su.setData(p + "/open", b("x"), -1);
        r.logDrain("recursive watch over unreadable nodes", zk);

        String q = root + "/q";
        zk.create(q, b(""), java.util.Arrays.asList(new org.apache.zookeeper.data.ACL(
            org.apache.zookeeper.ZooDefs.Perms.READ,
            new org.apache.zookeeper.data.Id("digest",
                org.apache.zookeeper.server.auth.DigestAuthenticationProvider
                    .generateDigest("reader:pw")))), CreateMode.PERSISTENT);
        ZooKeeper reader = client();
        reader.addAuthInfo("digest", b("reader:pw"));
        Rec rr = new Rec();
        reader.getData(q, rr.w("R"), null);
        zk.exists(q, w);
        su.setData(q, b("x"), -1);
        rr.logDrain("reader", reader);
        r.logDrain("anyone", zk);
    }
}
