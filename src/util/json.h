/* json.h - jansson helpers: parsing with a located error, and safe getters.
 *
 * Reference rules are jansson's: functions documented "new" return a reference
 * the caller must json_decref(); "borrowed" ones must not be released. */
#ifndef BROCK_UTIL_JSON_H
#define BROCK_UTIL_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"

/* Largest JSON document brock parses from outside, and its nesting cap. */
#define JSON_MAX_BYTES ((size_t)32 * 1024 * 1024)

/* Parse n bytes. On error: BROCK_ERR_PARSE with "<what>:<line>:<col>: <reason>"
 * (`what` names the source: a file path, "credential_process output", a
 * request id). Returns a new reference in *out. Duplicated keys are rejected. */
enum brock_status json_parse(const char *p, size_t n, const char *what, json_t **out,
                             struct brock_err *e);

/* Borrowed string member or NULL if absent or not a string. */
const char *json_str(const json_t *obj, const char *key);
/* Integer member (also accepts an integral real). False if absent/other type. */
bool json_int(const json_t *obj, const char *key, int64_t *out);

/* Serialise compactly (no spaces), keys in insertion order. Returns malloc'd. */
char *json_dump_compact(const json_t *v);

/* brock's own small state files (identity.json, profiles.json):
 *     {"entries": {"<key>": {..., "time_ms": N}}}
 * json_entries_read: the document at path (at most max_bytes), or a new
 * {"entries": {}} when path is NULL or the file is missing, unreadable or of
 * another shape (it is a cache: it is then replaced). Never NULL; new.
 * json_entries_write: keeps the max_entries newest entries (by time_ms),
 * makes dir (0700) and writes path atomically, mode 0600. */
json_t *json_entries_read(const char *path, size_t max_bytes);
/* The same from text already read (`what` names it); never NULL; new. */
json_t *json_entries_parse(const char *text, size_t len, const char *what);
enum brock_status json_entries_write(const char *dir, const char *path, json_t *doc, size_t max_entries,
                                     struct brock_err *e);

#endif
