package paddock.test.client;

import java.util.Arrays;

import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;
import org.junit.jupiter.api.Test;

/** Ephemerals and getEphemerals; TTL and container nodes and their reaping
 *  (the server's reaper runs every second in this suite). */
class EphemeralTtlContainerTest extends ClientBase {

    @Test
    void getEphemerals() throws Exception {
        ZooKeeper zk = client();
        ZooKeeper other = client();
        zk.create(root + "/p", b(""), OPEN, CreateMode.PERSISTENT);
        zk.create(root + "/e1", b(""), OPEN, CreateMode.EPHEMERAL);
        zk.create(root + "/e2", b(""), OPEN, CreateMode.EPHEMERAL);
        zk.create(root + "/ex-", b(""), OPEN, CreateMode.EPHEMERAL_SEQUENTIAL);
        zk.create(root + "/p/e3", b(""), OPEN, CreateMode.EPHEMERAL);
        zk.create(root + "/pe", b(""), OPEN, CreateMode.EPHEMERAL);
        other.create(root + "/o1", b(""), OPEN, CreateMode.EPHEMERAL);
        other.create(root + "/p/o2", b(""), OPEN, CreateMode.EPHEMERAL);
        log("all %s", paths(zk.getEphemerals()));
        log("/ %s", paths(zk.getEphemerals("/")));
        log("root %s", paths(zk.getEphemerals(root)));
        log("root/e %s", paths(zk.getEphemerals(root + "/e")));
        log("root/p %s", paths(zk.getEphemerals(root + "/p")));
        log("root/p/ %s", code(() -> zk.getEphemerals(root + "/p/")));
        log("root/e2 %s", paths(zk.getEphemerals(root + "/e2")));
        log("root/zz %s", paths(zk.getEphemerals(root + "/zz")));
        log("other all %s", paths(other.getEphemerals()));
        log("other root/p %s", paths(other.getEphemerals(root + "/p")));
        zk.delete(root + "/e1", -1);
        other.delete(root + "/e2", -1);
        log("after deletes %s", paths(zk.getEphemerals()));
        ZooKeeper none = client();
        log("none %s", paths(none.getEphemerals()));
        zk.multi(Arrays.asList(
            Op.create(root + "/m1", b(""), OPEN, CreateMode.EPHEMERAL),
            Op.delete(root + "/pe", -1)));
        log("after multi %s", paths(zk.getEphemerals(root)));
        other.setData(root + "/p/e3", b("x"), -1);
        log("e3 owner=%s %s", owner(other.exists(root + "/p/e3", false), zk),
            st(other.exists(root + "/p/e3", false)));
    }

    @Test
    void ttlNodeExpires() throws Exception {
        ZooKeeper zk = client();
        Rec r = new Rec();
        String kept = root + "/kept", gone = root + "/gone";
        Stat s = new Stat();
        zk.create(kept, b(""), OPEN, CreateMode.PERSISTENT_WITH_TTL, s, 300);
        log("kept %s", stat(s));
        zk.create(kept + "/child", b(""), OPEN, CreateMode.PERSISTENT);
        String seq = zk.create(root + "/seq-", b(""), OPEN,
                               CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, s, 300);
        log("seq %s %s", p(seq), stat(s));
        zk.create(gone, b(""), OPEN, CreateMode.PERSISTENT_WITH_TTL, s, 300);
        zk.exists(gone, r.w("W"));
        zk.exists(seq, r.w("W"));
        zk.getChildren(root, r.w("C"));
        String a = r.next(15), b2 = r.next(15), c = r.next(15);
        String[] three = {a, b2, c};
        Arrays.sort(three);
        log("reaped %s", Arrays.toString(three));
        log("kept (has a child) %s", st(zk.exists(kept, false)));
        zk.exists(kept, r.w("W"));
        zk.delete(kept + "/child", -1);
        log("then %s", r.next(15));
        log("kept %s", st(zk.exists(kept, false)));
        // no zxids: the reaper's tries (error txns when they fail) take
        // zxids at moments of its own
        Stat rs = zk.exists(root, false);
        log("root %s cversion=%d numChildren=%d",
            kids(zk.getChildren(root, false)), rs.getCversion(),
            rs.getNumChildren());
    }

    @Test
    void containerReaped() throws Exception {
        ZooKeeper zk = client();
        Rec r = new Rec();
        String k = root + "/k", never = root + "/never", outer = root + "/outer";
        Stat s = new Stat();
        zk.create(never, b(""), OPEN, CreateMode.CONTAINER, s);
        log("never %s", stat(s));
        zk.create(k, b("k"), OPEN, CreateMode.CONTAINER, s);
        zk.create(k + "/c", b(""), OPEN, CreateMode.PERSISTENT);
        zk.create(k + "/e", b(""), OPEN, CreateMode.EPHEMERAL);
        zk.create(outer, b(""), OPEN, CreateMode.CONTAINER);
        zk.create(outer + "/inner", b(""), OPEN, CreateMode.CONTAINER);
        zk.create(outer + "/inner/c", b(""), OPEN, CreateMode.PERSISTENT);
        zk.exists(k, r.w("W"));
        zk.delete(k + "/c", -1);
        log("k with one child left %s", st(zk.exists(k, false)));
        zk.delete(k + "/e", -1);
        log("reaped %s", r.next(15));
        zk.exists(outer, r.w("W"));
        zk.exists(outer + "/inner", r.w("W"));
        zk.delete(outer + "/inner/c", -1);
        log("nested %s", r.next(15));
        log("nested %s", r.next(15));
        log("never-filled container kept %s", st(zk.exists(never, false)));
        // no zxids: the reaper's tries (error txns when they fail) take
        // zxids at moments of its own
        Stat rs = zk.exists(root, false);
        log("root %s cversion=%d numChildren=%d",
            kids(zk.getChildren(root, false)), rs.getCversion(),
            rs.getNumChildren());
    }

    @Test
    void containerAndTtlStats() throws Exception {
        ZooKeeper zk = client();
        Stat s = new Stat();
        zk.create(root + "/k", b("k"), OPEN, CreateMode.CONTAINER, s);
        log("container owner=%s %s", owner(s, zk), stat(s));
        s = new Stat();
        zk.create(root + "/t", b("t"), OPEN, CreateMode.PERSISTENT_WITH_TTL, s,
                  3_600_000L);
        log("ttl owner=%s %s", owner(s, zk), stat(s));
        zk.create(root + "/k/c", b(""), OPEN, CreateMode.PERSISTENT);
        zk.create(root + "/t/c", b(""), OPEN, CreateMode.EPHEMERAL);
        s = new Stat();
        log("container getData %s %s", s(zk.getData(root + "/k", false, s)), stat(s));
        s = new Stat();
        log("ttl children %s %s", kids(zk.getChildren(root + "/t", false, s)),
            stat(s));
        log("ttl setData %s", stat(zk.setData(root + "/t", b("u"), 0)));
        log("container ephemerals %s", paths(zk.getEphemerals(root)));
        log("ttl child delete: %s", code(() -> zk.delete(root + "/t/c", -1)));
        log("container delete not empty: %s", code(() -> zk.delete(root + "/k", -1)));
        log("ttl delete: %s", code(() -> zk.delete(root + "/t", -1)));
        // emptied and deleted in one txn: no race with the reaper
        log("container delete: %s", code(() -> zk.multi(Arrays.asList(
            Op.delete(root + "/k/c", -1), Op.delete(root + "/k", -1)))));
        log("root %s", st(zk.exists(root, false)));
    }
}
