/* seeds_warden.c — writes the seed corpus of fuzz_warden.c: one file per
 * message a front could send, each a real union ipc_msg as it crosses the
 * socket (so the seeds follow the layout of ipc.h and task.h; rerun this
 * after changing them):
 *
 *     build/tests/fuzz/seeds_warden tests/fuzz/corpus/warden
 *
 * Runs in: a developer's shell, by hand; never part of a test. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ipc.h"

static const char id[] = "n1.0f674001-0cf4-4463-8eca-e6cf896a76c7";
static union ipc_msg m; /* 34 KB: not on the stack */
static const char *dir;

static void put(const char *name, size_t len)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!(f = fopen(path, "wb")) || fwrite(&m, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static void header(enum ipc_type type)
{
    memset(&m, 0, sizeof m);
    m.h.magic = IPC_MAGIC;
    m.h.type = type;
    memcpy(m.h.id, id, sizeof id);
}

/* A valid spawn: /bin/sh -c "echo hi", env PATH=/bin, default limits. */
static void spawn(void)
{
    static const char strings[] = "/bin/sh\0-c\0echo hi\0PATH=/bin";
    struct jc_config cfg;
    struct jc_spec *s = &m.spawn.spec;

    config_defaults(&cfg);
    header(IPC_SPAWN);
    memcpy(s->id, id, sizeof id);
    snprintf(s->name, sizeof s->name, "seed");
    snprintf(s->policy, sizeof s->policy, "default");
    s->is_command = true;
    s->limits = cfg.def;
    s->argc = 3;
    s->envc = 1;
    s->strings_len = sizeof strings;
    memcpy(s->strings, strings, sizeof strings);
}

/* A SPAWN's length on the wire: its spec up to the end of its strings
 * (ipc.c wire_size). */
static size_t wire(void)
{
    return offsetof(struct ipc_spawn, spec) + offsetof(struct jc_spec, strings) + m.spawn.spec.strings_len;
}

static void spawn_variants(void)
{
    struct jc_spec *s = &m.spawn.spec;

    spawn(), put("ok-spawn", wire());
    spawn(), s->limits.memory_mb = 4097, put("bad-spawn-over-max", wire());
    spawn(), s->limits.cpus = NAN, put("bad-spawn-cpus-nan", wire());
    spawn(), s->strings[0] = 'b', put("bad-spawn-relative", wire());
    spawn(), s->strings_len -= 1, put("bad-spawn-unterminated", wire());
    spawn(), s->strings_len += 4, put("bad-spawn-trailing", wire());
    spawn(), s->argc = JC_ARGV_MAX + 1, put("bad-spawn-argc", wire());
    spawn(), memset(s->name, 'n', sizeof s->name), put("bad-spawn-name", wire());
    spawn(), s->id[0] = 'f', put("bad-spawn-id-mismatch", wire());
    spawn(), memset(&s->is_command, 2, 1), put("bad-spawn-bool", wire());
    spawn(), memset(&s->has_stdin, 2, 1), put("bad-spawn-bool-stdin", wire());
    spawn(), s->has_stdin = true, s->stdin_len = 3, put("bad-spawn-stdin-without-fd", wire());
    spawn(), s->nfiles = 1, snprintf(s->files[0].name, sizeof s->files[0].name, "in.txt"),
        put("bad-spawn-file-without-fd", wire());
    spawn(), s->nfiles = 1, snprintf(s->files[0].name, sizeof s->files[0].name, ".."),
        put("bad-spawn-file-name", wire());
    /* The length itself (variable since issue 10). */
    spawn(), put("bad-spawn-short", wire() - 1);
    spawn(), put("bad-spawn-long", wire() + 1);
    spawn(), put("bad-spawn-fixed-size", sizeof m.spawn); /* the old 34 KB form */
    spawn(), put("bad-spawn-below-strings", wire() - s->strings_len - 1);
    spawn(), s->strings_len = JC_STRINGS_MAX + 1, put("bad-spawn-strings-over-max", sizeof m.spawn);
    spawn(), s->strings_len = UINT32_MAX, put("bad-spawn-strings-huge", wire() - s->strings_len);
    spawn(), s->is_command = false, s->argc = s->envc = 0, s->strings_len = 0, s->duration = 1,
        put("ok-spawn-worker-shortest", wire());
    spawn(), memset(s->strings, 'S', JC_STRINGS_MAX), s->strings_len = JC_STRINGS_MAX,
        put("bad-spawn-full-unterminated", wire());
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    dir = argv[1];
    spawn_variants();
    header(IPC_KILL), put("ok-kill", sizeof m.kill);
    header(IPC_KILL), m.h.id[8] = 'x', put("bad-kill-id", sizeof m.kill);
    header(IPC_SHUTDOWN), put("ok-shutdown", sizeof m.kill);
    header(IPC_READY), put("ok-ready", sizeof m.kill);
    header(IPC_SPAWNED), put("bad-spawned-from-front", sizeof m.spawned);
    header(IPC_EXITED), m.exited.reason = 99, put("bad-exited-reason", sizeof m.exited);
    header(IPC_KILL), m.h.magic = 0, put("bad-magic", sizeof m.kill);
    header(99), put("bad-type", sizeof m.kill);
    header(IPC_KILL), put("bad-short", 4);
    put("empty", 0);
    header(IPC_CONFIG_ACK), m.config_ack.gen = 1, put("ok-config-ack", sizeof m.config_ack);
    header(IPC_CONFIG), m.config.gen = 1, put("bad-config-from-front", sizeof m.config);
    return 0;
}
