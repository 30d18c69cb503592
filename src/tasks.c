/* tasks.c — the front's task table, queue and state machine (see tasks.h).
 * Runs in: the front (HTTP threads, the IPC thread and the table's thread,
 * under t->lock; store writes happen outside it where they can). */
#include "tasks.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "logspace.h"
#include "record.h"
#include "store.h"
#include "util.h"

#define NBUCKETS 4096
#define MAX_END_HOOKS 4
#define PRUNE_EVERY_MS 10000

struct end_hook {
    void (*fn)(void *ctx, const char *id);
    void *ctx;
};

struct ttable {
    pthread_mutex_t lock;
    pthread_cond_t cond;   /* the table's thread: a place freed, or stop */
    struct tasks_conf conf; /* under lock; a reload replaces it (tasks_reconf) */
    struct store *store;
    int legacy_dirfd, logs_dirfd;
    struct logspace *space;
    struct tasks_hooks hooks;
    struct end_hook ends[MAX_END_HOOKS];
    unsigned nends;
    struct trec *buckets[NBUCKETS];
    struct trec *qhead, *qtail; /* queued, not yet handed to the warden */
    unsigned queued, active;    /* active: starting or running */
    unsigned starting;          /* handed to the warden, not yet answered (≤ SPAWNS_IN_FLIGHT) */
    unsigned dirty;             /* ended, not yet in the store */
    struct trec *lost;          /* start-up only: records to mark lost */
    uint64_t next_seq;
    bool stopping, quit, thread_started;
    pthread_t thread;
    /* Moving averages for Retry-After and /healthz. */
    int64_t last_end_mono, end_interval_ms, mean_wait_ms;
    int64_t pause_until; /* no start before (monotonic ms) */
};

static int64_t now_ms(void) { return jc_now_ms(CLOCK_REALTIME); }

/* A place freed: the table's thread wakes only if a queued task may take
 * it.  With none queued it has nothing to do (its retries and prunes run
 * on its own clock), and a wake for nothing cost a switch to it and back
 * and a fight for t->lock on every task's start and end. */
static void place_freed(struct ttable *t)
{
    if (t->qhead)
        pthread_cond_signal(&t->cond);
}

/* A field of r that its JSON shows has changed: its cached text is stale. */
static void changed(struct trec *r) { free(JC_STEAL(r->json)); }

/* r handed to the warden (on) or answered, ended, requeued (off).  The
 * spawns in flight are bounded (config.h, the warden's descriptors): one
 * answered lets the table's thread hand over the next. */
static void set_starting(struct ttable *t, struct trec *r, bool on)
{
    if (r->starting == on)
        return;
    r->starting = on;
    if (on) {
        t->starting++;
        return;
    }
    t->starting--;
    place_freed(t);
}
static int64_t mono_ms(void) { return jc_now_ms(CLOCK_MONOTONIC); }

/* ---- the index of live records ---------------------------------------- */

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

static void index_add(struct ttable *t, struct trec *r)
{
    unsigned b = bucket_of(r->id);

    r->hnext = t->buckets[b];
    t->buckets[b] = r;
}

static void index_del(struct ttable *t, struct trec *r)
{
    for (struct trec **pp = &t->buckets[bucket_of(r->id)]; *pp; pp = &(*pp)->hnext)
        if (*pp == r) {
            *pp = r->hnext;
            return;
        }
}

/* ---- the queue --------------------------------------------------------- */

static void queue_push(struct ttable *t, struct trec *r)
{
    r->qprev = t->qtail;
    r->qnext = NULL;
    if (t->qtail)
        t->qtail->qnext = r;
    else
        t->qhead = r;
    t->qtail = r;
    r->queued_mono_ms = mono_ms();
    if (!r->accepted_mono_ms) /* reloaded at start: accepted now, as far as this process knows */
        r->accepted_mono_ms = r->queued_mono_ms;
    t->queued++;
}

/* Back at the head (a start that failed for want of a resource). */
static void queue_push_front(struct ttable *t, struct trec *r)
{
    r->qprev = NULL;
    r->qnext = t->qhead;
    if (t->qhead)
        t->qhead->qprev = r;
    else
        t->qtail = r;
    t->qhead = r;
    t->queued++;
}

static void queue_del(struct ttable *t, struct trec *r)
{
    if (r->qprev)
        r->qprev->qnext = r->qnext;
    else
        t->qhead = r->qnext;
    if (r->qnext)
        r->qnext->qprev = r->qprev;
    else
        t->qtail = r->qprev;
    r->qnext = r->qprev = NULL;
    t->queued--;
}

static unsigned queue_position(const struct ttable *t, const struct trec *r)
{
    unsigned n = 1;

    for (const struct trec *q = t->qhead; q; q = q->qnext, n++)
        if (q == r)
            return n;
    return 0;
}

/* Seconds until a place is likely free, from the rate tasks end at. */
static int retry_after(const struct ttable *t)
{
    int64_t interval = t->end_interval_ms > 0 ? t->end_interval_ms : 1000;
    int64_t s = ((int64_t)t->queued + 1) * interval / 1000;

    return s < 1 ? 1 : s > 3600 ? 3600 : (int)s;
}

static void note_end(struct ttable *t)
{
    int64_t now = mono_ms();

    if (t->last_end_mono)
        t->end_interval_ms = t->end_interval_ms ? (t->end_interval_ms * 7 + (now - t->last_end_mono)) / 8
                                                : now - t->last_end_mono;
    t->last_end_mono = now;
}

/* ---- writing records ---------------------------------------------------- */

static struct store_row row_of(const struct trec *r, const char *json)
{
    return (struct store_row){.seq = r->seq, .id = r->id, .state = r->state,
                              .finished_ms = r->finished_ms, .json = json};
}

/* Write r's current record.  Called with the lock held for r's fields; the
 * text is built under it.  Returns 0 or -1 (err set). */
static int save_locked(struct ttable *t, const struct trec *r, struct jc_err *err)
{
    _cleanup_free_ char *json = rec_text(r);

    if (!json)
        return jc_fail(err, ENOMEM, "task record");
    struct store_row row = row_of(r, json);
    return store_update(t->store, &row, err);
}

static void run_end_hooks(struct ttable *t, const char *id)
{
    for (unsigned i = 0; i < t->nends; i++)
        t->ends[i].fn(t->ends[i].ctx, id);
}

/* An ended record leaves memory once the store has it; else it stays,
 * dirty, and the table's thread retries. */
static void settle_locked(struct ttable *t, struct trec *r)
{
    struct jc_err err;

    if (save_locked(t, r, &err) < 0) {
        if (!r->dirty) { /* said once; the table's thread retries quietly */
            t->dirty++;
            log_task_warn(r->id, "the ended record waits for the state directory: %s", err.msg);
        }
        r->dirty = true;
        return;
    }
    if (r->dirty)
        t->dirty--;
    index_del(t, r);
    rec_free(r);
}

/* Terminal now.  The caller then calls end_done() without the lock. */
static void finish_locked(struct ttable *t, struct trec *r, enum jc_reason reason, int64_t at)
{
    if (r->qnext || r->qprev || t->qhead == r)
        queue_del(t, r);
    else if (r->starting || r->state == ST_RUNNING)
        t->active--;
    set_starting(t, r, false);
    r->reason = reason;
    r->state = jc_state_for_end(reason, r->exit_code);
    r->finished_ms = at;
    changed(r); /* and what the caller set before: exit_code, usage, error */
    metrics_task_ended(r->state, reason);
    if (r->waiter) {
        t->hooks.wake(r->waiter);
        r->waiter = NULL;
    }
    note_end(t);
    place_freed(t);
}

/* Store the ended record, then tell the end hooks. */
static void end_done(struct ttable *t, struct trec *r)
{
    char id[JC_ID_LEN];

    memcpy(id, r->id, sizeof id);
    settle_locked(t, r); /* r may be freed */
    pthread_mutex_unlock(&t->lock);
    run_end_hooks(t, id);
    pthread_mutex_lock(&t->lock);
}

/* ---- opening: import, reload ------------------------------------------- */

static void forget_log(void *ctx, const char *id)
{
    struct ttable *t = ctx;
    char name[JC_ID_LEN + 8];

    snprintf(name, sizeof name, "%s.log", id);
    if (t->space)
        logspace_forget(t->space, name);
    if (unlinkat(t->logs_dirfd, name, 0) < 0 && errno != ENOENT)
        log_msg(LOG_LVL_WARN, id, errno, "removing the task log");
}

static void prune(struct ttable *t)
{
    struct jc_err err;

    pthread_mutex_lock(&t->lock);
    int64_t cutoff = now_ms() - (int64_t)t->conf.retention_s * 1000;
    uint32_t max_records = t->conf.max_records;
    pthread_mutex_unlock(&t->lock);
    if (store_prune(t->store, cutoff, max_records, forget_log, t, &err) < 0)
        log_warnx("pruning records: %s", err.msg);
}

/* Running when the daemon stopped: it did not survive.  Dispatched but not
 * reported running (no spec kept): it may have run, so it is not run again. */
static void mark_lost(struct trec *r)
{
    r->state = ST_LOST;
    r->reason = RS_DAEMON_RESTART;
    r->finished_ms = now_ms();
    changed(r);
}

static void reload_one(void *ctx, uint64_t seq, const char *id, enum jc_state state,
                       const char *json, const struct jc_spec *spec)
{
    struct ttable *t = ctx;
    struct trec *r = rec_parse(json);
    if (!r || strcmp(r->id, id) != 0) {
        log_task_warn(id, "unreadable record in the store");
        rec_free(r);
        return;
    }
    r->seq = seq;
    if (state == ST_QUEUED && spec && (r->spec = spec_dup(spec))) {
        index_add(t, r);
        queue_push(t, r);
        return;
    }
    mark_lost(r); /* saved after the scan (the store is busy with it) */
    r->qnext = t->lost;
    t->lost = r;
}

static void save_lost(struct ttable *t)
{
    struct jc_err err;
    unsigned n = 0;

    for (struct trec *r; (r = t->lost); n++) {
        t->lost = r->qnext;
        if (save_locked(t, r, &err) < 0)
            log_task_warn(r->id, "%s", err.msg);
        rec_free(r);
    }
    if (n)
        log_info("%u task(s) were running when the daemon stopped: lost", n);
}

/* Records of older versions: state_dir/tasks/<id>.json, imported once. */
static void import_one(struct ttable *t, const char *name)
{
    _cleanup_free_ char *text = NULL;
    struct jc_err err;
    struct trec *r;

    if (jc_read_file_at(t->legacy_dirfd, name, NULL, 1 << 20, &text, NULL, &err) < 0 || !(r = rec_parse(text)))
        return;
    if (!jc_state_terminal(r->state))
        mark_lost(r);
    _cleanup_free_ char *json = rec_text(r);
    struct store_row row = row_of(r, json);
    if (r->seq == 0 || !json || store_add(t->store, &row, NULL, NULL, &err) < 0)
        log_task_warn(r->id, "importing the record: %s", json ? err.msg : "out of memory");
    rec_free(r);
}

static bool has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);

    return n > m && strcmp(s + n - m, suf) == 0;
}

static void import_legacy(struct ttable *t)
{
    int fd = dup(t->legacy_dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *de;
    unsigned n = 0;

    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    while ((de = readdir(d))) {
        bool json = has_suffix(de->d_name, ".json");
        if (!json && !has_suffix(de->d_name, ".json.tmp"))
            continue;
        if (json)
            import_one(t, de->d_name), n++;
        if (unlinkat(t->legacy_dirfd, de->d_name, 0) < 0)
            log_warn("removing %s", de->d_name);
    }
    closedir(d);
    if (n)
        log_info("imported %u task record(s) of an older version", n);
}

static struct tasks_conf conf_of(const struct jc_config *c)
{
    return (struct tasks_conf){.max_running = c->max_running, .max_queued = c->max_queued,
                               .retention_s = c->retention_s, .max_records = c->max_records};
}

void tasks_reconf(struct ttable *t, const struct jc_config *cfg)
{
    pthread_mutex_lock(&t->lock);
    t->conf = conf_of(cfg);
    pthread_cond_broadcast(&t->cond); /* more may start now */
    pthread_mutex_unlock(&t->lock);
}

struct ttable *tasks_open(const struct jc_config *cfg, const char *db_path, int legacy_dirfd,
                          int logs_dirfd, struct logspace *space, const struct tasks_hooks *hooks,
                          struct jc_err *err)
{
    struct ttable *t = calloc(1, sizeof *t);
    struct jc_err lerr;
    pthread_condattr_t ca;

    if (!t) {
        jc_fail(err, ENOMEM, "task table");
        return NULL;
    }
    *t = (struct ttable){.conf = conf_of(cfg), .legacy_dirfd = legacy_dirfd, .logs_dirfd = logs_dirfd,
                         .space = space, .hooks = *hooks};
    pthread_mutex_init(&t->lock, NULL);
    /* Its waits are timed on the monotonic clock: a step of the wall
     * clock must not stall the queue's head. */
    if (pthread_condattr_init(&ca) != 0 || pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&t->cond, &ca) != 0) {
        pthread_mutex_destroy(&t->lock);
        free(t);
        jc_fail(err, 0, "task table: condition variable");
        return NULL;
    }
    pthread_condattr_destroy(&ca);
    if (!(t->store = store_open(db_path, cfg->sync_full ? STORE_SYNC_FULL : STORE_SYNC_NORMAL, err))) {
        free(t);
        return NULL;
    }
    import_legacy(t);
    pthread_mutex_lock(&t->lock);
    if (store_each_live(t->store, reload_one, t, &lerr) < 0)
        log_warnx("reloading queued tasks: %s", lerr.msg);
    save_lost(t);
    t->next_seq = store_max_seq(t->store) + 1;
    pthread_mutex_unlock(&t->lock);
    prune(t);
    log_info("%llu task record(s) in the store, %u queued", (unsigned long long)store_count(t->store),
             t->queued);
    return t;
}

int tasks_set_end_hook(struct ttable *t, void (*fn)(void *ctx, const char *id), void *ctx)
{
    pthread_mutex_lock(&t->lock);
    bool room = t->nends < MAX_END_HOOKS;
    if (room)
        t->ends[t->nends++] = (struct end_hook){fn, ctx};
    pthread_mutex_unlock(&t->lock);
    return room ? 0 : -1;
}

/* ---- the table's thread: start queued tasks, retry, prune ---------------- */

static bool input_stored(const struct jc_spec *spec)
{
    return spec->has_stdin || spec->nfiles > 0;
}

/* The head's stored input cannot be read back.  A refusing state directory
 * is retried later (false); input that is gone or garbled never will be:
 * the task ends as spawn_error (true). */
static bool input_lost_locked(struct ttable *t, struct trec *r, struct jc_err *err)
{
    if (err->status == 503 || err->status == 507)
        return false;
    free(r->error);
    r->error = strdup(err->msg);
    r->fail_status = 500;
    finish_locked(t, r, RS_SPAWN_ERROR, now_ms());
    end_done(t, r);
    return true;
}

/* The queue's head, handed to the warden once the store knows it left the
 * queue (so that a restart never runs it twice).  False when the store
 * refuses (the head stays queued; the thread tries again later). */
static bool start_head_locked(struct ttable *t)
{
    struct trec *r = t->qhead;
    struct jc_err err;
    __attribute__((cleanup(jc_input_free))) struct jc_input in = {0};
    _cleanup_free_ struct jc_spec *spec = spec_dup(r->spec);

    if (!spec)
        return false;
    if (input_stored(spec) && store_input(t->store, r->id, spec, &in, &err) < 0)
        return input_lost_locked(t, r, &err); /* true: ended, go on with the next */
    if (store_dispatched(t->store, r->id, &err) < 0)
        return false;
    queue_del(t, r);
    r->from_queue = true;
    set_starting(t, r, true);
    t->active++;
    int64_t waited = mono_ms() - r->queued_mono_ms;
    t->mean_wait_ms = t->mean_wait_ms ? (t->mean_wait_ms * 7 + waited) / 8 : waited;
    metrics_queue_wait(waited);
    pthread_mutex_unlock(&t->lock);
    t->hooks.start(t->hooks.ctx, spec, &in);
    pthread_mutex_lock(&t->lock);
    return true;
}

/* A queued task the warden could not take (out of a resource, or
 * stopping) goes back to the head of the queue, in the store too: it runs
 * later, or after the restart.  Starts pause for a second meanwhile. */
static bool requeue_locked(struct ttable *t, struct trec *r)
{
    struct jc_err err;

    if (!r->from_queue || !r->spec || store_requeue(t->store, r->id, r->spec, &err) < 0)
        return false;
    set_starting(t, r, false);
    r->from_queue = false;
    t->active--;
    queue_push_front(t, r);
    t->pause_until = mono_ms() + 1000;
    pthread_cond_signal(&t->cond); /* it waits out the pause from now, not from its next tick */
    log_task(r->id, "back in the queue: the warden could not start it now");
    return true;
}

static void retry_dirty_locked(struct ttable *t)
{
    struct jc_err err;

    if (store_health(t->store, err.msg, sizeof err.msg) && store_probe(t->store, &err) < 0)
        return;
    for (unsigned b = 0; b < NBUCKETS && t->dirty; b++)
        for (struct trec *r = t->buckets[b], *next; r; r = next) {
            next = r->hnext;
            if (r->dirty)
                settle_locked(t, r);
        }
}

static bool can_start(const struct ttable *t)
{
    return t->qhead && !t->stopping && t->active < t->conf.max_running && t->starting < SPAWNS_IN_FLIGHT &&
           mono_ms() >= t->pause_until;
}

static void wait_a_second(struct ttable *t)
{
    struct timespec ts;

    jc_mono_after(&ts, 1000);
    pthread_cond_timedwait(&t->cond, &t->lock, &ts);
}

static void *table_main(void *arg)
{
    struct ttable *t = arg;
    int64_t last_prune = mono_ms();
    char ignored[2];

    jc_name_thread("jc-table");
    pthread_mutex_lock(&t->lock);
    while (!t->quit) {
        bool refused = false;
        while (!refused && can_start(t))
            refused = !start_head_locked(t);
        if (t->dirty || store_health(t->store, ignored, sizeof ignored))
            retry_dirty_locked(t);
        if (mono_ms() - last_prune >= PRUNE_EVERY_MS) {
            pthread_mutex_unlock(&t->lock);
            prune(t);
            pthread_mutex_lock(&t->lock);
            last_prune = mono_ms();
        }
        if (!t->quit && (refused || !can_start(t)))
            wait_a_second(t);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

int tasks_run(struct ttable *t, struct jc_err *err)
{
    if (pthread_create(&t->thread, NULL, table_main, t) != 0)
        return jc_fail(err, errno, "starting the task table's thread");
    t->thread_started = true;
    return 0;
}

void tasks_close(struct ttable *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->lock);
    t->quit = true;
    pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->lock);
    if (t->thread_started)
        pthread_join(t->thread, NULL);
    for (unsigned b = 0; b < NBUCKETS; b++)
        for (struct trec *r = t->buckets[b], *next; r; r = next) {
            next = r->hnext;
            rec_free(r);
        }
    store_close(t->store);
    free(t);
}

/* ---- submitting ------------------------------------------------------ */

/* The same key again: the first task, if the body is the same. */
static int replay(struct ttable *t, const struct tasks_submit *s, struct tasks_admission *a,
                  struct jc_err *err)
{
    char hash[65];

    if (store_find_key(t->store, s->idem_key, a->id, hash, err) < 0)
        return -1;
    if (strcmp(hash, s->idem_hash) != 0)
        return jc_client(err, 422, "Idempotency-Key '%.64s' was used with a different request body",
                         s->idem_key);
    a->kind = TASKS_REPLAY;
    return 0;
}

static int admit_check(struct ttable *t, int *retry, struct jc_err *err)
{
    if (t->stopping)
        return jc_client(err, 503, "The daemon is shutting down");
    if (t->active < t->conf.max_running && !t->qhead)
        return 0;
    if (t->queued < t->conf.max_queued)
        return 0;
    *retry = retry_after(t);
    return jc_client(err, 503, "Too many tasks: %u running and %u queued (limits %u and %u); retry later",
                     t->active, t->queued, t->conf.max_running, t->conf.max_queued);
}

/* In the store first: nothing is admitted that is not kept. */
static int add_locked(struct ttable *t, struct trec *r, const struct tasks_submit *s, bool queue,
                      struct jc_err *err)
{
    _cleanup_free_ char *json = NULL;

    r->seq = t->next_seq;
    if (!(json = rec_text(r)))
        return jc_fail(err, ENOMEM, "task record");
    struct store_row row = row_of(r, json);
    row.idem_key = s->idem_key;
    row.idem_hash = s->idem_hash;
    if (store_add(t->store, &row, queue ? s->spec : NULL, s->input, err) < 0)
        return -1;
    t->next_seq++;
    return 0;
}

static int submit_locked(struct ttable *t, struct trec *r, const struct tasks_submit *s,
                         struct tasks_admission *a, int *retry, struct jc_err *err)
{
    bool queue;

    if (admit_check(t, retry, err) < 0)
        return -1;
    r->accepted_mono_ms = mono_ms();
    queue = t->active >= t->conf.max_running || t->qhead || t->starting >= SPAWNS_IN_FLIGHT;
    if (add_locked(t, r, s, queue, err) < 0)
        return -1;
    index_add(t, r);
    memcpy(a->id, r->id, sizeof a->id);
    if (queue) {
        queue_push(t, r);
        a->kind = TASKS_QUEUED;
        a->position = t->queued;
        pthread_cond_signal(&t->cond);
    } else {
        set_starting(t, r, true);
        t->active++;
        a->kind = TASKS_START;
    }
    return 0;
}

int tasks_submit(struct ttable *t, const struct tasks_submit *s, struct tasks_admission *a,
                 int *retry, struct jc_err *err)
{
    struct trec *r = rec_from_spec(s->spec, s->policy_sha, now_ms());
    int rc;

    *retry = 0;
    if (s->idem_key && replay(t, s, a, err) == 0) {
        rec_free(r);
        return 0;
    }
    if (s->idem_key && err->status != 404) {
        rec_free(r);
        return -1;
    }
    if (!r || !(r->spec = spec_dup(s->spec))) {
        rec_free(r);
        return jc_fail(err, ENOMEM, "task record");
    }
    pthread_mutex_lock(&t->lock);
    rc = submit_locked(t, r, s, a, retry, err);
    pthread_mutex_unlock(&t->lock);
    if (rc < 0)
        rec_free(r);
    if (rc < 0 && err->status == 409 && s->idem_key)
        return replay(t, s, a, err);
    return rc;
}

bool tasks_wait(struct ttable *t, const char *id, void *waiter)
{
    pthread_mutex_lock(&t->lock);
    struct trec *r = find(t, id);
    bool starting = r && r->starting;
    if (starting)
        r->waiter = waiter;
    pthread_mutex_unlock(&t->lock);
    return starting;
}

void tasks_start(struct ttable *t, const char *id, const struct jc_input *in)
{
    struct jc_spec *spec = NULL;

    pthread_mutex_lock(&t->lock);
    struct trec *r = find(t, id);
    if (r && r->starting && r->spec)
        spec = spec_dup(r->spec);
    pthread_mutex_unlock(&t->lock);
    if (spec)
        t->hooks.start(t->hooks.ctx, spec, in);
    else
        log_task_warn(id, "cannot start: %s", r ? "out of memory" : "no such task");
    free(spec);
}

void tasks_stop(struct ttable *t)
{
    pthread_mutex_lock(&t->lock);
    t->stopping = true;
    pthread_mutex_unlock(&t->lock);
}

/* ---- the warden's reports ---------------------------------------------- */

void tasks_spawned(struct ttable *t, const char *id, int pid, int64_t started_ms)
{
    _cleanup_free_ char *json = NULL;
    struct store_row row = {0};
    struct jc_err err;

    pthread_mutex_lock(&t->lock);
    struct trec *r = find(t, id);
    if (r && r->starting) {
        set_starting(t, r, false);
        free(JC_STEAL(r->spec)); /* it runs: never again */
        r->state = ST_RUNNING;
        r->pid = pid;
        r->started_ms = started_ms;
        changed(r);
        metrics_task_started(mono_ms() - r->accepted_mono_ms);
        if (r->waiter) {
            t->hooks.wake(r->waiter);
            r->waiter = NULL;
        }
        json = rec_text(r);
        row = row_of(r, json);
        row.id = id;
    }
    pthread_mutex_unlock(&t->lock);
    if (!r || !row.seq) {
        log_task_warn(id, "a spawn report for a task that is not starting");
        return;
    }
    /* After the wake and without the lock: the 202 waits for neither.  This
     * thread alone reports a task's transitions, so its writes stay in order. */
    if (!json || store_update(t->store, &row, &err) < 0)
        log_task_warn(id, "%s", json ? err.msg : "out of memory");
}

void tasks_spawn_failed(struct ttable *t, const char *id, int status, const char *msg, int64_t at_ms)
{
    pthread_mutex_lock(&t->lock);
    struct trec *r = find(t, id);
    if (r && r->starting && status == 503 && requeue_locked(t, r)) {
        pthread_mutex_unlock(&t->lock);
        return;
    }
    if (r && r->starting) {
        free(r->error);
        r->error = strdup(msg);
        r->fail_status = status;
        finish_locked(t, r, RS_SPAWN_ERROR, at_ms);
        end_done(t, r);
    } else {
        log_task_warn(id, "a spawn failure for a task that is not starting");
    }
    pthread_mutex_unlock(&t->lock);
}

void tasks_exited(struct ttable *t, const char *id, const struct tasks_end *e)
{
    pthread_mutex_lock(&t->lock);
    struct trec *r = find(t, id);
    if (r && r->state == ST_RUNNING) {
        r->exit_code = e->exit_code;
        r->signal = e->signal;
        r->usage = e->usage;
        r->log_errno = e->log_errno;
        if (e->by_stop) {
            free(r->error);
            r->error = strdup("the daemon stopped: the task was still running when stop_grace_s ran out");
        }
        finish_locked(t, r, e->reason, e->finished_ms);
        end_done(t, r);
    } else {
        log_task_warn(id, "an exit report for a task that is not running");
    }
    pthread_mutex_unlock(&t->lock);
}

/* One live, non-queued task, or NULL. */
static struct trec *any_active(struct ttable *t)
{
    for (unsigned b = 0; b < NBUCKETS; b++)
        for (struct trec *r = t->buckets[b]; r; r = r->hnext)
            if ((r->starting || r->state == ST_RUNNING))
                return r;
    return NULL;
}

void tasks_end_all(struct ttable *t, enum jc_reason reason)
{
    struct trec *r;

    pthread_mutex_lock(&t->lock);
    t->stopping = true;
    while ((r = any_active(t))) {
        if (r->starting && requeue_locked(t, r))
            continue;
        if (r->starting) {
            free(r->error);
            r->error = strdup("shutting down: the daemon stopped before the task started");
            r->fail_status = 503;
            finish_locked(t, r, RS_SPAWN_ERROR, now_ms());
        } else {
            finish_locked(t, r, reason, now_ms());
        }
        end_done(t, r); /* terminal now: the scan does not find it again */
    }
    pthread_mutex_unlock(&t->lock);
}

/* ---- reading --------------------------------------------------------- */

static void view_of(const struct ttable *t, const struct trec *r, struct tasks_view *v)
{
    memset(v, 0, sizeof *v);
    memcpy(v->id, r->id, sizeof v->id);
    memcpy(v->name, r->name, sizeof v->name);
    v->state = r->state;
    v->reason = r->reason;
    v->starting = r->starting;
    v->pid = r->pid;
    v->is_command = r->is_command;
    v->duration = r->duration;
    rec_summary(r, v->summary, 160);
    v->position = r->state == ST_QUEUED && !r->starting ? queue_position(t, r) : 0;
    v->fail_status = r->fail_status;
    snprintf(v->error, sizeof v->error, "%s", r->error ? r->error : "");
}

int tasks_view(struct ttable *t, const char *id, struct tasks_view *v, struct jc_err *err)
{
    pthread_mutex_lock(&t->lock);
    struct trec *r = find(t, id);
    if (r)
        view_of(t, r, v);
    pthread_mutex_unlock(&t->lock);
    if (r)
        return 0;
    _cleanup_free_ char *json = store_get(t->store, id, NULL, err);
    if (!json)
        return -1;
    if (!(r = rec_parse(json)))
        return jc_fail(err, 0, "task %s: unreadable record", id);
    view_of(t, r, v);
    rec_free(r);
    return 0;
}

/* r's JSON, rendered once per change (changed()): a GET of a live record
 * then costs a copy under the lock, not a render. */
static const char *cached_json(struct trec *r)
{
    if (!r->json)
        r->json = rec_text(r);
#ifdef JC_CHECK_CACHES
    _cleanup_free_ char *fresh = rec_text(r);
    if (r->json && fresh && strcmp(r->json, fresh) != 0) {
        log_errx("task %s: a stale cached record (a change without changed())", r->id);
        abort(); /* the sanitizer builds' tests must see it */
    }
#endif
    return r->json;
}

/* The cached text, with "queue_position" for a task still in the queue. */
static char *live_json(struct ttable *t, struct trec *r)
{
    const char *s = cached_json(r);
    unsigned pos = r->state == ST_QUEUED && !r->starting ? queue_position(t, r) : 0;
    size_t n = s ? strlen(s) : 0;
    char *out;

    if (!n || s[n - 1] != '}')
        return NULL;
    if (!pos)
        return strdup(s);
    if (asprintf(&out, "%.*s,\"queue_position\":%u}", (int)(n - 1), s, pos) < 0)
        return NULL;
    return out;
}

int tasks_get_json(struct ttable *t, const char *id, char **json, bool *ended, struct jc_err *err)
{
    enum jc_state state = ST_QUEUED;

    pthread_mutex_lock(&t->lock);
    struct trec *r = find(t, id);
    if (r) {
        *json = live_json(t, r);
        state = r->state;
    }
    pthread_mutex_unlock(&t->lock);
    if (!r && !(*json = store_get(t->store, id, &state, err)))
        return -1;
    if (ended)
        *ended = jc_state_terminal(state);
    return *json ? 0 : jc_fail(err, ENOMEM, "task record");
}

bool tasks_is_terminal(struct ttable *t, const char *id)
{
    _cleanup_free_ char *json = NULL;
    struct jc_err err;
    bool ended;

    return tasks_get_json(t, id, &json, &ended, &err) == 0 && ended;
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
    uint64_t before, last = 0;
    bool more;
    char *arr;

    if (state && jc_state_parse(state, &want) < 0)
        return jc_client(err, 400, "Parameter 'state' must be one of queued, running, succeeded, failed, cancelled, lost");
    if (parse_cursor(cursor, &before, err) < 0)
        return -1;
    if (!(arr = store_list(t->store, state != NULL, want, before, limit, &more, &last, err)))
        return -1;
    size_t n = strlen(arr) + 64;
    if (!(*json = malloc(n))) {
        free(arr);
        return jc_fail(err, ENOMEM, "listing tasks");
    }
    if (more)
        snprintf(*json, n, "{\"tasks\":%s,\"next_cursor\":\"%llu\"}", arr, (unsigned long long)last);
    else
        snprintf(*json, n, "{\"tasks\":%s,\"next_cursor\":null}", arr);
    free(arr);
    return 0;
}

static int cancel_locked(struct ttable *t, struct trec *r, struct jc_err *err)
{
    if (r->starting)
        return jc_client(err, 409, "Task %s is still starting; retry", r->id);
    if (r->state == ST_RUNNING && r->kill_sent)
        return 3;
    if (r->state == ST_RUNNING) {
        r->kill_sent = true;
        return 0;
    }
    /* Queued: it never runs. */
    r->exit_code = -1;
    finish_locked(t, r, RS_CANCELLED, now_ms());
    end_done(t, r);
    return 1;
}

int tasks_cancel(struct ttable *t, const char *id, struct jc_err *err)
{
    int rc;

    pthread_mutex_lock(&t->lock);
    struct trec *r = find(t, id);
    rc = r && !jc_state_terminal(r->state) ? cancel_locked(t, r, err) : 2;
    pthread_mutex_unlock(&t->lock);
    if (rc != 2)
        return rc;
    enum jc_state state;
    _cleanup_free_ char *json = store_get(t->store, id, &state, err);
    if (!json)
        return -1;
    return jc_client(err, 409, "Task %s has already finished (%s)", id, jc_state_name(state));
}

void tasks_kill_unsent(struct ttable *t, const char *id)
{
    pthread_mutex_lock(&t->lock);
    struct trec *r = find(t, id);
    if (r)
        r->kill_sent = false;
    pthread_mutex_unlock(&t->lock);
}

void tasks_stats(struct ttable *t, struct tasks_stats *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_lock(&t->lock);
    s->running = t->active;
    s->max_running = t->conf.max_running;
    s->queued = t->queued;
    s->max_queued = t->conf.max_queued;
    s->oldest_wait_ms = t->qhead ? mono_ms() - t->qhead->queued_mono_ms : 0;
    s->mean_wait_ms = t->mean_wait_ms;
    s->drain_per_s = t->end_interval_ms > 0 ? 1000.0 / (double)t->end_interval_ms : 0;
    s->dirty = t->dirty;
    pthread_mutex_unlock(&t->lock);
    s->store_failing = store_health(t->store, s->store_error, sizeof s->store_error);
}

void tasks_prune(struct ttable *t) { prune(t); }

unsigned tasks_alive(struct ttable *t)
{
    pthread_mutex_lock(&t->lock);
    unsigned n = t->active;
    pthread_mutex_unlock(&t->lock);
    return n;
}
