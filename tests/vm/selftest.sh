#!/bin/sh
# tests/vm/selftest.sh — what `tests/vm/run.sh --check` runs inside the VM:
# proves the guest is a usable pure cgroup v2 machine for jobcell's tests.
# Exits 0 only when every check passes.

# shellcheck disable=SC2015  # "test && ok || bad": ok never fails
set -u
fails=0
ok() { echo "selftest: ok   $*"; }
bad() { echo "selftest: FAIL $*"; fails=$((fails + 1)); }

CG=/sys/fs/cgroup

# Kill what is left in a test cgroup, wait until it is empty, remove it.
rm_cg() {
	echo 1 >"$1/cgroup.kill" 2>/dev/null
	i=0
	while grep -q '^populated 1' "$1/cgroup.events" && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
	rmdir "$1" || bad "cannot remove $1"
}
echo "selftest: kernel $(uname -r), $(nproc) cpus, uid $(id -u), cwd $(pwd)"

fstype=$(awk -v m=$CG '$2 == m { t = $3 } END { print t }' /proc/mounts)
[ "$fstype" = cgroup2 ] && ok "$CG is cgroup2" || bad "$CG is '$fstype', not cgroup2"
if grep -q ' cgroup ' /proc/mounts; then
	bad "a cgroup v1 hierarchy is mounted:"; grep ' cgroup ' /proc/mounts
else
	ok "no cgroup v1 hierarchy mounted"
fi

echo "selftest: cgroup.controllers: $(cat $CG/cgroup.controllers)"
echo "selftest: cgroup.subtree_control: $(cat $CG/cgroup.subtree_control)"
for c in memory pids cpu; do
	grep -qw $c $CG/cgroup.controllers && ok "controller $c available" ||
		bad "controller $c missing from cgroup.controllers"
	grep -qw $c $CG/cgroup.subtree_control && ok "controller $c enabled for children" ||
		bad "controller $c not in cgroup.subtree_control"
done

unshare -U -p -f -n -m true && ok "unshare -U -p -f -n -m true" ||
	bad "unshare -U -p -f -n -m true failed"

for d in /tmp /run /var/lib /var/tmp; do
	[ "$(awk -v m=$d '$2 == m { t = $3 } END { print t }' /proc/mounts)" = tmpfs ] && ok "$d is tmpfs" || bad "$d is not tmpfs"
done
touch .vm-selftest.$$ && rm -f .vm-selftest.$$ && ok "working directory writable" ||
	bad "cannot write the working directory $(pwd)"

# memory.max: an allocation beyond the limit is OOM-killed and counted.
t=$CG/vm-selftest-mem
mkdir $t && echo 32M >$t/memory.max && echo 0 >$t/memory.swap.max
sh -c "echo \$\$ >$t/cgroup.procs; head -c 104857600 /dev/zero | tail >/dev/null" 2>/dev/null
oom=$(awk '$1 == "oom_kill" { print $2 }' $t/memory.events)
echo "selftest: memory.events: $(tr '\n' ' ' <$t/memory.events)"
[ "${oom:-0}" -ge 1 ] && ok "memory.max=32M OOM kill counted (oom_kill $oom)" ||
	bad "no oom_kill counted in memory.events"
rm_cg $t

# pids.max: forks beyond the limit fail and are counted.
t=$CG/vm-selftest-pids
mkdir $t && echo 3 >$t/pids.max
sh -c "echo \$\$ >$t/cgroup.procs; for i in 1 2 3 4 5 6; do sleep 1 & done; wait" 2>/dev/null
max=$(awk '$1 == "max" { print $2 }' $t/pids.events)
[ "${max:-0}" -ge 1 ] && ok "pids.max=3 enforced (pids.events max $max)" ||
	bad "pids.events max not counted"
rm_cg $t

# cpu.max: a busy loop under a 10% quota is throttled.
t=$CG/vm-selftest-cpu
mkdir $t && echo "10000 100000" >$t/cpu.max
sh -c "echo \$\$ >$t/cgroup.procs; exec timeout 1 sh -c 'while :; do :; done'" 2>/dev/null
thr=$(awk '$1 == "nr_throttled" { print $2 }' $t/cpu.stat)
[ "${thr:-0}" -ge 1 ] && ok "cpu.max 10% throttles (nr_throttled $thr)" ||
	bad "cpu.max did not throttle"
rm_cg $t

if [ $fails -eq 0 ]; then
	echo "selftest: all checks passed"
	exit 0
fi
echo "selftest: $fails check(s) failed"
exit 1
