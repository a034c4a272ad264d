"""`ledger projections run|status|rebuild`: the audit views' worker as its own process, and its maintenance."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import click
from rich.console import Console

from api.config import ensure_data_dir, load_config, persistence_env, read_side_env
from ledger.application import LedgerApplication
from projections.runtime import ReadSide, rebuild, run_worker, status_table


@contextmanager
def _read_side() -> Iterator[ReadSide]:
    values = load_config()
    env = persistence_env(values)
    ensure_data_dir(env)
    app = LedgerApplication(env=env)
    read_side = ReadSide(app, read_side_env(values))
    try:
        yield read_side
    finally:
        read_side.stop()
        app.close()


@click.group()
def projections() -> None:
    """The audit views: follow the log, show where they stand, rebuild them from position 0."""


@projections.command("run")
@click.option("--poll", type=click.FloatRange(0.01, 60), default=0.2, show_default=True,
              help="seconds between polls of the log when idle")
def run(poll: float) -> None:
    """Follow the ledger's log and keep the audit views up to date (production: one or more such processes)."""
    with _read_side() as read_side:
        run_worker(read_side, poll_interval=poll)


@projections.command("status")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def status(as_json: bool) -> None:
    """Each view's position, the log's head, and the lag in events and seconds."""
    with _read_side() as read_side:
        if as_json:
            click.echo(json.dumps(read_side.worker.status().as_dict()))
        else:
            Console().print(status_table(read_side))


@projections.command("rebuild")
def rebuild_command() -> None:
    """Rebuild every view from position 0 into fresh tables and swap them in; reads go on meanwhile."""
    with _read_side() as read_side:
        result = rebuild(read_side)
    click.echo(json.dumps(result))
