package paddock.test.client;

import java.io.IOException;

import org.apache.jute.Record;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.client.ZKClientConfig;
import org.apache.zookeeper.proto.ReplyHeader;
import org.apache.zookeeper.proto.RequestHeader;

/**
 * A ZooKeeper client with two test hooks on its connection: dropping it
 * without closing the session (as a crashed or partitioned client would),
 * and sending a request record as is, past the client API's own checks
 * (what another ZooKeeper client library may send).
 */
final class RawZk extends ZooKeeper {
    RawZk(String connect, int timeout, Watcher w) throws IOException {
        super(connect, timeout, w, config());
    }

    /** Requests time out after 5 s (REQUESTTIMEOUT, and the client
     *  reconnects): a server may leave an odd request unanswered. */
    private static ZKClientConfig config() {
        ZKClientConfig c = new ZKClientConfig();
        c.setProperty(ZKClientConfig.ZOOKEEPER_REQUEST_TIMEOUT, "5000");
        return c;
    }

    RawZk(String connect, int timeout, Watcher w, long sessionId,
          byte[] passwd) throws IOException {
        super(connect, timeout, w, sessionId, passwd);
    }

    /** Stops the client's threads and closes its socket; no closeSession
     *  is sent: the session lives on at the server. */
    void drop() {
        cnxn.disconnect();
    }

    /** Sends one request of the given opcode; resp (may be null) is read
     *  when the reply has err 0.  Returns the reply's err. */
    int raw(int opcode, Record req, Record resp) throws InterruptedException {
        RequestHeader h = new RequestHeader();
        h.setType(opcode);
        ReplyHeader r = cnxn.submitRequest(h, req, resp, null);
        return r.getErr();
    }
}
