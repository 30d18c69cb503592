/* logspace.h — the room task logs may take: a quota on the total size of
 * state_dir/logs and a free-space floor on the state directory's
 * filesystem (docs/limits.md, "The sum of tasks").
 *
 * One page shared by both processes (mapped before the privsep fork): the
 * warden adds every byte it writes to a log and stops a task's output
 * (output_limit) when the quota or the floor would be passed; the front
 * subtracts each log it prunes and refuses submissions (507) while there is
 * no room.  The warden relies on the shared count only for the quota; the
 * floor it checks itself (fstatvfs).  A front that lies about the count can
 * only fill the directory it already owns.
 *
 * Runs in: main() (logspace_open), the warden's monitor thread (room, add),
 * the front's HTTP threads (admit, forget, stat). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "error.h"

struct logspace;

struct logspace_stat {
    uint64_t used_bytes, quota_bytes;   /* state_dir/logs, all of it */
    uint64_t avail_bytes, floor_bytes;  /* the filesystem's free space, its floor */
};

/* Map the shared page, resolve the quota and the floor (derived from the
 * filesystem when the config leaves them out) and count the logs present. */
int logspace_open(struct logspace **out, const struct jc_config *cfg, int logs_dirfd,
                  struct jc_err *err);

/* Warden: how many of `want` bytes may be written now. */
size_t logspace_room(struct logspace *ls, size_t want);
void logspace_add(struct logspace *ls, size_t n);

/* Front: 0 when a new task may start, else -1 and a 507 naming the cause. */
int logspace_admit(struct logspace *ls, struct jc_err *err);
/* Front: the log `name` is about to be removed; uncount it. */
void logspace_forget(struct logspace *ls, const char *name);
void logspace_get(struct logspace *ls, struct logspace_stat *st);
