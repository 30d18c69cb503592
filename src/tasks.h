/* tasks.h — the front's task table: every accepted task's record, its state
 * machine (queued → running → succeeded|failed|cancelled, or lost across a
 * restart), retention, and the records on disk (state_dir/tasks/<id>.json,
 * written atomically at each transition, reloaded at start-up).
 *
 * Runs in: the front.  HTTP threads add and read records; the IPC thread
 * applies the warden's reports.  One mutex guards the whole table; JSON for
 * answers is built under it and returned as an owned string. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "ipc.h"
#include "task.h"

struct ttable;
struct logspace;

/* Called (under the table lock) when a queued task's spawn has been
 * answered, with the waiter given to tasks_add(). */
typedef void (*tasks_wake_fn)(void *waiter);

/* space (may be NULL): told of every log removed by pruning. */
struct ttable *tasks_open(const struct jc_config *cfg, int tasks_dirfd, int logs_dirfd,
                          struct logspace *space, tasks_wake_fn wake, struct jc_err *err);
void tasks_close(struct ttable *t);

/* Record a new task as queued.  503 when max_running tasks are alive. */
int tasks_add(struct ttable *t, const struct jc_spec *spec, const char *policy_sha,
              void *waiter, struct jc_err *err);

/* Make `waiter` the queued record's waiter; false if it is queued no more
 * (then no wake-up will come: the caller resumes itself). */
bool tasks_wait(struct ttable *t, const char *id, void *waiter);

/* Apply a warden report (SPAWNED, SPAWN_FAILED, EXITED). */
void tasks_apply(struct ttable *t, const union ipc_msg *m);

/* The answer to a finished spawn: 202 body (+ Location) or 500 error.
 * Returns the HTTP status; *json is malloc'd.  0 while still queued. */
int tasks_spawn_answer(struct ttable *t, const char *id, char **json);

int tasks_get_json(struct ttable *t, const char *id, char **json, struct jc_err *err);
/* state may be NULL; cursor "" for the first page. */
int tasks_list_json(struct ttable *t, const char *state, uint32_t limit, const char *cursor,
                    char **json, struct jc_err *err);
/* 0 when the task is running (the caller then asks the warden to kill it);
 * else -1 with err->status 404 (unknown) or 409 (finished or still starting). */
int tasks_can_cancel(struct ttable *t, const char *id, struct jc_err *err);
unsigned tasks_alive(struct ttable *t);
/* Drop what retention and max_records let go now (frees log space). */
void tasks_prune(struct ttable *t);

/* fn(ctx, id) is called once per task, when its record becomes terminal,
 * under the table lock (so the record already reads terminal, and fn must
 * not call back into tasks_*).  Set once, before the table is shared. */
void tasks_set_end_hook(struct ttable *t, void (*fn)(void *ctx, const char *id), void *ctx);

/* Every live record becomes terminal with this reason (shutdown / warden lost). */
void tasks_end_all(struct ttable *t, enum jc_reason reason);
