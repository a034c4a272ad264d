"""The shared store fixtures give every test a working, empty event store of its own, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from uuid import UUID

import psycopg
import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event


class Note(Aggregate):
    """A tiny aggregate, standing in for the ledger's own while they are written."""

    @event("Written")
    def __init__(self, text: str) -> None:
        self.text = text

    @event("Amended")
    def amend(self, text: str) -> None:
        self.text = text


class Notebook(Application[UUID]):
    name = "notebook"

    def write(self, text: str) -> UUID:
        note = Note(text)
        self.save(note)
        return note.id

    def amend(self, note_id: UUID, text: str) -> None:
        note: Note = self.repository.get(note_id)
        note.amend(text)
        self.save(note)


@pytest.fixture
def notebook(app_env: dict[str, str]) -> Iterator[Notebook]:
    application = Notebook(env=app_env)
    try:
        yield application
    finally:
        application.close()


def _log_length(application: Application[UUID]) -> int:
    return application.recorder.max_notification_id() or 0


def test_saves_and_reads_back_an_aggregate(notebook: Notebook) -> None:
    note_id = notebook.write("社工站 2024 年第一季度")
    notebook.amend(note_id, "社工站 2024 年第二季度")

    note: Note = notebook.repository.get(note_id)
    assert note.text == "社工站 2024 年第二季度"
    assert note.version == 2
    assert notebook.repository.get(note_id, version=1).text == "社工站 2024 年第一季度"


def test_reads_back_from_a_second_application_on_the_same_store(app_env: dict[str, str]) -> None:
    writer = Notebook(env=app_env)
    try:
        note_id = writer.write("persisted, not in memory")
    finally:
        writer.close()
    reader = Notebook(env=app_env)
    try:
        assert reader.repository.get(note_id).text == "persisted, not in memory"
    finally:
        reader.close()


@pytest.mark.parametrize("turn", ["first", "second"])
def test_each_test_starts_with_an_empty_notification_log(notebook: Notebook, turn: str) -> None:
    # Run twice per store: if tests shared a store, the later run would find the earlier run's event.
    assert _log_length(notebook) == 0
    notebook.write(f"{turn} test")
    assert _log_length(notebook) == 1


def test_store_tests_carry_their_store_marker(store: str, request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker(store) is not None


@pytest.mark.parametrize("store", ["sqlite"])
def test_sqlite_env_is_a_file_in_the_tests_own_directory(app_env: dict[str, str], tmp_path: Path) -> None:
    assert app_env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite"
    assert app_env["SQLITE_DBNAME"].startswith(str(tmp_path))


def test_postgres_schemas_are_isolated_from_each_other(postgres_env_for: Callable[[str], dict[str, str]]) -> None:
    one = Notebook(env=postgres_env_for("isolation_one"))
    other = Notebook(env=postgres_env_for("isolation_other"))
    try:
        note_id = one.write("only in schema one")
        assert _log_length(one) == 1
        assert _log_length(other) == 0
        assert note_id not in other.repository
    finally:
        one.close()
        other.close()


def test_postgres_tests_use_a_throwaway_database_of_their_own(
    postgres_dsn: str, request: pytest.FixtureRequest
) -> None:
    with psycopg.connect(postgres_dsn) as conn:
        (database,) = conn.execute("SELECT current_database()").fetchone() or ("",)
    assert database.startswith("ledger_test_")
    assert request.node.get_closest_marker("postgres") is not None


@pytest.mark.parametrize("store", ["postgres"])
def test_postgres_app_env_names_a_fresh_existing_schema(app_env: dict[str, str], postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn) as conn:
        row = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s", (app_env["POSTGRES_SCHEMA"],)
        ).fetchone()
    assert row == (0,)
    assert app_env["POSTGRES_LOCK_TIMEOUT"] == "5"
    assert "POSTGRES_ENABLE_DB_FUNCTIONS" not in app_env
