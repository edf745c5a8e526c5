/*
 * test_retention.c - retention with real time arithmetic on fixture metas.
 *
 * A bucket is laid out on disk with block ends and compaction times placed
 * around the retention cut-offs (file mtimes carry compactedTime as in
 * Tempo's local backend), polled by the real poller, then retention runs and
 * the files are checked one by one.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "backend/backend.h"
#include "backend/backend_s3.h"
#include "blocklist/blocklist.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/metrics.h"
#include "tempo/meta.h"
#include "blocklist/poll.h"
#include "plan/retention.h"
#include "test.h"
#include "base/uuid.h"

#define DAY 86400LL
#define RET (14 * DAY)
#define CRET 3600LL

static char root[512];
static int64_t now;

static void
mkdirs(const char *path)
{
    char tmp[1024], *p;

    snprintf(tmp, sizeof(tmp), "%s", path);
    for (p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(tmp, 0755);
            *p = '/';
        }
    mkdir(tmp, 0755);
}

static void
put_file(const char *rel, const void *data, size_t n, int64_t mtime)
{
    char path[1024], dir[1024], *slash;
    struct timeval tv[2];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    snprintf(dir, sizeof(dir), "%s", path);
    slash = strrchr(dir, '/');
    *slash = '\0';
    mkdirs(dir);
    f = fopen(path, "wb");
    ASSERT(f != NULL);
    ASSERT_EQ(fwrite(data, 1, n, f), n);
    fclose(f);
    tv[0].tv_sec = tv[1].tv_sec = mtime;
    tv[0].tv_usec = tv[1].tv_usec = 0;
    ASSERT_OK(utimes(path, tv));
}

static int
exists(const char *rel)
{
    char path[1024];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    return stat(path, &st) == 0;
}

static const char *
path_of(const char *t, int n, const char *file)
{
    static char rel[256];
    uint8_t id[16] = {0};
    char ids[UUID_STR_LEN + 1];

    id[0] = (uint8_t)n;
    id[15] = 0x42;
    uuid_format(id, ids);
    snprintf(rel, sizeof(rel), "%s/%s%s%s", t, ids, file ? "/" : "", file ? file : "");
    return rel;
}

/* The meta.json text of fixture block n of tenant t, ending at end_s. */
static void
fixture_meta(const char *t, int n, int64_t end_s, struct buf *json)
{
    struct meta m;

    meta_init(&m);
    m.id[0] = (uint8_t)n;
    m.id[15] = 0x42;
    m.tenant = meta_intern(t, strlen(t));
    m.version = meta_intern("vParquet4", 9);
    m.data_encoding = meta_intern("", 0);
    m.dedicated = meta_intern("", 0);
    m.start_s = end_s - 300;
    m.end_s = end_s;
    m.total_objects = 10;
    m.size = 100;
    buf_init(json, 0);
    ASSERT_OK(meta_encode_json(&m, 0, json));
}

/* Writes block n of tenant t ending at end_s; compacted_at > 0 writes
 * meta.compacted.json with that mtime instead of meta.json. */
static void
block(const char *t, int n, int64_t end_s, int64_t compacted_at)
{
    struct buf b;

    fixture_meta(t, n, end_s, &b);
    put_file(path_of(t, n, "data.parquet"), "PAR1....PAR1", 12,
             compacted_at ? compacted_at : end_s);
    put_file(path_of(t, n, compacted_at ? BACKEND_META_COMPACTED : BACKEND_META), b.data, b.len,
             compacted_at ? compacted_at : end_s);
    buf_cleanup(&b);
}

static int
owns_not_7(const char *job, void *ud)
{
    return strcmp(job, path_of("t", 7, NULL) + 2) != 0;
}

TEST(local_backend_retention)
{
    struct backend *b;
    struct blocklist *bl;
    struct poller *p;
    struct poll_cfg pc;
    struct retention_cfg rc;
    struct retention_result res;
    struct tc_err err;
    struct meta *live, *comp;
    size_t nlive, ncomp;
    uint8_t orphan[16] = {0xee};
    char ids[UUID_STR_LEN + 1], rel[256];

    log_set_level("error");
    snprintf(root, sizeof(root), "%s", test_tmpdir());
    now = (int64_t)time(NULL);
    block("t", 1, now - RET - 3600, 0);            /* past retention: marked */
    block("t", 2, now - RET + 3600, 0);            /* within retention: untouched */
    block("t", 3, now - RET - 1, 0);               /* one second past: marked */
    block("t", 4, now - RET + 60, 0);              /* one minute within: untouched */
    block("t", 5, now - 20 * DAY, now - 2 * CRET); /* compacted long ago: cleared */
    block("t", 6, now - 20 * DAY, now - CRET / 2); /* compacted recently: kept */
    block("t", 7, now - RET - 3600, 0);            /* past retention, owned elsewhere: untouched */
    block("t", 8, now - DAY, now - 60);            /* a mark cut off after its copy: */
    {
        struct buf mb;
        fixture_meta("t", 8, now - DAY, &mb); /* meta.json is still there too */
        put_file(path_of("t", 8, BACKEND_META), mb.data, mb.len, now - DAY);
        buf_cleanup(&mb);
    }
    uuid_format(orphan, ids);
    snprintf(rel, sizeof(rel), "t/%s/data.parquet", ids);
    put_file(rel, "x", 1, now - 25 * 3600); /* old dir with no meta: removed */
    orphan[0] = 0xef;
    uuid_format(orphan, ids);
    snprintf(rel, sizeof(rel), "t/%s/data.parquet", ids);
    put_file(rel, "x", 1, now - 3600); /* young dir with no meta: an upload in flight */
    /* remains of interrupted writes: only temp files, which find() never shows */
    orphan[0] = 0xed;
    uuid_format(orphan, ids);
    snprintf(rel, sizeof(rel), "t/%s/.tmp-data.parquet-1-1", ids);
    put_file(rel, "x", 1, now - 25 * 3600); /* old: removed with its directory */
    orphan[0] = 0xec;
    uuid_format(orphan, ids);
    snprintf(rel, sizeof(rel), "t/%s/.tmp-data.parquet-1-2", ids);
    put_file(rel, "x", 1, now - 3600); /* young: a write in flight */
    snprintf(rel, sizeof(rel), "%s.tmp-bloom-0-1-3", path_of("t", 2, ""));
    put_file(rel, "x", 1, now - 25 * 3600); /* old, in a live block */
    /* empty block directories: a crash between mkdir and the first file */
    snprintf(rel, sizeof(rel), "%s/t/0000000e-0000-0000-0000-00000000000b", root);
    ASSERT(mkdir(rel, 0755) == 0);
    {
        struct timeval tv[2] = {{now - 25 * 3600, 0}, {now - 25 * 3600, 0}};
        ASSERT(utimes(rel, tv) == 0); /* old: removed */
    }
    snprintf(rel, sizeof(rel), "%s/t/0000000e-0000-0000-0000-00000000000c", root);
    ASSERT(mkdir(rel, 0755) == 0); /* young: a writer is about to fill it */

    b = backend_local_new(root, &err);
    ASSERT(b != NULL);
    bl = blocklist_new();
    poll_cfg_defaults(&pc);
    p = poller_new(b, &pc, NULL, NULL, NULL, &err);
    ASSERT(p != NULL);
    ASSERT_OK(poller_poll(p, bl, &err));
    ASSERT_OK(blocklist_get(bl, "t", &live, &nlive, &comp, &ncomp));
    ASSERT_EQ(nlive, 5);
    ASSERT_EQ(ncomp, 3); /* 8, listed with both metas, counts as compacted */
    tc_free(live);
    tc_free(comp);

    rc.block_retention_s = RET;
    rc.compacted_retention_s = CRET;
    rc.orphan_retention_s = 24 * 3600;
    rc.now_s = now;
    ASSERT_OK(retention_run_tenant(b, bl, "t", &rc, owns_not_7, NULL, &res, &err));
    ASSERT_EQ(res.marked, 2);
    ASSERT_EQ(res.cleared, 1);
    ASSERT_EQ(res.orphans, 1);
    ASSERT_EQ(res.incomplete, 3);
    ASSERT_EQ(res.half_marked, 1);
    ASSERT_EQ(res.errors, 0);

    /* the cut-off mark is finished: meta.json gone, the copy and data kept */
    ASSERT(!exists(path_of("t", 8, BACKEND_META)));
    ASSERT(exists(path_of("t", 8, BACKEND_META_COMPACTED)));
    ASSERT(exists(path_of("t", 8, "data.parquet")));
    /* past retention: meta.compacted.json replaced meta.json, data kept */
    ASSERT(!exists(path_of("t", 1, BACKEND_META)));
    ASSERT(exists(path_of("t", 1, BACKEND_META_COMPACTED)));
    ASSERT(exists(path_of("t", 1, "data.parquet")));
    ASSERT(!exists(path_of("t", 3, BACKEND_META)));
    ASSERT(exists(path_of("t", 3, BACKEND_META_COMPACTED)));
    /* within retention, or not ours: untouched */
    ASSERT(exists(path_of("t", 2, BACKEND_META)));
    ASSERT(!exists(path_of("t", 2, BACKEND_META_COMPACTED)));
    ASSERT(exists(path_of("t", 4, BACKEND_META)));
    ASSERT(exists(path_of("t", 7, BACKEND_META)));
    ASSERT(!exists(path_of("t", 7, BACKEND_META_COMPACTED)));
    /* compacted past compacted_block_retention: every file gone */
    ASSERT(!exists(path_of("t", 5, BACKEND_META_COMPACTED)));
    ASSERT(!exists(path_of("t", 5, "data.parquet")));
    ASSERT(exists(path_of("t", 6, BACKEND_META_COMPACTED)));
    ASSERT(exists(path_of("t", 6, "data.parquet")));
    /* orphans: old one removed, young one kept */
    orphan[0] = 0xee;
    uuid_format(orphan, ids);
    snprintf(rel, sizeof(rel), "t/%s/data.parquet", ids);
    ASSERT(!exists(rel));
    orphan[0] = 0xef;
    uuid_format(orphan, ids);
    snprintf(rel, sizeof(rel), "t/%s/data.parquet", ids);
    ASSERT(exists(rel));
    orphan[0] = 0xed;
    uuid_format(orphan, ids);
    snprintf(rel, sizeof(rel), "t/%s", ids);
    ASSERT(!exists(rel)); /* the temp file and the directory it was alone in */
    orphan[0] = 0xec;
    uuid_format(orphan, ids);
    snprintf(rel, sizeof(rel), "t/%s/.tmp-data.parquet-1-2", ids);
    ASSERT(exists(rel));
    snprintf(rel, sizeof(rel), "%s.tmp-bloom-0-1-3", path_of("t", 2, ""));
    ASSERT(!exists(rel));
    ASSERT(exists(path_of("t", 2, BACKEND_META))); /* the live block is untouched */
    ASSERT(!exists("t/0000000e-0000-0000-0000-00000000000b"));
    ASSERT(exists("t/0000000e-0000-0000-0000-00000000000c"));

    /* the in-memory list moved the same way */
    ASSERT_OK(blocklist_get(bl, "t", &live, &nlive, &comp, &ncomp));
    ASSERT_EQ(nlive, 3);
    ASSERT_EQ(ncomp, 4); /* 1, 3 marked now; 6, 8 kept; 5 cleared */
    tc_free(live);
    tc_free(comp);

    /* a fresh poll of the bucket agrees with the in-memory list */
    {
        struct blocklist *bl2 = blocklist_new();
        ASSERT_OK(poller_poll(p, bl2, &err));
        ASSERT_OK(blocklist_get(bl2, "t", &live, &nlive, &comp, &ncomp));
        ASSERT_EQ(nlive, 3);
        ASSERT_EQ(ncomp, 4);
        /* compactedTime of a block marked now is now (the copy is a new
         * object), so it is not cleared before compacted_block_retention */
        {
            size_t i, seen = 0;
            for (i = 0; i < ncomp; i++) {
                if (comp[i].id[0] == 1 || comp[i].id[0] == 3) {
                    ASSERT_GE(comp[i].compacted_s, now - 5);
                    seen++;
                }
            }
            ASSERT_EQ(seen, 2);
        }
        tc_free(live);
        tc_free(comp);
        blocklist_free(bl2);
    }
    /* a second run the same instant changes nothing */
    ASSERT_OK(retention_run_tenant(b, bl, "t", &rc, owns_not_7, NULL, &res, &err));
    ASSERT_EQ(res.marked + res.cleared + res.orphans + res.half_marked + res.errors, 0);
    poller_free(p);
    blocklist_free(bl);
    backend_free(b);
}

/* ---- the same rules on S3 (Ceph RGW, started by tests/s3/test_s3.sh) ----
 * LastModified cannot be set back in time on S3, so compaction and orphan
 * ages come from real seconds passing between uploads (small retentions). */

static void
s3_meta(struct backend *b, const char *t, int n, int64_t end_s, int compacted)
{
    struct buf j;
    struct tc_err err;
    char key[300];

    fixture_meta(t, n, end_s, &j);
    snprintf(key, sizeof(key), "%s", path_of(t, n, "data.parquet"));
    ASSERT_OK(backend_put(b, key, "PAR1....PAR1", 12, &err));
    snprintf(key, sizeof(key), "%s",
             path_of(t, n, compacted ? BACKEND_META_COMPACTED : BACKEND_META));
    ASSERT_OK(backend_put(b, key, j.data, j.len, &err));
    buf_cleanup(&j);
}

static int
s3_exists(struct backend *b, const char *key)
{
    struct buf out;
    struct tc_err err;
    int rc;

    buf_init(&out, 0);
    rc = backend_get(b, key, 0, 0, 0, &out, NULL, &err);
    buf_cleanup(&out);
    if (rc != TC_OK && rc != TC_NOTFOUND)
        TEST_FAIL_("GET %s: %s", key, err.msg);
    return rc == TC_OK;
}

TEST(s3_backend_retention)
{
    const char *ep = getenv("TC_S3_ENDPOINT");
    struct backend_s3_cfg c;
    struct backend *b;
    struct blocklist *bl;
    struct poller *p;
    struct poll_cfg pc;
    struct retention_cfg rc;
    struct retention_result res;
    struct tc_err err;
    char prefix[64], old_orphan[300], young_orphan[300], stale_key[300], live_key[300];
    void *stale, *inflight;
    char *part;
    uint8_t orphan[16] = {0xee};
    char ids[UUID_STR_LEN + 1];

    if (ep == NULL)
        TEST_SKIP("skipped: no TC_S3_ENDPOINT (run tests/s3/test_s3.sh)");
    log_set_level("error");
    snprintf(prefix, sizeof(prefix), "retention-%d", (int)getpid());
    memset(&c, 0, sizeof(c));
    c.endpoint = ep;
    c.bucket = "tempo";
    c.prefix = prefix;
    c.access_key = getenv("TC_S3_ACCESS_KEY");
    c.secret_key = getenv("TC_S3_SECRET_KEY");
    c.insecure = 1;
    c.forcepathstyle = 1;
    c.list_blocks_concurrency = 3;
    c.metrics = metrics_new();
    b = backend_s3_new(&c, &err);
    ASSERT(b != NULL);
    now = (int64_t)time(NULL);
    s3_meta(b, "t", 1, now - RET - 3600, 0); /* past retention: marked */
    s3_meta(b, "t", 2, now - RET + 3600, 0); /* within retention: untouched */
    s3_meta(b, "t", 7, now - RET - 3600, 0); /* past retention, owned elsewhere */
    s3_meta(b, "t", 5, now - 20 * DAY, 1);   /* compacted first: cleared later */
    uuid_format(orphan, ids);
    snprintf(old_orphan, sizeof(old_orphan), "t/%s/data.parquet", ids);
    ASSERT_OK(backend_put(b, old_orphan, "x", 1, &err));
    /* an interrupted multipart write: one part uploaded, never completed */
    part = tc_calloc(1, 5 << 20);
    ASSERT(part != NULL);
    orphan[0] = 0xed;
    uuid_format(orphan, ids);
    snprintf(stale_key, sizeof(stale_key), "t/%s/data.parquet", ids);
    ASSERT_OK(backend_append_begin(b, stale_key, &stale, &err));
    ASSERT_OK(backend_append(b, stale, part, 5 << 20, &err));
    sleep(3);
    /* one in flight, started after the cut */
    orphan[0] = 0xec;
    uuid_format(orphan, ids);
    snprintf(live_key, sizeof(live_key), "t/%s/data.parquet", ids);
    ASSERT_OK(backend_append_begin(b, live_key, &inflight, &err));
    ASSERT_OK(backend_append(b, inflight, part, 5 << 20, &err));
    s3_meta(b, "t", 6, now - 20 * DAY, 1); /* compacted just now: kept */
    s3_meta(b, "t", 8, now - DAY, 0);      /* a mark cut off after its copy: */
    s3_meta(b, "t", 8, now - DAY, 1);      /* both metas; meta.json goes */
    orphan[0] = 0xef;
    uuid_format(orphan, ids);
    snprintf(young_orphan, sizeof(young_orphan), "t/%s/data.parquet", ids);
    ASSERT_OK(backend_put(b, young_orphan, "x", 1, &err));

    bl = blocklist_new();
    poll_cfg_defaults(&pc);
    p = poller_new(b, &pc, NULL, NULL, c.metrics, &err);
    ASSERT(p != NULL);
    ASSERT_OK(poller_poll(p, bl, &err));
    rc.block_retention_s = RET;
    rc.compacted_retention_s = 2;
    rc.orphan_retention_s = 2;
    rc.now_s = (int64_t)time(NULL);
    ASSERT_OK(retention_run_tenant(b, bl, "t", &rc, owns_not_7, NULL, &res, &err));
    ASSERT_EQ(res.marked, 1);
    ASSERT_EQ(res.cleared, 1);
    ASSERT_EQ(res.orphans, 1);
    ASSERT_EQ(res.incomplete, 1);
    ASSERT_EQ(res.half_marked, 1);
    ASSERT_EQ(res.errors, 0);
    ASSERT(!s3_exists(b, path_of("t", 8, BACKEND_META)));
    ASSERT(s3_exists(b, path_of("t", 8, BACKEND_META_COMPACTED)));
    ASSERT(s3_exists(b, path_of("t", 8, "data.parquet")));
    ASSERT(!s3_exists(b, path_of("t", 1, BACKEND_META)));
    ASSERT(s3_exists(b, path_of("t", 1, BACKEND_META_COMPACTED)));
    ASSERT(s3_exists(b, path_of("t", 1, "data.parquet")));
    ASSERT(s3_exists(b, path_of("t", 2, BACKEND_META)));
    ASSERT(!s3_exists(b, path_of("t", 2, BACKEND_META_COMPACTED)));
    ASSERT(s3_exists(b, path_of("t", 7, BACKEND_META)));
    ASSERT(!s3_exists(b, path_of("t", 5, BACKEND_META_COMPACTED)));
    ASSERT(!s3_exists(b, path_of("t", 5, "data.parquet")));
    ASSERT(s3_exists(b, path_of("t", 6, BACKEND_META_COMPACTED)));
    ASSERT(s3_exists(b, path_of("t", 6, "data.parquet")));
    ASSERT(!s3_exists(b, old_orphan));
    ASSERT(s3_exists(b, young_orphan));
    /* the stale upload was aborted: completing it fails and leaves nothing */
    ASSERT(backend_append_end(b, stale, &err) != TC_OK);
    ASSERT(!s3_exists(b, stale_key));
    /* the one in flight was left alone and completes */
    ASSERT_OK(backend_append_end(b, inflight, &err));
    ASSERT(s3_exists(b, live_key));
    ASSERT_OK(backend_delete(b, live_key, &err));
    tc_free(part);
    /* a second pass the same instant changes nothing */
    ASSERT_OK(retention_run_tenant(b, bl, "t", &rc, owns_not_7, NULL, &res, &err));
    ASSERT_EQ(res.marked + res.cleared + res.orphans + res.errors, 0);
    poller_free(p);
    blocklist_free(bl);
    backend_free(b);
    metrics_free(c.metrics);
}

TEST_MAIN(TEST_ENTRY(local_backend_retention), TEST_ENTRY(s3_backend_retention))
