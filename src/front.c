/* front.c — the front process: drop every privilege, then serve HTTP and
 * apply the warden's reports (see front.h).
 *
 * Threads: libmicrohttpd's pool (requests), one IPC thread (reports from the
 * warden, and the configurations a reload sends, which it publishes as the
 * snapshot in force; it also sends what the HTTP threads queued), the
 * log followers' watcher (follow.c), and the main thread, which only waits
 * for signals and runs the orderly shutdown.  A warden that dies, or takes
 * nothing for ipc_stall_s, ends the front with status 1; only an asked-for
 * stop ends it with 0.
 * Runs in: the front (service user, no capabilities). */
#include "front.h"

#include <errno.h>
#include <stddef.h>
#include <limits.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "follow.h"
#include "http.h"
#include "input.h"
#include "ipc.h"
#include "log.h"
#include "record.h"
#include "util.h"
#include "waits.h"

/* Become the service user with no capability at all, and prove it. */
static int drop_privileges(uid_t uid, gid_t gid, struct jc_err *err)
{
    cap_t none;
    int rc;

    /* The bounding set can only be emptied while we still hold CAP_SETPCAP. */
    for (int c = 0; c < (int)cap_max_bits(); c++)
        if (cap_drop_bound((cap_value_t)c) < 0 && errno != EINVAL)
            return jc_fail(err, errno, "front: dropping capability %d from the bounding set", c);
    if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
        return jc_fail(err, errno, "front: switching to uid %u gid %u", uid, gid);
    if (!(none = cap_init()))
        return jc_fail(err, errno, "front: cap_init");
    rc = cap_set_proc(none);
    cap_free(none);
    if (rc < 0)
        return jc_fail(err, errno, "front: clearing capabilities");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return jc_fail(err, errno, "front: no_new_privs");
    /* Verify: a way back to root must not exist. */
    if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
        return jc_fail(err, 0, "front: could regain root after dropping privileges");
    return 0;
}

/* ---- the warden's side: the only places that speak IPC ------------------ */

/* The request's stdin and files, sealed into memfds to ride with SPAWN. */
struct sealed {
    int fds[INPUT_NFDS], list[INPUT_NFDS];
    unsigned n;
};

static void sealed_close(struct sealed *s) { input_close(s->fds); }

static void start_failed(struct front *f, const char *id, int status, const char *why, const char *msg)
{
    char text[JC_ERR_MSG_MAX];

    snprintf(text, sizeof text, "%s%.400s", why, msg);
    tasks_spawn_failed(f->tasks, id, status, text, jc_now_ms(CLOCK_REALTIME));
}

struct spawn_send {
    struct front *f;
    union ipc_msg *m;
    const struct sealed *sl;
    struct jc_err *err;
};

/* Under the snapshot's lock (snap_locked): a task queued before a reload
 * lowered a maximum asks for more than the warden now allows; checked and
 * sent with no reload in between (the warden tightens its check once the
 * front confirms the reload, after this). */
static int send_within_max(const struct jc_snap *s, void *ctx)
{
    struct spawn_send *c = ctx;
    const struct jc_limit_def *d = jc_limits_outside(&c->m->spawn.spec.limits, &s->cfg.max);

    if (d)
        return jc_client(c->err, 400, "limits.%s is above limits.max.%s since a reload (SIGHUP)", d->name,
                         d->name);
    return ipc_chan_send_fds(&c->f->chan, c->m, IPC_SPAWN, c->sl->list, c->sl->n, c->err);
}

/* Why a SPAWN could not be sent.  A failed channel (ipc_chan_failed) is a
 * warden that is gone or dead to us: the daemon goes down with it, and the
 * client is told so, whichever of the front's threads notices first. */
static const char *spawn_unsent(struct front *f, const struct jc_err *err)
{
    if (err->status == 400)
        return "";
    return ipc_chan_failed(&f->chan) ? "The daemon is shutting down: the warden is unreachable: "
                                     : "warden unreachable: ";
}

/* The table's start hook: one SPAWN message, with the sealed input (the
 * channel keeps duplicates of the descriptors until it is sent). */
static void start_task(void *ctx, const struct jc_spec *spec, const struct jc_input *in)
{
    struct front *f = ctx;
    _cleanup_free_ union ipc_msg *m = malloc(sizeof *m);
    __attribute__((cleanup(sealed_close))) struct sealed sl = {{-1, -1}, {-1, -1}, 0};
    struct jc_err err = {0};
    struct spawn_send send = {f, m, &sl, &err};

    if (!m) {
        start_failed(f, spec->id, 503, "", "out of memory");
        return;
    }
    /* Only what the SPAWN carries (ipc.h): the header, its padding
     * zeroed (no stale bytes on the wire), and the spec up to its strings' end. */
    memset(m, 0, offsetof(struct ipc_spawn, spec));
    memcpy(&m->spawn.spec, spec, spec_size(spec));
    memcpy(m->h.id, spec->id, JC_ID_LEN);
    if (input_seal(spec, in, sl.fds, sl.list, &sl.n, &err) < 0)
        start_failed(f, spec->id, 503, "sealing the input: ", err.msg);
    else if (snap_locked(&f->conf, send_within_max, &send) < 0)
        start_failed(f, spec->id, err.status == 400 ? 400 : 503, spawn_unsent(f, &err), err.msg);
}

int front_kill(struct front *f, const char *id, struct jc_err *err)
{
    union ipc_msg m = {0};

    memcpy(m.h.id, id, JC_ID_LEN);
    return ipc_chan_send(&f->chan, &m, IPC_KILL, err);
}

/* A warden report as a plain call on the table. */
static void apply_to_table(struct ttable *t, const union ipc_msg *m)
{
    struct tasks_end e;

    switch (m->h.type) {
    case IPC_SPAWNED:
        tasks_spawned(t, m->h.id, m->spawned.pid, m->spawned.started_ms);
        break;
    case IPC_SPAWN_FAILED:
        tasks_spawn_failed(t, m->h.id, m->failed.status, m->failed.msg, m->failed.at_ms);
        break;
    default: /* IPC_EXITED */
        e = (struct tasks_end){.reason = (enum jc_reason)m->exited.reason,
                               .exit_code = m->exited.exit_code, .signal = m->exited.signal,
                               .finished_ms = m->exited.finished_ms, .usage = m->exited.usage,
                               .log_errno = m->exited.log_errno, .by_stop = m->exited.by_stop};
        tasks_exited(t, m->h.id, &e);
    }
}

/* ---- a reload (SIGHUP), as the warden sends it ---------------------------- */

struct in_force {
    struct front *f;
    const struct jc_config *cfg; /* of the snapshot just published */
    uint32_t gen;
};

/* Under the snapshot's lock, right after the publish: the HTTP server's
 * own copies, then the warden hears the reload is in force. */
static void config_in_force(void *ctx)
{
    struct in_force *c = ctx;
    struct http_server *h = c->f->http;
    const struct jc_config *cfg = c->cfg;
    union ipc_msg m = {0};
    struct jc_err err;

    if (h)
        http_set_live(h, cfg->max_body_bytes, cfg->access_log, cfg->request_timeout_s);
    m.config_ack.gen = c->gen;
    if (ipc_chan_send(&c->f->chan, &m, IPC_CONFIG_ACK, &err) < 0)
        log_warnx("confirming the reload to the warden: %s", err.msg);
}

/* What the channel to the warden may have to hold while the warden is
 * busy: a message per connection (a SPAWN, a request's answer wait), and a
 * KILL per running task (tasks_cancel sends one per task); a channel
 * fuller than that is a warden dead to us (ipc.c).  A burst of DELETEs
 * once filled the old max_connections + 16 and took the daemon down. */
static unsigned chan_cap(const struct jc_config *c) { return c->max_connections + c->max_running + 16; }

static struct jc_snap *snap_of(const struct ipc_config *m)
{
    struct jc_snap *s = snap_new(&m->cfg);

    for (unsigned i = 0; s && i < m->npolicies; i++)
        (void)snap_add_policy(s, m->policies[i].name, m->policies[i].sha256); /* npolicies checked */
    return s;
}

/* The warden kept every key only a restart changes (a CONFIG that changes
 * one is confused: fatal); the rest is in force for requests that start
 * from now on.  false: fatal. */
static bool apply_config(struct front *f, const struct ipc_config *m)
{
    static struct jc_config c; /* IPC thread only */
    const char *changed[1];
    struct jc_err err;
    struct in_force ctx = {f, NULL, m->gen};
    struct jc_snap *s;

    c = m->cfg;
    if (config_keep_restart(f->cfg, &c, changed, 1)) {
        log_errx("fatal: the warden's new configuration changes %s, which needs a restart", changed[0]);
        return false;
    }
    if (!(s = snap_of(m))) {
        log_errx("reload: out of memory: the old configuration stays in force");
        return true;
    }
    tasks_reconf(f->tasks, &m->cfg);
    if (ipc_chan_grow(&f->chan, chan_cap(&m->cfg), &err) < 0)
        log_warnx("reload: %s", err.msg);
    log_set_level(m->cfg.log_level);
    f->stall_s = m->cfg.ipc_stall_s;
    ctx.cfg = &s->cfg;
    snap_publish(&f->conf, s, config_in_force, &ctx);
    log_info("reload: the new configuration is in force for new requests and tasks (%zu seccomp profiles)",
             (size_t)m->npolicies);
    return true;
}

/* A report from the warden.  DRAIN says a stop began: new POSTs get 503,
 * nothing more starts, queued tasks stay queued (GETs go on).  SHUTDOWN
 * says it stops in order (the channel closes next and that is no death).
 * false: a type it may not send. */
static bool apply_report(struct front *f, union ipc_msg *m)
{
    if (m->h.type == IPC_TOKEN) {
        struct http_server *h = f->http;
        if (h)
            http_set_token(h, m->token.token);
        explicit_bzero(m, sizeof m->token);
        if (h)
            log_info("the bearer token was replaced (SIGHUP): the old one is refused from now on");
        else
            log_warnx("a new token (SIGHUP) arrived before the HTTP server started: ignored, send SIGHUP again");
        return true;
    }
    if (m->h.type == IPC_CONFIG)
        return apply_config(f, &m->config);
    if (m->h.type == IPC_DRAIN) {
        tasks_stop(f->tasks);
        log_info("drain: new tasks are refused; queued tasks stay queued for the next start");
        return true;
    }
    if (m->h.type == IPC_SHUTDOWN) {
        atomic_store(&f->stopping, true);
        return true;
    }
    if (m->h.type == IPC_SPAWNED || m->h.type == IPC_SPAWN_FAILED || m->h.type == IPC_EXITED) {
        apply_to_table(f->tasks, m);
        return true;
    }
    log_errx("fatal: unexpected message type %u from the warden", m->h.type);
    return false;
}

/* Every report now readable.  1: go on, 0: the channel ended, -1: fatal. */
static int read_reports(struct front *f)
{
    static union ipc_msg m; /* this thread only */
    struct jc_err err;
    int rc;

    while ((rc = ipc_recv(f->sock, &m, &err)) > 0)
        if (!apply_report(f, &m))
            return -1;
    if (rc < 0 && (err.errnum == EAGAIN || err.errnum == EINTR))
        return 1;
    /* The warden closed its end with requests of ours unread (it died
     * before it read them): the same death as EOF. */
    if (rc < 0 && err.errnum == ECONNRESET)
        return 0;
    if (rc < 0)
        log_errx("fatal: %s", err.msg);
    return rc;
}

/* Requests the warden has not taken: a warden that took nothing for
 * ipc_stall_s, or let the queue fill, is dead.  POLLOUT while some wait. */
static bool flush_requests(struct front *f, short *events)
{
    int left = ipc_chan_flush(&f->chan);

    if (left < 0 && !atomic_load(&f->stopping)) {
        log_errx("the warden's channel failed (%s)", strerror(ipc_chan_failed(&f->chan)));
        return false;
    }
    if (left > 0 && ipc_chan_stalled_ms(&f->chan) > (int64_t)f->stall_s * 1000) {
        log_errx("the warden has taken nothing for %u s (%d requests wait)", f->stall_s, left);
        return false;
    }
    *events = (short)(POLLIN | (left > 0 ? POLLOUT : 0));
    return true;
}

static void ipc_loop(struct front *f)
{
    struct pollfd pfd[2] = {{.fd = f->sock, .events = POLLIN}, {.fd = f->chan.wake_fd, .events = POLLIN}};
    int rc = 1;

    while (rc > 0 && flush_requests(f, &pfd[0].events)) {
        if (poll(pfd, 2, pfd[0].events & POLLOUT ? 200 : -1) < 0 && errno != EINTR) {
            log_warn("poll");
            break;
        }
        if (pfd[0].revents)
            rc = read_reports(f);
    }
    if (rc != 0 || !atomic_load(&f->stopping)) {
        if (rc == 0)
            log_errx("the warden died (its channel closed without a stop)");
        log_errx("without the warden nothing can run: exiting with status 1");
        atomic_store(&f->warden_lost, true);
    }
}

static void *ipc_main(void *arg)
{
    struct front *f = arg;

    jc_name_thread("jc-ipc");
    ipc_loop(f);
    /* The warden is gone: whatever it ran died with it (PDEATHSIG). */
    tasks_end_all(f->tasks, RS_DAEMON_RESTART);
    if (kill(getpid(), SIGUSR1) < 0) /* wake the main thread */
        log_warn("kill SIGUSR1");
    return NULL;
}

static int wait_signal(const sigset_t *set, int timeout_s)
{
    struct timespec ts = {.tv_sec = timeout_s};
    int sig;

    do
        sig = timeout_s ? sigtimedwait(set, NULL, &ts) : sigwaitinfo(set, NULL);
    while (sig < 0 && errno == EINTR);
    return sig;
}

/* The warden tells the service manager (notify.h): we serve. */
static void tell_ready(struct front *f)
{
    union ipc_msg m = {0};
    struct jc_err err;

    if (ipc_chan_send(&f->chan, &m, IPC_READY, &err) < 0)
        log_warnx("telling the warden we serve: %s", err.msg);
}

/* Ask the warden to stop every task (it reports each end), then go. */
static void shutdown_front(struct front *f, const sigset_t *set)
{
    union ipc_msg m = {0};
    struct jc_err err;

    /* If the warden stops too (it was signalled as well), its end of the
     * channel may be closed already: that is no fault. */
    atomic_store(&f->stopping, true);
    tasks_stop(f->tasks); /* new POSTs: 503 "shutting down"; no more starts */
    if (ipc_chan_send(&f->chan, &m, IPC_SHUTDOWN, &err) < 0)
        log_debug("%s", err.msg);
    for (int sig = 0; sig != SIGUSR1;)
        if ((sig = wait_signal(set, 20)) < 0) {
            log_warnx("the warden did not finish within 20 s");
            break;
        }
}

/* The HTTP server's copies of what a reload may have changed before it started. */
static int sync_live(const struct jc_snap *s, void *ctx)
{
    http_set_live(ctx, s->cfg.max_body_bytes, s->cfg.access_log, s->cfg.request_timeout_s);
    return 0;
}

static int open_tables(struct front *f, int tasks_dirfd, struct jc_err *err)
{
    struct tasks_hooks hooks = {.start = start_task, .wake = api_wake, .ctx = f};
    char path[PATH_MAX + 32];

    snprintf(path, sizeof path, "%s/tasks/records.db", f->cfg->state_dir);
    if (!(f->tasks = tasks_open(f->cfg, path, tasks_dirfd, f->logs_dirfd, f->space, &hooks, err)) ||
        !(f->waits = waits_open(f->cfg->max_waiters, api_wake, err)))
        return -1;
    return tasks_set_end_hook(f->tasks, waits_task_ended, f->waits);
}

int front_run(struct front *f, int listen_fd, int tasks_dirfd, uid_t uid, gid_t gid)
{
    struct jc_err err = {0};
    pthread_t ipc;
    sigset_t set;
    int sig;

    log_set_role("front");
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    f->stall_s = f->cfg->ipc_stall_s;
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0 || drop_privileges(uid, gid, &err) < 0 ||
        snap_cell_init(&f->conf, f->cfg, f->policies, &err) < 0 || open_tables(f, tasks_dirfd, &err) < 0 ||
        ipc_chan_init(&f->chan, f->sock, chan_cap(f->cfg), &err) < 0) {
        log_errx("%s", err.msg);
        return 1;
    }
    if (!(f->follow = follow_open(f->tasks, f->logs_dirfd, &err))) {
        log_errx("%s", err.msg);
        return 1;
    }
    tasks_set_end_hook(f->tasks, follow_task_ended, f->follow);
    if (pthread_create(&ipc, NULL, ipc_main, f) != 0 || tasks_run(f->tasks, &err) < 0) {
        log_errx("cannot start the IPC or table thread");
        return 1;
    }
    struct http_opts o = {
        .threads = f->cfg->http_threads, .max_conns = f->cfg->max_connections,
        .per_ip_conns = f->cfg->per_ip_connections, .timeout_s = f->cfg->conn_timeout_s,
        .request_timeout_s = f->cfg->request_timeout_s,
        .max_body = f->cfg->max_body_bytes, .token = f->cfg->token,
        .access_log = f->cfg->access_log,
        .unix_socket = f->cfg->listen_unix[0] != 0, .peer_uid = uid, .peer_gid = gid,
    };
    f->http = http_start(f, listen_fd, api_routes, api_nroutes, &o, &err);
    if (!f->http) {
        log_errx("%s", err.msg);
        return 1;
    }
    (void)snap_locked(&f->conf, sync_live, f->http); /* a reload that came first */
    tell_ready(f);
    sig = wait_signal(&set, 0);
    if (sig != SIGUSR1)
        shutdown_front(f, &set);
    pthread_join(ipc, NULL);
    /* Held requests answer with what they have, streams end, open
     * requests get a moment to finish. */
    waits_wake_all(f->waits);
    follow_stop(f->follow); /* no stream may stay suspended past here */
    /* Every task's end is applied (the IPC thread is done): each stream
     * sends the rest of its log and its end before the server stops. */
    (void)follow_drain(f->follow, FRONT_DRAIN_MS);
    http_quiesce(f->http, FRONT_QUIESCE_MS);
    http_stop(f->http);
    follow_close(f->follow);
    waits_close(f->waits);
    tasks_close(f->tasks);
    ipc_chan_free(&f->chan);
    snap_cell_free(&f->conf);
    return atomic_load(&f->warden_lost) ? 1 : 0;
}
