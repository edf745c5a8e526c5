/* test_http.c - the lws server and the curl client against each other on loopback. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/http_client.h"
#include "base/http_server.h"
#include "base/mem.h"
#include "base/tc.h"
#include "test.h"
#include "test_raw_server.h"

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
    /* an error answer gets through a small cap whole, so a 503 to a range
     * read is seen (and retried) as a 503, not as "body too big" */
    q.max_body = 2;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/nope", http_server_port(s));
    ASSERT_OK(http_client_do(c, &q, &r, &err));
    ASSERT_EQ(r.status, 404);
    ASSERT(r.body.len > 2);
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

static const char chunked_head[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                   "Transfer-Encoding: chunked\r\n\r\n";

struct sink_state {
    struct buf got;
    volatile int *stop;
    int calls;
};

static int
collect(const char *p, size_t n, void *ud)
{
    struct sink_state *s = ud;

    s->calls++;
    return buf_append(&s->got, p, n) == TC_OK ? 0 : 1;
}

struct stopper {
    volatile int *stop;
    struct sink_state *seen;
    double set_at;
};

/* Sets the stop flag from another thread once the stream has data. */
static void *
stopper_main(void *arg)
{
    struct stopper *s = arg;
    int i;

    for (i = 0; i < 500 && s->seen->got.len == 0; i++)
        tc_sleep_ms(10);
    s->set_at = tc_now_ms();
    *s->stop = 1;
    return NULL;
}

TEST(stop_flag_ends_a_held_stream_from_another_thread)
{
    struct raw_server rs = {.head = chunked_head, .body = "7\r\n{\"a\":1}\r\n", .hold_ms = 10000};
    struct http_client *c = http_client_new(NULL, NULL);
    volatile int stop = 0;
    struct sink_state st = {.stop = &stop};
    struct stopper sp = {.stop = &stop, .seen = &st};
    struct http_request q = {
        .method = "GET", .timeout_ms = -1, .sink = collect, .sink_ud = &st, .stop = &stop};
    struct http_response r;
    struct tc_err err;
    pthread_t th;
    char url[128];
    double done_at;

    raw_start(&rs);
    buf_init(&st.got, 1024);
    http_response_init(&r);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/watch", rs.port);
    q.url = url;
    ASSERT_OK(pthread_create(&th, NULL, stopper_main, &sp));
    ASSERT_EQ(http_client_do(c, &q, &r, &err), TC_CANCELED);
    done_at = tc_now_ms();
    pthread_join(th, NULL);
    ASSERT_EQ(r.code, TC_CANCELED);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_CONTAINS(r.errmsg, "stopped by the caller");
    ASSERT_STR_EQ(st.got.data, "{\"a\":1}");
    /* the flag is checked at least every 100 ms; allow for a loaded machine */
    ASSERT_LT(done_at - sp.set_at, 1000.0);
    ASSERT_EQ(http_client_pending(c), 0);

    /* a flag already set never waits for the server */
    ASSERT_EQ(http_client_do(c, &q, &r, &err), TC_CANCELED);
    ASSERT_EQ(r.code, TC_CANCELED);
    http_response_cleanup(&r);
    buf_cleanup(&st.got);
    http_client_free(c);
    raw_stop(&rs);
}

TEST(stop_flag_in_async_poll_ends_only_its_transfer)
{
    size_t bigsz = 1;
    struct http_server *s = start(&bigsz);
    struct raw_server rs = {.head = chunked_head, .body = "2\r\n{}\r\n", .hold_ms = 10000};
    struct http_client *c = http_client_new(NULL, NULL);
    volatile int stop = 0;
    struct sink_state st = {.stop = &stop};
    struct http_request w = {
        .method = "GET", .timeout_ms = -1, .sink = collect, .sink_ud = &st, .stop = &stop};
    struct http_request q = {.method = "GET"};
    struct http_response rw, rq;
    struct counter k = {0, 0};
    char url[128], wurl[128];
    int i;

    raw_start(&rs);
    buf_init(&st.got, 1024);
    http_response_init(&rw);
    http_response_init(&rq);
    snprintf(wurl, sizeof(wurl), "http://127.0.0.1:%d/watch", rs.port);
    w.url = wurl;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hello", http_server_port(s));
    q.url = url;
    ASSERT_OK(http_client_submit(c, &w, &rw, on_done, &k));
    ASSERT_OK(http_client_submit(c, &q, &rq, on_done, &k));
    for (i = 0; i < 500 && (k.done < 1 || st.got.len == 0); i++)
        http_client_poll(c, 10);
    ASSERT_EQ(k.done, 1); /* the plain GET; the stream still runs */
    ASSERT_EQ(k.ok, 1);
    ASSERT_EQ(http_client_pending(c), 1);
    stop = 1;
    ASSERT_EQ(http_client_poll(c, 1000), 0);
    ASSERT_EQ(k.done, 2);
    ASSERT_EQ(rw.code, TC_CANCELED);
    http_response_cleanup(&rw);
    http_response_cleanup(&rq);
    buf_cleanup(&st.got);
    http_client_free(c);
    raw_stop(&rs);
    http_server_free(s);
}

TEST(sink_2xx_only_keeps_an_error_body_out_of_the_sink)
{
    struct raw_server rs = {.head = "HTTP/1.1 410 Gone\r\nContent-Length: 17\r\n\r\n",
                            .body = "{\"reason\":\"Gone\"}"};
    struct http_client *c = http_client_new(NULL, NULL);
    struct sink_state st = {0};
    struct http_request q = {.method = "GET", .sink = collect, .sink_ud = &st, .sink_2xx_only = 1};
    struct http_response r;
    struct tc_err err;
    char url[128];

    raw_start(&rs);
    buf_init(&st.got, 1024);
    http_response_init(&r);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/w", rs.port);
    q.url = url;
    ASSERT_OK(http_client_do(c, &q, &r, &err));
    ASSERT_EQ(r.status, 410);
    ASSERT_EQ(st.calls, 0);
    ASSERT_STR_EQ(r.body.data, "{\"reason\":\"Gone\"}");

    /* a 2xx body streams to the sink and leaves resp->body empty */
    rs.head = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
    rs.body = "hello";
    ASSERT_OK(http_client_do(c, &q, &r, &err));
    ASSERT_EQ(r.status, 200);
    ASSERT_EQ(st.calls, 1);
    ASSERT_STR_EQ(st.got.data, "hello");
    ASSERT_EQ(r.body.len, 0);

    /* without the flag every body goes to the sink, as before */
    rs.head = "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\n";
    rs.body = "nope";
    q.sink_2xx_only = 0;
    ASSERT_OK(http_client_do(c, &q, &r, &err));
    ASSERT_EQ(r.status, 404);
    ASSERT_STR_EQ(st.got.data, "hellonope");
    http_response_cleanup(&r);
    buf_cleanup(&st.got);
    http_client_free(c);
    raw_stop(&rs);
}

TEST(quickack_keepidle_and_accept_encoding_options)
{
    /* The server writes head and body apart with Nagle on, as Python's
     * http.server does: the case the quickack option exists for. */
    struct raw_server rs = {
        .head = "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n", .body = "{\"k\":1}", .split_ms = 1};
    struct http_client_opts o = {.tcp_quickack = 1, .tcp_keepidle_s = 30, .accept_encoding = ""};
    struct http_client *c = http_client_new(&o, NULL), *plain = http_client_new(NULL, NULL);
    struct http_request q = {.method = "GET"};
    struct http_response r;
    struct tc_err err;
    char url[128];
    double t0, ms[21];
    int i;

    ASSERT(c != NULL && plain != NULL);
    raw_start(&rs);
    http_response_init(&r);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", rs.port);
    q.url = url;
    for (i = 0; i < 21; i++) {
        t0 = tc_now_ms();
        ASSERT_OK(http_client_do(c, &q, &r, &err));
        ms[i] = tc_now_ms() - t0;
        ASSERT_EQ(r.status, 200);
        ASSERT_STR_EQ(r.body.data, "{\"k\":1}");
    }
    qsort(ms, 21, sizeof(ms[0]), cmp_dbl);
    printf("# quickack: median %.2f ms per request on one kept-alive connection\n", ms[10]);
    /* without the option each request waits out the 40 ms delayed ACK */
    ASSERT_LT(ms[10], 20.0);
    ASSERT_EQ(rs.nreq, 21);
    /* accept_encoding "" offers what libcurl decodes; the default offers nothing */
    ASSERT_STR_CONTAINS(rs.last_req, "Accept-Encoding: ");
    ASSERT_STR_CONTAINS(rs.last_req, "gzip");

    /* and a streamed body with quickack on still arrives whole */
    {
        struct sink_state st = {0};
        struct http_request w = {.method = "GET", .url = url, .sink = collect, .sink_ud = &st};
        buf_init(&st.got, 1024);
        ASSERT_OK(http_client_do(c, &w, &r, &err));
        ASSERT_STR_EQ(st.got.data, "{\"k\":1}");
        buf_cleanup(&st.got);
    }
    http_client_free(c); /* the raw server serves one connection at a time */
    ASSERT_OK(http_client_do(plain, &q, &r, &err));
    ASSERT_EQ(r.status, 200);
    ASSERT(strstr(rs.last_req, "Accept-Encoding") == NULL);
    http_response_cleanup(&r);
    http_client_free(plain);
    raw_stop(&rs);
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
          TEST_ENTRY(urlencode_and_query),
          TEST_ENTRY(stop_flag_ends_a_held_stream_from_another_thread),
          TEST_ENTRY(stop_flag_in_async_poll_ends_only_its_transfer),
          TEST_ENTRY(sink_2xx_only_keeps_an_error_body_out_of_the_sink),
          TEST_ENTRY(quickack_keepidle_and_accept_encoding_options))
