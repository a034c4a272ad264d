"""`ledger import FILE`: CSV and Excel files of historical postings, on both stores."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from builders import HEBEI, Ledger
from click.testing import CliRunner, Result
from openpyxl import Workbook

from api import cli_import
from api.cli import main
from ledger.application import LedgerApplication
from ledger.bulk import BulkImporter
from ledger.integrity.verify import verify_log

HEADER = ["key", "kind", "project_code", "fund_region", "fund_document_no", "amount", "effective_on", "line",
          "payee_name", "payee_kind", "payee_uscc", "invoice_no", "installment", "voucher_no", "document_no"]


@dataclass
class World:
    app: LedgerApplication
    fund_document: str
    fund_id: UUID
    project_code: str
    project_id: UUID

    def rows(self) -> list[dict[str, Any]]:
        """An allocation, a disbursement and two expenditures against the project, by its code and the fund's
        document number."""
        fund = {"fund_region": HEBEI, "fund_document_no": self.fund_document}
        return [
            {"key": "V-0001", "kind": "allocation", "project_code": self.project_code, **fund, "amount": "50000.00",
             "effective_on": "2023-03-05", "document_no": "冀财社〔2023〕9号"},
            {"key": "V-0002", "kind": "disbursement", "project_code": self.project_code, **fund,
             "amount": "30000.00", "effective_on": "2023-04-01", "payee_name": "社工服务中心",
             "payee_uscc": "91620105MA71T4YW8Q", "installment": "1", "voucher_no": "记-2023-04-001"},
            {"key": "V-0003", "kind": "expenditure", "project_code": self.project_code, "amount": "1200.50",
             "effective_on": "2023-04-15", "line": "staff", "payee_name": "张三", "payee_kind": "individual",
             "invoice_no": "INV-001"},
            {"key": "V-0004", "kind": "expenditure", "project_code": self.project_code, "amount": "800",
             "effective_on": "2023-05-15", "line": "activities", "payee_name": "社区活动中心",
             "payee_kind": "service_organisation"},
        ]

    def figures(self) -> tuple[Decimal, Decimal, Decimal]:
        project = self.app.get_project(self.project_id)
        return project["received_total"], project["disbursed_total"], project["spent_total"]


@pytest.fixture
def world(app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    for name, value in app_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("COLUMNS", "200")  # the table of refused rows, unfolded
    app = LedgerApplication(env=app_env)
    try:
        ledger = Ledger(app)
        fund_id = ledger.appropriate("1000000.00", document_no="冀财社〔2023〕1号")
        project_id = ledger.register_project(code="SJZ-CA-2023-101")
        yield World(app, "冀财社〔2023〕1号", fund_id, "SJZ-CA-2023-101", project_id)
    finally:
        app.close()


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=HEADER)
        writer.writeheader()
        writer.writerows(rows)
    return path


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["import", *args])


def summary(result: Result) -> dict[str, str]:
    line = next(line for line in result.stdout.splitlines() if line.startswith("IMPORT "))
    return dict(part.split("=", 1) for part in line.split()[1:])


def test_imports_a_csv_file_through_the_use_cases_in_one_transaction(world: World, tmp_path: Path) -> None:
    result = run(str(write_csv(tmp_path / "history.csv", world.rows())), "--actor", "河北省民政厅 历史数据")

    assert result.exit_code == 0, result.output
    figures = summary(result)
    assert (figures["rows"], figures["posted"], figures["replayed"], figures["refused"]) == ("4", "4", "0", "0")
    assert figures["transactions"] == "1"
    assert world.figures() == (Decimal("50000.00"), Decimal("30000.00"), Decimal("2000.50"))
    history = world.app.get_history(world.project_id)
    assert {e["actor"] for e in history[1:]} == {"河北省民政厅 历史数据"}
    assert verify_log(world.app.recorder, check_signature=None).outcome == "ok"


def test_running_the_same_file_again_posts_nothing_twice(world: World, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "history.csv", world.rows())
    assert run(str(path), "--batch", "2").exit_code == 0
    again = run(str(path), "--batch", "2")

    assert again.exit_code == 0, again.output
    assert (summary(again)["posted"], summary(again)["replayed"]) == ("0", "4")
    assert world.figures() == (Decimal("50000.00"), Decimal("30000.00"), Decimal("2000.50"))


def test_a_file_with_a_refused_row_is_refused_whole_with_each_reason_and_nothing_written(
    world: World, tmp_path: Path
) -> None:
    rows = world.rows()
    rows[1]["amount"] = "90000.00"  # more than the project received
    rows[2]["line"] = "yacht"
    rows[3]["amount"] = "12.345"
    path = write_csv(tmp_path / "history.csv", rows)
    position = world.app.recorder.max_notification_id()
    report = tmp_path / "refused.csv"
    result = run(str(path), "--report", str(report))

    assert result.exit_code == 1
    assert "refused: nothing written" in result.stderr
    assert "insufficient_funds" in result.stderr and "amounts are never rounded" in result.stderr
    assert world.app.recorder.max_notification_id() == position
    with report.open(encoding="utf-8-sig") as handle:
        refused = list(csv.DictReader(handle))
    assert [(r["row"], r["key"], r["code"], r["field"]) for r in refused] == [
        ("3", "V-0002", "insufficient_funds", ""), ("4", "V-0003", "validation_error", "line"),
        ("5", "V-0004", "validation_error", "amount")]


def test_skip_invalid_posts_the_valid_rows_and_reports_the_others(world: World, tmp_path: Path) -> None:
    rows = world.rows()
    rows[2]["payee_kind"] = "friend"
    result = run(str(write_csv(tmp_path / "history.csv", rows)), "--skip-invalid")

    assert result.exit_code == 0, result.output
    assert (summary(result)["posted"], summary(result)["refused"]) == ("3", "1")
    assert "payee_kind" in result.stderr
    assert world.figures() == (Decimal("50000.00"), Decimal("30000.00"), Decimal("800.00"))


def test_a_dry_run_checks_every_row_and_writes_nothing(world: World, tmp_path: Path) -> None:
    position = world.app.recorder.max_notification_id()
    result = run(str(write_csv(tmp_path / "history.csv", world.rows())), "--dry-run")

    assert result.exit_code == 0, result.output
    assert "4 to post" in result.stderr and "nothing written" in result.stderr
    assert world.app.recorder.max_notification_id() == position


def test_imports_an_excel_file_with_number_and_date_cells(world: World, tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    for row in world.rows():
        cells = {**row, "effective_on": datetime.fromisoformat(row["effective_on"]),
                 "amount": float(row["amount"]) if row["key"] != "V-0001" else Decimal(row["amount"]),
                 "installment": int(row["installment"]) if row.get("installment") else None}
        sheet.append([cells.get(column) for column in HEADER])
    path = tmp_path / "history.xlsx"
    workbook.save(path)
    result = run(str(path))

    assert result.exit_code == 0, result.output
    assert summary(result)["posted"] == "4"
    assert world.figures() == (Decimal("50000.00"), Decimal("30000.00"), Decimal("2000.50"))
    assert world.app.get_project(world.project_id)["period_start"] == date(2023, 3, 1)


def test_a_file_with_an_unknown_column_cannot_be_read(world: World, tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    path.write_text("key,kind,amount,effective_on,colour\nA,expenditure,1.00,2023-01-01,red\n", encoding="utf-8")
    result = run(str(path))

    assert result.exit_code == 2
    assert "unknown columns: colour" in result.output


def test_a_row_naming_an_unknown_project_is_refused_with_the_code_it_gave(world: World, tmp_path: Path) -> None:
    rows = world.rows()[2:]
    rows[1]["project_code"] = "SJZ-NO-SUCH"
    result = run(str(write_csv(tmp_path / "history.csv", rows)), "--skip-invalid")

    assert result.exit_code == 0, result.output
    assert (summary(result)["posted"], summary(result)["refused"]) == ("1", "1")
    assert "unknown_project" in result.stderr and "project code 'SJZ-NO-SUCH'" in result.stderr


class Parses:
    """Counts the rows parsed (read by the request schema of their kind)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.count = 0
        original = cli_import.parse

        def counted(number: int, cells: dict[str, str]) -> Any:
            self.count += 1
            return original(number, cells)

        monkeypatch.setattr(cli_import, "parse", counted)


def test_a_checked_file_is_parsed_once_and_each_row_decided_once(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parses = Parses(monkeypatch)
    decided: list[str] = []
    original = BulkImporter._stage

    def stage(importer: BulkImporter, row: Any, tally: Any) -> None:
        decided.append(row.idempotency.key)
        original(importer, row, tally)

    monkeypatch.setattr(BulkImporter, "_stage", stage)
    result = run(str(write_csv(tmp_path / "history.csv", world.rows())), "--batch", "2")

    assert result.exit_code == 0, result.output
    assert (summary(result)["posted"], summary(result)["transactions"]) == ("4", "2")
    assert parses.count == 4
    assert sorted(decided) == ["import:V-0001", "import:V-0002", "import:V-0003", "import:V-0004"]
    assert world.figures() == (Decimal("50000.00"), Decimal("30000.00"), Decimal("2000.50"))
    assert verify_log(world.app.recorder, check_signature=None).outcome == "ok"


def test_a_file_longer_than_the_rows_kept_is_parsed_again_for_the_import_with_the_same_outcome(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parses = Parses(monkeypatch)
    monkeypatch.setattr(cli_import, "KEPT_ROWS", 3)
    result = run(str(write_csv(tmp_path / "history.csv", world.rows())), "--batch", "2")

    assert result.exit_code == 0, result.output
    assert (summary(result)["posted"], summary(result)["transactions"]) == ("4", "2")
    assert parses.count == 4 + 4
    assert world.figures() == (Decimal("50000.00"), Decimal("30000.00"), Decimal("2000.50"))


def test_a_change_between_the_check_and_the_import_is_seen_by_the_import(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = BulkImporter.run_checked

    def closed_meanwhile(importer: BulkImporter, *args: Any, **kwargs: Any) -> Any:
        Ledger(world.app).close_project(world.project_id)  # another officer, after the check
        return original(importer, *args, **kwargs)

    monkeypatch.setattr(BulkImporter, "run_checked", closed_meanwhile)
    report = tmp_path / "refused.csv"
    result = run(str(write_csv(tmp_path / "history.csv", world.rows())), "--batch", "2", "--report", str(report))

    assert result.exit_code == 1
    assert "stopped" in result.stderr and "0 batches saved before it" in result.stderr
    with report.open(encoding="utf-8-sig") as handle:
        assert [(r["row"], r["key"], r["code"]) for r in csv.DictReader(handle)][:1] == [("2", "V-0001", "closed")]
    assert world.figures() == (Decimal(0), Decimal(0), Decimal(0))
