/* idrange.c — the task id range against the host's users, groups and
 * subordinate ranges (see idrange.h).
 * Runs in: the daemon's start-up and --check-config (root). */
#include "idrange.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define FILE_CAP (16u << 20)

const struct idrange_files idrange_system = {"/etc/passwd", "/etc/group", "/etc/subuid", "/etc/subgid"};

/* name:x:UID:GID:...,  name:x:GID:...,  name:START:COUNT */
enum line_kind { LK_PASSWD, LK_GROUP, LK_SUBRANGE };

/* The decimal field at *p up to the next ':' or the line's end; false: none.
 * Read as the C library's parsers read it (strtoul): blanks and one '+'
 * may lead. */
static bool field_u64(const char *p, const char *end, uint64_t *v)
{
    char *stop;

    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p < end && *p == '+')
        p++;
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

/* Field k of [line, end) as an id, [lo, hi) = [id, id + 1); false: none. */
static bool id_field(const char *line, const char *end, int k, uint64_t *lo, uint64_t *hi)
{
    const char *f = field_at(line, end, k);

    if (!f || !field_u64(f, end, lo))
        return false;
    *hi = *lo + 1;
    return true;
}

/* The ids field k names — one (passwd, group), or START:COUNT (subuid,
 * subgid) — as [lo, hi), and whether any is in [base, base + n). */
static bool field_hits(const char *line, const char *end, int k, bool range, uint64_t base, uint64_t n,
                       uint64_t *lo, uint64_t *hi)
{
    const char *f = field_at(line, end, k + 1);
    uint64_t count = 1;

    if (!id_field(line, end, k, lo, hi))
        return false;
    if (range && (!f || !field_u64(f, end, &count) || count == 0 || count > UINT32_MAX))
        return false;
    *hi = *lo + count;
    return *lo < base + n && *hi > base;
}

/* Whether one line names an id in [base, base + n) — its uid or its
 * primary gid (passwd), its gid (group), its range (subuid, subgid) — and
 * [lo, hi) the ids it names.  A comment, a blank or a malformed line names
 * none (the tools that read the file skip it too). */
static bool line_hits(const char *line, const char *end, enum line_kind kind, uint64_t base, uint64_t n,
                      uint64_t *lo, uint64_t *hi)
{
    if (line == end || *line == '#')
        return false;
    if (kind == LK_SUBRANGE)
        return field_hits(line, end, 1, true, base, n, lo, hi);
    return field_hits(line, end, 2, false, base, n, lo, hi) ||
           (kind == LK_PASSWD && field_hits(line, end, 3, false, base, n, lo, hi));
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

/* The file, a symlink followed (these are root's own, and images and
 * configuration tools link them); absent, or a link to nothing: none. */
static int read_ids_file(const char *path, char **text, size_t *len, struct jc_err *err)
{
    char real[PATH_MAX];

    if (!realpath(path, real))
        return errno == ENOENT ? 0 : jc_fail(err, errno, "%s", path);
    if (jc_read_file_at(AT_FDCWD, real, path, FILE_CAP, text, len, err) == 0)
        return 0;
    if (err->errnum != ENOENT)
        return -1;
    jc_err_clear(err); /* gone since: none */
    return 0;
}

static int check_file(const char *path, enum line_kind kind, uint32_t base, uint32_t n, struct jc_err *err)
{
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    unsigned lineno = 0;

    if (read_ids_file(path, &text, &len, err) < 0)
        return -1;
    if (!text)
        return 0;
    for (const char *line = text, *next; line < text + len; line = next) {
        const char *end = memchr(line, '\n', (size_t)(text + len - line));
        uint64_t lo, hi;

        end = end ? end : text + len;
        next = end + 1;
        lineno++;
        if (line_hits(line, end, kind, base, n, &lo, &hi))
            return overlap(path, lineno, line, end, lo, hi, base, n, err);
    }
    return 0;
}

int idrange_check(const struct idrange_files *f, uint32_t base, uint32_t n, struct jc_err *err)
{
    if (check_file(f->passwd, LK_PASSWD, base, n, err) < 0 || check_file(f->group, LK_GROUP, base, n, err) < 0 ||
        check_file(f->subuid, LK_SUBRANGE, base, n, err) < 0 || check_file(f->subgid, LK_SUBRANGE, base, n, err) < 0)
        return -1;
    return 0;
}
