"""test_delegation.py — cgroup v2 under a service manager with Delegate=yes.

jobcelld started by systemd (INVOCATION_ID set) inside a writable cgroup of
its own must use that cgroup as its subtree: move itself into a
"supervisor" leaf first (the no-internal-processes rule), enable the memory,
pids and cpu controllers for its children, and create each task's cgroup
in a sibling of that leaf, "tasks", which carries the ceilings on the sum of
tasks (so the daemon itself is never charged to them).  Here a shell plays systemd: it creates the unit's cgroup,
moves itself in and execs jobcelld.  cgroup v2 only: the VM suite runs it."""

import os
import sys
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import Daemon, scaled

ROOT = "/sys/fs/cgroup"


def read(path):
    with open(path) as f:
        return f.read().strip()


class DelegatedDaemon(Daemon):
    unit = None

    def argv(self):
        return ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', self.unit] + super().argv()


@unittest.skipUnless(harness.cgroup_mode() == "v2",
                     "needs a pure cgroup v2 host (the VM suite runs it)")
class Delegation(unittest.TestCase):

    def setUp(self):
        self.unit = os.path.join(ROOT, "jobcell-test-unit-%d.service" % os.getpid())
        os.mkdir(self.unit)
        os.setxattr(self.unit, "trusted.delegate", b"1")   # what systemd sets for Delegate=yes
        self.d = DelegatedDaemon(env={"INVOCATION_ID": "0123456789abcdef"}, check_cleanup=False)
        self.d.unit = self.unit
        self.d.start()

    def tearDown(self):
        self.d.stop()
        left = sorted(e for e in os.listdir(self.unit)
                      if os.path.isdir(os.path.join(self.unit, e)))
        for e in left:
            os.rmdir(os.path.join(self.unit, e))
        os.rmdir(self.unit)
        self.assertEqual(left, ["supervisor"], "task cgroups left in the unit's subtree")

    def test_uses_the_units_cgroup(self):
        rel = self.unit[len(ROOT):]
        self.assertEqual(read("/proc/%d/cgroup" % self.d.proc.pid), "0::%s/supervisor" % rel)
        self.assertEqual(read(os.path.join(self.unit, "cgroup.procs")), "",
                         "processes left in the subtree's root (no internal processes)")
        enabled = read(os.path.join(self.unit, "cgroup.subtree_control")).split()
        for ctl in ("memory", "pids", "cpu"):
            self.assertIn(ctl, enabled)
        self.assertFalse(os.path.exists(os.path.join(ROOT, self.d.cgroup_name)),
                         "a delegated daemon must not create /sys/fs/cgroup/<name>")
        self.assertEqual(self.d.health["cgroup"]["mode"], "v2")

    def test_task_cgroup_is_in_the_unit(self):
        r = self.d.submit_ok(name="deleg", command=["/bin/sleep", "30"],
                             limits={"memory_mb": 48, "pids": 12, "cpus": 0.5})
        tid = r["id"]
        tasks = os.path.join(self.unit, "tasks")
        ceil = self.d.get("/healthz").body["ceilings"]
        self.assertEqual(read(os.path.join(tasks, "memory.max")), str(ceil["memory_bytes"]))
        self.assertEqual(read(os.path.join(tasks, "pids.max")), str(ceil["pids"]))
        cg = os.path.join(tasks, tid)
        self.assertTrue(os.path.isdir(cg), "no task cgroup at %s" % cg)
        self.assertEqual(read(os.path.join(cg, "memory.max")), str(48 << 20))
        self.assertEqual(read(os.path.join(cg, "pids.max")), "12")
        self.assertEqual(read(os.path.join(cg, "cpu.max")), "50000 100000")
        self.assertIn(str(r["pid"]), read(os.path.join(cg, "cgroup.procs")).split())
        self.assertEqual(self.d.delete("/api/tasks/" + tid).status, 202)
        rec = self.d.wait_terminal(tid, timeout=scaled(20))
        self.assertEqual(rec["reason"], "cancelled")
        self.assertFalse(os.path.exists(cg), "task cgroup not removed")

@unittest.skipUnless(harness.cgroup_mode() == "v2",
                     "needs a pure cgroup v2 host (the VM suite runs it)")
class NotDelegated(unittest.TestCase):
    def test_unmarked_cgroup_is_not_taken(self):
        """Without systemd's trusted.delegate mark, the daemon keeps out of
        its own cgroup and uses /sys/fs/cgroup/<name>."""
        unit = os.path.join(ROOT, "jobcell-test-plain-%d.service" % os.getpid())
        os.mkdir(unit)
        try:
            d = DelegatedDaemon(env={"INVOCATION_ID": "0123456789abcdef"})
            d.unit = unit
            with d:
                self.assertEqual(read("/proc/%d/cgroup" % d.proc.pid), "0::" + unit[len(ROOT):])
                self.assertTrue(os.path.isdir(os.path.join(ROOT, d.cgroup_name)))
        finally:
            os.rmdir(unit)


if __name__ == "__main__":
    if harness.cgroup_mode() != "v2":
        print("SKIPPED: needs a pure cgroup v2 host; the VM suite (tests/vm/run.sh) runs it")
        sys.exit(77)
    harness.main()
