/* stub.c — jobcell-spawn, the program the task's child execs first.
 *
 *     jobcell-spawn BLOCK      (run by jobcelld's warden only)
 *
 * The warden clones the task's child with CLONE_VM|CLONE_VFORK, so the
 * child is never a copy of the warden's memory (no page tables copied, no
 * copy-on-write faults in the warden's threads after each spawn, nothing
 * torn down at the exec of init); once it has joined its cgroups (v1), it
 * execveat()s this static program (sandbox.c spawn_child()).  Here, in memory of its own, it
 * maps the host's part of its plan, reads its spawn's part, checks both,
 * and runs the checklist (child.c) up to the execve of jobcell-init.
 *
 * BLOCK is the first descriptor of the warden's reserved block (plan.h):
 * the plan is at BLOCK + SB_BLK_HOST and BLOCK + SB_BLK_PLAN, the error
 * pipe at BLOCK + SB_BLK_ERR.  A plan that does not check out is reported
 * as {SB_STEP_PLAN, errno} there, like any failed step.
 *
 * Runs in: the task's child, from its exec to jobcell-init's (static,
 * musl; installed in libexecdir, outside the task's rootfs). */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plan.h"

/* This spawn's part, as read (the request's part only the used bytes). */
static struct sb_spawn g_spawn;

/* BLOCK: a decimal descriptor number, 3 to 9999. */
static int parse_block(const char *s)
{
    int v = 0;

    for (int i = 0; s[i]; i++) {
        if (s[i] < '0' || s[i] > '9' || i >= 4)
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return s[0] && v >= 3 ? v : -1;
}

/* The host's part: a sealed memfd of exactly its size, mapped read-only. */
static const struct sb_host *map_host(int fd)
{
    struct stat st;
    const struct sb_host *h;

    if (fstat(fd, &st) < 0)
        return NULL;
    errno = EPROTO;
    if (!S_ISREG(st.st_mode) || st.st_size != (off_t)sizeof *h)
        return NULL;
    h = mmap(NULL, sizeof *h, PROT_READ, MAP_PRIVATE, fd, 0);
    if (h == MAP_FAILED)
        return NULL;
    errno = EPROTO;
    if (h->magic != SB_HOST_MAGIC || h->size != sizeof *h || h->n_user_limits_all > SB_USER_LIMITS ||
        h->n_proc_paths_all > SB_PROC_PATHS || h->n_user_limits_early > h->n_user_limits_all ||
        h->n_proc_paths_early > h->n_proc_paths_all)
        return NULL;
    return h;
}

/* The spawn's part, whole (its size is the file's) and within bounds; a
 * spawn on demand's request part checked as a hand-over is. */
static int read_spawn(struct sb_prep *p, int fd)
{
    const size_t head = offsetof(struct sb_spawn, req);
    struct stat st;
    ssize_t n;

    if (fstat(fd, &st) < 0)
        return -1;
    errno = EPROTO;
    if (st.st_size < (off_t)head || st.st_size > (off_t)sizeof g_spawn)
        return -1;
    n = pread(fd, &g_spawn, (size_t)st.st_size, 0);
    if (n < 0)
        return -1;
    errno = EPROTO;
    if (n != st.st_size || g_spawn.magic != SB_SPAWN_MAGIC || g_spawn.size != (uint32_t)n ||
        g_spawn.layout != sizeof g_spawn ||
        g_spawn.nkeep > SB_KEEP_FDS || g_spawn.n_user_limits > p->h->n_user_limits_all ||
        g_spawn.n_proc_paths > p->h->n_proc_paths_all ||
        memchr(g_spawn.tmp_opts, 0, sizeof g_spawn.tmp_opts) == NULL)
        return -1;
    p->s = &g_spawn;
    if (g_spawn.cell_sock >= 0) /* a cell: the request comes at its hand-over */
        return (size_t)n == head ? 0 : -1;
    if (sb_request_take(p, &g_spawn.req, (size_t)n - head) < 0)
        return -1;
    p->stdin_fd = g_spawn.req.has_stdin ? g_spawn.stdin_fd : g_spawn.null_fd;
    p->files_fd = g_spawn.req.nfiles ? g_spawn.files_fd : -1;
    return 0;
}

int main(int argc, char **argv)
{
    static struct sb_prep p;
    int block = argc == 2 ? parse_block(argv[1]) : -1;

    if (block < 0) {
        static const char usage[] = "jobcell-spawn: run by jobcelld only\n";
        (void)!write(2, usage, sizeof usage - 1);
        return 2;
    }
    /* Exec'd by descriptor, the kernel named us after its number: say
     * what we are in ps and /proc/PID/comm while the cell waits. */
    (void)prctl(PR_SET_NAME, SB_STUB_NAME, 0, 0, 0);
    errno = 0;
    p.h = map_host(block + SB_BLK_HOST);
    if (!p.h || read_spawn(&p, block + SB_BLK_PLAN) < 0)
        sb_fail(block + SB_BLK_ERR, SB_STEP_PLAN);
    /* Both plan descriptors are closed with the warden's others, first
     * step of the checklist (the host's mapping stays). */
    if (p.s->cell_sock >= 0)
        sb_cell_main(&p);
    sb_child_main(&p);
}
