/* input.c — sealed memfds for a task's stdin and files (see input.h).
 * Runs in: the front's HTTP threads and the warden's main thread. */
#include "input.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

unsigned input_count(const struct jc_spec *s) { return (unsigned)s->has_stdin + (s->nfiles > 0); }

void input_close(int fds[INPUT_NFDS])
{
    for (int i = 0; i < INPUT_NFDS; i++)
        if (fds[i] >= 0) {
            close(fds[i]);
            fds[i] = -1;
        }
}

/* A memfd holding exactly these bytes, sealed.  pwrite leaves the offset
 * at 0, where the task starts reading. */
static int sealed_memfd(const char *name, const unsigned char *data, size_t len, struct jc_err *err)
{
    _cleanup_close_ int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    size_t off = 0;

    if (fd < 0)
        return jc_fail(err, errno, "memfd_create");
    while (off < len) {
        ssize_t n = pwrite(fd, data + off, len - off, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return jc_fail(err, n < 0 ? errno : EIO, "writing %s", name);
        off += (size_t)n;
    }
    if (fcntl(fd, F_ADD_SEALS, SEALS) < 0)
        return jc_fail(err, errno, "sealing %s", name);
    return JC_STEAL_FD(fd);
}

int input_seal(const struct jc_spec *s, const struct jc_input *in, int fds[INPUT_NFDS],
               int list[INPUT_NFDS], unsigned *n, struct jc_err *err)
{
    fds[INPUT_STDIN] = fds[INPUT_FILES] = -1;
    *n = 0;
    if (s->has_stdin && (fds[INPUT_STDIN] = sealed_memfd("jobcell-stdin", in->stdin_data,
                                                         s->stdin_len, err)) < 0)
        return -1;
    if (s->nfiles && (fds[INPUT_FILES] = sealed_memfd("jobcell-files", in->files_data,
                                                      jc_files_bytes(s), err)) < 0) {
        input_close(fds);
        return -1;
    }
    for (int i = 0; i < INPUT_NFDS; i++)
        if (fds[i] >= 0)
            list[(*n)++] = fds[i];
    return 0;
}

/* fd is a memfd with every seal, of exactly `size` bytes. */
static int check_one(int fd, uint64_t size, const char *what, struct jc_err *err)
{
    struct stat st;
    int seals = fcntl(fd, F_GET_SEALS); /* EINVAL for anything but a memfd/shmem */

    if (seals < 0 || (seals & SEALS) != SEALS)
        return jc_fail(err, seals < 0 ? errno : 0, "ipc: spawn: %s is not a sealed memfd", what);
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != size)
        return jc_fail(err, 0, "ipc: spawn: %s does not hold %llu bytes", what,
                       (unsigned long long)size);
    return 0;
}

/* Move fd to a number >= 10 (child.c dup3()s onto 0-3). */
static int move_high(int fd, struct jc_err *err)
{
    int high = fcntl(fd, F_DUPFD_CLOEXEC, 10);

    if (high < 0)
        jc_fail(err, errno, "fcntl F_DUPFD_CLOEXEC");
    close(fd);
    return high;
}

int input_check(const struct jc_spec *s, const int *got, unsigned ngot, int fds[INPUT_NFDS],
                struct jc_err *err)
{
    unsigned k = 0, want = input_count(s);
    int rc = 0;

    fds[INPUT_STDIN] = fds[INPUT_FILES] = -1;
    if (ngot != want)
        rc = jc_fail(err, 0, "ipc: spawn with %u descriptors, its spec needs %u", ngot, want);
    if (rc == 0 && s->has_stdin)
        fds[INPUT_STDIN] = got[k++];
    if (rc == 0 && s->nfiles)
        fds[INPUT_FILES] = got[k++];
    for (unsigned i = k; i < ngot; i++) /* the ones not taken */
        close(got[i]);
    if (rc == 0 && fds[INPUT_STDIN] >= 0 &&
        check_one(fds[INPUT_STDIN], s->stdin_len, "stdin", err) < 0)
        rc = -1;
    if (rc == 0 && fds[INPUT_FILES] >= 0 &&
        check_one(fds[INPUT_FILES], jc_files_bytes(s), "the files", err) < 0)
        rc = -1;
    for (int i = 0; i < INPUT_NFDS && rc == 0; i++)
        if (fds[i] >= 0 && (fds[i] = move_high(fds[i], err)) < 0)
            rc = -1;
    if (rc < 0)
        input_close(fds);
    return rc;
}
