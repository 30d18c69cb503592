/* error.c — formatting of jc_err records (see error.h for the convention).
 * Runs in: any process or thread; pure, no global state. */
#include "error.h"

#include <stdio.h>
#include <string.h>

__attribute__((format(printf, 5, 0)))
static void vset(struct jc_err *e, enum jc_fault fault, int status, int errnum, const char *fmt,
                 va_list ap)
{
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    e->errnum = errnum;
    e->fault = fault;
    e->status = status;
}

int jc_fail(struct jc_err *e, int errnum, const char *fmt, ...)
{
    va_list ap;

    if (!e)
        return -1;
    va_start(ap, fmt);
    vset(e, JC_FAULT_SERVER, 500, errnum, fmt, ap);
    va_end(ap);
    if (errnum) {
        size_t n = strlen(e->msg);
        char buf[128];
        snprintf(e->msg + n, sizeof e->msg - n, ": %s", strerror_r(errnum, buf, sizeof buf));
    }
    return -1;
}

int jc_client(struct jc_err *e, int status, const char *fmt, ...)
{
    va_list ap;

    if (!e)
        return -1;
    va_start(ap, fmt);
    vset(e, JC_FAULT_CLIENT, status, 0, fmt, ap);
    va_end(ap);
    return -1;
}

int jc_err_prefix(struct jc_err *e, const char *fmt, ...)
{
    char head[JC_ERR_MSG_MAX], old[JC_ERR_MSG_MAX];
    va_list ap;

    if (!e)
        return -1;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    snprintf(e->msg, sizeof e->msg, "%s%s", head, old);
    return -1;
}

void jc_err_clear(struct jc_err *e)
{
    if (e)
        *e = (struct jc_err){0};
}
