/*
 * backend_latency.h - TEST ONLY: a fixed per-request latency over a backend.
 *
 * It models an S3 store for benchmarks and readiness tests without a server:
 * every request costs lat_ms; a get_many batch keeps `concurrency` requests in
 * flight; a ListBlocks costs one request per 1000 keys of each of `shards`
 * key ranges, the ranges in parallel (time = lat x the longest range's pages).
 * Data comes from the wrapped backend. The daemon uses it only when
 * TC_TEST_BACKEND_LATENCY_MS is set, and says so in its log.
 */
#ifndef TC_BACKEND_LATENCY_H
#define TC_BACKEND_LATENCY_H

#include "backend/backend.h"
#include "base/tc.h"

/* backend_latency_new() takes ownership of inner (freed with the wrapper). */
struct backend *backend_latency_new(struct backend *inner, double lat_ms, int shards,
                                    struct tc_err *err);
/* backend_latency_prefetch() takes the store's listing once, so later
 * listings cost only the modelled latency (a store answers a LIST page from
 * its index; a local directory walk should not be timed). Without it every
 * listing walks the wrapped backend and then waits out the model's time. */
int backend_latency_prefetch(struct backend *b, struct tc_err *err);

#endif
