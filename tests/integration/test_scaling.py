"""test_scaling.py — two jobcelld (nodes n1 and n2) behind Debian's nginx,
configured with the nginx block of docs/scaling.md as it stands (only the
two hosts' addresses and the listening port are put in): submissions are
spread over both hosts, every request about a task reaches the host named
in its id (get, ?wait=, logs, follow, cancel), unknown and malformed ids
are 404s, the token passes through, and a host that is down fails its
tasks' requests with a clear 502 while new tasks go to the other one.

nginx runs as a process of this test (its own prefix, config, pid file and
port on loopback; never the system's nginx service) and is stopped, with
both daemons, whatever happens.  Skipped (exit 77) without nginx.
"""

import ctypes
import grp
import http.client
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Daemon, free_port, http_request, scaled  # noqa: E402

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
DOC = os.path.join(harness.SRC, "docs", "scaling.md")
TOKEN = "scaling-token-0123456789abcdef"
AUTH = {"Authorization": "Bearer " + TOKEN}
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
ID_RE = re.compile(r"^(n1|n2)\.(%s)$" % UUID)
# The example hosts of the doc's config, and what this test puts in their place.
DOC_HOSTS = ("10.0.0.1:8080", "10.0.0.2:8080")
DOC_LISTEN = "listen 80;"
LEGACY_ID = "0000000a-0000-4000-8000-00000000000a"   # an id made before node names
LEGACY_RECORD = {
    "id": LEGACY_ID, "name": "old", "state": "succeeded", "reason": "exited", "exit_code": 0,
    "signal": None, "pid": 7, "created_at": "2026-11-24T02:00:46.403Z",
    "started_at": "2026-11-24T02:00:46.403Z", "finished_at": "2099-11-24T02:00:48.419Z",
    "command": ["/bin/true"], "limits": {"memory_mb": 256, "pids": 64, "cpus": 1.0, "timeout_s": 600,
                                         "output_kb": 1024, "tmpfs_mb": 64},
    "usage": {"memory_peak_bytes": 1, "cpu_usec": 2, "wall_ms": 3, "oom_kills": 0},
    "policy": {"name": "default", "sha256": "ab"}, "seq": 1}


def doc_nginx_block():
    """The one ```nginx block of docs/scaling.md."""
    with open(DOC) as f:
        blocks = re.findall(r"^```nginx\n(.*?)^```", f.read(), re.S | re.M)
    if len(blocks) != 1:
        raise AssertionError("docs/scaling.md has %d nginx blocks, expected 1" % len(blocks))
    return blocks[0]


def site_config(ports, listen_port):
    """The doc's block with our hosts and port in place of the examples."""
    text = doc_nginx_block()
    for host, port in zip(DOC_HOSTS, ports):
        if host not in text:
            raise AssertionError("docs/scaling.md's nginx block no longer names %s" % host)
        text = text.replace(host, "127.0.0.1:%d" % port)
    if text.count(DOC_LISTEN) != 1:
        raise AssertionError("docs/scaling.md's nginx block should have one %r" % DOC_LISTEN)
    return text.replace(DOC_LISTEN, "listen 127.0.0.1:%d;" % listen_port)


def nginx_user():
    """nginx's workers drop to nobody (the group of that user)."""
    pw = pwd.getpwnam("nobody")
    return "nobody %s" % grp.getgrgid(pw.pw_gid).gr_name


class Nginx:
    """An nginx of this test: nginx -p DIR -c DIR/nginx.conf -g 'daemon off;'."""

    def __init__(self, ports):
        self.ports = ports
        self.dir = tempfile.mkdtemp(prefix="jobcell-nginx-")
        self.proc = None
        self.port = None

    def write_config(self):
        with open(os.path.join(self.dir, "jobcell.conf"), "w") as f:
            f.write(site_config(self.ports, self.port))
        d = self.dir
        with open(os.path.join(d, "nginx.conf"), "w") as f:
            f.write("pid %s/nginx.pid;\nerror_log %s/error.log notice;\nworker_processes 1;\n"
                    "user %s;\nevents { worker_connections 256; }\nhttp {\n"
                    "  access_log %s/access.log;\n"
                    "  client_body_temp_path %s/body; proxy_temp_path %s/proxy;\n"
                    "  fastcgi_temp_path %s/fastcgi; uwsgi_temp_path %s/uwsgi; scgi_temp_path %s/scgi;\n"
                    "  include %s/jobcell.conf;\n}\n" % (d, d, nginx_user(), d, d, d, d, d, d, d))

    def start(self):
        for attempt in range(3):   # a free port can be taken in between: retry
            self.port = free_port()
            self.write_config()
            self.proc = subprocess.Popen(
                [NGINX, "-e", os.path.join(self.dir, "error.log"), "-p", self.dir,
                 "-c", os.path.join(self.dir, "nginx.conf"), "-g", "daemon off;"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=die_with_parent)
            if self.wait_ready():
                return self
            if self.proc.poll() is None or attempt == 2 or "in use" not in self.log():
                break
        raise AssertionError("nginx did not start:\n" + self.log())

    def wait_ready(self):
        deadline = time.monotonic() + scaled(10)
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if http_request(self.port, "GET", "/nodes/n1/healthz", timeout=scaled(5)).status == 200:
                    return True
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.05)
        return False

    def log(self):
        try:
            with open(os.path.join(self.dir, "error.log"), errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return "(no error.log)"

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)   # nginx: fast shutdown, workers too
            try:
                self.proc.wait(timeout=scaled(10))
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def die_with_parent():
    """nginx -g 'daemon off;' stays our child: if this test is killed, it gets
    SIGTERM (a fast shutdown, its workers too) instead of staying behind."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def write_token():
    d = tempfile.mkdtemp(prefix="jobcell-scaling-token-")
    path = os.path.join(d, "token")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, (TOKEN + "\n").encode())
    os.close(fd)
    return d, path


def legacy_state_dir():
    """A state directory holding a record of an older version (tasks/<id>.json)."""
    state = harness.make_state_dir()
    tasks = os.path.join(state, "tasks")
    os.mkdir(tasks, 0o700)
    path = os.path.join(tasks, LEGACY_ID + ".json")
    with open(path, "w") as f:
        json.dump(LEGACY_RECORD, f)
    st = os.stat(state)
    for p in (tasks, path):
        os.chown(p, st.st_uid, st.st_gid)
    return state


class Cluster(unittest.TestCase):
    """n1 and n2 behind one nginx, for the whole class."""

    maxDiff = 4000

    @classmethod
    def setUpClass(cls):
        cls.token_dir, token = write_token()
        cls.addClassCleanup(shutil.rmtree, cls.token_dir, True)
        cls.nodes = {}
        for i, name in enumerate(("n1", "n2")):
            kw = {"state_dir": legacy_state_dir(), "owns_state": True} if name == "n1" else {}
            d = Daemon(cgroup_name="jobcell-test-%d-%s" % (os.getpid(), name),
                       config={"uid_base": harness.uid_base_for_test() + i * 512, "max_running": 16},
                       extra_args=["--node", name, "--token-file", token], **kw)
            cls.addClassCleanup(cls.stop_node, d)   # last in, first out: nginx goes first
            cls.nodes[name] = d.start()
        cls.nginx = Nginx([cls.nodes["n1"].port, cls.nodes["n2"].port])
        cls.addClassCleanup(cls.nginx.stop)
        cls.nginx.start()

    @staticmethod
    def stop_node(d):
        if not getattr(d, "stopped", False):
            d.stopped = True
            d.stop()

    def setUp(self):
        for name, d in self.nodes.items():
            if getattr(d, "stopped", False):
                continue
            if not d.alive():
                self.fail("jobcelld %s died (exit status %s)\n%s" % (name, d.proc.poll(), d.log_tail()))

    # ---- through the proxy ------------------------------------------------

    def proxy(self, method, path, body=None, headers=None, auth=True):
        h = dict(AUTH) if auth else {}
        if body is not None:
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        return http_request(self.nginx.port, method, path, body, h)

    def submit(self, fields, headers=None):
        r = self.proxy("POST", "/api/tasks", fields, headers)
        self.assertIn(r.status, (200, 202), r)
        m = ID_RE.match(r.body.get("id", ""))
        self.assertTrue(m, "id %r is not <node>.<uuid>: %r" % (r.body.get("id"), r))
        d = self.nodes[m.group(1)]
        d.note_pid(r.body.get("pid"))
        d.snapshot()
        return r.body["id"], m.group(1)

    def record(self, task_id, wait=None):
        r = self.proxy("GET", "/api/tasks/%s%s" % (task_id, "?wait=%d" % wait if wait else ""))
        self.assertEqual(r.status, 200, r)
        return r.body

    def wait_state(self, task_id, states):
        deadline = time.monotonic() + scaled(30)
        while True:
            rec = self.record(task_id)
            if rec["state"] in states or time.monotonic() > deadline:
                self.assertIn(rec["state"], states, rec)
                return rec
            time.sleep(0.05)

    def assertError(self, r, status, *words):
        self.assertEqual(r.status, status, r)
        self.assertIsInstance(r.body, dict, "not a JSON error: %r" % (r,))
        for w in words:
            self.assertIn(w.lower(), r.body.get("error", "").lower(), r)


class Proxied(Cluster):

    def test_healthz_names_the_node(self):
        for name in ("n1", "n2"):
            r = self.proxy("GET", "/nodes/%s/healthz" % name, auth=False)
            self.assertEqual((r.status, r.body.get("node")), (200, name), r)
            self.assertEqual(self.nodes[name].health.get("node"), name)
        self.assertError(self.proxy("GET", "/nodes/n3/healthz"), 404, "no node n3")
        self.assertError(self.proxy("GET", "/metrics"), 404, "no such route")

    def test_submit_get_wait_logs_on_the_owner(self):
        owners = {}
        for i in range(10):
            tid, node = self.submit({"name": "s%d" % i, "command": ["/bin/sh", "-c", "echo out-%d" % i]})
            owners[tid] = (node, i)
        self.assertEqual({n for n, _ in owners.values()}, {"n1", "n2"},
                         "10 submissions went to one host only: %s" % owners)
        for tid, (node, i) in owners.items():
            with self.subTest(id=tid):
                rec = self.record(tid, wait=int(scaled(30)))       # ?wait= through the proxy
                self.assertEqual((rec["id"], rec["node"], rec["state"], rec["reason"]),
                                 (tid, node, "succeeded", "exited"), rec)
                logs = self.proxy("GET", "/api/tasks/%s/logs" % tid)
                self.assertEqual((logs.status, logs.body), (200, "out-%d\n" % i), logs)
                other = self.nodes["n2" if node == "n1" else "n1"]
                self.assertEqual(self.nodes[node].get("/api/tasks/%s" % tid, AUTH).status, 200)
                self.assertError(other.get("/api/tasks/%s" % tid, AUTH), 404, tid)

    def test_follow_is_chunked_and_ends(self):
        tid, node = self.submit({"name": "ticks", "command": ["/bin/sh", "-c", "echo a; sleep 1; echo b"]})
        conn = http.client.HTTPConnection("127.0.0.1", self.nginx.port, timeout=scaled(30))
        try:
            conn.request("GET", "/api/tasks/%s/logs?follow=1" % tid, headers=AUTH)
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            self.assertEqual(resp.getheader("Transfer-Encoding"), "chunked")
            body = resp.read()            # ends when the task has ended
        finally:
            conn.close()
        self.assertEqual(body, b"a\nb\n")
        self.assertEqual(self.record(tid)["state"], "succeeded")

    def test_sse_resumes_with_last_event_id(self):
        tid, node = self.submit({"name": "sse", "command": ["/bin/sh", "-c", "echo a; sleep 1; echo b"]})
        sse = {"Accept": "text/event-stream", "Last-Event-ID": "2"}   # after "a\n"
        r = self.proxy("GET", "/api/tasks/%s/logs?follow=1" % tid, headers=sse)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers.get("Content-Type", "").startswith("text/event-stream"), r.headers)
        events = r.raw.decode().split("\n\n")
        self.assertIn("data: b\ndata: \nid: 4", events, events)
        end = [e for e in events if e.startswith("event: end\n")]
        self.assertEqual(len(end), 1, events)
        rec = json.loads(end[0].split("data: ", 1)[1])
        self.assertEqual((rec["id"], rec["node"], rec["state"]), (tid, node, "succeeded"))

    def test_cancel_through_the_proxy(self):
        tid, node = self.submit({"name": "long", "duration": 3600})
        self.wait_state(tid, ("running",))
        r = self.proxy("DELETE", "/api/tasks/%s" % tid)
        self.assertEqual((r.status, r.body.get("id")), (202, tid), r)
        rec = self.record(tid, wait=int(scaled(30)))
        self.assertEqual((rec["state"], rec["reason"], rec["node"]), ("cancelled", "cancelled", node), rec)
        self.assertError(self.proxy("DELETE", "/api/tasks/%s" % tid), 409, "already finished")

    def test_unknown_and_bad_ids(self):
        unknown = "00000000-0000-4000-8000-000000000000"
        for node in ("n1", "n2"):
            tid = "%s.%s" % (node, unknown)
            for method, path in (("GET", "/api/tasks/" + tid), ("GET", "/api/tasks/%s/logs" % tid),
                                 ("GET", "/api/tasks/%s/logs?follow=1" % tid),
                                 ("DELETE", "/api/tasks/" + tid)):
                with self.subTest(method=method, path=path):
                    self.assertError(self.proxy(method, path), 404, "no task with id '%s'" % tid)
            for bad in ("%s.garbage" % node, "%s.%s0" % (node, unknown), "%s..%s" % (node, unknown),
                        "%s.%s" % (node, "a" * 5000), "%s.x%%2F..%%2F..%%2Fetc%%2Fpasswd" % node):
                with self.subTest(bad=bad[:60]):
                    r = self.proxy("GET", "/api/tasks/" + bad)
                    self.assertError(r, 404)
                    self.assertNotIn("root:", r.raw.decode("latin-1"))
        self.assertError(self.proxy("GET", "/api/tasks/n9.%s" % unknown), 404, "no node n9")
        self.assertError(self.proxy("GET", "/api/tasks/N1.%s" % unknown), 404, "without a node")

    def test_the_token_is_passed_and_needed(self):
        r = self.proxy("GET", "/nodes/n1/api/tasks", auth=False)
        self.assertError(r, 401, "bearer")
        self.assertIn("Bearer", r.headers.get("WWW-Authenticate", ""))
        r = self.proxy("POST", "/api/tasks", {"name": "x", "duration": 0}, auth=False)
        self.assertError(r, 401, "bearer")

    def test_lists_per_node(self):
        tids = [self.submit({"name": "l%d" % i, "duration": 0}) for i in range(2)]
        self.assertError(self.proxy("GET", "/api/tasks"), 400, "/nodes/<node>/api/tasks")
        for node in ("n1", "n2"):
            r = self.proxy("GET", "/nodes/%s/api/tasks?limit=1000" % node)
            self.assertEqual(r.status, 200, r)
            ids = [t["id"] for t in r.body["tasks"]]
            self.assertTrue(all(i.startswith(node + ".") or i == LEGACY_ID for i in ids), ids)
            self.assertTrue(all(t.get("node", node) == node for t in r.body["tasks"]), r.body)
            for tid, owner in tids:
                self.assertEqual(tid in ids, owner == node, (tid, ids))

    def test_idempotency_key_reaches_the_same_host(self):
        for key in ("key-a", "key-b", "key-c"):
            with self.subTest(key=key):
                first, node = self.submit({"name": "i", "duration": 0}, {"Idempotency-Key": key})
                again, node2 = self.submit({"name": "i", "duration": 0}, {"Idempotency-Key": key})
                self.assertEqual((again, node2), (first, node))

    def test_records_of_an_older_version_resolve(self):
        n1 = self.nodes["n1"]
        r = n1.get("/api/tasks/" + LEGACY_ID, AUTH)             # its host knows it
        self.assertEqual((r.status, r.body.get("id"), r.body.get("state")), (200, LEGACY_ID, "succeeded"), r)
        self.assertNotIn("node", r.body)
        self.assertError(self.proxy("GET", "/api/tasks/" + LEGACY_ID), 404, "without a node")


class HostDown(Cluster):
    """n2 stops: its tasks' requests answer 502, new tasks go to n1."""

    def test_host_down(self):
        placed = {}
        for i in range(4):
            tid, node = self.submit({"name": "d%d" % i, "duration": 0})
            placed.setdefault(node, tid)
        self.assertEqual(set(placed), {"n1", "n2"}, placed)
        n2_task = placed["n2"]
        self.record(n2_task, wait=int(scaled(30)))
        self.stop_node(self.nodes["n2"])
        for method, path in (("GET", "/api/tasks/" + n2_task), ("GET", "/api/tasks/%s/logs" % n2_task),
                             ("GET", "/api/tasks/%s?wait=5" % n2_task), ("DELETE", "/api/tasks/" + n2_task),
                             ("GET", "/nodes/n2/healthz")):
            with self.subTest(method=method, path=path):
                self.assertError(self.proxy(method, path), 502, "did not answer")
        for i in range(4):
            tid, node = self.submit({"name": "after%d" % i, "command": ["/bin/echo", "ok"]})
            self.assertEqual(node, "n1", tid)
            self.assertEqual(self.record(tid, wait=int(scaled(30)))["state"], "succeeded")
        self.assertEqual(self.record(placed["n1"])["node"], "n1")


if __name__ == "__main__":
    if not NGINX:
        print("SKIPPED: nginx not installed")
        sys.exit(77)
    harness.main()
