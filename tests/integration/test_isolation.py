"""test_isolation.py — what a task sees from the inside, and its cgroup and
host identity from the outside."""

import fcntl
import os
import re
import signal
import struct
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import Daemon, DaemonTestCase, scaled

NAMESPACES = ("user", "pid", "mnt", "uts", "ipc", "net", "cgroup")
NS_GET_OWNER_UID = 0xb704          # _IO(0xb7, 0x4), linux/nsfs.h

# The task's user namespace's own limits (src/sandbox.c, user_ns_limits).
USER_NS_LIMITS = {"max_inotify_instances": 32, "max_inotify_watches": 8192}
# Docker's read-only and masked /proc entries, and the kernel command line
# (src/sandbox.c, proc_entries); checked where the host has them.
PROC_READ_ONLY = ("bus", "fs", "irq", "sys", "sysrq-trigger")
PROC_MASKED = ("acpi", "asound", "interrupts", "kcore", "keys", "latency_stats",
               "timer_list", "timer_stats", "sched_debug", "scsi", "cmdline")


def ns_owner_uid(pid):
    """The host uid that owns the user namespace of `pid`."""
    fd = os.open("/proc/%d/ns/user" % pid, os.O_RDONLY | os.O_CLOEXEC)
    try:
        buf = bytearray(4)
        fcntl.ioctl(fd, NS_GET_OWNER_UID, buf)
        return struct.unpack("I", buf)[0]
    finally:
        os.close(fd)


class Inside(DaemonTestCase):
    """Run /bin/sh -c '...' in a task and read what it printed."""

    def run_sh(self, script, **kw):
        rec, logs = self.d.sh(script, **kw)
        self.assertRecordEnd(rec, "succeeded", "exited", exit_code=0)
        return rec, logs

    def test_rlimits_are_fixed(self):
        """The task's rlimits are set by the sandbox, not inherited from the
        daemon: no core dumps, no real-time or raised priority, 64 KiB
        locked memory, 1024 open files."""
        rec, logs = self.run_sh("ulimit -c; ulimit -r; ulimit -e; ulimit -l; ulimit -n; "
                                "ulimit -i; ulimit -q")
        self.assertEqual(logs.split(), ["0", "0", "0", "64", "1024", "1024", "262144"], logs)

    def test_user_namespace_limits(self):
        """Every /proc/sys/user/max_* of the task's own user namespace is
        set (namespaces: 0), and the task cannot raise them."""
        rec, logs = self.run_sh(
            "for f in /proc/sys/user/max_*; do echo ${f##*/}=$(cat $f); done; "
            "echo 1000 2>/dev/null >/proc/sys/user/max_inotify_instances; echo write=$?")
        got = dict(l.split("=", 1) for l in logs.splitlines())
        self.assertNotEqual(got.pop("write"), "0", "the task raised its own limit")
        host = sorted(n for n in os.listdir("/proc/sys/user") if n.startswith("max_"))
        self.assertEqual(sorted(got), host, logs)
        for name, value in got.items():
            want = USER_NS_LIMITS.get(name, 0 if name.endswith("_namespaces")
                                      or "fanotify" in name else None)
            self.assertEqual(int(value), want, "%s=%s" % (name, value))

    def test_mountinfo_names_no_host_path(self):
        """The rootfs is an overlay of the task's own whose layers are named
        relative to it: no line of mountinfo names a host directory."""
        rec, logs = self.run_sh("cat /proc/self/mountinfo")
        rootfs = self.d.rootfs or ""
        self.assertTrue(rootfs.startswith("/"), "no rootfs in /healthz: %r" % self.d.health)
        for host_path in (rootfs, os.path.dirname(rootfs), self.d.state_dir, harness.SRC,
                          os.path.dirname(harness.JOBCELLD)):
            self.assertNotIn(host_path, logs, "mountinfo names %s" % host_path)
        root = [l.split() for l in logs.splitlines() if l.split()[4] == "/"]
        self.assertEqual(len(root), 1, logs)
        sep = root[0].index("-")
        self.assertEqual(root[0][3], "/", "the root's mount root is a host subtree: %s" % root[0])
        self.assertEqual(root[0][sep + 1], "overlay", root[0])
        self.assertIn("ro", root[0][5].split(","), root[0])
        for opt in ("nosuid", "nodev"):
            self.assertIn(opt, root[0][5].split(","), root[0])

    def test_proc_like_docker(self):
        """/proc/sys and the rest of Docker's read-only entries cannot be
        written (the IPC namespace's sysctls included); the masked ones read
        empty; /proc/cmdline shows nothing of the host's."""
        script = ["for f in kernel/msgmni kernel/shmmax fs/mqueue/queues_max; do "
                  "(echo 1 >/proc/sys/$f) 2>/dev/null; echo w:$f=$?; done"]
        for name in PROC_READ_ONLY + PROC_MASKED:
            if os.path.lexists("/proc/" + name):
                script.append("if [ -d /proc/{0} ]; then echo d:{0}=$(ls -A /proc/{0} | wc -l); "
                              "else echo f:{0}=$(head -c 4096 /proc/{0} | wc -c); fi".format(name))
        script.append("cat /proc/self/mountinfo")
        rec, logs = self.run_sh("\n".join(script))
        got = dict(l.split("=", 1) for l in logs.splitlines() if l[:2] in ("w:", "d:", "f:"))
        for f in ("kernel/msgmni", "kernel/shmmax", "fs/mqueue/queues_max"):
            self.assertNotEqual(got["w:" + f], "0", "the task wrote /proc/sys/%s" % f)
        points = {l.split()[4]: l.split()[5].split(",") for l in logs.splitlines()
                  if l[:1].isdigit()}
        for name in PROC_READ_ONLY:
            if os.path.lexists("/proc/" + name):
                self.assertIn("ro", points.get("/proc/" + name, []), "/proc/%s not read-only" % name)
        for name in PROC_MASKED:
            for kind in ("d:", "f:"):
                if kind + name in got:
                    self.assertEqual(got[kind + name], "0", "/proc/%s shows data: %s" % (name, logs))
        self.assertIn("f:cmdline", got, logs)

    def test_pid_namespace(self):
        rec, logs = self.run_sh(
            "echo self=$$; tr '\\0' ' ' </proc/1/cmdline; echo; "
            "ls /proc | grep -E '^[0-9]+$' | tr '\\n' ' '")
        lines = logs.splitlines()
        self.assertEqual(lines[0], "self=2", logs)
        self.assertIn("jobcell-init", lines[1], "pid 1 is not jobcell-init: %r" % logs)
        pids = [int(p) for p in lines[2].split()]
        self.assertIn(1, pids)
        self.assertIn(2, pids)
        self.assertLessEqual(len(pids), 5, "too many processes visible: %r" % pids)
        self.assertLessEqual(max(pids), 10, "host pids visible: %r" % pids)

    def test_user_namespace_maps_root_to_unprivileged_id(self):
        rec, logs = self.run_sh("cat /proc/self/uid_map; cat /proc/self/gid_map; id -u; id -g")
        lines = [l.split() for l in logs.splitlines()]
        self.assertEqual(len(lines), 4, logs)
        for m in lines[:2]:
            self.assertEqual(len(m), 3, logs)
            self.assertEqual(m[0], "0", logs)
            self.assertGreaterEqual(int(m[1]), 100000, "host id %s is privileged" % m[1])
            self.assertEqual(m[2], "1", "exactly one id must be mapped: %r" % logs)
        self.assertEqual(lines[2], ["0"])
        self.assertEqual(lines[3], ["0"])

    def test_distinct_host_ids_for_concurrent_tasks(self):
        ids = [self.d.submit_ok(name="uid-%d" % i, command=[
            "/bin/sh", "-c", "cat /proc/self/uid_map; sleep 2"])["id"] for i in range(2)]
        maps = []
        for i in ids:
            rec = self.d.wait_terminal(i)
            self.assertEqual(rec["state"], "succeeded", rec)
            maps.append(self.d.logs(i).split()[1])
        self.assertNotEqual(maps[0], maps[1], "two running tasks share host uid %s" % maps[0])

    def test_host_view_of_task_uid(self):
        b = self.d.submit_ok(name="hostuid", command=["/bin/sleep", "30"])
        self.d.wait_running(b["id"])
        uid = harness.host_uid(b["pid"])
        self.assertGreaterEqual(uid, 100000, "task pid %d runs as host uid %d" % (b["pid"], uid))
        self.d.delete("/api/tasks/%s" % b["id"])
        self.d.wait_terminal(b["id"])

    def test_user_namespace_owned_by_task_uid(self):
        """The kernel charges a user namespace's per-user counts to its
        owner: it must be the task's own host uid, never root (0)."""
        tasks = [self.d.submit_ok(name="owner-%d" % i, command=["/bin/sleep", "30"])
                 for i in range(2)]
        try:
            owners = []
            for b in tasks:
                self.d.wait_running(b["id"])
                uid = harness.host_uid(b["pid"])
                owners.append(ns_owner_uid(b["pid"]))
                self.assertEqual(owners[-1], uid, "user namespace of task %s owned by uid %d, "
                                 "its host uid is %d" % (b["id"], owners[-1], uid))
                self.assertGreaterEqual(uid, self.d.uid_base)
            self.assertNotEqual(owners[0], owners[1])
        finally:
            for b in tasks:
                self.d.delete("/api/tasks/%s" % b["id"])
                self.d.wait_terminal(b["id"])

    def test_every_namespace_is_new(self):
        script = "; ".join("readlink /proc/self/ns/%s" % n for n in NAMESPACES)
        rec, logs = self.run_sh(script)
        inside = logs.split()
        self.assertEqual(len(inside), len(NAMESPACES), logs)
        for n, link in zip(NAMESPACES, inside):
            self.assertNotEqual(link, os.readlink("/proc/self/ns/%s" % n),
                                "task shares the host's %s namespace" % n)
            daemon = os.readlink("/proc/%d/ns/%s" % (self.d.proc.pid, n))
            self.assertNotEqual(link, daemon, "task shares the daemon's %s namespace" % n)

    def test_hostname_is_task_id(self):
        rec, logs = self.run_sh("hostname")
        self.assertEqual(logs.strip(), rec["id"])

    def test_network_only_loopback(self):
        rec, logs = self.run_sh("cat /proc/net/dev")
        ifaces = {l.split(":")[0].strip() for l in logs.splitlines()[2:] if ":" in l}
        self.assertEqual(ifaces, {"lo"}, logs)

    def test_rootfs_read_only_tmp_writable(self):
        rec, logs = self.run_sh(
            "touch /x 2>/dev/null; echo root=$?; touch /bin/x 2>/dev/null; echo bin=$?; "
            "echo hi >/tmp/a && cat /tmp/a; echo tmp=$?")
        self.assertRegex(logs, r"root=[1-9]", logs)
        self.assertRegex(logs, r"bin=[1-9]", logs)
        self.assertIn("hi\ntmp=0", logs)

    def test_tmpfs_limit_default_64(self):
        rec, logs = self.run_sh(
            "dd if=/dev/zero of=/tmp/f bs=1M count=200 2>&1; echo rc=$?; "
            "echo size=$(wc -c </tmp/f)", limits={"memory_mb": 512})
        self.assertRegex(logs, r"rc=[1-9]", logs)
        self.assertIn("No space left", logs)
        size = int(re.search(r"size=\s*(\d+)", logs).group(1))
        self.assertLessEqual(size, 64 * 1024 * 1024, logs)
        self.assertGreater(size, 32 * 1024 * 1024, "tmpfs much smaller than 64 MiB: %d" % size)

    def test_tmpfs_limit_from_request(self):
        rec, logs = self.run_sh(
            "dd if=/dev/zero of=/tmp/f bs=1M count=20 2>&1; echo rc=$?; "
            "echo size=$(wc -c </tmp/f)", limits={"tmpfs_mb": 8})
        self.assertRegex(logs, r"rc=[1-9]", logs)
        self.assertIn("No space left", logs)
        size = int(re.search(r"size=\s*(\d+)", logs).group(1))
        self.assertLessEqual(size, 8 * 1024 * 1024, logs)

    def test_no_capabilities(self):
        rec, logs = self.run_sh("grep Cap /proc/self/status")
        caps = dict(l.split(":\t") for l in logs.splitlines())
        self.assertEqual(set(caps), {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}, logs)
        for k, v in caps.items():
            self.assertEqual(int(v, 16), 0, "%s is %s" % (k, v))

    def test_seccomp_and_no_new_privs(self):
        rec, logs = self.run_sh("grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status")
        self.assertIn("Seccomp:\t2", logs)
        self.assertIn("NoNewPrivs:\t1", logs)

    def test_minimal_dev(self):
        rec, logs = self.run_sh("ls -A /dev; echo x >/dev/null && echo null-ok; "
                                "head -c 4 /dev/urandom | wc -c")
        lines = logs.split()
        entries = set(lines[:-2])
        self.assertTrue({"null", "zero", "full", "random", "urandom"} <= entries, logs)
        extra = entries - {"null", "zero", "full", "random", "urandom",
                           "fd", "stdin", "stdout", "stderr"}
        self.assertEqual(extra, set(), "unexpected entries in /dev")
        self.assertEqual(lines[-2:], ["null-ok", "4"])

    def test_dev_end_state(self):
        """/dev is one read-only tmpfs (nosuid, noexec, 64 KiB) holding
        exactly the host's null, zero, full, random and urandom (binds of
        the host's nodes: the same device numbers and modes) and the four
        /proc/self/fd links; each device works, nothing can be added, and no
        other mount sits at or below /dev."""
        nodes = ("null", "zero", "full", "random", "urandom")
        links = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
                 "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"}
        script = ["ls -A /dev | tr '\\n' ' '; echo",
                  "for n in %s; do stat -c 'node %%n %%F %%a %%t:%%T' /dev/$n; done" % " ".join(nodes),
                  "for l in %s; do echo link $l $(readlink /dev/$l); done" % " ".join(links),
                  "echo x >/dev/null && echo null-ok",
                  "echo zero=$(head -c 7 /dev/zero | wc -c)",
                  "(echo x >/dev/full) 2>/dev/null || echo full-refused",
                  "echo random=$(head -c 5 /dev/random | wc -c) urandom=$(head -c 5 /dev/urandom | wc -c)",
                  "touch /dev/x 2>/dev/null || echo touch-refused",
                  "mkdir /dev/d 2>/dev/null || echo mkdir-refused",
                  "cat /proc/self/mountinfo"]
        rec, logs = self.run_sh("\n".join(script))
        lines = logs.splitlines()
        self.assertEqual(set(lines[0].split()), set(nodes) | set(links), logs)
        for n in nodes:
            st = os.stat("/dev/" + n)
            want = "node /dev/%s character special file %o %x:%x" % (
                n, st.st_mode & 0o7777, os.major(st.st_rdev), os.minor(st.st_rdev))
            self.assertIn(want, lines, logs)
        for l, target in links.items():
            self.assertIn("link %s %s" % (l, target), lines, logs)
        for word in ("null-ok", "zero=7", "full-refused", "random=5 urandom=5",
                     "touch-refused", "mkdir-refused"):
            self.assertIn(word, lines, logs)
        mounts = [l.split() for l in lines if len(l.split()) > 5]
        top = [m for m in mounts if m[4] == "/dev"]
        self.assertEqual(len(top), 1, "mounts on /dev: %s" % top)
        m = top[0]
        opts, sep = m[5].split(","), m.index("-")
        self.assertEqual((m[3], m[sep + 1]), ("/", "tmpfs"), m)
        for o in ("ro", "nosuid", "noexec"):
            self.assertIn(o, opts, m)
        self.assertIn("size=64k", m[sep + 3].split(","), m)
        below = {m[4]: m for m in mounts if m[4].startswith("/dev/")}
        self.assertEqual(set(below), {"/dev/" + n for n in nodes}, "mounts below /dev: %s" % below)
        for n in nodes:   # each the host's node itself, bound
            self.assertEqual(below["/dev/" + n][3], "/" + n, below["/dev/" + n])
            self.assertNotIn("nodev", below["/dev/" + n][5].split(","), below["/dev/" + n])

    def test_no_device_access_by_mknod(self):
        rec, logs = self.run_sh("mknod /tmp/sda b 8 0 2>&1; echo rc=$?")
        if "not found" in logs:
            self.skipTest("no mknod in the rootfs: %r" % logs)
        self.assertRegex(logs, r"rc=[1-9]", logs)

    def test_mounts(self):
        rec, logs = self.run_sh("cat /proc/self/mounts")
        mounts = [l.split() for l in logs.splitlines()]
        points = [m[1] for m in mounts]
        ok = {"/", "/proc", "/tmp", "/dev"}
        for m in mounts:
            p = m[1]
            if p == "/sys" or p.startswith("/sys/"):   # allowed, but read-only
                self.assertIn("ro", m[3].split(","), "writable %s:\n%s" % (p, logs))
                continue
            self.assertTrue(p in ok or p.startswith("/dev/") or p.startswith("/proc/"),
                            "unexpected mount point %s:\n%s" % (p, logs))
        self.assertIn("/proc", points)
        self.assertIn("/tmp", points)
        root = [l.split() for l in logs.splitlines() if l.split()[1] == "/"]
        self.assertTrue(root and "ro" in root[-1][3].split(","), "/ not read-only: %s" % logs)
        self.assertNotIn(self.d.state_dir, logs)

    def test_cgroup_namespace_root(self):
        rec, logs = self.run_sh("cat /proc/self/cgroup")
        for line in logs.splitlines():
            self.assertEqual(line.split(":", 2)[2], "/", "cgroup path leaks: %r" % logs)

    def test_environment_is_only_what_was_given(self):
        # The environment sh (pid 2) was started with.  A pipeline keeps sh
        # alive as pid 2; a lone command would be exec'd in its place.
        rec, logs = self.run_sh("cat /proc/2/environ | tr '\\0' '\\n'",
                                env={"GREETING": "hello world", "EMPTY": ""})
        env = dict(l.split("=", 1) for l in logs.splitlines() if l)
        self.assertEqual(env.get("GREETING"), "hello world", env)
        self.assertEqual(env.get("EMPTY"), "", env)
        self.assertEqual(set(env) - {"GREETING", "EMPTY", "PATH", "HOME"}, set(), env)
        self.assertNotIn("JOBCELLD", logs)
        self.assertNotIn("JOBCELL_TEST_CANARY", logs)
        self.assertNotIn("daemon-environment-must-not-leak", logs)

    def test_env_from_shell(self):
        rec, logs = self.run_sh("env", env={"X1": "one"})
        self.assertIn("X1=one", logs.splitlines())
        self.assertNotIn("JOBCELL", logs)


class Outside(DaemonTestCase):
    """A sleeping task seen from the host: its cgroup and its limits."""

    LIMITS = {"memory_mb": 64, "pids": 16, "cpus": 0.5}

    def start_sleeper(self, **limits):
        b = self.d.submit_ok(name="sleeper", command=["/bin/sleep", "30"],
                             limits=limits or self.LIMITS)
        self.d.wait_running(b["id"])
        return b

    def stop_sleeper(self, b):
        r = self.d.delete("/api/tasks/%s" % b["id"])
        self.assertEqual(r.status, 202, r)
        return self.d.wait_terminal(b["id"], timeout=15)

    def test_cgroup_limits(self):
        b = self.start_sleeper()
        try:
            cg = self.d.task_cgroups(b["id"])
            if harness.cgroup_mode() == "v2":
                self.assertIn("unified", cg, "no cgroup for task %s under %s"
                              % (b["id"], harness.cgroup_bases(self.d.cgroup_name)))
                d = cg["unified"]
                self.assertEqual(harness.read_text(d + "/memory.max"), str(64 << 20))
                self.assertEqual(harness.read_text(d + "/pids.max"), "16")
                quota, period = harness.read_text(d + "/cpu.max").split()
                self.assertAlmostEqual(int(quota) / int(period), 0.5, places=3)
                if os.path.exists(d + "/memory.swap.max"):
                    self.assertEqual(harness.read_text(d + "/memory.swap.max"), "0")
                procs = harness.read_pids(d + "/cgroup.procs")
            else:
                for c in ("memory", "pids", "cpu"):
                    self.assertIn(c, cg, "no %s cgroup for task %s under %s"
                                  % (c, b["id"], harness.cgroup_bases(self.d.cgroup_name)))
                m = cg["memory"]
                self.assertEqual(int(harness.read_text(m + "/memory.limit_in_bytes")), 64 << 20)
                if os.path.exists(m + "/memory.memsw.limit_in_bytes"):
                    self.assertEqual(int(harness.read_text(m + "/memory.memsw.limit_in_bytes")),
                                     64 << 20, "swap is not limited to 0")
                if os.path.exists(m + "/memory.swappiness"):  # inherited from the parent
                    self.assertEqual(harness.read_text(m + "/memory.swappiness"), "0")
                self.assertEqual(harness.read_text(cg["pids"] + "/pids.max"), "16")
                quota = int(harness.read_text(cg["cpu"] + "/cpu.cfs_quota_us"))
                period = int(harness.read_text(cg["cpu"] + "/cpu.cfs_period_us"))
                self.assertAlmostEqual(quota / period, 0.5, places=3)
                procs = harness.read_pids(m + "/cgroup.procs")
                for c in ("pids", "cpu"):
                    self.assertIn(b["pid"], harness.read_pids(cg[c] + "/cgroup.procs"), c)
            self.assertIn(b["pid"], procs, "task pid not in its memory cgroup")
        finally:
            self.stop_sleeper(b)
        deadline = time.monotonic() + scaled(5)
        while self.d.task_cgroups(b["id"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.d.task_cgroups(b["id"]), {}, "task cgroup not removed after end")

    def test_cgroup_default_limits(self):
        b = self.d.submit_ok(name="deflim", command=["/bin/sleep", "30"])
        try:
            rec = self.d.wait_running(b["id"])
            lim = rec["limits"]
            cg = self.d.task_cgroups(b["id"])
            if harness.cgroup_mode() == "v2":
                self.assertEqual(harness.read_text(cg["unified"] + "/memory.max"),
                                 str(lim["memory_mb"] << 20))
                self.assertEqual(harness.read_text(cg["unified"] + "/pids.max"), str(lim["pids"]))
            else:
                self.assertEqual(int(harness.read_text(cg["memory"] + "/memory.limit_in_bytes")),
                                 lim["memory_mb"] << 20)
                self.assertEqual(harness.read_text(cg["pids"] + "/pids.max"), str(lim["pids"]))
        finally:
            self.stop_sleeper(b)

    def test_all_task_processes_in_cgroup(self):
        b = self.d.submit_ok(name="tree", command=["/bin/sh", "-c", "sleep 30 & sleep 30 & wait"],
                             limits=self.LIMITS)
        try:
            self.d.wait_running(b["id"])
            time.sleep(0.3)
            cg = self.d.task_cgroups(b["id"])
            key = "unified" if harness.cgroup_mode() == "v2" else "memory"
            procs = set(harness.read_pids(cg[key] + "/cgroup.procs"))
            tree = set(harness.descendants(b["pid"]))
            self.assertGreaterEqual(len(tree), 3, "expected sh + 2 sleeps below pid %d" % b["pid"])
            self.assertLessEqual(tree, procs, "task processes outside the task cgroup")
        finally:
            rec = self.stop_sleeper(b)
        self.assertEqual(rec["state"], "cancelled")
        deadline = time.monotonic() + scaled(5)
        while any(harness.proc_alive(p) for p in tree) and time.monotonic() < deadline:
            time.sleep(0.05)
        for p in tree:
            self.assertFalse(harness.proc_alive(p), "process %d survived cancel" % p)


class PreparedDev(unittest.TestCase):
    """The /dev the warden prepares once (src/devdir.h), in its own mount
    namespace on a root-owned directory /run/jobcell/<cgroup_name>.dev."""

    DEV_SCRIPT = "ls -A /dev | sort | tr '\\n' ' '; echo; echo x >/dev/null && echo null-ok"
    DEV_ENTRIES = "fd full null random stderr stdin stdout urandom zero"

    def run_with_whole_dev(self, d, name):
        """A task that runs (202, succeeded) and sees the whole /dev."""
        r = d.post("/api/tasks", {"name": name, "command": ["/bin/sh", "-c", self.DEV_SCRIPT]})
        self.assertEqual(r.status, 202, "%r\n%s" % (r, d.log_tail()))
        rec = d.wait_terminal(r.body["id"])
        logs = d.logs(r.body["id"])
        self.assertEqual((rec["state"], rec["reason"]), ("succeeded", "exited"), "%s\n%s" % (rec, logs))
        self.assertEqual(logs.split("\n")[:2], [self.DEV_ENTRIES + " ", "null-ok"], logs)

    def assert_prepared_again_once(self, d):
        text = d.log_text()
        self.assertEqual(text.count("prepared again"), 1, text)
        self.assertEqual(text.count(d.dev_dir() + " is gone"), 1, text)
        self.assertEqual(os.listdir(d.dev_dir()), [], "the host sees more than an empty directory")
        self.assertFalse(os.path.lexists(d.dev_dir() + ".new"), "the staging directory stayed")

    def test_a_removed_dev_is_prepared_again(self):
        """Root on the host removing the directory (an operator's cleaner)
        detaches the prepared tmpfs; the next spawn notices, the warden
        prepares it again once (logged), and every later task runs with the
        whole /dev (before: every spawn failed, 500, until a restart).  No
        pool: each spawn is on demand."""
        with Daemon(config={"pool_size": 0}) as d:
            self.assertEqual(os.listdir(d.dev_dir()), [], "the host sees more than an empty directory")
            self.run_with_whole_dev(d, "before")
            os.rmdir(d.dev_dir())
            for i in range(3):
                self.run_with_whole_dev(d, "after-%d" % i)
            self.assert_prepared_again_once(d)

    def test_a_removed_dev_is_prepared_again_for_cells(self):
        """The same with cells: the two built before the removal keep the
        /dev they bound; the builder's next cells (or a spawn on demand, if
        none is ready) find it gone, and it is prepared again once."""
        with Daemon(config={"pool_size": 2}) as d:
            d.wait_cells(2)
            os.rmdir(d.dev_dir())
            for i in range(5):
                self.run_with_whole_dev(d, "cells-%d" % i)
            self.assert_prepared_again_once(d)

    def test_a_symlink_in_its_place_fails_closed(self):
        """A symlink planted where the directory was is never followed: the
        spawn fails (500, naming the path), nothing is mounted on its
        target; once the symlink is gone, the next spawn prepares it again."""
        target = tempfile.mkdtemp(prefix="jobcell-dev-target-")
        try:
            with Daemon(config={"pool_size": 0}) as d:
                os.rmdir(d.dev_dir())
                os.symlink(target, d.dev_dir())
                try:
                    r = d.post("/api/tasks", {"name": "planted", "command": ["/bin/true"]})
                    self.assertEqual(r.status, 500, r)
                    self.assertIn(d.dev_dir() + " is not a directory", r.body["error"], r)
                    self.assertIsNone(d.task(r.body["id"]).get("pid"))
                    with open("/proc/%d/mountinfo" % d.proc.pid) as f:
                        self.assertNotIn(target, f.read(), "something was mounted on the target")
                    self.assertEqual(os.listdir(target), [])
                finally:
                    os.unlink(d.dev_dir())
                self.run_with_whole_dev(d, "after")
        finally:
            os.rmdir(target)

    def test_a_planted_symlink_refuses_the_start(self):
        """The directory must be root's own directory: a symlink in its
        place (which would lead the mount elsewhere) stops the start."""
        name = "jobcell-test-dev-%d" % os.getpid()
        path = os.path.join("/run/jobcell", name + ".dev")
        os.makedirs("/run/jobcell", mode=0o755, exist_ok=True)
        os.symlink("/tmp", path)
        d = Daemon(cgroup_name=name)
        tidy = d._cleanup_leftovers
        d._cleanup_leftovers = lambda: None   # see what the daemon itself left
        try:
            try:   # the front may answer /healthz before the warden gives up
                d.start()
            except harness.DaemonError as e:
                text = str(e)
            else:
                d.proc.wait(timeout=scaled(15))
                text = d.log_text()
                d.check_cleanup = False   # the planted symlink is ours
                d.stop()
                self.assertNotEqual(d.returncode, 0, text)
            self.assertIn(path + " is not a directory", text)
            # The refused start removed the cgroup subtree it had made.
            left = [b for b in harness.cgroup_bases(name).values() if os.path.isdir(b)]
            self.assertEqual(left, [], text)
        finally:
            os.unlink(path)
            tidy()


class DaemonProcessGroup(unittest.TestCase):
    """A signal to the daemon's process group (a terminal's Ctrl-C, or
    kill -INT -PGID) reaches the daemon only: the daemon cancels every task,
    none is killed by the SIGINT itself."""

    def test_sigint_to_the_daemon_group_reaches_no_task(self):
        state = harness.make_state_dir()
        a = Daemon(state_dir=state, owns_state=False).start()
        try:
            pgid = os.getpgid(a.proc.pid)
            self.assertNotEqual(pgid, os.getpgrp(), "the daemon shares the test's process group")
            ids = []
            for i in range(6):
                b = a.submit_ok(name="pgrp-%d" % i, command=["/bin/sleep", "120"])
                a.wait_running(b["id"])
                ids.append(b["id"])
                self.assertNotEqual(os.getpgid(b["pid"]), pgid,
                                    "task %s is in the daemon's process group" % b["id"])
                self.assertNotEqual(os.getsid(b["pid"]), os.getsid(a.proc.pid),
                                    "task %s is in the daemon's session" % b["id"])
            os.killpg(pgid, signal.SIGINT)
            a.proc.wait(timeout=scaled(30))
        finally:
            a.stop()
        with Daemon(state_dir=state, cgroup_name=a.cgroup_name, owns_state=True) as b:
            for i in ids:
                rec = b.task(i)
                self.assertEqual((rec["state"], rec["reason"]), ("cancelled", "cancelled"), rec)
                self.assertNotEqual(rec.get("signal"), signal.SIGINT, rec)


if __name__ == "__main__":
    harness.main()
