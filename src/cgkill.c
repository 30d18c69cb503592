/* cgkill.c — killing the processes a cgroup lists (see cgkill.h): v1's kill
 * of a task (there is no cgroup.kill), v2 before Linux 5.14, and the
 * start-up sweep of a previous run's leftovers.  Runs in: the warden (its
 * monitor, its sweeper, its start-up).  No privilege of its own: it only
 * reads DIR/cgroup.procs and signals what it lists. */
#include "cgkill.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "log.h"

/* The pids signalled so far; once it is full every pid counts as new
 * (the loop then runs its bounded number of passes, as a fork bomb does). */
struct signalled {
    long pid[CG_KILL_REMEMBER];
    int n;
    bool full;
};

static bool remember(struct signalled *s, long pid)
{
    for (int i = 0; i < s->n; i++)
        if (s->pid[i] == pid)
            return false;
    if (s->n < CG_KILL_REMEMBER)
        s->pid[s->n++] = pid;
    else
        s->full = true;
    return true;
}

/* One pass over dir/cgroup.procs, read to its end through stdio so no pid
 * is ever cut in two: signals every listed process.  Returns how many of
 * them no earlier pass had listed. */
static int kill_listed(const char *dir, struct signalled *s)
{
    char path[PATH_MAX];
    FILE *f;
    long pid;
    int fresh = 0;

    snprintf(path, sizeof path, "%s/cgroup.procs", dir);
    if (!(f = fopen(path, "re")))
        return 0;
    while (fscanf(f, "%ld", &pid) == 1) {
        if (pid > 1 && kill((pid_t)pid, SIGKILL) < 0 && errno != ESRCH)
            log_warn("kill %ld in %s", pid, dir);
        fresh += remember(s, pid) || s->full;
    }
    fclose(f);
    return fresh;
}

int cg_kill_procs(const char *dir)
{
    struct signalled s = {.n = 0};
    int pass = 1;

    /* A killed process stays listed until it has exited, which on a busy
     * host is after many passes: only a pid not seen before (a fork that
     * raced the kill) is a reason to look again. */
    while (kill_listed(dir, &s) > 0 && pass < CG_KILL_PASSES)
        pass++;
    return pass;
}
