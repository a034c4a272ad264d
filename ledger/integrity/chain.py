"""The hash chain: a canonical encoding of each stored event, linked to the hash of the event chained before it.

``hash(n) = SHA-256(hash(n-1) ‖ encoding(n))``; the first link follows ``GENESIS`` (32 zero bytes). The encoding
covers the log position, the originator id and version, the topic and the stored bytes exactly as the library wrote
them (after any compression or encryption): each field is length-prefixed, so no two different events encode alike.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.persistence import StoredEvent

GENESIS = bytes(32)
ENCODING_TAG = b"welfare-fund-ledger/chain/v1"


@dataclass(frozen=True, slots=True)
class Head:
    """The last link of the chain: its log position and hash."""

    position: int
    hash: bytes


@dataclass(frozen=True, slots=True)
class ChainRow:
    """One stored link: the event's position, the position chained before it (0 for the first), who and which version
    the event was (so that a moved or missing event can be named), and the link's hash."""

    position: int
    previous: int
    originator_id: UUID | str
    originator_version: int
    hash: bytes


def _field(value: bytes) -> bytes:
    return len(value).to_bytes(8, "big") + value


def _originator(originator_id: UUID | str) -> bytes:
    if isinstance(originator_id, UUID):
        return b"u" + originator_id.bytes
    return b"s" + originator_id.encode()


def _octets(state: bytes) -> bytes:
    if not isinstance(state, bytes | bytearray | memoryview):
        raise TypeError(f"stored state is {type(state).__name__}, not bytes")
    return bytes(state)


def encode(position: int, originator_id: UUID | str, originator_version: int, topic: str, state: bytes) -> bytes:
    """The canonical bytes of one stored event at one log position."""
    return b"".join((
        _field(ENCODING_TAG),
        _field(position.to_bytes(8, "big", signed=True)),
        _field(_originator(originator_id)),
        _field(originator_version.to_bytes(8, "big", signed=True)),
        _field(topic.encode()),
        _field(_octets(state)),
    ))


def link(previous_hash: bytes, position: int, event: StoredEvent) -> bytes:
    """The hash of ``event`` stored at ``position``, chained after ``previous_hash``."""
    encoded = encode(position, event.originator_id, event.originator_version, event.topic, event.state)
    return hashlib.sha256(previous_hash + encoded).digest()


def extend(head: Head | None, recorded: Iterable[tuple[int, StoredEvent]]) -> list[ChainRow]:
    """The links for events just recorded at the given positions, chained after ``head`` (None: an empty chain)."""
    previous_hash, previous = (head.hash, head.position) if head is not None else (GENESIS, 0)
    rows = []
    for position, event in sorted(recorded, key=lambda pair: pair[0]):
        digest = link(previous_hash, position, event)
        rows.append(ChainRow(position, previous, event.originator_id, event.originator_version, digest))
        previous_hash, previous = digest, position
    return rows


def paired(positions: Sequence[int] | None, events: Sequence[StoredEvent]) -> list[tuple[int, StoredEvent]]:
    """Each recorded event with the log position the store gave it (the library returns them in the same order)."""
    if positions is None or len(positions) != len(events):
        raise RuntimeError(f"the store gave {0 if positions is None else len(positions)} positions for "
                           f"{len(events)} events: cannot chain them")
    return list(zip(positions, events, strict=True))
