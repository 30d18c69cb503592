/* front.h — the unprivileged process: HTTP API, validation, the task table.
 * It holds no capability and runs as the service user; its only channel to
 * privilege is the warden socket, which accepts validated specs only.
 * Runs in: the front, after the privsep fork. */
#pragma once

#include <sys/types.h>

#include <stdatomic.h>

#include "cgroup.h"
#include "logspace.h"
#include "config.h"
#include "ipc.h"
#include "policy.h"
#include "snapshot.h"
#include "tasks.h"

/* Shutdown bounds: streams get their end event within FRONT_DRAIN_MS, other
 * requests FRONT_QUIESCE_MS more; the warden waits FRONT_STOP_MS for the
 * front to exit before it kills it, so it never cuts that order short. */
#define FRONT_DRAIN_MS 10000
#define FRONT_QUIESCE_MS 2000
#define FRONT_STOP_MS (FRONT_DRAIN_MS + FRONT_QUIESCE_MS + 5000)

struct follow;
struct http_server;
struct waits;

struct front {
    const struct jc_config *cfg; /* start-up's: read only the keys a reload cannot change */
    const struct jc_policy_set *policies; /* start-up's: the first snapshot's */
    struct snap_cell conf;       /* the configuration in force (snapshot.h) */
    uint32_t stall_s;            /* IPC thread only: ipc_stall_s in force */
    const struct cg_ctx *cg;
    struct ttable *tasks;
    struct follow *follow; /* log followers */
    struct waits *waits;
    struct http_server *_Atomic http; /* set once started; the IPC thread reads it */
    int sock;       /* to the warden */
    struct ipc_chan chan; /* requests to the warden, never blocking */
    int logs_dirfd; /* state_dir/logs */
    struct logspace *space; /* the room logs may take (shared with the warden) */
    atomic_bool stopping;     /* either side asked for an orderly stop */
    atomic_bool warden_lost;  /* the warden died or stalled: exit non-zero */
};

/* Drop to the service user, serve until told to stop; returns the exit code. */
int front_run(struct front *f, int listen_fd, int tasks_dirfd, uid_t uid, gid_t gid);

/* Ask the warden to kill a running task. */
int front_kill(struct front *f, const char *id, struct jc_err *err);
