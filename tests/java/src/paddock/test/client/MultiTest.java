package paddock.test.client;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;

import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;
import org.junit.jupiter.api.Test;

/** multi and multiRead: per-op results (types, paths, Stats), per-op
 *  error codes of a failed transaction, async multi, Transaction. */
class MultiTest extends ClientBase {
    static final long HOUR = 3_600_000L;

    /** Runs a multi, logging its results or its error and per-op results. */
    void multi(ZooKeeper zk, String what, Op... ops) {
        try {
            logResults(what, zk.multi(Arrays.asList(ops)));
        } catch (KeeperException e) {
            log("%s threw %s path=%s", what, e.code(), p(e.getPath()));
            logResults(what, e.getResults());
        } catch (Exception e) {
            log("%s threw %s", what, e.getClass().getSimpleName());
        }
    }

    @Test
    void success() throws Exception {
        ZooKeeper zk = client();
        String a = root + "/a";
        multi(zk, "m",
              Op.create(a, b("a"), OPEN, CreateMode.PERSISTENT),
              Op.create(a + "/s-", b(""), OPEN, CreateMode.PERSISTENT_SEQUENTIAL),
              Op.create(a + "/s-", b(""), OPEN, CreateMode.EPHEMERAL_SEQUENTIAL),
              Op.create(root + "/e", b("e"), OPEN, CreateMode.EPHEMERAL),
              Op.setData(a, b("a1"), 0),
              Op.setData(a, b("a22"), 1),
              Op.check(a, 2),
              Op.check(root, -1),
              Op.delete(a + "/s-0000000000", 0),
              Op.create(root + "/k", b("k"), OPEN, CreateMode.CONTAINER),
              Op.create(root + "/t", b("t"), OPEN, CreateMode.PERSISTENT_WITH_TTL, HOUR),
              Op.create(root + "/ts", b(""), OPEN,
                        CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, HOUR),
              Op.create(root + "/x", b("x"), OPEN, CreateMode.PERSISTENT),
              Op.delete(root + "/x", -1),
              Op.create(root + "/x", b("x2"), OPEN, CreateMode.PERSISTENT));
        Stat s = new Stat();
        log("a %s %s", s(zk.getData(a, false, s)), stat(s));
        log("a children %s", kids(zk.getChildren(a, false)));
        s = new Stat();
        log("root %s %s", kids(zk.getChildren(root, false, s)), stat(s));
        log("x %s", st(zk.exists(root + "/x", false)));
        log("e owner=%s", owner(zk.exists(root + "/e", false), zk));
        log("t %s", st(zk.exists(root + "/t", false)));
        log("ephemerals %s", paths(zk.getEphemerals(root)));
    }

    @Test
    void failureCodes() throws Exception {
        ZooKeeper zk = client();
        String a = root + "/a";
        zk.create(a, b("a"), OPEN, CreateMode.PERSISTENT);
        multi(zk, "badversion",
              Op.create(root + "/x", b(""), OPEN, CreateMode.PERSISTENT),
              Op.setData(a, b(""), 5),
              Op.create(root + "/y", b(""), OPEN, CreateMode.PERSISTENT));
        multi(zk, "first fails",
              Op.create(a, b(""), OPEN, CreateMode.PERSISTENT),
              Op.setData(a, b("z"), -1),
              Op.delete(a, -1));
        multi(zk, "last fails",
              Op.setData(a, b("z"), -1),
              Op.create(root + "/x", b(""), OPEN, CreateMode.PERSISTENT),
              Op.delete(root + "/nope", -1));
        multi(zk, "check missing",
              Op.check(root + "/nope", -1),
              Op.setData(a, b("z"), -1));
        multi(zk, "check version",
              Op.setData(a, b("z"), -1),
              Op.check(a, 0));
        multi(zk, "not empty",
              Op.create(a + "/c", b(""), OPEN, CreateMode.PERSISTENT),
              Op.delete(a, -1));
        multi(zk, "no parent",
              Op.create(root + "/p/q", b(""), OPEN, CreateMode.PERSISTENT));
        multi(zk, "ephemeral parent",
              Op.create(root + "/eph", b(""), OPEN, CreateMode.EPHEMERAL),
              Op.create(root + "/eph/c", b(""), OPEN, CreateMode.PERSISTENT));
        multi(zk, "created twice",
              Op.create(root + "/d", b(""), OPEN, CreateMode.PERSISTENT),
              Op.create(root + "/d", b(""), OPEN, CreateMode.PERSISTENT));
        multi(zk, "bad acl",
              Op.create(root + "/d", b(""), OPEN, CreateMode.PERSISTENT),
              Op.create(root + "/e", b(""), ZooDefs.Ids.CREATOR_ALL_ACL,
                        CreateMode.PERSISTENT));
        multi(zk, "delete then use",
              Op.delete(a, -1),
              Op.setData(a, b(""), -1));
        Stat s = new Stat();
        log("a %s %s", s(zk.getData(a, false, s)), stat(s));
        log("root %s", kids(zk.getChildren(root, false)));
        // each failed multi is one (error) txn
        s = new Stat();
        zk.create(root + "/after", b(""), OPEN, CreateMode.PERSISTENT, s);
        log("after %s", stat(s));
    }

    @Test
    void badTtlAndModes() throws Exception {
        ZooKeeper zk = client();
        multi(zk, "ttl 0",
              Op.create(root + "/t0", b(""), OPEN, CreateMode.PERSISTENT_WITH_TTL, 0));
        multi(zk, "ttl -5",
              Op.create(root + "/t1", b(""), OPEN, CreateMode.PERSISTENT_WITH_TTL, -5));
        multi(zk, "ttl huge",
              Op.create(root + "/t2", b(""), OPEN, CreateMode.PERSISTENT_WITH_TTL,
                        1L << 41));
        multi(zk, "ttl max",
              Op.create(root + "/t3", b(""), OPEN, CreateMode.PERSISTENT_WITH_TTL,
                        (1L << 40) - 1));
        multi(zk, "seq ttl 0",
              Op.create(root + "/t4", b(""), OPEN,
                        CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, 0));
        multi(zk, "ttl on persistent",
              Op.create(root + "/t5", b(""), OPEN, CreateMode.PERSISTENT, 1000));
        multi(zk, "flag 1 (ephemeral) int",
              Op.create(root + "/t6", b(""), OPEN, 1));
        log("sync create ttl 0: %s", code(() -> zk.create(root + "/t7", b(""),
            OPEN, CreateMode.PERSISTENT_WITH_TTL, new Stat(), 0)));
        log("sync create ttl mode no ttl: %s", code(() -> zk.create(root + "/t8",
            b(""), OPEN, CreateMode.PERSISTENT_WITH_TTL)));
        log("root %s", kids(zk.getChildren(root, false)));
        Stat s = new Stat();
        zk.create(root + "/after", b(""), OPEN, CreateMode.PERSISTENT, s);
        log("after %s", stat(s));
    }

    @Test
    void multiRead() throws Exception {
        ZooKeeper zk = client();
        String a = root + "/a";
        zk.create(a, b("data-a"), OPEN, CreateMode.PERSISTENT);
        zk.create(a + "/c1", b(""), OPEN, CreateMode.PERSISTENT);
        zk.create(a + "/c2", null, OPEN, CreateMode.EPHEMERAL);
        multi(zk, "read",
              Op.getData(a),
              Op.getChildren(a),
              Op.getData(a + "/c2"),
              Op.getChildren(a + "/c1"));
        multi(zk, "read missing",
              Op.getData(a),
              Op.getData(root + "/nope"),
              Op.getChildren(root + "/nope"),
              Op.getChildren(a));
        multi(zk, "read all missing",
              Op.getChildren(root + "/nope"));
        multi(zk, "mixed", Op.getData(a), Op.setData(a, b(""), -1));
        multi(zk, "empty");
        Stat s = new Stat();
        zk.create(root + "/after", b(""), OPEN, CreateMode.PERSISTENT, s);
        log("after (empty multi is a txn) %s", stat(s));
        multi(zk, "read root", Op.getData(root), Op.getChildren(root));
    }

    @Test
    void sameZxidForAllOps() throws Exception {
        ZooKeeper zk = client();
        multi(zk, "m",
              Op.create(root + "/a", b(""), OPEN, CreateMode.PERSISTENT),
              Op.create(root + "/a/b", b(""), OPEN, CreateMode.PERSISTENT),
              Op.setData(root + "/a", b("1"), -1),
              Op.setData(root + "/a", b("22"), -1),
              Op.setData(root + "/a/b", b("3"), -1));
        log("a %s", st(zk.exists(root + "/a", false)));
        log("a/b %s", st(zk.exists(root + "/a/b", false)));
        log("root %s", st(zk.exists(root, false)));
        multi(zk, "m2",
              Op.delete(root + "/a/b", -1),
              Op.create(root + "/a/c", b(""), OPEN, CreateMode.PERSISTENT_SEQUENTIAL),
              Op.create(root + "/a/c", b(""), OPEN, CreateMode.PERSISTENT_SEQUENTIAL));
        log("a %s", st(zk.exists(root + "/a", false)));
        multi(zk, "only check", Op.check(root + "/a", 2));
        log("a %s", st(zk.exists(root + "/a", false)));
        Stat s = new Stat();
        zk.create(root + "/after", b(""), OPEN, CreateMode.PERSISTENT, s);
        log("after %s", stat(s));
    }

    @Test
    void asyncAndTransaction() throws Exception {
        ZooKeeper zk = client();
        List<String> got = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch done = new CountDownLatch(3);
        org.apache.zookeeper.AsyncCallback.MultiCallback cb =
            (rc, path, ctx, rs) -> {
                got.add(ctx + " rc=" + codeName(rc) + " path=" + p(path));
                if (rs != null)
                    for (OpResult o : rs)
                        got.add("  " + ctx + " " + res(o));
                else
                    got.add("  " + ctx + " results null");
                done.countDown();
            };
        zk.multi(Arrays.asList(
            Op.create(root + "/a", b("a"), OPEN, CreateMode.PERSISTENT),
            Op.setData(root + "/a", b("b"), 0)), cb, "ok");
        zk.multi(Arrays.asList(
            Op.setData(root + "/a", b("c"), -1),
            Op.check(root + "/a", 0),
            Op.delete(root + "/a", -1)), cb, "fails");
        zk.multi(Arrays.asList(Op.getData(root + "/a"),
                               Op.getData(root + "/nope")), cb, "read");
        await(done, 20);
        for (String s : got)
            log("%s", s);
        logResults("tx", zk.transaction()
            .create(root + "/t", b(""), OPEN, CreateMode.PERSISTENT)
            .check(root + "/a", 1)
            .setData(root + "/t", b("t"), 0)
            .delete(root + "/a", 1)
            .commit());
        try {
            zk.transaction().check(root + "/t", 9).commit();
            log("tx2 ok");
        } catch (KeeperException e) {
            log("tx2 threw %s", e.code());
            logResults("tx2", e.getResults());
        }
        log("root %s", kids(zk.getChildren(root, false)));
    }

    @Test
    void watchesTriggeredByMulti() throws Exception {
        ZooKeeper zk = client();
        Rec r = new Rec();
        Watcher w = r.w("W");
        String a = root + "/a";
        zk.create(a, b(""), OPEN, CreateMode.PERSISTENT);
        zk.getData(a, w, null);
        zk.getChildren(root, w);
        zk.exists(root + "/n", w);
        zk.getChildren(a, w);
        // a failed multi triggers nothing
        multi(zk, "failed",
              Op.setData(a, b("x"), -1),
              Op.create(root + "/n", b(""), OPEN, CreateMode.PERSISTENT),
              Op.delete(root + "/nope", -1));
        r.logDrain("after failed", zk);
        multi(zk, "ok",
              Op.setData(a, b("x"), -1),
              Op.create(root + "/n", b(""), OPEN, CreateMode.PERSISTENT),
              Op.create(a + "/c", b(""), OPEN, CreateMode.PERSISTENT),
              Op.delete(a + "/c", -1));
        r.logDrain("after ok", zk);
        zk.exists(root + "/n", w);
        zk.getData(a, w, null);
        multi(zk, "deletes",
              Op.delete(root + "/n", -1),
              Op.delete(a, -1));
        r.logDrain("after deletes", zk);
        // other session's multi
        ZooKeeper other = client();
        zk.exists(a, w);
        zk.getChildren(root, w);
        multi(other, "other",
              Op.create(a, b(""), OPEN, CreateMode.PERSISTENT),
              Op.create(root + "/z", b(""), OPEN, CreateMode.PERSISTENT));
        r.logDrain("after other", zk);
    }
}
