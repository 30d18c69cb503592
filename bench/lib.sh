# shellcheck shell=bash
# bench/lib.sh — shared by the bench/*.sh scripts (sourced, not run).
#
# Gives: BENCH_DIR, REPO, a private temp dir ($BENCH_TMP), a unique cgroup name
# ($BENCH_CG), jc_start (start jobcelld on a free 127.0.0.1 port, wait for
# /healthz), and one cleanup trap that stops the daemon, kills what the
# scripts started, removes leftover cgroups and the temp dir, even on failure.
# Nothing here is part of jobcelld; these are measurements, not tests.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
JOBCELLD=${JOBCELLD:-$REPO/build/src/jobcelld}
ROOTFS_SRC=${ROOTFS_SRC:-$REPO/build/rootfs/root}
BENCH_CG="jobcell-bench-$$"
BENCH_TMP=""
JC_PID=""
JC_PORT=""
BENCH_PIDS=()          # extra background processes to stop on exit
BENCH_CLEANUP_HOOKS=() # extra commands to run on exit (before the temp dir goes)

bench_die() { echo "${0##*/}: $*" >&2; exit 1; }

bench_require_root() {
    [[ $(id -u) == 0 ]] || bench_die "must run as root (jobcelld and the reference tools need it)"
}

# Install a Debian package if its command is missing (only when allowed).
# A fresh machine may have no package lists yet: one failed install
# updates them and tries again.
bench_need() { # CMD PACKAGE
    command -v "$1" >/dev/null 2>&1 && return 0
    if [[ ${BENCH_NO_INSTALL:-0} == 1 ]]; then
        return 1
    fi
    echo "# installing $2 (for $1)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "$2" >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -q "$2" >/dev/null 2>&1; } || return 1
    command -v "$1" >/dev/null 2>&1
}

# The build, from a fresh clone on a fresh machine too: README's set-up
# (scripts/jobcell.sh setup: the build's packages, the service user,
# meson/ninja, the rootfs), unless BENCH_NO_BUILD=1.  Its output goes to
# $BENCH_TMP/setup.log, shown if it fails.
bench_build() {
    [[ ${BENCH_NO_BUILD:-0} == 1 ]] && return 0
    "$REPO/scripts/jobcell.sh" setup >"$BENCH_TMP/setup.log" 2>&1 ||
        { tail -n 30 "$BENCH_TMP/setup.log" >&2; bench_die "set-up failed (scripts/jobcell.sh setup)"; }
}

bench_mktemp() {
    BENCH_TMP=$(mktemp -d /tmp/jcbench.XXXXXX)
    chmod 0755 "$BENCH_TMP" # tasks (unprivileged uids) must traverse to a rootfs in here
}

# Stop the daemon: SIGTERM (it kills its tasks and removes its cgroups), then
# SIGKILL after 10 s.
jc_stop() {
    [[ -n $JC_PID ]] || return 0
    if kill -0 "$JC_PID" 2>/dev/null; then
        kill -TERM "$JC_PID" 2>/dev/null || true
        # An orderly stop with hundreds of tasks still running takes its
        # stop_grace_s and their teardown; a SIGKILL would leave the
        # prepared /dev's directory behind (emptied below).
        for _ in $(seq 600); do
            kill -0 "$JC_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$JC_PID" 2>/dev/null || true
    fi
    wait "$JC_PID" 2>/dev/null || true
    rmdir "/run/jobcell/$BENCH_CG.dev" 2>/dev/null || true # only if empty: left by a SIGKILL
    JC_PID=""
}

# Remove every cgroup directory named $1 (v1 hierarchies and v2), killing
# whatever is still in it first.  Only our unique names are passed here.
bench_rm_cgroups() { # NAME
    local name=$1 d
    [[ -n $name && $name != / ]] || return 0
    while IFS= read -r d; do
        find "$d" -depth -type d 2>/dev/null | while IFS= read -r sub; do
            if [[ -w $sub/cgroup.kill ]]; then echo 1 >"$sub/cgroup.kill" 2>/dev/null || true; fi
            if [[ -r $sub/cgroup.procs ]]; then
                while read -r p; do kill -KILL "$p" 2>/dev/null || true; done <"$sub/cgroup.procs"
            fi
            rmdir "$sub" 2>/dev/null || true
        done
    done < <(find /sys/fs/cgroup -maxdepth 3 -type d -name "$name" 2>/dev/null)
}

bench_cleanup() {
    local rc=$? p h
    trap - EXIT INT TERM
    for p in "${BENCH_PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${BENCH_PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    if [[ $rc != 0 && -s ${BENCH_TMP:-/nonexistent}/jobcelld.log ]]; then
        echo "# ${0##*/} failed (exit $rc); last lines of jobcelld's log:" >&2
        tail -n 8 "$BENCH_TMP/jobcelld.log" | sed 's/^/#   /' >&2
    fi
    jc_stop
    for h in "${BENCH_CLEANUP_HOOKS[@]}"; do
        eval "$h" || true
    done
    bench_rm_cgroups "$BENCH_CG"
    if [[ -n $BENCH_TMP && -d $BENCH_TMP ]]; then
        if [[ ${BENCH_KEEP_TMP:-0} == 1 ]]; then
            echo "# kept $BENCH_TMP" >&2
        else
            rm -rf --one-file-system "$BENCH_TMP"
        fi
    fi
    exit "$rc"
}

bench_trap() {
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

bench_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# jc_start ROOTFS CONFIG_JSON: start jobcelld (logs in $BENCH_TMP/jobcelld.log);
# its state directory is $JC_STATE if set, else $BENCH_TMP/state.
jc_start() {
    local rootfs=$1 config=$2
    [[ -x $JOBCELLD ]] || bench_die "$JOBCELLD not built (meson compile -C build)"
    JC_PORT=$(bench_free_port)
    printf '%s\n' "$config" >"$BENCH_TMP/jobcelld.json"
    # Its own session: a Ctrl-C meant for the benchmark must reach the
    # clients (which then die of it, so bash runs the INT trap and cleans
    # up), not the daemon.  (setsid execs in place: $! is jobcelld.)
    setsid "$JOBCELLD" --listen "127.0.0.1:$JC_PORT" --state-dir "${JC_STATE:-$BENCH_TMP/state}" \
        --rootfs "$rootfs" --cgroup-name "$BENCH_CG" --config "$BENCH_TMP/jobcelld.json" \
        --log-level warn >>"$BENCH_TMP/jobcelld.log" 2>&1 &
    JC_PID=$!
    for _ in $(seq 100); do
        if curl -fsS -o /dev/null "http://127.0.0.1:$JC_PORT/healthz" 2>/dev/null; then
            return 0
        fi
        kill -0 "$JC_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$BENCH_TMP/jobcelld.log" >&2 || true
    bench_die "jobcelld did not come up"
}

# The front: the daemon's only child (it runs as the unprivileged user).
jc_front_pid() { pgrep -P "$JC_PID" -u jobcell | head -1; } # the front runs as the user jobcell

# BENCH_WAIT_QUIET=SECONDS: before starting, wait (at most that long) until
# the host is at least 85 % idle over one second.
bench_wait_quiet() {
    local end=$((SECONDS + ${BENCH_WAIT_QUIET:-0}))
    while [[ $SECONDS -lt $end ]]; do
        [[ $(bench_idle_pct) -ge 85 ]] && return 0
        sleep 4
    done
}

bench_header() { # what
    local rev idle
    rev=$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)
    bench_wait_quiet
    idle=$(bench_idle_pct)
    echo "# $1"
    echo "# $(date -u +%Y-%m-%dT%H:%MZ), kernel $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, cgroup $(bench_cgroup_mode)"
    echo "# jobcelld $JOBCELLD (tree $rev, built $(date -u -r "$JOBCELLD" +%H:%MZ 2>/dev/null || echo ?)); host idle before start: ${idle}% (load $(cut -d' ' -f1-3 /proc/loadavg))"
    if [[ ${idle%.*} -lt 85 ]]; then
        echo "# WARNING: the host is busy (${idle}% idle): figures will be noisy; rerun when it is quiet"
    fi
}

# Percentage of CPU time idle over one second, host-wide.
bench_idle_pct() {
    python3 -c '
import time
def snap():
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return sum(f), f[3] + f[4]
t0, i0 = snap(); time.sleep(1); t1, i1 = snap()
print("%.0f" % (100.0 * (i1 - i0) / max(1, t1 - t0)))'
}

bench_cgroup_mode() {
    case $(stat -fc %T /sys/fs/cgroup) in
    cgroup2fs) echo v2 ;;
    tmpfs) if [[ -d /sys/fs/cgroup/unified ]]; then echo "v1 (hybrid)"; else echo v1; fi ;;
    *) echo unknown ;;
    esac
}

# field LINE KEY: the value of KEY=value in a result line.
field() { sed -n "s/.*\b$2=\([^ ]*\).*/\1/p" <<<"$1"; }
# ratio A B: A / B to two decimals, "-" when either is missing or B is 0.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f\n", a / b }'; }
# target X OP BOUND: "met" or "MISSED" (X and BOUND numbers; OP ge, gt, le or lt):
# a figure against one of issue 10's targets (docs/performance.md).
target() {
    awk -v x="$1" -v b="$3" -v op="$2" 'BEGIN {
        ok = op == "ge" ? x >= b : op == "gt" ? x > b : op == "le" ? x <= b : x < b
        print (x ~ /^-?[0-9.]+$/ && ok) ? "met" : "MISSED" }'
}

# limit_says LIMIT_VERDICT LIMIT_FIGURE WHAT: what stands in the way of a
# target jobcell missed, by whether the limit (the isolation steps and
# nothing else, in the same run) met it (LIMIT_VERDICT from target):
# jobcell's own work, or the kernel's cost WHAT.
limit_says() {
    if [[ $1 == met ]]; then
        echo "the limit meets it ($2): jobcell's own work stands in the way, not the kernel's"
    else
        echo "the limit misses it too ($2): the kernel's cost $3"
    fi
}

# perf report's top N symbols by self time, indented (bench_perf_top DATA N).
bench_perf_top() {
    perf report -i "$1" --no-children --sort sym --stdio -g none 2>/dev/null |
        grep -E '^ +[0-9]' | head -n "$2" | sed 's/^/  /' || true
}
# The same by process name (comm).
bench_perf_comms() {
    perf report -i "$1" --no-children --sort comm --stdio -g none 2>/dev/null |
        grep -E '^ +[0-9]' | head -n "$2" | sed 's/^/  /' || true
}
# The K largest kernel symbols by self time, on one line ("sym 9.1 %, ..."):
# what a verdict names as the kernel's cost (bench_perf_kernel DATA K).
# Shares of the host's busy time (the idle loop, swapper, left out).
bench_perf_kernel() { python3 "$BENCH_DIR/perfdiff.py" --kernel "$2" "$1" || true; }
