#!/usr/bin/env bash
# bench/profile.sh — where the CPU goes in L lanes of spawns: perf record of
# jobcelld (with every process it starts: front, warden, the tasks) while
# the client (bench/postloop.c) runs N no-op tasks over HTTP, then of the limit (bench/limit.c)
# running N spawns.  Prints `perf report --no-children --sort sym`'s top
# entries for both, the CPU each used per spawn, and bench/perfdiff.py's
# report of where the two differ (by process, by role, by kernel symbol).
# A benchmark, not a test.
#
#   sudo bench/profile.sh [-n N] [-k TOP] [-l LANES] [-a]
#                                  (default 2000 spawns, top 15, 1 lane)
#
# The sampling event is cpu-clock (software): these VMs have no hardware
# counters.  Without -a only the recorded processes and their children are
# sampled, so work the kernel defers to kworkers (the net namespace's
# teardown, a memory cgroup's offlining) is in neither profile; with -a the
# whole host is sampled while each row runs (the HTTP client included), so
# it is.  BENCH_KEEP_TMP=1 keeps the perf.data files.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

N=2000 TOP=15 LANES=1 WIDE=
while getopts "n:k:l:ah" o; do
    case $o in
    n) N=$OPTARG ;;
    k) TOP=$OPTARG ;;
    l) LANES=$OPTARG ;;
    a) WIDE=1 ;;
    *) sed -n '2,18p' "$0"; exit 2 ;;
    esac
done
[[ $N =~ ^[0-9]+$ && $N -ge 10 && $TOP =~ ^[0-9]+$ && $LANES =~ ^[1-9][0-9]*$ ]] ||
    bench_die "-n: at least 10; -k: a number; -l: at least 1"

bench_require_root
bench_trap
bench_mktemp
bench_build
command -v perf >/dev/null || bench_need perf linux-perf || bench_die "perf missing (apt-get install linux-perf)"
LIMIT=$REPO/build/bench/jobcell-limit
[[ -x $LIMIT ]] || bench_die "$LIMIT not built (meson compile -C build)"
ROOTFS=$BENCH_TMP/rootfs
cp -a "$ROOTFS_SRC" "$ROOTFS"
printf 'int main(void) { return 0; }\n' >"$BENCH_TMP/noop.c"
musl-gcc -static -O2 -s -o "$ROOTFS/usr/bin/jc-noop" "$BENCH_TMP/noop.c"
WHAT="the recorded processes"
[[ -n $WIDE ]] && WHAT="the whole host"
bench_header "profile.sh: perf record -g -e cpu-clock ($WHAT), $N no-op spawns in $LANES lane(s), jobcell then the limit"

perf_top() { # PERF_DATA [SORT [N]]
    perf report -i "$1" --no-children --sort "${2:-sym}" --stdio -g none 2>/dev/null |
        grep -E '^ +[0-9]' | head -n "${3:-$TOP}" || true
}

# CPU ms per spawn: the sampled cpu-clock time (ns) over the spawns, warm-up
# included; with -a less the idle loop's share (comm "swapper").
perf_cpu_ms() { # PERF_DATA SPAWNS
    local total idle
    total=$(perf report -i "$1" --stdio 2>/dev/null | awk '/^# Event count/ { print $NF; exit }')
    idle=$(perf_top "$1" comm 100 | awk '$2 == "swapper" { sub("%", "", $1); print $1 }')
    awk -v t="$total" -v i="${idle:-0}" -v n="$2" 'BEGIN { printf "%.2f", t * (1 - i / 100) / 1e6 / n }'
}

REC=(perf record -q -g -e cpu-clock)
if [[ -n $WIDE ]]; then
    jc_start "$ROOTFS" '{"max_running": 65536, "log_level": "warn"}'
    REC+=(-a)
else
    # jobcelld under perf: a wrapper in its place (jc_start execs it in a
    # session of its own; jc_stop's SIGTERM reaches perf, which stops jobcelld).
    REAL=$JOBCELLD
    JOBCELLD=$BENCH_TMP/jobcelld-perf
    printf '#!/bin/sh\nexec perf record -q -g -e cpu-clock -o %q -- %q "$@"\n' "$BENCH_TMP/jobcell.data" "$REAL" >"$JOBCELLD"
    chmod 0755 "$JOBCELLD"
    jc_start "$ROOTFS" '{"max_running": 65536, "log_level": "warn"}'
fi
CLIENT=("$REPO/build/bench/jobcell-postloop" -P "$JC_PORT" -n "$N" -j "$LANES" -w 50 -t 600
    -b '{"name": "bench", "command": ["/usr/bin/jc-noop"]}')
if [[ -n $WIDE ]]; then
    echo "jobcell: $("${REC[@]}" -o "$BENCH_TMP/jobcell.data" -- "${CLIENT[@]}")"
else
    echo "jobcell: $("${CLIENT[@]}")"
fi
jc_stop
"${REC[@]}" -o "$BENCH_TMP/limit.data" -- "$LIMIT" --rootfs "$ROOTFS" --lanes "$LANES" --count "$N" \
    --warmup 50 --max-seconds 600 --cgroup-name "$BENCH_CG" --policy-dir "$REPO/policy" |
    sed 's/^/limit: /'

for run in jobcell limit; do
    echo
    echo "$run: $(perf_cpu_ms "$BENCH_TMP/$run.data" $((N + 50))) CPU ms per spawn ($WHAT)"
    echo "$run, top $TOP by self time:"
    perf_top "$BENCH_TMP/$run.data"
    echo "$run, by process (comm):"
    perf_top "$BENCH_TMP/$run.data" comm 8
done

echo
echo "jobcell against the limit, CPU ms per spawn (bench/perfdiff.py; $WHAT):"
python3 "$BENCH_DIR/perfdiff.py" --names jobcell,limit "$BENCH_TMP/jobcell.data" $((N + 50)) \
    "$BENCH_TMP/limit.data" $((N + 50)) | sed 's/^/  /'
