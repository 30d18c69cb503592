"""followers.py — what N log followers cost the front: N connections follow
one sleeping task (GET .../logs?follow=1), then the front's RSS and thread
count are read, the task is cancelled and every stream must end.

Usage (as root, from the source tree, after meson compile -C build):
    python3 bench/followers.py [N]      (default 1000)
"""
import json, os, socket, subprocess, sys, tempfile, time, http.client, pwd
port = 8397
S = tempfile.mkdtemp(); u = "jobcell" if any(p.pw_name=="jobcell" for p in pwd.getpwall()) else "nobody"
pw = pwd.getpwnam(u); os.chown(S, pw.pw_uid, pw.pw_gid)
cfg = tempfile.mktemp(suffix=".json")
json.dump({"max_connections": 4000, "per_ip_connections": 4000}, open(cfg, "w"))
d = subprocess.Popen([os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "src", "jobcelld"), "--listen", "127.0.0.1:%d" % port, "--state-dir", S,
                      "--cgroup-name", "jc-stream-measure", "--user", u, "--config", cfg],
                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
time.sleep(2)
def req(m, p, b=None):
    c = http.client.HTTPConnection("127.0.0.1", port); c.request(m, p, body=json.dumps(b) if b else None, headers={"Content-Type": "application/json"} if b else {}); r = c.getresponse(); t = r.read(); c.close(); return json.loads(t)
t = req("POST", "/api/tasks", {"name": "m", "command": ["/bin/sh", "-c", "echo hi; sleep 600"]})
front = [int(p) for p in subprocess.check_output(["pgrep", "-P", str(d.pid)]).split()]
def stat(pid):
    s = open("/proc/%d/status" % pid).read()
    g = lambda k: [l for l in s.splitlines() if l.startswith(k)][0].split()[1]
    return int(g("VmRSS:")), int(g("Threads:"))
# front = the child that is not root
fr = [p for p in front if os.stat("/proc/%d" % p).st_uid != 0][0]
base = stat(fr)
N = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
socks = []
for i in range(N):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(("GET /api/tasks/%s/logs?follow=1 HTTP/1.1\r\nHost: x\r\n\r\n" % t["id"]).encode())
    socks.append(s)
time.sleep(2)
got = sum(1 for s in socks if b"hi\n" in s.recv(4096))
after = stat(fr)
print("followers %d (all got the first line: %d); front RSS %d kB -> %d kB (%.1f kB per follower); threads %d -> %d" %
      (N, got, base[0], after[0], (after[0] - base[0]) / N, base[1], after[1]))
req("DELETE", "/api/tasks/%s" % t["id"])
t0 = time.monotonic(); ended = 0
for s in socks:
    s.settimeout(30); data = b""
    while not data.endswith(b"0\r\n\r\n"):
        c = s.recv(4096)
        if not c: break
        data += c
    ended += data.endswith(b"0\r\n\r\n")
print("after cancel: %d/%d streams ended in %.2f s" % (ended, N, time.monotonic() - t0))
for s in socks: s.close()
d.terminate(); d.wait()
