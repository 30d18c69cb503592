/* tasks.c — the front's task table and records on disk (see tasks.h).
 * Runs in: the front (HTTP threads and the IPC thread, under t->lock). */
#include "tasks.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "jsonutil.h"
#include "logspace.h"
#include "log.h"
#include "request.h"

#define NBUCKETS 16384

struct trec {
    char id[JC_ID_LEN];
    char name[JC_NAME_MAX + 1];
    char policy[POLICY_NAME_MAX];
    char policy_sha[65];
    enum jc_state state;
    enum jc_reason reason;
    int exit_code, signal, pid;
    int64_t created_ms, started_ms, finished_ms;
    uint64_t seq;
    bool is_command;
    uint32_t duration;
    struct jc_limits limits;
    struct jc_usage usage;
    char *command; /* JSON array text */
    char *error;
    void *waiter;
    struct trec *newer, *older, *hnext;
};

struct ttable {
    pthread_mutex_t lock;
    const struct jc_config *cfg;
    int dirfd, logs_dirfd;
    struct logspace *space;
    tasks_wake_fn wake;
    void (*end_fn)(void *ctx, const char *id);
    void *end_ctx;
    struct trec *newest, *oldest;
    struct trec *buckets[NBUCKETS];
    size_t count;
    unsigned alive;
    uint64_t next_seq;
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static unsigned bucket_of(const char *id)
{
    uint32_t h = 2166136261u;

    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 16777619u;
    return h % NBUCKETS;
}

static struct trec *find(struct ttable *t, const char *id)
{
    for (struct trec *r = t->buckets[bucket_of(id)]; r; r = r->hnext)
        if (strcmp(r->id, id) == 0)
            return r;
    return NULL;
}

/* Insert keeping the list ordered by seq, newest first (loads come unsorted). */
static void link_rec(struct ttable *t, struct trec *r)
{
    unsigned b = bucket_of(r->id);
    struct trec *after = t->newest;

    r->hnext = t->buckets[b];
    t->buckets[b] = r;
    while (after && after->seq > r->seq)
        after = after->older;
    /* r goes just before `after` (i.e. newer than it). */
    r->older = after;
    r->newer = after ? after->newer : t->oldest;
    if (r->newer)
        r->newer->older = r;
    else
        t->newest = r;
    if (after)
        after->newer = r;
    else
        t->oldest = r;
    t->count++;
    if (!jc_state_terminal(r->state))
        t->alive++;
}

static void unlink_rec(struct ttable *t, struct trec *r)
{
    for (struct trec **pp = &t->buckets[bucket_of(r->id)]; *pp; pp = &(*pp)->hnext)
        if (*pp == r) {
            *pp = r->hnext;
            break;
        }
    if (r->newer)
        r->newer->older = r->older;
    else
        t->newest = r->older;
    if (r->older)
        r->older->newer = r->newer;
    else
        t->oldest = r->newer;
    t->count--;
}

static void rec_free(struct trec *r)
{
    if (!r)
        return;
    free(r->command);
    free(r->error);
    free(r);
}

/* ---- record ↔ JSON -------------------------------------------------- */

static json_object *time_json(int64_t ms)
{
    char buf[40];
    time_t s = (time_t)(ms / 1000);
    struct tm tm;

    if (ms <= 0)
        return NULL;
    gmtime_r(&s, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + strlen(buf), sizeof buf - strlen(buf), ".%03dZ", (int)(ms % 1000));
    return json_object_new_string(buf);
}

static int64_t time_parse(json_object *v)
{
    struct tm tm = {0};
    const char *s;
    char *rest;
    int msec = 0;

    if (!json_object_is_type(v, json_type_string))
        return 0;
    s = json_object_get_string(v);
    rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest)
        return 0;
    if (*rest == '.')
        msec = atoi(rest + 1);
    return (int64_t)timegm(&tm) * 1000 + msec;
}

static json_object *usage_json(const struct jc_usage *u)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "memory_peak_bytes", json_object_new_int64((int64_t)u->memory_peak_bytes));
    json_object_object_add(o, "cpu_usec", json_object_new_int64((int64_t)u->cpu_usec));
    json_object_object_add(o, "wall_ms", json_object_new_int64((int64_t)u->wall_ms));
    json_object_object_add(o, "oom_kills", json_object_new_int64((int64_t)u->oom_kills));
    return o;
}

static json_object *int_or_null(bool have, int v) { return have ? json_object_new_int(v) : NULL; }

static json_object *rec_json(const struct trec *r)
{
    json_object *o = json_object_new_object(), *pol = json_object_new_object();
    bool ended = jc_state_terminal(r->state);

    json_object_object_add(o, "id", json_object_new_string(r->id));
    json_object_object_add(o, "name", json_object_new_string(r->name));
    json_object_object_add(o, "state", json_object_new_string(jc_state_name(r->state)));
    json_object_object_add(o, "reason", r->reason ? json_object_new_string(jc_reason_name(r->reason)) : NULL);
    json_object_object_add(o, "exit_code", int_or_null(ended && r->exit_code >= 0, r->exit_code));
    json_object_object_add(o, "signal", int_or_null(ended && r->signal > 0, r->signal));
    json_object_object_add(o, "pid", int_or_null(r->pid > 0, r->pid));
    json_object_object_add(o, "created_at", time_json(r->created_ms));
    json_object_object_add(o, "started_at", time_json(r->started_ms));
    json_object_object_add(o, "finished_at", time_json(r->finished_ms));
    json_object_object_add(o, "command", json_tokener_parse(r->command));
    if (!r->is_command)
        json_object_object_add(o, "duration", json_object_new_int64(r->duration));
    json_object_object_add(o, "limits", ju_limits_to_json(&r->limits));
    json_object_object_add(o, "usage", usage_json(&r->usage));
    json_object_object_add(pol, "name", json_object_new_string(r->policy));
    json_object_object_add(pol, "sha256", json_object_new_string(r->policy_sha));
    json_object_object_add(o, "policy", pol);
    if (r->error)
        json_object_object_add(o, "error", json_object_new_string(r->error));
    json_object_object_add(o, "seq", json_object_new_int64((int64_t)r->seq));
    return o;
}

static const char *jstr(json_object *o, const char *k)
{
    json_object *v;

    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static int64_t jint(json_object *o, const char *k, int64_t dflt)
{
    json_object *v;

    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_int)
               ? json_object_get_int64(v)
               : dflt;
}

static json_object *jget(json_object *o, const char *k)
{
    json_object *v = NULL;

    json_object_object_get_ex(o, k, &v);
    return v;
}

static void usage_from(json_object *u, struct jc_usage *out)
{
    out->memory_peak_bytes = (uint64_t)jint(u, "memory_peak_bytes", 0);
    out->cpu_usec = (uint64_t)jint(u, "cpu_usec", 0);
    out->wall_ms = (uint64_t)jint(u, "wall_ms", 0);
    out->oom_kills = (uint64_t)jint(u, "oom_kills", 0);
}

/* A record from disk; NULL if it is not one of ours. */
static struct trec *rec_from_json(json_object *o)
{
    const char *id = jstr(o, "id"), *name = jstr(o, "name"), *state = jstr(o, "state");
    const char *reason = jstr(o, "reason"), *pol = jstr(jget(o, "policy"), "name");
    const char *sha = jstr(jget(o, "policy"), "sha256"), *error = jstr(o, "error");
    struct trec *r;

    if (!id || !ipc_valid_id(id) || !name || strlen(name) > JC_NAME_MAX || !state ||
        !(r = calloc(1, sizeof *r)))
        return NULL;
    snprintf(r->id, sizeof r->id, "%s", id);
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->policy, sizeof r->policy, "%s", pol ? pol : "default");
    snprintf(r->policy_sha, sizeof r->policy_sha, "%s", sha ? sha : "");
    if (jc_state_parse(state, &r->state) < 0 || (reason && jc_reason_parse(reason, &r->reason) < 0)) {
        rec_free(r);
        return NULL;
    }
    r->exit_code = (int)jint(o, "exit_code", -1);
    r->signal = (int)jint(o, "signal", 0);
    r->pid = (int)jint(o, "pid", 0);
    r->created_ms = time_parse(jget(o, "created_at"));
    r->started_ms = time_parse(jget(o, "started_at"));
    r->finished_ms = time_parse(jget(o, "finished_at"));
    r->seq = (uint64_t)jint(o, "seq", 0);
    r->duration = (uint32_t)jint(o, "duration", 0);
    r->is_command = !jget(o, "duration");
    if (jget(o, "limits"))
        (void)ju_limits(jget(o, "limits"), "limits", NULL, &r->limits, NULL);
    usage_from(jget(o, "usage"), &r->usage);
    r->command = strdup(json_object_to_json_string_ext(jget(o, "command"), JU_PRINT));
    r->error = error ? strdup(error) : NULL;
    return r;
}

/* ---- disk -------------------------------------------------------------- */

/* Atomic replace: <id>.json.tmp then rename.  The front owns the directory.
 * Called without the table lock where it can be (see tasks_apply). */
static void write_record(struct ttable *t, const char *id, const char *text)
{
    char tmp[JC_ID_LEN + 16], name[JC_ID_LEN + 8];
    size_t len = strlen(text);
    int fd;

    snprintf(tmp, sizeof tmp, "%s.json.tmp", id);
    snprintf(name, sizeof name, "%s.json", id);
    fd = openat(t->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
    if (fd < 0) {
        log_msg(LOG_LVL_ERROR, id, errno, "saving the task record");
    } else {
        bool ok = write(fd, text, len) == (ssize_t)len;
        int e = errno;
        if (close(fd) < 0 || !ok || renameat(t->dirfd, tmp, t->dirfd, name) < 0)
            log_msg(LOG_LVL_ERROR, id, ok ? errno : e, "saving the task record");
    }
}

static char *record_text(const struct trec *r)
{
    json_object *o = rec_json(r);
    char *s = strdup(json_object_to_json_string_ext(o, JU_PRINT));

    json_object_put(o);
    return s;
}

static void save(struct ttable *t, const struct trec *r)
{
    char *text = record_text(r);

    if (text)
        write_record(t, r->id, text);
    free(text);
}

static void forget_files(struct ttable *t, const char *id)
{
    char name[JC_ID_LEN + 8];

    snprintf(name, sizeof name, "%s.json", id);
    if (unlinkat(t->dirfd, name, 0) < 0 && errno != ENOENT)
        log_msg(LOG_LVL_WARN, id, errno, "removing the task record");
    snprintf(name, sizeof name, "%s.log", id);
    if (t->space)
        logspace_forget(t->space, name);
    if (unlinkat(t->logs_dirfd, name, 0) < 0 && errno != ENOENT)
        log_msg(LOG_LVL_WARN, id, errno, "removing the task log");
}

/* Drop finished records past their retention, and the oldest finished ones
 * beyond max_records. */
static void prune(struct ttable *t)
{
    int64_t cutoff = now_ms() - (int64_t)t->cfg->retention_s * 1000;
    struct trec *r = t->oldest, *newer;

    for (; r; r = newer) {
        newer = r->newer;
        if (!jc_state_terminal(r->state))
            continue;
        if (r->finished_ms >= cutoff && t->count <= t->cfg->max_records)
            continue;
        unlink_rec(t, r);
        forget_files(t, r->id);
        rec_free(r);
    }
}

void tasks_prune(struct ttable *t)
{
    pthread_mutex_lock(&t->lock);
    prune(t);
    pthread_mutex_unlock(&t->lock);
}

static struct trec *load_one(struct ttable *t, const char *name)
{
    enum { CAP = 1 << 20 }; /* records are far smaller; see save() */
    _cleanup_close_ int fd = openat(t->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    _cleanup_free_ char *buf = malloc(CAP);
    json_object *o = NULL;
    struct trec *r = NULL;
    ssize_t n;

    if (fd < 0 || !buf)
        return NULL;
    n = read(fd, buf, CAP);
    if (n > 0 && ju_parse(buf, (size_t)n, 32, &o, NULL) == 0)
        r = rec_from_json(o);
    json_object_put(o);
    return r;
}

static void load_all(struct ttable *t)
{
    int fd = dup(t->dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *de;
    unsigned lost = 0;

    if (!d && fd >= 0)
        close(fd);
    if (!d) {
        log_warn("reading the task records");
        return;
    }
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n < 6 || strcmp(de->d_name + n - 5, ".json") != 0)
            continue;
        struct trec *r = load_one(t, de->d_name);
        if (!r || find(t, r->id)) {
            rec_free(r);
            continue;
        }
        if (!jc_state_terminal(r->state)) { /* was running when we died */
            r->state = ST_LOST;
            r->reason = RS_DAEMON_RESTART;
            r->finished_ms = now_ms();
            save(t, r);
            lost++;
        }
        if (r->seq >= t->next_seq)
            t->next_seq = r->seq + 1;
        link_rec(t, r);
    }
    closedir(d);
    log_info("loaded %zu task record(s), %u lost in the last shutdown", t->count, lost);
}

struct ttable *tasks_open(const struct jc_config *cfg, int tasks_dirfd, int logs_dirfd,
                          struct logspace *space, tasks_wake_fn wake, struct jc_err *err)
{
    struct ttable *t = calloc(1, sizeof *t);

    if (!t) {
        jc_fail(err, ENOMEM, "task table");
        return NULL;
    }
    pthread_mutex_init(&t->lock, NULL);
    t->cfg = cfg;
    t->dirfd = tasks_dirfd;
    t->logs_dirfd = logs_dirfd;
    t->space = space;
    t->wake = wake;
    t->next_seq = 1;
    load_all(t);
    prune(t);
    return t;
}

void tasks_close(struct ttable *t)
{
    struct trec *r, *older;

    if (!t)
        return;
    for (r = t->newest; r; r = older) {
        older = r->older;
        rec_free(r);
    }
    free(t);
}

static char *command_json(const struct jc_spec *spec)
{
    json_object *a = json_object_new_array();
    const char *s = NULL;
    char *out;

    for (unsigned i = 0; i < spec->argc && (s = spec_next_string(spec, s)); i++)
        json_object_array_add(a, json_object_new_string(s));
    out = strdup(json_object_to_json_string_ext(a, JU_PRINT));
    json_object_put(a);
    return out;
}

static struct trec *rec_from_spec(const struct jc_spec *spec, const char *sha)
{
    struct trec *r = calloc(1, sizeof *r);

    if (!r)
        return NULL;
    memcpy(r->id, spec->id, sizeof r->id);
    memcpy(r->name, spec->name, sizeof r->name);
    memcpy(r->policy, spec->policy, sizeof r->policy);
    snprintf(r->policy_sha, sizeof r->policy_sha, "%s", sha);
    r->state = ST_QUEUED;
    r->exit_code = -1;
    r->created_ms = now_ms();
    r->is_command = spec->is_command;
    r->duration = spec->duration;
    r->limits = spec->limits;
    r->command = command_json(spec);
    if (!r->command) {
        free(r);
        return NULL;
    }
    return r;
}

int tasks_add(struct ttable *t, const struct jc_spec *spec, const char *policy_sha,
              void *waiter, struct jc_err *err)
{
    struct trec *r = rec_from_spec(spec, policy_sha);

    if (!r)
        return jc_fail(err, ENOMEM, "task record");
    pthread_mutex_lock(&t->lock);
    if (t->alive >= t->cfg->max_running) {
        pthread_mutex_unlock(&t->lock);
        rec_free(r);
        return jc_client(err, 503, "Too many running tasks (limit %u); retry later",
                         t->cfg->max_running);
    }
    r->waiter = waiter;
    r->seq = t->next_seq++;
    link_rec(t, r);
    prune(t); /* after linking, so max_records counts the new one */
    pthread_mutex_unlock(&t->lock);
    return 0;
}

void tasks_set_end_hook(struct ttable *t, void (*fn)(void *ctx, const char *id), void *ctx)
{
    t->end_fn = fn;
    t->end_ctx = ctx;
}

static void finish(struct ttable *t, struct trec *r, enum jc_reason reason, int64_t at)
{
    bool was_live = !jc_state_terminal(r->state);

    if (was_live)
        t->alive--;
    r->reason = reason;
    r->state = jc_state_for_end(reason, r->exit_code);
    r->finished_ms = at;
    if (was_live && t->end_fn)
        t->end_fn(t->end_ctx, r->id);
}

static void wake_waiter(struct ttable *t, struct trec *r)
{
    if (r->waiter) {
        t->wake(r->waiter);
        r->waiter = NULL;
    }
}

/* Returns the record's new text for the caller to write, or NULL. */
static char *apply_locked(struct ttable *t, struct trec *r, const union ipc_msg *m)
{
    char *text;

    switch (m->h.type) {
    case IPC_SPAWNED:
        if (r->state != ST_QUEUED)
            return NULL;
        r->state = ST_RUNNING;
        r->pid = m->spawned.pid;
        r->started_ms = m->spawned.started_ms;
        break;
    case IPC_SPAWN_FAILED:
        if (r->state != ST_QUEUED)
            return NULL;
        free(r->error);
        r->error = strdup(m->failed.msg);
        finish(t, r, RS_SPAWN_ERROR, m->failed.at_ms);
        break;
    case IPC_EXITED:
        if (r->state != ST_RUNNING)
            return NULL;
        r->exit_code = m->exited.exit_code;
        r->signal = m->exited.signal;
        r->usage = m->exited.usage;
        finish(t, r, (enum jc_reason)m->exited.reason, m->exited.finished_ms);
        break;
    default:
        return NULL;
    }
    text = record_text(r);
    wake_waiter(t, r);
    return text;
}

bool tasks_wait(struct ttable *t, const char *id, void *waiter)
{
    pthread_mutex_lock(&t->lock);
    struct trec *r = find(t, id);
    bool queued = r && r->state == ST_QUEUED;
    if (queued)
        r->waiter = waiter;
    pthread_mutex_unlock(&t->lock);
    return queued;
}

void tasks_apply(struct ttable *t, const union ipc_msg *m)
{
    char *text = NULL;

    pthread_mutex_lock(&t->lock);
    struct trec *r = find(t, m->h.id);
    if (r)
        text = apply_locked(t, r, m);
    else
        log_task_warn(m->h.id, "report for an unknown task (type %u)", m->h.type);
    pthread_mutex_unlock(&t->lock);
    /* Written after the waiting request was woken and the lock released: the
     * 202 does not wait for the disk.  Reports are applied by one thread, so
     * a record's writes stay in order. */
    if (text)
        write_record(t, m->h.id, text);
    free(text);
}

static char *owned_json(json_object *o)
{
    char *s = strdup(json_object_to_json_string_ext(o, JU_PRINT));

    json_object_put(o);
    return s;
}

struct summary {
    char s[192];
};

/* "argv0 arg1 ..." cut at `max` bytes, for messages. */
static struct summary command_summary(const struct trec *r, size_t max)
{
    struct summary out = {""};
    json_object *a = json_tokener_parse(r->command);
    size_t n = 0;

    for (size_t i = 0; a && i < json_object_array_length(a) && n < max; i++) {
        const char *s = json_object_get_string(json_object_array_get_idx(a, i));
        n += (size_t)snprintf(out.s + n, max + 1 - n, "%s%s", i ? " " : "", s ? s : "");
    }
    if (n >= max)
        snprintf(out.s + max - 3, 4, "...");
    json_object_put(a);
    return out;
}

static char *accepted_json(const struct trec *r)
{
    json_object *o = json_object_new_object();
    char msg[256];

    if (r->is_command)
        snprintf(msg, sizeof msg, "Process %d is running %s", r->pid, command_summary(r, 160).s);
    else
        snprintf(msg, sizeof msg, "Process %d will run for %u seconds", r->pid, r->duration);
    json_object_object_add(o, "id", json_object_new_string(r->id));
    json_object_object_add(o, "pid", json_object_new_int(r->pid));
    json_object_object_add(o, "name", json_object_new_string(r->name));
    json_object_object_add(o, "status", json_object_new_string("spawned"));
    json_object_object_add(o, "message", json_object_new_string(msg));
    return owned_json(o);
}

static char *error_json(const char *msg)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "error", json_object_new_string(msg));
    return owned_json(o);
}

int tasks_spawn_answer(struct ttable *t, const char *id, char **json)
{
    int status = 0;
    char msg[JC_ERR_MSG_MAX + 64];

    pthread_mutex_lock(&t->lock);
    struct trec *r = find(t, id);
    if (!r) { /* pruned already: cannot happen within one request */
        *json = error_json("task record vanished");
        status = 500;
    } else if (r->state == ST_QUEUED) {
        status = 0;
    } else if (r->reason == RS_SPAWN_ERROR) {
        snprintf(msg, sizeof msg, "Spawn failed: %s", r->error ? r->error : "unknown");
        json_object *o = json_object_new_object();
        json_object_object_add(o, "error", json_object_new_string(msg));
        json_object_object_add(o, "id", json_object_new_string(r->id)); /* the record exists */
        *json = owned_json(o);
        status = 500;
    } else {
        *json = accepted_json(r);
        status = 202;
    }
    pthread_mutex_unlock(&t->lock);
    return status;
}

int tasks_get_json(struct ttable *t, const char *id, char **json, struct jc_err *err)
{
    pthread_mutex_lock(&t->lock);
    struct trec *r = find(t, id);
    *json = r ? owned_json(rec_json(r)) : NULL;
    pthread_mutex_unlock(&t->lock);
    if (!r)
        return jc_client(err, 404, id[0] ? "No task with id '%.40s'" : "No task with that id%.0s", id);
    return 0;
}

static int parse_cursor(const char *cursor, uint64_t *seq, struct jc_err *err)
{
    char *end;

    *seq = UINT64_MAX;
    if (!cursor || !cursor[0])
        return 0;
    errno = 0;
    *seq = strtoull(cursor, &end, 10);
    if (errno || *end || cursor[0] == '-')
        return jc_client(err, 400, "Parameter 'cursor' is not one this server gave out");
    return 0;
}

int tasks_list_json(struct ttable *t, const char *state, uint32_t limit, const char *cursor,
                    char **json, struct jc_err *err)
{
    enum jc_state want = ST_QUEUED;
    uint64_t before;
    uint32_t n = 0;

    if (state && jc_state_parse(state, &want) < 0)
        return jc_client(err, 400, "Parameter 'state' must be one of queued, running, succeeded, failed, cancelled, lost");
    if (parse_cursor(cursor, &before, err) < 0)
        return -1;
    json_object *o = json_object_new_object(), *arr = json_object_new_array();
    const struct trec *r, *last = NULL;
    pthread_mutex_lock(&t->lock);
    for (r = t->newest; r && n < limit; r = r->older) {
        if (r->seq >= before || (state && r->state != want))
            continue;
        json_object_array_add(arr, rec_json(r));
        last = r;
        n++;
    }
    /* A next page exists if some older record would also match. */
    for (; r && last; r = r->older)
        if (!state || r->state == want)
            break;
    char next[24];
    snprintf(next, sizeof next, "%llu", last ? (unsigned long long)last->seq : 0ULL);
    pthread_mutex_unlock(&t->lock);
    json_object_object_add(o, "tasks", arr);
    json_object_object_add(o, "next_cursor", r && last ? json_object_new_string(next) : NULL);
    *json = owned_json(o);
    return 0;
}

int tasks_can_cancel(struct ttable *t, const char *id, struct jc_err *err)
{
    int rc = 0;

    pthread_mutex_lock(&t->lock);
    struct trec *r = find(t, id);
    if (!r)
        rc = jc_client(err, 404, id[0] ? "No task with id '%.40s'" : "No task with that id%.0s", id);
    else if (jc_state_terminal(r->state))
        rc = jc_client(err, 409, "Task %s has already finished (%s)", r->id, jc_state_name(r->state));
    else if (r->state == ST_QUEUED)
        rc = jc_client(err, 409, "Task %s is still starting; retry", r->id);
    pthread_mutex_unlock(&t->lock);
    return rc;
}

unsigned tasks_alive(struct ttable *t)
{
    pthread_mutex_lock(&t->lock);
    unsigned n = t->alive;
    pthread_mutex_unlock(&t->lock);
    return n;
}

void tasks_end_all(struct ttable *t, enum jc_reason reason)
{
    pthread_mutex_lock(&t->lock);
    for (struct trec *r = t->newest; r; r = r->older) {
        if (jc_state_terminal(r->state))
            continue;
        if (r->state == ST_QUEUED) {
            free(r->error);
            r->error = strdup("the daemon stopped before the task started");
            finish(t, r, RS_SPAWN_ERROR, now_ms());
        } else {
            finish(t, r, reason, now_ms());
        }
        save(t, r);
        wake_waiter(t, r);
    }
    pthread_mutex_unlock(&t->lock);
}
