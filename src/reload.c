/* reload.c — see reload.h.  Runs in: the warden's main thread (root: it
 * reads the token file and the policy directory), or a unit test. */
#include "reload.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>

#include "idrange.h"
#include "log.h"

static int g_argc;
static char **g_argv;

void reload_remember_args(int argc, char **argv)
{
    g_argc = argc;
    g_argv = argv;
}

/* The descriptor bound as start-up raised it (main.c: fit_fd_limit). */
static void fit_nofile(struct jc_config *c)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        config_fit_nofile(c, rl.rlim_cur == RLIM_INFINITY ? UINT32_MAX : (uint64_t)rl.rlim_cur);
}

static void load_policies(const struct jc_config *c, struct jc_policy_set *set, struct jc_problems *p)
{
    struct jc_err err = {0};

    if (policy_load_dir(c->policy_dir, set, &err) < 0) {
        jc_err_prefix(&err, "seccomp policy: ");
        jc_problem(p, &err);
    }
}

static void load_token(const struct jc_config *c, char token[JC_TOKEN_SIZE], struct jc_problems *p)
{
    struct jc_err err = {0};

    if (c->token_file[0] && config_read_token(c->token_file, token, &err) < 0)
        jc_problem(p, &err);
}

/* A reload may raise max_running or pool_size: ids the slots have not
 * used yet must be nobody's (refused otherwise); an entry that appeared
 * since start-up among those in use is said, not made a reason to refuse
 * every reload (a token rotation included) until a restart. */
static void check_ids(const struct jc_config *running, const struct jc_config *c, struct jc_problems *p)
{
    uint32_t was = running->max_running + running->pool_size, now = c->max_running + c->pool_size;
    struct jc_err err = {0};

    if (now > was && idrange_check(&idrange_system, c->uid_base + was, now - was, &err) < 0)
        jc_problem(p, &err);
    jc_err_clear(&err);
    if (idrange_check(&idrange_system, c->uid_base, now < was ? now : was, &err) < 0)
        log_warnx("reload: %s", err.msg);
}

int reload_prepare(const struct jc_config *running, struct reload_next *n, struct jc_problems *p)
{
    memset(n, 0, sizeof *n);
    p->n = 0;
    (void)config_collect(&n->cfg, g_argc, g_argv, p); /* --help/--version: start-up ended there */
    if (p->n)
        return -1; /* the profiles and token of a bad config are not worth reading */
    fit_nofile(&n->cfg);
    n->nchanged = config_keep_restart(running, &n->cfg, n->changed, RELOAD_CHANGED_MAX);
    config_clamp_to_ceilings(&n->cfg); /* the ceilings in force, not the file's */
    load_policies(&n->cfg, &n->policies, p);
    load_token(&n->cfg, n->token, p);
    check_ids(running, &n->cfg, p);
    if (!p->n)
        return 0;
    reload_next_free(n);
    return -1;
}

void reload_next_free(struct reload_next *n)
{
    policy_set_free(&n->policies);
    explicit_bzero(n->token, sizeof n->token);
}
