/* config.h — the daemon's configuration: embedded defaults, then the JSON
 * config file (--config), then command-line flags.  A reload (SIGHUP) makes
 * a new one the same way (reload.h): which keys it may change is decided
 * here (config_keep_restart()), once.
 * Runs in: main() before the privsep fork, the warden's main thread on a
 * reload; the front keeps immutable snapshots (snapshot.h). */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "log.h"
#include "task.h"

#define JC_TOKEN_SIZE 257 /* a token of 16–255 characters and its NUL */

struct jc_config {
    char listen_host[64];
    uint16_t listen_port;
    char listen_unix[108];   /* --listen unix:PATH: a unix socket instead */
    char token_file[PATH_MAX];
    char token[JC_TOKEN_SIZE]; /* bearer token for /api routes, "" = none */
    bool insecure_remote;    /* allow a non-loopback listener without token */
    char rootfs[PATH_MAX];
    char spawn_stub[PATH_MAX]; /* jobcell-spawn (plan.h): not a key, where this build put it */
    char policy_dir[PATH_MAX];
    char state_dir[PATH_MAX];
    char user[64];
    char cgroup_name[64];
    char node[JC_NODE_MAX + 1]; /* this host's name in task ids (taskid.h); default: the hostname */
    enum log_level log_level;
    int access_log;          /* enum log_level of one line per request, -1: off */
    bool check_only;         /* --check-config: validate, report, exit */

    uint32_t max_running;    /* tasks alive at once; more wait in the queue */
    uint32_t max_queued;     /* tasks waiting at most; more → 503 */
    uint32_t max_wait_s;     /* the longest ?wait= a request may ask */
    uint32_t max_waiters;    /* requests held in ?wait= at once; more → 503 */
    bool sync_full;          /* records_sync "full": fsync each commit */
    uint32_t max_body_bytes; /* request body cap → 413 */
    uint32_t max_duration_s; /* built-in worker's "duration" maximum */
    uint32_t retention_s;    /* how long finished records are kept */
    uint32_t max_records;    /* records kept at most (oldest finished pruned) */
    uint32_t uid_base;       /* task i runs as host uid/gid uid_base + slot */
    uint32_t http_threads;
    uint32_t max_connections;
    uint32_t per_ip_connections;
    uint32_t conn_timeout_s;
    uint32_t request_timeout_s; /* a request's head and body must arrive within this */
    uint32_t ipc_stall_s;       /* a peer process that reads nothing this long is dead */
    uint32_t stop_grace_s;      /* SIGTERM: running tasks may finish this long (0: kill at once) */
    uint32_t pool_size;         /* cells built ahead of demand (0: every spawn builds its own) */

    /* Set at start-up from the cgroup probe: limits whose controller is
     * missing (bit i: jc_limit_defs[i]) are refused if asked. */
    unsigned missing_limits;

    /* The sum of tasks (docs/limits.md, "The sum of tasks").  0 in the
     * file's absence: derived at start-up (see config.c, resolve_ceilings()
     * and logspace.c). */
    uint32_t ceiling_memory_mb; /* jobcell's cgroup subtree: memory (+swap) */
    uint32_t ceiling_pids;      /* jobcell's cgroup subtree: processes */
    uint32_t log_quota_mb;      /* all of state_dir/logs together */
    uint32_t min_free_mb;       /* free space kept on the state directory */

    struct jc_limits def; /* applied to what a request leaves out */
    struct jc_limits max; /* what a request may ask for at most */
};

/* Every problem a check found, not just the first (--check-config). */
#define JC_PROBLEMS_MAX 32
struct jc_problems {
    unsigned n; /* problems found; the first JC_PROBLEMS_MAX are kept */
    struct jc_err items[JC_PROBLEMS_MAX];
};

/* Keep `err` as one more problem.  Always returns -1. */
int jc_problem(struct jc_problems *p, const struct jc_err *err);

/* Fill `c` from defaults, the config file and argv.  Returns 0 to run,
 * 1 when --help/--version was handled (exit 0), -1 on a bad flag or file
 * (`err`: the first problem). */
int config_load(struct jc_config *c, int argc, char **argv, struct jc_err *err);

/* The token file: a regular file of ours, mode 0600 at most, holding
 * 16–255 printable characters without spaces (a trailing newline is
 * ignored), into token; on failure token is wiped.  Root reads it (the
 * warden, at start-up and on SIGHUP). */
int config_read_token(const char *path, char token[JC_TOKEN_SIZE], struct jc_err *err);

/* A token as config_read_token() accepts it (NUL-terminated within the size). */
bool config_token_ok(const char *token);

/* The same, going on past a bad key or flag: every problem goes to `p`
 * (`c` then holds what was valid).  Returns 1 for --help/--version, else 0. */
int config_collect(struct jc_config *c, int argc, char **argv, struct jc_problems *p);

/* The defaults that depend on the machine (docs/configuration.md). */
uint32_t config_default_max_running(long cores, long mem_mb);

/* Only the embedded defaults (used by unit tests and config_load). */
void config_defaults(struct jc_config *c);

/* Parse "HOST:PORT" (IPv4 literal or "localhost"). */
int config_parse_listen(struct jc_config *c, const char *s, struct jc_err *err);

/* The warden's descriptor budget (docs/design.md, "File descriptors"): a
 * running task holds FDS_PER_TASK (init's channel; its pidfd instead while
 * it ends), a spawn in flight FDS_PER_SPAWN (pidfd, error pipe, go pipe,
 * channel).  Spawns in flight are at most SPAWNS_IN_FLIGHT: the front hands
 * the warden no more (it queues the rest) and the warden refuses more
 * (503).  FDS_RESERVED covers everything else (the front's channel, epoll,
 * timer, the log directory, a spawn's pipes while it is being cloned).  A
 * spawn in flight counts in max_running, so with m = max_running,
 * min(m, SPAWNS_IN_FLIGHT) × FDS_PER_SPAWN + the rest × FDS_PER_TASK +
 * pool_size × FDS_PER_CELL + FDS_RESERVED must fit RLIMIT_NOFILE.  The
 * front, a process of its own, fits max_connections into its own table. */
#define FDS_PER_TASK 1
#define FDS_PER_SPAWN 4
#define SPAWNS_IN_FLIGHT 64
#define FDS_RESERVED 64
/* A cell waiting in the pool: pidfd, error and go pipes, init's channel,
 * its hand-over socket (SB_FDS_PER_CELL, sandbox.h). */
#define FDS_PER_CELL 5

/* max_running and max_connections within what RLIMIT_NOFILE `nofile`
 * allows after the pool's cells (a warning for each lowered): a task past
 * it queues instead of failing its spawn. */
void config_fit_nofile(struct jc_config *c, uint64_t nofile);

/* A warning when a stop could outlast systemd's stop timeout. */
void config_warn_stop_time(const struct jc_config *c);

/* The maxima and defaults of memory and pids lowered to their ceilings. */
void config_clamp_to_ceilings(struct jc_config *c);

/* Reload: the keys of `c` that only a restart can change (the table in
 * config.c; docs/operations.md, "Reload") and that differ from `running`
 * get the running value back; their names go to changed[] (each once, at
 * most max).  Returns how many differed.  Pure. */
unsigned config_keep_restart(const struct jc_config *running, struct jc_config *c, const char **changed,
                             unsigned max);

/* Reload: would cells built under `old` differ from those `c` builds (the
 * task defaults a cell's cgroup and /tmp carry, its host uids)?  Pure. */
bool config_cells_differ(const struct jc_config *old, const struct jc_config *c);

/* A config as the warden sends it on a reload (ipc.c checks it with this):
 * strings terminated, flags 0 or 1, every number within its key's bounds,
 * limits within theirs and the defaults within the maxima, no token. */
int config_wire_ok(const struct jc_config *c, struct jc_err *err);
