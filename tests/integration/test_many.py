#!/usr/bin/env python3
"""test_many.py — many sleeping tasks at once, and init's one channel (issue 10).

A running task holds one warden descriptor: its end of a SOCK_SEQPACKET
channel to its jobcell-init, which relays the program's output and its own
records on it (rootfs/init_proto.h; docs/design.md, "A task's life in the
warden").  So:

- 300 sleepers run at once over 4 clients; the warden holds at most 1.1
  descriptors per running task (2.0 before the channel), each task is an
  init and its program; all are cancelled, each ends "cancelled", and the
  warden's descriptors, processes and cgroups are back to none;
- output relayed through init arrives whole and before the end (what the
  program printed last, right before it exited, is in the log);
- a program that prints without pause is ended exactly at output_kb while
  the daemon stays responsive (backpressure stalls the program, not the
  warden);
- the program cannot reach the channel: init's descriptors are not its to
  open, and it inherits none but 0, 1 and 2;
- DELETEs repeated faster than the warden takes them (it is stopped) are
  all answered 202, one KILL per task reaches it, and every task ends
  "cancelled" (a burst once took the daemon down).

Nothing here depends on the cgroup version (suite any-cgroup).
"""
import json
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import DaemonTestCase, scaled  # noqa: E402
from test_pipeline import Lane, fd_count  # noqa: E402

N = 300
LANES = 4


class ManyTest(DaemonTestCase):
    # No cells (pool_size 0): the warden's descriptors and cgroups are then
    # the tasks' alone (test_cells and test_pipeline count them with cells).
    daemon_kwargs = {"config": {"max_running": N + 20, "max_queued": 4 * N, "pool_size": 0,
                                "limits": {"max": {"output_kb": 65536}}}}

    def warden_pid(self):
        return self.d.proc.pid

    def lanes(self, work, items):
        """work(lane, item) for each item, over LANES keep-alive clients."""
        errors, results = [], {}

        def run(k):
            lane = Lane(self.d.port)
            try:
                for i in range(k, len(items), LANES):
                    results[i] = work(lane, items[i])
            except Exception as e:   # reported below
                errors.append(repr(e))
            finally:
                lane.close()
        threads = [threading.Thread(target=run, args=(k,)) for k in range(LANES)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        return [results[i] for i in range(len(items))]

    def submit(self, lane, body):
        deadline = time.monotonic() + scaled(120)
        while True:
            st, raw = lane.req("POST", "/api/tasks", body)
            if st != 503 or time.monotonic() > deadline:   # 503: queue full, again
                return st, raw
            time.sleep(0.05)

    def cancel(self, lane, tid):
        deadline = time.monotonic() + scaled(60)
        while True:
            st, raw = lane.req("DELETE", "/api/tasks/%s" % tid)
            if st != 409 or time.monotonic() > deadline:   # 409: still starting
                return st, raw
            time.sleep(0.01)

    def task_cgroups_left(self):
        deadline = time.monotonic() + scaled(30)
        while True:
            left = [d for base in harness.cgroup_bases(self.d.cgroup_name).values()
                    for d in harness.subdirs(base)]
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.1)

    def wait_fds(self, at_most):
        deadline = time.monotonic() + scaled(30)
        while fd_count(self.warden_pid()) > at_most and time.monotonic() < deadline:
            time.sleep(0.1)
        return fd_count(self.warden_pid())

    def test_many_sleepers_one_descriptor_each_all_cancelled(self):
        base_fds = fd_count(self.warden_pid())
        t0 = time.monotonic()
        body = {"name": "sleeper", "command": ["/bin/sleep", "3600"], "limits": {"timeout_s": 7200}}
        answers = self.lanes(self.submit, [body] * N)
        for st, raw in answers:
            self.assertEqual(st, 202, raw)
        ids = [json.loads(raw)["id"] for _, raw in answers]
        pids = {}
        for tid in ids:
            pids[tid] = self.d.wait_running(tid, timeout=scaled(120))["pid"]
        t1 = time.monotonic()
        fds = fd_count(self.warden_pid())
        print("%d sleepers running after %.1f s; warden descriptors %d idle, %d now (%.3f per task)"
              % (N, t1 - t0, base_fds, fds, (fds - base_fds) / N))
        self.assertLessEqual(fds - base_fds, 1.1 * N)
        # Each is an init with its program under it, nothing more.
        for tid in ids[:20]:
            procs = sorted(harness.descendants(pids[tid]))   # init itself and under it
            self.assertEqual(len(procs), 2, "task %s: init %d and %r" % (tid, pids[tid], procs))
            self.assertEqual([harness.proc_comm(p) for p in procs if p != pids[tid]], ["sleep"])

        answers = self.lanes(self.cancel, ids)
        for st, raw in answers:
            self.assertIn(st, (200, 202, 204), raw)
        for tid in ids:
            self.assertRecordEnd(self.d.wait_terminal(tid, timeout=scaled(120)), "cancelled", "cancelled")
        print("all %d cancelled and terminal %.1f s after the first DELETE" % (N, time.monotonic() - t1))
        for tid in ids:
            self.assertFalse(harness.proc_alive(pids[tid]), "init %d of %s still alive" % (pids[tid], tid))
        self.assertEqual(self.task_cgroups_left(), [])
        self.assertLessEqual(self.wait_fds(base_fds), base_fds)

    def test_last_output_before_the_exit_is_kept(self):
        size = 3 * 1024 * 1024 + 17
        rec, _ = self.d.run_command(["/bin/sh", "-c", "head -c %d /dev/zero; echo LAST" % size],
                                    limits={"output_kb": 4096})
        self.assertRecordEnd(rec, "succeeded", "exited", exit_code=0)
        body = self.d.get("/api/tasks/%s/logs" % rec["id"]).raw
        self.assertEqual(len(body), size + 5)
        self.assertTrue(body.endswith(b"\0LAST\n"), body[-20:])

    def test_a_flood_is_cut_at_output_kb_and_the_daemon_keeps_serving(self):
        flood = self.d.submit_ok(name="flood", command=["/bin/cat", "/dev/zero"],
                                 limits={"output_kb": 65536, "timeout_s": int(scaled(120))})
        # Meanwhile other tasks start, run and end as usual.
        for i in range(5):
            rec, logs = self.d.run_command(["/bin/sh", "-c", "echo beside-%d" % i])
            self.assertRecordEnd(rec, "succeeded", "exited", exit_code=0)
            self.assertEqual(logs, "beside-%d\n" % i)
        rec = self.d.wait_terminal(flood["id"], timeout=scaled(120))
        self.assertRecordEnd(rec, "failed", "output_limit")
        self.assertEqual(len(self.d.get("/api/tasks/%s/logs" % flood["id"]).raw), 65536 * 1024)

    def test_the_program_cannot_reach_the_channel(self):
        rec, logs = self.d.sh("ls /proc/self/fd; echo ---; "
                              "for f in $(ls /proc/1/fd); do cat /proc/1/fd/$f </dev/null >/dev/null 2>&1; "
                              "echo $f:$?; done")
        self.assertRecordEnd(rec, "succeeded", "exited", exit_code=0)
        mine, _, init = logs.partition("---\n")
        # ls's own descriptors: 0-2 and the directory it reads (3): none of init's.
        self.assertEqual(mine.split(), ["0", "1", "2", "3"], logs)
        # init's (the channel on 3, the output pipe, its signalfd) may be
        # listed, but none can be opened: init is not dumpable.
        opened = dict(l.split(":") for l in init.split())
        self.assertIn("3", opened, logs)
        self.assertEqual([f for f, rc in opened.items() if rc == "0"], [], logs)


class CancelBurst(DaemonTestCase):
    """DELETEs faster than the warden takes them: one KILL per task goes to
    the warden however often a task is cancelled, so the front's channel
    never holds more than a message per connection and a KILL per running
    task.  A burst of 10 000 DELETEs (bench/tenk.sh) once overfilled it
    (its room was max_connections + 16): the front took the warden for
    dead, answered 500s and the daemon went down."""
    daemon_kwargs = {"config": {"max_running": 40, "max_connections": 8, "pool_size": 0}}

    def test_repeated_deletes_while_the_warden_is_busy_are_all_answered(self):
        ids = [self.d.submit_ok(name="sleeper", command=["/bin/sleep", "600"])["id"] for _ in range(30)]
        for tid in ids:
            self.d.wait_running(tid)
        warden = self.d.proc.pid
        lane = Lane(self.d.port)
        codes = {}
        os.kill(warden, signal.SIGSTOP)   # busy: it takes nothing from the front for a while
        try:
            # 1 500 DELETEs: far more than the socket and the old queue hold.
            for _ in range(50):
                for tid in ids:
                    st, _ = lane.req("DELETE", "/api/tasks/%s" % tid)
                    codes[st] = codes.get(st, 0) + 1
        finally:
            os.kill(warden, signal.SIGCONT)
            lane.close()
        print("DELETE answers with the warden stopped: %r" % codes)
        self.assertEqual(codes, {202: 50 * len(ids)}, self.d.log_tail())
        for tid in ids:
            self.assertEqual(self.d.wait_terminal(tid)["state"], "cancelled")
        self.assertTrue(self.d.alive(), self.d.log_tail())
        rec, logs = self.d.sh("echo ok")
        self.assertEqual((rec["state"], logs), ("succeeded", "ok\n"))


if __name__ == "__main__":
    harness.main()
