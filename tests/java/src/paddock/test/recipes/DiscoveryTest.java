package paddock.test.recipes;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.x.discovery.DownInstancePolicy;
import org.apache.curator.x.discovery.ServiceCache;
import org.apache.curator.x.discovery.ServiceDiscovery;
import org.apache.curator.x.discovery.ServiceDiscoveryBuilder;
import org.apache.curator.x.discovery.ServiceInstance;
import org.apache.curator.x.discovery.ServiceProvider;
import org.apache.curator.x.discovery.ServiceType;
import org.apache.curator.x.discovery.details.JsonInstanceSerializer;
import org.apache.curator.x.discovery.details.ServiceCacheListener;
import org.apache.curator.x.discovery.strategies.RoundRobinStrategy;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.zookeeper.data.Stat;
import org.junit.jupiter.api.Test;

import paddock.test.Zk;

/** curator-x-discovery: registration from several clients, queries,
 *  service cache and provider, instances vanishing with their session. */
class DiscoveryTest extends Zk {
    private String base() {
        return root + "/svc";
    }

    private ServiceDiscovery<String> sd(CuratorFramework c,
            ServiceInstance<String> me) throws Exception {
        ServiceDiscoveryBuilder<String> b = ServiceDiscoveryBuilder
            .builder(String.class).client(c).basePath(base())
            .serializer(new JsonInstanceSerializer<>(String.class));
        if (me != null)
            b.thisInstance(me);
        ServiceDiscovery<String> d = closeLater(b.build());
        d.start();
        return d;
    }

    private static ServiceInstance<String> inst(String name, String id,
            int port, String payload) throws Exception {
        return ServiceInstance.<String>builder().name(name).id(id)
            .address("10.0.0." + port % 250).port(port).payload(payload)
            .build();
    }

    private static String show(Collection<ServiceInstance<String>> l) {
        Set<String> out = new TreeSet<>();
        for (ServiceInstance<String> i : l)
            out.add(i.getName() + "/" + i.getId() + "@" + i.getAddress() + ":"
                    + i.getPort() + " " + i.getPayload() + " "
                    + i.getServiceType());
        return out.toString();
    }

    @Test
    void registerAndQuery() throws Exception {
        List<CuratorFramework> cs = Rx.clients(4);
        List<ServiceDiscovery<String>> sds = new ArrayList<>();
        for (int i = 0; i < 3; i++)
            sds.add(sd(cs.get(i), inst(i < 2 ? "web" : "db", "i" + i, 8000 + i,
                                       "p" + i)));
        ServiceDiscovery<String> q = sd(cs.get(3), null);
        log("names %s", new TreeSet<>(q.queryForNames()));
        log("web %s", show(q.queryForInstances("web")));
        log("db %s", show(q.queryForInstances("db")));
        log("one %s", q.queryForInstance("web", "i1").getPayload());
        log("missing instance %s", q.queryForInstance("web", "nope"));
        log("missing service %s", q.queryForInstances("nope"));
        Stat st = cs.get(3).checkExists().forPath(base() + "/web/i0");
        log("instance node ephemeral %b", st.getEphemeralOwner() != 0);
        ServiceInstance<String> upd = ServiceInstance.<String>builder()
            .name("web").id("i0").address("10.0.0.100").port(9000)
            .payload("updated").build();
        sds.get(0).updateService(upd);
        log("after update %s", show(q.queryForInstances("web")));
        ServiceInstance<String> perm = ServiceInstance.<String>builder()
            .name("web").id("perm").address("10.0.0.7").port(7)
            .serviceType(ServiceType.PERMANENT).payload("x").build();
        q.registerService(perm);
        log("permanent node ephemeral %b", cs.get(3).checkExists()
            .forPath(base() + "/web/perm").getEphemeralOwner() != 0);
        sds.get(1).unregisterService(sds.get(1).queryForInstance("web", "i1"));
        log("after unregister %s", show(q.queryForInstances("web")));
        cs.get(2).close();
        log("db gone with its session: %b", Rx.until(() ->
            q.queryForInstances("db").isEmpty(), 5000));
        log("emptied service's container reaped: %b", Rx.until(() ->
            q.queryForNames().size() == 1, 5000));
        log("names %s", new TreeSet<>(q.queryForNames()));
        q.unregisterService(perm);
        log("final %s", show(q.queryForInstances("web")));
    }

    @Test
    void registerRace() throws Exception {
        List<CuratorFramework> cs = Rx.clients(4);
        Rx.race(4, 30000, i -> {
            ServiceDiscovery<String> d = sd(cs.get(i), null);
            for (int k = 0; k < 5; k++)
                d.registerService(inst("api", "c" + i + "-" + k, 100 + k, "x"));
        });
        ServiceDiscovery<String> q = sd(curator(), null);
        log("registered %d", q.queryForInstances("api").size());
        log("children %d", cs.get(0).getChildren().forPath(base() + "/api")
            .size());
    }

    @Test
    void serviceCacheAndProvider() throws Exception {
        List<CuratorFramework> cs = Rx.clients(4);
        for (int i = 0; i < 3; i++)
            sd(cs.get(i), inst("web", "w" + i, 8080 + i, "p" + i));
        ServiceDiscovery<String> q = sd(cs.get(3), null);
        ServiceCache<String> cache = closeLater(q.serviceCacheBuilder()
            .name("web").build());
        AtomicInteger changes = new AtomicInteger();
        cache.addListener(new ServiceCacheListener() {
            @Override
            public void cacheChanged() {
                changes.incrementAndGet();
            }

            @Override
            public void stateChanged(CuratorFramework c, ConnectionState s) {
            }
        });
        cache.start();
        log("cache %s", show(cache.getInstances()));
        ServiceInstance<String> extra = inst("web", "w9", 8089, "p9");
        q.registerService(extra);
        log("cache sees new instance: %b", Rx.until(() ->
            cache.getInstances().size() == 4, 5000));
        log("changed callbacks >= 1: %b", Rx.until(() -> changes.get() >= 1,
                                                   5000));
        q.unregisterService(extra);
        log("cache sees removal: %b", Rx.until(() ->
            cache.getInstances().size() == 3, 5000));
        ServiceProvider<String> prov = closeLater(q.serviceProviderBuilder()
            .serviceName("web").providerStrategy(new RoundRobinStrategy<>())
            .downInstancePolicy(new DownInstancePolicy(30, TimeUnit.SECONDS, 1))
            .build());
        prov.start();
        Set<String> picked = new TreeSet<>();
        for (int i = 0; i < 3; i++)
            picked.add(prov.getInstance().getId());
        log("round robin over 3 picks %s", picked);
        log("all %s", show(prov.getAllInstances()));
        ServiceInstance<String> down = null;
        for (ServiceInstance<String> i : prov.getAllInstances())
            if (i.getId().equals("w1"))
                down = i;
        prov.noteError(down);
        Set<String> after = new TreeSet<>();
        for (int i = 0; i < 6; i++)
            after.add(prov.getInstance().getId());
        log("picks after w1 noted down %s", after);
        cs.get(0).close();
        log("cache drops closed session's instance: %b", Rx.until(() ->
            cache.getInstances().size() == 2, 5000));
        log("cache %s", show(cache.getInstances()));
    }
}
