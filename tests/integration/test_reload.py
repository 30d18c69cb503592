"""test_reload.py — stop and reload: SIGTERM drains (no new task, running
ones finish within stop_grace_s, the rest are cancelled after it, queued
ones wait for the next start), a second SIGTERM ends the drain at once;
SIGHUP reloads the token file (a bad one is refused, the old token stays),
does not stop the daemon nor touch its tasks."""

import os
import shutil
import signal
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import Daemon, scaled
from test_access import memory_contains  # noqa: E402


def wait_log(d, text, timeout=30):
    deadline = time.monotonic() + scaled(timeout)
    while text not in d.log_text():
        if time.monotonic() >= deadline or not d.alive():
            raise AssertionError("log never said %r\n%s" % (text, d.log_tail()))
        time.sleep(0.05)


class Drain(unittest.TestCase):
    maxDiff = 4000

    def signal_and_wait(self, d, *sigs, between=None):
        """Send the signals (running `between` after the first), wait for
        the exit ourselves (d.stop() would send one more), then let
        d.stop() check that nothing is left behind."""
        d.snapshot()
        d.proc.send_signal(sigs[0])
        try:
            if between:
                between()
            for s in sigs[1:]:
                d.proc.send_signal(s)
            d.proc.wait(timeout=scaled(120))
        finally:
            d.stop()

    def restart(self, a, **config):
        return Daemon(config=config, state_dir=a.state_dir, cgroup_name=a.cgroup_name,
                      owns_state=True).start()

    def test_short_tasks_finish_post_refused_gets_answered(self):
        state = harness.make_state_dir()
        a = Daemon(config={"stop_grace_s": 600}, state_dir=state, owns_state=False).start()
        nap = int(scaled(5))   # long enough to be running when SIGTERM lands
        ids = [a.submit_ok(name="short-%d" % i,
                           command=["/bin/sh", "-c", "sleep %d; echo done-%d" % (nap, i)])["id"]
               for i in range(2)]
        for i in ids:
            a.wait_running(i)
        seen = {}

        def during():
            wait_log(a, "drain: new tasks are refused")
            r = a.submit(name="late", command=["/bin/true"])
            seen["post"] = r
            seen["get"] = a.get("/api/tasks/%s" % ids[0])
        self.signal_and_wait(a, signal.SIGTERM, between=during)
        self.assertEqual(a.returncode, 0, a.log_tail())
        post = seen["post"]
        self.assertEqual(post.status, 503, post)
        self.assertIn("shutting down", post.body.get("error", "").lower())
        self.assertIn("retry-after", {k.lower() for k in post.headers})
        self.assertEqual(seen["get"].status, 200, seen["get"])
        self.assertIn(seen["get"].body["state"], ("running", "succeeded"))
        self.assertIn("drained: every running task ended", a.log_text())
        b = self.restart(a)
        try:
            for n, i in enumerate(ids):
                rec = b.task(i)
                self.assertEqual((rec["state"], rec["reason"], rec["exit_code"]),
                                 ("succeeded", "exited", 0), rec)
                self.assertEqual(b.logs(i), "done-%d\n" % n)
        finally:
            b.stop()
        self.assertEqual(b.returncode, 0, b.log_tail())

    def test_long_tasks_cancelled_after_grace_queued_survive(self):
        state = harness.make_state_dir()
        a = Daemon(config={"stop_grace_s": 2, "max_running": 1}, state_dir=state,
                   owns_state=False).start()
        long_id = a.submit_ok(name="long", command=["/bin/sleep", "600"])["id"]
        a.wait_running(long_id)
        queued_id = a.submit_ok(name="queued", command=["/bin/sh", "-c", "echo later"])["id"]
        self.assertEqual(a.task(queued_id)["state"], "queued")
        self.signal_and_wait(a, signal.SIGTERM)
        self.assertEqual(a.returncode, 0, a.log_tail())
        self.assertIn("stop_grace_s (2 s) is over: cancelling 1 task(s)", a.log_text())
        b = self.restart(a)
        try:
            rec = b.task(long_id)
            self.assertEqual((rec["state"], rec["reason"]), ("cancelled", "cancelled"), rec)
            self.assertIn("the daemon stopped", rec.get("error", ""), rec)
            self.assertIn("stop_grace_s", rec.get("error", ""), rec)
            rec = b.wait_terminal(queued_id)
            self.assertEqual((rec["state"], rec["exit_code"]), ("succeeded", 0), rec)
            self.assertEqual(b.logs(queued_id), "later\n")
        finally:
            b.stop()

    def test_second_sigterm_ends_the_drain(self):
        d = Daemon(config={"stop_grace_s": 3600}).start()
        i = d.submit_ok(name="long", command=["/bin/sleep", "600"])["id"]
        d.wait_running(i)
        self.signal_and_wait(d, signal.SIGTERM, signal.SIGTERM,
                             between=lambda: wait_log(d, "drain: new tasks are refused"))
        self.assertEqual(d.returncode, 0, d.log_tail())
        self.assertIn("during the drain: stopping now", d.log_text())

    def test_grace_zero_kills_at_once(self):
        d = Daemon(config={"stop_grace_s": 0}).start()
        i = d.submit_ok(name="long", command=["/bin/sleep", "600"])["id"]
        d.wait_running(i)
        self.signal_and_wait(d, signal.SIGTERM)
        self.assertEqual(d.returncode, 0, d.log_tail())
        self.assertNotIn("draining", d.log_text())


OLD = "old-token-0123456789abcdef"
NEW = "new-token-fedcba9876543210"


class Hangup(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="jobcell-reload-")
        self.token_path = os.path.join(self.dir, "token")
        self.write_token(OLD)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write_token(self, text):
        tmp = self.token_path + ".new"
        with open(tmp, "w") as f:
            f.write(text + "\n")
        os.chmod(tmp, 0o600)
        os.rename(tmp, self.token_path)

    def hup(self, d, text):
        """SIGHUP, then wait for the n-th occurrence of text in the log."""
        n = d.log_text().count(text)
        os.kill(d.proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + scaled(30)
        while d.log_text().count(text) <= n:
            if time.monotonic() >= deadline or not d.alive():
                raise AssertionError("log never said %r\n%s" % (text, d.log_tail()))
            time.sleep(0.05)

    def status(self, d, token, path="/api/tasks"):
        return d.get(path, headers={"Authorization": "Bearer " + token}).status

    def test_token_reload_bad_token_refused(self):
        d = Daemon(extra_args=["--token-file", self.token_path]).start()
        try:
            auth = {"Authorization": "Bearer " + OLD}
            r = d.post("/api/tasks", {"name": "long", "command": ["/bin/sleep", "600"]}, auth)
            self.assertEqual(r.status, 202, r)
            tid = r.body["id"]
            self.assertEqual(self.status(d, OLD), 200)
            self.write_token(NEW)
            self.hup(d, "the bearer token was replaced")
            self.assertEqual(self.status(d, OLD), 401)
            self.assertEqual(self.status(d, NEW), 200)
            rec = d.get("/api/tasks/" + tid, headers={"Authorization": "Bearer " + NEW})
            self.assertEqual(rec.body["state"], "running", rec)
            warden = d.proc.pid
            front = d.front_pid()
            self.assertTrue(memory_contains(front, NEW.encode()), "positive control: front")
            self.assertFalse(memory_contains(warden, NEW.encode()), "the warden kept the new token")
            # A bad token file: refused with a log line; the token in force stays.
            self.write_token("short")
            self.hup(d, "refused, the old token stays in force")
            self.assertEqual(self.status(d, NEW), 200)
            self.assertEqual(self.status(d, "short"), 401)
            os.chmod(self.token_path, 0o644)
            self.write_token(NEW + "x")
            os.chmod(self.token_path, 0o644)
            self.hup(d, "refused, the old token stays in force")
            self.assertEqual(self.status(d, NEW), 200)
            self.assertEqual(self.status(d, NEW + "x"), 401)
        finally:
            d.stop()
        self.assertEqual(d.returncode, 0, d.log_tail())

    def test_sighup_keeps_daemon_and_tasks(self):
        d = Daemon().start()
        try:
            i = d.submit_ok(name="long", command=["/bin/sleep", "600"])["id"]
            d.wait_running(i)
            self.hup(d, "no token_file in use: nothing to reload")
            self.assertTrue(d.alive(), d.log_tail())
            self.assertEqual(d.task(i)["state"], "running")
            rec, _ = d.sh("exit 0")
            self.assertEqual(rec["state"], "succeeded")
        finally:
            d.stop()
        self.assertEqual(d.returncode, 0, d.log_tail())


if __name__ == "__main__":
    harness.main()
