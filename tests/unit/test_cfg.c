/* test_cfg.c - the config engine on a small table: YAML, flags, env, errors, dump. */
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

TEST_MAIN(TEST_ENTRY(defaults), TEST_ENTRY(yaml_values_all_types),
          TEST_ENTRY(unknown_key_names_line_and_column),
          TEST_ENTRY(bad_values_name_line_and_column), TEST_ENTRY(durations_go_syntax),
          TEST_ENTRY(env_expansion), TEST_ENTRY(flags_override_file_and_env),
          TEST_ENTRY(flag_errors), TEST_ENTRY(render_masks_secrets_and_roundtrips))
