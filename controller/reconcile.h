/*
 * reconcile.h - one TempoCompactor key -> desired children + status.
 *
 * reconcile_one() reads the CR, renders it, deletes children that are no
 * longer wanted (for example the ScaledObject once autoscaling is off),
 * hands spec.replicas over to KEDA when autoscaling turns on, applies the
 * rest with server-side apply (one fieldManager, force, ownerReferences),
 * then writes status (observedGeneration, conditions, replicas) and emits
 * Events on condition transitions. An invalid spec applies nothing and
 * reports Degraded with the field named. A 409 refetches and retries.
 * With autoscaling on, the leader also runs the trigger query itself
 * (probe.h): an error or an empty result turns AutoscalingReady False
 * (QueryFailed / QueryEmpty) with a Warning event, even where KEDA, with
 * ignoreNullValues true, would silently scale to the minimum.
 */
#ifndef CTRL_RECONCILE_H
#define CTRL_RECONCILE_H

#include <pthread.h>
#include <stdint.h>

#include "hpa.h"
#include "kube.h"
#include "strmap.h"
#include "base/metrics.h"
#include "base/tc.h"

#define RECONCILE_CR_PATH "/apis/compactor.tempo.dev/v1alpha1"
#define RECONCILE_CR_PLURAL "tempocompactors"

/* State shared by all workers. */
struct reconcile_shared {
    pthread_mutex_t mu;
    const char *field_manager;
    const char *identity;
    int keda_present; /* -1 unknown */
    uint64_t keda_checked_ms;
    long keda_ttl_ms;
    struct strmap children;   /* "Kind/ns/name" -> struct reconcile_child while it exists */
    struct strmap autoscale;  /* "ns/name" -> (void *)1 on, (void *)2 off: last applied mode */
    struct strmap observed;   /* "ns/name" -> struct reconcile_observed */
    long observe_interval_ms; /* pod /metrics and HPA reads; 0 = off */
    struct strmap scalers;    /* "ns/name" -> struct reconcile_scaler (mode builtin) */
    struct metric *m_query_seconds, *m_query_errors, *m_desired; /* mode builtin */
    unsigned long reconciles, errors, conflicts, applies, skipped, deletes, events, status_writes;
};

void reconcile_shared_init(struct reconcile_shared *s, const char *field_manager,
                           const char *identity);
void reconcile_shared_cleanup(struct reconcile_shared *s);

/* What is known about one child: the last resourceVersion seen (watch or
 * apply), the one our last apply produced and a hash of what we applied.
 * An unchanged child (same hash, nobody wrote since) is not re-applied. */
struct reconcile_child {
    char rv[32];
    char applied_rv[32];
    unsigned char hash[32];
    int has_hash;
    /* While our apply is in flight its echo may arrive before the answer:
     * events then are held here and judged when the answer is in. */
    int applying;
    int window_seen;
    char window_rv[32];
};

/* Figures read from outside the API objects, at most every observe interval. */
struct reconcile_observed {
    uint64_t at_ms;
    long long outstanding; /* sum of tempodb_compaction_outstanding_blocks over pods */
    int have_outstanding;
    char outstanding_time[32];
    long long desired; /* keda-hpa-<name> status.desiredReplicas */
    int have_desired;
    /* The leader's probe of the trigger query (probe.h), every
     * max(pollingInterval, 30 s) and at once when the trigger changes. An
     * empty answer is reported only when a second probe, 15 s later,
     * agrees (the compactors' first scrape may not have happened yet). */
    uint64_t probe_at_ms;
    unsigned char probe_key[32]; /* sha256 of the trigger and its TriggerAuthentication */
    int probe_state;             /* enum probe_state, as reported */
    int probe_unconfirmed;       /* one empty answer seen, waiting for the second */
    char probe_msg[384];
};

/* autoscaling.mode builtin: one CR's own autoscaler, run by the leader
 * every pollingInterval (30 s by default): the trigger query, the HPA
 * maths (hpa.h), a PATCH of the Deployment's /scale by our field manager.
 * The recommendations live in this process only; a new leader starts with
 * the current replicas as its first recommendation, so it does not scale
 * down before a full scale-down window has passed. */
struct reconcile_scaler {
    struct hpa_state *hs;
    unsigned char key[32]; /* sha256 of the trigger: a new one starts afresh */
    uint64_t at_ms;        /* last poll (monotonic), 0 = due */
    int state;             /* enum probe_state of the last poll */
    int have_value;
    double value;
    char value_time[32], query_time[32];
    int desired, current;
    char err[384];
};

/* reconcile_sum_metric() sums every sample of metric `name` in a Prometheus
 * text exposition. Returns the number of samples found. */
int reconcile_sum_metric(const char *text, size_t len, const char *name, double *sum);

/* Child informers report existence here ("Kind/ns/name", rv may be NULL).
 * Returns 1 when the event needs no reconcile: the echo of our own last
 * apply, or an event during our apply of that child (judged afterwards). */
int reconcile_child_seen(struct reconcile_shared *s, const char *kind, const char *ns,
                         const char *name, int exists, const char *rv);
/* reconcile_keda_present() probes /apis/keda.sh/v1alpha1 (cached). */
int reconcile_keda_present(struct reconcile_shared *s, struct kube *k);

struct reconcile_result {
    long requeue_after_ms; /* > 0: check again later even on success */
    int requeue_now;       /* a foreign write raced with our apply: run again */
};

/* key is "namespace/name". TC_OK, or an error worth a backoff requeue. */
int reconcile_one(struct reconcile_shared *s, struct kube *k, const char *key,
                  struct reconcile_result *res, struct tc_err *err);

/* Exposed for tests: does managedFields give `manager` ownership of
 * spec.replicas through an Apply? */
int reconcile_owns_replicas(const json_t *obj, const char *manager);

#endif
