/* devdir.c — the task's /dev, prepared once, and again should it vanish
 * (see devdir.h).
 * Runs in: the warden's main thread, at start-up, single-threaded
 * (devdir_prepare); then in its spawning threads, the main thread and the
 * cell builder (devdir_ensure, under g_lock). */
#include "devdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "log.h"

const char *const devdir_nodes[DEVDIR_NODES] = {"null", "zero", "full", "random", "urandom"};
const char *const devdir_links[DEVDIR_LINKS][2] = {
    {"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"},
    {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"},
};

/* As the per-task tmpfs it replaces: 64 KiB, 64 inodes, mode 0755. */
#define DEVDIR_OPTS "size=64k,nr_inodes=64,mode=755"
#define DEVDIR_FLAGS (MS_NOSUID | MS_NOEXEC)
/* Where a /dev is built before it is moved onto <path> in one step: a
 * child cloned meanwhile sees the whole tree there or none. */
#define DEVDIR_STAGE ".new"

/* One preparation at a time; where it is, its null's path, and what the
 * last one bound there (the host's inode: what devdir_ensure() looks for);
 * whether it is known to be gone (logged once per absence). */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static char g_dev[PATH_MAX], g_null[PATH_MAX + 8];
static dev_t g_null_dev;
static ino_t g_null_ino;
static bool g_gone;

/* A mount namespace of the warden's own: what it mounts stays in it (and
 * goes with it), what the host mounts still arrives (slave). */
static int own_mount_ns(struct jc_err *err)
{
    if (unshare(CLONE_NEWNS) < 0)
        return jc_fail(err, errno, "unshare(CLONE_NEWNS)");
    if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
        return jc_fail(err, errno, "make the warden's mounts slaves of the host's");
    return 0;
}

static void fd_path(char *buf, size_t len, int fd)
{
    snprintf(buf, len, "/proc/self/fd/%d", fd);
}

/* A directory of root's that no one else may write to; never a symlink
 * (that could lead the mount elsewhere).  Created if missing. */
static int root_dir(const char *path, struct stat *st, struct jc_err *err)
{
    int fd;

    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        return jc_fail(err, errno, "mkdir %s", path);
    fd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fstat(fd, st) < 0) {
        jc_fail(err, errno, "%s is not a directory", path);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (st->st_uid != 0 || (st->st_mode & 022) || (st->st_mode & 0555) != 0555) {
        close(fd);
        return jc_fail(err, 0, "%s is not root's, mode 0755", path);
    }
    return fd;
}

/* The tmpfs onto its directory; returns its root, open. */
static int mount_tmpfs(const char *dev, struct jc_err *err)
{
    char at[32];
    struct stat below, st;
    _cleanup_close_ int run = root_dir(DEVDIR_RUN, &st, err);
    _cleanup_close_ int under = run < 0 ? -1 : root_dir(dev, &below, err);

    if (under < 0)
        return -1;
    fd_path(at, sizeof at, under);
    if (mount("tmpfs", at, "tmpfs", DEVDIR_FLAGS, DEVDIR_OPTS) < 0)
        return jc_fail(err, errno, "mount a tmpfs on %s", dev);
    int root = open(dev, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (root < 0 || fstat(root, &st) < 0 || st.st_dev == below.st_dev) {
        jc_fail(err, root < 0 ? errno : 0, "%s is not the tmpfs just mounted", dev);
        if (root >= 0)
            close(root);
        return -1;
    }
    return root;
}

/* The host's node, checked to be a character device. */
static int host_node(const char *name, struct stat *st, struct jc_err *err)
{
    char host[32];

    snprintf(host, sizeof host, "/dev/%s", name);
    if (stat(host, st) < 0)
        return jc_fail(err, errno, "stat %s", host);
    if (!S_ISCHR(st->st_mode))
        return jc_fail(err, 0, "%s is not a character device", host);
    return 0;
}

/* The host's nodes bound onto empty files (mknod would need CAP_MKNOD,
 * which systemd's PrivateDevices=yes takes away), then the links. */
static int populate(const char *dev, int root, struct jc_err *err)
{
    char host[32], path[PATH_MAX + 16];
    struct stat st;

    for (int i = 0; i < DEVDIR_NODES; i++) {
        const char *n = devdir_nodes[i];
        int fd = openat(root, n, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd < 0)
            return jc_fail(err, errno, "create the task's /dev/%s", n);
        close(fd);
        if (host_node(n, &st, err) < 0)
            return -1;
        snprintf(host, sizeof host, "/dev/%s", n);
        snprintf(path, sizeof path, "%s/%s", dev, n);
        if (mount(host, path, NULL, MS_BIND, NULL) < 0)
            return jc_fail(err, errno, "bind %s onto the task's /dev/%s", host, n);
    }
    for (int i = 0; i < DEVDIR_LINKS; i++)
        if (symlinkat(devdir_links[i][0], root, devdir_links[i][1]) < 0)
            return jc_fail(err, errno, "symlink the task's /dev/%s", devdir_links[i][1]);
    return 0;
}

/* Read-only: the superblock (no mount of it can write) and this mount
 * (the nodes' binds below it keep the host's flags, as they did when each
 * task bound them itself). */
static int seal(int root, struct jc_err *err)
{
    char at[32];
    struct statvfs sv;

    fd_path(at, sizeof at, root);
    if (mount(NULL, at, NULL, MS_REMOUNT | MS_RDONLY | DEVDIR_FLAGS, DEVDIR_OPTS) < 0)
        return jc_fail(err, errno, "remount the task's /dev read-only");
    if (fstatvfs(root, &sv) < 0)
        return jc_fail(err, errno, "statvfs the task's /dev");
    if (!(sv.f_flag & ST_RDONLY) || !(sv.f_flag & ST_NOSUID) || !(sv.f_flag & ST_NOEXEC))
        return jc_fail(err, 0, "the task's /dev is not read-only, nosuid, noexec");
    return 0;
}

/* The very inode of the host's node (the bind), a character device. */
static bool node_ok(int root, const char *name)
{
    struct stat st, host;
    struct jc_err ignored;

    return fstatat(root, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && host_node(name, &host, &ignored) == 0 &&
           S_ISCHR(st.st_mode) && st.st_dev == host.st_dev && st.st_ino == host.st_ino;
}

static bool link_ok(int root, const char *target, const char *name)
{
    char buf[64];
    ssize_t n = readlinkat(root, name, buf, sizeof buf);

    return n == (ssize_t)strlen(target) && memcmp(buf, target, (size_t)n) == 0;
}

/* Each entry what it must be, and nothing else there. */
static int check(int root, struct jc_err *err)
{
    struct statfs sf;
    struct stat null;
    unsigned n = 0;

    if (fstatfs(root, &sf) < 0 || sf.f_type != TMPFS_MAGIC)
        return jc_fail(err, errno, "the task's /dev is not a tmpfs");
    for (int i = 0; i < DEVDIR_NODES; i++)
        if (!node_ok(root, devdir_nodes[i]))
            return jc_fail(err, 0, "the task's /dev/%s is not the host's node", devdir_nodes[i]);
    for (int i = 0; i < DEVDIR_LINKS; i++)
        if (!link_ok(root, devdir_links[i][0], devdir_links[i][1]))
            return jc_fail(err, 0, "the task's /dev/%s is not a link to %s", devdir_links[i][1],
                           devdir_links[i][0]);
    DIR *d = fdopendir(dup(root));
    if (!d)
        return jc_fail(err, errno, "list the task's /dev");
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    if (n != DEVDIR_NODES + DEVDIR_LINKS)
        return jc_fail(err, 0, "the task's /dev holds %u entries, not %d", n, DEVDIR_NODES + DEVDIR_LINKS);
    if (fstatat(root, "null", &null, AT_SYMLINK_NOFOLLOW) < 0)
        return jc_fail(err, errno, "stat the task's /dev/null");
    g_null_dev = null.st_dev;
    g_null_ino = null.st_ino;
    return 0;
}

/* Every mount on path, in this namespace, detached (none: EINVAL). */
static void unmount_all(const char *path)
{
    while (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
        ;
}

/* The tree built at stage moved onto dev (an earlier one, whose nodes are
 * gone, detached first): one step, so no child sees a part of it. */
static int move_into_place(int root, const char *dev, struct jc_err *err)
{
    char from[32], to[32];
    struct stat st;

    unmount_all(dev);
    _cleanup_close_ int at = root_dir(dev, &st, err);
    if (at < 0)
        return -1;
    fd_path(from, sizeof from, root);
    fd_path(to, sizeof to, at);
    if (mount(from, to, NULL, MS_MOVE, NULL) < 0)
        return jc_fail(err, errno, "move the task's /dev onto %s", dev);
    return 0;
}

/* Built at <dev>.new, checked, then moved onto dev.  Once the tmpfs is
 * there, whatever happens it leaves the stage (unmounted through its own
 * root: only what was mounted here) and the stage is removed. */
static int build(const char *dev, struct jc_err *err)
{
    char stage[PATH_MAX], at[32];

    if (snprintf(stage, sizeof stage, "%s%s", dev, DEVDIR_STAGE) >= (int)sizeof stage)
        return jc_fail(err, ENAMETOOLONG, "%s", dev);
    int root = mount_tmpfs(stage, err);
    if (root < 0)
        return -1;
    int rc = populate(stage, root, err) == 0 && seal(root, err) == 0 && check(root, err) == 0
                 ? move_into_place(root, dev, err)
                 : -1;
    fd_path(at, sizeof at, root);
    if (rc < 0 && umount2(at, MNT_DETACH) < 0)
        log_warn("umount %s", stage);
    close(root);
    if (rmdir(stage) < 0)
        log_warn("rmdir %s", stage);
    return rc;
}

int devdir_prepare(const char *name, char *path, struct jc_err *err)
{
    char dev[PATH_MAX];

    snprintf(dev, sizeof dev, "%s/%s.dev", DEVDIR_RUN, name);
    if (own_mount_ns(err) < 0)
        return -1;
    if (build(dev, err) < 0)
        return jc_err_prefix(err, "the task's /dev: ");
    /* Only now: devdir_remove() never touches what it did not prepare. */
    memcpy(path, dev, sizeof dev);
    memcpy(g_dev, dev, sizeof dev);
    snprintf(g_null, sizeof g_null, "%s/null", dev);
    return 0;
}

/* Its null the very inode the last preparation bound there. */
static bool present(void)
{
    struct stat st;

    return lstat(g_null, &st) == 0 && S_ISCHR(st.st_mode) && st.st_dev == g_null_dev &&
           st.st_ino == g_null_ino;
}

int devdir_ensure(struct jc_err *err)
{
    int rc = 0;

    pthread_mutex_lock(&g_lock);
    if (g_dev[0] && !present()) {
        if (!g_gone)
            log_warnx("the task's /dev %s is gone (removed on the host?): preparing it again", g_dev);
        g_gone = true;
        rc = build(g_dev, err);
        if (rc < 0)
            jc_err_prefix(err, "the task's /dev, prepared again: ");
        else
            log_info("the task's /dev %s: prepared again", g_dev);
        g_gone = rc < 0;
    }
    pthread_mutex_unlock(&g_lock);
    return rc;
}

void devdir_remove(const char *path)
{
    char stage[PATH_MAX + sizeof DEVDIR_STAGE];

    if (!path[0])
        return;
    snprintf(stage, sizeof stage, "%s%s", path, DEVDIR_STAGE);
    if (rmdir(stage) < 0 && errno != ENOENT) /* a stop in the middle of devdir_ensure() */
        log_warn("rmdir %s", stage);
    if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT)
        log_warn("umount %s", path);
    if (rmdir(path) < 0 && errno != ENOENT)
        log_warn("rmdir %s", path);
}
