/* test_backend.c - key validation and the local backend. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/backend.h"
#include "backend/backend_latency.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/metrics.h"
#include "base/tc.h"
#include "test.h"

TEST(hostile_keys_refused)
{
    struct tc_err err = {0};
    const char *dir = test_tmpdir();
    struct backend *b = backend_local_new(dir, &err);
    struct buf out;
    static const char *const bad[] = {
        "../x", "a/../../etc/passwd", "/etc/passwd", "a//b", "a/./b", "a/b/..", "",
        "a\\b", "a/\x01/b",           "a/b/"};
    size_t i;

    ASSERT(b != NULL);
    buf_init(&out, 0);
    for (i = 0; i < TC_ARRAY_LEN(bad); i++) {
        if (backend_get(b, bad[i], 0, 0, 0, &out, NULL, &err) != TC_INVAL)
            TEST_FAIL_("key \"%s\" accepted", bad[i]);
        ASSERT_EQ(backend_put(b, bad[i], "x", 1, &err), TC_INVAL);
        ASSERT_EQ(backend_delete(b, bad[i], &err), TC_INVAL);
    }
    ASSERT_EQ(backend_valid_tenant("../x", &err), TC_INVAL);
    ASSERT_EQ(backend_valid_tenant("..", &err), TC_INVAL);
    ASSERT_STR_CONTAINS(err.msg, "escape");
    ASSERT_EQ(backend_valid_tenant("", &err), TC_INVAL);
    ASSERT_EQ(backend_valid_tenant("a/b", &err), TC_INVAL);
    ASSERT_OK(backend_valid_tenant("single-tenant", &err));
    ASSERT_OK(backend_valid_tenant("t..1", &err));
    ASSERT_EQ(backend_copy(b, "a/b", "../c", &err), TC_INVAL);
    buf_cleanup(&out);
    backend_free(b);
}

static int
collect(const struct backend_object *o, void *ud)
{
    struct buf *b = ud;

    return buf_printf(b, "%s:%llu;", o->key, (unsigned long long)o->size);
}

TEST(local_ops)
{
    struct tc_err err = {0};
    const char *dir = test_tmpdir();
    struct backend *b = backend_local_new(dir, &err);
    struct buf out, found;
    struct backend_strlist ten = {0};
    struct backend_blocks bb = {0};
    int64_t mtime = 0;
    void *h;
    char path[600];
    struct stat st;

    buf_init(&out, 0);
    ASSERT_OK(backend_put(b, "t1/11111111-1111-4111-8111-111111111111/meta.json", "{}", 2, &err));
    ASSERT_OK(backend_put(b, "t1/22222222-2222-4222-8222-222222222222/meta.compacted.json", "{}", 2,
                          &err));
    ASSERT_OK(backend_put(b, "t1/22222222-2222-4222-8222-222222222222/bloom-0", "b", 1, &err));
    ASSERT_OK(
        backend_append_begin(b, "t1/11111111-1111-4111-8111-111111111111/data.parquet", &h, &err));
    ASSERT_OK(backend_append(b, h, "PAR1", 4, &err));
    /* Not visible before end(). */
    ASSERT_EQ(backend_get(b, "t1/11111111-1111-4111-8111-111111111111/data.parquet", 0, 0, 0, &out,
                          NULL, &err),
              TC_NOTFOUND);
    ASSERT_OK(backend_append(b, h, "abcdPAR1", 8, &err));
    ASSERT_OK(backend_append_end(b, h, &err));
    ASSERT_OK(backend_get(b, "t1/11111111-1111-4111-8111-111111111111/data.parquet", 4, 4, 0, &out,
                          &mtime, &err));
    ASSERT_STR_EQ(out.data, "abcd");
    ASSERT(mtime > 1700000000);
    buf_reset(&out);
    ASSERT_EQ(backend_get(b, "t1/11111111-1111-4111-8111-111111111111/data.parquet", 0, 0, 5, &out,
                          NULL, &err),
              TC_TOOBIG);
    ASSERT_OK(backend_put(b, "t2/x", "y", 1, &err));
    ASSERT_OK(backend_tenants(b, &ten, &err));
    ASSERT_EQ(ten.n, 2);
    ASSERT_OK(backend_blocks(b, "t1", &bb, &err));
    ASSERT_EQ(bb.nlive, 1);
    ASSERT_EQ(bb.ncompacted, 1);
    ASSERT_EQ(bb.objects, 4);
    ASSERT_OK(backend_copy(b, "t1/22222222-2222-4222-8222-222222222222/bloom-0",
                           "t1/22222222-2222-4222-8222-222222222222/bloom-1", &err));
    buf_init(&found, 0);
    ASSERT_OK(backend_find(b, "t1/22222222-2222-4222-8222-222222222222/", collect, &found, &err));
    ASSERT_STR_CONTAINS(found.data, "t1/22222222-2222-4222-8222-222222222222/bloom-1:1;");
    ASSERT_STR_CONTAINS(found.data, "t1/22222222-2222-4222-8222-222222222222/bloom-0:1;");
    ASSERT_EQ(backend_delete(b, "t2/nope", &err), TC_NOTFOUND);
    ASSERT_OK(backend_delete(b, "t2/x", &err));
    ASSERT_OK(backend_put(b, "t2/33333333-3333-4333-8333-333333333333/meta.json", "{}", 2, &err));
    ASSERT_OK(backend_delete(b, "t2/33333333-3333-4333-8333-333333333333/meta.json", &err));
    snprintf(path, sizeof(path), "%s/t2/33333333-3333-4333-8333-333333333333", dir);
    ASSERT_NE(stat(path, &st), 0); /* an emptied block directory goes away */
    snprintf(path, sizeof(path), "%s/t2", dir);
    ASSERT_EQ(stat(path, &st), 0); /* the tenant directory stays, as in Tempo's local backend */
    ASSERT_GE(backend_requests(b, BACKEND_OP_GET), 3);
    buf_cleanup(&found);
    buf_cleanup(&out);
    backend_strlist_cleanup(&ten);
    backend_blocks_cleanup(&bb);
    backend_free(b);
}

TEST(shard_bounds_like_tempo)
{
    uint8_t b3[4][16], b1[2][16], b16[17][16];
    static const uint8_t third[16] = {0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55};
    uint8_t ff[16];

    memset(ff, 0xff, 16);
    backend_shard_bounds(3, b3);
    ASSERT_MEM_EQ(b3[1], third, 16);
    ASSERT_EQ(b3[2][0], 0xaa);
    ASSERT_EQ(b3[2][8], 0);
    ASSERT_MEM_EQ(b3[3], ff, 16);
    backend_shard_bounds(1, b1);
    ASSERT_EQ(b1[0][0], 0);
    ASSERT_MEM_EQ(b1[1], ff, 16);
    backend_shard_bounds(16, b16);
    /* 2^64-1 = 16 * 0x0fff.. + 15: the first 15 buckets are one larger. */
    ASSERT_EQ(b16[1][0], 0x10);
    ASSERT_EQ(b16[1][7], 0x00);
    ASSERT_EQ(b16[15][0], 0xf0);
    ASSERT_EQ(b16[15][7], 0x00);
}

static void
mkdir_p(const char *dir, const char *a, const char *b)
{
    char p[1024];

    snprintf(p, sizeof(p), "%s/%s", dir, a);
    ASSERT(mkdir(p, 0755) == 0 || errno == EEXIST);
    if (b) {
        snprintf(p, sizeof(p), "%s/%s/%s", dir, a, b);
        ASSERT(mkdir(p, 0755) == 0 || errno == EEXIST);
    }
}

static void
write_small(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    ASSERT(f != NULL);
    ASSERT(fputs(text, f) >= 0);
    ASSERT(fclose(f) == 0);
}

static double
skipped(const char *reason)
{
    static const char *const lbl[] = {"reason", NULL};
    struct metric *m =
        metrics_counter(metrics_default(), "tempo_compactor_local_skipped_entries_total",
                        "(ours) Tenant and block directory entries of the local "
                        "backend that are not listed (dot names, symlinks).",
                        lbl);
    ASSERT(m != NULL);
    return metrics_value(m, (const char *[]){reason});
}

/* A tenant "..x", a symlinked tenant and a symlinked block are not listed
 * (symlinks are not followed), but each is logged once with its reason and
 * counted; our own .tmp- files are skipped silently (#18 point 2). */
TEST(local_skips_are_logged_once_and_counted)
{
    const char *dir = test_tmpdir();
    char p[1024], logp[1024], *text;
    struct tc_err err = {0};
    struct backend *b;
    struct backend_strlist tl;
    struct backend_blocks bb;
    size_t len;
    int fd, round;

    mkdir_p(dir, "t", "11111111-1111-4111-8111-111111111111");
    snprintf(p, sizeof(p), "%s/t/11111111-1111-4111-8111-111111111111/meta.json", dir);
    write_small(p, "{}");
    mkdir_p(dir, "..x", "22222222-2222-4222-8222-222222222222");
    snprintf(p, sizeof(p), "%s/linked", dir);
    ASSERT_OK(symlink("t", p));
    snprintf(p, sizeof(p), "%s/t/33333333-3333-4333-8333-333333333333", dir);
    ASSERT_OK(symlink("11111111-1111-4111-8111-111111111111", p));
    snprintf(p, sizeof(p), "%s/.tmp-123", dir);
    write_small(p, "x");
    snprintf(logp, sizeof(logp), "%s.log", dir);
    fd = open(logp, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    ASSERT(fd >= 0);
    log_set_fd(fd);
    b = backend_local_new(dir, &err);
    ASSERT(b != NULL);
    for (round = 0; round < 2; round++) {
        memset(&tl, 0, sizeof(tl));
        memset(&bb, 0, sizeof(bb));
        ASSERT_OK(backend_tenants(b, &tl, &err));
        ASSERT_EQ(tl.n, 1);
        ASSERT_STR_EQ(tl.v[0], "t");
        ASSERT_OK(backend_blocks(b, "t", &bb, &err));
        ASSERT_EQ(bb.nlive, 1);
        backend_strlist_cleanup(&tl);
        backend_blocks_cleanup(&bb);
    }
    log_set_fd(2);
    close(fd);
    ASSERT_DBL_NEAR(skipped("dot name"), 1, 1e-9);
    ASSERT_DBL_NEAR(skipped("symlink (not followed)"), 2, 1e-9);
    text = test_slurp(logp, &len);
    ASSERT_STR_CONTAINS(text, "path=..x");
    ASSERT_STR_CONTAINS(text, "path=linked");
    ASSERT_STR_CONTAINS(text, "path=t/33333333-3333-4333-8333-333333333333");
    ASSERT(strstr(text, ".tmp-") == NULL);
    /* once each, though listed twice */
    ASSERT(strstr(strstr(text, "path=..x") + 1, "path=..x") == NULL);
    tc_free(text);
    backend_free(b);
}

/* Entries of dir/sub whose names start with ".tmp-" (find() never shows them). */
static int
tmp_files(const char *dir, const char *sub)
{
    char path[700];
    struct dirent *e;
    DIR *d;
    int n = 0;

    snprintf(path, sizeof(path), "%s/%s", dir, sub);
    if ((d = opendir(path)) == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        n += strncmp(e->d_name, ".tmp-", 5) == 0;
    closedir(d);
    return n;
}

/* put_fd writes [0, size) of a file: in the kernel on the local backend, in
 * parts through append elsewhere (the latency wrapper has no put_fd). */
TEST(put_fd_local_and_in_parts)
{
    struct tc_err err = {0};
    const char *dir = test_tmpdir();
    struct backend *b = backend_local_new(dir, &err);
    struct backend *lat = NULL;
    size_t n = 2 * BACKEND_PUT_FD_PART + 3;
    unsigned char *data = tc_malloc(n);
    char path[600];
    struct buf out;
    int fd, p[2];

    ASSERT(b != NULL && data != NULL);
    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)((i * 2654435761u) >> 13);
    snprintf(path, sizeof(path), "%s/spool", dir);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    ASSERT(fd >= 0);
    ASSERT_EQ(write(fd, data, n), (ssize_t)n);
    buf_init(&out, 0);
    ASSERT_OK(backend_put_fd(b, "t/a/data.parquet", fd, n, &err));
    ASSERT_OK(backend_get(b, "t/a/data.parquet", 0, 0, n + 1, &out, NULL, &err));
    ASSERT_EQ(out.len, n);
    ASSERT(memcmp(out.data, data, n) == 0);
    /* a prefix only */
    buf_reset(&out);
    ASSERT_OK(backend_put_fd(b, "t/a/prefix", fd, 1000, &err));
    ASSERT_OK(backend_get(b, "t/a/prefix", 0, 0, 0, &out, NULL, &err));
    ASSERT_EQ(out.len, 1000);
    ASSERT(memcmp(out.data, data, 1000) == 0);
    /* a file shorter than the size claimed: an error naming the key, nothing visible */
    ASSERT_EQ(backend_put_fd(b, "t/a/short", fd, n + 10, &err), TC_IO);
    ASSERT_STR_CONTAINS(err.msg, "t/a/short");
    ASSERT_EQ(backend_get(b, "t/a/short", 0, 0, 0, &out, NULL, &err), TC_NOTFOUND);
    /* a pipe has no offsets: refused, nothing visible */
    ASSERT_EQ(pipe(p), 0);
    ASSERT_EQ(write(p[1], "abc", 3), 3);
    ASSERT_NE(backend_put_fd(b, "t/a/pipe", p[0], 3, &err), TC_OK);
    ASSERT_EQ(backend_get(b, "t/a/pipe", 0, 0, 0, &out, NULL, &err), TC_NOTFOUND);
    close(p[0]);
    close(p[1]);
    ASSERT_EQ(backend_put_fd(b, "../x", fd, 1, &err), TC_INVAL);
    /* the generic path: parts through append */
    lat = backend_latency_new(backend_local_new(dir, &err), 0, 1, &err);
    ASSERT(lat != NULL);
    buf_reset(&out);
    ASSERT_OK(backend_put_fd(lat, "t/b/data.parquet", fd, n, &err));
    ASSERT_OK(backend_get(b, "t/b/data.parquet", 0, 0, n + 1, &out, NULL, &err));
    ASSERT_EQ(out.len, n);
    ASSERT(memcmp(out.data, data, n) == 0);
    ASSERT_EQ(backend_put_fd(lat, "t/b/short", fd, n + 10, &err), TC_IO);
    ASSERT_STR_CONTAINS(err.msg, "t/b/short");
    ASSERT_EQ(backend_get(b, "t/b/short", 0, 0, 0, &out, NULL, &err), TC_NOTFOUND);
    /* no temp file is left by the failures */
    ASSERT_EQ(tmp_files(dir, "t/a"), 0);
    ASSERT_EQ(tmp_files(dir, "t/b"), 0);
    close(fd);
    buf_cleanup(&out);
    tc_free(data);
    backend_free(lat);
    backend_free(b);
}

TEST_MAIN(TEST_ENTRY(hostile_keys_refused), TEST_ENTRY(local_ops),
          TEST_ENTRY(shard_bounds_like_tempo), TEST_ENTRY(local_skips_are_logged_once_and_counted),
          TEST_ENTRY(put_fd_local_and_in_parts))
