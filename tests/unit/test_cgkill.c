/* test_cgkill.c — unit tests for cgkill.c, the kill of a cgroup's listed
 * processes.  A plain file stands in for cgroup.procs and inotify counts
 * the passes (one open each; its close is watched too, or inotify would
 * fold the repeated opens into one event).  A killed process stays listed
 * until it has exited, which on a busy host is long after the kill: two
 * processes that stay listed take two passes (one kills, one finds
 * nothing new), where
 * the rule before (again while any is listed) made all eight every time;
 * with more distinct pids than it remembers, every pass counts as new and
 * the bound of CG_KILL_PASSES holds. */
#include "cgkill.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

/* Above PID_MAX_LIMIT (4 194 304): never a live process, kill() is ESRCH. */
#define NO_SUCH_PID 5000000L

static pid_t sleeper(void)
{
    pid_t p = fork();

    if (p == 0) {
        pause();
        _exit(0);
    }
    return p;
}

static int killed(pid_t p)
{
    int st;

    return waitpid(p, &st, 0) == p && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
}

/* cg_kill_procs on a directory whose cgroup.procs holds text; *opens:
 * how often the file was opened. */
static int run(const char *text, int *opens)
{
    char dir[] = "/tmp/jc-cgkill-XXXXXX", path[64];
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event)))); /* inotify(7) */
    int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    ssize_t n;

    CHECK(in >= 0 && mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/cgroup.procs", dir);
    FILE *f = fopen(path, "we");
    CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0);
    CHECK(inotify_add_watch(in, path, IN_OPEN | IN_CLOSE_NOWRITE) >= 0);
    int passes = cg_kill_procs(dir);
    *opens = 0;
    while ((n = read(in, buf, sizeof buf)) > 0)
        for (char *p = buf; p < buf + n; p += sizeof(struct inotify_event) + ((struct inotify_event *)p)->len)
            *opens += (((struct inotify_event *)p)->mask & IN_OPEN) != 0;
    close(in);
    unlink(path);
    rmdir(dir);
    return passes;
}

static void test_listed_until_exit(void)
{
    pid_t a = sleeper(), b = sleeper();
    char text[64];
    int opens;

    snprintf(text, sizeof text, "%d\n%d\n", (int)a, (int)b);
    CHECK(run(text, &opens) == 2);
    CHECK(opens == 2);
    CHECK(killed(a));
    CHECK(killed(b));
}

static void test_bounded(void)
{
    static char text[CG_KILL_REMEMBER * 2 * 16];
    size_t at = 0;
    int opens;

    for (long i = 0; i < 2 * CG_KILL_REMEMBER; i++)
        at += (size_t)snprintf(text + at, sizeof text - at, "%ld\n", NO_SUCH_PID + i);
    CHECK(run(text, &opens) == CG_KILL_PASSES);
    CHECK(opens == CG_KILL_PASSES);
}

static void test_empty(void)
{
    int opens;

    CHECK(run("", &opens) == 1);
    CHECK(opens == 1);
}

int main(void)
{
    test_listed_until_exit();
    test_bounded();
    test_empty();
    return check_summary();
}
