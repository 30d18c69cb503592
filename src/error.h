/* error.h — the one error convention of jobcell, used by every module.
 *
 * A fallible function returns a negative value (or NULL) and fills a
 * struct jc_err: the errno involved (0 if none), whether the client or the
 * server is at fault, the HTTP status the fault maps to, and a message with
 * context.  Callers add context on the way up with jc_err_prefix().  Only the
 * HTTP layer turns a record into a status code and a {"error": "..."} body.
 *
 * Runs in: every process and thread (no global state; records are per call).
 * Never used between clone() and execve(): that code reports fixed-size
 * {step, errno} records instead (see child.c). */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#define JC_ERR_MSG_MAX 512

enum jc_fault {
    JC_FAULT_NONE = 0,
    JC_FAULT_CLIENT, /* the request was wrong: 4xx */
    JC_FAULT_SERVER, /* we failed: 5xx */
};

struct jc_err {
    int errnum;          /* errno at the point of failure, or 0 */
    enum jc_fault fault; /* who is to blame */
    int status;          /* HTTP status this maps to */
    char msg[JC_ERR_MSG_MAX];
};

/* Server-side failure.  errnum is appended as ": strerror" when non-zero.
 * Always returns -1 so callers can `return jc_fail(...)`. */
int jc_fail(struct jc_err *e, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Client-side failure with an HTTP status (400, 404, 409, 413, 415, ...).
 * Always returns -1. */
int jc_client(struct jc_err *e, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepend context ("loading policy default.json: ") to the message.
 * Always returns -1. */
int jc_err_prefix(struct jc_err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void jc_err_clear(struct jc_err *e);

/* ---- cleanup by scope ------------------------------------------------- */

static inline void jc_freep(void *p) { free(*(void **)p); }
static inline void jc_closep(int *fd)
{
    /* Never retry close() on EINTR: on Linux the descriptor is already gone. */
    if (*fd >= 0)
        (void)close(*fd);
}

#define _cleanup_free_ __attribute__((cleanup(jc_freep)))
#define _cleanup_close_ __attribute__((cleanup(jc_closep)))

/* Hand ownership out of a cleanup-scoped variable. */
#define JC_STEAL(p)                  \
    ({                               \
        __typeof__(p) _tmp_ = (p);   \
        (p) = (__typeof__(p))0;      \
        _tmp_;                       \
    })
#define JC_STEAL_FD(fd)  \
    ({                   \
        int _tmp_ = (fd); \
        (fd) = -1;       \
        _tmp_;           \
    })

#define JC_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
