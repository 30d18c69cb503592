/* follow.c — followers of task logs (see follow.h).
 * Runs in: the front (libmicrohttpd's threads, the watcher thread, the IPC
 * thread), under fw->lock where follow.h says. */
#include "follow.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "taskid.h"
#include "util.h"

#define NBUCKETS 1024
#define BLOCK 4096 /* bytes per libmicrohttpd read */

struct follower {
    struct follow *fw;
    struct MHD_Connection *conn;
    char id[JC_ID_LEN];
    int log_fd;       /* -1 until the log exists */
    uint64_t offset;  /* the next byte of the log to send */
    bool sse;
    bool ended;       /* the task is terminal (fw->lock) */
    bool suspended;   /* waiting for output or the end (fw->lock) */
    bool kicked;      /* woken while not suspended (fw->lock) */
    char *tail;       /* SSE: the end event, being sent */
    size_t tail_len, tail_off;
    struct follower *next; /* in its bucket */
};

struct follow {
    pthread_mutex_t lock;
    pthread_cond_t gone; /* signalled when nfollowers drops to 0 */
    unsigned nfollowers; /* registered, their response not yet released */
    struct ttable *tasks;
    int logs_dirfd, ino_fd, stop_fd;
    bool stopping;
    pthread_t watcher;
    struct follower *buckets[NBUCKETS];
};

static unsigned bucket_of(const char *id)
{
    uint32_t h = 2166136261u;

    for (; *id; id++)
        h = (h ^ (uint8_t)*id) * 16777619u;
    return h % NBUCKETS;
}

/* ---- waking (fw->lock held) --------------------------------------------- */

static void kick(struct follower *fl)
{
    if (fl->suspended) {
        fl->suspended = false;
        MHD_resume_connection(fl->conn);
    } else {
        fl->kicked = true; /* it is running: it must look again before sleeping */
    }
}

/* id NULL: every follower. */
static void kick_task(struct follow *fw, const char *id, bool ended)
{
    for (unsigned b = id ? bucket_of(id) : 0; b < NBUCKETS; b++) {
        for (struct follower *fl = fw->buckets[b]; fl; fl = fl->next)
            if (!id || strcmp(fl->id, id) == 0) {
                fl->ended |= ended;
                kick(fl);
            }
        if (id)
            break;
    }
}

void follow_task_ended(void *ctx, const char *id)
{
    struct follow *fw = ctx;

    pthread_mutex_lock(&fw->lock);
    kick_task(fw, id, true);
    pthread_mutex_unlock(&fw->lock);
}

/* ---- the watcher thread --------------------------------------------------- */

/* "<id>.log" → wake that task's followers. */
static void on_event(struct follow *fw, const struct inotify_event *ev)
{
    char id[JC_ID_LEN];
    size_t n = ev->len ? strnlen(ev->name, ev->len) : 0;

    pthread_mutex_lock(&fw->lock);
    if (ev->mask & IN_Q_OVERFLOW) { /* events were lost: everyone looks */
        kick_task(fw, NULL, false);
    } else if (n > 4 && n - 4 < JC_ID_LEN && strcmp(ev->name + n - 4, ".log") == 0) {
        memcpy(id, ev->name, n - 4);
        id[n - 4] = 0;
        if (jc_id_valid(id))
            kick_task(fw, id, false);
    }
    pthread_mutex_unlock(&fw->lock);
}

static void drain_events(struct follow *fw)
{
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t n;

    while ((n = read(fw->ino_fd, buf, sizeof buf)) > 0)
        for (ssize_t off = 0; off + (ssize_t)sizeof(struct inotify_event) <= n;) {
            const struct inotify_event *ev = (const void *)(buf + off);
            on_event(fw, ev);
            off += (ssize_t)(sizeof *ev + ev->len);
        }
    if (n < 0 && errno != EAGAIN && errno != EINTR)
        log_warn("follow: reading inotify events");
}

static void *watch_main(void *arg)
{
    struct follow *fw = arg;
    struct pollfd p[2] = {{.fd = fw->ino_fd, .events = POLLIN}, {.fd = fw->stop_fd, .events = POLLIN}};

    jc_name_thread("jc-follow");
    for (;;) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            log_warn("follow: poll");
            return NULL;
        }
        if (p[1].revents)
            return NULL;
        if (p[0].revents)
            drain_events(fw);
    }
}

/* ---- setup -------------------------------------------------------------- */

static int watch_dir(struct follow *fw, struct jc_err *err)
{
    char path[64];

    fw->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fw->ino_fd < 0)
        return jc_fail(err, errno, "follow: inotify_init1");
    /* inotify wants a path: the directory we hold open, by its fd. */
    snprintf(path, sizeof path, "/proc/self/fd/%d", fw->logs_dirfd);
    if (inotify_add_watch(fw->ino_fd, path, IN_CREATE | IN_MODIFY | IN_ONLYDIR) < 0)
        return jc_fail(err, errno, "follow: watching the logs directory");
    fw->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fw->stop_fd < 0)
        return jc_fail(err, errno, "follow: eventfd");
    return 0;
}

/* follow_drain() waits on CLOCK_MONOTONIC: immune to the clock being set. */
static int init_gone(struct follow *fw)
{
    pthread_condattr_t ca;
    int rc = pthread_condattr_init(&ca);

    if (rc == 0 && (rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC)) == 0)
        rc = pthread_cond_init(&fw->gone, &ca);
    pthread_condattr_destroy(&ca);
    return rc == 0 ? 0 : -1;
}

struct follow *follow_open(struct ttable *tasks, int logs_dirfd, struct jc_err *err)
{
    struct follow *fw = calloc(1, sizeof *fw);
    int rc;

    if (!fw) {
        jc_fail(err, ENOMEM, "follow");
        return NULL;
    }
    pthread_mutex_init(&fw->lock, NULL);
    if (init_gone(fw) < 0) {
        jc_fail(err, 0, "follow: condition variable");
        free(fw);
        return NULL;
    }
    fw->tasks = tasks;
    fw->logs_dirfd = logs_dirfd;
    fw->ino_fd = fw->stop_fd = -1;
    if (watch_dir(fw, err) < 0)
        goto fail;
    if ((rc = pthread_create(&fw->watcher, NULL, watch_main, fw)) != 0) {
        jc_fail(err, rc, "follow: starting the watcher thread");
        goto fail;
    }
    return fw;
fail:
    if (fw->ino_fd >= 0)
        close(fw->ino_fd);
    if (fw->stop_fd >= 0)
        close(fw->stop_fd);
    free(fw);
    return NULL;
}

void follow_stop(struct follow *fw)
{
    pthread_mutex_lock(&fw->lock);
    fw->stopping = true;
    kick_task(fw, NULL, true);
    pthread_mutex_unlock(&fw->lock);
}

bool follow_drain(struct follow *fw, int timeout_ms)
{
    struct timespec until;
    int rc = 0;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&fw->lock);
    while (fw->nfollowers > 0 && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&fw->gone, &fw->lock, &until);
    unsigned left = fw->nfollowers;
    pthread_mutex_unlock(&fw->lock);
    if (left)
        log_warnx("follow: %u stream(s) not ended within %d ms: cut", left, timeout_ms);
    return left == 0;
}

void follow_close(struct follow *fw)
{
    uint64_t one = 1;

    if (!fw)
        return;
    if (write(fw->stop_fd, &one, sizeof one) != sizeof one)
        log_warn("follow: eventfd write");
    else
        pthread_join(fw->watcher, NULL);
    close(fw->ino_fd);
    close(fw->stop_fd);
    pthread_cond_destroy(&fw->gone);
    free(fw);
}

/* ---- one follower's stream ---------------------------------------------- */

/* The log, once the warden has created it.  0: open or not there yet.
 * EACCES is "not yet" too: the warden creates the file as root and only
 * then chowns it to us; its first write (IN_MODIFY) comes after the chown
 * and wakes us again. */
static int open_log(struct follower *fl)
{
    char name[JC_ID_LEN + 8];
    struct stat st;
    int fd;

    snprintf(name, sizeof name, "%s.log", fl->id);
    fd = openat(fl->fw->logs_dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT || errno == EACCES ? 0 : -1;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -1;
    }
    fl->log_fd = fd;
    return 0;
}

/* Up to max bytes of the log at fl->offset: >0 bytes, 0 none yet, -1 error. */
static ssize_t read_log(struct follower *fl, char *buf, size_t max)
{
    ssize_t n;

    if (fl->log_fd < 0 && open_log(fl) < 0)
        return -1;
    if (fl->log_fd < 0)
        return 0;
    do
        n = pread(fl->log_fd, buf, max, (off_t)fl->offset);
    while (n < 0 && errno == EINTR);
    return n;
}

/* SSE framing of raw bytes into out: "data: " lines (LF, CR and CRLF each
 * end one) and an "id:" with the log offset after them, so that a client
 * that reconnects with Last-Event-ID resumes there.  Returns the event's
 * length; *used: how many raw bytes it carries. */
static size_t sse_frame(const char *raw, size_t n, uint64_t start, char *out, size_t max,
                        size_t *used)
{
    const size_t tail = 32; /* "\nid: <20 digits>\n\n" */
    size_t o = 0, i = 0;

    memcpy(out, "data: ", 6);
    o = 6;
    for (; i < n && o + 7 + tail <= max; i++) {
        if (raw[i] == '\r' && i + 1 < n && raw[i + 1] == '\n')
            continue; /* CRLF: the LF ends the line */
        if (raw[i] == '\n' || raw[i] == '\r') {
            memcpy(out + o, "\ndata: ", 7);
            o += 7;
        } else {
            out[o++] = raw[i];
        }
    }
    *used = i;
    o += (size_t)snprintf(out + o, max - o, "\nid: %" PRIu64 "\n\n", start + i);
    return o;
}

static ssize_t read_sse(struct follower *fl, char *buf, size_t max)
{
    char raw[BLOCK / 2];
    size_t want = max / 2 < sizeof raw ? max / 2 : sizeof raw, used;
    ssize_t n;

    if (max < 64)
        return 0; /* libmicrohttpd offers more next time */
    n = read_log(fl, raw, want);
    if (n <= 0)
        return n;
    n = (ssize_t)sse_frame(raw, (size_t)n, fl->offset, buf, max, &used);
    fl->offset += used;
    return n;
}

/* The last event: the record, as GET /api/tasks/{id} gives it. */
static int build_tail(struct follower *fl)
{
    char *json = NULL;
    struct jc_err err;
    int len;

    if (tasks_get_json(fl->fw->tasks, fl->id, &json, NULL, &err) < 0)
        json = strdup("{\"error\":\"the record is gone\"}");
    if (!json)
        return -1;
    len = asprintf(&fl->tail, "event: end\ndata: %s\n\n", json);
    free(json);
    if (len < 0) {
        fl->tail = NULL;
        return -1;
    }
    fl->tail_len = (size_t)len;
    return 0;
}

static ssize_t send_tail(struct follower *fl, char *buf, size_t max)
{
    size_t n = fl->tail_len - fl->tail_off;

    if (n == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    n = n < max ? n : max;
    memcpy(buf, fl->tail + fl->tail_off, n);
    fl->tail_off += n;
    return (ssize_t)n;
}

/* Nothing to send now: sleep until kicked (unless already kicked). */
static ssize_t wait_more(struct follower *fl)
{
    pthread_mutex_lock(&fl->fw->lock);
    if (!fl->kicked && !fl->ended) {
        fl->suspended = true;
        MHD_suspend_connection(fl->conn);
    }
    fl->kicked = false;
    pthread_mutex_unlock(&fl->fw->lock);
    return 0;
}

static ssize_t on_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct follower *fl = cls;
    ssize_t n;
    bool ended;

    if (fl->tail)
        return send_tail(fl, buf, max);
    pthread_mutex_lock(&fl->fw->lock);
    ended = fl->ended; /* before the read: what ended is all in the file */
    fl->kicked = false;
    pthread_mutex_unlock(&fl->fw->lock);
    n = fl->sse ? read_sse(fl, buf, max) : read_log(fl, buf, max);
    if (n > 0 && !fl->sse)
        fl->offset += (uint64_t)n;
    if (n < 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (n > 0)
        return n;
    if (!ended)
        return wait_more(fl);
    if (!fl->sse)
        return MHD_CONTENT_READER_END_OF_STREAM;
    return build_tail(fl) < 0 ? MHD_CONTENT_READER_END_WITH_ERROR : send_tail(fl, buf, max);
}

static void unlink_follower(struct follower *fl)
{
    struct follow *fw = fl->fw;

    pthread_mutex_lock(&fw->lock);
    for (struct follower **pp = &fw->buckets[bucket_of(fl->id)]; *pp; pp = &(*pp)->next)
        if (*pp == fl) {
            *pp = fl->next;
            break;
        }
    if (--fw->nfollowers == 0)
        pthread_cond_broadcast(&fw->gone);
    pthread_mutex_unlock(&fw->lock);
}

/* libmicrohttpd is done with the response (the connection is over). */
static void on_free(void *cls)
{
    struct follower *fl = cls;

    unlink_follower(fl);
    if (fl->log_fd >= 0)
        close(fl->log_fd);
    free(fl->tail);
    free(fl);
}

/* ---- a new follower ------------------------------------------------------- */

/* Registered first, then the record read: an end that comes in between is
 * seen either way (by the hook, or in the record). */
static int add_follower(struct follow *fw, struct follower *fl, struct jc_err *err)
{
    unsigned b = bucket_of(fl->id);
    char *json;

    pthread_mutex_lock(&fw->lock);
    fl->next = fw->buckets[b];
    fw->buckets[b] = fl;
    fw->nfollowers++;
    fl->ended = fw->stopping;
    pthread_mutex_unlock(&fw->lock);
    bool done;
    if (tasks_get_json(fw->tasks, fl->id, &json, &done, err) < 0) {
        unlink_follower(fl);
        return -1;
    }
    free(json);
    pthread_mutex_lock(&fw->lock);
    fl->ended |= done;
    pthread_mutex_unlock(&fw->lock);
    return 0;
}

/* The kernel may queue at most FOLLOW_SNDBUF for a reader that stalls. */
static void cap_sndbuf(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    int v = FOLLOW_SNDBUF / 2; /* the kernel doubles it */

    if (ci && setsockopt(ci->connect_fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v) < 0)
        log_warn("follow: SO_SNDBUF");
}

struct MHD_Response *follow_response(struct follow *fw, struct MHD_Connection *conn,
                                     const char *id, uint64_t offset, bool sse,
                                     struct jc_err *err)
{
    struct follower *fl = calloc(1, sizeof *fl);
    struct MHD_Response *resp;

    if (!fl) {
        jc_fail(err, ENOMEM, "follower");
        return NULL;
    }
    *fl = (struct follower){.fw = fw, .conn = conn, .log_fd = -1, .offset = offset, .sse = sse};
    snprintf(fl->id, sizeof fl->id, "%s", id);
    if (add_follower(fw, fl, err) < 0) {
        free(fl);
        return NULL;
    }
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, BLOCK, on_read, fl, on_free);
    if (!resp) {
        on_free(fl);
        jc_fail(err, ENOMEM, "follow response");
        return NULL;
    }
    cap_sndbuf(conn);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no"); /* proxies: pass it on at once */
    return resp;
}
