"""test_metrics.py — GET /metrics: the counters move exactly with what the
daemon did (tasks ending in four ways, a queue wait, 404s, a 400, a 503),
the whole exposition passes `promtool check metrics`, a real Prometheus on
loopback scrapes it; and the access log and journald priority prefixes."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import DaemonTestCase, scaled

PROMTOOL = shutil.which("promtool")
PROMETHEUS = shutil.which("prometheus")
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$')


def parse(text):
    """Sample lines → {'name{labels}': float} (labels as written)."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def ended(state, reason):
    return 'jobcell_tasks_ended_total{state="%s",reason="%s"}' % (state, reason)


def http(method, route, code):
    return 'jobcell_http_requests_total{method="%s",route="%s",code="%d"}' % (method, route, code)


class Metrics(DaemonTestCase):
    daemon_kwargs = {"config": {"max_running": 1, "max_queued": 1, "access_log": "info"},
                     "env": {"JOURNAL_STREAM": "@log"}}

    def scrape(self):
        r = self.d.get("/metrics")
        self.assertEqual(r.status, 200, r)
        ctype = dict((k.lower(), v) for k, v in r.headers.items())["content-type"]
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
        text = r.raw.decode() if isinstance(r.raw, bytes) else r.raw
        return text, parse(text)

    def delta(self, before, after, key):
        return after.get(key, 0) - before.get(key, 0)

    def sleeper(self):
        return self.d.submit_ok(name="sleeper", command=["/bin/sleep", "60"])["id"]

    def cancel(self, tid):
        self.assertIn(self.d.delete("/api/tasks/" + tid).status, (200, 202))
        rec = self.d.wait_terminal(tid, timeout=scaled(30))
        self.assertRecordEnd(rec, "cancelled", "cancelled")

    def make_activity(self):
        self.assertRecordEnd(self.d.sh("exit 0")[0], "succeeded", "exited")
        self.assertRecordEnd(self.d.sh("exit 3")[0], "failed", "exited")
        rec, _ = self.d.run_command(["/bin/sleep", "60"], limits={"timeout_s": 1}, timeout=scaled(30))
        self.assertRecordEnd(rec, "failed", "timeout")
        a = self.sleeper()
        self.d.wait_running(a, timeout=scaled(30))
        b = self.sleeper()                       # queued behind a (max_running 1)
        self.assertEqual(self.d.task(b)["state"], "queued")
        full = self.d.post("/api/tasks", {"name": "c", "command": ["/bin/true"]})
        self.assertError(full, 503)              # the queue (max_queued 1) is full
        self.cancel(a)                           # b leaves the queue and runs
        self.d.wait_running(b, timeout=scaled(30))
        self.cancel(b)
        self.assertError(self.d.get("/api/tasks/0123456789abcdef"), 404)
        self.assertError(self.d.get("/no/such/route"), 404)
        self.assertError(self.d.post("/api/tasks", {"name": 5}), 400)

    def test_counters_exact_promtool_prometheus(self):
        _, m0 = self.scrape()
        self.make_activity()
        text, m1 = self.scrape()
        want = {
            "jobcell_tasks_started_total": 5,      # exit 0, exit 3, timeout, a, b
            ended("succeeded", "exited"): 1,
            ended("failed", "exited"): 1,
            ended("failed", "timeout"): 1,
            ended("cancelled", "cancelled"): 2,
            "jobcell_task_spawn_latency_seconds_count": 5,
            "jobcell_queue_wait_seconds_count": 1,  # b
            http("POST", "/api/tasks", 202): 5,
            http("POST", "/api/tasks", 503): 1,
            http("POST", "/api/tasks", 400): 1,
            http("GET", "/api/tasks/{id}", 404): 1,
            http("other", "unmatched", 404): 1,
            http("GET", "/metrics", 200): 1,       # the first scrape
        }
        got = {k: self.delta(m0, m1, k) for k in want}
        self.assertEqual(got, want, text)
        self.assertEqual(m1["jobcell_tasks_running"], 0)
        self.assertEqual(m1["jobcell_tasks_queued"], 0)
        self.assertEqual(m1["jobcell_warden_up"], 1)
        self.assertEqual(m1['jobcell_queue_wait_seconds_bucket{le="+Inf"}'],
                         m1["jobcell_queue_wait_seconds_count"])
        for name in re.findall(r"^# TYPE (\S+) ", text, re.M):
            self.assertTrue(name.startswith("jobcell_"), name)
            self.assertIn("# HELP %s " % name, text)
        self.assertNotRegex(text, r"[0-9a-f]{16}", "a task id in a label")
        self.promtool(text)
        self.prometheus()

    def promtool(self, text):
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=scaled(60))
        self.assertEqual(p.returncode, 0, p.stdout.decode() + text)

    def prometheus(self):
        tmp = tempfile.mkdtemp(prefix="jobcell-prom-")
        proc = None
        try:
            port = harness.free_port()
            cfg = os.path.join(tmp, "prometheus.yml")
            with open(cfg, "w") as f:
                f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                        "scrape_configs:\n  - job_name: jobcell\n"
                        "    static_configs:\n      - targets: ['127.0.0.1:%d']\n" % self.d.port)
            log = open(os.path.join(tmp, "prometheus.log"), "wb")
            proc = subprocess.Popen([PROMETHEUS, "--config.file", cfg,
                                     "--storage.tsdb.path", os.path.join(tmp, "data"),
                                     "--web.listen-address", "127.0.0.1:%d" % port],
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            log.close()
            self.assertEqual(self.query_until(port, proc), 5.0)
        finally:
            if proc:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            shutil.rmtree(tmp, ignore_errors=True)

    def query_until(self, port, proc):
        url = "http://127.0.0.1:%d/api/v1/query?%s" % (
            port, urllib.parse.urlencode({"query": "jobcell_tasks_started_total"}))
        deadline = time.monotonic() + scaled(120)
        last = None
        while time.monotonic() < deadline:
            self.assertIsNone(proc.poll(), "prometheus exited")
            try:
                with urllib.request.urlopen(url, timeout=scaled(5)) as r:
                    last = json.load(r)
                res = last["data"]["result"]
                if res:
                    return float(res[0]["value"][1])
            except OSError:
                pass
            time.sleep(0.5)
        self.fail("Prometheus never had jobcell_tasks_started_total: %r" % (last,))

    def test_access_log_and_journal_prefix(self):
        self.assertError(self.d.get("/api/tasks/0123456789abcdef"), 404)
        # The access line is written when libmicrohttpd completes the request,
        # which may be just after the client has read the answer.
        access = re.compile(r"(?m)^<6>\S+ info front: access: GET /api/tasks/\{id\} 404 \d+ms "
                            r"peer=127\.0\.0\.1$")
        deadline = time.monotonic() + scaled(10)
        while not access.search(self.d.log_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        log = self.d.log_text()
        self.assertRegex(log, access)
        lines = [ln for ln in log.splitlines() if ln]
        self.assertTrue(lines)
        for ln in lines:
            self.assertRegex(ln, r"^<[3467]>\d{4}-", "a line without a priority prefix")
        self.assertRegex(log, r"(?m)^<6>\S+ info ")


class MetricsToken(DaemonTestCase):
    """With a token, /metrics wants it like /api (docs/security.md)."""

    daemon_kwargs = {}

    @classmethod
    def setUpClass(cls):
        cls.tokdir = tempfile.mkdtemp(prefix="jobcell-tok-")
        path = os.path.join(cls.tokdir, "token")
        with open(path, "w") as f:
            f.write("s3cret-metrics-token-0123456789\n")
        os.chmod(path, 0o600)
        cls.daemon_kwargs = {"config": {"token_file": path}}
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.tokdir, ignore_errors=True)

    def test_metrics_needs_token(self):
        self.assertEqual(self.d.get("/metrics").status, 401)
        r = self.d.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics-token-0123456789"})
        self.assertEqual(r.status, 200)
        self.assertIn("jobcell_tasks_started_total", r.raw.decode())
        self.assertEqual(self.d.get("/healthz").status, 200)


if __name__ == "__main__":
    if not (PROMTOOL and PROMETHEUS):
        print("SKIPPED: promtool or prometheus missing (Debian package prometheus)")
        sys.exit(77)
    harness.main()
