/*
 * probe.h - the leader's own run of the autoscaling trigger query.
 *
 * KEDA's Prometheus scaler with ignoreNullValues true (its default) reads an
 * empty result - a wrong X-Scope-OrgID, a label typo - as 0 and scales to
 * minReplicas without any error. probe_query() sends the rendered trigger
 * the way KEDA does (research/operator.md 2.2-2.4): GET
 * <serverAddress>/api/v1/query?query=..&time=<now>[&namespace=..][&k=v], the
 * customHeaders, the TriggerAuthentication's parameters (bearerToken,
 * username/password, customAuthHeader/customAuthValue, cert/key/ca), TLS
 * verified unless the trigger says unsafeSsl. It says whether the answer was
 * one series (OK), none (EMPTY) or an error (FAILED, with the HTTP status).
 * Credentials are sent, never logged or copied into the verdict.
 */
#ifndef CTRL_PROBE_H
#define CTRL_PROBE_H

#include <jansson.h>

enum probe_state { PROBE_UNKNOWN = 0, PROBE_OK, PROBE_EMPTY, PROBE_FAILED };

struct probe_result {
    enum probe_state state;
    long status;   /* HTTP status, 0 when no answer arrived */
    double value;  /* PROBE_OK: the series' value */
    char msg[384]; /* what an operator reads in the condition */
};

/* probe_query() runs the trigger query. metadata is the ScaledObject
 * trigger's metadata (string values); params holds the resolved
 * TriggerAuthentication parameters ({"bearerToken": "..."}), or NULL; both
 * are borrowed. timeout_ms bounds the request. Always fills *out; returns
 * TC_OK, or TC_NOMEM. */
int probe_query(const json_t *metadata, const json_t *params, long timeout_ms,
                struct probe_result *out);

/* probe_state_name() is "OK", "QueryEmpty", "QueryFailed" or "Unknown". */
const char *probe_state_name(enum probe_state s);

#endif
