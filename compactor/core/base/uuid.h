/*
 * uuid.h - 16-byte block IDs in Go's uuid text form.
 *
 * Tempo names block directories with uuid.UUID.String() (lowercase,
 * 8-4-4-4-12). uuid_parse() accepts what Go's uuid.Parse accepts for the
 * canonical length: either case of hex, dashes at 8/13/18/23.
 */
#ifndef TC_UUID_H
#define TC_UUID_H

#include <stddef.h>
#include <stdint.h>

#define UUID_STR_LEN 36 /* without the NUL */

/* uuid_parse() reads exactly n bytes of s (not NUL-terminated). Returns
 * TC_OK or TC_PARSE; out is only written on success. */
int uuid_parse(const char *s, size_t n, uint8_t out[16]);

/* uuid_format() writes the lowercase canonical form and a NUL into out. */
void uuid_format(const uint8_t id[16], char out[UUID_STR_LEN + 1]);

/* uuid_cmp() orders IDs bytewise, which equals the order of their text form. */
int uuid_cmp(const uint8_t a[16], const uint8_t b[16]);

#endif
