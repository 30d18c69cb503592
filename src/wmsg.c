/* wmsg.c — see wmsg.h.  Runs in: the warden's main thread; pure. */
#include "wmsg.h"

/* The front validated the spec; the warden trusts it only within the
 * operator's maxima (a front that sends more is compromised). */
static bool spec_within_limits(const struct jc_config *cfg, const struct jc_spec *s)
{
    const struct jc_limits *l = &s->limits, *m = &cfg->max;

    return l->memory_mb >= 4 && l->memory_mb <= m->memory_mb && l->pids >= 2 &&
           l->pids <= m->pids && l->cpus >= 0.01 && l->cpus <= m->cpus && l->timeout_s >= 1 &&
           l->timeout_s <= m->timeout_s && l->output_kb >= 1 && l->output_kb <= m->output_kb &&
           l->tmpfs_mb >= 1 && l->tmpfs_mb <= m->tmpfs_mb && s->argc >= 1 &&
           s->strings[0] == '/';
}

enum wmsg_verdict wmsg_judge(const struct jc_config *cfg, const union ipc_msg *m,
                             struct jc_err *err)
{
    switch (m->h.type) {
    case IPC_SPAWN:
        if (!spec_within_limits(cfg, &m->spawn.spec)) {
            jc_fail(err, 0, "the front sent a spec outside the configured limits");
            return WMSG_FATAL;
        }
        return WMSG_SPAWN;
    case IPC_KILL:
        return WMSG_KILL;
    case IPC_SHUTDOWN:
        return WMSG_SHUTDOWN;
    default:
        jc_fail(err, 0, "unexpected message type %u from the front", m->h.type);
        return WMSG_FATAL;
    }
}
