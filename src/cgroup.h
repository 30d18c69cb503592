/* cgroup.h — per-task cgroups behind one interface, with a cgroup v2 backend
 * (unified hierarchy: delegated subtree, CLONE_INTO_CGROUP, cgroup.kill) and
 * a cgroup v1 backend (memory, pids, cpu, cpuacct hierarchies, as on hybrid
 * hosts).  The mode is detected once, at start-up.
 *
 * Layout: v2 <root>/<name>/<task-id> (delegated: <unit>/tasks/<task-id>
 * beside <unit>/supervisor), v1 /sys/fs/cgroup/<ctl>/<name>/<task-id>.
 * At start-up leftovers of a previous run under <name> are killed and removed.
 *
 * The sum of tasks: the tasks' common parent (v2 <name> or <unit>/tasks; v1
 * <ctl>/<name>) carries the ceilings, memory (+swap) and pids, so however
 * many tasks run, together they cannot take more (docs/limits.md).
 *
 * A task's end does not wait for its cgroup's removal: the monitor reads the
 * counters, then the sweeper (sweeper.h) removes the directories with
 * cg_task_remove(), one attempt at a time, never sleeping.
 *
 * Runs in: the warden (root): cg_init() in main() before the privsep fork;
 * create/open_join in the warden's main thread (spawn path) and its cell
 * builder; usage/kill in the
 * monitor thread; remove/kill_listed in the sweeper thread; destroy (the
 * retrying remove, for the rollbacks of a spawn or a cell) in the main and
 * the pool's builder threads.  Functions touch only their own task's files,
 * so no locking is needed. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "task.h"

struct jc_config;

enum cg_mode { CG_V1 = 1, CG_V2 = 2 };

enum cg_controller {
    CG_MEMORY = 1 << 0,
    CG_PIDS = 1 << 1,
    CG_CPU = 1 << 2,
    CG_CPUACCT = 1 << 3, /* v1 only: CPU time accounting */
};

enum { CG_V1_NCTL = 4 };

struct cg_ctx {
    enum cg_mode mode;
    unsigned controllers;      /* enum cg_controller bits available */
    bool memsw;                /* v1: memory.memsw.* exists (swap accounting) */
    bool delegated;            /* v2: running in a delegated (systemd) subtree */
    char base[PATH_MAX];       /* v2: the subtree holding task cgroups */
    uint64_t ceiling_memory;   /* bytes, on the tasks' parent */
    uint32_t ceiling_pids;
    char v1_base[CG_V1_NCTL][PATH_MAX]; /* v1: per controller, "" if absent */
};

struct cg_task {
    char id[JC_ID_LEN];
    int dirfd; /* v2: the task cgroup, for CLONE_INTO_CGROUP (closed once cloned); else -1 */
};

struct cg_events {
    uint64_t oom_kills;
    uint64_t pids_max; /* times a fork failed on pids.max */
};

struct cg_ceiling_use {
    uint64_t memory_bytes; /* now charged to the tasks' parent */
    uint64_t pids;
};

/* Detect the mode, make the subtree, sweep leftovers, set the ceilings
 * (cfg: cgroup_name, ceiling_memory_mb, ceiling_pids). */
int cg_init(struct cg_ctx *cg, const struct jc_config *cfg, struct jc_err *err);
/* Remove jobcell's (now empty) subtree at shutdown. */
void cg_fini(const struct cg_ctx *cg);

int cg_task_create(const struct cg_ctx *cg, const char *id, const struct jc_limits *lim,
                   struct cg_task *t, struct jc_err *err);
/* The task's CPU limit, written apart from the others (create): only once
 * its sandbox is built, so that the set-up is not throttled by it. */
int cg_task_limit_cpu(const struct cg_ctx *cg, const struct cg_task *t, const struct jc_limits *lim,
                      struct jc_err *err);
/* A cell's cgroup becomes its task's: named by the task id `id`, with
 * the request's limits `lim` (`had`: what the cell's were built with).
 * v1 renames the cell's directories and writes only the limits that
 * differ; v2, which cannot rename, makes the task's cgroup and moves the
 * cell's one process `pid` into it; the cell's cgroup, empty, is then
 * *left (its dirfd closed), for the caller to have removed off this path
 * (the sweeper); v1 leaves none (left->id empty).  Returns 1 when the
 * cgroup kept the cell's CPU quota (v1), 0 when it has none yet, -1 on
 * failure (t->id: the cgroup's name now, for cg_task_destroy). */
int cg_task_adopt(const struct cg_ctx *cg, struct cg_task *t, const char *id, pid_t pid,
                  const struct jc_limits *had, const struct jc_limits *lim, struct cg_task *left,
                  struct jc_err *err);
/* v1: the task's `tasks` file in each hierarchy, opened for writing into
 * fds[0..n): the task's child writes "0" into each as its first act,
 * joining its cgroups itself, which skips the global threadgroup rwsem a
 * move by pid takes (docs/design.md, step 5 of a spawn).  The open is
 * root's: it passes the files' 0644, and since Linux 5.16 the kernel
 * checks the write against the opener (before, against the writer: the
 * child moving itself passes too).  Returns n (0 on v2:
 * CLONE_INTO_CGROUP), or -1 with nothing left open. */
int cg_task_open_join(const struct cg_ctx *cg, const struct cg_task *t, int fds[CG_V1_NCTL],
                      struct jc_err *err);
/* Kill every process in the task's cgroup (v2 cgroup.kill; v1 cgroup.procs). */
void cg_task_kill(const struct cg_ctx *cg, const struct cg_task *t);
void cg_task_usage(const struct cg_ctx *cg, const struct cg_task *t, struct jc_usage *u,
                   struct cg_events *ev);
/* rmdir, retrying briefly while the kernel finishes tearing tasks down. */
int cg_task_destroy(const struct cg_ctx *cg, struct cg_task *t, struct jc_err *err);
/* One attempt at removing every directory of the task's cgroup, never a
 * wait: 0 once all are gone, -1 otherwise (err->errnum EBUSY: something is
 * still in it, or the kernel is still releasing it: try again later). */
int cg_task_remove(const struct cg_ctx *cg, const struct cg_task *t, struct jc_err *err);
/* Kill whatever is listed in any directory of the task's cgroup: a stop's
 * last resort for a cgroup that will not go, as the start-up sweep does. */
void cg_task_kill_listed(const struct cg_ctx *cg, const struct cg_task *t);
/* Close t->dirfd if open (v2): a cgroup waiting for removal holds no descriptor. */
void cg_task_close(struct cg_task *t);

/* What all tasks together use now (readable by the unprivileged front). */
void cg_ceiling_usage(const struct cg_ctx *cg, struct cg_ceiling_use *u);

const char *cg_mode_name(const struct cg_ctx *cg);
/* "memory pids cpu" — the controllers in effect. */
void cg_controllers_str(const struct cg_ctx *cg, char *buf, size_t len);

/* Small file helpers, shared by both backends. */
int cg_write(const char *dir, const char *file, const char *val, struct jc_err *err);
int cg_read_u64(const char *dir, const char *file, uint64_t *out);
int cg_read_key(const char *dir, const char *file, const char *key, uint64_t *out);
