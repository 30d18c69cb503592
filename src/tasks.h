/* tasks.h — the front's task table: the live tasks (queued, starting,
 * running), their state machine (queued → running → succeeded|failed|
 * cancelled, or lost across a restart), the bounded FIFO queue in front of
 * max_running, and the record store behind them (store.h).
 *
 * Only live tasks are in memory; a task's record goes to the store when it
 * is accepted (before its 202), when it starts and when it ends, and is read
 * back from the store once it has ended.  The table knows nothing of HTTP
 * or of the warden's wire format: the warden's reports come in as plain
 * calls, spawns go out through the start hook.
 *
 * Runs in: the front.  HTTP threads submit, read and cancel; the IPC thread
 * applies the warden's reports; the table's own thread starts queued tasks
 * as places free up and retries writes the state directory refused.  One
 * mutex guards the table; the store has its own. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "task.h"

struct ttable;
struct logspace;

struct tasks_hooks {
    /* Hand a spec and its input (stdin, files) to the warden.  Called
     * without the table lock, once per task; on failure the callee reports
     * tasks_spawn_failed(). */
    void (*start)(void *ctx, const struct jc_spec *spec, const struct jc_input *in);
    /* Called under the table lock when a starting task's spawn has been
     * answered, with the waiter given to tasks_wait(). */
    void (*wake)(void *waiter);
    void *ctx;
};

/* db_path: the SQLite file.  legacy_dirfd: state_dir/tasks, whose old
 * <id>.json records are imported once and removed.  logs_dirfd: the logs;
 * space (may be NULL) is told of every log removed by pruning. */
/* The keys of the config the table applies (a reload may change them). */
struct tasks_conf {
    uint32_t max_running, max_queued, retention_s, max_records;
};

/* A reload: from now on these bounds (running tasks are not touched; a
 * lower max_running lets fewer start, a lower max_queued refuses sooner). */
void tasks_reconf(struct ttable *t, const struct jc_config *cfg);

struct ttable *tasks_open(const struct jc_config *cfg, const char *db_path, int legacy_dirfd,
                          int logs_dirfd, struct logspace *space, const struct tasks_hooks *hooks,
                          struct jc_err *err);
/* Starts the table's thread (after the start hook can work). */
int tasks_run(struct ttable *t, struct jc_err *err);
void tasks_close(struct ttable *t);

/* Called once per task when it becomes terminal, outside the table lock,
 * after its terminal record was handed to the store, from the thread that
 * ended it (the IPC thread; an HTTP thread cancelling a queued task; the
 * table's thread).  Up to 4 hooks; -1 past that. */
int tasks_set_end_hook(struct ttable *t, void (*fn)(void *ctx, const char *id), void *ctx);

/* ---- submitting ------------------------------------------------------ */

struct tasks_submit {
    const struct jc_spec *spec;
    const struct jc_input *input; /* kept in the store while queued */
    const char *policy_sha;
    const char *idem_key;  /* or NULL */
    const char *idem_hash; /* sha256 hex of the request body, with idem_key */
};

enum tasks_admit {
    TASKS_START,  /* a place is free: tasks_wait(), then tasks_start() */
    TASKS_QUEUED, /* waits in the queue at `position` (1 = next) */
    TASKS_REPLAY, /* the Idempotency-Key's first task: `id` */
};

struct tasks_admission {
    enum tasks_admit kind;
    unsigned position;
    char id[JC_ID_LEN];
};

/* Record the task (in the store, before anything is acknowledged) and
 * admit it.  Errors: 503 queue full (err->status, *retry_after set), 503
 * shutting down or state directory failing, 507 state directory full, 422
 * Idempotency-Key reused with another body. */
int tasks_submit(struct ttable *t, const struct tasks_submit *s, struct tasks_admission *a,
                 int *retry_after, struct jc_err *err);

/* Make `waiter` the starting task's waiter; false if it is starting no more
 * (then no wake-up will come: the caller resumes itself). */
bool tasks_wait(struct ttable *t, const char *id, void *waiter);
/* Hand a TASKS_START task to the warden, with its input. */
void tasks_start(struct ttable *t, const char *id, const struct jc_input *in);

/* No more submissions (503 "shutting down") and no more starts. */
void tasks_stop(struct ttable *t);

/* ---- the warden's reports -------------------------------------------- */

void tasks_spawned(struct ttable *t, const char *id, int pid, int64_t started_ms);
/* status: the HTTP status the failure maps to (4xx: the request's fault,
 * 503: out of a resource, 500: ours). */
void tasks_spawn_failed(struct ttable *t, const char *id, int status, const char *msg, int64_t at_ms);

struct tasks_end {
    enum jc_reason reason;
    int exit_code, signal; /* -1 / 0 when not applicable */
    int64_t finished_ms;
    struct jc_usage usage;
    int log_errno; /* why some output could not be kept, 0 if all was */
    bool by_stop;  /* killed because the daemon's stop grace ran out */
};
void tasks_exited(struct ttable *t, const char *id, const struct tasks_end *end);

/* Every running or starting task becomes terminal with this reason (the
 * warden is gone); queued tasks stay queued, in the store. */
void tasks_end_all(struct ttable *t, enum jc_reason reason);

/* ---- reading --------------------------------------------------------- */

/* What the 202 (or the spawn's failure) is made of. */
struct tasks_view {
    char id[JC_ID_LEN];
    char name[JC_NAME_MAX + 1];
    enum jc_state state;
    enum jc_reason reason;
    bool starting;    /* handed to the warden, no answer yet */
    int pid;
    bool is_command;
    uint32_t duration;
    char summary[192]; /* "argv0 arg1 ..." cut short */
    unsigned position; /* in the queue, 1 = next; 0 when not queued */
    int fail_status;   /* for a spawn_error: its HTTP status */
    char error[JC_ERR_MSG_MAX];
};
int tasks_view(struct ttable *t, const char *id, struct tasks_view *v, struct jc_err *err);

/* The record's JSON (malloc'd; from the table, else the store), and in
 * *ended (may be NULL) whether that text is of a terminal state. */
int tasks_get_json(struct ttable *t, const char *id, char **json, bool *ended, struct jc_err *err);
bool tasks_is_terminal(struct ttable *t, const char *id);
/* state may be NULL; cursor "" for the first page. */
int tasks_list_json(struct ttable *t, const char *state, uint32_t limit, const char *cursor,
                    char **json, struct jc_err *err);

/* 0 when the task is running (the caller then asks the warden to kill it,
 * or says tasks_kill_unsent() if it could not); 3 when it is running and
 * that was asked already (nothing to send: one KILL per task, so the
 * channel to the warden never holds more KILLs than running tasks);
 * 1 when it was queued and is now cancelled; else -1 with err->status 404
 * (unknown) or 409 (finished or still starting). */
int tasks_cancel(struct ttable *t, const char *id, struct jc_err *err);
void tasks_kill_unsent(struct ttable *t, const char *id);

struct tasks_stats {
    unsigned running, max_running; /* running includes starting */
    unsigned queued, max_queued;
    int64_t oldest_wait_ms;       /* of the queue's head, 0 if empty */
    int64_t mean_wait_ms;         /* moving average of queue waits */
    double drain_per_s;           /* moving average of task ends */
    unsigned dirty;               /* ended records the store still lacks */
    bool store_failing;
    char store_error[JC_ERR_MSG_MAX];
};
void tasks_stats(struct ttable *t, struct tasks_stats *s);
unsigned tasks_alive(struct ttable *t);
/* Drop what retention and max_records let go now (frees log space). */
void tasks_prune(struct ttable *t);
