/* plan.h — what the warden hands the task's child: its plan, in a form
 * that holds no pointer, and the child's working view of it.
 *
 * The task's child is cloned with CLONE_VM|CLONE_VFORK (sandbox.c
 * trampoline()): nothing of the warden's memory is copied; it joins its
 * cgroups (v1) and then execs the spawn stub, jobcell-spawn (stub.c), which runs the
 * checklist (child.c) in memory of its own.  What the stub reads comes
 * through descriptors of the reserved block (enum sb_block):
 *   SB_BLK_HOST  struct sb_host, the same for every spawn (paths, the /proc
 *                tables): written once at start-up into a sealed memfd,
 *                mapped by each stub;
 *   SB_BLK_PLAN  struct sb_spawn, this spawn's part (its descriptors, /tmp's
 *                options, and for a spawn on demand the request's part in
 *                the hand-over's form): a memfd of its own, written before
 *                the clone, only the used part.
 * A cell gets the request's part later, as the same struct sb_handover, on
 * its hand-over socket.  The stub checks every length of what it reads.
 *
 * Shared, header-only: included by the warden (sandbox.c, glibc) and by the
 * stub (stub.c and child.c, static, musl), built from the same tree (the
 * magic, size and layout fields catch a stub of another build, and a libc
 * whose constants would change the layout: every bound here is the
 * project's own, none is libc's). */
#pragma once

#include <limits.h>
#include <linux/filter.h>
#include <stdint.h>

#include "../rootfs/init_proto.h"
#include "task.h"

/* The descriptors a child works with are put at these numbers of a block
 * reserved at start-up, so that the trampoline can leave every other
 * descriptor of the warden's behind in O(1).  The stub inherits those
 * before SB_BLK_INHERITED_N (the trampoline clears their close-on-exec
 * flag in its own table); the cgroup directory (v2: clone3's), the
 * cgroup files the child joins (v1: SB_JOIN_MAX `tasks` files, unused
 * ones /dev/null) and the stub's own file stay behind at the exec.  HOST
 * and STUB hold the same descriptor for the daemon's whole life. */
#define SB_JOIN_MAX 4 /* >= the v1 hierarchies a task has a cgroup in (sandbox.c asserts) */
enum sb_block {
    SB_BLK_SYNC, SB_BLK_ERR, SB_BLK_OUT, SB_BLK_STATUS, SB_BLK_STDIN, SB_BLK_FILES,
    SB_BLK_NULL, SB_BLK_CELL, SB_BLK_PLAN, SB_BLK_HOST,
    SB_BLK_INHERITED_N,
    SB_BLK_CGROUP = SB_BLK_INHERITED_N, SB_BLK_JOIN, SB_BLK_STUB = SB_BLK_JOIN + SB_JOIN_MAX,
    SB_BLOCK_N
};

/* The stub's path in the build tree and once installed (config.c picks). */
#define SB_STUB_NAME "jobcell-spawn"

/* Failure steps of the child, in checklist order. */
enum sb_step {
    SB_STEP_JOIN = 1,
    SB_STEP_STUB_CAPS,
    SB_STEP_STUB,
    SB_STEP_PLAN,
    SB_STEP_CLOSE_FDS,
    SB_STEP_SESSION,
    SB_STEP_PDEATHSIG,
    SB_STEP_SYNC,
    SB_STEP_IDS,
    SB_STEP_CGROUPNS,
    SB_STEP_MOUNT_PRIVATE,
    SB_STEP_LAYER,
    SB_STEP_OVERLAY,
    SB_STEP_PROC,
    SB_STEP_USER_LIMITS,
    SB_STEP_PROC_RO,
    SB_STEP_PROC_MASK,
    SB_STEP_TMP,
    SB_STEP_DEV,
    SB_STEP_DEV_RO,
    SB_STEP_PIVOT,
    SB_STEP_FILES,
    SB_STEP_HOSTNAME,
    SB_STEP_LOOPBACK,
    SB_STEP_STDIO,
    SB_STEP_RLIMIT,
    SB_STEP_SECUREBITS,
    SB_STEP_CAPS,
    SB_STEP_NNP,
    SB_STEP_SECCOMP,
    SB_STEP_EXEC,
    SB_STEP_HANDOVER,
    SB_STEP_MAX_,
};

struct sb_child_err {
    int32_t step;
    int32_t errnum;
};

#define SB_USER_LIMITS 16 /* /proc/sys/user/max_* entries the table can hold */
#define SB_PROC_PATHS 20  /* /proc entries made read-only or masked */
#define SB_KEEP_FDS 11    /* 0-2 and the 8 the child works with */

/* One /proc/sys/user/max_* file of the task's user namespace and its value. */
struct sb_sysctl {
    char path[PATH_MAX];
    char value[16];
};

/* A /proc entry: made read-only in place, or hidden under /dev/null (a
 * file) or a bind of the overlay's empty read-only layer (a directory). */
enum sb_proc_kind { SB_PROC_RO, SB_PROC_MASK_FILE, SB_PROC_MASK_DIR };

struct sb_proc_path {
    char path[PATH_MAX];
    int32_t kind; /* enum sb_proc_kind */
};

#define SB_HOST_MAGIC 0x6a636831u  /* "jch1" */
#define SB_SPAWN_MAGIC 0x6a637332u /* "jcs2": the steps renumbered (SB_STEP_JOIN) */

/* The host's part of every plan (sandbox.c prep_host(), once). */
struct sb_host {
    uint32_t magic, size; /* SB_HOST_MAGIC, sizeof(struct sb_host) */
    int32_t last_cap;     /* highest capability number the kernel knows */
    uint64_t nofile_cap;  /* RLIMIT_NOFILE no higher than the daemon's hard limit */
    char rootfs[PATH_MAX];
    char proc[PATH_MAX], tmp[PATH_MAX], dev[PATH_MAX]; /* in the rootfs */
    char dev_src[PATH_MAX];   /* the prepared /dev (devdir.h), bound onto dev */
    char dev_null[PATH_MAX];  /* dev's null: a device once bound, or no /dev */
    char mask_null[PATH_MAX]; /* its null: what masks a /proc file */
    struct sb_sysctl user_limits[SB_USER_LIMITS];
    struct sb_proc_path proc_paths[SB_PROC_PATHS];
    /* All of them; a cell's set-up takes only the early ones, and the rest
     * (the cgroup namespace limit and /proc/sys read-only, last in the
     * tables) once handed over, after it entered its cgroup namespace. */
    uint32_t n_user_limits_all, n_proc_paths_all, n_user_limits_early, n_proc_paths_early;
};

/* The request's part of a plan: written into a spawn on demand's plan, or
 * sent to a waiting cell at its hand-over (one SOCK_SEQPACKET message,
 * SCM_RIGHTS carrying the stdin memfd first if has_stdin, then the files'
 * memfd if nfiles).  data holds bpf_len instructions, then strings_len
 * bytes of argv then envp strings (each NUL-terminated); only the used
 * part of data is written, and the child checks every length (child.c). */
struct sb_handover {
    char hostname[JC_ID_LEN];
    char tmp_opts[96];  /* a cell: "" keep /tmp as built; else its remount options */
    uint8_t has_stdin;
    uint16_t nfiles;
    uint32_t file_sizes[JC_FILES_MAX];
    char file_paths[JC_FILES_MAX][JC_FILE_NAME_MAX + 6]; /* "/tmp/<name>" */
    uint16_t bpf_len;
    uint16_t argc, envc;
    uint32_t strings_len;
    _Alignas(8) unsigned char data[BPF_MAXINSNS * sizeof(struct sock_filter) + JC_STRINGS_MAX];
};

/* A spawn's own part (sandbox.c prep_task() / prep_cell(), per spawn). */
struct sb_spawn {
    uint32_t magic, size; /* SB_SPAWN_MAGIC, the bytes written */
    uint32_t layout;      /* sizeof(struct sb_spawn): the same on both sides */
    int32_t sync_rd, err_wr, out_wr, status_wr, null_fd;
    int32_t cell_sock; /* a cell's end of its hand-over socket; -1: a spawn on demand */
    int32_t stdin_fd;  /* the stdin memfd, or null_fd */
    int32_t files_fd;  /* the files' memfd (contents in order), or -1 */
    int32_t keep[SB_KEEP_FDS]; /* the child's own descriptors, ascending: it
                                  closes every other one it inherited first */
    uint32_t nkeep;
    uint32_t n_user_limits, n_proc_paths; /* those mount_proc() takes */
    char tmp_opts[96]; /* /tmp's mount options */
    struct sb_handover req; /* a spawn on demand only (a cell: not written) */
};

/* The child's working plan (the stub's memory, stub.c): the checked host
 * and spawn parts, the request's part (the plan's, or a cell's hand-over),
 * and what points into them. */
struct sb_prep {
    const struct sb_host *h;
    const struct sb_spawn *s;
    const struct sb_handover *req;
    int stdin_fd, files_fd; /* from the block, or a cell's hand-over */
    struct sock_fprog prog;
    char *argv[JC_ARGV_MAX + 2]; /* JC_INIT_PATH, the request's argv */
    char *envp[JC_ENV_MAX + 1];
};

/* The checks and pointers of a request's part (child.c): 0, or -1 when a
 * length is out of bounds (n: the bytes from the start of *h). */
int sb_request_take(struct sb_prep *p, const struct sb_handover *h, size_t n);

/* The child's whole life (child.c): never returns.  sb_cell_main: a
 * cell's (it waits for its hand-over). */
__attribute__((noreturn)) void sb_child_main(struct sb_prep *p);
__attribute__((noreturn)) void sb_cell_main(struct sb_prep *p);

/* Report {step, errno} on the error pipe and exit 127 (child.c). */
__attribute__((noreturn)) void sb_fail(int err_wr, int step);
