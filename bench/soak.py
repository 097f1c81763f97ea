#!/usr/bin/env python3
"""The daemon under faults (issue 17), driven by bench/soak.

Starts the release `redline serve` on a generated history plus a directory of its own to
append to, and runs, one after the other, on loopback only and bounded in time and count:

  flood    SOAK_FLOOD idle connections (default 2000), held 8 s
  trickle  SOAK_TRICKLE connections sending their headers a byte a second (default 300)
  sse      SOAK_SSE readers on /events (default 500), 10 s, lines appended meanwhile
  longline a SOAK_LONG_MB line (default 200 MB) appended to a live transcript, then a
           normal line
  otlp     an OTLP/HTTP burst (4 senders) with a `kill -9` of the daemon in the middle,
           then a restart

During each it samples GET /usage every 50 ms (a new connection each time) and prints the
p50/p99/max latency, the daemon's RSS before and after, and the responses it counted
against those expected (the start-up scan's plus every line appended). After the restart
it checks that every OTLP export answered 200 is counted. Standard library only.
"""

import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
REDLINE = os.path.join(TARGET, "release/redline")
OUT = os.path.join(ROOT, "target/bench-out/soak")

FLOOD = int(os.environ.get("SOAK_FLOOD", "2000"))
TRICKLE = int(os.environ.get("SOAK_TRICKLE", "300"))
SSE = int(os.environ.get("SOAK_SSE", "500"))
LONG_MB = int(os.environ.get("SOAK_LONG_MB", "200"))
OTLP_S = float(os.environ.get("SOAK_OTLP_S", "4"))


def line(i, output=100):
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000Z"
    return json.dumps({
        "type": "assistant", "isSidechain": False, "sessionId": "soak", "version": "2.1.39",
        "requestId": f"req_soak_{i}", "timestamp": ts, "uuid": f"u{i}",
        "message": {"id": f"msg_soak_{i}", "model": "claude-sonnet-4-5", "type": "message",
                    "role": "assistant", "content": [{"type": "text", "text": "ok"}],
                    "usage": {"input_tokens": 3, "output_tokens": output,
                              "cache_creation_input_tokens": 0,
                              "cache_read_input_tokens": 0}},
    }, separators=(",", ":")) + "\n"


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for l in f:
                if l.startswith("VmRSS:"):
                    return int(l.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def http(port, method, path, body=b"", headers="", timeout=5.0):
    """One request on a new connection: (status, body bytes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        head = (f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}"
                f"Content-Length: {len(body)}\r\n\r\n")
        s.sendall(head.encode() + body)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    status = int(head.split()[1]) if head.startswith(b"HTTP/") else 0
    return status, rest


def metric(port, name):
    _, body = http(port, "GET", "/metrics")
    for l in body.decode().splitlines():
        if l.startswith(name + " "):
            return float(l.split()[1])
    return 0.0


class Sampler:
    """GET /usage every 50 ms on a new connection, timing each."""

    def __init__(self, port):
        self.port, self.times, self.failed = port, [], 0
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                status, _ = http(self.port, "GET", "/usage", timeout=5)
                ok = status == 200
            except OSError:
                ok = False
            dt = time.monotonic() - t0
            self.times.append(dt)
            self.failed += 0 if ok else 1
            time.sleep(max(0, 0.05 - dt))

    def finish(self):
        self.stop.set()
        self.t.join()
        t = sorted(self.times) or [float("nan")]
        pct = lambda p: t[min(len(t) - 1, int(len(t) * p))] * 1000
        return {"n": len(self.times), "failed": self.failed, "p50_ms": pct(0.5),
                "p99_ms": pct(0.99), "max_ms": t[-1] * 1000}


class Daemon:
    def __init__(self, env, port):
        self.env, self.port = env, port
        self.log = open(os.path.join(OUT, "daemon.log"), "a")
        self.p = subprocess.Popen([REDLINE, "serve", "--listen", f"127.0.0.1:{port}",
                                   "--otlp-grpc", "off"], env=env, stdout=self.log,
                                  stderr=self.log)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if http(port, "GET", "/healthz", timeout=1)[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("bench/soak: the daemon did not start; see " + self.log.name)

    def rss(self):
        return rss_mb(self.p.pid)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    corpus = sys.argv[1]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    shutil.rmtree(OUT, ignore_errors=True)
    live_dir = os.path.join(OUT, "claude/projects/soak-project")
    os.makedirs(live_dir)
    live = os.path.join(live_dir, "soak-session.jsonl")
    open(live, "w").close()
    env = dict(os.environ)
    env["CLAUDE_CONFIG_DIR"] = f"{corpus},{os.path.join(OUT, 'claude')}"
    env["XDG_CONFIG_HOME"] = os.path.join(OUT, "config")
    env["XDG_STATE_HOME"] = os.path.join(OUT, "state")
    port = free_port()
    d = Daemon(env, port)
    time.sleep(2)
    base = metric(port, "redline_responses_total")
    appended = [0]
    # Responses the daemon counts besides the transcripts': after the restart, the OTLP
    # burst's session (it has no transcript) is kept in the store and counts as one.
    extra = [0]
    rows = []

    def append(n, output=100):
        with open(live, "a") as f:
            for _ in range(n):
                appended[0] += 1
                f.write(line(appended[0], output))

    def phase(name, body):
        before = d.rss()
        s = Sampler(port)
        note = body() or ""
        lat = s.finish()
        time.sleep(1)
        counted = metric(port, "redline_responses_total")
        expected = base + appended[0] + extra[0]
        rows.append((name, before, d.rss(), lat, counted, expected, note))
        print(f"{name:9} RSS {before:6.1f} -> {d.rss():6.1f} MB  /usage p50 {lat['p50_ms']:7.1f} ms"
              f"  p99 {lat['p99_ms']:7.1f} ms  max {lat['max_ms']:7.1f} ms  failed {lat['failed']}/{lat['n']}"
              f"  responses {counted:.0f}/{expected:.0f}  {note}", flush=True)

    print(f"soak: {corpus}: {base:.0f} responses at start, RSS {d.rss():.1f} MB", flush=True)
    phase("idle", lambda: time.sleep(3))

    def flood():
        socks, refused = [], 0
        for _ in range(FLOOD):
            try:
                socks.append(socket.create_connection(("127.0.0.1", port), timeout=2))
            except OSError:
                refused += 1
        append(10)
        time.sleep(8)
        # How many the daemon still holds open (closed ones read as EOF).
        open_now = 0
        for s in socks:
            s.setblocking(False)
            try:
                open_now += 0 if s.recv(1) == b"" else 1
            except BlockingIOError:
                open_now += 1
            except OSError:
                pass
            s.close()
        return f"{FLOOD} connected ({refused} failed), {open_now} still open after 8 s"
    phase("flood", flood)

    def trickle():
        socks = []
        for _ in range(TRICKLE):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=2)
                socks.append(s)
            except OSError:
                pass
        msg = b"GET /usage HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 64
        closed = 0
        for i in range(12):
            for s in list(socks):
                try:
                    s.send(msg[i:i + 1])
                except OSError:
                    socks.remove(s)
                    closed += 1
            time.sleep(1)
        append(5)
        for s in socks:
            s.close()
        return f"{TRICKLE} trickling, {closed} closed by the daemon within 12 s"
    phase("trickle", trickle)

    def sse():
        got = [0] * SSE
        stop = threading.Event()
        socks = []
        for i in range(SSE):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=2)
                s.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
                socks.append((i, s))
            except OSError:
                pass

        def read_all():
            import selectors
            sel = selectors.DefaultSelector()
            for i, s in socks:
                s.setblocking(False)
                sel.register(s, selectors.EVENT_READ, i)
            while not stop.is_set():
                for key, _ in sel.select(timeout=0.2):
                    try:
                        data = key.fileobj.recv(65536)
                    except OSError:
                        data = b""
                    if not data:
                        sel.unregister(key.fileobj)
                    else:
                        got[key.data] += data.count(b"\ndata:") + data.startswith(b"data:")
        t = threading.Thread(target=read_all, daemon=True)
        t.start()
        time.sleep(1)
        before = list(got)
        for _ in range(10):
            append(2)
            time.sleep(1)
        stop.set()
        t.join()
        moved = sum(1 for a, b in zip(before, got) if b > a)
        for _, s in socks:
            s.close()
        return f"{len(socks)} readers, {moved} got events while lines were appended"
    phase("sse", sse)

    def longline():
        chunk = b"x" * (1 << 20)
        with open(live, "ab") as f:
            f.write(b'{"type":"user","message":{"content":"')
            for _ in range(LONG_MB):
                f.write(chunk)
                f.flush()
            f.write(b'"}}\n')
        append(1)
        time.sleep(5)
        return f"a {LONG_MB} MB line, RSS 5 s later {d.rss():.1f} MB"
    phase("longline", longline)

    def otlp():
        accepted, sent, stop = [0], [0], threading.Event()
        lock = threading.Lock()

        def sender():
            while not stop.is_set():
                now = time.time_ns()
                body = json.dumps({"resourceMetrics": [{"resource": {"attributes": [
                    {"key": "service.name", "value": {"stringValue": "claude-code"}},
                    {"key": "host.name", "value": {"stringValue": "soak"}}]},
                    "scopeMetrics": [{"scope": {"name": "com.anthropic.claude_code"},
                                      "metrics": [{"name": "claude_code.token.usage", "unit": "tokens",
                                                   "sum": {"aggregationTemporality": 1, "isMonotonic": True,
                                                           "dataPoints": [{"attributes": [
                                                               {"key": "session.id", "value": {"stringValue": "otlp-soak"}},
                                                               {"key": "model", "value": {"stringValue": "claude-sonnet-4-5"}},
                                                               {"key": "type", "value": {"stringValue": "output"}}],
                                                               "startTimeUnixNano": str(now - 1000), "timeUnixNano": str(now),
                                                               "asInt": "1"}]}}]}]}]}).encode()
                with lock:
                    sent[0] += 1
                try:
                    status, _ = http(port, "POST", "/v1/metrics", body,
                                     "Content-Type: application/json\r\n", timeout=2)
                except OSError:
                    status = 0
                if status == 200:
                    with lock:
                        accepted[0] += 1
                elif status == 0:
                    time.sleep(0.05)
        threads = [threading.Thread(target=sender, daemon=True) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(OTLP_S / 2)
        d.p.kill()
        d.p.wait()
        with lock:
            at_kill = accepted[0]
        time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join()
        d.__init__(env, port)
        time.sleep(1)
        _, body = http(port, "GET", "/api/hosts")
        hosts = json.loads(body).get("hosts", [])
        counted = next((h["today"]["output"] for h in hosts if h["host"] == "soak"), 0)
        ok = "ok" if counted >= accepted[0] else "LOST"
        extra[0] += 1 if counted else 0
        return (f"{sent[0]} exports sent, {accepted[0]} answered 200 ({at_kill} before the kill);"
                f" {counted} counted after the restart: {ok} (/usage fails while the daemon is down)")
    phase("otlp+kill", otlp)

    d.p.terminate()
    d.p.wait()
    bad = [r for r in rows if r[4] != r[5]]
    print("all responses counted" if not bad else f"MISCOUNTED in: {[r[0] for r in bad]}")
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump([{"phase": r[0], "rss_before_mb": r[1], "rss_after_mb": r[2], "usage": r[3],
                    "responses": r[4], "expected": r[5], "note": r[6]} for r in rows], f, indent=1)
    return 0 if not bad else 2


if __name__ == "__main__":
    sys.exit(main())
