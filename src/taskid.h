/* taskid.h — what a task id and a node name are.
 *
 * A node name says which jobcelld owns a task: 1 to JC_NODE_MAX of
 * [a-z0-9-], not starting or ending with '-' (a DNS label, lower case: safe
 * in URLs, file names, cgroup names and hostnames).  A task id is
 * "<node>.<uuid>" (a random version 4 UUID in lower-case hex): a proxy in
 * front of several hosts routes /api/tasks/<node>.… to its owner with a
 * plain prefix match (docs/scaling.md).  Ids made by versions without node
 * names are a bare UUID; they stay valid for the records that have them.
 *
 * Runs in: front (new ids, URL and record checks) and warden (message
 * checks).  Pure, no state. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "task.h"

/* Is s (NUL-terminated) a valid node name? */
bool jc_node_valid(const char *s);

/* Is id a valid task id, with or without a node?  Reads at most JC_ID_LEN
 * bytes, terminated or not. */
bool jc_id_valid(const char *id);

/* A new id of this node (a valid node name). */
int jc_id_new(const char *node, char out[JC_ID_LEN], struct jc_err *err);

/* The node part of a valid id into node; "" for a bare UUID. */
void jc_id_node(const char *id, char node[JC_NODE_MAX + 1]);

/* The default node name of a host: the first label of its hostname in lower
 * case.  A label that is longer than JC_NODE_MAX or holds other characters
 * is shortened to JC_NODE_MAX at most: its first characters (others as '-'),
 * a '-' and 8 hex digits of the label's SHA-256, so that two such hosts still
 * differ.  Only an empty hostname fails (400, asking for "node" to be set). */
int jc_node_from_hostname(const char *hostname, char node[JC_NODE_MAX + 1], struct jc_err *err);
