#!/usr/bin/env python3
"""ocibundle.py SPEC ROOTFS POLICY PROGRAM — rewrite the `crun spec` output SPEC
in place so that `crun run` isolates PROGRAM as closely to a jobcell task as
crun can: user (0 → one unprivileged host id), pid, mount, uts, ipc, net and
cgroup namespaces; read-only ROOTFS; /proc, a small /dev, a 64 MB /tmp; no
capabilities; no_new_privs; jobcell's seccomp allow-list POLICY (OCI format
already); memory 256 MB without swap, 64 pids, 1 CPU (jobcell's defaults).
Part of bench/spawn.sh."""
import json
import sys

spec_path, rootfs, policy, prog = sys.argv[1:5]
d = json.load(open(spec_path))
d["root"] = {"path": rootfs, "readonly": True}
p = d["process"]
p.update({"terminal": False, "args": [prog], "env": ["PATH=/usr/bin:/bin"], "cwd": "/",
          "user": {"uid": 0, "gid": 0}, "noNewPrivileges": True,
          "capabilities": {k: [] for k in ("bounding", "effective", "inheritable", "permitted", "ambient")}})
p.pop("rlimits", None)
d["hostname"] = "bench"
d["mounts"] = [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755", "size=64k"]},
    {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "nodev", "mode=1777", "size=65536k"]},
]
lx = d["linux"]
lx["namespaces"] = [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "user", "cgroup")]
lx["uidMappings"] = [{"containerID": 0, "hostID": 1900000, "size": 1}]
lx["gidMappings"] = [{"containerID": 0, "hostID": 1900000, "size": 1}]
mem = 256 << 20
lx["resources"] = {"devices": [{"allow": False, "access": "rwm"}],
                   "memory": {"limit": mem, "swap": mem},
                   "pids": {"limit": 64},
                   "cpu": {"quota": 100000, "period": 100000}}
pol = json.load(open(policy))
pol.pop("comment", None)
for s in pol.get("syscalls", []):
    s.pop("comment", None)
lx["seccomp"] = pol
json.dump(d, open(spec_path, "w"), indent=1)
