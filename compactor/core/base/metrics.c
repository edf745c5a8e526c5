/*
 * metrics.c - Prometheus registry and text exposition (format 0.0.4).
 *
 * One mutex per registry guards every family and series; updates are a hash
 * lookup under it. Families render sorted by name and series by label values,
 * so /metrics output is deterministic.
 */
#include "base/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "base/tc.h"

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

struct series {
    struct series *next;
    uint64_t hash;
    char **values;
    double value; /* counter/gauge; histogram sum */
    uint64_t count;
    uint64_t *bucket; /* per-bucket (non-cumulative) counts, nb entries */
};

struct metric {
    struct metrics *reg;
    enum metric_type type;
    char *name;
    char *help;
    char **labels;
    size_t nlabels;
    double *bounds;
    size_t nb;
    struct series **tab;
    size_t tabsize, nseries;
};

struct metrics {
    pthread_mutex_t mu;
    struct metric **fams;
    size_t n, cap;
};

const double metrics_def_buckets[] = {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};
const size_t metrics_def_buckets_len = TC_ARRAY_LEN(metrics_def_buckets);

static struct metrics *metrics_global;
static pthread_once_t metrics_global_once = PTHREAD_ONCE_INIT;

struct metrics *
metrics_new(void)
{
    struct metrics *r = tc_calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    pthread_mutex_init(&r->mu, NULL);
    return r;
}

static void
series_free(struct metric *m, struct series *s)
{
    size_t i;

    for (i = 0; i < m->nlabels; i++)
        tc_free(s->values[i]);
    tc_free(s->values);
    tc_free(s->bucket);
    tc_free(s);
}

static void
metric_free(struct metric *m)
{
    size_t i;
    struct series *s, *next;

    for (i = 0; i < m->tabsize; i++) {
        for (s = m->tab[i]; s; s = next) {
            next = s->next;
            series_free(m, s);
        }
    }
    for (i = 0; i < m->nlabels; i++)
        tc_free(m->labels[i]);
    tc_free(m->labels);
    tc_free(m->tab);
    tc_free(m->bounds);
    tc_free(m->name);
    tc_free(m->help);
    tc_free(m);
}

void
metrics_free(struct metrics *r)
{
    size_t i;

    if (r == NULL)
        return;
    for (i = 0; i < r->n; i++)
        metric_free(r->fams[i]);
    tc_free(r->fams);
    pthread_mutex_destroy(&r->mu);
    tc_free(r);
}

static void
metrics_global_init(void)
{
    metrics_global = metrics_new();
}

struct metrics *
metrics_default(void)
{
    pthread_once(&metrics_global_once, metrics_global_init);
    return metrics_global;
}

static int
valid_name(const char *s, int colon)
{
    const char *p;

    if (s == NULL || *s == '\0')
        return 0;
    for (p = s; *p; p++) {
        int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
                 (colon && *p == ':') || (p != s && *p >= '0' && *p <= '9');
        if (!ok)
            return 0;
    }
    return 1;
}

/* FNV-1a over the label values, NUL-separated. */
static uint64_t
values_hash(const char *const *values, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    size_t i;
    const char *p;

    for (i = 0; i < n; i++) {
        for (p = values[i]; *p; p++) {
            h ^= (unsigned char)*p;
            h *= 1099511628211ULL;
        }
        h ^= 0xff;
        h *= 1099511628211ULL;
    }
    return h;
}

static struct series *
series_find(struct metric *m, const char *const *values, int create)
{
    uint64_t h = values_hash(values, m->nlabels);
    struct series *s, **ntab;
    size_t i, j;

    if (m->tabsize) {
        for (s = m->tab[h % m->tabsize]; s; s = s->next) {
            if (s->hash != h)
                continue;
            for (i = 0; i < m->nlabels; i++)
                if (strcmp(s->values[i], values[i]) != 0)
                    break;
            if (i == m->nlabels)
                return s;
        }
    }
    if (!create)
        return NULL;
    if (m->nseries + 1 > m->tabsize) {
        size_t nsize = m->tabsize ? m->tabsize * 2 : 16;
        ntab = tc_calloc(nsize, sizeof(*ntab));
        if (ntab == NULL)
            return NULL;
        for (i = 0; i < m->tabsize; i++) {
            struct series *next;
            for (s = m->tab[i]; s; s = next) {
                next = s->next;
                s->next = ntab[s->hash % nsize];
                ntab[s->hash % nsize] = s;
            }
        }
        tc_free(m->tab);
        m->tab = ntab;
        m->tabsize = nsize;
    }
    s = tc_calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->hash = h;
    s->values = tc_calloc(m->nlabels + 1, sizeof(char *));
    if (s->values == NULL)
        goto fail;
    for (j = 0; j < m->nlabels; j++) {
        s->values[j] = tc_strdup(values[j] ? values[j] : "");
        if (s->values[j] == NULL)
            goto fail;
    }
    if (m->type == METRIC_HISTOGRAM) {
        s->bucket = tc_calloc(m->nb + 1, sizeof(uint64_t));
        if (s->bucket == NULL)
            goto fail;
    }
    s->next = m->tab[h % m->tabsize];
    m->tab[h % m->tabsize] = s;
    m->nseries++;
    return s;
fail:
    series_free(m, s);
    return NULL;
}

static struct metric *
metric_register(struct metrics *r, enum metric_type type, const char *name, const char *help,
                const char *const *labels, const double *bounds, size_t nb)
{
    struct metric *m = NULL, **nf;
    size_t i, nl = 0;

    if (r == NULL || !valid_name(name, 1))
        return NULL;
    for (i = 0; labels && labels[i]; i++) {
        if (!valid_name(labels[i], 0) || strncmp(labels[i], "__", 2) == 0 ||
            (type == METRIC_HISTOGRAM && strcmp(labels[i], "le") == 0))
            return NULL;
        nl++;
    }
    for (i = 1; i < nb; i++)
        if (!(bounds[i] > bounds[i - 1]))
            return NULL;
    pthread_mutex_lock(&r->mu);
    for (i = 0; i < r->n; i++) {
        if (strcmp(r->fams[i]->name, name) == 0) {
            m = r->fams[i];
            if (m->type != type || m->nlabels != nl)
                m = NULL;
            goto out;
        }
    }
    m = tc_calloc(1, sizeof(*m));
    if (m == NULL)
        goto out;
    m->reg = r;
    m->type = type;
    m->name = tc_strdup(name);
    m->help = tc_strdup(help ? help : "");
    m->labels = tc_calloc(nl + 1, sizeof(char *));
    m->nlabels = nl;
    if (m->name == NULL || m->help == NULL || m->labels == NULL)
        goto fail;
    for (i = 0; i < nl; i++) {
        m->labels[i] = tc_strdup(labels[i]);
        if (m->labels[i] == NULL)
            goto fail;
    }
    if (type == METRIC_HISTOGRAM) {
        m->bounds = tc_memdup(bounds, nb * sizeof(double));
        m->nb = nb;
        if (nb && m->bounds == NULL)
            goto fail;
    }
    /* client_golang exposes an unlabeled metric from the start, at 0 */
    if (nl == 0 && series_find(m, NULL, 1) == NULL)
        goto fail;
    if (r->n == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 32;
        nf = tc_reallocarray(r->fams, ncap, sizeof(*nf));
        if (nf == NULL)
            goto fail;
        r->fams = nf;
        r->cap = ncap;
    }
    r->fams[r->n++] = m;
    goto out;
fail:
    metric_free(m);
    m = NULL;
out:
    pthread_mutex_unlock(&r->mu);
    return m;
}

struct metric *
metrics_counter(struct metrics *r, const char *name, const char *help, const char *const *labels)
{
    return metric_register(r, METRIC_COUNTER, name, help, labels, NULL, 0);
}

struct metric *
metrics_gauge(struct metrics *r, const char *name, const char *help, const char *const *labels)
{
    return metric_register(r, METRIC_GAUGE, name, help, labels, NULL, 0);
}

struct metric *
metrics_histogram(struct metrics *r, const char *name, const char *help, const char *const *labels,
                  const double *buckets, size_t nbuckets)
{
    return metric_register(r, METRIC_HISTOGRAM, name, help, labels, buckets, nbuckets);
}

void
metrics_add(struct metric *m, const char *const *values, double v)
{
    struct series *s;

    if (m == NULL || m->type == METRIC_HISTOGRAM || (m->type == METRIC_COUNTER && !(v >= 0)))
        return;
    pthread_mutex_lock(&m->reg->mu);
    s = series_find(m, values, 1);
    if (s)
        s->value += v;
    pthread_mutex_unlock(&m->reg->mu);
}

void
metrics_inc(struct metric *m, const char *const *values)
{
    metrics_add(m, values, 1);
}

void
metrics_set(struct metric *m, const char *const *values, double v)
{
    struct series *s;

    if (m == NULL || m->type != METRIC_GAUGE)
        return;
    pthread_mutex_lock(&m->reg->mu);
    s = series_find(m, values, 1);
    if (s)
        s->value = v;
    pthread_mutex_unlock(&m->reg->mu);
}

void
metrics_observe(struct metric *m, const char *const *values, double v)
{
    struct series *s;
    size_t i;

    if (m == NULL || m->type != METRIC_HISTOGRAM)
        return;
    pthread_mutex_lock(&m->reg->mu);
    s = series_find(m, values, 1);
    if (s) {
        for (i = 0; i < m->nb && v > m->bounds[i]; i++)
            ;
        s->bucket[i]++;
        s->count++;
        s->value += v;
    }
    pthread_mutex_unlock(&m->reg->mu);
}

int
metrics_remove(struct metric *m, const char *const *values)
{
    struct series **pp, *s;
    int rc = TC_NOTFOUND;

    if (m == NULL)
        return TC_INVAL;
    pthread_mutex_lock(&m->reg->mu);
    s = series_find(m, values, 0);
    if (s) {
        for (pp = &m->tab[s->hash % m->tabsize]; *pp != s; pp = &(*pp)->next)
            ;
        *pp = s->next;
        series_free(m, s);
        m->nseries--;
        rc = TC_OK;
    }
    pthread_mutex_unlock(&m->reg->mu);
    return rc;
}

size_t
metrics_remove_label(struct metrics *r, const char *label, const char *value)
{
    size_t f, i, li, removed = 0;

    if (r == NULL)
        return 0;
    pthread_mutex_lock(&r->mu);
    for (f = 0; f < r->n; f++) {
        struct metric *m = r->fams[f];

        for (li = 0; li < m->nlabels && strcmp(m->labels[li], label) != 0; li++)
            ;
        if (li == m->nlabels)
            continue;
        for (i = 0; i < m->tabsize; i++) {
            struct series **pp = &m->tab[i];

            while (*pp) {
                struct series *s = *pp;

                if (strcmp(s->values[li], value) == 0) {
                    *pp = s->next;
                    series_free(m, s);
                    m->nseries--;
                    removed++;
                } else {
                    pp = &s->next;
                }
            }
        }
    }
    pthread_mutex_unlock(&r->mu);
    return removed;
}

double
metrics_value(struct metric *m, const char *const *values)
{
    struct series *s;
    double v = 0;

    if (m == NULL)
        return 0;
    pthread_mutex_lock(&m->reg->mu);
    s = series_find(m, values, 0);
    if (s)
        v = m->type == METRIC_HISTOGRAM ? (double)s->count : s->value;
    pthread_mutex_unlock(&m->reg->mu);
    return v;
}

/* Formats like Go's strconv.FormatFloat(v, 'g', -1, 64), which client_golang
 * uses: the shortest digits that round-trip, in %e form only when the
 * decimal exponent is below -4 or at least 6 (20 -> "20", 1e6 -> "1e+06"). */
static void
fmt_float(char *out, size_t n, double v)
{
    char e[40];
    int prec, exp;

    if (isnan(v)) {
        snprintf(out, n, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, n, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == 0) {
        snprintf(out, n, "0");
        return;
    }
    for (prec = 1; prec < 17; prec++) {
        snprintf(e, sizeof(e), "%.*e", prec - 1, v);
        if (strtod(e, NULL) == v)
            break;
    }
    snprintf(e, sizeof(e), "%.*e", prec - 1, v);
    exp = (int)strtol(strchr(e, 'e') + 1, NULL, 10);
    if (exp < -4 || exp >= 6)
        snprintf(out, n, "%s", e);
    else
        snprintf(out, n, "%.*f", prec - 1 - exp > 0 ? prec - 1 - exp : 0, v);
}

static int
put_escaped(struct buf *out, const char *s, int quote)
{
    int rc = TC_OK;

    for (; *s && rc == TC_OK; s++) {
        if (*s == '\\')
            rc = buf_puts(out, "\\\\");
        else if (*s == '\n')
            rc = buf_puts(out, "\\n");
        else if (quote && *s == '"')
            rc = buf_puts(out, "\\\"");
        else
            rc = buf_putc(out, *s);
    }
    return rc;
}

/* name{l1="v1",...,extra} value */
static int
put_sample(struct buf *out, const struct metric *m, const struct series *s, const char *suffix,
           const char *extra_k, const char *extra_v, double v)
{
    char num[64];
    size_t i;
    int rc, first = 1;

    rc = buf_printf(out, "%s%s", m->name, suffix);
    if (m->nlabels || extra_k) {
        rc = rc ? rc : buf_putc(out, '{');
        for (i = 0; i < m->nlabels && rc == TC_OK; i++) {
            rc = buf_printf(out, "%s%s=\"", first ? "" : ",", m->labels[i]);
            rc = rc ? rc : put_escaped(out, s->values[i], 1);
            rc = rc ? rc : buf_putc(out, '"');
            first = 0;
        }
        if (extra_k && rc == TC_OK)
            rc = buf_printf(out, "%s%s=\"%s\"", first ? "" : ",", extra_k, extra_v);
        rc = rc ? rc : buf_putc(out, '}');
    }
    fmt_float(num, sizeof(num), v);
    return rc ? rc : buf_printf(out, " %s\n", num);
}

static int
cmp_metric(const void *a, const void *b)
{
    return strcmp((*(struct metric *const *)a)->name, (*(struct metric *const *)b)->name);
}

static size_t cmp_nlabels;

static int
cmp_series(const void *a, const void *b)
{
    const struct series *x = *(struct series *const *)a, *y = *(struct series *const *)b;
    size_t i;
    int c;

    for (i = 0; i < cmp_nlabels; i++) {
        c = strcmp(x->values[i], y->values[i]);
        if (c)
            return c;
    }
    return 0;
}

static int
render_family(struct buf *out, const struct metric *m)
{
    static const char *const tnames[] = {"counter", "gauge", "histogram"};
    struct series **all, *s;
    char le[64];
    size_t i, j, k = 0;
    uint64_t cum;
    int rc;

    if (m->nseries == 0)
        return TC_OK;
    all = tc_calloc(m->nseries, sizeof(*all));
    if (all == NULL)
        return TC_NOMEM;
    for (i = 0; i < m->tabsize; i++)
        for (s = m->tab[i]; s; s = s->next)
            all[k++] = s;
    cmp_nlabels = m->nlabels; /* called under the registry mutex */
    qsort(all, k, sizeof(*all), cmp_series);
    rc = buf_printf(out, "# HELP %s ", m->name);
    rc = rc ? rc : put_escaped(out, m->help, 0);
    rc = rc ? rc : buf_printf(out, "\n# TYPE %s %s\n", m->name, tnames[m->type]);
    for (i = 0; i < k && rc == TC_OK; i++) {
        s = all[i];
        if (m->type != METRIC_HISTOGRAM) {
            rc = put_sample(out, m, s, "", NULL, NULL, s->value);
            continue;
        }
        cum = 0;
        for (j = 0; j <= m->nb && rc == TC_OK; j++) {
            cum += s->bucket[j];
            if (j < m->nb)
                fmt_float(le, sizeof(le), m->bounds[j]);
            else
                snprintf(le, sizeof(le), "+Inf");
            rc = put_sample(out, m, s, "_bucket", "le", le, (double)cum);
        }
        rc = rc ? rc : put_sample(out, m, s, "_sum", NULL, NULL, s->value);
        rc = rc ? rc : put_sample(out, m, s, "_count", NULL, NULL, (double)s->count);
    }
    tc_free(all);
    return rc;
}

int
metrics_render(struct metrics *r, struct buf *out)
{
    struct metric **sorted;
    size_t i;
    int rc = TC_OK;

    pthread_mutex_lock(&r->mu);
    sorted = tc_memdup(r->fams, r->n * sizeof(*sorted));
    if (r->n && sorted == NULL) {
        pthread_mutex_unlock(&r->mu);
        return TC_NOMEM;
    }
    qsort(sorted, r->n, sizeof(*sorted), cmp_metric);
    for (i = 0; i < r->n && rc == TC_OK; i++)
        rc = render_family(out, sorted[i]);
    pthread_mutex_unlock(&r->mu);
    tc_free(sorted);
    return rc;
}
