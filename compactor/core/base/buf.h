/*
 * buf.h - capped, growable byte buffers.
 *
 * A struct buf is embedded in its owner: buf_init(&b, cap) then buf_cleanup(&b).
 * It never grows past cap bytes (TC_TOOBIG). On any append failure the buffer
 * is freed and reset, so a half-built body is never used by mistake. The
 * content is always NUL-terminated (the NUL is not counted in len).
 */
#ifndef TC_BUF_H
#define TC_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "base/tc.h"

struct buf {
    char *data;  /* NULL until the first append */
    size_t len;  /* bytes used, excluding the NUL */
    size_t size; /* bytes allocated */
    size_t cap;  /* hard limit on len */
};

#define BUF_CAP_DEFAULT ((size_t)64 << 20)

void buf_init(struct buf *b, size_t cap);
void buf_cleanup(struct buf *b);
/* buf_reset() keeps the allocation and empties the buffer. */
void buf_reset(struct buf *b);

int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends p[0..n) in standard base64 with padding (Go's StdEncoding). */
int buf_put_base64(struct buf *b, const uint8_t *p, size_t n);
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* buf_reserve() makes room for n more bytes without changing len. */
int buf_reserve(struct buf *b, size_t n);

/* Little/big-endian and varint writers used by the codecs. */
int buf_put_u32le(struct buf *b, uint32_t v);
int buf_put_u64be(struct buf *b, uint64_t v);
int buf_put_uvarint(struct buf *b, uint64_t v);

/* buf_read_fd() appends everything up to EOF on fd to b; name is only for
 * the error. buf_read_file() does the same for path ("-" reads stdin).
 * Errors name the file: TC_NOTFOUND, TC_IO, or TC_TOOBIG past b's cap
 * (b is then empty, as after any failed append). */
int buf_read_fd(struct buf *b, int fd, const char *name, struct tc_err *err);
int buf_read_file(struct buf *b, const char *path, struct tc_err *err);

/* buf_take() hands the data to the caller (who frees it with tc_free) and
 * resets b. Returns NULL for an empty buffer that never allocated. */
char *buf_take(struct buf *b, size_t *len);

#endif
