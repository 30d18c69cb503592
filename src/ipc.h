/* ipc.h — the messages between the front (unprivileged) and the warden
 * (root), over a SOCK_SEQPACKET socketpair.  Every type has one fixed size;
 * a message whose size, magic or fields do not match is fatal to the
 * receiver (a confused peer is a compromised peer).
 *
 *   front → warden: SPAWN (a validated spec, plus the sealed memfds of its
 *                   stdin and files), KILL (cancel a task), SHUTDOWN
 *   warden → front: SPAWNED, SPAWN_FAILED, EXITED
 *
 * A task's SPAWNED is always sent before its EXITED.
 * Runs in: the front's HTTP and IPC threads, the warden's main and monitor
 * threads.  Sends of one message are atomic on a seqpacket socket. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "task.h"

#define IPC_MAGIC 0x6a63656cU /* "jcel" */

enum ipc_type {
    IPC_SPAWN = 1,
    IPC_KILL,
    IPC_SHUTDOWN,
    IPC_SPAWNED,
    IPC_SPAWN_FAILED,
    IPC_EXITED,
};

struct ipc_hdr {
    uint32_t magic;
    uint32_t type;
    char id[JC_ID_LEN];
};

struct ipc_spawn {
    struct ipc_hdr h;
    struct jc_spec spec;
};

struct ipc_kill {
    struct ipc_hdr h;
};

struct ipc_spawned {
    struct ipc_hdr h;
    int32_t pid;
    int64_t started_ms; /* realtime, ms since the epoch */
};

struct ipc_spawn_failed {
    struct ipc_hdr h;
    int64_t at_ms;
    char msg[JC_ERR_MSG_MAX];
};

struct ipc_exited {
    struct ipc_hdr h;
    uint32_t reason; /* enum jc_reason */
    int32_t exit_code; /* -1 when not exited */
    int32_t signal;    /* 0 when not signaled */
    int64_t finished_ms;
    struct jc_usage usage;
};

union ipc_msg {
    struct ipc_hdr h;
    struct ipc_spawn spawn;
    struct ipc_kill kill;
    struct ipc_spawned spawned;
    struct ipc_spawn_failed failed;
    struct ipc_exited exited;
};

/* Send one message of `type` (its size is implied by the type). */
int ipc_send(int fd, union ipc_msg *m, enum ipc_type type, struct jc_err *err);

/* A SPAWN carries at most this many descriptors (SCM_RIGHTS): the sealed
 * memfds of its stdin and of its input files (input.h says which). */
#define IPC_MAX_FDS 2

/* ipc_send() with descriptors attached (the caller keeps its copies). */
int ipc_send_fds(int fd, union ipc_msg *m, enum ipc_type type, const int *fds, unsigned nfds,
                 struct jc_err *err);

/* Receive and validate one message.  Returns 1 on a message, 0 on orderly
 * EOF, -1 on error or on a malformed message (err says which check failed). */
int ipc_recv(int fd, union ipc_msg *m, struct jc_err *err);

/* ipc_recv() that also takes the descriptors sent with the message
 * (close-on-exec, at most IPC_MAX_FDS, count in *nfds; the caller owns
 * them, also when it then rejects the message).  Descriptors on any type
 * but SPAWN make the message malformed; ipc_recv() refuses every one. */
int ipc_recv_fds(int fd, union ipc_msg *m, int fds[IPC_MAX_FDS], unsigned *nfds,
                 struct jc_err *err);

/* Checks a task id is 36 chars of [0-9a-f-] in UUID layout. */
int ipc_valid_id(const char *id);
