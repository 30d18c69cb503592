/* request.h — a POST /api/tasks body → a validated struct jc_spec.
 * Pure: no I/O, no globals, so it is also the fuzz target's entry point.
 * Every failure is a client fault (400) whose message names the field.
 * Runs in: the front's HTTP threads. */
#pragma once

#include <stddef.h>

#include "config.h"
#include "error.h"
#include "policy.h"
#include "task.h"

#define JC_WORKER_PATH "/usr/bin/jobcell-worker"
#define JC_INIT_PATH "/sbin/jobcell-init"
#define JC_BASE_PATH "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
#define JC_BASE_HOME "HOME=/tmp"

/* Fills everything in `out` but the id.  `policies` may be NULL (then only
 * "default" is accepted). */
int request_parse(const struct jc_config *cfg, const struct jc_policy_set *policies,
                  const char *body, size_t len, struct jc_spec *out, struct jc_err *err);

/* Iterate the spec's packed strings: argv first, then env. */
const char *spec_next_string(const struct jc_spec *s, const char *prev);
