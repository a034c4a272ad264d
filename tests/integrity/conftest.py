"""Fixtures for tamper evidence: a small ledger on the test's store, raw SQL access to its tables, a throwaway
Ed25519 sealing key, and the environment the `ledger` command reads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.sealing import Ed25519Signer, signature_check
from integrity.integrity_helpers import RawStore, World, build_world
from ledger.application import LedgerApplication
from ledger.integrity.seals import SignatureCheck


@pytest.fixture
def world(app: LedgerApplication) -> World:
    """A fund, a project with three expenditures, a second fund passed down: a dozen events."""
    return build_world(app)


@pytest.fixture
def raw(store: str, app_env: dict[str, str]) -> Iterator[RawStore]:
    access = RawStore(store, app_env)
    try:
        yield access
    finally:
        access.close()


@pytest.fixture
def signer() -> Ed25519Signer:
    return Ed25519Signer(Ed25519PrivateKey.generate())


@pytest.fixture
def check(signer: Ed25519Signer) -> SignatureCheck:
    return signature_check(signer.public_key)


@pytest.fixture
def key_env(tmp_path: Path, app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Path:
    """The store's env and a sealing key path in the process environment, as the `ledger` command reads them."""
    for name, value in app_env.items():
        monkeypatch.setenv(name, value)
    key = tmp_path / "keys" / "seal.key"
    monkeypatch.setenv("LEDGER_SEAL_KEY", str(key))
    monkeypatch.setenv("LEDGER_DATA_DIR", str(tmp_path / "data"))
    return key
