# tests/vm/guest-stage2.sh — PID 1 of the test VM after switch_root (run by
# /run/jobcell-vm/busybox sh).  Finishes the setup, runs the command with its
# output in the result share (the host streams it), then prints the result
# marker "JOBCELL-VM-RESULT <nonce> <exit code>" on the console and powers off.
# With VM_SYSTEMD=1 (run.sh --systemd) it execs systemd instead, whose unit
# jobcell-vm-cmd.service runs this script again with --run for the command.

BB=/run/jobcell-vm/busybox
V=/run/jobcell-vm

halt_vm() {
	$BB sync
	$BB poweroff -f
	$BB sleep 2
	$BB reboot -f
}
die() {
	echo "vm-stage2: error: $*"
	halt_vm
}

. $V/conf || die "no conf"

# The command: exports (CI, JOBCELL_*) then exec of the quoted command, run
# by the host's /bin/sh: Debian's static busybox sh prefers its own applets
# over $PATH, so under it `sh`, `head`, ... would not be the host's programs.
# Prints the result marker, on a line of its own even if the kernel was
# printing (the host matches it anywhere in a console line), and powers off.
run_cmd() {
	cd "$VM_WORKDIR" || die "cd $VM_WORKDIR"
	SH=/bin/sh
	[ -x $SH ] || SH="$BB sh"
	$SH $V/cmd </dev/null >$V/out/output 2>&1
	rc=$?
	$BB sync
	printf '\nJOBCELL-VM-RESULT %s %s\n' "$VM_NONCE" "$rc" >/dev/console
	halt_vm
}
[ "${1:-}" = --run ] && { run_cmd; exit 1; }

# systemd as PID 1, booted into jobcell-vm.target (run.sh puts
# systemd.unit=jobcell-vm.target on the kernel command line): journald and
# the unit jobcell-vm-cmd.service, which runs this script with --run.  No
# generator runs and every unit the basic targets would pull in is masked
# (the host's fstab, getty, timers, udev...): a unit that asks for
# sysinit.target or basic.target gets only what it names itself.
boot_systemd() {
	# The host may be a container: systemd would then believe it is one
	# too, and ignore the kernel command line (systemd.unit=).
	$BB rm -f /.dockerenv /run/.containerenv || die "rm /.dockerenv"
	S=/etc/systemd/system
	$BB mkdir -p $S /etc/systemd/system-generators || die "mkdir $S"
	for g in /lib/systemd/system-generators/* /etc/systemd/system-generators/*; do
		[ -e "$g" ] && $BB ln -sf /dev/null "/etc/systemd/system-generators/${g##*/}"
	done
	for w in /lib/systemd/system/*.target.wants/* /etc/systemd/system/*.target.wants/*; do
		u=${w##*/}
		case $u in systemd-journald.socket|systemd-journald-dev-log.socket|systemd-journald.service) continue ;; esac
		[ -e "$w" ] || [ -L "$w" ] && $BB ln -sf /dev/null "$S/$u"
	done
	$BB cat >$S/jobcell-vm.target <<-EOF || die "write jobcell-vm.target"
		[Unit]
		Description=jobcell test VM: journald and the command
		Wants=systemd-journald.socket systemd-journald-dev-log.socket jobcell-vm-cmd.service
	EOF
	$BB cat >$S/jobcell-vm-cmd.service <<-EOF || die "write jobcell-vm-cmd.service"
		[Unit]
		Description=jobcell test VM: the command
		DefaultDependencies=no
		Requires=systemd-journald.socket
		After=systemd-journald.socket systemd-journald-dev-log.socket
		# The script prints the marker and powers off itself; if it cannot
		# even start, power off without a marker: the run fails at once.
		FailureAction=poweroff-force
		[Service]
		Type=exec
		# JOBCELL_VM_SYSTEMD=1: tests/integration/test_systemd.py may install into /.
		Environment=HOME=/root JOBCELL_VM_SYSTEMD=1
		ExecStart=$BB sh $V/stage2 --run
		StandardInput=null
		StandardOutput=journal+console
	EOF
	# shellcheck disable=SC2093  # the die below runs only if exec fails
	exec /lib/systemd/systemd
	die "exec /lib/systemd/systemd failed"
}

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
unset TERM

# --systemd: systemd becomes PID 1 and runs the command in a unit.
[ "${VM_SYSTEMD:-0}" = 1 ] && boot_systemd

$BB hostname jobcell-vm
$BB ip link set lo up || die "ip link set lo up"
echo "+cpu +memory +pids" >/sys/fs/cgroup/cgroup.subtree_control ||
	die "cannot enable cpu, memory, pids in /sys/fs/cgroup/cgroup.subtree_control"
# One memory cgroup that lives as long as the VM.  On cgroup v2 the kernel
# turns socket accounting's static key (memcg_sockets_enabled_key) on with
# the first non-root memory cgroup and off when the last one is freed, and
# each flip rewrites the kernel's code at every site of that key (text_poke
# and IPIs).  A test VM has no other cgroups, so every test daemon's start
# and stop flipped it; under multi-threaded TCG a vCPU running TCP code then
# got stuck at such a site for good (an RCU stall, then the run's timeout:
# tests/vm/README.md).  A real host (systemd) never flips it.
$BB mkdir -p /sys/fs/cgroup/jobcell-vm.pin ||
	die "cannot create /sys/fs/cgroup/jobcell-vm.pin"

run_cmd
