/* waits.c — held requests (see waits.h).
 * Runs in: the front (HTTP threads, the IPC thread, the timer thread). */
#include "waits.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define NBUCKETS 4096

struct waits {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t timer;
    bool quit;
    void (*wake)(void *req);
    unsigned max, count;
    struct waiter **heap; /* by deadline, earliest first */
    struct waiter *buckets[NBUCKETS];
};

static unsigned bucket_of(const char *id)
{
    uint32_t h = 2166136261u;

    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 16777619u;
    return h % NBUCKETS;
}

/* ---- the heap ------------------------------------------------------------ */

static void heap_set(struct waits *w, size_t i, struct waiter *wt)
{
    w->heap[i] = wt;
    wt->heap_idx = i;
}

static void sift_up(struct waits *w, size_t i)
{
    struct waiter *wt = w->heap[i];

    while (i > 0 && w->heap[(i - 1) / 2]->deadline_ms > wt->deadline_ms) {
        heap_set(w, i, w->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    heap_set(w, i, wt);
}

static void sift_down(struct waits *w, size_t i)
{
    struct waiter *wt = w->heap[i];

    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= w->count)
            break;
        if (c + 1 < w->count && w->heap[c + 1]->deadline_ms < w->heap[c]->deadline_ms)
            c++;
        if (w->heap[c]->deadline_ms >= wt->deadline_ms)
            break;
        heap_set(w, i, w->heap[c]);
        i = c;
    }
    heap_set(w, i, wt);
}

/* ---- membership ------------------------------------------------------- */

static void link_wt(struct waits *w, struct waiter *wt)
{
    unsigned b = bucket_of(wt->id);

    wt->prev = NULL;
    wt->next = w->buckets[b];
    if (wt->next)
        wt->next->prev = wt;
    w->buckets[b] = wt;
    heap_set(w, w->count++, wt);
    sift_up(w, w->count - 1);
    wt->held = true;
}

static void unlink_wt(struct waits *w, struct waiter *wt)
{
    size_t i = wt->heap_idx;

    if (wt->prev)
        wt->prev->next = wt->next;
    else
        w->buckets[bucket_of(wt->id)] = wt->next;
    if (wt->next)
        wt->next->prev = wt->prev;
    if (i != --w->count) { /* the last one fills the hole, then settles */
        struct waiter *moved = w->heap[w->count];
        heap_set(w, i, moved);
        sift_down(w, i);
        sift_up(w, moved->heap_idx);
    }
    wt->held = false;
}

/* ---- the timer thread ------------------------------------------------------ */

static void wait_until(struct waits *w, int64_t deadline_mono)
{
    struct timespec ts;
    int64_t left = deadline_mono - jc_now_ms(CLOCK_MONOTONIC);

    if (left > 1000)
        left = 1000;
    jc_mono_after(&ts, left);
    pthread_cond_timedwait(&w->cond, &w->lock, &ts);
}

static void *timer_main(void *arg)
{
    struct waits *w = arg;

    jc_name_thread("jc-waits");
    pthread_mutex_lock(&w->lock);
    while (!w->quit) {
        int64_t now = jc_now_ms(CLOCK_MONOTONIC);
        while (w->count && w->heap[0]->deadline_ms <= now) {
            struct waiter *wt = w->heap[0];
            unlink_wt(w, wt);
            w->wake(wt->req);
        }
        wait_until(w, w->count ? w->heap[0]->deadline_ms : now + 1000);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

struct waits *waits_open(unsigned max_waiters, void (*wake)(void *req), struct jc_err *err)
{
    struct waits *w = calloc(1, sizeof *w);
    pthread_condattr_t ca;

    if (!w || !(w->heap = calloc(max_waiters, sizeof *w->heap))) {
        free(w);
        jc_fail(err, ENOMEM, "waits");
        return NULL;
    }
    w->max = max_waiters;
    w->wake = wake;
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&w->timer, NULL, timer_main, w) != 0) {
        free(w->heap);
        free(w);
        jc_fail(err, errno, "starting the wait timer thread");
        return NULL;
    }
    return w;
}

void waits_close(struct waits *w)
{
    if (!w)
        return;
    waits_wake_all(w);
    pthread_mutex_lock(&w->lock);
    w->quit = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->timer, NULL);
    free(w->heap);
    free(w);
}

/* ---- the calls -------------------------------------------------------- */

int waits_add(struct waits *w, struct waiter *wt, const char *id, unsigned wait_s, void *req,
              struct jc_err *err)
{
    int rc = 0;

    memset(wt, 0, sizeof *wt);
    memcpy(wt->id, id, JC_ID_LEN);
    wt->id[JC_ID_LEN - 1] = 0;
    wt->deadline_ms = jc_now_ms(CLOCK_MONOTONIC) + (int64_t)wait_s * 1000;
    wt->req = req;
    pthread_mutex_lock(&w->lock);
    if (w->quit || w->count >= w->max)
        rc = jc_client(err, 503, "Too many requests waiting (limit %u); retry later", w->max);
    else
        link_wt(w, wt);
    if (rc == 0 && wt->heap_idx == 0)
        pthread_cond_signal(&w->cond); /* a new earliest deadline */
    pthread_mutex_unlock(&w->lock);
    return rc;
}

bool waits_cancel(struct waits *w, struct waiter *wt)
{
    pthread_mutex_lock(&w->lock);
    bool held = wt->held;
    if (held)
        unlink_wt(w, wt);
    pthread_mutex_unlock(&w->lock);
    return held;
}

void waits_task_ended(void *ctx, const char *id)
{
    struct waits *w = ctx;
    unsigned b = bucket_of(id);

    pthread_mutex_lock(&w->lock);
    for (struct waiter *wt = w->buckets[b], *next; wt; wt = next) {
        next = wt->next;
        if (strcmp(wt->id, id) != 0)
            continue;
        unlink_wt(w, wt);
        w->wake(wt->req);
    }
    pthread_mutex_unlock(&w->lock);
}

void waits_wake_all(struct waits *w)
{
    pthread_mutex_lock(&w->lock);
    while (w->count) {
        struct waiter *wt = w->heap[0];
        unlink_wt(w, wt);
        w->wake(wt->req);
    }
    pthread_mutex_unlock(&w->lock);
}

unsigned waits_count(struct waits *w)
{
    pthread_mutex_lock(&w->lock);
    unsigned n = w->count;
    pthread_mutex_unlock(&w->lock);
    return n;
}
