/* init.c — jobcell-init: PID 1 of every task's pid namespace.
 *
 * Owns: starting the task's PROGRAM, forwarding signals to it, reaping every
 * process of the namespace (orphans included), and reporting STARTED /
 * EXEC_FAILED / ENDED records on fd 3 (the protocol is in init_proto.h).
 *
 *     /sbin/jobcell-init PROGRAM [ARGS...]     (envp goes to PROGRAM as is)
 *
 * Runs in: the task sandbox.  The warden's clone child execs it as the last
 * step of its checklist, so it is already inside all namespaces, on the
 * read-only rootfs, under the task's seccomp filter, without capabilities.
 * It therefore uses only plain syscalls an ordinary allow-list permits:
 * fcntl, rt_sigaction, rt_sigprocmask, pipe2, fork, setsid, execve, read,
 * write, close, rt_sigtimedwait, kill, wait4, exit_group (and what musl's
 * start-up and fork add: arch_prctl, set_tid_address, gettid).
 *
 * Why it exists: the kernel drops signals sent from inside a pid namespace
 * to its PID 1 unless PID 1 handles them, and orphans are re-parented to
 * PID 1.  A task run directly as PID 1 would ignore SIGTERM and pile up
 * zombies.  When init exits, the kernel kills whatever is left.
 *
 * It starts as the leader of a session and process group of its own (the
 * warden's clone child calls setsid() before exec'ing it, so no moment of
 * the task is spent in the daemon's group): a Ctrl-C in the daemon's
 * terminal or kill(-pgid) of the daemon never reaches init or PROGRAM, and
 * the signals init forwards come only from its sandbox or the warden.
 *
 * Static (musl), single-threaded, no allocation. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "init_proto.h"

extern char **environ;

/* Signals passed on to PROGRAM; the supervisor waits for these + SIGCHLD. */
static const int forwarded[] = {
    SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGCONT, SIGWINCH,
};

/* stderr is the task's output pipe: if writing there fails, there is no one
 * left to tell, so the result of dprintf is deliberately ignored. */
static void warn_errno(const char *what)
{
    (void)dprintf(STDERR_FILENO, "jobcell-init: %s: %s\n", what, strerror(errno));
}

static _Noreturn void die(const char *what)
{
    warn_errno(what);
    _exit(JC_INIT_EXIT_INIT_FAILED);
}

/* fd 3 must be open, or the daemon would learn nothing.  Close-on-exec, so
 * neither PROGRAM nor its descendants hold the pipe: they could forge
 * records, and would keep the daemon from seeing EOF when init exits. */
static void setup_status_fd(void)
{
    int flags = fcntl(JC_INIT_STATUS_FD, F_GETFD);
    if (flags < 0)
        die("status fd 3 is not open");
    if (fcntl(JC_INIT_STATUS_FD, F_SETFD, flags | FD_CLOEXEC) < 0)
        die("fcntl(3, F_SETFD, FD_CLOEXEC)");
}

/* One record, one write() (8 bytes to a pipe: atomic).  A failure is only
 * reported: the daemon still gets init's exit status, and PROGRAM should
 * not die because its observer went away.  SIGPIPE is blocked, so a closed
 * reader shows up here as EPIPE. */
static void send_msg(enum jc_init_kind kind, int32_t value)
{
    const struct jc_init_msg msg = {.kind = (uint32_t)kind, .value = value};
    ssize_t n;

    do
        n = write(JC_INIT_STATUS_FD, &msg, sizeof msg);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        warn_errno("write(status fd 3)");
    else if ((size_t)n != sizeof msg)
        (void)dprintf(STDERR_FILENO, "jobcell-init: short write on status fd 3\n");
}

static void close_or_warn(int fd)
{
    /* Never retried: on Linux the fd is released even when close fails. */
    if (close(fd) < 0)
        warn_errno("close");
}

/* execve keeps SIG_IGN dispositions, so anything ignored on the warden's
 * side would stay ignored here and in PROGRAM; an ignored SIGCHLD would even
 * make the kernel reap PROGRAM and lose its status.  Reset every signal
 * that can be reset (not SIGKILL/SIGSTOP, nor musl's internal 32..34) to
 * SIG_DFL; PROGRAM inherits the defaults through fork and execve. */
static void reset_dispositions(void)
{
    const struct sigaction dfl = {.sa_handler = SIG_DFL};

    for (int sig = 1; sig < _NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP || (sig >= 32 && sig < SIGRTMIN))
            continue;
        if (sigaction(sig, &dfl, NULL) < 0)
            die("sigaction(SIG_DFL)");
    }
}

static void build_waitset(sigset_t *set)
{
    sigemptyset(set);
    for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
        sigaddset(set, forwarded[i]);
    sigaddset(set, SIGCHLD);
}

/* Until the daemon closes its end of the go pipe (init_proto.h): the
 * task's limits are complete only then.  A byte, if one comes, is a go too. */
static void wait_go(void)
{
    char c;
    ssize_t n;

    do
        n = read(JC_INIT_GO_FD, &c, 1);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        die("read(go fd 4)");
    close_or_warn(JC_INIT_GO_FD);
}

/* Blocked before fork, so that nothing sent between fork and the supervise
 * loop is lost: a blocked signal stays pending even for a namespace's PID 1
 * (the kernel never discards blocked signals).  SIGPIPE is blocked too but
 * never waited for: it turns a vanished status reader into EPIPE. */
static void block_signals(const sigset_t *waitset)
{
    sigset_t blocked = *waitset;

    sigaddset(&blocked, SIGPIPE);
    if (sigprocmask(SIG_BLOCK, &blocked, NULL) < 0)
        die("sigprocmask(SIG_BLOCK)");
}

/* Child side of the fork, async-signal-safe only.  A failure of any step is
 * sent as its errno through the close-on-exec pipe; success closes it. */
static _Noreturn void run_program(int report_fd, char **argv)
{
    sigset_t none;

    sigemptyset(&none);
    /* An empty mask (pending signals are not inherited across fork): PROGRAM
     * starts with nothing blocked.  Its own session and process group, so
     * a shell's job control works and the job can be signalled as a group. */
    if (sigprocmask(SIG_SETMASK, &none, NULL) == 0 && setsid() >= 0)
        execve(argv[0], argv, environ);

    int err = errno;
    /* If even this write fails, the parent sees EOF, reports STARTED, and
     * then ENDED with exit code 127: still an honest outcome. */
    (void)write(report_fd, &err, sizeof err);
    _exit(JC_INIT_EXIT_EXEC_FAILED);
}

/* The child's verdict on execve: EOF (the pipe closed on exec) means PROGRAM
 * runs, 0 is returned; otherwise the errno of the failed step. */
static int read_exec_result(int fd)
{
    int err = 0;
    ssize_t n;

    do
        n = read(fd, &err, sizeof err);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        die("read(exec report pipe)");
    if (n != 0 && (size_t)n != sizeof err) {
        errno = EPROTO;
        die("short read on exec report pipe");
    }
    return n == 0 ? 0 : err;
}

/* Forks PROGRAM and returns its pid once its execve succeeded.  A failed
 * fork sends FORK_FAILED and exits 125; a failed execve sends EXEC_FAILED
 * and exits 127. */
static pid_t start_program(char **argv)
{
    int report[2];

    if (pipe2(report, O_CLOEXEC) < 0)
        die("pipe2");
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno; /* e.g. EAGAIN: a pids limit is used up */
        send_msg(JC_INIT_FORK_FAILED, err);
        errno = err;
        die("fork");
    }
    if (pid == 0)
        run_program(report[1], argv);

    close_or_warn(report[1]); /* else read() would never see EOF */
    int err = read_exec_result(report[0]);
    close_or_warn(report[0]);
    if (err != 0) {
        send_msg(JC_INIT_EXEC_FAILED, err);
        errno = err;
        warn_errno(argv[0]);
        _exit(JC_INIT_EXIT_EXEC_FAILED);
    }
    return pid;
}

/* Reaps every exited child: PROGRAM and any orphan re-parented to PID 1.
 * Returns 1 and fills *status when PROGRAM was among them. */
static int reap_children(pid_t program, int *status)
{
    int found = 0;

    for (;;) {
        int st;
        pid_t pid = waitpid(-1, &st, WNOHANG);
        if (pid == 0 || (pid < 0 && errno == ECHILD))
            return found;
        if (pid < 0 && errno == EINTR)
            continue;
        if (pid < 0)
            die("waitpid");
        if (pid == program) {
            *status = st;
            found = 1;
        }
    }
}

static void forward_signal(pid_t program, int sig)
{
    /* ESRCH cannot normally happen (an unreaped zombie accepts signals);
     * if it does, PROGRAM is gone and its SIGCHLD is on the way. */
    if (kill(program, sig) < 0 && errno != ESRCH)
        warn_errno("kill");
}

/* PROGRAM ended: report its raw status and mirror it as init's exit code. */
static _Noreturn void finish(int status)
{
    send_msg(JC_INIT_ENDED, status);
    if (WIFEXITED(status))
        _exit(WEXITSTATUS(status));
    if (WIFSIGNALED(status))
        _exit(128 + WTERMSIG(status));
    _exit(JC_INIT_EXIT_INIT_FAILED); /* unreachable without WUNTRACED */
}

static _Noreturn void supervise(pid_t program, const sigset_t *waitset)
{
    for (;;) {
        int status;
        int sig = sigwaitinfo(waitset, NULL);

        if (sig < 0 && errno == EINTR)
            continue;
        if (sig < 0)
            die("sigwaitinfo");
        if (sig != SIGCHLD)
            forward_signal(program, sig);
        else if (reap_children(program, &status))
            finish(status);
    }
}

int main(int argc, char **argv)
{
    sigset_t waitset;

    setup_status_fd();
    /* The program runs as the same uid: without this it could read or
     * write init's memory through /proc/1/mem and forge its status reports. */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
        (void)dprintf(STDERR_FILENO, "jobcell-init: PR_SET_DUMPABLE: %s\n", strerror(errno));
        return JC_INIT_EXIT_INIT_FAILED;
    }
    if (argc < 2 || argv[1][0] != '/') {
        (void)dprintf(STDERR_FILENO,
                      "usage: jobcell-init /ABSOLUTE/PROGRAM [ARGS...]\n");
        return JC_INIT_EXIT_INIT_FAILED;
    }
    reset_dispositions();
    build_waitset(&waitset);
    block_signals(&waitset);

    wait_go();
    pid_t program = start_program(argv + 1);
    send_msg(JC_INIT_STARTED, program);
    supervise(program, &waitset);
}
