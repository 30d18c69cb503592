/* task.h — the value types every module shares: a validated task spec,
 * its limits (and the one table of their names, bounds and defaults), how it
 * ended and what it used.  Fixed-size on purpose: a spec crosses the
 * front→warden socket as one message and is read by the child after clone()
 * without any allocation.
 * Runs in: front and warden (plain data, no functions with state). */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

/* A task id is "<node>.<uuid>" (taskid.h): the node name that owns it, a
 * dot, a random UUID.  It is also the task's hostname, so the whole id fits
 * the kernel's HOST_NAME_MAX (64), which bounds the node name. */
#define JC_UUID_LEN 36                                  /* UUID text */
#define JC_HOSTNAME_MAX 64 /* the kernel's (__NEW_UTS_LEN): glibc says so, musl says 255 */
#define JC_NODE_MAX (JC_HOSTNAME_MAX - 1 - JC_UUID_LEN) /* 27 bytes, without NUL */
#define JC_ID_LEN (JC_NODE_MAX + 1 + JC_UUID_LEN + 1)   /* the longest id + NUL */
#define JC_NAME_MAX 128       /* bytes, without NUL */
#define JC_ARGV_MAX 256       /* items in "command" */
#define JC_ENV_MAX 128        /* entries in "env" */
#define JC_STRINGS_MAX 32768  /* argv + env bytes, NULs included */
#define JC_STDIN_MAX (1u << 20)       /* bytes of "stdin", decoded */
#define JC_FILES_MAX 16               /* entries in "files" */
#define JC_FILE_NAME_MAX 64           /* bytes of a file's name, without NUL */
#define JC_FILES_BYTES_MAX (1u << 20) /* all files' contents together */

struct jc_limits {
    uint32_t memory_mb;
    uint32_t pids;
    double cpus;
    uint32_t timeout_s;
    uint32_t output_kb;
    uint32_t tmpfs_mb;
};

/* An input file placed in the task's /tmp before it starts. */
struct jc_file {
    char name[JC_FILE_NAME_MAX + 1]; /* see jc_file_name_ok() */
    uint32_t size;
};

/* A validated task: what request.c produces and the warden spawns.  The
 * bytes of stdin and of the files are not in here (the spec stays small and
 * fixed-size): they travel as sealed memfds beside the SPAWN message. */
struct jc_spec {
    char id[JC_ID_LEN];
    char name[JC_NAME_MAX + 1];
    char policy[POLICY_NAME_MAX];
    uint32_t duration;  /* seconds, built-in worker only */
    bool is_command;    /* false: the built-in worker */
    struct jc_limits limits;
    bool has_stdin;     /* false: fd 0 is /dev/null */
    uint32_t stdin_len; /* <= JC_STDIN_MAX */
    uint16_t nfiles;    /* <= JC_FILES_MAX; contents concatenated in order */
    struct jc_file files[JC_FILES_MAX];
    uint16_t argc, envc;
    uint32_t strings_len;
    char strings[JC_STRINGS_MAX]; /* argc NUL-terminated args, then envc "K=V" */
};

/* The bytes a spec refers to, held by the front until they are sealed
 * (input.c); each is NULL when the spec has none. */
struct jc_input {
    unsigned char *stdin_data; /* spec->stdin_len bytes */
    unsigned char *files_data; /* jc_files_bytes(spec) bytes */
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

/* The bytes of a spec that carry anything: all before its strings, then
 * strings_len of them (the store's blob, the SPAWN message).  For a spec
 * whose strings_len is within JC_STRINGS_MAX. */
size_t spec_size(const struct jc_spec *spec);

/* Iterate the spec's packed strings: argv first, then env. */
const char *spec_next_string(const struct jc_spec *s, const char *prev);

/* The per-task limits, one row each: the name (as in JSON and the config
 * file), where it lives in struct jc_limits, its bounds, the built-in
 * default and maximum, and the cgroup controller that enforces it (NULL:
 * the warden does).  The one place these facts are written. */
struct jc_limit_def {
    const char *name;
    size_t off;
    bool real;      /* a double (cpus); else a uint32_t */
    double min;     /* what a request or the config may set at least */
    double def;     /* built-in default */
    double max;     /* built-in maximum a request may ask */
    double ceiling; /* what the config may raise the maximum to */
    const char *controller;
};
#define JC_NLIMITS 6
extern const struct jc_limit_def jc_limit_defs[JC_NLIMITS];

double jc_limit_get(const struct jc_limits *l, const struct jc_limit_def *d);
void jc_limit_set(struct jc_limits *l, const struct jc_limit_def *d, double v);
/* The built-in defaults and maxima. */
void jc_limits_builtin(struct jc_limits *def, struct jc_limits *max);
/* The first limit of l below its minimum or above `max`'s, or NULL. */
const struct jc_limit_def *jc_limits_outside(const struct jc_limits *l, const struct jc_limits *max);

const char *jc_state_name(enum jc_state s);
const char *jc_reason_name(enum jc_reason r);
int jc_state_parse(const char *s, enum jc_state *out);
int jc_reason_parse(const char *s, enum jc_reason *out);
/* The terminal state a reason (and exit code) leads to. */
enum jc_state jc_state_for_end(enum jc_reason r, int exit_code);
bool jc_state_terminal(enum jc_state s);

/* 1..JC_FILE_NAME_MAX bytes of [A-Za-z0-9._-], neither "." nor "..": a
 * plain name inside /tmp, never a path. */
bool jc_file_name_ok(const char *name, size_t len);
/* The files' sizes added up (each is bounded, so this cannot overflow). */
uint64_t jc_files_bytes(const struct jc_spec *s);
void jc_input_free(struct jc_input *in);
