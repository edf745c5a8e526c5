/* yamljson.c - YAML <-> JSON with libyaml events (see yamljson.h). */
#include "yamljson.h"

#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "base/mem.h"

#define YAMLJSON_MAX_DEPTH 64

struct yj_parser {
    yaml_parser_t p;
    const char *name;
    struct tc_err *err;
};

static int
yj_parse_err(struct yj_parser *yp, const yaml_mark_t *m, const char *what)
{
    return tc_err_set(yp->err, TC_PARSE, "%s:%zu:%zu: %s", yp->name, m->line + 1, m->column + 1,
                      what);
}

static int
yj_next(struct yj_parser *yp, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&yp->p, ev)) {
        const char *prob = yp->p.problem ? yp->p.problem : "invalid YAML";
        return tc_err_set(yp->err, TC_PARSE, "%s:%zu:%zu: %s", yp->name,
                          yp->p.problem_mark.line + 1, yp->p.problem_mark.column + 1, prob);
    }
    return TC_OK;
}

int
yamljson_match(const char *s, const char *re)
{
    regex_t rx;
    int ok;

    if (regcomp(&rx, re, REG_EXTENDED | REG_NOSUB) != 0)
        return 0;
    ok = regexec(&rx, s, 0, NULL, 0) == 0;
    regfree(&rx);
    return ok;
}

/* Plain scalar resolution of the YAML 1.2 core schema. */
static json_t *
yj_resolve_plain(const char *s, size_t len)
{
    if (len == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
        strcmp(s, "NULL") == 0)
        return json_null();
    if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0)
        return json_true();
    if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0)
        return json_false();
    if (yamljson_match(s, "^[-+]?[0-9]+$")) {
        char *end;
        long long v;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno == 0 && *end == '\0')
            return json_integer(v);
        return json_stringn(s, len); /* out of range: keep the text */
    }
    if (yamljson_match(s, "^[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?$")) {
        char *end;
        double d = strtod(s, &end);
        if (*end == '\0')
            return json_real(d);
    }
    return json_stringn(s, len);
}

static int yj_node(struct yj_parser *yp, yaml_event_t *ev, int depth, json_t **out);

static int
yj_mapping(struct yj_parser *yp, int depth, json_t **out)
{
    json_t *obj = json_object();
    yaml_event_t ev;
    int rc;

    if (obj == NULL)
        return tc_err_set(yp->err, TC_NOMEM, "out of memory");
    for (;;) {
        json_t *val = NULL;
        char *key;
        yaml_mark_t km;

        if ((rc = yj_next(yp, &ev)) != TC_OK)
            goto fail;
        if (ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        km = ev.start_mark;
        if (ev.type != YAML_SCALAR_EVENT) {
            rc = yj_parse_err(yp, &km, "mapping keys must be scalars");
            yaml_event_delete(&ev);
            goto fail;
        }
        key = tc_strndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
        yaml_event_delete(&ev);
        if (key == NULL) {
            rc = tc_err_set(yp->err, TC_NOMEM, "out of memory");
            goto fail;
        }
        if (strcmp(key, "<<") == 0 || json_object_get(obj, key) != NULL) {
            char msg[160];
            snprintf(msg, sizeof(msg), "%s key \"%.100s\"",
                     strcmp(key, "<<") == 0 ? "unsupported merge" : "duplicate", key);
            tc_free(key);
            rc = yj_parse_err(yp, &km, msg);
            goto fail;
        }
        if ((rc = yj_next(yp, &ev)) != TC_OK) {
            tc_free(key);
            goto fail;
        }
        rc = yj_node(yp, &ev, depth + 1, &val);
        if (rc != TC_OK) {
            tc_free(key);
            goto fail;
        }
        if (json_object_set_new(obj, key, val) != 0) {
            tc_free(key);
            rc = tc_err_set(yp->err, TC_NOMEM, "out of memory");
            goto fail;
        }
        tc_free(key);
    }
    *out = obj;
    return TC_OK;
fail:
    json_decref(obj);
    return rc;
}

static int
yj_sequence(struct yj_parser *yp, int depth, json_t **out)
{
    json_t *arr = json_array();
    yaml_event_t ev;
    int rc;

    if (arr == NULL)
        return tc_err_set(yp->err, TC_NOMEM, "out of memory");
    for (;;) {
        json_t *val = NULL;

        if ((rc = yj_next(yp, &ev)) != TC_OK)
            goto fail;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if ((rc = yj_node(yp, &ev, depth + 1, &val)) != TC_OK)
            goto fail;
        if (json_array_append_new(arr, val) != 0) {
            rc = tc_err_set(yp->err, TC_NOMEM, "out of memory");
            goto fail;
        }
    }
    *out = arr;
    return TC_OK;
fail:
    json_decref(arr);
    return rc;
}

/* yj_node() consumes ev (always deleted) and the events of its children. */
static int
yj_node(struct yj_parser *yp, yaml_event_t *ev, int depth, json_t **out)
{
    yaml_mark_t m = ev->start_mark;
    int rc;

    if (depth > YAMLJSON_MAX_DEPTH) {
        yaml_event_delete(ev);
        return yj_parse_err(yp, &m, "nesting too deep");
    }
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        yaml_event_delete(ev);
        return yj_parse_err(yp, &m, "aliases are not supported");
    case YAML_SCALAR_EVENT: {
        const char *s = (const char *)ev->data.scalar.value;
        size_t n = ev->data.scalar.length;
        const char *tag = (const char *)ev->data.scalar.tag;

        if (strlen(s) != n) {
            yaml_event_delete(ev);
            return yj_parse_err(yp, &m, "NUL byte in scalar");
        }
        if (tag != NULL && strcmp(tag, YAML_STR_TAG) == 0)
            *out = json_stringn(s, n);
        else if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && ev->data.scalar.plain_implicit)
            *out = yj_resolve_plain(s, n);
        else
            *out = json_stringn(s, n);
        yaml_event_delete(ev);
        if (*out == NULL)
            return yj_parse_err(yp, &m, "scalar is not valid UTF-8");
        return TC_OK;
    }
    case YAML_MAPPING_START_EVENT:
        yaml_event_delete(ev);
        rc = yj_mapping(yp, depth, out);
        return rc;
    case YAML_SEQUENCE_START_EVENT:
        yaml_event_delete(ev);
        rc = yj_sequence(yp, depth, out);
        return rc;
    default:
        yaml_event_delete(ev);
        return yj_parse_err(yp, &m, "unexpected YAML event");
    }
}

int
yamljson_parse(const char *text, size_t len, const char *name, json_t **out, struct tc_err *err)
{
    struct yj_parser yp = {.name = name ? name : "<input>", .err = err};
    json_t *docs = json_array();
    yaml_event_t ev;
    int rc = TC_OK;

    *out = NULL;
    if (docs == NULL)
        return tc_err_set(err, TC_NOMEM, "out of memory");
    if (!yaml_parser_initialize(&yp.p)) {
        json_decref(docs);
        return tc_err_set(err, TC_NOMEM, "yaml parser init failed");
    }
    yaml_parser_set_input_string(&yp.p, (const unsigned char *)text, len);
    for (;;) {
        if ((rc = yj_next(&yp, &ev)) != TC_OK)
            goto out;
        if (ev.type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (ev.type == YAML_DOCUMENT_START_EVENT) {
            json_t *doc = NULL;
            yaml_event_delete(&ev);
            if ((rc = yj_next(&yp, &ev)) != TC_OK)
                goto out;
            if ((rc = yj_node(&yp, &ev, 0, &doc)) != TC_OK)
                goto out;
            if ((rc = yj_next(&yp, &ev)) != TC_OK) { /* DOCUMENT-END */
                json_decref(doc);
                goto out;
            }
            yaml_event_delete(&ev);
            if (json_is_null(doc))
                json_decref(doc);
            else
                json_array_append_new(docs, doc);
            continue;
        }
        yaml_event_delete(&ev); /* STREAM-START */
    }
out:
    yaml_parser_delete(&yp.p);
    if (rc != TC_OK) {
        json_decref(docs);
        return rc;
    }
    *out = docs;
    return TC_OK;
}

/* ---- emitting ---- */

int
yamljson_plain_ok(const char *s)
{
    /* Words YAML 1.1 resolves to bool or null. */
    static const char *const words[] = {"y",     "Y",     "yes",  "Yes",  "YES",  "n",    "N",
                                        "no",    "No",    "NO",   "true", "True", "TRUE", "false",
                                        "False", "FALSE", "on",   "On",   "ON",   "off",  "Off",
                                        "OFF",   "null",  "Null", "NULL", "~",    "<<",   "="};
    size_t i;

    if (*s == '\0')
        return 0;
    for (i = 0; i < TC_ARRAY_LEN(words); i++)
        if (strcmp(s, words[i]) == 0)
            return 0;
    /* Anything that starts like a number (ints, floats, 0x, octal,
     * sexagesimal, .inf, .nan) is quoted; over-quoting is harmless. */
    if (isdigit((unsigned char)s[0]) || s[0] == '+' || s[0] == '-' || s[0] == '.')
        return 0;
    return 1;
}

static int
yj_emit_ev(yaml_emitter_t *em, yaml_event_t *ev, struct tc_err *err)
{
    if (!yaml_emitter_emit(em, ev))
        return tc_err_set(err, TC_ERR, "yaml emit: %s", em->problem ? em->problem : "failed");
    return TC_OK;
}

static int
yj_scalar(yaml_emitter_t *em, const char *s, size_t n, yaml_scalar_style_t style,
          struct tc_err *err)
{
    yaml_event_t ev;

    if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)n, 1, 1, style))
        return tc_err_set(err, TC_NOMEM, "yaml scalar event");
    return yj_emit_ev(em, &ev, err);
}

static int
yj_str(yaml_emitter_t *em, const char *s, size_t n, struct tc_err *err)
{
    yaml_scalar_style_t style;

    if (memchr(s, '\n', n) != NULL)
        style = YAML_LITERAL_SCALAR_STYLE; /* libyaml falls back to quoted if unsafe */
    else if (strlen(s) != n || !yamljson_plain_ok(s))
        style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    else
        style = YAML_PLAIN_SCALAR_STYLE; /* libyaml quotes when plain is not allowed */
    return yj_scalar(em, s, n, style, err);
}

static int
yj_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int
yj_value(yaml_emitter_t *em, const json_t *v, int depth, struct tc_err *err)
{
    yaml_event_t ev;
    char num[64];
    int rc;

    if (depth > YAMLJSON_MAX_DEPTH)
        return tc_err_set(err, TC_TOOBIG, "yaml emit: nesting too deep");
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        size_t n = json_object_size(v), i = 0;
        const char **keys = tc_calloc(n ? n : 1, sizeof(*keys));
        const char *k;
        json_t *val;

        if (keys == NULL)
            return tc_err_set(err, TC_NOMEM, "out of memory");
        json_object_foreach((json_t *)v, k, val) keys[i++] = k;
        qsort(keys, n, sizeof(*keys), yj_cmp_str);
        yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
        rc = yj_emit_ev(em, &ev, err);
        for (i = 0; rc == TC_OK && i < n; i++) {
            rc = yj_str(em, keys[i], strlen(keys[i]), err);
            if (rc == TC_OK)
                rc = yj_value(em, json_object_get(v, keys[i]), depth + 1, err);
        }
        tc_free(keys);
        if (rc != TC_OK)
            return rc;
        yaml_mapping_end_event_initialize(&ev);
        return yj_emit_ev(em, &ev, err);
    }
    case JSON_ARRAY: {
        size_t i;
        yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
        if ((rc = yj_emit_ev(em, &ev, err)) != TC_OK)
            return rc;
        for (i = 0; i < json_array_size(v); i++)
            if ((rc = yj_value(em, json_array_get(v, i), depth + 1, err)) != TC_OK)
                return rc;
        yaml_sequence_end_event_initialize(&ev);
        return yj_emit_ev(em, &ev, err);
    }
    case JSON_STRING:
        return yj_str(em, json_string_value(v), json_string_length(v), err);
    case JSON_INTEGER:
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return yj_scalar(em, num, strlen(num), YAML_PLAIN_SCALAR_STYLE, err);
    case JSON_REAL:
        snprintf(num, sizeof(num), "%.17g", json_real_value(v));
        if (strspn(num, "-0123456789") == strlen(num))
            snprintf(num + strlen(num), sizeof(num) - strlen(num), ".0");
        return yj_scalar(em, num, strlen(num), YAML_PLAIN_SCALAR_STYLE, err);
    case JSON_TRUE:
        return yj_scalar(em, "true", 4, YAML_PLAIN_SCALAR_STYLE, err);
    case JSON_FALSE:
        return yj_scalar(em, "false", 5, YAML_PLAIN_SCALAR_STYLE, err);
    case JSON_NULL:
    default:
        return yj_scalar(em, "null", 4, YAML_PLAIN_SCALAR_STYLE, err);
    }
}

static int
yj_write(void *data, unsigned char *p, size_t n)
{
    return buf_append((struct buf *)data, p, n) == TC_OK;
}

static int
yj_emit_docs(const json_t *const *docs, size_t n, struct buf *out, struct tc_err *err)
{
    yaml_emitter_t em;
    yaml_event_t ev;
    size_t i;
    int rc = TC_OK;

    if (!yaml_emitter_initialize(&em))
        return tc_err_set(err, TC_NOMEM, "yaml emitter init failed");
    yaml_emitter_set_output(&em, yj_write, out);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, -1);
    yaml_emitter_set_indent(&em, 2);
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    rc = yj_emit_ev(&em, &ev, err);
    for (i = 0; rc == TC_OK && i < n; i++) {
        yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, i == 0);
        if ((rc = yj_emit_ev(&em, &ev, err)) != TC_OK)
            break;
        if ((rc = yj_value(&em, docs[i], 0, err)) != TC_OK)
            break;
        yaml_document_end_event_initialize(&ev, 1);
        rc = yj_emit_ev(&em, &ev, err);
    }
    if (rc == TC_OK) {
        yaml_stream_end_event_initialize(&ev);
        rc = yj_emit_ev(&em, &ev, err);
    }
    yaml_emitter_delete(&em);
    return rc;
}

int
yamljson_emit(const json_t *v, struct buf *out, struct tc_err *err)
{
    return yj_emit_docs(&v, 1, out, err);
}

int
yamljson_emit_stream(const json_t *docs, struct buf *out, struct tc_err *err)
{
    size_t n = json_array_size(docs), i;
    const json_t **v;
    int rc;

    if (n == 0)
        return TC_OK;
    v = tc_calloc(n, sizeof(*v));
    if (v == NULL)
        return tc_err_set(err, TC_NOMEM, "out of memory");
    for (i = 0; i < n; i++)
        v[i] = json_array_get(docs, i);
    rc = yj_emit_docs(v, n, out, err);
    tc_free(v);
    return rc;
}
