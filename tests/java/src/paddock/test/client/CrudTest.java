package paddock.test.client;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;
import org.junit.jupiter.api.Test;

/** create/delete/exists/getData/setData/getChildren, sync API: results,
 *  error codes and the Stat of every reply. */
class CrudTest extends ClientBase {
    static final long HOUR = 3_600_000L;

    @Test
    void createEveryMode() throws Exception {
        ZooKeeper zk = client();
        for (CreateMode m : CreateMode.values()) {
            Stat s = new Stat();
            String name = root + "/" + m.name().toLowerCase() + "-";
            String got = m.isTTL()
                ? zk.create(name, b(m.name()), OPEN, m, s, HOUR)
                : zk.create(name, b(m.name()), OPEN, m, s);
            log("%s -> %s owner=%s %s", m, p(got), owner(s, zk), stat(s));
            Stat e = zk.exists(got, false);
            log("  exists owner=%s %s", owner(e, zk), st(e));
            assertThat(e).isEqualTo(s);
        }
        Stat r = new Stat();
        log("children %s", kids(zk.getChildren(root, false, r)));
        log("root %s", stat(r));
        // a plain create (opcode create, no Stat asked for)
        log("plain create -> %s",
            p(zk.create(root + "/plain", b("p"), OPEN, CreateMode.PERSISTENT)));
        log("plain stat %s", st(zk.exists(root + "/plain", false)));
    }

    @Test
    void createErrors() throws Exception {
        ZooKeeper zk = client();
        zk.create(root + "/a", b("a"), OPEN, CreateMode.PERSISTENT);
        zk.create(root + "/e", b("e"), OPEN, CreateMode.EPHEMERAL);
        log("exists: %s", code(() -> zk.create(root + "/a", b(""), OPEN,
                                                CreateMode.PERSISTENT)));
        log("exists create2: %s", code(() -> zk.create(root + "/a", b(""),
            OPEN, CreateMode.PERSISTENT, new Stat())));
        log("exists ephemeral: %s", code(() -> zk.create(root + "/a", b(""),
            OPEN, CreateMode.EPHEMERAL)));
        log("no parent: %s", code(() -> zk.create(root + "/x/y", b(""), OPEN,
                                                   CreateMode.PERSISTENT)));
        log("no parent seq: %s", code(() -> zk.create(root + "/x/y", b(""),
            OPEN, CreateMode.PERSISTENT_SEQUENTIAL)));
        log("no parent ttl: %s", code(() -> zk.create(root + "/x/y", b(""),
            OPEN, CreateMode.PERSISTENT_WITH_TTL, new Stat(), HOUR)));
        log("no parent container: %s", code(() -> zk.create(root + "/x/y",
            b(""), OPEN, CreateMode.CONTAINER)));
        for (CreateMode m : CreateMode.values()) {
            log("under ephemeral %s: %s", m, code(() -> {
                if (m.isTTL())
                    zk.create(root + "/e/c", b(""), OPEN, m, new Stat(), HOUR);
                else
                    zk.create(root + "/e/c", b(""), OPEN, m);
            }));
        }
        log("ephemeral exists under ephemeral: %s", code(() -> zk.create(
            root + "/e", b(""), OPEN, CreateMode.EPHEMERAL)));
        // ACLs the server must refuse (the client checks only emptiness)
        List<List<ACL>> bad = Arrays.asList(
            Arrays.asList(new ACL(ZooDefs.Perms.ALL, new Id("foo", "bar"))),
            Arrays.asList(new ACL(ZooDefs.Perms.ALL, new Id("digest", "nocolon"))),
            Arrays.asList(new ACL(ZooDefs.Perms.ALL, new Id("ip", "not-an-ip"))),
            Arrays.asList(new ACL(ZooDefs.Perms.ALL, new Id("world", "someone"))),
            Arrays.asList(new ACL(ZooDefs.Perms.ALL, new Id("auth", ""))),
            ZooDefs.Ids.CREATOR_ALL_ACL);
        for (List<ACL> a : bad)
            log("acl %s: %s", acl(a), code(() -> zk.create(root + "/bad",
                b(""), a, CreateMode.PERSISTENT)));
        log("empty acl: %s", code(() -> zk.create(root + "/bad", b(""),
            Arrays.asList(), CreateMode.PERSISTENT)));
        log("bad still missing: %s", st(zk.exists(root + "/bad", false)));
        log("a %s", st(zk.exists(root + "/a", false)));
        // every failed write above is a txn of its own in ZooKeeper
        log("next create %s", st(created(zk, root + "/after")));
    }

    private Stat created(ZooKeeper zk, String path) throws Exception {
        Stat s = new Stat();
        zk.create(path, b(""), OPEN, CreateMode.PERSISTENT, s);
        return s;
    }

    @Test
    void failedWritesAndZxids() throws Exception {
        ZooKeeper zk = client();
        zk.create(root + "/a", b("a"), OPEN, CreateMode.PERSISTENT);
        log("1 %s", stat(created(zk, root + "/n1")));
        log("dup: %s", code(() -> zk.create(root + "/a", b(""), OPEN,
                                             CreateMode.PERSISTENT)));
        log("2 %s", stat(created(zk, root + "/n2")));
        log("badversion: %s", code(() -> zk.setData(root + "/a", b("x"), 9)));
        log("3 %s", stat(created(zk, root + "/n3")));
        log("delete missing: %s", code(() -> zk.delete(root + "/zz", -1)));
        log("4 %s", stat(created(zk, root + "/n4")));
        log("setData missing: %s", code(() -> zk.setData(root + "/zz", b(""), -1)));
        log("5 %s", stat(created(zk, root + "/n5")));
        log("setACL missing: %s", code(() -> zk.setACL(root + "/zz", OPEN, -1)));
        log("6 %s", stat(created(zk, root + "/n6")));
        log("reads: %s %s %s", code(() -> zk.getData(root + "/zz", false, null)),
            st(zk.exists(root + "/zz", false)),
            code(() -> zk.getChildren(root + "/zz", false)));
        log("7 %s", stat(created(zk, root + "/n7")));
        log("a %s", st(zk.exists(root + "/a", false)));
        log("root %s", st(zk.exists(root, false)));
    }

    @Test
    void deleteWithVersions() throws Exception {
        ZooKeeper zk = client();
        zk.create(root + "/a", b("a"), OPEN, CreateMode.PERSISTENT);
        zk.create(root + "/a/c", b("c"), OPEN, CreateMode.PERSISTENT);
        log("not empty: %s", code(() -> zk.delete(root + "/a", -1)));
        log("bad version child: %s", code(() -> zk.delete(root + "/a/c", 1)));
        zk.setData(root + "/a/c", b("c2"), -1);
        log("old version: %s", code(() -> zk.delete(root + "/a/c", 0)));
        log("right version: %s", code(() -> zk.delete(root + "/a/c", 1)));
        log("again: %s", code(() -> zk.delete(root + "/a/c", -1)));
        log("a after child delete %s", st(zk.exists(root + "/a", false)));
        log("a -1: %s", code(() -> zk.delete(root + "/a", -1)));
        log("missing with version: %s", code(() -> zk.delete(root + "/a", 3)));
        log("root %s", st(zk.exists(root, false)));
        log("no parent: %s", code(() -> zk.delete(root + "/q/r", -1)));
    }

    @Test
    void getAndSetData() throws Exception {
        ZooKeeper zk = client();
        zk.create(root + "/a", b("one"), OPEN, CreateMode.PERSISTENT);
        Stat s = new Stat();
        log("get %s %s", s(zk.getData(root + "/a", false, s)), stat(s));
        log("set -1 %s", stat(zk.setData(root + "/a", b("two"), -1)));
        log("set 1 %s", stat(zk.setData(root + "/a", b("three!"), 1)));
        log("set 1 again: %s", code(() -> zk.setData(root + "/a", b("x"), 1)));
        log("set 5: %s", code(() -> zk.setData(root + "/a", b("x"), 5)));
        log("set -2: %s", code(() -> zk.setData(root + "/a", b("x"), -2)));
        s = new Stat();
        log("get %s %s", s(zk.getData(root + "/a", false, s)), stat(s));
        log("same data %s", stat(zk.setData(root + "/a", b("three!"), 2)));
        log("empty %s", stat(zk.setData(root + "/a", new byte[0], -1)));
        s = new Stat();
        log("get '%s' %s", s(zk.getData(root + "/a", false, s)), stat(s));
        log("null %s", stat(zk.setData(root + "/a", null, -1)));
        s = new Stat();
        log("get %s %s", s(zk.getData(root + "/a", false, s)), stat(s));
        log("missing get: %s", code(() -> zk.getData(root + "/b", false, null)));
        log("missing set: %s", code(() -> zk.setData(root + "/b", b(""), -1)));
        log("get with null stat: %s", s(zk.getData(root + "/a", false, null)));
    }

    @Test
    void nullAndEmptyData() throws Exception {
        ZooKeeper zk = client();
        Stat s = new Stat();
        zk.create(root + "/null", null, OPEN, CreateMode.PERSISTENT, s);
        log("create null %s", stat(s));
        s = new Stat();
        log("get null -> %s %s", s(zk.getData(root + "/null", false, s)), stat(s));
        zk.create(root + "/empty", new byte[0], OPEN, CreateMode.PERSISTENT);
        s = new Stat();
        log("get empty -> '%s' %s", s(zk.getData(root + "/empty", false, s)),
            stat(s));
        zk.create(root + "/eph", null, OPEN, CreateMode.EPHEMERAL);
        log("get null ephemeral -> %s", s(zk.getData(root + "/eph", false, null)));
    }

    @Test
    void existsAndStatFields() throws Exception {
        ZooKeeper zk = client();
        log("missing %s", st(zk.exists(root + "/a", false)));
        zk.create(root + "/a", b("12345"), OPEN, CreateMode.PERSISTENT);
        log("a %s", st(zk.exists(root + "/a", false)));
        log("root %s", st(zk.exists(root, false)));
        for (int i = 0; i < 3; i++)
            zk.create(root + "/a/c" + i, b("c"), OPEN, CreateMode.PERSISTENT);
        zk.delete(root + "/a/c1", -1);
        zk.setData(root + "/a", b("x"), -1);
        log("a %s", st(zk.exists(root + "/a", false)));
        zk.setACL(root + "/a", ZooDefs.Ids.READ_ACL_UNSAFE, -1);
        log("a after setACL %s", st(zk.exists(root + "/a", false)));
        log("a/c0 %s", st(zk.exists(root + "/a/c0", false)));
        log("root %s", st(zk.exists(root, false)));
    }

    /** Times: a create's ctime equals its mtime and is wall-clock ms; all
     *  ops of one multi share one txn time. */
    @Test
    void statTimes() throws Exception {
        ZooKeeper zk = client();
        long before = System.currentTimeMillis();
        Stat s = new Stat();
        zk.create(root + "/a", b(""), OPEN, CreateMode.PERSISTENT, s);
        long after = System.currentTimeMillis();
        log("ctime==mtime %b", s.getCtime() == s.getMtime());
        log("ctime is wall clock ms %b", s.getCtime() >= before - 5000
            && s.getCtime() <= after + 5000);
        Stat set = zk.setData(root + "/a", b("x"), -1);
        log("setData keeps ctime %b mtime>=ctime %b", set.getCtime() == s.getCtime(),
            set.getMtime() >= s.getCtime());
        Stat parent = zk.exists(root, false);
        zk.create(root + "/b", b(""), OPEN, CreateMode.PERSISTENT);
        Stat parent2 = zk.exists(root, false);
        log("child create leaves parent mtime %b", parent.getMtime()
            == parent2.getMtime());
        zk.multi(java.util.Arrays.asList(
            org.apache.zookeeper.Op.create(root + "/m1", b(""), OPEN, CreateMode.PERSISTENT),
            org.apache.zookeeper.Op.create(root + "/m2", b(""), OPEN, CreateMode.PERSISTENT),
            org.apache.zookeeper.Op.setData(root + "/a", b("y"), -1)));
        Stat m1 = zk.exists(root + "/m1", false), m2 = zk.exists(root + "/m2", false),
            a = zk.exists(root + "/a", false);
        log("multi: one time %b %b", m1.getCtime() == m2.getCtime(),
            m1.getCtime() == a.getMtime());
        zk.setACL(root + "/a", OPEN, -1);
        log("setACL leaves mtime %b", zk.exists(root + "/a", false).getMtime()
            == a.getMtime());
    }

    @Test
    void getChildrenAndStat() throws Exception {
        ZooKeeper zk = client();
        log("empty %s", kids(zk.getChildren(root, false)));
        String[] names = {"b", "a", "c", "a-1", "z9", "Z", "0", "ü", "中文",
                          "with space", "dots.and-dash_"};
        for (String n : names)
            zk.create(root + "/" + n, b(n), OPEN, CreateMode.PERSISTENT);
        zk.create(root + "/a/deep", b(""), OPEN, CreateMode.PERSISTENT);
        log("children %s", kids(zk.getChildren(root, false)));
        Stat s = new Stat();
        log("children2 %s %s", kids(zk.getChildren(root, false, s)), stat(s));
        s = new Stat();
        log("leaf %s %s", kids(zk.getChildren(root + "/b", false, s)), stat(s));
        log("a %s", kids(zk.getChildren(root + "/a", false)));
        log("missing: %s", code(() -> zk.getChildren(root + "/nope", false)));
        log("missing2: %s", code(() -> zk.getChildren(root + "/nope", false,
                                                        new Stat())));
        s = new Stat();
        log("unicode data %s %s", s(zk.getData(root + "/中文", false, s)),
            stat(s));
    }

    @Test
    void sequentialNumbering() throws Exception {
        ZooKeeper zk = client();
        zk.create(root + "/q", b(""), OPEN, CreateMode.PERSISTENT);
        String q = root + "/q";
        log("%s", p(zk.create(q + "/s-", b(""), OPEN, CreateMode.PERSISTENT_SEQUENTIAL)));
        zk.create(q + "/plain", b(""), OPEN, CreateMode.PERSISTENT);
        log("%s", p(zk.create(q + "/s-", b(""), OPEN, CreateMode.EPHEMERAL_SEQUENTIAL)));
        zk.delete(q + "/plain", -1);
        log("%s", p(zk.create(q + "/other", b(""), OPEN, CreateMode.PERSISTENT_SEQUENTIAL)));
        log("recreate deleted name: %s", code(() -> zk.create(q + "/plain",
            b(""), OPEN, CreateMode.PERSISTENT)));
        log("%s", p(zk.create(q + "/", b(""), OPEN, CreateMode.PERSISTENT_SEQUENTIAL)));
        log("%s", p(zk.create(q + "/", b(""), OPEN, CreateMode.EPHEMERAL_SEQUENTIAL)));
        log("%s", p(zk.create(q + "/x", b(""), OPEN,
                              CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL,
                              new Stat(), HOUR)));
        zk.create(q + "/s-0000000009", b(""), OPEN, CreateMode.PERSISTENT);
        log("taken name: %s", code(() -> zk.create(q + "/s-", b(""), OPEN,
                                                    CreateMode.PERSISTENT_SEQUENTIAL)));
        log("taken again (a failed create leaves cversion): %s", code(() ->
            zk.create(q + "/s-", b(""), OPEN, CreateMode.PERSISTENT_SEQUENTIAL)));
        zk.create(q + "/bump", b(""), OPEN, CreateMode.PERSISTENT);
        log("%s", p(zk.create(q + "/s-", b(""), OPEN, CreateMode.PERSISTENT_SEQUENTIAL)));
        Stat s = new Stat();
        log("q %s %s", kids(zk.getChildren(q, false, s)), stat(s));
        // a sequential child of the root of the case: numbering by cversion
        log("%s", p(zk.create(root + "/r", b(""), OPEN,
                              CreateMode.PERSISTENT_SEQUENTIAL)));
    }

    @Test
    void badPathsRejectedByClient() throws Exception {
        ZooKeeper zk = client();
        String[] bad = {"", "a", "/a/", "//a", "/a//b", "/a/./b", "/a/../b",
                        "/.", "/..", "/a\u0000b", "/a\u0001", "/\ud800",
                        "/zookeeper/"};
        for (String path : bad) {
            log("create '%s': %s", esc(path),
                code(() -> zk.create(path, b(""), OPEN, CreateMode.PERSISTENT)));
            log("getData '%s': %s", esc(path),
                code(() -> zk.getData(path, false, null)));
        }
        log("exists '/.a' ok: %s", code(() -> zk.exists(root + "/.a", false)));
        log("create '...': %s", code(() -> zk.create(root + "/...", b(""),
            OPEN, CreateMode.PERSISTENT)));
        log("children %s", kids(zk.getChildren(root, false)));
    }

    @Test
    void longAndDeepPaths() throws Exception {
        ZooKeeper zk = client();
        for (int len : new int[] {255, 256, 1000, 4096, 10000, 100000}) {
            String name = String.join("", Collections.nCopies(len / 10, "abcdefghij"))
                + "xyzxyzxyzx".substring(0, len % 10);
            String path = root + "/" + name;
            log("name of %d: create %s exists %s", len, code(() -> zk.create(path,
                b("d"), OPEN, CreateMode.PERSISTENT)),
                code(() -> zk.exists(path, false)));
            log("  seq %s", code(() -> zk.create(path + "/", b(""), OPEN,
                CreateMode.PERSISTENT_SEQUENTIAL)));
            log("  getData %s", code(() -> zk.getData(path, false, null)));
            log("  children %s", code(() -> zk.getChildren(path, false)));
        }
        List<String> names = zk.getChildren(root, false);
        List<Integer> lens = new ArrayList<>();
        for (String n : names)
            lens.add(n.length());
        Collections.sort(lens);
        log("child name lengths %s", lens);
        String at = root;
        StringBuilder codes = new StringBuilder();
        for (int depth = 1; depth <= 300; depth++) {
            at += "/d";
            String path = at;
            String c = code(() -> zk.create(path, b(""), OPEN, CreateMode.PERSISTENT));
            if (!c.equals("ok"))
                codes.append(depth).append('=').append(c).append(' ');
        }
        log("deep creates failing: [%s]", codes.toString().trim());
        log("deepest %s", st(zk.exists(at, false)));
        log("count under root %d", zk.getAllChildrenNumber(root));
        log("deep ephemeral %s", code(() -> zk.create(root + "/d/d/d/d/e", b(""),
            OPEN, CreateMode.EPHEMERAL)));
        log("ephemerals %d", zk.getEphemerals(root + "/d/d").size());
    }

    @Test
    void largeData() throws Exception {
        ZooKeeper zk = client();
        byte[] big = new byte[1_000_000];
        for (int i = 0; i < big.length; i++)
            big[i] = (byte) (i * 31 + 7);
        Stat s = new Stat();
        zk.create(root + "/big", big, OPEN, CreateMode.PERSISTENT, s);
        log("create %s", stat(s));
        Stat g = new Stat();
        byte[] got = zk.getData(root + "/big", false, g);
        log("get length %d equal %b %s", got.length, Arrays.equals(big, got),
            stat(g));
        big[0] = 1;
        log("set %s", stat(zk.setData(root + "/big", big, 0)));
        log("equal after set %b", Arrays.equals(big,
            zk.getData(root + "/big", false, null)));
    }

    @Test
    void specialNodes() throws Exception {
        ZooKeeper zk = client();
        for (String n : new String[] {"/zookeeper", "/zookeeper/quota",
                                      "/zookeeper/config"}) {
            Stat s = new Stat();
            byte[] d = zk.getData(n, false, s);
            log("%s data '%s' %s", n, s(d), stat(s));
            log("%s children %s", n, kids(zk.getChildren(n, false)));
            log("%s acl %s", n, acl(zk.getACL(n, new Stat())));
        }
        Stat rs = new Stat();
        log("/ acl %s czxid=%s ctime=%d mtime=%d version=%d aversion=%d "
            + "dataLength=%d", acl(zk.getACL("/", rs)), rel(rs.getCzxid()),
            rs.getCtime(), rs.getMtime(), rs.getVersion(), rs.getAversion(),
            rs.getDataLength());
        Stat zs = zk.exists("/zookeeper", false);
        // its mtime is the server's start time on both: a relation only
        log("/zookeeper ctime=%d mtime>ctime:%b", zs.getCtime(),
            zs.getMtime() > zs.getCtime());
        log("delete /: %s", code(() -> zk.delete("/", -1)));
        log("delete /zookeeper: %s", code(() -> zk.delete("/zookeeper", -1)));
        log("delete /zookeeper/quota: %s",
            code(() -> zk.delete("/zookeeper/quota", -1)));
        log("delete /zookeeper/config: %s",
            code(() -> zk.delete("/zookeeper/config", -1)));
        log("setData /zookeeper/config: %s",
            code(() -> zk.setData("/zookeeper/config", b("x"), -1)));
        log("create /: %s", code(() -> zk.create("/", b(""), OPEN,
                                                  CreateMode.PERSISTENT)));
        log("create /zookeeper: %s", code(() -> zk.create("/zookeeper", b(""),
            OPEN, CreateMode.PERSISTENT)));
        log("next %s", stat(created(zk, root + "/after")));
    }

    @Test
    void chroot() throws Exception {
        Rec r = new Rec();
        ZooKeeper c = new ZooKeeper(CONNECT + root, 30000, r.w("w"));
        closeLater(c::close);
        Stat s = new Stat();
        log("create %s", c.create("/a", b("a"), OPEN, CreateMode.PERSISTENT, s));
        log("  %s", stat(s));
        log("seq %s", c.create("/a/s-", b(""), OPEN,
                               CreateMode.EPHEMERAL_SEQUENTIAL));
        log("exists / %s", st(c.exists("/", false)));
        log("children / %s", kids(c.getChildren("/", false)));
        log("children /a %s", kids(c.getChildren("/a", true)));
        log("getData /a %s", s(c.getData("/a", true, null)));
        log("ephemerals %s", sorted(c.getEphemerals()));
        log("ephemerals /a %s", sorted(c.getEphemerals("/a")));
        log("all children / %d", c.getAllChildrenNumber("/"));
        c.setData("/a", b("b"), -1);
        c.create("/a/x", b(""), OPEN, CreateMode.PERSISTENT);
        r.logDrain("events", c);
        log("missing: %s", code(() -> c.getData("/nope", false, null)));
        log("delete /: %s", code(() -> c.delete("/", -1)));
        ZooKeeper zk = client();
        log("seen from outside %s", kids(zk.getChildren(root + "/a", false)));
    }
}
