/* request.h — a POST /api/tasks body → a validated struct jc_spec.
 * Pure: no I/O, no globals, so it is also the fuzz target's entry point.
 * Every failure is a client fault (4xx) whose message names the field.
 * Runs in: the front's HTTP threads. */
#pragma once

#include <stddef.h>

#include "../rootfs/init_proto.h"
#include "config.h"
#include "error.h"
#include "policy.h"
#include "task.h"

#define JC_WORKER_PATH "/usr/bin/jobcell-worker"
#define JC_BASE_PATH "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
#define JC_BASE_HOME "HOME=/tmp"

/* Fills everything in `out` but the id.  `policies` may be NULL (then only
 * "default" is accepted).  The bytes of "stdin" and "files" go to `in`
 * (free with jc_input_free(); left empty on failure); with `in` NULL those
 * fields are refused.  Oversized stdin or files are a 413 naming the field;
 * every other failure is a 400. */
int request_parse(const struct jc_config *cfg, const struct jc_policy_set *policies,
                  const char *body, size_t len, struct jc_spec *out, struct jc_input *in,
                  struct jc_err *err);
