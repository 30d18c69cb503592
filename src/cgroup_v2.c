/* cgroup_v2.c — the cgroup v2 backend.
 *
 * Where: under systemd with Delegate=yes (INVOCATION_ID set and our own
 * cgroup marked delegated) the unit's cgroup is the subtree; otherwise
 * /sys/fs/cgroup/<name>.  The "no internal processes" rule: a cgroup with
 * controllers enabled for its children may hold no processes, so in the
 * delegated case the daemon first moves itself into a "supervisor" leaf,
 * and the tasks live in a sibling, "tasks", which carries the ceilings (so
 * the daemon is never charged to, nor OOM-killed by, its tasks' sum).
 * Tasks are created directly inside their cgroup (clone3 CLONE_INTO_CGROUP,
 * using cg_task.dirfd), killed with cgroup.kill, and read through
 * memory.events, pids.events, memory.peak and cpu.stat.
 *
 * Runs in: the warden (see cgroup.h for which thread calls what). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cgkill.h"
#include "cgroup_backend.h"
#include "log.h"

#define CG2_ROOT "/sys/fs/cgroup"

static void task_dir(const struct cg_ctx *cg, const struct cg_task *t, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", cg->base, t->id);
}

/* Our own cgroup, from the "0::/path" line of /proc/self/cgroup. */
static int own_cgroup(char *buf, size_t len)
{
    char line[PATH_MAX + 8];
    FILE *f = fopen("/proc/self/cgroup", "re");
    int rc = -1;

    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "0::", 3) == 0) {
            line[strcspn(line, "\n")] = 0;
            snprintf(buf, len, "%s%s", CG2_ROOT, line + 3);
            rc = 0;
        }
    fclose(f);
    return rc;
}

/* systemd marks a Delegate=yes unit's cgroup with the xattr trusted.delegate
 * (user.delegate for user units); write access alone proves nothing for root. */
static bool marked_delegated(const char *dir)
{
    char v[8] = "";

    if (getxattr(dir, "trusted.delegate", v, sizeof v - 1) <= 0 &&
        getxattr(dir, "user.delegate", v, sizeof v - 1) <= 0)
        return false;
    return v[0] == '1';
}

static void enable_controllers(const char *dir)
{
    static const char *const ctl[] = {"+memory", "+pids", "+cpu"};

    for (unsigned i = 0; i < JC_ARRAY_LEN(ctl); i++) {
        struct jc_err e;
        if (cg_write(dir, "cgroup.subtree_control", ctl[i], &e) < 0)
            log_warnx("%s", e.msg);
    }
}

/* Delegated: started by systemd and the unit's cgroup is ours to manage. */
static int try_delegated(struct cg_ctx *cg, struct jc_err *err)
{
    char own[PATH_MAX], leaf[PATH_MAX + 16], pid[16];

    if (!getenv("INVOCATION_ID") || own_cgroup(own, sizeof own) < 0 ||
        strcmp(own, CG2_ROOT) == 0 || !marked_delegated(own))
        return 0;
    snprintf(leaf, sizeof leaf, "%s/supervisor", own);
    if (mkdir(leaf, 0755) < 0 && errno != EEXIST)
        return jc_fail(err, errno, "cgroup v2: mkdir %s", leaf);
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    /* No internal processes: leave the subtree's root before enabling
     * controllers for its children. */
    if (cg_write(leaf, "cgroup.procs", pid, err) < 0)
        return -1;
    snprintf(cg->base, sizeof cg->base, "%s/tasks", own);
    cg->delegated = true;
    /* Leftovers: a previous run's tasks, then anything else beside us. */
    cg_sweep(cg->base, NULL);
    cg_sweep(own, "supervisor");
    enable_controllers(own);
    return 1;
}

static void read_controllers(struct cg_ctx *cg)
{
    char path[PATH_MAX], buf[512] = "";
    FILE *f;

    snprintf(path, sizeof path, "%s/cgroup.subtree_control", cg->base);
    if (!(f = fopen(path, "re")))
        return;
    if (!fgets(buf, sizeof buf, f))
        buf[0] = 0;
    fclose(f);
    for (char *tok = strtok(buf, " \n"); tok; tok = strtok(NULL, " \n"))
        cg->controllers |= strcmp(tok, "memory") == 0 ? CG_MEMORY
                           : strcmp(tok, "pids") == 0 ? CG_PIDS
                           : strcmp(tok, "cpu") == 0  ? CG_CPU | CG_CPUACCT
                                                      : 0;
}

int cg_v2_init(struct cg_ctx *cg, const char *name, struct jc_err *err)
{
    int d = try_delegated(cg, err);

    if (d < 0)
        return -1;
    if (!d) {
        snprintf(cg->base, sizeof cg->base, "%s/%s", CG2_ROOT, name);
        enable_controllers(CG2_ROOT);
    }
    if (mkdir(cg->base, 0755) < 0 && errno != EEXIST)
        return jc_fail(err, errno, "cgroup v2: mkdir %s", cg->base);
    cg_sweep(cg->base, NULL);
    enable_controllers(cg->base);
    read_controllers(cg);
    cg->controllers |= CG_CPUACCT; /* cpu.stat usage_usec is always there */
    char swap[PATH_MAX + 32];
    snprintf(swap, sizeof swap, "%s/memory.swap.max", cg->base);
    cg->memsw = access(swap, F_OK) == 0; /* swap is limited (memory.swap.max = 0) */
    return 0;
}

void cg_v2_fini(const struct cg_ctx *cg)
{
    if (rmdir(cg->base) < 0 && errno != ENOENT)
        log_warn("cgroup v2: rmdir %s", cg->base);
}

/* On the tasks' parent, which holds no process of ours. */
int cg_v2_ceiling(const struct cg_ctx *cg, struct jc_err *err)
{
    char v[32];

    if (cg->controllers & CG_MEMORY) {
        snprintf(v, sizeof v, "%llu", (unsigned long long)cg->ceiling_memory);
        if (cg_write(cg->base, "memory.max", v, err) < 0)
            return -1;
        if (cg->memsw && cg_write(cg->base, "memory.swap.max", "0", err) < 0)
            return -1;
    }
    snprintf(v, sizeof v, "%u", cg->ceiling_pids);
    if ((cg->controllers & CG_PIDS) && cg_write(cg->base, "pids.max", v, err) < 0)
        return -1;
    return 0;
}

void cg_v2_ceiling_usage(const struct cg_ctx *cg, struct cg_ceiling_use *u)
{
    (void)cg_read_u64(cg->base, "memory.current", &u->memory_bytes);
    (void)cg_read_u64(cg->base, "pids.current", &u->pids);
}

static int set_limits(const struct cg_ctx *cg, const char *dir, const struct jc_limits *lim,
                      struct jc_err *err)
{
    char v[48];

    if (cg->controllers & CG_MEMORY) {
        snprintf(v, sizeof v, "%llu", (unsigned long long)lim->memory_mb << 20);
        if (cg_write(dir, "memory.max", v, err) < 0)
            return -1;
        (void)cg_write(dir, "memory.swap.max", "0", NULL); /* absent without swap support */
        (void)cg_write(dir, "memory.oom.group", "1", NULL);
    }
    if (cg->controllers & CG_PIDS) {
        snprintf(v, sizeof v, "%u", lim->pids);
        if (cg_write(dir, "pids.max", v, err) < 0)
            return -1;
    }
    return 0; /* cpu: cg_v2_limit_cpu(), once the sandbox is built */
}

int cg_v2_limit_cpu(const struct cg_ctx *cg, const struct cg_task *t, const struct jc_limits *lim,
                    struct jc_err *err)
{
    char dir[PATH_MAX], v[48];

    task_dir(cg, t, dir, sizeof dir);
    snprintf(v, sizeof v, "%lld 100000", (long long)(lim->cpus * 100000.0 + 0.5));
    return cg_write(dir, "cpu.max", v, err);
}

int cg_v2_create(const struct cg_ctx *cg, const struct jc_limits *lim, struct cg_task *t,
                 struct jc_err *err)
{
    char dir[PATH_MAX];
    struct jc_err ignored;

    task_dir(cg, t, dir, sizeof dir);
    if (mkdir(dir, 0755) < 0)
        return jc_fail(err, errno, "cgroup v2: mkdir %s", dir);
    if (set_limits(cg, dir, lim, err) < 0)
        goto fail;
    t->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (t->dirfd < 0) {
        jc_fail(err, errno, "cgroup v2: open %s", dir);
        goto fail;
    }
    return 0;
fail:
    cg_rmdir_retry(dir, &ignored);
    return -1;
}

/* No rename on the unified hierarchy: the task's own cgroup, the cell's
 * one process moved into it; the cell's, empty, goes to *left for the
 * caller to have removed.  (The cell's set-up stays charged to it until
 * freed.) */
int cg_v2_adopt(const struct cg_ctx *cg, struct cg_task *t, const char *id, pid_t pid,
                const struct jc_limits *lim, struct cg_task *left, struct jc_err *err)
{
    struct cg_task nt = {.dirfd = -1};
    char dir[PATH_MAX], v[16];
    struct jc_err ignored;

    snprintf(nt.id, sizeof nt.id, "%s", id);
    if (cg_v2_create(cg, lim, &nt, err) < 0)
        return -1;
    close(JC_STEAL_FD(nt.dirfd));
    task_dir(cg, &nt, dir, sizeof dir);
    snprintf(v, sizeof v, "%d", (int)pid);
    if (cg_write(dir, "cgroup.procs", v, err) < 0) {
        cg_rmdir_retry(dir, &ignored);
        return -1;
    }
    cg_task_close(t);
    *left = *t; /* empty now: the caller has it removed (cgroup.h) */
    *t = nt;
    return 0;
}

void cg_v2_kill(const struct cg_ctx *cg, const struct cg_task *t)
{
    char dir[PATH_MAX];

    task_dir(cg, t, dir, sizeof dir);
    if (cg_write(dir, "cgroup.kill", "1", NULL) < 0) /* before Linux 5.14 */
        cg_kill_procs(dir);
}

void cg_v2_usage(const struct cg_ctx *cg, const struct cg_task *t, struct jc_usage *u,
                 struct cg_events *ev)
{
    char dir[PATH_MAX];

    task_dir(cg, t, dir, sizeof dir);
    (void)cg_read_u64(dir, "memory.peak", &u->memory_peak_bytes);
    (void)cg_read_key(dir, "memory.events", "oom_kill", &ev->oom_kills);
    (void)cg_read_key(dir, "pids.events", "max", &ev->pids_max);
    (void)cg_read_key(dir, "cpu.stat", "usage_usec", &u->cpu_usec);
}

int cg_v2_destroy(const struct cg_ctx *cg, struct cg_task *t, struct jc_err *err)
{
    char dir[PATH_MAX];

    task_dir(cg, t, dir, sizeof dir);
    return cg_rmdir_retry(dir, err);
}

int cg_v2_remove(const struct cg_ctx *cg, const struct cg_task *t, struct jc_err *err)
{
    char dir[PATH_MAX];

    task_dir(cg, t, dir, sizeof dir);
    return cg_rmdir_once(dir, err);
}
