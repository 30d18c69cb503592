/* pool.c — see pool.h.  Runs in: the warden's main thread and the
 * builder thread (pool_builder). */
#include "pool.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "util.h"

static void set_ready(const struct pool *p) { metrics_cells_ready(p->n); }

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int pool_init(struct pool *p, const struct jc_config *cfg, const struct sandbox_env *env,
              const struct pool_slots *slots, struct jc_err *err)
{
    pthread_condattr_t ca;

    memset(p, 0, sizeof *p);
    if ((p->deaths_fd = epoll_create1(EPOLL_CLOEXEC)) < 0)
        return jc_fail(err, errno, "pool: epoll_create1");
    p->want = cfg->pool_size < POOL_MAX ? cfg->pool_size : POOL_MAX;
    p->limits = cfg->def;
    p->slots = *slots;
    p->main_env = env;
    set_ready(p);
    if (pthread_mutex_init(&p->lock, NULL) != 0 || pthread_condattr_init(&ca) != 0 ||
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 || pthread_cond_init(&p->wake, &ca) != 0)
        return jc_fail(err, 0, "pool: mutex and condition");
    pthread_condattr_destroy(&ca);
    return sandbox_env_for_cells(env, &p->env, err);
}

/* Kill a cell the main thread took off the list (never under the lock). */
void pool_discard(struct pool *p, struct sandbox_cell *c)
{
    sandbox_cell_discard(p->main_env, c);
    p->slots.free(p->slots.ctx, c->slot);
    metrics_cell(MC_DISCARDED);
}

/* Off the list (lock held): the caller discards it. */
static struct sandbox_cell unlist_at(struct pool *p, unsigned i)
{
    struct sandbox_cell c = p->cells[i];

    /* Cannot fail: it is in the set (listed only once added). */
    (void)epoll_ctl(p->deaths_fd, EPOLL_CTL_DEL, c.sb.pidfd, NULL);
    memmove(&p->cells[i], &p->cells[i + 1], (p->n - i - 1) * sizeof p->cells[0]);
    p->n--;
    set_ready(p);
    return c;
}

/* ---- the builder thread ----------------------------------------------- */

/* After a failed build (or no free slot): 1 s, doubling to 60 s, so that a
 * cell that cannot be built (a full pids ceiling, a broken rootfs) costs
 * nothing much; the spawns on demand report the cause meanwhile. */
static int64_t back_off_ms(struct pool *p)
{
    int64_t ms = 1000;

    for (unsigned i = 0; i < p->fails && ms < 60000; i++)
        ms *= 2;
    p->fails++;
    return ms < 60000 ? ms : 60000;
}

/* Sleep (lock held) until woken, or for ms (-1: until woken). */
static void wait_for(struct pool *p, int64_t ms)
{
    struct timespec ts;

    if (ms < 0) {
        pthread_cond_wait(&p->wake, &p->lock);
        return;
    }
    jc_mono_after(&ts, ms);
    pthread_cond_timedwait(&p->wake, &p->lock, &ts);
}

/* One cell built (lock not held); its build's time on this thread logged. */
static int build(struct pool *p, const struct jc_limits *lim, uint32_t slot, struct sandbox_cell *c,
                 struct jc_err *err)
{
    char name[JC_ID_LEN];
    int64_t t0 = now_ms();

    snprintf(name, sizeof name, "cell.%d.%llu", (int)getpid(), (unsigned long long)++p->seq);
    int rc = sandbox_cell_build(&p->env, name, lim, slot, c, err);
    log_debug("cell %s: %s in %lld ms", name, rc < 0 ? "failed" : "built", (long long)(now_ms() - t0));
    return rc;
}

/* Lock held: what the cell just built was built for still holds (no
 * reload or stop came in between, and the pool has room). */
static bool still_wanted(const struct pool *p, uint32_t gen)
{
    return !p->stop && p->gen == gen && p->n < p->want;
}

/* Lock held: its pidfd into the set the main thread polls (pool_deaths_fd),
 * before it is listed: a listed cell's death is always seen. */
static bool watch(struct pool *p, const struct sandbox_cell *c)
{
    struct epoll_event ev = {.events = EPOLLIN};

    if (epoll_ctl(p->deaths_fd, EPOLL_CTL_ADD, c->sb.pidfd, &ev) == 0)
        return true;
    log_warn("cell: watching its pidfd (epoll_ctl): discarded");
    return false;
}

/* Lock held on entry and exit: build one cell, add it if what it was
 * built for still holds; else, or on failure, 1 s (and more) later. */
static int64_t fill_one(struct pool *p)
{
    struct jc_limits lim = p->limits;
    uint32_t gen = p->gen, slot;
    struct sandbox_cell c;
    struct jc_err err;

    pthread_mutex_unlock(&p->lock);
    int rc = p->slots.take(p->slots.ctx, &slot) < 0 ? jc_fail(&err, EAGAIN, "no free slot")
                                                      : build(p, &lim, slot, &c, &err);
    if (rc < 0 && err.errnum != EAGAIN)
        p->slots.free(p->slots.ctx, slot);
    if (rc < 0 && !p->fails)
        log_warnx("cell: cannot build one (%s): spawns build their own; trying again later", err.msg);
    pthread_mutex_lock(&p->lock);
    if (rc < 0)
        return back_off_ms(p);
    p->fails = 0;
    if (!still_wanted(p, gen) || !watch(p, &c)) {
        pthread_mutex_unlock(&p->lock);
        sandbox_cell_discard(&p->env, &c);
        p->slots.free(p->slots.ctx, slot);
        metrics_cell(MC_DISCARDED);
        pthread_mutex_lock(&p->lock);
        return 0;
    }
    p->cells[p->n++] = c;
    set_ready(p);
    metrics_cell(MC_BUILT);
    return 0;
}

static void *pool_builder(void *arg)
{
    struct pool *p = arg;
    int64_t pause = 0;

    jc_name_thread("jc-cells");
    log_set_role("warden");
    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        if (pause > 0 || p->n >= p->want || p->landing > 0) {
            wait_for(p, p->n >= p->want || p->landing > 0 ? -1 : pause);
            pause = 0;
            continue;
        }
        pause = fill_one(p);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int pool_start(struct pool *p, struct jc_err *err)
{
    int e = pthread_create(&p->thread, NULL, pool_builder, p);

    if (e != 0)
        return jc_fail(err, e, "pool: starting the cell builder thread");
    p->started = true;
    return 0;
}

/* ---- the main thread -------------------------------------------------- */

int pool_take(struct pool *p, struct sandbox_cell *c)
{
    bool got = false;

    pthread_mutex_lock(&p->lock);
    bool on = p->want > 0;
    while (!got && p->n > 0) {
        *c = unlist_at(p, 0);
        if ((got = !sandbox_cell_dead(c)))
            break;
        pthread_mutex_unlock(&p->lock);
        log_warnx("cell: one died while it waited: discarded");
        pool_discard(p, c);
        pthread_mutex_lock(&p->lock);
    }
    if (got)
        p->landing++;
    else
        pthread_cond_signal(&p->wake); /* the dead ones' replacements */
    pthread_mutex_unlock(&p->lock);
    if (!got && on)
        metrics_cell(MC_MISSED);
    return got ? 0 : -1;
}

void pool_landed(struct pool *p)
{
    pthread_mutex_lock(&p->lock);
    if (p->landing > 0 && --p->landing == 0)
        pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
}

void pool_handed_over(struct pool *p)
{
    (void)p;
    metrics_cell(MC_HANDED_OVER);
}

int pool_deaths_fd(const struct pool *p) { return p->deaths_fd; }

/* Take off the list (lock held) the cells matching `dead` or past `keep`. */
static unsigned unlist_some(struct pool *p, bool dead, unsigned keep, struct sandbox_cell *out)
{
    unsigned k = 0;

    for (unsigned i = p->n; i-- > 0;)
        if (i >= keep || (dead && sandbox_cell_dead(&p->cells[i])))
            out[k++] = unlist_at(p, i);
    return k;
}

static void discard_all(struct pool *p, struct sandbox_cell *cells, unsigned k, const char *why)
{
    if (k && why)
        log_info("cell: %u waiting cell(s) discarded: %s", k, why);
    for (unsigned i = 0; i < k; i++)
        pool_discard(p, &cells[i]);
}

void pool_reap(struct pool *p)
{
    static struct sandbox_cell gone[POOL_MAX]; /* main thread only */

    pthread_mutex_lock(&p->lock);
    unsigned k = unlist_some(p, true, POOL_MAX, gone);
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
    discard_all(p, gone, k, "it died while it waited");
}

void pool_reconfigure(struct pool *p, const struct jc_config *old, const struct jc_config *cfg)
{
    static struct sandbox_cell gone[POOL_MAX]; /* main thread only */
    bool differ = config_cells_differ(old, cfg);
    unsigned want = cfg->pool_size < POOL_MAX ? cfg->pool_size : POOL_MAX;

    pthread_mutex_lock(&p->lock);
    if (p->closed) {
        pthread_mutex_unlock(&p->lock);
        return;
    }
    if (differ)
        p->gen++;
    p->limits = cfg->def;
    p->want = want;
    unsigned k = unlist_some(p, false, differ ? 0 : want, gone);
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
    discard_all(p, gone, k, differ ? "SIGHUP changed the task defaults they carry" : "SIGHUP lowered pool_size");
}

void pool_close(struct pool *p)
{
    static struct sandbox_cell gone[POOL_MAX]; /* main thread only */

    pthread_mutex_lock(&p->lock);
    p->closed = true;
    p->want = 0; /* a build under way is discarded by the builder */
    unsigned k = unlist_some(p, false, 0, gone);
    pthread_mutex_unlock(&p->lock);
    discard_all(p, gone, k, NULL);
}

void pool_join(struct pool *p)
{
    pool_close(p);
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
    if (p->started)
        pthread_join(p->thread, NULL);
    p->started = false;
    if (p->deaths_fd >= 0)
        close(JC_STEAL_FD(p->deaths_fd));
}
