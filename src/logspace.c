/* logspace.c — see logspace.h.  Runs in: main(), then the warden's monitor
 * thread and the front's HTTP threads, on one shared page (atomics only). */
#include "logspace.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* A submission needs this much above the floor: its record and its first
 * output must fit. */
#define ADMIT_MARGIN ((uint64_t)1 << 20)

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "the shared count needs lock-free 64-bit atomics");

struct logspace {
    int dirfd;             /* state_dir/logs (the same number in both processes) */
    uint64_t quota, floor; /* bytes */
    _Atomic long long used;
};

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* The sum of the sizes of the logs present (at start-up). */
static int count_logs(int dirfd, long long *out, struct jc_err *err)
{
    int fd = dup(dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *de;
    struct stat st;

    if (!d) {
        if (fd >= 0)
            close(fd);
        return jc_fail(err, errno, "reading the task logs directory");
    }
    *out = 0;
    while ((de = readdir(d)))
        if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
            *out += st.st_size;
    closedir(d);
    return 0;
}

/* Defaults: the quota is a fifth of the filesystem's size; the floor 5% of
 * it, at most 256 MiB. */
static void resolve(struct logspace *ls, const struct jc_config *cfg, const struct statvfs *sv)
{
    uint64_t size = (uint64_t)sv->f_blocks * sv->f_frsize;

    ls->quota = cfg->log_quota_mb ? (uint64_t)cfg->log_quota_mb << 20 : size / 5;
    ls->floor = cfg->min_free_mb ? (uint64_t)cfg->min_free_mb << 20
                                 : min_u64(size / 20, (uint64_t)256 << 20);
}

int logspace_open(struct logspace **out, const struct jc_config *cfg, int logs_dirfd,
                  struct jc_err *err)
{
    struct logspace *ls;
    struct statvfs sv;
    long long used;

    if (fstatvfs(logs_dirfd, &sv) < 0)
        return jc_fail(err, errno, "statvfs %s/logs", cfg->state_dir);
    if (count_logs(logs_dirfd, &used, err) < 0)
        return -1;
    ls = mmap(NULL, sizeof *ls, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (ls == MAP_FAILED)
        return jc_fail(err, errno, "mmap (the log space count)");
    ls->dirfd = logs_dirfd;
    resolve(ls, cfg, &sv);
    atomic_init(&ls->used, used);
    *out = ls;
    return 0;
}

/* Free space for an unprivileged writer; 0 when it cannot be known. */
static uint64_t avail_bytes(const struct logspace *ls)
{
    struct statvfs sv;

    if (fstatvfs(ls->dirfd, &sv) < 0)
        return 0;
    return (uint64_t)sv.f_bavail * sv.f_frsize;
}

static uint64_t used_bytes(struct logspace *ls)
{
    long long u = atomic_load(&ls->used);

    return u > 0 ? (uint64_t)u : 0;
}

size_t logspace_room(struct logspace *ls, size_t want)
{
    uint64_t used = used_bytes(ls), avail = avail_bytes(ls);
    uint64_t quota_left = used < ls->quota ? ls->quota - used : 0;
    uint64_t above_floor = avail > ls->floor ? avail - ls->floor : 0;

    return (size_t)min_u64(want, min_u64(quota_left, above_floor));
}

void logspace_add(struct logspace *ls, size_t n) { atomic_fetch_add(&ls->used, (long long)n); }

int logspace_admit(struct logspace *ls, struct jc_err *err)
{
    uint64_t used = used_bytes(ls), avail = avail_bytes(ls);

    if (used >= ls->quota)
        return jc_client(err, 507, "Task logs fill their quota (log_quota_mb, %llu MiB); retry when finished tasks are pruned",
                         (unsigned long long)(ls->quota >> 20));
    if (avail < ls->floor + ADMIT_MARGIN)
        return jc_client(err, 507, "The state directory is at its free-space floor (min_free_mb, %llu MiB; %llu MiB free); retry later",
                         (unsigned long long)(ls->floor >> 20), (unsigned long long)(avail >> 20));
    return 0;
}

void logspace_forget(struct logspace *ls, const char *name)
{
    struct stat st;

    if (fstatat(ls->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
        atomic_fetch_sub(&ls->used, (long long)st.st_size);
}

void logspace_get(struct logspace *ls, struct logspace_stat *st)
{
    *st = (struct logspace_stat){.used_bytes = used_bytes(ls), .quota_bytes = ls->quota,
                                 .avail_bytes = avail_bytes(ls), .floor_bytes = ls->floor};
}
