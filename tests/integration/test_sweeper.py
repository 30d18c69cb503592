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

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import Daemon, DaemonTestCase, scaled

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


class Sweeper(DaemonTestCase):

    def start_busy(self, d):
        """A sleeper whose cgroup holds an intruder: (body, intruder)."""
        b = d.submit_ok(**SLEEPER)
        d.wait_running(b["id"])
        cgroups = d.task_cgroups(b["id"])
        self.assertEqual(len(cgroups), len(harness.cgroup_bases(d.cgroup_name)), cgroups)
        prog = wait_until(lambda: program_of(b["pid"]), 10)
        self.assertIsNotNone(prog, "no program under init %d" % b["pid"])
        return b, prog, Intruder(cgroups)

    def test_a_busy_cgroup_holds_no_end_and_goes_once_emptied(self):
        intruder = None
        try:
            b, prog, intruder = self.start_busy(self.d)
            os.kill(prog, signal.SIGTERM)   # the task ends: no cancel, no cgroup.kill
            rec = self.d.wait_terminal(b["id"], timeout=30)
            self.assertRecordEnd(rec, "failed", "signaled", signal=15, exit_code=None)
            self.assertTrue(intruder.alive())
            # Other tasks keep ending, and their cgroups go, meanwhile.
            rec2, _ = self.d.sh("exit 3")
            self.assertRecordEnd(rec2, "failed", "exited", exit_code=3)
            self.assertEqual(wait_until(lambda: not self.d.task_cgroups(rec2["id"]), 10), True)
            # The busy one stays, is counted, and is logged once however often retried.
            self.assertTrue(self.d.task_cgroups(b["id"]), "removed with a process in it?")
            waiting = gauge(self.d)
            health = self.d.get("/healthz").body["cgroup"].get("awaiting_removal")
            line = "%s.*still there after" % b["id"]
            self.assertTrue(wait_until(lambda: re.search(line, self.d.log_text()), 10), self.d.log_tail())
            time.sleep(scaled(2))   # several more retries (backoff to 1 s)
            self.assertEqual(len(re.findall(line, self.d.log_text())), 1)
            intruder.kill()
            gone = wait_until(lambda: not self.d.task_cgroups(b["id"]), 15)
            self.assertTrue(gone, "left behind: %r" % self.d.task_cgroups(b["id"]))
            self.assertIn("cgroup removed at last", self.d.log_text())
            self.assertGreaterEqual(waiting, 1)
            self.assertGreaterEqual(health, 1)
            self.assertEqual(wait_until(lambda: gauge(self.d) == 0, 10), True)
        finally:
            if intruder:
                intruder.kill()

    def test_a_stop_leaves_no_cgroup_with_a_backlog_and_a_busy_one(self):
        d = Daemon(config={"stop_grace_s": 0}).start()
        intruder = None
        try:
            b, prog, intruder = self.start_busy(d)
            os.kill(prog, signal.SIGTERM)
            self.assertRecordEnd(d.wait_terminal(b["id"], timeout=30), "failed", "signaled", signal=15)
            ids = [d.submit_ok(**SLEEPER)["id"] for _ in range(20)]
            for tid in ids:
                d.wait_running(tid)
            self.assertTrue(d.task_cgroups(b["id"]))
            d.stop()   # asserts: no process, cgroup or mount left
            self.assertFalse(intruder.alive(), "the stop did not kill what was in the cgroup")
            self.assertIn("stopped; no task or cgroup left", d.log_text())
        finally:
            if intruder:
                intruder.kill()
            if d.alive():
                d.stop()


if __name__ == "__main__":
    harness.main()
