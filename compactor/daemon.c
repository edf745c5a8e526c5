/*
 * daemon.c - process lifecycle of tempo-compactor.
 *
 * Order matters: signals are blocked first (every thread inherits the mask
 * and only the main thread takes them with sigwait), then the config is
 * loaded, the HTTP server starts listening, and the backend answers one cheap
 * LIST: from then on /ready is 200. The first blocklist poll runs on the poll
 * thread; the compaction and retention threads start after it has finished.
 * The HTTP handlers are in daemon_http.c.
 * Shutdown stops taking work, waits for in-flight work up to
 * server.graceful_shutdown_timeout, and persists the poll state.
 */
#include "daemon.h"
#include "daemon_int.h"

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
#include "base/pool.h"
#include "blocklist/poll.h"
#include "plan/retention.h"
#include "plan/ring.h"
#include "compact/compactor.h"
#include "base/tc.h"

#define DAEMON_BACKEND_RETRY_MS 2000
#define DAEMON_OVERRIDES_RELOAD_MS 10000

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
            .forcepathstyle = c->s3_forcepathstyle,
            .bucket_lookup = (int)c->s3_bucket_lookup_type,
            .ca_file = c->s3_tls_ca_path[0] ? c->s3_tls_ca_path : NULL,
            .insecure_skip_verify = c->s3_tls_insecure_skip_verify,
            .list_blocks_concurrency = (int)c->s3_list_blocks_concurrency,
            .part_size = (size_t)c->s3_part_size,
            .timeout_ms = (long)c->s3_request_timeout_ms,
            .max_retries = c->s3_max_retries > 0 ? (int)c->s3_max_retries : -1,
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
    struct poll_cfg pc = d->cfg.poll;
    struct poller *p;

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
    long interval = (long)d->cfg.blocklist_poll_ms;
    struct tc_err err;

    while (!atomic_load(&d->stopping)) {
        if (poller_poll(d->poller, d->bl, &err) != TC_OK && err.code != TC_CANCELED)
            LOG_ERROR("failed to poll blocklist; keeping the last blocklist",
                      KV_U("blocks", blocklist_len(d->bl)), KV_ERR(&err));
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
tenant_cfg_cb(const char *tenant, struct compactor_tenant_cfg *out, void *ud)
{
    struct daemon *d = ud;
    struct overrides_tenant ot;

    overrides_get(d->ovr, tenant, &ot);
    out->disabled = ot.compaction_disabled;
    out->window_s = ot.compaction_window_ms / 1000;
    out->max_bytes_per_trace =
        d->cfg.ovr_max_bytes_per_trace > 0 ? (uint64_t)d->cfg.ovr_max_bytes_per_trace : 0;
}

static int
make_compactor(struct daemon *d, struct tc_err *err)
{
    struct compactor_cfg cc = d->cfg.comp; /* the settings; the wiring is added here */
    struct compactor *comp;

    cc.be = d->backend;
    cc.bl = d->bl;
    cc.tenant_cfg = tenant_cfg_cb;
    cc.tenant_ud = d;
    cc.owns = owns_cb;
    cc.owns_ud = d->ring;
    comp = compactor_new(&cc, err);
    if (comp == NULL)
        return err->code;
    pthread_mutex_lock(&d->mu); /* HTTP handlers read it */
    d->comp = comp;
    pthread_mutex_unlock(&d->mu);
    return TC_OK;
}

/* Tempo's compactionLoop: one tenant per iteration, each iteration at least
 * compaction_cycle long; the outstanding gauge is measured after each. */
static void *
compaction_loop(void *arg)
{
    struct daemon *d = arg;
    struct tc_err err;
    double last_reload = 0;

    if (!wait_first_poll(d)) {
        while (!atomic_load(&d->stopping)) {
            uint64_t t0 = tc_now_ms(), el;
            if (now_seconds() - last_reload > DAEMON_OVERRIDES_RELOAD_MS / 1000.0) {
                if (overrides_reload(d->ovr, &err) != TC_OK)
                    LOG_ERROR("cannot load per-tenant overrides; keeping the previous ones",
                              KV_ERR(&err));
                last_reload = now_seconds();
            }
            if (!d->cfg.compactor_disabled) {
                compactor_cycle(d->comp);
                compactor_plan_all(d->comp);
            }
            el = tc_now_ms() - t0;
            if ((int64_t)el < d->cfg.compaction_cycle_ms &&
                daemon_sleep(d, (long)(d->cfg.compaction_cycle_ms - (int64_t)el)))
                break;
        }
    }
    atomic_fetch_sub(&d->threads_running, 1);
    return NULL;
}

/* Retention threads at most, whatever the config says. */
#define DAEMON_RETENTION_MAX_THREADS 64

struct retention_work {
    struct daemon *d;
    struct backend_strlist *tenants;
    int64_t now_s;
};

static void
retention_item(void *arg, size_t i)
{
    struct retention_work *w = arg;
    struct daemon *d = w->d;
    const char *tenant = w->tenants->v[i];
    struct overrides_tenant ot;
    struct retention_cfg rc;
    struct retention_result res;
    struct tc_err err;
    double t0 = now_seconds();

    overrides_get(d->ovr, tenant, &ot);
    if (ot.compaction_disabled)
        return;
    rc.block_retention_s =
        (ot.block_retention_ms ? ot.block_retention_ms : d->cfg.block_retention_ms) / 1000;
    rc.compacted_retention_s = d->cfg.compacted_block_retention_ms / 1000;
    rc.orphan_retention_s = d->cfg.orphan_retention_ms / 1000;
    rc.now_s = w->now_s;
    if (retention_run_tenant(d->backend, d->bl, tenant, &rc, owns_cb, d->ring, &res, &err) != TC_OK)
        LOG_ERROR("retention failed", KV_S("tenant", tenant), KV_ERR(&err));
    metrics_observe(d->m_retention_seconds, NULL, now_seconds() - t0);
}

static int
retention_stopped(void *arg)
{
    struct retention_work *w = arg;

    return atomic_load(&w->d->stopping);
}

static void
retention_all(struct daemon *d)
{
    struct backend_strlist tenants;
    struct retention_work w;
    size_t n = (size_t)d->cfg.retention_concurrency;

    memset(&tenants, 0, sizeof(tenants));
    if (blocklist_tenants(d->bl, &tenants) != TC_OK)
        return;
    w.d = d;
    w.tenants = &tenants;
    w.now_s = (int64_t)now_seconds();
    if (n > DAEMON_RETENTION_MAX_THREADS)
        n = DAEMON_RETENTION_MAX_THREADS;
    pool_run(n, tenants.n, retention_item, retention_stopped, &w);
    backend_strlist_cleanup(&tenants);
}

static void *
retention_loop(void *arg)
{
    struct daemon *d = arg;
    long interval = (long)d->cfg.blocklist_poll_ms;

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
        pthread_create(&d->compaction_thread, NULL, compaction_loop, d) != 0 ||
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
    if (d->comp) /* a running job may finish until shortly before the deadline */
        compactor_stop(d->comp, tc_now_ms() + (uint64_t)(d->cfg.graceful_shutdown_ms > 1000
                                                             ? d->cfg.graceful_shutdown_ms - 1000
                                                             : 0));
    if (!d->threads_started)
        return;
    tc_deadline(&until, (long)d->cfg.graceful_shutdown_ms + 1000);
    if (pthread_timedjoin_np(d->poll_thread, NULL, &until) != 0 ||
        pthread_timedjoin_np(d->compaction_thread, NULL, &until) != 0 ||
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
    compactor_free(d->comp);
    daemon_config_cleanup(&d->cfg);
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
}

int
daemon_main(int argc, char **argv)
{
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
    if (d.cfg.orphan_retention_ms < 3600000)
        LOG_WARN("compactor.compaction.orphan_retention is under 1h: a block still being "
                 "written for longer than this is removed as an orphan",
                 KV_I("orphan_retention_seconds", d.cfg.orphan_retention_ms / 1000));
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
    rc = daemon_http_start(&d, &err);
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
        make_compactor(&d, &err) != TC_OK || start_loops(&d, &err) != TC_OK) {
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
