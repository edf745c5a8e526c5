/* tc.c - error names, error detail helpers and the release-build assert. */
#include "base/tc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef TC_VERSION
#define TC_VERSION "0.1.0-dev"
#endif
#ifndef TC_REVISION
#define TC_REVISION "unknown"
#endif

const char tc_version[] = TC_VERSION;
const char tc_revision[] = TC_REVISION;

static const char *const tc_names[TC__LAST] = {
    [TC_OK] = "ok",
    [TC_ERR] = "error",
    [TC_NOMEM] = "out of memory",
    [TC_INVAL] = "invalid argument",
    [TC_NOTFOUND] = "not found",
    [TC_IO] = "i/o error",
    [TC_PARSE] = "parse error",
    [TC_TOOBIG] = "too big",
    [TC_TIMEOUT] = "timeout",
    [TC_NET] = "network error",
    [TC_HTTP] = "unexpected http status",
    [TC_AGAIN] = "try again",
    [TC_DECLINED] = "declined",
    [TC_CONFLICT] = "conflict",
    [TC_DENIED] = "access denied",
    [TC_CORRUPT] = "corrupt data",
    [TC_UNSUPPORTED] = "unsupported",
    [TC_CANCELED] = "canceled",
};

const char *
tc_strerror(int code)
{
    if (code < 0 || code >= TC__LAST || tc_names[code] == NULL)
        return "unknown error";
    return tc_names[code];
}

/* A cut message ends in "..." so nobody mistakes it for the whole text. */
static void
tc_err_mark_cut(struct tc_err *err, int n)
{
    if (n >= (int)sizeof(err->msg))
        memcpy(err->msg + sizeof(err->msg) - 4, "...", 4);
}

int
tc_err_set(struct tc_err *err, int code, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (err == NULL)
        return code;
    err->code = code;
    va_start(ap, fmt);
    n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    tc_err_mark_cut(err, n);
    return code;
}

int
tc_err_prefix(struct tc_err *err, const char *fmt, ...)
{
    char pre[TC_ERR_LEN], old[TC_ERR_LEN];
    va_list ap;
    int n;

    if (err == NULL)
        return TC_ERR;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof(pre), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    n = snprintf(err->msg, sizeof(err->msg), "%s: %s", pre, old);
    tc_err_mark_cut(err, n);
    return err->code;
}

void
tc_err_clear(struct tc_err *err)
{
    if (err == NULL)
        return;
    err->code = TC_OK;
    err->msg[0] = '\0';
}

void
tc_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "level=error msg=\"assertion failed\" expr=\"%s\" caller=%s:%d\n", expr, file,
            line);
    abort();
}

double
tc_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

uint64_t
tc_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
tc_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (ms > 0 && nanosleep(&ts, &ts) != 0)
        ;
}

void
tc_deadline(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}
