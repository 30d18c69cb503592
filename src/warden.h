/* warden.h — the privileged process: spawns, monitors and kills tasks on the
 * front's validated requests, and nothing else.  It has no network socket.
 *
 * Threads: the main thread reads front messages and signals and spawns (one
 * spawn at a time); the monitor thread takes each task through its spawn
 * and its life by its descriptors (pidfd, error pipe, init's channel: one
 * while it runs) and one timer for every deadline in one epoll loop,
 * classifies each ending from the
 * kernel's counters, removes the cgroup and reports EXITED to the front.
 * Runs in: the warden (root), after the privsep fork. */
#pragma once

#include <sys/types.h>

#include "cgroup.h"
#include "config.h"
#include "logspace.h"
#include "policy.h"

/* Serve until shutdown (a signal, after the stop_grace_s drain; the front's
 * SHUTDOWN; or its death).
 * Kills every task and removes every cgroup before returning the exit code.
 * A reload (SIGHUP) replaces *cfg and *policies in place (the caller frees
 * the policies in force at the end). */
int warden_run(struct jc_config *cfg, struct cg_ctx *cg, struct jc_policy_set *policies,
               int sock, pid_t front_pid, uid_t svc_uid, gid_t svc_gid, int logdir_fd,
               struct logspace *space);
