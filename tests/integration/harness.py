"""harness.py — run a real jobcelld as root and talk to it over HTTP.

Used by tests/integration/test_*.py (Python 3 standard library only).

Environment:
  JOBCELLD          path of the daemon binary (required; the test is skipped
                    with exit code 77 when it is missing or we are not root)
  JOBCELL_SRC       source root (default: two levels above this file)
  JOBCELL_TEST_SLOW factor applied to every timeout (default 1; the TCG VM
                    sets e.g. 5)
  JOBCELL_TEST_USER service user passed as --user (default: "jobcell" if that
                    user exists, else "nobody")

A `Daemon` is started on a free port of 127.0.0.1 with a fresh state
directory, a per-test-process cgroup name and a per-test-process block of
host uids (`uid_base`, see uid_base_for_test()): daemons of tests that run
at the same time never share a task uid, so never a per-user kernel count.
Stopping it (SIGTERM) asserts that nothing is left behind: no process it
started, no cgroup under its subtree, no mount mentioning its state
directory or rootfs.
"""

import http.client
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

SLOW = float(os.environ.get("JOBCELL_TEST_SLOW", "1") or "1")
SRC = os.environ.get("JOBCELL_SRC") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
JOBCELLD = os.environ.get("JOBCELLD", "")
# The spawn stub the task's child execs first (src/plan.h), beside the
# daemon in the build tree.
STUB = os.path.join(os.path.dirname(JOBCELLD), "jobcell-spawn") if JOBCELLD else ""

TERMINAL = ("succeeded", "failed", "cancelled", "lost")
CGROUP_ROOT = "/sys/fs/cgroup"
V1_CONTROLLERS = ("memory", "pids", "cpu", "cpuacct")
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")


def scaled(seconds):
    """A timeout, stretched for slow machines (JOBCELL_TEST_SLOW)."""
    return seconds * SLOW


def unix_healthz_ok(path):
    """Whether a daemon listening on the unix socket PATH answers
    GET /healthz with 200 (False when nothing answers)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(scaled(5))
            s.connect(path)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return s.recv(12).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


# --------------------------------------------------------------------------
# Skipping (meson: exit code 77 = skipped)

def skip_reason():
    if os.geteuid() != 0:
        return "integration tests need root (euid %d)" % os.geteuid()
    if not JOBCELLD:
        return "JOBCELLD is not set"
    if not (os.path.isfile(JOBCELLD) and os.access(JOBCELLD, os.X_OK)):
        return "JOBCELLD=%s is not an executable file" % JOBCELLD
    return None


def exit_if_skipped():
    why = skip_reason()
    if why:
        print("SKIPPED: " + why)
        sys.stdout.flush()
        sys.exit(77)


def service_user():
    u = os.environ.get("JOBCELL_TEST_USER")
    if u:
        return u
    try:
        pwd.getpwnam("jobcell")
        return "jobcell"
    except KeyError:
        return "nobody"


# --------------------------------------------------------------------------
# cgroups

def cgroup_mode():
    """'v2' when /sys/fs/cgroup itself is a cgroup2 mount, else 'v1'."""
    with open("/proc/mounts") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[1] == CGROUP_ROOT and parts[2] == "cgroup2":
                return "v2"
    return "v1"


def v1_mounts():
    """controller name → mount point of its v1 hierarchy (memory, pids, cpu, cpuacct)."""
    found = {}
    with open("/proc/mounts") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 4 or parts[2] != "cgroup":
                continue
            opts = set(parts[3].split(","))
            for c in V1_CONTROLLERS:
                if c in opts and c not in found:
                    found[c] = parts[1]
    return found


def cgroup_bases(cgroup_name):
    """Directories of the daemon's cgroup subtree, one per hierarchy."""
    if cgroup_mode() == "v2":
        return {"unified": os.path.join(CGROUP_ROOT, cgroup_name)}
    return {c: os.path.join(mp, cgroup_name) for c, mp in v1_mounts().items()}


def _find_dir(base, name, depth=3):
    """A directory called `name` at most `depth` levels under `base`."""
    if depth < 0 or not os.path.isdir(base):
        return None
    cand = os.path.join(base, name)
    if os.path.isdir(cand):
        return cand
    try:
        subs = [e.path for e in os.scandir(base) if e.is_dir(follow_symlinks=False)]
    except OSError:
        return None
    for s in subs:
        hit = _find_dir(s, name, depth - 1)
        if hit:
            return hit
    return None


def subdirs(path):
    """All directories below `path` (deepest first), [] if it is gone."""
    out = []
    if not os.path.isdir(path):
        return out
    for root, dirs, _files in os.walk(path, topdown=False):
        for d in dirs:
            out.append(os.path.join(root, d))
    return out


def read_text(path):
    with open(path) as f:
        return f.read().strip()


def read_pids(path):
    try:
        with open(path) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


# --------------------------------------------------------------------------
# processes

def proc_stat(pid):
    """(state, ppid, starttime) of a process, None if it does not exist."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except (OSError, ValueError):
        return None
    rest = s[s.rfind(")") + 2:].split()
    return rest[0], int(rest[1]), int(rest[19])


def proc_alive(pid, starttime=None):
    """True while the process (same incarnation if starttime is given) runs;
    a zombie counts as gone (it holds no resources but a pid)."""
    st = proc_stat(pid)
    if st is None or st[0] in ("Z", "X"):
        return False
    return starttime is None or st[2] == starttime


def descendants(root_pid):
    """{pid: starttime} of root_pid and every process below it."""
    children = {}
    stats = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = proc_stat(int(name))
        if st is None:
            continue
        stats[int(name)] = st
        children.setdefault(st[1], []).append(int(name))
    out = {}
    todo = [root_pid]
    while todo:
        p = todo.pop()
        if p in out or p not in stats:
            continue
        out[p] = stats[p][2]
        todo.extend(children.get(p, []))
    return out


def proc_comm(pid):
    try:
        return read_text("/proc/%d/comm" % pid)
    except OSError:
        return None


def proc_exe(pid):
    try:
        return os.readlink("/proc/%d/exe" % pid)
    except OSError:
        return None


def host_uid(pid):
    """Real uid of a host process, from /proc/<pid>/status."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    return None


def make_state_dir(user=None):
    """A fresh state directory owned by the service user, as systemd's
    StateDirectory= would make it."""
    d = tempfile.mkdtemp(prefix="jobcell-state-")
    try:
        pw = pwd.getpwnam(user or service_user())
        os.chown(d, pw.pw_uid, pw.pw_gid)
    except KeyError:
        pass
    return d


UID_BLOCK = 1024          # host uids per test process (max_running must fit)
UID_FIRST = 2000000       # above the daemon's default uid_base (1000000 + slots)
UID_BASE_MAX = 0x7fffffff - 65536   # the config's bound on uid_base


def uid_base_for_test(pid=None):
    """uid_base for the daemons of this test process: a block of its own,
    derived from the pid (unique among live processes)."""
    blocks = (UID_BASE_MAX - UID_FIRST) // UID_BLOCK
    return UID_FIRST + ((pid or os.getpid()) % blocks) * UID_BLOCK


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --------------------------------------------------------------------------
# HTTP

class Response(tuple):
    """(status, headers, body); body is parsed JSON when the answer is JSON,
    else text.  Also .status .headers .body .raw for readability."""

    def __new__(cls, status, headers, body, raw):
        r = tuple.__new__(cls, (status, headers, body))
        r.raw = raw
        return r

    status = property(lambda self: self[0])
    headers = property(lambda self: self[1])
    body = property(lambda self: self[2])

    def __repr__(self):
        return "HTTP %s %r" % (self[0], self[2] if not isinstance(self[2], str) else self[2][:500])


def http_request(port, method, path, body=None, headers=None, timeout=None):
    """One request on a fresh connection.  `body` may be bytes, str, or any
    other value (sent as JSON).  A server that answers early and closes (413)
    is tolerated: the answer is read even if sending the body failed."""
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    hdrs = {"Connection": "close"}
    if headers:
        hdrs.update(headers)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout or scaled(30))
    try:
        try:
            conn.request(method, path, body=body, headers=hdrs)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may have answered already: read it below
        resp = conn.getresponse()
        raw = resp.read()
        status, msg = resp.status, resp.msg
    finally:
        conn.close()
    ctype = (msg.get("Content-Type") or "").lower()
    text = raw.decode("utf-8", "replace")
    parsed = text
    if "json" in ctype:
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = text
    return Response(status, msg, parsed, raw)


# --------------------------------------------------------------------------
# The daemon

_live_daemons = []     # running now
_recent_daemons = []   # started during the current test (for failure reports)


class DaemonError(AssertionError):
    pass


class Daemon:
    """A jobcelld for one test (or one test class).

    with Daemon() as d:
        st, hdrs, body = d.post("/api/tasks", {"name": "x"})
    """

    def __init__(self, config=None, extra_args=(), state_dir=None, cgroup_name=None,
                 user=None, env=None, check_cleanup=True, owns_state=None, pass_fds=(), prefix=()):
        self.port = None
        self.base = None
        self.state_dir = state_dir
        self.owns_state = (state_dir is None) if owns_state is None else owns_state
        self.crashed = False
        self.cgroup_name = cgroup_name or "jobcell-test-%d" % os.getpid()
        self.config = config
        if config is None or isinstance(config, dict):
            self.config = dict(config or {})
            self.config.setdefault("uid_base", uid_base_for_test())
            # Stops kill running tasks at once unless a test asks for a drain.
            self.config.setdefault("stop_grace_s", 0)
        self.uid_base = self.config.get("uid_base") if isinstance(self.config, dict) else None
        self.extra_args = list(extra_args)
        self.prefix = list(prefix)   # e.g. ["prlimit", "--nofile=256:256"]
        self.user = user or service_user()
        self.env = env
        self.check_cleanup = check_cleanup
        self.pass_fds = tuple(pass_fds)   # descriptors the daemon inherits
        self.proc = None
        self.log_path = None
        self.log_cache = ""
        self.health = None
        self.rootfs = None
        self.seen = {}         # pid → starttime of every process we saw
        self.task_ids = []
        self._lock = threading.Lock()

    # ---- start / stop ----------------------------------------------------

    def argv(self):
        a = self.prefix + [JOBCELLD, "--listen", "127.0.0.1:%d" % self.port,
             "--state-dir", self.state_dir, "--cgroup-name", self.cgroup_name,
             "--user", self.user]
        if self.config is not None:
            a += ["--config", self.config_path]
        return a + self.extra_args

    def start(self):
        self.base = tempfile.mkdtemp(prefix="jobcell-test-")   # log, config
        os.chmod(self.base, 0o755)
        if self.state_dir is None:
            self.state_dir = make_state_dir(self.user)
        if self.config is not None:
            self.config_path = os.path.join(self.base, "config.json")
            with open(self.config_path, "w") as f:
                if isinstance(self.config, str):
                    f.write(self.config)
                else:
                    json.dump(self.config, f)
        self.log_path = os.path.join(self.base, "daemon.log")
        env = dict(os.environ)
        env["JOBCELL_TEST_CANARY"] = "daemon-environment-must-not-leak"
        # Not a systemd unit: use the named subtree (/sys/fs/cgroup/<name>),
        # never the test runner's own cgroup as a "delegated" one.
        env.pop("INVOCATION_ID", None)
        if self.env:
            env.update(self.env)
        if env.get("JOURNAL_STREAM") == "@log":   # stderr is "the journal": the log file
            with open(self.log_path, "ab"):
                pass
            st = os.stat(self.log_path)
            env["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
        deadline = time.monotonic() + scaled(10)
        for attempt in range(3):   # a free port can be taken in between: retry
            self.port = free_port()
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                             stdout=log, stderr=subprocess.STDOUT,
                                             env=env, start_new_session=True,
                                             pass_fds=self.pass_fds)
            _live_daemons.append(self)
            _recent_daemons.append(self)
            self.note_pid(self.proc.pid)
            if self._wait_healthy(deadline):
                break
            if self.proc.poll() is not None and "in use" in self.log_tail(20).lower() and attempt < 2:
                _live_daemons.remove(self)
                continue
            self._abort("jobcelld did not answer GET /healthz with 200 within %.0f s" % scaled(10))
        self.rootfs = (self.health or {}).get("rootfs") if isinstance(self.health, dict) else None
        self.snapshot()
        return self

    def _wait_healthy(self, deadline):
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                r = http_request(self.port, "GET", "/healthz", timeout=scaled(5))
                if r.status == 200:
                    self.health = r.body
                    return True
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.05)
        return False

    def _abort(self, why):
        rc = self.proc.poll()
        if rc is None:
            self.proc.kill()
            self.proc.wait()
        tail = self.log_tail()
        if self in _live_daemons:
            _live_daemons.remove(self)
        self._cleanup_leftovers()
        self._remove_files()
        raise DaemonError("%s (exit status %s)\n%s" % (why, rc, tail))

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            sys.stderr.write(self.log_tail())
        try:
            self.stop()
        except DaemonError:
            if exc_type is None:
                raise
            # The test's own failure is the more useful one; still report.
            sys.stderr.write("cleanup check failed too:\n%s\n" % sys.exc_info()[1])
        return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def snapshot(self):
        """Remember every process below the daemon (to check they end)."""
        if self.alive():
            with self._lock:
                self.seen.update(descendants(self.proc.pid))

    def note_pid(self, pid):
        if isinstance(pid, int) and pid > 0:
            st = proc_stat(pid)
            if st is not None:
                with self._lock:
                    self.seen.setdefault(pid, st[2])

    def daemon_pids(self):
        """The daemon's own processes (front, warden): its descendants that
        still run the jobcelld binary — not the tasks, which exec'd, nor
        the cells waiting for a task (see cell_pids())."""
        if not self.alive():
            return []
        exe = os.path.realpath(JOBCELLD)
        out = []
        for pid in descendants(self.proc.pid):
            e = proc_exe(pid)
            if pid == self.proc.pid or ((e and os.path.realpath(e) == exe)
                                        or proc_comm(pid) == "jobcelld") and not self.is_cell(pid):
                out.append(pid)
        return out

    def is_cell(self, pid):
        """A cell built ahead of demand (docs/design.md, "Cells prepared
        ahead") has not exec'd yet, but is born with a task's host uid as
        its effective uid: neither root's (the warden) nor the service
        user's (the front)."""
        try:
            with open("/proc/%d/status" % pid) as f:
                euid = [int(l.split()[2]) for l in f if l.startswith("Uid:")][0]
        except (OSError, IndexError, ValueError):
            return False
        try:
            svc = pwd.getpwnam(self.user).pw_uid
        except KeyError:
            svc = None
        return euid not in (0, svc)

    def wait_cells(self, n, timeout=None):
        """Until n cells wait and the builder rests (it builds only below
        pool_size): what the warden holds is then what n cells hold."""
        deadline = time.monotonic() + (timeout or scaled(30))
        while True:
            r = self.get("/metrics")
            m = re.search(r"^jobcell_cells_ready (\S+)$", r.raw.decode(), re.M) if r.status == 200 else None
            if m and float(m.group(1)) == n and len(self.cell_pids()) == n:
                return
            if time.monotonic() > deadline:
                raise AssertionError("never %d cells ready (%s), cell pids %r\n%s"
                                     % (n, m and m.group(1), self.cell_pids(), self.log_tail()))
            time.sleep(0.05)

    def cell_pids(self):
        """The cells waiting now (processes of the daemon's, still in the
        spawn stub: not exec'd into init)."""
        if not self.alive():
            return []
        exe = os.path.realpath(STUB)
        return [p for p in descendants(self.proc.pid)
                if p != self.proc.pid and proc_exe(p) and os.path.realpath(proc_exe(p)) == exe
                and self.is_cell(p)]

    def front_pid(self):
        """The front: the daemon's process that is not the warden."""
        others = [p for p in self.daemon_pids() if p != self.proc.pid]
        if len(others) != 1:
            raise DaemonError("expected one front process, found %r" % others)
        return others[0]

    def stop(self, sig=signal.SIGTERM):
        """Stop the daemon and assert that it left nothing behind."""
        problems = []
        if self.proc is None:
            return
        if self.crashed:         # a successor owns the leftovers
            self._remove_files()
            return
        if self.alive():
            self.snapshot()
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=scaled(15))
            except subprocess.TimeoutExpired:
                problems.append("jobcelld did not exit within %.0f s of %s"
                                % (scaled(15), signal.Signals(sig).name))
                for pid in self.daemon_pids():
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                self.proc.wait()
        self.returncode = self.proc.returncode
        if self in _live_daemons:
            _live_daemons.remove(self)
        if self.check_cleanup:
            problems += self.cleanup_problems()
        self._cleanup_leftovers()
        tail = self.log_tail()
        self._remove_files()
        if problems:
            raise DaemonError("after jobcelld stopped:\n  - " + "\n  - ".join(problems)
                              + "\n" + tail)

    def crash(self):
        """SIGKILL the daemon's own processes (not its tasks): a crash.
        The state dir and cgroups stay for a successor to clean."""
        self.snapshot()
        for pid in self.daemon_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self.proc.wait(timeout=scaled(15))
        if self in _live_daemons:
            _live_daemons.remove(self)
        self.log_cache = self.log_text()
        self.crashed = True
        self.owns_state = False

    def cleanup_problems(self, wait=None):
        """What the daemon left behind, [] when nothing.  Polls a while:
        processes die and cgroups go asynchronously."""
        deadline = time.monotonic() + (wait if wait is not None else scaled(5))
        while True:
            problems = []
            leaked = [p for p, t in sorted(self.seen.items()) if proc_alive(p, t)]
            if leaked:
                problems.append("processes still running: " + ", ".join(
                    "%d (%s)" % (p, proc_comm(p)) for p in leaked))
            for ctl, base in cgroup_bases(self.cgroup_name).items():
                left = subdirs(base)
                if left:
                    problems.append("cgroups left (%s): %s" % (ctl, ", ".join(left[:10])))
            marks = [self.state_dir] + ([self.rootfs] if self.rootfs else [])
            with open("/proc/self/mountinfo") as f:
                mounts = [l.strip() for l in f if any(m and m in l for m in marks)]
            if mounts:
                problems.append("mounts left: " + "; ".join(mounts[:5]))
            for d in (self.dev_dir(), self.dev_dir() + ".new"):
                if os.path.lexists(d):
                    problems.append("the prepared /dev's directory left: " + d)
            if not problems or time.monotonic() >= deadline:
                return problems
            time.sleep(0.1)

    def dev_dir(self):
        """Where the warden prepares the tasks' /dev (src/devdir.h; it
        builds it at this path + ".new", then moves it here)."""
        return os.path.join("/run/jobcell", self.cgroup_name + ".dev")

    def _cleanup_leftovers(self):
        """Whatever the checks found, do not let it spill into the next test."""
        for d in (self.dev_dir(), self.dev_dir() + ".new"):
            try:
                os.rmdir(d)
            except OSError:
                pass
        for p, t in self.seen.items():
            if p != os.getpid() and proc_alive(p, t):
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
        for base in cgroup_bases(self.cgroup_name).values():
            for d in subdirs(base) + [base]:
                for _ in range(20):
                    for pid in read_pids(os.path.join(d, "cgroup.procs")):
                        try:
                            os.kill(pid, signal.SIGKILL)
                        except OSError:
                            pass
                    try:
                        os.rmdir(d)
                        break
                    except FileNotFoundError:
                        break
                    except OSError:
                        time.sleep(0.05)
        marks = [m for m in (self.state_dir, self.rootfs) if m]
        with open("/proc/self/mountinfo") as f:
            points = [l.split()[4] for l in f if any(m in l for m in marks)]
        for mp in reversed(points):
            subprocess.call(["umount", "-l", mp], stderr=subprocess.DEVNULL)

    def _remove_files(self):
        if self.log_path and os.path.exists(self.log_path):
            self.log_cache = self.log_text()
        if self.owns_state and self.state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)
        if self.base:
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (OSError, TypeError):
            return self.log_cache

    def log_tail(self, lines=60):
        text = self.log_text()
        if lines is not None:
            text = "\n".join(text.splitlines()[-lines:])
        return ("----- jobcelld log (port %s, last %s lines) -----\n%s\n"
                "----- end of jobcelld log -----\n" % (self.port, lines, text))

    # ---- HTTP helpers ----------------------------------------------------

    def request(self, method, path, body=None, headers=None, timeout=None):
        if not self.alive():
            raise DaemonError("jobcelld is not running (exit status %s)\n%s"
                              % (self.proc.poll() if self.proc else None, self.log_tail()))
        try:
            return http_request(self.port, method, path, body, headers, timeout)
        except (OSError, http.client.HTTPException) as e:
            raise DaemonError("%s %s: %s: %s\n%s" % (method, path, type(e).__name__, e,
                                                      self.log_tail()))

    def post(self, path, body=None, headers=None):
        h = {"Content-Type": "application/json"}
        if headers:
            h.update(headers)
        return self.request("POST", path, body, h)

    def get(self, path, headers=None):
        return self.request("GET", path, None, headers)

    def delete(self, path, headers=None):
        return self.request("DELETE", path, None, headers)

    def submit(self, **fields):
        """POST /api/tasks with these fields; returns the Response."""
        r = self.post("/api/tasks", fields)
        if isinstance(r.body, dict):
            self.note_pid(r.body.get("pid"))
            if r.body.get("id"):
                self.task_ids.append(r.body["id"])
        self.snapshot()
        return r

    def submit_ok(self, **fields):
        """Submit and insist on 202; returns the answer's JSON body."""
        r = self.submit(**fields)
        if r.status != 202:
            raise AssertionError("POST /api/tasks %r → %r, expected 202" % (fields, r))
        return r.body

    def task(self, task_id):
        r = self.get("/api/tasks/%s" % task_id)
        if r.status != 200 or not isinstance(r.body, dict):
            raise AssertionError("GET /api/tasks/%s → %r" % (task_id, r))
        self.note_pid(r.body.get("pid"))
        return r.body

    def wait_state(self, task_id, states, timeout=None):
        """Poll until the record's state is in `states`; returns the record."""
        timeout = scaled(timeout if timeout is not None else 30)
        deadline = time.monotonic() + timeout
        rec = None
        while True:
            rec = self.task(task_id)
            if rec.get("state") in states:
                return rec
            if time.monotonic() >= deadline:
                raise AssertionError("task %s still %r after %.0f s (wanted %s): %s"
                                     % (task_id, rec.get("state"), timeout, states,
                                        json.dumps(rec)))
            time.sleep(0.05)

    def wait_terminal(self, task_id, timeout=None):
        return self.wait_state(task_id, TERMINAL, timeout)

    def wait_running(self, task_id, timeout=None):
        rec = self.wait_state(task_id, ("running",) + TERMINAL, timeout)
        if rec["state"] != "running":
            raise AssertionError("task %s ended before it was seen running: %s"
                                 % (task_id, json.dumps(rec)))
        self.snapshot()
        return rec

    def logs(self, task_id):
        r = self.get("/api/tasks/%s/logs" % task_id)
        if r.status != 200:
            raise AssertionError("GET /api/tasks/%s/logs → %r" % (task_id, r))
        return r.raw.decode("utf-8", "replace")

    def run_command(self, argv, env=None, name=None, timeout=None, policy=None, limits=None,
                    **more_limits):
        """Run argv as a command task to its end; returns (record, logs).
        Limits come as keywords (memory_mb=32) or as limits={...}."""
        limits = dict(limits or {}, **more_limits)
        fields = {"name": name or "t-%s" % os.path.basename(argv[0]), "command": list(argv)}
        if env is not None:
            fields["env"] = env
        if limits:
            fields["limits"] = limits
        if policy is not None:
            fields["policy"] = policy
        body = self.submit_ok(**fields)
        rec = self.wait_terminal(body["id"], timeout)
        return rec, self.logs(body["id"])

    def sh(self, script, **kw):
        """run_command(["/bin/sh", "-c", script], ...)."""
        kw.setdefault("name", "sh")
        return self.run_command(["/bin/sh", "-c", script], **kw)

    def task_cgroups(self, task_id):
        """hierarchy → directory of this task's cgroup (v1: memory, pids, cpu,
        cpuacct; v2: unified).  Missing ones are left out."""
        out = {}
        for ctl, base in cgroup_bases(self.cgroup_name).items():
            d = os.path.join(base, task_id)
            if not os.path.isdir(d):
                d = _find_dir(base, task_id)
            if d:
                out[ctl] = d
        return out


# --------------------------------------------------------------------------
# unittest glue

class DaemonTestCase(unittest.TestCase):
    """One daemon for the whole class (cls.d), stopped and checked at the end."""

    daemon_kwargs = {}
    maxDiff = 4000

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(**cls.daemon_kwargs).start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def setUp(self):
        if not self.d.alive():
            self.fail("jobcelld died (exit status %s)\n%s" % (self.d.proc.poll(), self.d.log_tail()))

    def assertRecordEnd(self, rec, state, reason, **fields):
        """Assert the ending of a record, with the record in the message."""
        got = {"state": rec.get("state"), "reason": rec.get("reason")}
        want = {"state": state, "reason": reason}
        for k, v in fields.items():
            got[k] = rec.get(k)
            want[k] = v
        self.assertEqual(got, want, "record: %s" % json.dumps(rec, indent=1))

    def assertError(self, resp, status, *words):
        """An error answer: this status, a JSON {"error": text} whose text
        mentions every one of `words` (case-insensitive)."""
        self.assertEqual(resp.status, status, "answer: %r" % (resp,))
        self.assertIsInstance(resp.body, dict, "error body is not JSON: %r" % (resp,))
        err = resp.body.get("error")
        self.assertIsInstance(err, str, "no 'error' text: %r" % (resp,))
        self.assertTrue(err.strip(), "empty error message")
        for w in words:
            self.assertIn(str(w).lower(), err.lower(), "error %r should mention %r" % (err, w))
        return err


class _Result(unittest.TextTestResult):
    def startTest(self, test):
        del _recent_daemons[:]
        super().startTest(test)

    def _dump(self):
        seen = []
        for d in _live_daemons + _recent_daemons:
            if d not in seen:
                seen.append(d)
                self.stream.write("\n" + d.log_tail())
        self.stream.flush()

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._dump()

    def addError(self, test, err):
        super().addError(test, err)
        self._dump()


def main():
    """unittest.main(), with exit code 77 when skipped."""
    exit_if_skipped()
    prog = unittest.main(exit=False, verbosity=2,
                         testRunner=unittest.TextTestRunner(resultclass=_Result,
                                                            verbosity=2, stream=sys.stdout))
    res = prog.result
    sys.stdout.flush()
    sys.exit(0 if res.wasSuccessful() else 1)
