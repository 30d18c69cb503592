/* reload.h — what a SIGHUP makes: the configuration built again from the
 * flags of the start and the config file as it is now, checked as at
 * start-up, the seccomp profiles compiled again, the token file read again.
 * All or nothing: any problem and none of it is to be applied.  Keys only a
 * restart can change keep their running value (config_keep_restart()).
 * Runs in: main() (reload_remember_args), the warden's main thread. */
#pragma once

#include "config.h"
#include "policy.h"

/* The flags a reload reads again (argv must live as long as the process). */
void reload_remember_args(int argc, char **argv);

#define RELOAD_CHANGED_MAX 24

struct reload_next {
    struct jc_config cfg;         /* the token field stays empty: see token */
    struct jc_policy_set policies;
    char token[JC_TOKEN_SIZE];    /* "" without token_file; the caller wipes it */
    const char *changed[RELOAD_CHANGED_MAX]; /* keys that need a restart, kept as they were */
    unsigned nchanged;
};

/* Fill `n` from the files as they are now; every problem goes to `p`.
 * 0: all good (the caller owns n->policies); -1: problems (n holds nothing
 * to free, the token is wiped). */
int reload_prepare(const struct jc_config *running, struct reload_next *n, struct jc_problems *p);

/* Free what reload_prepare() left in `n` and wipe its token. */
void reload_next_free(struct reload_next *n);
