/* cgkill.h — killing the processes a cgroup lists, pass after pass while
 * new ones appear (cgkill.c). */
#ifndef JC_CGKILL_H
#define JC_CGKILL_H

/* At most this many passes over cgroup.procs per kill. */
#define CG_KILL_PASSES 8
/* Pids remembered across the passes of one kill (a task's init and
 * program are 2; a task that forks has more). */
#define CG_KILL_REMEMBER 64

/* SIGKILL every process listed in dir/cgroup.procs (best effort); again
 * while a pass lists a process no pass before it did, at most
 * CG_KILL_PASSES passes.  Returns the passes made. */
int cg_kill_procs(const char *dir);

#endif
