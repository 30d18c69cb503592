"""test_access.py — the API's own defences: the bearer token (file mode,
401 + WWW-Authenticate, constant answer for wrong tokens), refusal of a
non-loopback listener without a token, the unix-socket listener with its
file mode and peer-credential check, and the bounded header size."""

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import Daemon, JOBCELLD, scaled

TOKEN = "s3cret-token-0123456789abcdef"


def write_token(mode, text=TOKEN + "\n"):
    d = tempfile.mkdtemp(prefix="jobcell-token-")
    atexit.register(shutil.rmtree, d, True)
    path = os.path.join(d, "token")
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def run_fail(*args):
    """Start jobcelld with args; it must exit non-zero at start-up."""
    state = tempfile.mkdtemp(prefix="jobcell-state-")
    try:
        p = subprocess.run([JOBCELLD, "--state-dir", state, "--cgroup-name",
                            "jobcell-test-access-%d" % os.getpid(), *args],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=scaled(20))
        return p.returncode, p.stdout + p.stderr
    finally:
        subprocess.run(["rm", "-rf", state])


class Token(harness.DaemonTestCase):
    token_path = write_token(0o600)
    daemon_kwargs = {"extra_args": ["--token-file", token_path]}

    def auth(self, token=TOKEN):
        return {"Authorization": "Bearer " + token}

    def test_missing_token_is_401(self):
        r = self.d.get("/api/tasks")
        self.assertError(r, 401, "bearer")
        self.assertEqual(r.headers.get("WWW-Authenticate"), 'Bearer realm="jobcell"')

    def test_wrong_tokens_are_401(self):
        for t in ("", TOKEN[:-1], TOKEN + "x", TOKEN.upper(), "x" * len(TOKEN)):
            with self.subTest(token=t):
                self.assertError(self.d.get("/api/tasks", headers=self.auth(t)), 401)
        self.assertError(self.d.get("/api/tasks", headers={"Authorization": "Basic " + TOKEN}), 401)

    def test_every_api_route_is_guarded(self):
        fake = "00000000-0000-4000-8000-000000000000"
        for method, path in (("POST", "/api/tasks"), ("GET", "/api/tasks/" + fake),
                             ("DELETE", "/api/tasks/" + fake), ("GET", "/api/tasks/%s/logs" % fake),
                             ("GET", "/api/nothing")):
            with self.subTest(route=path, method=method):
                r = self.d.request(method, path, body={"name": "x"} if method == "POST" else None)
                self.assertEqual(r.status, 401, r)

    def test_right_token_works(self):
        r = self.d.post("/api/tasks", {"name": "auth", "duration": 0}, headers=self.auth())
        self.assertEqual(r.status, 202, r)
        self.assertEqual(self.d.get("/api/tasks/" + r.body["id"], headers=self.auth()).status, 200)

    def test_route_is_checked_before_content_type(self):
        """A POST to the wrong place says so, whatever its Content-Type."""
        plain = {"Content-Type": "text/plain"}
        r = self.d.post("/healthz", "x", headers=plain)
        self.assertError(r, 405, "method")
        self.assertEqual(r.headers.get("Allow"), "GET")
        self.assertError(self.d.post("/nope", "x", headers=plain), 404, "route")
        r = self.d.post("/api/tasks", "x", headers=dict(plain, **self.auth()))
        self.assertError(r, 415, "application/json")

    def test_healthz_stays_open(self):
        self.assertEqual(self.d.get("/healthz").status, 200)

    def test_header_size_is_bounded(self):
        r = self.d.get("/healthz", headers={"X-Big": "a" * 100000})
        self.assertIn(r.status, (413, 431, 400), r)
        self.assertEqual(self.d.get("/healthz").status, 200)   # still serving


class Capacity(harness.DaemonTestCase):
    """At max_running, a task's end frees its place for the very next POST:
    the front hears of an end only after the warden freed the task's slot."""
    daemon_kwargs = {"config": {"max_running": 1}}

    def test_back_to_back_at_capacity(self):
        for i in range(30):
            r = self.d.post("/api/tasks", {"name": "cap-%d" % i, "command": ["/bin/true"]})
            self.assertEqual(r.status, 202, "submission %d: %r" % (i, r))
            self.d.wait_terminal(r.body["id"], timeout=scaled(20))


def memory_contains(pid, needle):
    """Whether any readable mapping of process pid holds the bytes needle."""
    found = False
    with open("/proc/%d/maps" % pid) as maps, open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            addr, perms = line.split()[:2]
            if "r" not in perms:
                continue
            lo, hi = (int(x, 16) for x in addr.split("-"))
            if hi - lo > 1 << 30:   # sanitizer shadow reservations: not data
                continue
            tail = b""
            for off in range(lo, hi, 1 << 20):
                try:
                    mem.seek(off)
                    chunk = tail + mem.read(min(1 << 20, hi - off))
                except (OSError, OverflowError, ValueError):
                    break
                if needle in chunk:
                    return True
                tail = chunk[-len(needle):]
    return found


class TokenMemory(harness.DaemonTestCase):
    """The token is the front's secret: the warden wipes its copy."""
    token_path = write_token(0o600)
    daemon_kwargs = {"extra_args": ["--token-file", token_path]}

    def test_only_the_front_holds_the_token(self):
        pids = self.d.daemon_pids()
        self.assertEqual(len(pids), 2, pids)
        warden = self.d.proc.pid
        front = [p for p in pids if p != warden][0]
        self.assertTrue(memory_contains(front, TOKEN.encode()), "positive control: front")
        self.assertFalse(memory_contains(warden, TOKEN.encode()), "the warden still holds the token")


class Connections(harness.DaemonTestCase):
    """Connections per client address and idle connections are bounded."""
    daemon_kwargs = {"config": {"per_ip_connections": 4, "conn_timeout_s": 2}}

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.d.port), timeout=scaled(10))
        return s

    def closed_by_server(self, s, wait):
        s.settimeout(wait)
        try:
            return s.recv(1) == b""
        except (socket.timeout, TimeoutError):
            return False
        except ConnectionResetError:
            return True

    @staticmethod
    def closed_now(s):
        s.setblocking(False)
        try:
            return s.recv(1, socket.MSG_PEEK) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    def test_per_ip_limit(self):
        """Never more than per_ip_connections open from one address (which
        one makes way: test_availability.py::Shares)."""
        held = [self.connect() for _ in range(5)]
        try:
            deadline = harness.time.monotonic() + scaled(5)
            while not any(self.closed_now(s) for s in held) and harness.time.monotonic() < deadline:
                harness.time.sleep(0.02)
            still_open = [s for s in held if not self.closed_now(s)]
            self.assertLessEqual(len(still_open), 4, "5 connections from one address, 4 allowed")
        finally:
            for s in held:
                s.close()
        harness.time.sleep(0.2)
        self.assertEqual(self.d.get("/healthz").status, 200)   # serving again

    def test_slow_client_is_dropped(self):
        s = self.connect()
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")   # never finishes its headers
        self.assertTrue(self.closed_by_server(s, scaled(10)), "slow connection was kept open")
        s.close()


class PlantedLog(harness.DaemonTestCase):
    """The warden creates a task's log only with O_EXCL|O_NOFOLLOW: a
    symlink planted in the logs directory (which the unprivileged front
    owns) never makes root write elsewhere."""

    def test_symlink_in_logs_dir_is_not_followed(self):
        target_dir = tempfile.mkdtemp(prefix="jobcell-target-")
        atexit.register(shutil.rmtree, target_dir, True)
        target = os.path.join(target_dir, "victim")
        with open(target, "w") as f:
            f.write("untouched\n")
        # The log is created at the task's first output: plant before it.
        r = self.d.submit_ok(name="plant", command=["/bin/sh", "-c", "sleep 1; echo PWNED"])
        link = os.path.join(self.d.state_dir, "logs", r["id"] + ".log")
        os.symlink(target, link)
        rec = self.d.wait_terminal(r["id"], timeout=scaled(20))
        self.assertEqual(rec["state"], "succeeded")
        with open(target) as f:
            self.assertEqual(f.read(), "untouched\n")
        self.assertTrue(os.path.islink(link), "the planted symlink was replaced")
        self.assertNotIn("PWNED", self.d.get("/api/tasks/%s/logs" % r["id"]).body or "")
        self.assertIn("its output is lost", self.d.log_text())


class StartupRefusals(unittest.TestCase):
    def test_token_file_must_be_0600(self):
        rc, out = run_fail("--listen", "127.0.0.1:1", "--token-file", write_token(0o644))
        self.assertNotEqual(rc, 0)
        self.assertIn("0600", out)

    def test_token_file_symlink_refused(self):
        real = write_token(0o600)
        link = real + ".link"
        os.symlink(real, link)
        rc, out = run_fail("--listen", "127.0.0.1:1", "--token-file", link)
        self.assertNotEqual(rc, 0)
        self.assertIn("token-file", out)

    def test_short_token_refused(self):
        rc, out = run_fail("--listen", "127.0.0.1:1", "--token-file", write_token(0o600, "short\n"))
        self.assertNotEqual(rc, 0)
        self.assertIn("16", out)

    def test_remote_listener_needs_a_token(self):
        rc, out = run_fail("--listen", "0.0.0.0:%d" % harness.free_port())
        self.assertNotEqual(rc, 0)
        self.assertIn("without authentication", out)
        self.assertIn("--insecure-allow-remote-without-token", out)


class UnixSocket(unittest.TestCase):
    def start(self, path, n=0):
        """A jobcelld listening on unix:path, with a state dir and cgroup name
        of its own (n tells a test's second daemon from its first)."""
        state = harness.make_state_dir(harness.service_user())
        self.states.append(state)
        return subprocess.Popen(
            [JOBCELLD, "--listen", "unix:" + path, "--state-dir", state,
             "--cgroup-name", "jobcell-test-unix-%d-%d" % (os.getpid(), n)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True)

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="jobcell-sock-")
        os.chmod(self.dir, 0o755)
        self.path = os.path.join(self.dir, "jobcell.sock")
        self.states = []
        self.proc = self.start(self.path)
        # Ready once it answers (the file exists a moment before listen()).
        # A daemon that never answers fails here, with its log: a test run
        # against one still starting (or gone) would blame the wrong thing.
        deadline = harness.time.monotonic() + scaled(10)
        while harness.time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if "200 OK" in self.get("/healthz"):
                    self.inode = os.lstat(self.path).st_ino
                    return
            except OSError:
                pass
            harness.time.sleep(0.05)
        self.stop()
        err = self.proc.stderr.read().decode(errors="replace")
        self.clean()
        self.fail("jobcelld (exit status %s) did not answer on %s within %.0f s; its log:\n%s"
                  % (self.proc.returncode, self.path, scaled(10), err[-2000:]))

    def stop(self, proc=None):
        proc = proc or self.proc
        proc.terminate()
        return proc.wait(timeout=scaled(20))

    def clean(self):
        subprocess.run(["rm", "-rf", self.dir] + self.states)

    def tearDown(self):
        rc = self.stop()
        left = os.path.exists(self.path)
        # The daemon's own file (never removed), or one made after its removal?
        mine = left and os.lstat(self.path).st_ino == self.inode
        err = self.proc.stderr.read().decode(errors="replace")
        self.clean()
        # How the daemon ended says why a socket file would be left behind.
        self.assertEqual(rc, 0, "jobcelld exited %s; its log:\n%s" % (rc, err[-2000:]))
        self.assertFalse(left, "socket file left behind (%s); jobcelld's log:\n%s"
                         % ("the one it bound" if mine else "not the one it bound", err[-2000:]))

    def get(self, path, uid=None):
        def body():
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(scaled(10))
            s.connect(self.path)
            s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode())
            data = b""
            while chunk := s.recv(65536):
                data += chunk
            return data.decode(errors="replace")
        if uid is None:
            return body()
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            try:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
                out = body()
            except OSError as e:
                out = "OSError %d" % e.errno
            os.write(w, out.encode())
            os._exit(0)
        os.close(w)
        out = b""
        while chunk := os.read(r, 65536):
            out += chunk
        os.waitpid(pid, 0)
        return out.decode()

    def test_socket_mode_and_owner(self):
        st = os.stat(self.path)
        self.assertEqual(st.st_mode & 0o777, 0o660)
        self.assertEqual(st.st_uid, 0)

    def test_root_can_use_it(self):
        out = self.get("/healthz")
        self.assertIn("200 OK", out)
        self.assertIn('"status":"ok"', out)

    def test_peer_credentials_are_checked(self):
        """Even through a socket file opened up by mistake, a peer that is not
        root, the service user or in its group gets 403."""
        os.chmod(self.path, 0o666)
        out = self.get("/healthz", uid=65534)
        self.assertIn("403", out.split("\r\n", 1)[0])
        self.assertIn("peer is not allowed", out)

    def test_other_users_cannot(self):
        out = self.get("/healthz", uid=65534)   # nobody: refused by the file mode
        self.assertIn("OSError 13", out)

    def test_a_running_daemons_socket_is_not_taken_over(self):
        """A second daemon on the path of a running one's socket refuses to
        start: the file is not "a stale socket of a previous run"."""
        second = self.start(self.path, 1)
        try:
            rc = second.wait(timeout=scaled(20))
        except subprocess.TimeoutExpired:
            rc = None
            self.stop(second)
        err = second.stderr.read().decode(errors="replace")
        self.assertIsNotNone(rc, "a second daemon started on a running one's socket; its log:\n" + err[-2000:])
        self.assertNotEqual(rc, 0)
        self.assertIn("in use", err)
        self.assertEqual(os.lstat(self.path).st_ino, self.inode, "the socket file was replaced")
        self.assertIn("200 OK", self.get("/healthz"))

    def test_a_stale_socket_is_replaced(self):
        """A socket file nobody listens on (a previous run killed with -9)."""
        path = os.path.join(self.dir, "stale.sock")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.bind(path)
        other = self.start(path, 1)
        deadline = harness.time.monotonic() + scaled(10)
        while not harness.unix_healthz_ok(path) and other.poll() is None and harness.time.monotonic() < deadline:
            harness.time.sleep(0.05)
        ready = harness.unix_healthz_ok(path)
        rc = self.stop(other)
        err = other.stderr.read().decode(errors="replace")
        self.assertTrue(ready, "no answer on a replaced stale socket; log:\n" + err[-2000:])
        self.assertEqual(rc, 0, err[-2000:])
        self.assertFalse(os.path.exists(path), "socket file left behind")

    def test_a_socket_that_replaced_ours_is_left_alone(self):
        """At exit the daemon removes the file it made, not whatever holds the
        path by then (a successor's socket, say)."""
        os.unlink(self.path)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.bind(self.path)
            rc = self.stop()
            kept = os.path.exists(self.path)
            if kept:
                os.unlink(self.path)
        self.assertEqual(rc, 0)
        self.assertTrue(kept, "jobcelld removed a socket file that was not its own")


if __name__ == "__main__":
    harness.main()
