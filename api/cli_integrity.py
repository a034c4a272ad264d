"""`ledger seal`, `ledger seals export|public-key` and `ledger verify`: tamper evidence on the command line.

Exit status of `ledger verify`: 0 the log verifies; 1 something no longer matches (the first problem is named);
2 it could not be checked (a usage error, or seals but no public key to check them with).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from api.config import ensure_data_dir, load_config, persistence_env
from api.sealing import (
    SealKeyError,
    key_path,
    load_key,
    load_or_create_key,
    load_public_key,
    public_key_path,
    public_pem,
    signature_check,
)
from ledger.application import LedgerApplication
from ledger.integrity.recorders import ChainedRecorder, as_chained, seal_head
from ledger.integrity.seals import Seal
from ledger.integrity.verify import Report, verify_log

EXIT_TAMPERED = 1
EXIT_UNCHECKABLE = 2


@contextmanager
def _ledger() -> Iterator[tuple[LedgerApplication, ChainedRecorder]]:
    env = persistence_env(load_config())
    ensure_data_dir(env)
    app = LedgerApplication(env=env)
    try:
        yield app, as_chained(app.recorder)
    finally:
        app.close()


def _key_path() -> Path:
    return key_path(load_config())


@click.command()
@click.option("--init", is_flag=True, help="only create the sealing key (if there is none) and show its public key")
@click.option("--if-behind", type=click.IntRange(1), default=None, metavar="N",
              help="seal only if at least N events were chained since the last seal (for a timer or cron)")
def seal(init: bool, if_behind: int | None) -> None:
    """Sign the chain head with the sealing key (LEDGER_SEAL_KEY), made on first use, and store the seal."""
    path = _key_path()
    try:
        signer, created = load_or_create_key(path)
    except SealKeyError as error:
        raise click.ClickException(str(error)) from None
    if created:
        click.echo(f"created the sealing key {path} (mode 0600): keep it off the database server and backed up",
                   err=True)
    if created or init:
        click.echo(f"public key {public_key_path(path)} (key id {signer.key_id}): give it to the auditors", err=True)
    if init:
        return
    with _ledger() as (_, chained):
        if if_behind is not None:
            latest, head = chained.latest_seal(), chained.chain_head()
            behind = (head.position if head else 0) - (latest.position if latest else 0)
            if behind < if_behind:
                click.echo(f"not sealing: {behind} events since the last seal (fewer than {if_behind})", err=True)
                return
        made = seal_head(chained, signer)
    if made is None:
        click.echo("nothing to seal: the log is empty", err=True)
        return
    click.echo(f"seal {made.seal_id}: position {made.position}, head {made.hash.hex()}, sealed {made.sealed_at}, "
               f"key {made.key_id}")


@click.group()
def seals() -> None:
    """The stored seals, for auditors to keep."""


@seals.command("export")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True, path_type=Path), default=None,
              help="write to this file instead of standard output")
def export(output: Path | None) -> None:
    """Every seal as JSON lines (position, head hash, time, key id, signature), oldest first."""
    with _ledger() as (_, chained):
        lines = [s.to_json() for s in chained.select_seals()]
    text = "".join(line + "\n" for line in lines)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text)
        click.echo(f"{len(lines)} seals written to {output}", err=True)


@seals.command("public-key")
def public_key() -> None:
    """Print the sealing key's public key (PEM), which checks every seal."""
    path = _key_path()
    try:
        pem = public_key_path(path).read_bytes() if public_key_path(path).exists() else public_pem(
            load_key(path).public_key)
    except SealKeyError as error:
        raise click.ClickException(str(error)) from None
    click.echo(pem.decode(), nl=False)


def _signature_check(public_key_file: Path | None) -> tuple[Any, str]:
    """The check of seal signatures and a description of the key it uses; (None, why) when there is no key."""
    if public_key_file is not None:
        key = load_public_key(public_key_file)
        return signature_check(key), f"public key {public_key_file}"
    path = _key_path()
    if public_key_path(path).exists():
        return signature_check(load_public_key(public_key_path(path))), f"public key {public_key_path(path)}"
    if path.exists():
        return signature_check(load_key(path).public_key), f"the sealing key {path}"
    return None, f"no public key (neither {public_key_path(path)} nor {path}; pass --public-key)"


def _read_seals(file: Path) -> list[Seal]:
    try:
        return [Seal.from_json(line) for line in file.read_text().splitlines() if line.strip()]
    except ValueError as error:
        raise click.ClickException(f"{file}: {error}") from None


@click.command()
@click.option("--seals", "seals_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="an auditor's own copy of the seals (from `ledger seals export`) to check the log against")
@click.option("--public-key", "public_key_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="the sealing key's public key (an auditor's own copy); default: beside the key")
@click.option("--batch-size", type=click.IntRange(10, 100_000), default=2000, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print the whole report as JSON")
@click.option("--no-record", is_flag=True, help="do not keep the result (GET /api/v1/verify shows the last one kept)")
def verify(seals_file: Path | None, public_key_file: Path | None, batch_size: int, as_json: bool,
           no_record: bool) -> None:
    """Re-walk the whole log: check every event against its hash chain and every seal against its signature.

    Exits 0 when everything matches, 1 naming the first event (or seal) that no longer matches and what is wrong
    with it (changed, missing, inserted, reordered, rewritten, bad_seal), 2 when it cannot check."""
    auditor_seals = _read_seals(seals_file) if seals_file is not None else None
    try:
        check, key_description = _signature_check(public_key_file)
    except SealKeyError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(EXIT_UNCHECKABLE)
    with _ledger() as (app, chained):
        if check is None and (auditor_seals or chained.latest_seal() is not None):
            click.echo(f"error: there are seals, and {key_description}: their signatures cannot be checked", err=True)
            sys.exit(EXIT_UNCHECKABLE)
        console = Console(stderr=True)
        with Progress(TextColumn("verifying"), BarColumn(), MofNCompleteColumn(), TextColumn("positions"),
                      TimeRemainingColumn(), console=console, transient=not console.is_terminal) as bar:
            task = bar.add_task("verify", total=None)

            def progress(position: int, last: int) -> None:
                bar.update(task, completed=position, total=last)

            report = verify_log(app.recorder, check_signature=check, auditor_seals=auditor_seals,
                                batch_size=batch_size, progress=progress)
        if not no_record:
            chained.record_verification(report.to_dict())
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        _summary(report, key_description if check is not None else "no seals to check")
    if report.outcome != "ok":
        sys.exit(EXIT_TAMPERED)


def _summary(report: Report, key_description: str) -> None:
    checked = (f"positions 1..{report.last_position}: {report.events_checked} events, "
               f"{report.chain_rows_checked} chain links, {report.seals_checked} seals ({key_description})")
    if report.auditor_seals is not None:
        checked += f", {report.auditor_seals} of them from the auditor's copy"
    first = report.first_problem
    if first is None and report.last_position == 0:
        click.echo("OK: the log is empty")
        return
    if first is None:
        click.echo(f"OK: {checked}: everything matches")
        unsealed_from = (report.last_sealed_position or 0) + 1
        if unsealed_from <= report.last_position:
            click.echo(f"note: positions {unsealed_from}..{report.last_position} are not sealed yet: a chain "
                       "recomputed over them would go unnoticed until they are (`ledger seal`)")
        return
    click.echo(f"TAMPERED: {checked}")
    click.echo(f"first: {first.describe()}")
    counts = ", ".join(f"{n} {kind}" for kind, n in sorted(report.problem_counts.items()))
    click.echo(f"{report.problem_count} problems ({counts}):")
    for problem in sorted(report.problems, key=lambda p: p.position)[:50]:
        click.echo(f"  {problem.describe()}")
    if report.problem_count > 50:
        click.echo(f"  ... and {report.problem_count - 50} more (--json shows up to 1000)")


COMMANDS = (seal, seals, verify)
