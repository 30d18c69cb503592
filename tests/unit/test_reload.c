/* test_reload.c — unit tests of what a reload (SIGHUP) is made of, without
 * root: which keys keep their running value (config_keep_restart), what the
 * front accepts off the wire (config_wire_ok, and ipc.c's checks of a
 * CONFIG), the front's refcounted snapshot (a reader keeps the old one
 * alive across a publish: ASan, in the sanitizer pass, would see a use
 * after free), and reload_prepare() on real files: all or nothing.
 * argv[1]: the shipped policy directory. */
#include "reload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "ipc.h"
#include "snapshot.h"

static struct jc_config run_cfg, new_cfg;
static struct jc_problems probs;

static void collect(struct jc_config *c)
{
    char *argv[] = {"jobcelld", NULL};

    probs.n = 0;
    CHECK(config_collect(c, 1, argv, &probs) == 0);
    CHECK(probs.n == 0);
}

static void test_keep_restart(void)
{
    const char *changed[8];

    collect(&run_cfg);
    new_cfg = run_cfg;
    CHECK(config_keep_restart(&run_cfg, &new_cfg, changed, 8) == 0);
    new_cfg.listen_port++;
    snprintf(new_cfg.listen_host, sizeof new_cfg.listen_host, "127.0.0.2");
    new_cfg.http_threads = run_cfg.http_threads + 1;
    new_cfg.max_queued = 7;
    new_cfg.def.timeout_s = 5;
    /* a string shorter than before, old bytes left past its NUL: compared as a string */
    snprintf(run_cfg.rootfs, sizeof run_cfg.rootfs, "/aaaaaaaa");
    snprintf(new_cfg.rootfs, sizeof new_cfg.rootfs, "/aaaaaaaaXYZ");
    new_cfg.rootfs[9] = 0;
    CHECK(config_keep_restart(&run_cfg, &new_cfg, changed, 8) == 2);
    CHECK(strcmp(changed[0], "listen") == 0); /* once, for host and port */
    CHECK(strcmp(changed[1], "http_threads") == 0);
    CHECK(new_cfg.listen_port == run_cfg.listen_port && strcmp(new_cfg.listen_host, run_cfg.listen_host) == 0);
    CHECK(new_cfg.http_threads == run_cfg.http_threads);
    CHECK(new_cfg.max_queued == 7 && new_cfg.def.timeout_s == 5); /* reloadable: kept new */
    new_cfg.uid_base++;
    new_cfg.sync_full = !run_cfg.sync_full;
    CHECK(config_keep_restart(&run_cfg, &new_cfg, changed, 1) == 2); /* counted past max */
    CHECK(strcmp(changed[0], "records_sync") == 0 || strcmp(changed[0], "uid_base") == 0);
    CHECK(new_cfg.uid_base == run_cfg.uid_base && new_cfg.sync_full == run_cfg.sync_full);
    snprintf(new_cfg.node, sizeof new_cfg.node, "%s-other", run_cfg.node);
    CHECK(config_keep_restart(&run_cfg, &new_cfg, changed, 8) == 1 && strcmp(changed[0], "node") == 0);
    CHECK(strcmp(new_cfg.node, run_cfg.node) == 0);
}

static void wire_refused(void (*mutate)(struct jc_config *), const char *why)
{
    struct jc_err err = {0};

    new_cfg = run_cfg;
    mutate(&new_cfg);
    CHECK(config_wire_ok(&new_cfg, &err) < 0);
    CHECK_STR_CONTAINS(err.msg, why);
}

static void m_token(struct jc_config *c) { snprintf(c->token, sizeof c->token, "0123456789abcdefgh"); }
static void m_running(struct jc_config *c) { c->max_running = 0; }
static void m_body(struct jc_config *c) { c->max_body_bytes = 1000; }
static void m_string(struct jc_config *c) { memset(c->rootfs, 'a', sizeof c->rootfs); }
static void m_level(struct jc_config *c) { c->log_level = 9; }
static void m_access(struct jc_config *c) { c->access_log = -2; }
static void m_bool(struct jc_config *c) { memset(&c->sync_full, 2, 1); }
static void m_default(struct jc_config *c) { c->def.memory_mb = c->max.memory_mb + 1; }
static void m_max(struct jc_config *c) { c->max.cpus = -1; }

static void test_wire(void)
{
    struct jc_err err = {0};

    collect(&run_cfg);
    CHECK(config_wire_ok(&run_cfg, &err) == 0);
    wire_refused(m_token, "token");
    wire_refused(m_running, "max_running");
    wire_refused(m_body, "max_body_kb");
    wire_refused(m_string, "unterminated");
    wire_refused(m_level, "log level");
    wire_refused(m_access, "log level");
    wire_refused(m_bool, "flag");
    wire_refused(m_default, "limits.default.memory_mb");
    wire_refused(m_max, "limits.max.cpus");
}

/* ---- a CONFIG over a real seqpacket pair ---- */

static union ipc_msg out, in;

static int roundtrip(void)
{
    int sv[2];
    struct jc_err err = {0};

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -2;
    int rc = ipc_send(sv[0], &out, IPC_CONFIG, &err);
    if (rc == 0)
        rc = ipc_recv(sv[1], &in, &err);
    close(sv[0]);
    close(sv[1]);
    return rc;
}

static void good_config(void)
{
    memset(&out, 0, sizeof out);
    out.config.gen = 1;
    out.config.cfg = run_cfg;
    out.config.npolicies = 2;
    snprintf(out.config.policies[0].name, POLICY_NAME_MAX, "default");
    snprintf(out.config.policies[1].name, POLICY_NAME_MAX, "strict");
    for (int i = 0; i < 2; i++)
        memset(out.config.policies[i].sha256, 'a', 64);
}

static void test_ipc_config(void)
{
    good_config();
    CHECK(roundtrip() == 1 && in.config.cfg.max_queued == run_cfg.max_queued && in.config.npolicies == 2);
    good_config();
    out.config.gen = 0;
    CHECK(roundtrip() == -1);
    good_config();
    out.config.npolicies = 0;
    CHECK(roundtrip() == -1);
    good_config();
    out.config.npolicies = POLICY_MAX_FILES + 1;
    CHECK(roundtrip() == -1);
    good_config();
    snprintf(out.config.policies[0].name, POLICY_NAME_MAX, "nodefault");
    CHECK(roundtrip() == -1);
    good_config();
    snprintf(out.config.policies[1].name, POLICY_NAME_MAX, "default");
    CHECK(roundtrip() == -1); /* named twice */
    good_config();
    snprintf(out.config.policies[1].name, POLICY_NAME_MAX, "../x");
    CHECK(roundtrip() == -1);
    good_config();
    out.config.policies[1].sha256[3] = 'Z';
    CHECK(roundtrip() == -1);
    good_config();
    out.config.cfg.max_queued = 2000000;
    CHECK(roundtrip() == -1);
}

/* ---- the snapshot ---- */

static int then_calls;
static void then(void *ctx) { then_calls += ctx == &then_calls; }
static int peek(const struct jc_snap *s, void *ctx) { return (int)s->cfg.max_queued + (ctx ? 0 : 1); }

static void test_snapshot(void)
{
    struct snap_cell cell;
    struct jc_policy_set set = {.count = 1};
    struct jc_err err = {0};

    snprintf(set.items[0].name, sizeof set.items[0].name, "default");
    run_cfg.max_queued = 11;
    snprintf(run_cfg.token, sizeof run_cfg.token, "0123456789abcdefgh");
    CHECK(snap_cell_init(&cell, &run_cfg, &set, &err) == 0);
    const struct jc_snap *old = snap_get(&cell);
    CHECK(old->cfg.max_queued == 11 && old->policies.count == 1 && !old->cfg.token[0]);
    struct jc_snap *next = snap_new(&run_cfg);
    CHECK(next != NULL);
    next->cfg.max_queued = 22;
    CHECK(snap_add_policy(next, "default", "") == 0 && snap_add_policy(next, "extra", "") == 0);
    snap_publish(&cell, next, then, &then_calls);
    CHECK(then_calls == 1);
    CHECK(old->cfg.max_queued == 11); /* still alive: this reader holds it */
    snap_put(&cell, old);             /* the last reference: freed here */
    const struct jc_snap *now = snap_get(&cell);
    CHECK(now->cfg.max_queued == 22 && now->policies.count == 2);
    CHECK(snap_locked(&cell, peek, &cell) == 22);
    snap_put(&cell, now);
    snap_cell_free(&cell);
    next = snap_new(&run_cfg); /* at most POLICY_MAX_FILES names */
    int added = 0;
    while (next && snap_add_policy(next, "p", "") == 0)
        added++;
    CHECK(added == POLICY_MAX_FILES);
    free(next);
}

/* ---- reload_prepare() on files ---- */

static char dir[] = "/tmp/jobcell-unit-reload-XXXXXX";
static char cfg_path[128], tok_path[128];

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");

    CHECK(f != NULL);
    if (!f)
        return;
    fputs(text, f);
    fclose(f);
    CHECK(chmod(path, mode) == 0);
}

static int prepare(struct reload_next *n)
{
    int rc = reload_prepare(&run_cfg, n, &probs);

    if (rc == 0)
        reload_next_free(n);
    return rc;
}

static bool problem_says(const char *text)
{
    for (unsigned i = 0; i < probs.n && i < JC_PROBLEMS_MAX; i++)
        if (strstr(probs.items[i].msg, text))
            return true;
    return false;
}

static void test_prepare(const char *policy_dir)
{
    static struct reload_next n;
    char *argv[] = {"jobcelld", "--config", cfg_path, "--policy-dir", (char *)policy_dir, NULL};

    CHECK(mkdtemp(dir) != NULL);
    snprintf(cfg_path, sizeof cfg_path, "%s/config.json", dir);
    snprintf(tok_path, sizeof tok_path, "%s/token", dir);
    write_file(tok_path, "0123456789abcdefgh\n", 0600);
    char text[512];
    snprintf(text, sizeof text, "{\"max_queued\": 5, \"http_threads\": 2, \"token_file\": \"%s\"}", tok_path);
    write_file(cfg_path, text, 0644);
    reload_remember_args(5, argv);
    probs.n = 0;
    CHECK(config_collect(&run_cfg, 5, argv, &probs) == 0 && probs.n == 0);

    snprintf(text, sizeof text, "{\"max_queued\": 9, \"http_threads\": 4, \"token_file\": \"%s\"}", tok_path);
    write_file(cfg_path, text, 0644);
    CHECK(reload_prepare(&run_cfg, &n, &probs) == 0);
    CHECK(n.cfg.max_queued == 9 && n.cfg.http_threads == 2);
    CHECK(n.nchanged == 1 && strcmp(n.changed[0], "http_threads") == 0);
    const struct jc_policy *def = policy_find(&n.policies, "default");
    CHECK(def && def->bpf); /* compiled */
    CHECK(strcmp(n.token, "0123456789abcdefgh") == 0);
    reload_next_free(&n);
    CHECK(n.token[0] == 0 && n.policies.count == 0);

    write_file(cfg_path, "{\"max_queued\": 9, \"max_running\": 0, \"nope\": 1}", 0644);
    CHECK(prepare(&n) < 0 && probs.n == 2 && problem_says("max_running") && problem_says("'nope'"));
    write_file(cfg_path, "{\"max_queued\": ", 0644);
    CHECK(prepare(&n) < 0 && problem_says("Invalid JSON"));

    snprintf(text, sizeof text, "{\"token_file\": \"%s\"}", tok_path);
    write_file(cfg_path, text, 0644);
    CHECK(chmod(tok_path, 0644) == 0);
    CHECK(prepare(&n) < 0 && problem_says("mode 0600") && n.token[0] == 0);
    CHECK(chmod(tok_path, 0600) == 0);
    CHECK(prepare(&n) == 0);

    char *bad_pol[] = {"jobcelld", "--config", cfg_path, "--policy-dir", dir, NULL};
    reload_remember_args(5, bad_pol); /* a directory without default.json */
    CHECK(prepare(&n) < 0 && problem_says("seccomp policy") && n.policies.count == 0);
    unlink(cfg_path);
    unlink(tok_path);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    log_init("test", LOG_LVL_ERROR);
    test_keep_restart();
    test_wire();
    test_ipc_config();
    test_snapshot();
    if (argc > 1)
        test_prepare(argv[1]);
    else
        CHECK(!"argv[1]: the policy directory");
    return check_summary();
}
