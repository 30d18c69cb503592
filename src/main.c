/* main.c — jobcelld's start-up and the privilege-separating fork.
 *
 * Order: configuration → checks that can fail loudly (root, rootfs, seccomp
 * profiles compiled to BPF, service user, state directory, cgroups, the
 * listening socket) → one line saying what is in effect → fork, before any
 * thread exists: the child becomes the unprivileged front (HTTP), the parent
 * stays root as the warden (spawns).
 *
 * Before anything else: every descriptor above 2 that whoever started us
 * left open is closed (neither process may hold what root inherited), and
 * the signals that stop the daemon are blocked, so that one arriving at any
 * point of start-up waits, pending, for the warden's signalfd (or makes a
 * failing start-up clean up) instead of killing us by the default action
 * half-way, with the socket file and cgroups left behind.
 * Runs in: the initial process. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cgroup.h"
#include "config.h"
#include "front.h"
#include "log.h"
#include "metrics.h"
#include "logspace.h"
#include "idrange.h"
#include "policy.h"
#include "reload.h"
#include "request.h"
#include "warden.h"

struct startup {
    struct jc_config cfg;
    struct jc_policy_set policies;
    struct cg_ctx cg;
    uid_t uid;
    gid_t gid;
    int listen_fd, tasks_dirfd, logs_dirfd;
    struct logspace *space;
    /* unix:PATH — its directory (opened before the bind) and its name
     * there; the file bind() made, once made (remove_socket()). */
    int sock_dirfd;
    char sock_name[sizeof ((struct jc_config *)0)->listen_unix];
    bool sock_bound;
    dev_t sock_dev;
    ino_t sock_ino;
};

static int check_rootfs(const struct jc_config *c, struct jc_err *err)
{
    char path[PATH_MAX + 32];
    struct stat st;

    if (stat(c->rootfs, &st) < 0)
        return jc_fail(err, errno, "rootfs %s is not usable", c->rootfs);
    if (!S_ISDIR(st.st_mode))
        return jc_fail(err, 0, "rootfs %s is not usable: not a directory", c->rootfs);
    snprintf(path, sizeof path, "%s%s", c->rootfs, JC_INIT_PATH);
    if (access(path, X_OK) < 0)
        return jc_fail(err, errno, "rootfs %s is not usable: %s missing (build the rootfs, or copy jobcell-init into it)",
                       c->rootfs, JC_INIT_PATH);
    for (const char *d = "/proc\0/dev\0/tmp\0"; *d; d += strlen(d) + 1) {
        snprintf(path, sizeof path, "%s%s", c->rootfs, d);
        /* lstat: the sandbox mounts over these; a symlink would redirect it. */
        if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
            return jc_fail(err, 0, "rootfs %s is not usable: %s must be a directory (not a symlink)", c->rootfs, d);
    }
    return 0;
}

static int lookup_user(struct startup *s, struct jc_err *err)
{
    struct passwd *pw;

    errno = 0;
    if (!(pw = getpwnam(s->cfg.user)))
        return jc_fail(err, errno, "user \"%s\" does not exist (create it: useradd --system --no-create-home --shell /usr/sbin/nologin %s; or pass --user)",
                       s->cfg.user, s->cfg.user);
    if (pw->pw_uid == 0)
        return jc_fail(err, 0, "user \"%s\" is root: the front must run unprivileged", s->cfg.user);
    s->uid = pw->pw_uid;
    s->gid = pw->pw_gid;
    return 0;
}

/* state_dir (root's), with tasks/ and logs/ owned by the service user. */
static int open_subdir(int parent, const char *name, uid_t uid, gid_t gid, mode_t mode,
                       struct jc_err *err)
{
    int fd;

    if (mkdirat(parent, name, mode) < 0 && errno != EEXIST)
        return jc_fail(err, errno, "state dir: mkdir %s", name);
    fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return jc_fail(err, errno, "state dir: open %s", name);
    if (fchown(fd, uid, gid) < 0 || fchmod(fd, mode) < 0) {
        close(fd);
        return jc_fail(err, errno, "state dir: chown/chmod %s", name);
    }
    return fd;
}

static int open_state_dir(struct startup *s, struct jc_err *err)
{
    _cleanup_close_ int fd = -1;

    if (mkdir(s->cfg.state_dir, 0755) < 0 && errno != EEXIST)
        return jc_fail(err, errno, "state dir %s is not usable", s->cfg.state_dir);
    fd = open(s->cfg.state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return jc_fail(err, errno, "state dir %s is not usable", s->cfg.state_dir);
    s->tasks_dirfd = open_subdir(fd, "tasks", s->uid, s->gid, 0700, err);
    if (s->tasks_dirfd < 0)
        return jc_err_prefix(err, "%s: ", s->cfg.state_dir);
    s->logs_dirfd = open_subdir(fd, "logs", s->uid, s->gid, 0750, err);
    if (s->logs_dirfd < 0)
        return jc_err_prefix(err, "%s: ", s->cfg.state_dir);
    return 0;
}

static int load_token(struct jc_config *c, struct jc_err *err)
{
    return c->token_file[0] ? config_read_token(c->token_file, c->token, err) : 0;
}

/* A network listener with no token lets anyone who reaches it run code. */
static int check_exposure(const struct jc_config *c, struct jc_err *err)
{
    struct in_addr a;

    if (c->listen_unix[0] || c->token[0] || c->insecure_remote)
        return 0;
    if (inet_pton(AF_INET, c->listen_host, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127)
        return 0;
    return jc_client(err, 400, "refusing to listen on %s:%u without authentication: pass --token-file FILE, "
                     "or --insecure-allow-remote-without-token to accept that anyone who reaches this port can run code",
                     c->listen_host, c->listen_port);
}

/* The socket's directory, opened once: the file is checked, replaced and
 * removed from there, not by a path the warden resolves later in a mount
 * namespace of its own (devdir.c), maybe with other mounts in it. */
static int open_sock_dir(struct startup *s, struct jc_err *err)
{
    char dir[sizeof s->cfg.listen_unix];
    char *slash;

    snprintf(dir, sizeof dir, "%s", s->cfg.listen_unix);
    slash = strrchr(dir, '/'); /* there is one: the path is absolute (config.c) */
    snprintf(s->sock_name, sizeof s->sock_name, "%s", slash + 1);
    if (!s->sock_name[0])
        return jc_fail(err, 0, "--listen unix:%s: names a directory", s->cfg.listen_unix);
    *(slash == dir ? slash + 1 : slash) = 0;
    s->sock_dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (s->sock_dirfd < 0)
        return jc_fail(err, errno, "--listen unix:%s: opening its directory", s->cfg.listen_unix);
    return 0;
}

/* A socket file at the path is a previous run's only if nobody listens
 * on it (connect: ECONNREFUSED); a running daemon's stays its own, or it
 * would be cut off, and its exit would then remove ours. */
static int clear_stale(const struct startup *s, const struct sockaddr_un *a, struct jc_err *err)
{
    struct stat st;
    _cleanup_close_ int probe = -1;

    if (fstatat(s->sock_dirfd, s->sock_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISSOCK(st.st_mode))
        return 0; /* nothing there, or no socket: bind() fails on it */
    if ((probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
        return jc_fail(err, errno, "socket");
    if (connect(probe, (const struct sockaddr *)a, sizeof *a) == 0 || errno == EAGAIN)
        return jc_fail(err, 0, "--listen unix:%s: in use: a running process listens on it", a->sun_path);
    if (errno != ECONNREFUSED)
        return jc_fail(err, errno, "--listen unix:%s: probing the socket already there", a->sun_path);
    if (unlinkat(s->sock_dirfd, s->sock_name, 0) < 0)
        return jc_fail(err, errno, "--listen unix:%s: removing the old socket", a->sun_path);
    return 0;
}

/* The file bind() made: which one remove_socket() may remove. */
static int note_bound(struct startup *s)
{
    struct stat st;

    if (fstatat(s->sock_dirfd, s->sock_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return -1;
    s->sock_dev = st.st_dev;
    s->sock_ino = st.st_ino;
    s->sock_bound = true;
    return 0;
}

/* unix:PATH — mode 0660, group of the service user; peers are checked too. */
static int open_unix_listener(struct startup *s, struct jc_err *err)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    if (fd < 0)
        return jc_fail(err, errno, "socket");
    snprintf(a.sun_path, sizeof a.sun_path, "%s", s->cfg.listen_unix);
    if (open_sock_dir(s, err) < 0 || clear_stale(s, &a, err) < 0)
        return -1;
    /* The mode comes from the umask at bind(): no chmod by path that a
     * swapped-in symlink could redirect; the chown never follows one. */
    mode_t old = umask(0117);
    int rc = bind(fd, (struct sockaddr *)&a, sizeof a);
    umask(old);
    if (rc < 0)
        return jc_fail(err, errno, "--listen unix:%s", a.sun_path);
    if (note_bound(s) < 0 || fchownat(s->sock_dirfd, s->sock_name, 0, s->gid, AT_SYMLINK_NOFOLLOW) < 0 ||
        listen(fd, 1024) < 0) {
        int e = errno;
        (void)unlinkat(s->sock_dirfd, s->sock_name, 0); /* ours: bound a moment ago */
        s->sock_bound = false;
        return jc_fail(err, e, "--listen unix:%s", a.sun_path);
    }
    s->listen_fd = JC_STEAL_FD(fd);
    return 0;
}

static int open_listener(struct startup *s, struct jc_err *err)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(s->cfg.listen_port)};
    int one = 1;
    _cleanup_close_ int fd = -1;

    if (s->cfg.listen_unix[0])
        return open_unix_listener(s, err);
    if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
        return jc_fail(err, errno, "socket");
    inet_pton(AF_INET, s->cfg.listen_host, &a.sin_addr);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
        return jc_fail(err, errno, "setsockopt");
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 1024) < 0)
        return jc_fail(err, errno, "--listen %s:%u", s->cfg.listen_host, s->cfg.listen_port);
    s->listen_fd = JC_STEAL_FD(fd);
    return 0;
}

/* Limits whose controller is missing (bit i: jc_limit_defs[i]) are
 * refused if a request asks for them. */
static void note_missing_limits(struct startup *s)
{
    static const struct { unsigned bit; const char *name; } ctl[] = {
        {CG_MEMORY, "memory"}, {CG_PIDS, "pids"}, {CG_CPU, "cpu"},
    };

    for (unsigned i = 0; i < JC_NLIMITS; i++)
        for (unsigned c = 0; c < JC_ARRAY_LEN(ctl); c++) {
            const char *need = jc_limit_defs[i].controller;
            if (!need || strcmp(need, ctl[c].name) != 0 || (s->cg.controllers & ctl[c].bit))
                continue;
            s->cfg.missing_limits |= 1u << i;
            log_warnx("cgroup controller \"%s\" is not available: tasks run without a %s limit and requests that set limits.%s are refused",
                      need, jc_limit_defs[i].name, jc_limit_defs[i].name);
        }
}

/* The soft RLIMIT_NOFILE up to the hard one (both processes inherit it),
 * then max_running and max_connections within what it allows. */
static int fit_fd_limit(struct jc_config *c, struct jc_err *err)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return jc_fail(err, errno, "getrlimit RLIMIT_NOFILE");
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        return jc_fail(err, errno, "raising RLIMIT_NOFILE to %llu", (unsigned long long)rl.rlim_max);
    config_fit_nofile(c, rl.rlim_cur == RLIM_INFINITY ? UINT32_MAX : (uint64_t)rl.rlim_cur);
    return 0;
}

/* --check-config: the state directory would be usable, checked without
 * creating it: a directory of ours (no symlink), or one its parent lets
 * root create. */
static int check_state_dir(const struct jc_config *c, struct jc_err *err)
{
    char parent[PATH_MAX];
    char *slash;
    struct stat st;

    if (lstat(c->state_dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            return jc_fail(err, 0, "state dir %s is not usable: not a directory", c->state_dir);
        if (access(c->state_dir, W_OK | X_OK) < 0)
            return jc_fail(err, errno, "state dir %s is not usable", c->state_dir);
        return 0;
    }
    if (errno != ENOENT)
        return jc_fail(err, errno, "state dir %s is not usable", c->state_dir);
    snprintf(parent, sizeof parent, "%s", c->state_dir);
    slash = strrchr(parent, '/');
    if (slash)
        *(slash == parent ? slash + 1 : slash) = 0;
    if (access(slash ? parent : ".", W_OK | X_OK) < 0)
        return jc_fail(err, errno, "state dir %s cannot be created (its parent %s)", c->state_dir,
                       slash ? parent : ".");
    return 0;
}

static void check_one(struct jc_problems *p, int rc, struct jc_err *err)
{
    if (rc < 0)
        jc_problem(p, err);
    jc_err_clear(err);
}

static int check_root(const struct jc_config *c, struct jc_err *err);

/* The slots' host ids (uid_base + i, i < max_running + pool_size) are
 * nobody else's (idrange.h). */
static int check_ids(const struct jc_config *c, struct jc_err *err)
{
    return idrange_check(&idrange_system, c->uid_base, c->max_running + c->pool_size, err);
}

/* --check-config: every check start-up makes except those that change
 * something (cgroups, the listening socket, the state directory), each
 * independent of the others, so that every problem is listed.  Exit 0 or 2. */
static int check_config(struct startup *s, struct jc_problems *p)
{
    struct jc_err err = {0};
    int rc;

    check_one(p, check_root(&s->cfg, &err), &err);
    check_one(p, load_token(&s->cfg, &err), &err);
    explicit_bzero(s->cfg.token, sizeof s->cfg.token);
    check_one(p, check_exposure(&s->cfg, &err), &err);
    check_one(p, check_rootfs(&s->cfg, &err), &err);
    rc = policy_load_dir(s->cfg.policy_dir, &s->policies, &err);
    if (rc < 0)
        jc_err_prefix(&err, "seccomp policy: ");
    check_one(p, rc, &err);
    check_one(p, lookup_user(s, &err), &err);
    check_one(p, check_ids(&s->cfg, &err), &err);
    check_one(p, check_state_dir(&s->cfg, &err), &err);
    for (unsigned i = 0; i < p->n && i < JC_PROBLEMS_MAX; i++)
        fprintf(stderr, "jobcelld: %s\n", p->items[i].msg);
    if (p->n > JC_PROBLEMS_MAX)
        fprintf(stderr, "jobcelld: ... and %u more\n", p->n - JC_PROBLEMS_MAX);
    if (p->n) {
        fprintf(stderr, "jobcelld: --check-config: %u problem%s\n", p->n, p->n == 1 ? "" : "s");
        return 2;
    }
    printf("jobcelld: --check-config: OK (rootfs %s, %zu seccomp profiles in %s, state dir %s, user %s)\n",
           s->cfg.rootfs, s->policies.count, s->cfg.policy_dir, s->cfg.state_dir, s->cfg.user);
    return 0;
}

static int check_root(const struct jc_config *c, struct jc_err *err)
{
    if (geteuid() != 0)
        return jc_fail(err, 0, "jobcelld must run as root (it drops privileges itself: the HTTP front runs as \"%s\")",
                       c->user);
    return 0;
}

/* The configuration is loaded (config_collect) and had no problem. */
static int prepare(struct startup *s, struct jc_err *err)
{
    log_init("jobcelld", s->cfg.log_level);
    if (check_root(&s->cfg, err) < 0)
        return -1;
    config_warn_stop_time(&s->cfg);
    if (fit_fd_limit(&s->cfg, err) < 0 || load_token(&s->cfg, err) < 0 ||
        check_exposure(&s->cfg, err) < 0 || check_rootfs(&s->cfg, err) < 0)
        return -1;
    if (policy_load_dir(s->cfg.policy_dir, &s->policies, err) < 0)
        return jc_err_prefix(err, "seccomp policy: ");
    if (lookup_user(s, err) < 0 || check_ids(&s->cfg, err) < 0 || open_state_dir(s, err) < 0 ||
        open_listener(s, err) < 0)
        return -1;
    /* Last: from here on a failure would have to undo cgroups. */
    if (logspace_open(&s->space, &s->cfg, s->logs_dirfd, err) < 0)
        return -1;
    if (cg_init(&s->cg, &s->cfg, err) < 0)
        return -1;
    note_missing_limits(s);
    return 0;
}

static void log_isolation(const struct startup *s)
{
    char ctl[64];
    const struct jc_policy *p = policy_find(&s->policies, "default");

    cg_controllers_str(&s->cg, ctl, sizeof ctl);
    char where[160];

    if (s->cfg.listen_unix[0])
        snprintf(where, sizeof where, "unix:%s", s->cfg.listen_unix);
    else
        snprintf(where, sizeof where, "%s:%u", s->cfg.listen_host, s->cfg.listen_port);
    log_info("listening on %s (%s), node %s; isolation: namespaces user,pid,mount,uts,ipc,net,cgroup; "
             "cgroup %s (%s%s); seccomp \"default\" sha256 %.12s (%zu profiles); no capabilities; "
             "rootfs %s (read-only); front runs as %s",
             where, s->cfg.token[0] ? "bearer token required" : "no authentication", s->cfg.node,
             cg_mode_name(&s->cg), ctl,
             s->cg.memsw ? ", swap limited to 0" : "", p ? p->sha256 : "?", s->policies.count,
             s->cfg.rootfs, s->cfg.user);
}

/* The fork happens before any thread exists (both sides start their own). */
static int split(struct startup *s)
{
    int sv[2];
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        log_warn("socketpair");
        return 1;
    }
    if (metrics_cells_map() < 0) { /* the warden counts cells, the front shows them */
        log_warn("mmap (the cells' counters)");
        return 1;
    }
    if ((pid = fork()) < 0) {
        log_warn("fork");
        return 1;
    }
    if (pid == 0) {
        struct front f = {.cfg = &s->cfg, .policies = &s->policies, .cg = &s->cg,
                          .sock = sv[1], .logs_dirfd = s->logs_dirfd, .space = s->space};
        close(sv[0]);
        if (s->sock_dirfd >= 0)
            close(s->sock_dirfd); /* the socket file is the warden's to remove */
        _exit(front_run(&f, s->listen_fd, s->tasks_dirfd, s->uid, s->gid));
    }
    close(sv[1]);
    explicit_bzero(s->cfg.token, sizeof s->cfg.token); /* the front's secret */
    close(s->listen_fd);   /* the warden has no network socket */
    close(s->tasks_dirfd); /* records are the front's */
    /* Tasks must inherit no supplementary group of root's. */
    if (setgroups(0, NULL) < 0) {
        log_warn("setgroups");
        (void)kill(pid, SIGTERM); /* best effort: we are failing anyway */
        return 1;
    }
    return warden_run(&s->cfg, &s->cg, &s->policies, sv[0], pid, s->uid, s->gid, s->logs_dirfd,
                      s->space);
}

/* stdin/stdout/stderr must exist, or a later open() would become one;
 * every other inherited descriptor goes (the one /dev/null above 2 too). */
static void sanitize_fds(void)
{
    for (int fd = open("/dev/null", O_RDWR); fd >= 0 && fd <= 2; fd = open("/dev/null", O_RDWR))
        ;
    if (close_range(3, ~0U, 0) == 0)
        return;
    /* Kernels before 5.9: one by one, up to the descriptor limit. */
    for (long fd = 3, max = sysconf(_SC_OPEN_MAX); fd < max; fd++)
        (void)close((int)fd);
}

/* The stop signals wait, pending, until the warden reads them.  SIGCHLD
 * too until the warden's set-up, which then lets it be discarded: its
 * default action (whatever a parent left us with: SIG_IGN, inherited
 * across exec, would make the kernel reap our children before their
 * pidfds could). */
static void block_stop_signals(void)
{
    sigset_t set;

    (void)signal(SIGCHLD, SIG_DFL); /* cannot fail for SIGCHLD */
    sigemptyset(&set);
    for (const int *sig = (const int[]){SIGTERM, SIGINT, SIGHUP, SIGCHLD, 0}; *sig; sig++)
        sigaddset(&set, *sig);
    (void)sigprocmask(SIG_BLOCK, &set, NULL); /* cannot fail with a valid set */
}

/* A connection needs a descriptor and the slow-client guard a second one:
 * the soft limit goes up to the hard one. */
static void raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            log_warn("raising RLIMIT_NOFILE");
    }
}

/* At exit, and after a start-up that fails once bound: the socket file
 * goes — the one bind() made, not one that has taken the path since (a
 * successor's, say), which stays its owner's. */
static void remove_socket(const struct startup *s)
{
    struct stat st;

    if (!s->sock_bound)
        return;
    if (fstatat(s->sock_dirfd, s->sock_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT)
            log_warnx("%s was removed by someone else before our exit", s->cfg.listen_unix);
        else
            log_warn("%s: looking at it before removing it", s->cfg.listen_unix);
        return;
    }
    if (st.st_dev != s->sock_dev || st.st_ino != s->sock_ino) {
        log_warnx("%s is no longer the socket we made: left to its owner", s->cfg.listen_unix);
        return;
    }
    if (unlinkat(s->sock_dirfd, s->sock_name, 0) < 0 && errno != ENOENT)
        log_warn("removing %s", s->cfg.listen_unix);
}

int main(int argc, char **argv)
{
    static struct startup s = {.listen_fd = -1, .tasks_dirfd = -1, .logs_dirfd = -1, .sock_dirfd = -1};
    static struct jc_problems problems;
    struct jc_err err = {0};
    int rc;

    block_stop_signals();
    sanitize_fds();
    reload_remember_args(argc, argv);
    log_init("jobcelld", LOG_LVL_INFO);
    raise_fd_limit();
    if (config_collect(&s.cfg, argc, argv, &problems) == 1)
        return 0;
    if (s.cfg.check_only) {
        rc = check_config(&s, &problems);
        policy_set_free(&s.policies);
        return rc;
    }
    if (problems.n) {
        for (unsigned i = 0; i < problems.n && i < JC_PROBLEMS_MAX; i++)
            fprintf(stderr, "jobcelld: %s\n", problems.items[i].msg);
        return problems.items[0].fault == JC_FAULT_CLIENT ? 2 : 1;
    }
    rc = prepare(&s, &err);
    if (rc < 0) {
        remove_socket(&s);
        fprintf(stderr, "jobcelld: %s\n", err.msg);
        return err.fault == JC_FAULT_CLIENT ? 2 : 1;
    }
    log_isolation(&s);
    rc = split(&s);
    remove_socket(&s);
    policy_set_free(&s.policies);
    return rc;
}
