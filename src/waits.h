/* waits.h — requests held until a task ends or their time is up (?wait=S).
 *
 * A held request costs no thread: its connection is suspended in
 * libmicrohttpd and sits here, in a hash by task id and a min-heap by
 * deadline.  The table's end hook (waits_task_ended) and one timer thread
 * wake them; each is woken exactly once, by whoever removes it first.
 * Bounded by max_waiters: past it, 503.
 *
 * Runs in: the front.  HTTP threads add and cancel, the IPC thread (end
 * hook) and the timer thread wake; one mutex. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "task.h"

struct waits;

/* Embedded in the request's state; owned by the caller, which must not
 * free it while it is held (between waits_add and its wake). */
struct waiter {
    char id[JC_ID_LEN];
    int64_t deadline_ms; /* monotonic */
    size_t heap_idx;
    bool held;
    void *req; /* handed to wake() */
    struct waiter *next, *prev;
};

struct waits *waits_open(unsigned max_waiters, void (*wake)(void *req), struct jc_err *err);
void waits_close(struct waits *w);

/* Hold `req` until task `id` ends or wait_s seconds pass.  -1 with 503
 * when max_waiters are held already.  The caller has suspended req. */
int waits_add(struct waits *w, struct waiter *wt, const char *id, unsigned wait_s, void *req,
              struct jc_err *err);

/* Take wt out if it is still held: true, and no wake will come (the caller
 * resumes itself); false: a wake is coming or came. */
bool waits_cancel(struct waits *w, struct waiter *wt);

/* The end hook: wake everything held for `id`. */
void waits_task_ended(void *w, const char *id);

/* Shutdown: wake everything held. */
void waits_wake_all(struct waits *w);

unsigned waits_count(struct waits *w);
