/* blocklist.c - per-tenant sorted meta arrays (see blocklist.h). */
#include "blocklist/blocklist.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "base/mem.h"
#include "tempo/tindex.h"

#define BLOCKLIST_MAGIC "TCBL1\n"
#define BLOCKLIST_MAX_STATE ((size_t)4 << 30)

struct blocklist_tenant {
    char *name;
    struct meta *live, *comp;
    size_t nlive, ncomp;
};

struct blocklist_pending {
    char *tenant;
    struct meta *add, *cadd;
    uint8_t (*rm)[16], (*crm)[16];
    size_t nadd, ncadd, nrm, ncrm;
};

struct blocklist {
    pthread_mutex_t mu;
    struct blocklist_tenant *t; /* sorted by name */
    size_t nt, tcap;
    struct blocklist_pending *pend;
    size_t npend, pcap;
};

static int
blocklist_cmp_meta(const void *a, const void *b)
{
    return memcmp(((const struct meta *)a)->id, ((const struct meta *)b)->id, 16);
}

void
blocklist_sort_ids(struct meta *m, size_t n)
{
    if (n > 1)
        qsort(m, n, sizeof(*m), blocklist_cmp_meta);
}

const struct meta *
blocklist_bsearch(const struct meta *m, size_t n, const uint8_t id[16])
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(m[mid].id, id, 16);

        if (c == 0)
            return &m[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Sorts and drops duplicate IDs. */
static size_t
blocklist_dedup(struct meta *m, size_t n)
{
    size_t i, o = 0;

    if (n < 2)
        return n;
    blocklist_sort_ids(m, n);
    for (i = 0; i < n; i++) {
        if (o > 0 && memcmp(m[o - 1].id, m[i].id, 16) == 0)
            m[o - 1] = m[i];
        else
            m[o++] = m[i];
    }
    return o;
}

struct blocklist *
blocklist_new(void)
{
    struct blocklist *bl = tc_calloc(1, sizeof(*bl));

    if (bl)
        pthread_mutex_init(&bl->mu, NULL);
    return bl;
}

static void
blocklist_tenant_cleanup(struct blocklist_tenant *t)
{
    tc_free(t->name);
    tc_free(t->live);
    tc_free(t->comp);
    memset(t, 0, sizeof(*t));
}

static void
blocklist_pending_cleanup(struct blocklist_pending *p)
{
    tc_free(p->tenant);
    tc_free(p->add);
    tc_free(p->cadd);
    tc_free(p->rm);
    tc_free(p->crm);
}

static void
blocklist_clear(struct blocklist *bl)
{
    size_t i;

    for (i = 0; i < bl->nt; i++)
        blocklist_tenant_cleanup(&bl->t[i]);
    tc_free(bl->t);
    bl->t = NULL;
    bl->nt = bl->tcap = 0;
}

void
blocklist_free(struct blocklist *bl)
{
    size_t i;

    if (bl == NULL)
        return;
    blocklist_clear(bl);
    for (i = 0; i < bl->npend; i++)
        blocklist_pending_cleanup(&bl->pend[i]);
    tc_free(bl->pend);
    pthread_mutex_destroy(&bl->mu);
    tc_free(bl);
}

/* Index of tenant or of its insertion point; *found tells which. */
static size_t
blocklist_find_tenant(const struct blocklist *bl, const char *name, int *found)
{
    size_t lo = 0, hi = bl->nt;

    *found = 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(bl->t[mid].name, name);

        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static struct blocklist_tenant *
blocklist_tenant_get(struct blocklist *bl, const char *name, int create)
{
    int found;
    size_t i = blocklist_find_tenant(bl, name, &found);

    if (found)
        return &bl->t[i];
    if (!create)
        return NULL;
    if (bl->nt == bl->tcap) {
        size_t ncap = bl->tcap ? bl->tcap * 2 : 8;
        struct blocklist_tenant *nt = tc_reallocarray(bl->t, ncap, sizeof(*nt));

        if (nt == NULL)
            return NULL;
        bl->t = nt;
        bl->tcap = ncap;
    }
    memmove(&bl->t[i + 1], &bl->t[i], (bl->nt - i) * sizeof(*bl->t));
    memset(&bl->t[i], 0, sizeof(bl->t[i]));
    bl->t[i].name = tc_strdup(name);
    if (bl->t[i].name == NULL) {
        memmove(&bl->t[i], &bl->t[i + 1], (bl->nt - i) * sizeof(*bl->t));
        return NULL;
    }
    bl->nt++;
    return &bl->t[i];
}

static void
blocklist_tenant_drop_if_empty(struct blocklist *bl, struct blocklist_tenant *t)
{
    size_t i = (size_t)(t - bl->t);

    if (t->nlive || t->ncomp)
        return;
    blocklist_tenant_cleanup(t);
    memmove(&bl->t[i], &bl->t[i + 1], (bl->nt - i - 1) * sizeof(*bl->t));
    bl->nt--;
}

static int
blocklist_copy_sorted(const struct meta *src, size_t n, struct meta **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    if (n == 0)
        return TC_OK;
    *out = tc_memdup(src, n * sizeof(*src));
    if (*out == NULL)
        return TC_NOMEM;
    *nout = blocklist_dedup(*out, n);
    return TC_OK;
}

int
blocklist_set_tenant(struct blocklist *bl, const char *tenant, const struct meta *live,
                     size_t nlive, const struct meta *compacted, size_t ncompacted)
{
    struct meta *l = NULL, *c = NULL;
    size_t nl, nc;
    struct blocklist_tenant *t;

    if (blocklist_copy_sorted(live, nlive, &l, &nl) != TC_OK ||
        blocklist_copy_sorted(compacted, ncompacted, &c, &nc) != TC_OK) {
        tc_free(l);
        return TC_NOMEM;
    }
    pthread_mutex_lock(&bl->mu);
    t = blocklist_tenant_get(bl, tenant, 1);
    if (t == NULL) {
        pthread_mutex_unlock(&bl->mu);
        tc_free(l);
        tc_free(c);
        return TC_NOMEM;
    }
    tc_free(t->live);
    tc_free(t->comp);
    t->live = l;
    t->nlive = nl;
    t->comp = c;
    t->ncomp = nc;
    blocklist_tenant_drop_if_empty(bl, t);
    pthread_mutex_unlock(&bl->mu);
    return TC_OK;
}

static int
blocklist_has_id(const uint8_t (*ids)[16], size_t n, const uint8_t id[16])
{
    size_t i;

    for (i = 0; i < n; i++)
        if (memcmp(ids[i], id, 16) == 0)
            return 1;
    return 0;
}

static int
blocklist_has_meta(const struct meta *m, size_t n, const uint8_t id[16])
{
    size_t i;

    for (i = 0; i < n; i++)
        if (memcmp(m[i].id, id, 16) == 0)
            return 1;
    return 0;
}

/* One list: drop rm, add the adds that pass keep(). New array replaces *arr. */
static int
blocklist_edit(struct meta **arr, size_t *n, const uint8_t (*rm)[16], size_t nrm,
               const struct meta *add, size_t nadd, const struct meta *excl, size_t nexcl,
               const uint8_t (*excl2)[16], size_t nexcl2)
{
    struct meta *out;
    size_t i, o = 0;

    if (nrm == 0 && nadd == 0)
        return TC_OK;
    out = tc_reallocarray(NULL, *n + nadd + 1, sizeof(*out));
    if (out == NULL)
        return TC_NOMEM;
    for (i = 0; i < *n; i++)
        if (!blocklist_has_id(rm, nrm, (*arr)[i].id))
            out[o++] = (*arr)[i];
    for (i = 0; i < nadd; i++) {
        if (blocklist_bsearch(*arr, *n, add[i].id) || blocklist_has_id(rm, nrm, add[i].id) ||
            blocklist_has_meta(excl, nexcl, add[i].id) ||
            blocklist_has_id(excl2, nexcl2, add[i].id) || blocklist_has_meta(out, o, add[i].id))
            continue;
        out[o++] = add[i];
    }
    blocklist_sort_ids(out, o);
    tc_free(*arr);
    *arr = out;
    *n = o;
    return TC_OK;
}

static int
blocklist_update_locked(struct blocklist *bl, const char *tenant, const struct meta *add,
                        size_t nadd, const uint8_t (*rm)[16], size_t nrm, const struct meta *cadd,
                        size_t ncadd, const uint8_t (*crm)[16], size_t ncrm)
{
    struct blocklist_tenant *t = blocklist_tenant_get(bl, tenant, 1);
    int rc;

    if (t == NULL)
        return TC_NOMEM;
    rc = blocklist_edit(&t->live, &t->nlive, rm, nrm, add, nadd, cadd, ncadd, crm, ncrm);
    if (rc == TC_OK)
        rc = blocklist_edit(&t->comp, &t->ncomp, crm, ncrm, cadd, ncadd, NULL, 0, NULL, 0);
    blocklist_tenant_drop_if_empty(bl, t);
    return rc;
}

int
blocklist_update(struct blocklist *bl, const char *tenant, const struct meta *add, size_t nadd,
                 const uint8_t (*remove)[16], size_t nremove, const struct meta *cadd, size_t ncadd,
                 const uint8_t (*cremove)[16], size_t ncremove)
{
    struct blocklist_pending p;
    int rc;

    memset(&p, 0, sizeof(p));
    p.tenant = tc_strdup(tenant);
    p.add = nadd ? tc_memdup(add, nadd * sizeof(*add)) : NULL;
    p.cadd = ncadd ? tc_memdup(cadd, ncadd * sizeof(*cadd)) : NULL;
    p.rm = nremove ? tc_memdup(remove, nremove * 16) : NULL;
    p.crm = ncremove ? tc_memdup(cremove, ncremove * 16) : NULL;
    p.nadd = nadd;
    p.ncadd = ncadd;
    p.nrm = nremove;
    p.ncrm = ncremove;
    if (!p.tenant || (nadd && !p.add) || (ncadd && !p.cadd) || (nremove && !p.rm) ||
        (ncremove && !p.crm)) {
        blocklist_pending_cleanup(&p);
        return TC_NOMEM;
    }
    pthread_mutex_lock(&bl->mu);
    rc = blocklist_update_locked(bl, tenant, add, nadd, remove, nremove, cadd, ncadd, cremove,
                                 ncremove);
    if (rc == TC_OK && bl->npend == bl->pcap) {
        size_t ncap = bl->pcap ? bl->pcap * 2 : 8;
        struct blocklist_pending *np = tc_reallocarray(bl->pend, ncap, sizeof(*np));

        if (np == NULL)
            rc = TC_NOMEM;
        else {
            bl->pend = np;
            bl->pcap = ncap;
        }
    }
    if (rc == TC_OK)
        bl->pend[bl->npend++] = p;
    else
        blocklist_pending_cleanup(&p);
    pthread_mutex_unlock(&bl->mu);
    return rc;
}

int
blocklist_apply_poll(struct blocklist *bl, struct blocklist *polled)
{
    size_t i;
    int rc = TC_OK;

    pthread_mutex_lock(&polled->mu);
    pthread_mutex_lock(&bl->mu);
    blocklist_clear(bl);
    bl->t = polled->t;
    bl->nt = polled->nt;
    bl->tcap = polled->tcap;
    polled->t = NULL;
    polled->nt = polled->tcap = 0;
    for (i = 0; i < bl->npend; i++) {
        struct blocklist_pending *p = &bl->pend[i];
        int r = blocklist_update_locked(bl, p->tenant, p->add, p->nadd, (const uint8_t(*)[16])p->rm,
                                        p->nrm, p->cadd, p->ncadd, (const uint8_t(*)[16])p->crm,
                                        p->ncrm);

        if (r != TC_OK)
            rc = r;
        blocklist_pending_cleanup(p);
    }
    bl->npend = 0;
    pthread_mutex_unlock(&bl->mu);
    pthread_mutex_unlock(&polled->mu);
    return rc;
}

int
blocklist_tenants(struct blocklist *bl, struct backend_strlist *out)
{
    size_t i;
    int rc = TC_OK;

    pthread_mutex_lock(&bl->mu);
    for (i = 0; rc == TC_OK && i < bl->nt; i++)
        rc = backend_strlist_add(out, bl->t[i].name, strlen(bl->t[i].name));
    pthread_mutex_unlock(&bl->mu);
    return rc;
}

int
blocklist_get(struct blocklist *bl, const char *tenant, struct meta **live, size_t *nlive,
              struct meta **compacted, size_t *ncompacted)
{
    struct blocklist_tenant *t;
    int rc = TC_OK;

    if (live) {
        *live = NULL;
        *nlive = 0;
    }
    if (compacted) {
        *compacted = NULL;
        *ncompacted = 0;
    }
    pthread_mutex_lock(&bl->mu);
    t = blocklist_tenant_get(bl, tenant, 0);
    if (t == NULL) {
        rc = TC_NOTFOUND;
        goto out;
    }
    if (live && t->nlive) {
        *live = tc_memdup(t->live, t->nlive * sizeof(*t->live));
        if (*live == NULL) {
            rc = TC_NOMEM;
            goto out;
        }
        *nlive = t->nlive;
    }
    if (compacted && t->ncomp) {
        *compacted = tc_memdup(t->comp, t->ncomp * sizeof(*t->comp));
        if (*compacted == NULL) {
            rc = TC_NOMEM;
            if (live) {
                tc_free(*live);
                *live = NULL;
                *nlive = 0;
            }
            goto out;
        }
        *ncompacted = t->ncomp;
    }
out:
    pthread_mutex_unlock(&bl->mu);
    return rc;
}

int
blocklist_lookup(struct blocklist *bl, const char *tenant, const uint8_t id[16], struct meta *out,
                 int *compacted)
{
    struct blocklist_tenant *t;
    const struct meta *m = NULL;

    pthread_mutex_lock(&bl->mu);
    t = blocklist_tenant_get(bl, tenant, 0);
    if (t && (m = blocklist_bsearch(t->comp, t->ncomp, id)) != NULL)
        *compacted = 1;
    else if (t && (m = blocklist_bsearch(t->live, t->nlive, id)) != NULL)
        *compacted = 0;
    if (m)
        *out = *m;
    pthread_mutex_unlock(&bl->mu);
    return m ? TC_OK : TC_NOTFOUND;
}

size_t
blocklist_len(struct blocklist *bl)
{
    size_t i, n = 0;

    pthread_mutex_lock(&bl->mu);
    for (i = 0; i < bl->nt; i++)
        n += bl->t[i].nlive + bl->t[i].ncomp;
    pthread_mutex_unlock(&bl->mu);
    return n;
}

size_t
blocklist_bytes(struct blocklist *bl)
{
    size_t i, n;

    pthread_mutex_lock(&bl->mu);
    n = sizeof(*bl) + bl->tcap * sizeof(*bl->t);
    for (i = 0; i < bl->nt; i++)
        n += (bl->t[i].nlive + bl->t[i].ncomp) * sizeof(struct meta) + strlen(bl->t[i].name) + 1;
    pthread_mutex_unlock(&bl->mu);
    return n;
}

/* ---- state file ---- */

int
blocklist_save(struct blocklist *bl, const char *path, struct tc_err *err)
{
    struct buf raw, z;
    char tmp[4096];
    size_t i, bound, zr;
    uint32_t crc;
    int fd, rc = TC_OK;

    buf_init(&raw, BLOCKLIST_MAX_STATE);
    rc = buf_puts(&raw, BLOCKLIST_MAGIC);
    pthread_mutex_lock(&bl->mu);
    for (i = 0; rc == TC_OK && i < bl->nt; i++) {
        struct tindex ti;
        struct buf pb;

        tindex_init(&ti);
        ti.live = bl->t[i].live;
        ti.nlive = bl->t[i].nlive;
        ti.compacted = bl->t[i].comp;
        ti.ncompacted = bl->t[i].ncomp;
        buf_init(&pb, BLOCKLIST_MAX_STATE);
        rc = tindex_encode_pb(&ti, &pb);
        if (rc == TC_OK)
            rc = buf_put_uvarint(&raw, strlen(bl->t[i].name));
        if (rc == TC_OK)
            rc = buf_puts(&raw, bl->t[i].name);
        if (rc == TC_OK)
            rc = buf_put_uvarint(&raw, pb.len);
        if (rc == TC_OK)
            rc = buf_append(&raw, pb.data ? pb.data : "", pb.len);
        buf_cleanup(&pb);
    }
    pthread_mutex_unlock(&bl->mu);
    if (rc != TC_OK) {
        buf_cleanup(&raw);
        return tc_err_set(err, rc, "state %s: encode: %s", path, tc_strerror(rc));
    }
    crc = (uint32_t)crc32(0, (const Bytef *)raw.data, (uInt)raw.len);
    buf_put_u32le(&raw, crc);
    bound = ZSTD_compressBound(raw.len);
    buf_init(&z, bound + 1);
    if (buf_reserve(&z, bound) != TC_OK) {
        buf_cleanup(&raw);
        return tc_err_set(err, TC_NOMEM, "state %s: out of memory", path);
    }
    zr = ZSTD_compress(z.data, bound, raw.data, raw.len, 1);
    buf_cleanup(&raw);
    if (ZSTD_isError(zr)) {
        buf_cleanup(&z);
        return tc_err_set(err, TC_ERR, "state %s: zstd: %s", path, ZSTD_getErrorName(zr));
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp-%ld", path, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        buf_cleanup(&z);
        return tc_err_set(err, TC_IO, "state %s: %s", tmp, strerror(errno));
    }
    if (write(fd, z.data, zr) != (ssize_t)zr || fsync(fd) != 0)
        rc = tc_err_set(err, TC_IO, "state %s: write: %s", tmp, strerror(errno));
    close(fd);
    buf_cleanup(&z);
    if (rc == TC_OK && rename(tmp, path) != 0)
        rc = tc_err_set(err, TC_IO, "state %s: rename: %s", path, strerror(errno));
    if (rc != TC_OK)
        unlink(tmp);
    return rc;
}

int
blocklist_load(struct blocklist *bl, const char *path, struct tc_err *err)
{
    struct buf z, raw;
    struct blocklist *tmp;
    const uint8_t *p, *end;
    ssize_t r;
    unsigned long long sz;
    uint32_t crc;
    int rc;

    buf_init(&z, BLOCKLIST_MAX_STATE);
    if ((rc = buf_read_file(&z, path, err)) != TC_OK) {
        buf_cleanup(&z);
        return tc_err_prefix(err, "state");
    }
    sz = ZSTD_getFrameContentSize(z.data ? z.data : "", z.len);
    if (sz == ZSTD_CONTENTSIZE_ERROR || sz == ZSTD_CONTENTSIZE_UNKNOWN ||
        sz > BLOCKLIST_MAX_STATE) {
        buf_cleanup(&z);
        return tc_err_set(err, TC_CORRUPT, "state %s: not a state file (bad zstd frame)", path);
    }
    buf_init(&raw, BLOCKLIST_MAX_STATE);
    if (buf_reserve(&raw, (size_t)sz) != TC_OK) {
        buf_cleanup(&z);
        return tc_err_set(err, TC_NOMEM, "state %s: out of memory", path);
    }
    r = (ssize_t)ZSTD_decompress(raw.data, (size_t)sz, z.data, z.len);
    buf_cleanup(&z);
    if (ZSTD_isError((size_t)r) || (size_t)r != sz || sz < strlen(BLOCKLIST_MAGIC) + 4 ||
        memcmp(raw.data, BLOCKLIST_MAGIC, strlen(BLOCKLIST_MAGIC)) != 0) {
        buf_cleanup(&raw);
        return tc_err_set(err, TC_CORRUPT, "state %s: bad frame or magic", path);
    }
    raw.len = (size_t)sz;
    memcpy(&crc, raw.data + raw.len - 4, 4);
    if (crc != (uint32_t)crc32(0, (const Bytef *)raw.data, (uInt)(raw.len - 4))) {
        buf_cleanup(&raw);
        return tc_err_set(err, TC_CORRUPT, "state %s: checksum mismatch", path);
    }
    tmp = blocklist_new();
    p = (const uint8_t *)raw.data + strlen(BLOCKLIST_MAGIC);
    end = (const uint8_t *)raw.data + raw.len - 4;
    while (tmp && rc == TC_OK && p < end) {
        uint64_t nl, pl;
        char name[256];
        struct tindex ti;

        if (meta_pb_read_varint(&p, end, &nl) != TC_OK || nl == 0 || nl > 255 ||
            nl > (uint64_t)(end - p)) {
            rc = tc_err_set(err, TC_CORRUPT, "state %s: bad tenant name", path);
            break;
        }
        memcpy(name, p, nl);
        name[nl] = '\0';
        p += nl;
        if (meta_pb_read_varint(&p, end, &pl) != TC_OK || pl > (uint64_t)(end - p)) {
            rc = tc_err_set(err, TC_CORRUPT, "state %s: tenant %s: bad length", path, name);
            break;
        }
        rc = tindex_decode_pb(p, pl, &ti, err);
        p += pl;
        if (rc == TC_OK && backend_valid_tenant(name, err) == TC_OK)
            rc = blocklist_set_tenant(tmp, name, ti.live, ti.nlive, ti.compacted, ti.ncompacted);
        tindex_cleanup(&ti);
    }
    buf_cleanup(&raw);
    if (tmp == NULL)
        return tc_err_set(err, TC_NOMEM, "state %s: out of memory", path);
    if (rc == TC_OK) {
        size_t i;

        for (i = 0; rc == TC_OK && i < tmp->nt; i++)
            rc = blocklist_set_tenant(bl, tmp->t[i].name, tmp->t[i].live, tmp->t[i].nlive,
                                      tmp->t[i].comp, tmp->t[i].ncomp);
    }
    blocklist_free(tmp);
    return rc;
}
