/*
 * render.h - the pure function TempoCompactor -> desired child manifests.
 *
 * render_manifests() validates the CR and returns the children in apply
 * order: ConfigMap, Service, Deployment, [PodDisruptionBudget],
 * [TriggerAuthentication], [ScaledObject]. Nothing here talks to the API
 * server, reads clocks or randomness: the same CR always renders the same
 * bytes. Validation errors name the field (TC_INVAL, "spec.x.y: ...").
 */
#ifndef CTRL_RENDER_H
#define CTRL_RENDER_H

#include <jansson.h>

#include "base/buf.h"
#include "base/tc.h"

#define RENDER_GROUP "compactor.tempo.dev"
#define RENDER_API_VERSION "compactor.tempo.dev/v1alpha1"
#define RENDER_KIND "TempoCompactor"
#define RENDER_MANAGED_BY "tempo-compactor-operator"
/* Our compactor daemon's image; the tag is the project version (tc_version),
 * as built by hack/build-images.sh and defaulted by the CRD. */
#define RENDER_DEFAULT_IMAGE_REPO "tempo-compactor"
/* Writable emptyDir (mounted at /var/tempo) keeping the daemon's poll state
 * across container restarts within the pod. */
#define RENDER_STATE_DIR "/var/tempo/compactor"
#define RENDER_HTTP_PORT 3200

/* Child kinds the controller may own, in apply order. */
enum render_kind {
    RENDER_CONFIGMAP = 0,
    RENDER_SERVICE,
    RENDER_DEPLOYMENT,
    RENDER_PDB,
    RENDER_TRIGGERAUTH,
    RENDER_SCALEDOBJECT,
    RENDER__NKINDS
};

struct render_kind_info {
    const char *api_version; /* "apps/v1" */
    const char *kind;        /* "Deployment" */
    const char *group_path;  /* "/apis/apps/v1" or "/api/v1" */
    const char *plural;      /* "deployments" */
};

extern const struct render_kind_info render_kinds[RENDER__NKINDS];

struct render_result {
    json_t *manifests;        /* array, apply order; owned */
    int want[RENDER__NKINDS]; /* 1 when that kind is in manifests */
    char config_hash[65];     /* sha256 hex of tempo.yaml */
    int autoscaling;          /* spec.autoscaling.enabled */
    int builtin;              /* ... with mode builtin: the controller scales */
    /* builtin: the ScaledObject and TriggerAuthentication KEDA mode would
     * apply, kept for the controller's own run of the trigger; not in
     * manifests and never applied. Owned; NULL otherwise. */
    json_t *trigger_so, *trigger_ta;
    char name[64];      /* base child name "tempo-<cr>-compactor" */
    char selector[256]; /* label selector string for status.selector */
};

/* A spec field that sets a key of the daemon (render.c lists them). */
struct render_field {
    const char *section;        /* spec.<section> */
    const char *name;           /* spec.<section>.<name> */
    const char *key;            /* the daemon's tempo.yaml key (daemon_config_table) */
    int always;                 /* rendered with its default when unset */
    const char *deploy_default; /* NULL: the key's default */
    const char *why;            /* why deploy_default differs from Tempo's */
};

extern const struct render_field render_fields[];
extern const size_t render_nfields;

/* render_fields_json() appends render_fields as a JSON array of {section,
 * name, key, always, deploy_default, why} (`config-fields`, read by
 * hack/gen-config.py with `tempo-compactor config-schema`). */
int render_fields_json(struct buf *out);

/* render_manifests() fills res (caller calls render_result_cleanup). cr is
 * borrowed. On error res is empty and err names the field. */
int render_manifests(const json_t *cr, struct render_result *res, struct tc_err *err);
void render_result_cleanup(struct render_result *res);

/* render_keda_headers() renders a string map as KEDA's "k=v,k=v" with keys
 * sorted; returns a new string (caller frees with tc_free) or NULL. */
char *render_keda_map(const json_t *map);

/* render_child_name() writes the name of a child kind for CR crname. */
void render_child_name(enum render_kind k, const char *crname, char *out, size_t outsz);

#endif
