/* taskid.c — task ids and node names (see taskid.h).
 * Runs in: front and warden.  Pure, no state. */
#include "taskid.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "util.h"

_Static_assert(JC_ID_LEN - 1 <= HOST_NAME_MAX, "a task id is its hostname");

static bool node_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

/* The n bytes at s are a node name. */
static bool node_ok(const char *s, size_t n)
{
    if (n == 0 || n > JC_NODE_MAX || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!node_char(s[i]))
            return false;
    return true;
}

bool jc_node_valid(const char *s) { return node_ok(s, strnlen(s, JC_NODE_MAX + 1)); }

/* The JC_UUID_LEN bytes at s are a UUID in lower-case hex. */
static bool uuid_ok(const char *s)
{
    for (int i = 0; i < JC_UUID_LEN; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        char c = s[i];
        if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

bool jc_id_valid(const char *id)
{
    size_t n = strnlen(id, JC_ID_LEN);

    if (n == JC_UUID_LEN)
        return uuid_ok(id);
    if (n >= JC_ID_LEN || n < JC_UUID_LEN + 2 || id[n - JC_UUID_LEN - 1] != '.')
        return false;
    return node_ok(id, n - JC_UUID_LEN - 1) && uuid_ok(id + n - JC_UUID_LEN);
}

int jc_id_new(const char *node, char out[JC_ID_LEN], struct jc_err *err)
{
    uint8_t b[16];

    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
        return jc_fail(err, errno, "getrandom");
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, JC_ID_LEN,
             "%s.%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", node, b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
    return 0;
}

void jc_id_node(const char *id, char node[JC_NODE_MAX + 1])
{
    size_t n = strnlen(id, JC_ID_LEN);
    size_t len = n > JC_UUID_LEN ? n - JC_UUID_LEN - 1 : 0;

    memcpy(node, id, len);
    node[len] = 0;
}

static char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

/* The n bytes at label in lower case, any other character as '-', at most
 * cap - 1 of them, without '-' at either end. */
static void node_chars(const char *label, size_t n, char *out, size_t cap)
{
    size_t len = 0, skip = 0;

    for (size_t i = 0; i < n && len + 1 < cap; i++) {
        char c = ascii_lower(label[i]);
        out[len++] = node_char(c) ? c : '-';
    }
    while (len > 0 && out[len - 1] == '-')
        len--;
    out[len] = 0;
    while (out[skip] == '-')
        skip++;
    memmove(out, out + skip, len - skip + 1);
}

#define NODE_HASH_HEX 8 /* hex digits of SHA-256 that keep shortened names apart */

int jc_node_from_hostname(const char *hostname, char node[JC_NODE_MAX + 1], struct jc_err *err)
{
    size_t n = strcspn(hostname, ".");
    char prefix[JC_NODE_MAX - NODE_HASH_HEX], hex[65];

    if (n == 0)
        return jc_client(err, 400, "node: the hostname is empty: set \"node\" in the config or --node");
    node_chars(hostname, n, node, JC_NODE_MAX + 1);
    if (strlen(node) == n && strncasecmp(node, hostname, n) == 0)
        return 0; /* the label as it is (in lower case) */
    node_chars(hostname, n, prefix, sizeof prefix);
    jc_sha256_hex(hostname, n, hex);
    snprintf(node, JC_NODE_MAX + 1, "%s%s%.*s", prefix, prefix[0] ? "-" : "", NODE_HASH_HEX, hex);
    return 0;
}
