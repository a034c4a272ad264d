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
    """Starts this worker's ledger and, with LEDGER_PROJECTIONS=thread (the embedded default), its projection
    thread, so the audit views follow the log from the start rather than from the first audit read."""
    app = worker.wsgi
    extension = getattr(app, "extensions", {}).get("ledger")
    if extension is not None and extension.projections == "thread":
        try:
            with app.app_context():
                extension.read_side  # noqa: B018 - created for its background thread
        except Exception:  # the first audit read will try again; the worker must still serve postings
            logging.getLogger("api").exception("could not start the projection thread; will retry on first read")


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
