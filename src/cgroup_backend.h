/* cgroup_backend.h — internal: the two backends behind cgroup.h.
 * Runs in: the warden. */
#pragma once

#include "cgroup.h"

int cg_v1_init(struct cg_ctx *cg, const char *name, struct jc_err *err);
int cg_v1_ceiling(const struct cg_ctx *cg, struct jc_err *err);
void cg_v1_ceiling_usage(const struct cg_ctx *cg, struct cg_ceiling_use *u);
void cg_v1_fini(const struct cg_ctx *cg);
int cg_v1_create(const struct cg_ctx *cg, const struct jc_limits *lim, struct cg_task *t,
                 struct jc_err *err);
int cg_v1_limit_cpu(const struct cg_ctx *cg, const struct cg_task *t, const struct jc_limits *lim,
                    struct jc_err *err);
int cg_v1_adopt(const struct cg_ctx *cg, struct cg_task *t, const char *id, const struct jc_limits *had,
                const struct jc_limits *lim, struct jc_err *err);
int cg_v1_open_join(const struct cg_ctx *cg, const struct cg_task *t, int fds[CG_V1_NCTL], struct jc_err *err);
void cg_v1_kill(const struct cg_ctx *cg, const struct cg_task *t);
void cg_v1_usage(const struct cg_ctx *cg, const struct cg_task *t, struct jc_usage *u,
                 struct cg_events *ev);
int cg_v1_destroy(const struct cg_ctx *cg, struct cg_task *t, struct jc_err *err);
int cg_v1_remove(const struct cg_ctx *cg, const struct cg_task *t, struct jc_err *err);
void cg_v1_kill_listed(const struct cg_ctx *cg, const struct cg_task *t);

int cg_v2_init(struct cg_ctx *cg, const char *name, struct jc_err *err);
int cg_v2_ceiling(const struct cg_ctx *cg, struct jc_err *err);
void cg_v2_ceiling_usage(const struct cg_ctx *cg, struct cg_ceiling_use *u);
void cg_v2_fini(const struct cg_ctx *cg);
int cg_v2_create(const struct cg_ctx *cg, const struct jc_limits *lim, struct cg_task *t,
                 struct jc_err *err);
int cg_v2_limit_cpu(const struct cg_ctx *cg, const struct cg_task *t, const struct jc_limits *lim,
                    struct jc_err *err);
int cg_v2_adopt(const struct cg_ctx *cg, struct cg_task *t, const char *id, pid_t pid,
                const struct jc_limits *lim, struct cg_task *left, struct jc_err *err);
void cg_v2_kill(const struct cg_ctx *cg, const struct cg_task *t);
void cg_v2_usage(const struct cg_ctx *cg, const struct cg_task *t, struct jc_usage *u,
                 struct cg_events *ev);
int cg_v2_destroy(const struct cg_ctx *cg, struct cg_task *t, struct jc_err *err);
int cg_v2_remove(const struct cg_ctx *cg, const struct cg_task *t, struct jc_err *err);

int cg_rmdir_retry(const char *path, struct jc_err *err);
/* One rmdir: 0 if the directory is gone (or was), -1 with err otherwise. */
int cg_rmdir_once(const char *path, struct jc_err *err);
/* Kill and remove every task cgroup left under dir (a previous run's). */
void cg_sweep(const char *dir, const char *skip);
