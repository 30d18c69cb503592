"""test_storage.py — never claim what was not kept: a read-only or full
state directory (a small tmpfs mounted for the test) gets 503/507 with an
error instead of a 202, /healthz says so, and the daemon recovers by itself
when the directory takes writes again; every id that got a 202 resolves
after a restart, and the database passes SQLite's integrity check with no
row for a refused POST.  A filesystem the kernel turns read-only under the
running daemon (ext4 on a loop device, errors=remount-ro, trigger_fs_error):
503 naming the cause, records and logs still served, all of it there after
a repair and a restart.  And file descriptors: with a low RLIMIT_NOFILE, many
printing tasks get 202 or 503 (never 500) and none loses its output."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import Daemon, scaled


def sh(*argv):
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class SmallStateDir:
    """A tmpfs of `size` as a state directory, owned by the service user;
    unmounted (and removed) at exit even when the test failed."""

    def __init__(self, size="8m"):
        self.size = size
        self.path = None

    def __enter__(self):
        self.mnt = tempfile.mkdtemp(prefix="jobcell-tmpfs-")
        sh("mount", "-t", "tmpfs", "-o", "size=%s,mode=0755" % self.size, "jobcell-test", self.mnt)
        # The state directory is below the mount point: the harness's
        # check for mounts left behind looks for the state dir's path.
        self.path = os.path.join(self.mnt, "state")
        os.mkdir(self.path)
        sh("chown", "%s:" % harness.service_user(), self.path)
        return self

    def remount(self, mode):
        sh("mount", "-o", "remount,%s" % mode, self.mnt)

    def fill(self):
        """Fill it to the last byte; returns the filler's path."""
        filler = os.path.join(self.mnt, "filler")
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            for chunk in (1 << 20, 4096, 1):
                try:
                    while True:
                        os.write(fd, b"\0" * chunk)
                except OSError:
                    pass
        finally:
            os.close(fd)
        return filler

    def __exit__(self, *exc):
        for _ in range(10):
            if subprocess.run(["umount", self.mnt], stderr=subprocess.DEVNULL).returncode == 0:
                break
            time.sleep(0.5)
        else:
            subprocess.run(["umount", "-l", self.mnt], stderr=subprocess.DEVNULL)
        shutil.rmtree(self.mnt, ignore_errors=True)
        return False


def dir_trouble(h):
    """What /healthz says is wrong with the state directory ("" if nothing)."""
    sd = h["state_dir"]
    return " ".join(x for x in (sd.get("error"), sd.get("room_error")) if x)


def wait_health(d, ok, timeout):
    """Until /healthz says the state directory is fine (ok) or in trouble."""
    deadline = time.monotonic() + scaled(timeout)
    h = None
    while time.monotonic() < deadline:
        h = d.get("/healthz").body
        if (h["status"] == "ok") == ok and bool(dir_trouble(h)) != ok:
            return h
        time.sleep(0.1)
    raise AssertionError("healthz never said ok=%s: %r" % (ok, h))


def check_store(state_dir, ids):
    """Nothing half-written: SQLite's integrity check passes, every row's
    record is whole JSON naming its own id, and every id in `ids` has one."""
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(state_dir, "tasks", "records.db"),
                         uri=True)
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        rows = db.execute("SELECT id, record FROM tasks").fetchall()
    finally:
        db.close()
    for rid, text in rows:
        rec = json.loads(text)
        assert rec["id"] == rid and rec["state"] in harness.TERMINAL + ("queued", "running"), rec
    missing = set(ids) - {r[0] for r in rows}
    assert not missing, "acknowledged but not stored: %r" % sorted(missing)
    return len(rows)


def can_mount_tmpfs():
    if os.geteuid() != 0:
        return False
    d = tempfile.mkdtemp()
    try:
        return subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "probe", d],
                              stderr=subprocess.DEVNULL).returncode == 0 and \
            subprocess.run(["umount", d]).returncode == 0
    finally:
        os.rmdir(d)


class StateDir(unittest.TestCase):
    """Read-only and full state directories."""

    @classmethod
    def setUpClass(cls):
        if not can_mount_tmpfs():
            raise unittest.SkipTest("cannot mount a tmpfs here")

    def test_read_only_state_dir_is_refused_at_start(self):
        """A daemon started on a read-only state directory refuses to
        start, saying why, and never answers a 202 it could not keep.  (A
        tmpfs cannot be remounted read-only while files are open for
        writing: the read-only case under a running daemon is
        ReadOnlyUnderTheDaemon, below.)"""
        with SmallStateDir() as state:
            with Daemon(state_dir=state.path, owns_state=False) as d:
                d.submit_ok(name="kept", duration=0)
            state.remount("ro")
            d = Daemon(state_dir=state.path, owns_state=False)
            with self.assertRaises(harness.DaemonError) as cm:
                d.start()
            self.assertRegex(str(cm.exception), r"(?i)read-only|record store")
            state.remount("rw")

    def test_full_then_space_again(self):
        with SmallStateDir() as state:
            d = Daemon(state_dir=state.path, owns_state=False).start()
            acked = []
            try:
                filler = state.fill()
                refused = None
                for i in range(200):
                    r = d.submit(name="fill-%d" % i, command=["/bin/true"])
                    if r.status == 202:
                        acked.append(r.body["id"])
                        continue
                    refused = r
                    break
                self.assertIsNotNone(refused, "every POST got 202 on a full disk")
                print("%d POSTs kept on the full disk before the first refusal" % len(acked))
                # 507: the store found the disk full, or the free-space floor
                # (logspace.c, min_free_mb) refused first.
                self.assertEqual(refused.status, 507, refused)
                self.assertRegex(refused.body["error"], "full|floor")
                self.assertNotIn("id", refused.body)
                h = wait_health(d, False, 10)
                self.assertEqual(h["status"], "degraded")
                self.assertRegex(dir_trouble(h), "full|floor")
                os.unlink(filler)
                wait_health(d, True, 30)   # recovers by itself
                acked.append(d.submit_ok(name="after", command=["/bin/true"])["id"])
                for i in acked:
                    d.wait_terminal(i)
            finally:
                d.stop()
            self.assertEqual(check_store(state.path, acked), len(acked),
                             "a refused POST left a row")
            # Everything acknowledged is there after a restart, as it was.
            with Daemon(state_dir=state.path, owns_state=False, cgroup_name=d.cgroup_name) as b:
                for i in acked:
                    r = b.get("/api/tasks/%s" % i)
                    self.assertEqual((r.status, r.body.get("state")), (200, "succeeded"), r)

    def test_output_that_could_not_be_kept_is_marked(self):
        with SmallStateDir() as state:
            d = Daemon(state_dir=state.path, owns_state=False).start()
            try:
                b = d.submit_ok(name="late-printer",
                                command=["/bin/sh", "-c", "sleep 2; echo printed-late"])
                filler = state.fill()
                try:
                    rec = d.wait_terminal(b["id"])
                finally:
                    os.unlink(filler)
                logs = d.logs(b["id"])
                if logs != "printed-late\n":
                    # Said in the record: the log is marked incomplete, or the
                    # task was stopped for want of log space (output_limit).
                    self.assertTrue(rec.get("log", {}).get("complete") is False or
                                    rec["reason"] == "output_limit",
                                    "output was lost silently: %r" % rec)
                wait_health(d, True, 30)
                rec = d.task(b["id"])   # and the record reached the store
                self.assertIn(rec["state"], harness.TERMINAL)
            finally:
                d.stop()


class FailingDisk:
    """An ext4 image on a loop device, mounted errors=remount-ro, holding a
    state directory: `fail()` makes the kernel turn it read-only under the
    running daemon, as it does when a disk fails (trigger_fs_error: the
    journal is aborted, every later write gets EROFS).  `repair()` is what
    an operator does then: unmount, fsck, mount again.  The loop device and
    mounts go at exit even when the test failed."""

    def __init__(self, size_mb=64):
        self.size_mb = size_mb
        self.dev = None
        self.mounted = False

    @staticmethod
    def why_not():
        """Why this kernel/machine cannot do it ("" when it can)."""
        if not all(shutil.which(p) for p in ("losetup", "mkfs.ext4", "e2fsck")):
            return "losetup, mkfs.ext4 or e2fsck is missing"
        if not os.path.exists("/dev/loop-control"):
            return "no loop devices (/dev/loop-control)"
        if not os.path.isdir("/sys/fs/ext4"):
            return "no ext4 in this kernel"
        return ""

    def __enter__(self):
        self.base = tempfile.mkdtemp(prefix="jobcell-ext4-")
        os.chmod(self.base, 0o755)   # the front (service user) walks through
        self.image = os.path.join(self.base, "disk.img")
        self.mnt = os.path.join(self.base, "mnt")
        os.mkdir(self.mnt)
        with open(self.image, "wb") as f:
            f.truncate(self.size_mb << 20)
        sh("mkfs.ext4", "-q", "-F", self.image)
        self.dev = subprocess.run(["losetup", "--find", "--show", self.image], check=True,
                                  stdout=subprocess.PIPE, text=True).stdout.strip()
        self.mount()
        self.path = os.path.join(self.mnt, "state")
        os.mkdir(self.path)
        sh("chown", "%s:" % harness.service_user(), self.path)
        return self

    def mount(self):
        sh("mount", "-t", "ext4", "-o", "errors=remount-ro", self.dev, self.mnt)
        self.mounted = True

    def trigger(self):
        """The sysfs knob of this filesystem, None when the kernel lacks it."""
        t = "/sys/fs/ext4/%s/trigger_fs_error" % os.path.basename(self.dev)
        return t if os.path.exists(t) else None

    def read_only(self):
        """Whether the kernel made it read-only: 6.x kernels say so in the
        super block's options ("emergency_ro"), older ones with "ro"."""
        with open("/proc/self/mountinfo") as f:
            for line in f:
                parts = line.split()
                if parts[4] == self.mnt:
                    sb = line.split(" - ", 1)[1].split()[2].split(",")
                    return "ro" in parts[5].split(",") or "ro" in sb or "emergency_ro" in sb
        return False

    def fail(self):
        with open(self.trigger(), "w") as f:
            f.write("1")
        deadline = time.monotonic() + scaled(10)
        while not self.read_only():
            if time.monotonic() >= deadline:
                raise AssertionError("%s did not turn read-only" % self.mnt)
            time.sleep(0.05)

    def umount(self):
        for _ in range(20):
            if subprocess.run(["umount", self.mnt], stderr=subprocess.DEVNULL).returncode == 0:
                break
            time.sleep(0.25)
        else:
            subprocess.run(["umount", "-l", self.mnt], stderr=subprocess.DEVNULL)
        self.mounted = False

    def wait_released(self):
        """Until no mount namespace holds the filesystem any more: a task's
        (or a prepared cell's) copy of the mount table goes a moment after
        the process, and e2fsck refuses a device in use."""
        deadline = time.monotonic() + scaled(15)
        while True:
            try:
                os.close(os.open(self.dev, os.O_RDONLY | os.O_EXCL))
                return
            except OSError as e:
                if time.monotonic() >= deadline:
                    raise AssertionError("%s still in use: %s" % (self.dev, e))
            time.sleep(0.05)

    def repair(self):
        self.umount()
        self.wait_released()
        # 0: clean, 1: errors corrected (what an aborted journal leaves)
        fsck = subprocess.run(["e2fsck", "-f", "-y", self.dev], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
        if fsck.returncode not in (0, 1):
            raise AssertionError("e2fsck exited %d: %s" % (fsck.returncode, fsck.stdout))
        self.mount()

    def __exit__(self, *exc):
        if self.mounted:
            self.umount()
        if self.dev:
            subprocess.run(["losetup", "-d", self.dev], stderr=subprocess.DEVNULL)
        shutil.rmtree(self.base, ignore_errors=True)
        return False


class ReadOnlyUnderTheDaemon(unittest.TestCase):
    """The state directory's filesystem turns read-only while the daemon
    runs (a failing disk): POSTs get 503 with an error, never a 202 nor a
    500; what was kept stays readable; /healthz says why; after a repair
    and a restart, everything acknowledged is there."""

    def test_filesystem_turns_read_only(self):
        why = FailingDisk.why_not()
        if why:
            print("SKIPPED: " + why)
            self.skipTest(why)
        with FailingDisk() as disk:
            if not disk.trigger():
                why = "this kernel has no /sys/fs/ext4/<dev>/trigger_fs_error"
                print("SKIPPED: " + why)
                self.skipTest(why)
            # records_sync full: a disk that fails loses what was not
            # fsynced, like a power cut (configuration.md, records_sync).
            cfg = {"records_sync": "full"}
            d = Daemon(config=cfg, state_dir=disk.path, owns_state=False).start()
            try:
                kept = [d.submit_ok(name="kept-%d" % i, command=["/bin/echo", str(i)])["id"]
                        for i in range(5)]
                for i in kept:
                    d.wait_terminal(i)
                sleeper = d.submit_ok(name="sleeper", command=["/bin/sleep", "600"])["id"]
                d.wait_running(sleeper)
                disk.fail()
                for n in range(5):
                    r = d.submit(name="refused-%d" % n, command=["/bin/true"])
                    self.assertEqual(r.status, 503, r)
                    self.assertIsInstance(r.body, dict, r)
                    # The kernel's cause, not only SQLite's "disk I/O error".
                    self.assertRegex(r.body.get("error", ""),
                                     r"^Cannot store the task record .*\(Read-only file system\)$", r)
                    self.assertNotIn("id", r.body, r)
                for n, i in enumerate(kept):   # what was kept is still served
                    rec = d.task(i)
                    self.assertEqual(rec["state"], "succeeded", rec)
                    self.assertEqual(d.logs(i), "%d\n" % n)
                h = wait_health(d, False, 10)
                self.assertEqual(h["status"], "degraded", h)
                self.assertIn("Read-only file system", dir_trouble(h))
            finally:
                d.stop()
            disk.repair()
            self.assertEqual(check_store(disk.path, kept + [sleeper]), 6, "a refused POST left a row")
            with Daemon(config=cfg, state_dir=disk.path, owns_state=False,
                        cgroup_name=d.cgroup_name) as b:
                for n, i in enumerate(kept):
                    rec = b.task(i)
                    self.assertEqual((rec["state"], rec["exit_code"]), ("succeeded", 0), rec)
                    self.assertEqual(b.logs(i), "%d\n" % n)
                rec = b.task(sleeper)   # its end could not be written: lost
                self.assertIn(rec["state"], harness.TERMINAL, rec)
                names = sorted(t["name"] for t in b.get("/api/tasks?limit=1000").body["tasks"])
                self.assertEqual(names, sorted(["kept-%d" % i for i in range(5)] + ["sleeper"]),
                                 "a refused POST left a record")
                b.submit_ok(name="after-repair", command=["/bin/true"])


class Descriptors(unittest.TestCase):
    """Few file descriptors: 503 never 500, no output lost silently."""

    def run_printers(self, nofile):
        if not shutil.which("prlimit"):
            self.skipTest("prlimit is missing")
        d = Daemon(config={"max_running": 500}, prefix=["prlimit", "--nofile=%s" % nofile]).start()
        ids = []
        try:
            for i in range(120):
                r = d.submit(name="p%d" % i, command=["/bin/sh", "-c", "sleep 2; echo out-%d" % i])
                self.assertIn(r.status, (202, 503), r)
                if r.status == 202:
                    ids.append((i, r.body["id"]))
            self.assertTrue(ids)
            for i, tid in ids:
                rec = d.wait_terminal(tid, 120)
                logs = d.logs(tid)
                if rec["state"] == "succeeded":
                    self.assertEqual(logs, "out-%d\n" % i, rec)
                elif logs != "out-%d\n" % i:
                    self.assertEqual(rec.get("log", {}).get("complete"), False, rec)
        finally:
            d.stop()

    def test_soft_limit_below_the_hard_one(self):
        """As under systemd (soft 1024, hard 512K), scaled down: the soft
        limit is raised at start-up."""
        self.run_printers("256:4096")

    def test_low_hard_limit(self):
        """max_running is fitted to the descriptors: the rest queue."""
        self.run_printers("256:256")


if __name__ == "__main__":
    harness.main()
