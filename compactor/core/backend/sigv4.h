/*
 * sigv4.h - AWS Signature Version 4 for S3 requests (OpenSSL HMAC/SHA-256).
 *
 * The caller passes the request parts already in canonical form: the path
 * URI-encoded once (S3 does not double-encode), the query string with sorted,
 * encoded key=value pairs, and the headers to sign with lowercase names
 * (host, x-amz-date, x-amz-content-sha256 and every other x-amz-* header).
 */
#ifndef TC_SIGV4_H
#define TC_SIGV4_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/http_client.h"

struct sigv4_key {
    const char *access_key; /* borrowed */
    const char *secret_key;
    const char *region;
    const char *service; /* "s3" */
};

/* sigv4_sha256_hex() writes the lowercase hex SHA-256 of p[0..n) and a NUL. */
void sigv4_sha256_hex(const void *p, size_t n, char out[65]);

/* sigv4_amz_date() formats t (Unix seconds) as "YYYYMMDDTHHMMSSZ". */
void sigv4_amz_date(int64_t t, char out[17]);

/* sigv4_authorization() appends the Authorization header value to out.
 * hdrs (nhdrs, borrowed) must be sorted by name and include host and
 * x-amz-date (whose value is the signing time). */
int sigv4_authorization(const struct sigv4_key *k, const char *method, const char *path,
                        const char *query, const struct http_header *hdrs, size_t nhdrs,
                        const char *payload_hash, struct buf *out);

#endif
