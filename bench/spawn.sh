#!/usr/bin/env bash
# bench/spawn.sh — what one isolated spawn costs: jobcell end-to-end over HTTP
# next to the reference tools, in one run, on the same rootfs and the same
# no-op program.  A benchmark, not a test: it prints figures.
#
#   sudo bench/spawn.sh [-n N] [-t MAX_SECONDS] [-p noop|true] [-T TOOLS]
#
#   -n N      spawns per measurement (default 500); every loop is also
#             bounded by -t seconds (default 60)
#   -p        the no-op: "noop" (default) = a static musl `int main(){return 0;}`
#             installed as /usr/bin/jc-noop in a temp copy of build/rootfs/root;
#             "true" = busybox /bin/true
#   -T        comma list among: jobcell,strict,tmpfs,unshare,bwrap,crun,exec
#             (default: all).  strict = jobcell, one lifecycle at a time;
#             tmpfs = jobcell again with its state directory on tmpfs
#             (/dev/shm) instead of the disk, to show what the task records
#             and log files cost (file creation on the disk is slow on some
#             hosts: ~0.4-0.7 ms per file on the development VMs)
#
# Rows (each measured with 1 lane, then 2 concurrent lanes, after a warm-up):
#   jobcell submit→202   POST /api/tasks on a keep-alive connection until 202
#                        (the process has exec'd); the next POST follows at
#                        once; spawns/s = N / (first POST → every task terminal)
#   jobcell strict       POST, then poll GET /api/tasks/ID until terminal;
#                        latency = POST → terminal seen
#   unshare              unshare -fpmuinUC --map-root-user --mount-proc --root ROOTFS
#   bwrap                bwrap --unshare-all --ro-bind ROOTFS / --proc /proc --dev /dev
#   crun                 crun run, OCI bundle from bench/ocibundle.py
#   exec (floor)         posix_spawn + wait of the no-op itself, no isolation
# The CLI rows are timed by bench/spawnloop.c (posix_spawn → waitpid).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

N=500 MAXS=60 PROG=noop TOOLS=jobcell,strict,tmpfs,unshare,bwrap,crun,exec
while getopts "n:t:p:T:h" o; do
    case $o in
    n) N=$OPTARG ;;
    t) MAXS=$OPTARG ;;
    p) PROG=$OPTARG ;;
    T) TOOLS=$OPTARG ;;
    *) sed -n '2,30p' "$0"; exit 2 ;;
    esac
done
[[ $N =~ ^[0-9]+$ && $N -ge 10 && $N -le 100000 ]] || bench_die "-n: 10..100000"
has() { [[ ,$TOOLS, == *,$1,* ]]; }

bench_require_root
bench_trap
bench_mktemp
WARM=$((N / 10 < 20 ? 20 : N / 10))
[[ $WARM -gt 100 ]] && WARM=100

# --- the rootfs copy and the programs -------------------------------------
cc -O2 -pthread -o "$BENCH_TMP/spawnloop" "$BENCH_DIR/spawnloop.c"
ROOTFS=$BENCH_TMP/rootfs
cp -a "$ROOTFS_SRC" "$ROOTFS"
case $PROG in
noop)
    command -v musl-gcc >/dev/null || bench_need musl-gcc musl-tools || bench_die "musl-gcc missing"
    printf 'int main(void) { return 0; }\n' >"$BENCH_TMP/noop.c"
    musl-gcc -static -O2 -s -o "$BENCH_TMP/noop" "$BENCH_TMP/noop.c"
    install -m 0755 "$BENCH_TMP/noop" "$ROOTFS/usr/bin/jc-noop"
    NOOP=/usr/bin/jc-noop
    ;;
true) NOOP=/bin/true ;;
*) bench_die "-p: noop or true" ;;
esac

bench_header "spawn.sh: N=$N per row, no-op $NOOP ($PROG), rootfs copy of $ROOTFS_SRC"

declare -A R # R[row,lanes]="n=… p50_ms=… …"
field() { sed -n "s/.*\b$2=\([^ ]*\).*/\1/p" <<<"$1"; }

loop() { # ROW LANES CMD...   (spawnloop)
    local row=$1 lanes=$2 out
    shift 2
    if ! out=$("$BENCH_TMP/spawnloop" -n "$N" -j "$lanes" -t "$MAXS" -w "$WARM" -p "jcb$$-" -- "$@"); then
        echo "# $row ($lanes lanes): FAILED: $out" >&2
    fi
    R[$row,$lanes]=$out
    echo "  $row, $lanes lane(s): $out"
}

# --- (a) jobcell over HTTP -------------------------------------------------
if has jobcell || has strict; then
    jc_start "$ROOTFS" '{"max_running": 65536, "log_level": "warn"}'
    for l in 1 2; do
        if has jobcell; then
            R[jobcell,$l]=$(python3 "$BENCH_DIR/jcclient.py" spawn --port "$JC_PORT" --n "$N" --lanes "$l" \
                --warmup "$WARM" --max-seconds "$MAXS" --cmd "[\"$NOOP\"]") || echo "# jobcell: some tasks failed" >&2
            echo "  jobcell submit->202, $l lane(s): ${R[jobcell,$l]}"
        fi
        if has strict; then
            R[strict,$l]=$(python3 "$BENCH_DIR/jcclient.py" spawn --mode strict --port "$JC_PORT" --n "$N" \
                --lanes "$l" --warmup "$WARM" --max-seconds "$MAXS" --cmd "[\"$NOOP\"]") || echo "# strict: some tasks failed" >&2
            echo "  jobcell strict, $l lane(s): ${R[strict,$l]}"
        fi
    done
    jc_stop
fi
if has tmpfs; then
    JC_STATE=$(mktemp -d /dev/shm/jcbench-state.XXXXXX)
    BENCH_CLEANUP_HOOKS+=("rm -rf --one-file-system '$JC_STATE'")
    jc_start "$ROOTFS" '{"max_running": 65536, "log_level": "warn"}'
    for l in 1 2; do
        R[tmpfs,$l]=$(python3 "$BENCH_DIR/jcclient.py" spawn --port "$JC_PORT" --n "$N" --lanes "$l" \
            --warmup "$WARM" --max-seconds "$MAXS" --cmd "[\"$NOOP\"]") || echo "# tmpfs: some tasks failed" >&2
        echo "  jobcell submit->202, state on tmpfs, $l lane(s): ${R[tmpfs,$l]}"
    done
    jc_stop
    unset JC_STATE
fi

# --- (b) unshare -----------------------------------------------------------
if has unshare; then
    for l in 1 2; do
        loop unshare "$l" unshare -fpmuinUC --map-root-user --mount-proc --root="$ROOTFS" "$NOOP"
    done
fi

# --- (c) bwrap -------------------------------------------------------------
if has bwrap; then
    if bench_need bwrap bubblewrap; then
        for l in 1 2; do
            loop bwrap "$l" bwrap --unshare-all --die-with-parent --ro-bind "$ROOTFS" / --proc /proc \
                --dev /dev --tmpfs /tmp "$NOOP"
        done
    else
        echo "# bwrap: not installed (apt-get install bubblewrap); skipped" >&2
    fi
fi

# --- (d) crun --------------------------------------------------------------
if has crun; then
    if bench_need crun crun; then
        B=$BENCH_TMP/bundle CRUNROOT=$BENCH_TMP/crun-state
        mkdir -p "$B" "$CRUNROOT"
        (cd "$B" && : | crun spec 2>&1 | cat >/dev/null)
        python3 "$BENCH_DIR/ocibundle.py" "$B/config.json" "$ROOTFS" "$REPO/policy/default.json" "$NOOP"
        # (crun's stdio are pipes here too: `crun run` chowns its stdio to
        # the container's user, so it must never get a terminal or /dev/null.)
        BENCH_CLEANUP_HOOKS+=("for c in \$(: | crun --root '$CRUNROOT' list -q 2>/dev/null | cat); do : | crun --root '$CRUNROOT' delete -f \"\$c\" 2>&1 | cat >/dev/null; done; \
            find /sys/fs/cgroup -maxdepth 2 -type d -name 'jcb$$-*' -exec rmdir {} + 2>/dev/null")
        # crun 1.x refuses a hybrid host whose cgroup2 hierarchy has any
        # controller ("cgroups in hybrid mode not supported"); on such a host
        # crun runs in a private mount namespace where that file reads empty
        # (host untouched), and then uses the v1 hierarchies like jobcell.
        WRAP=()
        if [[ -n $(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null) ]]; then
            : >"$BENCH_TMP/empty"
            # shellcheck disable=SC2016 # expanded by the inner sh
            WRAP=(unshare -m --propagation private sh -c
                'mount --bind "$0" /sys/fs/cgroup/unified/cgroup.controllers && exec "$@"' "$BENCH_TMP/empty")
            echo "  (crun: hybrid host with cgroup2 controllers $(cat /sys/fs/cgroup/unified/cgroup.controllers); hidden from crun in a private mount namespace)"
        fi
        for l in 1 2; do
            if ! out=$("${WRAP[@]}" "$BENCH_TMP/spawnloop" -n "$N" -j "$l" -t "$MAXS" -w "$WARM" -p "jcb$$-" -- \
                crun --root "$CRUNROOT" run --bundle "$B" "{}"); then
                echo "# crun ($l lanes): FAILED: $out" >&2
            fi
            R[crun,$l]=$out
            echo "  crun, $l lane(s): $out"
        done
    else
        echo "# crun: not installed (apt-get install crun); skipped" >&2
    fi
fi

# --- floor: the no-op without isolation -------------------------------------
if has exec; then
    for l in 1 2; do
        loop exec "$l" "$ROOTFS$NOOP"
    done
fi

# --- the table ---------------------------------------------------------------
echo
printf '| %-28s | %7s | %7s | %7s | %9s | %9s | %13s |\n' tool "p50 ms" "p95 ms" "p99 ms" "spawns/s" "spawns/s" "p50 ms"
printf '| %-28s | %7s | %7s | %7s | %9s | %9s | %13s |\n' "" "1 lane" "1 lane" "1 lane" "1 lane" "2 lanes" "2 lanes"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' ------------------------------ --------- --------- --------- ----------- ----------- ---------------
names=(jobcell "jobcell HTTP submit->202" strict "jobcell HTTP POST->terminal" tmpfs "  same, state dir on tmpfs"
    unshare "unshare -fpmuinUC" bwrap "bwrap --unshare-all" crun "crun run" exec "exec, no isolation (floor)")
for ((i = 0; i < ${#names[@]}; i += 2)); do
    k=${names[i]}
    [[ -n ${R[$k,1]:-} ]] || continue
    a=${R[$k,1]} b=${R[$k,2]:-}
    flag=""
    [[ $(field "$a" fail) == 0 && ( -z $b || $(field "$b" fail) == 0 ) ]] || flag=" (FAILURES)"
    printf '| %-28s | %7s | %7s | %7s | %9s | %9s | %13s |\n' "${names[i + 1]}$flag" \
        "$(field "$a" p50_ms)" "$(field "$a" p95_ms)" "$(field "$a" p99_ms)" "$(field "$a" rate)" \
        "$(field "$b" rate)" "$(field "$b" p50_ms)"
done
