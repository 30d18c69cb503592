/* idrange.h — are the host ids the tasks run as nobody else's?  Slot i of
 * the warden runs as host uid and gid uid_base + i (docs/configuration.md),
 * for i below max_running + pool_size; a user, a group or a subordinate
 * range (/etc/subuid, /etc/subgid: user namespaces of others) that holds
 * one of them would share the task's files and could signal its
 * processes.  The local files are read (a directory service's ids are
 * not: the operator's to keep apart).
 * Runs in: the daemon's start-up and --check-config (root, before the
 * fork); pure file parsing, unit-tested with files of its own. */
#pragma once

#include <stdint.h>

#include "error.h"

/* The files read; a unit test points them elsewhere. */
struct idrange_files {
    const char *passwd, *group, *subuid, *subgid;
};

extern const struct idrange_files idrange_system; /* /etc/passwd, /etc/group, /etc/subuid, /etc/subgid */

/* 0: no id in [base, base + n) is held by an entry of the files (a file
 * that does not exist holds none); -1 (err: the first entry that does,
 * its file and line, and the range).  A file that cannot be read, or is
 * over 16 MiB, is a failure too: it is not known to be clear. */
int idrange_check(const struct idrange_files *f, uint32_t base, uint32_t n, struct jc_err *err);
