/* pool.h — cells prepared ahead of demand (docs/design.md, "Cells
 * prepared ahead"): the sandboxes the warden builds before any request
 * needs them, each waiting for one task's spec (sandbox.h, struct
 * sandbox_cell).  A SPAWN takes one (pool_take) or, the pool empty, is
 * built on demand as before.  A thread of its own, the builder, makes the
 * replacements, so a request never waits for a refill.  A cell is used by
 * one task and never again.  What happens to cells is counted for
 * /metrics (metrics.h).
 *
 * Ownership: the builder only adds cells; the main thread takes them,
 * discards the dead ones (it polls an epoll set of their pidfds, which the
 * builder adds each new cell to: the main thread need not wake to see it)
 * and, on a reload or a stop, the rest.  The list, the size and the
 * defaults are under p->lock.
 *
 * Runs in: the warden's main thread (pool_*), the builder thread. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "sandbox.h"

#define POOL_MAX 64 /* pool_size's bound (config.c) */

/* Slots (host uids) come from the warden's table. */
struct pool_slots {
    int (*take)(void *ctx, uint32_t *slot);
    void (*free)(void *ctx, uint32_t slot);
    void *ctx;
};

struct pool {
    pthread_mutex_t lock;
    pthread_cond_t wake;                 /* the builder waits on it */
    struct sandbox_cell cells[POOL_MAX]; /* [0, n): waiting, oldest first (lock) */
    int deaths_fd;                       /* epoll set of the listed cells' pidfds (changed with the list) */
    unsigned n, want;                    /* lock */
    unsigned landing;                    /* lock: cells taken whose tasks have not
                                            started or failed yet: no build meanwhile */
    struct jc_limits limits;             /* lock: what cells are built with (the defaults) */
    uint32_t gen;                        /* lock: bumped when those change */
    bool closed;                         /* lock: no more cells (a drain, a stop) */
    bool stop;                           /* lock: the builder exits (no task left) */
    bool started;                        /* main thread: the builder runs */
    struct sandbox_env env;              /* the builder's (sandbox_env_for_cells) */
    const struct sandbox_env *main_env;  /* the main thread's, to discard */
    struct pool_slots slots;
    uint64_t seq;                        /* builder: cell names cell.<warden pid>.<seq> */
    unsigned fails;                      /* builder: failed builds in a row (the back-off) */
    pthread_t thread;
};

/* Before the warden starts any other thread (the builder's environment);
 * pool_start then starts the builder. */
int pool_init(struct pool *p, const struct jc_config *cfg, const struct sandbox_env *env,
              const struct pool_slots *slots, struct jc_err *err);
int pool_start(struct pool *p, struct jc_err *err);

/* A waiting cell for a task, into *c (the caller's now): 0, or -1 the pool
 * is empty (a miss, counted when the pool is on).  Its replacement waits
 * for pool_landed(): a build takes the kernel's cgroup lock for as long as
 * a memory cgroup's creation lasts, and the hand-over's renames and limit
 * writes would wait on it (docs/performance.md, "A cell's replacement"). */
int pool_take(struct pool *p, struct sandbox_cell *c);
/* The task of a cell pool_take() gave (any thread): started, or failed, or
 * its hand-over did; the builder may make the cell's replacement. */
void pool_landed(struct pool *p);
/* A taken cell's hand-over failed: kill it, free its slot (pool_landed()
 * still to be called). */
void pool_discard(struct pool *p, struct sandbox_cell *c);
/* Counted once a taken cell's hand-over succeeded. */
void pool_handed_over(struct pool *p);

/* For poll(): readable once a waiting cell died; then discard the dead
 * ones.  Its set holds exactly the listed cells' pidfds, so it is quiet
 * again after pool_reap(). */
int pool_deaths_fd(const struct pool *p);
void pool_reap(struct pool *p);

/* Reload: the new size and defaults; waiting cells built with other
 * defaults, or past the size, go. */
void pool_reconfigure(struct pool *p, const struct jc_config *old, const struct jc_config *cfg);

/* A drain or a stop: no cell is built any more, every waiting one is
 * killed.  Idempotent.  The builder thread itself lives on until
 * pool_join, once no task runs: the cells it cloned, tasks now, are its
 * children, and PDEATHSIG would kill them with it. */
void pool_close(struct pool *p);
void pool_join(struct pool *p);
