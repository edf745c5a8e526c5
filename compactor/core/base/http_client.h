/*
 * http_client.h - HTTP client on libcurl's multi interface.
 *
 * One client per thread. It keeps connections alive across requests, caps
 * response bodies, applies timeouts and verifies TLS unless told otherwise.
 * Requests are either synchronous (http_client_do) or many-at-once on one
 * thread (http_client_submit + http_client_poll). Retry policy is left to
 * callers, with http_retryable() and http_backoff_ms() as the shared helpers.
 */
#ifndef TC_HTTP_CLIENT_H
#define TC_HTTP_CLIENT_H

#include <stddef.h>

#include "base/buf.h"
#include "base/tc.h"

struct http_client;

struct http_client_opts {
    long connect_timeout_ms; /* 0 = 10 s */
    long timeout_ms;         /* whole-request default; 0 = 60 s */
    const char *ca_file;     /* PEM bundle path, or NULL for the system store */
    const char *ca_pem;      /* PEM bundle in memory (borrowed for the call) */
    size_t ca_pem_len;
    const char *cert_pem; /* client certificate in memory (never written to disk) */
    size_t cert_pem_len;
    const char *key_pem;
    size_t key_pem_len;
    int insecure_skip_verify; /* only when explicitly configured */
    long max_host_conns;      /* 0 = unlimited (curl default) */
    const char *user_agent;   /* NULL = "tempo-compactor/<version>" */
    /* Accept-Encoding to offer, decoded transparently: "" = every encoding
     * libcurl was built with; NULL = none offered (SigV4 signs raw bytes). */
    const char *accept_encoding;
    long tcp_keepidle_s; /* idle seconds before TCP keepalive probes; 0 = 60 */
    /* TCP_QUICKACK once the response headers are in and on each chunk
     * handed to a streaming sink. A server that writes headers and body in
     * two segments without TCP_NODELAY (Python's http.server) otherwise
     * waits for our delayed ACK: 40 ms per request, or per watch event. */
    int tcp_quickack;
};

struct http_header {
    const char *name;
    const char *value;
};

struct http_request {
    const char *method; /* "GET", "PUT", ... */
    const char *url;
    const struct http_header *headers;
    size_t nheaders;
    const void *body; /* borrowed until the transfer completes */
    size_t body_len;
    size_t max_body;        /* response body cap; 0 = 64 MiB */
    long timeout_ms;        /* 0 = client default; -1 = none (watches) */
    const char *connect_to; /* optional curl CONNECT_TO "host:port:addr:port" */
    /* Optional streaming sink: when set, body bytes go here instead of
     * resp->body. Return 0 to continue, non-zero to abort the transfer. */
    int (*sink)(const char *p, size_t n, void *ud);
    void *sink_ud;
    /* With a sink: only a 2xx body is streamed; any other status's body
     * (an API error) goes to resp->body, capped by max_body. */
    int sink_2xx_only;
    /* Optional stop flag, set from any thread: when *stop becomes non-zero
     * the transfer ends with TC_CANCELED within about 100 ms (checked from
     * curl's progress callback and before each wait in http_client_poll). */
    const volatile int *stop;
};

struct http_response {
    long status;        /* 0 when no response arrived */
    struct buf body;    /* capped by max_body */
    struct buf headers; /* raw header block of the final response */
    double seconds;     /* total transfer time */
    int code;           /* TC_OK, TC_NET, TC_TIMEOUT, TC_TOOBIG, TC_CANCELED */
    char errmsg[TC_ERR_LEN];
};

void http_response_init(struct http_response *r);
void http_response_cleanup(struct http_response *r);
/* http_response_header() copies the value of header `name` (case-insensitive,
 * last occurrence) into out. Returns TC_OK or TC_NOTFOUND. */
int http_response_header(const struct http_response *r, const char *name, char *out, size_t outsz);

struct http_client *http_client_new(const struct http_client_opts *opts, struct tc_err *err);
void http_client_free(struct http_client *c);

/* Synchronous request. Returns TC_OK when a response arrived, whatever its
 * status; otherwise resp->code and err say what failed. */
int http_client_do(struct http_client *c, const struct http_request *req,
                   struct http_response *resp, struct tc_err *err);

/* Asynchronous request: headers are copied now; body and resp are borrowed
 * until done() runs (from inside http_client_poll). */
typedef void (*http_done_fn)(struct http_response *resp, void *ud);
int http_client_submit(struct http_client *c, const struct http_request *req,
                       struct http_response *resp, http_done_fn done, void *ud);
/* Drives transfers for up to timeout_ms, calling done() for each finished one.
 * Returns the number of transfers still running. */
int http_client_poll(struct http_client *c, int timeout_ms);
int http_client_pending(const struct http_client *c);

/* 1 when a request is worth retrying: transport errors, timeouts, 429, 5xx. */
int http_retryable(int code, long status);
/* Full-jitter exponential backoff: random in [0, min(max_ms, base_ms << attempt)]. */
long http_backoff_ms(int attempt, long base_ms, long max_ms);

/* URL-encode s per RFC 3986 (unreserved kept); '/' kept when keep_slash. */
int http_urlencode(struct buf *out, const char *s, int keep_slash);

#endif
