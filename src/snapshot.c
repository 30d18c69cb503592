/* snapshot.c — see snapshot.h.  Runs in: the front, any thread. */
#include "snapshot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct jc_snap *snap_new(const struct jc_config *cfg)
{
    struct jc_snap *s = calloc(1, sizeof *s);

    if (!s)
        return NULL;
    s->cfg = *cfg;
    explicit_bzero(s->cfg.token, sizeof s->cfg.token); /* the HTTP server holds the token */
    s->refs = 1;
    return s;
}

int snap_add_policy(struct jc_snap *s, const char *name, const char *sha256)
{
    struct jc_policy *p;

    if (s->policies.count >= POLICY_MAX_FILES)
        return -1;
    p = &s->policies.items[s->policies.count++];
    snprintf(p->name, sizeof p->name, "%s", name);
    snprintf(p->sha256, sizeof p->sha256, "%s", sha256);
    return 0;
}

int snap_cell_init(struct snap_cell *c, const struct jc_config *cfg, const struct jc_policy_set *set,
                   struct jc_err *err)
{
    struct jc_snap *s = snap_new(cfg);

    if (!s)
        return jc_fail(err, ENOMEM, "the configuration snapshot");
    for (size_t i = 0; i < set->count; i++)
        (void)snap_add_policy(s, set->items[i].name, set->items[i].sha256); /* count ≤ POLICY_MAX_FILES */
    pthread_mutex_init(&c->lock, NULL);
    c->cur = s;
    return 0;
}

/* The last reference is gone: nobody can reach it any more. */
static void unref_locked(struct jc_snap *s, struct jc_snap **dead)
{
    *dead = --s->refs == 0 ? s : NULL;
}

void snap_cell_free(struct snap_cell *c)
{
    struct jc_snap *dead = NULL;

    if (!c->cur)
        return;
    pthread_mutex_lock(&c->lock);
    unref_locked(c->cur, &dead);
    c->cur = NULL;
    pthread_mutex_unlock(&c->lock);
    free(dead);
    pthread_mutex_destroy(&c->lock);
}

const struct jc_snap *snap_get(struct snap_cell *c)
{
    pthread_mutex_lock(&c->lock);
    struct jc_snap *s = c->cur;
    s->refs++;
    pthread_mutex_unlock(&c->lock);
    return s;
}

void snap_put(struct snap_cell *c, const struct jc_snap *s)
{
    struct jc_snap *dead;

    pthread_mutex_lock(&c->lock);
    unref_locked((struct jc_snap *)s, &dead);
    pthread_mutex_unlock(&c->lock);
    free(dead); /* outside the lock */
}

void snap_publish(struct snap_cell *c, struct jc_snap *s, void (*then)(void *ctx), void *ctx)
{
    struct jc_snap *dead;

    pthread_mutex_lock(&c->lock);
    unref_locked(c->cur, &dead);
    c->cur = s;
    if (then)
        then(ctx);
    pthread_mutex_unlock(&c->lock);
    free(dead);
}

int snap_locked(struct snap_cell *c, int (*fn)(const struct jc_snap *s, void *ctx), void *ctx)
{
    pthread_mutex_lock(&c->lock);
    int rc = fn(c->cur, ctx);
    pthread_mutex_unlock(&c->lock);
    return rc;
}
