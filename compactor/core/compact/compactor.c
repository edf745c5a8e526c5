/*
 * compactor.c - the compaction loop's steps: one tenant per cycle, the
 * outstanding-blocks plan, and the status document (see compactor.h).
 */
#include "compact/compactor.h"

#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/metrics.h"
#include "base/uuid.h"
#include "plan/selector.h"
#include "tempo/meta.h"

#define VP4 "vParquet4"

/* The last plan of one tenant. */
struct plan_tenant {
    char *tenant;
    unsigned long jobs, owned_jobs, outstanding, skipped_jobs;
    char **owned; /* hash strings of the owned jobs */
    size_t nowned;
};

struct job_info {
    char tenant[256];
    char hash[SELECTOR_HASH_MAX];
    char inputs[COMPACT_MAX_INPUTS][UUID_STR_LEN + 1];
    size_t n;
    uint32_t level;
    char output[UUID_STR_LEN + 1];
    int rc;
    char err[256];
    double seconds;
    uint64_t objects, bytes, combined;
};

struct compactor {
    struct compactor_cfg cfg;
    size_t offset; /* Tempo's tenant offset */
    int first;
    atomic_int stopping;
    atomic_uint_fast64_t abandon_at_ms;

    pthread_mutex_t mu; /* guards everything below */
    int running;
    struct job_info cur;
    struct compact_progress prog;
    struct job_info last;
    unsigned long done, failed, abandoned;
    struct plan_tenant *plan;
    size_t nplan;
    double plan_time;
    char **warned; /* tenants told about non-vParquet4 jobs */
    size_t nwarned;

    struct metric *m_outstanding;
};

#define C(x) offsetof(struct compactor_cfg, x)

static const struct cfg_key compactor_keys[] = {
    {"compactor.compaction.compaction_window", "compactor.compaction.compaction-window",
     CFG_DURATION, C(window_ms), "1h", 1000, CFG_DURATION_MAX, "Compaction time window."},
    {"compactor.compaction.max_compaction_objects", "compactor.compaction.max-objects-per-block",
     CFG_INT, C(max_objects), "6000000", 1, 1e12,
     "Maximum total objects of a job's inputs; deprecated in Tempo, use max_block_bytes."},
    {"compactor.compaction.max_block_bytes", "compactor.compaction.max-block-bytes", CFG_BYTES,
     C(max_block_bytes), "107374182400", 1, 1e15, "Maximum total size of a job's inputs."},
    {"compactor.compaction.max_time_per_tenant", NULL, CFG_DURATION, C(max_time_per_tenant_ms),
     "5m", 1000, CFG_DURATION_MAX, "Stop taking jobs for a tenant after this long."},
    CFG_INCLUDE(&vp4_block_cfg_table, C(job.block)),
};

const struct cfg_table compactor_cfg_table = {compactor_keys, TC_ARRAY_LEN(compactor_keys)};

void
compactor_cfg_defaults(struct compactor_cfg *c)
{
    struct tc_err err;

    memset(c, 0, sizeof(*c));
    /* numbers only: this cannot fail */
    if (cfg_defaults(&compactor_cfg_table, c, &err) != TC_OK)
        LOG_ERROR("compactor: bad default in compactor_cfg_table", KV_ERR(&err));
}

struct compactor *
compactor_new(const struct compactor_cfg *cfg, struct tc_err *err)
{
    static const char *const tenant_l[] = {"tenant", NULL};
    struct compactor *c;

    if (cfg->window_ms < 1000 || cfg->max_objects < 1 || cfg->max_block_bytes < 1 ||
        cfg->max_time_per_tenant_ms < 0)
        return tc_err_set(err, TC_INVAL,
                          "compactor: window %lld ms (at least 1 s), object limit %lld, byte limit "
                          "%llu and time per tenant %lld ms out of range",
                          (long long)cfg->window_ms, (long long)cfg->max_objects,
                          (unsigned long long)cfg->max_block_bytes,
                          (long long)cfg->max_time_per_tenant_ms),
               NULL;
    c = tc_calloc(1, sizeof(*c));
    if (c == NULL)
        return tc_err_set(err, TC_NOMEM, "compactor: out of memory"), NULL;
    c->cfg = *cfg;
    c->first = 1;
    pthread_mutex_init(&c->mu, NULL);
    compact_metrics_init();
    c->m_outstanding = metrics_gauge(metrics_default(), "tempodb_compaction_outstanding_blocks",
                                     "Number of blocks remaining to be compacted before next "
                                     "maintenance cycle",
                                     tenant_l);
    return c;
}

static void
plan_free(struct plan_tenant *p, size_t n)
{
    size_t i;

    size_t j;

    for (i = 0; i < n; i++) {
        for (j = 0; j < p[i].nowned; j++)
            tc_free(p[i].owned[j]);
        tc_free(p[i].owned);
        tc_free(p[i].tenant);
    }
    tc_free(p);
}

void
compactor_free(struct compactor *c)
{
    size_t i;

    if (c == NULL)
        return;
    plan_free(c->plan, c->nplan);
    for (i = 0; i < c->nwarned; i++)
        tc_free(c->warned[i]);
    tc_free(c->warned);
    pthread_mutex_destroy(&c->mu);
    tc_free(c);
}

void
compactor_stop(struct compactor *c, uint64_t deadline_ms)
{
    atomic_store(&c->abandon_at_ms, deadline_ms);
    atomic_store(&c->stopping, 1);
}

static int
owns(struct compactor *c, const char *job)
{
    return c->cfg.owns == NULL || c->cfg.owns(job, c->cfg.owns_ud);
}

static void
tenant_cfg(struct compactor *c, const char *tenant, struct compactor_tenant_cfg *t)
{
    memset(t, 0, sizeof(*t));
    t->max_bytes_per_trace = c->cfg.job.max_bytes_per_trace;
    if (c->cfg.tenant_cfg)
        c->cfg.tenant_cfg(tenant, t, c->cfg.tenant_ud);
    if (t->window_s <= 0) /* no override: the global window */
        t->window_s = c->cfg.window_ms / 1000;
}

/* A job of non-vParquet4 blocks: never run, never counted. Logged once per
 * tenant. Caller holds no lock. */
static int
skip_format(struct compactor *c, const char *tenant, const struct selector_job *job)
{
    size_t i;
    char **nv;

    if (strcmp(job->inputs[0]->version, VP4) == 0)
        return 0;
    pthread_mutex_lock(&c->mu);
    for (i = 0; i < c->nwarned; i++)
        if (strcmp(c->warned[i], tenant) == 0)
            break;
    if (i == c->nwarned && (nv = tc_reallocarray(c->warned, c->nwarned + 1, sizeof(*nv)))) {
        c->warned = nv;
        if ((c->warned[c->nwarned] = tc_strdup(tenant)) != NULL) {
            c->nwarned++;
            LOG_WARN("blocks of this format are not compacted (vParquet4 only); they are left to "
                     "retention and not counted as outstanding",
                     KV_S("tenant", tenant), KV_S("format", job->inputs[0]->version));
        }
    }
    pthread_mutex_unlock(&c->mu);
    return 1;
}

/* The tenant's live metas and a selector over them. */
static struct selector *
select_tenant(struct compactor *c, const char *tenant, const struct compactor_tenant_cfg *t,
              struct meta **live, const struct meta ***ptrs)
{
    size_t nlive = 0, i;

    *live = NULL;
    *ptrs = NULL;
    if (blocklist_get(c->cfg.bl, tenant, live, &nlive, NULL, NULL) != TC_OK)
        return NULL;
    *ptrs = tc_calloc(nlive ? nlive : 1, sizeof(**ptrs));
    if (*ptrs == NULL)
        return NULL;
    for (i = 0; i < nlive; i++)
        (*ptrs)[i] = &(*live)[i];
    return selector_new(*ptrs, nlive, t->window_s, c->cfg.max_objects, c->cfg.max_block_bytes,
                        (int64_t)time(NULL));
}

struct owns_ctx {
    struct compactor *c;
    const char *hash;
};

/* The job's ownership check: the ring still names us, and shutdown has not
 * reached its deadline. */
static int
job_owns(void *ud)
{
    struct owns_ctx *o = ud;

    if (atomic_load(&o->c->stopping) && tc_now_ms() >= atomic_load(&o->c->abandon_at_ms))
        return 0;
    return owns(o->c, o->hash);
}

static void
run_job(struct compactor *c, const char *tenant, const struct compactor_tenant_cfg *t,
        const struct selector_job *job)
{
    struct compact_cfg jc = c->cfg.job;
    struct compact_result res;
    struct owns_ctx oc = {c, job->hash};
    struct tc_err err;
    struct job_info info;
    uint64_t t0 = tc_now_ms();
    size_t i;
    int rc;

    memset(&info, 0, sizeof(info));
    snprintf(info.tenant, sizeof(info.tenant), "%s", tenant);
    snprintf(info.hash, sizeof(info.hash), "%s", job->hash);
    info.n = job->n;
    for (i = 0; i < job->n; i++) {
        uuid_format(job->inputs[i]->id, info.inputs[i]);
        if (job->inputs[i]->compaction_level > info.level)
            info.level = job->inputs[i]->compaction_level;
    }
    pthread_mutex_lock(&c->mu);
    c->cur = info;
    c->running = 1;
    pthread_mutex_unlock(&c->mu);
    LOG_INFO("compacting", KV_S("tenant", tenant), KV_S("job", job->hash), KV_U("blocks", job->n),
             KV_U("level", info.level));

    jc.max_bytes_per_trace = t->max_bytes_per_trace;
    rc = compact_job(c->cfg.be, c->cfg.bl, tenant, job->inputs, job->n, &jc, job_owns, &oc,
                     &c->prog, &res, &err);
    info.rc = rc;
    info.seconds = (double)(tc_now_ms() - t0) / 1000.0;
    if (rc == TC_OK) {
        uuid_format(res.out.id, info.output);
        info.objects = (uint64_t)res.out.total_objects;
        info.bytes = res.out.size;
        info.combined = res.objects_combined;
        LOG_INFO("compaction complete", KV_S("tenant", tenant), KV_S("job", job->hash),
                 KV_S("block", info.output), KV_U("level", res.out.compaction_level),
                 KV_U("objects", info.objects), KV_U("bytes", info.bytes),
                 KV_U("combined", res.objects_combined), KV_U("spans_deduped", res.spans_deduped),
                 KV_U("marked", res.marked), KV_F("seconds", info.seconds));
    } else {
        snprintf(info.err, sizeof(info.err), "%s", err.msg);
        if (rc == TC_NOTFOUND)
            LOG_WARN("unable to find meta during compaction; job abandoned", KV_S("tenant", tenant),
                     KV_S("job", job->hash), KV_ERR(&err));
        else if (rc == TC_CANCELED)
            LOG_WARN("compaction job abandoned", KV_S("tenant", tenant), KV_S("job", job->hash),
                     KV_ERR(&err));
        else
            LOG_ERROR("error during compaction cycle", KV_S("tenant", tenant),
                      KV_S("job", job->hash), KV_ERR(&err));
    }
    pthread_mutex_lock(&c->mu);
    c->running = 0;
    c->last = info;
    if (rc == TC_OK)
        c->done++;
    else if (rc == TC_CANCELED || rc == TC_NOTFOUND)
        c->abandoned++;
    else
        c->failed++;
    pthread_mutex_unlock(&c->mu);
}

int
compactor_cycle(struct compactor *c)
{
    struct backend_strlist tenants;
    struct compactor_tenant_cfg t;
    struct selector_job job;
    struct selector *sel;
    struct meta *live;
    const struct meta **ptrs;
    const char *tenant;
    uint64_t t0 = tc_now_ms();
    int done = 0;

    if (atomic_load(&c->stopping))
        return 0;
    memset(&tenants, 0, sizeof(tenants));
    if (blocklist_tenants(c->cfg.bl, &tenants) != TC_OK || tenants.n == 0) {
        backend_strlist_cleanup(&tenants);
        return 0;
    }
    /* tenants are sorted; Tempo moves the offset before using it */
    c->offset = c->first ? (tenants.n > 1 ? 1 : 0) : (c->offset + 1) % tenants.n;
    c->first = 0;
    tenant = tenants.v[c->offset % tenants.n];
    tenant_cfg(c, tenant, &t);
    if (t.disabled) {
        backend_strlist_cleanup(&tenants);
        return 0;
    }
    sel = select_tenant(c, tenant, &t, &live, &ptrs);
    while (sel && !atomic_load(&c->stopping) && selector_next(sel, &job)) {
        if (!owns(c, job.hash) || skip_format(c, tenant, &job))
            continue;
        run_job(c, tenant, &t, &job);
        done++;
        if ((int64_t)(tc_now_ms() - t0) > c->cfg.max_time_per_tenant_ms) {
            LOG_INFO("max time per tenant reached; the rest waits for the tenant's next turn",
                     KV_S("tenant", tenant));
            break;
        }
    }
    selector_free(sel);
    tc_free(ptrs);
    tc_free(live);
    backend_strlist_cleanup(&tenants);
    return done;
}

static void
plan_tenant(struct compactor *c, const char *tenant, struct plan_tenant *out)
{
    struct compactor_tenant_cfg t;
    struct selector_job job;
    struct selector *sel;
    struct meta *live;
    const struct meta **ptrs;
    char **nv;

    memset(out, 0, sizeof(*out));
    out->tenant = tc_strdup(tenant);
    tenant_cfg(c, tenant, &t);
    if (t.disabled)
        return;
    sel = select_tenant(c, tenant, &t, &live, &ptrs);
    while (sel && selector_next(sel, &job)) {
        out->jobs++;
        if (!owns(c, job.hash))
            continue;
        if (skip_format(c, tenant, &job)) {
            out->skipped_jobs++;
            continue;
        }
        out->owned_jobs++;
        out->outstanding += job.n;
        nv = tc_reallocarray(out->owned, out->nowned + 1, sizeof(char *));
        if (nv == NULL)
            continue;
        out->owned = nv;
        if ((out->owned[out->nowned] = tc_strdup(job.hash)) != NULL)
            out->nowned++;
    }
    selector_free(sel);
    tc_free(ptrs);
    tc_free(live);
}

void
compactor_plan_all(struct compactor *c)
{
    struct backend_strlist tenants;
    struct plan_tenant *plan, *old;
    size_t i, j, nold;

    memset(&tenants, 0, sizeof(tenants));
    if (blocklist_tenants(c->cfg.bl, &tenants) != TC_OK)
        return;
    plan = tc_calloc(tenants.n ? tenants.n : 1, sizeof(*plan));
    if (plan == NULL) {
        backend_strlist_cleanup(&tenants);
        return;
    }
    for (i = 0; i < tenants.n; i++) {
        plan_tenant(c, tenants.v[i], &plan[i]);
        metrics_set(c->m_outstanding, (const char *[]){tenants.v[i]}, (double)plan[i].outstanding);
    }
    pthread_mutex_lock(&c->mu);
    old = c->plan;
    nold = c->nplan;
    c->plan = plan;
    c->nplan = tenants.n;
    c->plan_time = (double)time(NULL);
    pthread_mutex_unlock(&c->mu);
    for (i = 0; i < nold; i++) {
        for (j = 0; j < tenants.n; j++)
            if (old[i].tenant && strcmp(old[i].tenant, tenants.v[j]) == 0)
                break;
        if (j == tenants.n && old[i].tenant)
            metrics_remove(c->m_outstanding, (const char *[]){old[i].tenant});
    }
    plan_free(old, nold);
    backend_strlist_cleanup(&tenants);
}

static void
job_json(struct buf *b, const struct job_info *j)
{
    size_t i;

    buf_puts(b, "{\"tenant\":");
    meta_json_string(b, j->tenant);
    buf_puts(b, ",\"job\":");
    meta_json_string(b, j->hash);
    buf_printf(b, ",\"level\":%u,\"inputs\":[", j->level);
    for (i = 0; i < j->n; i++)
        buf_printf(b, "%s\"%s\"", i ? "," : "", j->inputs[i]);
    buf_putc(b, ']');
}

void
compactor_status_json(struct compactor *c, struct buf *b)
{
    size_t i;

    pthread_mutex_lock(&c->mu);
    buf_printf(b,
               "{\"planned_at\":%.0f,\"jobs_done\":%lu,\"jobs_failed\":%lu,"
               "\"jobs_abandoned\":%lu,\"stopping\":%s,\"running\":",
               c->plan_time, c->done, c->failed, c->abandoned,
               atomic_load(&c->stopping) ? "true" : "false");
    if (c->running) {
        uint64_t in = atomic_load(&c->prog.rows_in), total = atomic_load(&c->prog.rows_total);
        double el = (double)(tc_now_ms() - atomic_load(&c->prog.started_ms)) / 1000.0;
        double eta = in > 0 && total > in ? el * (double)(total - in) / (double)in : 0;
        job_json(b, &c->cur);
        buf_printf(b,
                   ",\"rows_merged\":%llu,\"rows_total\":%llu,\"traces_written\":%llu,"
                   "\"bytes_in\":%llu,\"bytes_written\":%llu,\"elapsed_seconds\":%.1f,"
                   "\"eta_seconds\":%.1f}",
                   (unsigned long long)in, (unsigned long long)total,
                   (unsigned long long)atomic_load(&c->prog.rows_out),
                   (unsigned long long)atomic_load(&c->prog.bytes_in),
                   (unsigned long long)atomic_load(&c->prog.bytes_out), el, eta);
    } else {
        buf_puts(b, "null");
    }
    buf_puts(b, ",\"last_job\":");
    if (c->last.n) {
        job_json(b, &c->last);
        buf_printf(b,
                   ",\"result\":\"%s\",\"output\":\"%s\",\"objects\":%llu,\"bytes\":%llu,"
                   "\"combined\":%llu,\"seconds\":%.2f,\"error\":",
                   tc_strerror(c->last.rc), c->last.output, (unsigned long long)c->last.objects,
                   (unsigned long long)c->last.bytes, (unsigned long long)c->last.combined,
                   c->last.seconds);
        meta_json_string(b, c->last.err);
        buf_putc(b, '}');
    } else {
        buf_puts(b, "null");
    }
    buf_puts(b, ",\"tenants\":[");
    for (i = 0; i < c->nplan; i++) {
        struct plan_tenant *p = &c->plan[i];
        buf_printf(b, "%s{\"tenant\":", i ? "," : "");
        meta_json_string(b, p->tenant ? p->tenant : "");
        size_t j;
        buf_printf(b,
                   ",\"jobs\":%lu,\"owned_jobs\":%lu,\"outstanding_blocks\":%lu,"
                   "\"skipped_jobs\":%lu,\"owned\":[",
                   p->jobs, p->owned_jobs, p->outstanding, p->skipped_jobs);
        for (j = 0; j < p->nowned; j++) {
            if (j)
                buf_putc(b, ',');
            meta_json_string(b, p->owned[j]);
        }
        buf_puts(b, "]}");
    }
    buf_puts(b, "]}\n");
    pthread_mutex_unlock(&c->mu);
}
