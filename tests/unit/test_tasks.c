/* test_tasks.c — unit tests for tasks.c, the front's task table: the state
 * machine driven by hand-built warden reports (union ipc_msg), the answers
 * to spawns, cancels and listings, the records on disk across a restart,
 * and retention.  Each test runs on fresh temporary directories. */
#include "tasks.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "request.h"
#include "testutil.h"

static struct jc_config cfg;
static struct jc_err err;
static struct jc_spec spec;
static union ipc_msg msg;

/* The wake callback: counts calls and remembers the last waiter. */
static int wakes;
static void *last_waiter;
static void on_wake(void *waiter)
{
    wakes++;
    last_waiter = waiter;
}

struct dirs {
    char *tasks, *logs;
    int tasks_fd, logs_fd;
};

static void dirs_open(struct dirs *d)
{
    d->tasks = make_tmpdir("tasks");
    d->logs = make_tmpdir("logs");
    CHECK(d->tasks && d->logs);
    d->tasks_fd = d->tasks ? open(d->tasks, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    d->logs_fd = d->logs ? open(d->logs, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    CHECK(d->tasks_fd >= 0 && d->logs_fd >= 0);
}

static void dirs_close(struct dirs *d)
{
    close(d->tasks_fd);
    close(d->logs_fd);
    rm_tree(d->tasks);
    rm_tree(d->logs);
}

/* Like the daemon at each start: fresh descriptors for the directories. */
static struct ttable *table_open(struct dirs *d)
{
    close(d->tasks_fd);
    close(d->logs_fd);
    d->tasks_fd = open(d->tasks, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    d->logs_fd = open(d->logs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    jc_err_clear(&err);
    struct ttable *t = tasks_open(&cfg, d->tasks_fd, d->logs_fd, NULL, on_wake, &err);
    CHECK(t != NULL);
    if (!t)
        fprintf(stderr, "tasks_open: %s\n", err.msg);
    return t;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A fresh id per task: 8-4-4-4-12 lower-case hex. */
static const char *next_id(void)
{
    static char id[JC_ID_LEN];
    static unsigned n;

    n++;
    snprintf(id, sizeof id, "%08x-0000-4000-8000-%012x", n, n * 7919u);
    return id;
}

/* Parse `body` into `spec`, give it a fresh id, add it; returns the id
 * (static storage per call slot, copied by the caller) or NULL. */
static int add_task(struct ttable *t, const char *body, void *waiter, char id[JC_ID_LEN])
{
    struct jc_err e = {0};

    CHECK(request_parse(&cfg, NULL, body, strlen(body), &spec, NULL, &e) == 0);
    snprintf(spec.id, sizeof spec.id, "%s", next_id());
    memcpy(id, spec.id, JC_ID_LEN);
    jc_err_clear(&err);
    return tasks_add(t, &spec, "0123abcd", waiter, &err);
}

static void report(struct ttable *t, uint32_t type, const char *id)
{
    memset(&msg, 0, sizeof msg);
    msg.h.magic = IPC_MAGIC;
    msg.h.type = type;
    snprintf(msg.h.id, sizeof msg.h.id, "%s", id);
    (void)t;
}

static void spawned(struct ttable *t, const char *id, int pid)
{
    report(t, IPC_SPAWNED, id);
    msg.spawned.pid = pid;
    msg.spawned.started_ms = now_ms();
    tasks_apply(t, &msg);
}

static void spawn_failed(struct ttable *t, const char *id, const char *why)
{
    report(t, IPC_SPAWN_FAILED, id);
    msg.failed.at_ms = now_ms();
    snprintf(msg.failed.msg, sizeof msg.failed.msg, "%s", why);
    tasks_apply(t, &msg);
}

static void exited(struct ttable *t, const char *id, enum jc_reason reason, int code, int sig,
                   int64_t at_ms)
{
    report(t, IPC_EXITED, id);
    msg.exited.reason = reason;
    msg.exited.exit_code = code;
    msg.exited.signal = sig;
    msg.exited.finished_ms = at_ms ? at_ms : now_ms();
    msg.exited.usage = (struct jc_usage){.memory_peak_bytes = 1 << 20, .cpu_usec = 1234,
                                         .wall_ms = 3000, .oom_kills = reason == RS_OOM};
    tasks_apply(t, &msg);
}

/* tasks_get_json parsed; NULL (and a failed check) if unknown. */
static json_object *get(struct ttable *t, const char *id)
{
    char *s = NULL;
    json_object *o;

    jc_err_clear(&err);
    if (tasks_get_json(t, id, &s, &err) < 0) {
        free(s);
        return NULL;
    }
    o = json_tokener_parse(s);
    CHECK(o != NULL);
    free(s);
    return o;
}

/* Whether the table knows the task. */
static int known(struct ttable *t, const char *id)
{
    char *s = NULL;
    int rc = tasks_get_json(t, id, &s, &err);

    free(s);
    return rc == 0;
}

/* The record file <id>.json, parsed; NULL if absent. */
static json_object *record_file(struct dirs *d, const char *id)
{
    char name[64];
    char *s;
    json_object *o;

    snprintf(name, sizeof name, "%s.json", id);
    if (!(s = read_file_at(d->tasks_fd, name, NULL)))
        return NULL;
    o = json_tokener_parse(s);
    free(s);
    return o;
}

static const char *jstr(json_object *o, const char *k)
{
    json_object *v;

    return o && json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static int64_t jint(json_object *o, const char *k)
{
    json_object *v;

    return o && json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_int)
               ? json_object_get_int64(v)
               : -999;
}

static int jnull(json_object *o, const char *k)
{
    json_object *v = NULL;

    return o && json_object_object_get_ex(o, k, &v) && v == NULL;
}

static int state_is(json_object *o, const char *state, const char *reason)
{
    const char *s = jstr(o, "state"), *r = jstr(o, "reason");
    int ok = s && strcmp(s, state) == 0 &&
             (reason ? r && strcmp(r, reason) == 0 : jnull(o, "reason"));

    if (!ok)
        fprintf(stderr, "want %s/%s, record is %s\n", state, reason ? reason : "null",
                o ? json_object_to_json_string(o) : "(none)");
    return ok;
}

/* ---- lifecycle ----------------------------------------------------------- */

static void test_empty(void)
{
    struct dirs d;
    char *json = NULL;

    dirs_open(&d);
    struct ttable *t = table_open(&d);
    CHECK(tasks_alive(t) == 0);
    CHECK(tasks_list_json(t, NULL, 100, "", &json, &err) == 0);
    CHECK(json && strcmp(json, "{\"tasks\":[],\"next_cursor\":null}") == 0);
    free(json);
    CHECK(tasks_get_json(t, "00000000-0000-4000-8000-000000000000", &json, &err) < 0);
    CHECK(err.status == 404 && json == NULL);
    tasks_close(t);
    tasks_close(NULL);
    dirs_close(&d);
}

static void test_worker_lifecycle(void)
{
    struct dirs d;
    char id[JC_ID_LEN], *json = NULL;
    int waiter;
    json_object *o;

    dirs_open(&d);
    struct ttable *t = table_open(&d);
    wakes = 0;
    CHECK(add_task(t, "{\"name\":\"generate-report\"}", &waiter, id) == 0);
    CHECK(tasks_alive(t) == 1);

    /* Queued: nothing to answer yet, nobody woken. */
    o = get(t, id);
    CHECK(state_is(o, "queued", NULL));
    CHECK(strcmp(jstr(o, "name"), "generate-report") == 0 && jint(o, "duration") == 3);
    CHECK(jnull(o, "pid") && jnull(o, "exit_code") && jnull(o, "started_at") &&
          jnull(o, "finished_at") && jstr(o, "created_at") != NULL);
    json_object *cmd = NULL, *pol = NULL;
    CHECK(json_object_object_get_ex(o, "command", &cmd) &&
          strcmp(json_object_to_json_string_ext(cmd, JSON_C_TO_STRING_PLAIN |
                                                          JSON_C_TO_STRING_NOSLASHESCAPE),
                 "[\"/usr/bin/jobcell-worker\",\"generate-report\",\"3\"]") == 0);
    CHECK(json_object_object_get_ex(o, "policy", &pol) && strcmp(jstr(pol, "name"), "default") == 0 &&
          strcmp(jstr(pol, "sha256"), "0123abcd") == 0);
    json_object_put(o);
    json = (char *)"untouched";
    CHECK(tasks_spawn_answer(t, id, &json) == 0);
    CHECK(strcmp(json, "untouched") == 0);
    CHECK(wakes == 0);
    CHECK(tasks_can_cancel(t, id, &err) == -1 && err.status == 409);
    CHECK_STR_CONTAINS(err.msg, "still starting");

    /* SPAWNED: running, on disk, the waiter woken once, 202 as in the seed. */
    spawned(t, id, 4242);
    CHECK(wakes == 1 && last_waiter == &waiter);
    o = get(t, id);
    CHECK(state_is(o, "running", NULL) && jint(o, "pid") == 4242 && jstr(o, "started_at"));
    CHECK(jnull(o, "exit_code") && jnull(o, "finished_at"));
    json_object_put(o);
    o = record_file(&d, id);
    CHECK(o != NULL);
    CHECK(state_is(o, "running", NULL) && strcmp(jstr(o, "id"), id) == 0 && jint(o, "pid") == 4242);
    json_object_put(o);
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%s.json.tmp", id);
    CHECK(!file_exists_at(d.tasks_fd, tmp));

    CHECK(tasks_spawn_answer(t, id, &json) == 202);
    o = json_tokener_parse(json);
    CHECK(o && json_object_object_length(o) == 5);
    CHECK(strcmp(jstr(o, "id"), id) == 0 && jint(o, "pid") == 4242);
    CHECK(strcmp(jstr(o, "name"), "generate-report") == 0);
    CHECK(strcmp(jstr(o, "status"), "spawned") == 0);
    CHECK(strcmp(jstr(o, "message"), "Process 4242 will run for 3 seconds") == 0);
    json_object_put(o);
    free(json);
    CHECK(tasks_can_cancel(t, id, &err) == 0);
    CHECK(tasks_alive(t) == 1);

    /* A second SPAWNED for a running task changes nothing, wakes nobody. */
    spawned(t, id, 999);
    o = get(t, id);
    CHECK(jint(o, "pid") == 4242 && wakes == 1);
    json_object_put(o);

    /* EXITED 0: succeeded. */
    exited(t, id, RS_EXITED, 0, 0, 0);
    o = get(t, id);
    CHECK(state_is(o, "succeeded", "exited") && jint(o, "exit_code") == 0 && jnull(o, "signal"));
    CHECK(jstr(o, "finished_at") != NULL);
    json_object *usage = NULL;
    CHECK(json_object_object_get_ex(o, "usage", &usage) && jint(usage, "cpu_usec") == 1234 &&
          jint(usage, "memory_peak_bytes") == 1 << 20 && jint(usage, "wall_ms") == 3000);
    json_object_put(o);
    o = record_file(&d, id);
    CHECK(state_is(o, "succeeded", "exited") && jint(o, "exit_code") == 0);
    json_object_put(o);
    CHECK(wakes == 1); /* the waiter was answered already */
    CHECK(tasks_alive(t) == 0);
    CHECK(tasks_can_cancel(t, id, &err) == -1 && err.status == 409);
    CHECK_STR_CONTAINS(err.msg, "already finished");
    /* The spawn answer stays the 202 (the HTTP thread may ask late). */
    CHECK(tasks_spawn_answer(t, id, &json) == 202);
    free(json);

    /* A late EXITED for a finished task changes nothing. */
    exited(t, id, RS_TIMEOUT, -1, 9, 0);
    o = get(t, id);
    CHECK(state_is(o, "succeeded", "exited"));
    json_object_put(o);
    CHECK(tasks_alive(t) == 0);

    /* Reports for unknown tasks are ignored. */
    spawned(t, "ffffffff-0000-4000-8000-000000000000", 1);
    exited(t, "ffffffff-0000-4000-8000-000000000000", RS_EXITED, 0, 0, 0);
    CHECK(tasks_alive(t) == 0 && wakes == 1);
    CHECK(tasks_can_cancel(t, "ffffffff-0000-4000-8000-000000000000", &err) == -1);
    CHECK(err.status == 404 && err.fault == JC_FAULT_CLIENT);
    tasks_close(t);
    dirs_close(&d);
}

static void test_endings(void)
{
    struct dirs d;
    char id[JC_ID_LEN], *json = NULL;
    int w1, w2;
    json_object *o;

    dirs_open(&d);
    struct ttable *t = table_open(&d);
    wakes = 0;

    /* SPAWN_FAILED: failed/spawn_error with the message; 500 answer. */
    CHECK(add_task(t, "{\"name\":\"doomed\"}", &w1, id) == 0);
    spawn_failed(t, id, "clone3: Operation not permitted");
    CHECK(wakes == 1 && last_waiter == &w1);
    o = get(t, id);
    CHECK(state_is(o, "failed", "spawn_error"));
    CHECK(jstr(o, "error") && strcmp(jstr(o, "error"), "clone3: Operation not permitted") == 0);
    CHECK(jnull(o, "pid") && jnull(o, "started_at") && jstr(o, "finished_at"));
    json_object_put(o);
    o = record_file(&d, id);
    CHECK(state_is(o, "failed", "spawn_error"));
    json_object_put(o);
    CHECK(tasks_spawn_answer(t, id, &json) == 500);
    o = json ? json_tokener_parse(json) : NULL;
    CHECK(o && strcmp(jstr(o, "error"), "Spawn failed: clone3: Operation not permitted") == 0);
    CHECK(!jstr(o, "id") || strcmp(jstr(o, "id"), id) == 0); /* the record exists */
    json_object_put(o);
    free(json);
    CHECK(tasks_alive(t) == 0);
    /* A SPAWNED after the failure is ignored. */
    spawned(t, id, 77);
    o = get(t, id);
    CHECK(state_is(o, "failed", "spawn_error") && jnull(o, "pid"));
    json_object_put(o);
    /* An EXITED for a queued task is ignored (SPAWNED always comes first). */
    CHECK(add_task(t, "{\"name\":\"early\"}", &w2, id) == 0);
    exited(t, id, RS_EXITED, 0, 0, 0);
    o = get(t, id);
    CHECK(state_is(o, "queued", NULL));
    json_object_put(o);
    spawned(t, id, 100);
    CHECK(wakes == 2 && last_waiter == &w2);

    /* Every way of ending, from running. */
    static const struct {
        enum jc_reason reason;
        int code, sig;
        const char *state, *name;
    } ends[] = {
        {RS_EXITED, 3, 0, "failed", "exited"},
        {RS_SIGNALED, -1, 9, "failed", "signaled"},
        {RS_OOM, -1, 9, "failed", "oom"},
        {RS_PIDS_LIMIT, 1, 0, "failed", "pids_limit"},
        {RS_TIMEOUT, -1, 9, "failed", "timeout"},
        {RS_OUTPUT_LIMIT, -1, 9, "failed", "output_limit"},
        {RS_SECCOMP, -1, 31, "failed", "seccomp"},
        {RS_CANCELLED, -1, 9, "cancelled", "cancelled"},
        {RS_DAEMON_RESTART, -1, 0, "lost", "daemon_restart"},
    };
    for (unsigned i = 0; i < JC_ARRAY_LEN(ends); i++) {
        char eid[JC_ID_LEN];
        CHECK(add_task(t, "{\"name\":\"e\",\"command\":[\"/bin/sh\",\"-c\",\"exit 3\"]}", NULL,
                       eid) == 0);
        spawned(t, eid, 200 + (int)i);
        exited(t, eid, ends[i].reason, ends[i].code, ends[i].sig, 0);
        o = get(t, eid);
        CHECK(state_is(o, ends[i].state, ends[i].name));
        CHECK(ends[i].code >= 0 ? jint(o, "exit_code") == ends[i].code : jnull(o, "exit_code"));
        CHECK(ends[i].sig > 0 ? jint(o, "signal") == ends[i].sig : jnull(o, "signal"));
        CHECK(!json_object_object_get_ex(o, "duration", NULL)); /* a command has none */
        json_object_put(o);
    }
    /* No waiter given: nothing to wake. */
    CHECK(wakes == 2);

    /* A command's spawn answer summarises the command. */
    CHECK(add_task(t, "{\"name\":\"c\",\"command\":[\"/bin/echo\",\"hello\",\"world\"]}", &w1, id) == 0);
    spawned(t, id, 321);
    CHECK(tasks_spawn_answer(t, id, &json) == 202);
    o = json_tokener_parse(json);
    CHECK(o && strcmp(jstr(o, "message"), "Process 321 is running /bin/echo hello world") == 0);
    json_object_put(o);
    free(json);
    /* … cut with "..." when long. */
    char *longarg = repeat("x", 400), *body = xasprintf(
        "{\"name\":\"c\",\"command\":[\"/bin/echo\",\"%s\"]}", longarg);
    CHECK(add_task(t, body, NULL, id) == 0);
    spawned(t, id, 322);
    CHECK(tasks_spawn_answer(t, id, &json) == 202);
    o = json_tokener_parse(json);
    const char *m = jstr(o, "message");
    CHECK(m && strlen(m) < 200 && strcmp(m + strlen(m) - 3, "...") == 0);
    json_object_put(o);
    free(json);
    free(body);
    free(longarg);

    /* tasks_end_all: queued → failed/spawn_error, running → the reason. */
    char q[JC_ID_LEN], r[JC_ID_LEN];
    int wq;
    CHECK(add_task(t, "{\"name\":\"q\"}", &wq, q) == 0);
    CHECK(add_task(t, "{\"name\":\"r\"}", NULL, r) == 0);
    spawned(t, r, 500);
    int before = wakes;
    tasks_end_all(t, RS_DAEMON_RESTART);
    CHECK(wakes == before + 1 && last_waiter == &wq);
    o = get(t, q);
    CHECK(state_is(o, "failed", "spawn_error") && jstr(o, "error") != NULL);
    json_object_put(o);
    o = get(t, r);
    CHECK(state_is(o, "lost", "daemon_restart"));
    json_object_put(o);
    CHECK(tasks_alive(t) == 0);
    CHECK(tasks_spawn_answer(t, q, &json) == 500);
    CHECK_STR_CONTAINS(json, "Spawn failed: the daemon stopped");
    free(json);
    tasks_close(t);
    dirs_close(&d);
}

static void test_max_running(void)
{
    struct dirs d;
    char a[JC_ID_LEN], b[JC_ID_LEN], c[JC_ID_LEN];

    dirs_open(&d);
    cfg.max_running = 2;
    struct ttable *t = table_open(&d);
    CHECK(add_task(t, "{\"name\":\"a\"}", NULL, a) == 0);
    CHECK(add_task(t, "{\"name\":\"b\"}", NULL, b) == 0);
    /* Queued tasks count as alive. */
    CHECK(add_task(t, "{\"name\":\"c\"}", NULL, c) == -1);
    CHECK(err.status == 503 && err.fault == JC_FAULT_CLIENT);
    CHECK_STR_CONTAINS(err.msg, "limit 2");
    CHECK(!known(t, c) && err.status == 404);
    spawned(t, a, 10);
    CHECK(add_task(t, "{\"name\":\"c\"}", NULL, c) == -1 && err.status == 503);
    exited(t, a, RS_EXITED, 0, 0, 0);
    CHECK(tasks_alive(t) == 1);
    CHECK(add_task(t, "{\"name\":\"c\"}", NULL, c) == 0);
    spawn_failed(t, b, "no");
    CHECK(add_task(t, "{\"name\":\"d\"}", NULL, c) == 0);
    CHECK(tasks_alive(t) == 2);
    tasks_close(t);
    config_defaults(&cfg);
    dirs_close(&d);
}

/* ---- listing -------------------------------------------------------------- */

/* tasks_list_json parsed; the ids into ids[] (newest first). */
static int list(struct ttable *t, const char *state, uint32_t limit, const char *cursor,
                char ids[][JC_ID_LEN], int max, char *next, size_t next_len)
{
    char *s = NULL;
    json_object *o, *arr = NULL, *nc = NULL;
    int n = 0;

    jc_err_clear(&err);
    if (tasks_list_json(t, state, limit, cursor, &s, &err) < 0)
        return -1;
    o = json_tokener_parse(s);
    free(s);
    CHECK(o && json_object_object_get_ex(o, "tasks", &arr) &&
          json_object_is_type(arr, json_type_array));
    CHECK(json_object_object_get_ex(o, "next_cursor", &nc));
    for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
        json_object *rec = json_object_array_get_idx(arr, i);
        if (n < max)
            snprintf(ids[n++], JC_ID_LEN, "%s", jstr(rec, "id"));
        if (state)
            CHECK(strcmp(jstr(rec, "state"), state) == 0);
    }
    snprintf(next, next_len, "%s", nc ? json_object_get_string(nc) : "");
    CHECK(!nc || json_object_is_type(nc, json_type_string));
    json_object_put(o);
    return n;
}

static void test_list(void)
{
    enum { N = 11 };
    struct dirs d;
    char ids[N][JC_ID_LEN], got[N + 5][JC_ID_LEN], next[32];
    int n;

    dirs_open(&d);
    struct ttable *t = table_open(&d);
    /* ids[i] is the i-th added; states: i%3==0 running, i%3==1 succeeded,
     * i%3==2 queued. */
    for (int i = 0; i < N; i++) {
        CHECK(add_task(t, "{\"name\":\"l\"}", NULL, ids[i]) == 0);
        if (i % 3 != 2)
            spawned(t, ids[i], 1000 + i);
        if (i % 3 == 1)
            exited(t, ids[i], RS_EXITED, 0, 0, 0);
    }

    /* Everything, newest first, no next page. */
    n = list(t, NULL, 100, "", got, N + 5, next, sizeof next);
    CHECK(n == N && next[0] == 0);
    for (int i = 0; i < n && i < N; i++)
        CHECK(strcmp(got[i], ids[N - 1 - i]) == 0);
    n = list(t, NULL, 100, NULL, got, N + 5, next, sizeof next);
    CHECK(n == N);

    /* Filtered. */
    n = list(t, "running", 100, "", got, N + 5, next, sizeof next);
    CHECK(n == 4 && next[0] == 0); /* 0, 3, 6, 9 */
    CHECK(n == 4 && strcmp(got[0], ids[9]) == 0 && strcmp(got[3], ids[0]) == 0);
    CHECK(list(t, "succeeded", 100, "", got, N + 5, next, sizeof next) == 4);
    CHECK(list(t, "queued", 100, "", got, N + 5, next, sizeof next) == 3);
    CHECK(list(t, "lost", 100, "", got, N + 5, next, sizeof next) == 0 && next[0] == 0);

    /* Paging: every record exactly once, in order, whatever the page size. */
    for (uint32_t limit = 1; limit <= N + 1; limit++) {
        int seen = 0, pages = 0, dup_or_order = 0;
        char cursor[32] = "";
        do {
            char page[N + 5][JC_ID_LEN];
            n = list(t, NULL, limit, cursor, page, N + 5, next, sizeof next);
            CHECK(n >= 0 && (uint32_t)n <= limit);
            for (int i = 0; i < n; i++, seen++)
                if (seen >= N || strcmp(page[i], ids[N - 1 - seen]) != 0)
                    dup_or_order++;
            /* A cursor is given only when a next page has something. */
            CHECK(next[0] == 0 || seen < N);
            snprintf(cursor, sizeof cursor, "%s", next);
            pages++;
        } while (next[0] && pages < 100);
        CHECK(seen == N && dup_or_order == 0);
        CHECK(pages == (N + (int)limit - 1) / (int)limit);
    }
    /* Paging a filter. */
    for (uint32_t limit = 1; limit <= 5; limit++) {
        int seen = 0, pages = 0;
        char cursor[32] = "";
        do {
            n = list(t, "succeeded", limit, cursor, got, N + 5, next, sizeof next);
            seen += n > 0 ? n : 0;
            snprintf(cursor, sizeof cursor, "%s", next);
        } while (next[0] && ++pages < 100);
        CHECK(seen == 4);
    }

    /* Bad parameters. */
    CHECK(list(t, "bogus", 10, "", got, N, next, sizeof next) == -1 && err.status == 400);
    CHECK_STR_CONTAINS(err.msg, "'state'");
    CHECK(list(t, "", 10, "", got, N, next, sizeof next) == -1 && err.status == 400);
    CHECK(list(t, "Running", 10, "", got, N, next, sizeof next) == -1 && err.status == 400);
    static const char *const bad_cursors[] = {"abc", "-1", "12x", "99999999999999999999999", "1.5"};
    for (unsigned i = 0; i < JC_ARRAY_LEN(bad_cursors); i++) {
        CHECK(list(t, NULL, 10, bad_cursors[i], got, N, next, sizeof next) == -1);
        CHECK(err.status == 400);
        CHECK_STR_CONTAINS(err.msg, "'cursor'");
    }
    /* A cursor beyond the oldest gives an empty page. */
    CHECK(list(t, NULL, 10, "1", got, N, next, sizeof next) == 0 && next[0] == 0);
    tasks_close(t);
    dirs_close(&d);
}

/* ---- restart -------------------------------------------------------------- */

static void test_restart(void)
{
    struct dirs d;
    char run[JC_ID_LEN], done[JC_ID_LEN], failed[JC_ID_LEN], queued[JC_ID_LEN], next[32];
    char *done_before = NULL, *failed_before = NULL, *after = NULL;
    json_object *o;

    dirs_open(&d);
    struct ttable *t = table_open(&d);
    CHECK(add_task(t, "{\"name\":\"done\",\"duration\":5}", NULL, done) == 0);
    spawned(t, done, 11);
    exited(t, done, RS_EXITED, 0, 0, 0);
    CHECK(add_task(t, "{\"name\":\"bad\",\"command\":[\"/bin/false\"],\"env\":{\"A\":\"1\"},"
                      "\"limits\":{\"cpus\":0.25,\"memory_mb\":64}}", NULL, failed) == 0);
    spawned(t, failed, 12);
    exited(t, failed, RS_SIGNALED, -1, 15, 0);
    CHECK(add_task(t, "{\"name\":\"run\"}", NULL, run) == 0);
    spawned(t, run, 13);
    CHECK(add_task(t, "{\"name\":\"never\"}", NULL, queued) == 0);
    CHECK(tasks_get_json(t, done, &done_before, &err) == 0);
    CHECK(tasks_get_json(t, failed, &failed_before, &err) == 0);
    tasks_close(t);

    /* Junk beside the records is ignored. */
    CHECK(write_file_at(d.tasks_fd, "garbage.json", "{not json", 9) == 0);
    CHECK(write_file_at(d.tasks_fd, "x.json.tmp", "{}", 2) == 0);
    CHECK(write_file_at(d.tasks_fd, "badid.json", "{\"id\":\"../x\",\"name\":\"n\",\"state\":\"running\"}", 41) == 0);
    CHECK(write_file_at(d.tasks_fd, "badstate.json",
                        "{\"id\":\"aaaaaaaa-0000-4000-8000-000000000000\",\"name\":\"n\",\"state\":\"zombie\"}",
                        73) == 0);

    t = table_open(&d);
    /* The running task was lost with the daemon. */
    o = get(t, run);
    CHECK(state_is(o, "lost", "daemon_restart") && jstr(o, "finished_at") && jint(o, "pid") == 13);
    json_object_put(o);
    o = record_file(&d, run);
    CHECK(state_is(o, "lost", "daemon_restart"));
    json_object_put(o);
    CHECK(tasks_alive(t) == 0);
    CHECK(tasks_can_cancel(t, run, &err) == -1 && err.status == 409);
    /* Finished records come back exactly as they were. */
    CHECK(tasks_get_json(t, done, &after, &err) == 0);
    CHECK(done_before && after && strcmp(done_before, after) == 0);
    if (done_before && after && strcmp(done_before, after) != 0)
        fprintf(stderr, "before: %s\nafter:  %s\n", done_before, after);
    free(after);
    CHECK(tasks_get_json(t, failed, &after, &err) == 0);
    CHECK(failed_before && after && strcmp(failed_before, after) == 0);
    if (failed_before && after && strcmp(failed_before, after) != 0)
        fprintf(stderr, "before: %s\nafter:  %s\n", failed_before, after);
    free(after);
    /* A task still queued had no record yet (its spawn was never answered). */
    CHECK(tasks_get_json(t, queued, &after, &err) == -1 && err.status == 404);
    CHECK(tasks_get_json(t, "aaaaaaaa-0000-4000-8000-000000000000", &after, &err) == -1);

    /* New tasks list before the reloaded ones (sequence numbers go on). */
    char fresh[JC_ID_LEN], got[8][JC_ID_LEN];
    CHECK(add_task(t, "{\"name\":\"fresh\"}", NULL, fresh) == 0);
    CHECK(list(t, NULL, 10, "", got, 8, next, sizeof next) == 4);
    CHECK(strcmp(got[0], fresh) == 0 && strcmp(got[1], run) == 0 && strcmp(got[2], failed) == 0 &&
          strcmp(got[3], done) == 0);
    tasks_close(t);

    /* A third start changes nothing more. */
    t = table_open(&d);
    o = get(t, run);
    CHECK(state_is(o, "lost", "daemon_restart"));
    json_object_put(o);
    CHECK(list(t, NULL, 10, "", got, 8, next, sizeof next) == 3);
    tasks_close(t);
    free(done_before);
    free(failed_before);
    dirs_close(&d);
}

/* ---- retention ------------------------------------------------------------ */

static int count_records(struct dirs *d)
{
    DIR *dir = opendir(d->tasks);
    struct dirent *de;
    int n = 0;

    while (dir && (de = readdir(dir))) {
        size_t l = strlen(de->d_name);
        n += l > 5 && strcmp(de->d_name + l - 5, ".json") == 0;
    }
    if (dir)
        closedir(dir);
    return n;
}

static void finish_task(struct ttable *t, const char *id, int64_t at)
{
    spawned(t, id, 1);
    exited(t, id, RS_EXITED, 0, 0, at);
}

static void test_retention(void)
{
    struct dirs d;
    char old1[JC_ID_LEN], old2[JC_ID_LEN], run[JC_ID_LEN], id[JC_ID_LEN], got[16][JC_ID_LEN];
    char next[32], logname[64];

    /* Past retention: pruned (record and log) at the next add. */
    dirs_open(&d);
    cfg.retention_s = 60;
    cfg.max_records = 100;
    struct ttable *t = table_open(&d);
    CHECK(add_task(t, "{\"name\":\"old1\"}", NULL, old1) == 0);
    finish_task(t, old1, now_ms() - 61 * 1000);
    snprintf(logname, sizeof logname, "%s.log", old1);
    CHECK(write_file_at(d.logs_fd, logname, "log\n", 4) == 0);
    CHECK(known(t, old1) && count_records(&d) == 1); /* pruning waits for an add */
    CHECK(add_task(t, "{\"name\":\"old2\"}", NULL, old2) == 0);
    CHECK(!known(t, old1) && err.status == 404);
    CHECK(count_records(&d) == 0); /* old2 is queued: not on disk yet */
    CHECK(!file_exists_at(d.logs_fd, logname));
    finish_task(t, old2, now_ms() - 10 * 1000); /* within retention */
    CHECK(add_task(t, "{\"name\":\"run\"}", NULL, run) == 0);
    spawned(t, run, 2);
    CHECK(add_task(t, "{\"name\":\"new\"}", NULL, id) == 0);
    CHECK(known(t, old2) && count_records(&d) == 2);
    CHECK(list(t, NULL, 16, "", got, 16, next, sizeof next) == 3);
    tasks_close(t);
    /* … and at start-up: old2 is now past a shorter retention; run was
     * lost just now and is kept; new was never spawned, so never saved. */
    cfg.retention_s = 5;
    t = table_open(&d);
    CHECK(!known(t, old2) && known(t, run) && !known(t, id));
    CHECK(list(t, NULL, 16, "", got, 16, next, sizeof next) == 1);
    CHECK(count_records(&d) == 1);
    tasks_close(t);
    config_defaults(&cfg);
    dirs_close(&d);

    /* max_records: the oldest finished go first; running ones stay. */
    dirs_open(&d);
    cfg.max_records = 3;
    t = table_open(&d);
    char runs[2][JC_ID_LEN], fin[6][JC_ID_LEN];
    CHECK(add_task(t, "{\"name\":\"r0\"}", NULL, runs[0]) == 0);
    spawned(t, runs[0], 1);
    for (int i = 0; i < 6; i++) {
        CHECK(add_task(t, "{\"name\":\"f\"}", NULL, fin[i]) == 0);
        finish_task(t, fin[i], 0);
    }
    CHECK(add_task(t, "{\"name\":\"r1\"}", NULL, runs[1]) == 0);
    spawned(t, runs[1], 2);
    int n = list(t, NULL, 16, "", got, 16, next, sizeof next);
    CHECK(known(t, runs[0]));
    CHECK(known(t, runs[1]));
    CHECK(!known(t, fin[0]));
    CHECK(known(t, fin[5]));
    /* At most max_records, the one just added included. */
    CHECK(n == 3);
    CHECK(count_records(&d) == n);
    tasks_close(t);

    /* More running tasks than max_records: none is dropped. */
    t = table_open(&d); /* r0 and r1 are now lost (finished) */
    char live[5][JC_ID_LEN];
    for (int i = 0; i < 5; i++) {
        CHECK(add_task(t, "{\"name\":\"live\"}", NULL, live[i]) == 0);
        spawned(t, live[i], 10 + i);
    }
    for (int i = 0; i < 5; i++)
        CHECK(known(t, live[i]));
    CHECK(tasks_alive(t) == 5);
    tasks_close(t);
    config_defaults(&cfg);
    dirs_close(&d);
}

static int count_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *de;
    int n = 0;

    while (dir && (de = readdir(dir)))
        n += de->d_name[0] != '.';
    if (dir)
        closedir(dir);
    return n;
}

/* A record that cannot be written (a short write, forced with a tiny
 * RLIMIT_FSIZE) is logged; no descriptor leaks, the table goes on, and the
 * next save succeeds. */
static void test_failed_save(void)
{
    struct dirs d;
    char id[JC_ID_LEN], tmp[64];
    struct rlimit old, tiny;
    json_object *o;

    dirs_open(&d);
    struct ttable *t = table_open(&d);
    CHECK(add_task(t, "{\"name\":\"unsaved\"}", NULL, id) == 0);
    signal(SIGXFSZ, SIG_IGN);
    CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
    tiny = (struct rlimit){.rlim_cur = 16, .rlim_max = old.rlim_max};
    int before = count_fds();
    CHECK(setrlimit(RLIMIT_FSIZE, &tiny) == 0);
    spawned(t, id, 5);
    CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
    CHECK(count_fds() == before);
    o = get(t, id);
    CHECK(state_is(o, "running", NULL)); /* in memory all the same */
    json_object_put(o);
    CHECK(record_file(&d, id) == NULL);
    exited(t, id, RS_EXITED, 0, 0, 0);
    o = record_file(&d, id);
    CHECK(state_is(o, "succeeded", "exited"));
    json_object_put(o);
    snprintf(tmp, sizeof tmp, "%s.json.tmp", id);
    CHECK(!file_exists_at(d.tasks_fd, tmp));
    tasks_close(t);
    dirs_close(&d);
}

int main(void)
{
    config_defaults(&cfg);
    test_empty();
    test_worker_lifecycle();
    test_endings();
    test_max_running();
    test_list();
    test_restart();
    test_retention();
    test_failed_save();
    return check_summary();
}
