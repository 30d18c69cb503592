#!/usr/bin/env bash
# bench/memory.sh — what an idle task costs: jobcelld's own bookkeeping (RSS
# of the warden and of the front) and the kernel's (MemAvailable, Slab, page
# tables, kernel stacks), per task.  A benchmark, not a test: it prints figures.
#
#   sudo bench/memory.sh [-n N] [-R RETAINED]
#
# Starts jobcelld (max_running raised to 2·N by its config file), runs 20
# no-op tasks to warm it up, reads the figures, starts N idle tasks
# (["/bin/sleep","600"]), waits until every one is running, reads again,
# then cancels each (DELETE) and checks that all of them end as "cancelled",
# and reads a third time (what is left once they are gone).
# /proc/meminfo is host-wide: other activity on the host shows up as noise;
# each reading is the median of 5 samples.
# -R RETAINED (default 0): then RETAINED more tasks (["/bin/true"]) run to
# their end, and the daemon's RSS growth per retained finished record is
# read (max_records is raised so none is pruned).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

N=200 RET=0
while getopts "n:R:h" o; do
    case $o in
    n) N=$OPTARG ;;
    R) RET=$OPTARG ;;
    *) sed -n '2,18p' "$0"; exit 2 ;;
    esac
done
[[ $N =~ ^[0-9]+$ && $N -ge 10 && $N -le 5000 ]] || bench_die "-n: 10..5000"
[[ $RET =~ ^[0-9]+$ && $RET -le 100000 ]] || bench_die "-R: 0..100000"

bench_require_root
bench_trap
bench_mktemp
bench_build
bench_header "memory.sh: N=$N idle tasks (/bin/sleep 600), then $RET retained finished records"
jc_start "$ROOTFS_SRC" "{\"max_running\": $((N * 2)), \"max_records\": $((2 * (N + RET) + 1000))}"
FRONT=$(jc_front_pid)
[[ -n $FRONT ]] || bench_die "cannot find the front process"

# One reading: warden RSS, front RSS (kB), then MemAvailable Slab SUnreclaim
# PageTables KernelStack (kB); the median of 5 samples 0.2 s apart.
reading() {
    python3 - "$JC_PID" "$FRONT" <<'EOF'
import sys, time, statistics
pids = sys.argv[1:3]
keys = ["MemAvailable", "Slab", "SUnreclaim", "PageTables", "KernelStack"]
samples = []
for i in range(5):
    row = []
    for p in pids:
        for line in open("/proc/%s/status" % p):
            if line.startswith("VmRSS:"):
                row.append(int(line.split()[1]))
    mi = {l.split(":")[0]: int(l.split()[1]) for l in open("/proc/meminfo")}
    row += [mi[k] for k in keys]
    samples.append(row)
    time.sleep(0.2)
print(" ".join(str(int(statistics.median(c))) for c in zip(*samples)))
EOF
}

python3 "$BENCH_DIR/jcclient.py" spawn --port "$JC_PORT" --n 20 --warmup 0 --cmd '["/bin/true"]' >/dev/null
sleep 1
read -r w0 f0 ma0 sl0 su0 pt0 ks0 < <(reading)

t0=$(date +%s.%N)
python3 "$BENCH_DIR/jcclient.py" submit --port "$JC_PORT" --n "$N" --cmd '["/bin/sleep","600"]' >"$BENCH_TMP/ids"
t1=$(date +%s.%N)
[[ $(wc -l <"$BENCH_TMP/ids") == "$N" ]] || bench_die "not all $N tasks were accepted"
alive=$(python3 "$BENCH_DIR/jcclient.py" running --port "$JC_PORT")
[[ $alive == "$N" ]] || bench_die "$alive tasks alive, expected $N"
cgmem=$(cat "/sys/fs/cgroup/memory/$BENCH_CG/memory.usage_in_bytes" 2>/dev/null ||
    cat "/sys/fs/cgroup/$BENCH_CG/memory.current" 2>/dev/null || echo 0)
sleep 2
read -r w1 f1 ma1 sl1 su1 pt1 ks1 < <(reading)

python3 "$BENCH_DIR/jcclient.py" cancel --port "$JC_PORT" --ids "$BENCH_TMP/ids" >"$BENCH_TMP/cancel.txt" ||
    { cat "$BENCH_TMP/cancel.txt"; bench_die "not every task ended as cancelled"; }
sleep 3 # network namespaces are torn down asynchronously
read -r w2 f2 ma2 sl2 su2 pt2 ks2 < <(reading)

per() { python3 -c "print('%.1f' % (($1) * 1024 / $N / 1024))"; } # kB per task
echo "started $N tasks in $(python3 -c "print('%.2f' % ($t1 - $t0))") s; $(cat "$BENCH_TMP/cancel.txt")"
echo
printf '| %-34s | %10s | %10s | %12s | %12s |\n' "per idle task" "before kB" "with N kB" "per task kB" "after cancel"
printf '|%s|%s|%s|%s|%s|\n' ------------------------------------ ------------ ------------ -------------- --------------
row() { # label before with after   (after: kB above "before", per task)
    printf '| %-34s | %10s | %10s | %12s | %12s |\n' "$1" "$2" "$3" "$(per "$3 - $2")" "$(per "$4 - $2")"
}
row "warden RSS (root)" "$w0" "$w1" "$w2"
row "front RSS (HTTP, task table)" "$f0" "$f1" "$f2"
row "daemon total RSS" "$((w0 + f0))" "$((w1 + f1))" "$((w2 + f2))"
row "kernel: MemAvailable drop" "0" "$((ma0 - ma1))" "$((ma0 - ma2))"
row "kernel: Slab" "$sl0" "$sl1" "$sl2"
row "kernel: SUnreclaim" "$su0" "$su1" "$su2"
row "kernel: PageTables" "$pt0" "$pt1" "$pt2"
row "kernel: KernelStack" "$ks0" "$ks1" "$ks2"
echo "tasks' cgroups (memory.usage_in_bytes, all $N): $((cgmem / 1024)) kB = $(per "$cgmem / 1024") kB per task"

if [[ $RET -gt 0 ]]; then
    t0=$(date +%s.%N)
    out=$(python3 "$BENCH_DIR/jcclient.py" spawn --port "$JC_PORT" --n "$RET" --lanes 2 --warmup 0 \
        --max-seconds 3600 --cmd '["/bin/true"]') || bench_die "not every retained task succeeded: $out"
    t1=$(date +%s.%N)
    sleep 2
    read -r w3 f3 _ < <(reading)
    perr() { python3 -c "print('%.2f' % (($1) / $RET))"; } # kB per retained record
    echo
    echo "retained: $RET finished tasks in $(python3 -c "print('%.1f' % ($t1 - $t0))") s ($out)"
    echo "per retained finished record: warden $(perr "$w3 - $w2") kB, front $(perr "$f3 - $f2") kB," \
        "daemon total $(perr "$w3 + $f3 - $w2 - $f2") kB (RSS $((w2 + f2)) -> $((w3 + f3)) kB)"
fi

# Issue 10's targets (docs/performance.md): jobcelld's own bookkeeping.
echo
echo "Against the targets (issue 10; figures of this run, never a test):"
k=$(per "$w1 + $f1 - $w0 - $f0")
echo "  bookkeeping: $k kB per running task, at $N (<= 13: $(target "$k" le 13))"
if [[ $RET -gt 0 ]]; then
    k=$(perr "$w3 + $f3 - $w2 - $f2")
    echo "  bookkeeping: $k kB per retained finished record, at $RET (<= 2: $(target "$k" le 2))"
fi
