package paddock.test.client;

import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.Quotas;
import org.apache.zookeeper.StatsTrack;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.cli.DelQuotaCommand;
import org.apache.zookeeper.cli.SetQuotaCommand;
import org.apache.zookeeper.data.Stat;
import org.junit.jupiter.api.Test;

/**
 * Quotas as the Java client's own tools set them (zkCli's setquota and
 * delquota: nodes under /zookeeper/quota): the server keeps the usage in
 * zookeeper_stats.  The case removes its quota nodes again.
 */
class QuotaTest extends ClientBase {

    String node(ZooKeeper zk, String path) throws Exception {
        Stat s = new Stat();
        try {
            byte[] d = zk.getData(path, false, s);
            return "'" + s(d) + "' version=" + s.getVersion();
        } catch (org.apache.zookeeper.KeeperException e) {
            return e.code().name();
        }
    }

    void usage(ZooKeeper zk, String what, String q) throws Exception {
        log("%s: limits %s stats %s", what, node(zk, Quotas.limitPath(q)),
            node(zk, Quotas.statPath(q)));
    }

    @Test
    void usageKept() throws Exception {
        ZooKeeper zk = client();
        String q = root + "/q";
        zk.create(q, b("0123456789"), OPEN, CreateMode.PERSISTENT);
        zk.create(q + "/a", b("abc"), OPEN, CreateMode.PERSISTENT);
        zk.create(q + "/a/b", null, OPEN, CreateMode.PERSISTENT);
        try {
            StatsTrack limit = new StatsTrack();
            limit.setCount(5);
            limit.setBytes(100);
            log("setquota %s", code(() -> SetQuotaCommand.createQuota(zk, q, limit)));
            usage(zk, "after setquota", q);
            log("quota tree %s", kids(zk.getChildren(Quotas.quotaPath(q), false)));
            zk.create(q + "/c", b("12345"), OPEN, CreateMode.PERSISTENT);
            usage(zk, "after create", q);
            zk.setData(q + "/a", b("abcdefgh"), -1);
            usage(zk, "after setData", q);
            zk.create(q + "/e", b("eph"), OPEN, CreateMode.EPHEMERAL);
            zk.create(q + "/s-", b("s"), OPEN, CreateMode.PERSISTENT_SEQUENTIAL);
            usage(zk, "after ephemeral and sequential", q);
            for (int i = 0; i < 4; i++)
                zk.create(q + "/over" + i, new byte[40], OPEN, CreateMode.PERSISTENT);
            usage(zk, "over the soft limits", q);
            zk.delete(q + "/a/b", -1);
            zk.delete(q + "/e", -1);
            usage(zk, "after deletes", q);
            zk.multi(java.util.Arrays.asList(
                org.apache.zookeeper.Op.create(q + "/m", b("mm"), OPEN,
                                               CreateMode.PERSISTENT),
                org.apache.zookeeper.Op.setData(q, b(""), -1)));
            usage(zk, "after multi", q);
            zk.create(root + "/outside", b("zzzzzz"), OPEN, CreateMode.PERSISTENT);
            usage(zk, "after a write outside", q);
            log("second quota below: %s", code(() -> SetQuotaCommand.createQuota(
                zk, q + "/a", limit)));
            log("second quota above: %s", code(() -> SetQuotaCommand.createQuota(
                zk, root, limit)));
        } finally {
            log("delquota %s", code(() -> DelQuotaCommand.delQuota(zk, q, null)));
        }
        usage(zk, "after delquota", q);
        log("quota root %s", kids(zk.getChildren(Quotas.quotaZookeeper, false)));
    }
}
