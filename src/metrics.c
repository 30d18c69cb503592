/* metrics.c — see metrics.h.
 *
 * Every counter is a relaxed atomic: a request or a task end costs one
 * atomic add on the path that causes it, and a scrape reads each value once
 * (a scrape may see one counter a little ahead of another; each alone is
 * exact and never goes back).  Histogram buckets are stored per bucket and
 * summed into Prometheus's cumulative form when rendered.  The registry is
 * one per process (the front's), like the log.
 * Runs in: the front, any thread (bumps); the scraping pool thread (render). */
#include "metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "error.h"

#define N_STATES (ST_LOST + 1)
#define N_REASONS (RS_DAEMON_RESTART + 1)
#define STATUS_MIN 100
#define STATUS_MAX 599
#define N_STATUS (STATUS_MAX - STATUS_MIN + 1)

/* Upper bounds (seconds) of both latency histograms; +Inf is implicit. */
static const double g_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                  1, 2.5, 5, 10, 30, 60, 300};
#define N_BUCKETS (JC_ARRAY_LEN(g_bounds) + 1)

struct histogram {
    atomic_uint_fast64_t bucket[N_BUCKETS]; /* not cumulative */
    atomic_uint_fast64_t sum_ms, count;
};

static struct {
    atomic_uint_fast64_t started;
    atomic_uint_fast64_t ended[N_STATES][N_REASONS];
    atomic_uint_fast64_t http[METRICS_MAX_ROUTES + 1][N_STATUS];
    struct histogram spawn, wait;
} g_m;

static void inc(atomic_uint_fast64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static uint64_t get(atomic_uint_fast64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static void observe(struct histogram *h, int64_t ms)
{
    size_t i = 0;

    if (ms < 0)
        ms = 0;
    while (i < JC_ARRAY_LEN(g_bounds) && (double)ms / 1000.0 > g_bounds[i])
        i++;
    inc(&h->bucket[i], 1);
    inc(&h->sum_ms, (uint64_t)ms);
    inc(&h->count, 1);
}

void metrics_task_started(int64_t accepted_to_running_ms)
{
    inc(&g_m.started, 1);
    observe(&g_m.spawn, accepted_to_running_ms);
}

void metrics_task_ended(enum jc_state state, enum jc_reason reason)
{
    if ((unsigned)state < N_STATES && (unsigned)reason < N_REASONS)
        inc(&g_m.ended[state][reason], 1);
}

void metrics_queue_wait(int64_t waited_ms) { observe(&g_m.wait, waited_ms); }

/* The warden's counts of its cells and cgroups, on the shared page once mapped. */
struct cell_counts {
    atomic_uint_fast64_t ready, event[MC_NEVENTS];
    atomic_uint_fast64_t cgroups_pending;
};
static struct cell_counts g_cells_local, *g_cells = &g_cells_local;

int metrics_cells_map(void)
{
    void *m = mmap(NULL, sizeof *g_cells, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    if (m == MAP_FAILED)
        return -1;
    g_cells = m;
    return 0;
}

void metrics_cell(enum metrics_cell_event e)
{
    if ((unsigned)e < MC_NEVENTS)
        inc(&g_cells->event[e], 1);
}

void metrics_cells_ready(unsigned n) { atomic_store_explicit(&g_cells->ready, n, memory_order_relaxed); }

void metrics_cgroups_pending(unsigned n)
{
    atomic_store_explicit(&g_cells->cgroups_pending, n, memory_order_relaxed);
}

uint64_t metrics_cgroups_pending_now(void) { return get(&g_cells->cgroups_pending); }

void metrics_http(int route, unsigned status)
{
    if (route < 0 || route >= METRICS_MAX_ROUTES)
        route = METRICS_MAX_ROUTES;
    if (status >= STATUS_MIN && status <= STATUS_MAX)
        inc(&g_m.http[route][status - STATUS_MIN], 1);
}

/* ---- rendering ---------------------------------------------------------- */

static void head(FILE *o, const char *name, const char *type, const char *help)
{
    fprintf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void gauge(FILE *o, const char *name, const char *help, double v)
{
    head(o, name, "gauge", help);
    fprintf(o, "%s %.17g\n", name, v);
}

static void render_tasks(FILE *o)
{
    head(o, "jobcell_tasks_started_total", "counter", "Tasks the warden started (they reached running).");
    fprintf(o, "jobcell_tasks_started_total %llu\n", (unsigned long long)get(&g_m.started));
    head(o, "jobcell_tasks_ended_total", "counter", "Tasks that ended, by final state and reason.");
    for (int s = 0; s < N_STATES; s++)
        for (int r = 0; r < N_REASONS; r++) {
            uint64_t n = get(&g_m.ended[s][r]);
            if (n)
                fprintf(o, "jobcell_tasks_ended_total{state=\"%s\",reason=\"%s\"} %llu\n",
                        jc_state_name((enum jc_state)s), jc_reason_name((enum jc_reason)r),
                        (unsigned long long)n);
        }
}

static void render_histogram(FILE *o, const char *name, const char *help, struct histogram *h)
{
    uint64_t cum = 0;

    head(o, name, "histogram", help);
    for (size_t i = 0; i < N_BUCKETS; i++) {
        cum += get(&h->bucket[i]);
        if (i < JC_ARRAY_LEN(g_bounds))
            fprintf(o, "%s_bucket{le=\"%g\"} %llu\n", name, g_bounds[i], (unsigned long long)cum);
        else
            fprintf(o, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
    }
    fprintf(o, "%s_sum %.3f\n%s_count %llu\n", name, (double)get(&h->sum_ms) / 1000.0, name,
            (unsigned long long)get(&h->count));
}

static void render_http(FILE *o, const struct metrics_route *routes, size_t nroutes)
{
    head(o, "jobcell_http_requests_total", "counter",
         "HTTP requests answered, by method, route pattern and status code.");
    for (size_t i = 0; i <= METRICS_MAX_ROUTES; i++) {
        bool known = i < nroutes && i < METRICS_MAX_ROUTES;
        if (!known && i != METRICS_MAX_ROUTES)
            continue;
        for (int c = 0; c < N_STATUS; c++) {
            uint64_t n = get(&g_m.http[i][c]);
            if (n)
                fprintf(o, "jobcell_http_requests_total{method=\"%s\",route=\"%s\",code=\"%d\"} %llu\n",
                        known ? routes[i].method : "other", known ? routes[i].pattern : "unmatched",
                        c + STATUS_MIN, (unsigned long long)n);
        }
    }
}

static void render_gauges(FILE *o, const struct metrics_gauges *g)
{
    gauge(o, "jobcell_tasks_running", "Tasks running or being started.", g->running);
    gauge(o, "jobcell_tasks_queued", "Tasks waiting in the queue.", g->queued);
    gauge(o, "jobcell_queue_oldest_wait_seconds", "How long the queue's head has waited (0: empty).",
          g->oldest_wait_s);
    gauge(o, "jobcell_warden_up", "1 while the privileged warden answers, 0 once it is lost.",
          g->warden_up);
    gauge(o, "jobcell_ceiling_memory_bytes", "Memory ceiling of all tasks together (0: none).",
          (double)g->memory_ceiling_bytes);
    gauge(o, "jobcell_ceiling_memory_used_bytes", "Memory all tasks use now.", (double)g->memory_used_bytes);
    gauge(o, "jobcell_ceiling_pids", "Process ceiling of all tasks together (0: none).", (double)g->pids_ceiling);
    gauge(o, "jobcell_ceiling_pids_used", "Processes all tasks have now.", (double)g->pids_used);
    gauge(o, "jobcell_log_quota_bytes", "Quota of the state directory's task logs (0: none).",
          (double)g->log_quota_bytes);
    gauge(o, "jobcell_log_used_bytes", "Bytes the task logs take now.", (double)g->log_used_bytes);
}

static void render_cells(FILE *o)
{
    static const struct {
        const char *name, *help;
    } ev[MC_NEVENTS] = {
        [MC_BUILT] = {"jobcell_cells_built_total", "Cells the warden built ahead of demand."},
        [MC_HANDED_OVER] = {"jobcell_cell_handovers_total", "Tasks that started in a cell built ahead."},
        [MC_MISSED] = {"jobcell_cell_misses_total", "Spawns that found no cell ready (built on demand)."},
        [MC_DISCARDED] = {"jobcell_cells_discarded_total",
                          "Cells killed unused (died, reload, stop, a failed hand-over)."},
    };

    gauge(o, "jobcell_cells_ready", "Cells built ahead, waiting for a task.", (double)get(&g_cells->ready));
    gauge(o, "jobcell_cgroups_awaiting_removal", "Ended tasks' cgroups the warden has not removed yet.",
          (double)get(&g_cells->cgroups_pending));
    for (int i = 0; i < MC_NEVENTS; i++) {
        head(o, ev[i].name, "counter", ev[i].help);
        fprintf(o, "%s %llu\n", ev[i].name, (unsigned long long)get(&g_cells->event[i]));
    }
}

char *metrics_render(const struct metrics_route *routes, size_t nroutes, const struct metrics_gauges *g)
{
    char *text = NULL;
    size_t len = 0;
    FILE *o = open_memstream(&text, &len);

    if (!o)
        return NULL;
    render_tasks(o);
    render_histogram(o, "jobcell_task_spawn_latency_seconds",
                     "From the POST accepting a task to the task running (queue wait included).", &g_m.spawn);
    render_histogram(o, "jobcell_queue_wait_seconds", "Time queued tasks waited for a slot.", &g_m.wait);
    render_http(o, routes, nroutes);
    render_gauges(o, g);
    render_cells(o);
    if (fclose(o) != 0) {
        free(text);
        return NULL;
    }
    return text;
}
