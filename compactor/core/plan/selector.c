/*
 * selector.c - Tempo's timeWindowBlockSelector, string for string.
 *
 * The group/order/hash strings use Go's fmt verbs: %v of integers is decimal
 * and %016X is upper-case hex padded to 16 with the sign counted in the width.
 * Entries are stable-sorted by (group, order) with byte-wise comparison, which
 * reproduces Tempo's quirks (level "10" sorts before "2").
 */
#include "plan/selector.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/mem.h"

struct entry {
    const struct meta *m;
    uint64_t dc;
    char group[64];
    char order[96];
    char hash[SELECTOR_HASH_MAX];
};

struct selector {
    struct entry *e;
    size_t n, pos;
    int64_t max_objects;
    uint64_t max_bytes;
};

/* Go's %016X of a signed value: "-" then zero padding to 16 chars in all. */
static void
go_hex16(char *out, size_t n, int64_t v)
{
    if (v < 0)
        snprintf(out, n, "-%015llX", (unsigned long long)(-(v + 1)) + 1ULL);
    else
        snprintf(out, n, "%016llX", (unsigned long long)v);
}

/* Go's integer division truncates toward zero, as C's does. */
static int64_t
window_of(int64_t unix_s, int64_t window_s)
{
    return unix_s / window_s;
}

uint64_t
selector_dc_hash(const char *dedicated_json)
{
    static const unsigned char sep = 0xff;
    struct hash_xxh64 h;
    json_t *arr;
    size_t i;
    uint64_t r;

    if (dedicated_json == NULL || dedicated_json[0] == '\0')
        return 0;
    arr = json_loads(dedicated_json, 0, NULL);
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        json_decref(arr);
        return 0;
    }
    hash_xxh64_init(&h);
    for (i = 0; i < json_array_size(arr); i++) {
        json_t *c = json_array_get(arr, i);
        const char *s = json_string_value(json_object_get(c, "s"));
        const char *nm = json_string_value(json_object_get(c, "n"));
        const char *t = json_string_value(json_object_get(c, "t"));
        /* the JSON omits the defaults; the hash uses the full names */
        s = s && *s ? s : "span";
        t = t && *t ? t : "string";
        nm = nm ? nm : "";
        hash_xxh64_update(&h, s, strlen(s));
        hash_xxh64_update(&h, &sep, 1);
        hash_xxh64_update(&h, nm, strlen(nm));
        hash_xxh64_update(&h, &sep, 1);
        hash_xxh64_update(&h, t, strlen(t));
    }
    r = hash_xxh64_digest(&h);
    json_decref(arr);
    return r;
}

static int
entry_cmp(const struct entry *a, const struct entry *b)
{
    int c = strcmp(a->group, b->group);

    return c ? c : strcmp(a->order, b->order);
}

/* Stable merge sort: qsort is not stable and Tempo uses sort.SliceStable. */
static void
merge_sort(struct entry *a, struct entry *tmp, size_t n)
{
    size_t mid = n / 2, i = 0, j = mid, k = 0;

    if (n < 2)
        return;
    merge_sort(a, tmp, mid);
    merge_sort(a + mid, tmp, n - mid);
    while (i < mid && j < n)
        tmp[k++] = entry_cmp(&a[j], &a[i]) < 0 ? a[j++] : a[i++];
    while (i < mid)
        tmp[k++] = a[i++];
    while (j < n)
        tmp[k++] = a[j++];
    memcpy(a, tmp, n * sizeof(*a));
}

struct selector *
selector_new(const struct meta *const *metas, size_t n, int64_t window_s, int64_t max_objects,
             uint64_t max_bytes, int64_t now_s)
{
    struct selector *s;
    struct entry *tmp;
    int64_t cur, active;
    size_t i;

    if (window_s <= 0)
        return NULL;
    s = tc_calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->e = tc_calloc(n ? n : 1, sizeof(*s->e));
    tmp = tc_calloc(n ? n : 1, sizeof(*tmp));
    if (s->e == NULL || tmp == NULL) {
        tc_free(tmp);
        selector_free(s);
        return NULL;
    }
    s->max_objects = max_objects;
    s->max_bytes = max_bytes;
    cur = window_of(now_s, window_s);
    active = window_of(now_s - SELECTOR_ACTIVE_WINDOW_S, window_s);
    for (i = 0; i < n; i++) {
        const struct meta *m = metas[i];
        struct entry *e = &s->e[s->n];
        int64_t w = window_of(m->end_s, window_s);
        char age[24], objs[24], dch[24];

        /* the cut-over window is skipped so two owners never race on it */
        if (w == active)
            continue;
        e->m = m;
        e->dc = selector_dc_hash(m->dedicated);
        go_hex16(age, sizeof(age), cur - w);
        go_hex16(objs, sizeof(objs), m->total_objects);
        snprintf(dch, sizeof(dch), "%016llX", (unsigned long long)e->dc);
        if (active <= w) {
            snprintf(e->group, sizeof(e->group), "A-%u-%s-%u", m->compaction_level, age,
                     m->replication_factor);
            snprintf(e->order, sizeof(e->order), "%s-%s-%s", objs, m->version, dch);
            snprintf(e->hash, sizeof(e->hash), "%s-%u-%lld-%u", m->tenant, m->compaction_level,
                     (long long)w, m->replication_factor);
        } else {
            snprintf(e->group, sizeof(e->group), "B-%s-%u", age, m->replication_factor);
            snprintf(e->order, sizeof(e->order), "%u-%s-%s-%s", m->compaction_level, objs,
                     m->version, dch);
            snprintf(e->hash, sizeof(e->hash), "%s-%lld-%u", m->tenant, (long long)w,
                     m->replication_factor);
        }
        s->n++;
    }
    merge_sort(s->e, tmp, s->n);
    tc_free(tmp);
    return s;
}

static int
same_kind(const struct entry *a, const struct entry *b)
{
    return strcmp(a->group, b->group) == 0 && a->m->data_encoding == b->m->data_encoding &&
           a->m->version == b->m->version && a->dc == b->dc;
}

int
selector_next(struct selector *s, struct selector_job *job)
{
    while (s->pos < s->n) {
        size_t i, j, chosen = 0;

        /* from each start i, extend the stripe i..j while it stays within
         * limits; the first start with a stripe of two or more wins */
        for (i = s->pos; i < s->n; i++) {
            int64_t objs = s->e[i].m->total_objects;
            uint64_t bytes = s->e[i].m->size;
            for (j = i + 1; j < s->n; j++) {
                objs += s->e[j].m->total_objects;
                bytes += s->e[j].m->size;
                if (!same_kind(&s->e[i], &s->e[j]) || j - i + 1 > SELECTOR_MAX_INPUTS ||
                    objs > s->max_objects || bytes > s->max_bytes)
                    break;
                chosen = j - i + 1;
            }
            if (chosen)
                break;
        }
        if (chosen < SELECTOR_MIN_INPUTS) {
            s->pos = s->n;
            return 0;
        }
        job->n = chosen;
        for (j = 0; j < chosen; j++)
            job->inputs[j] = s->e[i + j].m;
        snprintf(job->hash, sizeof(job->hash), "%s", s->e[i].hash);
        s->pos = i + chosen;
        return 1;
    }
    return 0;
}

void
selector_free(struct selector *s)
{
    if (s == NULL)
        return;
    tc_free(s->e);
    tc_free(s);
}
