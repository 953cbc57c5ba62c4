package paddock.test.client;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ClientInfo;
import org.apache.zookeeper.data.Stat;
import org.junit.jupiter.api.Test;

/** sync, getAllChildrenNumber, whoAmI, getConfig, many children, the
 *  largest request a server takes. */
class MiscOpsTest extends ClientBase {

    @Test
    void syncThenRead() throws Exception {
        ZooKeeper zk = client();
        ZooKeeper other = client();
        other.create(root + "/a", b("1"), OPEN, CreateMode.PERSISTENT);
        List<String> got = new ArrayList<>();
        CountDownLatch done = new CountDownLatch(3);
        zk.sync(root + "/a", (rc, path, ctx) -> {
            got.add("sync rc=" + codeName(rc) + " path=" + p(path) + " ctx=" + ctx);
            done.countDown();
        }, "x");
        zk.sync(root + "/missing", (rc, path, ctx) -> {
            got.add("sync rc=" + codeName(rc) + " path=" + p(path) + " ctx=" + ctx);
            done.countDown();
        }, 42);
        zk.getData(root + "/a", false, (rc, path, ctx, data, stat) -> {
            got.add("get " + s(data) + " " + st(stat));
            done.countDown();
        }, null);
        await(done, 20);
        for (String s : got)
            log("%s", s);
        log("sync bad path: %s", code(() -> zk.sync("nope", (rc, path, ctx) -> { },
                                                     null)));
        Stat s = new Stat();
        zk.create(root + "/after", b(""), OPEN, CreateMode.PERSISTENT, s);
        log("after (sync is no txn) %s", stat(s));
    }

    @Test
    void allChildrenNumber() throws Exception {
        ZooKeeper zk = client();
        log("empty root %d", zk.getAllChildrenNumber(root));
        for (String n : new String[] {"/a", "/a/b", "/a/c", "/a/c/d", "/a/c/e",
                                      "/f"})
            zk.create(root + n, b(""), OPEN, CreateMode.PERSISTENT);
        zk.create(root + "/a/c/x", b(""), OPEN, CreateMode.EPHEMERAL);
        log("root %d", zk.getAllChildrenNumber(root));
        log("a %d", zk.getAllChildrenNumber(root + "/a"));
        log("a/c %d", zk.getAllChildrenNumber(root + "/a/c"));
        log("leaf %d", zk.getAllChildrenNumber(root + "/f"));
        log("missing: %s", code(() -> zk.getAllChildrenNumber(root + "/nope")));
        log("/zookeeper %d", zk.getAllChildrenNumber("/zookeeper"));
        log("/zookeeper/quota %d", zk.getAllChildrenNumber("/zookeeper/quota"));
        log("prefix sibling not counted %d",
            zk.getAllChildrenNumber(root + "/a/c/d"));
        zk.create(root + "/a/cc", b(""), OPEN, CreateMode.PERSISTENT);
        log("a/c with sibling a/cc %d", zk.getAllChildrenNumber(root + "/a/c"));
    }

    @Test
    void whoAmI() throws Exception {
        ZooKeeper zk = client();
        log("plain %s", who(zk));
        zk.addAuthInfo("digest", b("alice:secret"));
        log("digest %s", who(zk));
        zk.addAuthInfo("digest", b("bob:pw"));
        log("two digests %s", who(zk));
        zk.addAuthInfo("digest", b("super:superpw"));
        log("plus super %s", who(zk));
        zk.addAuthInfo("digest", b("nocolon"));
        log("plus nocolon %s", who(zk));
        ZooKeeper su = client();
        su.addAuthInfo("digest", b("super:superpw"));
        log("super only %s", who(su));
        ZooKeeper c = new ZooKeeper(CONNECT + root, 30000, e -> { });
        closeLater(c::close);
        log("chroot %s", who(c));
        ZooKeeper ip = client();
        ip.addAuthInfo("ip", b("10.9.9.9"));
        log("ip auth %s", who(ip));
        ip.addAuthInfo("digest", b(""));
        log("empty digest %s", who(ip));
        ip.addAuthInfo("digest", b(":"));
        log("colon digest %s", who(ip));
    }

    static String who(ZooKeeper zk) throws InterruptedException {
        List<String> out = new ArrayList<>();
        for (ClientInfo ci : zk.whoAmI())
            out.add(ci.getAuthScheme() + ":" + ci.getUser());
        return out.toString();
    }

    @Test
    void getConfig() throws Exception {
        ZooKeeper zk = client();
        Stat s = new Stat();
        byte[] d = zk.getConfig(false, s);
        log("config '%s' %s", s(d), stat(s));
        Rec r = new Rec();
        d = zk.getConfig(r.w("W"), null);
        log("config with watch '%s'", s(d));
        log("setData on config: %s", code(() -> zk.setData("/zookeeper/config",
                                                            b(""), -1)));
        r.logDrain("events", zk);
    }

    @Test
    void manyChildren() throws Exception {
        ZooKeeper zk = client();
        int n = 300;
        CountDownLatch done = new CountDownLatch(n);
        List<String> bad = new ArrayList<>();
        for (int i = 0; i < n; i++)
            zk.create(root + "/child-with-a-longish-name-" + i, new byte[100],
                      OPEN, CreateMode.PERSISTENT, (rc, path, ctx, name) -> {
                    if (rc != 0)
                        bad.add(codeName(rc));
                    done.countDown();
                }, null);
        await(done, 30);
        log("failures %s", bad);
        Stat s = new Stat();
        List<String> kids = zk.getChildren(root, false, s);
        log("children %d first %s last %s", kids.size(), sorted(kids).get(0),
            sorted(kids).get(n - 1));
        log("root %s", stat(s));
        log("count %d", zk.getAllChildrenNumber(root));
    }

    /**
     * The largest request a server takes is jute.maxbuffer (0xfffff)
     * bytes after the length prefix: header 8 + path (4 + P) + data
     * (4 + D) + one world ACL 27 + flags 4.  One byte more and the
     * server drops the connection.
     */
    @Test
    void requestSizeLimit() throws Exception {
        StateWait sw = new StateWait(null);
        ZooKeeper zk = client(30000, sw);
        zk.create(root + "/e", b(""), OPEN, CreateMode.EPHEMERAL);
        String fits = root + "/fits", over = root + "/over";
        int pathLen = fits.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
        int max = 0xfffff - 47 - pathLen;
        log("max %s: %s", max == 0xfffff - 47 - over.length() ? "same" : "differs",
            code(() -> zk.create(fits, new byte[max], OPEN, CreateMode.PERSISTENT)));
        sw.states.clear();
        log("one more: %s", code(() -> zk.create(over, new byte[max + 1], OPEN,
                                                 CreateMode.PERSISTENT)));
        Stat f = retry(sw, () -> zk.exists(fits, false));
        log("fits dataLength %s", f == null ? "null" : f.getDataLength() == max);
        log("over %s", st(retry(sw, () -> zk.exists(over, false))));
        // setData: header 8 + path (4 + P) + data (4 + D) + version 4
        log("setData max: %s", code(() -> retry(sw, () -> zk.setData(fits,
            new byte[max + 27], -1))));
        log("setData one more: %s", code(() -> zk.setData(fits,
            new byte[max + 28], -1)));
        Stat g = retry(sw, () -> zk.exists(fits, false));
        log("fits dataLength is max+27: %b", g.getDataLength() == max + 27);
        // the session outlived its connections
        log("ephemeral kept: owner=%s", owner(zk.exists(root + "/e", false), zk));
    }
}
