/* fuzz_policy.c — libFuzzer target for policy_compile(): arbitrary bytes as
 * a seccomp profile.  Every input must end in success (a program within
 * BPF_MAXINSNS) or a 400 with a message; never a crash, leak, hang or a
 * server-side (5xx) error, which would mean a bad profile is blamed on us.
 *
 * Build: meson setup -Dfuzz=true with clang (see tests/fuzz/meson.build),
 *        or just run tests/fuzz/run.sh SECONDS.
 * Seeds: tests/fuzz/corpus/policy/ (replayed as an ordinary test by
 *        replay.c, suite 'fuzz-corpus', and checked by test_policy). */
#include <stdint.h>
#include <stdlib.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct jc_policy p;
    struct jc_err e = {0};

    if (policy_compile("fuzz", (const char *)data, size, &p, &e) == 0) {
        if (!p.bpf || p.bpf_len == 0 || p.bpf_len > BPF_MAXINSNS)
            abort();
        policy_free(&p);
    } else if (e.status != 400 || e.msg[0] == '\0') {
        abort();
    }
    return 0;
}
