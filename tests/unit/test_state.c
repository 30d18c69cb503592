/* test_state.c — unit tests for task.c: the names of task states and end
 * reasons (they are the API's and the records' vocabulary, so they must
 * round-trip) and which terminal state each way of ending leads to. */
#include "task.h"

#include <stdio.h>
#include <string.h>

#include "check.h"

#define N_STATES (ST_LOST + 1)
#define N_REASONS (RS_DAEMON_RESTART + 1)

static void test_state_names(void)
{
    static const char *const want[N_STATES] = {"queued",    "running",   "succeeded",
                                               "failed",    "cancelled", "lost"};

    for (int s = 0; s < N_STATES; s++) {
        enum jc_state back = (enum jc_state)-1;
        const char *name = jc_state_name((enum jc_state)s);
        CHECK(strcmp(name, want[s]) == 0);
        CHECK(jc_state_parse(name, &back) == 0 && back == (enum jc_state)s);
        for (int o = 0; o < s; o++) /* names are distinct */
            CHECK(strcmp(name, jc_state_name((enum jc_state)o)) != 0);
    }
    static const char *const bad[] = {"", "Queued", "RUNNING", "run", "runningx", " running",
                                      "?", "exited", "spawned"};
    for (unsigned i = 0; i < JC_ARRAY_LEN(bad); i++) {
        enum jc_state out = ST_FAILED;
        CHECK(jc_state_parse(bad[i], &out) < 0);
        CHECK(out == ST_FAILED); /* untouched on failure */
    }
    CHECK(strcmp(jc_state_name((enum jc_state)N_STATES), "?") == 0);
    CHECK(strcmp(jc_state_name((enum jc_state)-1), "?") == 0);
    CHECK(strcmp(jc_state_name((enum jc_state)1000), "?") == 0);
}

static void test_reason_names(void)
{
    static const char *const want[N_REASONS] = {
        "",        "exited",       "signaled",  "oom",       "pids_limit",    "timeout",
        "output_limit", "seccomp", "cancelled", "spawn_error", "daemon_restart"};

    for (int r = 0; r < N_REASONS; r++) {
        enum jc_reason back = (enum jc_reason)-1;
        const char *name = jc_reason_name((enum jc_reason)r);
        CHECK(strcmp(name, want[r]) == 0);
        if (r == RS_NONE) {
            /* "no reason" has no name to parse: it is never in a record. */
            CHECK(jc_reason_parse(name, &back) < 0);
            continue;
        }
        CHECK(jc_reason_parse(name, &back) == 0 && back == (enum jc_reason)r);
    }
    static const char *const bad[] = {"", "Exited", "OOM", "none", "lost", "killed", "?"};
    for (unsigned i = 0; i < JC_ARRAY_LEN(bad); i++) {
        enum jc_reason out = RS_OOM;
        CHECK(jc_reason_parse(bad[i], &out) < 0);
        CHECK(out == RS_OOM);
    }
    CHECK(strcmp(jc_reason_name((enum jc_reason)N_REASONS), "?") == 0);
    CHECK(strcmp(jc_reason_name((enum jc_reason)-1), "?") == 0);
}

static void test_state_for_end(void)
{
    CHECK(jc_state_for_end(RS_EXITED, 0) == ST_SUCCEEDED);
    CHECK(jc_state_for_end(RS_EXITED, 3) == ST_FAILED);
    CHECK(jc_state_for_end(RS_EXITED, 1) == ST_FAILED);
    CHECK(jc_state_for_end(RS_EXITED, 255) == ST_FAILED);
    CHECK(jc_state_for_end(RS_EXITED, -1) == ST_FAILED);
    CHECK(jc_state_for_end(RS_CANCELLED, 0) == ST_CANCELLED);
    CHECK(jc_state_for_end(RS_CANCELLED, -1) == ST_CANCELLED);
    CHECK(jc_state_for_end(RS_DAEMON_RESTART, 0) == ST_LOST);
    CHECK(jc_state_for_end(RS_DAEMON_RESTART, -1) == ST_LOST);

    /* Every other way to end is a failure, whatever the exit code says. */
    static const enum jc_reason failing[] = {RS_SIGNALED, RS_OOM, RS_PIDS_LIMIT, RS_TIMEOUT,
                                             RS_OUTPUT_LIMIT, RS_SECCOMP, RS_SPAWN_ERROR};
    for (unsigned i = 0; i < JC_ARRAY_LEN(failing); i++) {
        CHECK(jc_state_for_end(failing[i], 0) == ST_FAILED);
        CHECK(jc_state_for_end(failing[i], -1) == ST_FAILED);
        CHECK(jc_state_for_end(failing[i], 137) == ST_FAILED);
    }
    /* Every real end reason leads to a terminal state … */
    for (int r = RS_EXITED; r < N_REASONS; r++)
        for (int code = -1; code <= 2; code++)
            CHECK(jc_state_terminal(jc_state_for_end((enum jc_reason)r, code)));
    /* … and "no reason" is not an end (the IPC layer refuses it anyway). */
    CHECK(!jc_state_terminal(jc_state_for_end(RS_NONE, 0)));
}

static void test_terminal(void)
{
    CHECK(!jc_state_terminal(ST_QUEUED));
    CHECK(!jc_state_terminal(ST_RUNNING));
    CHECK(jc_state_terminal(ST_SUCCEEDED));
    CHECK(jc_state_terminal(ST_FAILED));
    CHECK(jc_state_terminal(ST_CANCELLED));
    CHECK(jc_state_terminal(ST_LOST));
}

int main(void)
{
    test_state_names();
    test_reason_names();
    test_state_for_end();
    test_terminal();
    return check_summary();
}
