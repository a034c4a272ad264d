"""Auditors' replay: the audit views as the ledger knew them at a past log position or recorded instant.

The log is replayed up to that point into in-memory view tables by the same projection code as the live views,
so a replay and the live views at the same position cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from ledger.application import LedgerApplication
from projections.audit import AuditProjection
from projections.database import SQLiteDatabase
from projections.engine import RuleEngine
from projections.queries import AuditQueries
from projections.store import ViewStore


def replay(app: LedgerApplication, *, as_of_position: int | None = None, as_of: datetime | None = None,
           engine: RuleEngine | None = None, batch_size: int = 1000,
           progress: Callable[[int, int], None] | None = None) -> tuple[AuditQueries, int]:
    """Returns queries over views rebuilt from the log up to a position and/or a recorded instant, and that position."""
    if as_of is not None and (as_of.tzinfo is None or as_of.utcoffset() is None):
        raise ValueError("as_of must carry a UTC offset")
    store = ViewStore(SQLiteDatabase(""))
    projection = AuditProjection(store, app.mapper, engine)
    head = app.recorder.max_notification_id() or 0
    stop = head if as_of_position is None else min(as_of_position, head)
    position, reached_instant = 0, False
    while position < stop and not reached_instant:
        notifications = list(app.recorder.select_notifications(start=position, limit=batch_size, stop=stop,
                                                                inclusive_of_start=False))
        if not notifications:
            break
        if as_of is not None:
            kept = []
            for notification in notifications:
                if app.mapper.to_domain_event(notification).timestamp > as_of:
                    reached_instant = True  # nothing recorded later counts
                    break
                kept.append(notification)
            notifications = kept
        if notifications:
            with store.db.transaction() as cursor:
                projection.process(cursor, store.generation(cursor), notifications)
            position = notifications[-1].id
        if progress is not None:
            progress(stop if reached_instant else position, stop)
    return AuditQueries(store, engine), position
