"""Deterministic identities: a natural key maps to one aggregate id, so a duplicate key is a duplicate id."""

from __future__ import annotations

from uuid import UUID, uuid5

NAMESPACE = UUID("6f2b1c4e-0d55-4f3a-9a0e-5b7f6c3d2a10")


def fund_id(holder_region: str, document_no: str) -> UUID:
    """A fund is one document's money held at one region."""
    return uuid5(NAMESPACE, f"fund:{holder_region}:{document_no}")


def project_id(code: str) -> UUID:
    return uuid5(NAMESPACE, f"project:{code}")


def natural_key_id(kind: str, value: str) -> UUID:
    return uuid5(NAMESPACE, f"key:{kind}:{value}")


def idempotency_id(scope: str, key: str) -> UUID:
    """Keys are per actor, so two officers never collide on the same client-chosen key."""
    return uuid5(NAMESPACE, f"idempotency:{scope}:{key}")
