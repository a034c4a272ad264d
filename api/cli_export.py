"""`ledger export ocds`: the contracting processes in the Open Contracting Data Standard (OCDS 1.1)."""

from __future__ import annotations

import sys
from contextlib import nullcontext
from typing import IO, Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from api.config import load_config, persistence_env
from ledger.application import LedgerApplication
from ledger.errors import LedgerError
from ledger.regions import get_division
from projections import ocds


@click.group()
def export() -> None:
    """Export the ledger's data in open standards."""


@export.command("ocds")
@click.option("--region", default="", help="division code: the processes of this region's townships (default: all)")
@click.option("--format", "fmt", type=click.Choice(["package", "jsonl"]), default="package", show_default=True,
              help="package: one OCDS release package; jsonl: one release per line")
@click.option("--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="file to write; default standard output")
@click.option("--uri", default=None, help="the package's uri (default: urn:welfare-fund-ledger:ocds:<region or all>)")
def ocds_command(region: str, fmt: str, output: str | None, uri: str | None) -> None:
    """Every contracting process as OCDS 1.1 releases, one per recorded fact (LEDGER_OCDS_PREFIX sets the OCIDs)."""
    values = load_config()
    try:
        prefix = ocds.check_prefix(str(values["LEDGER_OCDS_PREFIX"]))
        if region:
            get_division(region)
    except (ValueError, LedgerError) as error:
        raise click.ClickException(str(getattr(error, "message", error))) from error
    app = LedgerApplication(env=persistence_env(values))
    console = Console(stderr=True)
    try:
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      console=console) as bar:
            reading = bar.add_task("reading the log", total=app.recorder.max_notification_id() or 1)
            processes = ocds.region_processes(
                app, region or None, progress=lambda done, total: bar.update(reading, completed=done, total=total))
            folding = bar.add_task("building releases", total=len(processes) or 1)
            releases: list[dict[str, Any]] = []
            for items in processes:
                releases.extend(ocds.fold(items, prefix).releases)
                bar.advance(folding)
    finally:
        app.close()
    with open(output, "w", encoding="utf-8") if output else nullcontext(sys.stdout) as stream:
        _write(stream, fmt, releases, uri or f"urn:welfare-fund-ledger:ocds:{region or 'all'}")
    console.print(f"{len(processes)} contracting processes, {len(releases)} releases")


def _write(stream: IO[str], fmt: str, releases: list[dict[str, Any]], uri: str) -> None:
    if fmt == "jsonl":
        for release in releases:
            stream.write(ocds.dumps(release) + "\n")
        return
    stream.write(ocds.dumps(ocds.release_package(releases, uri=uri)) + "\n")
