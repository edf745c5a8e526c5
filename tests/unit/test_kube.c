/* test_kube.c - kubeconfig/in-cluster loading, base64, managedFields ownership. */
#include <jansson.h>

#include "buf.h"
#include "kube.h"
#include "reconcile.h"
#include "test.h"

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

TEST_MAIN(TEST_ENTRY(kubeconfig_current_context_with_inline_data),
          TEST_ENTRY(kubeconfig_other_contexts), TEST_ENTRY(kubeconfig_errors_name_the_problem),
          TEST_ENTRY(kubeconfig_files_relative_paths_and_merge), TEST_ENTRY(in_cluster),
          TEST_ENTRY(base64), TEST_ENTRY(owns_replicas_from_managed_fields))
