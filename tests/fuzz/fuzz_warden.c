/* fuzz_warden.c — libFuzzer target for what the warden trusts: arbitrary
 * bytes as one message from a (compromised) front.  The bytes go through a
 * real SOCK_SEQPACKET socketpair into ipc_recv(), the warden's receive and
 * framing checks, then wmsg_judge(), its verdict (limits, allowed types),
 * and input_check() with no descriptors — everything handle_message() does
 * before it spawns or kills.
 *
 * Every input must end in a clean refusal (-1 or a FATAL verdict, with a
 * message), an orderly end of channel, or a verdict whose message holds
 * what the spawn and kill paths rely on; never a crash, an over-read, a
 * leak or undefined behaviour.
 *
 * Build: meson setup -Dfuzz=true with clang (see meson.build here), or just
 *        tests/fuzz/run.sh SECONDS.
 * Seeds: tests/fuzz/corpus/warden/, written by seeds_warden.c (replayed as
 *        an ordinary test by replay.c, suite 'fuzz-corpus'). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "input.h"
#include "ipc.h"
#include "request.h"
#include "taskid.h"
#include "wmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Under ASan, the buffer past a received SPAWN (variable-length since issue
 * 10: only its spec's strings) is poisoned while the warden's checks run:
 * a read of a byte the front never sent is a finding. */
#if defined(__SANITIZE_ADDRESS__)
#define JC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define JC_ASAN 1
#endif
#endif
#ifdef JC_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* What sandbox_spawn() takes from a spec: argc + envc strings filling
 * strings_len exactly, argv[0] absolute, limits within the maxima. */
static void check_spawn(const struct jc_config *cfg, const union ipc_msg *m)
{
    const struct jc_spec *s = &m->spawn.spec;
    const struct jc_limits *l = &s->limits;
    const char *str = NULL;
    size_t total = 0;
    unsigned n = 0;

    if (!jc_id_valid(m->h.id) || strcmp(s->id, m->h.id) != 0)
        abort();
    if (!memchr(s->name, 0, sizeof s->name) || !memchr(s->policy, 0, sizeof s->policy))
        abort();
    if (s->strings_len > sizeof s->strings || s->argc < 1 || s->argc > JC_ARGV_MAX ||
        s->envc > JC_ENV_MAX || s->strings[0] != '/')
        abort();
    while ((str = spec_next_string(s, str))) {
        total += strlen(str) + 1;
        n++;
    }
    if (n != (unsigned)s->argc + s->envc || total != s->strings_len)
        abort();
    if (l->memory_mb > cfg->max.memory_mb || l->pids > cfg->max.pids ||
        !(l->cpus <= cfg->max.cpus) || l->timeout_s > cfg->max.timeout_s ||
        l->output_kb > cfg->max.output_kb || l->tmpfs_mb > cfg->max.tmpfs_mb)
        abort();
}

/* The warden's last check before spawning: the input descriptors the spec
 * announces (none can come with bytes alone, so only a spec that needs
 * none may pass). */
static void check_input(const struct jc_spec *s)
{
    struct jc_err e = {0};
    int fds[INPUT_NFDS];
    int rc = input_check(s, NULL, 0, fds, &e);

    if ((rc == 0) != (input_count(s) == 0) || (rc < 0 && !e.msg[0]))
        abort();
    if (rc == 0 && (fds[INPUT_STDIN] != -1 || fds[INPUT_FILES] != -1))
        abort();
}

static void judge(const struct jc_config *cfg, const union ipc_msg *m)
{
    struct jc_err e = {0};

    switch (wmsg_judge(&cfg->max, m, &e)) {
    case WMSG_SPAWN:
        check_spawn(cfg, m);
        check_input(&m->spawn.spec);
        break;
    case WMSG_KILL:
        if (!jc_id_valid(m->h.id))
            abort();
        break;
    case WMSG_SHUTDOWN:
    case WMSG_READY:
    case WMSG_CONFIG_ACK:
        break;
    case WMSG_FATAL:
        if (!e.msg[0])
            abort();
        break;
    default:
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct jc_config cfg;
    static union ipc_msg m; /* 34 KB: not on the stack */
    static int sv[2] = {-1, -1};
    struct jc_err e = {0};
    int rc;

    if (sv[0] < 0) {
        config_defaults(&cfg);
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
            abort();
    }
    if (size > 2 * sizeof m) /* beyond what a socket buffer takes at once */
        size = 2 * sizeof m;
    if (send(sv[1], data, size, 0) != (ssize_t)size)
        abort();
    memset(&m, 0, sizeof m);
    rc = ipc_recv(sv[0], &m, &e);
    if (rc < 0 && !e.msg[0])
        abort();
    if (rc == 0 && size != 0)
        abort();
    if (rc == 1 && m.h.type == IPC_SPAWN) {
        size_t used = offsetof(struct ipc_spawn, spec) + spec_size(&m.spawn.spec);
        if (used != size)
            abort(); /* accepted other than exactly what was sent */
        POISON((char *)&m + used, sizeof m - used);
        judge(&cfg, &m);
        UNPOISON((char *)&m + used, sizeof m - used);
    } else if (rc == 1) {
        judge(&cfg, &m);
    }
    return 0;
}
