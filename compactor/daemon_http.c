/*
 * daemon_http.c - the compactor's HTTP endpoints: /ready, /live, /metrics and
 * the /status pages. Handlers run on the HTTP server's thread and read the
 * daemon's state through atomics or under its mutex.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/cfg.h"
#include "base/tc.h"
#include "daemon_int.h"

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
h_compaction(const struct http_server_request *req, struct http_server_response *resp, void *ud)
{
    struct daemon *d = ud;
    struct compactor *c;

    resp->content_type = "application/json";
    pthread_mutex_lock(&d->mu);
    c = d->comp;
    pthread_mutex_unlock(&d->mu);
    if (c == NULL) {
        buf_puts(&resp->body, "{\"state\":\"starting\",\"running\":null,\"tenants\":[]}\n");
        return;
    }
    compactor_status_json(c, &resp->body);
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

int
daemon_http_start(struct daemon *d, struct tc_err *err)
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
