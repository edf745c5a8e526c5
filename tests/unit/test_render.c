/* test_render.c - golden tests for render, plus the KEDA customHeaders re-parse. */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>

#include "base/buf.h"
#include "base/mem.h"
#include "render.h"
#include "test.h"
#include "yamljson.h"

static const char *
golden_dir(void)
{
    const char *d = getenv("TC_GOLDEN_RENDER");
    return d && *d ? d : "tests/golden/render";
}

static int
spit(const char *path, const char *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    fwrite(p, 1, n, f);
    return fclose(f);
}

/* KEDA's parser (typed_config.go setConfigValueMap): split on ',', trim,
 * split on '=', exactly two parts, trim key and value. */
static json_t *
keda_parse_map(const char *s)
{
    json_t *m = json_object();
    char *copy = tc_strdup(s), *p = copy;

    while (p != NULL) {
        char *comma = strchr(p, ','), *eq, *k, *v, *e;
        if (comma)
            *comma = '\0';
        eq = strchr(p, '=');
        if (eq == NULL || strchr(eq + 1, '=') != NULL) {
            json_decref(m);
            tc_free(copy);
            return NULL;
        }
        *eq = '\0';
        for (k = p; *k == ' '; k++)
            ;
        for (e = k + strlen(k); e > k && e[-1] == ' '; e--)
            *(e - 1) = '\0';
        for (v = eq + 1; *v == ' '; v++)
            ;
        for (e = v + strlen(v); e > v && e[-1] == ' '; e--)
            *(e - 1) = '\0';
        json_object_set_new(m, k, json_string(v));
        p = comma ? comma + 1 : NULL;
    }
    tc_free(copy);
    return m;
}

/* Every ScaledObject's customHeaders must give back the CR's map. */
static void
check_keda_roundtrip(const json_t *cr, const json_t *manifests, const char *name)
{
    const json_t *want = json_object_get(
        json_object_get(json_object_get(json_object_get(cr, "spec"), "autoscaling"), "prometheus"),
        "customHeaders");
    size_t i;

    for (i = 0; i < json_array_size(manifests); i++) {
        const json_t *m = json_array_get(manifests, i), *trig, *md, *hv;
        json_t *got;
        size_t t;

        if (strcmp(json_string_value(json_object_get(m, "kind")), "ScaledObject") != 0)
            continue;
        trig = json_object_get(json_object_get(m, "spec"), "triggers");
        if (json_array_size(trig) == 0)
            TEST_FAIL_("%s: ScaledObject with empty triggers", name);
        for (t = 0; t < json_array_size(trig); t++) {
            const char *k;
            json_t *v;
            md = json_object_get(json_array_get(trig, t), "metadata");
            /* Metadata is map[string]string in KEDA. */
            json_object_foreach((json_t *)md, k, v) if (!json_is_string(v))
                TEST_FAIL_("%s: trigger metadata %s is not a string", name, k);
            hv = json_object_get(md, "customHeaders");
            if (want == NULL || json_object_size(want) == 0) {
                if (hv != NULL)
                    TEST_FAIL_("%s: customHeaders rendered for an empty map", name);
                continue;
            }
            if (!json_is_string(hv))
                TEST_FAIL_("%s: customHeaders missing", name);
            got = keda_parse_map(json_string_value(hv));
            if (got == NULL || !json_equal(got, (json_t *)want))
                TEST_FAIL_("%s: KEDA re-parse of \"%s\" differs from the CR", name,
                           json_string_value(hv));
            json_decref(got);
        }
    }
}

static void
run_case(const char *dir, const char *name, int update)
{
    char path[1024];
    struct buf in, out, exp;
    struct tc_err err = {0};
    json_t *docs = NULL, *back = NULL;
    struct render_result res;
    int rc;

    buf_init(&in, 1 << 20);
    buf_init(&out, 8 << 20);
    buf_init(&exp, 8 << 20);
    snprintf(path, sizeof(path), "%s/%s/cr.yaml", dir, name);
    if (buf_read_file(&in, path, &err) != TC_OK)
        TEST_FAIL_("%s", err.msg);
    ASSERT_OK(yamljson_parse(in.data, in.len, path, &docs, &err));
    ASSERT_EQ(json_array_size(docs), 1);
    rc = render_manifests(json_array_get(docs, 0), &res, &err);
    if (rc != TC_OK) {
        /* Invalid spec: the message must name the field; golden in expected-error.txt. */
        snprintf(path, sizeof(path), "%s/%s/expected-error.txt", dir, name);
        buf_printf(&out, "%s\n", err.msg);
        if (update)
            spit(path, out.data, out.len);
        if (buf_read_file(&exp, path, NULL) != TC_OK)
            TEST_FAIL_("%s: render failed (%s) and no expected-error.txt", name, err.msg);
        if (strcmp(exp.data, out.data) != 0)
            TEST_FAIL_("%s: error differs:\n got: %s want: %s", name, out.data, exp.data);
        goto done;
    }
    ASSERT_OK(yamljson_emit_stream(res.manifests, &out, &err));
    snprintf(path, sizeof(path), "%s/%s/expected.yaml", dir, name);
    if (update)
        spit(path, out.data, out.len);
    if (buf_read_file(&exp, path, NULL) != TC_OK)
        TEST_FAIL_("%s: no expected.yaml (run with TC_GOLDEN_UPDATE=1)", name);
    if (strcmp(exp.data, out.data) != 0) {
        spit("/tmp/render-got.yaml", out.data, out.len);
        TEST_FAIL_("%s: output differs from expected.yaml (got in /tmp/render-got.yaml)", name);
    }
    /* Emitting is lossless: the YAML parses back to the same JSON. */
    ASSERT_OK(yamljson_parse(out.data, out.len, "rendered", &back, &err));
    if (!json_equal(back, res.manifests))
        TEST_FAIL_("%s: rendered YAML does not parse back to the manifests", name);
    check_keda_roundtrip(json_array_get(docs, 0), res.manifests, name);
    /* Deterministic: a second render is byte-identical. */
    {
        struct render_result res2;
        struct buf out2;
        buf_init(&out2, 8 << 20);
        ASSERT_OK(render_manifests(json_array_get(docs, 0), &res2, &err));
        ASSERT_OK(yamljson_emit_stream(res2.manifests, &out2, &err));
        ASSERT_STR_EQ(out2.data, out.data);
        render_result_cleanup(&res2);
        buf_cleanup(&out2);
    }
    json_decref(back);
    render_result_cleanup(&res);
done:
    json_decref(docs);
    buf_cleanup(&in);
    buf_cleanup(&out);
    buf_cleanup(&exp);
}

TEST(golden_cases)
{
    const char *dir = golden_dir();
    const char *upd = getenv("TC_GOLDEN_UPDATE");
    struct dirent *de;
    DIR *d = opendir(dir);
    int n = 0;

    if (d == NULL)
        TEST_FAIL_("%s: %s", dir, strerror(errno));
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        run_case(dir, de->d_name, upd && *upd == '1');
        printf("# golden %s ok\n", de->d_name);
        n++;
    }
    closedir(d);
    ASSERT_GE(n, 12);
}

/* Corrupt input never crashes: every golden CR truncated at every offset and
 * with bytes flipped either parses and renders, or fails with a message. */
static void
mutate_case(const char *dir, const char *name, unsigned *seed)
{
    char path[1024];
    struct buf in;
    size_t cut;

    buf_init(&in, 1 << 20);
    snprintf(path, sizeof(path), "%s/%s/cr.yaml", dir, name);
    if (buf_read_file(&in, path, NULL) != TC_OK || in.len == 0)
        TEST_FAIL_("%s: unreadable", path);
    for (cut = 0; cut <= in.len; cut++) {
        char *copy = tc_memdup(in.data, in.len + 1);
        struct tc_err err = {0};
        json_t *docs = NULL;
        if (cut % 3 == 1) { /* and some byte flips */
            *seed = *seed * 1103515245u + 12345u;
            copy[(*seed >> 8) % in.len] ^= (char)(1u << ((*seed >> 4) % 8));
        }
        if (yamljson_parse(copy, cut, "m", &docs, &err) == TC_OK) {
            size_t d;
            for (d = 0; d < json_array_size(docs); d++) {
                struct render_result res;
                if (render_manifests(json_array_get(docs, d), &res, &err) == TC_OK) {
                    struct buf out;
                    buf_init(&out, 8 << 20);
                    ASSERT_OK(yamljson_emit_stream(res.manifests, &out, &err));
                    buf_cleanup(&out);
                    render_result_cleanup(&res);
                } else {
                    ASSERT(err.msg[0] != '\0');
                }
            }
            json_decref(docs);
        } else {
            ASSERT(err.msg[0] != '\0');
        }
        tc_free(copy);
    }
    buf_cleanup(&in);
}

TEST(corrupt_input_never_crashes)
{
    const char *dir = golden_dir();
    struct dirent *de;
    DIR *d = opendir(dir);
    unsigned seed = 42;

    if (d == NULL)
        TEST_FAIL_("%s: %s", dir, strerror(errno));
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            mutate_case(dir, de->d_name, &seed);
    closedir(d);
}

TEST(keda_map_sorted_and_parsable)
{
    json_t *m = json_pack("{s:s, s:s, s:s}", "X-Scope-OrgID", "a|b", "Accept", "*/*", "b", "");
    char *s = render_keda_map(m);
    json_t *back = keda_parse_map(s);

    ASSERT_STR_EQ(s, "Accept=*/*,X-Scope-OrgID=a|b,b=");
    ASSERT(json_equal(back, m));
    tc_free(s);
    json_decref(m);
    json_decref(back);
}

TEST(yaml_quotes_ambiguous_strings)
{
    static const char *const vals[] = {
        "yes",  "no",  "on",     "off",       "1e3",          "0x1f",  "012",
        "1:20", "",    "~",      "null",      "true",         "-",     "a: b",
        "x #y", "'q'", "\"dq\"", "tab\there", "line\nline\n", " lead", "trail "};
    struct tc_err err = {0};
    size_t i;

    for (i = 0; i < TC_ARRAY_LEN(vals); i++) {
        json_t *v = json_pack("{s:s}", "k", vals[i]), *back = NULL;
        struct buf b;
        buf_init(&b, 1 << 16);
        ASSERT_OK(yamljson_emit(v, &b, &err));
        ASSERT_OK(yamljson_parse(b.data, b.len, "t", &back, &err));
        if (!json_equal(json_array_get(back, 0), v))
            TEST_FAIL_("value \"%s\" did not round-trip: %s", vals[i], b.data);
        json_decref(v);
        json_decref(back);
        buf_cleanup(&b);
    }
}

TEST(yaml_rejects_aliases_and_duplicates)
{
    struct tc_err err = {0};
    json_t *d = NULL;
    const char *dup = "a: 1\na: 2\n", *al = "a: &x 1\nb: *x\n", *bad = "a: [1, 2\n";

    ASSERT_EQ(yamljson_parse(dup, strlen(dup), "f.yaml", &d, &err), TC_PARSE);
    ASSERT_STR_CONTAINS(err.msg, "f.yaml:2:1: duplicate key \"a\"");
    ASSERT_EQ(yamljson_parse(al, strlen(al), "f.yaml", &d, &err), TC_PARSE);
    ASSERT_STR_CONTAINS(err.msg, "aliases");
    ASSERT_EQ(yamljson_parse(bad, strlen(bad), "f.yaml", &d, &err), TC_PARSE);
    ASSERT_STR_CONTAINS(err.msg, "f.yaml:");
}

TEST(invalid_spec_renders_nothing)
{
    struct tc_err err = {0};
    struct render_result res;
    json_t *cr =
        json_pack("{s:s, s:s, s:{s:s}, s:{s:{s:s}}}", "apiVersion", RENDER_API_VERSION, "kind",
                  RENDER_KIND, "metadata", "name", "x", "spec", "storage", "backend", "nfs");

    ASSERT_EQ(render_manifests(cr, &res, &err), TC_INVAL);
    ASSERT_STR_CONTAINS(err.msg, "spec.storage.backend");
    ASSERT(res.manifests == NULL);
    json_decref(cr);
}

TEST_MAIN(TEST_ENTRY(golden_cases), TEST_ENTRY(corrupt_input_never_crashes),
          TEST_ENTRY(keda_map_sorted_and_parsable), TEST_ENTRY(yaml_quotes_ambiguous_strings),
          TEST_ENTRY(yaml_rejects_aliases_and_duplicates), TEST_ENTRY(invalid_spec_renders_nothing))
