/* backend_s3.c - S3 over http_client with SigV4 (see backend_s3.h). */
#include "backend/backend_s3.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/http_client.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/pool.h"
#include "backend/sigv4.h"
#include "base/timefmt.h"
#include "base/uuid.h"

#define S3_EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define S3_MIN_PART ((size_t)5 << 20)

static const double s3_buckets[] = {.005, .02, .08, .32, 1.28, 5.12};
static const char *const s3_req_labels[] = {"operation", "status_code", NULL};
static const char *const s3_retry_labels[] = {"operation", "reason", NULL};

struct backend_s3 {
    struct backend base;
    char *endpoint, *bucket, *prefix, *region, *ak, *sk, *token, *ca_file;
    int insecure, pathstyle, skip_verify, shards, retries, shards_broken;
    long timeout_ms;
    size_t part_size;
    struct metric *m_dur;
    struct metric *m_retries; /* tempo_compactor_backend_retries_total */
    pthread_mutex_t mu;       /* guards the client pool */
    struct http_client **pool;
    size_t npool, pool_cap;
};

/* One prepared (signed) request; owns its strings. */
struct s3_prep {
    struct buf url, auth;
    char host[512], date[17], payload[65], copy_src[BACKEND_MAX_KEY * 3 + 64];
    const char *method;
    struct http_header h[8];
    size_t nh;
    struct http_request req;
};

static struct http_client *
s3_client_get(struct backend_s3 *s, struct tc_err *err)
{
    struct http_client *c = NULL;
    struct http_client_opts o;

    pthread_mutex_lock(&s->mu);
    if (s->npool > 0)
        c = s->pool[--s->npool];
    pthread_mutex_unlock(&s->mu);
    if (c)
        return c;
    memset(&o, 0, sizeof(o));
    o.timeout_ms = s->timeout_ms;
    o.ca_file = s->ca_file;
    o.insecure_skip_verify = s->skip_verify;
    return http_client_new(&o, err);
}

static void
s3_client_put(struct backend_s3 *s, struct http_client *c)
{
    pthread_mutex_lock(&s->mu);
    if (s->npool == s->pool_cap) {
        size_t ncap = s->pool_cap ? s->pool_cap * 2 : 8;
        struct http_client **np = tc_reallocarray(s->pool, ncap, sizeof(*np));

        if (np == NULL) {
            pthread_mutex_unlock(&s->mu);
            http_client_free(c);
            return;
        }
        s->pool = np;
        s->pool_cap = ncap;
    }
    s->pool[s->npool++] = c;
    pthread_mutex_unlock(&s->mu);
}

/* Full object key with the prefix, URI-encoded for the path. */
static int
s3_encode_key(struct backend_s3 *s, const char *key, struct buf *out)
{
    int rc = TC_OK;

    if (s->prefix[0]) {
        rc = http_urlencode(out, s->prefix, 1);
        if (rc == TC_OK && key)
            rc = buf_putc(out, '/');
    }
    if (rc == TC_OK && key)
        rc = http_urlencode(out, key, 1);
    return rc;
}

static void
s3_prep_cleanup(struct s3_prep *p)
{
    buf_cleanup(&p->url);
    buf_cleanup(&p->auth);
}

/* Builds and signs a request. key NULL = bucket-level; query is canonical. */
static int
s3_prepare(struct backend_s3 *s, struct s3_prep *p, const char *method, const char *key,
           const char *query, const void *body, size_t body_len, const char *copy_src,
           const char *range)
{
    struct sigv4_key k = {s->ak, s->sk, s->region, "s3"};
    struct http_header sh[5];
    struct buf path;
    size_t ns = 0;
    int rc;

    memset(p, 0, sizeof(*p));
    buf_init(&p->url, 16384);
    buf_init(&p->auth, 4096);
    buf_init(&path, 16384);
    p->method = method;
    if (s->pathstyle) {
        snprintf(p->host, sizeof(p->host), "%s", s->endpoint);
        rc = buf_printf(&path, "/%s", s->bucket);
        if (rc == TC_OK && key)
            rc = buf_putc(&path, '/');
    } else {
        snprintf(p->host, sizeof(p->host), "%s.%s", s->bucket, s->endpoint);
        rc = buf_putc(&path, '/');
    }
    if (rc == TC_OK && key)
        rc = s3_encode_key(s, key, &path);
    if (rc == TC_OK)
        rc = buf_printf(&p->url, "%s://%s%s%s%s", s->insecure ? "http" : "https", p->host,
                        path.data, query && *query ? "?" : "", query ? query : "");
    if (body && body_len)
        sigv4_sha256_hex(body, body_len, p->payload);
    else
        snprintf(p->payload, sizeof(p->payload), "%s", S3_EMPTY_SHA);
    sigv4_amz_date(time(NULL), p->date);
    /* Signed headers in sorted order. */
    sh[ns++] = (struct http_header){"host", p->host};
    sh[ns++] = (struct http_header){"x-amz-content-sha256", p->payload};
    if (copy_src) {
        struct buf cs;

        buf_init(&cs, sizeof(p->copy_src) - 1);
        rc = rc == TC_OK ? buf_printf(&cs, "/%s/", s->bucket) : rc;
        rc = rc == TC_OK ? s3_encode_key(s, copy_src, &cs) : rc;
        if (rc == TC_OK)
            snprintf(p->copy_src, sizeof(p->copy_src), "%s", cs.data);
        buf_cleanup(&cs);
        sh[ns++] = (struct http_header){"x-amz-copy-source", p->copy_src};
    }
    sh[ns++] = (struct http_header){"x-amz-date", p->date};
    if (s->token[0])
        sh[ns++] = (struct http_header){"x-amz-security-token", s->token};
    if (rc == TC_OK)
        rc = sigv4_authorization(&k, method, path.data, query ? query : "", sh, ns, p->payload,
                                 &p->auth);
    buf_cleanup(&path);
    if (rc != TC_OK) {
        s3_prep_cleanup(p);
        return rc;
    }
    memcpy(p->h, sh, ns * sizeof(sh[0]));
    p->h[0].name = "Host";
    p->nh = ns;
    p->h[p->nh++] = (struct http_header){"Authorization", p->auth.data};
    if (range)
        p->h[p->nh++] = (struct http_header){"Range", range};
    p->req.method = method;
    p->req.url = p->url.data;
    p->req.headers = p->h;
    p->req.nheaders = p->nh;
    p->req.body = body;
    p->req.body_len = body_len;
    return TC_OK;
}

/* S3 error code from an XML error body, for messages. */
static void
s3_error_code(const struct http_response *r, char *out, size_t n)
{
    const char *b = r->body.data, *s, *e;

    out[0] = '\0';
    if (b == NULL || (s = strstr(b, "<Code>")) == NULL || (e = strstr(s, "</Code>")) == NULL)
        return;
    s += 6;
    snprintf(out, n, "%.*s", (int)(e - s < 64 ? e - s : 64), s);
}

/* Maps a finished response to a tc code (err filled on failure). */
static int
s3_result(const char *method, const char *what, const struct http_response *r, struct tc_err *err)
{
    char code[80];

    if (r->code != TC_OK)
        return tc_err_set(err, r->code, "s3: %s %s: %s", method, what, r->errmsg);
    if (r->status >= 200 && r->status < 300)
        return TC_OK;
    s3_error_code(r, code, sizeof(code));
    if (r->status == 404)
        return tc_err_set(err, TC_NOTFOUND, "s3: %s %s: does not exist (%s)", method, what,
                          code[0] ? code : "404");
    if (r->status == 401 || r->status == 403)
        return tc_err_set(err, TC_DENIED, "s3: %s %s: access denied: %ld %s", method, what,
                          r->status, code);
    if (r->status == 412 || r->status == 409)
        return tc_err_set(err, TC_CONFLICT, "s3: %s %s: %ld %s", method, what, r->status, code);
    if (r->status == 429 || r->status >= 500)
        return tc_err_set(err, TC_AGAIN, "s3: %s %s: %ld %s", method, what, r->status, code);
    return tc_err_set(err, TC_HTTP, "s3: %s %s: unexpected status %ld %s", method, what, r->status,
                      code);
}

static void
s3_observe(struct backend_s3 *s, const char *method, const struct http_response *r)
{
    char st[16];

    if (r->code != TC_OK || s->m_dur == NULL)
        return;
    snprintf(st, sizeof(st), "%ld", r->status);
    metrics_observe(s->m_dur, (const char *[]){method, st}, r->seconds);
}

/* Counts one retry, labelled with what went wrong: timeout, network (a
 * reset, a truncated body, a refused connection), slowdown, or the status. */
static void
s3_count_retry(struct backend_s3 *s, const char *method, const struct http_response *r)
{
    char st[16], code[80];
    const char *reason = st;

    if (s->m_retries == NULL)
        return;
    if (r->code == TC_TIMEOUT) {
        reason = "timeout";
    } else if (r->code != TC_OK) {
        reason = "network";
    } else {
        s3_error_code(r, code, sizeof(code));
        if (!strcmp(code, "SlowDown"))
            reason = "slowdown";
        else
            snprintf(st, sizeof(st), "%ld", r->status);
    }
    metrics_inc(s->m_retries, (const char *[]){method, reason});
}

static enum backend_op
s3_op(const char *method, const char *query, int copy)
{
    if (copy)
        return BACKEND_OP_COPY;
    if (!strcmp(method, "DELETE"))
        return BACKEND_OP_DELETE;
    if (!strcmp(method, "PUT") || !strcmp(method, "POST"))
        return BACKEND_OP_PUT;
    return query && (strstr(query, "list-type=2") || strstr(query, "uploads=")) ? BACKEND_OP_LIST
                                                                                : BACKEND_OP_GET;
}

/* Synchronous request with retries. resp must be initialised by the caller. */
static int
s3_do(struct backend_s3 *s, const char *method, const char *key, const char *query,
      const void *body, size_t body_len, const char *copy_src, const char *range, size_t max_body,
      struct http_response *resp, struct tc_err *err)
{
    struct http_client *c = s3_client_get(s, err);
    int attempt, rc = TC_ERR;

    if (c == NULL)
        return err ? err->code : TC_NOMEM;
    for (attempt = 0; attempt <= s->retries; attempt++) {
        struct s3_prep p;

        if (attempt > 0)
            tc_sleep_ms(http_backoff_ms(attempt, 50, 2000));
        if (s3_prepare(s, &p, method, key, query, body, body_len, copy_src, range) != TC_OK) {
            rc = tc_err_set(err, TC_NOMEM, "s3: cannot build request for %s", key ? key : "/");
            break;
        }
        p.req.max_body = max_body;
        backend_count(&s->base, s3_op(method, query, copy_src != NULL), 1);
        http_client_do(c, &p.req, resp, err);
        s3_observe(s, method, resp);
        s3_prep_cleanup(&p);
        rc = s3_result(method, key ? key : "/", resp, err);
        if (rc == TC_OK || !http_retryable(resp->code, resp->status) || resp->code == TC_TOOBIG)
            break;
        s3_count_retry(s, method, resp);
        LOG_DEBUG("s3 request retry", KV_S("method", method), KV_S("key", key ? key : "/"),
                  KV_I("attempt", attempt + 1), KV_ERR(err));
    }
    s3_client_put(s, c);
    return rc;
}

static int64_t
s3_last_modified(const struct http_response *r)
{
    char v[128];
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    if (http_response_header(r, "Last-Modified", v, sizeof(v)) != TC_OK ||
        strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm) == NULL)
        return 0;
    return (int64_t)timegm(&tm);
}

static int
s3_get(struct backend *b, const char *key, uint64_t off, uint64_t len, size_t max, struct buf *out,
       int64_t *mtime, struct tc_err *err)
{
    struct backend_s3 *s = (struct backend_s3 *)b;
    struct http_response r;
    char range[64];
    int rc;

    if (len > 0)
        snprintf(range, sizeof(range), "bytes=%llu-%llu", (unsigned long long)off,
                 (unsigned long long)(off + len - 1));
    else if (off > 0)
        snprintf(range, sizeof(range), "bytes=%llu-", (unsigned long long)off);
    http_response_init(&r);
    rc = s3_do(s, "GET", key, NULL, NULL, 0, NULL, len || off ? range : NULL, max, &r, err);
    if (rc == TC_OK) {
        *mtime = s3_last_modified(&r);
        rc = buf_append(out, r.body.data ? r.body.data : "", r.body.len);
        if (rc != TC_OK)
            tc_err_set(err, rc, "s3: GET %s: %s", key, tc_strerror(rc));
    }
    http_response_cleanup(&r);
    return rc;
}

/* ---- concurrent GETs on one multi handle ---- */

struct s3_slot {
    struct backend_get *g;
    struct s3_prep prep;
    struct http_response resp;
    int busy, finished, attempt;
    double not_before;
};

static void
s3_slot_done(struct http_response *r, void *ud)
{
    ((struct s3_slot *)ud)->finished = 1;
}

static void
s3_get_many(struct backend *b, struct backend_get *reqs, size_t n, int concurrency, int jitter_ms,
            backend_get_done_fn done, void *ud)
{
    struct backend_s3 *s = (struct backend_s3 *)b;
    struct tc_err err = {0};
    struct http_client *c = s3_client_get(s, &err);
    struct s3_slot *slots;
    size_t next = 0, nslots = (size_t)concurrency, inflight = 0, i, completed = 0;

    if (nslots > n)
        nslots = n;
    slots = tc_calloc(nslots + 1, sizeof(*slots));
    if (c == NULL || slots == NULL) {
        for (i = 0; i < n; i++) {
            if (reqs[i].code == TC_OK) {
                reqs[i].code = TC_NOMEM;
                snprintf(reqs[i].errmsg, sizeof(reqs[i].errmsg), "s3: no client: %s", err.msg);
            }
            done(&reqs[i], ud);
        }
        tc_free(slots);
        if (c)
            s3_client_put(s, c);
        return;
    }
    for (i = 0; i < nslots; i++)
        http_response_init(&slots[i].resp);
    while (completed < n) {
        double now = tc_now();

        for (i = 0; i < nslots; i++) {
            struct s3_slot *sl = &slots[i];

            if (!sl->busy) {
                /* Requests that failed validation complete at once. */
                while (next < n && reqs[next].code != TC_OK) {
                    done(&reqs[next++], ud);
                    completed++;
                }
                if (next >= n)
                    continue;
                sl->g = &reqs[next++];
                sl->busy = 1;
                sl->attempt = 0;
                sl->not_before = jitter_ms > 0 ? now + (random() % jitter_ms) / 1000.0 : 0;
            }
            if (sl->busy && !sl->prep.req.url && sl->not_before <= now) {
                if (s3_prepare(s, &sl->prep, "GET", sl->g->key, NULL, NULL, 0, NULL, NULL) !=
                    TC_OK) {
                    sl->resp.code = TC_NOMEM;
                    sl->finished = 1;
                    continue;
                }
                sl->prep.req.max_body = sl->g->body.cap;
                sl->finished = 0;
                backend_count(b, BACKEND_OP_GET, 1);
                if (http_client_submit(c, &sl->prep.req, &sl->resp, s3_slot_done, sl) != TC_OK) {
                    sl->resp.code = TC_NOMEM;
                    sl->finished = 1;
                } else {
                    inflight++;
                }
            }
        }
        if (inflight > 0)
            http_client_poll(c, 20);
        else if (completed < n)
            tc_sleep_ms(1);
        for (i = 0; i < nslots; i++) {
            struct s3_slot *sl = &slots[i];
            struct tc_err e = {0};
            int rc;

            if (!sl->busy || !sl->finished)
                continue;
            if (sl->prep.req.url)
                inflight--;
            s3_observe(s, "GET", &sl->resp);
            s3_prep_cleanup(&sl->prep);
            memset(&sl->prep, 0, sizeof(sl->prep));
            sl->finished = 0;
            rc = s3_result("GET", sl->g->key, &sl->resp, &e);
            if (rc != TC_OK && rc != TC_NOMEM && sl->resp.code != TC_TOOBIG &&
                http_retryable(sl->resp.code, sl->resp.status) && sl->attempt < s->retries) {
                sl->attempt++;
                s3_count_retry(s, "GET", &sl->resp);
                sl->not_before = tc_now() + http_backoff_ms(sl->attempt, 50, 2000) / 1000.0;
                continue;
            }
            sl->g->code = rc;
            if (rc == TC_OK) {
                sl->g->last_modified = s3_last_modified(&sl->resp);
                buf_cleanup(&sl->g->body);
                sl->g->body = sl->resp.body;
                buf_init(&sl->resp.body, 0);
            } else {
                snprintf(sl->g->errmsg, sizeof(sl->g->errmsg), "%s", e.msg);
            }
            done(sl->g, ud);
            completed++;
            sl->busy = 0;
        }
    }
    for (i = 0; i < nslots; i++)
        http_response_cleanup(&slots[i].resp);
    tc_free(slots);
    s3_client_put(s, c);
}

/* ---- listing ---- */

/* Finds <tag>...</tag> in [p, end); returns the value span and moves *p past it. */
static int
s3_xml_next(const char **p, const char *end, const char *tag, const char **v, size_t *vn)
{
    char open[64], close[64];
    const char *s, *e;

    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    s = memmem(*p, (size_t)(end - *p), open, strlen(open));
    if (s == NULL)
        return 0;
    s += strlen(open);
    e = memmem(s, (size_t)(end - s), close, strlen(close));
    if (e == NULL)
        return 0;
    *v = s;
    *vn = (size_t)(e - s);
    *p = e + strlen(close);
    return 1;
}

static int
s3_xml_text(const char *v, size_t n, struct buf *out)
{
    size_t i;
    int rc = TC_OK;

    buf_reset(out);
    for (i = 0; i < n && rc == TC_OK; i++) {
        if (v[i] != '&') {
            rc = buf_putc(out, v[i]);
            continue;
        }
        if (n - i >= 5 && !memcmp(v + i, "&amp;", 5)) {
            rc = buf_putc(out, '&');
            i += 4;
        } else if (n - i >= 4 && !memcmp(v + i, "&lt;", 4)) {
            rc = buf_putc(out, '<');
            i += 3;
        } else if (n - i >= 4 && !memcmp(v + i, "&gt;", 4)) {
            rc = buf_putc(out, '>');
            i += 3;
        } else if (n - i >= 6 && !memcmp(v + i, "&quot;", 6)) {
            rc = buf_putc(out, '"');
            i += 5;
        } else if (n - i >= 6 && !memcmp(v + i, "&apos;", 6)) {
            rc = buf_putc(out, '\'');
            i += 5;
        } else if (n - i >= 4 && v[i + 1] == '#') {
            const char *semi = memchr(v + i, ';', n - i);
            long cp;

            if (semi == NULL)
                return TC_PARSE;
            cp = v[i + 2] == 'x' ? strtol(v + i + 3, NULL, 16) : strtol(v + i + 2, NULL, 10);
            if (cp <= 0 || cp > 0x7f)
                return TC_PARSE; /* NUL or non-ASCII escapes are not key material */
            rc = buf_putc(out, (char)cp);
            i = (size_t)(semi - v);
        } else {
            return TC_PARSE;
        }
    }
    return rc;
}

/* One ListObjectsV2 page: calls fn for each Contents key and CommonPrefixes
 * prefix with the first strip bytes removed (entries shorter than strip are
 * skipped), fills token/more from IsTruncated and NextContinuationToken.
 * Stops at fn's first non-zero return. The body is untrusted: every span is
 * bounded by len. */
int
backend_s3_list_page(const char *body, size_t len, size_t strip, backend_s3_list_fn fn, void *ud,
                     struct buf *token, int *more, struct tc_err *err)
{
    const char *p = body, *end = body + len, *v;
    struct buf text;
    size_t vn;
    int rc = TC_OK;

    buf_init(&text, 4096);
    {
        const char *tp = p;

        *more = s3_xml_next(&tp, end, "IsTruncated", &v, &vn) && vn == 4 && !memcmp(v, "true", 4);
        tp = p;
        buf_reset(token);
        if (*more && s3_xml_next(&tp, end, "NextContinuationToken", &v, &vn))
            rc = s3_xml_text(v, vn, token);
        if (*more && token->len == 0)
            rc = tc_err_set(err, TC_PARSE, "s3: list: truncated page without a token");
    }
    while (rc == TC_OK) {
        const char *cp = p, *cv, *ce;
        size_t cn;
        int64_t mt = 0;
        int32_t mns;
        uint64_t size = 0;
        int is_prefix = 0;
        const char *c1 = memmem(p, (size_t)(end - p), "<Contents>", 10);
        const char *c2 = memmem(p, (size_t)(end - p), "<CommonPrefixes>", 16);

        if (c1 == NULL && c2 == NULL)
            break;
        if (c1 == NULL || (c2 && c2 < c1)) {
            cp = c2;
            is_prefix = 1;
            if (!s3_xml_next(&cp, end, "CommonPrefixes", &cv, &cn))
                break;
        } else {
            cp = c1;
            if (!s3_xml_next(&cp, end, "Contents", &cv, &cn))
                break;
        }
        p = cp;
        ce = cv + cn;
        {
            const char *kp = cv;

            if (!s3_xml_next(&kp, ce, is_prefix ? "Prefix" : "Key", &v, &vn) ||
                s3_xml_text(v, vn, &text) != TC_OK) {
                rc = tc_err_set(err, TC_PARSE, "s3: list: bad entry");
                break;
            }
            kp = cv;
            if (!is_prefix && s3_xml_next(&kp, ce, "LastModified", &v, &vn))
                timefmt_parse(v, vn, &mt, &mns);
            kp = cv;
            if (!is_prefix && s3_xml_next(&kp, ce, "Size", &v, &vn))
                for (size_t i = 0; i < vn && v[i] >= '0' && v[i] <= '9' && size < UINT64_MAX / 10;
                     i++)
                    size = size * 10 + (uint64_t)(v[i] - '0'); /* the body is not NUL-terminated */
        }
        if (text.len <= strip)
            continue; /* empty, or the root itself: not an entry below it (fuzz_s3_list) */
        rc = fn(text.data + strip, mt, size, is_prefix, ud);
    }
    buf_cleanup(&text);
    return rc;
}

/* ListObjectsV2 over prefix (relative to the root). Stops early when fn returns
 * TC_DECLINED; other non-zero returns abort. */
static int
s3_list(struct backend_s3 *s, const char *rel_prefix, const char *start_after, int delimiter,
        backend_s3_list_fn fn, void *ud, struct tc_err *err)
{
    struct buf q, full_prefix, token;
    size_t strip;
    int rc = TC_OK, more = 1;

    buf_init(&q, 65536);
    buf_init(&full_prefix, 4096);
    buf_init(&token, 4096);
    if (s->prefix[0])
        rc = buf_printf(&full_prefix, "%s/", s->prefix);
    if (rc == TC_OK && rel_prefix)
        rc = buf_puts(&full_prefix, rel_prefix);
    strip = s->prefix[0] ? strlen(s->prefix) + 1 : 0;
    while (rc == TC_OK && more) {
        struct http_response r;
        buf_reset(&q);
        if (token.len) {
            rc = buf_puts(&q, "continuation-token=");
            rc = rc == TC_OK ? http_urlencode(&q, token.data, 0) : rc;
            rc = rc == TC_OK ? buf_putc(&q, '&') : rc;
        }
        if (rc == TC_OK && delimiter)
            rc = buf_puts(&q, "delimiter=%2F&");
        if (rc == TC_OK)
            rc = buf_puts(&q, "list-type=2&max-keys=1000&prefix=");
        if (rc == TC_OK && full_prefix.len)
            rc = http_urlencode(&q, full_prefix.data, 0);
        if (rc == TC_OK && start_after && !token.len) {
            rc = buf_puts(&q, "&start-after=");
            rc = rc == TC_OK ? http_urlencode(&q, start_after, 0) : rc;
        }
        if (rc != TC_OK)
            break;
        http_response_init(&r);
        rc = s3_do(s, "GET", NULL, q.data, NULL, 0, NULL, NULL, 64 << 20, &r, err);
        if (rc != TC_OK) {
            http_response_cleanup(&r);
            break;
        }
        rc = backend_s3_list_page(r.body.data ? r.body.data : "", r.body.len, strip, fn, ud, &token,
                                  &more, err);
        http_response_cleanup(&r);
        if (rc == TC_DECLINED) {
            rc = TC_OK;
            break;
        }
    }
    buf_cleanup(&q);
    buf_cleanup(&full_prefix);
    buf_cleanup(&token);
    return rc;
}

static int
s3_tenant_cb(const char *key, int64_t mtime, uint64_t size, int is_prefix, void *ud)
{
    size_t n = strlen(key);

    /* Root objects (tempo_cluster_seed.json) are never tenants. */
    if (!is_prefix || n < 2)
        return TC_OK;
    return backend_strlist_add(ud, key, n - 1);
}

static int
s3_tenants(struct backend *b, struct backend_strlist *out, struct tc_err *err)
{
    return s3_list((struct backend_s3 *)b, NULL, NULL, 1, s3_tenant_cb, out, err);
}

struct s3_shard {
    struct backend_s3 *s;
    const char *tenant;
    uint8_t min[16], max[16];
    int last;
    struct backend_blocks bb;
    int rc, below_min;
    struct tc_err err;
};

static int
s3_shard_cb(const char *key, int64_t mtime, uint64_t size, int is_prefix, void *ud)
{
    struct s3_shard *sh = ud;
    size_t tl = strlen(sh->tenant);
    uint8_t id[16];
    int kind;

    if (strncmp(key, sh->tenant, tl) != 0 || key[tl] != '/')
        return TC_OK;
    sh->bb.objects++;
    kind = backend_parse_block_key(key + tl + 1, strlen(key + tl + 1), id);
    if (kind < 0)
        return TC_OK;
    if (memcmp(id, sh->min, 16) < 0) {
        sh->below_min = 1;
        return tc_err_set(&sh->err, TC_CORRUPT, "block UUID below shard minimum");
    }
    if (!sh->last && memcmp(id, sh->max, 16) >= 0)
        return TC_DECLINED;
    return backend_blocks_add(&sh->bb, id, kind);
}

static void
s3_shard_run(void *arg, size_t i)
{
    struct s3_shard *sh = (struct s3_shard *)arg + i;
    char start[BACKEND_MAX_KEY + 64], pfx[300], id[UUID_STR_LEN + 1];

    uuid_format(sh->min, id);
    snprintf(pfx, sizeof(pfx), "%s/", sh->tenant);
    if (sh->s->prefix[0])
        snprintf(start, sizeof(start), "%s/%s/%s", sh->s->prefix, sh->tenant, id);
    else
        snprintf(start, sizeof(start), "%s/%s", sh->tenant, id);
    sh->rc = s3_list(sh->s, pfx, start, 0, s3_shard_cb, sh, &sh->err);
}

static int
s3_blocks_n(struct backend_s3 *s, const char *tenant, int n, struct backend_blocks *out,
            int *below_min, struct tc_err *err)
{
    uint8_t(*bounds)[16] = tc_calloc((size_t)n + 1, 16);
    struct s3_shard *sh = tc_calloc((size_t)n, sizeof(*sh));
    int i, rc = TC_OK;
    size_t j;

    *below_min = 0;
    if (bounds == NULL || sh == NULL) {
        tc_free(bounds);
        tc_free(sh);
        return tc_err_set(err, TC_NOMEM, "s3: list %s: out of memory", tenant);
    }
    backend_shard_bounds(n, bounds);
    for (i = 0; i < n; i++) {
        sh[i].s = s;
        sh[i].tenant = tenant;
        memcpy(sh[i].min, bounds[i], 16);
        memcpy(sh[i].max, bounds[i + 1], 16);
        sh[i].last = i == n - 1;
    }
    pool_run((size_t)n, (size_t)n, s3_shard_run, NULL, sh);
    for (i = 0; i < n; i++) {
        if (sh[i].below_min)
            *below_min = 1;
        if (sh[i].rc != TC_OK && rc == TC_OK) {
            rc = sh[i].rc;
            *err = sh[i].err;
        }
        out->objects += sh[i].bb.objects;
        for (j = 0; rc == TC_OK && j < sh[i].bb.nlive; j++)
            rc = backend_blocks_add(out, sh[i].bb.live[j], 0);
        for (j = 0; rc == TC_OK && j < sh[i].bb.ncompacted; j++)
            rc = backend_blocks_add(out, sh[i].bb.compacted[j], 1);
        backend_blocks_cleanup(&sh[i].bb);
    }
    tc_free(bounds);
    tc_free(sh);
    return rc;
}

static int
s3_blocks(struct backend *b, const char *tenant, struct backend_blocks *out, struct tc_err *err)
{
    struct backend_s3 *s = (struct backend_s3 *)b;
    int n = __atomic_load_n(&s->shards_broken, __ATOMIC_RELAXED) ? 1 : s->shards, below;
    int rc = s3_blocks_n(s, tenant, n, out, &below, err);

    if (rc != TC_OK && below && n > 1) {
        /* The store ignores start-after (Tempo issue #4241): one shard only. */
        LOG_WARN("s3 store ignores start-after; listing with one shard", KV_S("tenant", tenant),
                 KV_I("configured_shards", n));
        __atomic_store_n(&s->shards_broken, 1, __ATOMIC_RELAXED);
        backend_blocks_cleanup(out);
        rc = s3_blocks_n(s, tenant, 1, out, &below, err);
    }
    return rc;
}

struct s3_find_ctx {
    backend_find_fn fn;
    void *ud;
};

static int
s3_find_cb(const char *key, int64_t mtime, uint64_t size, int is_prefix, void *ud)
{
    struct s3_find_ctx *f = ud;
    struct backend_object o = {key, mtime, size};

    return f->fn(&o, f->ud);
}

static int
s3_find(struct backend *b, const char *prefix, backend_find_fn fn, void *ud, struct tc_err *err)
{
    struct s3_find_ctx f = {fn, ud};

    return s3_list((struct backend_s3 *)b, prefix, NULL, 0, s3_find_cb, &f, err);
}

/* ---- writes ---- */

static int
s3_put(struct backend *b, const char *key, const void *p, size_t n, struct tc_err *err)
{
    struct http_response r;
    int rc;

    http_response_init(&r);
    rc = s3_do((struct backend_s3 *)b, "PUT", key, NULL, n ? p : "", n, NULL, NULL, 1 << 20, &r,
               err);
    http_response_cleanup(&r);
    return rc;
}

static int
s3_copy(struct backend *b, const char *src, const char *dst, struct tc_err *err)
{
    struct http_response r;
    int rc;

    http_response_init(&r);
    rc = s3_do((struct backend_s3 *)b, "PUT", dst, NULL, NULL, 0, src, NULL, 1 << 20, &r, err);
    /* CopyObject can fail with 200 and an <Error> body. */
    if (rc == TC_OK && r.body.data && strstr(r.body.data, "<Error>"))
        rc = tc_err_set(err, TC_AGAIN, "s3: copy %s: error in 200 response", src);
    http_response_cleanup(&r);
    return rc;
}

static int
s3_del(struct backend *b, const char *key, struct tc_err *err)
{
    struct http_response r;
    int rc;

    http_response_init(&r);
    rc = s3_do((struct backend_s3 *)b, "DELETE", key, NULL, NULL, 0, NULL, NULL, 1 << 20, &r, err);
    http_response_cleanup(&r);
    return rc;
}

struct s3_upload {
    char *key;
    char *upload_id;
    struct buf pending;
    struct buf parts; /* <Part> XML */
    int nparts;
};

static int
s3_append_begin(struct backend *b, const char *key, void **h, struct tc_err *err)
{
    struct s3_upload *u = tc_calloc(1, sizeof(*u));

    *h = NULL;
    if (u == NULL || (u->key = tc_strdup(key)) == NULL) {
        tc_free(u);
        return tc_err_set(err, TC_NOMEM, "s3: out of memory");
    }
    buf_init(&u->pending, (size_t)1 << 31);
    buf_init(&u->parts, 16 << 20);
    *h = u;
    return TC_OK;
}

static int
s3_upload_part(struct backend_s3 *s, struct s3_upload *u, struct tc_err *err)
{
    struct http_response r;
    struct buf q;
    char etag[256];
    int rc = TC_OK;

    http_response_init(&r);
    if (u->upload_id == NULL) {
        const char *v, *p;
        size_t vn;

        rc = s3_do(s, "POST", u->key, "uploads=", NULL, 0, NULL, NULL, 1 << 20, &r, err);
        p = r.body.data ? r.body.data : "";
        if (rc == TC_OK && !s3_xml_next(&p, p + r.body.len, "UploadId", &v, &vn))
            rc = tc_err_set(err, TC_PARSE, "s3: %s: no UploadId", u->key);
        if (rc == TC_OK && (u->upload_id = tc_strndup(v, vn)) == NULL)
            rc = tc_err_set(err, TC_NOMEM, "s3: out of memory");
        http_response_cleanup(&r);
        http_response_init(&r);
        if (rc != TC_OK)
            return rc;
    }
    buf_init(&q, 4096);
    buf_printf(&q, "partNumber=%d&uploadId=", u->nparts + 1);
    http_urlencode(&q, u->upload_id, 0);
    rc = s3_do(s, "PUT", u->key, q.data, u->pending.data ? u->pending.data : "", u->pending.len,
               NULL, NULL, 1 << 20, &r, err);
    buf_cleanup(&q);
    if (rc == TC_OK && http_response_header(&r, "ETag", etag, sizeof(etag)) != TC_OK)
        rc = tc_err_set(err, TC_PARSE, "s3: %s: part without ETag", u->key);
    if (rc == TC_OK) {
        u->nparts++;
        rc = buf_printf(&u->parts, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>",
                        u->nparts, etag);
        buf_reset(&u->pending);
    }
    http_response_cleanup(&r);
    return rc;
}

static int
s3_append(struct backend *b, void *h, const void *p, size_t n, struct tc_err *err)
{
    struct backend_s3 *s = (struct backend_s3 *)b;
    struct s3_upload *u = h;

    if (buf_append(&u->pending, p, n) != TC_OK)
        return tc_err_set(err, TC_TOOBIG, "s3: %s: part buffer over 2 GiB", u->key);
    /* S3 parts except the last must be >= 5 MiB: buffer until then. */
    return u->pending.len >= s->part_size ? s3_upload_part(s, u, err) : TC_OK;
}

static void
s3_upload_free(struct s3_upload *u)
{
    tc_free(u->key);
    tc_free(u->upload_id);
    buf_cleanup(&u->pending);
    buf_cleanup(&u->parts);
    tc_free(u);
}

static void
s3_append_abort(struct backend *b, void *h)
{
    struct s3_upload *u = h;
    struct http_response r;
    struct tc_err err = {0};
    struct buf q;

    if (u->upload_id) {
        buf_init(&q, 4096);
        buf_puts(&q, "uploadId=");
        http_urlencode(&q, u->upload_id, 0);
        http_response_init(&r);
        s3_do((struct backend_s3 *)b, "DELETE", u->key, q.data, NULL, 0, NULL, NULL, 1 << 20, &r,
              &err);
        http_response_cleanup(&r);
        buf_cleanup(&q);
    }
    s3_upload_free(u);
}

static int
s3_append_end(struct backend *b, void *h, struct tc_err *err)
{
    struct backend_s3 *s = (struct backend_s3 *)b;
    struct s3_upload *u = h;
    struct http_response r;
    struct buf q, body;
    int rc;

    if (u->upload_id == NULL) {
        /* Small object: one PUT. */
        rc = s3_put(b, u->key, u->pending.data ? u->pending.data : "", u->pending.len, err);
        s3_upload_free(u);
        return rc;
    }
    if (u->pending.len > 0 && (rc = s3_upload_part(s, u, err)) != TC_OK) {
        s3_append_abort(b, h);
        return rc;
    }
    buf_init(&q, 4096);
    buf_init(&body, 32 << 20);
    buf_puts(&q, "uploadId=");
    http_urlencode(&q, u->upload_id, 0);
    buf_printf(&body, "<CompleteMultipartUpload>%s</CompleteMultipartUpload>",
               u->parts.data ? u->parts.data : "");
    http_response_init(&r);
    rc = s3_do(s, "POST", u->key, q.data, body.data, body.len, NULL, NULL, 1 << 20, &r, err);
    if (rc == TC_OK && r.body.data && strstr(r.body.data, "<Error>"))
        rc = tc_err_set(err, TC_AGAIN, "s3: complete %s: error in 200 response", u->key);
    http_response_cleanup(&r);
    buf_cleanup(&q);
    buf_cleanup(&body);
    if (rc != TC_OK) {
        s3_append_abort(b, h);
        return rc;
    }
    s3_upload_free(u);
    return TC_OK;
}

/* Aborts one incomplete upload; key is the full key (with the root prefix). */
static int
s3_abort_upload(struct backend_s3 *s, const char *key, const char *id, struct tc_err *err)
{
    struct http_response r;
    struct buf q;
    size_t strip = s->prefix[0] ? strlen(s->prefix) + 1 : 0;
    int rc;

    if (strlen(key) <= strip)
        return TC_OK;
    buf_init(&q, 4096);
    rc = buf_puts(&q, "uploadId=");
    rc = rc == TC_OK ? http_urlencode(&q, id, 0) : rc;
    http_response_init(&r);
    if (rc == TC_OK)
        rc = s3_do(s, "DELETE", key + strip, q.data, NULL, 0, NULL, NULL, 1 << 20, &r, err);
    http_response_cleanup(&r);
    buf_cleanup(&q);
    return rc == TC_NOTFOUND ? TC_OK : rc; /* NoSuchUpload: someone finished it */
}

/* ListMultipartUploads below prefix; aborts the uploads initiated before
 * `before`. Only uploads under our root prefix are seen, and a multipart
 * upload is only ever started by a block writer, so every stale one is the
 * remains of an interrupted write. */
static int
s3_sweep(struct backend *b, const char *prefix, int64_t before, unsigned long *removed,
         struct tc_err *err)
{
    struct backend_s3 *s = (struct backend_s3 *)b;
    struct buf q, full, kmark, umark, key, id;
    int rc = TC_OK, more = 1;

    buf_init(&q, 65536);
    buf_init(&full, 4096);
    buf_init(&kmark, 4096);
    buf_init(&umark, 4096);
    buf_init(&key, 4096);
    buf_init(&id, 4096);
    if (s->prefix[0])
        rc = buf_printf(&full, "%s/", s->prefix);
    rc = rc == TC_OK ? buf_puts(&full, prefix) : rc;
    while (rc == TC_OK && more) {
        struct http_response r;
        const char *p, *end, *v, *tp;
        size_t vn;

        /* canonical order: key-marker, prefix, upload-id-marker, uploads */
        buf_reset(&q);
        if (kmark.len) {
            rc = buf_puts(&q, "key-marker=");
            rc = rc == TC_OK ? http_urlencode(&q, kmark.data, 0) : rc;
            rc = rc == TC_OK ? buf_putc(&q, '&') : rc;
        }
        rc = rc == TC_OK ? buf_puts(&q, "prefix=") : rc;
        rc = rc == TC_OK && full.len ? http_urlencode(&q, full.data, 0) : rc;
        if (rc == TC_OK && umark.len) {
            rc = buf_puts(&q, "&upload-id-marker=");
            rc = rc == TC_OK ? http_urlencode(&q, umark.data, 0) : rc;
        }
        rc = rc == TC_OK ? buf_puts(&q, "&uploads=") : rc;
        if (rc != TC_OK)
            break;
        http_response_init(&r);
        rc = s3_do(s, "GET", NULL, q.data, NULL, 0, NULL, NULL, 64 << 20, &r, err);
        if (rc != TC_OK) {
            http_response_cleanup(&r);
            break;
        }
        p = r.body.data ? r.body.data : "";
        end = p + r.body.len;
        tp = p;
        more = s3_xml_next(&tp, end, "IsTruncated", &v, &vn) && vn == 4 && !memcmp(v, "true", 4);
        buf_reset(&kmark);
        buf_reset(&umark);
        tp = p;
        if (more && s3_xml_next(&tp, end, "NextKeyMarker", &v, &vn))
            rc = s3_xml_text(v, vn, &kmark);
        tp = p;
        if (rc == TC_OK && more && s3_xml_next(&tp, end, "NextUploadIdMarker", &v, &vn))
            rc = s3_xml_text(v, vn, &umark);
        if (rc == TC_OK && more && kmark.len == 0)
            rc = tc_err_set(err, TC_PARSE, "s3: list uploads: truncated page without a marker");
        while (rc == TC_OK && s3_xml_next(&p, end, "Upload", &v, &vn)) {
            const char *up = v, *ue = v + vn, *w;
            size_t wn;
            int64_t started = 0;
            int32_t ns;

            if (!s3_xml_next(&up, ue, "Key", &w, &wn) || s3_xml_text(w, wn, &key) != TC_OK) {
                rc = tc_err_set(err, TC_PARSE, "s3: list uploads: entry without a Key");
                break;
            }
            up = v;
            if (!s3_xml_next(&up, ue, "UploadId", &w, &wn) || s3_xml_text(w, wn, &id) != TC_OK) {
                rc =
                    tc_err_set(err, TC_PARSE, "s3: list uploads: %s without an UploadId", key.data);
                break;
            }
            up = v;
            if (!s3_xml_next(&up, ue, "Initiated", &w, &wn) ||
                timefmt_parse(w, wn, &started, &ns) != TC_OK)
                continue; /* no start time: cannot tell it is stale */
            if (started >= before)
                continue;
            rc = s3_abort_upload(s, key.data, id.data, err);
            if (rc == TC_OK)
                (*removed)++;
        }
        http_response_cleanup(&r);
    }
    buf_cleanup(&q);
    buf_cleanup(&full);
    buf_cleanup(&kmark);
    buf_cleanup(&umark);
    buf_cleanup(&key);
    buf_cleanup(&id);
    return rc;
}

static void
s3_destroy(struct backend *b)
{
    struct backend_s3 *s = (struct backend_s3 *)b;
    size_t i;

    for (i = 0; i < s->npool; i++)
        http_client_free(s->pool[i]);
    tc_free(s->pool);
    tc_free(s->endpoint);
    tc_free(s->bucket);
    tc_free(s->prefix);
    tc_free(s->region);
    tc_free(s->ak);
    if (s->sk)
        memset(s->sk, 0, strlen(s->sk));
    tc_free(s->sk);
    tc_free(s->token);
    tc_free(s->ca_file);
    pthread_mutex_destroy(&s->mu);
    tc_free(s);
}

static const struct backend_ops backend_s3_ops = {
    .name = "s3",
    .tenants = s3_tenants,
    .blocks = s3_blocks,
    .get = s3_get,
    .get_many = s3_get_many,
    .put = s3_put,
    .append_begin = s3_append_begin,
    .append = s3_append,
    .append_end = s3_append_end,
    .append_abort = s3_append_abort,
    .sweep_incomplete = s3_sweep,
    .copy = s3_copy,
    .del = s3_del,
    .find = s3_find,
    .destroy = s3_destroy,
};

static char *
s3_dup(const char *v, const char *env)
{
    const char *e = env ? getenv(env) : NULL;

    return tc_strdup(v && *v ? v : e ? e : "");
}

static int
ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);

    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

static int
starts_with(const char *s, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);

    return n >= k && memcmp(s, prefix, k) == 0;
}

int
backend_s3_virtual_host(const char *endpoint, const char *bucket, int https)
{
    const char *colon;
    size_t n;

    if (https && strchr(bucket, '.'))
        return 0; /* the wildcard certificate would not match */
    if (endpoint[0] == '[')
        return 0; /* an IPv6 literal */
    colon = strchr(endpoint, ':');
    n = colon ? (size_t)(colon - endpoint) : strlen(endpoint);
    if ((n == 22 && memcmp(endpoint, "storage.googleapis.com", 22) == 0) ||
        ends_with(endpoint, n, "aliyuncs.com"))
        return 1;
    /* Amazon: s3.amazonaws.com, s3[.-]<region>.amazonaws.com(.cn), dualstack,
     * FIPS, S3 Express, PrivateLink - every name whose region minio-go finds */
    if (ends_with(endpoint, n, ".amazonaws.com") || ends_with(endpoint, n, ".amazonaws.com.cn"))
        return starts_with(endpoint, n, "s3.") || starts_with(endpoint, n, "s3-") ||
               starts_with(endpoint, n, "s3express-") ||
               ((starts_with(endpoint, n, "bucket.vpce-") ||
                 starts_with(endpoint, n, "accesspoint.vpce-")) &&
                ends_with(endpoint, n, ".vpce.amazonaws.com"));
    return 0;
}

struct backend *
backend_s3_new(const struct backend_s3_cfg *cfg, struct tc_err *err)
{
    struct backend_s3 *s;
    size_t n;

    if (cfg->endpoint == NULL || !*cfg->endpoint || cfg->bucket == NULL || !*cfg->bucket)
        return tc_err_set(err, TC_INVAL, "s3: endpoint and bucket are required"), NULL;
    if (strstr(cfg->endpoint, "://"))
        return tc_err_set(err, TC_INVAL, "s3: endpoint %s: give host:port without a scheme",
                          cfg->endpoint),
               NULL;
    if (cfg->list_blocks_concurrency < 1)
        return tc_err_set(err, TC_INVAL, "s3: list_blocks_concurrency %d must be at least 1",
                          cfg->list_blocks_concurrency),
               NULL;
    s = tc_calloc(1, sizeof(*s));
    if (s == NULL)
        return tc_err_set(err, TC_NOMEM, "s3: out of memory"), NULL;
    pthread_mutex_init(&s->mu, NULL);
    s->base.ops = &backend_s3_ops;
    s->endpoint = tc_strdup(cfg->endpoint);
    s->bucket = tc_strdup(cfg->bucket);
    s->prefix = s3_dup(cfg->prefix, NULL);
    s->region = s3_dup(cfg->region && *cfg->region ? cfg->region : "us-east-1", NULL);
    s->ak = s3_dup(cfg->access_key, "AWS_ACCESS_KEY_ID");
    s->sk = s3_dup(cfg->secret_key, "AWS_SECRET_ACCESS_KEY");
    s->token = s3_dup(cfg->session_token, "AWS_SESSION_TOKEN");
    s->ca_file = cfg->ca_file ? tc_strdup(cfg->ca_file) : NULL;
    if (!s->endpoint || !s->bucket || !s->prefix || !s->region || !s->ak || !s->sk || !s->token ||
        (cfg->ca_file && !s->ca_file)) {
        s3_destroy(&s->base);
        return tc_err_set(err, TC_NOMEM, "s3: out of memory"), NULL;
    }
    /* Tempo trims slashes around the prefix. */
    n = strlen(s->prefix);
    while (n > 0 && s->prefix[n - 1] == '/')
        s->prefix[--n] = '\0';
    if (s->prefix[0] == '/')
        memmove(s->prefix, s->prefix + 1, n);
    if (s->prefix[0] && backend_valid_key(s->prefix, err) != TC_OK) {
        s3_destroy(&s->base);
        return NULL;
    }
    s->insecure = cfg->insecure;
    s->pathstyle = cfg->forcepathstyle || cfg->bucket_lookup == 2 ||
                   (cfg->bucket_lookup == 0 &&
                    !backend_s3_virtual_host(s->endpoint, s->bucket, !cfg->insecure));
    s->skip_verify = cfg->insecure_skip_verify;
    s->shards = cfg->list_blocks_concurrency;
    s->retries = cfg->max_retries > 0 ? cfg->max_retries : cfg->max_retries < 0 ? 0 : 3;
    s->timeout_ms = cfg->timeout_ms;
    s->part_size = cfg->part_size >= S3_MIN_PART ? cfg->part_size : S3_MIN_PART;
    s->m_dur = metrics_histogram(cfg->metrics ? cfg->metrics : metrics_default(),
                                 "tempodb_backend_request_duration_seconds",
                                 "Time spent doing backend storage requests.", s3_req_labels,
                                 s3_buckets, TC_ARRAY_LEN(s3_buckets));
    s->m_retries = metrics_counter(
        cfg->metrics ? cfg->metrics : metrics_default(), "tempo_compactor_backend_retries_total",
        "S3 requests retried, by operation and by what failed.", s3_retry_labels);
    return &s->base;
}
