/* ipc.h — the messages between the front (unprivileged) and the warden
 * (root), over a SOCK_SEQPACKET socketpair.  Every type has one fixed size
 * but SPAWN, whose message ends with its spec's strings (spec_size(): the
 * fixed part, 1.5 KB, then strings_len bytes, not the 32 KB the struct has
 * room for; the receiver takes nothing past what was sent); a message
 * whose size, magic or fields do not match is fatal to the receiver (a
 * confused peer is a compromised peer).
 *
 *   front → warden: SPAWN (a validated spec, plus the sealed memfds of its
 *                   stdin and files), KILL (cancel a task), SHUTDOWN, READY,
 *                   CONFIG_ACK (a reloaded config is in force)
 *   warden → front: SPAWNED, SPAWN_FAILED, EXITED, SHUTDOWN (an orderly stop:
 *                   the channel closes next, and that is no death), DRAIN,
 *                   TOKEN, CONFIG (SIGHUP: the reloaded config and the
 *                   names and hashes of the reloaded seccomp profiles)
 *
 * A task's SPAWNED is always sent before its EXITED.
 *
 * Neither side ever blocks on the other: both ends are non-blocking and
 * each sender has a struct ipc_chan, a bounded FIFO of messages the peer has
 * not taken yet.  A send queues what the socket refuses; the thread that
 * polls the socket flushes the rest when it becomes writable.  A peer that
 * takes nothing for a bound of time, or lets the queue fill, is dead to the
 * sender (see ipc_chan_stalled_ms, ipc_chan_failed).
 * Runs in: the front's HTTP and IPC threads, the warden's main and monitor
 * threads.  Sends of one message are atomic on a seqpacket socket; a chan
 * is guarded by its own lock. */
#pragma once

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "error.h"
#include "policy.h"
#include "task.h"

#define IPC_MAGIC 0x6a63656cU /* "jcel" */

enum ipc_type {
    IPC_SPAWN = 1,
    IPC_KILL,
    IPC_SHUTDOWN,
    IPC_SPAWNED,
    IPC_SPAWN_FAILED,
    IPC_EXITED,
    IPC_DRAIN, /* warden → front: a stop began; take no new task, keep the queue */
    IPC_TOKEN, /* warden → front: SIGHUP read a new bearer token */
    IPC_READY, /* front → warden: it serves HTTP (no task id) */
    IPC_CONFIG,     /* warden → front: SIGHUP made a new config (no task id) */
    IPC_CONFIG_ACK, /* front → warden: that config is in force (no task id) */
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
    int32_t status; /* 4xx: the request's fault; 503: out of a resource; 500 */
    char msg[JC_ERR_MSG_MAX];
};

struct ipc_exited {
    struct ipc_hdr h;
    uint32_t reason; /* enum jc_reason */
    int32_t exit_code; /* -1 when not exited */
    int32_t signal;    /* 0 when not signaled */
    int64_t finished_ms;
    struct jc_usage usage;
    int32_t log_errno; /* why some output could not be kept, 0 if all was */
    uint32_t by_stop;  /* 1: killed by the daemon's stop (grace over), else 0 */
};

/* The secret: both sides wipe every copy once it is applied or sent. */
struct ipc_token {
    struct ipc_hdr h;
    char token[JC_TOKEN_SIZE]; /* config_token_ok() */
};

/* A seccomp profile as the front knows it: a name to accept, a hash to record. */
struct ipc_policy_name {
    char name[POLICY_NAME_MAX];
    char sha256[65];
};

/* A reload (SIGHUP): the whole new config, checked by config_wire_ok(),
 * with the keys only a restart changes as they were (the front refuses a
 * CONFIG that differs in one), and the profiles now in policy_dir. */
struct ipc_config {
    struct ipc_hdr h;
    uint32_t gen;       /* 1, 2, …: CONFIG_ACK answers with it */
    uint32_t npolicies; /* 1..POLICY_MAX_FILES, "default" among them */
    struct jc_config cfg;
    struct ipc_policy_name policies[POLICY_MAX_FILES];
};

struct ipc_config_ack {
    struct ipc_hdr h;
    uint32_t gen;
};

union ipc_msg {
    struct ipc_hdr h;
    struct ipc_spawn spawn;
    struct ipc_kill kill;
    struct ipc_spawned spawned;
    struct ipc_spawn_failed failed;
    struct ipc_exited exited;
    struct ipc_token token;
    struct ipc_config config;
    struct ipc_config_ack config_ack;
};

/* Send one message of `type` (its size is implied by the type, and for a
 * SPAWN by its spec's strings_len). */
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

/* ---- the non-blocking channel ------------------------------------------ */

struct ipc_pending {
    void *buf;
    size_t len;
    int fds[IPC_MAX_FDS]; /* our duplicates, closed once sent */
    unsigned nfds;
};

struct ipc_chan {
    int fd;      /* the socket, O_NONBLOCK */
    int wake_fd; /* eventfd, readable when a message was queued (for the poller) */
    pthread_mutex_t lock;
    struct ipc_pending *q; /* ring of cap entries */
    unsigned cap, head, len;
    int64_t stalled_since_ms; /* CLOCK_MONOTONIC of the last progress while queued */
    int error;                /* sticky errno: the peer is gone or the queue overflowed */
};

/* Make `fd` non-blocking and give it a queue of `cap` messages. */
int ipc_chan_init(struct ipc_chan *c, int fd, unsigned cap, struct jc_err *err);

/* A longer queue (a reload raised max_running); what waits keeps its order.
 * Never shorter. */
int ipc_chan_grow(struct ipc_chan *c, unsigned cap, struct jc_err *err);
void ipc_chan_free(struct ipc_chan *c);

/* Send now, or queue.  Never blocks.  -1 (err: which) when the channel has
 * failed: the peer is gone, or the queue is full (then the peer is dead to
 * us from now on: ipc_chan_failed() says so). */
int ipc_chan_send(struct ipc_chan *c, union ipc_msg *m, enum ipc_type type, struct jc_err *err);

/* ipc_chan_send() with descriptors attached (the caller keeps its copies;
 * a queued message holds duplicates). */
int ipc_chan_send_fds(struct ipc_chan *c, union ipc_msg *m, enum ipc_type type, const int *fds,
                      unsigned nfds, struct jc_err *err);

/* Send what the socket takes now.  Returns the number of messages still
 * queued, or -1 when the channel has failed.  Drains wake_fd. */
int ipc_chan_flush(struct ipc_chan *c);

/* How long queued messages have waited without any progress (0: none
 * waits), and the sticky errno of a failed channel (0: fine). */
int64_t ipc_chan_stalled_ms(struct ipc_chan *c);
int ipc_chan_failed(struct ipc_chan *c);
