package paddock.test.recipes;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderLatchListener;
import org.apache.curator.framework.recipes.leader.LeaderSelector;
import org.apache.curator.framework.recipes.leader.LeaderSelectorListenerAdapter;
import org.apache.curator.framework.recipes.leader.Participant;
import org.apache.zookeeper.KeeperException;
import org.junit.jupiter.api.Test;

import paddock.test.Zk;

/** Leader latch and leader selector with several clients, fail-over when
 *  the leader's client closes. */
class LeaderTest extends Zk {
    private static String parts(java.util.Collection<Participant> ps) {
        List<String> l = new ArrayList<>();
        for (Participant p : ps)
            l.add(p.getId());
        return Rx.sorted(l).toString();
    }

    /** Samples the live latches until stopped; true if it ever saw two
     *  leaders at once. */
    private static final class Sampler extends Thread {
        final List<LeaderLatch> latches;
        final Set<Integer> dead = ConcurrentHashMap.newKeySet();
        final AtomicBoolean two = new AtomicBoolean();
        volatile boolean stop;

        Sampler(List<LeaderLatch> latches) {
            this.latches = latches;
            setDaemon(true);
        }

        @Override
        public void run() {
            while (!stop) {
                int n = 0;
                for (int i = 0; i < latches.size(); i++)
                    if (!dead.contains(i) && latches.get(i).hasLeadership())
                        n++;
                if (n > 1)
                    two.set(true);
                try {
                    Thread.sleep(1);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }
    }

    private int leaderIndex(List<LeaderLatch> ls, Set<Integer> dead) {
        int idx = -1;
        for (int i = 0; i < ls.size(); i++)
            if (!dead.contains(i) && ls.get(i).hasLeadership()) {
                if (idx >= 0)
                    return -2;
                idx = i;
            }
        return idx;
    }

    @Test
    void leaderLatchFailover() throws Exception {
        int n = 4;
        List<CuratorFramework> cs = Rx.clients(n);
        String p = root + "/latch";
        List<LeaderLatch> ls = new ArrayList<>();
        AtomicInteger isLeader = new AtomicInteger();
        AtomicInteger notLeader = new AtomicInteger();
        for (int i = 0; i < n; i++) {
            LeaderLatch l = closeLater(new LeaderLatch(cs.get(i), p, "c" + i));
            l.addListener(new LeaderLatchListener() {
                @Override
                public void isLeader() {
                    isLeader.incrementAndGet();
                }

                @Override
                public void notLeader() {
                    notLeader.incrementAndGet();
                }
            });
            ls.add(l);
        }
        Sampler sampler = new Sampler(ls);
        sampler.start();
        Rx.race(n, 10000, i -> ls.get(i).start());
        Set<Integer> dead = sampler.dead;
        log("one leader elected: %b",
            Rx.until(() -> leaderIndex(ls, dead) >= 0, 10000));
        int lead = leaderIndex(ls, dead);
        boolean agree = true;
        for (LeaderLatch l : ls)
            agree &= l.getLeader().getId().equals(ls.get(lead).getId())
                && l.getLeader().isLeader();
        log("all agree on the leader: %b", agree);
        log("participants %s", parts(ls.get(0).getParticipants()));
        log("await on leader %b", ls.get(lead).await(1, TimeUnit.SECONDS));
        LeaderLatch other = ls.get((lead + 1) % n);
        log("await on follower %b", other.await(100, TimeUnit.MILLISECONDS));
        // fail-over 1: the leader's session closes
        dead.add(lead);
        cs.get(lead).close();
        log("new leader after session close: %b", Rx.until(() -> {
            int k = leaderIndex(ls, dead);
            return k >= 0 && k != lead;
        }, 10000));
        int lead2 = leaderIndex(ls, dead);
        log("participants %d", ls.get(lead2).getParticipants().size());
        // fail-over 2: the leader closes its latch
        dead.add(lead2);
        ls.get(lead2).close();
        log("closed latch state %s leadership %b", ls.get(lead2).getState(),
            ls.get(lead2).hasLeadership());
        log("new leader after latch close: %b", Rx.until(() -> {
            int k = leaderIndex(ls, dead);
            return k >= 0;
        }, 10000));
        int lead3 = leaderIndex(ls, dead);
        log("participants %d", ls.get(lead3).getParticipants().size());
        // fail-over 3
        dead.add(lead3);
        ls.get(lead3).close(LeaderLatch.CloseMode.NOTIFY_LEADER);
        log("last one leads: %b", Rx.until(() -> leaderIndex(ls, dead) >= 0,
                                           10000));
        sampler.stop = true;
        sampler.join(2000);
        log("never two leaders at once: %b", !sampler.two.get());
        Rx.until(() -> isLeader.get() >= 4 && notLeader.get() >= 1, 2000);
        Thread.sleep(50);
        log("isLeader callbacks %d, notLeader callbacks %d", isLeader.get(),
            notLeader.get());
        CuratorFramework live = cs.get(0 == lead ? 1 : 0);
        log("one latch node left: %b", Rx.until(() -> live.getChildren()
            .forPath(p).size() == 1, 5000));
        assertThat(sampler.two.get()).isFalse();
    }

    @Test
    void leaderLatchNodes() throws Exception {
        CuratorFramework a = curator();
        CuratorFramework b = curator();
        String p = root + "/latch";
        LeaderLatch la = closeLater(new LeaderLatch(a, p, "alpha"));
        la.start();
        log("alpha leads %b", la.await(5, TimeUnit.SECONDS));
        LeaderLatch lb = closeLater(new LeaderLatch(b, p, "beta"));
        lb.start();
        // LeaderLatch sets its path in the create's background callback,
        // which may run after the node shows among the participants
        log("beta registered %b", Rx.until(() -> lb.getParticipants().size() == 2
                                           && lb.getOurPath() != null, 5000));
        log("beta leads %b", lb.hasLeadership());
        log("our path alpha %s", Rx.unprotect(Rx.rel(root, la.getOurPath())));
        log("our path beta %s", Rx.unprotect(Rx.rel(root, lb.getOurPath())));
        log("alpha node data '%s'", s(b.getData().forPath(la.getOurPath())));
        log("ephemeral %b", b.checkExists().forPath(la.getOurPath())
            .getEphemeralOwner() != 0);
        // someone deletes the leader's node: the next one leads
        b.delete().forPath(la.getOurPath());
        log("beta leads after alpha's node deleted %b",
            Rx.until(lb::hasLeadership, 5000));
        log("alpha (leaders watch nothing) still believes it leads: %b",
            la.hasLeadership());
        log("participants %s", parts(lb.getParticipants()));
        la.close();
        lb.close();
        // the latch's parent is a container: once empty, the server may
        // delete it (a 1 s check in the tests), on either server, so a
        // parent gone counts as no nodes left and no leader
        log("nodes deleted: %b", Rx.until(() -> {
            try {
                return a.getChildren().forPath(p).isEmpty();
            } catch (KeeperException.NoNodeException e) {
                return true;
            }
        }, 5000));
        LeaderLatch lc = new LeaderLatch(a, p, "gamma");
        String leader;
        try {
            leader = lc.getLeader().getId();
        } catch (KeeperException.NoNodeException e) {
            leader = "";
        }
        log("leader of empty latch: %s", leader.isEmpty() ? "none" : leader);
    }

    @Test
    void leaderSelectorRequeue() throws Exception {
        int n = 3;
        List<CuratorFramework> cs = Rx.clients(n);
        String p = root + "/sel";
        AtomicInteger in = new AtomicInteger();
        AtomicInteger max = new AtomicInteger();
        AtomicInteger total = new AtomicInteger();
        Set<String> led = ConcurrentHashMap.newKeySet();
        List<LeaderSelector> ss = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String id = "s" + i;
            LeaderSelector s = new LeaderSelector(cs.get(i), p,
                new LeaderSelectorListenerAdapter() {
                    @Override
                    public void takeLeadership(CuratorFramework c)
                            throws Exception {
                        max.accumulateAndGet(in.incrementAndGet(), Math::max);
                        led.add(id);
                        Thread.sleep(20);
                        in.decrementAndGet();
                        total.incrementAndGet();
                    }
                });
            s.setId(id);
            s.autoRequeue();
            closeLater(s);
            ss.add(s);
        }
        for (LeaderSelector s : ss)
            s.start();
        boolean enough = Rx.until(() -> total.get() >= 12 && led.size() == n,
                                  15000);
        for (LeaderSelector s : ss)
            s.close();
        log("at least 12 terms, every client led: %b", enough);
        log("leaders %s", new TreeSet<>(led));
        log("max concurrent leaders %d", max.get());
        // the lock's parent is a container: once empty, the server's
        // container check (1 s in the tests) may delete it first
        log("nodes left %s", Rx.until(() -> {
            try {
                return cs.get(0).getChildren().forPath(p).isEmpty();
            } catch (KeeperException.NoNodeException e) {
                return true;
            }
        }, 5000));
        assertThat(max.get()).isEqualTo(1);
    }

    @Test
    void leaderSelectorFailover() throws Exception {
        int n = 3;
        List<CuratorFramework> cs = Rx.clients(n);
        String p = root + "/sel";
        List<CountDownLatch> took = new ArrayList<>();
        CountDownLatch forever = new CountDownLatch(1);
        List<LeaderSelector> ss = new ArrayList<>();
        AtomicInteger interrupted = new AtomicInteger();
        for (int i = 0; i < n; i++) {
            CountDownLatch t = new CountDownLatch(1);
            took.add(t);
            LeaderSelector s = new LeaderSelector(cs.get(i), p,
                new LeaderSelectorListenerAdapter() {
                    @Override
                    public void takeLeadership(CuratorFramework c)
                            throws Exception {
                        t.countDown();
                        try {
                            forever.await();
                        } catch (InterruptedException e) {
                            interrupted.incrementAndGet();
                            throw e;
                        }
                    }
                });
            s.setId("s" + i);
            closeLater(s);
            ss.add(s);
        }
        for (LeaderSelector s : ss)
            s.start();
        int first = -1;
        long end = System.currentTimeMillis() + 10000;
        while (first < 0 && System.currentTimeMillis() < end) {
            for (int i = 0; i < n; i++)
                if (took.get(i).getCount() == 0)
                    first = i;
            Thread.sleep(10);
        }
        log("a leader: %b", first >= 0);
        Thread.sleep(100);
        int leaders = 0;
        for (CountDownLatch t : took)
            leaders += t.getCount() == 0 ? 1 : 0;
        log("leaders %d", leaders);
        Participant lp = ss.get((first + 1) % n).getLeader();
        log("others see the leader: %b leader flag %b",
            lp.getId().equals("s" + first), lp.isLeader());
        List<String> flags = new ArrayList<>();
        for (Participant x : ss.get(first).getParticipants())
            flags.add(x.isLeader() ? "L" : "-");
        log("participants %s flags %s", parts(ss.get(first).getParticipants()),
            Rx.sorted(flags));
        log("hasLeadership %b", ss.get(first).hasLeadership());
        // the leader's session closes: another takes over
        int f = first;
        cs.get(first).close();
        log("taken over after leader's session closed: %b", Rx.until(() -> {
            for (int i = 0; i < n; i++)
                if (i != f && took.get(i).getCount() == 0)
                    return true;
            return false;
        }, 10000));
        ss.get(first).close();
        int second = -1;
        for (int i = 0; i < n; i++)
            if (i != first && took.get(i).getCount() == 0)
                second = i;
        // interruptLeadership: the next one takes over
        ss.get(second).interruptLeadership();
        log("taken over after interruptLeadership: %b", Rx.until(() -> {
            int k = 0;
            for (CountDownLatch t : took)
                k += t.getCount() == 0 ? 1 : 0;
            return k == n;
        }, 10000));
        log("interrupted leaders 2: %b", Rx.until(() -> interrupted.get() == 2,
                                                  5000));
        forever.countDown();
    }
}
