"""Transcodings the ledger's events need beyond the library's UUID, Decimal and datetime."""

from __future__ import annotations

from datetime import date

from eventsourcing.persistence import JSONTranscoder, Transcoding


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


def register_ledger_transcodings(transcoder: JSONTranscoder) -> None:
    """Every process that reads the ledger's events (API, projection workers, replay) registers these."""
    transcoder.register(DateAsISO())
