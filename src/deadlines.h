/* deadlines.h — every deadline of the warden's monitor in one min-heap,
 * behind one timerfd (no descriptor per task).
 *
 * A struct deadline lives inside its owner (a task) and knows its place in
 * the heap, so it is re-armed or cleared in O(log n) without a search.  The
 * heap starts with room for one deadline per task slot and doubles when a
 * reload has raised max_running past it.
 *
 * Runs in: the warden's monitor thread only (no locking). */
#pragma once

#include <stdint.h>

#include "error.h"

struct deadline {
    int64_t at_ms; /* CLOCK_MONOTONIC, ms */
    unsigned pos;  /* 1 + index in the heap; 0: not armed */
};

struct deadlines {
    struct deadline **v;
    unsigned n, cap;
};

int deadlines_init(struct deadlines *h, unsigned cap, struct jc_err *err);
void deadlines_free(struct deadlines *h);

/* Arm (or move) d to at_ms.  -1 only when the heap is full and cannot
 * grow (no memory); d is then not armed. */
int deadline_set(struct deadlines *h, struct deadline *d, int64_t at_ms);
void deadline_clear(struct deadlines *h, struct deadline *d);

/* The earliest armed deadline, or NULL. */
struct deadline *deadlines_first(const struct deadlines *h);

/* Take off and return the earliest deadline if it is due at now_ms, else NULL. */
struct deadline *deadlines_pop_due(struct deadlines *h, int64_t now_ms);
