/* backend.c - key validation, dispatch and shared helpers (see backend.h). */
#include "backend/backend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/mem.h"
#include "base/uuid.h"

void
backend_strlist_cleanup(struct backend_strlist *l)
{
    size_t i;

    for (i = 0; i < l->n; i++)
        tc_free(l->v[i]);
    tc_free(l->v);
    memset(l, 0, sizeof(*l));
}

int
backend_strlist_add(struct backend_strlist *l, const char *s, size_t n)
{
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 16;
        char **nv = tc_reallocarray(l->v, ncap, sizeof(*nv));

        if (nv == NULL)
            return TC_NOMEM;
        l->v = nv;
        l->cap = ncap;
    }
    l->v[l->n] = tc_strndup(s, n);
    if (l->v[l->n] == NULL)
        return TC_NOMEM;
    l->n++;
    return TC_OK;
}

void
backend_blocks_cleanup(struct backend_blocks *bb)
{
    tc_free(bb->live);
    tc_free(bb->compacted);
    memset(bb, 0, sizeof(*bb));
}

int
backend_blocks_add(struct backend_blocks *bb, const uint8_t id[16], int compacted)
{
    uint8_t(**arr)[16] = compacted ? &bb->compacted : &bb->live;
    size_t *n = compacted ? &bb->ncompacted : &bb->nlive;
    size_t *cap = compacted ? &bb->compacted_cap : &bb->live_cap;

    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        uint8_t(*na)[16] = tc_reallocarray(*arr, ncap, 16);

        if (na == NULL)
            return TC_NOMEM;
        *arr = na;
        *cap = ncap;
    }
    memcpy((*arr)[*n], id, 16);
    (*n)++;
    return TC_OK;
}

void
backend_get_cleanup(struct backend_get *g)
{
    buf_cleanup(&g->body);
}

static int
backend_valid_component(const char *s, size_t n, const char *what, struct tc_err *err)
{
    size_t i;

    if (n == 0)
        return tc_err_set(err, TC_INVAL, "%s: empty path component", what);
    if (n > 255)
        return tc_err_set(err, TC_INVAL, "%s: path component longer than 255 bytes", what);
    if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
        return tc_err_set(err, TC_INVAL, "%s: \"%.*s\" would escape the root", what, (int)n, s);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x20 || c == 0x7f || c == '\\')
            return tc_err_set(err, TC_INVAL, "%s: control character or backslash", what);
    }
    return TC_OK;
}

int
backend_valid_tenant(const char *t, struct tc_err *err)
{
    if (t == NULL)
        return tc_err_set(err, TC_INVAL, "tenant: missing");
    if (strchr(t, '/') != NULL)
        return tc_err_set(err, TC_INVAL, "tenant \"%.64s\": contains '/'", t);
    return backend_valid_component(t, strlen(t), "tenant", err);
}

int
backend_valid_key(const char *key, struct tc_err *err)
{
    const char *p = key, *slash;
    int rc;

    if (key == NULL || *key == '\0')
        return tc_err_set(err, TC_INVAL, "key: empty");
    if (strlen(key) > BACKEND_MAX_KEY)
        return tc_err_set(err, TC_INVAL, "key: longer than %d bytes", BACKEND_MAX_KEY);
    if (*key == '/')
        return tc_err_set(err, TC_INVAL, "key \"%.64s\": absolute path", key);
    for (;;) {
        slash = strchr(p, '/');
        rc = backend_valid_component(p, slash ? (size_t)(slash - p) : strlen(p), "key", err);
        if (rc != TC_OK)
            return tc_err_prefix(err, "\"%.64s\"", key);
        if (slash == NULL)
            return TC_OK;
        p = slash + 1;
    }
}

void
backend_count(struct backend *b, enum backend_op op, unsigned long n)
{
    __atomic_add_fetch(&b->requests[op], n, __ATOMIC_RELAXED);
}

unsigned long
backend_requests(const struct backend *b, enum backend_op op)
{
    return __atomic_load_n(&b->requests[op], __ATOMIC_RELAXED);
}

int
backend_tenants(struct backend *b, struct backend_strlist *out, struct tc_err *err)
{
    return b->ops->tenants(b, out, err);
}

int
backend_blocks(struct backend *b, const char *tenant, struct backend_blocks *out,
               struct tc_err *err)
{
    int rc = backend_valid_tenant(tenant, err);

    return rc != TC_OK ? rc : b->ops->blocks(b, tenant, out, err);
}

int
backend_get(struct backend *b, const char *key, uint64_t off, uint64_t len, size_t max,
            struct buf *out, int64_t *mtime, struct tc_err *err)
{
    int64_t dummy;
    int rc = backend_valid_key(key, err);

    if (rc != TC_OK)
        return rc;
    return b->ops->get(b, key, off, len, max ? max : BUF_CAP_DEFAULT, out, mtime ? mtime : &dummy,
                       err);
}

void
backend_get_many(struct backend *b, struct backend_get *reqs, size_t n, int concurrency,
                 int jitter_ms, backend_get_done_fn done, void *ud)
{
    size_t i;

    for (i = 0; i < n; i++) {
        struct tc_err e = {0};

        buf_init(&reqs[i].body, reqs[i].max ? reqs[i].max : BUF_CAP_DEFAULT);
        reqs[i].code = TC_OK;
        reqs[i].errmsg[0] = '\0';
        reqs[i].last_modified = 0;
        if (backend_valid_key(reqs[i].key, &e) != TC_OK) {
            /* Mark it; implementations skip requests whose code is set. */
            reqs[i].code = TC_INVAL;
            snprintf(reqs[i].errmsg, sizeof(reqs[i].errmsg), "%s", e.msg);
        }
    }
    b->ops->get_many(b, reqs, n, concurrency < 1 ? 1 : concurrency, jitter_ms, done, ud);
}

int
backend_put(struct backend *b, const char *key, const void *p, size_t n, struct tc_err *err)
{
    int rc = backend_valid_key(key, err);

    return rc != TC_OK ? rc : b->ops->put(b, key, p, n, err);
}

int
backend_append_begin(struct backend *b, const char *key, void **h, struct tc_err *err)
{
    int rc = backend_valid_key(key, err);

    return rc != TC_OK ? rc : b->ops->append_begin(b, key, h, err);
}

int
backend_append(struct backend *b, void *h, const void *p, size_t n, struct tc_err *err)
{
    return b->ops->append(b, h, p, n, err);
}

int
backend_append_end(struct backend *b, void *h, struct tc_err *err)
{
    return b->ops->append_end(b, h, err);
}

void
backend_append_abort(struct backend *b, void *h)
{
    if (h)
        b->ops->append_abort(b, h);
}

/* The generic put_fd: pread a part, append it; memory holds one part. */
static int
put_fd_parts(struct backend *b, const char *key, int fd, uint64_t size, struct tc_err *err)
{
    struct buf part;
    void *h = NULL;
    uint64_t done = 0;
    int rc;

    buf_init(&part, BACKEND_PUT_FD_PART);
    if (buf_reserve(&part, size < BACKEND_PUT_FD_PART ? (size_t)size + 1 : BACKEND_PUT_FD_PART) !=
        TC_OK)
        return tc_err_set(err, TC_NOMEM, "put %s: out of memory", key);
    if ((rc = b->ops->append_begin(b, key, &h, err)) != TC_OK)
        goto out;
    while (done < size) {
        size_t want =
            size - done < BACKEND_PUT_FD_PART ? (size_t)(size - done) : BACKEND_PUT_FD_PART;
        ssize_t k = pread(fd, part.data, want, (off_t)done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            rc = tc_err_set(err, TC_IO, "put %s: read at %llu: %s", key, (unsigned long long)done,
                            k < 0 ? strerror(errno) : "file shorter than its size");
            goto out;
        }
        if ((rc = b->ops->append(b, h, part.data, (size_t)k, err)) != TC_OK)
            goto out;
        done += (uint64_t)k;
    }
    rc = b->ops->append_end(b, h, err);
    h = NULL;
out:
    if (h)
        b->ops->append_abort(b, h);
    buf_cleanup(&part);
    return rc;
}

int
backend_put_fd(struct backend *b, const char *key, int fd, uint64_t size, struct tc_err *err)
{
    int rc = backend_valid_key(key, err);

    if (rc != TC_OK)
        return rc;
    return b->ops->put_fd ? b->ops->put_fd(b, key, fd, size, err)
                          : put_fd_parts(b, key, fd, size, err);
}

int
backend_copy(struct backend *b, const char *src, const char *dst, struct tc_err *err)
{
    int rc = backend_valid_key(src, err);

    if (rc == TC_OK)
        rc = backend_valid_key(dst, err);
    return rc != TC_OK ? rc : b->ops->copy(b, src, dst, err);
}

int
backend_delete(struct backend *b, const char *key, struct tc_err *err)
{
    int rc = backend_valid_key(key, err);

    return rc != TC_OK ? rc : b->ops->del(b, key, err);
}

/* An empty prefix means the whole root; otherwise it must be a clean key,
 * with or without a trailing '/'. */
static int
backend_valid_prefix(const char *prefix, struct tc_err *err)
{
    char tmp[BACKEND_MAX_KEY + 1];
    size_t n;

    if (prefix == NULL || *prefix == '\0')
        return TC_OK;
    n = strlen(prefix);
    snprintf(tmp, sizeof(tmp), "%s", prefix);
    if (n <= BACKEND_MAX_KEY && tmp[n - 1] == '/')
        tmp[n - 1] = '\0';
    return backend_valid_key(tmp, err);
}

int
backend_find(struct backend *b, const char *prefix, backend_find_fn fn, void *ud,
             struct tc_err *err)
{
    int rc = backend_valid_prefix(prefix, err);

    return rc != TC_OK ? rc : b->ops->find(b, prefix ? prefix : "", fn, ud, err);
}

int
backend_sweep_incomplete(struct backend *b, const char *prefix, int64_t before,
                         unsigned long *removed, struct tc_err *err)
{
    unsigned long n = 0;
    int rc = backend_valid_prefix(prefix, err);

    if (rc == TC_OK && b->ops->sweep_incomplete)
        rc = b->ops->sweep_incomplete(b, prefix ? prefix : "", before, &n, err);
    if (removed)
        *removed = n;
    return rc;
}

int
backend_remove_tenant(struct backend *b, const char *tenant, struct tc_err *err)
{
    int rc = backend_valid_tenant(tenant, err);

    if (rc == TC_OK && b->ops->remove_tenant)
        rc = b->ops->remove_tenant(b, tenant, err);
    return rc;
}

void
backend_free(struct backend *b)
{
    if (b)
        b->ops->destroy(b);
}

void
backend_get_many_serial(struct backend *b, struct backend_get *reqs, size_t n, int jitter_ms,
                        backend_get_done_fn done, void *ud)
{
    size_t i;

    for (i = 0; i < n; i++) {
        struct backend_get *g = &reqs[i];
        struct tc_err e = {0};

        if (g->code == TC_OK) {
            if (jitter_ms > 0)
                tc_sleep_ms(random() % jitter_ms);
            g->code = b->ops->get(b, g->key, 0, 0, g->body.cap, &g->body, &g->last_modified, &e);
            if (g->code != TC_OK)
                snprintf(g->errmsg, sizeof(g->errmsg), "%s", e.msg);
        }
        done(g, ud);
    }
}

int
backend_parse_block_key(const char *rel, size_t n, uint8_t id[16])
{
    const char *file;
    size_t fn;

    if (n <= UUID_STR_LEN + 1 || rel[UUID_STR_LEN] != '/')
        return -1;
    file = rel + UUID_STR_LEN + 1;
    fn = n - UUID_STR_LEN - 1;
    if (memchr(file, '/', fn) != NULL || uuid_parse(rel, UUID_STR_LEN, id) != TC_OK)
        return -1;
    if (fn == strlen(BACKEND_META) && memcmp(file, BACKEND_META, fn) == 0)
        return 0;
    if (fn == strlen(BACKEND_META_COMPACTED) && memcmp(file, BACKEND_META_COMPACTED, fn) == 0)
        return 1;
    return -1;
}

void
backend_shard_bounds(int n, uint8_t (*bounds)[16])
{
    /* Tempo's blockboundary: bucket size floor(MaxUint64/n); the first
     * MaxUint64 mod n buckets are one larger; the last bound is all 0xff. */
    uint64_t step = UINT64_MAX / (uint64_t)n, rem = UINT64_MAX % (uint64_t)n, v = 0;
    int i, k;

    for (i = 0; i <= n; i++) {
        memset(bounds[i], 0, 16);
        if (i == n) {
            memset(bounds[i], 0xff, 16);
            break;
        }
        for (k = 0; k < 8; k++)
            bounds[i][k] = (uint8_t)(v >> (56 - 8 * k));
        v += step + ((uint64_t)i < rem ? 1 : 0);
    }
}
