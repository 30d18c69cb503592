"""test_storage.py — never claim what was not kept: a read-only or full
state directory (a small tmpfs mounted for the test) gets 503/507 with an
error instead of a 202, /healthz says so, and the daemon recovers by itself
when the directory takes writes again; every id that got a 202 resolves
after a restart.  And file descriptors: with a low RLIMIT_NOFILE, many
printing tasks get 202 or 503 (never 500) and none loses its output."""

import os
import shutil
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
        """A running store cannot be remounted read-only (Linux refuses while
        files are open for writing), so the read-only case is a daemon
        started on one: it refuses to start, saying why, and never answers
        a 202 it could not keep."""
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
