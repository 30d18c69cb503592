/* ipc.c — framing and validation of front↔warden messages, and the
 * bounded non-blocking channel each side sends through (see ipc.h).
 * Runs in: both processes, several threads; a chan's state is guarded by
 * its lock, the rest has no shared state. */
#include "ipc.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "taskid.h"

static size_t type_size(uint32_t type)
{
    switch (type) {
    case IPC_SPAWN:
        return sizeof(struct ipc_spawn);
    case IPC_KILL:
    case IPC_SHUTDOWN:
    case IPC_DRAIN:
    case IPC_READY:
        return sizeof(struct ipc_kill);
    case IPC_SPAWNED:
        return sizeof(struct ipc_spawned);
    case IPC_SPAWN_FAILED:
        return sizeof(struct ipc_spawn_failed);
    case IPC_EXITED:
        return sizeof(struct ipc_exited);
    case IPC_TOKEN:
        return sizeof(struct ipc_token);
    case IPC_CONFIG:
        return sizeof(struct ipc_config);
    case IPC_CONFIG_ACK:
        return sizeof(struct ipc_config_ack);
    default:
        return 0;
    }
}

/* The smallest SPAWN: everything of its spec before the strings. */
#define SPAWN_MIN (offsetof(struct ipc_spawn, spec) + offsetof(struct jc_spec, strings))

/* The bytes a message of `type` takes on the wire: its type's size, but a
 * SPAWN ends with its spec's strings (spec_size()), a few hundred bytes,
 * not the 32 KB the struct has room for.  0: no such type, or a spec
 * whose strings_len is out of bounds (never sent). */
static size_t wire_size(const union ipc_msg *m, uint32_t type)
{
    if (type != IPC_SPAWN)
        return type_size(type);
    if (m->spawn.spec.strings_len > JC_STRINGS_MAX)
        return 0;
    return offsetof(struct ipc_spawn, spec) + spec_size(&m->spawn.spec);
}

int ipc_send(int fd, union ipc_msg *m, enum ipc_type type, struct jc_err *err)
{
    return ipc_send_fds(fd, m, type, NULL, 0, err);
}

/* One sendmsg() of buf with nfds descriptors attached (SCM_RIGHTS). */
static ssize_t send_msg(int fd, const void *buf, size_t len, const int *fds, unsigned nfds, int flags)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * IPC_MAX_FDS)];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    ssize_t n;

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
        n = sendmsg(fd, &mh, MSG_NOSIGNAL | flags);
    while (n < 0 && errno == EINTR);
    return n;
}

int ipc_send_fds(int fd, union ipc_msg *m, enum ipc_type type, const int *fds, unsigned nfds,
                 struct jc_err *err)
{
    size_t len = wire_size(m, type);
    ssize_t n;

    if (nfds > IPC_MAX_FDS)
        return jc_fail(err, 0, "ipc: %u descriptors (at most %d)", nfds, IPC_MAX_FDS);
    if (len == 0)
        return jc_fail(err, 0, "ipc: type %d: no size", (int)type);
    m->h.magic = IPC_MAGIC;
    m->h.type = type;
    if ((n = send_msg(fd, m, len, fds, nfds, 0)) < 0)
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

/* The messages about the daemon, not about one task. */
static bool has_no_id(uint32_t type)
{
    return type == IPC_SHUTDOWN || type == IPC_DRAIN || type == IPC_TOKEN || type == IPC_READY ||
           type == IPC_CONFIG || type == IPC_CONFIG_ACK;
}

static bool hex64(const char *s)
{
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return s[64] == 0;
}

/* Names as policy_load_dir() makes them (a file stem of [A-Za-z0-9_-]),
 * each once, "default" among them. */
static int validate_policy_names(const struct ipc_config *c, struct jc_err *err)
{
    bool have_default = false;

    if (c->npolicies < 1 || c->npolicies > POLICY_MAX_FILES)
        return jc_fail(err, 0, "ipc: config: %u seccomp profiles", c->npolicies);
    static const char name_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";

    for (unsigned i = 0; i < c->npolicies; i++) {
        const char *n = c->policies[i].name;
        size_t len = strnlen(n, POLICY_NAME_MAX);
        if (len == 0 || len == POLICY_NAME_MAX || strspn(n, name_chars) != len || !hex64(c->policies[i].sha256))
            return jc_fail(err, 0, "ipc: config: a malformed seccomp profile name or hash");
        for (unsigned j = 0; j < i; j++)
            if (strcmp(n, c->policies[j].name) == 0)
                return jc_fail(err, 0, "ipc: config: seccomp profile \"%s\" named twice", n);
        have_default |= strcmp(n, "default") == 0;
    }
    return have_default ? 0 : jc_fail(err, 0, "ipc: config: no \"default\" seccomp profile");
}

static int validate_config(const struct ipc_config *c, struct jc_err *err)
{
    if (c->gen == 0)
        return jc_fail(err, 0, "ipc: config generation 0");
    if (config_wire_ok(&c->cfg, err) < 0)
        return jc_err_prefix(err, "ipc: ");
    return validate_policy_names(c, err);
}

static int validate(const union ipc_msg *m, size_t len, struct jc_err *err)
{
    size_t want;

    if (len < sizeof(struct ipc_hdr) || m->h.magic != IPC_MAGIC)
        return jc_fail(err, 0, "ipc: bad magic or short message (%zu bytes)", len);
    want = m->h.type == IPC_SPAWN && len >= SPAWN_MIN ? wire_size(m, IPC_SPAWN) : type_size(m->h.type);
    if (want == 0 || want != len)
        return jc_fail(err, 0, "ipc: type %u with %zu bytes", m->h.type, len);
    if (!has_no_id(m->h.type) && !jc_id_valid(m->h.id))
        return jc_fail(err, 0, "ipc: type %u with a malformed task id", m->h.type);
    if (m->h.type == IPC_CONFIG)
        return validate_config(&m->config, err);
    if (m->h.type == IPC_SPAWN) {
        if (strcmp(m->spawn.spec.id, m->h.id) != 0)
            return jc_fail(err, 0, "ipc: spawn id mismatch");
        return validate_spec(&m->spawn.spec, err);
    }
    if (m->h.type == IPC_SPAWN_FAILED &&
        (m->failed.status < 400 || m->failed.status > 599))
        return jc_fail(err, 0, "ipc: spawn failure with bad status %d", (int)m->failed.status);
    if (m->h.type == IPC_SPAWN_FAILED && !memchr(m->failed.msg, 0, sizeof m->failed.msg))
        return jc_fail(err, 0, "ipc: unterminated failure message");
    if (m->h.type == IPC_EXITED && (m->exited.reason == RS_NONE || m->exited.reason > RS_DAEMON_RESTART))
        return jc_fail(err, 0, "ipc: exit with bad reason %u", m->exited.reason);
    if (m->h.type == IPC_TOKEN && !config_token_ok(m->token.token))
        return jc_fail(err, 0, "ipc: a malformed token");
    if (m->h.type == IPC_EXITED && m->exited.by_stop > 1)
        return jc_fail(err, 0, "ipc: exit with by_stop %u (neither 0 nor 1)", m->exited.by_stop);
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

/* ---- the non-blocking channel ------------------------------------------ */

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ipc_chan_init(struct ipc_chan *c, int fd, unsigned cap, struct jc_err *err)
{
    int fl = fcntl(fd, F_GETFL);

    *c = (struct ipc_chan){.fd = fd, .wake_fd = -1, .cap = cap};
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return jc_fail(err, errno, "ipc: making the channel non-blocking");
    if ((c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
        return jc_fail(err, errno, "ipc: eventfd");
    if (!(c->q = calloc(cap, sizeof *c->q)))
        return jc_fail(err, ENOMEM, "ipc: queue");
    pthread_mutex_init(&c->lock, NULL);
    return 0;
}

int ipc_chan_grow(struct ipc_chan *c, unsigned cap, struct jc_err *err)
{
    struct ipc_pending *q;

    if (cap <= c->cap)
        return 0;
    if (!(q = calloc(cap, sizeof *q)))
        return jc_fail(err, ENOMEM, "ipc: growing the queue");
    pthread_mutex_lock(&c->lock);
    for (unsigned i = 0; i < c->len; i++)
        q[i] = c->q[(c->head + i) % c->cap];
    free(c->q);
    c->q = q;
    c->head = 0;
    c->cap = cap;
    pthread_mutex_unlock(&c->lock);
    return 0;
}

static void pending_free(struct ipc_pending *p)
{
    if (p->buf && ((const struct ipc_hdr *)p->buf)->type == IPC_TOKEN)
        explicit_bzero(p->buf, p->len); /* the secret leaves no copy */
    free(p->buf);
    for (unsigned i = 0; i < p->nfds; i++)
        close(p->fds[i]);
    *p = (struct ipc_pending){0};
}

void ipc_chan_free(struct ipc_chan *c)
{
    if (!c->q)
        return;
    for (unsigned i = 0; i < c->len; i++)
        pending_free(&c->q[(c->head + i) % c->cap]);
    free(c->q);
    c->q = NULL;
    if (c->wake_fd >= 0)
        close(c->wake_fd);
    pthread_mutex_destroy(&c->lock);
}

/* 1 sent, 0 the socket is full, -1 the peer is gone (c->error set). */
static int try_send(struct ipc_chan *c, const void *buf, size_t len, const int *fds, unsigned nfds)
{
    ssize_t n = send_msg(c->fd, buf, len, fds, nfds, MSG_DONTWAIT);

    if (n == (ssize_t)len)
        return 1;
    if (n < 0 && (errno == EAGAIN || errno == ENOBUFS))
        return 0;
    c->error = n < 0 ? errno : EPROTO;
    return -1;
}

static int flush_locked(struct ipc_chan *c)
{
    while (c->len && !c->error) {
        struct ipc_pending *p = &c->q[c->head];
        int rc = try_send(c, p->buf, p->len, p->fds, p->nfds);
        if (rc <= 0)
            break;
        pending_free(p);
        c->head = (c->head + 1) % c->cap;
        c->len--;
        c->stalled_since_ms = mono_ms(); /* progress */
    }
    return c->error ? -1 : (int)c->len;
}

/* A copy of the message and duplicates of its descriptors. */
static int pending_fill(struct ipc_pending *p, const void *buf, size_t len, const int *fds,
                        unsigned nfds)
{
    *p = (struct ipc_pending){.len = len};
    for (; p->nfds < nfds; p->nfds++)
        if ((p->fds[p->nfds] = fcntl(fds[p->nfds], F_DUPFD_CLOEXEC, 3)) < 0)
            break;
    if (p->nfds < nfds || !(p->buf = malloc(len))) {
        int e = p->nfds < nfds ? errno : ENOMEM;
        pending_free(p);
        return e;
    }
    memcpy(p->buf, buf, len);
    return 0;
}

/* 0, or the errno of why the message could not be queued (only an
 * overflow fails the channel for good). */
static int enqueue_locked(struct ipc_chan *c, const void *buf, size_t len, const int *fds,
                          unsigned nfds)
{
    uint64_t one = 1;
    int e;

    if (c->len == c->cap)
        return c->error = ENOBUFS; /* a peer that lets it fill is dead to us */
    if ((e = pending_fill(&c->q[(c->head + c->len) % c->cap], buf, len, fds, nfds)))
        return e;
    if (c->len++ == 0)
        c->stalled_since_ms = mono_ms();
    (void)!write(c->wake_fd, &one, sizeof one); /* the poller adds POLLOUT */
    return 0;
}

int ipc_chan_send(struct ipc_chan *c, union ipc_msg *m, enum ipc_type type, struct jc_err *err)
{
    return ipc_chan_send_fds(c, m, type, NULL, 0, err);
}

int ipc_chan_send_fds(struct ipc_chan *c, union ipc_msg *m, enum ipc_type type, const int *fds,
                      unsigned nfds, struct jc_err *err)
{
    size_t len = wire_size(m, type);
    int e;

    if (nfds > IPC_MAX_FDS)
        return jc_fail(err, 0, "ipc: %u descriptors (at most %d)", nfds, IPC_MAX_FDS);
    if (len == 0)
        return jc_fail(err, 0, "ipc: type %d: no size", (int)type);
    m->h.magic = IPC_MAGIC;
    m->h.type = type;
    pthread_mutex_lock(&c->lock);
    /* Behind queued messages, never ahead of them: order is part of the protocol. */
    int sent = c->error || c->len ? 0 : try_send(c, m, len, fds, nfds);
    e = c->error;
    if (sent == 0 && !e)
        e = enqueue_locked(c, m, len, fds, nfds);
    pthread_mutex_unlock(&c->lock);
    if (e == ENOBUFS)
        return jc_fail(err, 0, "ipc: send type %d: the peer has let %u messages wait", (int)type, c->cap);
    if (e)
        return jc_fail(err, e, "ipc: send type %d", (int)type);
    return 0;
}

int ipc_chan_flush(struct ipc_chan *c)
{
    uint64_t v;
    int rc;

    (void)!read(c->wake_fd, &v, sizeof v);
    pthread_mutex_lock(&c->lock);
    rc = flush_locked(c);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int64_t ipc_chan_stalled_ms(struct ipc_chan *c)
{
    pthread_mutex_lock(&c->lock);
    int64_t ms = c->len ? mono_ms() - c->stalled_since_ms : 0;
    pthread_mutex_unlock(&c->lock);
    return ms;
}

int ipc_chan_failed(struct ipc_chan *c)
{
    pthread_mutex_lock(&c->lock);
    int e = c->error;
    pthread_mutex_unlock(&c->lock);
    return e;
}
