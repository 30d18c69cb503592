/* test_taskid.c — task ids and node names (taskid.c): what is valid, what
 * a new id looks like, the default node of a hostname.
 * Runs in: a unit-test process (no root). */
#include <string.h>

#include "check.h"
#include "taskid.h"

#define UUID "123e4567-e89b-12d3-a456-426614174000"

static void test_node_valid(void)
{
    CHECK(jc_node_valid("n1"));
    CHECK(jc_node_valid("a"));
    CHECK(jc_node_valid("web-2"));
    CHECK(jc_node_valid("0"));
    CHECK(jc_node_valid("abcdefghijklmnopqrstuvwxyz0")); /* 27 = JC_NODE_MAX */
    CHECK(!jc_node_valid("abcdefghijklmnopqrstuvwxyz01"));
    CHECK(!jc_node_valid(""));
    CHECK(!jc_node_valid("-n1"));
    CHECK(!jc_node_valid("n1-"));
    CHECK(!jc_node_valid("N1"));
    CHECK(!jc_node_valid("n.1"));
    CHECK(!jc_node_valid("n_1"));
    CHECK(!jc_node_valid("n/1"));
    CHECK(!jc_node_valid("n 1"));
    CHECK(!jc_node_valid("n%2f"));
    CHECK(!jc_node_valid(".."));
}

static void test_id_valid(void)
{
    CHECK(jc_id_valid(UUID)); /* an older version's id */
    CHECK(jc_id_valid("00000000-0000-0000-0000-000000000000"));
    CHECK(jc_id_valid("n1." UUID));
    CHECK(jc_id_valid("web-2." UUID));
    CHECK(jc_id_valid("abcdefghijklmnopqrstuvwxyz0." UUID)); /* 64 bytes: the longest */
    CHECK(!jc_id_valid("abcdefghijklmnopqrstuvwxyz01." UUID));
    CHECK(!jc_id_valid(""));
    CHECK(!jc_id_valid("." UUID));
    CHECK(!jc_id_valid("n1" UUID));
    CHECK(!jc_id_valid("n1-" UUID));
    CHECK(!jc_id_valid("-." UUID));
    CHECK(!jc_id_valid("N1." UUID));
    CHECK(!jc_id_valid("n1.." UUID));
    CHECK(!jc_id_valid("a.b." UUID));
    CHECK(!jc_id_valid("../" UUID));
    CHECK(!jc_id_valid("n1." UUID "0"));
    CHECK(!jc_id_valid(UUID ".n1"));
    CHECK(!jc_id_valid("123e4567-e89b-12d3-a456-42661417400"));   /* 35 */
    CHECK(!jc_id_valid("123e4567-e89b-12d3-a456-4266141740000")); /* 37 */
    CHECK(!jc_id_valid("123E4567-e89b-12d3-a456-426614174000"));  /* upper case */
    CHECK(!jc_id_valid("123e4567-e89b-12d3-a456-42661417400g"));
    CHECK(!jc_id_valid("123e4567_e89b-12d3-a456-426614174000"));
    CHECK(!jc_id_valid("123e45678e89b-12d3-a456-42661417400"));   /* dash moved */
    CHECK(!jc_id_valid("123e4567-e89b-12d3-a456-4266-14174000"));
    CHECK(!jc_id_valid("------------------------------------"));
    CHECK(!jc_id_valid("123e4567-e89b-12d3-a456-42661417400\n"));
    CHECK(!jc_id_valid("n1.123e4567-e89b-12d3-a456-42661417400\n"));
    CHECK(!jc_id_valid("{123e4567-e89b-12d3-a456-42661417400}"));
    /* Never reads past JC_ID_LEN bytes, terminated or not. */
    char raw[JC_ID_LEN];
    memset(raw, 'a', sizeof raw);
    CHECK(!jc_id_valid(raw));
    memcpy(raw + sizeof raw - JC_UUID_LEN, UUID, JC_UUID_LEN);
    raw[sizeof raw - JC_UUID_LEN - 1] = '.';
    CHECK(!jc_id_valid(raw));
}

static void test_id_new(void)
{
    char a[JC_ID_LEN], b[JC_ID_LEN], node[JC_NODE_MAX + 1];
    struct jc_err err;

    CHECK(jc_id_new("n1", a, &err) == 0 && jc_id_new("n1", b, &err) == 0);
    CHECK(jc_id_valid(a) && strlen(a) == 3 + JC_UUID_LEN && strncmp(a, "n1.", 3) == 0);
    CHECK(a[3 + 14] == '4'); /* version 4 */
    CHECK(strcmp(a, b) != 0);
    jc_id_node(a, node);
    CHECK(strcmp(node, "n1") == 0);
    CHECK(jc_id_new("abcdefghijklmnopqrstuvwxyz0", a, &err) == 0 && jc_id_valid(a) &&
          strlen(a) == JC_ID_LEN - 1);
    jc_id_node(a, node);
    CHECK(strcmp(node, "abcdefghijklmnopqrstuvwxyz0") == 0);
    jc_id_node(UUID, node);
    CHECK(node[0] == 0);
}

static void test_from_hostname(void)
{
    char node[JC_NODE_MAX + 1], other[JC_NODE_MAX + 1];
    struct jc_err err;

    CHECK(jc_node_from_hostname("vm", node, &err) == 0 && strcmp(node, "vm") == 0);
    CHECK(jc_node_from_hostname("Web-2.example.org", node, &err) == 0 && strcmp(node, "web-2") == 0);
    CHECK(jc_node_from_hostname("abcdefghijklmnopqrstuvwxyz0.x", node, &err) == 0 &&
          strcmp(node, "abcdefghijklmnopqrstuvwxyz0") == 0);
    /* Too long, or other characters: shortened, still valid, still apart. */
    CHECK(jc_node_from_hostname("gke-cluster-default-pool-6e1ac3b2-x9fk", node, &err) == 0);
    CHECK(jc_node_valid(node) && strlen(node) == JC_NODE_MAX && strncmp(node, "gke-cluster-defaul-", 19) == 0);
    CHECK(jc_node_from_hostname("gke-cluster-default-pool-6e1ac3b2-x9fl", other, &err) == 0);
    CHECK(jc_node_valid(other) && strcmp(node, other) != 0);
    CHECK(jc_node_from_hostname("my_host", node, &err) == 0 && jc_node_valid(node) &&
          strncmp(node, "my-host-", 8) == 0 && strlen(node) == 8 + 8);
    CHECK(jc_node_from_hostname("_-_", node, &err) == 0 && jc_node_valid(node) && strlen(node) == 8);
    CHECK(jc_node_from_hostname("abcdefghijklmnopq-stuvwxyz01", node, &err) == 0 && jc_node_valid(node));
    CHECK(jc_node_from_hostname("", node, &err) == -1 && err.status == 400);
    CHECK_STR_CONTAINS(err.msg, "set \"node\"");
    CHECK(jc_node_from_hostname(".x", node, &err) == -1);
}

int main(void)
{
    test_node_valid();
    test_id_valid();
    test_id_new();
    test_from_hostname();
    return check_summary();
}
