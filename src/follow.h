/* follow.h — live task logs: GET /api/tasks/{id}/logs?follow=1.
 *
 * A follower is one HTTP response that streams a task's log file
 * (state_dir/logs/<id>.log, written by the warden) from an offset, as
 * plain chunked text or as Server-Sent Events, and ends once the task has
 * ended and every byte was sent.  Its bytes come from the file (pread), never
 * from a copy in memory, so a follower costs a small struct, libmicrohttpd's
 * block buffer and a socket send buffer capped at FOLLOW_SNDBUF; the task,
 * the warden and other followers never wait for it.  A follower whose client
 * stops reading makes no progress, and libmicrohttpd closes it after
 * conn_timeout_s like any stalled connection.
 *
 * While it has nothing to send a follower's connection is suspended (no
 * thread, no timeout).  Two events resume it:
 *   - new output: one inotify instance watches the logs directory
 *     (IN_CREATE, IN_MODIFY; the warden creates the log at the first output
 *     and appends to it), read by one small thread;
 *   - the end: tasks.c's end hook (follow_task_ended).  The warden writes
 *     all output before it reports the end, so once the record is terminal
 *     the file is complete.
 *
 * Runs in: the front — libmicrohttpd's threads (responses, reads), the
 * watcher thread (inotify), the IPC thread (the end hook).  One mutex
 * guards the registry and every follower's flags. */
#pragma once

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "tasks.h"

#define FOLLOW_SNDBUF (64 * 1024) /* bytes: the kernel buffer a follower may fill */

struct follow;

/* Start watching logs_dirfd (the front's state_dir/logs). */
struct follow *follow_open(struct ttable *tasks, int logs_dirfd, struct jc_err *err);
/* End every stream at once (shutdown); new ones end as soon as they are sent. */
void follow_stop(struct follow *fw);
/* Until every stream has been sent to its end (its response released), or
 * timeout_ms passed; after follow_stop().  false: some are still going. */
bool follow_drain(struct follow *fw, int timeout_ms);
/* After the HTTP server has stopped. */
void follow_close(struct follow *fw);

/* The tasks end hook: the task `id` is terminal. */
void follow_task_ended(void *fw, const char *id);

/* A response streaming task `id`'s log from `offset` (sse: as events, with a
 * final "end" event carrying the record); NULL with err (404 for an
 * unknown id). */
struct MHD_Response *follow_response(struct follow *fw, struct MHD_Connection *conn,
                                     const char *id, uint64_t offset, bool sse,
                                     struct jc_err *err);
