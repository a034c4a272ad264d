"""`ledger projections run|status|rebuild`: the audit views' worker as its own process, and its maintenance."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from api.config import ensure_data_dir, load_config, persistence_env, read_side_env
from ledger.application import LedgerApplication
from projections.runtime import ReadSide, engine_from_env, rebuild, run_worker, status_table


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


@click.command("replay")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z"]),
              default=None, help="recorded instant with offset, e.g. 2024-06-30T23:59:59+08:00 (default: now)")
@click.option("--position", type=click.IntRange(0), default=None, help="or: replay up to this log position")
@click.option("--on", "on", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="business date: findings that had taken effect by then")
@click.option("--region", default="", help="division code: findings and roll-up of this region (default: all)")
@click.option("--format", "fmt", type=click.Choice(["json", "csv", "xlsx"]), default="json", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="file to write (required for xlsx); default standard output")
def replay_command(as_of: Any, position: int | None, on: Any, region: str, fmt: str, output: str | None) -> None:
    """The audit findings (and a region's roll-up) as the ledger knew them at a past instant, replayed from the log."""
    from projections.export import FINDING_COLUMNS, to_csv, to_xlsx
    from projections.replay import replay

    if fmt == "xlsx" and not output:
        raise click.UsageError("--format xlsx needs --output FILE")
    values = load_config()
    env = persistence_env(values)
    app = LedgerApplication(env=env)
    console = Console(stderr=True)
    try:
        with Progress(TextColumn("[bold]replaying the log"), BarColumn(), MofNCompleteColumn(),
                      console=console) as bar:
            task = bar.add_task("replay", total=app.recorder.max_notification_id() or 1)
            views, reached = replay(app, as_of_position=position, as_of=as_of,
                                    engine=engine_from_env(read_side_env(values)),
                                    progress=lambda done, total: bar.update(task, completed=done, total=total))
        findings = views.list_findings(scope="", region=region or None, on=on.date() if on else None, limit=10**9)
        console.print(f"replayed up to log position {reached}: {len(findings)} findings")
        if fmt == "xlsx":
            Path(str(output)).write_bytes(to_xlsx(findings, FINDING_COLUMNS, "findings"))
            return
        if fmt == "csv":
            text = to_csv(findings, FINDING_COLUMNS)
        else:
            document = {"position": reached, "as_of": as_of.isoformat() if as_of else None,
                        "on": on.date().isoformat() if on else None, "findings": findings}
            if region:
                document["region"] = views.region_rollup(region)
            text = json.dumps(document, ensure_ascii=False, default=str, indent=2) + "\n"
        if output:
            Path(output).write_text(text, encoding="utf-8")
        else:
            click.echo(text, nl=False)
    finally:
        app.close()
