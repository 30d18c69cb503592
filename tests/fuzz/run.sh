#!/usr/bin/env bash
# run.sh DURATION_SECONDS — fuzz every target for DURATION_SECONDS each.
#
# Sets up (once) a clang build with the real libFuzzer binaries in
# build-fuzz/ (-Dfuzz=true), builds them, and runs each on a scratch copy of
# its seed corpus (the seeds in the tree are never modified).  Prints, per
# target, the executions, executions per second, corpus growth and whether
# libFuzzer found anything (crash, leak, timeout, out-of-memory); findings
# are kept under build-fuzz/findings/<target>/.  Exits 1 if anything was
# found, 2 on a usage or build error.
#
# Environment: FUZZ_TARGETS (default "request policy warden config"), FUZZ_ARGS (extra
# libFuzzer flags, e.g. -max_len=65536).
set -euo pipefail

usage() { echo "usage: $0 DURATION_SECONDS" >&2; exit 2; }
[[ $# -eq 1 && $1 =~ ^[0-9]+$ && $1 -gt 0 ]] || usage
duration=$1
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$src/build-fuzz
targets=${FUZZ_TARGETS:-request policy warden config}

command -v clang >/dev/null || { echo "run.sh: clang is required" >&2; exit 2; }
cd "$src"
if [[ ! -f $build/build.ninja ]]; then
    CC=clang meson setup "$build" -Dfuzz=true -Db_lundef=false >/dev/null ||
        { echo "run.sh: meson setup failed" >&2; exit 2; }
fi
build_targets=()
for t in $targets; do build_targets+=("tests/fuzz/fuzz_$t"); done
ninja -C "$build" "${build_targets[@]}" >/dev/null ||
    { echo "run.sh: build failed (ninja -C build-fuzz)" >&2; exit 2; }

# Artifacts libFuzzer writes for a finding, sorted (for comm).
list_findings() {
    find "$1" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
        -o -name 'oom-*' \) | sort
}

found_any=0
printf '%-10s %12s %10s %14s %s\n' target execs exec/s corpus findings
for t in $targets; do
    bin=$build/tests/fuzz/fuzz_$t
    work=$(mktemp -d "${TMPDIR:-/tmp}/jc-fuzz-$t-XXXXXX")
    findings=$build/findings/$t
    mkdir -p "$work/corpus" "$findings"
    cp "$src/tests/fuzz/corpus/$t/"* "$work/corpus/"
    seeds=$(ls "$work/corpus" | wc -l)
    log=$build/findings/$t.log
    before=$(list_findings "$findings")
    set +e
    # -timeout: one input taking > 10 s is a finding (a hang).
    # -print_final_stats: the numbers reported below.
    # ASan/UBSan abort on the first error; LeakSanitizer is on.
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
    "$bin" -max_total_time="$duration" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$findings/" \
        ${FUZZ_ARGS:-} \
        "$work/corpus" >"$log" 2>&1
    rc=$?
    set -e
    execs=$(grep -h 'stat::number_of_executed_units' "$log" | awk '{s += $2} END {print s + 0}')
    rate=$(grep -h 'stat::average_exec_per_sec' "$log" | awk '{s += $2} END {print s + 0}')
    grown=$(ls "$work/corpus" | wc -l)
    artifacts=$(comm -13 <(printf '%s\n' "$before") <(list_findings "$findings"))
    if [[ $rc -ne 0 || -n $artifacts ]]; then
        found_any=1
        what="FOUND (exit $rc): ${artifacts:-see $log}"
    else
        what=none
    fi
    printf '%-10s %12s %10s %14s %s\n' "$t" "$execs" "$rate" "$seeds -> $grown" "$what"
    rm -rf "$work"
done
[[ $found_any -eq 0 ]] || { echo "run.sh: findings above; logs in $build/findings/" >&2; exit 1; }
