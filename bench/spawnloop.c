/* spawnloop.c — time a command spawned over and over, in one or more lanes.
 *
 *   spawnloop [-n N] [-j LANES] [-t MAX_SECONDS] [-w WARMUP] [-p PREFIX] -- PROGRAM [ARGS...]
 *
 * Each lane (a thread) posix_spawn()s PROGRAM and waits for it, until N spawns
 * are done in all or MAX_SECONDS have passed.  Any "{}" in an argument is
 * replaced by PREFIX and a fresh number per spawn (crun needs a new container
 * id; default PREFIX "b<pid>-").
 * WARMUP spawns run first, in one lane, untimed.  Children get fresh stdio:
 * stdin a pipe nobody writes to, stdout+stderr a pipe that a thread drains
 * and discards (never the caller's terminal or /dev/null: `crun run` chowns
 * its stdio to the container's user).  Prints one line:
 *
 *   n=… fail=… p50_ms=… p95_ms=… p99_ms=… max_ms=… rate=…   (rate: spawns/s)
 *
 * Part of bench/, not of jobcelld.  Build: cc -O2 -pthread spawnloop.c */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static char **tmpl;
static int tmpl_argc;
static long total = 500, warmup = 20;
static double max_s = 60;
static double *lat;
static atomic_long next_i, done_n, fails;
static atomic_ulong token;
static const char *prefix;
static double t_start, deadline;
static posix_spawn_file_actions_t fa;
static int in_pipe[2], out_pipe[2];

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Build argv with "{}" replaced; returns 0 on a clean exit of the child. */
static int run_once(void)
{
    char *argv[tmpl_argc + 1], *owned[tmpl_argc];
    int nowned = 0, st, rc = -1;
    pid_t pid;
    unsigned long tok = atomic_fetch_add(&token, 1);

    for (int i = 0; i < tmpl_argc; i++) {
        char *p = strstr(tmpl[i], "{}");
        argv[i] = tmpl[i];
        if (p) {
            char *s;
            if (asprintf(&s, "%.*s%s%lu%s", (int)(p - tmpl[i]), tmpl[i], prefix, tok, p + 2) < 0)
                return -1;
            argv[i] = owned[nowned++] = s;
        }
    }
    argv[tmpl_argc] = NULL;
    if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) == 0) {
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        rc = (WIFEXITED(st) && WEXITSTATUS(st) == 0) ? 0 : -1;
    }
    for (int i = 0; i < nowned; i++)
        free(owned[i]);
    return rc;
}

static void *lane(void *arg)
{
    (void)arg;
    for (;;) {
        long i = atomic_fetch_add(&next_i, 1);
        if (i >= total || now() > deadline)
            break;
        double s = now();
        if (run_once() < 0)
            atomic_fetch_add(&fails, 1);
        lat[i] = now() - s;
        atomic_fetch_add(&done_n, 1);
    }
    return NULL;
}

static void *drain(void *arg)
{
    char buf[4096];
    (void)arg;
    while (read(out_pipe[0], buf, sizeof buf) > 0)
        ;
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(const double *v, long n, double p)
{
    long i = (long)(p / 100.0 * (double)(n - 1) + 0.5);
    return n ? v[i] : 0;
}

int main(int argc, char **argv)
{
    int opt, lanes = 1;

    while ((opt = getopt(argc, argv, "+n:j:t:w:p:")) != -1) {
        switch (opt) {
        case 'n': total = atol(optarg); break;
        case 'j': lanes = atoi(optarg); break;
        case 't': max_s = atof(optarg); break;
        case 'w': warmup = atol(optarg); break;
        case 'p': prefix = optarg; break;
        default:
            fprintf(stderr, "usage: spawnloop [-n N] [-j LANES] [-t SECS] [-w WARMUP] [-p PREFIX] -- PROG [ARGS]\n");
            return 2;
        }
    }
    if (optind >= argc || total < 1 || lanes < 1 || lanes > 64) {
        fprintf(stderr, "spawnloop: nothing to run\n");
        return 2;
    }
    if (!prefix) {
        static char def[32];
        snprintf(def, sizeof def, "b%d-", (int)getpid());
        prefix = def;
    }
    tmpl = argv + optind;
    tmpl_argc = argc - optind;
    lat = calloc((size_t)total, sizeof *lat);
    if (!lat || pipe2(in_pipe, O_CLOEXEC) < 0 || pipe2(out_pipe, O_CLOEXEC) < 0)
        return 1;
    pthread_t drainer;
    pthread_create(&drainer, NULL, drain, NULL);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 2);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3); /* nothing else leaks in */
    for (long i = 0; i < warmup; i++)
        if (run_once() < 0) {
            fprintf(stderr, "spawnloop: warm-up spawn of %s failed\n", tmpl[0]);
            return 1;
        }
    pthread_t th[64];
    t_start = now();
    deadline = t_start + max_s;
    for (int i = 0; i < lanes; i++)
        pthread_create(&th[i], NULL, lane, NULL);
    for (int i = 0; i < lanes; i++)
        pthread_join(th[i], NULL);
    double el = now() - t_start;
    long n = atomic_load(&done_n);
    /* lat[] is filled densely for indexes < n (an index is only taken while
     * running, and every taken index below total is completed). */
    qsort(lat, (size_t)n, sizeof *lat, cmp);
    printf("n=%ld fail=%ld p50_ms=%.3f p95_ms=%.3f p99_ms=%.3f max_ms=%.3f rate=%.1f\n", n,
           atomic_load(&fails), pct(lat, n, 50) * 1e3, pct(lat, n, 95) * 1e3, pct(lat, n, 99) * 1e3,
           n ? lat[n - 1] * 1e3 : 0, el > 0 ? (double)n / el : 0);
    return atomic_load(&fails) ? 1 : 0;
}
