/* api.c — the handlers: submit, get, list, cancel, logs, health.
 * Validation is request.c's; state is tasks.c's; this file maps them to
 * HTTP.  Runs in: the front's HTTP threads. */
#include "api.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "follow.h"
#include "front.h"
#include "input.h"
#include "ipc.h"
#include "jsonutil.h"
#include "log.h"
#include "logspace.h"
#include "request.h"

#include "jc_build_config.h"

static int new_id(char out[JC_ID_LEN], struct jc_err *err)
{
    uint8_t b[16];

    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
        return jc_fail(err, errno, "getrandom");
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, JC_ID_LEN,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
    return 0;
}

void api_wake(void *waiter) { http_resume(waiter); }

/* The second entry, after the warden answered. */
static enum http_result post_answer(struct front *f, struct http_req *r, struct http_reply *out)
{
    char *json = NULL;
    int status = tasks_spawn_answer(f->tasks, r->id, &json);

    if (status == 0) { /* not answered yet: wait again */
        MHD_suspend_connection(r->conn);
        return HTTP_SUSPEND;
    }
    http_json(out, (unsigned)status, json);
    /* The record exists either way (a failed spawn is recorded spawn_error). */
    snprintf(out->location, sizeof out->location, "/api/tasks/%s", r->id);
    return HTTP_ANSWER;
}

/* The request's stdin and files, sealed into memfds to ride with SPAWN. */
struct sealed {
    int fds[INPUT_NFDS], list[INPUT_NFDS];
    unsigned n;
};

static void sealed_close(struct sealed *s) { input_close(s->fds); }

/* 507 while logs fill their quota or the state directory is at its floor;
 * pruning what retention lets go may make room first. */
static int admit_space(struct front *f, struct jc_err *err)
{
    if (logspace_admit(f->space, err) == 0)
        return 0;
    tasks_prune(f->tasks);
    return logspace_admit(f->space, err);
}

static enum http_result post_task(struct front *f, struct http_req *r, struct http_reply *out)
{
    struct jc_spec *spec;
    union ipc_msg *m;
    struct jc_err err = {0};
    const struct jc_policy *pol;
    __attribute__((cleanup(jc_input_free))) struct jc_input in = {0};
    __attribute__((cleanup(sealed_close))) struct sealed sl = {{-1, -1}, {-1, -1}, 0};

    if (r->suspended)
        return post_answer(f, r, out);
    if (!(m = calloc(1, sizeof *m))) {
        http_error_msg(out, 500, "out of memory");
        return HTTP_ANSWER;
    }
    r->state = m; /* freed with the request */
    spec = &m->spawn.spec;
    if (request_parse(f->cfg, f->policies, r->body ? r->body : "", r->len, spec, &in, &err) < 0 ||
        admit_space(f, &err) < 0 ||
        input_seal(spec, &in, sl.fds, sl.list, &sl.n, &err) < 0 || new_id(spec->id, &err) < 0)
        goto fail;
    pol = policy_find(f->policies, spec->policy);
    memcpy(r->id, spec->id, JC_ID_LEN);
    memcpy(m->h.id, spec->id, JC_ID_LEN);
    if (tasks_add(f->tasks, spec, pol ? pol->sha256 : "", NULL, &err) < 0)
        goto fail;
    /* Suspend, then become the record's waiter, then ask: every wake-up
     * (the warden's answer, or the daemon stopping) comes after a suspend. */
    r->suspended = true;
    MHD_suspend_connection(r->conn);
    if (!tasks_wait(f->tasks, spec->id, r)) { /* already ended (shutdown) */
        http_resume(r);
        return HTTP_SUSPEND;
    }
    if (ipc_chan_send_fds(&f->chan, m, IPC_SPAWN, sl.list, sl.n, &err) < 0) {
        union ipc_msg fm = {0};
        memcpy(fm.h.id, spec->id, JC_ID_LEN);
        fm.h.type = IPC_SPAWN_FAILED;
        snprintf(fm.failed.msg, sizeof fm.failed.msg, "warden unreachable: %s", err.msg);
        tasks_apply(f->tasks, &fm); /* records the failure and resumes us */
    }
    return HTTP_SUSPEND; /* our copies of the memfds close here; the warden has its own */
fail:
    if (err.status == 503)
        out->retry_after = 1;
    http_error(out, &err);
    return HTTP_ANSWER;
}

static enum http_result get_task(struct front *f, struct http_req *r, struct http_reply *out)
{
    struct jc_err err;
    char *json;

    if (tasks_get_json(f->tasks, r->id, &json, &err) < 0)
        http_error(out, &err);
    else
        http_json(out, 200, json);
    return HTTP_ANSWER;
}

static const char *query(struct http_req *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

static enum http_result list_tasks(struct front *f, struct http_req *r, struct http_reply *out)
{
    const char *limit_s = query(r, "limit");
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
    if (tasks_list_json(f->tasks, query(r, "state"), limit, query(r, "cursor"), &json, &err) < 0)
        http_error(out, &err);
    else
        http_json(out, 200, json);
    return HTTP_ANSWER;
}

static enum http_result cancel_task(struct front *f, struct http_req *r, struct http_reply *out)
{
    union ipc_msg m = {0};
    struct jc_err err;
    char json[160];

    if (tasks_can_cancel(f->tasks, r->id, &err) < 0) {
        http_error(out, &err);
        return HTTP_ANSWER;
    }
    memcpy(m.h.id, r->id, JC_ID_LEN);
    if (ipc_chan_send(&f->chan, &m, IPC_KILL, &err) < 0) {
        http_error(out, &err);
        return HTTP_ANSWER;
    }
    snprintf(json, sizeof json, "{\"id\":\"%s\",\"state\":\"running\",\"message\":\"cancel requested\"}", r->id);
    http_json(out, 202, strdup(json));
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
    const char *follow = query(r, "follow"), *offset = query(r, "offset");
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

    if (tasks_get_json(f->tasks, r->id, &json, &err) < 0) { /* 404 for unknown ids */
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
    return o;
}

static json_object *json_u64(uint64_t v) { return json_object_new_int64(v > INT64_MAX ? INT64_MAX : (int64_t)v); }

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

static json_object *health_seccomp(const struct front *f)
{
    json_object *o = json_object_new_object(), *arr = json_object_new_array();

    for (size_t i = 0; i < f->policies->count; i++) {
        json_object *p = json_object_new_object();
        json_object_object_add(p, "name", json_object_new_string(f->policies->items[i].name));
        json_object_object_add(p, "sha256", json_object_new_string(f->policies->items[i].sha256));
        json_object_array_add(arr, p);
    }
    json_object_object_add(o, "default", json_object_new_string("default"));
    json_object_object_add(o, "policies", arr);
    return o;
}

static enum http_result healthz(struct front *f, struct http_req *r, struct http_reply *out)
{
    static const char *const ns[] = {"user", "pid", "mount", "uts", "ipc", "net", "cgroup"};
    json_object *o = json_object_new_object(), *nsa = json_object_new_array(), *t = json_object_new_object();

    for (unsigned i = 0; i < JC_ARRAY_LEN(ns); i++)
        json_object_array_add(nsa, json_object_new_string(ns[i]));
    json_object_object_add(t, "running", json_object_new_int((int)tasks_alive(f->tasks)));
    json_object_object_add(t, "max_running", json_object_new_int((int)f->cfg->max_running));
    json_object_object_add(o, "status", json_object_new_string("ok"));
    json_object_object_add(o, "version", json_object_new_string(JC_VERSION));
    json_object_object_add(o, "cgroup", health_cgroup(f));
    json_object_object_add(o, "namespaces", nsa);
    json_object_object_add(o, "seccomp", health_seccomp(f));
    json_object_object_add(o, "rootfs", json_object_new_string(f->cfg->rootfs));
    json_object_object_add(o, "capabilities", json_object_new_string("none"));
    json_object_object_add(o, "tasks", t);
    json_object_object_add(o, "ceilings", health_ceilings(f));
    http_json(out, 200, strdup(json_object_to_json_string_ext(o, JU_PRINT)));
    json_object_put(o);
    return HTTP_ANSWER;
}

const struct http_route api_routes[] = {
    {"POST", "/api/tasks", post_task},
    {"GET", "/api/tasks", list_tasks},
    {"GET", "/api/tasks/{id}", get_task},
    {"DELETE", "/api/tasks/{id}", cancel_task},
    {"GET", "/api/tasks/{id}/logs", get_logs},
    {"GET", "/healthz", healthz},
};
const size_t api_nroutes = JC_ARRAY_LEN(api_routes);
