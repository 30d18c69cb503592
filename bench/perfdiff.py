#!/usr/bin/env python3
"""bench/perfdiff.py — two whole-host profiles of the same spawns side by
side: where one tool's CPU per spawn goes against the other's.  A
benchmark's report, not a test; run by bench/spawn.sh (a target missed)
and usable by hand:

    perfdiff.py A.data A_SPAWNS B.data B_SPAWNS [--names A,B] [--top K]
    perfdiff.py --kernel K DATA     (one line: DATA's K largest kernel
                                     symbols, % of the host's busy time)

Each DATA is a `perf record -a -e cpu-clock` of the host while one tool
ran SPAWNS spawns.  Every figure is milliseconds of CPU per spawn (the
sampled time of the whole host, idle excluded, over the spawns): by
process (threads named apart: jc-ipc, MHD-worker, ...; kworker/u4:2 and
its kind counted together), kernel against user code, and by kernel
symbol, the largest differences first.  Ends with three lines a script
can quote: "In short: ..." (where A's CPU per spawn differs from B's),
"Kernel symbols A spends most more on ...", and "B alone: ..." (B's own
CPU per spawn, its kernel share and its largest kernel entries).  Needs
perf (linux-perf)."""
import argparse
import collections
import re
import subprocess
import sys


def load(path):
    """{(comm, kernel?, sym): samples}, total samples, ns per sample."""
    out = subprocess.run(
        ["perf", "report", "-i", path, "--no-children", "--sort", "comm,dso,sym", "--stdio",
         "-g", "none", "-n", "-t", "|"],
        capture_output=True, text=True, check=True).stdout
    events = re.search(r"^# Event count \(approx\.\): (\d+)", out, re.M)
    counts = collections.Counter()
    total = 0
    for line in out.splitlines():
        if line.startswith("#") or line.count("|") < 4:
            continue
        _, samples, comm, dso, sym = (f.strip() for f in line.split("|", 4))
        if not samples.isdigit():
            continue
        n = int(samples)
        total += n
        counts[(group(comm), dso == "[kernel.kallsyms]", sym.split("] ", 1)[-1])] += n
    if not events or not total:
        sys.exit("perfdiff: %s: no samples" % path)
    return counts, int(events.group(1)) / total


def group(comm):
    """One name for a kind of kernel thread (kworker/u4:2-events: kworker)."""
    return re.sub(r"/.*", "", comm)


# What each process does for a spawn, so that jobcell's processes can be
# set against the limit's, which does the same steps in fewer of them.
ROLES = [
    ("the sandbox, made and removed", ("jobcell-limit", "jc-cells", "jobcelld", "jobcell-spawn", "jc-sweeper"),
     "limit: its lanes; jobcell: jc-cells and the warden's main thread (cgroup, clone3, "
     "the trampoline), the stub jobcell-spawn (mounts, pivot_root, seccomp), jc-sweeper (rmdir)"),
    ("jobcell-init and the task", ("jobcell-init", "jc-noop", "true"), ""),
    ("jobcell's HTTP, records, monitor", ("MHD-", "jc-ipc", "jc-monitor", "jc-table",
                                          "jc-checkpoint", "jc-waits", "jc-follow", "jc-conn-reaper"),
     "the limit has none"),
    ("the HTTP client", ("jobcell-postloo",), "bench/postloop.c"),
    ("kernel threads", ("kworker", "ksoftirqd", "rcu_preempt", "rcu_sched", "migration", "kdamond.0",
                        "kcompactd0", "khugepaged"), "deferred work: namespaces' and cgroups' teardown"),
]


def role(comm):
    """A name ending in '-' stands for every thread it begins (MHD-worker, ...)."""
    for name, comms, _ in ROLES:
        if any(comm == c or (c.endswith("-") and comm.startswith(c)) for c in comms):
            return name
    return "other"


def per_spawn(counts, ns, spawns, key):
    """ms per spawn by key(comm, kernel, sym); the idle loop left out."""
    ms = collections.Counter()
    for (comm, kernel, sym), n in counts.items():
        if comm != "swapper":
            ms[key(comm, kernel, sym)] += n * ns / 1e6 / spawns
    return ms


def table(title, a, b, names, top, order):
    keys = sorted(set(a) | set(b), key=order)[:top]
    print(title)
    print("  %-44s %10s %10s %10s" % ("", names[0], names[1], "difference"))
    for k in keys:
        print("  %-44s %10.3f %10.3f %+10.3f" % (k[:44], a[k], b[k], a[k] - b[k]))


def kernel_line(path, k):
    """One profile's K largest kernel symbols, as shares of the host's busy time."""
    counts, ns = load(path)
    busy = per_spawn(counts, ns, 1, lambda c, kernel, s: "all")["all"]
    syms = per_spawn(counts, ns, 1, lambda c, kernel, s: s if kernel else None)
    syms.pop(None, None)
    print(", ".join("%s %.1f %%" % (s, 100 * t / busy) for s, t in syms.most_common(k)))
    return 0


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--kernel":
        return kernel_line(sys.argv[3], int(sys.argv[2]))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("a")
    p.add_argument("a_spawns", type=int)
    p.add_argument("b")
    p.add_argument("b_spawns", type=int)
    p.add_argument("--names", default="A,B")
    p.add_argument("--top", type=int, default=10)
    o = p.parse_args()
    names = o.names.split(",", 1)
    if len(names) != 2:
        p.error("--names: two names, a comma between them")
    (ca, nsa), (cb, nsb) = load(o.a), load(o.b)

    def view(key):
        return per_spawn(ca, nsa, o.a_spawns, key), per_spawn(cb, nsb, o.b_spawns, key)

    a, b = view(lambda c, k, s: "all")
    print("CPU ms per spawn, the whole host (idle excluded): %s %.3f, %s %.3f, difference %+.3f"
          % (names[0], a["all"], names[1], b["all"], a["all"] - b["all"]))
    code_a, code_b = view(lambda c, k, s: "kernel code" if k else "user code")
    table("By code:", code_a, code_b, names, 2, lambda k: k)
    a, b = view(lambda c, k, s: c)
    table("By process (the largest first):", a, b, names, o.top, lambda k: -max(a[k], b[k]))
    a, b = view(lambda c, k, s: role(c))
    order = [r[0] for r in ROLES] + ["other"]
    table("By role:", a, b, names, len(order), order.index)
    for name, _, what in ROLES:
        if what:
            print("    (%s: %s)" % (name, what))
    most = sorted(set(a) | set(b), key=lambda k: -(a[k] - b[k]))[:3]
    summary = ("In short: %s - %s = kernel code %+.3f ms, user code %+.3f ms per spawn; the "
               "roles that differ most: %s" % (names[0], names[1],
                                         code_a["kernel code"] - code_b["kernel code"],
                                         code_a["user code"] - code_b["user code"],
                                         ", ".join("%s %+.3f" % (k, a[k] - b[k]) for k in most)))
    a, b = view(lambda c, k, s: s if k else None)
    a.pop(None, None)
    b.pop(None, None)
    table("Kernel symbols, by the difference (%s - %s):" % tuple(names), a, b, names, o.top,
          lambda k: -abs(a[k] - b[k]))
    table("Kernel symbols, %s's largest:" % names[1], a, b, names, o.top, lambda k: -b[k])
    print(summary)
    grown = sorted(a, key=lambda k: -(a[k] - b[k]))[:3]
    print("Kernel symbols %s spends most more on than %s: %s" % (names[0], names[1], ", ".join(
        "%s %+.3f ms" % (k, a[k] - b[k]) for k in grown)))
    # What B (the limit) costs alone: the kernel's part of the steps both do.
    largest = sorted(b, key=lambda k: -b[k])[:3]
    print("%s alone: %.3f ms per spawn, %.0f %% of it kernel code; its largest kernel entries: %s"
          % (names[1], code_b["kernel code"] + code_b["user code"],
             100 * code_b["kernel code"] / max(code_b["kernel code"] + code_b["user code"], 1e-9),
             ", ".join("%s %.3f ms" % (k, b[k]) for k in largest)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
