/* ipc.c — framing and validation of front↔warden messages (see ipc.h).
 * Runs in: both processes, several threads; no shared state. */
#include "ipc.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

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
    return ipc_send_fds(fd, m, type, NULL, 0, err);
}

int ipc_send_fds(int fd, union ipc_msg *m, enum ipc_type type, const int *fds, unsigned nfds,
                 struct jc_err *err)
{
    size_t len = type_size(type);
    union {
        char buf[CMSG_SPACE(sizeof(int) * IPC_MAX_FDS)];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {.iov_base = m, .iov_len = len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    ssize_t n;

    if (nfds > IPC_MAX_FDS)
        return jc_fail(err, 0, "ipc: %u descriptors (at most %d)", nfds, IPC_MAX_FDS);
    m->h.magic = IPC_MAGIC;
    m->h.type = type;
    if (nfds) {
        memset(&ctl, 0, sizeof ctl);
        mh.msg_control = ctl.buf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    do
        n = sendmsg(fd, &mh, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return jc_fail(err, errno, "ipc: send type %d", (int)type);
    if ((size_t)n != len)
        return jc_fail(err, 0, "ipc: short send (%zd of %zu bytes)", n, len);
    return 0;
}

/* stdin and files within their bounds, file names plain and unique. */
static int validate_input(const struct jc_spec *s, struct jc_err *err)
{
    if (s->stdin_len > JC_STDIN_MAX || (!s->has_stdin && s->stdin_len))
        return jc_fail(err, 0, "ipc: spawn: bad stdin size");
    if (s->nfiles > JC_FILES_MAX || jc_files_bytes(s) > JC_FILES_BYTES_MAX)
        return jc_fail(err, 0, "ipc: spawn: bad input files");
    for (unsigned i = 0; i < s->nfiles; i++) {
        const char *name = s->files[i].name;
        if (!jc_file_name_ok(name, strnlen(name, sizeof s->files[i].name)))
            return jc_fail(err, 0, "ipc: spawn: bad input file name");
        for (unsigned j = 0; j < i; j++)
            if (strcmp(name, s->files[j].name) == 0)
                return jc_fail(err, 0, "ipc: spawn: input file named twice");
    }
    return 0;
}

/* A bool off the wire: loading a byte other than 0 or 1 as a bool is
 * undefined behaviour, so the byte is looked at first (found by
 * tests/fuzz/fuzz_warden.c). */
static bool wire_bool_ok(const bool *b)
{
    unsigned char byte;

    memcpy(&byte, b, 1);
    return byte <= 1;
}

static int validate_spec(const struct jc_spec *s, struct jc_err *err)
{
    if (!wire_bool_ok(&s->is_command) || !wire_bool_ok(&s->has_stdin))
        return jc_fail(err, 0, "ipc: spawn: a flag (is_command, has_stdin) is neither 0 nor 1");
    if (memchr(s->name, 0, sizeof s->name) == NULL || !s->name[0])
        return jc_fail(err, 0, "ipc: spawn: bad name");
    if (memchr(s->policy, 0, sizeof s->policy) == NULL)
        return jc_fail(err, 0, "ipc: spawn: bad policy name");
    if (validate_input(s, err) < 0)
        return -1;
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

/* The descriptors of an SCM_RIGHTS message, into fds[]; -1 if there were
 * more than fit (those the kernel delivered are still taken, to close). */
static int take_fds(struct msghdr *mh, int fds[IPC_MAX_FDS], unsigned *nfds, struct jc_err *err)
{
    int rc = (mh->msg_flags & MSG_CTRUNC) ? jc_fail(err, 0, "ipc: too many descriptors") : 0;

    *nfds = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int one;
            memcpy(&one, CMSG_DATA(c) + i * sizeof(int), sizeof one);
            if (*nfds < IPC_MAX_FDS) {
                fds[(*nfds)++] = one;
                continue;
            }
            close(one);
            rc = jc_fail(err, 0, "ipc: too many descriptors");
        }
    }
    return rc;
}

int ipc_recv_fds(int fd, union ipc_msg *m, int fds[IPC_MAX_FDS], unsigned *nfds,
                 struct jc_err *err)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * IPC_MAX_FDS)];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {.iov_base = m, .iov_len = sizeof *m};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                        .msg_controllen = sizeof ctl.buf};
    ssize_t n;

    *nfds = 0;
    do
        n = recvmsg(fd, &mh, MSG_TRUNC | MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return jc_fail(err, errno, "ipc: recv");
    if (take_fds(&mh, fds, nfds, err) < 0)
        return -1;
    if (n == 0)
        return 0;
    if ((size_t)n > sizeof *m)
        return jc_fail(err, 0, "ipc: oversized message (%zd bytes)", n);
    if (validate(m, (size_t)n, err) < 0)
        return -1;
    if (*nfds && m->h.type != IPC_SPAWN)
        return jc_fail(err, 0, "ipc: type %u with descriptors", m->h.type);
    return 1;
}

int ipc_recv(int fd, union ipc_msg *m, struct jc_err *err)
{
    int fds[IPC_MAX_FDS];
    unsigned nfds;
    int rc = ipc_recv_fds(fd, m, fds, &nfds, err);

    for (unsigned i = 0; i < nfds; i++)
        close(fds[i]);
    if (rc > 0 && nfds)
        return jc_fail(err, 0, "ipc: type %u with unexpected descriptors", m->h.type);
    return rc;
}
