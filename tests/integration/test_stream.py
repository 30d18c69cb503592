"""test_stream.py — following a task's output live (GET .../logs?follow=1,
?offset=N, Server-Sent Events), many and stalled followers, and a task's
stdin and input files — all through the real daemon over HTTP."""

import base64
import http.client
import json
import os
import signal
import socket
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import DaemonTestCase, scaled

STDIN_MAX = 1 << 20        # src/task.h JC_STDIN_MAX
FILES_MAX = 16             # JC_FILES_MAX
FILES_BYTES_MAX = 1 << 20  # JC_FILES_BYTES_MAX
STALL_TIMEOUT = int(scaled(30))   # conn_timeout_s: a stalled follower goes after this


def program_pid(init_pid):
    """The host pid of the task's program: jobcell-init's child."""
    path = "/proc/%d/task/%d/children" % (init_pid, init_pid)
    deadline = time.monotonic() + scaled(10)
    while time.monotonic() < deadline:
        with open(path) as f:
            kids = f.read().split()
        if kids:
            return int(kids[0])
        time.sleep(0.05)
    raise AssertionError("jobcell-init %d has no child" % init_pid)


# A shell that waits for SIGUSR1 (sent by the test) before it goes on: the
# test decides when output starts, no timing involved.
GATE = "trap 'go=1' USR1; echo ready; while [ -z \"$go\" ]; do sleep 0.05; done; "


class Follow:
    """One GET .../logs follower on its own connection."""

    def __init__(self, port, path, headers=None, timeout=None):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout or scaled(60))
        self.conn.request("GET", path, headers=headers or {})
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.data = b""

    def read_until(self, needle):
        while needle not in self.data:
            chunk = self.resp.read1(65536)
            if not chunk:
                raise AssertionError("stream ended before %r; got %r" % (needle, self.data[-200:]))
            self.data += chunk
        return self.data

    def read_all(self):
        self.data += self.resp.read()   # to the end of the chunked body
        self.conn.close()
        return self.data

    def close(self):
        self.conn.close()


def parse_sse(text):
    """Server-Sent Events (the WHATWG parsing rules, LF line ends) →
    [(event, data, id)]."""
    events, data, event, last_id = [], [], "message", None
    for line in text.split("\n"):
        if line == "":
            if data:
                events.append((event, "\n".join(data), last_id))
            data, event = [], "message"
            continue
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            data.append(value)
        elif field == "event":
            event = value
        elif field == "id":
            last_id = value
    return events


class Stream(DaemonTestCase):
    daemon_kwargs = {"config": {"max_body_kb": 4096, "conn_timeout_s": STALL_TIMEOUT}}

    def submit_sh(self, script, **fields):
        fields.setdefault("name", "stream")
        return self.d.submit_ok(command=["/bin/sh", "-c", script], **fields)

    def follow(self, task_id, query="follow=1", headers=None):
        return Follow(self.d.port, "/api/tasks/%s/logs?%s" % (task_id, query), headers)

    # ---- following ------------------------------------------------------

    def test_output_arrives_while_the_task_runs(self):
        # "second" is printed only after the cancel, i.e. never: seeing
        # "first" proves it came while the task was running.
        b = self.submit_sh("echo first; sleep 600; echo second")
        f = self.follow(b["id"])
        self.assertEqual(f.status, 200)
        self.assertEqual(f.resp.getheader("Transfer-Encoding"), "chunked")
        self.assertTrue(f.resp.getheader("Content-Type").startswith("text/plain"))
        f.read_until(b"first\n")
        self.assertEqual(self.d.task(b["id"])["state"], "running")
        self.assertEqual(self.d.delete("/api/tasks/%s" % b["id"]).status, 202)
        self.assertEqual(f.read_all(), b"first\n")   # ends with the task
        self.assertRecordEnd(self.d.task(b["id"]), "cancelled", "cancelled")

    def test_stream_ends_when_the_task_ends(self):
        b = self.submit_sh(GATE + "echo one; sleep 1; echo two; exit 3")
        f = self.follow(b["id"])
        f.read_until(b"ready\n")
        os.kill(program_pid(b["pid"]), signal.SIGUSR1)
        self.assertEqual(f.read_all(), b"ready\none\ntwo\n")
        # The stream ends only once the record is terminal.
        self.assertRecordEnd(self.d.task(b["id"]), "failed", "exited", exit_code=3)

    def test_finished_task_whole_log(self):
        rec, logs = self.d.sh("seq 1 2000")
        f = self.follow(rec["id"])
        self.assertEqual(f.read_all().decode(), logs)
        self.assertEqual(logs, "".join("%d\n" % i for i in range(1, 2001)))

    def test_task_without_output(self):
        rec, logs = self.d.sh("true")
        self.assertEqual(logs, "")
        self.assertEqual(self.follow(rec["id"]).read_all(), b"")

    def test_unknown_and_bad_parameters(self):
        self.assertError(self.d.get("/api/tasks/00000000-0000-4000-8000-000000000000/logs?follow=1"),
                         404, "no task")
        self.assertError(self.d.get("/api/tasks/nope/logs?follow=1",
                                    headers={"Accept": "text/event-stream"}), 404, "no task")
        rec, _ = self.d.sh("echo x")
        for q, word in (("follow=yes", "follow"), ("follow=", "follow"), ("offset=-1", "offset"),
                        ("offset=1.5", "offset"), ("offset=", "offset"), ("offset=0x10", "offset"),
                        ("offset=99999999999999999999", "offset"),
                        ("follow=1&offset=abc", "offset")):
            self.assertError(self.d.get("/api/tasks/%s/logs?%s" % (rec["id"], q)), 400, word)
        self.assertError(self.d.get("/api/tasks/%s/logs?follow=1" % rec["id"],
                                    headers={"Accept": "text/event-stream", "Last-Event-ID": "x"}),
                         400, "Last-Event-ID")

    # ---- offsets --------------------------------------------------------

    def test_offset_resumes_exactly(self):
        rec, logs = self.d.sh("i=0; while [ $i -lt 300 ]; do echo line $i; i=$((i+1)); done")
        raw = logs.encode()
        for off in (0, 1, 7, len(raw) // 2, len(raw) - 1, len(raw), len(raw) + 10, 1 << 53):
            got = self.follow(rec["id"], "follow=1&offset=%d" % off).read_all()
            self.assertEqual(got, raw[off:], "follow from offset %d" % off)
            plain = self.d.get("/api/tasks/%s/logs?offset=%d" % (rec["id"], off))
            self.assertEqual(plain.status, 200)
            self.assertEqual(plain.raw, raw[off:], "plain log from offset %d" % off)

    def test_offset_resume_while_running(self):
        b = self.submit_sh(GATE + "echo part1; sleep 600")
        f = self.follow(b["id"])
        first = f.read_until(b"ready\n")
        f.close()   # the client went away mid-task; it comes back where it was
        g = self.follow(b["id"], "follow=1&offset=%d" % len(first))
        os.kill(program_pid(b["pid"]), signal.SIGUSR1)
        g.read_until(b"part1\n")
        self.assertEqual(first + g.data, b"ready\npart1\n")
        self.d.delete("/api/tasks/%s" % b["id"])
        self.assertEqual(first + g.read_all(), b"ready\npart1\n")

    # ---- Server-Sent Events --------------------------------------------

    def test_sse_framing_and_end_event(self):
        script = "printf 'a\\nbb\\n\\nno newline at the end'; sleep 1; printf ' then more\\nlast\\n'"
        rec, logs = self.d.sh(script)
        f = self.follow(rec["id"], "follow=1", {"Accept": "text/event-stream"})
        self.assertEqual(f.resp.getheader("Content-Type"), "text/event-stream")
        self.assertEqual(f.resp.getheader("Cache-Control"), "no-cache")
        text = f.read_all().decode()
        self.assertTrue(text.endswith("\n\n"), text[-100:])
        events = parse_sse(text)
        self.assertGreaterEqual(len(events), 2, text)
        *output, end = events
        self.assertEqual(end[0], "end", text)
        record = json.loads(end[1])
        self.assertEqual(record["id"], rec["id"])
        self.assertEqual(record["state"], "succeeded")
        self.assertEqual(record, self.d.task(rec["id"]))
        self.assertTrue(all(e[0] == "message" for e in output), output)
        self.assertEqual("".join(e[1] for e in output), logs)   # exact, concatenated
        offsets = [int(e[2]) for e in output]
        self.assertEqual(offsets, sorted(offsets))
        self.assertEqual(offsets[-1], len(logs.encode()))   # id: the byte offset after it

    def test_sse_live_and_resume_by_last_event_id(self):
        b = self.submit_sh(GATE + "echo one; echo two; sleep 600")
        f = self.follow(b["id"], "", {"Accept": "text/event-stream"})   # SSE alone means follow
        f.read_until(b"ready")
        os.kill(program_pid(b["pid"]), signal.SIGUSR1)
        f.read_until(b"two")
        f.close()
        first = parse_sse(f.data.decode())
        self.assertEqual("".join(e[1] for e in first), "ready\none\ntwo\n")
        last_id = first[-1][2]
        self.assertEqual(int(last_id), len(b"ready\none\ntwo\n"))
        g = self.follow(b["id"], "follow=1", {"Accept": "text/event-stream", "Last-Event-ID": last_id})
        self.d.delete("/api/tasks/%s" % b["id"])
        events = parse_sse(g.read_all().decode())
        self.assertEqual([e[0] for e in events], ["end"], events)   # nothing new, then the end
        self.assertEqual(json.loads(events[0][1])["state"], "cancelled")

    def test_sse_ignored_without_follow(self):
        rec, logs = self.d.sh("echo plain")
        r = self.d.get("/api/tasks/%s/logs?follow=0" % rec["id"], headers={"Accept": "text/event-stream"})
        self.assertEqual((r.status, r.raw), (200, b"plain\n"))
        self.assertTrue(r.headers["Content-Type"].startswith("text/plain"))

    # ---- many and stalled followers -------------------------------------

    def test_fifty_followers(self):
        b = self.submit_sh(GATE + "i=0; while [ $i -lt 3000 ]; do echo line $i; i=$((i+1)); done")
        want = b"ready\n" + b"".join(b"line %d\n" % i for i in range(3000))
        followers = [self.follow(b["id"]) for _ in range(50)]
        for f in followers:
            f.read_until(b"ready\n")
        os.kill(program_pid(b["pid"]), signal.SIGUSR1)
        got = [None] * len(followers)

        def drain(i):
            got[i] = followers[i].read_all()
        threads = [threading.Thread(target=drain, args=(i,)) for i in range(len(followers))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(scaled(120))
        self.assertTrue(all(g == want for g in got),
                        [i for i, g in enumerate(got) if g != want])
        self.assertRecordEnd(self.d.task(b["id"]), "succeeded", "exited")

    def server_side_state(self, client_port):
        """TCP state (hex, /proc/net/tcp) of the daemon's end of the
        connection from client_port; None when it is gone."""
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                with open(table) as f:
                    rows = f.read().splitlines()[1:]
            except OSError:
                continue
            for row in rows:
                cols = row.split()
                local, remote = cols[1].split(":")[1], cols[2].split(":")[1]
                if int(local, 16) == self.d.port and int(remote, 16) == client_port:
                    return cols[3]
        return None

    def test_stalled_follower_is_dropped_and_slows_nothing(self):
        size = 8 << 20
        b = self.submit_sh(GATE + "head -c %d /dev/zero | tr '\\0' x" % size,
                           limits={"output_kb": 16384})
        stalled = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", self.d.port))
        stalled.sendall(b"GET /api/tasks/%s/logs?follow=1 HTTP/1.1\r\nHost: x\r\n\r\n" % b["id"].encode())
        stalled_port = stalled.getsockname()[1]
        readers = [self.follow(b["id"]) for _ in range(3)]
        for f in readers:
            f.read_until(b"ready\n")
        os.kill(program_pid(b["pid"]), signal.SIGUSR1)
        got = [None] * len(readers)
        threads = [threading.Thread(target=lambda i=i: got.__setitem__(i, readers[i].read_all()))
                   for i in range(len(readers))]
        for t in threads:
            t.start()
        rec = self.d.wait_terminal(b["id"], timeout=120)
        # The task ended on its own while the stalled follower was still
        # connected: the follower did not hold it back.
        self.assertRecordEnd(rec, "succeeded", "exited", exit_code=0)
        self.assertEqual(self.server_side_state(stalled_port), "01", "stalled follower not connected")
        for t in threads:
            t.join(scaled(120))
        want = b"ready\n" + b"x" * size
        self.assertTrue(all(g == want for g in got), [len(g or b"") for g in got])
        self.assertEqual(self.d.get("/healthz").status, 200)
        # Dropped after conn_timeout_s without progress: the daemon's end
        # leaves ESTABLISHED (closing, or gone).
        deadline = time.monotonic() + STALL_TIMEOUT + scaled(60)
        while self.server_side_state(stalled_port) == "01" and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertNotEqual(self.server_side_state(stalled_port), "01", "stalled follower never dropped")
        stalled.settimeout(scaled(30))
        received = b""
        try:
            while True:
                chunk = stalled.recv(1 << 20)
                if not chunk:
                    break
                received += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        stalled.close()
        self.assertLess(len(received), size, "the stalled follower got everything")
        self.assertFalse(received.endswith(b"\r\n0\r\n\r\n"), "the stalled stream ended normally")

    # ---- stdin ----------------------------------------------------------

    def test_stdin_text_round_trip(self):
        text = "hello\nworld — ünïcode\n\tno newline at the end"
        b = self.d.submit_ok(name="cat", command=["/bin/cat"], stdin=text)
        rec = self.d.wait_terminal(b["id"])
        self.assertRecordEnd(rec, "succeeded", "exited", exit_code=0)
        self.assertEqual(self.d.logs(b["id"]), text)

    def test_stdin_base64_binary(self):
        data = bytes(range(256)) * 40 + b"\0\0\0end\0"
        b = self.d.submit_ok(name="cat", command=["/bin/cat"],
                             stdin={"base64": base64.b64encode(data).decode()})
        self.d.wait_terminal(b["id"])
        r = self.d.get("/api/tasks/%s/logs" % b["id"])
        self.assertEqual(r.raw, data)

    def test_stdin_counted_at_the_bound(self):
        for n in (0, 1, STDIN_MAX):
            b = self.d.submit_ok(name="wc", command=["/bin/sh", "-c", "wc -c"],
                                 stdin={"base64": base64.b64encode(b"\xff" * n).decode()})
            rec = self.d.wait_terminal(b["id"])
            self.assertRecordEnd(rec, "succeeded", "exited")
            self.assertEqual(self.d.logs(b["id"]).strip(), str(n))

    def test_stdin_over_the_bound(self):
        r = self.d.submit(name="big", command=["/bin/cat"], stdin="a" * (STDIN_MAX + 1))
        self.assertError(r, 413, "'stdin'", str(STDIN_MAX))
        r = self.d.submit(name="big", command=["/bin/cat"],
                          stdin={"base64": base64.b64encode(b"a" * (STDIN_MAX + 3)).decode()})
        self.assertError(r, 413, "'stdin'")

    def test_stdin_bad_forms(self):
        for value, word in ((5, "'stdin'"), ([], "'stdin'"), ({"base64": "abc"}, "stdin.base64"),
                            ({"base64": "ab$="}, "stdin.base64"), ({"hex": "00"}, "'stdin'"),
                            ({"base64": 1}, "stdin.base64"), (None, "'stdin'")):
            r = self.d.submit(name="bad", command=["/bin/cat"], stdin=value)
            self.assertError(r, 400, word)

    def test_no_stdin_is_dev_null(self):
        rec, logs = self.d.sh("readlink /proc/self/fd/0; cat | wc -c; head -c 1 </dev/stdin | wc -c")
        self.assertRecordEnd(rec, "succeeded", "exited")
        self.assertEqual(logs.split(), ["/dev/null", "0", "0"])

    def test_stdin_eof_and_read_only(self):
        # After the bytes comes EOF; fd 0 cannot be written (sealed).
        b = self.d.submit_ok(name="eof", command=["/bin/sh", "-c",
                             "read a; echo got:$a; cat; echo rest-done; (echo x >&0) 2>/dev/null && echo wrote || echo refused"],
                             stdin="first\nsecond\n")
        self.d.wait_terminal(b["id"])
        self.assertEqual(self.d.logs(b["id"]).splitlines(), ["got:first", "second", "rest-done", "refused"])

    # ---- files ----------------------------------------------------------

    def test_files_placed_in_tmp(self):
        binary = bytes(range(256)) + b"\0tail"
        files = {"input.txt": "some text\nline 2\n", "data.bin": {"base64": base64.b64encode(binary).decode()},
                 "empty": "", "run.sh": "echo from a script file\n", "...": "dots"}
        b = self.d.submit_ok(name="files", command=["/bin/sh", "-c",
                             "stat -c '%a %s %u %n' /tmp/* /tmp/...; sh /tmp/run.sh; cat /tmp/data.bin"],
                             files=files)
        rec = self.d.wait_terminal(b["id"])
        self.assertRecordEnd(rec, "succeeded", "exited")
        raw = self.d.get("/api/tasks/%s/logs" % b["id"]).raw
        lines = raw.split(b"\n")
        stats = {l.split()[3].decode(): l.split()[:3] for l in lines[:5]}
        self.assertEqual(stats, {
            "/tmp/...": [b"644", b"4", b"0"], "/tmp/data.bin": [b"644", str(len(binary)).encode(), b"0"],
            "/tmp/empty": [b"644", b"0", b"0"], "/tmp/input.txt": [b"644", b"17", b"0"],
            "/tmp/run.sh": [b"644", b"24", b"0"]}, raw)
        self.assertEqual(lines[5], b"from a script file")
        self.assertEqual(b"\n".join(lines[6:]), binary)

    def test_files_exact_content(self):
        text = "line\r\nwith CRLF\n\u00e9\u4e2d\n"
        b = self.d.submit_ok(name="files", command=["/bin/cat", "/tmp/a"], files={"a": text})
        self.d.wait_terminal(b["id"])
        self.assertEqual(self.d.get("/api/tasks/%s/logs" % b["id"]).raw, text.encode())

    def test_files_at_the_bounds(self):
        # 16 files, 1 MiB in all, into the smallest tmpfs (1 MiB).
        each = FILES_BYTES_MAX // FILES_MAX
        files = {"f%02d" % i: {"base64": base64.b64encode(bytes([i]) * each).decode()}
                 for i in range(FILES_MAX)}
        b = self.d.submit_ok(name="bounds", command=["/bin/sh", "-c", "cat /tmp/f* | wc -c; ls /tmp | wc -l"],
                             files=files, limits={"tmpfs_mb": 1})
        rec = self.d.wait_terminal(b["id"])
        self.assertRecordEnd(rec, "succeeded", "exited")
        self.assertEqual(self.d.logs(b["id"]).split(), [str(FILES_BYTES_MAX), str(FILES_MAX)])

    def test_files_refused(self):
        for name in ("a/b", "..", ".", "", "../../etc/x", "/abs", "sp ace", "\u00fc", "x" * 65, "a\nb"):
            r = self.d.submit(name="bad", command=["/bin/true"], files={name: "x"})
            self.assertError(r, 400, "'files'", "name")
        r = self.d.submit(name="bad", command=["/bin/true"],
                          files={"f%d" % i: "x" for i in range(FILES_MAX + 1)})
        self.assertError(r, 400, "'files'", str(FILES_MAX))
        r = self.d.submit(name="bad", command=["/bin/true"],
                          files={"a": "x" * (FILES_BYTES_MAX // 2), "b": "y" * (FILES_BYTES_MAX // 2 + 1)})
        self.assertError(r, 413, "'files'", str(FILES_BYTES_MAX))
        for value in (["a"], "a", 3):
            self.assertError(self.d.submit(name="bad", command=["/bin/true"], files=value), 400, "'files'")
        self.assertError(self.d.submit(name="bad", command=["/bin/true"], files={"a": 1}), 400, "files.a")

    def test_stdin_and_files_with_the_worker_and_a_follower(self):
        b = self.d.submit_ok(name="mix", command=["/bin/sh", "/tmp/s.sh"], stdin="abc",
                             files={"s.sh": "echo script; cat; echo; cat /tmp/d\n", "d": "data\n"})
        f = self.follow(b["id"])
        self.assertEqual(f.read_all(), b"script\nabc\ndata\n")
        w = self.d.submit_ok(name="wrk", duration=0, stdin="ignored", files={"x": "y"})
        self.assertRecordEnd(self.d.wait_terminal(w["id"]), "succeeded", "exited")


class Shutdown(unittest.TestCase):
    """Followers do not keep the daemon from stopping, and they end cleanly."""

    def test_sigterm_ends_every_follower(self):
        d = harness.Daemon().start()
        threads, got = [], {}
        try:
            b = d.submit_ok(name="long", command=["/bin/sh", "-c", "echo started; sleep 600"])
            plain = Follow(d.port, "/api/tasks/%s/logs?follow=1" % b["id"])
            sse = Follow(d.port, "/api/tasks/%s/logs" % b["id"], {"Accept": "text/event-stream"})
            plain.read_until(b"started\n")
            sse.read_until(b"started")
            threads = [threading.Thread(target=lambda k=k, f=f: got.__setitem__(k, f.read_all()))
                       for k, f in (("plain", plain), ("sse", sse))]
            for t in threads:
                t.start()
        finally:
            d.stop()   # asserts it exits in time and leaves nothing behind
        for t in threads:
            t.join(scaled(30))
        self.assertEqual(got.get("plain"), b"started\n")
        events = parse_sse(got.get("sse", b"").decode())
        self.assertEqual(events[-1][0], "end", events)
        self.assertIn(json.loads(events[-1][1])["state"], ("cancelled", "lost"))

    def test_a_stalled_follower_still_gets_its_end(self):
        # Half a MiB of log, far more than the socket buffers hold, and a
        # follower that reads nothing for a while after SIGTERM: the front
        # must keep serving it until its end event is out (bounded by the
        # front's own drain deadline, 10 s, not by the stall).  Before the
        # fix it gave streams 2 s, then stopped the server: a cut stream.
        d = harness.Daemon().start()
        got, t = {}, None
        try:
            b = d.submit_ok(name="much", command=["/bin/sh", "-c",
                            "echo started; yes | head -c 524288; echo; echo done; sleep 600"])
            d.wait_running(b["id"])
            deadline = time.monotonic() + scaled(60)
            while "done" not in d.logs(b["id"]):
                self.assertLess(time.monotonic(), deadline, "the task never wrote its output")
                time.sleep(0.1)
            sse = SmallBufferFollow(d.port, "/api/tasks/%s/logs" % b["id"],
                                    {"Accept": "text/event-stream"})
            sse.read_until(b"started")

            def stalled_reader():
                time.sleep(4)   # the stall (the server's old 2 s grace), not an assertion
                got["sse"] = sse.read_all()
            t = threading.Thread(target=stalled_reader)
            t.start()
        finally:
            d.stop()
        t.join(scaled(60))
        events = parse_sse(got.get("sse", b"").decode())
        self.assertTrue(events, "the stream was cut: nothing read after the stall")
        self.assertEqual(events[-1][0], "end", events[-3:])
        self.assertIn(json.loads(events[-1][1])["state"], ("cancelled", "lost"))
        text = "\n".join(e[1] for e in events if e[0] != "end")
        self.assertEqual(text.count("y"), 524288 // 2, "log lost in the stream")


class SmallBufferFollow(Follow):
    """A follower whose socket receive buffer is small and fixed (no
    autotuning), so that what it does not read stays on the server."""

    def __init__(self, port, path, headers=None):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=scaled(60))
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        sock.settimeout(scaled(60))
        sock.connect(("127.0.0.1", port))
        self.conn.sock = sock
        self.conn.request("GET", path, headers=headers or {})
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.data = b""


if __name__ == "__main__":
    harness.main()
