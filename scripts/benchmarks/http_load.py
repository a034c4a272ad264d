"""HTTP load on loopback: gunicorn (``ledger serve``, or the minimal Flask app under the same settings) and ``wrk``
posting distinct valid expenditures, each with its own Idempotency-Key, across many projects."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from api.serving import served

ROOT = Path(__file__).resolve().parents[2]

LUA = r"""
local paths = {%(paths)s}
local token = "%(token)s"
local run = "%(run)s"
local counter = 0
local count = 0

function setup(thread)
  count = count + 1
  thread:set("tid", count)
end

request = function()
  counter = counter + 1
  local path = paths[(counter * 7919 + tid * 104729) %% #paths + 1]
  local body = string.format('{"line":"activities","amount":"12.34","payee_name":"便民超市","payee_kind":"supplier",'
    .. '"invoice_no":"W%%s-%%d-%%d","effective_on":"%(day)s","description":"负载测试"}', run, tid, counter)
  local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token,
                   ["Idempotency-Key"] = string.format("wrk-%%s-%%d-%%d", run, tid, counter)}
  return wrk.format("POST", path, headers, body)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%%d,"duration_us":%%d,"non2xx":%%d,"connect":%%d,"read":%%d,'
    .. '"write":%%d,"timeout":%%d,"p50_us":%%d,"p90_us":%%d,"p99_us":%%d,"max_us":%%d,"mean_us":%%.1f}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""


def ensure_wrk() -> str:
    """The wrk binary; installed with apt-get (Debian package ``wrk``) when missing and running as root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, env=env, capture_output=True)
        if subprocess.run(["sh", "-c", "command -v wrk"], capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], check=False, env=env, capture_output=True)
            subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, env=env, capture_output=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is needed (Debian/Ubuntu: apt-get install wrk)")
    return found


@contextmanager
def server(app_spec: str | None, env: dict[str, str], workers: int, threads: int,
           ready_path: str = "/readyz") -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """gunicorn with api.gunicorn_conf: ``ledger serve`` (``app_spec`` None) or another WSGI app; yields its base URL
    and process."""
    with tempfile.TemporaryDirectory(prefix="bench-gunicorn-") as tmp, \
            served(env, Path(tmp) / "server.log", workers=workers, threads=threads, app_spec=app_spec,
                   ready_path=ready_path, cwd=ROOT) as running:
        yield running


def worker_rss_mb(master_pid: int) -> float:
    """The largest resident set of the server's worker processes (children of the master), in MB."""
    largest = 0.0
    for child in Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split():
        try:
            for line in Path(f"/proc/{child}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    largest = max(largest, int(line.split()[1]) / 1024)
        except FileNotFoundError:
            continue
    return largest


def _cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of a process so far (from /proc, in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until_idle(pid: int, *, quiet_share: float = 0.05, window_s: float = 1.0, timeout_s: float = 300) -> float:
    """Waits until a process (the projection worker) has used less than ``quiet_share`` of a CPU over a whole
    ``window_s``: it has caught up, refreshed its statistics and memoised today's findings. Returns the seconds
    waited (``timeout_s`` at most: then it goes on anyway)."""
    began = time.monotonic()
    while time.monotonic() - began < timeout_s:
        before = _cpu_seconds(pid)
        time.sleep(window_s)
        if _cpu_seconds(pid) - before < quiet_share * window_s:
            break
    return time.monotonic() - began


def wrk(base: str, paths: list[str], token: str, *, connections: int, seconds: int, threads: int = 2,
        day: str = "2023-11-15") -> dict[str, Any]:
    """Runs wrk with the expenditure script; returns its figures (requests/s, latency in ms, errors)."""
    binary = ensure_wrk()
    run = f"{int(time.time() * 1000) % 10**9}"
    script = LUA % {"paths": ", ".join(json.dumps(p) for p in paths), "token": token, "run": run, "day": day}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False, encoding="utf-8") as lua:
        lua.write(script)
    try:
        result = subprocess.run([binary, "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency",
                                 "--timeout", "10s", "-s", lua.name, base + paths[0]],
                                capture_output=True, text=True, check=True)
    finally:
        os.unlink(lua.name)
    line = next(x for x in result.stdout.splitlines() if x.startswith("WRKJSON "))
    figures = json.loads(line[len("WRKJSON "):])
    duration = figures["duration_us"] / 1e6
    errors = figures["non2xx"] + figures["connect"] + figures["read"] + figures["write"] + figures["timeout"]
    return {"rate": (figures["requests"] - errors) / duration, "requests": figures["requests"], "errors": errors,
            "non2xx": figures["non2xx"], "p50_ms": figures["p50_us"] / 1000, "p90_ms": figures["p90_us"] / 1000,
            "p99_ms": figures["p99_us"] / 1000, "max_ms": figures["max_us"] / 1000, "seconds": duration,
            "connections": connections, "wrk_threads": threads}


class LagSampler:
    """Samples the audit views' lag (seconds since the first event they have not applied) while load runs."""

    def __init__(self, worker: Any, interval: float = 0.25) -> None:
        self.worker = worker
        self.interval = interval
        self.samples: list[float] = []
        self.events_behind: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                status = self.worker.status()
                self.samples.append(status.lag_seconds)
                self.events_behind.append(status.lag_events)
            except Exception:  # a busy SQLite file may refuse a read now and then: skip that sample
                pass
            self._stop.wait(self.interval)

    def __enter__(self) -> LagSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def drain_seconds(self, timeout: float = 120) -> float:
        """How long after the load the views took to apply everything."""
        began = time.perf_counter()
        while time.perf_counter() - began < timeout:
            if self.worker.status().lag_events == 0:
                return time.perf_counter() - began
            time.sleep(0.05)
        return float("inf")

    def summary(self) -> dict[str, Any]:
        if not self.samples:
            return {"p50_s": float("nan"), "p99_s": float("nan"), "max_s": float("nan"), "samples": 0}
        ordered = sorted(self.samples)
        return {"p50_s": statistics.median(ordered), "p99_s": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
                "max_s": ordered[-1], "samples": len(ordered), "max_events_behind": max(self.events_behind)}
