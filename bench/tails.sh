#!/usr/bin/env bash
# bench/tails.sh — what the slow spawns wait for: the system calls that took
# longer than a threshold while the limit (bench/limit.c, one lane, back to
# back) and jobcell (one lane, a POST every 20 ms: a cell waiting for each
# task, spawn.sh's `paced` row) ran N no-op spawns each, under
# `perf trace -a --duration`.  A benchmark, not a test: it prints figures.
#
#   sudo bench/tails.sh [-n N] [-d MS] [-k TOP]
#                       (default 1000 spawns per row, 2 ms, top 12)
#
# Each row first runs untraced (its p50/p99 as spawn.sh prints them), then
# traced; the traced run's slow calls are grouped by process name and
# system call: count, total and longest.  Calls that wait by design (epoll,
# futex, sleeps, waitid, reads of a pipe or socket a peer has not written
# yet: the harness's and the client's own waiting) are left out, so what is
# listed is time spent inside the kernel's work on the spawn path.  Every
# host process is traced, kworkers included (a memory cgroup's offlining,
# a net namespace's cleanup), though kworkers make no system calls: their
# share shows as the calls that waited for them (mkdir, rmdir, rename,
# mount, umount of the next spawn).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

N=1000 DUR_MS=2 TOP=12
while getopts "n:d:k:h" o; do
    case $o in
    n) N=$OPTARG ;;
    d) DUR_MS=$OPTARG ;;
    k) TOP=$OPTARG ;;
    *) sed -n '2,20p' "$0"; exit 2 ;;
    esac
done
[[ $N =~ ^[0-9]+$ && $N -ge 50 && $DUR_MS =~ ^[0-9]+(\.[0-9]+)?$ && $TOP =~ ^[0-9]+$ ]] ||
    bench_die "-n: at least 50; -d: milliseconds; -k: a number"

bench_require_root
bench_trap
bench_mktemp
bench_build
command -v perf >/dev/null || bench_need perf linux-perf || bench_die "perf missing (apt-get install linux-perf)"
LIMIT=$REPO/build/bench/jobcell-limit POSTLOOP=$REPO/build/bench/jobcell-postloop
[[ -x $LIMIT && -x $POSTLOOP ]] || bench_die "build/bench not built (meson compile -C build)"
ROOTFS=$BENCH_TMP/rootfs
cp -a "$ROOTFS_SRC" "$ROOTFS"
printf 'int main(void) { return 0; }\n' >"$BENCH_TMP/noop.c"
musl-gcc -static -O2 -s -o "$ROOTFS/usr/bin/jc-noop" "$BENCH_TMP/noop.c"
bench_header "tails.sh: $N no-op spawns per row, system calls longer than $DUR_MS ms (perf trace -a)"

WARM=$((N / 10 < 20 ? 20 : N / 10))
LIMIT_CG=$BENCH_CG-limit
BENCH_CLEANUP_HOOKS+=("bench_rm_cgroups '$LIMIT_CG'")
TRACE_PID=

# perf trace over the whole host into FILE until trace_stop.
trace_start() { # FILE
    perf trace -a --duration "$DUR_MS" -o "$1" 2>"$1.err" &
    TRACE_PID=$!
    BENCH_PIDS+=("$TRACE_PID")
    sleep 2 # perf trace opens its events per CPU before it traces
}
trace_stop() {
    kill -INT "$TRACE_PID" 2>/dev/null || true
    wait "$TRACE_PID" 2>/dev/null || true
}

# perf trace's lines: " 12.345 ( 3.210 ms): comm/tid syscall(args) = ret".
# Grouped by comm and call; the waits by design left out.
report() { # FILE
    awk -v top="$TOP" '
        BEGIN {
            split("epoll_wait epoll_pwait epoll_pwait2 futex poll ppoll select pselect6 nanosleep " \
                  "clock_nanosleep wait4 waitid rt_sigtimedwait rt_sigsuspend pause accept accept4 " \
                  "read recvfrom recvmsg", w, " ")
            for (i in w) waits[w[i]] = 1
        }
        match($0, /\( *[0-9.]+ ms\): [^ ]+ [a-z0-9_]+\(/) {
            s = substr($0, RSTART, RLENGTH)
            ms = s; sub(/^\( */, "", ms); sub(/ ms.*/, "", ms)
            rest = s; sub(/^[^:]*: /, "", rest)
            comm = rest; sub(/\/.*/, "", comm)
            call = rest; sub(/^[^ ]+ /, "", call); sub(/\($/, "", call)
            if (call in waits || ms > 1e6) next # (a call that began before the trace: no duration)
            if (call == "write" && match($0, /count: [0-9]+/)) # 5 or 6 bytes: a pid into cgroup.procs (the limit and jobcelld before 4d9c62a)
                call = call "/" substr($0, RSTART + 7, RLENGTH - 7) "B"
            k = comm " " call
            n[k]++; t[k] += ms; if (ms > mx[k]) mx[k] = ms
            all++; total += ms
        }
        END {
            printf "  %d slow calls, %.0f ms in all\n", all, total
            printf "  %-34s %7s %10s %9s\n", "process  system call", "count", "total ms", "max ms"
            m = 0
            for (k in t) { keys[++m] = k }
            for (i = 1; i <= m; i++)
                for (j = i + 1; j <= m; j++)
                    if (t[keys[j]] > t[keys[i]]) { x = keys[i]; keys[i] = keys[j]; keys[j] = x }
            for (i = 1; i <= m && i <= top; i++)
                printf "  %-34s %7d %10.1f %9.1f\n", keys[i], n[keys[i]], t[keys[i]], mx[keys[i]]
        }' "$1"
}

limit_run() {
    "$LIMIT" --rootfs "$ROOTFS" --lanes 1 --count "$N" --warmup "$WARM" --max-seconds 600 \
        --cgroup-name "$LIMIT_CG" --policy-dir "$REPO/policy" -- /usr/bin/jc-noop
}
paced_run() {
    "$POSTLOOP" -P "$JC_PORT" -n "$N" -i 20 -t "$((60 + N / 20))" -w "$WARM" \
        -b '{"name":"tails","command":["/usr/bin/jc-noop"]}'
}

echo "limit, one lane, back to back:"
echo "  untraced: $(limit_run)"
trace_start "$BENCH_TMP/limit.trace"
echo "  traced:   $(limit_run)"
trace_stop
report "$BENCH_TMP/limit.trace"

echo
echo "jobcell, one lane, a POST every 20 ms (a cell waits for each):"
jc_start "$ROOTFS" '{"pool_size": 2}'
echo "  untraced: $(paced_run)"
trace_start "$BENCH_TMP/jobcell.trace"
echo "  traced:   $(paced_run)"
trace_stop
report "$BENCH_TMP/jobcell.trace"
