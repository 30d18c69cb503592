#!/usr/bin/env bash
# bench/profile.sh — where the CPU goes in one lane of spawns: perf record of
# jobcelld (with every process it starts: front, warden, the tasks) while one
# client runs N no-op tasks over HTTP, then of the limit (bench/limit.c)
# running N spawns.  Prints `perf report --no-children --sort sym`'s top
# entries for both.  A benchmark, not a test.
#
#   sudo bench/profile.sh [-n N] [-k TOP]      (default 2000 spawns, top 15)
#
# The sampling event is cpu-clock (software): these VMs have no hardware
# counters.  Only the recorded processes and their children are sampled, so
# work the kernel defers to kworkers (the net namespace's teardown) is not
# in either profile.  BENCH_KEEP_TMP=1 keeps the perf.data files.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

N=2000 TOP=15
while getopts "n:k:h" o; do
    case $o in
    n) N=$OPTARG ;;
    k) TOP=$OPTARG ;;
    *) sed -n '2,14p' "$0"; exit 2 ;;
    esac
done
[[ $N =~ ^[0-9]+$ && $N -ge 10 && $TOP =~ ^[0-9]+$ ]] || bench_die "-n: at least 10; -k: a number"

bench_require_root
bench_trap
bench_mktemp
command -v perf >/dev/null || bench_need perf linux-perf || bench_die "perf missing (apt-get install linux-perf)"
LIMIT=$REPO/build/bench/jobcell-limit
[[ -x $LIMIT ]] || bench_die "$LIMIT not built (meson compile -C build)"
ROOTFS=$BENCH_TMP/rootfs
cp -a "$ROOTFS_SRC" "$ROOTFS"
printf 'int main(void) { return 0; }\n' >"$BENCH_TMP/noop.c"
musl-gcc -static -O2 -s -o "$ROOTFS/usr/bin/jc-noop" "$BENCH_TMP/noop.c"
bench_header "profile.sh: perf record -g -e cpu-clock, $N no-op spawns in one lane, jobcell then the limit"

perf_top() { # PERF_DATA [SORT [N]]
    perf report -i "$1" --no-children --sort "${2:-sym}" --stdio -g none 2>/dev/null |
        grep -E '^ +[0-9]' | head -n "${3:-$TOP}" || true
}

# jobcelld under perf: a wrapper in its place (jc_start execs it in a
# session of its own; jc_stop's SIGTERM reaches perf, which stops jobcelld).
REAL=$JOBCELLD
JOBCELLD=$BENCH_TMP/jobcelld-perf
printf '#!/bin/sh\nexec perf record -q -g -e cpu-clock -o %q -- %q "$@"\n' "$BENCH_TMP/jobcell.data" "$REAL" >"$JOBCELLD"
chmod 0755 "$JOBCELLD"
jc_start "$ROOTFS" '{"max_running": 65536, "log_level": "warn"}'
echo "jobcell: $(python3 "$BENCH_DIR/jcclient.py" spawn --port "$JC_PORT" --n "$N" --lanes 1 --warmup 50 \
    --max-seconds 600 --cmd '["/usr/bin/jc-noop"]')"
jc_stop
perf record -q -g -e cpu-clock -o "$BENCH_TMP/limit.data" -- "$LIMIT" --rootfs "$ROOTFS" --count "$N" \
    --warmup 50 --max-seconds 600 --cgroup-name "$BENCH_CG" --policy-dir "$REPO/policy" |
    sed 's/^/limit: /'

for run in jobcell limit; do
    echo
    echo "$run (and every process it started), top $TOP by self time:"
    perf_top "$BENCH_TMP/$run.data"
    echo "$run, by process (comm):"
    perf_top "$BENCH_TMP/$run.data" comm 6
done
