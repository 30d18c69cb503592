"""test_security.py — the adversarial suite: a real jobcelld as root, whose
tasks try every forbidden move we know of (tests/security/probe.c, one JSON
line per move), attack each other, exhaust their limits, and a daemon started
on planted symlinks.  See tests/security/README.md.

Environment (set by meson, see tests/security/meson.build):
  JOBCELLD             the daemon
  JOBCELL_SRC          source root (for tests/integration/harness.py)
  JOBCELL_TEST_ROOTFS  the test rootfs: the production tree + /usr/bin/jobcell-probe
  JOBCELL_TEST_SLOW    timeout factor (the TCG VM sets e.g. 6)

Skipped (exit 77) when not root, or when the daemon or test rootfs is missing.
"""

import ctypes
import errno
import fcntl
import json
import os
import re
import shlex
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
SRC = os.environ.get("JOBCELL_SRC") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
import harness  # noqa: E402
from harness import Daemon, DaemonError, DaemonTestCase, scaled  # noqa: E402

ROOTFS = os.environ.get("JOBCELL_TEST_ROOTFS", "")
PROBE = "/usr/bin/jobcell-probe"          # inside the task
UID_BASE = harness.uid_base_for_test()        # the uid_base the harness gives our daemons
TASK_PIDS_MAX = 100                       # a task's own pids stay far below this


def skip_reason():
    why = harness.skip_reason()
    if why:
        return why
    if not ROOTFS:
        return "JOBCELL_TEST_ROOTFS is not set"
    if not os.access(os.path.join(ROOTFS, PROBE.lstrip("/")), os.X_OK):
        return "no %s in the test rootfs %s (build it: ninja -C build)" % (PROBE, ROOTFS)
    return None


def parse_lines(logs):
    """move → its JSON result, from a task's output (other lines ignored)."""
    out = {}
    for line in logs.splitlines():
        if line.startswith("{"):
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if "move" in obj:
                out[obj["move"]] = obj
    return out


def probe_script(calls):
    """A shell loop: one probe call per (move, args), one JSON line each; a
    probe that dies (signal) or errs still leaves a line naming its move."""
    lines = []
    for move, args in calls:
        cmd = " ".join(shlex.quote(a) for a in [PROBE, move] + list(args))
        lines.append('%s; rc=$?; [ $rc -le 2 ] || echo \'{"move":"%s","result":"died","status":\'$rc\'}\''
                     % (cmd, move))
    return "\n".join(lines)


def percentile(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def healthz_latencies(port, n, spacing=0.0):
    """n GET /healthz on fresh connections: (list of seconds, statuses)."""
    lat, statuses = [], []
    for _ in range(n):
        t0 = time.monotonic()
        r = harness.http_request(port, "GET", "/healthz", timeout=scaled(30))
        lat.append(time.monotonic() - t0)
        statuses.append(r.status)
        if spacing:
            time.sleep(spacing)
    return lat, statuses


def fmt_ms(lat):
    return "median %.1f ms, p95 %.1f ms, max %.1f ms (n=%d)" % (
        statistics.median(lat) * 1000, percentile(lat, 95) * 1000, max(lat) * 1000, len(lat))


# --------------------------------------------------------------------------
# Host-side bait: processes, an abstract socket and SysV objects the tasks
# must not reach.

class HostBait:
    def __init__(self):
        self.sentinels = []       # Popen of `sleep` as root and as task-like uids
        self.abstract = "jobcell-host-%d" % os.getpid()
        self.ipc_key = 0x4a430000 + (os.getpid() & 0xffff)
        self._sock = None
        self._ipc = []

    def start(self):
        for uid in (0, UID_BASE, UID_BASE + 1):
            def drop(uid=uid):
                if uid:
                    os.setgid(uid)
                    os.setuid(uid)
            p = subprocess.Popen(["sleep", "3600"], preexec_fn=drop,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
            self.sentinels.append(p)
        import socket
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind("\0" + self.abstract)
        self._sock.listen(8)
        libc = ctypes.CDLL(None, use_errno=True)
        self._libc = libc
        ipc_creat = 0o1000
        for kind, call in (("shm", lambda: libc.shmget(self.ipc_key, 4096, ipc_creat | 0o600)),
                           ("msg", lambda: libc.msgget(self.ipc_key, ipc_creat | 0o600)),
                           ("sem", lambda: libc.semget(self.ipc_key, 1, ipc_creat | 0o600))):
            ident = call()
            if ident >= 0:
                self._ipc.append((kind, ident))
        return self

    def pids(self):
        return [p.pid for p in self.sentinels]

    def dead(self):
        return ["%d (uid %s)" % (p.pid, u) for p, u in zip(self.sentinels, (0, UID_BASE, UID_BASE + 1))
                if p.poll() is not None]

    def stop(self):
        for p in self.sentinels:
            if p.poll() is None:
                p.kill()
            p.wait()
        if self._sock:
            self._sock.close()
        ipc_rmid = 0
        for kind, ident in self._ipc:
            if kind == "shm":
                self._libc.shmctl(ident, ipc_rmid, None)
            elif kind == "msg":
                self._libc.msgctl(ident, ipc_rmid, None)
            else:
                self._libc.semctl(ident, 0, ipc_rmid)


# --------------------------------------------------------------------------
# 1. Every forbidden move, one probe call each.

# Moves that are allowed by design (the probe says "n/a" then).
BY_DESIGN = {"proc-self-mem"}
# Moves run on their own (they would hurt the shell loop around them).
ALONE = {"kill-all"}
# Exact errnos worth pinning (the rest: any failure is a block).
EXPECT_ERRNO = {"clone3": 38,    # ENOSYS, so that libc falls back to clone
                "io-setup": 38}  # ENOSYS, so that libaio falls back to threads


class Moves(DaemonTestCase):
    daemon_kwargs = {"extra_args": ["--rootfs", ROOTFS]}
    BATCH = 16

    @classmethod
    def setUpClass(cls):
        cls.bait = HostBait().start()
        try:
            super().setUpClass()
        except BaseException:
            cls.bait.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.bait.stop()

    def listed_moves(self):
        rec, logs = self.d.run_command([PROBE, "list"], name="probe-list")
        self.assertRecordEnd(rec, "succeeded", "exited", exit_code=0)
        return logs.split()

    def host_markers(self):
        """Absolute host paths that do not exist inside a task."""
        return [SRC, ROOTFS, self.d.state_dir, os.path.dirname(harness.JOBCELLD)]

    def args_for(self, move):
        b = self.bait
        root_pid, task_uid_pid = b.pids()[0], b.pids()[1]
        table = {
            "chroot-escape": self.host_markers(),
            "host-paths": self.host_markers(),
            "proc1-root": self.host_markers(),
            "setns-pid": ["2"],
            "ptrace-host": [str(task_uid_pid)],
            "kill-host": [str(task_uid_pid)],
            "pidfd-open-host": [str(root_pid)],
            "connect-port": [str(self.d.port)],
            "abstract-connect": [b.abstract],
            "ipc-find": [str(b.ipc_key)],
        }
        return table.get(move, [])

    def check_result(self, move, got):
        self.assertIsNotNone(got, "no result line for move %s" % move)
        want = "n/a" if move in BY_DESIGN and got.get("result") == "n/a" else "blocked"
        self.assertEqual(got.get("result"), want, "move %s got through: %s" % (move, json.dumps(got)))
        if move in EXPECT_ERRNO:
            self.assertEqual(got.get("errno"), EXPECT_ERRNO[move], json.dumps(got))

    def test_01_host_bait_is_real(self):
        for pid in self.bait.pids():
            self.assertGreater(pid, TASK_PIDS_MAX, "host pid %d could be mistaken for a task pid" % pid)
        self.assertEqual(harness.host_uid(self.bait.pids()[1]), UID_BASE)

    def test_02_every_move_is_blocked(self):
        moves = self.listed_moves()
        self.assertGreaterEqual(len(moves), 45, moves)
        loop = [m for m in moves if m not in ALONE]
        results = {}
        for i in range(0, len(loop), self.BATCH):
            batch = loop[i:i + self.BATCH]
            rec, logs = self.d.sh(probe_script([(m, self.args_for(m)) for m in batch]),
                                  name="moves-%d" % (i // self.BATCH), timeout=120)
            self.assertEqual(rec["state"] in ("succeeded", "failed"), True, rec)
            self.assertEqual(rec["reason"], "exited", "batch %s ended by %s:\n%s" % (batch, rec["reason"], logs))
            results.update(parse_lines(logs))
        print("\n%d moves:" % len(loop))
        for m in loop:
            got = results.get(m)
            print("  %-22s %-8s %s" % (m, got and got.get("result"), got and got.get("detail")))
            with self.subTest(move=m):
                self.check_result(m, got)
        dead = self.bait.dead()
        self.assertEqual(dead, [], "host processes killed by a task: %s" % dead)

    def test_03_kill_all_alone(self):
        """kill(-1, SIGKILL) as the task's only program reaches nothing."""
        rec, logs = self.d.run_command([PROBE, "kill-all"], name="kill-all")
        got = parse_lines(logs).get("kill-all")
        self.check_result("kill-all", got)
        self.assertEqual(got.get("errno"), 3, "kill(-1) found someone to signal: %s" % got)  # ESRCH
        self.assertRecordEnd(rec, "succeeded", "exited", exit_code=0)
        time.sleep(0.2)
        self.assertEqual(self.bait.dead(), [], "host processes killed by kill(-1)")
        self.assertTrue(self.d.alive(), "kill(-1) in a task killed the daemon")

    def test_04_fd_exhaustion_stops_at_emfile_and_task_goes_on(self):
        rec, logs = self.d.sh("%s fd-exhaust; echo went-on=$?; : >/tmp/after && echo open-ok" % PROBE,
                              name="fd-exhaust")
        got = parse_lines(logs).get("fd-exhaust")
        self.check_result("fd-exhaust", got)
        self.assertEqual(got["errname"], "EMFILE", got)
        self.assertIn("went-on=0", logs)
        self.assertIn("open-ok", logs)
        self.assertRecordEnd(rec, "succeeded", "exited", exit_code=0)

    def test_05_setuid_binary_does_not_elevate(self):
        rec, logs = self.d.sh("%s setuid-exec" % PROBE, name="setuid")
        got = parse_lines(logs).get("setuid-exec")
        self.check_result("setuid-exec", got)
        self.assertIn("mode 4755", got["detail"], "the set-uid bit was not even set: %s" % got)
        self.assertIn("CapEff=0 CapPrm=0", got["detail"], got)

    def test_06_no_setid_file_in_the_test_rootfs(self):
        bad = []
        for root, dirs, files in os.walk(ROOTFS):
            for f in files + dirs:
                p = os.path.join(root, f)
                st = os.lstat(p)
                if not os.path.islink(p) and st.st_mode & 0o6022:
                    bad.append("%s %o" % (p, st.st_mode))
        self.assertEqual(bad, [])

    def test_07_seccomp_bypass_under_strict_policy(self):
        """Under strict.json (kill on deny) the bypass attempts die too."""
        moves = ["x32-syscall", "int80", "mount", "unshare-user", "ptrace-init", "bpf",
                 "io-uring-setup", "keyctl"]
        rec, logs = self.d.sh(probe_script([(m, []) for m in moves]), name="strict", policy="strict")
        results = parse_lines(logs)
        for m in moves:
            with self.subTest(move=m):
                got = results.get(m)
                self.assertIsNotNone(got, "no result line for %s:\n%s" % (m, logs))
                ok = got.get("result") == "blocked" or (got.get("result") == "died"
                                                        and got.get("status") == 128 + signal.SIGSYS)
                self.assertTrue(ok, "move %s under strict: %s" % (m, json.dumps(got)))


    def test_08_legacy_aio_takes_nothing_machine_wide(self):
        """io_setup fails with ENOSYS, and fs.aio-nr (one counter for the
        whole machine) does not move while the task tries."""
        rec, logs = self.d.run_command([PROBE, "io-setup"], name="aio")
        got = parse_lines(logs).get("io-setup")
        self.check_result("io-setup", got)
        m = re.search(r"fs.aio-nr before (-?\d+), after (-?\d+)", got["detail"])
        self.assertIsNotNone(m, got)
        self.assertGreaterEqual(int(m.group(1)), 0, "fs.aio-nr unreadable in the task: %s" % got)
        self.assertLess(int(m.group(2)) - int(m.group(1)), 4096, got)


# --------------------------------------------------------------------------
# 2. Two concurrent tasks cannot see or reach each other.

class CrossTask(DaemonTestCase):
    daemon_kwargs = {"extra_args": ["--rootfs", ROOTFS]}

    A_SCRIPT = r"""
echo a-secret >/tmp/jobcell-a-marker
P=/usr/bin/jobcell-probe
$P hold-unix jobcell-x 120 &
$P hold-ipc 1234 120 &
$P hold-tcp 7777 120 &
# Positive controls: inside A the three are reachable (ALLOWED = exit 1).
while $P abstract-connect jobcell-x >/dev/null; do sleep 0.1; done
while $P ipc-find 1234 >/dev/null; do sleep 0.1; done
while $P connect-port 7777 >/dev/null; do sleep 0.1; done
$P abstract-connect jobcell-x; $P ipc-find 1234; $P connect-port 7777
echo "host=$(hostname)"
echo "comms=$(cat /proc/[0-9]*/comm | tr '\n' ' ')"
echo A-READY
sleep 120
"""

    B_SCRIPT = r"""
P=/usr/bin/jobcell-probe
echo "host=$(hostname)"
echo "pids=$(ls /proc | grep -E '^[0-9]+$' | tr '\n' ' ')"
echo "comms=$(cat /proc/[0-9]*/comm | tr '\n' ' ')"
if [ -e /tmp/jobcell-a-marker ]; then echo tmp=SEES-A; else echo tmp=clean; fi
echo "tmpfiles=$(ls -A /tmp | tr '\n' ' ')"
$P ipc-find 1234
$P abstract-connect jobcell-x
$P connect-port 7777
$P kill-host {a_pid}
$P pidfd-open-host {a_pid}
"""

    def wait_logs(self, task_id, needle, timeout=30):
        deadline = time.monotonic() + scaled(timeout)
        while True:
            logs = self.d.logs(task_id)
            if needle in logs:
                return logs
            rec = self.d.task(task_id)
            if rec["state"] in harness.TERMINAL or time.monotonic() > deadline:
                self.fail("task %s never printed %r (%s):\n%s" % (task_id, needle, rec["state"], logs))
            time.sleep(0.1)

    def test_two_tasks_see_nothing_of_each_other(self):
        a = self.d.submit_ok(name="task-a", command=["/bin/sh", "-c", self.A_SCRIPT],
                             limits={"timeout_s": 300})
        try:
            a_logs = self.wait_logs(a["id"], "A-READY")
            rec_b, b_logs = self.d.sh(self.B_SCRIPT.format(a_pid=a["pid"]), name="task-b")
            self.assertEqual(self.d.task(a["id"])["state"], "running", "A ended while B ran")
        finally:
            self.d.delete("/api/tasks/%s" % a["id"])
            self.d.wait_terminal(a["id"])
        a_res, b_res = parse_lines(a_logs), parse_lines(b_logs)
        kv_a = dict(l.split("=", 1) for l in a_logs.splitlines() if "=" in l and not l.startswith("{"))
        kv_b = dict(l.split("=", 1) for l in b_logs.splitlines() if "=" in l and not l.startswith("{"))
        print("\nA: %s\nB: %s" % (a_logs, b_logs))
        with self.subTest(what="positive controls in A"):
            for m in ("abstract-connect", "ipc-find", "connect-port"):
                self.assertEqual(a_res.get(m, {}).get("result"), "ALLOWED",
                                 "A cannot reach its own %s: the probe proves nothing\n%s" % (m, a_logs))
            self.assertGreaterEqual(kv_a.get("comms", "").split().count("jobcell-probe"), 3, a_logs)
        with self.subTest(what="processes"):
            pids = [int(p) for p in kv_b["pids"].split()]
            self.assertLessEqual(max(pids), 20, "B sees pids %s" % pids)
            self.assertLessEqual(len(pids), 8, "B sees pids %s" % pids)
            self.assertNotIn("jobcell-probe", kv_b["comms"].split(), "B sees A's processes: %s" % kv_b["comms"])
            self.assertNotIn("sleep", kv_b["comms"].split(), "B sees A's processes: %s" % kv_b["comms"])
        with self.subTest(what="hostname"):
            self.assertEqual(kv_a["host"], a["id"])
            self.assertNotEqual(kv_a["host"], kv_b["host"])
        with self.subTest(what="files"):
            self.assertEqual(kv_b["tmp"], "clean", "B sees A's /tmp marker")
            self.assertNotIn("jobcell-a-marker", kv_b["tmpfiles"])
        for m, what in (("ipc-find", "SysV IPC key 1234"), ("abstract-connect", "abstract socket @jobcell-x"),
                        ("connect-port", "A's 127.0.0.1:7777"), ("kill-host", "kill A's host pid"),
                        ("pidfd-open-host", "pidfd of A's host pid")):
            with self.subTest(what=what):
                got = b_res.get(m)
                self.assertIsNotNone(got, b_logs)
                self.assertEqual(got["result"], "blocked", "B reached %s: %s" % (what, json.dumps(got)))
        self.assertRecordEnd(rec_b, "succeeded", "exited", exit_code=0)


def wait_helper(d, task_id, helper, timeout=60):
    """The JSON line a probe helper printed in a running task."""
    deadline = time.monotonic() + scaled(timeout)
    while True:
        logs = d.logs(task_id)
        for line in logs.splitlines():
            if line.startswith("{") and '"helper":"%s"' % helper in line:
                return json.loads(line)
        rec = d.task(task_id)
        if rec["state"] in harness.TERMINAL or time.monotonic() > deadline:
            raise AssertionError("task %s: no %s line (%s):\n%s" % (task_id, helper, rec["state"], logs))
        time.sleep(0.1)


def probe_pid(task_pid):
    """Host pid of the jobcell-probe process below a task's init."""
    for pid in harness.descendants(task_pid):
        if pid != task_pid and harness.proc_comm(pid) == "jobcell-probe":
            return pid
    raise AssertionError("no jobcell-probe below task pid %d" % task_pid)


# --------------------------------------------------------------------------
# 2b. What the kernel counts per user is the task's own (its host uid's).

SI_QUEUE = -1
NR_RT_TGSIGQUEUEINFO = 297


def host_root_can_still():
    """errno (0 = it worked) of each per-user move, done here as host root:
    inotify_init1, queue a real-time signal, timer_create, mq_open."""
    libc = ctypes.CDLL(None, use_errno=True)
    out = {}
    fd = libc.inotify_init1(os.O_CLOEXEC)
    out["inotify_init1"] = 0 if fd >= 0 else ctypes.get_errno()
    if fd >= 0:
        os.close(fd)
    sig = signal.SIGRTMIN + 3
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {sig})
    try:
        info = ctypes.create_string_buffer(128)   # siginfo_t: signo, errno, code, pid, uid
        struct.pack_into("iii4xiI", info, 0, sig, 0, SI_QUEUE, os.getpid(), os.getuid())
        rc = libc.syscall(NR_RT_TGSIGQUEUEINFO, os.getpid(), threading.get_native_id(), sig, info)
        out["rt_sigqueueinfo"] = 0 if rc == 0 else ctypes.get_errno()
        if rc == 0:
            signal.sigtimedwait({sig}, 0)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
    timer = ctypes.c_void_p()
    rc = libc.timer_create(1, None, ctypes.byref(timer))   # CLOCK_MONOTONIC, SIGALRM, never armed
    out["timer_create"] = 0 if rc == 0 else ctypes.get_errno()
    if rc == 0:
        libc.timer_delete(timer)
    name = ("/jobcell-host-%d" % os.getpid()).encode()
    libc.mq_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_uint, ctypes.c_void_p]
    mqd = libc.mq_open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600, None)
    out["mq_open"] = 0 if mqd >= 0 else ctypes.get_errno()
    if mqd >= 0:
        libc.mq_close(mqd)
        libc.mq_unlink(name)
    return out


class HostQuotas(DaemonTestCase):
    """A task holding all the inotify instances, queued real-time signals
    and message queue bytes it can get starves neither host root nor a
    second task: its user namespace is owned by its own host uid."""
    daemon_kwargs = {"extra_args": ["--rootfs", ROOTFS]}

    def check_share(self, got, who):
        self.assertEqual((got["inotify"], got["inotify_errno"]), (32, "EMFILE"),
                         "%s: inotify instances %s" % (who, got))
        self.assertEqual(got["sigqueue_errno"], "EAGAIN", got)
        self.assertGreater(got["sigqueue"], 1000, "%s: queued signals %s" % (who, got))
        self.assertLessEqual(got["sigqueue"], 1024, "%s: RLIMIT_SIGPENDING not applied %s" % (who, got))
        self.assertEqual(got["timer_errno"], "EAGAIN", "%s: timers outside RLIMIT_SIGPENDING %s" % (who, got))
        self.assertEqual(got["mq_errno"], "EMFILE", got)
        self.assertGreaterEqual(got["mq"], 1, "%s: no message queue at all %s" % (who, got))

    def test_exhausted_task_starves_no_one(self):
        before = host_root_can_still()
        self.assertEqual(before, {k: 0 for k in before}, "host root is short before the test")
        tasks = []
        try:
            a = self.d.submit_ok(name="quota-a", command=[PROBE, "hold-quotas", "600"],
                                 limits={"timeout_s": 900})
            tasks.append(a)
            got_a = wait_helper(self.d, a["id"], "hold-quotas")
            during = host_root_can_still()
            b = self.d.submit_ok(name="quota-b", command=[PROBE, "hold-quotas", "600"],
                                 limits={"timeout_s": 900})
            tasks.append(b)
            got_b = wait_helper(self.d, b["id"], "hold-quotas")
            still = self.d.task(a["id"])["state"]
        finally:
            for t in tasks:
                self.d.delete("/api/tasks/%s" % t["id"])
            for t in tasks:
                self.d.wait_terminal(t["id"])
        print("\ntask A: %s\ntask B: %s\nhost root while A held: %s" % (got_a, got_b, during))
        self.assertEqual(still, "running", "A ended before B was measured")
        self.assertEqual(during, {k: 0 for k in during}, "host root starved by task A")
        self.check_share(got_a, "A")
        self.check_share(got_b, "B (while A held its share)")
        self.assertEqual(got_b["inotify"], got_a["inotify"])
        self.assertEqual(got_b["mq"], got_a["mq"])
        self.assertLessEqual(abs(got_b["sigqueue"] - got_a["sigqueue"]), 8, (got_a, got_b))


# --------------------------------------------------------------------------
# 2c. The rootfs's inodes are each task's own.

class SharedInodes(DaemonTestCase):
    daemon_kwargs = {"extra_args": ["--rootfs", ROOTFS]}
    WATCHED = ["/etc/passwd", "/sbin/jobcell-init", "/bin"]

    def host_path(self, p):
        return os.path.join(ROOTFS, p.lstrip("/"))

    def test_watcher_sees_no_other_task_nor_the_host(self):
        w = self.d.submit_ok(name="watcher", command=[PROBE, "watch-inotify"] + self.WATCHED,
                             limits={"timeout_s": 600})
        try:
            wait_helper(self.d, w["id"], "watch-inotify")
            # Another task: its spawn execs /sbin/jobcell-init; it reads the rest.
            rec, logs = self.d.sh("cat /etc/passwd >/dev/null; ls /bin >/dev/null; "
                                  "head -c 64 /sbin/jobcell-init >/dev/null", name="toucher")
            self.assertRecordEnd(rec, "succeeded", "exited", exit_code=0)
            # The host, on the rootfs directory itself.
            with open(self.host_path("/etc/passwd")) as f:
                f.read()
            with open(self.host_path("/sbin/jobcell-init"), "rb") as f:
                f.read(64)
            os.listdir(self.host_path("/bin"))
            os.kill(probe_pid(w["pid"]), signal.SIGUSR1)
            rec = self.d.wait_terminal(w["id"], timeout=60)
        finally:
            if self.d.task(w["id"])["state"] not in harness.TERMINAL:
                self.d.delete("/api/tasks/%s" % w["id"])
                self.d.wait_terminal(w["id"])
        logs = self.d.logs(w["id"])
        got = [json.loads(l) for l in logs.splitlines() if '"events"' in l]
        self.assertEqual(len(got), 1, logs)
        print("\nwatcher: %s" % got[0])
        self.assertGreaterEqual(got[0]["control"], len(self.WATCHED),
                                "the watcher does not even see its own opens: %s" % got[0])
        self.assertEqual(got[0]["events"], 0, "the watcher saw other tasks or the host: %s" % got[0])

    A_SCRIPT = r"""
P=/usr/bin/jobcell-probe
$P hold-flock /etc/passwd 600 >/tmp/held &
while ! grep -q ready /tmp/held; do sleep 0.05; done
cat /tmp/held
$P try-flock /etc/passwd
echo A-READY
wait
"""

    def test_flock_in_one_task_blocks_no_other_nor_the_host(self):
        a = self.d.submit_ok(name="locker", command=["/bin/sh", "-c", self.A_SCRIPT],
                             limits={"timeout_s": 600})
        try:
            deadline = time.monotonic() + scaled(60)
            while "A-READY" not in self.d.logs(a["id"]):
                self.assertLess(time.monotonic(), deadline, self.d.logs(a["id"]))
                self.assertEqual(self.d.task(a["id"])["state"], "running", self.d.logs(a["id"]))
                time.sleep(0.1)
            rec, b_logs = self.d.run_command([PROBE, "try-flock", "/etc/passwd"], name="other")
            fd = os.open(self.host_path("/etc/passwd"), os.O_RDONLY | os.O_CLOEXEC)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    host = "locked"
                    fcntl.flock(fd, fcntl.LOCK_UN)
                except BlockingIOError:
                    host = "blocked"
            finally:
                os.close(fd)
            a_logs = self.d.logs(a["id"])
        finally:
            self.d.delete("/api/tasks/%s" % a["id"])
            self.d.wait_terminal(a["id"])
        lines = [json.loads(l) for l in a_logs.splitlines() if l.startswith("{")]
        held = [l for l in lines if l["helper"] == "hold-flock"]
        again = [l for l in lines if l["helper"] == "try-flock"]
        other = [json.loads(l) for l in b_logs.splitlines() if l.startswith("{")]
        print("\nA holds: %s\nA again: %s\nother task: %s\nhost: %s" % (held, again, other, host))
        self.assertTrue(held and held[0]["locked"], "A could not take the lock: %s" % a_logs)
        self.assertTrue(again and not again[0]["locked"],
                        "a second lock inside A did not conflict: the test proves nothing\n%s" % a_logs)
        self.assertTrue(other and other[0]["locked"], "A's lock blocked another task: %s" % b_logs)
        self.assertEqual(host, "locked", "A's lock blocked the host")


# --------------------------------------------------------------------------
# 3. Resource exhaustion: the limit ends the task, the daemon keeps answering.

class Exhaustion(DaemonTestCase):
    daemon_kwargs = {"extra_args": ["--rootfs", ROOTFS]}

    def poll_health(self, stop, out):
        while not stop.is_set():
            t0 = time.monotonic()
            try:
                r = harness.http_request(self.d.port, "GET", "/healthz", timeout=scaled(10))
                out.append((r.status, time.monotonic() - t0))
            except OSError as e:
                out.append((repr(e), time.monotonic() - t0))
            time.sleep(0.02)

    def tell_fifo(self, task, path):
        """Write a line into the fifo `path` of the running task: once it
        exists (its mkfifo is a fork away from the task's start) and its
        reader has it open; nothing if the task has ended meanwhile."""
        deadline = time.monotonic() + scaled(30)
        while True:
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError as e:   # ENOENT: not made yet; ENXIO: no reader yet
                if e.errno not in (errno.ENOENT, errno.ENXIO) or time.monotonic() >= deadline:
                    raise
                if self.d.task(task["id"])["state"] != "running":
                    return
                time.sleep(0.05)
        try:
            os.write(fd, b"go\n")
        finally:
            os.close(fd)

    def test_fork_bomb_pids_limit_and_daemon_answers(self):
        # Every process forks for ever; pid 2 itself waits on a fifo (read is
        # a builtin: no fork needed) until the test has seen the daemon
        # answer during the bomb, then fails.  A read cut short by a signal
        # (SIGCHLD: a bomb subshell whose fork failed died) reads again: a
        # "read -t 4" ended the task within 100 ms that way, once, under load.
        # pid 2 forks once, before any bomb runs: a second "bomb &" could find
        # the pids limit already full, and dash exits 2 on a failed fork (it
        # did once under ASan: "the bomb ended before the health checks").
        script = ("mkfifo /tmp/f; exec 3<>/tmp/f; "
                  "bomb() { while :; do bomb & done; }; bomb & "
                  "until read x <&3; do :; done; exit 1")
        stop, seen = threading.Event(), []
        th = threading.Thread(target=self.poll_health, args=(stop, seen))
        b = self.d.submit_ok(name="forkbomb", command=["/bin/sh", "-c", script],
                             limits={"pids": 32, "timeout_s": int(scaled(60))})
        th.start()
        try:
            self.d.wait_running(b["id"])
            deadline = time.monotonic() + scaled(30)
            while len(seen) <= 10 and time.monotonic() < deadline:
                time.sleep(0.05)
            running = self.d.task(b["id"])["state"] == "running"
            self.tell_fifo(b, "/proc/%d/root/tmp/f" % b["pid"])
            rec = self.d.wait_terminal(b["id"], timeout=scaled(60))
        finally:
            stop.set()
            th.join()
        self.assertTrue(running, "the bomb ended before the health checks")
        self.assertRecordEnd(rec, "failed", "pids_limit")
        lat = [t for s, t in seen]
        print("\n/healthz during the fork bomb: %s" % fmt_ms(lat))
        self.assertGreater(len(seen), 10, "too few health checks during the bomb")
        self.assertEqual([s for s, t in seen if s != 200], [], "/healthz failed during the fork bomb")

    def test_memory_bomb_oom(self):
        rec, logs = self.d.run_command(["/bin/tail", "/dev/zero"], name="membomb",
                                       memory_mb=32, timeout=60)
        self.assertRecordEnd(rec, "failed", "oom")
        self.assertLessEqual(rec["usage"]["memory_peak_bytes"], 33 << 20, rec["usage"])

    def test_tmp_fill_enospc(self):
        rec, logs = self.d.sh(
            "dd if=/dev/zero of=/tmp/fill bs=1M count=64 2>&1; echo rc=$?; "
            "echo size=$(wc -c </tmp/fill); i=0; while true 2>/dev/null >/tmp/n$i; do i=$((i+1)); done; "
            "echo files=$i", name="tmpfill", limits={"tmpfs_mb": 8, "memory_mb": 128})
        self.assertIn("No space left", logs)
        size = int(logs.split("size=")[1].split()[0])
        files = int(logs.split("files=")[1].split()[0])
        self.assertLessEqual(size, 8 << 20, logs)
        self.assertGreater(size, 4 << 20, logs)
        self.assertLessEqual(files, 8 * 256 + 64, "inode limit not applied: %s" % logs)
        self.assertRecordEnd(rec, "succeeded", "exited", exit_code=0)

    def test_output_flood(self):
        rec, logs = self.d.run_command(["/bin/yes", "flood"], name="flood", output_kb=64,
                                       timeout=60)
        self.assertRecordEnd(rec, "failed", "output_limit")
        self.assertLessEqual(len(logs.encode()), 64 * 1024, "more output kept than output_kb")

    def live_cpu_usec(self, task_id):
        """CPU time of a running task so far, from its cgroup."""
        cg = self.d.task_cgroups(task_id)
        if "unified" in cg:
            for line in harness.read_text(os.path.join(cg["unified"], "cpu.stat")).splitlines():
                k, _, v = line.partition(" ")
                if k == "usage_usec":
                    return int(v)
            return 0
        d = cg.get("cpuacct") or cg.get("cpu")
        return int(harness.read_text(os.path.join(d, "cpuacct.usage"))) // 1000

    def test_cpu_hogs_do_not_slow_the_api(self):
        before, st = healthz_latencies(self.d.port, 200, spacing=0.025)
        self.assertEqual(set(st), {200})
        hogs = [self.d.submit_ok(name="hog-%d" % i, command=["/bin/sh", "-c", "while :; do :; done"],
                                 limits={"cpus": 1.0, "timeout_s": 120}) for i in range(2)]
        try:
            for h in hogs:
                self.d.wait_running(h["id"])
            # Until both really burn CPU (a second each, by their cgroups):
            # how soon depends on the host's load, not on the daemon.
            deadline = time.monotonic() + scaled(100)
            while min(self.live_cpu_usec(h["id"]) for h in hogs) < 1e6:
                self.assertLess(time.monotonic(), deadline, "the hogs got no CPU")
                time.sleep(0.1)
            during, st = healthz_latencies(self.d.port, 200, spacing=0.025)
            for h in hogs:
                self.assertEqual(self.d.task(h["id"])["state"], "running", "a hog ended early")
        finally:
            for h in hogs:
                self.d.delete("/api/tasks/%s" % h["id"])
            for h in hogs:
                self.d.wait_terminal(h["id"])
        cpu = [self.d.task(h["id"])["usage"]["cpu_usec"] for h in hogs]
        print("\n/healthz x200 before the hogs: %s" % fmt_ms(before))
        print("/healthz x200 during 2 hogs (cpus 1.0 each): %s" % fmt_ms(during))
        print("hog cpu time: %s s" % ", ".join("%.1f" % (c / 1e6) for c in cpu))
        self.assertEqual(set(st), {200})
        self.assertLess(percentile(during, 95), scaled(1.0),
                        "p95 of /healthz during the CPU hog: %s" % fmt_ms(during))
        self.assertGreater(min(cpu), 1e6, "the hogs did not burn CPU: %s" % cpu)


# --------------------------------------------------------------------------
# 4. Symlinks planted to trick the daemon at start-up.

class PlantedSymlinks(unittest.TestCase):

    def start_must_fail(self, *words, **kw):
        d = Daemon(**kw)
        with self.assertRaises(DaemonError) as cm:
            d.start()
            d.stop()   # only reached if it started: clean up, then fail
        text = str(cm.exception)
        self.assertIn("did not answer", text)
        for w in words:
            self.assertIn(w, text, "the start-up error should name %r" % w)
        return text

    def snapshot(self, path):
        st = os.lstat(path)
        return (st.st_uid, st.st_gid, st.st_mode, sorted(os.listdir(path)))

    def test_state_subdir_symlink(self):
        for sub in ("tasks", "logs"):
            with self.subTest(subdir=sub):
                state = harness.make_state_dir()
                target = tempfile.mkdtemp(prefix="jobcell-target-")
                try:
                    if sub == "logs":
                        os.mkdir(os.path.join(state, "tasks"))
                    os.symlink(target, os.path.join(state, sub))
                    before = self.snapshot(target)
                    self.start_must_fail(sub, state_dir=state)
                    self.assertEqual(self.snapshot(target), before,
                                     "the daemon touched the symlink's target %s" % target)
                    self.assertTrue(os.path.islink(os.path.join(state, sub)))
                finally:
                    shutil.rmtree(state, ignore_errors=True)
                    shutil.rmtree(target, ignore_errors=True)

    def test_state_dir_itself_symlink(self):
        parent = tempfile.mkdtemp(prefix="jobcell-state-parent-")
        target = tempfile.mkdtemp(prefix="jobcell-target-")
        try:
            link = os.path.join(parent, "state")
            os.symlink(target, link)
            before = self.snapshot(target)
            self.start_must_fail("state dir", state_dir=link)
            self.assertEqual(self.snapshot(target), before)
        finally:
            shutil.rmtree(parent, ignore_errors=True)
            shutil.rmtree(target, ignore_errors=True)

    def test_rootfs_mount_point_symlink(self):
        for point in ("tmp", "dev", "proc"):
            with self.subTest(mount_point=point):
                fake = tempfile.mkdtemp(prefix="jobcell-rootfs-")
                target = tempfile.mkdtemp(prefix="jobcell-target-")
                try:
                    os.chmod(fake, 0o755)
                    os.makedirs(os.path.join(fake, "sbin"))
                    shutil.copy2(os.path.join(ROOTFS, "sbin", "jobcell-init"),
                                 os.path.join(fake, "sbin", "jobcell-init"))
                    for d in ("proc", "dev", "tmp"):
                        if d == point:
                            os.symlink(target, os.path.join(fake, d))
                        else:
                            os.mkdir(os.path.join(fake, d))
                    before = self.snapshot(target)
                    self.start_must_fail("/" + point, "symlink", extra_args=["--rootfs", fake])
                    self.assertEqual(self.snapshot(target), before)
                    with open("/proc/self/mountinfo") as f:
                        self.assertNotIn(target, f.read(), "something was mounted on the target")
                finally:
                    shutil.rmtree(fake, ignore_errors=True)
                    shutil.rmtree(target, ignore_errors=True)


if __name__ == "__main__":
    why = skip_reason()
    if why:
        print("SKIPPED: " + why)
        sys.exit(77)
    harness.main()
