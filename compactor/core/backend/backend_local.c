/*
 * backend_local.c - the local-directory backend.
 *
 * Layout as Tempo's local backend: <root>/<tenant>/<blockID>/<file>. Writes
 * go to a ".tmp-" file in the target directory, are fsynced and renamed into
 * place, so a reader never sees half an object. Names starting with '.' are
 * never reported as tenants, blocks or objects, and symlinks are not
 * followed; such a tenant or block directory is logged once (with the
 * reason) and counted in tempo_compactor_local_skipped_entries_total, so a
 * tenant that is never polled, retained or compacted does not go unnoticed.
 * Our own ".tmp-" files are skipped silently.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pthread.h>

#include "backend/backend.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/metrics.h"
#include "base/uuid.h"

/* Distinct skipped entries remembered for the log-once rule. */
#define LOCAL_SKIP_MAX 256

struct backend_local {
    struct backend base;
    char *root;
    pthread_mutex_t mu; /* guards skipped */
    char *skipped[LOCAL_SKIP_MAX];
    size_t nskipped;
    struct metric *m_skipped;
};

/* Logs and counts a tenant or block entry that is not listed, once per
 * entry (rel = "<name>" under the root or "<tenant>/<name>"). */
static void
backend_local_skip(struct backend_local *l, const char *parent, const char *name,
                   const char *reason)
{
    char rel[1024];
    size_t i;

    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strncmp(name, ".tmp-", 5) == 0)
        return;
    snprintf(rel, sizeof(rel), "%s%s%s", parent ? parent : "", parent ? "/" : "", name);
    pthread_mutex_lock(&l->mu);
    for (i = 0; i < l->nskipped; i++)
        if (strcmp(l->skipped[i], rel) == 0)
            break;
    if (i == l->nskipped && l->nskipped < LOCAL_SKIP_MAX &&
        (l->skipped[l->nskipped] = tc_strdup(rel)) != NULL) {
        l->nskipped++;
        metrics_inc(l->m_skipped, (const char *[]){reason});
        pthread_mutex_unlock(&l->mu);
        LOG_WARN("local backend: entry skipped; it is not polled, retained or compacted",
                 KV_S("path", rel), KV_S("reason", reason));
        return;
    }
    pthread_mutex_unlock(&l->mu);
}

/* Classifies a directory entry: 1 a directory to list, 0 not (with
 * *reason set when it is worth a warning). */
static int
backend_local_entry(const char *dir, struct dirent *de, const char **reason)
{
    struct stat st;
    char p[8192];

    *reason = NULL;
    if (de->d_name[0] == '.') {
        *reason = "dot name";
        return 0;
    }
    if (de->d_type == DT_DIR)
        return 1;
    if (de->d_type == DT_LNK) {
        *reason = "symlink (not followed)";
        return 0;
    }
    if (de->d_type != DT_UNKNOWN)
        return 0;
    snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
    if (lstat(p, &st) != 0)
        return 0;
    if (S_ISLNK(st.st_mode))
        *reason = "symlink (not followed)";
    return S_ISDIR(st.st_mode);
}

struct backend_local_append {
    int fd;
    char *tmp;
    char *path;
};

static unsigned long backend_local_seq;

static int
backend_local_path(struct backend_local *l, const char *key, struct buf *out, struct tc_err *err)
{
    buf_init(out, 4096 + BACKEND_MAX_KEY);
    if (buf_printf(out, "%s%s%s", l->root, *key ? "/" : "", key) != TC_OK)
        return tc_err_set(err, TC_NOMEM, "local: path too long");
    return TC_OK;
}

static int
backend_local_errno(struct tc_err *err, const char *what, const char *key)
{
    int e = errno;

    if (e == ENOENT || e == ENOTDIR)
        return tc_err_set(err, TC_NOTFOUND, "local: %s %s: does not exist", what, key);
    return tc_err_set(err, TC_IO, "local: %s %s: %s", what, key, strerror(e));
}

/* mkdir -p for the parent directories of path (which lies under root). */
static int
backend_local_mkparents(struct backend_local *l, char *path, struct tc_err *err)
{
    size_t rootlen = strlen(l->root);
    char *p;

    for (p = path + rootlen + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            int rc = tc_err_set(err, TC_IO, "local: mkdir %s: %s", path, strerror(errno));

            *p = '/';
            return rc;
        }
        *p = '/';
    }
    return TC_OK;
}

/* Temp name next to the final path: <dir>/.tmp-<base>-<pid>-<seq>. */
static int
backend_local_tmpname(const char *path, struct buf *out)
{
    const char *slash = strrchr(path, '/');
    unsigned long seq = __atomic_add_fetch(&backend_local_seq, 1, __ATOMIC_RELAXED);

    buf_init(out, 8192);
    return buf_printf(out, "%.*s/.tmp-%s-%ld-%lu", (int)(slash - path), path, slash + 1,
                      (long)getpid(), seq);
}

static int
backend_local_fsync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    int fd;

    snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return TC_IO;
    fsync(fd);
    close(fd);
    return TC_OK;
}

static int
backend_local_write_all(int fd, const void *p, size_t n)
{
    const char *c = p;

    while (n > 0) {
        ssize_t w = write(fd, c, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return TC_IO;
        c += w;
        n -= (size_t)w;
    }
    return TC_OK;
}

static int
backend_local_append_begin(struct backend *b, const char *key, void **h, struct tc_err *err)
{
    struct backend_local *l = (struct backend_local *)b;
    struct backend_local_append *a;
    struct buf path, tmp;
    int rc;

    *h = NULL;
    if ((rc = backend_local_path(l, key, &path, err)) != TC_OK)
        return rc;
    if ((rc = backend_local_mkparents(l, path.data, err)) != TC_OK) {
        buf_cleanup(&path);
        return rc;
    }
    if (backend_local_tmpname(path.data, &tmp) != TC_OK) {
        buf_cleanup(&path);
        return tc_err_set(err, TC_NOMEM, "local: temp name for %s", key);
    }
    a = tc_calloc(1, sizeof(*a));
    if (a == NULL) {
        buf_cleanup(&path);
        buf_cleanup(&tmp);
        return tc_err_set(err, TC_NOMEM, "local: out of memory");
    }
    a->path = buf_take(&path, NULL);
    a->tmp = buf_take(&tmp, NULL);
    a->fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (a->fd < 0) {
        rc = tc_err_set(err, TC_IO, "local: create %s: %s", a->tmp, strerror(errno));
        tc_free(a->path);
        tc_free(a->tmp);
        tc_free(a);
        return rc;
    }
    *h = a;
    return TC_OK;
}

static int
backend_local_append(struct backend *b, void *h, const void *p, size_t n, struct tc_err *err)
{
    struct backend_local_append *a = h;

    if (backend_local_write_all(a->fd, p, n) != TC_OK)
        return tc_err_set(err, TC_IO, "local: write %s: %s", a->tmp, strerror(errno));
    return TC_OK;
}

static void
backend_local_append_abort(struct backend *b, void *h)
{
    struct backend_local_append *a = h;

    close(a->fd);
    unlink(a->tmp);
    tc_free(a->tmp);
    tc_free(a->path);
    tc_free(a);
}

static int
backend_local_commit(struct backend *b, void *h, struct tc_err *err)
{
    struct backend_local_append *a = h;
    int rc = TC_OK;

    /* Data is durable before the name appears. */
    if (fsync(a->fd) != 0)
        rc = tc_err_set(err, TC_IO, "local: fsync %s: %s", a->tmp, strerror(errno));
    else if (rename(a->tmp, a->path) != 0)
        rc = tc_err_set(err, TC_IO, "local: rename to %s: %s", a->path, strerror(errno));
    if (rc != TC_OK) {
        backend_local_append_abort(b, h);
        return rc;
    }
    backend_local_fsync_dir(a->path);
    close(a->fd);
    tc_free(a->tmp);
    tc_free(a->path);
    tc_free(a);
    return TC_OK;
}

static int
backend_local_append_end(struct backend *b, void *h, struct tc_err *err)
{
    backend_count(b, BACKEND_OP_PUT, 1);
    return backend_local_commit(b, h, err);
}

static int
backend_local_put(struct backend *b, const char *key, const void *p, size_t n, struct tc_err *err)
{
    void *h;
    int rc = backend_local_append_begin(b, key, &h, err);

    if (rc != TC_OK)
        return rc;
    if ((rc = backend_local_append(b, h, p, n, err)) != TC_OK) {
        backend_local_append_abort(b, h);
        return rc;
    }
    return backend_local_append_end(b, h, err);
}

static int
backend_local_get(struct backend *b, const char *key, uint64_t off, uint64_t len, size_t max,
                  struct buf *out, int64_t *mtime, struct tc_err *err)
{
    struct backend_local *l = (struct backend_local *)b;
    struct buf path;
    struct stat st;
    uint64_t want;
    int fd, rc;

    backend_count(b, BACKEND_OP_GET, 1);
    if ((rc = backend_local_path(l, key, &path, err)) != TC_OK)
        return rc;
    fd = open(path.data, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    buf_cleanup(&path);
    if (fd < 0)
        return backend_local_errno(err, "get", key);
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return tc_err_set(err, TC_NOTFOUND, "local: get %s: not a regular file", key);
    }
    *mtime = st.st_mtime;
    if (off > (uint64_t)st.st_size)
        off = (uint64_t)st.st_size;
    want = (uint64_t)st.st_size - off;
    if (len > 0 && len < want)
        want = len;
    if (want > max) {
        close(fd);
        return tc_err_set(err, TC_TOOBIG, "local: get %s: %llu bytes exceed the cap of %zu", key,
                          (unsigned long long)want, max);
    }
    if (buf_reserve(out, (size_t)want) != TC_OK) {
        close(fd);
        return tc_err_set(err, TC_NOMEM, "local: get %s: out of memory", key);
    }
    while (want > 0) {
        ssize_t r = pread(fd, out->data + out->len, (size_t)want, (off_t)off);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = tc_err_set(err, TC_IO, "local: read %s: %s", key, strerror(errno));
            close(fd);
            return rc;
        }
        if (r == 0)
            break;
        out->len += (size_t)r;
        off += (uint64_t)r;
        want -= (uint64_t)r;
    }
    out->data[out->len] = '\0';
    close(fd);
    return TC_OK;
}

static void
backend_local_get_many(struct backend *b, struct backend_get *reqs, size_t n, int concurrency,
                       int jitter_ms, backend_get_done_fn done, void *ud)
{
    /* Local reads are fast and synchronous; concurrency buys nothing here. */
    backend_get_many_serial(b, reqs, n, jitter_ms, done, ud);
}

/* Copies bytes [0, size) of fd into the temp file of a: in the kernel where
 * it can (copy_file_range), through a 64 KiB buffer where it cannot. */
static int
backend_local_fill(struct backend_local_append *a, int fd, uint64_t size, const char *what,
                   struct tc_err *err)
{
    char chunk[65536];
    uint64_t off = 0;

    while (off < size) {
        off64_t in = (off64_t)off;
        ssize_t k = copy_file_range(fd, &in, a->fd, NULL, (size_t)(size - off), 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break; /* EXDEV, ENOSYS, a special file, or the source ended early */
        off += (uint64_t)k;
    }
    while (off < size) {
        size_t want = size - off < sizeof(chunk) ? (size_t)(size - off) : sizeof(chunk);
        ssize_t r = pread(fd, chunk, want, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return tc_err_set(err, TC_IO, "local: %s: read at %llu: %s", what,
                              (unsigned long long)off, r < 0 ? strerror(errno) : "short file");
        if (backend_local_write_all(a->fd, chunk, (size_t)r) != TC_OK)
            return tc_err_set(err, TC_IO, "local: write %s: %s", a->tmp, strerror(errno));
        off += (uint64_t)r;
    }
    return TC_OK;
}

static int
backend_local_put_fd(struct backend *b, const char *key, int fd, uint64_t size, struct tc_err *err)
{
    void *h;
    int rc = backend_local_append_begin(b, key, &h, err);

    if (rc != TC_OK)
        return rc;
    if ((rc = backend_local_fill(h, fd, size, key, err)) != TC_OK) {
        backend_local_append_abort(b, h);
        return rc;
    }
    return backend_local_append_end(b, h, err);
}

static int
backend_local_copy(struct backend *b, const char *src, const char *dst, struct tc_err *err)
{
    struct backend_local *l = (struct backend_local *)b;
    struct buf path;
    struct stat st;
    void *h;
    int fd, rc;

    if ((rc = backend_local_path(l, src, &path, err)) != TC_OK)
        return rc;
    fd = open(path.data, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    buf_cleanup(&path);
    if (fd < 0)
        return backend_local_errno(err, "copy", src);
    if (fstat(fd, &st) != 0) {
        rc = tc_err_set(err, TC_IO, "local: copy %s: %s", src, strerror(errno));
        close(fd);
        return rc;
    }
    if ((rc = backend_local_append_begin(b, dst, &h, err)) != TC_OK) {
        close(fd);
        return rc;
    }
    rc = backend_local_fill(h, fd, (uint64_t)st.st_size, src, err);
    close(fd);
    if (rc != TC_OK) {
        backend_local_append_abort(b, h);
        return rc;
    }
    backend_count(b, BACKEND_OP_COPY, 1);
    return backend_local_commit(b, h, err);
}

static int
backend_local_del(struct backend *b, const char *key, struct tc_err *err)
{
    struct backend_local *l = (struct backend_local *)b;
    struct buf path;
    char *slash, *tenant_end;
    size_t rootlen = strlen(l->root);
    int rc;

    backend_count(b, BACKEND_OP_DELETE, 1);
    if ((rc = backend_local_path(l, key, &path, err)) != TC_OK)
        return rc;
    if (unlink(path.data) != 0) {
        rc = backend_local_errno(err, "delete", key);
        buf_cleanup(&path);
        return rc;
    }
    /* Drop directories left empty, like an object store has no directories,
     * but keep the tenant's own: as in Tempo's local backend, a tenant whose
     * last block goes stays until empty-tenant deletion removes it. */
    tenant_end = strchr(path.data + rootlen + 1, '/');
    while (tenant_end != NULL && (slash = strrchr(path.data, '/')) != NULL && slash > tenant_end) {
        *slash = '\0';
        if (rmdir(path.data) != 0)
            break;
    }
    buf_cleanup(&path);
    return TC_OK;
}

static int
backend_local_tenants(struct backend *b, struct backend_strlist *out, struct tc_err *err)
{
    struct backend_local *l = (struct backend_local *)b;
    DIR *d = opendir(l->root);
    struct dirent *de;
    int rc = TC_OK;

    backend_count(b, BACKEND_OP_LIST, 1);
    if (d == NULL)
        return tc_err_set(err, TC_IO, "local: list %s: %s", l->root, strerror(errno));
    while (rc == TC_OK && (de = readdir(d)) != NULL) {
        const char *why;
        if (!backend_local_entry(l->root, de, &why)) {
            if (why)
                backend_local_skip(l, NULL, de->d_name, why);
            continue;
        }
        rc = backend_strlist_add(out, de->d_name, strlen(de->d_name));
    }
    closedir(d);
    return rc == TC_OK ? TC_OK : tc_err_set(err, rc, "local: list tenants: out of memory");
}

static int
backend_local_blocks(struct backend *b, const char *tenant, struct backend_blocks *out,
                     struct tc_err *err)
{
    struct backend_local *l = (struct backend_local *)b;
    struct buf dir;
    DIR *d;
    struct dirent *de;
    int rc = TC_OK;

    backend_count(b, BACKEND_OP_LIST, 1);
    if ((rc = backend_local_path(l, tenant, &dir, err)) != TC_OK)
        return rc;
    d = opendir(dir.data);
    if (d == NULL) {
        rc = backend_local_errno(err, "list", tenant);
        buf_cleanup(&dir);
        return rc == TC_NOTFOUND ? TC_OK : rc;
    }
    while (rc == TC_OK && (de = readdir(d)) != NULL) {
        uint8_t id[16];
        char sub[8192];
        DIR *bd;
        struct dirent *fe;

        const char *why;

        if (!backend_local_entry(dir.data, de, &why)) {
            if (why)
                backend_local_skip(l, tenant, de->d_name, why);
            continue;
        }
        if (uuid_parse(de->d_name, strlen(de->d_name), id) != TC_OK) {
            out->skipped++;
            continue;
        }
        snprintf(sub, sizeof(sub), "%s/%s", dir.data, de->d_name);
        bd = opendir(sub);
        if (bd == NULL)
            continue; /* removed since readdir: the block is gone */
        while (rc == TC_OK && (fe = readdir(bd)) != NULL) {
            if (fe->d_name[0] == '.')
                continue;
            out->objects++;
            if (strcmp(fe->d_name, BACKEND_META) == 0)
                rc = backend_blocks_add(out, id, 0);
            else if (strcmp(fe->d_name, BACKEND_META_COMPACTED) == 0)
                rc = backend_blocks_add(out, id, 1);
        }
        closedir(bd);
    }
    closedir(d);
    buf_cleanup(&dir);
    return rc == TC_OK ? TC_OK : tc_err_set(err, rc, "local: list %s: out of memory", tenant);
}

static int
backend_local_walk(const char *root, struct buf *rel, backend_find_fn fn, void *ud,
                   struct tc_err *err)
{
    char path[8192];
    DIR *d;
    struct dirent *de;
    size_t base = rel->len;
    int rc = TC_OK;

    snprintf(path, sizeof(path), "%s/%s", root, rel->data ? rel->data : "");
    d = opendir(path);
    if (d == NULL)
        return errno == ENOENT || errno == ENOTDIR
                   ? TC_OK
                   : tc_err_set(err, TC_IO, "local: find %s: %s", path, strerror(errno));
    while (rc == TC_OK && (de = readdir(d)) != NULL) {
        struct stat st;
        char full[8192];

        if (de->d_name[0] == '.')
            continue;
        snprintf(full, sizeof(full), "%s/%s", path, de->d_name);
        if (lstat(full, &st) != 0)
            continue;
        rel->len = base;
        if (buf_printf(rel, "%s%s", base ? "/" : "", de->d_name) != TC_OK) {
            rc = tc_err_set(err, TC_NOMEM, "local: find: path too long");
            break;
        }
        if (S_ISDIR(st.st_mode)) {
            rc = backend_local_walk(root, rel, fn, ud, err);
        } else if (S_ISREG(st.st_mode)) {
            struct backend_object o = {rel->data, st.st_mtime, (uint64_t)st.st_size};

            rc = fn(&o, ud);
        }
    }
    if (rel->data) {
        rel->len = base;
        rel->data[base] = '\0';
    }
    closedir(d);
    return rc;
}

static int
backend_local_find(struct backend *b, const char *prefix, backend_find_fn fn, void *ud,
                   struct tc_err *err)
{
    struct backend_local *l = (struct backend_local *)b;
    struct buf rel;
    size_t n = strlen(prefix);
    int rc;

    backend_count(b, BACKEND_OP_LIST, 1);
    buf_init(&rel, 8000);
    if (n > 0)
        buf_append(&rel, prefix, prefix[n - 1] == '/' ? n - 1 : n);
    rc = backend_local_walk(l->root, &rel, fn, ud, err);
    buf_cleanup(&rel);
    return rc;
}

/* Removes stale ".tmp-" files below path (a crash between begin and commit
 * leaves them) and then the directories that this left empty, or that were
 * empty and unchanged since before `before`. A young empty directory may
 * belong to a writer that has made it and is about to create its temp file,
 * so it stays. depth caps the walk. */
static int
backend_local_sweep_dir(const char *path, int64_t before, int depth, unsigned long *removed,
                        struct tc_err *err)
{
    DIR *d = opendir(path);
    struct dirent *de;
    int rc = TC_OK;

    if (d == NULL)
        return errno == ENOENT || errno == ENOTDIR
                   ? TC_OK
                   : tc_err_set(err, TC_IO, "local: sweep %s: %s", path, strerror(errno));
    while (rc == TC_OK && (de = readdir(d)) != NULL) {
        struct stat st;
        char full[8192];

        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if ((size_t)snprintf(full, sizeof(full), "%s/%s", path, de->d_name) >= sizeof(full) ||
            lstat(full, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode) && depth > 0 && de->d_name[0] != '.') {
            unsigned long before_n = *removed;

            rc = backend_local_sweep_dir(full, before, depth - 1, removed, err);
            /* rmdir fails, as it should, while anything else is there */
            if (rc == TC_OK && (*removed > before_n || (int64_t)st.st_mtime < before) &&
                rmdir(full) == 0 && *removed == before_n)
                (*removed)++; /* an old empty directory: a crash before the first file */
        } else if (S_ISREG(st.st_mode) && !strncmp(de->d_name, ".tmp-", 5) &&
                   (int64_t)st.st_mtime < before) {
            if (unlink(full) == 0)
                (*removed)++;
            else if (errno != ENOENT)
                rc = tc_err_set(err, TC_IO, "local: sweep %s: %s", full, strerror(errno));
        }
    }
    closedir(d);
    return rc;
}

static int
backend_local_sweep(struct backend *b, const char *prefix, int64_t before, unsigned long *removed,
                    struct tc_err *err)
{
    struct backend_local *l = (struct backend_local *)b;
    char path[8192];
    size_t n = strlen(prefix);

    backend_count(b, BACKEND_OP_LIST, 1);
    if (n > 0 && prefix[n - 1] == '/')
        n--;
    snprintf(path, sizeof(path), "%s%s%.*s", l->root, n ? "/" : "", (int)n, prefix);
    return backend_local_sweep_dir(path, before, 3, removed, err);
}

static int
backend_local_remove_tenant(struct backend *b, const char *tenant, struct tc_err *err)
{
    struct backend_local *l = (struct backend_local *)b;
    char path[8192];

    backend_count(b, BACKEND_OP_DELETE, 1);
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", l->root, tenant) >= sizeof(path))
        return tc_err_set(err, TC_INVAL, "local: tenant path too long: %s", tenant);
    if (rmdir(path) == 0 || errno == ENOENT)
        return TC_OK;
    return tc_err_set(err, errno == ENOTEMPTY || errno == EEXIST ? TC_INVAL : TC_IO,
                      "local: remove tenant directory %s: %s", path, strerror(errno));
}

static void
backend_local_free(struct backend *b)
{
    struct backend_local *l = (struct backend_local *)b;
    size_t i;

    for (i = 0; i < l->nskipped; i++)
        tc_free(l->skipped[i]);
    pthread_mutex_destroy(&l->mu);
    tc_free(l->root);
    tc_free(l);
}

static const struct backend_ops backend_local_ops = {
    .name = "local",
    .tenants = backend_local_tenants,
    .blocks = backend_local_blocks,
    .get = backend_local_get,
    .get_many = backend_local_get_many,
    .put = backend_local_put,
    .append_begin = backend_local_append_begin,
    .append = backend_local_append,
    .append_end = backend_local_append_end,
    .append_abort = backend_local_append_abort,
    .put_fd = backend_local_put_fd,
    .copy = backend_local_copy,
    .del = backend_local_del,
    .find = backend_local_find,
    .sweep_incomplete = backend_local_sweep,
    .remove_tenant = backend_local_remove_tenant,
    .destroy = backend_local_free,
};

struct backend *
backend_local_new(const char *root, struct tc_err *err)
{
    struct backend_local *l;
    struct stat st;
    size_t n;

    if (root == NULL || *root == '\0')
        return tc_err_set(err, TC_INVAL, "local: path is empty"), NULL;
    if (stat(root, &st) != 0 && mkdir(root, 0755) != 0)
        return tc_err_set(err, TC_IO, "local: %s: %s", root, strerror(errno)), NULL;
    l = tc_calloc(1, sizeof(*l));
    if (l == NULL || (l->root = tc_strdup(root)) == NULL) {
        tc_free(l);
        return tc_err_set(err, TC_NOMEM, "local: out of memory"), NULL;
    }
    n = strlen(l->root);
    while (n > 1 && l->root[n - 1] == '/')
        l->root[--n] = '\0';
    pthread_mutex_init(&l->mu, NULL);
    {
        static const char *const lbl[] = {"reason", NULL};
        l->m_skipped =
            metrics_counter(metrics_default(), "tempo_compactor_local_skipped_entries_total",
                            "(ours) Tenant and block directory entries of the local "
                            "backend that are not listed (dot names, symlinks).",
                            lbl);
    }
    l->base.ops = &backend_local_ops;
    return &l->base;
}
