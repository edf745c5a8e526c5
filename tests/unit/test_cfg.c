/* test_cfg.c - the config engine on a small table: YAML, flags, env, errors, dump. */
#include <jansson.h>
#include <stddef.h>
#include <stdlib.h>

#include "base/cfg.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/tc.h"
#include "test.h"

struct tcfg {
    int flag;
    int64_t n;
    uint64_t bytes;
    double ratio;
    int64_t poll_ms;
    char *name;
    char *secret;
    struct cfg_strlist peers;
    char *cols;
};

static const struct cfg_key keys[] = {
    {"a.flag", NULL, CFG_BOOL, offsetof(struct tcfg, flag), "true", 0, 0, "a bool"},
    {"a.n", "a-n", CFG_INT, offsetof(struct tcfg, n), "50", 1, 1000, "an int"},
    {"a.bytes", NULL, CFG_BYTES, offsetof(struct tcfg, bytes), "107374182400", 0, 0, "bytes"},
    {"a.ratio", NULL, CFG_FLOAT, offsetof(struct tcfg, ratio), "0.01", 0, 0, "float"},
    {"b.poll", NULL, CFG_DURATION, offsetof(struct tcfg, poll_ms), "5m", 0, 0, "dur"},
    {"b.name", NULL, CFG_STRING, offsetof(struct tcfg, name), "tempo", 0, 0, "str"},
    {"b.s3.secret_key", NULL, CFG_SECRET, offsetof(struct tcfg, secret), NULL, 0, 0, "secret"},
    {"b.peers", NULL, CFG_STRLIST, offsetof(struct tcfg, peers), NULL, 0, 0, "list"},
    {"b.cols", NULL, CFG_JSON, offsetof(struct tcfg, cols), "[]", 0, 0, "json"},
    {"ignored", NULL, CFG_IGNORED, 0, NULL, 0, 0, "not used here"},
};
static const struct cfg_table table = {keys, TC_ARRAY_LEN(keys)};

static int
load(struct tcfg *c, const char *yaml, struct tc_err *err)
{
    memset(c, 0, sizeof(*c));
    if (cfg_defaults(&table, c, err) != TC_OK)
        return err->code;
    return cfg_load_yaml(&table, c, yaml, strlen(yaml), "t.yaml", err);
}

TEST(defaults)
{
    struct tcfg c;
    struct tc_err err;

    ASSERT_OK(load(&c, "", &err));
    ASSERT_EQ(c.flag, 1);
    ASSERT_EQ(c.n, 50);
    ASSERT_U64_EQ(c.bytes, 107374182400ULL);
    ASSERT_DBL_NEAR(c.ratio, 0.01, 1e-12);
    ASSERT_EQ(c.poll_ms, 300000);
    ASSERT_STR_EQ(c.name, "tempo");
    ASSERT_STR_EQ(c.secret, "");
    ASSERT_EQ(c.peers.n, 0);
    ASSERT_STR_EQ(c.cols, "[]");
    cfg_cleanup(&table, &c);
}

TEST(yaml_values_all_types)
{
    struct tcfg c;
    struct tc_err err;
    const char *y = "a:\n  flag: false\n  n: 7\n  bytes: 1000\n  ratio: 0.5\n"
                    "b:\n  poll: 1h30m\n  name: \"x y\"\n  s3:\n    secret_key: hunter2\n"
                    "  peers: [dns+svc:3200, 10.0.0.1:3200]\n"
                    "  cols:\n    - {scope: span, name: http.x, type: string}\n"
                    "ignored:\n  deep: {a: 1}\n";

    ASSERT_OK(load(&c, y, &err));
    ASSERT_EQ(c.flag, 0);
    ASSERT_EQ(c.n, 7);
    ASSERT_U64_EQ(c.bytes, 1000);
    ASSERT_EQ(c.poll_ms, 5400000);
    ASSERT_STR_EQ(c.name, "x y");
    ASSERT_STR_EQ(c.secret, "hunter2");
    ASSERT_EQ(c.peers.n, 2);
    ASSERT_STR_EQ(c.peers.v[1], "10.0.0.1:3200");
    ASSERT_STR_EQ(c.cols, "[{\"name\":\"http.x\",\"scope\":\"span\",\"type\":\"string\"}]");
    cfg_cleanup(&table, &c);
}

TEST(unknown_key_names_line_and_column)
{
    struct tcfg c;
    struct tc_err err;

    ASSERT_EQ(load(&c, "a:\n  n: 3\n  nn: 4\n", &err), TC_INVAL);
    ASSERT_STR_EQ(err.msg, "t.yaml:3:3: unknown config key \"a.nn\"");
    cfg_cleanup(&table, &c);
}

TEST(bad_values_name_line_and_column)
{
    struct tcfg c;
    struct tc_err err;

    ASSERT_EQ(load(&c, "b:\n  poll: 5x\n", &err), TC_INVAL);
    ASSERT_STR_CONTAINS(err.msg, "t.yaml:2:9: b.poll: invalid duration \"5x\"");
    cfg_cleanup(&table, &c);
    ASSERT_EQ(load(&c, "a:\n  n: 5000\n", &err), TC_INVAL);
    ASSERT_STR_CONTAINS(err.msg, "t.yaml:2:6: a.n: 5000 is out of range [1, 1000]");
    cfg_cleanup(&table, &c);
    ASSERT_EQ(load(&c, "a:\n  flag: maybe\n", &err), TC_INVAL);
    ASSERT_STR_CONTAINS(err.msg, "a.flag: invalid boolean \"maybe\"");
    cfg_cleanup(&table, &c);
    ASSERT_EQ(load(&c, "a: 3\n", &err), TC_INVAL);
    ASSERT_STR_CONTAINS(err.msg, "t.yaml:1:4: a: expected a mapping");
    cfg_cleanup(&table, &c);
    ASSERT_EQ(load(&c, "a:\n  n: [1]\n", &err), TC_INVAL);
    ASSERT_STR_CONTAINS(err.msg, "a.n: expected a single value, got a list");
    cfg_cleanup(&table, &c);
    ASSERT_EQ(load(&c, "a:\n  n: 1\n bad indent: [\n", &err), TC_PARSE);
    ASSERT_STR_CONTAINS(err.msg, "t.yaml:");
    cfg_cleanup(&table, &c);
}

TEST(durations_go_syntax)
{
    static const struct {
        const char *in;
        int64_t ms;
        const char *out;
    } cases[] = {{"0", 0, "0s"},
                 {"0s", 0, "0s"},
                 {"250ms", 250, "250ms"},
                 {"1.5s", 1500, "1.5s"},
                 {"5m", 300000, "5m0s"},
                 {"1h0m0s", 3600000, "1h0m0s"},
                 {"336h", 1209600000, "336h0m0s"},
                 {"90s", 90000, "1m30s"},
                 {"1m30.25s", 90250, "1m30.25s"}};
    const char *bad[] = {"", "5", "5x", "m", "1h-5m", "1.2.3s", "-"};
    char out[32];
    int64_t ms;
    size_t i;

    for (i = 0; i < TC_ARRAY_LEN(cases); i++) {
        ASSERT_OK(cfg_parse_duration(cases[i].in, &ms));
        ASSERT_EQ(ms, cases[i].ms);
        cfg_format_duration(ms, out, sizeof(out));
        ASSERT_STR_EQ(out, cases[i].out);
    }
    for (i = 0; i < TC_ARRAY_LEN(bad); i++)
        ASSERT_EQ(cfg_parse_duration(bad[i], &ms), TC_INVAL);
}

TEST(env_expansion)
{
    struct buf out;
    struct tc_err err;
    const char *in = "a ${TC_T_SET} b ${TC_T_UNSET:-dflt} c ${TC_T_UNSET} d ${TC_T_SET:-no} $x";

    setenv("TC_T_SET", "val", 1);
    unsetenv("TC_T_UNSET");
    buf_init(&out, 0);
    ASSERT_OK(cfg_expand_env(in, strlen(in), &out, &err));
    ASSERT_STR_EQ(out.data, "a val b dflt c  d val $x");
    buf_reset(&out);
    ASSERT_EQ(cfg_expand_env("x ${OOPS", 8, &out, &err), TC_PARSE);
    ASSERT_STR_CONTAINS(err.msg, "unterminated");
    buf_cleanup(&out);
}

TEST(flags_override_file_and_env)
{
    struct tcfg c;
    struct tc_err err;
    const char *dir = test_tmpdir();
    char path[600], fileflag[700];
    FILE *f;

    snprintf(path, sizeof(path), "%s/t.yaml", dir);
    f = fopen(path, "w");
    ASSERT(f != NULL);
    fputs("a:\n  n: ${TC_T_N:-9}\nb:\n  name: fromfile\n", f);
    fclose(f);
    snprintf(fileflag, sizeof(fileflag), "-config.file=%s", path);
    setenv("TC_T_N", "11", 1);
    {
        char *argv[] = {"prog",          fileflag,  "-config.expand-env",
                        "--b.name=flag", "-a.flag", "-b.peers=a:1,b:2",
                        "-a-n",          "12",      NULL};
        memset(&c, 0, sizeof(c));
        ASSERT_OK(cfg_load(&table, &c, 8, argv, &err));
        ASSERT_EQ(c.n, 12);            /* the flag (by its alias) wins over the file */
        ASSERT_STR_EQ(c.name, "flag"); /* --name=value form */
        ASSERT_EQ(c.flag, 1);          /* a bare bool flag means true */
        ASSERT_EQ(c.peers.n, 2);
        cfg_cleanup(&table, &c);
    }
    {
        char *argv[] = {"prog", fileflag, "-config.expand-env=true", NULL};
        memset(&c, 0, sizeof(c));
        ASSERT_OK(cfg_load(&table, &c, 3, argv, &err));
        ASSERT_EQ(c.n, 11); /* from the environment */
        cfg_cleanup(&table, &c);
    }
    {
        char *argv[] = {"prog", fileflag, NULL};
        memset(&c, 0, sizeof(c));
        /* without -config.expand-env the reference stays literal and is rejected */
        ASSERT_EQ(cfg_load(&table, &c, 2, argv, &err), TC_INVAL);
        ASSERT_STR_CONTAINS(err.msg, "t.yaml:2:6: a.n: invalid integer \"${TC_T_N:-9}\"");
        cfg_cleanup(&table, &c);
    }
}

TEST(flag_errors)
{
    struct tcfg c;
    struct tc_err err;
    char *a1[] = {"prog", "-nope=1", NULL};
    char *a2[] = {"prog", "-a.n=abc", NULL};
    char *a3[] = {"prog", "positional", NULL};
    char *a4[] = {"prog", "-config.file=/nonexistent/x.yaml", NULL};

    memset(&c, 0, sizeof(c));
    ASSERT_EQ(cfg_load(&table, &c, 2, a1, &err), TC_INVAL);
    ASSERT_STR_EQ(err.msg, "unknown flag -nope");
    cfg_cleanup(&table, &c);
    ASSERT_EQ(cfg_load(&table, &c, 2, a2, &err), TC_INVAL);
    ASSERT_STR_EQ(err.msg, "flag -a.n: a.n: invalid integer \"abc\"");
    cfg_cleanup(&table, &c);
    ASSERT_EQ(cfg_load(&table, &c, 2, a3, &err), TC_INVAL);
    cfg_cleanup(&table, &c);
    ASSERT_EQ(cfg_load(&table, &c, 2, a4, &err), TC_NOTFOUND);
    ASSERT_STR_CONTAINS(err.msg, "/nonexistent/x.yaml");
    cfg_cleanup(&table, &c);
}

TEST(render_masks_secrets_and_roundtrips)
{
    struct tcfg c, d;
    struct tc_err err;
    struct buf out;

    ASSERT_OK(load(&c,
                   "b:\n  s3:\n    secret_key: hunter2\n  name: \"true\"\n"
                   "  peers: [a, 'b: c']\n",
                   &err));
    buf_init(&out, 0);
    ASSERT_OK(cfg_render_yaml(&table, &c, &out));
    ASSERT(strstr(out.data, "hunter2") == NULL);
    ASSERT_STR_CONTAINS(out.data, "secret_key: \"********\"");
    ASSERT_STR_CONTAINS(out.data, "a:\n    bytes: 107374182400\n    flag: true\n");
    ASSERT_STR_CONTAINS(out.data, "    poll: 5m0s\n");
    ASSERT_STR_CONTAINS(out.data, "    name: \"true\"\n");
    /* the dump loads back into the same values (bar the masked secret) */
    ASSERT_OK(load(&d, out.data, &err));
    ASSERT_STR_EQ(d.name, "true");
    ASSERT_EQ(d.peers.n, 2);
    ASSERT_STR_EQ(d.peers.v[1], "b: c");
    ASSERT_EQ(d.poll_ms, c.poll_ms);
    ASSERT_STR_EQ(d.secret, "********");
    buf_cleanup(&out);
    cfg_cleanup(&table, &c);
    cfg_cleanup(&table, &d);
}

/* A module's struct and table, embedded and included by a program's table. */
struct tmod {
    int64_t conc;
    int64_t every_ms;
    char *label;
};

static const struct cfg_key mod_keys[] = {
    {"m.conc", NULL, CFG_INT, offsetof(struct tmod, conc), "50", 0, 100, "in flight",
     CFG_ZERO_IS_DEFAULT},
    {"m.every", NULL, CFG_DURATION, offsetof(struct tmod, every_ms), "5m", 0, 87600.0 * 3600000,
     "period", CFG_ZERO_IS_DEFAULT},
    {"m.label", NULL, CFG_STRING, offsetof(struct tmod, label), "x", 0, 0, "label"},
};
static const struct cfg_table mod_table = {mod_keys, TC_ARRAY_LEN(mod_keys)};

struct tprog {
    int flag;
    struct tmod mod;
    int64_t after;
};

static const struct cfg_key prog_keys[] = {
    {"a.flag", NULL, CFG_BOOL, offsetof(struct tprog, flag), "false", 0, 0, "a bool"},
    CFG_INCLUDE(&mod_table, offsetof(struct tprog, mod)),
    {"m.after", NULL, CFG_DURATION, offsetof(struct tprog, after), "1h", 60000, 3600000, "after"},
};
static const struct cfg_table prog_table = {prog_keys, TC_ARRAY_LEN(prog_keys)};

TEST(included_table_keys_load_at_their_offset)
{
    struct tprog c;
    struct tc_err err;
    struct buf out;
    const char *y = "a:\n  flag: yes\nm:\n  conc: 7\n  every: 1h\n  label: y\n  after: 2m\n";
    size_t off;
    char *argv[] = {"prog", "-m.conc=9", NULL};

    memset(&c, 0, sizeof(c));
    ASSERT_OK(cfg_defaults(&prog_table, &c, &err));
    ASSERT_EQ(c.mod.conc, 50); /* the module's default, written once in mod_keys */
    ASSERT_EQ(c.mod.every_ms, 300000);
    ASSERT_STR_EQ(c.mod.label, "x");
    ASSERT_EQ(c.after, 3600000);
    ASSERT_OK(cfg_load_yaml(&prog_table, &c, y, strlen(y), "t.yaml", &err));
    ASSERT_EQ(c.flag, 1);
    ASSERT_EQ(c.mod.conc, 7);
    ASSERT_EQ(c.mod.every_ms, 3600000);
    ASSERT_STR_EQ(c.mod.label, "y");
    ASSERT_EQ(c.after, 120000);
    ASSERT_OK(cfg_set(&prog_table, &c, "m.label", "z", &err));
    ASSERT_STR_EQ(c.mod.label, "z");
    ASSERT(cfg_find(&prog_table, "m.conc", &off) != NULL);
    ASSERT_EQ(off, offsetof(struct tprog, mod) + offsetof(struct tmod, conc));
    ASSERT(cfg_find(&prog_table, "m.nope", NULL) == NULL);
    buf_init(&out, 0);
    ASSERT_OK(cfg_render_yaml(&prog_table, &c, &out));
    ASSERT_STR_CONTAINS(out.data, "m:\n    after: 2m0s\n    conc: 7\n    every: 1h0m0s\n"
                                  "    label: z\n");
    buf_cleanup(&out);
    cfg_cleanup(&prog_table, &c);
    ASSERT(c.mod.label == NULL); /* cleanup reaches the included struct's strings */
    memset(&c, 0, sizeof(c));
    ASSERT_OK(cfg_load(&prog_table, &c, 2, argv, &err));
    ASSERT_EQ(c.mod.conc, 9);
    cfg_cleanup(&prog_table, &c);
}

TEST(zero_means_the_default)
{
    struct tprog c;
    struct tc_err err;
    const char *y = "m:\n  conc: 0\n  every: 0s\n";

    memset(&c, 0, sizeof(c));
    ASSERT_OK(cfg_defaults(&prog_table, &c, &err));
    ASSERT_OK(cfg_load_yaml(&prog_table, &c, y, strlen(y), "t.yaml", &err));
    ASSERT_EQ(c.mod.conc, 50);
    ASSERT_EQ(c.mod.every_ms, 300000);
    ASSERT_OK(cfg_set(&prog_table, &c, "m.every", "1m", &err));
    ASSERT_EQ(c.mod.every_ms, 60000); /* other values stay as given */
    cfg_cleanup(&prog_table, &c);
}

TEST(duration_range_errors_print_durations)
{
    struct tprog c;
    struct tc_err err;

    memset(&c, 0, sizeof(c));
    ASSERT_OK(cfg_defaults(&prog_table, &c, &err));
    ASSERT_EQ(cfg_set(&prog_table, &c, "m.after", "90m", &err), TC_INVAL);
    ASSERT_STR_EQ(err.msg, "m.after: 1h30m is out of range [1m, 1h]");
    ASSERT_EQ(cfg_set(&prog_table, &c, "m.every", "87601h", &err), TC_INVAL);
    ASSERT_STR_EQ(err.msg, "m.every: 87601h is out of range [0s, 87600h]");
    ASSERT_OK(cfg_set(&prog_table, &c, "m.every", "87600h", &err));
    cfg_cleanup(&prog_table, &c);
}

TEST(short_durations)
{
    static const struct {
        int64_t ms;
        const char *out;
    } cases[] = {{0, "0s"},
                 {100, "100ms"},
                 {60000, "1m"},
                 {5400000, "1h30m"},
                 {3153600000000, "876000h"},
                 {90061001, "25h1m1s1ms"}};
    char out[32];
    int64_t back;
    size_t i;

    for (i = 0; i < TC_ARRAY_LEN(cases); i++) {
        cfg_format_duration_short(cases[i].ms, out, sizeof(out));
        ASSERT_STR_EQ(out, cases[i].out);
        ASSERT_OK(cfg_parse_duration(out, &back)); /* Go syntax: it parses back */
        ASSERT_EQ(back, cases[i].ms);
    }
}

TEST(schema_json_lists_typed_defaults_and_ranges)
{
    struct buf out;
    json_t *arr, *k;
    json_error_t je;

    buf_init(&out, 0);
    ASSERT_OK(cfg_render_json(&prog_table, &out));
    arr = json_loads(out.data, 0, &je);
    ASSERT(arr != NULL);
    ASSERT_EQ(json_array_size(arr), 5); /* the included keys, no CFG_TABLE entry */
    k = json_array_get(arr, 1);         /* sorted: a.flag, m.after, m.conc, ... */
    ASSERT_STR_EQ(json_string_value(json_object_get(k, "key")), "m.after");
    ASSERT_STR_EQ(json_string_value(json_object_get(k, "type")), "duration");
    ASSERT_STR_EQ(json_string_value(json_object_get(k, "default")), "1h");
    ASSERT_STR_EQ(json_string_value(json_object_get(k, "min")), "1m");
    ASSERT_STR_EQ(json_string_value(json_object_get(k, "max")), "1h");
    k = json_array_get(arr, 2);
    ASSERT_EQ(json_integer_value(json_object_get(k, "default")), 50);
    ASSERT_EQ(json_integer_value(json_object_get(k, "max")), 100);
    ASSERT(json_is_true(json_object_get(k, "zero_is_default")));
    k = json_array_get(arr, 0);
    ASSERT(json_is_false(json_object_get(k, "default")));
    ASSERT(json_object_get(k, "min") == NULL); /* unbounded */
    json_decref(arr);
    buf_cleanup(&out);
}

TEST_MAIN(TEST_ENTRY(defaults), TEST_ENTRY(yaml_values_all_types),
          TEST_ENTRY(unknown_key_names_line_and_column),
          TEST_ENTRY(bad_values_name_line_and_column), TEST_ENTRY(durations_go_syntax),
          TEST_ENTRY(env_expansion), TEST_ENTRY(flags_override_file_and_env),
          TEST_ENTRY(flag_errors), TEST_ENTRY(render_masks_secrets_and_roundtrips),
          TEST_ENTRY(included_table_keys_load_at_their_offset), TEST_ENTRY(zero_means_the_default),
          TEST_ENTRY(duration_range_errors_print_durations), TEST_ENTRY(short_durations),
          TEST_ENTRY(schema_json_lists_typed_defaults_and_ranges))
