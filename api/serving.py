"""Running the real server in a child process on loopback, for tests, benchmarks and fault runs: a free port,
`ledger serve` (or another WSGI app under the same gunicorn settings) started and waited for, and stopped cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SERVE = [sys.executable, "-c", "from api.cli import main; main()", "serve"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on at the moment."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_argv(port: int, workers: int, threads: int, app_spec: str | None = None) -> list[str]:
    """`ledger serve` on ``port``, or gunicorn with the same settings (api.gunicorn_conf) serving ``app_spec``."""
    if app_spec is None:
        return [*SERVE, "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads)]
    return [sys.executable, "-m", "gunicorn", "--config", "python:api.gunicorn_conf", "--bind", f"127.0.0.1:{port}",
            "--workers", str(workers), "--threads", str(threads), app_spec]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status) < 500
    except urllib.error.HTTPError as error:
        return error.code < 500
    except (urllib.error.URLError, OSError):
        return False


def stop(process: subprocess.Popen[Any], timeout: float = 20) -> None:
    """SIGTERM (gunicorn's graceful stop), then SIGKILL if it has not ended within ``timeout`` seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def served(env: Mapping[str, str], log_path: Path, *, workers: int = 1, threads: int = 4,
           app_spec: str | None = None, ready_path: str = "/readyz", start_timeout: float = 60,
           cwd: str | Path | None = None) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Starts the server with ``env`` added to this process's environment, its output in ``log_path``; yields its
    base URL and process once ``ready_path`` answers below 500, and stops it on the way out. A server that exits
    or does not answer within ``start_timeout`` seconds raises with the end of its log."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with log_path.open("w") as log:
        process = subprocess.Popen(serve_argv(port, workers, threads, app_spec), env={**os.environ, **env},
                                   cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + start_timeout
            while not _answers(base + ready_path):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
                time.sleep(0.2)
            yield base, process
        finally:
            stop(process)
