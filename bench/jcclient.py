#!/usr/bin/env python3
"""jcclient.py — the HTTP client side of the jobcell benchmarks (bench/*.sh).

Keep-alive connections (http.client), one per lane; lanes are processes, so
they do not share a GIL.  Every loop is bounded in count and in time, and only
127.0.0.1 is ever contacted.

  spawn   --port P --n N --lanes L [--mode pipelined|strict] [--cmd JSON]
          pipelined: each lane POSTs, waits for 202 (the process has exec'd),
            POSTs the next; at the end wait until every task is terminal.
            Prints submit→202 percentiles and complete lifecycles/s.
          strict: each lane POSTs, then polls GET /api/tasks/ID until the task
            is terminal, then the next.  Prints POST→terminal percentiles.
  submit  --port P --n N [--cmd JSON]        submit N tasks, print their ids
  cancel  --port P --ids FILE                DELETE each, wait until all ended
  running --port P                           print how many tasks are alive
"""
import argparse
import http.client
import json
import multiprocessing as mp
import os
import signal
import sys
import time

HOST = "127.0.0.1"
TERMINAL = {"succeeded", "failed", "cancelled", "lost"}


def conn(port):
    return http.client.HTTPConnection(HOST, port, timeout=30)


def req(c, method, path, body=None):
    hdrs = {"Content-Type": "application/json"} if body is not None else {}
    c.request(method, path, body, hdrs)
    r = c.getresponse()
    return r.status, r.read()


def pct(v, p):
    if not v:
        return 0.0
    v = sorted(v)
    return v[min(len(v) - 1, int(p / 100.0 * (len(v) - 1) + 0.5))]


def die_of_sigint():
    """Quietly, and so that the calling shell sees the Ctrl-C (and cleans up)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)


def lane(port, n, body, mode, deadline, barrier, out):
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    lat, ids, errors = [], [], {}
    barrier.wait()
    t0 = time.monotonic()
    try:
        lane_loop(port, n, body, mode, deadline, lat, ids, errors)
    except (OSError, http.client.HTTPException) as e:  # e.g. the daemon died
        errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
    out.put({"lat": lat, "ids": ids, "errors": errors, "t0": t0, "t1": time.monotonic()})


def lane_loop(port, n, body, mode, deadline, lat, ids, errors):
    c = conn(port)
    for _ in range(n):
        if time.monotonic() > deadline:
            break
        s = time.monotonic()
        st, data = req(c, "POST", "/api/tasks", body)
        if st != 202:
            errors[st] = errors.get(st, 0) + 1
            continue
        tid = json.loads(data)["id"]
        ids.append(tid)
        if mode == "strict":
            # Poll, bounded: a no-op task ends in milliseconds.
            while time.monotonic() < deadline + 30:
                st, data = req(c, "GET", "/api/tasks/" + tid)
                if st == 200 and json.loads(data)["state"] in TERMINAL:
                    break
                time.sleep(0.0002)
        lat.append(time.monotonic() - s)


def alive(c):
    n = 0
    for state in ("queued", "running"):
        st, data = req(c, "GET", "/api/tasks?limit=1000&state=" + state)
        if st != 200:
            raise SystemExit("list: HTTP %d %s" % (st, data[:200]))
        n += len(json.loads(data)["tasks"])
    return n


def wait_all_ended(c, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if alive(c) == 0:
            return time.monotonic()
        time.sleep(0.0005)
    raise SystemExit("tasks still alive after %.0f s" % timeout)


def cmd_spawn(a):
    body = json.dumps({"name": "bench", "command": json.loads(a.cmd)})
    c = conn(a.port)
    for _ in range(a.warmup):  # warm up: caches, the warden's first spawns
        st, data = req(c, "POST", "/api/tasks", body)
        if st != 202:
            raise SystemExit("warm-up POST: HTTP %d %s" % (st, data[:200]))
    wait_all_ended(c, 30)
    per = [a.n // a.lanes + (1 if i < a.n % a.lanes else 0) for i in range(a.lanes)]
    ctx = mp.get_context("fork")
    barrier, out = ctx.Barrier(a.lanes + 1), ctx.Queue()
    deadline = time.monotonic() + a.max_seconds
    procs = [ctx.Process(target=lane, args=(a.port, per[i], body, a.mode, deadline, barrier, out))
             for i in range(a.lanes)]
    for p in procs:
        p.start()
    barrier.wait()
    t_start = time.monotonic()
    res = [out.get(timeout=a.max_seconds + 120) for _ in procs]
    for p in procs:
        p.join(10)
    # The warm-up connection sat idle while the lanes ran: past the server's
    # conn_timeout_s (30 s) it is closed.  A fresh one.
    c.close()
    c = conn(a.port)
    t_end = wait_all_ended(c, 60)
    lat = [x for r in res for x in r["lat"]]
    ids = [x for r in res for x in r["ids"]]
    errors = {}
    for r in res:
        for k, v in r["errors"].items():
            errors[k] = errors.get(k, 0) + v
    # Verify: every task we submitted ended well.
    bad = 0
    for tid in ids:
        st, data = req(c, "GET", "/api/tasks/" + tid)
        if st != 200 or json.loads(data).get("state") != "succeeded":
            bad += 1
    n = len(ids)
    print("n=%d fail=%d http_errors=%s p50_ms=%.3f p95_ms=%.3f p99_ms=%.3f max_ms=%.3f rate=%.1f"
          % (n, bad, json.dumps(errors, separators=(",", ":")) if errors else "0",
             pct(lat, 50) * 1e3, pct(lat, 95) * 1e3, pct(lat, 99) * 1e3,
             (max(lat) if lat else 0) * 1e3, n / (t_end - t_start) if t_end > t_start else 0))
    return 1 if bad or errors else 0


def cmd_submit(a):
    body = json.dumps({"name": "bench", "command": json.loads(a.cmd)})
    c = conn(a.port)
    for _ in range(a.n):
        st, data = req(c, "POST", "/api/tasks", body)
        if st != 202:
            raise SystemExit("POST: HTTP %d %s" % (st, data[:200]))
        print(json.loads(data)["id"])
    return 0


def cmd_cancel(a):
    c = conn(a.port)
    ids = [l.strip() for l in open(a.ids) if l.strip()]
    t0 = time.monotonic()
    codes = {}
    for tid in ids:
        st, _ = req(c, "DELETE", "/api/tasks/" + tid)
        codes[st] = codes.get(st, 0) + 1
    t_sent = time.monotonic()
    wait_all_ended(c, 60)
    t_end = time.monotonic()
    states = {}
    for tid in ids:
        st, data = req(c, "GET", "/api/tasks/" + tid)
        s = json.loads(data).get("state") if st == 200 else "http%d" % st
        states[s] = states.get(s, 0) + 1
    print("cancelled n=%d delete_codes=%s states=%s delete_ms=%.0f all_ended_ms=%.0f"
          % (len(ids), json.dumps(codes, separators=(",", ":")), json.dumps(states, separators=(",", ":")),
             (t_sent - t0) * 1e3, (t_end - t0) * 1e3))
    return 0 if states.get("cancelled", 0) == len(ids) else 1


def cmd_running(a):
    print(alive(conn(a.port)))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["spawn", "submit", "cancel", "running"])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--lanes", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--mode", choices=["pipelined", "strict"], default="pipelined")
    ap.add_argument("--max-seconds", type=float, default=60)
    ap.add_argument("--cmd", default='["/bin/true"]')
    ap.add_argument("--ids")
    a = ap.parse_args()
    return {"spawn": cmd_spawn, "submit": cmd_submit, "cancel": cmd_cancel, "running": cmd_running}[a.what](a)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, http.client.HTTPException) as e:
        sys.exit("jcclient: jobcelld unreachable or gone: %s: %s" % (type(e).__name__, e))
    except KeyboardInterrupt:
        die_of_sigint()
