/* test_config.c — unit tests for config.c: embedded defaults, --listen,
 * flags, the JSON config file (written to a temporary directory), and the
 * rule that flags override the file wherever --config stands. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "taskid.h"
#include "testutil.h"

static struct jc_config cfg;
static struct jc_err err;
static char *tmpdir;

/* config_load on a NULL-terminated list of arguments (argv[0] added). */
static int load_v(const char *const *args)
{
    char *argv[32] = {"jobcelld"};
    int argc = 1;

    for (; args[argc - 1] && argc < 31; argc++)
        argv[argc] = (char *)args[argc - 1];
    argv[argc] = NULL;
    jc_err_clear(&err);
    memset(&cfg, 0x5a, sizeof cfg); /* config_load must set everything */
    return config_load(&cfg, argc, argv, &err);
}
#define LOAD(...) load_v((const char *const[]){__VA_ARGS__, NULL})

static void expect_fail(int rc, const char *needle, int line)
{
    if (rc != -1 || !strstr(err.msg, needle))
        fprintf(stderr, "line %d: rc=%d msg=\"%s\" (want \"%s\")\n", line, rc, err.msg, needle);
    CHECK(rc == -1);
    CHECK_STR_CONTAINS(err.msg, needle);
}
#define EXPECT_FAIL(rc, needle) expect_fail((rc), (needle), __LINE__)

/* Write `json` to tmpdir/name and return its path (malloc'd). */
static char *config_file(const char *name, const char *json)
{
    char *path = xasprintf("%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");

    CHECK(f != NULL);
    if (f) {
        fputs(json, f);
        fclose(f);
    }
    return path;
}

static int limits_equal(const struct jc_limits *a, const struct jc_limits *b)
{
    return a->memory_mb == b->memory_mb && a->pids == b->pids && a->cpus == b->cpus &&
           a->timeout_s == b->timeout_s && a->output_kb == b->output_kb &&
           a->tmpfs_mb == b->tmpfs_mb;
}

/* The machine-derived default: 32 per core, 64 MB each, 4..4096. */
static uint32_t d_max_running(void)
{
    long mem_mb = (long)((uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE) >> 20);

    return config_default_max_running(sysconf(_SC_NPROCESSORS_ONLN), mem_mb);
}

static void test_derived_defaults(void)
{
    CHECK(config_default_max_running(2, 24000) == 64);   /* cpu-bound */
    CHECK(config_default_max_running(64, 4096) == 64);   /* memory-bound */
    CHECK(config_default_max_running(1, 100) == 4);      /* floor */
    CHECK(config_default_max_running(1024, 1 << 30) == 4096); /* ceiling */
    const char *none[] = {NULL};
    CHECK(load_v(none) == 0 && cfg.max_queued == cfg.max_running * 8);
}

static void test_defaults(void)
{
    struct jc_config d;

    config_defaults(&d);
    CHECK(strcmp(d.listen_host, "127.0.0.1") == 0 && d.listen_port == 8080);
    CHECK(d.rootfs[0] == '/' && d.policy_dir[0] == '/');
    CHECK(strcmp(d.state_dir, "/var/lib/jobcell") == 0);
    CHECK(strcmp(d.user, "jobcell") == 0 && strcmp(d.cgroup_name, "jobcell") == 0);
    CHECK(d.log_level == LOG_LVL_INFO);
    CHECK(d.max_running == d_max_running() && d.max_body_bytes == 64 * 1024 && d.max_duration_s == 3600);
    CHECK(d.retention_s == 86400 && d.max_records == 10000 && d.uid_base == 1000000);
    CHECK(d.http_threads >= 1 && d.max_connections >= 4 && d.conn_timeout_s >= 1);
    CHECK(d.missing_limits == 0 && d.listen_unix[0] == 0 && d.token_file[0] == 0 &&
          !d.insecure_remote);
    struct jc_limits def = {256, 64, 1.0, 600, 1024, 64}, max = {4096, 1024, 2.0, 86400, 65536, 1024};
    CHECK(limits_equal(&d.def, &def) && limits_equal(&d.max, &max));
    /* Every default is within its maximum. */
    CHECK(d.def.memory_mb <= d.max.memory_mb && d.def.pids <= d.max.pids &&
          d.def.cpus <= d.max.cpus && d.def.timeout_s <= d.max.timeout_s &&
          d.def.output_kb <= d.max.output_kb && d.def.tmpfs_mb <= d.max.tmpfs_mb);

    /* No arguments: exactly the defaults. */
    CHECK(load_v((const char *const[]){NULL}) == 0);
    CHECK(strcmp(cfg.listen_host, d.listen_host) == 0 && cfg.listen_port == d.listen_port);
    CHECK(strcmp(cfg.rootfs, d.rootfs) == 0 && strcmp(cfg.policy_dir, d.policy_dir) == 0);
    CHECK(strcmp(cfg.state_dir, d.state_dir) == 0 && strcmp(cfg.user, d.user) == 0);
    CHECK(cfg.log_level == d.log_level && cfg.max_running == d.max_running &&
          cfg.max_body_bytes == d.max_body_bytes && cfg.retention_s == d.retention_s &&
          cfg.max_records == d.max_records && cfg.uid_base == d.uid_base &&
          cfg.http_threads == d.http_threads && cfg.missing_limits == 0);
    /* (on a host whose derived ceilings are below the built-in maxima,
     * those are lowered: test_ceilings) */
    if (cfg.ceiling_memory_mb >= d.max.memory_mb && cfg.ceiling_pids >= d.max.pids)
        CHECK(limits_equal(&cfg.def, &d.def) && limits_equal(&cfg.max, &d.max));
}

static void test_listen(void)
{
    CHECK(LOAD("--listen", "0.0.0.0:9000") == 0);
    CHECK(strcmp(cfg.listen_host, "0.0.0.0") == 0 && cfg.listen_port == 9000);
    CHECK(LOAD("--listen=10.1.2.3:1") == 0);
    CHECK(strcmp(cfg.listen_host, "10.1.2.3") == 0 && cfg.listen_port == 1);
    CHECK(LOAD("--listen", "127.0.0.1:65535") == 0 && cfg.listen_port == 65535);
    CHECK(LOAD("--listen", "localhost:8081") == 0);
    CHECK(strcmp(cfg.listen_host, "127.0.0.1") == 0 && cfg.listen_port == 8081);

    EXPECT_FAIL(LOAD("--listen", "127.0.0.1:0"), "bad port");
    EXPECT_FAIL(LOAD("--listen", "127.0.0.1:65536"), "bad port");
    EXPECT_FAIL(LOAD("--listen", "127.0.0.1:-1"), "bad port");
    EXPECT_FAIL(LOAD("--listen", "127.0.0.1:http"), "bad port");
    EXPECT_FAIL(LOAD("--listen", "127.0.0.1:80x"), "bad port");
    EXPECT_FAIL(LOAD("--listen", "127.0.0.1:"), "bad port");
    EXPECT_FAIL(LOAD("--listen", "127.0.0.1:99999999999999999999"), "bad port");
    EXPECT_FAIL(LOAD("--listen", "127.0.0.1"), "expected ADDR:PORT");
    EXPECT_FAIL(LOAD("--listen", "8080"), "expected ADDR:PORT");
    EXPECT_FAIL(LOAD("--listen", ":8080"), "expected ADDR:PORT");
    EXPECT_FAIL(LOAD("--listen", ""), "expected ADDR:PORT");
    EXPECT_FAIL(LOAD("--listen", "example.com:80"), "not an IPv4 address");
    EXPECT_FAIL(LOAD("--listen", "::1:80"), "not an IPv4 address");
    EXPECT_FAIL(LOAD("--listen", "[::1]:80"), "not an IPv4 address");
    EXPECT_FAIL(LOAD("--listen", "1.2.3:80"), "not an IPv4 address");
    EXPECT_FAIL(LOAD("--listen", "256.1.1.1:80"), "not an IPv4 address");
    EXPECT_FAIL(LOAD("--listen", "LOCALHOST:80"), "not an IPv4 address");
    char *longhost = repeat("1", 100), *arg = xasprintf("%s:80", longhost);
    EXPECT_FAIL(LOAD("--listen", arg), "expected ADDR:PORT");
    free(arg);
    free(longhost);

    /* unix:PATH — absolute, shorter than sun_path; a later ADDR:PORT clears it. */
    CHECK(LOAD("--listen", "unix:/run/jobcell.sock") == 0);
    CHECK(strcmp(cfg.listen_unix, "/run/jobcell.sock") == 0);
    CHECK(LOAD("--listen", "unix:/run/jobcell.sock", "--listen", "127.0.0.1:5") == 0);
    CHECK(cfg.listen_unix[0] == 0 && cfg.listen_port == 5);
    EXPECT_FAIL(LOAD("--listen", "unix:relative.sock"), "absolute");
    EXPECT_FAIL(LOAD("--listen", "unix:"), "absolute");
    char *longsock = repeat("s", sizeof cfg.listen_unix), *uarg = xasprintf("unix:/%s", longsock);
    EXPECT_FAIL(LOAD("--listen", uarg), "unix socket path");
    free(uarg);
    free(longsock);

    /* config_parse_listen on its own leaves the config alone on failure. */
    struct jc_config c;
    config_defaults(&c);
    CHECK(config_parse_listen(&c, "nope:1", &err) < 0 && err.status == 400);
    CHECK(strcmp(c.listen_host, "127.0.0.1") == 0 && c.listen_port == 8080);
}

static void test_flags(void)
{
    EXPECT_FAIL(LOAD("--bogus"), "--bogus");
    CHECK(err.fault == JC_FAULT_CLIENT);
    EXPECT_FAIL(LOAD("--listen", "127.0.0.1:1", "--frobnicate=3"), "--frobnicate");
    EXPECT_FAIL(LOAD("-x"), "-x");
    EXPECT_FAIL(LOAD("--listen"), "--listen");   /* missing value */
    EXPECT_FAIL(LOAD("extra"), "unexpected argument \"extra\"");
    EXPECT_FAIL(LOAD("--help=yes"), "--help");

    /* --help and --version print to stdout: keep it out of the test log. */
    fflush(stdout);
    int saved = dup(STDOUT_FILENO), devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    CHECK(saved >= 0 && devnull >= 0 && dup2(devnull, STDOUT_FILENO) == STDOUT_FILENO);
    int help = LOAD("--help"), version = LOAD("--version");
    int late = LOAD("--listen", "127.0.0.1:1", "--help");
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    close(devnull);
    CHECK(help == 1 && version == 1 && late == 1);

    CHECK(LOAD("--log-level", "debug") == 0 && cfg.log_level == LOG_LVL_DEBUG);
    CHECK(LOAD("--log-level", "info") == 0 && cfg.log_level == LOG_LVL_INFO);
    CHECK(LOAD("--log-level=warn") == 0 && cfg.log_level == LOG_LVL_WARN);
    CHECK(LOAD("--log-level", "error") == 0 && cfg.log_level == LOG_LVL_ERROR);
    EXPECT_FAIL(LOAD("--log-level", "loud"), "--log-level");
    CHECK_STR_CONTAINS(err.msg, "\"loud\"");
    EXPECT_FAIL(LOAD("--log-level", "DEBUG"), "--log-level");
    EXPECT_FAIL(LOAD("--log-level", ""), "--log-level");

    CHECK(LOAD("--state-dir", "/srv/jc", "--rootfs", "/srv/root", "--policy-dir", "/srv/pol",
               "--user", "nobody", "--cgroup-name", "jc-test.1") == 0);
    CHECK(strcmp(cfg.state_dir, "/srv/jc") == 0 && strcmp(cfg.rootfs, "/srv/root") == 0 &&
          strcmp(cfg.policy_dir, "/srv/pol") == 0 && strcmp(cfg.user, "nobody") == 0 &&
          strcmp(cfg.cgroup_name, "jc-test.1") == 0);
    EXPECT_FAIL(LOAD("--state-dir", ""), "--state-dir");
    EXPECT_FAIL(LOAD("--user", "a b"), "--user");
    EXPECT_FAIL(LOAD("--user", ".hidden"), "--user");
    EXPECT_FAIL(LOAD("--user", ""), "--user");
    EXPECT_FAIL(LOAD("--cgroup-name", "../escape"), "--cgroup-name");
    EXPECT_FAIL(LOAD("--cgroup-name", "a/b"), "--cgroup-name");
    char *long_name = repeat("u", 64);
    EXPECT_FAIL(LOAD("--user", long_name), "--user");
    free(long_name);
    char *long_path = repeat("p", 5000);
    EXPECT_FAIL(LOAD("--rootfs", long_path), "--rootfs");
    free(long_path);

    /* The last of a repeated flag wins. */
    CHECK(LOAD("--listen", "127.0.0.1:1", "--listen", "127.0.0.1:2") == 0 && cfg.listen_port == 2);
}

/* node: this host's name in task ids (taskid.h), the hostname's by default. */
static void test_node(void)
{
    char host[HOST_NAME_MAX + 1] = "", want[JC_NODE_MAX + 1];
    struct jc_problems p = {0};

    CHECK(gethostname(host, sizeof host - 1) == 0);
    CHECK(jc_node_from_hostname(host, want, &err) == 0);
    CHECK(LOAD("--state-dir", "/x") == 0 && strcmp(cfg.node, want) == 0 && jc_node_valid(cfg.node));
    CHECK(LOAD("--node", "n1") == 0 && strcmp(cfg.node, "n1") == 0);
    CHECK(LOAD("--node=web-2") == 0 && strcmp(cfg.node, "web-2") == 0);
    char *path = config_file("node-ok.json", "{\"node\":\"n2\"}");
    CHECK(LOAD("--config", path) == 0 && strcmp(cfg.node, "n2") == 0);
    CHECK(LOAD("--node", "n3", "--config", path) == 0 && strcmp(cfg.node, "n3") == 0); /* flag wins */
    free(path);
    const char *bad[] = {"", "N1", "-n1", "n1-", "a.b", "a/b", "a b", "n%2f",
                         "abcdefghijklmnopqrstuvwxyz01"};
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++)
        EXPECT_FAIL(LOAD("--node", bad[i]), "--node");
    /* --check-config lists it with the other problems. */
    char *argv[] = {"jobcelld", "--node", "Bad.Name", "--log-level", "loud", NULL};
    memset(&cfg, 0, sizeof cfg);
    CHECK(config_collect(&cfg, 5, argv, &p) == 0 && p.n == 2);
    CHECK_STR_CONTAINS(p.items[0].msg, "--node: \"Bad.Name\"");
}

static void test_file(void)
{
    char *path = config_file(
        "full.json",
        "{\"listen\":\"0.0.0.0:7000\",\"max_running\":5,\"max_body_kb\":8,"
        "\"max_duration_s\":60,\"retention_s\":120,\"max_records\":3,\"uid_base\":200000,"
        "\"http_threads\":4,\"max_connections\":16,\"conn_timeout_s\":9,"
        "\"rootfs\":\"/r\",\"policy_dir\":\"/p\",\"state_dir\":\"/s\",\"user\":\"svc\","
        "\"cgroup_name\":\"jc2\",\"log_level\":\"warn\","
        "\"limits\":{\"default\":{\"memory_mb\":128,\"cpus\":0.5},"
        "\"max\":{\"memory_mb\":2048,\"pids\":100,\"cpus\":4}}}");

    CHECK(LOAD("--config", path) == 0);
    if (err.msg[0])
        fprintf(stderr, "full.json: %s\n", err.msg);
    CHECK(strcmp(cfg.listen_host, "0.0.0.0") == 0 && cfg.listen_port == 7000);
    CHECK(cfg.max_running == 5 && cfg.max_body_bytes == 8 * 1024 && cfg.max_duration_s == 60);
    CHECK(cfg.retention_s == 120 && cfg.max_records == 3 && cfg.uid_base == 200000);
    CHECK(cfg.http_threads == 4 && cfg.max_connections == 16 && cfg.conn_timeout_s == 9);
    CHECK(strcmp(cfg.rootfs, "/r") == 0 && strcmp(cfg.policy_dir, "/p") == 0 &&
          strcmp(cfg.state_dir, "/s") == 0 && strcmp(cfg.user, "svc") == 0 &&
          strcmp(cfg.cgroup_name, "jc2") == 0 && cfg.log_level == LOG_LVL_WARN);
    struct jc_limits def = {128, 64, 0.5, 600, 1024, 64}, max = {2048, 100, 4.0, 86400, 65536, 1024};
    CHECK(limits_equal(&cfg.def, &def)); /* what the file leaves out stays default */
    CHECK(limits_equal(&cfg.max, &max));

    /* --config=FILE works too; flags override the file wherever they stand. */
    char *eq = xasprintf("--config=%s", path);
    CHECK(LOAD(eq, "--listen", "127.0.0.1:9") == 0);
    CHECK(strcmp(cfg.listen_host, "127.0.0.1") == 0 && cfg.listen_port == 9);
    CHECK(cfg.max_running == 5);
    CHECK(LOAD("--log-level", "debug", "--user", "other", "--config", path) == 0);
    CHECK(cfg.log_level == LOG_LVL_DEBUG && strcmp(cfg.user, "other") == 0);
    CHECK(cfg.listen_port == 7000 && strcmp(cfg.state_dir, "/s") == 0);
    free(eq);
    free(path);

    /* An empty object is fine. */
    path = config_file("empty.json", " {} \n");
    CHECK(LOAD("--config", path) == 0 && cfg.max_running == d_max_running());
    free(path);
}

static void test_file_errors(void)
{
    struct { const char *name, *json, *needle; } cases[] = {
        {"unknown.json", "{\"bogus\":\"x\"}", "'bogus'"},
        {"unknown-limits.json", "{\"limits\":{\"foo\":{}}}", "'limits.foo'"},
        {"unknown-limit.json", "{\"limits\":{\"default\":{\"bogus\":1}}}", "'limits.default.bogus'"},
        {"limits-type.json", "{\"limits\":[]}", "'limits'"},
        {"limit-type.json", "{\"limits\":{\"max\":{\"cpus\":\"2\"}}}", "'limits.max.cpus'"},
        {"limit-range.json", "{\"limits\":{\"default\":{\"memory_mb\":1}}}", "'limits.default.memory_mb'"},
        {"listen.json", "{\"listen\":\"nowhere\"}", "--listen"},
        {"listen-type.json", "{\"listen\":8080}", "'listen'"},
        {"level.json", "{\"log_level\":\"loud\"}", "loud"},
        {"user.json", "{\"user\":\"a b\"}", "user"},
        {"node.json", "{\"node\":\"web_2\"}", "node: \"web_2\" must be 1-27 of [a-z0-9-]"},
        {"node-type.json", "{\"node\":2}", "'node'"},
        {"path.json", "{\"state_dir\":\"\"}", "state_dir"},
        {"syntax.json", "{\"listen\":", "Invalid JSON"},
        {"trailing.json", "{} {}", "Invalid JSON"},
        {"array.json", "[]", "(config file)"},
        {"empty.json", "", "Invalid JSON"},
        /* Numbers out of range or of the wrong type are refused, not ignored. */
        {"num-range.json", "{\"max_running\":0}", "'max_running' must be between 1 and 65536"},
        {"num-type.json", "{\"max_running\":\"50\"}", "'max_running' must be an integer"},
        {"num-big.json", "{\"max_body_kb\":100000}", "'max_body_kb'"},
        {"num-neg.json", "{\"retention_s\":-1}", "'retention_s'"},
        /* An unknown key is unknown whatever its value. */
        {"unknown-num.json", "{\"max_runing\":5}", "Unknown field 'max_runing'"},
        {"unknown-obj.json", "{\"limit\":{}}", "Unknown field 'limit'"},
    };

    for (unsigned i = 0; i < JC_ARRAY_LEN(cases); i++) {
        char *path = config_file(cases[i].name, cases[i].json);
        EXPECT_FAIL(LOAD("--config", path), cases[i].needle);
        CHECK_STR_CONTAINS(err.msg, path); /* names the file */
        free(path);
    }
    /* Every default must be within its maximum (the warden refuses a spec
     * above the maxima: a default above them would fail every task). */
    char *path = config_file("def-above-max.json", "{\"limits\":{\"default\":{\"memory_mb\":8192}}}");
    EXPECT_FAIL(LOAD("--config", path), "limits.default.memory_mb");
    free(path);
    path = config_file("max-below-def.json", "{\"limits\":{\"max\":{\"pids\":10}}}");
    EXPECT_FAIL(LOAD("--config", path), "limits.default.pids");
    free(path);
    path = config_file("both.json", "{\"limits\":{\"max\":{\"pids\":10},\"default\":{\"pids\":10}}}");
    CHECK(LOAD("--config", path) == 0 && cfg.def.pids == 10 && cfg.max.pids == 10);
    free(path);

    EXPECT_FAIL(LOAD("--config", "/nonexistent/jobcell.json"), "/nonexistent/jobcell.json");
    CHECK(err.fault == JC_FAULT_SERVER && err.errnum != 0);
    EXPECT_FAIL(LOAD("--config", tmpdir), tmpdir); /* a directory */
    EXPECT_FAIL(LOAD("--config"), "--config");    /* no value */

    /* Bigger than 1 MiB: refused before parsing. */
    char *big = repeat(" ", 1024 * 1024 + 1);
    path = config_file("big.json", big);
    EXPECT_FAIL(LOAD("--config", path), "larger than 1048576 bytes");
    free(path);
    free(big);
}

/* The sum of tasks: ceilings derived from the host when left out, set by
 * the file within bounds, and no per-task maximum or default above them. */
static void test_ceilings(void)
{
    char *path;

    CHECK(LOAD("--state-dir", "/x") == 0);
    CHECK(cfg.ceiling_memory_mb >= 16 && cfg.ceiling_pids >= 16);
    CHECK(cfg.max.memory_mb <= cfg.ceiling_memory_mb && cfg.max.pids <= cfg.ceiling_pids);
    CHECK(cfg.log_quota_mb == 0 && cfg.min_free_mb == 0); /* resolved by logspace.c */

    path = config_file("ceil.json", "{\"ceiling_memory_mb\":96,\"ceiling_pids\":40,"
                                    "\"log_quota_mb\":2,\"min_free_mb\":16}");
    CHECK(LOAD("--config", path) == 0);
    CHECK(cfg.ceiling_memory_mb == 96 && cfg.ceiling_pids == 40);
    CHECK(cfg.log_quota_mb == 2 && cfg.min_free_mb == 16);
    /* lowered to the ceilings: 4096 → 96, 256 → 96, 1024 → 40, 64 → 40 */
    CHECK(cfg.max.memory_mb == 96 && cfg.def.memory_mb == 96);
    CHECK(cfg.max.pids == 40 && cfg.def.pids == 40);
    free(path);

    path = config_file("ceil-low.json", "{\"ceiling_memory_mb\":15}");
    EXPECT_FAIL(LOAD("--config", path), "'ceiling_memory_mb' must be between 16 and");
    free(path);
    path = config_file("ceil-pids.json", "{\"ceiling_pids\":4194305}");
    EXPECT_FAIL(LOAD("--config", path), "'ceiling_pids' must be between 16 and 4194304");
    free(path);
    path = config_file("quota.json", "{\"log_quota_mb\":0}");
    EXPECT_FAIL(LOAD("--config", path), "'log_quota_mb' must be between 1 and");
    free(path);
    path = config_file("floor.json", "{\"min_free_mb\":\"16\"}");
    EXPECT_FAIL(LOAD("--config", path), "'min_free_mb' must be an integer");
    free(path);
}

/* The warden's descriptor budget (config.h): 10 000 running tasks fit an
 * RLIMIT_NOFILE of 20 000 (1 descriptor each, 4 for each of up to 64 in
 * flight, 64 reserved); below that, max_running is lowered to what fits,
 * and max_connections only to the front's own table (a low hard limit of
 * 256 left it 1 connection, when the spawns' share was taken from it). */
static void test_fit_nofile(void)
{
    config_defaults(&cfg);
    cfg.pool_size = 0; /* its cells' descriptors: test_pool */
    cfg.max_running = 10000;
    cfg.max_connections = 4096;
    config_fit_nofile(&cfg, 20000);
    CHECK(cfg.max_running == 10000 && cfg.max_connections == 4096);

    cfg.max_running = 20000;
    config_fit_nofile(&cfg, 20000);
    CHECK(cfg.max_running == 64 + (20000 - 64 - 64 * 4)); /* 19 744 */

    cfg.max_running = 10000;
    config_fit_nofile(&cfg, 5000);
    CHECK(cfg.max_running == 64 + (5000 - 64 - 64 * 4) && cfg.max_connections == 4096);

    cfg.max_running = 500; /* test_storage's Descriptors: prlimit 256 */
    config_fit_nofile(&cfg, 256);
    CHECK(cfg.max_running == (256 - 64) / 4 && cfg.max_connections == 256 - 64);

    cfg.max_running = 100;
    config_fit_nofile(&cfg, 64);
    CHECK(cfg.max_running == 32 / 4 && cfg.max_connections == 32);
}

/* dist/jobcell.json.sample (installed as the sample config) parses, and
 * every value in it is the embedded default: the sample and the code say
 * the same.  Keys derived from the host are documented, not in the sample. */
/* pool_size: its bounds, its descriptors, and what a reload must rebuild. */
static void test_pool(void)
{
    struct jc_config a, b;
    char *path = config_file("pool.json", "{\"pool_size\": 0}");

    config_defaults(&a);
    CHECK(a.pool_size == 2);
    CHECK(LOAD("--config", path) == 0 && cfg.pool_size == 0);
    free(path);
    path = config_file("pool-big.json", "{\"pool_size\": 65}");
    EXPECT_FAIL(LOAD("--config", path), "pool_size");
    free(path);

    a.max_running = 1000;
    /* 536 after the reserve, 10 for two cells: 64 in flight (256), 270 more */
    config_fit_nofile(&a, 600);
    CHECK(a.pool_size == 2 && a.max_running == 64 + 270);
    a.pool_size = 64;
    config_fit_nofile(&a, 600); /* 64 cells would take more than half: none */
    CHECK(a.pool_size == 0);

    config_defaults(&a);
    b = a;
    b.max_queued = 7;
    b.pool_size = 9;
    CHECK(!config_cells_differ(&a, &b)); /* nothing a cell carries */
    struct jc_config c = a;
    c.def.tmpfs_mb++;
    CHECK(config_cells_differ(&a, &c));
    c = a;
    c.def.cpus = 0.25;
    CHECK(config_cells_differ(&a, &c));
    c = a;
    c.def.memory_mb++;
    CHECK(config_cells_differ(&a, &c));
    c = a;
    c.def.pids++;
    CHECK(config_cells_differ(&a, &c));
    c = a;
    c.def.timeout_s++; /* not in a cell: the monitor's */
    CHECK(!config_cells_differ(&a, &c));
}

static void test_sample(const char *sample)
{
    static struct jc_config plain;

    CHECK(LOAD("--state-dir", "/var/lib/jobcell") == 0);
    plain = cfg;
    if (LOAD("--config", sample) != 0)
        fprintf(stderr, "sample %s: %s\n", sample, err.msg);
    CHECK(memcmp(&cfg, &plain, sizeof cfg) == 0);
}

int main(int argc, char **argv)
{
    tmpdir = make_tmpdir("config");
    CHECK(tmpdir != NULL);
    if (!tmpdir)
        return check_summary();
    test_defaults();
    test_derived_defaults();
    test_listen();
    test_flags();
    test_node();
    test_file();
    test_file_errors();
    test_ceilings();
    test_pool();
    test_fit_nofile();
    CHECK(argc == 2);
    if (argc == 2)
        test_sample(argv[1]);
    rm_tree(tmpdir);
    return check_summary();
}
