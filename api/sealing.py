"""The sealing key (Ed25519, kept in a file outside the database) and sealing the chain head when it is due.

The private key is ``LEDGER_SEAL_KEY`` (default ``<LEDGER_DATA_DIR>/seal.key``, PKCS#8 PEM, mode 0600, refused when
others may read it); its public key is written beside it (``seal.pub``, SubjectPublicKeyInfo PEM) for auditors. A
key's id is the first 16 hex digits of SHA-256 of its raw public key. A web process never creates a key: ``ledger
seal --init`` or the first ``ledger seal`` does.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask import Flask, Response, request

from api.extension import extension
from ledger.integrity.recorders import as_chained, seal_head
from ledger.integrity.seals import Seal, SignatureCheck

log = logging.getLogger("api")


class SealKeyError(Exception):
    """The sealing key is missing, unreadable or too widely readable."""


def key_path(values: Mapping[str, Any]) -> Path:
    """Where the private sealing key is: LEDGER_SEAL_KEY, or seal.key in the data directory."""
    configured = str(values.get("LEDGER_SEAL_KEY") or "")
    return Path(configured) if configured else Path(str(values["LEDGER_DATA_DIR"])) / "seal.key"


def public_key_path(private: Path) -> Path:
    return private.with_suffix(".pub")


def key_id_of(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


class Ed25519Signer:
    """Signs seal messages with the private key."""

    def __init__(self, private_key: Ed25519PrivateKey):
        self._private_key = private_key
        self.public_key = private_key.public_key()
        self._key_id = key_id_of(self.public_key)

    @property
    def key_id(self) -> str:
        return self._key_id

    def sign(self, message: bytes) -> bytes:
        return self._private_key.sign(message)


def create_key(path: Path) -> Ed25519Signer:
    """Makes a new key file (0600; never overwrites one) and writes its public key beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    private_key = Ed25519PrivateKey.generate()
    pem = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)
    signer = Ed25519Signer(private_key)
    public_key_path(path).write_bytes(public_pem(signer.public_key))
    return signer


def load_key(path: Path) -> Ed25519Signer:
    """The signer of an existing key file; refuses a file that others than its owner may read."""
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except FileNotFoundError:
        raise SealKeyError(f"no sealing key at {path} (create it with `ledger seal --init`)") from None
    except OSError as error:
        raise SealKeyError(f"cannot read the sealing key {path}: {error}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SealKeyError(f"the sealing key {path} is accessible to others (mode {stat.S_IMODE(mode):04o}); "
                        f"run: chmod 600 {path}")
    private_key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(private_key, Ed25519PrivateKey):
        raise SealKeyError(f"{path} is not an Ed25519 private key")
    return Ed25519Signer(private_key)


def load_or_create_key(path: Path) -> tuple[Ed25519Signer, bool]:
    """The key at ``path``, made first if there is none; and whether it was just made."""
    try:
        return create_key(path), True
    except FileExistsError:
        return load_key(path), False


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        public_key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as error:
        raise SealKeyError(f"cannot read a public key from {path}: {error}") from None
    if not isinstance(public_key, Ed25519PublicKey):
        raise SealKeyError(f"{path} is not an Ed25519 public key")
    return public_key


def signature_check(public_key: Ed25519PublicKey) -> SignatureCheck:
    """Checks that a seal was signed by this key (its key id and its signature)."""
    expected = key_id_of(public_key)

    def check(seal: Seal) -> bool:
        if seal.key_id != expected:
            return False
        try:
            public_key.verify(seal.signature, seal.message())
        except InvalidSignature:
            return False
        return True

    return check


# -- sealing when due, after successful writes of the API ------------------------------------------------------------


class AutoSeal:
    """Seals the chain head once ``every`` events have been chained since the last seal.

    Checked after each successful POST from the recorder's in-memory count (no query); the latest seal is re-read
    before sealing, so several workers rarely seal the same stretch twice (and if they do, both seals are valid).
    """

    def __init__(self, path: Path, every: int):
        self.path = path
        self.every = every
        self.last_sealed: int | None = None
        self.signer: Ed25519Signer | None = None
        self.disabled = False
        self._lock = threading.Lock()

    def maybe_seal(self, recorder: Any) -> Seal | None:
        chained = as_chained(recorder)
        if self.disabled or (self.last_sealed is not None and chained.last_chained - self.last_sealed < self.every):
            return None
        if not self._lock.acquire(blocking=False):
            return None  # another thread of this process is sealing
        try:
            latest = chained.latest_seal()
            self.last_sealed = latest.position if latest is not None else 0
            head = chained.chain_head()
            if head is None or head.position - self.last_sealed < self.every:
                return None
            if self.signer is None:
                try:
                    self.signer = load_key(self.path)
                except SealKeyError as error:
                    self.disabled = True
                    log.warning("periodic sealing is off: %s", error)
                    return None
            seal = seal_head(chained, self.signer)
            if seal is not None:
                self.last_sealed = seal.position
                log.info("sealed the chain head at position %s (seal %s)", seal.position, seal.seal_id)
            return seal
        finally:
            self._lock.release()


def init_sealing(app: Flask, values: Mapping[str, Any]) -> None:
    """Seals every LEDGER_SEAL_EVERY events (0: never) after successful writes; a failure to seal is logged and
    never fails the write, which is committed already."""
    every = int(values.get("LEDGER_SEAL_EVERY") or 0)
    if every <= 0:
        return
    sealer = AutoSeal(key_path(values), every)
    app.extensions["ledger_sealing"] = sealer

    @app.after_request
    def _seal_when_due(response: Response) -> Response:
        if request.method == "POST" and response.status_code < 300 and extension().started:
            try:
                sealer.maybe_seal(extension().app.recorder)
            except Exception:
                log.exception("sealing the chain head failed")
        return response
