/* util.h — small helpers both processes link: clocks, thread names, and
 * the one bounded file reader (no symlinks, no FIFOs or devices, at most
 * `cap` bytes).
 * Runs in: any process or thread.  No state. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "error.h"

/* Milliseconds of `clk` (CLOCK_REALTIME: since the epoch). */
int64_t jc_now_ms(clockid_t clk);

/* Name the calling thread (at most 15 bytes; `ps -L`, `top -H`, perf and
 * /proc/PID/task/TID/comm show it): every thread of ours is named by its
 * start function, "jc-" and its job (docs/design.md, "Threads"). */
void jc_name_thread(const char *name);

/* *ts = now on CLOCK_MONOTONIC + ms: the deadline of a timed wait on a
 * condition variable whose clock is CLOCK_MONOTONIC. */
void jc_mono_after(struct timespec *ts, int64_t ms);

/* Read the regular file `name` under dirfd (AT_FDCWD for a path) whole into
 * a malloc'd, NUL-terminated *out (*len bytes, len may be NULL).  A file
 * over `cap` bytes, a symlink or a non-regular file is refused (a client
 * fault 400: the file is to blame).  Messages start with `label` (NULL:
 * name).  The one reader of whole files (cgroup counters, kernel files
 * without a size, are read by cgroup.c into fixed buffers). */
int jc_read_file_at(int dirfd, const char *name, const char *label, size_t cap, char **out,
                    size_t *len, struct jc_err *err);

/* The SHA-256 of data as 64 hex digits and a NUL. */
void jc_sha256_hex(const char *data, size_t len, char hex[65]);
