/* render.c - TempoCompactor -> child manifests, validation with field paths. */
#include "render.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/buf.h"
#include "daemon_config.h"
#include "hpa.h"
#include "base/mem.h"
#include "yamljson.h"

const struct render_kind_info render_kinds[RENDER__NKINDS] = {
    [RENDER_CONFIGMAP] = {"v1", "ConfigMap", "/api/v1", "configmaps"},
    [RENDER_SERVICE] = {"v1", "Service", "/api/v1", "services"},
    [RENDER_DEPLOYMENT] = {"apps/v1", "Deployment", "/apis/apps/v1", "deployments"},
    [RENDER_PDB] = {"policy/v1", "PodDisruptionBudget", "/apis/policy/v1", "poddisruptionbudgets"},
    [RENDER_TRIGGERAUTH] = {"keda.sh/v1alpha1", "TriggerAuthentication", "/apis/keda.sh/v1alpha1",
                            "triggerauthentications"},
    [RENDER_SCALEDOBJECT] = {"keda.sh/v1alpha1", "ScaledObject", "/apis/keda.sh/v1alpha1",
                             "scaledobjects"},
};

/* Longest CR name whose "tempo-<name>-compactor" Service name stays a
 * 63-character DNS label. */
#define RENDER_MAX_NAME 47
#define RENDER_MAX_HEADERS 16
#define RENDER_MAX_HEADER_VALUE 512

void
render_child_name(enum render_kind k, const char *crname, char *out, size_t outsz)
{
    snprintf(out, outsz, "tempo-%s-compactor%s", crname, k == RENDER_CONFIGMAP ? "-config" : "");
}

static const char *
r_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    default:
        return "null";
    }
}

/* r_known() rejects fields outside allowed (NULL-terminated): a typo in a
 * CR must not silently fall back to a default. */
static int
r_known(const json_t *obj, const char *path, const char *const *allowed, struct tc_err *err)
{
    const char *k;
    json_t *v;

    json_object_foreach((json_t *)obj, k, v)
    {
        const char *const *a;
        int ok = 0;
        for (a = allowed; *a; a++)
            if (strcmp(*a, k) == 0)
                ok = 1;
        if (!ok)
            return tc_err_set(err, TC_INVAL, "%s.%s: unknown field", path, k);
    }
    return TC_OK;
}

/* Absent and null both mean "not set". */
static const json_t *
r_get(const json_t *obj, const char *key)
{
    const json_t *v = obj ? json_object_get(obj, key) : NULL;
    return v && !json_is_null(v) ? v : NULL;
}

static int
r_obj(const json_t *obj, const char *key, const char *path, int required, const json_t **out,
      struct tc_err *err)
{
    const json_t *v = r_get(obj, key);

    *out = NULL;
    if (v == NULL)
        return required ? tc_err_set(err, TC_INVAL, "%s.%s: required field is missing", path, key)
                        : TC_OK;
    if (!json_is_object(v))
        return tc_err_set(err, TC_INVAL, "%s.%s: must be an object, got %s", path, key,
                          r_type_name(v));
    *out = v;
    return TC_OK;
}

static int
r_str(const json_t *obj, const char *key, const char *path, const char *def, int required,
      const char **out, struct tc_err *err)
{
    const json_t *v = r_get(obj, key);

    *out = def;
    if (v == NULL)
        return required ? tc_err_set(err, TC_INVAL, "%s.%s: required field is missing", path, key)
                        : TC_OK;
    if (!json_is_string(v))
        return tc_err_set(err, TC_INVAL, "%s.%s: must be a string, got %s", path, key,
                          r_type_name(v));
    if (strlen(json_string_value(v)) != json_string_length(v))
        return tc_err_set(err, TC_INVAL, "%s.%s: contains a NUL byte", path, key);
    *out = json_string_value(v);
    return TC_OK;
}

static int
r_int(const json_t *obj, const char *key, const char *path, json_int_t def, json_int_t min,
      json_int_t max, json_int_t *out, int *set, struct tc_err *err)
{
    const json_t *v = r_get(obj, key);

    *out = def;
    if (set)
        *set = 0;
    if (v == NULL)
        return TC_OK;
    if (!json_is_integer(v))
        return tc_err_set(err, TC_INVAL, "%s.%s: must be an integer, got %s", path, key,
                          r_type_name(v));
    if (json_integer_value(v) < min || json_integer_value(v) > max)
        return tc_err_set(err, TC_INVAL,
                          "%s.%s: %" JSON_INTEGER_FORMAT " is out of range [%" JSON_INTEGER_FORMAT
                          ", %" JSON_INTEGER_FORMAT "]",
                          path, key, json_integer_value(v), min, max);
    *out = json_integer_value(v);
    if (set)
        *set = 1;
    return TC_OK;
}

static int
r_bool(const json_t *obj, const char *key, const char *path, int def, int *out, int *set,
       struct tc_err *err)
{
    const json_t *v = r_get(obj, key);

    *out = def;
    if (set)
        *set = 0;
    if (v == NULL)
        return TC_OK;
    if (!json_is_boolean(v))
        return tc_err_set(err, TC_INVAL, "%s.%s: must be a boolean, got %s", path, key,
                          r_type_name(v));
    *out = json_is_true(v);
    if (set)
        *set = 1;
    return TC_OK;
}

static int
r_enum(const char *v, const char *path, const char *key, const char *const *vals,
       struct tc_err *err)
{
    const char *const *a;
    char list[256] = "";

    for (a = vals; *a; a++) {
        if (strcmp(*a, v) == 0)
            return TC_OK;
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", a == vals ? "" : ", ",
                 *a);
    }
    return tc_err_set(err, TC_INVAL, "%s.%s: \"%s\" is not one of [%s]", path, key, v, list);
}

/* Go time.ParseDuration syntax (what Tempo's YAML accepts). Returns seconds
 * in *secs, -1 on a syntax error. */
static int
r_parse_duration(const char *s, double *secs)
{
    static const struct {
        const char *u;
        double mul;
    } units[] = {{"ns", 1e-9}, {"us", 1e-6}, {"\xc2\xb5s", 1e-6}, {"ms", 1e-3},
                 {"s", 1},     {"m", 60},    {"h", 3600}};
    double total = 0;
    const char *p = s;

    if (strcmp(s, "0") == 0) {
        *secs = 0;
        return 0;
    }
    if (*p == '\0')
        return -1;
    while (*p) {
        char *end;
        double v;
        size_t i, best = 0;
        int found = -1;

        if (*p < '0' || *p > '9')
            return -1;
        v = strtod(p, &end);
        if (end == p)
            return -1;
        p = end;
        for (i = 0; i < TC_ARRAY_LEN(units); i++) {
            size_t n = strlen(units[i].u);
            if (strncmp(p, units[i].u, n) == 0 && n > best) {
                best = n;
                found = (int)i;
            }
        }
        if (found < 0)
            return -1;
        total += v * units[found].mul;
        p += best;
    }
    *secs = total;
    return 0;
}

static int
r_dur(const json_t *obj, const char *key, const char *path, const char *def, const char **out,
      double *secs, struct tc_err *err)
{
    double d = 0;
    int rc = r_str(obj, key, path, def, 0, out, err);

    if (rc != TC_OK)
        return rc;
    if (*out == NULL)
        return TC_OK;
    if (r_parse_duration(*out, &d) != 0)
        return tc_err_set(err, TC_INVAL,
                          "%s.%s: \"%s\" is not a duration (Go syntax such as 90s, 5m, 48h)", path,
                          key, *out);
    if (secs)
        *secs = d;
    return TC_OK;
}

/* Metadata values of KEDA's Prometheus scaler are strings parsed as float. */
static int
r_numeric_str(const json_t *obj, const char *key, const char *path, int required, const char **out,
              struct tc_err *err)
{
    const json_t *v = r_get(obj, key);

    *out = NULL;
    if (v == NULL)
        return required ? tc_err_set(err, TC_INVAL, "%s.%s: required field is missing", path, key)
                        : TC_OK;
    if (json_is_number(v))
        return tc_err_set(err, TC_INVAL,
                          "%s.%s: must be a numeric string such as \"250\" (quote it); KEDA "
                          "trigger metadata is a map of strings",
                          path, key);
    if (!json_is_string(v))
        return tc_err_set(err, TC_INVAL, "%s.%s: must be a numeric string, got %s", path, key,
                          r_type_name(v));
    if (!yamljson_match(json_string_value(v), "^[0-9]+(\\.[0-9]+)?$"))
        return tc_err_set(err, TC_INVAL,
                          "%s.%s: \"%s\" is not a non-negative decimal number such as \"250\" or "
                          "\"0.5\"",
                          path, key, json_string_value(v));
    *out = json_string_value(v);
    return TC_OK;
}

/* KEDA parses customHeaders/queryParameters as "k=v,k=v": split on ',',
 * then on '=', trimming spaces. Anything that would not come back intact
 * from that parse is rejected here rather than silently changed. */
static int
r_keda_map(const json_t *obj, const char *key, const char *path, const char *keyre,
           const char *keydesc, const json_t **out, struct tc_err *err)
{
    const json_t *m;
    const char *k;
    json_t *v;
    int rc = r_obj(obj, key, path, 0, &m, err);

    *out = NULL;
    if (rc != TC_OK || m == NULL)
        return rc;
    if (json_object_size(m) > RENDER_MAX_HEADERS)
        return tc_err_set(err, TC_INVAL, "%s.%s: at most %d entries, got %zu", path, key,
                          RENDER_MAX_HEADERS, json_object_size(m));
    json_object_foreach((json_t *)m, k, v)
    {
        const char *s, *p;
        size_t n;

        if (!yamljson_match(k, keyre))
            return tc_err_set(err, TC_INVAL, "%s.%s: key \"%s\" must match %s", path, key, k,
                              keydesc);
        if (!json_is_string(v))
            return tc_err_set(err, TC_INVAL, "%s.%s.%s: must be a string, got %s", path, key, k,
                              r_type_name(v));
        s = json_string_value(v);
        n = json_string_length(v);
        if (n > RENDER_MAX_HEADER_VALUE)
            return tc_err_set(err, TC_INVAL, "%s.%s.%s: longer than %d bytes", path, key, k,
                              RENDER_MAX_HEADER_VALUE);
        if ((p = strpbrk(s, ",=")) != NULL)
            return tc_err_set(err, TC_INVAL,
                              "%s.%s.%s: value must not contain '%c' (KEDA splits %s on ',' and "
                              "'='); put secret or complex values in authSecretRef",
                              path, key, k, *p, key);
        for (p = s; p < s + n; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                return tc_err_set(err, TC_INVAL, "%s.%s.%s: value contains a control character",
                                  path, key, k);
        if (n > 0 && (s[0] == ' ' || s[n - 1] == ' '))
            return tc_err_set(err, TC_INVAL,
                              "%s.%s.%s: value has leading or trailing spaces, which KEDA trims",
                              path, key, k);
    }
    *out = m;
    return TC_OK;
}

static int
r_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

char *
render_keda_map(const json_t *map)
{
    size_t n = json_object_size(map), i = 0;
    const char **keys;
    const char *k;
    json_t *v;
    struct buf b;

    keys = tc_calloc(n ? n : 1, sizeof(*keys));
    if (keys == NULL)
        return NULL;
    json_object_foreach((json_t *)map, k, v) keys[i++] = k;
    qsort(keys, n, sizeof(*keys), r_cmp_str);
    buf_init(&b, 64 << 10);
    for (i = 0; i < n; i++)
        if (buf_printf(&b, "%s%s=%s", i ? "," : "", keys[i],
                       json_string_value(json_object_get(map, keys[i]))) != TC_OK)
            break;
    tc_free(keys);
    if (i < n) {
        buf_cleanup(&b);
        return NULL;
    }
    if (b.data == NULL)
        return tc_strdup("");
    return buf_take(&b, NULL);
}

/* A credential written into spec.extraConfig would sit in plain text in the
 * CR and in the rendered ConfigMap. Every key the daemon masks (CFG_SECRET)
 * must come from a Secret: spec.storage.credentialsSecretRef, or an
 * environment reference ${VAR} that the pod's env fills. path is the dotted
 * prefix of obj ("" at the top). */
static int
r_no_secrets(const json_t *obj, const char *path, struct tc_err *err)
{
    const char *k;
    json_t *v;

    json_object_foreach((json_t *)obj, k, v)
    {
        char full[512];
        const struct cfg_key *key;
        const char *sv;

        if ((size_t)snprintf(full, sizeof(full), "%s%s%s", path, path[0] ? "." : "", k) >=
            sizeof(full))
            return tc_err_set(err, TC_INVAL, "spec.extraConfig.%.400s...: key path too long", full);
        if (json_is_object(v)) {
            int rc = r_no_secrets(v, full, err);

            if (rc != TC_OK)
                return rc;
            continue;
        }
        key = cfg_find(&daemon_config_table, full, NULL);
        if (key == NULL || key->type != CFG_SECRET)
            continue;
        sv = json_string_value(v);
        if (sv != NULL &&
            (sv[0] == '\0' || (strncmp(sv, "${", 2) == 0 && sv[strlen(sv) - 1] == '}' &&
                               strchr(sv + 2, '$') == NULL)))
            continue; /* empty, or exactly one ${VAR} reference */
        return tc_err_set(err, TC_INVAL,
                          "spec.extraConfig.%s: a credential must not be written in the "
                          "TempoCompactor (it would be stored in plain text in the CR and the "
                          "ConfigMap); use spec.storage.credentialsSecretRef, or an env reference "
                          "such as ${AWS_SECRET_ACCESS_KEY}",
                          full);
    }
    return TC_OK;
}

/* Deep merge: objects merge key by key, anything else replaces. */
static int
r_merge(json_t *dst, const json_t *src)
{
    const char *k;
    json_t *v;

    json_object_foreach((json_t *)src, k, v)
    {
        json_t *d = json_object_get(dst, k);
        if (json_is_object(d) && json_is_object(v)) {
            if (r_merge(d, v) != 0)
                return -1;
        } else if (json_object_set_new(dst, k, json_deep_copy(v)) != 0) {
            return -1;
        }
    }
    return 0;
}

static void
r_sha256_hex(const char *p, size_t n, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0, i;

    EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL);
    for (i = 0; i < mdlen && i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    out[64] = '\0';
}

/* The parsed, defaulted spec. Strings are borrowed from the CR. */
struct r_spec {
    const char *name, *ns, *uid;
    const char *image, *pull_policy;
    const json_t *pull_secrets, *resources;
    json_int_t replicas;
    const char *backend;
    const json_t *storage_be; /* storage.<backend> */
    const char *creds_secret;
    const json_t *extra_config;
    json_t *tempo; /* built tempo.yaml tree (owned) */
    int pdb, pdb_set;
    json_int_t pdb_max_unavail;
    /* autoscaling */
    int as_on, builtin;
    json_int_t as_min, as_max, polling, cooldown;
    int polling_set, cooldown_set;
    const char *metric_type;
    const json_t *behavior, *fallback, *headers, *qparams, *auth;
    const char *server, *query, *threshold, *activation, *timeout, *prom_ns;
    int ignore_null, unsafe_ssl;
    char default_query[512];
    char default_image[128]; /* tempo-compactor:<version> */
};

static int
r_parse_storage(const json_t *spec, struct r_spec *s, json_t *trace, struct tc_err *err)
{
    static const char *const st_keys[] = {"backend", "s3", "credentialsSecretRef", NULL};
    static const char *const s3_keys[] = {"bucket",   "endpoint",       "region",
                                          "insecure", "forcePathStyle", NULL};
    static const char *const ref_keys[] = {"name", NULL};
    const json_t *st, *be, *ref;
    const char *a;
    json_t *out;
    int rc, bv, bset;

    if ((rc = r_obj(spec, "storage", "spec", 1, &st, err)) != TC_OK)
        return rc;
    if ((rc = r_str(st, "backend", "spec.storage", NULL, 1, &s->backend, err)) != TC_OK)
        return rc;
    /* Our daemon speaks s3 and local; local cannot be shared by pods. */
    if (strcmp(s->backend, "s3") != 0)
        return tc_err_set(err, TC_INVAL,
                          "spec.storage.backend: \"%s\" is not supported; the compactor supports "
                          "only s3 in a cluster",
                          s->backend);
    if ((rc = r_known(st, "spec.storage", st_keys, err)) != TC_OK)
        return rc;
    if ((rc = r_obj(st, s->backend, "spec.storage", 0, &be, err)) != TC_OK)
        return rc;
    if (be == NULL)
        return tc_err_set(err, TC_INVAL, "spec.storage.%s: required when storage.backend is %s",
                          s->backend, s->backend);
    json_object_set_new(trace, "backend", json_string(s->backend));
    out = json_object();
    json_object_set_new(trace, s->backend, out);
    if ((rc = r_known(be, "spec.storage.s3", s3_keys, err)) != TC_OK)
        return rc;
    if ((rc = r_str(be, "bucket", "spec.storage.s3", NULL, 1, &a, err)) != TC_OK)
        return rc;
    json_object_set_new(out, "bucket", json_string(a));
    if ((rc = r_str(be, "endpoint", "spec.storage.s3", NULL, 1, &a, err)) != TC_OK)
        return rc;
    json_object_set_new(out, "endpoint", json_string(a));
    if ((rc = r_str(be, "region", "spec.storage.s3", NULL, 0, &a, err)) != TC_OK)
        return rc;
    if (a)
        json_object_set_new(out, "region", json_string(a));
    if ((rc = r_bool(be, "insecure", "spec.storage.s3", 0, &bv, &bset, err)) != TC_OK)
        return rc;
    if (bset)
        json_object_set_new(out, "insecure", json_boolean(bv));
    if ((rc = r_bool(be, "forcePathStyle", "spec.storage.s3", 0, &bv, &bset, err)) != TC_OK)
        return rc;
    if (bset)
        json_object_set_new(out, "forcepathstyle", json_boolean(bv));
    s->storage_be = be;
    if ((rc = r_obj(st, "credentialsSecretRef", "spec.storage", 0, &ref, err)) != TC_OK)
        return rc;
    if (ref) {
        if ((rc = r_known(ref, "spec.storage.credentialsSecretRef", ref_keys, err)) != TC_OK)
            return rc;
        if ((rc = r_str(ref, "name", "spec.storage.credentialsSecretRef", NULL, 1, &s->creds_secret,
                        err)) != TC_OK)
            return rc;
    }
    return TC_OK;
}

/* The spec fields that set a key of the daemon, in rendering order. A
 * field's type, range and meaning are its key's (daemon_config_table), so a
 * spec the controller accepts always loads in the pods, and a value the
 * daemon takes is never refused here. A field marked always is rendered
 * with its default when unset; deploy_default replaces the key's default
 * for a reason given in why. The CRD's descriptions, defaults and ranges of
 * these fields are generated from this list and the table
 * (hack/gen-config.py); tests/chart/test_config_drift.py checks the CRD,
 * the chart and this file against them. */
const struct render_field render_fields[] = {
    {"blocklist", "poll", "storage.trace.blocklist_poll", 1, NULL, NULL},
    {"blocklist", "pollConcurrency", "storage.trace.blocklist_poll_concurrency", 0, NULL, NULL},
    {"blocklist", "pollFallback", "storage.trace.blocklist_poll_fallback", 0, NULL, NULL},
    {"blocklist", "tenantIndexBuilders", "storage.trace.blocklist_poll_tenant_index_builders", 0,
     NULL, NULL},
    {"blocklist", "staleTenantIndex", "storage.trace.blocklist_poll_stale_tenant_index", 0, NULL,
     NULL},
    {"compaction", "blockRetention", "compactor.compaction.block_retention", 1, "48h",
     "the tempo-distributed chart's default"},
    {"compaction", "compactedBlockRetention", "compactor.compaction.compacted_block_retention", 1,
     NULL, NULL},
    {"compaction", "compactionWindow", "compactor.compaction.compaction_window", 1, NULL, NULL},
    {"compaction", "compactionCycle", "compactor.compaction.compaction_cycle", 1, NULL, NULL},
    {"compaction", "maxTimePerTenant", "compactor.compaction.max_time_per_tenant", 1, NULL, NULL},
    {"compaction", "maxBlockBytes", "compactor.compaction.max_block_bytes", 1, NULL, NULL},
    {"compaction", "maxCompactionObjects", "compactor.compaction.max_compaction_objects", 1, NULL,
     NULL},
    {"compaction", "retentionConcurrency", "compactor.compaction.retention_concurrency", 1, NULL,
     NULL},
};
const size_t render_nfields = TC_ARRAY_LEN(render_fields);

#define R_MAX_SECTION_FIELDS 32

/* Sets root.a.b.c (path "a.b.c") to v (stolen), creating objects on the way. */
static int
r_set_path(json_t *root, const char *path, json_t *v)
{
    const char *dot;
    char seg[128];

    while ((dot = strchr(path, '.')) != NULL) {
        json_t *next;
        if ((size_t)(dot - path) >= sizeof(seg)) {
            json_decref(v);
            return TC_INVAL;
        }
        memcpy(seg, path, (size_t)(dot - path));
        seg[dot - path] = '\0';
        next = json_object_get(root, seg);
        if (next == NULL) {
            next = json_object();
            if (next == NULL || json_object_set_new(root, seg, next) != 0) {
                json_decref(v);
                return TC_NOMEM;
            }
        }
        root = next;
        path = dot + 1;
    }
    return json_object_set_new(root, path, v) == 0 ? TC_OK : TC_NOMEM;
}

/* One field: checked against its key, rendered into tempo. *ms gets a
 * duration's value (-1 when unset). */
static int
r_parse_field(const json_t *obj, const struct render_field *f, const struct cfg_key *k,
              json_t *tempo, int64_t *ms, struct tc_err *err)
{
    const char *def = f->deploy_default ? f->deploy_default : k->def;
    char path[64], lo[32], hi[32];
    json_t *v = NULL;
    int rc, set = 0;

    snprintf(path, sizeof(path), "spec.%s", f->section);
    *ms = -1;
    if (k->type == CFG_DURATION) {
        const char *s;
        if ((rc = r_dur(obj, f->name, path, f->always ? def : NULL, &s, NULL, err)) != TC_OK)
            return rc;
        if (s == NULL)
            return TC_OK;
        if (cfg_parse_duration(s, ms) != TC_OK)
            return tc_err_set(err, TC_INVAL, "%s.%s: \"%s\" is not a duration", path, f->name, s);
        if (k->min < k->max && (*ms < k->min || *ms > k->max)) {
            cfg_format_duration_short((int64_t)k->min, lo, sizeof(lo));
            cfg_format_duration_short((int64_t)k->max, hi, sizeof(hi));
            return tc_err_set(err, TC_INVAL, "%s.%s: \"%s\" is out of range [%s, %s]", path,
                              f->name, s, lo, hi);
        }
        v = json_string(s);
    } else if (k->type == CFG_INT || k->type == CFG_BYTES) {
        json_int_t n, min = k->type == CFG_BYTES ? 0 : INT64_MIN, max = INT64_MAX;
        if (k->min < k->max) {
            min = (json_int_t)k->min;
            max = (json_int_t)k->max;
        }
        if ((rc = r_int(obj, f->name, path, def ? strtoll(def, NULL, 10) : 0, min, max, &n, &set,
                        err)) != TC_OK)
            return rc;
        if (set || f->always)
            v = json_integer(n);
    } else if (k->type == CFG_BOOL) {
        int b;
        if ((rc = r_bool(obj, f->name, path, def && strcmp(def, "true") == 0, &b, &set, err)) !=
            TC_OK)
            return rc;
        if (set || f->always)
            v = json_boolean(b);
    } else {
        return tc_err_set(err, TC_ERR, "%s.%s: key %s has a type the controller cannot render",
                          path, f->name, f->key);
    }
    if (v && r_set_path(tempo, f->key, v) != TC_OK)
        return tc_err_set(err, TC_NOMEM, "out of memory");
    return TC_OK;
}

int
render_fields_json(struct buf *out)
{
    json_t *arr = json_array();
    char *text;
    size_t i;
    int rc;

    for (i = 0; arr && i < render_nfields; i++) {
        const struct render_field *f = &render_fields[i];
        json_t *o = json_pack("{s:s, s:s, s:s, s:b}", "section", f->section, "name", f->name, "key",
                              f->key, "always", f->always);
        if (o == NULL || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            return TC_NOMEM;
        }
        json_object_set_new(o, "deploy_default",
                            f->deploy_default ? json_string(f->deploy_default) : json_null());
        json_object_set_new(o, "why", f->why ? json_string(f->why) : json_null());
    }
    text = arr ? json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(arr);
    if (text == NULL)
        return TC_NOMEM;
    rc = buf_puts(out, text);
    rc = rc ? rc : buf_putc(out, '\n');
    free(text); /* lint-ok: jansson allocates with malloc */
    return rc;
}

/* spec.blocklist and spec.compaction: render_fields into tempo. */
static int
r_parse_fields(const json_t *spec, json_t *tempo, struct tc_err *err)
{
    int64_t ms[TC_ARRAY_LEN(render_fields)];
    int64_t poll_ms = -1, retention_ms = -1;
    const char *retention = NULL;
    size_t i, j;
    int rc;

    for (i = 0; i < render_nfields; i = j) {
        const char *names[R_MAX_SECTION_FIELDS + 1];
        const char *section = render_fields[i].section;
        const json_t *obj;
        size_t n = 0;

        for (j = i; j < render_nfields && strcmp(render_fields[j].section, section) == 0; j++)
            if (n < R_MAX_SECTION_FIELDS)
                names[n++] = render_fields[j].name;
        names[n] = NULL;
        if ((rc = r_obj(spec, section, "spec", 0, &obj, err)) != TC_OK)
            return rc;
        if (obj) {
            char path[64];
            snprintf(path, sizeof(path), "spec.%s", section);
            if ((rc = r_known(obj, path, names, err)) != TC_OK)
                return rc;
        }
        for (n = i; n < j; n++) {
            const struct render_field *f = &render_fields[n];
            const struct cfg_key *k = cfg_find(&daemon_config_table, f->key, NULL);
            if (k == NULL)
                return tc_err_set(err, TC_ERR, "spec.%s.%s: the compactor has no key %s",
                                  f->section, f->name, f->key);
            if ((rc = r_parse_field(obj, f, k, tempo, &ms[n], err)) != TC_OK)
                return rc;
            if (strcmp(f->key, "storage.trace.blocklist_poll") == 0)
                poll_ms = ms[n];
            if (strcmp(f->key, "compactor.compaction.block_retention") == 0) {
                retention_ms = ms[n];
                retention = json_string_value(json_object_get(
                    json_object_get(json_object_get(tempo, "compactor"), "compaction"),
                    "block_retention"));
            }
        }
    }
    if (retention_ms >= 0 && retention_ms < poll_ms)
        return tc_err_set(err, TC_INVAL,
                          "spec.compaction.blockRetention: %s is shorter than "
                          "spec.blocklist.poll; blocks would be deleted before every "
                          "compactor has seen them",
                          retention ? retention : "");
    return TC_OK;
}

static int
r_parse_autoscaling(const json_t *spec, struct r_spec *s, struct tc_err *err)
{
    static const char *const as_keys[] = {
        "enabled",        "minReplicas", "maxReplicas", "pollingInterval",
        "cooldownPeriod", "metricType",  "behavior",    "fallback",
        "prometheus",     "mode",        NULL};
    static const char *const prom_keys[] = {
        "serverAddress",    "query",     "threshold",     "activationThreshold",
        "ignoreNullValues", "unsafeSsl", "timeout",       "customHeaders",
        "queryParameters",  "namespace", "authSecretRef", NULL};
    static const char *const fb_keys[] = {"failureThreshold", "replicas", "behavior", NULL};
    static const char *const fb_beh[] = {"static", "currentReplicas", "currentReplicasIfHigher",
                                         "currentReplicasIfLower", NULL};
    static const char *const mtypes[] = {"AverageValue", "Value", NULL};
    static const char *const as_modes[] = {"keda", "builtin", NULL};
    static const char *const auth_keys[] = {"name", "authModes", NULL};
    static const char *const P = "spec.autoscaling.prometheus";
    const json_t *as, *prom, *v;
    json_int_t n;
    const char *str;
    int rc;

    if ((rc = r_obj(spec, "autoscaling", "spec", 0, &as, err)) != TC_OK)
        return rc;
    if (as && (rc = r_known(as, "spec.autoscaling", as_keys, err)) != TC_OK)
        return rc;
    if ((rc = r_bool(as, "enabled", "spec.autoscaling", 0, &s->as_on, NULL, err)) != TC_OK)
        return rc;
    if ((rc = r_int(as, "minReplicas", "spec.autoscaling", 1, 1, INT32_MAX, &s->as_min, NULL,
                    err)) != TC_OK)
        return rc;
    if ((rc = r_int(as, "maxReplicas", "spec.autoscaling", 3, 1, INT32_MAX, &s->as_max, NULL,
                    err)) != TC_OK)
        return rc;
    if (s->as_min > s->as_max)
        return tc_err_set(err, TC_INVAL,
                          "spec.autoscaling.minReplicas: %" JSON_INTEGER_FORMAT
                          " is greater than spec.autoscaling.maxReplicas (%" JSON_INTEGER_FORMAT
                          ")",
                          s->as_min, s->as_max);
    if ((rc = r_int(as, "pollingInterval", "spec.autoscaling", 0, 1, INT32_MAX, &s->polling,
                    &s->polling_set, err)) != TC_OK)
        return rc;
    if ((rc = r_int(as, "cooldownPeriod", "spec.autoscaling", 0, 0, INT32_MAX, &s->cooldown,
                    &s->cooldown_set, err)) != TC_OK)
        return rc;
    if ((rc = r_str(as, "metricType", "spec.autoscaling", "AverageValue", 0, &s->metric_type,
                    err)) != TC_OK)
        return rc;
    if ((rc = r_enum(s->metric_type, "spec.autoscaling", "metricType", mtypes, err)) != TC_OK)
        return rc;
    if ((rc = r_str(as, "mode", "spec.autoscaling", "keda", 0, &str, err)) != TC_OK ||
        (rc = r_enum(str, "spec.autoscaling", "mode", as_modes, err)) != TC_OK)
        return rc;
    s->builtin = strcmp(str, "builtin") == 0;
    if ((rc = r_obj(as, "behavior", "spec.autoscaling", 0, &s->behavior, err)) != TC_OK)
        return rc;
    if (s->builtin) {
        /* The controller runs this behavior itself: refuse what it cannot. */
        struct hpa_spec hs;
        hpa_spec_init(&hs);
        if ((rc = hpa_behavior_parse(s->behavior, "spec.autoscaling.behavior", &hs, err)) != TC_OK)
            return rc;
    }
    if ((rc = r_obj(as, "fallback", "spec.autoscaling", 0, &s->fallback, err)) != TC_OK)
        return rc;
    if (s->fallback && s->builtin)
        return tc_err_set(err, TC_INVAL,
                          "spec.autoscaling.fallback: a KEDA setting; mode builtin keeps the "
                          "current replicas while the query fails");
    if (s->fallback) {
        const char *FP = "spec.autoscaling.fallback";
        if ((rc = r_known(s->fallback, FP, fb_keys, err)) != TC_OK)
            return rc;
        if (!r_get(s->fallback, "failureThreshold") || !r_get(s->fallback, "replicas"))
            return tc_err_set(err, TC_INVAL, "%s.%s: required field is missing", FP,
                              r_get(s->fallback, "failureThreshold") ? "replicas"
                                                                     : "failureThreshold");
        if ((rc = r_int(s->fallback, "failureThreshold", FP, 0, 0, INT32_MAX, &n, NULL, err)) !=
            TC_OK)
            return rc;
        if ((rc = r_int(s->fallback, "replicas", FP, 0, 0, INT32_MAX, &n, NULL, err)) != TC_OK)
            return rc;
        if ((rc = r_str(s->fallback, "behavior", FP, NULL, 0, &str, err)) != TC_OK)
            return rc;
        if (str && (rc = r_enum(str, FP, "behavior", fb_beh, err)) != TC_OK)
            return rc;
        if (strcmp(s->metric_type, "AverageValue") != 0)
            return tc_err_set(err, TC_INVAL,
                              "spec.autoscaling.fallback: KEDA supports fallback only with "
                              "spec.autoscaling.metricType AverageValue");
    }
    if ((rc = r_obj(as, "prometheus", "spec.autoscaling", 0, &prom, err)) != TC_OK)
        return rc;
    if (prom == NULL) {
        if (s->as_on)
            return tc_err_set(err, TC_INVAL,
                              "spec.autoscaling.prometheus: required when "
                              "spec.autoscaling.enabled is true");
        return TC_OK;
    }
    if ((rc = r_known(prom, P, prom_keys, err)) != TC_OK)
        return rc;
    if ((rc = r_str(prom, "serverAddress", P, NULL, 1, &s->server, err)) != TC_OK)
        return rc;
    if (strlen(s->server) > 2048 || !yamljson_match(s->server, "^https?://[^[:space:]]+$"))
        return tc_err_set(err, TC_INVAL,
                          "%s.serverAddress: \"%s\" must be an http:// or https:// URL without "
                          "spaces (the Prometheus API root, e.g. http://mimir/prometheus)",
                          P, s->server);
    if ((rc = r_str(prom, "query", P, s->default_query, 0, &s->query, err)) != TC_OK)
        return rc;
    if (s->query[0] == '\0' || strlen(s->query) > 8192)
        return tc_err_set(err, TC_INVAL, "%s.query: must be 1 to 8192 bytes", P);
    if ((rc = r_numeric_str(prom, "threshold", P, 1, &s->threshold, err)) != TC_OK)
        return rc;
    if ((rc = r_numeric_str(prom, "activationThreshold", P, 0, &s->activation, err)) != TC_OK)
        return rc;
    if ((rc = r_bool(prom, "ignoreNullValues", P, 0, &s->ignore_null, NULL, err)) != TC_OK)
        return rc;
    if ((rc = r_bool(prom, "unsafeSsl", P, 0, &s->unsafe_ssl, NULL, err)) != TC_OK)
        return rc;
    if ((rc = r_str(prom, "timeout", P, NULL, 0, &s->timeout, err)) != TC_OK)
        return rc;
    if (s->timeout) {
        double d;
        if (!yamljson_match(s->timeout, "^[0-9]+$") && r_parse_duration(s->timeout, &d) != 0)
            return tc_err_set(err, TC_INVAL,
                              "%s.timeout: \"%s\" must be milliseconds (\"3000\") or a duration "
                              "(\"3s\")",
                              P, s->timeout);
    }
    if ((rc = r_str(prom, "namespace", P, NULL, 0, &s->prom_ns, err)) != TC_OK)
        return rc;
    if (s->prom_ns && strpbrk(s->prom_ns, "&?#= ") != NULL)
        return tc_err_set(err, TC_INVAL, "%s.namespace: \"%s\" contains URL syntax characters", P,
                          s->prom_ns);
    if ((rc = r_keda_map(prom, "customHeaders", P, "^[A-Za-z0-9-]+$",
                         "[A-Za-z0-9-]+ (an HTTP "
                         "header name)",
                         &s->headers, err)) != TC_OK)
        return rc;
    if ((rc = r_keda_map(prom, "queryParameters", P, "^[A-Za-z0-9_.-]+$", "[A-Za-z0-9_.-]+",
                         &s->qparams, err)) != TC_OK)
        return rc;
    if ((rc = r_obj(prom, "authSecretRef", P, 0, &s->auth, err)) != TC_OK)
        return rc;
    if (s->auth) {
        static const char *const modes[] = {"basic", "bearer", "tls", "custom", NULL};
        const char *AP = "spec.autoscaling.prometheus.authSecretRef";
        int seen[4] = {0};
        size_t i, j;

        if ((rc = r_known(s->auth, AP, auth_keys, err)) != TC_OK)
            return rc;
        if ((rc = r_str(s->auth, "name", AP, NULL, 1, &str, err)) != TC_OK)
            return rc;
        v = r_get(s->auth, "authModes");
        if (v == NULL || !json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 2)
            return tc_err_set(err, TC_INVAL,
                              "%s.authModes: must be a list of 1 or 2 of [basic, bearer, tls, "
                              "custom]",
                              AP);
        for (i = 0; i < json_array_size(v); i++) {
            const json_t *m = json_array_get(v, i);
            if (!json_is_string(m))
                return tc_err_set(err, TC_INVAL, "%s.authModes[%zu]: must be a string", AP, i);
            for (j = 0; modes[j]; j++)
                if (strcmp(modes[j], json_string_value(m)) == 0)
                    break;
            if (modes[j] == NULL)
                return tc_err_set(err, TC_INVAL,
                                  "%s.authModes[%zu]: \"%s\" is not one of [basic, bearer, tls, "
                                  "custom]",
                                  AP, i, json_string_value(m));
            if (seen[j]++)
                return tc_err_set(err, TC_INVAL, "%s.authModes[%zu]: \"%s\" is listed twice", AP, i,
                                  modes[j]);
        }
        if ((seen[0] ? 1 : 0) + (seen[1] ? 1 : 0) + (seen[3] ? 1 : 0) > 1)
            return tc_err_set(err, TC_INVAL,
                              "%s.authModes: basic, bearer and custom are mutually exclusive "
                              "(only tls combines with one of them)",
                              AP);
    }
    return TC_OK;
}

static int
r_parse_spec(const json_t *cr, struct r_spec *s, struct tc_err *err)
{
    static const char *const spec_keys[] = {
        "image",       "imagePullPolicy", "imagePullSecrets",    "replicas",
        "resources",   "storage",         "blocklist",           "compaction",
        "extraConfig", "autoscaling",     "podDisruptionBudget", NULL};
    static const char *const pull[] = {"Always", "IfNotPresent", "Never", NULL};
    static const char *const pdb_keys[] = {"enabled", "maxUnavailable", NULL};
    static const char *const res_keys[] = {"requests", "limits", NULL};
    const json_t *md, *spec, *pdb, *v;
    json_t *trace;
    const char *apiv, *kind;
    size_t i;
    int rc;

    if (!json_is_object(cr))
        return tc_err_set(err, TC_INVAL, "TempoCompactor: must be an object");
    if ((rc = r_str(cr, "apiVersion", "", NULL, 1, &apiv, err)) != TC_OK)
        return tc_err_set(err, rc, "apiVersion: required field is missing");
    if (strcmp(apiv, RENDER_API_VERSION) != 0)
        return tc_err_set(err, TC_INVAL, "apiVersion: \"%s\" is not %s", apiv, RENDER_API_VERSION);
    if ((rc = r_str(cr, "kind", "", NULL, 1, &kind, err)) != TC_OK)
        return tc_err_set(err, rc, "kind: required field is missing");
    if (strcmp(kind, RENDER_KIND) != 0)
        return tc_err_set(err, TC_INVAL, "kind: \"%s\" is not %s", kind, RENDER_KIND);
    if ((rc = r_obj(cr, "metadata", "", 1, &md, err)) != TC_OK)
        return tc_err_set(err, rc, "metadata: required object is missing");
    if ((rc = r_str(md, "name", "metadata", NULL, 1, &s->name, err)) != TC_OK)
        return rc;
    if (strlen(s->name) > RENDER_MAX_NAME ||
        !yamljson_match(s->name, "^[a-z]([-a-z0-9]*[a-z0-9])?$"))
        return tc_err_set(err, TC_INVAL,
                          "metadata.name: \"%s\" must be a DNS label of at most %d characters "
                          "(children are named tempo-<name>-compactor)",
                          s->name, RENDER_MAX_NAME);
    if ((rc = r_str(md, "namespace", "metadata", "default", 0, &s->ns, err)) != TC_OK)
        return rc;
    if ((rc = r_str(md, "uid", "metadata", NULL, 0, &s->uid, err)) != TC_OK)
        return rc;
    if ((rc = r_obj(cr, "spec", "", 1, &spec, err)) != TC_OK)
        return tc_err_set(err, rc, "spec: required object is missing");
    if ((rc = r_known(spec, "spec", spec_keys, err)) != TC_OK)
        return rc;

    snprintf(s->default_image, sizeof(s->default_image), "%s:%s", RENDER_DEFAULT_IMAGE_REPO,
             tc_version);
    if ((rc = r_str(spec, "image", "spec", s->default_image, 0, &s->image, err)) != TC_OK)
        return rc;
    if (s->image[0] == '\0' || strpbrk(s->image, " \t\n") != NULL)
        return tc_err_set(err, TC_INVAL, "spec.image: \"%s\" is not an image reference", s->image);
    if ((rc = r_str(spec, "imagePullPolicy", "spec", "IfNotPresent", 0, &s->pull_policy, err)) !=
        TC_OK)
        return rc;
    if ((rc = r_enum(s->pull_policy, "spec", "imagePullPolicy", pull, err)) != TC_OK)
        return rc;
    v = r_get(spec, "imagePullSecrets");
    if (v) {
        if (!json_is_array(v) || json_array_size(v) > 8)
            return tc_err_set(err, TC_INVAL,
                              "spec.imagePullSecrets: must be a list of at most 8 "
                              "{name: ...}");
        for (i = 0; i < json_array_size(v); i++) {
            const json_t *e = json_array_get(v, i);
            if (!json_is_object(e) || !json_is_string(json_object_get(e, "name")) ||
                json_object_size(e) != 1)
                return tc_err_set(err, TC_INVAL, "spec.imagePullSecrets[%zu]: must be {name: ...}",
                                  i);
        }
        s->pull_secrets = v;
    }
    if ((rc = r_int(spec, "replicas", "spec", 1, 0, INT32_MAX, &s->replicas, NULL, err)) != TC_OK)
        return rc;
    if ((rc = r_obj(spec, "resources", "spec", 0, &s->resources, err)) != TC_OK)
        return rc;
    if (s->resources) {
        const char *k;
        json_t *rv;
        if ((rc = r_known(s->resources, "spec.resources", res_keys, err)) != TC_OK)
            return rc;
        json_object_foreach((json_t *)s->resources, k, rv)
        {
            const char *q;
            json_t *qv;
            if (!json_is_object(rv))
                return tc_err_set(err, TC_INVAL, "spec.resources.%s: must be an object", k);
            json_object_foreach(rv, q, qv)
            {
                if (!json_is_string(qv) && !json_is_integer(qv))
                    return tc_err_set(err, TC_INVAL,
                                      "spec.resources.%s.%s: must be a quantity such as \"500m\" "
                                      "or \"1Gi\"",
                                      k, q);
                if (json_is_string(qv) &&
                    !yamljson_match(json_string_value(qv),
                                    "^[+]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][-+]?["
                                    "0-9]+|[KMGTPE]i|[mkMGTPE])?$"))
                    return tc_err_set(err, TC_INVAL,
                                      "spec.resources.%s.%s: \"%s\" is not a Kubernetes quantity",
                                      k, q, json_string_value(qv));
            }
        }
    }

    s->tempo = json_object();
    trace = json_object();
    json_object_set_new(s->tempo, "storage", json_pack("{s:o}", "trace", trace));
    /* placed before ring and state_dir; r_parse_fields fills it */
    json_object_set_new(s->tempo, "compactor", json_pack("{s:{}}", "compaction"));
    json_object_set_new(s->tempo, "server",
                        json_pack("{s:i}", "http_listen_port", RENDER_HTTP_PORT));
    if ((rc = r_parse_storage(spec, s, trace, err)) != TC_OK)
        return rc;
    if ((rc = r_parse_fields(spec, s->tempo, err)) != TC_OK)
        return rc;
    {
        char peer[256], svc[128];
        render_child_name(RENDER_SERVICE, s->name, svc, sizeof(svc));
        snprintf(peer, sizeof(peer), "dns+%s.%s.svc.cluster.local:%d", svc, s->ns,
                 RENDER_HTTP_PORT);
        json_object_set_new(json_object_get(s->tempo, "compactor"), "ring",
                            json_pack("{s:[s]}", "peers", peer));
        json_object_set_new(json_object_get(s->tempo, "compactor"), "state_dir",
                            json_string(RENDER_STATE_DIR));
    }
    if ((rc = r_obj(spec, "extraConfig", "spec", 0, &s->extra_config, err)) != TC_OK)
        return rc;
    if (s->extra_config && (rc = r_no_secrets(s->extra_config, "", err)) != TC_OK)
        return rc;
    if (s->extra_config && r_merge(s->tempo, s->extra_config) != 0)
        return tc_err_set(err, TC_NOMEM, "out of memory");

    snprintf(s->default_query, sizeof(s->default_query),
             "sum(tempodb_compaction_outstanding_blocks{namespace=\"%s\",container=\"compactor\"})",
             s->ns);
    if ((rc = r_parse_autoscaling(spec, s, err)) != TC_OK)
        return rc;

    if ((rc = r_obj(spec, "podDisruptionBudget", "spec", 0, &pdb, err)) != TC_OK)
        return rc;
    if (pdb && (rc = r_known(pdb, "spec.podDisruptionBudget", pdb_keys, err)) != TC_OK)
        return rc;
    if ((rc = r_bool(pdb, "enabled", "spec.podDisruptionBudget", 1, &s->pdb, &s->pdb_set, err)) !=
        TC_OK)
        return rc;
    if ((rc = r_int(pdb, "maxUnavailable", "spec.podDisruptionBudget", 1, 1, INT32_MAX,
                    &s->pdb_max_unavail, NULL, err)) != TC_OK)
        return rc;
    /* By default a PDB only when more than one pod can run (as the chart). */
    if (!s->pdb_set)
        s->pdb = s->as_on ? s->as_max > 1 : s->replicas > 1;
    return TC_OK;
}

/* ---- building manifests ---- */

static json_t *
r_selector_labels(const struct r_spec *s)
{
    return json_pack("{s:s, s:s, s:s}", "app.kubernetes.io/component", "compactor",
                     "app.kubernetes.io/instance", s->name, "app.kubernetes.io/name", "tempo");
}

static json_t *
r_labels(const struct r_spec *s)
{
    json_t *l = r_selector_labels(s);
    json_object_set_new(l, "app.kubernetes.io/managed-by", json_string(RENDER_MANAGED_BY));
    return l;
}

static json_t *
r_meta(const struct r_spec *s, enum render_kind k)
{
    char name[128];
    json_t *m;

    render_child_name(k, s->name, name, sizeof(name));
    m = json_pack("{s:s, s:s, s:o}", "name", name, "namespace", s->ns, "labels", r_labels(s));
    if (s->uid)
        json_object_set_new(m, "ownerReferences",
                            json_pack("[{s:s, s:b, s:b, s:s, s:s, s:s}]", "apiVersion",
                                      RENDER_API_VERSION, "blockOwnerDeletion", 1, "controller", 1,
                                      "kind", RENDER_KIND, "name", s->name, "uid", s->uid));
    return m;
}

static json_t *
r_head(const struct r_spec *s, enum render_kind k)
{
    return json_pack("{s:s, s:s, s:o}", "apiVersion", render_kinds[k].api_version, "kind",
                     render_kinds[k].kind, "metadata", r_meta(s, k));
}

static json_t *
r_deployment(const struct r_spec *s, const char *hash)
{
    char cm[128];
    json_t *d = r_head(s, RENDER_DEPLOYMENT), *pod, *ctr, *podl;

    render_child_name(RENDER_CONFIGMAP, s->name, cm, sizeof(cm));
    ctr = json_pack(
        "{s:s, s:[s,s,s], s:s, s:s, s:[{s:s, s:i, s:s}],"
        " s:{s:{s:s, s:s}, s:i, s:i, s:i, s:i},"
        " s:{s:b, s:{s:[s]}, s:b, s:b},"
        " s:[{s:s, s:s, s:b}, {s:s, s:s}]}",
        "name", "compactor", "args", "-target=compactor", "-config.file=/conf/tempo.yaml",
        "-config.expand-env=true", "image", s->image, "imagePullPolicy", s->pull_policy, "ports",
        "name", "http-metrics", "containerPort", RENDER_HTTP_PORT, "protocol", "TCP",
        "readinessProbe", "httpGet", "path", "/ready", "port", "http-metrics",
        "initialDelaySeconds", 1, "periodSeconds", 5, "failureThreshold", 3, "timeoutSeconds", 1,
        "securityContext", "allowPrivilegeEscalation", 0, "capabilities", "drop", "ALL",
        "readOnlyRootFilesystem", 1, "runAsNonRoot", 1, "volumeMounts", "mountPath", "/conf",
        "name", "config", "readOnly", 1, "mountPath", "/var/tempo", "name", "data");
    /* Our daemon's /ready answers within a second and never waits on the
     * first poll; liveness has its own endpoint, /live. A liveness probe on
     * /ready is what kills Tempo compactors during long first polls. */
    json_object_set_new(ctr, "livenessProbe",
                        json_pack("{s:{s:s, s:s}, s:i, s:i, s:i}", "httpGet", "path", "/live",
                                  "port", "http-metrics", "periodSeconds", 10, "failureThreshold",
                                  3, "timeoutSeconds", 1));
    if (s->resources)
        json_object_set_new(ctr, "resources", json_deep_copy(s->resources));
    if (s->creds_secret)
        json_object_set_new(ctr, "envFrom",
                            json_pack("[{s:{s:s}}]", "secretRef", "name", s->creds_secret));
    podl = r_labels(s);
    pod = json_pack("{s:{s:{s:s}, s:o},"
                    " s:{s:b, s:[o], s:b,"
                    " s:{s:i, s:i, s:b, s:i, s:{s:s}}, s:i,"
                    " s:[{s:s, s:{s:s}}, {s:s, s:{}}]}}",
                    "metadata", "annotations", "checksum/config", hash, "labels", podl, "spec",
                    "automountServiceAccountToken", 0, "containers", ctr, "enableServiceLinks", 0,
                    "securityContext", "fsGroup", 10001, "runAsGroup", 10001, "runAsNonRoot", 1,
                    "runAsUser", 10001, "seccompProfile", "type", "RuntimeDefault",
                    "terminationGracePeriodSeconds", 30, "volumes", "name", "config", "configMap",
                    "name", cm, "name", "data", "emptyDir");
    if (s->pull_secrets)
        json_object_set_new(json_object_get(pod, "spec"), "imagePullSecrets",
                            json_deep_copy(s->pull_secrets));
    json_object_set_new(d, "spec",
                        json_pack("{s:i, s:i, s:{s:o}, s:{s:s, s:{s:i, s:i}}, s:o}",
                                  "minReadySeconds", 10, "revisionHistoryLimit", 10, "selector",
                                  "matchLabels", r_selector_labels(s), "strategy", "type",
                                  "RollingUpdate", "rollingUpdate", "maxSurge", 0, "maxUnavailable",
                                  1, "template", pod));
    /* While autoscaling, replicas belong to KEDA's HPA (operator.md 4.6). */
    if (!s->as_on)
        json_object_set_new(json_object_get(d, "spec"), "replicas", json_integer(s->replicas));
    return d;
}

static void
r_set_keda(json_t *md, const char *key, const json_t *map)
{
    char *v = render_keda_map(map);

    if (v != NULL)
        json_object_set_new(md, key, json_string(v));
    tc_free(v);
}

static json_t *
r_scaledobject(const struct r_spec *s)
{
    char name[128];
    json_t *so = r_head(s, RENDER_SCALEDOBJECT), *md, *trig, *spec;

    render_child_name(RENDER_DEPLOYMENT, s->name, name, sizeof(name));
    md = json_pack("{s:s, s:s, s:s, s:s, s:s}", "serverAddress", s->server, "query", s->query,
                   "threshold", s->threshold, "ignoreNullValues", s->ignore_null ? "true" : "false",
                   "unsafeSsl", s->unsafe_ssl ? "true" : "false");
    if (s->activation)
        json_object_set_new(md, "activationThreshold", json_string(s->activation));
    if (s->timeout)
        json_object_set_new(md, "timeout", json_string(s->timeout));
    if (s->prom_ns)
        json_object_set_new(md, "namespace", json_string(s->prom_ns));
    /* An empty map renders no key at all: KEDA treats "" as unset anyway. */
    if (s->headers && json_object_size(s->headers) > 0)
        r_set_keda(md, "customHeaders", s->headers);
    if (s->qparams && json_object_size(s->qparams) > 0)
        r_set_keda(md, "queryParameters", s->qparams);
    trig = json_pack("{s:s, s:s, s:s, s:o}", "type", "prometheus", "name", "outstanding-blocks",
                     "metricType", s->metric_type, "metadata", md);
    if (s->auth) {
        const json_t *modes = json_object_get(s->auth, "authModes");
        struct buf b;
        size_t i;
        buf_init(&b, 256);
        for (i = 0; i < json_array_size(modes); i++)
            buf_printf(&b, "%s%s", i ? "," : "", json_string_value(json_array_get(modes, i)));
        json_object_set_new(md, "authModes", json_string(b.data ? b.data : ""));
        buf_cleanup(&b);
        json_object_set_new(trig, "authenticationRef",
                            json_pack("{s:s, s:s}", "kind", "TriggerAuthentication", "name", name));
    }
    spec =
        json_pack("{s:{s:s, s:s, s:s}, s:I, s:I, s:[o]}", "scaleTargetRef", "apiVersion", "apps/v1",
                  "kind", "Deployment", "name", name, "minReplicaCount", (json_int_t)s->as_min,
                  "maxReplicaCount", (json_int_t)s->as_max, "triggers", trig);
    if (s->polling_set)
        json_object_set_new(spec, "pollingInterval", json_integer(s->polling));
    if (s->cooldown_set)
        json_object_set_new(spec, "cooldownPeriod", json_integer(s->cooldown));
    /* Compactor churn wastes work (partial and duplicated jobs), so scale
     * down slowly by default: 30 min stabilization, one pod per 10 min. */
    json_object_set_new(
        spec, "advanced",
        json_pack("{s:{s:o}}", "horizontalPodAutoscalerConfig", "behavior",
                  s->behavior
                      ? json_deep_copy(s->behavior)
                      : json_pack("{s:{s:i, s:[{s:s, s:i, s:i}]},"
                                  " s:{s:i, s:[{s:s, s:i, s:i}]}}",
                                  "scaleDown", "stabilizationWindowSeconds", 1800, "policies",
                                  "type", "Pods", "value", 1, "periodSeconds", 600, "scaleUp",
                                  "stabilizationWindowSeconds", 300, "policies", "type", "Pods",
                                  "value", 2, "periodSeconds", 300)));
    if (s->fallback)
        json_object_set_new(spec, "fallback", json_deep_copy(s->fallback));
    json_object_set_new(so, "spec", spec);
    return so;
}

static json_t *
r_triggerauth(const struct r_spec *s)
{
    static const struct {
        const char *mode;
        const char *params[3];
    } map[] = {{"bearer", {"bearerToken", NULL, NULL}},
               {"basic", {"username", "password", NULL}},
               {"tls", {"cert", "key", "ca"}},
               {"custom", {"customAuthHeader", "customAuthValue", NULL}}};
    const json_t *modes = json_object_get(s->auth, "authModes");
    const char *secret = json_string_value(json_object_get(s->auth, "name"));
    json_t *ta = r_head(s, RENDER_TRIGGERAUTH), *refs = json_array();
    size_t i, j, p;

    for (i = 0; i < json_array_size(modes); i++)
        for (j = 0; j < TC_ARRAY_LEN(map); j++)
            if (strcmp(map[j].mode, json_string_value(json_array_get(modes, i))) == 0)
                for (p = 0; p < 3 && map[j].params[p]; p++)
                    json_array_append_new(refs,
                                          json_pack("{s:s, s:s, s:s}", "key", map[j].params[p],
                                                    "name", secret, "parameter", map[j].params[p]));
    json_object_set_new(ta, "spec", json_pack("{s:o}", "secretTargetRef", refs));
    return ta;
}

/* The compactor daemon's own loader (compactor/daemon_config.c, linked into
 * the controller) reads the rendered tempo.yaml: a typo or an out-of-range
 * value in spec.extraConfig is rejected here, naming the key, instead of
 * crash-looping the pods. ${VAR} is expanded only inside the pod, so such a
 * config is left to the daemon. Ignored Tempo keys are logged as warnings. */
static int
r_check_daemon_config(const struct buf *yaml, struct tc_err *err)
{
    struct daemon_config dc;
    struct tc_err e = {0};
    int rc;

    if (strstr(yaml->data, "${") != NULL)
        return TC_OK;
    memset(&dc, 0, sizeof(dc));
    rc = cfg_defaults(&daemon_config_table, &dc, &e);
    if (rc == TC_OK)
        rc = cfg_load_yaml(&daemon_config_table, &dc, yaml->data, yaml->len, "tempo.yaml", &e);
    cfg_cleanup(&daemon_config_table, &dc);
    if (rc != TC_OK)
        return tc_err_set(err, TC_INVAL, "spec.extraConfig: the compactor rejects the rendered %s",
                          e.msg);
    return TC_OK;
}

void
render_result_cleanup(struct render_result *res)
{
    json_decref(res->manifests);
    json_decref(res->trigger_so);
    json_decref(res->trigger_ta);
    memset(res, 0, sizeof(*res));
}

int
render_manifests(const json_t *cr, struct render_result *res, struct tc_err *err)
{
    struct r_spec s;
    struct buf yaml;
    json_t *out = NULL, *m;
    int rc;

    memset(res, 0, sizeof(*res));
    memset(&s, 0, sizeof(s));
    buf_init(&yaml, 1 << 20);
    if ((rc = r_parse_spec(cr, &s, err)) != TC_OK)
        goto done;
    if ((rc = yamljson_emit(s.tempo, &yaml, err)) != TC_OK)
        goto done;
    if ((rc = r_check_daemon_config(&yaml, err)) != TC_OK)
        goto done;
    r_sha256_hex(yaml.data, yaml.len, res->config_hash);
    out = json_array();

    m = r_head(&s, RENDER_CONFIGMAP);
    json_object_set_new(m, "data", json_pack("{s:s}", "tempo.yaml", yaml.data));
    json_array_append_new(out, m);
    res->want[RENDER_CONFIGMAP] = 1;

    /* Headless: the compactor ring resolves peers through it (dns+). */
    m = r_head(&s, RENDER_SERVICE);
    json_object_set_new(m, "spec",
                        json_pack("{s:s, s:[{s:s, s:i, s:s, s:s}], s:b, s:o}", "clusterIP", "None",
                                  "ports", "name", "http-metrics", "port", RENDER_HTTP_PORT,
                                  "protocol", "TCP", "targetPort", "http-metrics",
                                  "publishNotReadyAddresses", 1, "selector",
                                  r_selector_labels(&s)));
    json_array_append_new(out, m);
    res->want[RENDER_SERVICE] = 1;

    json_array_append_new(out, r_deployment(&s, res->config_hash));
    res->want[RENDER_DEPLOYMENT] = 1;

    if (s.pdb) {
        m = r_head(&s, RENDER_PDB);
        json_object_set_new(m, "spec",
                            json_pack("{s:I, s:{s:o}}", "maxUnavailable",
                                      (json_int_t)s.pdb_max_unavail, "selector", "matchLabels",
                                      r_selector_labels(&s)));
        json_array_append_new(out, m);
        res->want[RENDER_PDB] = 1;
    }
    /* builtin: the same trigger, run by the controller, never applied. */
    if (s.as_on && s.builtin) {
        res->trigger_so = r_scaledobject(&s);
        res->trigger_ta = s.auth ? r_triggerauth(&s) : NULL;
    } else if (s.as_on) {
        if (s.auth) {
            json_array_append_new(out, r_triggerauth(&s));
            res->want[RENDER_TRIGGERAUTH] = 1;
        }
        json_array_append_new(out, r_scaledobject(&s));
        res->want[RENDER_SCALEDOBJECT] = 1;
    }
    res->manifests = out;
    res->autoscaling = s.as_on;
    res->builtin = s.as_on && s.builtin;
    render_child_name(RENDER_DEPLOYMENT, s.name, res->name, sizeof(res->name));
    snprintf(res->selector, sizeof(res->selector),
             "app.kubernetes.io/component=compactor,app.kubernetes.io/instance=%s,"
             "app.kubernetes.io/name=tempo",
             s.name);
    out = NULL;
    rc = TC_OK;
done:
    json_decref(out);
    json_decref(s.tempo);
    buf_cleanup(&yaml);
    if (rc != TC_OK)
        render_result_cleanup(res);
    return rc;
}
