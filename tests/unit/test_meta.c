/* test_meta.c - uuid, RFC 3339 and BlockMeta codecs against Tempo's bytes. */
#include <zstd.h>

#include "base/buf.h"
#include "base/mem.h"
#include "tempo/meta.h"
#include "base/tc.h"
#include "test.h"
#include "base/timefmt.h"
#include "base/uuid.h"

TEST(uuid_roundtrip)
{
    uint8_t id[16];
    char s[UUID_STR_LEN + 1];

    ASSERT_OK(uuid_parse("B27B0E53-66a0-4505-afd6-434ae3cd4a10", 36, id));
    uuid_format(id, s);
    ASSERT_STR_EQ(s, "b27b0e53-66a0-4505-afd6-434ae3cd4a10");
    ASSERT_EQ(id[0], 0xb2);
    ASSERT_EQ(id[15], 0x10);
    ASSERT_EQ(uuid_parse("b27b0e53-66a0-4505-afd6-434ae3cd4a1", 35, id), TC_PARSE);
    ASSERT_EQ(uuid_parse("b27b0e53x66a0-4505-afd6-434ae3cd4a10", 36, id), TC_PARSE);
    ASSERT_EQ(uuid_parse("g27b0e53-66a0-4505-afd6-434ae3cd4a10", 36, id), TC_PARSE);
    ASSERT_EQ(uuid_parse("../x", 4, id), TC_PARSE);
}

static void
check_time(const char *in, int64_t sec, int32_t nsec, const char *out)
{
    int64_t s;
    int32_t ns;
    char buf[TIMEFMT_MAX_LEN];

    if (timefmt_parse(in, strlen(in), &s, &ns) != TC_OK)
        TEST_FAIL_("parse %s failed", in);
    ASSERT_EQ(s, sec);
    ASSERT_EQ(ns, nsec);
    timefmt_format(s, ns, buf, sizeof(buf));
    ASSERT_STR_EQ(buf, out);
}

TEST(time_rfc3339)
{
    int64_t s;
    int32_t ns;

    check_time("0001-01-01T00:00:00Z", TIMEFMT_GO_ZERO_SEC, 0, "0001-01-01T00:00:00Z");
    check_time("1970-01-01T00:00:00Z", 0, 0, "1970-01-01T00:00:00Z");
    check_time("2024-10-01T03:23:41.935630083Z", 1727753021, 935630083,
               "2024-10-01T03:23:41.935630083Z");
    check_time("2024-10-01T05:23:41.5+02:00", 1727753021, 500000000, "2024-10-01T03:23:41.5Z");
    check_time("2024-09-30T23:23:41.120-04:00", 1727753021, 120000000, "2024-10-01T03:23:41.12Z");
    check_time("2000-02-29T00:00:00.0000000001Z", 951782400, 0, "2000-02-29T00:00:00Z");
    check_time("1969-12-31T23:59:59.999Z", -1, 999000000, "1969-12-31T23:59:59.999Z");
    ASSERT_EQ(timefmt_parse("2023-02-29T00:00:00Z", 20, &s, &ns), TC_PARSE);
    ASSERT_EQ(timefmt_parse("2024-10-01 03:23:41Z", 20, &s, &ns), TC_PARSE);
    ASSERT_EQ(timefmt_parse("2024-10-01T03:23:41", 19, &s, &ns), TC_PARSE);
    ASSERT_EQ(timefmt_parse("2024-10-01T03:23:41.Z", 21, &s, &ns), TC_PARSE);
    ASSERT_EQ(timefmt_parse("2024-10-01T03:23:41+0200", 24, &s, &ns), TC_PARSE);
    ASSERT_EQ(timefmt_parse("2024-13-01T03:23:41Z", 20, &s, &ns), TC_PARSE);
}

TEST(meta_json_vparquet4_old_fields)
{
    TEST_NEED_SHARED(shared);
    char path[1024], *text;
    size_t n;
    struct meta m;
    struct buf out;
    struct tc_err err = {0};

    snprintf(path, sizeof(path),
             "%s/testdata/tempo-blocks/vParquet4/single-tenant/"
             "b27b0e53-66a0-4505-afd6-434ae3cd4a10/meta.json",
             shared);
    text = test_slurp(path, &n);
    ASSERT_OK(meta_decode_json(text, n, &m, &err));
    ASSERT_STR_EQ(m.version, "vParquet4");
    ASSERT_STR_EQ(m.tenant, "single-tenant");
    ASSERT_EQ(m.total_objects, 134);
    ASSERT_EQ(m.size, 77187);
    ASSERT_EQ(m.footer_size, 17711);
    ASSERT_EQ(m.bloom_shards, 1);
    ASSERT_EQ(m.total_records, 1);
    ASSERT_EQ(m.encoding, META_ENC_NONE);
    ASSERT_EQ(m.compacted, 0);
    buf_init(&out, 0);
    ASSERT_OK(meta_encode_json(&m, 0, &out));
    /* Tempo 2.7's form of the same meta: minID/maxID dropped, same order. */
    ASSERT_STR_EQ(out.data,
                  "{\"format\":\"vParquet4\",\"blockID\":\"b27b0e53-66a0-4505-afd6-434ae3cd4a10\","
                  "\"tenantID\":\"single-tenant\",\"startTime\":\"2022-07-04T11:11:09Z\","
                  "\"endTime\":\"2022-07-04T11:11:35Z\",\"totalObjects\":134,\"size\":77187,"
                  "\"compactionLevel\":0,\"encoding\":\"none\",\"indexPageSize\":0,"
                  "\"totalRecords\":1,\"dataEncoding\":\"\",\"bloomShards\":1,\"footerSize\":17711,"
                  "\"dedicatedColumns\":[{\"s\":\"resource\",\"n\":\"ip\"},{\"n\":\"instance\"},"
                  "{\"n\":\"version\"},{\"n\":\"region\"},{\"n\":\"sampler.type\"}]}");
    buf_cleanup(&out);
    tc_free(text);
}

TEST(meta_json_errors_name_field)
{
    struct meta m;
    struct tc_err err = {0};
    const char *bad_id = "{\"blockID\":\"nope\"}";
    const char *bad_time = "{\"startTime\":\"yesterday\"}";
    const char *bad_lvl = "{\"compactionLevel\":-1}";
    const char *bad_enc = "{\"encoding\":\"lzma\"}";
    const char *bad_json = "{\"format\":";

    ASSERT_EQ(meta_decode_json(bad_id, strlen(bad_id), &m, &err), TC_PARSE);
    ASSERT_STR_CONTAINS(err.msg, "blockID");
    ASSERT_EQ(meta_decode_json(bad_time, strlen(bad_time), &m, &err), TC_PARSE);
    ASSERT_STR_CONTAINS(err.msg, "startTime");
    ASSERT_EQ(meta_decode_json(bad_lvl, strlen(bad_lvl), &m, &err), TC_PARSE);
    ASSERT_STR_CONTAINS(err.msg, "compactionLevel");
    ASSERT_EQ(meta_decode_json(bad_enc, strlen(bad_enc), &m, &err), TC_PARSE);
    ASSERT_STR_CONTAINS(err.msg, "encoding");
    ASSERT_EQ(meta_decode_json(bad_json, strlen(bad_json), &m, &err), TC_PARSE);
    ASSERT_STR_CONTAINS(err.msg, "JSON");
}

TEST(meta_intern_shares)
{
    const char *a = meta_intern("vParquet4", 9), *b = meta_intern("vParquet4xx", 9);
    size_t before = meta_intern_count();

    ASSERT(a == b);
    ASSERT(meta_intern("zzz-unique", 10) != a);
    ASSERT_EQ(meta_intern_count(), before + 1);
    ASSERT_STR_EQ(meta_intern("", 0), "");
    /* a NUL ends an interned string, and the lookup stays in bounds */
    ASSERT(meta_intern("zzz-unique\0tail", 15) == meta_intern("zzz-unique", 10));
    ASSERT(meta_intern("\0x", 2)[0] == '\0');
}

/* The first BlockMeta inside the small bucket's index.pb.zst (§1.4) must equal
 * our pb encoding of the same block's meta.json. */
TEST(meta_pb_matches_tempo_bytes)
{
    TEST_NEED_SHARED(shared);
    char path[1024], *zst, *text;
    size_t zn, n, rn;
    uint8_t raw[4096];
    const uint8_t *p, *end;
    uint64_t tag, len;
    struct meta m, back;
    struct buf out;
    struct tc_err err = {0};

    snprintf(path, sizeof(path),
             "%s/testdata/tempo-blocks/backend-test-bucket/single-tenant/index.pb.zst", shared);
    zst = test_slurp(path, &zn);
    rn = ZSTD_decompress(raw, sizeof(raw), zst, zn);
    ASSERT(!ZSTD_isError(rn));
    p = raw;
    end = raw + rn;
    ASSERT_OK(meta_pb_read_varint(&p, end, &tag));
    ASSERT_EQ(tag, 0x0a); /* created_at */
    ASSERT_OK(meta_pb_skip(&p, end, 2));
    ASSERT_OK(meta_pb_read_varint(&p, end, &tag));
    ASSERT_EQ(tag, 0x12); /* first meta */
    ASSERT_OK(meta_pb_read_varint(&p, end, &len));

    snprintf(path, sizeof(path),
             "%s/testdata/tempo-blocks/backend-test-bucket/single-tenant/"
             "709f51b4-4e04-464a-89e0-f1f8d956e633/meta.json",
             shared);
    text = test_slurp(path, &n);
    ASSERT_OK(meta_decode_json(text, n, &m, &err));
    buf_init(&out, 0);
    ASSERT_OK(meta_encode_pb(&m, &out));
    ASSERT_EQ(out.len, len);
    ASSERT_MEM_EQ(out.data, p, len);
    ASSERT_OK(meta_decode_pb(p, len, &back, &err));
    ASSERT(meta_equal(&m, &back));
    ASSERT_EQ(back.encoding, META_ENC_LZ4);
    ASSERT_STR_EQ(back.data_encoding, "adsf");
    ASSERT_EQ(back.start_s, TIMEFMT_GO_ZERO_SEC);
    buf_cleanup(&out);
    tc_free(text);
    tc_free(zst);
}

TEST(meta_pb_garbage)
{
    static const uint8_t trunc[] = {0x0a, 0x05, 'v', '3'};
    static const uint8_t badid[] = {0x12, 0x02, 1, 2};
    static const uint8_t badwire[] = {0x0b};
    static const uint8_t badenc[] = {0x5a, 0x01, 0x63};
    struct meta m;
    struct tc_err err = {0};
    uint8_t rnd[512];
    int i, j;

    ASSERT_EQ(meta_decode_pb(trunc, sizeof(trunc), &m, &err), TC_PARSE);
    ASSERT_EQ(meta_decode_pb(badid, sizeof(badid), &m, &err), TC_PARSE);
    ASSERT_STR_CONTAINS(err.msg, "block_id");
    ASSERT_EQ(meta_decode_pb(badwire, sizeof(badwire), &m, &err), TC_PARSE);
    ASSERT_EQ(meta_decode_pb(badenc, sizeof(badenc), &m, &err), TC_PARSE);
    {
        /* dedicated_columns (field 17) with a NUL once read past the interned
         * copy (found by fuzz_meta) */
        static const uint8_t nuldc[] = {0x8a, 0x01, 0x05, '[', 0, 'x', 'y', ']'};

        ASSERT_EQ(meta_decode_pb(nuldc, sizeof(nuldc), &m, &err), TC_PARSE);
        ASSERT_STR_CONTAINS(err.msg, "dedicated_columns");
    }
    srandom(7);
    for (i = 0; i < 2000; i++) {
        for (j = 0; j < (int)sizeof(rnd); j++)
            rnd[j] = (uint8_t)random();
        (void)meta_decode_pb(rnd, (size_t)(random() % sizeof(rnd)), &m, &err);
    }
}

TEST(meta_json_escaping_like_go)
{
    struct buf b;

    buf_init(&b, 0);
    ASSERT_OK(meta_json_string(&b, "a\"b\\<x>&\n\x01\xe2\x80\xa8"));
    ASSERT_STR_EQ(b.data, "\"a\\\"b\\\\\\u003cx\\u003e\\u0026\\n\\u0001\\u2028\"");
    buf_cleanup(&b);
}

/* The fast scanner must agree with the jansson path wherever it accepts. */
TEST(meta_fast_path_agrees_with_jansson)
{
    TEST_NEED_SHARED(shared);
    static const char *const extra[] = {
        "{\"format\":\"v2\",\"minID\":\"AAAA\",\"x\":[1,{\"a\":[\"]\"]}],\"size\":null}",
        " { \"blockID\" : \"b27b0e53-66a0-4505-afd6-434ae3cd4a10\" , \"size\":0 } ",
        "{\"tenantID\":\"t\\u00e9\",\"compactedTime\":\"2024-01-01T00:00:00+01:00\"}",
        "{\"totalObjects\":-5,\"dedicatedColumns\":[]}",
        "{\"dedicatedColumns\":[{\"s\":\"span\",\"n\":\"a\",\"t\":\"string\"}]}",
    };
    char path[1024], *gz;
    size_t n, i;
    struct buf raw, js;
    struct meta a, b;
    struct tc_err err = {0};
    int j;

    snprintf(path, sizeof(path),
             "%s/testdata/tempo-blocks/vParquet4/single-tenant/"
             "b27b0e53-66a0-4505-afd6-434ae3cd4a10/meta.json",
             shared);
    gz = test_slurp(path, &n);
    buf_init(&raw, 0);
    buf_append(&raw, gz, n);
    tc_free(gz);
    ASSERT_OK(meta_decode_json(raw.data, raw.len, &a, &err));
    ASSERT_OK(meta_decode_json_ref(raw.data, raw.len, &b, &err));
    ASSERT(meta_equal(&a, &b));
    for (i = 0; i < TC_ARRAY_LEN(extra); i++) {
        int ra = meta_decode_json(extra[i], strlen(extra[i]), &a, &err);
        int rb = meta_decode_json_ref(extra[i], strlen(extra[i]), &b, &err);

        ASSERT_EQ(ra, rb);
        if (ra == TC_OK && !meta_equal(&a, &b))
            TEST_FAIL_("extra[%zu] decodes differently", i);
    }
    /* Random single-byte mutations of a real meta. */
    buf_init(&js, 0);
    srandom(11);
    for (j = 0; j < 20000; j++) {
        buf_reset(&js);
        buf_append(&js, raw.data, raw.len);
        for (i = 0; i < 1 + (size_t)(j % 3); i++)
            js.data[random() % js.len] = "\"{}[],:0123456789-.eE \\nulatrfsx\x80"[random() % 33];
        if (meta_decode_json(js.data, js.len, &a, &err) == TC_OK) {
            if (meta_decode_json_ref(js.data, js.len, &b, &err) != TC_OK)
                TEST_FAIL_("fast path accepted what jansson rejects: %s", js.data);
            if (!meta_equal(&a, &b))
                TEST_FAIL_("decodes differ: %s", js.data);
        }
    }
    buf_cleanup(&js);
    buf_cleanup(&raw);
}

TEST_MAIN(TEST_ENTRY(uuid_roundtrip), TEST_ENTRY(meta_fast_path_agrees_with_jansson),
          TEST_ENTRY(time_rfc3339), TEST_ENTRY(meta_json_vparquet4_old_fields),
          TEST_ENTRY(meta_json_errors_name_field), TEST_ENTRY(meta_intern_shares),
          TEST_ENTRY(meta_pb_matches_tempo_bytes), TEST_ENTRY(meta_pb_garbage),
          TEST_ENTRY(meta_json_escaping_like_go))
