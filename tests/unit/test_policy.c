/* test_policy.c — unit tests for policy.c: parsing, validation, directory
 * loading, and what the compiled programs actually do to a process.
 *
 * Usage: test_policy POLICY_DIR [SEED_CORPUS_DIR]
 *   POLICY_DIR: the project's policy/ directory;
 *   SEED_CORPUS_DIR: tests/fuzz/corpus/policy (fuzz seeds replayed as a test).
 * Needs no root: the behavioural checks fork a child of this single-threaded
 * test, set no_new_privs and load the compiled BPF with prctl(), exactly as
 * child.c does, then try allowed and forbidden syscalls. */
#include "policy.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <seccomp.h>

#include "check.h"

#define HEAD "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":1,\"syscalls\":["
#define TAIL "]}"
#define ALLOW(names) "{\"names\":[" names "],\"action\":\"SCMP_ACT_ALLOW\"}"

static const char *policy_dir;

/* ---- helpers ----------------------------------------------------------- */

static int compile_str(const char *json, struct jc_err *e)
{
    struct jc_policy p;
    int rc;

    jc_err_clear(e);
    rc = policy_compile("t", json, strlen(json), &p, e);
    if (rc == 0)
        policy_free(&p);
    return rc;
}

/* The profile must be refused as a client fault whose message holds `needle`. */
static void expect_fail(const char *json, const char *needle, int line)
{
    struct jc_err e;
    int rc = compile_str(json, &e);

    if (rc == 0 || e.status != 400)
        fprintf(stderr, "line %d: expected a 400 failure, got rc=%d status=%d\n", line, rc,
                e.status);
    CHECK(rc < 0 && e.status == 400 && e.fault == JC_FAULT_CLIENT);
    CHECK_STR_CONTAINS(e.msg, needle);
}
#define EXPECT_FAIL(json, needle) expect_fail((json), (needle), __LINE__)

static void expect_ok(const char *json, int line)
{
    struct jc_err e;
    int rc = compile_str(json, &e);

    if (rc != 0)
        fprintf(stderr, "line %d: unexpected failure: %s\n", line, e.msg);
    CHECK(rc == 0);
}
#define EXPECT_OK(json) expect_ok((json), __LINE__)

static char *make_tmpdir(void)
{
    char tmpl[] = "/tmp/jc-policy-test-XXXXXX";
    char *d = mkdtemp(tmpl);

    return d ? strdup(d) : NULL;
}

static void write_file(const char *dir, const char *name, const char *data, size_t len)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    CHECK(fwrite(data, 1, len, f) == len);
    fclose(f);
}

static void rm_tree(char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;

    while (d && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            unlinkat(dirfd(d), de->d_name, 0);
    if (d)
        closedir(d);
    rmdir(dir);
    free(dir);
}

static const char minimal[] = HEAD ALLOW("\"read\"") TAIL;

static int load_expect_fail(const char *dir, const char *needle)
{
    struct jc_policy_set set;
    struct jc_err e = {0};
    int rc = policy_load_dir(dir, &set, &e);

    CHECK(rc < 0);
    CHECK(set.count == 0);
    CHECK_STR_CONTAINS(e.msg, needle);
    return rc;
}

/* ---- the shipped profiles --------------------------------------------- */

static void test_shipped(const struct jc_policy_set *set)
{
    const struct jc_policy *def = policy_find(set, "default");
    const struct jc_policy *strict = policy_find(set, "strict");

    CHECK(set->count >= 2);
    CHECK(def != NULL && strict != NULL);
    if (!def || !strict)
        return;
    CHECK(def->bpf && def->bpf_len > 0 && def->bpf_len <= BPF_MAXINSNS);
    CHECK(strict->bpf && strict->bpf_len > 0);
    CHECK(strlen(def->sha256) == 64 && strspn(def->sha256, "0123456789abcdef") == 64);
    CHECK(strcmp(def->sha256, strict->sha256) != 0);
    CHECK(def->default_kills == 0);
    CHECK(strict->default_kills == 1);
    CHECK(policy_find(set, "nosuch") == NULL);
    for (size_t i = 1; i < set->count; i++) /* sorted by name */
        CHECK(strcmp(set->items[i - 1].name, set->items[i].name) < 0);
}

/* Same bytes, same program and hash (the front records the hash). */
static void test_deterministic(void)
{
    struct jc_policy a, b;
    struct jc_err e;

    CHECK(policy_compile("a", minimal, strlen(minimal), &a, &e) == 0);
    CHECK(policy_compile("b", minimal, strlen(minimal), &b, &e) == 0);
    CHECK(a.bpf_len == b.bpf_len && memcmp(a.bpf, b.bpf, a.bpf_len * sizeof *a.bpf) == 0);
    CHECK(strcmp(a.sha256, b.sha256) == 0);
    CHECK(strcmp(a.name, "a") == 0);
    policy_free(&a);
    policy_free(&b);

    /* The digest is of the file's bytes (checked against sha256sum). */
    static const char allow[] = "{\"defaultAction\":\"SCMP_ACT_ALLOW\"}";
    CHECK(policy_compile("a", allow, strlen(allow), &a, &e) == 0);
    CHECK(strcmp(a.sha256, "1e91071efd3cec07b4e3e6cb9e0405055162ec9674f62869fe7f1564d5dce24f") == 0);
    CHECK(a.default_kills == 0);
    policy_free(&a);
}

/* ---- validation --------------------------------------------------------- */

static void test_unknown_syscall(void)
{
    EXPECT_FAIL(HEAD ALLOW("\"read\"") "," ALLOW("\"write\",\"fooo\"") TAIL,
                "t: rule 1: unknown syscall \"fooo\"");
    EXPECT_FAIL(HEAD ALLOW("\"\"") TAIL, "rule 0: unknown syscall \"\"");
    /* Control bytes from the profile are not echoed into logs. */
    EXPECT_FAIL(HEAD ALLOW("\"a\\nb\"") TAIL, "unknown syscall \"a?b\"");
    /* Known to libseccomp for another ABI only: accepted, no-op here. */
    EXPECT_OK(HEAD ALLOW("\"socketcall\",\"chown32\"") TAIL);
}

static void test_malformed_json(void)
{
    EXPECT_FAIL("{\"defaultAction\": \"SCMP_ACT_ERRNO\",, }", "at byte 35");
    EXPECT_FAIL("{\"defaultAction\": \"SCMP_ACT_ERRNO\"", "unexpected end of input at byte 34");
    EXPECT_FAIL("{\"defaultAction\": \"SCMP_ACT_ERRNO\"} x", "at byte 36");
    EXPECT_FAIL("{\"defaultAction\": 'SCMP_ACT_ERRNO'}", "at byte 18");
    EXPECT_FAIL("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"comment\": \"\xff\"}", "JSON:");
    EXPECT_FAIL("", "empty profile");
    EXPECT_FAIL("[]", "must be a JSON object");
    EXPECT_OK("{\"defaultAction\": \"SCMP_ACT_ERRNO\"} \n");

    struct jc_err e;
    struct jc_policy p;
    static const char nul[] = "{\"defaultAction\":\0\"SCMP_ACT_ALLOW\"}";
    CHECK(policy_compile("t", nul, sizeof nul - 1, &p, &e) < 0);
    CHECK_STR_CONTAINS(e.msg, "NUL byte at byte 17");
}

static void test_depth(void)
{
    char deep[256] = "{\"comment\":";
    size_t n = strlen(deep);

    for (int i = 0; i < 40; i++)
        deep[n++] = '[';
    for (int i = 0; i < 40; i++)
        deep[n++] = ']';
    deep[n++] = '}';
    deep[n] = '\0';
    EXPECT_FAIL(deep, "JSON: nesting too deep");
}

static void test_wrong_types(void)
{
    EXPECT_FAIL(HEAD "{\"names\":\"read\",\"action\":\"SCMP_ACT_ALLOW\"}" TAIL,
                "rule 0: \"names\" must be an array");
    EXPECT_FAIL(HEAD "{\"names\":[\"read\"],\"action\":1}" TAIL,
                "rule 0: \"action\" must be a string");
    EXPECT_FAIL(HEAD "{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":\"1\"}" TAIL,
                "rule 0: \"errnoRet\" must be an integer");
    EXPECT_FAIL(HEAD "{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":1.0}" TAIL,
                "\"errnoRet\" must be an integer");
    EXPECT_FAIL(HEAD "{\"names\":[\"read\", 3],\"action\":\"SCMP_ACT_ALLOW\"}" TAIL,
                "rule 0: \"names\"[1] must be a string");
    EXPECT_FAIL(HEAD "{\"names\":[\"read\"],\"action\":null}" TAIL, "\"action\" must be a string");
    EXPECT_FAIL(HEAD "{\"names\":[\"read\"]}" TAIL, "rule 0: \"action\" is required");
    EXPECT_FAIL(HEAD "\"read\"" TAIL, "rule 0: must be an object");
    EXPECT_FAIL("{\"defaultAction\":true}", "\"defaultAction\" must be a string");
    EXPECT_FAIL("{\"syscalls\":[]}", "\"defaultAction\" is required");
    EXPECT_FAIL("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":{}}",
                "\"syscalls\" must be an array");
    EXPECT_FAIL("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"architectures\":\"SCMP_ARCH_X86_64\"}",
                "\"architectures\" must be an array");
    EXPECT_FAIL("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"comment\":[]}",
                "\"comment\" must be a string");
    EXPECT_FAIL(HEAD "{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,"
                     "\"value\":1,\"op\":7}]}" TAIL,
                "rule 0: args[0]: \"op\" must be a string");
    EXPECT_FAIL(HEAD "{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":\"0\","
                     "\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}" TAIL,
                "args[0]: \"index\" must be an integer");
}

static void test_keys(void)
{
    EXPECT_FAIL("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultActoin\":\"x\"}",
                "unknown key \"defaultActoin\"");
    EXPECT_FAIL(HEAD "{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\",\"name\":\"read\"}" TAIL,
                "rule 0: unknown key \"name\"");
    EXPECT_FAIL(HEAD "{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,"
                     "\"value\":1,\"op\":\"SCMP_CMP_EQ\",\"x\":1}]}" TAIL,
                "rule 0: args[0]: unknown key \"x\"");
    EXPECT_FAIL("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"listenerPath\":\"/run/x.sock\"}",
                "\"listenerPath\" is not supported");
    EXPECT_FAIL(HEAD "{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"caps\":["
                     "\"CAP_SYS_ADMIN\"]}}" TAIL,
                "rule 0: includes/excludes are not supported");
    EXPECT_FAIL(HEAD "{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\",\"excludes\":{\"arches\":["
                     "\"s390x\"]}}" TAIL,
                "rule 0: includes/excludes are not supported");
    /* Docker's own shape: empty includes/excludes, archMap, comments. */
    EXPECT_OK("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":1,\"archMap\":[{\"architecture\":"
              "\"SCMP_ARCH_X86_64\",\"subArchitectures\":[\"SCMP_ARCH_X86\"]}],\"syscalls\":[{\"names\":"
              "[\"read\"],\"action\":\"SCMP_ACT_ALLOW\",\"comment\":\"c\",\"includes\":{},\"excludes\":{}}]}");
}

static void test_values(void)
{
    EXPECT_FAIL("{\"defaultAction\":\"SCMP_ACT_NOTIFY\"}", "unknown or unsupported action \"SCMP_ACT_NOTIFY\"");
    EXPECT_FAIL("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":4096}",
                "\"defaultErrnoRet\" must be between 0 and 4095");
    EXPECT_FAIL("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"defaultErrnoRet\":1}",
                "\"defaultErrnoRet\" is only valid with SCMP_ACT_ERRNO");
    EXPECT_FAIL(HEAD "{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\",\"errnoRet\":1}" TAIL,
                "rule 0: \"errnoRet\" is only valid with SCMP_ACT_ERRNO");
    EXPECT_FAIL(HEAD "{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":6,"
                     "\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}" TAIL,
                "\"index\" must be between 0 and 5");
    EXPECT_FAIL(HEAD "{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,"
                     "\"value\":-1,\"op\":\"SCMP_CMP_EQ\"}]}" TAIL,
                "\"value\" must not be negative");
    EXPECT_FAIL(HEAD "{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,"
                     "\"value\":1,\"op\":\"SCMP_CMP_MATCHES\"}]}" TAIL,
                "unknown operator \"SCMP_CMP_MATCHES\"");
    EXPECT_FAIL(HEAD "{\"names\":[],\"action\":\"SCMP_ACT_ALLOW\"}" TAIL,
                "\"names\" must have 1 to 512 entries");
    EXPECT_FAIL("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"architectures\":[\"SCMP_ARCH_VAX\"]}",
                "unknown architecture \"SCMP_ARCH_VAX\"");
    EXPECT_FAIL("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"architectures\":[\"x86_64\"]}",
                "unknown architecture \"x86_64\"");
    EXPECT_FAIL(HEAD "{\"names\":[\"ioctl\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":1,"
                     "\"value\":1,\"op\":\"SCMP_CMP_GE\"},{\"index\":1,\"value\":9,\"op\":"
                     "\"SCMP_CMP_LT\"}]}" TAIL,
                "rule 0: args[1]: argument 1 is already compared in args[0]");
    /* Full 64-bit values, comparisons on several arguments (AND), a rule
     * with the default action (skipped), named foreign ABIs. */
    EXPECT_OK(HEAD "{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":2,"
                   "\"value\":18446744073709551615,\"valueTwo\":18446744073709551615,\"op\":"
                   "\"SCMP_CMP_MASKED_EQ\"}]}," ALLOW("\"write\"") "," "{\"names\":[\"ioctl\"],"
                   "\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":1,\"value\":1,\"op\":"
                   "\"SCMP_CMP_GE\"},{\"index\":2,\"value\":100,\"op\":\"SCMP_CMP_LT\"}]},"
                   "{\"names\":[\"mount\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":1}" TAIL);
    /* Two rules that disagree about one syscall. */
    EXPECT_FAIL(HEAD ALLOW("\"read\"") "," "{\"names\":[\"write\",\"read\"],\"action\":"
                "\"SCMP_ACT_KILL\"}" TAIL,
                "rule 1: syscall \"read\" has a different action in rule 0");
    EXPECT_FAIL(HEAD "{\"names\":[\"mount\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":1},"
                "{\"names\":[\"mount\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,"
                "\"value\":0,\"op\":\"SCMP_CMP_EQ\"}]}" TAIL,
                "rule 1: syscall \"mount\" has a different action in rule 0");
    /* Same action twice, or different actions each under a condition: fine. */
    EXPECT_OK(HEAD ALLOW("\"read\",\"read\"") "," ALLOW("\"read\"") ",{\"names\":[\"personality\"],"
              "\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":0,\"op\":"
              "\"SCMP_CMP_EQ\"}]},{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_KILL\","
              "\"args\":[{\"index\":0,\"value\":8,\"op\":\"SCMP_CMP_EQ\"}]}" TAIL);
    EXPECT_OK("{\"defaultAction\":\"SCMP_ACT_KILL\",\"architectures\":[\"SCMP_ARCH_X86_64\","
              "\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\",\"SCMP_ARCH_AARCH64\"]}");
}

/* Build a profile with `rules` rules of `names` names and `args` args each. */
static char *big_profile(size_t rules, size_t names, size_t args)
{
    size_t cap = 64 + rules * (64 + names * 9 + args * 64);
    char *s = malloc(cap), *p = s;

    if (!s)
        abort();
    p += sprintf(p, "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[");
    for (size_t r = 0; r < rules; r++) {
        p += sprintf(p, "%s{\"action\":\"SCMP_ACT_ALLOW\",\"names\":[", r ? "," : "");
        for (size_t n = 0; n < names; n++)
            p += sprintf(p, "%s\"read\"", n ? "," : "");
        p += sprintf(p, "],\"args\":[");
        for (size_t a = 0; a < args; a++)
            p += sprintf(p, "%s{\"index\":%zu,\"value\":1,\"op\":\"SCMP_CMP_NE\"}", a ? "," : "",
                         a % 6);
        p += sprintf(p, "]}");
    }
    sprintf(p, "]}");
    return s;
}

static void test_bounds(void)
{
    char *s;

    s = big_profile(1025, 1, 0);
    EXPECT_FAIL(s, "\"syscalls\": more than 1024 rules");
    free(s);
    s = big_profile(1, 513, 0);
    EXPECT_FAIL(s, "rule 0: \"names\" must have 1 to 512 entries");
    free(s);
    s = big_profile(1, 1, 7);
    EXPECT_FAIL(s, "rule 0: \"args\": more than 6 entries");
    free(s);
    s = big_profile(2, 512, 6);
    EXPECT_OK(s);
    free(s);

    struct jc_err e;
    struct jc_policy p;
    CHECK(policy_compile("t", minimal, POLICY_FILE_MAX + 1, &p, &e) < 0);
    CHECK_STR_CONTAINS(e.msg, "larger than");
    char longname[POLICY_NAME_MAX + 1];
    memset(longname, 'a', POLICY_NAME_MAX);
    longname[POLICY_NAME_MAX] = '\0';
    CHECK(policy_compile(longname, minimal, strlen(minimal), &p, &e) < 0);
}

/* A profile whose program exceeds BPF_MAXINSNS is refused, not truncated.
 * One rule per syscall with distinct values (libseccomp shares identical
 * blocks, so repeated conditions would not grow the program). */
static void test_too_many_insns(void)
{
    size_t n = 0;
    char *s = malloc(256 * 1024), *p = s;

    p += sprintf(p, "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[");
    for (int nr = 0; nr < 400; nr++) {
        char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

        if (name && strcmp(name, "clone3") != 0) {
            p += sprintf(p, "%s{\"action\":\"SCMP_ACT_ALLOW\",\"names\":[\"%s\"],\"args\":[",
                         n++ ? "," : "", name);
            for (int a = 0; a < 3; a++)
                p += sprintf(p, "%s{\"index\":%d,\"value\":%d,\"op\":\"SCMP_CMP_EQ\"}",
                             a ? "," : "", a, nr * 10 + a);
            p += sprintf(p, "]}");
        }
        free(name);
    }
    sprintf(p, "]}");
    CHECK(n > 300);
    EXPECT_FAIL(s, "instructions, more than 4096");
    free(s);
}

/* Optional argv[2]: the fuzz seed corpus.  ok-* and the shipped profiles
 * compile, bad-* are refused with a 400; nothing is a server fault. */
static void test_corpus(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int seen = 0;

    CHECK(d != NULL);
    while (d && (de = readdir(d))) {
        char path[512], buf[POLICY_FILE_MAX];
        struct jc_policy pol;
        struct jc_err e = {0};
        size_t len;
        FILE *f;
        int rc;

        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        f = fopen(path, "rb");
        if (!f)
            continue;
        len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        rc = policy_compile("seed", buf, len, &pol, &e);
        if (rc == 0)
            policy_free(&pol);
        if ((strncmp(de->d_name, "bad-", 4) == 0) != (rc < 0) || (rc < 0 && e.status != 400))
            fprintf(stderr, "corpus %s: rc=%d %s\n", de->d_name, rc, e.msg);
        CHECK((strncmp(de->d_name, "bad-", 4) == 0) == (rc < 0));
        CHECK(rc == 0 || e.status == 400);
        seen++;
    }
    if (d)
        closedir(d);
    CHECK(seen >= 10);
}

/* ---- the directory ------------------------------------------------------ */

static void test_dir_ok(void)
{
    char *d = make_tmpdir();
    struct jc_policy_set set;
    struct jc_err e = {0};

    write_file(d, "default.json", minimal, strlen(minimal));
    write_file(d, "b-2_x.json", minimal, strlen(minimal));
    write_file(d, "README", "not a profile", 13);
    write_file(d, "default.json~", "junk", 4);
    CHECK(policy_load_dir(d, &set, &e) == 0);
    CHECK(set.count == 2);
    CHECK(set.count == 2 && strcmp(set.items[0].name, "b-2_x") == 0);
    CHECK(policy_find(&set, "default") != NULL);
    policy_set_free(&set);
    CHECK(set.count == 0);
    rm_tree(d);
}

static void test_dir_errors(void)
{
    char *d = make_tmpdir(), path[512], big_name[128];

    write_file(d, "strict.json", minimal, strlen(minimal));
    load_expect_fail(d, "no default.json");

    /* The file's path leads the message, then the rule. */
    static const char bad[] = HEAD ALLOW("\"read\"") "," ALLOW("\"fooo\"") TAIL;
    write_file(d, "default.json", bad, strlen(bad));
    snprintf(path, sizeof path, "%s/default.json: rule 1: unknown syscall \"fooo\"", d);
    load_expect_fail(d, path);

    write_file(d, "default.json", minimal, strlen(minimal));
    snprintf(path, sizeof path, "%s/default.json", d);
    snprintf(big_name, sizeof big_name, "%s/link.json", d);
    CHECK(symlink(path, big_name) == 0);
    load_expect_fail(d, "link.json: is a symbolic link; refused");
    unlink(big_name);

    snprintf(big_name, sizeof big_name, "%s/pipe.json", d);
    CHECK(mkfifo(big_name, 0600) == 0);
    load_expect_fail(d, "pipe.json: not a regular file");
    unlink(big_name);

    char *huge = malloc(POLICY_FILE_MAX + 1);
    memset(huge, ' ', POLICY_FILE_MAX + 1);
    write_file(d, "huge.json", huge, POLICY_FILE_MAX + 1);
    free(huge);
    load_expect_fail(d, "huge.json: larger than 1048576 bytes");
    snprintf(big_name, sizeof big_name, "%s/huge.json", d);
    unlink(big_name);

    write_file(d, "my.profile.json", minimal, strlen(minimal));
    load_expect_fail(d, "must match [A-Za-z0-9_-]{1,63}.json");
    snprintf(big_name, sizeof big_name, "%s/my.profile.json", d);
    unlink(big_name);

    memset(big_name, 'a', 64);
    strcpy(big_name + 64, ".json");
    write_file(d, big_name, minimal, strlen(minimal));
    load_expect_fail(d, "must match");
    snprintf(path, sizeof path, "%s/%s", d, big_name);
    unlink(path);

    for (int i = 0; i < POLICY_MAX_FILES; i++) {
        snprintf(big_name, sizeof big_name, "p%02d.json", i);
        write_file(d, big_name, minimal, strlen(minimal));
    }
    load_expect_fail(d, "more than 32 profiles");
    rm_tree(d);
}

static void test_dir_symlink(void)
{
    char *d = make_tmpdir(), link[512];
    struct jc_policy_set set;
    struct jc_err e = {0};

    write_file(d, "default.json", minimal, strlen(minimal));
    snprintf(link, sizeof link, "%s.link", d);
    CHECK(symlink(d, link) == 0);
    CHECK(policy_load_dir(link, &set, &e) < 0); /* O_NOFOLLOW on the directory */
    CHECK(e.errnum == ENOTDIR || e.errnum == ELOOP);
    unlink(link);
    CHECK(policy_load_dir("/nonexistent-jc-dir", &set, &e) < 0 && e.errnum == ENOENT);
    CHECK(e.fault == JC_FAULT_SERVER);
    rm_tree(d);
}

/* ---- behaviour of the compiled programs ------------------------------- */

/* Fork, load `p` like child.c does, run `body`; returns the wait status.
 * body returns 0, or the number of the step that misbehaved. */
static int run_filtered(const struct jc_policy *p, int (*body)(void))
{
    struct sock_fprog prog = {.len = p->bpf_len, .filter = p->bpf};
    int status = -1;
    pid_t pid;

    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
            prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
            _exit(100);
        _exit(body());
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return status;
}

static int fails_with(long rc, int eno)
{
    return rc == -1 && errno == eno;
}

static int body_default(void)
{
    uint8_t params[120] = {0}; /* struct io_uring_params */
    int fd;

    if (!fails_with(unshare(CLONE_NEWUSER), EPERM))
        return 1;
    if (!fails_with(syscall(__NR_io_uring_setup, 4, params), EPERM))
        return 2;
    if (syscall(SYS_getpid) != getpid() || getpid() <= 0)
        return 3;
    if (!fails_with(syscall(__NR_clone3, NULL, 0), ENOSYS))
        return 4;
    if (!fails_with(socket(AF_VSOCK, SOCK_STREAM, 0), EPERM) ||
        !fails_with(socket(AF_NETLINK, SOCK_RAW, 0), EPERM) ||
        !fails_with(socket(AF_PACKET, SOCK_RAW, 0), EPERM))
        return 5;
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        return 6;
    close(fd);
    if (personality(0xffffffff) < 0 || !fails_with(personality(PER_LINUX32), EPERM))
        return 7;
    if (!fails_with(syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, NULL), EPERM) ||
        !fails_with(syscall(SYS_ptrace, 0, 0, 0, 0), EPERM))
        return 8;
    /* fork works, a namespace-creating clone does not. */
    pid_t c = fork();
    if (c == 0)
        _exit(0);
    if (c < 0 || waitpid(c, NULL, 0) != c)
        return 9;
    if (!fails_with(syscall(SYS_clone, CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0), EPERM))
        return 10;
    return 0;
}

static int body_getpid(void)
{
    return syscall(SYS_getpid) > 0 ? 0 : 1;
}

static int body_socket(void)
{
    socket(AF_UNIX, SOCK_STREAM, 0);
    return 42; /* not reached: the filter kills the process */
}

#ifdef __x86_64__
static int body_x32(void)
{
    syscall(0x40000000 | SYS_getpid); /* x32 ABI: not in the profile */
    return 42;
}

static int body_i386(void)
{
    long ret;

    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory"); /* i386 getpid */
    return 42;
}
#endif

static int killed_by_sigsys(int status)
{
    return status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS;
}

static void test_behaviour(const struct jc_policy_set *set)
{
    const struct jc_policy *def = policy_find(set, "default");
    const struct jc_policy *strict = policy_find(set, "strict");
    int st;

    if (!def || !strict)
        return;
    st = run_filtered(def, body_default);
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
        fprintf(stderr, "default profile: child status %#x (step %d)\n", st, WEXITSTATUS(st));
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    st = run_filtered(strict, body_getpid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(killed_by_sigsys(run_filtered(strict, body_socket)));
#ifdef __x86_64__
    CHECK(killed_by_sigsys(run_filtered(def, body_x32)));
    CHECK(killed_by_sigsys(run_filtered(def, body_i386)));
#endif
}

int main(int argc, char **argv)
{
    struct jc_policy_set set;
    struct jc_err e = {0};

    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: %s POLICY_DIR [SEED_CORPUS_DIR]\n", argv[0]);
        return 2;
    }
    policy_dir = argv[1];
    CHECK(policy_load_dir(policy_dir, &set, &e) == 0);
    if (e.msg[0])
        fprintf(stderr, "loading %s: %s\n", policy_dir, e.msg);
    test_shipped(&set);
    test_deterministic();
    test_unknown_syscall();
    test_malformed_json();
    test_depth();
    test_wrong_types();
    test_keys();
    test_values();
    test_bounds();
    test_too_many_insns();
    if (argc == 3)
        test_corpus(argv[2]);
    test_dir_ok();
    test_dir_errors();
    test_dir_symlink();
    test_behaviour(&set);
    policy_set_free(&set);
    return check_summary();
}
