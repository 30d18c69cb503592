#!/usr/bin/env bash
# tests/vm/run.sh — run a command as root inside a throwaway qemu VM whose
# kernel has a pure cgroup v2 hierarchy (see tests/vm/README.md).
#
#   tests/vm/run.sh [--timeout SECONDS] [--mem MB] [--systemd] [--console FILE] -- COMMAND [ARGS...]
#   tests/vm/run.sh --check
#
# The guest sees the host's / read-only (with a tmpfs overlay on top) and the
# current directory read-write at the same path; COMMAND runs there and this
# script exits with its exit status.  No result from the guest (panic, hang,
# timeout, boot failure) is always a failure (exit 1); a guest kernel that
# locks up panics at once, with every CPU's stack on the console.

# shellcheck disable=SC2015,SC2054,SC2317  # a && b || c on purpose; qemu options hold commas; trap handlers
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${JOBCELL_VM_CACHE:-/var/cache/jobcell-vm}
TIMEOUT=1800
MEM=1024
CHECK=0
SYSTEMD=0
CONSOLE_COPY=
MARK=JOBCELL-VM-RESULT
LOCKUP_S=60

usage() {
	cat <<'EOF'
usage: tests/vm/run.sh [--timeout SECONDS] [--mem MB] [--systemd] [--console FILE] -- COMMAND [ARGS...]
       tests/vm/run.sh [--timeout SECONDS] [--mem MB] [--systemd] [--console FILE] --check

Boots a throwaway qemu VM (Debian 6.1 kernel, pure cgroup v2), runs COMMAND as
root in the current directory (shared read-write at the same path; the rest of
the host's / is visible read-only with a tmpfs overlay), streams its output
(stdout and stderr, merged) and exits with its exit status.  Exit 1 when the
VM produced no result (boot failure, panic, hang, timeout); a soft lockup
of the guest kernel is such a panic, reported with every CPU's stack.

  --timeout S   kill the VM after S seconds (default 1800)
  --mem MB      guest memory (default 1024)
  --check       run the built-in self-test (tests/vm/selftest.sh)
  --systemd     boot the host's systemd as PID 1 (journald running, a
                minimal target of its own) and run COMMAND in a unit
  --console F   copy the guest's console log (kernel messages) to F, kept
                whatever the outcome

Environment: JOBCELL_VM_CACHE (default /var/cache/jobcell-vm),
JOBCELL_VM_KERNEL (a linux-image-* package to use instead of the newest),
JOBCELL_VM_VERBOSE=1 (copy the guest console to stderr),
JOBCELL_VM_APPEND (extra kernel command line), JOBCELL_VM_ROOT_CACHE (9p cache
mode of the host root, default loose), JOBCELL_VM_SMP (vCPUs, default 2),
JOBCELL_VM_TCG_THREAD (multi, the default: a host thread per vCPU; or single).  Exit 2: usage error.
CI and all JOBCELL_* variables are passed into the guest.
EOF
}

say() { echo "vm: $*" >&2; }
die() { echo "vm: error: $*" >&2; exit 1; }
usage_err() { echo "vm: error: $*" >&2; exit 2; }

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

while [ $# -gt 0 ]; do
	case $1 in
	--timeout) [ $# -ge 2 ] && is_uint "$2" && [ "$2" -gt 0 ] || usage_err "--timeout needs a number of seconds"
		TIMEOUT=$2; shift 2 ;;
	--timeout=*) TIMEOUT=${1#*=}; is_uint "$TIMEOUT" && [ "$TIMEOUT" -gt 0 ] || usage_err "--timeout needs a number of seconds"; shift ;;
	--mem) [ $# -ge 2 ] && is_uint "$2" && [ "$2" -ge 128 ] || usage_err "--mem needs a size in MB (>= 128)"
		MEM=$2; shift 2 ;;
	--mem=*) MEM=${1#*=}; is_uint "$MEM" && [ "$MEM" -ge 128 ] || usage_err "--mem needs a size in MB (>= 128)"; shift ;;
	--check) CHECK=1; shift ;;
	--systemd) SYSTEMD=1; shift ;;
	--console) [ $# -ge 2 ] && [ -n "$2" ] || usage_err "--console needs a file name"
		CONSOLE_COPY=$2; shift 2 ;;
	--console=*) CONSOLE_COPY=${1#*=}; [ -n "$CONSOLE_COPY" ] || usage_err "--console needs a file name"; shift ;;
	-h|--help) usage; exit 0 ;;
	--) shift; break ;;
	-*) usage >&2; usage_err "unknown option $1" ;;
	*) break ;;
	esac
done

if [ "$CHECK" = 1 ]; then
	[ $# -eq 0 ] || usage_err "--check takes no command"
	set -- sh "$HERE/selftest.sh"
fi
[ $# -gt 0 ] || { usage >&2; exit 2; }

# ---------------------------------------------------------------- host tools

ensure_host_tools() {
	local missing=() cmd pkg
	for pair in qemu-system-x86_64:qemu-system-x86 cpio:cpio xz:xz-utils \
		dpkg-deb:dpkg apt-get:apt flock:util-linux timeout:coreutils python3:python3; do
		cmd=${pair%%:*} pkg=${pair#*:}
		command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
	done
	# microvm's firmware comes with qemu-system-data (a dependency).
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" = 0 ] || die "missing host packages: ${missing[*]} (run as root to install them)"
	say "installing ${missing[*]}"
	apt-get update -q >&2 || die "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		"${missing[@]}" >&2 || die "apt-get install ${missing[*]} failed"
}

# ------------------------------------------------------ kernel + base initrd

MODULES="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_mmio netfs fscache 9pnet 9pnet_virtio 9p overlay"

newest_kernel_pkg() {
	apt-cache pkgnames linux-image-6.1.0- 2>/dev/null |
		grep -E '^linux-image-6\.1\.0-[0-9]+-amd64$' | sort -V | tail -n 1
}

# Fills $CACHE/<package>/{vmlinux,base.cpio} once; prints the directory.
prepare_cache() {
	local pkg dir build kver vmlinuz off m f
	mkdir -p "$CACHE" || die "cannot create the cache directory $CACHE"
	exec 9>"$CACHE/.lock"
	flock 9
	pkg=${JOBCELL_VM_KERNEL:-}
	if [ -z "$pkg" ] && [ -f "$CACHE/current" ]; then
		pkg=$(cat "$CACHE/current")
	fi
	if [ -n "$pkg" ] && [ -f "$CACHE/$pkg/ok" ]; then
		exec 9>&-
		echo "$CACHE/$pkg"
		return 0
	fi
	if [ -z "$pkg" ]; then
		pkg=$(newest_kernel_pkg)
		if [ -z "$pkg" ]; then
			say "no linux-image-6.1.0-*-amd64 known to apt; running apt-get update"
			apt-get update -q >&2 || die "apt-get update failed"
			pkg=$(newest_kernel_pkg)
		fi
		[ -n "$pkg" ] || die "apt-cache knows no linux-image-6.1.0-*-amd64 package (is Debian bookworm in the apt sources?)"
	fi
	say "preparing $pkg and busybox-static in $CACHE (once)"
	dir=$CACHE/$pkg
	build=$(mktemp -d "$CACHE/.build.XXXXXX")
	(
		set -e
		cd "$build"
		chmod 0755 .
		# apt-get download warns when _apt cannot write here; harmless.
		apt-get download "$pkg" busybox-static >download.log 2>&1 ||
			{ cat download.log >&2; exit 1; }
		mkdir k bb
		dpkg-deb -x "$pkg"_*.deb k
		dpkg-deb -x busybox-static_*.deb bb
		kver=${pkg#linux-image-}
		vmlinuz=k/boot/vmlinuz-$kver
		[ -f "$vmlinuz" ] || { echo "no $vmlinuz in the package" >&2; exit 1; }
		# PVH boot needs the ELF vmlinux: decompress the xz payload of the bzImage.
		off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$vmlinuz" | head -n 1 | cut -d: -f1)
		[ -n "$off" ] || { echo "no xz payload in $vmlinuz" >&2; exit 1; }
		tail -c +$((off + 1)) "$vmlinuz" | xz -dc --single-stream >vmlinux
		[ "$(head -c 4 vmlinux | od -An -c | tr -d ' ')" = '177ELF' ] ||
			{ echo "decompressed kernel is not an ELF file" >&2; exit 1; }
		# Base initramfs: busybox (+ applet links) and the 9p/virtio/overlay modules.
		mkdir -p root/bin root/dev root/proc root/sys root/lower root/ovl \
			root/newroot root/vm root/lib/modules
		cp bb/bin/busybox root/bin/busybox
		for a in $(bb/bin/busybox --list); do
			[ "$a" = busybox ] || ln -s busybox "root/bin/$a"
		done
		for m in $MODULES; do
			f=$(find "k/lib/modules/$kver/kernel" -name "$m.ko" -o -name "$m.ko.xz" | head -n 1)
			[ -n "$f" ] || { echo "module $m not found in $pkg" >&2; exit 1; }
			case $f in
			*.xz) xz -dc "$f" >"root/lib/modules/$m.ko" ;;
			*) cp "$f" "root/lib/modules/$m.ko" ;;
			esac
		done
		(cd root && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >base.cpio
		mkdir -p out
		mv vmlinux base.cpio out/
		dpkg-deb -f busybox-static_*.deb Version >out/busybox.version
		echo "$pkg" >out/kernel.package
		touch out/ok
	) || { rm -rf "$build"; die "could not prepare the VM kernel and initramfs"; }
	rm -rf "$dir"
	mv "$build/out" "$dir"
	rm -rf "$build"
	[ -n "${JOBCELL_VM_KERNEL:-}" ] || echo "$pkg" >"$CACHE/current"
	exec 9>&-
	echo "$dir"
}

# ---------------------------------------------------------------------- run

shq() { local s=$1; printf "'%s'" "${s//\'/\'\\\'\'}"; }

TMP=
QEMU_PID=
TAIL_PID=
TIMER_PID=
cleanup() {
	[ -n "$TIMER_PID" ] && kill -TERM "$TIMER_PID" 2>/dev/null || true
	[ -n "$QEMU_PID" ] && kill -TERM "$QEMU_PID" 2>/dev/null || true
	[ -n "$TAIL_PID" ] && kill -TERM "$TAIL_PID" 2>/dev/null || true
	[ -n "$QEMU_PID" ] && wait "$QEMU_PID" 2>/dev/null || true
	[ -n "$TAIL_PID" ] && wait "$TAIL_PID" 2>/dev/null || true
	[ -n "$TMP" ] && rm -rf "$TMP"
	return 0
}
on_signal() {
	trap - INT TERM HUP
	say "interrupted; stopping the VM"
	cleanup
	TMP=
	exit 130
}
trap cleanup EXIT
trap on_signal INT TERM HUP

ensure_host_tools
[ "$SYSTEMD" = 0 ] || [ -x /lib/systemd/systemd ] || die "--systemd: /lib/systemd/systemd is not installed (Debian package systemd)"
KDIR=$(prepare_cache)

WORKDIR=$(pwd -P)
SHARE_WORKDIR=1
if [ "$WORKDIR" = / ]; then
	say "warning: the working directory is /: nothing the command writes is kept"
	SHARE_WORKDIR=0
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/jobcell-vm.XXXXXX")
mkdir "$TMP/out" "$TMP/initrd" "$TMP/initrd/vm"
NONCE=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')

{
	echo "VM_NONCE=$NONCE"
	echo "VM_WORKDIR=$(shq "$WORKDIR")"
	echo "VM_SHARE_WORKDIR=$SHARE_WORKDIR"
	echo "VM_MSIZE=262144"
	echo "VM_ROOT_CACHE=${JOBCELL_VM_ROOT_CACHE:-loose}"
	echo "VM_WORK_CACHE=mmap"
	echo "VM_SYSTEMD=$SYSTEMD"
} >"$TMP/initrd/vm/conf"
{
	while IFS= read -r v; do
		[[ $v =~ ^(CI|JOBCELL_[A-Za-z0-9_]*)$ ]] || continue
		echo "export $v=$(shq "${!v}")"
	done < <(compgen -e)
	printf 'exec'
	for a in "$@"; do printf ' %s' "$(shq "$a")"; done
	printf '\n'
} >"$TMP/initrd/vm/cmd"
cp "$HERE/guest-init.sh" "$TMP/initrd/init"
cp "$HERE/guest-stage2.sh" "$TMP/initrd/vm/stage2"
chmod 0755 "$TMP/initrd/init"
(cd "$TMP/initrd" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$TMP/run.cpio"
cat "$KDIR/base.cpio" "$TMP/run.cpio" >"$TMP/initrd.img"

KHZ=$(awk -F: '/^cpu MHz/ { printf "%d", $2 * 1000; exit }' /proc/cpuinfo)
# Kernel messages: a quiet boot, but every warning and stack trace on the
# console (loglevel=5 after quiet: KERN_WARNING and plain printk, the level
# of oops and lockup stacks).  A soft lockup (a CPU busy in the kernel for
# 2 x watchdog_thresh = $LOCKUP_S s without scheduling) prints every CPU's
# stack and panics; panic=-1 reboots at once and -no-reboot makes that
# qemu's exit: a locked-up guest fails the run at once, not at --timeout.
APPEND="console=ttyS0 quiet loglevel=5 panic=-1 tsc=reliable"
APPEND+=" softlockup_panic=1 softlockup_all_cpu_backtrace=1 watchdog_thresh=$((LOCKUP_S / 2)) unknown_nmi_panic=1 sysctl.kernel.panic_on_unrecovered_nmi=1"
# An RCU stall (a CPU in the kernel that never passes a quiescent state,
# while it still schedules, as with cond_resched: no soft lockup then)
# panics too, after the same time, with that CPU's stack.
APPEND+=" rcupdate.rcu_cpu_stall_timeout=$LOCKUP_S sysctl.kernel.panic_on_rcu_stall=1"
[ -n "$KHZ" ] && [ "$KHZ" -gt 0 ] && APPEND+=" tsc_early_khz=$KHZ"
# guest-stage2.sh writes jobcell-vm.target and masks everything else.
[ "$SYSTEMD" = 1 ] && APPEND+=" systemd.unit=jobcell-vm.target systemd.hostname=jobcell-vm systemd.unified_cgroup_hierarchy=1 systemd.show_status=0"
APPEND+="${JOBCELL_VM_APPEND:+ $JOBCELL_VM_APPEND}"

SMP=${JOBCELL_VM_SMP:-2}
TCG_THREAD=${JOBCELL_VM_TCG_THREAD:-multi}
is_uint "$SMP" && [ "$SMP" -ge 1 ] || die "JOBCELL_VM_SMP must be a number of CPUs"
[ "$TCG_THREAD" = multi ] || [ "$TCG_THREAD" = single ] || die "JOBCELL_VM_TCG_THREAD must be multi or single"

CONSOLE=$TMP/console.log
: >"$CONSOLE"
: >"$TMP/out/output"

QEMU=(
	qemu-system-x86_64
	-M microvm -accel "tcg,thread=$TCG_THREAD" -cpu max -smp "$SMP" -m "$MEM"
	-nodefaults -no-user-config -display none -no-reboot
	-kernel "$KDIR/vmlinux" -initrd "$TMP/initrd.img" -append "$APPEND"
	-serial "file:$CONSOLE"
	-fsdev local,id=hostroot,path=/,readonly=on,security_model=none,multidevs=remap
	-device virtio-9p-device,fsdev=hostroot,mount_tag=hostroot
	-fsdev "local,id=vmout,path=$TMP/out,security_model=none"
	-device virtio-9p-device,fsdev=vmout,mount_tag=vmout
)
# The monitor: where the vCPUs are when the run times out (on_timeout).
MON=$TMP/monitor.sock
QEMU+=(-name jobcell-vm,debug-threads=on)
if [ "${#MON}" -lt 100 ]; then # sun_path holds 108 bytes
	QEMU+=(-monitor "unix:$MON,server=on,wait=off")
else
	say "warning: TMPDIR is too long a path for qemu's monitor socket: no registers at --timeout"
fi
if [ "$SHARE_WORKDIR" = 1 ]; then
	# qemu's option parser splits on ','; double it in the path.
	QEMU+=(-fsdev "local,id=work,path=${WORKDIR//,/,,},security_model=none,multidevs=remap"
		-device virtio-9p-device,fsdev=work,mount_tag=work)
fi

# HMP commands on qemu's monitor; prints their answers.
hmp() {
	python3 - "$MON" "$@" <<'PY'
import re, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(20)
s.connect(sys.argv[1])
def answer():
    buf = b""
    while not buf.endswith(b"(qemu) "):
        d = s.recv(65536)
        if not d:
            break
        buf += d
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]|\r", "", buf.decode("utf-8", "replace"))
answer()
for cmd in sys.argv[2:]:
    s.sendall(cmd.encode() + b"\n")
    print(answer().rsplit("(qemu) ", 1)[0].split("\n", 1)[-1].rstrip())
PY
}

# At --timeout: each vCPU's registers, then an NMI to every CPU, which the
# guest (unknown_nmi_panic=1) answers with a panic and its stack even when
# it spins with interrupts off (no soft lockup report then: TCG has no NMI
# watchdog); qemu is killed if it has not exited 30 s later.
on_timeout() {
	local end=$((SECONDS + TIMEOUT))
	exec </dev/null >/dev/null 2>&1 # its sleep may outlive it: holds no pipe
	while [ "$SECONDS" -lt "$end" ]; do sleep 1; done
	: >"$TMP/timed-out"
	hmp "info registers -a" >"$TMP/vcpus.txt" || true
	hmp nmi || true
	end=$((SECONDS + 30))
	while [ "$SECONDS" -lt "$end" ]; do sleep 1; done
	hmp quit || true
}

T0=$(date +%s.%N)
# timeout(1) runs qemu in its own process group and forwards TERM to it:
# the last resort, should the monitor not answer.
timeout -k 5 "$((TIMEOUT + 60))" "${QEMU[@]}" </dev/null >"$TMP/qemu.log" 2>&1 &
QEMU_PID=$!
on_timeout &
TIMER_PID=$!

# Stream the command's output while the VM runs; tail ends after the final
# read once qemu has exited and been reaped.
tail -n +1 -f -s 0.2 --pid="$QEMU_PID" "$TMP/out/output" &
TAIL_PID=$!
if [ "${JOBCELL_VM_VERBOSE:-0}" = 1 ]; then
	tail -n +1 -f -s 0.2 --pid="$QEMU_PID" "$CONSOLE" >&2 &
fi

set +e
wait "$QEMU_PID"
QRC=$?
set -e
QEMU_PID=
kill "$TIMER_PID" 2>/dev/null || true
wait "$TIMER_PID" 2>/dev/null || true
TIMER_PID=
wait "$TAIL_PID" 2>/dev/null || true
TAIL_PID=
wait 2>/dev/null || true
T1=$(date +%s.%N)
ELAPSED=$(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.1f", b - a }')

# The console log, then qemu's messages and the vCPUs' registers, if any.
console_log() {
	cat "$CONSOLE"
	if [ -s "$TMP/qemu.log" ]; then
		echo "--- qemu output ---"
		cat "$TMP/qemu.log"
	fi
	if [ -s "$TMP/vcpus.txt" ]; then
		echo "--- the vCPUs' registers at --timeout (qemu monitor) ---"
		cat "$TMP/vcpus.txt"
	fi
}
[ -z "$CONSOLE_COPY" ] || console_log >"$CONSOLE_COPY" ||
	say "warning: cannot copy the console log to $CONSOLE_COPY"

# The first report of the guest kernel (lockup, stall, oops, warning,
# panic), if any: its line number in the console log and its text.
REPORT_AT=$(grep -a -n -m 1 -E 'BUG:|Oops|Kernel panic|rcu: INFO: .*detected.*stall|INFO: task .* blocked for more than|WARNING: CPU' \
	"$CONSOLE" | cut -d: -f1 || true)
REPORT=
[ -z "$REPORT_AT" ] || REPORT=$(sed -n "${REPORT_AT}{s/\r\$//;s/^\[ *[0-9.]*\] //;p}" "$CONSOLE")

# Keeps console_log in $TMPDIR; prints its name.
keep_console() {
	local keep="${TMPDIR:-/tmp}/jobcell-vm-console.$NONCE.log"
	console_log >"$keep" 2>/dev/null || keep=$CONSOLE
	echo "$keep"
}

RC=$(sed -n "s/.*$MARK $NONCE \([0-9]\{1,3\}\)\r\{0,1\}\$/\1/p" "$CONSOLE" | tail -n 1)
if [ -n "$RC" ]; then
	[ "${JOBCELL_VM_VERBOSE:-0}" = 1 ] && say "exit status $RC after ${ELAPSED} s"
	# The guest's kernel complained but the command finished: say so.
	[ -z "$REPORT" ] || say "warning: the guest kernel reported \"$REPORT\"; console log at $(keep_console)"
	exit "$RC"
fi

# No marker: the run failed, whatever happened.  Keep the evidence.
KEEP=$(keep_console)
if [ -e "$TMP/timed-out" ] || [ "$QRC" = 124 ] || [ "$QRC" = 137 ]; then
	say "timed out after $TIMEOUT s"
	if [ -s "$TMP/vcpus.txt" ]; then
		say "where the vCPUs were (then an NMI: the guest's panic and stack follow, if it could print them):"
		grep -E '^CPU#|^RIP=|^RSI=|^CR0' "$TMP/vcpus.txt" | sed 's/^/vm:   | /' >&2
	fi
elif [ "$QRC" != 0 ]; then
	say "qemu exited with status $QRC"
fi
LOCKUP=$(grep -a -m 1 -o 'BUG: soft lockup.*' "$CONSOLE" | tr -d '\r' || true)
PANIC=$(grep -a -m 1 -o 'Kernel panic - not syncing.*' "$CONSOLE" | tr -d '\r' || true)
if [ -n "$REPORT" ]; then
	# From the first report on: with a soft lockup, every CPU's stack.
	say "the guest kernel's report (console from its first line, at most 400 lines):"
	tail -n "+$REPORT_AT" "$CONSOLE" | head -n 400 | sed 's/^/vm:   | /' >&2
else
	say "last console lines:"
	tail -n 20 "$KEEP" | sed 's/^/vm:   | /' >&2
fi
if [ -n "$LOCKUP" ]; then
	say "the guest kernel locked up after ${ELAPSED} s: $LOCKUP (every CPU's stack is above and in $KEEP)"
elif [ -n "$PANIC" ]; then
	say "the guest kernel panicked after ${ELAPSED} s: $PANIC; console log at $KEEP"
fi
say "no result marker: the VM did not boot or the command did not finish; console log at $KEEP"
exit 1
