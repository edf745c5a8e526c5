/* buf.c - capped growable buffers (see buf.h for the contract). */
#include "base/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/mem.h"
#include "base/tc.h"

void
buf_init(struct buf *b, size_t cap)
{
    b->data = NULL;
    b->len = 0;
    b->size = 0;
    b->cap = cap ? cap : BUF_CAP_DEFAULT;
}

void
buf_cleanup(struct buf *b)
{
    tc_free(b->data);
    b->data = NULL;
    b->len = 0;
    b->size = 0;
}

void
buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

int
buf_reserve(struct buf *b, size_t n)
{
    size_t need, nsize;
    char *p;

    if (n > b->cap || b->len > b->cap - n) {
        buf_cleanup(b);
        return TC_TOOBIG;
    }
    need = b->len + n + 1;
    if (need <= b->size)
        return TC_OK;
    nsize = b->size ? b->size : 64;
    while (nsize < need)
        nsize = nsize > SIZE_MAX / 2 ? need : nsize * 2;
    if (nsize > b->cap + 1)
        nsize = b->cap + 1 > need ? b->cap + 1 : need;
    p = tc_realloc(b->data, nsize);
    if (p == NULL) {
        buf_cleanup(b);
        return TC_NOMEM;
    }
    b->data = p;
    b->size = nsize;
    b->data[b->len] = '\0';
    return TC_OK;
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
    int rc = buf_reserve(b, n);

    if (rc != TC_OK)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return TC_OK;
}

int
buf_puts(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int
buf_putc(struct buf *b, char c)
{
    return buf_append(b, &c, 1);
}

int
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    int n, rc;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return TC_INVAL;
    rc = buf_reserve(b, (size_t)n);
    if (rc != TC_OK)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return TC_OK;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int
buf_put_u32le(struct buf *b, uint32_t v)
{
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    return buf_append(b, x, 4);
}

int
buf_put_u64be(struct buf *b, uint64_t v)
{
    unsigned char x[8];
    int i;

    for (i = 0; i < 8; i++)
        x[i] = (unsigned char)(v >> (56 - 8 * i));
    return buf_append(b, x, 8);
}

int
buf_put_uvarint(struct buf *b, uint64_t v)
{
    unsigned char x[10];
    size_t n = 0;

    while (v >= 0x80) {
        x[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    x[n++] = (unsigned char)v;
    return buf_append(b, x, n);
}

char *
buf_take(struct buf *b, size_t *len)
{
    char *p = b->data;

    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = 0;
    b->size = 0;
    return p;
}

int
buf_read_fd(struct buf *b, int fd, const char *name, struct tc_err *err)
{
    char chunk[65536];
    ssize_t n;

    for (;;) {
        n = read(fd, chunk, sizeof(chunk));
        if (n == 0)
            return TC_OK;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return tc_err_set(err, TC_IO, "%s: %s", name, strerror(errno));
        }
        if (buf_append(b, chunk, (size_t)n) != TC_OK)
            return tc_err_set(err, TC_TOOBIG, "%s: larger than %zu bytes", name, b->cap);
    }
}

int
buf_read_file(struct buf *b, const char *path, struct tc_err *err)
{
    int fd, rc;

    if (strcmp(path, "-") == 0)
        return buf_read_fd(b, STDIN_FILENO, "stdin", err);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tc_err_set(err, errno == ENOENT ? TC_NOTFOUND : TC_IO, "%s: %s", path,
                          strerror(errno));
    rc = buf_read_fd(b, fd, path, err);
    close(fd);
    return rc;
}

int
buf_put_base64(struct buf *b, const uint8_t *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char q[4];
    size_t i;
    int rc = TC_OK;

    for (i = 0; i < n && rc == TC_OK; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        q[0] = tab[(v >> 18) & 63];
        q[1] = tab[(v >> 12) & 63];
        q[2] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        q[3] = i + 2 < n ? tab[v & 63] : '=';
        rc = buf_append(b, q, 4);
    }
    return rc;
}
