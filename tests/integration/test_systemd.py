"""test_systemd.py — jobcelld.service under a real systemd as PID 1 (issue 9
§2), the way an operator runs it: `meson install` of the build, the
installed unit, sysusers.d and tmpfiles.d entries, `systemctl`, `journalctl`.

Runs only in the throwaway VM of `tests/vm/run.sh --systemd` (it installs
into the guest's / and starts the system's jobcelld.service): elsewhere it
prints "SKIPPED: ..." and exits 77.  The steps run in order, one service:

- start: `systemctl start` returns once the daemon serves (Type=notify,
  READY=1): the first request right after it is answered, no retry;
- delegation and isolation under the hardened unit: a task's cgroup is in
  the unit's delegated subtree, the daemon's own processes in its
  `supervisor` leaf; the task has namespaces of its own (not the host's,
  not the daemon's), its own hostname, seccomp, no_new_privs, a read-only /;
- reload: `systemctl reload` (SIGHUP) refuses a bad token file (an error
  in the journal, the old token stays), replaces the token with a good one
  (new accepted, old refused) and warns about a key that needs a restart;
  same MainPID, the running task untouched;
- restart: a new MainPID; running tasks drained (succeeded, not
  cancelled), the queued task runs after the start, finished records kept;
- `kill -9` of the front: the daemon exits non-zero and systemd starts it
  again (Restart=on-failure);
- stop: drains, Result=success, status 0, no process or cgroup left;
- journald: the daemon's lines carry their levels (PRIORITY 6, 4 and 3);
- `systemd-analyze security` of the unit is printed (docs/operations.md
  records it).
"""

import json
import os
import re
import signal
import subprocess
import tempfile
import time
import unittest

import harness
from harness import http_request, scaled
from test_install import installed_paths, meson

UNIT = "jobcelld.service"
TOKEN_OLD = "old-token-0123456789abcdef"
TOKEN_NEW = "new-token-fedcba9876543210"
BUILD = os.path.dirname(os.path.dirname(harness.JOBCELLD)) if harness.JOBCELLD else ""
NAMESPACES = ("user", "pid", "mnt", "uts", "ipc", "net", "cgroup")


def skip_reason():
    why = harness.skip_reason()
    if why:
        return why
    try:
        pid1 = harness.read_text("/proc/1/comm")
    except OSError:
        pid1 = "?"
    if pid1 != "systemd" or not os.path.isdir("/run/systemd/system"):
        return "not under systemd as PID 1 (PID 1 is %s)" % pid1
    if os.environ.get("JOBCELL_VM_SYSTEMD") != "1":
        return ("it installs jobcell into / and starts %s: only in the throwaway VM of "
                "tests/vm/run.sh --systemd (JOBCELL_VM_SYSTEMD=1)" % UNIT)
    return None


def run(*argv, timeout=120, check=True):
    p = subprocess.run(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=scaled(timeout))
    out = p.stdout.decode(errors="replace")
    if check and p.returncode != 0:
        raise AssertionError("%s: exit %d\n%s" % (" ".join(argv), p.returncode, out))
    return p.returncode, out


def show(*props):
    """systemctl show -p ... of the unit → {property: value}."""
    args = ["systemctl", "show", UNIT]
    for p in props:
        args += ["-p", p]
    _, out = run(*args)
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def main_pid():
    return int(show("MainPID")["MainPID"])


def wait_until(what, cond, timeout=60):
    """Poll cond() until true (an event, not a timing: the bound is generous)."""
    deadline = time.monotonic() + scaled(timeout)
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("%s: not within %.0f s" % (what, scaled(timeout)))
        time.sleep(0.1)


def cgroup_of(pid):
    with open("/proc/%d/cgroup" % pid) as f:
        return f.read().strip().split("::", 1)[1]


def proc_status(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)


def procs_running(exe):
    """Pids of live processes (not zombies) whose executable is exe."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit() and harness.proc_alive(int(name)) and \
                harness.proc_exe(int(name)) == exe:
            out.append(int(name))
    return out


def journal(since_cursor=None):
    args = ["journalctl", "-u", UNIT, "-o", "json", "--no-pager"]
    if since_cursor:
        args += ["--after-cursor", since_cursor]
    _, out = run(*args)
    return [json.loads(l) for l in out.splitlines() if l.startswith("{")]


def message(entry):
    m = entry.get("MESSAGE", "")
    return bytes(m).decode(errors="replace") if isinstance(m, list) else m


class SystemdService(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        t0 = time.monotonic()
        # The options meson wrote at configure time (no `meson introspect`:
        # under TCG each meson start costs seconds).
        with open(os.path.join(BUILD, "meson-info", "intro-buildoptions.json")) as f:
            cls.paths = installed_paths({o["name"]: o["value"] for o in json.load(f)})
        # As a package would: `meson install --destdir`, then its files into
        # /.  JOBCELL_TEST_DESTDIR is one made beforehand from this build
        # (CI makes it on the host: meson install is ~30x slower under TCG).
        dest = os.environ.get("JOBCELL_TEST_DESTDIR")
        if not dest:
            dest = tempfile.mkdtemp(prefix="jobcell-destdir-")
            rc, out = meson("install", "-C", BUILD, "--no-rebuild", "--quiet",
                            "--destdir", dest, timeout=900)
            assert rc == 0, out[-3000:]
        assert os.path.isfile(dest + cls.paths["unit"]), "no unit in " + dest
        # tar, not cp -a or shutil.copytree: from 9p onto the overlay root
        # those take minutes of system time under TCG, tar seconds.  Existing
        # directories (and symlinks to them, /lib) keep their metadata.
        tops = sorted(os.listdir(dest))
        pack = subprocess.Popen(["tar", "-C", dest, "-cf", "-"] + tops, stdout=subprocess.PIPE)
        run_in = subprocess.run(["tar", "-C", "/", "--no-overwrite-dir", "--keep-directory-symlink",
                                 "-xf", "-"], stdin=pack.stdout, timeout=scaled(300))
        pack.stdout.close()
        assert pack.wait(timeout=scaled(60)) == 0 and run_in.returncode == 0, "tar of " + dest
        print("\n  installed from %s in %.1f s" % (dest, time.monotonic() - t0))
        cls.exe = cls.paths["daemon"]
        run("systemd-sysusers", cls.paths["sysusers"])
        run("systemd-tmpfiles", "--create", cls.paths["tmpfiles"])
        etc = os.path.dirname(cls.paths["sample"])
        cls.token_file = os.path.join(etc, "token")
        cls.write_token(TOKEN_OLD)
        cls.port = harness.free_port()
        cls.config_path = os.path.join(etc, "jobcell.json")
        cls.write_config()
        cls.token = TOKEN_OLD
        run("systemctl", "daemon-reload")
        cls.ids = {}

    @classmethod
    def tearDownClass(cls):
        run("systemctl", "stop", UNIT, check=False, timeout=300)
        run("systemctl", "reset-failed", UNIT, check=False)

    def setUp(self):
        self.t0 = time.monotonic()

    def tearDown(self):
        print("\n  %s: %.1f s" % (self.id().rsplit(".", 1)[1], time.monotonic() - self.t0))

    @classmethod
    def write_config(cls, **more):
        with open(cls.paths["sample"]) as f:
            conf = json.load(f)
        conf.update({"listen": "127.0.0.1:%d" % cls.port, "token_file": cls.token_file,
                     "max_running": 4, "stop_grace_s": 60}, **more)
        with open(cls.config_path, "w") as f:
            json.dump(conf, f)

    @classmethod
    def write_token(cls, token, mode=0o600):
        tmp = cls.token_file + ".new"
        with open(tmp, "w") as f:
            f.write(token + "\n")
        os.chmod(tmp, mode)
        os.rename(tmp, cls.token_file)

    # ---- HTTP ------------------------------------------------------------

    def api(self, method, path, body=None, token=None):
        hdrs = {"Authorization": "Bearer " + (token or self.token),
                "Content-Type": "application/json"}
        return http_request(self.port, method, path, body, hdrs, timeout=scaled(30))

    def submit(self, script, name="t", **limits):
        body = {"name": name, "command": ["/bin/sh", "-c", script]}
        if limits:
            body["limits"] = limits
        r = self.api("POST", "/api/tasks", body)
        self.assertEqual(r.status, 202, r)
        return r.body

    def record(self, task_id):
        r = self.api("GET", "/api/tasks/" + task_id)
        self.assertEqual(r.status, 200, r)
        return r.body

    def wait_state(self, task_id, states, timeout=60):
        return wait_until("task %s in %s" % (task_id, states),
                          lambda: (lambda rec: rec if rec["state"] in states else None)(
                              self.record(task_id)), timeout)

    def logs(self, task_id):
        r = self.api("GET", "/api/tasks/%s/logs" % task_id)
        self.assertEqual(r.status, 200, r)
        return r.raw.decode(errors="replace")

    def assert_serving(self):
        st = show("ActiveState", "SubState")
        self.assertEqual((st["ActiveState"], st["SubState"]), ("active", "running"), st)

    # ---- the steps, in order --------------------------------------------

    def test_1_start_returns_once_serving(self):
        run("systemctl", "start", UNIT, timeout=300)
        # No retry: READY=1 came only once the front answers.
        r = http_request(self.port, "GET", "/healthz", timeout=scaled(30))
        self.assertEqual(r.status, 200, r)
        r = self.api("GET", "/api/tasks")
        self.assertEqual(r.status, 200, r)
        self.assert_serving()
        st = show("StatusText", "Type", "NotifyAccess")
        print("\n  status: %s" % st)
        self.assertEqual(st["Type"], "notify")
        self.assertTrue(st["StatusText"], st)

    def test_2_tasks_in_delegated_subtree_isolated(self):
        unit_cg = show("ControlGroup")["ControlGroup"]
        self.assertTrue(unit_cg.endswith("/" + UNIT), unit_cg)
        self.assertEqual(show("Delegate")["Delegate"], "yes")
        sleeper = self.submit("sleep 600", name="sleeper")
        self.ids["sleeper"] = sleeper
        pid = sleeper["pid"]
        self.assertEqual(cgroup_of(pid), "%s/tasks/%s" % (unit_cg, sleeper["id"]))
        warden = main_pid()
        self.assertEqual(cgroup_of(warden), unit_cg + "/supervisor")
        procs = harness.read_pids("/sys/fs/cgroup%s/supervisor/cgroup.procs" % unit_cg)
        self.assertEqual(len(procs), 2, procs)   # the warden and the front
        self.assertIn(warden, procs)
        # Isolation under the unit's hardening, from inside the task.
        script = "hostname; " + "; ".join("readlink /proc/self/ns/%s" % n for n in NAMESPACES) + \
            "; grep -E '^(Seccomp|NoNewPrivs|CapEff):' /proc/self/status" + \
            "; if touch /probe 2>/dev/null; then echo rootfs-writable; else echo rootfs-ro; fi"
        t = self.submit(script, name="isolation")
        self.ids["isolation"] = t
        rec = self.wait_state(t["id"], harness.TERMINAL)
        logs = self.logs(t["id"])
        self.assertEqual(rec["state"], "succeeded", (rec, logs))
        lines = logs.splitlines()
        self.assertNotIn(lines[0], ("jobcell-vm", ""), logs)
        for n, link in zip(NAMESPACES, lines[1:8]):
            self.assertRegex(link, r"^%s:\[\d+\]$" % n, logs)
            self.assertNotEqual(link, os.readlink("/proc/1/ns/" + n), "%s: the host's" % n)
            self.assertNotEqual(link, os.readlink("/proc/%d/ns/%s" % (warden, n)),
                                "%s: the daemon's" % n)
        self.assertIn("Seccomp:\t2", logs)
        self.assertIn("NoNewPrivs:\t1", logs)
        self.assertIn("rootfs-ro", logs)
        host = proc_status(pid)   # the sleeper's init, seen from the host
        self.assertGreaterEqual(int(host["Uid"].split()[0]), 1000000, host["Uid"])
        self.assertEqual(host["Seccomp"], "2")

    def test_3_reload(self):
        pid_before = main_pid()
        sleeper = self.ids["sleeper"]
        cursor = journal()[-1]["__CURSOR"]
        # A bad token file (world-readable): the whole reload is refused.
        self.write_token(TOKEN_NEW, mode=0o644)
        run("systemctl", "reload", UNIT)
        refused = wait_until("the refused reload in the journal", lambda: [
            e for e in journal(cursor) if "SIGHUP: reload refused" in message(e)])
        self.assertEqual(refused[0]["PRIORITY"], "3", refused)
        self.assertEqual(self.api("GET", "/api/tasks", token=TOKEN_OLD).status, 200)
        self.assertEqual(self.api("GET", "/api/tasks", token=TOKEN_NEW).status, 401)
        # A good one, and a key that needs a restart (a warning, kept).
        cursor = journal()[-1]["__CURSOR"]
        self.write_token(TOKEN_NEW)
        self.write_config(http_threads=3)
        run("systemctl", "reload", UNIT)
        wait_until("the reload done", lambda: [
            e for e in journal(cursor) if "SIGHUP: reload done" in message(e)])
        kept = [e for e in journal(cursor) if "http_threads changed: needs a restart" in message(e)]
        self.assertEqual([e["PRIORITY"] for e in kept], ["4"], kept)
        self.assertEqual(self.api("GET", "/api/tasks", token=TOKEN_NEW).status, 200)
        type(self).token = TOKEN_NEW
        self.assertEqual(self.api("GET", "/api/tasks", token=TOKEN_OLD).status, 401)
        wait_until("active/running after the reload",
                   lambda: show("ActiveState", "SubState") ==
                   {"ActiveState": "active", "SubState": "running"})
        self.assertEqual(main_pid(), pid_before)
        rec = self.record(sleeper["id"])
        self.assertEqual((rec["state"], rec["pid"]), ("running", sleeper["pid"]), rec)
        self.assertTrue(harness.proc_alive(sleeper["pid"]))

    def test_4_restart_drains_and_keeps_the_queue(self):
        r = self.api("DELETE", "/api/tasks/" + self.ids["sleeper"]["id"])
        self.assertIn(r.status, (200, 202), r)
        self.wait_state(self.ids["sleeper"]["id"], harness.TERMINAL)
        pid_before = main_pid()
        # Long enough that all four still run when the fifth comes (it
        # queues: max_running 4), short enough for the drain of the restart.
        running = [self.submit("sleep 10; echo drained", name="drain-%d" % i) for i in range(4)]
        queued = self.submit("echo after-restart", name="queued")
        self.assertEqual(queued.get("status"), "queued", queued)
        run("systemctl", "restart", UNIT, timeout=300)
        self.assertNotEqual(main_pid(), pid_before)
        self.assert_serving()
        for t in running:
            rec = self.record(t["id"])
            self.assertEqual(rec["state"], "succeeded", rec)
            self.assertIn("drained", self.logs(t["id"]))
        rec = self.wait_state(queued["id"], harness.TERMINAL)
        self.assertEqual(rec["state"], "succeeded", rec)
        self.assertIn("after-restart", self.logs(queued["id"]))
        self.assertEqual(self.record(self.ids["isolation"]["id"])["state"], "succeeded")

    def test_5_killed_front_is_restarted(self):
        warden = main_pid()
        before = int(show("NRestarts")["NRestarts"])
        unit_cg = show("ControlGroup")["ControlGroup"]
        front = [p for p in harness.read_pids("/sys/fs/cgroup%s/supervisor/cgroup.procs" % unit_cg)
                 if p != warden]
        self.assertEqual(len(front), 1, front)
        os.kill(front[0], signal.SIGKILL)
        wait_until("restarted by systemd",
                   lambda: int(show("NRestarts")["NRestarts"]) > before and
                   show("ActiveState", "SubState") ==
                   {"ActiveState": "active", "SubState": "running"}, timeout=120)
        self.assertNotEqual(main_pid(), warden)
        self.assertFalse(harness.proc_alive(warden))
        self.assertEqual(self.api("GET", "/api/tasks/" + self.ids["isolation"]["id"]).status, 200)

    def test_6_stop_drains_and_leaves_nothing(self):
        t = self.submit("sleep 2; echo drained-at-stop", name="at-stop")
        unit_cg = show("ControlGroup")["ControlGroup"]
        run("systemctl", "stop", UNIT, timeout=300)
        st = show("ActiveState", "Result", "ExecMainStatus")
        self.assertEqual(st, {"ActiveState": "inactive", "Result": "success",
                              "ExecMainStatus": "0"})
        self.assertEqual(procs_running(self.exe), [])
        self.assertFalse(harness.proc_alive(t["pid"]))
        self.assertFalse(os.path.exists("/sys/fs/cgroup" + unit_cg), unit_cg)
        # The drained task's record, read by the next start.
        run("systemctl", "start", UNIT, timeout=300)
        rec = self.record(t["id"])
        self.assertEqual(rec["state"], "succeeded", rec)
        self.assertIn("drained-at-stop", self.logs(t["id"]))

    def test_7_journal_has_levels(self):
        entries = [e for e in journal() if e.get("SYSLOG_IDENTIFIER") == "jobcelld"]
        prios = {}
        for e in entries:
            prios.setdefault(e.get("PRIORITY"), message(e))
        print("\n  priorities: %s" % sorted(prios))
        self.assertIn("6", prios, prios)
        self.assertIn("4", prios, prios)   # a key that needs a restart (test_3)
        self.assertIn("3", prios, prios)   # the refused reload (test_3), the front's death
        for e in entries:
            self.assertFalse(re.match(r"^<\d>", message(e)), "a raw priority prefix: %r" % e)

    def test_8_security_score(self):
        _, out = run("systemd-analyze", "security", "--no-pager", UNIT, check=False)
        score = [l for l in out.splitlines() if "Overall exposure level" in l]
        print("\n  systemd-analyze security: %s" % (score or out[-500:]))
        self.assertTrue(score, out[-2000:])


if __name__ == "__main__":
    why = skip_reason()
    if why:
        print("SKIPPED: " + why)
        raise SystemExit(77)
    unittest.main(verbosity=2, failfast=True)
