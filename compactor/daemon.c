/*
 * daemon.c - process lifecycle of tempo-compactor.
 *
 * Order matters: signals are blocked first (so every thread inherits the
 * mask and only the main thread takes them with sigwait), then the config is
 * loaded, the HTTP server starts listening, the backend is checked, and only
 * then is the process ready. Work loops run on their own threads and report
 * through /status and /metrics.
 */
#include "daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>

#include "daemon_config.h"
#include "http_server.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "tc.h"

struct daemon {
    struct daemon_config cfg;
    struct http_server *http;
    atomic_int ready;
    atomic_int stopping;
    char ready_reason[256];
    double start_time;
};

static double
now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
h_ready(const struct http_server_request *req, struct http_server_response *resp, void *ud)
{
    struct daemon *d = ud;

    if (atomic_load(&d->ready) && !atomic_load(&d->stopping)) {
        buf_puts(&resp->body, "ready\n");
        return;
    }
    resp->status = 503;
    buf_printf(&resp->body, "not ready: %s\n",
               atomic_load(&d->stopping) ? "shutting down" : d->ready_reason);
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

    resp->content_type = "text/plain; charset=utf-8";
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
h_index(const struct http_server_request *req, struct http_server_response *resp, void *ud)
{
    resp->content_type = "text/html; charset=utf-8";
    buf_puts(&resp->body, "<html><body><h1>tempo-compactor</h1><ul>"
                          "<li><a href=\"/ready\">/ready</a></li>"
                          "<li><a href=\"/live\">/live</a></li>"
                          "<li><a href=\"/metrics\">/metrics</a></li>"
                          "<li><a href=\"/status/version\">/status/version</a></li>"
                          "<li><a href=\"/status/config\">/status/config</a></li>"
                          "<li><a href=\"/status/services\">/status/services</a></li>"
                          "</ul></body></html>\n");
}

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

/* The cheap backend check that gates readiness. */
static int
backend_check(struct daemon *d, struct tc_err *err)
{
    struct stat st;

    if (strcmp(d->cfg.backend, "local") == 0) {
        if (stat(d->cfg.local_path, &st) != 0)
            return tc_err_set(err, TC_NOTFOUND, "storage.trace.local.path %s: %s",
                              d->cfg.local_path, strerror(errno));
        if (!S_ISDIR(st.st_mode))
            return tc_err_set(err, TC_INVAL, "storage.trace.local.path %s: not a directory",
                              d->cfg.local_path);
        return TC_OK;
    }
    return tc_err_set(err, TC_UNSUPPORTED, "backend %s: not available in this build",
                      d->cfg.backend);
}

static int
start_http(struct daemon *d, struct tc_err *err)
{
    static const struct {
        const char *path;
        http_handler_fn fn;
    } routes[] = {{"/ready", h_ready},          {"/live", h_live},
                  {"/metrics", h_metrics},      {"/status/version", h_version},
                  {"/status/config", h_config}, {"/status/services", h_services},
                  {"/status", h_index},         {"/", h_index}};
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

int
daemon_main(int argc, char **argv)
{
    struct daemon d;
    struct tc_err err;
    sigset_t sigs;
    int sig = 0, rc;

    memset(&d, 0, sizeof(d));
    d.start_time = now_seconds();
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    rc = daemon_config_load(&d.cfg, argc, argv, &err);
    if (rc != TC_OK) {
        LOG_ERROR("invalid config", KV_ERR(&err));
        daemon_config_cleanup(&d.cfg);
        return 1;
    }
    if (log_set_level(d.cfg.log_level) != TC_OK || log_set_format(d.cfg.log_format) != TC_OK) {
        LOG_ERROR("invalid config", KV_S("err", "server.log_level or server.log_format"));
        daemon_config_cleanup(&d.cfg);
        return 1;
    }
    register_build_info();
    snprintf(d.ready_reason, sizeof(d.ready_reason), "starting");
    rc = start_http(&d, &err);
    if (rc != TC_OK) {
        LOG_ERROR("cannot start http server", KV_ERR(&err));
        http_server_free(d.http);
        daemon_config_cleanup(&d.cfg);
        return 1;
    }
    LOG_INFO("server listening", KV_S("addr", d.cfg.http_listen_address),
             KV_I("port", http_server_port(d.http)));

    rc = backend_check(&d, &err);
    if (rc != TC_OK) {
        snprintf(d.ready_reason, sizeof(d.ready_reason), "backend check failed: %s", err.msg);
        LOG_ERROR("backend check failed", KV_ERR(&err));
    } else {
        atomic_store(&d.ready, 1);
        LOG_INFO("compactor ready", KV_F("seconds", now_seconds() - d.start_time));
    }

    while (sig != SIGTERM && sig != SIGINT)
        if (sigwait(&sigs, &sig) != 0)
            break;
    atomic_store(&d.stopping, 1);
    LOG_INFO("shutting down", KV_I("signal", sig));
    http_server_free(d.http);
    daemon_config_cleanup(&d.cfg);
    LOG_INFO("shutdown complete");
    return 0;
}
