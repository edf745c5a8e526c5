/*
 * http_server.c - route-table HTTP server on libwebsockets, on its own thread.
 *
 * The service thread owns the lws context. A request is answered by running
 * its handler to completion into a buffer, then streaming that buffer out in
 * chunks as the socket becomes writable. Because the listener is bound before
 * http_server_start() returns, /ready can answer as soon as the process is up.
 */
#include "base/http_server.h"

#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"

#define HTTP_SERVER_MAX_ROUTES 64
#define HTTP_SERVER_CHUNK 16384
#define HTTP_SERVER_BODY_CAP ((size_t)256 << 20)

struct route {
    char *path;
    size_t len;
    int prefix;
    http_handler_fn fn;
    void *ud;
};

struct http_server {
    struct lws_context *ctx;
    struct lws_vhost *vh;
    struct lws_protocols protocols[2];
    char *addr;
    int port;
    struct route routes[HTTP_SERVER_MAX_ROUTES];
    int nroutes;
    pthread_t thread;
    int started;
    atomic_int stop;
};

/* per connection */
struct pss {
    char *body;
    size_t len, off;
};

static const struct route *
route_find(const struct http_server *s, const char *path)
{
    int i;
    const struct route *best = NULL;

    for (i = 0; i < s->nroutes; i++) {
        const struct route *r = &s->routes[i];
        if (!r->prefix && strcmp(path, r->path) == 0)
            return r;
        if (r->prefix && strncmp(path, r->path, r->len) == 0 && (!best || r->len > best->len))
            best = r;
    }
    return best;
}

static const char *
req_method(struct lws *wsi)
{
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI))
        return "GET";
    if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI))
        return "POST";
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI))
        return "HEAD";
    if (lws_hdr_total_length(wsi, WSI_TOKEN_PUT_URI))
        return "PUT";
    if (lws_hdr_total_length(wsi, WSI_TOKEN_DELETE_URI))
        return "DELETE";
    return "OTHER";
}

static int
start_response(struct lws *wsi, struct pss *p, int status, const char *ctype)
{
    unsigned char hdr[LWS_PRE + 1024], *start = hdr + LWS_PRE, *pos = start,
                                       *end = hdr + sizeof(hdr) - 1;

    if (lws_add_http_common_headers(wsi, (unsigned int)status, ctype, (lws_filepos_t)p->len, &pos,
                                    end))
        return -1;
    if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)"no-store", 8, &pos, end))
        return -1;
    if (lws_finalize_write_http_header(wsi, start, &pos, end))
        return -1;
    if (p->len == 0)
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    lws_callback_on_writable(wsi);
    return 0;
}

static int
on_http(struct lws *wsi, struct pss *p, const char *uri)
{
    struct http_server *s = lws_context_user(lws_get_context(wsi));
    struct http_server_request req;
    struct http_server_response resp;
    char query[2048] = "";
    const struct route *r;
    size_t qlen;
    int n;

    req.method = req_method(wsi);
    req.path = uri && *uri ? uri : "/";
    /* lws keeps each '&'-separated argument as its own fragment */
    for (n = 0, qlen = 0; qlen + 1 < sizeof(query); n++) {
        int got =
            lws_hdr_copy_fragment(wsi, query + qlen + (qlen ? 1 : 0),
                                  (int)(sizeof(query) - qlen - 1), WSI_TOKEN_HTTP_URI_ARGS, n);
        if (got <= 0)
            break;
        if (qlen)
            query[qlen] = '&';
        qlen += (size_t)got + (qlen ? 1 : 0);
    }
    query[qlen] = '\0';
    req.query = query;
    resp.status = 200;
    resp.content_type = "text/plain; charset=utf-8";
    buf_init(&resp.body, HTTP_SERVER_BODY_CAP);
    r = route_find(s, req.path);
    if (r == NULL) {
        resp.status = 404;
        buf_puts(&resp.body, "404 page not found\n");
    } else if (strcmp(req.method, "GET") != 0 && strcmp(req.method, "POST") != 0) {
        resp.status = 405;
        buf_puts(&resp.body, "method not allowed\n");
    } else {
        r->fn(&req, &resp, r->ud);
    }
    p->body = buf_take(&resp.body, &p->len);
    p->off = 0;
    return start_response(wsi, p, resp.status, resp.content_type);
}

static int
on_writeable(struct lws *wsi, struct pss *p)
{
    unsigned char chunk[LWS_PRE + HTTP_SERVER_CHUNK];
    size_t n = p->len - p->off;
    int final;

    if (p->body == NULL)
        return 0;
    if (n > HTTP_SERVER_CHUNK)
        n = HTTP_SERVER_CHUNK;
    final = p->off + n == p->len;
    memcpy(chunk + LWS_PRE, p->body + p->off, n);
    if (lws_write(wsi, chunk + LWS_PRE, n, final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
        return -1;
    p->off += n;
    if (!final) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    tc_free(p->body);
    p->body = NULL;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int
lws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct pss *p = user;

    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return on_http(wsi, p, in);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return on_writeable(wsi, p);
    case LWS_CALLBACK_HTTP_BODY:
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return 0;
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (p) {
            tc_free(p->body);
            p->body = NULL;
        }
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static void
lws_log_cb(int level, const char *line)
{
    char msg[512];
    size_t n;

    snprintf(msg, sizeof(msg), "%s", line);
    n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    if (level & LLL_ERR)
        LOG_ERROR("http server", KV_S("detail", msg));
    else
        LOG_WARN("http server", KV_S("detail", msg));
}

struct http_server *
http_server_new(const char *addr, int port, struct tc_err *err)
{
    struct http_server *s = tc_calloc(1, sizeof(*s));

    if (s == NULL) {
        tc_err_set(err, TC_NOMEM, "http server: out of memory");
        return NULL;
    }
    s->addr = addr && *addr ? tc_strdup(addr) : NULL;
    if (addr && *addr && s->addr == NULL) {
        tc_free(s);
        tc_err_set(err, TC_NOMEM, "http server: out of memory");
        return NULL;
    }
    s->port = port;
    return s;
}

int
http_server_route(struct http_server *s, const char *path, http_handler_fn fn, void *ud)
{
    struct route *r;

    if (s->started || s->nroutes >= HTTP_SERVER_MAX_ROUTES || path[0] != '/')
        return TC_INVAL;
    r = &s->routes[s->nroutes];
    r->path = tc_strdup(path);
    if (r->path == NULL)
        return TC_NOMEM;
    r->len = strlen(path);
    r->prefix = r->len > 1 && path[r->len - 1] == '/';
    r->fn = fn;
    r->ud = ud;
    s->nroutes++;
    return TC_OK;
}

static void *
serve(void *arg)
{
    struct http_server *s = arg;

    while (!atomic_load(&s->stop))
        if (lws_service(s->ctx, 0) < 0)
            break;
    return NULL;
}

int
http_server_start(struct http_server *s, struct tc_err *err)
{
    struct lws_context_creation_info info;

    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_cb);
    s->protocols[0].name = "http";
    s->protocols[0].callback = lws_cb;
    s->protocols[0].per_session_data_size = sizeof(struct pss);
    memset(&info, 0, sizeof(info));
    info.port = s->port;
    info.iface = s->addr;
    info.protocols = s->protocols;
    info.user = s;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    info.timeout_secs = 30;
    s->ctx = lws_create_context(&info);
    if (s->ctx == NULL)
        return tc_err_set(err, TC_NET, "http server: cannot listen on %s:%d",
                          s->addr ? s->addr : "0.0.0.0", s->port);
    s->vh = lws_get_vhost_by_name(s->ctx, "default");
    if (s->vh)
        s->port = lws_get_vhost_listen_port(s->vh);
    if (pthread_create(&s->thread, NULL, serve, s) != 0) {
        lws_context_destroy(s->ctx);
        s->ctx = NULL;
        return tc_err_set(err, TC_ERR, "http server: cannot start thread");
    }
    s->started = 1;
    return TC_OK;
}

int
http_server_port(const struct http_server *s)
{
    return s->port;
}

void
http_server_free(struct http_server *s)
{
    int i;

    if (s == NULL)
        return;
    if (s->started) {
        atomic_store(&s->stop, 1);
        lws_cancel_service(s->ctx);
        pthread_join(s->thread, NULL);
    }
    if (s->ctx)
        lws_context_destroy(s->ctx);
    for (i = 0; i < s->nroutes; i++)
        tc_free(s->routes[i].path);
    tc_free(s->addr);
    tc_free(s);
}

int
http_query_get(const char *query, const char *key, char *out, size_t outsz)
{
    size_t klen = strlen(key);
    const char *p = query;

    while (p && *p) {
        const char *amp = strchr(p, '&');
        size_t seg = amp ? (size_t)(amp - p) : strlen(p);
        if (seg > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            size_t vlen = seg - klen - 1;
            if (vlen >= outsz)
                vlen = outsz - 1;
            memcpy(out, p + klen + 1, vlen);
            out[vlen] = '\0';
            return TC_OK;
        }
        if (seg == klen && strncmp(p, key, klen) == 0) {
            out[0] = '\0';
            return TC_OK;
        }
        p = amp ? amp + 1 : NULL;
    }
    return TC_NOTFOUND;
}
