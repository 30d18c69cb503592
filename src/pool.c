/* pool.c — see pool.h.  Runs in: the warden's main thread. */
#include "pool.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"

static void set_ready(const struct pool *p) { metrics_cells_ready(p->n); }

void pool_init(struct pool *p, const struct jc_config *cfg, void (*free_slot)(void *, uint32_t), void *ctx)
{
    memset(p, 0, sizeof *p);
    p->want = cfg->pool_size < POOL_MAX ? cfg->pool_size : POOL_MAX;
    p->limits = cfg->def;
    p->free_slot = free_slot;
    p->ctx = ctx;
    set_ready(p);
}

bool pool_wants(const struct pool *p, int64_t now_ms)
{
    return p->n < p->want && now_ms >= p->retry_ms;
}

int pool_wait_ms(const struct pool *p, int64_t now_ms)
{
    if (p->n >= p->want)
        return -1;
    return now_ms >= p->retry_ms ? 0 : (int)(p->retry_ms - now_ms);
}

/* After a failed build: 1 s, doubling to 60 s, so that a cell that cannot
 * be built (a full pids ceiling, a broken rootfs) costs nothing much; the
 * spawns on demand report the cause to the clients meanwhile. */
void pool_back_off(struct pool *p, int64_t now_ms)
{
    int64_t ms = 1000;

    for (unsigned i = 0; i < p->fails && ms < 60000; i++)
        ms *= 2;
    p->retry_ms = now_ms + (ms < 60000 ? ms : 60000);
    p->fails++;
}

void pool_fill_one(struct pool *p, const struct sandbox_env *env, uint32_t slot, int64_t now_ms)
{
    struct sandbox_cell *c = &p->cells[p->n];
    char name[JC_ID_LEN];
    struct jc_err err;

    snprintf(name, sizeof name, "cell.%d.%llu", (int)getpid(), (unsigned long long)++p->seq);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = sandbox_cell_build(env, name, &p->limits, slot, c, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    log_debug("cell %s: %s in %lld us of the warden's main thread", name, rc < 0 ? "failed" : "built",
              (long long)((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000));
    if (rc < 0) {
        if (!p->fails)
            log_warnx("cell: cannot build one (%s): spawns build their own; trying again later", err.msg);
        pool_back_off(p, now_ms);
        p->free_slot(p->ctx, slot);
        return;
    }
    p->fails = 0;
    p->n++;
    metrics_cell(MC_BUILT);
    set_ready(p);
}

static void discard_at(struct pool *p, const struct sandbox_env *env, unsigned i)
{
    struct sandbox_cell c = p->cells[i];

    memmove(&p->cells[i], &p->cells[i + 1], (p->n - i - 1) * sizeof p->cells[0]);
    p->n--;
    set_ready(p);
    pool_discard(p, env, &c);
}

void pool_discard(struct pool *p, const struct sandbox_env *env, struct sandbox_cell *c)
{
    sandbox_cell_discard(env, c);
    p->free_slot(p->ctx, c->slot);
    metrics_cell(MC_DISCARDED);
}

int pool_take(struct pool *p, const struct sandbox_env *env, struct sandbox_cell *c)
{
    while (p->n > 0) {
        if (sandbox_cell_dead(&p->cells[0])) {
            log_warnx("cell: one died while it waited: discarded");
            discard_at(p, env, 0);
            continue;
        }
        *c = p->cells[0];
        memmove(&p->cells[0], &p->cells[1], (p->n - 1) * sizeof p->cells[0]);
        p->n--;
        set_ready(p);
        return 0;
    }
    if (p->want)
        metrics_cell(MC_MISSED);
    return -1;
}

void pool_handed_over(struct pool *p)
{
    (void)p;
    metrics_cell(MC_HANDED_OVER);
}

unsigned pool_pollfds(const struct pool *p, struct pollfd *out)
{
    for (unsigned i = 0; i < p->n; i++)
        out[i] = (struct pollfd){.fd = p->cells[i].sb.pidfd, .events = POLLIN};
    return p->n;
}

void pool_reap(struct pool *p, const struct sandbox_env *env)
{
    for (unsigned i = p->n; i-- > 0;)
        if (sandbox_cell_dead(&p->cells[i])) {
            log_warnx("cell: one died while it waited: discarded");
            discard_at(p, env, i);
        }
}

void pool_empty(struct pool *p, const struct sandbox_env *env)
{
    while (p->n > 0)
        discard_at(p, env, p->n - 1);
}

void pool_reconfigure(struct pool *p, const struct sandbox_env *env, const struct jc_config *old,
                      const struct jc_config *cfg)
{
    if (config_cells_differ(old, cfg)) {
        if (p->n)
            log_info("SIGHUP: the task defaults changed: rebuilding the %u waiting cell(s)", p->n);
        pool_empty(p, env);
    }
    p->limits = cfg->def;
    p->want = cfg->pool_size < POOL_MAX ? cfg->pool_size : POOL_MAX;
    while (p->n > p->want)
        discard_at(p, env, p->n - 1);
    p->fails = 0;
    p->retry_ms = 0;
}
