/* test_tindex.c - tenant index codecs against Tempo's files, and I/O rules. */
#include <sys/resource.h>
#include <zlib.h>
#include <zstd.h>

#include "backend/backend.h"
#include "base/buf.h"
#include "base/mem.h"
#include "base/tc.h"
#include "test.h"
#include "base/timefmt.h"
#include "tempo/tindex.h"
#include "base/uuid.h"

static void
assert_same(const struct tindex *a, const struct tindex *b)
{
    size_t i;

    ASSERT_EQ(a->created_s, b->created_s);
    ASSERT_EQ(a->created_ns, b->created_ns);
    ASSERT_EQ(a->nlive, b->nlive);
    ASSERT_EQ(a->ncompacted, b->ncompacted);
    for (i = 0; i < a->nlive; i++)
        if (!meta_equal(&a->live[i], &b->live[i]))
            TEST_FAIL_("live meta %zu differs", i);
    for (i = 0; i < a->ncompacted; i++)
        if (!meta_equal(&a->compacted[i], &b->compacted[i]))
            TEST_FAIL_("compacted meta %zu differs", i);
}

TEST(tenant3_json_counts_and_roundtrip)
{
    TEST_NEED_SHARED(shared);
    char path[1024], *gz;
    size_t n;
    struct tindex ti, pb, js;
    struct buf out;
    struct tc_err err = {0};
    char id[UUID_STR_LEN + 1];
    static const uint8_t hdr[] = {0x1f, 0x8b, 0x08, 0x08, 0x00, 0x09, 0x6e, 0x88, 0x00, 0xff, 'i',
                                  'n',  'd',  'e',  'x',  '.',  'j',  's',  'o',  'n',  0};

    snprintf(path, sizeof(path), "%s/testdata/tempo-blocks/backend-test-bucket/3/index.json.gz",
             shared);
    gz = test_slurp(path, &n);
    ASSERT_MEM_EQ(gz, hdr, sizeof(hdr)); /* Tempo's own header, for reference */
    ASSERT_OK(tindex_decode_json_gz(gz, n, &ti, &err));
    ASSERT_EQ(ti.nlive, 22435);
    ASSERT_EQ(ti.ncompacted, 3264);
    uuid_format(ti.live[0].id, id);
    ASSERT_STR_EQ(id, "a3949580-4ee9-4ed9-b661-dca5d863922a");
    ASSERT_EQ(ti.live[0].size, 10717822052ULL);
    ASSERT_EQ(ti.live[0].replication_factor, 0);
    ASSERT_EQ(ti.compacted[ti.ncompacted - 1].replication_factor, 1);
    ASSERT_EQ(ti.created_ns, 935630083);
    ASSERT(ti.compacted[0].compacted);
    ASSERT_EQ(ti.compacted[0].compacted_s, 1727751479); /* 2024-10-01T02:57:59Z */
    /* Every live meta of tenant 3 shares one interned dedicated-columns text. */
    ASSERT(ti.live[0].dedicated == ti.live[ti.nlive - 1].dedicated);

    buf_init(&out, TINDEX_MAX_RAW);
    ASSERT_OK(tindex_encode_json_gz(&ti, &out));
    ASSERT_MEM_EQ(out.data, hdr, sizeof(hdr));
    ASSERT_OK(tindex_decode_json_gz(out.data, out.len, &js, &err));
    assert_same(&ti, &js);
    buf_reset(&out);
    ASSERT_OK(tindex_encode_pb_zst(&ti, &out));
    ASSERT_OK(tindex_decode_pb_zst(out.data, out.len, &pb, &err));
    assert_same(&ti, &pb);
    buf_cleanup(&out);
    tindex_cleanup(&ti);
    tindex_cleanup(&js);
    tindex_cleanup(&pb);
    tc_free(gz);
}

TEST(small_bucket_pb)
{
    TEST_NEED_SHARED(shared);
    char path[1024], *zst, id[UUID_STR_LEN + 1];
    size_t n;
    struct tindex ti, back;
    struct buf out;
    struct tc_err err = {0};

    snprintf(path, sizeof(path),
             "%s/testdata/tempo-blocks/backend-test-bucket/single-tenant/index.pb.zst", shared);
    zst = test_slurp(path, &n);
    ASSERT_OK(tindex_decode_pb_zst(zst, n, &ti, &err));
    ASSERT_EQ(ti.nlive, 3);
    ASSERT_EQ(ti.ncompacted, 1);
    ASSERT_STR_EQ(ti.live[0].version, "v3");
    ASSERT_STR_EQ(ti.live[0].tenant, "single-tenant");
    ASSERT_STR_EQ(ti.live[0].data_encoding, "adsf");
    ASSERT_EQ(ti.live[0].encoding, META_ENC_LZ4);
    ASSERT_EQ(ti.live[0].start_s, TIMEFMT_GO_ZERO_SEC);
    ASSERT_STR_EQ(ti.live[1].version, "v4");
    ASSERT_EQ(ti.live[1].encoding, META_ENC_LZ4_1M);
    ASSERT_STR_EQ(ti.live[2].version, "vParquet5");
    ASSERT_STR_EQ(ti.compacted[0].version, "v1");
    ASSERT_EQ(ti.compacted[0].encoding, META_ENC_GZIP);
    uuid_format(ti.compacted[0].id, id);
    ASSERT_STR_EQ(id, "fa599055-6305-43a9-9a17-5ff9b208cd01");
    ASSERT(ti.compacted[0].compacted_s > 1700000000);
    ASSERT(ti.created_s > 1700000000);
    /* Our pb encoder reproduces Tempo's exact message bytes. */
    {
        uint8_t raw[4096];
        size_t rn = ZSTD_decompress(raw, sizeof(raw), zst, n);

        buf_init(&out, 0);
        ASSERT_OK(tindex_encode_pb(&ti, &out));
        ASSERT_EQ(out.len, rn);
        ASSERT_MEM_EQ(out.data, raw, rn);
        buf_reset(&out);
    }
    ASSERT_OK(tindex_encode_pb_zst(&ti, &out));
    ASSERT_OK(tindex_decode_pb_zst(out.data, out.len, &back, &err));
    assert_same(&ti, &back);
    buf_cleanup(&out);
    tindex_cleanup(&ti);
    tindex_cleanup(&back);
    tc_free(zst);
}

TEST(corrupt_inputs_are_errors)
{
    TEST_NEED_SHARED(shared);
    char path[1024], *gz;
    size_t n, cut;
    struct tindex ti;
    struct tc_err err = {0};
    uint8_t garbage[256];
    int i;

    snprintf(path, sizeof(path), "%s/testdata/tempo-blocks/backend-test-bucket/3/index.json.gz",
             shared);
    gz = test_slurp(path, &n);
    for (cut = 0; cut < n; cut += n / 7 + 1) {
        ASSERT_NE(tindex_decode_json_gz(gz, cut, &ti, &err), TC_OK);
        ASSERT_EQ(ti.nlive, 0);
    }
    ASSERT_STR_CONTAINS(err.msg, "index.json");
    for (i = 0; i < (int)sizeof(garbage); i++)
        garbage[i] = (uint8_t)(i * 37 + 11);
    ASSERT_EQ(tindex_decode_pb_zst(garbage, sizeof(garbage), &ti, &err), TC_PARSE);
    ASSERT_STR_CONTAINS(err.msg, "index.pb.zst");
    {
        /* A valid zstd frame holding garbage protobuf. */
        uint8_t z[512];
        size_t zn = ZSTD_compress(z, sizeof(z), "\x12\x7f\x01\x02", 4, 1);

        ASSERT_EQ(tindex_decode_pb_zst(z, zn, &ti, &err), TC_PARSE);
        ASSERT_STR_CONTAINS(err.msg, "index.pb");
    }
    tc_free(gz);
}

TEST(read_write_order_and_fallback)
{
    const char *dir = test_tmpdir();
    struct tc_err err = {0};
    struct backend *b = backend_local_new(dir, &err);
    struct tindex ti, back;
    struct meta m;
    const char *which = NULL;
    struct buf obj;
    char path[1024];
    struct stat st;

    ASSERT(b != NULL);
    tindex_init(&ti);
    ASSERT_EQ(tindex_read(b, "t1", &back, &which, &err), TC_NOTFOUND);
    meta_init(&m);
    m.id[0] = 0x42;
    m.version = meta_intern("vParquet4", 9);
    m.tenant = meta_intern("t1", 2);
    ti.live = &m;
    ti.nlive = 1;
    ti.created_s = 1700000000;
    ASSERT_OK(tindex_write(b, "t1", &ti, &err));
    ASSERT_OK(tindex_read(b, "t1", &back, &which, &err));
    ASSERT_STR_EQ(which, TINDEX_PB);
    assert_same(&ti, &back);
    tindex_cleanup(&back);
    /* A corrupt pb is an error, not a silent fallback to JSON. */
    ASSERT_OK(backend_put(b, "t1/index.pb.zst", "junk", 4, &err));
    ASSERT_EQ(tindex_read(b, "t1", &back, &which, &err), TC_PARSE);
    /* A missing pb falls back to JSON. */
    ASSERT_OK(backend_delete(b, "t1/index.pb.zst", &err));
    ASSERT_OK(tindex_read(b, "t1", &back, &which, &err));
    ASSERT_STR_EQ(which, TINDEX_JSON);
    assert_same(&ti, &back);
    tindex_cleanup(&back);
    buf_init(&obj, 0);
    ASSERT_OK(backend_get(b, "t1/index.json.gz", 0, 0, 0, &obj, NULL, &err));
    ASSERT_EQ((unsigned char)obj.data[3], 0x08);
    ASSERT_EQ((unsigned char)obj.data[9], 0xff);
    buf_cleanup(&obj);
    /* Empty index: both files go away. */
    ti.nlive = 0;
    ASSERT_OK(tindex_write(b, "t1", &ti, &err));
    snprintf(path, sizeof(path), "%s/t1/index.json.gz", dir);
    ASSERT_NE(stat(path, &st), 0);
    ASSERT_EQ(tindex_read(b, "t1", &back, &which, &err), TC_NOTFOUND);
    backend_free(b);
}

/* ---- decompression bombs (#18 point 1) ---- */

static long
maxrss_mb(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

/* head, then `fill` bytes of byte c, then tail, gzipped in 1 MiB steps. */
static void
gz_bomb(struct buf *out, const char *head, int c, size_t fill, const char *tail)
{
    static char chunk[1 << 20];
    z_stream zs;
    size_t left = fill;

    memset(&zs, 0, sizeof(zs));
    ASSERT_EQ(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY), Z_OK);
    memset(chunk, c, sizeof(chunk));
    for (int part = 0; part < 3; part++) {
        for (;;) {
            const char *in = part == 0 ? head : part == 2 ? tail : chunk;
            size_t n = part == 1 ? (left < sizeof(chunk) ? left : sizeof(chunk)) : strlen(in);
            int last = part == 2;
            zs.next_in = (Bytef *)(uintptr_t)in;
            zs.avail_in = (uInt)n;
            do {
                ASSERT_OK(buf_reserve(out, 1 << 16));
                zs.next_out = (Bytef *)out->data + out->len;
                zs.avail_out = 1 << 16;
                ASSERT(deflate(&zs, last ? Z_FINISH : Z_NO_FLUSH) != Z_STREAM_ERROR);
                out->len += (1 << 16) - zs.avail_out;
            } while (zs.avail_out == 0);
            if (part != 1 || (left -= n) == 0)
                break;
        }
    }
    deflateEnd(&zs);
}

/* 1 GiB of zeros in a 1 MB index.json.gz: refused at the first byte. Before
 * the guard it inflated up to the 2 GiB cap, with the RSS to match. */
TEST(json_gz_zero_bomb_is_refused_cheaply)
{
    struct buf gz;
    struct tindex ti;
    struct tc_err err = {0};
    long before;

    buf_init(&gz, (size_t)64 << 20);
    gz_bomb(&gz, "", 0, (size_t)1 << 30, "");
    ASSERT_LT(gz.len, (size_t)4 << 20);
    before = maxrss_mb();
    ASSERT_EQ(tindex_decode_json_gz(gz.data, gz.len, &ti, &err), TC_PARSE);
    ASSERT_STR_CONTAINS(err.msg, "index.json.gz");
    ASSERT_LT(maxrss_mb() - before, 64);
    buf_cleanup(&gz);
}

/* A valid index padded with 1 GiB of spaces decodes, and the spaces are
 * dropped as they are inflated: memory stays small. */
TEST(json_gz_whitespace_bomb_stays_small)
{
    struct buf gz;
    struct tindex ti;
    struct tc_err err = {0};
    long before;

    buf_init(&gz, (size_t)64 << 20);
    gz_bomb(&gz, "{\"created_at\":\"2024-10-01T03:23:41Z\",\"meta\":[", ' ', (size_t)1 << 30,
            "],\"compacted\":[]}");
    before = maxrss_mb();
    ASSERT_OK(tindex_decode_json_gz(gz.data, gz.len, &ti, &err));
    ASSERT_EQ(ti.nlive, 0);
    ASSERT_LT(maxrss_mb() - before, 64);
    tindex_cleanup(&ti);
    buf_cleanup(&gz);
}

/* Text that is JSON-looking but holds garbage bytes is refused as it
 * inflates, naming the offset. */
TEST(json_gz_binary_garbage_is_refused)
{
    struct buf gz;
    struct tindex ti;
    struct tc_err err = {0};

    buf_init(&gz, (size_t)64 << 20);
    gz_bomb(&gz, "{\"meta\":[", 1, 4096, "]}");
    ASSERT_EQ(tindex_decode_json_gz(gz.data, gz.len, &ti, &err), TC_PARSE);
    ASSERT_STR_CONTAINS(err.msg, "outside a JSON string");
    buf_cleanup(&gz);
}

/* 1 GiB of zeros as index.pb.zst: field tag 0 is refused at once. */
TEST(pb_zst_zero_bomb_is_refused_cheaply)
{
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    static char zeros[1 << 20];
    struct buf z;
    struct tindex ti;
    struct tc_err err = {0};
    long before;
    int i;

    buf_init(&z, (size_t)64 << 20);
    for (i = 0; i < 1024; i++) {
        ZSTD_inBuffer in = {zeros, sizeof(zeros), 0};
        while (in.pos < in.size) {
            ZSTD_outBuffer o;
            ASSERT_OK(buf_reserve(&z, 1 << 16));
            o.dst = z.data + z.len;
            o.size = 1 << 16;
            o.pos = 0;
            ASSERT(!ZSTD_isError(ZSTD_compressStream2(cc, &o, &in, ZSTD_e_continue)));
            z.len += o.pos;
        }
    }
    for (;;) {
        ZSTD_inBuffer in = {NULL, 0, 0};
        ZSTD_outBuffer o;
        size_t left;
        ASSERT_OK(buf_reserve(&z, 1 << 16));
        o.dst = z.data + z.len;
        o.size = 1 << 16;
        o.pos = 0;
        left = ZSTD_compressStream2(cc, &o, &in, ZSTD_e_end);
        z.len += o.pos;
        if (left == 0)
            break;
    }
    ZSTD_freeCCtx(cc);
    before = maxrss_mb();
    ASSERT_EQ(tindex_decode_pb_zst(z.data, z.len, &ti, &err), TC_PARSE);
    ASSERT_STR_CONTAINS(err.msg, "not a TenantIndex");
    ASSERT_LT(maxrss_mb() - before, 64);
    buf_cleanup(&z);
}

TEST_MAIN(TEST_ENTRY(tenant3_json_counts_and_roundtrip), TEST_ENTRY(small_bucket_pb),
          TEST_ENTRY(corrupt_inputs_are_errors), TEST_ENTRY(read_write_order_and_fallback),
          TEST_ENTRY(json_gz_zero_bomb_is_refused_cheaply),
          TEST_ENTRY(json_gz_whitespace_bomb_stays_small),
          TEST_ENTRY(json_gz_binary_garbage_is_refused),
          TEST_ENTRY(pb_zst_zero_bomb_is_refused_cheaply))
