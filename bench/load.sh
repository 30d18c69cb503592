#!/usr/bin/env bash
# bench/load.sh — k6.js's load profile and thresholds, run with wrk (k6 is
# not packaged by Debian), against a jobcelld of its own.  Exits non-zero if
# a threshold fails.  A benchmark, not a test: it needs root and a quiet-ish
# host, and it is never part of `meson test`.
#
#   sudo bench/load.sh [-r MAX_RUNNING] [-q MAX_QUEUED]
#
# The daemon runs with max_running 64 (the default of a 2-core host) and
# max_queued 256 unless told otherwise; the tasks are k6.js's: the built-in
# worker with one of eight names and a duration of 1–5 s (3 s mean: the
# host drains ~21 tasks/s).  Phases, one wrk run each (bench/load.lua; C
# connections, each waiting ~D ms between requests, offer ~C×1000/D /s):
#   steady   30 s at 15/s  (6 conns, 400 ms): every POST must be accepted
#   burst     5 s at 80/s  (24 conns, 300 ms), then 10 s at 150/s (30
#            conns, 200 ms): the running set fills, then the queue (202
#            "queued"), then 503 + Retry-After
#   recover  20 s at 5/s   (2 conns, 400 ms): accepted again at once
# Thresholds (k6.js's): in every phase p95 < 500 ms and p99 < 1000 ms (wrk
# reports percentiles per run); failed < 1 % of all requests (failed: a
# status other than 202 or 503, a 503 without Retry-After, a socket error);
# accepted (202) > 99 % of the POSTs in steady and in recover, so a daemon
# that answers 503 to everything fails; at least one 503 in the burst (the
# arithmetic guarantees it: 1 700 offered, at most 64 + 256 + 15 × 21 fit).
# Then every accepted task must end "succeeded" within 120 s.
# /healthz is sampled every 0.25 s to show the running set and the queue.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

MAXRUN=64 MAXQ=256
while getopts "r:q:h" o; do
    case $o in
    r) MAXRUN=$OPTARG ;;
    q) MAXQ=$OPTARG ;;
    *) sed -n '2,30p' "$0"; exit 2 ;;
    esac
done
[[ $MAXRUN =~ ^[0-9]+$ && $MAXQ =~ ^[0-9]+$ ]] || bench_die "-r and -q take integers"

bench_require_root
bench_trap
bench_mktemp
bench_build
bench_need wrk wrk || bench_die "wrk missing (apt-get install wrk)"
bench_header "load.sh: k6.js's profile under wrk, max_running $MAXRUN, max_queued $MAXQ"
jc_start "$ROOTFS_SRC" "{\"max_running\": $MAXRUN, \"max_queued\": $MAXQ, \"per_ip_connections\": 128, \"log_level\": \"warn\"}"
URL=http://127.0.0.1:$JC_PORT

# /healthz every 0.25 s: "seconds running queued" lines.
sampler() {
    local t0=$SECONDS
    while :; do
        curl -fsS "$URL/healthz" 2>/dev/null |
            python3 -c 'import json,sys; t=json.load(sys.stdin)["tasks"]; print(sys.argv[1], t["running"], t["queued"])' \
                "$((SECONDS - t0))" 2>/dev/null || true
        sleep 0.25
    done
}
sampler >"$BENCH_TMP/healthz.txt" &
BENCH_PIDS+=("$!")

declare -A P
phase() { # NAME SECONDS CONNS DELAY_MS
    local out
    out=$(JC_DELAY_MS=$4 timeout $(($2 + 30)) wrk -t2 -c"$3" -d"$2s" --timeout 10s -s "$BENCH_DIR/load.lua" \
        "$URL/api/tasks" 2>&1) || true
    P[$1]=$(grep '^result ' <<<"$out" || echo "result requests=0 c202=0 queued=0 c503=0 c503_noretry=0 other=0 sockerr=1")
    echo "  $1: $2 s, $3 connections, ~$(($3 * 1000 / $4))/s offered: ${P[$1]#result }"
}
phase steady 30 6 400
phase burst-ramp 5 24 300
phase burst 10 30 200
phase recover 20 2 400

# Every accepted task must end well (nothing acknowledged is lost).
end=$((SECONDS + 120))
while [[ $SECONDS -lt $end && $(python3 "$BENCH_DIR/jcclient.py" running --port "$JC_PORT") != 0 ]]; do sleep 1; done
kill "${BENCH_PIDS[@]}" 2>/dev/null || true
BENCH_PIDS=()
states=$(python3 - "$JC_PORT" <<'EOF'
import http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=30)
n, cursor = {}, None
while True:
    c.request("GET", "/api/tasks?limit=1000" + ("&cursor=" + cursor if cursor else ""))
    d = json.loads(c.getresponse().read())
    for t in d["tasks"]:
        n[t["state"]] = n.get(t["state"], 0) + 1
    cursor = d.get("next_cursor")
    if not cursor:
        break
print(" ".join("%s=%d" % kv for kv in sorted(n.items())))
EOF
)
read -r qmax rmax < <(awk '$3 > q { q = $3 } $2 > r { r = $2 } END { print q + 0, r + 0 }' "$BENCH_TMP/healthz.txt")
echo "  /healthz during the run: running at most $rmax (max_running $MAXRUN), queued at most $qmax (max_queued $MAXQ)"
echo "  records afterwards: $states"

# --- thresholds -------------------------------------------------------------
FAILS=0
verdict() { # OK? TEXT
    if [[ $1 == 1 ]]; then echo "  ok    $2"; else echo "  FAIL  $2"; FAILS=$((FAILS + 1)); fi
}
lt() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 < b + 0) ? 1 : 0 }'; }
total=0 failed=0 accepted=0
for ph in steady burst-ramp burst recover; do
    r=${P[$ph]}
    total=$((total + $(field "$r" requests)))
    failed=$((failed + $(field "$r" other) + $(field "$r" c503_noretry) + $(field "$r" sockerr)))
    accepted=$((accepted + $(field "$r" c202)))
    verdict "$(lt "$(field "$r" p95_ms)" 500)" "$ph: p95 $(field "$r" p95_ms) ms < 500 ms"
    verdict "$(lt "$(field "$r" p99_ms)" 1000)" "$ph: p99 $(field "$r" p99_ms) ms < 1000 ms"
done
verdict "$(lt "$failed" "$(awk -v t="$total" 'BEGIN { print t * 0.01 }')")" "failed $failed of $total requests < 1 %"
for ph in steady recover; do
    r=${P[$ph]} req=$(field "${P[$ph]}" requests)
    verdict "$(awk -v a="$(field "$r" c202)" -v n="$req" 'BEGIN { print (n > 0 && a > 0.99 * n) ? 1 : 0 }')" \
        "$ph: accepted $(field "$r" c202) of $req > 99 %"
done
verdict "$([[ $(field "${P[burst]}" c503) -gt 0 ]] && echo 1 || echo 0)" \
    "burst: shed with 503 + Retry-After: $(field "${P[burst]}" c503) (queued: $(( $(field "${P[burst-ramp]}" queued) + $(field "${P[burst]}" queued) )))"
succeeded=$(sed -n 's/.*succeeded=\([0-9]*\).*/\1/p' <<<"$states")
verdict "$([[ ${succeeded:-0} -eq $accepted && $states != *running* && $states != *queued* ]] && echo 1 || echo 0)" \
    "every accepted task succeeded: ${succeeded:-0} of $accepted"
echo "load.sh: $([[ $FAILS == 0 ]] && echo PASS || echo "FAIL ($FAILS thresholds)")"
[[ $FAILS == 0 ]]
