/* sweeper.h — the removal of ended tasks' cgroups, off the monitor thread.
 *
 * Why: an rmdir of a cgroup takes the kernel's cgroup_mutex, and waits
 * behind the offlining of the cgroups removed before it (memory cgroups
 * reparent their charges and shrinkers: milliseconds each when thousands
 * end together).  A task's end must not wait for that: the monitor reads
 * the cgroup's counters, reports the end and frees the slot, then hands
 * the cgroup here (sweeper_add) and goes on.
 *
 * The sweeper thread removes the cgroups in the order the tasks ended, one
 * attempt each (cg_task_remove), never sleeping on one: a cgroup that
 * cannot go yet (EBUSY: the kernel still releasing it, or a process that
 * is not the task's moved into it) is tried again later, backing off from
 * 2 ms to 1 s, for as long as it takes; it is logged once, when it has
 * resisted for SWEEP_WARN_MS, and once more when it goes.
 *
 * Safe because by the time a cgroup comes here the task's processes are
 * all gone: its init's pidfd was readable, and a pid namespace's init
 * exits only after every other process of it is reaped.  What stays in a
 * cgroup after that (memory charges until reparented) is still charged to
 * the tasks' parent, so the ceilings count it either way.
 *
 * Held back during a mass end.  Taking a memory cgroup offline walks
 * every memory-aware LRU list on the host (two per superblock: a task has
 * six), so while thousands of killed tasks are still exiting (a cancel of
 * all) each removal walks their superblocks too: O(tasks) each,
 * O(tasks²) for all, in kworkers that take the CPUs from those exits,
 * whose reports make the records terminal.  So while more than
 * SWEEP_HOLD_DYING killed tasks have not yet ended (sweeper_dying()), a
 * cgroup waits, up to SWEEP_HOLD_MS after its task's end: removed after
 * the exits, each walk is short.  A few kills (timeouts) hold nothing.
 *
 * At a stop (sweeper_stop) what is left is removed within a bound; a
 * cgroup that resists has whatever is listed in it killed first, as the
 * start-up sweep does.  The number waiting is a gauge (metrics.h).
 *
 * Descriptors: none held (paths only), whatever the backlog.  Memory: a
 * small item per cgroup waiting, kept for reuse once it is removed (up to
 * SPARE_MAX), so that a steady churn of tasks allocates nothing here.
 *
 * Ownership: the lists and counts are under s->lock; the item being tried
 * belongs to the sweeper thread alone.
 *
 * Runs in: the warden: sweeper_add() in the monitor thread (and in the main
 * thread for a v2 cell's emptied cgroup at its hand-over), sweeper_dying()
 * in the monitor and main threads, sweeper_start()
 * and sweeper_stop() in the main thread, the sweep in a thread of its own. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "cgroup.h"
#include "error.h"

#define SWEEP_WARN_MS 200   /* a cgroup still there after this is logged (once) */
#define SWEEP_STOP_MS 15000 /* a stop waits this long for the backlog at most */
#define SWEEP_NICE 10       /* the sweeper thread's nice value: after the tasks' exits */
#define SWEEP_HOLD_DYING 16 /* more killed tasks than this still exiting: removals wait */
#define SWEEP_HOLD_MS 30000 /* for at most this long after the task's end */

struct sweep_item;

struct sweeper {
    const struct cg_ctx *cg;
    pthread_mutex_t lock;
    pthread_cond_t wake;     /* the sweeper waits on it: work, its next retry, the stop */
    pthread_cond_t progress; /* sweeper_stop() waits on it: a removal, the thread's end */
    struct sweep_item *fresh, **fresh_tail; /* lock: not tried yet, oldest first */
    struct sweep_item *busy;                /* lock: tried, each waits for its next_ms */
    struct sweep_item *spare;               /* lock: removed ones' items, for reuse */
    unsigned nspare;                        /* lock */
    unsigned pending;                       /* lock: every cgroup not yet removed */
    unsigned dying;                         /* lock: killed tasks not yet ended */
    bool stopping, abandon, running;        /* lock */
    pthread_t thread;
};

int sweeper_start(struct sweeper *s, const struct cg_ctx *cg, struct jc_err *err);
/* The cgroup of a task whose processes are all gone (t->dirfd is closed
 * here).  Never waits on the kernel; out of memory, it removes it here. */
void sweeper_add(struct sweeper *s, struct cg_task *t);
/* A task was killed (+1: once per task), or such a task ended (-1). */
void sweeper_dying(struct sweeper *s, int by);
/* Remove what is left within within_ms, killing what is in the stubborn
 * ones; stop the thread.  Returns how many cgroups are left behind (each
 * logged; the next start's sweep removes them). */
unsigned sweeper_stop(struct sweeper *s, int64_t within_ms);
