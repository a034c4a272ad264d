"""Log positions (notification ids) of an aggregate's stored events, on each of the library's recorders.

The library answers "which events has this aggregate" and "what is at position N", not "at which position is this
event". Audit trails and idempotent replays need the latter, so it is read here from the recorder's own table.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder


def positions_of(recorder: ApplicationRecorder, originator_id: UUID) -> dict[int, int]:
    """Maps each stored version of an aggregate to its log position."""
    datastore: Any = getattr(recorder, "datastore", None)
    table: str | None = getattr(recorder, "events_table_name", None)
    if datastore is not None and table is not None and hasattr(datastore, "schema"):
        return _select(datastore, _quoted(datastore.schema, table), "%s", originator_id)
    if datastore is not None and table is not None:
        return _select(datastore, table, "?", originator_id.hex, rowid=True)
    stored = getattr(recorder, "_stored_events", None)
    if stored is not None:  # the in-memory recorder: positions are list indexes, from 1
        return {s.originator_version: i + 1 for i, s in enumerate(stored) if s.originator_id == originator_id}
    raise TypeError(f"cannot read log positions from {type(recorder).__name__}")


def _quoted(schema: str, table: str) -> str:
    for name in (schema, table):
        if not name.replace("_", "").isalnum():
            raise ValueError(f"unexpected identifier {name!r}")
    return f'"{schema}"."{table}"'


def _select(datastore: Any, table: str, mark: str, originator_id: object, *, rowid: bool = False) -> dict[int, int]:
    column = "rowid" if rowid else "notification_id"
    statement = (
        f"SELECT originator_version, {column} AS position FROM {table} "
        f"WHERE originator_id = {mark} ORDER BY originator_version"
    )
    with datastore.transaction(commit=False) as cursor:
        cursor.execute(statement, (originator_id,))
        return {int(row["originator_version"]): int(row["position"]) for row in cursor.fetchall()}
