/*
 * log.h - leveled logfmt logger in Tempo's style.
 *
 *   level=info ts=2026-11-21T10:00:00.123456Z caller=poll.c:88 msg="poll done" tenant=3
 *
 * Only this module writes to stderr. Values are quoted and escaped as logfmt
 * requires, so a hostile tenant ID cannot forge fields. Each line is emitted
 * with one write(2), so lines from threads never interleave.
 *
 *   LOG_INFO("blocklist poll complete", KV_S("tenant", t), KV_F("seconds", s));
 */
#ifndef TC_LOG_H
#define TC_LOG_H

#include <stdint.h>

enum log_level { LOG_LEVEL_DEBUG = 0, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };
enum log_kv_type { LOG_KV_END = 0, LOG_KV_STR, LOG_KV_INT, LOG_KV_UINT, LOG_KV_FLOAT, LOG_KV_BOOL };

struct log_kv {
    const char *key;
    enum log_kv_type type;
    union {
        const char *s;
        int64_t i;
        uint64_t u;
        double f;
    } v;
};

#define KV_S(k, x)                                                                                 \
    {                                                                                              \
        (k), LOG_KV_STR,                                                                           \
        {                                                                                          \
            .s = (x)                                                                               \
        }                                                                                          \
    }
#define KV_I(k, x)                                                                                 \
    {                                                                                              \
        (k), LOG_KV_INT,                                                                           \
        {                                                                                          \
            .i = (int64_t)(x)                                                                      \
        }                                                                                          \
    }
#define KV_U(k, x)                                                                                 \
    {                                                                                              \
        (k), LOG_KV_UINT,                                                                          \
        {                                                                                          \
            .u = (uint64_t)(x)                                                                     \
        }                                                                                          \
    }
#define KV_F(k, x)                                                                                 \
    {                                                                                              \
        (k), LOG_KV_FLOAT,                                                                         \
        {                                                                                          \
            .f = (double)(x)                                                                       \
        }                                                                                          \
    }
#define KV_B(k, x)                                                                                 \
    {                                                                                              \
        (k), LOG_KV_BOOL,                                                                          \
        {                                                                                          \
            .i = (x) ? 1 : 0                                                                       \
        }                                                                                          \
    }
/* KV_ERR takes a struct tc_err * and logs its message. */
#define KV_ERR(e) KV_S("err", (e)->msg)

#define LOG_(lvl, msg, ...)                                                                        \
    do {                                                                                           \
        if (log_enabled(lvl)) {                                                                    \
            const struct log_kv log_kv_[] = {{NULL, LOG_KV_END, {0}}, ##__VA_ARGS__};              \
            log_emit((lvl), __FILE__, __LINE__, (msg), log_kv_ + 1,                                \
                     sizeof(log_kv_) / sizeof(log_kv_[0]) - 1);                                    \
        }                                                                                          \
    } while (0)

#define LOG_DEBUG(msg, ...) LOG_(LOG_LEVEL_DEBUG, msg, ##__VA_ARGS__)
#define LOG_INFO(msg, ...) LOG_(LOG_LEVEL_INFO, msg, ##__VA_ARGS__)
#define LOG_WARN(msg, ...) LOG_(LOG_LEVEL_WARN, msg, ##__VA_ARGS__)
#define LOG_ERROR(msg, ...) LOG_(LOG_LEVEL_ERROR, msg, ##__VA_ARGS__)

/* log_set_level() takes "debug", "info", "warn" or "error". Returns TC_INVAL otherwise. */
int log_set_level(const char *name);
/* log_set_format() takes "logfmt" or "json". Returns TC_INVAL otherwise. */
int log_set_format(const char *name);
/* log_set_fd() redirects output (tests); default is 2. */
void log_set_fd(int fd);
int log_enabled(enum log_level lvl);

void log_emit(enum log_level lvl, const char *file, int line, const char *msg,
              const struct log_kv *kv, int nkv);

/* log_format_line() renders one line into out (capped at outsz, always
 * NUL-terminated, ends with '\n'). Used by log_emit and by tests. */
int log_format_line(char *out, int outsz, enum log_level lvl, const char *ts, const char *file,
                    int line, const char *msg, const struct log_kv *kv, int nkv);

#endif
