/* mem.c - allocation wrappers with accounting and fault injection. */
#include "base/mem.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static atomic_size_t mem_used;
static atomic_long mem_fail_at = -1; /* -1: not read yet, 0: never */
static atomic_long mem_count;

static int
mem_should_fail(void)
{
    long at = atomic_load(&mem_fail_at);

    if (at < 0) {
        const char *v = getenv("TC_FAIL_ALLOC_AT");
        char *end = NULL;
        long n = v ? strtol(v, &end, 10) : 0; /* lint-ok: env parse */
        at = (v && end && *end == '\0' && n > 0) ? n : 0;
        atomic_store(&mem_fail_at, at);
    }
    if (at == 0)
        return 0;
    return atomic_fetch_add(&mem_count, 1) + 1 == at;
}

void *
tc_malloc(size_t n)
{
    void *p;

    if (mem_should_fail())
        return NULL;
    p = malloc(n ? n : 1); /* lint-ok */
    if (p)
        atomic_fetch_add(&mem_used, malloc_usable_size(p));
    return p;
}

void *
tc_calloc(size_t nmemb, size_t size)
{
    void *p;

    if (mem_should_fail())
        return NULL;
    p = calloc(nmemb ? nmemb : 1, size ? size : 1); /* lint-ok */
    if (p)
        atomic_fetch_add(&mem_used, malloc_usable_size(p));
    return p;
}

void *
tc_realloc(void *p, size_t n)
{
    size_t old = p ? malloc_usable_size(p) : 0;
    void *q;

    if (mem_should_fail())
        return NULL;
    q = realloc(p, n ? n : 1); /* lint-ok */
    if (q) {
        atomic_fetch_sub(&mem_used, old);
        atomic_fetch_add(&mem_used, malloc_usable_size(q));
    }
    return q;
}

void *
tc_reallocarray(void *p, size_t nmemb, size_t size)
{
    if (size && nmemb > SIZE_MAX / size)
        return NULL;
    return tc_realloc(p, nmemb * size);
}

void
tc_free(void *p)
{
    if (p == NULL)
        return;
    atomic_fetch_sub(&mem_used, malloc_usable_size(p));
    free(p); /* lint-ok */
}

void *
tc_memdup(const void *p, size_t n)
{
    void *q = tc_malloc(n);

    if (q && n)
        memcpy(q, p, n);
    return q;
}

char *
tc_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *q = tc_malloc(len + 1);

    if (q == NULL)
        return NULL;
    memcpy(q, s, len);
    q[len] = '\0';
    return q;
}

char *
tc_strdup(const char *s)
{
    return tc_memdup(s, strlen(s) + 1);
}

size_t
tc_mem_used(void)
{
    return atomic_load(&mem_used);
}
