package paddock.test.client;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Stat;

import paddock.test.Zk;

/**
 * Helpers shared by the Java client API cases: paths relative to the case
 * root, event recording in client (EventThread) order, OpResult and ACL
 * formatting.
 */
abstract class ClientBase extends Zk {
    static final List<ACL> OPEN = ZooDefs.Ids.OPEN_ACL_UNSAFE;

    /** A path as a transcript field: "~" is the case root. */
    String p(String path) {
        if (path == null)
            return "null";
        if (path.equals(root))
            return "~";
        if (path.startsWith(root + "/"))
            return "~" + path.substring(root.length());
        return path;
    }

    /** stat() that tolerates null. */
    String st(Stat s) {
        return s == null ? "null" : stat(s);
    }

    /** The ephemeralOwner field: "0", "self" (owner's session) or hex. */
    static String owner(Stat s, ZooKeeper self) {
        if (s == null)
            return "null";
        long o = s.getEphemeralOwner();
        if (o == 0)
            return "0";
        if (self != null && o == self.getSessionId())
            return "self";
        return String.format("0x%016x", o);
    }

    /** s with control and non-ASCII chars as \\uXXXX (a transcript line
     *  must be valid UTF-8; a lone surrogate is not). */
    static String esc(String s) {
        StringBuilder sb = new StringBuilder();
        for (char c : s.toCharArray())
            sb.append(c < 0x20 || c > 0x7e ? String.format("\\u%04x", (int) c)
                      : String.valueOf(c));
        return sb.toString();
    }

    static String codeName(int rc) {
        return KeeperException.Code.get(rc).name();
    }

    static List<String> sorted(List<String> l) {
        if (l == null)
            return null;
        List<String> c = new ArrayList<>(l);
        Collections.sort(c);
        return c;
    }

    /** Children relative names, sorted. */
    static String kids(List<String> l) {
        return String.valueOf(sorted(l));
    }

    String paths(List<String> l) {
        if (l == null)
            return "null";
        List<String> c = new ArrayList<>();
        for (String s : l)
            c.add(p(s));
        Collections.sort(c);
        return c.toString();
    }

    String acl(List<ACL> acl) {
        if (acl == null)
            return "null";
        List<String> out = new ArrayList<>();
        for (ACL a : acl)
            out.add(a.getId().getScheme() + ":" + a.getId().getId() + ":"
                    + a.getPerms());
        return out.toString();
    }

    /** One multi result as a transcript field, with its header type. */
    String res(OpResult r) {
        String t = " type=" + r.getType();
        if (r instanceof OpResult.CreateResult) {
            OpResult.CreateResult c = (OpResult.CreateResult) r;
            return "create " + p(c.getPath()) + " stat=" + st(c.getStat()) + t;
        }
        if (r instanceof OpResult.SetDataResult)
            return "setData " + st(((OpResult.SetDataResult) r).getStat()) + t;
        if (r instanceof OpResult.DeleteResult)
            return "delete" + t;
        if (r instanceof OpResult.CheckResult)
            return "check" + t;
        if (r instanceof OpResult.GetDataResult) {
            OpResult.GetDataResult g = (OpResult.GetDataResult) r;
            return "getData " + s(g.getData()) + " " + st(g.getStat()) + t;
        }
        if (r instanceof OpResult.GetChildrenResult)
            return "getChildren "
                + kids(((OpResult.GetChildrenResult) r).getChildren()) + t;
        if (r instanceof OpResult.ErrorResult)
            return "error " + codeName(((OpResult.ErrorResult) r).getErr()) + t;
        return r.getClass().getSimpleName() + t;
    }

    void logResults(String what, List<OpResult> rs) {
        if (rs == null) {
            log("%s results null", what);
            return;
        }
        log("%s %d results", what, rs.size());
        for (int i = 0; i < rs.size(); i++)
            log("  %s[%d] %s", what, i, res(rs.get(i)));
    }

    /** An event as a transcript field. */
    String ev(WatchedEvent e) {
        if (e.getType() == Watcher.Event.EventType.None)
            return "state " + e.getState();
        return e.getType() + " " + p(e.getPath())
            + (e.getState() == Watcher.Event.KeeperState.SyncConnected
               ? "" : " " + e.getState());
    }

    /**
     * Records, in the order the client's EventThread delivers them, watch
     * events of the watchers it hands out and async callback results.
     */
    final class Rec {
        final LinkedBlockingQueue<String> q = new LinkedBlockingQueue<>();

        /** A watcher recording node events as "tag Type path". */
        Watcher w(String tag) {
            return e -> {
                if (e.getType() != Watcher.Event.EventType.None)
                    q.add(tag + " " + ev(e));
            };
        }

        /** A watcher recording every event, state changes too. */
        Watcher all(String tag) {
            return e -> q.add(tag + " " + ev(e));
        }

        void add(String fmt, Object... args) {
            q.add(args.length == 0 ? fmt : String.format(fmt, args));
        }

        /** The next item, waiting at most secs. */
        String next(int secs) throws InterruptedException {
            String s = q.poll(secs, TimeUnit.SECONDS);
            return s == null ? "(nothing within " + secs + " s)" : s;
        }

        /**
         * Everything the EventThread delivered before the reply to a read
         * sent now on zk (ZooKeeper sends a watch event before any later
         * reply on the session), in delivery order.
         */
        List<String> drain(ZooKeeper zk) throws InterruptedException {
            String mark = "#barrier" + System.nanoTime();
            zk.exists("/", false, (rc, path, ctx, stat) -> q.add(mark), null);
            List<String> out = new ArrayList<>();
            while (true) {
                String s = q.poll(15, TimeUnit.SECONDS);
                if (s == null) {
                    out.add("(no barrier reply within 15 s)");
                    return out;
                }
                if (s.equals(mark))
                    return out;
                out.add(s);
            }
        }

        /** drain() into the transcript, prefixed by what. */
        void logDrain(String what, ZooKeeper zk) throws InterruptedException {
            List<String> got = drain(zk);
            log("%s: %s", what, got);
        }

        /** drain(), sorted: for events whose relative order is not
         *  defined (several watchers of one change). */
        void logDrainSorted(String what, ZooKeeper zk)
                throws InterruptedException {
            List<String> got = drain(zk);
            Collections.sort(got);
            log("%s: %s", what, got);
        }

        /** Waits (bounded) until an item equal to want arrives; returns
         *  the items seen before it. */
        List<String> until(String want, int secs) throws InterruptedException {
            long end = System.nanoTime() + secs * 1_000_000_000L;
            List<String> before = new ArrayList<>();
            while (true) {
                long left = end - System.nanoTime();
                String s = left <= 0 ? null
                    : q.poll(left, TimeUnit.NANOSECONDS);
                if (s == null) {
                    before.add("(no '" + want + "' within " + secs + " s)");
                    return before;
                }
                if (s.equals(want))
                    return before;
                before.add(s);
            }
        }
    }

    /** A latch-backed wait for one state on a watcher. */
    static final class StateWait implements Watcher {
        final LinkedBlockingQueue<Watcher.Event.KeeperState> states =
            new LinkedBlockingQueue<>();
        final Watcher inner;

        StateWait(Watcher inner) {
            this.inner = inner;
        }

        @Override
        public void process(WatchedEvent e) {
            if (e.getType() == Watcher.Event.EventType.None)
                states.add(e.getState());
            if (inner != null)
                inner.process(e);
        }

        /** True when state s arrives within secs (others are skipped). */
        boolean await(Watcher.Event.KeeperState s, int secs)
                throws InterruptedException {
            long end = System.nanoTime() + secs * 1_000_000_000L;
            while (true) {
                long left = end - System.nanoTime();
                if (left <= 0)
                    return false;
                Watcher.Event.KeeperState got =
                    states.poll(left, TimeUnit.NANOSECONDS);
                if (got == s)
                    return true;
            }
        }
    }

    /** Runs op, and again after a reconnect (seen by sw) when the server
     *  dropped the connection under it; at most a few times. */
    static <T> T retry(StateWait sw, java.util.concurrent.Callable<T> op)
            throws Exception {
        for (int i = 0; ; i++) {
            try {
                return op.call();
            } catch (KeeperException.ConnectionLossException e) {
                if (i == 5 || !sw.await(Watcher.Event.KeeperState.SyncConnected, 20))
                    throw e;
            }
        }
    }

    /** Waits for a CountDownLatch, failing the case when it times out. */
    static void await(CountDownLatch l, int secs) throws Exception {
        if (!l.await(secs, TimeUnit.SECONDS))
            throw new AssertionError("timed out after " + secs + " s");
    }
}
