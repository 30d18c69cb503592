/* init_proto.h — the channel between jobcell-init (PID 1 inside a task's
 * pid namespace) and the daemon that spawned it.
 *
 * Shared, header-only: included by rootfs/init.c (static, musl, inside the
 * sandbox) and by the daemon (glibc, outside).  Depends on <stdint.h> only.
 *
 * Transport: fd 3 of jobcell-init is its end of a SOCK_SEQPACKET socketpair
 * (the "channel"); the daemon holds the other end, its only descriptor of
 * a running task.  Init marks fd 3 close-on-exec, so the program never
 * holds it; a socket, unlike a pipe, cannot be opened again through
 * /proc/1/fd, and init is not dumpable (no ptrace, no /proc/1/mem).  Each
 * record is one datagram that starts with a struct jc_init_msg (8 bytes,
 * native endianness: both ends run on the same host); message boundaries
 * are kept.  A record shorter than 8 bytes, an unknown kind, or an OUTPUT
 * whose value is not the length of what follows is a protocol error.
 *
 * Output: the program's stdout and stderr are one pipe whose read end only
 * init holds.  Init relays what comes out of it as JC_INIT_OUTPUT records
 * (value = bytes that follow, 1..JC_INIT_CHUNK), its own messages ("jobcell-
 * init: ...") too.  The channel is the backpressure: init reads the pipe
 * only while its last record went out, so a program that prints faster
 * than the daemon stores blocks in write(), never the daemon.
 *
 * Sequence:
 *   JC_INIT_STARTED      value = PROGRAM's pid inside the namespace; sent once
 *                        execve(PROGRAM) has succeeded (init knows because
 *                        its close-on-exec report pipe hit EOF).  Before it,
 *                        no output of PROGRAM's is relayed.
 *     then JC_INIT_OUTPUT records, any number,
 *     then JC_INIT_ENDED value = PROGRAM's raw wait status (decode with
 *                        WIFEXITED/WEXITSTATUS/WIFSIGNALED/WTERMSIG), after
 *                        what the pipe held when PROGRAM ended (what
 *                        PROGRAM's orphans write later is not relayed).
 *   or JC_INIT_EXEC_FAILED value = errno of PROGRAM's failed execve (e.g.
 *                        ENOENT, EACCES, ENOEXEC); init then exits 127.
 *   or JC_INIT_FORK_FAILED value = errno of init's fork() for PROGRAM (EAGAIN
 *                        when a pids limit is used up); init then exits 125.
 *
 * The go pipe: fd 4 of jobcell-init is the read end of a pipe whose write
 * end only the daemon holds.  Init forks PROGRAM only once it reads EOF
 * there: the daemon closes its end when the task's CPU limit is in place, so
 * PROGRAM never runs a moment without it (the sandbox's set-up before it is
 * the daemon's work and runs unthrottled: docs/limits.md).
 *
 * fds 1 and 2 of init itself are /dev/null: everything it says goes through
 * the channel.
 *
 * EOF (recv returns 0) with no STARTED/EXEC_FAILED/FORK_FAILED means init
 * itself failed before starting PROGRAM (bad arguments, fd 3 unusable, pipe2
 * failure); init says why in an OUTPUT record when it can and exits 125.
 * EOF after STARTED without ENDED means init was killed (e.g. SIGKILL from
 * the warden, cgroup.kill, OOM).
 *
 * jobcell-init's own exit status mirrors PROGRAM: its exit code, or 128+N when
 * PROGRAM was killed by signal N; 127 when the execve failed; 125 when init
 * failed. */
#pragma once

#include <stdint.h>

/* Where init is in the rootfs (the warden's spawn stub execs it). */
#define JC_INIT_PATH "/sbin/jobcell-init"

enum jc_init_kind {
    JC_INIT_STARTED = 1,     /* value: PROGRAM's pid in the namespace */
    JC_INIT_EXEC_FAILED = 2, /* value: errno of execve(PROGRAM) */
    JC_INIT_ENDED = 3,       /* value: raw wait status of PROGRAM */
    JC_INIT_FORK_FAILED = 4, /* value: errno of init's fork() */
    JC_INIT_OUTPUT = 5,      /* value: bytes of output that follow */
};

struct jc_init_msg {
    uint32_t kind;  /* enum jc_init_kind */
    int32_t value;
};

#define JC_INIT_CHAN_FD 3            /* init's end of the channel */
#define JC_INIT_GO_FD 4              /* fd init reads EOF on before forking */
#define JC_INIT_CHUNK 65536          /* output bytes per OUTPUT record at most */
#define JC_INIT_EXIT_INIT_FAILED 125 /* init's own failure */
#define JC_INIT_EXIT_EXEC_FAILED 127 /* execve(PROGRAM) failed */

#ifndef __cplusplus
_Static_assert(sizeof(struct jc_init_msg) == 8, "jc_init_msg must be 8 bytes");
#endif
