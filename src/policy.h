/* policy.h — seccomp policies: Docker/OCI-shaped JSON profiles in the policy
 * directory, validated and compiled to classic BPF once, at start-up.
 *
 * Parent side only: everything here allocates (json-c, libseccomp).  The
 * child applies the finished program with one raw prctl() (see child.c);
 * it never calls libseccomp (it can deadlock on malloc after clone).
 *
 * Runs in: main() before the privsep fork (the warden keeps the compiled set;
 * the front keeps only the names and hashes for validation and records). */
#pragma once

#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define POLICY_NAME_MAX 64   /* file stem, [A-Za-z0-9_-], at most 63 bytes */
#define POLICY_MAX_FILES 32  /* profiles per directory */
#define POLICY_FILE_MAX (1024 * 1024)

struct jc_policy {
    char name[POLICY_NAME_MAX]; /* "default" for default.json */
    char sha256[65];            /* hex digest of the file's bytes */
    struct sock_filter *bpf;    /* compiled program (owned) */
    unsigned short bpf_len;     /* number of instructions */
    int default_kills;          /* 1 if the default action kills */
};

struct jc_policy_set {
    struct jc_policy items[POLICY_MAX_FILES];
    size_t count;
};

/* Compile one profile from its JSON text.  `name` is used in messages and
 * stored in `out`.  Fails (client fault, 400) with the rule index and the
 * reason on any malformed rule or unknown syscall name. */
int policy_compile(const char *name, const char *json, size_t len,
                   struct jc_policy *out, struct jc_err *err);

/* Load every *.json in `dir` (opened without following symlinks).  Fails with
 * "FILE: rule N: reason" on the first bad profile.  "default" must exist. */
int policy_load_dir(const char *dir, struct jc_policy_set *set, struct jc_err *err);

/* NULL when no profile has that name. */
const struct jc_policy *policy_find(const struct jc_policy_set *set, const char *name);

void policy_free(struct jc_policy *p);
void policy_set_free(struct jc_policy_set *set);
