/* devdir.h — the /dev every task sees, prepared once by the warden.
 *
 * At start-up the warden takes a mount namespace of its own (a slave of the
 * host's: host mounts still reach it, none of its own leaves it) and in it
 * mounts a small tmpfs on /run/jobcell/<cgroup_name>.dev, a root-owned
 * directory it creates, holding the task's whole /dev: the host's null,
 * zero, full, random and urandom bound onto empty files (mknod would need
 * CAP_MKNOD, which systemd's PrivateDevices=yes takes away) and the
 * symlinks fd, stdin, stdout and stderr into /proc/self/fd; then it makes
 * the tmpfs read-only (superblock and mount; nosuid, noexec) and checks that
 * it holds exactly these nine entries, each node the host's very inode.
 * Each task's child binds it recursively onto its overlay's /dev and
 * remounts the bind read-only (child.c mount_dev): two mount calls where
 * /dev used to take a tmpfs, five files, five binds, four symlinks and a
 * remount — the same end state.
 *
 * Why there: the child resolves the path as the task's host uid (so every
 * directory on the way is world-searchable: /run, /run/jobcell, then the
 * tmpfs's root, mode 0755; the state directory may be 0700), and outside
 * the rootfs (overlayfs refuses a lower layer holding a mount locked by a
 * more privileged namespace).
 *
 * Nobody outside the warden sees the tmpfs: on the host the directory stays
 * empty, the mount needs no cleaning (it goes with the warden's namespace,
 * whatever way the warden ends; a clean stop also removes the directory),
 * and only a root process that enters the warden's namespace could remount
 * it writable.
 *
 * Should root on the host remove the directory (an operator's cleaner, rm
 * -rf /run/jobcell), the kernel detaches the tmpfs in every namespace; so
 * does removing a host node for its bind.  Before each spawn and each cell
 * build, devdir_ensure() looks for the null the last preparation bound
 * (one lstat) and, if it is gone, logs it and prepares the tree again.
 * Every preparation builds the tree at <path>.new, checks it, and only
 * then moves it onto <path> (MS_MOVE): a child cloned meanwhile sees all of
 * it or nothing there, and one that finds nothing (or the empty directory
 * a preparation has just made) fails closed (child.c mount_dev) — never a
 * task without its /dev.  A preparation that fails (a symlink planted at
 * the path) fails that spawn (a 500 naming it) and the next one tries again.
 * Runs in: the warden's main thread, at start-up, before it starts its
 * monitor thread (unshare(CLONE_NEWNS) refuses a process with threads);
 * devdir_ensure() in the spawning threads (main, cell builder), one at a
 * time. */
#pragma once

#include <stddef.h>

#include "error.h"

#define DEVDIR_NODES 5
#define DEVDIR_LINKS 4

/* The device nodes' names (the host's own are /dev/<name>) and the links. */
extern const char *const devdir_nodes[DEVDIR_NODES];
extern const char *const devdir_links[DEVDIR_LINKS][2]; /* {target, name} */

#define DEVDIR_RUN "/run/jobcell"

/* Take the private mount namespace and prepare the /dev of the daemon
 * whose cgroup_name is `name` in it, checked; *path (PATH_MAX): where. */
int devdir_prepare(const char *name, char *path, struct jc_err *err);

/* Before a spawn or a cell build: the prepared /dev still there, or
 * prepared again (logged).  Thread-safe. */
int devdir_ensure(struct jc_err *err);

/* At the warden's end: unmount it, remove the directory (best effort). */
void devdir_remove(const char *path);
