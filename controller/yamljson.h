/*
 * yamljson.h - YAML <-> jansson JSON, for CRs in and manifests out.
 *
 * Parsing follows the YAML 1.2 core schema for plain scalars (null, bool,
 * int, float); quoted scalars are always strings. Aliases, merge keys and
 * duplicate keys are rejected with a message naming line and column, so a
 * CR never means something other than what it says.
 *
 * Emitting sorts mapping keys and quotes every string that a YAML 1.1 reader
 * (kubectl, Go yaml.v2) could take for a non-string ("yes", "1e3", "0x1"),
 * so the output is deterministic and round-trips through any reader.
 */
#ifndef CTRL_YAMLJSON_H
#define CTRL_YAMLJSON_H

#include <jansson.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/tc.h"

/* yamljson_parse() parses every document of text into a new JSON array
 * (caller owns *out, json_decref). Empty documents are skipped. name is
 * used in error messages (a file name). */
int yamljson_parse(const char *text, size_t len, const char *name, json_t **out,
                   struct tc_err *err);

/* yamljson_emit() appends v as one YAML document (no "---") to out. */
int yamljson_emit(const json_t *v, struct buf *out, struct tc_err *err);

/* yamljson_emit_stream() appends each element of the array docs as a
 * document, separated by "---" lines. */
int yamljson_emit_stream(const json_t *docs, struct buf *out, struct tc_err *err);

/* yamljson_plain_ok() is 1 when s can be a plain YAML scalar that every
 * reader still resolves to a string (exposed for tests). */
int yamljson_plain_ok(const char *s);

/* yamljson_match() is 1 when s matches the POSIX extended regex re (used by
 * scalar resolution here and by CR field validation in render.c). */
int yamljson_match(const char *s, const char *re);

#endif
