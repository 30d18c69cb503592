/* test_request.c — unit tests for request.c (a POST /api/tasks body → a
 * validated struct jc_spec) with the embedded defaults of config.c.
 *
 * Usage: test_request [SEED_CORPUS_DIR]
 *   SEED_CORPUS_DIR: tests/fuzz/corpus/request; its ok-* files must parse,
 *   its bad-* files must be refused with a 400 (the fuzz seeds as a test).
 *
 * Every body is copied into a heap buffer of exactly its length first, so
 * a read past the end of the body is an ASan error in the sanitizer build. */
#include "request.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "testutil.h"

static struct jc_config cfg;
static struct jc_spec spec;
static struct jc_err err;
static struct jc_input input; /* the last parse's stdin and files bytes */

/* ---- helpers ----------------------------------------------------------- */

static int parse_n(const char *body, size_t len)
{
    char *copy = malloc(len ? len : 1);
    int rc;

    if (!copy)
        abort();
    memcpy(copy, body, len);
    jc_err_clear(&err);
    jc_input_free(&input);
    rc = request_parse(&cfg, NULL, copy, len, &spec, &input, &err);
    free(copy);
    return rc;
}

static int parse(const char *body) { return parse_n(body, strlen(body)); }

/* Refused as a client fault (400) whose message holds `needle`. */
static void expect_400_n(const char *body, size_t len, const char *needle, int line)
{
    int rc = parse_n(body, len);

    if (rc == 0 || err.status != 400 || !strstr(err.msg, needle))
        fprintf(stderr, "line %d: body %.100s: rc=%d status=%d msg=\"%s\" (want \"%s\")\n",
                line, body, rc, err.status, err.msg, needle);
    CHECK(rc < 0 && err.status == 400 && err.fault == JC_FAULT_CLIENT);
    CHECK_STR_CONTAINS(err.msg, needle);
}
#define EXPECT_400(body, needle) expect_400_n((body), strlen(body), (needle), __LINE__)
/* For literals with embedded NUL bytes. */
#define EXPECT_400_LIT(lit, needle) expect_400_n((lit), sizeof(lit) - 1, (needle), __LINE__)

/* Two needles: the field and what is wrong with it. */
#define EXPECT_400_2(body, n1, n2)                       \
    do {                                                 \
        EXPECT_400((body), (n1));                        \
        CHECK_STR_CONTAINS(err.msg, (n2));               \
    } while (0)

static void expect_ok_n(const char *body, size_t len, int line)
{
    int rc = parse_n(body, len);

    if (rc != 0)
        fprintf(stderr, "line %d: body %.100s: unexpected failure: %s\n", line, body, err.msg);
    CHECK(rc == 0);
}
#define EXPECT_OK(body) expect_ok_n((body), strlen(body), __LINE__)

/* The spec's strings as an array: argv[0..argc), then env[0..envc). */
static int spec_strings(const char **out, int max)
{
    int n = 0;

    for (const char *s = spec_next_string(&spec, NULL); s; s = spec_next_string(&spec, s))
        if (n < max)
            out[n++] = s;
        else
            return -1;
    return n;
}

/* argc + envc strings, their NULs adding up to strings_len. */
static void check_packing(void)
{
    const char *s = NULL;
    size_t total = 0;
    unsigned n = 0;

    while ((s = spec_next_string(&spec, s))) {
        total += strlen(s) + 1;
        n++;
    }
    CHECK(n == (unsigned)spec.argc + spec.envc);
    CHECK(total == spec.strings_len);
    CHECK(spec.strings_len <= JC_STRINGS_MAX);
}

static int has_env(const char *kv)
{
    const char *s = NULL;

    for (unsigned i = 0; (s = spec_next_string(&spec, s)); i++)
        if (i >= spec.argc && strcmp(s, kv) == 0)
            return 1;
    return 0;
}

static int limits_equal(const struct jc_limits *a, const struct jc_limits *b)
{
    return a->memory_mb == b->memory_mb && a->pids == b->pids && a->cpus == b->cpus &&
           a->timeout_s == b->timeout_s && a->output_kb == b->output_kb &&
           a->tmpfs_mb == b->tmpfs_mb;
}

/* ---- invalid JSON ------------------------------------------------------ */

/* "Invalid JSON at byte N: reason" with N within the body. */
static void expect_invalid_json_n(const char *body, size_t len, long want_byte, int line)
{
    size_t at = (size_t)-1;

    expect_400_n(body, len, "Invalid JSON", line);
    CHECK(strncmp(err.msg, "Invalid JSON", 12) == 0);
    CHECK(sscanf(err.msg, "Invalid JSON at byte %zu:", &at) == 1);
    CHECK(at <= len);
    if (want_byte >= 0 && at != (size_t)want_byte)
        fprintf(stderr, "line %d: \"%s\": want byte %ld\n", line, err.msg, want_byte);
    CHECK(want_byte < 0 || at == (size_t)want_byte);
}
#define EXPECT_INVALID(body, at) expect_invalid_json_n((body), strlen(body), (at), __LINE__)
#define EXPECT_INVALID_LIT(lit, at) expect_invalid_json_n((lit), sizeof(lit) - 1, (at), __LINE__)

static void test_invalid_json(void)
{
    EXPECT_INVALID("not-json", 1); /* the seed's request 8 */
    EXPECT_INVALID("", 0);
    EXPECT_INVALID("   \n", -1);
    EXPECT_INVALID("{'name':'x'}", -1);
    EXPECT_INVALID("{\"name\":\"x\",}", 12);
    EXPECT_INVALID("{name:\"x\"}", -1);
    EXPECT_INVALID("{\"name\":\"x\" \"duration\":1}", -1);
    EXPECT_INVALID("{\"name\":\"x\",\"duration\":01}", -1);
    /* json-c's strict mode still takes NaN/Infinity and raw control
     * characters in strings; the field checks refuse them instead. */
    EXPECT_400_2("{\"name\":\"x\",\"duration\":NaN}", "'duration'", "must be an integer");
    EXPECT_400("{\"name\":\"x\",\"limits\":{\"cpus\":NaN}}", "'limits.cpus'");
    EXPECT_400("{\"name\":\"x\",\"limits\":{\"cpus\":Infinity}}", "'limits.cpus'");
    EXPECT_400("{\"name\":\"x\",\"limits\":{\"cpus\":-Infinity}}", "'limits.cpus'");
    EXPECT_400_2("{\"name\":\"a\tb\"}", "'name'", "control characters");
    EXPECT_INVALID("{\"name\":\"\xc3\x28\"}", -1); /* invalid UTF-8 */
    EXPECT_INVALID("{\"name\":\"\xff\"}", -1);
    CHECK_STR_CONTAINS(err.msg, "utf-8");
    EXPECT_INVALID("{\"name\":\"x\\q\"}", -1); /* bad escape */

    /* Truncated: the error is at the end of the input. */
    EXPECT_INVALID("{\"name\":", 8);
    CHECK_STR_CONTAINS(err.msg, "end of input");
    EXPECT_INVALID("{\"name\":\"x\"", 11);
    EXPECT_INVALID("{", 1);
    EXPECT_INVALID("{\"name\":\"generate-rep", 21);
    EXPECT_INVALID("[", 1);
    EXPECT_INVALID("tru", 3);

    /* Trailing garbage after a complete value. */
    EXPECT_INVALID("{\"name\":\"x\"} x", 13);
    EXPECT_INVALID("{\"name\":\"x\"}}", 12);
    EXPECT_INVALID("{\"name\":\"x\"}{\"name\":\"y\"}", 12);
    EXPECT_INVALID("{\"name\":\"x\"}\v", 12);
    EXPECT_INVALID_LIT("{\"name\":\"x\"}\0", 12); /* a NUL after the value */
    CHECK_STR_CONTAINS(err.msg, "trailing");
    EXPECT_INVALID_LIT("{\"name\":\"x\",\0\"duration\":2}", -1); /* a NUL inside */
    EXPECT_INVALID("{\"name\":\"x\"} 5", -1);

    /* json-c keeps object keys as C strings: a key with \u0000 would be cut
     * ("name\u0000evil" taken for "name"), so it is refused outright. */
    EXPECT_INVALID("{\"name\\u0000evil\":\"x\"}", 6); /* the backslash */
    CHECK_STR_CONTAINS(err.msg, "NUL");
    EXPECT_INVALID("{\"name\":\"x\",\"limits\":{\"memory_mb\\u0000z\":100}}", -1);
    EXPECT_INVALID("{\"name\":\"x\",\"env\":{\"A\":\"1\",\"A\\u0000B\" : \"2\"}}", -1);
    /* … while "\\u0000" (an escaped backslash) is an ordinary key. */
    EXPECT_400("{\"name\":\"x\",\"env\":{\"A\\\\u0000\":\"1\"}}", "invalid variable name");
    /* A NUL in a value is the field's business. */
    EXPECT_400("{\"name\":\"a\\u0000\"}", "'name'");

    /* Surrounding whitespace is fine. */
    EXPECT_OK("  \r\n\t{\"name\":\"x\"} \t\r\n ");
}

static void test_not_object(void)
{
    static const char *const bodies[] = {"[1]", "[]", "\"s\"", "5", "-1.5", "null", "true",
                                         "[{\"name\":\"x\"}]"};

    for (unsigned i = 0; i < JC_ARRAY_LEN(bodies); i++) {
        EXPECT_400(bodies[i], "must be a JSON object");
        CHECK(strncmp(err.msg, "Invalid JSON", 12) != 0);
    }
}

/* Nesting: 16 levels parse (and then fail on the field's type), 17 do not. */
static void test_depth(void)
{
    for (int depth = 15; depth <= 40; depth++) {
        /* {"name":"x","duration": + (depth-1) arrays } → `depth` levels. */
        char *open = repeat("[", (size_t)depth - 1), *close = repeat("]", (size_t)depth - 1);
        char *body = xasprintf("{\"name\":\"x\",\"duration\":%s%s}", open, close);
        if (depth <= 16) {
            EXPECT_400(body, "Field 'duration' must be an integer");
        } else {
            EXPECT_400(body, "Invalid JSON");
            CHECK_STR_CONTAINS(err.msg, "nesting too deep");
        }
        free(open);
        free(close);
        free(body);
    }
    /* Deep nesting of objects too, and far beyond the cap. */
    char *open = repeat("{\"a\":", 5000), *close = repeat("}", 5000);
    char *body = xasprintf("%s1%s", open, close);
    EXPECT_400(body, "nesting too deep");
    free(open);
    free(close);
    free(body);
}

/* ---- name ---------------------------------------------------------------- */

static void test_name(void)
{
    /* Missing: exactly the seed's message. */
    CHECK(parse("{\"duration\": 5}") < 0); /* the seed's request 7 */
    CHECK(err.status == 400);
    CHECK(strcmp(err.msg, "Field 'name' is required") == 0);
    CHECK(parse("{}") < 0 && strcmp(err.msg, "Field 'name' is required") == 0);

    EXPECT_400_2("{\"name\": \"\", \"duration\": 2}", "'name'", "empty"); /* seed's 9 */
    EXPECT_400_2("{\"name\": \"\"}", "'name'", "empty");

    /* Length: 128 bytes is the maximum. */
    char *n128 = repeat("a", 128), *n129 = repeat("a", 129);
    char *b128 = xasprintf("{\"name\":\"%s\"}", n128), *b129 = xasprintf("{\"name\":\"%s\"}", n129);
    EXPECT_OK(b128);
    CHECK(strcmp(spec.name, n128) == 0);
    EXPECT_400_2(b129, "'name'", "at most 128 bytes");
    free(b128);
    free(b129);
    free(n128);
    free(n129);

    /* Bytes, not characters: 64 × "é" is 128 bytes, one more ASCII is 129. */
    char *e64 = repeat("\xc3\xa9", 64), *emoji32 = repeat("\xf0\x9f\x98\x80", 32);
    char *b = xasprintf("{\"name\":\"%s\"}", e64);
    EXPECT_OK(b);
    CHECK(strlen(spec.name) == 128);
    free(b);
    b = xasprintf("{\"name\":\"%sa\"}", e64);
    EXPECT_400(b, "at most 128 bytes");
    free(b);
    b = xasprintf("{\"name\":\"%s\"}", emoji32);
    EXPECT_OK(b);
    free(b);
    b = xasprintf("{\"name\":\"%sa\"}", emoji32);
    EXPECT_400(b, "'name'");
    free(b);
    free(e64);
    free(emoji32);
    /* Escapes count by the bytes they decode to: 43 × \u00e9 = 86 bytes. */
    char *esc = repeat("\\u00e9", 43);
    b = xasprintf("{\"name\":\"%s\"}", esc);
    EXPECT_OK(b);
    CHECK(strlen(spec.name) == 86);
    free(b);
    free(esc);

    /* Control characters, escaped (raw ones are invalid JSON already). */
    static const char *const ctl[] = {"\\n", "\\u0001", "\\u007f", "\\t", "\\r", "\\u001f",
                                      "\\u0000", "\\b"};
    for (unsigned i = 0; i < JC_ARRAY_LEN(ctl); i++) {
        char *body = xasprintf("{\"name\":\"ab%scd\"}", ctl[i]);
        EXPECT_400_2(body, "'name'", "control characters");
        free(body);
    }

    /* Not a string. */
    EXPECT_400_2("{\"name\": 5}", "'name'", "must be a string");
    EXPECT_400_2("{\"name\": 5.5}", "'name'", "must be a string");
    EXPECT_400_2("{\"name\": []}", "'name'", "must be a string");
    EXPECT_400_2("{\"name\": [\"x\"]}", "'name'", "must be a string");
    EXPECT_400_2("{\"name\": {}}", "'name'", "must be a string");
    EXPECT_400_2("{\"name\": true}", "'name'", "must be a string");
    EXPECT_400_2("{\"name\": null}", "'name'", "must not be null");

    /* What is allowed: spaces, quotes, slashes, non-ASCII. */
    EXPECT_OK("{\"name\":\"a \\\"quoted\\\" name / with \\\\ slashes\"}");
    CHECK(strcmp(spec.name, "a \"quoted\" name / with \\ slashes") == 0);
}

/* ---- duration ------------------------------------------------------------ */

static void test_duration(void)
{
    EXPECT_400_2("{\"name\":\"x\",\"duration\":-1}", "'duration'", "between 0 and 3600");
    EXPECT_400_2("{\"name\":\"x\",\"duration\":3601}", "'duration'", "between 0 and 3600");
    EXPECT_400("{\"name\":\"x\",\"duration\":-9223372036854775808}", "'duration'");
    EXPECT_400("{\"name\":\"x\",\"duration\":99999999999999999999999}", "'duration'");
    EXPECT_400("{\"name\":\"x\",\"duration\":4294967299}", "'duration'"); /* 2^32 + 3 */
    EXPECT_400_2("{\"name\":\"x\",\"duration\":1.5}", "'duration'", "must be an integer");
    EXPECT_400_2("{\"name\":\"x\",\"duration\":1.0}", "'duration'", "must be an integer");
    EXPECT_400_2("{\"name\":\"x\",\"duration\":1e2}", "'duration'", "must be an integer");
    EXPECT_400_2("{\"name\":\"x\",\"duration\":\"5\"}", "'duration'", "must be an integer");
    EXPECT_400_2("{\"name\":\"x\",\"duration\":true}", "'duration'", "must be an integer");
    EXPECT_400_2("{\"name\":\"x\",\"duration\":[5]}", "'duration'", "must be an integer");
    EXPECT_400_2("{\"name\":\"x\",\"duration\":{}}", "'duration'", "must be an integer");
    EXPECT_400_2("{\"name\":\"x\",\"duration\":null}", "'duration'", "must not be null");
    EXPECT_400_2("{\"name\":\"x\",\"duration\":5,\"command\":[\"/bin/true\"]}", "'duration'",
                 "'command'");
    EXPECT_400("{\"name\":\"x\",\"command\":[\"/bin/true\"],\"duration\":0}", "'duration'");

    EXPECT_OK("{\"name\":\"x\",\"duration\":3600}");
    CHECK(spec.duration == 3600);
    EXPECT_OK("{\"name\":\"x\",\"duration\":0}");
    CHECK(spec.duration == 0);
    const char *s[8];
    CHECK(spec_strings(s, 8) == 5 && strcmp(s[2], "0") == 0);
    EXPECT_OK("{\"name\":\"x\",\"duration\":-0}");
    CHECK(spec.duration == 0);

    /* The maximum comes from the configuration. */
    cfg.max_duration_s = 10;
    EXPECT_OK("{\"name\":\"x\",\"duration\":10}");
    EXPECT_400_2("{\"name\":\"x\",\"duration\":11}", "'duration'", "between 0 and 10");
    config_defaults(&cfg);
}

/* ---- command ------------------------------------------------------------- */

static void test_command(void)
{
    EXPECT_400_2("{\"name\":\"x\",\"command\":\"/bin/ls -l\"}", "'command'", "array of strings");
    EXPECT_400_2("{\"name\":\"x\",\"command\":{}}", "'command'", "array of strings");
    EXPECT_400_2("{\"name\":\"x\",\"command\":5}", "'command'", "array of strings");
    EXPECT_400_2("{\"name\":\"x\",\"command\":null}", "'command'", "must not be null");
    EXPECT_400_2("{\"name\":\"x\",\"command\":[]}", "'command'", "1 to 256 items");
    EXPECT_400_2("{\"name\":\"x\",\"command\":[5]}", "'command[0]'", "must be a string");
    EXPECT_400_2("{\"name\":\"x\",\"command\":[null]}", "'command[0]'", "must be a string");
    EXPECT_400_2("{\"name\":\"x\",\"command\":[[\"/bin/ls\"]]}", "'command[0]'", "must be a string");
    EXPECT_400_2("{\"name\":\"x\",\"command\":[\"/bin/ls\",\"-l\",7]}", "'command[2]'",
                 "must be a string");
    EXPECT_400_2("{\"name\":\"x\",\"command\":[\"bin/ls\"]}", "'command[0]'", "absolute path");
    EXPECT_400_2("{\"name\":\"x\",\"command\":[\"ls\"]}", "'command[0]'", "absolute path");
    EXPECT_400_2("{\"name\":\"x\",\"command\":[\"./ls\"]}", "'command[0]'", "absolute path");
    EXPECT_400_2("{\"name\":\"x\",\"command\":[\"\"]}", "'command[0]'", "absolute path");
    EXPECT_400_2("{\"name\":\"x\",\"command\":[\"/bin/ls\\u0000x\"]}", "'command[0]'", "NUL");
    EXPECT_400_2("{\"name\":\"x\",\"command\":[\"/bin/echo\",\"a\\u0000b\"]}", "'command[1]'",
                 "NUL");
    EXPECT_400_2("{\"name\":\"x\",\"command\":[\"/bin/echo\",\"\\u0000\"]}", "'command[1]'", "NUL");

    /* 256 items is the maximum. */
    char *items = repeat(",\"x\"", 255);
    char *b = xasprintf("{\"name\":\"x\",\"command\":[\"/bin/echo\"%s]}", items);
    EXPECT_OK(b);
    CHECK(spec.argc == 256);
    check_packing();
    free(b);
    free(items);
    items = repeat(",\"x\"", 256);
    b = xasprintf("{\"name\":\"x\",\"command\":[\"/bin/echo\"%s]}", items);
    EXPECT_400_2(b, "'command'", "1 to 256 items");
    free(b);
    free(items);
    items = repeat(",\"x\"", 100000);
    b = xasprintf("{\"name\":\"x\",\"command\":[\"/bin/echo\"%s]}", items);
    EXPECT_400(b, "'command'");
    free(b);
    free(items);
}

/* Command and env share JC_STRINGS_MAX bytes, NULs included; the base
 * PATH and HOME count too. */
static void test_strings_cap(void)
{
    const size_t base = sizeof JC_BASE_PATH + sizeof JC_BASE_HOME; /* both NULs included */
    const size_t fit = JC_STRINGS_MAX - base - 1 - 1;              /* "/" + arg's NUL */
    char *arg = repeat("a", fit), *b;

    b = xasprintf("{\"name\":\"x\",\"command\":[\"/%s\"]}", arg);
    EXPECT_OK(b);
    CHECK(spec.strings_len == JC_STRINGS_MAX);
    check_packing();
    free(b);
    b = xasprintf("{\"name\":\"x\",\"command\":[\"/%sa\"]}", arg);
    EXPECT_400_2(b, "'env'", "32768 bytes"); /* the base env no longer fits */
    free(b);
    free(arg);

    /* Eight 5000-byte arguments: the command alone is too big. */
    char *big = repeat("b", 5000), *items = repeat("", 0);
    for (int i = 0; i < 7; i++) {
        char *more = xasprintf("%s,\"%s\"", items, big);
        free(items);
        items = more;
    }
    b = xasprintf("{\"name\":\"x\",\"command\":[\"/bin/echo\"%s,\"%s\"]}", items, big);
    EXPECT_400_2(b, "'command'", "32768 bytes");
    free(b);
    free(items);

    /* 20 KB of command and 20 KB of env: the env overflows. */
    char *big20 = repeat("c", 20000);
    b = xasprintf("{\"name\":\"x\",\"command\":[\"/%s\"],\"env\":{\"V\":\"%s\"}}", big20, big20);
    EXPECT_400_2(b, "'env'", "32768 bytes");
    free(b);
    /* Many env values, each fine, together too much. */
    items = repeat("", 0);
    for (int i = 0; i < 10; i++) {
        char *more = xasprintf("%s%s\"V%d\":\"%s\"", items, i ? "," : "", i, big);
        free(items);
        items = more;
    }
    b = xasprintf("{\"name\":\"x\",\"command\":[\"/bin/env\"],\"env\":{%s}}", items);
    EXPECT_400_2(b, "'env'", "32768 bytes");
    free(b);
    free(items);
    free(big20);
    free(big);
}

/* ---- env ----------------------------------------------------------------- */

static void test_env(void)
{
    EXPECT_400_2("{\"name\":\"x\",\"env\":[]}", "'env'", "must be an object");
    EXPECT_400_2("{\"name\":\"x\",\"env\":\"A=B\"}", "'env'", "must be an object");
    EXPECT_400_2("{\"name\":\"x\",\"env\":[\"A=B\"]}", "'env'", "must be an object");
    EXPECT_400_2("{\"name\":\"x\",\"env\":5}", "'env'", "must be an object");
    EXPECT_400_2("{\"name\":\"x\",\"env\":null}", "'env'", "must not be null");
    EXPECT_400_2("{\"name\":\"x\",\"env\":{\"A\":5}}", "'env.A'", "must be a string");
    EXPECT_400_2("{\"name\":\"x\",\"env\":{\"A\":true}}", "'env.A'", "must be a string");
    EXPECT_400_2("{\"name\":\"x\",\"env\":{\"A\":null}}", "'env.A'", "must be a string");
    EXPECT_400_2("{\"name\":\"x\",\"env\":{\"A\":{}}}", "'env.A'", "must be a string");
    EXPECT_400_2("{\"name\":\"x\",\"env\":{\"A\":\"1\",\"B\":[\"2\"]}}", "'env.B'",
                 "must be a string");
    EXPECT_400_2("{\"name\":\"x\",\"env\":{\"A\":\"x\\u0000y\"}}", "'env.A'", "NUL");

    static const char *const bad_keys[] = {"1A", "A-B", "", "A B", "A=B", "A.B", "\\u00e9",
                                           "9", "A\\nB", "$A"};
    for (unsigned i = 0; i < JC_ARRAY_LEN(bad_keys); i++) {
        char *b = xasprintf("{\"name\":\"x\",\"env\":{\"%s\":\"v\"}}", bad_keys[i]);
        EXPECT_400_2(b, "'env'", "invalid variable name");
        free(b);
    }
    char *k255 = repeat("K", 255), *k256 = repeat("K", 256);
    char *b = xasprintf("{\"name\":\"x\",\"env\":{\"%s\":\"v\"}}", k255);
    EXPECT_OK(b);
    free(b);
    b = xasprintf("{\"name\":\"x\",\"env\":{\"%s\":\"v\"}}", k256);
    EXPECT_400(b, "invalid variable name");
    free(b);
    free(k255);
    free(k256);
    EXPECT_OK("{\"name\":\"x\",\"env\":{\"_\":\"\",\"a1_B2\":\"v=w\",\"lower\":\"\\u00e9\"}}");
    CHECK(has_env("_=") && has_env("a1_B2=v=w") && has_env("lower=\xc3\xa9"));

    /* 126 entries (the base PATH and HOME make 128), 127 refused. */
    char *items = repeat("", 0);
    for (int i = 0; i < 127; i++) {
        char *more = xasprintf("%s%s\"V%d\":\"%d\"", items, i ? "," : "", i, i);
        free(items);
        items = more;
        if (i == 125) {
            b = xasprintf("{\"name\":\"x\",\"env\":{%s}}", items);
            EXPECT_OK(b);
            CHECK(spec.envc == 128);
            CHECK(has_env("V125=125") && has_env(JC_BASE_PATH) && has_env(JC_BASE_HOME));
            check_packing();
            free(b);
        }
    }
    b = xasprintf("{\"name\":\"x\",\"env\":{%s}}", items);
    EXPECT_400_2(b, "'env'", "at most 126 entries");
    free(b);
    free(items);
}

/* ---- limits -------------------------------------------------------------- */

struct limit_case {
    const char *key;
    const char *above, *max_text; /* a value above the maximum, the maximum as printed */
    const char *below;            /* a value below the minimum */
    const char *at_max;
};

static void test_limits(void)
{
    static const struct limit_case cases[] = {
        {"memory_mb", "4097", "4096", "3", "4096"},
        {"pids", "1025", "1024", "1", "1024"},
        {"cpus", "2.5", "2", "0.001", "2"},
        {"timeout_s", "86401", "86400", "0", "86400"},
        {"output_kb", "65537", "65536", "0", "65536"},
        {"tmpfs_mb", "1025", "1024", "0", "1024"},
    };

    EXPECT_400_2("{\"name\":\"x\",\"limits\":[]}", "'limits'", "must be an object");
    EXPECT_400_2("{\"name\":\"x\",\"limits\":5}", "'limits'", "must be an object");
    EXPECT_400_2("{\"name\":\"x\",\"limits\":null}", "'limits'", "must not be null");
    EXPECT_400_2("{\"name\":\"x\",\"limits\":{\"foo\":1}}", "'limits.foo'", "Unknown field");
    EXPECT_400("{\"name\":\"x\",\"limits\":{\"memory_mb\":64,\"Memory_mb\":64}}", "'limits.Memory_mb'");
    EXPECT_400("{\"name\":\"x\",\"limits\":{\"memory\":64}}", "'limits.memory'");

    for (unsigned i = 0; i < JC_ARRAY_LEN(cases); i++) {
        const struct limit_case *c = &cases[i];
        char field[64], *b;

        snprintf(field, sizeof field, "'limits.%s'", c->key);
        b = xasprintf("{\"name\":\"x\",\"limits\":{\"%s\":%s}}", c->key, c->above);
        EXPECT_400_2(b, field, c->max_text); /* names the field and the maximum */
        free(b);
        b = xasprintf("{\"name\":\"x\",\"limits\":{\"%s\":%s}}", c->key, c->below);
        EXPECT_400_2(b, field, "between");
        free(b);
        b = xasprintf("{\"name\":\"x\",\"limits\":{\"%s\":-1}}", c->key);
        EXPECT_400(b, field);
        free(b);
        b = xasprintf("{\"name\":\"x\",\"limits\":{\"%s\":\"%s\"}}", c->key, c->at_max);
        EXPECT_400_2(b, field, "must be");
        free(b);
        b = xasprintf("{\"name\":\"x\",\"limits\":{\"%s\":true}}", c->key);
        EXPECT_400(b, field);
        free(b);
        b = xasprintf("{\"name\":\"x\",\"limits\":{\"%s\":null}}", c->key);
        EXPECT_400(b, field);
        free(b);
        b = xasprintf("{\"name\":\"x\",\"limits\":{\"%s\":[1]}}", c->key);
        EXPECT_400(b, field);
        free(b);
        b = xasprintf("{\"name\":\"x\",\"limits\":{\"%s\":%s}}", c->key, c->at_max);
        EXPECT_OK(b);
        free(b);
    }
    /* Integer limits refuse fractions; cpus takes them. */
    EXPECT_400_2("{\"name\":\"x\",\"limits\":{\"memory_mb\":100.5}}", "'limits.memory_mb'",
                 "must be an integer");
    EXPECT_400("{\"name\":\"x\",\"limits\":{\"cpus\":0}}", "'limits.cpus'");
    EXPECT_400("{\"name\":\"x\",\"limits\":{\"cpus\":1e400}}", "'limits.cpus'");
    EXPECT_OK("{\"name\":\"x\",\"limits\":{\"cpus\":0.2}}");
    CHECK(spec.limits.cpus == 0.2);
    CHECK(spec.limits.memory_mb == cfg.def.memory_mb); /* the rest stay default */
    EXPECT_OK("{\"name\":\"x\",\"limits\":{\"cpus\":1}}");
    CHECK(spec.limits.cpus == 1.0);
    EXPECT_OK("{\"name\":\"x\",\"limits\":{\"cpus\":0.01}}");
    EXPECT_OK("{\"name\":\"x\",\"limits\":{}}");
    CHECK(limits_equal(&spec.limits, &cfg.def));

    EXPECT_OK("{\"name\":\"x\",\"limits\":{\"memory_mb\":4,\"pids\":2,\"timeout_s\":1,"
              "\"output_kb\":1,\"tmpfs_mb\":1,\"cpus\":1.5}}");
    struct jc_limits want = {4, 2, 1.5, 1, 1, 1};
    CHECK(limits_equal(&spec.limits, &want));

    /* The maxima come from the configuration. */
    cfg.max.memory_mb = 512;
    EXPECT_400_2("{\"name\":\"x\",\"limits\":{\"memory_mb\":513}}", "'limits.memory_mb'", "512");
    config_defaults(&cfg);
}

/* A limit whose cgroup controller is missing is refused when asked for. */
static void test_missing_controllers(void)
{
    static const char *const keys[] = {"memory_mb", "pids", "cpus"};
    static const char *const values[] = {"100", "10", "0.5"};

    for (unsigned bit = 0; bit < 3; bit++) {
        cfg.missing_limits = 1u << bit;
        for (unsigned k = 0; k < 3; k++) {
            char *b = xasprintf("{\"name\":\"x\",\"limits\":{\"%s\":%s}}", keys[k], values[k]);
            if (k == bit) {
                char field[64];
                snprintf(field, sizeof field, "'limits.%s'", keys[k]);
                EXPECT_400_2(b, field, "controller");
            } else {
                EXPECT_OK(b);
            }
            free(b);
        }
        /* Not asking is fine: the default is not a request. */
        EXPECT_OK("{\"name\":\"x\"}");
        EXPECT_OK("{\"name\":\"x\",\"limits\":{\"timeout_s\":5}}");
    }
    cfg.missing_limits = 7;
    EXPECT_400_2("{\"name\":\"x\",\"limits\":{\"memory_mb\":100}}", "'limits.memory_mb'",
                 "cgroup controller it needs is not available");
    config_defaults(&cfg);
}

/* ---- policy, unknown and null fields ------------------------------------- */

static void test_policy_field(void)
{
    EXPECT_OK("{\"name\":\"x\",\"policy\":\"default\"}");
    CHECK(strcmp(spec.policy, "default") == 0);
    EXPECT_400_2("{\"name\":\"x\",\"policy\":\"strict\"}", "'policy'", "\"strict\"");
    EXPECT_400_2("{\"name\":\"x\",\"policy\":\"nope\"}", "'policy'", "no seccomp profile");
    EXPECT_400_2("{\"name\":\"x\",\"policy\":\"../default\"}", "'policy'", "no seccomp profile");
    EXPECT_400_2("{\"name\":\"x\",\"policy\":\"\"}", "'policy'", "no seccomp profile");
    EXPECT_400_2("{\"name\":\"x\",\"policy\":5}", "'policy'", "must be a string");
    EXPECT_400_2("{\"name\":\"x\",\"policy\":null}", "'policy'", "must not be null");
    char *longp = repeat("p", 1000), *b = xasprintf("{\"name\":\"x\",\"policy\":\"%s\"}", longp);
    EXPECT_400(b, "'policy'");
    CHECK(strlen(err.msg) < 200); /* the name is cut in the message */
    free(b);
    free(longp);
}

static void test_unknown_fields(void)
{
    EXPECT_400_2("{\"name\":\"x\",\"foo\":1}", "Unknown field", "'foo'");
    EXPECT_400_2("{\"foo\":1,\"name\":\"x\"}", "Unknown field", "'foo'");
    EXPECT_400("{\"Name\":\"x\"}", "'Name'");
    EXPECT_400("{\"name\":\"x\",\"args\":[]}", "'args'");
    EXPECT_400("{\"name\":\"x\",\"id\":\"00000000-0000-0000-0000-000000000000\"}", "'id'");
    EXPECT_400("{\"name\":\"x\",\"\":1}", "''");
    char *k = repeat("k", 500), *b = xasprintf("{\"name\":\"x\",\"%s\":1}", k);
    EXPECT_400(b, "Unknown field");
    CHECK(strlen(err.msg) < 200); /* the key is cut in the message */
    free(b);
    free(k);
}

/* ---- success ------------------------------------------------------------- */

static void test_defaults(void)
{
    const char *s[16];

    EXPECT_OK("{\"name\": \"generate-report\"}"); /* the seed's request 1 */
    CHECK(spec.id[0] == 0);
    CHECK(strcmp(spec.name, "generate-report") == 0);
    CHECK(spec.duration == 3);
    CHECK(!spec.is_command);
    CHECK(limits_equal(&spec.limits, &cfg.def));
    CHECK(strcmp(spec.policy, "default") == 0);
    CHECK(spec.argc == 3 && spec.envc == 2);
    CHECK(spec_strings(s, 16) == 5);
    CHECK(strcmp(s[0], JC_WORKER_PATH) == 0 && strcmp(s[0], "/usr/bin/jobcell-worker") == 0);
    CHECK(strcmp(s[1], "generate-report") == 0);
    CHECK(strcmp(s[2], "3") == 0);
    CHECK(strncmp(s[3], "PATH=", 5) == 0 && strcmp(s[3], JC_BASE_PATH) == 0);
    CHECK(strcmp(s[4], "HOME=/tmp") == 0);
    check_packing();

    /* The seed's requests 2–6. */
    static const struct { const char *body, *name; unsigned dur; } seed[] = {
        {"{\"name\": \"process-dataset\", \"duration\": 10}", "process-dataset", 10},
        {"{\"name\": \"send-notification\", \"duration\": 1}", "send-notification", 1},
        {"{\"name\": \"worker-alpha\", \"duration\": 5}", "worker-alpha", 5},
        {"{\"name\": \"worker-beta\", \"duration\": 3}", "worker-beta", 3},
        {"{\"name\": \"worker-gamma\", \"duration\": 7}", "worker-gamma", 7},
    };
    for (unsigned i = 0; i < JC_ARRAY_LEN(seed); i++) {
        char dur[16];
        EXPECT_OK(seed[i].body);
        snprintf(dur, sizeof dur, "%u", seed[i].dur);
        CHECK(strcmp(spec.name, seed[i].name) == 0 && spec.duration == seed[i].dur);
        CHECK(spec_strings(s, 16) == 5 && strcmp(s[1], seed[i].name) == 0 &&
              strcmp(s[2], dur) == 0);
    }
    /* Key order does not matter. */
    EXPECT_OK("{\"duration\": 10, \"name\": \"process-dataset\"}");
    CHECK(spec.duration == 10);

    /* A reused spec is fully reset (no leftovers from a bigger request). */
    EXPECT_OK("{\"name\":\"x\",\"command\":[\"/bin/echo\",\"a\",\"b\",\"c\"],\"env\":{\"A\":\"1\"}}");
    EXPECT_OK("{\"name\":\"y\"}");
    CHECK(!spec.is_command && spec.argc == 3 && spec.envc == 2 && spec.duration == 3);
    check_packing();
}

static void test_command_env(void)
{
    const char *s[16];

    EXPECT_OK("{\"name\":\"build\",\"command\":[\"/bin/sh\",\"-c\",\"echo $FOO\",\"\"],"
              "\"env\":{\"FOO\":\"bar baz\",\"EMPTY\":\"\",\"EQ\":\"a=b\"}}");
    CHECK(spec.is_command);
    CHECK(spec.argc == 4 && spec.envc == 5);
    CHECK(spec_strings(s, 16) == 9);
    /* argv first, in order … */
    CHECK(strcmp(s[0], "/bin/sh") == 0 && strcmp(s[1], "-c") == 0 &&
          strcmp(s[2], "echo $FOO") == 0 && strcmp(s[3], "") == 0);
    /* … then env in the request's order, then the base PATH and HOME. */
    CHECK(strcmp(s[4], "FOO=bar baz") == 0 && strcmp(s[5], "EMPTY=") == 0 &&
          strcmp(s[6], "EQ=a=b") == 0);
    CHECK(strcmp(s[7], JC_BASE_PATH) == 0 && strcmp(s[8], JC_BASE_HOME) == 0);
    check_packing();

    /* PATH given: no base PATH; HOME still added. */
    EXPECT_OK("{\"name\":\"x\",\"command\":[\"/bin/env\"],\"env\":{\"PATH\":\"/opt/bin\"}}");
    CHECK(spec.argc == 1 && spec.envc == 2);
    CHECK(has_env("PATH=/opt/bin") && !has_env(JC_BASE_PATH) && has_env(JC_BASE_HOME));
    /* Both given, and an empty PATH is still the client's PATH. */
    EXPECT_OK("{\"name\":\"x\",\"command\":[\"/bin/env\"],\"env\":{\"HOME\":\"/w\",\"PATH\":\"\"}}");
    CHECK(spec.envc == 2 && has_env("PATH=") && has_env("HOME=/w") && !has_env(JC_BASE_PATH));
    CHECK(spec_strings(s, 16) == 3 && strcmp(s[1], "HOME=/w") == 0 && strcmp(s[2], "PATH=") == 0);
    /* Case matters: "path" is another variable. */
    EXPECT_OK("{\"name\":\"x\",\"command\":[\"/bin/env\"],\"env\":{\"path\":\"/x\"}}");
    CHECK(spec.envc == 3 && has_env("path=/x") && has_env(JC_BASE_PATH));
    /* env with the built-in worker: argv is the worker's. */
    EXPECT_OK("{\"name\":\"w\",\"env\":{\"A\":\"1\"}}");
    CHECK(spec_strings(s, 16) == 6 && strcmp(s[0], JC_WORKER_PATH) == 0 && strcmp(s[3], "A=1") == 0);
    /* Arguments are bytes: UTF-8 passes through. */
    EXPECT_OK("{\"name\":\"x\",\"command\":[\"/bin/echo\",\"\\u00e9\\ud83d\\ude00\"]}");
    CHECK(spec_strings(s, 16) == 4 && strcmp(s[1], "\xc3\xa9\xf0\x9f\x98\x80") == 0);
}

static void test_utf8_names(void)
{
    const char *s[8];

    EXPECT_OK("{\"name\":\"caf\xc3\xa9\"}"); /* raw é */
    CHECK(strcmp(spec.name, "caf\xc3\xa9") == 0);
    EXPECT_OK("{\"name\":\"caf\\u00e9\"}"); /* escaped é */
    CHECK(strcmp(spec.name, "caf\xc3\xa9") == 0);
    EXPECT_OK("{\"name\":\"\xf0\x9f\x9a\x80 launch\"}"); /* raw 🚀 */
    CHECK(strcmp(spec.name, "\xf0\x9f\x9a\x80 launch") == 0);
    EXPECT_OK("{\"name\":\"\\ud83d\\ude80 launch\"}"); /* the same as a surrogate pair */
    CHECK(strcmp(spec.name, "\xf0\x9f\x9a\x80 launch") == 0);
    CHECK(spec_strings(s, 8) == 5 && strcmp(s[1], spec.name) == 0);
    EXPECT_OK("{\"name\":\"\xe6\x97\xa5\xe6\x9c\xac\"}"); /* 日本 */
}

/* ---- the fuzz seed corpus ------------------------------------------------ */

/* ---- stdin and files ---------------------------------------------------- */

/* A body of `prefix` + n copies of `fill` + `suffix` (heap; caller frees). */
static char *body_with(const char *prefix, char fill, size_t n, const char *suffix)
{
    size_t a = strlen(prefix), c = strlen(suffix);
    char *b = malloc(a + n + c + 1);

    if (!b)
        abort();
    memcpy(b, prefix, a);
    memset(b + a, fill, n);
    memcpy(b + a + n, suffix, c + 1);
    return b;
}

#define CMD "\"name\":\"x\",\"command\":[\"/bin/cat\"]"

static void test_stdin(void)
{
    EXPECT_OK("{" CMD "}");
    CHECK(!spec.has_stdin && spec.stdin_len == 0 && !input.stdin_data);
    EXPECT_OK("{" CMD ",\"stdin\":\"hello\\nworld\"}");
    CHECK(spec.has_stdin && spec.stdin_len == 11 && memcmp(input.stdin_data, "hello\nworld", 11) == 0);
    EXPECT_OK("{" CMD ",\"stdin\":\"\"}"); /* empty, but given: fd 0 is an empty file */
    CHECK(spec.has_stdin && spec.stdin_len == 0 && input.stdin_data);
    EXPECT_OK("{" CMD ",\"stdin\":\"a\\u0000b\"}"); /* NUL is fine in stdin */
    CHECK(spec.stdin_len == 3 && memcmp(input.stdin_data, "a\0b", 3) == 0);
    EXPECT_OK("{" CMD ",\"stdin\":{\"base64\":\"AAEC/w==\"}}");
    CHECK(spec.stdin_len == 4 && memcmp(input.stdin_data, "\0\1\2\377", 4) == 0);
    EXPECT_OK("{" CMD ",\"stdin\":{\"base64\":\"aGk=\"}}");
    CHECK(spec.stdin_len == 2 && memcmp(input.stdin_data, "hi", 2) == 0);
    EXPECT_OK("{" CMD ",\"stdin\":{\"base64\":\"\"}}");
    CHECK(spec.has_stdin && spec.stdin_len == 0);
    EXPECT_OK("{\"name\":\"w\",\"stdin\":\"for the worker\"}");
    EXPECT_400_2("{" CMD ",\"stdin\":5}", "'stdin'", "base64");
    EXPECT_400_2("{" CMD ",\"stdin\":[\"a\"]}", "'stdin'", "string");
    EXPECT_400("{" CMD ",\"stdin\":{}}", "'stdin'");
    EXPECT_400("{" CMD ",\"stdin\":{\"base64\":\"aGk=\",\"x\":1}}", "'stdin'");
    EXPECT_400("{" CMD ",\"stdin\":{\"text\":\"aGk=\"}}", "'stdin'");
    EXPECT_400_2("{" CMD ",\"stdin\":{\"base64\":5}}", "'stdin.base64'", "string");
    EXPECT_400_2("{" CMD ",\"stdin\":{\"base64\":\"aGk\"}}", "'stdin.base64'", "padded");
    EXPECT_400_2("{" CMD ",\"stdin\":{\"base64\":\"a*k=\"}}", "'stdin.base64'", "not valid");
    EXPECT_400("{" CMD ",\"stdin\":{\"base64\":\"a=k=\"}}", "'stdin.base64'");
    EXPECT_400("{" CMD ",\"stdin\":{\"base64\":\"aGk=aGk=\"}}", "'stdin.base64'");
    EXPECT_400("{" CMD ",\"stdin\":{\"base64\":\"aG k=\"}}", "'stdin.base64'");
    EXPECT_400("{" CMD ",\"stdin\":null}", "'stdin'");
    CHECK(!input.stdin_data); /* nothing is kept from a refused request */
}

/* The bound, exactly and one past it, as text and as base64. */
static void test_stdin_bound(void)
{
    char *b = body_with("{" CMD ",\"stdin\":\"", 'a', JC_STDIN_MAX, "\"}");

    CHECK(parse(b) == 0 && spec.stdin_len == JC_STDIN_MAX);
    free(b);
    b = body_with("{" CMD ",\"stdin\":\"", 'a', JC_STDIN_MAX + 1, "\"}");
    CHECK(parse(b) < 0 && err.status == 413 && err.fault == JC_FAULT_CLIENT);
    CHECK_STR_CONTAINS(err.msg, "'stdin'");
    CHECK(!input.stdin_data);
    free(b);
    /* 4 base64 digits per 3 bytes: JC_STDIN_MAX is not a multiple of 3,
     * so take the largest multiple at or below it, then 3 bytes more. */
    size_t ok3 = JC_STDIN_MAX / 3 * 3;
    b = body_with("{" CMD ",\"stdin\":{\"base64\":\"", 'A', ok3 / 3 * 4, "\"}}");
    CHECK(parse(b) == 0 && spec.stdin_len == ok3);
    free(b);
    b = body_with("{" CMD ",\"stdin\":{\"base64\":\"", 'A', ok3 / 3 * 4 + 4, "\"}}");
    CHECK(parse(b) < 0 && err.status == 413);
    CHECK_STR_CONTAINS(err.msg, "'stdin'");
    free(b);
}

static void test_files(void)
{
    EXPECT_OK("{" CMD ",\"files\":{\"a.txt\":\"A\\n\",\"b.bin\":{\"base64\":\"AAEC\"},\"empty\":\"\"}}");
    CHECK(spec.nfiles == 3);
    CHECK(strcmp(spec.files[0].name, "a.txt") == 0 && spec.files[0].size == 2);
    CHECK(strcmp(spec.files[1].name, "b.bin") == 0 && spec.files[1].size == 3);
    CHECK(strcmp(spec.files[2].name, "empty") == 0 && spec.files[2].size == 0);
    CHECK(jc_files_bytes(&spec) == 5 && memcmp(input.files_data, "A\n\0\1\2", 5) == 0);
    EXPECT_OK("{" CMD ",\"files\":{}}");
    CHECK(spec.nfiles == 0 && !input.files_data);
    EXPECT_OK("{" CMD ",\"files\":{\"...\":\"x\",\".hidden\":\"x\",\"A-Z_0.9\":\"x\"}}");
    static const char *const bad[] = {
        "a/b", "..", ".", "", "/etc", "a b", "\\u00fc", "x\\ny", "a\\\\b", "*",
        "0123456789012345678901234567890123456789012345678901234567890123X",
    };
    for (unsigned i = 0; i < JC_ARRAY_LEN(bad); i++) {
        char body[256];
        snprintf(body, sizeof body, "{" CMD ",\"files\":{\"%s\":\"x\"}}", bad[i]);
        EXPECT_400_2(body, "'files'", "name");
    }
    EXPECT_OK("{" CMD ",\"files\":{\"0123456789012345678901234567890123456789012345678901234567890123\":\"x\"}}");
    EXPECT_400_2("{" CMD ",\"files\":[\"a\"]}", "'files'", "object");
    EXPECT_400_2("{" CMD ",\"files\":{\"a\":5}}", "'files.a'", "string");
    EXPECT_400("{" CMD ",\"files\":{\"a\":{\"base64\":\"!!!!\"}}}", "'files.a.base64'");
    CHECK(!input.files_data);
}

static void test_files_bounds(void)
{
    char body[2048] = "{" CMD ",\"files\":{";

    for (int i = 0; i <= JC_FILES_MAX; i++) /* one too many */
        snprintf(body + strlen(body), sizeof body - strlen(body), "%s\"f%d\":\"x\"", i ? "," : "", i);
    strcat(body, "}}");
    EXPECT_400_2(body, "'files'", "at most 16");
    char *b = body_with("{" CMD ",\"files\":{\"a\":\"", 'a', JC_FILES_BYTES_MAX, "\"}}");
    CHECK(parse(b) == 0 && spec.files[0].size == JC_FILES_BYTES_MAX);
    free(b);
    b = body_with("{" CMD ",\"files\":{\"a\":\"x\",\"b\":\"", 'a', JC_FILES_BYTES_MAX, "\"}}");
    CHECK(parse(b) < 0 && err.status == 413);
    CHECK_STR_CONTAINS(err.msg, "'files'");
    CHECK_STR_CONTAINS(err.msg, "in total");
    CHECK(!input.files_data);
    free(b);
    /* At the smallest tmpfs (1 MiB) the most files can hold still fit:
     * 16 files of 65536 bytes take its 256 pages exactly. */
    char *big = body_with("", 'a', 65536, "");
    strcpy(body, "{" CMD ",\"limits\":{\"tmpfs_mb\":1},\"files\":{");
    size_t cap = strlen(body) + JC_FILES_MAX * (65536 + 16) + 8, n;
    char *many = malloc(cap);
    if (!many)
        abort();
    n = (size_t)snprintf(many, cap, "%s", body);
    for (int i = 0; i < JC_FILES_MAX; i++)
        n += (size_t)snprintf(many + n, cap - n, "%s\"f%d\":\"%s\"", i ? "," : "", i, big);
    snprintf(many + n, cap - n, "}}");
    CHECK(parse(many) == 0 && spec.nfiles == JC_FILES_MAX && jc_files_bytes(&spec) == JC_FILES_BYTES_MAX);
    free(many);
    free(big);
}

/* Callers that pass no jc_input refuse the fields rather than drop them. */
static void test_input_needs_a_home(void)
{
    CHECK(request_parse(&cfg, NULL, "{" CMD ",\"stdin\":\"x\"}", strlen("{" CMD ",\"stdin\":\"x\"}"),
                        &spec, NULL, &err) < 0);
    CHECK(err.status == 400);
    CHECK_STR_CONTAINS(err.msg, "'stdin'");
}

static void test_corpus(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int seen = 0;

    CHECK(d != NULL);
    while (d && (de = readdir(d))) {
        size_t len = 0;
        char *body;
        int rc, bad = strncmp(de->d_name, "bad-", 4) == 0;

        if (de->d_name[0] == '.' || !(body = read_file_at(dirfd(d), de->d_name, &len)))
            continue;
        rc = parse_n(body, len);
        if (bad != (rc < 0) || (rc < 0 && err.status != 400))
            fprintf(stderr, "corpus %s: rc=%d %s\n", de->d_name, rc, rc < 0 ? err.msg : "");
        CHECK(bad == (rc < 0));
        CHECK(rc == 0 || (err.status == 400 && err.msg[0]));
        free(body);
        seen++;
    }
    if (d)
        closedir(d);
    CHECK(seen >= 20);
}

int main(int argc, char **argv)
{
    config_defaults(&cfg);
    test_invalid_json();
    test_not_object();
    test_depth();
    test_name();
    test_duration();
    test_command();
    test_strings_cap();
    test_env();
    test_limits();
    test_missing_controllers();
    test_policy_field();
    test_unknown_fields();
    test_defaults();
    test_command_env();
    test_utf8_names();
    test_stdin();
    test_stdin_bound();
    test_files();
    test_files_bounds();
    test_input_needs_a_home();
    jc_input_free(&input);
    if (argc > 1)
        test_corpus(argv[1]);
    return check_summary();
}
