// WatchProbe: drives the Apache ZooKeeper Java client (Debian's 3.8 jar)
// against one server and prints, one per line, what a Java user sees:
// connection states, the persistent-recursive watch's events, replies.
// tests/integration/test_javaclient.py runs it against paddockd and
// against ZooKeeper and compares the two outputs line by line.
//
// usage: java -cp ... WatchProbe host:port /root

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ClientInfo;

public class WatchProbe {
    static final LinkedBlockingQueue<String> states = new LinkedBlockingQueue<>();
    static final LinkedBlockingQueue<String> events = new LinkedBlockingQueue<>();

    static void out(String s) {
        System.out.println(s);
    }

    static String next(LinkedBlockingQueue<String> q) throws InterruptedException {
        String s = q.poll(10, TimeUnit.SECONDS);
        return s == null ? "(nothing within 10 s)" : s;
    }

    public static void main(String[] args) throws Exception {
        String hosts = args[0], root = args[1];
        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(hosts, 10000, (WatchedEvent e) -> {
            states.add("state " + e.getState());
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected) {
                connected.countDown();
            }
        });
        if (!connected.await(10, TimeUnit.SECONDS)) {
            out("not connected");
            System.exit(1);
        }
        out(next(states));
        zk.create(root, "d".getBytes(), ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        // the call that used to make the Java client drop the connection
        zk.addWatch(root, (WatchedEvent e) -> events.add(e.getType() + " " + e.getPath()),
                AddWatchMode.PERSISTENT_RECURSIVE);
        out("addWatch ok");
        zk.create(root + "/a", null, ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        zk.create(root + "/a/b", "x".getBytes(), ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
        zk.setData(root + "/a", "y".getBytes(), -1);
        zk.delete(root + "/a/b", -1);
        for (int i = 0; i < 4; i++) {
            out("event " + next(events));
        }
        zk.addWatch(root, (WatchedEvent e) -> events.add("p " + e.getType() + " " + e.getPath()),
                AddWatchMode.PERSISTENT);
        zk.setData(root, "z".getBytes(), -1);
        List<String> two = new ArrayList<>();
        two.add(next(events));
        two.add(next(events));
        Collections.sort(two); // two watchers of one change: order is not defined
        for (String s : two) {
            out("event " + s);
        }
        try {
            zk.addWatch(root, (WatchedEvent e) -> { }, AddWatchMode.PERSISTENT);
            out("second addWatch ok");
        } catch (KeeperException e) {
            out("second addWatch " + e.code());
        }
        zk.removeAllWatches(root, Watcher.WatcherType.Any, false);
        out("removeAllWatches ok");
        zk.setData(root, "w".getBytes(), -1);
        String late = events.poll(500, TimeUnit.MILLISECONDS);
        out("after remove: " + (late == null ? "no event" : late));
        for (ClientInfo ci : zk.whoAmI()) {
            out("whoami " + ci.getAuthScheme() + " " + ci.getUser());
        }
        out("children " + zk.getAllChildrenNumber(root));
        zk.delete(root + "/a", -1);
        zk.delete(root, -1);
        zk.close();
        // the connection never dropped: one SyncConnected, then Closed
        String s;
        while ((s = states.poll(1, TimeUnit.SECONDS)) != null) {
            out(s);
        }
    }
}
