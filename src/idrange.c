/* idrange.c — the task id range against the host's users, groups and
 * subordinate ranges (see idrange.h).
 * Runs in: the daemon's start-up and --check-config (root). */
#include "idrange.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define FILE_CAP (16u << 20)

const struct idrange_files idrange_system = {"/etc/passwd", "/etc/group", "/etc/subuid", "/etc/subgid"};

enum line_kind { LK_ACCOUNT, LK_SUBRANGE }; /* name:x:ID:...  or  name:START:COUNT */

/* The decimal field at *p up to the next ':' or the line's end; false: none. */
static bool field_u64(const char *p, const char *end, uint64_t *v)
{
    char *stop;

    if (p >= end || *p < '0' || *p > '9')
        return false;
    errno = 0;
    *v = strtoull(p, &stop, 10);
    return errno == 0 && stop <= end && (stop == end || *stop == ':');
}

/* The start of field k (0-based) of [line, end), or NULL. */
static const char *field_at(const char *line, const char *end, int k)
{
    const char *p = line;

    for (int i = 0; i < k; i++) {
        p = memchr(p, ':', (size_t)(end - p));
        if (!p)
            return NULL;
        p++;
    }
    return p;
}

/* [lo, hi) of one line, or false for a line that names no id (a comment,
 * a blank, a malformed line: the tools that read the file skip it too). */
static bool line_range(const char *line, const char *end, enum line_kind kind, uint64_t *lo, uint64_t *hi)
{
    const char *f = field_at(line, end, kind == LK_ACCOUNT ? 2 : 1);
    uint64_t a, count;

    if (line == end || *line == '#' || !f || !field_u64(f, end, &a))
        return false;
    if (kind == LK_ACCOUNT) {
        *lo = a;
        *hi = a + 1;
        return true;
    }
    f = field_at(line, end, 2);
    if (!f || !field_u64(f, end, &count) || count == 0 || count > UINT32_MAX)
        return false;
    *lo = a;
    *hi = a + count;
    return true;
}

static int overlap(const char *path, unsigned lineno, const char *line, const char *end, uint64_t lo,
                   uint64_t hi, uint32_t base, uint32_t n, struct jc_err *err)
{
    const char *colon = memchr(line, ':', (size_t)(end - line));
    int namelen = (int)((colon ? colon : end) - line);

    return jc_fail(err, 0,
                   "uid_base: the task ids %" PRIu32 "-%" PRIu64 " (uid_base + max_running + pool_size) "
                   "overlap \"%.*s\" in %s line %u (ids %" PRIu64 "-%" PRIu64 "): a task's files and processes "
                   "would be theirs too; choose a uid_base whose range belongs to nobody (docs/configuration.md)",
                   base, (uint64_t)base + n - 1, namelen > 64 ? 64 : namelen, line, path, lineno, lo, hi - 1);
}

static int check_file(const char *path, enum line_kind kind, uint32_t base, uint32_t n, struct jc_err *err)
{
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    unsigned lineno = 0;

    if (jc_read_file_at(AT_FDCWD, path, NULL, FILE_CAP, &text, &len, err) < 0) {
        if (err->errnum == ENOENT) {
            jc_err_clear(err);
            return 0;
        }
        return -1;
    }
    for (const char *line = text, *next; line < text + len; line = next) {
        const char *end = memchr(line, '\n', (size_t)(text + len - line));
        uint64_t lo, hi;

        end = end ? end : text + len;
        next = end + 1;
        lineno++;
        if (line_range(line, end, kind, &lo, &hi) && lo < (uint64_t)base + n && hi > base)
            return overlap(path, lineno, line, end, lo, hi, base, n, err);
    }
    return 0;
}

int idrange_check(const struct idrange_files *f, uint32_t base, uint32_t n, struct jc_err *err)
{
    if (check_file(f->passwd, LK_ACCOUNT, base, n, err) < 0 || check_file(f->group, LK_ACCOUNT, base, n, err) < 0 ||
        check_file(f->subuid, LK_SUBRANGE, base, n, err) < 0 || check_file(f->subgid, LK_SUBRANGE, base, n, err) < 0)
        return -1;
    return 0;
}
