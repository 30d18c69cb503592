/* deadlines.c — a binary min-heap of deadlines (see deadlines.h).
 * Runs in: the warden's monitor thread. */
#include "deadlines.h"

#include <errno.h>
#include <stdlib.h>

int deadlines_init(struct deadlines *h, unsigned cap, struct jc_err *err)
{
    *h = (struct deadlines){.v = calloc(cap ? cap : 1, sizeof *h->v), .cap = cap};
    if (!h->v)
        return jc_fail(err, ENOMEM, "deadlines");
    return 0;
}

void deadlines_free(struct deadlines *h)
{
    free(h->v);
    *h = (struct deadlines){0};
}

static void place(struct deadlines *h, unsigned i, struct deadline *d)
{
    h->v[i] = d;
    d->pos = i + 1;
}

static void sift_up(struct deadlines *h, unsigned i)
{
    struct deadline *d = h->v[i];

    while (i > 0 && h->v[(i - 1) / 2]->at_ms > d->at_ms) {
        place(h, i, h->v[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    place(h, i, d);
}

static void sift_down(struct deadlines *h, unsigned i)
{
    struct deadline *d = h->v[i];

    for (;;) {
        unsigned c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->v[c + 1]->at_ms < h->v[c]->at_ms)
            c++;
        if (h->v[c]->at_ms >= d->at_ms)
            break;
        place(h, i, h->v[c]);
        i = c;
    }
    place(h, i, d);
}

void deadline_clear(struct deadlines *h, struct deadline *d)
{
    unsigned i;

    if (!d->pos)
        return;
    i = d->pos - 1;
    d->pos = 0;
    if (i == --h->n)
        return;
    place(h, i, h->v[h->n]);
    sift_down(h, i);
    sift_up(h, h->v[i]->pos - 1);
}

static int grow(struct deadlines *h)
{
    unsigned cap = h->cap ? 2 * h->cap : 16;
    struct deadline **v = realloc(h->v, cap * sizeof *v);

    if (!v)
        return -1;
    h->v = v;
    h->cap = cap;
    return 0;
}

int deadline_set(struct deadlines *h, struct deadline *d, int64_t at_ms)
{
    deadline_clear(h, d);
    if (h->n == h->cap && grow(h) < 0)
        return -1;
    d->at_ms = at_ms;
    h->v[h->n] = d;
    sift_up(h, h->n++);
    return 0;
}

struct deadline *deadlines_first(const struct deadlines *h)
{
    return h->n ? h->v[0] : NULL;
}

struct deadline *deadlines_pop_due(struct deadlines *h, int64_t now_ms)
{
    struct deadline *d = deadlines_first(h);

    if (!d || d->at_ms > now_ms)
        return NULL;
    deadline_clear(h, d);
    return d;
}
