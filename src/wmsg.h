/* wmsg.h — what the warden makes of a message from the front, decided
 * without touching anything: a pure function, so that a fuzz target can
 * drive it (tests/fuzz/fuzz_warden.c) without root.  ipc_recv() has already
 * checked the framing (size, magic, id, strings); here the warden checks
 * what it trusts the front with: a spec within the operator's maxima (`max`:
 * while a reload that lowered one is not yet in force in the front, the
 * higher of the two), and only the messages a front may send.
 * Runs in: the warden's main thread (and the fuzz target). */
#pragma once

#include "config.h"
#include "error.h"
#include "ipc.h"

enum wmsg_verdict {
    WMSG_FATAL,    /* a confused or compromised front: shut down (err says why) */
    WMSG_SPAWN,
    WMSG_KILL,
    WMSG_SHUTDOWN,
    WMSG_READY,
    WMSG_CONFIG_ACK,
};

enum wmsg_verdict wmsg_judge(const struct jc_limits *max, const union ipc_msg *m,
                             struct jc_err *err);
