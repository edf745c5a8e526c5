/*
 * backend.h - object storage behind one vtable: local directory or S3.
 *
 * Keys are relative to the backend root (the S3 prefix or the local path),
 * '/'-separated: "<tenant>/<blockID>/meta.json". Every public entry point
 * validates its key first, so no backend ever sees "..", ".", an empty
 * component, a leading '/' or a control character.
 *
 * A backend is shared by threads: all operations are thread-safe. Request
 * counters (for benchmarks and tests) are atomic.
 *
 * Layer backend (compactor/core/backend/): object storage: the backend
 * vtable, the local directory and S3 backends, SigV4, the latency model. May
 * include: base, parquet. Order: base <- parquet <- backend <- tempo <-
 * blocklist <- plan <- compact <- daemon, controller (hack/check-layers.sh).
 */
#ifndef TC_BACKEND_H
#define TC_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/tc.h"

#define BACKEND_META "meta.json"
#define BACKEND_META_COMPACTED "meta.compacted.json"
#define BACKEND_MAX_KEY 1024

struct backend;

/* A growable list of strings; the list owns them. */
struct backend_strlist {
    char **v;
    size_t n, cap;
};
void backend_strlist_cleanup(struct backend_strlist *l);
int backend_strlist_add(struct backend_strlist *l, const char *s, size_t n);

/* ListBlocks result: block IDs with meta.json (live) and with
 * meta.compacted.json (compacted). A block with both is in both arrays.
 * objects is the number of keys the listing walked (all block files). */
struct backend_blocks {
    uint8_t (*live)[16];
    size_t nlive, live_cap;
    uint8_t (*compacted)[16];
    size_t ncompacted, compacted_cap;
    size_t objects;
    size_t skipped; /* entries whose directory is not a UUID */
};
void backend_blocks_cleanup(struct backend_blocks *bb);
int backend_blocks_add(struct backend_blocks *bb, const uint8_t id[16], int compacted);

struct backend_object {
    const char *key; /* borrowed for the callback */
    int64_t last_modified;
    uint64_t size;
};
typedef int (*backend_find_fn)(const struct backend_object *o, void *ud);

/* One GET of a batch (backend_get_many). The caller fills key, max and ud;
 * the backend fills the rest before calling done(). body is owned by the
 * request: done() may take it or leave it for backend_get_cleanup(). */
struct backend_get {
    const char *key; /* borrowed until done() */
    size_t max;      /* body cap; 0 = 64 MiB */
    void *ud;
    int code; /* TC_OK, TC_NOTFOUND, TC_TOOBIG, ... */
    struct buf body;
    int64_t last_modified; /* seconds since the epoch */
    char errmsg[TC_ERR_LEN];
};
typedef void (*backend_get_done_fn)(struct backend_get *g, void *ud);
void backend_get_cleanup(struct backend_get *g);

enum backend_op {
    BACKEND_OP_LIST = 0, /* one request per listing page (local: per tenant walk) */
    BACKEND_OP_GET,
    BACKEND_OP_PUT,
    BACKEND_OP_COPY,
    BACKEND_OP_DELETE,
    BACKEND_OP__COUNT
};

struct backend_ops {
    const char *name;
    int (*tenants)(struct backend *b, struct backend_strlist *out, struct tc_err *err);
    int (*blocks)(struct backend *b, const char *tenant, struct backend_blocks *out,
                  struct tc_err *err);
    int (*get)(struct backend *b, const char *key, uint64_t off, uint64_t len, size_t max,
               struct buf *out, int64_t *mtime, struct tc_err *err);
    void (*get_many)(struct backend *b, struct backend_get *reqs, size_t n, int concurrency,
                     int jitter_ms, backend_get_done_fn done, void *ud);
    int (*put)(struct backend *b, const char *key, const void *p, size_t n, struct tc_err *err);
    int (*append_begin)(struct backend *b, const char *key, void **h, struct tc_err *err);
    int (*append)(struct backend *b, void *h, const void *p, size_t n, struct tc_err *err);
    int (*append_end)(struct backend *b, void *h, struct tc_err *err);
    void (*append_abort)(struct backend *b, void *h);
    /* optional; NULL = backend_put_fd() reads the file in parts through append */
    int (*put_fd)(struct backend *b, const char *key, int fd, uint64_t size, struct tc_err *err);
    int (*copy)(struct backend *b, const char *src, const char *dst, struct tc_err *err);
    int (*del)(struct backend *b, const char *key, struct tc_err *err);
    int (*find)(struct backend *b, const char *prefix, backend_find_fn fn, void *ud,
                struct tc_err *err);
    /* optional; NULL = nothing of an interrupted write can remain */
    int (*sweep_incomplete)(struct backend *b, const char *prefix, int64_t before,
                            unsigned long *removed, struct tc_err *err);
    /* optional; NULL = a tenant with no objects does not exist (object stores) */
    int (*remove_tenant)(struct backend *b, const char *tenant, struct tc_err *err);
    void (*destroy)(struct backend *b);
};

/* Every backend struct starts with this header. */
struct backend {
    const struct backend_ops *ops;
    unsigned long requests[BACKEND_OP__COUNT]; /* atomic */
};

/* backend_valid_tenant() accepts a single path component: non-empty, at most
 * 255 bytes, not "." or "..", no '/', '\\' or control characters. */
int backend_valid_tenant(const char *t, struct tc_err *err);
/* backend_valid_key() checks every component of key the same way. */
int backend_valid_key(const char *key, struct tc_err *err);

/* backend_count() adds n requests of kind op (used by implementations). */
void backend_count(struct backend *b, enum backend_op op, unsigned long n);
unsigned long backend_requests(const struct backend *b, enum backend_op op);

/* The operations. Strings are borrowed; outputs are owned by the caller. */
int backend_tenants(struct backend *b, struct backend_strlist *out, struct tc_err *err);
int backend_blocks(struct backend *b, const char *tenant, struct backend_blocks *out,
                   struct tc_err *err);
/* backend_get() reads the whole object (len 0) or [off, off+len). Bodies
 * larger than max (0 = 64 MiB) fail with TC_TOOBIG without being read.
 * mtime may be NULL. TC_NOTFOUND when the object does not exist. */
int backend_get(struct backend *b, const char *key, uint64_t off, uint64_t len, size_t max,
                struct buf *out, int64_t *mtime, struct tc_err *err);
/* backend_get_many() runs n GETs with at most concurrency in flight and calls
 * done() for each, on the calling thread. jitter_ms > 0 delays each start by a
 * random [0, jitter_ms) as Tempo's blocklist_poll_jitter_ms does. */
void backend_get_many(struct backend *b, struct backend_get *reqs, size_t n, int concurrency,
                      int jitter_ms, backend_get_done_fn done, void *ud);
int backend_put(struct backend *b, const char *key, const void *p, size_t n, struct tc_err *err);
/* Multipart write: begin, append parts, then end (commit) or abort. The
 * object appears only at end(). */
int backend_append_begin(struct backend *b, const char *key, void **h, struct tc_err *err);
int backend_append(struct backend *b, void *h, const void *p, size_t n, struct tc_err *err);
int backend_append_end(struct backend *b, void *h, struct tc_err *err);
void backend_append_abort(struct backend *b, void *h);
/* backend_put_fd() writes bytes [0, size) of the open file fd as key, read
 * with pread (fd's offset is not used); like append, the object appears only
 * when it is whole. The local backend copies in the kernel; others stream
 * parts of BACKEND_PUT_FD_PART bytes. fd stays the caller's. */
#define BACKEND_PUT_FD_PART ((size_t)8 << 20)
int backend_put_fd(struct backend *b, const char *key, int fd, uint64_t size, struct tc_err *err);
int backend_copy(struct backend *b, const char *src, const char *dst, struct tc_err *err);
/* backend_delete() returns TC_NOTFOUND when nothing was there. */
int backend_delete(struct backend *b, const char *key, struct tc_err *err);
/* backend_find() lists every object below prefix (recursive); a non-zero
 * return from fn stops the walk and is returned. */
int backend_find(struct backend *b, const char *prefix, backend_find_fn fn, void *ud,
                 struct tc_err *err);
/* backend_sweep_incomplete() removes what interrupted writes below prefix
 * left behind, when they started before `before` (seconds since the epoch):
 * the local backend's ".tmp-" files (and the directories that leaves empty),
 * S3's incomplete multipart uploads (aborted). A crash between begin and end
 * of a multipart write leaves exactly these, and find() never shows them, so
 * the orphan sweep calls this. *removed (may be NULL) gets the count. */
int backend_sweep_incomplete(struct backend *b, const char *prefix, int64_t before,
                             unsigned long *removed, struct tc_err *err);
/* backend_remove_tenant() removes what is left of a tenant whose objects
 * are all deleted: the local backend's tenant directory, which deletes keep
 * (as Tempo's local backend does); nothing on object stores. TC_INVAL when
 * the directory still holds anything. */
int backend_remove_tenant(struct backend *b, const char *tenant, struct tc_err *err);
void backend_free(struct backend *b);

/* Shared helpers for implementations. */
/* backend_get_many_serial() runs reqs one by one through ops->get. */
void backend_get_many_serial(struct backend *b, struct backend_get *reqs, size_t n, int jitter_ms,
                             backend_get_done_fn done, void *ud);
/* backend_parse_block_key() splits "<blockID>/<file>" (relative to the
 * tenant) and returns 0 live, 1 compacted, -1 for anything else. */
int backend_parse_block_key(const char *rel, size_t n, uint8_t id[16]);
/* backend_shard_bounds() fills n+1 16-byte boundaries as Tempo's
 * blockboundary.CreateBlockBoundaries does (last one all 0xff). */
void backend_shard_bounds(int n, uint8_t (*bounds)[16]);

/* The local directory backend (backend_local.c). root is copied. */
struct backend *backend_local_new(const char *root, struct tc_err *err);

#endif
