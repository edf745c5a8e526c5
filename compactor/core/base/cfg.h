/*
 * cfg.h - the config engine: one table of keys drives YAML, flags and dumps.
 *
 * A table entry names a dotted YAML path, its type, where it lives in the
 * target struct (offsetof), its default (a string parsed like a file value),
 * bounds and a doc line. cfg_load() applies, in order: defaults, the YAML
 * file (-config.file, with -config.expand-env for ${VAR} and ${VAR:-def}),
 * then -path=value flags. An unknown key or a bad value is an error naming
 * the key, and for files the file, line and column.
 *
 * A table may include another table (CFG_TABLE) at an offset: a module
 * keeps the keys of its own config struct, with their defaults, in one
 * table (poll_cfg_table), and the program's table includes it where that
 * struct is embedded. So every default is written once, next to its key.
 *
 * Strings, lists and JSON values in the target are owned by the target;
 * cfg_cleanup() frees them.
 */
#ifndef TC_CFG_H
#define TC_CFG_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/tc.h"

enum cfg_type {
    CFG_BOOL,     /* int */
    CFG_INT,      /* int64_t */
    CFG_BYTES,    /* uint64_t; accepts plain integers */
    CFG_FLOAT,    /* double */
    CFG_DURATION, /* int64_t milliseconds; Go syntax: 1h30m, 250ms, 0s */
    CFG_STRING,   /* char * */
    CFG_SECRET,   /* char *, printed masked */
    CFG_STRLIST,  /* struct cfg_strlist */
    CFG_JSON,     /* char *: any YAML subtree as JSON text (maps, lists of objects) */
    CFG_IGNORED,  /* a subtree accepted with a warning: not used by this program */
    CFG_TABLE,    /* the keys of sub, their offsets relative to this entry's offset */
};

/* Duration bounds are in ms. CFG_DURATION_MAX (876000h, 100 years) is the
 * upper bound of durations that have no natural one: Tempo accepts any
 * duration, and retentions of 10 years (87600h) are real. */
#define CFG_MS_DAY (24.0 * 3600 * 1000)
#define CFG_DURATION_MAX (36500 * CFG_MS_DAY)

/* cfg_key.flags */
#define CFG_ZERO_IS_DEFAULT 1u /* Tempo's "0 means the default": 0 loads as def */

struct cfg_strlist {
    char **v;
    size_t n;
};

struct cfg_key {
    const char *path; /* "storage.trace.blocklist_poll" */
    const char *flag; /* extra flag name, e.g. Tempo's "compactor.compaction.block-retention" */
    enum cfg_type type;
    size_t offset;
    const char *def; /* NULL = zero value */
    double min, max; /* inclusive bounds when min < max (durations in ms) */
    const char *doc;
    unsigned flags;              /* CFG_ZERO_IS_DEFAULT */
    const struct cfg_table *sub; /* CFG_TABLE only */
};

/* A table entry that includes sub's keys for the struct at offset off. */
#define CFG_INCLUDE(subtable, off)                                                                 \
    {                                                                                              \
        "", NULL, CFG_TABLE, (off), NULL, 0, 0, NULL, 0, (subtable)                                \
    }

struct cfg_table {
    const struct cfg_key *keys;
    size_t n;
};

/* cfg_defaults() sets every key to its default. */
int cfg_defaults(const struct cfg_table *t, void *target, struct tc_err *err);

/* cfg_load() parses argv (argv[0] skipped) for -config.file, -config.expand-env
 * and -path=value flags, then applies defaults, file and flags. Arguments that
 * do not start with '-' are errors. Warnings for ignored keys are logged. */
int cfg_load(const struct cfg_table *t, void *target, int argc, char **argv, struct tc_err *err);

/* cfg_load_yaml() applies a YAML document (already env-expanded or not) on top
 * of the target's current values. name is used in error messages. */
int cfg_load_yaml(const struct cfg_table *t, void *target, const char *yaml, size_t len,
                  const char *name, struct tc_err *err);

/* cfg_yaml_to_json() parses one YAML document into a JSON value (caller owns,
 * json_decref). Plain scalars become numbers, booleans or null as YAML 1.1
 * reads them; quoted scalars stay strings. name is used in error messages. */
struct json_t;
int cfg_yaml_to_json(const char *yaml, size_t len, const char *name, struct json_t **out,
                     struct tc_err *err);

/* cfg_find() returns the key named path (or by its flag name), NULL when
 * there is none; *offset (may be NULL) gets the key's offset in the target,
 * included tables counted. Ignored entries are not returned. */
const struct cfg_key *cfg_find(const struct cfg_table *t, const char *path, size_t *offset);

/* cfg_set() sets one key from its text form. */
int cfg_set(const struct cfg_table *t, void *target, const char *path, const char *value,
            struct tc_err *err);

/* cfg_expand_env() expands ${VAR} and ${VAR:-default} into out. */
int cfg_expand_env(const char *in, size_t len, struct buf *out, struct tc_err *err);

/* cfg_render_yaml() appends the effective config as YAML, secrets masked. */
int cfg_render_yaml(const struct cfg_table *t, const void *target, struct buf *out);

/* cfg_render_markdown() appends a Markdown table of every key: path, type,
 * default and doc line (ignored keys listed last). For README and -help. */
int cfg_render_markdown(const struct cfg_table *t, struct buf *out);

/* cfg_render_json() appends every key as a JSON array, sorted by path:
 * {"key", "flag", "type", "default", "min", "max", "zero_is_default", "doc"}.
 * default, min and max are typed (numbers, booleans; durations as Go
 * strings like "5m"); min and max are left out when the key is unbounded.
 * Ignored subtrees come last with only key, type and doc. Generators of the
 * CRD and the chart read it (`tempo-compactor config-schema`). */
int cfg_render_json(const struct cfg_table *t, struct buf *out);

/* cfg_parse_duration() parses Go durations ("1h30m", "250ms", "0") into ms. */
int cfg_parse_duration(const char *s, int64_t *ms);
/* cfg_format_duration() prints ms like Go's time.Duration.String(). */
void cfg_format_duration(int64_t ms, char *out, size_t outsz);
/* cfg_format_duration_short() prints ms without zero units ("336h", "1h30m",
 * "100ms", "0s"), for messages and schemas; Go parses it back. */
void cfg_format_duration_short(int64_t ms, char *out, size_t outsz);

void cfg_cleanup(const struct cfg_table *t, void *target);

#endif
