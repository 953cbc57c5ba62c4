package paddock.test.client;

import static org.assertj.core.api.Assertions.assertThat;

import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;
import org.junit.jupiter.api.Test;

import paddock.test.Zk;

class SmokeTest extends Zk {
    @Test
    void createSetGet() throws Exception {
        ZooKeeper zk = client();
        String p = zk.create(root + "/a", b("x"), ZooDefs.Ids.OPEN_ACL_UNSAFE,
                             CreateMode.PERSISTENT);
        log("created %s", p.substring(root.length()));
        Stat st = zk.setData(p, b("yy"), 0);
        log("set %s", stat(st));
        Stat got = new Stat();
        assertThat(s(zk.getData(p, false, got))).isEqualTo("yy");
        log("get %s", stat(got));
        log("bad version: %s", code(() -> zk.setData(p, b("z"), 7)));
    }
}
