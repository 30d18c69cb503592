"""test_api.py — the HTTP API: the seed's nine requests, validation of every
field, status codes, records, listing, logs and /healthz."""

import hashlib
import json
import os
import re
import sys
import threading

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import RFC3339_UTC, SRC, DaemonTestCase

WORKER = "/usr/bin/jobcell-worker"
LIMIT_KEYS = {"memory_mb", "pids", "cpus", "timeout_s", "output_kb", "tmpfs_mb"}
USAGE_KEYS = {"memory_peak_bytes", "cpu_usec", "wall_ms", "oom_kills"}


class SeedRequests(DaemonTestCase):
    """The nine requests of the seed's test.http, with their answers."""

    def assertSpawned(self, r, name, duration):
        self.assertEqual(r.status, 202, r)
        b = r.body
        self.assertIsInstance(b, dict, r)
        self.assertEqual(b.get("name"), name, b)
        self.assertEqual(b.get("status"), "spawned", b)
        self.assertIsInstance(b.get("pid"), int, b)
        self.assertGreater(b["pid"], 0, b)
        self.assertIsInstance(b.get("id"), str, b)
        self.assertTrue(b["id"], b)
        self.assertEqual(b.get("message"),
                         "Process %d will run for %d seconds" % (b["pid"], duration), b)
        self.assertEqual(r.headers.get("Location"), "/api/tasks/%s" % b["id"])
        return b

    def cancel(self, task_id):
        r = self.d.delete("/api/tasks/%s" % task_id)
        self.assertIn(r.status, (202, 409), r)   # 409 if it had just finished
        self.d.wait_terminal(task_id)

    def test_1_generate_report_default_duration(self):
        b = self.assertSpawned(self.d.submit(name="generate-report"), "generate-report", 3)
        rec = self.d.wait_terminal(b["id"], timeout=30)
        self.assertRecordEnd(rec, "succeeded", "exited", exit_code=0)
        self.assertEqual(rec["command"], [WORKER, "generate-report", "3"])

    def test_2_process_dataset_10s(self):
        b = self.assertSpawned(self.d.submit(name="process-dataset", duration=10),
                               "process-dataset", 10)
        self.assertEqual(self.d.task(b["id"])["command"], [WORKER, "process-dataset", "10"])
        self.cancel(b["id"])

    def test_3_send_notification_1s(self):
        b = self.assertSpawned(self.d.submit(name="send-notification", duration=1),
                               "send-notification", 1)
        rec = self.d.wait_terminal(b["id"], timeout=30)
        self.assertRecordEnd(rec, "succeeded", "exited", exit_code=0)

    def test_4_6_three_parallel_workers(self):
        want = [("worker-alpha", 5), ("worker-beta", 3), ("worker-gamma", 7)]
        answers = {}

        def go(name, duration):
            try:
                answers[name] = self.d.submit(name=name, duration=duration)
            except Exception as e:  # reported below
                answers[name] = e

        threads = [threading.Thread(target=go, args=w) for w in want]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ids = []
        for name, duration in want:
            r = answers[name]
            self.assertNotIsInstance(r, Exception, "%s: %r" % (name, r))
            ids.append(self.assertSpawned(r, name, duration)["id"])
        self.assertEqual(len(set(ids)), 3, "ids must be distinct: %r" % ids)
        pids = [answers[n].body["pid"] for n, _ in want]
        self.assertEqual(len(set(pids)), 3, "pids must be distinct: %r" % pids)
        for i in ids:
            self.cancel(i)

    def test_7_missing_name(self):
        r = self.d.post("/api/tasks", {"duration": 5})
        err = self.assertError(r, 400)
        self.assertEqual(err, "Field 'name' is required")

    def test_8_not_json(self):
        r = self.d.post("/api/tasks", "not-json")
        err = self.assertError(r, 400)
        self.assertTrue(err.startswith("Invalid JSON"), err)

    def test_9_empty_name(self):
        self.assertError(self.d.post("/api/tasks", {"name": "", "duration": 2}), 400, "name")


class Validation(DaemonTestCase):
    """Every field of POST /api/tasks, accepted and rejected."""

    def bad(self, body, *words, status=400):
        r = self.d.post("/api/tasks", body)
        return self.assertError(r, status, *words)

    def ok(self, **fields):
        b = self.d.submit_ok(**fields)
        return self.d.wait_terminal(b["id"])

    # --- JSON itself
    def test_invalid_json_says_where(self):
        err = self.bad('{"name": }')
        self.assertTrue(err.startswith("Invalid JSON"), err)
        self.assertRegex(err, r"\d", "the message should say where (a byte offset)")

    def test_trailing_garbage(self):
        err = self.bad('{"name":"a"} x')
        self.assertTrue(err.startswith("Invalid JSON"), err)

    def test_empty_body(self):
        err = self.bad("")
        self.assertTrue(err.startswith("Invalid JSON"), err)

    def test_invalid_utf8(self):
        self.bad(b'{"name":"\xff\xfe"}')

    def test_deep_nesting_is_rejected_and_daemon_survives(self):
        self.bad("[" * 20000 + "]" * 20000)
        self.bad('{"name":"n","env":' + '{"a":' * 5000 + '1' + '}' * 5001)
        self.assertEqual(self.d.get("/healthz").status, 200)

    def test_not_an_object(self):
        for body in ("[1,2]", '"name"', "null", "42", "true"):
            with self.subTest(body=body):
                self.bad(body, "object")

    def test_unknown_field(self):
        self.bad({"name": "x", "bogus_field": 1}, "bogus_field")

    # --- name
    def test_name_wrong_type(self):
        for v in (5, None, ["a"], {"a": 1}, True):
            with self.subTest(name=v):
                self.bad({"name": v}, "name")

    def test_name_128_bytes_ok_129_not(self):
        self.assertEqual(self.ok(name="n" * 128, duration=0)["name"], "n" * 128)
        self.bad({"name": "n" * 129, "duration": 0}, "name")

    def test_name_length_counts_bytes(self):
        self.assertEqual(self.ok(name="é" * 64, duration=0)["name"], "é" * 64)
        self.bad({"name": "é" * 65, "duration": 0}, "name")   # 130 bytes

    def test_name_control_characters(self):
        for v in ("a\nb", "a\tb", "a\x01b", "a\x7fb", "a\x00b"):
            with self.subTest(name=repr(v)):
                self.bad({"name": v, "duration": 0}, "name")

    # --- duration
    def test_duration_bounds(self):
        self.assertRecordEnd(self.ok(name="d0", duration=0), "succeeded", "exited", exit_code=0)
        b = self.d.submit_ok(name="d3600", duration=3600)
        self.assertEqual(self.d.delete("/api/tasks/%s" % b["id"]).status, 202)
        self.d.wait_terminal(b["id"])
        for v in (3601, -1, 10 ** 12):
            with self.subTest(duration=v):
                self.bad({"name": "d", "duration": v}, "duration")

    def test_duration_wrong_type(self):
        for v in (1.5, "3", True, None, [3]):
            with self.subTest(duration=v):
                self.bad({"name": "d", "duration": v}, "duration")

    # --- command
    def test_command_wrong_shapes(self):
        for v in ("/bin/sh", [], ["sh", "-c", "true"], [1], ["/bin/sh", 2], [None],
                  {"0": "/bin/sh"}, [""], ["/bin/sh", "a\x00b"]):
            with self.subTest(command=v):
                self.bad({"name": "c", "command": v}, "command")

    def test_command_256_items_ok_257_not(self):
        argv = ["/bin/sh", "-c", 'echo "$#"'] + ["x"] * 253
        rec = self.ok(name="argv256", command=argv)
        self.assertRecordEnd(rec, "succeeded", "exited", exit_code=0)
        self.assertEqual(rec["command"], argv)
        self.assertEqual(self.d.logs(rec["id"]).strip(), "252")
        self.bad({"name": "argv257", "command": argv + ["y"]}, "command")

    def test_command_and_duration_recorded(self):
        rec = self.ok(name="echo", command=["/bin/sh", "-c", "echo hello"])
        self.assertEqual(rec["command"], ["/bin/sh", "-c", "echo hello"])
        self.assertEqual(self.d.logs(rec["id"]), "hello\n")

    def test_command_message(self):
        r = self.d.submit(name="msg", command=["/bin/sh", "-c", "exit 0"])
        self.assertEqual(r.status, 202, r)
        self.assertIn("/bin/sh", r.body.get("message", ""), r.body)
        self.assertIn(str(r.body["pid"]), r.body.get("message", ""), r.body)
        self.d.wait_terminal(r.body["id"])

    # --- env
    def test_env_wrong_shapes(self):
        for v in (["A=b"], "A=b", {"A": 1}, {"A": None}, {"A": ["b"]}, {"": "x"},
                  {"A=B": "x"}):
            with self.subTest(env=v):
                self.bad({"name": "e", "command": ["/bin/sh", "-c", "true"], "env": v}, "env")

    # --- limits
    def test_limits_recorded(self):
        lim = {"memory_mb": 48, "pids": 20, "cpus": 0.5, "timeout_s": 30,
               "output_kb": 64, "tmpfs_mb": 8}
        rec = self.ok(name="lim", command=["/bin/sh", "-c", "true"], limits=lim)
        self.assertEqual(set(rec["limits"]), LIMIT_KEYS, rec["limits"])
        for k, v in lim.items():
            self.assertEqual(rec["limits"][k], v, "limits.%s in %s" % (k, rec["limits"]))

    def test_default_limits_filled_in(self):
        rec = self.ok(name="deflim", duration=0)
        self.assertEqual(set(rec["limits"]), LIMIT_KEYS, rec["limits"])
        for k, v in rec["limits"].items():
            self.assertIsInstance(v, (int, float), k)
            self.assertGreater(v, 0, k)

    def test_limits_above_maximum_name_field_and_maximum(self):
        for k in sorted(LIMIT_KEYS):
            with self.subTest(limit=k):
                err = self.bad({"name": "l", "limits": {k: 10 ** 9}}, k)
                self.assertRegex(err, r"\d", "message should state the maximum: %r" % err)

    def test_limits_out_of_range_and_types(self):
        cases = [("memory_mb", -1), ("memory_mb", 0), ("pids", 0), ("pids", -5),
                 ("cpus", 0), ("cpus", -0.5), ("timeout_s", -1), ("output_kb", -1),
                 ("tmpfs_mb", -1), ("memory_mb", "64"), ("pids", 1.5), ("cpus", "1"),
                 ("timeout_s", True), ("memory_mb", None)]
        for k, v in cases:
            with self.subTest(limit=k, value=v):
                self.bad({"name": "l", "limits": {k: v}}, k)

    def test_limits_unknown_key_and_type(self):
        self.bad({"name": "l", "limits": {"swap_mb": 1}}, "swap_mb")
        self.bad({"name": "l", "limits": [1]}, "limits")

    # --- policy
    def test_policy_strict_and_default_recorded(self):
        health = self.d.get("/healthz").body
        hashes = {p["name"]: p["sha256"] for p in health["seccomp"]["policies"]}
        for name in ("default", "strict"):
            with self.subTest(policy=name):
                rec = self.ok(name="p", command=["/bin/sh", "-c", "echo hi"], policy=name)
                self.assertRecordEnd(rec, "succeeded", "exited", exit_code=0)
                self.assertEqual(rec["policy"]["name"], name, rec["policy"])
                self.assertEqual(rec["policy"]["sha256"], hashes[name], rec["policy"])
        rec = self.ok(name="nopolicy", duration=0)
        self.assertEqual(rec["policy"]["name"], "default", rec["policy"])

    def test_policy_unknown_or_wrong_type(self):
        self.bad({"name": "p", "policy": "no-such-policy"}, "policy")
        self.bad({"name": "p", "policy": "../default"}, "policy")
        self.bad({"name": "p", "policy": 1}, "policy")

    # --- transport
    def test_body_over_64k_is_413(self):
        body = json.dumps({"name": "big", "env": {"PAD": "x" * (65 * 1024)}})
        r = self.d.post("/api/tasks", body)
        self.assertEqual(r.status, 413, r)
        self.assertEqual(self.d.get("/healthz").status, 200)

    def test_content_type_not_json_is_415(self):
        for ct in ("text/plain", "application/x-www-form-urlencoded"):
            with self.subTest(content_type=ct):
                r = self.d.request("POST", "/api/tasks", '{"name":"ct"}', {"Content-Type": ct})
                self.assertError(r, 415)

    def test_content_type_with_charset_ok(self):
        r = self.d.post("/api/tasks", '{"name":"cs","duration":0}',
                        {"Content-Type": "application/json; charset=utf-8"})
        self.assertEqual(r.status, 202, r)
        self.d.wait_terminal(r.body["id"])


class Routes(DaemonTestCase):
    """Status codes of the routes, records, listing, logs, /healthz."""

    def test_unknown_task_and_routes_404(self):
        for method, path in (("GET", "/api/tasks/does-not-exist"),
                             ("GET", "/api/tasks/does-not-exist/logs"),
                             ("DELETE", "/api/tasks/does-not-exist"),
                             ("GET", "/nope"), ("GET", "/api"), ("GET", "/api/taskz")):
            with self.subTest(method=method, path=path):
                self.assertError(self.d.request(method, path), 404)

    def test_path_traversal_id(self):
        for path in ("/api/tasks/..%2F..%2Fetc%2Fpasswd", "/api/tasks/%2e%2e",
                     "/api/tasks/..%2F..%2Fetc%2Fpasswd/logs"):
            with self.subTest(path=path):
                r = self.d.get(path)
                self.assertIn(r.status, (400, 404), r)
                self.assertNotIn("root:", r.raw.decode("latin-1"))

    def test_wrong_method_405_with_allow(self):
        b = self.d.submit_ok(name="m", duration=0)
        self.d.wait_terminal(b["id"])
        for method, path, must in (("PUT", "/api/tasks", "POST"),
                                   ("DELETE", "/api/tasks", "GET"),
                                   ("POST", "/api/tasks/%s" % b["id"], "DELETE"),
                                   ("PUT", "/api/tasks/%s" % b["id"], "GET"),
                                   ("POST", "/healthz", "GET")):
            with self.subTest(method=method, path=path):
                r = self.d.request(method, path, "{}", {"Content-Type": "application/json"})
                self.assertEqual(r.status, 405, r)
                allow = r.headers.get("Allow") or ""
                self.assertIn(must, [a.strip() for a in allow.split(",")],
                              "Allow: %r" % allow)
                self.assertNotIn(method, [a.strip() for a in allow.split(",")])

    def test_record_fields(self):
        b = self.d.submit_ok(name="fields", duration=1)
        rec = self.d.task(b["id"])
        self.assertIn(rec["state"], ("queued", "running"))
        self.assertIsNone(rec["reason"])
        rec = self.d.wait_terminal(b["id"])
        self.assertRecordEnd(rec, "succeeded", "exited", exit_code=0, signal=None,
                             id=b["id"], name="fields", pid=b["pid"])
        for k in ("created_at", "started_at", "finished_at"):
            self.assertRegex(rec[k] or "", RFC3339_UTC, k)
        self.assertLessEqual(rec["created_at"], rec["started_at"])
        self.assertLessEqual(rec["started_at"], rec["finished_at"])
        self.assertEqual(rec["command"], [WORKER, "fields", "1"])
        self.assertEqual(set(rec["limits"]), LIMIT_KEYS)
        self.assertEqual(set(rec["usage"]), USAGE_KEYS, rec["usage"])
        for k in USAGE_KEYS:
            self.assertIsInstance(rec["usage"][k], int, k)
            self.assertGreaterEqual(rec["usage"][k], 0, k)
        self.assertGreater(rec["usage"]["memory_peak_bytes"], 0)
        self.assertGreaterEqual(rec["usage"]["wall_ms"], 900)   # it slept 1 s
        self.assertEqual(rec["usage"]["oom_kills"], 0)
        self.assertIsInstance(rec["policy"], dict)
        self.assertRegex(rec["policy"].get("sha256", ""), r"^[0-9a-f]{64}$")

    def test_worker_logs(self):
        b = self.d.submit_ok(name="logme", duration=2)
        self.d.wait_terminal(b["id"])
        r = self.d.get("/api/tasks/%s/logs" % b["id"])
        self.assertEqual(r.status, 200, r)
        self.assertTrue((r.headers.get("Content-Type") or "").startswith("text/plain"), r.headers)
        text = r.raw.decode()
        for line in ("step 1/2", "step 2/2"):
            self.assertIn(line, text)
        self.assertNotIn("step 3/", text)
        self.assertRegex(text, r"(?i)done")
        self.assertLess(text.index("step 1/2"), text.index("step 2/2"))

    def test_stdout_and_stderr_merged(self):
        rec, logs = self.d.sh("echo to-out; echo to-err >&2; echo again")
        self.assertEqual(logs, "to-out\nto-err\nagain\n")

    def test_delete(self):
        b = self.d.submit_ok(name="del", command=["/bin/sleep", "30"])
        r = self.d.delete("/api/tasks/%s" % b["id"])
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.body.get("id"), b["id"], r)
        self.assertEqual(r.body.get("message"), "cancel requested", r)
        rec = self.d.wait_terminal(b["id"], timeout=15)
        self.assertRecordEnd(rec, "cancelled", "cancelled")
        self.assertError(self.d.delete("/api/tasks/%s" % b["id"]), 409)

    def test_delete_finished_409(self):
        b = self.d.submit_ok(name="fin", duration=0)
        self.d.wait_terminal(b["id"])
        self.assertError(self.d.delete("/api/tasks/%s" % b["id"]), 409)
        self.assertEqual(self.d.task(b["id"])["state"], "succeeded")

    def test_list_newest_first_with_cursor(self):
        ids = []
        for i in range(5):
            ids.append(self.d.submit_ok(name="list-%d" % i, duration=0)["id"])
        for i in ids:
            self.d.wait_terminal(i)
        seen, cursor, pages = [], None, 0
        while True:
            path = "/api/tasks?limit=2" + ("&cursor=%s" % cursor if cursor else "")
            r = self.d.get(path)
            self.assertEqual(r.status, 200, r)
            self.assertLessEqual(len(r.body["tasks"]), 2, r.body)
            self.assertIn("next_cursor", r.body)
            seen += [t["id"] for t in r.body["tasks"]]
            cursor = r.body["next_cursor"]
            pages += 1
            self.assertLess(pages, 1000, "cursor never ends")
            if cursor is None:
                break
            self.assertIsInstance(cursor, str)
        self.assertEqual(len(seen), len(set(seen)), "a task appears twice across pages")
        mine = [i for i in seen if i in ids]
        self.assertEqual(mine, list(reversed(ids)), "not newest first")

    def test_list_record_shape_and_order(self):
        for i in range(3):
            self.d.wait_terminal(self.d.submit_ok(name="o-%d" % i, duration=0)["id"])
        r = self.d.get("/api/tasks?limit=50")
        self.assertEqual(r.status, 200, r)
        tasks = r.body["tasks"]
        self.assertGreaterEqual(len(tasks), 3)
        created = [t["created_at"] for t in tasks]
        self.assertEqual(created, sorted(created, reverse=True))
        for t in tasks:
            self.assertIn("state", t)
            self.assertIn("name", t)

    def test_list_state_filter(self):
        ok = self.d.submit_ok(name="f-ok", duration=0)["id"]
        bad = self.d.submit_ok(name="f-bad", command=["/bin/sh", "-c", "exit 1"])["id"]
        self.d.wait_terminal(ok)
        self.d.wait_terminal(bad)
        for state, mine, other in (("succeeded", ok, bad), ("failed", bad, ok)):
            with self.subTest(state=state):
                r = self.d.get("/api/tasks?state=%s&limit=1000" % state)
                self.assertEqual(r.status, 200, r)
                got = r.body["tasks"]
                self.assertTrue(all(t["state"] == state for t in got), got)
                ids = [t["id"] for t in got]
                self.assertIn(mine, ids)
                self.assertNotIn(other, ids)

    def test_list_bad_query(self):
        for q in ("state=bogus", "limit=-1", "limit=abc"):
            with self.subTest(query=q):
                self.assertError(self.d.get("/api/tasks?" + q), 400)

    def test_healthz(self):
        r = self.d.get("/healthz")
        self.assertEqual(r.status, 200, r)
        h = r.body
        self.assertEqual(h["status"], "ok")
        self.assertIsInstance(h["version"], str)
        m = re.search(r"version:\s*'([^']+)'", open(os.path.join(SRC, "meson.build")).read())
        if m:
            self.assertEqual(h["version"], m.group(1))
        self.assertEqual(h["cgroup"]["mode"], harness.cgroup_mode())
        for c in ("memory", "pids", "cpu"):
            self.assertIn(c, h["cgroup"]["controllers"])
        ns = set(h["namespaces"])
        self.assertEqual(len(h["namespaces"]), 7, h["namespaces"])
        self.assertTrue({"user", "pid", "uts", "ipc", "net", "cgroup"} <= ns, ns)
        self.assertTrue(ns & {"mnt", "mount"}, ns)
        self.assertEqual(h["seccomp"]["default"], "default")
        names = {p["name"]: p["sha256"] for p in h["seccomp"]["policies"]}
        self.assertIn("default", names)
        self.assertIn("strict", names)
        policy_dir = os.path.join(SRC, "policy")
        for n, digest in names.items():
            self.assertRegex(digest, r"^[0-9a-f]{64}$")
            f = os.path.join(policy_dir, n + ".json")
            if os.path.exists(f):
                self.assertEqual(digest, hashlib.sha256(open(f, "rb").read()).hexdigest(), f)
        self.assertTrue(os.path.isdir(h["rootfs"]), h["rootfs"])
        self.assertTrue(os.path.exists(os.path.join(h["rootfs"], "usr/bin/jobcell-worker")))
        self.assertIsInstance(h["tasks"]["running"], int)

    def test_healthz_counts_running(self):
        before = self.d.get("/healthz").body["tasks"]["running"]
        b = self.d.submit_ok(name="count", command=["/bin/sleep", "30"])
        self.d.wait_running(b["id"])
        self.assertEqual(self.d.get("/healthz").body["tasks"]["running"], before + 1)
        self.d.delete("/api/tasks/%s" % b["id"])
        self.d.wait_terminal(b["id"])
        self.assertEqual(self.d.get("/healthz").body["tasks"]["running"], before)

    def test_202_only_after_exec(self):
        b = self.d.submit_ok(name="exec", command=["/bin/sleep", "30"])
        pid = b["pid"]
        self.assertTrue(harness.proc_alive(pid), "pid %d from the 202 does not exist" % pid)
        exe = harness.proc_exe(pid) or ""
        self.assertNotEqual(os.path.basename(exe), os.path.basename(harness.JOBCELLD),
                            "pid %d still runs the daemon's binary after 202" % pid)
        self.assertNotEqual(harness.proc_comm(pid), "jobcelld")
        # Nor the spawn stub, which the child execs before init (src/plan.h).
        self.assertNotEqual(os.path.basename(exe), "jobcell-spawn", "pid %d is still in the stub" % pid)
        self.assertNotEqual(harness.proc_comm(pid), "jobcell-spawn")
        self.d.delete("/api/tasks/%s" % b["id"])
        self.d.wait_terminal(b["id"])


class Backpressure(DaemonTestCase):
    """503 + Retry-After once the running-task limit is reached and there is
    no queue (max_queued 0); test_queue.py covers the queue itself."""

    daemon_kwargs = {"config": {"max_running": 2, "max_queued": 0}}

    def test_503_when_full(self):
        ids = [self.d.submit_ok(name="full-%d" % i, command=["/bin/sleep", "30"])["id"]
               for i in range(2)]
        for i in ids:
            self.d.wait_running(i)
        r = self.d.submit(name="one-too-many", duration=0)
        self.assertError(r, 503)
        retry = r.headers.get("Retry-After")
        self.assertIsNotNone(retry, "no Retry-After header")
        self.assertRegex(retry, r"^\d+$")
        for i in ids:
            self.d.delete("/api/tasks/%s" % i)
            self.d.wait_terminal(i)
        rec = self.d.wait_terminal(self.d.submit_ok(name="room-again", duration=0)["id"])
        self.assertEqual(rec["state"], "succeeded")


if __name__ == "__main__":
    harness.main()
