/* test_kube.c - kubeconfig/in-cluster loading, base64, managedFields ownership. */
#include <jansson.h>
#include <pthread.h>

#include "base/buf.h"
#include "kube.h"
#include "reconcile.h"
#include "test.h"
#include "test_raw_server.h"

static void
write_file(const char *path, const char *s)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        TEST_FAIL_("cannot write %s", path);
    fputs(s, f);
    fclose(f);
}

/* "-----BEGIN X-----\n" base64: LS0tLS1CRUdJTiBYLS0tLS0K */
static const char kc[] = "apiVersion: v1\n"
                         "kind: Config\n"
                         "current-context: one\n"
                         "clusters:\n"
                         "- name: c1\n"
                         "  cluster:\n"
                         "    server: https://10.0.0.1:6443/\n"
                         "    certificate-authority-data: LS0tLS1CRUdJTiBYLS0tLS0K\n"
                         "- name: c2\n"
                         "  cluster:\n"
                         "    server: https://k2.example:443\n"
                         "    insecure-skip-tls-verify: true\n"
                         "users:\n"
                         "- name: u1\n"
                         "  user:\n"
                         "    client-certificate-data: Y2VydA==\n"
                         "    client-key-data: a2V5\n"
                         "- name: u2\n"
                         "  user:\n"
                         "    token: abc.def\n"
                         "- name: u3\n"
                         "  user:\n"
                         "    exec:\n"
                         "      apiVersion: client.authentication.k8s.io/v1\n"
                         "      command: /bin/echo\n"
                         "      args: [a, \"b c\"]\n"
                         "      env: [{name: FOO, value: bar}]\n"
                         "      interactiveMode: Never\n"
                         "contexts:\n"
                         "- name: one\n"
                         "  context: {cluster: c1, user: u1, namespace: tempo}\n"
                         "- name: two\n"
                         "  context: {cluster: c2, user: u2}\n"
                         "- name: three\n"
                         "  context: {cluster: c2, user: u3}\n"
                         "- name: broken\n"
                         "  context: {cluster: nope, user: u2}\n";

TEST(kubeconfig_current_context_with_inline_data)
{
    struct kube_config *c = NULL;
    struct tc_err err = {0};

    ASSERT_OK(kube_config_parse_kubeconfig(kc, strlen(kc), "/tmp", NULL, &c, &err));
    ASSERT_STR_EQ(c->server, "https://10.0.0.1:6443");
    ASSERT_STR_EQ(c->ns, "tempo");
    ASSERT_STR_EQ(c->ca_pem.data, "-----BEGIN X-----\n");
    ASSERT_STR_EQ(c->cert_pem.data, "cert");
    ASSERT_STR_EQ(c->key_pem.data, "key");
    ASSERT_EQ(c->insecure, 0);
    ASSERT(c->token == NULL);
    kube_config_free(c);
}

TEST(kubeconfig_other_contexts)
{
    struct kube_config *c = NULL;
    struct tc_err err = {0};

    ASSERT_OK(kube_config_parse_kubeconfig(kc, strlen(kc), "/tmp", "two", &c, &err));
    ASSERT_STR_EQ(c->server, "https://k2.example:443");
    ASSERT_STR_EQ(c->ns, "default");
    ASSERT_EQ(c->insecure, 1);
    ASSERT_STR_EQ(c->token, "abc.def");
    ASSERT_EQ(c->ca_pem.len, 0);
    kube_config_free(c);
    ASSERT_OK(kube_config_parse_kubeconfig(kc, strlen(kc), "/tmp", "three", &c, &err));
    ASSERT_STR_EQ(c->exec_argv[0], "/bin/echo");
    ASSERT_STR_EQ(c->exec_argv[1], "a");
    ASSERT_STR_EQ(c->exec_argv[2], "b c");
    ASSERT(c->exec_argv[3] == NULL);
    ASSERT_STR_EQ(c->exec_env[0], "FOO=bar");
    ASSERT_STR_EQ(c->exec_api_version, "client.authentication.k8s.io/v1");
    kube_config_free(c);
}

TEST(kubeconfig_errors_name_the_problem)
{
    struct kube_config *c = NULL;
    struct tc_err err = {0};
    const char *half = "current-context: x\nclusters: [{name: c, cluster: {server: "
                       "'https://a'}}]\nusers: [{name: u, user: {client-certificate-data: "
                       "Y2VydA==}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n";

    ASSERT_EQ(kube_config_parse_kubeconfig(kc, strlen(kc), "/tmp", "nine", &c, &err), TC_NOTFOUND);
    ASSERT_STR_CONTAINS(err.msg, "context \"nine\" not found");
    ASSERT_EQ(kube_config_parse_kubeconfig(kc, strlen(kc), "/tmp", "broken", &c, &err),
              TC_NOTFOUND);
    ASSERT_STR_CONTAINS(err.msg, "cluster \"nope\"");
    ASSERT_EQ(kube_config_parse_kubeconfig(half, strlen(half), "/tmp", NULL, &c, &err), TC_INVAL);
    ASSERT_STR_CONTAINS(err.msg, "client-key");
    ASSERT_EQ(kube_config_parse_kubeconfig("a: [", 4, "/tmp", NULL, &c, &err), TC_PARSE);
    ASSERT(c == NULL);
}

TEST(kubeconfig_files_relative_paths_and_merge)
{
    const char *dir = test_tmpdir();
    char p1[600], p2[600], list[1300], cert[600];
    struct kube_config *c = NULL;
    struct tc_err err = {0};

    snprintf(cert, sizeof(cert), "%s/client.crt", dir);
    write_file(cert, "CERTFILE");
    snprintf(cert, sizeof(cert), "%s/client.key", dir);
    write_file(cert, "KEYFILE");
    snprintf(p1, sizeof(p1), "%s/a.yaml", dir);
    snprintf(p2, sizeof(p2), "%s/b.yaml", dir);
    /* a.yaml sets the context and user; b.yaml the cluster (and a
     * conflicting user "u" that must lose: first file wins). */
    write_file(p1, "current-context: x\n"
                   "users: [{name: u, user: {client-certificate: client.crt, client-key: "
                   "client.key}}]\n"
                   "contexts: [{name: x, context: {cluster: c, user: u, namespace: n1}}]\n");
    write_file(p2, "current-context: y\n"
                   "clusters: [{name: c, cluster: {server: 'https://b:1'}}]\n"
                   "users: [{name: u, user: {token: loser}}]\n");
    snprintf(list, sizeof(list), "%s/missing.yaml:%s:%s", dir, p1, p2);
    ASSERT_OK(kube_config_load(list, NULL, &c, &err));
    ASSERT_STR_EQ(c->server, "https://b:1");
    ASSERT_STR_EQ(c->ns, "n1");
    ASSERT_STR_EQ(c->cert_pem.data, "CERTFILE");
    ASSERT_STR_EQ(c->key_pem.data, "KEYFILE");
    ASSERT(c->token == NULL);
    kube_config_free(c);
}

TEST(in_cluster)
{
    const char *dir = test_tmpdir();
    char p[600];
    struct kube_config *c = NULL;
    struct tc_err err = {0};

    snprintf(p, sizeof(p), "%s/token", dir);
    write_file(p, "tok\n");
    snprintf(p, sizeof(p), "%s/ca.crt", dir);
    write_file(p, "CA");
    snprintf(p, sizeof(p), "%s/namespace", dir);
    write_file(p, "ops\n");
    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    ASSERT_OK(kube_config_in_cluster(dir, &c, &err));
    ASSERT_STR_EQ(c->server, "https://[fd00::1]:443");
    ASSERT_STR_EQ(c->ns, "ops");
    ASSERT_STR_EQ(c->ca_pem.data, "CA");
    ASSERT(c->token_file != NULL);
    kube_config_free(c);
    unsetenv("KUBERNETES_SERVICE_HOST");
    ASSERT_EQ(kube_config_in_cluster(dir, &c, &err), TC_NOTFOUND);
}

TEST(base64)
{
    static const struct {
        const char *in, *out;
    } cases[] = {{"", ""}, {"YQ==", "a"}, {"YWI=", "ab"}, {"YWJj", "abc"}, {"YW\nJj\n", "abc"}};
    size_t i;

    for (i = 0; i < TC_ARRAY_LEN(cases); i++) {
        struct buf b;
        buf_init(&b, 1024);
        ASSERT_OK(kube_base64_decode(cases[i].in, strlen(cases[i].in), &b));
        ASSERT_EQ(b.len, strlen(cases[i].out));
        if (b.len)
            ASSERT_MEM_EQ(b.data, cases[i].out, b.len);
        buf_cleanup(&b);
    }
    {
        struct buf b;
        buf_init(&b, 1024);
        ASSERT_EQ(kube_base64_decode("abc", 3, &b), TC_PARSE);
        buf_cleanup(&b);
    }
}

TEST(owns_replicas_from_managed_fields)
{
    json_t *d = json_loads(
        "{\"metadata\":{\"managedFields\":["
        "{\"manager\":\"op\",\"operation\":\"Apply\",\"fieldsV1\":{\"f:spec\":{\"f:replicas\":{},"
        "\"f:template\":{}}}},"
        "{\"manager\":\"kube-controller-manager\",\"operation\":\"Update\",\"subresource\":"
        "\"scale\",\"fieldsV1\":{\"f:spec\":{\"f:replicas\":{}}}}]}}",
        0, NULL);
    json_t *e = json_loads("{\"metadata\":{\"managedFields\":[{\"manager\":\"op\",\"operation\":"
                           "\"Apply\",\"fieldsV1\":{\"f:spec\":{\"f:template\":{}}}}]}}",
                           0, NULL);

    ASSERT(d && e);
    ASSERT_EQ(reconcile_owns_replicas(d, "op"), 1);
    ASSERT_EQ(reconcile_owns_replicas(d, "kube-controller-manager"), 0); /* Update, not Apply */
    ASSERT_EQ(reconcile_owns_replicas(e, "op"), 0);
    json_decref(d);
    json_decref(e);
}

/* ---- requests, against the scripted server of test_raw_server.h ---- */

static struct kube_config *
kube_cfg_for(int port, const char *user_yaml)
{
    static char text[16384];
    struct kube_config *c = NULL;
    struct tc_err err = {0};

    snprintf(text, sizeof(text),
             "current-context: x\n"
             "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:%d'}}]\n"
             "users: [{name: u, user: %s}]\n"
             "contexts: [{name: x, context: {cluster: c, user: u}}]\n",
             port, user_yaml);
    ASSERT_OK(kube_config_parse_kubeconfig(text, strlen(text), "/tmp", NULL, &c, &err));
    return c;
}

static const char ok_json[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                              "Content-Length: 2\r\n\r\n{}";

TEST(requests_carry_basic_auth_and_kube_headers)
{
    struct raw_server rs = {.head = ok_json};
    struct kube_config *cfg;
    struct kube *k;
    struct kube_resp r;
    struct tc_err err = {0};
    long status = 0;
    json_t *out = NULL;

    raw_start(&rs);
    cfg = kube_cfg_for(rs.port, "{username: alice, password: s3cret}");
    k = kube_new(cfg, &err);
    ASSERT(k != NULL);
    kube_resp_init(&r);
    ASSERT_OK(kube_do(k, "GET", "/api/v1/namespaces", NULL, NULL, 0, &r, &err));
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(r.body.data, "{}");
    ASSERT_STR_CONTAINS(rs.last_req, "GET /api/v1/namespaces HTTP/1.1\r\n");
    /* base64("alice:s3cret") */
    ASSERT_STR_CONTAINS(rs.last_req, "\r\nAuthorization: Basic YWxpY2U6czNjcmV0\r\n");
    ASSERT_STR_CONTAINS(rs.last_req, "\r\nAccept: application/json\r\n");
    ASSERT_STR_CONTAINS(rs.last_req, "\r\nUser-Agent: tempo-compactor-operator\r\n");
    ASSERT_STR_CONTAINS(rs.last_req, "\r\nAccept-Encoding: ");
    ASSERT(strstr(rs.last_req, "Expect:") == NULL);
    /* a JSON body is sent with its content type (the last request: the
     * scripted server does not read bodies) */
    {
        json_t *b = json_pack("{s:s}", "kind", "ConfigMap");
        ASSERT_OK(kube_json(k, "PATCH", "/api/v1/namespaces/a/configmaps/b?force=true",
                            "application/apply-patch+yaml", b, &status, &out, &err));
        json_decref(b);
    }
    ASSERT_EQ(status, 200);
    ASSERT(json_is_object(out));
    ASSERT_STR_CONTAINS(rs.last_req, "PATCH /api/v1/namespaces/a/configmaps/b?force=true ");
    ASSERT_STR_CONTAINS(rs.last_req, "\r\nContent-Type: application/apply-patch+yaml\r\n");
    ASSERT_STR_CONTAINS(rs.last_req, "{\"kind\":\"ConfigMap\"}");
    json_decref(out);
    kube_resp_cleanup(&r);
    kube_free(k);
    kube_config_free(cfg);
    raw_stop(&rs);
}

TEST(a_401_is_retried_once_with_fresh_credentials)
{
    struct raw_server rs = {.head = "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n",
                            .head2 = ok_json};
    struct kube_config *cfg;
    struct kube *k;
    struct kube_resp r;
    struct tc_err err = {0};

    raw_start(&rs);
    cfg = kube_cfg_for(rs.port, "{token: tok.123}");
    k = kube_new(cfg, &err);
    kube_resp_init(&r);
    ASSERT_OK(kube_do(k, "GET", "/api/v1/pods", NULL, NULL, 0, &r, &err));
    ASSERT_EQ(r.status, 200);
    ASSERT_EQ(rs.nreq, 2);
    ASSERT_STR_CONTAINS(rs.last_req, "\r\nAuthorization: Bearer tok.123\r\n");
    /* a 401 on the retry as well is handed back, not retried forever */
    rs.head2 = NULL;
    ASSERT_OK(kube_do(k, "GET", "/api/v1/pods", NULL, NULL, 0, &r, &err));
    ASSERT_EQ(r.status, 401);
    ASSERT_EQ(rs.nreq, 4);
    kube_resp_cleanup(&r);
    kube_free(k);
    kube_config_free(cfg);
    raw_stop(&rs);
}

TEST(errors_name_method_and_path_and_no_secret)
{
    struct kube_config *cfg = kube_cfg_for(1, "{token: supersecret.token}");
    struct kube *k = kube_new(cfg, NULL);
    struct kube_resp r;
    struct tc_err err = {0};
    long status = -1;
    struct buf body;

    kube_resp_init(&r);
    ASSERT_EQ(kube_do(k, "DELETE", "/api/v1/namespaces/a/pods/b", NULL, NULL, 0, &r, &err), TC_NET);
    ASSERT_STR_CONTAINS(err.msg, "DELETE /api/v1/namespaces/a/pods/b: ");
    ASSERT(strstr(err.msg, "supersecret") == NULL);
    ASSERT_EQ(r.status, 0);
    buf_init(&body, 1024);
    ASSERT_EQ(kube_get_url(k, "http://127.0.0.1:1/metrics", 2000, &status, &body, &err), TC_NET);
    ASSERT_STR_CONTAINS(err.msg, "GET http://127.0.0.1:1/metrics: ");
    ASSERT_EQ(status, 0);
    buf_cleanup(&body);
    kube_resp_cleanup(&r);
    kube_free(k);
    kube_config_free(cfg);
}

/* A token or URL too long for the request is an error naming the request,
 * never a silently cut header (which the server would answer with 401). */
TEST(oversized_token_and_url_are_errors)
{
    static char user[9300], path[8300];
    struct kube_config *cfg;
    struct kube *k;
    struct kube_resp r;
    struct tc_err err = {0};

    memcpy(user, "{token: ", 8);
    memset(user + 8, 's', 9000);
    memcpy(user + 9008, "}", 2);
    cfg = kube_cfg_for(1, user);
    k = kube_new(cfg, NULL);
    kube_resp_init(&r);
    ASSERT_EQ(kube_do(k, "GET", "/api", NULL, NULL, 0, &r, &err), TC_TOOBIG);
    ASSERT_STR_CONTAINS(err.msg, "GET /api: bearer token longer than");
    ASSERT(strstr(err.msg, "sssssss") == NULL);
    kube_free(k);
    kube_config_free(cfg);

    cfg = kube_cfg_for(1, "{token: short}");
    k = kube_new(cfg, NULL);
    path[0] = '/';
    memset(path + 1, 'p', sizeof(path) - 2);
    ASSERT_EQ(kube_do(k, "GET", path, NULL, NULL, 0, &r, &err), TC_TOOBIG);
    ASSERT_STR_CONTAINS(err.msg, "URL longer than");
    kube_resp_cleanup(&r);
    kube_free(k);
    kube_config_free(cfg);
}

TEST(get_url_sends_no_credentials)
{
    struct raw_server rs = {.head = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n",
                            .body = "metric 1\n"};
    struct kube_config *cfg;
    struct kube *k;
    struct tc_err err = {0};
    struct buf body;
    long status = 0;
    char url[128];

    raw_start(&rs);
    cfg = kube_cfg_for(rs.port, "{token: tok.456}");
    k = kube_new(cfg, &err);
    buf_init(&body, 1024);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", rs.port);
    ASSERT_OK(kube_get_url(k, url, 2000, &status, &body, &err));
    ASSERT_EQ(status, 200);
    ASSERT_STR_EQ(body.data, "metric 1\n");
    ASSERT_STR_CONTAINS(rs.last_req, "GET /metrics HTTP/1.1\r\n");
    ASSERT(strstr(rs.last_req, "Authorization") == NULL);
    ASSERT(strstr(rs.last_req, "tok.456") == NULL);
    buf_cleanup(&body);
    kube_free(k);
    kube_config_free(cfg);
    raw_stop(&rs);
}

struct kube_watch {
    struct buf got;
    volatile int stop;
};

static int
kube_collect(const char *p, size_t n, void *ud)
{
    struct kube_watch *w = ud;
    return buf_append(&w->got, p, n) == TC_OK ? 0 : 1;
}

static void *
kube_stopper(void *arg)
{
    struct kube_watch *w = arg;
    int i;

    for (i = 0; i < 500 && w->got.len == 0; i++)
        tc_sleep_ms(10);
    w->stop = 1;
    return NULL;
}

TEST(stream_stops_on_the_flag_and_keeps_error_bodies_apart)
{
    struct raw_server rs = {.head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                            .body = "e\r\n{\"type\":\"ADDED\r\n",
                            .hold_ms = 10000};
    struct kube_config *cfg;
    struct kube *k;
    struct kube_watch w;
    struct tc_err err = {0};
    struct buf eb;
    long status = 0;
    pthread_t th;
    double t0;

    raw_start(&rs);
    cfg = kube_cfg_for(rs.port, "{token: t}");
    k = kube_new(cfg, &err);
    buf_init(&w.got, 1024);
    buf_init(&eb, 1024);
    w.stop = 0;
    ASSERT_OK(pthread_create(&th, NULL, kube_stopper, &w));
    t0 = tc_now_ms();
    ASSERT_EQ(
        kube_stream(k, "/api/v1/pods?watch=1", 0, kube_collect, &w, &w.stop, &status, &eb, &err),
        TC_CANCELED);
    pthread_join(th, NULL);
    ASSERT_LT(tc_now_ms() - t0, 5000.0); /* not the server's 10 s hold */
    ASSERT_STR_CONTAINS(err.msg, "GET /api/v1/pods?watch=1: canceled");
    ASSERT_STR_EQ(w.got.data, "{\"type\":\"ADDED");
    ASSERT_EQ(eb.len, 0);

    /* a 410 body is the caller's error body, not a watch event */
    raw_stop(&rs);
    memset(&rs, 0, sizeof(rs));
    rs.head = "HTTP/1.1 410 Gone\r\nContent-Length: 14\r\n\r\n";
    rs.body = "{\"code\": 410 }";
    raw_start(&rs);
    kube_free(k);
    kube_config_free(cfg);
    cfg = kube_cfg_for(rs.port, "{token: t}");
    k = kube_new(cfg, &err);
    buf_reset(&w.got);
    w.stop = 0;
    ASSERT_OK(kube_stream(k, "/api/v1/pods?watch=1", 30000, kube_collect, &w, &w.stop, &status, &eb,
                          &err));
    ASSERT_EQ(status, 410);
    ASSERT_EQ(w.got.len, 0);
    ASSERT_STR_EQ(eb.data, "{\"code\": 410 }");
    buf_cleanup(&w.got);
    buf_cleanup(&eb);
    kube_free(k);
    kube_config_free(cfg);
    raw_stop(&rs);
}

TEST_MAIN(TEST_ENTRY(kubeconfig_current_context_with_inline_data),
          TEST_ENTRY(kubeconfig_other_contexts), TEST_ENTRY(kubeconfig_errors_name_the_problem),
          TEST_ENTRY(kubeconfig_files_relative_paths_and_merge), TEST_ENTRY(in_cluster),
          TEST_ENTRY(base64), TEST_ENTRY(owns_replicas_from_managed_fields),
          TEST_ENTRY(requests_carry_basic_auth_and_kube_headers),
          TEST_ENTRY(a_401_is_retried_once_with_fresh_credentials),
          TEST_ENTRY(errors_name_method_and_path_and_no_secret),
          TEST_ENTRY(oversized_token_and_url_are_errors), TEST_ENTRY(get_url_sends_no_credentials),
          TEST_ENTRY(stream_stops_on_the_flag_and_keeps_error_bodies_apart))
