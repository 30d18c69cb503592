/* test_ipc.c — unit tests for ipc.c over a real SOCK_SEQPACKET socketpair:
 * every message type round-trips, and every malformed message (sent as raw
 * bytes, as a confused or compromised peer would) is refused with a message
 * saying which check failed; the non-blocking channel never blocks, keeps
 * order, and fails (for good) when its queue overflows. */
#include "ipc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "input.h"
#include "request.h"

#define ID1 "123e4567-e89b-12d3-a456-426614174000"
#define ID2 "00000000-0000-4000-8000-00000000abcd"

static int sv[2] = {-1, -1}; /* sv[0] sends, sv[1] receives */
/* ~33 KB each: not on the stack.  `out` has room after it so that raw
 * sends may be longer than any message. */
static struct {
    union ipc_msg m;
    char slack[256];
} out_buf;
#define out (out_buf.m)
static union ipc_msg in;
static struct jc_err err;

static void pair_open(void)
{
    CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
}

static void pair_close(void)
{
    for (int i = 0; i < 2; i++)
        if (sv[i] >= 0)
            close(sv[i]);
    sv[0] = sv[1] = -1;
}

/* ipc_send `out` as `type`, ipc_recv it into `in`; 1 when both worked. */
static int round_trip(enum ipc_type type)
{
    jc_err_clear(&err);
    memset(&in, 0xa5, sizeof in);
    if (ipc_send(sv[0], &out, type, &err) < 0) {
        fprintf(stderr, "send type %d: %s\n", type, err.msg);
        return 0;
    }
    int rc = ipc_recv(sv[1], &in, &err);
    if (rc != 1)
        fprintf(stderr, "recv type %d: rc=%d %s\n", type, rc, err.msg);
    return rc == 1;
}

/* Send `len` raw bytes of `out` (no fix-ups) and expect ipc_recv to refuse
 * them with `needle` in the message. */
static void expect_refused(size_t len, const char *needle, int line)
{
    jc_err_clear(&err);
    CHECK(send(sv[0], &out, len, 0) == (ssize_t)len);
    int rc = ipc_recv(sv[1], &in, &err);
    if (rc != -1 || !strstr(err.msg, needle))
        fprintf(stderr, "line %d: rc=%d msg=\"%s\" (want \"%s\")\n", line, rc, err.msg, needle);
    CHECK(rc == -1);
    CHECK(err.msg[0] != 0);
    CHECK_STR_CONTAINS(err.msg, needle);
}
#define EXPECT_REFUSED(len, needle) expect_refused((len), (needle), __LINE__)

/* A header that passes validation for `type`. */
static void hdr(uint32_t type, const char *id)
{
    memset(&out_buf, 0, sizeof out_buf);
    out.h.magic = IPC_MAGIC;
    out.h.type = type;
    snprintf(out.h.id, sizeof out.h.id, "%s", id);
}

/* A valid SPAWN message from a real request. */
static void make_spawn(const char *body)
{
    struct jc_config cfg;
    struct jc_err e = {0};

    config_defaults(&cfg);
    hdr(IPC_SPAWN, ID1);
    CHECK(request_parse(&cfg, NULL, body, strlen(body), &out.spawn.spec, NULL, &e) == 0);
    snprintf(out.spawn.spec.id, sizeof out.spawn.spec.id, "%s", ID1);
}

/* ---- round trips --------------------------------------------------------- */

static void test_round_trips(void)
{
    make_spawn("{\"name\":\"rt\",\"command\":[\"/bin/echo\",\"hi\"],\"env\":{\"A\":\"1\"},"
               "\"limits\":{\"cpus\":0.5,\"memory_mb\":128}}");
    CHECK(round_trip(IPC_SPAWN));
    CHECK(in.h.magic == IPC_MAGIC && in.h.type == IPC_SPAWN && strcmp(in.h.id, ID1) == 0);
    CHECK(memcmp(&in.spawn.spec, &out.spawn.spec, spec_size(&out.spawn.spec)) == 0);
    CHECK(strcmp(in.spawn.spec.name, "rt") == 0 && in.spawn.spec.argc == 2 &&
          in.spawn.spec.envc == 3 && in.spawn.spec.limits.cpus == 0.5);
    make_spawn("{\"name\":\"worker\"}");
    CHECK(round_trip(IPC_SPAWN));
    CHECK(memcmp(&in.spawn.spec, &out.spawn.spec, spec_size(&out.spawn.spec)) == 0);

    hdr(0, ID2); /* ipc_send fills magic and type itself */
    out.h.magic = 0;
    CHECK(round_trip(IPC_KILL));
    CHECK(in.h.magic == IPC_MAGIC && in.h.type == IPC_KILL && strcmp(in.h.id, ID2) == 0);

    hdr(0, ""); /* SHUTDOWN names no task */
    CHECK(round_trip(IPC_SHUTDOWN));
    CHECK(in.h.type == IPC_SHUTDOWN);

    hdr(0, ""); /* nor does READY */
    CHECK(round_trip(IPC_READY));
    CHECK(in.h.type == IPC_READY);

    hdr(0, ID1);
    out.spawned.pid = 4242;
    out.spawned.started_ms = 1700000000123;
    CHECK(round_trip(IPC_SPAWNED));
    CHECK(in.h.type == IPC_SPAWNED && in.spawned.pid == 4242 &&
          in.spawned.started_ms == 1700000000123 && strcmp(in.h.id, ID1) == 0);

    hdr(0, ID1);
    out.failed.at_ms = 99;
    out.failed.status = 400;
    snprintf(out.failed.msg, sizeof out.failed.msg, "clone3: Operation not permitted");
    CHECK(round_trip(IPC_SPAWN_FAILED));
    CHECK(in.h.type == IPC_SPAWN_FAILED && in.failed.at_ms == 99 && in.failed.status == 400 &&
          strcmp(in.failed.msg, "clone3: Operation not permitted") == 0);

    for (uint32_t r = RS_EXITED; r <= RS_DAEMON_RESTART; r++) {
        hdr(0, ID2);
        out.exited.reason = r;
        out.exited.exit_code = r == RS_EXITED ? 3 : -1;
        out.exited.signal = r == RS_SIGNALED ? 9 : 0;
        out.exited.finished_ms = 1700000001000 + r;
        out.exited.usage = (struct jc_usage){.memory_peak_bytes = 1u << 20, .cpu_usec = 5,
                                             .wall_ms = 7, .oom_kills = r == RS_OOM};
        CHECK(round_trip(IPC_EXITED));
        CHECK(in.h.type == IPC_EXITED && in.exited.reason == r &&
              in.exited.exit_code == out.exited.exit_code &&
              in.exited.signal == out.exited.signal &&
              in.exited.finished_ms == out.exited.finished_ms &&
              memcmp(&in.exited.usage, &out.exited.usage, sizeof in.exited.usage) == 0);
    }

    /* Several messages queued: boundaries are kept, order is kept. */
    hdr(0, ID1);
    CHECK(ipc_send(sv[0], &out, IPC_KILL, &err) == 0);
    hdr(0, ID2);
    out.spawned.pid = 7;
    CHECK(ipc_send(sv[0], &out, IPC_SPAWNED, &err) == 0);
    CHECK(ipc_recv(sv[1], &in, &err) == 1 && in.h.type == IPC_KILL && strcmp(in.h.id, ID1) == 0);
    CHECK(ipc_recv(sv[1], &in, &err) == 1 && in.h.type == IPC_SPAWNED && in.spawned.pid == 7);
}

/* ---- malformed messages -------------------------------------------------- */

static void test_header_checks(void)
{
    hdr(IPC_KILL, ID1);
    out.h.magic = 0x6c65636aU; /* byte-swapped */
    EXPECT_REFUSED(sizeof(struct ipc_kill), "bad magic");
    hdr(IPC_KILL, ID1);
    out.h.magic = 0;
    EXPECT_REFUSED(sizeof(struct ipc_kill), "bad magic");
    hdr(IPC_KILL, ID1);
    EXPECT_REFUSED(2, "short message (2 bytes)");
    EXPECT_REFUSED(sizeof(struct ipc_hdr) - 1, "short message");

    /* Unknown types. */
    hdr(99, ID1);
    EXPECT_REFUSED(sizeof(struct ipc_kill), "type 99");
    hdr(0, ID1);
    EXPECT_REFUSED(sizeof(struct ipc_kill), "type 0");
    hdr(IPC_READY + 1, ID1);
    EXPECT_REFUSED(sizeof(struct ipc_exited), "type 10");
    hdr(0xffffffffU, ID1);
    EXPECT_REFUSED(sizeof(struct ipc_kill), "type 4294967295");

    /* A size that does not match the type. */
    static const struct { uint32_t type; size_t size; } sizes[] = {
        {IPC_SPAWN, sizeof(struct ipc_spawn)},          {IPC_KILL, sizeof(struct ipc_kill)},
        {IPC_SHUTDOWN, sizeof(struct ipc_kill)},        {IPC_SPAWNED, sizeof(struct ipc_spawned)},
        {IPC_SPAWN_FAILED, sizeof(struct ipc_spawn_failed)},
        {IPC_EXITED, sizeof(struct ipc_exited)},       {IPC_READY, sizeof(struct ipc_kill)},
    };
    for (unsigned i = 0; i < JC_ARRAY_LEN(sizes); i++) {
        const size_t size = sizes[i].size, hdr_size = sizeof(struct ipc_hdr);
        char want[64];
        hdr(sizes[i].type, ID1);
        snprintf(want, sizeof want, "type %u with %zu bytes", sizes[i].type, size - 1);
        EXPECT_REFUSED(size - 1, size - 1 < hdr_size ? "short message" : want);
        hdr(sizes[i].type, ID1);
        snprintf(want, sizeof want, "type %u with %zu bytes", sizes[i].type, size + 1);
        EXPECT_REFUSED(size + 1, size + 1 > sizeof(union ipc_msg) ? "oversized" : want);
        if (size > hdr_size) {
            hdr(sizes[i].type, ID1);
            EXPECT_REFUSED(hdr_size, "with");
        }
    }
    hdr(IPC_KILL, ID1);
    EXPECT_REFUSED(sizeof(struct ipc_spawned), "type 2 with");

    /* Bigger than any message: truncated by the kernel, refused by size. */
    static char big[sizeof(union ipc_msg) + 100];
    memcpy(big, &out, sizeof out);
    jc_err_clear(&err);
    CHECK(send(sv[0], big, sizeof big, 0) == (ssize_t)sizeof big);
    CHECK(ipc_recv(sv[1], &in, &err) == -1);
    CHECK_STR_CONTAINS(err.msg, "oversized");

    /* Bad task ids. */
    static const char *const bad_ids[] = {
        "", "not-an-id", "123E4567-E89B-12D3-A456-426614174000",
        "123e4567-e89b-12d3-a456-42661417400",  "123e4567e89b-12d3-a456-4266141740000",
        "123e4567-e89b-12d3-a456-42661417400g", "../../../../../../../../etc/passwd...",
    };
    for (unsigned i = 0; i < JC_ARRAY_LEN(bad_ids); i++) {
        hdr(IPC_KILL, bad_ids[i]);
        EXPECT_REFUSED(sizeof(struct ipc_kill), "malformed task id");
        hdr(IPC_EXITED, bad_ids[i]);
        out.exited.reason = RS_EXITED;
        EXPECT_REFUSED(sizeof(struct ipc_exited), "malformed task id");
    }
    hdr(IPC_SPAWNED, ID1);
    memset(out.h.id, 'a', sizeof out.h.id); /* no NUL at all */
    EXPECT_REFUSED(sizeof(struct ipc_spawned), "malformed task id");
}

/* The bytes a SPAWN of `out` takes on the wire: its spec up to the end of
 * its strings (ipc.c wire_size). */
static size_t spawn_wire(void)
{
    return offsetof(struct ipc_spawn, spec) + offsetof(struct jc_spec, strings) + out.spawn.spec.strings_len;
}
#define sz spawn_wire()

static void test_spawn_checks(void)
{
    make_spawn("{\"name\":\"x\",\"command\":[\"/bin/echo\",\"a\"],\"env\":{\"K\":\"v\"}}");
    snprintf(out.spawn.spec.id, sizeof out.spawn.spec.id, "%s", ID2);
    EXPECT_REFUSED(sz, "id mismatch");

    make_spawn("{\"name\":\"x\"}");
    out.spawn.spec.name[0] = 0;
    EXPECT_REFUSED(sz, "bad name");
    make_spawn("{\"name\":\"x\"}");
    memset(&out.spawn.spec.is_command, 2, 1); /* undefined behaviour if read as bool */
    EXPECT_REFUSED(sz, "is neither 0 nor 1");
    make_spawn("{\"name\":\"x\"}");
    memset(&out.spawn.spec.has_stdin, 7, 1);
    EXPECT_REFUSED(sz, "is neither 0 nor 1");
    make_spawn("{\"name\":\"x\"}");
    memset(out.spawn.spec.name, 'n', sizeof out.spawn.spec.name);
    EXPECT_REFUSED(sz, "bad name");
    make_spawn("{\"name\":\"x\"}");
    memset(out.spawn.spec.policy, 'p', sizeof out.spawn.spec.policy);
    EXPECT_REFUSED(sz, "bad policy");

    /* strings_len past the area: no length can match it. */
    make_spawn("{\"name\":\"x\"}");
    out.spawn.spec.strings_len = JC_STRINGS_MAX + 1;
    EXPECT_REFUSED(sizeof(struct ipc_spawn), "type 1 with");
    make_spawn("{\"name\":\"x\"}");
    out.spawn.spec.strings_len = UINT32_MAX;
    EXPECT_REFUSED(sizeof(struct ipc_spawn), "type 1 with");
    make_spawn("{\"name\":\"x\"}");
    out.spawn.spec.argc = JC_ARGV_MAX + 1;
    EXPECT_REFUSED(sz, "bad argv/env counts");
    make_spawn("{\"name\":\"x\"}");
    out.spawn.spec.envc = JC_ENV_MAX + 1;
    EXPECT_REFUSED(sz, "bad argv/env counts");
    make_spawn("{\"name\":\"x\",\"command\":[\"/bin/true\"]}");
    out.spawn.spec.argc = 0;
    out.spawn.spec.envc = 3; /* the strings still add up */
    EXPECT_REFUSED(sz, "bad argv/env counts");

    /* The string area: argc + envc strings, each NUL-terminated, no more. */
    make_spawn("{\"name\":\"x\",\"command\":[\"/bin/echo\",\"a\"]}");
    out.spawn.spec.argc++; /* one string more than there is */
    EXPECT_REFUSED(sz, "string 4 unterminated");
    make_spawn("{\"name\":\"x\",\"command\":[\"/bin/echo\",\"a\"]}");
    out.spawn.spec.envc--; /* one string fewer */
    EXPECT_REFUSED(sz, "trailing bytes");
    make_spawn("{\"name\":\"x\",\"command\":[\"/bin/echo\",\"a\"]}");
    out.spawn.spec.strings[out.spawn.spec.strings_len - 1] = 'X'; /* last NUL gone */
    EXPECT_REFUSED(sz, "unterminated");
    make_spawn("{\"name\":\"x\",\"command\":[\"/bin/echo\",\"a\"]}");
    memset(out.spawn.spec.strings, 'S', sizeof out.spawn.spec.strings);
    out.spawn.spec.strings_len = JC_STRINGS_MAX; /* a full area with no NUL */
    EXPECT_REFUSED(sz, "string 0 unterminated");
    make_spawn("{\"name\":\"x\",\"command\":[\"/bin/echo\",\"a\"]}");
    out.spawn.spec.strings_len -= 2; /* cuts into the last string */
    EXPECT_REFUSED(sz, "unterminated");
    make_spawn("{\"name\":\"x\",\"command\":[\"/bin/echo\",\"a\"]}");
    out.spawn.spec.strings_len += 2; /* two bytes past the last string */
    EXPECT_REFUSED(sz, "trailing bytes");

    /* Still a valid message after all that. */
    make_spawn("{\"name\":\"x\",\"command\":[\"/bin/echo\",\"a\"]}");
    CHECK(round_trip(IPC_SPAWN));
}
#undef sz

/* A SPAWN is as long as its spec's strings make it (issue 10: it was a
 * fixed 34 KB whatever the spec): exactly that long, or refused. */
static void test_spawn_length(void)
{
    static char raw[sizeof(union ipc_msg) + 64];
    const size_t min = offsetof(struct ipc_spawn, spec) + offsetof(struct jc_spec, strings);

    make_spawn("{\"name\":\"x\",\"command\":[\"/bin/echo\",\"a\"],\"env\":{\"K\":\"v\"}}");
    CHECK(ipc_send(sv[0], &out, IPC_SPAWN, &err) == 0);
    ssize_t n = recv(sv[1], raw, sizeof raw, MSG_TRUNC);
    CHECK(n == (ssize_t)spawn_wire());
    CHECK(n < 2048 && n < (ssize_t)sizeof(struct ipc_spawn) / 16);
    /* The old fixed size, a byte more, a byte less: each refused. */
    EXPECT_REFUSED(sizeof(struct ipc_spawn), "type 1 with");
    EXPECT_REFUSED(spawn_wire() + 1, "type 1 with");
    EXPECT_REFUSED(spawn_wire() - 1, "type 1 with");
    EXPECT_REFUSED(min - 1, "type 1 with");
    EXPECT_REFUSED(sizeof(struct ipc_hdr), "type 1 with");
    /* No strings at all (the built-in worker): the shortest SPAWN there is. */
    make_spawn("{\"name\":\"worker\"}");
    out.spawn.spec.argc = out.spawn.spec.envc = 0;
    out.spawn.spec.strings_len = 0;
    CHECK(spawn_wire() == min);
    CHECK(round_trip(IPC_SPAWN) && in.spawn.spec.strings_len == 0 && in.spawn.spec.argc == 0);
    /* Nothing past the message is taken from the buffer it lands in. */
    make_spawn("{\"name\":\"x\",\"command\":[\"/bin/true\"]}");
    CHECK(round_trip(IPC_SPAWN));
    CHECK((unsigned char)in.spawn.spec.strings[in.spawn.spec.strings_len] == 0xa5);
    /* A spec the sender cannot size is never sent. */
    make_spawn("{\"name\":\"x\"}");
    out.spawn.spec.strings_len = JC_STRINGS_MAX + 1;
    jc_err_clear(&err);
    CHECK(ipc_send(sv[0], &out, IPC_SPAWN, &err) == -1);
    CHECK_STR_CONTAINS(err.msg, "no size");
    CHECK(recv(sv[1], raw, sizeof raw, MSG_DONTWAIT) == -1 && errno == EAGAIN);
}

static void test_report_checks(void)
{
    hdr(IPC_SPAWN_FAILED, ID1);
    out.failed.status = 500;
    memset(out.failed.msg, 'm', sizeof out.failed.msg);
    EXPECT_REFUSED(sizeof(struct ipc_spawn_failed), "unterminated failure message");
    hdr(IPC_SPAWN_FAILED, ID1);
    out.failed.status = 200; /* a failure is never a success */
    EXPECT_REFUSED(sizeof(struct ipc_spawn_failed), "bad status 200");

    hdr(IPC_EXITED, ID1);
    out.exited.reason = RS_NONE;
    EXPECT_REFUSED(sizeof(struct ipc_exited), "bad reason 0");
    hdr(IPC_EXITED, ID1);
    out.exited.reason = RS_DAEMON_RESTART + 1;
    EXPECT_REFUSED(sizeof(struct ipc_exited), "bad reason 11");
    hdr(IPC_EXITED, ID1);
    out.exited.reason = 0x80000000U;
    EXPECT_REFUSED(sizeof(struct ipc_exited), "bad reason 2147483648");
    hdr(IPC_EXITED, ID1);
    out.exited.reason = RS_DAEMON_RESTART;
    CHECK(round_trip(IPC_EXITED));
}

/* ---- ends of the connection ---------------------------------------------- */

static void test_eof(void)
{
    pair_open();
    hdr(0, ID1);
    CHECK(ipc_send(sv[0], &out, IPC_KILL, &err) == 0);
    close(sv[0]);
    sv[0] = -1;
    /* The queued message first, then an orderly EOF, again and again. */
    CHECK(ipc_recv(sv[1], &in, &err) == 1 && in.h.type == IPC_KILL);
    CHECK(ipc_recv(sv[1], &in, &err) == 0);
    CHECK(ipc_recv(sv[1], &in, &err) == 0);
    pair_close();

    /* Sending to a closed peer fails with EPIPE, without SIGPIPE. */
    pair_open();
    close(sv[1]);
    sv[1] = -1;
    hdr(0, ID1);
    jc_err_clear(&err);
    CHECK(ipc_send(sv[0], &out, IPC_KILL, &err) == -1);
    CHECK(err.errnum == EPIPE && err.fault == JC_FAULT_SERVER);
    CHECK_STR_CONTAINS(err.msg, "ipc: send");
    pair_close();

    /* A bad descriptor is an error, not EOF. */
    jc_err_clear(&err);
    CHECK(ipc_recv(-1, &in, &err) == -1 && err.errnum == EBADF);
}

/* ---- the non-blocking channel ------------------------------------------ */

/* Send KILLs numbered by the id's last digits until the socket is full. */
static unsigned fill_socket(struct ipc_chan *c)
{
    unsigned n = 0;

    for (; c->len == 0 && n < 100000; n++) {
        hdr(0, ID1);
        snprintf(out.h.id + 28, 9, "%08x", n);
        CHECK(ipc_chan_send(c, &out, IPC_KILL, &err) == 0);
    }
    return n; /* the last one was queued */
}

static void test_chan(void)
{
    struct ipc_chan c;
    unsigned sent;

    pair_open();
    CHECK(ipc_chan_init(&c, sv[0], 4, &err) == 0);
    sent = fill_socket(&c);
    CHECK(sent > 1 && c.len == 1);      /* never blocked: queued instead */
    for (unsigned i = 0; i < 3; i++)    /* the queue takes three more */
        CHECK(ipc_chan_send(&c, &out, IPC_SPAWNED, &err) == 0);
    CHECK(ipc_chan_flush(&c) == 4 && ipc_chan_stalled_ms(&c) >= 0);
    /* The reader takes one: one queued message goes out, in order. */
    CHECK(ipc_recv(sv[1], &in, &err) == 1 && in.h.type == IPC_KILL);
    CHECK(strtoul(in.h.id + 28, NULL, 16) == 0);
    CHECK(ipc_chan_flush(&c) == 3);
    /* Full: a fifth waiting message fails the channel, for good. */
    unsigned more = 0;
    while (more < 10 && ipc_chan_send(&c, &out, IPC_SPAWNED, &err) == 0)
        more++;
    CHECK(more == 1);
    CHECK_STR_CONTAINS(err.msg, "let 4 messages wait");
    CHECK(ipc_chan_failed(&c) == ENOBUFS && ipc_chan_flush(&c) == -1);
    /* Everything sent before arrives in order: KILLs 1.., then SPAWNEDs. */
    for (unsigned i = 1; i < sent; i++)
        CHECK(ipc_recv(sv[1], &in, &err) == 1 && strtoul(in.h.id + 28, NULL, 16) == i);
    ipc_chan_free(&c);
    pair_close();

    /* A peer that is gone fails the channel with its errno. */
    pair_open();
    CHECK(ipc_chan_init(&c, sv[0], 4, &err) == 0);
    close(sv[1]);
    sv[1] = -1;
    hdr(0, ID1);
    CHECK(ipc_chan_send(&c, &out, IPC_KILL, &err) == -1 && err.errnum == EPIPE);
    CHECK(ipc_chan_failed(&c) == EPIPE);
    ipc_chan_free(&c);
    pair_close();
}

/* ---- descriptors: SPAWN's stdin and files (ipc.c fd passing, input.c) -- */

static struct jc_input input;

static void make_spawn_input(const char *body)
{
    struct jc_config cfg;
    struct jc_err e = {0};

    config_defaults(&cfg);
    hdr(IPC_SPAWN, ID1);
    jc_input_free(&input);
    CHECK(request_parse(&cfg, NULL, body, strlen(body), &out.spawn.spec, &input, &e) == 0);
    snprintf(out.spawn.spec.id, sizeof out.spawn.spec.id, "%s", ID1);
}

static int fd_open(int fd) { return fcntl(fd, F_GETFD) >= 0; }

/* The spec's memfds go across and come out checked, sealed, high, readable. */
static void test_input_fds(void)
{
    int fds[INPUT_NFDS], list[INPUT_NFDS], got[IPC_MAX_FDS], checked[INPUT_NFDS];
    unsigned n, ngot;
    char buf[16];

    make_spawn_input("{\"name\":\"in\",\"command\":[\"/bin/cat\"],\"stdin\":\"hello\","
                     "\"files\":{\"a\":\"12\",\"b\":\"345\"}}");
    CHECK(input_count(&out.spawn.spec) == 2);
    CHECK(input_seal(&out.spawn.spec, &input, fds, list, &n, &err) == 0 && n == 2);
    CHECK(ipc_send_fds(sv[0], &out, IPC_SPAWN, list, n, &err) == 0);
    input_close(fds);
    CHECK(ipc_recv_fds(sv[1], &in, got, &ngot, &err) == 1 && ngot == 2);
    CHECK(input_check(&in.spawn.spec, got, ngot, checked, &err) == 0);
    CHECK(checked[INPUT_STDIN] >= 10 && checked[INPUT_FILES] >= 10);
    CHECK(!fd_open(got[0]) && !fd_open(got[1])); /* moved, not copied */
    CHECK(read(checked[INPUT_STDIN], buf, sizeof buf) == 5 && memcmp(buf, "hello", 5) == 0);
    CHECK(read(checked[INPUT_STDIN], buf, sizeof buf) == 0); /* then EOF */
    CHECK(pread(checked[INPUT_FILES], buf, sizeof buf, 0) == 5 && memcmp(buf, "12345", 5) == 0);
    CHECK(write(checked[INPUT_STDIN], "x", 1) < 0 && errno == EPERM); /* sealed */
    CHECK(ftruncate(checked[INPUT_FILES], 1) < 0 && errno == EPERM);
    CHECK(fcntl(checked[INPUT_STDIN], F_GETFD) & FD_CLOEXEC);
    input_close(checked);
}

/* A SPAWN that has to wait in the channel's queue keeps its descriptors
 * (duplicates), though the sender closed its own copies at once. */
static void test_chan_fds(void)
{
    int fds[INPUT_NFDS], list[INPUT_NFDS], got[IPC_MAX_FDS], checked[INPUT_NFDS];
    unsigned n, ngot, sent;
    struct ipc_chan c;
    char buf[16];

    pair_open();
    CHECK(ipc_chan_init(&c, sv[0], 4, &err) == 0);
    sent = fill_socket(&c);
    make_spawn_input("{\"name\":\"in\",\"command\":[\"/bin/cat\"],\"stdin\":\"queued\"}");
    CHECK(input_seal(&out.spawn.spec, &input, fds, list, &n, &err) == 0 && n == 1);
    CHECK(ipc_chan_send_fds(&c, &out, IPC_SPAWN, list, n, &err) == 0 && c.len == 2);
    input_close(fds); /* the sender's copies go at once */
    for (unsigned i = 0; i + 1 < sent; i++)
        CHECK(ipc_recv(sv[1], &in, &err) == 1 && in.h.type == IPC_KILL);
    CHECK(ipc_chan_flush(&c) == 0);
    CHECK(ipc_recv(sv[1], &in, &err) == 1 && in.h.type == IPC_KILL);
    CHECK(ipc_recv_fds(sv[1], &in, got, &ngot, &err) == 1 && in.h.type == IPC_SPAWN && ngot == 1);
    CHECK(input_check(&in.spawn.spec, got, ngot, checked, &err) == 0);
    CHECK(read(checked[INPUT_STDIN], buf, sizeof buf) == 6 && memcmp(buf, "queued", 6) == 0);
    input_close(checked);
    jc_input_free(&input);
    ipc_chan_free(&c);
    pair_close();
}

/* What a compromised front might send instead is refused, and closed. */
static void test_input_fds_refused(void)
{
    int fds[INPUT_NFDS], list[INPUT_NFDS], got[IPC_MAX_FDS], checked[INPUT_NFDS], p[2];
    unsigned n, ngot;

    /* Fewer descriptors than the spec announces. */
    make_spawn_input("{\"name\":\"in\",\"command\":[\"/bin/cat\"],\"stdin\":\"hello\"}");
    CHECK(ipc_send_fds(sv[0], &out, IPC_SPAWN, NULL, 0, &err) == 0);
    CHECK(ipc_recv_fds(sv[1], &in, got, &ngot, &err) == 1 && ngot == 0);
    CHECK(input_check(&in.spawn.spec, got, ngot, checked, &err) < 0);
    CHECK_STR_CONTAINS(err.msg, "0 descriptors");
    /* A pipe instead of a sealed memfd. */
    CHECK(pipe(p) == 0);
    CHECK(ipc_send_fds(sv[0], &out, IPC_SPAWN, &p[0], 1, &err) == 0);
    CHECK(ipc_recv_fds(sv[1], &in, got, &ngot, &err) == 1 && ngot == 1);
    CHECK(input_check(&in.spawn.spec, got, ngot, checked, &err) < 0);
    CHECK_STR_CONTAINS(err.msg, "not a sealed memfd");
    CHECK(!fd_open(got[0]));
    close(p[0]);
    close(p[1]);
    /* A sealed memfd of another size than the spec says. */
    CHECK(input_seal(&out.spawn.spec, &input, fds, list, &n, &err) == 0 && n == 1);
    out.spawn.spec.stdin_len = 4;
    CHECK(ipc_send_fds(sv[0], &out, IPC_SPAWN, list, n, &err) == 0);
    input_close(fds);
    CHECK(ipc_recv_fds(sv[1], &in, got, &ngot, &err) == 1 && ngot == 1);
    CHECK(input_check(&in.spawn.spec, got, ngot, checked, &err) < 0);
    CHECK_STR_CONTAINS(err.msg, "does not hold 4 bytes");
    CHECK(!fd_open(got[0]));
    /* Descriptors on anything but SPAWN make the message malformed. */
    CHECK(pipe(p) == 0);
    hdr(0, ID2);
    CHECK(ipc_send_fds(sv[0], &out, IPC_KILL, &p[0], 1, &err) == 0);
    CHECK(ipc_recv_fds(sv[1], &in, got, &ngot, &err) < 0 && ngot == 1);
    CHECK_STR_CONTAINS(err.msg, "with descriptors");
    close(got[0]);
    /* ipc_recv() takes none at all, and closes what came. */
    make_spawn_input("{\"name\":\"in\",\"command\":[\"/bin/cat\"]}");
    CHECK(ipc_send_fds(sv[0], &out, IPC_SPAWN, &p[0], 1, &err) == 0);
    CHECK(ipc_recv(sv[1], &in, &err) < 0);
    CHECK_STR_CONTAINS(err.msg, "unexpected descriptors");
    close(p[0]);
    CHECK(write(p[1], "x", 1) < 0 && errno == EPIPE); /* no reader left anywhere */
    close(p[1]);
    /* A spec with a bad file name never passes validation. */
    make_spawn_input("{\"name\":\"in\",\"command\":[\"/bin/cat\"],\"files\":{\"a\":\"1\"}}");
    snprintf(out.spawn.spec.files[0].name, sizeof out.spawn.spec.files[0].name, "../x");
    CHECK(ipc_send(sv[0], &out, IPC_SPAWN, &err) == 0);
    CHECK(ipc_recv(sv[1], &in, &err) < 0);
    CHECK_STR_CONTAINS(err.msg, "bad input file name");
    jc_input_free(&input);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* belt and braces: ipc_send uses MSG_NOSIGNAL */
    pair_open();
    test_round_trips();
    test_header_checks();
    test_spawn_checks();
    test_spawn_length();
    test_report_checks();
    test_input_fds();
    test_input_fds_refused();
    pair_close();
    test_eof();
    test_chan();
    test_chan_fds();
    return check_summary();
}
