/* tindex.c - tenant index codecs and I/O (see tindex.h). */
#include "tempo/tindex.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "base/mem.h"
#include "base/timefmt.h"

void
tindex_init(struct tindex *ti)
{
    memset(ti, 0, sizeof(*ti));
    ti->created_s = TIMEFMT_GO_ZERO_SEC;
}

void
tindex_cleanup(struct tindex *ti)
{
    tc_free(ti->live);
    tc_free(ti->compacted);
    tindex_init(ti);
}

static int
tindex_push(struct meta **arr, size_t *n, size_t *cap, const struct meta *m)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        struct meta *na = tc_reallocarray(*arr, ncap, sizeof(*na));

        if (na == NULL)
            return TC_NOMEM;
        *arr = na;
        *cap = ncap;
    }
    (*arr)[(*n)++] = *m;
    return TC_OK;
}

/* ---- JSON ---- */

static int
tindex_json_list(const json_t *arr, const char *name, int compacted, struct meta **out, size_t *n,
                 struct tc_err *err)
{
    size_t i, cap = 0;

    if (arr == NULL || json_is_null(arr))
        return TC_OK;
    if (!json_is_array(arr))
        return tc_err_set(err, TC_PARSE, "%s: not an array", name);
    for (i = 0; i < json_array_size(arr); i++) {
        struct meta m;
        int rc = meta_from_json(json_array_get(arr, i), &m, err);

        if (rc != TC_OK)
            return tc_err_prefix(err, "%s[%zu]", name, i);
        if (compacted && !m.compacted) {
            /* Tempo tolerates a missing compactedTime (zero time). */
            m.compacted = 1;
        }
        if (!compacted)
            m.compacted = 0;
        if (tindex_push(out, n, &cap, &m) != TC_OK)
            return tc_err_set(err, TC_NOMEM, "%s: out of memory", name);
    }
    return TC_OK;
}

int
tindex_decode_json(const char *p, size_t n, struct tindex *ti, struct tc_err *err)
{
    json_error_t jerr;
    json_t *root, *v;
    int rc;

    tindex_init(ti);
    root = json_loadb(p, n, 0, &jerr);
    if (root == NULL)
        return tc_err_set(err, TC_PARSE, "index.json: line %d column %d: %s", jerr.line,
                          jerr.column, jerr.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return tc_err_set(err, TC_PARSE, "index.json: not an object");
    }
    v = json_object_get(root, "created_at");
    if (v && !json_is_null(v) &&
        (!json_is_string(v) || timefmt_parse(json_string_value(v), json_string_length(v),
                                             &ti->created_s, &ti->created_ns) != TC_OK)) {
        json_decref(root);
        return tc_err_set(err, TC_PARSE, "index.json: created_at: not an RFC 3339 time");
    }
    rc = tindex_json_list(json_object_get(root, "meta"), "meta", 0, &ti->live, &ti->nlive, err);
    if (rc == TC_OK)
        rc = tindex_json_list(json_object_get(root, "compacted"), "compacted", 1, &ti->compacted,
                              &ti->ncompacted, err);
    json_decref(root);
    if (rc != TC_OK) {
        tc_err_prefix(err, "index.json");
        tindex_cleanup(ti);
    }
    return rc;
}

/* Encoders write through a sink, so the compressed variants never hold the
 * whole raw index (about 1 KB per block as JSON) in memory. */
typedef int (*tindex_sink_fn)(void *ud, const void *p, size_t n);

static int
tindex_buf_sink(void *ud, const void *p, size_t n)
{
    return buf_append(ud, p, n);
}

static int
tindex_json_to(const struct tindex *ti, tindex_sink_fn sink, void *ud)
{
    char t[TIMEFMT_MAX_LEN];
    struct buf one;
    size_t i;
    int rc;

    buf_init(&one, 1 << 20);
    timefmt_format(ti->created_s, ti->created_ns, t, sizeof(t));
    rc = buf_printf(&one, "{\"created_at\":\"%s\",\"meta\":%s", t, ti->nlive ? "[" : "null");
    for (i = 0; rc == TC_OK && i < ti->nlive; i++) {
        if (i > 0)
            rc = buf_putc(&one, ',');
        if (rc == TC_OK)
            rc = meta_encode_json(&ti->live[i], 0, &one);
        if (rc == TC_OK && one.len >= 1 << 16) {
            rc = sink(ud, one.data, one.len);
            buf_reset(&one);
        }
    }
    if (rc == TC_OK)
        rc = buf_printf(&one, "%s,\"compacted\":%s", ti->nlive ? "]" : "",
                        ti->ncompacted ? "[" : "null");
    for (i = 0; rc == TC_OK && i < ti->ncompacted; i++) {
        if (i > 0)
            rc = buf_putc(&one, ',');
        if (rc == TC_OK)
            rc = meta_encode_json(&ti->compacted[i], 1, &one);
        if (rc == TC_OK && one.len >= 1 << 16) {
            rc = sink(ud, one.data, one.len);
            buf_reset(&one);
        }
    }
    if (rc == TC_OK)
        rc = buf_printf(&one, "%s}", ti->ncompacted ? "]" : "");
    if (rc == TC_OK)
        rc = sink(ud, one.data, one.len);
    buf_cleanup(&one);
    return rc;
}

int
tindex_encode_json(const struct tindex *ti, struct buf *out)
{
    return tindex_json_to(ti, tindex_buf_sink, out);
}

/* The decompressed-size cap for an object of n bytes. */
static size_t
tindex_raw_cap(size_t n)
{
    size_t cap = n > TINDEX_MAX_RAW / TINDEX_MAX_RATIO ? TINDEX_MAX_RAW : n * TINDEX_MAX_RATIO;

    return cap < TINDEX_MIN_RAW ? TINDEX_MIN_RAW : cap;
}

/* Checks JSON text as it is inflated and drops whitespace outside strings:
 * the first significant byte must be '{', no control byte may appear
 * outside a string's escapes. Works on out[from..len) in place. */
struct json_guard {
    int started, in_str, esc;
};

static int
json_guard_feed(struct json_guard *g, struct buf *out, size_t from, struct tc_err *err)
{
    size_t r, w = from;

    for (r = from; r < out->len; r++) {
        unsigned char c = (unsigned char)out->data[r];
        if (g->in_str) {
            if (c < 0x20)
                return tc_err_set(err, TC_PARSE, "control byte 0x%02x inside a JSON string at %zu",
                                  c, r);
            if (g->esc)
                g->esc = 0;
            else if (c == '\\')
                g->esc = 1;
            else if (c == '"')
                g->in_str = 0;
        } else {
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
                continue;
            if (c < 0x20 || c >= 0x7f)
                return tc_err_set(err, TC_PARSE, "byte 0x%02x outside a JSON string at %zu", c, r);
            if (!g->started && c != '{')
                return tc_err_set(err, TC_PARSE, "not a JSON object (starts with '%c')", c);
            g->started = 1;
            if (c == '"')
                g->in_str = 1;
        }
        out->data[w++] = (char)c;
    }
    out->len = w;
    return TC_OK;
}

static int
tindex_gunzip(const void *p, size_t n, struct buf *out, struct tc_err *err)
{
    struct json_guard g = {0, 0, 0};
    z_stream zs;
    int zrc = Z_OK;

    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        return tc_err_set(err, TC_NOMEM, "gzip: inflateInit failed");
    zs.next_in = (Bytef *)(uintptr_t)p;
    zs.avail_in = (uInt)n;
    while (zrc != Z_STREAM_END) {
        size_t from = out->len;
        if (buf_reserve(out, 1 << 16) != TC_OK) {
            inflateEnd(&zs);
            return tc_err_set(err, TC_TOOBIG,
                              "gzip: decompressed data exceeds %zu bytes (%d times the %zu-byte "
                              "object, or %zu)",
                              out->cap, TINDEX_MAX_RATIO, n, TINDEX_MAX_RAW);
        }
        zs.next_out = (Bytef *)out->data + out->len;
        zs.avail_out = 1 << 16;
        zrc = inflate(&zs, Z_NO_FLUSH);
        out->len += (1 << 16) - zs.avail_out;
        if (zrc == Z_BUF_ERROR && zs.avail_in == 0) {
            inflateEnd(&zs);
            return tc_err_set(err, TC_PARSE, "gzip: truncated stream");
        }
        if (zrc != Z_OK && zrc != Z_STREAM_END && zrc != Z_BUF_ERROR) {
            inflateEnd(&zs);
            return tc_err_set(err, TC_PARSE, "gzip: %s", zs.msg ? zs.msg : "corrupt data");
        }
        if (json_guard_feed(&g, out, from, err) != TC_OK) {
            inflateEnd(&zs);
            return TC_PARSE;
        }
        out->data[out->len] = '\0';
    }
    inflateEnd(&zs);
    return TC_OK;
}

int
tindex_decode_json_gz(const void *p, size_t n, struct tindex *ti, struct tc_err *err)
{
    struct buf raw;
    int rc;

    tindex_init(ti);
    buf_init(&raw, tindex_raw_cap(n));
    rc = tindex_gunzip(p, n, &raw, err);
    if (rc == TC_OK)
        rc = tindex_decode_json(raw.data ? raw.data : "", raw.len, ti, err);
    else
        tc_err_prefix(err, "index.json.gz");
    buf_cleanup(&raw);
    return rc;
}

struct tindex_gz {
    z_stream zs;
    struct buf *out;
};

static int
tindex_gz_run(struct tindex_gz *g, int flush)
{
    int zrc;

    do {
        if (buf_reserve(g->out, 1 << 16) != TC_OK)
            return TC_TOOBIG;
        g->zs.next_out = (Bytef *)g->out->data + g->out->len;
        g->zs.avail_out = 1 << 16;
        zrc = deflate(&g->zs, flush);
        g->out->len += (1 << 16) - g->zs.avail_out;
        if (zrc == Z_STREAM_ERROR)
            return TC_ERR;
    } while (g->zs.avail_out == 0 || (flush == Z_FINISH && zrc != Z_STREAM_END));
    return TC_OK;
}

static int
tindex_gz_sink(void *ud, const void *p, size_t n)
{
    struct tindex_gz *g = ud;

    g->zs.next_in = (Bytef *)(uintptr_t)p;
    g->zs.avail_in = (uInt)n;
    return tindex_gz_run(g, Z_NO_FLUSH);
}

int
tindex_encode_json_gz(const struct tindex *ti, struct buf *out)
{
    static char name[] = "index.json";
    struct tindex_gz g;
    gz_header hdr;
    size_t start = out->len;
    int rc;

    memset(&g, 0, sizeof(g));
    g.out = out;
    /* Level 1: the index is rewritten every poll and JSON compresses well at
     * any level; the poll's CPU matters more than a few percent of size. */
    if (deflateInit2(&g.zs, Z_BEST_SPEED, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK)
        return TC_NOMEM;
    /* Go's gzip.Writer with Name set and ModTime = time.Time{}: the mtime
     * field is uint32(-62135596800) and OS is 255 (unknown). */
    memset(&hdr, 0, sizeof(hdr));
    hdr.time = (uLong)(uint32_t)(int64_t)TIMEFMT_GO_ZERO_SEC;
    hdr.os = 255;
    hdr.name = (Bytef *)name;
    deflateSetHeader(&g.zs, &hdr);
    rc = tindex_json_to(ti, tindex_gz_sink, &g);
    if (rc == TC_OK) {
        g.zs.next_in = NULL;
        g.zs.avail_in = 0;
        rc = tindex_gz_run(&g, Z_FINISH);
    }
    /* zlib marks level 1 in XFL (4); Go's writer at its default level writes
     * 0. XFL is informational only, so keep Tempo's exact header bytes. */
    if (rc == TC_OK && out->len >= start + 10)
        out->data[start + 8] = 0;
    deflateEnd(&g.zs);
    return rc;
}

/* ---- protobuf ---- */

static int
tindex_pb_compacted(const uint8_t *p, size_t n, struct meta *m, struct tc_err *err)
{
    const uint8_t *end = p + n;
    int have_meta = 0, rc = TC_OK;

    meta_init(m);
    while (p < end && rc == TC_OK) {
        uint64_t tag, len;

        if (meta_pb_read_varint(&p, end, &tag) != TC_OK)
            return tc_err_set(err, TC_PARSE, "CompactedBlockMeta: truncated tag");
        if ((tag & 7) != 2) {
            if (meta_pb_skip(&p, end, tag & 7) != TC_OK)
                return tc_err_set(err, TC_PARSE, "CompactedBlockMeta: truncated field");
            continue;
        }
        if (meta_pb_read_varint(&p, end, &len) != TC_OK || len > (uint64_t)(end - p))
            return tc_err_set(err, TC_PARSE, "CompactedBlockMeta: bad length");
        if ((tag >> 3) == 1) {
            int64_t cs = m->compacted_s;
            int32_t cn = m->compacted_ns;

            rc = meta_decode_pb(p, len, m, err);
            m->compacted_s = cs;
            m->compacted_ns = cn;
            have_meta = 1;
        } else if ((tag >> 3) == 2) {
            if (meta_pb_read_time(p, len, &m->compacted_s, &m->compacted_ns) != TC_OK)
                return tc_err_set(err, TC_PARSE, "compacted_time: bad Timestamp");
        }
        p += len;
    }
    if (rc == TC_OK && !have_meta)
        return tc_err_set(err, TC_PARSE, "CompactedBlockMeta: no block_meta");
    m->compacted = 1;
    return rc;
}

int
tindex_decode_pb(const uint8_t *p, size_t n, struct tindex *ti, struct tc_err *err)
{
    const uint8_t *end = p + n;
    size_t lcap = 0, ccap = 0;
    int rc = TC_OK;

    tindex_init(ti);
    while (p < end && rc == TC_OK) {
        uint64_t tag, len;
        struct meta m;

        if (meta_pb_read_varint(&p, end, &tag) != TC_OK) {
            rc = tc_err_set(err, TC_PARSE, "truncated tag");
            break;
        }
        if ((tag & 7) != 2) {
            if (meta_pb_skip(&p, end, tag & 7) != TC_OK)
                rc = tc_err_set(err, TC_PARSE, "truncated field %u", (unsigned)(tag >> 3));
            continue;
        }
        if (meta_pb_read_varint(&p, end, &len) != TC_OK || len > (uint64_t)(end - p)) {
            rc = tc_err_set(err, TC_PARSE, "field %u: bad length", (unsigned)(tag >> 3));
            break;
        }
        switch (tag >> 3) {
        case 1:
            if (meta_pb_read_time(p, len, &ti->created_s, &ti->created_ns) != TC_OK)
                rc = tc_err_set(err, TC_PARSE, "created_at: bad Timestamp");
            break;
        case 2:
            rc = meta_decode_pb(p, len, &m, err);
            if (rc != TC_OK)
                tc_err_prefix(err, "meta[%zu]", ti->nlive);
            else if (tindex_push(&ti->live, &ti->nlive, &lcap, &m) != TC_OK)
                rc = tc_err_set(err, TC_NOMEM, "out of memory");
            break;
        case 3:
            rc = tindex_pb_compacted(p, len, &m, err);
            if (rc != TC_OK)
                tc_err_prefix(err, "compacted_meta[%zu]", ti->ncompacted);
            else if (tindex_push(&ti->compacted, &ti->ncompacted, &ccap, &m) != TC_OK)
                rc = tc_err_set(err, TC_NOMEM, "out of memory");
            break;
        default:
            break;
        }
        p += len;
    }
    if (rc != TC_OK) {
        tc_err_prefix(err, "index.pb");
        tindex_cleanup(ti);
    }
    return rc;
}

static int
tindex_pb_nested(struct buf *out, unsigned field, const struct buf *body)
{
    int rc = meta_pb_put_tag(out, field, 2);

    if (rc == TC_OK)
        rc = buf_put_uvarint(out, body->len);
    return rc == TC_OK ? buf_append(out, body->data ? body->data : "", body->len) : rc;
}

static int
tindex_pb_to(const struct tindex *ti, tindex_sink_fn sink, void *ud)
{
    struct buf one, cm, chunk;
    size_t i;
    int rc;

    buf_init(&one, 1 << 20);
    buf_init(&cm, 1 << 20);
    buf_init(&chunk, 1 << 20);
    rc = meta_pb_put_time(&chunk, 1, ti->created_s, ti->created_ns);
    for (i = 0; rc == TC_OK && i < ti->nlive + ti->ncompacted; i++) {
        const struct meta *m = i < ti->nlive ? &ti->live[i] : &ti->compacted[i - ti->nlive];

        buf_reset(&one);
        rc = meta_encode_pb(m, &one);
        if (rc == TC_OK && i < ti->nlive) {
            rc = tindex_pb_nested(&chunk, 2, &one);
        } else if (rc == TC_OK) {
            buf_reset(&cm);
            rc = tindex_pb_nested(&cm, 1, &one);
            if (rc == TC_OK)
                rc = meta_pb_put_time(&cm, 2, m->compacted_s, m->compacted_ns);
            if (rc == TC_OK)
                rc = tindex_pb_nested(&chunk, 3, &cm);
        }
        if (rc == TC_OK && chunk.len >= 1 << 16) {
            rc = sink(ud, chunk.data, chunk.len);
            buf_reset(&chunk);
        }
    }
    if (rc == TC_OK && chunk.len)
        rc = sink(ud, chunk.data, chunk.len);
    buf_cleanup(&one);
    buf_cleanup(&cm);
    buf_cleanup(&chunk);
    return rc;
}

int
tindex_encode_pb(const struct tindex *ti, struct buf *out)
{
    return tindex_pb_to(ti, tindex_buf_sink, out);
}

/* Walks the top level of a TenantIndex as it is decompressed: every field
 * must be 1, 2 or 3 with wire type 2 (created_at, meta, compacted_meta)
 * and its length must fit the cap, so zeros or garbage stop at once. */
struct pb_guard {
    size_t pos;    /* bytes walked */
    uint64_t v;    /* varint being read */
    int shift;     /* its bit position */
    int want_len;  /* 0: reading a tag, 1: reading a length */
    uint64_t skip; /* payload bytes still to skip */
};

static int
pb_guard_feed(struct pb_guard *g, const uint8_t *p, size_t n, size_t cap, struct tc_err *err)
{
    size_t i = 0;

    while (i < n) {
        if (g->skip) {
            size_t k = (size_t)(g->skip < n - i ? g->skip : n - i);
            g->skip -= k;
            i += k;
            continue;
        }
        if (g->shift > 63)
            return tc_err_set(err, TC_PARSE, "varint too long at byte %zu", g->pos + i);
        g->v |= (uint64_t)(p[i] & 0x7f) << g->shift;
        g->shift += 7;
        if (p[i++] & 0x80)
            continue;
        if (!g->want_len) {
            if (g->v != 0x0a && g->v != 0x12 && g->v != 0x1a)
                return tc_err_set(err, TC_PARSE, "not a TenantIndex: field tag 0x%llx at byte %zu",
                                  (unsigned long long)g->v, g->pos + i - 1);
            g->want_len = 1;
        } else {
            if (g->v > cap)
                return tc_err_set(err, TC_PARSE, "field of %llu bytes at byte %zu exceeds %zu",
                                  (unsigned long long)g->v, g->pos + i - 1, cap);
            g->skip = g->v;
            g->want_len = 0;
        }
        g->v = 0;
        g->shift = 0;
    }
    g->pos += n;
    return TC_OK;
}

int
tindex_decode_pb_zst(const void *p, size_t n, struct tindex *ti, struct tc_err *err)
{
    ZSTD_DCtx *dc = ZSTD_createDCtx();
    ZSTD_inBuffer in = {p, n, 0};
    struct pb_guard pg;
    struct buf raw;
    size_t zr = 1;
    int rc = TC_OK;

    memset(&pg, 0, sizeof(pg));
    tindex_init(ti);
    if (dc == NULL)
        return tc_err_set(err, TC_NOMEM, "index.pb.zst: out of memory");
    buf_init(&raw, tindex_raw_cap(n));
    while (zr != 0) {
        ZSTD_outBuffer o;

        if (buf_reserve(&raw, 1 << 17) != TC_OK) {
            rc = tc_err_set(err, TC_TOOBIG,
                            "index.pb.zst: decompressed size over %zu bytes (%d times the "
                            "%zu-byte object, or %zu)",
                            raw.cap, TINDEX_MAX_RATIO, n, TINDEX_MAX_RAW);
            break;
        }
        o.dst = raw.data + raw.len;
        o.size = 1 << 17;
        o.pos = 0;
        zr = ZSTD_decompressStream(dc, &o, &in);
        if (!ZSTD_isError(zr) &&
            pb_guard_feed(&pg, (const uint8_t *)raw.data + raw.len, o.pos, raw.cap, err) != TC_OK) {
            rc = tc_err_prefix(err, "index.pb.zst");
            break;
        }
        raw.len += o.pos;
        if (ZSTD_isError(zr)) {
            rc = tc_err_set(err, TC_PARSE, "index.pb.zst: zstd: %s", ZSTD_getErrorName(zr));
            break;
        }
        if (zr != 0 && in.pos == in.size && o.pos < o.size) {
            rc = tc_err_set(err, TC_PARSE, "index.pb.zst: truncated zstd frame");
            break;
        }
    }
    ZSTD_freeDCtx(dc);
    if (rc == TC_OK && in.pos != in.size)
        rc = tc_err_set(err, TC_PARSE, "index.pb.zst: trailing bytes after the zstd frame");
    if (rc == TC_OK)
        rc = tindex_decode_pb((const uint8_t *)(raw.data ? raw.data : ""), raw.len, ti, err);
    buf_cleanup(&raw);
    return rc;
}

struct tindex_zst {
    ZSTD_CCtx *cc;
    struct buf *out;
};

static int
tindex_zst_run(struct tindex_zst *z, const void *p, size_t n, ZSTD_EndDirective end)
{
    ZSTD_inBuffer in = {p, n, 0};
    size_t left;

    do {
        ZSTD_outBuffer o;

        if (buf_reserve(z->out, 1 << 17) != TC_OK)
            return TC_TOOBIG;
        o.dst = z->out->data + z->out->len;
        o.size = 1 << 17;
        o.pos = 0;
        left = ZSTD_compressStream2(z->cc, &o, &in, end);
        if (ZSTD_isError(left))
            return TC_ERR;
        z->out->len += o.pos;
    } while (in.pos < in.size || (end == ZSTD_e_end && left != 0));
    return TC_OK;
}

static int
tindex_zst_sink(void *ud, const void *p, size_t n)
{
    return tindex_zst_run(ud, p, n, ZSTD_e_continue);
}

int
tindex_encode_pb_zst(const struct tindex *ti, struct buf *out)
{
    struct tindex_zst z = {ZSTD_createCCtx(), out};
    int rc;

    if (z.cc == NULL)
        return TC_NOMEM;
    ZSTD_CCtx_setParameter(z.cc, ZSTD_c_compressionLevel, 3);
    rc = tindex_pb_to(ti, tindex_zst_sink, &z);
    if (rc == TC_OK)
        rc = tindex_zst_run(&z, "", 0, ZSTD_e_end);
    ZSTD_freeCCtx(z.cc);
    return rc;
}

/* ---- backend I/O ---- */

int
tindex_read(struct backend *b, const char *tenant, struct tindex *ti, const char **which,
            struct tc_err *err)
{
    char key[BACKEND_MAX_KEY];
    struct buf obj;
    int rc;

    tindex_init(ti);
    buf_init(&obj, TINDEX_MAX_OBJ);
    snprintf(key, sizeof(key), "%s/%s", tenant, TINDEX_PB);
    rc = backend_get(b, key, 0, 0, TINDEX_MAX_OBJ, &obj, NULL, err);
    if (rc == TC_OK) {
        if (which)
            *which = TINDEX_PB;
        rc = tindex_decode_pb_zst(obj.data, obj.len, ti, err);
    } else if (rc == TC_NOTFOUND) {
        /* Only a missing pb falls back to JSON, as Tempo's reader does. */
        snprintf(key, sizeof(key), "%s/%s", tenant, TINDEX_JSON);
        buf_reset(&obj);
        rc = backend_get(b, key, 0, 0, TINDEX_MAX_OBJ, &obj, NULL, err);
        if (which)
            *which = TINDEX_JSON;
        if (rc == TC_OK)
            rc = tindex_decode_json_gz(obj.data, obj.len, ti, err);
    }
    buf_cleanup(&obj);
    if (rc != TC_OK && rc != TC_NOTFOUND)
        tc_err_prefix(err, "tenant %s", tenant);
    return rc;
}

int
tindex_write(struct backend *b, const char *tenant, const struct tindex *ti, struct tc_err *err)
{
    char key[BACKEND_MAX_KEY];
    struct buf obj;
    int rc;

    if (ti->nlive == 0 && ti->ncompacted == 0) {
        snprintf(key, sizeof(key), "%s/%s", tenant, TINDEX_PB);
        rc = backend_delete(b, key, err);
        if (rc != TC_OK && rc != TC_NOTFOUND)
            return rc;
        snprintf(key, sizeof(key), "%s/%s", tenant, TINDEX_JSON);
        rc = backend_delete(b, key, err);
        return rc == TC_NOTFOUND ? TC_OK : rc;
    }
    buf_init(&obj, TINDEX_MAX_RAW);
    /* One allocation sized for both objects (~75 B/block as json.gz, ~40 as
     * pb.zst): growing by doubling leaves freed holes in malloc arenas. */
    if (buf_reserve(&obj, (ti->nlive + ti->ncompacted) * 96 + 65536) != TC_OK)
        return tc_err_set(err, TC_NOMEM, "tenant %s: out of memory for the index", tenant);
    rc = tindex_encode_pb_zst(ti, &obj);
    snprintf(key, sizeof(key), "%s/%s", tenant, TINDEX_PB);
    if (rc != TC_OK)
        rc = tc_err_set(err, rc, "tenant %s: encode %s: %s", tenant, TINDEX_PB, tc_strerror(rc));
    else
        rc = backend_put(b, key, obj.data, obj.len, err);
    if (rc == TC_OK) {
        buf_reset(&obj);
        rc = tindex_encode_json_gz(ti, &obj);
        snprintf(key, sizeof(key), "%s/%s", tenant, TINDEX_JSON);
        if (rc != TC_OK)
            rc = tc_err_set(err, rc, "tenant %s: encode %s: %s", tenant, TINDEX_JSON,
                            tc_strerror(rc));
        else
            rc = backend_put(b, key, obj.data, obj.len, err);
    }
    buf_cleanup(&obj);
    return rc;
}
