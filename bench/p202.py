#!/usr/bin/env python3
"""bench/p202.py — the latency of the 202 path: sequential POST {"command":
["/bin/true"]} → 202 on one keep-alive connection, the state directory on
disk ($TMPDIR), a fresh daemon per run.  A benchmark, not a test.

    sudo TMPDIR=/var/tmp JOBCELLD=build/src/jobcelld [POOL_SIZE=2] bench/p202.py [N] [LABEL]

POOL_SIZE: the daemon's pool_size (cells built ahead; 0: none).

Run it alternately against two binaries (e.g. main's and a branch's) on the
same machine, several rounds, and compare the medians.
"""
import http.client
import json
import os
import statistics
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tests", "integration"))
import harness  # noqa: E402

n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
label = sys.argv[2] if len(sys.argv) > 2 else os.environ.get("JOBCELLD", "")
harness.exit_if_skipped()
pool = int(os.environ.get("POOL_SIZE", "2"))
d = harness.Daemon(config={"max_running": 64, "pool_size": pool}).start()
try:
    c = http.client.HTTPConnection("127.0.0.1", d.port)
    body = json.dumps({"name": "b", "command": ["/bin/true"]})
    lat = []
    for i in range(n):
        t0 = time.perf_counter()
        c.request("POST", "/api/tasks", body, {"Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        lat.append((time.perf_counter() - t0) * 1000)
        if r.status != 202:
            sys.exit("POST → %d" % r.status)
        if i % 50 == 49:
            time.sleep(0.3)   # let them end: never at max_running
    lat.sort()
    cells = {}
    for line in d.get("/metrics").raw.decode().splitlines():
        if line.startswith(("jobcell_cell_handovers_total ", "jobcell_cell_misses_total ")):
            cells[line.split()[0]] = int(float(line.split()[1]))
    print("%s pool_size=%d: n=%d p50=%.2f p90=%.2f p99=%.2f mean=%.2f ms (hand-overs %s, misses %s)" % (
        label, pool, n, lat[n // 2], lat[n * 9 // 10], lat[n * 99 // 100], statistics.mean(lat),
        cells.get("jobcell_cell_handovers_total"), cells.get("jobcell_cell_misses_total")))
    c.close()
finally:
    d.stop()
