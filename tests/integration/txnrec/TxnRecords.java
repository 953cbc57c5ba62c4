// Prints every transaction of a log as ZooKeeper 3.8 itself decodes it:
//   java TxnRecords zk <dir>    Apache ZooKeeper's log files in <dir>
//                               (FileTxnLog)
//   java TxnRecords hex         one record per stdin line, in hex (paddock's
//                               log payloads: SerializeUtils.deserializeTxn)
// One line per txn: clientId cxid zxid type record-class record, where the
// record is jute's own text form (Record.toString).  A record ZooKeeper
// cannot read makes it throw, and the test fails.
import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;

import org.apache.jute.Record;
import org.apache.zookeeper.server.TxnLogEntry;
import org.apache.zookeeper.server.persistence.FileTxnLog;
import org.apache.zookeeper.server.persistence.TxnLog.TxnIterator;
import org.apache.zookeeper.server.util.SerializeUtils;
import org.apache.zookeeper.txn.TxnHeader;

public class TxnRecords {
    static void print(TxnHeader h, Record r) {
        System.out.println(h.getClientId() + " " + h.getCxid() + " " + h.getZxid()
                + " " + h.getType() + " "
                + (r == null ? "-" : r.getClass().getSimpleName() + " "
                        + r.toString().replace('\n', ' ')));
    }

    public static void main(String[] args) throws Exception {
        if (args[0].equals("zk")) {
            TxnIterator it = new FileTxnLog(new File(args[1])).read(0);
            while (it.getHeader() != null) {
                print(it.getHeader(), it.getTxn());
                if (!it.next())
                    break;
            }
            it.close();
            return;
        }
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        for (String line; (line = in.readLine()) != null;) {
            line = line.trim();
            if (line.isEmpty())
                continue;
            byte[] b = new byte[line.length() / 2];
            for (int i = 0; i < b.length; i++)
                b[i] = (byte) Integer.parseInt(line.substring(2 * i, 2 * i + 2), 16);
            TxnLogEntry e = SerializeUtils.deserializeTxn(b);
            print(e.getHeader(), e.getTxn());
        }
    }
}
