"""Fixtures of the application tier: the use cases run on both stores through the shared ``app`` fixture."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from uuid import uuid4

import pytest
from builders import Ledger

from ledger.application import LedgerApplication

EnvFactory = Callable[[], dict[str, str]]


@pytest.fixture
def ledger(app: LedgerApplication) -> Ledger:
    """An officer of 河北省 posting through ``app``."""
    return Ledger(app)


@pytest.fixture
def fresh_env(store: str, tmp_path: Path, request: pytest.FixtureRequest) -> EnvFactory:
    """Makes a new, empty store of this test's kind on each call (for tests that need many, e.g. one per example)."""
    numbers = itertools.count(1)
    if store == "sqlite":

        def sqlite_env() -> dict[str, str]:
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(tmp_path / f"ledger-{next(numbers)}.sqlite"),
                "SQLITE_LOCK_TIMEOUT": "10",
            }

        return sqlite_env
    env_for: Callable[[str], dict[str, str]] = request.getfixturevalue("postgres_env_for")

    def postgres_env() -> dict[str, str]:
        return env_for(f"fresh_{next(numbers)}_{uuid4().hex[:16]}")

    return postgres_env
