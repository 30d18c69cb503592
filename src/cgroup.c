/* cgroup.c — mode detection, file helpers and the parts common to both
 * backends (see cgroup.h).  Runs in: the warden. */
#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>
#include <time.h>
#include <signal.h>
#include <unistd.h>

#include "cgkill.h"
#include "cgroup_backend.h"
#include "config.h"
#include "log.h"

int cg_write(const char *dir, const char *file, const char *val, struct jc_err *err)
{
    char path[PATH_MAX];
    _cleanup_close_ int fd = -1;
    size_t len = strlen(val);
    ssize_t n;

    snprintf(path, sizeof path, "%s/%s", dir, file);
    fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return jc_fail(err, errno, "cgroup: open %s", path);
    n = write(fd, val, len);
    if (n < 0)
        return jc_fail(err, errno, "cgroup: write \"%s\" to %s", val, path);
    if ((size_t)n != len)
        return jc_fail(err, 0, "cgroup: short write to %s", path);
    return 0;
}

static ssize_t read_small(const char *dir, const char *file, char *buf, size_t cap)
{
    char path[PATH_MAX];
    _cleanup_close_ int fd = -1;
    ssize_t n;

    snprintf(path, sizeof path, "%s/%s", dir, file);
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    n = read(fd, buf, cap - 1);
    if (n < 0)
        return -1;
    buf[n] = 0;
    return n;
}

int cg_read_u64(const char *dir, const char *file, uint64_t *out)
{
    char buf[64];

    if (read_small(dir, file, buf, sizeof buf) < 0)
        return -1;
    *out = strtoull(buf, NULL, 10);
    return 0;
}

int cg_read_key(const char *dir, const char *file, const char *key, uint64_t *out)
{
    char buf[4096];
    size_t klen = strlen(key);

    if (read_small(dir, file, buf, sizeof buf) < 0)
        return -1;
    for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
            *out = strtoull(line + klen + 1, NULL, 10);
            return 0;
        }
    }
    return -1;
}

static int is_cgroup2(const char *path)
{
    struct statfs sf;

    return statfs(path, &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC;
}

int cg_init(struct cg_ctx *cg, const struct jc_config *cfg, struct jc_err *err)
{
    *cg = (struct cg_ctx){0};
    cg->ceiling_memory = (uint64_t)cfg->ceiling_memory_mb << 20;
    cg->ceiling_pids = cfg->ceiling_pids;
    cg->mode = is_cgroup2("/sys/fs/cgroup") ? CG_V2 : CG_V1;
    if (cg->mode == CG_V2)
        return cg_v2_init(cg, cfg->cgroup_name, err) < 0 ? -1 : cg_v2_ceiling(cg, err);
    return cg_v1_init(cg, cfg->cgroup_name, err) < 0 ? -1 : cg_v1_ceiling(cg, err);
}

void cg_ceiling_usage(const struct cg_ctx *cg, struct cg_ceiling_use *u)
{
    *u = (struct cg_ceiling_use){0};
    if (cg->mode == CG_V2)
        cg_v2_ceiling_usage(cg, u);
    else
        cg_v1_ceiling_usage(cg, u);
}

void cg_fini(const struct cg_ctx *cg)
{
    if (cg->mode == CG_V2)
        cg_v2_fini(cg);
    else
        cg_v1_fini(cg);
}

int cg_task_create(const struct cg_ctx *cg, const char *id, const struct jc_limits *lim,
                   struct cg_task *t, struct jc_err *err)
{
    *t = (struct cg_task){.dirfd = -1};
    snprintf(t->id, sizeof t->id, "%s", id);
    return cg->mode == CG_V2 ? cg_v2_create(cg, lim, t, err) : cg_v1_create(cg, lim, t, err);
}

int cg_task_limit_cpu(const struct cg_ctx *cg, const struct cg_task *t, const struct jc_limits *lim,
                      struct jc_err *err)
{
    if (!(cg->controllers & CG_CPU))
        return 0;
    return cg->mode == CG_V2 ? cg_v2_limit_cpu(cg, t, lim, err) : cg_v1_limit_cpu(cg, t, lim, err);
}

int cg_task_adopt(const struct cg_ctx *cg, struct cg_task *t, const char *id, pid_t pid,
                  const struct jc_limits *had, const struct jc_limits *lim, struct cg_task *left,
                  struct jc_err *err)
{
    *left = (struct cg_task){.dirfd = -1};
    if (cg->mode == CG_V2)
        return cg_v2_adopt(cg, t, id, pid, lim, left, err) < 0 ? -1 : 0;
    return cg_v1_adopt(cg, t, id, had, lim, err) < 0 ? -1 : 1;
}

int cg_task_open_join(const struct cg_ctx *cg, const struct cg_task *t, int fds[CG_V1_NCTL],
                      struct jc_err *err)
{
    return cg->mode == CG_V2 ? 0 : cg_v1_open_join(cg, t, fds, err);
}

void cg_task_kill(const struct cg_ctx *cg, const struct cg_task *t)
{
    if (cg->mode == CG_V2)
        cg_v2_kill(cg, t);
    else
        cg_v1_kill(cg, t);
}

void cg_task_usage(const struct cg_ctx *cg, const struct cg_task *t, struct jc_usage *u,
                   struct cg_events *ev)
{
    *ev = (struct cg_events){0};
    if (cg->mode == CG_V2)
        cg_v2_usage(cg, t, u, ev);
    else
        cg_v1_usage(cg, t, u, ev);
    u->oom_kills = ev->oom_kills;
}

int cg_rmdir_once(const char *path, struct jc_err *err)
{
    if (rmdir(path) == 0 || errno == ENOENT)
        return 0;
    return jc_fail(err, errno, "cgroup: rmdir %s", path);
}

/* rmdir fails with EBUSY for a moment after the last task exits while the
 * kernel releases it; retry for up to ~200 ms. */
int cg_rmdir_retry(const char *path, struct jc_err *err)
{
    struct timespec ts = {.tv_nsec = 2 * 1000 * 1000};

    for (int i = 0; i < 100; i++) {
        if (cg_rmdir_once(path, err) == 0)
            return 0;
        if (err->errnum != EBUSY)
            break;
        nanosleep(&ts, NULL);
    }
    return -1;
}

void cg_task_close(struct cg_task *t)
{
    if (t->dirfd >= 0)
        close(JC_STEAL_FD(t->dirfd));
}

int cg_task_destroy(const struct cg_ctx *cg, struct cg_task *t, struct jc_err *err)
{
    cg_task_close(t);
    return cg->mode == CG_V2 ? cg_v2_destroy(cg, t, err) : cg_v1_destroy(cg, t, err);
}

int cg_task_remove(const struct cg_ctx *cg, const struct cg_task *t, struct jc_err *err)
{
    return cg->mode == CG_V2 ? cg_v2_remove(cg, t, err) : cg_v1_remove(cg, t, err);
}

void cg_task_kill_listed(const struct cg_ctx *cg, const struct cg_task *t)
{
    if (cg->mode == CG_V2)
        cg_v2_kill(cg, t); /* cgroup.kill: whatever is in it */
    else
        cg_v1_kill_listed(cg, t);
}

const char *cg_mode_name(const struct cg_ctx *cg) { return cg->mode == CG_V2 ? "v2" : "v1"; }

void cg_controllers_str(const struct cg_ctx *cg, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%s", cg->controllers & CG_MEMORY ? "memory " : "",
             cg->controllers & CG_PIDS ? "pids " : "", cg->controllers & CG_CPU ? "cpu" : "");
    size_t n = strlen(buf);
    if (n && buf[n - 1] == ' ')
        buf[n - 1] = 0;
}

void cg_sweep(const char *dir, const char *skip)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[PATH_MAX];
    struct jc_err err;

    if (!d)
        return;
    while ((de = readdir(d))) {
        if (de->d_type != DT_DIR || de->d_name[0] == '.' || (skip && strcmp(de->d_name, skip) == 0))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        log_warnx("removing leftover cgroup %s (a previous run's task)", path);
        cg_kill_procs(path);
        if (cg_rmdir_retry(path, &err) < 0)
            log_warnx("%s", err.msg);
    }
    closedir(d);
}
