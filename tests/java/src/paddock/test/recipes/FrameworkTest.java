package paddock.test.recipes;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.CuratorTempFramework;
import org.apache.curator.framework.WatcherRemoveCuratorFramework;
import org.apache.curator.framework.api.ACLProvider;
import org.apache.curator.framework.api.BackgroundCallback;
import org.apache.curator.framework.api.CuratorEvent;
import org.apache.curator.framework.api.CuratorWatcher;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.curator.framework.api.transaction.CuratorTransactionResult;
import org.apache.curator.framework.imps.ProtectedUtils;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;
import org.junit.jupiter.api.Test;

import static paddock.test.recipes.Rx.rest;
import static paddock.test.recipes.Rx.take;

import paddock.test.Zk;

/** CuratorFramework itself: builders, background callbacks, watchers,
 *  transactions, namespaces, ACLs, TTL/containers, config. */
class FrameworkTest extends Zk {
    private String r(String p) {
        return Rx.rel(root, p);
    }

    private String ev(CuratorEvent e) {
        StringBuilder sb = new StringBuilder();
        sb.append(e.getType()).append(" rc=").append(Rx.code(e.getResultCode()))
            .append(" path=").append(r(e.getPath()))
            .append(" name=").append(r(e.getName()));
        if (e.getData() != null)
            sb.append(" data=").append(s(e.getData()));
        if (e.getStat() != null)
            sb.append(" stat[").append(stat(e.getStat())).append("]");
        if (e.getChildren() != null)
            sb.append(" children=").append(Rx.sorted(e.getChildren()));
        if (e.getACLList() != null)
            sb.append(" acl=").append(Rx.acls(e.getACLList()));
        if (e.getContext() != null)
            sb.append(" ctx=").append(e.getContext());
        if (e.getWatchedEvent() != null)
            sb.append(" watched=").append(e.getWatchedEvent().getType())
                .append(" ").append(r(e.getWatchedEvent().getPath()));
        if (e.getOpResults() != null)
            for (CuratorTransactionResult t : e.getOpResults())
                sb.append(" op[").append(tr(t)).append("]");
        return sb.toString();
    }

    private String tr(CuratorTransactionResult t) {
        return t.getType() + " for=" + r(t.getForPath()) + " result="
            + r(t.getResultPath()) + " stat="
            + (t.getResultStat() == null ? "null" : stat(t.getResultStat()))
            + " error=" + t.getError();
    }

    @Test
    void creatingParentsAndContainers() throws Exception {
        CuratorFramework c = curator();
        String p = c.create().creatingParentsIfNeeded()
            .forPath(root + "/a/b/c", b("x"));
        log("created %s", r(p));
        log("parent a %s", stat(c.checkExists().forPath(root + "/a")));
        log("parent b data '%s'", s(c.getData().forPath(root + "/a/b")));
        log("leaf %s", stat(c.checkExists().forPath(root + "/a/b/c")));
        log("again: %s", code(() -> c.create().forPath(root + "/a/b/c")));
        log("again with parents: %s", code(() -> c.create()
            .creatingParentsIfNeeded().forPath(root + "/a/b/c")));
        log("missing parent: %s",
            code(() -> c.create().forPath(root + "/x/y", b("y"))));
        log("bad path: %s", code(() -> c.create().forPath(root + "/x/")));
        p = c.create().creatingParentContainersIfNeeded()
            .forPath(root + "/k/l/m", b("m"));
        log("created %s", r(p));
        c.checkExists().creatingParentContainersIfNeeded()
            .forPath(root + "/e/f/g");
        log("exists created parents: e=%b e/f=%b e/f/g=%b",
            c.checkExists().forPath(root + "/e") != null,
            c.checkExists().forPath(root + "/e/f") != null,
            c.checkExists().forPath(root + "/e/f/g") != null);
        c.createContainers(root + "/cc/dd");
        log("createContainers: %s", stat(c.checkExists().forPath(root + "/cc/dd")));
        c.delete().forPath(root + "/k/l/m");
        boolean gone = Rx.until(
            () -> c.checkExists().forPath(root + "/k") == null, 8000);
        log("container parents reaped: %b", gone);
        log("root children %s", Rx.sorted(c.getChildren().forPath(root)));
    }

    @Test
    void protectedCreate() throws Exception {
        CuratorFramework c = curator();
        c.create().forPath(root + "/p", new byte[0]);
        List<String> made = new ArrayList<>();
        for (int i = 0; i < 3; i++)
            made.add(c.create().withProtection()
                .withMode(CreateMode.EPHEMERAL_SEQUENTIAL)
                .forPath(root + "/p/lock-", b("v" + i)));
        made.add(c.create().withProtection().forPath(root + "/p/plain",
                                                     b("v")));
        made.add(c.create().withProtection().withMode(CreateMode.EPHEMERAL)
            .forPath(root + "/p/eph", b("e")));
        for (String m : made) {
            Stat st = c.checkExists().forPath(m);
            log("%s protected=%b normalized=%s %s", Rx.unprotect(r(m)),
                ProtectedUtils.isProtectedZNode(
                    m.substring(m.lastIndexOf('/') + 1)),
                r(ProtectedUtils.normalizePath(m)), stat(st));
        }
        List<String> kids = new ArrayList<>();
        for (String k : c.getChildren().forPath(root + "/p"))
            kids.add(Rx.unprotect(k));
        log("children %s", Rx.sorted(kids));
        p2(c);
    }

    private void p2(CuratorFramework c) throws Exception {
        // protected + parents + sequential in background
        BlockingQueue<String> q = new LinkedBlockingQueue<>();
        c.create().creatingParentsIfNeeded().withProtection()
            .withMode(CreateMode.PERSISTENT_SEQUENTIAL)
            .inBackground((cl, e) -> q.add(Rx.unprotect(ev(e))))
            .forPath(root + "/q/r/item-", b("bg"));
        log("bg %s", take(q));
    }

    @Test
    void orSetData() throws Exception {
        CuratorFramework c = curator();
        String p = root + "/o";
        log("first %s", r(c.create().orSetData().forPath(p, b("1"))));
        log("second %s", r(c.create().orSetData().forPath(p, b("2"))));
        Stat st = new Stat();
        log("data %s %s", s(c.getData().storingStatIn(st).forPath(p)),
            stat(st));
        log("orSetData(5): %s",
            code(() -> c.create().orSetData(5).forPath(p, b("3"))));
        log("orSetData(1): %s",
            code(() -> c.create().orSetData(1).forPath(p, b("3"))));
        Stat st2 = new Stat();
        c.create().orSetData().storingStatIn(st2).forPath(p, b("4"));
        log("storingStatIn %s", stat(st2));
        log("with parents %s", r(c.create().orSetData()
            .creatingParentsIfNeeded().forPath(root + "/q/r", b("z"))));
        log("q/r data %s", s(c.getData().forPath(root + "/q/r")));
        Stat st3 = new Stat();
        c.create().storingStatIn(st3).forPath(root + "/s", b("abc"));
        log("create2 stat %s", stat(st3));
    }

    @Test
    void idempotentOps() throws Exception {
        CuratorFramework c = curator();
        String p = root + "/i";
        log("create: %s", code(() -> c.create().idempotent().forPath(p, b("a"))));
        log("create same: %s",
            code(() -> c.create().idempotent().forPath(p, b("a"))));
        log("create other data: %s",
            code(() -> c.create().idempotent().forPath(p, b("b"))));
        log("set v0: %s", code(() -> c.setData().idempotent().withVersion(0)
            .forPath(p, b("b"))));
        log("set v0 same again: %s", code(() -> c.setData().idempotent()
            .withVersion(0).forPath(p, b("b"))));
        log("set v0 other data: %s", code(() -> c.setData().idempotent()
            .withVersion(0).forPath(p, b("c"))));
        log("plain set v0: %s",
            code(() -> c.setData().withVersion(0).forPath(p, b("b"))));
        log("stat %s", stat(c.checkExists().forPath(p)));
        log("delete wrong version: %s", code(() -> c.delete().idempotent()
            .withVersion(7).forPath(p)));
        log("delete: %s", code(() -> c.delete().idempotent().forPath(p)));
        log("delete again: %s", code(() -> c.delete().idempotent().forPath(p)));
        log("plain delete again: %s", code(() -> c.delete().forPath(p)));
    }

    @Test
    void deleteVariants() throws Exception {
        CuratorFramework c = curator();
        String d = root + "/d";
        c.create().creatingParentsIfNeeded().forPath(d + "/a/b/c", b("1"));
        c.create().forPath(d + "/x", b("2"));
        log("not empty: %s", code(() -> c.delete().forPath(d)));
        log("bad version: %s",
            code(() -> c.delete().withVersion(3).forPath(d + "/x")));
        log("deletingChildren: %s",
            code(() -> c.delete().deletingChildrenIfNeeded().forPath(d)));
        log("exists after: %b", c.checkExists().forPath(d) != null);
        log("quietly missing: %s",
            code(() -> c.delete().quietly().forPath(d)));
        log("guaranteed missing: %s",
            code(() -> c.delete().guaranteed().forPath(d)));
        c.create().forPath(d, b("3"));
        log("guaranteed: %s", code(() -> c.delete().guaranteed()
            .withVersion(0).forPath(d)));
        log("deletingChildren missing: %s",
            code(() -> c.delete().deletingChildrenIfNeeded().forPath(d)));
        log("root children %s", c.getChildren().forPath(root));
    }

    @Test
    void backgroundCallbacks() throws Exception {
        CuratorFramework c = curator();
        BlockingQueue<String> q = new LinkedBlockingQueue<>();
        BackgroundCallback cb = (cl, e) -> q.add(ev(e));
        String p = root + "/bg";
        c.create().inBackground(cb, "ctx1").forPath(p, b("one"));
        log("%s", take(q));
        c.create().inBackground(cb).forPath(p, b("dup"));
        log("%s", take(q));
        c.create().withMode(CreateMode.PERSISTENT_SEQUENTIAL)
            .inBackground(cb).forPath(p + "/s-", b("s"));
        log("%s", take(q));
        c.create().withMode(CreateMode.EPHEMERAL).inBackground(cb)
            .forPath(p + "/e", b("e"));
        log("%s", take(q));
        c.getData().inBackground(cb).forPath(p);
        log("%s", take(q));
        c.setData().inBackground(cb).forPath(p, b("two"));
        log("%s", take(q));
        c.setData().withVersion(0).inBackground(cb).forPath(p, b("x"));
        log("%s", take(q));
        c.checkExists().inBackground(cb).forPath(p);
        log("%s", take(q));
        c.checkExists().inBackground(cb).forPath(p + "/missing");
        log("%s", take(q));
        c.getData().inBackground(cb).forPath(p + "/missing");
        log("%s", take(q));
        c.getChildren().inBackground(cb).forPath(p);
        log("%s", take(q));
        c.getACL().inBackground(cb).forPath(p);
        log("%s", take(q));
        c.setACL().withACL(ZooDefs.Ids.OPEN_ACL_UNSAFE).inBackground(cb)
            .forPath(p);
        log("%s", take(q));
        c.sync().inBackground(cb).forPath(p);
        log("%s", take(q));
        c.delete().inBackground(cb).forPath(p);
        log("%s", take(q));
        c.delete().deletingChildrenIfNeeded().inBackground(cb).forPath(p);
        log("%s", take(q));
        c.delete().inBackground(cb).forPath(p);
        log("%s", take(q));
        c.create().creatingParentsIfNeeded().inBackground(cb)
            .forPath(p + "/deep/er", b("d"));
        log("%s", take(q));
        c.getChildren().inBackground(cb).forPath(p + "/nope");
        log("%s", take(q));
        log("extra %s", rest(q, 100));
    }

    @Test
    void curatorListener() throws Exception {
        CuratorFramework c = curator();
        BlockingQueue<String> q = new LinkedBlockingQueue<>();
        c.getCuratorListenable().addListener((cl, e) -> {
            try {
                if (e.getWatchedEvent() == null || e.getWatchedEvent().getType()
                        != Watcher.Event.EventType.None)
                    q.add(ev(e));
            } catch (Throwable t) {
                q.add("listener failed: " + t);
            }
        });
        String p = root + "/l";
        c.create().inBackground().forPath(p, b("1"));
        log("%s", take(q));
        c.getData().watched().inBackground().forPath(p);
        log("%s", take(q));
        c.setData().forPath(p, b("2"));
        log("%s", take(q));
        c.checkExists().watched().forPath(p + "/k");
        c.getChildren().watched().forPath(p);
        c.create().forPath(p + "/k", b("k"));
        List<String> two = Rx.sorted(Arrays.asList(take(q), take(q)));
        log("%s", two);
        c.getData().watched().forPath(p + "/k");
        c.delete().forPath(p + "/k");
        log("%s", take(q));
        log("extra %s", rest(q, 100));
    }

    @Test
    void watchers() throws Exception {
        CuratorFramework c = curator();
        CuratorFramework o = curator();
        BlockingQueue<String> q = new LinkedBlockingQueue<>();
        CuratorWatcher cw = e -> q.add(e.getType() + " " + r(e.getPath()));
        String p = root + "/w";
        log("exists %s", c.checkExists().usingWatcher(cw).forPath(p));
        o.create().forPath(p, b("1"));
        log("%s", take(q));
        c.getData().usingWatcher(cw).forPath(p);
        c.getChildren().usingWatcher(cw).forPath(p);
        o.create().forPath(p + "/k", b("k"));
        log("%s", take(q));
        o.setData().forPath(p, b("2"));
        log("%s", take(q));
        c.getData().usingWatcher(cw).forPath(p);
        o.delete().forPath(p + "/k");
        log("no child watch: %s", rest(q, 150));
        o.delete().forPath(p);
        log("%s", take(q));
        Watcher plain = e -> q.add("plain " + e.getType() + " " + r(e.getPath()));
        o.create().forPath(p, b("1"));
        c.getData().usingWatcher(plain).forPath(p);
        log("remove: %s", code(() -> c.watches().remove(plain).forPath(p)));
        o.setData().forPath(p, b("3"));
        log("after remove: %s", rest(q, 150));
        log("remove again: %s",
            code(() -> c.watches().remove(plain).forPath(p)));
        log("removeAll none: %s", code(() -> c.watches().removeAll()
            .forPath(p)));
        log("removeAll none quietly: %s", code(() -> c.watches().removeAll()
            .quietly().forPath(p)));
        c.getData().usingWatcher(cw).forPath(p);
        c.getChildren().usingWatcher(cw).forPath(p);
        log("removeAll data: %s", code(() -> c.watches().removeAll()
            .ofType(Watcher.WatcherType.Data).forPath(p)));
        log("%s", take(q));
        o.create().forPath(p + "/c2", b("x"));
        log("%s", take(q));
        o.setData().forPath(p, b("4"));
        log("after removeAll data: %s", rest(q, 150));
        log("server-side removeAll: %s", code(() -> c.watches().removeAll()
            .ofType(Watcher.WatcherType.Any).forPath(p)));
        log("server-side removeAll locally: %s", code(() -> c.watches()
            .removeAll().locally().forPath(p)));
        o.delete().deletingChildrenIfNeeded().forPath(p);
        log("end %s", rest(q, 150));
        // one change, two watches: the order of the two events
        o.create().forPath(p, b("1"));
        o.create().forPath(p + "/k", b("k"));
        c.getData().usingWatcher(cw).forPath(p + "/k");
        c.getChildren().usingWatcher(cw).forPath(p);
        o.delete().forPath(p + "/k");
        log("delete: %s then %s", take(q), take(q));
        c.checkExists().usingWatcher(cw).forPath(p + "/k");
        c.getChildren().usingWatcher(cw).forPath(p);
        o.create().forPath(p + "/k", b("k"));
        log("create: %s then %s", take(q), take(q));
        CuratorFramework e = curator();
        e.create().withMode(CreateMode.EPHEMERAL).forPath(p + "/e", b("e"));
        c.getData().usingWatcher(cw).forPath(p + "/e");
        c.getChildren().usingWatcher(cw).forPath(p);
        e.close();
        log("session close: %s then %s", take(q), take(q));
        log("end %s", rest(q, 100));
    }

    @Test
    void persistentWatches() throws Exception {
        CuratorFramework c = curator();
        CuratorFramework c2 = curator();
        CuratorFramework o = curator();
        BlockingQueue<String> rq = new LinkedBlockingQueue<>();
        BlockingQueue<String> pq = new LinkedBlockingQueue<>();
        String p = root + "/pw";
        Watcher rw = e -> rq.add(e.getType() + " " + r(e.getPath()));
        CuratorWatcher pw = e -> pq.add(e.getType() + " " + r(e.getPath()));
        c.watchers().add().withMode(AddWatchMode.PERSISTENT_RECURSIVE)
            .usingWatcher(rw).forPath(p);
        c2.watchers().add().withMode(AddWatchMode.PERSISTENT)
            .usingWatcher(pw).forPath(p);
        o.create().forPath(p, b("0"));
        o.create().forPath(p + "/a", b("1"));
        o.create().forPath(p + "/a/b", b("2"));
        o.setData().forPath(p + "/a", b("3"));
        o.setData().forPath(p, b("4"));
        o.delete().forPath(p + "/a/b");
        o.delete().forPath(p + "/a");
        List<String> r1 = new ArrayList<>();
        for (int i = 0; i < 7; i++)
            r1.add(take(rq));
        log("recursive %s", r1);
        List<String> p1 = new ArrayList<>();
        for (int i = 0; i < 4; i++)
            p1.add(take(pq));
        log("persistent %s", p1);
        log("remove recursive: %s", code(() -> c.watchers().remove(rw)
            .ofType(Watcher.WatcherType.Any).forPath(p)));
        log("%s", take(rq));
        o.create().forPath(p + "/z", b("z"));
        log("%s", take(pq));
        log("recursive after remove %s", rest(rq, 150));
        BlockingQueue<String> bq = new LinkedBlockingQueue<>();
        c.watchers().add().withMode(AddWatchMode.PERSISTENT_RECURSIVE)
            .inBackground((cl, e) -> bq.add(ev(e))).usingWatcher(rw)
            .forPath(p + "/z");
        log("bg %s", take(bq));
        o.setData().forPath(p + "/z", b("zz"));
        log("%s", take(rq));
        log("persistent after data change below %s", rest(pq, 100));
        // one session, both modes on one path: the server keeps one mode
        // per path and session, the last one added
        BlockingQueue<String> bothR = new LinkedBlockingQueue<>();
        BlockingQueue<String> bothP = new LinkedBlockingQueue<>();
        CuratorFramework c3 = curator();
        c3.watchers().add().withMode(AddWatchMode.PERSISTENT_RECURSIVE)
            .usingWatcher((Watcher) e -> bothR.add(e.getType() + " "
                + r(e.getPath()))).forPath(p);
        c3.watchers().add().withMode(AddWatchMode.PERSISTENT)
            .usingWatcher((Watcher) e -> bothP.add(e.getType() + " "
                + r(e.getPath()))).forPath(p);
        o.create().forPath(p + "/y", b("y"));
        o.create().forPath(p + "/y/deeper", b("y"));
        o.setData().forPath(p, b("5"));
        log("same session recursive-then-persistent: recursive %s",
            rest(bothR, 300));
        log("same session recursive-then-persistent: persistent %s",
            rest(bothP, 50));
        // one session: a recursive watch, then a one-shot data watch on
        // the same path
        BlockingQueue<String> mixR = new LinkedBlockingQueue<>();
        BlockingQueue<String> mixD = new LinkedBlockingQueue<>();
        CuratorFramework c4 = curator();
        String m = root + "/mix";
        o.create().forPath(m, b("0"));
        c4.watchers().add().withMode(AddWatchMode.PERSISTENT_RECURSIVE)
            .usingWatcher((Watcher) e -> mixR.add(e.getType() + " "
                + r(e.getPath()))).forPath(m);
        c4.getData().usingWatcher((Watcher) e -> mixD.add(e.getType() + " "
            + r(e.getPath()))).forPath(m);
        o.create().forPath(m + "/a", b("a"));
        o.setData().forPath(m, b("1"));
        o.setData().forPath(m + "/a", b("b"));
        o.setData().forPath(m, b("2"));
        log("recursive then data watch: recursive %s", rest(mixR, 300));
        log("recursive then data watch: data %s", rest(mixD, 50));
    }

    @Test
    void transactions() throws Exception {
        CuratorFramework c = curator();
        String p = root + "/t";
        CuratorOp[] ops = {
            c.transactionOp().create().forPath(p, b("1")),
            c.transactionOp().setData().forPath(p, b("2")),
            c.transactionOp().check().withVersion(1).forPath(p),
            c.transactionOp().create().withMode(CreateMode.PERSISTENT_SEQUENTIAL)
                .forPath(p + "/s-", b("s")),
            c.transactionOp().create().withMode(CreateMode.EPHEMERAL)
                .forPath(p + "/e", b("e")),
            c.transactionOp().delete().forPath(p + "/s-0000000000"),
        };
        for (CuratorTransactionResult t : c.transaction().forOperations(ops))
            log("ok %s", tr(t));
        log("node %s", stat(c.checkExists().forPath(p)));
        try {
            c.transaction().forOperations(
                c.transactionOp().create().forPath(p + "/n", b("n")),
                c.transactionOp().setData().withVersion(99).forPath(p, b("x")),
                c.transactionOp().delete().forPath(p + "/e"));
            log("failing multi: ok?");
        } catch (KeeperException e) {
            StringBuilder sb = new StringBuilder();
            if (e.getResults() != null)
                for (OpResult o : e.getResults())
                    sb.append(" ").append(o instanceof OpResult.ErrorResult
                        ? Rx.code(((OpResult.ErrorResult) o).getErr())
                        : o.getClass().getSimpleName());
            log("failing multi: %s path=%s results:%s", e.code(),
                r(e.getPath()), sb);
        }
        log("n exists %b", c.checkExists().forPath(p + "/n") != null);
        BlockingQueue<String> q = new LinkedBlockingQueue<>();
        c.transaction().inBackground((cl, e) -> q.add(ev(e))).forOperations(
            c.transactionOp().create().forPath(p + "/n", b("n")),
            c.transactionOp().check().withVersion(0).forPath(p),
            c.transactionOp().delete().forPath(p + "/e"));
        log("bg failing %s", take(q));
        c.transaction().inBackground((cl, e) -> q.add(ev(e))).forOperations(
            c.transactionOp().create().forPath(p + "/n", b("n")),
            c.transactionOp().check().withVersion(1).forPath(p),
            c.transactionOp().setData().withVersion(0).forPath(p + "/e", b("f")),
            c.transactionOp().delete().forPath(p + "/e"));
        log("bg ok %s", take(q));
        log("empty: %s", code(() -> log("empty result %s",
            c.transaction().forOperations(new ArrayList<>()))));
        log("create in missing parent: %s", code(() -> c.transaction()
            .forOperations(c.transactionOp().create().forPath(p + "/x/y"))));
        log("children %s", Rx.sorted(c.getChildren().forPath(p)));
        for (CuratorTransactionResult t : c.transaction().forOperations(
                c.transactionOp().create().withMode(CreateMode.CONTAINER)
                    .forPath(p + "/cont", b("c")),
                c.transactionOp().create().forPath(p + "/cont/k", b("k")),
                c.transactionOp().create().withTtl(60000)
                    .withMode(CreateMode.PERSISTENT_WITH_TTL)
                    .forPath(p + "/ttl", b("t")),
                c.transactionOp().create().withTtl(60000)
                    .withMode(CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL)
                    .forPath(p + "/ttls-", b("t")),
                c.transactionOp().create()
                    .withMode(CreateMode.EPHEMERAL_SEQUENTIAL)
                    .forPath(p + "/es-", b("e"))))
            log("extended ok %s", tr(t));
        Stat ts = c.checkExists().forPath(p + "/ttl");
        log("ttl from multi %s owner=%x", stat(ts), ts.getEphemeralOwner());
        c.delete().forPath(p + "/cont/k");
        log("container from multi reaped: %b", Rx.until(() ->
            c.checkExists().forPath(p + "/cont") == null, 8000));
        BlockingQueue<String> wq = new LinkedBlockingQueue<>();
        CuratorWatcher w = e -> wq.add(e.getType() + " " + r(e.getPath()));
        c.checkExists().usingWatcher(w).forPath(p + "/w1");
        c.getData().usingWatcher(w).forPath(p + "/n");
        c.getChildren().usingWatcher(w).forPath(p);
        c.getData().usingWatcher(w).forPath(p + "/ttl");
        CuratorFramework o = curator();
        o.transaction().forOperations(
            o.transactionOp().setData().forPath(p + "/ttl", b("u")),
            o.transactionOp().create().forPath(p + "/w1", b("1")),
            o.transactionOp().delete().forPath(p + "/n"),
            o.transactionOp().create().forPath(p + "/w2", b("2")));
        List<String> evs = new ArrayList<>();
        for (int i = 0; i < 4; i++)
            evs.add(take(wq));
        log("watch events from one multi %s", evs);
        log("extra %s", rest(wq, 100));
    }

    @SuppressWarnings("deprecation")
    @Test
    void legacyInTransaction() throws Exception {
        CuratorFramework c = curator();
        String p = root + "/lt";
        Collection<CuratorTransactionResult> res = c.inTransaction()
            .create().forPath(p, b("1")).and()
            .create().withMode(CreateMode.PERSISTENT_SEQUENTIAL)
            .forPath(p + "/q-", b("q")).and()
            .setData().forPath(p, b("2")).and()
            .check().withVersion(1).forPath(p).and()
            .commit();
        for (CuratorTransactionResult t : res)
            log("ok %s", tr(t));
        log("failing: %s", code(() -> c.inTransaction()
            .delete().forPath(p + "/q-0000000000").and()
            .delete().forPath(p + "/missing").and().commit()));
        log("q still there %b",
            c.checkExists().forPath(p + "/q-0000000000") != null);
        CuratorTempFramework t = CuratorFrameworkFactory.builder()
            .connectString(CONNECT).retryPolicy(new ExponentialBackoffRetry(100, 3))
            .buildTemp(2, TimeUnit.SECONDS);
        try {
            Collection<CuratorTransactionResult> r2 = t.inTransaction()
                .setData().forPath(p, b("temp")).and().commit();
            for (CuratorTransactionResult x : r2)
                log("temp %s", tr(x));
            log("temp get %s", s(t.getData().forPath(p)));
        } finally {
            t.close();
        }
    }

    @Test
    void namespaces() throws Exception {
        String ns = root.substring(1) + "/ns";
        CuratorFramework a = curator(CuratorFrameworkFactory.builder()
            .namespace(ns + "/a"));
        CuratorFramework c = curator();
        CuratorFramework bb = c.usingNamespace(ns + "/b");
        log("namespaces %s %s", a.getNamespace().equals(ns + "/a"),
            bb.getNamespace().equals(ns + "/b"));
        log("a create %s", a.create().forPath("/x", b("ax")));
        log("b create %s", bb.create().forPath("/x", b("bx")));
        log("a seq %s", a.create().withMode(CreateMode.PERSISTENT_SEQUENTIAL)
            .forPath("/s-", b("s")));
        log("a prot %s", Rx.unprotect(a.create().withProtection()
            .withMode(CreateMode.EPHEMERAL_SEQUENTIAL).forPath("/p-", b("p"))));
        log("data a=%s b=%s", s(a.getData().forPath("/x")),
            s(bb.getData().forPath("/x")));
        log("a children %s",
            Rx.unprotect(Rx.sorted(a.getChildren().forPath("/")).toString()));
        log("b children %s", Rx.sorted(bb.getChildren().forPath("/")));
        log("ns children %s",
            Rx.sorted(c.getChildren().forPath(root + "/ns")));
        log("a sees b? %s", a.checkExists().forPath("/b") == null);
        log("non-namespace view %s", s(a.nonNamespaceView().getData()
            .forPath(root + "/ns/b/x")));
        log("usingNamespace(null) %s", s(bb.usingNamespace(null).getData()
            .forPath(root + "/ns/a/x")));
        BlockingQueue<String> q = new LinkedBlockingQueue<>();
        a.getData().usingWatcher((CuratorWatcher) e -> q.add(e.getType()
            + " " + e.getPath())).forPath("/x");
        c.setData().forPath(root + "/ns/a/x", b("ax2"));
        log("watch in namespace: %s", take(q));
        BlockingQueue<String> bq = new LinkedBlockingQueue<>();
        bb.getData().inBackground((cl, e) -> bq.add(ev(e))).forPath("/x");
        log("bg in namespace: %s", take(bq));
        for (CuratorTransactionResult t : a.transaction().forOperations(
                a.transactionOp().create().forPath("/t", b("t")),
                a.transactionOp().setData().forPath("/x", b("ax3")),
                a.transactionOp().delete().forPath("/t")))
            log("txn in namespace %s", tr(t));
        log("a tree %s", Rx.unprotect(
            Rx.tree(client(), root + "/ns/a").keySet().toString()));
        log("ns parent node %s", stat(c.checkExists().forPath(root + "/ns")));
        CuratorFramework deep = c.usingNamespace(ns + "/deep/er");
        deep.create().creatingParentsIfNeeded().forPath("/1/2", b("12"));
        log("deep tree %s",
            Rx.unprotect(Rx.tree(client(), root + "/ns").toString()));
    }

    @Test
    void connectionStateListener() throws Exception {
        BlockingQueue<String> q = new LinkedBlockingQueue<>();
        CuratorFramework c = Rx.curatorAt(CONNECT, 30000,
            CuratorFrameworkFactory.builder());
        c.getConnectionStateListenable().addListener((cl, st) ->
            q.add(st + " connected=" + st.isConnected()));
        c.getUnhandledErrorListenable().addListener((m, e) ->
            q.add("unhandled " + m));
        log("state before start %s", c.getState());
        c.start();
        log("%s", take(q));
        log("state %s connected=%b", c.getState(),
            c.getZookeeperClient().isConnected());
        log("blockUntilConnected %b", c.blockUntilConnected(1, TimeUnit.SECONDS));
        log("policy %s", c.getConnectionStateErrorPolicy().getClass()
            .getSimpleName());
        log("error state SUSPENDED=%b LOST=%b", c.getConnectionStateErrorPolicy()
            .isErrorState(ConnectionState.SUSPENDED), c
            .getConnectionStateErrorPolicy().isErrorState(ConnectionState.LOST));
        c.create().forPath(root + "/x", b("1"));
        c.close();
        log("after close %s; state %s", rest(q, 200), c.getState());
    }

    @Test
    void aclsAndAuth() throws Exception {
        CuratorFramework u = curator(CuratorFrameworkFactory.builder()
            .authorization("digest", b("alice:secret")));
        CuratorFramework o = curator();
        String p = root + "/sec";
        u.create().withACL(ZooDefs.Ids.CREATOR_ALL_ACL).forPath(p, b("s"));
        log("acl %s", Rx.acls(u.getACL().forPath(p)));
        log("owner get %s", s(u.getData().forPath(p)));
        log("other get: %s", code(() -> o.getData().forPath(p)));
        log("other set: %s", code(() -> o.setData().forPath(p, b("x"))));
        log("other setACL: %s", code(() -> o.setACL()
            .withACL(ZooDefs.Ids.OPEN_ACL_UNSAFE).forPath(p)));
        log("other getACL: %s", code(() -> o.getACL().forPath(p)));
        log("other create child: %s",
            code(() -> o.create().forPath(p + "/c", b("c"))));
        log("other exists: %b", o.checkExists().forPath(p) != null);
        log("setACL bad version: %s", code(() -> u.setACL().withVersion(5)
            .withACL(ZooDefs.Ids.READ_ACL_UNSAFE).forPath(p)));
        Stat st = u.setACL().withVersion(0).withACL(ZooDefs.Ids.READ_ACL_UNSAFE)
            .forPath(p);
        log("setACL %s", stat(st));
        log("other get now %s", s(o.getData().forPath(p)));
        log("other set now: %s", code(() -> o.setData().forPath(p, b("x"))));
        log("owner set now: %s", code(() -> u.setData().forPath(p, b("x"))));
        List<ACL> ip = Arrays.asList(
            new ACL(ZooDefs.Perms.READ, new Id("ip", "127.0.0.1")),
            new ACL(ZooDefs.Perms.ALL, new Id("ip", "10.1.2.0/24")));
        o.create().withACL(ip).forPath(root + "/ip", b("ip"));
        log("ip acl read: %s", code(() -> o.getData().forPath(root + "/ip")));
        log("ip acl write: %s",
            code(() -> o.setData().forPath(root + "/ip", b("y"))));
        log("bad acl: %s", code(() -> o.create().withACL(Arrays.asList(
            new ACL(ZooDefs.Perms.ALL, new Id("nosuch", "x"))))
            .forPath(root + "/bad")));
        log("empty acl: %s", code(() -> o.create().withACL(new ArrayList<>())
            .forPath(root + "/empty")));
        log("auth acl without auth: %s", code(() -> o.create()
            .withACL(ZooDefs.Ids.CREATOR_ALL_ACL).forPath(root + "/noauth")));
        List<ACL> dup = Arrays.asList(
            new ACL(ZooDefs.Perms.READ, ZooDefs.Ids.ANYONE_ID_UNSAFE),
            new ACL(ZooDefs.Perms.ALL, new Id("ip", "127.0.0.1")),
            new ACL(ZooDefs.Perms.READ, ZooDefs.Ids.ANYONE_ID_UNSAFE),
            new ACL(ZooDefs.Perms.ALL, new Id("ip", "127.0.0.1")));
        o.create().withACL(dup).forPath(root + "/dup", b("d"));
        log("duplicate entries %s", Rx.acls(o.getACL().forPath(root + "/dup")));
        CuratorFramework two = curator(CuratorFrameworkFactory.builder()
            .authorization(Arrays.asList(
                new org.apache.curator.framework.AuthInfo("digest",
                    b("bob:pw1")),
                new org.apache.curator.framework.AuthInfo("digest",
                    b("carol:pw2")))));
        two.create().withACL(ZooDefs.Ids.CREATOR_ALL_ACL)
            .forPath(root + "/two", b("2"));
        log("creator acl with two identities %s",
            Rx.acls(two.getACL().forPath(root + "/two")));
        List<ACL> mixed = Arrays.asList(
            new ACL(ZooDefs.Perms.READ | ZooDefs.Perms.WRITE,
                    ZooDefs.Ids.AUTH_IDS),
            new ACL(ZooDefs.Perms.READ, ZooDefs.Ids.ANYONE_ID_UNSAFE));
        two.create().withACL(mixed).forPath(root + "/mixed", b("m"));
        log("auth + world %s", Rx.acls(two.getACL().forPath(root + "/mixed")));
        log("zero perms: %s", code(() -> o.create().withACL(Arrays.asList(
            new ACL(0, ZooDefs.Ids.ANYONE_ID_UNSAFE)))
            .forPath(root + "/zero", b("z"))));
        log("zero perms read: %s", code(() -> o.getData()
            .forPath(root + "/zero")));
        log("bad digest id: %s", code(() -> o.create().withACL(Arrays.asList(
            new ACL(ZooDefs.Perms.ALL, new Id("digest", "nocolon"))))
            .forPath(root + "/baddigest", b("z"))));
        log("bad ip id: %s", code(() -> o.create().withACL(Arrays.asList(
            new ACL(ZooDefs.Perms.ALL, new Id("ip", "999.1.1.1"))))
            .forPath(root + "/badip", b("z"))));
        ACLProvider prov = new ACLProvider() {
            @Override
            public List<ACL> getDefaultAcl() {
                return ZooDefs.Ids.READ_ACL_UNSAFE;
            }

            @Override
            public List<ACL> getAclForPath(String path) {
                return path.endsWith("/leaf") ? ZooDefs.Ids.READ_ACL_UNSAFE
                    : ZooDefs.Ids.OPEN_ACL_UNSAFE;
            }
        };
        CuratorFramework pc = curator(CuratorFrameworkFactory.builder()
            .aclProvider(prov));
        pc.create().creatingParentsIfNeeded().forPath(root + "/pa/pb/leaf",
                                                      b("l"));
        log("provider acls pa=%s pb=%s leaf=%s",
            Rx.acls(pc.getACL().forPath(root + "/pa")),
            Rx.acls(pc.getACL().forPath(root + "/pa/pb")),
            Rx.acls(pc.getACL().forPath(root + "/pa/pb/leaf")));
        pc.create().creatingParentsIfNeeded()
            .withACL(ZooDefs.Ids.OPEN_ACL_UNSAFE, true).forPath(root + "/qa/qb", b("q"));
        log("applyToParents qa=%s", Rx.acls(pc.getACL().forPath(root + "/qa")));
        log("create under read-only node: %s", code(() -> pc.create()
            .forPath(root + "/pa/pb/leaf/x", b("o"))));
        log("default acl (no path match) %s",
            Rx.acls(prov.getAclForPath(root + "/zz")));
    }

    @Test
    void ttlAndContainers() throws Exception {
        CuratorFramework c = curator();
        String t1 = root + "/ttl1";
        String t2 = root + "/ttl2";
        String ct = root + "/ct";
        Stat s1 = new Stat();
        c.create().withTtl(500).storingStatIn(s1)
            .withMode(CreateMode.PERSISTENT_WITH_TTL).forPath(t1, b("t"));
        log("ttl1 %s owner=%x", stat(s1), s1.getEphemeralOwner());
        c.create().withTtl(500).withMode(CreateMode.PERSISTENT_WITH_TTL)
            .forPath(t2, b("t"));
        c.create().forPath(t2 + "/child", b("c"));
        String sq = c.create().withTtl(500)
            .withMode(CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL)
            .forPath(root + "/sq-", b("s"));
        Stat s3 = c.checkExists().forPath(sq);
        log("seq ttl %s owner=%x", r(sq), s3.getEphemeralOwner());
        Stat cs = new Stat();
        c.create().storingStatIn(cs).withMode(CreateMode.CONTAINER)
            .forPath(ct, b("c"));
        log("container %s owner=%x", stat(cs), cs.getEphemeralOwner());
        c.create().forPath(ct + "/x", b("x"));
        c.create().withMode(CreateMode.CONTAINER).forPath(root + "/unused");
        log("ttl child of container: %s", code(() -> c.create().withTtl(500)
            .withMode(CreateMode.PERSISTENT_WITH_TTL).forPath(ct + "/t",
                                                                b("t"))));
        log("ttl with child before: %s", c.checkExists().forPath(t2) != null);
        log("ttl1 and seq ttl reaped: %b", Rx.until(() ->
            c.checkExists().forPath(t1) == null
            && c.checkExists().forPath(sq) == null, 8000));
        Thread.sleep(1100);
        log("after one more reaper cycle: ttl2 with child %b, container "
            + "with children %b", c.checkExists().forPath(t2) != null,
            c.checkExists().forPath(ct) != null);
        log("never-used container kept %b",
            c.checkExists().forPath(root + "/unused") != null);
        log("ttl child of container reaped %b",
            c.checkExists().forPath(ct + "/t") == null);
        c.delete().forPath(t2 + "/child");
        c.delete().forPath(ct + "/x");
        log("ttl2 and container reaped once empty: %b", Rx.until(() ->
            c.checkExists().forPath(t2) == null
            && c.checkExists().forPath(ct) == null, 8000));
        log("ttl on ephemeral: %s", code(() -> c.create().withTtl(100)
            .withMode(CreateMode.EPHEMERAL).forPath(root + "/e")));
        log("e exists: %b", c.checkExists().forPath(root + "/e") != null);
        log("root after reaping %s", stat(c.checkExists().forPath(root)));
        log("next sequential name %s", r(c.create()
            .withMode(CreateMode.PERSISTENT_SEQUENTIAL).forPath(root + "/n-")));
    }

    @Test
    void configAndEnsemble() throws Exception {
        CuratorFramework c = curator(CuratorFrameworkFactory.builder()
            .ensembleTracker(true));
        Stat st = new Stat();
        byte[] cfg = c.getConfig().storingStatIn(st).forEnsemble();
        log("config '%s' %s", s(cfg), stat(st));
        BlockingQueue<String> q = new LinkedBlockingQueue<>();
        c.getConfig().inBackground((cl, e) -> q.add(ev(e))).forEnsemble();
        log("bg %s", take(q));
        c.getConfig().usingWatcher((CuratorWatcher) e -> q.add("watch "
            + e.getType())).forEnsemble();
        log("/zookeeper children %s",
            Rx.sorted(c.getChildren().forPath("/zookeeper")));
        Stat zs = new Stat();
        log("/zookeeper/config raw '%s' %s", s(c.getData().storingStatIn(zs)
            .forPath("/zookeeper/config")), stat(zs));
        Stat qs = new Stat();
        log("/zookeeper/quota '%s' %s", s(c.getData().storingStatIn(qs)
            .forPath("/zookeeper/quota")), stat(qs));
        log("/zookeeper acl %s", Rx.acls(c.getACL().forPath("/zookeeper")));
        log("/zookeeper/config acl %s",
            Rx.acls(c.getACL().forPath("/zookeeper/config")));
        log("write config: %s", code(() -> c.setData()
            .forPath("/zookeeper/config", b("x"))));
        log("delete config: %s", code(() -> c.delete()
            .forPath("/zookeeper/config")));
        log("create under /zookeeper: %s", code(() -> c.create()
            .forPath("/zookeeper/mine", b("x"))));
        log("reconfig join: %s", code(() -> c.reconfig()
            .joining("server.5=127.0.0.1:2890:3890;2185").forEnsemble()));
        log("reconfig leave: %s", code(() -> c.reconfig().leaving("1")
            .forEnsemble()));
        Thread.sleep(300);
        log("current config version=%d members=%s", c.getCurrentConfig()
            .getVersion(), c.getCurrentConfig().getAllMembers().keySet());
        log("connect string kept: %b", c.getZookeeperClient()
            .getCurrentConnectionString().equals(CONNECT));
        c.create().forPath(root + "/after", b("a"));
        log("still works %s", s(c.getData().forPath(root + "/after")));
        log("no config events %s", rest(q, 100));
    }

    @Test
    void compressionAndSync() throws Exception {
        CuratorFramework c = curator();
        String p = root + "/z";
        byte[] big = new byte[4000];
        Arrays.fill(big, (byte) 'a');
        c.create().compressed().forPath(p, big);
        Stat st = new Stat();
        byte[] raw = c.getData().storingStatIn(st).forPath(p);
        log("raw length=%d stat dataLength=%d", raw.length,
            st.getDataLength());
        log("decompressed %d", c.getData().decompressed().forPath(p).length);
        c.setData().compressed().forPath(p, b("short"));
        log("set compressed -> %s", s(c.getData().decompressed().forPath(p)));
        c.sync().forPath(p);
        log("sync done");
        c.sync().forPath(root + "/missing");
        BlockingQueue<String> q = new LinkedBlockingQueue<>();
        c.sync().inBackground((cl, e) -> q.add(ev(e))).forPath(root
            + "/missing");
        log("sync missing %s", take(q));
        log("just under 1 MB: %s", code(() -> c.create().forPath(root
            + "/big2", new byte[1024 * 1024 - 200])));
        log("big2 %d", c.checkExists().forPath(root + "/big2").getDataLength());
    }

    @Test
    void watcherRemoveFramework() throws Exception {
        CuratorFramework c = curator();
        CuratorFramework o = curator();
        String p = root + "/wr";
        o.create().forPath(p, b("1"));
        WatcherRemoveCuratorFramework w = c.newWatcherRemoveCuratorFramework();
        BlockingQueue<String> q = new LinkedBlockingQueue<>();
        CuratorWatcher cw = e -> q.add(e.getType() + " " + r(e.getPath()));
        w.getData().usingWatcher(cw).forPath(p);
        w.getChildren().usingWatcher(cw).forPath(p);
        w.checkExists().usingWatcher(cw).forPath(p + "/missing");
        w.removeWatchers();
        // removeWatchers works in the background: its three *Removed
        // events first, then the writes
        List<String> removed = new ArrayList<>();
        for (int i = 0; i < 3; i++)
            removed.add(take(q));
        log("removed %s", Rx.sorted(removed));
        o.setData().forPath(p, b("2"));
        o.create().forPath(p + "/missing", b("m"));
        log("after removeWatchers %s", rest(q, 200));
        c.getData().usingWatcher(cw).forPath(p);
        o.setData().forPath(p, b("3"));
        log("plain watch still works %s", take(q));
    }

    @Test
    void childrenOrder() throws Exception {
        // getChildren's order is whatever the server lists; Curator passes
        // it on (deletingChildrenIfNeeded deletes in it, queryForNames and
        // GroupMember-style readers show it)
        CuratorFramework c = curator();
        String p = root + "/o";
        c.create().forPath(p);
        String[] names = {"b", "a", "c", "item-10", "item-2", "x", "pre",
            "zz", "lock-0000000001", "lock-0000000000", "m", "node",
            "\u00fc-name", "\u540d\u524d"};
        for (String n : names)
            c.create().forPath(p + "/" + n, b(n));
        log("listed %s", c.getChildren().forPath(p));
        c.delete().forPath(p + "/a");
        c.delete().forPath(p + "/x");
        c.create().forPath(p + "/a", b("a"));
        log("after delete and re-create %s", c.getChildren().forPath(p));
        for (int i = 0; i < 20; i++)
            c.create().forPath(p + "/k" + i);
        log("32 children %s", c.getChildren().forPath(p));
        BlockingQueue<String> q = new LinkedBlockingQueue<>();
        CuratorWatcher w = e -> q.add(e.getType() + " " + r(e.getPath()));
        for (String n : new String[] {"b", "c", "item-10", "zz"})
            c.getData().usingWatcher(w).forPath(p + "/" + n);
        c.delete().deletingChildrenIfNeeded().forPath(p);
        List<String> order = new ArrayList<>();
        for (int i = 0; i < 4; i++)
            order.add(take(q));
        log("deletingChildrenIfNeeded deleted in order %s", order);
    }

    @Test
    void nullAndEmptyData() throws Exception {
        CuratorFramework c = curator();
        String p = root + "/n";
        c.create().forPath(p, null);
        Stat st = new Stat();
        byte[] d = c.getData().storingStatIn(st).forPath(p);
        log("created with null: data %s length %s %s", d == null ? "null"
            : "non-null", d == null ? "-" : d.length, stat(st));
        c.setData().forPath(p, new byte[0]);
        d = c.getData().forPath(p);
        log("set empty: data %s length %s", d == null ? "null" : "non-null",
            d == null ? "-" : d.length);
        c.setData().forPath(p, null);
        d = c.getData().forPath(p);
        log("set null: data %s", d == null ? "null" : "non-null len "
            + d.length);
        c.create().forPath(p + "/e", new byte[0]);
        d = c.getData().forPath(p + "/e");
        log("created empty: data %s", d == null ? "null" : "non-null len "
            + d.length);
        BlockingQueue<String> q = new LinkedBlockingQueue<>();
        c.getData().inBackground((cl, e) -> q.add("bg data " + (e.getData()
            == null ? "null" : "len " + e.getData().length))).forPath(p);
        log("%s", take(q));
        c.transaction().forOperations(
            c.transactionOp().create().forPath(p + "/t", null),
            c.transactionOp().setData().forPath(p + "/e", null));
        d = c.getData().forPath(p + "/t");
        log("multi create null: %s", d == null ? "null" : "len " + d.length);
        d = c.getData().forPath(p + "/e");
        log("multi set null: %s", d == null ? "null" : "len " + d.length);
        Stat es = new Stat();
        c.getData().storingStatIn(es).forPath(p + "/e");
        log("stat %s", stat(es));
    }

    @Test
    void sequenceNumbers() throws Exception {
        CuratorFramework c = curator();
        String p = root + "/s";
        c.create().forPath(p);
        List<String> got = new ArrayList<>();
        got.add(c.create().withMode(CreateMode.PERSISTENT_SEQUENTIAL)
            .forPath(p + "/q-"));
        c.create().forPath(p + "/plain");
        c.delete().forPath(p + "/plain");
        got.add(c.create().withMode(CreateMode.EPHEMERAL_SEQUENTIAL)
            .forPath(p + "/q-"));
        got.add(c.create().withMode(CreateMode.PERSISTENT_SEQUENTIAL)
            .forPath(p + "/"));
        got.add(c.create().withMode(CreateMode.PERSISTENT_SEQUENTIAL)
            .forPath(p + "/other-"));
        CuratorFramework e = curator();
        e.create().withMode(CreateMode.EPHEMERAL).forPath(p + "/eph");
        e.close();
        log("after ephemeral child's session closed %s",
            stat(c.checkExists().forPath(p)));
        got.add(c.create().withMode(CreateMode.PERSISTENT_SEQUENTIAL)
            .forPath(p + "/q-"));
        c.transaction().forOperations(
            c.transactionOp().create().forPath(p + "/m1"),
            c.transactionOp().delete().forPath(p + "/m1"),
            c.transactionOp().create().withMode(CreateMode.PERSISTENT_SEQUENTIAL)
                .forPath(p + "/q-"));
        got.add(c.create().withMode(CreateMode.PERSISTENT_SEQUENTIAL)
            .forPath(p + "/q-"));
        c.setData().forPath(p, b("data changes do not count"));
        got.add(c.create().withMode(CreateMode.PERSISTENT_SEQUENTIAL)
            .forPath(p + "/q-"));
        try {
            c.transaction().forOperations(
                c.transactionOp().create().forPath(p + "/m2"),
                c.transactionOp().delete().forPath(p + "/missing"));
        } catch (KeeperException ex) {
            log("failed multi %s", ex.code());
        }
        got.add(c.create().withMode(CreateMode.PERSISTENT_SEQUENTIAL)
            .forPath(p + "/q-"));
        for (String g : got)
            log("seq %s", r(g));
        log("children %s", Rx.sorted(c.getChildren().forPath(p)));
        log("parent %s", stat(c.checkExists().forPath(p)));
    }

    @Test
    void errorCodes() throws Exception {
        CuratorFramework c = curator();
        String p = root + "/eph";
        c.create().withMode(CreateMode.EPHEMERAL).forPath(p, b("e"));
        log("child of ephemeral: %s", code(() -> c.create()
            .forPath(p + "/c", b("c"))));
        log("sequential child of ephemeral: %s", code(() -> c.create()
            .withMode(CreateMode.PERSISTENT_SEQUENTIAL).forPath(p + "/c-")));
        log("parents through ephemeral: %s", code(() -> c.create()
            .creatingParentsIfNeeded().forPath(p + "/c/d", b("d"))));
        log("in multi: %s", code(() -> c.transaction().forOperations(
            c.transactionOp().create().forPath(p + "/c", b("c")))));
        log("delete /: %s", code(() -> c.delete().forPath("/")));
        log("delete /zookeeper: %s", code(() -> c.delete()
            .forPath("/zookeeper")));
        log("delete /zookeeper/quota: %s", code(() -> c.delete()
            .forPath("/zookeeper/quota")));
        log("create /zookeeper: %s", code(() -> c.create()
            .forPath("/zookeeper", b("z"))));
        log("create /zookeeper/config/x: %s", code(() -> c.create()
            .forPath("/zookeeper/config/x", b("z"))));
        log("setData /zookeeper: %s", code(() -> c.setData()
            .forPath("/zookeeper", b("z"))));
        log("getData /: '%s'", s(c.getData().forPath("/")));
        log("set missing: %s", code(() -> c.setData().forPath(root + "/m",
                                                               b("m"))));
        log("check missing in multi: %s", code(() -> c.transaction()
            .forOperations(c.transactionOp().check().forPath(root + "/m"))));
        log("check bad version in multi: %s", code(() -> c.transaction()
            .forOperations(c.transactionOp().check().withVersion(4)
                .forPath(p))));
        log("delete bad version in multi: %s", code(() -> c.transaction()
            .forOperations(c.transactionOp().delete().withVersion(4)
                .forPath(p))));
        log("create existing in multi: %s", code(() -> c.transaction()
            .forOperations(c.transactionOp().create().forPath(p))));
        log("getChildren missing: %s", code(() -> c.getChildren()
            .forPath(root + "/m")));
        log("getACL missing: %s", code(() -> c.getACL().forPath(root + "/m")));
        log("setACL missing: %s", code(() -> c.setACL()
            .withACL(ZooDefs.Ids.OPEN_ACL_UNSAFE).forPath(root + "/m")));
        log("setACL bad version: %s", code(() -> c.setACL().withVersion(3)
            .withACL(ZooDefs.Ids.OPEN_ACL_UNSAFE).forPath(p)));
        log("delete ephemeral of own session: %s",
            code(() -> c.delete().forPath(p)));
    }

    @Test
    void racingCreateAndDelete() throws Exception {
        int n = 4;
        List<CuratorFramework> cs = Rx.clients(n);
        String p = root + "/r";
        cs.get(0).create().forPath(p);
        java.util.concurrent.ConcurrentHashMap<String, Integer> created =
            new java.util.concurrent.ConcurrentHashMap<>();
        java.util.concurrent.ConcurrentHashMap<String, Integer> deleted =
            new java.util.concurrent.ConcurrentHashMap<>();
        java.util.concurrent.atomic.AtomicInteger other =
            new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.CyclicBarrier phase =
            new java.util.concurrent.CyclicBarrier(n);
        Rx.race(n, 30000, i -> {
            CuratorFramework c = cs.get(i);
            for (int k = 0; k < 25; k++) {
                String x = p + "/n" + k;
                try {
                    c.create().withMode(CreateMode.EPHEMERAL).forPath(x, b("" + i));
                    created.merge(x, 1, Integer::sum);
                } catch (KeeperException.NodeExistsException e) {
                    // someone else won
                }
            }
            phase.await(20, TimeUnit.SECONDS);
            for (int k = 0; k < 25; k++) {
                String x = p + "/n" + k;
                try {
                    c.delete().withVersion(0).forPath(x);
                    deleted.merge(x, 1, Integer::sum);
                } catch (KeeperException.NoNodeException e) {
                    // someone else won
                } catch (KeeperException e) {
                    other.incrementAndGet();
                }
            }
        });
        boolean once = created.size() == 25 && deleted.size() == 25;
        for (int v : created.values())
            once &= v == 1;
        for (int v : deleted.values())
            once &= v == 1;
        log("every name created once and deleted once: %b, other errors %d",
            once, other.get());
        Stat st = cs.get(0).checkExists().forPath(p);
        log("parent cversion %d numChildren %d", st.getCversion(),
            st.getNumChildren());
    }

    @Test
    void largeTransaction() throws Exception {
        CuratorFramework c = curator();
        String p = root + "/big";
        c.create().forPath(p);
        List<CuratorOp> ops = new ArrayList<>();
        for (int i = 0; i < 500; i++)
            ops.add(c.transactionOp().create()
                .withMode(i % 2 == 0 ? CreateMode.PERSISTENT_SEQUENTIAL
                    : CreateMode.PERSISTENT)
                .forPath(p + "/c" + i + "-", b("v" + i)));
        List<CuratorTransactionResult> res = c.transaction().forOperations(ops);
        log("results %d first %s last %s", res.size(), r(res.get(0)
            .getResultPath()), r(res.get(res.size() - 1).getResultPath()));
        Stat st = c.checkExists().forPath(p);
        // no zxids relative to the root: another session's transaction
        // fell between create(p) and this multi on one run (most likely
        // the suite's reaper, every second, deleting an earlier case's
        // empty container); the multi's own zxid is a child's czxid
        Stat first = c.checkExists().forPath(res.get(0).getResultPath());
        log("parent pzxid is the multi's zxid: %b, czxid=mzxid: %b, "
            + "version=%d cversion=%d aversion=%d dataLength=%d "
            + "numChildren=%d", st.getPzxid() == first.getCzxid(),
            st.getCzxid() == st.getMzxid(), st.getVersion(),
            st.getCversion(), st.getAversion(), st.getDataLength(),
            st.getNumChildren());
        List<CuratorOp> dels = new ArrayList<>();
        for (CuratorTransactionResult t : res)
            dels.add(c.transactionOp().delete().forPath(t.getResultPath()));
        dels.add(c.transactionOp().delete().forPath(p + "/missing"));
        try {
            c.transaction().forOperations(dels);
            log("failing delete multi: ok?");
        } catch (KeeperException e) {
            int ok = 0, rt = 0, other = 0;
            for (OpResult o : e.getResults()) {
                int err = ((OpResult.ErrorResult) o).getErr();
                if (err == 0)
                    ok++;
                else if (err == KeeperException.Code.RUNTIMEINCONSISTENCY
                        .intValue())
                    rt++;
                else
                    other++;
            }
            log("failing delete multi %s: %d ok, %d runtime inconsistency, "
                + "%d other (%s last)", e.code(), ok, rt, other, Rx.code(
                ((OpResult.ErrorResult) e.getResults().get(e.getResults()
                    .size() - 1)).getErr()));
        }
        log("children still %d", c.getChildren().forPath(p).size());
        dels.remove(dels.size() - 1);
        log("delete all %d", c.transaction().forOperations(dels).size());
        // the parent's pzxid is the delete multi's zxid, which other
        // sessions' transactions (a previous case's close) may push
        // along: compare the rest exactly and only the order of pzxid
        Stat end = c.checkExists().forPath(p);
        log("parent czxid=%s mzxid=%s version=%d cversion=%d "
            + "numChildren=%d pzxid grew %b", rel(end.getCzxid()),
            rel(end.getMzxid()), end.getVersion(), end.getCversion(),
            end.getNumChildren(), end.getPzxid() > st.getPzxid());
    }

    @Test
    void readAfterWriteAcrossSessions() throws Exception {
        List<CuratorFramework> cs = Rx.clients(3);
        CuratorFramework o = cs.get(0);
        String p = root + "/raw";
        o.create().forPath(p, b("-1"));
        int stale = 0, staleKids = 0, staleExists = 0;
        for (int i = 0; i < 150; i++) {
            o.setData().forPath(p, b(String.valueOf(i)));
            if (!s(cs.get(1 + i % 2).getData().forPath(p))
                    .equals(String.valueOf(i)))
                stale++;
            o.create().forPath(p + "/c" + i);
            if (!cs.get(1 + (i + 1) % 2).getChildren().forPath(p)
                    .contains("c" + i))
                staleKids++;
            o.delete().forPath(p + "/c" + i);
            if (cs.get(1 + i % 2).checkExists().forPath(p + "/c" + i) != null)
                staleExists++;
        }
        log("stale reads after another session's acknowledged write: data %d,"
            + " children %d, exists %d", stale, staleKids, staleExists);
    }

    @Test
    void watchEventBeforeNewData() throws Exception {
        CuratorFramework c = curator();
        CuratorFramework o = curator();
        String p = root + "/wb";
        o.create().forPath(p, b("0"));
        BlockingQueue<String> q = new LinkedBlockingQueue<>();
        CuratorWatcher w = e -> q.add("event " + e.getType());
        int bad = 0;
        List<String> first = null;
        for (int i = 1; i <= 40; i++) {
            c.getData().usingWatcher(w).forPath(p);
            c.getChildren().usingWatcher(w).forPath(p);
            o.setData().forPath(p, b(String.valueOf(i)));
            c.getData().inBackground((cl, e) -> q.add("data " + s(e.getData())))
                .forPath(p);
            String a1 = take(q);
            String a2 = take(q);
            o.create().forPath(p + "/k" + i);
            c.getChildren().inBackground((cl, e) -> q.add("children "
                + e.getChildren().size())).forPath(p);
            String a3 = take(q);
            String a4 = take(q);
            List<String> got = Arrays.asList(a1, a2, a3, a4);
            if (first == null)
                first = got;
            if (!got.equals(Arrays.asList("event NodeDataChanged",
                    "data " + i, "event NodeChildrenChanged",
                    "children " + i)))
                bad++;
        }
        log("first round %s", first);
        log("rounds where the new data came before the watch event: %d of 40",
            bad);
        log("extra %s", rest(q, 100));
    }

    @Test
    void pipelinedBackgroundOps() throws Exception {
        CuratorFramework c = curator();
        String p = root + "/pipe";
        c.create().forPath(p);
        BlockingQueue<String> q = new LinkedBlockingQueue<>();
        int n = 200;
        for (int i = 0; i < n; i++) {
            final int k = i;
            switch (i % 4) {
                case 0:
                    c.create().withMode(CreateMode.PERSISTENT_SEQUENTIAL)
                        .inBackground((cl, e) -> q.add(k + " " + e.getType()
                            + " " + Rx.code(e.getResultCode()) + " "
                            + e.getName().substring(p.length())))
                        .forPath(p + "/s-", b("" + k));
                    break;
                case 1:
                    c.setData().inBackground((cl, e) -> q.add(k + " "
                        + e.getType() + " " + Rx.code(e.getResultCode())
                        + " v" + e.getStat().getVersion())).forPath(p, b("" + k));
                    break;
                case 2:
                    c.getData().inBackground((cl, e) -> q.add(k + " "
                        + e.getType() + " " + s(e.getData()))).forPath(p);
                    break;
                default:
                    c.getChildren().inBackground((cl, e) -> q.add(k + " "
                        + e.getType() + " " + e.getChildren().size()))
                        .forPath(p);
            }
        }
        List<String> got = new ArrayList<>();
        for (int i = 0; i < n; i++)
            got.add(take(q));
        boolean inOrder = true;
        for (int i = 0; i < n; i++)
            inOrder &= got.get(i).startsWith(i + " ");
        log("callbacks in submission order: %b", inOrder);
        log("first 8 %s", got.subList(0, 8));
        log("last 4 %s", got.subList(n - 4, n));
    }

    @Test
    void racingVersionedSetData() throws Exception {
        List<CuratorFramework> cs = Rx.clients(4);
        String p = root + "/cas";
        cs.get(0).create().forPath(p, b("0"));
        Set<String> seqs = ConcurrentHashMap.newKeySet();
        Rx.race(4, 30000, i -> {
            CuratorFramework c = cs.get(i);
            for (int k = 0; k < 25; k++) {
                for (int tries = 0; ; tries++) {
                    if (tries > 500)
                        throw new AssertionError("no progress");
                    Stat st = new Stat();
                    int v = Integer.parseInt(s(c.getData().storingStatIn(st)
                        .forPath(p)));
                    try {
                        c.setData().withVersion(st.getVersion())
                            .forPath(p, b(String.valueOf(v + 1)));
                        break;
                    } catch (KeeperException.BadVersionException e) {
                        // lost the race; read again
                    }
                }
                seqs.add(c.create().withMode(CreateMode.PERSISTENT_SEQUENTIAL)
                    .forPath(p + "/s-", b("" + i)));
            }
        });
        Stat st = new Stat();
        log("counter %s", s(cs.get(0).getData().storingStatIn(st).forPath(p)));
        log("version=%d cversion=%d numChildren=%d", st.getVersion(),
            st.getCversion(), st.getNumChildren());
        List<String> kids = Rx.sorted(cs.get(1).getChildren().forPath(p));
        log("sequential children %d distinct=%d first=%s last=%s",
            kids.size(), seqs.size(), kids.get(0), kids.get(kids.size() - 1));
        assertThat(kids).hasSize(100);
    }
}
