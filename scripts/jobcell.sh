#!/usr/bin/env bash
# scripts/jobcell.sh — the two commands of README.md.
#
#   sudo scripts/jobcell.sh run [jobcelld flags...]   set up, build, run jobcelld
#   sudo scripts/jobcell.sh test                      set up, build, run every suite
#   sudo scripts/jobcell.sh setup                     set up and build only (bench/ uses it)
#
# Set-up installs the Debian/Ubuntu packages that are missing, creates the
# service user "jobcell", builds with meson/ninja and assembles the rootfs.
# "test" runs: the unit, fuzz-corpus and integration suites (host: cgroup v1
# or v2, whatever it has), the same under ASan+UBSan, and the integration
# suite again inside a cgroup v2 VM (tests/vm/run.sh), and the installed
# systemd unit under systemd as PID 1 in that VM (run.sh --systemd).  It ends with one line
# "tests: N passed, N failed, N skipped" and exits non-zero on any failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

build_pkgs=(gcc libc6-dev pkg-config meson ninja-build libmicrohttpd-dev libjson-c-dev
            libseccomp-dev libcap-dev nettle-dev libsqlite3-dev libsystemd-dev musl-tools
            busybox-static python3 curl)
test_pkgs=(qemu-system-x86 xz-utils cpio prometheus groff-base nginx e2fsprogs)

die() { echo "jobcell.sh: $*" >&2; exit 1; }
say() { echo "==> $*" >&2; }

missing_pkgs() {
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
    done
}

install_pkgs() {
    local -a need
    mapfile -t need < <(missing_pkgs "$@")
    ((${#need[@]} == 0)) && return 0
    say "installing: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}

ensure_user() {
    id -u jobcell >/dev/null 2>&1 && return 0
    say "creating the service user 'jobcell'"
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin jobcell
}

build() { # build DIR [meson options...]
    local dir=$1; shift
    if [[ ! -f $dir/build.ninja ]]; then
        say "configuring $dir"
        meson setup "$dir" "$@" >/dev/null
    fi
    say "building $dir"
    meson compile -C "$dir" >/dev/null
}

setup() {
    [[ $(id -u) == 0 ]] || die "run as root (sudo $0 $*): jobcelld is a privileged service"
    install_pkgs "${build_pkgs[@]}"
    ensure_user
    build build
}

# Counts of one meson test run, from its JSON log: "passed failed skipped".
count_log() {
    python3 - "$1" <<'PY'
import json, sys
p = f = s = 0
for line in open(sys.argv[1]):
    r = json.loads(line).get("result")
    if r in ("OK", "EXPECTEDFAIL"): p += 1
    elif r == "SKIP": s += 1
    else: f += 1
print(p, f, s)
PY
}

declare -i total_pass=0 total_fail=0 total_skip=0
suite_status=0

run_suite() { # run_suite LABEL LOGFILE command...
    local label=$1 log=$2; shift 2
    say "$label"
    rm -f "$log"
    "$@" || suite_status=1
    if [[ -f $log ]]; then
        read -r p f s < <(count_log "$log")
        echo "$label: $p passed, $f failed, $s skipped" >&2
        total_pass+=p; total_fail+=f; total_skip+=s
    else
        echo "$label: no test log (the suite did not run)" >&2
        total_fail+=1; suite_status=1
    fi
}

cmd_test() {
    setup
    install_pkgs "${test_pkgs[@]}"
    export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
    run_suite "host suites (unit, fuzz-corpus, integration)" build/meson-logs/testlog.json \
        meson test -C build --print-errorlogs
    build build-asan -Db_sanitize=address,undefined -Db_lundef=false
    run_suite "ASan+UBSan build, all suites" build-asan/meson-logs/testlog.json \
        meson test -C build-asan --print-errorlogs
    run_suite "cgroup v2 VM, integration suite" build/meson-logs/vm.json \
        tests/vm/run.sh --timeout 2400 --console build/meson-logs/vm-console.log -- env JOBCELL_TEST_SLOW=6 \
        meson test -C build --suite integration --no-suite any-cgroup --logbase vm --print-errorlogs --no-rebuild \
        --timeout-multiplier 4
    # The installed unit under systemd as PID 1 (suite systemd only): the
    # install is made here, at host speed, and copied into the guest's /.
    rm -rf build/systemd-destdir
    meson install -C build --no-rebuild --quiet --destdir "$here/build/systemd-destdir" >/dev/null ||
        { echo "meson install --destdir build/systemd-destdir failed" >&2; suite_status=1; }
    run_suite "systemd as PID 1 in the cgroup v2 VM" build/meson-logs/vm-systemd.json \
        tests/vm/run.sh --systemd --timeout 900 --console build/meson-logs/vm-systemd-console.log -- env JOBCELL_TEST_SLOW=6 \
        JOBCELL_TEST_DESTDIR="$here/build/systemd-destdir" \
        meson test -C build --suite systemd --logbase vm-systemd --print-errorlogs --no-rebuild \
        --timeout-multiplier 4
    echo "tests: $total_pass passed, $total_fail failed, $total_skip skipped"
    return $((suite_status || total_fail > 0))
}

cmd_run() {
    setup
    say "starting jobcelld (Ctrl-C stops it and every task)"
    exec ./build/src/jobcelld "$@"
}

case ${1:-} in
    run) shift; cmd_run "$@" ;;
    test) shift; cmd_test "$@" ;;
    setup) setup ;;
    *) echo "usage: $0 run [jobcelld flags...] | test | setup" >&2; exit 2 ;;
esac
