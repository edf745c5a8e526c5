/* watch.c - NDJSON framing and list+watch informers. */
#include "watch.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "base/http_client.h"
#include "base/log.h"
#include "base/mem.h"

#define WATCH_MAX_LINE ((size_t)16 << 20)
#define WATCH_LIST_LIMIT 500

/* ---- ndjson ---- */

void
ndjson_init(struct ndjson *nj, size_t max_line)
{
    nj->max_line = max_line ? max_line : WATCH_MAX_LINE;
    buf_init(&nj->partial, nj->max_line);
}

void
ndjson_cleanup(struct ndjson *nj)
{
    buf_cleanup(&nj->partial);
}

void
ndjson_reset(struct ndjson *nj)
{
    buf_reset(&nj->partial);
}

int
ndjson_feed(struct ndjson *nj, const char *p, size_t n, ndjson_line_fn fn, void *ud)
{
    const char *end = p + n;
    int rc;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t take = nl ? (size_t)(nl - p) : (size_t)(end - p);

        if (nj->partial.len + take > nj->max_line) {
            buf_reset(&nj->partial);
            return TC_TOOBIG;
        }
        if (nl == NULL) { /* unterminated: keep for the next chunk */
            if (buf_append(&nj->partial, p, take) != TC_OK)
                return TC_NOMEM;
            return TC_OK;
        }
        if (nj->partial.len == 0) {
            /* Fast path: the whole line is inside this chunk, no copy. */
            size_t len = take;
            if (len > 0 && p[len - 1] == '\r')
                len--;
            if (len > 0 && (rc = fn(p, len, ud)) != 0)
                return rc;
        } else {
            size_t len;
            if (buf_append(&nj->partial, p, take) != TC_OK)
                return TC_NOMEM;
            len = nj->partial.len;
            if (len > 0 && nj->partial.data[len - 1] == '\r')
                len--;
            rc = len > 0 ? fn(nj->partial.data, len, ud) : 0;
            buf_reset(&nj->partial);
            if (rc != 0)
                return rc;
        }
        p = nl + 1;
    }
    return TC_OK;
}

/* ---- timing ---- */

static uint64_t
watch_rand(void)
{
    static __thread uint64_t s;
    struct timeval tv;

    if (s == 0) {
        gettimeofday(&tv, NULL);
        s = ((uint64_t)tv.tv_sec * 1000003u) ^ (uint64_t)tv.tv_usec ^ (uint64_t)(uintptr_t)&tv;
        s |= 1;
    }
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
}

long
watch_backoff_ms(int n, long base, long max)
{
    long d = base;
    int i;

    for (i = 0; i < n && d < max; i++)
        d *= 2;
    if (d > max)
        d = max;
    d += (long)(watch_rand() % (uint64_t)(d + 1)); /* jitter factor 1.0 */
    return d > max ? max : d;
}

long
watch_timeout_s(long min, long max)
{
    if (max <= min)
        return min;
    return min + (long)(watch_rand() % (uint64_t)(max - min + 1));
}

/* ---- informer ---- */

int
informer_init(struct informer *inf, struct kube_config *cfg, const struct informer_opts *o,
              struct tc_err *err)
{
    memset(inf, 0, sizeof(*inf));
    inf->o = *o;
    inf->cfg = cfg;
    inf->path = tc_strdup(o->path);
    inf->name = tc_strdup(o->name ? o->name : o->path);
    inf->selector = o->label_selector ? tc_strdup(o->label_selector) : NULL;
    if (inf->o.min_timeout_s <= 0)
        inf->o.min_timeout_s = 300;
    if (inf->o.max_timeout_s <= 0)
        inf->o.max_timeout_s = 600;
    if (inf->o.backoff_base_ms <= 0)
        inf->o.backoff_base_ms = 800;
    if (inf->o.backoff_max_ms <= 0)
        inf->o.backoff_max_ms = 30000;
    inf->o.path = inf->path;
    inf->o.name = inf->name;
    inf->o.label_selector = inf->selector;
    pthread_mutex_init(&inf->mu, NULL);
    pthread_cond_init(&inf->cv, NULL);
    strmap_init(&inf->known);
    ndjson_init(&inf->nj, WATCH_MAX_LINE);
    inf->k = kube_new(cfg, err);
    return inf->k ? TC_OK : TC_NOMEM;
}

void
informer_cleanup(struct informer *inf)
{
    informer_stop(inf);
    kube_free(inf->k);
    strmap_cleanup(&inf->known);
    ndjson_cleanup(&inf->nj);
    pthread_mutex_destroy(&inf->mu);
    pthread_cond_destroy(&inf->cv);
    tc_free(inf->path);
    tc_free(inf->name);
    tc_free(inf->selector);
    memset(inf, 0, sizeof(*inf));
}

/* Sleeps ms unless stopped first. Returns 1 when stopping. */
static int
informer_sleep(struct informer *inf, long ms)
{
    struct timespec ts;
    int stop;

    tc_deadline(&ts, ms);
    pthread_mutex_lock(&inf->mu);
    while (!inf->stop && pthread_cond_timedwait(&inf->cv, &inf->mu, &ts) != ETIMEDOUT)
        ;
    stop = inf->stop;
    pthread_mutex_unlock(&inf->mu);
    return stop;
}

static void
informer_key(const json_t *obj, char *out, size_t outsz)
{
    const json_t *md = json_object_get(obj, "metadata");
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    const char *name = json_string_value(json_object_get(md, "name"));

    snprintf(out, outsz, "%s/%s", ns ? ns : "", name ? name : "");
}

static void
informer_query(struct informer *inf, struct buf *b, const char *extra)
{
    buf_printf(b, "%s?%s", inf->path, extra);
    if (inf->selector) {
        buf_puts(b, "&labelSelector=");
        http_urlencode(b, inf->selector, 0);
    }
}

struct informer_seen {
    struct strmap *now;
    struct informer *inf;
};

static void
informer_synth_delete(const char *key, void *val, void *ud)
{
    struct informer_seen *s = ud;
    const char *slash = strchr(key, '/');
    json_t *stub;

    if (strmap_get(s->now, key) != NULL || slash == NULL)
        return;
    /* Gone while we were not watching: report a delete with a stub. */
    stub = json_pack("{s:{s:s%, s:s}}", "metadata", "namespace", key, (size_t)(slash - key), "name",
                     slash + 1);
    s->inf->o.fn(WATCH_DELETED, stub, s->inf->o.ud);
    json_decref(stub);
}

/* Lists everything; returns TC_OK with inf->rv set, TC_AGAIN on a 410. */
static int
informer_list(struct informer *inf, struct tc_err *err)
{
    struct strmap now;
    struct informer_seen seen;
    char cont[4096] = "";
    char rv[64] = "";
    int rc = TC_OK;

    strmap_init(&now);
    for (;;) {
        struct buf q;
        json_t *list = NULL, *items;
        long status = 0;
        size_t i;

        buf_init(&q, 16384);
        if (cont[0]) {
            struct buf e;
            char extra[8192];
            buf_init(&e, sizeof(extra));
            http_urlencode(&e, cont, 0);
            snprintf(extra, sizeof(extra), "limit=%d&continue=%s", WATCH_LIST_LIMIT,
                     e.data ? e.data : "");
            buf_cleanup(&e);
            informer_query(inf, &q, extra);
        } else {
            char extra[64];
            snprintf(extra, sizeof(extra), "limit=%d", WATCH_LIST_LIMIT);
            informer_query(inf, &q, extra);
        }
        rc = kube_json(inf->k, "GET", q.data, NULL, NULL, &status, &list, err);
        buf_cleanup(&q);
        if (rc == TC_OK && status == 410) {
            /* The continue token expired: start the list over. */
            json_decref(list);
            cont[0] = '\0';
            strmap_cleanup(&now);
            strmap_init(&now);
            inf->stats.relists_410++;
            continue;
        }
        if (rc == TC_OK && (status < 200 || status > 299))
            rc = tc_err_set(err, status == 404 ? TC_NOTFOUND : TC_HTTP, "list %s: HTTP %ld: %s",
                            inf->path, status, kube_status_message(list));
        if (rc == TC_OK && !json_is_object(list))
            rc = tc_err_set(err, TC_PARSE, "list %s: response is not JSON", inf->path);
        if (rc != TC_OK) {
            json_decref(list);
            break;
        }
        items = json_object_get(list, "items");
        for (i = 0; i < json_array_size(items); i++) {
            char key[512];
            json_t *it = json_array_get(items, i);
            informer_key(it, key, sizeof(key));
            strmap_put(&now, key, (void *)1, NULL);
            inf->o.fn(strmap_get(&inf->known, key) ? WATCH_MODIFIED : WATCH_ADDED, it, inf->o.ud);
        }
        snprintf(
            rv, sizeof(rv), "%s",
            json_string_value(json_object_get(json_object_get(list, "metadata"), "resourceVersion"))
                ? json_string_value(
                      json_object_get(json_object_get(list, "metadata"), "resourceVersion"))
                : "");
        snprintf(
            cont, sizeof(cont), "%s",
            json_string_value(json_object_get(json_object_get(list, "metadata"), "continue"))
                ? json_string_value(json_object_get(json_object_get(list, "metadata"), "continue"))
                : "");
        json_decref(list);
        if (cont[0] == '\0')
            break;
    }
    if (rc == TC_OK) {
        seen.now = &now;
        seen.inf = inf;
        strmap_each(&inf->known, informer_synth_delete, &seen);
        strmap_cleanup(&inf->known);
        inf->known = now;
        snprintf(inf->rv, sizeof(inf->rv), "%s", rv);
        inf->stats.lists++;
        pthread_mutex_lock(&inf->mu);
        inf->synced = 1;
        pthread_mutex_unlock(&inf->mu);
    } else {
        strmap_cleanup(&now);
    }
    return rc;
}

static int
informer_line(const char *line, size_t len, void *ud)
{
    struct informer *inf = ud;
    json_error_t je;
    json_t *ev = json_loadb(line, len, 0, &je), *obj;
    const char *type, *rv;
    char key[512];

    if (ev == NULL) {
        LOG_WARN("watch: undecodable event", KV_S("informer", inf->name), KV_S("err", je.text));
        inf->stream_error = 1;
        return 1;
    }
    type = json_string_value(json_object_get(ev, "type"));
    obj = json_object_get(ev, "object");
    if (type == NULL || !json_is_object(obj)) {
        json_decref(ev);
        inf->stream_error = 1;
        return 1;
    }
    if (strcmp(type, "ERROR") == 0) {
        json_int_t code = json_integer_value(json_object_get(obj, "code"));
        /* 410 Expired, and 504 "Too large resource version": both mean our
         * resourceVersion is unusable, so relist (with none). */
        if (code == 410 || code == 504)
            inf->gone = 1;
        else
            inf->stream_error = 1;
        LOG_INFO("watch: error event", KV_S("informer", inf->name), KV_I("code", code),
                 KV_S("message", kube_status_message(obj)));
        json_decref(ev);
        return 1;
    }
    rv = json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
    if (rv)
        snprintf(inf->rv, sizeof(inf->rv), "%s", rv);
    inf->stream_events++;
    if (strcmp(type, "BOOKMARK") != 0) {
        informer_key(obj, key, sizeof(key));
        if (strcmp(type, "DELETED") == 0) {
            strmap_del(&inf->known, key);
            inf->o.fn(WATCH_DELETED, obj, inf->o.ud);
        } else {
            int known = strmap_get(&inf->known, key) != NULL;
            strmap_put(&inf->known, key, (void *)1, NULL);
            inf->o.fn(known ? WATCH_MODIFIED : WATCH_ADDED, obj, inf->o.ud);
        }
        inf->stats.events++;
    }
    json_decref(ev);
    return 0;
}

int
informer_feed(struct informer *inf, const char *p, size_t n)
{
    int rc = ndjson_feed(&inf->nj, p, n, informer_line, inf);

    if (rc == TC_TOOBIG)
        inf->stream_error = 1;
    return rc;
}

static int
informer_sink(const char *p, size_t n, void *ud)
{
    return informer_feed(ud, p, n);
}

/* One watch. Returns TC_OK on a clean end, TC_AGAIN on 410, else an error. */
static int
informer_watch(struct informer *inf, struct tc_err *err)
{
    long timeout = watch_timeout_s(inf->o.min_timeout_s, inf->o.max_timeout_s), status = 0;
    struct buf q, eb;
    char extra[256];
    int rc;

    snprintf(extra, sizeof(extra),
             "watch=1&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%ld", inf->rv,
             timeout);
    buf_init(&q, 16384);
    buf_init(&eb, 1 << 20);
    informer_query(inf, &q, extra);
    ndjson_reset(&inf->nj);
    inf->gone = inf->stream_error = 0;
    inf->stream_events = 0;
    inf->stats.watches++;
    /* The client timeout sits above timeoutSeconds, so a dead connection
     * is noticed even when the server never closes the stream. */
    rc = kube_stream(inf->k, q.data, (timeout + 30) * 1000, informer_sink, inf, &inf->stop, &status,
                     &eb, err);
    if (rc == TC_OK && (status == 410 || status == 504))
        inf->gone = 1;
    else if (rc == TC_OK && (status < 200 || status > 299)) {
        json_t *st = json_loadb(eb.data ? eb.data : "", eb.len, 0, NULL);
        rc = tc_err_set(err, TC_HTTP, "watch %s: HTTP %ld: %s", inf->path, status,
                        kube_status_message(st));
        json_decref(st);
    }
    buf_cleanup(&q);
    buf_cleanup(&eb);
    if (inf->gone) {
        inf->stats.relists_410++;
        return TC_AGAIN;
    }
    if (rc == TC_OK && inf->stream_error)
        rc = tc_err_set(err, TC_PARSE, "watch %s: error event or bad frame", inf->path);
    return rc;
}

static void *
informer_main(void *arg)
{
    struct informer *inf = arg;
    struct tc_err err = {0};
    int need_list = 1, failures = 0, rc;

    while (!inf->stop) {
        if (need_list) {
            rc = informer_list(inf, &err);
            if (rc != TC_OK) {
                if (inf->stop)
                    break;
                inf->stats.errors++;
                LOG_WARN("list failed", KV_S("informer", inf->name), KV_ERR(&err));
                informer_sleep(inf, watch_backoff_ms(failures++, inf->o.backoff_base_ms,
                                                     inf->o.backoff_max_ms));
                continue;
            }
            need_list = 0;
        }
        rc = informer_watch(inf, &err);
        if (inf->stop)
            break;
        if (rc == TC_AGAIN) {
            LOG_INFO("watch expired (410), relisting", KV_S("informer", inf->name));
            need_list = 1;
            failures = 0;
            continue;
        }
        if (rc == TC_OK) {
            failures = 0; /* timeoutSeconds reached or server closed: re-watch now */
            continue;
        }
        inf->stats.errors++;
        if (inf->stream_events > 0)
            failures = 0;
        LOG_WARN("watch failed", KV_S("informer", inf->name), KV_ERR(&err));
        informer_sleep(inf,
                       watch_backoff_ms(failures++, inf->o.backoff_base_ms, inf->o.backoff_max_ms));
    }
    return NULL;
}

int
informer_start(struct informer *inf, struct tc_err *err)
{
    if (pthread_create(&inf->thr, NULL, informer_main, inf) != 0)
        return tc_err_set(err, TC_ERR, "informer %s: pthread_create failed", inf->name);
    inf->started = 1;
    return TC_OK;
}

void
informer_signal_stop(struct informer *inf)
{
    pthread_mutex_lock(&inf->mu);
    inf->stop = 1;
    pthread_cond_broadcast(&inf->cv);
    pthread_mutex_unlock(&inf->mu);
}

void
informer_stop(struct informer *inf)
{
    if (!inf->started)
        return;
    pthread_mutex_lock(&inf->mu);
    inf->stop = 1;
    pthread_cond_broadcast(&inf->cv);
    pthread_mutex_unlock(&inf->mu);
    pthread_join(inf->thr, NULL);
    inf->started = 0;
}

int
informer_synced(struct informer *inf)
{
    int s;

    pthread_mutex_lock(&inf->mu);
    s = inf->synced;
    pthread_mutex_unlock(&inf->mu);
    return s;
}

void
informer_get_stats(struct informer *inf, struct informer_stats *out)
{
    pthread_mutex_lock(&inf->mu);
    *out = inf->stats;
    pthread_mutex_unlock(&inf->mu);
}
