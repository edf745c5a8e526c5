/* test_http.c - the lws server and the curl client against each other on loopback. */
#include <stdio.h>
#include <string.h>

#include "http_client.h"
#include "http_server.h"
#include "mem.h"
#include "tc.h"
#include "test.h"

static void
h_hello(const struct http_server_request *req, struct http_server_response *resp, void *ud)
{
    char who[64] = "world";

    http_query_get(req->query, "who", who, sizeof(who));
    buf_printf(&resp->body, "hello %s via %s %s", who, req->method, req->path);
}

static void
h_big(const struct http_server_request *req, struct http_server_response *resp, void *ud)
{
    size_t i, n = *(size_t *)ud;

    for (i = 0; i < n; i++)
        buf_putc(&resp->body, (char)('a' + i % 26));
}

static void
h_status(const struct http_server_request *req, struct http_server_response *resp, void *ud)
{
    resp->status = 503;
    resp->content_type = "application/json";
}

static struct http_server *
start(size_t *bigsz)
{
    struct tc_err err;
    struct http_server *s = http_server_new("127.0.0.1", 0, &err);

    ASSERT(s != NULL);
    ASSERT_OK(http_server_route(s, "/hello", h_hello, NULL));
    ASSERT_OK(http_server_route(s, "/big", h_big, bigsz));
    ASSERT_OK(http_server_route(s, "/status/", h_status, NULL));
    ASSERT_OK(http_server_start(s, &err));
    ASSERT_GT(http_server_port(s), 0);
    return s;
}

TEST(get_routes_and_404)
{
    size_t bigsz = 10;
    struct http_server *s = start(&bigsz);
    struct http_client *c = http_client_new(NULL, NULL);
    struct http_response r;
    struct http_request q = {.method = "GET"};
    char url[128], ct[64];
    struct tc_err err;

    http_response_init(&r);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hello?x=1&who=tempo", http_server_port(s));
    q.url = url;
    ASSERT_OK(http_client_do(c, &q, &r, &err));
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(r.body.data, "hello tempo via GET /hello");
    ASSERT_OK(http_response_header(&r, "content-type", ct, sizeof(ct)));
    ASSERT_STR_EQ(ct, "text/plain; charset=utf-8");
    ASSERT_EQ(http_response_header(&r, "x-missing", ct, sizeof(ct)), TC_NOTFOUND);

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/nope", http_server_port(s));
    ASSERT_OK(http_client_do(c, &q, &r, &err));
    ASSERT_EQ(r.status, 404);

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/status/anything", http_server_port(s));
    ASSERT_OK(http_client_do(c, &q, &r, &err));
    ASSERT_EQ(r.status, 503);
    ASSERT_EQ(r.body.len, 0);
    http_response_cleanup(&r);
    http_client_free(c);
    http_server_free(s);
}

TEST(large_body_and_cap)
{
    size_t bigsz = 3 * 1000 * 1000 + 7;
    struct http_server *s = start(&bigsz);
    struct http_client *c = http_client_new(NULL, NULL);
    struct http_response r;
    struct http_request q = {.method = "GET"};
    char url[128];
    struct tc_err err;
    size_t i;

    http_response_init(&r);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/big", http_server_port(s));
    q.url = url;
    ASSERT_OK(http_client_do(c, &q, &r, &err));
    ASSERT_EQ(r.status, 200);
    ASSERT_EQ(r.body.len, bigsz);
    for (i = 0; i < bigsz; i += 99991)
        ASSERT_EQ(r.body.data[i], (char)('a' + i % 26));
    q.max_body = 1000;
    ASSERT_EQ(http_client_do(c, &q, &r, &err), TC_TOOBIG);
    ASSERT_EQ(r.code, TC_TOOBIG);
    http_response_cleanup(&r);
    http_client_free(c);
    http_server_free(s);
}

struct counter {
    int done, ok;
};

static void
on_done(struct http_response *resp, void *ud)
{
    struct counter *k = ud;

    k->done++;
    if (resp->code == TC_OK && resp->status == 200 && strncmp(resp->body.data, "hello", 5) == 0)
        k->ok++;
}

TEST(async_many_in_flight)
{
    size_t bigsz = 1;
    struct http_server *s = start(&bigsz);
    struct http_client *c = http_client_new(NULL, NULL);
    struct http_response r[64];
    struct http_request q = {.method = "GET"};
    struct counter k = {0, 0};
    char url[128];
    int i;

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hello", http_server_port(s));
    q.url = url;
    for (i = 0; i < 64; i++) {
        http_response_init(&r[i]);
        ASSERT_OK(http_client_submit(c, &q, &r[i], on_done, &k));
    }
    ASSERT_EQ(http_client_pending(c), 64);
    while (http_client_poll(c, 100) > 0)
        ;
    ASSERT_EQ(k.done, 64);
    ASSERT_EQ(k.ok, 64);
    for (i = 0; i < 64; i++)
        http_response_cleanup(&r[i]);
    http_client_free(c);
    http_server_free(s);
}

TEST(connection_refused_and_retry_policy)
{
    struct http_client *c = http_client_new(NULL, NULL);
    struct http_response r;
    struct http_request q = {.method = "GET", .url = "http://127.0.0.1:1/x"};
    struct tc_err err;
    int i;

    http_response_init(&r);
    ASSERT_EQ(http_client_do(c, &q, &r, &err), TC_NET);
    ASSERT_STR_CONTAINS(err.msg, "127.0.0.1:1/x");
    ASSERT(http_retryable(TC_NET, 0));
    ASSERT(http_retryable(TC_TIMEOUT, 0));
    ASSERT(http_retryable(TC_OK, 503));
    ASSERT(http_retryable(TC_OK, 429));
    ASSERT(!http_retryable(TC_OK, 404));
    ASSERT(!http_retryable(TC_OK, 200));
    ASSERT(!http_retryable(TC_TOOBIG, 0));
    for (i = 0; i < 50; i++) {
        long b = http_backoff_ms(i % 10, 100, 5000);
        ASSERT_GE(b, 0);
        ASSERT_LE(b, i % 10 == 0 ? 100 : 5000);
    }
    http_response_cleanup(&r);
    http_client_free(c);
}

TEST(urlencode_and_query)
{
    struct buf b;
    char v[16];

    buf_init(&b, 0);
    ASSERT_OK(http_urlencode(&b, "a b/c~d=é", 1));
    ASSERT_STR_EQ(b.data, "a%20b/c~d%3D%C3%A9");
    buf_reset(&b);
    ASSERT_OK(http_urlencode(&b, "a/b", 0));
    ASSERT_STR_EQ(b.data, "a%2Fb");
    buf_cleanup(&b);
    ASSERT_OK(http_query_get("a=1&bb=2&c", "bb", v, sizeof(v)));
    ASSERT_STR_EQ(v, "2");
    ASSERT_OK(http_query_get("a=1&bb=2&c", "c", v, sizeof(v)));
    ASSERT_STR_EQ(v, "");
    ASSERT_EQ(http_query_get("a=1", "b", v, sizeof(v)), TC_NOTFOUND);
}

TEST_MAIN(TEST_ENTRY(get_routes_and_404), TEST_ENTRY(large_body_and_cap),
          TEST_ENTRY(async_many_in_flight), TEST_ENTRY(connection_refused_and_retry_policy),
          TEST_ENTRY(urlencode_and_query))
