"""test_install.py — what an operator installs and checks before starting
(issue 9 §2):

- `jobcelld --check-config`: a good configuration exits 0 and starts
  nothing; a configuration with several mistakes exits 2 and names every
  one of them (not just the first), and creates no state directory, no
  cgroup and no listening socket while at it.
"""

import json
import os
import shutil
import socket
import subprocess
import tempfile
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
        path = self.write_config({"max_running": 0, "log_level": "loud", "no_such_key": 1})
        missing = os.path.join(self.tmp, "no-rootfs")
        rc, out = run_check("--config", path, "--rootfs", missing, *self.common())
        self.assertEqual(rc, 2, out)
        for what in ("max_running", "loud", "no_such_key", missing):
            self.assertIn(what, out, "problem %r not listed" % what)
        self.assertIn("4 problems", out)
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


if __name__ == "__main__":
    harness.main()
