/* probe.c — jobcell-probe: tries ONE forbidden move from inside a task and
 * says whether the sandbox stopped it.
 *
 *     jobcell-probe MOVE [ARGS...]   one JSON line on stdout:
 *         {"move":"...","result":"blocked"|"ALLOWED"|"n/a"|"error","errno":N,
 *          "errname":"EPERM","detail":"..."}
 *       exit 0 when blocked (or n/a: allowed by design), 1 when ALLOWED,
 *       2 when the move could not be tried ("error") or on a usage error.
 *     jobcell-probe list             every move name, one per line
 *     jobcell-probe help             the moves with their arguments
 *     jobcell-probe hold-unix NAME SECS | hold-ipc KEY SECS | hold-tcp PORT SECS
 *                                    helpers for the cross-task tests: hold an
 *                                    abstract unix listener / SysV shm+msg+sem
 *                                    with KEY / a TCP listener on 127.0.0.1,
 *                                    print {"helper":...,"ready":true}, sleep.
 *     jobcell-probe hold-quotas SECS take as many inotify instances, POSIX
 *                                    message queues and queued real-time
 *                                    signals as the kernel gives, try a POSIX
 *                                    timer, print the counts, sleep.
 *     jobcell-probe hold-flock PATH SECS   flock(LOCK_EX) PATH, print, sleep.
 *     jobcell-probe try-flock PATH   flock(LOCK_EX|LOCK_NB) PATH, print.
 *     jobcell-probe watch-inotify PATH...  watch the PATHs, print ready; on
 *                                    SIGUSR1 print the events seen so far, then
 *                                    open each PATH itself (positive control)
 *                                    and print the events that caused.
 *
 * Runs in: a jobcell task (tests/security/test_security.py builds a test
 * rootfs with it in /usr/bin).  Never run it as root on a host: it really
 * tries the moves (though none of them writes anything harmful).
 *
 * Moves use raw syscall(2) numbers wherever a wrapper could hide what is
 * tried.  Static (musl), no linux/ headers (musl-tools ships none): the few
 * kernel constants needed are defined here. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/inotify.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <mqueue.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* ---- kernel constants musl does not carry ----------------------------- */
#define X32_SYSCALL_BIT 0x40000000L
#define NR_X32_UNSHARE 272 /* x32 shares the x86-64 number */
#define NR_I386_UNSHARE 310
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#define AF_VSOCK_ 40
#define KEYCTL_JOIN_SESSION_KEYRING 1
#define KEY_SPEC_PROCESS_KEYRING (-2)
#define OPEN_TREE_CLONE 1
#define PER_LINUX32_ 0x0008
#define ADDR_NO_RANDOMIZE_ 0x0040000
#define CAP_SYS_ADMIN_ 21
#define PR_CAP_AMBIENT_ 47
#define PR_CAP_AMBIENT_RAISE_ 2
#define LINUX_REBOOT_MAGIC1 0xfee1dead
#define LINUX_REBOOT_MAGIC2 672274793
#define LINUX_REBOOT_CMD_CAD_OFF 0
#define PTRACE_TRACEME_ 0
#define PTRACE_ATTACH_ 16
#define PTRACE_DETACH_ 17
#define SYSLOG_ACTION_READ_ALL 3

enum verdict { BLOCKED, ALLOWED, NA, ERROR };

struct res {
    enum verdict v;
    int err;
    char detail[400];
};

struct move {
    const char *name;
    void (*fn)(struct res *, int, char **);
    const char *args; /* for help */
    const char *what;
};

/* ---- output ------------------------------------------------------------ */

static const struct { int e; const char *n; } errnames[] = {
    {EPERM, "EPERM"}, {ENOENT, "ENOENT"}, {ESRCH, "ESRCH"}, {EINTR, "EINTR"},
    {EIO, "EIO"}, {ENXIO, "ENXIO"}, {E2BIG, "E2BIG"}, {ENOEXEC, "ENOEXEC"},
    {EBADF, "EBADF"}, {ECHILD, "ECHILD"}, {EAGAIN, "EAGAIN"}, {ENOMEM, "ENOMEM"},
    {EACCES, "EACCES"}, {EFAULT, "EFAULT"}, {EBUSY, "EBUSY"}, {EEXIST, "EEXIST"},
    {EXDEV, "EXDEV"}, {ENODEV, "ENODEV"}, {ENOTDIR, "ENOTDIR"}, {EISDIR, "EISDIR"},
    {EINVAL, "EINVAL"}, {ENFILE, "ENFILE"}, {EMFILE, "EMFILE"}, {ENOTTY, "ENOTTY"},
    {EFBIG, "EFBIG"}, {ENOSPC, "ENOSPC"}, {ESPIPE, "ESPIPE"}, {EROFS, "EROFS"},
    {EMLINK, "EMLINK"}, {EPIPE, "EPIPE"}, {ERANGE, "ERANGE"}, {ENOSYS, "ENOSYS"},
    {ELOOP, "ELOOP"}, {ENOTSOCK, "ENOTSOCK"}, {EPROTONOSUPPORT, "EPROTONOSUPPORT"},
    {EOPNOTSUPP, "EOPNOTSUPP"}, {EAFNOSUPPORT, "EAFNOSUPPORT"}, {EADDRINUSE, "EADDRINUSE"},
    {EADDRNOTAVAIL, "EADDRNOTAVAIL"}, {ENETUNREACH, "ENETUNREACH"},
    {ECONNRESET, "ECONNRESET"}, {ETIMEDOUT, "ETIMEDOUT"}, {ECONNREFUSED, "ECONNREFUSED"},
    {EHOSTUNREACH, "EHOSTUNREACH"}, {ENOTCONN, "ENOTCONN"}, {EOVERFLOW, "EOVERFLOW"},
    {ESOCKTNOSUPPORT, "ESOCKTNOSUPPORT"}, {ENOKEY, "ENOKEY"}, {EDQUOT, "EDQUOT"},
};

static const char *errname(int e)
{
    for (size_t i = 0; i < sizeof errnames / sizeof errnames[0]; i++)
        if (errnames[i].e == e)
            return errnames[i].n;
    return e ? "E?" : "0";
}

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static int report(const char *move, const struct res *r)
{
    static const char *const vnames[] = {"blocked", "ALLOWED", "n/a", "error"};

    printf("{\"move\":");
    json_str(move);
    printf(",\"result\":\"%s\",\"errno\":%d,\"errname\":\"%s\",\"detail\":", vnames[r->v],
           r->err, errname(r->err));
    json_str(r->detail);
    printf("}\n");
    fflush(stdout);
    return r->v == ALLOWED ? 1 : r->v == ERROR ? 2 : 0;
}

/* ---- verdict helpers ---------------------------------------------------- */

static void setd(struct res *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void setd(struct res *r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof r->detail, fmt, ap);
    va_end(ap);
}

/* The usual case: the move is one call that must fail. */
static void must_fail(struct res *r, long rc, const char *what)
{
    int e = errno;

    if (rc < 0) {
        r->v = BLOCKED;
        r->err = e;
        setd(r, "%s: %s", what, errname(e));
    } else {
        r->v = ALLOWED;
        r->err = 0;
        setd(r, "%s succeeded (returned %ld)", what, rc);
    }
}

static void allowed(struct res *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void allowed(struct res *r, const char *fmt, ...)
{
    va_list ap;

    r->v = ALLOWED;
    r->err = 0;
    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof r->detail, fmt, ap);
    va_end(ap);
}

/* The move could not even be tried (a set-up step failed). */
static void error(struct res *r, const char *what)
{
    r->v = ERROR;
    r->err = errno;
    setd(r, "could not try the move: %s: %s", what, errname(errno));
}

static long arg_long(int argc, char **argv, int i, long dflt)
{
    return argc > i ? strtol(argv[i], NULL, 0) : dflt;
}

/* Host-only paths: none exists in the task's rootfs (tests/security passes
 * more, e.g. the build tree and the daemon's state directory). */
static const char *const host_markers[] = {
    "/etc/shadow", "/work", "/usr/lib", "/usr/sbin", "/var", "/lib", "/boot", NULL,
};

/* The first host-only path visible under PREFIX, or NULL. */
static const char *host_visible(const char *prefix, int argc, char **argv, int from)
{
    static char path[512];
    struct stat st;

    for (int i = 0; host_markers[i]; i++) {
        snprintf(path, sizeof path, "%s%s", prefix, host_markers[i]);
        if (lstat(path, &st) == 0)
            return path;
    }
    for (int i = from; i < argc; i++) {
        snprintf(path, sizeof path, "%s%s", prefix, argv[i]);
        if (lstat(path, &st) == 0)
            return path;
    }
    return NULL;
}

/* Run fn in a forked child; the child's fate is the verdict: exit 0 = the
 * move worked, another exit code = the errno it got, a signal = killed. */
static void in_child(struct res *r, long (*fn)(void), const char *what)
{
    int status;
    pid_t pid = fork();

    if (pid == 0) {
        long rc = fn();
        _exit(rc == 0 ? 0 : (rc < 0 && -rc < 250 ? (int)-rc : 250));
    }
    if (pid < 0 || waitpid(pid, &status, 0) < 0) {
        error(r, "fork");
        return;
    }
    if (WIFSIGNALED(status)) {
        r->v = BLOCKED;
        setd(r, "%s: child killed by signal %d%s", what, WTERMSIG(status),
             WTERMSIG(status) == SIGSYS ? " (SIGSYS: seccomp)" : "");
    } else if (WEXITSTATUS(status) == 0) {
        allowed(r, "%s succeeded in the child", what);
    } else {
        r->v = BLOCKED;
        r->err = WEXITSTATUS(status);
        setd(r, "%s: child got %s", what, errname(r->err));
    }
}

/* ---- mounts and roots --------------------------------------------------- */

static void mv_mount(struct res *r, int argc, char **argv)
{
    mkdir("/tmp/x", 0755);
    must_fail(r, syscall(SYS_mount, "tmpfs", "/tmp/x", "tmpfs", 0L, "size=1m"),
              "mount tmpfs on /tmp/x");
}

static void mv_remount_rw(struct res *r, int argc, char **argv)
{
    must_fail(r, syscall(SYS_mount, NULL, "/", NULL, (long)(MS_REMOUNT | MS_BIND), NULL),
              "remount / read-write");
}

static void mv_mount_cgroup(struct res *r, int argc, char **argv)
{
    mkdir("/tmp/cg", 0755);
    must_fail(r, syscall(SYS_mount, "cgroup", "/tmp/cg", "cgroup", 0L, "none,name=x"),
              "mount a cgroup v1 hierarchy (release_agent escape)");
}

static void mv_umount_proc(struct res *r, int argc, char **argv)
{
    must_fail(r, syscall(SYS_umount2, "/proc", (long)MNT_DETACH), "umount2 /proc");
}

static void mv_pivot_root(struct res *r, int argc, char **argv)
{
    mkdir("/tmp/old", 0755);
    must_fail(r, syscall(SYS_pivot_root, "/tmp", "/tmp/old"), "pivot_root /tmp /tmp/old");
}

static void mv_fsopen(struct res *r, int argc, char **argv)
{
    must_fail(r, syscall(SYS_fsopen, "tmpfs", 0L), "fsopen tmpfs (new mount API)");
}

static void mv_open_tree(struct res *r, int argc, char **argv)
{
    must_fail(r, syscall(SYS_open_tree, AT_FDCWD, "/", (long)OPEN_TREE_CLONE),
              "open_tree(/, OPEN_TREE_CLONE)");
}

/* ARGS: more host-only paths to look for once out. */
static void mv_chroot_escape(struct res *r, int argc, char **argv)
{
    long rc;
    const char *seen;

    mkdir("/tmp/jail", 0755);
    rc = syscall(SYS_chroot, "/tmp/jail");
    must_fail(r, rc, "chroot /tmp/jail");
    for (int i = 0; i < 16; i++)
        (void)!chdir("..");
    (void)syscall(SYS_chroot, ".");
    if ((seen = host_visible("", argc, argv, 2)))
        allowed(r, "after chroot + chdir(..) x16 the host's %s is visible", seen);
}

static void mv_host_paths(struct res *r, int argc, char **argv)
{
    const char *seen = host_visible("", argc, argv, 2);

    if (seen) {
        allowed(r, "host path %s is visible", seen);
        return;
    }
    r->v = BLOCKED;
    r->err = ENOENT;
    setd(r, "no host-only path (/etc/shadow /work /usr/lib /var /lib /boot + %d given) exists",
         argc - 2);
}

static void mv_proc1_root(struct res *r, int argc, char **argv)
{
    const char *seen = host_visible("/proc/1/root", argc, argv, 2);

    if (seen) {
        allowed(r, "%s is visible through init's root", seen);
        return;
    }
    r->v = BLOCKED;
    r->err = ENOENT;
    setd(r, "/proc/1/root/etc/shadow, /proc/1/root/work, ...: ENOENT (init's root is the task's)");
}

static void mv_open_shadow(struct res *r, int argc, char **argv)
{
    must_fail(r, open("/etc/shadow", O_RDONLY | O_CLOEXEC), "open /etc/shadow");
}

static void mv_write_root(struct res *r, int argc, char **argv)
{
    long rc = open("/pwned", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

    must_fail(r, rc, "create /pwned");
    if (rc >= 0)
        unlink("/pwned");
}

static void mv_write_etc_passwd(struct res *r, int argc, char **argv)
{
    must_fail(r, open("/etc/passwd", O_WRONLY | O_APPEND | O_CLOEXEC), "open /etc/passwd for writing");
}

static void mv_write_sys(struct res *r, int argc, char **argv)
{
    struct stat st;

    if (stat("/sys/kernel", &st) == 0) {
        allowed(r, "%s exists: sysfs is mounted", "/sys/kernel");
        return;
    }
    must_fail(r, mkdir("/sys/pwned", 0755), "/sys/kernel absent; mkdir /sys/pwned");
}

/* ---- namespaces ----------------------------------------------------------- */

static void try_unshare(struct res *r, long flag, const char *what)
{
    must_fail(r, syscall(SYS_unshare, flag), what);
}

static void mv_unshare_user(struct res *r, int c, char **v) { try_unshare(r, CLONE_NEWUSER, "unshare(CLONE_NEWUSER)"); }
static void mv_unshare_mnt(struct res *r, int c, char **v) { try_unshare(r, CLONE_NEWNS, "unshare(CLONE_NEWNS)"); }
static void mv_unshare_net(struct res *r, int c, char **v) { try_unshare(r, CLONE_NEWNET, "unshare(CLONE_NEWNET)"); }
static void mv_unshare_pid(struct res *r, int c, char **v) { try_unshare(r, CLONE_NEWPID, "unshare(CLONE_NEWPID)"); }
static void mv_unshare_uts(struct res *r, int c, char **v) { try_unshare(r, CLONE_NEWUTS, "unshare(CLONE_NEWUTS)"); }
static void mv_unshare_ipc(struct res *r, int c, char **v) { try_unshare(r, CLONE_NEWIPC, "unshare(CLONE_NEWIPC)"); }
static void mv_unshare_cgroup(struct res *r, int c, char **v) { try_unshare(r, CLONE_NEWCGROUP, "unshare(CLONE_NEWCGROUP)"); }
static void mv_unshare_time(struct res *r, int c, char **v) { try_unshare(r, CLONE_NEWTIME, "unshare(CLONE_NEWTIME)"); }

/* setns into every namespace of PID; blocked if none can be entered. */
static void setns_all(struct res *r, long pid)
{
    static const char *const ns[] = {"user", "mnt", "net", "pid", "uts", "ipc", "cgroup", NULL};
    char path[64];
    int entered = 0, last = 0;

    for (int i = 0; ns[i]; i++) {
        snprintf(path, sizeof path, "/proc/%ld/ns/%s", pid, ns[i]);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        long rc = fd < 0 ? -1 : syscall(SYS_setns, fd, 0L);
        if (rc == 0)
            entered++;
        else
            last = errno;
        if (fd >= 0)
            close(fd);
    }
    if (entered) {
        allowed(r, "setns entered %d namespace(s) of pid %ld", entered, pid);
        return;
    }
    r->v = BLOCKED;
    r->err = last;
    setd(r, "setns into each of /proc/%ld/ns/{user,mnt,net,pid,uts,ipc,cgroup}: %s", pid,
         errname(last));
}

static void mv_setns_init_net(struct res *r, int argc, char **argv)
{
    int fd = open("/proc/1/ns/net", O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        must_fail(r, fd, "open /proc/1/ns/net");
        return;
    }
    must_fail(r, syscall(SYS_setns, fd, (long)CLONE_NEWNET), "setns(/proc/1/ns/net)");
}

static void mv_setns_pid(struct res *r, int argc, char **argv)
{
    setns_all(r, arg_long(argc, argv, 2, 1));
}

static void mv_setns_pidfd(struct res *r, int argc, char **argv)
{
    long pfd = syscall(SYS_pidfd_open, 1L, 0L);

    if (pfd < 0) {
        must_fail(r, pfd, "pidfd_open(1)");
        return;
    }
    must_fail(r, syscall(SYS_setns, pfd, (long)(CLONE_NEWNET | CLONE_NEWNS)),
              "setns(pidfd of init, NEWNET|NEWNS)");
}

static void try_clone(struct res *r, long flags, const char *what)
{
    long rc = syscall(SYS_clone, flags | SIGCHLD, 0L, 0L, 0L, 0L);

    if (rc == 0)
        _exit(0);
    if (rc > 0)
        waitpid((pid_t)rc, NULL, 0);
    must_fail(r, rc, what);
}

static void mv_clone_newuser(struct res *r, int c, char **v)
{
    try_clone(r, CLONE_NEWUSER, "clone(CLONE_NEWUSER)");
}

static void mv_clone_newns(struct res *r, int c, char **v)
{
    try_clone(r, CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID, "clone(CLONE_NEWNS|NEWNET|NEWPID)");
}

struct clone_args_ {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

static void mv_clone3(struct res *r, int argc, char **argv)
{
    struct clone_args_ a = {.flags = CLONE_NEWUSER, .exit_signal = SIGCHLD};
    long rc = syscall(SYS_clone3, &a, sizeof a);

    if (rc == 0)
        _exit(0);
    if (rc > 0)
        waitpid((pid_t)rc, NULL, 0);
    must_fail(r, rc, "clone3(CLONE_NEWUSER)");
}

/* ---- other processes ------------------------------------------------------ */

static void mv_ptrace_traceme(struct res *r, int argc, char **argv)
{
    must_fail(r, syscall(SYS_ptrace, (long)PTRACE_TRACEME_, 0L, 0L, 0L), "ptrace(PTRACE_TRACEME)");
}

static void attach(struct res *r, long pid)
{
    char what[64];
    long rc = syscall(SYS_ptrace, (long)PTRACE_ATTACH_, pid, 0L, 0L);

    snprintf(what, sizeof what, "ptrace(PTRACE_ATTACH, %ld)", pid);
    if (rc == 0)
        (void)syscall(SYS_ptrace, (long)PTRACE_DETACH_, pid, 0L, 0L);
    must_fail(r, rc, what);
}

static void mv_ptrace_init(struct res *r, int argc, char **argv) { attach(r, 1); }

static void mv_ptrace_host(struct res *r, int argc, char **argv)
{
    attach(r, arg_long(argc, argv, 2, 1));
}

/* An address that is mapped in pid 1, so EFAULT cannot pass for a block. */
static unsigned long init_text_addr(void)
{
    unsigned long a = 0x400000;
    FILE *f = fopen("/proc/1/maps", "r");

    if (f) {
        if (fscanf(f, "%lx", &a) != 1)
            a = 0x400000;
        fclose(f);
    }
    return a;
}

static void mv_process_vm_readv(struct res *r, int argc, char **argv)
{
    char buf[16];
    struct iovec local = {buf, sizeof buf};
    struct iovec remote = {(void *)init_text_addr(), sizeof buf};

    must_fail(r, syscall(SYS_process_vm_readv, 1L, &local, 1L, &remote, 1L, 0L),
              "process_vm_readv(pid 1)");
}

/* If it opens, prove it: read 16 bytes of init's text and write the same
 * bytes back (harmless, but it is a write into another process). */
static void mv_proc_init_mem(struct res *r, int argc, char **argv)
{
    unsigned char buf[16];
    unsigned long at = init_text_addr();
    long fd = open("/proc/1/mem", O_RDWR | O_CLOEXEC);

    must_fail(r, fd, "open /proc/1/mem read-write");
    if (fd < 0)
        return;
    if (pread((int)fd, buf, sizeof buf, (off_t)at) == (ssize_t)sizeof buf &&
        pwrite((int)fd, buf, sizeof buf, (off_t)at) == (ssize_t)sizeof buf)
        allowed(r, "opened /proc/1/mem read-write, read and rewrote 16 bytes of init's "
                   "text at 0x%lx: the task can run code as its init", at);
}

static void mv_init_status_fd(struct res *r, int argc, char **argv)
{
    long fd = open("/proc/1/fd/3", O_WRONLY | O_CLOEXEC);

    must_fail(r, fd, "open /proc/1/fd/3 (init's status pipe to the warden) for writing");
}

static void mv_pidfd_getfd(struct res *r, int argc, char **argv)
{
    long pfd = syscall(SYS_pidfd_open, 1L, 0L);

    if (pfd < 0) {
        must_fail(r, pfd, "pidfd_open(1)");
        return;
    }
    must_fail(r, syscall(SYS_pidfd_getfd, pfd, 3L, 0L), "pidfd_getfd(init, fd 3)");
}

/* Writes to its own text are allowed by design (FOLL_FORCE): n/a.  The byte
 * written is the one already there. */
static void mv_proc_self_mem(struct res *r, int argc, char **argv)
{
    unsigned char *p = (unsigned char *)(uintptr_t)&mv_proc_self_mem;
    unsigned char b = *p;
    int fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
    long rc = fd < 0 ? -1 : pwrite(fd, &b, 1, (off_t)(uintptr_t)p);

    must_fail(r, rc, "write own text through /proc/self/mem");
    if (r->v == ALLOWED) {
        r->v = NA;
        setd(r, "allowed by design: a process may write its own memory (no other process is reachable)");
    }
}

static void mv_kill_all(struct res *r, int argc, char **argv)
{
    long rc = syscall(SYS_kill, -1L, (long)SIGKILL);

    must_fail(r, rc, "kill(-1, SIGKILL) with no other process of the task alive");
}

static void mv_kill_host(struct res *r, int argc, char **argv)
{
    char what[64];
    long pid = arg_long(argc, argv, 2, 1);

    snprintf(what, sizeof what, "kill(%ld, SIGKILL)", pid);
    must_fail(r, syscall(SYS_kill, pid, (long)SIGKILL), what);
}

static void mv_pidfd_open_host(struct res *r, int argc, char **argv)
{
    char what[64];
    long pid = arg_long(argc, argv, 2, 1);

    snprintf(what, sizeof what, "pidfd_open(%ld)", pid);
    must_fail(r, syscall(SYS_pidfd_open, pid, 0L), what);
}

/* ---- kernel interfaces ---------------------------------------------------- */

static void mv_keyctl(struct res *r, int argc, char **argv)
{
    must_fail(r, syscall(SYS_keyctl, (long)KEYCTL_JOIN_SESSION_KEYRING, "jobcell-probe"),
              "keyctl(JOIN_SESSION_KEYRING)");
}

static void mv_add_key(struct res *r, int argc, char **argv)
{
    must_fail(r, syscall(SYS_add_key, "user", "jobcell-probe", "x", 1L, (long)KEY_SPEC_PROCESS_KEYRING),
              "add_key(user)");
}

static void mv_bpf(struct res *r, int argc, char **argv)
{
    uint32_t attr[32] = {2 /* ARRAY */, 4, 4, 1};

    must_fail(r, syscall(SYS_bpf, 0L /* BPF_MAP_CREATE */, attr, (long)sizeof attr),
              "bpf(BPF_MAP_CREATE)");
}

static void mv_perf_event_open(struct res *r, int argc, char **argv)
{
    uint32_t attr[32] = {1 /* SOFTWARE */, 64 /* VER0 */};

    must_fail(r, syscall(SYS_perf_event_open, attr, 0L, -1L, -1L, 0L),
              "perf_event_open(software cpu-clock, self)");
}

static void mv_io_uring_setup(struct res *r, int argc, char **argv)
{
    uint32_t params[30] = {0};

    must_fail(r, syscall(SYS_io_uring_setup, 1L, params), "io_uring_setup");
}

static void mv_userfaultfd(struct res *r, int argc, char **argv)
{
    must_fail(r, syscall(SYS_userfaultfd, (long)O_CLOEXEC), "userfaultfd");
}

static void mv_kexec_load(struct res *r, int argc, char **argv)
{
    must_fail(r, syscall(SYS_kexec_load, 0L, 0L, NULL, 0L), "kexec_load");
}

static void mv_init_module(struct res *r, int argc, char **argv)
{
    static const char junk[64] = "\177ELF";

    must_fail(r, syscall(SYS_init_module, junk, (long)sizeof junk, ""), "init_module");
}

static void mv_finit_module(struct res *r, int argc, char **argv)
{
    int fd = open("/bin/busybox", O_RDONLY | O_CLOEXEC);

    must_fail(r, syscall(SYS_finit_module, (long)fd, "", 0L), "finit_module(/bin/busybox)");
}

static void mv_delete_module(struct res *r, int argc, char **argv)
{
    must_fail(r, syscall(SYS_delete_module, "jobcell_probe_none", (long)O_NONBLOCK), "delete_module");
}

static void mv_reboot(struct res *r, int argc, char **argv)
{
    must_fail(r, syscall(SYS_reboot, (long)LINUX_REBOOT_MAGIC1, (long)LINUX_REBOOT_MAGIC2,
                         (long)LINUX_REBOOT_CMD_CAD_OFF, NULL),
              "reboot(CAD_OFF)");
}

static void mv_swapon(struct res *r, int argc, char **argv)
{
    must_fail(r, syscall(SYS_swapon, "/tmp/jobcell-swap", 0L), "swapon");
}

static void mv_acct(struct res *r, int argc, char **argv)
{
    must_fail(r, syscall(SYS_acct, "/tmp/jobcell-acct"), "acct");
}

static void mv_settimeofday(struct res *r, int argc, char **argv)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    must_fail(r, syscall(SYS_settimeofday, &tv, NULL), "settimeofday(now)");
}

static void mv_clock_settime(struct res *r, int argc, char **argv)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    must_fail(r, syscall(SYS_clock_settime, (long)CLOCK_REALTIME, &ts), "clock_settime(REALTIME, now)");
}

static void mv_sethostname(struct res *r, int argc, char **argv)
{
    must_fail(r, syscall(SYS_sethostname, "pwned", 5L), "sethostname");
}

static void mv_syslog(struct res *r, int argc, char **argv)
{
    char buf[256];

    must_fail(r, syscall(SYS_syslog, (long)SYSLOG_ACTION_READ_ALL, buf, (long)sizeof buf),
              "syslog(READ_ALL) (kernel log)");
}

static void mv_modify_ldt(struct res *r, int argc, char **argv)
{
    uint32_t desc[4] = {0, 0, 0xfffff, 0x51};

    must_fail(r, syscall(SYS_modify_ldt, 1L, desc, (long)sizeof desc), "modify_ldt(write)");
}

static void mv_iopl(struct res *r, int argc, char **argv)
{
    must_fail(r, syscall(SYS_iopl, 3L), "iopl(3)");
}

static void mv_ioperm(struct res *r, int argc, char **argv)
{
    must_fail(r, syscall(SYS_ioperm, 0x80L, 1L, 1L), "ioperm(0x80)");
}

static void mv_name_to_handle_at(struct res *r, int argc, char **argv)
{
    struct { uint32_t bytes; int32_t type; unsigned char h[128]; } fh = {128, 0, {0}};
    int mnt;

    must_fail(r, syscall(SYS_name_to_handle_at, (long)AT_FDCWD, "/bin/busybox", &fh, &mnt, 0L),
              "name_to_handle_at");
}

/* The "shocker" escape: open the host root's inode by handle. */
static void mv_open_by_handle_at(struct res *r, int argc, char **argv)
{
    struct { uint32_t bytes; int32_t type; uint32_t ino, gen; } fh = {8, 1 /* INO32_GEN */, 2, 0};
    int dir = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    must_fail(r, syscall(SYS_open_by_handle_at, (long)dir, &fh, (long)O_RDONLY), "open_by_handle_at(inode 2)");
}

static void mv_personality_linux32(struct res *r, int argc, char **argv)
{
    must_fail(r, syscall(SYS_personality, (long)PER_LINUX32_), "personality(PER_LINUX32)");
}

static void mv_personality_norandom(struct res *r, int argc, char **argv)
{
    must_fail(r, syscall(SYS_personality, (long)ADDR_NO_RANDOMIZE_), "personality(ADDR_NO_RANDOMIZE)");
}

/* ---- seccomp bypass attempts (in a child: the filter may kill it) -------- */

static long x32_unshare(void)
{
    long rc = syscall(X32_SYSCALL_BIT | NR_X32_UNSHARE, (long)CLONE_NEWUSER);

    return rc < 0 ? -errno : rc;
}

static long i386_unshare(void)
{
    long ret;

    __asm__ volatile("int $0x80"
                     : "=a"(ret)
                     : "a"((long)NR_I386_UNSHARE), "b"((long)CLONE_NEWUSER)
                     : "memory", "r8", "r9", "r10", "r11");
    return ret;
}

static void mv_x32_syscall(struct res *r, int argc, char **argv)
{
    in_child(r, x32_unshare, "x32 ABI unshare(CLONE_NEWUSER) (nr | 0x40000000)");
}

static void mv_int80(struct res *r, int argc, char **argv)
{
    in_child(r, i386_unshare, "i386 ABI unshare(CLONE_NEWUSER) via int $0x80");
}

/* ---- files, devices, sysctls ---------------------------------------------- */

static void open_must_fail(struct res *r, const char *path, int flags)
{
    char what[128];
    long fd = open(path, flags | O_CLOEXEC | O_NOCTTY);

    snprintf(what, sizeof what, "open %s%s", path, (flags & O_ACCMODE) == O_RDONLY ? "" : " for writing");
    must_fail(r, fd, what);
}

static void mv_proc_hostname(struct res *r, int c, char **v) { open_must_fail(r, "/proc/sys/kernel/hostname", O_WRONLY); }
static void mv_core_pattern(struct res *r, int c, char **v) { open_must_fail(r, "/proc/sys/kernel/core_pattern", O_WRONLY); }
static void mv_modprobe(struct res *r, int c, char **v) { open_must_fail(r, "/proc/sys/kernel/modprobe", O_WRONLY); }
static void mv_sysrq(struct res *r, int c, char **v) { open_must_fail(r, "/proc/sysrq-trigger", O_WRONLY); }
/* /proc/kcore: absent, unreadable, or masked (reads empty). */
static void mv_kcore(struct res *r, int c, char **v)
{
    char b;
    int fd = open("/proc/kcore", O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        must_fail(r, fd, "open /proc/kcore");
        return;
    }
    long n = read(fd, &b, 1);
    close(fd);
    if (n == 1)
        allowed(r, "read /proc/kcore: got data");
    else
        setd(r, "/proc/kcore opens but reads %s (masked)", n == 0 ? "empty" : errname(errno));
}
static void mv_dev_mem(struct res *r, int c, char **v) { open_must_fail(r, "/dev/mem", O_RDWR); }
static void mv_dev_kmsg(struct res *r, int c, char **v) { open_must_fail(r, "/dev/kmsg", O_RDWR); }
static void mv_dev_tty(struct res *r, int c, char **v) { open_must_fail(r, "/dev/tty", O_RDWR); }

static void mv_mknod(struct res *r, int argc, char **argv)
{
    long rc = syscall(SYS_mknod, "/tmp/null", (long)(S_IFCHR | 0666), (long)makedev(1, 3));

    must_fail(r, rc, "mknod /tmp/null c 1 3");
    if (rc == 0)
        unlink("/tmp/null");
}

static void mv_tiocsti(struct res *r, int argc, char **argv)
{
    char c = 'x';
    long rc = -1;
    int e = ENOTTY;

    for (int fd = 0; fd < 3 && rc < 0; fd++) {
        rc = ioctl(fd, TIOCSTI, &c);
        if (rc < 0)
            e = errno;
    }
    errno = e;
    must_fail(r, rc, "ioctl(TIOCSTI) on fds 0-2 (no /dev/tty)");
}

static void mv_fd_leak(struct res *r, int argc, char **argv)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    char extra[128] = "";
    size_t n = 0;

    if (!d) {
        error(r, "opendir /proc/self/fd");
        return;
    }
    while ((e = readdir(d)))
        if (atoi(e->d_name) > 2 && atoi(e->d_name) != dirfd(d) && n < sizeof extra - 8)
            n += (size_t)snprintf(extra + n, sizeof extra - n, " %s", e->d_name);
    closedir(d);
    if (n) {
        allowed(r, "descriptors beyond 0-2 inherited:%s", extra);
        return;
    }
    r->v = BLOCKED;
    setd(r, "only fds 0, 1, 2 are open");
}

/* ---- credentials and capabilities ---------------------------------------- */

struct cap_hdr { uint32_t version; int pid; };
struct cap_data { uint32_t eff, prm, inh; };

static void mv_capset(struct res *r, int argc, char **argv)
{
    struct cap_hdr h = {0x20080522 /* v3 */, 0};
    struct cap_data d[2] = {{0}};

    d[0].eff = d[0].prm = 1u << CAP_SYS_ADMIN_;
    must_fail(r, syscall(SYS_capset, &h, d), "capset(+CAP_SYS_ADMIN)");
}

static void mv_ambient_raise(struct res *r, int argc, char **argv)
{
    must_fail(r, prctl(PR_CAP_AMBIENT_, PR_CAP_AMBIENT_RAISE_, CAP_SYS_ADMIN_, 0, 0),
              "prctl(PR_CAP_AMBIENT_RAISE, CAP_SYS_ADMIN)");
}

static void mv_securebits_unlock(struct res *r, int argc, char **argv)
{
    must_fail(r, prctl(PR_SET_SECUREBITS, 0, 0, 0, 0), "prctl(PR_SET_SECUREBITS, 0)");
}

static void mv_nnp_clear(struct res *r, int argc, char **argv)
{
    long rc = prctl(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0);

    must_fail(r, rc, "prctl(PR_SET_NO_NEW_PRIVS, 0)");
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
        allowed(r, "%s: no_new_privs is off", "PR_GET_NO_NEW_PRIVS");
}

static void mv_setuid1(struct res *r, int argc, char **argv)
{
    must_fail(r, syscall(SYS_setuid, 1L), "setuid(1) (unmapped in the task's user namespace)");
}

static void mv_setgroups(struct res *r, int argc, char **argv)
{
    gid_t g[1] = {1};

    must_fail(r, syscall(SYS_setgroups, 1L, g), "setgroups([1])");
}

static void mv_setxattr_fcaps(struct res *r, int argc, char **argv)
{
    /* VFS_CAP_REVISION_2 | EFFECTIVE, permitted = CAP_SYS_ADMIN */
    uint32_t cap[5] = {0x02000001, 1u << CAP_SYS_ADMIN_, 0, 0, 0};
    int fd = open("/tmp/fcap", O_WRONLY | O_CREAT | O_CLOEXEC, 0755);

    close(fd);
    must_fail(r, syscall(SYS_setxattr, "/tmp/fcap", "security.capability", cap, (long)sizeof cap, 0L),
              "setxattr security.capability (file capabilities)");
}

static int copy_file(const char *from, const char *to, mode_t mode)
{
    char buf[65536];
    ssize_t n;
    int in = open(from, O_RDONLY | O_CLOEXEC);
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0700);
    int rc = in < 0 || out < 0 ? -1 : 0;

    while (rc == 0 && (n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n)
            rc = -1;
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) < 0)
        rc = -1;
    return rc == 0 ? chmod(to, mode) : -1;
}

/* Run ARGV with stdout into BUF (a pipe); returns its wait status. */
static int run_capture(char *const argv[], char *buf, size_t len)
{
    int p[2], status = -1;
    size_t got = 0;
    ssize_t n;
    pid_t pid;

    if (pipe(p) < 0)
        return -1;
    if ((pid = fork()) == 0) {
        dup2(p[1], 1);
        execv(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    while (got < len - 1 && (n = read(p[0], buf + got, len - 1 - got)) > 0)
        got += (size_t)n;
    buf[got] = 0;
    close(p[0]);
    if (pid > 0)
        waitpid(pid, &status, 0);
    return status;
}

static unsigned long long status_field(const char *text, const char *key)
{
    const char *p = strstr(text, key);

    return p ? strtoull(p + strlen(key), NULL, 16) : ~0ULL;
}

/* A setuid-root copy of busybox in /tmp: the task is already uid 0 of its
 * namespace (the only mapped id), so what matters is that exec'ing it gives
 * no capability and no other euid (no_new_privs, SECBIT_NOROOT, nosuid). */
static void mv_setuid_exec(struct res *r, int argc, char **argv)
{
    char out[4096];
    char *const av[] = {"/tmp/suid/busybox", "cat", "/proc/self/status", NULL};
    struct stat st;
    unsigned long long eff, prm;
    const char *uid;

    mkdir("/tmp/suid", 0755);
    if (copy_file("/bin/busybox", av[0], 04755) < 0 || stat(av[0], &st) < 0) {
        error(r, "copy busybox to /tmp/suid and chmod 4755");
        return;
    }
    int status = run_capture(av, out, sizeof out);
    eff = status_field(out, "CapEff:");
    prm = status_field(out, "CapPrm:");
    uid = strstr(out, "Uid:");
    if (status != 0 || !uid) {
        errno = 0;
        error(r, "exec the setuid copy (cat /proc/self/status)");
        return;
    }
    r->v = (eff || prm || strncmp(uid, "Uid:\t0\t0\t0\t0", 12) != 0) ? ALLOWED : BLOCKED;
    setd(r, "mode %o on nosuid /tmp; after exec CapEff=%llx CapPrm=%llx Uid(r,e,s,fs)=%.*s",
         (unsigned)st.st_mode & 07777, eff, prm, (int)strcspn(uid + 5, "\n"), uid + 5);
    for (char *t = r->detail; *t; t++)
        if (*t == '\t')
            *t = ' ';
}

/* ---- network ------------------------------------------------------------- */

static void socket_must_fail(struct res *r, int dom, int type, int proto, const char *what)
{
    long fd = syscall(SYS_socket, (long)dom, (long)type, (long)proto);

    must_fail(r, fd, what);
}

static void mv_raw_socket(struct res *r, int c, char **v) { socket_must_fail(r, AF_INET, SOCK_RAW, IPPROTO_ICMP, "socket(AF_INET, SOCK_RAW, ICMP)"); }
static void mv_packet_socket(struct res *r, int c, char **v) { socket_must_fail(r, AF_PACKET, SOCK_RAW, htons(3), "socket(AF_PACKET, SOCK_RAW, ETH_P_ALL)"); }
static void mv_vsock_socket(struct res *r, int c, char **v) { socket_must_fail(r, AF_VSOCK_, SOCK_STREAM, 0, "socket(AF_VSOCK)"); }
static void mv_netlink_socket(struct res *r, int c, char **v) { socket_must_fail(r, AF_NETLINK, SOCK_RAW, 0, "socket(AF_NETLINK, NETLINK_ROUTE) (to add routes, set links up)"); }

static void mv_ioctl_ifflags(struct res *r, int argc, char **argv)
{
    struct ifreq ifr = {0};
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    strcpy(ifr.ifr_name, "lo");
    if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
        error(r, "SIOCGIFFLAGS lo");
        return;
    }
    /* The same flags back: a no-op, but the kernel checks CAP_NET_ADMIN. */
    must_fail(r, ioctl(s, SIOCSIFFLAGS, &ifr), "ioctl(SIOCSIFFLAGS, lo)");
}

static void mv_ioctl_addroute(struct res *r, int argc, char **argv)
{
    struct rtentry rt = {0};
    struct sockaddr_in *dst = (struct sockaddr_in *)&rt.rt_dst;
    struct sockaddr_in *mask = (struct sockaddr_in *)&rt.rt_genmask;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    dst->sin_family = mask->sin_family = AF_INET;
    dst->sin_addr.s_addr = htonl(0x0a000000);
    mask->sin_addr.s_addr = htonl(0xff000000);
    rt.rt_flags = RTF_UP;
    rt.rt_dev = "lo";
    must_fail(r, ioctl(s, SIOCADDRT, &rt), "ioctl(SIOCADDRT 10.0.0.0/8 dev lo)");
}

static int tcp_connect(long port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s < 0)
        return -1;
    return connect(s, (struct sockaddr *)&a, sizeof a);
}

static void mv_connect_port(struct res *r, int argc, char **argv)
{
    char what[64];
    long port = arg_long(argc, argv, 2, 8080);

    snprintf(what, sizeof what, "connect 127.0.0.1:%ld", port);
    must_fail(r, tcp_connect(port), what);
}

static socklen_t abstract_addr(struct sockaddr_un *a, const char *name)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    size_t n = strlen(name) < sizeof a->sun_path - 1 ? strlen(name) : sizeof a->sun_path - 1;
    memcpy(a->sun_path + 1, name, n);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

static void mv_abstract_connect(struct res *r, int argc, char **argv)
{
    struct sockaddr_un a;
    const char *name = argc > 2 ? argv[2] : "jobcell-x";
    socklen_t len = abstract_addr(&a, name);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    char what[160];

    snprintf(what, sizeof what, "connect to abstract unix socket @%s", name);
    must_fail(r, s < 0 ? -1 : connect(s, (struct sockaddr *)&a, len), what);
}

static void mv_ipc_find(struct res *r, int argc, char **argv)
{
    key_t key = (key_t)arg_long(argc, argv, 2, 1234);
    long shm = shmget(key, 0, 0), msg = msgget(key, 0), sem = semget(key, 0, 0);

    if (shm >= 0 || msg >= 0 || sem >= 0) {
        r->v = ALLOWED;
        setd(r, "SysV objects with key %d visible: shm %ld msg %ld sem %ld", (int)key, shm, msg, sem);
        return;
    }
    r->v = BLOCKED;
    r->err = errno;
    setd(r, "shmget/msgget/semget(key %d): %s", (int)key, errname(errno));
}

/* ---- resources ------------------------------------------------------------- */

static void mv_rlimit_raise(struct res *r, int argc, char **argv)
{
    struct rlimit cur, want;
    char what[96];

    getrlimit(RLIMIT_NOFILE, &cur);
    want.rlim_cur = want.rlim_max = cur.rlim_max + 1;
    snprintf(what, sizeof what, "prlimit(RLIMIT_NOFILE, %llu) above the hard limit %llu",
             (unsigned long long)want.rlim_max, (unsigned long long)cur.rlim_max);
    must_fail(r, syscall(SYS_prlimit64, 0L, (long)RLIMIT_NOFILE, &want, NULL), what);
}

/* Open until it fails: must stop with EMFILE at <= 1024 descriptors, and
 * the process goes on (it closes them and reports). */
static void mv_fd_exhaust(struct res *r, int argc, char **argv)
{
    int n = 0, fd, e, top = -1;

    while ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0 && n < 1 << 20) {
        n++;
        top = fd;
    }
    e = errno;
    for (int i = 3; i <= top; i++)
        close(i);
    r->err = e;
    r->v = (e == EMFILE && top < 1024) ? BLOCKED : ALLOWED;
    setd(r, "opened %d descriptors (highest %d), then %s; closed them and went on", n, top, errname(e));
}

static void mv_mlock_large(struct res *r, int argc, char **argv)
{
    struct rlimit lim;
    char what[96];

    getrlimit(RLIMIT_MEMLOCK, &lim);
    if (lim.rlim_cur == RLIM_INFINITY) {
        allowed(r, "RLIMIT_MEMLOCK is unlimited: no limit on locked memory");
        return;
    }
    size_t len = (size_t)lim.rlim_cur + (4u << 20);
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    snprintf(what, sizeof what, "mlock %zu KiB (RLIMIT_MEMLOCK %llu KiB)", len >> 10,
             (unsigned long long)lim.rlim_cur >> 10);
    must_fail(r, p == MAP_FAILED ? -1 : syscall(SYS_mlock, p, (long)len), what);
}

static void mv_mlockall_grow(struct res *r, int argc, char **argv)
{
    struct rlimit lim;
    char what[128];

    getrlimit(RLIMIT_MEMLOCK, &lim);
    if (lim.rlim_cur == RLIM_INFINITY) {
        allowed(r, "RLIMIT_MEMLOCK is unlimited: no limit on locked memory");
        return;
    }
    if (syscall(SYS_mlockall, (long)(MCL_CURRENT | MCL_FUTURE)) < 0) {
        must_fail(r, -1, "mlockall(MCL_CURRENT|MCL_FUTURE)");
        return;
    }
    size_t len = (size_t)lim.rlim_cur + (4u << 20);
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    snprintf(what, sizeof what, "mlockall(CURRENT|FUTURE), then map %zu KiB (RLIMIT_MEMLOCK %llu KiB)",
             len >> 10, (unsigned long long)lim.rlim_cur >> 10);
    must_fail(r, p == MAP_FAILED ? -1 : 0, what);
    syscall(SYS_munlockall);
}

/* CPU and I/O priority beyond an ordinary process: real-time and deadline
 * classes could starve the host whatever the cgroup's cpu.max says. */
static void mv_sched_fifo(struct res *r, int argc, char **argv)
{
    struct sched_param sp = {.sched_priority = 1};

    must_fail(r, syscall(SYS_sched_setscheduler, 0L, (long)SCHED_FIFO, &sp), "sched_setscheduler(SCHED_FIFO, 1)");
}

static void mv_sched_deadline(struct res *r, int argc, char **argv)
{
    /* struct sched_attr: size, policy, flags, nice, priority, runtime, deadline, period */
    struct { uint32_t size, policy; uint64_t flags; int32_t nice; uint32_t prio;
             uint64_t runtime, deadline, period; } a = {48, 6 /* SCHED_DEADLINE */, 0, 0, 0,
                                                         10000000, 30000000, 30000000};

    must_fail(r, syscall(SYS_sched_setattr, 0L, &a, 0L), "sched_setattr(SCHED_DEADLINE)");
}

static void mv_nice_raise(struct res *r, int argc, char **argv)
{
    must_fail(r, syscall(SYS_setpriority, (long)PRIO_PROCESS, 0L, -20L), "setpriority(-20)");
}

static void mv_ioprio_rt(struct res *r, int argc, char **argv)
{
    /* IOPRIO_WHO_PROCESS, self, class RT (1) << 13 | level 0 */
    must_fail(r, syscall(SYS_ioprio_set, 1L, 0L, (long)(1 << 13)), "ioprio_set(IOPRIO_CLASS_RT)");
}

/* ---- what the sum of tasks shares with the host ------------------------- */

static long read_long(const char *path)
{
    char buf[32] = "";
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);

    if (fd >= 0)
        close(fd);
    return n > 0 ? strtol(buf, NULL, 10) : -1;
}

/* Legacy AIO reserves events from the one machine-wide fs.aio-nr. */
static void mv_io_setup(struct res *r, int argc, char **argv)
{
    unsigned long ctx = 0;
    long before = read_long("/proc/sys/fs/aio-nr");
    long rc = syscall(SYS_io_setup, 4096L, &ctx);
    int e = errno;
    long after = read_long("/proc/sys/fs/aio-nr");

    errno = e;
    must_fail(r, rc, "io_setup(4096)");
    snprintf(r->detail + strlen(r->detail), sizeof r->detail - strlen(r->detail),
             "; fs.aio-nr before %ld, after %ld", before, after);
}

/* The IPC namespace's sysctls belong to the task's root: /proc/sys must be
 * read-only for it to leave them alone. */
static void mv_sysctl_ipc_write(struct res *r, int argc, char **argv)
{
    static const char *const files[] = {"/proc/sys/kernel/msgmni", "/proc/sys/kernel/shmmax",
                                        "/proc/sys/fs/mqueue/queues_max"};
    size_t len = 0;

    r->v = BLOCKED;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        int fd = open(files[i], O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
            close(fd);
            r->v = ALLOWED;
        } else {
            r->err = errno;
        }
        len += (size_t)snprintf(r->detail + len, sizeof r->detail - len, "%s%s: %s",
                                i ? "; " : "", files[i], fd >= 0 ? "opened for writing" : errname(errno));
    }
    if (r->v == ALLOWED)
        r->err = 0;
}

/* Docker's masked /proc entries (and the kernel command line): files read
 * empty, directories list nothing. */
static void mv_proc_masked(struct res *r, int argc, char **argv)
{
    static const char *const names[] = {"kcore", "keys", "timer_list", "sched_debug", "cmdline",
                                        "interrupts", "latency_stats", "timer_stats", "acpi",
                                        "asound", "scsi"};
    size_t len = 0;
    char path[64], c;

    r->v = BLOCKED;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "/proc/%s", names[i]);
        DIR *d = opendir(path);
        int shows = 0;
        if (d) {
            struct dirent *e;
            while ((e = readdir(d)))
                shows |= strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
            closedir(d);
        } else if (errno == ENOTDIR) {
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            shows = fd >= 0 && read(fd, &c, 1) == 1;
            if (fd >= 0)
                close(fd);
        } else {
            continue; /* not on this kernel */
        }
        if (shows)
            r->v = ALLOWED;
        len += (size_t)snprintf(r->detail + len, sizeof r->detail - len, "%s%s %s", len ? ", " : "",
                                names[i], shows ? "SHOWS" : "empty");
    }
}

/* Docker's read-only /proc entries sit on read-only mounts. */
static void mv_proc_ro(struct res *r, int argc, char **argv)
{
    static const char *const names[] = {"sys", "sysrq-trigger", "irq", "bus", "fs"};
    size_t len = 0;
    char path[64];
    struct statvfs sv;

    r->v = BLOCKED;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "/proc/%s", names[i]);
        if (statvfs(path, &sv) < 0)
            continue;
        int ro = (sv.f_flag & ST_RDONLY) != 0;
        if (!ro)
            r->v = ALLOWED;
        len += (size_t)snprintf(r->detail + len, sizeof r->detail - len, "%s/proc/%s %s",
                                len ? ", " : "", names[i], ro ? "ro" : "WRITABLE");
    }
}

/* ---- helpers for the cross-task tests (not moves) --------------------- */

static void ready(const char *helper, const char *arg)
{
    printf("{\"helper\":\"%s\",\"arg\":\"%s\",\"ready\":true}\n", helper, arg);
    fflush(stdout);
}

static int hold(int argc, char **argv)
{
    long secs = arg_long(argc, argv, 3, 30);
    const char *h = argv[1];

    if (argc < 3)
        return 2;
    if (!strcmp(h, "hold-unix")) {
        struct sockaddr_un a;
        socklen_t len = abstract_addr(&a, argv[2]);
        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s < 0 || bind(s, (struct sockaddr *)&a, len) < 0 || listen(s, 8) < 0)
            return perror("hold-unix"), 3;
    } else if (!strcmp(h, "hold-ipc")) {
        key_t key = (key_t)strtol(argv[2], NULL, 0);
        if (shmget(key, 4096, IPC_CREAT | 0600) < 0 || msgget(key, IPC_CREAT | 0600) < 0 ||
            semget(key, 1, IPC_CREAT | 0600) < 0)
            return perror("hold-ipc"), 3;
    } else if (!strcmp(h, "hold-tcp")) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
        int one = 1, s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 8) < 0)
            return perror("hold-tcp"), 3;
    } else {
        return 2;
    }
    ready(h, argv[2]);
    sleep((unsigned)secs);
    return 0;
}

#define QUOTA_CAP 200000 /* never loop for ever, whatever the kernel allows */

static int count_inotify(int *err)
{
    int n = 0;

    while (n < QUOTA_CAP && inotify_init1(IN_CLOEXEC) >= 0)
        n++;
    *err = errno;
    return n;
}

static int count_mqueues(int *err)
{
    char name[32];
    int n = 0;

    for (; n < QUOTA_CAP; n++) {
        snprintf(name, sizeof name, "/jobcell-probe-%d", n);
        if (mq_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600, NULL) < 0)
            break;
    }
    *err = errno;
    return n;
}

static int count_sigqueue(int sig, int *err)
{
    union sigval v = {0};
    sigset_t set;
    int n = 0;

    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_BLOCK, &set, NULL);
    while (n < QUOTA_CAP && sigqueue(getpid(), sig, v) == 0)
        n++;
    *err = errno;
    return n;
}

/* Hold as much of each per-user kernel count as the kernel gives. */
static int hold_quotas(int argc, char **argv)
{
    struct sigevent sev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGRTMIN + 2};
    int ie, me, se, te = 0;
    int in = count_inotify(&ie), mq = count_mqueues(&me), sq = count_sigqueue(SIGRTMIN + 1, &se);
    timer_t t;

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN + 2);
    sigprocmask(SIG_BLOCK, &set, NULL);
    if (timer_create(CLOCK_MONOTONIC, &sev, &t) < 0)
        te = errno;
    printf("{\"helper\":\"hold-quotas\",\"inotify\":%d,\"inotify_errno\":\"%s\",\"mq\":%d,"
           "\"mq_errno\":\"%s\",\"sigqueue\":%d,\"sigqueue_errno\":\"%s\",\"timer_errno\":\"%s\","
           "\"ready\":true}\n", in, errname(ie), mq, errname(me), sq, errname(se), errname(te));
    fflush(stdout);
    sleep((unsigned)arg_long(argc, argv, 2, 30));
    return 0;
}

static int flock_on(const char *path, int how, int *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0 || flock(fd, how) < 0) {
        *err = errno;
        return -1;
    }
    *err = 0;
    return fd;
}

/* hold-flock PATH SECS | try-flock PATH */
static int do_flock(int argc, char **argv)
{
    int err, hold = !strcmp(argv[1], "hold-flock");
    int fd = argc > 2 ? flock_on(argv[2], LOCK_EX | LOCK_NB, &err) : -1;

    if (argc < 3)
        return 2;
    printf("{\"helper\":\"%s\",\"path\":", argv[1]);
    json_str(argv[2]);
    printf(",\"locked\":%s,\"errname\":\"%s\",\"ready\":true}\n", fd >= 0 ? "true" : "false",
           errname(err));
    fflush(stdout);
    if (hold)
        sleep((unsigned)arg_long(argc, argv, 3, 30));
    return 0;
}

/* Events queued on fd, as "name:mask" words; returns their number. */
static int drain_events(int fd, char *out, size_t len)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    size_t used = 0;
    ssize_t n;
    int count = 0;

    out[0] = 0;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            if (used < len)
                used += (size_t)snprintf(out + used, len - used, "%s%d:%s:0x%x", count ? " " : "",
                                         ev->wd, ev->len ? ev->name : "", ev->mask);
            count++;
            p += sizeof *ev + ev->len;
        }
    return count;
}

static void touch_path(const char *path)
{
    char c;
    DIR *d = opendir(path);

    if (d) {
        while (readdir(d))
            ;
        closedir(d);
        return;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        (void)!read(fd, &c, 1);
        close(fd);
    }
}

/* watch-inotify PATH...: see the top comment. */
static int watch_inotify(int argc, char **argv)
{
    static char seen[2048], control[2048];
    int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK), sig;
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    for (int i = 2; i < argc; i++)
        if (fd < 0 || inotify_add_watch(fd, argv[i], IN_ALL_EVENTS) < 0)
            return perror(argv[i]), 3;
    ready("watch-inotify", argv[2]);
    sigwait(&set, &sig);
    int n = drain_events(fd, seen, sizeof seen);
    for (int i = 2; i < argc; i++)
        touch_path(argv[i]);
    int c = drain_events(fd, control, sizeof control);
    printf("{\"helper\":\"watch-inotify\",\"events\":%d,\"seen\":\"%s\",\"control\":%d,"
           "\"control_seen\":\"%s\"}\n", n, seen, c, control);
    fflush(stdout);
    return 0;
}

/* ---- the table -------------------------------------------------------------- */

#define M(name, fn, args, what) {name, fn, args, what}
static const struct move moves[] = {
    M("mount", mv_mount, "", "mount a tmpfs on /tmp/x"),
    M("remount-rw", mv_remount_rw, "", "remount / read-write"),
    M("mount-cgroup", mv_mount_cgroup, "", "mount a cgroup v1 hierarchy (release_agent)"),
    M("umount-proc", mv_umount_proc, "", "umount2 /proc"),
    M("pivot-root", mv_pivot_root, "", "pivot_root"),
    M("fsopen", mv_fsopen, "", "new mount API: fsopen"),
    M("open-tree", mv_open_tree, "", "new mount API: open_tree(OPEN_TREE_CLONE)"),
    M("chroot-escape", mv_chroot_escape, "[HOSTPATH...]", "chroot + chdir .. to reach host files"),
    M("host-paths", mv_host_paths, "[HOSTPATH...]", "host-only files visible from /"),
    M("proc1-root", mv_proc1_root, "[HOSTPATH...]", "host files through /proc/1/root"),
    M("open-shadow", mv_open_shadow, "", "open the host's /etc/shadow"),
    M("write-root", mv_write_root, "", "create /pwned"),
    M("write-etc-passwd", mv_write_etc_passwd, "", "open /etc/passwd for writing"),
    M("write-sys", mv_write_sys, "", "sysfs (/sys/kernel) or writing /sys"),
    M("unshare-user", mv_unshare_user, "", "unshare(CLONE_NEWUSER)"),
    M("unshare-mnt", mv_unshare_mnt, "", "unshare(CLONE_NEWNS)"),
    M("unshare-net", mv_unshare_net, "", "unshare(CLONE_NEWNET)"),
    M("unshare-pid", mv_unshare_pid, "", "unshare(CLONE_NEWPID)"),
    M("unshare-uts", mv_unshare_uts, "", "unshare(CLONE_NEWUTS)"),
    M("unshare-ipc", mv_unshare_ipc, "", "unshare(CLONE_NEWIPC)"),
    M("unshare-cgroup", mv_unshare_cgroup, "", "unshare(CLONE_NEWCGROUP)"),
    M("unshare-time", mv_unshare_time, "", "unshare(CLONE_NEWTIME)"),
    M("setns-init-net", mv_setns_init_net, "", "setns /proc/1/ns/net"),
    M("setns-pid", mv_setns_pid, "PID", "setns into every namespace of PID"),
    M("setns-pidfd", mv_setns_pidfd, "", "setns(pidfd of init)"),
    M("clone-newuser", mv_clone_newuser, "", "clone(CLONE_NEWUSER)"),
    M("clone-newns", mv_clone_newns, "", "clone(CLONE_NEWNS|NEWNET|NEWPID)"),
    M("clone3", mv_clone3, "", "clone3(CLONE_NEWUSER): ENOSYS"),
    M("ptrace-traceme", mv_ptrace_traceme, "", "ptrace(PTRACE_TRACEME)"),
    M("ptrace-init", mv_ptrace_init, "", "ptrace attach to pid 1"),
    M("ptrace-host", mv_ptrace_host, "PID", "ptrace attach to a host pid"),
    M("process-vm-readv", mv_process_vm_readv, "", "process_vm_readv of pid 1"),
    M("proc-init-mem", mv_proc_init_mem, "", "open /proc/1/mem read-write"),
    M("init-status-fd", mv_init_status_fd, "", "open init's status pipe /proc/1/fd/3"),
    M("pidfd-getfd", mv_pidfd_getfd, "", "pidfd_getfd(init, 3)"),
    M("proc-self-mem", mv_proc_self_mem, "", "write own text via /proc/self/mem (n/a if allowed)"),
    M("kill-all", mv_kill_all, "", "kill(-1, SIGKILL); run it as the task's only program"),
    M("kill-host", mv_kill_host, "PID", "kill(PID, SIGKILL) of a host pid"),
    M("pidfd-open-host", mv_pidfd_open_host, "PID", "pidfd_open of a host pid"),
    M("keyctl", mv_keyctl, "", "keyctl(JOIN_SESSION_KEYRING)"),
    M("add-key", mv_add_key, "", "add_key"),
    M("bpf", mv_bpf, "", "bpf(BPF_MAP_CREATE)"),
    M("perf-event-open", mv_perf_event_open, "", "perf_event_open"),
    M("io-uring-setup", mv_io_uring_setup, "", "io_uring_setup"),
    M("userfaultfd", mv_userfaultfd, "", "userfaultfd"),
    M("kexec-load", mv_kexec_load, "", "kexec_load"),
    M("init-module", mv_init_module, "", "init_module"),
    M("finit-module", mv_finit_module, "", "finit_module"),
    M("delete-module", mv_delete_module, "", "delete_module"),
    M("reboot", mv_reboot, "", "reboot(CAD_OFF)"),
    M("swapon", mv_swapon, "", "swapon"),
    M("acct", mv_acct, "", "acct"),
    M("settimeofday", mv_settimeofday, "", "settimeofday"),
    M("clock-settime", mv_clock_settime, "", "clock_settime(CLOCK_REALTIME)"),
    M("sethostname", mv_sethostname, "", "sethostname"),
    M("syslog", mv_syslog, "", "syslog(READ_ALL)"),
    M("modify-ldt", mv_modify_ldt, "", "modify_ldt"),
    M("iopl", mv_iopl, "", "iopl(3)"),
    M("ioperm", mv_ioperm, "", "ioperm"),
    M("name-to-handle-at", mv_name_to_handle_at, "", "name_to_handle_at"),
    M("open-by-handle-at", mv_open_by_handle_at, "", "open_by_handle_at (shocker)"),
    M("personality-linux32", mv_personality_linux32, "", "personality(PER_LINUX32)"),
    M("personality-norandom", mv_personality_norandom, "", "personality(ADDR_NO_RANDOMIZE)"),
    M("x32-syscall", mv_x32_syscall, "", "x32 ABI syscall, in a child"),
    M("int80", mv_int80, "", "i386 ABI via int $0x80, in a child"),
    M("proc-hostname", mv_proc_hostname, "", "write /proc/sys/kernel/hostname"),
    M("core-pattern", mv_core_pattern, "", "write /proc/sys/kernel/core_pattern"),
    M("modprobe-path", mv_modprobe, "", "write /proc/sys/kernel/modprobe"),
    M("sysrq-trigger", mv_sysrq, "", "write /proc/sysrq-trigger"),
    M("proc-kcore", mv_kcore, "", "read /proc/kcore"),
    M("dev-mem", mv_dev_mem, "", "open /dev/mem"),
    M("dev-kmsg", mv_dev_kmsg, "", "open /dev/kmsg"),
    M("dev-tty", mv_dev_tty, "", "open /dev/tty"),
    M("mknod", mv_mknod, "", "mknod /tmp/null c 1 3"),
    M("tiocsti", mv_tiocsti, "", "TIOCSTI"),
    M("fd-leak", mv_fd_leak, "", "descriptors inherited beyond 0-2"),
    M("capset", mv_capset, "", "capset(+CAP_SYS_ADMIN)"),
    M("ambient-raise", mv_ambient_raise, "", "PR_CAP_AMBIENT_RAISE"),
    M("securebits-unlock", mv_securebits_unlock, "", "PR_SET_SECUREBITS 0"),
    M("nnp-clear", mv_nnp_clear, "", "clear no_new_privs"),
    M("setuid-1", mv_setuid1, "", "setuid(1)"),
    M("setgroups", mv_setgroups, "", "setgroups([1])"),
    M("setxattr-fcaps", mv_setxattr_fcaps, "", "set file capabilities"),
    M("setuid-exec", mv_setuid_exec, "", "exec a setuid copy of busybox from /tmp"),
    M("raw-socket", mv_raw_socket, "", "AF_INET SOCK_RAW"),
    M("packet-socket", mv_packet_socket, "", "AF_PACKET"),
    M("vsock-socket", mv_vsock_socket, "", "AF_VSOCK"),
    M("netlink-socket", mv_netlink_socket, "", "AF_NETLINK route socket"),
    M("ioctl-ifflags", mv_ioctl_ifflags, "", "SIOCSIFFLAGS on lo"),
    M("ioctl-addroute", mv_ioctl_addroute, "", "SIOCADDRT"),
    M("connect-port", mv_connect_port, "PORT", "connect to 127.0.0.1:PORT (a host listener)"),
    M("abstract-connect", mv_abstract_connect, "NAME", "connect to abstract unix socket @NAME"),
    M("ipc-find", mv_ipc_find, "KEY", "SysV shm/msg/sem with KEY visible"),
    M("rlimit-raise", mv_rlimit_raise, "", "RLIMIT_NOFILE above the hard limit"),
    M("fd-exhaust", mv_fd_exhaust, "", "open until EMFILE"),
    M("mlock-large", mv_mlock_large, "", "mlock beyond RLIMIT_MEMLOCK"),
    M("mlockall-grow", mv_mlockall_grow, "", "mlockall(FUTURE) then map beyond RLIMIT_MEMLOCK"),
    M("sched-fifo", mv_sched_fifo, "", "real-time scheduling (SCHED_FIFO)"),
    M("sched-deadline", mv_sched_deadline, "", "SCHED_DEADLINE"),
    M("nice-raise", mv_nice_raise, "", "nice -20"),
    M("ioprio-rt", mv_ioprio_rt, "", "real-time I/O priority"),
    M("io-setup", mv_io_setup, "", "legacy AIO io_setup (machine-wide fs.aio-nr): ENOSYS"),
    M("sysctl-ipc-write", mv_sysctl_ipc_write, "", "open kernel/msgmni, kernel/shmmax, fs/mqueue/queues_max for writing"),
    M("proc-masked", mv_proc_masked, "", "read Docker's masked /proc entries and /proc/cmdline"),
    M("proc-ro", mv_proc_ro, "", "Docker's read-only /proc entries on a writable mount"),
};
#define NMOVES (sizeof moves / sizeof moves[0])

static int usage(void)
{
    fprintf(stderr, "usage: jobcell-probe MOVE [ARGS] | list | help | hold-unix NAME SECS | "
                    "hold-ipc KEY SECS | hold-tcp PORT SECS | hold-quotas SECS | "
                    "hold-flock PATH SECS | try-flock PATH | watch-inotify PATH...\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    if (!strcmp(argv[1], "list") || !strcmp(argv[1], "help")) {
        for (size_t i = 0; i < NMOVES; i++)
            if (argv[1][0] == 'l')
                printf("%s\n", moves[i].name);
            else
                printf("%-22s %-14s %s\n", moves[i].name, moves[i].args, moves[i].what);
        return 0;
    }
    if (!strcmp(argv[1], "hold-quotas"))
        return hold_quotas(argc, argv);
    if (!strcmp(argv[1], "hold-flock") || !strcmp(argv[1], "try-flock"))
        return do_flock(argc, argv);
    if (!strcmp(argv[1], "watch-inotify"))
        return argc > 2 ? watch_inotify(argc, argv) : usage();
    if (!strncmp(argv[1], "hold-", 5))
        return hold(argc, argv);
    for (size_t i = 0; i < NMOVES; i++)
        if (!strcmp(argv[1], moves[i].name)) {
            struct res r = {BLOCKED, 0, ""};
            errno = 0;
            moves[i].fn(&r, argc, argv);
            return report(moves[i].name, &r);
        }
    fprintf(stderr, "jobcell-probe: unknown move \"%s\" (see: jobcell-probe list)\n", argv[1]);
    return 2;
}
