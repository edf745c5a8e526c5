/* sigv4.c - AWS SigV4 signing (see sigv4.h). */
#include "backend/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/tc.h"

static void
sigv4_hex(const unsigned char *p, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 15];
    }
    out[2 * n] = '\0';
}

void
sigv4_sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned int len = 0;

    EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
    sigv4_hex(md, 32, out);
}

void
sigv4_amz_date(int64_t t, char out[17])
{
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

static void
sigv4_hmac(const void *key, size_t klen, const void *msg, size_t mlen, unsigned char out[32])
{
    unsigned int len = 32;

    HMAC(EVP_sha256(), key, (int)klen, msg, mlen, out, &len);
}

int
sigv4_authorization(const struct sigv4_key *k, const char *method, const char *path,
                    const char *query, const struct http_header *hdrs, size_t nhdrs,
                    const char *payload_hash, struct buf *out)
{
    struct buf creq, signed_names, sts;
    const char *amz_date = NULL;
    char date[9], hash[65], sig[65];
    unsigned char kdate[32], kregion[32], kservice[32], ksigning[32], mac[32];
    char secret[256];
    size_t i;
    int rc = TC_OK;

    for (i = 0; i < nhdrs; i++)
        if (strcmp(hdrs[i].name, "x-amz-date") == 0)
            amz_date = hdrs[i].value;
    if (amz_date == NULL || strlen(amz_date) != 16)
        return TC_INVAL;
    memcpy(date, amz_date, 8);
    date[8] = '\0';
    buf_init(&creq, 1 << 16);
    buf_init(&signed_names, 4096);
    buf_init(&sts, 4096);
    rc = buf_printf(&creq, "%s\n%s\n%s\n", method, path, query ? query : "");
    for (i = 0; rc == TC_OK && i < nhdrs; i++) {
        /* Values are trimmed by the caller; S3 keys never need folding. */
        rc = buf_printf(&creq, "%s:%s\n", hdrs[i].name, hdrs[i].value);
        if (rc == TC_OK)
            rc = buf_printf(&signed_names, "%s%s", i ? ";" : "", hdrs[i].name);
    }
    if (rc == TC_OK)
        rc = buf_printf(&creq, "\n%s\n%s", signed_names.data, payload_hash);
    if (rc == TC_OK) {
        sigv4_sha256_hex(creq.data, creq.len, hash);
        rc = buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", amz_date, date,
                        k->region, k->service, hash);
    }
    if (rc == TC_OK) {
        snprintf(secret, sizeof(secret), "AWS4%s", k->secret_key);
        sigv4_hmac(secret, strlen(secret), date, 8, kdate);
        sigv4_hmac(kdate, 32, k->region, strlen(k->region), kregion);
        sigv4_hmac(kregion, 32, k->service, strlen(k->service), kservice);
        sigv4_hmac(kservice, 32, "aws4_request", 12, ksigning);
        sigv4_hmac(ksigning, 32, sts.data, sts.len, mac);
        sigv4_hex(mac, 32, sig);
        rc = buf_printf(out,
                        "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, "
                        "SignedHeaders=%s, Signature=%s",
                        k->access_key, date, k->region, k->service, signed_names.data, sig);
        memset(secret, 0, sizeof(secret));
    }
    buf_cleanup(&creq);
    buf_cleanup(&signed_names);
    buf_cleanup(&sts);
    return rc;
}
