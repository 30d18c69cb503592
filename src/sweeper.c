/* sweeper.c — see sweeper.h.  Runs in: the warden: the monitor thread
 * (sweeper_add, sweeper_dying), the main thread (start, stop,
 * sweeper_dying), the sweeper thread. */
#include "sweeper.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "util.h"

#define BACKOFF_FIRST_MS 2
#define BACKOFF_MAX_MS 1000
#define BACKOFF_STOP_MAX_MS 50 /* at a stop: what resists was just killed */
#define SPARE_MAX 256          /* items kept for reuse: a steady churn allocates nothing */

struct sweep_item {
    struct sweep_item *next;
    struct cg_task cg;
    int64_t added_ms;          /* monotonic: its task's end */
    int64_t first_ms, next_ms; /* monotonic: its first attempt; its next */
    unsigned tries;
    bool told; /* "still there" logged */
};

static int64_t now_ms(void) { return jc_now_ms(CLOCK_MONOTONIC); }

static struct timespec at_ms(int64_t ms)
{
    return (struct timespec){.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
}

/* An item for a new cgroup (lock held): a spare one, else a new one. */
static struct sweep_item *item_new(struct sweeper *s)
{
    struct sweep_item *it = s->spare;

    if (!it)
        return calloc(1, sizeof *it);
    s->spare = it->next;
    s->nspare--;
    *it = (struct sweep_item){0};
    return it;
}

/* Done with (lock held): kept for the next, up to SPARE_MAX. */
static void item_done(struct sweeper *s, struct sweep_item *it)
{
    if (s->nspare >= SPARE_MAX) {
        free(it);
        return;
    }
    it->next = s->spare;
    s->spare = it;
    s->nspare++;
}

/* s->pending changed (lock held): the gauge follows. */
static void count(struct sweeper *s, int by)
{
    s->pending = (unsigned)((int)s->pending + by);
    metrics_cgroups_pending(s->pending);
}

/* ---- the sweeper thread ------------------------------------------------ */

/* When the oldest fresh cgroup may be tried (lock held; s->fresh set):
 * now, or at the end of its hold during a mass end (sweeper.h). */
static int64_t fresh_due(const struct sweeper *s)
{
    if (s->stopping || s->dying <= SWEEP_HOLD_DYING)
        return 0;
    return s->fresh->added_ms + SWEEP_HOLD_MS;
}

/* A retry that is due, else the oldest fresh one if due; NULL: nothing to
 * do now (lock held).  Retries first: they are older. */
static struct sweep_item *take_due(struct sweeper *s, int64_t now)
{
    struct sweep_item *it;

    for (struct sweep_item **pp = &s->busy; (it = *pp); pp = &it->next)
        if (it->next_ms <= now) {
            *pp = it->next;
            return it;
        }
    if (!(it = s->fresh) || fresh_due(s) > now)
        return NULL;
    if (!(s->fresh = it->next))
        s->fresh_tail = &s->fresh;
    return it;
}

/* Nothing due (lock held): sleep until the next retry, the end of a hold,
 * new work, the end of a mass end or the stop. */
static void wait_work(struct sweeper *s)
{
    int64_t next = s->fresh ? fresh_due(s) : -1;

    for (struct sweep_item *it = s->busy; it; it = it->next)
        if (next < 0 || it->next_ms < next)
            next = it->next_ms;
    if (next < 0) {
        pthread_cond_wait(&s->wake, &s->lock);
        return;
    }
    struct timespec ts = at_ms(next);
    pthread_cond_timedwait(&s->wake, &s->lock, &ts);
}

/* One attempt (no lock held).  At a stop, a cgroup that resisted has what
 * is in it killed first. */
static bool attempt(struct sweeper *s, struct sweep_item *it, bool stopping)
{
    struct jc_err err;
    int64_t now = now_ms();

    if (stopping && it->tries > 0)
        cg_task_kill_listed(s->cg, &it->cg);
    if (!it->tries++)
        it->first_ms = now;
    if (cg_task_remove(s->cg, &it->cg, &err) == 0) {
        if (it->told)
            log_task(it->cg.id, "cgroup removed at last, after %lld ms", (long long)(now_ms() - it->first_ms));
        return true;
    }
    if (!it->told && now - it->first_ms >= SWEEP_WARN_MS) {
        log_task_warn(it->cg.id, "%s: still there after %d ms (the task's processes are gone; something "
                      "else is in it?): retrying until it can be removed", err.msg, SWEEP_WARN_MS);
        it->told = true;
    }
    return false;
}

/* Not removed (lock held): back in the busy list, to be tried later. */
static void retry_later(struct sweeper *s, struct sweep_item *it)
{
    int64_t ms = BACKOFF_FIRST_MS, cap = s->stopping ? BACKOFF_STOP_MAX_MS : BACKOFF_MAX_MS;

    for (unsigned i = 1; i < it->tries && ms < cap; i++)
        ms *= 2;
    it->next_ms = now_ms() + (ms < cap ? ms : cap);
    it->next = s->busy;
    s->busy = it;
}

/* Until stopped, with nothing left (or told to abandon what is). */
static bool keep_on(const struct sweeper *s)
{
    return !s->stopping || ((s->fresh || s->busy) && !s->abandon);
}

/* Behind the tasks' own ends: when thousands end at once (a cancel of
 * all), the CPUs go to their exits, whose reports make records terminal,
 * before the removals (and the offlining in kworkers each one starts). */
static void lower_priority(void)
{
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), SWEEP_NICE) < 0)
        log_warn("sweeper: setpriority %d", SWEEP_NICE);
}

static void *sweeper_main(void *arg)
{
    struct sweeper *s = arg;

    jc_name_thread("jc-sweeper");
    lower_priority();
    pthread_mutex_lock(&s->lock);
    while (keep_on(s)) {
        struct sweep_item *it = s->abandon ? NULL : take_due(s, now_ms());
        if (!it) {
            wait_work(s);
            continue;
        }
        bool stopping = s->stopping;
        pthread_mutex_unlock(&s->lock);
        bool gone = attempt(s, it, stopping);
        pthread_mutex_lock(&s->lock);
        if (!gone) {
            retry_later(s, it);
            continue;
        }
        item_done(s, it);
        count(s, -1);
        pthread_cond_broadcast(&s->progress);
    }
    s->running = false;
    pthread_cond_broadcast(&s->progress);
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* ---- the monitor and main threads --------------------------------------- */

int sweeper_start(struct sweeper *s, const struct cg_ctx *cg, struct jc_err *err)
{
    pthread_condattr_t ca;

    *s = (struct sweeper){.cg = cg, .fresh_tail = &s->fresh};
    if (pthread_mutex_init(&s->lock, NULL) != 0 || pthread_condattr_init(&ca) != 0 ||
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 || pthread_cond_init(&s->wake, &ca) != 0 ||
        pthread_cond_init(&s->progress, &ca) != 0)
        return jc_fail(err, 0, "sweeper: mutex and conditions");
    pthread_condattr_destroy(&ca);
    s->running = true;
    if (pthread_create(&s->thread, NULL, sweeper_main, s) == 0)
        return 0;
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->wake);
    pthread_cond_destroy(&s->progress);
    return jc_fail(err, 0, "cannot start the cgroup sweeper thread");
}

void sweeper_add(struct sweeper *s, struct cg_task *t)
{
    struct jc_err err;

    cg_task_close(t);
    pthread_mutex_lock(&s->lock);
    struct sweep_item *it = item_new(s);
    if (!it) {
        pthread_mutex_unlock(&s->lock);
        log_task_warn(t->id, "no memory to queue its cgroup's removal: removing it now");
        if (cg_task_destroy(s->cg, t, &err) < 0)
            log_task_warn(t->id, "%s", err.msg);
        return;
    }
    it->cg = *t;
    it->added_ms = now_ms();
    *s->fresh_tail = it;
    s->fresh_tail = &it->next;
    count(s, +1);
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
}

void sweeper_dying(struct sweeper *s, int by)
{
    pthread_mutex_lock(&s->lock);
    s->dying = (unsigned)((int)s->dying + by);
    if (s->dying == SWEEP_HOLD_DYING)
        pthread_cond_signal(&s->wake); /* the hold is over (or begins: harmless) */
    pthread_mutex_unlock(&s->lock);
}

/* Wait (lock held) until the thread has nothing left, or until deadline;
 * then it abandons what is left. */
static void wait_done(struct sweeper *s, int64_t deadline)
{
    struct timespec ts = at_ms(deadline);

    while (s->running && pthread_cond_timedwait(&s->progress, &s->lock, &ts) != ETIMEDOUT)
        ;
    s->abandon = true;
    pthread_cond_signal(&s->wake);
}

/* Each cgroup left behind (thread gone), logged and freed. */
static unsigned drop_left(struct sweeper *s)
{
    unsigned n = 0;
    struct sweep_item *lists[] = {s->fresh, s->busy};

    for (unsigned i = 0; i < JC_ARRAY_LEN(lists); i++)
        for (struct sweep_item *it = lists[i], *next; it; it = next, n++) {
            next = it->next;
            log_task_warn(it->cg.id, "its cgroup could not be removed before the stop: left behind "
                          "(the next start removes it)");
            free(it);
        }
    s->fresh = s->busy = NULL;
    s->fresh_tail = &s->fresh;
    for (struct sweep_item *it = s->spare, *next; it; it = next) {
        next = it->next;
        free(it);
    }
    s->spare = NULL;
    return n;
}

unsigned sweeper_stop(struct sweeper *s, int64_t within_ms)
{
    pthread_mutex_lock(&s->lock);
    if (s->pending)
        log_info("stopping: removing %u task cgroup(s) (up to %lld ms)", s->pending, (long long)within_ms);
    s->stopping = true;
    for (struct sweep_item *it = s->busy; it; it = it->next)
        it->next_ms = 0; /* at once, killing what is in it */
    pthread_cond_signal(&s->wake);
    wait_done(s, now_ms() + within_ms);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    unsigned left = drop_left(s);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->wake);
    pthread_cond_destroy(&s->progress);
    return left;
}
