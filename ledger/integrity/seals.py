"""Seals: the chain head (position and hash) at an instant, signed with a key that is kept outside the database.

A seal turns the chain from "internally consistent" into "unchanged since it was sealed": whoever can write the
database can recompute every hash, but cannot sign. The signed message is plain text, so an auditor can check a seal
with standard tools (see the README). Signing and signature checks are injected: the key lives at the edge.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

SEAL_TAG = "welfare-fund-ledger seal v1"


@dataclass(frozen=True, slots=True)
class Seal:
    """A signed chain head. ``sealed_at`` is kept as the exact ISO 8601 text that was signed."""

    seal_id: int | None
    position: int
    hash: bytes
    sealed_at: str
    key_id: str
    signature: bytes

    def message(self) -> bytes:
        return seal_message(self.position, self.hash, self.sealed_at, self.key_id)

    def to_json(self) -> str:
        """One JSON line, as exported for auditors to keep."""
        return json.dumps({
            "seal_id": self.seal_id,
            "position": self.position,
            "hash": self.hash.hex(),
            "sealed_at": self.sealed_at,
            "key_id": self.key_id,
            "signature": self.signature.hex(),
        }, sort_keys=True)

    @classmethod
    def from_json(cls, line: str) -> Seal:
        data: dict[str, Any] = json.loads(line)
        try:
            return cls(
                seal_id=None if data.get("seal_id") is None else int(data["seal_id"]),
                position=int(data["position"]),
                hash=bytes.fromhex(data["hash"]),
                sealed_at=str(data["sealed_at"]),
                key_id=str(data["key_id"]),
                signature=bytes.fromhex(data["signature"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"not a seal: {line.strip()[:200]!r} ({error})") from None


def seal_message(position: int, head_hash: bytes, sealed_at: str, key_id: str) -> bytes:
    """The exact bytes that are signed."""
    return (f"{SEAL_TAG}\nposition={position}\nhash={head_hash.hex()}\nsealed_at={sealed_at}\n"
            f"key_id={key_id}\n").encode()


class Signer(Protocol):
    """Holds the private key: signs seal messages."""

    @property
    def key_id(self) -> str: ...

    def sign(self, message: bytes) -> bytes: ...


# True: the signature is the key's; False: it is not (forged, altered, or another key).
SignatureCheck = Callable[[Seal], bool]


def now_text(now: datetime | None = None) -> str:
    """An instant as the UTC text a seal carries."""
    return (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="microseconds")
