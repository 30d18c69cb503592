#!/usr/bin/env python3
"""bench/cellcost.py — what a waiting cell costs when idle (docs/performance.md,
"Cells prepared ahead"): one daemon, pool_size 0 then N (a reload), ROUNDS
times (default 3), the median difference divided by N: kernel memory (MemAvailable, Slab, the subtree's
memory cgroup), warden descriptors, processes, and the CPU cells and warden
use while idle.  A benchmark, not a test: the host's other activity moves
MemAvailable, so run it on a quiet host and repeat.

    sudo JOBCELLD=build/src/jobcelld bench/cellcost.py [N] [IDLE_SECONDS]
"""
import json
import os
import signal
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tests", "integration"))
import harness  # noqa: E402

n = int(sys.argv[1]) if len(sys.argv) > 1 else 32
idle_s = float(sys.argv[2]) if len(sys.argv) > 2 else 10
harness.exit_if_skipped()


def meminfo():
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":")
            out[k] = int(v.split()[0])
    return out


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return int(rest[11]) + int(rest[12])


def subtree_memory(d):
    for ctl, base in harness.cgroup_bases(d.cgroup_name).items():
        for f in ("memory.current", "memory.usage_in_bytes"):
            p = os.path.join(base, f)
            if ctl in ("memory", "unified") and os.path.exists(p):
                return int(harness.read_text(p))
    return 0


def sample(d):
    os.system("sync")
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("2\n")   # dentries and inodes: the slab the mounts leave is what stays
    time.sleep(1)
    m = meminfo()
    return {"avail_kb": m["MemAvailable"], "slab_kb": m["Slab"], "sunreclaim_kb": m["SUnreclaim"],
            "cg_bytes": subtree_memory(d), "warden_fds": len(os.listdir("/proc/%d/fd" % d.proc.pid)),
            "cells": len(d.cell_pids())}


def reload(d, size):
    cfg = dict(d.config, pool_size=size)
    with open(d.config_path, "w") as f:
        json.dump(cfg, f)
    before = d.log_text().count("reload done")
    os.kill(d.proc.pid, signal.SIGHUP)
    deadline = time.monotonic() + 60
    while (d.log_text().count("reload done") == before or len(d.cell_pids()) != size) \
            and time.monotonic() < deadline:
        time.sleep(0.1)


rounds = int(os.environ.get("ROUNDS", "3"))
d = harness.Daemon(config={"pool_size": 0, "max_running": 64}).start()
try:
    diffs = []
    for r in range(rounds):   # 0 → N → 0 …: the host's own drift averages out in the median
        reload(d, 0)
        time.sleep(1)
        a = sample(d)
        reload(d, n)
        time.sleep(1)
        b = sample(d)
        diffs.append({k: (b[k] - a[k]) for k in a} | {"avail_kb": a["avail_kb"] - b["avail_kb"]})
    med = {k: sorted(x[k] for x in diffs)[len(diffs) // 2] for k in diffs[0]}
    cells = d.cell_pids()
    t0 = {p: cpu_ticks(p) for p in cells + [d.proc.pid]}
    time.sleep(idle_s)
    t1 = {p: cpu_ticks(p) for p in t0}
    hz = os.sysconf("SC_CLK_TCK")
    print("kernel %s, %d cells, median of %d rounds" % (os.uname().release, len(cells), rounds))
    print("per cell: MemAvailable -%.0f KiB, Slab +%.0f KiB (unreclaimable +%.0f KiB), "
          "subtree memory cgroup +%.0f KiB, warden fds +%.1f, processes %d" % (
              med["avail_kb"] / n, med["slab_kb"] / n, med["sunreclaim_kb"] / n, med["cg_bytes"] / 1024 / n,
              med["warden_fds"] / n, len(cells) // n))
    print("per round (KiB per cell, MemAvailable/Slab): " + ", ".join(
        "%.0f/%.0f" % (x["avail_kb"] / n, x["slab_kb"] / n) for x in diffs))
    print("idle %.0f s: CPU of all cells %.2f s, of the warden %.2f s" % (
        idle_s, sum(t1[p] - t0[p] for p in cells) / hz, (t1[d.proc.pid] - t0[d.proc.pid]) / hz))
finally:
    d.stop()
