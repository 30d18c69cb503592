/* snapshot.h — the configuration in force in the front: an immutable
 * snapshot (the config, and the names and hashes of the seccomp profiles),
 * replaced whole by a reload, never changed in place.
 *
 * A reader takes a reference once per request (snap_get) and drops it when
 * done (snap_put), so one request sees one configuration throughout.  The
 * IPC thread publishes a new snapshot (snap_publish); the cell's reference
 * to the old one is dropped then, and the old one is freed by whoever drops
 * its last reference: never while a reader may hold it.  The count is kept
 * under the cell's mutex (a get is lock, increment, unlock): no reader can
 * take a snapshot that is being freed.
 * Runs in: the front; libmicrohttpd's threads and the table thread read,
 * the IPC thread publishes. */
#pragma once

#include <pthread.h>

#include "config.h"
#include "error.h"
#include "policy.h"

struct jc_snap {
    struct jc_config cfg;
    struct jc_policy_set policies; /* names and hashes; no BPF (only the warden compiles) */
    unsigned refs;                 /* under the cell's lock */
};

struct snap_cell {
    pthread_mutex_t lock;
    struct jc_snap *cur;
};

/* A new snapshot of `cfg` with no profile yet (snap_add_policy), refs 1
 * (the caller's, until it publishes it).  NULL: out of memory. */
struct jc_snap *snap_new(const struct jc_config *cfg);

/* One more profile name (and its hash) for a snapshot not yet published.
 * -1 when it has POLICY_MAX_FILES already. */
int snap_add_policy(struct jc_snap *s, const char *name, const char *sha256);

/* The first snapshot: cfg and the names and hashes of `set`. */
int snap_cell_init(struct snap_cell *c, const struct jc_config *cfg, const struct jc_policy_set *set,
                   struct jc_err *err);
/* Drops the cell's reference (every reader's must be dropped already). */
void snap_cell_free(struct snap_cell *c);

const struct jc_snap *snap_get(struct snap_cell *c);
void snap_put(struct snap_cell *c, const struct jc_snap *s);

/* `s` (made by snap_new) becomes the one in force; the cell takes the
 * caller's reference.  then(ctx), if given, runs under the cell's lock
 * right after: whatever it sends comes after anything a snap_locked()
 * caller checked against the old snapshot and sent. */
void snap_publish(struct snap_cell *c, struct jc_snap *s, void (*then)(void *ctx), void *ctx);

/* fn(the snapshot in force, ctx) under the cell's lock (no publish can come
 * between what fn checks and what it sends); returns fn's value. */
int snap_locked(struct snap_cell *c, int (*fn)(const struct jc_snap *s, void *ctx), void *ctx);
