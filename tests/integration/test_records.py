"""test_records.py — waiting (?wait= on GET and POST, many held at once),
Idempotency-Key, the bounded FIFO queue (positions, cancel and wait while
queued, 503 + Retry-After past it, durable across restarts and kill -9),
a command that does not exist (4xx naming "command"), and SIGTERM with
POSTs in flight (202 or 503 "shutting down", never a 500 or a reset)."""

import http.client
import json
import os
import resource
import select
import shutil
import signal
import socket
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import Daemon, DaemonTestCase, scaled


def wait_s(seconds):
    """A ?wait= value: stretched for slow machines, within max_wait_s (300)."""
    return min(int(scaled(seconds)), 300)


def sleeper(name, secs=120):
    return {"name": name, "command": ["/bin/sleep", str(secs)]}


class Wait(DaemonTestCase):
    """GET and POST ?wait=S: answered at the end, or after S with the record."""

    daemon_kwargs = {"config": {"max_connections": 2000, "per_ip_connections": 2000,
                                "max_waiters": 600}}

    def test_get_wait_sees_the_end(self):
        b = self.d.submit_ok(name="w", command=["/bin/sh", "-c", "sleep 1; echo done"])
        r = self.d.get("/api/tasks/%s?wait=%d" % (b["id"], wait_s(60)))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["state"], "succeeded", r.body)
        self.assertIsNotNone(r.body["finished_at"])

    def test_get_wait_times_out_with_the_record(self):
        b = self.d.submit_ok(**sleeper("w-timeout"))
        try:
            r = self.d.get("/api/tasks/%s?wait=1" % b["id"])
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body["state"], "running", r.body)
        finally:
            self.d.delete("/api/tasks/%s" % b["id"])
            self.d.wait_terminal(b["id"])

    def test_wait_parameter_is_checked(self):
        b = self.d.submit_ok(name="w-bad", duration=0)
        for bad in ("-1", "x", "999999", ""):
            self.assertError(self.d.get("/api/tasks/%s?wait=%s" % (b["id"], bad)), 400, "wait")
        self.assertError(self.d.post("/api/tasks?wait=abc", {"name": "x", "duration": 0}), 400, "wait")
        self.assertError(self.d.get("/api/tasks/00000000-0000-4000-8000-000000000000?wait=5"), 404)

    def test_post_wait_answers_200_with_record_and_output(self):
        r = self.d.post("/api/tasks?wait=%d" % wait_s(60),
                        {"name": "sync", "command": ["/bin/sh", "-c", "echo hello; exit 3"]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.body["state"], r.body["reason"], r.body["exit_code"]),
                         ("failed", "exited", 3), r.body)
        self.assertEqual(r.body["output"], "hello\n")
        self.assertEqual(r.headers.get("Location"), "/api/tasks/%s" % r.body["id"])

    def test_post_wait_times_out_with_202(self):
        r = self.d.post("/api/tasks?wait=1", sleeper("sync-slow"))
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.body["status"], "spawned", r.body)
        self.assertIsInstance(r.body["pid"], int)
        self.d.delete("/api/tasks/%s" % r.body["id"])
        self.d.wait_terminal(r.body["id"])

    def test_500_waiters_while_healthz_answers(self):
        n = 500
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < n + 100:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 200), hard))
        b = self.d.submit_ok(**sleeper("held"))
        self.d.wait_running(b["id"])
        socks = []
        try:
            for _ in range(n):
                s = socket.create_connection(("127.0.0.1", self.d.port), timeout=scaled(30))
                s.sendall(("GET /api/tasks/%s?wait=%d HTTP/1.1\r\nHost: x\r\n"
                           "Connection: close\r\n\r\n" % (b["id"], wait_s(300))).encode())
                socks.append(s)
            deadline = time.monotonic() + scaled(30)
            held = 0
            while time.monotonic() < deadline:
                h = self.d.get("/healthz")
                self.assertEqual(h.status, 200)
                held = h.body["tasks"]["waiting_requests"]
                if held == n:
                    break
                time.sleep(0.1)
            self.assertEqual(held, n, "requests held per /healthz")
            # Nobody was answered yet: the task still runs.
            early = select.poll()
            for s in socks:
                early.register(s, select.POLLIN)
            self.assertEqual(early.poll(200), [], "a held request was answered before the end")
            self.assertEqual(self.d.delete("/api/tasks/%s" % b["id"]).status, 202)
            answers = read_all(socks, scaled(60))
            self.assertEqual(len(answers), n)
            for a in answers:
                self.assertTrue(a.startswith(b"HTTP/1.1 200"), a[:200])
                body = json.loads(a.split(b"\r\n\r\n", 1)[1])
                self.assertEqual(body["state"], "cancelled")
        finally:
            for s in socks:
                s.close()


def read_all(socks, timeout):
    """Each socket's whole answer (until the server closes it)."""
    bufs = {s: b"" for s in socks}
    byfd = {s.fileno(): s for s in socks}
    poller = select.poll()
    for s in socks:
        poller.register(s, select.POLLIN)
    open_ = set(socks)
    deadline = time.monotonic() + timeout
    while open_ and time.monotonic() < deadline:
        for fd, _ in poller.poll(1000):
            s = byfd[fd]
            chunk = s.recv(65536)
            if chunk:
                bufs[s] += chunk
            else:
                open_.discard(s)
                poller.unregister(s)
    if open_:
        raise AssertionError("%d answers did not come within %.0f s" % (len(open_), timeout))
    return list(bufs.values())


class Idempotency(DaemonTestCase):
    """Idempotency-Key: the same key and body → the first task, once."""

    def test_same_key_same_task(self):
        body = {"name": "idem", "command": ["/bin/sh", "-c", "echo once"]}
        k = {"Idempotency-Key": "order-4711-%d" % os.getpid()}
        first = self.d.post("/api/tasks", body, k)
        self.assertEqual(first.status, 202, first)
        again = self.d.post("/api/tasks", body, k)
        self.assertEqual(again.status, 200, again)
        self.assertEqual(again.body["id"], first.body["id"])
        self.assertEqual(again.headers.get("Idempotent-Replayed"), "true")
        self.assertEqual(again.headers.get("Location"), "/api/tasks/%s" % first.body["id"])
        self.d.wait_terminal(first.body["id"])
        self.assertEqual(self.d.logs(first.body["id"]), "once\n")
        named = [t for t in self.d.get("/api/tasks?limit=1000").body["tasks"]
                 if t["name"] == "idem"]
        self.assertEqual(len(named), 1, "the retried POST started a second task")

    def test_same_key_other_body_is_422(self):
        k = {"Idempotency-Key": "k-other-%d" % os.getpid()}
        self.assertEqual(self.d.post("/api/tasks", {"name": "a", "duration": 0}, k).status, 202)
        r = self.d.post("/api/tasks", {"name": "b", "duration": 0}, k)
        self.assertError(r, 422, "Idempotency-Key")

    def test_bad_key_is_400(self):
        for bad in ("x" * 256, "has space"):
            r = self.d.post("/api/tasks", {"name": "a", "duration": 0}, {"Idempotency-Key": bad})
            self.assertError(r, 400, "Idempotency-Key")


class Queue(DaemonTestCase):
    """max_running 1, max_queued 3: FIFO, positions, cancel and wait while
    queued, 503 + Retry-After past the queue, depth in /healthz."""

    daemon_kwargs = {"config": {"max_running": 1, "max_queued": 3}}

    def test_fifo_positions_cancel_wait_and_503(self):
        blocker = self.d.submit_ok(**sleeper("blocker"))
        self.assertEqual(blocker["status"], "spawned")
        qs = []
        for i in range(3):
            q = self.d.submit_ok(name="q%d" % i, command=["/bin/sh", "-c", "echo q%d" % i])
            self.assertEqual((q["status"], q["position"]), ("queued", i + 1), q)
            self.assertNotIn("pid", q)
            qs.append(q["id"])
        r = self.d.submit(name="past-the-queue", duration=0)
        self.assertError(r, 503, "queued")
        self.assertRegex(r.headers.get("Retry-After") or "", r"^\d+$")
        h = self.d.get("/healthz").body["tasks"]
        self.assertEqual((h["running"], h["queued"], h["max_queued"]), (1, 3, 3), h)
        self.assertGreaterEqual(h["oldest_queued_ms"], 0)
        rec = self.d.task(qs[1])
        self.assertEqual((rec["state"], rec["queue_position"]), ("queued", 2), rec)
        # Waiting on a queued task: the time runs out, the record says queued.
        r = self.d.get("/api/tasks/%s?wait=1" % qs[0])
        self.assertEqual((r.status, r.body["state"]), (200, "queued"), r)
        # Cancel while queued: it never runs.
        c = self.d.delete("/api/tasks/%s" % qs[1])
        self.assertEqual((c.status, c.body["state"]), (200, "cancelled"), c)
        self.assertEqual(self.d.task(qs[2])["queue_position"], 2)
        self.assertEqual(self.d.delete("/api/tasks/%s" % qs[1]).status, 409)
        self.d.delete("/api/tasks/%s" % blocker["id"])
        ends = [self.d.wait_terminal(q) for q in (qs[0], qs[2])]
        for e in ends:
            self.assertEqual(e["state"], "succeeded", e)
        self.assertLess(ends[0]["started_at"], ends[1]["started_at"], "not FIFO")
        gone = self.d.task(qs[1])
        self.assertEqual((gone["state"], gone["reason"], gone["started_at"]),
                         ("cancelled", "cancelled", None), gone)
        self.assertEqual(self.d.logs(qs[0]), "q0\n")
        self.assertEqual(self.d.get("/api/tasks?state=queued").body["tasks"], [])

    def test_post_wait_on_a_queued_task(self):
        blocker = self.d.submit_ok(**sleeper("blocker-2"))
        box = {}

        def post():
            box["r"] = self.d.post("/api/tasks?wait=%d" % wait_s(120),
                                   {"name": "waits-in-queue", "command": ["/bin/echo", "late"]})
        t = threading.Thread(target=post)
        t.start()
        deadline = time.monotonic() + scaled(20)
        while self.d.get("/healthz").body["tasks"]["queued"] < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.d.delete("/api/tasks/%s" % blocker["id"])
        t.join(scaled(120))
        r = box.get("r")
        self.assertIsNotNone(r, "the held POST was not answered")
        self.assertEqual((r.status, r.body["state"], r.body["output"]), (200, "succeeded", "late\n"), r)


class Durable(unittest.TestCase):
    """Queued tasks survive a restart and a kill -9, and still run in order;
    every id that got a 202 resolves afterwards."""

    def run_queue_across(self, how):
        cfg = {"max_running": 1, "max_queued": 50}
        a = Daemon(config=cfg).start()
        b = None
        try:
            blocker = a.submit_ok(**sleeper("blocker"))
            a.wait_running(blocker["id"])
            done = a.submit_ok(name="queued-early", duration=0)   # queued behind it
            ids = [a.submit_ok(name="q%02d" % i, command=["/bin/echo", str(i)])["id"]
                   for i in range(8)]
            if how == "crash":
                a.crash()
            else:
                a.owns_state = False   # the successor owns the state
                a.stop()
                a.proc = None          # stopped and checked
            b = Daemon(config=cfg, state_dir=a.state_dir, cgroup_name=a.cgroup_name,
                       owns_state=True).start()
            rec = b.task(blocker["id"])
            self.assertIn(rec["state"], harness.TERMINAL, rec)
            ends = [b.wait_terminal(i, 60) for i in [done["id"]] + ids]
            for e in ends:
                self.assertEqual(e["state"], "succeeded", e)
            starts = [e["started_at"] for e in ends]
            self.assertEqual(starts, sorted(starts), "queued tasks ran out of order")
            for n, i in enumerate(ids):
                self.assertEqual(b.logs(i), "%d\n" % n)
        finally:
            if b is not None:
                b.stop()
            a.stop()

    def test_queued_stdin_and_files_survive_kill_9(self):
        cfg = {"max_running": 1}
        a = Daemon(config=cfg).start()
        b = None
        try:
            blocker = a.submit_ok(**sleeper("blocker"))
            a.wait_running(blocker["id"])
            q = a.submit_ok(name="with-input", command=["/bin/sh", "-c", "cat; cat /tmp/note.txt"],
                            stdin="from stdin\n", files={"note.txt": {"base64": "ZnJvbSBhIGZpbGUK"}})
            self.assertEqual(q["status"], "queued", q)
            a.crash()
            b = Daemon(config=cfg, state_dir=a.state_dir, cgroup_name=a.cgroup_name,
                       owns_state=True).start()
            rec = b.wait_terminal(q["id"], 60)
            self.assertEqual(rec["state"], "succeeded", rec)
            self.assertEqual(b.logs(q["id"]), "from stdin\nfrom a file\n")
        finally:
            if b is not None:
                b.stop()
            a.stop()

    def test_queue_survives_a_restart(self):
        self.run_queue_across("stop")

    def test_queue_and_records_survive_kill_9(self):
        self.run_queue_across("crash")

    def test_every_acknowledged_id_resolves_after_kill_9(self):
        a = Daemon().start()
        b = None
        try:
            ids = [a.submit_ok(name="ack-%d" % i, command=["/bin/echo", str(i)])["id"]
                   for i in range(20)]
            a.crash()
            b = Daemon(state_dir=a.state_dir, cgroup_name=a.cgroup_name, owns_state=True).start()
            for i in ids:
                self.assertIn(b.task(i)["state"], harness.TERMINAL + ("queued", "running"))
        finally:
            if b is not None:
                b.stop()
            a.stop()


class MissingCommand(DaemonTestCase):
    """A command[0] that is not in the rootfs is the client's mistake."""

    def test_missing_program_is_400_naming_command(self):
        for argv in (["/no/such/program"], ["/etc/passwd"]):
            r = self.d.submit(name="nope", command=argv)
            self.assertError(r, 400, "command", argv[0])
            self.assertIn("id", r.body)
            self.assertEqual(r.headers.get("Location"), "/api/tasks/%s" % r.body["id"])
            rec = self.d.task(r.body["id"])
            self.assertEqual((rec["state"], rec["reason"]), ("failed", "spawn_error"), rec)


class Shutdown(unittest.TestCase):
    """SIGTERM (or the warden's death) with POSTs in flight: each gets 202
    or 503 "shutting down", never a 500 or a reset; every id handed out
    resolves after a restart."""

    def test_posts_in_flight_at_sigterm(self):
        self.posts_in_flight(lambda d: d.proc.send_signal(signal.SIGTERM))

    def test_posts_in_flight_when_the_warden_dies(self):
        def kill_warden(d):
            d.crashed_warden = True
            os.kill(d.proc.pid, signal.SIGKILL)   # the warden is the main process
        self.posts_in_flight(kill_warden)

    def posts_in_flight(self, stop_it):
        d = Daemon(config={"max_running": 64}, owns_state=False).start()
        answers, problems = [], []
        stop = threading.Event()

        def poster():
            while not stop.is_set():
                try:
                    r = harness.http_request(d.port, "POST", "/api/tasks",
                                             {"name": "inflight", "command": ["/bin/sleep", "30"]},
                                             {"Content-Type": "application/json"})
                except ConnectionRefusedError:
                    return            # the listener is closed: not in flight
                except (OSError, http.client.HTTPException) as e:
                    problems.append(repr(e))
                    return
                answers.append(r)
                if r.status == 503:
                    return            # told the daemon is going: a client stops
        threads = [threading.Thread(target=poster) for _ in range(6)]
        try:
            for t in threads:
                t.start()
            deadline = time.monotonic() + scaled(20)
            while len(answers) < 6 and time.monotonic() < deadline:
                time.sleep(0.02)
            stop_it(d)
            for t in threads:
                t.join(scaled(60))
        finally:
            stop.set()
            if getattr(d, "crashed_warden", False):
                d.proc.wait(timeout=scaled(15))
                deadline = time.monotonic() + scaled(15)   # the front follows
                while d.daemon_pids() and time.monotonic() < deadline:
                    time.sleep(0.05)
                d.crashed, d.log_cache = True, d.log_text()   # a successor cleans up
            d.stop()
        try:
            self.assertEqual(problems, [], "connections reset or broken")
            self.assertTrue(answers)
            for r in answers:
                if r.status == 503:
                    self.assertIn("shutting down", r.body["error"].lower(), r)
                else:
                    self.assertEqual(r.status, 202, r)
            # Every id handed out (202, or a 503 naming its record) resolves.
            ids = [r.body["id"] for r in answers if isinstance(r.body, dict) and "id" in r.body]
            with Daemon(state_dir=d.state_dir, owns_state=False, cgroup_name=d.cgroup_name) as b:
                for i in ids:
                    self.assertEqual(b.get("/api/tasks/%s" % i).status, 200, i)
        finally:
            shutil.rmtree(d.state_dir, ignore_errors=True)


if __name__ == "__main__":
    harness.main()
