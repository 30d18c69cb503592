#!/usr/bin/env bash
# bench/http.sh — jobcelld's HTTP layer under load, with wrk on keep-alive
# connections to 127.0.0.1.  A benchmark, not a test: it prints figures.
#
#   sudo bench/http.sh [-d SECONDS] [-c CONNECTIONS] [-m MAX_RUNNING]
#
# Phases, each bounded to -d seconds (default 10):
#   1. GET /healthz                       req/s, latency
#   ref. nginx (one worker) serving phase 2's record as a static file: the
#      host's HTTP reference for the GETs, in the same run (skipped, and
#      said, without nginx)
#   2. GET /api/tasks/ID (a finished task: SQLite) req/s, latency
#   2b. GET /api/tasks/ID (a running task: the front's table) req/s, latency
#   3. POST /api/tasks ["/bin/true"]      202 (spawned) vs 503 (shed) per second:
#                                         the spawn rate with concurrent clients
#   4. POST /api/tasks ["/bin/sleep","300"] with max_running = -m (default 64)
#      and no queue (max_queued 0):
#      the first MAX_RUNNING get 202, then every POST must get 503 +
#      Retry-After at once; meanwhile a second wrk GETs /healthz, to show the
#      daemon keeps serving while it sheds.  Then every task is cancelled and
#      must end.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

DUR=10 CONNS=32 MAXRUN=64
while getopts "d:c:m:h" o; do
    case $o in
    d) DUR=$OPTARG ;;
    c) CONNS=$OPTARG ;;
    m) MAXRUN=$OPTARG ;;
    *) sed -n '2,22p' "$0"; exit 2 ;;
    esac
done
[[ $DUR =~ ^[0-9]+$ && $DUR -ge 1 && $DUR -le 60 ]] || bench_die "-d: 1..60 seconds"
[[ $CONNS =~ ^[0-9]+$ && $CONNS -ge 2 && $CONNS -le 60 ]] || bench_die "-c: 2..60 (per-IP limit 64)"

bench_require_root
bench_trap
bench_mktemp
bench_build
bench_need wrk wrk || bench_die "wrk missing (apt-get install wrk)"
bench_header "http.sh: wrk, $CONNS keep-alive connections, ${DUR}s per phase, max_running $MAXRUN"

CONFIG="{\"max_running\": $MAXRUN, \"per_ip_connections\": 128, \"max_connections\": 512}"
jc_start "$ROOTFS_SRC" "$CONFIG"
URL=http://127.0.0.1:$JC_PORT
CRASHES=0

# After a phase: if jobcelld died, say so (with its last log lines) and start
# a fresh one so the next phases still run.
check_alive() { # PHASE
    if kill -0 "$JC_PID" 2>/dev/null && curl -fsS -o /dev/null "$URL/healthz" 2>/dev/null; then
        return 0
    fi
    CRASHES=$((CRASHES + 1))
    echo "   !! jobcelld DIED during phase $1; last log lines:"
    tail -n 5 "$BENCH_TMP/jobcelld.log" | sed 's/^/   !! /'
    jc_stop
    bench_rm_cgroups "$BENCH_CG"
    jc_start "$ROOTFS_SRC" "$CONFIG"
    URL=http://127.0.0.1:$JC_PORT
    echo "   (restarted jobcelld for the next phases)"
}
WRK=(timeout $((DUR + 30)) wrk -t2 -c"$CONNS" -d"${DUR}s" --latency)

# wrk's output → one line: req/s, p50/p90/p99 latency, non-2xx, socket errors.
summ() {
    awk '
        /Requests\/sec/ { rps = $2 }
        /^ +50%/ { p50 = $2 } /^ +90%/ { p90 = $2 } /^ +99%/ { p99 = $2 }
        /Non-2xx/ { non2 = $NF }
        /Socket errors/ { sock = $0; sub(/^ *Socket errors: */, "", sock) }
        /^status:/ { st = $0 }
        END { printf "req/s=%s p50=%s p90=%s p99=%s non2xx=%s%s%s\n", rps, p50, p90, p99,
              non2 == "" ? 0 : non2, sock == "" ? "" : " socket_errors=(" sock ")",
              st == "" ? "" : " " st }'
}

echo "1. GET /healthz:          $("${WRK[@]}" "$URL/healthz" | summ)"
check_alive 1

TID=$(curl -fsS -X POST -H 'Content-Type: application/json' \
    -d '{"name":"bench","command":["/bin/true"]}' "$URL/api/tasks" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
sleep 0.5

# ref. The reference: nginx serving the same bytes, one worker, no log.
nginx_ref() {
    local port dir=$BENCH_TMP/nginx
    port=$(bench_free_port)
    mkdir -p "$dir/html"
    curl -fsS "$URL/api/tasks/$TID" >"$dir/html/record.json"
    cat >"$dir/nginx.conf" <<NGX
worker_processes 1;
error_log $dir/error.log;
pid $dir/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 10000000;
    server { listen 127.0.0.1:$port; root $dir/html; }
}
NGX
    nginx -c "$dir/nginx.conf" -p "$dir" || return 1
    BENCH_CLEANUP_HOOKS+=("nginx -c '$dir/nginx.conf' -p '$dir' -s stop 2>/dev/null")
    echo "ref. nginx, same record: $("${WRK[@]}" "http://127.0.0.1:$port/record.json" | summ) ($(wc -c <"$dir/html/record.json") bytes)"
    nginx -c "$dir/nginx.conf" -p "$dir" -s stop 2>/dev/null
}
if bench_need nginx nginx; then
    nginx_ref || echo "ref. nginx: could not start (see $BENCH_TMP/nginx/error.log)"
else
    echo "ref. nginx: skipped (not installed: apt-get install nginx)"
fi

GET_FINISHED=$("${WRK[@]}" "$URL/api/tasks/$TID" | summ)
echo "2. GET /api/tasks/ID:     $GET_FINISHED"
check_alive 2
RID=$(curl -fsS -X POST -H 'Content-Type: application/json' \
    -d '{"name":"bench","command":["/bin/sleep","300"]}' "$URL/api/tasks" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
GET_RUNNING=$("${WRK[@]}" "$URL/api/tasks/$RID" | summ)
echo "2b. GET a running task:   $GET_RUNNING"
curl -fsS -o /dev/null -X DELETE "$URL/api/tasks/$RID"
check_alive 2b

out=$(JC_BODY='{"name":"bench","command":["/bin/true"]}' "${WRK[@]}" -s "$BENCH_DIR/post.lua" "$URL/api/tasks" || true)
echo "3. POST /bin/true:        $(summ <<<"$out")"
c202=$(sed -n 's/^status: 202=\([0-9]*\).*/\1/p' <<<"$out")
echo "   -> $(python3 -c "print('%.0f' % (${c202:-0} / $DUR))") tasks spawned/s with $CONNS concurrent clients"
check_alive 3
# Let them all end before the next phase.
for _ in $(seq 300); do
    [[ $(python3 "$BENCH_DIR/jcclient.py" running --port "$JC_PORT") == 0 ]] && break
    sleep 0.1
done

# 4. Shedding: fill max_running with sleepers, keep POSTing, watch /healthz.
# A daemon without a queue (max_queued 0), so that the shedding starts at
# max_running itself.
jc_stop
CONFIG="{\"max_running\": $MAXRUN, \"max_queued\": 0, \"per_ip_connections\": 128, \"max_connections\": 512}"
jc_start "$ROOTFS_SRC" "$CONFIG"
URL=http://127.0.0.1:$JC_PORT
"${WRK[@]}" -c 4 "$URL/healthz" >"$BENCH_TMP/healthz-during.txt" &
hz=$!
BENCH_PIDS+=("$hz")
out=$(JC_BODY='{"name":"bench","command":["/bin/sleep","300"],"limits":{"timeout_s":120}}' \
    "${WRK[@]}" -s "$BENCH_DIR/post.lua" "$URL/api/tasks" || true)
wait "$hz" || true
BENCH_PIDS=()
echo "4. POST /bin/sleep 300:   $(summ <<<"$out")"
echo "   GET /healthz meanwhile: $(summ <"$BENCH_TMP/healthz-during.txt")"
hdr=$(curl -sS -D - -o /dev/null -X POST -H 'Content-Type: application/json' \
    -d '{"name":"bench","command":["/bin/true"]}' "$URL/api/tasks" | tr -d '\r' | grep -iE '^(HTTP|Retry-After)' | tr '\n' ' ')
echo "   one more POST: $hdr; alive: $(python3 "$BENCH_DIR/jcclient.py" running --port "$JC_PORT") (max_running $MAXRUN)"
curl -fsS "$URL/api/tasks?state=running&limit=1000" |
    python3 -c 'import json,sys; [print(t["id"]) for t in json.load(sys.stdin)["tasks"]]' >"$BENCH_TMP/ids"
echo "   cancel: $(python3 "$BENCH_DIR/jcclient.py" cancel --port "$JC_PORT" --ids "$BENCH_TMP/ids")"
check_alive 4
if [[ $CRASHES -gt 0 ]]; then
    echo "# jobcelld died $CRASHES time(s); see above"
    exit 1
fi

# Issue 10's target (docs/performance.md): GET /api/tasks/{id} >= 50 000
# requests/s with keep-alive, a finished record and a running one.
echo
echo "Against the target (issue 10; figures of this run, never a test):"
for k in finished running; do
    v=GET_${k^^}
    r=$(sed -n 's/.*req\/s=\([0-9.]*\).*/\1/p' <<<"${!v}")
    echo "  GET of a $k record: $r req/s (>= 50000: $(target "$r" ge 50000))"
done
