/* init_proto.h — the status protocol between jobcell-init (PID 1 inside a
 * task's pid namespace) and the daemon that spawned it.
 *
 * Shared, header-only: included by rootfs/init.c (static, musl, inside the
 * sandbox) and by the daemon (glibc, outside).  Depends on <stdint.h> only.
 *
 * Transport: fd 3 of jobcell-init is the write end of a blocking pipe (the
 * "status pipe"); init marks it close-on-exec so the task never sees it.
 * Each message is one struct jc_init_msg, 8 bytes, native endianness (both
 * ends run on the same host), written with a single write() (atomic: far
 * below PIPE_BUF).  The reader must treat a short read or an unknown kind as
 * a protocol error.
 *
 * Sequence (at most two records):
 *   JC_INIT_STARTED      value = PROGRAM's pid inside the namespace; sent once
 *                        execve(PROGRAM) has succeeded (init knows because
 *                        its close-on-exec report pipe hit EOF).
 *     then JC_INIT_ENDED value = PROGRAM's raw wait status (decode with
 *                        WIFEXITED/WEXITSTATUS/WIFSIGNALED/WTERMSIG).
 *   or JC_INIT_EXEC_FAILED value = errno of PROGRAM's failed execve (e.g.
 *                        ENOENT, EACCES, ENOEXEC); init then exits 127.
 *   or JC_INIT_FORK_FAILED value = errno of init's fork() for PROGRAM (EAGAIN
 *                        when a pids limit is used up); init then exits 125.
 *
 * The go pipe: fd 4 of jobcell-init is the read end of a second pipe whose
 * write end only the daemon holds.  Init forks PROGRAM only once it reads EOF
 * there: the daemon closes its end when the task's CPU limit is in place, so
 * PROGRAM never runs a moment without it (the sandbox's set-up before it is
 * the daemon's work and runs unthrottled: docs/limits.md).
 *
 * EOF with no record at all means init itself failed before starting PROGRAM
 * (bad arguments, fd 3 unusable, pipe2 failure); init says why on stderr and
 * exits 125.  EOF after STARTED without ENDED means init was killed (e.g.
 * SIGKILL from the warden, cgroup.kill, OOM).
 *
 * jobcell-init's own exit status mirrors PROGRAM: its exit code, or 128+N when
 * PROGRAM was killed by signal N; 127 when the execve failed; 125 when init
 * failed. */
#pragma once

#include <stdint.h>

enum jc_init_kind {
    JC_INIT_STARTED = 1,     /* value: PROGRAM's pid in the namespace */
    JC_INIT_EXEC_FAILED = 2, /* value: errno of execve(PROGRAM) */
    JC_INIT_ENDED = 3,       /* value: raw wait status of PROGRAM */
    JC_INIT_FORK_FAILED = 4, /* value: errno of init's fork() */
};

struct jc_init_msg {
    uint32_t kind;  /* enum jc_init_kind */
    int32_t value;
};

#define JC_INIT_STATUS_FD 3          /* fd init writes its records to */
#define JC_INIT_GO_FD 4              /* fd init reads EOF on before forking */
#define JC_INIT_EXIT_INIT_FAILED 125 /* init's own failure */
#define JC_INIT_EXIT_EXEC_FAILED 127 /* execve(PROGRAM) failed */

#ifndef __cplusplus
_Static_assert(sizeof(struct jc_init_msg) == 8, "jc_init_msg must be 8 bytes");
#endif
