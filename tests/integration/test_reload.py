"""test_reload.py — stop and reload: SIGTERM drains (no new task, running
ones finish within stop_grace_s, the rest are cancelled after it, queued
ones wait for the next start), a second SIGTERM ends the drain at once;
SIGHUP reloads the config file, the seccomp profiles and the token file:
all or nothing (a bad config, profile or token is refused with a log line
naming it, and the old one stays in force), keys that need a restart keep
their running value, new tasks get the new config, running ones keep
theirs; RELOADING=1 then READY=1 reach the service manager; many SIGHUPs
under a stream of requests break nothing."""

import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
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
            self.hup(d, "reload refused, the old configuration stays in force")
            self.assertIn("the token must be 16 to 255 printable characters", d.log_text())
            self.assertEqual(self.status(d, NEW), 200)
            self.assertEqual(self.status(d, "short"), 401)
            os.chmod(self.token_path, 0o644)
            self.write_token(NEW + "x")
            os.chmod(self.token_path, 0o644)
            self.hup(d, "reload refused, the old configuration stays in force")
            self.assertIn("must be a regular file of mode 0600", d.log_text())
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
            self.hup(d, "reload done")
            self.assertTrue(d.alive(), d.log_tail())
            self.assertEqual(d.task(i)["state"], "running")
            rec, _ = d.sh("exit 0")
            self.assertEqual(rec["state"], "succeeded")
        finally:
            d.stop()
        self.assertEqual(d.returncode, 0, d.log_tail())


DONE = "SIGHUP: reload done"
REFUSED = "SIGHUP: reload refused, the old configuration stays in force"


def hup(d, text):
    """SIGHUP to the warden, then wait for one more occurrence of text."""
    n = d.log_text().count(text)
    os.kill(d.proc.pid, signal.SIGHUP)
    deadline = time.monotonic() + scaled(30)
    while d.log_text().count(text) <= n:
        if time.monotonic() >= deadline or not d.alive():
            raise AssertionError("log never said %r\n%s" % (text, d.log_tail()))
        time.sleep(0.05)


def rewrite(d, config=None, text=None):
    """A new config file in place (the harness's uid_base and stop_grace_s kept)."""
    if text is None:
        full = {"uid_base": d.config["uid_base"], "stop_grace_s": d.config["stop_grace_s"]}
        full.update(config)
        text = json.dumps(full)
    tmp = d.config_path + ".new"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, d.config_path)


def copy_policies():
    """A policy directory of the test's own, with the shipped profiles."""
    src = os.path.join(harness.SRC, "policy")
    dst = tempfile.mkdtemp(prefix="jobcell-policy-")
    for name in os.listdir(src):
        if name.endswith(".json"):
            shutil.copy(os.path.join(src, name), os.path.join(dst, name))
    return dst


class Reload(unittest.TestCase):
    maxDiff = 4000

    def test_new_tasks_get_new_limits_running_task_keeps_its_own(self):
        d = Daemon(config={"max_queued": 50, "limits": {"default": {"timeout_s": 600}}}).start()
        try:
            nap = int(scaled(6))  # long enough to be running across the reload
            old = d.submit_ok(name="across", command=["/bin/sh", "-c", "sleep %d; echo survived" % nap])["id"]
            d.wait_running(old)
            rewrite(d, {"max_queued": 7, "max_body_kb": 1,
                        "limits": {"default": {"timeout_s": 1}, "max": {"memory_mb": 256}}})
            hup(d, DONE)
            self.assertEqual(d.task(old)["state"], "running", "precondition: it runs across the reload")
            self.assertEqual(d.get("/healthz").body["tasks"]["max_queued"], 7)
            # limits.default.timeout_s 1 for a new task: a long sleep times out.
            new = d.submit_ok(name="after", command=["/bin/sleep", "600"])["id"]
            rec = d.wait_terminal(new)
            self.assertEqual((rec["reason"], rec["limits"]["timeout_s"]), ("timeout", 1), rec)
            # limits.max lowered: a request above it is refused, naming the field.
            r = d.submit(name="big", command=["/bin/true"], limits={"memory_mb": 300})
            self.assertEqual(r.status, 400, r)
            self.assertIn("memory_mb", r.body["error"])
            # max_body_kb 1: a 2 KiB body is too big now.
            r = d.post("/api/tasks", {"name": "x" * 10, "command": ["/bin/true"], "env": {"PAD": "p" * 2048}})
            self.assertEqual(r.status, 413, r)
            # The task that ran across it kept its limits and ended normally.
            rec = d.wait_terminal(old)
            self.assertEqual((rec["state"], rec["reason"], rec["limits"]["timeout_s"]),
                             ("succeeded", "exited", 600), rec)
            self.assertEqual(d.logs(old), "survived\n")
        finally:
            d.stop()
        self.assertEqual(d.returncode, 0, d.log_tail())

    def test_lower_max_queued_refuses_sooner_queue_kept(self):
        d = Daemon(config={"max_running": 1, "max_queued": 10}).start()
        try:
            long_id = d.submit_ok(name="long", command=["/bin/sleep", "600"])["id"]
            d.wait_running(long_id)
            queued = d.submit_ok(name="q", command=["/bin/sh", "-c", "echo later"])["id"]
            rewrite(d, {"max_running": 1, "max_queued": 1})
            hup(d, DONE)
            r = d.submit(name="one-too-many", command=["/bin/true"])
            self.assertEqual(r.status, 503, r)
            self.assertIn("limits 1 and 1", r.body["error"])
            self.assertEqual(d.task(queued)["state"], "queued")
            # max_running raised: the queued task starts without another submission.
            rewrite(d, {"max_running": 2, "max_queued": 1})
            hup(d, DONE)
            rec = d.wait_terminal(queued)
            self.assertEqual((rec["state"], rec["exit_code"]), ("succeeded", 0), rec)
            self.assertEqual(d.task(long_id)["state"], "running")
        finally:
            d.stop()
        self.assertEqual(d.returncode, 0, d.log_tail())

    def test_queued_task_above_a_lowered_max_fails_when_it_would_start(self):
        d = Daemon(config={"max_running": 1}).start()
        try:
            long_id = d.submit_ok(name="long", command=["/bin/sleep", "600"])["id"]
            d.wait_running(long_id)
            big = d.submit_ok(name="big", command=["/bin/true"], limits={"timeout_s": 900})["id"]
            small = d.submit_ok(name="small", command=["/bin/true"], limits={"timeout_s": 60})["id"]
            rewrite(d, {"max_running": 1, "limits": {"default": {"timeout_s": 60}, "max": {"timeout_s": 120}}})
            hup(d, DONE)
            self.assertEqual(d.delete("/api/tasks/" + long_id).status, 202)
            rec = d.wait_terminal(big)
            self.assertEqual((rec["state"], rec["reason"]), ("failed", "spawn_error"), rec)
            self.assertIn("limits.timeout_s is above limits.max.timeout_s since a reload", rec["error"])
            rec = d.wait_terminal(small)
            self.assertEqual((rec["state"], rec["exit_code"]), ("succeeded", 0), rec)
            self.assertNotIn("fatal", d.log_text())
        finally:
            d.stop()
        self.assertEqual(d.returncode, 0, d.log_tail())

    def test_bad_config_refused_old_stays(self):
        d = Daemon(config={"max_queued": 9}).start()
        try:
            for text, names in (("{\"max_queued\": 3,", "Invalid JSON"),
                                (json.dumps({"max_queued": 3, "max_running": 0}), "max_running"),
                                (json.dumps({"max_queued": 3, "bogus_key": 1}), "bogus_key"),
                                (json.dumps({"max_queued": 3, "limits": {"default": {"memory_mb": 900},
                                                                         "max": {"memory_mb": 500}}}),
                                 "limits.default.memory_mb is above limits.max.memory_mb")):
                rewrite(d, text=text)
                hup(d, REFUSED)
                problem = [l for l in d.log_text().splitlines() if "SIGHUP: " in l and names in l]
                self.assertTrue(problem, "no log line names %r\n%s" % (names, d.log_tail()))
                self.assertEqual(d.get("/healthz").body["tasks"]["max_queued"], 9)
                rec, _ = d.sh("exit 0")
                self.assertEqual(rec["state"], "succeeded")
            os.unlink(d.config_path)
            hup(d, REFUSED)
            self.assertIn("No such file or directory", d.log_tail(5))
        finally:
            d.stop()
        self.assertEqual(d.returncode, 0, d.log_tail())

    def test_restart_only_key_kept_rest_applied(self):
        d = Daemon(config={"max_queued": 9, "http_threads": 2}).start()
        try:
            port = d.port
            other = harness.free_port()
            rewrite(d, {"max_queued": 4, "http_threads": 3, "listen": "127.0.0.1:%d" % other,
                        "state_dir": "/nonexistent-jobcell", "records_sync": "full",
                        "uid_base": d.config["uid_base"] + 65536, "node": "elsewhere"})
            hup(d, DONE)
            log = d.log_text()
            for key in ("http_threads", "records_sync", "uid_base", "node"):
                self.assertIn("SIGHUP: %s changed: needs a restart; the running value stays" % key, log)
            # --listen and --state-dir on the command line override the file:
            # nothing changed, nothing said.
            self.assertNotIn("listen changed", log)
            self.assertNotIn("state_dir changed", log)
            self.assertEqual(d.port, port)
            h = d.get("/healthz").body
            self.assertEqual(h["tasks"]["max_queued"], 4)
            self.assertEqual(h["state_dir"]["path"], d.state_dir)
            rec, _ = d.sh("id -u")
            self.assertEqual(rec["state"], "succeeded")
            self.assertNotIn("elsewhere", rec["id"])
            spawned = [l for l in d.log_text().splitlines() if "spawned pid" in l][-1]
            uid = int(spawned.rsplit("as uid ", 1)[1])
            self.assertLess(uid - d.config["uid_base"], 65536, "the old uid_base stays: " + spawned)
        finally:
            d.stop()
        self.assertEqual(d.returncode, 0, d.log_tail())

    def test_policies_reloaded_broken_profile_refused(self):
        pol = copy_policies()
        try:
            d = Daemon(extra_args=["--policy-dir", pol]).start()
            try:
                self._policies(d, pol)
            finally:
                d.stop()
            self.assertEqual(d.returncode, 0, d.log_tail())
        finally:
            shutil.rmtree(pol, ignore_errors=True)

    def _policies(self, d, pol):
        r = d.submit(name="x", command=["/bin/true"], policy="extra")
        self.assertEqual(r.status, 400, r)
        sha = {p["name"]: p["sha256"] for p in d.get("/healthz").body["seccomp"]["policies"]}
        shutil.copy(os.path.join(pol, "default.json"), os.path.join(pol, "extra.json"))
        with open(os.path.join(pol, "default.json")) as f:
            profile = json.load(f)
        with open(os.path.join(pol, "default.json"), "w") as f:
            json.dump(profile, f, indent=1)  # the same rules, other bytes: another hash
        hup(d, DONE)
        now = {p["name"]: p["sha256"] for p in d.get("/healthz").body["seccomp"]["policies"]}
        self.assertEqual(set(now), set(sha) | {"extra"})
        self.assertNotEqual(now["default"], sha["default"])
        rec = d.wait_terminal(d.submit_ok(name="x", command=["/bin/true"], policy="extra")["id"])
        self.assertEqual((rec["state"], rec["policy"]["name"]), ("succeeded", "extra"), rec)
        rec = d.wait_terminal(d.submit_ok(name="y", command=["/bin/true"])["id"])
        self.assertEqual(rec["policy"]["sha256"], now["default"], rec)
        with open(os.path.join(pol, "broken.json"), "w") as f:
            f.write('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["no_such_call"], '
                    '"action": "SCMP_ACT_ALLOW"}]}')
        hup(d, REFUSED)
        self.assertTrue([l for l in d.log_text().splitlines() if "seccomp policy" in l and "broken.json" in l],
                        d.log_tail())
        names = {p["name"] for p in d.get("/healthz").body["seccomp"]["policies"]}
        self.assertEqual(names, set(now))
        rec = d.wait_terminal(d.submit_ok(name="z", command=["/bin/true"], policy="extra")["id"])
        self.assertEqual(rec["state"], "succeeded", rec)

    def test_many_reloads_under_requests(self):
        pol = copy_policies()
        d = Daemon(config={"max_queued": 1000}, extra_args=["--policy-dir", pol]).start()
        errors, stop = [], threading.Event()
        ids = []

        def hammer(n):
            while not stop.is_set():
                try:
                    r = d.get("/healthz")
                    if r.status != 200:
                        errors.append(("healthz", r.status))
                    r = d.submit(name="h%d" % n, command=["/bin/true"])
                    if r.status == 202:
                        ids.append(r.body["id"])
                    elif r.status not in (400, 413, 503):
                        errors.append(("post", r.status, r.body))
                except Exception as e:  # noqa: BLE001 — a dead daemon shows here
                    errors.append(("exception", repr(e)))
        threads = [threading.Thread(target=hammer, args=(i,)) for i in range(3)]
        try:
            for t in threads:
                t.start()
            extra = os.path.join(pol, "extra.json")
            for i in range(40):
                if i % 10 == 9:
                    rewrite(d, text="{broken")
                else:
                    rewrite(d, {"max_queued": 1000 - i, "max_body_kb": 1 + i % 3,
                                "log_level": "info", "access_log": ["off", "debug"][i % 2],
                                "limits": {"max": {"memory_mb": 256 + 64 * (i % 2)}}})
                if i % 2:
                    shutil.copy(os.path.join(pol, "default.json"), extra)
                elif os.path.exists(extra):
                    os.unlink(extra)
                os.kill(d.proc.pid, signal.SIGHUP)
                time.sleep(0.05)
            rewrite(d, {"max_queued": 555})
            hup(d, DONE)
            deadline = time.monotonic() + scaled(30)
            while d.get("/healthz").body["tasks"]["max_queued"] != 555 and time.monotonic() < deadline:
                time.sleep(0.1)
            stop.set()
            for t in threads:
                t.join()
            self.assertEqual(errors, [])
            self.assertTrue(d.alive(), d.log_tail())
            self.assertEqual(d.get("/healthz").body["tasks"]["max_queued"], 555)
            self.assertGreater(len(ids), 0)
            for i in ids:
                self.assertEqual(d.wait_terminal(i)["state"], "succeeded")
            self.assertNotIn("fatal", d.log_text())
            log = d.log_text()
            print("%d reloads applied (%d confirmed last by the front), %d refused, %d tasks"
                  % (log.count("SIGHUP: configuration reloaded"), log.count(DONE), log.count(REFUSED), len(ids)),
                  file=sys.stderr)
        finally:
            stop.set()
            for t in threads:
                if t.is_alive():
                    t.join()
            d.stop()
            shutil.rmtree(pol, ignore_errors=True)
        self.assertEqual(d.returncode, 0, d.log_tail())


class Notify(unittest.TestCase):
    """RELOADING=1 (with MONOTONIC_USEC=) then READY=1 on NOTIFY_SOCKET."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="jobcell-notify-")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.msgs = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.receive, daemon=True)
        self.thread.start()

    def tearDown(self):
        self.done.set()
        self.thread.join()
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def receive(self):
        while not self.done.is_set():
            try:
                self.msgs.append(self.sock.recv(4096).decode())
            except socket.timeout:
                continue

    def wait_count(self, key, n):
        deadline = time.monotonic() + scaled(30)
        while sum(key in m.split("\n") for m in self.msgs) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertGreaterEqual(sum(key in m.split("\n") for m in self.msgs), n, self.msgs)

    def test_reloading_then_ready(self):
        d = Daemon(config={"max_queued": 9}, env={"NOTIFY_SOCKET": self.path}).start()
        try:
            self.wait_count("READY=1", 1)
            rewrite(d, {"max_queued": 8})
            os.kill(d.proc.pid, signal.SIGHUP)
            self.wait_count("READY=1", 2)
            rewrite(d, text="{bad")
            os.kill(d.proc.pid, signal.SIGHUP)
            self.wait_count("READY=1", 3)
        finally:
            d.stop()
        msgs = [m for m in self.msgs if "RELOADING=1" in m.split("\n") or "READY=1" in m.split("\n")]
        kinds = ["RELOADING" if "RELOADING=1" in m.split("\n") else "READY" for m in msgs]
        self.assertEqual(kinds[:5], ["READY", "RELOADING", "READY", "RELOADING", "READY"], self.msgs)
        for m in msgs:
            if "RELOADING=1" in m.split("\n"):
                usec = [l for l in m.split("\n") if l.startswith("MONOTONIC_USEC=")]
                self.assertEqual(len(usec), 1, m)
                self.assertGreater(int(usec[0].split("=")[1]), 0)
        self.assertIn("STATUS=serving; configuration reloaded", msgs[2])
        self.assertIn("reload refused", msgs[4])


if __name__ == "__main__":
    harness.main()
