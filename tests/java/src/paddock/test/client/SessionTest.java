package paddock.test.client;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;

import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.Watcher.Event.KeeperState;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;
import org.junit.jupiter.api.Test;

/** Sessions: timeout negotiation, reattaching with (sessionId, passwd),
 *  wrong passwords, expiry, closed sessions, read-only flag, reconnects. */
class SessionTest extends ClientBase {

    @Test
    void timeoutNegotiation() throws Exception {
        for (int asked : new int[] {500, 999, 1000, 1001, 5000, 40000,
                                    40001, 100000}) {
            ZooKeeper zk = client(asked, e -> { });
            log("asked %d got %d", asked, zk.getSessionTimeout());
        }
    }

    @Test
    void sessionIdentity() throws Exception {
        ZooKeeper a = client();
        ZooKeeper b2 = client();
        log("ids differ %b", a.getSessionId() != b2.getSessionId());
        log("passwd length %d", a.getSessionPasswd().length);
        log("state %s", a.getState());
        Stat s = new Stat();
        a.create(root + "/e", b(""), OPEN, CreateMode.EPHEMERAL, s);
        log("ephemeralOwner is the session id %b",
            s.getEphemeralOwner() == a.getSessionId());
        log("seen by other: owner=%s", owner(b2.exists(root + "/e", false), a));
        log("sessions as txns %s", stat(s));
    }

    @Test
    void closeEventsAndAfterClose() throws Exception {
        Rec r = new Rec();
        ZooKeeper zk = client(30000, r.all("S"));
        zk.create(root + "/e", b(""), OPEN, CreateMode.EPHEMERAL);
        ZooKeeper other = client();
        Rec o = new Rec();
        other.exists(root + "/e", o.w("O"));
        other.getChildren(root, o.w("O"));
        zk.close();
        log("states %s", r.until("S state Closed", 10));
        log("state after close %s", zk.getState());
        log("op after close: %s", code(() -> zk.exists(root, false)));
        o.logDrain("other", other);
        log("e %s", st(other.exists(root + "/e", false)));
        log("root %s", st(other.exists(root, false)));
    }

    @Test
    void reattachKeepsSessionAndEphemerals() throws Exception {
        StateWait aw = new StateWait(null);
        RawZk a = new RawZk(CONNECT, 30000, aw);
        closeLater(a::close);
        assertThat(aw.await(KeeperState.SyncConnected, 20)).isTrue();
        Stat s = new Stat();
        a.create(root + "/e", b("e"), OPEN, CreateMode.EPHEMERAL, s);
        log("e %s", stat(s));
        long sid = a.getSessionId();
        byte[] pw = a.getSessionPasswd();
        int timeout = a.getSessionTimeout();
        a.drop();

        Rec rb = new Rec();
        StateWait bw = new StateWait(rb.all("B"));
        ZooKeeper b2 = new ZooKeeper(CONNECT, 30000, bw, sid, pw);
        closeLater(b2::close);
        assertThat(bw.await(KeeperState.SyncConnected, 20)).isTrue();
        log("same session %b timeout same %b", b2.getSessionId() == sid,
            b2.getSessionTimeout() == timeout);
        Stat e = b2.exists(root + "/e", false);
        log("e owner=%s %s", owner(e, b2), st(e));
        log("ephemerals %s", paths(b2.getEphemerals(root)));
        s = new Stat();
        b2.create(root + "/f", b(""), OPEN, CreateMode.EPHEMERAL, s);
        log("f %s", stat(s));
        log("ephemerals %s", paths(b2.getEphemerals(root)));

        ZooKeeper watcher = client();
        Rec rw = new Rec();
        watcher.exists(root + "/e", rw.w("X"));
        watcher.exists(root + "/f", rw.w("X"));
        b2.close();
        rw.logDrainSorted("after close", watcher);
        log("root %s %s", kids(watcher.getChildren(root, false)),
            st(watcher.exists(root, false)));
        log("b states %s", rb.until("B state Closed", 10));
    }

    @Test
    void wrongPassword() throws Exception {
        StateWait aw = new StateWait(null);
        ZooKeeper a = client(30000, aw);
        a.create(root + "/e", b(""), OPEN, CreateMode.EPHEMERAL);
        byte[] pw = a.getSessionPasswd().clone();
        pw[0] ^= 1;
        Rec r = new Rec();
        ZooKeeper bad = new ZooKeeper(CONNECT, 30000, r.all("B"),
                                      a.getSessionId(), pw);
        closeLater(bad::close);
        log("events %s", r.until("B state Expired", 15));
        log("state %s", bad.getState());
        log("op: %s", code(() -> bad.exists(root, false)));
        // ZooKeeper closes the session's current connection before it
        // checks the password: the owner reconnects
        boolean dropped = aw.await(KeeperState.Disconnected, 5);
        log("owner's connection dropped %b", dropped);
        if (dropped)
            log("owner reconnected %b", aw.await(KeeperState.SyncConnected, 20));
        log("owner still alive: %s", owner(a.exists(root + "/e", false), a));
        Stat s = new Stat();
        a.create(root + "/n", b(""), OPEN, CreateMode.PERSISTENT, s);
        log("n %s", stat(s));
    }

    @Test
    void closedSessionReused() throws Exception {
        ZooKeeper a = client();
        long sid = a.getSessionId();
        byte[] pw = a.getSessionPasswd();
        a.create(root + "/e", b(""), OPEN, CreateMode.EPHEMERAL);
        a.close();
        Rec r = new Rec();
        ZooKeeper again = new ZooKeeper(CONNECT, 30000, r.all("B"), sid, pw);
        closeLater(again::close);
        log("events %s", r.until("B state Expired", 15));
        log("state %s", again.getState());
        ZooKeeper c = client();
        log("e %s", st(c.exists(root + "/e", false)));
        log("root %s", st(c.exists(root, false)));
        log("unknown session id: ");
        Rec r2 = new Rec();
        ZooKeeper unknown = new ZooKeeper(CONNECT, 30000, r2.all("U"),
                                          0x7123456789abcdefL, new byte[16]);
        closeLater(unknown::close);
        log("events %s", r2.until("U state Expired", 15));
    }

    @Test
    void expiry() throws Exception {
        StateWait aw = new StateWait(null);
        RawZk a = new RawZk(CONNECT, 1000, aw);
        closeLater(a::close);
        assertThat(aw.await(KeeperState.SyncConnected, 20)).isTrue();
        log("timeout %d", a.getSessionTimeout());
        a.create(root + "/e", b(""), OPEN, CreateMode.EPHEMERAL);
        a.create(root + "/p", b(""), OPEN, CreateMode.PERSISTENT);
        a.create(root + "/p/e", b(""), OPEN, CreateMode.EPHEMERAL_SEQUENTIAL);
        long sid = a.getSessionId();
        byte[] pw = a.getSessionPasswd();
        ZooKeeper c = client();
        Rec r = new Rec();
        c.exists(root + "/e", r.w("W"));
        c.getChildren(root + "/p", r.w("W"));
        long t0 = System.nanoTime();
        a.drop();
        List<String> got = new ArrayList<>();
        got.add(r.next(15));
        got.add(r.next(15));
        long ms = (System.nanoTime() - t0) / 1_000_000;
        Collections.sort(got);
        log("events %s", got);
        // not at once: the session outlives its connection (the client
        // pinged at most a third of the timeout before the drop)
        log("not expired at the drop: %b", ms >= 250);
        r.logDrain("no more", c);
        log("e %s", st(c.exists(root + "/e", false)));
        log("p %s", st(c.exists(root + "/p", false)));
        Rec rb = new Rec();
        ZooKeeper b2 = new ZooKeeper(CONNECT, 30000, rb.all("B"), sid, pw);
        closeLater(b2::close);
        log("reattach %s", rb.until("B state Expired", 15));
    }

    @Test
    void readOnlyFlag() throws Exception {
        for (boolean ro : new boolean[] {false, true}) {
            Rec r = new Rec();
            ZooKeeper zk = new ZooKeeper(CONNECT, 30000, r.all("S"), ro);
            closeLater(zk::close);
            log("canBeReadOnly=%b first event %s", ro, r.next(20));
            log("state %s", zk.getState());
            Stat s = new Stat();
            zk.create(root + "/n" + ro, b(""), OPEN, CreateMode.PERSISTENT, s);
            log("create %s", stat(s));
            zk.close();
        }
    }

    /**
     * The client loses its connection (its server list is switched to a
     * dead address, then back): it reconnects to the same session and
     * re-sends its watches (SetWatches, relative to the last zxid it saw)
     * and its auth.  Changes made while it was away fire the one-shot
     * watches on reconnect; persistent watches carry on without replaying.
     */
    @Test
    void reconnectResendsWatchesAndAuth() throws Exception {
        Rec r = new Rec();
        StateWait sw = new StateWait(null);
        ZooKeeper zk = client(30000, sw);
        ZooKeeper other = client();
        zk.addAuthInfo("digest", b("user:pw"));
        String d = root + "/data", g = root + "/gone", n = root + "/new",
            c = root + "/kids", q = root + "/quiet", pw = root + "/pers",
            rw = root + "/rec";
        for (String path : new String[] {d, g, c, q, pw, rw})
            zk.create(path, b(""), OPEN, CreateMode.PERSISTENT);
        zk.create(root + "/eph", b(""), OPEN, CreateMode.EPHEMERAL);
        zk.getData(d, r.w("data"), null);
        zk.getData(g, r.w("gone"), null);
        zk.exists(n, r.w("new"));
        zk.getChildren(c, r.w("kids"));
        zk.getData(q, r.w("quiet"), null);
        zk.exists(q, r.w("quiet-exists"));
        String gk = root + "/gonekids", rcr = root + "/recreated",
            blip = root + "/blip", hid = root + "/hidden";
        zk.create(gk, b(""), OPEN, CreateMode.PERSISTENT);
        zk.create(rcr, b(""), OPEN, CreateMode.PERSISTENT);
        zk.create(hid, b(""), java.util.Arrays.asList(new org.apache.zookeeper.data.ACL(
            0, org.apache.zookeeper.ZooDefs.Ids.ANYONE_ID_UNSAFE)), CreateMode.PERSISTENT);
        zk.getChildren(gk, r.w("gonekids"));
        zk.getData(rcr, r.w("recreated"), null);
        zk.exists(blip, r.w("blip"));
        zk.exists(hid, r.w("hidden"));
        zk.addWatch(pw, r.w("pers"), AddWatchMode.PERSISTENT);
        zk.addWatch(rw, r.w("rec"), AddWatchMode.PERSISTENT_RECURSIVE);
        long sid = zk.getSessionId();

        sw.states.clear();
        zk.updateServerList("127.0.0.1:1");
        // the socket is closed under the client's selector; a request
        // wakes it up (that request fails with CONNECTIONLOSS)
        zk.exists(root, false, (rc, path, ctx, stat) -> { }, null);
        log("disconnected %b", sw.await(KeeperState.Disconnected, 20));
        other.setData(d, b("x"), -1);
        other.delete(g, -1);
        other.create(n, b(""), OPEN, CreateMode.PERSISTENT);
        other.create(c + "/k", b(""), OPEN, CreateMode.PERSISTENT);
        other.delete(gk, -1);
        other.delete(rcr, -1);
        other.create(rcr, b(""), OPEN, CreateMode.PERSISTENT);
        other.create(blip, b(""), OPEN, CreateMode.PERSISTENT);
        other.delete(blip, -1);
        ZooKeeper su = client();
        su.addAuthInfo("digest", b("super:superpw"));
        su.setData(hid, b("x"), -1);
        other.setData(pw, b("missed"), -1);
        other.create(rw + "/missed", b(""), OPEN, CreateMode.PERSISTENT);
        zk.updateServerList(CONNECT);
        log("reconnected %b", sw.await(KeeperState.SyncConnected, 30));
        log("same session %b", zk.getSessionId() == sid);
        r.logDrainSorted("replayed", zk);
        log("whoAmI %s", who(zk));
        log("ephemeral kept: owner=%s", owner(zk.exists(root + "/eph", false), zk));
        other.setData(q, b("x"), -1);
        other.setData(pw, b("after"), -1);
        other.create(rw + "/after", b(""), OPEN, CreateMode.PERSISTENT);
        r.logDrainSorted("after reconnect", zk);
    }

    /**
     * Enough watches that the client re-sends them in several SetWatches
     * packets (it splits them at 128 KiB of paths) on reconnect.
     */
    @Test
    void reconnectResendsManyWatches() throws Exception {
        Rec r = new Rec();
        StateWait sw = new StateWait(null);
        ZooKeeper zk = client(30000, sw);
        ZooKeeper other = client();
        Watcher w = r.w("W");
        int n = 1500, m = 200;
        String pad = String.join("", Collections.nCopies(8, "0123456789"));
        String[] nodes = new String[n], missing = new String[m];
        CountDownLatch made = new CountDownLatch(n);
        for (int i = 0; i < n; i++) {
            nodes[i] = String.format("%s/n%04d-%s", root, i, pad);
            zk.create(nodes[i], b(""), OPEN, CreateMode.PERSISTENT,
                      (rc, path, ctx, name) -> made.countDown(), null);
        }
        await(made, 30);
        CountDownLatch watched = new CountDownLatch(n + m);
        for (int i = 0; i < n; i++)
            zk.getData(nodes[i], w, (rc, path, ctx, data, stat) ->
                       watched.countDown(), null);
        for (int i = 0; i < m; i++) {
            missing[i] = String.format("%s/m%04d-%s", root, i, pad);
            zk.exists(missing[i], w, (rc, path, ctx, stat) ->
                      watched.countDown(), null);
        }
        await(watched, 30);
        sw.states.clear();
        zk.updateServerList("127.0.0.1:1");
        zk.exists(root, false, (rc, path, ctx, stat) -> { }, null);
        log("disconnected %b", sw.await(KeeperState.Disconnected, 20));
        other.setData(nodes[0], b("x"), -1);
        other.setData(nodes[n / 2], b("x"), -1);
        other.delete(nodes[n - 1], -1);
        other.create(missing[0], b(""), OPEN, CreateMode.PERSISTENT);
        other.create(missing[m - 1], b(""), OPEN, CreateMode.PERSISTENT);
        zk.updateServerList(CONNECT);
        log("reconnected %b", sw.await(KeeperState.SyncConnected, 30));
        r.logDrainSorted("replayed", zk);
        other.setData(nodes[1], b("y"), -1);
        other.setData(nodes[n - 2], b("y"), -1);
        other.delete(missing[0], -1);
        other.create(missing[1], b(""), OPEN, CreateMode.PERSISTENT);
        r.logDrainSorted("after reconnect", zk);
    }

    /** close() right after many async writes: every write is answered
     *  (in order) before the session closes. */
    @Test
    void closeAfterPipelinedWrites() throws Exception {
        ZooKeeper zk = client();
        int n = 200;
        List<String> rcs = Collections.synchronizedList(new ArrayList<>());
        zk.create(root + "/e", b(""), OPEN, CreateMode.EPHEMERAL);
        for (int i = 0; i < n; i++)
            zk.create(String.format("%s/c%03d", root, i), b(""), OPEN,
                      CreateMode.PERSISTENT, (rc, path, ctx, name) ->
                      rcs.add(codeName(rc) + " " + p(path)), null);
        zk.close();
        List<String> bad = new ArrayList<>();
        boolean inOrder = true;
        for (int i = 0; i < rcs.size(); i++) {
            if (!rcs.get(i).startsWith("OK "))
                bad.add(rcs.get(i));
            inOrder &= rcs.get(i).endsWith(String.format("/c%03d", i));
        }
        log("callbacks %d in order %b not ok %s", rcs.size(), inOrder, bad);
        ZooKeeper other = client();
        log("children %d", other.getChildren(root, false).size());
        log("root %s", st(other.exists(root, false)));
    }

    /**
     * A client that has seen a zxid the server has not (as after talking
     * to a more recent server) is refused: the server closes the
     * connection rather than let it read older state.
     */
    @Test
    void clientAheadOfServerIsRefused() throws Exception {
        StateWait sw = new StateWait(null);
        ZooKeeper zk = client(30000, sw);
        zk.create(root + "/e", b(""), OPEN, CreateMode.EPHEMERAL);
        java.lang.reflect.Field cnxnField = ZooKeeper.class.getDeclaredField("cnxn");
        cnxnField.setAccessible(true);
        Object cnxn = cnxnField.get(zk);
        java.lang.reflect.Field last = cnxn.getClass().getDeclaredField("lastZxid");
        last.setAccessible(true);
        sw.states.clear();
        zk.updateServerList("127.0.0.1:1");
        zk.exists(root, false, (rc, path, ctx, stat) -> { }, null);
        log("disconnected %b", sw.await(KeeperState.Disconnected, 20));
        long seen = last.getLong(cnxn);
        last.setLong(cnxn, seen + 1_000_000L);
        zk.updateServerList(CONNECT);
        log("connected while ahead (within 3 s): %b",
            sw.await(KeeperState.SyncConnected, 3));
        last.setLong(cnxn, seen);
        log("connected once not ahead: %b", sw.await(KeeperState.SyncConnected, 20)
            || zk.getState().isConnected());
        log("same session, ephemeral kept: owner=%s",
            owner(retry(sw, () -> zk.exists(root + "/e", false)), zk));
    }

    @Test
    void reattachWithOtherTimeout() throws Exception {
        StateWait aw = new StateWait(null);
        RawZk a = new RawZk(CONNECT, 30000, aw);
        closeLater(a::close);
        assertThat(aw.await(KeeperState.SyncConnected, 20)).isTrue();
        log("first timeout %d", a.getSessionTimeout());
        a.create(root + "/e", b(""), OPEN, CreateMode.EPHEMERAL);
        a.drop();
        StateWait bw = new StateWait(null);
        ZooKeeper b2 = new ZooKeeper(CONNECT, 4000, bw, a.getSessionId(),
                                     a.getSessionPasswd());
        closeLater(b2::close);
        assertThat(bw.await(KeeperState.SyncConnected, 20)).isTrue();
        log("reattached asking 4000: timeout %d same session %b",
            b2.getSessionTimeout(), b2.getSessionId() == a.getSessionId());
        log("e owner=%s", owner(b2.exists(root + "/e", false), b2));
        Stat s = new Stat();
        b2.create(root + "/n", b(""), OPEN, CreateMode.PERSISTENT, s);
        log("n (reattach is no txn) %s", stat(s));
    }

    @Test
    void authAddedBeforeConnected() throws Exception {
        StateWait sw = new StateWait(null);
        ZooKeeper zk = new ZooKeeper(CONNECT, 30000, sw);
        closeLater(zk::close);
        zk.addAuthInfo("digest", b("early:pw"));
        assertThat(sw.await(KeeperState.SyncConnected, 20)).isTrue();
        log("whoAmI %s", who(zk));
        zk.create(root + "/a", b(""), org.apache.zookeeper.ZooDefs.Ids.CREATOR_ALL_ACL,
                  CreateMode.PERSISTENT);
        log("acl %s", acl(zk.getACL(root + "/a", null)));
    }

    private static String who(ZooKeeper zk) throws InterruptedException {
        List<String> out = new ArrayList<>();
        for (org.apache.zookeeper.data.ClientInfo ci : zk.whoAmI())
            out.add(ci.getAuthScheme() + ":" + ci.getUser());
        return out.toString();
    }
}
