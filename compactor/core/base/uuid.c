/* uuid.c - block ID parsing and formatting (see uuid.h). */
#include "base/uuid.h"

#include <string.h>

#include "base/tc.h"

static int
uuid_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int
uuid_parse(const char *s, size_t n, uint8_t out[16])
{
    uint8_t id[16];
    size_t i, j = 0;

    if (n != UUID_STR_LEN)
        return TC_PARSE;
    for (i = 0; i < n;) {
        int hi, lo;

        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return TC_PARSE;
            i++;
            continue;
        }
        hi = uuid_hexval(s[i]);
        lo = uuid_hexval(s[i + 1]);
        if (hi < 0 || lo < 0)
            return TC_PARSE;
        id[j++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    memcpy(out, id, 16);
    return TC_OK;
}

void
uuid_format(const uint8_t id[16], char out[UUID_STR_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    size_t i, j = 0;

    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[j++] = '-';
        out[j++] = hex[id[i] >> 4];
        out[j++] = hex[id[i] & 15];
    }
    out[j] = '\0';
}

int
uuid_cmp(const uint8_t a[16], const uint8_t b[16])
{
    return memcmp(a, b, 16);
}
