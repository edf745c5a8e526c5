/*
 * test_raw_server.h - a scripted HTTP/1.1 server for client tests: exact
 * bytes, head and body written apart, a stream held open like a watch.
 * Include after test.h. One connection is served at a time.
 */
#ifndef TC_TEST_RAW_SERVER_H
#define TC_TEST_RAW_SERVER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct raw_server {
    int lfd, port;
    const char *head;  /* status line and headers, ending in the blank line */
    const char *head2; /* when set, the answer to every request after the first */
    const char *body;  /* written in a second send(), after split_ms */
    int split_ms;      /* pause between head and body */
    int hold_ms;       /* keep the connection open after the body (a watch) */
    char last_req[4096];
    int nreq;
    pthread_t th;
};

/* Serves requests (no bodies) on one connection at a time until the
 * listening socket is shut down. */
static inline void *
raw_main(void *arg)
{
    struct raw_server *r = arg;
    int fd;

    while ((fd = accept(r->lfd, NULL, NULL)) >= 0) {
        char req[4096];
        size_t got = 0;
        for (;;) {
            ssize_t n = recv(fd, req + got, sizeof(req) - 1 - got, 0);
            if (n <= 0)
                break;
            got += (size_t)n;
            req[got] = '\0';
            if (strstr(req, "\r\n\r\n") == NULL)
                continue;
            snprintf(r->last_req, sizeof(r->last_req), "%s", req);
            r->nreq++;
            got = 0;
            {
                const char *h = r->head2 && r->nreq > 1 ? r->head2 : r->head;
                send(fd, h, strlen(h), MSG_NOSIGNAL);
            }
            if (r->split_ms)
                tc_sleep_ms(r->split_ms);
            if (r->body && *r->body)
                send(fd, r->body, strlen(r->body), MSG_NOSIGNAL);
            if (r->hold_ms) {
                struct timeval tv = {r->hold_ms / 1000, (r->hold_ms % 1000) * 1000};
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
                while (recv(fd, req, sizeof(req), 0) > 0)
                    ;
                break;
            }
        }
        close(fd);
    }
    return NULL;
}

static inline void
raw_start(struct raw_server *r)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t alen = sizeof(a);
    int one = 1;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    r->lfd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT(r->lfd >= 0);
    setsockopt(r->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    ASSERT_OK(bind(r->lfd, (struct sockaddr *)&a, sizeof(a)));
    ASSERT_OK(listen(r->lfd, 8));
    ASSERT_OK(getsockname(r->lfd, (struct sockaddr *)&a, &alen));
    r->port = ntohs(a.sin_port);
    ASSERT_OK(pthread_create(&r->th, NULL, raw_main, r));
}

static inline void
raw_stop(struct raw_server *r)
{
    shutdown(r->lfd, SHUT_RDWR);
    pthread_join(r->th, NULL);
    close(r->lfd);
}

static inline int
cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#endif
