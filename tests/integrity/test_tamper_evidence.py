"""Every stored event is hash-chained as it is written; `verify_log` names what no longer matches, on both stores."""

from __future__ import annotations

import itertools
import threading
from uuid import uuid4

import pytest
from builders import Ledger
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.persistence import IntegrityError, StoredEvent

from api.sealing import Ed25519Signer
from integrity.integrity_helpers import chained, kinds, log, verified
from ledger.application import LedgerApplication
from ledger.integrity.recorders import seal_head


def test_a_clean_log_verifies_and_every_event_is_chained(app: LedgerApplication, world) -> None:
    report = verified(app)
    assert report.outcome == "ok", report.problems
    assert report.events_checked == report.chain_rows_checked == len(world.positions) == report.last_position
    rows = chained(app).select_chain(0, 1000)
    assert [r.position for r in rows] == world.positions
    assert [r.previous for r in rows] == [0, *world.positions[:-1]]


def test_names_an_event_whose_stored_bytes_were_changed(app: LedgerApplication, world, raw) -> None:
    spent = [n for n in log(app) if n.topic.endswith("ExpenditureRecorded")][1]
    raw.set_state(spent.id, spent.state.replace(b"200.00", b"900.00"))
    report = verified(app)
    assert report.outcome == "tampered"
    assert kinds(report) == [("changed", spent.id)]
    first = report.first_problem
    assert first is not None
    assert (first.originator_id, first.originator_version) == (str(world.project), spent.originator_version)
    assert "stored bytes differ" in first.describe() and "ExpenditureRecorded" in first.describe()


def test_names_a_deleted_event_as_missing(app: LedgerApplication, world, raw) -> None:
    victim = world.positions[3]
    raw.delete_event(victim)
    report = verified(app)
    assert kinds(report) == [("missing", victim)]
    assert "is gone from the log" in report.problems[0].message


def test_names_an_event_deleted_with_its_chain_row_as_missing(app: LedgerApplication, world, raw) -> None:
    victim = world.positions[2]
    raw.delete_event(victim)
    raw.delete_chain_row(victim)
    assert kinds(verified(app)) == [("missing", victim)]


def test_names_a_forged_event_as_inserted(app: LedgerApplication, world, raw) -> None:
    template = log(app)[-1]
    forged = raw.insert_event(uuid4(), 1, template.topic, template.state)
    report = verified(app)
    assert kinds(report) == [("inserted", forged)]
    assert "never chained" in report.problems[0].message


def test_names_two_swapped_events_as_reordered(app: LedgerApplication, world, raw) -> None:
    first, second = world.positions[1], world.positions[5]
    raw.swap(first, second)
    report = verified(app)
    assert kinds(report) == [("reordered", first), ("reordered", second)]
    assert f"was chained at position {second}, and is now at {first}" in report.first_problem.message


def test_names_an_event_whose_chain_row_alone_was_deleted(app: LedgerApplication, world, raw) -> None:
    victim = world.positions[4]
    raw.delete_chain_row(victim)
    report = verified(app)
    assert kinds(report) == [("missing", victim)]
    assert "the event is still there" in report.problems[0].message


def test_a_rewritten_chain_is_consistent_but_the_first_seal_after_the_change_names_it(
        app: LedgerApplication, world, raw, signer: Ed25519Signer, check) -> None:
    ledger = Ledger(app)
    early = seal_head(chained(app), signer)  # covers the fund and the project's first events
    ledger.spend(world.project, "400.00")
    middle = seal_head(chained(app), signer)
    ledger.spend(world.project, "500.00")
    late = seal_head(chained(app), signer)
    assert early and middle and late
    # Rewrite the project's whole history after the early seal (every expenditure doubled), then recompute the chain.
    changed = [n for n in log(app) if n.originator_id == world.project and n.id > early.position]
    for event in changed:
        raw.set_state(event.id, event.state.replace(b"00.00", b"99.00"))
    raw.rechain(app, after=early.position)

    report = verified(app, check)
    assert {p.kind for p in report.problems} == {"rewritten"}, report.problems  # every link is consistent again
    first = report.first_problem
    assert (first.kind, first.seal_id, first.range_start, first.position) == (
        "rewritten", middle.seal_id, early.position + 1, middle.position)
    assert f"positions {early.position + 1}..{middle.position}" in first.describe()
    assert [p.seal_id for p in report.problems] == [middle.seal_id, late.seal_id]


def test_seals_verify_and_a_forged_or_altered_seal_fails(app: LedgerApplication, world, raw, signer, check) -> None:
    seal = seal_head(chained(app), signer)
    assert seal is not None and check(seal)
    report = verified(app, check)
    assert report.outcome == "ok" and report.seals_checked == 1 and report.last_sealed_position == seal.position

    forger = Ed25519Signer(Ed25519PrivateKey.generate())  # another key
    forged = seal_head(chained(app), forger)
    raw.run("UPDATE {seals} SET key_id = {m} WHERE seal_id = {m}", signer.key_id, forged.seal_id)
    raw.run("UPDATE {seals} SET position = {m} WHERE seal_id = {m}", world.positions[2], seal.seal_id)
    report = verified(app, check)
    assert sorted((p.kind, p.seal_id) for p in report.problems) == [("bad_seal", seal.seal_id),
                                                                    ("bad_seal", forged.seal_id)]


def test_a_truncated_log_is_caught_by_a_seal_beyond_its_end(app: LedgerApplication, world, raw, signer, check) -> None:
    seal = seal_head(chained(app), signer)
    for position in world.positions[-2:]:
        raw.delete_event(position)
        raw.delete_chain_row(position)
    report = verified(app, check)
    assert kinds(report) == [("missing", seal.position)]
    assert "beyond the end of the chain" in report.problems[0].message


def test_an_auditors_copy_catches_a_seal_deleted_from_the_database(app: LedgerApplication, world, raw, signer,
                                                                    check) -> None:
    kept = seal_head(chained(app), signer)
    raw.run("DELETE FROM {seals} WHERE seal_id = {m}", kept.seal_id)
    assert verified(app, check).outcome == "ok"  # the database alone no longer knows of it
    report = verified(app, check, auditor_seals=[kept])
    assert kinds(report) == [("missing", kept.position)]
    assert "auditor's copy" in report.problems[0].message and report.auditor_seals == 1


def test_saves_during_a_verification_are_neither_checked_nor_mistaken_for_damage(app: LedgerApplication,
                                                                                 world) -> None:
    ledger = Ledger(app)
    end = world.positions[-1]

    def save_meanwhile(position: int, last: int) -> None:
        ledger.spend(world.project, "1.00")

    report = verified(app, batch_size=2, progress=save_meanwhile)
    assert report.outcome == "ok" and report.last_position == end
    assert verified(app).outcome == "ok"


def test_concurrent_saves_form_one_unbroken_chain(app: LedgerApplication, world) -> None:
    ledger = Ledger(app, _numbers=itertools.count(100))  # other document numbers and codes than the world's
    projects = [ledger.funded_project()[1] for _ in range(4)]
    errors: list[BaseException] = []

    def post(project) -> None:
        try:
            for _ in range(6):
                Ledger(app).spend(project, "10.00")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=post, args=(p,)) for p in projects for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    report = verified(app)
    assert report.outcome == "ok", report.problems
    assert report.chain_rows_checked == report.events_checked == len(log(app))


def test_a_save_that_fails_writes_neither_events_nor_chain_rows(app: LedgerApplication, world) -> None:
    head = chained(app).chain_head()
    existing = log(app)[-1]
    new = StoredEvent(uuid4(), 1, existing.topic, existing.state)
    duplicate = StoredEvent(existing.originator_id, existing.originator_version, existing.topic, existing.state)
    with pytest.raises(IntegrityError):
        app.recorder.insert_events([new, duplicate])
    assert chained(app).chain_head() == head
    assert max(n.id for n in log(app)) == head.position
    Ledger(app).spend(world.project, "1.00")  # the chain goes on from the same head
    assert verified(app).outcome == "ok"
