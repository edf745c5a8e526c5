/*
 * http_server.h - a small HTTP server on libwebsockets with a route table.
 *
 * http_server_start() returns once the socket is listening; requests are
 * served on the server's own thread, so handlers must be thread-safe and
 * quick (they render into resp->body). Unknown paths get 404.
 */
#ifndef TC_HTTP_SERVER_H
#define TC_HTTP_SERVER_H

#include "base/buf.h"
#include "base/tc.h"

struct http_server;

struct http_server_request {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* without the query string */
    const char *query;  /* "" when absent */
};

struct http_server_response {
    int status;               /* default 200 */
    const char *content_type; /* default "text/plain; charset=utf-8"; static string */
    struct buf body;
};

typedef void (*http_handler_fn)(const struct http_server_request *req,
                                struct http_server_response *resp, void *ud);

/* addr "" or NULL binds all interfaces; port 0 picks a free port. */
struct http_server *http_server_new(const char *addr, int port, struct tc_err *err);
/* Routes match the exact path; a path ending in '/' matches that prefix. */
int http_server_route(struct http_server *s, const char *path, http_handler_fn fn, void *ud);
int http_server_start(struct http_server *s, struct tc_err *err);
int http_server_port(const struct http_server *s);
/* Stops the thread, closes the socket and frees s. NULL is a no-op. */
void http_server_free(struct http_server *s);

/* http_query_get() copies the value of key from a query string. TC_OK or TC_NOTFOUND. */
int http_query_get(const char *query, const char *key, char *out, size_t outsz);

#endif
