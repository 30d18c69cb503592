/* cheaper_steps.c — what each step that issue 10 made cheaper costs, before
 * and after, in one run with the variants interleaved (sandbox_steps.c's
 * method).
 *
 *     sudo build/bench/jobcell-cheaper-steps ROOTFS [N [BYTES]]
 *     (N rounds, default 1000; BYTES: the trimmed SPAWN, default 1585, sh -c "echo hi";
 *     or cc -O2 -o /tmp/cheaper_steps bench/cheaper_steps.c)
 *
 * Per round, timed with CLOCK_MONOTONIC:
 *   /dev      in a child in new user, mount and pid namespaces (maps
 *             "0 <uid> 1"): a 64k tmpfs + 5 files + 5 host nodes bound + 4
 *             symlinks + read-only remount (before) | one recursive bind of a
 *             /dev prepared once (a read-only tmpfs holding the 5 host
 *             nodes, bound, and the 4 symlinks) + read-only remount
 *             (after): src/child.c mount_dev
 *   mask      in the same child, one masked /proc directory (ROOTFS/proc
 *             stands for it): an empty read-only tmpfs of its own (before) |
 *             a bind of the overlay's empty layer, through /proc/self/fd of
 *             an O_PATH descriptor of its root (after): src/child.c
 *             trim_proc_entry; the mount alone, and, in the parent, the
 *             child's exit (read of its times → waitpid: its namespaces
 *             and mounts torn down, the superblocks with them); the mask's
 *             variant alternates with the /dev's every other round, so
 *             each exit figure has as many of either /dev
 *   caps      in the same child: the PR_CAPBSET_DROP of every capability
 *             (0..cap_last_cap), and the whole drop_caps() (securebits,
 *             bounding set, ambient, capset)
 *   cgroup v1 the parent's mkdirs and limit writes of one task cgroup
 *             (memory, pids, cpu, cpuacct) and its CPU limit, with
 *             memory.swappiness and cpu.cfs_period_us written (before) or
 *             not (after), then rmdir (not timed); skipped on cgroup v2
 *   spawn msg one SPAWN over a SOCK_SEQPACKET socketpair, sendmsg +
 *             recvmsg into a full-size buffer: the fixed 33 KB message
 *             (before) and the prefix a task with a short argv needs (after)
 *   front     the front's SPAWN buffer per spawn: calloc of the whole union
 *             and a copy of the spec's used bytes (before) | malloc, the
 *             header zeroed, the same copy (after); x100, divided back
 * Prints the median and p90 of each, in microseconds.  A benchmark, not a
 * test; it needs root and changes nothing outside its own namespaces and
 * cgroups (removed as it goes). */
#ifndef _GNU_SOURCE /* meson defines it */
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { S_DEV_OLD, S_DEV_NEW, S_MASK_OLD, S_MASK_NEW, S_EXIT_OLD, S_EXIT_NEW, S_CAPBSET, S_DROPCAPS, S_CG_OLD, S_CG_NEW, S_MSG_OLD,
       S_MSG_NEW, S_BUF_OLD, S_BUF_NEW, S_MAX };
static const char *const names[S_MAX] = {
    "/dev: tmpfs+5 binds+4 links (before)", "/dev: prepared, rbind+ro (after)",
    "masked dir: own tmpfs (before)", "masked dir: layer bound (after)",
    "child exit, its mask a tmpfs (before)", "child exit, its mask bound (after)",
    "PR_CAPBSET_DROP x (last_cap+1)", "drop_caps() whole",
    "v1 cgroup mkdir+writes (before)", "v1 cgroup mkdir+writes (after)",
    "SPAWN msg 33 KB send+recv (before)", "SPAWN msg trimmed send+recv (after)",
    "front: calloc 34 KB + copy (before)", "front: malloc + copy (after)",
};
static const char *const dev_names[5] = {"null", "zero", "full", "random", "urandom"};
static const char *const links[4][2] = {
    {"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"},
    {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"},
};

static const char *rootfs;
static char prepared[] = "/tmp/jc-cheaper-dev.XXXXXX";
static int sync_rd, res_wr, dev_variant, mask_variant, last_cap;

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

/* The prepared /dev, as the warden makes it (src/devdir.c), in this
 * process's own mount namespace: the host's nodes bound onto empty files
 * (no CAP_MKNOD needed: systemd's PrivateDevices=yes drops it), 4 links,
 * the tmpfs read-only. */
static void prepare_dev(void)
{
    char p[4096], host[64];

    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0 || !mkdtemp(prepared) ||
        mount("jobcell-dev", prepared, "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,nr_inodes=64,mode=755") < 0)
        die("prepare /dev");
    for (int i = 0; i < 5; i++) {
        snprintf(host, sizeof host, "/dev/%s", dev_names[i]);
        snprintf(p, sizeof p, "%s/%s", prepared, dev_names[i]);
        int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
        if (fd < 0 || close(fd) < 0 || mount(host, p, NULL, MS_BIND, NULL) < 0)
            die(p);
    }
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", prepared, links[i][1]);
        if (symlink(links[i][0], p) < 0)
            die(p);
    }
    if (mount(NULL, prepared, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL) < 0)
        die("remount prepared /dev");
}

static void dev_old(const char *dev)
{
    char p[4200];

    if (mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,nr_inodes=64,mode=755") < 0)
        die("tmpfs");
    for (int i = 0; i < 5; i++) {
        char host[64];
        snprintf(p, sizeof p, "%s/%s", dev, dev_names[i]);
        snprintf(host, sizeof host, "/dev/%s", dev_names[i]);
        int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0666);
        if (fd < 0 || mount(host, p, NULL, MS_BIND, NULL) < 0)
            die(p);
        close(fd);
    }
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dev, links[i][1]);
        if (symlink(links[i][0], p) < 0)
            die(p);
    }
    if (mount(NULL, dev, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL) < 0)
        die("ro");
}

static void dev_new(const char *dev)
{
    if (mount(prepared, dev, NULL, MS_BIND | MS_REC, NULL) < 0 ||
        mount(NULL, dev, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL) < 0)
        die("bind prepared /dev");
}

#define EMPTY_RO (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
#define EMPTY_OPTS "size=4k,nr_inodes=1,mode=555"

static void mask_dir(double *t)
{
    char tmp[4000], at[4000], src[64];
    double t0;

    snprintf(tmp, sizeof tmp, "%s/tmp", rootfs);
    snprintf(at, sizeof at, "%s/proc", rootfs);
    int layer = mount("jobcell", tmp, "tmpfs", EMPTY_RO, EMPTY_OPTS) < 0
                    ? -1
                    : open(tmp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (layer < 0)
        die("the overlay's layer");
    snprintf(src, sizeof src, "/proc/self/fd/%d", layer);
    t0 = now_us();
    if ((mask_variant ? mount(src, at, NULL, MS_BIND, NULL) : mount("tmpfs", at, "tmpfs", EMPTY_RO, EMPTY_OPTS)) < 0)
        die("mask");
    t[mask_variant ? S_MASK_NEW : S_MASK_OLD] = now_us() - t0;
    close(layer);
}

static void drop_caps(double *t)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    double t0 = now_us(), t1;

    if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                                     SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED, 0, 0, 0) < 0)
        die("securebits");
    t1 = now_us();
    for (int cap = 0; cap <= last_cap; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
            die("capbset");
    t[S_CAPBSET] = now_us() - t1;
    memset(data, 0, sizeof data);
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 || syscall(SYS_capset, &hdr, data) < 0)
        die("capset");
    t[S_DROPCAPS] = now_us() - t0;
}

static int child(void *arg)
{
    double t[S_MAX] = {0}, t0;
    char c, dev[4000];

    (void)arg;
    if (read(sync_rd, &c, 1) != 1 || syscall(SYS_setresgid, 0, 0, 0) || syscall(SYS_setresuid, 0, 0, 0))
        die("child set-up");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        die("private");
    snprintf(dev, sizeof dev, "%s/dev", rootfs);
    t0 = now_us();
    if (dev_variant)
        dev_new(dev);
    else
        dev_old(dev);
    t[dev_variant ? S_DEV_NEW : S_DEV_OLD] = now_us() - t0;
    mask_dir(t);
    drop_caps(t);
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

static void one_child(int variant, int mask, double *t)
{
    int s[2], r[2];
    unsigned uid = 2100000000u;

    if (pipe2(s, O_CLOEXEC) || pipe2(r, O_CLOEXEC))
        die("pipe");
    sync_rd = s[0], res_wr = r[1], dev_variant = variant, mask_variant = mask;
    pid_t pid = clone(child, stack + sizeof stack, CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | SIGCHLD, NULL);
    if (pid < 0)
        die("clone");
    write_map(pid, "uid_map", uid);
    write_map(pid, "gid_map", uid);
    if (write(s[1], "g", 1) != 1 || read(r[0], t, sizeof(double) * S_MAX) != (ssize_t)(sizeof(double) * S_MAX))
        die("child");
    double t0 = now_us();
    waitpid(pid, NULL, 0);
    t[mask ? S_EXIT_NEW : S_EXIT_OLD] = now_us() - t0;
    close(s[0]), close(s[1]), close(r[0]), close(r[1]);
}

/* ---- cgroup v1 ---------------------------------------------------------- */

static const char *const v1[4] = {"memory", "pids", "cpu", "cpuacct"};
static int have_v1;

static void cg_put(const char *dir, const char *file, const char *v, int must)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    int fd = open(p, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if ((fd < 0 || write(fd, v, strlen(v)) != (ssize_t)strlen(v)) && must)
        die(p);
    if (fd >= 0)
        close(fd);
}

static void cg_base(int make)
{
    char d[256];
    for (int i = 0; i < 4; i++) {
        snprintf(d, sizeof d, "/sys/fs/cgroup/%s/jc-cheaper-bench", v1[i]);
        if (make ? mkdir(d, 0755) < 0 && errno != EEXIST : rmdir(d) < 0)
            die(d);
    }
    if (make) /* the after variant: inherited from here */
        cg_put("/sys/fs/cgroup/memory/jc-cheaper-bench", "memory.swappiness", "0", 0);
}

static double cg_one(int before, int round)
{
    char d[4][256];
    double t0 = now_us(), t;

    for (int i = 0; i < 4; i++) {
        snprintf(d[i], sizeof d[i], "/sys/fs/cgroup/%s/jc-cheaper-bench/t%d", v1[i], round);
        if (mkdir(d[i], 0755) < 0)
            die(d[i]);
    }
    cg_put(d[0], "memory.limit_in_bytes", "268435456", 1);
    cg_put(d[0], "memory.memsw.limit_in_bytes", "268435456", 0);
    if (before)
        cg_put(d[0], "memory.swappiness", "0", 0);
    cg_put(d[1], "pids.max", "64", 1);
    if (before)
        cg_put(d[2], "cpu.cfs_period_us", "100000", 1);
    cg_put(d[2], "cpu.cfs_quota_us", "100000", 1);
    t = now_us() - t0;
    for (int i = 0; i < 4; i++)
        if (rmdir(d[i]) < 0)
            die(d[i]);
    return t;
}

/* ---- the spawn message --------------------------------------------------- */

#define FULL_MSG 34328 /* sizeof(struct ipc_spawn) on x86-64 before issue 10 */
static size_t short_msg;
static int sp[2];

static double msg_one(size_t len)
{
    static char out[FULL_MSG], in[FULL_MSG + 64];
    double t0 = now_us();

    if (send(sp[0], out, len, MSG_NOSIGNAL) != (ssize_t)len || recv(sp[1], in, sizeof in, MSG_TRUNC) != (ssize_t)len)
        die("seqpacket");
    return now_us() - t0;
}

static double buf_one(int before)
{
    static char spec[1600];
    double t0 = now_us();

    for (int i = 0; i < 100; i++) {
        char *m = before ? calloc(1, FULL_MSG) : malloc(FULL_MSG);
        if (!m)
            die("malloc");
        if (!before)
            memset(m, 0, 64);
        memcpy(m + 64, spec, short_msg - 64);
        __asm__ volatile("" : : "r"(m) : "memory");
        free(m);
    }
    return (now_us() - t0) / 100;
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
    FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");

    if (argc < 2 || n < 10 || n > 100000 || !f || fscanf(f, "%d", &last_cap) != 1)
        return fprintf(stderr, "usage: %s ROOTFS [N]\n", argv[0]), 2;
    fclose(f);
    rootfs = argv[1];
    short_msg = argc > 3 ? (size_t)atol(argv[3]) : 1585;
    prepare_dev();
    have_v1 = access("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK) == 0;
    if (have_v1)
        cg_base(1);
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
        die("socketpair");
    int buf = 4 << 20;
    (void)setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    for (int i = 0; i < n; i++)
        for (int variant = 0; variant < 2; variant++) {
            memset(t, 0, sizeof t);
            one_child(variant, variant ^ (i & 1), t);
            if (have_v1)
                t[variant ? S_CG_NEW : S_CG_OLD] = cg_one(!variant, i);
            t[variant ? S_MSG_NEW : S_MSG_OLD] = msg_one(variant ? short_msg : FULL_MSG);
            t[variant ? S_BUF_NEW : S_BUF_OLD] = buf_one(!variant);
            for (int s = 0; s < S_MAX; s++)
                if (t[s] > 0)
                    v[s][k[s]++] = t[s];
        }
    if (have_v1)
        cg_base(0);
    umount2(prepared, MNT_DETACH);
    rmdir(prepared);
    printf("%-40s %9s %9s (n=%d rounds, us; caps: last_cap %d)\n", "step", "median", "p90", n, last_cap);
    for (int s = 0; s < S_MAX; s++) {
        if (!k[s])
            continue;
        qsort(v[s], (size_t)k[s], sizeof(double), cmp);
        printf("%-40s %9.1f %9.1f\n", names[s], v[s][k[s] / 2], v[s][k[s] * 9 / 10]);
    }
    return 0;
}
