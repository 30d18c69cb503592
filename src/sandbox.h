/* sandbox.h — one isolated spawn, parent side and child side.
 *
 * Parent (sandbox.c, the warden's main thread): create the task's cgroup,
 * prepare everything the child needs (paths, argv/envp, the precompiled
 * seccomp program, fds), clone3() into seven new namespaces with the
 * thread's effective uid switched to the task's host uid (so the task's
 * user namespace is owned, and its kernel counts charged, by that uid),
 * write the uid/gid maps and (v1) cgroup.procs, release the child, then
 * wait for the exec of the tiny init and for init's report that the
 * program started.
 *
 * Child (child.c): an ordered checklist of raw syscalls ending in execve();
 * it also writes the request's input files into its /tmp and puts its
 * stdin memfd on fd 0 (input.h);
 * see child.c for why each step is there.  A failure is reported as a
 * fixed-size {step, errno} record on a close-on-exec pipe.
 *
 * Runs in: the warden. */
#pragma once

#include <linux/filter.h>
#include <limits.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

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
};

/* A running task, as the spawn hands it to the monitor. */
struct sandbox_task {
    pid_t pid;
    int pidfd;
    int out_rd;     /* task's stdout+stderr (non-blocking) */
    int status_rd;  /* jobcell-init's status records (non-blocking) */
    int log_fd;     /* state_dir/logs/<id>.log, created on the first output
                       by the monitor (off the spawn path); -1 until then */
    struct cg_task cg;
    int64_t started_ms; /* realtime */
    int64_t started_mono_ms;
};

/* Failure steps of the child, in checklist order. */
enum sb_step {
    SB_STEP_SESSION = 1,
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
    SB_STEP_DEV_NODE,
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
    SB_STEP_MAX_,
};

struct sb_child_err {
    int32_t step;
    int32_t errnum;
};

#define SB_DEV_NODES 5
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
 * file) or an empty read-only tmpfs (a directory). */
enum sb_proc_kind { SB_PROC_RO, SB_PROC_MASK_FILE, SB_PROC_MASK_DIR };

struct sb_proc_path {
    char path[PATH_MAX];
    enum sb_proc_kind kind;
};

/* Everything the child reads; filled by the parent before clone3(). */
struct sb_prep {
    int sync_rd, err_wr, out_wr, status_wr, null_fd;
    int stdin_fd;   /* the stdin memfd, or null_fd */
    int files_fd;   /* the files' memfd (contents in order), or -1 */
    unsigned nfiles;
    uint32_t file_sizes[JC_FILES_MAX];
    char file_paths[JC_FILES_MAX][JC_FILE_NAME_MAX + 6]; /* "/tmp/<name>" */
    int sync_wr, err_rd; /* the parent's ends: the child closes its copies */
    int last_cap;
    struct sock_fprog prog;
    const char *rootfs;
    char hostname[JC_ID_LEN];
    char proc[PATH_MAX], tmp[PATH_MAX], dev[PATH_MAX];
    struct sb_sysctl user_limits[SB_USER_LIMITS];
    struct sb_proc_path proc_paths[SB_PROC_PATHS];
    unsigned n_user_limits, n_proc_paths;
    rlim_t nofile_cap; /* RLIMIT_NOFILE no higher than the daemon's hard limit */
    char dev_nodes[SB_DEV_NODES][PATH_MAX];
    char dev_links[4][2][PATH_MAX];
    char tmp_opts[96];
    char *argv[JC_ARGV_MAX + 2];
    char *envp[JC_ENV_MAX + 1];
};

extern const char *const sb_host_dev_nodes[SB_DEV_NODES];
extern const struct sb_rlimit sb_task_rlimits[];
extern const unsigned sb_task_rlimits_n;

int sandbox_env_init(struct sandbox_env *env, const struct jc_config *cfg,
                     const struct cg_ctx *cg, const struct jc_policy_set *policies,
                     struct jc_err *err);

/* Spawn `spec` as host uid/gid uid_base + slot, with the checked input
 * memfds (input.h; -1 where none; the caller keeps and closes them).  On
 * success the task has exec'd its program (jobcell-init reported STARTED). */
int sandbox_spawn(const struct sandbox_env *env, const struct jc_spec *spec, const int input[INPUT_NFDS],
                  uint32_t slot, struct sandbox_task *out, struct jc_err *err);

/* Create state_dir/logs/<id>.log (O_EXCL|O_NOFOLLOW), owned by the front's
 * user.  Runs in the monitor thread, when the task first prints. */
int sandbox_open_log(const struct sandbox_env *env, const char *id, struct jc_err *err);

/* The child's whole life: never returns. */
__attribute__((noreturn)) void sb_child_main(const struct sb_prep *p);

const char *sb_step_name(int step);
