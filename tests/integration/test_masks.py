"""test_masks.py — the masked /proc directories (Docker's maskedPaths:
/proc/acpi, /proc/asound, /proc/scsi where the host has them) are the
task's own empty, read-only directory, and cost no superblock of their own:
each is a bind of the overlay's empty second layer (src/child.c,
mount_overlay and trim_proc_entry; docs/security.md, docs/performance.md
"10 000 tasks").

Inside a task: every masked directory lists nothing, mkdir and touch in it
fail (EROFS or EACCES), all of them are one device, which mountinfo shows
as the overlay's layer (tmpfs "jobcell", size=4k,nr_inodes=1,mode=555,
read-only, nosuid, nodev, noexec), and an inotify watch on them sees the
overlay read its second layer when the task lists "/" — the same inode, so
the same superblock; the task's mountinfo holds 3 tmpfs superblocks (the
masks', /tmp, /dev) however many directories are masked.  Two concurrent
tasks: their masked directories' devices differ (inodes of each task's
own, never one shared directory).  With cells (the default) and without.

Needs the probe (tests/security/probe.c, watch-inotify) in the test rootfs:
JOBCELL_TEST_ROOTFS, set by meson.  Suites integration and any-cgroup.
"""

import json
import os
import re
import sys
import time
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import DaemonTestCase, scaled  # noqa: E402

ROOTFS = os.environ.get("JOBCELL_TEST_ROOTFS", "")
PROBE = "/usr/bin/jobcell-probe"          # inside the task
# The masked entries of src/sandbox.c's proc_entries that are directories here.
MASKED_DIRS = [n for n in ("acpi", "asound", "scsi") if os.path.isdir("/proc/" + n)]
LAYER_SUPER_OPTS = ("ro", "size=4k", "nr_inodes=1", "mode=555")   # child.c EMPTY_TMPFS_OPTS
MOUNT_FLAGS = ("ro", "nosuid", "nodev", "noexec")
EROFS_OR_EACCES = ("Read-only file system", "Permission denied")

# The watch is set before the task lists "/", and read right after: only
# what the listing did shows (the probe then opens the directories itself,
# the positive control).  The task then stays until the test cancels it, so
# that its devices stay allocated while another task's are compared.
SCRIPT = r"""
P=%(probe)s
$P watch-inotify %(paths)s >/tmp/w &
while ! grep -q ready /tmp/w; do sleep 0.05; done
ls -a / >/dev/null
kill -USR1 $!; wait $!
grep '"events"' /tmp/w
for d in %(names)s; do
  echo "ls:$d=$(ls -A /proc/$d | wc -l)"
  mkdir /proc/$d/x 2>/tmp/e; echo "mkdir:$d=$?:$(cat /tmp/e)"
  touch /proc/$d/f 2>/tmp/e; echo "touch:$d=$?:$(cat /tmp/e)"
  echo "dev:$d=$(stat -c %%d /proc/$d)"
done
sed 's/^/mi:/' /proc/self/mountinfo
echo DONE
exec sleep 600
"""


def skip_reason():
    why = harness.skip_reason()
    if why:
        return why
    if not MASKED_DIRS:
        return "this kernel has none of /proc/acpi, /proc/asound, /proc/scsi: nothing is masked"
    if not ROOTFS or not os.access(os.path.join(ROOTFS, PROBE.lstrip("/")), os.X_OK):
        return "no %s in the test rootfs %r (JOBCELL_TEST_ROOTFS; ninja -C build)" % (PROBE, ROOTFS)
    return None


def mountinfo(lines):
    """mount point → (dev_t, per-mount options, fs type, source, super options)."""
    out = {}
    for l in lines:
        f = l.split()
        sep = f.index("-")
        major, minor = (int(x) for x in f[2].split(":"))
        out[f[4]] = (os.makedev(major, minor), f[5].split(","), f[sep + 1], f[sep + 2],
                     f[sep + 3].split(","))
    return out


class Masks(DaemonTestCase):
    daemon_kwargs = {"extra_args": ["--rootfs", ROOTFS]}

    def start_task(self, name):
        script = SCRIPT % {"probe": PROBE, "names": " ".join(MASKED_DIRS),
                           "paths": " ".join("/proc/" + n for n in MASKED_DIRS)}
        return self.d.submit_ok(name=name, command=["/bin/sh", "-c", script],
                                limits={"timeout_s": 600})["id"]

    def seen(self, task_id):
        """What a task printed, once it printed DONE: (key → value, mountinfo lines)."""
        deadline = time.monotonic() + scaled(60)
        while "DONE" not in self.d.logs(task_id):
            rec = self.d.task(task_id)
            self.assertEqual(rec["state"], "running", "%s\n%s" % (rec, self.d.logs(task_id)))
            self.assertLess(time.monotonic(), deadline, self.d.logs(task_id))
            time.sleep(0.1)
        logs = self.d.logs(task_id)
        got = {}
        for l in logs.splitlines():
            if l.startswith("{"):
                got["inotify"] = json.loads(l)
            elif re.match(r"^(ls|mkdir|touch|dev):", l):
                k, v = l.split("=", 1)
                got[k] = v
        return got, [l[3:] for l in logs.splitlines() if l.startswith("mi:")], logs

    def check_task(self, got, mi, logs):
        """One task's own view; returns the masks' device."""
        points = mountinfo(mi)
        devs = {int(got["dev:" + n]) for n in MASKED_DIRS}
        self.assertEqual(len(devs), 1, "the masked directories are not one device: %s" % logs)
        dev = devs.pop()
        for n in MASKED_DIRS:
            self.assertEqual(got["ls:" + n], "0", "/proc/%s lists entries: %s" % (n, logs))
            for op in ("mkdir", "touch"):
                rc, _, err = got["%s:%s" % (op, n)].partition(":")
                self.assertNotEqual(rc, "0", "%s in /proc/%s succeeded" % (op, n))
                self.assertTrue(any(e in err for e in EROFS_OR_EACCES),
                                "%s in /proc/%s: %r, not EROFS/EACCES" % (op, n, err))
            m_dev, flags, fstype, source, sopts = points["/proc/" + n]
            self.assertEqual(m_dev, dev, "mountinfo and stat disagree on /proc/%s" % n)
            self.assertEqual((fstype, source), ("tmpfs", "jobcell"),
                             "/proc/%s is not the overlay's layer: %s" % (n, points["/proc/" + n]))
            for o in LAYER_SUPER_OPTS:
                self.assertIn(o, sopts, "/proc/%s: %s" % (n, points["/proc/" + n]))
            for o in MOUNT_FLAGS:
                self.assertIn(o, flags, "/proc/%s: %s" % (n, points["/proc/" + n]))
        # The same inode as the overlay's second layer: listing "/" (a merged
        # directory) makes the overlay open and read that layer's root.
        ino = got["inotify"]
        print("\ninotify on the masks while the task listed /: %s" % ino)
        self.assertGreaterEqual(ino["control"], 1, "the watch sees not even its own opens: %s" % ino)
        self.assertGreater(ino["events"], 0,
                           "listing / did not touch the masked directories: they are not the "
                           "overlay's empty layer (a tmpfs of their own?)\n%s" % logs)
        tmpfs = {v[0] for v in points.values() if v[2] == "tmpfs"}
        print("tmpfs superblocks in mountinfo: %d (%d masked directories)" % (len(tmpfs), len(MASKED_DIRS)))
        self.assertEqual(len(tmpfs), 3, "not the masks', /tmp and /dev alone: %s" % logs)
        self.assertIn(points["/tmp"][0], tmpfs)
        self.assertNotEqual(points["/tmp"][0], dev)
        return dev

    def test_masked_dirs_are_the_layer_of_each_task(self):
        a = self.start_task("mask-a")
        b = None
        try:
            a_dev = self.check_task(*self.seen(a))
            b = self.start_task("mask-b")
            b_dev = self.check_task(*self.seen(b))
            # Both alive: distinct devices are distinct superblocks.
            self.assertEqual(self.d.task(a)["state"], "running")
            self.assertNotEqual(a_dev, b_dev, "two tasks' masked directories share one device")
        finally:
            for t in (a, b):
                if t:
                    self.d.delete("/api/tasks/%s" % t)
            for t in (a, b):
                if t:
                    self.d.wait_terminal(t)


class MasksWithoutCells(Masks):
    """The same on the path without cells (pool_size 0: a spawn on demand)."""
    daemon_kwargs = {"extra_args": ["--rootfs", ROOTFS], "config": {"pool_size": 0}}


if __name__ == "__main__":
    why = skip_reason()
    if why:
        print("SKIPPED: " + why)
        sys.exit(77)
    harness.main()
