/* test_backend_s3.c - the S3 backend against a real RGW.
 *
 * Needs TC_S3_ENDPOINT (host:port), TC_S3_ACCESS_KEY, TC_S3_SECRET_KEY and
 * the buckets "tempo" and "tempo2"; tests/s3/test_s3.sh starts RGW and sets
 * them. TC_S3_PROXY is a fault proxy that answers every 3rd request with 503.
 */
#include "backend/backend.h"
#include "backend/backend_s3.h"
#include "blocklist/blocklist.h"
#include "base/mem.h"
#include "base/metrics.h"
#include "blocklist/poll.h"
#include "base/tc.h"
#include "test.h"
#include "base/uuid.h"

/* One registry for the whole process; the backend borrows it. */
static struct metrics *
reg(void)
{
    static struct metrics *r;

    if (r == NULL)
        r = metrics_new();
    return r;
}

static struct backend *
s3(const char *endpoint, const char *bucket, const char *prefix, int pathstyle, const char *secret,
   int shards)
{
    struct backend_s3_cfg c;
    struct tc_err err = {0};
    struct backend *b;

    memset(&c, 0, sizeof(c));
    c.endpoint = endpoint;
    c.bucket = bucket;
    c.prefix = prefix;
    c.access_key = getenv("TC_S3_ACCESS_KEY");
    c.secret_key = secret ? secret : getenv("TC_S3_SECRET_KEY");
    c.insecure = 1;
    /* pathstyle 1: forcepathstyle; 0: bucket_lookup_type 1 (virtual host); -1: auto */
    c.forcepathstyle = pathstyle == 1;
    c.bucket_lookup = pathstyle == 0 ? 1 : 0;
    c.list_blocks_concurrency = shards;
    c.metrics = reg();
    b = backend_s3_new(&c, &err);
    if (b == NULL)
        TEST_FAIL_("backend_s3_new: %s", err.msg);
    return b;
}

#define NEED_S3(ep)                                                                                \
    const char *ep = getenv("TC_S3_ENDPOINT");                                                     \
    if (ep == NULL)                                                                                \
    TEST_SKIP("skipped: no TC_S3_ENDPOINT (run tests/s3/test_s3.sh)")

TEST(wrong_secret_is_denied)
{
    NEED_S3(ep);
    struct backend *b = s3(ep, "tempo", NULL, 1, "not-the-secret", 3);
    struct buf out;
    struct tc_err err = {0};

    buf_init(&out, 0);
    ASSERT_EQ(backend_get(b, "x/y", 0, 0, 0, &out, NULL, &err), TC_DENIED);
    ASSERT_STR_CONTAINS(err.msg, "SignatureDoesNotMatch");
    buf_cleanup(&out);
    backend_free(b);
}

static void
object_ops(struct backend *b)
{
    struct buf out;
    struct tc_err err = {0};
    int64_t mt = 0;
    void *h;
    char *big = tc_malloc(6 << 20);

    buf_init(&out, 0);
    ASSERT_OK(backend_put(b, "t/a b+c&d/obj", "hello world", 11, &err));
    ASSERT_OK(backend_get(b, "t/a b+c&d/obj", 0, 0, 0, &out, &mt, &err));
    ASSERT_STR_EQ(out.data, "hello world");
    ASSERT(mt > 1700000000);
    buf_reset(&out);
    ASSERT_OK(backend_get(b, "t/a b+c&d/obj", 6, 5, 0, &out, NULL, &err));
    ASSERT_STR_EQ(out.data, "world");
    buf_reset(&out);
    ASSERT_EQ(backend_get(b, "t/a b+c&d/obj", 0, 0, 4, &out, NULL, &err), TC_TOOBIG);
    ASSERT_EQ(backend_get(b, "t/missing", 0, 0, 0, &out, NULL, &err), TC_NOTFOUND);
    ASSERT_OK(backend_copy(b, "t/a b+c&d/obj", "t/copy", &err));
    buf_reset(&out);
    ASSERT_OK(backend_get(b, "t/copy", 0, 0, 0, &out, NULL, &err));
    ASSERT_STR_EQ(out.data, "hello world");
    ASSERT_OK(backend_delete(b, "t/copy", &err));
    ASSERT_EQ(backend_get(b, "t/copy", 0, 0, 0, &out, NULL, &err), TC_NOTFOUND);
    /* Multipart: two parts (5 MiB + rest). */
    memset(big, 'x', 6 << 20);
    ASSERT_OK(backend_append_begin(b, "t/multi", &h, &err));
    ASSERT_OK(backend_append(b, h, big, 3 << 20, &err));
    ASSERT_OK(backend_append(b, h, big, 3 << 20, &err));
    ASSERT_OK(backend_append(b, h, "END", 3, &err));
    ASSERT_OK(backend_append_end(b, h, &err));
    buf_reset(&out);
    ASSERT_OK(backend_get(b, "t/multi", (6 << 20), 0, 0, &out, NULL, &err));
    ASSERT_STR_EQ(out.data, "END");
    tc_free(big);
    buf_cleanup(&out);
}

TEST(object_ops_path_style)
{
    NEED_S3(ep);
    struct backend *b = s3(ep, "tempo", NULL, 1, NULL, 3);

    object_ops(b);
    backend_free(b);
}

TEST(object_ops_virtual_host_with_prefix)
{
    /* RGW runs with rgw_dns_name=localhost; curl resolves *.localhost to loopback. */
    NEED_S3(ep);
    const char *host = getenv("TC_S3_HOSTNAME");
    struct backend *b = s3(host ? host : ep, "tempo2", "/some/prefix/", 0, NULL, 3);
    struct backend *raw = s3(ep, "tempo2", NULL, 1, NULL, 3);
    struct buf out;
    struct tc_err err = {0};

    object_ops(b);
    buf_init(&out, 0);
    ASSERT_OK(backend_get(raw, "some/prefix/t/a b+c&d/obj", 0, 0, 0, &out, NULL, &err));
    ASSERT_STR_EQ(out.data, "hello world");
    buf_cleanup(&out);
    backend_free(b);
    backend_free(raw);
}

/* bucket_lookup_type 0 (auto), as Tempo's default: an IP endpoint is not an
 * Amazon one, so path style; virtual host would look up tempo.127.0.0.1. */
TEST(ip_endpoint_auto_lookup_is_path_style)
{
    NEED_S3(ep);
    struct backend *b;

    ASSERT(ep[0] >= '0' && ep[0] <= '9'); /* RGW_ENDPOINT is 127.0.0.1:port */
    b = s3(ep, "tempo", NULL, -1, NULL, 3);
    object_ops(b);
    backend_free(b);
}

/* minio-go's auto rule, by endpoint (no server needed). */
TEST(auto_lookup_rule)
{
    static const struct {
        const char *ep, *bucket;
        int https, virt;
    } c[] = {
        {"s3.amazonaws.com", "b", 1, 1},
        {"s3.us-east-2.amazonaws.com", "b", 1, 1},
        {"s3-eu-west-1.amazonaws.com", "b", 1, 1},
        {"s3.dualstack.eu-west-1.amazonaws.com", "b", 1, 1},
        {"s3-fips.us-gov-west-1.amazonaws.com", "b", 1, 1},
        {"s3.cn-north-1.amazonaws.com.cn", "b", 1, 1},
        {"bucket.vpce-1a2b.s3.us-east-1.vpce.amazonaws.com", "b", 1, 1},
        {"storage.googleapis.com", "b", 1, 1},
        {"oss-cn-hangzhou.aliyuncs.com", "b", 1, 1},
        {"s3.amazonaws.com:443", "b", 1, 1},
        {"s3.amazonaws.com", "my.bucket", 1, 0}, /* a dot over https */
        {"s3.amazonaws.com", "my.bucket", 0, 1},
        {"127.0.0.1:7480", "b", 0, 0},
        {"10.0.0.5", "b", 1, 0},
        {"[::1]:9000", "b", 0, 0},
        {"localhost:9000", "b", 0, 0},
        {"minio.storage.svc:9000", "b", 0, 0},
        {"rgw.example.com", "b", 1, 0},
        {"ec2-1-2-3-4.compute.amazonaws.com", "b", 1, 0},
    };
    size_t i;

    for (i = 0; i < TC_ARRAY_LEN(c); i++)
        if (backend_s3_virtual_host(c[i].ep, c[i].bucket, c[i].https) != c[i].virt)
            TEST_FAIL_("%s bucket %s https=%d: want virtual=%d", c[i].ep, c[i].bucket, c[i].https,
                       c[i].virt);
}

static int
count_obj(const struct backend_object *o, void *ud)
{
    (*(size_t *)ud)++;
    return TC_OK;
}

/* Puts 700 blocks (meta + 1 data file = 1400 keys) for tenant "paged" and a
 * root file; then lists with 1 and 5 shards. */
TEST(paging_shards_prefix_tenants)
{
    NEED_S3(ep);
    struct backend *b = s3(ep, "tempo", "pfx", 1, NULL, 5);
    struct backend *one = s3(ep, "tempo", "pfx", 1, NULL, 1);
    struct backend_blocks b5 = {0}, b1 = {0};
    struct backend_strlist ten = {0};
    struct tc_err err = {0};
    size_t i, nfound = 0;
    char key[200], id[UUID_STR_LEN + 1];

    for (i = 0; i < 700; i++) {
        uint8_t u[16];

        memset(u, 0, 16);
        u[0] = (uint8_t)(i * 7);
        u[1] = (uint8_t)(i >> 8);
        u[15] = (uint8_t)i;
        uuid_format(u, id);
        snprintf(key, sizeof(key), "paged/%s/%s", id,
                 i % 10 == 0 ? "meta.compacted.json" : "meta.json");
        ASSERT_OK(backend_put(b, key, "{}", 2, &err));
        snprintf(key, sizeof(key), "paged/%s/data.parquet", id);
        ASSERT_OK(backend_put(b, key, "x", 1, &err));
    }
    ASSERT_OK(backend_put(b, "tempo_cluster_seed.json", "{}", 2, &err));
    ASSERT_OK(backend_put(b, "other/x", "{}", 2, &err));
    ASSERT_OK(backend_tenants(b, &ten, &err));
    ASSERT_EQ(ten.n, 3); /* paged, other, interop; the root file is no tenant */
    ASSERT_OK(backend_blocks(b, "paged", &b5, &err));
    ASSERT_OK(backend_blocks(one, "paged", &b1, &err));
    ASSERT_EQ(b5.nlive, 630);
    ASSERT_EQ(b5.ncompacted, 70);
    ASSERT_EQ(b1.nlive, 630);
    ASSERT_EQ(b1.ncompacted, 70);
    ASSERT_EQ(b1.objects, 1400);
    ASSERT_GE(backend_requests(one, BACKEND_OP_LIST), 2); /* > 1000 keys: paged */
    ASSERT_OK(backend_find(b, "paged/", count_obj, &nfound, &err));
    ASSERT_EQ(nfound, 1400);
    backend_strlist_cleanup(&ten);
    backend_blocks_cleanup(&b5);
    backend_blocks_cleanup(&b1);
    backend_free(b);
    backend_free(one);
}

TEST(retries_through_fault_proxy)
{
    NEED_S3(ep);
    const char *px = getenv("TC_S3_PROXY");
    struct backend *b;
    struct buf out;
    struct tc_err err = {0};
    int i;

    if (px == NULL)
        TEST_SKIP("skipped: no TC_S3_PROXY");
    b = s3(px, "tempo", "retry", 1, NULL, 3);
    buf_init(&out, 0);
    for (i = 0; i < 6; i++) {
        char key[32];

        snprintf(key, sizeof(key), "t/k%d", i);
        if (backend_put(b, key, "v", 1, &err) != TC_OK)
            TEST_FAIL_("put %s through the proxy: %s", key, err.msg);
        buf_reset(&out);
        if (backend_get(b, key, 0, 0, 0, &out, NULL, &err) != TC_OK)
            TEST_FAIL_("get %s through the proxy: %s", key, err.msg);
        ASSERT_STR_EQ(out.data, "v");
    }
    /* 12 logical requests, every 3rd answer is a 503: more than 12 sent. */
    ASSERT_GT(backend_requests(b, BACKEND_OP_GET) + backend_requests(b, BACKEND_OP_PUT), 12);
    buf_cleanup(&out);
    backend_free(b);
}

/* A store that ignores start-after (Tempo #4241): shards see low IDs, so
 * the backend falls back to one shard and still lists every block. */
TEST(start_after_ignored_falls_back_to_one_shard)
{
    NEED_S3(ep);
    const char *px = getenv("TC_S3_PROXY_NOSA");
    struct backend *b;
    struct backend_blocks bb = {0};
    struct tc_err err = {0};
    unsigned long n1;

    if (px == NULL)
        TEST_SKIP("skipped: no TC_S3_PROXY_NOSA");
    b = s3(px, "tempo", "pfx", 1, NULL, 4);
    ASSERT_OK(backend_blocks(b, "paged", &bb, &err));
    ASSERT_EQ(bb.nlive, 630);
    ASSERT_EQ(bb.ncompacted, 70);
    backend_blocks_cleanup(&bb);
    n1 = backend_requests(b, BACKEND_OP_LIST);
    ASSERT_GE(n1, 5); /* shards that hit a low ID, then 2 pages for one shard */
    /* The next listing goes straight to one shard: 1400 keys = 2 pages. */
    ASSERT_OK(backend_blocks(b, "paged", &bb, &err));
    ASSERT_EQ(bb.nlive, 630);
    ASSERT_EQ(backend_requests(b, BACKEND_OP_LIST) - n1, 2);
    backend_blocks_cleanup(&bb);
    backend_free(b);
}

struct listed {
    char keys[8][128];
    uint64_t sizes[8];
    int prefix[8];
    int n;
};

static int
listed_cb(const char *key, int64_t mtime, uint64_t size, int is_prefix, void *ud)
{
    struct listed *l = ud;

    (void)mtime;
    if (l->n >= 8)
        return TC_ERR;
    snprintf(l->keys[l->n], sizeof(l->keys[0]), "%s", key);
    l->sizes[l->n] = size;
    l->prefix[l->n++] = is_prefix;
    return TC_OK;
}

/* The listing parser on its own (what tests/fuzz/fuzz_s3_list.c attacks):
 * entities, the strip of the root prefix, entries shorter than it, a size
 * that is not NUL-terminated, and a truncated page without a token. */
TEST(list_page_parser)
{
    static const char page[] =
        "<ListBucketResult><IsTruncated>true</IsTruncated>"
        "<NextContinuationToken>a&amp;b</NextContinuationToken>"
        "<Contents><Key>root/t/x&lt;1&gt;/meta.json</Key><Size>42</Size></Contents>"
        "<Contents><Key>ro</Key><Size>1</Size></Contents>"
        "<CommonPrefixes><Prefix>root/ten&#x41;nt/</Prefix></CommonPrefixes>"
        "<Contents><Key>root/t/last</Key><Size>77";
    struct listed l = {0};
    struct buf token;
    struct tc_err err = {0};
    int more = 0;

    buf_init(&token, 0);
    ASSERT_EQ(backend_s3_list_page(page, sizeof(page) - 1, 5, listed_cb, &l, &token, &more, &err),
              TC_OK);
    ASSERT_EQ(more, 1);
    ASSERT_STR_EQ(token.data, "a&b");
    ASSERT_EQ(l.n, 2); /* "ro" is shorter than the root; the unterminated entry is not an entry */
    ASSERT_STR_EQ(l.keys[0], "t/x<1>/meta.json");
    ASSERT_EQ(l.sizes[0], 42);
    ASSERT_STR_EQ(l.keys[1], "tenAnt/");
    ASSERT_EQ(l.prefix[1], 1);

    /* the size stops at the element's end, not at the next digits in the body */
    memset(&l, 0, sizeof(l));
    {
        static const char p2[] = "<Contents><Key>k</Key><Size>12</Size></Contents>99";

        ASSERT_EQ(backend_s3_list_page(p2, sizeof(p2) - 1, 0, listed_cb, &l, &token, &more, &err),
                  TC_OK);
    }
    ASSERT_EQ(l.n, 1);
    ASSERT_EQ(l.sizes[0], 12);
    ASSERT_EQ(more, 0);

    memset(&l, 0, sizeof(l));
    ASSERT_EQ(backend_s3_list_page("<IsTruncated>true</IsTruncated>", 31, 0, listed_cb, &l, &token,
                                   &more, &err),
              TC_PARSE); /* 31 bytes: the whole string */
    ASSERT(strstr(err.msg, "without a token") != NULL);
    ASSERT_EQ(backend_s3_list_page("<Contents><Key>&#0;</Key></Contents>", 36, 0, listed_cb, &l,
                                   &token, &more, &err),
              TC_PARSE); /* a NUL escape is not key material */
    {
        /* an empty key once reached the callbacks as NULL (found by fuzz_s3_list) */
        static const char p3[] = "<Contents><Key></Key></Contents><CommonPrefixes><Prefix>"
                                 "ro</Prefix></CommonPrefixes>";

        ASSERT_EQ(backend_s3_list_page(p3, sizeof(p3) - 1, 0, listed_cb, &l, &token, &more, &err),
                  TC_OK);
        ASSERT_EQ(l.n, 1);
        ASSERT_STR_EQ(l.keys[0], "ro");
        l.n = 0;
        ASSERT_EQ(backend_s3_list_page(p3, sizeof(p3) - 1, 2, listed_cb, &l, &token, &more, &err),
                  TC_OK);
        ASSERT_EQ(l.n, 0); /* "ro" is the root itself */
    }
    ASSERT_EQ(l.n, 0);
    buf_cleanup(&token);
}

TEST(poll_over_s3_and_boto3_interop)
{
    NEED_S3(ep);
    struct backend *b = s3(ep, "tempo", "pfx", 1, NULL, 3);
    struct blocklist *bl = blocklist_new();
    struct poll_cfg cfg;
    struct poll_stats st;
    struct poller *p;
    struct tc_err err = {0};
    struct buf out;

    /* boto3 wrote interop/from-boto3.txt before this test ran. */
    buf_init(&out, 0);
    ASSERT_OK(backend_get(b, "interop/from-boto3.txt", 0, 0, 0, &out, NULL, &err));
    ASSERT_STR_EQ(out.data, "written by boto3");
    ASSERT_OK(backend_put(b, "interop/from-c.txt", "written by C", 12, &err));
    poll_cfg_defaults(&cfg);
    cfg.tenant_concurrency = 2;
    p = poller_new(b, &cfg, NULL, NULL, reg(), &err);
    ASSERT_OK(poller_poll(p, bl, &err));
    poller_stats(p, &st);
    /* "paged" metas are "{}" (blockID mismatch): counted as bad, not fatal. */
    ASSERT_EQ(st.listed_live + st.listed_compacted, 700);
    ASSERT_EQ(st.bad, 699); /* the all-zero ID matches "{}" */
    ASSERT_EQ(blocklist_len(bl), 1);
    buf_cleanup(&out);
    poller_free(p);
    blocklist_free(bl);
    backend_free(b);
}

TEST_MAIN(TEST_ENTRY(list_page_parser), TEST_ENTRY(wrong_secret_is_denied),
          TEST_ENTRY(object_ops_path_style), TEST_ENTRY(ip_endpoint_auto_lookup_is_path_style),
          TEST_ENTRY(auto_lookup_rule), TEST_ENTRY(object_ops_virtual_host_with_prefix),
          TEST_ENTRY(paging_shards_prefix_tenants), TEST_ENTRY(retries_through_fault_proxy),
          TEST_ENTRY(start_after_ignored_falls_back_to_one_shard),
          TEST_ENTRY(poll_over_s3_and_boto3_interop))
