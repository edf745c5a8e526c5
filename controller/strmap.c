/* strmap.c - string-keyed hash map (FNV-1a, chaining). */
#include "strmap.h"

#include <stdint.h>
#include <string.h>

#include "base/mem.h"
#include "base/tc.h"

static uint64_t
strmap_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

void
strmap_init(struct strmap *m)
{
    memset(m, 0, sizeof(*m));
}

void
strmap_cleanup(struct strmap *m)
{
    size_t i;

    for (i = 0; i < m->nbuckets; i++) {
        struct strmap_ent *e = m->tab[i], *n;
        for (; e; e = n) {
            n = e->next;
            tc_free(e->key);
            tc_free(e);
        }
    }
    tc_free(m->tab);
    memset(m, 0, sizeof(*m));
}

void *
strmap_get(const struct strmap *m, const char *key)
{
    struct strmap_ent *e;

    if (m->nbuckets == 0)
        return NULL;
    for (e = m->tab[strmap_hash(key) & (m->nbuckets - 1)]; e; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e->val;
    return NULL;
}

static int
strmap_grow(struct strmap *m)
{
    size_t nb = m->nbuckets ? m->nbuckets * 2 : 16, i;
    struct strmap_ent **tab = tc_calloc(nb, sizeof(*tab));

    if (tab == NULL)
        return TC_NOMEM;
    for (i = 0; i < m->nbuckets; i++) {
        struct strmap_ent *e = m->tab[i], *n;
        for (; e; e = n) {
            size_t b = strmap_hash(e->key) & (nb - 1);
            n = e->next;
            e->next = tab[b];
            tab[b] = e;
        }
    }
    tc_free(m->tab);
    m->tab = tab;
    m->nbuckets = nb;
    return TC_OK;
}

int
strmap_put(struct strmap *m, const char *key, void *val, void **old)
{
    struct strmap_ent *e;
    size_t b;

    if (old)
        *old = NULL;
    if (m->nbuckets) {
        for (e = m->tab[strmap_hash(key) & (m->nbuckets - 1)]; e; e = e->next)
            if (strcmp(e->key, key) == 0) {
                if (old)
                    *old = e->val;
                e->val = val;
                return TC_OK;
            }
    }
    if (m->len + 1 > m->nbuckets && strmap_grow(m) != TC_OK)
        return TC_NOMEM;
    e = tc_malloc(sizeof(*e));
    if (e == NULL || (e->key = tc_strdup(key)) == NULL) {
        tc_free(e);
        return TC_NOMEM;
    }
    e->val = val;
    b = strmap_hash(key) & (m->nbuckets - 1);
    e->next = m->tab[b];
    m->tab[b] = e;
    m->len++;
    return TC_OK;
}

void *
strmap_del(struct strmap *m, const char *key)
{
    struct strmap_ent **pp, *e;
    void *v;

    if (m->nbuckets == 0)
        return NULL;
    for (pp = &m->tab[strmap_hash(key) & (m->nbuckets - 1)]; (e = *pp) != NULL; pp = &e->next)
        if (strcmp(e->key, key) == 0) {
            *pp = e->next;
            v = e->val;
            tc_free(e->key);
            tc_free(e);
            m->len--;
            return v;
        }
    return NULL;
}

void
strmap_each(const struct strmap *m, void (*fn)(const char *key, void *val, void *ud), void *ud)
{
    size_t i;

    for (i = 0; i < m->nbuckets; i++) {
        struct strmap_ent *e;
        for (e = m->tab[i]; e; e = e->next)
            fn(e->key, e->val, ud);
    }
}
