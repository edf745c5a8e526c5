/* probe.c - see probe.h */
#include "probe.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "base/buf.h"
#include "base/http_client.h"
#include "base/mem.h"
#include "base/tc.h"

#define PROBE_MAX_HEADERS 24
#define PROBE_MAX_BODY (4 << 20)

const char *
probe_state_name(enum probe_state s)
{
    switch (s) {
    case PROBE_OK:
        return "OK";
    case PROBE_EMPTY:
        return "QueryEmpty";
    case PROBE_FAILED:
        return "QueryFailed";
    default:
        return "Unknown";
    }
}

static const char *
p_str(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

/* Trims spaces in place; returns the start. */
static char *
p_trim(char *s)
{
    char *e;

    while (*s && isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* Splits KEDA's "k=v,k=v" (customHeaders, queryParameters) in place into
 * names[]/values[]. Returns the count, or -1 on an item that is not k=v. */
static int
p_split_map(char *s, const char **names, const char **values, int max)
{
    int n = 0;
    char *item, *save = NULL;

    if (*p_trim(s) == '\0')
        return 0;
    for (item = strtok_r(s, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (eq == NULL || strchr(eq + 1, '=') != NULL || n >= max)
            return -1;
        *eq = '\0';
        names[n] = p_trim(item);
        values[n] = p_trim(eq + 1);
        n++;
    }
    return n;
}

static void p_verdict(struct probe_result *out, enum probe_state st, long status, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));

static void
p_verdict(struct probe_result *out, enum probe_state st, long status, const char *fmt, ...)
{
    va_list ap;

    out->state = st;
    out->status = status;
    va_start(ap, fmt);
    vsnprintf(out->msg, sizeof(out->msg), fmt, ap);
    va_end(ap);
}

/* A short, printable excerpt of an error body for the condition. */
static void
p_excerpt(const struct buf *b, char *out, size_t outsz)
{
    size_t i, n = 0;

    for (i = 0; b->data && i < b->len && n + 1 < outsz && n < 120; i++)
        out[n++] = isprint((unsigned char)b->data[i]) ? b->data[i] : ' ';
    out[n] = '\0';
    {
        char *t = p_trim(out);
        memmove(out, t, strlen(t) + 1);
    }
}

int
probe_query(const json_t *md, const json_t *params, long timeout_ms, struct probe_result *out)
{
    const char *hn[PROBE_MAX_HEADERS], *hv[PROBE_MAX_HEADERS], *qn[PROBE_MAX_HEADERS],
        *qv[PROBE_MAX_HEADERS];
    struct http_header hdrs[PROBE_MAX_HEADERS + 2];
    char *hcopy = NULL, *qcopy = NULL, now[32], excerpt[160];
    const char *server = p_str(md, "serverAddress");
    struct http_client_opts o;
    struct http_client *c = NULL;
    struct http_response resp;
    struct http_request req;
    struct buf url, auth;
    struct tc_err err = {0};
    json_t *doc = NULL;
    const json_t *res;
    int nh, nq, i, n = 0, rc = TC_OK;
    size_t slen = strlen(server);

    memset(out, 0, sizeof(*out));
    buf_init(&url, 1024);
    buf_init(&auth, 256);
    http_response_init(&resp);
    hcopy = tc_strdup(p_str(md, "customHeaders"));
    qcopy = tc_strdup(p_str(md, "queryParameters"));
    if (hcopy == NULL || qcopy == NULL) {
        rc = TC_NOMEM;
        goto done;
    }
    nh = p_split_map(hcopy, hn, hv, PROBE_MAX_HEADERS);
    nq = p_split_map(qcopy, qn, qv, PROBE_MAX_HEADERS);
    if (nh < 0 || nq < 0) {
        p_verdict(out, PROBE_FAILED, 0, "%s is not key=value[,key=value]",
                  nh < 0 ? "customHeaders" : "queryParameters");
        goto done;
    }
    while (slen > 0 && server[slen - 1] == '/')
        slen--;
    {
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    if (buf_printf(&url, "%.*s/api/v1/query?query=", (int)slen, server) != TC_OK ||
        http_urlencode(&url, p_str(md, "query"), 0) != TC_OK || buf_puts(&url, "&time=") != TC_OK ||
        http_urlencode(&url, now, 0) != TC_OK) {
        rc = TC_NOMEM;
        goto done;
    }
    if (*p_str(md, "namespace")) {
        buf_puts(&url, "&namespace=");
        http_urlencode(&url, p_str(md, "namespace"), 0);
    }
    for (i = 0; i < nq; i++) {
        buf_putc(&url, '&');
        http_urlencode(&url, qn[i], 0);
        buf_putc(&url, '=');
        http_urlencode(&url, qv[i], 0);
    }
    for (i = 0; i < nh; i++) {
        hdrs[n].name = hn[i];
        hdrs[n++].value = hv[i];
    }
    /* KEDA's order: custom headers, then the auth mode's header. */
    if (*p_str(params, "bearerToken")) {
        buf_printf(&auth, "Bearer %s", p_str(params, "bearerToken"));
        hdrs[n].name = "Authorization";
        hdrs[n++].value = auth.data;
    } else if (*p_str(params, "username")) {
        struct buf up;
        buf_init(&up, 128);
        buf_printf(&up, "%s:%s", p_str(params, "username"), p_str(params, "password"));
        buf_puts(&auth, "Basic ");
        buf_put_base64(&auth, (const uint8_t *)(up.data ? up.data : ""), up.len);
        if (up.data)
            OPENSSL_cleanse(up.data, up.len);
        buf_cleanup(&up);
        hdrs[n].name = "Authorization";
        hdrs[n++].value = auth.data;
    } else if (*p_str(params, "customAuthHeader")) {
        hdrs[n].name = p_str(params, "customAuthHeader");
        hdrs[n++].value = p_str(params, "customAuthValue");
    }
    memset(&o, 0, sizeof(o));
    o.connect_timeout_ms = timeout_ms;
    o.timeout_ms = timeout_ms;
    o.accept_encoding = "";
    o.insecure_skip_verify = strcmp(p_str(md, "unsafeSsl"), "true") == 0;
    if (*p_str(params, "ca")) {
        o.ca_pem = p_str(params, "ca");
        o.ca_pem_len = strlen(o.ca_pem);
    }
    if (*p_str(params, "cert") && *p_str(params, "key")) {
        o.cert_pem = p_str(params, "cert");
        o.cert_pem_len = strlen(o.cert_pem);
        o.key_pem = p_str(params, "key");
        o.key_pem_len = strlen(o.key_pem);
    }
    if ((c = http_client_new(&o, &err)) == NULL) {
        p_verdict(out, PROBE_FAILED, 0, "cannot set up the HTTP client: %s", err.msg);
        goto done;
    }
    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = url.data;
    req.headers = hdrs;
    req.nheaders = (size_t)n;
    req.max_body = PROBE_MAX_BODY;
    req.timeout_ms = timeout_ms;
    if (http_client_do(c, &req, &resp, &err) != TC_OK) {
        p_verdict(out, PROBE_FAILED, 0, "GET %.*s/api/v1/query: %s", (int)slen, server,
                  resp.errmsg[0] ? resp.errmsg : err.msg);
        goto done;
    }
    if (resp.status < 200 || resp.status > 299) {
        p_excerpt(&resp.body, excerpt, sizeof(excerpt));
        p_verdict(out, PROBE_FAILED, resp.status, "GET %.*s/api/v1/query: HTTP %ld: %s", (int)slen,
                  server, resp.status, excerpt);
        goto done;
    }
    doc = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len, 0, NULL);
    res = json_object_get(json_object_get(doc, "data"), "result");
    if (!json_is_array(res)) {
        p_verdict(out, PROBE_FAILED, resp.status,
                  "GET %.*s/api/v1/query: HTTP %ld but no data.result vector in the answer",
                  (int)slen, server, resp.status);
    } else if (json_array_size(res) == 0) {
        p_verdict(out, PROBE_EMPTY, resp.status,
                  "the trigger query returned no series (HTTP %ld from %.*s); with "
                  "ignoreNullValues true KEDA reads that as 0 and scales to minReplicas: check "
                  "customHeaders (X-Scope-OrgID) and the query's labels",
                  resp.status, (int)slen, server);
    } else if (json_array_size(res) > 1) {
        p_verdict(out, PROBE_FAILED, resp.status,
                  "the trigger query returned %zu series; KEDA needs exactly one (wrap it in "
                  "sum(...))",
                  json_array_size(res));
    } else {
        const char *v =
            json_string_value(json_array_get(json_object_get(json_array_get(res, 0), "value"), 1));
        char *e = NULL;
        double d = v ? strtod(v, &e) : NAN;
        if (v == NULL || e == v || isnan(d) || isinf(d))
            p_verdict(out, PROBE_EMPTY, resp.status,
                      "the trigger query's one series has no finite value (%s); KEDA reads it as "
                      "0 with ignoreNullValues true",
                      v ? v : "none");
        else {
            out->value = d;
            p_verdict(out, PROBE_OK, resp.status, "the trigger query returned %g", d);
        }
    }
done:
    json_decref(doc);
    http_client_free(c);
    http_response_cleanup(&resp);
    if (auth.data)
        OPENSSL_cleanse(auth.data, auth.len);
    buf_cleanup(&auth);
    buf_cleanup(&url);
    tc_free(hcopy);
    tc_free(qcopy);
    return rc;
}
