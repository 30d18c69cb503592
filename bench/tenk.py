#!/usr/bin/env python3
"""tenk.py — the client side of bench/tenk.sh: N sleeping tasks at once.

  tenk.py --port P --n N --warden PID --cgroup NAME --out DIR [--lanes L]

1. Submits N tasks (["/bin/sleep","3600"]) over L keep-alive lanes (processes),
   and prints, per 1 000 accepted, the submission rate of that thousand, the
   warden's descriptors, the processes in jobcell's cgroup, MemAvailable and
   Slab; meanwhile two more processes GET /api/tasks/{id} of accepted tasks
   (20 per second each; one at nice 0, one at nice -10: PROBE_NICE) and the
   p50/p99 of each one's GETs is printed per thousand.
2. Once every task runs: the same figures, and the GET latency of 2 000
   GETs on an idle daemon; writes DIR/ids and DIR/one (an id, for wrk).
3. (tenk.sh then runs wrk, and cancels them all with bench/postloop.c -D:
   eight Python processes' own CPU bounded the DELETE rate.)

  tenk.py probe --port P --id ID --until FILE --out DIR

The same two GET probes on one task, alone, until FILE holds a line
'held ' (tenk.sh -L: while bench/limit.c --hold starts N tasks).

Only 127.0.0.1 is contacted; every loop is bounded in time.
"""
import argparse
import http.client
import json
import multiprocessing as mp
import os
import random
import signal
import sys
import time

HOST = "127.0.0.1"


def conn(port):
    return http.client.HTTPConnection(HOST, port, timeout=60)


def req(c, method, path, body=None):
    hdrs = {"Content-Type": "application/json"} if body is not None else {}
    c.request(method, path, body, hdrs)
    r = c.getresponse()
    return r.status, r.read()


def pct(v, p):
    if not v:
        return float("nan")
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p / 100.0))]


def quiet_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def submit_lane(port, n, body, counter, finished, q, deadline):
    """POST n tasks; 503 (queue full) backs off and retries.  finished is
    counted before the ids are put: a process does not exit while what it
    put waits in the queue's pipe, so the main one reads first, then joins."""
    quiet_sigint()
    c = conn(port)
    got, st, data = [], 202, b""
    while len(got) < n and time.monotonic() < deadline:
        st, data = req(c, "POST", "/api/tasks", body)
        if st == 503:
            time.sleep(0.05)
            continue
        if st != 202:
            break
        got.append((time.monotonic(), json.loads(data)["id"]))
        with counter.get_lock():
            counter.value += 1
    with finished.get_lock():
        finished.value += 1
    q.put(("ids", got, None if len(got) == n else "POST → %d %s" % (st, data[:200])))


# The GET probes' nice values: one as any client, one ahead of the
# submitting lanes and the daemon's own work, so that what it measures is
# the daemon's answer and not its own wait for one of the host's CPUs.
PROBE_NICE = (0, -10)


def get_sampler(port, idsq, stop, q, nice):
    """GET /api/tasks/{id} of known tasks, 20 per second; (time, ms) each."""
    quiet_sigint()
    os.nice(nice)
    c = conn(port)
    ids, lat = [], []
    while not stop.is_set():
        while not idsq.empty():
            ids.append(idsq.get())
        if ids:
            tid = random.choice(ids)
            t0 = time.monotonic()
            st, _ = req(c, "GET", "/api/tasks/" + tid)
            t1 = time.monotonic()
            if st == 200:
                lat.append((t0, (t1 - t0) * 1000))
        time.sleep(0.05)
    q.put(("lat", nice, lat))


def count_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def cgroup_procs(name):
    """Processes of jobcell's cgroup subtree (v1 pids controller or v2)."""
    for base in ("/sys/fs/cgroup/pids/" + name, "/sys/fs/cgroup/" + name):
        try:
            with open(base + "/pids.current") as f:
                return int(f.read())
        except OSError:
            continue
    return -1


def rss_kb(*pids):
    """jobcelld's own memory: the RSS of the warden and of the front, kB."""
    total = 0
    for pid in pids:
        if not pid:
            continue
        with open("/proc/%d/status" % pid) as f:
            total += next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    return total


def meminfo():
    mi = {l.split(":")[0]: int(l.split()[1]) for l in open("/proc/meminfo")}
    return mi["MemAvailable"] // 1024, mi["Slab"] // 1024


def health(c):
    st, data = req(c, "GET", "/healthz")
    if st != 200:
        raise SystemExit("healthz: HTTP %d" % st)
    return json.loads(data)["tasks"]


def row(label, rate, a):
    fds, procs = count_fds(a.warden), cgroup_procs(a.cgroup)
    avail, slab = meminfo()
    print("| %-14s | %8s | %7d | %7d | %9d | %7d | %8d |" % (label, rate, fds, procs, avail, slab,
                                                            rss_kb(a.warden, a.front)), end="")
    sys.stdout.flush()


def print_probe(lat, nice, marks, step):
    print("GET /api/tasks/{id} meanwhile (20/s, one client at nice %d), per %d accepted:" % (nice, step))
    for mk, t0, t1 in marks:
        v = [ms for t, ms in lat if t0 <= t < t1]
        print("  %6d: %4d GETs, p50 %.2f ms, p99 %.2f ms" % (mk, len(v), pct(v, 50), pct(v, 99)))
    v = [ms for _, ms in lat]
    print("  all: %d GETs, p50 %.2f ms, p99 %.2f ms, max %.2f ms" % (len(v), pct(v, 50), pct(v, 99),
                                                                    max(v) if v else float("nan")))


def cmd_submit(a):
    # An hour: none may end by itself while 10 000 are submitted on a slow host.
    body = json.dumps({"name": "sleeper", "command": ["/bin/sleep", "3600"],
                       "limits": {"timeout_s": 7200}})
    counter, finished = mp.Value("l", 0), mp.Value("l", 0)
    q, stop = mp.Queue(), mp.Event()
    deadline = time.monotonic() + a.max_seconds
    share = [a.n // a.lanes + (1 if i < a.n % a.lanes else 0) for i in range(a.lanes)]
    lanes = [mp.Process(target=submit_lane, args=(a.port, share[i], body, counter, finished, q, deadline))
             for i in range(a.lanes)]
    idsqs = [mp.Queue() for _ in PROBE_NICE]
    samplers = [mp.Process(target=get_sampler, args=(a.port, idsqs[i], stop, q, n))
                for i, n in enumerate(PROBE_NICE)]
    c = conn(a.port)
    print("| %-14s | %8s | %7s | %7s | %9s | %7s | %8s |" % (
        "accepted", "POST/s", "w. fds", "procs", "avail MB", "slab MB", "RSS kB"))
    print("|%s|%s|%s|%s|%s|%s|%s|" % ("-" * 16, "-" * 10, "-" * 9, "-" * 9, "-" * 11, "-" * 9, "-" * 10))
    rss0 = rss_kb(a.warden, a.front)
    row("0", "", a)
    print()
    t_start = time.monotonic()
    for p in lanes + samplers:
        p.start()
    marks, mark, t_prev, fed = [], a.step, t_start, 0
    while finished.value < a.lanes or counter.value > fed:
        n = counter.value
        # The sampler needs ids: the lanes report theirs at the end, so it
        # GETs through the list (newest first) meanwhile.
        if n > fed:
            st, data = req(c, "GET", "/api/tasks?limit=%d" % min(1000, n - fed))
            if st == 200:
                for t in json.loads(data)["tasks"]:
                    for idsq in idsqs:
                        idsq.put(t["id"])
            fed = n
        if n >= mark:
            now = time.monotonic()
            marks.append((mark, t_prev, now))
            row(str(mark), "%.0f" % (a.step / (now - t_prev)), a)
            print()
            t_prev, mark = now, mark + a.step
        time.sleep(0.1)
        if time.monotonic() > deadline:
            break
    got, errors, lats = [], [], {}
    for _ in lanes:
        _, v, e = q.get()
        got += v
        if e:
            errors.append(e)
    stop.set()
    for _ in samplers:
        _, nice, lat = q.get()
        lats[nice] = lat
    for p in lanes + samplers:
        p.join()
    t_end = time.monotonic()
    print()
    for nice in PROBE_NICE:
        print_probe(lats[nice], nice, marks, a.step)
    if errors:
        print("errors: %s" % "; ".join(errors[:5]))
    print("accepted %d of %d in %.1f s (%.0f/s overall)" % (len(got), a.n, t_end - t_start,
                                                            len(got) / max(1e-9, t_end - t_start)))
    with open(os.path.join(a.out, "ids"), "w") as f:
        for _, tid in got:
            f.write(tid + "\n")
    # Every accepted task running (queued ones started, or failed): wait
    # until the queue is empty and the count no longer moves.
    end, last = time.monotonic() + 120, -1
    while time.monotonic() < end:
        h = health(c)
        if h["queued"] == 0 and (h["running"] >= len(got) or h["running"] == last):
            break
        last = h["running"]
        time.sleep(1)
    h = health(c)
    t_run = time.monotonic()
    print("running: %d, queued: %d (%.1f s after the last acceptance)" % (h["running"], h["queued"],
                                                                      t_run - t_end))
    time.sleep(2)
    fds, procs = count_fds(a.warden), cgroup_procs(a.cgroup)
    avail, slab = meminfo()
    print("steady: warden fds %d (%.3f per running task above %d idle), processes %d, MemAvailable %d MB,"
          " Slab %d MB" % (fds, (fds - a.idle_fds) / max(1, h["running"]), a.idle_fds, procs, avail, slab))
    rss = rss_kb(a.warden, a.front)
    print("jobcelld's bookkeeping (warden + front RSS): %d kB -> %d kB, %.2f kB per running task"
          % (rss0, rss, (rss - rss0) / max(1, h["running"])))
    if got:
        with open(os.path.join(a.out, "one"), "w") as f:
            f.write(got[len(got) // 2][1] + "\n")
        v = []
        for i in range(2000):
            tid = got[random.randrange(len(got))][1]
            t0 = time.monotonic()
            st, _ = req(c, "GET", "/api/tasks/" + tid)
            v.append((time.monotonic() - t0) * 1000)
        print("GET /api/tasks/{id}, one client, %d running: p50 %.2f ms, p99 %.2f ms, max %.2f ms"
              % (h["running"], pct(v, 50), pct(v, 99), max(v)))
    return 0 if len(got) == a.n and not errors else 1


def cmd_probe(a):
    """The GET probes alone, on one known task, until the file a.until holds
    a line starting 'held ' (bench/limit.c --hold: its tasks all started)."""
    stop, q, idqs = mp.Event(), mp.Queue(), [mp.Queue() for _ in PROBE_NICE]
    for idq in idqs:
        idq.put(a.id)
    procs = [mp.Process(target=get_sampler, args=(a.port, idq, stop, q, n))
             for idq, n in zip(idqs, PROBE_NICE)]
    for p in procs:
        p.start()
    deadline = time.monotonic() + a.max_seconds
    while time.monotonic() < deadline:
        with open(a.until) as f:
            if any(l.startswith("held ") for l in f):
                break
        time.sleep(0.2)
    stop.set()
    for _ in procs:
        _, nice, lat = q.get()
        v = [ms for _, ms in lat]
        print("  GET (20/s, nice %d): %d GETs, p50 %.2f ms, p99 %.2f ms, max %.2f ms"
              % (nice, len(v), pct(v, 50), pct(v, 99), max(v) if v else float("nan")))
    for p in procs:
        p.join()
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["submit", "probe"])
    ap.add_argument("--id", default="")
    ap.add_argument("--until", default="")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--lanes", type=int, default=4)
    ap.add_argument("--step", type=int, default=1000)
    ap.add_argument("--warden", type=int, default=0)
    ap.add_argument("--front", type=int, default=0)
    ap.add_argument("--idle-fds", type=int, default=0)
    ap.add_argument("--cgroup", default="")
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-seconds", type=float, default=1800)
    a = ap.parse_args()
    return cmd_probe(a) if a.what == "probe" else cmd_submit(a)


if __name__ == "__main__":
    sys.exit(main())
