"""The chain's encoding and the seal's message are formats that auditors' copies depend on: fixed, unambiguous."""

from __future__ import annotations

from uuid import UUID

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.persistence import StoredEvent

from api.sealing import Ed25519Signer, signature_check
from ledger.integrity.chain import GENESIS, Head, encode, extend, link
from ledger.integrity.seals import Seal, seal_message

ID = UUID("12345678-1234-5678-1234-567812345678")
EVENT = StoredEvent(ID, 3, "ledger:Project.ExpenditureRecorded", b'{"amount":"100.00"}')


def test_the_hash_of_an_event_never_changes_between_releases() -> None:
    assert link(GENESIS, 7, EVENT).hex() == "712ff913cf4bde3fddae666891d9fb937591d5d2633229cb05ff0656ed55dedb"


@pytest.mark.parametrize("changed", [
    (8, ID, 3, EVENT.topic, EVENT.state),
    (7, UUID(int=ID.int + 1), 3, EVENT.topic, EVENT.state),
    (7, ID, 4, EVENT.topic, EVENT.state),
    (7, ID, 3, "ledger:Project.Disbursed", EVENT.state),
    (7, ID, 3, EVENT.topic, b'{"amount":"100.01"}'),
    (7, str(ID), 3, EVENT.topic, EVENT.state),  # a text id is not the same originator as the UUID
])
def test_every_field_of_an_event_is_covered(changed) -> None:
    assert encode(*changed) != encode(7, ID, 3, EVENT.topic, EVENT.state)


def test_fields_are_length_prefixed_so_moving_bytes_between_them_changes_the_encoding() -> None:
    assert encode(1, ID, 1, "ab", b"c") != encode(1, ID, 1, "a", b"bc")


def test_each_link_follows_the_one_before() -> None:
    rows = extend(Head(5, b"\x01" * 32), [(9, EVENT), (7, EVENT)])
    assert [(r.position, r.previous) for r in rows] == [(7, 5), (9, 7)]
    assert rows[0].hash == link(b"\x01" * 32, 7, EVENT) and rows[1].hash == link(rows[0].hash, 9, EVENT)
    assert extend(None, [(1, EVENT)])[0].hash == link(GENESIS, 1, EVENT)


def test_the_signed_message_is_plain_text_an_auditor_can_rebuild() -> None:
    message = seal_message(42, bytes(range(32)), "2024-05-01T08:00:00.000000+00:00", "0123456789abcdef")
    assert message == (b"welfare-fund-ledger seal v1\nposition=42\n"
                       b"hash=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
                       b"sealed_at=2024-05-01T08:00:00.000000+00:00\nkey_id=0123456789abcdef\n")


def test_a_seal_survives_export_and_fails_when_any_field_is_altered() -> None:
    signer = Ed25519Signer(Ed25519PrivateKey.generate())
    check = signature_check(signer.public_key)
    unsigned = Seal(3, 42, bytes(32), "2024-05-01T08:00:00.000000+00:00", signer.key_id, b"")
    seal = Seal(3, 42, bytes(32), unsigned.sealed_at, signer.key_id, signer.sign(unsigned.message()))
    copy = Seal.from_json(seal.to_json())
    assert copy == seal and check(copy)
    for altered in (Seal(3, 43, seal.hash, seal.sealed_at, seal.key_id, seal.signature),
                    Seal(3, 42, b"\x01" * 32, seal.sealed_at, seal.key_id, seal.signature),
                    Seal(3, 42, seal.hash, "2024-05-01T08:00:00.000001+00:00", seal.key_id, seal.signature),
                    Seal(3, 42, seal.hash, seal.sealed_at, "f" * 16, seal.signature)):
        assert not check(altered)
    with pytest.raises(ValueError, match="not a seal"):
        Seal.from_json('{"position": 1}')
