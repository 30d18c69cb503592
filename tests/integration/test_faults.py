"""test_faults.py — faults with hundreds of tasks in flight (issue 9 §5).

- kill -9 of the warden, of the front, of both (the process group), with
  64 sleepers running and 236 tasks queued; a restart on the same state
  directory: every id that got a 202 is listed exactly once, the running
  ones are `lost` (reason `daemon_restart`), the queued ones run, in their
  order; no task process, cgroup or mount is left.  And kill -9 of both
  while the queue drains: no task runs twice.
- docs/operations.md's online backup (VACUUM INTO as the service user)
  and restore.
- 1000 submissions from 16 client threads against max_running 16,
  max_queued 64: every answer is a 202 or a 503 with Retry-After and a
  JSON error; every 202 reaches `succeeded`; the metrics count the same.
- SIGTERM under load (submissions arriving, short and long tasks running,
  stop_grace_s short): new POSTs get 503 "shutting down", short tasks
  finish, long ones are cancelled naming stop_grace_s, exit status 0,
  nothing left behind.

The state directory's faults (full, read-only under the running daemon)
are in test_storage.py."""

import http.client
import os
import pwd
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import Daemon, scaled

RUNNING = 64     # sleepers running at the crash
QUEUED = 236     # tasks queued behind them: 300 in flight


def all_records(d):
    """Every record of GET /api/tasks (all pages), newest first."""
    out, cursor = [], None
    while True:
        r = d.get("/api/tasks?limit=1000" + ("&cursor=%s" % cursor if cursor else ""))
        if r.status != 200:
            raise AssertionError("GET /api/tasks → %r" % (r,))
        out += r.body["tasks"]
        cursor = r.body.get("next_cursor")
        if not cursor:
            return out


def task_uid_procs(uid_base, slots):
    """Host processes running as a task uid (uid_base … uid_base+slots-1)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            uid = harness.host_uid(int(name))
        except OSError:
            continue
        if uid is not None and uid_base <= uid < uid_base + slots and harness.proc_alive(int(name)):
            found.append("%s (%s)" % (name, harness.proc_comm(int(name))))
    return found


def wait_gone(pids, timeout):
    deadline = time.monotonic() + scaled(timeout)
    while any(harness.proc_alive(p) for p in pids):
        if time.monotonic() >= deadline:
            raise AssertionError("still alive: %r" % [p for p in pids if harness.proc_alive(p)])
        time.sleep(0.05)


def metric(text, name, **labels):
    """The value of one sample of the Prometheus text (0 when absent)."""
    want = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
    for line in text.splitlines():
        m = re.match(r"^([a-z_]+)(?:\{([^}]*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = ",".join(sorted((m.group(2) or "").split(","))) if m.group(2) else ""
        if got == want:
            return float(m.group(3))
    return 0.0


class Crash(unittest.TestCase):
    """kill -9 with 300 tasks in flight, then a restart."""

    maxDiff = 4000
    cfg = {"max_running": RUNNING, "max_queued": 400}

    def fill(self, a):
        """RUNNING sleepers running, QUEUED echo tasks queued behind them."""
        running = [a.submit_ok(name="run-%02d" % i, command=["/bin/sleep", "600"])["id"]
                   for i in range(RUNNING)]
        for i in running:
            a.wait_running(i, 60)
        queued = []
        for i in range(QUEUED):
            b = a.submit_ok(name="q-%03d" % i, command=["/bin/echo", "q-%03d" % i])
            self.assertEqual((b["status"], b["position"]), ("queued", i + 1), b)
            queued.append(b["id"])
        a.snapshot()   # every task process, to check they end
        return running, queued

    def crash_and_restart(self, kill, successor_marks_lost=True):
        a = Daemon(config=self.cfg).start()
        b = None
        try:
            running, queued = self.fill(a)
            warden = a.proc.pid
            front = a.front_pid()
            seen = dict(a.seen)
            kill(a, warden, front)
            a.proc.wait(timeout=scaled(15))
            wait_gone([front], 15)          # the survivor notices and exits
            a.crashed, a.owns_state, a.log_cache = True, False, a.log_text()
            b = Daemon(config=self.cfg, state_dir=a.state_dir, cgroup_name=a.cgroup_name,
                       owns_state=True).start()
            # The old daemon's tasks are gone once the successor serves.
            leaked = [p for p, t in seen.items() if harness.proc_alive(p, t)]
            self.assertEqual(leaked, [], "processes of the killed daemon still run")
            self.check_records(b, running, queued)
            # A front that outlives the warden records the running tasks
            # lost itself; otherwise the successor does, at its start.
            lost_line = "%d task(s) were running when the daemon stopped: lost" % RUNNING
            self.assertEqual(lost_line in b.log_text(), successor_marks_lost, lost_line)
            return a
        finally:
            if b is not None:
                b.stop()        # asserts: no process, cgroup or mount left
            a.stop()
            self.assertEqual(task_uid_procs(a.config["uid_base"], RUNNING), [])
            for ctl, base in harness.cgroup_bases(a.cgroup_name).items():
                self.assertEqual(harness.subdirs(base), [], "cgroups left (%s)" % ctl)

    def check_records(self, b, running, queued):
        recs = all_records(b)
        ids = [r["id"] for r in recs]
        self.assertEqual(len(ids), len(set(ids)), "a record is listed twice")
        self.assertEqual(set(ids), set(running + queued), "records lost or added")
        for i in running:
            rec = b.task(i)
            self.assertEqual((rec["state"], rec["reason"]), ("lost", "daemon_restart"), rec)
            self.assertIsNotNone(rec["finished_at"], rec)
        ends = [b.wait_terminal(i, 120) for i in queued]
        for n, e in enumerate(ends):
            self.assertEqual((e["state"], e["reason"], e["exit_code"]),
                             ("succeeded", "exited", 0), e)
            self.assertEqual(b.logs(e["id"]), "q-%03d\n" % n)
        starts = [e["started_at"] for e in ends]
        self.assertEqual(starts, sorted(starts), "queued tasks ran out of order")
        again = [r["id"] for r in all_records(b)]
        self.assertEqual(sorted(again), sorted(ids), "the records changed after the queue ran")

    def test_kill_9_warden(self):
        a = self.crash_and_restart(lambda a, w, f: os.kill(w, signal.SIGKILL),
                                   successor_marks_lost=False)
        self.assertEqual(a.proc.returncode, -signal.SIGKILL)

    def test_kill_9_front(self):
        a = self.crash_and_restart(lambda a, w, f: os.kill(f, signal.SIGKILL))
        self.assertEqual(a.proc.returncode, 1, "a dead front must make the warden exit 1")

    def test_kill_9_both(self):
        a = self.crash_and_restart(lambda a, w, f: os.killpg(w, signal.SIGKILL))
        self.assertEqual(a.proc.returncode, -signal.SIGKILL)


class CrashWhileDraining(unittest.TestCase):
    """kill -9 of both while the queue drains: tasks are being dispatched,
    started and reported at that moment.  None runs twice, none is lost
    unless it was past the queue when the daemon died."""

    def test_kill_9_both_while_the_queue_drains(self):
        cfg = {"max_running": 16, "max_queued": 400}
        a = Daemon(config=cfg).start()
        b = None
        try:
            ids = [a.submit_ok(name="d-%03d" % i,
                               command=["/bin/sh", "-c", "sleep 0.1; echo d-%03d" % i])["id"]
                   for i in range(300)]
            a.snapshot()
            os.killpg(a.proc.pid, signal.SIGKILL)
            a.proc.wait(timeout=scaled(15))
            a.crashed, a.owns_state, a.log_cache = True, False, a.log_text()
            b = Daemon(config=cfg, state_dir=a.state_dir, cgroup_name=a.cgroup_name,
                       owns_state=True).start()
            listed = [r["id"] for r in all_records(b)]
            self.assertEqual(sorted(listed), sorted(ids), "records lost, added or listed twice")
            ends = {}
            for n, i in enumerate(ids):
                rec = ends[i] = b.wait_terminal(i, 120)
                if rec["state"] == "lost":
                    self.assertEqual(rec["reason"], "daemon_restart", rec)
                    continue
                self.assertEqual((rec["state"], rec["reason"]), ("succeeded", "exited"), rec)
                # Run once: a second run would find its log taken (O_EXCL).
                self.assertEqual(b.logs(i), "d-%03d\n" % n, rec)
                self.assertNotEqual(rec.get("log", {}).get("complete"), False, rec)
            counts = {}
            for rec in ends.values():
                counts[rec["state"]] = counts.get(rec["state"], 0) + 1
            print("kill -9 while draining: %r" % counts)
            # At most what could be past the queue (running or starting).
            self.assertLessEqual(counts.get("lost", 0), 16, counts)
        finally:
            if b is not None:
                b.stop()
            a.stop()


def as_service_user(fn):
    """Run fn() in a child process as the service user (as an operator's
    `runuser -u jobcell -- …` would); returns its exit status."""
    pw = pwd.getpwnam(harness.service_user())
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
            fn()
            os._exit(0)
        except BaseException as e:   # noqa: B036 — report anything, never return
            sys.stderr.write("as %s: %r\n" % (pw.pw_name, e))
            os._exit(1)
    return os.waitpid(pid, 0)[1]


class BackupRestore(unittest.TestCase):
    """docs/operations.md's backup: `VACUUM INTO` while the daemon runs
    and writes, logs copied; restored into a new state directory, every
    record and log of the backup is there and the queued task runs."""

    def test_online_backup_and_restore(self):
        cfg = {"max_running": 1, "max_queued": 50}
        a = Daemon(config=cfg).start()
        b = None
        backup = tempfile.mkdtemp(prefix="jobcell-backup-")
        restored = harness.make_state_dir()
        try:
            done = [a.submit_ok(name="b-%d" % i, command=["/bin/echo", "b-%d" % i])["id"]
                    for i in range(20)]
            for i in done:
                a.wait_terminal(i)
            blocker = a.submit_ok(name="blocker", command=["/bin/sleep", "600"])["id"]
            a.wait_running(blocker)
            queued = a.submit_ok(name="later", command=["/bin/echo", "later"])["id"]
            os.chown(backup, pwd.getpwnam(harness.service_user()).pw_uid, -1)
            snap = os.path.join(backup, "records.db")
            src = os.path.join(a.state_dir, "tasks", "records.db")

            def vacuum_into():
                db = sqlite3.connect(src)
                db.execute("VACUUM INTO ?", (snap,))
                db.close()
            self.assertEqual(as_service_user(vacuum_into), 0)
            shutil.copytree(os.path.join(a.state_dir, "logs"), os.path.join(backup, "logs"))
            a.stop()
            # Restore: the snapshot as tasks/records.db (no -wal/-shm), the
            # logs, owned by the service user.
            for sub in ("tasks", "logs"):
                os.mkdir(os.path.join(restored, sub), 0o700 if sub == "tasks" else 0o750)
            shutil.copy2(snap, os.path.join(restored, "tasks", "records.db"))
            for f in os.listdir(os.path.join(backup, "logs")):
                shutil.copy2(os.path.join(backup, "logs", f), os.path.join(restored, "logs", f))
            subprocess.run(["chown", "-R", "%s:" % harness.service_user(),
                            os.path.join(restored, "tasks"), os.path.join(restored, "logs")],
                           check=True)
            b = Daemon(config=cfg, state_dir=restored, cgroup_name=a.cgroup_name).start()
            for n, i in enumerate(done):
                rec = b.task(i)
                self.assertEqual((rec["state"], rec["exit_code"]), ("succeeded", 0), rec)
                self.assertEqual(b.logs(i), "b-%d\n" % n)
            rec = b.task(blocker)   # running in the snapshot: lost
            self.assertEqual((rec["state"], rec["reason"]), ("lost", "daemon_restart"), rec)
            rec = b.wait_terminal(queued)   # queued in the snapshot: runs now
            self.assertEqual((rec["state"], rec["exit_code"]), ("succeeded", 0), rec)
            self.assertEqual(b.logs(queued), "later\n")
        finally:
            if b is not None:
                b.stop()
            a.stop()
            shutil.rmtree(backup, ignore_errors=True)
            shutil.rmtree(restored, ignore_errors=True)


class Overload(unittest.TestCase):
    """1000 submissions against max_running 16, max_queued 64."""

    THREADS = 16
    TOTAL = 1000

    def test_1000_submissions(self):
        d = Daemon(config={"max_running": 16, "max_queued": 64}).start()
        try:
            # Every slot held and the queue full: what arrives first is
            # refused, whatever the machine's speed; once the blockers are
            # cancelled, the queue drains while submissions go on.
            blockers = [d.submit_ok(name="hold", command=["/bin/sleep", "600"])["id"]
                        for _ in range(16)]
            prefill = [d.submit_ok(name="pre", command=["/bin/true"])["id"] for _ in range(64)]
            before = d.get("/metrics").raw.decode()
            answers = self.submit_all(d, blockers)
            after = d.get("/metrics").raw.decode()
            statuses = {}
            for r in answers:
                statuses[r.status] = statuses.get(r.status, 0) + 1
            print("1000 submissions: %r" % statuses)
            self.assertEqual(sum(statuses.values()), self.TOTAL)
            self.assertEqual(set(statuses) - {202, 503}, set(), statuses)
            self.assertGreaterEqual(statuses.get(503, 0), 100, "the first 100 found the queue full")
            accepted = prefill + [r.body["id"] for r in answers if r.status == 202]
            for r in answers:
                if r.status == 503:
                    self.assertRegex(r.headers.get("Retry-After") or "", r"^[1-9]\d*$", r)
                    self.assertIsInstance(r.body, dict, r)
                    self.assertIn("queue", r.body.get("error", "").lower(), r)
                    self.assertNotIn("id", r.body, r)
            for i in accepted:
                rec = d.wait_terminal(i, 120)
                self.assertEqual((rec["state"], rec["reason"]), ("succeeded", "exited"), rec)
            for i in blockers:
                rec = d.wait_terminal(i, 60)
                self.assertEqual(rec["state"], "cancelled", rec)
            h = d.get("/healthz").body["tasks"]
            self.assertEqual((h["running"], h["queued"]), (0, 0), h)
            refused = metric(after, "jobcell_http_requests_total", method="POST",
                             route="/api/tasks", code="503") - \
                metric(before, "jobcell_http_requests_total", method="POST",
                       route="/api/tasks", code="503")
            self.assertEqual(refused, statuses.get(503, 0), "metrics count other 503s")
        finally:
            d.stop()

    def submit_all(self, d, blockers):
        answers, problems = [], []
        lock = threading.Lock()
        left = [self.TOTAL]
        refused_first = threading.Event()

        def take():
            with lock:
                if left[0] == 0:
                    return False
                left[0] -= 1
                return True

        def client():
            while take():
                try:
                    r = harness.http_request(d.port, "POST", "/api/tasks",
                                             {"name": "load", "command": ["/bin/true"]},
                                             {"Content-Type": "application/json"},
                                             timeout=scaled(60))
                except (OSError, http.client.HTTPException) as e:
                    problems.append(repr(e))
                    continue
                with lock:
                    answers.append(r)
                    if len(answers) >= 100:
                        refused_first.set()
        threads = [threading.Thread(target=client) for _ in range(self.THREADS)]
        for t in threads:
            t.start()
        refused_first.wait(scaled(60))
        for i in blockers:
            d.delete("/api/tasks/%s" % i)
        for t in threads:
            t.join(scaled(300))
        self.assertEqual(problems, [], "requests failed")
        return answers


class DrainUnderLoad(unittest.TestCase):
    """SIGTERM with submissions arriving, short and long tasks running."""

    def test_sigterm_under_load(self):
        grace = int(scaled(5))
        cfg = {"max_running": 64, "max_queued": 200, "stop_grace_s": grace}
        a = Daemon(config=cfg, owns_state=False).start()
        b = None
        try:
            longs = [a.submit_ok(name="long", command=["/bin/sleep", "600"])["id"] for _ in range(8)]
            for i in longs:
                a.wait_running(i)
            answers, problems, stop = [], [], threading.Event()

            def poster():
                while not stop.is_set():
                    try:
                        r = harness.http_request(a.port, "POST", "/api/tasks",
                                                 {"name": "short", "command": ["/bin/sleep", "1"]},
                                                 {"Content-Type": "application/json"})
                    except ConnectionRefusedError:
                        return            # the listener is closed
                    except (OSError, http.client.HTTPException) as e:
                        problems.append(repr(e))
                        return
                    answers.append(r)
                    if r.status == 503:
                        return
                    time.sleep(0.02)
            threads = [threading.Thread(target=poster) for _ in range(8)]
            for t in threads:
                t.start()
            deadline = time.monotonic() + scaled(30)
            while len([r for r in answers if r.status == 202]) < 40 and time.monotonic() < deadline:
                time.sleep(0.02)
            a.snapshot()
            t0 = time.monotonic()
            a.proc.send_signal(signal.SIGTERM)
            a.proc.wait(timeout=grace + scaled(60))
            took = time.monotonic() - t0
            stop.set()
            for t in threads:
                t.join(scaled(30))
            print("drain under load: %d POSTs, exit after %.1f s (stop_grace_s %d)"
                  % (len(answers), took, grace))
            self.assertEqual(a.proc.returncode, 0, a.log_tail())
            a.stop()   # checks: no process, cgroup or mount left
            self.assertEqual(problems, [], "connections reset or broken")
            shorts = []
            for r in answers:
                if r.status == 503:
                    self.assertIn("shutting down", r.body["error"].lower(), r)
                else:
                    self.assertEqual(r.status, 202, r)
                    shorts.append(r.body["id"])
            self.assertIn(503, [r.status for r in answers], "no POST met the drain")
            over = "stop_grace_s (%d s) is over: cancelling 8 task(s)" % grace
            self.assertTrue(over in a.log_text(), "the log does not say %r" % over)
            b = Daemon(config=cfg, state_dir=a.state_dir, cgroup_name=a.cgroup_name,
                       owns_state=True).start()
            for i in longs:
                rec = b.task(i)
                self.assertEqual((rec["state"], rec["reason"]), ("cancelled", "cancelled"), rec)
                self.assertIn("stop_grace_s", rec.get("error", ""), rec)
            for i in shorts:   # finished in the grace, or queued and run now
                rec = b.wait_terminal(i, 60)
                self.assertEqual((rec["state"], rec["reason"]), ("succeeded", "exited"), rec)
            for r in answers:  # a 503 with an id: a spawn the stop overtook
                if r.status == 503 and "id" in r.body:
                    rec = b.task(r.body["id"])
                    self.assertIn(rec["state"], harness.TERMINAL, rec)
        finally:
            if b is not None:
                b.stop()
            a.stop()


if __name__ == "__main__":
    harness.main()
