/* hpa.c - see hpa.h */
#include "hpa.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#include "base/mem.h"

/* Recommendations are kept for the longest window; one step per polling
 * interval (>= 1 s) fits HPA_MAX_WINDOW_S of them with room. Scale events
 * likewise for the longest policy period. */
#define HPA_MAX_RECS 4096
#define HPA_MAX_EVENTS 2048

struct hpa_sample {
    int64_t at_ms;
    int n; /* a recommendation, or a replica change (> 0) */
};

struct hpa_state {
    struct hpa_sample recs[HPA_MAX_RECS];
    int nrecs;
    struct hpa_sample ups[HPA_MAX_EVENTS], downs[HPA_MAX_EVENTS];
    int nups, ndowns;
    int64_t last_active_ms; /* -1: never seen */
    int64_t seed_ms;        /* hpa_seed(): a scale-down floor until the window passes */
    int seed_n, seeded;
};

static void
hpa_rules_default(struct hpa_rules *r, int up)
{
    memset(r, 0, sizeof(*r));
    r->select = HPA_SELECT_MAX;
    r->window_s = up ? 0 : 300;
    r->policies[r->npolicies++] = (struct hpa_policy){HPA_PERCENT, 100, 15};
    if (up)
        r->policies[r->npolicies++] = (struct hpa_policy){HPA_PODS, 4, 15};
}

void
hpa_spec_init(struct hpa_spec *s)
{
    memset(s, 0, sizeof(*s));
    s->min = 1;
    s->max = 100;
    s->target = 1;
    s->per_pod = 1;
    s->tolerance = HPA_TOLERANCE;
    s->cooldown_s = 300;
    hpa_rules_default(&s->up, 1);
    hpa_rules_default(&s->down, 0);
}

/* An integer field in [lo, hi]; absent leaves *out. */
static int
hpa_int(const json_t *o, const char *k, const char *path, int lo, int hi, int *out,
        struct tc_err *err)
{
    const json_t *v = json_object_get(o, k);

    if (v == NULL)
        return TC_OK;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return tc_err_set(err, TC_INVAL, "%s.%s: must be an integer from %d to %d", path, k, lo,
                          hi);
    *out = (int)json_integer_value(v);
    return TC_OK;
}

static int
hpa_known(const json_t *o, const char *path, const char *const *keys, struct tc_err *err)
{
    const char *k;
    json_t *v;
    size_t i;

    json_object_foreach((json_t *)o, k, v)
    {
        for (i = 0; keys[i] && strcmp(keys[i], k) != 0; i++)
            ;
        if (keys[i] == NULL)
            return tc_err_set(err, TC_INVAL, "%s.%s: unknown field", path, k);
    }
    return TC_OK;
}

static int
hpa_rules_parse(const json_t *o, const char *path, struct hpa_rules *r, struct tc_err *err)
{
    static const char *const keys[] = {"stabilizationWindowSeconds", "selectPolicy", "policies",
                                       NULL};
    static const char *const pkeys[] = {"type", "value", "periodSeconds", NULL};
    const json_t *sel = json_object_get(o, "selectPolicy"), *pol = json_object_get(o, "policies");
    char ppath[256];
    size_t i;
    int rc;

    if (!json_is_object(o))
        return tc_err_set(err, TC_INVAL, "%s: must be an object", path);
    if ((rc = hpa_known(o, path, keys, err)) != TC_OK)
        return rc;
    if ((rc = hpa_int(o, "stabilizationWindowSeconds", path, 0, HPA_MAX_WINDOW_S, &r->window_s,
                      err)) != TC_OK)
        return rc;
    if (sel != NULL) {
        const char *v = json_string_value(sel);
        if (v && strcmp(v, "Max") == 0)
            r->select = HPA_SELECT_MAX;
        else if (v && strcmp(v, "Min") == 0)
            r->select = HPA_SELECT_MIN;
        else if (v && strcmp(v, "Disabled") == 0)
            r->select = HPA_SELECT_DISABLED;
        else
            return tc_err_set(err, TC_INVAL, "%s.selectPolicy: must be Max, Min or Disabled", path);
    }
    if (pol == NULL)
        return TC_OK;
    if (!json_is_array(pol) || json_array_size(pol) == 0 || json_array_size(pol) > HPA_MAX_POLICIES)
        return tc_err_set(err, TC_INVAL, "%s.policies: must be a list of 1 to %d policies", path,
                          HPA_MAX_POLICIES);
    r->npolicies = 0;
    for (i = 0; i < json_array_size(pol); i++) {
        const json_t *p = json_array_get(pol, i);
        struct hpa_policy *hp = &r->policies[r->npolicies++];
        const char *t = json_string_value(json_object_get(p, "type"));
        snprintf(ppath, sizeof(ppath), "%s.policies[%zu]", path, i);
        if (!json_is_object(p))
            return tc_err_set(err, TC_INVAL, "%s: must be an object", ppath);
        if ((rc = hpa_known(p, ppath, pkeys, err)) != TC_OK)
            return rc;
        if (t && strcmp(t, "Pods") == 0)
            hp->type = HPA_PODS;
        else if (t && strcmp(t, "Percent") == 0)
            hp->type = HPA_PERCENT;
        else
            return tc_err_set(err, TC_INVAL, "%s.type: must be Pods or Percent", ppath);
        if (!json_object_get(p, "value") || !json_object_get(p, "periodSeconds"))
            return tc_err_set(err, TC_INVAL, "%s.%s: required field is missing", ppath,
                              json_object_get(p, "value") ? "periodSeconds" : "value");
        if ((rc = hpa_int(p, "value", ppath, 1, INT_MAX, &hp->value, err)) != TC_OK ||
            (rc = hpa_int(p, "periodSeconds", ppath, 1, HPA_MAX_PERIOD_S, &hp->period_s, err)) !=
                TC_OK)
            return rc;
    }
    return TC_OK;
}

int
hpa_behavior_parse(const json_t *b, const char *path, struct hpa_spec *s, struct tc_err *err)
{
    static const char *const keys[] = {"scaleUp", "scaleDown", NULL};
    char p[256];
    int rc;

    if (b == NULL)
        return TC_OK;
    if (!json_is_object(b))
        return tc_err_set(err, TC_INVAL, "%s: must be an object", path);
    if ((rc = hpa_known(b, path, keys, err)) != TC_OK)
        return rc;
    if (json_object_get(b, "scaleUp")) {
        snprintf(p, sizeof(p), "%s.scaleUp", path);
        if ((rc = hpa_rules_parse(json_object_get(b, "scaleUp"), p, &s->up, err)) != TC_OK)
            return rc;
    }
    if (json_object_get(b, "scaleDown")) {
        snprintf(p, sizeof(p), "%s.scaleDown", path);
        if ((rc = hpa_rules_parse(json_object_get(b, "scaleDown"), p, &s->down, err)) != TC_OK)
            return rc;
    }
    return TC_OK;
}

struct hpa_state *
hpa_state_new(void)
{
    struct hpa_state *st = tc_calloc(1, sizeof(*st));

    if (st)
        st->last_active_ms = -1;
    return st;
}

void
hpa_state_free(struct hpa_state *st)
{
    tc_free(st);
}

/* Appends to a capped sample list, replacing one older than keep_ms (or
 * the oldest when full). */
static void
hpa_push(struct hpa_sample *v, int *n, int cap, int64_t now_ms, int64_t keep_ms, int val)
{
    int i, oldest = 0;

    for (i = 0; i < *n; i++) {
        if (now_ms - v[i].at_ms > keep_ms) {
            v[i] = (struct hpa_sample){now_ms, val};
            return;
        }
        if (v[i].at_ms < v[oldest].at_ms)
            oldest = i;
    }
    if (*n < cap)
        v[(*n)++] = (struct hpa_sample){now_ms, val};
    else
        v[oldest] = (struct hpa_sample){now_ms, val};
}

void
hpa_seed(struct hpa_state *st, int64_t now_ms, int replicas)
{
    st->seed_ms = now_ms;
    st->seed_n = replicas;
    st->seeded = 1;
}

void
hpa_record_scale(struct hpa_state *st, int64_t now_ms, int from, int to)
{
    if (to > from)
        hpa_push(st->ups, &st->nups, HPA_MAX_EVENTS, now_ms, HPA_MAX_PERIOD_S * 1000LL, to - from);
    else if (to < from)
        hpa_push(st->downs, &st->ndowns, HPA_MAX_EVENTS, now_ms, HPA_MAX_PERIOD_S * 1000LL,
                 from - to);
}

/* Replicas changed within the last period_s seconds. */
static long long
hpa_changed(const struct hpa_sample *v, int n, int64_t now_ms, int period_s)
{
    long long sum = 0;
    int i;

    for (i = 0; i < n; i++)
        if (v[i].at_ms > now_ms - period_s * 1000LL)
            sum += v[i].n;
    return sum;
}

/* The most (up) or the fewest (down) replicas the policies allow now. */
static long long
hpa_limit(const struct hpa_rules *r, const struct hpa_state *st, int64_t now_ms, int current,
          int up)
{
    long long best = 0;
    int i, have = 0;

    if (r->select == HPA_SELECT_DISABLED)
        return current;
    for (i = 0; i < r->npolicies; i++) {
        const struct hpa_policy *p = &r->policies[i];
        long long start = (long long)current - hpa_changed(st->ups, st->nups, now_ms, p->period_s) +
                          hpa_changed(st->downs, st->ndowns, now_ms, p->period_s);
        long long v;
        if (up)
            v = p->type == HPA_PODS ? start + p->value
                                    : (long long)ceil((double)start * (1 + p->value / 100.0));
        else
            v = p->type == HPA_PODS ? start - p->value
                                    : (long long)floor((double)start * (1 - p->value / 100.0));
        /* Max picks the biggest change: the highest limit up, the lowest down. */
        if (!have || ((r->select == HPA_SELECT_MAX) == (up != 0) ? v > best : v < best))
            best = v;
        have = 1;
    }
    return have ? best : current;
}

static int
hpa_metric(const struct hpa_spec *s, int current, int ready, double value)
{
    double ratio, want;

    if (s->per_pod) {
        ratio = value / (s->target * current);
        want = value / s->target;
    } else {
        ratio = value / s->target;
        want = ratio * ready;
    }
    if (fabs(1.0 - ratio) <= s->tolerance)
        return current;
    if (want > (double)INT_MAX)
        return INT_MAX;
    return (int)ceil(want);
}

void
hpa_step(const struct hpa_spec *s, struct hpa_state *st, int64_t now_ms, int current, int ready,
         double value, struct hpa_decision *out)
{
    int hmin = s->min > 1 ? s->min : 1, want, rec_up, rec_down, rec, i;
    long long lim;

    memset(out, 0, sizeof(*out));
    out->active = value > s->activation;
    if (out->active || st->last_active_ms < 0)
        st->last_active_ms = now_ms;
    out->metric_desired = current;
    /* KEDA's activation phase: 0 <-> 1 is KEDA's, 1 <-> N the HPA's. */
    if (s->min == 0) {
        if (current == 0) {
            out->desired = out->active ? hmin : 0;
            out->reason = out->active ? "ScaleFromZero" : "Inactive";
            out->metric_desired = out->desired;
            return;
        }
        if (!out->active && now_ms - st->last_active_ms >= s->cooldown_s * 1000LL) {
            out->desired = 0;
            out->metric_desired = 0;
            out->reason = "ScaleToZero";
            return;
        }
    } else if (current == 0) {
        out->desired = hmin;
        out->metric_desired = hmin;
        out->reason = "BelowMinReplicas";
        return;
    }
    if (current > s->max) {
        out->desired = out->metric_desired = s->max;
        out->reason = "AboveMaxReplicas";
        return;
    }
    if (current < hmin) {
        out->desired = out->metric_desired = hmin;
        out->reason = "BelowMinReplicas";
        return;
    }
    want = hpa_metric(s, current, ready, value);
    out->metric_desired = want;
    /* Stabilization over the recorded recommendations (and this one). */
    rec_up = rec_down = want;
    for (i = 0; i < st->nrecs; i++) {
        if (st->recs[i].at_ms > now_ms - s->up.window_s * 1000LL && st->recs[i].n < rec_up)
            rec_up = st->recs[i].n;
        if (st->recs[i].at_ms > now_ms - s->down.window_s * 1000LL && st->recs[i].n > rec_down)
            rec_down = st->recs[i].n;
    }
    if (st->seeded && st->seed_ms > now_ms - s->down.window_s * 1000LL && st->seed_n > rec_down)
        rec_down = st->seed_n;
    hpa_push(st->recs, &st->nrecs, HPA_MAX_RECS, now_ms,
             (s->up.window_s > s->down.window_s ? s->up.window_s : s->down.window_s) * 1000LL,
             want);
    rec = current;
    if (rec < rec_up)
        rec = rec_up;
    if (rec > rec_down)
        rec = rec_down;
    out->reason = rec == current && want != current ? "Stabilized" : "DesiredWithinRange";
    /* Rate limits of the behavior's policies, then min/max. */
    if (rec > current) {
        lim = hpa_limit(&s->up, st, now_ms, current, 1);
        if (lim < current)
            lim = current;
        if (lim >= s->max)
            lim = s->max;
        if (rec > lim) {
            rec = (int)lim;
            out->reason = lim == s->max ? "TooManyReplicas" : "ScaleUpLimit";
        }
    } else if (rec < current) {
        lim = hpa_limit(&s->down, st, now_ms, current, 0);
        if (lim > current)
            lim = current;
        if (lim <= hmin)
            lim = hmin;
        if (rec < lim) {
            rec = (int)lim;
            out->reason = lim == hmin ? "TooFewReplicas" : "ScaleDownLimit";
        }
    }
    out->desired = rec;
}
