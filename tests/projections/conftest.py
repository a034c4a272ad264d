"""Fixtures of the read-side tests: an in-memory ledger for the rules, and views beside the store-parametrised app."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from projection_builders import Officer

from ledger.application import LedgerApplication
from projections.database import Database, database_from_env
from projections.queries import AuditQueries
from projections.worker import ProjectionWorker

IN_MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


@pytest.fixture
def memory_app() -> Iterator[LedgerApplication]:
    """The ledger on the library's in-memory store: for the rules, which need real events but no database."""
    application = LedgerApplication(env=IN_MEMORY)
    try:
        yield application
    finally:
        application.close()


@pytest.fixture
def officer(memory_app: LedgerApplication) -> Officer:
    return Officer(memory_app)


@pytest.fixture
def posting(app: LedgerApplication) -> Officer:
    """An officer posting to this test's store (SQLite or PostgreSQL)."""
    return Officer(app)


@pytest.fixture
def views(app_env: dict[str, str]) -> Iterator[Database]:
    """The view database the worker would use for this store: beside the SQLite file, or in the same schema."""
    db = database_from_env(app_env)
    try:
        yield db
    finally:
        db.close()


@pytest.fixture
def worker(app: LedgerApplication, views: Database) -> ProjectionWorker:
    return ProjectionWorker(app, views, batch_size=50)


@pytest.fixture
def queries(worker: ProjectionWorker) -> AuditQueries:
    return AuditQueries(worker.store)


@pytest.fixture
def other_views(store: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[[], Database]]:
    """Makes further empty view databases of this test's store kind (a file, or a schema), closed after the test."""
    made: list[Database] = []

    def make() -> Database:
        if store == "sqlite":
            env = {"LEDGER_VIEWS_DBNAME": str(tmp_path / f"views-{len(made)}.sqlite")}
        else:
            env = request.getfixturevalue("postgres_env_for")(f"views_{uuid4().hex[:16]}")
        made.append(database_from_env(env))
        return made[-1]

    yield make
    for db in made:
        db.close()
