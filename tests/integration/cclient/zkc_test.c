/* zkc_test: drive a server with the libzookeeper-mt C client.
 *
 * usage: zkc_test HOST:PORT ROOT
 *
 * Exercises create/get/set/exists/get_children/delete/multi/watches with the
 * synchronous and the asynchronous API and prints one line per result;
 * tests/integration/test_cclient.py checks the output.  Exit status 0 only
 * if every step behaved as expected ("FAIL ..." lines say which did not).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

static int failures;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int connected;
static int events_seen;
static char last_event[512];
static int async_done;
static int async_rc;
static char async_buf[512];

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            printf("FAIL line %d: ", __LINE__);                               \
            printf(__VA_ARGS__);                                              \
            printf("\n");                                                     \
            failures++;                                                       \
        }                                                                     \
    } while (0)

static void wait_until(int *flag, int want, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&mu);
    while (*flag < want) {
        if (pthread_cond_timedwait(&cv, &mu, &ts) != 0)
            break;
    }
    pthread_mutex_unlock(&mu);
}

static const char *type_name(int type)
{
    if (type == ZOO_CREATED_EVENT) return "created";
    if (type == ZOO_DELETED_EVENT) return "deleted";
    if (type == ZOO_CHANGED_EVENT) return "changed";
    if (type == ZOO_CHILD_EVENT) return "child";
    if (type == ZOO_SESSION_EVENT) return "session";
    return "other";
}

static void global_watcher(zhandle_t *zh, int type, int state,
                           const char *path, void *ctx)
{
    pthread_mutex_lock(&mu);
    if (type == ZOO_SESSION_EVENT) {
        if (state == ZOO_CONNECTED_STATE)
            connected = 1;
    } else {
        snprintf(last_event, sizeof last_event, "%s %s", type_name(type),
                 path);
        printf("event %s\n", last_event);
        fflush(stdout);
        events_seen++;
    }
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void string_completion(int rc, const char *value, const void *data)
{
    pthread_mutex_lock(&mu);
    async_rc = rc;
    snprintf(async_buf, sizeof async_buf, "%s", value ? value : "(null)");
    async_done++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void data_completion(int rc, const char *value, int len,
                            const struct Stat *stat, const void *data)
{
    pthread_mutex_lock(&mu);
    async_rc = rc;
    if (value && len >= 0)
        snprintf(async_buf, sizeof async_buf, "%.*s v=%d", len, value,
                 stat ? stat->version : -1);
    else
        snprintf(async_buf, sizeof async_buf, "(null)");
    async_done++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void stat_completion(int rc, const struct Stat *stat, const void *data)
{
    pthread_mutex_lock(&mu);
    async_rc = rc;
    snprintf(async_buf, sizeof async_buf, "v=%d", stat ? stat->version : -1);
    async_done++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void void_completion(int rc, const void *data)
{
    pthread_mutex_lock(&mu);
    async_rc = rc;
    async_buf[0] = 0;
    async_done++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void strings_completion(int rc, const struct String_vector *sv,
                               const void *data)
{
    pthread_mutex_lock(&mu);
    async_rc = rc;
    async_buf[0] = 0;
    if (sv)
        snprintf(async_buf, sizeof async_buf, "n=%d", sv->count);
    async_done++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void wait_async(int before)
{
    wait_until(&async_done, before + 1, 10000);
    CHECK(async_done == before + 1, "async completion did not arrive");
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s HOST:PORT ROOT\n", argv[0]);
        return 2;
    }
    const char *hosts = argv[1];
    const char *root = argv[2];
    char path[512], buf[512], out[512];
    int len, rc, n;
    struct Stat st;

    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    zhandle_t *zh = zookeeper_init(hosts, global_watcher, 10000, 0, 0, 0);
    if (!zh) {
        printf("FAIL zookeeper_init\n");
        return 1;
    }
    wait_until(&connected, 1, 10000);
    if (!connected) {
        printf("FAIL not connected\n");
        return 1;
    }
    printf("connected session=0x%llx timeout=%d\n",
           (long long)zoo_client_id(zh)->client_id, zoo_recv_timeout(zh));

    /* ---- synchronous API */
    rc = zoo_create(zh, root, "rootdata", 8, &ZOO_OPEN_ACL_UNSAFE, 0, out,
                    sizeof out);
    printf("create %s rc=%d\n", out, rc);
    CHECK(rc == ZOK, "create root rc=%d", rc);

    rc = zoo_create(zh, root, "x", 1, &ZOO_OPEN_ACL_UNSAFE, 0, out,
                    sizeof out);
    printf("create_again rc=%d\n", rc);
    CHECK(rc == ZNODEEXISTS, "create existing rc=%d", rc);

    snprintf(path, sizeof path, "%s/seq-", root);
    for (int i = 0; i < 2; i++) {
        rc = zoo_create(zh, path, "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_SEQUENCE,
                        out, sizeof out);
        printf("create_seq %s rc=%d\n", out, rc);
        CHECK(rc == ZOK, "create seq rc=%d", rc);
    }
    snprintf(path, sizeof path, "%s/eph", root);
    rc = zoo_create(zh, path, "e", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, out,
                    sizeof out);
    printf("create_eph %s rc=%d\n", out, rc);
    CHECK(rc == ZOK, "create eph rc=%d", rc);
    snprintf(path, sizeof path, "%s/eph/child", root);
    rc = zoo_create(zh, path, "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, out, sizeof out);
    printf("create_under_eph rc=%d\n", rc);
    CHECK(rc == ZNOCHILDRENFOREPHEMERALS, "child of eph rc=%d", rc);

    /* create2 */
    snprintf(path, sizeof path, "%s/c2", root);
    rc = zoo_create2(zh, path, "abc", 3, &ZOO_OPEN_ACL_UNSAFE, 0, out,
                     sizeof out, &st);
    printf("create2 %s rc=%d version=%d dataLength=%d\n", out, rc, st.version,
           st.dataLength);
    CHECK(rc == ZOK && st.dataLength == 3, "create2 rc=%d", rc);

    len = sizeof buf;
    rc = zoo_get(zh, root, 0, buf, &len, &st);
    printf("get %.*s rc=%d version=%d numChildren=%d\n", len, buf, rc,
           st.version, st.numChildren);
    CHECK(rc == ZOK && len == 8 && st.numChildren == 4, "get root");

    rc = zoo_set(zh, root, "new", 3, 0);
    printf("set rc=%d\n", rc);
    CHECK(rc == ZOK, "set rc=%d", rc);
    rc = zoo_set(zh, root, "newer", 5, 0);
    printf("set_badversion rc=%d\n", rc);
    CHECK(rc == ZBADVERSION, "set bad version rc=%d", rc);

    rc = zoo_exists(zh, root, 0, &st);
    printf("exists rc=%d version=%d\n", rc, st.version);
    CHECK(rc == ZOK && st.version == 1, "exists");
    snprintf(path, sizeof path, "%s/none", root);
    rc = zoo_exists(zh, path, 0, &st);
    printf("exists_none rc=%d\n", rc);
    CHECK(rc == ZNONODE, "exists none rc=%d", rc);

    struct String_vector sv;
    rc = zoo_get_children(zh, root, 0, &sv);
    printf("children rc=%d count=%d\n", rc, sv.count);
    CHECK(rc == ZOK && sv.count == 4, "children");
    deallocate_String_vector(&sv);
    rc = zoo_get_children2(zh, root, 0, &sv, &st);
    printf("children2 rc=%d count=%d cversion=%d\n", rc, sv.count,
           st.cversion);
    CHECK(rc == ZOK && st.cversion == 4, "children2");
    deallocate_String_vector(&sv);

    /* multi: one success, one failure */
    {
        zoo_op_t ops[3];
        zoo_op_result_t res[3];
        char p1[512], p2[512], o1[512];
        snprintf(p1, sizeof p1, "%s/m1", root);
        snprintf(p2, sizeof p2, "%s/m2", root);
        zoo_create_op_init(&ops[0], p1, "1", 1, &ZOO_OPEN_ACL_UNSAFE, 0, o1,
                           sizeof o1);
        zoo_create_op_init(&ops[1], p2, "2", 1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL,
                           0);
        zoo_set_op_init(&ops[2], p1, "x", 1, 0, NULL);
        rc = zoo_multi(zh, 3, ops, res);
        printf("multi_ok rc=%d results=%d,%d,%d\n", rc, res[0].err,
               res[1].err, res[2].err);
        CHECK(rc == ZOK, "multi ok rc=%d", rc);

        zoo_op_t ops2[3];
        zoo_op_result_t res2[3];
        char p3[512];
        snprintf(p3, sizeof p3, "%s/m3", root);
        zoo_create_op_init(&ops2[0], p3, "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL,
                           0);
        zoo_check_op_init(&ops2[1], p1, 7);
        zoo_delete_op_init(&ops2[2], p2, -1);
        rc = zoo_multi(zh, 3, ops2, res2);
        printf("multi_fail rc=%d results=%d,%d,%d\n", rc, res2[0].err,
               res2[1].err, res2[2].err);
        CHECK(rc == ZBADVERSION, "multi fail rc=%d", rc);
        rc = zoo_exists(zh, p3, 0, &st);
        CHECK(rc == ZNONODE, "multi rolled back rc=%d", rc);
    }

    /* watches */
    pthread_mutex_lock(&mu);
    n = events_seen;
    pthread_mutex_unlock(&mu);
    len = sizeof buf;
    rc = zoo_get(zh, root, 1, buf, &len, &st);
    CHECK(rc == ZOK, "get with watch rc=%d", rc);
    rc = zoo_set(zh, root, "w", 1, -1);
    wait_until(&events_seen, n + 1, 10000);
    printf("watch_data %s\n", last_event);
    CHECK(events_seen == n + 1 && strncmp(last_event, "changed", 7) == 0,
          "data watch");

    snprintf(path, sizeof path, "%s/later", root);
    rc = zoo_exists(zh, path, 1, &st);
    CHECK(rc == ZNONODE, "exists watch rc=%d", rc);
    rc = zoo_create(zh, path, "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    wait_until(&events_seen, n + 2, 10000);
    printf("watch_exists %s\n", last_event);
    CHECK(strncmp(last_event, "created", 7) == 0, "exists watch");

    rc = zoo_get_children(zh, root, 1, &sv);
    deallocate_String_vector(&sv);
    rc = zoo_delete(zh, path, -1);
    wait_until(&events_seen, n + 3, 10000);
    printf("watch_child %s\n", last_event);
    CHECK(strncmp(last_event, "child", 5) == 0, "child watch");

    /* ---- asynchronous API */
    snprintf(path, sizeof path, "%s/async", root);
    n = async_done;
    rc = zoo_acreate(zh, path, "av", 2, &ZOO_OPEN_ACL_UNSAFE, 0,
                     string_completion, NULL);
    wait_async(n);
    printf("acreate %s rc=%d\n", async_buf, async_rc);
    CHECK(async_rc == ZOK, "acreate");

    n = async_done;
    zoo_aget(zh, path, 0, data_completion, NULL);
    wait_async(n);
    printf("aget %s rc=%d\n", async_buf, async_rc);
    CHECK(async_rc == ZOK && strcmp(async_buf, "av v=0") == 0, "aget");

    n = async_done;
    zoo_aset(zh, path, "bv", 2, 0, stat_completion, NULL);
    wait_async(n);
    printf("aset %s rc=%d\n", async_buf, async_rc);
    CHECK(async_rc == ZOK && strcmp(async_buf, "v=1") == 0, "aset");

    n = async_done;
    zoo_aexists(zh, path, 0, stat_completion, NULL);
    wait_async(n);
    printf("aexists %s rc=%d\n", async_buf, async_rc);

    n = async_done;
    zoo_aget_children(zh, root, 0, strings_completion, NULL);
    wait_async(n);
    printf("aget_children %s rc=%d\n", async_buf, async_rc);

    n = async_done;
    zoo_async(zh, root, string_completion, NULL);
    wait_async(n);
    printf("async_sync %s rc=%d\n", async_buf, async_rc);
    CHECK(async_rc == ZOK, "sync");

    n = async_done;
    zoo_adelete(zh, path, 5, void_completion, NULL);
    wait_async(n);
    printf("adelete_badversion rc=%d\n", async_rc);
    CHECK(async_rc == ZBADVERSION, "adelete bad version");

    n = async_done;
    zoo_adelete(zh, path, 1, void_completion, NULL);
    wait_async(n);
    printf("adelete rc=%d\n", async_rc);
    CHECK(async_rc == ZOK, "adelete");

    /* ACL */
    {
        struct ACL_vector acl;
        rc = zoo_get_acl(zh, root, &acl, &st);
        printf("get_acl rc=%d count=%d perms=%d scheme=%s id=%s\n", rc,
               acl.count, acl.data[0].perms, acl.data[0].id.scheme,
               acl.data[0].id.id);
        CHECK(rc == ZOK && acl.count == 1, "get_acl");
        deallocate_ACL_vector(&acl);
        rc = zoo_set_acl(zh, root, 0, &ZOO_OPEN_ACL_UNSAFE);
        printf("set_acl rc=%d\n", rc);
        CHECK(rc == ZOK, "set_acl");
    }

    /* sync delete */
    snprintf(path, sizeof path, "%s/c2", root);
    rc = zoo_delete(zh, path, -1);
    printf("delete rc=%d\n", rc);
    CHECK(rc == ZOK, "delete");
    rc = zoo_delete(zh, root, -1);
    printf("delete_notempty rc=%d\n", rc);
    CHECK(rc == ZNOTEMPTY, "delete not empty rc=%d", rc);

    rc = zookeeper_close(zh);
    printf("close rc=%d\n", rc);
    printf("failures=%d\n", failures);
    return failures ? 1 : 0;
}
