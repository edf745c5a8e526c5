/* reconcile.c - reconcile one TempoCompactor (see reconcile.h). */
#include "reconcile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lease.h"
#include "probe.h"
#include "base/http_client.h"
#include "base/log.h"
#include "base/mem.h"
#include "render.h"

#include <openssl/evp.h>

#define RECONCILE_APPLY_CT "application/apply-patch+yaml"
#define RECONCILE_MERGE_CT "application/merge-patch+json"
#define RECONCILE_CONTROLLER "compactor.tempo.dev/tempo-compactor-operator"
#define RECONCILE_MAX_ATTEMPTS 4
#define RECONCILE_PROBE_MIN_MS 30000     /* probe at most every 30 s (KEDA's default polling) */
#define RECONCILE_PROBE_CONFIRM_MS 15000 /* a first empty answer is re-checked after 15 s */
#define RECONCILE_PROBE_TIMEOUT_MS 5000

void
reconcile_shared_init(struct reconcile_shared *s, const char *field_manager, const char *identity)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    s->field_manager = field_manager;
    s->identity = identity;
    s->keda_present = -1;
    s->keda_ttl_ms = 30000;
    strmap_init(&s->children);
    strmap_init(&s->autoscale);
    strmap_init(&s->observed);
    strmap_init(&s->scalers);
    s->observe_interval_ms = 60000;
    {
        static const char *const crl[] = {"namespace", "name", NULL};
        static const char *const erl[] = {"namespace", "name", "reason", NULL};
        static const double qb[] = {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5};
        struct metrics *r = metrics_default();
        s->m_query_seconds = metrics_histogram(
            r, "tempo_compactor_operator_autoscaler_query_duration_seconds",
            "autoscaling.mode builtin: duration of the trigger query.", crl, qb, TC_ARRAY_LEN(qb));
        s->m_query_errors =
            metrics_counter(r, "tempo_compactor_operator_autoscaler_query_errors_total",
                            "autoscaling.mode builtin: trigger queries that gave no value "
                            "(QueryFailed, QueryEmpty); the replicas were kept.",
                            erl);
        s->m_desired =
            metrics_gauge(r, "tempo_compactor_operator_autoscaler_desired_replicas",
                          "autoscaling.mode builtin: replicas the last poll asked for.", crl);
    }
}

static void
rc_free_child(const char *key, void *val, void *ud)
{
    tc_free(val);
}

static void
rc_free_scaler(const char *key, void *val, void *ud)
{
    struct reconcile_scaler *sc = val;

    if (sc)
        hpa_state_free(sc->hs);
    tc_free(sc);
}

void
reconcile_shared_cleanup(struct reconcile_shared *s)
{
    strmap_each(&s->children, rc_free_child, NULL);
    strmap_cleanup(&s->children);
    strmap_each(&s->observed, rc_free_child, NULL);
    strmap_cleanup(&s->observed);
    strmap_cleanup(&s->autoscale);
    strmap_each(&s->scalers, rc_free_scaler, NULL);
    strmap_cleanup(&s->scalers);
    pthread_mutex_destroy(&s->mu);
}

int
reconcile_child_seen(struct reconcile_shared *s, const char *kind, const char *ns, const char *name,
                     int exists, const char *rv)
{
    struct reconcile_child *c;
    char key[512];
    int own = 0;

    snprintf(key, sizeof(key), "%s/%s/%s", kind, ns, name);
    pthread_mutex_lock(&s->mu);
    if (!exists) {
        tc_free(strmap_del(&s->children, key));
    } else {
        c = strmap_get(&s->children, key);
        if (c == NULL && (c = tc_calloc(1, sizeof(*c))) != NULL &&
            strmap_put(&s->children, key, c, NULL) != TC_OK) {
            tc_free(c);
            c = NULL;
        }
        if (c && rv) {
            snprintf(c->rv, sizeof(c->rv), "%s", rv);
            own = c->applied_rv[0] && strcmp(c->applied_rv, rv) == 0;
            if (c->applying) {
                c->window_seen = 1;
                snprintf(c->window_rv, sizeof(c->window_rv), "%s", rv);
                own = 1;
            }
        }
    }
    pthread_mutex_unlock(&s->mu);
    return own;
}

static int
reconcile_child_present(struct reconcile_shared *s, const char *kind, const char *ns,
                        const char *name)
{
    char key[512];
    int p;

    snprintf(key, sizeof(key), "%s/%s/%s", kind, ns, name);
    pthread_mutex_lock(&s->mu);
    p = strmap_get(&s->children, key) != NULL;
    pthread_mutex_unlock(&s->mu);
    return p;
}

int
reconcile_keda_present(struct reconcile_shared *s, struct kube *k)
{
    uint64_t now = tc_now_ms();
    struct tc_err err = {0};
    json_t *res = NULL;
    long status = 0;
    int present;

    pthread_mutex_lock(&s->mu);
    present = s->keda_present;
    if (present >= 0 && now - s->keda_checked_ms < (uint64_t)s->keda_ttl_ms) {
        pthread_mutex_unlock(&s->mu);
        return present;
    }
    pthread_mutex_unlock(&s->mu);
    if (kube_json(k, "GET", "/apis/keda.sh/v1alpha1", NULL, NULL, &status, &res, &err) != TC_OK)
        return present > 0; /* keep the last answer on transport errors */
    present = 0;
    if (status == 200) {
        const json_t *rs = json_object_get(res, "resources");
        size_t i;
        for (i = 0; i < json_array_size(rs); i++) {
            const char *n = json_string_value(json_object_get(json_array_get(rs, i), "name"));
            if (n && strcmp(n, "scaledobjects") == 0)
                present = 1;
        }
    }
    json_decref(res);
    pthread_mutex_lock(&s->mu);
    if (s->keda_present != present)
        LOG_INFO("KEDA API", KV_S("state", present ? "present" : "absent"));
    s->keda_present = present;
    s->keda_checked_ms = now;
    pthread_mutex_unlock(&s->mu);
    return present;
}

int
reconcile_owns_replicas(const json_t *obj, const char *manager)
{
    const json_t *mf = json_object_get(json_object_get(obj, "metadata"), "managedFields");
    size_t i;

    for (i = 0; i < json_array_size(mf); i++) {
        const json_t *e = json_array_get(mf, i);
        const char *m = json_string_value(json_object_get(e, "manager"));
        const char *op = json_string_value(json_object_get(e, "operation"));
        const json_t *f = json_object_get(json_object_get(e, "fieldsV1"), "f:spec");
        if (m && strcmp(m, manager) == 0 && op && strcmp(op, "Apply") == 0 &&
            json_object_get(f, "f:replicas") != NULL)
            return 1;
    }
    return 0;
}

static const char *
rc_str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static json_int_t
rc_int(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static void
rc_child_path(enum render_kind kind, const char *ns, const char *name, char *out, size_t outsz)
{
    snprintf(out, outsz, "%s/namespaces/%s/%s/%s", render_kinds[kind].group_path, ns,
             render_kinds[kind].plural, name);
}

/* ---- events ---- */

static void
rc_event(struct reconcile_shared *s, struct kube *k, const json_t *cr, const char *type,
         const char *reason, const char *note)
{
    static unsigned long seq;
    const json_t *md = json_object_get(cr, "metadata");
    char path[512], name[300], now[64], tnote[1024];
    struct timespec ts;
    json_t *ev, *res = NULL;
    struct tc_err err = {0};
    unsigned long n;
    long status = 0;

    clock_gettime(CLOCK_REALTIME, &ts);
    pthread_mutex_lock(&s->mu);
    n = ++seq;
    s->events++;
    pthread_mutex_unlock(&s->mu);
    snprintf(name, sizeof(name), "%s.%llx%04lx", rc_str(md, "name"),
             (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec,
             n & 0xffff);
    snprintf(tnote, sizeof(tnote), "%s", note); /* events.k8s.io caps note at 1 KiB */
    lease_microtime(now, sizeof(now));
    ev = json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, s:s, s:s, s:s, s:s, s:s, s:s,"
                   " s:{s:s, s:s, s:s, s:s, s:s, s:s}}",
                   "apiVersion", "events.k8s.io/v1", "kind", "Event", "metadata", "name", name,
                   "namespace", rc_str(md, "namespace"), "eventTime", now, "reportingController",
                   RECONCILE_CONTROLLER, "reportingInstance", s->identity, "action", "Reconcile",
                   "reason", reason, "type", type, "note", tnote, "regarding", "apiVersion",
                   RENDER_API_VERSION, "kind", RENDER_KIND, "namespace", rc_str(md, "namespace"),
                   "name", rc_str(md, "name"), "uid", rc_str(md, "uid"), "resourceVersion",
                   rc_str(md, "resourceVersion"));
    snprintf(path, sizeof(path), "/apis/events.k8s.io/v1/namespaces/%s/events",
             rc_str(md, "namespace"));
    if (ev && (kube_json(k, "POST", path, NULL, ev, &status, &res, &err) != TC_OK || status < 200 ||
               status > 299))
        LOG_WARN("event not recorded", KV_S("reason", reason), KV_I("status", status),
                 KV_S("err", err.msg));
    json_decref(ev);
    json_decref(res);
}

/* ---- status ---- */

struct rc_status_in {
    const char *invalid;     /* invalid spec message, or NULL */
    const char *apply_error; /* apply failure message, or NULL */
    int autoscaling, keda, builtin;
    struct reconcile_scaler scaler; /* builtin: the last poll */
    const json_t *dep;              /* Deployment as returned by apply */
    const json_t *so;               /* ScaledObject as returned by apply */
    const struct render_result *rr;
    struct reconcile_observed obs;
};

static const json_t *
rc_find_cond(const json_t *conds, const char *type)
{
    size_t i;

    for (i = 0; i < json_array_size(conds); i++)
        if (strcmp(rc_str(json_array_get(conds, i), "type"), type) == 0)
            return json_array_get(conds, i);
    return NULL;
}

static void
rc_cond(json_t *conds, const json_t *old, const char *type, const char *status, const char *reason,
        const char *msg, json_int_t gen, const char *now)
{
    const json_t *o = rc_find_cond(old, type);
    const char *ltt = o && strcmp(rc_str(o, "status"), status) == 0 &&
                              json_is_string(json_object_get(o, "lastTransitionTime"))
                          ? rc_str(o, "lastTransitionTime")
                          : now;

    json_array_append_new(conds, json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "type", type, "status",
                                           status, "reason", reason, "message", msg,
                                           "observedGeneration", gen, "lastTransitionTime", ltt));
}

static json_t *
rc_build_status(const json_t *cr, const struct rc_status_in *in)
{
    const json_t *md = json_object_get(cr, "metadata");
    const json_t *old = json_object_get(json_object_get(cr, "status"), "conditions");
    json_int_t gen = rc_int(md, "generation");
    json_t *st = json_object(), *conds = json_array();
    char now[64], msg[512];

    /* Conditions use second precision like metav1.Time. */
    {
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    json_object_set_new(st, "observedGeneration", json_integer(gen));
    if (in->invalid) {
        rc_cond(conds, old, "Ready", "False", "InvalidSpec", "the spec is invalid; see Degraded",
                gen, now);
        rc_cond(conds, old, "Progressing", "False", "InvalidSpec", "nothing applied", gen, now);
        rc_cond(conds, old, "Degraded", "True", "InvalidSpec", in->invalid, gen, now);
        rc_cond(conds, old, "AutoscalingReady", "Unknown", "InvalidSpec", "nothing applied", gen,
                now);
        json_object_set_new(st, "conditions", conds);
        return st;
    }
    {
        const json_t *ds = json_object_get(in->dep, "status");
        const json_t *dm = json_object_get(in->dep, "metadata");
        json_int_t want =
            json_is_integer(json_object_get(json_object_get(in->dep, "spec"), "replicas"))
                ? rc_int(json_object_get(in->dep, "spec"), "replicas")
                : 1;
        json_int_t ready = rc_int(ds, "readyReplicas"), upd = rc_int(ds, "updatedReplicas");
        json_int_t avail = rc_int(ds, "availableReplicas");
        int observed = in->dep && rc_int(ds, "observedGeneration") >= rc_int(dm, "generation");
        int done = observed && upd >= want && ready >= want && avail >= want;

        json_object_set_new(st, "replicas", json_integer(rc_int(ds, "replicas")));
        json_object_set_new(st, "readyReplicas", json_integer(ready));
        json_object_set_new(st, "updatedReplicas", json_integer(upd));
        json_object_set_new(st, "selector", json_string(in->rr->selector));
        json_object_set_new(st, "configHash", json_string(in->rr->config_hash));
        if (in->obs.have_outstanding) {
            json_object_set_new(st, "outstandingBlocks", json_integer(in->obs.outstanding));
            json_object_set_new(st, "outstandingBlocksTime", json_string(in->obs.outstanding_time));
        }
        if (in->obs.have_desired && in->autoscaling && in->keda && !in->builtin)
            json_object_set_new(st, "desiredReplicas", json_integer(in->obs.desired));
        if (in->builtin && in->scaler.query_time[0]) {
            const struct reconcile_scaler *sc = &in->scaler;
            json_t *a = json_pack("{s:s, s:i, s:i, s:s}", "lastQueryTime", sc->query_time,
                                  "desiredReplicas", sc->desired, "currentReplicas", sc->current,
                                  "lastError", sc->err);
            if (sc->have_value) {
                json_object_set_new(a, "lastValue", json_real(sc->value));
                json_object_set_new(a, "lastValueTime", json_string(sc->value_time));
            }
            json_object_set_new(st, "autoscaler", a);
            json_object_set_new(st, "desiredReplicas", json_integer(sc->desired));
        }
        snprintf(msg, sizeof(msg), "%lld/%lld replicas ready", (long long)ready, (long long)want);
        if (done)
            rc_cond(conds, old, "Ready", "True", want == 0 ? "ScaledToZero" : "Available", msg, gen,
                    now);
        else
            rc_cond(conds, old, "Ready", "False", "RolloutInProgress", msg, gen, now);
        if (done)
            rc_cond(conds, old, "Progressing", "False", "RolloutComplete", msg, gen, now);
        else
            rc_cond(conds, old, "Progressing", "True", "RollingOut", msg, gen, now);
    }
    if (in->apply_error)
        rc_cond(conds, old, "Degraded", "True", "ApplyFailed", in->apply_error, gen, now);
    else if (in->autoscaling && !in->keda && !in->builtin)
        rc_cond(conds, old, "Degraded", "True", "KEDANotInstalled",
                "spec.autoscaling.enabled is true but the keda.sh/v1alpha1 API is not served; "
                "running spec.replicas until KEDA is installed",
                gen, now);
    else
        rc_cond(conds, old, "Degraded", "False", "AsExpected", "", gen, now);
    if (!in->autoscaling) {
        rc_cond(conds, old, "AutoscalingReady", "False", "AutoscalingDisabled",
                "spec.autoscaling.enabled is false", gen, now);
    } else if (in->builtin) {
        const struct reconcile_scaler *sc = &in->scaler;
        if (sc->state == PROBE_OK) {
            snprintf(msg, sizeof(msg),
                     "mode builtin: the trigger query returned %g; %d replicas desired", sc->value,
                     sc->desired);
            rc_cond(conds, old, "AutoscalingReady", "True", "QuerySucceeded", msg, gen, now);
        } else if (sc->state == PROBE_FAILED || sc->state == PROBE_EMPTY) {
            rc_cond(conds, old, "AutoscalingReady", "False",
                    probe_state_name((enum probe_state)sc->state), sc->err, gen, now);
        } else {
            rc_cond(conds, old, "AutoscalingReady", "Unknown", "Pending",
                    "mode builtin: waiting for the first poll of the trigger query", gen, now);
        }
    } else if (!in->keda) {
        rc_cond(conds, old, "AutoscalingReady", "False", "KEDANotInstalled",
                "the keda.sh/v1alpha1 API is not served", gen, now);
    } else {
        const json_t *sc = json_object_get(json_object_get(in->so, "status"), "conditions");
        const json_t *r = rc_find_cond(sc, "Ready"), *f = rc_find_cond(sc, "Fallback");
        char sname[128];
        render_child_name(RENDER_SCALEDOBJECT, rc_str(json_object_get(cr, "metadata"), "name"),
                          sname, sizeof(sname));
        json_object_set_new(st, "scaledObjectName", json_string(sname));
        if (f && strcmp(rc_str(f, "status"), "True") == 0)
            rc_cond(conds, old, "AutoscalingReady", "False", "Fallback", rc_str(f, "message"), gen,
                    now);
        else if (r && strcmp(rc_str(r, "status"), "False") == 0)
            rc_cond(conds, old, "AutoscalingReady", "False", "ScaledObjectNotReady",
                    rc_str(r, "message"), gen, now);
        else if (in->obs.probe_state == PROBE_FAILED || in->obs.probe_state == PROBE_EMPTY)
            /* KEDA may say Ready (ignoreNullValues true reads nothing as 0):
             * the leader's own run of the query says otherwise. */
            rc_cond(conds, old, "AutoscalingReady", "False",
                    probe_state_name((enum probe_state)in->obs.probe_state), in->obs.probe_msg, gen,
                    now);
        else if (r && strcmp(rc_str(r, "status"), "True") == 0)
            rc_cond(conds, old, "AutoscalingReady", rc_str(r, "status"),
                    strcmp(rc_str(r, "status"), "True") == 0 ? "ScaledObjectReady"
                                                             : "ScaledObjectNotReady",
                    rc_str(r, "message"), gen, now);
        else
            rc_cond(conds, old, "AutoscalingReady", "Unknown", "Pending",
                    "waiting for KEDA to report the ScaledObject", gen, now);
    }
    json_object_set_new(st, "conditions", conds);
    return st;
}

/* Writes status when it changed; emits Events for condition transitions. */
static int
rc_write_status(struct reconcile_shared *s, struct kube *k, const json_t *cr, json_t *st,
                struct tc_err *err)
{
    const json_t *md = json_object_get(cr, "metadata");
    const json_t *old = json_object_get(cr, "status");
    const json_t *oldc = json_object_get(old, "conditions");
    json_t *patch, *pst, *res = NULL;
    const char *key;
    json_t *v;
    char path[512];
    long status = 0;
    size_t i;
    int rc;

    if (json_is_object(old) && json_equal(old, st))
        return TC_OK;
    pst = json_deep_copy(st);
    json_object_foreach((json_t *)old, key, v) if (json_object_get(pst, key) == NULL)
        json_object_set_new(pst, key, json_null()); /* merge patch: remove */
    patch = json_pack("{s:o}", "status", pst);
    snprintf(path, sizeof(path), "%s/namespaces/%s/%s/%s/status", RECONCILE_CR_PATH,
             rc_str(md, "namespace"), RECONCILE_CR_PLURAL, rc_str(md, "name"));
    rc = kube_json(k, "PATCH", path, RECONCILE_MERGE_CT, patch, &status, &res, err);
    json_decref(patch);
    if (rc == TC_OK && status == 409)
        rc = tc_err_set(err, TC_CONFLICT, "status: 409 conflict");
    else if (rc == TC_OK && status == 404)
        rc = TC_OK; /* deleted meanwhile */
    else if (rc == TC_OK && (status < 200 || status > 299))
        rc = tc_err_set(err, TC_HTTP, "status: HTTP %ld: %s", status, kube_status_message(res));
    json_decref(res);
    if (rc != TC_OK || status == 404)
        return rc;
    pthread_mutex_lock(&s->mu);
    s->status_writes++;
    pthread_mutex_unlock(&s->mu);
    for (i = 0; i < json_array_size(json_object_get(st, "conditions")); i++) {
        const json_t *c = json_array_get(json_object_get(st, "conditions"), i);
        const json_t *o = rc_find_cond(oldc, rc_str(c, "type"));
        const char *t = rc_str(c, "type"), *cs = rc_str(c, "status");
        char reason[128], note[1024];
        if (o && strcmp(rc_str(o, "status"), cs) == 0 &&
            strcmp(rc_str(o, "reason"), rc_str(c, "reason")) == 0)
            continue;
        if (strcmp(t, "Progressing") == 0 || (o == NULL && strcmp(cs, "True") != 0))
            continue; /* keep events for what matters */
        snprintf(reason, sizeof(reason), "%s", rc_str(c, "reason"));
        snprintf(note, sizeof(note), "%s=%s: %s", t, cs, rc_str(c, "message"));
        rc_event(s, k, cr,
                 (strcmp(t, "Degraded") == 0 && strcmp(cs, "True") == 0) ||
                         (strcmp(t, "Degraded") != 0 && strcmp(cs, "False") == 0 && o != NULL &&
                          strcmp(rc_str(c, "reason"), "AutoscalingDisabled") != 0)
                     ? "Warning"
                     : "Normal",
                 reason, note);
    }
    return TC_OK;
}

/* ---- apply ---- */

static int
rc_http_result(long status, const json_t *res, const char *what, struct tc_err *err)
{
    if (status >= 200 && status < 300)
        return TC_OK;
    if (status == 409)
        return tc_err_set(err, TC_CONFLICT, "%s: 409 conflict: %s", what, kube_status_message(res));
    if (status == 400 || status == 422)
        return tc_err_set(err, TC_INVAL, "%s: HTTP %ld: %s", what, status,
                          kube_status_message(res));
    return tc_err_set(err, TC_HTTP, "%s: HTTP %ld: %s", what, status, kube_status_message(res));
}

static int
rc_apply(struct reconcile_shared *s, struct kube *k, const json_t *m, const char *manager,
         int may_skip, int *foreign, json_t **out, struct tc_err *err)
{
    const json_t *md = json_object_get(m, "metadata");
    enum render_kind kind = RENDER__NKINDS;
    char path[1024], what[256], ckey[512];
    unsigned char hash[32];
    unsigned int hlen = 0;
    struct reconcile_child *c;
    long status = 0;
    json_t *res = NULL;
    char *body;
    int i, rc, existed;

    if (out)
        *out = NULL;
    for (i = 0; i < RENDER__NKINDS; i++)
        if (strcmp(render_kinds[i].kind, rc_str(m, "kind")) == 0)
            kind = (enum render_kind)i;
    if (kind == RENDER__NKINDS)
        return tc_err_set(err, TC_INVAL, "apply: unknown kind %s", rc_str(m, "kind"));
    body = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
    if (body == NULL)
        return tc_err_set(err, TC_NOMEM, "out of memory");
    EVP_Digest(body, strlen(body), hash, &hlen, EVP_sha256(), NULL);
    free(body); /* lint-ok: from jansson */
    snprintf(ckey, sizeof(ckey), "%s/%s/%s", render_kinds[kind].kind, rc_str(md, "namespace"),
             rc_str(md, "name"));
    if (may_skip) {
        int skip = 0;
        pthread_mutex_lock(&s->mu);
        c = strmap_get(&s->children, ckey);
        /* Same intent as last time and nobody wrote since: nothing to do. */
        skip = c && c->has_hash && memcmp(c->hash, hash, sizeof(hash)) == 0 && c->applied_rv[0] &&
               strcmp(c->rv, c->applied_rv) == 0;
        if (skip)
            s->skipped++;
        pthread_mutex_unlock(&s->mu);
        if (skip)
            return TC_OK;
    }
    pthread_mutex_lock(&s->mu);
    existed = strmap_get(&s->children, ckey) != NULL;
    pthread_mutex_unlock(&s->mu);
    reconcile_child_seen(s, render_kinds[kind].kind, rc_str(md, "namespace"), rc_str(md, "name"), 1,
                         NULL);
    pthread_mutex_lock(&s->mu);
    if ((c = strmap_get(&s->children, ckey)) != NULL) {
        c->applying = 1;
        c->window_seen = 0;
    }
    pthread_mutex_unlock(&s->mu);
    rc_child_path(kind, rc_str(md, "namespace"), rc_str(md, "name"), path, sizeof(path));
    snprintf(path + strlen(path), sizeof(path) - strlen(path), "?fieldManager=%s&force=true",
             manager);
    snprintf(what, sizeof(what), "apply %s %s", render_kinds[kind].kind, rc_str(md, "name"));
    rc = kube_json(k, "PATCH", path, RECONCILE_APPLY_CT, m, &status, &res, err);
    if (rc == TC_OK)
        rc = rc_http_result(status, res, what, err);
    pthread_mutex_lock(&s->mu);
    if ((c = strmap_get(&s->children, ckey)) != NULL) {
        const char *rv =
            rc == TC_OK ? rc_str(json_object_get(res, "metadata"), "resourceVersion") : "";
        /* An event held during the apply that is not our answer's version
         * was someone else's write: the caller reconciles again. */
        if (c->window_seen && strcmp(c->window_rv, rv) != 0 && foreign)
            *foreign = 1;
        c->applying = 0;
        c->window_seen = 0;
        if (rc != TC_OK && !existed)
            tc_free(strmap_del(&s->children, ckey)); /* never created */
    }
    pthread_mutex_unlock(&s->mu);
    if (rc == TC_OK) {
        const char *rv = rc_str(json_object_get(res, "metadata"), "resourceVersion");
        reconcile_child_seen(s, render_kinds[kind].kind, rc_str(md, "namespace"),
                             rc_str(md, "name"), 1, NULL);
        pthread_mutex_lock(&s->mu);
        s->applies++;
        c = strmap_get(&s->children, ckey);
        if (c) {
            /* Only the main manager's intent is remembered (not the handover). */
            c->has_hash = may_skip >= 0 && strcmp(manager, s->field_manager) == 0;
            memcpy(c->hash, hash, sizeof(hash));
            snprintf(c->applied_rv, sizeof(c->applied_rv), "%s", rv);
            snprintf(c->rv, sizeof(c->rv), "%s", rv);
        }
        pthread_mutex_unlock(&s->mu);
    }
    if (rc == TC_OK && out)
        *out = res;
    else
        json_decref(res);
    return rc;
}

static int
rc_delete(struct reconcile_shared *s, struct kube *k, enum render_kind kind, const char *ns,
          const char *name, struct tc_err *err)
{
    char path[1024], what[256];
    long status = 0;
    json_t *res = NULL;
    int rc;

    rc_child_path(kind, ns, name, path, sizeof(path));
    snprintf(what, sizeof(what), "delete %s %s", render_kinds[kind].kind, name);
    rc = kube_json(k, "DELETE", path, NULL, NULL, &status, &res, err);
    if (rc == TC_OK && status != 404)
        rc = rc_http_result(status, res, what, err);
    json_decref(res);
    if (rc == TC_OK) {
        reconcile_child_seen(s, render_kinds[kind].kind, ns, name, 0, NULL);
        pthread_mutex_lock(&s->mu);
        s->deletes++;
        pthread_mutex_unlock(&s->mu);
        LOG_INFO("deleted unwanted child", KV_S("kind", render_kinds[kind].kind),
                 KV_S("namespace", ns), KV_S("name", name));
    }
    return rc;
}

/* With autoscaling requested but KEDA absent, keep running spec.replicas
 * (clamped to the autoscaling range) instead of leaving it unowned. */
static void
rc_fallback_replicas(const json_t *cr, json_t *dep)
{
    const json_t *spec = json_object_get(cr, "spec"), *as = json_object_get(spec, "autoscaling");
    json_int_t r =
        json_is_integer(json_object_get(spec, "replicas")) ? rc_int(spec, "replicas") : 1;
    json_int_t mn =
        json_is_integer(json_object_get(as, "minReplicas")) ? rc_int(as, "minReplicas") : 1;
    json_int_t mx =
        json_is_integer(json_object_get(as, "maxReplicas")) ? rc_int(as, "maxReplicas") : 3;
    if (r < mn)
        r = mn;
    if (r > mx)
        r = mx;
    json_object_set_new(json_object_get(dep, "spec"), "replicas", json_integer(r));
}

int
reconcile_sum_metric(const char *text, size_t len, const char *name, double *sum)
{
    const char *p = text, *end = text + len;
    size_t nlen = strlen(name);
    int n = 0;

    *sum = 0;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end;
        if ((size_t)(le - p) > nlen && strncmp(p, name, nlen) == 0 &&
            (p[nlen] == '{' || p[nlen] == ' ')) {
            const char *v = p + nlen;
            char tmp[64], *e;
            double d;
            if (*v == '{') { /* skip labels; values may contain '}' only when quoted */
                int q = 0;
                for (v++; v < le && (q || *v != '}'); v++) {
                    if (*v == '\\' && v + 1 < le)
                        v++;
                    else if (*v == '"')
                        q = !q;
                }
                v++;
            }
            while (v < le && *v == ' ')
                v++;
            snprintf(tmp, sizeof(tmp), "%.*s", (int)(le - v < 63 ? le - v : 63), v);
            d = strtod(tmp, &e);
            if (e != tmp && d == d) { /* skip NaN */
                *sum += d;
                n++;
            }
        }
        p = le + 1;
    }
    return n;
}

/* Reads the figures that live outside the API objects: the compactor pods'
 * outstanding blocks (their /metrics) and KEDA's HPA desiredReplicas. At most
 * once per observe interval per CR; failures leave the last values. */
static void
rc_observe(struct reconcile_shared *s, struct kube *k, const char *ns, const char *name,
           const struct render_result *rr, int autoscaling, struct reconcile_observed *out)
{
    char key[512], path[1024];
    struct reconcile_observed *o;
    struct tc_err err = {0};
    uint64_t now = tc_now_ms();
    json_t *pods = NULL, *hpa = NULL;
    long status = 0;
    size_t i;
    int due;

    snprintf(key, sizeof(key), "%s/%s", ns, name);
    pthread_mutex_lock(&s->mu);
    o = strmap_get(&s->observed, key);
    if (o == NULL && (o = tc_calloc(1, sizeof(*o))) != NULL &&
        strmap_put(&s->observed, key, o, NULL) != TC_OK) {
        tc_free(o);
        o = NULL;
    }
    /* Not on a CR's first reconcile: its pods do not exist yet, and the
     * first apply should not wait for a pod listing. */
    due = o && s->observe_interval_ms > 0 && o->at_ms != 0 &&
          now - o->at_ms >= (uint64_t)s->observe_interval_ms;
    if (o && (due || o->at_ms == 0))
        o->at_ms = now;
    if (o)
        *out = *o;
    pthread_mutex_unlock(&s->mu);
    if (!due)
        return;
    {
        struct buf sel;
        buf_init(&sel, sizeof(path));
        http_urlencode(&sel, rr->selector, 0);
        snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods?labelSelector=%s", ns,
                 sel.data ? sel.data : "");
        buf_cleanup(&sel);
    }
    if (kube_json(k, "GET", path, NULL, NULL, &status, &pods, &err) == TC_OK && status == 200) {
        const json_t *items = json_object_get(pods, "items");
        double total = 0;
        int scraped = 0;
        for (i = 0; i < json_array_size(items); i++) {
            const json_t *pod = json_array_get(items, i), *ctrs, *ports;
            const char *ip = rc_str(json_object_get(pod, "status"), "podIP");
            json_int_t port = RENDER_HTTP_PORT;
            size_t c, p;
            struct buf body;
            char url[256];
            double v = 0;
            if (!*ip || strcmp(rc_str(json_object_get(pod, "status"), "phase"), "Running") != 0)
                continue;
            ctrs = json_object_get(json_object_get(pod, "spec"), "containers");
            for (c = 0; c < json_array_size(ctrs); c++) {
                ports = json_object_get(json_array_get(ctrs, c), "ports");
                for (p = 0; p < json_array_size(ports); p++)
                    if (strcmp(rc_str(json_array_get(ports, p), "name"), "http-metrics") == 0)
                        port = rc_int(json_array_get(ports, p), "containerPort");
            }
            snprintf(url, sizeof(url),
                     strchr(ip, ':') ? "http://[%s]:%lld/metrics" : "http://%s:%lld/metrics", ip,
                     (long long)port);
            buf_init(&body, 8 << 20);
            if (kube_get_url(k, url, 2000, &status, &body, &err) == TC_OK && status == 200 &&
                reconcile_sum_metric(body.data ? body.data : "", body.len,
                                     "tempodb_compaction_outstanding_blocks", &v) >= 0) {
                total += v;
                scraped++;
            } else {
                LOG_DEBUG("metrics scrape failed", KV_S("url", url), KV_ERR(&err));
            }
            buf_cleanup(&body);
        }
        if (scraped > 0) {
            time_t t = time(NULL);
            struct tm tm;
            gmtime_r(&t, &tm);
            pthread_mutex_lock(&s->mu);
            /* The time moves only with the value, so a steady backlog does
             * not cost a status write per scrape. */
            if (!o->have_outstanding || o->outstanding != (long long)total)
                strftime(o->outstanding_time, sizeof(o->outstanding_time), "%Y-%m-%dT%H:%M:%SZ",
                         &tm);
            o->outstanding = (long long)total;
            o->have_outstanding = 1;
            pthread_mutex_unlock(&s->mu);
        }
    }
    json_decref(pods);
    if (autoscaling) {
        char so[128];
        render_child_name(RENDER_SCALEDOBJECT, name, so, sizeof(so));
        snprintf(path, sizeof(path),
                 "/apis/autoscaling/v2/namespaces/%s/horizontalpodautoscalers/keda-hpa-%s", ns, so);
        if (kube_json(k, "GET", path, NULL, NULL, &status, &hpa, &err) == TC_OK && status == 200 &&
            json_is_integer(json_object_get(json_object_get(hpa, "status"), "desiredReplicas"))) {
            pthread_mutex_lock(&s->mu);
            o->desired = rc_int(json_object_get(hpa, "status"), "desiredReplicas");
            o->have_desired = 1;
            pthread_mutex_unlock(&s->mu);
        }
        json_decref(hpa);
    }
    pthread_mutex_lock(&s->mu);
    *out = *o;
    pthread_mutex_unlock(&s->mu);
}

/* The rendered child of a kind, borrowed from rr, or NULL. */
static const json_t *
rc_manifest(const struct render_result *rr, const char *kind)
{
    size_t i;

    for (i = 0; i < json_array_size(rr->manifests); i++)
        if (strcmp(rc_str(json_array_get(rr->manifests, i), "kind"), kind) == 0)
            return json_array_get(rr->manifests, i);
    return NULL;
}

/* ms between probes of a ScaledObject: its pollingInterval, at least 30 s. */
static long
rc_probe_interval_ms(const json_t *so)
{
    const json_t *pi = json_object_get(json_object_get(so, "spec"), "pollingInterval");
    long ms = json_is_integer(pi) ? (long)json_integer_value(pi) * 1000 : 0;

    return ms > RECONCILE_PROBE_MIN_MS ? ms : RECONCILE_PROBE_MIN_MS;
}

/* Resolves the TriggerAuthentication's secretTargetRef into {parameter:
 * value} by reading the Secret (RBAC: get on that one Secret). Returns
 * TC_OK with *params (new, possibly empty) or an error naming the status. */
static int
rc_probe_params(struct kube *k, const char *ns, const json_t *ta, json_t **params,
                struct tc_err *err)
{
    const json_t *refs = json_object_get(json_object_get(ta, "spec"), "secretTargetRef");
    json_t *secret = NULL;
    const char *loaded = NULL;
    size_t i;
    int rc = TC_OK;

    *params = json_object();
    for (i = 0; rc == TC_OK && i < json_array_size(refs); i++) {
        const json_t *r = json_array_get(refs, i);
        const char *v;
        char path[512];
        long status = 0;
        struct buf dec;
        if (loaded == NULL || strcmp(loaded, rc_str(r, "name")) != 0) {
            json_decref(secret);
            secret = NULL;
            snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets/%s", ns, rc_str(r, "name"));
            rc = kube_json(k, "GET", path, NULL, NULL, &status, &secret, err);
            if (rc == TC_OK && status != 200)
                rc = tc_err_set(err, status == 403 ? TC_DENIED : TC_HTTP, "Secret %s: HTTP %ld: %s",
                                rc_str(r, "name"), status, kube_status_message(secret));
            if (rc != TC_OK)
                break;
            loaded = rc_str(r, "name");
        }
        v = rc_str(json_object_get(secret, "data"), rc_str(r, "key"));
        if (!*v)
            continue; /* KEDA too ignores a parameter whose key is missing */
        buf_init(&dec, strlen(v));
        if (kube_base64_decode(v, strlen(v), &dec) == TC_OK)
            json_object_set_new(*params, rc_str(r, "parameter"),
                                json_stringn(dec.data ? dec.data : "", dec.len));
        if (dec.data)
            OPENSSL_cleanse(dec.data, dec.len);
        buf_cleanup(&dec);
    }
    json_decref(secret);
    return rc;
}

static void
rc_params_free(json_t *params)
{
    const char *key;
    json_t *v;

    json_object_foreach(params, key, v) if (json_is_string(v))
        OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
    json_decref(params);
}

/* Runs the trigger query when it is due (see struct reconcile_observed) and
 * records the verdict. Only with autoscaling on and the Deployment having a
 * ready replica: before that no series can exist. Returns the ms until the
 * next probe is due, for the requeue. */
static long
rc_probe(struct reconcile_shared *s, struct kube *k, const char *ns, const char *name,
         const struct render_result *rr, const json_t *dep, struct reconcile_observed *out)
{
    const json_t *so = rc_manifest(rr, "ScaledObject");
    const json_t *ta = rc_manifest(rr, "TriggerAuthentication");
    const json_t *trig =
        json_array_get(json_object_get(json_object_get(so, "spec"), "triggers"), 0);
    struct reconcile_observed *o;
    struct probe_result pr;
    struct tc_err err = {0};
    unsigned char key[32];
    unsigned int klen = 0;
    uint64_t now = tc_now_ms();
    long interval = rc_probe_interval_ms(so), wait_ms;
    json_t *params = NULL;
    char okey[512], *body;
    int due;

    if (trig == NULL || s->observe_interval_ms <= 0 ||
        rc_int(json_object_get(dep, "status"), "readyReplicas") < 1)
        return 0;
    {
        json_t *both = json_pack("{s:O, s:O*}", "trigger", trig, "auth", ta);
        body = both ? json_dumps(both, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(both);
        if (body == NULL)
            return 0;
        EVP_Digest(body, strlen(body), key, &klen, EVP_sha256(), NULL);
        tc_free(body);
    }
    snprintf(okey, sizeof(okey), "%s/%s", ns, name);
    pthread_mutex_lock(&s->mu);
    o = strmap_get(&s->observed, okey);
    if (o && memcmp(o->probe_key, key, sizeof(key)) != 0) {
        /* A new trigger: the old verdict says nothing about it. */
        memcpy(o->probe_key, key, sizeof(key));
        o->probe_at_ms = 0;
        o->probe_state = PROBE_UNKNOWN;
        o->probe_unconfirmed = 0;
        o->probe_msg[0] = '\0';
    }
    wait_ms = o ? (o->probe_unconfirmed ? RECONCILE_PROBE_CONFIRM_MS : interval) : 0;
    due = o && (o->probe_at_ms == 0 || now - o->probe_at_ms >= (uint64_t)wait_ms);
    if (due)
        o->probe_at_ms = now;
    pthread_mutex_unlock(&s->mu);
    if (o == NULL)
        return 0;
    if (!due)
        return wait_ms - (long)(now - o->probe_at_ms);
    if (ta && rc_probe_params(k, ns, ta, &params, &err) != TC_OK) {
        /* No verdict without the credentials KEDA would send. */
        LOG_WARN("trigger probe skipped", KV_S("key", okey), KV_ERR(&err));
        rc_params_free(params);
        return interval;
    }
    if (probe_query(json_object_get(trig, "metadata"), params, RECONCILE_PROBE_TIMEOUT_MS, &pr) !=
        TC_OK) {
        rc_params_free(params);
        return interval;
    }
    rc_params_free(params);
    pthread_mutex_lock(&s->mu);
    if (memcmp(o->probe_key, key, sizeof(key)) == 0) {
        if (pr.state == PROBE_EMPTY && o->probe_state != PROBE_EMPTY && !o->probe_unconfirmed) {
            o->probe_unconfirmed = 1;
            wait_ms = RECONCILE_PROBE_CONFIRM_MS;
        } else {
            o->probe_unconfirmed = 0;
            wait_ms = interval;
            if (o->probe_state != (int)pr.state)
                LOG_INFO("trigger probe", KV_S("key", okey),
                         KV_S("verdict", probe_state_name(pr.state)), KV_I("status", pr.status),
                         KV_S("msg", pr.msg));
            o->probe_state = (int)pr.state;
            snprintf(o->probe_msg, sizeof(o->probe_msg), "%s", pr.msg);
        }
    }
    *out = *o;
    pthread_mutex_unlock(&s->mu);
    return wait_ms;
}

/* The hpa_spec of a rendered ScaledObject (mode builtin). */
static void
rc_hpa_spec(const json_t *so, struct hpa_spec *hs)
{
    const json_t *spec = json_object_get(so, "spec");
    const json_t *trig = json_array_get(json_object_get(spec, "triggers"), 0);
    const json_t *md = json_object_get(trig, "metadata");
    struct tc_err err = {0};

    hpa_spec_init(hs);
    hs->min = (int)rc_int(spec, "minReplicaCount");
    hs->max = (int)rc_int(spec, "maxReplicaCount");
    hs->target = strtod(rc_str(md, "threshold"), NULL);
    hs->activation = strtod(rc_str(md, "activationThreshold"), NULL);
    hs->per_pod = strcmp(rc_str(trig, "metricType"), "Value") != 0;
    if (json_is_integer(json_object_get(spec, "cooldownPeriod")))
        hs->cooldown_s = (int)rc_int(spec, "cooldownPeriod");
    /* render validated it with the same parser */
    (void)hpa_behavior_parse(json_object_get(json_object_get(json_object_get(spec, "advanced"),
                                                             "horizontalPodAutoscalerConfig"),
                                             "behavior"),
                             "spec.autoscaling.behavior", hs, &err);
}

static void
rc_wall_time(char *out, size_t outsz)
{
    time_t t = time(NULL);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* mode builtin: when the poll is due, run the trigger query, compute the
 * replicas and PATCH /scale (with the Deployment's resourceVersion, so a
 * write based on a stale read fails with 409 instead of flapping). A
 * failed or empty query keeps the replicas. Copies the scaler's state to
 * *out; returns the ms until the next poll. dep's spec.replicas is updated
 * after a scale. */
static long
rc_builtin(struct reconcile_shared *s, struct kube *k, const json_t *cr, const char *ns,
           const char *name, const struct render_result *rr, json_t *dep,
           struct reconcile_scaler *out)
{
    const json_t *so = rr->trigger_so, *ta = rr->trigger_ta;
    const json_t *spec = json_object_get(so, "spec");
    const json_t *trig = json_array_get(json_object_get(spec, "triggers"), 0);
    const json_t *pi = json_object_get(spec, "pollingInterval");
    long interval = json_is_integer(pi) ? (long)json_integer_value(pi) * 1000 : 30000;
    const json_t *dspec = json_object_get(dep, "spec");
    int current =
        json_is_integer(json_object_get(dspec, "replicas")) ? (int)rc_int(dspec, "replicas") : 1;
    int ready = (int)rc_int(json_object_get(dep, "status"), "readyReplicas");
    const char *lv[] = {ns, name, NULL};
    struct reconcile_scaler *sc;
    struct probe_result pr;
    struct hpa_decision d;
    struct hpa_spec hs;
    struct tc_err err = {0};
    unsigned char key[32];
    unsigned int klen = 0;
    uint64_t now = tc_now_ms(), t0;
    json_t *params = NULL;
    char okey[512], *body;

    memset(out, 0, sizeof(*out));
    if (trig == NULL || dep == NULL)
        return 0;
    body = json_dumps(so, JSON_COMPACT | JSON_SORT_KEYS);
    if (body == NULL)
        return interval;
    EVP_Digest(body, strlen(body), key, &klen, EVP_sha256(), NULL);
    tc_free(body);
    snprintf(okey, sizeof(okey), "%s/%s", ns, name);
    /* One key is reconciled by one worker at a time: sc is ours until we
     * return, only the map itself needs the lock. */
    pthread_mutex_lock(&s->mu);
    sc = strmap_get(&s->scalers, okey);
    if (sc && memcmp(sc->key, key, sizeof(key)) != 0) {
        rc_free_scaler(okey, strmap_del(&s->scalers, okey), NULL);
        sc = NULL;
    }
    if (sc == NULL && (sc = tc_calloc(1, sizeof(*sc))) != NULL) {
        if ((sc->hs = hpa_state_new()) == NULL ||
            strmap_put(&s->scalers, okey, sc, NULL) != TC_OK) {
            hpa_state_free(sc->hs);
            tc_free(sc);
            sc = NULL;
        } else {
            memcpy(sc->key, key, sizeof(key));
            /* a new leader or a new trigger: no scale down for one window */
            hpa_seed(sc->hs, (int64_t)now, current);
        }
    }
    pthread_mutex_unlock(&s->mu);
    if (sc == NULL)
        return interval;
    if (sc->at_ms != 0 && now - sc->at_ms < (uint64_t)interval) {
        *out = *sc;
        return interval - (long)(now - sc->at_ms);
    }
    sc->at_ms = now;
    rc_wall_time(sc->query_time, sizeof(sc->query_time));
    sc->current = current;
    if (ta && rc_probe_params(k, ns, ta, &params, &err) != TC_OK) {
        pr.state = PROBE_FAILED;
        snprintf(pr.msg, sizeof(pr.msg), "cannot read the credentials: %s", err.msg);
    } else {
        t0 = tc_now_ms();
        if (probe_query(json_object_get(trig, "metadata"), params, RECONCILE_PROBE_TIMEOUT_MS,
                        &pr) != TC_OK) {
            pr.state = PROBE_FAILED;
            snprintf(pr.msg, sizeof(pr.msg), "out of memory");
        }
        metrics_observe(s->m_query_seconds, lv, (double)(tc_now_ms() - t0) / 1000.0);
    }
    rc_params_free(params);
    if (pr.state != PROBE_OK) {
        /* Never scale on a missing value (KEDA's fallback keeps the
         * current replicas too). */
        const char *ev[] = {ns, name, probe_state_name(pr.state), NULL};
        metrics_inc(s->m_query_errors, ev);
        if (sc->state != (int)pr.state)
            LOG_WARN("builtin autoscaler: no value, keeping the replicas", KV_S("key", okey),
                     KV_S("verdict", probe_state_name(pr.state)), KV_S("msg", pr.msg));
        sc->state = (int)pr.state;
        sc->desired = current;
        snprintf(sc->err, sizeof(sc->err), "%s; keeping %d replicas", pr.msg, current);
        metrics_set(s->m_desired, lv, current);
        *out = *sc;
        return interval;
    }
    sc->state = PROBE_OK;
    sc->err[0] = '\0';
    sc->have_value = 1;
    sc->value = pr.value;
    snprintf(sc->value_time, sizeof(sc->value_time), "%s", sc->query_time);
    rc_hpa_spec(so, &hs);
    hpa_step(&hs, sc->hs, (int64_t)now, current, ready, pr.value, &d);
    sc->desired = d.desired;
    metrics_set(s->m_desired, lv, d.desired);
    if (d.desired != current) {
        char path[768], note[512];
        const char *rv = rc_str(json_object_get(dep, "metadata"), "resourceVersion");
        json_t *patch = json_pack("{s:{s:s}, s:{s:i}}", "metadata", "resourceVersion", rv, "spec",
                                  "replicas", d.desired);
        json_t *res = NULL;
        long status = 0;
        snprintf(path, sizeof(path),
                 "/apis/apps/v1/namespaces/%s/deployments/%s/scale?fieldManager=%s", ns, rr->name,
                 s->field_manager);
        if (kube_json(k, "PATCH", path, RECONCILE_MERGE_CT, patch, &status, &res, &err) == TC_OK &&
            status >= 200 && status < 300) {
            hpa_record_scale(sc->hs, (int64_t)now, current, d.desired);
            sc->current = d.desired;
            json_object_set_new(json_object_get(dep, "spec"), "replicas", json_integer(d.desired));
            LOG_INFO("builtin autoscaler: scaled", KV_S("key", okey), KV_I("from", current),
                     KV_I("to", d.desired), KV_S("reason", d.reason));
            snprintf(note, sizeof(note),
                     "scaled %s from %d to %d replicas (%s): the trigger query returned %g, "
                     "threshold %s",
                     rr->name, current, d.desired, d.reason, pr.value,
                     rc_str(json_object_get(trig, "metadata"), "threshold"));
            rc_event(s, k, cr, "Normal", "Scaled", note);
        } else {
            /* 409: someone wrote since our read; poll again soon. */
            snprintf(sc->err, sizeof(sc->err), "PATCH %s/scale: HTTP %ld: %s", rr->name, status,
                     status ? kube_status_message(res) : err.msg);
            LOG_WARN("builtin autoscaler: scale failed", KV_S("key", okey), KV_S("err", sc->err));
            sc->at_ms = 0;
            interval = 1000;
        }
        json_decref(patch);
        json_decref(res);
    }
    *out = *sc;
    return interval;
}

static int
rc_attempt(struct reconcile_shared *s, struct kube *k, const char *ns, const char *name,
           struct reconcile_result *res, struct tc_err *err)
{
    char path[1024], key[512], depname[128];
    struct render_result rr;
    struct tc_err rerr = {0};
    struct rc_status_in in;
    json_t *cr = NULL, *dep = NULL, *so = NULL, *st;
    long status = 0;
    size_t i;
    int rc, keda = 0, eff_as, prev_mode;

    memset(&in, 0, sizeof(in));
    memset(&rr, 0, sizeof(rr));
    snprintf(key, sizeof(key), "%s/%s", ns, name);
    snprintf(path, sizeof(path), "%s/namespaces/%s/%s/%s", RECONCILE_CR_PATH, ns,
             RECONCILE_CR_PLURAL, name);
    rc = kube_json(k, "GET", path, NULL, NULL, &status, &cr, err);
    if (rc != TC_OK)
        return rc;
    if (status == 404) {
        json_decref(cr);
        pthread_mutex_lock(&s->mu);
        strmap_del(&s->autoscale, key);
        tc_free(strmap_del(&s->observed, key));
        rc_free_scaler(key, strmap_del(&s->scalers, key), NULL);
        pthread_mutex_unlock(&s->mu);
        metrics_remove(s->m_desired, (const char *[]){ns, name});
        return TC_OK; /* deleted: ownerReferences let the GC remove children */
    }
    if (status != 200 || !json_is_object(cr)) {
        rc = tc_err_set(err, TC_HTTP, "get %s: HTTP %ld: %s", key, status, kube_status_message(cr));
        json_decref(cr);
        return rc;
    }
    if (json_object_get(json_object_get(cr, "metadata"), "deletionTimestamp") != NULL) {
        json_decref(cr);
        return TC_OK;
    }
    if (render_manifests(cr, &rr, &rerr) != TC_OK) {
        /* Invalid spec: apply nothing, say which field in Degraded. */
        LOG_WARN("invalid spec", KV_S("key", key), KV_S("err", rerr.msg));
        in.invalid = rerr.msg;
        st = rc_build_status(cr, &in);
        rc = rc_write_status(s, k, cr, st, err);
        json_decref(st);
        json_decref(cr);
        return rc;
    }
    if (rr.autoscaling && !rr.builtin)
        keda = reconcile_keda_present(s, k);
    eff_as = rr.autoscaling && (keda || rr.builtin);
    if (rr.autoscaling && !rr.builtin && !keda) {
        for (i = 0; i < json_array_size(rr.manifests); i++) {
            json_t *m = json_array_get(rr.manifests, i);
            if (strcmp(rc_str(m, "kind"), "Deployment") == 0)
                rc_fallback_replicas(cr, m);
            if (strcmp(rc_str(m, "kind"), "ScaledObject") == 0 ||
                strcmp(rc_str(m, "kind"), "TriggerAuthentication") == 0) {
                json_array_remove(rr.manifests, i);
                i--;
            }
        }
        rr.want[RENDER_SCALEDOBJECT] = rr.want[RENDER_TRIGGERAUTH] = 0;
        res->requeue_after_ms = 30000; /* notice KEDA being installed */
    }
    /* Prune first: the ScaledObject must be gone before replicas are taken
     * back, or KEDA and this apply would fight (operator.md 4.6). */
    {
        static const enum render_kind optional[] = {RENDER_SCALEDOBJECT, RENDER_TRIGGERAUTH,
                                                    RENDER_PDB};
        for (i = 0; i < TC_ARRAY_LEN(optional); i++) {
            char cname[128];
            render_child_name(optional[i], name, cname, sizeof(cname));
            if (rr.want[optional[i]] ||
                !reconcile_child_present(s, render_kinds[optional[i]].kind, ns, cname))
                continue;
            if ((rc = rc_delete(s, k, optional[i], ns, cname, err)) != TC_OK)
                goto out;
            if (optional[i] == RENDER_SCALEDOBJECT)
                rc_event(s, k, cr, "Normal", "ScaledObjectDeleted",
                         "autoscaling is off: deleted the ScaledObject; spec.replicas applies");
        }
    }
    /* Replicas handover: before the first apply without spec.replicas, give
     * the field to a throw-away manager holding the live value, so the API
     * server never resets it to 1 while KEDA's HPA takes over. */
    render_child_name(RENDER_DEPLOYMENT, name, depname, sizeof(depname));
    pthread_mutex_lock(&s->mu);
    prev_mode = (int)(intptr_t)strmap_get(&s->autoscale, key);
    pthread_mutex_unlock(&s->mu);
    if (eff_as && prev_mode != 1 &&
        reconcile_child_present(s, render_kinds[RENDER_DEPLOYMENT].kind, ns, depname)) {
        json_t *live = NULL;
        rc_child_path(RENDER_DEPLOYMENT, ns, depname, path, sizeof(path));
        rc = kube_json(k, "GET", path, NULL, NULL, &status, &live, err);
        if (rc == TC_OK && status == 200 && reconcile_owns_replicas(live, s->field_manager) &&
            json_is_integer(json_object_get(json_object_get(live, "spec"), "replicas"))) {
            char mgr[256];
            json_t *h =
                json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:O}}", "apiVersion", "apps/v1", "kind",
                          "Deployment", "metadata", "name", depname, "namespace", ns, "spec",
                          "replicas", json_object_get(json_object_get(live, "spec"), "replicas"));
            snprintf(mgr, sizeof(mgr), "%s-handover", s->field_manager);
            rc = rc_apply(s, k, h, mgr, 0, &res->requeue_now, NULL, err);
            json_decref(h);
            if (rc == TC_OK)
                LOG_INFO("replicas handed over", KV_S("key", key),
                         KV_I("replicas", rc_int(json_object_get(live, "spec"), "replicas")));
        } else if (rc == TC_OK && status != 200 && status != 404) {
            rc = tc_err_set(err, TC_HTTP, "get deployment %s: HTTP %ld", depname, status);
        }
        json_decref(live);
        if (rc != TC_OK)
            goto out;
    }
    for (i = 0; i < json_array_size(rr.manifests); i++) {
        const json_t *m = json_array_get(rr.manifests, i);
        json_t *out = NULL;
        /* Deployment and ScaledObject are always applied: their answers
         * carry the status this reconcile reports. */
        int need = strcmp(rc_str(m, "kind"), "Deployment") == 0 ||
                   strcmp(rc_str(m, "kind"), "ScaledObject") == 0;
        rc = rc_apply(s, k, m, s->field_manager, !need, &res->requeue_now, &out, err);
        if (rc == TC_INVAL) {
            /* 400/422: surface it; the worker backs off (no hot loop). */
            in.apply_error = err->msg;
            break;
        }
        if (rc != TC_OK)
            goto out;
        if (strcmp(rc_str(m, "kind"), "Deployment") == 0)
            dep = out;
        else if (strcmp(rc_str(m, "kind"), "ScaledObject") == 0)
            so = out;
        else
            json_decref(out);
    }
    if (in.apply_error == NULL) {
        pthread_mutex_lock(&s->mu);
        strmap_put(&s->autoscale, key, (void *)(intptr_t)(eff_as ? 1 : 2), NULL);
        pthread_mutex_unlock(&s->mu);
    }
    rc_observe(s, k, ns, name, &rr, eff_as && !rr.builtin, &in.obs);
    if (s->observe_interval_ms > 0 &&
        (res->requeue_after_ms == 0 || res->requeue_after_ms > s->observe_interval_ms))
        res->requeue_after_ms = s->observe_interval_ms;
    if (rr.builtin && in.apply_error == NULL) {
        long next = rc_builtin(s, k, cr, ns, name, &rr, dep, &in.scaler);
        if (next > 0 && (res->requeue_after_ms == 0 || res->requeue_after_ms > next))
            res->requeue_after_ms = next;
    } else if (eff_as && in.apply_error == NULL) {
        long next = rc_probe(s, k, ns, name, &rr, dep, &in.obs);
        if (next > 0 && (res->requeue_after_ms == 0 || res->requeue_after_ms > next))
            res->requeue_after_ms = next;
    }
    in.autoscaling = rr.autoscaling;
    in.keda = keda;
    in.builtin = rr.builtin;
    in.dep = dep;
    in.so = so;
    in.rr = &rr;
    {
        char saved[TC_ERR_LEN];
        snprintf(saved, sizeof(saved), "%s", in.apply_error ? in.apply_error : "");
        in.apply_error = in.apply_error ? saved : NULL;
        st = rc_build_status(cr, &in);
        rc = rc_write_status(s, k, cr, st, err);
        json_decref(st);
        if (rc == TC_OK && in.apply_error)
            rc = tc_err_set(err, TC_INVAL, "%s", saved);
    }
out:
    json_decref(dep);
    json_decref(so);
    json_decref(cr);
    render_result_cleanup(&rr);
    return rc;
}

int
reconcile_one(struct reconcile_shared *s, struct kube *k, const char *key,
              struct reconcile_result *res, struct tc_err *err)
{
    char ns[256], name[256];
    const char *slash = strchr(key, '/');
    int attempt, rc = TC_OK;

    res->requeue_after_ms = 0;
    res->requeue_now = 0;
    if (slash == NULL || (size_t)(slash - key) >= sizeof(ns))
        return tc_err_set(err, TC_INVAL, "bad key %s", key);
    snprintf(ns, sizeof(ns), "%.*s", (int)(slash - key), key);
    snprintf(name, sizeof(name), "%s", slash + 1);
    pthread_mutex_lock(&s->mu);
    s->reconciles++;
    pthread_mutex_unlock(&s->mu);
    for (attempt = 0; attempt < RECONCILE_MAX_ATTEMPTS; attempt++) {
        rc = rc_attempt(s, k, ns, name, res, err);
        if (rc != TC_CONFLICT)
            break;
        /* 409: someone else wrote first; refetch the CR and try again. */
        pthread_mutex_lock(&s->mu);
        s->conflicts++;
        pthread_mutex_unlock(&s->mu);
        LOG_INFO("conflict, refetching", KV_S("key", key), KV_I("attempt", attempt + 1),
                 KV_ERR(err));
    }
    if (rc != TC_OK) {
        pthread_mutex_lock(&s->mu);
        s->errors++;
        pthread_mutex_unlock(&s->mu);
    }
    return rc;
}
