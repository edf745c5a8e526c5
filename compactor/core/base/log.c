/* log.c - logfmt/json line formatting and the single write(2) per line. */
#include "base/log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/tc.h"

#define LOG_LINE_MAX 8192

static atomic_int log_level = LOG_LEVEL_INFO;
static atomic_int log_json;
static atomic_int log_fd = 2;

static const char *const log_names[] = {"debug", "info", "warn", "error"};

int
log_set_level(const char *name)
{
    size_t i;

    for (i = 0; i < TC_ARRAY_LEN(log_names); i++) {
        if (strcmp(name, log_names[i]) == 0) {
            atomic_store(&log_level, (int)i);
            return TC_OK;
        }
    }
    return TC_INVAL;
}

int
log_set_format(const char *name)
{
    if (strcmp(name, "logfmt") == 0)
        atomic_store(&log_json, 0);
    else if (strcmp(name, "json") == 0)
        atomic_store(&log_json, 1);
    else
        return TC_INVAL;
    return TC_OK;
}

void
log_set_fd(int fd)
{
    atomic_store(&log_fd, fd);
}

int
log_enabled(enum log_level lvl)
{
    return (int)lvl >= atomic_load(&log_level);
}

struct out {
    char *p;
    int len, size;
};

static void
out_c(struct out *o, char c)
{
    /* keep room for the final "\n\0" */
    if (o->len < o->size - 2)
        o->p[o->len++] = c;
}

static void
out_s(struct out *o, const char *s)
{
    while (*s)
        out_c(o, *s++);
}

/* Quote as logfmt/JSON do: escape quotes, backslashes and control bytes. */
static void
out_quoted(struct out *o, const char *s)
{
    char hex[8];

    out_c(o, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out_c(o, '\\');
            out_c(o, (char)c);
        } else if (c == '\n') {
            out_s(o, "\\n");
        } else if (c == '\t') {
            out_s(o, "\\t");
        } else if (c == '\r') {
            out_s(o, "\\r");
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(hex, sizeof(hex), "\\u%04x", c);
            out_s(o, hex);
        } else {
            out_c(o, (char)c);
        }
    }
    out_c(o, '"');
}

static int
needs_quote(const char *s)
{
    if (*s == '\0')
        return 1;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= ' ' || c == '=' || c == '"' || c == '\\' || c == 0x7f)
            return 1;
    }
    return 0;
}

static void
out_key(struct out *o, int json, int first, const char *k)
{
    if (json) {
        if (!first)
            out_c(o, ',');
        out_quoted(o, k);
        out_c(o, ':');
    } else {
        if (!first)
            out_c(o, ' ');
        out_s(o, k);
        out_c(o, '=');
    }
}

static void
out_str(struct out *o, int json, const char *v)
{
    if (v == NULL)
        v = "";
    if (json || needs_quote(v))
        out_quoted(o, v);
    else
        out_s(o, v);
}

int
log_format_line(char *out, int outsz, enum log_level lvl, const char *ts, const char *file,
                int line, const char *msg, const struct log_kv *kv, int nkv)
{
    struct out o = {out, 0, outsz};
    char num[64];
    const char *base = strrchr(file, '/');
    int json = atomic_load(&log_json);
    int i;

    base = base ? base + 1 : file;
    if (json)
        out_c(&o, '{');
    out_key(&o, json, 1, "level");
    out_str(&o, json, log_names[lvl]);
    out_key(&o, json, 0, "ts");
    out_str(&o, json, ts);
    snprintf(num, sizeof(num), "%s:%d", base, line);
    out_key(&o, json, 0, "caller");
    out_str(&o, json, num);
    out_key(&o, json, 0, "msg");
    out_str(&o, json, msg);
    for (i = 0; i < nkv; i++) {
        out_key(&o, json, 0, kv[i].key);
        switch (kv[i].type) {
        case LOG_KV_STR:
            out_str(&o, json, kv[i].v.s);
            continue;
        case LOG_KV_INT:
            snprintf(num, sizeof(num), "%lld", (long long)kv[i].v.i);
            break;
        case LOG_KV_UINT:
            snprintf(num, sizeof(num), "%llu", (unsigned long long)kv[i].v.u);
            break;
        case LOG_KV_FLOAT:
            snprintf(num, sizeof(num), "%.6g", kv[i].v.f);
            break;
        case LOG_KV_BOOL:
            snprintf(num, sizeof(num), "%s", kv[i].v.i ? "true" : "false");
            break;
        default:
            num[0] = '\0';
            break;
        }
        out_s(&o, num);
    }
    if (json)
        out_c(&o, '}');
    o.p[o.len++] = '\n';
    o.p[o.len] = '\0';
    return o.len;
}

void
log_emit(enum log_level lvl, const char *file, int line, const char *msg, const struct log_kv *kv,
         int nkv)
{
    char linebuf[LOG_LINE_MAX], ts[64];
    struct timespec now;
    struct tm tm;
    ssize_t w;
    int n;

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    n = (int)strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof(ts) - (size_t)n, ".%06ldZ", now.tv_nsec / 1000);
    n = log_format_line(linebuf, sizeof(linebuf), lvl, ts, file, line, msg, kv, nkv);
    w = write(atomic_load(&log_fd), linebuf, (size_t)n);
    (void)w; /* nothing sensible to do if stderr is gone */
}
