/* record.c — a task record and its JSON form (see record.h).
 * Runs in: the front.  Pure. */
#include "record.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsonutil.h"
#include "taskid.h"

static json_object *time_json(int64_t ms)
{
    char buf[40];
    time_t s = (time_t)(ms / 1000);
    struct tm tm;

    if (ms <= 0)
        return NULL;
    gmtime_r(&s, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + strlen(buf), sizeof buf - strlen(buf), ".%03dZ", (int)(ms % 1000));
    return json_object_new_string(buf);
}

static int64_t time_parse(json_object *v)
{
    struct tm tm = {0};
    const char *s;
    char *rest;
    int msec = 0;

    if (!json_object_is_type(v, json_type_string))
        return 0;
    s = json_object_get_string(v);
    rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest)
        return 0;
    if (*rest == '.')
        msec = atoi(rest + 1);
    return (int64_t)timegm(&tm) * 1000 + msec;
}

static json_object *usage_json(const struct jc_usage *u)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "memory_peak_bytes", json_object_new_int64((int64_t)u->memory_peak_bytes));
    json_object_object_add(o, "cpu_usec", json_object_new_int64((int64_t)u->cpu_usec));
    json_object_object_add(o, "wall_ms", json_object_new_int64((int64_t)u->wall_ms));
    json_object_object_add(o, "oom_kills", json_object_new_int64((int64_t)u->oom_kills));
    return o;
}

static json_object *int_or_null(bool have, int v) { return have ? json_object_new_int(v) : NULL; }

/* Only when some output could not be kept: "log": {"complete": false, ...}. */
static void add_log_state(json_object *o, const struct trec *r)
{
    json_object *l;
    char buf[128];

    if (!r->log_errno)
        return;
    l = json_object_new_object();
    json_object_object_add(l, "complete", json_object_new_boolean(0));
    json_object_object_add(l, "error", json_object_new_string(strerror_r(r->log_errno, buf, sizeof buf)));
    json_object_object_add(o, "log", l);
}

/* "node": the node that owns the task, from its id (a bare UUID of an
 * older version names none). */
static void add_node(json_object *o, const char *id)
{
    char node[JC_NODE_MAX + 1];

    jc_id_node(id, node);
    if (node[0])
        json_object_object_add(o, "node", json_object_new_string(node));
}

json_object *rec_json(const struct trec *r)
{
    json_object *o = json_object_new_object(), *pol = json_object_new_object();
    bool ended = jc_state_terminal(r->state);

    json_object_object_add(o, "id", json_object_new_string(r->id));
    add_node(o, r->id);
    json_object_object_add(o, "name", json_object_new_string(r->name));
    json_object_object_add(o, "state", json_object_new_string(jc_state_name(r->state)));
    json_object_object_add(o, "reason", r->reason ? json_object_new_string(jc_reason_name(r->reason)) : NULL);
    json_object_object_add(o, "exit_code", int_or_null(ended && r->exit_code >= 0, r->exit_code));
    json_object_object_add(o, "signal", int_or_null(ended && r->signal > 0, r->signal));
    json_object_object_add(o, "pid", int_or_null(r->pid > 0, r->pid));
    json_object_object_add(o, "created_at", time_json(r->created_ms));
    json_object_object_add(o, "started_at", time_json(r->started_ms));
    json_object_object_add(o, "finished_at", time_json(r->finished_ms));
    json_object_object_add(o, "command", json_tokener_parse(r->command));
    if (!r->is_command)
        json_object_object_add(o, "duration", json_object_new_int64(r->duration));
    json_object_object_add(o, "limits", ju_limits_to_json(&r->limits));
    json_object_object_add(o, "usage", usage_json(&r->usage));
    json_object_object_add(pol, "name", json_object_new_string(r->policy));
    json_object_object_add(pol, "sha256", json_object_new_string(r->policy_sha));
    json_object_object_add(o, "policy", pol);
    if (r->error)
        json_object_object_add(o, "error", json_object_new_string(r->error));
    if (r->reason == RS_SPAWN_ERROR && r->fail_status) /* whose fault: 4xx, 503, 500 */
        json_object_object_add(o, "error_status", json_object_new_int(r->fail_status));
    add_log_state(o, r);
    json_object_object_add(o, "seq", json_object_new_int64((int64_t)r->seq));
    return o;
}

char *rec_text(const struct trec *r)
{
    json_object *o = rec_json(r);
    char *s = strdup(json_object_to_json_string_ext(o, JU_PRINT));

    json_object_put(o);
    return s;
}

static const char *jstr(json_object *o, const char *k)
{
    json_object *v;

    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static int64_t jint(json_object *o, const char *k, int64_t dflt)
{
    json_object *v;

    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_int)
               ? json_object_get_int64(v)
               : dflt;
}

static json_object *jget(json_object *o, const char *k)
{
    json_object *v = NULL;

    json_object_object_get_ex(o, k, &v);
    return v;
}

static void usage_from(json_object *u, struct jc_usage *out)
{
    out->memory_peak_bytes = (uint64_t)jint(u, "memory_peak_bytes", 0);
    out->cpu_usec = (uint64_t)jint(u, "cpu_usec", 0);
    out->wall_ms = (uint64_t)jint(u, "wall_ms", 0);
    out->oom_kills = (uint64_t)jint(u, "oom_kills", 0);
}

static void times_from(json_object *o, struct trec *r)
{
    r->created_ms = time_parse(jget(o, "created_at"));
    r->started_ms = time_parse(jget(o, "started_at"));
    r->finished_ms = time_parse(jget(o, "finished_at"));
}

static struct trec *rec_alloc(const char *id, const char *name)
{
    struct trec *r;

    if (!id || !jc_id_valid(id) || !name || strlen(name) > JC_NAME_MAX || !(r = calloc(1, sizeof *r)))
        return NULL;
    snprintf(r->id, sizeof r->id, "%s", id);
    snprintf(r->name, sizeof r->name, "%s", name);
    return r;
}

struct trec *rec_from_json(json_object *o)
{
    const char *state = jstr(o, "state"), *reason = jstr(o, "reason"), *error = jstr(o, "error");
    const char *pol = jstr(jget(o, "policy"), "name"), *sha = jstr(jget(o, "policy"), "sha256");
    struct trec *r = state ? rec_alloc(jstr(o, "id"), jstr(o, "name")) : NULL;

    if (!r)
        return NULL;
    snprintf(r->policy, sizeof r->policy, "%s", pol ? pol : "default");
    snprintf(r->policy_sha, sizeof r->policy_sha, "%s", sha ? sha : "");
    if (jc_state_parse(state, &r->state) < 0 || (reason && jc_reason_parse(reason, &r->reason) < 0)) {
        rec_free(r);
        return NULL;
    }
    r->exit_code = (int)jint(o, "exit_code", -1);
    r->signal = (int)jint(o, "signal", 0);
    r->pid = (int)jint(o, "pid", 0);
    r->fail_status = (int)jint(o, "error_status", 0);
    times_from(o, r);
    r->seq = (uint64_t)jint(o, "seq", 0);
    r->duration = (uint32_t)jint(o, "duration", 0);
    r->is_command = !jget(o, "duration");
    if (jget(o, "limits"))
        (void)ju_limits(jget(o, "limits"), "limits", NULL, &r->limits, NULL);
    usage_from(jget(o, "usage"), &r->usage);
    r->command = strdup(json_object_to_json_string_ext(jget(o, "command"), JU_PRINT));
    r->error = error ? strdup(error) : NULL;
    return r;
}

struct trec *rec_parse(const char *text)
{
    json_object *o = NULL;
    struct trec *r = NULL;

    if (text && ju_parse(text, strlen(text), 32, &o, NULL) == 0)
        r = rec_from_json(o);
    json_object_put(o);
    return r;
}

void rec_free(struct trec *r)
{
    if (!r)
        return;
    free(r->command);
    free(r->error);
    free(r->spec);
    free(r->json);
    free(r);
}

static char *command_json(const struct jc_spec *spec)
{
    json_object *a = json_object_new_array();
    const char *s = NULL;
    char *out;

    for (unsigned i = 0; i < spec->argc && (s = spec_next_string(spec, s)); i++)
        json_object_array_add(a, json_object_new_string(s));
    out = strdup(json_object_to_json_string_ext(a, JU_PRINT));
    json_object_put(a);
    return out;
}

struct trec *rec_from_spec(const struct jc_spec *spec, const char *sha, int64_t now_ms)
{
    struct trec *r = calloc(1, sizeof *r);

    if (!r)
        return NULL;
    memcpy(r->id, spec->id, sizeof r->id);
    memcpy(r->name, spec->name, sizeof r->name);
    memcpy(r->policy, spec->policy, sizeof r->policy);
    snprintf(r->policy_sha, sizeof r->policy_sha, "%s", sha);
    r->state = ST_QUEUED;
    r->exit_code = -1;
    r->created_ms = now_ms;
    r->is_command = spec->is_command;
    r->duration = spec->duration;
    r->limits = spec->limits;
    r->command = command_json(spec);
    if (!r->command) {
        free(r);
        return NULL;
    }
    return r;
}

void rec_summary(const struct trec *r, char out[192], size_t max)
{
    json_object *a = json_tokener_parse(r->command);
    size_t n = 0;

    out[0] = 0;
    for (size_t i = 0; a && i < json_object_array_length(a) && n < max; i++) {
        const char *s = json_object_get_string(json_object_array_get_idx(a, i));
        n += (size_t)snprintf(out + n, max + 1 - n, "%s%s", i ? " " : "", s ? s : "");
    }
    if (n >= max)
        snprintf(out + max - 3, 4, "...");
    json_object_put(a);
}

struct jc_spec *spec_dup(const struct jc_spec *spec)
{
    struct jc_spec *c = malloc(spec_size(spec));

    if (c)
        memcpy(c, spec, spec_size(spec));
    return c;
}
