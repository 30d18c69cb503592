"""test_sweeper.py — a task's end does not wait for its cgroup's removal
(src/sweeper.h): a cgroup kept busy at the task's end (a process of the
test's own moved into it in every hierarchy) does not hold the record nor
the other tasks' ends, is retried until it can go (logged once) and goes
once emptied; and a stop leaves no task cgroup behind even then.

The task is ended from outside (its program killed by the test), never
cancelled: a cancel kills everything in the task's cgroup (cgroup.kill,
or its v1 process list), the intruder with it."""

import os
import re
import signal
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import DaemonTestCase, scaled

SLEEPER = {"name": "sleeper", "command": ["/bin/sleep", "3600"], "limits": {"timeout_s": 3600}}


def wait_until(cond, timeout):
    """Poll cond() (bounded); its last value."""
    deadline = time.monotonic() + scaled(timeout)
    while True:
        v = cond()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(0.05)


class Intruder:
    """A sleep of the test's own, moved into a task's cgroup in every
    hierarchy; killed and reaped whatever happens."""

    def __init__(self, cgroups):
        self.proc = subprocess.Popen(["sleep", "3600"])
        for d in cgroups.values():
            with open(os.path.join(d, "cgroup.procs"), "w") as f:
                f.write("%d\n" % self.proc.pid)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def alive(self):
        return self.proc.poll() is None


def program_of(init_pid):
    """The task's program: init's one descendant."""
    kids = [p for p in harness.descendants(init_pid) if p != init_pid]
    return kids[0] if len(kids) == 1 else None


def gauge(d):
    """jobcell_cgroups_awaiting_removal from /metrics, None if absent."""
    r = d.get("/metrics")
    text = r.body if isinstance(r.body, str) else r.raw.decode()
    m = re.search(r"^jobcell_cgroups_awaiting_removal (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


class Busy(DaemonTestCase):

    def start_busy(self):
        """A sleeper whose cgroup holds an intruder, ended (its program
        killed from outside): (its record, the intruder)."""
        intruder = None
        b = self.d.submit_ok(**SLEEPER)
        self.d.wait_running(b["id"])
        cgroups = self.d.task_cgroups(b["id"])
        self.assertEqual(len(cgroups), len(harness.cgroup_bases(self.d.cgroup_name)), cgroups)
        prog = wait_until(lambda: program_of(b["pid"]), 10)
        self.assertIsNotNone(prog, "no program under init %d" % b["pid"])
        intruder = Intruder(cgroups)
        try:
            os.kill(prog, signal.SIGTERM)   # the task ends: no cancel, no cgroup.kill
            rec = self.d.wait_terminal(b["id"], timeout=30)
        except BaseException:
            intruder.kill()
            raise
        return rec, intruder


class BusyAtTheEnd(Busy):

    def test_a_busy_cgroup_holds_no_end_and_goes_once_emptied(self):
        rec, intruder = self.start_busy()
        try:
            self.assertRecordEnd(rec, "failed", "signaled", signal=15, exit_code=None)
            self.assertTrue(intruder.alive())
            # Other tasks keep ending, and their cgroups go, meanwhile.
            rec2, _ = self.d.sh("exit 3")
            self.assertRecordEnd(rec2, "failed", "exited", exit_code=3)
            self.assertEqual(wait_until(lambda: not self.d.task_cgroups(rec2["id"]), 10), True)
            # The busy one stays, and is counted.
            self.assertTrue(self.d.task_cgroups(rec["id"]), "removed with a process in it?")
            time.sleep(scaled(2))   # several retries (backing off to 1 s)
            waiting = gauge(self.d)
            health = self.d.get("/healthz").body["cgroup"].get("awaiting_removal")
            intruder.kill()
            gone = wait_until(lambda: not self.d.task_cgroups(rec["id"]), 15)
            self.assertTrue(gone, "left behind: %r" % self.d.task_cgroups(rec["id"]))
            # Logged once however often retried, and once more when gone.
            log = self.d.log_text()
            self.assertEqual(len(re.findall("%s.*still there after" % rec["id"], log)), 1, log)
            self.assertEqual(len(re.findall("%s.*cgroup removed at last" % rec["id"], log)), 1, log)
            self.assertGreaterEqual(waiting, 1)
            self.assertGreaterEqual(health, 1)
            self.assertEqual(wait_until(lambda: gauge(self.d) == 0, 10), True)
        finally:
            intruder.kill()


class StopWithABacklog(Busy):

    def test_a_stop_leaves_no_cgroup_with_a_backlog_and_a_busy_one(self):
        rec, intruder = self.start_busy()
        try:
            self.assertRecordEnd(rec, "failed", "signaled", signal=15)
            ids = [self.d.submit_ok(**SLEEPER)["id"] for _ in range(8)]
            for tid in ids:
                self.d.wait_running(tid)
            self.assertTrue(self.d.task_cgroups(rec["id"]))
            self.d.stop()   # cancels the 8 at once; asserts: no process, cgroup or mount left
            self.assertFalse(intruder.alive(), "the stop did not kill what was in the cgroup")
            self.assertIn("stopped; no task or cgroup left", self.d.log_text())
        finally:
            intruder.kill()



# The warden's threshold (src/sweeper.h SWEEP_HOLD_DYING): more killed
# tasks than this still exiting hold the removals back.
HOLD_DYING = 16
FREEZER = "/sys/fs/cgroup/freezer"


class Freezer:
    """A v1 freezer cgroup of the test's own: what is frozen in it cannot
    exit, a SIGKILL pending or not, until thawed.  Thawed, emptied and
    removed whatever happens."""

    def __init__(self):
        self.dir = os.path.join(FREEZER, "jobcell-test-hold-%d" % os.getpid())
        os.mkdir(self.dir)

    def add(self, pid):
        with open(os.path.join(self.dir, "cgroup.procs"), "w") as f:
            f.write("%d\n" % pid)

    def set(self, state):
        with open(os.path.join(self.dir, "freezer.state"), "w") as f:
            f.write(state + "\n")
        return wait_until(lambda: harness.read_text(os.path.join(self.dir, "freezer.state")).strip() == state, 20)

    def remove(self):
        if not os.path.isdir(self.dir):
            return
        self.set("THAWED")
        # What was frozen has a SIGKILL pending: it goes, and the directory with it.
        wait_until(lambda: not harness.read_pids(os.path.join(self.dir, "cgroup.procs")), 30)
        os.rmdir(self.dir)


@unittest.skipUnless(os.path.isdir(FREEZER) and harness.cgroup_mode() == "v1",
                     "needs a cgroup v1 freezer hierarchy, which keeps killed tasks from exiting "
                     "(v2's freezer lets a SIGKILL through)")
class MassEnd(DaemonTestCase):
    """While more than HOLD_DYING killed tasks are still exiting (a cancel
    of many), an ended task's cgroup waits: its record is terminal at
    once, its cgroup goes once they have exited (src/sweeper.h)."""

    daemon_kwargs = {"config": {"max_running": 64}}

    def freeze_sleepers(self, freezer, n):
        ids = [self.d.submit_ok(**SLEEPER)["id"] for _ in range(n)]
        for tid in ids:
            rec = self.d.wait_running(tid)
            prog = wait_until(lambda: program_of(rec["pid"]), 10)
            self.assertIsNotNone(prog, "no program under init %d" % rec["pid"])
            freezer.add(rec["pid"])
            freezer.add(prog)
        self.assertTrue(freezer.set("FROZEN"), "the sleepers did not freeze")
        return ids

    def test_removals_wait_for_a_mass_end(self):
        freezer = Freezer()
        try:
            frozen = self.freeze_sleepers(freezer, HOLD_DYING + 1)
            for tid in frozen:
                self.assertEqual(self.d.delete("/api/tasks/" + tid).status, 202)
            # Killed, and unable to exit while frozen.
            time.sleep(scaled(0.5))
            self.assertFalse([t for t in frozen if self.d.task(t)["state"] in harness.TERMINAL])
            # Another task ends meanwhile: its record at once, its cgroup kept.
            rec, _ = self.d.sh("exit 3")
            self.assertRecordEnd(rec, "failed", "exited", exit_code=3)
            time.sleep(scaled(1.5))
            self.assertTrue(self.d.task_cgroups(rec["id"]), "removed during the mass end")
            self.assertGreaterEqual(gauge(self.d), 1)
            freezer.set("THAWED")
            for tid in frozen:
                self.assertRecordEnd(self.d.wait_terminal(tid, timeout=30), "cancelled", "cancelled")
            gone = wait_until(lambda: not self.d.task_cgroups(rec["id"]), 10)
            self.assertTrue(gone, "still there after the mass end: %r" % self.d.task_cgroups(rec["id"]))
            self.assertEqual(wait_until(lambda: gauge(self.d) == 0, 20), True)
        finally:
            freezer.remove()

    def test_a_few_kills_hold_nothing(self):
        freezer = Freezer()
        try:
            frozen = self.freeze_sleepers(freezer, HOLD_DYING)
            for tid in frozen:
                self.assertEqual(self.d.delete("/api/tasks/" + tid).status, 202)
            rec, _ = self.d.sh("exit 3")
            self.assertRecordEnd(rec, "failed", "exited", exit_code=3)
            gone = wait_until(lambda: not self.d.task_cgroups(rec["id"]), 10)
            self.assertTrue(gone, "held back by %d kills: %r" % (HOLD_DYING, self.d.task_cgroups(rec["id"])))
        finally:
            freezer.remove()


if __name__ == "__main__":
    harness.main()
