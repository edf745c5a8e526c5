/* meta.c - BlockMeta codecs and the string intern pool (see meta.h). */
#include "tempo/meta.h"

#include <ctype.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "base/timefmt.h"
#include "base/uuid.h"

/* ---- intern pool: open addressing over (hash, string) ---- */

struct meta_pool_ent {
    uint64_t hash;
    char *s;
};

static pthread_mutex_t meta_pool_mu = PTHREAD_MUTEX_INITIALIZER;
static struct meta_pool_ent *meta_pool;
static size_t meta_pool_cap, meta_pool_len;

static uint64_t
meta_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static int
meta_pool_grow(void)
{
    size_t ncap = meta_pool_cap ? meta_pool_cap * 2 : 256, i;
    struct meta_pool_ent *nt = tc_calloc(ncap, sizeof(*nt));

    if (nt == NULL)
        return TC_NOMEM;
    for (i = 0; i < meta_pool_cap; i++) {
        size_t j;

        if (meta_pool[i].s == NULL)
            continue;
        for (j = meta_pool[i].hash & (ncap - 1); nt[j].s; j = (j + 1) & (ncap - 1))
            ;
        nt[j] = meta_pool[i];
    }
    tc_free(meta_pool);
    meta_pool = nt;
    meta_pool_cap = ncap;
    return TC_OK;
}

const char *
meta_intern(const char *s, size_t n)
{
    uint64_t h;
    size_t j;
    const char *res = NULL;

    {
        /* Interned strings are C strings: a NUL ends one (the decoders refuse
         * NULs first; this keeps the lookup below in bounds regardless). */
        const char *nul = memchr(s, 0, n);

        if (nul != NULL)
            n = (size_t)(nul - s);
    }
    if (n == 0)
        return "";
    h = meta_hash(s, n);
    pthread_mutex_lock(&meta_pool_mu);
    if ((meta_pool_len + 1) * 2 > meta_pool_cap && meta_pool_grow() != TC_OK)
        goto out;
    for (j = h & (meta_pool_cap - 1); meta_pool[j].s; j = (j + 1) & (meta_pool_cap - 1)) {
        if (meta_pool[j].hash == h && strncmp(meta_pool[j].s, s, n) == 0 &&
            meta_pool[j].s[n] == '\0') {
            res = meta_pool[j].s;
            goto out;
        }
    }
    meta_pool[j].s = tc_strndup(s, n);
    if (meta_pool[j].s == NULL)
        goto out;
    meta_pool[j].hash = h;
    meta_pool_len++;
    res = meta_pool[j].s;
out:
    pthread_mutex_unlock(&meta_pool_mu);
    return res;
}

size_t
meta_intern_count(void)
{
    size_t n;

    pthread_mutex_lock(&meta_pool_mu);
    n = meta_pool_len;
    pthread_mutex_unlock(&meta_pool_mu);
    return n;
}

static const char *meta_dc_lookup(const char *raw);
static void meta_dc_store(const char *raw, const char *canon);

/* ---- basics ---- */

static const char *const meta_enc_names[META_ENC__COUNT] = {
    "none", "gzip", "lz4-64k", "lz4-256k", "lz4-1M", "lz4", "snappy", "zstd", "s2",
};

void
meta_init(struct meta *m)
{
    memset(m, 0, sizeof(*m));
    m->start_s = m->end_s = m->compacted_s = TIMEFMT_GO_ZERO_SEC;
    m->version = m->tenant = m->data_encoding = m->dedicated = "";
}

const char *
meta_encoding_name(unsigned enc)
{
    return enc < META_ENC__COUNT ? meta_enc_names[enc] : "unknown";
}

int
meta_encoding_parse(const char *s, unsigned *enc)
{
    unsigned i;

    for (i = 0; i < META_ENC__COUNT; i++) {
        if (strcmp(s, meta_enc_names[i]) == 0) {
            *enc = i;
            return TC_OK;
        }
    }
    return TC_PARSE;
}

int
meta_equal(const struct meta *a, const struct meta *b)
{
    return memcmp(a->id, b->id, 16) == 0 && a->encoding == b->encoding &&
           a->compacted == b->compacted && a->compaction_level == b->compaction_level &&
           a->index_page_size == b->index_page_size && a->total_records == b->total_records &&
           a->bloom_shards == b->bloom_shards && a->footer_size == b->footer_size &&
           a->replication_factor == b->replication_factor && a->start_s == b->start_s &&
           a->start_ns == b->start_ns && a->end_s == b->end_s && a->end_ns == b->end_ns &&
           (!a->compacted ||
            (a->compacted_s == b->compacted_s && a->compacted_ns == b->compacted_ns)) &&
           a->total_objects == b->total_objects && a->size == b->size && a->version == b->version &&
           a->tenant == b->tenant && a->data_encoding == b->data_encoding &&
           a->dedicated == b->dedicated;
}

/* ---- JSON ---- */

int
meta_json_string(struct buf *out, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    int rc = buf_putc(out, '"');

    for (; rc == TC_OK && *p; p++) {
        unsigned char c = *p;

        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            rc = buf_append(out, e, 2);
        } else if (c == '\n') {
            rc = buf_append(out, "\\n", 2);
        } else if (c == '\r') {
            rc = buf_append(out, "\\r", 2);
        } else if (c == '\t') {
            rc = buf_append(out, "\\t", 2);
        } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            rc = buf_append(out, e, 6);
        } else if (c == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) {
            /* Go escapes U+2028 and U+2029 too. */
            rc = buf_puts(out, p[2] == 0xa8 ? "\\u2028" : "\\u2029");
            p += 2;
        } else {
            rc = buf_putc(out, (char)c);
        }
    }
    return rc == TC_OK ? buf_putc(out, '"') : rc;
}

/* Canonical dedicated-columns text: Go's DedicatedColumn.MarshalJSON omits
 * "s" when the scope is span and "t" when the type is string. */
static int
meta_dc_canon(const json_t *arr, struct buf *out, struct tc_err *err)
{
    size_t i;
    int rc = TC_OK;

    if (json_is_null(arr))
        return TC_OK;
    if (!json_is_array(arr))
        return tc_err_set(err, TC_PARSE, "dedicatedColumns: not an array");
    if (json_array_size(arr) == 0)
        return TC_OK;
    rc = buf_putc(out, '[');
    for (i = 0; rc == TC_OK && i < json_array_size(arr); i++) {
        const json_t *c = json_array_get(arr, i);
        const json_t *s = json_object_get(c, "s"), *n = json_object_get(c, "n"),
                     *t = json_object_get(c, "t");

        if (!json_is_object(c) || (s && !json_is_string(s)) || (n && !json_is_string(n)) ||
            (t && !json_is_string(t)))
            return tc_err_set(err, TC_PARSE, "dedicatedColumns[%zu]: bad column", i);
        if (i > 0)
            rc = buf_putc(out, ',');
        if (rc == TC_OK)
            rc = buf_putc(out, '{');
        if (rc == TC_OK && s && strcmp(json_string_value(s), "span") != 0 &&
            json_string_length(s) > 0) {
            rc = buf_puts(out, "\"s\":");
            if (rc == TC_OK)
                rc = meta_json_string(out, json_string_value(s));
            if (rc == TC_OK)
                rc = buf_putc(out, ',');
        }
        if (rc == TC_OK)
            rc = buf_puts(out, "\"n\":");
        if (rc == TC_OK)
            rc = meta_json_string(out, n ? json_string_value(n) : "");
        if (rc == TC_OK && t && strcmp(json_string_value(t), "string") != 0 &&
            json_string_length(t) > 0) {
            rc = buf_puts(out, ",\"t\":");
            if (rc == TC_OK)
                rc = meta_json_string(out, json_string_value(t));
        }
        if (rc == TC_OK)
            rc = buf_putc(out, '}');
    }
    if (rc == TC_OK)
        rc = buf_putc(out, ']');
    return rc == TC_OK ? TC_OK : tc_err_set(err, rc, "dedicatedColumns: %s", tc_strerror(rc));
}

static int
meta_get_str(const json_t *o, const char *key, const char **out, struct tc_err *err)
{
    const json_t *v = json_object_get(o, key);

    if (v == NULL || json_is_null(v))
        return TC_OK;
    if (!json_is_string(v))
        return tc_err_set(err, TC_PARSE, "%s: not a string", key);
    *out = meta_intern(json_string_value(v), json_string_length(v));
    return *out ? TC_OK : tc_err_set(err, TC_NOMEM, "%s: out of memory", key);
}

static int
meta_get_int(const json_t *o, const char *key, int64_t lo, int64_t hi, int64_t *out,
             struct tc_err *err)
{
    const json_t *v = json_object_get(o, key);

    if (v == NULL || json_is_null(v))
        return TC_OK;
    if (!json_is_integer(v))
        return tc_err_set(err, TC_PARSE, "%s: not an integer", key);
    if (json_integer_value(v) < lo || json_integer_value(v) > hi)
        return tc_err_set(err, TC_PARSE, "%s: %lld out of range", key,
                          (long long)json_integer_value(v));
    *out = json_integer_value(v);
    return TC_OK;
}

static int
meta_get_u32(const json_t *o, const char *key, uint32_t *out, struct tc_err *err)
{
    int64_t v = 0;
    int rc = meta_get_int(o, key, 0, UINT32_MAX, &v, err);

    if (rc == TC_OK)
        *out = (uint32_t)v;
    return rc;
}

static int
meta_get_time(const json_t *o, const char *key, int64_t *sec, int32_t *nsec, struct tc_err *err)
{
    const json_t *v = json_object_get(o, key);

    if (v == NULL || json_is_null(v))
        return TC_OK;
    if (!json_is_string(v) ||
        timefmt_parse(json_string_value(v), json_string_length(v), sec, nsec) != TC_OK)
        return tc_err_set(err, TC_PARSE, "%s: not an RFC 3339 time", key);
    return TC_OK;
}

int
meta_from_json(const struct json_t *obj, struct meta *m, struct tc_err *err)
{
    const json_t *o = (const json_t *)obj, *v;
    int64_t i64 = 0;
    int rc;
    struct buf dc;

    meta_init(m);
    if (!json_is_object(o))
        return tc_err_set(err, TC_PARSE, "meta: not a JSON object");
    v = json_object_get(o, "blockID");
    if (v && !json_is_null(v) &&
        (!json_is_string(v) ||
         uuid_parse(json_string_value(v), json_string_length(v), m->id) != TC_OK))
        return tc_err_set(err, TC_PARSE, "blockID: not a UUID");
    if ((rc = meta_get_str(o, "format", &m->version, err)) != TC_OK ||
        (rc = meta_get_str(o, "tenantID", &m->tenant, err)) != TC_OK ||
        (rc = meta_get_str(o, "dataEncoding", &m->data_encoding, err)) != TC_OK ||
        (rc = meta_get_time(o, "startTime", &m->start_s, &m->start_ns, err)) != TC_OK ||
        (rc = meta_get_time(o, "endTime", &m->end_s, &m->end_ns, err)) != TC_OK ||
        (rc = meta_get_int(o, "totalObjects", INT64_MIN, INT64_MAX, &m->total_objects, err)) !=
            TC_OK ||
        (rc = meta_get_int(o, "size", 0, INT64_MAX, &i64, err)) != TC_OK ||
        (rc = meta_get_u32(o, "compactionLevel", &m->compaction_level, err)) != TC_OK ||
        (rc = meta_get_u32(o, "indexPageSize", &m->index_page_size, err)) != TC_OK ||
        (rc = meta_get_u32(o, "totalRecords", &m->total_records, err)) != TC_OK ||
        (rc = meta_get_u32(o, "bloomShards", &m->bloom_shards, err)) != TC_OK ||
        (rc = meta_get_u32(o, "footerSize", &m->footer_size, err)) != TC_OK ||
        (rc = meta_get_u32(o, "replicationFactor", &m->replication_factor, err)) != TC_OK)
        return rc;
    m->size = (uint64_t)i64;
    v = json_object_get(o, "encoding");
    if (v && !json_is_null(v)) {
        unsigned enc;

        if (!json_is_string(v) || meta_encoding_parse(json_string_value(v), &enc) != TC_OK)
            return tc_err_set(err, TC_PARSE, "encoding: unknown value");
        m->encoding = (uint8_t)enc;
    }
    v = json_object_get(o, "compactedTime");
    if (v && !json_is_null(v)) {
        if ((rc = meta_get_time(o, "compactedTime", &m->compacted_s, &m->compacted_ns, err)) !=
            TC_OK)
            return rc;
        m->compacted = 1;
    }
    v = json_object_get(o, "dedicatedColumns");
    if (v) {
        buf_init(&dc, 1 << 20);
        rc = meta_dc_canon(v, &dc, err);
        if (rc == TC_OK && dc.len > 0) {
            m->dedicated = meta_intern(dc.data, dc.len);
            if (m->dedicated == NULL)
                rc = tc_err_set(err, TC_NOMEM, "dedicatedColumns: out of memory");
        }
        buf_cleanup(&dc);
        if (rc != TC_OK)
            return rc;
    }
    return TC_OK;
}

int
meta_decode_json_ref(const char *text, size_t n, struct meta *m, struct tc_err *err)
{
    json_error_t jerr;
    json_t *o = json_loadb(text, n, 0, &jerr);
    int rc;

    if (o == NULL)
        return tc_err_set(err, TC_PARSE, "meta: JSON error at line %d column %d: %s", jerr.line,
                          jerr.column, jerr.text);
    rc = meta_from_json(o, m, err);
    json_decref(o);
    return rc;
}

/* ---- fast path: a scanner for the plain JSON Tempo writes ----
 *
 * It accepts only what it can decode exactly like the jansson path (ASCII
 * strings without escapes, integers, null, and skips anything else it can
 * delimit); everything else returns TC_DECLINED and the jansson path decides,
 * with its precise error messages. The poller decodes every unknown meta,
 * so this is where a cold poll spends its CPU. */

struct meta_scan {
    const char *p, *end;
};

/* raw dedicatedColumns text -> canonical text, both interned */
struct meta_dc_ent {
    const char *raw, *canon;
};
static struct meta_dc_ent *meta_dc_tab;
static size_t meta_dc_cap, meta_dc_len;

static const char *
meta_dc_lookup(const char *raw)
{
    const char *res = NULL;
    size_t j;

    pthread_mutex_lock(&meta_pool_mu);
    if (meta_dc_cap) {
        for (j = ((uintptr_t)raw >> 4) & (meta_dc_cap - 1); meta_dc_tab[j].raw;
             j = (j + 1) & (meta_dc_cap - 1))
            if (meta_dc_tab[j].raw == raw) {
                res = meta_dc_tab[j].canon;
                break;
            }
    }
    pthread_mutex_unlock(&meta_pool_mu);
    return res;
}

static void
meta_dc_store(const char *raw, const char *canon)
{
    size_t j, i;

    pthread_mutex_lock(&meta_pool_mu);
    if ((meta_dc_len + 1) * 2 > meta_dc_cap) {
        size_t ncap = meta_dc_cap ? meta_dc_cap * 2 : 64;
        struct meta_dc_ent *nt = tc_calloc(ncap, sizeof(*nt));

        if (nt == NULL)
            goto out;
        for (i = 0; i < meta_dc_cap; i++) {
            if (meta_dc_tab[i].raw == NULL)
                continue;
            for (j = ((uintptr_t)meta_dc_tab[i].raw >> 4) & (ncap - 1); nt[j].raw;
                 j = (j + 1) & (ncap - 1))
                ;
            nt[j] = meta_dc_tab[i];
        }
        tc_free(meta_dc_tab);
        meta_dc_tab = nt;
        meta_dc_cap = ncap;
    }
    for (j = ((uintptr_t)raw >> 4) & (meta_dc_cap - 1); meta_dc_tab[j].raw;
         j = (j + 1) & (meta_dc_cap - 1))
        if (meta_dc_tab[j].raw == raw)
            goto out;
    meta_dc_tab[j].raw = raw;
    meta_dc_tab[j].canon = canon;
    meta_dc_len++;
out:
    pthread_mutex_unlock(&meta_pool_mu);
}

static void
meta_scan_ws(struct meta_scan *sc)
{
    while (sc->p < sc->end && (*sc->p == ' ' || *sc->p == '\t' || *sc->p == '\n' || *sc->p == '\r'))
        sc->p++;
}

static int
meta_scan_lit(struct meta_scan *sc, const char *lit)
{
    size_t n = strlen(lit);

    if ((size_t)(sc->end - sc->p) < n || memcmp(sc->p, lit, n) != 0)
        return 0;
    sc->p += n;
    return 1;
}

/* A plain string: ASCII, no escapes, no control characters. */
static int
meta_scan_str(struct meta_scan *sc, const char **s, size_t *n)
{
    const char *q;

    if (sc->p >= sc->end || *sc->p != '"')
        return TC_DECLINED;
    for (q = sc->p + 1; q < sc->end && *q != '"'; q++)
        if ((unsigned char)*q < 0x20 || (unsigned char)*q >= 0x80 || *q == '\\')
            return TC_DECLINED;
    if (q >= sc->end)
        return TC_DECLINED;
    *s = sc->p + 1;
    *n = (size_t)(q - sc->p - 1);
    sc->p = q + 1;
    return TC_OK;
}

static int
meta_scan_int(struct meta_scan *sc, int64_t lo, int64_t hi, int64_t *v)
{
    const char *q = sc->p;
    int neg = 0;
    uint64_t acc = 0;

    if (q < sc->end && *q == '-') {
        neg = 1;
        q++;
    }
    if (q >= sc->end || *q < '0' || *q > '9' ||
        (*q == '0' && q + 1 < sc->end && q[1] >= '0' && q[1] <= '9'))
        return TC_DECLINED;
    for (; q < sc->end && *q >= '0' && *q <= '9'; q++) {
        if (acc > (UINT64_MAX - 9) / 10)
            return TC_DECLINED;
        acc = acc * 10 + (uint64_t)(*q - '0');
    }
    if (q < sc->end && (*q == '.' || *q == 'e' || *q == 'E'))
        return TC_DECLINED;
    if (acc > (uint64_t)INT64_MAX + (uint64_t)neg)
        return TC_DECLINED;
    *v = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    if (*v < lo || *v > hi)
        return TC_DECLINED;
    sc->p = q;
    return TC_OK;
}

static int meta_scan_value(struct meta_scan *sc, int depth);

/* A JSON string with escapes validated (skipped values only). */
static int
meta_scan_anystr(struct meta_scan *sc)
{
    const char *q;

    if (sc->p >= sc->end || *sc->p != '"')
        return TC_DECLINED;
    for (q = sc->p + 1; q < sc->end && *q != '"'; q++) {
        if ((unsigned char)*q < 0x20 || (unsigned char)*q >= 0x80)
            return TC_DECLINED;
        if (*q != '\\')
            continue;
        if (++q >= sc->end)
            return TC_DECLINED;
        if (*q == 'u') {
            int k;

            for (k = 1; k <= 4; k++)
                if (q + k >= sc->end || !isxdigit((unsigned char)q[k]))
                    return TC_DECLINED;
            /* \u0000 and surrogates: let jansson decide. */
            if (!memcmp(q + 1, "0000", 4) || q[1] == 'd' || q[1] == 'D')
                return TC_DECLINED;
            q += 4;
        } else if (*q == 0 || !strchr("\"\\/bfnrt", *q)) {
            return TC_DECLINED;
        }
    }
    if (q >= sc->end)
        return TC_DECLINED;
    sc->p = q + 1;
    return TC_OK;
}

/* A JSON number per RFC 8259. */
static int
meta_scan_number(struct meta_scan *sc)
{
    const char *q = sc->p;

    if (q < sc->end && *q == '-')
        q++;
    if (q >= sc->end || !isdigit((unsigned char)*q))
        return TC_DECLINED;
    if (*q == '0')
        q++;
    else
        while (q < sc->end && isdigit((unsigned char)*q))
            q++;
    if (q < sc->end && *q == '.') {
        if (++q >= sc->end || !isdigit((unsigned char)*q))
            return TC_DECLINED;
        while (q < sc->end && isdigit((unsigned char)*q))
            q++;
    }
    if (q < sc->end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < sc->end && (*q == '+' || *q == '-'))
            q++;
        if (q >= sc->end || !isdigit((unsigned char)*q))
            return TC_DECLINED;
        while (q < sc->end && isdigit((unsigned char)*q))
            q++;
    }
    if (q < sc->end && (isalnum((unsigned char)*q) || *q == '.' || *q == '-' || *q == '+'))
        return TC_DECLINED;
    sc->p = q;
    return TC_OK;
}

/* Validates and skips one value of any type. */
static int
meta_scan_value(struct meta_scan *sc, int depth)
{
    char open;

    meta_scan_ws(sc);
    if (sc->p >= sc->end || depth > 64)
        return TC_DECLINED;
    if (*sc->p == '"')
        return meta_scan_anystr(sc);
    if (meta_scan_lit(sc, "true") || meta_scan_lit(sc, "false") || meta_scan_lit(sc, "null"))
        return sc->p < sc->end && isalnum((unsigned char)*sc->p) ? TC_DECLINED : TC_OK;
    if (*sc->p != '[' && *sc->p != '{')
        return meta_scan_number(sc);
    open = *sc->p++;
    meta_scan_ws(sc);
    if (meta_scan_lit(sc, open == '[' ? "]" : "}"))
        return TC_OK;
    for (;;) {
        if (open == '{') {
            meta_scan_ws(sc);
            if (meta_scan_anystr(sc) != TC_OK)
                return TC_DECLINED;
            meta_scan_ws(sc);
            if (!meta_scan_lit(sc, ":"))
                return TC_DECLINED;
        }
        if (meta_scan_value(sc, depth + 1) != TC_OK)
            return TC_DECLINED;
        meta_scan_ws(sc);
        if (meta_scan_lit(sc, open == '[' ? "]" : "}"))
            return TC_OK;
        if (!meta_scan_lit(sc, ","))
            return TC_DECLINED;
    }
}

static int
meta_scan_skip(struct meta_scan *sc)
{
    return meta_scan_value(sc, 0);
}

static int
meta_scan_istr(struct meta_scan *sc, const char **out)
{
    const char *s;
    size_t n;

    if (meta_scan_lit(sc, "null"))
        return TC_OK;
    if (meta_scan_str(sc, &s, &n) != TC_OK)
        return TC_DECLINED;
    *out = meta_intern(s, n);
    return *out ? TC_OK : TC_DECLINED;
}

static int
meta_scan_time(struct meta_scan *sc, int64_t *sec, int32_t *nsec)
{
    const char *s;
    size_t n;

    if (meta_scan_lit(sc, "null"))
        return TC_OK;
    if (meta_scan_str(sc, &s, &n) != TC_OK || timefmt_parse(s, n, sec, nsec) != TC_OK)
        return TC_DECLINED;
    return TC_OK;
}

static int
meta_scan_u32(struct meta_scan *sc, uint32_t *out)
{
    int64_t v;

    if (meta_scan_lit(sc, "null"))
        return TC_OK;
    if (meta_scan_int(sc, 0, UINT32_MAX, &v) != TC_OK)
        return TC_DECLINED;
    *out = (uint32_t)v;
    return TC_OK;
}

static int
meta_scan_dc(struct meta_scan *sc, const char **out)
{
    const char *start = sc->p, *raw, *canon;
    json_error_t jerr;
    json_t *arr;
    struct buf dc;
    int rc;

    if (meta_scan_lit(sc, "null"))
        return TC_OK;
    if (sc->p >= sc->end || *sc->p != '[' || meta_scan_skip(sc) != TC_OK)
        return TC_DECLINED;
    raw = meta_intern(start, (size_t)(sc->p - start));
    if (raw == NULL)
        return TC_DECLINED;
    if ((canon = meta_dc_lookup(raw)) != NULL) {
        *out = canon;
        return TC_OK;
    }
    arr = json_loadb(start, (size_t)(sc->p - start), 0, &jerr);
    if (arr == NULL)
        return TC_DECLINED;
    buf_init(&dc, 1 << 20);
    rc = meta_dc_canon(arr, &dc, NULL);
    json_decref(arr);
    canon = rc == TC_OK ? (dc.len ? meta_intern(dc.data, dc.len) : "") : NULL;
    buf_cleanup(&dc);
    if (canon == NULL)
        return TC_DECLINED;
    meta_dc_store(raw, canon);
    *out = canon;
    return TC_OK;
}

static int
meta_scan_field(struct meta_scan *sc, const char *k, size_t kn, struct meta *m)
{
    int64_t v;

#define META_KEY(lit) (kn == sizeof(lit) - 1 && memcmp(k, lit, kn) == 0)
    if (META_KEY("format"))
        return meta_scan_istr(sc, &m->version);
    if (META_KEY("tenantID"))
        return meta_scan_istr(sc, &m->tenant);
    if (META_KEY("dataEncoding"))
        return meta_scan_istr(sc, &m->data_encoding);
    if (META_KEY("blockID")) {
        const char *s;
        size_t n;

        if (meta_scan_lit(sc, "null"))
            return TC_OK;
        if (meta_scan_str(sc, &s, &n) != TC_OK || uuid_parse(s, n, m->id) != TC_OK)
            return TC_DECLINED;
        return TC_OK;
    }
    if (META_KEY("startTime"))
        return meta_scan_time(sc, &m->start_s, &m->start_ns);
    if (META_KEY("endTime"))
        return meta_scan_time(sc, &m->end_s, &m->end_ns);
    if (META_KEY("compactedTime")) {
        if (meta_scan_lit(sc, "null"))
            return TC_OK;
        m->compacted = 1;
        return meta_scan_time(sc, &m->compacted_s, &m->compacted_ns);
    }
    if (META_KEY("totalObjects")) {
        if (meta_scan_lit(sc, "null"))
            return TC_OK;
        return meta_scan_int(sc, INT64_MIN, INT64_MAX, &m->total_objects);
    }
    if (META_KEY("size")) {
        if (meta_scan_lit(sc, "null"))
            return TC_OK;
        if (meta_scan_int(sc, 0, INT64_MAX, &v) != TC_OK)
            return TC_DECLINED;
        m->size = (uint64_t)v;
        return TC_OK;
    }
    if (META_KEY("compactionLevel"))
        return meta_scan_u32(sc, &m->compaction_level);
    if (META_KEY("indexPageSize"))
        return meta_scan_u32(sc, &m->index_page_size);
    if (META_KEY("totalRecords"))
        return meta_scan_u32(sc, &m->total_records);
    if (META_KEY("bloomShards"))
        return meta_scan_u32(sc, &m->bloom_shards);
    if (META_KEY("footerSize"))
        return meta_scan_u32(sc, &m->footer_size);
    if (META_KEY("replicationFactor"))
        return meta_scan_u32(sc, &m->replication_factor);
    if (META_KEY("encoding")) {
        const char *s;
        size_t n;
        unsigned enc;
        char tmp[16];

        if (meta_scan_lit(sc, "null"))
            return TC_OK;
        if (meta_scan_str(sc, &s, &n) != TC_OK || n >= sizeof(tmp))
            return TC_DECLINED;
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        if (meta_encoding_parse(tmp, &enc) != TC_OK)
            return TC_DECLINED;
        m->encoding = (uint8_t)enc;
        return TC_OK;
    }
    if (META_KEY("dedicatedColumns"))
        return meta_scan_dc(sc, &m->dedicated);
#undef META_KEY
    return meta_scan_skip(sc);
}

static int
meta_decode_fast(const char *text, size_t n, struct meta *m)
{
    struct meta_scan sc = {text, text + n};

    meta_init(m);
    meta_scan_ws(&sc);
    if (!meta_scan_lit(&sc, "{"))
        return TC_DECLINED;
    meta_scan_ws(&sc);
    if (!meta_scan_lit(&sc, "}")) {
        for (;;) {
            const char *k;
            size_t kn;

            meta_scan_ws(&sc);
            if (meta_scan_str(&sc, &k, &kn) != TC_OK)
                return TC_DECLINED;
            meta_scan_ws(&sc);
            if (!meta_scan_lit(&sc, ":"))
                return TC_DECLINED;
            meta_scan_ws(&sc);
            if (meta_scan_field(&sc, k, kn, m) != TC_OK)
                return TC_DECLINED;
            meta_scan_ws(&sc);
            if (meta_scan_lit(&sc, "}"))
                break;
            if (!meta_scan_lit(&sc, ","))
                return TC_DECLINED;
        }
    }
    meta_scan_ws(&sc);
    return sc.p == sc.end ? TC_OK : TC_DECLINED;
}

int
meta_decode_json(const char *text, size_t n, struct meta *m, struct tc_err *err)
{
    if (meta_decode_fast(text, n, m) == TC_OK)
        return TC_OK;
    return meta_decode_json_ref(text, n, m, err);
}

static int
meta_json_time(struct buf *out, const char *key, int64_t sec, int32_t nsec)
{
    char t[TIMEFMT_MAX_LEN];

    timefmt_format(sec, nsec, t, sizeof(t));
    return buf_printf(out, ",\"%s\":\"%s\"", key, t);
}

static int
meta_json_id(struct buf *out, const char *key, const uint8_t *id, uint32_t len)
{
    int rc;

    if (len == 0 || len > 16)
        return TC_OK;
    rc = buf_printf(out, ",\"%s\":\"", key);
    if (rc == TC_OK)
        rc = buf_put_base64(out, id, len);
    return rc == TC_OK ? buf_putc(out, '"') : rc;
}

static int
encode_json(const struct meta *m, int with_compacted_time, const uint8_t *min, uint32_t min_len,
            const uint8_t *max, uint32_t max_len, struct buf *out)
{
    char id[UUID_STR_LEN + 1];
    int rc;

    uuid_format(m->id, id);
    rc = buf_puts(out, "{\"format\":");
    if (rc == TC_OK)
        rc = meta_json_string(out, m->version);
    if (rc == TC_OK)
        rc = buf_printf(out, ",\"blockID\":\"%s\"", id);
    if (rc == TC_OK)
        rc = meta_json_id(out, "minID", min, min_len);
    if (rc == TC_OK)
        rc = meta_json_id(out, "maxID", max, max_len);
    if (rc == TC_OK)
        rc = buf_puts(out, ",\"tenantID\":");
    if (rc == TC_OK)
        rc = meta_json_string(out, m->tenant);
    if (rc == TC_OK)
        rc = meta_json_time(out, "startTime", m->start_s, m->start_ns);
    if (rc == TC_OK)
        rc = meta_json_time(out, "endTime", m->end_s, m->end_ns);
    if (rc == TC_OK)
        rc = buf_printf(out, ",\"totalObjects\":%" PRId64, m->total_objects);
    if (rc == TC_OK && m->size)
        rc = buf_printf(out, ",\"size\":%" PRIu64, m->size);
    if (rc == TC_OK)
        rc = buf_printf(out,
                        ",\"compactionLevel\":%u,\"encoding\":\"%s\",\"indexPageSize\":%u,"
                        "\"totalRecords\":%u,\"dataEncoding\":",
                        m->compaction_level, meta_encoding_name(m->encoding), m->index_page_size,
                        m->total_records);
    if (rc == TC_OK)
        rc = meta_json_string(out, m->data_encoding);
    if (rc == TC_OK)
        rc = buf_printf(out, ",\"bloomShards\":%u,\"footerSize\":%u", m->bloom_shards,
                        m->footer_size);
    if (rc == TC_OK && m->dedicated[0])
        rc = buf_printf(out, ",\"dedicatedColumns\":%s", m->dedicated);
    if (rc == TC_OK && m->replication_factor)
        rc = buf_printf(out, ",\"replicationFactor\":%u", m->replication_factor);
    if (rc == TC_OK && with_compacted_time)
        rc = meta_json_time(out, "compactedTime", m->compacted_s, m->compacted_ns);
    if (rc == TC_OK)
        rc = buf_putc(out, '}');
    return rc;
}

int
meta_encode_json(const struct meta *m, int with_compacted_time, struct buf *out)
{
    return encode_json(m, with_compacted_time, NULL, 0, NULL, 0, out);
}

int
meta_encode_json_ids(const struct meta *m, const uint8_t *min, uint32_t min_len, const uint8_t *max,
                     uint32_t max_len, struct buf *out)
{
    return encode_json(m, 0, min, min_len, max, max_len, out);
}

/* ---- protobuf ---- */

int
meta_pb_read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t r = 0;
    unsigned shift = 0;

    while (*p < end && shift < 64) {
        uint8_t b = *(*p)++;

        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return TC_OK;
        }
        shift += 7;
    }
    return TC_PARSE;
}

int
meta_pb_skip(const uint8_t **p, const uint8_t *end, unsigned wire)
{
    uint64_t v;

    switch (wire) {
    case 0:
        return meta_pb_read_varint(p, end, &v);
    case 1:
        if (end - *p < 8)
            return TC_PARSE;
        *p += 8;
        return TC_OK;
    case 2:
        if (meta_pb_read_varint(p, end, &v) != TC_OK || v > (uint64_t)(end - *p))
            return TC_PARSE;
        *p += v;
        return TC_OK;
    case 5:
        if (end - *p < 4)
            return TC_PARSE;
        *p += 4;
        return TC_OK;
    default:
        return TC_PARSE;
    }
}

int
meta_pb_put_tag(struct buf *out, unsigned field, unsigned wire)
{
    return buf_put_uvarint(out, (uint64_t)field << 3 | wire);
}

static int
meta_pb_put_u(struct buf *out, unsigned field, uint64_t v)
{
    int rc;

    if (v == 0)
        return TC_OK;
    rc = meta_pb_put_tag(out, field, 0);
    return rc == TC_OK ? buf_put_uvarint(out, v) : rc;
}

static int
meta_pb_put_bytes(struct buf *out, unsigned field, const void *p, size_t n, int always)
{
    int rc;

    if (n == 0 && !always)
        return TC_OK;
    rc = meta_pb_put_tag(out, field, 2);
    if (rc == TC_OK)
        rc = buf_put_uvarint(out, n);
    return rc == TC_OK ? buf_append(out, p, n) : rc;
}

int
meta_pb_put_time(struct buf *out, unsigned field, int64_t sec, int32_t nsec)
{
    struct buf t;
    int rc;

    buf_init(&t, 64);
    rc = meta_pb_put_u(&t, 1, (uint64_t)sec);
    if (rc == TC_OK)
        rc = meta_pb_put_u(&t, 2, (uint64_t)(int64_t)nsec);
    if (rc == TC_OK)
        rc = meta_pb_put_bytes(out, field, t.data ? t.data : "", t.len, 1);
    buf_cleanup(&t);
    return rc;
}

int
meta_pb_read_time(const uint8_t *p, size_t n, int64_t *sec, int32_t *nsec)
{
    const uint8_t *end = p + n;
    uint64_t tag, v;

    *sec = 0;
    *nsec = 0;
    while (p < end) {
        if (meta_pb_read_varint(&p, end, &tag) != TC_OK)
            return TC_PARSE;
        if ((tag >> 3) == 1 && (tag & 7) == 0) {
            if (meta_pb_read_varint(&p, end, &v) != TC_OK)
                return TC_PARSE;
            *sec = (int64_t)v;
        } else if ((tag >> 3) == 2 && (tag & 7) == 0) {
            if (meta_pb_read_varint(&p, end, &v) != TC_OK || (int64_t)v < 0 ||
                (int64_t)v >= 1000000000)
                return TC_PARSE;
            *nsec = (int32_t)v;
        } else if (meta_pb_skip(&p, end, tag & 7) != TC_OK) {
            return TC_PARSE;
        }
    }
    return TC_OK;
}

int
meta_encode_pb(const struct meta *m, struct buf *out)
{
    uint8_t enc = m->encoding;
    int rc;

    rc = meta_pb_put_bytes(out, 1, m->version, strlen(m->version), 0);
    if (rc == TC_OK)
        rc = meta_pb_put_bytes(out, 2, m->id, 16, 1);
    if (rc == TC_OK)
        rc = meta_pb_put_bytes(out, 5, m->tenant, strlen(m->tenant), 0);
    if (rc == TC_OK)
        rc = meta_pb_put_time(out, 6, m->start_s, m->start_ns);
    if (rc == TC_OK)
        rc = meta_pb_put_time(out, 7, m->end_s, m->end_ns);
    if (rc == TC_OK)
        rc = meta_pb_put_u(out, 8, (uint64_t)m->total_objects);
    if (rc == TC_OK)
        rc = meta_pb_put_u(out, 9, m->size);
    if (rc == TC_OK)
        rc = meta_pb_put_u(out, 10, m->compaction_level);
    if (rc == TC_OK)
        rc = meta_pb_put_bytes(out, 11, &enc, 1, 1);
    if (rc == TC_OK)
        rc = meta_pb_put_u(out, 12, m->index_page_size);
    if (rc == TC_OK)
        rc = meta_pb_put_u(out, 13, m->total_records);
    if (rc == TC_OK)
        rc = meta_pb_put_bytes(out, 14, m->data_encoding, strlen(m->data_encoding), 0);
    if (rc == TC_OK)
        rc = meta_pb_put_u(out, 15, m->bloom_shards);
    if (rc == TC_OK)
        rc = meta_pb_put_u(out, 16, m->footer_size);
    if (rc == TC_OK)
        rc = meta_pb_put_bytes(out, 17, m->dedicated, strlen(m->dedicated), 1);
    if (rc == TC_OK)
        rc = meta_pb_put_u(out, 18, m->replication_factor);
    return rc;
}

static int
meta_pb_str(const uint8_t *p, uint64_t n, const char **out, const char *field, struct tc_err *err)
{
    if (memchr(p, 0, n) != NULL)
        return tc_err_set(err, TC_PARSE, "%s: NUL byte in string", field);
    *out = meta_intern((const char *)p, n);
    return *out ? TC_OK : tc_err_set(err, TC_NOMEM, "%s: out of memory", field);
}

static int
meta_pb_u32(uint64_t v, uint32_t *out, const char *field, struct tc_err *err)
{
    /* proto3 uint32 decoders truncate; Tempo never writes larger values. */
    if (v > UINT32_MAX)
        return tc_err_set(err, TC_PARSE, "%s: %" PRIu64 " out of range", field, v);
    *out = (uint32_t)v;
    return TC_OK;
}

int
meta_decode_pb(const uint8_t *p, size_t n, struct meta *m, struct tc_err *err)
{
    const uint8_t *end = p + n;
    uint64_t tag, v;
    int rc = TC_OK;

    meta_init(m);
    while (p < end && rc == TC_OK) {
        unsigned field, wire;
        const uint8_t *val = NULL;
        uint64_t len = 0;

        if (meta_pb_read_varint(&p, end, &tag) != TC_OK)
            return tc_err_set(err, TC_PARSE, "BlockMeta: truncated tag");
        field = (unsigned)(tag >> 3);
        wire = (unsigned)(tag & 7);
        if (wire == 2) {
            if (meta_pb_read_varint(&p, end, &len) != TC_OK || len > (uint64_t)(end - p))
                return tc_err_set(err, TC_PARSE, "BlockMeta: field %u: bad length", field);
            val = p;
            p += len;
        } else if (wire == 0) {
            if (meta_pb_read_varint(&p, end, &v) != TC_OK)
                return tc_err_set(err, TC_PARSE, "BlockMeta: field %u: bad varint", field);
        } else {
            if (meta_pb_skip(&p, end, wire) != TC_OK)
                return tc_err_set(err, TC_PARSE, "BlockMeta: field %u: truncated", field);
            continue;
        }
#define META_WANT(w)                                                                               \
    if (wire != (w))                                                                               \
        return tc_err_set(err, TC_PARSE, "BlockMeta: field %u: wrong wire type %u", field, wire);
        switch (field) {
        case 1:
            META_WANT(2);
            rc = meta_pb_str(val, len, &m->version, "version", err);
            break;
        case 2:
            META_WANT(2);
            if (len != 16)
                return tc_err_set(err, TC_PARSE, "block_id: %" PRIu64 " bytes, want 16", len);
            memcpy(m->id, val, 16);
            break;
        case 5:
            META_WANT(2);
            rc = meta_pb_str(val, len, &m->tenant, "tenant_id", err);
            break;
        case 6:
        case 7:
            META_WANT(2);
            if (meta_pb_read_time(val, len, field == 6 ? &m->start_s : &m->end_s,
                                  field == 6 ? &m->start_ns : &m->end_ns) != TC_OK)
                return tc_err_set(err, TC_PARSE, "%s: bad Timestamp",
                                  field == 6 ? "start_time" : "end_time");
            break;
        case 8:
            META_WANT(0);
            m->total_objects = (int64_t)v;
            break;
        case 9:
            META_WANT(0);
            m->size = v;
            break;
        case 10:
            META_WANT(0);
            rc = meta_pb_u32(v, &m->compaction_level, "compaction_level", err);
            break;
        case 11:
            META_WANT(2);
            if (len != 1 || val[0] >= META_ENC__COUNT)
                return tc_err_set(err, TC_PARSE, "encoding: bad value");
            m->encoding = val[0];
            break;
        case 12:
            META_WANT(0);
            rc = meta_pb_u32(v, &m->index_page_size, "index_page_size", err);
            break;
        case 13:
            META_WANT(0);
            rc = meta_pb_u32(v, &m->total_records, "total_records", err);
            break;
        case 14:
            META_WANT(2);
            rc = meta_pb_str(val, len, &m->data_encoding, "data_encoding", err);
            break;
        case 15:
            META_WANT(0);
            rc = meta_pb_u32(v, &m->bloom_shards, "bloom_shard_count", err);
            break;
        case 16:
            META_WANT(0);
            rc = meta_pb_u32(v, &m->footer_size, "footer_size", err);
            break;
        case 17:
            META_WANT(2);
            if (len > 0 && memchr(val, 0, len) != NULL)
                return tc_err_set(err, TC_PARSE, "dedicated_columns: NUL byte in string");
            if (len > 0) {
                /* The field holds JSON text; canonicalise it like meta.json,
                 * once per distinct text (the same few texts repeat). */
                const char *raw = meta_intern((const char *)val, len), *canon;
                json_error_t jerr;
                json_t *arr;
                struct buf dc;

                if (raw == NULL)
                    return tc_err_set(err, TC_NOMEM, "dedicated_columns: out of memory");
                if ((canon = meta_dc_lookup(raw)) != NULL) {
                    m->dedicated = canon;
                    break;
                }
                arr = json_loadb((const char *)val, len, 0, &jerr);
                if (arr == NULL)
                    return tc_err_set(err, TC_PARSE, "dedicated_columns: bad JSON: %s", jerr.text);
                buf_init(&dc, 1 << 20);
                rc = meta_dc_canon(arr, &dc, err);
                json_decref(arr);
                if (rc == TC_OK && dc.len)
                    rc = meta_pb_str((const uint8_t *)dc.data, dc.len, &m->dedicated,
                                     "dedicated_columns", err);
                buf_cleanup(&dc);
                if (rc == TC_OK)
                    meta_dc_store(raw, m->dedicated);
            }
            break;
        case 18:
            META_WANT(0);
            rc = meta_pb_u32(v, &m->replication_factor, "replication_factor", err);
            break;
        default:
            break;
        }
#undef META_WANT
    }
    return rc;
}
