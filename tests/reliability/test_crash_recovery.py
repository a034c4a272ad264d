"""kill -9 of the API server (gunicorn, `ledger serve`) and of the projection worker (`ledger projections run`), at
seeded random points under a posting load from several clients with Idempotency-Keys, on SQLite and PostgreSQL:
after restarts, every acknowledged posting is in the log exactly once, nothing is half-written, every request
retried with its key answers its original result, the hash chain is whole, and the views the worker built through
the crashes equal a rebuild from position 0. Standalone and longer: `python -m scripts.crashtest --seconds 300`."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.crashtest import crash_run

pytestmark = pytest.mark.slow

SECONDS = 35  # of load with crashes; about a minute per store with setup and checks


def test_kill_9_of_server_and_worker_loses_duplicates_and_half_writes_nothing(
        store: str, app_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines: list[str] = []
    report = crash_run(store, app_env, tmp_path, seconds=SECONDS, seed=2024, clients=6, log=lines.append)

    assert report.faults["kill -9 server"] + report.faults["kill -9 projection worker"] >= 3, report.faults
    assert report.log["lost"] == 0 and report.log["duplicated"] == 0
    assert report.log["acknowledged"] > 100, report.log
    assert report.retries["acknowledged replayed"] == report.log["acknowledged"]
    assert report.statuses["500"] == 0, report.statuses
    assert report.chain.startswith("OK"), report.chain
    with capsys.disabled():
        print("\ncrash test:\n  " + "\n  ".join(report.lines()))
