/*
 * daemon_int.h - the state of one tempo-compactor process, shared by the
 * lifecycle and loops (daemon.c) and the HTTP endpoints (daemon_http.c).
 * Not a public API.
 *
 * Pointers the HTTP threads read (poller, ring, comp) are set under mu once
 * their object exists; the flags are atomics.
 */
#ifndef TC_DAEMON_INT_H
#define TC_DAEMON_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "backend/backend.h"
#include "base/http_server.h"
#include "base/metrics.h"
#include "blocklist/blocklist.h"
#include "blocklist/poll.h"
#include "compact/compactor.h"
#include "daemon_config.h"
#include "daemon_overrides.h"
#include "plan/ring.h"

struct daemon {
    struct daemon_config cfg;
    struct http_server *http;
    struct backend *backend;
    struct blocklist *bl;
    struct poller *poller;
    struct ring *ring;
    struct overrides *ovr;
    char state_path[1024];

    atomic_int ready;
    atomic_int stopping;
    atomic_int first_poll_done;
    char ready_reason[512];
    double start_time;

    struct compactor *comp;

    pthread_mutex_t mu; /* guards the condition below and the pointers HTTP reads */
    pthread_cond_t cv;
    pthread_t poll_thread, compaction_thread, retention_thread;
    int threads_started;
    atomic_int threads_running;

    struct metric *m_retention_seconds;
};

/* daemon_http_start() registers every endpoint and starts listening. */
int daemon_http_start(struct daemon *d, struct tc_err *err);

#endif
