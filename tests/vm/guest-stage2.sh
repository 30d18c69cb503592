# tests/vm/guest-stage2.sh — PID 1 of the test VM after switch_root (run by
# /run/jobcell-vm/busybox sh).  Finishes the setup, runs the command with its
# output in the result share (the host streams it), then prints the result
# marker "JOBCELL-VM-RESULT <nonce> <exit code>" on the console and powers off.

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

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
unset TERM

$BB hostname jobcell-vm
$BB ip link set lo up || die "ip link set lo up"
echo "+cpu +memory +pids" >/sys/fs/cgroup/cgroup.subtree_control ||
	die "cannot enable cpu, memory, pids in /sys/fs/cgroup/cgroup.subtree_control"

cd "$VM_WORKDIR" || die "cd $VM_WORKDIR"

# /vm/cmd: exports (CI, JOBCELL_*) then exec of the quoted command.  Run it
# with the host's /bin/sh: Debian's static busybox sh prefers its own applets
# over $PATH, so under it `sh`, `head`, ... would not be the host's programs.
SH=/bin/sh
[ -x $SH ] || SH="$BB sh"
$SH $V/cmd </dev/null >$V/out/output 2>&1
rc=$?

$BB sync
# On a line of its own even if the kernel was printing: the host matches it
# anywhere in a console line.
printf '\nJOBCELL-VM-RESULT %s %s\n' "$VM_NONCE" "$rc"
halt_vm
