/* poll.c - the blocklist poller (see poll.h and research/tempo.md §2). */
#include "blocklist/poll.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/pool.h"
#include "base/timefmt.h"
#include "tempo/tindex.h"
#include "base/uuid.h"

/* Buckets: client_golang's DefBuckets plus minutes, so long polls are visible. */
static const double poll_buckets[] = {.005, .01, .025, .05, .1,  .25, .5,  1,    2.5,
                                      5,    10,  30,   60,  120, 300, 600, 1200, 3600};

struct poll_tprog {
    char *tenant;
    const char *state; /* static string */
    unsigned long listed, known, fetched, remaining, errors;
    double t_start, t_fetch, t_end;
    int write_index; /* builder: write the tenant index once the poll is applied */
    int64_t created_s;
    int32_t created_ns;
};

struct poller {
    struct backend *b;
    struct poll_cfg cfg;
    char *state_path;
    poll_owns_fn owns;
    void *owns_ud;
    struct blocklist *seed;

    pthread_mutex_t mu; /* guards prog, stats, last_log, state */
    struct poll_tprog *prog;
    size_t nprog;
    struct poll_stats stats;
    const char *state;
    unsigned long polls;
    int done_once;
    double t0, last_log;
    /* why the last poll failed, for /status: kept until a poll succeeds */
    char last_error[400];
    double last_error_at, last_ok_at;
    unsigned long consecutive_failures;
    int stop;
    /* tenants whose existing index this process has read (or tried to):
     * a builder that never did reads it once before replacing it */
    struct backend_strlist index_seen;
    /* the tenants of the last listing: the series of one that is gone go too */
    struct backend_strlist listed;
    struct metrics *reg;

    struct metric *m_duration, *m_errors, *m_length, *m_ti_errors, *m_ti_builder, *m_ti_age,
        *m_objects, *m_bytes;
};

/* One poll in progress, shared by the tenant threads. */
struct poll_run {
    struct poller *p;
    struct blocklist *prev, *result;
    struct backend_strlist tenants;
    int failures_left;
    pthread_mutex_t mu;
};

/* One tenant's fetch phase. */
struct poll_tenant {
    struct poller *p;
    struct poll_tprog *prog;
    const char *tenant;
    struct meta *live, *comp;
    size_t nlive, ncomp;
    uint8_t (*retry)[16];
    size_t nretry;
    int fatal;
    struct tc_err fatal_err;
};

static const char *const poll_tenant_label[] = {"tenant", NULL};
static const char *const poll_status_labels[] = {"tenant", "status", NULL};

#define P(x) offsetof(struct poll_cfg, x)

static const struct cfg_key poll_keys[] = {
    {"storage.trace.blocklist_poll_concurrency", NULL, CFG_INT, P(concurrency), "50", 0, 10000,
     "Meta GETs in flight per tenant.", CFG_ZERO_IS_DEFAULT},
    {"storage.trace.blocklist_poll_tenant_concurrency", NULL, CFG_INT, P(tenant_concurrency), "1",
     0, 1000, "Tenants polled at once.", CFG_ZERO_IS_DEFAULT},
    {"storage.trace.blocklist_poll_fallback", NULL, CFG_BOOL, P(fallback), "true", 0, 0,
     "Non-builders list the bucket themselves when the tenant index is missing or stale."},
    {"storage.trace.blocklist_poll_tenant_index_builders", NULL, CFG_INT, P(tenant_index_builders),
     "2", 0, 100, "Instances that build each tenant index.", CFG_ZERO_IS_DEFAULT},
    {"storage.trace.blocklist_poll_stale_tenant_index", NULL, CFG_DURATION,
     P(stale_tenant_index_ms), "0s", 0, CFG_DURATION_MAX,
     "A tenant index older than this is treated as missing; 0 disables."},
    {"storage.trace.blocklist_poll_jitter_ms", NULL, CFG_INT, P(jitter_ms), "0", 0, 600000,
     "Random delay in ms before each unknown meta GET."},
    {"storage.trace.blocklist_poll_tolerate_consecutive_errors", NULL, CFG_INT,
     P(tolerate_consecutive_errors), "1", 0, 100, "Retries per tenant per poll."},
    {"storage.trace.blocklist_poll_tolerate_tenant_failures", NULL, CFG_INT,
     P(tolerate_tenant_failures), "1", 0, 100000,
     "Failed tenants tolerated before the poll cycle is abandoned."},
    {"storage.trace.empty_tenant_deletion_enabled", NULL, CFG_BOOL,
     P(empty_tenant_deletion_enabled), "false", 0, 0,
     "Delete the objects of a tenant with no blocks and no index, once all are older than "
     "empty_tenant_deletion_age; when false an empty tenant's directory stays."},
    {"storage.trace.empty_tenant_deletion_age", NULL, CFG_DURATION, P(empty_tenant_deletion_age_ms),
     "12h", 0, CFG_DURATION_MAX, "Minimum age of every object of an empty tenant before deletion.",
     CFG_ZERO_IS_DEFAULT},
};

const struct cfg_table poll_cfg_table = {poll_keys, TC_ARRAY_LEN(poll_keys)};

void
poll_cfg_defaults(struct poll_cfg *c)
{
    struct tc_err err;

    memset(c, 0, sizeof(*c));
    /* the table has no strings: this cannot fail */
    if (cfg_defaults(&poll_cfg_table, c, &err) != TC_OK)
        LOG_ERROR("poll: bad default in poll_cfg_table", KV_ERR(&err));
    c->max_meta_bytes = 1 << 20;
    c->write_tenant_index = 1;
    c->progress_log_ms = 10000;
}

/* poll_cfg_check() refuses what the poller cannot run with. */
static int
poll_cfg_check(const struct poll_cfg *c, struct tc_err *err)
{
    if (c->concurrency < 1 || c->tenant_concurrency < 1 || c->tenant_index_builders < 1)
        return tc_err_set(err, TC_INVAL,
                          "poller: concurrency %lld, tenant concurrency %lld and index builders "
                          "%lld must be at least 1",
                          (long long)c->concurrency, (long long)c->tenant_concurrency,
                          (long long)c->tenant_index_builders);
    if (c->jitter_ms < 0 || c->jitter_ms > INT32_MAX || c->concurrency > INT32_MAX ||
        c->tolerate_consecutive_errors < 0 || c->tolerate_tenant_failures < 0 ||
        c->stale_tenant_index_ms < 0)
        return tc_err_set(err, TC_INVAL, "poller: negative or too large setting");
    if (c->max_meta_bytes == 0 || c->progress_log_ms <= 0)
        return tc_err_set(err, TC_INVAL,
                          "poller: max_meta_bytes and progress_log_ms must be set "
                          "(poll_cfg_defaults)");
    return TC_OK;
}

struct poller *
poller_new(struct backend *b, const struct poll_cfg *cfg, poll_owns_fn owns, void *owns_ud,
           struct metrics *reg, struct tc_err *err)
{
    struct poller *p;
    struct tc_err e = {0};

    if (poll_cfg_check(cfg, err) != TC_OK)
        return NULL;
    p = tc_calloc(1, sizeof(*p));
    if (p == NULL)
        return tc_err_set(err, TC_NOMEM, "poller: out of memory"), NULL;
    p->b = b;
    p->cfg = *cfg;
    p->owns = owns;
    p->owns_ud = owns_ud;
    p->state = "waiting"; /* no poll has started yet */
    pthread_mutex_init(&p->mu, NULL);
    if (cfg->state_path && (p->state_path = tc_strdup(cfg->state_path)) == NULL) {
        poller_free(p);
        return tc_err_set(err, TC_NOMEM, "poller: out of memory"), NULL;
    }
    p->cfg.state_path = p->state_path;
    if (reg == NULL)
        reg = metrics_default();
    p->reg = reg;
    p->m_duration = metrics_histogram(reg, "tempodb_blocklist_poll_duration_seconds",
                                      "Time spent polling the blocklist.", NULL, poll_buckets,
                                      TC_ARRAY_LEN(poll_buckets));
    p->m_errors = metrics_counter(reg, "tempodb_blocklist_poll_errors_total",
                                  "Total number of times an error occurred while polling the "
                                  "blocklist.",
                                  poll_tenant_label);
    p->m_length = metrics_gauge(reg, "tempodb_blocklist_length",
                                "Total blocks as seen by this component.", poll_tenant_label);
    p->m_ti_errors = metrics_counter(reg, "tempodb_blocklist_tenant_index_errors_total",
                                     "Total number of times an error occurred while retrieving "
                                     "or building the tenant index.",
                                     poll_tenant_label);
    p->m_ti_builder = metrics_gauge(reg, "tempodb_blocklist_tenant_index_builder",
                                    "A value of 1 indicates this instance of tempodb is building "
                                    "the tenant index.",
                                    poll_tenant_label);
    p->m_ti_age =
        metrics_gauge(reg, "tempodb_blocklist_tenant_index_age_seconds",
                      "Age in seconds of the last pulled tenant index.", poll_tenant_label);
    p->m_objects = metrics_gauge(reg, "tempodb_backend_objects_total",
                                 "Total number of objects in the backend", poll_status_labels);
    p->m_bytes = metrics_gauge(reg, "tempodb_backend_bytes_total",
                               "Total number of bytes in the backend.", poll_status_labels);
    if (p->state_path) {
        p->seed = blocklist_new();
        if (p->seed == NULL) {
            poller_free(p);
            return tc_err_set(err, TC_NOMEM, "poller: out of memory"), NULL;
        }
        if (blocklist_load(p->seed, p->state_path, &e) == TC_OK)
            LOG_INFO("blocklist state file loaded", KV_S("path", p->state_path),
                     KV_U("blocks", blocklist_len(p->seed)));
        else if (e.code != TC_NOTFOUND)
            LOG_WARN("blocklist state file ignored", KV_S("path", p->state_path), KV_ERR(&e));
    }
    return p;
}

void
poller_free(struct poller *p)
{
    size_t i;

    if (p == NULL)
        return;
    for (i = 0; i < p->nprog; i++)
        tc_free(p->prog[i].tenant);
    tc_free(p->prog);
    backend_strlist_cleanup(&p->index_seen);
    backend_strlist_cleanup(&p->listed);
    blocklist_free(p->seed);
    tc_free(p->state_path);
    pthread_mutex_destroy(&p->mu);
    tc_free(p);
}

void
poller_stop(struct poller *p)
{
    __atomic_store_n(&p->stop, 1, __ATOMIC_RELAXED);
}

static int
poller_stopped(struct poller *p)
{
    return __atomic_load_n(&p->stop, __ATOMIC_RELAXED);
}

void
poller_stats(struct poller *p, struct poll_stats *out)
{
    pthread_mutex_lock(&p->mu);
    *out = p->stats;
    pthread_mutex_unlock(&p->mu);
}

int
poller_done(struct poller *p)
{
    int d;

    pthread_mutex_lock(&p->mu);
    d = p->done_once;
    pthread_mutex_unlock(&p->mu);
    return d;
}

static double
poll_eta(const struct poll_tprog *t, double now)
{
    double el = now - t->t_fetch;

    if (t->remaining == 0)
        return 0;
    if (t->fetched == 0 || el <= 0)
        return -1;
    return (double)t->remaining * el / (double)t->fetched;
}

int
poller_status_json(struct poller *p, struct buf *out)
{
    double now = tc_now();
    size_t i;
    int rc;

    pthread_mutex_lock(&p->mu);
    rc = buf_printf(out,
                    "{\"state\":\"%s\",\"polls\":%lu,\"elapsed_seconds\":%.3f,"
                    "\"last_poll_seconds\":%.3f,",
                    p->state, p->polls, p->t0 > 0 && !strcmp(p->state, "polling") ? now - p->t0 : 0,
                    p->stats.seconds);
    /* a failing poll keeps the last blocklist; say why and since when */
    if (rc == TC_OK)
        rc = buf_printf(out,
                        "\"consecutive_failures\":%lu,\"seconds_since_success\":%.1f,"
                        "\"last_error_seconds_ago\":%.1f,\"last_error\":",
                        p->consecutive_failures, p->last_ok_at > 0 ? now - p->last_ok_at : -1.0,
                        p->last_error_at > 0 ? now - p->last_error_at : -1.0);
    if (rc == TC_OK)
        rc = p->consecutive_failures ? meta_json_string(out, p->last_error) : buf_puts(out, "null");
    if (rc == TC_OK)
        rc = buf_puts(out, ",\"tenants\":[");
    for (i = 0; rc == TC_OK && i < p->nprog; i++) {
        const struct poll_tprog *t = &p->prog[i];

        rc = buf_puts(out, i ? ",{\"tenant\":" : "{\"tenant\":");
        if (rc == TC_OK)
            rc = meta_json_string(out, t->tenant);
        if (rc == TC_OK)
            rc = buf_printf(out,
                            ",\"state\":\"%s\",\"listed\":%lu,\"known\":%lu,\"fetched\":%lu,"
                            "\"remaining\":%lu,\"errors\":%lu,\"eta_seconds\":%.1f}",
                            t->state, t->listed, t->known, t->fetched, t->remaining, t->errors,
                            poll_eta(t, now));
    }
    if (rc == TC_OK)
        rc = buf_puts(out, "]}");
    pthread_mutex_unlock(&p->mu);
    return rc;
}

/* Logs overall progress at most every progress_log_ms (caller holds p->mu). */
static void
poll_maybe_log_locked(struct poller *p)
{
    double now = tc_now();
    unsigned long listed = 0, fetched = 0, remaining = 0, done = 0, errors = 0;
    double eta = 0;
    size_t i;

    if (now - p->last_log < p->cfg.progress_log_ms / 1000.0)
        return;
    p->last_log = now;
    for (i = 0; i < p->nprog; i++) {
        const struct poll_tprog *t = &p->prog[i];
        double e = poll_eta(t, now);

        listed += t->listed;
        fetched += t->fetched;
        remaining += t->remaining;
        errors += t->errors;
        done += t->t_end > 0;
        if (e > eta)
            eta = e;
    }
    LOG_INFO("blocklist poll progress", KV_U("tenants_done", done), KV_U("tenants", p->nprog),
             KV_U("blocks_listed", listed), KV_U("metas_fetched", fetched),
             KV_U("metas_remaining", remaining), KV_U("errors", errors), KV_F("eta_seconds", eta),
             KV_F("elapsed_seconds", now - p->t0));
}

static void
poll_prog_set(struct poller *p, struct poll_tprog *t, const char *state)
{
    pthread_mutex_lock(&p->mu);
    t->state = state;
    if (!strcmp(state, "done") || !strcmp(state, "failed") || !strcmp(state, "index"))
        t->t_end = tc_now();
    pthread_mutex_unlock(&p->mu);
}

static int
poll_push(struct meta **arr, size_t *n, const struct meta *m)
{
    /* Arrays are sized by the caller for the listing; never grows past it. */
    (*arr)[(*n)++] = *m;
    return TC_OK;
}

static int
poll_cmp_id(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

static int
poll_cmp_start(const void *a, const void *b)
{
    const struct meta *x = a, *y = b;

    if (x->start_s != y->start_s)
        return x->start_s < y->start_s ? -1 : 1;
    if (x->start_ns != y->start_ns)
        return x->start_ns < y->start_ns ? -1 : 1;
    return memcmp(x->id, y->id, 16);
}

static void
poll_bad_meta(struct poll_tenant *pt, const char *key, const char *why)
{
    struct poller *p = pt->p;
    const char *lv[] = {pt->tenant};

    LOG_ERROR("skipping block with unreadable meta", KV_S("tenant", pt->tenant), KV_S("key", key),
              KV_S("err", why));
    metrics_inc(p->m_errors, lv);
    pthread_mutex_lock(&p->mu);
    p->stats.bad++;
    pt->prog->errors++;
    pthread_mutex_unlock(&p->mu);
}

/* A meta whose tenantID is not its directory's: the directory wins (it is
 * where the block's files are), with a warning naming both. */
static void
poll_own_tenant(struct poll_tenant *pt, const char *key, struct meta *m)
{
    if (strcmp(m->tenant, pt->tenant) == 0)
        return;
    LOG_WARN("meta tenantID differs from the tenant directory; the directory is used",
             KV_S("key", key), KV_S("tenantID", m->tenant), KV_S("tenant", pt->tenant));
    m->tenant = meta_intern(pt->tenant, strlen(pt->tenant));
}

static void
poll_get_done(struct backend_get *g, void *ud)
{
    struct poll_tenant *pt = ud;
    struct poller *p = pt->p;
    int compacted = (int)(uintptr_t)g->ud;
    struct tc_err e = {0};
    struct meta m;
    int counted = 1;

    if (g->code == TC_OK) {
        uint8_t id[16];

        uuid_parse(g->key + strlen(pt->tenant) + 1, UUID_STR_LEN, id);
        if (meta_decode_json(g->body.data ? g->body.data : "", g->body.len, &m, &e) != TC_OK) {
            poll_bad_meta(pt, g->key, e.msg);
        } else if (memcmp(m.id, id, 16) != 0) {
            poll_bad_meta(pt, g->key, "blockID does not match the block's directory");
        } else if (compacted) {
            poll_own_tenant(pt, g->key, &m);
            m.compacted = 1;
            m.compacted_s = g->last_modified;
            m.compacted_ns = 0;
            poll_push(&pt->comp, &pt->ncomp, &m);
        } else {
            poll_own_tenant(pt, g->key, &m);
            poll_push(&pt->live, &pt->nlive, &m);
        }
    } else if (g->code == TC_NOTFOUND) {
        uint8_t id[16];

        if (!compacted && uuid_parse(g->key + strlen(pt->tenant) + 1, UUID_STR_LEN, id) == TC_OK) {
            /* Compacted between LIST and GET: look for meta.compacted.json. */
            memcpy(pt->retry[pt->nretry++], id, 16);
            counted = 0;
        } else {
            pthread_mutex_lock(&p->mu);
            p->stats.skipped++;
            pthread_mutex_unlock(&p->mu);
        }
    } else if (g->code == TC_TOOBIG || g->code == TC_PARSE || g->code == TC_INVAL) {
        poll_bad_meta(pt, g->key, g->errmsg);
    } else if (!pt->fatal) {
        pt->fatal = 1;
        tc_err_set(&pt->fatal_err, g->code, "get %s: %s", g->key, g->errmsg);
    }
    backend_get_cleanup(g);
    pthread_mutex_lock(&p->mu);
    p->stats.meta_gets++;
    if (counted) {
        pt->prog->fetched++;
        if (pt->prog->remaining)
            pt->prog->remaining--;
    }
    poll_maybe_log_locked(p);
    pthread_mutex_unlock(&p->mu);
}

/* Runs the GETs for keys[i] (block ids + compacted flag). */
static void
poll_fetch(struct poll_tenant *pt, const uint8_t (*ids)[16], const uint8_t *comp, size_t n)
{
    struct backend_get *reqs;
    char *keys;
    size_t i, klen = strlen(pt->tenant) + 1 + UUID_STR_LEN + 1 + sizeof(BACKEND_META_COMPACTED);

    if (n == 0)
        return;
    reqs = tc_calloc(n, sizeof(*reqs));
    keys = tc_calloc(n, klen);
    if (reqs == NULL || keys == NULL) {
        tc_free(reqs);
        tc_free(keys);
        pt->fatal = 1;
        tc_err_set(&pt->fatal_err, TC_NOMEM, "out of memory for %zu requests", n);
        return;
    }
    for (i = 0; i < n; i++) {
        char id[UUID_STR_LEN + 1];

        uuid_format(ids[i], id);
        snprintf(keys + i * klen, klen, "%s/%s/%s", pt->tenant, id,
                 comp[i] ? BACKEND_META_COMPACTED : BACKEND_META);
        reqs[i].key = keys + i * klen;
        reqs[i].max = pt->p->cfg.max_meta_bytes;
        reqs[i].ud = (void *)(uintptr_t)comp[i];
    }
    backend_get_many(pt->p->b, reqs, n, (int)pt->p->cfg.concurrency, (int)pt->p->cfg.jitter_ms,
                     poll_get_done, pt);
    tc_free(reqs);
    tc_free(keys);
}

static void
poll_metrics(struct poller *p, const char *tenant, const struct meta *live, size_t nlive,
             const struct meta *comp, size_t ncomp)
{
    const char *tl[] = {tenant};
    const char *ll[] = {tenant, "live"}, *cl[] = {tenant, "compacted"};
    double lo = 0, lb = 0, co = 0, cb = 0;
    size_t i;

    for (i = 0; i < nlive; i++) {
        lo += (double)live[i].total_objects;
        lb += (double)live[i].size;
    }
    for (i = 0; i < ncomp; i++) {
        co += (double)comp[i].total_objects;
        cb += (double)comp[i].size;
    }
    if (nlive == 0 && ncomp == 0) {
        metrics_remove(p->m_length, tl);
        metrics_remove(p->m_objects, ll);
        metrics_remove(p->m_objects, cl);
        metrics_remove(p->m_bytes, ll);
        metrics_remove(p->m_bytes, cl);
        return;
    }
    metrics_set(p->m_length, tl, (double)nlive);
    metrics_set(p->m_objects, ll, lo);
    metrics_set(p->m_objects, cl, co);
    metrics_set(p->m_bytes, ll, lb);
    metrics_set(p->m_bytes, cl, cb);
}

/* A tenant's listing (item 0) and, when there is nothing to diff against,
 * the read of its index as a seed (item 1), run side by side. */
struct poll_list {
    struct poller *p;
    const char *tenant;
    struct backend_blocks *bb;
    struct tc_err *err;
    int rc;
    struct tindex ti;
    struct tc_err seed_err;
    int seed_rc;
};

/* Marks the tenant's index as seen; returns 1 if it already was. */
static int
poll_index_seen(struct poller *p, const char *tenant)
{
    size_t i;
    int seen = 0;

    pthread_mutex_lock(&p->mu);
    for (i = 0; i < p->index_seen.n && !seen; i++)
        seen = strcmp(p->index_seen.v[i], tenant) == 0;
    if (!seen && backend_strlist_add(&p->index_seen, tenant, strlen(tenant)) != TC_OK)
        seen = 1; /* out of memory: skip the check rather than repeat it */
    pthread_mutex_unlock(&p->mu);
    return seen;
}

static void
poll_list_item(void *arg, size_t i)
{
    struct poll_list *l = arg;

    if (i == 0)
        l->rc = backend_blocks(l->p->b, l->tenant, l->bb, l->err);
    else
        l->seed_rc = tindex_read(l->p->b, l->tenant, &l->ti, NULL, &l->seed_err);
}

/* The builder path: list, diff against prev, fetch the unknown, write the index. */
static int
poll_tenant_blocks(struct poll_run *run, const char *tenant, struct poll_tprog *prog,
                   struct tindex *seed_ti, struct tc_err *err)
{
    struct poller *p = run->p;
    struct meta *pl = NULL, *pc = NULL;
    size_t npl = 0, npc = 0, i, nunk = 0;
    struct backend_blocks bb;
    struct poll_tenant pt;
    struct poll_list list;
    uint8_t(*unk)[16] = NULL, *ucomp = NULL;
    int64_t now_s;
    int32_t now_ns;
    size_t nlist;
    int rc;

    memset(&bb, 0, sizeof(bb));
    memset(&pt, 0, sizeof(pt));
    memset(&list, 0, sizeof(list));
    timefmt_now(&now_s, &now_ns);
    /* previous: the live blocklist, else the state file, else the index. */
    blocklist_get(run->prev, tenant, &pl, &npl, &pc, &npc);
    if (npl + npc == 0 && p->seed &&
        blocklist_get(p->seed, tenant, &pl, &npl, &pc, &npc) == TC_OK) {
        pthread_mutex_lock(&p->mu);
        p->stats.seeded_state++;
        pthread_mutex_unlock(&p->mu);
    }
    list.p = p;
    list.tenant = tenant;
    list.bb = &bb;
    list.err = err;
    tindex_init(&list.ti);
    /* Read the index while the listing runs: both are needed, and the
     * listing is the long pole. */
    nlist = npl + npc == 0 && seed_ti == NULL ? 2 : 1;
    poll_prog_set(p, prog, "listing");
    pool_run(nlist, nlist, poll_list_item, NULL, &list);
    rc = list.rc;
    if (nlist == 2) {
        poll_index_seen(p, tenant); /* read now; a bad one is reported below */
        if (list.seed_rc == TC_OK)
            seed_ti = &list.ti;
        else if (list.seed_err.code != TC_NOTFOUND) {
            const char *tl[] = {tenant};

            LOG_WARN("tenant index unusable as poll seed", KV_S("tenant", tenant),
                     KV_ERR(&list.seed_err));
            metrics_inc(p->m_ti_errors, tl);
        }
        pthread_mutex_lock(&p->mu);
        p->stats.index_reads++;
        pthread_mutex_unlock(&p->mu);
    }
    if (npl + npc == 0 && seed_ti && seed_ti->nlive + seed_ti->ncompacted > 0) {
        tc_free(pl);
        tc_free(pc);
        pl = seed_ti->nlive ? tc_memdup(seed_ti->live, seed_ti->nlive * sizeof(*pl)) : NULL;
        pc = seed_ti->ncompacted ? tc_memdup(seed_ti->compacted, seed_ti->ncompacted * sizeof(*pc))
                                 : NULL;
        npl = pl ? seed_ti->nlive : 0;
        npc = pc ? seed_ti->ncompacted : 0;
        blocklist_sort_ids(pl, npl);
        blocklist_sort_ids(pc, npc);
        pthread_mutex_lock(&p->mu);
        p->stats.seeded_index++;
        pthread_mutex_unlock(&p->mu);
    }
    tindex_cleanup(&list.ti);
    if (rc != TC_OK)
        goto out;
    if (bb.ncompacted > 1)
        qsort(bb.compacted, bb.ncompacted, 16, poll_cmp_id);
    pt.p = p;
    pt.prog = prog;
    pt.tenant = tenant;
    pt.live = tc_calloc(bb.nlive + 1, sizeof(struct meta));
    pt.comp = tc_calloc(bb.nlive + bb.ncompacted + 1, sizeof(struct meta));
    pt.retry = tc_calloc(bb.nlive + 1, 16);
    unk = tc_calloc(bb.nlive + bb.ncompacted + 1, 16);
    ucomp = tc_calloc(bb.nlive + bb.ncompacted + 1, 1);
    if (!pt.live || !pt.comp || !pt.retry || !unk || !ucomp) {
        rc = tc_err_set(err, TC_NOMEM, "tenant %s: out of memory", tenant);
        goto out;
    }
    for (i = 0; i < bb.nlive; i++) {
        const struct meta *m;

        /* Listed with both files: mid-MarkBlockCompacted; treat as compacted. */
        if (bb.ncompacted && bsearch(bb.live[i], bb.compacted, bb.ncompacted, 16, poll_cmp_id))
            continue;
        if ((m = blocklist_bsearch(pl, npl, bb.live[i])) != NULL) {
            poll_push(&pt.live, &pt.nlive, m);
        } else {
            memcpy(unk[nunk], bb.live[i], 16);
            ucomp[nunk++] = 0;
        }
    }
    for (i = 0; i < bb.ncompacted; i++) {
        const struct meta *m;

        if ((m = blocklist_bsearch(pc, npc, bb.compacted[i])) != NULL) {
            poll_push(&pt.comp, &pt.ncomp, m);
        } else if ((m = blocklist_bsearch(pl, npl, bb.compacted[i])) != NULL) {
            /* Live last time, compacted now: the meta is the same bytes. */
            struct meta c = *m;

            c.compacted = 1;
            c.compacted_s = now_s;
            c.compacted_ns = now_ns;
            poll_push(&pt.comp, &pt.ncomp, &c);
        } else {
            memcpy(unk[nunk], bb.compacted[i], 16);
            ucomp[nunk++] = 1;
        }
    }
    pthread_mutex_lock(&p->mu);
    prog->listed = bb.nlive + bb.ncompacted;
    prog->known = pt.nlive + pt.ncomp;
    prog->remaining = nunk;
    prog->t_fetch = tc_now();
    p->stats.listed_live += bb.nlive;
    p->stats.listed_compacted += bb.ncompacted;
    p->stats.known += pt.nlive + pt.ncomp;
    pthread_mutex_unlock(&p->mu);
    if (poller_stopped(p)) {
        rc = tc_err_set(err, TC_CANCELED, "tenant %s: poll stopped", tenant);
        goto out;
    }
    poll_prog_set(p, prog, "fetching");
    poll_fetch(&pt, (const uint8_t(*)[16])unk, ucomp, nunk);
    if (!pt.fatal && pt.nretry > 0) {
        size_t n = pt.nretry;

        memcpy(unk, pt.retry, n * 16);
        memset(ucomp, 1, n);
        pt.nretry = 0;
        poll_fetch(&pt, (const uint8_t(*)[16])unk, ucomp, n);
    }
    if (pt.fatal) {
        rc = tc_err_set(err, pt.fatal_err.code, "tenant %s: %s", tenant, pt.fatal_err.msg);
        goto out;
    }
    rc = blocklist_set_tenant(run->result, tenant, pt.live, pt.nlive, pt.comp, pt.ncomp);
    if (rc != TC_OK) {
        rc = tc_err_set(err, rc, "tenant %s: out of memory", tenant);
        goto out;
    }
    poll_metrics(p, tenant, pt.live, pt.nlive, pt.comp, pt.ncomp);
    if (p->cfg.write_tenant_index) {
        /* Written after the poll is applied, so compaction never waits on it. */
        pthread_mutex_lock(&p->mu);
        prog->write_index = 1;
        prog->created_s = now_s;
        prog->created_ns = now_ns;
        pthread_mutex_unlock(&p->mu);
    }
out:
    backend_blocks_cleanup(&bb);
    tc_free(pt.live);
    tc_free(pt.comp);
    tc_free(pt.retry);
    tc_free(unk);
    tc_free(ucomp);
    tc_free(pl);
    tc_free(pc);
    return rc;
}

static int
poll_is_builder(struct poller *p, const char *tenant)
{
    char job[512];
    int i;

    if (p->owns == NULL)
        return 1;
    for (i = 0; i < p->cfg.tenant_index_builders; i++) {
        snprintf(job, sizeof(job), "build-tenant-index-%d-%s", i, tenant);
        if (p->owns(job, p->owns_ud))
            return 1;
    }
    return 0;
}

static int
poll_tenant_once(struct poll_run *run, const char *tenant, struct poll_tprog *prog,
                 struct tc_err *err)
{
    struct poller *p = run->p;
    const char *tl[] = {tenant};
    struct tindex ti;
    int rc;

    if (!poll_is_builder(p, tenant)) {
        int64_t now_s;
        int32_t now_ns;

        metrics_set(p->m_ti_builder, tl, 0);
        poll_prog_set(p, prog, "reading-index");
        rc = tindex_read(p->b, tenant, &ti, NULL, err);
        pthread_mutex_lock(&p->mu);
        p->stats.index_reads++;
        pthread_mutex_unlock(&p->mu);
        timefmt_now(&now_s, &now_ns);
        if (rc == TC_OK && p->cfg.stale_tenant_index_ms > 0 &&
            (now_s - ti.created_s) * 1000 > p->cfg.stale_tenant_index_ms)
            rc = tc_err_set(err, TC_AGAIN, "tenant %s: index is stale (%llds old)", tenant,
                            (long long)(now_s - ti.created_s));
        if (rc == TC_OK) {
            metrics_set(p->m_ti_age, tl, (double)(now_s - ti.created_s));
            rc = blocklist_set_tenant(run->result, tenant, ti.live, ti.nlive, ti.compacted,
                                      ti.ncompacted);
            poll_metrics(p, tenant, ti.live, ti.nlive, ti.compacted, ti.ncompacted);
            pthread_mutex_lock(&p->mu);
            prog->listed = prog->known = ti.nlive + ti.ncompacted;
            pthread_mutex_unlock(&p->mu);
            tindex_cleanup(&ti);
            poll_prog_set(p, prog, "index");
            return rc;
        }
        metrics_inc(p->m_ti_errors, tl);
        LOG_WARN("failed to pull tenant index", KV_S("tenant", tenant), KV_ERR(err),
                 KV_B("fallback", p->cfg.fallback));
        if (!p->cfg.fallback) {
            tindex_cleanup(&ti);
            return rc;
        }
        /* A stale index still seeds the fallback listing (metas are immutable). */
        metrics_set(p->m_ti_builder, tl, 1);
        rc = poll_tenant_blocks(run, tenant, prog, ti.nlive + ti.ncompacted ? &ti : NULL, err);
        tindex_cleanup(&ti);
        return rc;
    }
    metrics_set(p->m_ti_builder, tl, 1);
    return poll_tenant_blocks(run, tenant, prog, NULL, err);
}

/* Stops handing out tenants once the run is abandoned or the poller stopped. */
static int
poll_run_stopped(void *arg)
{
    struct poll_run *run = arg;
    int stop;

    pthread_mutex_lock(&run->mu);
    stop = run->failures_left < 0 || poller_stopped(run->p);
    pthread_mutex_unlock(&run->mu);
    return stop;
}

/* Polls tenant i of the run, with retries; on failure keeps its previous metas. */
static void
poll_tenant_item(void *arg, size_t i)
{
    struct poll_run *run = arg;
    struct poller *p = run->p;
    const char *tenant = run->tenants.v[i];
    struct poll_tprog *prog = &p->prog[i];
    struct tc_err err = {0};
    int tries, rc = TC_OK;

    pthread_mutex_lock(&p->mu);
    prog->t_start = tc_now();
    pthread_mutex_unlock(&p->mu);
    for (tries = 0; tries <= p->cfg.tolerate_consecutive_errors; tries++) {
        rc = poll_tenant_once(run, tenant, prog, &err);
        if (rc == TC_OK || rc == TC_CANCELED)
            break;
        LOG_WARN("failed to poll tenant", KV_S("tenant", tenant), KV_I("try", tries + 1),
                 KV_ERR(&err));
    }
    if (rc != TC_OK) {
        struct meta *l = NULL, *c = NULL;
        size_t nl = 0, nc = 0;
        const char *tl[] = {tenant};

        LOG_ERROR("failed to poll or create index for tenant; keeping previous blocklist",
                  KV_S("tenant", tenant), KV_ERR(&err));
        metrics_inc(p->m_errors, tl);
        /* Keep the previous metas for this tenant, as Tempo does. */
        if (blocklist_get(run->prev, tenant, &l, &nl, &c, &nc) == TC_OK)
            blocklist_set_tenant(run->result, tenant, l, nl, c, nc);
        tc_free(l);
        tc_free(c);
        pthread_mutex_lock(&run->mu);
        run->failures_left--;
        pthread_mutex_unlock(&run->mu);
        pthread_mutex_lock(&p->mu);
        p->stats.tenants_failed++;
        pthread_mutex_unlock(&p->mu);
        poll_prog_set(p, prog, "failed");
    } else if (strcmp(prog->state, "index") != 0) {
        poll_prog_set(p, prog, prog->write_index ? "ready" : "done");
    }
}

struct poll_index_run {
    struct poller *p;
    struct blocklist *src;
};

/* Before the first overwrite of an index this process never read (the poll
 * was seeded from the state file): if the index there is unreadable, say
 * so, naming the file, instead of replacing it silently. */
static void
poll_check_old_index(struct poller *p, const char *tenant)
{
    struct tindex old;
    struct tc_err e = {0};
    const char *which = NULL;

    if (poll_index_seen(p, tenant))
        return;
    tindex_init(&old);
    if (tindex_read(p->b, tenant, &old, &which, &e) != TC_OK && e.code != TC_NOTFOUND) {
        const char *tl[] = {tenant};
        char key[BACKEND_MAX_KEY];

        snprintf(key, sizeof(key), "%s/%s", tenant, which ? which : TINDEX_PB);
        LOG_WARN("replacing an unreadable tenant index", KV_S("tenant", tenant), KV_S("file", key),
                 KV_ERR(&e));
        metrics_inc(p->m_ti_errors, tl);
    }
    tindex_cleanup(&old);
}

/* Writes the tenant index of tenant i if this instance built it (Tempo's
 * WriteTenantIndex: pb then JSON, or delete both when empty). */
struct poll_empty {
    struct backend_strlist keys;
    int64_t cutoff_s; /* objects modified at or after this are recent */
    size_t recent;
};

static int
poll_empty_obj(const struct backend_object *o, void *ud)
{
    struct poll_empty *e = ud;

    if (o->last_modified >= e->cutoff_s)
        e->recent++;
    else if (backend_strlist_add(&e->keys, o->key, strlen(o->key)) != TC_OK)
        return TC_NOMEM;
    return TC_OK;
}

/* Tempo's deleteTenant, run by a builder after a poll found no live and no
 * compacted block (the index is already deleted then): when enabled, and
 * every object below the tenant is older than empty_tenant_deletion_age,
 * and no index has appeared meanwhile, delete every object; on the local
 * backend the tenant directory goes too. When disabled nothing happens, and
 * the tenant (directory) stays. */
static void
poll_delete_empty_tenant(struct poller *p, const char *tenant)
{
    struct poll_empty e;
    struct tindex ti;
    struct tc_err err = {0};
    char prefix[BACKEND_MAX_KEY];
    int64_t now_s;
    int32_t now_ns;
    size_t i;
    int rc;

    if (!p->cfg.empty_tenant_deletion_enabled)
        return;
    memset(&e, 0, sizeof(e));
    timefmt_now(&now_s, &now_ns);
    e.cutoff_s = now_s - p->cfg.empty_tenant_deletion_age_ms / 1000;
    snprintf(prefix, sizeof(prefix), "%s/", tenant);
    rc = backend_find(p->b, prefix, poll_empty_obj, &e, &err);
    if (rc == TC_OK && e.recent == 0) {
        tindex_init(&ti);
        rc = tindex_read(p->b, tenant, &ti, NULL, &err);
        tindex_cleanup(&ti);
        /* only a known-absent index lets the deletion go on, as in Tempo */
        if (rc == TC_NOTFOUND) {
            LOG_INFO("deleting empty tenant", KV_S("tenant", tenant), KV_I("objects", e.keys.n));
            for (rc = TC_OK, i = 0; i < e.keys.n && rc == TC_OK; i++)
                if ((rc = backend_delete(p->b, e.keys.v[i], &err)) == TC_NOTFOUND)
                    rc = TC_OK;
            if (rc == TC_OK)
                rc = backend_remove_tenant(p->b, tenant, &err);
        } else {
            rc = TC_OK;
        }
    }
    if (rc != TC_OK) {
        const char *tl[] = {tenant};

        LOG_ERROR("failed to delete empty tenant", KV_S("tenant", tenant), KV_ERR(&err));
        metrics_inc(p->m_errors, tl);
    }
    backend_strlist_cleanup(&e.keys);
}

static void
poll_index_item(void *arg, size_t i)
{
    struct poll_index_run *ir = arg;
    struct poller *p = ir->p;
    struct poll_tprog *prog = &p->prog[i];
    struct tindex ti;
    struct tc_err e = {0};
    const char *tl[1];

    /* The tenant threads that set write_index were joined before this run. */
    if (!prog->write_index)
        return;
    tl[0] = prog->tenant;
    tindex_init(&ti);
    blocklist_get(ir->src, prog->tenant, &ti.live, &ti.nlive, &ti.compacted, &ti.ncompacted);
    if (ti.nlive > 1)
        qsort(ti.live, ti.nlive, sizeof(struct meta), poll_cmp_start);
    if (ti.ncompacted > 1)
        qsort(ti.compacted, ti.ncompacted, sizeof(struct meta), poll_cmp_start);
    ti.created_s = prog->created_s;
    ti.created_ns = prog->created_ns;
    poll_prog_set(p, prog, "writing-index");
    poll_check_old_index(p, prog->tenant);
    if (tindex_write(p->b, prog->tenant, &ti, &e) != TC_OK) {
        LOG_ERROR("failed to write tenant index", KV_S("tenant", prog->tenant), KV_ERR(&e));
        metrics_inc(p->m_ti_errors, tl);
    } else if (ti.nlive == 0 && ti.ncompacted == 0) {
        poll_delete_empty_tenant(p, prog->tenant);
    }
    metrics_set(p->m_ti_age, tl, 0);
    tindex_cleanup(&ti);
    poll_prog_set(p, prog, "done");
}

static void
poll_write_indexes(struct poller *p, struct blocklist *src)
{
    struct poll_index_run ir = {p, src};
    /* Encoding is CPU work: a couple of threads keep the PUT latency hidden
     * without a malloc arena per tenant (RSS). */
    size_t n = p->cfg.tenant_concurrency < 2 ? 1 : 2;

    pool_run(n, p->nprog, poll_index_item, NULL, &ir);
}

/* Every per-tenant series (the poller's, compaction's, retention's: they
 * share the registry) of a tenant listed last time and not now is removed,
 * so /metrics shows no tenant that no longer exists. */
static void
poll_forget_gone(struct poller *p, const struct backend_strlist *now)
{
    struct backend_strlist keep = {0};
    size_t i, j;

    for (i = 0; i < p->listed.n; i++) {
        for (j = 0; j < now->n && strcmp(now->v[j], p->listed.v[i]) != 0; j++)
            ;
        if (j == now->n) {
            size_t n = metrics_remove_label(p->reg, "tenant", p->listed.v[i]);

            LOG_INFO("tenant is gone; its series are removed", KV_S("tenant", p->listed.v[i]),
                     KV_U("series", n));
        }
    }
    for (i = 0; i < now->n; i++)
        if (backend_strlist_add(&keep, now->v[i], strlen(now->v[i])) != TC_OK)
            break;
    backend_strlist_cleanup(&p->listed);
    p->listed = keep;
}

int
poller_poll(struct poller *p, struct blocklist *bl, struct tc_err *err)
{
    struct poll_run run;
    size_t i, o;
    double t0 = tc_now();
    int rc = TC_OK;

    memset(&run, 0, sizeof(run));
    pthread_mutex_init(&run.mu, NULL);
    run.p = p;
    run.prev = bl;
    run.failures_left = p->cfg.tolerate_tenant_failures;
    pthread_mutex_lock(&p->mu);
    memset(&p->stats, 0, sizeof(p->stats));
    p->state = "polling";
    p->t0 = t0;
    p->last_log = t0;
    pthread_mutex_unlock(&p->mu);

    rc = backend_tenants(p->b, &run.tenants, err);
    if (rc != TC_OK) {
        const char *tl[] = {""};

        metrics_inc(p->m_errors, tl);
        LOG_ERROR("failed to list tenants", KV_ERR(err));
        goto out;
    }
    poll_forget_gone(p, &run.tenants);
    /* Hostile names never reach a key: log, count and drop them. */
    for (i = 0, o = 0; i < run.tenants.n; i++) {
        struct tc_err e = {0};

        if (backend_valid_tenant(run.tenants.v[i], &e) != TC_OK) {
            const char *tl[] = {run.tenants.v[i]};

            LOG_ERROR("skipping invalid tenant", KV_S("tenant", run.tenants.v[i]), KV_ERR(&e));
            metrics_inc(p->m_errors, tl);
            tc_free(run.tenants.v[i]);
            continue;
        }
        run.tenants.v[o++] = run.tenants.v[i];
    }
    run.tenants.n = o;
    run.result = blocklist_new();
    if (run.result == NULL) {
        rc = tc_err_set(err, TC_NOMEM, "poll: out of memory");
        goto out;
    }
    pthread_mutex_lock(&p->mu);
    for (i = 0; i < p->nprog; i++)
        tc_free(p->prog[i].tenant);
    tc_free(p->prog);
    p->nprog = 0;
    p->prog = tc_calloc(run.tenants.n + 1, sizeof(*p->prog));
    if (p->prog != NULL) {
        for (i = 0; i < run.tenants.n; i++) {
            p->prog[i].tenant = tc_strdup(run.tenants.v[i]);
            p->prog[i].state = "queued";
        }
        p->nprog = run.tenants.n;
        p->stats.tenants = run.tenants.n;
    }
    pthread_mutex_unlock(&p->mu);
    if (p->prog == NULL) {
        rc = tc_err_set(err, TC_NOMEM, "poll: out of memory");
        goto out;
    }
    pool_run((size_t)p->cfg.tenant_concurrency, run.tenants.n, poll_tenant_item, poll_run_stopped,
             &run);
    if (poller_stopped(p)) {
        rc = tc_err_set(err, TC_CANCELED, "poll stopped");
    } else if (run.failures_left < 0) {
        rc = tc_err_set(err, TC_ERR, "too many tenant failures; abandoning polling cycle");
        poll_write_indexes(p, run.result);
    } else {
        rc = blocklist_apply_poll(bl, run.result);
        if (rc != TC_OK)
            tc_err_set(err, rc, "poll: applying results: %s", tc_strerror(rc));
        pthread_mutex_lock(&p->mu);
        p->stats.ready_seconds = tc_now() - t0;
        pthread_mutex_unlock(&p->mu);
        if (rc == TC_OK && p->state_path) {
            struct tc_err e = {0};

            if (blocklist_save(bl, p->state_path, &e) != TC_OK)
                LOG_WARN("failed to write blocklist state file", KV_ERR(&e));
        }
        if (rc == TC_OK) {
            /* bl is "previous" from now on; the seed copy is dead weight. */
            blocklist_free(p->seed);
            p->seed = NULL;
        }
        LOG_INFO("blocklist ready", KV_F("seconds", p->stats.ready_seconds),
                 KV_U("blocks", blocklist_len(bl)));
        poll_write_indexes(p, bl);
    }
out : {
    double secs = tc_now() - t0;
    struct poll_stats st;

    metrics_observe(p->m_duration, NULL, secs);
    pthread_mutex_lock(&p->mu);
    p->stats.seconds = secs;
    p->state = rc == TC_OK ? "idle" : "failed";
    if (rc == TC_OK) {
        p->consecutive_failures = 0;
        p->last_ok_at = tc_now();
    } else if (rc != TC_CANCELED) {
        p->consecutive_failures++;
        p->last_error_at = tc_now();
        snprintf(p->last_error, sizeof(p->last_error), "%s", err->msg);
    }
    p->polls++;
    p->done_once = 1;
    st = p->stats;
    pthread_mutex_unlock(&p->mu);
    LOG_INFO("blocklist poll complete", KV_F("seconds", secs), KV_U("tenants", st.tenants),
             KV_U("tenants_failed", st.tenants_failed), KV_U("blocks", blocklist_len(bl)),
             KV_U("meta_gets", st.meta_gets), KV_U("known", st.known),
             KV_S("result", rc == TC_OK ? "ok" : tc_strerror(rc)));
}
    blocklist_free(run.result);
    backend_strlist_cleanup(&run.tenants);
    pthread_mutex_destroy(&run.mu);
    return rc;
}
