/* daemon_overrides.c - per-tenant overrides table, swapped whole on reload. */
#include "daemon_overrides.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/cfg.h"
#include "base/log.h"
#include "base/mem.h"

#define OVERRIDES_FILE_MAX ((size_t)16 << 20)

struct tenant_ovr {
    char *tenant;
    struct overrides_tenant v;
    int has_retention, has_window, has_disabled;
};

struct overrides {
    pthread_mutex_t mu;
    struct overrides_tenant defaults;
    char *path;
    time_t mtime;
    struct tenant_ovr *t;
    size_t n;
};

struct overrides *
overrides_new(const struct overrides_tenant *defaults, const char *path)
{
    struct overrides *o = tc_calloc(1, sizeof(*o));

    if (o == NULL)
        return NULL;
    pthread_mutex_init(&o->mu, NULL);
    o->defaults = *defaults;
    if (path && *path) {
        o->path = tc_strdup(path);
        if (o->path == NULL) {
            overrides_free(o);
            return NULL;
        }
    }
    return o;
}

static void
table_free(struct tenant_ovr *t, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        tc_free(t[i].tenant);
    tc_free(t);
}

/* Reads one duration value (a Go duration string or a number of seconds). */
static int
get_duration(json_t *v, const char *what, const char *tenant, int64_t *ms, struct tc_err *err)
{
    if (json_is_string(v) && cfg_parse_duration(json_string_value(v), ms) == TC_OK)
        return TC_OK;
    if (json_is_integer(v) && json_integer_value(v) == 0) {
        *ms = 0;
        return TC_OK;
    }
    return tc_err_set(err, TC_INVAL, "overrides.%s.%s: invalid duration", tenant, what);
}

static int
parse_tenant(const char *tenant, json_t *obj, struct tenant_ovr *out, struct tc_err *err)
{
    json_t *c = json_object_get(obj, "compaction"), *src = c ? c : obj, *v;
    int rc;

    if (!json_is_object(obj) || (c && !json_is_object(c)))
        return tc_err_set(err, TC_INVAL, "overrides.%s: expected a mapping", tenant);
    if ((v = json_object_get(src, "block_retention")) != NULL) {
        rc = get_duration(v, "block_retention", tenant, &out->v.block_retention_ms, err);
        if (rc != TC_OK)
            return rc;
        out->has_retention = 1;
    }
    if ((v = json_object_get(src, "compaction_window")) != NULL) {
        rc = get_duration(v, "compaction_window", tenant, &out->v.compaction_window_ms, err);
        if (rc != TC_OK)
            return rc;
        out->has_window = 1;
    }
    if ((v = json_object_get(src, "compaction_disabled")) != NULL) {
        if (!json_is_boolean(v))
            return tc_err_set(err, TC_INVAL, "overrides.%s.compaction_disabled: not a boolean",
                              tenant);
        out->v.compaction_disabled = json_is_true(v);
        out->has_disabled = 1;
    }
    return TC_OK;
}

int
overrides_load_text(struct overrides *o, const char *yaml, size_t len, const char *name,
                    struct tc_err *err)
{
    json_t *root = NULL, *ovr, *v;
    struct tenant_ovr *t = NULL, *old;
    size_t n = 0, nold;
    const char *tenant;
    int rc;

    rc = cfg_yaml_to_json(yaml, len, name, &root, err);
    if (rc != TC_OK)
        return rc;
    ovr = json_is_object(root) ? json_object_get(root, "overrides") : NULL;
    if (ovr && !json_is_null(ovr) && !json_is_object(ovr)) {
        json_decref(root);
        return tc_err_set(err, TC_INVAL, "%s: overrides must be a mapping of tenants", name);
    }
    if (ovr && json_object_size(ovr)) {
        t = tc_calloc(json_object_size(ovr), sizeof(*t));
        if (t == NULL) {
            json_decref(root);
            return tc_err_set(err, TC_NOMEM, "%s: out of memory", name);
        }
    }
    json_object_foreach(ovr, tenant, v)
    {
        t[n].tenant = tc_strdup(tenant);
        if (t[n].tenant == NULL) {
            rc = tc_err_set(err, TC_NOMEM, "%s: out of memory", name);
            break;
        }
        rc = parse_tenant(tenant, v, &t[n], err);
        n++;
        if (rc != TC_OK) {
            tc_err_prefix(err, "%s", name);
            break;
        }
    }
    json_decref(root);
    if (rc != TC_OK) {
        table_free(t, n);
        return rc;
    }
    pthread_mutex_lock(&o->mu);
    old = o->t;
    nold = o->n;
    o->t = t;
    o->n = n;
    pthread_mutex_unlock(&o->mu);
    table_free(old, nold);
    return TC_OK;
}

int
overrides_reload(struct overrides *o, struct tc_err *err)
{
    struct stat st;
    struct buf b;
    int rc;

    if (o->path == NULL)
        return TC_OK;
    if (stat(o->path, &st) != 0)
        return tc_err_set(err, TC_NOTFOUND, "overrides file %s: cannot stat", o->path);
    if (st.st_mtime == o->mtime)
        return TC_OK;
    buf_init(&b, OVERRIDES_FILE_MAX);
    if ((rc = buf_read_file(&b, o->path, err)) != TC_OK) {
        buf_cleanup(&b);
        return tc_err_prefix(err, "overrides file");
    }
    rc = overrides_load_text(o, b.data ? b.data : "", b.len, o->path, err);
    buf_cleanup(&b);
    if (rc == TC_OK) {
        o->mtime = st.st_mtime;
        LOG_INFO("loaded per-tenant overrides", KV_S("file", o->path), KV_U("tenants", o->n));
    }
    return rc;
}

void
overrides_get(struct overrides *o, const char *tenant, struct overrides_tenant *out)
{
    size_t i;

    pthread_mutex_lock(&o->mu);
    *out = o->defaults;
    for (i = 0; i < o->n; i++) {
        if (strcmp(o->t[i].tenant, tenant) != 0)
            continue;
        if (o->t[i].has_retention)
            out->block_retention_ms = o->t[i].v.block_retention_ms;
        if (o->t[i].has_window)
            out->compaction_window_ms = o->t[i].v.compaction_window_ms;
        if (o->t[i].has_disabled)
            out->compaction_disabled = o->t[i].v.compaction_disabled;
        break;
    }
    pthread_mutex_unlock(&o->mu);
}

void
overrides_free(struct overrides *o)
{
    if (o == NULL)
        return;
    table_free(o->t, o->n);
    tc_free(o->path);
    pthread_mutex_destroy(&o->mu);
    tc_free(o);
}
