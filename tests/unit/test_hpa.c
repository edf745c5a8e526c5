/*
 * test_hpa.c - the builtin autoscaler's HPA maths against the Kubernetes
 * HPA documentation (kubernetes.io/docs/tasks/run-application/
 * horizontal-pod-autoscale/, "Algorithm details" and "Configurable scaling
 * behavior") and KEDA's documented activation rules. Each case quotes the
 * example it replays.
 */
#include <jansson.h>

#include "hpa.h"
#include "test.h"

#define S(sec) ((int64_t)(sec)*1000)

static json_t *
js(const char *text)
{
    json_t *v = json_loads(text, 0, NULL);
    ASSERT(v != NULL);
    return v;
}

/* One sync that also scales: the desired replicas become current. */
static int
sync_scale(const struct hpa_spec *s, struct hpa_state *st, int64_t at, int *current, double value)
{
    struct hpa_decision d;

    hpa_step(s, st, at, *current, *current, value, &d);
    if (d.desired != *current)
        hpa_record_scale(st, at, *current, d.desired);
    *current = d.desired;
    return d.desired;
}

/* "if the current metric value is 200m, and the desired value is 100m, the
 * number of replicas will be doubled, since 200.0 / 100.0 == 2.0 If the
 * current value is instead 50m, you'll halve the number of replicas" -
 * with KEDA's AverageValue the per-pod value is the query's total divided
 * by the replicas, so desired = ceil(total / threshold). */
TEST(doc_double_and_halve)
{
    struct hpa_spec s;
    struct hpa_state *st;
    struct hpa_decision d;

    hpa_spec_init(&s);
    s.target = 100;
    s.down.window_s = 0;
    st = hpa_state_new();
    hpa_step(&s, st, S(0), 4, 4, 800, &d); /* 200 per pod */
    ASSERT_EQ(d.metric_desired, 8);
    ASSERT_EQ(d.desired, 8);
    hpa_step(&s, st, S(60), 4, 4, 200, &d); /* 50 per pod */
    ASSERT_EQ(d.metric_desired, 2);
    ASSERT_EQ(d.desired, 2);
    hpa_state_free(st);
}

/* "The control plane skips any scaling action if the ratio is sufficiently
 * close to 1.0 (within a configurable tolerance, 0.1 by default)." */
TEST(doc_tolerance)
{
    struct hpa_spec s;
    struct hpa_state *st;
    struct hpa_decision d;

    hpa_spec_init(&s);
    s.target = 100;
    s.down.window_s = 0;
    st = hpa_state_new();
    hpa_step(&s, st, S(0), 4, 4, 432, &d); /* ratio 1.08: within */
    ASSERT_EQ(d.desired, 4);
    hpa_step(&s, st, S(1), 4, 4, 368, &d); /* ratio 0.92: within */
    ASSERT_EQ(d.desired, 4);
    hpa_step(&s, st, S(2), 4, 4, 460, &d); /* ratio 1.15: ceil(4.6) */
    ASSERT_EQ(d.desired, 5);
    hpa_step(&s, st, S(3), 4, 4, 300, &d); /* ratio 0.75: ceil(3.0) */
    ASSERT_EQ(d.desired, 3);
    hpa_state_free(st);
}

/* metricType Value (research/operator.md 2.5, quoting KEDA's docs): "HPA
 * will scale the deployment to 3 * 20 / 5 = 12" - the ready pods times
 * value / threshold. */
TEST(keda_value_metric)
{
    struct hpa_spec s;
    struct hpa_state *st;
    struct hpa_decision d;

    hpa_spec_init(&s);
    s.per_pod = 0;
    s.target = 5;
    st = hpa_state_new();
    hpa_step(&s, st, S(0), 3, 3, 20, &d);
    ASSERT_EQ(d.metric_desired, 12);
    ASSERT_EQ(d.desired, 7); /* the default scale-up policy: max(+4 pods, +100 %) per 15 s */
    hpa_record_scale(st, S(0), 3, 7);
    hpa_step(&s, st, S(15), 3, 3, 20, &d); /* the same 3 ready pods, one period later */
    ASSERT_EQ(d.metric_desired, 12);
    hpa_state_free(st);
}

/* "minReplicas ... maxReplicas": the HPA brings replicas outside the range
 * to the bound without reading the metric, and never recommends past it. */
TEST(clamp_min_max)
{
    struct hpa_spec s;
    struct hpa_state *st;
    struct hpa_decision d;

    hpa_spec_init(&s);
    s.min = 2;
    s.max = 6;
    s.target = 10;
    s.down.window_s = 0;
    st = hpa_state_new();
    hpa_step(&s, st, S(0), 9, 9, 1000, &d);
    ASSERT_EQ(d.desired, 6);
    ASSERT_STR_EQ(d.reason, "AboveMaxReplicas");
    hpa_step(&s, st, S(1), 1, 1, 0, &d);
    ASSERT_EQ(d.desired, 2);
    ASSERT_STR_EQ(d.reason, "BelowMinReplicas");
    hpa_step(&s, st, S(2), 4, 4, 1000, &d); /* wants 100 */
    ASSERT_EQ(d.metric_desired, 100);
    ASSERT_EQ(d.desired, 6);
    ASSERT_STR_EQ(d.reason, "TooManyReplicas");
    hpa_step(&s, st, S(3), 4, 4, 1, &d); /* wants 1 */
    ASSERT_EQ(d.desired, 2);
    ASSERT_STR_EQ(d.reason, "TooFewReplicas");
    hpa_state_free(st);
}

/* The documented default behavior: "For scaling up there is no
 * stabilization window ... There are 2 policies where 4 pods or a 100% of
 * the currently running replicas may at most be added every 15 seconds
 * till the HPA reaches its steady state." and "For scaling down the
 * stabilization window is 300 seconds ... a 100% of the currently running
 * replicas to be removed which means the scaling target can be scaled down
 * to the minimum allowed replicas." */
TEST(doc_default_behavior)
{
    struct hpa_spec s;
    struct hpa_state *st;
    int cur = 1;

    hpa_spec_init(&s);
    s.target = 10;
    st = hpa_state_new();
    /* wants 20: +4 pods beats +100 % at 1 replica; at 5, +100 % wins */
    ASSERT_EQ(sync_scale(&s, st, S(0), &cur, 200), 5);
    ASSERT_EQ(sync_scale(&s, st, S(5), &cur, 200), 5); /* same 15 s period */
    ASSERT_EQ(sync_scale(&s, st, S(15), &cur, 200), 10);
    ASSERT_EQ(sync_scale(&s, st, S(30), &cur, 200), 20);
    /* the load goes away at 60 s: the max of the last 300 s is 20 */
    ASSERT_EQ(sync_scale(&s, st, S(60), &cur, 10), 20);
    ASSERT_EQ(sync_scale(&s, st, S(329), &cur, 10), 20); /* the 30 s sample is inside */
    ASSERT_EQ(sync_scale(&s, st, S(330), &cur, 10), 1);  /* 100 %: straight to min */
    hpa_state_free(st);
}

/* "stabilizationWindowSeconds ... When the metrics indicate that the
 * target should be scaled down the algorithm looks into previously
 * computed desired states, and uses the highest value from the specified
 * interval." - the "change downscale stabilization window" example sets
 * it to 60 s. Scale up looks at the lowest over its window the same way. */
TEST(doc_stabilization_windows)
{
    struct hpa_spec s;
    struct hpa_state *st;
    json_t *b = js("{\"scaleDown\": {\"stabilizationWindowSeconds\": 60},"
                   " \"scaleUp\": {\"stabilizationWindowSeconds\": 30}}");
    struct tc_err err = {0};
    int cur = 8;

    hpa_spec_init(&s);
    s.target = 10;
    ASSERT_EQ(hpa_behavior_parse(b, "spec.autoscaling.behavior", &s, &err), TC_OK);
    ASSERT_EQ(s.down.window_s, 60);
    ASSERT_EQ(s.up.window_s, 30);
    st = hpa_state_new();
    ASSERT_EQ(sync_scale(&s, st, S(0), &cur, 80), 8);
    ASSERT_EQ(sync_scale(&s, st, S(20), &cur, 30), 8); /* 8 seen 20 s ago */
    ASSERT_EQ(sync_scale(&s, st, S(50), &cur, 50), 8);
    ASSERT_EQ(sync_scale(&s, st, S(61), &cur, 30), 5); /* 8 left; max(3, 5, 3) */
    ASSERT_EQ(sync_scale(&s, st, S(111), &cur, 30), 3);
    /* up: the lowest of the last 30 s bounds it */
    ASSERT_EQ(sync_scale(&s, st, S(120), &cur, 90), 3); /* min(3 at 111, 9) */
    /* then the default scale-up policies: max(+4 pods, +100 %) per 15 s */
    ASSERT_EQ(sync_scale(&s, st, S(142), &cur, 90), 7);
    ASSERT_EQ(sync_scale(&s, st, S(157), &cur, 90), 9);
    hpa_state_free(st);
    json_decref(b);
}

/* The "Scaling policies" example: Pods 4 and Percent 10 per 60 s. "if
 * there are 80 replicas and the target has to be scaled down to 10
 * replicas then during the first step 8 replicas will be reduced. In the
 * next iteration when the number of replicas is 72, 10% of the pods is 7.2
 * but the number is rounded up to 8. ... When the number of replicas falls
 * below 40 the first policy (Pods) is applied and 4 replicas will be
 * reduced at a time." */
TEST(doc_scale_down_policies)
{
    static const int want[] = {72, 64, 57, 51, 45, 40, 36, 32, 28, 24, 20, 16, 12, 10, 10};
    struct hpa_spec s;
    struct hpa_state *st;
    json_t *b = js("{\"scaleDown\": {\"policies\": ["
                   "{\"type\": \"Pods\", \"value\": 4, \"periodSeconds\": 60},"
                   "{\"type\": \"Percent\", \"value\": 10, \"periodSeconds\": 60}]}}");
    struct tc_err err = {0};
    size_t i;
    int cur = 80;

    hpa_spec_init(&s);
    s.target = 10;
    ASSERT_EQ(hpa_behavior_parse(b, "spec.autoscaling.behavior", &s, &err), TC_OK);
    st = hpa_state_new();
    for (i = 0; i < TC_ARRAY_LEN(want); i++) {
        ASSERT_EQ(sync_scale(&s, st, S(60 * i), &cur, 100), want[i]);
        /* a second sync within the same period removes nothing more */
        if (want[i] > 10)
            ASSERT_EQ(sync_scale(&s, st, S(60 * i + 30), &cur, 100), want[i]);
    }
    hpa_state_free(st);
    json_decref(b);
}

/* "To ensure that no more than 5 Pods are removed per minute, you can add
 * a second scale-down policy with a fixed size of 5, and set selectPolicy
 * to minimum." (Percent 10 and Pods 5 per 60 s, selectPolicy Min) */
TEST(doc_select_min)
{
    struct hpa_spec s;
    struct hpa_state *st;
    json_t *b = js("{\"scaleDown\": {\"stabilizationWindowSeconds\": 0, \"selectPolicy\": \"Min\","
                   " \"policies\": [{\"type\": \"Percent\", \"value\": 10, \"periodSeconds\": 60},"
                   "{\"type\": \"Pods\", \"value\": 5, \"periodSeconds\": 60}]}}");
    struct tc_err err = {0};
    int cur = 100;

    hpa_spec_init(&s);
    s.target = 10;
    ASSERT_EQ(hpa_behavior_parse(b, "spec.autoscaling.behavior", &s, &err), TC_OK);
    st = hpa_state_new();
    ASSERT_EQ(sync_scale(&s, st, S(0), &cur, 10), 95);  /* -5 beats -10 */
    ASSERT_EQ(sync_scale(&s, st, S(60), &cur, 10), 90); /* -5 beats -9 */
    cur = 30;
    hpa_state_free(st);
    st = hpa_state_new();
    ASSERT_EQ(sync_scale(&s, st, S(0), &cur, 10), 27); /* -3 beats -5 */
    hpa_state_free(st);
    json_decref(b);
}

/* "Example: disable scale down ... selectPolicy: Disabled" - and the same
 * for scale up. */
TEST(doc_select_disabled)
{
    struct hpa_spec s;
    struct hpa_state *st;
    json_t *b = js("{\"scaleDown\": {\"selectPolicy\": \"Disabled\"},"
                   " \"scaleUp\": {\"selectPolicy\": \"Disabled\"}}");
    struct tc_err err = {0};
    int cur = 5;

    hpa_spec_init(&s);
    s.target = 10;
    ASSERT_EQ(hpa_behavior_parse(b, "spec.autoscaling.behavior", &s, &err), TC_OK);
    st = hpa_state_new();
    ASSERT_EQ(sync_scale(&s, st, S(0), &cur, 10), 5);
    ASSERT_EQ(sync_scale(&s, st, S(600), &cur, 500), 5);
    hpa_state_free(st);
    json_decref(b);
}

/* "Limit scale down rate": Percent 10 per 60 s. "To limit the rate at which
 * pods are removed by the HPA to 10% per minute". A scale up in the period
 * counts too: the period starts from the replicas before it. */
TEST(doc_rate_counts_period_start)
{
    struct hpa_spec s;
    struct hpa_state *st;
    json_t *b = js("{\"scaleDown\": {\"stabilizationWindowSeconds\": 0, \"policies\": [{\"type\": "
                   "\"Percent\", \"value\": 10, \"periodSeconds\": 60}]},"
                   " \"scaleUp\": {\"policies\": [{\"type\": \"Pods\", \"value\": 2, "
                   "\"periodSeconds\": 60}]}}");
    struct tc_err err = {0};
    int cur = 20;

    hpa_spec_init(&s);
    s.target = 1;
    ASSERT_EQ(hpa_behavior_parse(b, "spec.autoscaling.behavior", &s, &err), TC_OK);
    st = hpa_state_new();
    ASSERT_EQ(sync_scale(&s, st, S(0), &cur, 100), 22);  /* +2 pods per minute */
    ASSERT_EQ(sync_scale(&s, st, S(30), &cur, 100), 22); /* the +2 counts: start was 20 */
    ASSERT_EQ(sync_scale(&s, st, S(60), &cur, 100), 24);
    ASSERT_EQ(sync_scale(&s, st, S(120), &cur, 1), 21); /* floor(24 * 0.9) */
    ASSERT_EQ(sync_scale(&s, st, S(150), &cur, 1), 21); /* start 24, -10 % = 21 */
    ASSERT_EQ(sync_scale(&s, st, S(180), &cur, 1), 18); /* floor(21 * 0.9) */
    hpa_state_free(st);
    json_decref(b);
}

/* KEDA's activation phase (keda.sh docs, "Activating and Scaling
 * thresholds"): 0 <-> 1 follows value > activationThreshold, 1 <-> N the
 * HPA; scale to zero waits cooldownPeriod after the last active poll. */
TEST(keda_activation_and_scale_to_zero)
{
    struct hpa_spec s;
    struct hpa_state *st;
    struct hpa_decision d;

    hpa_spec_init(&s);
    s.min = 0;
    s.target = 5;
    s.activation = 10;
    s.cooldown_s = 300;
    s.down.window_s = 0;
    st = hpa_state_new();
    hpa_step(&s, st, S(0), 0, 0, 8, &d); /* the HPA would want 2, but not active */
    ASSERT_EQ(d.active, 0);
    ASSERT_EQ(d.desired, 0);
    hpa_step(&s, st, S(30), 0, 0, 11, &d);
    ASSERT_EQ(d.active, 1);
    ASSERT_EQ(d.desired, 1);
    ASSERT_STR_EQ(d.reason, "ScaleFromZero");
    hpa_step(&s, st, S(60), 1, 1, 40, &d); /* the HPA takes over: ceil(40 / 5) */
    ASSERT_EQ(d.metric_desired, 8);
    ASSERT_EQ(d.desired, 5);              /* the default scale-up policy: +4 pods per 15 s */
    hpa_step(&s, st, S(90), 8, 8, 4, &d); /* inactive, cooldown not over: HPA floor 1 */
    ASSERT_EQ(d.desired, 1);
    hpa_step(&s, st, S(359), 1, 1, 4, &d);
    ASSERT_EQ(d.desired, 1);
    hpa_step(&s, st, S(360), 1, 1, 4, &d); /* 300 s since the active poll at 60 s */
    ASSERT_EQ(d.desired, 0);
    ASSERT_STR_EQ(d.reason, "ScaleToZero");
    /* with minReplicas >= 1 activation does not matter */
    s.min = 1;
    hpa_step(&s, st, S(400), 0, 0, 0, &d);
    ASSERT_EQ(d.desired, 1);
    hpa_state_free(st);
}

/* A new leader's fresh state: seeded with the current replicas it holds
 * them for the scale-down window (no scale down right after a failover)
 * but scales up at once. */
TEST(seed_holds_scale_down_only)
{
    struct hpa_spec s;
    struct hpa_state *st;
    int cur = 6;

    hpa_spec_init(&s);
    s.target = 10;
    st = hpa_state_new();
    hpa_seed(st, S(0), 6);
    ASSERT_EQ(sync_scale(&s, st, S(0), &cur, 10), 6);     /* wants 1: held */
    ASSERT_EQ(sync_scale(&s, st, S(299), &cur, 10), 6);   /* still inside 300 s */
    ASSERT_EQ(sync_scale(&s, st, S(300), &cur, 10), 1);   /* window over */
    ASSERT_EQ(sync_scale(&s, st, S(301), &cur, 100), 10); /* up at once (the period began at 6) */
    hpa_state_free(st);
}

TEST(behavior_errors_name_the_field)
{
    static const struct {
        const char *json, *msg;
    } cases[] = {
        {"{\"scaleUp\": {\"stabilizationWindowSeconds\": 4000}}",
         "spec.autoscaling.behavior.scaleUp.stabilizationWindowSeconds: must be an integer from 0 "
         "to 3600"},
        {"{\"scaleDown\": {\"selectPolicy\": \"max\"}}",
         "spec.autoscaling.behavior.scaleDown.selectPolicy: must be Max, Min or Disabled"},
        {"{\"scaleDown\": {\"policies\": [{\"type\": \"Pod\", \"value\": 1, \"periodSeconds\": "
         "1}]}}",
         "spec.autoscaling.behavior.scaleDown.policies[0].type: must be Pods or Percent"},
        {"{\"scaleDown\": {\"policies\": [{\"type\": \"Pods\", \"value\": 1}]}}",
         "spec.autoscaling.behavior.scaleDown.policies[0].periodSeconds: required field is "
         "missing"},
        {"{\"scaleUp\": {\"policies\": [{\"type\": \"Pods\", \"value\": 0, \"periodSeconds\": "
         "9}]}}",
         "spec.autoscaling.behavior.scaleUp.policies[0].value: must be an integer from 1 to "
         "2147483647"},
        {"{\"scaleUp\": {\"policies\": [{\"type\": \"Pods\", \"value\": 1, \"periodSeconds\": "
         "1801}]}}",
         "spec.autoscaling.behavior.scaleUp.policies[0].periodSeconds: must be an integer from 1 "
         "to 1800"},
        {"{\"scaleUp\": {\"policies\": []}}",
         "spec.autoscaling.behavior.scaleUp.policies: must be a list of 1 to 8 policies"},
        {"{\"scaleup\": {}}", "spec.autoscaling.behavior.scaleup: unknown field"},
    };
    size_t i;

    for (i = 0; i < TC_ARRAY_LEN(cases); i++) {
        struct hpa_spec s;
        struct tc_err err = {0};
        json_t *b = js(cases[i].json);
        hpa_spec_init(&s);
        ASSERT_EQ(hpa_behavior_parse(b, "spec.autoscaling.behavior", &s, &err), TC_INVAL);
        ASSERT_STR_EQ(err.msg, cases[i].msg);
        json_decref(b);
    }
}

TEST_MAIN(TEST_ENTRY(doc_double_and_halve), TEST_ENTRY(doc_tolerance),
          TEST_ENTRY(keda_value_metric), TEST_ENTRY(clamp_min_max),
          TEST_ENTRY(doc_default_behavior), TEST_ENTRY(doc_stabilization_windows),
          TEST_ENTRY(doc_scale_down_policies), TEST_ENTRY(doc_select_min),
          TEST_ENTRY(doc_select_disabled), TEST_ENTRY(doc_rate_counts_period_start),
          TEST_ENTRY(keda_activation_and_scale_to_zero), TEST_ENTRY(seed_holds_scale_down_only),
          TEST_ENTRY(behavior_errors_name_the_field))
