/* request.c — validation of task submissions (see request.h).
 * Runs in: the front's HTTP threads and the fuzz target.  Pure. */
#include "request.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "jsonutil.h"

/* The request's fields, as found (NULL: absent). */
struct fields {
    json_object *name, *duration, *command, *env, *limits, *policy, *stdin_, *files;
};


static int push_string(struct jc_spec *s, const char *what, const char *a, size_t alen,
                       const char *b, size_t blen, struct jc_err *err)
{
    size_t need = alen + blen + 1;

    if (need > sizeof s->strings - s->strings_len)
        return jc_client(err, 400, "Field '%s': command and env exceed %d bytes in total",
                         what, JC_STRINGS_MAX);
    memcpy(s->strings + s->strings_len, a, alen);
    memcpy(s->strings + s->strings_len + alen, b, blen);
    s->strings_len += (uint32_t)need;
    s->strings[s->strings_len - 1] = 0;
    return 0;
}

static int check_name(json_object *v, struct jc_spec *s, struct jc_err *err)
{
    const char *name;
    size_t len;

    if (!v)
        return jc_client(err, 400, "Field 'name' is required");
    if (!(name = ju_string(v, "name", err)))
        return -1;
    len = (size_t)json_object_get_string_len(v);
    if (len == 0)
        return jc_client(err, 400, "Field 'name' must not be empty");
    if (len > JC_NAME_MAX)
        return jc_client(err, 400, "Field 'name' must be at most %d bytes", JC_NAME_MAX);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return jc_client(err, 400, "Field 'name' must not contain control characters");
    memcpy(s->name, name, len + 1);
    return 0;
}

/* A string without embedded NULs (JSON allows \u0000). */
static const char *plain_string(json_object *v, const char *what, size_t *len, struct jc_err *err)
{
    const char *str = ju_string(v, what, err);

    if (!str)
        return NULL;
    *len = (size_t)json_object_get_string_len(v);
    if (strlen(str) != *len) {
        jc_client(err, 400, "Field '%s' must not contain NUL characters", what);
        return NULL;
    }
    return str;
}

static int parse_command(json_object *v, struct jc_spec *s, struct jc_err *err)
{
    size_t n, len;
    char what[32];

    if (!json_object_is_type(v, json_type_array))
        return jc_client(err, 400, "Field 'command' must be an array of strings");
    n = json_object_array_length(v);
    if (n == 0 || n > JC_ARGV_MAX)
        return jc_client(err, 400, "Field 'command' must have 1 to %d items", JC_ARGV_MAX);
    for (size_t i = 0; i < n; i++) {
        snprintf(what, sizeof what, "command[%zu]", i);
        const char *a = plain_string(json_object_array_get_idx(v, i), what, &len, err);
        if (!a)
            return -1;
        if (i == 0 && a[0] != '/')
            return jc_client(err, 400, "Field 'command[0]' must be an absolute path in the rootfs");
        if (push_string(s, "command", a, len, "", 0, err) < 0)
            return -1;
    }
    s->argc = (uint16_t)n;
    s->is_command = true;
    return 0;
}

static int valid_env_key(const char *k)
{
    size_t n = strlen(k);

    if (n == 0 || n > 255 || (k[0] >= '0' && k[0] <= '9'))
        return 0;
    return strspn(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static int parse_env(json_object *v, struct jc_spec *s, bool *has_path, bool *has_home,
                     struct jc_err *err)
{
    char what[300];
    size_t len;

    if (ju_object(v, "env", err) < 0)
        return -1;
    if (json_object_object_length(v) > JC_ENV_MAX - 2)
        return jc_client(err, 400, "Field 'env' must have at most %d entries", JC_ENV_MAX - 2);
    json_object_object_foreach(v, key, val) {
        if (!valid_env_key(key))
            return jc_client(err, 400, "Field 'env' has an invalid variable name (want [A-Za-z_][A-Za-z0-9_]*, at most 255 bytes)");
        snprintf(what, sizeof what, "env.%s", key);
        const char *str = plain_string(val, what, &len, err);
        if (!str || push_string(s, "env", key, strlen(key), "=", 1, err) < 0)
            return -1;
        s->strings_len--; /* append the value after "K=" */
        if (push_string(s, "env", str, len, "", 0, err) < 0)
            return -1;
        *has_path |= strcmp(key, "PATH") == 0;
        *has_home |= strcmp(key, "HOME") == 0;
        s->envc++;
    }
    return 0;
}

static int add_base_env(struct jc_spec *s, bool has_path, bool has_home, struct jc_err *err)
{
    if (!has_path) {
        if (push_string(s, "env", JC_BASE_PATH, strlen(JC_BASE_PATH), "", 0, err) < 0)
            return -1;
        s->envc++;
    }
    if (!has_home) {
        if (push_string(s, "env", JC_BASE_HOME, strlen(JC_BASE_HOME), "", 0, err) < 0)
            return -1;
        s->envc++;
    }
    return 0;
}

static int worker_argv(struct jc_spec *s, struct jc_err *err)
{
    char dur[16];

    snprintf(dur, sizeof dur, "%u", s->duration);
    if (push_string(s, "name", JC_WORKER_PATH, strlen(JC_WORKER_PATH), "", 0, err) < 0 ||
        push_string(s, "name", s->name, strlen(s->name), "", 0, err) < 0 ||
        push_string(s, "duration", dur, strlen(dur), "", 0, err) < 0)
        return -1;
    s->argc = 3;
    return 0;
}

static int parse_policy(json_object *v, const struct jc_policy_set *set, struct jc_spec *s,
                        struct jc_err *err)
{
    const char *p = ju_string(v, "policy", err);

    if (!p)
        return -1;
    if (set ? !policy_find(set, p) : strcmp(p, "default") != 0)
        return jc_client(err, 400, "Field 'policy': no seccomp profile named \"%.64s\"", p);
    snprintf(s->policy, sizeof s->policy, "%s", p);
    return 0;
}


static int parse_stdin(json_object *v, struct jc_spec *s, struct jc_input *in, struct jc_err *err)
{
    size_t len;

    if (ju_bytes(v, "stdin", JC_STDIN_MAX, &in->stdin_data, &len, err) < 0)
        return -1;
    s->has_stdin = true;
    s->stdin_len = (uint32_t)len;
    return 0;
}

/* Append one file's bytes to in->files_data (grown as needed). */
static int append_file(struct jc_input *in, size_t have, const unsigned char *data, size_t len,
                       struct jc_err *err)
{
    unsigned char *nb = realloc(in->files_data, have + len + 1);

    if (!nb)
        return jc_fail(err, ENOMEM, "input files");
    in->files_data = nb;
    memcpy(nb + have, data, len);
    return 0;
}

static int parse_file(const char *name, json_object *val, struct jc_spec *s, struct jc_input *in,
                      size_t *total, struct jc_err *err)
{
    _cleanup_free_ unsigned char *data = NULL;
    struct jc_file *f = &s->files[s->nfiles];
    char what[JC_FILE_NAME_MAX + 16];
    size_t len, nlen = strlen(name);

    if (!jc_file_name_ok(name, nlen))
        return jc_client(err, 400, "Field 'files': name \"%.80s\" must be 1 to %d bytes of [A-Za-z0-9._-], not \".\" or \"..\"",
                         name, JC_FILE_NAME_MAX);
    snprintf(what, sizeof what, "files.%s", name);
    if (ju_bytes(val, what, JC_FILES_BYTES_MAX - *total, &data, &len, err) < 0)
        return err->status == 413 ? jc_client(err, 413, "Field 'files': contents exceed %u bytes in total",
                                              JC_FILES_BYTES_MAX)
                                  : -1;
    if (append_file(in, *total, data, len, err) < 0)
        return -1;
    memcpy(f->name, name, nlen + 1);
    f->size = (uint32_t)len;
    *total += len;
    s->nfiles++;
    return 0;
}

/* Each file takes whole pages of the task's tmpfs: refuse what cannot fit
 * (with today's bounds everything fits even the smallest tmpfs, 1 MiB; this
 * keeps a larger JC_FILES_BYTES_MAX from turning into a failed spawn). */
static int check_files_fit(const struct jc_spec *s, struct jc_err *err)
{
    uint64_t pages = 0;

    for (unsigned i = 0; i < s->nfiles; i++)
        pages += (s->files[i].size + 4095) / 4096;
    if (pages * 4096 > (uint64_t)s->limits.tmpfs_mb << 20)
        return jc_client(err, 413, "Field 'files' does not fit in limits.tmpfs_mb (%u MiB)",
                         s->limits.tmpfs_mb);
    return 0;
}

static int parse_files(json_object *v, struct jc_spec *s, struct jc_input *in, struct jc_err *err)
{
    size_t total = 0;

    if (ju_object(v, "files", err) < 0)
        return -1;
    if (json_object_object_length(v) > JC_FILES_MAX)
        return jc_client(err, 400, "Field 'files' must have at most %d entries", JC_FILES_MAX);
    json_object_object_foreach(v, name, val) {
        if (parse_file(name, val, s, in, &total, err) < 0)
            return -1;
    }
    return check_files_fit(s, err);
}

/* stdin and files: their bytes go to `in` (NULL: refused here). */
static int apply_input(const struct fields *f, struct jc_spec *s, struct jc_input *in,
                       struct jc_err *err)
{
    if ((f->stdin_ || f->files) && !in)
        return jc_client(err, 400, "Fields 'stdin' and 'files' are not accepted here");
    if (f->stdin_ && parse_stdin(f->stdin_, s, in, err) < 0)
        return -1;
    if (f->files && parse_files(f->files, s, in, err) < 0)
        return -1;
    return 0;
}

static int collect_fields(json_object *root, struct fields *f, struct jc_err *err)
{
    json_object_object_foreach(root, key, val) {
        json_object **slot = strcmp(key, "name") == 0       ? &f->name
                             : strcmp(key, "duration") == 0 ? &f->duration
                             : strcmp(key, "command") == 0  ? &f->command
                             : strcmp(key, "env") == 0      ? &f->env
                             : strcmp(key, "limits") == 0   ? &f->limits
                             : strcmp(key, "policy") == 0   ? &f->policy
                             : strcmp(key, "stdin") == 0    ? &f->stdin_
                             : strcmp(key, "files") == 0    ? &f->files
                                                            : NULL;
        if (!slot)
            return jc_client(err, 400, "Unknown field '%.64s'", key);
        if (!val) /* json-c represents null as NULL: leave nothing ambiguous */
            return jc_client(err, 400, "Field '%.64s' must not be null", key);
        *slot = val;
    }
    return 0;
}


/* The built-in worker must outlive its duration: without an explicit
 * timeout_s the timeout grows to cover it (within the maximum). */
static int worker_timeout(const struct jc_config *cfg, const struct fields *f, struct jc_spec *s,
                          struct jc_err *err)
{
    bool explicit_timeout = f->limits && json_object_object_get_ex(f->limits, "timeout_s", NULL);
    uint32_t need = s->duration + 10;

    if (s->duration < s->limits.timeout_s || !f->duration)
        return 0;
    if (explicit_timeout)
        return jc_client(err, 400, "Field 'duration' (%u s) must be below limits.timeout_s (%u s)",
                         s->duration, s->limits.timeout_s);
    s->limits.timeout_s = need < cfg->max.timeout_s ? need : cfg->max.timeout_s;
    return 0;
}

/* Never run a task without a limit it asked for. */
static int check_controllers(const struct jc_config *cfg, json_object *limits, struct jc_err *err)
{
    for (unsigned i = 0; i < JC_NLIMITS; i++)
        if ((cfg->missing_limits & (1u << i)) && json_object_object_get_ex(limits, jc_limit_defs[i].name, NULL))
            return jc_client(err, 400, "Field 'limits.%s': the cgroup controller it needs is not available on this host",
                             jc_limit_defs[i].name);
    return 0;
}

static int apply_fields(const struct jc_config *cfg, const struct jc_policy_set *set,
                        const struct fields *f, struct jc_spec *s, struct jc_input *in,
                        struct jc_err *err)
{
    bool has_path = false, has_home = false;

    if (check_name(f->name, s, err) < 0)
        return -1;
    if (f->duration && f->command)
        return jc_client(err, 400, "Field 'duration' applies only to the built-in worker, not with 'command'");
    if (f->duration && ju_u32(f->duration, "duration", 0, cfg->max_duration_s, &s->duration, err) < 0)
        return -1;
    if (f->limits && (ju_limits(f->limits, "limits", &cfg->max, &s->limits, err) < 0 ||
                      check_controllers(cfg, f->limits, err) < 0))
        return -1;
    if (f->policy && parse_policy(f->policy, set, s, err) < 0)
        return -1;
    if (!f->command && worker_timeout(cfg, f, s, err) < 0)
        return -1;
    if (f->command ? parse_command(f->command, s, err) : worker_argv(s, err))
        return -1;
    if (f->env && parse_env(f->env, s, &has_path, &has_home, err) < 0)
        return -1;
    if (add_base_env(s, has_path, has_home, err) < 0)
        return -1;
    return apply_input(f, s, in, err);
}

int request_parse(const struct jc_config *cfg, const struct jc_policy_set *policies,
                  const char *body, size_t len, struct jc_spec *out, struct jc_input *in,
                  struct jc_err *err)
{
    _cleanup_json_ json_object *root = NULL;
    struct fields f = {0};
    int rc;

    if (in)
        *in = (struct jc_input){0};
    memset(out, 0, offsetof(struct jc_spec, strings));
    out->duration = 3;
    out->limits = cfg->def;
    snprintf(out->policy, sizeof out->policy, "default");
    if (ju_parse(body, len, JU_MAX_DEPTH, &root, err) < 0)
        return -1;
    if (!json_object_is_type(root, json_type_object))
        return jc_client(err, 400, "Invalid request: the body must be a JSON object");
    if (collect_fields(root, &f, err) < 0)
        return -1;
    rc = apply_fields(cfg, policies, &f, out, in, err);
    if (rc < 0 && in)
        jc_input_free(in);
    return rc;
}
