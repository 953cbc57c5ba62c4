package paddock.test.client;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.apache.jute.InputArchive;
import org.apache.jute.OutputArchive;
import org.apache.jute.Record;
import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.MultiResponse;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.Watcher.Event.KeeperState;
import org.apache.zookeeper.ZooDefs.OpCode;
import org.apache.zookeeper.admin.ZooKeeperAdmin;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Stat;
import org.apache.zookeeper.proto.AddWatchRequest;
import org.apache.zookeeper.proto.CheckWatchesRequest;
import org.apache.zookeeper.proto.Create2Response;
import org.apache.zookeeper.proto.CreateRequest;
import org.apache.zookeeper.proto.CreateResponse;
import org.apache.zookeeper.proto.CreateTTLRequest;
import org.apache.zookeeper.proto.DeleteRequest;
import org.apache.zookeeper.proto.ExistsRequest;
import org.apache.zookeeper.proto.GetAllChildrenNumberRequest;
import org.apache.zookeeper.proto.GetAllChildrenNumberResponse;
import org.apache.zookeeper.proto.GetChildrenRequest;
import org.apache.zookeeper.proto.GetChildrenResponse;
import org.apache.zookeeper.proto.GetDataRequest;
import org.apache.zookeeper.proto.GetDataResponse;
import org.apache.zookeeper.proto.GetEphemeralsRequest;
import org.apache.zookeeper.proto.GetEphemeralsResponse;
import org.apache.zookeeper.proto.MultiHeader;
import org.apache.zookeeper.proto.RemoveWatchesRequest;
import org.apache.zookeeper.proto.SetACLRequest;
import org.apache.zookeeper.proto.SetACLResponse;
import org.apache.zookeeper.proto.SetDataRequest;
import org.apache.zookeeper.proto.SetDataResponse;
import org.apache.zookeeper.proto.SyncRequest;
import org.apache.zookeeper.proto.SyncResponse;
import org.junit.jupiter.api.Test;

/**
 * Requests as another client library may send them, past the Java API's
 * own checks (RawZk.raw): bad TTLs and create flags, bad paths, opcodes
 * out of place, server-side watch bookkeeping (checkWatches and
 * removeWatches without the client's local registry), null ACLs.
 */
class RawRequestTest extends ClientBase {
    static final long HOUR = 3_600_000L;

    private final java.util.Map<RawZk, StateWait> waits = new java.util.HashMap<>();

    RawZk raw() throws Exception {
        StateWait sw = new StateWait(null);
        RawZk zk = new RawZk(CONNECT, 30000, sw);
        closeLater(zk::close);
        assertThat(sw.await(KeeperState.SyncConnected, 20)).isTrue();
        waits.put(zk, sw);
        return zk;
    }

    <T> T retry(RawZk zk, java.util.concurrent.Callable<T> op) throws Exception {
        return ClientBase.retry(waits.get(zk), op);
    }

    /** The next write's czxid, to see which failures were txns. */
    String next(RawZk zk, String name) throws Exception {
        String path = root + "/" + name;
        retry(zk, () -> {
            try {
                return zk.create(path, b(""), OPEN, CreateMode.PERSISTENT);
            } catch (org.apache.zookeeper.KeeperException.NodeExistsException e) {
                return path; // created by an attempt whose reply was lost
            }
        });
        return "next " + rel(zk.exists(path, false).getCzxid());
    }

    String create(RawZk zk, int opcode, String path, int flags, long ttl)
            throws Exception {
        Record req = opcode == OpCode.createTTL
            ? new CreateTTLRequest(path, b("d"), OPEN, flags, ttl)
            : new CreateRequest(path, b("d"), OPEN, flags);
        Record resp = opcode == OpCode.create ? new CreateResponse()
            : new Create2Response();
        int err = zk.raw(opcode, req, resp);
        String out = codeName(err);
        if (err == 0) {
            String got = resp instanceof CreateResponse
                ? ((CreateResponse) resp).getPath()
                : ((Create2Response) resp).getPath();
            out += " " + p(got);
            if (resp instanceof Create2Response)
                out += " " + stat(((Create2Response) resp).getStat());
            Stat s = zk.exists(got, false);
            out += " owner=" + owner(s, zk) + " ephemeral="
                + (s != null && s.getEphemeralOwner() != 0);
        }
        return out;
    }

    @Test
    void ttlAndCreateFlags() throws Exception {
        RawZk zk = raw();
        long max = (1L << 40) - 1;
        Object[][] cases = {
            {OpCode.createTTL, 5, 0L}, {OpCode.createTTL, 5, -1L},
            {OpCode.createTTL, 5, max + 1}, {OpCode.createTTL, 5, max},
            {OpCode.createTTL, 6, 0L}, {OpCode.createTTL, 6, HOUR},
            {OpCode.createTTL, 0, HOUR}, {OpCode.createTTL, 1, HOUR},
            {OpCode.createTTL, 2, HOUR}, {OpCode.createTTL, 3, HOUR},
            {OpCode.createTTL, 4, HOUR}, {OpCode.createTTL, 7, HOUR},
            {OpCode.create, 5, 0L}, {OpCode.create, 6, 0L},
            {OpCode.create, 4, 0L}, {OpCode.create, 7, 0L},
            {OpCode.create, 99, 0L}, {OpCode.create, -1, 0L},
            {OpCode.create2, 4, 0L}, {OpCode.create2, 5, 0L},
            {OpCode.create2, 3, 0L},
            {OpCode.createContainer, 4, 0L}, {OpCode.createContainer, 0, 0L},
            {OpCode.createContainer, 1, 0L}, {OpCode.createContainer, 5, 0L},
        };
        int i = 0;
        for (Object[] c : cases) {
            int op = (Integer) c[0], flags = (Integer) c[1];
            long ttl = (Long) c[2];
            String path = root + "/n" + (i++) + "-";
            log("op %d flags %d ttl %d: %s", op, flags, ttl,
                create(zk, op, path, flags, ttl));
        }
        log("%s", next(zk, "after"));
        log("children %s", kids(zk.getChildren(root, false)));
    }

    @Test
    void badPaths() throws Exception {
        RawZk zk = raw();
        zk.create(root + "/a", b(""), OPEN, CreateMode.PERSISTENT);
        // (nothing outside the case root that a server could create)
        String[] paths = {"", "a", root + "/", root + "//x", root + "/./x",
                          root + "/../x", root + "/a/.", root + "/a/..",
                          root + "/x\u0000y", root + "/a/", root + "/a/b/",
                          root + "/a/\u0001", root + "/a/\ud800"};
        int i = 0;
        for (String path : paths) {
            String shown = esc(path.replace(root, "~"));
            List<String> out = new ArrayList<>();
            out.add("create=" + codeName(zk.raw(OpCode.create,
                new CreateRequest(path, b(""), OPEN, 0), new CreateResponse())));
            out.add("seq=" + codeName(zk.raw(OpCode.create,
                new CreateRequest(path, b(""), OPEN, 2), new CreateResponse())));
            out.add("getData=" + codeName(zk.raw(OpCode.getData,
                new GetDataRequest(path, false), new GetDataResponse())));
            out.add("exists=" + codeName(zk.raw(OpCode.exists,
                new ExistsRequest(path, false), new org.apache.zookeeper.proto.ExistsResponse())));
            out.add("children=" + codeName(zk.raw(OpCode.getChildren,
                new GetChildrenRequest(path, false), new GetChildrenResponse())));
            out.add("setData=" + codeName(zk.raw(OpCode.setData,
                new SetDataRequest(path, b(""), -1), new SetDataResponse())));
            out.add("delete=" + codeName(zk.raw(OpCode.delete,
                new DeleteRequest(path, -1), null)));
            out.add("sync=" + codeName(zk.raw(OpCode.sync,
                new SyncRequest(path), new SyncResponse())));
            out.add("count=" + codeName(zk.raw(OpCode.getAllChildrenNumber,
                new GetAllChildrenNumberRequest(path),
                new GetAllChildrenNumberResponse())));
            out.add("addWatch=" + codeName(zk.raw(OpCode.addWatch,
                new AddWatchRequest(path, 0), null)));
            log("'%s': %s", shown, out);
            log("  %s", next(zk, "n" + (i++)));
        }
        log("children %s", kids(zk.getChildren(root, false)));
        log("a children %s", kids(zk.getChildren(root + "/a", false)));
    }

    /** MultiOperationRecord's wire form with any op types. */
    static final class RawMulti implements Record {
        final List<Integer> types = new ArrayList<>();
        final List<Record> ops = new ArrayList<>();

        RawMulti op(int type, Record r) {
            types.add(type);
            ops.add(r);
            return this;
        }

        @Override
        public void serialize(OutputArchive a, String tag) throws IOException {
            a.startRecord(this, tag);
            for (int i = 0; i < ops.size(); i++) {
                new MultiHeader(types.get(i), false, -1).serialize(a, "header");
                ops.get(i).serialize(a, "op");
            }
            new MultiHeader(-1, true, -1).serialize(a, "header");
            a.endRecord(this, tag);
        }

        @Override
        public void deserialize(InputArchive a, String tag) {
            throw new UnsupportedOperationException();
        }
    }

    String multi(RawZk zk, int opcode, RawMulti m) throws Exception {
        MultiResponse resp = new MultiResponse();
        int err = zk.raw(opcode, m, resp);
        StringBuilder sb = new StringBuilder(codeName(err));
        if (err == 0)
            for (OpResult r : resp.getResultList())
                sb.append(" [").append(res(r)).append("]");
        return sb.toString();
    }

    @Test
    void multiWithOpsOutOfPlace() throws Exception {
        RawZk zk = raw();
        String a = root + "/a";
        zk.create(a, b("a"), OPEN, CreateMode.PERSISTENT);
        log("multi of reads: %s", multi(zk, OpCode.multi, new RawMulti()
            .op(OpCode.getData, new GetDataRequest(a, false))));
        log("  %s", next(zk, "n1"));
        log("multiRead of a write: %s", multi(zk, OpCode.multiRead, new RawMulti()
            .op(OpCode.setData, new SetDataRequest(a, b("x"), -1))));
        log("  %s", next(zk, "n2"));
        log("multi mixed: %s", multi(zk, OpCode.multi, new RawMulti()
            .op(OpCode.setData, new SetDataRequest(a, b("y"), -1))
            .op(OpCode.getData, new GetDataRequest(a, false))));
        log("  %s", next(zk, "n3"));
        log("multiRead mixed: %s", multi(zk, OpCode.multiRead, new RawMulti()
            .op(OpCode.getData, new GetDataRequest(a, false))
            .op(OpCode.setData, new SetDataRequest(a, b("z"), -1))));
        log("  %s", next(zk, "n4"));
        log("multi with exists: %s", multi(zk, OpCode.multi, new RawMulti()
            .op(OpCode.exists, new ExistsRequest(a, false))));
        log("  %s", next(zk, "n5"));
        log("multi with create2 and createTTL: %s", multi(zk, OpCode.multi,
            new RawMulti()
                .op(OpCode.create2, new CreateRequest(root + "/c2", b(""), OPEN, 0))
                .op(OpCode.createTTL, new CreateTTLRequest(root + "/ct", b(""),
                                                           OPEN, 5, HOUR))
                .op(OpCode.createContainer, new CreateRequest(root + "/cc",
                                                              b(""), OPEN, 4))));
        log("  %s", next(zk, "n6"));
        log("multi with bad ttl: %s", multi(zk, OpCode.multi, new RawMulti()
            .op(OpCode.setData, new SetDataRequest(a, b("w"), -1))
            .op(OpCode.createTTL, new CreateTTLRequest(root + "/bt", b(""),
                                                       OPEN, 5, 0))));
        log("  %s", next(zk, "n7"));
        log("empty multiRead: %s", multi(zk, OpCode.multiRead, new RawMulti()));
        log("  %s", next(zk, "n8"));
        Stat s = new Stat();
        log("a %s %s", s(zk.getData(a, false, s)), stat(s));
        log("children %s", kids(zk.getChildren(root, false)));
    }

    @Test
    void serverSideWatchBookkeeping() throws Exception {
        RawZk zk = raw();
        Rec r = new Rec();
        Watcher w = r.w("W");
        String a = root + "/a", m = root + "/m", p = root + "/p", q = root + "/q";
        zk.create(a, b(""), OPEN, CreateMode.PERSISTENT);
        zk.create(p, b(""), OPEN, CreateMode.PERSISTENT);
        zk.create(q, b(""), OPEN, CreateMode.PERSISTENT);
        zk.getData(a, w, null);
        List<String> out = new ArrayList<>();
        for (int t : new int[] {1, 2, 3})
            out.add("check" + t + "=" + codeName(zk.raw(OpCode.checkWatches,
                new CheckWatchesRequest(a, t), null)));
        for (int t : new int[] {0, 4, 5, 99})
            out.add("check" + t + "=" + codeName(zk.raw(OpCode.checkWatches,
                new CheckWatchesRequest(a, t), null)));
        log("data watch: %s", out);
        log("remove children: %s", codeName(zk.raw(OpCode.removeWatches,
            new RemoveWatchesRequest(a, 1), null)));
        log("remove data: %s", codeName(zk.raw(OpCode.removeWatches,
            new RemoveWatchesRequest(a, 2), null)));
        log("remove data again: %s", codeName(zk.raw(OpCode.removeWatches,
            new RemoveWatchesRequest(a, 2), null)));
        log("check data: %s", codeName(zk.raw(OpCode.checkWatches,
            new CheckWatchesRequest(a, 2), null)));
        zk.setData(a, b("x"), -1);
        r.logDrain("set after server-side removal", zk);

        zk.exists(m, w);
        out.clear();
        for (int t : new int[] {1, 2, 3})
            out.add("check" + t + "=" + codeName(zk.raw(OpCode.checkWatches,
                new CheckWatchesRequest(m, t), null)));
        log("exists watch on missing node: %s", out);
        log("remove any: %s", codeName(zk.raw(OpCode.removeWatches,
            new RemoveWatchesRequest(m, 3), null)));
        zk.create(m, b(""), OPEN, CreateMode.PERSISTENT);
        r.logDrain("create after removal", zk);

        zk.getChildren(a, w);
        zk.getData(a, w, null);
        log("remove any (data+child): %s", codeName(zk.raw(OpCode.removeWatches,
            new RemoveWatchesRequest(a, 3), null)));
        log("check any: %s", codeName(zk.raw(OpCode.checkWatches,
            new CheckWatchesRequest(a, 3), null)));
        zk.create(a + "/c", b(""), OPEN, CreateMode.PERSISTENT);
        zk.setData(a, b("y"), -1);
        r.logDrain("after removing both", zk);

        zk.addWatch(p, w, AddWatchMode.PERSISTENT);
        out.clear();
        for (int t : new int[] {1, 2, 3})
            out.add("check" + t + "=" + codeName(zk.raw(OpCode.checkWatches,
                new CheckWatchesRequest(p, t), null)));
        log("persistent: %s", out);
        log("remove data: %s", codeName(zk.raw(OpCode.removeWatches,
            new RemoveWatchesRequest(p, 2), null)));
        zk.setData(p, b("x"), -1);
        zk.create(p + "/c", b(""), OPEN, CreateMode.PERSISTENT);
        r.logDrain("persistent after removing data", zk);

        zk.addWatch(q, w, AddWatchMode.PERSISTENT_RECURSIVE);
        out.clear();
        for (int t : new int[] {1, 2, 3})
            out.add("check" + t + "=" + codeName(zk.raw(OpCode.checkWatches,
                new CheckWatchesRequest(q, t), null)));
        log("recursive: %s", out);
        log("remove children: %s", codeName(zk.raw(OpCode.removeWatches,
            new RemoveWatchesRequest(q, 1), null)));
        zk.setData(q, b("x"), -1);
        zk.create(q + "/c", b(""), OPEN, CreateMode.PERSISTENT);
        r.logDrain("recursive after removing children", zk);
        log("remove any: %s", codeName(zk.raw(OpCode.removeWatches,
            new RemoveWatchesRequest(q, 3), null)));
        zk.setData(q + "/c", b("x"), -1);
        r.logDrain("recursive after removing any", zk);
    }

    @Test
    void addWatchModes() throws Exception {
        RawZk zk = raw();
        List<String> out = new ArrayList<>();
        for (int mode : new int[] {0, 1, 2, -1, 99})
            out.add(mode + "=" + codeName(zk.raw(OpCode.addWatch,
                new AddWatchRequest(root, mode), null)));
        log("modes %s", out);
        log("still connected: %s", st(zk.exists(root, false)));
    }

    @Test
    void ephemeralsPrefixes() throws Exception {
        RawZk zk = raw();
        zk.create(root + "/e1", b(""), OPEN, CreateMode.EPHEMERAL);
        zk.create(root + "/p", b(""), OPEN, CreateMode.PERSISTENT);
        zk.create(root + "/p/e2", b(""), OPEN, CreateMode.EPHEMERAL);
        for (String prefix : new String[] {"", "/", "x", root, root + "/",
                                           root + "/p/", root + "/e", "/jt"}) {
            GetEphemeralsResponse resp = new GetEphemeralsResponse();
            int err = zk.raw(OpCode.getEphemerals,
                             new GetEphemeralsRequest(prefix), resp);
            log("'%s': %s %s", prefix.replace(root, "~"), codeName(err),
                err == 0 ? paths(resp.getEphemerals()) : "");
        }
    }

    @Test
    void nullAndEmptyAcls() throws Exception {
        RawZk zk = raw();
        String a = root + "/a";
        zk.create(a, b(""), OPEN, CreateMode.PERSISTENT);
        log("create empty acl: %s", codeName(zk.raw(OpCode.create,
            new CreateRequest(root + "/x", b(""), new ArrayList<ACL>(), 0),
            new CreateResponse())));
        log("  %s", next(zk, "n1"));
        log("setACL empty: %s", codeName(zk.raw(OpCode.setACL,
            new SetACLRequest(a, new ArrayList<ACL>(), -1), new SetACLResponse())));
        log("  %s", next(zk, "n2"));
        log("create null acl: %s", codeName(zk.raw(OpCode.create,
            new CreateRequest(root + "/y", b(""), null, 0), new CreateResponse())));
        log("  %s", next(zk, "n3"));
        log("setACL null: %s", codeName(zk.raw(OpCode.setACL,
            new SetACLRequest(a, null, -1), new SetACLResponse())));
        log("  %s", next(zk, "n4"));
        log("a acl %s", acl(zk.getACL(a, new Stat())));
        log("children %s", kids(zk.getChildren(root, false)));
    }

    @Test
    void unknownOpcodes() throws Exception {
        RawZk zk = raw();
        for (int op : new int[] {23, 999}) {
            log("opcode %d: %s", op, codeName(zk.raw(op,
                new GetDataRequest(root, false), null)));
            log("  then exists %s", st(retry(zk, () -> zk.exists(root, false))));
        }
        log("%s", next(zk, "after"));
    }

    @Test
    void deleteContainerFromClient() throws Exception {
        RawZk zk = raw();
        zk.create(root + "/k", b(""), OPEN, CreateMode.CONTAINER);
        zk.create(root + "/p", b(""), OPEN, CreateMode.PERSISTENT);
        for (String path : new String[] {root + "/k", root + "/p",
                                         root + "/nope"})
            log("deleteContainer %s: %s", p(path), codeName(zk.raw(
                OpCode.deleteContainer, new DeleteRequest(path, -1), null)));
        log("children %s", kids(zk.getChildren(root, false)));
        log("%s", next(zk, "after"));
    }

    @Test
    void reconfigDisabled() throws Exception {
        ZooKeeperAdmin admin = new ZooKeeperAdmin(CONNECT, 30000, e -> { });
        closeLater(admin::close);
        log("reconfigure: %s", code(() -> admin.reconfigure("", "", "", -1,
                                                             new Stat())));
        log("reconfigure members: %s", code(() -> admin.reconfigure(null, null,
            Arrays.asList("server.1=127.0.0.1:2888:3888;2181"), -1, null)));
        log("getConfig: %s", code(() -> admin.getConfig(false, null)));
    }
}
