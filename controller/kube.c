/* kube.c - Kubernetes API client: config, auth, requests, streams. */
#include "kube.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/http_client.h"
#include "base/mem.h"
#include "yamljson.h"

#define KUBE_TOKEN_MAX_AGE 60      /* seconds between token file re-reads */
#define KUBE_BODY_CAP (64u << 20)  /* response body cap */
#define KUBE_EXEC_TIMEOUT_MS 30000 /* exec credential plugin */

#define KUBE_REQ_TIMEOUT_MS 30000 /* a plain API request */
#define KUBE_USER_AGENT "tempo-compactor-operator"

/* Requests go through the core HTTP client, the project's one libcurl layer. */
struct kube {
    struct kube_config *cfg;
    struct http_client *http;  /* the API server, with the config's TLS material */
    unsigned long http_gen;    /* cfg->auth_gen that http was built with */
    struct http_client *plain; /* other URLs (kube_get_url): no CA, cert or credentials */
};

/* ---- small helpers ---- */

int
kube_base64_decode(const char *s, size_t n, struct buf *out)
{
    char *clean = tc_malloc(n + 4);
    unsigned char *dec;
    size_t m = 0, i, pad = 0;
    int len, rc;

    if (clean == NULL)
        return TC_NOMEM;
    for (i = 0; i < n; i++)
        if (s[i] != '\n' && s[i] != '\r' && s[i] != ' ' && s[i] != '\t')
            clean[m++] = s[i];
    if (m % 4 != 0) {
        tc_free(clean);
        return TC_PARSE;
    }
    if (m >= 1 && clean[m - 1] == '=')
        pad++;
    if (m >= 2 && clean[m - 2] == '=')
        pad++;
    dec = tc_malloc(m / 4 * 3 + 1);
    if (dec == NULL) {
        tc_free(clean);
        return TC_NOMEM;
    }
    len = EVP_DecodeBlock(dec, (const unsigned char *)clean, (int)m);
    rc = len < 0 ? TC_PARSE : buf_append(out, dec, (size_t)len - pad);
    tc_free(clean);
    tc_free(dec);
    return rc;
}

static char *
kube_trim_dup(const char *p, size_t n)
{
    while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' '))
        n--;
    while (n > 0 && (*p == ' ' || *p == '\n')) {
        p++;
        n--;
    }
    return tc_strndup(p, n);
}

static struct kube_config *
kube_config_new(void)
{
    struct kube_config *c = tc_calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    buf_init(&c->ca_pem, 4 << 20);
    buf_init(&c->cert_pem, 1 << 20);
    buf_init(&c->key_pem, 1 << 20);
    buf_init(&c->exec_cert, 1 << 20);
    buf_init(&c->exec_key, 1 << 20);
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

static void
kube_strv_free(char **v)
{
    size_t i;

    for (i = 0; v && v[i]; i++)
        tc_free(v[i]);
    tc_free(v);
}

void
kube_config_free(struct kube_config *c)
{
    if (c == NULL)
        return;
    tc_free(c->server);
    tc_free(c->ns);
    tc_free(c->token);
    tc_free(c->token_file);
    tc_free(c->username);
    tc_free(c->password);
    tc_free(c->cur_token);
    tc_free(c->exec_api_version);
    kube_strv_free(c->exec_argv);
    kube_strv_free(c->exec_env);
    buf_cleanup(&c->ca_pem);
    buf_cleanup(&c->cert_pem);
    buf_cleanup(&c->key_pem);
    buf_cleanup(&c->exec_cert);
    buf_cleanup(&c->exec_key);
    pthread_mutex_destroy(&c->mu);
    tc_free(c);
}

void
kube_config_invalidate(struct kube_config *c)
{
    pthread_mutex_lock(&c->mu);
    c->token_checked = 0;
    c->token_mtime = 0;
    if (c->exec_argv)
        c->exec_expiry = 1; /* forces a re-exec */
    pthread_mutex_unlock(&c->mu);
}

/* ---- in-cluster ---- */

int
kube_config_in_cluster(const char *sa_dir, struct kube_config **out, struct tc_err *err)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    struct kube_config *c;
    char path[512], url[512];
    struct buf ns;
    int rc;

    *out = NULL;
    if (host == NULL || *host == '\0' || port == NULL || *port == '\0')
        return tc_err_set(err, TC_NOTFOUND,
                          "in-cluster: KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT not set");
    if ((c = kube_config_new()) == NULL)
        return tc_err_set(err, TC_NOMEM, "out of memory");
    /* IPv6 literals need brackets (net.JoinHostPort). */
    snprintf(url, sizeof(url), strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host, port);
    c->server = tc_strdup(url);
    snprintf(path, sizeof(path), "%s/token", sa_dir);
    c->token_file = tc_strdup(path);
    snprintf(path, sizeof(path), "%s/ca.crt", sa_dir);
    if ((rc = buf_read_file(&c->ca_pem, path, err)) != TC_OK)
        goto fail;
    snprintf(path, sizeof(path), "%s/namespace", sa_dir);
    buf_init(&ns, 4096);
    if (buf_read_file(&ns, path, NULL) == TC_OK && ns.data)
        c->ns = kube_trim_dup(ns.data, ns.len);
    buf_cleanup(&ns);
    if (c->ns == NULL)
        c->ns = tc_strdup("default");
    /* Fail early if the token is unreadable. */
    {
        struct buf t;
        buf_init(&t, 1 << 20);
        rc = buf_read_file(&t, c->token_file, err);
        buf_cleanup(&t);
        if (rc != TC_OK)
            goto fail;
    }
    *out = c;
    return TC_OK;
fail:
    kube_config_free(c);
    return rc;
}

/* ---- kubeconfig ---- */

static const json_t *
kube_named(const json_t *list, const char *name, const char *inner)
{
    size_t i;

    for (i = 0; i < json_array_size(list); i++) {
        const json_t *e = json_array_get(list, i);
        const char *n = json_string_value(json_object_get(e, "name"));
        if (n && strcmp(n, name) == 0)
            return json_object_get(e, inner);
    }
    return NULL;
}

static const char *
kube_jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s && *s ? s : NULL;
}

/* Loads "<key>-data" (base64) or "<key>" (a file) into b. */
static int
kube_load_pem(const json_t *o, const char *key, const char *dir, struct buf *b, struct tc_err *err)
{
    char k[128], path[4096];
    const char *v;

    snprintf(k, sizeof(k), "%s-data", key);
    if ((v = kube_jstr(o, k)) != NULL) {
        if (kube_base64_decode(v, strlen(v), b) != TC_OK)
            return tc_err_set(err, TC_PARSE, "kubeconfig: %s is not valid base64", k);
        return TC_OK;
    }
    if ((v = kube_jstr(o, key)) != NULL) {
        if (v[0] == '/' || dir == NULL)
            snprintf(path, sizeof(path), "%s", v);
        else
            snprintf(path, sizeof(path), "%s/%s", dir, v);
        return buf_read_file(b, path, err);
    }
    return TC_OK;
}

static char **
kube_strv_from_json(const json_t *arr, const char *first)
{
    size_t n = json_array_size(arr), i, j = 0;
    char **v = tc_calloc(n + 2, sizeof(*v));

    if (v == NULL)
        return NULL;
    if (first)
        v[j++] = tc_strdup(first);
    for (i = 0; i < n; i++) {
        const json_t *e = json_array_get(arr, i);
        if (json_is_string(e)) {
            v[j++] = tc_strdup(json_string_value(e));
        } else if (json_is_object(e)) { /* exec env: {name, value} */
            char tmp[4096];
            snprintf(tmp, sizeof(tmp), "%s=%s", kube_jstr(e, "name") ? kube_jstr(e, "name") : "",
                     json_string_value(json_object_get(e, "value"))
                         ? json_string_value(json_object_get(e, "value"))
                         : "");
            v[j++] = tc_strdup(tmp);
        }
    }
    return v;
}

static int
kube_config_from_json(const json_t *kc, const char *dir, const char *context,
                      struct kube_config **out, struct tc_err *err)
{
    const char *ctxname = context ? context : kube_jstr(kc, "current-context");
    const json_t *ctx, *cluster, *user;
    struct kube_config *c;
    const char *v;
    int rc;

    *out = NULL;
    if (ctxname == NULL)
        return tc_err_set(err, TC_INVAL, "kubeconfig: no current-context and no --context");
    ctx = kube_named(json_object_get(kc, "contexts"), ctxname, "context");
    if (ctx == NULL)
        return tc_err_set(err, TC_NOTFOUND, "kubeconfig: context \"%s\" not found", ctxname);
    v = kube_jstr(ctx, "cluster");
    cluster = v ? kube_named(json_object_get(kc, "clusters"), v, "cluster") : NULL;
    if (cluster == NULL)
        return tc_err_set(err, TC_NOTFOUND,
                          "kubeconfig: cluster \"%s\" of context \"%s\" not found", v ? v : "",
                          ctxname);
    v = kube_jstr(ctx, "user");
    user = v ? kube_named(json_object_get(kc, "users"), v, "user") : NULL;
    if ((v = kube_jstr(cluster, "server")) == NULL)
        return tc_err_set(err, TC_INVAL, "kubeconfig: cluster of context \"%s\" has no server",
                          ctxname);
    if ((c = kube_config_new()) == NULL)
        return tc_err_set(err, TC_NOMEM, "out of memory");
    c->server = tc_strdup(v);
    while (strlen(c->server) > 0 && c->server[strlen(c->server) - 1] == '/')
        c->server[strlen(c->server) - 1] = '\0';
    c->ns = tc_strdup(kube_jstr(ctx, "namespace") ? kube_jstr(ctx, "namespace") : "default");
    c->insecure = json_is_true(json_object_get(cluster, "insecure-skip-tls-verify"));
    if ((rc = kube_load_pem(cluster, "certificate-authority", dir, &c->ca_pem, err)) != TC_OK)
        goto fail;
    if (user) {
        const json_t *ex = json_object_get(user, "exec");
        if ((rc = kube_load_pem(user, "client-certificate", dir, &c->cert_pem, err)) != TC_OK)
            goto fail;
        if ((rc = kube_load_pem(user, "client-key", dir, &c->key_pem, err)) != TC_OK)
            goto fail;
        if ((v = kube_jstr(user, "token")) != NULL)
            c->token = tc_strdup(v);
        if ((v = kube_jstr(user, "tokenFile")) != NULL)
            c->token_file = tc_strdup(v);
        if ((v = kube_jstr(user, "username")) != NULL)
            c->username = tc_strdup(v);
        if ((v = kube_jstr(user, "password")) != NULL)
            c->password = tc_strdup(v);
        if (json_is_object(ex)) {
            if ((v = kube_jstr(ex, "command")) == NULL) {
                rc = tc_err_set(err, TC_INVAL, "kubeconfig: users[].user.exec.command is missing");
                goto fail;
            }
            c->exec_argv = kube_strv_from_json(json_object_get(ex, "args"), v);
            c->exec_env = kube_strv_from_json(json_object_get(ex, "env"), NULL);
            c->exec_api_version =
                tc_strdup(kube_jstr(ex, "apiVersion") ? kube_jstr(ex, "apiVersion")
                                                      : "client.authentication.k8s.io/v1");
        }
    }
    if ((c->cert_pem.len > 0) != (c->key_pem.len > 0)) {
        rc = tc_err_set(err, TC_INVAL,
                        "kubeconfig: client-certificate and client-key must be given together");
        goto fail;
    }
    *out = c;
    return TC_OK;
fail:
    kube_config_free(c);
    return rc;
}

int
kube_config_parse_kubeconfig(const char *text, size_t len, const char *dir, const char *context,
                             struct kube_config **out, struct tc_err *err)
{
    json_t *docs = NULL;
    int rc = yamljson_parse(text, len, "kubeconfig", &docs, err);

    *out = NULL;
    if (rc != TC_OK)
        return rc;
    if (!json_is_object(json_array_get(docs, 0)))
        rc = tc_err_set(err, TC_PARSE, "kubeconfig: not a YAML mapping");
    else
        rc = kube_config_from_json(json_array_get(docs, 0), dir, context, out, err);
    json_decref(docs);
    return rc;
}

/* Merges src into dst with client-go's rule: the first file to set a value
 * (a named cluster/user/context, current-context) wins. */
static void
kube_merge_kubeconfig(json_t *dst, const json_t *src)
{
    static const char *const lists[] = {"clusters", "users", "contexts"};
    size_t i, j;

    if (!kube_jstr(dst, "current-context") && kube_jstr(src, "current-context"))
        json_object_set(dst, "current-context", json_object_get(src, "current-context"));
    for (i = 0; i < TC_ARRAY_LEN(lists); i++) {
        json_t *d = json_object_get(dst, lists[i]);
        const json_t *s = json_object_get(src, lists[i]);
        if (!json_is_array(d)) {
            d = json_array();
            json_object_set_new(dst, lists[i], d);
        }
        for (j = 0; j < json_array_size(s); j++) {
            const json_t *e = json_array_get(s, j);
            const char *n = kube_jstr(e, "name");
            size_t x;
            int dup = 0;
            for (x = 0; n && x < json_array_size(d); x++) {
                const char *dn = kube_jstr(json_array_get(d, x), "name");
                if (dn && strcmp(dn, n) == 0)
                    dup = 1;
            }
            if (n && !dup)
                json_array_append(d, (json_t *)e);
        }
    }
}

static int
kube_config_files(const char *list, const char *context, struct kube_config **out,
                  struct tc_err *err)
{
    char *copy = tc_strdup(list), *p = copy, *next;
    char dir[4096] = "";
    json_t *merged = json_object();
    int rc = TC_NOTFOUND, any = 0;

    for (; p != NULL; p = next) {
        struct buf b;
        json_t *docs = NULL;
        char *slash;

        next = strchr(p, ':');
        if (next)
            *next++ = '\0';
        if (*p == '\0')
            continue;
        buf_init(&b, 16 << 20);
        rc = buf_read_file(&b, p, err);
        if (rc == TC_NOTFOUND) {
            buf_cleanup(&b);
            continue; /* missing files in $KUBECONFIG are skipped, as kubectl does */
        }
        if (rc == TC_OK)
            rc = yamljson_parse(b.data ? b.data : "", b.len, p, &docs, err);
        buf_cleanup(&b);
        if (rc != TC_OK)
            break;
        if (json_is_object(json_array_get(docs, 0))) {
            if (!any) {
                snprintf(dir, sizeof(dir), "%s", p);
                slash = strrchr(dir, '/');
                if (slash)
                    *slash = '\0';
                else
                    snprintf(dir, sizeof(dir), ".");
            }
            kube_merge_kubeconfig(merged, json_array_get(docs, 0));
            any = 1;
        }
        json_decref(docs);
    }
    if (rc == TC_OK || (rc == TC_NOTFOUND && any))
        rc = any ? kube_config_from_json(merged, dir, context, out, err)
                 : tc_err_set(err, TC_NOTFOUND, "kubeconfig: %s: no usable file", list);
    else if (rc == TC_NOTFOUND)
        rc = tc_err_set(err, TC_NOTFOUND, "kubeconfig: %s: no such file", list);
    json_decref(merged);
    tc_free(copy);
    return rc;
}

int
kube_config_load(const char *kubeconfig, const char *context, struct kube_config **out,
                 struct tc_err *err)
{
    const char *env = getenv("KUBECONFIG"), *home = getenv("HOME");
    char path[4096];

    if (kubeconfig && *kubeconfig)
        return kube_config_files(kubeconfig, context, out, err);
    if (env && *env)
        return kube_config_files(env, context, out, err);
    if (getenv("KUBERNETES_SERVICE_HOST")) {
        /* TC_SERVICEACCOUNT_DIR exists for tests of the in-cluster path. */
        const char *sa = getenv("TC_SERVICEACCOUNT_DIR");
        return kube_config_in_cluster(sa && *sa ? sa : KUBE_SA_DIR, out, err);
    }
    snprintf(path, sizeof(path), "%s/.kube/config", home ? home : "");
    return kube_config_files(path, context, out, err);
}

/* ---- credentials ---- */

/* Runs the exec plugin; fills cur_token or exec_cert/exec_key. Under mu:
 * other threads wait for the one credential run (at most 30 s) instead of
 * starting plugins of their own. */
static int
kube_exec_plugin(struct kube_config *c, struct tc_err *err)
{
    int out[2];
    pid_t pid;
    struct buf b;
    json_t *cred = NULL, *st;
    char info[512];
    int rc = TC_OK, status = 0, waited = 0;
    const char *v;

    snprintf(info, sizeof(info),
             "{\"apiVersion\":\"%s\",\"kind\":\"ExecCredential\",\"spec\":{\"interactive\":false}}",
             c->exec_api_version);
    if (pipe2(out, O_CLOEXEC) != 0)
        return tc_err_set(err, TC_IO, "exec plugin: pipe: %s", strerror(errno));
    pid = fork();
    if (pid < 0) {
        close(out[0]);
        close(out[1]);
        return tc_err_set(err, TC_IO, "exec plugin: fork: %s", strerror(errno));
    }
    if (pid == 0) {
        size_t i;
        int devnull = open("/dev/null", O_RDONLY);
        dup2(out[1], 1);
        if (devnull >= 0)
            dup2(devnull, 0);
        for (i = 0; c->exec_env && c->exec_env[i]; i++)
            putenv(c->exec_env[i]);
        setenv("KUBERNETES_EXEC_INFO", info, 1);
        execvp(c->exec_argv[0], c->exec_argv);
        _exit(127);
    }
    close(out[1]);
    buf_init(&b, 1 << 20);
    for (;;) {
        struct pollfd pfd = {.fd = out[0], .events = POLLIN};
        char tmp[4096];
        ssize_t n;
        int pr = poll(&pfd, 1, KUBE_EXEC_TIMEOUT_MS);
        if (pr <= 0) {
            if (pr < 0 && errno == EINTR)
                continue;
            kill(pid, SIGKILL);
            rc = tc_err_set(err, TC_TIMEOUT, "exec plugin %s: no answer within %d ms",
                            c->exec_argv[0], KUBE_EXEC_TIMEOUT_MS);
            break;
        }
        n = read(out[0], tmp, sizeof(tmp));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (buf_append(&b, tmp, (size_t)n) != TC_OK) {
            kill(pid, SIGKILL);
            rc = tc_err_set(err, TC_TOOBIG, "exec plugin: output too large");
            break;
        }
    }
    close(out[0]);
    while (!waited) {
        if (waitpid(pid, &status, 0) >= 0 || errno != EINTR)
            waited = 1;
    }
    if (rc == TC_OK && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
        rc = tc_err_set(err, TC_DENIED, "exec plugin %s failed (status %d)", c->exec_argv[0],
                        WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    if (rc == TC_OK) {
        cred = json_loadb(b.data ? b.data : "", b.len, 0, NULL);
        st = json_object_get(cred, "status");
        if (!json_is_object(st))
            rc = tc_err_set(err, TC_PARSE, "exec plugin %s: output has no ExecCredential status",
                            c->exec_argv[0]);
    }
    if (rc == TC_OK) {
        struct tm tm;
        tc_free(c->cur_token);
        c->cur_token = NULL;
        buf_reset(&c->exec_cert);
        buf_reset(&c->exec_key);
        if ((v = kube_jstr(st, "token")) != NULL)
            c->cur_token = tc_strdup(v);
        if ((v = kube_jstr(st, "clientCertificateData")) != NULL)
            buf_puts(&c->exec_cert, v);
        if ((v = kube_jstr(st, "clientKeyData")) != NULL)
            buf_puts(&c->exec_key, v);
        c->exec_expiry = 0; /* no expiry: cache until a 401 */
        memset(&tm, 0, sizeof(tm));
        if ((v = kube_jstr(st, "expirationTimestamp")) != NULL &&
            strptime(v, "%Y-%m-%dT%H:%M:%S", &tm) != NULL)
            c->exec_expiry = timegm(&tm);
        if (c->cur_token == NULL && c->exec_cert.len == 0)
            rc = tc_err_set(err, TC_PARSE, "exec plugin: status has neither token nor certificate");
        c->auth_gen++;
    }
    json_decref(cred);
    buf_cleanup(&b);
    return rc;
}

/* Refreshes credentials if stale and copies the bearer token to tok. */
static int
kube_auth(struct kube_config *c, char **tok, unsigned long *gen, struct tc_err *err)
{
    time_t now = time(NULL);
    int rc = TC_OK;

    *tok = NULL;
    pthread_mutex_lock(&c->mu);
    if (c->exec_argv) {
        if ((c->cur_token == NULL && c->exec_cert.len == 0) ||
            (c->exec_expiry != 0 && now >= c->exec_expiry - 10))
            rc = kube_exec_plugin(c, err);
    } else if (c->token_file) {
        struct stat st;
        int changed = stat(c->token_file, &st) == 0 && st.st_mtime != c->token_mtime;
        /* Bound service-account tokens rotate: re-read on change, at least
         * every minute, and right after a 401 (token_checked reset). */
        if (c->cur_token == NULL || changed || now - c->token_checked >= KUBE_TOKEN_MAX_AGE) {
            struct buf b;
            buf_init(&b, 1 << 20);
            rc = buf_read_file(&b, c->token_file, err);
            if (rc == TC_OK) {
                char *t = kube_trim_dup(b.data ? b.data : "", b.len);
                if (c->cur_token == NULL || strcmp(t, c->cur_token) != 0)
                    c->auth_gen++;
                tc_free(c->cur_token);
                c->cur_token = t;
                c->token_checked = now;
                c->token_mtime = changed ? st.st_mtime : c->token_mtime;
            }
            buf_cleanup(&b);
        }
    } else if (c->token && c->cur_token == NULL) {
        c->cur_token = tc_strdup(c->token);
    }
    if (rc == TC_OK && c->cur_token)
        *tok = tc_strdup(c->cur_token);
    *gen = c->auth_gen;
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* ---- connections ---- */

struct kube *
kube_new(struct kube_config *cfg, struct tc_err *err)
{
    struct kube *k = tc_calloc(1, sizeof(*k));

    if (k == NULL) {
        tc_err_set(err, TC_NOMEM, "out of memory");
        return NULL;
    }
    k->cfg = cfg;
    /* The API client is built on first use, with the credentials of then. */
    return k;
}

void
kube_free(struct kube *k)
{
    if (k == NULL)
        return;
    http_client_free(k->http);
    http_client_free(k->plain);
    tc_free(k);
}

void
kube_resp_init(struct kube_resp *r)
{
    r->status = 0;
    buf_init(&r->body, KUBE_BODY_CAP);
}

void
kube_resp_cleanup(struct kube_resp *r)
{
    buf_cleanup(&r->body);
}

/* Options both clients share: ACK response headers and watch events at
 * once (Python test servers write headers and body apart, and our delayed
 * ACK would cost 40 ms a request), and notice dead connections in 30 s. */
static void
kube_http_opts(struct http_client_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->connect_timeout_ms = 10000;
    o->user_agent = KUBE_USER_AGENT;
    o->tcp_keepidle_s = 30;
    o->tcp_quickack = 1;
}

/* Makes sure k->http carries the config's current TLS material. Only an
 * exec plugin changes the client certificate at runtime (auth_gen bumps on
 * each refresh), so only then is the client, and its connections, rebuilt;
 * a rotated bearer token is just a header per request. */
static int
kube_http_ready(struct kube *k, unsigned long gen, struct tc_err *err)
{
    struct kube_config *c = k->cfg;
    const struct buf *cert, *key;
    struct http_client_opts o;
    struct http_client *h;

    if (k->http != NULL && (gen == k->http_gen || c->exec_argv == NULL))
        return TC_OK;
    kube_http_opts(&o);
    o.accept_encoding = "";
    o.insecure_skip_verify = c->insecure;
    pthread_mutex_lock(&c->mu);
    cert = c->exec_cert.len > 0 ? &c->exec_cert : &c->cert_pem;
    key = c->exec_cert.len > 0 ? &c->exec_key : &c->key_pem;
    if (c->ca_pem.len > 0) {
        o.ca_pem = c->ca_pem.data;
        o.ca_pem_len = c->ca_pem.len;
    }
    if (cert->len > 0 && key->len > 0) {
        o.cert_pem = cert->data;
        o.cert_pem_len = cert->len;
        o.key_pem = key->data;
        o.key_pem_len = key->len;
    }
    h = http_client_new(&o, err); /* copies the PEMs */
    gen = c->auth_gen;
    pthread_mutex_unlock(&c->mu);
    if (h == NULL)
        return TC_NOMEM;
    http_client_free(k->http);
    k->http = h;
    k->http_gen = gen;
    return TC_OK;
}

/* "Authorization: Basic base64(user:password)" into out. */
static int
kube_basic_auth(const struct kube_config *c, char *out, size_t outsz)
{
    char plain[1024];
    unsigned char enc[sizeof(plain) / 3 * 4 + 8];
    int n = snprintf(plain, sizeof(plain), "%s:%s", c->username, c->password ? c->password : "");

    if (n < 0 || (size_t)n >= sizeof(plain))
        return TC_TOOBIG;
    EVP_EncodeBlock(enc, (const unsigned char *)plain, n);
    OPENSSL_cleanse(plain, sizeof(plain));
    n = snprintf(out, outsz, "Basic %s", (const char *)enc);
    OPENSSL_cleanse(enc, sizeof(enc));
    return n < 0 || (size_t)n >= outsz ? TC_TOOBIG : TC_OK;
}

/* One request to the API server with the current credentials. On TC_OK a
 * response arrived and *status holds it; hr->body holds a plain body (or a
 * stream's non-2xx body). Errors name method and path, never credentials. */
static int
kube_perform(struct kube *k, const char *method, const char *path, const char *ctype,
             const char *body, size_t len, struct http_request *req, struct http_response *hr,
             long *status, struct tc_err *err)
{
    struct kube_config *c = k->cfg;
    struct http_header h[3];
    char url[8192], auth[8192], *tok = NULL;
    struct tc_err herr = {0};
    unsigned long gen;
    size_t nh = 0;
    int rc;

    *status = 0;
    if ((rc = kube_auth(c, &tok, &gen, err)) != TC_OK)
        return rc;
    if ((rc = kube_http_ready(k, gen, err)) != TC_OK) {
        tc_free(tok);
        return rc;
    }
    if (tok) {
        int n = snprintf(auth, sizeof(auth), "Bearer %s", tok);
        tc_free(tok);
        tok = NULL;
        if (n < 0 || (size_t)n >= sizeof(auth)) {
            OPENSSL_cleanse(auth, sizeof(auth));
            return tc_err_set(err, TC_TOOBIG, "%s %s: bearer token longer than %zu bytes", method,
                              path, sizeof(auth) - 8);
        }
        h[nh++] = (struct http_header){"Authorization", auth};
    } else if (c->username) {
        if (kube_basic_auth(c, auth, sizeof(auth)) != TC_OK)
            return tc_err_set(err, TC_INVAL, "%s %s: username/password too long", method, path);
        h[nh++] = (struct http_header){"Authorization", auth};
    }
    h[nh++] = (struct http_header){"Accept", "application/json"};
    if (ctype)
        h[nh++] = (struct http_header){"Content-Type", ctype};
    if ((size_t)snprintf(url, sizeof(url), "%s%s", c->server, path) >= sizeof(url)) {
        OPENSSL_cleanse(auth, sizeof(auth));
        return tc_err_set(err, TC_TOOBIG, "%s %.200s...: URL longer than %zu bytes", method, path,
                          sizeof(url) - 1);
    }
    req->method = method;
    req->url = url;
    req->headers = h;
    req->nheaders = nh;
    req->body = body;
    req->body_len = len;
    rc = http_client_do(k->http, req, hr, &herr);
    OPENSSL_cleanse(auth, sizeof(auth));
    *status = hr->status;
    if (rc == TC_OK)
        return TC_OK;
    if (req->stop && *req->stop)
        return tc_err_set(err, TC_CANCELED, "%s %s: canceled", method, path);
    switch (hr->code) {
    case TC_TOOBIG:
        return tc_err_set(err, TC_TOOBIG, "%s %s: response too large", method, path);
    case TC_TIMEOUT:
        return tc_err_set(err, TC_TIMEOUT, "%s %s: %s", method, path, hr->errmsg);
    case TC_CANCELED:
        return TC_OK; /* the sink chose to stop */
    case TC_NET:
        return tc_err_set(err, TC_NET, "%s %s: %s", method, path, hr->errmsg);
    default: /* the request never started (out of memory) */
        return tc_err_set(err, rc, "%s %s: cannot start request", method, path);
    }
}

int
kube_do(struct kube *k, const char *method, const char *path, const char *ctype, const char *body,
        size_t len, struct kube_resp *resp, struct tc_err *err)
{
    struct http_response hr;
    int rc = TC_OK, attempt;

    /* The response body lands in resp->body directly (moved in and out). */
    http_response_init(&hr);
    buf_cleanup(&hr.body);
    hr.body = resp->body;
    for (attempt = 0; attempt < 2; attempt++) {
        struct http_request req = {.timeout_ms = KUBE_REQ_TIMEOUT_MS, .max_body = hr.body.cap};
        rc = kube_perform(k, method, path, ctype, body, len, &req, &hr, &resp->status, err);
        if (rc != TC_OK || resp->status != 401 || attempt == 1)
            break;
        kube_config_invalidate(k->cfg); /* rotated token or expired exec credential */
    }
    resp->body = hr.body;
    buf_init(&hr.body, 0);
    http_response_cleanup(&hr);
    return rc;
}

int
kube_json(struct kube *k, const char *method, const char *path, const char *ctype,
          const json_t *body, long *status, json_t **out, struct tc_err *err)
{
    struct kube_resp r;
    char *b = NULL;
    int rc;

    if (out)
        *out = NULL;
    if (body && (b = json_dumps(body, JSON_COMPACT)) == NULL)
        return tc_err_set(err, TC_NOMEM, "out of memory");
    kube_resp_init(&r);
    rc = kube_do(k, method, path, ctype ? ctype : (body ? "application/json" : NULL), b,
                 b ? strlen(b) : 0, &r, err);
    free(b); /* lint-ok: from jansson */
    *status = r.status;
    if (rc == TC_OK && out && r.body.len > 0)
        *out = json_loadb(r.body.data, r.body.len, 0, NULL);
    kube_resp_cleanup(&r);
    return rc;
}

int
kube_stream(struct kube *k, const char *path, long timeout_ms, kube_sink_fn sink, void *ud,
            volatile int *stop, long *status, struct buf *errbody, struct tc_err *err)
{
    struct http_request req = {.timeout_ms = timeout_ms > 0 ? timeout_ms : -1,
                               .sink = sink,
                               .sink_ud = ud,
                               .sink_2xx_only = 1,
                               .stop = stop,
                               .max_body =
                                   errbody->cap > errbody->len ? errbody->cap - errbody->len : 1};
    struct http_response hr;
    int rc;

    http_response_init(&hr);
    rc = kube_perform(k, "GET", path, NULL, NULL, 0, &req, &hr, status, err);
    if (rc == TC_OK && hr.body.len > 0 && buf_append(errbody, hr.body.data, hr.body.len) != TC_OK)
        rc = tc_err_set(err, TC_TOOBIG, "GET %s: response too large", path);
    http_response_cleanup(&hr);
    if (rc == TC_OK && *status == 401)
        kube_config_invalidate(k->cfg);
    return rc;
}

int
kube_get_url(struct kube *k, const char *url, long timeout_ms, long *status, struct buf *body,
             struct tc_err *err)
{
    struct http_request req = {.method = "GET",
                               .url = url,
                               .timeout_ms = timeout_ms > 0 ? timeout_ms : -1,
                               .max_body = body->cap > body->len ? body->cap - body->len : 1};
    struct http_response hr;
    struct tc_err herr = {0};
    int rc;

    *status = 0;
    if (k->plain == NULL) {
        /* Not the API server: its own client, without the cluster's CA or
         * client certificate, and no credentials are sent. */
        struct http_client_opts o;
        kube_http_opts(&o);
        if ((k->plain = http_client_new(&o, err)) == NULL)
            return TC_NOMEM;
    }
    http_response_init(&hr);
    rc = http_client_do(k->plain, &req, &hr, &herr);
    *status = hr.status;
    if (rc == TC_OK && hr.body.len > 0 && buf_append(body, hr.body.data, hr.body.len) != TC_OK)
        rc = hr.code = TC_TOOBIG;
    if (rc != TC_OK) {
        if (hr.code == TC_TOOBIG)
            rc = tc_err_set(err, TC_TOOBIG, "GET %s: response too large", url);
        else if (hr.code == TC_TIMEOUT || hr.code == TC_NET)
            rc = tc_err_set(err, hr.code, "GET %s: %s", url, hr.errmsg);
        else
            rc = tc_err_set(err, rc, "GET %s: cannot start request", url);
    }
    http_response_cleanup(&hr);
    return rc;
}

const char *
kube_status_message(const json_t *st)
{
    const char *m = json_string_value(json_object_get(st, "message"));
    return m ? m : "";
}
