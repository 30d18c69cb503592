/* policy.c — seccomp policies: Docker/OCI-shaped JSON profiles → classic BPF.
 *
 * Owns: reading the policy directory (no symlinks, regular files only, names
 * [A-Za-z0-9_-]{1,63}.json, sorted), strict parsing and type-checking of each
 * profile (json-c getters convert silently, so every value is type-checked
 * first), compiling it with libseccomp, exporting the BPF through a memfd
 * into a malloc'd sock_filter array, and the sha256 of the file's bytes.
 *
 * This is the "generate" half of crun's generate/apply split: the child
 * (child.c) applies the finished program with one raw prctl() and never
 * calls libseccomp.  Runs in: main(), single-threaded, before the privsep
 * fork.
 *
 * Rules are numbered from 0, as in the "syscalls" array (jq '.syscalls[N]').
 * Error messages read "LABEL: rule N: reason"; LABEL is the file's path when
 * loading a directory, the profile name for policy_compile(). */
#include "policy.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <json-c/json.h>
#include <nettle/sha2.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "util.h"

#define MAX_RULES 1024
#define MAX_NAMES 512
#define MAX_ARGS 6
#define JSON_DEPTH 32
#define MAX_ERRNO 4095
#define SHOWN_MAX 64 /* bytes of a client string echoed in a message */

static void json_putp(struct json_object **o)
{
    if (*o)
        json_object_put(*o);
}

static void tokener_freep(struct json_tokener **t)
{
    if (*t)
        json_tokener_free(*t);
}

static void closedirp(DIR **d)
{
    if (*d)
        closedir(*d);
}

#define _cleanup_json_ __attribute__((cleanup(json_putp)))
#define _cleanup_tokener_ __attribute__((cleanup(tokener_freep)))
#define _cleanup_dir_ __attribute__((cleanup(closedirp)))

/* A bad profile is the operator's (client's) fault: 400. */
#define bad(err, ...) jc_client((err), 400, __VA_ARGS__)

/* Copy of a profile-supplied string that is safe to put in a log line:
 * printable ASCII only, at most SHOWN_MAX bytes. */
static const char *shown(const char *s, char buf[SHOWN_MAX + 4])
{
    size_t i;

    for (i = 0; s[i] && i < SHOWN_MAX; i++)
        buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (s[i])
        buf[i++] = '.', buf[i++] = '.', buf[i++] = '.';
    buf[i] = '\0';
    return buf;
}

/* ---- json helpers ------------------------------------------------------ */

static const char *type_desc(enum json_type t)
{
    switch (t) {
    case json_type_array:
        return "an array";
    case json_type_object:
        return "an object";
    case json_type_string:
        return "a string";
    case json_type_int:
        return "an integer";
    default:
        return "a value of another type";
    }
}

/* Look up `key` and check its type before anyone reads it.
 * 1: present with the right type; 0: absent; -1: wrong type (null included). */
static int get_typed(struct json_object *obj, const char *key, enum json_type want,
                     struct json_object **out, struct jc_err *err)
{
    *out = NULL;
    if (!json_object_object_get_ex(obj, key, out))
        return 0;
    if (!json_object_is_type(*out, want))
        return bad(err, "\"%s\" must be %s", key, type_desc(want));
    return 1;
}

static int get_required(struct json_object *obj, const char *key, enum json_type want,
                        struct json_object **out, struct jc_err *err)
{
    int rc = get_typed(obj, key, want, out, err);

    if (rc == 0)
        return bad(err, "\"%s\" is required", key);
    return rc;
}

static bool in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

static int check_keys(struct json_object *obj, const char *const *allowed, struct jc_err *err)
{
    char buf[SHOWN_MAX + 4];

    json_object_object_foreach(obj, k, v) {
        (void)v;
        if (!in_list(k, allowed))
            return bad(err, "unknown key \"%s\"", shown(k, buf));
    }
    return 0;
}

/* An integer in [min, max]; json-c has already rejected non-integers here. */
static int get_int_range(struct json_object *o, const char *key, int64_t min, int64_t max,
                         int64_t *out, struct jc_err *err)
{
    int64_t v = json_object_get_int64(o);

    if (v < min || v > max)
        return bad(err, "\"%s\" must be between %lld and %lld", key, (long long)min,
                   (long long)max);
    *out = v;
    return 0;
}

/* A full 64-bit unsigned value (json-c keeps values above INT64_MAX as uint64). */
static int get_u64(struct json_object *o, const char *key, uint64_t *out, struct jc_err *err)
{
    if (json_object_get_int64(o) < 0)
        return bad(err, "\"%s\" must not be negative", key);
    *out = json_object_get_uint64(o);
    return 0;
}

/* Strict, depth-bounded, UTF-8-validating parse of the whole buffer. */
static int parse_json(const char *json, size_t len, struct json_object **out, struct jc_err *err)
{
    _cleanup_tokener_ struct json_tokener *tok = json_tokener_new_ex(JSON_DEPTH);
    enum json_tokener_error jerr;
    size_t end;

    if (!tok)
        return jc_fail(err, ENOMEM, "json_tokener_new_ex");
    if (len == 0)
        return bad(err, "empty profile");
    if (memchr(json, '\0', len))
        return bad(err, "NUL byte at byte %zu", (size_t)((const char *)memchr(json, 0, len) - json));
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    *out = json_tokener_parse_ex(tok, json, (int)len);
    jerr = json_tokener_get_error(tok);
    end = json_tokener_get_parse_end(tok);
    if (!*out && jerr == json_tokener_continue)
        return bad(err, "JSON: unexpected end of input at byte %zu", len);
    if (!*out)
        return bad(err, "JSON: %s at byte %zu", json_tokener_error_desc(jerr), end);
    while (end < len && isspace((unsigned char)json[end]))
        end++;
    if (end < len)
        return bad(err, "JSON: trailing data at byte %zu", end);
    return 0;
}

/* ---- actions, operators, architectures -------------------------------- */

struct name_val {
    const char *name;
    uint32_t val;
};

static const struct name_val actions[] = {
    {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS},
    {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD},
    {"SCMP_ACT_KILL", SCMP_ACT_KILL},
    {"SCMP_ACT_TRAP", SCMP_ACT_TRAP},
    {"SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0)},
    {"SCMP_ACT_LOG", SCMP_ACT_LOG},
    {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW},
};

static const struct name_val ops[] = {
    {"SCMP_CMP_NE", SCMP_CMP_NE},         {"SCMP_CMP_LT", SCMP_CMP_LT},
    {"SCMP_CMP_LE", SCMP_CMP_LE},         {"SCMP_CMP_EQ", SCMP_CMP_EQ},
    {"SCMP_CMP_GE", SCMP_CMP_GE},         {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
};

static int lookup(const struct name_val *tab, size_t n, const char *name, uint32_t *out)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(tab[i].name, name) == 0) {
            *out = tab[i].val;
            return 0;
        }
    }
    return -1;
}

static bool action_kills(uint32_t act)
{
    return act == SCMP_ACT_KILL_PROCESS || act == SCMP_ACT_KILL_THREAD;
}

/* "action" (+ optional errno key) → libseccomp action.  SCMP_ACT_ERRNO
 * without an errno returns EPERM, as in the OCI runtime spec. */
static int parse_action(struct json_object *obj, const char *akey, const char *ekey,
                        uint32_t *out, struct jc_err *err)
{
    struct json_object *a, *e;
    char buf[SHOWN_MAX + 4];
    int64_t eno = EPERM;
    int has_errno;

    if (get_required(obj, akey, json_type_string, &a, err) < 0)
        return -1;
    has_errno = get_typed(obj, ekey, json_type_int, &e, err);
    if (has_errno < 0)
        return -1;
    if (lookup(actions, JC_ARRAY_LEN(actions), json_object_get_string(a), out) < 0)
        return bad(err, "\"%s\": unknown or unsupported action \"%s\"", akey,
                   shown(json_object_get_string(a), buf));
    if (has_errno && *out != SCMP_ACT_ERRNO(0))
        return bad(err, "\"%s\" is only valid with SCMP_ACT_ERRNO", ekey);
    if (has_errno && get_int_range(e, ekey, 0, MAX_ERRNO, &eno, err) < 0)
        return -1;
    if (*out == SCMP_ACT_ERRNO(0))
        *out = SCMP_ACT_ERRNO((uint32_t)eno);
    return 0;
}

/* "SCMP_ARCH_X86_64" → libseccomp's "x86_64" → token; add it to the filter.
 * The native architecture is always present (seccomp_init adds it). */
static int add_arch(scmp_filter_ctx ctx, const char *name, struct jc_err *err)
{
    static const char prefix[] = "SCMP_ARCH_";
    char low[32], buf[SHOWN_MAX + 4];
    size_t n = strlen(name), i;
    uint32_t token = 0;
    int rc;

    if (strncmp(name, prefix, sizeof prefix - 1) == 0 && n - (sizeof prefix - 1) < sizeof low) {
        for (i = 0; name[sizeof prefix - 1 + i]; i++)
            low[i] = (char)tolower((unsigned char)name[sizeof prefix - 1 + i]);
        low[i] = '\0';
        token = seccomp_arch_resolve_name(low);
    }
    if (token == 0)
        return bad(err, "unknown architecture \"%s\"", shown(name, buf));
    rc = seccomp_arch_add(ctx, token);
    if (rc < 0 && rc != -EEXIST)
        return bad(err, "architecture \"%s\": %s", name, strerror(-rc));
    return 0;
}

static int add_arches(scmp_filter_ctx ctx, struct json_object *root, struct jc_err *err)
{
    struct json_object *arr, *a;
    int rc = get_typed(root, "architectures", json_type_array, &arr, err);
    size_t n;

    if (rc <= 0)
        return rc;
    n = json_object_array_length(arr);
    if (n > 32)
        return bad(err, "\"architectures\": more than 32 entries");
    for (size_t i = 0; i < n; i++) {
        a = json_object_array_get_idx(arr, i);
        if (!json_object_is_type(a, json_type_string))
            return bad(err, "\"architectures\"[%zu] must be a string", i);
        if (add_arch(ctx, json_object_get_string(a), err) < 0)
            return -1;
    }
    return 0;
}

/* ---- rules ------------------------------------------------------------- */

static const char *const arg_keys[] = {"index", "value", "valueTwo", "op", NULL};

static int parse_arg(struct json_object *o, struct scmp_arg_cmp *cmp, struct jc_err *err)
{
    struct json_object *idx, *val, *val2, *op;
    char buf[SHOWN_MAX + 4];
    int64_t index = 0;
    uint32_t opv;
    int has2;

    if (!json_object_is_type(o, json_type_object))
        return bad(err, "must be an object");
    if (check_keys(o, arg_keys, err) < 0 || get_required(o, "index", json_type_int, &idx, err) < 0 ||
        get_required(o, "value", json_type_int, &val, err) < 0 ||
        get_required(o, "op", json_type_string, &op, err) < 0 ||
        (has2 = get_typed(o, "valueTwo", json_type_int, &val2, err)) < 0)
        return -1;
    if (get_int_range(idx, "index", 0, MAX_ARGS - 1, &index, err) < 0 ||
        get_u64(val, "value", &cmp->datum_a, err) < 0 ||
        (has2 && get_u64(val2, "valueTwo", &cmp->datum_b, err) < 0))
        return -1;
    if (lookup(ops, JC_ARRAY_LEN(ops), json_object_get_string(op), &opv) < 0)
        return bad(err, "\"op\": unknown operator \"%s\"", shown(json_object_get_string(op), buf));
    cmp->arg = (unsigned int)index;
    cmp->op = (enum scmp_compare)opv;
    return 0;
}

/* "args": all comparisons of one rule must hold together (AND). */
static int parse_args(struct json_object *rule, struct scmp_arg_cmp cmps[MAX_ARGS],
                      unsigned int *n, struct jc_err *err)
{
    struct json_object *arr;
    int rc = get_typed(rule, "args", json_type_array, &arr, err);
    size_t len;

    *n = 0;
    if (rc <= 0)
        return rc;
    len = json_object_array_length(arr);
    if (len > MAX_ARGS)
        return bad(err, "\"args\": more than %d entries", MAX_ARGS);
    for (size_t i = 0; i < len; i++) {
        cmps[i] = (struct scmp_arg_cmp){0};
        if (parse_arg(json_object_array_get_idx(arr, i), &cmps[i], err) < 0)
            return jc_err_prefix(err, "args[%zu]: ", i);
        /* libseccomp cannot AND two comparisons of one argument (EINVAL);
         * runc silently turns them into an OR.  Say so instead. */
        for (size_t j = 0; j < i; j++)
            if (cmps[j].arg == cmps[i].arg)
                return bad(err, "args[%zu]: argument %u is already compared in args[%zu]; "
                           "use one rule per comparison", i, cmps[i].arg, j);
    }
    *n = (unsigned int)len;
    return 0;
}

/* Docker's includes/excludes select rules by capability, arch or kernel
 * version; jobcell has one fixed set of each, so they are refused. */
static int check_conditions(struct json_object *rule, struct jc_err *err)
{
    static const char *const keys[] = {"includes", "excludes"};
    struct json_object *o;

    for (size_t i = 0; i < JC_ARRAY_LEN(keys); i++) {
        int rc = get_typed(rule, keys[i], json_type_object, &o, err);

        if (rc < 0)
            return -1;
        if (rc > 0 && json_object_object_length(o) > 0)
            return bad(err, "includes/excludes are not supported");
    }
    return 0;
}

static int check_comment(struct json_object *obj, struct jc_err *err)
{
    struct json_object *c;

    return get_typed(obj, "comment", json_type_string, &c, err) < 0 ? -1 : 0;
}

struct rule {
    size_t index; /* in "syscalls" */
    uint32_t action;
    struct scmp_arg_cmp cmps[MAX_ARGS];
    unsigned int ncmp;
};

/* What earlier rules said about one syscall number. */
struct seen {
    uint32_t action; /* of the first rule naming it */
    int rule;        /* index of that rule */
    bool used, uncond, mixed;
};

#define SEEN_MAX 1024 /* native syscall numbers are far below this */

struct filter {
    scmp_filter_ctx ctx;
    uint32_t def;
    struct seen seen[SEEN_MAX];
};

static void filter_freep(struct filter **f)
{
    if (*f && (*f)->ctx)
        seccomp_release((*f)->ctx);
    free(*f);
}

#define _cleanup_filter_ __attribute__((cleanup(filter_freep)))

/* libseccomp silently picks one action when an unconditional rule meets
 * another rule with a different action for the same syscall.  A profile
 * that says two things about a syscall is refused instead.  Rules with the
 * default action count too: an explicit deny cannot be undone by accident. */
static int check_conflict(struct filter *f, int nr, const struct rule *r, const char *name,
                          struct jc_err *err)
{
    struct seen *s = (nr >= 0 && nr < SEEN_MAX) ? &f->seen[nr] : NULL;
    bool uncond = r->ncmp == 0;

    if (!s) /* a pseudo-number: the syscall does not exist natively */
        return 0;
    if (s->used && (s->uncond || uncond) && (s->mixed || s->action != r->action))
        return bad(err, "syscall \"%s\" has a different action in rule %d", name, s->rule);
    if (!s->used)
        *s = (struct seen){.action = r->action, .rule = (int)r->index, .used = true};
    s->uncond |= uncond;
    s->mixed |= s->action != r->action;
    return 0;
}

static int add_name(struct filter *f, const struct rule *r, struct json_object *name, size_t i,
                    struct jc_err *err)
{
    char buf[SHOWN_MAX + 4];
    const char *s;
    int nr, rc;

    if (!json_object_is_type(name, json_type_string))
        return bad(err, "\"names\"[%zu] must be a string", i);
    s = json_object_get_string(name);
    nr = seccomp_syscall_resolve_name(s);
    if (nr == __NR_SCMP_ERROR)
        return bad(err, "unknown syscall \"%s\"", shown(s, buf));
    if (check_conflict(f, nr, r, s, err) < 0)
        return -1;
    /* The default already covers it; libseccomp refuses such a rule. */
    if (r->action == f->def)
        return 0;
    rc = seccomp_rule_add_array(f->ctx, r->action, nr, r->ncmp, r->cmps);
    if (rc < 0)
        return bad(err, "syscall \"%s\": %s", s, strerror(-rc));
    return 0;
}

static const char *const rule_keys[] = {"names", "action", "errnoRet", "args",
                                        "comment", "includes", "excludes", NULL};

static int compile_rule(struct filter *f, size_t index, struct json_object *o,
                        struct jc_err *err)
{
    struct json_object *names;
    struct rule r = {.index = index};
    size_t n;

    if (!json_object_is_type(o, json_type_object))
        return bad(err, "must be an object");
    if (check_keys(o, rule_keys, err) < 0 || check_comment(o, err) < 0 ||
        check_conditions(o, err) < 0 ||
        get_required(o, "names", json_type_array, &names, err) < 0 ||
        parse_action(o, "action", "errnoRet", &r.action, err) < 0 ||
        parse_args(o, r.cmps, &r.ncmp, err) < 0)
        return -1;
    n = json_object_array_length(names);
    if (n == 0 || n > MAX_NAMES)
        return bad(err, "\"names\" must have 1 to %d entries", MAX_NAMES);
    for (size_t i = 0; i < n; i++)
        if (add_name(f, &r, json_object_array_get_idx(names, i), i, err) < 0)
            return -1;
    return 0;
}

static int compile_rules(struct filter *f, struct json_object *root, struct jc_err *err)
{
    struct json_object *arr;
    int rc = get_typed(root, "syscalls", json_type_array, &arr, err);
    size_t n;

    if (rc <= 0)
        return rc;
    n = json_object_array_length(arr);
    if (n > MAX_RULES)
        return bad(err, "\"syscalls\": more than %d rules", MAX_RULES);
    for (size_t i = 0; i < n; i++)
        if (compile_rule(f, i, json_object_array_get_idx(arr, i), err) < 0)
            return jc_err_prefix(err, "rule %zu: ", i);
    return 0;
}

/* ---- the filter -------------------------------------------------------- */

/* Attributes that make the exported program what child.c expects. */
static int set_attrs(scmp_filter_ctx ctx, struct jc_err *err)
{
    static const struct {
        enum scmp_filter_attr attr;
        uint32_t val;
        const char *name;
    } attrs[] = {
        /* A syscall of any ABI not in the profile (i386 via int 0x80, x32)
         * is an escape attempt around the rules: kill the whole process. */
        {SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS, "ACT_BADARCH=KILL_PROCESS"},
        /* The child sets no_new_privs itself; the program is only exported. */
        {SCMP_FLTATR_CTL_NNP, 0, "CTL_NNP=0"},
        {SCMP_FLTATR_CTL_TSYNC, 0, "CTL_TSYNC=0"},
        /* Binary search over syscall numbers: fewer instructions run per
         * syscall for a long allow-list. */
        {SCMP_FLTATR_CTL_OPTIMIZE, 2, "CTL_OPTIMIZE=2"},
    };

    for (size_t i = 0; i < JC_ARRAY_LEN(attrs); i++) {
        int rc = seccomp_attr_set(ctx, attrs[i].attr, attrs[i].val);

        /* EINVAL for BADARCH: libseccomp found no seccomp(2) (kernel < 4.14,
         * or an outer filter hides it) and refuses SCMP_ACT_KILL_PROCESS. */
        if (rc < 0)
            return jc_fail(err, -rc, "libseccomp: setting SCMP_FLTATR_%s", attrs[i].name);
    }
    return 0;
}

static const char *const top_keys[] = {"defaultAction", "defaultErrnoRet", "architectures",
                                       "archMap", "syscalls", "comment", "listenerPath",
                                       NULL};

/* Fills f->ctx (released by the caller) and f->def. */
static int build_filter(struct json_object *root, struct filter *f, struct jc_err *err)
{
    struct json_object *o;

    if (!json_object_is_type(root, json_type_object))
        return bad(err, "a profile must be a JSON object");
    if (check_keys(root, top_keys, err) < 0 || check_comment(root, err) < 0)
        return -1;
    if (json_object_object_get_ex(root, "listenerPath", &o))
        return bad(err, "\"listenerPath\" is not supported");
    if (parse_action(root, "defaultAction", "defaultErrnoRet", &f->def, err) < 0)
        return -1;
    f->ctx = seccomp_init(f->def);
    if (!f->ctx)
        return jc_fail(err, 0, "seccomp_init: default action not supported here");
    if (set_attrs(f->ctx, err) < 0 || add_arches(f->ctx, root, err) < 0)
        return -1;
    return compile_rules(f, root, err);
}

static int read_full(int fd, void *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = pread(fd, (char *)buf + got, len - got, (off_t)got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        got += (size_t)n;
    }
    return 0;
}

/* seccomp_export_bpf() only writes to an fd: use an anonymous memfd. */
static int export_bpf(scmp_filter_ctx ctx, struct jc_policy *out, struct jc_err *err)
{
    _cleanup_close_ int fd = memfd_create("jobcell-policy", MFD_CLOEXEC);
    _cleanup_free_ struct sock_filter *prog = NULL;
    struct stat st;
    size_t n;
    int rc;

    if (fd < 0)
        return jc_fail(err, errno, "memfd_create");
    rc = seccomp_export_bpf(ctx, fd);
    if (rc < 0)
        return jc_fail(err, -rc, "seccomp_export_bpf");
    if (fstat(fd, &st) < 0)
        return jc_fail(err, errno, "fstat(memfd)");
    n = (size_t)st.st_size / sizeof *prog;
    if (st.st_size <= 0 || (size_t)st.st_size % sizeof *prog != 0)
        return jc_fail(err, 0, "seccomp_export_bpf: odd program size %lld",
                       (long long)st.st_size);
    if (n > BPF_MAXINSNS || n > USHRT_MAX)
        return bad(err, "compiled filter has %zu instructions, more than %d", n, BPF_MAXINSNS);
    prog = malloc(n * sizeof *prog);
    if (!prog)
        return jc_fail(err, ENOMEM, "allocating the filter");
    rc = read_full(fd, prog, n * sizeof *prog);
    if (rc < 0)
        return jc_fail(err, -rc, "reading the filter back");
    out->bpf = JC_STEAL(prog);
    out->bpf_len = (unsigned short)n;
    return 0;
}


/* Compile into `out` (name already set); every message starts with `label`. */
static int compile_labeled(const char *label, const char *json, size_t len,
                           struct jc_policy *out, struct jc_err *err)
{
    _cleanup_json_ struct json_object *root = NULL;
    _cleanup_filter_ struct filter *f = calloc(1, sizeof *f);

    out->bpf = NULL;
    out->bpf_len = 0;
    if (!f)
        return jc_fail(err, ENOMEM, "%s", label);
    if (parse_json(json, len, &root, err) < 0 || build_filter(root, f, err) < 0 ||
        export_bpf(f->ctx, out, err) < 0)
        return jc_err_prefix(err, "%s: ", label);
    jc_sha256_hex(json, len, out->sha256);
    out->default_kills = action_kills(f->def);
    return 0;
}

int policy_compile(const char *name, const char *json, size_t len, struct jc_policy *out,
                   struct jc_err *err)
{
    *out = (struct jc_policy){0};
    if (!name || strlen(name) >= sizeof out->name)
        return bad(err, "policy name longer than %d bytes", POLICY_NAME_MAX - 1);
    if (len > POLICY_FILE_MAX)
        return bad(err, "%s: larger than %d bytes", name, POLICY_FILE_MAX);
    memcpy(out->name, name, strlen(name) + 1);
    return compile_labeled(name, json, len, out, err);
}

/* ---- the directory ----------------------------------------------------- */

#define FILE_NAME_MAX (POLICY_NAME_MAX + 5) /* stem + ".json" + NUL */

/* Length of the stem if `f` is [A-Za-z0-9_-]{1,63}.json, 0 if it is some
 * other *.json, -1 if it does not end in ".json" (not a profile at all). */
static int profile_stem(const char *f)
{
    size_t n = strlen(f), i;

    if (n < 5 || strcmp(f + n - 5, ".json") != 0)
        return -1;
    if (n - 5 == 0 || n - 5 >= POLICY_NAME_MAX)
        return 0;
    for (i = 0; i < n - 5; i++)
        if (!isalnum((unsigned char)f[i]) && f[i] != '_' && f[i] != '-')
            return 0;
    return (int)(n - 5);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(a, b);
}

static int path_label(char *buf, size_t size, const char *dir, const char *file)
{
    size_t n = strlen(dir);

    return snprintf(buf, size, "%s%s%s", dir, (n && dir[n - 1] == '/') ? "" : "/", file);
}

/* Collect the profile file names, validated and sorted. */
static int list_profiles(int dfd, const char *dir, char names[][FILE_NAME_MAX], size_t *count,
                         struct jc_err *err)
{
    int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
    _cleanup_dir_ DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    char buf[SHOWN_MAX + 4];
    struct dirent *de;

    if (!d) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return jc_fail(err, e, "%s: opendir", dir);
    }
    for (*count = 0; (errno = 0, de = readdir(d));) {
        int stem = profile_stem(de->d_name);

        if (stem < 0)
            continue;
        if (stem == 0)
            return bad(err, "%s: profile name \"%s\" must match [A-Za-z0-9_-]{1,63}.json", dir,
                       shown(de->d_name, buf));
        if (*count == POLICY_MAX_FILES)
            return bad(err, "%s: more than %d profiles", dir, POLICY_MAX_FILES);
        memcpy(names[(*count)++], de->d_name, (size_t)stem + 6);
    }
    if (errno)
        return jc_fail(err, errno, "%s: readdir", dir);
    qsort(names, *count, FILE_NAME_MAX, cmp_names);
    return 0;
}

static int load_one(int dfd, const char *dir, const char *file, struct jc_policy *out,
                    struct jc_err *err)
{
    char label[PATH_MAX];
    _cleanup_free_ char *data = NULL;
    size_t len = 0;

    path_label(label, sizeof label, dir, file);
    *out = (struct jc_policy){0};
    memcpy(out->name, file, strlen(file) - 5); /* stem, validated by profile_stem */
    /* No symlinks, no FIFOs or devices, bounded size. */
    if (jc_read_file_at(dfd, file, label, POLICY_FILE_MAX, &data, &len, err) < 0)
        return -1;
    return compile_labeled(label, data, len, out, err);
}

int policy_load_dir(const char *dir, struct jc_policy_set *set, struct jc_err *err)
{
    _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    char names[POLICY_MAX_FILES][FILE_NAME_MAX];
    size_t n = 0;

    *set = (struct jc_policy_set){0};
    if (dfd < 0)
        return jc_fail(err, errno, "policy directory %s", dir);
    if (list_profiles(dfd, dir, names, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++, set->count++) {
        if (load_one(dfd, dir, names[i], &set->items[i], err) < 0) {
            policy_set_free(set);
            return -1;
        }
    }
    if (!policy_find(set, "default")) {
        policy_set_free(set);
        return bad(err, "%s: no default.json (the profile used when a task names none)", dir);
    }
    return 0;
}

const struct jc_policy *policy_find(const struct jc_policy_set *set, const char *name)
{
    for (size_t i = 0; i < set->count; i++)
        if (strcmp(set->items[i].name, name) == 0)
            return &set->items[i];
    return NULL;
}

void policy_free(struct jc_policy *p)
{
    if (!p)
        return;
    free(p->bpf);
    p->bpf = NULL;
    p->bpf_len = 0;
}

void policy_set_free(struct jc_policy_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->count; i++)
        policy_free(&set->items[i]);
    set->count = 0;
}
