/* jsonutil.c — see jsonutil.h.  Runs in: main() and the front's HTTP
 * threads; pure functions. */
#include "jsonutil.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <sys/types.h>
#include <string.h>

/* Feed buf; at its end, one whitespace byte tells the tokener the input is
 * over, which completes a bare top-level number or literal ("42", "true"). */
static json_object *tokenize(json_tokener *tok, const char *buf, size_t len, size_t *end)
{
    json_object *o = json_tokener_parse_ex(tok, buf, (int)len);

    *end = json_tokener_get_parse_end(tok);
    if (json_tokener_get_error(tok) == json_tokener_continue) {
        o = json_tokener_parse_ex(tok, " ", 1);
        *end = len; /* everything was consumed by the first call */
    }
    return o;
}

/* Index just past the string that contains position i (its closing quote). */
static size_t string_end(const char *buf, size_t len, size_t i)
{
    size_t slashes = 0;

    for (; i < len; i++) {
        if (buf[i] == '"' && slashes % 2 == 0)
            return i + 1;
        slashes = buf[i] == '\\' ? slashes + 1 : 0;
    }
    return len;
}

/* Offset of a "\u0000" escape inside an object key, or -1.  json-c keeps
 * keys as C strings, so such a key would be silently cut ("name\u0000x"
 * becomes "name").  In values the field checks name the field instead.  A
 * string followed by ':' is a key in any valid JSON text. */
static ssize_t nul_in_key(const char *buf, size_t len)
{
    size_t slashes = 0;

    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\\') {
            slashes++;
            continue;
        }
        if (buf[i] == 'u' && slashes % 2 == 1 && i + 4 < len && strncmp(buf + i + 1, "0000", 4) == 0) {
            size_t end = string_end(buf, len, i + 5), j = end;
            while (j < len && strchr(" \t\r\n", buf[j]))
                j++;
            if (j < len && buf[j] == ':')
                return (ssize_t)i - 1;
            i = end - 1; /* this string is checked: go on after it (linear) */
        }
        slashes = 0;
    }
    return -1;
}

int ju_parse(const char *buf, size_t len, int max_depth, json_object **out, struct jc_err *err)
{
    ssize_t nul = nul_in_key(buf, len);

    if (nul >= 0)
        return jc_client(err, 400, "Invalid JSON at byte %zd: \\u0000 (NUL) in an object key", nul);
    json_tokener *tok = json_tokener_new_ex(max_depth);
    json_object *o;
    enum json_tokener_error te;
    size_t off;

    if (!tok)
        return jc_fail(err, 0, "out of memory creating a JSON parser");
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    o = tokenize(tok, buf, len, &off);
    te = json_tokener_get_error(tok);
    json_tokener_free(tok);
    if (te == json_tokener_continue)
        return jc_client(err, 400, "Invalid JSON at byte %zu: unexpected end of input", len);
    if (te != json_tokener_success) {
        json_object_put(o);
        return jc_client(err, 400, "Invalid JSON at byte %zu: %s", off < len ? off : len,
                         json_tokener_error_desc(te));
    }
    for (; off < len; off++) /* only whitespace may follow the value */
        if (!strchr(" \t\r\n", buf[off]) || buf[off] == 0) {
            json_object_put(o);
            return jc_client(err, 400, "Invalid JSON at byte %zu: trailing characters", off);
        }
    *out = o;
    return 0;
}

int ju_u32(json_object *v, const char *what, uint32_t min, uint32_t max, uint32_t *out,
           struct jc_err *err)
{
    int64_t n;

    if (!json_object_is_type(v, json_type_int))
        return jc_client(err, 400, "Field '%s' must be an integer", what);
    errno = 0;
    n = json_object_get_int64(v);
    if (errno == EINVAL || n < (int64_t)min || n > (int64_t)max)
        return jc_client(err, 400, "Field '%s' must be between %u and %u", what, min, max);
    *out = (uint32_t)n;
    return 0;
}

int ju_double(json_object *v, const char *what, double min, double max, double *out,
              struct jc_err *err)
{
    double d;

    if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
        return jc_client(err, 400, "Field '%s' must be a number", what);
    d = json_object_get_double(v);
    if (!isfinite(d) || d < min || d > max)
        return jc_client(err, 400, "Field '%s' must be between %g and %g", what, min, max);
    *out = d;
    return 0;
}

const char *ju_string(json_object *v, const char *what, struct jc_err *err)
{
    if (!json_object_is_type(v, json_type_string)) {
        jc_client(err, 400, "Field '%s' must be a string", what);
        return NULL;
    }
    return json_object_get_string(v);
}

int ju_object(json_object *v, const char *what, struct jc_err *err)
{
    if (!json_object_is_type(v, json_type_object))
        return jc_client(err, 400, "Field '%s' must be an object", what);
    return 0;
}

/* 0..63 for a base64 digit, -1 otherwise. */
static int b64_digit(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Decode n (a multiple of 4) base64 characters into out; returns the byte
 * count or -1.  '=' may only pad the last quantum. */
static ssize_t b64_decode(const char *in, size_t n, unsigned char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i += 4) {
        size_t pad = i + 4 == n ? (in[i + 3] == '=') + (in[i + 2] == '=' && in[i + 3] == '=') : 0;
        uint32_t q = 0;
        for (size_t j = 0; j < 4 - pad; j++) {
            int d = b64_digit((unsigned char)in[i + j]);
            if (d < 0)
                return -1;
            q = q << 6 | (uint32_t)d;
        }
        q <<= 6 * pad;
        for (size_t j = 0; j < 3 - pad; j++)
            out[o++] = (unsigned char)(q >> (16 - 8 * j));
    }
    return (ssize_t)o;
}

static int bytes_base64(json_object *v, const char *what, size_t max, unsigned char **out,
                        size_t *len, struct jc_err *err)
{
    json_object *b = NULL;
    const char *text;
    size_t n;
    ssize_t got;

    if (json_object_object_length(v) != 1 || !json_object_object_get_ex(v, "base64", &b))
        return jc_client(err, 400, "Field '%s' must be a string or {\"base64\": \"...\"}", what);
    if (!json_object_is_type(b, json_type_string))
        return jc_client(err, 400, "Field '%s.base64' must be a string", what);
    text = json_object_get_string(b);
    n = (size_t)json_object_get_string_len(b);
    if (n % 4 != 0)
        return jc_client(err, 400, "Field '%s.base64' is not padded base64 (length %zu)", what, n);
    if (n / 4 * 3 > max + 2)
        return jc_client(err, 413, "Field '%s' exceeds %zu bytes", what, max);
    if (!(*out = malloc(n / 4 * 3 + 1)))
        return jc_fail(err, ENOMEM, "decoding '%s'", what);
    if ((got = b64_decode(text, n, *out)) < 0 || (size_t)got > max) {
        free(*out);
        *out = NULL;
        return got < 0 ? jc_client(err, 400, "Field '%s.base64' is not valid base64", what)
                       : jc_client(err, 413, "Field '%s' exceeds %zu bytes", what, max);
    }
    *len = (size_t)got;
    return 0;
}

int ju_bytes(json_object *v, const char *what, size_t max, unsigned char **out, size_t *len,
             struct jc_err *err)
{
    size_t n;

    if (json_object_is_type(v, json_type_object))
        return bytes_base64(v, what, max, out, len, err);
    if (!json_object_is_type(v, json_type_string))
        return jc_client(err, 400, "Field '%s' must be a string or {\"base64\": \"...\"}", what);
    n = (size_t)json_object_get_string_len(v);
    if (n > max)
        return jc_client(err, 413, "Field '%s' exceeds %zu bytes", what, max);
    if (!(*out = malloc(n + 1)))
        return jc_fail(err, ENOMEM, "copying '%s'", what);
    memcpy(*out, json_object_get_string(v), n);
    *len = n;
    return 0;
}

static int limit_value(const char *key, json_object *val, const char *what,
                       const struct jc_limits *max, struct jc_limits *lim, struct jc_err *err)
{
    char field[96];

    snprintf(field, sizeof field, "%s.%s", what, key);
    for (unsigned i = 0; i < JC_NLIMITS; i++) {
        const struct jc_limit_def *d = &jc_limit_defs[i];
        double hi = max ? jc_limit_get(max, d) : d->ceiling, dv;
        uint32_t uv;
        if (strcmp(key, d->name) != 0)
            continue;
        if (d->real ? ju_double(val, field, d->min, hi, &dv, err) < 0
                    : ju_u32(val, field, (uint32_t)d->min, (uint32_t)hi, &uv, err) < 0)
            return -1;
        jc_limit_set(lim, d, d->real ? dv : uv);
        return 0;
    }
    return jc_client(err, 400, "Unknown field '%s'", field);
}

int ju_limits(json_object *v, const char *what, const struct jc_limits *max,
              struct jc_limits *lim, struct jc_err *err)
{
    if (ju_object(v, what, err) < 0)
        return -1;
    json_object_object_foreach(v, key, val) {
        if (limit_value(key, val, what, max, lim, err) < 0)
            return -1;
    }
    return 0;
}

json_object *ju_limits_to_json(const struct jc_limits *l)
{
    json_object *o = json_object_new_object();

    for (unsigned i = 0; i < JC_NLIMITS; i++) {
        const struct jc_limit_def *d = &jc_limit_defs[i];
        double v = jc_limit_get(l, d);
        json_object_object_add(o, d->name, d->real ? json_object_new_double(v)
                                                   : json_object_new_int64((int64_t)v));
    }
    return o;
}
