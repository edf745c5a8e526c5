/*
 * daemon_overrides.h - per-tenant compaction overrides, as Tempo reads them.
 *
 * Defaults come from overrides.defaults.* in tempo.yaml. The runtime file
 * named by overrides.per_tenant_override_config is read at start and again
 * when it changes, in either of Tempo's formats:
 *
 *   overrides:                         overrides:
 *     "tenant-a":                        "tenant-a":
 *       compaction:                        block_retention: 48h   (legacy)
 *         block_retention: 48h
 *         compaction_window: 2h
 *         compaction_disabled: true
 *
 * A bad file is logged and the previous overrides stay in force.
 * Lookups are thread-safe.
 */
#ifndef TC_DAEMON_OVERRIDES_H
#define TC_DAEMON_OVERRIDES_H

#include <stdint.h>

#include "base/tc.h"

struct overrides;

struct overrides_tenant {
    int64_t block_retention_ms;   /* 0 = use compactor.compaction.block_retention */
    int64_t compaction_window_ms; /* 0 = use compactor.compaction.compaction_window */
    int compaction_disabled;
};

/* defaults is copied; path (may be NULL or "") is the runtime file. */
struct overrides *overrides_new(const struct overrides_tenant *defaults, const char *path);
/* overrides_reload() re-reads the file if its mtime changed. */
int overrides_reload(struct overrides *o, struct tc_err *err);
/* overrides_load_text() replaces the per-tenant table from YAML text. */
int overrides_load_text(struct overrides *o, const char *yaml, size_t len, const char *name,
                        struct tc_err *err);
void overrides_get(struct overrides *o, const char *tenant, struct overrides_tenant *out);
void overrides_free(struct overrides *o);

#endif
