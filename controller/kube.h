/*
 * kube.h - a small Kubernetes API client on the core HTTP client + jansson.
 *
 * A struct kube_config holds where and how to connect: loaded from the
 * in-cluster service account (token re-read when the file changes, at most
 * a minute stale, and at once after a 401) or from a kubeconfig (contexts,
 * token/tokenFile, basic auth, client certificate and key from files or
 * *-data held in memory and handed to libcurl as blobs, never written to disk,
 * an exec credential plugin cached until expirationTimestamp, and
 * insecure-skip-tls-verify only when the kubeconfig says so). One config is
 * shared by all threads (its auth state has a lock).
 *
 * A struct kube is one http_client (compactor/core/http_client.h: the
 * connection is kept alive between requests) and belongs to one thread.
 */
#ifndef CTRL_KUBE_H
#define CTRL_KUBE_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <time.h>

#include "base/buf.h"
#include "base/tc.h"

#define KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct kube_config {
    char *server; /* "https://host:port" without a trailing slash */
    char *ns;     /* namespace of the context or of the service account */
    char *token;  /* static bearer token */
    char *token_file;
    char *username, *password;
    struct buf ca_pem, cert_pem, key_pem; /* in memory only */
    int insecure;
    /* exec credential plugin (kubeconfig users[].user.exec) */
    char *exec_api_version;
    char **exec_argv; /* command + args, NULL-terminated */
    char **exec_env;  /* "NAME=value", NULL-terminated */
    /* runtime auth state, under mu */
    pthread_mutex_t mu;
    char *cur_token;
    time_t token_checked, token_mtime;
    time_t exec_expiry;
    struct buf exec_cert, exec_key;
    unsigned long auth_gen; /* bumps when credentials change */
};

/* kube_config_load() picks, in order: kubeconfig (if non-NULL), $KUBECONFIG
 * (':'-separated, first file that defines a value wins), in-cluster when
 * KUBERNETES_SERVICE_HOST is set, ~/.kube/config. context NULL = current. */
int kube_config_load(const char *kubeconfig, const char *context, struct kube_config **out,
                     struct tc_err *err);
/* kube_config_in_cluster() reads the service account files under sa_dir. */
int kube_config_in_cluster(const char *sa_dir, struct kube_config **out, struct tc_err *err);
/* kube_config_parse_kubeconfig() parses kubeconfig text (dir resolves
 * relative file paths). */
int kube_config_parse_kubeconfig(const char *text, size_t len, const char *dir, const char *context,
                                 struct kube_config **out, struct tc_err *err);
void kube_config_free(struct kube_config *c);
/* kube_config_invalidate() forgets cached credentials (after a 401). */
void kube_config_invalidate(struct kube_config *c);

struct kube;

struct kube *kube_new(struct kube_config *cfg, struct tc_err *err); /* borrows cfg */
void kube_free(struct kube *k);

struct kube_resp {
    long status;
    struct buf body;
};

void kube_resp_init(struct kube_resp *r);
void kube_resp_cleanup(struct kube_resp *r);

/* kube_do() sends one request (path starts with '/'); TC_OK when any HTTP
 * response arrived, whatever its status (one retry after a 401 with fresh
 * credentials). ctype may be NULL. */
int kube_do(struct kube *k, const char *method, const char *path, const char *ctype,
            const char *body, size_t len, struct kube_resp *resp, struct tc_err *err);

/* kube_json() wraps kube_do: body (borrowed, may be NULL) is serialized,
 * the response parsed into *out (caller owns; NULL when not JSON). */
int kube_json(struct kube *k, const char *method, const char *path, const char *ctype,
              const json_t *body, long *status, json_t **out, struct tc_err *err);

/* kube_stream() GETs path and hands body bytes of a 2xx answer to sink as
 * they arrive; a non-2xx body goes to errbody (capped). Stops when sink
 * returns non-zero, *stop becomes non-zero, or timeout_ms passes. */
typedef int (*kube_sink_fn)(const char *p, size_t n, void *ud);
int kube_stream(struct kube *k, const char *path, long timeout_ms, kube_sink_fn sink, void *ud,
                volatile int *stop, long *status, struct buf *errbody, struct tc_err *err);

/* kube_get_url() GETs an absolute http(s) URL that is not the API server
 * (a pod's /metrics): no credentials are sent. TC_OK with *status set. */
int kube_get_url(struct kube *k, const char *url, long timeout_ms, long *status, struct buf *body,
                 struct tc_err *err);

/* kube_status_message() extracts "message" from a Status body, or "". */
const char *kube_status_message(const json_t *st);

/* kube_base64_decode() decodes into out (appending). */
int kube_base64_decode(const char *s, size_t n, struct buf *out);

#endif
