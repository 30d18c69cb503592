#!/usr/bin/env bash
# tests/vm/failures.sh — run.sh's own reports when the guest fails (host
# side; meson suite 'vm-harness', plain host pass only).  Boots two VMs:
#   - a guest kernel panic (sysrq c: the same panic() as softlockup_panic=1)
#     ends the run at once, exit 1, with the panic's message and stack;
#   - a guest that never finishes ends at --timeout, exit 1, with every
#     vCPU's registers and, after an NMI, a guest stack;
# and in both, --console FILE holds the console log.  Exit 77 (skipped)
# without root or qemu-system-x86_64.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ "$(id -u)" = 0 ] || { echo "SKIPPED: needs root (tests/vm/run.sh)"; exit 77; }
command -v qemu-system-x86_64 >/dev/null || { echo "SKIPPED: qemu-system-x86_64 is not installed"; exit 77; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/jobcell-vm-failures.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
cd "$TMP" || exit 1
fails=0

# expect NAME FILE PATTERN: FILE has a line matching PATTERN (grep -E).
expect() {
	if grep -a -q -E "$3" "$2"; then
		echo "ok   $1"
	else
		echo "FAIL $1: no line matching '$3' in $2:"
		sed 's/^/    | /' "$2"
		fails=$((fails + 1))
	fi
}

# run NAME TIMEOUT COMMAND...: run.sh's status in $TMP/NAME.rc, its stderr
# (the report) in $TMP/NAME.err, the console log in $TMP/NAME.console.
run() {
	local name=$1 timeout=$2
	shift 2
	TMPDIR=$TMP "$HERE/run.sh" --timeout "$timeout" --console "$TMP/$name.console" -- "$@" \
		>"$TMP/$name.out" 2>"$TMP/$name.err"
	echo $? >"$TMP/$name.rc"
	expect "$name: exit status 1" "$TMP/$name.rc" '^1$'
	expect "$name: console log kept (--console)" "$TMP/$name.console" 'Kernel panic'
}

run panic 600 sh -c 'echo 1 >/proc/sys/kernel/sysrq; echo c >/proc/sysrq-trigger'
expect "panic: named" "$TMP/panic.err" '^vm: the guest kernel panicked after .*: Kernel panic - not syncing: sysrq triggered crash'
expect "panic: its stack" "$TMP/panic.err" '^vm:   \|.* sysrq_handle_crash\+0x'

run hang 20 sleep 3600
expect "hang: timed out" "$TMP/hang.err" '^vm: timed out after 20 s'
expect "hang: each vCPU's registers" "$TMP/hang.err" '^vm:   \| RIP=[0-9a-f]{16}'
expect "hang: both vCPUs" "$TMP/hang.err" '^vm:   \| CPU#1'
expect "hang: a stack after the NMI" "$TMP/hang.err" '^vm:   \|.* (default_do_nmi|exc_nmi)\+0x'

[ "$fails" = 0 ] && echo "all checks passed" || echo "$fails check(s) failed"
[ "$fails" = 0 ]
