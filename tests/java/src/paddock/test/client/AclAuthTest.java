package paddock.test.client;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooDefs.Perms;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.ClientInfo;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;
import org.apache.zookeeper.server.auth.DigestAuthenticationProvider;
import org.junit.jupiter.api.Test;

/** ACLs, addAuthInfo (digest, super digest, unknown scheme), whoAmI. */
class AclAuthTest extends ClientBase {

    static String digest(String userPw) throws Exception {
        return DigestAuthenticationProvider.generateDigest(userPw);
    }

    static String who(ZooKeeper zk) throws InterruptedException {
        List<String> out = new ArrayList<>();
        for (ClientInfo ci : zk.whoAmI())
            out.add(ci.getAuthScheme() + ":" + ci.getUser());
        return out.toString();
    }

    /** ACL entries sorted (the server's order of ids from a set). */
    String sortedAcl(List<ACL> a) {
        if (a == null)
            return "null";
        List<String> out = new ArrayList<>();
        for (ACL x : a)
            out.add(x.getId().getScheme() + ":" + x.getId().getId() + ":"
                    + x.getPerms());
        Collections.sort(out);
        return out.toString();
    }

    @Test
    void digestEnforcement() throws Exception {
        ZooKeeper alice = client();
        alice.addAuthInfo("digest", b("alice:secret"));
        String p = root + "/p";
        Stat s = new Stat();
        alice.create(p, b("private"), ZooDefs.Ids.CREATOR_ALL_ACL,
                     CreateMode.PERSISTENT, s);
        log("create %s", stat(s));
        s = new Stat();
        log("acl %s %s", acl(alice.getACL(p, s)), stat(s));
        log("digest matches %b", alice.getACL(p, null).get(0).getId().getId()
            .equals(digest("alice:secret")));
        alice.create(p + "/c", b(""), OPEN, CreateMode.PERSISTENT);

        ZooKeeper anon = client();
        log("anon getData: %s", code(() -> anon.getData(p, false, null)));
        log("anon exists: %s", st(anon.exists(p, false)));
        log("anon getChildren: %s", code(() -> anon.getChildren(p, false)));
        log("anon getChildren2: %s", code(() -> anon.getChildren(p, false, new Stat())));
        log("anon setData: %s", code(() -> anon.setData(p, b("x"), -1)));
        log("anon create child: %s", code(() -> anon.create(p + "/d", b(""),
            OPEN, CreateMode.PERSISTENT)));
        log("anon delete child: %s", code(() -> anon.delete(p + "/c", -1)));
        log("anon getACL: %s", code(() -> anon.getACL(p, new Stat())));
        log("anon setACL: %s", code(() -> anon.setACL(p, OPEN, -1)));
        log("anon getAllChildrenNumber: %s", code(() -> anon.getAllChildrenNumber(p)));
        log("anon child getData: %s", code(() -> anon.getData(p + "/c", false, null)));
        log("anon whoAmI %s", who(anon));

        ZooKeeper wrong = client();
        wrong.addAuthInfo("digest", b("alice:wrong"));
        log("wrong getData: %s", code(() -> wrong.getData(p, false, null)));
        log("wrong whoAmI %s", who(wrong));
        wrong.addAuthInfo("digest", b("alice:secret"));
        log("wrong+right getData: %s", s(wrong.getData(p, false, null)));
        log("wrong+right whoAmI %s", who(wrong));

        log("alice whoAmI %s", who(alice));
        log("alice getData %s", s(alice.getData(p, false, null)));
        log("alice setData %s", stat(alice.setData(p, b("v2"), -1)));
        log("alice delete child: %s", code(() -> alice.delete(p + "/c", -1)));
        s = new Stat();
        alice.create(root + "/after", b(""), OPEN, CreateMode.PERSISTENT, s);
        log("after %s", stat(s));
    }

    @Test
    void permissionMatrix() throws Exception {
        ZooKeeper zk = client();
        int[] perms = {0, Perms.READ, Perms.WRITE, Perms.CREATE, Perms.DELETE,
                       Perms.ADMIN, Perms.ALL};
        for (int perm : perms) {
            String n = root + "/n" + perm;
            zk.create(n, b("d"), OPEN, CreateMode.PERSISTENT);
            zk.create(n + "/c", b(""), OPEN, CreateMode.PERSISTENT);
            List<ACL> a = Arrays.asList(new ACL(perm, ZooDefs.Ids.ANYONE_ID_UNSAFE));
            zk.setACL(n, a, -1);
            List<String> out = new ArrayList<>();
            out.add("getData=" + code(() -> zk.getData(n, false, null)));
            out.add("exists=" + code(() -> zk.exists(n, false)));
            out.add("getChildren=" + code(() -> zk.getChildren(n, false)));
            out.add("getChildren2=" + code(() -> zk.getChildren(n, false, new Stat())));
            out.add("count=" + code(() -> zk.getAllChildrenNumber(n)));
            out.add("getACL=" + code(() -> zk.getACL(n, new Stat())));
            out.add("addWatch=" + code(() -> zk.addWatch(n, e -> { },
                                                         AddWatchMode.PERSISTENT)));
            out.add("setData=" + code(() -> zk.setData(n, b("x"), -1)));
            out.add("create=" + code(() -> zk.create(n + "/x", b(""), OPEN,
                                                     CreateMode.PERSISTENT)));
            out.add("delete=" + code(() -> zk.delete(n + "/c", -1)));
            out.add("setACL=" + code(() -> zk.setACL(n, a, -1)));
            out.add("sync=ok");
            try {
                List<OpResult> rs = zk.multi(Arrays.asList(Op.getData(n),
                                                           Op.getChildren(n)));
                out.add("multiRead=" + res(rs.get(0)) + "," + res(rs.get(1)));
            } catch (Exception e) {
                out.add("multiRead=" + e.getClass().getSimpleName());
            }
            out.add("multi=" + code(() -> zk.multi(Arrays.asList(
                Op.check(n, -1), Op.setData(n, b("y"), -1)))));
            log("perm %d: %s", perm, out);
            log("  %s", st(zk.exists(n, false)));
        }
    }

    @Test
    void getAclRedactsDigestsWithoutAdmin() throws Exception {
        ZooKeeper alice = client();
        alice.addAuthInfo("digest", b("alice:secret"));
        String dg = digest("alice:secret");
        String dg2 = digest("bob:pw");
        List<ACL> a = Arrays.asList(
            new ACL(Perms.READ, new Id("digest", dg)),
            new ACL(Perms.ALL, new Id("digest", dg2)),
            new ACL(Perms.READ, ZooDefs.Ids.ANYONE_ID_UNSAFE),
            new ACL(Perms.READ, new Id("ip", "127.0.0.1")));
        alice.create(root + "/r", b(""), a, CreateMode.PERSISTENT);
        log("alice (read) %s", acl(alice.getACL(root + "/r", new Stat())));
        ZooKeeper anon = client();
        log("anon (read) %s", acl(anon.getACL(root + "/r", new Stat())));
        ZooKeeper bob = client();
        bob.addAuthInfo("digest", b("bob:pw"));
        log("bob (admin) %s", acl(bob.getACL(root + "/r", new Stat())));
        log("ids %b %b", dg.startsWith("alice:"), dg2.startsWith("bob:"));
    }

    @Test
    void superDigest() throws Exception {
        ZooKeeper alice = client();
        alice.addAuthInfo("digest", b("alice:secret"));
        String p = root + "/p";
        alice.create(p, b("private"), ZooDefs.Ids.CREATOR_ALL_ACL,
                     CreateMode.PERSISTENT);
        alice.create(p + "/c", b(""), ZooDefs.Ids.CREATOR_ALL_ACL,
                     CreateMode.PERSISTENT);
        alice.setACL(p + "/c", Arrays.asList(new ACL(0,
            ZooDefs.Ids.ANYONE_ID_UNSAFE)), -1);
        ZooKeeper su = client();
        su.addAuthInfo("digest", b("super:superpw"));
        log("super whoAmI %s", who(su));
        log("super getData %s", s(su.getData(p, false, null)));
        log("super getData c %s", s(su.getData(p + "/c", false, null)));
        log("super getACL %s", acl(su.getACL(p, new Stat())));
        log("super setData %s", stat(su.setData(p, b("su"), -1)));
        log("super setACL %s", stat(su.setACL(p, OPEN, -1)));
        log("super delete c: %s", code(() -> su.delete(p + "/c", -1)));
        su.create(root + "/s", b(""), ZooDefs.Ids.CREATOR_ALL_ACL,
                  CreateMode.PERSISTENT);
        log("super creator acl %s", sortedAcl(su.getACL(root + "/s", null)));
        ZooKeeper bad = client();
        bad.addAuthInfo("digest", b("super:wrong"));
        log("wrong super whoAmI %s", who(bad));
        log("wrong super getData s: %s", code(() -> bad.getData(root + "/s",
                                                                false, null)));
    }

    @Test
    void authSchemeAndCreatorAcl() throws Exception {
        ZooKeeper zk = client();
        log("creator acl without auth: %s", code(() -> zk.create(root + "/x",
            b(""), ZooDefs.Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT)));
        zk.addAuthInfo("digest", b("u1:p1"));
        zk.addAuthInfo("digest", b("u2:p2"));
        zk.addAuthInfo("digest", b("u1:p1"));
        log("whoAmI %s", who(zk));
        zk.create(root + "/a", b(""), ZooDefs.Ids.CREATOR_ALL_ACL,
                  CreateMode.PERSISTENT);
        log("creator acl %s", sortedAcl(zk.getACL(root + "/a", null)));
        zk.create(root + "/b", b(""), Arrays.asList(
            new ACL(Perms.READ, new Id("auth", "ignored")),
            new ACL(Perms.ALL, ZooDefs.Ids.ANYONE_ID_UNSAFE)),
            CreateMode.PERSISTENT);
        log("auth+world acl %s", sortedAcl(zk.getACL(root + "/b", null)));
        Stat s = new Stat();
        log("setACL auth %s", stat(zk.setACL(root + "/b",
            ZooDefs.Ids.CREATOR_ALL_ACL, 0)));
        log("acl %s", sortedAcl(zk.getACL(root + "/b", s)));
        log("  %s", stat(s));
        ZooKeeper u2 = client();
        u2.addAuthInfo("digest", b("u2:p2"));
        log("u2 reads a: %s", code(() -> u2.getData(root + "/a", false, null)));
        log("u2 whoAmI %s", who(u2));
    }

    @Test
    void ipAcls() throws Exception {
        ZooKeeper zk = client();
        String[] ids = {"127.0.0.1", "127.0.0.0/8", "127.0.0.1/32", "10.0.0.0/8",
                        "10.1.2.3", "0.0.0.0/0", "::1", "127.0.0.1/33"};
        for (String id : ids) {
            String n = root + "/" + id.replace('/', '_').replace(':', '-');
            String c = code(() -> zk.create(n, b("d"), Arrays.asList(
                new ACL(Perms.READ | Perms.ADMIN, new Id("ip", id))),
                CreateMode.PERSISTENT));
            log("ip %s: create %s read %s", id, c,
                code(() -> zk.getData(n, false, null)));
        }
    }

    @Test
    void aclListsAndIds() throws Exception {
        ZooKeeper zk = client();
        List<ACL> many = new ArrayList<>();
        for (int i = 40; i > 0; i--)
            many.add(new ACL(Perms.READ | (i % 2 == 0 ? Perms.WRITE : 0),
                             new Id("ip", "10.0.0." + i)));
        many.add(new ACL(Perms.ALL, ZooDefs.Ids.ANYONE_ID_UNSAFE));
        many.add(new ACL(Perms.READ, new Id("ip", "10.0.0.7")));
        many.add(new ACL(Perms.READ, new Id("ip", "10.0.0.8")));
        many.add(new ACL(Perms.ALL, ZooDefs.Ids.ANYONE_ID_UNSAFE));
        zk.create(root + "/many", b(""), many, CreateMode.PERSISTENT);
        log("many %s", acl(zk.getACL(root + "/many", null)));
        int[] perms = {32, 63, 0x7fffffff, -1, Perms.ALL | 64};
        for (int k = 0; k < perms.length; k++) {
            int perm = perms[k];
            String path = root + "/p" + k;
            log("perms %d: create %s", perm, code(() -> zk.create(path, b(""),
                Arrays.asList(new ACL(perm, ZooDefs.Ids.ANYONE_ID_UNSAFE)),
                CreateMode.PERSISTENT)));
            log("  getACL %s", code(() -> log("  acl %s",
                acl(zk.getACL(path, null)))));
            log("  read %s write %s", code(() -> zk.getData(path, false, null)),
                code(() -> zk.setData(path, b("x"), -1)));
        }
        String[][] ids = {{"digest", "a:b:c"}, {"digest", "a:"}, {"digest", ":b"},
                          {"digest", "a:b"}, {"ip", "127.0.0.1/0"}, {"ip", "127.1"},
                          {"ip", "256.0.0.1"}, {"ip", "1.2.3.4/"}, {"ip", " 1.2.3.4"},
                          {"ip", "1.2.3.4/24"}, {"World", "anyone"},
                          {"world", "Anyone"}, {"sasl", "user"}, {"x509", "CN=a"},
                          {"super", ""}, {"auth", "x"}, {"", ""}};
        int i = 0;
        for (String[] id : ids) {
            String path = root + "/id" + (i++);
            log("%s:'%s': %s", id[0], id[1], code(() -> zk.create(path, b(""),
                Arrays.asList(new ACL(Perms.ALL, new Id(id[0], id[1]))),
                CreateMode.PERSISTENT)));
        }
        zk.addAuthInfo("digest", b("u:p:q"));
        log("whoAmI u:p:q %s", who(zk));
        zk.create(root + "/creator", b(""), ZooDefs.Ids.CREATOR_ALL_ACL,
                  CreateMode.PERSISTENT);
        log("creator %s", acl(zk.getACL(root + "/creator", null)));
    }

    @Test
    void setAclVersions() throws Exception {
        ZooKeeper zk = client();
        String a = root + "/a";
        zk.create(a, b(""), OPEN, CreateMode.PERSISTENT);
        log("setACL -1 %s", stat(zk.setACL(a, OPEN, -1)));
        log("setACL 1 %s", stat(zk.setACL(a, Arrays.asList(
            new ACL(Perms.ALL, ZooDefs.Ids.ANYONE_ID_UNSAFE),
            new ACL(Perms.READ, new Id("ip", "127.0.0.1"))), 1)));
        log("setACL stale: %s", code(() -> zk.setACL(a, OPEN, 1)));
        log("setACL 5: %s", code(() -> zk.setACL(a, OPEN, 5)));
        log("setACL invalid: %s", code(() -> zk.setACL(a, Arrays.asList(
            new ACL(Perms.ALL, new Id("digest", "bad"))), -1)));
        log("setACL empty: %s", code(() -> zk.setACL(a, new ArrayList<>(), -1)));
        log("setACL missing: %s", code(() -> zk.setACL(root + "/nope", OPEN, -1)));
        Stat s = new Stat();
        log("acl %s %s", acl(zk.getACL(a, s)), stat(s));
        log("duplicate entries: %s", code(() -> zk.setACL(a, Arrays.asList(
            new ACL(Perms.ALL, ZooDefs.Ids.ANYONE_ID_UNSAFE),
            new ACL(Perms.ALL, ZooDefs.Ids.ANYONE_ID_UNSAFE)), -1)));
        s = new Stat();
        log("acl %s %s", acl(zk.getACL(a, s)), stat(s));
        log("getACL missing: %s", code(() -> zk.getACL(root + "/nope", new Stat())));
        log("setData keeps aversion %s", stat(zk.setData(a, b("x"), -1)));
    }

    @Test
    void unknownSchemeAuthFails() throws Exception {
        Rec r = new Rec();
        // a short session: the failed client never closes it, so it must
        // expire within this case
        ZooKeeper zk = client(1000, r.all("S"));
        zk.create(root + "/e", b(""), OPEN, CreateMode.EPHEMERAL);
        ZooKeeper other = client();
        Rec o = new Rec();
        other.exists(root + "/e", o.w("O"));
        zk.addAuthInfo("nosuchscheme", b("whatever"));
        log("events %s", r.until("S state AuthFailed", 15));
        log("state %s", zk.getState());
        log("op: %s", code(() -> zk.exists(root, false)));
        log("session expires: %s", o.next(15));
        log("e %s", st(other.exists(root + "/e", false)));
    }
}
