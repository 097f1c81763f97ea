#!/usr/bin/env python3
"""The live daemon's benchmark (issue 4's targets), driven by bench/live.

Starts `redline serve` on a generated history (the 1.8 GB corpus of bench/run) plus a
small directory of its own to append to, then measures:

  start-up   seconds until it serves without the scan index (reading everything, then
             writing the index) and with it (a restart), and until /usage says its
             values are final (the store read back, the watches in place), and resident
             memory (RSS, peak)
  latency    write() of a response line to its arrival in a /events message, 200 appends
  load       /usage requests per second and p99 latency under wrk (2 threads, 50 conns)
  statusline `redline statusline` wall time, 50 runs with the daemon up and 50 down
  idle       CPU share over a quiet stretch
  steady     RSS over a stretch of steady appends: growth per response

and prints the figures with the targets. Standard library only.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REDLINE = os.path.join(ROOT, "target/release/redline")
OUT = os.path.join(ROOT, "target/bench-out/live")

APPENDS = int(os.environ.get("BENCH_LIVE_APPENDS", "200"))
IDLE_S = float(os.environ.get("BENCH_LIVE_IDLE", "30"))
STEADY_S = float(os.environ.get("BENCH_LIVE_STEADY", "120"))
STEADY_RATE = float(os.environ.get("BENCH_LIVE_RATE", "10"))
WRK_S = int(os.environ.get("BENCH_LIVE_WRK", "10"))
# Seconds to wait after start-up before the appends are timed (0: at once, while the
# daemon may still be writing its first rollups of the whole history).
SETTLE_S = float(os.environ.get("BENCH_LIVE_SETTLE", "0"))
TICK = os.sysconf("SC_CLK_TCK")


def line(i, cache_read):
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000Z"
    return json.dumps({
        "type": "assistant", "isSidechain": False, "sessionId": "bench", "version": "2.1.39",
        "requestId": f"req_bench_{i}", "timestamp": ts, "uuid": f"u{i}",
        "message": {"id": f"msg_bench_{i}", "model": "claude-sonnet-4-5", "type": "message",
                    "role": "assistant", "content": [{"type": "text", "text": "ok " * 40}],
                    "usage": {"input_tokens": 3, "output_tokens": 200,
                              "cache_creation_input_tokens": 500,
                              "cache_read_input_tokens": cache_read}},
    }, separators=(",", ":")) + "\n"


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for l in f:
            k, _, v = l.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0]) / 1024
    return out


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def main():
    corpus = sys.argv[1]
    shutil.rmtree(OUT, ignore_errors=True)
    live_projects = os.path.join(OUT, "claude/projects/bench-project")
    os.makedirs(live_projects)
    live_file = os.path.join(live_projects, "bench-session.jsonl")
    open(live_file, "w").close()
    env = dict(os.environ)
    env["CLAUDE_CONFIG_DIR"] = f"{corpus},{os.path.join(OUT, 'claude')}"
    env["XDG_CONFIG_HOME"] = os.path.join(OUT, "config")
    env["XDG_STATE_HOME"] = os.path.join(OUT, "state")
    env["XDG_CACHE_HOME"] = os.path.join(OUT, "cache")
    results = {}

    def start():
        """Starts the daemon: it, its port, the seconds until it serves and until /usage
        says its values are final (it serves the transcripts' values first, then reads its
        store back and what changed while its file watches were set up), and its serving
        line."""
        port = free_port()
        t0 = time.monotonic()
        daemon = subprocess.Popen([REDLINE, "serve", "--listen", f"127.0.0.1:{port}"], env=env,
                                  stderr=subprocess.PIPE, text=True)
        line = ""
        for l in daemon.stderr:
            if "serving http://" in l:
                line = l.strip()
                break
        took = time.monotonic() - t0
        threading.Thread(target=lambda: [None for _ in daemon.stderr], daemon=True).start()
        final = until_final(port, t0)
        return daemon, port, took, final, line

    # Start-up without the scan index (it reads everything, then writes the index), and
    # again with it: what a restart costs, to serving and to final values.
    daemon, port, cold_s, cold_final_s, cold_line = start()
    cold_mem = proc_status(daemon.pid)
    daemon.terminate()
    daemon.wait(10)
    results["cold_startup"] = (cold_s, cold_final_s, cold_mem["VmRSS"], cold_mem["VmHWM"], cold_line)
    daemon, port, startup_s, final_s, startup_line = start()
    try:
        mem = proc_status(daemon.pid)
        results["startup"] = (startup_s, final_s, mem["VmRSS"], mem["VmHWM"], startup_line)

        # Latency: each append carries a unique cache-read count, so the context figure
        # of the /events message that carries it is unique too.
        time.sleep(SETTLE_S)
        events = Events(port)
        lat = []
        with open(live_file, "a") as f:
            for i in range(APPENDS):
                cache_read = 100_000 + i
                events.expect(3 + 500 + cache_read)
                t = time.monotonic()
                f.write(line(i, cache_read))
                f.flush()
                got = events.wait(5.0)
                if got is None:
                    raise SystemExit(f"append {i} did not reach /events within 5 s")
                lat.append((got - t) * 1000)
                time.sleep(0.03)
        lat.sort()
        results["latency"] = (pct(lat, 50), pct(lat, 99), lat[-1])
        events.close()

        # Load.
        wrk = subprocess.run(["wrk", "-t2", "-c50", f"-d{WRK_S}s", "--latency",
                              f"http://127.0.0.1:{port}/usage"], capture_output=True, text=True)
        rps = re.search(r"Requests/sec:\s+([\d.]+)", wrk.stdout)
        p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", wrk.stdout)
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)", wrk.stdout)
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
        results["load"] = (float(rps.group(1)) if rps else 0.0,
                           float(p99.group(1)) * scale[p99.group(2)] if p99 else float("inf"),
                           int(errors.group(1)) if errors else 0)

        # redline statusline, as Claude Code runs it: daemon up, then down.
        status_in = json.dumps({"session_id": "bench", "model": {"id": "claude-opus-4-6", "display_name": "Opus 4.6"},
                                "context_window": {"context_window_size": 200000, "used_percentage": 40},
                                "rate_limits": {"five_hour": {"used_percentage": 30, "resets_at": int(time.time()) + 3600}}})
        def statusline_ms(listen):
            times = []
            for _ in range(50):
                t = time.monotonic()
                subprocess.run([REDLINE, "statusline"], input=status_in, capture_output=True, text=True,
                               env=dict(env, REDLINE_LISTEN=listen), check=True)
                times.append((time.monotonic() - t) * 1000)
            times.sort()
            return pct(times, 50), pct(times, 99)
        results["statusline"] = (statusline_ms(f"127.0.0.1:{port}"), statusline_ms(f"127.0.0.1:{free_port()}"))

        # Idle.
        time.sleep(2)
        c0, w0 = cpu_ticks(daemon.pid), time.monotonic()
        time.sleep(IDLE_S)
        idle = (cpu_ticks(daemon.pid) - c0) / TICK / (time.monotonic() - w0) * 100
        results["idle"] = idle

        # Steady appends.
        rss = [proc_status(daemon.pid)["VmRSS"]]
        n = 0
        start = time.monotonic()
        next_sample = start + 10
        with open(live_file, "a") as f:
            while time.monotonic() - start < STEADY_S:
                f.write(line(APPENDS + n, 50_000 + n))
                f.flush()
                n += 1
                time.sleep(1 / STEADY_RATE)
                if time.monotonic() >= next_sample:
                    rss.append(proc_status(daemon.pid)["VmRSS"])
                    next_sample += 10
        rss.append(proc_status(daemon.pid)["VmRSS"])
        results["steady"] = (n, rss[0], max(rss), rss[-1])
    finally:
        daemon.terminate()
        try:
            daemon.wait(10)
        except subprocess.TimeoutExpired:
            daemon.kill()
    report(results, corpus)


def report(r, corpus):
    startup_s, final_s, rss, hwm, startup_line = r["startup"]
    cold_s, cold_final_s, cold_rss, cold_hwm, cold_line = r["cold_startup"]
    p50, p99, worst = r["latency"]
    rps, wrk_p99, errors = r["load"]
    n, rss0, rss_max, rss_end = r["steady"]
    (up50, up99), (down50, down99) = r["statusline"]
    per = (rss_end - rss0) * 1024 * 1024 / n if n else 0
    checks = [
        ("start-up with the scan index, to final values", f"{final_s:.2f} s (serving after {startup_s:.2f} s)", "< 0.3 s", final_s < 0.3),
        ("append reaches /events, p99", f"{p99:.1f} ms", "< 100 ms", p99 < 100),
        ("/usage throughput (wrk -t2 -c50)", f"{rps:,.0f} req/s", ">= 20,000 req/s", rps >= 20_000 and errors == 0),
        ("/usage p99 under that load", f"{wrk_p99:.2f} ms", "< 5 ms", wrk_p99 < 5),
        ("resident after start-up, with the index", f"{rss:.0f} MB (peak {hwm:.0f} MB)", "< 64 MB", rss < 64),
        ("resident after the cold scan", f"{cold_rss:.0f} MB (peak {cold_hwm:.0f} MB)", "< 64 MB", cold_rss < 64),
        ("idle CPU", f"{r['idle']:.2f} %", "< 0.5 %", r["idle"] < 0.5),
        ("`redline statusline`, daemon up, p99", f"{up99:.1f} ms (p50 {up50:.1f})", "< 100 ms", up99 < 100),
        ("`redline statusline`, daemon down, p99", f"{down99:.1f} ms (p50 {down50:.1f})", "< 100 ms", down99 < 100),
    ]
    lines = [
        f"corpus: {corpus}",
        f"start-up without an index: {cold_line} (serving after {cold_s:.2f} s, final values after {cold_final_s:.2f} s)",
        f"start-up with the index: {startup_line} (serving after {startup_s:.2f} s, final values after {final_s:.2f} s)",
        f"load while measuring: {open('/proc/loadavg').read().split()[:3]}",
        f"append latency over {APPENDS} appends: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms",
        f"steady appends: {n} responses over {STEADY_S:.0f} s, RSS {rss0:.1f} -> {rss_end:.1f} MB "
        f"(max {rss_max:.1f} MB), {per:.0f} bytes per response",
        "",
        "| measure | redline | target | |",
        "|---|---|---|---|",
    ] + [f"| {m} | {v} | {t} | {'PASS' if ok else 'FAIL'} |" for m, v, t, ok in checks]
    text = "\n".join(lines)
    print(text)
    with open(os.path.join(ROOT, "target/bench-live-results.md"), "w") as f:
        f.write(text + "\n")
    sys.exit(0 if all(ok for *_, ok in checks) else 2)


def pct(sorted_values, p):
    i = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))
    return sorted_values[i]


def until_final(port, t0, wait=30.0):
    """Seconds from t0 until /usage says "final": true, polling every few milliseconds."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/usage", timeout=2) as r:
                if json.load(r).get("final") is True:
                    return time.monotonic() - t0
        except OSError:
            pass
        time.sleep(0.002)
    raise SystemExit(f"/usage was not final within {wait:.0f} s")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Events:
    """Reads /events in a thread and notes when a message with the expected context
    figure arrives."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        self.want = None
        self.arrived = None
        self.cond = threading.Condition()
        threading.Thread(target=self.read, daemon=True).start()

    def expect(self, used_tokens):
        with self.cond:
            self.want, self.arrived = used_tokens, None

    def wait(self, timeout):
        with self.cond:
            self.cond.wait_for(lambda: self.arrived is not None, timeout)
            return self.arrived

    def read(self):
        buf = b""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return
                now = time.monotonic()
                buf += chunk
                while b"\n" in buf:
                    l, buf = buf.split(b"\n", 1)
                    if l.startswith(b"data: "):
                        used = json.loads(l[6:])["context"]["used_tokens"]
                        with self.cond:
                            if used == self.want and self.arrived is None:
                                self.arrived = now
                                self.cond.notify_all()
        except OSError:
            return

    def close(self):
        self.sock.close()


if __name__ == "__main__":
    main()
