"""`ledger demo`: loads the demo once into an embedded SQLite ledger (hash chain intact), prints a token per demo
person, and a second run reuses the ledger instead of loading it again."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from api.cli import main
from ledger.application import LedgerApplication

pytestmark = pytest.mark.slow


def test_loads_the_demo_once_and_prints_the_same_tokens_on_the_second_run(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LEDGER_DATA_DIR", str(tmp_path / "demo"))
    for name in ("PERSISTENCE_MODULE", "SQLITE_DBNAME", "LEDGER_VIEWS_DBNAME"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()
    first = runner.invoke(main, ["demo", "--scale", "0.2"])
    assert first.exit_code == 0, first.output
    tokens = first.stdout.strip().splitlines()
    assert [line.split()[:2] for line in tokens] == [["officer", "13"], ["officer", "6201"], ["officer", "5401"],
                                                      ["auditor", "*"], ["admin", "*"]]
    assert all(line.rsplit(": ", 1)[1].startswith("lgr_") for line in tokens)
    dbname = tmp_path / "demo" / "ledger.sqlite"
    ledger = LedgerApplication(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(dbname)})
    try:
        loaded = ledger.recorder.max_notification_id()
        project = ledger.get_project(ledger.find_project_id("SGZ-130102001-2023"))
        assert project["township_code"] == "130102001"
    finally:
        ledger.close()

    second = runner.invoke(main, ["demo"])
    assert second.exit_code == 0, second.output
    assert second.stdout.strip().splitlines() == tokens
    ledger = LedgerApplication(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(dbname)})
    try:
        assert ledger.recorder.max_notification_id() == loaded
    finally:
        ledger.close()
    verified = runner.invoke(main, ["verify"])
    assert verified.exit_code == 0 and "everything matches" in verified.output, verified.output
