/*
 * ring.c - rendezvous ownership over a probed peer set.
 *
 * The member list is rebuilt off-lock (DNS lookups and /ready probes can be
 * slow) and swapped in under the mutex, so ring_owns() never waits on the
 * network.
 */
#include "plan/ring.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <jansson.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/hash.h"
#include "base/http_client.h"
#include "base/log.h"
#include "base/mem.h"

#define RING_MAX_MEMBERS 1024
#define RING_ADDR_MAX 128

struct ring {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char **peers; /* configured entries */
    size_t npeers;
    char self[RING_ADDR_MAX];
    int self_known;
    int port;
    long refresh_ms;
    char **members; /* sorted, includes self */
    size_t nmembers;
    pthread_t thread;
    int running;
    int stop;
};

int
ring_pick(const char *const *members, size_t n, const char *job)
{
    uint64_t best = 0, hj = hash_fnv1a64(job, strlen(job));
    size_t i;
    int who = -1;

    for (i = 0; i < n; i++) {
        uint64_t s = hash_mix64(hash_fnv1a64(members[i], strlen(members[i])) ^ hj);
        if (who < 0 || s > best) {
            best = s;
            who = (int)i;
        }
    }
    return who;
}

static void
strv_free(char **v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        tc_free(v[i]);
    tc_free(v);
}

static int
strv_has(char **v, size_t n, const char *s)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return 1;
    return 0;
}

static int
strv_add(char ***v, size_t *n, const char *s)
{
    char **nv;

    if (*n >= RING_MAX_MEMBERS || strv_has(*v, *n, s))
        return TC_OK;
    nv = tc_reallocarray(*v, *n + 1, sizeof(char *));
    if (nv == NULL)
        return TC_NOMEM;
    *v = nv;
    (*v)[*n] = tc_strdup(s);
    if ((*v)[*n] == NULL)
        return TC_NOMEM;
    (*n)++;
    return TC_OK;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Splits "host:port" (host may be [v6]). */
static int
split_hostport(const char *s, char *host, size_t hsz, char *port, size_t psz)
{
    const char *colon = strrchr(s, ':');
    size_t hl;

    if (colon == NULL || colon == s || colon[1] == '\0')
        return TC_INVAL;
    hl = (size_t)(colon - s);
    if (s[0] == '[' && colon[-1] == ']') {
        s++;
        hl -= 2;
    }
    if (hl >= hsz || strlen(colon + 1) >= psz)
        return TC_INVAL;
    memcpy(host, s, hl);
    host[hl] = '\0';
    snprintf(port, psz, "%s", colon + 1);
    return TC_OK;
}

static void
fmt_addr(const struct sockaddr *sa, const char *port, char *out, size_t outsz)
{
    char ip[INET6_ADDRSTRLEN] = "";

    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, sizeof(ip));
        snprintf(out, outsz, "%s:%s", ip, port);
    } else {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof(ip));
        snprintf(out, outsz, "[%s]:%s", ip, port);
    }
}

/* Resolves every configured entry into candidate "ip:port" strings. */
static int
resolve_peers(struct ring *r, char ***out, size_t *nout)
{
    size_t i;
    int rc = TC_OK;

    for (i = 0; i < r->npeers && rc == TC_OK; i++) {
        const char *e = r->peers[i];
        char host[256], port[16], addr[RING_ADDR_MAX];
        struct addrinfo hints, *res = NULL, *ai;
        int dns = strncmp(e, "dns+", 4) == 0, g;

        if (split_hostport(dns ? e + 4 : e, host, sizeof(host), port, sizeof(port)) != TC_OK) {
            LOG_WARN("bad peer entry; expected host:port or dns+name:port", KV_S("peer", e));
            continue;
        }
        memset(&hints, 0, sizeof(hints));
        hints.ai_socktype = SOCK_STREAM;
        g = getaddrinfo(host, port, &hints, &res);
        if (g != 0) {
            LOG_WARN("cannot resolve peer", KV_S("peer", e), KV_S("err", gai_strerror(g)));
            continue;
        }
        for (ai = res; ai && rc == TC_OK; ai = ai->ai_next) {
            fmt_addr(ai->ai_addr, port, addr, sizeof(addr));
            rc = strv_add(out, nout, addr);
        }
        freeaddrinfo(res);
    }
    return rc;
}

/* The candidate that is this instance: the configured address, or any
 * candidate on a local interface with our port. */
static void
find_self(struct ring *r, char **cand, size_t n)
{
    struct ifaddrs *ifs = NULL, *it;
    char port[16], addr[RING_ADDR_MAX];
    size_t i;

    if (r->self_known)
        return;
    snprintf(port, sizeof(port), "%d", r->port);
    if (getifaddrs(&ifs) != 0)
        return;
    for (it = ifs; it; it = it->ifa_next) {
        if (it->ifa_addr == NULL ||
            (it->ifa_addr->sa_family != AF_INET && it->ifa_addr->sa_family != AF_INET6))
            continue;
        fmt_addr(it->ifa_addr, port, addr, sizeof(addr));
        for (i = 0; i < n; i++) {
            if (strcmp(cand[i], addr) == 0) {
                snprintf(r->self, sizeof(r->self), "%s", addr);
                r->self_known = 1;
                break;
            }
        }
        if (r->self_known)
            break;
    }
    freeifaddrs(ifs);
}

struct probe {
    struct http_response resp;
    int ok;
};

static void
probe_done(struct http_response *resp, void *ud)
{
    struct probe *p = ud;

    p->ok = resp->code == TC_OK && resp->status == 200;
}

/* Keeps the candidates whose /ready answers 200 within a second. */
static void
probe_peers(struct ring *r, char **cand, size_t n, int *alive)
{
    struct http_client_opts o = {.connect_timeout_ms = 1000, .timeout_ms = 1000};
    struct http_client *c = http_client_new(&o, NULL);
    struct probe *pr = tc_calloc(n ? n : 1, sizeof(*pr));
    char url[RING_ADDR_MAX + 32];
    size_t i;

    for (i = 0; i < n; i++)
        alive[i] = 0;
    if (c == NULL || pr == NULL)
        goto out;
    for (i = 0; i < n; i++) {
        struct http_request q = {.method = "GET", .url = url, .max_body = 4096};
        if (r->self_known && strcmp(cand[i], r->self) == 0) {
            alive[i] = 1;
            continue;
        }
        snprintf(url, sizeof(url), "http://%s/ready", cand[i]);
        http_response_init(&pr[i].resp);
        if (http_client_submit(c, &q, &pr[i].resp, probe_done, &pr[i]) != TC_OK)
            http_response_cleanup(&pr[i].resp);
    }
    while (http_client_poll(c, 200) > 0)
        ;
    for (i = 0; i < n; i++) {
        if (!(r->self_known && strcmp(cand[i], r->self) == 0)) {
            alive[i] = pr[i].ok;
            http_response_cleanup(&pr[i].resp);
        }
    }
out:
    tc_free(pr);
    http_client_free(c);
}

void
ring_refresh(struct ring *r)
{
    char **cand = NULL, **members = NULL, **old;
    size_t ncand = 0, nmem = 0, nold, i;
    int *alive = NULL, changed;

    if (r->npeers == 0)
        return;
    if (resolve_peers(r, &cand, &ncand) != TC_OK)
        goto out;
    find_self(r, cand, ncand);
    alive = tc_calloc(ncand ? ncand : 1, sizeof(int));
    if (alive == NULL)
        goto out;
    probe_peers(r, cand, ncand, alive);
    for (i = 0; i < ncand; i++)
        if (alive[i] && strv_add(&members, &nmem, cand[i]) != TC_OK)
            goto out;
    if (r->self_known && strv_add(&members, &nmem, r->self) != TC_OK)
        goto out;
    if (nmem > 1) /* members is NULL when no peer resolved */
        qsort(members, nmem, sizeof(char *), cmp_str);

    pthread_mutex_lock(&r->mu);
    changed = nmem != r->nmembers;
    for (i = 0; !changed && i < nmem; i++)
        changed = strcmp(members[i], r->members[i]) != 0;
    old = r->members;
    nold = r->nmembers;
    r->members = members;
    r->nmembers = nmem;
    pthread_mutex_unlock(&r->mu);
    members = old;
    nmem = nold;
    if (changed)
        LOG_INFO("ring membership changed", KV_I("members", r->nmembers),
                 KV_S("self", r->self_known ? r->self : "(not found among peers)"));
out:
    strv_free(members, nmem);
    strv_free(cand, ncand);
    tc_free(alive);
}

struct ring *
ring_new(const char *const *peers, size_t npeers, const char *self_addr, int port, long refresh_ms,
         struct tc_err *err)
{
    struct ring *r;
    size_t i;

    if (refresh_ms <= 0)
        return tc_err_set(err, TC_INVAL, "ring: peer refresh interval %ld ms must be positive",
                          refresh_ms),
               NULL;
    r = tc_calloc(1, sizeof(*r));
    if (r == NULL)
        goto oom;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->port = port;
    r->refresh_ms = refresh_ms;
    for (i = 0; i < npeers; i++)
        if (peers[i][0] && strv_add(&r->peers, &r->npeers, peers[i]) != TC_OK)
            goto oom;
    if (self_addr && *self_addr) {
        snprintf(r->self, sizeof(r->self), "%s", self_addr);
        r->self_known = 1;
    } else {
        snprintf(r->self, sizeof(r->self), "local:%d", port);
    }
    return r;
oom:
    ring_free(r);
    tc_err_set(err, TC_NOMEM, "ring: out of memory");
    return NULL;
}

static void *
ring_loop(void *arg)
{
    struct ring *r = arg;
    struct timespec until;

    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        pthread_mutex_unlock(&r->mu);
        ring_refresh(r);
        pthread_mutex_lock(&r->mu);
        tc_deadline(&until, r->refresh_ms);
        while (!r->stop && pthread_cond_timedwait(&r->cv, &r->mu, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

int
ring_start(struct ring *r, struct tc_err *err)
{
    if (r->npeers == 0)
        return TC_OK; /* unsharded: this instance owns everything */
    ring_refresh(r);
    if (pthread_create(&r->thread, NULL, ring_loop, r) != 0)
        return tc_err_set(err, TC_ERR, "ring: cannot start refresh thread");
    r->running = 1;
    return TC_OK;
}

void
ring_owner(struct ring *r, const char *job, char *out, size_t outsz)
{
    int who;

    pthread_mutex_lock(&r->mu);
    if (r->npeers == 0) {
        snprintf(out, outsz, "%s", r->self);
    } else {
        who = ring_pick((const char *const *)r->members, r->nmembers, job);
        snprintf(out, outsz, "%s", who >= 0 ? r->members[who] : "");
    }
    pthread_mutex_unlock(&r->mu);
}

int
ring_owns(struct ring *r, const char *job)
{
    char owner[RING_ADDR_MAX];

    if (r->npeers == 0)
        return 1;
    if (!r->self_known)
        return 0; /* not found among the peers yet: take nothing */
    ring_owner(r, job, owner, sizeof(owner));
    return strcmp(owner, r->self) == 0;
}

size_t
ring_members(struct ring *r)
{
    size_t n;

    pthread_mutex_lock(&r->mu);
    n = r->npeers == 0 ? 1 : r->nmembers;
    pthread_mutex_unlock(&r->mu);
    return n;
}

int
ring_status_json(struct ring *r, struct buf *out)
{
    json_t *o = json_object(), *mem = json_array(), *peers = json_array();
    size_t i, n;
    char *text;
    int rc;

    pthread_mutex_lock(&r->mu);
    n = r->npeers == 0 ? 1 : r->nmembers;
    for (i = 0; r->npeers && i < r->nmembers; i++)
        json_array_append_new(mem, json_pack("{s:s,s:b}", "addr", r->members[i], "self",
                                             strcmp(r->members[i], r->self) == 0));
    if (!r->npeers)
        json_array_append_new(mem, json_pack("{s:s,s:b}", "addr", r->self, "self", 1));
    for (i = 0; i < r->npeers; i++)
        json_array_append_new(peers, json_string(r->peers[i]));
    json_object_set_new(o, "sharded", json_boolean(r->npeers != 0));
    json_object_set_new(o, "self", json_string(r->self));
    json_object_set_new(o, "self_found", json_boolean(r->self_known || !r->npeers));
    json_object_set_new(o, "share", json_real(n ? 1.0 / (double)n : 0.0));
    pthread_mutex_unlock(&r->mu);
    json_object_set_new(o, "members", mem);
    json_object_set_new(o, "peers", peers);
    text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (text == NULL)
        return TC_NOMEM;
    rc = buf_puts(out, text);
    free(text); /* lint-ok: jansson allocates with malloc */
    return rc;
}

void
ring_free(struct ring *r)
{
    if (r == NULL)
        return;
    if (r->running) {
        pthread_mutex_lock(&r->mu);
        r->stop = 1;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->thread, NULL);
    }
    strv_free(r->peers, r->npeers);
    strv_free(r->members, r->nmembers);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    tc_free(r);
}
