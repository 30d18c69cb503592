#!/usr/bin/env python3
"""test_pipeline.py — the warden spawns several tasks at once (issue 10).

Spawns are a pipeline in the warden: each a small state machine driven by
its descriptors in the monitor's event loop.  These tests hold it to the
same answers as one spawn at a time, under concurrency:

- a stress run: thousands of tasks over 4 lanes, each exiting with its own
  code and printing its own line, interleaved with spawns that fail (a
  program the rootfs lacks: 400) and with tasks cancelled while running;
  every record ends terminal and exact, every log holds its own task's line,
  and the warden holds no more descriptors at the end than at the start;
- the warden keeps at most 1 descriptor per running task (init's channel;
  docs/design.md), so that 10 000 tasks fit a 20 000-descriptor limit;
- a task's init is the warden's own child with the task's host uid as
  all its uids, and every thread of the warden has root's uids after the
  clones (a cloning thread switches only its effective uid, around the
  clone of the spawn trampoline, which takes all three);
- the warden's main thread sleeps through the tasks' ends (it watches the
  front through a pidfd; a SIGCHLD of every ending task woke it);
- the front's table thread sleeps while nothing is queued: a task's start
  and end do not wake it (they did, twice a task, for nothing).

Counts: JOBCELL_STRESS_N, else 1000 on the host (plain and ASan builds),
1000 / JOBCELL_TEST_SLOW in the TCG VM, at least 150: each run stays within
a minute.
"""
import http.client
import json
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import DaemonTestCase, scaled  # noqa: E402

LANES = 4
POOL = 2   # cells prepared ahead (the default)


def stress_count():
    n = int(os.environ.get("JOBCELL_STRESS_N", "0") or "0")
    if n > 0:
        return n
    if harness.SLOW > 1:
        return max(150, int(1000 / harness.SLOW))
    return 1000


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def stat_fields(pid):
    """/proc/PID/stat's fields from the 3rd (state) on: field k is [k - 3]."""
    text = harness.read_text("/proc/%d/stat" % pid)
    return text[text.rindex(")") + 2:].split()


def status_field(path, key):
    for line in harness.read_text(path).splitlines():
        if line.startswith(key + ":"):
            return line.split()[1:]
    raise AssertionError("%s: no %s" % (path, key))


def threads_named(pid, name):
    out = []
    for tid in os.listdir("/proc/%d/task" % pid):
        if harness.read_text("/proc/%d/task/%s/comm" % (pid, tid)).strip() == name:
            out.append(int(tid))
    return out


class Lane:
    """One keep-alive connection."""

    def __init__(self, port):
        self.port = port
        self.c = None

    def req(self, method, path, body=None):
        for attempt in range(3):
            try:
                if self.c is None:
                    self.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=scaled(60))
                hdrs = {"Content-Type": "application/json"} if body is not None else {}
                self.c.request(method, path, json.dumps(body) if body is not None else None, hdrs)
                r = self.c.getresponse()
                return r.status, r.read()
            except (http.client.HTTPException, ConnectionError):
                self.c = None   # a closed keep-alive connection: a new one
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self):
        if self.c is not None:
            self.c.close()


# What task i is: most exit with i % 256 after printing their line; every
# 50th names a program the rootfs lacks; every 40th sleeps until cancelled.
def kind_of(i):
    if i % 50 == 7:
        return "missing"
    if i % 40 == 3:
        return "cancel"
    return "exit"


def body_of(i):
    k = kind_of(i)
    if k == "missing":
        return {"name": "missing-%d" % i, "command": ["/no/such/program-%d" % i]}
    if k == "cancel":
        return {"name": "cancel-%d" % i, "command": ["/bin/sleep", "300"]}
    return {"name": "exit-%d" % i, "command": ["/bin/sh", "-c", "echo line-%d; exit %d" % (i, i % 256)]}


class PipelineTest(DaemonTestCase):
    daemon_kwargs = {"config": {"max_running": 64, "max_queued": 4096, "pool_size": POOL}}

    def warden_pid(self):
        return self.d.proc.pid

    def cancel(self, lane, tid):
        deadline = time.monotonic() + scaled(60)
        while True:
            st, raw = lane.req("DELETE", "/api/tasks/%s" % tid)
            if st != 409 or time.monotonic() > deadline:   # 409: still starting, retry
                return st, raw
            time.sleep(0.01)

    def run_lane(self, lane_no, n, out, errors):
        lane = Lane(self.d.port)
        try:
            for i in range(lane_no, n, LANES):
                while True:
                    st, raw = lane.req("POST", "/api/tasks", body_of(i))
                    if st != 503:   # the queue is full: back off, submit again
                        break
                    time.sleep(0.05)
                out[i] = (st, json.loads(raw) if raw else None)
                if st == 202 and kind_of(i) == "cancel":
                    cst, craw = self.cancel(lane, out[i][1]["id"])
                    if cst not in (200, 202, 204):
                        errors.append("task %d: DELETE → %d %r" % (i, cst, craw))
        except Exception as e:   # reported by the main thread
            errors.append("lane %d: %r" % (lane_no, e))
        finally:
            lane.close()

    def wait_all_terminal(self, ids):
        lane = Lane(self.d.port)
        recs = {}
        deadline = time.monotonic() + scaled(120)
        pending = dict(ids)
        while pending and time.monotonic() < deadline:
            for i, tid in list(pending.items()):
                st, raw = lane.req("GET", "/api/tasks/%s" % tid)
                self.assertEqual(st, 200, raw)
                rec = json.loads(raw)
                if rec["state"] in harness.TERMINAL:
                    recs[i] = rec
                    del pending[i]
            if pending:
                time.sleep(0.2)
        lane.close()
        self.assertEqual(pending, {}, "tasks still not terminal")
        return recs

    def check_record(self, i, rec):
        k = kind_of(i)
        if k == "cancel":
            self.assertRecordEnd(rec, "cancelled", "cancelled")
        elif i % 256 == 0:
            self.assertRecordEnd(rec, "succeeded", "exited", exit_code=0)
        else:
            self.assertRecordEnd(rec, "failed", "exited", exit_code=i % 256)

    def test_stress_every_record_exact(self):
        n = stress_count()
        self.d.wait_cells(POOL)  # a refill under way holds a cell's descriptors
        base_fds = fd_count(self.warden_pid())
        out, errors = {}, []
        t0 = time.monotonic()
        lanes = [threading.Thread(target=self.run_lane, args=(k, n, out, errors)) for k in range(LANES)]
        for t in lanes:
            t.start()
        for t in lanes:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(len(out), n)
        ids = {}
        for i in range(n):
            st, body = out[i]
            if kind_of(i) == "missing":
                self.assertEqual(st, 400, body)
                self.assertIn("cannot run /no/such/program-%d in the rootfs" % i, body["error"])
            else:
                self.assertEqual(st, 202, body)
                self.assertGreater(body["pid"], 1)
                ids[i] = body["id"]
        recs = self.wait_all_terminal(ids)
        for i, rec in recs.items():
            self.check_record(i, rec)
        # Every 10th log: its own line only (no output crosses between tasks).
        for i in sorted(recs)[::10]:
            if kind_of(i) == "exit":
                self.assertEqual(self.d.logs(ids[i]), "line-%d\n" % i)
        print("%d tasks over %d lanes in %.1f s" % (n, LANES, time.monotonic() - t0))
        # Nothing of them is left in the warden.
        self.d.wait_cells(POOL)
        deadline = time.monotonic() + scaled(10)
        while fd_count(self.warden_pid()) > base_fds and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(fd_count(self.warden_pid()), base_fds)

    def test_one_descriptor_per_running_task(self):
        k = 40
        # Measured with the pool of cells full and its builder at rest
        # (its cells' descriptors, 5 each, are the same in both counts).
        self.d.wait_cells(POOL)
        base_fds = fd_count(self.warden_pid())
        ids = [self.d.submit_ok(name="sleeper", command=["/bin/sleep", "300"])["id"] for _ in range(k)]
        for tid in ids:
            self.d.wait_running(tid)
        self.d.wait_cells(POOL)
        running = fd_count(self.warden_pid())
        print("warden descriptors: %d idle, %d with %d running tasks (%.2f per task)"
              % (base_fds, running, k, (running - base_fds) / k))
        # 1 each (the channel to its init); 1.1 leaves room for a descriptor
        # the warden opens for a moment (a log batch), none per task.
        self.assertLessEqual(running - base_fds, 1.1 * k)
        lane = Lane(self.d.port)
        for tid in ids:
            st, raw = self.cancel(lane, tid)
            self.assertIn(st, (200, 202, 204), raw)
        lane.close()
        for tid in ids:
            self.assertRecordEnd(self.d.wait_terminal(tid), "cancelled", "cancelled")

    def test_task_is_the_wardens_child_with_its_uids(self):
        # More sleepers than cells: some are cloned on demand (main
        # thread), some were built ahead (the cell builder).
        ids = [self.d.submit_ok(name="sleeper", command=["/bin/sleep", "300"])["id"] for _ in range(POOL + 3)]
        warden = self.warden_pid()
        try:
            for tid in ids:
                pid = self.d.wait_running(tid)["pid"]
                f = stat_fields(pid)
                self.assertEqual(int(f[4 - 3]), warden, "task %s: pid %d is not the warden's child" % (tid, pid))
                uids = status_field("/proc/%d/status" % pid, "Uid")
                self.assertEqual(len(set(uids)), 1, "task %s: uids %s differ" % (tid, uids))
                self.assertNotEqual(uids[0], "0")
            self.d.wait_cells(POOL)
            for tid in os.listdir("/proc/%d/task" % warden):
                uids = status_field("/proc/%d/task/%s/status" % (warden, tid), "Uid")
                self.assertEqual(uids, ["0"] * 4, "warden thread %s kept uids %s" % (tid, uids))
        finally:
            for tid in ids:
                self.d.delete("/api/tasks/%s" % tid)
        for tid in ids:
            self.assertRecordEnd(self.d.wait_terminal(tid), "cancelled", "cancelled")

    def test_warden_main_thread_sleeps_through_task_ends(self):
        warden = self.warden_pid()
        path = "/proc/%d/task/%d/status" % (warden, warden)
        n = 20
        # Ends 0.1 s apart, the first once all run (the TCG VM needs
        # seconds to start 20): one wake each if they woke it.
        base = scaled(4)
        ids = [self.d.submit_ok(name="sleeper", command=["/bin/sleep", "%.1f" % (base + 0.1 * i)])["id"]
               for i in range(n)]
        for tid in ids:
            self.d.wait_running(tid)
        self.d.wait_cells(POOL)
        before = int(status_field(path, "voluntary_ctxt_switches")[0])
        # Every end is still to come, or the count below would miss some.
        self.assertEqual(self.d.task(ids[0])["state"], "running", "the first sleeper ended before the count began")
        for tid in ids:
            self.assertRecordEnd(self.d.wait_terminal(tid), "succeeded", "exited", exit_code=0)
        time.sleep(0.2)
        woken = int(status_field(path, "voluntary_ctxt_switches")[0]) - before
        print("the warden's main thread woke %d times for %d task ends" % (woken, n))
        self.assertLessEqual(woken, 3)

    def test_table_thread_sleeps_while_nothing_is_queued(self):
        front = self.d.front_pid()
        table = threads_named(front, "jc-table")
        self.assertEqual(len(table), 1, "the front's threads: no single jc-table")
        path = "/proc/%d/task/%d/status" % (front, table[0])
        n = 60
        before = int(status_field(path, "voluntary_ctxt_switches")[0])
        t0 = time.monotonic()
        for _ in range(n):   # one at a time: nothing is ever queued
            tid = self.d.submit_ok(name="quick", command=["/bin/true"])["id"]
            self.assertRecordEnd(self.d.wait_terminal(tid), "succeeded", "exited", exit_code=0)
        elapsed = time.monotonic() - t0
        woken = int(status_field(path, "voluntary_ctxt_switches")[0]) - before
        print("jc-table woke %d times in %.1f s for %d tasks" % (woken, elapsed, n))
        # Its own clock: once a second (retries, prunes), each tick maybe
        # twice (t->lock taken from an HTTP thread's store write).  Woken
        # by the tasks it would be 2-3 per task: 120 and more.
        self.assertLessEqual(woken, int(1.5 * elapsed) + 10)


if __name__ == "__main__":
    harness.main()
