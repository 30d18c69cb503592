/* sandbox.h — one isolated spawn, parent side and child side.
 *
 * Parent (sandbox.c, the warden's main thread): create the task's cgroup,
 * prepare everything the child needs (its plan, plan.h: paths, argv/envp,
 * the precompiled seccomp program, fds), clone3() (through a trampoline
 * that leaves the warden's descriptor table behind, clone_child(); with
 * CLONE_VM|CLONE_VFORK, so the warden's memory is never copied: the child
 * execs the spawn stub at once) into seven new namespaces as the task's
 * host uid (the trampoline's own credentials; so the task's
 * user namespace is owned, and its kernel counts charged, by that uid),
 * (v1: the child joins its cgroups itself, its first act), write the
 * uid/gid maps and release the child
 * (sandbox_clone()).  Nothing here waits on a child: the warden's monitor
 * thread watches the descriptors this hands it and calls the steps that
 * follow when they are ready (sandbox_exec_done() on the error pipe,
 * sandbox_release_program(), sandbox_started() on init's channel), each
 * under a deadline of the monitor's (docs/design.md, "A task's life in the
 * warden").
 *
 * Cells (sandbox_cell_*: the warden's main thread, pool.c): the same
 * spawn built ahead of demand up to its rootfs, waiting for its spec;
 * handed over, it goes on as any spawn in the monitor.
 *
 * Child (jobcell-spawn: stub.c reads and checks the plan, child.c): an
 * ordered checklist of raw syscalls ending in execve() of jobcell-init;
 * it also writes the request's input files into its /tmp and puts its
 * stdin memfd on fd 0 (input.h);
 * see child.c for why each step is there.  A failure is reported as a
 * fixed-size {step, errno} record on a close-on-exec pipe.
 *
 * Runs in: the warden (sandbox_clone: its main thread; the rest: its
 * monitor thread). */
#pragma once

#include <linux/filter.h>
#include <limits.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "../rootfs/init_proto.h"
#include "cgroup.h"
#include "config.h"
#include "error.h"
#include "input.h"
#include "plan.h"
#include "policy.h"
#include "task.h"

/* What the warden knows for every spawn (set once at start-up). */
struct sandbox_env {
    const struct jc_config *cfg;
    const struct cg_ctx *cg;
    const struct jc_policy_set *policies;
    int logdir_fd;    /* state_dir/logs, opened O_DIRECTORY|O_NOFOLLOW */
    int null_fd;      /* /dev/null, for the task's stdin */
    uid_t svc_uid;    /* the front's user: owns the log files */
    gid_t svc_gid;
    int last_cap;     /* highest capability number the kernel knows */
    int block;        /* first of SB_BLOCK_N reserved low descriptors (plan.h) */
    char stub_arg[12]; /* the spawn stub's argument: block, in decimal */
    char *tramp_stack; /* top of the spawn trampoline's stack (sandbox.c) */
    char *child_stack; /* the vforked child's stack until its exec (sandbox.c) */
    struct sb_spawn *spawn; /* this spawn's part of the plan, filled before each clone */
    char dev_dir[PATH_MAX]; /* the task's /dev, prepared once (devdir.h) */
};

/* A task being spawned or running: the warden's descriptors of it, -1
 * where closed.  While it runs only chan stays open. */
struct sandbox_task {
    pid_t pid;      /* an unreaped child of the warden's: kill(pid) is safe */
    int pidfd;      /* until the task is started, and again at its end */
    int err_rd;     /* the child's {step, errno} records; EOF: it exec'd init */
    int go_wr;      /* init's go pipe: closed once the CPU limit is in place */
    int chan;       /* jobcell-init's channel: its records and the
                       program's output (init_proto.h; non-blocking) */
    struct cg_task cg;
    double cpus_set;    /* the CPU quota its cgroup already has, or -1 (none) */
    int64_t started_ms; /* realtime */
    int64_t started_mono_ms;
};

/* Where a log file is: its inode, to recognise it when it is opened again
 * by name (the unprivileged front can rename entries of the log directory). */
struct sandbox_log {
    dev_t dev;
    ino_t ino;
};

/* How long the child has to exec jobcell-init once released. */
#define SB_EXEC_WAIT_MS 10000

/* A cell: a sandbox built ahead of demand, everything done but what the
 * request decides; it waits (blocked in recvmsg) for its spec.  Owned by
 * the warden's main thread until handed over (docs/design.md, "Cells
 * prepared ahead"). */
struct sandbox_cell {
    struct sandbox_task sb; /* its cgroup named cg.id ("cell.<pid>.<n>") */
    int sock;               /* the warden's end of the hand-over socket */
    uint32_t slot;          /* host uid uid_base + slot, kept by its task */
    struct jc_limits limits; /* what its cgroup and /tmp were built with */
};

/* Warden descriptors of a waiting cell: pidfd, error and go pipes, init's
 * channel, hand-over socket. */
#define SB_FDS_PER_CELL 5

int sandbox_env_init(struct sandbox_env *env, const struct jc_config *cfg,
                     const struct cg_ctx *cg, const struct jc_policy_set *policies,
                     struct jc_err *err);

/* Create the task's cgroup and clone `spec` as host uid/gid uid_base +
 * slot, with the checked input memfds (input.h; -1 where none; the caller
 * keeps and closes them), and release it: it runs its checklist now.  On
 * failure nothing is left (no child, no cgroup, no descriptor). */
int sandbox_clone(const struct sandbox_env *env, const struct jc_spec *spec, const int input[INPUT_NFDS],
                  uint32_t slot, struct sandbox_task *t, struct jc_err *err);

/* The cell builder thread's own environment, a copy of `env` with a
 * plan, descriptor block and trampoline stack of its own (so that it
 * clones while the main thread does); before any thread starts. */
int sandbox_env_for_cells(const struct sandbox_env *env, struct sandbox_env *out, struct jc_err *err);

/* Build a cell as host uid uid_base + slot, its cgroup `name` with the
 * limits `lim` (the config's defaults), and release it: it builds itself
 * and waits.  On failure nothing is left. */
int sandbox_cell_build(const struct sandbox_env *env, const char *name, const struct jc_limits *lim,
                       uint32_t slot, struct sandbox_cell *c, struct jc_err *err);

/* Hand `spec` to the cell: its cgroup becomes the task's (named by the
 * task id, with the request's limits), the spec and the input memfds go
 * over the socket, and *t takes the cell's descriptors (the monitor goes
 * on as for any spawn: sandbox_exec_done() ...), and *left the cell's
 * emptied cgroup when it could not become the task's (v2), for the caller
 * to have removed (left->id empty: none).  On failure the cell is still
 * the caller's, to discard (its cgroup may be named either way). */
int sandbox_cell_hand_over(const struct sandbox_env *env, struct sandbox_cell *c, const struct jc_spec *spec,
                           const int input[INPUT_NFDS], struct sandbox_task *t, struct cg_task *left,
                           struct jc_err *err);

/* The cell died while it waited (its pidfd is readable). */
bool sandbox_cell_dead(const struct sandbox_cell *c);

/* Kill and reap the cell, close its descriptors, remove its cgroup. */
void sandbox_cell_discard(const struct sandbox_env *env, struct sandbox_cell *c);

/* The error pipe is readable: 1 the child exec'd jobcell-init (EOF), 0 not
 * yet, -1 a step failed (err says which). */
int sandbox_exec_done(const struct sandbox_task *t, struct jc_err *err);

/* The child exec'd init: write the task's CPU limit, then let init fork
 * the program (EOF on its go pipe). */
int sandbox_release_program(const struct sandbox_env *env, const struct jc_limits *lim,
                            struct sandbox_task *t, struct jc_err *err);

/* What a spawn's answers name (kept while the spawn is in flight). */
struct sandbox_program {
    bool is_command;
    const char *name; /* argv[0] of the request */
};

/* One record of init's channel, as large as one can be. */
struct sandbox_record {
    struct jc_init_msg h;
    char data[JC_INIT_CHUNK];
};

/* The next record on init's channel into *r: its length (8 and more,
 * checked against init_proto.h), 0 at EOF (init is gone), -1 with errno
 * (EAGAIN: none now; EPROTO: a malformed record, consumed). */
ssize_t sandbox_recv(int chan, struct sandbox_record *r);

/* The channel is readable (or its deadline passed: timed_out): 1 init
 * reported STARTED, 0 not yet, -1 the program did not start (err: why,
 * with the status the API answers). */
int sandbox_started(const struct sandbox_task *t, const struct sandbox_program *prog, bool timed_out,
                    struct jc_err *err);

/* How long init has to report the program's start once released (ms). */
int sandbox_started_deadline_ms(const struct jc_limits *lim);

/* Close whatever descriptors of t are still open. */
void sandbox_task_close(struct sandbox_task *t);

/* Create state_dir/logs/<id>.log (O_EXCL|O_NOFOLLOW), owned by the front's
 * user; *where records its inode.  sandbox_append_log opens it again
 * (O_APPEND), only if it is still that inode.  The monitor thread opens the
 * log for each batch of output and closes it after: no descriptor per
 * running task. */
int sandbox_open_log(const struct sandbox_env *env, const char *id, struct sandbox_log *where,
                     struct jc_err *err);
int sandbox_append_log(const struct sandbox_env *env, const char *id, const struct sandbox_log *where,
                       struct jc_err *err);

const char *sb_step_name(int step);
