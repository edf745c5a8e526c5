/*
 * daemon.c - process lifecycle of tempo-compactor.
 *
 * Order matters: signals are blocked first (every thread inherits the mask
 * and only the main thread takes them with sigwait), then the config is
 * loaded, the HTTP server starts listening, and the backend answers one cheap
 * LIST: from then on /ready is 200. The first blocklist poll runs on the poll
 * thread; the planner and retention threads start after it has finished.
 * Shutdown stops taking work, waits for in-flight work up to
 * server.graceful_shutdown_timeout, and persists the poll state.
 */
#include "daemon.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>

#include "backend/backend.h"
#include "backend/backend_latency.h"
#include "backend/backend_s3.h"
#include "blocklist/blocklist.h"
#include "daemon_config.h"
#include "daemon_overrides.h"
#include "base/http_server.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/metrics.h"
#include "blocklist/poll.h"
#include "plan/retention.h"
#include "plan/ring.h"
#include "plan/selector.h"
#include "base/tc.h"

#define DAEMON_BACKEND_RETRY_MS 2000
#define DAEMON_OVERRIDES_RELOAD_MS 10000

/* The last plan of one tenant, for /status/compaction. */
struct plan_tenant {
    char *tenant;
    unsigned long jobs, owned_jobs, outstanding;
    char **owned; /* hash strings of the owned jobs */
    size_t nowned;
};

struct daemon {
    struct daemon_config cfg;
    struct http_server *http;
    struct backend *backend;
    struct blocklist *bl;
    struct poller *poller;
    struct ring *ring;
    struct overrides *ovr;
    char state_path[1024];

    atomic_int ready;
    atomic_int stopping;
    atomic_int first_poll_done;
    char ready_reason[512];
    double start_time;

    pthread_mutex_t mu; /* guards the condition below and the plan */
    pthread_cond_t cv;
    pthread_t poll_thread, plan_thread, retention_thread;
    int threads_started;
    atomic_int threads_running;

    struct plan_tenant *plan;
    size_t nplan;
    double plan_time;

    struct metric *m_outstanding;
    struct metric *m_retention_seconds;
};

static double
now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sleeps up to ms, waking early on shutdown. Returns 1 when stopping. */
static int
daemon_sleep(struct daemon *d, long ms)
{
    struct timespec until;

    tc_deadline(&until, ms);
    pthread_mutex_lock(&d->mu);
    while (!atomic_load(&d->stopping) &&
           pthread_cond_timedwait(&d->cv, &d->mu, &until) != ETIMEDOUT)
        ;
    pthread_mutex_unlock(&d->mu);
    return atomic_load(&d->stopping);
}

/* Waits for the first poll to finish. Returns 1 when stopping. */
static int
wait_first_poll(struct daemon *d)
{
    while (!atomic_load(&d->first_poll_done))
        if (daemon_sleep(d, 100))
            return 1;
    return atomic_load(&d->stopping);
}

static int
owns_cb(const char *job, void *ud)
{
    return ring_owns(ud, job);
}

/* ---- HTTP handlers ---- */

static void
h_ready(const struct http_server_request *req, struct http_server_response *resp, void *ud)
{
    struct daemon *d = ud;

    if (atomic_load(&d->ready) && !atomic_load(&d->stopping)) {
        buf_puts(&resp->body, "ready\n");
        return;
    }
    resp->status = 503;
    pthread_mutex_lock(&d->mu);
    buf_printf(&resp->body, "not ready: %s\n",
               atomic_load(&d->stopping) ? "shutting down" : d->ready_reason);
    pthread_mutex_unlock(&d->mu);
}

static void
h_live(const struct http_server_request *req, struct http_server_response *resp, void *ud)
{
    buf_puts(&resp->body, "alive\n");
}

static void
h_metrics(const struct http_server_request *req, struct http_server_response *resp, void *ud)
{
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    if (metrics_render(metrics_default(), &resp->body) != TC_OK) {
        resp->status = 500;
        buf_reset(&resp->body);
        buf_puts(&resp->body, "metrics exposition failed\n");
    }
}

static void
h_version(const struct http_server_request *req, struct http_server_response *resp, void *ud)
{
    resp->content_type = "application/json";
    buf_printf(&resp->body,
               "{\"version\":\"%s\",\"revision\":\"%s\",\"branch\":\"main\","
               "\"buildUser\":\"\",\"buildDate\":\"\",\"goVersion\":\"%s\"}\n",
               tc_version, tc_revision, "none (C, " __VERSION__ ")");
}

static void
h_config(const struct http_server_request *req, struct http_server_response *resp, void *ud)
{
    struct daemon *d = ud;

    if (cfg_render_yaml(&daemon_config_table, &d->cfg, &resp->body) != TC_OK) {
        resp->status = 500;
        buf_reset(&resp->body);
    }
}

static void
h_services(const struct http_server_request *req, struct http_server_response *resp, void *ud)
{
    struct daemon *d = ud;

    buf_printf(&resp->body, "compactor %s\n",
               atomic_load(&d->stopping) ? "Stopping"
               : atomic_load(&d->ready)  ? "Running"
                                         : "Starting");
}

static void
h_blocklist(const struct http_server_request *req, struct http_server_response *resp, void *ud)
{
    struct daemon *d = ud;

    struct poller *p;

    resp->content_type = "application/json";
    pthread_mutex_lock(&d->mu); /* set by the main thread once the backend answers */
    p = d->poller;
    pthread_mutex_unlock(&d->mu);
    if (p == NULL) {
        buf_printf(&resp->body, "{\"state\":\"starting\",\"reason\":\"backend not ready\"}\n");
        return;
    }
    buf_printf(&resp->body,
               "{\"first_poll_done\":%s,\"blocks\":%zu,\"blocklist_bytes\":%zu,"
               "\"poller\":",
               atomic_load(&d->first_poll_done) ? "true" : "false", blocklist_len(d->bl),
               blocklist_bytes(d->bl));
    poller_status_json(p, &resp->body);
    buf_puts(&resp->body, "}\n");
}

static void
h_ring(const struct http_server_request *req, struct http_server_response *resp, void *ud)
{
    struct daemon *d = ud;

    struct ring *r;

    resp->content_type = "application/json";
    pthread_mutex_lock(&d->mu);
    r = d->ring;
    pthread_mutex_unlock(&d->mu);
    if (r == NULL) {
        buf_puts(&resp->body, "{}\n");
        return;
    }
    ring_status_json(r, &resp->body);
    buf_putc(&resp->body, '\n');
}

static void
json_str(struct buf *b, const char *s)
{
    meta_json_string(b, s);
}

static void
h_compaction(const struct http_server_request *req, struct http_server_response *resp, void *ud)
{
    struct daemon *d = ud;
    size_t i, j;

    resp->content_type = "application/json";
    pthread_mutex_lock(&d->mu);
    buf_printf(&resp->body,
               "{\"planned_at\":%.3f,\"merge\":\"not available in this build\","
               "\"tenants\":[",
               d->plan_time);
    for (i = 0; i < d->nplan; i++) {
        struct plan_tenant *p = &d->plan[i];
        buf_printf(&resp->body, "%s{\"tenant\":", i ? "," : "");
        json_str(&resp->body, p->tenant);
        buf_printf(&resp->body,
                   ",\"jobs\":%lu,\"owned_jobs\":%lu,\"outstanding_blocks\":%lu,"
                   "\"owned\":[",
                   p->jobs, p->owned_jobs, p->outstanding);
        for (j = 0; j < p->nowned; j++) {
            if (j)
                buf_putc(&resp->body, ',');
            json_str(&resp->body, p->owned[j]);
        }
        buf_puts(&resp->body, "]}");
    }
    buf_puts(&resp->body, "]}\n");
    pthread_mutex_unlock(&d->mu);
}

static void
h_index(const struct http_server_request *req, struct http_server_response *resp, void *ud)
{
    static const char *const links[] = {"/ready",
                                        "/live",
                                        "/metrics",
                                        "/status/version",
                                        "/status/config",
                                        "/status/services",
                                        "/status/blocklist",
                                        "/status/ring",
                                        "/status/compaction"};
    size_t i;

    resp->content_type = "text/html; charset=utf-8";
    buf_puts(&resp->body, "<html><body><h1>tempo-compactor</h1><ul>");
    for (i = 0; i < TC_ARRAY_LEN(links); i++)
        buf_printf(&resp->body, "<li><a href=\"%s\">%s</a></li>", links[i], links[i]);
    buf_puts(&resp->body, "</ul></body></html>\n");
}

/* ---- setup ---- */

static void
register_build_info(void)
{
    static const char *const labels[] = {"version", "revision", "branch", "goversion",
                                         "goos",    "goarch",   "tags",   NULL};
    struct utsname u;
    struct metric *m;
    const char *arch = "unknown";

    if (uname(&u) == 0)
        arch = strcmp(u.machine, "x86_64") == 0 ? "amd64" : u.machine;
    m = metrics_gauge(metrics_default(), "tempo_build_info",
                      "A metric with a constant '1' value labeled by version, revision, branch, "
                      "goversion from which tempo was built, and the goos and goarch for the "
                      "build.",
                      labels);
    metrics_set(m, (const char *[]){tc_version, tc_revision, "main", "none", "linux", arch, "c"},
                1);
}

static int
make_backend(struct daemon *d, struct tc_err *err)
{
    const struct daemon_config *c = &d->cfg;

    if (strcmp(c->backend, "local") == 0) {
        const char *lat = getenv("TC_TEST_BACKEND_LATENCY_MS");
        d->backend = backend_local_new(c->local_path, err);
        if (d->backend && lat && *lat) {
            /* test hook: model an S3 store's latency over the local bucket */
            LOG_WARN("TEST ONLY: injecting backend latency", KV_S("latency_ms", lat),
                     KV_I("shards", c->s3_list_blocks_concurrency));
            d->backend = backend_latency_new(d->backend, strtod(lat, NULL),
                                             (int)c->s3_list_blocks_concurrency, err);
        }
    } else {
        struct backend_s3_cfg s = {
            .endpoint = c->s3_endpoint,
            .bucket = c->s3_bucket,
            .prefix = c->s3_prefix,
            .region = c->s3_region[0] ? c->s3_region : NULL,
            .access_key = c->s3_access_key[0] ? c->s3_access_key : NULL,
            .secret_key = c->s3_secret_key[0] ? c->s3_secret_key : NULL,
            .session_token = c->s3_session_token[0] ? c->s3_session_token : NULL,
            .insecure = c->s3_insecure,
            .forcepathstyle = c->s3_forcepathstyle || c->s3_bucket_lookup_type == 2,
            .ca_file = c->s3_tls_ca_path[0] ? c->s3_tls_ca_path : NULL,
            .insecure_skip_verify = c->s3_tls_insecure_skip_verify,
            .list_blocks_concurrency = (int)c->s3_list_blocks_concurrency,
            .part_size = (size_t)c->s3_part_size,
        };
        d->backend = backend_s3_new(&s, err);
    }
    return d->backend ? TC_OK : err->code;
}

/* The cheap check that gates readiness: one LIST of the tenants. */
static int
backend_check(struct daemon *d, struct tc_err *err)
{
    struct backend_strlist tenants;
    int rc;

    memset(&tenants, 0, sizeof(tenants));
    rc = backend_tenants(d->backend, &tenants, err);
    backend_strlist_cleanup(&tenants);
    return rc;
}

static int
start_http(struct daemon *d, struct tc_err *err)
{
    static const struct {
        const char *path;
        http_handler_fn fn;
    } routes[] = {{"/ready", h_ready},
                  {"/live", h_live},
                  {"/metrics", h_metrics},
                  {"/status/version", h_version},
                  {"/status/config", h_config},
                  {"/status/services", h_services},
                  {"/status/blocklist", h_blocklist},
                  {"/status/ring", h_ring},
                  {"/status/compaction", h_compaction},
                  {"/status", h_index},
                  {"/", h_index}};
    size_t i;
    int rc;

    d->http = http_server_new(d->cfg.http_listen_address, (int)d->cfg.http_listen_port, err);
    if (d->http == NULL)
        return err->code;
    for (i = 0; i < TC_ARRAY_LEN(routes); i++) {
        rc = http_server_route(d->http, routes[i].path, routes[i].fn, d);
        if (rc != TC_OK)
            return tc_err_set(err, rc, "http route %s", routes[i].path);
    }
    return http_server_start(d->http, err);
}

static int
make_ring(struct daemon *d, struct tc_err *err)
{
    const struct daemon_config *c = &d->cfg;
    char self[300] = "";
    int port = http_server_port(d->http);
    struct ring *r;

    if (c->ring_instance_addr[0])
        snprintf(self, sizeof(self), "%s:%d", c->ring_instance_addr, port);
    r = ring_new((const char *const *)c->ring_peers.v, c->ring_peers.n, self[0] ? self : NULL, port,
                 (long)c->ring_refresh_ms, err);
    pthread_mutex_lock(&d->mu); /* HTTP handlers read it */
    d->ring = r;
    pthread_mutex_unlock(&d->mu);
    return r ? TC_OK : err->code;
}

static int
make_poller(struct daemon *d, struct tc_err *err)
{
    const struct daemon_config *c = &d->cfg;
    struct poll_cfg pc;
    struct poller *p;

    poll_cfg_defaults(&pc);
    if (c->blocklist_poll_concurrency > 0)
        pc.concurrency = (int)c->blocklist_poll_concurrency;
    if (c->blocklist_poll_tenant_concurrency > 0)
        pc.tenant_concurrency = (int)c->blocklist_poll_tenant_concurrency;
    if (c->blocklist_poll_tenant_index_builders > 0)
        pc.tenant_index_builders = (int)c->blocklist_poll_tenant_index_builders;
    pc.stale_tenant_index_ms = c->blocklist_poll_stale_tenant_index_ms;
    pc.fallback = c->blocklist_poll_fallback;
    pc.jitter_ms = (int)c->blocklist_poll_jitter_ms;
    pc.tolerate_consecutive_errors = (int)c->blocklist_poll_tolerate_consecutive_errors;
    pc.tolerate_tenant_failures = (int)c->blocklist_poll_tolerate_tenant_failures;
    pc.state_path = d->state_path[0] ? d->state_path : NULL;
    d->bl = blocklist_new();
    if (d->bl == NULL)
        return tc_err_set(err, TC_NOMEM, "blocklist: out of memory");
    p = poller_new(d->backend, &pc, owns_cb, d->ring, NULL, err);
    pthread_mutex_lock(&d->mu); /* HTTP handlers read it */
    d->poller = p;
    pthread_mutex_unlock(&d->mu);
    return p ? TC_OK : err->code;
}

/* ---- loops ---- */

static void *
poll_loop(void *arg)
{
    struct daemon *d = arg;
    long interval = d->cfg.blocklist_poll_ms > 0 ? (long)d->cfg.blocklist_poll_ms : 300000;
    struct tc_err err;

    while (!atomic_load(&d->stopping)) {
        if (poller_poll(d->poller, d->bl, &err) != TC_OK && err.code != TC_CANCELED)
            LOG_ERROR("failed to poll blocklist", KV_ERR(&err));
        if (!atomic_exchange(&d->first_poll_done, 1))
            LOG_INFO("first blocklist poll finished; compaction and retention start",
                     KV_F("seconds_since_start", now_seconds() - d->start_time),
                     KV_U("blocks", blocklist_len(d->bl)));
        if (daemon_sleep(d, interval))
            break;
    }
    atomic_fetch_sub(&d->threads_running, 1);
    return NULL;
}

static void
plan_free(struct plan_tenant *p, size_t n)
{
    size_t i, j;

    for (i = 0; i < n; i++) {
        for (j = 0; j < p[i].nowned; j++)
            tc_free(p[i].owned[j]);
        tc_free(p[i].owned);
        tc_free(p[i].tenant);
    }
    tc_free(p);
}

/* Plans one tenant's jobs with Tempo's selector and counts the blocks in the
 * jobs this instance owns (tempodb_compaction_outstanding_blocks). The merge
 * itself is not part of this build, so no job is executed. */
static int
plan_tenant(struct daemon *d, const char *tenant, struct plan_tenant *out)
{
    struct overrides_tenant ot;
    struct meta *live = NULL;
    const struct meta **ptrs = NULL;
    struct selector *sel;
    struct selector_job job;
    size_t nlive = 0, i;
    int64_t window_ms;
    char **nv;

    memset(out, 0, sizeof(*out));
    out->tenant = tc_strdup(tenant);
    if (out->tenant == NULL)
        return TC_NOMEM;
    overrides_get(d->ovr, tenant, &ot);
    if (ot.compaction_disabled)
        return TC_OK;
    if (blocklist_get(d->bl, tenant, &live, &nlive, NULL, NULL) != TC_OK)
        return TC_OK;
    ptrs = tc_calloc(nlive ? nlive : 1, sizeof(*ptrs));
    if (ptrs == NULL) {
        tc_free(live);
        return TC_NOMEM;
    }
    for (i = 0; i < nlive; i++)
        ptrs[i] = &live[i];
    window_ms = ot.compaction_window_ms ? ot.compaction_window_ms : d->cfg.compaction_window_ms;
    sel = selector_new(ptrs, nlive, window_ms / 1000, d->cfg.max_compaction_objects,
                       d->cfg.max_block_bytes, (int64_t)now_seconds());
    while (sel && selector_next(sel, &job)) {
        out->jobs++;
        if (!ring_owns(d->ring, job.hash))
            continue;
        out->owned_jobs++;
        out->outstanding += job.n;
        nv = tc_reallocarray(out->owned, out->nowned + 1, sizeof(char *));
        if (nv == NULL)
            break;
        out->owned = nv;
        out->owned[out->nowned] = tc_strdup(job.hash);
        if (out->owned[out->nowned])
            out->nowned++;
    }
    selector_free(sel);
    tc_free(ptrs);
    tc_free(live);
    return TC_OK;
}

static void
plan_all(struct daemon *d)
{
    struct backend_strlist tenants;
    struct plan_tenant *plan, *old;
    size_t i, j, nold;

    memset(&tenants, 0, sizeof(tenants));
    if (blocklist_tenants(d->bl, &tenants) != TC_OK)
        return;
    plan = tc_calloc(tenants.n ? tenants.n : 1, sizeof(*plan));
    if (plan == NULL) {
        backend_strlist_cleanup(&tenants);
        return;
    }
    for (i = 0; i < tenants.n; i++) {
        plan_tenant(d, tenants.v[i], &plan[i]);
        metrics_set(d->m_outstanding, (const char *[]){tenants.v[i]}, (double)plan[i].outstanding);
    }
    pthread_mutex_lock(&d->mu);
    old = d->plan;
    nold = d->nplan;
    d->plan = plan;
    d->nplan = tenants.n;
    d->plan_time = now_seconds();
    pthread_mutex_unlock(&d->mu);
    /* tenants that disappeared lose their series */
    for (i = 0; i < nold; i++) {
        for (j = 0; j < tenants.n; j++)
            if (strcmp(old[i].tenant, tenants.v[j]) == 0)
                break;
        if (j == tenants.n)
            metrics_remove(d->m_outstanding, (const char *[]){old[i].tenant});
    }
    plan_free(old, nold);
    backend_strlist_cleanup(&tenants);
}

static void *
plan_loop(void *arg)
{
    struct daemon *d = arg;
    struct tc_err err;
    double last_reload = 0;

    if (!wait_first_poll(d)) {
        while (!atomic_load(&d->stopping)) {
            if (now_seconds() - last_reload > DAEMON_OVERRIDES_RELOAD_MS / 1000.0) {
                if (overrides_reload(d->ovr, &err) != TC_OK)
                    LOG_ERROR("cannot load per-tenant overrides; keeping the previous ones",
                              KV_ERR(&err));
                last_reload = now_seconds();
            }
            if (!d->cfg.compactor_disabled)
                plan_all(d);
            if (daemon_sleep(d, (long)d->cfg.compaction_cycle_ms))
                break;
        }
    }
    atomic_fetch_sub(&d->threads_running, 1);
    return NULL;
}

struct retention_work {
    struct daemon *d;
    struct backend_strlist *tenants;
    atomic_size_t next;
    int64_t now_s;
};

static void *
retention_worker(void *arg)
{
    struct retention_work *w = arg;
    struct daemon *d = w->d;
    for (;;) {
        size_t i = atomic_fetch_add(&w->next, 1);
        const char *tenant;
        struct overrides_tenant ot;
        struct retention_cfg rc;
        struct retention_result res;
        struct tc_err err;
        double t0 = now_seconds();

        if (atomic_load(&d->stopping) || i >= w->tenants->n)
            break;
        tenant = w->tenants->v[i];

        overrides_get(d->ovr, tenant, &ot);
        if (ot.compaction_disabled)
            continue;
        rc.block_retention_s =
            (ot.block_retention_ms ? ot.block_retention_ms : d->cfg.block_retention_ms) / 1000;
        rc.compacted_retention_s = d->cfg.compacted_block_retention_ms / 1000;
        rc.orphan_retention_s = d->cfg.orphan_retention_ms / 1000;
        rc.now_s = w->now_s;
        if (retention_run_tenant(d->backend, d->bl, tenant, &rc, owns_cb, d->ring, &res, &err) !=
            TC_OK)
            LOG_ERROR("retention failed", KV_S("tenant", tenant), KV_ERR(&err));
        metrics_observe(d->m_retention_seconds, NULL, now_seconds() - t0);
    }
    return NULL;
}

static void
retention_all(struct daemon *d)
{
    struct backend_strlist tenants;
    struct retention_work w;
    pthread_t th[64];
    int n = (int)d->cfg.retention_concurrency, i, started = 0;

    memset(&tenants, 0, sizeof(tenants));
    if (blocklist_tenants(d->bl, &tenants) != TC_OK)
        return;
    w.d = d;
    w.tenants = &tenants;
    atomic_init(&w.next, 0);
    w.now_s = (int64_t)now_seconds();
    if (n > (int)TC_ARRAY_LEN(th))
        n = (int)TC_ARRAY_LEN(th);
    if ((size_t)n > tenants.n)
        n = (int)tenants.n;
    for (i = 0; i < n; i++)
        if (pthread_create(&th[started], NULL, retention_worker, &w) == 0)
            started++;
    if (started == 0 && tenants.n)
        retention_worker(&w);
    for (i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    backend_strlist_cleanup(&tenants);
}

static void *
retention_loop(void *arg)
{
    struct daemon *d = arg;
    long interval = d->cfg.blocklist_poll_ms > 0 ? (long)d->cfg.blocklist_poll_ms : 300000;

    if (!wait_first_poll(d)) {
        while (!atomic_load(&d->stopping)) {
            if (!d->cfg.compactor_disabled)
                retention_all(d);
            if (daemon_sleep(d, interval))
                break;
        }
    }
    atomic_fetch_sub(&d->threads_running, 1);
    return NULL;
}

static int
start_loops(struct daemon *d, struct tc_err *err)
{
    atomic_store(&d->threads_running, 3);
    if (pthread_create(&d->poll_thread, NULL, poll_loop, d) != 0 ||
        pthread_create(&d->plan_thread, NULL, plan_loop, d) != 0 ||
        pthread_create(&d->retention_thread, NULL, retention_loop, d) != 0)
        return tc_err_set(err, TC_ERR, "cannot start worker threads");
    d->threads_started = 1;
    return TC_OK;
}

/* Stops taking work, gives in-flight work the graceful period, persists the
 * poll state. Work that is abandoned is safe: inputs are only ever marked
 * compacted after their output is durable. */
static void
stop_loops(struct daemon *d)
{
    struct timespec until;
    struct tc_err err;
    int timed_out = 0;

    atomic_store(&d->stopping, 1);
    pthread_mutex_lock(&d->mu);
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    if (d->poller)
        poller_stop(d->poller);
    if (!d->threads_started)
        return;
    tc_deadline(&until, (long)d->cfg.graceful_shutdown_ms + 1000);
    if (pthread_timedjoin_np(d->poll_thread, NULL, &until) != 0 ||
        pthread_timedjoin_np(d->plan_thread, NULL, &until) != 0 ||
        pthread_timedjoin_np(d->retention_thread, NULL, &until) != 0)
        timed_out = 1;
    if (timed_out) {
        LOG_WARN("in-flight work did not finish within the graceful shutdown timeout; "
                 "abandoning it",
                 KV_I("running", atomic_load(&d->threads_running)));
        d->threads_started = 0; /* threads still use d: do not free what they hold */
        return;
    }
    d->threads_started = 0;
    if (d->state_path[0] && atomic_load(&d->first_poll_done)) {
        if (blocklist_save(d->bl, d->state_path, &err) != TC_OK)
            LOG_ERROR("cannot persist the poll state", KV_ERR(&err));
        else
            LOG_INFO("poll state persisted", KV_S("path", d->state_path),
                     KV_U("blocks", blocklist_len(d->bl)));
    }
}

static void
set_reason(struct daemon *d, const char *reason)
{
    pthread_mutex_lock(&d->mu);
    snprintf(d->ready_reason, sizeof(d->ready_reason), "%s", reason);
    pthread_mutex_unlock(&d->mu);
}

/* Waits for a signal up to ms; returns the signal or 0. */
static int
wait_signal(const sigset_t *sigs, long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    int s = sigtimedwait(sigs, NULL, &ts);

    return s > 0 ? s : 0;
}

static int
setup_state_dir(struct daemon *d)
{
    const char *dir = d->cfg.state_dir;
    char tmp[1024], *p;

    if (dir[0] == '\0')
        return TC_OK;
    snprintf(tmp, sizeof(tmp), "%s", dir);
    for (p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(tmp, 0755);
            *p = '/';
        }
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
        LOG_WARN("compactor.state_dir is not writable; restarts will fetch metas again",
                 KV_S("dir", dir), KV_S("err", strerror(errno)));
        return TC_OK;
    }
    snprintf(d->state_path, sizeof(d->state_path), "%s/blocklist.state", dir);
    return TC_OK;
}

static void
daemon_cleanup(struct daemon *d)
{
    http_server_free(d->http);
    if (d->threads_started == 0 && atomic_load(&d->threads_running) > 0) {
        /* threads were abandoned at shutdown; the process exits anyway */
        return;
    }
    poller_free(d->poller);
    blocklist_free(d->bl);
    ring_free(d->ring);
    backend_free(d->backend);
    overrides_free(d->ovr);
    plan_free(d->plan, d->nplan);
    daemon_config_cleanup(&d->cfg);
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
}

int
daemon_main(int argc, char **argv)
{
    static const char *const tenant_l[] = {"tenant", NULL};
    static const double ret_buckets[] = {.25, .5, 1, 2, 4, 8};
    struct daemon d;
    struct overrides_tenant defaults;
    struct tc_err err;
    sigset_t sigs;
    int sig = 0, rc, status = 1;

    /* Per-thread malloc arenas keep freed poll buffers resident; two arenas
     * hold the blocklist near its 128 bytes per block (hack/bench/poll.md). */
    if (getenv("MALLOC_ARENA_MAX") == NULL)
        mallopt(M_ARENA_MAX, 2);
    memset(&d, 0, sizeof(d));
    pthread_mutex_init(&d.mu, NULL);
    pthread_cond_init(&d.cv, NULL);
    d.start_time = now_seconds();
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    rc = daemon_config_load(&d.cfg, argc, argv, &err);
    if (rc != TC_OK) {
        LOG_ERROR("invalid config", KV_ERR(&err));
        goto out;
    }
    if (log_set_level(d.cfg.log_level) != TC_OK || log_set_format(d.cfg.log_format) != TC_OK) {
        LOG_ERROR("invalid config", KV_S("err", "server.log_level or server.log_format"));
        goto out;
    }
    register_build_info();
    d.m_outstanding = metrics_gauge(metrics_default(), "tempodb_compaction_outstanding_blocks",
                                    "Number of blocks remaining to be compacted before next "
                                    "maintenance cycle",
                                    tenant_l);
    d.m_retention_seconds =
        metrics_histogram(metrics_default(), "tempodb_retention_duration_seconds",
                          "Records the amount of time to perform retention tasks.", NULL,
                          ret_buckets, TC_ARRAY_LEN(ret_buckets));
    defaults.block_retention_ms = d.cfg.ovr_block_retention_ms;
    defaults.compaction_window_ms = d.cfg.ovr_compaction_window_ms;
    defaults.compaction_disabled = d.cfg.ovr_compaction_disabled;
    d.ovr = overrides_new(&defaults, d.cfg.per_tenant_override_config);
    if (d.ovr == NULL)
        goto out;
    set_reason(&d, "starting");
    rc = start_http(&d, &err);
    if (rc != TC_OK) {
        LOG_ERROR("cannot start http server", KV_ERR(&err));
        goto out;
    }
    LOG_INFO("server listening", KV_S("addr", d.cfg.http_listen_address),
             KV_I("port", http_server_port(d.http)));
    setup_state_dir(&d);
    if (make_backend(&d, &err) != TC_OK || make_ring(&d, &err) != TC_OK) {
        LOG_ERROR("cannot set up the compactor", KV_ERR(&err));
        goto out;
    }

    /* readiness: one cheap LIST; retried until it works or we are told to stop */
    while ((rc = backend_check(&d, &err)) != TC_OK) {
        char reason[400];
        snprintf(reason, sizeof(reason), "backend check failed: %s", err.msg);
        set_reason(&d, reason);
        LOG_ERROR("backend check failed; retrying", KV_ERR(&err));
        sig = wait_signal(&sigs, DAEMON_BACKEND_RETRY_MS);
        if (sig == SIGTERM || sig == SIGINT) {
            status = 0;
            goto out;
        }
    }
    atomic_store(&d.ready, 1);
    LOG_INFO("compactor ready", KV_F("seconds", now_seconds() - d.start_time));

    if (ring_start(d.ring, &err) != TC_OK || make_poller(&d, &err) != TC_OK ||
        start_loops(&d, &err) != TC_OK) {
        LOG_ERROR("cannot start the compactor loops", KV_ERR(&err));
        stop_loops(&d);
        goto out;
    }
    sig = 0;
    while (sig != SIGTERM && sig != SIGINT)
        if (sigwait(&sigs, &sig) != 0)
            break;
    LOG_INFO("shutting down", KV_I("signal", sig));
    stop_loops(&d);
    status = 0;
    LOG_INFO("shutdown complete");
out:
    atomic_store(&d.stopping, 1);
    daemon_cleanup(&d);
    return status;
}
