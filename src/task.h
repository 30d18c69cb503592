/* task.h — the value types every module shares: a validated task spec,
 * its limits, how it ended and what it used.  Fixed-size on purpose: a spec
 * crosses the front→warden socket as one message and is read by the child
 * after clone() without any allocation.
 * Runs in: front and warden (plain data, no functions with state). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "policy.h"

#define JC_ID_LEN 37          /* UUID text + NUL */
#define JC_NAME_MAX 128       /* bytes, without NUL */
#define JC_ARGV_MAX 256       /* items in "command" */
#define JC_ENV_MAX 128        /* entries in "env" */
#define JC_STRINGS_MAX 32768  /* argv + env bytes, NULs included */

struct jc_limits {
    uint32_t memory_mb;
    uint32_t pids;
    double cpus;
    uint32_t timeout_s;
    uint32_t output_kb;
    uint32_t tmpfs_mb;
};

/* A validated task: what request.c produces and the warden spawns. */
struct jc_spec {
    char id[JC_ID_LEN];
    char name[JC_NAME_MAX + 1];
    char policy[POLICY_NAME_MAX];
    uint32_t duration;  /* seconds, built-in worker only */
    bool is_command;    /* false: the built-in worker */
    struct jc_limits limits;
    uint16_t argc, envc;
    uint32_t strings_len;
    char strings[JC_STRINGS_MAX]; /* argc NUL-terminated args, then envc "K=V" */
};

enum jc_state {
    ST_QUEUED,
    ST_RUNNING,
    ST_SUCCEEDED,
    ST_FAILED,
    ST_CANCELLED,
    ST_LOST,
};

enum jc_reason {
    RS_NONE,
    RS_EXITED,
    RS_SIGNALED,
    RS_OOM,
    RS_PIDS_LIMIT,
    RS_TIMEOUT,
    RS_OUTPUT_LIMIT,
    RS_SECCOMP,
    RS_CANCELLED,
    RS_SPAWN_ERROR,
    RS_DAEMON_RESTART,
};

struct jc_usage {
    uint64_t memory_peak_bytes;
    uint64_t cpu_usec;
    uint64_t wall_ms;
    uint64_t oom_kills;
};

const char *jc_state_name(enum jc_state s);
const char *jc_reason_name(enum jc_reason r);
int jc_state_parse(const char *s, enum jc_state *out);
int jc_reason_parse(const char *s, enum jc_reason *out);
/* The terminal state a reason (and exit code) leads to. */
enum jc_state jc_state_for_end(enum jc_reason r, int exit_code);
bool jc_state_terminal(enum jc_state s);
