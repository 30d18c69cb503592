/* worker.c — jobcell-worker: the built-in worker, jobcell's version of the
 * seed's worker process.
 *
 *     jobcell-worker NAME DURATION
 *
 * Prints "task NAME started (duration N s)", then "step i/N" once a second
 * for i = 1..N (sleeping 1 s before each step), then "task NAME done", and
 * exits 0.  Bad arguments: a message on stderr, exit 2.  A failed write to
 * stdout: a message on stderr, exit 1.
 *
 * Runs in: the task sandbox, as PROGRAM under jobcell-init, under the task's
 * seccomp filter, without capabilities.  stdout is a pipe read by the
 * daemon, so every line is flushed at once.  Steps are scheduled on absolute
 * CLOCK_MONOTONIC deadlines so N steps take N seconds, not N plus drift.
 *
 * Static (musl), no allocation. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXIT_USAGE 2
#define DURATION_MAX 86400 /* one day; the daemon enforces its own maximum */

static _Noreturn void usage(const char *why)
{
    fprintf(stderr, "jobcell-worker: %s\nusage: jobcell-worker NAME DURATION"
                    " (DURATION: whole seconds, 0..%d)\n", why, DURATION_MAX);
    exit(EXIT_USAGE);
}

/* Strict: decimal digits only, no sign, no blanks, within 0..DURATION_MAX. */
static int parse_duration(const char *s)
{
    char *end;

    if (s[0] < '0' || s[0] > '9')
        usage("DURATION is not a non-negative integer");
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*end != '\0')
        usage("DURATION is not a non-negative integer");
    if (errno == ERANGE || v > DURATION_MAX)
        usage("DURATION is too large");
    return (int)v;
}

/* printf + fflush, so each line reaches the pipe as soon as it is made. */
static __attribute__((format(printf, 1, 2))) void say(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    int n = vprintf(fmt, ap);
    va_end(ap);
    if (n < 0 || fflush(stdout) == EOF) {
        fprintf(stderr, "jobcell-worker: write to stdout: %s\n", strerror(errno));
        exit(EXIT_FAILURE);
    }
}

static void now(struct timespec *t)
{
    if (clock_gettime(CLOCK_MONOTONIC, t) < 0) {
        fprintf(stderr, "jobcell-worker: clock_gettime: %s\n", strerror(errno));
        exit(EXIT_FAILURE);
    }
}

/* Sleeps until the absolute monotonic time *t (restarting after signals). */
static void sleep_until(const struct timespec *t)
{
    int rc;

    while ((rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, t, NULL)) == EINTR)
        ;
    if (rc != 0) {
        fprintf(stderr, "jobcell-worker: clock_nanosleep: %s\n", strerror(rc));
        exit(EXIT_FAILURE);
    }
}

int main(int argc, char **argv)
{
    if (argc != 3)
        usage("expected exactly two arguments");
    const char *name = argv[1];
    if (name[0] == '\0')
        usage("NAME is empty");
    int duration = parse_duration(argv[2]);

    say("task %s started (duration %d s)\n", name, duration);
    struct timespec deadline;
    now(&deadline);
    for (int i = 1; i <= duration; i++) {
        deadline.tv_sec += 1;
        sleep_until(&deadline);
        say("step %d/%d\n", i, duration);
    }
    say("task %s done\n", name);
    return 0;
}
