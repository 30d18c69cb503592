#!/usr/bin/env bash
# bench/tenk.sh — N (default 10 000) sleeping tasks at once on one host:
# what each thousand costs, whether the API stays quick, how fast all of
# them are cancelled.  A benchmark, not a test: it prints figures.  Heavy:
# at 10 000 it holds ~20 000 processes and several GB of kernel memory.
#
#   sudo bench/tenk.sh [-n N] [-l LANES] [-d WRK_SECONDS] [-s STEP] [-p] [-L]
#
# Tasks are ["/bin/sleep","3600"] (not 600: on a busy 2-core host 10 000
# take longer than 10 minutes to submit).
# Starts jobcelld with max_running N + 64, max_queued N and ceiling_pids
# 2·N + 1 024 (init and the program: 2 processes per task; the derived
# default, half of kernel.pid_max, holds only 8 192 such tasks on a host
# with the default pid_max of 32 768), then (bench/tenk.py):
#   1. submits N tasks over LANES (default 4)
#      keep-alive clients: per STEP (1 000) accepted, the POST rate, the warden's
#      descriptors, the processes in jobcell's cgroup, MemAvailable, Slab,
#      jobcelld's own RSS (warden + front; per running task once all run);
#      GET /api/tasks/{id} p50/p99 meanwhile;
#   2. with all N running: descriptors per task, GET p50/p99 of one client,
#      and wrk (-d seconds, 32 keep-alive connections) on GET /api/tasks/{id};
#   3. DELETEs every task (build/bench/jobcell-postloop -D, 8 connections:
#      a Python client's own CPU bounded the rate) and reports the time
#      until all are terminal; every record must say "cancelled"; with -p
#      under a system-wide perf profile (its top entries printed);
#   4. with -L, the same against the limit (build/bench/jobcell-limit --hold:
#      jobcell's isolation steps and nothing else): once the host is idle
#      again, it starts N sleepers over LANES lanes while the same GET probes
#      ask the idle jobcelld for one record, then kills them all at once and
#      reports the time until all are reaped and their cgroups removed;
#   5. the verdict against issue 10's targets, and for each one missed what
#      stands in the way: whether the limit misses it too (-L), and the
#      largest kernel entries of the profile (-p: the submission, at 199 Hz,
#      and the limit's, are recorded too).
# The daemon, its tasks and cgroups are removed at the end, on failure and
# on Ctrl-C (bench/lib.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

N=10000 LANES=4 WRK_S=10 STEP=1000 PERF= LIMIT_TOO=
while getopts "n:l:d:s:pLh" o; do
    case $o in
    n) N=$OPTARG ;;
    l) LANES=$OPTARG ;;
    d) WRK_S=$OPTARG ;;
    s) STEP=$OPTARG ;;
    p) PERF=1 ;;
    L) LIMIT_TOO=1 ;;
    *) sed -n '2,33p' "$0"; exit 2 ;;
    esac
done
[[ $N =~ ^[0-9]+$ && $N -ge 100 && $N -le 30000 ]] || bench_die "-n: 100..30000"
[[ $LANES =~ ^[0-9]+$ && $LANES -ge 1 && $LANES -le 32 ]] || bench_die "-l: 1..32"
[[ $STEP =~ ^[0-9]+$ && $STEP -ge 10 ]] || bench_die "-s: 10 and more"
[[ $WRK_S =~ ^[0-9]+$ && $WRK_S -ge 1 && $WRK_S -le 60 ]] || bench_die "-d: 1..60"

bench_require_root
bench_trap
bench_mktemp
bench_build
if [[ -n $PERF ]]; then
    command -v perf >/dev/null || bench_need perf linux-perf || bench_die "perf missing (apt-get install linux-perf)"
fi
pid_max=$(cat /proc/sys/kernel/pid_max)
[[ $((2 * N + 1024)) -lt $pid_max ]] ||
    bench_die "kernel.pid_max $pid_max is too low for $N tasks (2 processes each; docs/performance.md)"
bench_header "tenk.sh: N=$N sleeping tasks over $LANES lanes; RLIMIT_NOFILE $(ulimit -Sn)/$(ulimit -Hn), kernel.pid_max $pid_max"
jc_start "$ROOTFS_SRC" "{\"max_running\": $((N + 64)), \"max_queued\": $N, \"ceiling_pids\": $((2 * N + 1024)),
  \"max_records\": $((2 * N + 1000)), \"per_ip_connections\": 128, \"max_connections\": 512}"
grep -i "warn" "$BENCH_TMP/jobcelld.log" | sed 's/^/# daemon: /' || true
idle_fds=$(ls "/proc/$JC_PID/fd" | wc -l)

SUBMIT=(python3 "$BENCH_DIR/tenk.py" submit --port "$JC_PORT" --n "$N" --lanes "$LANES" --step "$STEP"
    --warden "$JC_PID" --front "$(jc_front_pid)" --idle-fds "$idle_fds" --cgroup "$BENCH_CG" --out "$BENCH_TMP")
if [[ -n $PERF ]]; then # the whole submission, at a low rate (it lasts minutes)
    SUBMIT=(perf record -q -a -F 199 -e cpu-clock -o "$BENCH_TMP/submit.data" -- "${SUBMIT[@]}")
fi
"${SUBMIT[@]}" | tee "$BENCH_TMP/submit.out" || bench_die "not every task ran"

if bench_need wrk wrk; then
    echo
    echo "wrk -t2 -c32 -d${WRK_S}s GET /api/tasks/{id} with $N running:"
    wrk -t2 -c32 -d"${WRK_S}s" --latency "http://127.0.0.1:$JC_PORT/api/tasks/$(cat "$BENCH_TMP/one")" |
        grep -E "Requests/sec|Latency|50%|99%|requests in|Non-2xx" | sed 's/^/  /'
else
    echo "(wrk missing: no keep-alive GET load figure)"
fi

echo
echo "cancel all $N (DELETE each over 8 keep-alive connections, bench/postloop.c; times from the first DELETE):"
CANCEL=("$REPO/build/bench/jobcell-postloop" -P "$JC_PORT" -D "$BENCH_TMP/ids" -j 8 -t 600)
if [[ -n $PERF ]]; then
    CANCEL=(perf record -q -a -g -e cpu-clock -o "$BENCH_TMP/cancel.data" -- "${CANCEL[@]}")
fi
"${CANCEL[@]}" | tee "$BENCH_TMP/cancel.out" | sed 's/^/  /' || bench_die "not every task ended as cancelled"
if [[ -n $PERF ]]; then
    echo "  the whole host during the cancel, top 25 by self time:"
    bench_perf_top "$BENCH_TMP/cancel.data" 25
    echo "  by process (comm):"
    bench_perf_comms "$BENCH_TMP/cancel.data" 8
fi
sleep 3
echo "after: warden fds $(ls "/proc/$JC_PID/fd" | wc -l) (idle $idle_fds), MemAvailable $(($(grep MemAvailable /proc/meminfo | awk '{print $2}') / 1024)) MB"

LIMIT_OUT=$BENCH_TMP/limit-hold.out PROBE_OUT=$BENCH_TMP/probe.out
if [[ -n $LIMIT_TOO ]]; then
    echo
    echo "the limit (jobcell-limit --hold): $N sleepers over $LANES lanes, the same GET probes on the idle jobcelld:"
    BENCH_WAIT_QUIET=300 bench_wait_quiet
    BENCH_CLEANUP_HOOKS+=("bench_rm_cgroups '$BENCH_CG-limit'")
    : >"$LIMIT_OUT"
    python3 "$BENCH_DIR/tenk.py" probe --port "$JC_PORT" --id "$(cat "$BENCH_TMP/one")" --until "$LIMIT_OUT" \
        --out "$BENCH_TMP" --max-seconds 1800 >"$PROBE_OUT" &
    probe=$!
    BENCH_PIDS+=("$probe")
    HOLD=("$REPO/build/bench/jobcell-limit" --rootfs "$ROOTFS_SRC" --lanes "$LANES" --count "$N" --warmup 0
        --max-seconds 1800 --hold --hold-seconds 1 --cgroup-name "$BENCH_CG-limit" -- /bin/sleep 3600)
    if [[ -n $PERF ]]; then
        HOLD=(perf record -q -a -F 199 -e cpu-clock -o "$BENCH_TMP/limit.data" -- "${HOLD[@]}")
    fi
    "${HOLD[@]}" >"$LIMIT_OUT" || { kill "$probe" 2>/dev/null; bench_die "the limit failed"; }
    wait "$probe"
    cat "$PROBE_OUT"
    sed 's/^/  /' "$LIMIT_OUT"
fi

# --- against issue 10's targets (docs/performance.md) -------------------------
# Each figure from the output above; where one is missed, what stands in
# the way: whether the limit (-L: the isolation steps and nothing else,
# the same N over the same lanes) misses it too, and (-p) the profile's
# largest kernel entries.
p99s=$(sed -n 's/^  all: .* p99 \([0-9.]*\) ms.*/\1/p' "$BENCH_TMP/submit.out")
p99=$(sort -g <<<"$p99s" | tail -1)
lp99=$( (sed -n 's/^  GET (20\/s, nice .*p99 \([0-9.]*\) ms.*/\1/p' "$PROBE_OUT" 2>/dev/null || true) | sort -g | tail -1)
ended_s=$(awk -v ms="$(field "$(cat "$BENCH_TMP/cancel.out")" all_ended_ms)" 'BEGIN { printf "%.2f", ms / 1000 }')
hold=$(grep '^hold ' "$LIMIT_OUT" 2>/dev/null || true)
running=$(sed -n 's/^running: \([0-9]*\),.*/\1/p' "$BENCH_TMP/submit.out" | head -1)
fds=$(sed -n 's/.*(\([0-9.]*\) per running task.*/\1/p' "$BENCH_TMP/submit.out" | head -1)
kb=$(sed -n 's/.*, \([0-9.]*\) kB per running task.*/\1/p' "$BENCH_TMP/submit.out" | head -1)
echo
echo "Against the targets (issue 10; figures of this run, never a test):"
echo "  $N concurrent sleeping tasks: $running running ($(target "$running" ge "$N"))"
echo "  warden descriptors: $fds per running task (<= 2: $(target "$fds" le 2))"
echo "  bookkeeping: $kb kB per running task (<= 13: $(target "$kb" le 13))"
echo "  GET p99 during the submission: $(tr '\n' ' ' <<<"$p99s")ms (< 10: $(target "$p99" lt 10))"
echo "  all $N cancelled and terminal: in $ended_s s (<= 5: $(target "$ended_s" le 5))"
way() { # WHAT LIMIT_VALUE OP BOUND LIMIT_TEXT PROFILE_TEXT
    if [[ -z $2 ]]; then
        echo "    $1: run with -L to see whether the limit misses it too${6:+; $6}"
    else
        echo "    $1: $(limit_says "$(target "$2" "$3" "$4")" "$5" "with $N tasks")${6:+; $6}"
    fi
}
if [[ $(target "$p99" lt 10) == MISSED || $(target "$ended_s" le 5) == MISSED ]]; then
    echo "  What stands in the way:"
fi
if [[ $(target "$p99" lt 10) == MISSED ]]; then
    prof=""
    if [[ -n $PERF ]]; then
        prof="the largest kernel entries while jobcell's $N started: $(bench_perf_kernel "$BENCH_TMP/submit.data" 4)"
        [[ ! -s $BENCH_TMP/limit.data ]] || prof+="; in the limit's run (its starts, then its kill): $(bench_perf_kernel "$BENCH_TMP/limit.data" 4)"
    fi
    way "GET p99" "$lp99" lt 10 "the same probes while the limit's $N started: p99 $lp99 ms" "$prof"
fi
if [[ $(target "$ended_s" le 5) == MISSED ]]; then
    prof=""
    [[ -z $PERF ]] || prof="the largest kernel entries during jobcell's cancel: $(bench_perf_kernel "$BENCH_TMP/cancel.data" 4)"
    way "cancel" "$(field "$hold" cancel_reaped_s)" le 5 \
        "its kill of $N: reaped in $(field "$hold" cancel_reaped_s) s, cgroups removed in $(field "$hold" cancel_removed_s) s" "$prof"
fi
