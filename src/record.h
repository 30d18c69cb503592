/* record.h — one task's record: the fields the API shows, and their JSON
 * form (what GET /api/tasks/{id} answers and what the store keeps).
 * Runs in: the front (under the table lock, or on a private copy).  Pure. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "task.h"

struct trec {
    char id[JC_ID_LEN];
    char name[JC_NAME_MAX + 1];
    char policy[POLICY_NAME_MAX];
    char policy_sha[65];
    enum jc_state state;
    enum jc_reason reason;
    int exit_code, signal, pid;
    int64_t created_ms, started_ms, finished_ms;
    uint64_t seq;
    bool is_command;
    uint32_t duration;
    struct jc_limits limits;
    struct jc_usage usage;
    int log_errno;     /* output that could not be kept, 0: all kept */
    int fail_status;   /* a spawn_error's HTTP status */
    char *command;     /* JSON array text */
    char *error;
    /* The table's bookkeeping (tasks.c). */
    struct jc_spec *spec; /* until handed to the warden */
    bool starting, dirty;
    bool from_queue;      /* started by the table's thread, not its POST */
    bool kill_sent;       /* running, and its KILL is on its way: one per task */
    int64_t queued_mono_ms;
    int64_t accepted_mono_ms; /* its POST was accepted (metrics: spawn latency) */
    void *waiter;
    char *json; /* rec_text(), kept for GETs; freed whenever a field above changes */
    struct trec *qnext, *qprev, *hnext;
};

/* A new queued record for `spec` (id, name, limits, command). */
struct trec *rec_from_spec(const struct jc_spec *spec, const char *policy_sha, int64_t now_ms);
/* A record read back (store, or a legacy <id>.json); NULL if not one. */
struct trec *rec_from_json(json_object *o);
struct trec *rec_parse(const char *text);
void rec_free(struct trec *r);

json_object *rec_json(const struct trec *r);
char *rec_text(const struct trec *r); /* malloc'd JSON text */

/* "argv0 arg1 ..." cut at `max` (< 192) bytes, for messages. */
void rec_summary(const struct trec *r, char out[192], size_t max);

/* A compact, owned copy of a spec: only spec_size() (task.h) bytes are
 * allocated, so it is never copied by value (memcpy spec_size() bytes
 * instead). */
struct jc_spec *spec_dup(const struct jc_spec *spec);
