/* warden.c — the privileged loop and the monitor thread (see warden.h).
 *
 * Ownership: a struct wtask is created by the main thread after a
 * successful spawn, handed to the monitor by adding its fds to the epoll
 * set, and freed by the monitor after the task's end is reported.  The list
 * of live tasks and the per-task kill flags are shared and guarded by
 * w->lock; everything else in a wtask belongs to the monitor.
 *
 * Reports go to the front through w->chan and never block: a front that
 * stops reading cannot stall a timeout, an output cap or a kill.  One that
 * reads nothing for ipc_stall_s (or lets the queue fill) is dead: every
 * task is killed and the warden exits non-zero, as it does when the front
 * dies.  Only an asked-for stop (a signal to either process) exits 0.
 * A SIGTERM/SIGINT to the warden first drains (stop_signal()): the front
 * takes no new task, running ones get stop_grace_s; SIGHUP reloads the
 * configuration, the seccomp profiles and the token file (reload()): all
 * or nothing, never touching a running task.  Cells built ahead of demand
 * (pool.h) are taken by the main thread and built by a thread of their own.
 * An ended task's cgroup is removed by another (sweeper.h): its end is
 * reported without waiting for that.
 * Runs in: the warden (root). */
#include "warden.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../rootfs/init_proto.h"
#include "deadlines.h"
#include "front.h"
#include "input.h"
#include "ipc.h"
#include "log.h"
#include "logspace.h"
#include "notify.h"
#include "pool.h"
#include "reload.h"
#include "sandbox.h"
#include "sweeper.h"
#include "devdir.h"
#include "wmsg.h"
#include "util.h"

#define ID_BUCKETS 4096 /* the task index: chains of ~2 at 10 000 tasks */

enum tag_kind { TAG_PIDFD, TAG_ERR, TAG_CHAN, TAG_TIMER, TAG_WAKE };

struct wtask;
struct ep_tag {
    enum tag_kind kind;
    struct wtask *t;
};

/* A task's life in the monitor (docs/design.md): each step is taken when
 * its descriptor is ready, under a deadline; nothing waits on one child. */
enum phase {
    PH_EXEC,     /* released: EOF on the error pipe means it exec'd init */
    PH_STARTING, /* CPU limit written, init let go: waiting for STARTED */
    PH_RUNNING,  /* started: its output, ENDED, EOF on its channel, its timeout */
    PH_ENDING,   /* init is exiting: waiting for its pidfd (namespace gone) */
    PH_FAILING,  /* the spawn failed: killed, waiting for its pidfd */
    PH_DONE,     /* reported: freed once the batch of events is handled */
};

enum log_state { LOG_NONE, LOG_MADE, LOG_LOST };

/* What only a spawn in flight needs (freed at STARTED). */
struct spawning {
    struct jc_limits limits;
    struct jc_err err; /* PH_FAILING: what the front is told */
    struct sandbox_program prog;
    char name[];
};

struct wtask {
    char id[JC_ID_LEN];
    struct sandbox_task sb;
    uint32_t slot;
    uint32_t host_uid;    /* uid_base + slot (the monitor never reads the config) */
    enum phase phase;     /* monitor thread (after the hand-off) */
    struct spawning *sp;  /* until started */
    struct deadline dl;   /* monitor thread */
    uint64_t out_bytes, out_cap;
    int end_status;       /* the program's wait status from ENDED, or -1 */
    bool child_dead;      /* its pidfd fired before it started */
    bool in_cell;         /* spawned in a cell of the pool (pool_landed() when it lands) */
    bool running;         /* under w->lock: started, so a kill goes through */
    bool cancelled, timed_out, output_exceeded; /* under w->lock */
    bool by_stop; /* under w->lock: the daemon's stop killed it */
    atomic_bool killed;   /* counted once in the sweeper's dying (sweeper.h) */
    enum log_state log;   /* monitor thread */
    struct sandbox_log log_at;
    int log_errno; /* monitor thread only: why output was lost, 0 if none */
    struct ep_tag tag_pid, tag_err, tag_chan;
    struct wtask *next, **pprev; /* w->tasks, under w->lock: O(1) out */
    struct wtask *hnext;  /* w->by_id[], under w->lock */
    struct wtask *next_new; /* w->incoming (under w->lock), then w->done */
};

struct warden {
    struct jc_config *cfg;           /* main thread only: a reload replaces it */
    struct jc_policy_set *policies;  /* main thread: a reload replaces it */
    struct jc_limits judge_max;      /* main thread: what a SPAWN may ask (wmsg.h) */
    uint32_t reload_gen;             /* main thread: the last reload sent to the front */
    bool sync_full;                  /* records_sync "full" (a restart key): the monitor's copy */
    struct cg_ctx *cg;
    struct logspace *space;
    struct sandbox_env env;
    int sock, epfd, wake_fd, timer_fd;
    struct ipc_chan chan; /* reports to the front */
    pid_t front_pid;
    int front_pidfd; /* readable once the front has exited (main thread) */
    pthread_mutex_t lock;
    pthread_cond_t idle;
    struct wtask *tasks;    /* every task from its clone to its report */
    struct wtask *by_id[ID_BUCKETS]; /* the same, by id: a KILL finds its task in O(1) */
    struct wtask *incoming; /* cloned, not yet adopted by the monitor */
    unsigned ntasks;
    unsigned in_flight; /* under lock: cloned, not yet started or failed (≤ SPAWNS_IN_FLIGHT) */
    uint8_t *slots;   /* nslots ≥ max_running + pool_size (a reload may raise it); under lock */
    uint32_t nslots;
    bool stopping;
    bool given_up; /* stop_all stopped waiting for tasks that would not end */
    int64_t drain_until_ms; /* main thread: a stop's grace ends then (monotonic); 0 if none */
    struct deadlines dl;    /* monitor thread: every task's one deadline */
    int64_t armed_ms;       /* monitor thread: what timer_fd is set to, -1 none */
    struct wtask *done;     /* monitor thread: reported, freed after the batch */
    struct ep_tag tag_wake, tag_timer;
    struct pool pool;       /* cells waiting for a task (pool.h: main thread, builder) */
    struct sweeper sweep;   /* ended tasks' cgroups being removed (sweeper.h) */
};

static int64_t now_ms(clockid_t clk)
{
    struct timespec ts;

    clock_gettime(clk, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the task list (shared) ---------------------------------------------- */

/* Running tasks and waiting cells share the slots (one host uid each):
 * max_running of them for tasks, pool_size more for cells; a task started
 * in a cell keeps the cell's. */
static int slot_take(struct warden *w, uint32_t *slot)
{
    uint32_t n = w->cfg->max_running + w->cfg->pool_size;

    for (uint32_t i = 0; i < n && i < w->nslots; i++)
        if (!w->slots[i]) {
            w->slots[i] = 1;
            *slot = i;
            return 0;
        }
    return -1;
}

static unsigned bucket_of(const char *id)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 16777619u;
    return h % ID_BUCKETS;
}

static struct wtask *find_locked(struct warden *w, const char *id)
{
    for (struct wtask *t = w->by_id[bucket_of(id)]; t; t = t->hnext)
        if (strcmp(t->id, id) == 0)
            return t;
    return NULL;
}

/* Into the list and the index: from now on a kill can reach it. */
static void list_locked(struct warden *w, struct wtask *t)
{
    struct wtask **b = &w->by_id[bucket_of(t->id)];

    t->next = w->tasks;
    t->pprev = &w->tasks;
    if (w->tasks)
        w->tasks->pprev = &t->next;
    w->tasks = t;
    t->hnext = *b;
    *b = t;
}

/* Out of the list: no kill can reach it any more, so it may be reaped.
 * O(1) but for its bucket's chain (10 000 tasks cancelled at once each
 * leave this list, under the lock every KILL takes). */
static void unlist(struct warden *w, struct wtask *t)
{
    pthread_mutex_lock(&w->lock);
    if (t->pprev) { /* once */
        *t->pprev = t->next;
        if (t->next)
            t->next->pprev = t->pprev;
        t->pprev = NULL;
        for (struct wtask **pp = &w->by_id[bucket_of(t->id)]; *pp; pp = &(*pp)->hnext)
            if (*pp == t) {
                *pp = t->hnext;
                break;
            }
    }
    pthread_mutex_unlock(&w->lock);
}

/* A slot (host uid) free again: once every process of its task or cell is gone. */
static void slot_free(struct warden *w, uint32_t slot)
{
    pthread_mutex_lock(&w->lock);
    w->slots[slot] = 0;
    pthread_mutex_unlock(&w->lock);
}

static void free_slot(struct warden *w, struct wtask *t) { slot_free(w, t->slot); }

/* The pool's way to take and give back slots (its builder thread's too). */
static int pool_take_slot(void *ctx, uint32_t *slot);
static void pool_free_slot(void *ctx, uint32_t slot) { slot_free(ctx, slot); }

/* SIGKILL to init ends its whole pid namespace; cgroup.kill (v2) or the
 * cgroup's process list (v1) catches anything racing with it.  kill(pid)
 * is safe: the task is the warden's child and only the monitor reaps it,
 * after taking it off the list (unlist()); every kill is of a listed task
 * or by the monitor itself. */
static void kill_task(struct warden *w, struct wtask *t)
{
    if (!atomic_exchange(&t->killed, true))
        sweeper_dying(&w->sweep, +1);
    if (kill(t->sb.pid, SIGKILL) < 0 && errno != ESRCH)
        log_msg(LOG_LVL_WARN, t->id, errno, "kill");
    cg_task_kill(w->cg, &t->sb.cg);
}

/* A kill asked for (cancel, stop): at once if the task has started, else
 * when it does (became_running()), as when spawns went one at a time. */
static void kill_locked(struct warden *w, struct wtask *t)
{
    if (t->running)
        kill_task(w, t);
}

/* A report to the front; never blocks.  A front that is gone is reported
 * once, by the main thread, not once per report. */
static void report(struct warden *w, union ipc_msg *m, enum ipc_type type)
{
    struct jc_err err;
    bool was_failed = ipc_chan_failed(&w->chan) != 0;

    if (ipc_chan_send(&w->chan, m, type, &err) == 0 || was_failed)
        return;
    if (err.errnum == EPIPE || err.errnum == ECONNRESET)
        log_msg(LOG_LVL_DEBUG, m->h.id, 0, "%s", err.msg);
    else
        log_task_warn(m->h.id, "%s", err.msg);
}

/* The HTTP status a failed spawn maps to: the program named by the
 * request could not be run (4xx), or a resource ran out (503). */
static int failure_status(const struct jc_err *err)
{
    if ((err->status >= 400 && err->status < 500) || err->status == 503)
        return err->status;
    if (err->errnum == EMFILE || err->errnum == ENFILE || err->errnum == EAGAIN ||
        err->errnum == ENOMEM || err->errnum == ENOSPC)
        return 503;
    return 500;
}

static void send_failed(struct warden *w, const char *id, const struct jc_err *e)
{
    const char *msg = e->msg;
    union ipc_msg m = {0};

    snprintf(m.h.id, sizeof m.h.id, "%s", id);
    snprintf(m.failed.msg, sizeof m.failed.msg, "%s", msg);
    m.failed.status = failure_status(e);
    m.failed.at_ms = now_ms(CLOCK_REALTIME);
    log_task_warn(id, "spawn failed: %s", msg);
    report(w, &m, IPC_SPAWN_FAILED);
}

/* ---- monitor thread: descriptors, deadlines ------------------------------ */

static int watch(struct warden *w, int fd, struct ep_tag *tag, enum tag_kind kind, struct wtask *t,
                 struct jc_err *err)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};

    *tag = (struct ep_tag){kind, t};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return jc_fail(err, errno, "epoll_ctl ADD");
    return 0;
}

/* Take fd out of the epoll set before it is closed (a child being cloned
 * holds copies of the warden's fds for a moment, which would keep the
 * registration, and events pointing at a freed task, alive). */
static void unwatch(struct warden *w, const struct wtask *t, int fd)
{
    if (fd >= 0 && epoll_ctl(w->epfd, EPOLL_CTL_DEL, fd, NULL) < 0 && errno != ENOENT)
        log_msg(LOG_LVL_WARN, t->id, errno, "epoll_ctl DEL");
}

/* A task that cannot be given its deadline (no memory to grow the heap)
 * is not left unbounded: it is killed. */
static void set_deadline(struct warden *w, struct wtask *t, int64_t in_ms)
{
    if (deadline_set(&w->dl, &t->dl, now_ms(CLOCK_MONOTONIC) + in_ms) < 0) {
        log_task_warn(t->id, "no memory for its deadline: killing it");
        kill_task(w, t);
    }
}

static struct wtask *task_of(struct deadline *d)
{
    return (struct wtask *)(void *)((char *)d - offsetof(struct wtask, dl));
}

/* timer_fd goes off at the earliest deadline (absolute, monotonic). */
static void arm_timer(struct warden *w)
{
    struct deadline *d = deadlines_first(&w->dl);
    int64_t at = d ? d->at_ms : -1;
    struct itimerspec its = {0};

    if (at == w->armed_ms)
        return;
    if (d)
        its.it_value = (struct timespec){.tv_sec = at / 1000, .tv_nsec = (at % 1000) * 1000000 + 1};
    if (timerfd_settime(w->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
        log_warn("timerfd_settime");
    else
        w->armed_ms = at;
}

/* Reported: freed after the batch (other events of it may follow). */
static void bury(struct warden *w, struct wtask *t)
{
    t->phase = PH_DONE;
    deadline_clear(&w->dl, &t->dl);
    t->next_new = w->done;
    w->done = t;
}

static void free_done(struct warden *w)
{
    while (w->done) {
        struct wtask *t = w->done;
        w->done = t->next_new;
        free(t->sp);
        free(t);
    }
}

/* A spawn no longer in flight: started, or failed (before the front hears
 * of it, so that the front's count of them is never below this one). */
static void spawn_landed(struct warden *w, const struct wtask *t)
{
    if (t->in_cell)
        pool_landed(&w->pool);
    pthread_mutex_lock(&w->lock);
    w->in_flight--;
    pthread_mutex_unlock(&w->lock);
}

/* One task fewer; stop_all() waits for none. */
static void count_down(struct warden *w)
{
    pthread_mutex_lock(&w->lock);
    if (--w->ntasks == 0)
        pthread_cond_broadcast(&w->idle);
    pthread_mutex_unlock(&w->lock);
}

/* ---- monitor thread: a spawn in flight ----------------------------------- */

/* Its pidfd is readable, so it is a zombie: reap it, tell the front why
 * the spawn failed, hand its cgroup to the sweeper. */
static void finish_failed(struct warden *w, struct wtask *t)
{
    siginfo_t si;

    unlist(w, t);
    if (waitid(P_PIDFD, (id_t)t->sb.pidfd, &si, WEXITED) < 0)
        log_msg(LOG_LVL_WARN, t->id, errno, "waitid");
    unwatch(w, t, t->sb.pidfd);
    sandbox_task_close(&t->sb);
    free_slot(w, t);
    spawn_landed(w, t);
    send_failed(w, t->id, &t->sp->err);
    sweeper_add(&w->sweep, &t->sb.cg); /* before count_down: a stop waits for both */
    if (atomic_load(&t->killed))
        sweeper_dying(&w->sweep, -1);
    bury(w, t);
    count_down(w);
}

/* The spawn failed at some step: kill the child, and report once it is
 * gone (its pidfd), with err. */
static void spawn_fail(struct warden *w, struct wtask *t, const struct jc_err *err)
{
    t->sp->err = *err;
    deadline_clear(&w->dl, &t->dl);
    unwatch(w, t, t->sb.err_rd);
    unwatch(w, t, t->sb.chan);
    t->phase = PH_FAILING;
    if (t->child_dead) {
        finish_failed(w, t);
        return;
    }
    kill_task(w, t);
}

/* The monitor takes over a task the main thread cloned. */
static void adopt(struct warden *w, struct wtask *t)
{
    struct jc_err err;

    t->phase = PH_EXEC;
    if (watch(w, t->sb.pidfd, &t->tag_pid, TAG_PIDFD, t, &err) < 0) {
        t->child_dead = true; /* no event will say so: finish_failed() waits */
        kill_task(w, t);
        spawn_fail(w, t, &err);
        return;
    }
    set_deadline(w, t, SB_EXEC_WAIT_MS);
    if (watch(w, t->sb.err_rd, &t->tag_err, TAG_ERR, t, &err) < 0)
        spawn_fail(w, t, &err);
}

static void adopt_incoming(struct warden *w)
{
    pthread_mutex_lock(&w->lock);
    struct wtask *t = w->incoming;
    w->incoming = NULL;
    pthread_mutex_unlock(&w->lock);
    while (t) {
        struct wtask *next = t->next_new;
        adopt(w, t);
        t = next;
    }
}

/* STARTED: the 202 goes out (SPAWNED, before the task's end can be seen),
 * the task's timeout counts from now, and only its channel stays open
 * (watched since the release: its output and end come through it). */
static void became_running(struct warden *w, struct wtask *t)
{
    union ipc_msg m = {0};
    bool is_command = t->sp->prog.is_command;

    t->phase = PH_RUNNING;
    set_deadline(w, t, (int64_t)t->sp->limits.timeout_s * 1000);
    if (!t->child_dead) { /* else kept: the end is reaped through it */
        unwatch(w, t, t->sb.pidfd);
        close(JC_STEAL_FD(t->sb.pidfd));
    }
    free(JC_STEAL(t->sp));
    spawn_landed(w, t);
    snprintf(m.h.id, sizeof m.h.id, "%s", t->id);
    m.spawned.pid = t->sb.pid;
    m.spawned.started_ms = t->sb.started_ms;
    report(w, &m, IPC_SPAWNED);
    log_task(t->id, "spawned pid %d (%s) as uid %u", (int)t->sb.pid, is_command ? "command" : "worker",
             t->host_uid);
    pthread_mutex_lock(&w->lock);
    t->running = true;
    if (t->cancelled)
        kill_task(w, t);
    pthread_mutex_unlock(&w->lock);
}

/* EOF on the error pipe: init was exec'd; its CPU limit, then its go. */
static void on_exec(struct warden *w, struct wtask *t, bool timed_out)
{
    struct jc_err err;
    int rc = sandbox_exec_done(&t->sb, &err);

    if (rc == 0 && !timed_out)
        return;
    if (rc == 0)
        jc_fail(&err, ETIMEDOUT, "sandbox: no word from the child");
    if (rc <= 0) {
        spawn_fail(w, t, &err);
        return;
    }
    unwatch(w, t, t->sb.err_rd);
    close(JC_STEAL_FD(t->sb.err_rd));
    t->phase = PH_STARTING;
    if (sandbox_release_program(&w->env, &t->sp->limits, &t->sb, &err) < 0 ||
        watch(w, t->sb.chan, &t->tag_chan, TAG_CHAN, t, &err) < 0) {
        spawn_fail(w, t, &err);
        return;
    }
    set_deadline(w, t, sandbox_started_deadline_ms(&t->sp->limits));
}

/* init's first record: STARTED, or why the program did not start. */
static void on_started(struct warden *w, struct wtask *t, bool timed_out)
{
    struct jc_err err;
    int rc = sandbox_started(&t->sb, &t->sp->prog, false, &err);

    if (rc == 0 && timed_out)
        rc = sandbox_started(&t->sb, &t->sp->prog, true, &err);
    if (rc > 0)
        became_running(w, t);
    else if (rc < 0)
        spawn_fail(w, t, &err);
}

/* ---- monitor thread: a running task -------------------------------------- */

/* Some output could not be kept: the record says so (once logged). */
static void log_lost(struct wtask *t, int e)
{
    if (!t->log_errno)
        log_msg(LOG_LVL_WARN, t->id, e, "writing the task log: output is lost");
    t->log_errno = e ? e : EIO;
}

/* The log, for this batch of output: created at the first (here rather
 * than on the spawn path), opened again for the later ones.  -1: none
 * (reported once). */
static int open_log(struct warden *w, struct wtask *t)
{
    struct jc_err err;
    int fd = -1;

    if (t->log == LOG_NONE)
        fd = sandbox_open_log(&w->env, t->id, &t->log_at, &err);
    else if (t->log == LOG_MADE)
        fd = sandbox_append_log(&w->env, t->id, &t->log_at, &err);
    if (fd >= 0) {
        t->log = LOG_MADE;
        return fd;
    }
    if (t->log != LOG_LOST) {
        log_task_warn(t->id, "%s: its output is lost", err.msg);
        t->log_errno = err.errnum ? err.errnum : EIO;
        t->log = LOG_LOST;
    }
    return -1;
}

/* Past output_kb, the log quota or the state directory's free-space
 * floor: the task is killed and the ending is output_limit. */
static void output_exceeded(struct warden *w, struct wtask *t)
{
    pthread_mutex_lock(&w->lock);
    bool first = !t->output_exceeded;
    t->output_exceeded = true;
    pthread_mutex_unlock(&w->lock);
    if (first)
        kill_task(w, t);
}

/* Write to the task's log what output_kb and the log space allow; returns
 * how much of n that was (the rest is dropped).  *fd: the log, opened at
 * the first write of the batch. */
static size_t log_write(struct warden *w, struct wtask *t, int *fd, const char *buf, size_t n)
{
    uint64_t room = t->out_cap > t->out_bytes ? t->out_cap - t->out_bytes : 0;
    size_t keep = n < room ? n : (size_t)room;
    ssize_t done;

    /* Without a log the output is dropped but still counted against output_kb. */
    if (!keep || (*fd < 0 && (*fd = open_log(w, t)) < 0))
        return keep;
    keep = logspace_room(w->space, keep);
    done = keep ? write(*fd, buf, keep) : 0;
    if (done > 0)
        logspace_add(w->space, (size_t)done);
    if (done != (ssize_t)keep)
        log_lost(t, done < 0 ? errno : ENOSPC);
    return keep;
}

/* An OUTPUT record into the task's log (see log_write()). */
static void take_output(struct warden *w, struct wtask *t, int *fd, const char *buf, size_t n)
{
    size_t keep = log_write(w, t, fd, buf, n);

    t->out_bytes += keep;
    if (n > keep)
        output_exceeded(w, t);
}

static void on_timeout(struct warden *w, struct wtask *t)
{
    pthread_mutex_lock(&w->lock);
    t->timed_out = true;
    pthread_mutex_unlock(&w->lock);
    kill_task(w, t);
}

static enum jc_reason classify(const struct wtask *t, int status, const struct cg_events *ev)
{
    bool sig = WIFSIGNALED(status);

    if (t->cancelled)
        return RS_CANCELLED;
    if (t->timed_out)
        return RS_TIMEOUT;
    if (t->output_exceeded)
        return RS_OUTPUT_LIMIT;
    if (ev->oom_kills > 0 && (sig || WEXITSTATUS(status) != 0))
        return RS_OOM;
    if (sig && WTERMSIG(status) == SIGSYS)
        return RS_SECCOMP;
    if (ev->pids_max > 0 && (sig || WEXITSTATUS(status) != 0))
        return RS_PIDS_LIMIT;
    return sig ? RS_SIGNALED : RS_EXITED;
}

static void build_end(struct warden *w, struct wtask *t, int status, union ipc_msg *msg)
{
    union ipc_msg m = {0};
    struct cg_events ev;

    cg_task_usage(w->cg, &t->sb.cg, &m.exited.usage, &ev);
    m.exited.usage.wall_ms = (uint64_t)(now_ms(CLOCK_MONOTONIC) - t->sb.started_mono_ms);
    pthread_mutex_lock(&w->lock);
    m.exited.reason = classify(t, status, &ev);
    m.exited.by_stop = t->by_stop;
    pthread_mutex_unlock(&w->lock);
    m.exited.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    m.exited.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    m.exited.finished_ms = now_ms(CLOCK_REALTIME);
    m.exited.log_errno = t->log_errno;
    snprintf(m.h.id, sizeof m.h.id, "%s", t->id);
    log_task(t->id, "ended: %s (exit %d, signal %d, peak %llu bytes, cpu %llu us)",
             jc_reason_name(m.exited.reason), m.exited.exit_code, m.exited.signal,
             (unsigned long long)m.exited.usage.memory_peak_bytes,
             (unsigned long long)m.exited.usage.cpu_usec);
    *msg = m;
}

/* init's wait status: through the pidfd, or (none could be opened) by pid. */
static int reap(struct wtask *t)
{
    siginfo_t si = {0};
    int rc = t->sb.pidfd >= 0 ? waitid(P_PIDFD, (id_t)t->sb.pidfd, &si, WEXITED)
                              : waitid(P_PID, (id_t)t->sb.pid, &si, WEXITED);

    if (rc < 0) {
        log_msg(LOG_LVL_WARN, t->id, errno, "waitid");
        si.si_code = CLD_KILLED; /* unknown end: never report it as a success */
        si.si_status = SIGKILL;
    }
    return si.si_code == CLD_EXITED ? W_EXITCODE(si.si_status, 0) : si.si_status & 0x7f;
}

/* records_sync "full" promises that a record outlives a power cut or a
 * failing disk; the output it calls complete must then be on the disk
 * before the front writes it (the log is opened again for it: none is
 * kept while the task runs).  A log that cannot be synced is marked
 * incomplete. */
static void sync_log(struct warden *w, struct wtask *t)
{
    struct jc_err err;
    int fd;

    if (!w->sync_full || t->log != LOG_MADE)
        return;
    if ((fd = sandbox_append_log(&w->env, t->id, &t->log_at, &err)) < 0) {
        log_lost(t, err.errnum);
        return;
    }
    if (fdatasync(fd) < 0)
        log_lost(t, errno);
    close(fd);
}

/* init is gone, and its whole namespace with it: drain, classify, report,
 * clean up.  The report does not wait for the cgroup's removal (the
 * sweeper's): its counters are read, and every process of the task is
 * gone (init is reaped only after the last of its namespace), so the
 * slot's uid is free for the next task while the cgroup still exists. */
static void finish_end(struct warden *w, struct wtask *t)
{
    static union ipc_msg m; /* monitor thread only */

    sync_log(w, t);
    unlist(w, t);
    int status = reap(t);
    /* The program's own status from ENDED; when init was killed itself
     * there is none and init's stands. */
    build_end(w, t, t->end_status >= 0 ? t->end_status : status, &m);
    unwatch(w, t, t->sb.pidfd);
    sandbox_task_close(&t->sb);
    /* Free the slot before the front hears of the end: it may answer the
     * next POST at once, and that spawn needs a slot. */
    free_slot(w, t);
    report(w, &m, IPC_EXITED);
    sweeper_add(&w->sweep, &t->sb.cg); /* before count_down: a stop waits for both */
    if (atomic_load(&t->killed))
        sweeper_dying(&w->sweep, -1);
    bury(w, t);
    count_down(w);
}

/* EOF on the channel: init is exiting, and every record it sent has been
 * read.  Its namespace is gone when its pidfd (opened now: none is kept
 * while it runs) is readable; the channel is closed meanwhile. */
static void begin_end(struct warden *w, struct wtask *t)
{
    unwatch(w, t, t->sb.chan);
    close(JC_STEAL_FD(t->sb.chan));
    deadline_clear(&w->dl, &t->dl); /* it ended within its timeout */
    t->phase = PH_ENDING;
    if (t->sb.pidfd >= 0) { /* died while spawning: already a zombie */
        finish_end(w, t);
        return;
    }
    struct jc_err err;
    t->sb.pidfd = (int)syscall(SYS_pidfd_open, t->sb.pid, 0);
    if (t->sb.pidfd < 0)
        log_msg(LOG_LVL_WARN, t->id, errno, "pidfd_open: waiting for its end here");
    if (t->sb.pidfd < 0 || watch(w, t->sb.pidfd, &t->tag_pid, TAG_PIDFD, t, &err) < 0)
        finish_end(w, t);
}

/* Records per readiness at most: a task that prints without pause cannot
 * keep the monitor from the others (the channel stays readable, so epoll
 * brings it back). */
#define RECORDS_PER_TURN 64

/* jobcell-init's records after STARTED: OUTPUT into the log, ENDED (the
 * program's status), then EOF when init exits. */
static void on_chan(struct warden *w, struct wtask *t)
{
    static struct sandbox_record r; /* monitor thread only */
    int fd = -1;
    ssize_t n = -1;

    errno = EAGAIN;
    for (int i = 0; i < RECORDS_PER_TURN; i++) {
        n = sandbox_recv(t->sb.chan, &r);
        if (n < 0 && errno == EPROTO)
            log_task_warn(t->id, "a malformed record from jobcell-init: ignored");
        else if (n <= 0)
            break;
        else if (r.h.kind == JC_INIT_OUTPUT)
            take_output(w, t, &fd, r.data, (size_t)r.h.value);
        else if (r.h.kind == JC_INIT_ENDED)
            t->end_status = r.h.value;
    }
    if (fd >= 0)
        close(fd);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR && errno != EPROTO))
        begin_end(w, t);
}

/* ---- monitor thread: the loop -------------------------------------------- */

static void on_pidfd(struct warden *w, struct wtask *t)
{
    switch (t->phase) {
    case PH_EXEC:
    case PH_STARTING: /* its pipes say what went wrong: they close now */
        t->child_dead = true;
        unwatch(w, t, t->sb.pidfd);
        break;
    case PH_FAILING:
        finish_failed(w, t);
        break;
    case PH_ENDING:
        finish_end(w, t);
        break;
    case PH_RUNNING:
    case PH_DONE:
        break;
    }
}

static void on_deadline(struct warden *w, struct wtask *t)
{
    if (t->phase == PH_EXEC)
        on_exec(w, t, true);
    else if (t->phase == PH_STARTING)
        on_started(w, t, true);
    else if (t->phase == PH_RUNNING)
        on_timeout(w, t);
}

static void on_timer(struct warden *w)
{
    uint64_t ticks;
    struct deadline *d;

    if (read(w->timer_fd, &ticks, sizeof ticks) < 0 && errno != EAGAIN)
        log_warn("timerfd read");
    w->armed_ms = -1;
    while ((d = deadlines_pop_due(&w->dl, now_ms(CLOCK_MONOTONIC))))
        on_deadline(w, task_of(d));
}

static void dispatch(struct warden *w, struct ep_tag *tag)
{
    struct wtask *t = tag->t;
    uint64_t v;

    if (t && t->phase == PH_DONE)
        return;
    switch (tag->kind) {
    case TAG_PIDFD:
        on_pidfd(w, t);
        break;
    case TAG_ERR:
        if (t->phase == PH_EXEC)
            on_exec(w, t, false);
        break;
    case TAG_CHAN:
        if (t->phase == PH_STARTING)
            on_started(w, t, false);
        else if (t->phase == PH_RUNNING)
            on_chan(w, t);
        break;
    case TAG_TIMER:
        on_timer(w);
        break;
    case TAG_WAKE:
        if (read(w->wake_fd, &v, sizeof v) < 0 && errno != EAGAIN)
            log_warn("eventfd read");
        adopt_incoming(w);
        break;
    }
}

static void *monitor_main(void *arg)
{
    struct warden *w = arg;
    struct epoll_event evs[64];

    jc_name_thread("jc-monitor");
    log_set_role("warden");
    for (;;) {
        arm_timer(w);
        int n = epoll_wait(w->epfd, evs, (int)JC_ARRAY_LEN(evs), -1);
        if (n < 0 && errno != EINTR) {
            log_warn("epoll_wait");
            return NULL;
        }
        /* Exits last in a batch so output and timers are handled first; a
         * task reported is freed only after the batch (free_done()). */
        for (int pass = 0; pass < 2; pass++)
            for (int i = 0; i < n; i++)
                if ((((struct ep_tag *)evs[i].data.ptr)->kind == TAG_PIDFD) == (pass == 1))
                    dispatch(w, evs[i].data.ptr);
        free_done(w);
        pthread_mutex_lock(&w->lock);
        bool done = w->stopping && (w->ntasks == 0 || w->given_up);
        pthread_mutex_unlock(&w->lock);
        if (done)
            return NULL;
    }
}

/* ---- main thread: requests from the front ------------------------------ */

/* What the spawn's answers need, kept until it started. */
static struct spawning *new_spawning(const struct jc_spec *spec)
{
    const char *name = spec_next_string(spec, NULL);
    size_t len = name ? strlen(name) : 0;
    struct spawning *sp = malloc(sizeof *sp + len + 1);

    if (!sp)
        return NULL;
    sp->limits = spec->limits;
    memcpy(sp->name, name ? name : "", len + 1);
    sp->prog = (struct sandbox_program){.is_command = spec->is_command, .name = sp->name};
    return sp;
}

static struct wtask *new_task(struct warden *w, const struct jc_spec *spec, struct jc_err *err)
{
    struct wtask *t = calloc(1, sizeof *t);

    if (!t || !(t->sp = new_spawning(spec))) {
        free(t);
        jc_fail(err, ENOMEM, "task");
        return NULL;
    }
    snprintf(t->id, sizeof t->id, "%s", spec->id);
    t->out_cap = (uint64_t)spec->limits.output_kb * 1024;
    t->end_status = -1;
    pthread_mutex_lock(&w->lock);
    bool stopping = w->stopping, busy = w->in_flight >= SPAWNS_IN_FLIGHT;
    if (!stopping && !busy)
        w->in_flight++;
    pthread_mutex_unlock(&w->lock);
    if (stopping || busy) {
        free(t->sp);
        free(t);
        if (stopping)
            jc_client(err, 503, "shutting down: the daemon takes no new task");
        else /* the front keeps to the bound: a confused one does not */
            jc_client(err, 503, "%u spawns in flight already (SPAWNS_IN_FLIGHT)", SPAWNS_IN_FLIGHT);
        return NULL;
    }
    return t;
}

static int take_slot(struct warden *w, uint32_t *slot)
{
    pthread_mutex_lock(&w->lock);
    int rc = slot_take(w, slot);
    pthread_mutex_unlock(&w->lock);
    return rc;
}

static int pool_take_slot(void *ctx, uint32_t *slot) { return take_slot(ctx, slot); }

/* A cell built ahead takes the spec (0), or there is none to take, or its
 * hand-over failed (-1: the spawn is built on demand instead). */
static int spawn_in_cell(struct warden *w, struct wtask *t, const struct jc_spec *spec,
                         const int input[INPUT_NFDS])
{
    struct sandbox_cell c;
    struct cg_task left;
    struct jc_err err;

    if (!policy_find(w->policies, spec->policy) || pool_take(&w->pool, &c) < 0)
        return -1;
    int rc = sandbox_cell_hand_over(&w->env, &c, spec, input, &t->sb, &left, &err);
    if (left.id[0]) /* v2: the cell's own cgroup, empty, off the 202 path */
        sweeper_add(&w->sweep, &left);
    if (rc < 0) {
        log_task_warn(spec->id, "%s: discarding the cell, building one on demand", err.msg);
        pool_discard(&w->pool, &c);
        pool_landed(&w->pool);
        return -1;
    }
    pool_handed_over(&w->pool);
    t->in_cell = true;
    t->slot = c.slot;
    return 0;
}

/* The spawn as before cells: a slot, a cgroup, a clone, on demand. */
static int spawn_fresh(struct warden *w, struct wtask *t, const struct jc_spec *spec,
                       const int input[INPUT_NFDS], struct jc_err *err)
{
    if (take_slot(w, &t->slot) < 0)
        return jc_fail(err, EAGAIN, "no free task slot");
    if (sandbox_clone(&w->env, spec, input, t->slot, &t->sb, err) < 0) {
        free_slot(w, t);
        return -1;
    }
    return 0;
}

/* Clone and release the child, then hand it to the monitor: the main
 * thread waits on no child, so the next SPAWN is taken at once.  Spawns in
 * flight are bounded by SPAWNS_IN_FLIGHT (config.h: the descriptors). */
static void handle_spawn(struct warden *w, const struct jc_spec *spec, const int input[INPUT_NFDS])
{
    struct jc_err err = {0};
    struct wtask *t = new_task(w, spec, &err);
    uint64_t one = 1;

    if (!t || (spawn_in_cell(w, t, spec, input) < 0 && spawn_fresh(w, t, spec, input, &err) < 0)) {
        if (t) {
            spawn_landed(w, t);
            free(t->sp);
            free(t);
        }
        send_failed(w, spec->id, &err);
        return;
    }
    t->host_uid = w->cfg->uid_base + t->slot;
    pthread_mutex_lock(&w->lock);
    list_locked(w, t);
    t->next_new = w->incoming;
    w->incoming = t;
    w->ntasks++;
    pthread_mutex_unlock(&w->lock);
    if (write(w->wake_fd, &one, sizeof one) < 0)
        log_warn("eventfd write"); /* cannot fail: the counter is drained each time */
}

static void handle_kill(struct warden *w, const char *id)
{
    pthread_mutex_lock(&w->lock);
    struct wtask *t = find_locked(w, id);
    if (t && !t->cancelled) {
        t->cancelled = true;
        kill_locked(w, t);
    }
    pthread_mutex_unlock(&w->lock);
    if (t)
        log_task(id, "cancel requested");
}

/* Kill every task and wait (bounded) until the monitor has reported and
 * cleaned up each one.  asked: an asked-for stop (its records say so). */
static void stop_all(struct warden *w, bool asked)
{
    struct timespec deadline;
    uint64_t one = 1;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 15;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    for (struct wtask *t = w->tasks; t; t = t->next) {
        t->cancelled = true;
        t->by_stop = asked;
        kill_locked(w, t);
    }
    while (w->ntasks > 0)
        if (pthread_cond_timedwait(&w->idle, &w->lock, &deadline) == ETIMEDOUT)
            break;
    if (w->ntasks) {
        log_errx("%u task(s) did not end within 15 s", w->ntasks);
        w->given_up = true;
    }
    pthread_mutex_unlock(&w->lock);
    if (write(w->wake_fd, &one, sizeof one) < 0)
        log_warn("eventfd write");
}

/* What ends serve(): only an asked-for stop exits 0. */
enum serve_end { SERVE_ON, SERVE_ASKED, SERVE_FAILED };

/* A SPAWN found within the operator's maxima (wmsg_judge()), with exactly
 * the input descriptors its spec announces; then spawned (the descriptors
 * are closed after).  SERVE_FAILED: the front is not to be trusted. */
static enum serve_end take_spawn(struct warden *w, const struct jc_spec *spec, const int *fds, unsigned nfds)
{
    int input[INPUT_NFDS];
    struct jc_err err;

    if (input_check(spec, fds, nfds, input, &err) < 0) {
        log_errx("fatal: %s", err.msg);
        return SERVE_FAILED;
    }
    handle_spawn(w, spec, input);
    input_close(input); /* the child has its own copies (or there is no child) */
    return SERVE_ON;
}

static void log_front_death(int status)
{
    if (WIFSIGNALED(status))
        log_errx("the front died (killed by signal %d, %s): stopping every task",
                 WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        log_errx("the front exited with status %d without being asked to: stopping every task",
                 WEXITSTATUS(status));
}

/* The front closed its channel unasked: it is dying; say how (its exit
 * status follows the close within moments). */
static void reap_front(struct warden *w)
{
    int status;

    for (int i = 0; i < 100 && w->front_pid > 0; i++) {
        if (waitpid(w->front_pid, &status, WNOHANG) == w->front_pid) {
            log_front_death(status);
            w->front_pid = -1;
            return;
        }
        usleep(10000);
    }
    log_errx("the front closed its channel without asking to stop: stopping every task");
}

static enum serve_end config_acked(struct warden *w, uint32_t gen);

static enum serve_end handle_message(struct warden *w)
{
    static union ipc_msg m; /* main thread only; too big for the stack */
    struct jc_err err;
    int fds[IPC_MAX_FDS];
    unsigned nfds;
    int rc = ipc_recv_fds(w->sock, &m, fds, &nfds, &err);

    if (rc <= 0)
        for (unsigned i = 0; i < nfds; i++)
            close(fds[i]);
    if (rc < 0 && (err.errnum == EAGAIN || err.errnum == EINTR))
        return SERVE_ON;
    if (rc < 0) {
        /* A malformed message means a confused or compromised front. */
        log_errx("fatal: %s", err.msg);
        return SERVE_FAILED;
    }
    if (rc == 0) {
        reap_front(w);
        return SERVE_FAILED;
    }
    switch (wmsg_judge(&w->judge_max, &m, &err)) {
    case WMSG_SPAWN:
        return take_spawn(w, &m.spawn.spec, fds, nfds);
    case WMSG_KILL:
        handle_kill(w, m.h.id);
        return SERVE_ON;
    case WMSG_SHUTDOWN:
        log_info("front asked to shut down");
        return SERVE_ASKED;
    case WMSG_READY:
        notify_ready("serving");
        return SERVE_ON;
    case WMSG_CONFIG_ACK:
        return config_acked(w, m.config_ack.gen);
    case WMSG_FATAL:
    default:
        for (unsigned i = 0; i < nfds; i++)
            close(fds[i]);
        log_errx("fatal: %s", err.msg);
        return SERVE_FAILED;
    }
}

static unsigned running_tasks(struct warden *w)
{
    pthread_mutex_lock(&w->lock);
    unsigned n = w->ntasks;
    pthread_mutex_unlock(&w->lock);
    return n;
}

/* SIGTERM/SIGINT: with stop_grace_s, a drain first — the front takes no
 * new task (DRAIN), running ones may finish within the grace; a second
 * signal, or stop_grace_s 0, stops at once (stop_all kills the rest). */
static enum serve_end stop_signal(struct warden *w, uint32_t signo)
{
    union ipc_msg m = {0};
    struct jc_err err;
    unsigned n = running_tasks(w);

    if (w->drain_until_ms) {
        log_info("signal %u during the drain: stopping now (%u task(s) still running)", signo, n);
        return SERVE_ASKED;
    }
    if (w->cfg->stop_grace_s == 0 || n == 0) {
        log_info("signal %u: shutting down", signo);
        return SERVE_ASKED;
    }
    log_info("signal %u: draining: no new task; %u running task(s) get up to %u s (stop_grace_s) to finish",
             signo, n, w->cfg->stop_grace_s);
    w->drain_until_ms = now_ms(CLOCK_MONOTONIC) + (int64_t)w->cfg->stop_grace_s * 1000;
    pool_close(&w->pool); /* no task will take one */
    notify_stopping("draining: no new task, running ones may finish");
    if (ipc_chan_send(&w->chan, &m, IPC_DRAIN, &err) < 0) {
        log_warnx("%s: stopping now", err.msg);
        return SERVE_ASKED;
    }
    return SERVE_ON;
}

/* During a drain: done when no task runs, or when the grace is over. */
static enum serve_end drain_check(struct warden *w)
{
    unsigned n;

    if (!w->drain_until_ms)
        return SERVE_ON;
    if ((n = running_tasks(w)) == 0) {
        log_info("drained: every running task ended within stop_grace_s");
        return SERVE_ASKED;
    }
    if (now_ms(CLOCK_MONOTONIC) < w->drain_until_ms)
        return SERVE_ON;
    log_warnx("stop_grace_s (%u s) is over: cancelling %u task(s) still running",
              w->cfg->stop_grace_s, n);
    return SERVE_ASKED;
}

/* ---- reload (SIGHUP) ------------------------------------------------------ */

/* Room for a higher max_running (or pool_size): slots and the report queue (SPAWNED
 * + EXITED per slot, a SPAWN_FAILED per request in flight).  Neither ever
 * shrinks: a lower max_running only lets fewer start. */
static int grow_for(struct warden *w, const struct jc_config *c, struct jc_err *err)
{
    uint32_t want = c->max_running + c->pool_size;

    if (want > w->nslots) {
        pthread_mutex_lock(&w->lock);
        uint8_t *s = realloc(w->slots, want);
        if (s) {
            memset(s + w->nslots, 0, want - w->nslots);
            w->slots = s;
            w->nslots = want;
        }
        pthread_mutex_unlock(&w->lock);
        if (!s)
            return jc_fail(err, ENOMEM, "growing the task slots");
    }
    return ipc_chan_grow(&w->chan, 2 * c->max_running + c->max_connections + 16, err);
}

/* Until the front confirms a reload, it may still send a SPAWN checked
 * against the old maxima: the warden accepts the higher of old and new. */
static void loosen(struct jc_limits *judge, const struct jc_limits *max)
{
    for (unsigned i = 0; i < JC_NLIMITS; i++) {
        const struct jc_limit_def *d = &jc_limit_defs[i];
        if (jc_limit_get(max, d) > jc_limit_get(judge, d))
            jc_limit_set(judge, d, jc_limit_get(max, d));
    }
}

/* The new config and the profiles' names and hashes (never the BPF). */
static int send_config(struct warden *w, struct jc_err *err)
{
    static union ipc_msg m; /* main thread only; too big for the stack */

    memset(&m, 0, sizeof m);
    m.config.gen = ++w->reload_gen;
    m.config.cfg = *w->cfg;
    m.config.npolicies = (uint32_t)w->policies->count;
    for (size_t i = 0; i < w->policies->count; i++) {
        snprintf(m.config.policies[i].name, sizeof m.config.policies[i].name, "%s", w->policies->items[i].name);
        memcpy(m.config.policies[i].sha256, w->policies->items[i].sha256, sizeof m.config.policies[i].sha256);
    }
    return ipc_chan_send(&w->chan, &m, IPC_CONFIG, err);
}

/* A good token goes to the front and no copy of it stays here. */
static void send_token(struct warden *w, char token[JC_TOKEN_SIZE])
{
    static union ipc_msg m; /* main thread only */
    struct jc_err err;

    memcpy(m.token.token, token, sizeof m.token.token);
    explicit_bzero(token, JC_TOKEN_SIZE);
    if (ipc_chan_send(&w->chan, &m, IPC_TOKEN, &err) < 0)
        log_errx("SIGHUP: %s: the old token stays in force", err.msg);
    explicit_bzero(&m, sizeof m.token);
}

/* The new config in force here (spawns from now on), then in the front.
 * Running tasks keep what they were spawned with. */
static void apply_reload(struct warden *w, struct reload_next *n)
{
    struct jc_err err;

    for (unsigned i = 0; i < n->nchanged && i < RELOAD_CHANGED_MAX; i++)
        log_warnx("SIGHUP: %s changed: needs a restart; the running value stays", n->changed[i]);
    loosen(&w->judge_max, &n->cfg.max);
    pool_reconfigure(&w->pool, w->cfg, &n->cfg);
    *w->cfg = n->cfg;
    policy_set_free(w->policies);
    *w->policies = n->policies; /* moved: spawns run on this thread, between messages */
    n->policies.count = 0;
    log_set_level(w->cfg->log_level);
    config_warn_stop_time(w->cfg);
    if (send_config(w, &err) < 0)
        log_errx("SIGHUP: %s: the front keeps the old configuration", err.msg);
    if (n->token[0])
        send_token(w, n->token);
    log_info("SIGHUP: configuration reloaded (%zu seccomp profiles, \"default\" sha256 %.12s); running tasks "
             "keep theirs; waiting for the front", w->policies->count,
             policy_find(w->policies, "default")->sha256);
}

static void log_refusal(const struct jc_problems *p)
{
    for (unsigned i = 0; i < p->n && i < JC_PROBLEMS_MAX; i++)
        log_errx("SIGHUP: %s", p->items[i].msg);
    if (p->n > JC_PROBLEMS_MAX)
        log_errx("SIGHUP: ... and %u more problems", p->n - JC_PROBLEMS_MAX);
    log_errx("SIGHUP: reload refused, the old configuration stays in force");
}

/* SIGHUP: everything read again (reload.h), applied only if all of it is
 * good; READY=1 follows once the front has it (WMSG_CONFIG_ACK), or at
 * once when refused. */
static void reload(struct warden *w)
{
    static struct reload_next n;   /* main thread only; too big for the stack */
    static struct jc_problems p;
    struct jc_err err = {0};

    notify_reloading();
    log_info("SIGHUP: reloading the configuration, the seccomp profiles and the token file");
    if (w->drain_until_ms) {
        log_errx("SIGHUP: the daemon is stopping: reload refused, the old configuration stays in force");
        notify_reloaded("reload refused: stopping");
        return;
    }
    if (reload_prepare(w->cfg, &n, &p) < 0 || grow_for(w, &n.cfg, &err) < 0) {
        if (err.msg[0])
            jc_problem(&p, &err);
        reload_next_free(&n);
        log_refusal(&p);
        notify_reloaded("serving; reload refused: the old configuration stays in force (see the log)");
        return;
    }
    apply_reload(w, &n);
    reload_next_free(&n);
}

/* The front has the reload of generation `gen` in force: the warden's check
 * is the new maxima alone, and the service manager hears it is done. */
static enum serve_end config_acked(struct warden *w, uint32_t gen)
{
    if (gen > w->reload_gen) {
        log_errx("fatal: the front confirmed reload %u, but %u is the last sent", gen, w->reload_gen);
        return SERVE_FAILED;
    }
    if (gen < w->reload_gen)
        return SERVE_ON; /* a later one is on its way */
    w->judge_max = w->cfg->max;
    log_info("SIGHUP: reload done: the new configuration is in force in both processes");
    notify_reloaded("serving; configuration reloaded");
    return SERVE_ON;
}

/* The front's pidfd is readable: it has exited, unasked (serve() reads
 * the socket first, so an asked-for stop it sent ends serve() before).
 * Its status is there: the wait does not block. */
static enum serve_end front_exited(struct warden *w)
{
    int status;
    pid_t rc = -1;

    while (w->front_pid > 0 && (rc = waitpid(w->front_pid, &status, 0)) < 0 && errno == EINTR)
        ;
    if (rc > 0)
        log_front_death(status);
    else if (w->front_pid > 0)
        log_warn("reaping the front");
    w->front_pid = -1; /* reaped, or not ours to signal or wait for any more */
    return SERVE_FAILED;
}

static enum serve_end handle_signal(struct warden *w, int sigfd)
{
    struct signalfd_siginfo si;

    if (read(sigfd, &si, sizeof si) != (ssize_t)sizeof si)
        return SERVE_ON;
    if (si.ssi_signo == SIGHUP) {
        reload(w);
        return SERVE_ON;
    }
    return stop_signal(w, si.ssi_signo);
}

/* Reports the front has not taken: send what it takes now; a front that
 * took nothing for ipc_stall_s, or let the queue fill, is dead. */
static enum serve_end flush_reports(struct warden *w, short *events)
{
    int left = ipc_chan_flush(&w->chan);

    if (left < 0) {
        if (ipc_chan_failed(&w->chan) == ENOBUFS)
            log_errx("the front let %u reports wait: treating it as dead", w->chan.cap);
        else
            log_errx("the front's channel failed (%s): treating it as dead",
                     strerror(ipc_chan_failed(&w->chan)));
        return SERVE_FAILED;
    }
    if (left && ipc_chan_stalled_ms(&w->chan) > (int64_t)w->cfg->ipc_stall_s * 1000) {
        log_errx("the front has read nothing for %u s (%d reports wait): treating it as dead",
                 w->cfg->ipc_stall_s, left);
        return SERVE_FAILED;
    }
    *events = (short)(POLLIN | (left ? POLLOUT : 0));
    return SERVE_ON;
}

/* The sooner of two poll() timeouts (-1: none). */
static int poll_timeout(int a, int b)
{
    return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

static enum serve_end serve(struct warden *w, int sigfd)
{
    struct pollfd pfd[5] = {{.fd = w->sock, .events = POLLIN}, {.fd = sigfd, .events = POLLIN},
                            {.fd = w->chan.wake_fd, .events = POLLIN}, {.fd = w->front_pidfd, .events = POLLIN},
                            {.fd = pool_deaths_fd(&w->pool), .events = POLLIN}};
    enum serve_end end = SERVE_ON;

    while (end == SERVE_ON) {
        if ((end = flush_reports(w, &pfd[0].events)) != SERVE_ON)
            break;
        /* While reports wait, wake up to measure the stall; while draining,
         * to see the tasks end (the monitor thread removes them); with a
         * watchdog, to ping it.  The pool's set: a waiting cell died. */
        int timeout = poll_timeout((pfd[0].events & POLLOUT) || w->drain_until_ms ? 200 : -1, notify_watchdog());
        if (poll(pfd, JC_ARRAY_LEN(pfd), timeout) < 0) {
            if (errno == EINTR)
                continue;
            log_warn("poll");
            return SERVE_FAILED;
        }
        if (pfd[4].revents)
            pool_reap(&w->pool);
        if (pfd[1].revents)
            end = handle_signal(w, sigfd);
        if (end == SERVE_ON && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
            end = handle_message(w);
        if (end == SERVE_ON && pfd[3].revents)
            end = front_exited(w);
        if (end == SERVE_ON)
            end = drain_check(w);
    }
    pool_close(&w->pool);
    return end;
}

/* Hand the front the last reports (bounded by ipc_stall_s), then tell it
 * the stop is orderly: the channel closes next and that is no death. */
static void drain_reports(struct warden *w)
{
    union ipc_msg m = {0};
    struct jc_err err;
    struct pollfd pfd = {.fd = w->sock, .events = POLLOUT};

    if (w->front_pid > 0 && ipc_chan_send(&w->chan, &m, IPC_SHUTDOWN, &err) < 0)
        log_debug("%s", err.msg);
    for (int left; (left = ipc_chan_flush(&w->chan)) > 0;) {
        if (ipc_chan_stalled_ms(&w->chan) > (int64_t)w->cfg->ipc_stall_s * 1000) {
            log_warnx("the front did not take the last %d reports", left);
            return;
        }
        if (poll(&pfd, 1, 100) < 0 && errno != EINTR)
            return;
    }
}

/* Let the front finish and exit on its own; insist after FRONT_STOP_MS (front.h). */
static void stop_front(struct warden *w)
{
    int status;

    if (shutdown(w->sock, SHUT_RDWR) < 0)
        log_warn("shutdown of the front channel");
    if (w->front_pid <= 0)
        return;
    if (kill(w->front_pid, SIGTERM) < 0)
        log_warn("signalling the front");
    /* Its own shutdown is bounded (front.h): give it all of that. */
    for (int i = 0; i < FRONT_STOP_MS / 10; i++) {
        if (waitpid(w->front_pid, &status, WNOHANG) == w->front_pid)
            return;
        usleep(10000);
    }
    log_warnx("the front did not exit within %d s: killing it", FRONT_STOP_MS / 1000);
    if (kill(w->front_pid, SIGKILL) < 0 || waitpid(w->front_pid, &status, 0) < 0)
        log_warn("reaping the front");
}

/* The monitor's one timer for every deadline, and the heap behind it
 * (one deadline per task slot). */
static int setup_deadlines(struct warden *w, struct jc_err *err)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &w->tag_timer};

    w->armed_ms = -1;
    w->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (w->timer_fd < 0)
        return jc_fail(err, errno, "timerfd_create");
    if (deadlines_init(&w->dl, w->cfg->max_running, err) < 0)
        return -1;
    w->tag_timer = (struct ep_tag){TAG_TIMER, NULL};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->timer_fd, &ev) < 0)
        return jc_fail(err, errno, "epoll_ctl");
    return 0;
}

static int setup(struct warden *w, int *sigfd, sigset_t *mask, struct jc_err *err)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &w->tag_wake};

    sigemptyset(mask);
    sigaddset(mask, SIGTERM);
    sigaddset(mask, SIGINT);
    sigaddset(mask, SIGHUP);
    if (pthread_sigmask(SIG_BLOCK, mask, NULL) != 0)
        return jc_fail(err, 0, "sigprocmask");
    *sigfd = signalfd(-1, mask, SFD_CLOEXEC);
    /* The front's death is seen through its pidfd, not a SIGCHLD: every
     * child of ours sends one (the spawn trampolines, the tasks' inits),
     * and a task's end is the monitor's business (its own pidfd), not a
     * wake-up of this thread.  Unblocked (main.c blocked it) with its
     * default action, SIGCHLD is discarded as it is sent, by every thread
     * started from here on. */
    w->front_pidfd = (int)syscall(SYS_pidfd_open, w->front_pid, 0);
    if (w->front_pidfd < 0)
        return jc_fail(err, errno, "pidfd_open of the front");
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    if (pthread_sigmask(SIG_UNBLOCK, &chld, NULL) != 0)
        return jc_fail(err, 0, "unblocking SIGCHLD");
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    w->nslots = w->cfg->max_running + w->cfg->pool_size;
    w->slots = calloc(w->nslots, 1);
    if (*sigfd < 0 || w->epfd < 0 || w->wake_fd < 0 || !w->slots)
        return jc_fail(err, errno, "warden set-up");
    /* SPAWNED + EXITED per slot, a SPAWN_FAILED per request in flight. */
    if (ipc_chan_init(&w->chan, w->sock, 2 * w->cfg->max_running + w->cfg->max_connections + 16, err) < 0)
        return -1;
    w->tag_wake = (struct ep_tag){TAG_WAKE, NULL};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wake_fd, &ev) < 0)
        return jc_fail(err, errno, "epoll_ctl");
    return setup_deadlines(w, err);
}

static void teardown(struct warden *w, int sigfd)
{
    int fds[] = {sigfd, w->front_pidfd, w->epfd, w->wake_fd, w->timer_fd, w->env.null_fd};

    for (unsigned i = 0; i < JC_ARRAY_LEN(fds); i++)
        if (fds[i] >= 0)
            close(fds[i]);
    devdir_remove(w->env.dev_dir);
    free(w->slots);
    deadlines_free(&w->dl);
    ipc_chan_free(&w->chan);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->idle);
}

static void log_stopped(bool asked, const char *what)
{
    if (asked)
        log_info("stopped; %s", what);
    else
        log_errx("stopped after a failure; %s; exiting with status 1", what);
}

int warden_run(struct jc_config *cfg, struct cg_ctx *cg, struct jc_policy_set *policies,
               int sock, pid_t front_pid, uid_t svc_uid, gid_t svc_gid, int logdir_fd,
               struct logspace *space)
{
    struct warden w = {.cfg = cfg, .policies = policies, .judge_max = cfg->max, .sync_full = cfg->sync_full,
                       .cg = cg, .space = space,
                       .sock = sock, .front_pid = front_pid,
                       .front_pidfd = -1, .epfd = -1, .wake_fd = -1, .timer_fd = -1,
                       .env = {.null_fd = -1}};
    struct jc_err err = {0};
    pthread_t mon;
    sigset_t mask;
    int sigfd = -1;

    log_set_role("warden");
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.idle, NULL);
    if (setup(&w, &sigfd, &mask, &err) < 0 ||
        sandbox_env_init(&w.env, cfg, cg, policies, &err) < 0) {
        log_errx("%s", err.msg);
        stop_front(&w);
        cg_fini(cg); /* no task was made: the subtree is empty */
        teardown(&w, sigfd);
        return 1;
    }
    w.env.svc_uid = svc_uid;
    w.env.svc_gid = svc_gid;
    w.env.logdir_fd = logdir_fd;
    struct pool_slots slots = {pool_take_slot, pool_free_slot, &w};
    if (pool_init(&w.pool, cfg, &w.env, &slots, &err) < 0) {
        log_errx("%s", err.msg);
        stop_front(&w);
        teardown(&w, sigfd);
        return 1;
    }
    if (sweeper_start(&w.sweep, cg, &err) < 0) {
        log_errx("%s", err.msg);
        stop_front(&w);
        teardown(&w, sigfd);
        return 1;
    }
    if (pthread_create(&mon, NULL, monitor_main, &w) != 0) {
        log_errx("cannot start the monitor thread");
        sweeper_stop(&w.sweep, 0);
        stop_front(&w);
        teardown(&w, sigfd);
        return 1;
    }
    if (pool_start(&w.pool, &err) < 0)
        log_errx("%s: every spawn builds its own cell", err.msg);
    notify_init();
    notify_status("starting the front");
    enum serve_end end = serve(&w, sigfd);
    notify_stopping(end == SERVE_ASKED ? "stopping: ending the tasks" : "stopping after a failure");
    stop_all(&w, end == SERVE_ASKED);
    pthread_join(mon, NULL);
    /* The ended tasks' cgroups: the monitor handed over the last of them. */
    unsigned left = sweeper_stop(&w.sweep, SWEEP_STOP_MS);
    pool_join(&w.pool); /* after the tasks: its cells' PDEATHSIG */
    if (end == SERVE_ASKED)
        drain_reports(&w);
    stop_front(&w);
    cg_fini(cg);
    teardown(&w, sigfd);
    log_stopped(end == SERVE_ASKED, w.given_up || left ? "some tasks or cgroups left (see above)"
                                                       : "no task or cgroup left");
    return end == SERVE_ASKED ? 0 : 1;
}
