/* child.c — the child side of a spawn: the checklist from the spawn
 * stub's start to execve() of jobcell-init.
 *
 * Runs in: jobcell-spawn (stub.c), the static program the task's child
 * execs first thing after clone3() (sandbox.c: it shares no memory with the
 * warden, and was never a copy of it), inside new user, pid, mount, uts,
 * ipc and net namespaces.  It has one thread and memory of its own; it
 * still keeps to raw syscalls (no malloc, no stdio: it is small, and every
 * step's failure must be a {step, errno} record), and no set*id()
 * wrappers that would signal threads.  Everything was prepared by the
 * warden (plan.h), checked by the stub.  A failing step writes {step,
 * errno} to a close-on-exec pipe and exits 127.  It is born with the
 * task's host uid as its uids (see do_clone()), so its user namespace, and
 * what the task counts per user, belong to that uid; its capabilities in
 * that namespace came through the exec as ambient ones (sandbox.c
 * caps_ambient()), and drop_caps() clears them with the rest.
 *
 * A cell (sb_cell_main, docs/design.md "Cells prepared ahead") takes the
 * same steps in two phases: those that do not depend on the request
 * ahead of demand, then it blocks in recvmsg() on its hand-over socket
 * until the warden sends its task's spec, checks it to the last byte, and
 * takes the rest; the cgroup namespace (and with it the user namespace's
 * limit on them and /proc/sys read-only) waits for the hand-over, when its
 * cgroup has become the task's.
 *
 * The order matters: the warden's other descriptors closed first, then out
 * of the daemon's session (no signal meant for
 * the daemon reaches the task), ids next (so the mounts belong to the
 * task's user namespace), mounts before pivot_root, the user namespace's
 * limits before /proc/sys goes read-only, everything that needs a
 * capability before the capability drop, seccomp last before execve. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/seccomp.h>
#include <linux/securebits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/resource.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "plan.h"

__attribute__((noreturn)) void sb_fail(int err_wr, int step)
{
    struct sb_child_err e = {.step = step, .errnum = errno ? errno : EPROTO};

    (void)!write(err_wr, &e, sizeof e);
    _exit(127);
}

#define fail(p, step) sb_fail((p)->s->err_wr, (step))

#define STEP(p, step, expr)             \
    do {                                \
        if ((long)(expr) < 0)           \
            fail((p), (step));          \
    } while (0)

/* First, every descriptor we inherited but our own (p->s->keep, ascending):
 * the few of the warden's below the block our own were put in (the
 * trampoline left the rest behind, sandbox.c).  Held here until our execve
 * they could delay EOFs the warden waits for; close_range() drops each gap
 * in one call. */
static void close_inherited(const struct sb_prep *p)
{
    unsigned lo = 0;

    for (unsigned i = 0; i <= p->s->nkeep; i++) {
        unsigned hi = i < p->s->nkeep ? (unsigned)p->s->keep[i] : ~0U;
        if (hi > lo)
            STEP(p, SB_STEP_CLOSE_FDS, syscall(SYS_close_range, lo, hi - 1, 0));
        lo = hi + 1;
    }
}

/* A session and process group of our own: a Ctrl-C in the daemon's
 * terminal, or kill(-pgid) of the daemon, never reaches the task.  A signal
 * sent to the group in the instant before is pending here (the warden's
 * mask blocks it): take it off the queue. */
static void leave_session(const struct sb_prep *p)
{
    struct timespec zero = {0, 0};
    sigset_t all;

    STEP(p, SB_STEP_SESSION, setsid());
    sigfillset(&all);
    while (syscall(SYS_rt_sigtimedwait, &all, NULL, &zero, _NSIG / 8) > 0)
        ;
}

/* Die with the warden; wait until it has written our maps and cgroup. */
static void wait_for_parent(const struct sb_prep *p)
{
    char c;

    /* Only the warden holds the other ends (close_inherited() closed our
     * copies): then a dead warden shows as EOF on the sync pipe and as
     * POLLERR on the error pipe. */
    STEP(p, SB_STEP_PDEATHSIG, prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0));
    errno = EPIPE;
    if (read(p->s->sync_rd, &c, 1) != 1)
        fail(p, SB_STEP_SYNC);
}

/* Become uid/gid 0 of our user namespace (an unprivileged id on the host),
 * with no supplementary groups.  Raw syscalls: see the top comment. */
static void set_ids(const struct sb_prep *p)
{
    STEP(p, SB_STEP_IDS, syscall(SYS_setgroups, 0, NULL));
    STEP(p, SB_STEP_IDS, syscall(SYS_setresgid, 0, 0, 0));
    STEP(p, SB_STEP_IDS, syscall(SYS_setresuid, 0, 0, 0));
    /* Changing credentials cleared the parent-death signal: set it again,
     * then make sure the warden did not die in between (its end of the
     * error pipe would be closed: POLLERR on ours). */
    STEP(p, SB_STEP_PDEATHSIG, prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0));
    struct pollfd pfd = {.fd = p->s->err_wr, .events = POLLOUT};
    if (poll(&pfd, 1, 0) < 0 || (pfd.revents & POLLERR))
        _exit(127);
}

/* Now that we sit in the task's own cgroup, make it the root of our view
 * (a cell: once handed over, its cgroup renamed or moved to the task's). */
static void enter_cgroupns(const struct sb_prep *p)
{
    STEP(p, SB_STEP_CGROUPNS, unshare(CLONE_NEWCGROUP));
}

/* /dev: the tmpfs the warden prepared once (devdir.h: the host's five
 * nodes bound in it, four links, read-only), bound with its node binds
 * (MS_REC).  The bind keeps its flags, locked in our namespace (read-only,
 * nosuid, noexec); the remount says so.  Then its null must be a device:
 * not so if what we bound was the empty directory a warden preparing the
 * tree again (devdir_ensure) made there before moving the tree onto it. */
static void mount_dev(const struct sb_prep *p)
{
    struct stat st;

    STEP(p, SB_STEP_DEV, mount(p->h->dev_src, p->h->dev, NULL, MS_BIND | MS_REC, NULL));
    STEP(p, SB_STEP_DEV_RO, mount(NULL, p->h->dev, NULL,
                                  MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL));
    STEP(p, SB_STEP_DEV, stat(p->h->dev_null, &st));
    errno = ENOENT;
    if (!S_ISCHR(st.st_mode))
        fail(p, SB_STEP_DEV);
}

/* Mount options of an empty, read-only tmpfs: the overlay's second layer,
 * which the masked /proc directories are bound from as well. */
#define EMPTY_TMPFS_OPTS "size=4k,nr_inodes=1,mode=555"
#define RO_FLAGS (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)

/* A read-only overlay of the rootfs: a superblock of the task's own, so no
 * inotify watch or flock on its files reaches another task or the host.
 * Without an upper layer overlayfs wants two lower ones; the second is an
 * empty read-only tmpfs staged on the rootfs's tmp, which the overlay then
 * covers.  The layers are named relative to the rootfs (our cwd): the
 * task's /proc/self/mountinfo shows "lowerdir=.:tmp", no host path.
 * Returns a descriptor of the layer's root, taken before the overlay
 * covers it: the empty directory of the task's own that mount_proc()
 * binds on each masked /proc directory (no superblock more per mask). */
static int mount_overlay(const struct sb_prep *p)
{
    STEP(p, SB_STEP_LAYER, mount("jobcell", p->h->tmp, "tmpfs", RO_FLAGS, EMPTY_TMPFS_OPTS));
    int layer = open(p->h->tmp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    STEP(p, SB_STEP_LAYER, layer);
    STEP(p, SB_STEP_OVERLAY, chdir(p->h->rootfs));
    STEP(p, SB_STEP_OVERLAY, mount("jobcell", p->h->rootfs, "overlay", MS_RDONLY | MS_NOSUID | MS_NODEV,
                                   "lowerdir=.:tmp"));
    /* Our cwd is still the directory below: step onto the overlay. */
    STEP(p, SB_STEP_OVERLAY, chdir(p->h->rootfs));
    return layer;
}

/* "/proc/self/fd/<fd>": a path to what fd refers to, however covered (a
 * bind's source must be a path; the host's /proc, our root being still
 * the warden's; no stdio here). */
static void fd_path(char out[32], int fd)
{
    static const char prefix[] = "/proc/self/fd/";
    char digits[12];
    size_t n = 0, k = sizeof prefix - 1;

    do
        digits[n++] = (char)('0' + fd % 10);
    while ((fd /= 10) > 0);
    memcpy(out, prefix, k);
    while (n > 0)
        out[k++] = digits[--n];
    out[k] = 0;
}

static void write_file(const struct sb_prep *p, int step, const char *path, const char *text)
{
    size_t len = strlen(text);
    int fd = open(path, O_WRONLY | O_CLOEXEC);

    STEP(p, step, fd);
    errno = EIO;
    if (write(fd, text, len) != (ssize_t)len)
        fail(p, step);
    close(fd);
}

/* Docker's defaults: read-only in place (a bind onto itself, remounted),
 * or hidden under the prepared /dev's null (a file) or a bind of `empty`,
 * the overlay's empty layer (a directory: its root, of the task's own, so
 * no inotify or flock channel to another task; the bind keeps the layer's
 * flags, read-only, nosuid, nodev, noexec).  `empty` is NULL after
 * pivot_root (late_proc()), where no directory is masked: a bind of NULL
 * fails the step. */
static void trim_proc_entry(const struct sb_prep *p, const struct sb_proc_path *e, const char *empty)
{
    switch (e->kind) {
    case SB_PROC_RO:
        STEP(p, SB_STEP_PROC_RO, mount(e->path, e->path, NULL, MS_BIND, NULL));
        STEP(p, SB_STEP_PROC_RO, mount(NULL, e->path, NULL, MS_REMOUNT | MS_BIND | RO_FLAGS, NULL));
        break;
    case SB_PROC_MASK_FILE:
        STEP(p, SB_STEP_PROC_MASK, mount(p->h->mask_null, e->path, NULL, MS_BIND, NULL));
        break;
    case SB_PROC_MASK_DIR:
        STEP(p, SB_STEP_PROC_MASK, mount(empty, e->path, NULL, MS_BIND, NULL));
        break;
    }
}

/* A /proc of our own pid namespace.  First the user namespace's own
 * ceilings on per-user kernel counts (needs CAP_SYS_RESOURCE in it, and a
 * writable /proc/sys), then /proc trimmed, its directories masked by the
 * overlay's empty layer (mount_overlay()'s descriptor). */
static void mount_proc(const struct sb_prep *p, int layer)
{
    char empty[32];

    fd_path(empty, layer);
    STEP(p, SB_STEP_PROC, mount("proc", p->h->proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL));
    for (unsigned i = 0; i < p->s->n_user_limits; i++)
        write_file(p, SB_STEP_USER_LIMITS, p->h->user_limits[i].path, p->h->user_limits[i].value);
    for (unsigned i = 0; i < p->s->n_proc_paths; i++)
        trim_proc_entry(p, &p->h->proc_paths[i], empty);
}

/* The rootfs, read-only, becomes "/"; the host's root is detached. */
static void mount_root(const struct sb_prep *p)
{
    /* Nothing we mount may propagate back to the host. */
    STEP(p, SB_STEP_MOUNT_PRIVATE, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
    int layer = mount_overlay(p);
    mount_proc(p, layer);
    close(layer);
    STEP(p, SB_STEP_TMP, mount("tmpfs", p->h->tmp, "tmpfs", MS_NOSUID | MS_NODEV, p->s->tmp_opts));
    mount_dev(p);
    /* pivot_root needs a mount point: the overlay is one. */
    STEP(p, SB_STEP_PIVOT, chdir(p->h->rootfs));
    STEP(p, SB_STEP_PIVOT, syscall(SYS_pivot_root, ".", "."));
    /* The old root now sits on top of "."; detach it so no path leads out. */
    STEP(p, SB_STEP_PIVOT, umount2(".", MNT_DETACH));
    STEP(p, SB_STEP_PIVOT, chdir("/"));
}

/* n bytes of the files memfd from *off into fd. */
static void copy_file(const struct sb_prep *p, int fd, off_t *off, uint32_t n)
{
    char buf[4096];

    while (n > 0) {
        ssize_t r = pread(p->files_fd, buf, n < sizeof buf ? n : sizeof buf, *off);
        if (r == 0)
            errno = EIO; /* the warden checked the size: cannot happen */
        STEP(p, SB_STEP_FILES, r > 0 ? r : -1);
        for (ssize_t w = 0; w < r;) {
            ssize_t k = write(fd, buf + w, (size_t)(r - w));
            STEP(p, SB_STEP_FILES, k);
            w += k;
        }
        *off += r;
        n -= (uint32_t)r;
    }
}

/* The request's input files, into our own /tmp (a fresh tmpfs, so
 * O_EXCL|O_NOFOLLOW only guards against a name given twice), mode 0644
 * whatever the warden's umask, owned by the task's root. */
static void write_files(const struct sb_prep *p)
{
    off_t off = 0;

    for (unsigned i = 0; i < p->req->nfiles; i++) {
        int fd = open(p->req->file_paths[i], O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        STEP(p, SB_STEP_FILES, fd);
        STEP(p, SB_STEP_FILES, fchmod(fd, 0644));
        copy_file(p, fd, &off, p->req->file_sizes[i]);
        close(fd);
    }
}

/* The new net namespace has only lo, and it starts down. */
static void loopback_up(const struct sb_prep *p)
{
    struct ifreq ifr;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    STEP(p, SB_STEP_LOOPBACK, s);
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    STEP(p, SB_STEP_LOOPBACK, ioctl(s, SIOCGIFFLAGS, &ifr));
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    STEP(p, SB_STEP_LOOPBACK, ioctl(s, SIOCSIFFLAGS, &ifr));
    close(s);
}

/* stdin the request's memfd (read to its end, then EOF) or /dev/null,
 * stdout+stderr /dev/null (init says everything on its channel and makes
 * the program's output pipe itself), fd 3 init's channel, fd 4 the sync
 * pipe, now init's go pipe (init_proto.h); every other descriptor is closed
 * at execve. */
static void set_stdio(const struct sb_prep *p)
{
    STEP(p, SB_STEP_STDIO, dup3(p->stdin_fd, 0, 0));
    STEP(p, SB_STEP_STDIO, dup3(p->s->out_wr, 1, 0));
    STEP(p, SB_STEP_STDIO, dup3(p->s->out_wr, 2, 0));
    STEP(p, SB_STEP_STDIO, dup3(p->s->status_wr, 3, 0));
    STEP(p, SB_STEP_STDIO, dup3(p->s->sync_rd, 4, 0));
    STEP(p, SB_STEP_STDIO, syscall(SYS_close_range, 5, ~0U, CLOSE_RANGE_CLOEXEC));
}

/* The kernel bounds of every task (soft = hard), fixed here whatever the
 * daemon inherited (each value is written only here; docs/security.md
 * explains them). */
static const struct {
    int resource;
    rlim_t value;
} task_rlimits[] = {
    {RLIMIT_CORE, 0},              /* no core dumps */
    {RLIMIT_RTPRIO, 0},            /* no real-time scheduling */
    {RLIMIT_NICE, 0},              /* no nice below 0 */
    {RLIMIT_MEMLOCK, 64 << 10},    /* locked memory, bytes */
    {RLIMIT_NOFILE, 1024},         /* open descriptors per process */
    {RLIMIT_SIGPENDING, 1024},     /* queued signals + POSIX timers, whole task */
    {RLIMIT_MSGQUEUE, 256 << 10},  /* POSIX message queue bytes, whole task */
};

static void set_rlimits(const struct sb_prep *p)
{
    for (unsigned i = 0; i < sizeof task_rlimits / sizeof task_rlimits[0]; i++) {
        rlim_t v = task_rlimits[i].value;
        /* Raising a hard limit needs a privilege the task has not. */
        if (task_rlimits[i].resource == RLIMIT_NOFILE && v > p->h->nofile_cap)
            v = (rlim_t)p->h->nofile_cap;
        struct rlimit r = {v, v};
        STEP(p, SB_STEP_RLIMIT, setrlimit(task_rlimits[i].resource, &r));
    }
}

/* No capability survives: bounding set emptied, ambient cleared, the
 * permitted/effective/inheritable sets zeroed, and uid 0 locked out of ever
 * regaining them through execve. */
static void drop_caps(const struct sb_prep *p)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];

    STEP(p, SB_STEP_SECUREBITS,
         prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                                      SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED,
               0, 0, 0));
    for (int cap = 0; cap <= p->h->last_cap; cap++)
        STEP(p, SB_STEP_CAPS, prctl(PR_CAPBSET_DROP, cap, 0, 0, 0));
    STEP(p, SB_STEP_CAPS, prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0));
    memset(data, 0, sizeof data);
    STEP(p, SB_STEP_CAPS, syscall(SYS_capset, &hdr, data));
}

/* The steps that do not depend on the request, up to the rootfs (a cell
 * takes them ahead of demand). */
static void prepare(const struct sb_prep *p)
{
    close_inherited(p);
    leave_session(p);
    wait_for_parent(p);
    set_ids(p);
}

/* From no capability on: the last steps, and execve (returns only if it
 * failed; not noreturn itself: under the sanitizer, a call to a noreturn
 * function prints a warning about our stack into the task's output). */
static void seal_and_exec(const struct sb_prep *p)
{
    drop_caps(p);
    STEP(p, SB_STEP_NNP, prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    /* Last: from here on only the policy's syscalls work. */
    STEP(p, SB_STEP_SECCOMP, prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &p->prog, 0, 0));
    execve(p->argv[0], p->argv, p->envp);
}

__attribute__((noreturn)) void sb_child_main(struct sb_prep *p)
{
    prepare(p);
    enter_cgroupns(p);
    mount_root(p);
    write_files(p);
    STEP(p, SB_STEP_HOSTNAME, sethostname(p->req->hostname, strlen(p->req->hostname)));
    loopback_up(p);
    set_stdio(p);
    set_rlimits(p);
    seal_and_exec(p);
    fail(p, SB_STEP_EXEC);
}

/* ---- the request's part, and a cell's hand-over ------------------------- */

/* The cell's copy of the hand-over (its own pages: written only here). */
static struct sb_handover g_ho;

/* The descriptors that came with the hand-over: exactly those announced. */
static int handover_fds(const struct msghdr *mh, int fds[2], unsigned want)
{
    const struct cmsghdr *cm = CMSG_FIRSTHDR(mh);
    unsigned n = 0;

    fds[0] = fds[1] = -1;
    if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
        n = (unsigned)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        if (n <= 2)
            memcpy(fds, CMSG_DATA(cm), n * sizeof(int));
        if (CMSG_NXTHDR((struct msghdr *)mh, (struct cmsghdr *)cm))
            n = 3;
    }
    return n == want ? 0 : -1;
}

/* Every length of the request's part within its bounds and the n bytes read. */
static int handover_ok(const struct sb_handover *h, size_t n)
{
    size_t bpf = (size_t)h->bpf_len * sizeof(struct sock_filter);

    if (n < offsetof(struct sb_handover, data) || h->bpf_len == 0 || h->bpf_len > BPF_MAXINSNS ||
        h->strings_len > JC_STRINGS_MAX || h->nfiles > JC_FILES_MAX ||
        h->argc > JC_ARGV_MAX || h->envc > JC_ENV_MAX ||
        n != offsetof(struct sb_handover, data) + bpf + h->strings_len ||
        memchr(h->hostname, 0, sizeof h->hostname) == NULL || memchr(h->tmp_opts, 0, sizeof h->tmp_opts) == NULL)
        return -1;
    for (unsigned i = 0; i < h->nfiles; i++)
        if (memchr(h->file_paths[i], 0, sizeof h->file_paths[i]) == NULL)
            return -1;
    return 0;
}

/* argv (after init's path) then envp, pointing into the strings: exactly
 * argc + envc of them, the last one ending the strings. */
static int split_strings(struct sb_prep *p, const struct sb_handover *h)
{
    char *s = (char *)h->data + (size_t)h->bpf_len * sizeof(struct sock_filter);
    char *end = s + h->strings_len;
    unsigned total = (unsigned)h->argc + h->envc;

    for (unsigned i = 0; i < total; i++) {
        char *nul = s < end ? memchr(s, 0, (size_t)(end - s)) : NULL;
        if (!nul)
            return -1;
        if (i < h->argc)
            p->argv[i + 1] = s;
        else
            p->envp[i - h->argc] = s;
        s = nul + 1;
    }
    p->argv[0] = (char *)JC_INIT_PATH;
    p->argv[h->argc + 1] = NULL;
    p->envp[h->envc] = NULL;
    return s == end ? 0 : -1;
}

int sb_request_take(struct sb_prep *p, const struct sb_handover *h, size_t n)
{
    if (handover_ok(h, n) < 0 || split_strings(p, h) < 0)
        return -1;
    p->req = h;
    p->prog = (struct sock_fprog){.len = h->bpf_len, .filter = (struct sock_filter *)(void *)h->data};
    return 0;
}

/* Wait for the task (EOF: the warden is gone, or discarded us), and check
 * what came to the last byte: the warden is trusted, but a cell reads into
 * fixed buffers only what fits them. */
static void receive_handover(struct sb_prep *p)
{
    union {
        char buf[CMSG_SPACE(3 * sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {.iov_base = &g_ho, .iov_len = sizeof g_ho};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                        .msg_controllen = sizeof ctl.buf};
    int fds[2];
    ssize_t n;

    while ((n = recvmsg(p->s->cell_sock, &mh, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
        ;
    if (n == 0)
        _exit(0);
    STEP(p, SB_STEP_HANDOVER, n);
    errno = EPROTO;
    if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || sb_request_take(p, &g_ho, (size_t)n) < 0 ||
        handover_fds(&mh, fds, (unsigned)g_ho.has_stdin + (g_ho.nfiles ? 1U : 0U)) < 0)
        fail(p, SB_STEP_HANDOVER);
    p->stdin_fd = g_ho.has_stdin ? fds[0] : p->s->null_fd;
    p->files_fd = g_ho.nfiles ? fds[g_ho.has_stdin ? 1 : 0] : -1;
}

/* What the set-up left for now (struct sb_host): the limit on cgroup
 * namespaces, then /proc/sys read-only — named inside the rootfs, our "/"
 * since pivot_root. */
static void late_proc(const struct sb_prep *p)
{
    size_t skip = strlen(p->h->rootfs);
    struct sb_proc_path e;

    for (unsigned i = p->s->n_user_limits; i < p->h->n_user_limits_all; i++)
        write_file(p, SB_STEP_USER_LIMITS, p->h->user_limits[i].path + skip, p->h->user_limits[i].value);
    for (unsigned i = p->s->n_proc_paths; i < p->h->n_proc_paths_all; i++) {
        size_t len = strlen(p->h->proc_paths[i].path + skip);
        memcpy(e.path, p->h->proc_paths[i].path + skip, len + 1);
        e.kind = p->h->proc_paths[i].kind;
        trim_proc_entry(p, &e, NULL);
    }
}

/* /tmp was mounted with the default size: the request's, if it differs. */
static void resize_tmp(const struct sb_prep *p)
{
    if (p->req->tmp_opts[0])
        STEP(p, SB_STEP_TMP, mount(NULL, "/tmp", NULL, MS_REMOUNT | MS_NOSUID | MS_NODEV, p->req->tmp_opts));
}

/* A cell: everything that does not depend on the request (namespaces,
 * ids, the rootfs with /proc, /tmp and /dev, lo, rlimits), then the wait
 * for its task, then the rest of the checklist. */
__attribute__((noreturn)) void sb_cell_main(struct sb_prep *p)
{
    prepare(p);
    mount_root(p);
    loopback_up(p);
    set_rlimits(p);
    receive_handover(p);
    enter_cgroupns(p);
    late_proc(p);
    resize_tmp(p);
    write_files(p);
    STEP(p, SB_STEP_HOSTNAME, sethostname(p->req->hostname, strlen(p->req->hostname)));
    set_stdio(p);
    seal_and_exec(p);
    fail(p, SB_STEP_EXEC);
}
