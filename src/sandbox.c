/* sandbox.c — the parent side of a spawn (see sandbox.h).
 * Runs in: the warden: sandbox_clone in its main thread, sandbox_cell_build
 * in its cell builder thread (each with a sandbox_env of its own: its own
 * plan, reserved descriptor block and trampoline stack), the steps after
 * them in the monitor thread. */
#include "sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <linux/securebits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../rootfs/init_proto.h"
#include "devdir.h"
#include "input.h"
#include "log.h"
#include "request.h"

/* The kernel bounds of every task, fixed here whatever the daemon inherited
 * (each value is written only here; docs/security.md explains them). */
const struct sb_rlimit sb_task_rlimits[] = {
    {RLIMIT_CORE, 0},              /* no core dumps */
    {RLIMIT_RTPRIO, 0},            /* no real-time scheduling */
    {RLIMIT_NICE, 0},              /* no nice below 0 */
    {RLIMIT_MEMLOCK, 64 << 10},    /* locked memory, bytes */
    {RLIMIT_NOFILE, 1024},         /* open descriptors per process */
    {RLIMIT_SIGPENDING, 1024},     /* queued signals + POSIX timers, whole task */
    {RLIMIT_MSGQUEUE, 256 << 10},  /* POSIX message queue bytes, whole task */
};
const unsigned sb_task_rlimits_n = JC_ARRAY_LEN(sb_task_rlimits);

/* The task's user namespace's own ceilings on what the kernel counts per
 * user (/proc/sys/user/<name>), under the host's per-user limits that
 * apply to the task's host uid on top.  No namespaces at all: seccomp
 * already denies creating them, this is the second wall. */
static const struct {
    const char *name;
    unsigned value;
} user_ns_limits[] = {
    {"max_inotify_instances", 32}, {"max_inotify_watches", 8192},
    {"max_fanotify_groups", 0},    {"max_fanotify_marks", 0},
    {"max_user_namespaces", 0},    {"max_pid_namespaces", 0},
    {"max_net_namespaces", 0},     {"max_mnt_namespaces", 0},
    {"max_uts_namespaces", 0},     {"max_ipc_namespaces", 0},
    {"max_cgroup_namespaces", 0},  {"max_time_namespaces", 0},
};

/* /proc entries a task may read but not write, and those it must not see
 * (Docker's readonlyPaths and maskedPaths, plus the kernel command line).
 * Those the running kernel lacks are skipped. */
static const struct {
    const char *name;
    int masked;
} proc_entries[] = {
    {"bus", 0},         {"fs", 0},          {"irq", 0},
    {"sys", 0},         {"sysrq-trigger", 0},
    {"acpi", 1},        {"asound", 1},      {"interrupts", 1},
    {"kcore", 1},       {"keys", 1},        {"latency_stats", 1},
    {"timer_list", 1},  {"timer_stats", 1}, {"sched_debug", 1},
    {"scsi", 1},        {"cmdline", 1},
};

_Static_assert(JC_ARRAY_LEN(user_ns_limits) <= SB_USER_LIMITS, "raise SB_USER_LIMITS");
_Static_assert(JC_ARRAY_LEN(proc_entries) <= SB_PROC_PATHS, "raise SB_PROC_PATHS");

static const char *const step_names[SB_STEP_MAX_] = {
    [SB_STEP_CLOSE_FDS] = "close the warden's descriptors",
    [SB_STEP_SESSION] = "leave the daemon's session",
    [SB_STEP_PDEATHSIG] = "set parent-death signal",
    [SB_STEP_SYNC] = "wait for the warden",
    [SB_STEP_IDS] = "switch to uid/gid 0 of the task's user namespace",
    [SB_STEP_CGROUPNS] = "enter a new cgroup namespace",
    [SB_STEP_MOUNT_PRIVATE] = "make mounts private",
    [SB_STEP_LAYER] = "mount the overlay's empty layer",
    [SB_STEP_OVERLAY] = "mount the rootfs overlay",
    [SB_STEP_PROC] = "mount /proc",
    [SB_STEP_USER_LIMITS] = "write the user namespace's limits",
    [SB_STEP_PROC_RO] = "make /proc entries read-only",
    [SB_STEP_PROC_MASK] = "mask /proc entries",
    [SB_STEP_TMP] = "mount /tmp",
    [SB_STEP_DEV] = "bind the prepared /dev",
    [SB_STEP_DEV_RO] = "remount /dev read-only",
    [SB_STEP_PIVOT] = "pivot_root into the rootfs",
    [SB_STEP_FILES] = "write the input files to /tmp",
    [SB_STEP_HOSTNAME] = "set the hostname",
    [SB_STEP_LOOPBACK] = "bring up lo",
    [SB_STEP_STDIO] = "set up stdio",
    [SB_STEP_RLIMIT] = "set rlimits",
    [SB_STEP_SECUREBITS] = "lock securebits",
    [SB_STEP_CAPS] = "drop capabilities",
    [SB_STEP_NNP] = "set no_new_privs",
    [SB_STEP_SECCOMP] = "load the seccomp filter",
    [SB_STEP_EXEC] = "execve " JC_INIT_PATH,
    [SB_STEP_HANDOVER] = "receive the task (cell hand-over)",
};

/* The child's plans: the main thread's (spawns on demand) and the cell
 * builder's; the per-host part (paths) is the same in both. */
static struct sb_prep g_prep, g_cell_prep;

static void prep_paths(const struct sandbox_env *env);
static struct rlimit task_nofile(void);

const char *sb_step_name(int step)
{
    return step > 0 && step < SB_STEP_MAX_ && step_names[step] ? step_names[step] : "unknown step";
}

static int64_t now_ms(clockid_t clk)
{
    struct timespec ts;

    clock_gettime(clk, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Capabilities stay effective while this thread's euid is a task's host
 * uid around clone3() (see do_clone): CLONE_INTO_CGROUP needs write access
 * to the root-owned cgroup.  Securebits are per thread: set on the warden's
 * main thread before it starts any other. */
static int keep_caps_across_euid(struct jc_err *err)
{
    int bits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);

    if (bits < 0 || prctl(PR_SET_SECUREBITS, bits | SECBIT_NO_SETUID_FIXUP, 0, 0, 0) < 0)
        return jc_fail(err, errno, "prctl(PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP)");
    return 0;
}

/* SB_BLOCK_N free descriptor numbers in a row, at 10 or above (so that the
 * child's dup3() onto 0-4 never clobbers a source), each holding /dev/null
 * until a clone puts the child's descriptors there. */
static int reserve_block(struct sandbox_env *env, struct jc_err *err)
{
    for (int base = 10; base + SB_BLOCK_N < 4096; base++) {
        int i = 0;
        while (i < SB_BLOCK_N && fcntl(base + i, F_GETFD) < 0 && errno == EBADF)
            i++;
        if (i < SB_BLOCK_N) {
            base += i;
            continue;
        }
        for (i = 0; i < SB_BLOCK_N; i++)
            if (dup3(env->null_fd, base + i, O_CLOEXEC) < 0)
                return jc_fail(err, errno, "reserving descriptor %d", base + i);
        env->block = base;
        return 0;
    }
    return jc_fail(err, EMFILE, "no %d free descriptors in a row below 4096", SB_BLOCK_N);
}

#define TRAMP_STACK_SIZE (256 << 10)

/* The trampoline's stack, which the child then runs its checklist on; the
 * lowest page is a guard. */
static int map_tramp_stack(struct sandbox_env *env, struct jc_err *err)
{
    char *s = mmap(NULL, TRAMP_STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
                   -1, 0);

    if (s == MAP_FAILED)
        return jc_fail(err, errno, "mmap the spawn trampoline's stack");
    if (mprotect(s, 4096, PROT_NONE) < 0)
        return jc_fail(err, errno, "mprotect the stack's guard page");
    env->tramp_stack = s + TRAMP_STACK_SIZE;
    return 0;
}

int sandbox_env_init(struct sandbox_env *env, const struct jc_config *cfg,
                     const struct cg_ctx *cg, const struct jc_policy_set *policies,
                     struct jc_err *err)
{
    env->cfg = cfg;
    env->cg = cg;
    env->policies = policies;
    /* The running kernel's highest capability (libcap reads
     * /proc/sys/kernel/cap_last_cap): PR_CAPBSET_DROP fails past it. */
    env->last_cap = (int)cap_max_bits() - 1;
    if (keep_caps_across_euid(err) < 0)
        return -1;
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

    if (fd < 0)
        return jc_fail(err, errno, "open /dev/null");
    env->null_fd = fcntl(fd, F_DUPFD_CLOEXEC, 10); /* >= 10: see pipe_high() */
    close(fd);
    if (env->null_fd < 0)
        return jc_fail(err, errno, "dup /dev/null");
    if (reserve_block(env, err) < 0 || map_tramp_stack(env, err) < 0 ||
        devdir_prepare(cfg->cgroup_name, env->dev_dir, err) < 0)
        return -1;
    env->prep = &g_prep;
    prep_paths(env);
    return 0;
}

int sandbox_env_for_cells(const struct sandbox_env *env, struct sandbox_env *out, struct jc_err *err)
{
    *out = *env;
    if (reserve_block(out, err) < 0 || map_tramp_stack(out, err) < 0)
        return -1;
    g_cell_prep = g_prep;
    out->prep = &g_cell_prep;
    return 0;
}

/* The two ends of a new pipe or socketpair (raw) moved to >= 10, so the
 * child's dup3() onto 0-4 never clobbers one of its own sources. */
static int pair_high(const int raw[2], int fds[2], struct jc_err *err)
{
    for (int i = 0; i < 2; i++) {
        fds[i] = fcntl(raw[i], F_DUPFD_CLOEXEC, 10);
        close(raw[i]);
    }
    if (fds[0] < 0 || fds[1] < 0) {
        if (fds[0] >= 0)
            close(fds[0]);
        if (fds[1] >= 0)
            close(fds[1]);
        return jc_fail(err, errno, "fcntl F_DUPFD_CLOEXEC");
    }
    return 0;
}

static int pipe_high(int fds[2], struct jc_err *err)
{
    int raw[2];

    if (pipe2(raw, O_CLOEXEC) < 0)
        return jc_fail(err, errno, "pipe2");
    return pair_high(raw, fds, err);
}

/* Room in init's end for a few whole records (the kernel doubles this),
 * whatever net.core.wmem_default says: a record larger than the send buffer
 * would fail with EMSGSIZE.  The channel's queue is charged to init's end,
 * so this bounds it too (about 256 KiB, the default's size). */
#define CHAN_SNDBUF (2 * (int)sizeof(struct sandbox_record))

/* SO_SNDBUF, within net.core.wmem_max (208 KiB by default: enough); past
 * that SO_SNDBUFFORCE, which needs CAP_NET_ADMIN — the shipped unit's
 * bounding set has it not, so it is only the fallback. */
static int chan_sndbuf(int fd, struct jc_err *err)
{
    int size = CHAN_SNDBUF, got = 0;
    socklen_t len = sizeof got;

    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size) < 0)
        return jc_fail(err, errno, "setsockopt SO_SNDBUF");
    if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &got, &len) < 0)
        return jc_fail(err, errno, "getsockopt SO_SNDBUF");
    if (got >= 2 * size)
        return 0;
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) < 0)
        return jc_fail(err, errno, "init's channel needs a send buffer of %d bytes: raise net.core.wmem_max "
                       "to it (SO_SNDBUFFORCE)", size);
    return 0;
}

/* init's channel (init_proto.h): a datagram per record, boundaries kept;
 * fds[1] is init's end. */
static int chan_high(int fds[2], struct jc_err *err)
{
    int raw[2];

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, raw) < 0)
        return jc_fail(err, errno, "socketpair");
    if (chan_sndbuf(raw[1], err) < 0) {
        close(raw[0]);
        close(raw[1]);
        return -1;
    }
    return pair_high(raw, fds, err);
}


static int known_user_limit(const char *name)
{
    for (unsigned i = 0; i < JC_ARRAY_LEN(user_ns_limits); i++)
        if (strcmp(name, user_ns_limits[i].name) == 0)
            return 1;
    return 0;
}

/* A max_* this build does not know stays unbounded in tasks: say so. */
static void warn_unknown_user_limits(void)
{
    DIR *d = opendir("/proc/sys/user");
    struct dirent *e;

    if (!d) {
        log_warn("opendir /proc/sys/user");
        return;
    }
    while ((e = readdir(d)))
        if (strncmp(e->d_name, "max_", 4) == 0 && !known_user_limit(e->d_name))
            log_warnx("/proc/sys/user/%s is not bounded in tasks (unknown to this build)",
                      e->d_name);
    closedir(d);
}

/* What a cell can only do once in its task's cgroup namespace (see
 * struct sb_prep): creating that namespace needs the limit not yet 0. */
#define LATE_USER_LIMIT "max_cgroup_namespaces"
#define LATE_PROC_ENTRY "sys"

/* Every limit of the table that the running kernel has; the late one last. */
static void prep_user_limits(struct sb_prep *p)
{
    char host[PATH_MAX];

    p->n_user_limits = 0;
    for (int late = 0; late < 2; late++) {
        p->n_user_limits_early = late ? p->n_user_limits : 0;
        for (unsigned i = 0; i < JC_ARRAY_LEN(user_ns_limits); i++) {
            snprintf(host, sizeof host, "/proc/sys/user/%s", user_ns_limits[i].name);
            if ((strcmp(user_ns_limits[i].name, LATE_USER_LIMIT) == 0) != late || access(host, F_OK) < 0)
                continue;
            struct sb_sysctl *s = &p->user_limits[p->n_user_limits++];
            snprintf(s->path, sizeof s->path, "%s/sys/user/%s", p->proc, user_ns_limits[i].name);
            snprintf(s->value, sizeof s->value, "%u", user_ns_limits[i].value);
        }
    }
    p->n_user_limits_all = p->n_user_limits;
    warn_unknown_user_limits();
}

/* The /proc entries of the table that exist here, as paths in the task's
 * /proc, with what to do to each (a directory is masked by the overlay's
 * empty layer, child.c trim_proc_entry). */
static void prep_proc_paths(struct sb_prep *p)
{
    char host[PATH_MAX];
    struct stat st;

    p->n_proc_paths = 0;
    for (int late = 0; late < 2; late++) {
        p->n_proc_paths_early = late ? p->n_proc_paths : 0;
        for (unsigned i = 0; i < JC_ARRAY_LEN(proc_entries); i++) {
            snprintf(host, sizeof host, "/proc/%s", proc_entries[i].name);
            if ((strcmp(proc_entries[i].name, LATE_PROC_ENTRY) == 0) != late || lstat(host, &st) < 0)
                continue;
            struct sb_proc_path *e = &p->proc_paths[p->n_proc_paths++];
            snprintf(e->path, sizeof e->path, "%s/%s", p->proc, proc_entries[i].name);
            e->kind = !proc_entries[i].masked ? SB_PROC_RO
                      : S_ISDIR(st.st_mode)   ? SB_PROC_MASK_DIR
                                              : SB_PROC_MASK_FILE;
        }
    }
    p->n_proc_paths_all = p->n_proc_paths;
}

static void prep_paths(const struct sandbox_env *env)
{
    struct sb_prep *p = env->prep;
    const char *r = env->cfg->rootfs;

    p->rootfs = r;
    snprintf(p->proc, sizeof p->proc, "%s/proc", r);
    snprintf(p->tmp, sizeof p->tmp, "%s/tmp", r);
    snprintf(p->dev, sizeof p->dev, "%s/dev", r);
    snprintf(p->dev_null, sizeof p->dev_null, "%s/dev/null", r);
    p->dev_src = env->dev_dir;
    snprintf(p->mask_null, sizeof p->mask_null, "%s/null", env->dev_dir);
    p->last_cap = env->last_cap;
    p->null_fd = env->null_fd;
    prep_user_limits(p);
    prep_proc_paths(p);
    p->nofile_cap = task_nofile().rlim_max;
}

/* A task gets 1024 descriptors, or the daemon's hard limit if that is
 * lower: raising a hard limit needs a privilege the task has not. */
static struct rlimit task_nofile(void)
{
    struct rlimit rl = {1024, 1024};
    struct rlimit own;

    if (getrlimit(RLIMIT_NOFILE, &own) == 0 && own.rlim_max < rl.rlim_max)
        rl.rlim_cur = rl.rlim_max = own.rlim_max;
    return rl;
}

struct spawn_fds {
    int sync[2], errp[2], chan[2];
};

static void close_pair(int p[2])
{
    for (int i = 0; i < 2; i++)
        if (p[i] >= 0) {
            close(p[i]);
            p[i] = -1;
        }
}

static void fds_close(struct spawn_fds *f)
{
    close_pair(f->sync);
    close_pair(f->errp);
    close_pair(f->chan);
}

static int fds_open(struct spawn_fds *f, struct jc_err *err)
{
    *f = (struct spawn_fds){{-1, -1}, {-1, -1}, {-1, -1}};
    if (pipe_high(f->sync, err) < 0 || pipe_high(f->errp, err) < 0 || chan_high(f->chan, err) < 0) {
        fds_close(f);
        return -1;
    }
    if (fcntl(f->errp[0], F_SETFL, O_NONBLOCK) < 0 || fcntl(f->chan[0], F_SETFL, O_NONBLOCK) < 0) {
        fds_close(f);
        return jc_fail(err, errno, "fcntl O_NONBLOCK");
    }
    return 0;
}

/* The descriptors the child keeps, ascending and without repeats (the
 * child closes the gaps between them: raw syscalls, no sorting there). */
static void prep_keep(struct sb_prep *p)
{
    int fds[] = {0, 1, 2, p->sync_rd, p->err_wr, p->out_wr, p->status_wr, p->null_fd, p->stdin_fd,
                 p->files_fd, p->cell_sock};

    _Static_assert(JC_ARRAY_LEN(fds) == SB_KEEP_FDS, "SB_KEEP_FDS");
    p->nkeep = 0;
    for (unsigned i = 0; i < JC_ARRAY_LEN(fds); i++) {
        unsigned j = p->nkeep;
        if (fds[i] < 0)
            continue;
        while (j > 0 && p->keep[j - 1] > fds[i])
            j--;
        if (j > 0 && p->keep[j - 1] == fds[i])
            continue;
        memmove(&p->keep[j + 1], &p->keep[j], (p->nkeep - j) * sizeof p->keep[0]);
        p->keep[j] = fds[i];
        p->nkeep++;
    }
}

/* stdin on fd 0 (else /dev/null) and the files the child writes to /tmp. */
static void prep_input(const struct sandbox_env *env, const struct jc_spec *spec,
                       const int input[INPUT_NFDS])
{
    struct sb_prep *p = env->prep;

    p->stdin_fd = input[INPUT_STDIN] >= 0 ? input[INPUT_STDIN] : env->null_fd;
    p->files_fd = input[INPUT_FILES];
    p->nfiles = p->files_fd >= 0 ? spec->nfiles : 0;
    for (unsigned i = 0; i < p->nfiles; i++) {
        snprintf(p->file_paths[i], sizeof p->file_paths[i], "/tmp/%s", spec->files[i].name);
        p->file_sizes[i] = spec->files[i].size;
    }
}

/* /tmp's mount options for a size (mode only at the mount, not a remount). */
static void tmp_opts(char *buf, size_t len, uint32_t tmpfs_mb, bool with_mode)
{
    snprintf(buf, len, "size=%um,nr_inodes=%u%s", tmpfs_mb, tmpfs_mb * 256 + 64, with_mode ? ",mode=1777" : "");
}

static int prep_task(const struct sandbox_env *env, const struct jc_spec *spec,
                     const struct spawn_fds *f, struct jc_err *err)
{
    struct sb_prep *p = env->prep;
    const struct jc_policy *pol = policy_find(env->policies, spec->policy);
    const char *s = NULL;
    unsigned i;

    if (!pol)
        return jc_client(err, 400, "no seccomp profile \"%s\" (policy_dir no longer has it)", spec->policy);
    p->prog = (struct sock_fprog){.len = pol->bpf_len, .filter = pol->bpf};
    p->cell_sock = -1;
    p->n_user_limits = p->n_user_limits_all;
    p->n_proc_paths = p->n_proc_paths_all;
    p->sync_rd = f->sync[0];
    p->err_wr = f->errp[1];
    /* init's own stdout and stderr: it says everything on its channel,
     * and makes the program's output pipe itself (init_proto.h). */
    p->out_wr = env->null_fd;
    p->status_wr = f->chan[1];
    snprintf(p->hostname, sizeof p->hostname, "%s", spec->id);
    tmp_opts(p->tmp_opts, sizeof p->tmp_opts, spec->limits.tmpfs_mb, true);
    p->argv[0] = (char *)JC_INIT_PATH;
    for (i = 0; i < spec->argc && (s = spec_next_string(spec, s)); i++)
        p->argv[i + 1] = (char *)s;
    p->argv[i + 1] = NULL;
    for (i = 0; i < spec->envc && (s = spec_next_string(spec, s)); i++)
        p->envp[i] = (char *)s;
    p->envp[i] = NULL;
    return 0;
}

int sandbox_open_log(const struct sandbox_env *env, const char *id, struct sandbox_log *where,
                     struct jc_err *err)
{
    char name[JC_ID_LEN + 8];
    struct stat st;
    int fd;

    snprintf(name, sizeof name, "%s.log", id);
    /* O_EXCL|O_NOFOLLOW: a file or symlink planted by the (unprivileged)
     * front can never make the warden write elsewhere. */
    fd = openat(env->logdir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
    if (fd < 0)
        return jc_fail(err, errno, "create log %s", name);
    if (fchown(fd, env->svc_uid, env->svc_gid) < 0 || fstat(fd, &st) < 0) {
        jc_fail(err, errno, "chown and stat log %s", name);
        close(fd);
        return -1;
    }
    *where = (struct sandbox_log){st.st_dev, st.st_ino};
    return fd;
}

/* O_NONBLOCK: a FIFO put in the log's place could not stall the monitor;
 * and only the very file created above is written to. */
int sandbox_append_log(const struct sandbox_env *env, const char *id, const struct sandbox_log *where,
                       struct jc_err *err)
{
    char name[JC_ID_LEN + 8];
    struct stat st;
    int fd;

    snprintf(name, sizeof name, "%s.log", id);
    fd = openat(env->logdir_fd, name, O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return jc_fail(err, errno, "open log %s", name);
    int e = fstat(fd, &st) < 0 ? errno : st.st_dev != where->dev || st.st_ino != where->ino ? ESTALE : 0;
    if (e) {
        jc_fail(err, e, "log %s is no longer the file the warden created", name);
        close(fd);
        return -1;
    }
    return fd;
}

/* Only this thread's effective uid: a raw syscall (glibc's setresuid
 * would switch every thread of the warden). */
static int set_thread_euid(uid_t uid, struct jc_err *err)
{
    if (syscall(SYS_setresuid, (uid_t)-1, uid, (uid_t)-1) < 0)
        return jc_fail(err, errno, "setresuid(-1, %u, -1)", (unsigned)uid);
    return 0;
}

/* Put *fd at its place in the block (a no-op for -1). */
static int into_block(const struct sandbox_env *env, int *fd, enum sb_block slot, struct jc_err *err)
{
    int to = env->block + (int)slot;

    if (*fd < 0)
        return 0;
    if (dup3(*fd, to, O_CLOEXEC) < 0)
        return jc_fail(err, errno, "dup3 to descriptor %d", to);
    *fd = to;
    return 0;
}

/* The child's descriptors into the block; *cgroup_fd too (v2). */
static int fill_block(const struct sandbox_env *env, int *cgroup_fd, struct jc_err *err)
{
    struct sb_prep *p = env->prep;

    p->null_fd = env->null_fd;
    if (into_block(env, &p->sync_rd, SB_BLK_SYNC, err) < 0 || into_block(env, &p->err_wr, SB_BLK_ERR, err) < 0 ||
        into_block(env, &p->out_wr, SB_BLK_OUT, err) < 0 ||
        into_block(env, &p->status_wr, SB_BLK_STATUS, err) < 0 ||
        into_block(env, &p->stdin_fd, SB_BLK_STDIN, err) < 0 ||
        into_block(env, &p->files_fd, SB_BLK_FILES, err) < 0 ||
        into_block(env, &p->null_fd, SB_BLK_NULL, err) < 0 || into_block(env, cgroup_fd, SB_BLK_CGROUP, err) < 0 ||
        into_block(env, &p->cell_sock, SB_BLK_CELL, err) < 0)
        return -1;
    prep_keep(p);
    return 0;
}

/* /dev/null back into the block: the warden keeps no copy of the child's
 * ends (its pipes' EOFs depend on it). */
static void clear_block(const struct sandbox_env *env)
{
    for (int i = 0; i < SB_BLOCK_N; i++)
        if (dup3(env->null_fd, env->block + i, O_CLOEXEC) < 0) {
            log_msg(LOG_LVL_ERROR, NULL, errno, "fatal: dup3 /dev/null to descriptor %d", env->block + i);
            abort();
        }
}

struct tramp {
    struct clone_args args;
    struct sb_prep *prep; /* the child's plan */
    unsigned keep_below; /* the child's table: descriptors below this only */
    long rc;             /* the child's pid, or -1 */
    int errnum;
};

/* Runs in a vfork-like child sharing the warden's memory and descriptor
 * table (the warden's thread waits until it exits): first a private table
 * of the descriptors below the block's end only — the kernel copies
 * keep_below entries, not the warden's thousands — then the task's child,
 * made the warden's own (CLONE_PARENT).  Raw syscalls only; not
 * instrumented (its stack is not one the sanitizer knows). */
__attribute__((no_sanitize("address", "undefined"))) static int trampoline(void *arg)
{
    struct tramp *t = arg;

    if (syscall(SYS_close_range, t->keep_below, ~0U, CLOSE_RANGE_UNSHARE) < 0) {
        t->rc = -1;
        t->errnum = errno;
        _exit(0);
    }
    t->rc = syscall(SYS_clone3, &t->args, sizeof t->args);
    if (t->rc == 0 && t->prep->cell_sock >= 0)
        sb_cell_main(t->prep);
    if (t->rc == 0)
        sb_child_main(t->prep);
    t->errnum = errno;
    _exit(0);
}

/* The trampoline is the warden's child: reap it (it has exited). */
static void reap_trampoline(pid_t tid)
{
    int st;

    while (waitpid(tid, &st, 0) < 0)
        if (errno != EINTR) {
            log_warn("waitpid (spawn trampoline)");
            return;
        }
}

/* Clone the task's child through the trampoline; 0 and t->rc set, or -1
 * (errno set) when the trampoline itself could not be started. */
static int clone_child(const struct sandbox_env *env, struct tramp *t)
{
    pid_t tid = clone(trampoline, env->tramp_stack, CLONE_VM | CLONE_VFORK | CLONE_FILES | SIGCHLD, t);

    if (tid < 0)
        return -1;
    reap_trampoline(tid);
    return 0;
}

/* A pidfd for the new child (the trampoline's CLONE_PIDFD would land in
 * its own table).  It is the warden's unreaped child: its pid is still its
 * own.  Without a pidfd it is killed before it is released. */
static pid_t open_pidfd(pid_t pid, int *pidfd, struct jc_err *err)
{
    *pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (*pidfd >= 0)
        return pid;
    jc_fail(err, errno, "pidfd_open");
    (void)kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    return -1;
}

/* clone3 failed.  EAGAIN born into a v2 cgroup (CLONE_INTO_CGROUP): a pids
 * limit of its ancestry is used up, and the task's own holds nothing yet,
 * so it is the ceiling the running tasks share: a resource, free again once
 * some end (503, as when init cannot fork the program on v1). */
static int clone_failed(int e, bool into_cgroup, struct jc_err *err)
{
    char buf[128];

    if (e == EAGAIN && into_cgroup)
        return jc_client(err, 503, "the pids ceiling (ceiling_pids) is used up by the running tasks: "
                         "clone3 into the task's cgroup: %s", strerror_r(e, buf, sizeof buf));
    return jc_fail(err, e, "clone3");
}

/* The kernel makes the creating thread's effective uid the owner of a new
 * user namespace, and charges what the task then counts per user
 * (inotify, queued signals and timers, message queue bytes, namespaces) to
 * that owner on the host.  So clone3 runs as the task's host uid, never as
 * root: the task draws on its own per-user share, not root's. */
static pid_t do_clone(const struct sandbox_env *env, const struct cg_task *cgt, uid_t hostid, int *pidfd,
                      struct jc_err *err)
{
    struct tramp t = {
        .args = {.flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC |
                          CLONE_NEWNET | CLONE_PARENT},
        .prep = env->prep,
        .keep_below = (unsigned)(env->block + SB_BLOCK_N),
        .rc = -1,
    };
    int cgroup_fd = cgt->dirfd;

    if (fill_block(env, &cgroup_fd, err) < 0) {
        clear_block(env);
        return -1;
    }
    if (cgroup_fd >= 0) { /* v2: born inside its cgroup, never outside */
        t.args.flags |= CLONE_INTO_CGROUP;
        t.args.cgroup = (uint64_t)cgroup_fd;
    }
    if (set_thread_euid(hostid, err) < 0) {
        clear_block(env);
        return -1;
    }
    int rc = clone_child(env, &t);
    int saved = rc < 0 ? errno : t.errnum;
    /* Cannot fail (the real and saved uids are 0), and must not. */
    if (set_thread_euid(0, err) < 0) {
        log_errx("fatal: %s", err->msg);
        abort();
    }
    clear_block(env);
    if (rc < 0)
        return jc_fail(err, saved, "clone (spawn trampoline)");
    if (t.rc < 0)
        return clone_failed(saved, cgroup_fd >= 0, err);
    return open_pidfd((pid_t)t.rc, pidfd, err);
}

static int write_map(pid_t pid, const char *file, uint32_t id, struct jc_err *err)
{
    char path[64], line[64];
    _cleanup_close_ int fd = -1;
    int len;

    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    len = snprintf(line, sizeof line, "0 %u 1\n", id);
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, line, (size_t)len) != len)
        return jc_fail(err, errno, "write %s", path);
    return 0;
}

/* Maps and (v1) cgroup membership, then let the child go on. */
static int release_child(const struct sandbox_env *env, pid_t pid, uint32_t hostid,
                         const struct cg_task *cgt, struct spawn_fds *f, struct jc_err *err)
{
    if (write_map(pid, "uid_map", hostid, err) < 0 || write_map(pid, "gid_map", hostid, err) < 0)
        return -1;
    if (cg_task_attach(env->cg, cgt, pid, err) < 0)
        return -1;
    if (write(f->sync[1], "g", 1) != 1)
        return jc_fail(err, errno, "release child");
    close(f->sync[0]);
    f->sync[0] = -1;
    return 0;
}

/* The sandbox is built (the child exec'd jobcell-init): now the task's CPU
 * limit, then EOF on init's go pipe lets it fork the program. */
int sandbox_release_program(const struct sandbox_env *env, const struct jc_limits *lim,
                            struct sandbox_task *t, struct jc_err *err)
{
    if (t->cpus_set != lim->cpus && cg_task_limit_cpu(env->cg, &t->cg, lim, err) < 0)
        return -1;
    close(t->go_wr);
    t->go_wr = -1;
    return 0;
}

/* EOF on the close-on-exec pipe: init was exec'd.  A record: a step failed. */
int sandbox_exec_done(const struct sandbox_task *t, struct jc_err *err)
{
    struct sb_child_err ce;
    char buf[128];
    ssize_t n = read(t->err_rd, &ce, sizeof ce);

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n == 0)
        return 1;
    if (n == (ssize_t)sizeof ce)
        return jc_fail(err, 0, "sandbox: %s: %s", sb_step_name(ce.step),
                       strerror_r(ce.errnum, buf, sizeof buf));
    return jc_fail(err, n < 0 ? errno : EPROTO, "sandbox: no word from the child");
}

/* execve's answers that mean "no such program here" (the request's fault). */
static bool program_missing(int e)
{
    return e == ENOENT || e == EACCES || e == ENOEXEC || e == ENOTDIR || e == ELOOP || e == EISDIR ||
           e == ENAMETOOLONG;
}

/* jobcell-init could not fork the program.  EAGAIN: a pids limit is used
 * up; the task's own (at least 2) holds only init, so it is the ceiling that
 * the running tasks share: a resource, free again once some end (503). */
static int fork_failed(int e, struct jc_err *err)
{
    char buf[128];

    if (e == EAGAIN)
        return jc_client(err, 503, "the pids ceiling (ceiling_pids) is used up by the running tasks: "
                         "%s could not fork the program: %s", JC_INIT_PATH, strerror_r(e, buf, sizeof buf));
    return jc_fail(err, e, "sandbox: %s could not fork the program", JC_INIT_PATH);
}

/* init forks and execs the program under the task's own cpu quota, so the
 * wait for its report is 10 s of the task's share of a CPU (a task at
 * cpus 0.01 gets 1 % of one), at most 120 s. */
int sandbox_started_deadline_ms(const struct jc_limits *lim)
{
    double share = lim->cpus < 1.0 ? lim->cpus : 1.0;
    double ms = 10000.0 / (share > 0.0 ? share : 1.0);

    return ms < 120000.0 ? (int)ms : 120000;
}

/* What init's first record says about the program. */
static int started_record(const struct jc_init_msg *m, const struct sandbox_program *prog,
                          struct jc_err *err)
{
    char buf[128];

    if (m->kind == JC_INIT_STARTED)
        return 1;
    if (m->kind == JC_INIT_EXEC_FAILED && prog->is_command && program_missing(m->value))
        return jc_client(err, 400, "Field 'command': cannot run %s in the rootfs: %s", prog->name,
                         strerror_r(m->value, buf, sizeof buf));
    if (m->kind == JC_INIT_EXEC_FAILED)
        return jc_fail(err, 0, "exec %s: %s", prog->name, strerror_r(m->value, buf, sizeof buf));
    if (m->kind == JC_INIT_FORK_FAILED)
        return fork_failed(m->value, err);
    return jc_fail(err, 0, "sandbox: %s did not report the program's start", JC_INIT_PATH);
}

ssize_t sandbox_recv(int chan, struct sandbox_record *r)
{
    /* MSG_TRUNC: the record's whole length, to see one too long for *r. */
    ssize_t n = recv(chan, r, sizeof *r, MSG_DONTWAIT | MSG_TRUNC);

    if (n <= 0)
        return n;
    if ((size_t)n < sizeof r->h || (size_t)n > sizeof *r ||
        (r->h.kind == JC_INIT_OUTPUT) != ((size_t)n > sizeof r->h) ||
        (r->h.kind == JC_INIT_OUTPUT && (size_t)r->h.value != (size_t)n - sizeof r->h)) {
        errno = EPROTO;
        return -1;
    }
    return n;
}

/* jobcell-init's first status record: the program started, or why not.
 * Output before it is init's own message about that, dropped with the
 * spawn (the error names the cause). */
int sandbox_started(const struct sandbox_task *t, const struct sandbox_program *prog, bool timed_out,
                    struct jc_err *err)
{
    struct sandbox_record r;
    ssize_t n = -1;

    errno = ETIMEDOUT;
    while (!timed_out && ((n = sandbox_recv(t->chan, &r)) > 0 || (n < 0 && errno == EPROTO)))
        if (n > 0 && r.h.kind != JC_INIT_OUTPUT)
            return started_record(&r.h, prog, err);
    if (n < 0 && !timed_out && (errno == EAGAIN || errno == EINTR))
        return 0;
    return jc_fail(err, n < 0 ? errno : 0, "sandbox: %s did not report the program's start", JC_INIT_PATH);
}

/* Before the child is released only: it holds no other process yet, so the
 * wait for it is short. */
static void abort_child(int pidfd)
{
    siginfo_t si;

    if (pidfd < 0)
        return;
    (void)syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
    (void)waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED);
    close(pidfd);
}

static int start_child(const struct sandbox_env *env, uint32_t slot, struct spawn_fds *f,
                       struct sandbox_task *t, struct jc_err *err)
{
    uint32_t hostid = env->cfg->uid_base + slot;

    t->pid = do_clone(env, &t->cg, hostid, &t->pidfd, err);
    if (t->pid < 0)
        return -1;
    /* The cgroup's directory (v2) served CLONE_INTO_CGROUP only: a running
     * task holds no descriptor of it. */
    if (t->cg.dirfd >= 0)
        close(JC_STEAL_FD(t->cg.dirfd));
    /* The child's ends: it holds them now, and no later child may inherit them. */
    close(f->chan[1]);
    close(f->errp[1]);
    f->chan[1] = f->errp[1] = -1;
    if (release_child(env, t->pid, hostid, &t->cg, f, err) < 0) {
        abort_child(t->pidfd);
        t->pidfd = -1;
        return -1;
    }
    return 0;
}

int sandbox_clone(const struct sandbox_env *env, const struct jc_spec *spec, const int input[INPUT_NFDS],
                  uint32_t slot, struct sandbox_task *t, struct jc_err *err)
{
    struct spawn_fds f;
    struct jc_err ignored;

    *t = (struct sandbox_task){.pid = -1, .pidfd = -1, .err_rd = -1, .go_wr = -1, .chan = -1,
                               .cpus_set = -1};
    if (devdir_ensure(err) < 0)
        return -1;
    if (cg_task_create(env->cg, spec->id, &spec->limits, &t->cg, err) < 0)
        return -1;
    if (fds_open(&f, err) < 0 || prep_task(env, spec, &f, err) < 0)
        goto fail;
    prep_input(env, spec, input);
    t->started_ms = now_ms(CLOCK_REALTIME);
    t->started_mono_ms = now_ms(CLOCK_MONOTONIC);
    if (start_child(env, slot, &f, t, err) < 0)
        goto fail;
    t->err_rd = JC_STEAL_FD(f.errp[0]);
    t->go_wr = JC_STEAL_FD(f.sync[1]);
    t->chan = JC_STEAL_FD(f.chan[0]);
    fds_close(&f);
    return 0;
fail:
    fds_close(&f);
    cg_task_destroy(env->cg, &t->cg, &ignored);
    return -1;
}

void sandbox_task_close(struct sandbox_task *t)
{
    int *fds[] = {&t->pidfd, &t->err_rd, &t->go_wr, &t->chan};

    for (unsigned i = 0; i < JC_ARRAY_LEN(fds); i++)
        if (*fds[i] >= 0) {
            close(*fds[i]);
            *fds[i] = -1;
        }
}

/* ---- cells: sandboxes built ahead of demand -------------------------------- */

/* A socketpair whose ends are >= 10 (see pipe_high()). */
static int socket_high(int sv[2], struct jc_err *err)
{
    int raw[2];

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, raw) < 0)
        return jc_fail(err, errno, "socketpair (cell hand-over)");
    for (int i = 0; i < 2; i++) {
        sv[i] = fcntl(raw[i], F_DUPFD_CLOEXEC, 10);
        close(raw[i]);
    }
    if (sv[0] >= 0 && sv[1] >= 0)
        return 0;
    jc_fail(err, errno, "fcntl F_DUPFD_CLOEXEC");
    close_pair(sv);
    return -1;
}

/* A cell's plan: the request's part is empty until the hand-over. */
static void prep_cell(const struct sandbox_env *env, const struct spawn_fds *f, int sock,
                      const struct jc_limits *lim)
{
    struct sb_prep *p = env->prep;

    p->prog = (struct sock_fprog){0};
    p->cell_sock = sock;
    p->n_user_limits = p->n_user_limits_early;
    p->n_proc_paths = p->n_proc_paths_early;
    p->sync_rd = f->sync[0];
    p->err_wr = f->errp[1];
    p->out_wr = env->null_fd; /* as prep_task(): init makes the output pipe */
    p->status_wr = f->chan[1];
    p->hostname[0] = 0;
    tmp_opts(p->tmp_opts, sizeof p->tmp_opts, lim->tmpfs_mb, true);
    p->argv[0] = (char *)JC_INIT_PATH;
    p->argv[1] = NULL;
    p->envp[0] = NULL;
    p->stdin_fd = env->null_fd;
    p->files_fd = -1;
    p->nfiles = 0;
}

static void cell_init(struct sandbox_cell *c, uint32_t slot, const struct jc_limits *lim)
{
    *c = (struct sandbox_cell){.sock = -1, .slot = slot, .limits = *lim};
    c->sb = (struct sandbox_task){.pid = -1, .pidfd = -1, .err_rd = -1, .go_wr = -1, .chan = -1,
                                  .cpus_set = -1};
}

/* Its cgroup with every limit in place (the CPU quota too: a cell's set-up
 * is off the request path, so it may run under it). */
static int cell_cgroup(const struct sandbox_env *env, const char *name, struct sandbox_cell *c,
                       struct jc_err *err)
{
    struct jc_err ignored;

    if (cg_task_create(env->cg, name, &c->limits, &c->sb.cg, err) < 0)
        return -1;
    if (cg_task_limit_cpu(env->cg, &c->sb.cg, &c->limits, err) < 0) {
        cg_task_destroy(env->cg, &c->sb.cg, &ignored);
        return -1;
    }
    c->sb.cpus_set = c->limits.cpus;
    return 0;
}

int sandbox_cell_build(const struct sandbox_env *env, const char *name, const struct jc_limits *lim,
                       uint32_t slot, struct sandbox_cell *c, struct jc_err *err)
{
    struct spawn_fds f = {{-1, -1}, {-1, -1}, {-1, -1}};
    int sv[2] = {-1, -1};
    struct jc_err ignored;

    cell_init(c, slot, lim);
    if (devdir_ensure(err) < 0 || cell_cgroup(env, name, c, err) < 0)
        return -1;
    if (fds_open(&f, err) < 0 || socket_high(sv, err) < 0)
        goto fail;
    prep_cell(env, &f, sv[1], lim);
    c->sb.started_mono_ms = now_ms(CLOCK_MONOTONIC);
    if (start_child(env, slot, &f, &c->sb, err) < 0)
        goto fail;
    close(JC_STEAL_FD(sv[1])); /* the cell's end: no later child may inherit it */
    c->sock = JC_STEAL_FD(sv[0]);
    c->sb.err_rd = JC_STEAL_FD(f.errp[0]);
    c->sb.go_wr = JC_STEAL_FD(f.sync[1]);
    c->sb.chan = JC_STEAL_FD(f.chan[0]);
    fds_close(&f);
    return 0;
fail:
    close_pair(sv);
    fds_close(&f);
    cg_task_destroy(env->cg, &c->sb.cg, &ignored);
    return -1;
}

bool sandbox_cell_dead(const struct sandbox_cell *c)
{
    struct pollfd pfd = {.fd = c->sb.pidfd, .events = POLLIN};

    return poll(&pfd, 1, 0) != 0;
}

void sandbox_cell_discard(const struct sandbox_env *env, struct sandbox_cell *c)
{
    struct jc_err err;

    abort_child(JC_STEAL_FD(c->sb.pidfd));
    if (c->sock >= 0)
        close(JC_STEAL_FD(c->sock));
    sandbox_task_close(&c->sb);
    if (cg_task_destroy(env->cg, &c->sb.cg, &err) < 0)
        log_warnx("cell: %s", err.msg);
}

/* The request's part of the plan (see struct sb_handover); its length. */
static size_t fill_handover(struct sb_handover *h, const struct sandbox_cell *c, const struct jc_spec *spec,
                            const struct jc_policy *pol, const int input[INPUT_NFDS])
{
    size_t bpf = (size_t)pol->bpf_len * sizeof(struct sock_filter);
    const char *first = spec_next_string(spec, NULL);
    size_t strings = first ? spec->strings_len - (size_t)(first - spec->strings) : 0;

    snprintf(h->hostname, sizeof h->hostname, "%s", spec->id);
    h->tmp_opts[0] = 0;
    if (spec->limits.tmpfs_mb != c->limits.tmpfs_mb)
        tmp_opts(h->tmp_opts, sizeof h->tmp_opts, spec->limits.tmpfs_mb, false);
    h->has_stdin = input[INPUT_STDIN] >= 0;
    h->nfiles = input[INPUT_FILES] >= 0 ? spec->nfiles : 0;
    for (unsigned i = 0; i < h->nfiles; i++) {
        snprintf(h->file_paths[i], sizeof h->file_paths[i], "/tmp/%s", spec->files[i].name);
        h->file_sizes[i] = spec->files[i].size;
    }
    h->bpf_len = pol->bpf_len;
    h->argc = spec->argc;
    h->envc = spec->envc;
    h->strings_len = (uint32_t)strings;
    memcpy(h->data, pol->bpf, bpf);
    if (strings)
        memcpy(h->data + bpf, first, strings);
    return offsetof(struct sb_handover, data) + bpf + strings;
}

/* One message: the plan, and the input memfds as SCM_RIGHTS. */
static int send_handover(int sock, const struct sb_handover *h, size_t len, const int input[INPUT_NFDS],
                         struct jc_err *err)
{
    union {
        char buf[CMSG_SPACE(2 * sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {.iov_base = (void *)h, .iov_len = len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    int fds[2];
    unsigned n = 0;

    if (input[INPUT_STDIN] >= 0)
        fds[n++] = input[INPUT_STDIN];
    if (h->nfiles)
        fds[n++] = input[INPUT_FILES];
    if (n) {
        mh.msg_control = ctl.buf;
        mh.msg_controllen = CMSG_SPACE(n * sizeof(int));
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(n * sizeof(int));
        memcpy(CMSG_DATA(cm), fds, n * sizeof(int));
    }
    if (sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)len)
        return jc_fail(err, errno, "cell: send the task");
    return 0;
}

int sandbox_cell_hand_over(const struct sandbox_env *env, struct sandbox_cell *c, const struct jc_spec *spec,
                           const int input[INPUT_NFDS], struct sandbox_task *t, struct jc_err *err)
{
    static struct sb_handover ho; /* main thread only; too big for the stack */
    const struct jc_policy *pol = policy_find(env->policies, spec->policy);
    int kept;

    if (!pol)
        return jc_client(err, 400, "no seccomp profile \"%s\" (policy_dir no longer has it)", spec->policy);
    kept = cg_task_adopt(env->cg, &c->sb.cg, spec->id, c->sb.pid, &c->limits, &spec->limits, err);
    if (kept < 0)
        return -1;
    if (!kept)
        c->sb.cpus_set = -1;
    size_t len = fill_handover(&ho, c, spec, pol, input);
    if (send_handover(c->sock, &ho, len, input, err) < 0)
        return -1;
    close(JC_STEAL_FD(c->sock));
    *t = c->sb;
    t->started_ms = now_ms(CLOCK_REALTIME);
    t->started_mono_ms = now_ms(CLOCK_MONOTONIC);
    cell_init(c, c->slot, &c->limits); /* the task owns it all now */
    return 0;
}
