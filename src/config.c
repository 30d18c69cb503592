/* config.c — defaults, JSON config file and flags → struct jc_config, and
 * the ceilings on the sum of tasks (derived from the host when not set).
 * Runs in: main(), once, before any fork or thread. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jc_build_config.h"
#include "jsonutil.h"
#include "taskid.h"
#include "util.h"

/* Run from the build tree → use the build tree's rootfs, policies and
 * spawn stub. */
static int running_from_build_tree(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);

    if (n <= 0)
        return 0;
    exe[n] = 0;
    return strncmp(exe, JC_BUILD_DIR "/", strlen(JC_BUILD_DIR) + 1) == 0;
}

void config_defaults(struct jc_config *c)
{
    int dev = running_from_build_tree();

    *c = (struct jc_config){0};
    snprintf(c->listen_host, sizeof c->listen_host, "127.0.0.1");
    c->listen_port = 8080;
    snprintf(c->rootfs, sizeof c->rootfs, "%s", dev ? JC_BUILD_ROOTFS : JC_INSTALL_ROOTFS);
    snprintf(c->spawn_stub, sizeof c->spawn_stub, "%s", dev ? JC_BUILD_STUB : JC_INSTALL_STUB);
    snprintf(c->policy_dir, sizeof c->policy_dir, "%s",
             dev ? JC_BUILD_POLICY_DIR : JC_INSTALL_POLICY_DIR);
    snprintf(c->state_dir, sizeof c->state_dir, "/var/lib/jobcell");
    snprintf(c->user, sizeof c->user, "jobcell");
    snprintf(c->cgroup_name, sizeof c->cgroup_name, "jobcell");
    c->log_level = LOG_LVL_INFO;
    c->access_log = -1;
    c->max_running = config_default_max_running(sysconf(_SC_NPROCESSORS_ONLN),
                                                (long)((uint64_t)sysconf(_SC_PHYS_PAGES) *
                                                       (uint64_t)sysconf(_SC_PAGESIZE) >> 20));
    c->max_queued = UINT32_MAX; /* unset: 8 × max_running, see config_load */
    c->max_wait_s = 300;
    c->max_waiters = 4096;
    c->max_body_bytes = 64 * 1024;
    c->max_duration_s = 3600;
    c->retention_s = 24 * 3600;
    c->max_records = 10000;
    c->uid_base = 1000000;
    c->http_threads = 2;
    c->max_connections = 4096;
    c->per_ip_connections = 64;
    c->conn_timeout_s = 30;
    c->request_timeout_s = 20;
    c->ipc_stall_s = 10;
    c->stop_grace_s = 30;
    c->pool_size = 2;
    jc_limits_builtin(&c->def, &c->max);
}

/* 32 running tasks per core, and at least 64 MB of memory for each. */
uint32_t config_default_max_running(long cores, long mem_mb)
{
    long by_cpu = (cores > 0 ? cores : 1) * 32, by_mem = mem_mb / 64;
    long n = by_cpu < by_mem ? by_cpu : by_mem;

    return n < 4 ? 4 : n > 4096 ? 4096 : (uint32_t)n;
}

int config_parse_listen(struct jc_config *c, const char *s, struct jc_err *err)
{
    const char *colon = strrchr(s, ':');
    char host[64];
    struct in_addr a;
    char *end;
    long port;

    c->listen_unix[0] = 0;
    if (strncmp(s, "unix:", 5) == 0) {
        if (s[5] != '/' || strlen(s + 5) >= sizeof c->listen_unix)
            return jc_client(err, 400, "--listen: unix socket path must be absolute and under %zu bytes",
                             sizeof c->listen_unix);
        snprintf(c->listen_unix, sizeof c->listen_unix, "%s", s + 5);
        return 0;
    }
    if (!colon || colon == s || (size_t)(colon - s) >= sizeof host)
        return jc_client(err, 400, "--listen: expected ADDR:PORT or unix:PATH, got \"%s\"", s);
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (errno || *end || port < 1 || port > 65535)
        return jc_client(err, 400, "--listen: bad port in \"%s\"", s);
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &a) != 1)
        return jc_client(err, 400, "--listen: \"%s\" is not an IPv4 address", host);
    snprintf(c->listen_host, sizeof c->listen_host, "%s", host);
    c->listen_port = (uint16_t)port;
    return 0;
}

static int set_path(char *dst, size_t cap, const char *what, const char *v, struct jc_err *err)
{
    if (!v[0] || strlen(v) >= cap)
        return jc_client(err, 400, "%s: path empty or too long", what);
    snprintf(dst, cap, "%s", v);
    return 0;
}

static int set_name(char *dst, size_t cap, const char *what, const char *v, struct jc_err *err)
{
    size_t n = strlen(v);

    if (n == 0 || n >= cap || strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") != n ||
        v[0] == '.')
        return jc_client(err, 400, "%s: \"%s\" must be 1-%zu of [A-Za-z0-9_.-]", what, v, cap - 1);
    snprintf(dst, cap, "%s", v);
    return 0;
}

static int set_node(struct jc_config *c, const char *what, const char *v, struct jc_err *err)
{
    if (!jc_node_valid(v))
        return jc_client(err, 400, "%s: \"%.64s\" must be 1-%d of [a-z0-9-], not starting or ending with '-'",
                         what, v, JC_NODE_MAX);
    snprintf(c->node, sizeof c->node, "%s", v);
    return 0;
}

/* No node set: the hostname's (taskid.h). */
static int default_node(struct jc_config *c, struct jc_err *err)
{
    char host[HOST_NAME_MAX + 1];

    if (c->node[0])
        return 0;
    if (gethostname(host, sizeof host) < 0)
        return jc_fail(err, errno, "node: gethostname (set \"node\" in the config or --node)");
    host[HOST_NAME_MAX] = 0;
    return jc_node_from_hostname(host, c->node, err);
}

static const char *const g_level_names[] = {"debug", "info", "warn", "error"};

static int set_level(struct jc_config *c, const char *v, struct jc_err *err)
{
    for (unsigned i = 0; i < JC_ARRAY_LEN(g_level_names); i++)
        if (strcmp(v, g_level_names[i]) == 0) {
            c->log_level = (enum log_level)i;
            return 0;
        }
    return jc_client(err, 400, "--log-level: expected debug, info, warn or error, got \"%s\"", v);
}

/* access_log: "off", or the level its lines are logged at. */
static int set_access_log(struct jc_config *c, const char *v, struct jc_err *err)
{
    if (strcmp(v, "off") == 0) {
        c->access_log = -1;
        return 0;
    }
    for (unsigned i = 0; i < JC_ARRAY_LEN(g_level_names); i++)
        if (strcmp(v, g_level_names[i]) == 0) {
            c->access_log = (int)i;
            return 0;
        }
    return jc_client(err, 400, "access_log: expected off, debug, info, warn or error, got \"%s\"", v);
}

/* ---- config file (JSON) -------------------------------------------------- */

struct u32_key {
    const char *key;
    size_t off;
    uint32_t min, max;
};

static const struct u32_key u32_keys[] = {
    {"max_running", offsetof(struct jc_config, max_running), 1, 65536},
    {"max_queued", offsetof(struct jc_config, max_queued), 0, 1000000},
    {"max_wait_s", offsetof(struct jc_config, max_wait_s), 1, 3600},
    {"max_waiters", offsetof(struct jc_config, max_waiters), 1, 100000},
    {"max_body_kb", offsetof(struct jc_config, max_body_bytes), 1, 16384},
    {"max_duration_s", offsetof(struct jc_config, max_duration_s), 0, 86400 * 7},
    {"retention_s", offsetof(struct jc_config, retention_s), 1, 86400 * 365},
    {"max_records", offsetof(struct jc_config, max_records), 1, 10000000},
    {"uid_base", offsetof(struct jc_config, uid_base), 100000, 0x7fffffff - 65536},
    {"http_threads", offsetof(struct jc_config, http_threads), 1, 64},
    {"max_connections", offsetof(struct jc_config, max_connections), 4, 100000},
    {"per_ip_connections", offsetof(struct jc_config, per_ip_connections), 1, 100000},
    {"conn_timeout_s", offsetof(struct jc_config, conn_timeout_s), 1, 3600},
    {"ceiling_memory_mb", offsetof(struct jc_config, ceiling_memory_mb), 16, 1u << 26},
    {"ceiling_pids", offsetof(struct jc_config, ceiling_pids), 16, 1u << 22},
    {"log_quota_mb", offsetof(struct jc_config, log_quota_mb), 1, 1u << 30},
    {"min_free_mb", offsetof(struct jc_config, min_free_mb), 1, 1u << 30},
    {"request_timeout_s", offsetof(struct jc_config, request_timeout_s), 1, 3600},
    {"ipc_stall_s", offsetof(struct jc_config, ipc_stall_s), 1, 3600},
    {"stop_grace_s", offsetof(struct jc_config, stop_grace_s), 0, 3600},
    {"pool_size", offsetof(struct jc_config, pool_size), 0, 64},
};

static int file_u32(struct jc_config *c, const char *key, json_object *v, int *found,
                    struct jc_err *err)
{
    for (unsigned i = 0; i < JC_ARRAY_LEN(u32_keys); i++) {
        const struct u32_key *k = &u32_keys[i];
        if (strcmp(key, k->key) != 0)
            continue;
        *found = 1;
        if (ju_u32(v, key, k->min, k->max, (uint32_t *)((char *)c + k->off), err) < 0)
            return -1;
        if (strcmp(key, "max_body_kb") == 0)
            c->max_body_bytes *= 1024;
        return 0;
    }
    return 0;
}

static int file_limits(struct jc_config *c, json_object *v, struct jc_err *err)
{
    if (ju_object(v, "limits", err) < 0)
        return -1;
    json_object_object_foreach(v, key, val) {
        if (strcmp(key, "default") == 0) {
            if (ju_limits(val, "limits.default", NULL, &c->def, err) < 0)
                return -1;
        } else if (strcmp(key, "max") == 0) {
            if (ju_limits(val, "limits.max", NULL, &c->max, err) < 0)
                return -1;
        } else {
            return jc_client(err, 400, "Unknown field 'limits.%s'", key);
        }
    }
    return 0;
}

static int set_sync(struct jc_config *c, const char *s, struct jc_err *err)
{
    if (strcmp(s, "normal") != 0 && strcmp(s, "full") != 0)
        return jc_client(err, 400, "'records_sync' must be \"normal\" or \"full\"");
    c->sync_full = strcmp(s, "full") == 0;
    return 0;
}

static int file_string(struct jc_config *c, const char *key, json_object *v, struct jc_err *err)
{
    const char *s = ju_string(v, key, err);

    if (!s)
        return -1;
    if (strcmp(key, "listen") == 0)
        return config_parse_listen(c, s, err);
    if (strcmp(key, "rootfs") == 0)
        return set_path(c->rootfs, sizeof c->rootfs, key, s, err);
    if (strcmp(key, "policy_dir") == 0)
        return set_path(c->policy_dir, sizeof c->policy_dir, key, s, err);
    if (strcmp(key, "state_dir") == 0)
        return set_path(c->state_dir, sizeof c->state_dir, key, s, err);
    if (strcmp(key, "user") == 0)
        return set_name(c->user, sizeof c->user, key, s, err);
    if (strcmp(key, "cgroup_name") == 0)
        return set_name(c->cgroup_name, sizeof c->cgroup_name, key, s, err);
    if (strcmp(key, "node") == 0)
        return set_node(c, key, s, err);
    if (strcmp(key, "log_level") == 0)
        return set_level(c, s, err);
    if (strcmp(key, "access_log") == 0)
        return set_access_log(c, s, err);
    if (strcmp(key, "token_file") == 0)
        return set_path(c->token_file, sizeof c->token_file, key, s, err);
    if (strcmp(key, "records_sync") == 0)
        return set_sync(c, s, err);
    return jc_client(err, 400, "Unknown field '%s'", key);
}

static int apply_file_key(struct jc_config *c, const char *key, json_object *v, struct jc_err *err)
{
    static const char *const strings[] = {"listen", "rootfs", "policy_dir", "state_dir", "user",
                                          "cgroup_name", "node", "log_level", "access_log", "token_file",
                                          "records_sync"};
    int found = 0;

    if (strcmp(key, "limits") == 0)
        return file_limits(c, v, err);
    if (file_u32(c, key, v, &found, err) < 0)
        return -1;
    if (found)
        return 0;
    for (unsigned i = 0; i < JC_ARRAY_LEN(strings); i++)
        if (strcmp(key, strings[i]) == 0)
            return file_string(c, key, v, err);
    return jc_client(err, 400, "Unknown field '%s'", key);
}

static int load_file(struct jc_config *c, const char *path, struct jc_problems *p)
{
    _cleanup_free_ char *buf = NULL;
    _cleanup_json_ json_object *root = NULL;
    struct jc_err err = {0};
    size_t len = 0;

    if (jc_read_file_at(AT_FDCWD, path, NULL, 1024 * 1024, &buf, &len, &err) < 0)
        return jc_problem(p, &err);
    if (ju_parse(buf, len, JU_MAX_DEPTH, &root, &err) < 0 ||
        ju_object(root, "(config file)", &err) < 0) {
        jc_err_prefix(&err, "config %s: ", path);
        return jc_problem(p, &err);
    }
    json_object_object_foreach(root, key, val) {
        if (apply_file_key(c, key, val, &err) < 0) {
            jc_err_prefix(&err, "config %s: ", path);
            jc_problem(p, &err);
            jc_err_clear(&err);
        }
    }
    return 0;
}

/* ---- flags ---------------------------------------------------------------- */

static const char usage_text[] =
    "usage: jobcelld [OPTIONS]\n"
    "Runs each submitted task as its own fully isolated process.\n\n"
    "  --listen ADDR:PORT    HTTP address (default 127.0.0.1:8080), or unix:PATH\n"
    "  --rootfs DIR          task root filesystem (default: the built/installed one)\n"
    "  --policy-dir DIR      seccomp profiles, *.json (default: the shipped policy/)\n"
    "  --state-dir DIR       task records and logs (default /var/lib/jobcell)\n"
    "  --user NAME           unprivileged user the HTTP front runs as (default jobcell)\n"
    "  --config FILE         JSON config file; flags override it\n"
    "  --cgroup-name NAME    name of jobcell's cgroup subtree (default jobcell)\n"
    "  --node NAME           this host's name in task ids, for a proxy to route on\n"
    "                        (default: the hostname's first label; docs/scaling.md)\n"
    "  --log-level LEVEL     debug, info, warn or error (default info)\n"
    "  --token-file FILE     require \"Authorization: Bearer <token>\" on /api (file mode 0600)\n"
    "  --check-config        validate everything it would load, list every problem,\n"
    "                        exit 0 (all good) or 2; starts nothing\n"
    "  --insecure-allow-remote-without-token\n"
    "                        listen on a non-loopback address with no token: anyone who\n"
    "                        reaches the port can run code on this host\n"
    "  --help, --version\n\n"
    "Must run as root.  See docs/api.md and docs/limits.md.\n";

enum { OPT_LISTEN = 256, OPT_ROOTFS, OPT_POLICY, OPT_STATE, OPT_USER, OPT_CONFIG, OPT_CGROUP,
       OPT_NODE, OPT_LOGLEVEL, OPT_TOKEN, OPT_INSECURE, OPT_CHECK, OPT_HELP, OPT_VERSION };

static const struct option long_opts[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"rootfs", required_argument, NULL, OPT_ROOTFS},
    {"policy-dir", required_argument, NULL, OPT_POLICY},
    {"state-dir", required_argument, NULL, OPT_STATE},
    {"user", required_argument, NULL, OPT_USER},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"cgroup-name", required_argument, NULL, OPT_CGROUP},
    {"node", required_argument, NULL, OPT_NODE},
    {"log-level", required_argument, NULL, OPT_LOGLEVEL},
    {"token-file", required_argument, NULL, OPT_TOKEN},
    {"insecure-allow-remote-without-token", no_argument, NULL, OPT_INSECURE},
    {"check-config", no_argument, NULL, OPT_CHECK},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {0},
};

static int apply_flag(struct jc_config *c, int opt, const char *v, struct jc_err *err)
{
    switch (opt) {
    case OPT_LISTEN:
        return config_parse_listen(c, v, err);
    case OPT_ROOTFS:
        return set_path(c->rootfs, sizeof c->rootfs, "--rootfs", v, err);
    case OPT_POLICY:
        return set_path(c->policy_dir, sizeof c->policy_dir, "--policy-dir", v, err);
    case OPT_STATE:
        return set_path(c->state_dir, sizeof c->state_dir, "--state-dir", v, err);
    case OPT_USER:
        return set_name(c->user, sizeof c->user, "--user", v, err);
    case OPT_CGROUP:
        return set_name(c->cgroup_name, sizeof c->cgroup_name, "--cgroup-name", v, err);
    case OPT_NODE:
        return set_node(c, "--node", v, err);
    case OPT_LOGLEVEL:
        return set_level(c, v, err);
    case OPT_TOKEN:
        return set_path(c->token_file, sizeof c->token_file, "--token-file", v, err);
    case OPT_INSECURE:
        c->insecure_remote = true;
        return 0;
    case OPT_CHECK:
        c->check_only = true;
        return 0;
    default:
        return 0;
    }
}

/* Every default limit must be allowed by its maximum. */
static int check_defaults(const struct jc_config *c, struct jc_err *err)
{
    const struct jc_limit_def *d = jc_limits_outside(&c->def, &c->max);

    if (d)
        return jc_client(err, 400, "config: limits.default.%s is above limits.max.%s", d->name, d->name);
    return 0;
}

/* ---- the sum of tasks ------------------------------------------------------ */

/* A number from a /proc file: the first one after `key` (NULL: at the start). */
static int proc_u64(const char *path, const char *key, uint64_t *out, struct jc_err *err)
{
    char buf[4096];
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    const char *at;

    if (n <= 0)
        return jc_fail(err, errno, "reading %s (to derive the ceilings)", path);
    buf[n] = 0;
    at = key ? strstr(buf, key) : buf;
    if (!at || sscanf(at + (key ? strlen(key) : 0), "%" SCNu64, out) != 1)
        return jc_fail(err, 0, "%s: no %s", path, key ? key : "number");
    return 0;
}

/* Defaults: memory = MemTotal less a reserve for the host of an eighth, at
 * least 256 MiB (half of MemTotal on hosts below 512 MiB); pids = half of
 * the lower of kernel.pid_max and kernel.threads-max. */
static int derive_ceilings(struct jc_config *c, struct jc_err *err)
{
    uint64_t kb, pid_max, threads;

    if (!c->ceiling_memory_mb) {
        if (proc_u64("/proc/meminfo", "MemTotal:", &kb, err) < 0)
            return -1;
        uint64_t mb = kb / 1024, reserve = mb / 8 > 256 ? mb / 8 : 256;
        mb = mb >= 2 * reserve ? mb - reserve : mb / 2;
        c->ceiling_memory_mb = mb > UINT32_MAX ? UINT32_MAX : (uint32_t)mb;
    }
    if (!c->ceiling_pids) {
        if (proc_u64("/proc/sys/kernel/pid_max", NULL, &pid_max, err) < 0 ||
            proc_u64("/proc/sys/kernel/threads-max", NULL, &threads, err) < 0)
            return -1;
        uint64_t p = (pid_max < threads ? pid_max : threads) / 2;
        c->ceiling_pids = p > UINT32_MAX ? UINT32_MAX : (uint32_t)p;
    }
    return 0;
}

static void clamp_u32(uint32_t *v, const char *what, uint32_t ceiling, const char *ceiling_key)
{
    if (*v <= ceiling)
        return;
    log_warnx("%s %u is above %s %u: lowered to it", what, *v, ceiling_key, ceiling);
    *v = ceiling;
}

/* No single task may be allowed more than all of them together: a maximum
 * (or default) above its ceiling is lowered to the ceiling. */
void config_clamp_to_ceilings(struct jc_config *c)
{
    clamp_u32(&c->max.memory_mb, "limits.max.memory_mb", c->ceiling_memory_mb, "ceiling_memory_mb");
    clamp_u32(&c->def.memory_mb, "limits.default.memory_mb", c->ceiling_memory_mb, "ceiling_memory_mb");
    clamp_u32(&c->max.pids, "limits.max.pids", c->ceiling_pids, "ceiling_pids");
    clamp_u32(&c->def.pids, "limits.default.pids", c->ceiling_pids, "ceiling_pids");
}

static int resolve_ceilings(struct jc_config *c, struct jc_err *err)
{
    if (derive_ceilings(c, err) < 0)
        return -1;
    config_clamp_to_ceilings(c);
    return 0;
}

/* The config file is applied first, wherever --config stands. */
static const char *find_config_flag(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            return argv[i + 1];
        if (strncmp(argv[i], "--config=", 9) == 0)
            return argv[i] + 9;
    }
    return NULL;
}

/* The token file: a regular file of ours, mode 0600 at most, holding
 * 16–256 printable characters (a trailing newline is ignored). */
int config_read_token(const char *path, char token[JC_TOKEN_SIZE], struct jc_err *err)
{
    _cleanup_close_ int fd = -1;
    struct stat st;
    ssize_t n;

    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0)
        return jc_fail(err, errno, "--token-file %s", path);
    if (!S_ISREG(st.st_mode) || (st.st_mode & 077))
        return jc_fail(err, 0, "--token-file %s: must be a regular file of mode 0600 (it is %04o)",
                       path, (unsigned)(st.st_mode & 07777));
    n = read(fd, token, JC_TOKEN_SIZE - 1);
    if (n < 0)
        return jc_fail(err, errno, "--token-file %s", path);
    while (n > 0 && (token[n - 1] == '\n' || token[n - 1] == '\r'))
        n--;
    token[n] = 0;
    if (memchr(token, 0, (size_t)n) || !config_token_ok(token)) {
        explicit_bzero(token, JC_TOKEN_SIZE);
        return jc_fail(err, 0, "--token-file %s: the token must be 16 to 255 printable characters without spaces",
                       path);
    }
    return 0;
}

bool config_token_ok(const char *token)
{
    size_t n = strnlen(token, JC_TOKEN_SIZE);

    if (n < 16 || n >= JC_TOKEN_SIZE - 1)
        return false;
    for (size_t i = 0; i < n; i++)
        if (token[i] <= ' ' || token[i] > '~')
            return false;
    return true;
}

int jc_problem(struct jc_problems *p, const struct jc_err *err)
{
    if (p->n < JC_PROBLEMS_MAX)
        p->items[p->n] = *err;
    p->n++;
    return -1;
}

/* The flags, in order; a bad one is a problem and the next is read. */
static int collect_flags(struct jc_config *c, int argc, char **argv, struct jc_problems *p)
{
    struct jc_err err = {0};
    int opt;

    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        if (opt == OPT_HELP || opt == OPT_VERSION) {
            fputs(opt == OPT_HELP ? usage_text : "jobcelld " JC_VERSION "\n", stdout);
            return 1;
        }
        if (opt == '?' || opt == ':')
            jc_client(&err, 400, "unknown or incomplete option \"%s\" (see --help)", argv[optind - 1]);
        else if (apply_flag(c, opt, optarg, &err) == 0)
            continue;
        jc_problem(p, &err);
        jc_err_clear(&err);
    }
    if (optind < argc) {
        jc_client(&err, 400, "unexpected argument \"%s\" (see --help)", argv[optind]);
        jc_problem(p, &err);
    }
    return 0;
}

int config_collect(struct jc_config *c, int argc, char **argv, struct jc_problems *p)
{
    const char *file = find_config_flag(argc, argv);
    struct jc_err err = {0};

    config_defaults(c);
    if (file)
        load_file(c, file, p);
    if (collect_flags(c, argc, argv, p) == 1)
        return 1;
    if (c->max_queued == UINT32_MAX)
        c->max_queued = c->max_running * 8;
    if (check_defaults(c, &err) < 0)
        jc_problem(p, &err);
    jc_err_clear(&err);
    if (default_node(c, &err) < 0)
        jc_problem(p, &err);
    jc_err_clear(&err);
    if (resolve_ceilings(c, &err) < 0)
        jc_problem(p, &err);
    return 0;
}

int config_load(struct jc_config *c, int argc, char **argv, struct jc_err *err)
{
    static struct jc_problems p; /* main() runs once, before any thread */

    p.n = 0;
    if (config_collect(c, argc, argv, &p) == 1)
        return 1;
    if (!p.n)
        return 0;
    *err = p.items[0];
    return -1;
}

/* ---- reload (SIGHUP) -------------------------------------------------------- */

/* A stop takes up to stop_grace_s + 45 s (warden.c: 15 s for the killed
 * tasks, 15 s for their cgroups (sweeper.h), ipc_stall_s for the last
 * reports, 5 s for the front); past systemd's default TimeoutStopSec (90 s)
 * it would be SIGKILLed mid-stop. */
void config_warn_stop_time(const struct jc_config *c)
{
    uint64_t worst = (uint64_t)c->stop_grace_s + 35 + c->ipc_stall_s;

    if (worst >= 90)
        log_warnx("stop_grace_s %u: a stop may take up to %llu s; make the service manager's stop timeout "
                  "(systemd TimeoutStopSec, 90 s by default) longer than that",
                  c->stop_grace_s, (unsigned long long)worst);
}

/* How many tasks, running or in flight, `room` warden descriptors hold. */
static uint64_t tasks_fitting(uint64_t room)
{
    const uint64_t spawning = (uint64_t)SPAWNS_IN_FLIGHT * FDS_PER_SPAWN;

    if (room <= spawning)
        return room / FDS_PER_SPAWN;
    return SPAWNS_IN_FLIGHT + (room - spawning) / FDS_PER_TASK;
}

void config_fit_nofile(struct jc_config *c, uint64_t nofile)
{
    /* Each process's own table, less what it keeps for itself. */
    uint64_t room = nofile > 2 * FDS_RESERVED ? nofile - FDS_RESERVED : nofile / 2;

    if ((uint64_t)c->pool_size * FDS_PER_CELL > room / 2) {
        log_warnx("pool_size %u needs more descriptors than RLIMIT_NOFILE %llu allows: using 0", c->pool_size,
                  (unsigned long long)nofile);
        c->pool_size = 0;
    }
    uint64_t fit = tasks_fitting(room - (uint64_t)c->pool_size * FDS_PER_CELL);
    if (fit == 0)
        fit = 1;
    if (c->max_running > fit) {
        log_warnx("max_running %u needs more descriptors than RLIMIT_NOFILE %llu allows: using %llu",
                  c->max_running, (unsigned long long)nofile, (unsigned long long)fit);
        c->max_running = (uint32_t)fit;
    }
    if (c->max_connections > room) {
        log_warnx("max_connections %u is above RLIMIT_NOFILE %llu: using %llu", c->max_connections,
                  (unsigned long long)nofile, (unsigned long long)room);
        c->max_connections = (uint32_t)room;
    }
}

/* What start-up built on these stays as it is until a restart: the
 * listening socket, the front's user, the open state directory and
 * records, the node name in task ids, the cgroup subtree and its ceilings, the HTTP server's threads
 * and connection bounds, the hold list's size, the slots' host uids, the
 * log space.  Every other key is applied by a reload. */
struct restart_key {
    const char *key;
    size_t off, size;
    bool str;
};
#define RK(k, f, s) {k, offsetof(struct jc_config, f), sizeof(((struct jc_config *)0)->f), s}
static const struct restart_key restart_keys[] = {
    RK("listen", listen_host, true), RK("listen", listen_port, false), RK("listen", listen_unix, true),
    RK("token_file", token_file, true), RK("rootfs", rootfs, true), RK("state_dir", state_dir, true),
    RK("user", user, true), RK("cgroup_name", cgroup_name, true), RK("node", node, true), RK("records_sync", sync_full, false),
    RK("uid_base", uid_base, false), RK("http_threads", http_threads, false),
    RK("max_connections", max_connections, false), RK("per_ip_connections", per_ip_connections, false),
    RK("conn_timeout_s", conn_timeout_s, false),
    RK("max_waiters", max_waiters, false), RK("ceiling_memory_mb", ceiling_memory_mb, false),
    RK("ceiling_pids", ceiling_pids, false), RK("log_quota_mb", log_quota_mb, false),
    RK("min_free_mb", min_free_mb, false),
    RK("--insecure-allow-remote-without-token", insecure_remote, false),
};
#undef RK

static bool key_differs(const struct restart_key *k, const struct jc_config *a, const struct jc_config *b)
{
    const char *x = (const char *)a + k->off, *y = (const char *)b + k->off;

    return k->str ? strncmp(x, y, k->size) != 0 : memcmp(x, y, k->size) != 0;
}

static void note_changed(const char *key, const char **changed, unsigned max, unsigned *n)
{
    for (unsigned i = 0; i < *n && i < max; i++)
        if (strcmp(changed[i], key) == 0)
            return;
    if (*n < max)
        changed[*n] = key;
    (*n)++;
}

unsigned config_keep_restart(const struct jc_config *running, struct jc_config *c, const char **changed,
                             unsigned max)
{
    unsigned n = 0;

    for (unsigned i = 0; i < JC_ARRAY_LEN(restart_keys); i++) {
        const struct restart_key *k = &restart_keys[i];
        if (!key_differs(k, running, c))
            continue;
        note_changed(k->key, changed, max, &n);
        memcpy((char *)c + k->off, (const char *)running + k->off, k->size);
    }
    c->missing_limits = running->missing_limits; /* the cgroup probe's, not a key */
    c->check_only = false;
    return n;
}

bool config_cells_differ(const struct jc_config *old, const struct jc_config *c)
{
    const struct jc_limits *a = &old->def, *b = &c->def;

    return a->memory_mb != b->memory_mb || a->pids != b->pids || a->tmpfs_mb != b->tmpfs_mb ||
           a->cpus != b->cpus || old->uid_base != c->uid_base;
}

/* A number off the wire within its key's bounds (0: derived at start-up,
 * for the keys that allow it). */
static int wire_u32_ok(const struct jc_config *c, const struct u32_key *k, struct jc_err *err)
{
    uint32_t v = *(const uint32_t *)((const char *)c + k->off);
    bool derived = strncmp(k->key, "ceiling_", 8) == 0 || strcmp(k->key, "log_quota_mb") == 0 ||
                   strcmp(k->key, "min_free_mb") == 0;

    if (strcmp(k->key, "max_body_kb") == 0)
        v = v % 1024 ? 0 : v / 1024;
    if ((v >= k->min && v <= k->max) || (derived && v == 0) || (derived && v > k->max))
        return 0;
    return jc_fail(err, 0, "config: %s %u is out of bounds", k->key, v);
}

static bool byte_bool_ok(const bool *b)
{
    unsigned char byte;

    memcpy(&byte, b, 1);
    return byte <= 1;
}

static int wire_limits_ok(const struct jc_config *c, struct jc_err *err)
{
    for (unsigned i = 0; i < JC_NLIMITS; i++) {
        const struct jc_limit_def *d = &jc_limit_defs[i];
        double v = jc_limit_get(&c->max, d);
        if (!(v >= d->min && v <= d->ceiling))
            return jc_fail(err, 0, "config: limits.max.%s is out of bounds", d->name);
    }
    return check_defaults(c, err);
}

static int wire_strings_ok(const struct jc_config *c, struct jc_err *err)
{
    const struct { const char *s; size_t n; } str[] = {
        {c->listen_host, sizeof c->listen_host}, {c->listen_unix, sizeof c->listen_unix},
        {c->token_file, sizeof c->token_file}, {c->rootfs, sizeof c->rootfs},
        {c->policy_dir, sizeof c->policy_dir}, {c->state_dir, sizeof c->state_dir},
        {c->user, sizeof c->user}, {c->cgroup_name, sizeof c->cgroup_name}, {c->node, sizeof c->node},
    };

    for (unsigned i = 0; i < JC_ARRAY_LEN(str); i++)
        if (!memchr(str[i].s, 0, str[i].n))
            return jc_fail(err, 0, "config: an unterminated string");
    if (c->token[0])
        return jc_fail(err, 0, "config: a token in the config (it travels on its own)");
    return 0;
}

int config_wire_ok(const struct jc_config *c, struct jc_err *err)
{
    if (!byte_bool_ok(&c->insecure_remote) || !byte_bool_ok(&c->check_only) || !byte_bool_ok(&c->sync_full))
        return jc_fail(err, 0, "config: a flag is neither 0 nor 1");
    if (wire_strings_ok(c, err) < 0)
        return -1;
    if ((unsigned)c->log_level > LOG_LVL_ERROR || c->access_log < -1 || c->access_log > LOG_LVL_ERROR)
        return jc_fail(err, 0, "config: a bad log level");
    for (unsigned i = 0; i < JC_ARRAY_LEN(u32_keys); i++)
        if (wire_u32_ok(c, &u32_keys[i], err) < 0)
            return -1;
    if (c->missing_limits >> JC_NLIMITS)
        return jc_fail(err, 0, "config: bad missing_limits");
    return wire_limits_ok(c, err);
}
