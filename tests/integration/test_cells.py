"""test_cells.py — cells prepared ahead (docs/design.md, "Cells prepared
ahead"): sandboxes the warden builds before any request, each handed one
task's spec and never reused.

- single use: tasks in a row through the pool each see a fresh /tmp (the
  previous task's marker absent), their own hostname, their own pid 1 and
  a cgroup namespace rooted at their own cgroup, named by their id;
- the request's limits reach a cell's cgroup and /tmp (the cell was built
  with the defaults);
- /metrics: cells ready, built, hand-overs, misses; a burst past the pool
  still spawns every task (a miss is built on demand);
- a taken cell is replaced once its task started or failed (not while the
  hand-over runs): one whose program cannot start is replaced too;
- kill -9 of the daemon with cells ready: the successor leaves nothing of
  them (processes, cgroups, mounts);
- a reload that changes what cells are built with rebuilds them, one that
  does not keeps them;
- pool_size 0 (by a reload): no cell, and a task is isolated the same way;
- a waiting cell is not a copy of the warden: it runs the spawn stub
  (jobcell-spawn) in a small address space of its own; and spawns on
  demand (pool_size 0) leave the warden's memory alone: no copy-on-write
  fault in the warden after each spawn (its min_flt stays put);
- stop: nothing left (the harness checks every stop).
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Daemon, DaemonTestCase, scaled  # noqa: E402

harness.exit_if_skipped()

PROBE = ("ls -A /tmp; touch /tmp/marker; echo host=$(hostname); echo pid1=$(cat /proc/1/comm); "
         "echo uid=$(id -u); echo cg=$(cat /proc/self/cgroup | tr '\\n' ' ')")


def metrics(d):
    r = d.get("/metrics")
    assert r.status == 200, r
    out = {}
    for line in r.raw.decode().splitlines():
        m = re.match(r"^(jobcell_cells?_[a-z_]+) (\S+)$", line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def wait_ready(d, n):
    """Until n cells wait (the builder refills the pool); the metrics then."""
    d.wait_cells(n)
    return metrics(d)


def cell_cgroups(d):
    """The cell cgroups (cell.<warden pid>.<n>) under the daemon's subtree."""
    out = []
    for base in harness.cgroup_bases(d.cgroup_name).values():
        if os.path.isdir(base):
            out += [os.path.join(base, n) for n in os.listdir(base) if n.startswith("cell.")]
    return out


def vm_kb(pid, field):
    """A /proc/PID/status size field (VmSize, VmRSS), in kB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s in /proc/%d/status" % (field, pid))


def min_flt(pid):
    """The minor faults of all of pid's threads (/proc/PID/stat field 10)."""
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[7])


class OnDemand(DaemonTestCase):
    daemon_kwargs = {"config": {"pool_size": 0, "max_running": 8}}

    def test_spawns_leave_the_warden_memory_alone(self):
        """A task's child that were a fork of the warden would share its
        pages copy-on-write: every page a warden thread then writes (its
        stacks, the plan, buffers) faults, tens per spawn (issue 10).  One
        cloned CLONE_VM|CLONE_VFORK that execs the stub at once shares
        nothing afterwards: after a warm-up, 96 spawns cost the warden no
        fault to speak of (fewer than one per two spawns; a fork: ~5 000)."""
        def batch(n, tag):
            ids = [self.d.submit_ok(name="%s-%d" % (tag, i), command=["/bin/true"])["id"] for i in range(n)]
            for i in ids:
                self.assertRecordEnd(self.d.wait_terminal(i), "succeeded", "exited", exit_code=0)
        warden = self.d.proc.pid
        for k in range(2):
            batch(8, "warm-%d" % k)
        before = min_flt(warden)
        for k in range(12):
            batch(8, "spawn-%d" % k)
        grown = min_flt(warden) - before
        self.assertLess(grown, 48, "the warden took %d minor faults over 96 spawns" % grown)


class Pool(DaemonTestCase):
    daemon_kwargs = {"config": {"pool_size": 2, "max_running": 8}}

    def test_cells_wait_in_the_spawn_stub(self):
        """The task's child never holds the warden's memory (issue 10): it is
        cloned with CLONE_VM|CLONE_VFORK and execs jobcell-spawn at once, so
        a cell waits for its task in the stub's few pages, not in a
        copy-on-write copy of the warden's address space."""
        warden = self.d.proc.pid
        deadline = time.monotonic() + scaled(30)
        # No task runs: the processes with a task's host uid are the cells
        # (found without the harness's cell_pids(), which knows the stub).
        while True:
            cells = [p for p in harness.descendants(warden) if p != warden and self.d.is_cell(p)]
            if metrics(self.d).get("jobcell_cells_ready") == 2 and len(cells) == 2:
                break
            self.assertLess(time.monotonic(), deadline, "never 2 cells ready: %r" % cells)
            time.sleep(0.05)
        for pid in cells:
            self.assertEqual(os.path.realpath(harness.proc_exe(pid) or ""), os.path.realpath(harness.STUB),
                             "cell %d is not running the spawn stub" % pid)
            self.assertEqual(harness.proc_comm(pid), "jobcell-spawn")
            size = vm_kb(pid, "VmSize")
            self.assertLess(size, 8 << 10, "cell %d maps %d kB" % (pid, size))
            self.assertLess(size * 4, vm_kb(warden, "VmSize"))
        body = self.d.submit_ok(name="after-stub", command=["/bin/true"])
        self.assertIn(body["pid"], cells)
        self.assertRecordEnd(self.d.wait_terminal(body["id"]), "succeeded", "exited", exit_code=0)

    def test_cells_are_single_use(self):
        seen_pids = set()
        before = wait_ready(self.d, 2)
        for i in range(4):
            wait_ready(self.d, 2)
            cells = set(self.d.cell_pids())
            body = self.d.submit_ok(name="probe-%d" % i, command=["/bin/sh", "-c", PROBE])
            self.assertIn(body["pid"], cells, "the task did not start in a waiting cell")
            self.assertNotIn(body["pid"], seen_pids, "a cell served a second task")
            seen_pids.add(body["pid"])
            rec = self.d.wait_terminal(body["id"])
            self.assertRecordEnd(rec, "succeeded", "exited", exit_code=0)
            out = self.d.logs(body["id"]).splitlines()
            self.assertNotIn("marker", out, "the previous task's /tmp is visible")
            self.assertIn("host=%s" % body["id"], out)
            self.assertIn("pid1=jobcell-init", out)
            self.assertIn("uid=0", out)
            cg = [l for l in out if l.startswith("cg=")][0][3:].split()
            self.assertTrue(cg and all(x.split(":", 2)[2] == "/" for x in cg), out)
        after = metrics(self.d)
        self.assertEqual(after["jobcell_cell_handovers_total"] - before["jobcell_cell_handovers_total"], 4)
        self.assertEqual(after["jobcell_cell_misses_total"], before["jobcell_cell_misses_total"])

    def test_the_task_cgroup_is_named_by_its_id_with_its_limits(self):
        wait_ready(self.d, 2)
        body = self.d.submit_ok(name="limits", command=["/bin/sh", "-c", "df -k /tmp; sleep 30"],
                                limits={"memory_mb": 48, "pids": 20, "cpus": 0.25, "tmpfs_mb": 3})
        self.d.wait_running(body["id"])
        cgs = self.d.task_cgroups(body["id"])
        self.assertTrue(cgs, "no cgroup named %s" % body["id"])
        if harness.cgroup_mode() == "v2":
            d = cgs["unified"]
            self.assertEqual(harness.read_text(os.path.join(d, "memory.max")), str(48 << 20))
            self.assertEqual(harness.read_text(os.path.join(d, "pids.max")), "20")
            self.assertEqual(harness.read_text(os.path.join(d, "cpu.max")), "25000 100000")
            self.assertIn(body["pid"], harness.read_pids(os.path.join(d, "cgroup.procs")))
        else:
            self.assertEqual(harness.read_text(os.path.join(cgs["memory"], "memory.limit_in_bytes")),
                             str(48 << 20))
            self.assertEqual(harness.read_text(os.path.join(cgs["pids"], "pids.max")), "20")
            self.assertEqual(harness.read_text(os.path.join(cgs["cpu"], "cpu.cfs_quota_us")), "25000")
            self.assertIn(body["pid"], harness.read_pids(os.path.join(cgs["pids"], "cgroup.procs")))
        deadline = time.monotonic() + scaled(10)
        while "tmp" not in self.d.logs(body["id"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        df = self.d.logs(body["id"]).splitlines()[-1].split()
        self.assertEqual(df[1], "3072", self.d.logs(body["id"]))
        self.assertEqual(self.d.delete("/api/tasks/%s" % body["id"]).status, 202)
        self.d.wait_terminal(body["id"])

    def test_a_burst_past_the_pool_spawns_every_task(self):
        before = wait_ready(self.d, 2)
        n = 8
        out = [None] * n

        def post(i):
            out[i] = self.d.post("/api/tasks", {"name": "burst-%d" % i, "command": ["/bin/true"]})
        threads = [threading.Thread(target=post, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual([r.status for r in out], [202] * n, out)
        for r in out:
            self.assertRecordEnd(self.d.wait_terminal(r.body["id"]), "succeeded", "exited", exit_code=0)
        after = wait_ready(self.d, 2)
        handed = after["jobcell_cell_handovers_total"] - before["jobcell_cell_handovers_total"]
        missed = after["jobcell_cell_misses_total"] - before["jobcell_cell_misses_total"]
        print("burst of %d: %d hand-overs, %d misses" % (n, handed, missed))
        self.assertEqual(handed + missed, n)
        self.assertGreaterEqual(after["jobcell_cells_built_total"] - before["jobcell_cells_built_total"],
                                handed)

    def test_a_dead_cell_is_replaced(self):
        wait_ready(self.d, 2)
        before = metrics(self.d)
        victim = self.d.cell_pids()[0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + scaled(30)
        while metrics(self.d)["jobcell_cells_discarded_total"] == before["jobcell_cells_discarded_total"]:
            self.assertLess(time.monotonic(), deadline, self.d.log_tail())
            time.sleep(0.05)
        wait_ready(self.d, 2)
        self.assertNotIn(victim, self.d.cell_pids())
        rec, logs = self.d.sh("echo ok")
        self.assertEqual((rec["state"], logs), ("succeeded", "ok\n"))


    def test_a_cell_whose_program_cannot_start_is_replaced(self):
        # The replacement of a taken cell is built once its task started
        # or failed (pool_landed): a failure must let it be built too.
        wait_ready(self.d, 2)
        before = metrics(self.d)
        r = self.d.submit(name="missing", command=["/no/such/program"])
        print("missing program: %d %s" % (r.status, r.body))
        if r.status == 202:
            self.assertEqual(self.d.wait_terminal(r.body["id"])["state"], "failed")
        else:
            self.assertIn(r.status, (400, 422, 500), r)
            self.assertIn("/no/such/program", r.body.get("error", ""), r)
        after = wait_ready(self.d, 2)
        self.assertEqual(after["jobcell_cell_handovers_total"] - before["jobcell_cell_handovers_total"], 1)
        self.assertEqual(after["jobcell_cells_built_total"] - before["jobcell_cells_built_total"], 1)
        rec, logs = self.d.sh("echo ok")
        self.assertEqual((rec["state"], logs), ("succeeded", "ok\n"))


class Reload(unittest.TestCase):
    def hup(self, d, text="SIGHUP: reload done"):
        n = d.log_text().count(text)
        os.kill(d.proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + scaled(30)
        while d.log_text().count(text) <= n:
            self.assertLess(time.monotonic(), deadline, d.log_tail())
            time.sleep(0.05)

    def rewrite(self, d, cfg):
        with open(d.config_path + ".new", "w") as f:
            json.dump(dict(d.config, **cfg), f)
        os.rename(d.config_path + ".new", d.config_path)

    def test_a_reload_rebuilds_cells_only_when_what_they_carry_changed_and_0_builds_none(self):
        with Daemon(config={"pool_size": 2}) as d:
            wait_ready(d, 2)
            first = set(d.cell_pids())
            self.rewrite(d, {"max_queued": 77})            # nothing a cell carries
            self.hup(d)
            wait_ready(d, 2)
            self.assertEqual(set(d.cell_pids()), first, "an unrelated reload rebuilt the cells")
            self.rewrite(d, {"max_queued": 77, "limits": {"default": {"tmpfs_mb": 5}}})
            self.hup(d)
            deadline = time.monotonic() + scaled(30)
            while set(d.cell_pids()) & first:
                self.assertLess(time.monotonic(), deadline, "old cells kept: %r" % d.cell_pids())
                time.sleep(0.05)
            wait_ready(d, 2)
            self.assertFalse(any(harness.proc_alive(p) for p in first))
            rec, logs = d.sh("df -k /tmp | tail -1")
            self.assertEqual(rec["state"], "succeeded", logs)
            self.assertEqual(logs.split()[1], "5120", logs)
            self.rewrite(d, {"pool_size": 0})
            self.hup(d)
            deadline = time.monotonic() + scaled(30)
            while d.cell_pids() or cell_cgroups(d):
                self.assertLess(time.monotonic(), deadline, "cells kept at pool_size 0")
                time.sleep(0.05)
            self.pool_size_0_isolates_the_same(d)

    def pool_size_0_isolates_the_same(self, d):
        """pool_size 0: no cell, and a task built on demand is isolated the same way."""
        m = metrics(d)
        body = d.submit_ok(name="probe", command=["/bin/sh", "-c", PROBE])
        self.assertNotIn(body["pid"], d.cell_pids())
        rec = d.wait_terminal(body["id"])
        self.assertEqual((rec["state"], rec["exit_code"]), ("succeeded", 0), rec)
        out = d.logs(body["id"]).splitlines()
        self.assertNotIn("marker", out)
        self.assertIn("host=%s" % body["id"], out)
        self.assertIn("pid1=jobcell-init", out)
        self.assertIn("uid=0", out)
        cg = [l for l in out if l.startswith("cg=")][0][3:].split()
        self.assertTrue(cg and all(x.split(":", 2)[2] == "/" for x in cg), out)
        after = metrics(d)
        self.assertEqual(after["jobcell_cells_ready"], 0)
        self.assertEqual(after["jobcell_cell_handovers_total"], m["jobcell_cell_handovers_total"])
        self.assertEqual(after["jobcell_cell_misses_total"], m["jobcell_cell_misses_total"])  # no pool: no miss
        self.assertEqual(d.cell_pids(), [])




def b_name():
    return "jobcell-test-%d-b" % os.getpid()


class Drain(unittest.TestCase):
    def test_a_drain_lets_a_task_started_in_a_cell_finish(self):
        # The cells are the builder thread's children: stopping that thread
        # at the drain's start killed them (PDEATHSIG), tasks included.
        cfg = {"pool_size": 2, "stop_grace_s": int(scaled(30))}
        d = Daemon(config=cfg, owns_state=False).start()
        b = None
        try:
            wait_ready(d, 2)
            cells = d.cell_pids()
            body = d.submit_ok(name="drained",
                               command=["/bin/sh", "-c", "sleep %d; echo done" % int(scaled(2))])
            self.assertIn(body["pid"], cells)
            d.wait_running(body["id"])
            d.proc.send_signal(signal.SIGTERM)
            d.proc.wait(timeout=scaled(60))
            self.assertEqual(d.proc.returncode, 0, d.log_tail())
            self.assertIn("drained: every running task ended within stop_grace_s", d.log_text())
            d.stop()  # asserts: no process, cgroup or mount left
            state, d = d.state_dir, None
            b = Daemon(config=cfg, state_dir=state, cgroup_name=b_name(), owns_state=True).start()
            rec = b.task(body["id"])
            self.assertEqual((rec["state"], rec["reason"], rec["exit_code"]), ("succeeded", "exited", 0), rec)
            self.assertEqual(b.logs(body["id"]), "done\n")
        finally:
            if d:
                d.stop()
            if b:
                b.stop()


class Crash(unittest.TestCase):
    def test_kill_9_with_cells_ready_leaves_nothing_after_restart(self):
        a = Daemon(config={"pool_size": 3}, check_cleanup=False).start()
        try:
            wait_ready(a, 3)
            cells = {p: harness.proc_stat(p)[2] for p in a.cell_pids()}
            old_cgroups = cell_cgroups(a)
            self.assertEqual(len(old_cgroups), 3 * len(harness.cgroup_bases(a.cgroup_name)), old_cgroups)
            a.crash()     # SIGKILL front and warden
            deadline = time.monotonic() + scaled(10)
            while any(harness.proc_alive(p, t) for p, t in cells.items()):
                self.assertLess(time.monotonic(), deadline, "cells outlived the warden")
                time.sleep(0.05)
            b = Daemon(config=a.config, state_dir=a.state_dir, cgroup_name=a.cgroup_name,
                       owns_state=True).start()
            try:
                wait_ready(b, 3)
                self.assertEqual([c for c in old_cgroups if os.path.isdir(c)], [],
                                 "the old cells' cgroups were not removed on restart")
                rec, logs = b.sh("echo alive")
                self.assertEqual((rec["state"], logs), ("succeeded", "alive\n"))
            finally:
                b.stop()  # asserts: no process, cgroup or mount left
        finally:
            a.stop()  # alive: stopped; crashed: its files removed (its successor had the rest)


@unittest.skipUnless(harness.cgroup_mode() == "v2",
                     "v1 renames a cell's cgroup into the task's: no cell cgroup is left to remove")
class HandOverV2(DaemonTestCase):
    """On v2 a cell's one process moves into the task's new cgroup at the
    hand-over; the cell's emptied cgroup goes to the sweeper, off the
    POST's path, and is retried until it can go (before: an rmdir retried
    for 200 ms on the POST's path, then the cgroup was left for good)."""

    def test_a_cells_emptied_cgroup_is_swept_until_it_goes(self):
        before = wait_ready(self.d, 2)
        cells = cell_cgroups(self.d)
        intruders = []
        try:
            for c in cells:   # something else in every waiting cell's cgroup
                p = subprocess.Popen(["sleep", "3600"])
                intruders.append(p)
                with open(os.path.join(c, "cgroup.procs"), "w") as f:
                    f.write("%d\n" % p.pid)
            rec, _ = self.d.sh("exit 3")
            self.assertRecordEnd(rec, "failed", "exited", exit_code=3)
            after = metrics(self.d)
            self.assertEqual(after["jobcell_cell_handovers_total"], before["jobcell_cell_handovers_total"] + 1)
            self.assertEqual([c for c in cells if not os.path.isdir(c)], [], "removed with a process in it?")
            time.sleep(scaled(0.5))   # retried meanwhile, and counted
            self.assertGreaterEqual(self.d.get("/healthz").body["cgroup"].get("awaiting_removal"), 1)
            for p in intruders:
                p.kill()
                p.wait()
            deadline = time.monotonic() + scaled(10)
            while len([c for c in cells if os.path.isdir(c)]) != len(cells) - 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(len([c for c in cells if os.path.isdir(c)]), len(cells) - 1,
                             "the taken cell's cgroup left behind: %r" % cell_cgroups(self.d))
        finally:
            for p in intruders:
                if p.poll() is None:
                    p.kill()
                    p.wait()


if __name__ == "__main__":
    unittest.main(verbosity=2)
