/*
 * ring.h - who owns which job, without a coordinator.
 *
 * Every replica knows the same peer set and hashes each job string to one
 * owner with rendezvous (highest random weight) hashing on FNV-1a, so adding
 * or removing one of N replicas moves about 1/N of the jobs. Peers come from
 * "dns+<name>:<port>" entries (resolved again on every refresh: a headless
 * Service), from static "host:port" entries, or from nothing (this instance
 * owns everything, like Tempo's unsharded mode). A peer counts as a member
 * only while its /ready answers 200, so a dead replica's share moves within
 * one refresh interval. This instance is always a member of its own view.
 *
 * All calls are thread-safe.
 */
#ifndef TC_RING_H
#define TC_RING_H

#include <stddef.h>

#include "base/buf.h"
#include "base/tc.h"

struct ring;

/* peers (borrowed, copied) may be empty. self_addr is "ip:port" as peers see
 * this instance, or NULL to detect it from the local interfaces and port.
 * refresh_ms (compactor.ring.peer_refresh_interval) must be positive. */
struct ring *ring_new(const char *const *peers, size_t npeers, const char *self_addr, int port,
                      long refresh_ms, struct tc_err *err);
/* ring_start() resolves and probes once, then keeps refreshing on a thread. */
int ring_start(struct ring *r, struct tc_err *err);
/* ring_refresh() resolves and probes now (also used by ring_start's thread). */
void ring_refresh(struct ring *r);
int ring_owns(struct ring *r, const char *job);
/* ring_owner() copies the owner's address of job. */
void ring_owner(struct ring *r, const char *job, char *out, size_t outsz);
size_t ring_members(struct ring *r);
/* ring_status_json() appends {"self":..,"members":[..],"share":..}. */
int ring_status_json(struct ring *r, struct buf *out);
void ring_free(struct ring *r);

/* ring_pick() is the pure rendezvous choice: index of the owner of job among
 * members[0..n), or -1 when n is 0. */
int ring_pick(const char *const *members, size_t n, const char *job);

#endif
