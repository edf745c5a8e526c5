/* ctrl.c - the controller process: flags, election, informers, workers. */
#include "ctrl.h"

#include <curl/curl.h>
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/http_server.h"
#include "kube.h"
#include "lease.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/metrics.h"
#include "base/pool.h"
#include "queue.h"
#include "reconcile.h"
#include "render.h"
#include "strmap.h"
#include "watch.h"

#define CTRL_MAX_WORKERS 16
#define CTRL_SELECTOR "app.kubernetes.io/managed-by=" RENDER_MANAGED_BY

struct ctrl_opts {
    const char *kubeconfig, *context, *watch_ns, *lease_ns, *lease_name, *identity, *manager;
    const char *health_addr, *port_file, *log_level;
    int health_port, workers, leader_elect;
    long resync_s, lease_ms, renew_ms, retry_ms, watch_min_s, watch_max_s, observe_s;
};

struct ctrl;

struct ctrl_child {
    struct ctrl *c;
    enum render_kind kind;
    struct informer inf;
    int inited;
};

struct ctrl {
    struct ctrl_opts o;
    struct kube_config *cfg;
    struct queue q;
    struct reconcile_shared shared;
    struct informer crs;
    int crs_inited;
    struct ctrl_child children[RENDER__NKINDS];
    pthread_mutex_t mu;
    struct strmap gens;     /* CR key -> generation (as intptr) */
    struct strmap enqueued; /* CR key -> enqueue time (ms, as intptr) for latency */
    struct pool *workers;
    volatile int leader;
    char identity[256];
    struct metric *m_reconciles, *m_errors, *m_latency, *m_leader, *m_queue, *m_crs;
    struct metric *m_watch, *m_api;
    /* Last values exported, so counters advance by deltas. */
    struct informer_stats exported[RENDER__NKINDS + 1];
    unsigned long exported_api[5];
};

static volatile sig_atomic_t ctrl_stop;

static void
ctrl_on_signal(int sig)
{
    (void)sig;
    ctrl_stop = 1;
}

const char ctrl_usage_text[] =
    "usage: tempo-compactor-controller run [options]\n"
    "  --kubeconfig PATH        kubeconfig (default: $KUBECONFIG, in-cluster, ~/.kube/config)\n"
    "  --context NAME           kubeconfig context\n"
    "  --watch-namespace NS     watch one namespace (default: all)\n"
    "  --leader-elect BOOL      Lease leader election (default true)\n"
    "  --lease-namespace NS     namespace of the Lease (default: the config's namespace)\n"
    "  --lease-name NAME        (default tempo-compactor-operator)\n"
    "  --lease-duration MS      (default 15000)  --renew-deadline MS (10000)  --retry-period "
    "MS (2000)\n"
    "  --identity ID            (default $POD_NAME or host_pid)\n"
    "  --field-manager NAME     (default " RENDER_MANAGED_BY ")\n"
    "  --workers N              (default 2)\n"
    "  --resync SECONDS         periodic resync (default 600)\n"
    "  --observe-interval S     read pods' outstanding blocks and KEDA's HPA (default 60; 0 = "
    "off)\n"
    "  --watch-timeout MIN:MAX  watch timeoutSeconds range (default 300:600)\n"
    "  --listen [ADDR]:PORT     /healthz /readyz /metrics (default :8081; port 0 = any)\n"
    "  --health-addr ADDR, --health-port PORT   the same, separately\n"
    "  (every option also takes the form --option=value)\n"
    "  --port-file PATH         write the health port here once listening\n"
    "  --log-level LEVEL        debug|info|warn|error\n";

static int
ctrl_parse(int argc, char **argv, struct ctrl_opts *o, struct tc_err *err)
{
    int i;

    memset(o, 0, sizeof(*o));
    o->lease_name = "tempo-compactor-operator";
    o->manager = RENDER_MANAGED_BY;
    o->health_addr = "0.0.0.0";
    o->health_port = 8081;
    o->workers = 2;
    o->leader_elect = 1;
    o->resync_s = 600;
    o->lease_ms = 15000;
    o->renew_ms = 10000;
    o->retry_ms = 2000;
    o->watch_min_s = 300;
    o->watch_max_s = 600;
    o->observe_s = 60;
    for (i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL, flag[64];
        const char *eq = strchr(a, '=');
        long n = 0;

        /* Both "--flag value" and "--flag=value" (the chart uses the latter). */
        if (strncmp(a, "--", 2) == 0 && eq != NULL && (size_t)(eq - a) < sizeof(flag)) {
            snprintf(flag, sizeof(flag), "%.*s", (int)(eq - a), a);
            a = flag;
            v = eq + 1;
            i--; /* the value is not a separate argument */
        }

        if (v == NULL) {
            return tc_err_set(err, TC_INVAL, "%s needs a value", a);
        }
        i++;
        errno = 0;
        n = strtol(v, &end, 10);
        if (strcmp(a, "--kubeconfig") == 0)
            o->kubeconfig = v;
        else if (strcmp(a, "--context") == 0)
            o->context = v;
        else if (strcmp(a, "--watch-namespace") == 0)
            o->watch_ns = *v ? v : NULL;
        else if (strcmp(a, "--lease-namespace") == 0)
            o->lease_ns = v;
        else if (strcmp(a, "--lease-name") == 0)
            o->lease_name = v;
        else if (strcmp(a, "--identity") == 0)
            o->identity = v;
        else if (strcmp(a, "--field-manager") == 0)
            o->manager = v;
        else if (strcmp(a, "--health-addr") == 0)
            o->health_addr = v;
        else if (strcmp(a, "--listen") == 0) {
            /* [ADDR]:PORT for /healthz, /readyz and /metrics */
            const char *colon = strrchr(v, ':');
            static char addr[128];
            long port = colon ? strtol(colon + 1, &end, 10) : -1;
            if (colon == NULL || end == colon + 1 || *end != '\0' || port < 0 || port > 65535 ||
                (size_t)(colon - v) >= sizeof(addr)) {
                return tc_err_set(err, TC_INVAL, "--listen: want [ADDR]:PORT, got %s", v);
            }
            snprintf(addr, sizeof(addr), "%.*s", (int)(colon - v), v);
            o->health_addr = addr[0] ? addr : "0.0.0.0";
            o->health_port = (int)port;
        } else if (strcmp(a, "--port-file") == 0)
            o->port_file = v;
        else if (strcmp(a, "--log-level") == 0)
            o->log_level = v;
        else if (strcmp(a, "--leader-elect") == 0) {
            if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0) {
                return tc_err_set(err, TC_INVAL, "--leader-elect: want true or false, got %s", v);
            }
            o->leader_elect = strcmp(v, "true") == 0;
        } else if (strcmp(a, "--watch-timeout") == 0) {
            char *e2 = NULL;
            if (end == v || *end != ':' || (o->watch_max_s = strtol(end + 1, &e2, 10)) < n ||
                *e2 != '\0' || n < 1) {
                return tc_err_set(err, TC_INVAL, "--watch-timeout: want MIN:MAX seconds, got %s",
                                  v);
            }
            o->watch_min_s = n;
        } else {
            if (end == v || *end != '\0' || errno != 0 || n < 0) {
                return tc_err_set(err, TC_INVAL, "%s: not a non-negative integer: %s", a, v);
            }
            if (strcmp(a, "--workers") == 0 && n >= 1 && n <= CTRL_MAX_WORKERS)
                o->workers = (int)n;
            else if (strcmp(a, "--resync") == 0 && n >= 1)
                o->resync_s = n;
            else if (strcmp(a, "--observe-interval") == 0)
                o->observe_s = n;
            else if (strcmp(a, "--health-port") == 0 && n <= 65535)
                o->health_port = (int)n;
            else if (strcmp(a, "--lease-duration") == 0 && n >= 1000)
                o->lease_ms = n;
            else if (strcmp(a, "--renew-deadline") == 0 && n >= 100)
                o->renew_ms = n;
            else if (strcmp(a, "--retry-period") == 0 && n >= 10)
                o->retry_ms = n;
            else {
                return tc_err_set(err, TC_INVAL, "unknown option or bad value: %s %s", a, v);
            }
        }
    }
    /* client-go: leaseDuration > renewDeadline > 1.2 * retryPeriod. */
    if (o->leader_elect && !(o->lease_ms > o->renew_ms && o->renew_ms * 10 > o->retry_ms * 12)) {
        return tc_err_set(err, TC_INVAL,
                          "need lease-duration > renew-deadline > 1.2 * retry-period");
    }
    return 0;
}

static void
ctrl_enqueue(struct ctrl *c, const char *key)
{
    pthread_mutex_lock(&c->mu);
    if (strmap_get(&c->enqueued, key) == NULL)
        strmap_put(&c->enqueued, key, (void *)(intptr_t)tc_now_ms(), NULL);
    pthread_mutex_unlock(&c->mu);
    queue_add(&c->q, key);
}

/* CR events: reconcile on create, delete and spec changes (generation);
 * our own status writes do not bump generation, so they do not loop. */
static void
ctrl_on_cr(enum watch_event ev, const json_t *obj, void *ud)
{
    struct ctrl *c = ud;
    const json_t *md = json_object_get(obj, "metadata");
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    const char *name = json_string_value(json_object_get(md, "name"));
    json_int_t gen = json_integer_value(json_object_get(md, "generation"));
    char key[512];
    int changed = 1;

    if (ns == NULL || name == NULL)
        return;
    snprintf(key, sizeof(key), "%s/%s", ns, name);
    pthread_mutex_lock(&c->mu);
    if (ev == WATCH_DELETED) {
        strmap_del(&c->gens, key);
    } else {
        void *old = NULL;
        intptr_t g = (intptr_t)gen + 1; /* +1: a stored 0 would read as absent */
        strmap_put(&c->gens, key, (void *)g, &old);
        changed =
            old == NULL || old != (void *)g || json_object_get(md, "deletionTimestamp") != NULL;
    }
    pthread_mutex_unlock(&c->mu);
    if (changed)
        ctrl_enqueue(c, key);
}

/* Child events: track existence for pruning and wake the owner. */
static void
ctrl_on_child(enum watch_event ev, const json_t *obj, void *ud)
{
    struct ctrl_child *ch = ud;
    const json_t *md = json_object_get(obj, "metadata");
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    const char *name = json_string_value(json_object_get(md, "name"));
    const char *owner = json_string_value(
        json_object_get(json_object_get(md, "labels"), "app.kubernetes.io/instance"));
    char key[512];

    if (ns == NULL || name == NULL)
        return;
    /* The echo of our own apply changes nothing: no reconcile for it. */
    if (reconcile_child_seen(&ch->c->shared, render_kinds[ch->kind].kind, ns, name,
                             ev != WATCH_DELETED,
                             json_string_value(json_object_get(md, "resourceVersion"))))
        return;
    if (owner == NULL) {
        /* Deleted children may arrive as stubs: derive the owner from the name. */
        size_t n = strlen(name);
        const char *suffix = ch->kind == RENDER_CONFIGMAP ? "-compactor-config" : "-compactor";
        if (strncmp(name, "tempo-", 6) != 0 || n <= 6 + strlen(suffix) ||
            strcmp(name + n - strlen(suffix), suffix) != 0)
            return;
        snprintf(key, sizeof(key), "%s/%.*s", ns, (int)(n - 6 - strlen(suffix)), name + 6);
    } else {
        snprintf(key, sizeof(key), "%s/%s", ns, owner);
    }
    pthread_mutex_lock(&ch->c->mu);
    if (strmap_get(&ch->c->gens, key) == NULL) {
        pthread_mutex_unlock(&ch->c->mu);
        return; /* no such CR (yet): its own event will come */
    }
    pthread_mutex_unlock(&ch->c->mu);
    ctrl_enqueue(ch->c, key);
}

static void
ctrl_worker(void *arg, size_t w)
{
    struct ctrl *c = arg;
    struct tc_err err = {0};
    struct kube *k = kube_new(c->cfg, &err);
    char key[512];

    if (k == NULL)
        return;
    while (queue_get(&c->q, key, sizeof(key)) == 0) {
        struct reconcile_result res;
        uint64_t t0;
        int rc;

        pthread_mutex_lock(&c->mu);
        t0 = (uint64_t)(intptr_t)strmap_del(&c->enqueued, key);
        pthread_mutex_unlock(&c->mu);
        rc = reconcile_one(&c->shared, k, key, &res, &err);
        metrics_inc(c->m_reconciles, (const char *[]){rc == TC_OK ? "ok" : "error"});
        if (rc == TC_OK) {
            if (t0)
                metrics_observe(c->m_latency, NULL, (double)(tc_now_ms() - t0) / 1000.0);
            queue_forget(&c->q, key);
            if (res.requeue_after_ms > 0)
                queue_add_after(&c->q, key, res.requeue_after_ms);
            if (res.requeue_now)
                queue_add(&c->q, key); /* runs again right after done() */
        } else {
            LOG_WARN("reconcile failed", KV_S("key", key), KV_ERR(&err),
                     KV_I("failures", queue_failures(&c->q, key) + 1));
            queue_add_backoff(&c->q, key);
        }
        queue_done(&c->q, key);
    }
    kube_free(k);
}

static void
ctrl_collection(const struct ctrl *c, const char *group_path, const char *plural, char *out,
                size_t outsz)
{
    if (c->o.watch_ns)
        snprintf(out, outsz, "%s/namespaces/%s/%s", group_path, c->o.watch_ns, plural);
    else
        snprintf(out, outsz, "%s/%s", group_path, plural);
}

static int
ctrl_start_child(struct ctrl *c, enum render_kind kind, struct tc_err *err)
{
    struct ctrl_child *ch = &c->children[kind];
    struct informer_opts io;
    char path[512];

    if (ch->inited)
        return TC_OK;
    ctrl_collection(c, render_kinds[kind].group_path, render_kinds[kind].plural, path,
                    sizeof(path));
    memset(&io, 0, sizeof(io));
    io.name = render_kinds[kind].plural;
    io.path = path;
    io.label_selector = CTRL_SELECTOR;
    io.fn = ctrl_on_child;
    io.ud = ch;
    io.min_timeout_s = c->o.watch_min_s;
    io.max_timeout_s = c->o.watch_max_s;
    ch->c = c;
    ch->kind = kind;
    if (informer_init(&ch->inf, c->cfg, &io, err) != TC_OK)
        return TC_NOMEM;
    ch->inited = 1;
    return informer_start(&ch->inf, err);
}

static void
ctrl_resync_one(const char *key, void *val, void *ud)
{
    queue_add((struct queue *)ud, key);
}

/* ---- health and metrics endpoints ---- */

static void
ctrl_h_healthz(const struct http_server_request *req, struct http_server_response *resp, void *ud)
{
    buf_puts(&resp->body, "ok\n");
}

static int
ctrl_synced(struct ctrl *c)
{
    int i;

    if (!c->crs_inited || !informer_synced(&c->crs))
        return 0;
    for (i = 0; i < RENDER__NKINDS; i++)
        if (c->children[i].inited && !informer_synced(&c->children[i].inf))
            return 0;
    return 1;
}

static void
ctrl_h_readyz(const struct http_server_request *req, struct http_server_response *resp, void *ud)
{
    struct ctrl *c = ud;

    /* A standby is ready (it is healthy and waits for the Lease); the
     * leader is ready once its caches are synced. */
    if (c->leader && !ctrl_synced(c)) {
        resp->status = 503;
        buf_puts(&resp->body, "informers not synced\n");
        return;
    }
    buf_printf(&resp->body, "ok %s\n", c->leader ? "leader" : "standby");
}

static void
ctrl_export_informer(struct ctrl *c, struct informer *inf, const char *name,
                     struct informer_stats *last)
{
    struct informer_stats now;
    static const char *const what[] = {"lists", "watches", "relists_410", "events", "errors"};
    unsigned long v[5], l[5];
    int i;

    informer_get_stats(inf, &now);
    v[0] = now.lists, v[1] = now.watches, v[2] = now.relists_410, v[3] = now.events;
    v[4] = now.errors;
    l[0] = last->lists, l[1] = last->watches, l[2] = last->relists_410, l[3] = last->events;
    l[4] = last->errors;
    for (i = 0; i < 5; i++)
        if (v[i] > l[i])
            metrics_add(c->m_watch, (const char *[]){name, what[i]}, (double)(v[i] - l[i]));
    *last = now;
}

/* Counters kept by the informers and workers, exported on scrape. */
static void
ctrl_export_counters(struct ctrl *c)
{
    static const char *const what[] = {"apply", "apply_skipped", "delete", "status", "conflict"};
    unsigned long v[5];
    int i;

    pthread_mutex_lock(&c->mu);
    if (c->crs_inited)
        ctrl_export_informer(c, &c->crs, RECONCILE_CR_PLURAL, &c->exported[RENDER__NKINDS]);
    for (i = 0; i < RENDER__NKINDS; i++)
        if (c->children[i].inited)
            ctrl_export_informer(c, &c->children[i].inf, render_kinds[i].plural, &c->exported[i]);
    pthread_mutex_lock(&c->shared.mu);
    v[0] = c->shared.applies, v[1] = c->shared.skipped, v[2] = c->shared.deletes;
    v[3] = c->shared.status_writes, v[4] = c->shared.conflicts;
    pthread_mutex_unlock(&c->shared.mu);
    for (i = 0; i < 5; i++) {
        if (v[i] > c->exported_api[i])
            metrics_add(c->m_api, (const char *[]){what[i]}, (double)(v[i] - c->exported_api[i]));
        c->exported_api[i] = v[i];
    }
    pthread_mutex_unlock(&c->mu);
}

static void
ctrl_h_metrics(const struct http_server_request *req, struct http_server_response *resp, void *ud)
{
    struct ctrl *c = ud;

    metrics_set(c->m_leader, NULL, c->leader ? 1 : 0);
    metrics_set(c->m_queue, NULL, (double)queue_len(&c->q));
    pthread_mutex_lock(&c->mu);
    metrics_set(c->m_crs, NULL, (double)c->gens.len);
    pthread_mutex_unlock(&c->mu);
    ctrl_export_counters(c);
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    metrics_render(metrics_default(), &resp->body);
}

static void
ctrl_metrics_init(struct ctrl *c)
{
    static const char *const res_l[] = {"result", NULL};
    static const double lat[] = {.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};
    struct metrics *r = metrics_default();

    c->m_reconciles = metrics_counter(r, "tempo_compactor_operator_reconciles_total",
                                      "Reconciles by result.", res_l);
    c->m_latency = metrics_histogram(
        r, "tempo_compactor_operator_reconcile_latency_seconds",
        "From a CR or child event to the end of its reconcile (children applied, status written).",
        NULL, lat, TC_ARRAY_LEN(lat));
    c->m_leader = metrics_gauge(r, "tempo_compactor_operator_leader",
                                "1 while this process holds the Lease.", NULL);
    c->m_queue = metrics_gauge(r, "tempo_compactor_operator_queue_depth",
                               "Keys ready in the work queue.", NULL);
    c->m_crs = metrics_gauge(r, "tempo_compactor_operator_tempocompactors",
                             "TempoCompactors in the informer cache.", NULL);
    {
        static const char *const wl[] = {"resource", "event", NULL};
        static const char *const al[] = {"operation", NULL};
        c->m_watch =
            metrics_counter(r, "tempo_compactor_operator_watch_total",
                            "Informer lists, watches, 410 relists, events and errors.", wl);
        c->m_api = metrics_counter(r, "tempo_compactor_operator_api_writes_total",
                                   "Server-side applies (and skipped unchanged ones), deletes, "
                                   "status writes and 409 conflicts.",
                                   al);
    }
}

/* ---- main ---- */

static void
ctrl_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (!ctrl_stop && nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int
ctrl_lead(struct ctrl *c, struct lease *l, struct tc_err *err)
{
    struct informer_opts io;
    char path[512];
    uint64_t last_resync = tc_now_ms(), last_keda = 0;
    int i, rc = 0;

    queue_init(&c->q, 200, 60000);
    ctrl_collection(c, RECONCILE_CR_PATH, RECONCILE_CR_PLURAL, path, sizeof(path));
    memset(&io, 0, sizeof(io));
    io.name = RECONCILE_CR_PLURAL;
    io.path = path;
    io.fn = ctrl_on_cr;
    io.ud = c;
    io.min_timeout_s = c->o.watch_min_s;
    io.max_timeout_s = c->o.watch_max_s;
    if (informer_init(&c->crs, c->cfg, &io, err) != TC_OK)
        return 1;
    c->crs_inited = 1;
    {
        static const enum render_kind base[] = {RENDER_CONFIGMAP, RENDER_SERVICE, RENDER_DEPLOYMENT,
                                                RENDER_PDB};
        for (i = 0; i < (int)TC_ARRAY_LEN(base); i++)
            if (ctrl_start_child(c, base[i], err) != TC_OK)
                return 1;
    }
    /* Children first, so pruning knows what exists before the first reconcile. */
    while (!ctrl_stop) {
        int ok = 1;
        for (i = 0; i < RENDER__NKINDS; i++)
            if (c->children[i].inited && !informer_synced(&c->children[i].inf))
                ok = 0;
        if (ok)
            break;
        ctrl_sleep_ms(20);
    }
    if (informer_start(&c->crs, err) != TC_OK)
        return 1;
    c->workers = pool_new((size_t)c->o.workers, ctrl_worker, c, err);
    if (c->workers == NULL) {
        /* Keys would queue up with nobody to reconcile them. */
        LOG_ERROR("cannot start reconcile workers", KV_ERR(err));
        rc = 1;
    } else {
        LOG_INFO("controller started", KV_S("identity", c->identity),
                 KV_U("workers", pool_threads(c->workers)),
                 KV_S("namespace", c->o.watch_ns ? c->o.watch_ns : "(all)"));
    }
    while (c->workers && !ctrl_stop) {
        uint64_t now = tc_now_ms();
        struct kube *k;

        ctrl_sleep_ms(c->o.leader_elect ? c->o.retry_ms : 1000);
        if (ctrl_stop)
            break;
        if (c->o.leader_elect) {
            struct tc_err lerr = {0};
            if (lease_try(l, &lerr) != TC_OK)
                LOG_WARN("lease renew failed", KV_ERR(&lerr));
            if (!l->leader || lease_lost(l)) {
                /* client-go exits on lost leadership: a restart is the
                 * only way to be sure no worker writes as a non-leader. */
                LOG_ERROR("leadership lost", KV_S("identity", c->identity));
                c->leader = 0;
                rc = 1;
                break;
            }
        }
        now = tc_now_ms();
        /* KEDA may be installed after start: begin watching its kinds. */
        if (now - last_keda >= 30000 && !c->children[RENDER_SCALEDOBJECT].inited) {
            struct tc_err kerr = {0};
            k = kube_new(c->cfg, &kerr);
            if (k && reconcile_keda_present(&c->shared, k)) {
                ctrl_start_child(c, RENDER_TRIGGERAUTH, &kerr);
                ctrl_start_child(c, RENDER_SCALEDOBJECT, &kerr);
            }
            kube_free(k);
            last_keda = now;
        }
        if (now - last_resync >= (uint64_t)c->o.resync_s * 1000) {
            pthread_mutex_lock(&c->mu);
            strmap_each(&c->gens, ctrl_resync_one, &c->q);
            pthread_mutex_unlock(&c->mu);
            last_resync = now;
        }
    }
    queue_shutdown(&c->q);
    pool_free(c->workers);
    c->workers = NULL;
    /* No worker writes any more: hand the Lease back before the (slower)
     * informer shutdown, so a standby takes over at its next retry. */
    if (l && ctrl_stop && rc == 0) {
        struct tc_err rerr = {0};
        if (lease_release(l, &rerr) != TC_OK)
            LOG_WARN("lease release failed", KV_ERR(&rerr));
    }
    c->leader = 0;
    informer_signal_stop(&c->crs);
    for (i = 0; i < RENDER__NKINDS; i++)
        if (c->children[i].inited)
            informer_signal_stop(&c->children[i].inf);
    informer_stop(&c->crs);
    for (i = 0; i < RENDER__NKINDS; i++)
        if (c->children[i].inited)
            informer_stop(&c->children[i].inf);
    return rc;
}

int
ctrl_main(int argc, char **argv, struct tc_err *err)
{
    struct ctrl c;
    struct http_server *hs = NULL;
    struct lease l;
    struct sigaction sa;
    int rc = 0, i, have_lease = 0;

    memset(&c, 0, sizeof(c));
    /* Ten threads would each get a glibc arena; two keep RSS ~1 MiB lower
     * with 1000 CRs at no measurable cost (hack/bench/controller). */
    mallopt(M_ARENA_MAX, 2);
    /* Lease retry jitter must differ between replicas started together. */
    srand((unsigned)time(NULL) ^ ((unsigned)getpid() << 16));
    if (ctrl_parse(argc, argv, &c.o, err) != TC_OK)
        return 2;
    if (c.o.log_level && log_set_level(c.o.log_level) != TC_OK) {
        tc_err_set(err, TC_INVAL, "--log-level: bad level %s", c.o.log_level);
        return 2;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = ctrl_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (c.o.identity)
        snprintf(c.identity, sizeof(c.identity), "%s", c.o.identity);
    else {
        char host[128] = "controller";
        const char *pod = getenv("POD_NAME");
        gethostname(host, sizeof(host) - 1);
        snprintf(c.identity, sizeof(c.identity), "%s_%ld", pod && *pod ? pod : host,
                 (long)getpid());
    }
    if (kube_config_load(c.o.kubeconfig, c.o.context, &c.cfg, err) != TC_OK) {
        LOG_ERROR("cannot load Kubernetes config", KV_ERR(err));
        return 1;
    }
    pthread_mutex_init(&c.mu, NULL);
    strmap_init(&c.gens);
    strmap_init(&c.enqueued);
    reconcile_shared_init(&c.shared, c.o.manager, c.identity);
    c.shared.observe_interval_ms = c.o.observe_s * 1000;
    ctrl_metrics_init(&c);
    hs = http_server_new(c.o.health_addr, c.o.health_port, err);
    if (hs == NULL || http_server_route(hs, "/healthz", ctrl_h_healthz, &c) != TC_OK ||
        http_server_route(hs, "/readyz", ctrl_h_readyz, &c) != TC_OK ||
        http_server_route(hs, "/metrics", ctrl_h_metrics, &c) != TC_OK ||
        http_server_start(hs, err) != TC_OK) {
        LOG_ERROR("health server", KV_ERR(err));
        rc = 1;
        goto out;
    }
    if (c.o.port_file) {
        FILE *f = fopen(c.o.port_file, "w");
        if (f) {
            fprintf(f, "%d\n", http_server_port(hs));
            fclose(f);
        }
    }
    LOG_INFO("controller up", KV_S("identity", c.identity), KV_S("server", c.cfg->server),
             KV_I("health_port", http_server_port(hs)));
    if (c.o.leader_elect) {
        struct lease_opts lo = {.ns = c.o.lease_ns ? c.o.lease_ns : c.cfg->ns,
                                .name = c.o.lease_name,
                                .identity = c.identity,
                                .duration_ms = c.o.lease_ms,
                                .renew_deadline_ms = c.o.renew_ms,
                                .retry_ms = c.o.retry_ms};
        if (lease_init(&l, c.cfg, &lo, err) != TC_OK) {
            rc = 1;
            goto out;
        }
        have_lease = 1;
        LOG_INFO("waiting for leadership", KV_S("lease", lo.name), KV_S("namespace", lo.ns));
        while (!ctrl_stop) {
            struct tc_err lerr = {0};
            if (lease_try(&l, &lerr) != TC_OK)
                LOG_WARN("lease acquire failed", KV_ERR(&lerr));
            if (l.leader)
                break;
            /* wait.JitterUntil with factor 1.2 */
            ctrl_sleep_ms(c.o.retry_ms + (long)(rand() % (int)(c.o.retry_ms / 5 + 1)));
        }
    }
    if (!ctrl_stop) {
        c.leader = 1;
        rc = ctrl_lead(&c, have_lease ? &l : NULL, err);
        c.leader = 0;
    }
out:
    LOG_INFO("controller stopping", KV_I("exit", rc), KV_U("reconciles", c.shared.reconciles),
             KV_U("applies", c.shared.applies), KV_U("skipped", c.shared.skipped),
             KV_U("conflicts", c.shared.conflicts));
    http_server_free(hs);
    if (have_lease)
        lease_cleanup(&l);
    if (c.crs_inited)
        informer_cleanup(&c.crs);
    for (i = 0; i < RENDER__NKINDS; i++)
        if (c.children[i].inited)
            informer_cleanup(&c.children[i].inf);
    if (c.q.items.tab || c.q.shutdown)
        queue_cleanup(&c.q);
    reconcile_shared_cleanup(&c.shared);
    strmap_cleanup(&c.gens);
    strmap_cleanup(&c.enqueued);
    kube_config_free(c.cfg);
    curl_global_cleanup();
    return rc;
}
