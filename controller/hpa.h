/*
 * hpa.h - desired replicas the way KEDA + the HorizontalPodAutoscaler get
 * them, for spec.autoscaling.mode builtin. Pure: no clock, no I/O; the
 * caller passes the time and the metric value.
 *
 * One hpa_step() is one HPA sync (research/operator.md 2.5 and the
 * Kubernetes HPA documentation, "Algorithm details" and "Configurable
 * scaling behavior"):
 *   - KEDA's part first: with minReplicas 0 the target is active while
 *     value > activationThreshold; an active target at 0 replicas goes to
 *     max(min, 1), an inactive one goes to 0 once cooldownPeriod has passed
 *     since it was last active. A target at 0 stays there (the HPA is off
 *     at 0 replicas).
 *   - replicas outside [max(min,1), max] are brought to the bound at once;
 *   - otherwise the metric gives ceil(value / target) (AverageValue) or
 *     ceil(ready * value / target) (Value), unless value / target (per pod
 *     for AverageValue) is within the tolerance (0.1) of 1;
 *   - stabilization: the recommendation is bounded below by the minimum of
 *     the recommendations within the scale-up window and above by the
 *     maximum within the scale-down window;
 *   - policies: a scale up is capped at what the policies allow counting
 *     from the replicas at the start of each policy's period (Pods: +value,
 *     Percent: ceil(start * (1 + value/100))), selectPolicy Max takes the
 *     largest allowance, Min the smallest, Disabled none; scale down
 *     likewise (Pods: start - value, Percent: floor(start * (1 - value/100))).
 * The caller reports a scale it made with hpa_record_scale(): the policies
 * count those changes.
 */
#ifndef CTRL_HPA_H
#define CTRL_HPA_H

#include <jansson.h>
#include <stdint.h>

#include "base/tc.h"

#define HPA_MAX_POLICIES 8
#define HPA_MAX_WINDOW_S 3600 /* autoscaling/v2's cap on stabilizationWindowSeconds */
#define HPA_MAX_PERIOD_S 1800 /* and on a policy's periodSeconds */
#define HPA_TOLERANCE 0.1     /* kube-controller-manager's default */

enum hpa_select { HPA_SELECT_MAX = 0, HPA_SELECT_MIN, HPA_SELECT_DISABLED };
enum hpa_policy_type { HPA_PODS = 0, HPA_PERCENT };

struct hpa_policy {
    enum hpa_policy_type type;
    int value;    /* > 0 */
    int period_s; /* 1..HPA_MAX_PERIOD_S */
};

struct hpa_rules {
    int window_s; /* stabilizationWindowSeconds */
    enum hpa_select select;
    int npolicies;
    struct hpa_policy policies[HPA_MAX_POLICIES];
};

struct hpa_spec {
    int min, max;      /* KEDA minReplicaCount (0 allows scale to zero), maxReplicaCount */
    double target;     /* threshold, > 0 */
    double activation; /* activationThreshold */
    int per_pod;       /* 1: metricType AverageValue, 0: Value */
    double tolerance;  /* HPA_TOLERANCE */
    int cooldown_s;    /* KEDA cooldownPeriod (only with min 0) */
    struct hpa_rules up, down;
};

/* hpa_spec_init() sets the HPA's defaults: min 1, max 100, target 1,
 * tolerance 0.1, cooldown 300 s, scaleUp {window 0, Max, [Percent 100 per
 * 15 s, Pods 4 per 15 s]}, scaleDown {window 300, Max, [Percent 100 per 15 s]}. */
void hpa_spec_init(struct hpa_spec *s);

/* hpa_behavior_parse() reads an autoscaling/v2 HPA behavior object (NULL:
 * the defaults stay) into s->up and s->down; a missing field keeps the
 * HPA default for its direction. path names the object in errors
 * ("spec.autoscaling.behavior"). TC_OK or TC_INVAL naming the field. */
int hpa_behavior_parse(const json_t *behavior, const char *path, struct hpa_spec *s,
                       struct tc_err *err);

/* The recommendations and scale events of one target. */
struct hpa_state;

struct hpa_state *hpa_state_new(void); /* NULL on NOMEM */
void hpa_state_free(struct hpa_state *st);

struct hpa_decision {
    int desired;        /* the replicas to set */
    int metric_desired; /* what the metric alone asks for, before behavior */
    int active;         /* value > activation */
    const char *reason; /* a constant: why desired is what it is */
};

/* hpa_step() runs one sync at now_ms for a target at `current` replicas
 * (the scale's spec.replicas) with `ready` ready pods and metric `value`. */
void hpa_step(const struct hpa_spec *s, struct hpa_state *st, int64_t now_ms, int current,
              int ready, double value, struct hpa_decision *out);

/* hpa_seed() counts `replicas` as recommended at now_ms for the scale-down
 * window only (the maximum it takes), never for scale up: a fresh state (a
 * new leader) then does not scale down before a full window has passed,
 * as the old leader's history would not have let it either. */
void hpa_seed(struct hpa_state *st, int64_t now_ms, int replicas);

/* hpa_record_scale() notes a scale from `from` to `to` replicas made at
 * now_ms (after the write succeeded). */
void hpa_record_scale(struct hpa_state *st, int64_t now_ms, int from, int to);

#endif
