/* pool.h — cells prepared ahead of demand (docs/design.md, "Cells
 * prepared ahead"): the sandboxes the warden builds before any request
 * needs them, each waiting for one task's spec (sandbox.h, struct
 * sandbox_cell).  A SPAWN takes one (pool_take) or, the pool empty, is
 * built on demand as before; the warden's main thread builds replacements
 * only when no message waits (pool_fill_one from its loop), so a request
 * never waits for a refill.  A cell is used by one task and never again.
 *
 * What happens to cells is counted for /metrics (metrics.h).
 *
 * Runs in: the warden's main thread. */
#pragma once

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "sandbox.h"

#define POOL_MAX 64 /* pool_size's bound (config.c) */

struct pool {
    struct sandbox_cell cells[POOL_MAX]; /* [0, n): waiting, oldest first */
    unsigned n, want;
    struct jc_limits limits; /* what cells are built with: the config's defaults */
    uint64_t seq;            /* cell names: cell.<warden pid>.<seq> */
    int64_t retry_ms;        /* monotonic: no build before (after a failed one) */
    unsigned fails;          /* failed builds in a row (the back-off) */
    void (*free_slot)(void *ctx, uint32_t slot);
    void *ctx;
};

void pool_init(struct pool *p, const struct jc_config *cfg, void (*free_slot)(void *, uint32_t), void *ctx);

/* Should a cell be built now (below its size, not backing off)?  And how
 * long until one should (-1: no need). */
bool pool_wants(const struct pool *p, int64_t now_ms);
int pool_wait_ms(const struct pool *p, int64_t now_ms);

/* No cell can be built now (no slot free, the build failed): none is
 * tried for 1 s, doubling to 60 s while it goes on. */
void pool_back_off(struct pool *p, int64_t now_ms);

/* Build one cell in `slot` (taken by the caller; freed here on failure). */
void pool_fill_one(struct pool *p, const struct sandbox_env *env, uint32_t slot, int64_t now_ms);

/* A waiting cell for a task, into *c (the caller's now): 0, or -1 the pool
 * is empty (a miss, counted when the pool is on). */
int pool_take(struct pool *p, const struct sandbox_env *env, struct sandbox_cell *c);
/* A taken cell's hand-over failed: kill it, free its slot. */
void pool_discard(struct pool *p, const struct sandbox_env *env, struct sandbox_cell *c);
/* Counted once a taken cell's hand-over succeeded. */
void pool_handed_over(struct pool *p);

/* The waiting cells' pidfds (readable: one died) for poll(); then discard
 * the dead ones. */
unsigned pool_pollfds(const struct pool *p, struct pollfd *out);
void pool_reap(struct pool *p, const struct sandbox_env *env);

/* Every waiting cell killed (a stop, a drain, a reload that changed what
 * they were built with). */
void pool_empty(struct pool *p, const struct sandbox_env *env);

/* Reload: the new size and defaults; cells that no longer fit go. */
void pool_reconfigure(struct pool *p, const struct sandbox_env *env, const struct jc_config *old,
                      const struct jc_config *cfg);
