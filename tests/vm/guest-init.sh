#!/bin/busybox sh
# tests/vm/guest-init.sh — /init of the throwaway test VM (PID 1 in the
# initramfs, busybox sh).  run.sh appends it to the cached base initramfs on
# every run, together with /vm/conf (nonce, working directory), /vm/cmd (the
# command) and /vm/stage2 (guest-stage2.sh).
#
# Builds the guest's root: the host's / over 9p (read-only) under a tmpfs
# overlay, the host's working directory over 9p (read-write) at the same path,
# pure cgroup v2, tmpfs on /tmp /run /var/lib /var/tmp; then switch_root and
# run stage 2 there.  On any failure it prints "vm-init: error: ..." and powers
# off WITHOUT a result marker, so the host reports the run as failed.

/bin/busybox mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
export PATH=/bin

halt_vm() {
	sync
	poweroff -f
	sleep 2
	reboot -f
}
die() {
	echo "vm-init: error: $*"
	halt_vm
}

. /vm/conf || die "no /vm/conf"

mount -t proc proc /proc || die "mount /proc"
mount -t sysfs sysfs /sys || die "mount /sys"

# 9p over virtio-mmio, in dependency order (no depmod/modprobe needed).
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev \
	virtio_pci virtio_mmio netfs fscache 9pnet 9pnet_virtio 9p overlay; do
	insmod "/lib/modules/$m.ko" || die "insmod $m"
done

P9="trans=virtio,version=9p2000.L,msize=$VM_MSIZE"
# The virtio-mmio devices are probed asynchronously: retry the first mount.
i=0
until mount -t 9p -o "$P9,ro,cache=$VM_ROOT_CACHE" hostroot /lower 2>/dev/null; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || die "cannot mount the host root over 9p (tag hostroot)"
	usleep 20000
done
mount -t tmpfs -o mode=0755 tmpfs /ovl || die "mount overlay tmpfs"
mkdir -p /ovl/upper /ovl/work
mount -t overlay -o lowerdir=/lower,upperdir=/ovl/upper,workdir=/ovl/work \
	overlay /newroot || die "mount overlay root"

R=/newroot
mount --move /dev $R/dev || die "move /dev"
mount --move /proc $R/proc || die "move /proc"
mount --move /sys $R/sys || die "move /sys"
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts $R/dev/pts || die "mount /dev/pts"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs $R/dev/shm || die "mount /dev/shm"

# Pure cgroup v2: only the unified hierarchy, never a v1 controller.
mount -t cgroup2 -o nsdelegate cgroup2 $R/sys/fs/cgroup 2>/dev/null ||
	mount -t cgroup2 cgroup2 $R/sys/fs/cgroup || die "mount cgroup2"

mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs $R/tmp || die "mount /tmp"
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs $R/run || die "mount /run"
mkdir -p $R/var/lib $R/var/tmp
mount -t tmpfs -o mode=0755 tmpfs $R/var/lib || die "mount /var/lib"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs $R/var/tmp || die "mount /var/tmp"

# Stage 2 runs from the new root; bring busybox along (the host may have none).
V=$R/run/jobcell-vm
mkdir -p $V/out
cp /bin/busybox /vm/conf /vm/cmd /vm/stage2 $V/ || die "copy stage 2"
mount -t 9p -o "$P9,cache=none" vmout $V/out || die "mount the result share (tag vmout)"

if [ "$VM_SHARE_WORKDIR" = 1 ]; then
	mkdir -p "$R$VM_WORKDIR" || die "mkdir $VM_WORKDIR"
	mount -t 9p -o "$P9,cache=$VM_WORK_CACHE" work "$R$VM_WORKDIR" ||
		die "mount the working directory $VM_WORKDIR (tag work)"
fi

exec switch_root $R /run/jobcell-vm/busybox sh /run/jobcell-vm/stage2
die "switch_root failed"
