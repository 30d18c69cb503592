/* task.c — the spec's home: the limits table, the packed strings' iterator,
 * the rules for input file names; names and transitions of task states and
 * end reasons.
 * Runs in: front (records, API) and warden (logging).  Pure. */
#include "task.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const state_names[] = {
    [ST_QUEUED] = "queued",       [ST_RUNNING] = "running", [ST_SUCCEEDED] = "succeeded",
    [ST_FAILED] = "failed",       [ST_CANCELLED] = "cancelled", [ST_LOST] = "lost",
};

static const char *const reason_names[] = {
    [RS_NONE] = "",
    [RS_EXITED] = "exited",
    [RS_SIGNALED] = "signaled",
    [RS_OOM] = "oom",
    [RS_PIDS_LIMIT] = "pids_limit",
    [RS_TIMEOUT] = "timeout",
    [RS_OUTPUT_LIMIT] = "output_limit",
    [RS_SECCOMP] = "seccomp",
    [RS_CANCELLED] = "cancelled",
    [RS_SPAWN_ERROR] = "spawn_error",
    [RS_DAEMON_RESTART] = "daemon_restart",
};

const char *jc_state_name(enum jc_state s)
{
    return (unsigned)s < sizeof state_names / sizeof *state_names ? state_names[s] : "?";
}

const char *jc_reason_name(enum jc_reason r)
{
    return (unsigned)r < sizeof reason_names / sizeof *reason_names ? reason_names[r] : "?";
}

static int find_name(const char *const *names, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (names[i] && names[i][0] && strcmp(names[i], s) == 0)
            return i;
    return -1;
}

int jc_state_parse(const char *s, enum jc_state *out)
{
    int i = find_name(state_names, (int)(sizeof state_names / sizeof *state_names), s);

    if (i < 0)
        return -1;
    *out = (enum jc_state)i;
    return 0;
}

int jc_reason_parse(const char *s, enum jc_reason *out)
{
    int i = find_name(reason_names, (int)(sizeof reason_names / sizeof *reason_names), s);

    if (i < 0)
        return -1;
    *out = (enum jc_reason)i;
    return 0;
}

enum jc_state jc_state_for_end(enum jc_reason r, int exit_code)
{
    switch (r) {
    case RS_EXITED:
        return exit_code == 0 ? ST_SUCCEEDED : ST_FAILED;
    case RS_CANCELLED:
        return ST_CANCELLED;
    case RS_DAEMON_RESTART:
        return ST_LOST;
    case RS_NONE:
        return ST_RUNNING;
    default:
        return ST_FAILED;
    }
}

bool jc_state_terminal(enum jc_state s) { return s != ST_QUEUED && s != ST_RUNNING; }

bool jc_file_name_ok(const char *name, size_t len)
{
    static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";

    if (len == 0 || len > JC_FILE_NAME_MAX || strnlen(name, len) != len)
        return false;
    if (name[0] == '.' && (len == 1 || (len == 2 && name[1] == '.')))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!memchr(ok, name[i], sizeof ok - 1))
            return false;
    return true;
}

uint64_t jc_files_bytes(const struct jc_spec *s)
{
    uint64_t n = 0;

    for (unsigned i = 0; i < s->nfiles && i < JC_FILES_MAX; i++)
        n += s->files[i].size;
    return n;
}

void jc_input_free(struct jc_input *in)
{
    free(in->stdin_data);
    free(in->files_data);
    in->stdin_data = in->files_data = NULL;
}

#define U32(field) offsetof(struct jc_limits, field), false
const struct jc_limit_def jc_limit_defs[JC_NLIMITS] = {
    /* name        where             min   default  max     ceiling      controller */
    {"memory_mb", U32(memory_mb),   4,    256,     4096,   UINT32_MAX / 2, "memory"},
    {"pids",      U32(pids),        2,    64,      1024,   UINT32_MAX / 2, "pids"},
    {"cpus",      offsetof(struct jc_limits, cpus), true, 0.01, 1.0, 2.0, 1024, "cpu"},
    {"timeout_s", U32(timeout_s),   1,    600,     86400,  UINT32_MAX / 2, NULL},
    {"output_kb", U32(output_kb),   1,    1024,    65536,  UINT32_MAX / 2, NULL},
    {"tmpfs_mb",  U32(tmpfs_mb),    1,    64,      1024,   UINT32_MAX / 2, NULL},
};

double jc_limit_get(const struct jc_limits *l, const struct jc_limit_def *d)
{
    const char *p = (const char *)l + d->off;

    return d->real ? *(const double *)p : (double)*(const uint32_t *)p;
}

void jc_limit_set(struct jc_limits *l, const struct jc_limit_def *d, double v)
{
    char *p = (char *)l + d->off;

    if (d->real)
        *(double *)p = v;
    else
        *(uint32_t *)p = (uint32_t)v;
}

void jc_limits_builtin(struct jc_limits *def, struct jc_limits *max)
{
    for (unsigned i = 0; i < JC_NLIMITS; i++) {
        jc_limit_set(def, &jc_limit_defs[i], jc_limit_defs[i].def);
        jc_limit_set(max, &jc_limit_defs[i], jc_limit_defs[i].max);
    }
}

const struct jc_limit_def *jc_limits_outside(const struct jc_limits *l, const struct jc_limits *max)
{
    for (unsigned i = 0; i < JC_NLIMITS; i++) {
        const struct jc_limit_def *d = &jc_limit_defs[i];
        double v = jc_limit_get(l, d);
        if (!(v >= d->min && v <= jc_limit_get(max, d))) /* NaN is outside too */
            return d;
    }
    return NULL;
}

size_t spec_size(const struct jc_spec *spec)
{
    return offsetof(struct jc_spec, strings) + spec->strings_len;
}

const char *spec_next_string(const struct jc_spec *s, const char *prev)
{
    const char *p = prev ? prev + strlen(prev) + 1 : s->strings;

    return p < s->strings + s->strings_len ? p : NULL;
}
