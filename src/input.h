/* input.h — a task's stdin and input files on their way from the request
 * to the child.  The spec only says how many bytes there are; the bytes
 * themselves travel as sealed memfds beside the SPAWN message (SCM_RIGHTS):
 * the front writes and seals them (input_seal), the warden checks each is
 * a sealed memfd of exactly the size the spec says (input_check) before the
 * child puts stdin on fd 0 and copies the files into its /tmp (child.c).
 * Sealed (no write, grow, shrink, or new seals): what the warden checked
 * is what the task reads, whatever the front does afterwards.
 *
 * Runs in: the front's HTTP threads (seal) and the warden's main thread
 * (check).  No shared state. */
#pragma once

#include "error.h"
#include "task.h"

enum { INPUT_STDIN, INPUT_FILES, INPUT_NFDS };

/* How many descriptors the spec's SPAWN carries (0, 1 or 2), in the order
 * stdin, files. */
unsigned input_count(const struct jc_spec *s);

/* Seal the spec's bytes into memfds: fds[INPUT_*] (-1 where there is
 * none), and their packed list for ipc_send_fds() in list/n. */
int input_seal(const struct jc_spec *s, const struct jc_input *in, int fds[INPUT_NFDS],
               int list[INPUT_NFDS], unsigned *n, struct jc_err *err);

/* Check what came with a SPAWN and sort it into fds[INPUT_*] (each moved
 * to a number >= 10, close-on-exec).  Always consumes got[]: on failure
 * everything is closed (a front that sends anything else is compromised). */
int input_check(const struct jc_spec *s, const int *got, unsigned ngot, int fds[INPUT_NFDS],
                struct jc_err *err);

void input_close(int fds[INPUT_NFDS]);
