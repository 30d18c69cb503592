/* testutil.h — small helpers shared by jobcell's unit tests: temporary
 * directories, whole-file reads and writes, formatted strings, and a
 * request_parse() wrapper.  Header-only (each test is one program); every
 * function is static so unused ones cost nothing.
 * Runs in: unit-test processes only (no root needed). */
#pragma once

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

/* A fresh directory under /tmp; the caller frees the path (rm_tree does). */
static inline char *make_tmpdir(const char *tag)
{
    char tmpl[128];

    snprintf(tmpl, sizeof tmpl, "/tmp/jc-%s-XXXXXX", tag);
    return mkdtemp(tmpl) ? strdup(tmpl) : NULL;
}

static inline int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    return remove(path) < 0 ? -1 : 0;
}

/* Remove a test's directory and everything below it (deepest first, no
 * symlink followed), then free the path. */
static inline void rm_tree(char *dir)
{
    if (dir && nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
        fprintf(stderr, "rm_tree %s: %s\n", dir, strerror(errno));
    free(dir);
}

static inline int write_file_at(int dfd, const char *name, const char *data, size_t len)
{
    int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ssize_t n;

    if (fd < 0)
        return -1;
    n = write(fd, data, len);
    close(fd);
    return n == (ssize_t)len ? 0 : -1;
}

/* The whole file as a NUL-terminated malloc'd string (NULL if unreadable). */
static inline char *read_file_at(int dfd, const char *name, size_t *len_out)
{
    int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
    size_t cap = 4096, len = 0;
    char *buf = NULL;
    ssize_t n;

    if (fd < 0)
        return NULL;
    buf = malloc(cap + 1);
    while (buf && (n = read(fd, buf + len, cap - len)) > 0) {
        len += (size_t)n;
        if (len == cap) {
            char *bigger = realloc(buf, cap * 2 + 1);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    close(fd);
    if (buf) {
        buf[len] = 0;
        if (len_out)
            *len_out = len;
    }
    return buf;
}

static inline int file_exists_at(int dfd, const char *name)
{
    struct stat st;

    return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* asprintf that never returns NULL (a test cannot go on without memory). */
static inline char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    va_end(ap);
    return s;
}

/* `n` copies of `unit` concatenated (malloc'd). */
static inline char *repeat(const char *unit, size_t n)
{
    size_t ul = strlen(unit);
    char *s = malloc(ul * n + 1);

    if (!s)
        abort();
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * ul, unit, ul);
    s[ul * n] = 0;
    return s;
}

