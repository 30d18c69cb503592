/* store.h — the record store: every task record in one SQLite database
 * (state_dir/tasks/records.db, WAL mode), owned by the front.
 *
 * One row per task: its sequence number (the list order and paging cursor),
 * id, state, finish time, the record's JSON text, the optional
 * Idempotency-Key with a hash of the request body, and — while the task is
 * queued and not yet handed to the warden — its spec, so a queued task
 * survives a restart.  Durability: see docs/design.md ("Records").
 *
 * A write that fails says why in err: status 507 when the disk is full,
 * 503 when the directory is read-only or otherwise failing; store_health()
 * reports the last failure until a write succeeds again.
 *
 * Runs in: the front (HTTP threads, the IPC thread, the table's thread).
 * Thread-safe: one connection for writes and one for reads, each under its
 * own mutex (WAL lets the reader run beside the writer), and a third for
 * the store's own thread, which checkpoints the log once the writer's
 * commits have added 1 000 pages to it: no writer ever checkpoints (nor
 * waits for a checkpoint's fsync) itself. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "task.h"

struct store;

enum store_sync { STORE_SYNC_NORMAL, STORE_SYNC_FULL };

struct store *store_open(const char *path, enum store_sync sync, struct jc_err *err);
void store_close(struct store *s);
/* How many checkpoints the store's thread has run. */
uint64_t store_checkpoints(struct store *s);

/* A new row.  idem_key may be NULL.  spec (may be NULL) is kept until
 * store_dispatched(), and with it the bytes of its stdin and files (`in`)
 * until the task runs or ends.  On a duplicate Idempotency-Key: -1 with err->status
 * 409 (look the first task up with store_find_key). */
struct store_row {
    uint64_t seq;
    const char *id;
    enum jc_state state;
    int64_t finished_ms;
    const char *json;
    const char *idem_key, *idem_hash;
};
int store_add(struct store *s, const struct store_row *row, const struct jc_spec *spec,
              const struct jc_input *in, struct jc_err *err);

/* A queued task's stdin and files, as stored with it (to free with
 * jc_input_free); 0, or -1 when they are gone or do not match the spec. */
int store_input(struct store *s, const char *id, const struct jc_spec *spec, struct jc_input *in,
                struct jc_err *err);

/* Replace a row's state, finish time and JSON (the input goes: the task
 * runs or has ended). */
int store_update(struct store *s, const struct store_row *row, struct jc_err *err);

/* The task was handed to the warden: its spec is dropped; after a restart
 * it is lost, never run twice. */
int store_dispatched(struct store *s, const char *id, struct jc_err *err);

/* Back in the queue (the warden refused it while stopping): the spec is
 * kept again, so that the next start runs it. */
int store_requeue(struct store *s, const char *id, const struct jc_spec *spec, struct jc_err *err);

/* The record's JSON (malloc'd) or NULL with err->status 404; its state
 * column in *state (state may be NULL). */
char *store_get(struct store *s, const char *id, enum jc_state *state, struct jc_err *err);

/* The id and body hash of the task submitted with this key; 0, or -1 with
 * err->status 404. */
int store_find_key(struct store *s, const char *key, char id[JC_ID_LEN], char hash[65],
                   struct jc_err *err);

/* Newest first: up to `limit` records with seq < before (UINT64_MAX for
 * the first page), of state `state` (or any when has_state is false), as a
 * JSON array text (malloc'd).  *more is set when an older match exists;
 * *last_seq is the seq of the last record returned. */
char *store_list(struct store *s, bool has_state, enum jc_state state, uint64_t before,
                 uint32_t limit, bool *more, uint64_t *last_seq, struct jc_err *err);

/* Delete finished rows that ended before cutoff_ms, and the oldest finished
 * ones beyond max_rows.  forget(ctx, id) is called for each deleted row
 * (to remove its log).  Returns the number deleted or -1. */
int store_prune(struct store *s, int64_t cutoff_ms, uint64_t max_rows,
                void (*forget)(void *ctx, const char *id), void *ctx, struct jc_err *err);

/* Start-up: each row still queued or running, oldest first.  spec is NULL
 * for a task already handed to the warden (or one whose spec no longer
 * reads: then it is lost).  Returns 0 or -1. */
typedef void (*store_live_fn)(void *ctx, uint64_t seq, const char *id, enum jc_state state,
                              const char *json, const struct jc_spec *spec);
int store_each_live(struct store *s, store_live_fn fn, void *ctx, struct jc_err *err);

/* The largest seq ever stored (0 when empty). */
uint64_t store_max_seq(struct store *s);
uint64_t store_count(struct store *s);

/* A tiny write to learn whether the directory takes writes again. */
int store_probe(struct store *s, struct jc_err *err);

/* Whether the last write failed, and why (copied into msg). */
bool store_health(struct store *s, char *msg, size_t len);
