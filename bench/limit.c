/* limit.c — the limit: jobcell's isolation steps per task and nothing else
 * (no HTTP, no records, no queue, no log files), so that bench/spawn.sh can
 * print every other row as a ratio to it.
 *
 *     sudo build/bench/jobcell-limit --rootfs DIR [--lanes N] [--count M]
 *          [--warmup W] [--max-seconds S] [--program PATH] [--policy-dir DIR]
 *          [--cgroup-name NAME] [--uid-base UID] [--print-output]
 *          [--rate R] [--hold [--hold-seconds S]]
 *          [-- PROGRAM [ARGS...]]      (default PROGRAM: /usr/bin/jc-noop)
 *
 * N lanes (forked processes, like N clients each waiting for its task) run
 * M spawns in all; each spawn is the whole life of a task, from the cgroup
 * mkdir to the cgroup rmdir.  Prints one line (bench/spawnloop.c's format):
 *   n=… fail=… p50_ms=… p95_ms=… p99_ms=… max_ms=… rate=… started_p50_ms=…
 *   started_p99_ms=…
 * (started = cgroup mkdir → jobcell-init reports the program's start, the
 * moment jobcelld answers 202).  --rate caps the spawns per second over
 * all lanes.
 *
 * --hold (bench/tenk.sh -L): the tasks are not waited for but kept alive
 * (each lane keeps a pidfd and init's channel per task, as jobcelld's
 * warden does); once all M have started it prints
 *   held n=… fail=… submit_s=…
 * waits S seconds (default 1), then every lane cancels its tasks at once
 * as jobcelld's warden cancels one (SIGKILL to init, the cgroup's own
 * kill), reaps them all, then removes their cgroups, and prints
 *   hold n=… fail=… rate=… started_p50_ms=… started_p99_ms=…
 *        cancel_reaped_s=… cancel_removed_s=… lanes=… cgroup=…
 * (seconds from the kill to every task reaped, and to every cgroup gone):
 * the limit of "all 10 000 cancelled and terminal".
 *
 * It stays the bare per-spawn cost: jobcelld's cells (pool_size > 0,
 * docs/design.md "Cells prepared ahead") take most of the steps below
 * ahead of demand, which this harness never does — it is the limit a
 * spawn on demand cannot pass, and the one a hand-over is measured against.
 *
 * Kept in step with the child code as it changes: each step below names
 * the code it mirrors (line numbers as of main af3d0f3; they drift, the
 * function names hold).  When src/child.c or src/sandbox.c gains or loses a step,
 * this file does too.
 *
 *  parent (the warden's spawning thread; sandbox.c sandbox_spawn :592)
 *   P1 cgroup create: v1 mkdir in memory, pids, cpu, cpuacct (co-mounted
 *      hierarchies once), memory.limit_in_bytes, memory.memsw.limit_in_bytes,
 *      pids.max (swappiness 0 inherited from the parent); v2 mkdir, memory.max, memory.swap.max 0,
 *      memory.oom.group 1, pids.max, open the dirfd.
 *      [cgroup_v1.c cg_v1_create :143, set_limits :127, set_memory :112;
 *       cgroup_v2.c cg_v2_create :200, set_limits :170]
 *      The tasks' parent carries the ceilings, written once at start-up
 *      [cgroup_v1.c cg_v1_ceiling :92, cgroup_v2.c cg_v2_ceiling :147]
 *   P2 three pipes and init's channel (a SOCK_SEQPACKET socketpair), both
 *      ends >= 10 (sync, error, init's own stdout, channel)
 *      [sandbox.c pipe_high :167, fds_open :312]
 *   P3 clone3(NEWUSER|NEWPID|NEWNS|NEWUTS|NEWIPC|NEWNET|PIDFD
 *      [|INTO_CGROUP on v2]) with the thread's euid switched to the task's
 *      host uid, SECBIT_NO_SETUID_FIXUP keeping the capabilities
 *      [sandbox.c keep_caps_across_euid :132, do_clone :405]
 *      v1: the task's `tasks` file of each hierarchy opened for the child,
 *      which joins its cgroups itself (C0) [sandbox.c join_into_block,
 *      cgroup_v1.c cg_v1_open_join]
 *   P4 uid_map and gid_map "0 <uid> 1", "g" on the sync pipe
 *      [sandbox.c write_map, release_child]
 *   P5 EOF on the close-on-exec error pipe: jobcell-init exec'd
 *      [sandbox.c wait_exec :491]
 *   P6 the CPU limit (v1 cpu.cfs_quota_us, the period being the kernel's
 *      default 100000; v2 cpu.max),
 *      then EOF on init's go pipe [sandbox.c release_program :466;
 *      cgroup_v1.c cg_v1_limit_cpu :166, cgroup_v2.c cg_v2_limit_cpu :190]
 *   P7 init's STARTED record [sandbox.c wait_started :541]
 *  monitor (warden.c, the monitor thread)
 *   P8 the program's OUTPUT records and ENDED on the channel (init relays
 *      the program's output), EOF on init's stdout, waitid(P_PIDFD), cgroup rmdir
 *      with EBUSY retries [cgroup.c cg_rmdir_retry, cgroup_v1.c
 *      cg_v1_destroy :228, cgroup_v2.c cg_v2_destroy :243]
 *  child (child.c sb_child_main :298, raw syscalls only)
 *   C0 v1: "0" into each `tasks` file (this thread joins its cgroups;
 *      jobcelld's child does it before its exec of the stub)
 *                                            [sandbox.c join_cgroups]
 *   C1 setsid, drain pending signals          [leave_session :59]
 *   C2 close the parent's ends, PDEATHSIG, wait on the sync pipe
 *                                            [wait_for_parent :71]
 *   C3 setgroups(0), setresgid/setresuid 0, PDEATHSIG again, poll the error
 *      pipe [set_ids :87]; unshare(CLONE_NEWCGROUP) [enter_cgroupns]
 *   C4 / private; empty read-only tmpfs on ROOTFS/tmp, an O_PATH descriptor
 *      of it, overlay "lowerdir=.:tmp" on ROOTFS   [mount_root :184,
 *                                             mount_overlay :131]
 *   C5 /proc; the user namespace's /proc/sys/user/max_* limits; Docker's
 *      read-only binds and masks (a directory: a bind of the empty layer
 *      through /proc/self/fd, no tmpfs of its own) [mount_proc :174,
 *      trim_proc_entry :155; tables: sandbox.c user_ns_limits :55,
 *      proc_entries :70, prep_user_limits :216, prep_proc_paths :234]
 *   C6 tmpfs /tmp (size = tmpfs_mb, nr_inodes = tmpfs_mb*256+64)
 *                                            [mount_root; sandbox.c prep_task :342]
 *   C7 /dev: a recursive bind of the /dev prepared once (src/devdir.c,
 *      the same code: a read-only tmpfs of the 5 host nodes, bound, and 4
 *      links, in this process's own mount namespace) and a read-only
 *      remount, then a stat: its null a device; the /proc masks of C5
 *      bind its null                          [mount_dev; sandbox.c prep_paths;
 *                                             devdir.c devdir_prepare]
 *   C8 pivot_root(".", "."), detach the old root   [mount_root :184]
 *   C9 sethostname(task id), lo up           [sb_child_main, loopback_up :237]
 *   C10 stdio onto 0-4, close_range(5.., CLOEXEC)   [set_stdio :255]
 *   C11 the 7 task rlimits                   [set_rlimits :267; table:
 *                                             child.c task_rlimits]
 *   C12 securebits locked, bounding set emptied, ambient cleared, capset 0
 *                                            [drop_caps :282]
 *   C13 no_new_privs, seccomp filter from the precompiled BPF of
 *       policy/default.json (the project's own policy.c compiles it)
 *                                            [sb_child_main :298]
 *   C14 execve /sbin/jobcell-init PROGRAM: init forks on EOF of fd 4, execs
 *       the program, reports STARTED, reaps, reports ENDED  [rootfs/init.c]
 *  Not mirrored (not isolation): the task's log file, its timerfd, input
 *  files (none in a no-op task), the usage counters read at the end; and
 *  jobcelld's exec hop: its task's child is cloned CLONE_VM|CLONE_VFORK and
 *  execs the static jobcell-spawn (src/stub.c, src/plan.h) before C1, only
 *  because the warden's address space is large (a copy of it per spawn
 *  costs the warden's threads COW faults and TLB shootdowns).  A lane here
 *  is a small process: its clone3 copies next to nothing, so the limit
 *  pays neither the copy nor the hop's exec, and stays a bound a spawn of
 *  jobcelld cannot pass.
 *
 * Runs in: a root shell; the main process sets up and reports, the lanes
 * are its forked children.  A benchmark, not a test; it changes nothing
 * outside its own cgroups (removed at the end) and namespaces. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/magic.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <linux/securebits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "devdir.h"
#include "error.h"
#include "init_proto.h"
#include "jc_build_config.h"
#include "policy.h"
#include "request.h"
#include "task.h"

#define NCTL 4       /* v1 hierarchies: memory, pids, cpu, cpuacct */
#define MAX_LIMITS 16
#define MAX_PROC 20
#define MAX_LANES 64

/* ---- the fixed plan (prepared once, as sandbox.c prep_paths does) ------ */

/* child.c task_rlimits */
static const struct {
    int resource;
    rlim_t value;
} task_rlimits[] = {
    {RLIMIT_CORE, 0}, {RLIMIT_RTPRIO, 0}, {RLIMIT_NICE, 0}, {RLIMIT_MEMLOCK, 64 << 10},
    {RLIMIT_NOFILE, 1024}, {RLIMIT_SIGPENDING, 1024}, {RLIMIT_MSGQUEUE, 256 << 10},
};
/* sandbox.c user_ns_limits */
static const struct {
    const char *name;
    const char *value;
} user_limits[] = {
    {"max_inotify_instances", "32"}, {"max_inotify_watches", "8192"},
    {"max_fanotify_groups", "0"},    {"max_fanotify_marks", "0"},
    {"max_user_namespaces", "0"},    {"max_pid_namespaces", "0"},
    {"max_net_namespaces", "0"},     {"max_mnt_namespaces", "0"},
    {"max_uts_namespaces", "0"},     {"max_ipc_namespaces", "0"},
    {"max_cgroup_namespaces", "0"},  {"max_time_namespaces", "0"},
};
/* sandbox.c proc_entries */
static const struct {
    const char *name;
    int masked;
} proc_entries[] = {
    {"bus", 0},  {"fs", 0},         {"irq", 0},        {"sys", 0},           {"sysrq-trigger", 0},
    {"acpi", 1}, {"asound", 1},     {"interrupts", 1}, {"kcore", 1},         {"keys", 1},
    {"latency_stats", 1}, {"timer_list", 1}, {"timer_stats", 1}, {"sched_debug", 1},
    {"scsi", 1}, {"cmdline", 1},
};

enum proc_kind { PROC_RO, PROC_MASK_FILE, PROC_MASK_DIR };

/* Everything the child reads: filled by the parent before clone3. */
struct plan {
    const char *rootfs;
    char proc[PATH_MAX], tmp[PATH_MAX], dev[PATH_MAX];
    char dev_src[PATH_MAX], mask_null[PATH_MAX]; /* the prepared /dev, its null */
    char dev_null[PATH_MAX];                     /* ROOTFS/dev/null, checked once bound */
    char limit_paths[MAX_LIMITS][PATH_MAX];
    const char *limit_values[MAX_LIMITS];
    unsigned n_limits;
    char proc_paths[MAX_PROC][PATH_MAX];
    enum proc_kind proc_kinds[MAX_PROC];
    unsigned n_proc;
    char tmp_opts[96];
    int last_cap;
    rlim_t nofile_cap;
    struct sock_fprog prog;
    char *argv[16];
    char *envp[2];
    int print_output;
    /* per spawn */
    int sync_rd, sync_wr, err_rd, err_wr, out_wr, status_wr, null_fd;
    int join_fd[NCTL], n_join; /* v1: the task's `tasks` files (C0) */
    char hostname[64];
};

/* The cgroups: v1 one base per hierarchy ("" if absent or co-mounted), or
 * the v2 base. */
struct cgroups {
    int v2;
    char base[NCTL][PATH_MAX];
    int memsw;
    struct jc_limits lim;
};

struct opts {
    const char *rootfs, *policy_dir, *cg_name;
    char **argv; /* the program and its arguments */
    long lanes, count, warmup;
    int print_output, hold;
    double max_s, rate, hold_s;
    uint32_t uid_base;
};

static struct plan g_plan;
static struct cgroups g_cg;
static const char *const v1_names[NCTL] = {"memory", "pids", "cpu", "cpuacct"};

/* ---- the child: src/child.c, step by step; raw syscalls only ----------- */

struct child_err {
    int32_t step, errnum;
};

enum step {
    ST_JOIN = 1, ST_SESSION, ST_SYNC, ST_IDS, ST_CGROUPNS, ST_ROOT, ST_PROC, ST_LIMITS, ST_PROC_TRIM,
    ST_TMP, ST_DEV, ST_PIVOT, ST_HOSTNAME, ST_LO, ST_STDIO, ST_RLIMIT, ST_CAPS, ST_NNP,
    ST_SECCOMP, ST_EXEC, ST_MAX_,
};
static const char *const step_names[ST_MAX_] = {
    [ST_JOIN] = "join the cgroups", [ST_SESSION] = "setsid", [ST_SYNC] = "wait for the parent", [ST_IDS] = "ids",
    [ST_CGROUPNS] = "cgroup namespace", [ST_ROOT] = "overlay root", [ST_PROC] = "/proc",
    [ST_LIMITS] = "user namespace limits", [ST_PROC_TRIM] = "/proc masks", [ST_TMP] = "/tmp",
    [ST_DEV] = "/dev", [ST_PIVOT] = "pivot_root", [ST_HOSTNAME] = "hostname", [ST_LO] = "lo up",
    [ST_STDIO] = "stdio", [ST_RLIMIT] = "rlimits", [ST_CAPS] = "capabilities",
    [ST_NNP] = "no_new_privs", [ST_SECCOMP] = "seccomp", [ST_EXEC] = "execve jobcell-init",
};

__attribute__((noreturn)) static void fail(const struct plan *p, int step)
{
    struct child_err e = {step, errno ? errno : EPROTO};

    (void)!write(p->err_wr, &e, sizeof e);
    _exit(127);
}

#define STEP(p, step, expr)             \
    do {                                \
        if ((long)(expr) < 0)           \
            fail((p), (step));          \
    } while (0)

#define RO_FLAGS (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
#define EMPTY_TMPFS_OPTS "size=4k,nr_inodes=1,mode=555"

static void c_join(const struct plan *p)
{
    for (int i = 0; i < p->n_join; i++) {
        errno = EIO;
        if (write(p->join_fd[i], "0", 1) != 1)
            fail(p, ST_JOIN);
        close(p->join_fd[i]);
    }
}

static void c_session_and_sync(const struct plan *p)
{
    struct timespec zero = {0, 0};
    sigset_t all;
    char c;

    STEP(p, ST_SESSION, setsid());
    sigfillset(&all);
    while (syscall(SYS_rt_sigtimedwait, &all, NULL, &zero, _NSIG / 8) > 0)
        ;
    close(p->sync_wr);
    close(p->err_rd);
    STEP(p, ST_SYNC, prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0));
    errno = EPIPE;
    if (read(p->sync_rd, &c, 1) != 1)
        fail(p, ST_SYNC);
}

static void c_ids(const struct plan *p)
{
    struct pollfd pfd = {.fd = p->err_wr, .events = POLLOUT};

    STEP(p, ST_IDS, syscall(SYS_setgroups, 0, NULL));
    STEP(p, ST_IDS, syscall(SYS_setresgid, 0, 0, 0));
    STEP(p, ST_IDS, syscall(SYS_setresuid, 0, 0, 0));
    STEP(p, ST_IDS, prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0));
    if (poll(&pfd, 1, 0) < 0 || (pfd.revents & POLLERR))
        _exit(127);
    STEP(p, ST_CGROUPNS, unshare(CLONE_NEWCGROUP));
}

static void c_write(const struct plan *p, int step, const char *path, const char *text)
{
    size_t len = strlen(text);
    int fd = open(path, O_WRONLY | O_CLOEXEC);

    STEP(p, step, fd);
    errno = EIO;
    if (write(fd, text, len) != (ssize_t)len)
        fail(p, step);
    close(fd);
}

/* Returns a descriptor of the empty layer's root, taken before the
 * overlay covers it: what c_proc() binds on each masked directory. */
static int c_overlay(const struct plan *p)
{
    STEP(p, ST_ROOT, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
    STEP(p, ST_ROOT, mount("jobcell", p->tmp, "tmpfs", RO_FLAGS, EMPTY_TMPFS_OPTS));
    int layer = open(p->tmp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    STEP(p, ST_ROOT, layer);
    STEP(p, ST_ROOT, chdir(p->rootfs));
    STEP(p, ST_ROOT, mount("jobcell", p->rootfs, "overlay", MS_RDONLY | MS_NOSUID | MS_NODEV,
                           "lowerdir=.:tmp"));
    STEP(p, ST_ROOT, chdir(p->rootfs));
    return layer;
}

/* "/proc/self/fd/<fd>" without stdio [child.c fd_path]. */
static void c_fd_path(char out[32], int fd)
{
    char digits[12];
    size_t n = 0, k = sizeof "/proc/self/fd/" - 1;

    do
        digits[n++] = (char)('0' + fd % 10);
    while ((fd /= 10) > 0);
    memcpy(out, "/proc/self/fd/", k);
    while (n > 0)
        out[k++] = digits[--n];
    out[k] = 0;
}

static void c_proc(const struct plan *p, int layer)
{
    char empty[32];

    c_fd_path(empty, layer);
    STEP(p, ST_PROC, mount("proc", p->proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL));
    for (unsigned i = 0; i < p->n_limits; i++)
        c_write(p, ST_LIMITS, p->limit_paths[i], p->limit_values[i]);
    for (unsigned i = 0; i < p->n_proc; i++) {
        const char *e = p->proc_paths[i];
        switch (p->proc_kinds[i]) {
        case PROC_RO:
            STEP(p, ST_PROC_TRIM, mount(e, e, NULL, MS_BIND, NULL));
            STEP(p, ST_PROC_TRIM, mount(NULL, e, NULL, MS_REMOUNT | MS_BIND | RO_FLAGS, NULL));
            break;
        case PROC_MASK_FILE:
            STEP(p, ST_PROC_TRIM, mount(p->mask_null, e, NULL, MS_BIND, NULL));
            break;
        case PROC_MASK_DIR:
            STEP(p, ST_PROC_TRIM, mount(empty, e, NULL, MS_BIND, NULL));
            break;
        }
    }
}

static void c_dev(const struct plan *p)
{
    struct stat st;

    STEP(p, ST_DEV, mount(p->dev_src, p->dev, NULL, MS_BIND | MS_REC, NULL));
    STEP(p, ST_DEV, mount(NULL, p->dev, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL));
    STEP(p, ST_DEV, stat(p->dev_null, &st));
    errno = ENOENT;
    if (!S_ISCHR(st.st_mode))
        fail(p, ST_DEV);
}

static void c_root(const struct plan *p)
{
    int layer = c_overlay(p);
    c_proc(p, layer);
    close(layer);
    STEP(p, ST_TMP, mount("tmpfs", p->tmp, "tmpfs", MS_NOSUID | MS_NODEV, p->tmp_opts));
    c_dev(p);
    STEP(p, ST_PIVOT, chdir(p->rootfs));
    STEP(p, ST_PIVOT, syscall(SYS_pivot_root, ".", "."));
    STEP(p, ST_PIVOT, umount2(".", MNT_DETACH));
    STEP(p, ST_PIVOT, chdir("/"));
}

static void c_net_and_stdio(const struct plan *p)
{
    struct ifreq ifr;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    STEP(p, ST_HOSTNAME, sethostname(p->hostname, strlen(p->hostname)));
    STEP(p, ST_LO, s);
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    STEP(p, ST_LO, ioctl(s, SIOCGIFFLAGS, &ifr));
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    STEP(p, ST_LO, ioctl(s, SIOCSIFFLAGS, &ifr));
    close(s);
    STEP(p, ST_STDIO, dup3(p->null_fd, 0, 0));
    STEP(p, ST_STDIO, dup3(p->out_wr, 1, 0));
    STEP(p, ST_STDIO, dup3(p->out_wr, 2, 0));
    STEP(p, ST_STDIO, dup3(p->status_wr, JC_INIT_CHAN_FD, 0));
    STEP(p, ST_STDIO, dup3(p->sync_rd, JC_INIT_GO_FD, 0));
    STEP(p, ST_STDIO, syscall(SYS_close_range, 5, ~0U, CLOSE_RANGE_CLOEXEC));
}

static void c_limits_caps_seccomp(const struct plan *p)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];

    for (unsigned i = 0; i < JC_ARRAY_LEN(task_rlimits); i++) {
        rlim_t v = task_rlimits[i].value;
        if (task_rlimits[i].resource == RLIMIT_NOFILE && v > p->nofile_cap)
            v = p->nofile_cap;
        struct rlimit r = {v, v};
        STEP(p, ST_RLIMIT, setrlimit(task_rlimits[i].resource, &r));
    }
    STEP(p, ST_CAPS, prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                                                  SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED,
                           0, 0, 0));
    for (int cap = 0; cap <= p->last_cap; cap++)
        STEP(p, ST_CAPS, prctl(PR_CAPBSET_DROP, cap, 0, 0, 0));
    STEP(p, ST_CAPS, prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0));
    memset(data, 0, sizeof data);
    STEP(p, ST_CAPS, syscall(SYS_capset, &hdr, data));
    STEP(p, ST_NNP, prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    STEP(p, ST_SECCOMP, prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &p->prog, 0, 0));
}

__attribute__((noreturn)) static void child_main(const struct plan *p)
{
    c_join(p);
    c_session_and_sync(p);
    c_ids(p);
    c_root(p);
    c_net_and_stdio(p);
    c_limits_caps_seccomp(p);
    execve(p->argv[0], p->argv, p->envp);
    fail(p, ST_EXEC);
}

/* ---- set-up, once ------------------------------------------------------ */

static int read_int_file(const char *path, long *out, struct jc_err *err)
{
    char buf[32];
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0 || (n = read(fd, buf, sizeof buf - 1)) < 0)
        return jc_fail(err, errno, "read %s", path);
    buf[n] = 0;
    *out = strtol(buf, NULL, 10);
    return 0;
}

static void plan_paths(struct plan *p, const char *r)
{
    struct stat st;
    char host[PATH_MAX];

    p->rootfs = r;
    snprintf(p->proc, sizeof p->proc, "%s/proc", r);
    snprintf(p->tmp, sizeof p->tmp, "%s/tmp", r);
    snprintf(p->dev, sizeof p->dev, "%s/dev", r);
    snprintf(p->dev_null, sizeof p->dev_null, "%s/dev/null", r);
    for (unsigned i = 0; i < JC_ARRAY_LEN(user_limits); i++) {
        snprintf(host, sizeof host, "/proc/sys/user/%s", user_limits[i].name);
        if (access(host, F_OK) < 0)
            continue;
        snprintf(p->limit_paths[p->n_limits], PATH_MAX, "%s/sys/user/%s", p->proc, user_limits[i].name);
        p->limit_values[p->n_limits++] = user_limits[i].value;
    }
    for (unsigned i = 0; i < JC_ARRAY_LEN(proc_entries); i++) {
        snprintf(host, sizeof host, "/proc/%s", proc_entries[i].name);
        if (lstat(host, &st) < 0)
            continue;
        snprintf(p->proc_paths[p->n_proc], PATH_MAX, "%s/%s", p->proc, proc_entries[i].name);
        p->proc_kinds[p->n_proc++] = !proc_entries[i].masked ? PROC_RO
                                     : S_ISDIR(st.st_mode)   ? PROC_MASK_DIR
                                                             : PROC_MASK_FILE;
    }
}

static int plan_init(struct plan *p, const struct opts *o, const struct jc_policy_set *pols,
                     struct jc_err *err)
{
    const struct jc_policy *pol = policy_find(pols, "default");
    struct rlimit own;
    long last = 0;

    if (!pol)
        return jc_fail(err, 0, "no policy \"default\" in %s", o->policy_dir);
    if (read_int_file("/proc/sys/kernel/cap_last_cap", &last, err) < 0)
        return -1;
    p->last_cap = (int)last;
    p->prog = (struct sock_fprog){.len = pol->bpf_len, .filter = pol->bpf};
    plan_paths(p, o->rootfs);
    snprintf(p->tmp_opts, sizeof p->tmp_opts, "size=%um,nr_inodes=%u,mode=1777", g_cg.lim.tmpfs_mb,
             g_cg.lim.tmpfs_mb * 256 + 64);
    p->nofile_cap = getrlimit(RLIMIT_NOFILE, &own) == 0 && own.rlim_max < 1024 ? own.rlim_max : 1024;
    p->argv[0] = (char *)JC_INIT_PATH;
    for (int i = 0; o->argv[i]; i++)
        p->argv[i + 1] = o->argv[i];
    p->print_output = o->print_output;
    p->envp[0] = (char *)"PATH=/usr/bin:/bin";
    p->envp[1] = NULL;
    p->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (p->null_fd < 0)
        return jc_fail(err, errno, "open /dev/null");
    return 0;
}

static int cg_write(const char *dir, const char *file, const char *val, struct jc_err *err)
{
    char path[PATH_MAX + 64];
    _cleanup_close_ int fd = -1;
    size_t len = strlen(val);

    snprintf(path, sizeof path, "%s/%s", dir, file);
    fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return jc_fail(err, errno, "open %s", path);
    if (write(fd, val, len) != (ssize_t)len)
        return jc_fail(err, errno, "write \"%s\" to %s", val, path);
    return 0;
}

static int same_hierarchy(int i)
{
    char a[PATH_MAX], b[PATH_MAX], path[64];

    snprintf(path, sizeof path, "/sys/fs/cgroup/%s", v1_names[i]);
    if (!realpath(path, a))
        return 0;
    for (int j = 0; j < i; j++) {
        snprintf(path, sizeof path, "/sys/fs/cgroup/%s", v1_names[j]);
        if (g_cg.base[j][0] && realpath(path, b) && strcmp(a, b) == 0)
            return 1;
    }
    return 0;
}

/* The tasks' parent(s), with ceilings as jobcelld's defaults would set them
 * (here: far above what the benchmark uses, so they never bind). */
static int cg_init_bases(const char *name, struct jc_err *err)
{
    struct statfs sf;
    struct stat st;
    char path[PATH_MAX];

    g_cg.v2 = statfs("/sys/fs/cgroup", &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC;
    for (int i = 0; i < (g_cg.v2 ? 1 : NCTL); i++) {
        if (g_cg.v2)
            snprintf(path, sizeof path, "/sys/fs/cgroup");
        else
            snprintf(path, sizeof path, "/sys/fs/cgroup/%s", v1_names[i]);
        if (stat(path, &st) < 0 || (!g_cg.v2 && same_hierarchy(i)))
            continue;
        snprintf(g_cg.base[i], PATH_MAX, "%s/%s", path, name);
        if (mkdir(g_cg.base[i], 0755) < 0 && errno != EEXIST)
            return jc_fail(err, errno, "mkdir %s", g_cg.base[i]);
    }
    return 0;
}

static int cg_ceilings(struct jc_err *err)
{
    char path[PATH_MAX + 32];

    if (g_cg.v2) {
        if (cg_write("/sys/fs/cgroup", "cgroup.subtree_control", "+memory +pids +cpu", err) < 0 ||
            cg_write(g_cg.base[0], "cgroup.subtree_control", "+memory +pids +cpu", err) < 0)
            return -1;
        snprintf(path, sizeof path, "%s/memory.swap.max", g_cg.base[0]);
        g_cg.memsw = access(path, F_OK) == 0;
        return cg_write(g_cg.base[0], "memory.max", "68719476736", err) < 0 ? -1
               : cg_write(g_cg.base[0], "pids.max", "1000000", err);
    }
    snprintf(path, sizeof path, "%s/memory.memsw.limit_in_bytes", g_cg.base[0]);
    g_cg.memsw = g_cg.base[0][0] && access(path, F_OK) == 0;
    if (g_cg.base[0][0] && cg_write(g_cg.base[0], "memory.limit_in_bytes", "68719476736", err) < 0)
        return -1;
    if (g_cg.memsw && cg_write(g_cg.base[0], "memory.memsw.limit_in_bytes", "68719476736", err) < 0)
        return -1;
    if (g_cg.base[0][0]) /* the tasks' memory cgroups inherit it */
        (void)cg_write(g_cg.base[0], "memory.swappiness", "0", &(struct jc_err){0});
    return g_cg.base[1][0] ? cg_write(g_cg.base[1], "pids.max", "1000000", err) : 0;
}

static void cg_fini(void)
{
    for (int i = 0; i < NCTL; i++)
        if (g_cg.base[i][0] && rmdir(g_cg.base[i]) < 0 && errno != ENOENT)
            fprintf(stderr, "limit: rmdir %s: %s\n", g_cg.base[i], strerror(errno));
}

/* ---- one task ---------------------------------------------------------- */

struct task {
    char id[48];
    int cg_dirfd; /* v2 */
    int sync[2], errp[2], out[2], status[2];
    int pidfd;
    pid_t pid;
};

static int cg_rmdir_retry(const char *path, struct jc_err *err)
{
    struct timespec ts = {.tv_nsec = 2 * 1000 * 1000};

    for (int i = 0; i < 100; i++) {
        if (rmdir(path) == 0 || errno == ENOENT)
            return 0;
        if (errno != EBUSY)
            break;
        nanosleep(&ts, NULL);
    }
    return jc_fail(err, errno, "rmdir %s", path);
}

static void task_dir(int i, const struct task *t, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", g_cg.base[i], t->id);
}

static int cg_destroy(struct task *t, struct jc_err *err)
{
    char dir[PATH_MAX + 64];
    int rc = 0;

    if (t->cg_dirfd >= 0)
        close(JC_STEAL_FD(t->cg_dirfd));
    for (int i = 0; i < NCTL; i++) {
        task_dir(i, t, dir, sizeof dir);
        if (g_cg.base[i][0] && cg_rmdir_retry(dir, err) < 0)
            rc = -1;
    }
    return rc;
}

/* P1, the limits of one task cgroup (hierarchy i on v1). */
static int cg_set_limits(int i, const char *dir, struct jc_err *err)
{
    char mem[32], pids[16];
    struct jc_err ignored;

    snprintf(mem, sizeof mem, "%llu", (unsigned long long)g_cg.lim.memory_mb << 20);
    snprintf(pids, sizeof pids, "%u", g_cg.lim.pids);
    if (g_cg.v2) {
        if (cg_write(dir, "memory.max", mem, err) < 0)
            return -1;
        (void)cg_write(dir, "memory.swap.max", "0", &ignored);  /* absent without swap */
        (void)cg_write(dir, "memory.oom.group", "1", &ignored);
        return cg_write(dir, "pids.max", pids, err);
    }
    if (i == 1)
        return cg_write(dir, "pids.max", pids, err);
    if (i != 0)
        return 0; /* cpu: cg_limit_cpu(), once the sandbox is built */
    if (cg_write(dir, "memory.limit_in_bytes", mem, err) < 0 ||
        (g_cg.memsw && cg_write(dir, "memory.memsw.limit_in_bytes", mem, err) < 0))
        return -1;
    return 0;
}

/* P1 */
static int cg_create(struct task *t, struct jc_err *err)
{
    char dir[PATH_MAX + 64];
    struct jc_err ignored;

    for (int i = 0; i < NCTL; i++) {
        if (!g_cg.base[i][0])
            continue;
        task_dir(i, t, dir, sizeof dir);
        if (mkdir(dir, 0755) < 0) {
            jc_fail(err, errno, "mkdir %s", dir);
            goto fail;
        }
        if (cg_set_limits(i, dir, err) < 0)
            goto fail;
        if (g_cg.v2 && (t->cg_dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
            jc_fail(err, errno, "open %s", dir);
            goto fail;
        }
    }
    return 0;
fail:
    cg_destroy(t, &ignored);
    return -1;
}

/* P6: the CPU limit, once the sandbox is built. */
static int cg_limit_cpu(const struct task *t, struct jc_err *err)
{
    char dir[PATH_MAX + 64], v[48];
    long long quota = (long long)(g_cg.lim.cpus * 100000.0 + 0.5);

    if (g_cg.v2) {
        task_dir(0, t, dir, sizeof dir);
        snprintf(v, sizeof v, "%lld 100000", quota);
        return cg_write(dir, "cpu.max", v, err);
    }
    if (!g_cg.base[2][0])
        return 0;
    task_dir(2, t, dir, sizeof dir);
    snprintf(v, sizeof v, "%lld", quota);
    return cg_write(dir, "cpu.cfs_quota_us", v, err);
}

/* P2: a pipe whose ends are >= 10, as sandbox.c pipe_high. */
static int pipe_high(int fds[2], struct jc_err *err)
{
    int raw[2];

    if (pipe2(raw, O_CLOEXEC) < 0)
        return jc_fail(err, errno, "pipe2");
    for (int i = 0; i < 2; i++) {
        fds[i] = fcntl(raw[i], F_DUPFD_CLOEXEC, 10);
        close(raw[i]);
    }
    if (fds[0] < 0 || fds[1] < 0)
        return jc_fail(err, errno, "fcntl F_DUPFD_CLOEXEC");
    return 0;
}

/* P2: init's channel, as sandbox.c chan_high. */
static int chan_high(int fds[2], struct jc_err *err)
{
    int raw[2];

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, raw) < 0)
        return jc_fail(err, errno, "socketpair");
    for (int i = 0; i < 2; i++) {
        fds[i] = fcntl(raw[i], F_DUPFD_CLOEXEC, 10);
        close(raw[i]);
    }
    if (fds[0] < 0 || fds[1] < 0)
        return jc_fail(err, errno, "fcntl F_DUPFD_CLOEXEC");
    return 0;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(JC_STEAL_FD(*fd));
}

static void task_close(struct task *t)
{
    int *all[] = {&t->sync[0], &t->sync[1], &t->errp[0], &t->errp[1], &t->out[0],
                  &t->out[1], &t->status[0], &t->status[1], &t->pidfd};

    for (unsigned i = 0; i < JC_ARRAY_LEN(all); i++)
        close_fd(all[i]);
}

/* P3, v1: the files the child joins its cgroups through (C0). */
static int open_join(const struct task *t, struct plan *p, struct jc_err *err)
{
    char path[PATH_MAX + 64];

    p->n_join = 0;
    for (int i = 0; i < NCTL && !g_cg.v2; i++) {
        if (!g_cg.base[i][0])
            continue;
        snprintf(path, sizeof path, "%s/%s/tasks", g_cg.base[i], t->id);
        if ((p->join_fd[p->n_join] = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
            return jc_fail(err, errno, "open %s", path);
        p->n_join++;
    }
    return 0;
}

static void close_join(struct plan *p)
{
    while (p->n_join > 0)
        close(p->join_fd[--p->n_join]);
}

/* P3 */
static int do_clone(struct task *t, uid_t hostid, struct jc_err *err)
{
    struct clone_args args = {
        .flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC |
                 CLONE_NEWNET | CLONE_PIDFD,
        .pidfd = (uint64_t)(uintptr_t)&t->pidfd,
        .exit_signal = SIGCHLD,
    };

    if (t->cg_dirfd >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = (uint64_t)t->cg_dirfd;
    }
    if (syscall(SYS_setresuid, (uid_t)-1, hostid, (uid_t)-1) < 0)
        return jc_fail(err, errno, "setresuid(-1, %u, -1)", (unsigned)hostid);
    long rc = syscall(SYS_clone3, &args, sizeof args);
    if (rc == 0)
        child_main(&g_plan);
    int saved = errno;
    if (syscall(SYS_setresuid, (uid_t)-1, 0, (uid_t)-1) < 0)
        abort(); /* cannot fail: real and saved uids are 0 */
    if (rc < 0)
        return jc_fail(err, saved, "clone3");
    t->pid = (pid_t)rc;
    return 0;
}

static int write_map(pid_t pid, const char *file, uint32_t id, struct jc_err *err)
{
    char path[64], line[64];

    snprintf(path, sizeof path, "/proc/%d", (int)pid);
    snprintf(line, sizeof line, "0 %u 1\n", id);
    return cg_write(path, file, line, err);
}

/* P4 */
static int release_child(struct task *t, uint32_t hostid, struct jc_err *err)
{
    if (write_map(t->pid, "uid_map", hostid, err) < 0 || write_map(t->pid, "gid_map", hostid, err) < 0)
        return -1;
    if (write(t->sync[1], "g", 1) != 1)
        return jc_fail(err, errno, "release child");
    close_fd(&t->sync[0]);
    return 0;
}

static ssize_t read_timeout(int fd, void *buf, size_t len, int timeout_ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int rc;

    do
        rc = poll(&pfd, 1, timeout_ms);
    while (rc < 0 && errno == EINTR);
    if (rc == 0)
        errno = ETIMEDOUT;
    return rc <= 0 ? -1 : read(fd, buf, len);
}

/* P5 */
static int wait_exec(struct task *t, struct jc_err *err)
{
    struct child_err ce;
    ssize_t n;

    close_fd(&t->errp[1]);
    n = read_timeout(t->errp[0], &ce, sizeof ce, 10000);
    if (n == 0)
        return 0;
    if (n == (ssize_t)sizeof ce)
        return jc_fail(err, ce.errnum, "child: %s",
                       ce.step > 0 && ce.step < ST_MAX_ ? step_names[ce.step] : "?");
    return jc_fail(err, errno, "no word from the child");
}

/* The next status record on init's channel; its OUTPUT records on the way
 * are the program's output (printed with --print-output). */
static int read_init(struct task *t, uint32_t kind, struct jc_err *err)
{
    static struct {
        struct jc_init_msg h;
        char data[JC_INIT_CHUNK];
    } r;
    struct jc_init_msg m = {0};
    ssize_t n;

    while ((n = read_timeout(t->status[0], &r, sizeof r, 10000)) > (ssize_t)sizeof r.h &&
           r.h.kind == JC_INIT_OUTPUT)
        if (g_plan.print_output)
            (void)!write(STDERR_FILENO, r.data, (size_t)n - sizeof r.h);
    if (n == (ssize_t)sizeof m)
        m = r.h;
    if (n == (ssize_t)sizeof m && m.kind == kind)
        return m.value;
    return jc_fail(err, n < 0 ? errno : 0, "jobcell-init: expected record %u, got %zd bytes (kind %u, %d)",
                   kind, n, n == (ssize_t)sizeof m ? m.kind : 0, n == (ssize_t)sizeof m ? m.value : 0);
}

/* P8: what the monitor thread waits for, then the reap. */
static int wait_end(struct task *t, struct jc_err *err)
{
    char buf[256];
    siginfo_t si = {0};
    ssize_t n;
    int st = read_init(t, JC_INIT_ENDED, err);

    if (st < 0)
        return -1;
    while ((n = read_timeout(t->out[0], buf, sizeof buf, 10000)) > 0)
        if (g_plan.print_output)
            (void)!write(STDERR_FILENO, buf, (size_t)n);
    if (n < 0)
        return jc_fail(err, errno, "read output");
    if (waitid(P_PIDFD, (id_t)t->pidfd, &si, WEXITED) < 0)
        return jc_fail(err, errno, "waitid");
    t->pid = -1;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || si.si_code != CLD_EXITED || si.si_status != 0)
        return jc_fail(err, 0, "the program did not exit 0 (status %#x, init %d)", st, si.si_status);
    return 0;
}

static void abort_child(struct task *t)
{
    siginfo_t si;

    if (t->pid <= 0 || t->pidfd < 0)
        return;
    (void)syscall(SYS_pidfd_send_signal, t->pidfd, SIGKILL, NULL, 0);
    (void)waitid(P_PIDFD, (id_t)t->pidfd, &si, WEXITED);
    t->pid = -1;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* P2 to P7: the task built and its program started. */
static int start_task(struct task *t, uint32_t hostid, struct jc_err *err)
{
    if (pipe_high(t->sync, err) < 0 || pipe_high(t->errp, err) < 0 || pipe_high(t->out, err) < 0 ||
        chan_high(t->status, err) < 0)
        return -1;
    g_plan.sync_rd = t->sync[0];
    g_plan.sync_wr = t->sync[1];
    g_plan.err_rd = t->errp[0];
    g_plan.err_wr = t->errp[1];
    g_plan.out_wr = t->out[1];
    g_plan.status_wr = t->status[1];
    snprintf(g_plan.hostname, sizeof g_plan.hostname, "%s", t->id);
    int rc = open_join(t, &g_plan, err) < 0 ? -1 : do_clone(t, hostid, err);
    close_join(&g_plan);
    if (rc < 0)
        return -1;
    close_fd(&t->out[1]);
    close_fd(&t->status[1]);
    if (release_child(t, hostid, err) < 0 || wait_exec(t, err) < 0 || cg_limit_cpu(t, err) < 0)
        return -1;
    close_fd(&t->sync[1]); /* P6: init's go */
    return read_init(t, JC_INIT_STARTED, err) < 0 ? -1 : 0; /* P7 */
}

static int run_task(struct task *t, uint32_t hostid, double *started, struct jc_err *err)
{
    if (start_task(t, hostid, err) < 0)
        return -1;
    *started = now_s();
    return wait_end(t, err);
}

/* One task's whole life; 0 on success.  *lat and *started: seconds from
 * the cgroup mkdir to its rmdir, and to STARTED. */
static int spawn_one(long lane, long seq, uint32_t hostid, double *lat, double *started)
{
    struct task t = {.cg_dirfd = -1, .pidfd = -1, .pid = -1,
                     .sync = {-1, -1}, .errp = {-1, -1}, .out = {-1, -1}, .status = {-1, -1}};
    struct jc_err err = {0}, err2 = {0};
    double t0 = now_s();
    int rc;

    snprintf(t.id, sizeof t.id, "lim%d-%ld-%ld", (int)getpid(), lane, seq);
    if (cg_create(&t, &err) < 0) {
        fprintf(stderr, "limit: %s\n", err.msg);
        return -1;
    }
    rc = run_task(&t, hostid, started, &err);
    abort_child(&t);
    task_close(&t);
    if (cg_destroy(&t, &err2) < 0 && rc == 0) {
        err = err2;
        rc = -1;
    }
    if (rc < 0) {
        fprintf(stderr, "limit: %s\n", err.msg);
        return -1;
    }
    *lat = now_s() - t0;
    *started -= t0;
    return 0;
}

/* ---- lanes and figures ------------------------------------------------- */

struct shared {
    long n_fail;
    double t_end;
    long n_held;     /* --hold */
    double t_kill, t_reaped[MAX_LANES], t_removed[MAX_LANES]; /* --hold: when each lane was done */
};

static void sleep_until(double t)
{
    struct timespec ts = {.tv_sec = (time_t)t, .tv_nsec = (long)((t - (double)(time_t)t) * 1e9)};

    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}
/* The pause before a lane's next spawn: --rate spawns/s over all lanes. */
static void pace(const struct opts *o, double *next)
{
    if (o->rate <= 0)
        return;
    sleep_until(*next);
    *next += (double)o->lanes / o->rate;
}

static void lane_main(const struct opts *o, long lane, long from, long n, double deadline, int go_fd,
                      double *lat, double *started, struct shared *sh)
{
    char c;
    long ok = 0, bad = 0;
    double next;

    if (read(go_fd, &c, 1) < 0)
        _exit(2);
    next = now_s();
    for (long i = 0; i < n && now_s() < deadline; i++) {
        pace(o, &next);
        if (spawn_one(lane, i, o->uid_base + (uint32_t)lane, &lat[from + ok], &started[from + ok]) == 0)
            ok++;
        else
            bad++;
    }
    __atomic_add_fetch(&sh->n_fail, bad, __ATOMIC_SEQ_CST);
    _exit(0);
}

/* ---- --hold: every task kept alive, then all cancelled at once --------- */

/* A started task kept alive: only its pidfd and init's channel stay open,
 * the two descriptors jobcelld's warden keeps per running task. */
struct held {
    char id[48];
    int pidfd, chan;
};

/* P1 to P7 of one task, kept; *started: seconds from the mkdir to STARTED. */
static int hold_one(long lane, long seq, uint32_t hostid, struct held *h, double *started)
{
    struct task t = {.cg_dirfd = -1, .pidfd = -1, .pid = -1,
                     .sync = {-1, -1}, .errp = {-1, -1}, .out = {-1, -1}, .status = {-1, -1}};
    struct jc_err err = {0}, ignored;
    double t0 = now_s();

    snprintf(t.id, sizeof t.id, "lim%d-%ld-%ld", (int)getpid(), lane, seq);
    if (cg_create(&t, &err) < 0 || start_task(&t, hostid, &err) < 0) {
        abort_child(&t);
        task_close(&t);
        (void)cg_destroy(&t, &ignored);
        fprintf(stderr, "limit: %s\n", err.msg);
        return -1;
    }
    *started = now_s() - t0;
    memcpy(h->id, t.id, sizeof h->id);
    h->pidfd = JC_STEAL_FD(t.pidfd);
    h->chan = JC_STEAL_FD(t.status[0]);
    close_fd(&t.cg_dirfd);
    task_close(&t);
    return 0;
}

/* What a cancel does to a running task (warden.c kill_task): SIGKILL to
 * init, which ends its pid namespace, and the cgroup's own kill for what
 * races with it (v2 cgroup.kill; v1 one pass over cgroup.procs). */
static void kill_held(const struct held *h)
{
    char dir[PATH_MAX + 64];
    long pid;

    if (syscall(SYS_pidfd_send_signal, h->pidfd, SIGKILL, NULL, 0) < 0 && errno != ESRCH)
        fprintf(stderr, "limit: pidfd_send_signal %s: %s\n", h->id, strerror(errno));
    struct task t = {.cg_dirfd = -1};
    memcpy(t.id, h->id, sizeof t.id);
    int i = 0;
    while (i < NCTL - 1 && !g_cg.base[i][0])
        i++;
    task_dir(i, &t, dir, sizeof dir); /* every process is in every hierarchy */
    if (g_cg.v2) {
        (void)cg_write(dir, "cgroup.kill", "1", &(struct jc_err){0});
        return;
    }
    strcat(dir, "/cgroup.procs");
    FILE *f = fopen(dir, "re");
    while (f && fscanf(f, "%ld", &pid) == 1)
        (void)kill((pid_t)pid, SIGKILL);
    if (f)
        fclose(f);
}

/* Kill every held task, reap each (P8's waitid), then remove the cgroups
 * (after the exits, as jobcelld's sweeper does during a mass end). */
static int end_held(struct held *h, long n, long lane, struct shared *sh)
{
    struct jc_err err;
    siginfo_t si;
    int rc = 0;

    for (long i = 0; i < n; i++)
        kill_held(&h[i]);
    for (long i = 0; i < n; i++) {
        if (waitid(P_PIDFD, (id_t)h[i].pidfd, &si, WEXITED) < 0) {
            fprintf(stderr, "limit: waitid %s: %s\n", h[i].id, strerror(errno));
            rc = -1;
        }
        close(h[i].pidfd);
        close(h[i].chan);
    }
    sh->t_reaped[lane] = now_s();
    for (long i = 0; i < n; i++) {
        struct task t = {.cg_dirfd = -1};
        memcpy(t.id, h[i].id, sizeof t.id);
        if (cg_destroy(&t, &err) < 0) {
            fprintf(stderr, "limit: %s\n", err.msg);
            rc = -1;
        }
    }
    sh->t_removed[lane] = now_s();
    return rc;
}

/* A lane of --hold: start n tasks (at most --rate over all lanes), say so
 * on ready_fd, wait for the EOF of kill_fd, end them all. */
static void hold_lane(const struct opts *o, long lane, long from, long n, double deadline,
                      int go_fd, int ready_fd, int kill_fd, double *started, struct shared *sh)
{
    struct held *h = calloc((size_t)n, sizeof *h);
    long k = 0, bad = 0;
    double next;
    char c;

    if (!h || read(go_fd, &c, 1) < 0)
        _exit(2);
    next = now_s();
    for (long i = 0; i < n && now_s() < deadline; i++) {
        pace(o, &next);
        if (hold_one(lane, i, o->uid_base + (uint32_t)lane, &h[k], &started[from + k]) == 0)
            k++;
        else
            bad++;
    }
    __atomic_add_fetch(&sh->n_fail, bad, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&sh->n_held, k, __ATOMIC_SEQ_CST);
    if (write(ready_fd, "r", 1) != 1 || read(kill_fd, &c, 1) < 0)
        _exit(2);
    _exit(end_held(h, k, lane, sh) < 0 ? 1 : 0);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double pct(const double *v, long n, double p)
{
    long i = (long)(p / 100.0 * (double)(n - 1) + 0.5);

    return n ? v[i < n ? i : n - 1] : 0.0;
}

/* The figures of the lanes' filled slots (each lane's slots are a
 * contiguous range, filled from its start). */
static long compact(double *v, const long *from, const long *filled, long lanes)
{
    long k = 0;

    for (long l = 0; l < lanes; l++)
        for (long i = 0; i < filled[l]; i++)
            v[k++] = v[from[l] + i];
    return k;
}

static void usage(void)
{
    fprintf(stderr, "usage: jobcell-limit --rootfs DIR [--lanes N] [--count M] [--warmup W] "
                    "[--max-seconds S] [--program PATH] [--policy-dir DIR] [--cgroup-name NAME] "
                    "[--uid-base UID] [--print-output] [--hold [--rate R] [--hold-seconds S]] "
                    "[-- PROGRAM ARGS...]\n");
    exit(2);
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        {"rootfs", 1, NULL, 'r'}, {"lanes", 1, NULL, 'l'}, {"count", 1, NULL, 'n'},
        {"warmup", 1, NULL, 'w'}, {"max-seconds", 1, NULL, 't'}, {"program", 1, NULL, 'p'},
        {"policy-dir", 1, NULL, 'P'}, {"cgroup-name", 1, NULL, 'c'}, {"uid-base", 1, NULL, 'u'},
        {"print-output", 0, NULL, 'o'}, {"hold", 0, NULL, 'H'}, {"rate", 1, NULL, 'R'},
        {"hold-seconds", 1, NULL, 'S'}, {NULL, 0, NULL, 0},
    };
    int c;

    static char *noop[] = {(char *)"/usr/bin/jc-noop", NULL};
    *o = (struct opts){.argv = noop, .policy_dir = JC_BUILD_POLICY_DIR,
                       .lanes = 1, .count = 500, .warmup = 20, .max_s = 60, .uid_base = 1900000,
                       .hold_s = 1};
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'r': o->rootfs = optarg; break;
        case 'l': o->lanes = atol(optarg); break;
        case 'n': o->count = atol(optarg); break;
        case 'w': o->warmup = atol(optarg); break;
        case 't': o->max_s = atof(optarg); break;
        case 'p': noop[0] = optarg; break;
        case 'o': o->print_output = 1; break;
        case 'H': o->hold = 1; break;
        case 'R': o->rate = atof(optarg); break;
        case 'S': o->hold_s = atof(optarg); break;
        case 'P': o->policy_dir = optarg; break;
        case 'c': o->cg_name = optarg; break;
        case 'u': o->uid_base = (uint32_t)strtoul(optarg, NULL, 10); break;
        default: usage();
        }
    }
    if (!o->rootfs || o->rootfs[0] != '/' || o->lanes < 1 || o->lanes > MAX_LANES || o->count < 1 ||
        o->count > 1000000 || o->warmup < 0 || o->max_s <= 0 || o->rate < 0 || o->hold_s < 0 ||
        argc - optind > 14)
        usage();
    if (optind < argc)
        o->argv = argv + optind;
}

static int setup(const struct opts *o, struct jc_policy_set *pols, struct jc_err *err)
{
    char name[64];
    struct jc_limits max;

    if (geteuid() != 0)
        return jc_fail(err, 0, "must run as root");
    jc_limits_builtin(&g_cg.lim, &max); /* jobcelld's default limits (task.c) */
    if (policy_load_dir(o->policy_dir, pols, err) < 0 || plan_init(&g_plan, o, pols, err) < 0)
        return -1;
    /* What the warden's spawning thread does once (sandbox.c
     * keep_caps_across_euid): capabilities survive the euid switch. */
    int bits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
    if (bits < 0 || prctl(PR_SET_SECUREBITS, bits | SECBIT_NO_SETUID_FIXUP, 0, 0, 0) < 0)
        return jc_fail(err, errno, "PR_SET_SECUREBITS");
    snprintf(name, sizeof name, "%s", o->cg_name ? o->cg_name : "");
    if (!o->cg_name)
        snprintf(name, sizeof name, "jobcell-limit-%d", (int)getpid());
    /* What the warden does once at start-up (sandbox_env_init). */
    if (devdir_prepare(name, g_plan.dev_src, err) < 0)
        return -1;
    snprintf(g_plan.mask_null, sizeof g_plan.mask_null, "%s/null", g_plan.dev_src);
    return cg_init_bases(name, err) < 0 ? -1 : cg_ceilings(err);
}

static void report(const struct opts *o, double *lat, double *started, long n, long fails, double wall)
{
    qsort(lat, (size_t)n, sizeof *lat, cmp_double);
    qsort(started, (size_t)n, sizeof *started, cmp_double);
    printf("n=%ld fail=%ld p50_ms=%.3f p95_ms=%.3f p99_ms=%.3f max_ms=%.3f rate=%.1f "
           "started_p50_ms=%.3f started_p99_ms=%.3f lanes=%ld cgroup=%s\n",
           n, fails, pct(lat, n, 50) * 1e3, pct(lat, n, 95) * 1e3, pct(lat, n, 99) * 1e3,
           n ? lat[n - 1] * 1e3 : 0.0, wall > 0 ? (double)n / wall : 0.0, pct(started, n, 50) * 1e3,
           pct(started, n, 99) * 1e3, o->lanes, g_cg.v2 ? "v2" : "v1");
}

/* --hold: the start figures (mkdir -> STARTED) and the cancel's: seconds
 * from the kill to every task reaped, and to every cgroup removed. */
static void report_hold(const struct opts *o, double *started, long n, long fails, double wall,
                        const struct shared *sh)
{
    double reaped = 0, removed = 0;

    for (long l = 0; l < o->lanes; l++) {
        reaped = sh->t_reaped[l] - sh->t_kill > reaped ? sh->t_reaped[l] - sh->t_kill : reaped;
        removed = sh->t_removed[l] - sh->t_kill > removed ? sh->t_removed[l] - sh->t_kill : removed;
    }
    qsort(started, (size_t)n, sizeof *started, cmp_double);
    printf("hold n=%ld fail=%ld rate=%.1f started_p50_ms=%.3f started_p99_ms=%.3f "
           "cancel_reaped_s=%.2f cancel_removed_s=%.2f lanes=%ld cgroup=%s\n",
           n, fails, wall > 0 ? (double)n / wall : 0.0, pct(started, n, 50) * 1e3,
           pct(started, n, 99) * 1e3, reaped, removed, o->lanes, g_cg.v2 ? "v2" : "v1");
}

static long warm_up(const struct opts *o)
{
    double a, b;
    long bad = 0;

    for (long i = 0; i < o->warmup; i++)
        bad += spawn_one(MAX_LANES, i, o->uid_base, &a, &b) < 0;
    return bad;
}

/* --hold, once every lane has started its tasks: say so, wait
 * --hold-seconds, release the kill.  sh->t_end: the seconds the start took. */
static void hold_phase(const struct opts *o, int ready[2], int kill_p[2], double t0, struct shared *sh)
{
    char c;

    close(ready[1]);
    close(kill_p[0]);
    for (long l = 0; l < o->lanes && read(ready[0], &c, 1) == 1; l++)
        ;
    close(ready[0]);
    sh->t_end = now_s() - t0;
    printf("held n=%ld fail=%ld submit_s=%.1f\n", sh->n_held, sh->n_fail, sh->t_end);
    fflush(stdout);
    sleep_until(now_s() + o->hold_s);
    sh->t_kill = now_s();
    close(kill_p[1]); /* every lane kills its tasks on this EOF */
}

/* Fork the lanes, release them together, wait for them: the seconds
 * they took (with --hold: the seconds their tasks took to start). */
static double fork_lanes(const struct opts *o, const long *from, const long *per, double *lat,
                         double *started, struct shared *sh)
{
    pid_t pids[MAX_LANES];
    int go[2], ready[2], kill_p[2];
    double deadline = now_s() + o->max_s, t0;

    if (pipe2(go, O_CLOEXEC) < 0 || pipe2(ready, O_CLOEXEC) < 0 || pipe2(kill_p, O_CLOEXEC) < 0)
        return -1;
    for (long l = 0; l < o->lanes; l++) {
        if ((pids[l] = fork()) < 0)
            return -1;
        if (pids[l] != 0)
            continue;
        close(go[1]);
        close(kill_p[1]);
        close(ready[0]);
        if (o->hold) /* the figure is mkdir -> STARTED, kept in both arrays */
            hold_lane(o, l, from[l], per[l], deadline, go[0], ready[1], kill_p[0], lat, sh);
        lane_main(o, l, from[l], per[l], deadline, go[0], lat, started, sh);
    }
    close(go[0]);
    t0 = now_s();
    close(go[1]); /* every lane starts on this EOF */
    if (o->hold)
        hold_phase(o, ready, kill_p, t0, sh);
    else
        for (int i = 0; i < 2; i++) {
            close(ready[i]);
            close(kill_p[i]);
        }
    for (long l = 0; l < o->lanes; l++) {
        int st;
        if (waitpid(pids[l], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            sh->n_fail++;
    }
    return o->hold ? sh->t_end : now_s() - t0;
}

/* The figures of every finished spawn, packed at the start of lat and
 * started; how many. */
static long run_lanes(const struct opts *o, double *lat, double *started, struct shared *sh)
{
    long from[MAX_LANES], per[MAX_LANES], filled[MAX_LANES];

    for (long l = 0, at = 0; l < o->lanes; l++) {
        per[l] = o->count / o->lanes + (l < o->count % o->lanes);
        from[l] = at;
        at += per[l];
    }
    sh->t_end = fork_lanes(o, from, per, lat, started, sh);
    if (sh->t_end < 0)
        return -1;
    /* Each lane filled its slots from its start (a latency is > 0). */
    for (long l = 0; l < o->lanes; l++)
        for (filled[l] = 0; filled[l] < per[l] && lat[from[l] + filled[l]] > 0;)
            filled[l]++;
    compact(started, from, filled, o->lanes);
    return compact(lat, from, filled, o->lanes);
}

int main(int argc, char **argv)
{
    struct opts o;
    struct jc_policy_set pols = {0};
    struct jc_err err = {0};

    parse_opts(argc, argv, &o);
    if (setup(&o, &pols, &err) < 0) {
        fprintf(stderr, "limit: %s\n", err.msg);
        cg_fini();
        devdir_remove(g_plan.dev_src);
        return 1;
    }
    size_t bytes = (size_t)o.count * 2 * sizeof(double) + sizeof(struct shared);
    double *lat = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (lat == MAP_FAILED) {
        perror("limit: mmap");
        cg_fini();
        devdir_remove(g_plan.dev_src);
        return 1;
    }
    double *started = lat + o.count;
    struct shared *sh = (struct shared *)(started + o.count);
    long wfail = warm_up(&o);
    long n = run_lanes(&o, lat, started, sh);
    if (n < 0)
        perror("limit: lanes");
    else if (o.hold)
        report_hold(&o, lat, n, sh->n_fail + wfail, sh->t_end, sh);
    else
        report(&o, lat, started, n, sh->n_fail + wfail, sh->t_end);
    cg_fini();
    devdir_remove(g_plan.dev_src);
    policy_set_free(&pols);
    return n < 0 || sh->n_fail + wfail > 0 ? 1 : 0;
}
