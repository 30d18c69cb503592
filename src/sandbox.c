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
_Static_assert(SB_JOIN_MAX >= CG_V1_NCTL, "raise SB_JOIN_MAX");

static const char *const step_names[SB_STEP_MAX_] = {
    [SB_STEP_JOIN] = "join the task's cgroups (v1: write 0 to tasks)",
    [SB_STEP_STUB_CAPS] = "keep the capabilities across the exec of " SB_STUB_NAME " (ambient)",
    [SB_STEP_STUB] = "exec the spawn stub " SB_STUB_NAME,
    [SB_STEP_PLAN] = "read the spawn's plan (" SB_STUB_NAME " and jobcelld of different builds?)",
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

/* The host's part of every plan (written once into a sealed memfd), and
 * the spawn's part: the main thread's (spawns on demand) and the cell
 * builder's. */
static struct sb_host g_host;
static struct sb_spawn g_spawn, g_cell_spawn;

static int prep_host(const struct sandbox_env *env, struct jc_err *err);
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

/* Capabilities stay while this thread's euid, and the spawn trampoline's
 * uids, are a task's host uid around clone3() (see do_clone):
 * CLONE_INTO_CGROUP needs write access
 * to the root-owned cgroup, the new namespaces CAP_SYS_ADMIN.  Securebits
 * are per thread and inherited: set on the warden's main thread before it
 * starts any other. */
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

/* The block's two slots that hold the same descriptor for the daemon's
 * life (plan.h): the host's plan and the stub's file. */
static int block_fixed(const struct sandbox_env *env, int host_fd, int stub_fd, struct jc_err *err)
{
    if (dup3(host_fd, env->block + SB_BLK_HOST, O_CLOEXEC) < 0 ||
        dup3(stub_fd, env->block + SB_BLK_STUB, O_CLOEXEC) < 0)
        return jc_fail(err, errno, "dup3 into the descriptor block");
    return 0;
}

#define TRAMP_STACK_SIZE (64 << 10)
#define CHILD_STACK_SIZE (16 << 10)
#define GUARD 4096

/* The trampoline's stack, and below it the vforked child's (it runs only
 * raw syscalls: its cgroups' joins, capget/capset/prctl, execveat() and,
 * if that fails, write() and exit_group()); a guard page under each. */
static int map_tramp_stack(struct sandbox_env *env, struct jc_err *err)
{
    size_t len = GUARD + CHILD_STACK_SIZE + GUARD + TRAMP_STACK_SIZE;
    char *s = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);

    if (s == MAP_FAILED)
        return jc_fail(err, errno, "mmap the spawn trampoline's stack");
    if (mprotect(s, GUARD, PROT_NONE) < 0 || mprotect(s + GUARD + CHILD_STACK_SIZE, GUARD, PROT_NONE) < 0)
        return jc_fail(err, errno, "mprotect the stacks' guard pages");
    env->child_stack = s + GUARD;
    env->tramp_stack = s + len;
    return 0;
}

/* The spawn stub (plan.h), opened once: a regular executable file that
 * no one but its owner can write, the owner root or the one of jobcelld's
 * own file (a build tree: the same trust as the daemon itself). */
static int open_stub(const char *path, struct jc_err *err)
{
    struct stat st, self;
    int fd = open(path, O_PATH | O_CLOEXEC);

    if (fd < 0)
        return jc_fail(err, errno, "open the spawn stub %s (meson install puts it there)", path);
    if (fstat(fd, &st) < 0 || stat("/proc/self/exe", &self) < 0) {
        jc_fail(err, errno, "stat the spawn stub %s", path);
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode) || !(st.st_mode & S_IXUSR) || (st.st_mode & (S_IWGRP | S_IWOTH)) ||
        (st.st_uid != 0 && st.st_uid != self.st_uid)) {
        jc_fail(err, EPERM, "the spawn stub %s must be a regular executable file, owned by root (or by "
                "jobcelld's owner) and writable by no one else", path);
        close(fd);
        return -1;
    }
    return fd;
}

/* The host's part of every plan into a memfd, sealed: no spawn's child can
 * see it change. */
static int host_memfd(struct jc_err *err)
{
    int fd = memfd_create("jobcell-host-plan", MFD_CLOEXEC | MFD_ALLOW_SEALING);

    if (fd < 0)
        return jc_fail(err, errno, "memfd_create (the host's plan)");
    if (write(fd, &g_host, sizeof g_host) != (ssize_t)sizeof g_host ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
        jc_fail(err, errno, "write and seal the host's plan");
        close(fd);
        return -1;
    }
    return fd;
}

/* The plan's host part and the stub into the block (both kept in it). */
static int prep_stub(struct sandbox_env *env, struct jc_err *err)
{
    _cleanup_close_ int stub = -1, host = -1;

    if (prep_host(env, err) < 0 || (stub = open_stub(env->cfg->spawn_stub, err)) < 0 ||
        (host = host_memfd(err)) < 0)
        return -1;
    snprintf(env->stub_arg, sizeof env->stub_arg, "%d", env->block);
    return block_fixed(env, host, stub, err);
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
    env->spawn = &g_spawn;
    return prep_stub(env, err);
}

int sandbox_env_for_cells(const struct sandbox_env *env, struct sandbox_env *out, struct jc_err *err)
{
    *out = *env;
    if (reserve_block(out, err) < 0 || map_tramp_stack(out, err) < 0 ||
        block_fixed(out, env->block + SB_BLK_HOST, env->block + SB_BLK_STUB, err) < 0)
        return -1;
    snprintf(out->stub_arg, sizeof out->stub_arg, "%d", out->block);
    out->spawn = &g_cell_spawn;
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
 * struct sb_host): creating that namespace needs the limit not yet 0. */
#define LATE_USER_LIMIT "max_cgroup_namespaces"
#define LATE_PROC_ENTRY "sys"

/* Every limit of the table that the running kernel has; the late one last. */
static void prep_user_limits(struct sb_host *h)
{
    char host[PATH_MAX];
    unsigned n = 0;

    for (int late = 0; late < 2; late++) {
        h->n_user_limits_early = late ? n : 0;
        for (unsigned i = 0; i < JC_ARRAY_LEN(user_ns_limits); i++) {
            snprintf(host, sizeof host, "/proc/sys/user/%s", user_ns_limits[i].name);
            if ((strcmp(user_ns_limits[i].name, LATE_USER_LIMIT) == 0) != late || access(host, F_OK) < 0)
                continue;
            struct sb_sysctl *s = &h->user_limits[n++];
            snprintf(s->path, sizeof s->path, "%s/sys/user/%s", h->proc, user_ns_limits[i].name);
            snprintf(s->value, sizeof s->value, "%u", user_ns_limits[i].value);
        }
    }
    h->n_user_limits_all = n;
    warn_unknown_user_limits();
}

/* The /proc entries of the table that exist here, as paths in the task's
 * /proc, with what to do to each (a directory is masked by the overlay's
 * empty layer, child.c trim_proc_entry). */
static void prep_proc_paths(struct sb_host *h)
{
    char host[PATH_MAX];
    struct stat st;
    unsigned n = 0;

    for (int late = 0; late < 2; late++) {
        h->n_proc_paths_early = late ? n : 0;
        for (unsigned i = 0; i < JC_ARRAY_LEN(proc_entries); i++) {
            snprintf(host, sizeof host, "/proc/%s", proc_entries[i].name);
            if ((strcmp(proc_entries[i].name, LATE_PROC_ENTRY) == 0) != late || lstat(host, &st) < 0)
                continue;
            struct sb_proc_path *e = &h->proc_paths[n++];
            snprintf(e->path, sizeof e->path, "%s/%s", h->proc, proc_entries[i].name);
            e->kind = !proc_entries[i].masked ? SB_PROC_RO
                      : S_ISDIR(st.st_mode)   ? SB_PROC_MASK_DIR
                                              : SB_PROC_MASK_FILE;
        }
    }
    h->n_proc_paths_all = n;
}

/* The host's part of every plan (plan.h), once.  Paths that would not fit
 * are refused here rather than cut short. */
static int prep_host(const struct sandbox_env *env, struct jc_err *err)
{
    struct sb_host *h = &g_host;
    const char *r = env->cfg->rootfs;

    *h = (struct sb_host){.magic = SB_HOST_MAGIC, .size = sizeof *h, .last_cap = env->last_cap,
                          .nofile_cap = task_nofile().rlim_max};
    if (strlen(r) + 64 > sizeof h->rootfs || strlen(env->dev_dir) + 64 > sizeof h->dev_src)
        return jc_fail(err, ENAMETOOLONG, "rootfs %s: path too long", r);
    snprintf(h->rootfs, sizeof h->rootfs, "%s", r);
    snprintf(h->proc, sizeof h->proc, "%s/proc", r);
    snprintf(h->tmp, sizeof h->tmp, "%s/tmp", r);
    snprintf(h->dev, sizeof h->dev, "%s/dev", r);
    snprintf(h->dev_null, sizeof h->dev_null, "%s/dev/null", r);
    snprintf(h->dev_src, sizeof h->dev_src, "%s", env->dev_dir);
    snprintf(h->mask_null, sizeof h->mask_null, "%s/null", env->dev_dir);
    prep_user_limits(h);
    prep_proc_paths(h);
    return 0;
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
static void prep_keep(struct sb_spawn *p)
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

/* /tmp's mount options for a size (mode only at the mount, not a remount). */
static void tmp_opts(char *buf, size_t len, uint32_t tmpfs_mb, bool with_mode)
{
    snprintf(buf, len, "size=%um,nr_inodes=%u%s", tmpfs_mb, tmpfs_mb * 256 + 64, with_mode ? ",mode=1777" : "");
}

/* The request's part of a plan (struct sb_handover), for a spawn on demand
 * or a cell's hand-over; its length.  tmp_opts "": the caller's to set. */
static size_t fill_request(struct sb_handover *h, const struct jc_spec *spec, const struct jc_policy *pol,
                           const int input[INPUT_NFDS])
{
    size_t bpf = (size_t)pol->bpf_len * sizeof(struct sock_filter);
    const char *first = spec_next_string(spec, NULL);
    size_t strings = first ? spec->strings_len - (size_t)(first - spec->strings) : 0;

    snprintf(h->hostname, sizeof h->hostname, "%s", spec->id);
    h->tmp_opts[0] = 0;
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

/* The spawn's descriptors (put into the block later, fill_block()). */
static void prep_fds(const struct sandbox_env *env, struct sb_spawn *p, const struct spawn_fds *f)
{
    p->magic = SB_SPAWN_MAGIC;
    p->layout = sizeof *p;
    p->sync_rd = f->sync[0];
    p->err_wr = f->errp[1];
    /* init's own stdout and stderr: it says everything on its channel,
     * and makes the program's output pipe itself (init_proto.h). */
    p->out_wr = env->null_fd;
    p->status_wr = f->chan[1];
    p->null_fd = env->null_fd;
}

/* A spawn on demand's plan: everything, the request's part included;
 * stdin on fd 0 (else /dev/null) and the files the child writes to /tmp. */
static int prep_task(const struct sandbox_env *env, const struct jc_spec *spec, const int input[INPUT_NFDS],
                     const struct spawn_fds *f, struct jc_err *err)
{
    struct sb_spawn *p = env->spawn;
    const struct jc_policy *pol = policy_find(env->policies, spec->policy);

    if (!pol)
        return jc_client(err, 400, "no seccomp profile \"%s\" (policy_dir no longer has it)", spec->policy);
    prep_fds(env, p, f);
    p->cell_sock = -1;
    p->n_user_limits = g_host.n_user_limits_all;
    p->n_proc_paths = g_host.n_proc_paths_all;
    tmp_opts(p->tmp_opts, sizeof p->tmp_opts, spec->limits.tmpfs_mb, true);
    p->stdin_fd = input[INPUT_STDIN] >= 0 ? input[INPUT_STDIN] : env->null_fd;
    p->files_fd = input[INPUT_FILES];
    p->size = (uint32_t)(offsetof(struct sb_spawn, req) + fill_request(&p->req, spec, pol, input));
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

/* This spawn's part of the plan into a memfd of its own, at its place in
 * the block: written whole before the clone, it is the child's alone. */
static int plan_into_block(const struct sandbox_env *env, struct jc_err *err)
{
    const struct sb_spawn *p = env->spawn;
    _cleanup_close_ int fd = memfd_create("jobcell-plan", MFD_CLOEXEC);

    if (fd < 0)
        return jc_fail(err, errno, "memfd_create (the spawn's plan)");
    if (write(fd, p, p->size) != (ssize_t)p->size)
        return jc_fail(err, errno, "write the spawn's plan");
    if (dup3(fd, env->block + SB_BLK_PLAN, O_CLOEXEC) < 0)
        return jc_fail(err, errno, "dup3 to descriptor %d", env->block + SB_BLK_PLAN);
    return 0;
}

/* The child's descriptors into the block, then the plan that names them;
 * *cgroup_fd too (v2). */
static int fill_block(const struct sandbox_env *env, int *cgroup_fd, struct jc_err *err)
{
    struct sb_spawn *p = env->spawn;

    if (into_block(env, &p->sync_rd, SB_BLK_SYNC, err) < 0 || into_block(env, &p->err_wr, SB_BLK_ERR, err) < 0 ||
        into_block(env, &p->out_wr, SB_BLK_OUT, err) < 0 ||
        into_block(env, &p->status_wr, SB_BLK_STATUS, err) < 0 ||
        into_block(env, &p->stdin_fd, SB_BLK_STDIN, err) < 0 ||
        into_block(env, &p->files_fd, SB_BLK_FILES, err) < 0 ||
        into_block(env, &p->null_fd, SB_BLK_NULL, err) < 0 || into_block(env, cgroup_fd, SB_BLK_CGROUP, err) < 0 ||
        into_block(env, &p->cell_sock, SB_BLK_CELL, err) < 0)
        return -1;
    prep_keep(p);
    return plan_into_block(env, err);
}

/* v1: the task's cgroup files the child joins, at SB_BLK_JOIN on; *n of
 * them (the warden keeps no copy: clear_block() drops these too). */
static int join_into_block(const struct sandbox_env *env, const struct cg_task *cgt, int *n,
                           struct jc_err *err)
{
    int fds[CG_V1_NCTL];
    int rc = 0;

    *n = cg_task_open_join(env->cg, cgt, fds, err);
    if (*n < 0)
        return -1;
    for (int i = 0; i < *n; i++) {
        int to = env->block + SB_BLK_JOIN + i;
        if (rc == 0 && dup3(fds[i], to, O_CLOEXEC) < 0)
            rc = jc_fail(err, errno, "dup3 to descriptor %d", to);
        close(fds[i]);
    }
    return rc;
}

/* /dev/null back into the block (but the host's plan and the stub, kept):
 * the warden keeps no copy of the child's ends (its pipes' EOFs depend on
 * it). */
static void clear_block(const struct sandbox_env *env)
{
    for (int i = 0; i < SB_BLOCK_N; i++)
        if (i != SB_BLK_HOST && i != SB_BLK_STUB && dup3(env->null_fd, env->block + i, O_CLOEXEC) < 0) {
            log_msg(LOG_LVL_ERROR, NULL, errno, "fatal: dup3 /dev/null to descriptor %d", env->block + i);
            abort();
        }
}

struct tramp {
    struct clone_args args;
    int block;           /* the reserved block's first descriptor */
    uid_t hostid;        /* the task's host uid: the trampoline's, all three */
    const char *failed;  /* what the trampoline could not do, or NULL */
    char *argv[3];       /* the stub's: SB_STUB_NAME, the block's number */
    int join_n;          /* v1: the cgroup files the child joins (SB_BLK_JOIN...) */
    long rc;             /* the child's pid, or -1 */
    int errnum;          /* clone's errno */
    int last_cap;        /* highest capability number the kernel knows */
    int exec_errnum;     /* the child's errno before its exec, 0: it exec'd */
    int exec_step;       /* and the step it failed */
};

/* clone3() of a child that shares our memory (CLONE_VM) and runs fn(arg)
 * on its own stack (args->stack): it can never return into our frames, so
 * the syscall and the call are one piece of assembly (glibc 2.36 has no
 * clone3() wrapper).  Returns the child's pid, or -errno. */
__attribute__((no_sanitize("address", "undefined"))) static long clone3_vm(struct clone_args *args,
                                                                          int (*fn)(void *), void *arg)
{
#if defined(__x86_64__)
    register long rax __asm__("rax") = SYS_clone3;
    register long rdi __asm__("rdi") = (long)args;
    register long rsi __asm__("rsi") = (long)sizeof *args;
    register long r12 __asm__("r12") = (long)fn;
    register long r13 __asm__("r13") = (long)arg;

    /* The child (rax 0): no frame to return to; fn(arg), which exits. */
    __asm__ volatile("syscall\n\t"
                     "test %%rax, %%rax\n\t"
                     "jnz 1f\n\t"
                     "xor %%ebp, %%ebp\n\t"
                     "mov %%r13, %%rdi\n\t"
                     "call *%%r12\n\t"
                     "ud2\n"
                     "1:"
                     : "+r"(rax)
                     : "r"(rdi), "r"(rsi), "r"(r12), "r"(r13)
                     : "rcx", "r11", "memory", "cc");
    return rax;
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = SYS_clone3;
    register long x0 __asm__("x0") = (long)args;
    register long x1 __asm__("x1") = (long)sizeof *args;
    register long x19 __asm__("x19") = (long)fn;
    register long x20 __asm__("x20") = (long)arg;

    __asm__ volatile("svc #0\n\t"
                     "cbnz x0, 1f\n\t"
                     "mov x29, xzr\n\t"
                     "mov x0, x20\n\t"
                     "blr x19\n\t"
                     "brk #0\n"
                     "1:"
                     : "+r"(x0)
                     : "r"(x8), "r"(x1), "r"(x19), "r"(x20)
                     : "memory", "cc");
    return x0;
#else
#error "clone3_vm(): no assembly for this architecture"
#endif
}

/* The child's capabilities in its new user namespace (all) made ambient,
 * so that they survive its exec of the stub: its uid there has no map
 * yet (the warden writes it once the child exists), so to the kernel the
 * exec is not root's and would clear them; the checklist needs them until
 * drop_caps() (child.c), which clears the ambient and inheritable sets
 * again.  Raw syscalls: see spawn_child(). */
__attribute__((no_sanitize("address", "undefined"))) static int caps_ambient(int last_cap)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];

    if (syscall(SYS_capget, &hdr, d) < 0)
        return -1;
    d[0].inheritable = d[0].permitted;
    d[1].inheritable = d[1].permitted;
    if (syscall(SYS_capset, &hdr, d) < 0)
        return -1;
    for (int cap = 0; cap <= last_cap; cap++)
        if (syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
            return -1;
    return 0;
}

/* v1: into the task's cgroups, each by writing "0" (this thread) to its
 * `tasks` file (see cg_task_open_join()).  Raw syscalls: see spawn_child(). */
__attribute__((no_sanitize("address", "undefined"))) static int join_cgroups(const struct tramp *t)
{
    for (int i = 0; i < t->join_n; i++)
        if (syscall(SYS_write, t->block + SB_BLK_JOIN + i, "0", 1) != 1)
            return -1;
    return 0;
}

/* The task's child from clone3() to its exec of the stub: it shares the
 * warden's memory (CLONE_VM, until the exec; the trampoline waits,
 * CLONE_VFORK), so it makes raw syscalls only and writes nothing but its
 * own stack, its own credentials and t->exec_errnum.  Its first act (v1)
 * is to join its cgroups: all it does after, the exec of the stub
 * included, is under its limits.  The stub runs the checklist in memory of
 * its own (stub.c). */
__attribute__((no_sanitize("address", "undefined"))) static int spawn_child(void *arg)
{
    struct tramp *t = arg;
    static char *const envp[] = {NULL};
    struct sb_child_err ce = {.step = SB_STEP_JOIN};

    if (join_cgroups(t) == 0) {
        ce.step = SB_STEP_STUB_CAPS;
        if (caps_ambient(t->last_cap) == 0) {
            ce.step = SB_STEP_STUB;
            (void)syscall(SYS_execveat, t->block + SB_BLK_STUB, "", t->argv, envp, AT_EMPTY_PATH);
        }
    }
    ce.errnum = errno ? errno : EPROTO;
    t->exec_errnum = ce.errnum;
    t->exec_step = ce.step;
    (void)syscall(SYS_write, t->block + SB_BLK_ERR, &ce, sizeof ce);
    syscall(SYS_exit_group, 127);
    return 0;
}

__attribute__((noreturn, no_sanitize("address", "undefined"))) static void trampoline_failed(struct tramp *t,
                                                                                           const char *what)
{
    t->errnum = errno;
    t->failed = what;
    _exit(0);
}

/* Runs in a vfork-like child sharing the warden's memory and descriptor
 * table (the warden's thread waits until it exits): first a private table
 * of the descriptors below the block's end only — the kernel copies
 * keep_below entries, not the warden's thousands — with the close-on-exec
 * flag off on those the stub inherits (plan.h), the task's host uid as
 * its real, effective and saved uid (see do_clone()), then the task's child,
 * made the warden's own (CLONE_PARENT), sharing our memory until it execs
 * the stub (CLONE_VM|CLONE_VFORK: nothing is copied, nothing torn down).
 * Raw syscalls only; not instrumented (its stack is not one the sanitizer
 * knows). */
__attribute__((no_sanitize("address", "undefined"))) static int trampoline(void *arg)
{
    struct tramp *t = arg;

    if (syscall(SYS_close_range, (unsigned)(t->block + SB_BLOCK_N), ~0U, CLOSE_RANGE_UNSHARE) < 0)
        trampoline_failed(t, "close_range(CLOSE_RANGE_UNSHARE)");
    for (int i = 0; i < SB_BLK_INHERITED_N; i++)
        if (syscall(SYS_fcntl, t->block + i, F_SETFD, 0) < 0)
            trampoline_failed(t, "fcntl(F_SETFD)");
    /* Our own credentials, not the warden's (no CLONE_THREAD): a raw
     * setresuid changes only ours (glibc's would signal every thread). */
    if (syscall(SYS_setresuid, t->hostid, t->hostid, t->hostid) < 0)
        trampoline_failed(t, "setresuid to the task's host uid");
    t->rc = clone3_vm(&t->args, spawn_child, t);
    if (t->rc < 0) {
        t->errnum = (int)-t->rc;
        t->rc = -1;
    }
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

/* The child could not exec the stub: it has exited (its record on the
 * error pipe says the same); reap it. */
static pid_t stub_failed(pid_t pid, int step, int e, struct jc_err *err)
{
    char buf[128];

    while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
        ;
    return jc_fail(err, 0, "sandbox: %s: %s", sb_step_name(step), strerror_r(e, buf, sizeof buf));
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

/* The kernel makes the creating process's effective uid the owner of a
 * new user namespace, and charges what the task then counts per user
 * (inotify, queued signals and timers, message queue bytes, namespaces,
 * processes) to that owner on the host.  So clone3 runs as the task's host
 * uid, never as root: the task draws on its own per-user share, not
 * root's.  The trampoline is born with it as its effective uid (this
 * thread's, switched around the clone) and takes it as its real and saved
 * uids too (its capabilities kept, SECBIT_NO_SETUID_FIXUP): the child then
 * execs the stub with its real uid its effective one, which the kernel does not
 * count as a set-uid exec (before Linux 6.15 that would clear the ambient
 * capabilities the checklist needs; it would also drop the child's perf
 * events and make it undumpable). */
static pid_t do_clone(const struct sandbox_env *env, const struct cg_task *cgt, uid_t hostid, int *pidfd,
                      struct jc_err *err)
{
    struct tramp t = {
        .args = {.flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC |
                          CLONE_NEWNET | CLONE_PARENT | CLONE_VM | CLONE_VFORK,
                 .stack = (uint64_t)(uintptr_t)env->child_stack, .stack_size = CHILD_STACK_SIZE},
        .block = env->block,
        .hostid = hostid,
        .last_cap = env->last_cap,
        .argv = {(char *)SB_STUB_NAME, (char *)env->stub_arg, NULL},
        .rc = -1,
    };
    int cgroup_fd = cgt->dirfd;

    if (fill_block(env, &cgroup_fd, err) < 0 || join_into_block(env, cgt, &t.join_n, err) < 0) {
        clear_block(env);
        return -1;
    }
    if (cgroup_fd >= 0) { /* v2: born inside its cgroup, never outside */
        t.args.flags |= CLONE_INTO_CGROUP;
        t.args.cgroup = (uint64_t)cgroup_fd;
    }
    /* The trampoline is born with the task's uid as its effective one:
     * never a moment as root's (it takes the other two itself). */
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
    if (t.failed)
        return jc_fail(err, saved, "spawn trampoline: %s", t.failed);
    if (t.rc < 0)
        return clone_failed(saved, cgroup_fd >= 0, err);
    if (t.exec_errnum)
        return stub_failed((pid_t)t.rc, t.exec_step, t.exec_errnum, err);
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

/* The maps, then let the child go on (it is in its cgroups already). */
static int release_child(pid_t pid, uint32_t hostid, struct spawn_fds *f, struct jc_err *err)
{
    if (write_map(pid, "uid_map", hostid, err) < 0 || write_map(pid, "gid_map", hostid, err) < 0)
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
    if (release_child(t->pid, hostid, f, err) < 0) {
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
    if (fds_open(&f, err) < 0 || prep_task(env, spec, input, &f, err) < 0)
        goto fail;
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

/* A cell's plan: its request's part comes at the hand-over. */
static void prep_cell(const struct sandbox_env *env, const struct spawn_fds *f, int sock,
                      const struct jc_limits *lim)
{
    struct sb_spawn *p = env->spawn;

    prep_fds(env, p, f);
    p->cell_sock = sock;
    p->n_user_limits = g_host.n_user_limits_early;
    p->n_proc_paths = g_host.n_proc_paths_early;
    tmp_opts(p->tmp_opts, sizeof p->tmp_opts, lim->tmpfs_mb, true);
    p->stdin_fd = env->null_fd;
    p->files_fd = -1;
    p->size = (uint32_t)offsetof(struct sb_spawn, req);
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

/* The request's part (see struct sb_handover); its length.  /tmp is
 * remounted only if the request's size is not the one it was built with. */
static size_t fill_handover(struct sb_handover *h, const struct sandbox_cell *c, const struct jc_spec *spec,
                            const struct jc_policy *pol, const int input[INPUT_NFDS])
{
    size_t len = fill_request(h, spec, pol, input);

    if (spec->limits.tmpfs_mb != c->limits.tmpfs_mb)
        tmp_opts(h->tmp_opts, sizeof h->tmp_opts, spec->limits.tmpfs_mb, false);
    return len;
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
                           const int input[INPUT_NFDS], struct sandbox_task *t, struct cg_task *left,
                           struct jc_err *err)
{
    static struct sb_handover ho; /* main thread only; too big for the stack */
    const struct jc_policy *pol = policy_find(env->policies, spec->policy);
    int kept;

    *left = (struct cg_task){.dirfd = -1};
    if (!pol)
        return jc_client(err, 400, "no seccomp profile \"%s\" (policy_dir no longer has it)", spec->policy);
    kept = cg_task_adopt(env->cg, &c->sb.cg, spec->id, c->sb.pid, &c->limits, &spec->limits, left, err);
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
