"""test_lifecycle.py — start-up (flags, failures, privilege separation),
shutdown with running tasks, crash (SIGKILL) and restart: records survive,
running tasks become "lost", leftover cgroups are removed."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import Daemon, JOBCELLD, SRC, scaled


def cap_eff(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    return None


def listening_inode(port):
    """Socket inode of the TCP listener on 127.0.0.1:port (or 0.0.0.0)."""
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            cols = line.split()
            local, state, inode = cols[1], cols[3], cols[9]
            if state == "0A" and int(local.split(":")[1], 16) == port:
                return inode
    return None


def pids_holding(inode):
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            fds = os.listdir("/proc/%s/fd" % name)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink("/proc/%s/fd/%s" % (name, fd)) == "socket:[%s]" % inode:
                    out.append(int(name))
                    break
            except OSError:
                pass
    return out


class StartupFailures(unittest.TestCase):
    """Bad flags and unusable paths: exit non-zero at once, saying what and why."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="jobcell-startup-")
        os.chmod(self.tmp, 0o755)
        self.state = harness.make_state_dir()
        self.cgname = "jobcell-test-%d-startup" % os.getpid()

    def tearDown(self):
        for base in harness.cgroup_bases(self.cgname).values():
            for d in harness.subdirs(base) + [base]:
                try:
                    os.rmdir(d)
                except OSError:
                    pass
        shutil.rmtree(self.tmp, ignore_errors=True)
        shutil.rmtree(self.state, ignore_errors=True)

    def run_daemon(self, *args, base=True):
        argv = [JOBCELLD]
        if base:
            argv += ["--listen", "127.0.0.1:%d" % harness.free_port(), "--state-dir", self.state,
                     "--cgroup-name", self.cgname, "--user", harness.service_user()]
        argv += list(args)
        try:
            p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=scaled(15))
        except subprocess.TimeoutExpired as e:
            self.fail("jobcelld %s kept running (expected it to exit); output:\n%s"
                      % (" ".join(args), (e.output or b"").decode("utf-8", "replace")))
        out = p.stdout.decode("utf-8", "replace")
        left = [d for b in harness.cgroup_bases(self.cgname).values()
                for d in harness.subdirs(b) + ([b] if os.path.isdir(b) else [])]
        self.assertEqual(left, [], "a failed start-up left cgroups behind")
        return p.returncode, out

    def assertFails(self, args, *words, base=True):
        rc, out = self.run_daemon(*args, base=base)
        self.assertNotEqual(rc, 0, "jobcelld %s exited 0:\n%s" % (" ".join(args), out))
        self.assertGreater(rc, 0, "jobcelld %s died of signal %d:\n%s" % (" ".join(args), -rc, out))
        for w in words:
            self.assertIn(w.lower(), out.lower(), "message should name %r:\n%s" % (w, out))
        return out

    def test_rootfs_missing(self):
        self.assertFails(["--rootfs", "/nonexistent-jobcell-rootfs"], "rootfs")

    def test_rootfs_empty_dir(self):
        empty = os.path.join(self.tmp, "empty-rootfs")
        os.mkdir(empty)
        self.assertFails(["--rootfs", empty], "rootfs")

    def test_policy_dir_missing(self):
        self.assertFails(["--policy-dir", "/nonexistent-jobcell-policy"], "polic")

    def test_policy_malformed(self):
        pdir = os.path.join(self.tmp, "policy")
        os.mkdir(pdir)
        with open(os.path.join(pdir, "default.json"), "w") as f:
            f.write('{"defaultAction": ')
        self.assertFails(["--policy-dir", pdir], "default")

    def test_state_dir_is_a_file(self):
        f = os.path.join(self.tmp, "file")
        open(f, "w").close()
        self.assertFails(["--state-dir", f], "state")

    def test_listen_bogus(self):
        for v in ("bogus", "127.0.0.1:99999", "127.0.0.1:", "300.1.1.1:8080"):
            with self.subTest(listen=v):
                self.assertFails(["--listen", v], "listen")

    def test_listen_port_in_use(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        try:
            self.assertFails(["--listen", "127.0.0.1:%d" % port], str(port))
        finally:
            s.close()

    def test_unknown_flag(self):
        self.assertFails(["--frobnicate"], "frobnicate")

    def test_flag_missing_value(self):
        self.assertFails(["--listen"], "listen", base=False)

    def test_unknown_user(self):
        self.assertFails(["--user", "no-such-user-jc"], "no-such-user-jc")

    def test_bad_log_level(self):
        self.assertFails(["--log-level", "loud"], "log-level")

    def test_config_missing(self):
        self.assertFails(["--config", "/nonexistent-jobcell.json"], "nonexistent-jobcell.json")

    def test_config_malformed_or_unknown_key(self):
        cfg = os.path.join(self.tmp, "c.json")
        for text, word in (('{"max_running": ', "c.json"), ('{"no_such_key": 1}', "no_such_key")):
            with self.subTest(config=text):
                with open(cfg, "w") as f:
                    f.write(text)
                self.assertFails(["--config", cfg], word)

    def test_help(self):
        rc, out = self.run_daemon("--help", base=False)
        self.assertEqual(rc, 0, out)
        for flag in ("--listen", "--rootfs", "--policy-dir", "--state-dir", "--user",
                     "--config", "--cgroup-name", "--log-level"):
            self.assertIn(flag, out)

    def test_version(self):
        rc, out = self.run_daemon("--version", base=False)
        self.assertEqual(rc, 0, out)
        m = re.search(r"version:\s*'([^']+)'", open(os.path.join(SRC, "meson.build")).read())
        self.assertIn(m.group(1) if m else ".", out)


class Running(unittest.TestCase):
    """A healthy daemon: start-up log, privilege separation, shutdown."""

    def test_startup_log(self):
        with Daemon() as d:
            log = d.log_text()
            self.assertIn("listening on 127.0.0.1:%d" % d.port, log)
            mode = harness.cgroup_mode()
            self.assertTrue([l for l in log.splitlines() if "cgroup" in l.lower() and mode in l],
                            "no start-up line names the cgroup mode %s:\n%s" % (mode, log))

    def test_privilege_separation(self):
        with Daemon() as d:
            procs = d.daemon_pids()
            self.assertEqual(len(procs), 2, "expected front + warden, got %r" % procs)
            inode = listening_inode(d.port)
            self.assertIsNotNone(inode, "no listener on port %d" % d.port)
            holders = pids_holding(inode)
            self.assertEqual(len(holders), 1, "listening socket held by %r" % holders)
            front = holders[0]
            self.assertIn(front, procs)
            self.assertNotEqual(harness.host_uid(front), 0, "the HTTP front runs as root")
            self.assertEqual(cap_eff(front), 0, "the HTTP front has capabilities")
            with open("/proc/%d/status" % front) as f:
                self.assertIn("NoNewPrivs:\t1", f.read())
            warden = [p for p in procs if p != front][0]
            self.assertEqual(harness.host_uid(warden), 0)

    def test_sigterm_with_running_tasks(self):
        d = Daemon().start()
        try:
            ids = [d.submit_ok(name="busy-%d" % i, command=["/bin/sleep", "60"])["id"]
                   for i in range(3)]
            ids.append(d.submit_ok(name="busy-worker", duration=60)["id"])
            for i in ids:
                d.wait_running(i)
            task_pids = [d.task(i)["pid"] for i in ids]
        except BaseException:
            d.stop()
            raise
        t0 = time.monotonic()
        d.stop()    # SIGTERM; asserts no process, cgroup or mount is left
        self.assertLess(time.monotonic() - t0, scaled(15))
        self.assertEqual(d.returncode, 0, "exit status after SIGTERM\n" + d.log_tail())
        for p in task_pids:
            self.assertFalse(harness.proc_alive(p), "task %d outlived the daemon" % p)

    def test_sigint_stops_too(self):
        d = Daemon().start()
        d.submit_ok(name="sigint", command=["/bin/sleep", "60"])
        d.stop(sig=signal.SIGINT)
        self.assertEqual(d.returncode, 0, d.log_tail())


class Restart(unittest.TestCase):
    """Records survive a restart; a crash leaves no process, and the next
    start marks its running tasks lost and removes their cgroups."""

    def test_clean_restart_keeps_records_and_logs(self):
        state = harness.make_state_dir()
        a = Daemon(state_dir=state, owns_state=False).start()
        try:
            ok = a.submit_ok(name="keep-me", command=["/bin/sh", "-c", "echo kept; exit 4"])
            rec_a = a.wait_terminal(ok["id"])
            logs_a = a.logs(ok["id"])
        finally:
            a.stop()
        with Daemon(state_dir=state, cgroup_name=a.cgroup_name, owns_state=True) as b:
            rec_b = b.task(ok["id"])
            self.assertEqual(rec_b, rec_a)
            self.assertEqual(b.logs(ok["id"]), logs_a)
            self.assertEqual(logs_a, "kept\n")
            ids = [t["id"] for t in b.get("/api/tasks").body["tasks"]]
            self.assertIn(ok["id"], ids)
            rec, _ = b.sh("exit 0")
            self.assertEqual(rec["state"], "succeeded")

    def test_crash_then_restart(self):
        a = Daemon().start()
        b = None
        try:
            done = a.submit_ok(name="finished-before-crash", duration=0)
            rec_done = a.wait_terminal(done["id"])
            run = a.submit_ok(name="running-at-crash", command=["/bin/sleep", "60"])
            a.wait_running(run["id"])
            worker = a.submit_ok(name="worker-at-crash", duration=60)
            a.wait_running(worker["id"])
            cgroups = list(a.task_cgroups(run["id"]).values())
            self.assertTrue(cgroups, "no cgroup found for the running task")
            tasks = {p: t for p, t in a.seen.items() if p not in a.daemon_pids()}
            self.assertIn(run["pid"], tasks)

            a.crash()    # SIGKILL front and warden, not the tasks

            deadline = time.monotonic() + scaled(5)
            while time.monotonic() < deadline and any(harness.proc_alive(p, t)
                                                      for p, t in tasks.items()):
                time.sleep(0.05)
            # Checked at the end, so that the restart is tested even then
            # (the successor must kill and remove leftovers anyway).
            leaked = ["%d (%s)" % (p, harness.proc_comm(p))
                      for p, t in tasks.items() if harness.proc_alive(p, t)]

            b = Daemon(state_dir=a.state_dir, cgroup_name=a.cgroup_name, owns_state=True).start()
            for tid in (run["id"], worker["id"]):
                rec = b.task(tid)
                self.assertEqual((rec["state"], rec["reason"]), ("lost", "daemon_restart"),
                                 json.dumps(rec))
                self.assertIsNotNone(rec["finished_at"], rec)
            self.assertEqual(b.task(done["id"]), rec_done)
            deadline = time.monotonic() + scaled(5)
            while time.monotonic() < deadline and any(os.path.isdir(c) for c in cgroups):
                time.sleep(0.05)
            self.assertEqual([c for c in cgroups if os.path.isdir(c)], [],
                             "the old task's cgroup was not removed on restart")
            rec, logs = b.sh("echo alive")
            self.assertEqual((rec["state"], logs), ("succeeded", "alive\n"))
            self.assertEqual(b.delete("/api/tasks/%s" % run["id"]).status, 409)
            self.assertFalse(any(harness.proc_alive(p, t) for p, t in tasks.items()),
                             "the restarted daemon left the old tasks running")
            self.assertEqual(leaked, [], "tasks outlived a SIGKILLed daemon for %.0f s "
                             "(no parent-death signal?)" % scaled(5))
        finally:
            if b is not None:
                try:
                    b.stop()
                finally:
                    a.stop()     # crashed: only removes its log directory
            else:
                a.crashed = False
                a.check_cleanup = False
                a.owns_state = True
                a._cleanup_leftovers()
                a.stop()
                shutil.rmtree(a.state_dir, ignore_errors=True)


if __name__ == "__main__":
    harness.main()
