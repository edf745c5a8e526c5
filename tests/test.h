/*
 * test.h - the unit-test harness: TAP output, one forked process per case.
 *
 *   TEST(buf_caps) { ... ASSERT_EQ(a, b); ... }
 *   TEST_MAIN(TEST_ENTRY(buf_caps), TEST_ENTRY(other))
 *
 * `build/tests/test_buf buf_caps` runs one case. A case passes by returning,
 * fails on the first failed ASSERT (which prints both operands), and is
 * skipped by TEST_SKIP("reason"). Each case runs in its own child so a crash
 * or a sanitizer report fails that case alone.
 */
#ifndef TC_TEST_H
#define TC_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/mem.h"

#define TEST_SKIP_EXIT 77

struct test_case {
    const char *name;
    void (*fn)(void);
};

#define TEST(name) static void test_##name(void)
#define TEST_ENTRY(name)                                                                           \
    {                                                                                              \
#name, test_##name                                                                         \
    }

#define TEST_FAIL_(...)                                                                            \
    do {                                                                                           \
        fprintf(stdout, "# %s:%d: ", __FILE__, __LINE__);                                          \
        fprintf(stdout, __VA_ARGS__);                                                              \
        fprintf(stdout, "\n");                                                                     \
        fflush(stdout);                                                                            \
        exit(1);                                                                                   \
    } while (0)

#define TEST_SKIP(...)                                                                             \
    do {                                                                                           \
        fprintf(stdout, "# SKIP ");                                                                \
        fprintf(stdout, __VA_ARGS__);                                                              \
        fprintf(stdout, "\n");                                                                     \
        fflush(stdout);                                                                            \
        exit(TEST_SKIP_EXIT);                                                                      \
    } while (0)

#define ASSERT(e)                                                                                  \
    do {                                                                                           \
        if (!(e))                                                                                  \
            TEST_FAIL_("assertion failed: %s", #e);                                                \
    } while (0)

#define ASSERT_INT_(a, op, b)                                                                      \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (!(a_ op b_))                                                                           \
            TEST_FAIL_("%s %s %s (%lld vs %lld)", #a, #op, #b, a_, b_);                            \
    } while (0)

#define ASSERT_EQ(a, b) ASSERT_INT_(a, ==, b)
#define ASSERT_NE(a, b) ASSERT_INT_(a, !=, b)
#define ASSERT_LT(a, b) ASSERT_INT_(a, <, b)
#define ASSERT_LE(a, b) ASSERT_INT_(a, <=, b)
#define ASSERT_GT(a, b) ASSERT_INT_(a, >, b)
#define ASSERT_GE(a, b) ASSERT_INT_(a, >=, b)

#define ASSERT_U64_EQ(a, b)                                                                        \
    do {                                                                                           \
        uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                                           \
        if (a_ != b_)                                                                              \
            TEST_FAIL_("%s == %s (%" PRIu64 " vs %" PRIu64 ")", #a, #b, a_, b_);                   \
    } while (0)

#define ASSERT_DBL_NEAR(a, b, eps)                                                                 \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        if (!(a_ - b_ <= (eps) && b_ - a_ <= (eps)))                                               \
            TEST_FAIL_("%s ~= %s (%g vs %g)", #a, #b, a_, b_);                                     \
    } while (0)

#define ASSERT_STR_EQ(a, b)                                                                        \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)                                       \
            TEST_FAIL_("%s == %s (\"%s\" vs \"%s\")", #a, #b, a_ ? a_ : "(null)",                  \
                       b_ ? b_ : "(null)");                                                        \
    } while (0)

#define ASSERT_STR_CONTAINS(hay, needle)                                                           \
    do {                                                                                           \
        const char *h_ = (hay), *n_ = (needle);                                                    \
        if (h_ == NULL || strstr(h_, n_) == NULL)                                                  \
            TEST_FAIL_("%s contains %s (\"%s\" lacks \"%s\")", #hay, #needle, h_ ? h_ : "(null)",  \
                       n_);                                                                        \
    } while (0)

#define ASSERT_MEM_EQ(a, b, n)                                                                     \
    do {                                                                                           \
        if (memcmp((a), (b), (n)) != 0)                                                            \
            TEST_FAIL_("%s == %s over %zu bytes", #a, #b, (size_t)(n));                            \
    } while (0)

/* ASSERT_OK expects TC_OK (0) and prints the code otherwise. */
#define ASSERT_OK(e) ASSERT_INT_(e, ==, 0)

/* test_slurp() returns a whole file, NUL-terminated (free with tc_free), or
 * fails the case with the reader's error, which names the file. */
static inline char *
test_slurp(const char *path, size_t *len)
{
    struct buf b;
    struct tc_err err;
    char *p;

    buf_init(&b, 0);
    if (buf_read_file(&b, path, &err) != TC_OK)
        TEST_FAIL_("%s", err.msg);
    p = buf_take(&b, len);
    if (p == NULL && (p = tc_strdup("")) == NULL)
        TEST_FAIL_("%s: out of memory", path);
    return p;
}

/* test_shared_dir() returns the path of ../shared (or $TC_SHARED), or NULL. */
static inline const char *
test_shared_dir(void)
{
    static char path[4096];
    const char *env = getenv("TC_SHARED");
    struct stat st;

    if (env && *env)
        snprintf(path, sizeof(path), "%s", env);
    else
        snprintf(path, sizeof(path), "../shared");
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return NULL;
    return path;
}

/* Skip the case with the project's standard message when ../shared is absent. */
#define TEST_NEED_SHARED(var)                                                                      \
    const char *var = test_shared_dir();                                                           \
    if (var == NULL)                                                                               \
    TEST_SKIP("skipped: no ../shared")

/* test_tmpdir() makes a fresh private directory under $TMPDIR; caller frees nothing. */
static inline const char *
test_tmpdir(void)
{
    static char path[512];
    const char *base = getenv("TMPDIR");

    snprintf(path, sizeof(path), "%s/tctest.XXXXXX", base && *base ? base : "/tmp");
    if (mkdtemp(path) == NULL)
        TEST_FAIL_("mkdtemp failed");
    return path;
}

static inline int
test_main_(int argc, char **argv, const struct test_case *cases, size_t n)
{
    size_t i, run = 0, failed = 0;
    int status;
    pid_t pid;

    for (i = 0; i < n; i++)
        if (argc < 2 || strcmp(argv[1], cases[i].name) == 0)
            run++;
    printf("1..%zu\n", run);
    fflush(stdout);
    run = 0;
    for (i = 0; i < n; i++) {
        if (argc >= 2 && strcmp(argv[1], cases[i].name) != 0)
            continue;
        run++;
        pid = fork();
        if (pid == 0) {
            cases[i].fn();
            fflush(stdout);
            exit(0);
        }
        if (pid < 0 || waitpid(pid, &status, 0) < 0) {
            printf("not ok %zu - %s # fork failed\n", run, cases[i].name);
            failed++;
        } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            printf("ok %zu - %s\n", run, cases[i].name);
        } else if (WIFEXITED(status) && WEXITSTATUS(status) == TEST_SKIP_EXIT) {
            printf("ok %zu - %s # SKIP\n", run, cases[i].name);
        } else {
            if (WIFSIGNALED(status))
                printf("# killed by signal %d\n", WTERMSIG(status));
            printf("not ok %zu - %s\n", run, cases[i].name);
            failed++;
        }
        fflush(stdout);
    }
    return failed ? 1 : 0;
}

#define TEST_MAIN(...)                                                                             \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        static const struct test_case cases_[] = {__VA_ARGS__};                                    \
        return test_main_(argc, argv, cases_, sizeof(cases_) / sizeof(cases_[0]));                 \
    }

#endif
