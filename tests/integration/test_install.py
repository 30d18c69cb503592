"""test_install.py — what an operator installs and checks before starting
(issue 9 §2):

- `jobcelld --check-config`: a good configuration exits 0 and starts
  nothing; a configuration with several mistakes exits 2 and names every
  one of them (not just the first), and creates no state directory, no
  cgroup and no listening socket while at it;
- `meson install --destdir`: every file an operator needs is installed
  (daemon, rootfs, policies, unit, sysusers.d, tmpfiles.d, sample config,
  man page); the man page renders without warnings; the unit passes
  `systemd-analyze verify` where that tool exists;
- an install into a real prefix (a build directory of its own): the
  installed daemon finds its rootfs and policies without flags and serves;
- readiness without systemd: NOTIFY_SOCKET names a datagram socket of the
  test's; READY=1 arrives once /healthz answers, STOPPING=1 at SIGTERM,
  WATCHDOG=1 when WATCHDOG_USEC is set.
"""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from harness import JOBCELLD, cgroup_bases, free_port, scaled, service_user


def run_check(*args):
    """jobcelld --check-config ARGS → (exit status, stdout + stderr)."""
    p = subprocess.run([JOBCELLD, "--check-config"] + list(args), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=scaled(60))
    return p.returncode, p.stdout.decode(errors="replace")


class CheckConfig(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="jobcell-check-")
        self.state = os.path.join(self.tmp, "state")
        self.cgroup = "jobcell-check-%d" % os.getpid()
        self.port = free_port()

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def common(self):
        return ["--state-dir", self.state, "--cgroup-name", self.cgroup,
                "--user", service_user(), "--listen", "127.0.0.1:%d" % self.port]

    def write_config(self, conf):
        path = os.path.join(self.tmp, "jobcell.json")
        with open(path, "w") as f:
            f.write(conf if isinstance(conf, str) else json.dumps(conf))
        return path

    def assert_touched_nothing(self):
        self.assertFalse(os.path.exists(self.state), "--check-config created the state directory")
        for base in cgroup_bases(self.cgroup).values():
            self.assertFalse(os.path.exists(base), "--check-config created cgroup %s" % base)
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", self.port))   # nobody listens there
        finally:
            s.close()

    def test_good_config_exits_0(self):
        path = self.write_config({"max_running": 8, "log_level": "debug", "records_sync": "full"})
        rc, out = run_check("--config", path, *self.common())
        self.assertEqual(rc, 0, out)
        self.assertIn("OK", out)
        self.assert_touched_nothing()

    def test_every_problem_is_listed(self):
        path = self.write_config({"max_running": 0, "log_level": "loud", "no_such_key": 1,
                                  "node": "Bad_Node"})
        missing = os.path.join(self.tmp, "no-rootfs")
        rc, out = run_check("--config", path, "--rootfs", missing, *self.common())
        self.assertEqual(rc, 2, out)
        for what in ("max_running", "loud", "no_such_key", "node: \"Bad_Node\"", missing):
            self.assertIn(what, out, "problem %r not listed" % what)
        self.assertIn("5 problems", out)
        self.assert_touched_nothing()

    def test_policies_token_and_user_are_checked(self):
        pol = os.path.join(self.tmp, "policy")
        os.mkdir(pol)
        with open(os.path.join(pol, "default.json"), "w") as f:
            f.write("{ not json")
        token = os.path.join(self.tmp, "token")
        with open(token, "w") as f:
            f.write("short")
        os.chmod(token, 0o644)
        args = self.common()
        args[args.index("--user") + 1] = "no-such-user-jc"
        rc, out = run_check("--policy-dir", pol, "--token-file", token, *args)
        self.assertEqual(rc, 2, out)
        for what in ("seccomp policy", "--token-file", "no-such-user-jc"):
            self.assertIn(what, out, "problem %r not listed" % what)
        self.assertIn("3 problems", out)

    def test_unparsable_config_file(self):
        path = self.write_config("{ \"max_running\": ")
        rc, out = run_check("--config", path, *self.common())
        self.assertEqual(rc, 2, out)
        self.assertIn(path, out)


BUILD = os.path.dirname(os.path.dirname(JOBCELLD)) if JOBCELLD else ""


def options(build):
    out = subprocess.run(["meson", "introspect", build, "--buildoptions"], check=True,
                         stdout=subprocess.PIPE, timeout=scaled(120)).stdout
    return {o["name"]: o["value"] for o in json.loads(out)}


def installed_paths(o):
    """What an install must hold, relative to the root (absolute paths)."""
    def under(d):
        return d if d.startswith("/") else os.path.join(o["prefix"], d)
    share = os.path.join(under(o["datadir"]), "jobcell")
    units = "/lib/systemd/system" if o["prefix"] == "/usr" else \
        os.path.join(o["prefix"], "lib", "systemd", "system")
    return {
        "daemon": os.path.join(under(o["sbindir"]), "jobcelld"),
        "stub": os.path.join(under(o["libexecdir"]), "jobcell", "jobcell-spawn"),
        "init": os.path.join(share, "rootfs", "sbin", "jobcell-init"),
        "worker": os.path.join(share, "rootfs", "usr", "bin", "jobcell-worker"),
        "policy": os.path.join(share, "policy", "default.json"),
        "unit": os.path.join(units, "jobcelld.service"),
        "sysusers": os.path.join(o["prefix"], "lib", "sysusers.d", "jobcell.conf"),
        "tmpfiles": os.path.join(o["prefix"], "lib", "tmpfiles.d", "jobcell.conf"),
        "sample": os.path.join(under(o["sysconfdir"]), "jobcell", "jobcell.json.sample"),
        "man": os.path.join(under(o["mandir"]), "man8", "jobcelld.8"),
    }


def meson(*args, timeout=600):
    p = subprocess.run(["meson"] + list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=scaled(timeout))
    return p.returncode, p.stdout.decode(errors="replace")


class DestdirInstall(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dest = tempfile.mkdtemp(prefix="jobcell-destdir-")
        rc, out = meson("install", "-C", BUILD, "--no-rebuild", "--destdir", cls.dest)
        assert rc == 0, out
        cls.paths = installed_paths(options(BUILD))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dest, ignore_errors=True)

    def at(self, what):
        return self.dest + self.paths[what]

    def test_every_file_is_installed(self):
        for what in self.paths:
            self.assertTrue(os.path.isfile(self.at(what)), "%s: %s missing" % (what, self.at(what)))
        self.assertTrue(os.access(self.at("daemon"), os.X_OK))
        # The spawn stub: executable, and writable by no one but its owner
        # (the daemon refuses it otherwise).
        self.assertTrue(os.access(self.at("stub"), os.X_OK))
        self.assertEqual(os.stat(self.at("stub")).st_mode & 0o022, 0)
        with open(self.at("unit")) as f:
            unit = f.read()
        self.assertIn("ExecStart=%s --config" % self.paths["daemon"], unit)
        for d in ("Delegate=yes", "KillMode=mixed", "Restart=on-failure"):
            self.assertIn(d, unit)
        with open(self.at("sysusers")) as f:
            self.assertRegex(f.read(), r"(?m)^u jobcell ")
        with open(self.at("tmpfiles")) as f:
            self.assertRegex(f.read(), r"(?m)^d /var/lib/jobcell 0755 root root")

    def test_man_page_renders_without_warnings(self):
        if not shutil.which("groff"):
            raise unittest.SkipTest("groff is not installed")
        p = subprocess.run(["groff", "-mdoc", "-ww", "-z", self.at("man")], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=scaled(60))
        self.assertEqual((p.returncode, p.stdout), (0, b""))
        for flag in ("--check-config", "--config", "--listen", "--token-file", "--rootfs",
                     "--policy-dir", "--state-dir", "--user", "--cgroup-name", "--node", "--log-level"):
            self.assertIn("Fl " + flag[1:].replace("-", "\\-"), open(self.at("man")).read(), flag)

    def test_sample_config_passes_check_config(self):
        rc, out = run_check("--config", self.at("sample"), "--user", service_user(),
                            "--state-dir", os.path.join(self.dest, "state"))
        self.assertEqual(rc, 0, out)


class PrefixInstall(unittest.TestCase):
    """A build directory of its own, configured with --prefix, installed."""

    def setUp(self):
        self.prefix = tempfile.mkdtemp(prefix="jobcell-prefix-")
        os.chmod(self.prefix, 0o755)
        self.build = tempfile.mkdtemp(prefix="jobcell-pbuild-")

    def tearDown(self):
        shutil.rmtree(self.build, ignore_errors=True)
        shutil.rmtree(self.prefix, ignore_errors=True)

    def test_installed_daemon_serves_without_paths(self):
        src = harness.SRC
        rc, out = meson("setup", "--prefix", self.prefix, self.build, src)
        self.assertEqual(rc, 0, out)
        rc, out = meson("install", "-C", self.build, timeout=1800)
        self.assertEqual(rc, 0, out[-3000:])
        paths = installed_paths(options(self.build))
        exe = paths["daemon"]
        rc, out = run_check_with(exe, "--user", service_user(),
                                 "--state-dir", os.path.join(self.prefix, "state"))
        self.assertEqual(rc, 0, out)
        self.assertIn(os.path.join(self.prefix, "share", "jobcell", "rootfs"), out)
        with InstalledDaemon(exe) as d:
            self.assertEqual(d.health.get("rootfs"),
                             os.path.join(self.prefix, "share", "jobcell", "rootfs"))
            rec, logs = d.sh("echo installed-hi")
            self.assertEqual(rec["state"], "succeeded", rec)
            self.assertIn("installed-hi", logs)
        self.verify_unit(paths["unit"], os.path.dirname(os.path.dirname(paths["man"])))

    def verify_unit(self, unit, mandir):
        tool = shutil.which("systemd-analyze")
        if not tool:
            print("SKIPPED (part): systemd-analyze is not installed")
            return
        # Documentation=man:jobcelld(8) is looked up with man(1): in the prefix.
        p = subprocess.run([tool, "verify", unit], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=scaled(60),
                           env=dict(os.environ, MANPATH=mandir))
        out = p.stdout.decode(errors="replace")
        print("\n  systemd-analyze verify: rc %d %s" % (p.returncode, out.strip()))
        self.assertNotIn("jobcelld.service:", out)   # no complaint about our unit's lines


def run_check_with(exe, *args):
    p = subprocess.run([exe, "--check-config"] + list(args), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=scaled(60))
    return p.returncode, p.stdout.decode(errors="replace")


class Notify(unittest.TestCase):
    """What a unit of Type=notify would be told (sd_notify(3))."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="jobcell-notify-")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.msgs = []           # (message, /healthz status seen right after READY=1)
        self.done = threading.Event()
        self.daemon_ = None
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
                data = self.sock.recv(4096).decode()
            except socket.timeout:
                continue
            health = None
            if "READY=1" in data.split("\n"):
                r = harness.http_request(self.daemon_.port, "GET", "/healthz", timeout=scaled(10))
                health = r.status
            self.msgs.append((data, health))

    def lines(self):
        return [l for m, _ in self.msgs for l in m.split("\n")]

    def wait_for(self, line, timeout):
        deadline = time.monotonic() + scaled(timeout)
        while line not in self.lines() and time.monotonic() < deadline:
            time.sleep(0.05)
        return line in self.lines()

    def test_ready_after_serving_stopping_at_sigterm(self):
        self.daemon_ = harness.Daemon(env={"NOTIFY_SOCKET": self.path})
        with self.daemon_ as d:
            self.assertTrue(self.wait_for("READY=1", 30), self.msgs)
            ready = [h for m, h in self.msgs if "READY=1" in m.split("\n")]
            self.assertEqual(ready, [200], "READY=1 sent once, when /healthz answers")
            self.assertFalse(any(l.startswith("WATCHDOG") for l in self.lines()),
                             "a watchdog ping without WATCHDOG_USEC")
            self.assertNotIn("STOPPING=1", self.lines())
        self.assertTrue(self.wait_for("STOPPING=1", 10), self.msgs)
        lines = self.lines()
        self.assertLess(lines.index("READY=1"), lines.index("STOPPING=1"))
        self.assertTrue(any(l.startswith("STATUS=") for l in lines), lines)

    def test_watchdog_pings(self):
        self.daemon_ = harness.Daemon(env={"NOTIFY_SOCKET": self.path, "WATCHDOG_USEC": "400000"})
        with self.daemon_:
            # Every 0.2 s while it runs: three of them, however slow the machine.
            deadline = time.monotonic() + scaled(60)
            while self.lines().count("WATCHDOG=1") < 3 and time.monotonic() < deadline:
                time.sleep(0.1)
            self.assertGreaterEqual(self.lines().count("WATCHDOG=1"), 3, self.msgs)


class InstalledDaemon(harness.Daemon):
    """The harness's daemon (own port, state dir, cgroup name), another binary."""

    def __init__(self, exe, **kw):
        super().__init__(**kw)
        self.exe = exe

    def argv(self):
        a = super().argv()
        a[a.index(JOBCELLD)] = self.exe
        return a


if __name__ == "__main__":
    harness.main()
