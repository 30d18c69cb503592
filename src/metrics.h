/* metrics.h — the Prometheus registry: counters and histograms the front
 * bumps from its hot paths (C11 relaxed atomics: no lock, no allocation),
 * and the text exposition format (version 0.0.4) rendered for GET /metrics.
 * Gauges (running, queued, ceilings, warden) are not stored here: the
 * caller reads them when rendering, from what /healthz computes too.
 * The warden's own counts are the one exception: the cell pool's (pool.h)
 * and the cgroups awaiting removal (sweeper.h), on a page shared with the
 * front, mapped before the privsep fork (metrics_cells_map), which the
 * front only reads.
 * Runs in: the front, any thread; metrics_cell_* in the warden's main
 * thread, metrics_cgroups_pending in its sweeper and monitor threads.
 * Every name and label is in docs/operations.md. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "task.h"

/* Routes the HTTP counter can tell apart; a route index at or past this
 * (or -1: no route matched) is counted as route="unmatched". */
#define METRICS_MAX_ROUTES 16

struct metrics_route {
    const char *method, *pattern;
};

/* What the caller measured for this scrape. */
struct metrics_gauges {
    unsigned running, queued;
    double oldest_wait_s;
    bool warden_up;
    uint64_t memory_ceiling_bytes, memory_used_bytes; /* ceiling 0: none */
    uint64_t pids_ceiling, pids_used;
    uint64_t log_quota_bytes, log_used_bytes;
};

void metrics_task_started(int64_t accepted_to_running_ms);
void metrics_task_ended(enum jc_state state, enum jc_reason reason);
void metrics_queue_wait(int64_t waited_ms);
/* One answered request: the route's index in the table (-1: none), the status. */
void metrics_http(int route, unsigned status);

/* The pool of cells (pool.h): the shared page; what happened to a cell. */
enum metrics_cell_event { MC_BUILT, MC_HANDED_OVER, MC_MISSED, MC_DISCARDED, MC_NEVENTS };
int metrics_cells_map(void);
void metrics_cell(enum metrics_cell_event e);
void metrics_cells_ready(unsigned n);
/* Ended tasks' cgroups not removed yet (sweeper.h): set by the warden, read by /healthz. */
void metrics_cgroups_pending(unsigned n);
uint64_t metrics_cgroups_pending_now(void);

/* The whole exposition, malloc'd (NULL: out of memory). */
char *metrics_render(const struct metrics_route *routes, size_t nroutes,
                     const struct metrics_gauges *g);
