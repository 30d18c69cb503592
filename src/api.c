/* api.c — the handlers: submit, get, list, cancel, logs, health.
 * Validation is request.c's; state is tasks.c's; held requests are
 * waits.c's; this file alone maps them to HTTP (statuses, headers, the
 * shape of every answer).  Runs in: the front's HTTP threads. */
#include "api.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "follow.h"
#include "front.h"
#include "input.h"
#include "jsonutil.h"
#include "log.h"
#include "logspace.h"
#include "metrics.h"
#include "request.h"
#include "taskid.h"
#include "util.h"
#include "waits.h"

#include "jc_build_config.h"

#define IDEM_KEY_MAX 255
#define WAIT_OUTPUT_MAX (64 * 1024) /* output inlined in a ?wait= answer */

/* A request's progress across its suspensions (r->state). */
enum phase { PH_NEW, PH_SPAWN, PH_HELD, PH_REFUSED };

struct api_state {
    enum phase phase;
    unsigned wait_s;
    struct waiter wt;
    char refusal[160]; /* PH_REFUSED: the 503 to answer on resume */
};

void api_wake(void *waiter) { http_resume(waiter); }

static char *owned_json(json_object *o)
{
    char *s = strdup(json_object_to_json_string_ext(o, JU_PRINT));

    json_object_put(o);
    return s;
}

static void set_location(struct http_reply *out, const char *id)
{
    snprintf(out->location, sizeof out->location, "/api/tasks/%s", id);
}

static struct api_state *state_of(struct http_req *r)
{
    if (!r->state)
        r->state = calloc(1, sizeof(struct api_state)); /* freed by http.c */
    return r->state;
}

/* The configuration in force (snapshot.h), held by a handler while it
 * runs: one request sees one configuration. */
struct held {
    struct front *f;
    const struct jc_snap *s;
};

static void held_put(struct held *h) { snap_put(&h->f->conf, h->s); }

#define HOLD_CONF(name, front) \
    __attribute__((cleanup(held_put))) struct held name = {(front), snap_get(&(front)->conf)}

/* ?wait=S: 0 when absent; -1 (answered 400) when not 0..max_wait_s. */
static int wait_param(struct front *f, struct http_req *r, struct http_reply *out)
{
    HOLD_CONF(c, f);
    const char *v = http_query(r, "wait");
    char *end, msg[96];
    unsigned long n;

    if (!v)
        return 0;
    errno = 0;
    n = strtoul(v, &end, 10);
    if (errno || *end || !v[0] || v[0] == '-' || n > c.s->cfg.max_wait_s) {
        snprintf(msg, sizeof msg, "Parameter 'wait' must be an integer from 0 to %u (seconds)",
                 c.s->cfg.max_wait_s);
        http_error_msg(out, 400, msg);
        return -1;
    }
    return (int)n;
}

/* ---- holding a request until its task ends ------------------------------ */

/* Suspend r until the task ends or wait_s pass; the handler runs again
 * then (phase PH_HELD, or PH_REFUSED when no place was left to wait). */
static enum http_result hold(struct front *f, struct http_req *r, struct api_state *st)
{
    struct jc_err err;

    st->phase = PH_HELD;
    MHD_suspend_connection(r->conn);
    if (waits_add(f->waits, &st->wt, r->id, st->wait_s, r, &err) < 0) {
        st->phase = PH_REFUSED;
        snprintf(st->refusal, sizeof st->refusal, "%s", err.msg);
        http_resume(r);
        return HTTP_SUSPEND;
    }
    /* Ended before we were held: no end hook will come for us. */
    if (tasks_is_terminal(f->tasks, r->id) && waits_cancel(f->waits, &st->wt))
        http_resume(r);
    return HTTP_SUSPEND;
}

static enum http_result refused(struct http_reply *out, struct api_state *st)
{
    http_error_msg(out, 503, st->refusal);
    out->retry_after = 1;
    return HTTP_ANSWER;
}

/* ---- POST /api/tasks ----------------------------------------------------- */

static char *accepted_json(const struct tasks_view *v)
{
    json_object *o = json_object_new_object();
    char msg[256];

    const char *status = v->position ? "queued" : v->starting ? "starting" : "spawned";

    if (v->position)
        snprintf(msg, sizeof msg, "Task %s is queued at position %u", v->id, v->position);
    else if (v->starting)
        snprintf(msg, sizeof msg, "Task %s is starting", v->id);
    else if (v->is_command)
        snprintf(msg, sizeof msg, "Process %d is running %s", v->pid, v->summary);
    else
        snprintf(msg, sizeof msg, "Process %d will run for %u seconds", v->pid, v->duration);
    json_object_object_add(o, "id", json_object_new_string(v->id));
    if (!v->position && !v->starting)
        json_object_object_add(o, "pid", json_object_new_int(v->pid));
    json_object_object_add(o, "name", json_object_new_string(v->name));
    json_object_object_add(o, "status", json_object_new_string(status));
    if (v->position)
        json_object_object_add(o, "position", json_object_new_int((int)v->position));
    json_object_object_add(o, "message", json_object_new_string(msg));
    return owned_json(o);
}

/* A spawn that failed: its status says whose fault (4xx: the request's,
 * 503: a resource or the shutdown, 500: ours).  The record exists. */
static void failed_answer(const struct tasks_view *v, struct http_reply *out)
{
    json_object *o = json_object_new_object();
    unsigned status = v->fail_status ? (unsigned)v->fail_status : 500;
    char msg[JC_ERR_MSG_MAX + 64];

    if (status >= 400 && status < 500)
        snprintf(msg, sizeof msg, "%s", v->error);
    else
        snprintf(msg, sizeof msg, "Spawn failed: %s", v->error[0] ? v->error : "unknown");
    if (status == 500)
        log_task_warn(v->id, "internal error: %s", msg);
    json_object_object_add(o, "error", json_object_new_string(msg));
    json_object_object_add(o, "id", json_object_new_string(v->id));
    http_json(out, status, owned_json(o));
    if (status == 503)
        out->retry_after = 1;
}

/* The log, when it is small and text, for a ?wait= answer. */
static void add_output(struct front *f, const char *id, json_object *rec)
{
    char name[JC_ID_LEN + 8];
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    struct jc_err err;

    snprintf(name, sizeof name, "%s.log", id);
    if (jc_read_file_at(f->logs_dirfd, name, NULL, WAIT_OUTPUT_MAX, &text, &len, &err) < 0) {
        bool none = err.errnum == ENOENT;
        json_object_object_add(rec, "output", none ? json_object_new_string("") : NULL);
        return;
    }
    json_object *s = json_object_new_string_len(text, (int)len);
    /* Bytes that are not UTF-8 stay in /logs; JSON carries text only. */
    json_object *probe = json_tokener_parse(json_object_to_json_string(s));
    json_object_object_add(rec, "output", probe ? s : NULL);
    if (!probe)
        json_object_put(s);
    json_object_put(probe);
}

/* The record, with its output: the answer of a wait that saw the end. */
static void ended_answer(struct front *f, const char *id, struct http_reply *out)
{
    struct jc_err err;
    char *json;

    if (tasks_get_json(f->tasks, id, &json, NULL, &err) < 0) {
        http_error(out, &err);
        return;
    }
    json_object *o = json_tokener_parse(json);
    free(json);
    if (!o) {
        http_error_msg(out, 500, "unreadable task record");
        return;
    }
    add_output(f, id, o);
    http_json(out, 200, owned_json(o));
    set_location(out, id);
}

/* The answer once the spawn is settled or the wait is over. */
static enum http_result post_answer(struct front *f, struct http_req *r, struct http_reply *out)
{
    struct api_state *st = r->state;
    struct tasks_view v;
    struct jc_err err;

    if (tasks_view(f->tasks, r->id, &v, &err) < 0) {
        http_error(out, &err);
        return HTTP_ANSWER;
    }
    if (v.starting && st->phase == PH_SPAWN) { /* ours, not answered yet: wait again */
        MHD_suspend_connection(r->conn);
        return HTTP_SUSPEND;
    }
    set_location(out, r->id);
    if (v.reason == RS_SPAWN_ERROR) {
        failed_answer(&v, out);
        return HTTP_ANSWER;
    }
    if (st->wait_s && jc_state_terminal(v.state)) {
        ended_answer(f, r->id, out);
        return HTTP_ANSWER;
    }
    if (st->wait_s && st->phase == PH_SPAWN)
        return hold(f, r, st);
    http_json(out, 202, accepted_json(&v));
    return HTTP_ANSWER;
}

/* Idempotency-Key: 1 to 255 visible ASCII characters, or absent. */
static int idem_key(struct http_req *r, const char **key, char hash[65], struct http_reply *out)
{
    const char *k = http_header(r, "Idempotency-Key");
    size_t n = k ? strlen(k) : 0;

    *key = NULL;
    if (!k)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (k[i] < 0x21 || k[i] > 0x7e)
            n = 0;
    if (n == 0 || n > IDEM_KEY_MAX) {
        http_error_msg(out, 400, "Header 'Idempotency-Key' must be 1 to 255 visible ASCII characters");
        return -1;
    }
    *key = k;
    jc_sha256_hex(r->body ? r->body : "", r->len, hash);
    return 0;
}

static void submit_error(struct http_reply *out, const struct jc_err *err, int retry)
{
    http_error(out, err);
    if (err->status == 503)
        out->retry_after = retry > 0 ? retry : 1;
}

static enum http_result replay_answer(struct front *f, const char *id, struct http_reply *out)
{
    struct jc_err err;
    char *json;

    if (tasks_get_json(f->tasks, id, &json, NULL, &err) < 0) {
        http_error(out, &err);
        return HTTP_ANSWER;
    }
    http_json(out, 200, json);
    set_location(out, id);
    out->replayed = true;
    return HTTP_ANSWER;
}

/* Suspend, then become the task's waiter, then start it: every wake-up
 * (the warden's answer, or the daemon stopping) comes after a suspend.  The
 * input is sealed and sent before this returns. */
static void start(struct front *f, struct http_req *r, const struct jc_input *in)
{
    struct api_state *st = r->state;

    st->phase = PH_SPAWN;
    MHD_suspend_connection(r->conn);
    if (!tasks_wait(f->tasks, r->id, r)) { /* already ended (shutdown) */
        http_resume(r);
        return;
    }
    tasks_start(f->tasks, r->id, in);
}

/* 507 while logs fill their quota or the state directory is at its floor;
 * pruning what retention lets go may make room first. */
static int admit_space(struct front *f, struct jc_err *err)
{
    if (logspace_admit(f->space, err) == 0)
        return 0;
    tasks_prune(f->tasks);
    return logspace_admit(f->space, err);
}

/* Parse, record, admit: the task is in the store before any answer; a
 * task admitted to run now is started here, while its input is at hand. */
static int submit(struct front *f, struct http_req *r, struct tasks_admission *a, int *retry,
                  struct http_reply *out)
{
    HOLD_CONF(c, f);
    _cleanup_free_ struct jc_spec *spec = malloc(sizeof *spec);
    __attribute__((cleanup(jc_input_free))) struct jc_input in = {0};
    struct tasks_submit sub = {0};
    struct jc_err err = {0};
    char hash[65];

    *retry = 0;
    if (idem_key(r, &sub.idem_key, hash, out) < 0)
        return -1;
    if (!spec) {
        http_error_msg(out, 500, "out of memory");
        return -1;
    }
    if (request_parse(&c.s->cfg, &c.s->policies, r->body ? r->body : "", r->len, spec, &in, &err) < 0 ||
        admit_space(f, &err) < 0 || jc_id_new(f->cfg->node, spec->id, &err) < 0) {
        http_error(out, &err);
        return -1;
    }
    const struct jc_policy *pol = policy_find(&c.s->policies, spec->policy);
    sub = (struct tasks_submit){.spec = spec, .input = &in, .policy_sha = pol ? pol->sha256 : "",
                                .idem_key = sub.idem_key, .idem_hash = hash};
    if (tasks_submit(f->tasks, &sub, a, retry, &err) < 0) {
        submit_error(out, &err, *retry);
        return -1;
    }
    memcpy(r->id, a->id, JC_ID_LEN);
    if (a->kind == TASKS_START)
        start(f, r, &in);
    return 0;
}

static enum http_result post_new(struct front *f, struct http_req *r, struct api_state *st,
                                 struct http_reply *out)
{
    struct tasks_admission a;
    int retry, wait = wait_param(f, r, out);

    if (wait < 0)
        return HTTP_ANSWER;
    st->wait_s = (unsigned)wait;
    if (submit(f, r, &a, &retry, out) < 0)
        return HTTP_ANSWER;
    if (a.kind == TASKS_REPLAY)
        return replay_answer(f, a.id, out);
    if (a.kind == TASKS_QUEUED && st->wait_s)
        return hold(f, r, st);
    if (a.kind == TASKS_QUEUED)
        return post_answer(f, r, out);
    return HTTP_SUSPEND; /* started by submit(): the warden's answer resumes us */
}

static enum http_result post_task(struct front *f, struct http_req *r, struct http_reply *out)
{
    struct api_state *st = state_of(r);

    if (!st) {
        http_error_msg(out, 500, "out of memory");
        return HTTP_ANSWER;
    }
    if (st->phase == PH_REFUSED)
        return refused(out, st);
    if (st->phase == PH_NEW)
        return post_new(f, r, st, out);
    return post_answer(f, r, out);
}

/* ---- GET /api/tasks/{id} ---------------------------------------------- */

static enum http_result get_task(struct front *f, struct http_req *r, struct http_reply *out)
{
    struct api_state *st = state_of(r);
    struct jc_err err;
    char *json;
    int wait;

    if (!st) {
        http_error_msg(out, 500, "out of memory");
        return HTTP_ANSWER;
    }
    if (st->phase == PH_REFUSED)
        return refused(out, st);
    if (st->phase == PH_NEW) {
        if ((wait = wait_param(f, r, out)) < 0)
            return HTTP_ANSWER;
        st->wait_s = (unsigned)wait;
    }
    /* Whether it has ended, from the same snapshot as the text: a ?wait=
     * never answers at once with a record that is still running. */
    bool ended;
    if (tasks_get_json(f->tasks, r->id, &json, &ended, &err) < 0) {
        http_error(out, &err);
        return HTTP_ANSWER;
    }
    if (st->phase == PH_NEW && st->wait_s && !ended) {
        free(json);
        return hold(f, r, st);
    }
    http_json(out, 200, json);
    return HTTP_ANSWER;
}

/* ---- the rest ------------------------------------------------------------ */

static enum http_result list_tasks(struct front *f, struct http_req *r, struct http_reply *out)
{
    const char *limit_s = http_query(r, "limit");
    uint32_t limit = 100;
    struct jc_err err;
    char *json, *end;

    if (limit_s) {
        unsigned long v = strtoul(limit_s, &end, 10);
        if (*end || !limit_s[0] || v < 1 || v > 1000) {
            http_error_msg(out, 400, "Parameter 'limit' must be an integer from 1 to 1000");
            return HTTP_ANSWER;
        }
        limit = (uint32_t)v;
    }
    if (tasks_list_json(f->tasks, http_query(r, "state"), limit, http_query(r, "cursor"), &json, &err) < 0)
        http_error(out, &err);
    else
        http_json(out, 200, json);
    return HTTP_ANSWER;
}

static enum http_result cancel_task(struct front *f, struct http_req *r, struct http_reply *out)
{
    struct jc_err err;
    char json[192];
    int rc = tasks_cancel(f->tasks, r->id, &err);

    if (rc == 0 && front_kill(f, r->id, &err) < 0) {
        tasks_kill_unsent(f->tasks, r->id);
        rc = -1;
    }
    if (rc < 0) {
        http_error(out, &err);
        return HTTP_ANSWER;
    }
    if (rc == 1)
        snprintf(json, sizeof json, "{\"id\":\"%s\",\"state\":\"cancelled\",\"message\":\"cancelled while queued\"}", r->id);
    else
        snprintf(json, sizeof json, "{\"id\":\"%s\",\"state\":\"running\",\"message\":\"cancel requested\"}", r->id);
    http_json(out, rc == 1 ? 200 : 202, strdup(json));
    return HTTP_ANSWER;
}

/* What GET .../logs asks for: from where, whether to follow, and how. */
struct logs_query {
    uint64_t offset;
    bool follow, sse;
};

/* A byte offset: decimal digits only, at most 2^53 (what JSON clients can
 * hold exactly). */
static int parse_offset(const char *s, uint64_t *out)
{
    char *end;

    if (!s[0] || strspn(s, "0123456789") != strlen(s) || strlen(s) > 16)
        return -1;
    *out = strtoull(s, &end, 10);
    return *out <= (1ULL << 53) ? 0 : -1;
}

static int bad_query(struct http_reply *out, const char *msg)
{
    http_error_msg(out, 400, msg);
    return -1;
}

static int logs_query(struct http_req *r, struct logs_query *q, struct http_reply *out)
{
    const char *follow = http_query(r, "follow"), *offset = http_query(r, "offset");
    const char *accept = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
    const char *last_id = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Last-Event-ID");
    bool want_sse = accept && strcasestr(accept, "text/event-stream");

    *q = (struct logs_query){.follow = want_sse && !follow};
    if (follow && (strcmp(follow, "1") == 0 || strcmp(follow, "true") == 0))
        q->follow = true;
    else if (follow && strcmp(follow, "0") != 0 && strcmp(follow, "false") != 0)
        return bad_query(out, "Parameter 'follow' must be 1 or 0");
    q->sse = q->follow && want_sse;
    if (offset && parse_offset(offset, &q->offset) < 0)
        return bad_query(out, "Parameter 'offset' must be a byte offset (an integer from 0 to 2^53)");
    if (!offset && q->sse && last_id && parse_offset(last_id, &q->offset) < 0)
        return bad_query(out, "Header 'Last-Event-ID' must be a byte offset this server gave out");
    return 0;
}

/* The log as it is now, from q->offset (empty past its end). */
static enum http_result logs_now(struct front *f, struct http_req *r, const struct logs_query *q,
                                 struct http_reply *out)
{
    struct jc_err err;
    char *json, name[JC_ID_LEN + 8];
    struct stat st;
    int fd;

    if (tasks_get_json(f->tasks, r->id, &json, NULL, &err) < 0) { /* 404 for unknown ids */
        http_error(out, &err);
        return HTTP_ANSWER;
    }
    free(json);
    out->status = 200;
    out->content_type = "text/plain; charset=utf-8";
    snprintf(name, sizeof name, "%s.log", r->id);
    fd = openat(f->logs_dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) /* spawn failed before any output: an empty log */
        return HTTP_ANSWER;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        http_error_msg(out, 500, "task log is not a regular file");
        return HTTP_ANSWER;
    }
    out->fd = fd;
    out->fd_offset = q->offset < (uint64_t)st.st_size ? q->offset : (uint64_t)st.st_size;
    out->fd_size = (size_t)((uint64_t)st.st_size - out->fd_offset);
    return HTTP_ANSWER;
}

static enum http_result get_logs(struct front *f, struct http_req *r, struct http_reply *out)
{
    struct logs_query q;
    struct jc_err err;

    if (logs_query(r, &q, out) < 0)
        return HTTP_ANSWER;
    if (!q.follow)
        return logs_now(f, r, &q, out);
    out->resp = follow_response(f->follow, r->conn, r->id, q.offset, q.sse, &err);
    if (!out->resp) {
        http_error(out, &err);
        return HTTP_ANSWER;
    }
    out->status = 200;
    out->content_type = q.sse ? "text/event-stream" : "text/plain; charset=utf-8";
    return HTTP_ANSWER;
}

static json_object *json_u64(uint64_t v) { return json_object_new_int64(v > INT64_MAX ? INT64_MAX : (int64_t)v); }

static json_object *health_cgroup(const struct front *f)
{
    json_object *o = json_object_new_object(), *ctl = json_object_new_array();
    char buf[64];

    cg_controllers_str(f->cg, buf, sizeof buf);
    for (char *save = NULL, *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
        json_object_array_add(ctl, json_object_new_string(tok));
    json_object_object_add(o, "mode", json_object_new_string(cg_mode_name(f->cg)));
    json_object_object_add(o, "controllers", ctl);
    json_object_object_add(o, "memsw", json_object_new_boolean(f->cg->memsw));
    json_object_object_add(o, "awaiting_removal", json_u64(metrics_cgroups_pending_now()));
    return o;
}

/* The sum of tasks: each ceiling and what is in use now. */
static json_object *health_ceilings(const struct front *f)
{
    json_object *o = json_object_new_object();
    struct cg_ceiling_use u;
    struct logspace_stat ls;

    cg_ceiling_usage(f->cg, &u);
    logspace_get(f->space, &ls);
    json_object_object_add(o, "memory_bytes", json_u64(f->cg->ceiling_memory));
    json_object_object_add(o, "memory_used_bytes", json_u64(u.memory_bytes));
    json_object_object_add(o, "pids", json_u64(f->cg->ceiling_pids));
    json_object_object_add(o, "pids_used", json_u64(u.pids));
    json_object_object_add(o, "log_quota_bytes", json_u64(ls.quota_bytes));
    json_object_object_add(o, "log_used_bytes", json_u64(ls.used_bytes));
    json_object_object_add(o, "min_free_bytes", json_u64(ls.floor_bytes));
    json_object_object_add(o, "free_bytes", json_u64(ls.avail_bytes));
    return o;
}

static json_object *health_seccomp(struct front *f)
{
    HOLD_CONF(c, f);
    const struct jc_policy_set *set = &c.s->policies;
    json_object *o = json_object_new_object(), *arr = json_object_new_array();

    for (size_t i = 0; i < set->count; i++) {
        json_object *p = json_object_new_object();
        json_object_object_add(p, "name", json_object_new_string(set->items[i].name));
        json_object_object_add(p, "sha256", json_object_new_string(set->items[i].sha256));
        json_object_array_add(arr, p);
    }
    json_object_object_add(o, "default", json_object_new_string("default"));
    json_object_object_add(o, "policies", arr);
    return o;
}

static void add_int(json_object *o, const char *k, int64_t v)
{
    json_object_object_add(o, k, json_object_new_int64(v));
}

static json_object *health_tasks(const struct front *f, const struct tasks_stats *s)
{
    json_object *t = json_object_new_object();

    add_int(t, "running", s->running);
    add_int(t, "max_running", s->max_running);
    add_int(t, "queued", s->queued);
    add_int(t, "max_queued", s->max_queued);
    add_int(t, "oldest_queued_ms", s->oldest_wait_ms);
    add_int(t, "mean_queue_wait_ms", s->mean_wait_ms);
    json_object_object_add(t, "drain_per_s", json_object_new_double(s->drain_per_s));
    add_int(t, "waiting_requests", waits_count(f->waits));
    add_int(t, "max_waiting_requests", f->cfg->max_waiters);
    return t;
}

/* The state directory: whether the store's writes succeed, and whether
 * there is room for new tasks (logspace.c); *ok false when either fails. */
static json_object *health_state_dir(const struct front *f, const struct tasks_stats *s, bool *ok)
{
    json_object *d = json_object_new_object();
    struct jc_err room;
    bool full = logspace_admit(f->space, &room) < 0;

    json_object_object_add(d, "path", json_object_new_string(f->cfg->state_dir));
    json_object_object_add(d, "writable", json_object_new_boolean(!s->store_failing));
    json_object_object_add(d, "error", s->store_failing ? json_object_new_string(s->store_error) : NULL);
    json_object_object_add(d, "room", json_object_new_boolean(!full));
    json_object_object_add(d, "room_error", full ? json_object_new_string(room.msg) : NULL);
    add_int(d, "unsaved_records", s->dirty);
    *ok = !s->store_failing && !s->dirty && !full;
    return d;
}

static enum http_result healthz(struct front *f, struct http_req *r, struct http_reply *out)
{
    static const char *const ns[] = {"user", "pid", "mount", "uts", "ipc", "net", "cgroup"};
    json_object *o = json_object_new_object(), *nsa = json_object_new_array();
    struct tasks_stats s;
    bool dir_ok;

    tasks_stats(f->tasks, &s);
    for (unsigned i = 0; i < JC_ARRAY_LEN(ns); i++)
        json_object_array_add(nsa, json_object_new_string(ns[i]));
    json_object *dir = health_state_dir(f, &s, &dir_ok);

    json_object_object_add(o, "status", json_object_new_string(dir_ok ? "ok" : "degraded"));
    json_object_object_add(o, "version", json_object_new_string(JC_VERSION));
    json_object_object_add(o, "node", json_object_new_string(f->cfg->node));
    json_object_object_add(o, "cgroup", health_cgroup(f));
    json_object_object_add(o, "namespaces", nsa);
    json_object_object_add(o, "seccomp", health_seccomp(f));
    json_object_object_add(o, "rootfs", json_object_new_string(f->cfg->rootfs));
    json_object_object_add(o, "capabilities", json_object_new_string("none"));
    json_object_object_add(o, "tasks", health_tasks(f, &s));
    json_object_object_add(o, "ceilings", health_ceilings(f));
    json_object_object_add(o, "state_dir", dir);
    http_json(out, 200, owned_json(o));
    return HTTP_ANSWER;
}

/* GET /metrics: the Prometheus text format (metrics.c); gauges read now. */
static enum http_result get_metrics(struct front *f, struct http_req *r, struct http_reply *out)
{
    struct metrics_route routes[METRICS_MAX_ROUTES];
    struct metrics_gauges g = {.warden_up = !atomic_load(&f->warden_lost)};
    struct tasks_stats s;
    struct cg_ceiling_use u;
    struct logspace_stat ls;

    size_t n = api_nroutes < METRICS_MAX_ROUTES ? api_nroutes : METRICS_MAX_ROUTES;

    (void)r;
    for (size_t i = 0; i < n; i++)
        routes[i] = (struct metrics_route){api_routes[i].method, api_routes[i].pattern};
    tasks_stats(f->tasks, &s);
    cg_ceiling_usage(f->cg, &u);
    logspace_get(f->space, &ls);
    g.running = s.running;
    g.queued = s.queued;
    g.oldest_wait_s = (double)s.oldest_wait_ms / 1000.0;
    g.memory_ceiling_bytes = f->cg->ceiling_memory;
    g.memory_used_bytes = u.memory_bytes;
    g.pids_ceiling = f->cg->ceiling_pids;
    g.pids_used = u.pids;
    g.log_quota_bytes = ls.quota_bytes;
    g.log_used_bytes = ls.used_bytes;
    char *text = metrics_render(routes, n, &g);
    if (!text) {
        http_error_msg(out, 500, "Out of memory rendering the metrics");
        return HTTP_ANSWER;
    }
    out->status = 200;
    out->content_type = "text/plain; version=0.0.4; charset=utf-8";
    out->body = text;
    return HTTP_ANSWER;
}

const struct http_route api_routes[] = {
    {"POST", "/api/tasks", post_task},
    {"GET", "/api/tasks", list_tasks},
    {"GET", "/api/tasks/{id}", get_task},
    {"DELETE", "/api/tasks/{id}", cancel_task},
    {"GET", "/api/tasks/{id}/logs", get_logs},
    {"GET", "/healthz", healthz},
    {"GET", "/metrics", get_metrics},
};
const size_t api_nroutes = JC_ARRAY_LEN(api_routes);
