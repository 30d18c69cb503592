/* init.c — jobcell-init: PID 1 of every task's pid namespace.
 *
 * Owns: starting the task's PROGRAM, forwarding signals to it, reaping every
 * process of the namespace (orphans included), relaying PROGRAM's output,
 * and reporting STARTED / EXEC_FAILED / ENDED records, all on the one
 * channel of fd 3 (the protocol is in init_proto.h): the daemon holds a
 * single descriptor per running task.
 *
 *     /sbin/jobcell-init PROGRAM [ARGS...]     (envp goes to PROGRAM as is)
 *
 * Runs in: the task sandbox.  The warden's clone child execs it as the last
 * step of its checklist, so it is already inside all namespaces, on the
 * read-only rootfs, under the task's seccomp filter, without capabilities.
 * It therefore uses only plain syscalls an ordinary allow-list permits:
 * fcntl, rt_sigaction, rt_sigprocmask, signalfd4, pipe2, fork, setsid, dup2,
 * execve, read, write, poll, close, kill, wait4, exit_group (and what musl's
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
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
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

/* Everything init says goes through the channel: it holds no descriptor
 * that reaches the task's output but the channel (fds 1 and 2 are
 * /dev/null).  A record that cannot be sent is dropped: the daemon still
 * sees init's end, and PROGRAM should not die because its observer went
 * away.  The channel is non-blocking (the relay must not stall signals and
 * reaping); a single record waits here for room, at its end. */
static int chan_dead; /* the daemon's end is gone: output is dropped */

static void send_record(const void *buf, size_t n)
{
    struct pollfd pfd = {.fd = JC_INIT_CHAN_FD, .events = POLLOUT};

    while (!chan_dead) {
        ssize_t w = write(JC_INIT_CHAN_FD, buf, n);
        if (w == (ssize_t)n)
            return;
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN && (poll(&pfd, 1, -1) >= 0 || errno == EINTR))
            continue;
        chan_dead = 1; /* EPIPE (SIGPIPE is blocked), or a short send */
    }
}

/* "jobcell-init: ..." as an OUTPUT record: it lands in the task's log. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    struct {
        struct jc_init_msg h;
        char text[256];
    } rec;
    va_list ap;

    memcpy(rec.text, "jobcell-init: ", 14);
    va_start(ap, fmt);
    int n = vsnprintf(rec.text + 14, sizeof rec.text - 14, fmt, ap);
    va_end(ap);
    size_t len = 14 + (n < 0 ? 0 : (size_t)n < sizeof rec.text - 14 ? (size_t)n : sizeof rec.text - 15);
    rec.h = (struct jc_init_msg){.kind = JC_INIT_OUTPUT, .value = (int32_t)len};
    send_record(&rec, sizeof rec.h + len);
}

static void warn_errno(const char *what)
{
    say("%s: %s\n", what, strerror(errno));
}

static _Noreturn void die(const char *what)
{
    warn_errno(what);
    _exit(JC_INIT_EXIT_INIT_FAILED);
}

/* fd 3 must be open, or the daemon would learn nothing.  Close-on-exec, so
 * neither PROGRAM nor its descendants hold the channel: they could forge
 * records, and would keep the daemon from seeing EOF when init exits. */
static void setup_chan(void)
{
    int fd_flags = fcntl(JC_INIT_CHAN_FD, F_GETFD);
    int fl_flags = fcntl(JC_INIT_CHAN_FD, F_GETFL);

    if (fd_flags < 0 || fl_flags < 0)
        die("channel fd 3 is not open");
    if (fcntl(JC_INIT_CHAN_FD, F_SETFD, fd_flags | FD_CLOEXEC) < 0 ||
        fcntl(JC_INIT_CHAN_FD, F_SETFL, fl_flags | O_NONBLOCK) < 0)
        die("fcntl(3)");
}

/* One 8-byte status record. */
static void send_msg(enum jc_init_kind kind, int32_t value)
{
    const struct jc_init_msg msg = {.kind = (uint32_t)kind, .value = value};

    send_record(&msg, sizeof msg);
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

/* The program's stdout and stderr: a pipe whose read end only init holds
 * (non-blocking: the relay polls it).  Both close-on-exec; the program's
 * fork puts the write end on 1 and 2. */
static int out_pipe[2];

static void make_output_pipe(void)
{
    if (pipe2(out_pipe, O_CLOEXEC) < 0)
        die("pipe2(output)");
    if (fcntl(out_pipe[0], F_SETFL, O_NONBLOCK) < 0)
        die("fcntl(output, O_NONBLOCK)");
}

/* Child side of the fork, async-signal-safe only.  A failure of any step is
 * sent as its errno through the close-on-exec pipe; success closes it. */
static _Noreturn void run_program(int report_fd, char **argv)
{
    sigset_t none;

    sigemptyset(&none);
    /* An empty mask (pending signals are not inherited across fork): PROGRAM
     * starts with nothing blocked.  Its own session and process group, so
     * a shell's job control works and the job can be signalled as a group.
     * stdout and stderr: the output pipe (dup2 clears close-on-exec). */
    if (sigprocmask(SIG_SETMASK, &none, NULL) == 0 && setsid() >= 0 && dup2(out_pipe[1], 1) == 1 &&
        dup2(out_pipe[1], 2) == 2)
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
    close_or_warn(out_pipe[1]); /* else the relay would never see EOF */
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

/* ---- the relay: the output pipe to the channel ---------------------------
 * One record at a time: while it waits for room on the channel the pipe is
 * not read, so PROGRAM blocks on a full pipe (backpressure), never init. */
static struct {
    struct jc_init_msg h;
    char data[JC_INIT_CHUNK];
} rec;
static size_t pending; /* bytes of rec not yet sent (0: none) */

static void relay_flush(void)
{
    while (pending && !chan_dead) {
        ssize_t w = write(JC_INIT_CHAN_FD, &rec, pending);
        if (w == (ssize_t)pending)
            pending = 0;
        else if (w < 0 && (errno == EAGAIN || errno == EINTR))
            return; /* the loop polls for room */
        else
            chan_dead = 1;
    }
    pending = 0; /* sent, or no one to send it to */
}

/* One chunk of the pipe into rec and out, if there is one: 1, else 0 (EOF
 * closes the pipe: out_pipe[0] becomes -1). */
static int relay_read(void)
{
    ssize_t n = read(out_pipe[0], rec.data, sizeof rec.data);

    if (n > 0) {
        rec.h = (struct jc_init_msg){.kind = JC_INIT_OUTPUT, .value = (int32_t)n};
        pending = sizeof rec.h + (size_t)n;
        relay_flush();
        return 1;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n < 0)
        warn_errno("read(output pipe)");
    close_or_warn(out_pipe[0]);
    out_pipe[0] = -1;
    return 0;
}

/* The relay's record out before anything else is sent. */
static void relay_flush_wait(void)
{
    struct pollfd pfd = {.fd = JC_INIT_CHAN_FD, .events = POLLOUT};

    while (pending && !chan_dead) {
        relay_flush();
        if (pending && poll(&pfd, 1, -1) < 0 && errno != EINTR)
            chan_dead = 1;
    }
}

/* What PROGRAM left in the pipe goes out before ENDED; bounded, so that an
 * orphan that keeps writing cannot hold init (and the end) back. */
#define DRAIN_CHUNKS 64

/* PROGRAM ended: its last output, its raw status, and init's exit code
 * mirrors it. */
static _Noreturn void finish(int status)
{
    relay_flush_wait();
    for (int i = 0; i < DRAIN_CHUNKS && out_pipe[0] >= 0 && relay_read(); i++)
        relay_flush_wait();
    send_msg(JC_INIT_ENDED, status);
    if (WIFEXITED(status))
        _exit(WEXITSTATUS(status));
    if (WIFSIGNALED(status))
        _exit(128 + WTERMSIG(status));
    _exit(JC_INIT_EXIT_INIT_FAILED); /* unreachable without WUNTRACED */
}

/* The signals waiting on sigfd: forwarded, or (SIGCHLD) reaped. */
static void on_signals(int sigfd, pid_t program)
{
    struct signalfd_siginfo si;
    ssize_t n;
    int status;

    while ((n = read(sigfd, &si, sizeof si)) == (ssize_t)sizeof si) {
        if (si.ssi_signo != SIGCHLD)
            forward_signal(program, (int)si.ssi_signo);
        else if (reap_children(program, &status))
            finish(status);
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR)
        die("read(signalfd)");
}

/* Signals, and the relay: the pipe while no record waits, the channel's
 * room while one does. */
static _Noreturn void supervise(pid_t program, int sigfd)
{
    for (;;) {
        struct pollfd pfd[2] = {{.fd = sigfd, .events = POLLIN}, {.fd = -1}};

        if (pending)
            pfd[1] = (struct pollfd){.fd = JC_INIT_CHAN_FD, .events = POLLOUT};
        else if (out_pipe[0] >= 0)
            pfd[1] = (struct pollfd){.fd = out_pipe[0], .events = POLLIN};
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            die("poll");
        }
        if (pfd[1].revents && pending)
            relay_flush();
        else if (pfd[1].revents)
            (void)relay_read();
        if (pfd[0].revents)
            on_signals(sigfd, program);
    }
}

int main(int argc, char **argv)
{
    sigset_t waitset;

    setup_chan();
    /* The program runs as the same uid: without this it could read or
     * write init's memory through /proc/1/mem and forge its records. */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        die("PR_SET_DUMPABLE");
    if (argc < 2 || argv[1][0] != '/') {
        say("usage: jobcell-init /ABSOLUTE/PROGRAM [ARGS...]\n");
        return JC_INIT_EXIT_INIT_FAILED;
    }
    reset_dispositions();
    build_waitset(&waitset);
    block_signals(&waitset);
    /* Signals that arrive before it stay pending (they are blocked). */
    int sigfd = signalfd(-1, &waitset, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sigfd < 0)
        die("signalfd");
    make_output_pipe();

    wait_go();
    pid_t program = start_program(argv + 1);
    send_msg(JC_INIT_STARTED, program);
    supervise(program, sigfd);
}
