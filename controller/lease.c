/* lease.c - Lease-based leader election (see lease.h). */
#include "lease.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "base/log.h"
#include "base/mem.h"

void
lease_microtime(char *out, size_t outsz)
{
    struct timeval tv;
    struct tm tm;
    char base[32];

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, outsz, "%s.%06ldZ", base, (long)tv.tv_usec);
}

int
lease_init(struct lease *l, struct kube_config *cfg, const struct lease_opts *o, struct tc_err *err)
{
    memset(l, 0, sizeof(*l));
    l->o = *o;
    snprintf(l->ns, sizeof(l->ns), "%s", o->ns);
    snprintf(l->name, sizeof(l->name), "%s", o->name);
    snprintf(l->identity, sizeof(l->identity), "%s", o->identity);
    l->o.ns = l->ns;
    l->o.name = l->name;
    l->o.identity = l->identity;
    if (l->o.duration_ms <= 0)
        l->o.duration_ms = 15000;
    if (l->o.renew_deadline_ms <= 0)
        l->o.renew_deadline_ms = 10000;
    if (l->o.retry_ms <= 0)
        l->o.retry_ms = 2000;
    l->k = kube_new(cfg, err);
    return l->k ? TC_OK : TC_NOMEM;
}

void
lease_cleanup(struct lease *l)
{
    kube_free(l->k);
    tc_free(l->observed);
    memset(l, 0, sizeof(*l));
}

static void
lease_observe(struct lease *l, const json_t *spec)
{
    char *raw = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS);

    if (raw == NULL)
        return;
    if (l->observed == NULL || strcmp(raw, l->observed) != 0) {
        tc_free(l->observed);
        l->observed = tc_strdup(raw);
        l->observed_ms = tc_now_ms();
    }
    free(raw); /* lint-ok: from jansson */
}

int
lease_try(struct lease *l, struct tc_err *err)
{
    char path[512], now[64];
    json_t *obj = NULL, *spec, *rec = NULL, *res = NULL;
    const char *holder, *rv;
    long status = 0;
    json_int_t dur, trans;
    int rc;

    snprintf(path, sizeof(path), "/apis/coordination.k8s.io/v1/namespaces/%s/leases/%s", l->ns,
             l->name);
    lease_microtime(now, sizeof(now));
    rc = kube_json(l->k, "GET", path, NULL, NULL, &status, &obj, err);
    if (rc != TC_OK)
        return rc;
    if (status == 404) {
        char cpath[512];
        json_decref(obj);
        rec = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:I, s:s, s:s, s:i}}", "apiVersion",
                        "coordination.k8s.io/v1", "kind", "Lease", "metadata", "name", l->name,
                        "namespace", l->ns, "spec", "holderIdentity", l->identity,
                        "leaseDurationSeconds", (json_int_t)(l->o.duration_ms / 1000),
                        "acquireTime", now, "renewTime", now, "leaseTransitions", 0);
        snprintf(cpath, sizeof(cpath), "/apis/coordination.k8s.io/v1/namespaces/%s/leases", l->ns);
        rc = kube_json(l->k, "POST", cpath, NULL, rec, &status, &res, err);
        if (rc == TC_OK && status >= 200 && status < 300) {
            l->leader = 1;
            l->renewed_ms = tc_now_ms();
            lease_observe(l, json_object_get(rec, "spec"));
        } else if (rc == TC_OK && status == 409) {
            l->leader = 0; /* someone else created it first */
        } else if (rc == TC_OK) {
            rc = tc_err_set(err, TC_HTTP, "create lease: HTTP %ld: %s", status,
                            kube_status_message(res));
        }
        json_decref(rec);
        json_decref(res);
        return rc;
    }
    if (status != 200 || !json_is_object(obj)) {
        rc = tc_err_set(err, TC_HTTP, "get lease: HTTP %ld: %s", status, kube_status_message(obj));
        json_decref(obj);
        return rc;
    }
    spec = json_object_get(obj, "spec");
    if (!json_is_object(spec)) {
        spec = json_object();
        json_object_set_new(obj, "spec", spec);
    }
    lease_observe(l, spec);
    holder = json_string_value(json_object_get(spec, "holderIdentity"));
    dur = json_integer_value(json_object_get(spec, "leaseDurationSeconds"));
    trans = json_integer_value(json_object_get(spec, "leaseTransitions"));
    if (holder && *holder && strcmp(holder, l->identity) != 0 &&
        l->observed_ms + (uint64_t)dur * 1000 > tc_now_ms()) {
        l->leader = 0;
        json_decref(obj);
        return TC_OK;
    }
    rv = json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
    rec =
        json_pack("{s:s, s:s, s:{s:s, s:s, s:s?}, s:{s:s, s:I, s:s}}", "apiVersion",
                  "coordination.k8s.io/v1", "kind", "Lease", "metadata", "name", l->name,
                  "namespace", l->ns, "resourceVersion", rv, "spec", "holderIdentity", l->identity,
                  "leaseDurationSeconds", (json_int_t)(l->o.duration_ms / 1000), "renewTime", now);
    if (holder && strcmp(holder, l->identity) == 0) {
        json_t *at = json_object_get(spec, "acquireTime");
        if (json_is_string(at))
            json_object_set(json_object_get(rec, "spec"), "acquireTime", at);
        else
            json_object_set_new(json_object_get(rec, "spec"), "acquireTime", json_string(now));
        json_object_set_new(json_object_get(rec, "spec"), "leaseTransitions", json_integer(trans));
    } else {
        json_object_set_new(json_object_get(rec, "spec"), "acquireTime", json_string(now));
        json_object_set_new(json_object_get(rec, "spec"), "leaseTransitions",
                            json_integer(trans + 1));
    }
    rc = kube_json(l->k, "PUT", path, NULL, rec, &status, &res, err);
    if (rc == TC_OK && status == 200) {
        if (!l->leader)
            LOG_INFO("acquired lease", KV_S("lease", l->name), KV_S("identity", l->identity));
        l->leader = 1;
        l->renewed_ms = tc_now_ms();
        lease_observe(l, json_object_get(rec, "spec"));
    } else if (rc == TC_OK && status == 409) {
        l->leader = 0; /* lost the race: another candidate updated first */
    } else if (rc == TC_OK) {
        rc = tc_err_set(err, TC_HTTP, "update lease: HTTP %ld: %s", status,
                        kube_status_message(res));
    }
    json_decref(rec);
    json_decref(res);
    json_decref(obj);
    return rc;
}

int
lease_lost(const struct lease *l)
{
    return l->leader && tc_now_ms() - l->renewed_ms > (uint64_t)l->o.renew_deadline_ms;
}

int
lease_release(struct lease *l, struct tc_err *err)
{
    char path[512], now[64];
    json_t *obj = NULL, *rec, *res = NULL;
    long status = 0;
    int rc;

    if (!l->leader)
        return TC_OK;
    snprintf(path, sizeof(path), "/apis/coordination.k8s.io/v1/namespaces/%s/leases/%s", l->ns,
             l->name);
    rc = kube_json(l->k, "GET", path, NULL, NULL, &status, &obj, err);
    if (rc != TC_OK || status != 200) {
        json_decref(obj);
        return rc != TC_OK ? rc : tc_err_set(err, TC_HTTP, "get lease: HTTP %ld", status);
    }
    if (strcmp(
            json_string_value(json_object_get(json_object_get(obj, "spec"), "holderIdentity"))
                ? json_string_value(json_object_get(json_object_get(obj, "spec"), "holderIdentity"))
                : "",
            l->identity) != 0) {
        json_decref(obj);
        l->leader = 0;
        return TC_OK; /* not ours any more */
    }
    lease_microtime(now, sizeof(now));
    rec = json_deep_copy(obj);
    json_object_set_new(
        rec, "spec",
        json_pack("{s:s, s:i, s:s, s:s, s:O?}", "holderIdentity", "", "leaseDurationSeconds", 1,
                  "acquireTime", now, "renewTime", now, "leaseTransitions",
                  json_object_get(json_object_get(obj, "spec"), "leaseTransitions")));
    rc = kube_json(l->k, "PUT", path, NULL, rec, &status, &res, err);
    if (rc == TC_OK && status != 200)
        rc = tc_err_set(err, TC_HTTP, "release lease: HTTP %ld: %s", status,
                        kube_status_message(res));
    if (rc == TC_OK) {
        l->leader = 0;
        LOG_INFO("released lease", KV_S("lease", l->name), KV_S("identity", l->identity));
    }
    json_decref(rec);
    json_decref(res);
    json_decref(obj);
    return rc;
}
