"""Building the read side from configuration, and the long-running work behind `ledger projections ...`."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ledger.application import LedgerApplication
from projections.database import Database, database_from_env
from projections.engine import RuleEngine
from projections.queries import AuditQueries
from projections.rules.params import RuleParameters
from projections.worker import ProjectionWorker

log = logging.getLogger(__name__)


def engine_from_env(env: Mapping[str, str]) -> RuleEngine:
    """Rule parameters come from the TOML file named by LEDGER_RULES_CONFIG, if any."""
    return RuleEngine(RuleParameters.from_file(env.get("LEDGER_RULES_CONFIG")))


class ReadSide:
    """The views database, the worker that fills it and the queries that read it, for one process."""

    def __init__(self, app: LedgerApplication, env: Mapping[str, str], db: Database | None = None) -> None:
        self.engine = engine_from_env(env)
        self.db = db or database_from_env(env)
        self.worker = ProjectionWorker(app, self.db, self.engine,
                                       batch_size=int(env.get("LEDGER_PROJECTION_BATCH", "500")))
        self.queries = AuditQueries(self.worker.store, self.engine)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start_background(self, poll_interval: float = 0.2) -> None:
        """Follows the log in a daemon thread: the embedded default inside `ledger serve`."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self.worker.run_forever, args=(self._stop, poll_interval),
                                            name="projection-worker", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.db.close()


def _progress_bar(console: Console) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeRemainingColumn(), console=console, transient=False)


def run_worker(read_side: ReadSide, poll_interval: float = 0.2, console: Console | None = None) -> None:
    """Runs the worker in the foreground until SIGINT or SIGTERM; catches up first with a progress bar."""
    console = console or Console(stderr=True)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        status = read_side.worker.status()
        if status.lag_events:
            with _progress_bar(console) as bar:
                task = bar.add_task("catching up", total=status.head, completed=status.position)
                read_side.worker.catch_up(lambda position, head: bar.update(task, completed=position, total=head))
        console.print(f"following the ledger from position {read_side.worker.position()}; Ctrl-C stops")
    except Exception:  # the database went away while catching up: keep following, with backoff, below
        log.exception("catching up failed; following the log with retries")
    read_side.worker.run_forever(stop, poll_interval)
    console.print("stopped")


def rebuild(read_side: ReadSide, console: Console | None = None) -> dict[str, Any]:
    console = console or Console(stderr=True)
    with _progress_bar(console) as bar:
        task = bar.add_task("rebuilding audit views", total=read_side.worker.head() or 1)
        status = read_side.worker.rebuild(lambda position, head: bar.update(task, completed=position, total=head))
    return status.as_dict()


def status_table(read_side: ReadSide) -> Table:
    status = read_side.worker.status().as_dict()
    table = Table(title="projections")
    for column in status:
        table.add_column(column)
    table.add_row(*(str(v) for v in status.values()))
    return table
