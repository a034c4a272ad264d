"""`ledger import FILE`: historical expenditures, disbursements and allocations from CSV or Excel, in batches.

Each row is read by the API's own request schema for its kind (the same checks as ``POST /projects/{id}/expenditures``
and the others), then posted through the same use case, many rows to a transaction (ledger/bulk.py). A row's ``key``
is its idempotency key, so a file can be run again and nothing is posted twice. Columns and policy: README, "Bulk
import".
"""

from __future__ import annotations

import csv
import functools
import getpass
import hashlib
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import click
from marshmallow import Schema
from marshmallow import ValidationError as SchemaError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from api.config import ensure_data_dir, load_config, persistence_env
from api.schemas.funds import AllocationIn
from api.schemas.projects import DisbursementIn, ExpenditureIn
from ledger import ids
from ledger.actors import Actor
from ledger.application import Idempotency, LedgerApplication
from ledger.bulk import USE_CASES, BulkImporter, Checked, ImportStoppedError, Refusal, Row, Tally
from ledger.errors import LedgerError, ValidationError
from ledger.validate import a_uuid

KEY_PREFIX = "import:"
REQUIRED = ("key", "kind", "amount", "effective_on")
# Columns that name the row's project or fund; the others are the kind's own request fields.
REFERENCES = ("project_code", "project_id", "fund_id", "fund_region", "fund_document_no")
SCHEMAS: dict[str, Schema] = {"expenditure": ExpenditureIn(), "disbursement": DisbursementIn(),
                              "allocation": AllocationIn()}
COLUMNS = ("key", "kind", *REFERENCES, "amount", "effective_on", "line", "payee_name", "payee_kind", "payee_uscc",
           "invoice_no", "description", "installment", "procurement_id", "voucher_no", "document_no")
WHOLE = re.compile(r"^[0-9]+$")
SHOWN_REFUSALS = 50
# Up to this many rows, the check keeps each row as read and what it decided, for the import to save without reading
# or deciding the row again (README, "Bulk import"); a longer file is read and decided again, so memory stays bounded.
KEPT_ROWS = 100_000


class FileError(click.ClickException):
    exit_code = 2


@dataclass(frozen=True)
class Parsed:
    """A row of the file: posted as ``row``, or refused before reaching the ledger."""

    row: Row | None
    refusal: Refusal | None
    key: str
    kind: str


def _cell(value: Any) -> str:
    """A cell as the text a CSV would hold: numbers exactly as stored, dates as YYYY-MM-DD, surrounding spaces cut."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)  # the shortest text that is this binary number: 1234.5, never a rounded amount
    if isinstance(value, (int, Decimal)):
        return str(value)
    return str(value).strip()


def _records(path: Path, fmt: str) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number as a spreadsheet shows it, {column: text}) for every non-empty row after the header."""
    if fmt == "csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = [_cell(h) for h in next(reader, [])]
            _check_header(header)
            for number, cells in enumerate(reader, 2):
                if any(c.strip() for c in cells):
                    if len(cells) > len(header):
                        raise FileError(f"row {number} has more cells than the header has columns")
                    yield number, {h: _cell(c) for h, c in zip(header, cells, strict=False)}
        return
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        header = [_cell(h) for h in next(rows, ())]
        while header and not header[-1]:
            header.pop()
        _check_header(header)
        for number, values in enumerate(rows, 2):
            cells = [_cell(v) for v in values]
            if any(cells):
                if any(cells[len(header):]):
                    raise FileError(f"row {number} has cells beyond the header's columns")
                yield number, dict(zip(header, cells, strict=False))
    finally:
        workbook.close()


def _check_header(header: list[str]) -> None:
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise FileError(f"unknown columns: {', '.join(unknown)} (the columns are: {', '.join(COLUMNS)})")
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise FileError(f"missing columns: {', '.join(missing)}")
    if len(set(header)) != len(header):
        raise FileError("a column appears twice in the header")


def _refused(number: int, cells: dict[str, str], code: str, field: str | None, reason: str) -> Parsed:
    return Parsed(None, Refusal(number, code, field, reason), cells.get("key", ""), cells.get("kind", ""))


def parse(number: int, cells: dict[str, str]) -> Parsed:
    """One row, read by the API's request schema of its kind into the use case's arguments."""
    key, kind = cells.get("key", ""), cells.get("kind", "")
    if kind not in USE_CASES:
        return _refused(number, cells, "validation_error", "kind", f"kind must be one of {', '.join(USE_CASES)}")
    filled = {name: text for name, text in cells.items() if text}
    canonical = json.dumps(filled, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    try:
        idempotency = Idempotency(KEY_PREFIX + key, hashlib.sha256(f"IMPORT\n{canonical}".encode()).hexdigest())
        project = _reference(filled, "project")
        fund = _reference(filled, "fund")
    except LedgerError as error:
        return _refused(number, cells, error.code, getattr(error, "field", None) or "key", error.message)
    body: dict[str, Any] = {n: int(t) if n == "installment" and WHOLE.match(t) else t
                            for n, t in filled.items() if n not in ("key", "kind", *REFERENCES)}
    if kind == "allocation":
        target, body["target_kind"] = fund, "project"
        if project is not None:
            body["project_id"] = str(project)
        missing = "fund_id (or fund_region and fund_document_no)"
    else:
        target = project
        if fund is not None:
            body["fund_id"] = str(fund)
        missing = "project_code or project_id"
    if target is None:
        return _refused(number, cells, "validation_error", missing.split(" ")[0], f"{missing} is required")
    try:
        fields = SCHEMAS[kind].load(body)
    except SchemaError as error:
        field, messages = next(iter(_flat(error.messages).items()))
        return _refused(number, cells, "validation_error", field, "; ".join(messages))
    return Parsed(Row(number, kind, target, fields, idempotency), None, key, kind)


def _flat(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    if isinstance(messages, dict):
        flat: dict[str, list[str]] = {}
        for name, value in messages.items():
            flat.update(_flat(value, f"{prefix}{name}."))
        return flat
    return {prefix.rstrip(".") or "_row": [str(m) for m in messages] if isinstance(messages, list) else [str(messages)]}


# A file names few projects and funds, each on many rows: each id is worked out once.
_project_id = functools.lru_cache(maxsize=1 << 16)(ids.project_id)
_fund_id = functools.lru_cache(maxsize=1 << 16)(ids.fund_id)


def _reference(cells: dict[str, str], what: str) -> UUID | None:
    """The project (by code or id) or the fund (by id, or by region and document number) a row names."""
    if what == "project":
        code, given = cells.get("project_code"), cells.get("project_id")
        if code and given:
            raise ValidationError("give project_code or project_id, not both", field="project_code")
        if code:
            return _project_id(code)
        return _uuid(given, "project_id")
    given, region, document = cells.get("fund_id"), cells.get("fund_region"), cells.get("fund_document_no")
    if given and (region or document):
        raise ValidationError("give fund_id, or fund_region and fund_document_no, not both", field="fund_id")
    if region or document:
        if not (region and document):
            raise ValidationError("fund_region and fund_document_no go together", field="fund_region")
        return _fund_id(region, document)
    return _uuid(given, "fund_id")


def _uuid(text: str | None, field: str) -> UUID | None:
    return None if not text else a_uuid(text, field)


def _rows(path: Path, fmt: str, refusals: list[Refusal], labels: dict[int, tuple[str, str]],
          names: dict[int, str]) -> Iterator[Row]:
    """The file's rows that reach the ledger; the others are added to ``refusals``. ``labels`` and ``names`` keep what
    a report of refused rows shows: each row's key and kind, and how it named its project and fund."""
    for number, cells in _records(path, fmt):
        parsed = parse(number, cells)
        labels[number] = (parsed.key, parsed.kind)
        named = [f"project code {cells['project_code']!r}" if cells.get("project_code") else "",
                 f"fund {cells.get('fund_region')} {cells['fund_document_no']!r}" if cells.get("fund_document_no")
                 else ""]
        if any(named):
            names[number] = ", ".join(n for n in named if n)
        if parsed.refusal is not None:
            refusals.append(parsed.refusal)
        else:
            assert parsed.row is not None
            yield parsed.row


def _format_of(path: Path, fmt: str | None) -> str:
    if fmt:
        return fmt
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    raise FileError(f"cannot tell the format of {path.name}: use --format csv or --format xlsx")


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
                    TimeRemainingColumn(), console=console, transient=False)


def _report(console: Console, refusals: list[Refusal], labels: dict[int, tuple[str, str]], names: dict[int, str],
            report: Path | None) -> None:
    refusals = sorted((_named(r, names) for r in refusals), key=lambda r: r.number)
    if report is not None:
        with report.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["row", "key", "kind", "code", "field", "reason"])
            for r in refusals:
                key, kind = labels.get(r.number, ("", ""))
                writer.writerow([r.number, key, kind, r.code, r.field or "", r.reason])
    if not refusals:
        return
    table = Table(title=f"refused rows: {len(refusals)}", title_justify="left")
    for column in ("row", "key", "kind", "code", "field", "reason"):
        table.add_column(column, overflow="fold")
    for r in refusals[:SHOWN_REFUSALS]:
        key, kind = labels.get(r.number, ("", ""))
        table.add_row(str(r.number), key, kind, r.code, r.field or "", r.reason)
    console.print(table)
    if len(refusals) > SHOWN_REFUSALS:
        console.print(f"... and {len(refusals) - SHOWN_REFUSALS} more" + (f" (all in {report})" if report else
                                                                            " (--report FILE lists them all)"))


def _named(refusal: Refusal, names: dict[int, str]) -> Refusal:
    """An unknown project or fund refusal says how the row named it (the ledger only knows the id it maps to)."""
    if refusal.code in ("unknown_project", "unknown_fund") and refusal.number in names:
        return Refusal(refusal.number, refusal.code, refusal.field,
                       f"{refusal.reason} (the row names {names[refusal.number]})")
    return refusal


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default=None,
              help="default: from the file's suffix (.csv, .xlsx)")
@click.option("--dry-run", is_flag=True, help="check every row against the ledger and write nothing")
@click.option("--batch", "batch_size", type=click.IntRange(1, 100_000), default=1000, show_default=True,
              help="rows per transaction")
@click.option("--skip-invalid", is_flag=True,
              help="post the valid rows and skip (and report) the refused ones, instead of refusing the whole file")
@click.option("--report", type=click.Path(dir_okay=False, writable=True, path_type=Path), default=None,
              help="write every refused row (row, key, kind, code, field, reason) to this CSV file")
@click.option("--actor", "actor_name", default=lambda: f"cli:{getpass.getuser()}", show_default="cli:<user>",
              help="who the postings are recorded as; a row's key is unique per actor")
def import_command(file: Path, fmt: str | None, dry_run: bool, batch_size: int, skip_invalid: bool,
                   report: Path | None, actor_name: str) -> None:
    """Import historical expenditures, disbursements and allocations from CSV or Excel (columns: README).

    Every row is checked as the API checks a request and posted through the same use case, in batches of --batch
    rows, one transaction each. Unless --skip-invalid, the whole file is checked first and refused, with nothing
    written, if any row is refused. Each row's key makes it idempotent: running a file again posts only what is not
    posted yet. Exit status: 0 done, 1 rows refused, 2 the file cannot be read.
    """
    fmt = _format_of(file, fmt)
    console = Console(stderr=True)
    actor = Actor(actor_name.strip())
    total = sum(1 for _ in _records(file, fmt))
    env = persistence_env(load_config())
    ensure_data_dir(env)
    app = LedgerApplication(env=env)
    importer = BulkImporter(app, actor, batch_size=batch_size)
    labels: dict[int, tuple[str, str]] = {}
    names: dict[int, str] = {}
    refusals: list[Refusal] = []
    started = checked = time.perf_counter()
    try:
        tally: Tally = Tally()
        check: Checked | None = None
        if dry_run or not skip_invalid:
            with _progress(console) as bar:
                task = bar.add_task("checking", total=total)
                tally = check = importer.check(_rows(file, fmt, refusals, labels, names),
                                               lambda n: bar.advance(task, n), keep=not dry_run and total <= KEPT_ROWS)
                bar.update(task, completed=total)
            refusals.extend(tally.refused)
            if dry_run or refusals:
                _report(console, refusals, labels, names, report)
                verdict = "refused: nothing written" if refusals else "nothing written (dry run)"
                console.print(f"checked {total} rows: {tally.posted} to post, {tally.replayed} posted before, "
                              f"{len(refusals)} refused; {verdict}")
                raise SystemExit(1 if refusals else 0)
            refusals = []
        checked = time.perf_counter()
        with _progress(console) as bar:
            task = bar.add_task("importing", total=total)
            try:
                if check is not None and check.kept:  # every row read and decided once, by the check
                    tally = importer.run_checked(check, progress=lambda n: bar.advance(task, n))
                else:
                    tally = importer.run(_rows(file, fmt, refusals, labels, names), skip_invalid=skip_invalid,
                                         progress=lambda n: bar.advance(task, n))
            except ImportStoppedError as stopped:
                _report(console, [*refusals, *stopped.refused], labels, names, report)
                console.print(f"stopped: a batch holds refused rows and was not saved; {stopped.tally.batches} "
                              f"batches saved before it ({stopped.tally.posted} rows posted). Running the file again "
                              "posts only what is not posted yet.")
                raise SystemExit(1) from None
            except LedgerError as error:  # e.g. a batch that kept meeting concurrent changes: nothing of it saved
                raise click.ClickException(f"{error.code}: {error.message}") from None
            bar.update(task, completed=total)
    finally:
        app.close()
    elapsed = time.perf_counter() - started
    refusals.extend(tally.refused)
    _report(console, refusals, labels, names, report)
    rate = total / elapsed if elapsed else 0.0
    console.print(f"imported {total} rows in {elapsed:.1f} s ({rate:,.0f} rows/s): {tally.posted} posted, "
                  f"{tally.replayed} posted before, {len(refusals)} skipped as refused; {tally.events} events in "
                  f"{tally.batches} transactions")
    click.echo(f"IMPORT rows={total} posted={tally.posted} replayed={tally.replayed} refused={len(refusals)} "
               f"transactions={tally.batches} events={tally.events} seconds={elapsed:.3f} rows_per_s={rate:.1f} "
               f"check_seconds={checked - started:.3f}")
