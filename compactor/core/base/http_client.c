/*
 * http_client.c - libcurl multi wrapper: many transfers on one thread.
 *
 * Every transfer runs inside the client's multi handle, so connections are
 * cached and reused across requests (keep-alive) whether the caller uses the
 * synchronous or the asynchronous form. Bodies are capped; a body over its
 * cap aborts the transfer with TC_TOOBIG instead of growing without bound.
 */
#include "base/http_client.h"

#include <curl/curl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/mem.h"

#define HTTP_DEFAULT_MAX_BODY ((size_t)64 << 20)
#define HTTP_HEADERS_CAP ((size_t)64 << 10)
#define HTTP_ERROR_BODY_MAX ((size_t)64 << 10) /* error bodies kept whatever the cap */
#define HTTP_STOP_POLL_MS 100                  /* longest wait while a transfer has a stop flag */
#define HTTP_QUICKACK_SOCKS 16                 /* open sockets tracked for tcp_quickack */

struct xfer {
    struct http_client *c;
    CURL *easy;
    struct curl_slist *hdrs;
    struct curl_slist *connect_to;
    struct http_response *resp;
    http_done_fn done;
    void *ud;
    size_t max_body;
    int (*sink)(const char *p, size_t n, void *ud);
    void *sink_ud;
    int sink_2xx_only;
    const volatile int *stop;
    long status; /* from the last status line seen, for sink_2xx_only */
    int too_big, sink_abort, stopped;
    char errbuf[CURL_ERROR_SIZE];
    struct xfer *next; /* active list */
};

struct http_client {
    CURLM *multi;
    struct http_client_opts o;
    char *ca_file;
    char *ca_pem, *cert_pem, *key_pem;
    char *user_agent;
    char *accept_encoding;
    /* tcp_quickack: the client's open sockets. libcurl names a transfer's
     * socket only after it is done (CURLINFO_ACTIVESOCKET), so the client
     * tracks them from their creation to their close instead. */
    curl_socket_t socks[HTTP_QUICKACK_SOCKS];
    int nsocks;
    /* One finished easy handle kept for the next request: a synchronous
     * client then allocates nothing per request but the xfer itself. */
    CURL *spare;
    struct xfer *active;
    int nactive;
};

static pthread_once_t http_once = PTHREAD_ONCE_INIT;

static void
http_global_init(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
}

void
http_response_init(struct http_response *r)
{
    memset(r, 0, sizeof(*r));
    buf_init(&r->body, HTTP_DEFAULT_MAX_BODY);
    buf_init(&r->headers, HTTP_HEADERS_CAP);
}

void
http_response_cleanup(struct http_response *r)
{
    buf_cleanup(&r->body);
    buf_cleanup(&r->headers);
}

int
http_response_header(const struct http_response *r, const char *name, char *out, size_t outsz)
{
    const char *p = r->headers.data, *eol, *colon;
    size_t nlen = strlen(name), vlen;
    int found = 0;

    if (p == NULL)
        return TC_NOTFOUND;
    for (; *p; p = eol + (*eol ? 1 : 0)) {
        eol = strchr(p, '\n');
        if (eol == NULL)
            eol = p + strlen(p);
        colon = memchr(p, ':', (size_t)(eol - p));
        if (colon == NULL || (size_t)(colon - p) != nlen || strncasecmp(p, name, nlen) != 0)
            continue;
        colon++;
        while (colon < eol && (*colon == ' ' || *colon == '\t'))
            colon++;
        vlen = (size_t)(eol - colon);
        while (vlen && (colon[vlen - 1] == '\r' || colon[vlen - 1] == ' '))
            vlen--;
        if (outsz) {
            if (vlen >= outsz)
                vlen = outsz - 1;
            memcpy(out, colon, vlen);
            out[vlen] = '\0';
        }
        found = 1; /* keep going: the last occurrence wins */
    }
    return found ? TC_OK : TC_NOTFOUND;
}

static char *
dup_opt(const char *s, size_t len)
{
    return s ? tc_strndup(s, len ? len : strlen(s)) : NULL;
}

struct http_client *
http_client_new(const struct http_client_opts *opts, struct tc_err *err)
{
    struct http_client *c;
    char ua[64];

    pthread_once(&http_once, http_global_init);
    c = tc_calloc(1, sizeof(*c));
    if (c == NULL) {
        tc_err_set(err, TC_NOMEM, "http client: out of memory");
        return NULL;
    }
    if (opts)
        c->o = *opts;
    if (c->o.connect_timeout_ms <= 0)
        c->o.connect_timeout_ms = 10000;
    if (c->o.timeout_ms == 0)
        c->o.timeout_ms = 60000;
    snprintf(ua, sizeof(ua), "tempo-compactor/%s", tc_version);
    c->ca_file = dup_opt(c->o.ca_file, 0);
    c->ca_pem = dup_opt(c->o.ca_pem, c->o.ca_pem_len);
    c->cert_pem = dup_opt(c->o.cert_pem, c->o.cert_pem_len);
    c->key_pem = dup_opt(c->o.key_pem, c->o.key_pem_len);
    c->user_agent = tc_strdup(c->o.user_agent ? c->o.user_agent : ua);
    c->accept_encoding = c->o.accept_encoding ? tc_strdup(c->o.accept_encoding) : NULL;
    c->multi = curl_multi_init();
    if (c->multi == NULL || c->user_agent == NULL || (c->o.ca_file && !c->ca_file) ||
        (c->o.accept_encoding && !c->accept_encoding) || (c->o.ca_pem && !c->ca_pem) ||
        (c->o.cert_pem && !c->cert_pem) || (c->o.key_pem && !c->key_pem)) {
        tc_err_set(err, TC_NOMEM, "http client: out of memory");
        http_client_free(c);
        return NULL;
    }
    /* borrowed pointers in o are not used after this point */
    c->o.ca_file = c->o.ca_pem = c->o.cert_pem = c->o.key_pem = c->o.user_agent = NULL;
    c->o.accept_encoding = NULL;
    if (c->o.max_host_conns > 0)
        curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, c->o.max_host_conns);
    return c;
}

static void
xfer_free(struct xfer *x)
{
    if (x == NULL)
        return;
    if (x->easy && x->c->spare == NULL) {
        curl_easy_reset(x->easy); /* every option is set again by submit */
        x->c->spare = x->easy;
    } else if (x->easy) {
        curl_easy_cleanup(x->easy);
    }
    curl_slist_free_all(x->hdrs);
    curl_slist_free_all(x->connect_to);
    tc_free(x);
}

void
http_client_free(struct http_client *c)
{
    struct xfer *x, *next;

    if (c == NULL)
        return;
    for (x = c->active; x; x = next) {
        next = x->next;
        curl_multi_remove_handle(c->multi, x->easy);
        xfer_free(x);
    }
    if (c->spare)
        curl_easy_cleanup(c->spare);
    if (c->multi)
        curl_multi_cleanup(c->multi);
    tc_free(c->ca_file);
    tc_free(c->ca_pem);
    tc_free(c->cert_pem);
    tc_free(c->key_pem);
    tc_free(c->user_agent);
    tc_free(c->accept_encoding);
    tc_free(c);
}

static int
on_sockopt(void *ud, curl_socket_t fd, curlsocktype purpose)
{
    struct http_client *c = ud;

    if (c->nsocks < HTTP_QUICKACK_SOCKS)
        c->socks[c->nsocks++] = fd;
    return CURL_SOCKOPT_OK;
}

static int
on_closesocket(void *ud, curl_socket_t fd)
{
    struct http_client *c = ud;
    int i;

    for (i = 0; i < c->nsocks; i++)
        if (c->socks[i] == fd) {
            c->socks[i] = c->socks[--c->nsocks];
            break;
        }
    return close(fd);
}

/* Asks the kernel to ACK what it has now rather than after the
 * delayed-ACK timer (see tcp_quickack in http_client.h). Linux clears the
 * flag again by itself, hence once per event rather than once per socket.
 * Which open socket carries the transfer is unknown, so all get it: a
 * no-op on an idle connection, and a synchronous client has one. */
static void
xfer_quickack(struct xfer *x)
{
#ifdef TCP_QUICKACK
    int one = 1, i;

    for (i = 0; i < x->c->nsocks; i++)
        setsockopt(x->c->socks[i], IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
#endif
}

static size_t
on_body(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;

    if (x->sink && (!x->sink_2xx_only || (x->status >= 200 && x->status <= 299))) {
        if (x->c->o.tcp_quickack)
            xfer_quickack(x);
        if (x->sink(p, len, x->sink_ud) != 0) {
            x->sink_abort = 1;
            return 0;
        }
        return len;
    }
    /* The cap is for the answer asked for: an error's body (a 503 SlowDown
     * to a 4-byte range read) must still arrive whole, so it can be retried. */
    if ((x->status < 200 || x->status > 299) && x->max_body < HTTP_ERROR_BODY_MAX &&
        x->resp->body.cap < HTTP_ERROR_BODY_MAX)
        x->resp->body.cap = HTTP_ERROR_BODY_MAX;
    if (x->resp->body.len + len >
        ((x->status < 200 || x->status > 299) && x->max_body < HTTP_ERROR_BODY_MAX
             ? HTTP_ERROR_BODY_MAX
             : x->max_body)) {
        x->too_big = 1;
        return 0;
    }
    if (buf_append(&x->resp->body, p, len) != TC_OK) {
        x->too_big = 1;
        return 0;
    }
    return len;
}

static size_t
on_header(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;

    /* a new status line starts a new response (100-continue, redirects) */
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        const char *sp = memchr(p, ' ', len);
        buf_reset(&x->resp->headers);
        x->status = sp ? strtol(sp + 1, NULL, 10) : 0;
    }
    if (len == 2 && p[0] == '\r' && p[1] == '\n' && x->c->o.tcp_quickack)
        xfer_quickack(x); /* end of the headers */
    if (buf_append(&x->resp->headers, p, len) != TC_OK)
        return 0;
    return len;
}

static int
on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    struct xfer *x = ud;

    if (*x->stop) {
        x->stopped = 1;
        return 1;
    }
    return 0;
}

static int
has_header(const struct http_request *req, const char *name)
{
    size_t i;

    for (i = 0; i < req->nheaders; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return 1;
    return 0;
}

static int
add_header(struct curl_slist **l, const char *name, const char *value)
{
    char line[8192];
    struct curl_slist *n;

    /* "Name;" sends an empty header; "Name:" removes curl's own */
    if (value == NULL)
        snprintf(line, sizeof(line), "%s:", name);
    else if (*value == '\0')
        snprintf(line, sizeof(line), "%s;", name);
    else
        snprintf(line, sizeof(line), "%s: %s", name, value);
    n = curl_slist_append(*l, line);
    if (n == NULL)
        return TC_NOMEM;
    *l = n;
    return TC_OK;
}

int
http_client_submit(struct http_client *c, const struct http_request *req,
                   struct http_response *resp, http_done_fn done, void *ud)
{
    struct xfer *x;
    const char *method = req->method ? req->method : "GET";
    size_t i;
    int rc = TC_NOMEM;
    long timeout = req->timeout_ms ? req->timeout_ms : c->o.timeout_ms;

    x = tc_calloc(1, sizeof(*x));
    if (x == NULL)
        return TC_NOMEM;
    x->c = c;
    x->resp = resp;
    x->done = done;
    x->ud = ud;
    x->max_body = req->max_body ? req->max_body : HTTP_DEFAULT_MAX_BODY;
    x->sink = req->sink;
    x->sink_ud = req->sink_ud;
    x->sink_2xx_only = req->sink_2xx_only;
    x->stop = req->stop;
    resp->status = 0;
    resp->code = TC_OK;
    resp->errmsg[0] = '\0';
    resp->seconds = 0;
    if (resp->body.cap < x->max_body)
        resp->body.cap = x->max_body;
    buf_reset(&resp->body);
    buf_reset(&resp->headers);

    x->easy = c->spare ? c->spare : curl_easy_init();
    c->spare = NULL;
    if (x->easy == NULL)
        goto fail;
    for (i = 0; i < req->nheaders; i++)
        if (add_header(&x->hdrs, req->headers[i].name, req->headers[i].value) != TC_OK)
            goto fail;
    /* curl must not add headers the caller did not ask for (SigV4 and
     * API servers see exactly what we send) */
    if (!has_header(req, "Expect") && add_header(&x->hdrs, "Expect", NULL) != TC_OK)
        goto fail;
    if (req->body && !has_header(req, "Content-Type") &&
        add_header(&x->hdrs, "Content-Type", NULL) != TC_OK)
        goto fail;

    curl_easy_setopt(x->easy, CURLOPT_URL, req->url);
    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
    curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(x->easy, CURLOPT_TCP_KEEPALIVE, 1L);
    if (c->o.tcp_keepidle_s > 0)
        curl_easy_setopt(x->easy, CURLOPT_TCP_KEEPIDLE, c->o.tcp_keepidle_s);
    if (c->accept_encoding)
        curl_easy_setopt(x->easy, CURLOPT_ACCEPT_ENCODING, c->accept_encoding);
    if (c->o.tcp_quickack) {
        curl_easy_setopt(x->easy, CURLOPT_SOCKOPTFUNCTION, on_sockopt);
        curl_easy_setopt(x->easy, CURLOPT_SOCKOPTDATA, c);
        curl_easy_setopt(x->easy, CURLOPT_CLOSESOCKETFUNCTION, on_closesocket);
        curl_easy_setopt(x->easy, CURLOPT_CLOSESOCKETDATA, c);
    }
    if (x->stop) {
        curl_easy_setopt(x->easy, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(x->easy, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(x->easy, CURLOPT_XFERINFODATA, x);
    }
    curl_easy_setopt(x->easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(x->easy, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS, c->o.connect_timeout_ms);
    curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, timeout > 0 ? timeout : 0L);
    curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    if (c->o.insecure_skip_verify) {
        curl_easy_setopt(x->easy, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(x->easy, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (c->ca_file)
        curl_easy_setopt(x->easy, CURLOPT_CAINFO, c->ca_file);
    if (c->ca_pem) {
        struct curl_blob b = {c->ca_pem, strlen(c->ca_pem), CURL_BLOB_NOCOPY};
        curl_easy_setopt(x->easy, CURLOPT_CAINFO_BLOB, &b);
    }
    if (c->cert_pem && c->key_pem) {
        struct curl_blob cb = {c->cert_pem, strlen(c->cert_pem), CURL_BLOB_NOCOPY};
        struct curl_blob kb = {c->key_pem, strlen(c->key_pem), CURL_BLOB_NOCOPY};
        curl_easy_setopt(x->easy, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(x->easy, CURLOPT_SSLCERT_BLOB, &cb);
        curl_easy_setopt(x->easy, CURLOPT_SSLKEYTYPE, "PEM");
        curl_easy_setopt(x->easy, CURLOPT_SSLKEY_BLOB, &kb);
    }
    if (req->connect_to) {
        x->connect_to = curl_slist_append(NULL, req->connect_to);
        if (x->connect_to == NULL)
            goto fail;
        curl_easy_setopt(x->easy, CURLOPT_CONNECT_TO, x->connect_to);
    }
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(x->easy, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "GET") != 0 || req->body) {
        curl_easy_setopt(x->easy, CURLOPT_CUSTOMREQUEST, method);
        if (req->body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
            strcmp(method, "PATCH") == 0) {
            curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
            curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        }
    }
    if (curl_multi_add_handle(c->multi, x->easy) != CURLM_OK) {
        rc = TC_ERR;
        goto fail;
    }
    x->next = c->active;
    c->active = x;
    c->nactive++;
    return TC_OK;
fail:
    xfer_free(x);
    return rc;
}

static void
xfer_finish(struct http_client *c, struct xfer *x, CURLcode cc)
{
    struct http_response *r = x->resp;
    struct xfer **pp;
    double secs = 0;
    long status = 0;

    for (pp = &c->active; *pp && *pp != x; pp = &(*pp)->next)
        ;
    if (*pp)
        *pp = x->next;
    c->nactive--;
    curl_multi_remove_handle(c->multi, x->easy);
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME, &secs);
    r->status = status;
    r->seconds = secs;
    if (cc == CURLE_OK) {
        r->code = TC_OK;
    } else if (x->too_big) {
        r->code = TC_TOOBIG;
        snprintf(r->errmsg, sizeof(r->errmsg), "response body over %zu bytes", x->max_body);
    } else if (x->sink_abort) {
        r->code = TC_CANCELED;
        snprintf(r->errmsg, sizeof(r->errmsg), "transfer stopped by the receiver");
    } else if (x->stopped || (x->stop && *x->stop)) {
        r->code = TC_CANCELED;
        snprintf(r->errmsg, sizeof(r->errmsg), "transfer stopped by the caller");
    } else {
        r->code = cc == CURLE_OPERATION_TIMEDOUT ? TC_TIMEOUT : TC_NET;
        snprintf(r->errmsg, sizeof(r->errmsg), "%s",
                 x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc));
    }
    if (r->code != TC_OK && r->code != TC_TOOBIG)
        r->status = status; /* may be 0 */
    if (x->done)
        x->done(r, x->ud);
    xfer_free(x);
}

/* Ends every transfer whose stop flag is set; returns 1 when some running
 * transfer has a flag, so the caller's wait stays short. */
static int
http_client_check_stops(struct http_client *c)
{
    struct xfer *x = c->active, *next;
    int watched = 0;

    for (; x; x = next) {
        next = x->next; /* xfer_finish unlinks and frees x */
        if (x->stop && *x->stop) {
            x->stopped = 1;
            xfer_finish(c, x, CURLE_ABORTED_BY_CALLBACK);
        } else if (x->stop) {
            watched = 1;
        }
    }
    return watched;
}

int
http_client_poll(struct http_client *c, int timeout_ms)
{
    int running = 0, left = 0;
    CURLMsg *m;

    if (http_client_check_stops(c) && timeout_ms > HTTP_STOP_POLL_MS)
        timeout_ms = HTTP_STOP_POLL_MS;
    curl_multi_perform(c->multi, &running);
    if (running && timeout_ms > 0) {
        curl_multi_poll(c->multi, NULL, 0, timeout_ms, NULL);
        curl_multi_perform(c->multi, &running);
    }
    while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
        struct xfer *x = NULL;
        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (x)
            xfer_finish(c, x, m->data.result);
    }
    return c->nactive;
}

int
http_client_pending(const struct http_client *c)
{
    return c->nactive;
}

static void
sync_done(struct http_response *resp, void *ud)
{
    *(int *)ud = 1;
}

int
http_client_do(struct http_client *c, const struct http_request *req, struct http_response *resp,
               struct tc_err *err)
{
    int finished = 0, rc;

    rc = http_client_submit(c, req, resp, sync_done, &finished);
    if (rc != TC_OK)
        return tc_err_set(err, rc, "%s %s: cannot start request", req->method, req->url);
    while (!finished)
        http_client_poll(c, 1000);
    if (resp->code != TC_OK)
        return tc_err_set(err, resp->code, "%s %s: %s", req->method ? req->method : "GET", req->url,
                          resp->errmsg);
    return TC_OK;
}

int
http_retryable(int code, long status)
{
    if (code == TC_NET || code == TC_TIMEOUT)
        return 1;
    if (code != TC_OK)
        return 0;
    return status == 429 || status >= 500;
}

long
http_backoff_ms(int attempt, long base_ms, long max_ms)
{
    static __thread unsigned int seed;
    long cap = base_ms;
    int i;

    if (seed == 0)
        seed = (unsigned int)time(NULL) ^ (unsigned int)(uintptr_t)&seed;
    for (i = 0; i < attempt && cap < max_ms; i++)
        cap *= 2;
    if (cap > max_ms)
        cap = max_ms;
    if (cap <= 0)
        return 0;
    return (long)(rand_r(&seed) % (cap + 1));
}

int
http_urlencode(struct buf *out, const char *s, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = TC_OK;

    for (; *s && rc == TC_OK; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '~' || (keep_slash && ch == '/')) {
            rc = buf_putc(out, (char)ch);
        } else {
            char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            rc = buf_append(out, e, 3);
        }
    }
    return rc;
}
