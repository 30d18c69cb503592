/* util.c — clocks, thread names and the bounded file reader (see util.h).
 * Runs in: any process or thread. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <nettle/sha2.h>
#include <unistd.h>

int64_t jc_now_ms(clockid_t clk)
{
    struct timespec ts;

    clock_gettime(clk, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* PR_SET_NAME cannot fail for a string: it truncates to 15 bytes. */
void jc_name_thread(const char *name) { (void)prctl(PR_SET_NAME, name, 0, 0, 0); }

void jc_mono_after(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

/* Until EOF or `cap` bytes. */
static int read_to_eof(int fd, char *buf, size_t cap, size_t *len)
{
    ssize_t n;

    for (*len = 0; *len < cap; *len += (size_t)n) {
        n = read(fd, buf + *len, cap - *len);
        if (n < 0 && errno == EINTR)
            n = 0;
        else if (n < 0)
            return -1;
        else if (n == 0)
            break;
    }
    return 0;
}

int jc_read_file_at(int dirfd, const char *name, const char *label, size_t cap, char **out,
                    size_t *len, struct jc_err *err)
{
    /* O_NONBLOCK: a FIFO planted in the directory must not hang us. */
    _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    _cleanup_free_ char *buf = NULL;
    struct stat st;
    size_t n;

    if (!label)
        label = name;
    if (fd < 0 && errno == ELOOP)
        return jc_client(err, 400, "%s: is a symbolic link; refused", label);
    if (fd < 0 || fstat(fd, &st) < 0)
        return jc_fail(err, errno, "%s", label);
    if (!S_ISREG(st.st_mode))
        return jc_client(err, 400, "%s: not a regular file", label);
    if ((uint64_t)st.st_size > cap)
        return jc_client(err, 400, "%s: larger than %zu bytes", label, cap);
    /* One byte more than allowed: a file that grew since fstat() is caught. */
    if (!(buf = malloc(cap + 2)))
        return jc_fail(err, ENOMEM, "%s", label);
    if (read_to_eof(fd, buf, cap + 1, &n) < 0)
        return jc_fail(err, errno, "%s: read", label);
    if (n > cap)
        return jc_client(err, 400, "%s: larger than %zu bytes", label, cap);
    buf[n] = 0;
    if (len)
        *len = n;
    *out = JC_STEAL(buf);
    return 0;
}

void jc_sha256_hex(const char *data, size_t len, char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    uint8_t md[SHA256_DIGEST_SIZE];
    struct sha256_ctx c;

    sha256_init(&c);
    sha256_update(&c, len, (const uint8_t *)data);
    sha256_digest(&c, sizeof md, md);
    for (size_t i = 0; i < sizeof md; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 0xf];
    }
    hex[64] = '\0';
}
