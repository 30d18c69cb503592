/* sandbox.h — one isolated spawn, parent side and child side.
 *
 * Parent (sandbox.c, the warden's main thread): create the task's cgroup,
 * prepare everything the child needs (paths, argv/envp, the precompiled
 * seccomp program, fds), clone3() (through a trampoline that leaves the
 * warden's descriptor table behind, clone_child()) into seven new
 * namespaces with the
 * thread's effective uid switched to the task's host uid (so the task's
 * user namespace is owned, and its kernel counts charged, by that uid),
 * write the uid/gid maps and (v1) cgroup.procs and release the child
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
 * Child (child.c): an ordered checklist of raw syscalls ending in execve();
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
    int block;        /* first of SB_BLOCK_N reserved low descriptors (sandbox.c) */
    char *tramp_stack; /* top of the spawn trampoline's stack (sandbox.c) */
    struct sb_prep *prep; /* the child's plan, filled before each clone */
    char dev_dir[PATH_MAX]; /* the task's /dev, prepared once (devdir.h) */
};

/* The descriptors a child works with are put at these numbers of a
 * reserved block before each clone, so that it can leave every other
 * descriptor of the warden's behind in O(1) (see clone_child()). */
enum sb_block { SB_BLK_SYNC, SB_BLK_ERR, SB_BLK_OUT, SB_BLK_STATUS, SB_BLK_STDIN, SB_BLK_FILES,
                SB_BLK_NULL, SB_BLK_CGROUP, SB_BLK_CELL, SB_BLOCK_N };

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

/* Failure steps of the child, in checklist order. */
enum sb_step {
    SB_STEP_CLOSE_FDS = 1,
    SB_STEP_SESSION,
    SB_STEP_PDEATHSIG,
    SB_STEP_SYNC,
    SB_STEP_IDS,
    SB_STEP_CGROUPNS,
    SB_STEP_MOUNT_PRIVATE,
    SB_STEP_LAYER,
    SB_STEP_OVERLAY,
    SB_STEP_PROC,
    SB_STEP_USER_LIMITS,
    SB_STEP_PROC_RO,
    SB_STEP_PROC_MASK,
    SB_STEP_TMP,
    SB_STEP_DEV,
    SB_STEP_DEV_RO,
    SB_STEP_PIVOT,
    SB_STEP_FILES,
    SB_STEP_HOSTNAME,
    SB_STEP_LOOPBACK,
    SB_STEP_STDIO,
    SB_STEP_RLIMIT,
    SB_STEP_SECUREBITS,
    SB_STEP_CAPS,
    SB_STEP_NNP,
    SB_STEP_SECCOMP,
    SB_STEP_EXEC,
    SB_STEP_HANDOVER,
    SB_STEP_MAX_,
};

struct sb_child_err {
    int32_t step;
    int32_t errnum;
};

#define SB_USER_LIMITS 16 /* /proc/sys/user/max_* entries the table can hold */
#define SB_PROC_PATHS 20  /* /proc entries made read-only or masked */

/* A per-task rlimit (soft = hard), from the one table in sandbox.c. */
struct sb_rlimit {
    int resource;
    rlim_t value;
};

/* One /proc/sys/user/max_* file of the task's user namespace and its value. */
struct sb_sysctl {
    char path[PATH_MAX];
    char value[16];
};

/* A /proc entry: made read-only in place, or hidden under /dev/null (a
 * file) or a bind of the overlay's empty read-only layer (a directory). */
enum sb_proc_kind { SB_PROC_RO, SB_PROC_MASK_FILE, SB_PROC_MASK_DIR };

struct sb_proc_path {
    char path[PATH_MAX];
    enum sb_proc_kind kind;
};

/* Everything the child reads; filled by the parent before clone3(). */
#define SB_KEEP_FDS 11 /* 0-2 and the 8 the child works with */

struct sb_prep {
    int sync_rd, err_wr, out_wr, status_wr, null_fd;
    int cell_sock;  /* a cell's end of its hand-over socket; -1: a spawn on demand */
    int keep[SB_KEEP_FDS]; /* the child's own descriptors, ascending: it
                              closes every other one it inherited first */
    unsigned nkeep;
    int stdin_fd;   /* the stdin memfd, or null_fd */
    int files_fd;   /* the files' memfd (contents in order), or -1 */
    unsigned nfiles;
    uint32_t file_sizes[JC_FILES_MAX];
    char file_paths[JC_FILES_MAX][JC_FILE_NAME_MAX + 6]; /* "/tmp/<name>" */
    int last_cap;
    struct sock_fprog prog;
    const char *rootfs;
    char hostname[JC_ID_LEN];
    char proc[PATH_MAX], tmp[PATH_MAX], dev[PATH_MAX];
    const char *dev_src; /* the prepared /dev (devdir.h), bound onto dev */
    char dev_null[PATH_MAX]; /* dev's null: a device once bound, or no /dev */
    char mask_null[PATH_MAX]; /* its null: what masks a /proc file */
    struct sb_sysctl user_limits[SB_USER_LIMITS];
    struct sb_proc_path proc_paths[SB_PROC_PATHS];
    unsigned n_user_limits, n_proc_paths; /* those mount_proc() takes */
    /* All of them; a cell's set-up takes only the early ones, and the rest
     * (the cgroup namespace limit and /proc/sys read-only, last in the
     * tables) once handed over, after it entered its cgroup namespace. */
    unsigned n_user_limits_all, n_proc_paths_all, n_user_limits_early, n_proc_paths_early;
    rlim_t nofile_cap; /* RLIMIT_NOFILE no higher than the daemon's hard limit */
    char tmp_opts[96];
    char *argv[JC_ARGV_MAX + 2];
    char *envp[JC_ENV_MAX + 1];
};

/* What a cell waiting for its task receives at the hand-over (one
 * SOCK_SEQPACKET message, SCM_RIGHTS carrying the stdin memfd first if
 * has_stdin, then the files' memfd if nfiles): the request's part of the
 * child's plan.  data holds bpf_len instructions, then strings_len bytes
 * of argv then envp strings (each NUL-terminated); only the used part of
 * data is sent, and the cell checks every length (child.c). */
struct sb_handover {
    char hostname[JC_ID_LEN];
    char tmp_opts[96];  /* "" keep /tmp as built; else its remount options */
    uint8_t has_stdin;
    uint16_t nfiles;
    uint32_t file_sizes[JC_FILES_MAX];
    char file_paths[JC_FILES_MAX][JC_FILE_NAME_MAX + 6]; /* "/tmp/<name>" */
    uint16_t bpf_len;
    uint16_t argc, envc;
    uint32_t strings_len;
    _Alignas(8) unsigned char data[BPF_MAXINSNS * sizeof(struct sock_filter) + JC_STRINGS_MAX];
};

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

extern const struct sb_rlimit sb_task_rlimits[];
extern const unsigned sb_task_rlimits_n;

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
 * on as for any spawn: sandbox_exec_done() ...).  On failure the cell is
 * still the caller's, to discard (its cgroup may be named either way). */
int sandbox_cell_hand_over(const struct sandbox_env *env, struct sandbox_cell *c, const struct jc_spec *spec,
                           const int input[INPUT_NFDS], struct sandbox_task *t, struct jc_err *err);

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

/* The child's whole life: never returns.  sb_cell_main: a cell's (it
 * fills the request's part of *p from the hand-over). */
__attribute__((noreturn)) void sb_child_main(const struct sb_prep *p);
__attribute__((noreturn)) void sb_cell_main(struct sb_prep *p);

const char *sb_step_name(int step);
