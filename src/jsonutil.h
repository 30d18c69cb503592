/* jsonutil.h — strict, bounded JSON parsing and type-checked field access
 * on top of json-c.  json-c's getters convert silently ("12" → 12), so every
 * accessor here checks the type first and names the field on failure.
 * Also the limits object, which requests and the config file share.
 * Runs in: main() (config, policies) and the front's HTTP threads.  Pure. */
#pragma once

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "task.h"

#define JU_MAX_DEPTH 16
/* How every answer and record is printed: compact, "/" not escaped. */
#define JU_PRINT (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

static inline void ju_putp(json_object **o)
{
    if (*o)
        json_object_put(*o);
}
#define _cleanup_json_ __attribute__((cleanup(ju_putp)))

/* Parse exactly one JSON value from buf (strict, UTF-8 checked, depth-capped).
 * On error: client fault 400 "Invalid JSON at byte N: reason". */
int ju_parse(const char *buf, size_t len, int max_depth, json_object **out, struct jc_err *err);

/* `what` names the field in messages, e.g. "limits.memory_mb". */
int ju_u32(json_object *v, const char *what, uint32_t min, uint32_t max, uint32_t *out,
           struct jc_err *err);
int ju_double(json_object *v, const char *what, double min, double max, double *out,
              struct jc_err *err);
/* Returns the string (owned by v) or NULL with err set. */
const char *ju_string(json_object *v, const char *what, struct jc_err *err);
int ju_object(json_object *v, const char *what, struct jc_err *err);

/* Bytes given as a JSON string (its UTF-8 text, \u0000 allowed) or as
 * {"base64": "..."} (RFC 4648, padded, no whitespace).  More than `max`
 * decoded bytes is a 413 naming the field.  *out is malloc'd (never NULL
 * on success, even for 0 bytes). */
int ju_bytes(json_object *v, const char *what, size_t max, unsigned char **out, size_t *len,
             struct jc_err *err);

/* Apply a {memory_mb, pids, cpus, timeout_s, output_kb, tmpfs_mb} object on
 * top of `lim`.  Values above `max` (when given) are refused naming the
 * maximum.  Unknown keys are refused. */
int ju_limits(json_object *v, const char *what, const struct jc_limits *max,
              struct jc_limits *lim, struct jc_err *err);

json_object *ju_limits_to_json(const struct jc_limits *l);
