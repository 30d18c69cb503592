/* test_tasks.c — unit tests for tasks.c, the front's task table, driven by
 * plain calls (no IPC, no HTTP): admission (start, FIFO queue, 503 past
 * it), the warden's reports, the end hook, Idempotency-Key replays,
 * cancelling a queued task, listing, and a restart: queued tasks come back
 * in order, started ones become lost.  Each test uses fresh directories;
 * the table's thread is not started, so the queue moves only when a test
 * says so. */
#include "tasks.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "request.h"
#include "testutil.h"
#include "util.h"

static struct jc_config cfg;
static struct jc_err err;
static struct jc_spec spec;

/* The hooks: what was started, who was woken, which tasks ended. */
static char started[16][JC_ID_LEN];
static unsigned nstarted, wakes, ends;
static char last_end[JC_ID_LEN];

static void on_start(void *ctx, const struct jc_spec *s, const struct jc_input *in)
{
    if (nstarted < 16)
        memcpy(started[nstarted], s->id, JC_ID_LEN);
    nstarted++;
}
static void on_wake(void *waiter) { wakes++; }
static void on_end(void *ctx, const char *id)
{
    ends++;
    snprintf(last_end, sizeof last_end, "%s", id);
}

struct dirs {
    char *root, *db;
    int tasks_fd, logs_fd;
};

static void dirs_open(struct dirs *d)
{
    d->root = make_tmpdir("tasks");
    char *t = xasprintf("%s/tasks", d->root), *l = xasprintf("%s/logs", d->root);
    CHECK(mkdir(t, 0700) == 0 && mkdir(l, 0700) == 0);
    d->tasks_fd = open(t, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    d->logs_fd = open(l, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    d->db = xasprintf("%s/records.db", t);
    free(t);
    free(l);
}

static void dirs_close(struct dirs *d)
{
    close(d->tasks_fd);
    close(d->logs_fd);
    rm_tree(d->root);
    free(d->db);
}

static struct ttable *table_open(struct dirs *d)
{
    struct tasks_hooks h = {.start = on_start, .wake = on_wake};
    struct ttable *t = tasks_open(&cfg, d->db, d->tasks_fd, d->logs_fd, NULL, &h, &err);

    CHECK(t != NULL);
    if (!t)
        fprintf(stderr, "tasks_open: %s\n", err.msg);
    else
        tasks_set_end_hook(t, on_end, NULL);
    return t;
}

static int submit(struct ttable *t, const char *body, const char *key, struct tasks_admission *a)
{
    static unsigned n;
    struct jc_err e = {0};
    int retry;

    CHECK(request_parse(&cfg, NULL, body, strlen(body), &spec, NULL, &e) == 0);
    n++;
    snprintf(spec.id, sizeof spec.id, "%08x-0000-4000-8000-%012x", n, n * 7919u);
    struct tasks_submit s = {.spec = &spec, .policy_sha = "0123abcd", .idem_key = key,
                             .idem_hash = key ? "hash-of-body" : NULL};
    jc_err_clear(&err);
    return tasks_submit(t, &s, a, &retry, &err);
}

static void check_state(struct ttable *t, const char *id, const char *state)
{
    char *json = NULL, want[64];
    enum jc_state st = ST_QUEUED;
    bool ended = false;

    snprintf(want, sizeof want, "\"state\":\"%s\"", state);
    CHECK(tasks_get_json(t, id, &json, &ended, &err) == 0);
    CHECK_STR_CONTAINS(json, want);
    /* the flag comes from the same record as the text */
    CHECK(jc_state_parse(state, &st) == 0 && ended == jc_state_terminal(st));
    CHECK(tasks_is_terminal(t, id) == ended);
    free(json);
}

static void exited(struct ttable *t, const char *id, int code)
{
    struct tasks_end e = {.reason = RS_EXITED, .exit_code = code, .finished_ms = jc_now_ms(CLOCK_REALTIME)};

    tasks_exited(t, id, &e);
}

static void test_start_and_queue(void)
{
    struct dirs d;
    struct tasks_admission a, q1, q2, full;
    char id[JC_ID_LEN];

    dirs_open(&d);
    struct ttable *t = table_open(&d);
    CHECK(submit(t, "{\"name\":\"a\",\"duration\":1}", NULL, &a) == 0 && a.kind == TASKS_START);
    memcpy(id, a.id, sizeof id);
    CHECK(tasks_wait(t, id, &a));
    nstarted = 0;
    tasks_start(t, id, NULL);
    CHECK(nstarted == 1 && strcmp(started[0], id) == 0);
    /* max_running 1, max_queued 2: two wait, the third is refused. */
    CHECK(submit(t, "{\"name\":\"q1\",\"duration\":1}", NULL, &q1) == 0 && q1.kind == TASKS_QUEUED &&
          q1.position == 1);
    CHECK(submit(t, "{\"name\":\"q2\",\"duration\":1}", NULL, &q2) == 0 && q2.position == 2);
    CHECK(submit(t, "{\"name\":\"q3\",\"duration\":1}", NULL, &full) < 0 && err.status == 503);
    check_state(t, q1.id, "queued");
    wakes = 0;
    tasks_spawned(t, id, 42, jc_now_ms(CLOCK_REALTIME));
    CHECK(wakes == 1);
    check_state(t, id, "running");
    ends = 0;
    exited(t, id, 0);
    CHECK(ends == 1 && strcmp(last_end, id) == 0);
    check_state(t, id, "succeeded"); /* read back from the store */
    /* Cancel the head while queued: it never starts; q2 moves up. */
    CHECK(tasks_cancel(t, q1.id, &err) == 1);
    check_state(t, q1.id, "cancelled");
    CHECK(tasks_cancel(t, q1.id, &err) < 0 && err.status == 409);
    struct tasks_view v;
    CHECK(tasks_view(t, q2.id, &v, &err) == 0 && v.position == 1);
    tasks_close(t);
    dirs_close(&d);
}

static char *get(struct ttable *t, const char *id)
{
    char *json = NULL;

    CHECK(tasks_get_json(t, id, &json, NULL, &err) == 0);
    return json ? json : strdup("");
}

/* A live record's JSON is rendered once and kept (tasks.c): each GET, asked
 * twice, shows every change since the one before, and a queued task's
 * position is its own at every GET. */
static void test_get_follows_changes(void)
{
    struct dirs d;
    struct tasks_admission a, q1, q2;

    dirs_open(&d);
    struct ttable *t = table_open(&d);
    CHECK(submit(t, "{\"name\":\"a\",\"duration\":1}", NULL, &a) == 0 && tasks_wait(t, a.id, &a));
    CHECK(submit(t, "{\"name\":\"q1\",\"duration\":1}", NULL, &q1) == 0);
    CHECK(submit(t, "{\"name\":\"q2\",\"duration\":1}", NULL, &q2) == 0);
    for (int i = 0; i < 2; i++) {
        char *j = get(t, q2.id);
        CHECK_STR_CONTAINS(j, "\"state\":\"queued\"");
        CHECK_STR_CONTAINS(j, "\"queue_position\":2}");
        free(j);
    }
    CHECK(tasks_cancel(t, q1.id, &err) == 1); /* q2 moves up: its cached text is the same */
    char *j = get(t, q2.id);
    CHECK_STR_CONTAINS(j, "\"queue_position\":1}");
    free(j);
    tasks_start(t, a.id, NULL);
    j = get(t, a.id);
    CHECK(strstr(j, "\"pid\":null") && !strstr(j, "queue_position")); /* starting: no place in the queue */
    free(j);
    tasks_spawned(t, a.id, 4242, jc_now_ms(CLOCK_REALTIME));
    for (int i = 0; i < 2; i++) {
        j = get(t, a.id);
        CHECK_STR_CONTAINS(j, "\"state\":\"running\"");
        CHECK_STR_CONTAINS(j, "\"pid\":4242");
        CHECK(strstr(j, "\"started_at\":null") == NULL);
        free(j);
    }
    exited(t, a.id, 3);
    j = get(t, a.id);
    CHECK_STR_CONTAINS(j, "\"state\":\"failed\"");
    CHECK_STR_CONTAINS(j, "\"exit_code\":3");
    free(j);
    tasks_close(t);
    dirs_close(&d);
}

static void test_idempotency(void)
{
    struct dirs d;
    struct tasks_admission a, b;

    dirs_open(&d);
    struct ttable *t = table_open(&d);
    CHECK(submit(t, "{\"name\":\"k\",\"duration\":1}", "key-1", &a) == 0 && a.kind == TASKS_START);
    CHECK(submit(t, "{\"name\":\"k\",\"duration\":1}", "key-1", &b) == 0 && b.kind == TASKS_REPLAY &&
          strcmp(a.id, b.id) == 0);
    tasks_close(t);
    dirs_close(&d);
}

static void test_restart(void)
{
    struct dirs d;
    struct tasks_admission run, q1, q2;

    dirs_open(&d);
    struct ttable *t = table_open(&d);
    CHECK(submit(t, "{\"name\":\"r\",\"command\":[\"/bin/sleep\",\"9\"]}", NULL, &run) == 0);
    tasks_start(t, run.id, NULL);
    tasks_spawned(t, run.id, 43, jc_now_ms(CLOCK_REALTIME));
    CHECK(submit(t, "{\"name\":\"q1\",\"command\":[\"/bin/echo\",\"one\"]}", NULL, &q1) == 0);
    CHECK(submit(t, "{\"name\":\"q2\",\"command\":[\"/bin/echo\",\"two\"]}", NULL, &q2) == 0);
    tasks_close(t); /* as if killed: nothing ended */
    t = table_open(&d);
    check_state(t, run.id, "lost");
    check_state(t, q1.id, "queued");
    /* The table's thread starts the queue in order. */
    nstarted = 0;
    CHECK(tasks_run(t, &err) == 0);
    for (int i = 0; i < 200 && nstarted < 1; i++)
        usleep(10000);
    CHECK(nstarted == 1 && strcmp(started[0], q1.id) == 0); /* max_running 1 */
    tasks_spawned(t, q1.id, 44, jc_now_ms(CLOCK_REALTIME));
    exited(t, q1.id, 0);
    for (int i = 0; i < 200 && nstarted < 2; i++)
        usleep(10000);
    CHECK(nstarted == 2 && strcmp(started[1], q2.id) == 0);
    char *json = NULL;
    CHECK(tasks_list_json(t, "queued", 10, "", &json, &err) == 0);
    CHECK_STR_CONTAINS(json, q2.id); /* started, not yet reported: still queued */
    free(json);
    tasks_close(t);
    dirs_close(&d);
}

/* Records of the previous version (<id>.json) are imported once, then gone. */
static void test_import(void)
{
    struct dirs d;
    static const char done[] =
        "{\"id\":\"0000000a-0000-4000-8000-00000000000a\",\"name\":\"old\",\"state\":\"succeeded\","
        "\"reason\":\"exited\",\"exit_code\":0,\"signal\":null,\"pid\":7,\"created_at\":\"2026-11-24T02:00:46.403Z\","
        "\"started_at\":\"2026-11-24T02:00:46.403Z\",\"finished_at\":\"2099-11-24T02:00:48.419Z\","
        "\"command\":[\"/bin/true\"],\"limits\":{\"memory_mb\":256,\"pids\":64,\"cpus\":1.0,\"timeout_s\":600,"
        "\"output_kb\":1024,\"tmpfs_mb\":64},\"usage\":{\"memory_peak_bytes\":1,\"cpu_usec\":2,\"wall_ms\":3,"
        "\"oom_kills\":0},\"policy\":{\"name\":\"default\",\"sha256\":\"ab\"},\"seq\":41}";
    static const char live[] =
        "{\"id\":\"0000000b-0000-4000-8000-00000000000b\",\"name\":\"was-running\",\"state\":\"running\","
        "\"command\":[\"/bin/sleep\",\"9\"],\"seq\":42}";
    struct tasks_admission a;
    char *json = NULL;

    dirs_open(&d);
    CHECK(write_file_at(d.tasks_fd, "0000000a-0000-4000-8000-00000000000a.json", done, strlen(done)) == 0);
    CHECK(write_file_at(d.tasks_fd, "0000000b-0000-4000-8000-00000000000b.json", live, strlen(live)) == 0);
    CHECK(write_file_at(d.tasks_fd, "0000000c-0000-4000-8000-00000000000c.json.tmp", "", 0) == 0);
    struct ttable *t = table_open(&d);
    CHECK(tasks_get_json(t, "0000000a-0000-4000-8000-00000000000a", &json, NULL, &err) == 0);
    CHECK_STR_CONTAINS(json, "\"state\":\"succeeded\"");
    CHECK_STR_CONTAINS(json, "\"memory_peak_bytes\":1");
    free(json);
    check_state(t, "0000000b-0000-4000-8000-00000000000b", "lost");
    CHECK(!file_exists_at(d.tasks_fd, "0000000a-0000-4000-8000-00000000000a.json"));
    CHECK(!file_exists_at(d.tasks_fd, "0000000c-0000-4000-8000-00000000000c.json.tmp"));
    /* seq goes on after the imported ones. */
    CHECK(submit(t, "{\"name\":\"new\",\"duration\":1}", NULL, &a) == 0);
    CHECK(tasks_get_json(t, a.id, &json, NULL, &err) == 0);
    CHECK_STR_CONTAINS(json, "\"seq\":43");
    free(json);
    tasks_close(t);
    dirs_close(&d);
}

int main(void)
{
    config_defaults(&cfg);
    cfg.max_running = 1;
    cfg.max_queued = 2;
    test_start_and_queue();
    test_get_follows_changes();
    test_idempotency();
    test_restart();
    test_import();
    return check_summary();
}
