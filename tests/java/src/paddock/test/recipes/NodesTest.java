package paddock.test.recipes;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.nodes.GroupMember;
import org.apache.curator.framework.recipes.nodes.PersistentNode;
import org.apache.curator.framework.recipes.nodes.PersistentTtlNode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.data.Stat;
import org.junit.jupiter.api.Test;

import paddock.test.Zk;

/** Persistent (ephemeral) node, persistent TTL node, group member. */
class NodesTest extends Zk {
    @Test
    void persistentEphemeralNode() throws Exception {
        CuratorFramework a = curator();
        CuratorFramework o = curator();
        String p = root + "/pen";
        PersistentNode n = closeLater(new PersistentNode(a, CreateMode.EPHEMERAL,
            false, p, b("v1")));
        List<String> created = Collections.synchronizedList(new ArrayList<>());
        n.getListenable().addListener(path -> created.add(Rx.rel(root, path)));
        n.start();
        log("initial create %b", n.waitForInitialCreate(5, TimeUnit.SECONDS));
        log("actual path %s", Rx.rel(root, n.getActualPath()));
        Stat st = new Stat();
        log("seen by other '%s' %s", s(o.getData().storingStatIn(st).forPath(p)),
            stat(st));
        n.setData(b("v2"));
        log("setData seen: %b", Rx.until(() -> s(o.getData().forPath(p))
            .equals("v2"), 5000));
        log("getData %s", s(n.getData()));
        o.delete().forPath(p);
        log("recreated after delete: %b", Rx.until(() ->
            o.checkExists().forPath(p) != null, 5000));
        log("data after recreate %s", s(o.getData().forPath(p)));
        log("listener %s", Rx.until(() -> created.size() == 2, 5000)
            ? created.toString() : created.size() + " events");
        o.setData().forPath(p, b("foreign"));
        Thread.sleep(200);
        log("foreign data kept %s", s(o.getData().forPath(p)));
        n.close();
        log("after close exists: %b", o.checkExists().forPath(p) != null);
    }

    @Test
    void persistentNodeModes() throws Exception {
        CuratorFramework a = curator();
        CuratorFramework o = curator();
        PersistentNode prot = closeLater(new PersistentNode(a,
            CreateMode.EPHEMERAL_SEQUENTIAL, true, root + "/dir/seq-", b("s")));
        prot.start();
        log("protected sequential created %b",
            prot.waitForInitialCreate(5, TimeUnit.SECONDS));
        String ap = prot.getActualPath();
        log("actual %s", Rx.unprotect(Rx.rel(root, ap)));
        o.delete().forPath(ap);
        // Curator recreates a sequential node under the name it had
        log("recreated under the same name: %b", Rx.until(() -> {
            String x = prot.getActualPath();
            return ap.equals(x) && o.checkExists().forPath(x) != null;
        }, 5000));
        log("new actual %s", Rx.unprotect(Rx.rel(root, prot.getActualPath())));
        log("children %d", o.getChildren().forPath(root + "/dir").size());
        PersistentNode pers = closeLater(new PersistentNode(a,
            CreateMode.PERSISTENT, false, root + "/per", b("p")));
        pers.start();
        log("persistent created %b", pers.waitForInitialCreate(5,
            TimeUnit.SECONDS));
        o.delete().forPath(root + "/per");
        log("persistent recreated %b", Rx.until(() ->
            o.checkExists().forPath(root + "/per") != null, 5000));
        pers.close();
        log("persistent after close: %b",
            o.checkExists().forPath(root + "/per") != null);
        PersistentNode ttl = closeLater(new PersistentNode(a,
            CreateMode.PERSISTENT_WITH_TTL, false, root + "/ttl", b("t"), 800,
            false));
        ttl.start();
        log("ttl node created %b", ttl.waitForInitialCreate(5,
            TimeUnit.SECONDS));
        PersistentNode existing = closeLater(new PersistentNode(a,
            CreateMode.EPHEMERAL, false, root + "/per2", b("mine")));
        o.create().forPath(root + "/per2", b("theirs"));
        existing.start();
        log("over an existing persistent node: created %b",
            existing.waitForInitialCreate(2, TimeUnit.SECONDS));
        log("data now %s owner ephemeral %b", s(o.getData()
            .forPath(root + "/per2")), o.checkExists().forPath(root + "/per2")
            .getEphemeralOwner() != 0);
        PersistentNode bad = closeLater(new PersistentNode(a,
            CreateMode.EPHEMERAL, false, root + "/x/y/z", b("z")));
        bad.start();
        log("parents created %b", bad.waitForInitialCreate(5,
            TimeUnit.SECONDS));
    }

    @Test
    void persistentNodeSurvivesHolderSessionOnlyWhileOpen() throws Exception {
        CuratorFramework a = curator();
        CuratorFramework o = curator();
        String p = root + "/e";
        // closing it would need a started client: it goes with the case
        PersistentNode n = new PersistentNode(a, CreateMode.EPHEMERAL, false, p,
            b("x"));
        n.start();
        n.waitForInitialCreate(5, TimeUnit.SECONDS);
        a.close();
        log("gone after holder's session closed: %b", Rx.until(() ->
            o.checkExists().forPath(p) == null, 5000));
    }

    @Test
    void persistentTtlNode() throws Exception {
        CuratorFramework a = curator();
        CuratorFramework o = curator();
        String p = root + "/pttl";
        PersistentTtlNode n = new PersistentTtlNode(a, p, 500, b("d"));
        n.start();
        log("initial create %b", n.waitForInitialCreate(5, TimeUnit.SECONDS));
        Stat st = new Stat();
        String data = s(o.getData().storingStatIn(st).forPath(p));
        // no zxids relative to the root: another session's transaction
        // fell between the root's create and this node's on one run (the
        // suite's reaper, every second, or an earlier case's clients
        // closing), making czxid +4 where it is +3 alone
        log("node '%s' czxid=mzxid=pzxid:%b mtime>=ctime:%b version=%d "
            + "cversion=%d aversion=%d dataLength=%d numChildren=%d "
            + "owner=%x", data, st.getCzxid() == st.getMzxid()
            && st.getMzxid() == st.getPzxid(), st.getMtime() >= st.getCtime(),
            st.getVersion(), st.getCversion(), st.getAversion(),
            st.getDataLength(), st.getNumChildren(), st.getEphemeralOwner());
        log("children %s", Rx.until(() -> !o.getChildren().forPath(p).isEmpty(),
                                    3000) ? o.getChildren().forPath(p)
            : "none");
        Stat ts = o.checkExists().forPath(p + "/touch");
        log("touch owner=%x", ts == null ? -1 : ts.getEphemeralOwner());
        Thread.sleep(1600);
        log("alive after 3 TTLs while touched: %b",
            o.checkExists().forPath(p) != null);
        n.setData(b("d2"));
        log("data set: %b", Rx.until(() -> s(o.getData().forPath(p))
            .equals("d2"), 5000));
        n.close();
        log("gone after close and TTL: %b", Rx.until(() ->
            o.checkExists().forPath(p) == null, 10000));
    }

    @Test
    void groupMembers() throws Exception {
        List<CuratorFramework> cs = Rx.clients(3);
        String p = root + "/group";
        List<GroupMember> ms = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            GroupMember m = closeLater(new GroupMember(cs.get(i), p, "m" + i,
                b("payload" + i)));
            ms.add(m);
        }
        Rx.race(3, 10000, i -> ms.get(i).start());
        log("all see 3 members: %b", Rx.until(() -> {
            for (GroupMember m : ms)
                if (m.getCurrentMembers().size() != 3)
                    return false;
            return true;
        }, 5000));
        log("members %s", members(ms.get(0)));
        ms.get(1).setThisData(b("updated"));
        log("update seen: %b", Rx.until(() -> "updated".equals(
            s(ms.get(2).getCurrentMembers().get("m1"))), 5000));
        log("idFromPath %s", ms.get(0).idFromPath(p + "/m2"));
        cs.get(2).close();
        log("closed member's session: others see 2: %b", Rx.until(() ->
            ms.get(0).getCurrentMembers().size() == 2
            && ms.get(1).getCurrentMembers().size() == 2, 5000));
        log("members %s", members(ms.get(1)));
        ms.get(0).close();
        log("after close: %b", Rx.until(() ->
            ms.get(1).getCurrentMembers().size() == 1, 5000));
        log("members %s", members(ms.get(1)));
    }

    private static String members(GroupMember m) {
        Map<String, String> out = new TreeMap<>();
        for (Map.Entry<String, byte[]> e : m.getCurrentMembers().entrySet())
            out.put(e.getKey(), s(e.getValue()));
        return out.toString();
    }
}
