"""Paging through one aggregate's history and through the global log, with opaque cursors."""

from __future__ import annotations

import base64
import binascii
from typing import Any
from uuid import UUID

from flask import g

from api.extension import extension, ledger
from api.problems import Problem
from ledger.views import event_view

BUSINESS_TOPICS = ("ledger:Fund.", "ledger:Project.", "ledger:Procurement.")


def encode_cursor(kind: str, value: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{value}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str, kind: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        found, _, value = text.partition(":")
        if found != kind or not value.isdigit():
            raise ValueError(cursor)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise Problem(400, "The cursor is not one this list gave out.", code="invalid_cursor",
                      errors={"cursor": ["Not a cursor of this list."]}) from None


def history_page(aggregate_id: UUID, *, limit: int, cursor: str | None = None) -> dict[str, Any]:
    """One page of an aggregate's events, oldest first; the cursor is the last version returned."""
    after = decode_cursor(cursor, "v") if cursor else 0
    history = [e for e in ledger().get_history(aggregate_id) if e["version"] > after]
    page = history[:limit]
    last = page[-1]["version"] if page else after
    return {
        "items": page,
        "next_cursor": encode_cursor("v", last),
        "has_more": len(history) > limit,
        "last_position": page[-1]["position"] if page else None,
    }


def log_page(*, limit: int, cursor: str | None = None, after: int | None = None) -> dict[str, Any]:
    """One page of the global log (business events of funds, projects and procurements) inside the caller's scope.

    Bookkeeping records (idempotency keys, natural-key reservations, tokens) are left out. The cursor is the last
    log position scanned, so a page may hold fewer than ``limit`` items when events outside the scope are skipped.
    """
    app = ledger()
    position = decode_cursor(cursor, "p") if cursor else (after or 0)
    scope = g.principal.scope
    items: list[dict[str, Any]] = []
    scanned, budget, exhausted = 0, 20 * limit, False
    while len(items) < limit and scanned < budget:
        batch = app.recorder.select_notifications(start=position, limit=limit, inclusive_of_start=False)
        if not batch:
            exhausted = True
            break
        for notification in batch:
            scanned += 1
            position = notification.id
            if not notification.topic.startswith(BUSINESS_TOPICS):
                continue
            if scope:
                identity = extension().identity(notification.originator_id)
                if identity is None or not identity[1].startswith(scope):
                    continue
            items.append(event_view(app.mapper.to_domain_event(notification), notification.id))
            if len(items) == limit:
                break
        if len(batch) < limit and len(items) < limit:
            exhausted = True
            break
    has_more = not exhausted and bool(app.recorder.select_notifications(start=position, limit=1,
                                                                          inclusive_of_start=False))
    return {"items": items, "next_cursor": encode_cursor("p", position), "has_more": has_more,
            "last_position": position}
