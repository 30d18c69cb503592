/* cgroup_v1.c — the cgroup v1 backend: one directory per task in each of the
 * memory, pids, cpu and cpuacct hierarchies (hybrid hosts such as the
 * development machines).  The task's child joins them itself, as its first
 * act after the clone (cg_task_open_join(), cgroup.h): all it does from
 * then on, its exec of the stub included, is under its limits.
 * Runs in: the warden (see cgroup.h for which thread calls what). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgkill.h"
#include "cgroup_backend.h"
#include "log.h"

static const char *const v1_names[CG_V1_NCTL] = {"memory", "pids", "cpu", "cpuacct"};
static const unsigned v1_bits[CG_V1_NCTL] = {CG_MEMORY, CG_PIDS, CG_CPU, CG_CPUACCT};

static void task_dir(const struct cg_ctx *cg, int i, const struct cg_task *t, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", cg->v1_base[i], t->id);
}

/* Is `root` (controller i) a hierarchy already used by an earlier controller? */
static bool same_hierarchy(const struct cg_ctx *cg, int i, const char *root)
{
    char real[PATH_MAX], other[PATH_MAX], path[PATH_MAX];

    if (!realpath(root, real))
        return false;
    for (int j = 0; j < i; j++) {
        snprintf(path, sizeof path, "/sys/fs/cgroup/%s", v1_names[j]);
        if (cg->v1_base[j][0] && realpath(path, other) && strcmp(real, other) == 0)
            return true;
    }
    return false;
}

int cg_v1_init(struct cg_ctx *cg, const char *name, struct jc_err *err)
{
    char root[PATH_MAX];
    struct stat st;

    for (int i = 0; i < CG_V1_NCTL; i++) {
        snprintf(root, sizeof root, "/sys/fs/cgroup/%s", v1_names[i]);
        if (stat(root, &st) < 0 || !S_ISDIR(st.st_mode))
            continue;
        cg->controllers |= v1_bits[i];
        if (same_hierarchy(cg, i, root))
            continue; /* e.g. cpu,cpuacct mounted together: one directory */
        snprintf(cg->v1_base[i], sizeof cg->v1_base[i], "%s/%s", root, name);
        if (mkdir(cg->v1_base[i], 0755) < 0 && errno != EEXIST)
            return jc_fail(err, errno, "cgroup v1: mkdir %s", cg->v1_base[i]);
        cg_sweep(cg->v1_base[i], NULL);
    }
    if (!(cg->controllers & (CG_MEMORY | CG_PIDS)))
        return jc_fail(err, 0, "cgroup v1: neither the memory nor the pids controller is mounted under /sys/fs/cgroup");
    snprintf(root, sizeof root, "%s/memory.memsw.limit_in_bytes", cg->v1_base[0]);
    cg->memsw = (cg->controllers & CG_MEMORY) && access(root, F_OK) == 0;
    return 0;
}

void cg_v1_fini(const struct cg_ctx *cg)
{
    for (int i = 0; i < CG_V1_NCTL; i++)
        if (cg->v1_base[i][0] && rmdir(cg->v1_base[i]) < 0 && errno != ENOENT)
            log_warn("cgroup v1: rmdir %s", cg->v1_base[i]);
}

/* The ceiling on the tasks' parent.  Memory charged in a child counts in
 * its parent only with hierarchical accounting: always on since Linux 6.0,
 * a per-cgroup flag (set before any child exists) on older kernels. */
static int ceiling_memory(const struct cg_ctx *cg, const char *dir, struct jc_err *err)
{
    char v[32];
    uint64_t h = 1;

    if (cg_read_u64(dir, "memory.use_hierarchy", &h) == 0 && h != 1 &&
        cg_write(dir, "memory.use_hierarchy", "1", err) < 0)
        return jc_err_prefix(err, "cgroup v1: the memory ceiling needs memory.use_hierarchy 1: ");
    snprintf(v, sizeof v, "%llu", (unsigned long long)cg->ceiling_memory);
    /* memsw may never be below the memory limit: lower the limit first, and
     * when that fails (raising it), memsw first. */
    if (cg_write(dir, "memory.limit_in_bytes", v, err) == 0)
        return cg->memsw ? cg_write(dir, "memory.memsw.limit_in_bytes", v, err) : 0;
    if (!cg->memsw || cg_write(dir, "memory.memsw.limit_in_bytes", v, err) < 0)
        return -1;
    return cg_write(dir, "memory.limit_in_bytes", v, err);
}

int cg_v1_ceiling(const struct cg_ctx *cg, struct jc_err *err)
{
    char v[16];

    if (cg->v1_base[0][0] && ceiling_memory(cg, cg->v1_base[0], err) < 0)
        return -1;
    /* Every task's memory cgroup copies its parent's swappiness when it is
     * made: written once here, not per task. */
    if (cg->v1_base[0][0])
        (void)cg_write(cg->v1_base[0], "memory.swappiness", "0", NULL); /* absent on some kernels */
    snprintf(v, sizeof v, "%u", cg->ceiling_pids);
    if (cg->v1_base[1][0] && cg_write(cg->v1_base[1], "pids.max", v, err) < 0)
        return -1;
    return 0;
}

void cg_v1_ceiling_usage(const struct cg_ctx *cg, struct cg_ceiling_use *u)
{
    if (cg->v1_base[0][0])
        (void)cg_read_u64(cg->v1_base[0], "memory.usage_in_bytes", &u->memory_bytes);
    if (cg->v1_base[1][0])
        (void)cg_read_u64(cg->v1_base[1], "pids.current", &u->pids);
}

static int set_memory(const struct cg_ctx *cg, const char *dir, const struct jc_limits *lim,
                      struct jc_err *err)
{
    char v[32];

    snprintf(v, sizeof v, "%llu", (unsigned long long)lim->memory_mb << 20);
    if (cg_write(dir, "memory.limit_in_bytes", v, err) < 0)
        return -1;
    /* memory+swap = memory: the task cannot swap. */
    if (cg->memsw && cg_write(dir, "memory.memsw.limit_in_bytes", v, err) < 0)
        return -1;
    return 0; /* memory.swappiness 0: inherited from the parent (cg_v1_ceiling) */
}

static int set_limits(const struct cg_ctx *cg, int i, const char *dir, const struct jc_limits *lim,
                      struct jc_err *err)
{
    char v[32];

    switch (v1_bits[i]) {
    case CG_MEMORY:
        return set_memory(cg, dir, lim, err);
    case CG_PIDS:
        snprintf(v, sizeof v, "%u", lim->pids);
        return cg_write(dir, "pids.max", v, err);
    default: /* cpu: cg_v1_limit_cpu(), once the sandbox is built */
        return 0;
    }
}

int cg_v1_create(const struct cg_ctx *cg, const struct jc_limits *lim, struct cg_task *t,
                 struct jc_err *err)
{
    char dir[PATH_MAX];
    struct jc_err ignored;

    for (int i = 0; i < CG_V1_NCTL; i++) {
        if (!cg->v1_base[i][0])
            continue;
        task_dir(cg, i, t, dir, sizeof dir);
        if (mkdir(dir, 0755) < 0) {
            jc_fail(err, errno, "cgroup v1: mkdir %s", dir);
            goto fail;
        }
        if (set_limits(cg, i, dir, lim, err) < 0)
            goto fail;
    }
    return 0;
fail:
    cg_v1_destroy(cg, t, &ignored);
    return -1;
}

int cg_v1_limit_cpu(const struct cg_ctx *cg, const struct cg_task *t, const struct jc_limits *lim,
                    struct jc_err *err)
{
    char dir[PATH_MAX], v[32];

    for (int i = 0; i < CG_V1_NCTL; i++) {
        if (v1_bits[i] != CG_CPU || !cg->v1_base[i][0])
            continue;
        task_dir(cg, i, t, dir, sizeof dir);
        /* A new cgroup's cpu.cfs_period_us is the kernel's fixed default,
         * 100000 (100 ms), whatever its parent's: only the quota is ours. */
        snprintf(v, sizeof v, "%lld", (long long)(lim->cpus * 100000.0 + 0.5));
        return cg_write(dir, "cpu.cfs_quota_us", v, err);
    }
    return 0;
}

/* Memory (and memory+swap, never below it) changed in a cgroup that has
 * them already: lower the limit first; when that fails (raising it),
 * memory+swap first. */
static int retune_memory(const struct cg_ctx *cg, const char *dir, uint32_t memory_mb, struct jc_err *err)
{
    char v[32];

    snprintf(v, sizeof v, "%llu", (unsigned long long)memory_mb << 20);
    if (cg_write(dir, "memory.limit_in_bytes", v, err) == 0)
        return cg->memsw ? cg_write(dir, "memory.memsw.limit_in_bytes", v, err) : 0;
    if (!cg->memsw || cg_write(dir, "memory.memsw.limit_in_bytes", v, err) < 0)
        return -1;
    return cg_write(dir, "memory.limit_in_bytes", v, err);
}

/* The limits of the request that differ from the cell's (cpu: later, by
 * cg_v1_limit_cpu(), as for any task). */
static int retune(const struct cg_ctx *cg, int i, const char *dir, const struct jc_limits *had,
                  const struct jc_limits *lim, struct jc_err *err)
{
    char v[16];

    if (v1_bits[i] == CG_MEMORY && lim->memory_mb != had->memory_mb)
        return retune_memory(cg, dir, lim->memory_mb, err);
    if (v1_bits[i] == CG_PIDS && lim->pids != had->pids) {
        snprintf(v, sizeof v, "%u", lim->pids);
        return cg_write(dir, "pids.max", v, err);
    }
    return 0;
}

/* rename(2) of each directory (v1 can), undone if one fails. */
static int rename_all(const struct cg_ctx *cg, const char *from, const char *to, struct jc_err *err)
{
    char a[PATH_MAX], b[PATH_MAX];

    for (int i = 0; i < CG_V1_NCTL; i++) {
        if (!cg->v1_base[i][0])
            continue;
        snprintf(a, sizeof a, "%s/%s", cg->v1_base[i], from);
        snprintf(b, sizeof b, "%s/%s", cg->v1_base[i], to);
        if (rename(a, b) == 0)
            continue;
        jc_fail(err, errno, "cgroup v1: rename %s to %s", a, to);
        while (--i >= 0)
            if (cg->v1_base[i][0]) {
                snprintf(a, sizeof a, "%s/%s", cg->v1_base[i], from);
                snprintf(b, sizeof b, "%s/%s", cg->v1_base[i], to);
                if (rename(b, a) < 0)
                    log_warn("cgroup v1: rename %s back", b);
            }
        return -1;
    }
    return 0;
}

int cg_v1_adopt(const struct cg_ctx *cg, struct cg_task *t, const char *id, const struct jc_limits *had,
                const struct jc_limits *lim, struct jc_err *err)
{
    char dir[PATH_MAX];

    if (rename_all(cg, t->id, id, err) < 0)
        return -1;
    snprintf(t->id, sizeof t->id, "%s", id);
    for (int i = 0; i < CG_V1_NCTL; i++) {
        if (!cg->v1_base[i][0])
            continue;
        task_dir(cg, i, t, dir, sizeof dir);
        if (retune(cg, i, dir, had, lim, err) < 0)
            return -1;
    }
    return 0;
}

int cg_v1_open_join(const struct cg_ctx *cg, const struct cg_task *t, int fds[CG_V1_NCTL], struct jc_err *err)
{
    char dir[PATH_MAX], path[PATH_MAX + 8];
    int n = 0;

    for (int i = 0; i < CG_V1_NCTL; i++) {
        if (!cg->v1_base[i][0])
            continue;
        task_dir(cg, i, t, dir, sizeof dir);
        snprintf(path, sizeof path, "%s/tasks", dir);
        fds[n] = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fds[n] < 0) {
            jc_fail(err, errno, "cgroup v1: open %s", path);
            while (n > 0)
                close(fds[--n]);
            return -1;
        }
        n++;
    }
    return n;
}

void cg_v1_kill(const struct cg_ctx *cg, const struct cg_task *t)
{
    char dir[PATH_MAX];

    for (int i = 0; i < CG_V1_NCTL; i++) {
        if (!cg->v1_base[i][0])
            continue;
        task_dir(cg, i, t, dir, sizeof dir);
        cg_kill_procs(dir);
        return; /* every process is in every hierarchy: one list is enough */
    }
}

void cg_v1_usage(const struct cg_ctx *cg, const struct cg_task *t, struct jc_usage *u,
                 struct cg_events *ev)
{
    char dir[PATH_MAX];
    uint64_t ns = 0;

    task_dir(cg, 0, t, dir, sizeof dir);
    (void)cg_read_u64(dir, "memory.max_usage_in_bytes", &u->memory_peak_bytes);
    (void)cg_read_key(dir, "memory.oom_control", "oom_kill", &ev->oom_kills);
    task_dir(cg, 1, t, dir, sizeof dir);
    (void)cg_read_key(dir, "pids.events", "max", &ev->pids_max);
    /* cpuacct shares the cpu hierarchy's directory when they are co-mounted. */
    task_dir(cg, cg->v1_base[3][0] ? 3 : 2, t, dir, sizeof dir);
    if (cg_read_u64(dir, "cpuacct.usage", &ns) == 0)
        u->cpu_usec = ns / 1000;
}

int cg_v1_destroy(const struct cg_ctx *cg, struct cg_task *t, struct jc_err *err)
{
    char dir[PATH_MAX];
    int rc = 0;

    for (int i = 0; i < CG_V1_NCTL; i++) {
        if (!cg->v1_base[i][0])
            continue;
        task_dir(cg, i, t, dir, sizeof dir);
        if (cg_rmdir_retry(dir, err) < 0)
            rc = -1;
    }
    return rc;
}

/* Each directory still there, once; the first failure is the one told. */
int cg_v1_remove(const struct cg_ctx *cg, const struct cg_task *t, struct jc_err *err)
{
    char dir[PATH_MAX];
    struct jc_err later;
    int rc = 0;

    for (int i = 0; i < CG_V1_NCTL; i++) {
        if (!cg->v1_base[i][0])
            continue;
        task_dir(cg, i, t, dir, sizeof dir);
        if (cg_rmdir_once(dir, rc < 0 ? &later : err) < 0)
            rc = -1;
    }
    return rc;
}

/* Every hierarchy's list: what was moved into one controller's cgroup
 * only is in no other's. */
void cg_v1_kill_listed(const struct cg_ctx *cg, const struct cg_task *t)
{
    char dir[PATH_MAX];

    for (int i = 0; i < CG_V1_NCTL; i++) {
        if (!cg->v1_base[i][0])
            continue;
        task_dir(cg, i, t, dir, sizeof dir);
        cg_kill_procs(dir);
    }
}
