/* sandbox_steps.c — what each isolation step of issue 7 costs, in the kernel,
 * next to what it replaced, in one run with the variants interleaved.
 *
 *     cc -O2 -o /tmp/sandbox_steps bench/sandbox_steps.c
 *     sudo /tmp/sandbox_steps ROOTFS [N]      (N rounds, default 1000)
 *
 * Each round clones one child per variant into new user, mount and pid
 * namespaces (the parent writes "0 <uid> 1" maps, as the warden does), and
 * the child times, with CLOCK_MONOTONIC, each mount step of src/child.c:
 *   root: bind + read-only remount of ROOTFS (before)  |  empty tmpfs +
 *         read-only overlay "lowerdir=.:tmp" (after)
 *   proc: mount proc; user-limits: the 12 /proc/sys/user/max_* writes;
 *   trim: Docker's read-only and masked /proc entries present here
 * and the parent times the clone itself (user+mnt+pid namespaces) as root
 * and with its euid switched to the task uid (two raw setresuid calls
 * around it).  Prints the median and p90 of each, in microseconds.  A benchmark, not a test; it needs root and
 * changes nothing outside the namespaces it creates. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { S_CLONE_ROOT, S_CLONE_EUID, S_BIND, S_OVERLAY, S_PROC, S_LIMITS, S_TRIM, S_MAX };
static const char *const names[S_MAX] = {
    "clone, euid 0 (before)", "clone, euid = task uid (after)", "rootfs bind + ro (before)",
    "rootfs tmpfs + overlay (after)", "mount /proc", "write 12 user-ns limits", "trim /proc (after)",
};
static const char *const limits[] = {
    "max_inotify_instances", "max_inotify_watches", "max_fanotify_groups", "max_fanotify_marks",
    "max_user_namespaces", "max_pid_namespaces", "max_net_namespaces", "max_mnt_namespaces",
    "max_uts_namespaces", "max_ipc_namespaces", "max_cgroup_namespaces", "max_time_namespaces",
};
static const char *const ro[] = {"bus", "fs", "irq", "sys", "sysrq-trigger"};
static const char *const masked[] = {"acpi", "asound", "interrupts", "kcore", "keys",
                                     "latency_stats", "timer_list", "timer_stats",
                                     "sched_debug", "scsi", "cmdline"};

static const char *rootfs;
static int overlay_variant;
static int sync_rd, res_wr;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void die(const char *what)
{
    perror(what);
    _exit(1);
}

/* As src/child.c: paths relative to the rootfs, our cwd by then. */
static void in_proc(char *buf, size_t len, const char *fmt, const char *name)
{
    char rel[128];
    snprintf(rel, sizeof rel, fmt, name);
    snprintf(buf, len, "proc/%s", rel);
}

static void trim_proc(void)
{
    char p[4096];
    struct stat st;

    for (size_t i = 0; i < sizeof ro / sizeof ro[0]; i++) {
        in_proc(p, sizeof p, "%s", ro[i]);
        if (lstat(p, &st) < 0)
            continue;
        if (mount(p, p, NULL, MS_BIND, NULL) < 0 ||
            mount(NULL, p, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
            die(p);
    }
    for (size_t i = 0; i < sizeof masked / sizeof masked[0]; i++) {
        in_proc(p, sizeof p, "%s", masked[i]);
        if (lstat(p, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode) ? mount("tmpfs", p, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                                        "size=4k,nr_inodes=1,mode=555")
                                : mount("/dev/null", p, NULL, MS_BIND, NULL))
            die(p);
    }
}

static int child(void *arg)
{
    double t[S_MAX] = {0}, t0;
    char c, p[4096], tmp[4096];

    (void)arg;
    if (read(sync_rd, &c, 1) != 1 || setresgid(0, 0, 0) || setresuid(0, 0, 0))
        die("child set-up");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        die("private");
    snprintf(tmp, sizeof tmp, "%s/tmp", rootfs);
    t0 = now_us();
    if (overlay_variant) {
        if (mount("jobcell", tmp, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  "size=4k,nr_inodes=1,mode=555") < 0 || chdir(rootfs) < 0 ||
            mount("jobcell", rootfs, "overlay", MS_RDONLY | MS_NOSUID | MS_NODEV, "lowerdir=.:tmp") < 0)
            die("overlay");
        t[S_OVERLAY] = now_us() - t0;
    } else {
        if (mount(rootfs, rootfs, NULL, MS_BIND, NULL) < 0 ||
            mount(NULL, rootfs, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_RELATIME, NULL) < 0)
            die("bind");
        t[S_BIND] = now_us() - t0;
    }
    if (chdir(rootfs) < 0)
        die("chdir");
    snprintf(p, sizeof p, "%s/proc", rootfs);
    t0 = now_us();
    if (mount("proc", p, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        die("proc");
    t[S_PROC] = now_us() - t0;
    if (overlay_variant) {
        t0 = now_us();
        for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
            in_proc(p, sizeof p, "sys/user/%s", limits[i]);
            int fd = open(p, O_WRONLY | O_CLOEXEC);
            if (fd < 0 || write(fd, "0", 1) != 1)
                die(p);
            close(fd);
        }
        t[S_LIMITS] = now_us() - t0;
        t0 = now_us();
        trim_proc();
        t[S_TRIM] = now_us() - t0;
    }
    if (write(res_wr, t, sizeof t) != sizeof t)
        die("write");
    _exit(0);
}

static void write_map(pid_t pid, const char *file, unsigned id)
{
    char path[64], line[64];
    snprintf(path, sizeof path, "/proc/%d/%s", pid, file);
    int fd = open(path, O_WRONLY), n = snprintf(line, sizeof line, "0 %u 1\n", id);
    if (fd < 0 || write(fd, line, (size_t)n) != n)
        die(path);
    close(fd);
}

static char stack[1 << 16] __attribute__((aligned(16)));

/* One child of one variant; fills t[]. */
static void one(int overlay, int switch_euid, double *t)
{
    int s[2], r[2];
    unsigned uid = 2100000000u;

    if (pipe2(s, O_CLOEXEC) || pipe2(r, O_CLOEXEC))
        die("pipe");
    sync_rd = s[0], res_wr = r[1], overlay_variant = overlay;
    double t0 = now_us();
    if (switch_euid && syscall(SYS_setresuid, -1, uid, -1) < 0)
        die("setresuid");
    pid_t pid = clone(child, stack + sizeof stack, CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | SIGCHLD, NULL);
    if (switch_euid && syscall(SYS_setresuid, -1, 0, -1) < 0)
        die("setresuid back");
    double tc = now_us() - t0;
    if (pid < 0)
        die("clone");
    write_map(pid, "uid_map", uid);
    write_map(pid, "gid_map", uid);
    if (write(s[1], "g", 1) != 1 || read(r[0], t, sizeof(double) * S_MAX) != (ssize_t)(sizeof(double) * S_MAX))
        die("child");
    t[switch_euid ? S_CLONE_EUID : S_CLONE_ROOT] = tc;
    waitpid(pid, NULL, 0);
    close(s[0]), close(s[1]), close(r[0]), close(r[1]);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    static double v[S_MAX][100000];
    int n = argc > 2 ? atoi(argv[2]) : 1000, k[S_MAX] = {0};
    double t[S_MAX];

    if (argc < 2 || n < 10 || n > 100000)
        return fprintf(stderr, "usage: %s ROOTFS [N]\n", argv[0]), 2;
    rootfs = argv[1];
    /* SECBIT_NO_SETUID_FIXUP, as the warden: caps stay across the euid switch. */
    if (prctl(PR_SET_SECUREBITS, 1 << 2, 0, 0, 0) < 0)
        die("securebits");
    for (int i = 0; i < n; i++)
        for (int variant = 0; variant < 2; variant++) {
            memset(t, 0, sizeof t);
            one(variant, variant, t);
            for (int s = 0; s < S_MAX; s++)
                if (t[s] > 0)
                    v[s][k[s]++] = t[s];
        }
    printf("%-34s %10s %10s (n=%d rounds, us)\n", "step", "median", "p90", n);
    for (int s = 0; s < S_MAX; s++) {
        qsort(v[s], (size_t)k[s], sizeof(double), cmp);
        printf("%-34s %10.1f %10.1f\n", names[s], v[s][k[s] / 2], v[s][k[s] * 9 / 10]);
    }
    return 0;
}
