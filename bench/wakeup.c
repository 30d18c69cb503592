/* bench/wakeup.c — what one wake-up of a sleeping thread costs on this
 * host: two threads pass a token back and forth over two eventfds, N round
 * trips (two wake-ups each), both on one CPU, then on two CPUs, each with
 * the other CPUs idle and with a busy loop on each of the first two.
 * Prints the wall time and the CPU time of the two threads (their thread
 * clocks: not the busy loops') per wake-up.  On a VM a wake-up on another, halted CPU costs an
 * IPI and the halt's exit, which bench/threads.sh's wake-up counts
 * multiply.  A benchmark, not a test.
 *
 *   build/bench/jobcell-wakeup [N]        (default 20000 round trips)
 *
 * Runs in: a shell (no root needed); its threads are its own. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct pair {
    int to_peer, to_main;
    int peer_cpu;
    long n;
    double peer_cpu_s; /* the peer's own CPU time over its loop */
};

static atomic_bool spin_stop;

static void die(const char *what, int e)
{
    fprintf(stderr, "jobcell-wakeup: %s: %s\n", what, strerror(e));
    exit(1);
}

static void pin(int cpu)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    int e = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    if (e)
        die("pthread_setaffinity_np", e);
}

static void pass(int to, int from)
{
    uint64_t v = 1;

    if (write(to, &v, sizeof v) != sizeof v)
        die("eventfd write", errno);
    if (read(from, &v, sizeof v) != sizeof v)
        die("eventfd read", errno);
}

static double clock_secs(clockid_t id)
{
    struct timespec ts;

    if (clock_gettime(id, &ts) < 0)
        die("clock_gettime", errno);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *peer(void *arg)
{
    struct pair *p = arg;
    uint64_t v;

    pin(p->peer_cpu);
    double c0 = clock_secs(CLOCK_THREAD_CPUTIME_ID);
    for (long i = 0; i < p->n; i++) {
        if (read(p->to_peer, &v, sizeof v) != sizeof v)
            die("eventfd read", errno);
        if (write(p->to_main, &v, sizeof v) != sizeof v)
            die("eventfd write", errno);
    }
    p->peer_cpu_s = clock_secs(CLOCK_THREAD_CPUTIME_ID) - c0;
    return NULL;
}

static void *spin(void *arg)
{
    pin((int)(intptr_t)arg);
    while (!atomic_load_explicit(&spin_stop, memory_order_relaxed))
        ;
    return NULL;
}

static double secs(struct timespec a, struct timespec b)
{
    return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

/* N round trips between CPU 0 and peer_cpu, with or without a busy loop
 * on each of the first two CPUs. */
static void measure(const char *what, int peer_cpu, long n, bool busy, int ncpu)
{
    struct pair p = {.peer_cpu = peer_cpu, .n = n};
    pthread_t t, spinners[2];
    struct timespec t0, t1;
    int e;

    p.to_peer = eventfd(0, EFD_CLOEXEC);
    p.to_main = eventfd(0, EFD_CLOEXEC);
    if (p.to_peer < 0 || p.to_main < 0)
        die("eventfd", errno);
    atomic_store(&spin_stop, false);
    for (int c = 0; busy && c < 2; c++)
        if ((e = pthread_create(&spinners[c], NULL, spin, (void *)(intptr_t)(c % ncpu))))
            die("pthread_create", e);
    pin(0);
    if ((e = pthread_create(&t, NULL, peer, &p)))
        die("pthread_create", e);
    double c0 = clock_secs(CLOCK_THREAD_CPUTIME_ID);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < n; i++)
        pass(p.to_peer, p.to_main);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double c1 = clock_secs(CLOCK_THREAD_CPUTIME_ID);
    atomic_store(&spin_stop, true);
    for (int c = 0; busy && c < 2; c++)
        pthread_join(spinners[c], NULL);
    pthread_join(t, NULL); /* p.peer_cpu_s is set */
    close(p.to_peer);
    close(p.to_main);
    printf("  %-34s %8.2f us wall, %6.2f us CPU (the two threads') per wake-up\n", what,
           secs(t0, t1) * 1e6 / (2.0 * (double)n), (c1 - c0 + p.peer_cpu_s) * 1e6 / (2.0 * (double)n));
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 20000;
    int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);

    if (n < 100 || n > 10000000) {
        fprintf(stderr, "usage: jobcell-wakeup [N: 100..10000000 round trips]\n");
        return 2;
    }
    printf("jobcell-wakeup: %ld round trips (2 wake-ups each) over eventfds, %d CPUs\n", n, ncpu);
    measure("one CPU, the others idle", 0, n, false, ncpu);
    if (ncpu < 2) {
        printf("  (one CPU only: no cross-CPU figure)\n");
        return 0;
    }
    measure("two CPUs, the others idle", 1, n, false, ncpu);
    measure("two CPUs, a busy loop on each", 1, n, true, ncpu);
    return 0;
}
