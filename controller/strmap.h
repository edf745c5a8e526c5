/*
 * strmap.h - a string-keyed hash map (chained, grows by doubling).
 *
 * Keys are copied; values are opaque pointers owned by the caller (free
 * them before strmap_del/strmap_cleanup). Not thread-safe: callers lock.
 */
#ifndef CTRL_STRMAP_H
#define CTRL_STRMAP_H

#include <stddef.h>

struct strmap_ent {
    char *key;
    void *val;
    struct strmap_ent *next;
};

struct strmap {
    struct strmap_ent **tab;
    size_t nbuckets;
    size_t len;
};

void strmap_init(struct strmap *m);
void strmap_cleanup(struct strmap *m);
void *strmap_get(const struct strmap *m, const char *key);
/* strmap_put() inserts or replaces; returns the previous value (or NULL)
 * in *old when old is non-NULL. Returns TC_OK or TC_NOMEM. */
int strmap_put(struct strmap *m, const char *key, void *val, void **old);
/* strmap_del() removes key and returns its value (NULL if absent). */
void *strmap_del(struct strmap *m, const char *key);
/* strmap_each() calls fn for every entry; fn must not modify the map. */
void strmap_each(const struct strmap *m, void (*fn)(const char *key, void *val, void *ud),
                 void *ud);

#endif
