/*
 * tc.h - the one error vocabulary of the core library.
 *
 * Every core function that can fail returns an enum tc_code. TC_OK is 0, so
 * `if (rc != TC_OK) goto out;` is the house idiom. Numbers are stable: never
 * renumber, only append before TC__LAST. Details go into a caller-provided
 * struct tc_err, never to stderr.
 *
 * Layer base (compactor/core/base/): the foundation every layer stands on:
 * the error enum (tc.h), memory (mem.h), capped buffers (buf.h), the logger,
 * hashes, UUIDs, time formats, the clock, the config engine, the metrics
 * registry, the HTTP server and client. May include: nothing else in core.
 * Order: base <- parquet <- backend <- tempo <- blocklist <- plan <- compact
 * <- daemon, controller (hack/check-layers.sh).
 */
#ifndef TC_H
#define TC_H

#include <stddef.h>
#include <stdint.h>

enum tc_code {
    TC_OK = 0,
    TC_ERR = 1,          /* generic failure, see tc_err.msg */
    TC_NOMEM = 2,        /* allocation failed */
    TC_INVAL = 3,        /* bad argument or bad input value */
    TC_NOTFOUND = 4,     /* object, key or file does not exist */
    TC_IO = 5,           /* local I/O error (errno in the message) */
    TC_PARSE = 6,        /* malformed input: YAML, JSON, meta, index, parquet */
    TC_TOOBIG = 7,       /* a capped buffer or object limit was hit */
    TC_TIMEOUT = 8,      /* an operation ran out of time */
    TC_NET = 9,          /* connection failed, reset or TLS error */
    TC_HTTP = 10,        /* the peer answered with an unexpected HTTP status */
    TC_AGAIN = 11,       /* transient: retry or requeue later */
    TC_DECLINED = 12,    /* not applicable / not mine; never an error */
    TC_CONFLICT = 13,    /* 409 or precondition failed: refetch and retry */
    TC_DENIED = 14,      /* 401/403, signature or permission failure */
    TC_CORRUPT = 15,     /* data failed validation (offsets, checksums) */
    TC_UNSUPPORTED = 16, /* valid input we do not implement */
    TC_CANCELED = 17,    /* stopped on request (shutdown) */
    TC__LAST             /* never use */
};

/* Room for a long file path plus a field path and a sentence; a longer
 * message is cut and ends in "..." so the cut is visible. */
#define TC_ERR_LEN 1024

/* Error detail filled by the callee. code mirrors the return value. */
struct tc_err {
    int code;
    char msg[TC_ERR_LEN];
};

/* tc_strerror() returns a static, human readable name for code. */
const char *tc_strerror(int code);

/* tc_err_set() formats msg into err (if err is non-NULL) and returns code,
 * so it can end a function: `return tc_err_set(err, TC_INVAL, "bad %s", k);` */
int tc_err_set(struct tc_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* tc_err_prefix() prepends "prefix: " to an existing message. Returns code. */
int tc_err_prefix(struct tc_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void tc_err_clear(struct tc_err *err);

/* Asserts stay on in release builds: log and abort. */
#define tc_assert(e) ((e) ? (void)0 : tc_assert_fail(#e, __FILE__, __LINE__))
void tc_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));

struct timespec;
/* tc_now() is CLOCK_MONOTONIC in seconds, tc_now_ms() in milliseconds: for
 * intervals and timeouts, never for wall time. */
double tc_now(void);
uint64_t tc_now_ms(void);
/* tc_sleep_ms() sleeps ms milliseconds, resuming after a signal. */
void tc_sleep_ms(long ms);

/* tc_deadline() sets *ts to CLOCK_REALTIME now + ms (for timed waits). */
void tc_deadline(struct timespec *ts, long ms);

#define TC_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

extern const char tc_version[];
extern const char tc_revision[];

#endif
