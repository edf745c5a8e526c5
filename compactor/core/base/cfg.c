/*
 * cfg.c - table-driven config: defaults, YAML file, env expansion, flags, dump.
 *
 * The YAML is loaded with libyaml's document API so every node keeps its
 * line and column; values are then applied by walking the mappings with the
 * dotted path so far. A key is either a table entry, a prefix of entries (a
 * mapping to descend into), inside an ignored subtree (warned), or unknown
 * (an error). Every value, including defaults, goes through cfg_set_value().
 */
#include "base/cfg.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "base/log.h"
#include "base/mem.h"

#define CFG_FILE_MAX ((size_t)16 << 20)
#define CFG_PATH_MAX 512

static void *
field(void *target, const struct cfg_key *k)
{
    return (char *)target + k->offset;
}

static const void *
cfield(const void *target, const struct cfg_key *k)
{
    return (const char *)target + k->offset;
}

/* Included tables nest this deep at most (a cycle would recurse forever). */
#define CFG_MAX_DEPTH 8

/* The entry named path or by its flag name, ignored ones too; *off gets its
 * offset in the target. */
static const struct cfg_key *
key_find_at(const struct cfg_table *t, const char *path, size_t *off, int depth)
{
    size_t i, sub_off;
    const struct cfg_key *k;

    for (i = 0; i < t->n; i++) {
        if (t->keys[i].type == CFG_TABLE) {
            if (depth < CFG_MAX_DEPTH &&
                (k = key_find_at(t->keys[i].sub, path, &sub_off, depth + 1)) != NULL) {
                *off = t->keys[i].offset + sub_off;
                return k;
            }
            continue;
        }
        if (strcmp(t->keys[i].path, path) == 0 ||
            (t->keys[i].flag && strcmp(t->keys[i].flag, path) == 0)) {
            *off = t->keys[i].offset;
            return &t->keys[i];
        }
    }
    return NULL;
}

static const struct cfg_key *
key_find(const struct cfg_table *t, const char *path, size_t *off)
{
    size_t unused;

    return key_find_at(t, path, off ? off : &unused, 0);
}

const struct cfg_key *
cfg_find(const struct cfg_table *t, const char *path, size_t *offset)
{
    const struct cfg_key *k = key_find(t, path, offset);

    return k && k->type != CFG_IGNORED ? k : NULL;
}

/* 1 when path is a strict prefix (at a '.') of some key: a mapping to descend. */
static int
key_is_parent_at(const struct cfg_table *t, const char *path, size_t n, int depth)
{
    size_t i;

    for (i = 0; i < t->n; i++) {
        if (t->keys[i].type == CFG_TABLE) {
            if (depth < CFG_MAX_DEPTH && key_is_parent_at(t->keys[i].sub, path, n, depth + 1))
                return 1;
        } else if (strncmp(t->keys[i].path, path, n) == 0 && t->keys[i].path[n] == '.') {
            return 1;
        }
    }
    return 0;
}

static int
key_is_parent(const struct cfg_table *t, const char *path)
{
    return key_is_parent_at(t, path, strlen(path), 0);
}

/* The ignored entry that covers path (equal to it or a parent of it). */
static const struct cfg_key *
key_ignored_at(const struct cfg_table *t, const char *path, int depth)
{
    const struct cfg_key *k;
    size_t i, n;

    for (i = 0; i < t->n; i++) {
        if (t->keys[i].type == CFG_TABLE && depth < CFG_MAX_DEPTH &&
            (k = key_ignored_at(t->keys[i].sub, path, depth + 1)) != NULL)
            return k;
        if (t->keys[i].type != CFG_IGNORED)
            continue;
        n = strlen(t->keys[i].path);
        if (strncmp(path, t->keys[i].path, n) == 0 && (path[n] == '\0' || path[n] == '.'))
            return &t->keys[i];
    }
    return NULL;
}

static const struct cfg_key *
key_ignored(const struct cfg_table *t, const char *path)
{
    return key_ignored_at(t, path, 0);
}

/* One key of a table with includes expanded: the entry and its offset. */
struct cfg_ref {
    const struct cfg_key *k;
    size_t off;
};

/* Writes the keys of t (includes expanded, no CFG_TABLE entries) to out
 * from index i on, or only counts them when out is NULL. Returns the new
 * index. */
static size_t
flatten(const struct cfg_table *t, size_t base, struct cfg_ref *out, size_t i, int depth)
{
    size_t j;

    for (j = 0; j < t->n; j++) {
        const struct cfg_key *k = &t->keys[j];
        if (k->type == CFG_TABLE) {
            if (depth < CFG_MAX_DEPTH)
                i = flatten(k->sub, base + k->offset, out, i, depth + 1);
            continue;
        }
        if (out) {
            out[i].k = k;
            out[i].off = base + k->offset;
        }
        i++;
    }
    return i;
}

/* The keys of t, sorted by path (cmp_ref); caller frees with tc_free. */
static struct cfg_ref *flatten_sorted(const struct cfg_table *t, size_t *n);

int
cfg_parse_duration(const char *s, int64_t *ms)
{
    static const struct {
        const char *unit;
        double ms;
    } units[] = {{"ns", 1e-6}, {"us", 1e-3}, {"\xc2\xb5s", 1e-3}, {"ms", 1},
                 {"s", 1000},  {"m", 60000}, {"h", 3600000}};
    double total = 0;
    const char *p = s;
    int neg = 0;

    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    if (strcmp(p, "0") == 0) {
        *ms = 0;
        return TC_OK;
    }
    if (*p == '\0')
        return TC_INVAL;
    while (*p) {
        char *end;
        double v;
        size_t i, best = 0, bestlen = 0;

        if (!((*p >= '0' && *p <= '9') || *p == '.'))
            return TC_INVAL;
        errno = 0;
        v = strtod(p, &end);
        if (end == p || errno || v < 0)
            return TC_INVAL;
        p = end;
        for (i = 0; i < TC_ARRAY_LEN(units); i++) {
            size_t ul = strlen(units[i].unit);
            if (strncmp(p, units[i].unit, ul) == 0 && ul > bestlen) {
                best = i;
                bestlen = ul;
            }
        }
        if (bestlen == 0)
            return TC_INVAL;
        total += v * units[best].ms;
        p += bestlen;
    }
    if (total > 9.2e15)
        return TC_INVAL;
    *ms = (int64_t)llround(neg ? -total : total);
    return TC_OK;
}

void
cfg_format_duration(int64_t ms, char *out, size_t outsz)
{
    char sec[32];
    const char *sign = ms < 0 ? "-" : "";
    int64_t a = ms < 0 ? -ms : ms, h, m, s, f;

    if (a == 0) {
        snprintf(out, outsz, "0s");
        return;
    }
    if (a < 1000) {
        snprintf(out, outsz, "%s%lldms", sign, (long long)a);
        return;
    }
    h = a / 3600000;
    m = a / 60000 % 60;
    s = a / 1000 % 60;
    f = a % 1000;
    if (f == 0)
        snprintf(sec, sizeof(sec), "%llds", (long long)s);
    else if (f % 100 == 0)
        snprintf(sec, sizeof(sec), "%lld.%llds", (long long)s, (long long)f / 100);
    else if (f % 10 == 0)
        snprintf(sec, sizeof(sec), "%lld.%02llds", (long long)s, (long long)f / 10);
    else
        snprintf(sec, sizeof(sec), "%lld.%03llds", (long long)s, (long long)f);
    if (h)
        snprintf(out, outsz, "%s%lldh%lldm%s", sign, (long long)h, (long long)m, sec);
    else if (m)
        snprintf(out, outsz, "%s%lldm%s", sign, (long long)m, sec);
    else
        snprintf(out, outsz, "%s%s", sign, sec);
}

void
cfg_format_duration_short(int64_t ms, char *out, size_t outsz)
{
    static const struct {
        int64_t ms;
        const char *unit;
    } units[] = {{3600000, "h"}, {60000, "m"}, {1000, "s"}, {1, "ms"}};
    int64_t a = ms < 0 ? -ms : ms;
    size_t i, len = 0;

    out[0] = '\0';
    if (a == 0) {
        snprintf(out, outsz, "0s");
        return;
    }
    if (ms < 0)
        len += (size_t)snprintf(out, outsz, "-");
    for (i = 0; i < TC_ARRAY_LEN(units) && len < outsz; i++) {
        if (a / units[i].ms == 0)
            continue;
        len += (size_t)snprintf(out + len, outsz - len, "%lld%s", (long long)(a / units[i].ms),
                                units[i].unit);
        a %= units[i].ms;
    }
}

static int
parse_bool(const char *s, int *v)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    size_t i;

    for (i = 0; i < TC_ARRAY_LEN(yes); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *v = 1;
            return TC_OK;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *v = 0;
            return TC_OK;
        }
    }
    return TC_INVAL;
}

static int
check_bounds(const struct cfg_key *k, double v, struct tc_err *err)
{
    char a[32], lo[32], hi[32];

    if (!(k->min < k->max) || (v >= k->min && v <= k->max))
        return TC_OK;
    if (k->type == CFG_DURATION) {
        cfg_format_duration_short((int64_t)v, a, sizeof(a));
        cfg_format_duration_short((int64_t)k->min, lo, sizeof(lo));
        cfg_format_duration_short((int64_t)k->max, hi, sizeof(hi));
        return tc_err_set(err, TC_INVAL, "%s: %s is out of range [%s, %s]", k->path, a, lo, hi);
    }
    return tc_err_set(err, TC_INVAL, "%s: %g is out of range [%g, %g]", k->path, v, k->min, k->max);
}

/* Tempo's "0 means the default": a 0 that did not come from the default
 * itself is replaced by the default. */
static int
zero_is_default(const struct cfg_key *k, const char *s)
{
    return (k->flags & CFG_ZERO_IS_DEFAULT) && k->def != NULL && s != k->def;
}

static int
set_string(char **slot, const char *s)
{
    char *d = tc_strdup(s);

    if (d == NULL)
        return TC_NOMEM;
    tc_free(*slot);
    *slot = d;
    return TC_OK;
}

static void
strlist_clear(struct cfg_strlist *l)
{
    size_t i;

    for (i = 0; i < l->n; i++)
        tc_free(l->v[i]);
    tc_free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int
strlist_push(struct cfg_strlist *l, const char *s, size_t len)
{
    char **nv = tc_reallocarray(l->v, l->n + 1, sizeof(char *));

    if (nv == NULL)
        return TC_NOMEM;
    l->v = nv;
    l->v[l->n] = tc_strndup(s, len);
    if (l->v[l->n] == NULL)
        return TC_NOMEM;
    l->n++;
    return TC_OK;
}

/* Sets a scalar-typed key from text. Lists take a comma-separated string and
 * JSON keys take JSON text (flags and defaults); files come in as nodes. */
static int
cfg_set_value(const struct cfg_key *k, void *target, const char *s, struct tc_err *err)
{
    char *end;
    int rc = TC_OK;

    switch (k->type) {
    case CFG_BOOL:
        if (parse_bool(s, (int *)field(target, k)) != TC_OK)
            return tc_err_set(err, TC_INVAL, "%s: invalid boolean \"%s\"", k->path, s);
        return TC_OK;
    case CFG_INT: {
        long long v;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno || end == s || *end)
            return tc_err_set(err, TC_INVAL, "%s: invalid integer \"%s\"", k->path, s);
        if (v == 0 && zero_is_default(k, s))
            return cfg_set_value(k, target, k->def, err);
        rc = check_bounds(k, (double)v, err);
        if (rc == TC_OK)
            *(int64_t *)field(target, k) = v;
        return rc;
    }
    case CFG_BYTES: {
        unsigned long long v;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || end == s || *end || *s == '-')
            return tc_err_set(err, TC_INVAL, "%s: invalid byte count \"%s\"", k->path, s);
        if (v == 0 && zero_is_default(k, s))
            return cfg_set_value(k, target, k->def, err);
        rc = check_bounds(k, (double)v, err);
        if (rc == TC_OK)
            *(uint64_t *)field(target, k) = v;
        return rc;
    }
    case CFG_FLOAT: {
        double v;
        errno = 0;
        v = strtod(s, &end);
        if (errno || end == s || *end || !isfinite(v))
            return tc_err_set(err, TC_INVAL, "%s: invalid number \"%s\"", k->path, s);
        rc = check_bounds(k, v, err);
        if (rc == TC_OK)
            *(double *)field(target, k) = v;
        return rc;
    }
    case CFG_DURATION: {
        int64_t ms;
        if (cfg_parse_duration(s, &ms) != TC_OK)
            return tc_err_set(err, TC_INVAL,
                              "%s: invalid duration \"%s\" (use Go syntax such as 30s, 5m, 1h30m)",
                              k->path, s);
        if (ms == 0 && zero_is_default(k, s))
            return cfg_set_value(k, target, k->def, err);
        rc = check_bounds(k, (double)ms, err);
        if (rc == TC_OK)
            *(int64_t *)field(target, k) = ms;
        return rc;
    }
    case CFG_STRING:
    case CFG_SECRET:
        rc = set_string((char **)field(target, k), s);
        break;
    case CFG_STRLIST: {
        struct cfg_strlist *l = field(target, k);
        const char *p = s;
        strlist_clear(l);
        while (*p && rc == TC_OK) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            rc = strlist_push(l, p, len);
            p += len + (comma ? 1 : 0);
        }
        break;
    }
    case CFG_JSON: {
        json_error_t je;
        json_t *j = json_loads(s, JSON_DECODE_ANY, &je);
        if (j == NULL)
            return tc_err_set(err, TC_INVAL, "%s: invalid JSON value: %s", k->path, je.text);
        json_decref(j);
        rc = set_string((char **)field(target, k), s);
        break;
    }
    case CFG_IGNORED:
    case CFG_TABLE:
        return TC_OK;
    }
    if (rc != TC_OK)
        return tc_err_set(err, rc, "%s: out of memory", k->path);
    return TC_OK;
}

int
cfg_defaults(const struct cfg_table *t, void *target, struct tc_err *err)
{
    size_t i;
    int rc;

    for (i = 0; i < t->n; i++) {
        const struct cfg_key *k = &t->keys[i];
        if (k->type == CFG_IGNORED)
            continue;
        if (k->type == CFG_TABLE) {
            if ((rc = cfg_defaults(k->sub, field(target, k), err)) != TC_OK)
                return rc;
            continue;
        }
        rc = cfg_set_value(k, target, k->def ? k->def : (k->type == CFG_JSON ? "null" : ""), err);
        if (rc != TC_OK && k->def == NULL) {
            /* numbers without a default start at zero */
            memset(field(target, k), 0,
                   k->type == CFG_BOOL    ? sizeof(int)
                   : k->type == CFG_FLOAT ? sizeof(double)
                                          : sizeof(int64_t));
            tc_err_clear(err);
            continue;
        }
        if (rc != TC_OK)
            return tc_err_prefix(err, "default");
    }
    return TC_OK;
}

int
cfg_set(const struct cfg_table *t, void *target, const char *path, const char *value,
        struct tc_err *err)
{
    size_t off;
    const struct cfg_key *k = key_find(t, path, &off);

    if (k == NULL)
        return tc_err_set(err, TC_INVAL, "unknown config key \"%s\"", path);
    /* the entry's own offset is applied by field() */
    return cfg_set_value(k, (char *)target + off - k->offset, value, err);
}

int
cfg_expand_env(const char *in, size_t len, struct buf *out, struct tc_err *err)
{
    size_t i = 0;
    int rc = TC_OK;

    while (i < len && rc == TC_OK) {
        const char *close, *dflt;
        char name[256];
        size_t nlen;
        const char *val;

        if (!(in[i] == '$' && i + 1 < len && in[i + 1] == '{')) {
            rc = buf_putc(out, in[i++]);
            continue;
        }
        close = memchr(in + i + 2, '}', len - i - 2);
        if (close == NULL)
            return tc_err_set(err, TC_PARSE, "unterminated ${ in config at byte %zu", i);
        dflt = memchr(in + i + 2, ':', (size_t)(close - in - i - 2));
        if (dflt && dflt[1] != '-')
            dflt = NULL;
        nlen = (size_t)((dflt ? dflt : close) - (in + i + 2));
        if (nlen == 0 || nlen >= sizeof(name))
            return tc_err_set(err, TC_PARSE, "bad variable reference in config at byte %zu", i);
        memcpy(name, in + i + 2, nlen);
        name[nlen] = '\0';
        val = getenv(name);
        if ((val == NULL || *val == '\0') && dflt)
            rc = buf_append(out, dflt + 2, (size_t)(close - dflt - 2));
        else if (val)
            rc = buf_puts(out, val);
        i = (size_t)(close - in) + 1;
    }
    if (rc != TC_OK)
        return tc_err_set(err, rc, "config: %s while expanding variables", tc_strerror(rc));
    return TC_OK;
}

/* ---- YAML walking ---- */

struct walk {
    const struct cfg_table *t;
    void *target;
    yaml_document_t *doc;
    const char *name;
    struct tc_err *err;
};

static int
walk_err(struct walk *w, const yaml_node_t *n, int code, const char *fmt, const char *a,
         const char *b)
{
    char msg[TC_ERR_LEN];

    snprintf(msg, sizeof(msg), fmt, a, b ? b : "");
    return tc_err_set(w->err, code, "%s:%lu:%lu: %s", w->name,
                      (unsigned long)n->start_mark.line + 1,
                      (unsigned long)n->start_mark.column + 1, msg);
}

static int
scalar_is_null(const yaml_node_t *n)
{
    const char *v = (const char *)n->data.scalar.value;

    return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           (*v == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0);
}

static json_t *
node_to_json(yaml_document_t *doc, yaml_node_t *n, int depth)
{
    json_t *j = NULL;

    if (n == NULL || depth > 64)
        return NULL;
    if (n->type == YAML_SCALAR_NODE) {
        const char *v = (const char *)n->data.scalar.value;
        char *end;
        int b;
        if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
            return json_stringn(v, n->data.scalar.length);
        if (scalar_is_null(n))
            return json_null();
        if (parse_bool(v, &b) == TC_OK && strcmp(v, "1") && strcmp(v, "0"))
            return json_boolean(b);
        errno = 0;
        {
            long long ll = strtoll(v, &end, 10);
            if (!errno && end != v && *end == '\0')
                return json_integer(ll);
        }
        {
            double d = strtod(v, &end);
            if (end != v && *end == '\0' && isfinite(d))
                return json_real(d);
        }
        return json_stringn(v, n->data.scalar.length);
    }
    if (n->type == YAML_SEQUENCE_NODE) {
        yaml_node_item_t *it;
        j = json_array();
        for (it = n->data.sequence.items.start; j && it < n->data.sequence.items.top; it++) {
            json_t *c = node_to_json(doc, yaml_document_get_node(doc, *it), depth + 1);
            if (c == NULL || json_array_append_new(j, c) != 0) {
                json_decref(j);
                return NULL;
            }
        }
        return j;
    }
    if (n->type == YAML_MAPPING_NODE) {
        yaml_node_pair_t *p;
        j = json_object();
        for (p = n->data.mapping.pairs.start; j && p < n->data.mapping.pairs.top; p++) {
            yaml_node_t *kn = yaml_document_get_node(doc, p->key);
            json_t *c;
            if (kn == NULL || kn->type != YAML_SCALAR_NODE) {
                json_decref(j);
                return NULL;
            }
            c = node_to_json(doc, yaml_document_get_node(doc, p->value), depth + 1);
            if (c == NULL || json_object_set_new(j, (const char *)kn->data.scalar.value, c) != 0) {
                json_decref(j);
                return NULL;
            }
        }
    }
    return j;
}

/* target is the struct k belongs to (its included table's, if any). */
static int
apply_node(struct walk *w, const struct cfg_key *k, void *target, yaml_node_t *n)
{
    int rc;

    if (k->type == CFG_JSON) {
        json_t *j = node_to_json(w->doc, n, 0);
        char *text;
        if (j == NULL)
            return walk_err(w, n, TC_PARSE, "%s: cannot convert value%s", k->path, NULL);
        text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        json_decref(j);
        if (text == NULL)
            return tc_err_set(w->err, TC_NOMEM, "%s: out of memory", k->path);
        rc = set_string((char **)field(target, k), text);
        free(text); /* lint-ok: jansson allocates with malloc */
        return rc;
    }
    if (k->type == CFG_STRLIST) {
        struct cfg_strlist *l = field(target, k);
        yaml_node_item_t *it;
        if (n->type == YAML_SCALAR_NODE && scalar_is_null(n)) {
            strlist_clear(l);
            return TC_OK;
        }
        if (n->type != YAML_SEQUENCE_NODE)
            return walk_err(w, n, TC_INVAL, "%s: expected a list%s", k->path, NULL);
        strlist_clear(l);
        for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
            yaml_node_t *c = yaml_document_get_node(w->doc, *it);
            if (c == NULL || c->type != YAML_SCALAR_NODE)
                return walk_err(w, c ? c : n, TC_INVAL, "%s: list items must be strings%s", k->path,
                                NULL);
            rc = strlist_push(l, (const char *)c->data.scalar.value, c->data.scalar.length);
            if (rc != TC_OK)
                return tc_err_set(w->err, rc, "%s: out of memory", k->path);
        }
        return TC_OK;
    }
    if (n->type != YAML_SCALAR_NODE)
        return walk_err(w, n, TC_INVAL, "%s: expected a single value, got a %s", k->path,
                        n->type == YAML_MAPPING_NODE ? "mapping" : "list");
    if (scalar_is_null(n))
        return TC_OK; /* "key:" with no value keeps the default */
    rc = cfg_set_value(k, target, (const char *)n->data.scalar.value, w->err);
    if (rc != TC_OK) {
        char msg[TC_ERR_LEN];
        snprintf(msg, sizeof(msg), "%s", w->err->msg);
        return walk_err(w, n, rc, "%s%s", msg, NULL);
    }
    return TC_OK;
}

static int
walk_mapping(struct walk *w, yaml_node_t *map, const char *prefix, int depth)
{
    yaml_node_pair_t *p;
    int rc;

    if (depth > 32)
        return walk_err(w, map, TC_PARSE, "config nested too deeply at %s%s", prefix, NULL);
    for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(w->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(w->doc, p->value);
        const struct cfg_key *k, *ig;
        size_t off;
        char path[CFG_PATH_MAX];

        if (kn == NULL || vn == NULL || kn->type != YAML_SCALAR_NODE)
            return walk_err(w, kn ? kn : map, TC_PARSE, "keys must be plain strings%s%s", "", NULL);
        if ((size_t)snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "",
                             (const char *)kn->data.scalar.value) >= sizeof(path))
            return walk_err(w, kn, TC_PARSE, "key path too long: %s%s", prefix, NULL);
        /* a real key wins, then a parent of real keys (even inside an ignored
         * subtree such as "server"), then the ignored subtree itself */
        k = key_find(w->t, path, &off);
        if (k && k->type != CFG_IGNORED) {
            rc = apply_node(w, k, (char *)w->target + off - k->offset, vn);
        } else if (key_is_parent(w->t, path) && vn->type == YAML_MAPPING_NODE) {
            rc = walk_mapping(w, vn, path, depth + 1);
        } else if ((ig = key_ignored(w->t, path)) != NULL) {
            if (!(vn->type == YAML_SCALAR_NODE && scalar_is_null(vn)))
                LOG_WARN("config key is not used by this program; ignored", KV_S("key", path),
                         KV_S("file", w->name), KV_I("line", kn->start_mark.line + 1),
                         KV_S("reason", ig->doc ? ig->doc : ""));
            rc = TC_OK;
        } else if (key_is_parent(w->t, path)) {
            if (vn->type == YAML_SCALAR_NODE && scalar_is_null(vn))
                rc = TC_OK;
            else
                rc = walk_err(w, vn, TC_INVAL, "%s: expected a mapping%s", path, NULL);
        } else {
            rc = walk_err(w, kn, TC_INVAL, "unknown config key \"%s\"%s", path, NULL);
        }
        if (rc != TC_OK)
            return rc;
    }
    return TC_OK;
}

/* Loads one YAML document; on failure err names file, line and column. */
static int
load_document(const char *yaml, size_t len, const char *name, yaml_document_t *doc,
              struct tc_err *err)
{
    yaml_parser_t parser;
    int rc = TC_OK;

    if (!yaml_parser_initialize(&parser))
        return tc_err_set(err, TC_NOMEM, "%s: cannot start YAML parser", name);
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    if (!yaml_parser_load(&parser, doc))
        rc = tc_err_set(err, TC_PARSE, "%s:%lu:%lu: %s", name,
                        (unsigned long)parser.problem_mark.line + 1,
                        (unsigned long)parser.problem_mark.column + 1,
                        parser.problem ? parser.problem : "invalid YAML");
    yaml_parser_delete(&parser);
    return rc;
}

int
cfg_load_yaml(const struct cfg_table *t, void *target, const char *yaml, size_t len,
              const char *name, struct tc_err *err)
{
    yaml_document_t doc;
    yaml_node_t *root;
    struct walk w = {t, target, &doc, name, err};
    int rc = load_document(yaml, len, name, &doc, err);

    if (rc != TC_OK)
        return rc;
    root = yaml_document_get_root_node(&doc);
    if (root == NULL || (root->type == YAML_SCALAR_NODE && scalar_is_null(root)))
        rc = TC_OK; /* empty file: defaults only */
    else if (root->type != YAML_MAPPING_NODE)
        rc = walk_err(&w, root, TC_PARSE, "top level must be a mapping%s%s", "", NULL);
    else
        rc = walk_mapping(&w, root, "", 0);
    yaml_document_delete(&doc);
    return rc;
}

int
cfg_yaml_to_json(const char *yaml, size_t len, const char *name, json_t **out, struct tc_err *err)
{
    yaml_document_t doc;
    yaml_node_t *root;
    int rc = load_document(yaml, len, name, &doc, err);

    *out = NULL;
    if (rc != TC_OK)
        return rc;
    root = yaml_document_get_root_node(&doc);
    *out = root ? node_to_json(&doc, root, 0) : json_null();
    if (*out == NULL)
        rc = tc_err_set(err, TC_PARSE, "%s: cannot convert YAML (non-string keys or too deep)",
                        name);
    yaml_document_delete(&doc);
    return rc;
}

/* Splits "-name=value" / "--name=value" / "-name value". Returns the index of
 * the next unread argument, or -1 on a malformed argument. */
static int
next_flag(const struct cfg_table *t, int argc, char **argv, int i, char *name, size_t namesz,
          const char **value)
{
    const char *a = argv[i], *eq;
    const struct cfg_key *k;
    size_t n;

    if (a[0] != '-')
        return -1;
    a += a[1] == '-' ? 2 : 1;
    eq = strchr(a, '=');
    n = eq ? (size_t)(eq - a) : strlen(a);
    if (n == 0 || n >= namesz)
        return -1;
    memcpy(name, a, n);
    name[n] = '\0';
    if (eq) {
        *value = eq + 1;
        return i + 1;
    }
    k = key_find(t, name, NULL);
    if (strcmp(name, "config.expand-env") == 0 || (k && k->type == CFG_BOOL)) {
        *value = "true";
        return i + 1;
    }
    if (i + 1 >= argc)
        return -1;
    *value = argv[i + 1];
    return i + 2;
}

int
cfg_load(const struct cfg_table *t, void *target, int argc, char **argv, struct tc_err *err)
{
    const char *file = NULL, *value;
    char name[CFG_PATH_MAX];
    int i, next, expand = 0, rc;
    struct buf raw, expanded;

    rc = cfg_defaults(t, target, err);
    if (rc != TC_OK)
        return rc;
    for (i = 1; i < argc; i = next) {
        next = next_flag(t, argc, argv, i, name, sizeof(name), &value);
        if (next < 0)
            return tc_err_set(err, TC_INVAL, "bad argument \"%s\" (flags look like -key=value)",
                              argv[i]);
        if (strcmp(name, "config.file") == 0)
            file = value;
        else if (strcmp(name, "config.expand-env") == 0 && parse_bool(value, &expand) != TC_OK)
            return tc_err_set(err, TC_INVAL, "-config.expand-env: invalid boolean \"%s\"", value);
    }
    if (file) {
        buf_init(&raw, CFG_FILE_MAX);
        buf_init(&expanded, CFG_FILE_MAX);
        if ((rc = buf_read_file(&raw, file, err)) != TC_OK)
            tc_err_prefix(err, "config file");
        if (rc == TC_OK && expand)
            rc = cfg_expand_env(raw.data ? raw.data : "", raw.len, &expanded, err);
        if (rc == TC_OK) {
            struct buf *src = expand ? &expanded : &raw;
            rc = cfg_load_yaml(t, target, src->data ? src->data : "", src->len, file, err);
        }
        buf_cleanup(&raw);
        buf_cleanup(&expanded);
        if (rc != TC_OK)
            return rc;
    }
    for (i = 1; i < argc; i = next) {
        next = next_flag(t, argc, argv, i, name, sizeof(name), &value);
        if (strcmp(name, "config.file") == 0 || strcmp(name, "config.expand-env") == 0)
            continue;
        if (key_find(t, name, NULL) == NULL)
            return tc_err_set(err, TC_INVAL, "unknown flag -%s", name);
        rc = cfg_set(t, target, name, value, err);
        if (rc != TC_OK)
            return tc_err_prefix(err, "flag -%s", name);
    }
    return TC_OK;
}

/* ---- rendering ---- */

static int
cmp_ref(const void *a, const void *b)
{
    const char *p = ((const struct cfg_ref *)a)->k->path;
    const char *q = ((const struct cfg_ref *)b)->k->path;

    /* compare segment-wise so "a.b.c" stays next to "a.b.d", before "a.bc" */
    while (*p && *p == *q) {
        p++;
        q++;
    }
    if (*p == '.' && *q != '\0')
        return -1;
    if (*q == '.' && *p != '\0')
        return 1;
    return (unsigned char)*p - (unsigned char)*q;
}

static struct cfg_ref *
flatten_sorted(const struct cfg_table *t, size_t *n)
{
    size_t count = flatten(t, 0, NULL, 0, 0);
    struct cfg_ref *refs = tc_calloc(count ? count : 1, sizeof(*refs));

    if (refs == NULL)
        return NULL;
    *n = flatten(t, 0, refs, 0, 0);
    qsort(refs, *n, sizeof(*refs), cmp_ref);
    return refs;
}

/* Emits s plain when YAML would read it back as the same string, else as a
 * JSON string (which is a valid YAML double-quoted scalar). */
static int
put_yaml_string(struct buf *out, const char *s)
{
    static const char *const special[] = {"true", "false", "yes", "no",   "on",    "off",  "null",
                                          "~",    "y",     "n",   "True", "False", "TRUE", "FALSE",
                                          "Yes",  "No",    "ON",  "OFF",  "Null",  "NULL"};
    json_t *j;
    char *text, *end;
    size_t i;
    int plain = *s != '\0' && strchr("-?:,[]{}#&*!|>'\"%@` ", *s) == NULL &&
                s[strlen(s) - 1] != ' ' && strpbrk(s, "\n\t\r") == NULL &&
                strstr(s, ": ") == NULL && strstr(s, " #") == NULL && s[strlen(s) - 1] != ':';
    int rc;

    for (i = 0; plain && i < TC_ARRAY_LEN(special); i++)
        if (strcmp(s, special[i]) == 0)
            plain = 0;
    if (plain) {
        errno = 0;
        (void)strtod(s, &end);
        if (end != s && *end == '\0')
            plain = 0;
    }
    if (plain)
        return buf_puts(out, s);
    j = json_string(s);
    text = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    if (text == NULL)
        return TC_NOMEM;
    rc = buf_puts(out, text);
    free(text); /* lint-ok: jansson allocates with malloc */
    return rc;
}

static int
put_value(struct buf *out, const struct cfg_key *k, const void *target, int indent)
{
    const void *f = cfield(target, k);
    char tmp[64];
    size_t i;
    int rc = TC_OK;

    switch (k->type) {
    case CFG_BOOL:
        return buf_puts(out, *(const int *)f ? " true\n" : " false\n");
    case CFG_INT:
        return buf_printf(out, " %lld\n", (long long)*(const int64_t *)f);
    case CFG_BYTES:
        return buf_printf(out, " %llu\n", (unsigned long long)*(const uint64_t *)f);
    case CFG_FLOAT:
        return buf_printf(out, " %.17g\n", *(const double *)f);
    case CFG_DURATION:
        cfg_format_duration(*(const int64_t *)f, tmp, sizeof(tmp));
        return buf_printf(out, " %s\n", tmp);
    case CFG_SECRET:
        return buf_puts(out,
                        *(char *const *)f && **(char *const *)f ? " \"********\"\n" : " \"\"\n");
    case CFG_STRING:
        rc = buf_putc(out, ' ');
        rc = rc ? rc : put_yaml_string(out, *(char *const *)f ? *(char *const *)f : "");
        return rc ? rc : buf_putc(out, '\n');
    case CFG_JSON:
        /* JSON is YAML flow syntax */
        return buf_printf(out, " %s\n", *(char *const *)f ? *(char *const *)f : "null");
    case CFG_STRLIST: {
        const struct cfg_strlist *l = f;
        if (l->n == 0)
            return buf_puts(out, " []\n");
        rc = buf_putc(out, '\n');
        for (i = 0; i < l->n && rc == TC_OK; i++) {
            rc = buf_printf(out, "%*s- ", indent, "");
            rc = rc ? rc : put_yaml_string(out, l->v[i]);
            rc = rc ? rc : buf_putc(out, '\n');
        }
        return rc;
    }
    case CFG_IGNORED:
    case CFG_TABLE:
        break;
    }
    return TC_OK;
}

int
cfg_render_yaml(const struct cfg_table *t, const void *target, struct buf *out)
{
    struct cfg_ref *refs;
    const char *prev = "";
    size_t i, n = 0;
    int rc = TC_OK;

    refs = flatten_sorted(t, &n);
    if (refs == NULL)
        return TC_NOMEM;
    for (i = 0; i < n && rc == TC_OK; i++) {
        const struct cfg_key *k = refs[i].k;
        const char *p = k->path, *q = prev, *seg, *dot;
        int depth = 0;

        if (k->type == CFG_IGNORED)
            continue;
        /* skip the segments shared with the previous key */
        for (;;) {
            const char *pd = strchr(p, '.'), *qd = strchr(q, '.');
            if (!pd || !qd || pd - p != qd - q || strncmp(p, q, (size_t)(pd - p)) != 0)
                break;
            p = pd + 1;
            q = qd + 1;
            depth++;
        }
        for (seg = p; (dot = strchr(seg, '.')) != NULL && rc == TC_OK; seg = dot + 1, depth++)
            rc = buf_printf(out, "%*s%.*s:\n", depth * 4, "", (int)(dot - seg), seg);
        rc = rc ? rc : buf_printf(out, "%*s%s:", depth * 4, "", seg);
        rc = rc ? rc
                : put_value(out, k, (const char *)target + refs[i].off - k->offset, depth * 4 + 4);
        prev = k->path;
    }
    tc_free(refs);
    return rc;
}

static const char *const cfg_type_names[] = {"bool",     "int",     "bytes",  "float",
                                             "duration", "string",  "secret", "list",
                                             "json",     "ignored", "table"};

int
cfg_render_markdown(const struct cfg_table *t, struct buf *out)
{
    struct cfg_ref *refs;
    size_t i, n = 0;
    int rc, pass;

    refs = flatten_sorted(t, &n);
    if (refs == NULL)
        return TC_NOMEM;
    rc = buf_puts(out, "| key | type | default | meaning |\n|---|---|---|---|\n");
    for (pass = 0; pass < 2 && rc == TC_OK; pass++) {
        for (i = 0; i < n && rc == TC_OK; i++) {
            const struct cfg_key *k = refs[i].k;
            if ((k->type == CFG_IGNORED) != pass)
                continue;
            rc =
                buf_printf(out, "| `%s` | %s | %s%s%s | %s%s |\n", k->path, cfg_type_names[k->type],
                           k->def && *k->def ? "`" : "", k->def && *k->def ? k->def : "",
                           k->def && *k->def ? "`" : "", k->doc ? k->doc : "",
                           k->flags & CFG_ZERO_IS_DEFAULT ? " 0 means the default." : "");
        }
    }
    tc_free(refs);
    return rc;
}

/* The typed JSON form of a default or bound given as text (def) or number. */
static json_t *
schema_value(const struct cfg_key *k, const char *text, double num)
{
    char tmp[64];
    int b;

    switch (k->type) {
    case CFG_BOOL:
        return text && parse_bool(text, &b) == TC_OK ? json_boolean(b) : json_null();
    case CFG_INT:
    case CFG_BYTES:
        return json_integer(text ? (json_int_t)strtoll(text, NULL, 10) : (json_int_t)num);
    case CFG_FLOAT:
        return json_real(text ? strtod(text, NULL) : num);
    case CFG_DURATION: {
        int64_t ms = (int64_t)num;
        if (text && cfg_parse_duration(text, &ms) != TC_OK)
            return json_null();
        cfg_format_duration_short(ms, tmp, sizeof(tmp));
        return json_string(tmp);
    }
    case CFG_SECRET:
    case CFG_STRING:
        return json_string(text ? text : "");
    case CFG_JSON: {
        json_t *j = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
        return j ? j : json_null();
    }
    case CFG_STRLIST:
        return json_array();
    case CFG_IGNORED:
    case CFG_TABLE:
        break;
    }
    return json_null();
}

int
cfg_render_json(const struct cfg_table *t, struct buf *out)
{
    struct cfg_ref *refs;
    json_t *arr = json_array(), *o;
    char *text = NULL;
    size_t i, n = 0;
    int rc = TC_NOMEM, pass;

    refs = flatten_sorted(t, &n);
    if (refs == NULL || arr == NULL)
        goto out;
    for (pass = 0; pass < 2; pass++) {
        for (i = 0; i < n; i++) {
            const struct cfg_key *k = refs[i].k;
            if ((k->type == CFG_IGNORED) != pass)
                continue;
            o = json_pack("{s:s, s:s, s:s}", "key", k->path, "type", cfg_type_names[k->type], "doc",
                          k->doc ? k->doc : "");
            if (o == NULL || json_array_append_new(arr, o) != 0)
                goto out;
            if (k->type == CFG_IGNORED)
                continue;
            json_object_set_new(o, "flag", k->flag ? json_string(k->flag) : json_null());
            json_object_set_new(o, "default", schema_value(k, k->def, 0));
            json_object_set_new(o, "zero_is_default", json_boolean(k->flags & CFG_ZERO_IS_DEFAULT));
            if (k->min < k->max) {
                json_object_set_new(o, "min", schema_value(k, NULL, k->min));
                json_object_set_new(o, "max", schema_value(k, NULL, k->max));
            }
        }
    }
    text = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text == NULL)
        goto out;
    rc = buf_puts(out, text);
    rc = rc ? rc : buf_putc(out, '\n');
out:
    free(text); /* lint-ok: jansson allocates with malloc */
    json_decref(arr);
    tc_free(refs);
    return rc;
}

void
cfg_cleanup(const struct cfg_table *t, void *target)
{
    size_t i;

    for (i = 0; i < t->n; i++) {
        const struct cfg_key *k = &t->keys[i];
        switch (k->type) {
        case CFG_TABLE:
            cfg_cleanup(k->sub, field(target, k));
            break;
        case CFG_STRING:
        case CFG_SECRET:
        case CFG_JSON:
            tc_free(*(char **)field(target, k));
            *(char **)field(target, k) = NULL;
            break;
        case CFG_STRLIST:
            strlist_clear(field(target, k));
            break;
        default:
            break;
        }
    }
}
