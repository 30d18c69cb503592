/* ipc.c — framing and validation of front↔warden messages (see ipc.h).
 * Runs in: both processes, several threads; no shared state. */
#include "ipc.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

static size_t type_size(uint32_t type)
{
    switch (type) {
    case IPC_SPAWN:
        return sizeof(struct ipc_spawn);
    case IPC_KILL:
    case IPC_SHUTDOWN:
        return sizeof(struct ipc_kill);
    case IPC_SPAWNED:
        return sizeof(struct ipc_spawned);
    case IPC_SPAWN_FAILED:
        return sizeof(struct ipc_spawn_failed);
    case IPC_EXITED:
        return sizeof(struct ipc_exited);
    default:
        return 0;
    }
}

int ipc_valid_id(const char *id)
{
    if (strnlen(id, JC_ID_LEN) != JC_ID_LEN - 1)
        return 0;
    for (int i = 0; i < JC_ID_LEN - 1; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        char c = id[i];
        if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return 1;
}

int ipc_send(int fd, union ipc_msg *m, enum ipc_type type, struct jc_err *err)
{
    size_t len = type_size(type);
    ssize_t n;

    m->h.magic = IPC_MAGIC;
    m->h.type = type;
    do
        n = send(fd, m, len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return jc_fail(err, errno, "ipc: send type %d", (int)type);
    if ((size_t)n != len)
        return jc_fail(err, 0, "ipc: short send (%zd of %zu bytes)", n, len);
    return 0;
}

static int validate_spec(const struct jc_spec *s, struct jc_err *err)
{
    if (memchr(s->name, 0, sizeof s->name) == NULL || !s->name[0])
        return jc_fail(err, 0, "ipc: spawn: bad name");
    if (memchr(s->policy, 0, sizeof s->policy) == NULL)
        return jc_fail(err, 0, "ipc: spawn: bad policy name");
    if (s->strings_len > sizeof s->strings || s->argc > JC_ARGV_MAX ||
        s->envc > JC_ENV_MAX || (s->is_command && s->argc == 0))
        return jc_fail(err, 0, "ipc: spawn: bad argv/env counts");
    /* The string area must hold exactly argc + envc NUL-terminated strings. */
    size_t off = 0;
    for (unsigned i = 0; i < (unsigned)s->argc + s->envc; i++) {
        const char *nul = memchr(s->strings + off, 0, s->strings_len - off);
        if (!nul)
            return jc_fail(err, 0, "ipc: spawn: string %u unterminated", i);
        off = (size_t)(nul - s->strings) + 1;
    }
    if (off != s->strings_len)
        return jc_fail(err, 0, "ipc: spawn: trailing bytes in strings");
    return 0;
}

static int validate(const union ipc_msg *m, size_t len, struct jc_err *err)
{
    size_t want;

    if (len < sizeof(struct ipc_hdr) || m->h.magic != IPC_MAGIC)
        return jc_fail(err, 0, "ipc: bad magic or short message (%zu bytes)", len);
    want = type_size(m->h.type);
    if (want == 0 || want != len)
        return jc_fail(err, 0, "ipc: type %u with %zu bytes", m->h.type, len);
    if (m->h.type != IPC_SHUTDOWN && !ipc_valid_id(m->h.id))
        return jc_fail(err, 0, "ipc: type %u with a malformed task id", m->h.type);
    if (m->h.type == IPC_SPAWN) {
        if (strcmp(m->spawn.spec.id, m->h.id) != 0)
            return jc_fail(err, 0, "ipc: spawn id mismatch");
        return validate_spec(&m->spawn.spec, err);
    }
    if (m->h.type == IPC_SPAWN_FAILED && !memchr(m->failed.msg, 0, sizeof m->failed.msg))
        return jc_fail(err, 0, "ipc: unterminated failure message");
    if (m->h.type == IPC_EXITED && (m->exited.reason == RS_NONE || m->exited.reason > RS_DAEMON_RESTART))
        return jc_fail(err, 0, "ipc: exit with bad reason %u", m->exited.reason);
    return 0;
}

int ipc_recv(int fd, union ipc_msg *m, struct jc_err *err)
{
    ssize_t n;

    do
        n = recv(fd, m, sizeof *m, MSG_TRUNC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return jc_fail(err, errno, "ipc: recv");
    if (n == 0)
        return 0;
    if ((size_t)n > sizeof *m)
        return jc_fail(err, 0, "ipc: oversized message (%zd bytes)", n);
    if (validate(m, (size_t)n, err) < 0)
        return -1;
    return 1;
}
