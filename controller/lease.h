/*
 * lease.h - leader election on a coordination.k8s.io/v1 Lease.
 *
 * client-go's algorithm (tools/leaderelection): a lease held by someone
 * else counts as expired only when this process has not seen its record
 * change for leaseDurationSeconds on its own monotonic clock, never by
 * comparing renewTime with the local wall clock (skew-safe). Updates carry
 * the resourceVersion read, so two candidates cannot both win (409).
 */
#ifndef CTRL_LEASE_H
#define CTRL_LEASE_H

#include <stdint.h>

#include "kube.h"
#include "base/tc.h"

struct lease_opts {
    const char *ns, *name, *identity;
    long duration_ms;       /* 15000 */
    long renew_deadline_ms; /* 10000 */
    long retry_ms;          /* 2000 */
};

struct lease {
    struct lease_opts o;
    char ns[128], name[128], identity[256];
    struct kube *k;
    char *observed;       /* last seen spec, serialized */
    uint64_t observed_ms; /* monotonic time it was first seen */
    uint64_t renewed_ms;  /* last successful acquire/renew */
    int leader;
    unsigned long transitions_seen;
};

int lease_init(struct lease *l, struct kube_config *cfg, const struct lease_opts *o,
               struct tc_err *err);
void lease_cleanup(struct lease *l);
/* lease_try() acquires or renews once; l->leader says the outcome.
 * Errors (network, 5xx) leave l->leader unchanged and return non-TC_OK. */
int lease_try(struct lease *l, struct tc_err *err);
/* lease_lost() is 1 when a leader failed to renew within renew_deadline. */
int lease_lost(const struct lease *l);
/* lease_release() hands the lease back (holderIdentity "", duration 1 s). */
int lease_release(struct lease *l, struct tc_err *err);
/* lease_microtime() formats the wall clock as a Kubernetes MicroTime. */
void lease_microtime(char *out, size_t outsz);

#endif
