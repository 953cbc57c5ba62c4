package paddock.test.client;

import java.util.Arrays;

import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;
import org.junit.jupiter.api.Test;

/** addWatch PERSISTENT and PERSISTENT_RECURSIVE: events, their order, and
 *  how they combine with one-shot watches and removal. */
class PersistentWatchTest extends ClientBase {

    @Test
    void persistent() throws Exception {
        ZooKeeper zk = client();
        Rec r = new Rec();
        Watcher w = r.w("P");
        String a = root + "/a";
        zk.addWatch(a, w, AddWatchMode.PERSISTENT);
        zk.create(a, b(""), OPEN, CreateMode.PERSISTENT);
        zk.setData(a, b("1"), -1);
        zk.setData(a, b("2"), -1);
        zk.create(a + "/c", b(""), OPEN, CreateMode.PERSISTENT);
        zk.setData(a + "/c", b("1"), -1);
        zk.create(a + "/c/d", b(""), OPEN, CreateMode.PERSISTENT);
        zk.delete(a + "/c/d", -1);
        zk.delete(a + "/c", -1);
        zk.setACL(a, OPEN, -1);
        zk.delete(a, -1);
        zk.create(a, b(""), OPEN, CreateMode.EPHEMERAL);
        zk.delete(a, -1);
        r.logDrain("events", zk);
        zk.create(a, b(""), OPEN, CreateMode.PERSISTENT);
        zk.multi(Arrays.asList(Op.setData(a, b("m"), -1),
                               Op.create(a + "/x", b(""), OPEN, CreateMode.PERSISTENT),
                               Op.delete(a + "/x", -1)));
        r.logDrain("multi", zk);
    }

    @Test
    void persistentRecursive() throws Exception {
        ZooKeeper zk = client();
        Rec r = new Rec();
        Watcher w = r.w("R");
        String a = root + "/a";
        zk.addWatch(a, w, AddWatchMode.PERSISTENT_RECURSIVE);
        zk.create(a, b(""), OPEN, CreateMode.PERSISTENT);
        zk.create(a + "/b", b(""), OPEN, CreateMode.PERSISTENT);
        zk.create(a + "/b/c", b(""), OPEN, CreateMode.PERSISTENT);
        zk.setData(a + "/b/c", b("1"), -1);
        zk.setData(a, b("1"), -1);
        zk.create(a + "/b/c/d", b(""), OPEN, CreateMode.EPHEMERAL_SEQUENTIAL);
        zk.delete(a + "/b/c/d0000000000", -1);
        zk.delete(a + "/b/c", -1);
        zk.create(root + "/ab", b(""), OPEN, CreateMode.PERSISTENT);
        zk.setData(root, b("r"), -1);
        zk.delete(a + "/b", -1);
        zk.delete(a, -1);
        r.logDrain("events", zk);
        zk.multi(Arrays.asList(
            Op.create(a, b(""), OPEN, CreateMode.PERSISTENT),
            Op.create(a + "/x", b(""), OPEN, CreateMode.PERSISTENT),
            Op.create(a + "/x/y", b(""), OPEN, CreateMode.PERSISTENT),
            Op.setData(a + "/x", b("1"), -1),
            Op.delete(a + "/x/y", -1)));
        r.logDrain("multi", zk);
        ZooKeeper other = client();
        other.create(a + "/o", b(""), OPEN, CreateMode.EPHEMERAL);
        other.close();
        r.logDrain("other session's ephemeral", zk);
    }

    @Test
    void persistentAndOneShotSameWatcher() throws Exception {
        Rec r = new Rec();
        ZooKeeper zk = client(30000, r.w("D"));
        String a = root + "/a";
        zk.create(a, b(""), OPEN, CreateMode.PERSISTENT);
        zk.addWatch(a, AddWatchMode.PERSISTENT);
        zk.getData(a, true, null);
        zk.getChildren(a, true);
        zk.setData(a, b("1"), -1);
        r.logDrain("set (persistent + data watch, one watcher)", zk);
        zk.create(a + "/c", b(""), OPEN, CreateMode.PERSISTENT);
        r.logDrain("create child (persistent + child watch)", zk);
        zk.setData(a, b("2"), -1);
        r.logDrain("set (persistent only)", zk);
        zk.getData(a, true, null);
        zk.getChildren(a, true);
        zk.delete(a + "/c", -1);
        zk.delete(a, -1);
        r.logDrain("delete", zk);
    }

    @Test
    void persistentAndOneShotTwoWatchers() throws Exception {
        ZooKeeper zk = client();
        Rec r = new Rec();
        Watcher p = r.w("P");
        Watcher o = r.w("O");
        String a = root + "/a";
        zk.create(a, b(""), OPEN, CreateMode.PERSISTENT);
        zk.addWatch(a, p, AddWatchMode.PERSISTENT);
        zk.getData(a, o, null);
        zk.setData(a, b("1"), -1);
        r.logDrainSorted("set", zk);
        zk.setData(a, b("2"), -1);
        r.logDrain("set again", zk);
        zk.getData(a, o, null);
        zk.getChildren(a, o);
        zk.delete(a, -1);
        r.logDrainSorted("delete", zk);
    }

    /** One watcher object for both watches, so that each notification
     *  is delivered once and their order is the server's. */
    @Test
    void recursiveWithChildWatch() throws Exception {
        ZooKeeper zk = client();
        Rec r = new Rec();
        Watcher w = r.w("W");
        String a = root + "/a";
        zk.create(a, b(""), OPEN, CreateMode.PERSISTENT);
        zk.addWatch(a, w, AddWatchMode.PERSISTENT_RECURSIVE);
        zk.getChildren(a, w);
        zk.create(a + "/x", b(""), OPEN, CreateMode.PERSISTENT);
        r.logDrain("create child", zk);
        zk.getChildren(a + "/x", w);
        zk.create(a + "/x/y", b(""), OPEN, CreateMode.PERSISTENT);
        r.logDrain("create grandchild", zk);
        zk.exists(a + "/x/y", w);
        zk.getChildren(a, w);
        zk.delete(a + "/x/y", -1);
        zk.delete(a + "/x", -1);
        r.logDrain("delete both", zk);
        zk.create(a + "/z", b(""), OPEN, CreateMode.PERSISTENT);
        r.logDrain("recursive only", zk);
    }

    /** Two watcher objects: which of them gets an event first is the
     *  client's choice (a set), so the events are compared sorted. */
    @Test
    void recursiveWithChildWatchTwoWatchers() throws Exception {
        ZooKeeper zk = client();
        Rec r = new Rec();
        Watcher rec = r.w("R");
        Watcher ch = r.w("C");
        String a = root + "/a";
        zk.create(a, b(""), OPEN, CreateMode.PERSISTENT);
        zk.addWatch(a, rec, AddWatchMode.PERSISTENT_RECURSIVE);
        zk.getChildren(a, ch);
        zk.create(a + "/x", b(""), OPEN, CreateMode.PERSISTENT);
        r.logDrainSorted("create child", zk);
        zk.exists(a + "/x", ch);
        zk.delete(a + "/x", -1);
        r.logDrainSorted("delete child", zk);
    }

    @Test
    void nestedPersistentWatches() throws Exception {
        ZooKeeper zk = client();
        Rec r = new Rec();
        String a = root + "/a";
        zk.addWatch(root, r.w("R-root"), AddWatchMode.PERSISTENT_RECURSIVE);
        zk.addWatch(a, r.w("R-a"), AddWatchMode.PERSISTENT_RECURSIVE);
        zk.addWatch(a, r.w("P-a"), AddWatchMode.PERSISTENT);
        zk.create(a, b(""), OPEN, CreateMode.PERSISTENT);
        r.logDrainSorted("create a", zk);
        zk.create(a + "/b", b(""), OPEN, CreateMode.PERSISTENT);
        r.logDrainSorted("create a/b", zk);
        zk.setData(a + "/b", b("x"), -1);
        r.logDrainSorted("set a/b", zk);
        zk.delete(a + "/b", -1);
        r.logDrainSorted("delete a/b", zk);
    }

    @Test
    void removePersistent() throws Exception {
        ZooKeeper zk = client();
        Rec r = new Rec();
        Watcher w = r.w("P");
        Watcher v = r.w("R");
        String a = root + "/a";
        zk.create(a, b(""), OPEN, CreateMode.PERSISTENT);
        zk.addWatch(a, w, AddWatchMode.PERSISTENT);
        zk.addWatch(root, v, AddWatchMode.PERSISTENT_RECURSIVE);
        log("remove persistent as data: %s", code(() -> zk.removeWatches(a, w,
            Watcher.WatcherType.Data, false)));
        r.logDrain("after remove data", zk);
        zk.setData(a, b("1"), -1);
        r.logDrainSorted("set", zk);
        log("remove persistent as children: %s", code(() -> zk.removeWatches(a, w,
            Watcher.WatcherType.Children, false)));
        r.logDrain("after remove children", zk);
        zk.addWatch(a, w, AddWatchMode.PERSISTENT);
        log("remove persistent as any: %s", code(() -> zk.removeWatches(a, w,
            Watcher.WatcherType.Any, false)));
        r.logDrain("after remove any", zk);
        zk.setData(a, b("2"), -1);
        r.logDrain("set", zk);
        log("remove all on root: %s", code(() -> zk.removeAllWatches(root,
            Watcher.WatcherType.Any, false)));
        r.logDrain("after remove all", zk);
        zk.setData(a, b("3"), -1);
        zk.create(a + "/c", b(""), OPEN, CreateMode.PERSISTENT);
        r.logDrain("nothing left", zk);
        log("remove all again: %s", code(() -> zk.removeAllWatches(root,
            Watcher.WatcherType.Any, false)));
    }

    @Test
    void addWatchTwiceAndModesSwitch() throws Exception {
        ZooKeeper zk = client();
        Rec r = new Rec();
        Watcher w = r.w("W");
        String a = root + "/a";
        zk.create(a, b(""), OPEN, CreateMode.PERSISTENT);
        zk.addWatch(a, w, AddWatchMode.PERSISTENT);
        zk.addWatch(a, w, AddWatchMode.PERSISTENT);
        zk.setData(a, b("1"), -1);
        r.logDrain("persistent twice", zk);
        zk.addWatch(a, w, AddWatchMode.PERSISTENT_RECURSIVE);
        zk.setData(a, b("2"), -1);
        zk.create(a + "/c", b(""), OPEN, CreateMode.PERSISTENT);
        r.logDrain("then recursive", zk);
        zk.addWatch(a, w, AddWatchMode.PERSISTENT);
        zk.create(a + "/d", b(""), OPEN, CreateMode.PERSISTENT);
        zk.setData(a, b("3"), -1);
        r.logDrain("then persistent again", zk);
        log("addWatch bad path: %s", code(() -> zk.addWatch("x", w,
            AddWatchMode.PERSISTENT)));
        log("addWatch on /: %s", code(() -> zk.addWatch("/zookeeper/quota", w,
            AddWatchMode.PERSISTENT)));
    }

    @Test
    void chrootedPersistentRecursive() throws Exception {
        Rec r = new Rec();
        ZooKeeper c = new ZooKeeper(CONNECT + root, 30000, e -> { });
        closeLater(c::close);
        ZooKeeper zk = client();
        c.addWatch("/", r.w("R"), AddWatchMode.PERSISTENT_RECURSIVE);
        c.create("/a", b(""), OPEN, CreateMode.PERSISTENT);
        zk.create(root + "/a/b", b(""), OPEN, CreateMode.PERSISTENT);
        zk.setData(root, b("x"), -1);
        zk.delete(root + "/a/b", -1);
        r.logDrain("events (chroot paths)", c);
    }
}
