/* fuzz_request.c — libFuzzer target for request_parse(): arbitrary bytes as
 * a POST /api/tasks body, with the embedded default configuration.  Every
 * input must end in a valid spec or a 400 with a message; never a crash, a
 * leak, a read past the body, or a server-side (5xx) error.  A spec that is
 * accepted must hold what the warden relies on (ipc.c validate_spec() and
 * warden.c check the same things on the other side of the socket).
 *
 * Build: meson setup -Dfuzz=true with clang (see meson.build here), or just
 *        tests/fuzz/run.sh SECONDS.
 * Seeds: tests/fuzz/corpus/request/ (replayed as an ordinary test by
 *        replay.c, suite 'fuzz-corpus', and checked by test_request). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_spec(const struct jc_config *cfg, const struct jc_spec *s)
{
    const struct jc_limits *l = &s->limits, *m = &cfg->max;
    size_t name_len = strnlen(s->name, sizeof s->name);
    const char *str = NULL;
    unsigned n = 0;
    size_t total = 0;

    if (name_len == 0 || name_len > JC_NAME_MAX)
        abort();
    for (size_t i = 0; i < name_len; i++)
        if ((unsigned char)s->name[i] < 0x20 || s->name[i] == 0x7f)
            abort();
    if (s->argc < 1 || s->argc > JC_ARGV_MAX || s->envc > JC_ENV_MAX)
        abort();
    if (s->strings_len > JC_STRINGS_MAX || s->strings[0] != '/')
        abort();
    while ((str = spec_next_string(s, str))) {
        total += strlen(str) + 1;
        n++;
    }
    if (n != (unsigned)s->argc + s->envc || total != s->strings_len)
        abort();
    if (!memchr(s->policy, 0, sizeof s->policy) || strcmp(s->policy, "default") != 0)
        abort();
    if (s->duration > cfg->max_duration_s)
        abort();
    if (l->memory_mb < 4 || l->memory_mb > m->memory_mb || l->pids < 2 || l->pids > m->pids ||
        !(l->cpus >= 0.01 && l->cpus <= m->cpus) || l->timeout_s < 1 ||
        l->timeout_s > m->timeout_s || l->output_kb < 1 || l->output_kb > m->output_kb ||
        l->tmpfs_mb < 1 || l->tmpfs_mb > m->tmpfs_mb)
        abort();
}

/* stdin and files within their bounds, their bytes present, names plain. */
static void check_input(const struct jc_spec *s, const struct jc_input *in)
{
    if (s->stdin_len > JC_STDIN_MAX || (s->has_stdin != (in->stdin_data != NULL)))
        abort();
    if (s->nfiles > JC_FILES_MAX || jc_files_bytes(s) > JC_FILES_BYTES_MAX ||
        (s->nfiles > 0) != (in->files_data != NULL))
        abort();
    for (unsigned i = 0; i < s->nfiles; i++) {
        const char *n = s->files[i].name;
        if (!jc_file_name_ok(n, strnlen(n, sizeof s->files[i].name)) || strchr(n, '/'))
            abort();
    }
    if (s->has_stdin && s->stdin_len) /* every byte readable (ASan) */
        (void)!memchr(in->stdin_data, 'X', s->stdin_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct jc_config cfg;
    static struct jc_spec spec; /* 33 KB: not on the stack */
    static int ready;
    struct jc_err e = {0};
    struct jc_input in = {0};

    if (!ready) {
        config_defaults(&cfg);
        ready = 1;
    }
    if (request_parse(&cfg, NULL, (const char *)data, size, &spec, &in, &e) == 0) {
        check_spec(&cfg, &spec);
        check_input(&spec, &in);
        jc_input_free(&in);
    } else if ((e.status != 400 && e.status != 413) || e.fault != JC_FAULT_CLIENT ||
               e.msg[0] == '\0' || in.stdin_data || in.files_data) {
        abort();
    }
    return 0;
}
