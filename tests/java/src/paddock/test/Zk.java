package paddock.test;

import java.io.IOException;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Base class of every case in tests/java: the server under test, a fresh
 * root path per case, clients, and the case's transcript.
 *
 * tests/java/run.py runs the whole suite once against Apache ZooKeeper 3.8
 * and once against paddockd and compares, per case, the transcripts: the
 * lines a case records with {@link #log} (results, error codes, normalised
 * Stats, event order).  Record only what ZooKeeper guarantees, so that two
 * correct servers give the same lines: never session ids, times, absolute
 * zxids or the interleaving of racing clients (record invariants of a race,
 * e.g. "max holders 1", instead).  Plain {@code @Test} methods only: the
 * transcript key is "Class.method(ParamTypes)", the name JUnit's XML report
 * gives the case.
 *
 * A case whose transcript is known to differ on paddockd carries
 * {@link Gap} with the reason; run.py then reports the difference as a
 * known gap, and fails once the transcripts agree (remove the mark).
 */
@ExtendWith(Zk.Recorder.class)
public abstract class Zk {
    /** HOST:PORT of the server under test. */
    public static final String CONNECT =
        System.getProperty("paddock.connect", "127.0.0.1:2181");
    /** "paddock" or "zookeeper": for the log only, never for branching. */
    public static final String SERVER =
        System.getProperty("paddock.server", "unknown");
    private static final String TRANSCRIPTS =
        System.getProperty("paddock.transcripts");

    private static final List<String> lines =
        Collections.synchronizedList(new ArrayList<>());
    private static final List<AutoCloseable> closeAtEnd =
        Collections.synchronizedList(new ArrayList<>());

    /** A known, explained difference of paddockd from ZooKeeper in this
     *  case's transcript (see the class comment). */
    @Retention(RetentionPolicy.RUNTIME)
    @Target(ElementType.METHOD)
    public @interface Gap {
        String value();
    }

    /** This case's root, e.g. /jt/ClientApiTest/createAndGet (created). */
    protected String root;

    /** Records one transcript line (String.format). */
    public static void log(String fmt, Object... args) {
        lines.add(args.length == 0 ? fmt : String.format(fmt, args));
    }

    /** A connected ZooKeeper client, closed after the case. */
    public static ZooKeeper client() throws Exception {
        return client(30000, e -> { });
    }

    /** A connected client whose default watcher is w; closed at the end. */
    public static ZooKeeper client(int sessionTimeoutMs, Watcher w)
            throws Exception {
        CountDownLatch up = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(CONNECT, sessionTimeoutMs, e -> {
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected)
                up.countDown();
            w.process(e);
        });
        closeAtEnd.add(zk::close);
        if (!up.await(20, TimeUnit.SECONDS))
            throw new IOException("no session from " + CONNECT);
        return zk;
    }

    /** A started Curator client, connected, closed after the case. */
    public static CuratorFramework curator() throws Exception {
        return curator(CuratorFrameworkFactory.builder());
    }

    /** Starts b (connect string and retry policy filled in). */
    public static CuratorFramework curator(CuratorFrameworkFactory.Builder b)
            throws Exception {
        CuratorFramework c = b.connectString(CONNECT)
            .retryPolicy(new ExponentialBackoffRetry(100, 5))
            .sessionTimeoutMs(30000).connectionTimeoutMs(15000).build();
        closeAtEnd.add(c::close);
        c.start();
        if (!c.blockUntilConnected(20, TimeUnit.SECONDS))
            throw new IOException("curator: no connection to " + CONNECT);
        return c;
    }

    /** Closes c when the case ends (last registered, first closed). */
    public static <T extends AutoCloseable> T closeLater(T c) {
        closeAtEnd.add(c);
        return c;
    }

    /** A Stat as a transcript field list, zxids relative to base
     *  (czxid of this case's root) and times as relations only. */
    public String stat(Stat s) {
        return String.format("czxid=%s mzxid=%s pzxid=%s mtime>=ctime:%b "
            + "version=%d cversion=%d aversion=%d ephemeral=%b "
            + "dataLength=%d numChildren=%d", rel(s.getCzxid()),
            rel(s.getMzxid()), rel(s.getPzxid()),
            s.getMtime() >= s.getCtime(), s.getVersion(),
            s.getCversion(), s.getAversion(), s.getEphemeralOwner() != 0,
            s.getDataLength(), s.getNumChildren());
    }

    private long base;

    /** zxid relative to the root's creation ("+3"), or "0" / "-". */
    public String rel(long zxid) {
        if (zxid == 0)
            return "0";
        return zxid < base ? "-" : "+" + (zxid - base);
    }

    public static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    public static String s(byte[] b) {
        return b == null ? "null" : new String(b, StandardCharsets.UTF_8);
    }

    /** The KeeperException code name of running r, or "ok". */
    public static String code(ThrowingRunnable r) {
        try {
            r.run();
            return "ok";
        } catch (KeeperException e) {
            return e.code().name();
        } catch (Exception e) {
            return e.getClass().getSimpleName();
        }
    }

    @FunctionalInterface
    public interface ThrowingRunnable {
        void run() throws Exception;
    }

    static final class Recorder implements BeforeEachCallback,
            AfterEachCallback {
        @Override
        public void beforeEach(ExtensionContext ctx) throws Exception {
            lines.clear();
            closeAtEnd.clear();
            Zk t = (Zk) ctx.getRequiredTestInstance();
            String name = "/jt/" + ctx.getRequiredTestClass().getSimpleName()
                + "/" + ctx.getRequiredTestMethod().getName();
            ZooKeeper zk = client();
            String at = "";
            for (String part : name.substring(1).split("/")) {
                at += "/" + part;
                try {
                    zk.create(at, new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE,
                              CreateMode.PERSISTENT);
                } catch (KeeperException.NodeExistsException e) {
                    // a parent, or a case run twice
                }
            }
            t.root = name;
            t.base = zk.exists(name, false).getCzxid();
        }

        @Override
        public void afterEach(ExtensionContext ctx) throws Exception {
            List<AutoCloseable> cs;
            synchronized (closeAtEnd) {
                cs = new ArrayList<>(closeAtEnd);
                closeAtEnd.clear();
            }
            Collections.reverse(cs);
            for (AutoCloseable c : cs) {
                try {
                    c.close();
                } catch (Exception e) {
                    // closing is best effort; the case's result stands
                }
            }
            if (TRANSCRIPTS == null)
                return;
            String key = ctx.getRequiredTestClass().getName() + "."
                + ctx.getRequiredTestMethod().getName() + "("
                + paramNames(ctx.getRequiredTestMethod().getParameterTypes())
                + ")";
            List<String> copy = new ArrayList<>();
            Gap gap = ctx.getRequiredTestMethod().getAnnotation(Gap.class);
            if (gap != null)
                copy.add("# known gap: " + gap.value());
            synchronized (lines) {
                copy.addAll(lines);
            }
            try {
                Path p = Paths.get(TRANSCRIPTS, key.replace('/', '_') + ".txt");
                Files.write(p, copy, StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        private static String paramNames(Class<?>[] types) {
            StringBuilder sb = new StringBuilder();
            for (Class<?> c : types)
                sb.append(sb.length() == 0 ? "" : ", ").append(c.getSimpleName());
            return sb.toString();
        }
    }
}
