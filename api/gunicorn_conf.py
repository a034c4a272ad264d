"""gunicorn settings for `ledger serve`: logging per worker, and Prometheus multi-process bookkeeping."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

worker_class = "gthread"
graceful_timeout = 10
timeout = 60
# gunicorn 27's control socket lives in the home directory: two servers on one host (or parallel test runs) would
# share it, and nothing here uses it.
control_socket_disable = True


def on_starting(server: Any) -> None:
    """Starts with an empty metrics directory: figures of a previous run would otherwise be added in."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
        Path(directory).mkdir(parents=True, exist_ok=True)


def post_fork(server: Any, worker: Any) -> None:
    logging.basicConfig(level=os.environ.get("LEDGER_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(process)d %(levelname)s %(name)s %(message)s")


def post_worker_init(worker: Any) -> None:
    """Prepares this worker before it takes requests, so that no request pays for it: the division table (read by
    every authorisation), the ledger with its connections, and, with LEDGER_PROJECTIONS=thread (the embedded
    default), the projection thread, so the audit views follow the log from the start rather than from the first
    audit read. If the store cannot be reached now, the first request that needs it tries again."""
    from ledger.regions import is_valid_code

    is_valid_code("110000")  # builds the division table
    app = worker.wsgi
    extension = getattr(app, "extensions", {}).get("ledger")
    if extension is None:
        return
    try:
        with app.app_context():
            extension.app  # noqa: B018 - created now rather than by the first request
            if extension.projections == "thread":
                extension.read_side  # noqa: B018 - created for its background thread
    except Exception:  # the worker must still start (health checks, 503 answers while the store is away)
        logging.getLogger("api").exception("could not open the ledger at start; will retry on first use")


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
