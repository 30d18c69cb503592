/* wmsg.c — see wmsg.h.  Runs in: the warden's main thread; pure. */
#include "wmsg.h"

/* The front validated the spec; the warden trusts it only within the
 * operator's maxima (a front that sends more is compromised). */
static bool spec_within_limits(const struct jc_limits *max, const struct jc_spec *s)
{
    return !jc_limits_outside(&s->limits, max) && s->argc >= 1 && s->strings[0] == '/';
}

enum wmsg_verdict wmsg_judge(const struct jc_limits *max, const union ipc_msg *m,
                             struct jc_err *err)
{
    switch (m->h.type) {
    case IPC_SPAWN:
        if (!spec_within_limits(max, &m->spawn.spec)) {
            jc_fail(err, 0, "the front sent a spec outside the configured limits");
            return WMSG_FATAL;
        }
        return WMSG_SPAWN;
    case IPC_KILL:
        return WMSG_KILL;
    case IPC_SHUTDOWN:
        return WMSG_SHUTDOWN;
    case IPC_READY:
        return WMSG_READY;
    case IPC_CONFIG_ACK:
        return WMSG_CONFIG_ACK;
    default:
        jc_fail(err, 0, "unexpected message type %u from the front", m->h.type);
        return WMSG_FATAL;
    }
}
