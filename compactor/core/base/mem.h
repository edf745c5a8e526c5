/*
 * mem.h - the only allocator entry points of the project.
 *
 * tc_malloc and friends return NULL on failure; callers turn that into
 * TC_NOMEM. Test builds can make the N-th allocation fail with the
 * environment variable TC_FAIL_ALLOC_AT=N (used by torture tests).
 * tc_free(NULL) is a no-op. Memory from tc_* is freed with tc_free only.
 */
#ifndef TC_MEM_H
#define TC_MEM_H

#include <stddef.h>

void *tc_malloc(size_t n);
void *tc_calloc(size_t nmemb, size_t size);
void *tc_realloc(void *p, size_t n);
/* Overflow-checked nmemb*size reallocation. */
void *tc_reallocarray(void *p, size_t nmemb, size_t size);
char *tc_strdup(const char *s);
char *tc_strndup(const char *s, size_t n);
void tc_free(void *p);

/* tc_memdup() copies n bytes; caller owns the result. */
void *tc_memdup(const void *p, size_t n);

/* Bytes currently allocated through tc_* (for /metrics). */
size_t tc_mem_used(void);

#endif
