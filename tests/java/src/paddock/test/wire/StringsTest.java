package paddock.test.wire;

import java.util.Collections;
import java.util.List;

import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.junit.jupiter.api.Test;

import paddock.test.Zk;

/** Names outside ASCII through the Java client: BMP characters round
 *  trip through create, getChildren and getData; a character outside the
 *  BMP (a surrogate pair) or a control character the client refuses
 *  itself (PathUtils.validatePath), so jute's per-UTF-16-unit string
 *  encoding never reaches the server with a surrogate in a path. */
class StringsTest extends Zk {
    private static String units(String s) {
        StringBuilder b = new StringBuilder();
        for (char c : s.toCharArray())
            b.append(String.format("%04x ", (int) c));
        return b.toString().trim();
    }

    @Test
    void nonBmpAndOtherNames() throws Exception {
        ZooKeeper zk = client();
        String[] names = {"plain", "caf\u00e9", "\u4e2d\u6587",
                          "smile\ud83d\ude00", "nul\u0001ctl"};
        for (String n : names) {
            String r = code(() -> zk.create(root + "/" + n, b(n),
                ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT));
            log("create %s: %s", units(n), r);
        }
        List<String> kids = zk.getChildren(root, false);
        Collections.sort(kids);
        for (String k : kids) {
            String got = code(() -> zk.getData(root + "/" + k, false, null));
            log("child %s getData %s", units(k), got);
        }
    }
}
