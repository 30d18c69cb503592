#!/usr/bin/env bash
# bench/threads.sh — what each of the daemon's threads costs per spawn: CPU
# (utime + stime from /proc/PID/task/TID/stat) and voluntary context
# switches (wake-ups: /proc/PID/task/TID/status) of every thread of the
# warden and the front, named as docs/design.md ("Threads") lists them,
# over N no-op spawns in L lanes (bench/postloop.c: keep-alive POSTs until
# 202, every task terminal), after a warm-up; and the CPU of the warden's
# reaped children (the tasks: stub, init, program).  Deterministic where a
# rate is not: a wake-up saved is counted here even when the host's
# speed, which drifts by ±15 % from one minute to the next on these VMs,
# hides its CPU.  Ends with what one wake-up costs here, on one CPU and
# across two (build/bench/jobcell-wakeup).  A benchmark, not a test.
#
#   sudo bench/threads.sh [-n N] [-l LANES]   (default 3000 spawns, 4 lanes)
#
# JOBCELLD=path measures another build (an A/B: its stub beside it).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

N=3000 LANES=4
while getopts "n:l:h" o; do
    case $o in
    n) N=$OPTARG ;;
    l) LANES=$OPTARG ;;
    *) sed -n '2,16p' "$0"; exit 2 ;;
    esac
done
[[ $N =~ ^[0-9]+$ && $N -ge 10 && $LANES =~ ^[1-9][0-9]*$ ]] || bench_die "-n: at least 10; -l: at least 1"

bench_require_root
bench_trap
bench_mktemp
bench_build
ROOTFS=$BENCH_TMP/rootfs
cp -a "$ROOTFS_SRC" "$ROOTFS"
printf 'int main(void) { return 0; }\n' >"$BENCH_TMP/noop.c"
musl-gcc -static -O2 -s -o "$ROOTFS/usr/bin/jc-noop" "$BENCH_TMP/noop.c"
bench_header "threads.sh: CPU and wake-ups per spawn of each daemon thread, $N no-op spawns in $LANES lane(s)"

jc_start "$ROOTFS" '{"max_running": 65536, "log_level": "warn"}'
FRONT=$(jc_front_pid)
[[ -n $FRONT ]] || bench_die "no front process"

# One line per thread: "process/name/tid cpu_ticks switches", then the
# warden's reaped children's CPU ticks.
snapshot() {
    local p t
    for p in "$JC_PID" "$FRONT"; do
        local role=warden
        [[ $p == "$FRONT" ]] && role=front
        for t in /proc/"$p"/task/*; do
            printf '%s/%s/%s %s %s\n' "$role" "$(tr ' ' _ <"$t/comm")" "${t##*/}" \
                "$(awk '{ print $14 + $15 }' "$t/stat")" \
                "$(awk '/^voluntary_ctxt_switches/ { print $2 }' "$t/status")"
        done
    done
    awk '{ print "warden/(reaped_children)/- " $16 + $17 " 0" }' /proc/"$JC_PID"/stat
}

CLIENT=("$REPO/build/bench/jobcell-postloop" -P "$JC_PORT" -j "$LANES" -t 600
    -b '{"name": "bench", "command": ["/usr/bin/jc-noop"]}')
"${CLIENT[@]}" -n 200 -w 50 >/dev/null
snapshot >"$BENCH_TMP/before"
echo "jobcell: $("${CLIENT[@]}" -n "$N" -w 0)"
snapshot >"$BENCH_TMP/after"
jc_stop

HZ=$(getconf CLK_TCK)
echo
printf '| %-34s | %12s | %16s |\n' "process / thread / tid" "CPU ms/spawn" "wake-ups/spawn"
printf '|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..36})" "$(printf -- '-%.0s' {1..14})" "$(printf -- '-%.0s' {1..18})"
join <(sort "$BENCH_TMP/before") <(sort "$BENCH_TMP/after") |
    awk -v n="$N" -v hz="$HZ" '
        { cpu = ($4 - $2) * 1000 / hz / n; cs = ($5 - $3) / n
          if (cpu == 0 && cs == 0) next
          printf "| %-34s | %12.3f | %16.2f |\n", $1, cpu, cs
          tc += cpu; if ($1 !~ /reaped/) { td += cpu; ts += cs } }
        END { printf "| %-34s | %12.3f | %16.2f |\n", "the daemon'"'"'s threads", td, ts
              printf "| %-34s | %12.3f | %16s |\n", "with its reaped children", tc, "" }'
echo
echo "What a wake-up costs on this host (build/bench/jobcell-wakeup: a token passed between two threads):"
"$REPO/build/bench/jobcell-wakeup" 20000 | tail -n +2
