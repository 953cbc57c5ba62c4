package paddock.test.recipes;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;

/** A TCP relay in front of the server under test, so that a case can cut
 *  a client's connection (both sides see it closed) and keep new
 *  connections out for a while, then let them through again. */
final class TcpProxy implements AutoCloseable {
    private final String host;
    private final int port;
    private final ServerSocket ss;
    private final List<Socket> open = new ArrayList<>();
    private volatile boolean down;
    private volatile boolean muted;
    private volatile boolean closed;

    TcpProxy(String target) throws IOException {
        int i = target.lastIndexOf(':');
        host = target.substring(0, i);
        port = Integer.parseInt(target.substring(i + 1));
        ss = new ServerSocket();
        ss.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        Thread t = new Thread(this::accept, "proxy-accept");
        t.setDaemon(true);
        t.start();
    }

    /** Connect string of the proxy. */
    String connect() {
        return "127.0.0.1:" + ss.getLocalPort();
    }

    /** Closes every relayed connection and refuses new ones. */
    void cut() {
        down = true;
        closeAll();
    }

    /** Lets connections through again. */
    void restore() {
        down = false;
        muted = false;
    }

    /** From now on the server's bytes are dropped (the client's still
     *  reach the server): requests are served, their replies lost. */
    void mute() {
        muted = true;
    }

    private void closeAll() {
        List<Socket> l;
        synchronized (open) {
            l = new ArrayList<>(open);
            open.clear();
        }
        for (Socket s : l) {
            try {
                s.close();
            } catch (IOException e) {
                // already closed
            }
        }
    }

    private void accept() {
        while (!closed) {
            Socket c;
            try {
                c = ss.accept();
            } catch (IOException e) {
                return;
            }
            if (down) {
                try {
                    c.close();
                } catch (IOException e) {
                    // nothing
                }
                continue;
            }
            Socket s;
            try {
                s = new Socket(host, port);
                c.setTcpNoDelay(true);
                s.setTcpNoDelay(true);
            } catch (IOException e) {
                try {
                    c.close();
                } catch (IOException e2) {
                    // nothing
                }
                continue;
            }
            synchronized (open) {
                open.add(c);
                open.add(s);
            }
            pump(c, s, false);
            pump(s, c, true);
        }
    }

    private void pump(Socket from, Socket to, boolean downstream) {
        Thread t = new Thread(() -> {
            byte[] buf = new byte[65536];
            try {
                InputStream in = from.getInputStream();
                OutputStream out = to.getOutputStream();
                int n;
                while ((n = in.read(buf)) >= 0) {
                    if (downstream && muted)
                        continue;
                    out.write(buf, 0, n);
                    out.flush();
                }
            } catch (IOException e) {
                // cut or closed
            } finally {
                try {
                    from.close();
                } catch (IOException e) {
                    // nothing
                }
                try {
                    to.close();
                } catch (IOException e) {
                    // nothing
                }
            }
        }, "proxy-pump");
        t.setDaemon(true);
        t.start();
    }

    @Override
    public void close() {
        closed = true;
        try {
            ss.close();
        } catch (IOException e) {
            // nothing
        }
        closeAll();
    }
}
