/* fuzz_config.c — libFuzzer target for config_load() with a config file:
 * arbitrary bytes as the file given to --config.  Every input must end in a
 * configuration that holds the loader's promises (each default within its
 * maximum, each maximum within the ceilings, every bounded key in bounds),
 * or in a refusal with a message; never a crash, leak or hang.
 *
 * Build: meson setup -Dfuzz=true with clang (see meson.build here), or just
 *        tests/fuzz/run.sh SECONDS.
 * Seeds: tests/fuzz/corpus/config/ (replayed as an ordinary test by
 *        replay.c, suite 'fuzz-corpus'). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct jc_config *c)
{
    const struct jc_limits *d = &c->def, *m = &c->max;

    if (d->memory_mb > m->memory_mb || d->pids > m->pids || !(d->cpus <= m->cpus) ||
        d->timeout_s > m->timeout_s || d->output_kb > m->output_kb || d->tmpfs_mb > m->tmpfs_mb)
        abort();
    if (!c->ceiling_memory_mb || !c->ceiling_pids || m->memory_mb > c->ceiling_memory_mb ||
        m->pids > c->ceiling_pids)
        abort();
    if (c->max_running < 1 || c->max_body_bytes < 1024 || !c->http_threads ||
        !memchr(c->state_dir, 0, sizeof c->state_dir) || !c->state_dir[0] ||
        !memchr(c->cgroup_name, 0, sizeof c->cgroup_name) || !c->cgroup_name[0] ||
        c->cgroup_name[0] == '.' || strchr(c->cgroup_name, '/'))
        abort();
}

/* The file the input is written to: one per process, in $TMPDIR. */
static const char *input_path(void)
{
    static char path[256];

    if (!path[0])
        snprintf(path, sizeof path, "%s/jc-fuzz-config-%d.json",
                 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    return path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct jc_config cfg;
    const char *path = input_path();
    char *argv[] = {"jobcelld", "--config", (char *)path, NULL};
    struct jc_err e = {0};
    int fd, rc;

    log_init("fuzz", LOG_LVL_ERROR); /* the loader's warnings are expected */
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size)
        abort();
    close(fd);
    rc = config_load(&cfg, 3, argv, &e);
    unlink(path);
    if (rc == 0)
        check(&cfg);
    else if (rc != -1 || !e.msg[0])
        abort();
    return 0;
}
