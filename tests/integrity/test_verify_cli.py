"""`ledger seal`, `ledger seals export|public-key` and `ledger verify` against the test's store, with exit codes."""

from __future__ import annotations

import json
import shutil
import stat

from click.testing import CliRunner

from api.cli import main
from integrity.integrity_helpers import chained, log
from ledger.application import LedgerApplication


def ledger(*args: str):
    return CliRunner().invoke(main, list(args))


def test_seal_init_makes_a_key_only_its_owner_can_read_and_exports_its_public_key(key_env) -> None:
    result = ledger("seal", "--init")
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(key_env.stat().st_mode) == 0o600
    public = key_env.with_suffix(".pub")
    assert public.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert "give it to the auditors" in result.output
    shown = ledger("seals", "public-key")
    assert shown.exit_code == 0 and shown.stdout == public.read_text()
    again = ledger("seal", "--init")
    assert again.exit_code == 0 and "created" not in again.output  # never replaces a key


def test_a_clean_log_is_sealed_exported_and_verifies_with_exit_0(app: LedgerApplication, world, key_env,
                                                                   tmp_path) -> None:
    sealed = ledger("seal")
    assert sealed.exit_code == 0, sealed.output
    assert f"seal 1: position {world.positions[-1]}" in sealed.stdout and key_env.exists()  # made on first use
    exported = tmp_path / "seals.jsonl"
    assert ledger("seals", "export", "-o", str(exported)).exit_code == 0
    line = json.loads(exported.read_text())
    assert (line["seal_id"], line["position"]) == (1, world.positions[-1])

    result = ledger("verify")
    assert result.exit_code == 0, result.output
    assert f"OK: positions 1..{world.positions[-1]}: {len(world.positions)} events" in result.stdout
    assert "1 seals" in result.stdout
    kept = chained(app).last_verification()
    assert kept is not None and kept["outcome"] == "ok" and kept["last_position"] == world.positions[-1]


def test_verify_exits_1_naming_the_first_changed_event(app: LedgerApplication, world, raw, key_env) -> None:
    target = log(app)[4]
    raw.set_state(target.id, target.state + b" ")
    result = ledger("verify")
    assert result.exit_code == 1, result.output
    assert "TAMPERED" in result.stdout
    assert f"first: changed at position {target.id}: {target.topic} of {target.originator_id}" in result.stdout
    kept = chained(app).last_verification()
    assert kept["outcome"] == "tampered" and kept["first_problem"]["position"] == target.id
    assert ledger("verify", "--json", "--no-record").exit_code == 1


def test_an_auditor_checks_the_log_against_their_own_seals_and_public_key(app: LedgerApplication, world, raw,
                                                                          key_env, tmp_path) -> None:
    assert ledger("seal").exit_code == 0
    copy, public = tmp_path / "auditor-seals.jsonl", tmp_path / "auditor-seal.pub"
    assert ledger("seals", "export", "-o", str(copy)).exit_code == 0
    shutil.copy(key_env.with_suffix(".pub"), public)
    assert ledger("verify", "--seals", str(copy), "--public-key", str(public)).exit_code == 0

    # Someone with database access changes an event, recomputes the chain and deletes the seal that would tell.
    target = log(app)[2]
    raw.set_state(target.id, target.state.replace(b"0", b"9", 1))
    raw.rechain(app)
    raw.run("DELETE FROM {seals}")
    assert ledger("verify").exit_code == 0  # the database alone now looks consistent
    result = ledger("verify", "--seals", str(copy), "--public-key", str(public))
    assert result.exit_code == 1, result.output
    assert "1 of them from the auditor's copy" in result.stdout
    assert f"rewritten at positions 1..{world.positions[-1]}: seal 1" in result.stdout
    assert "no longer in the database" in result.stdout


def test_verify_cannot_check_seals_without_a_public_key_and_exits_2(app: LedgerApplication, world,
                                                                     key_env) -> None:
    assert ledger("seal").exit_code == 0
    key_env.unlink()
    key_env.with_suffix(".pub").unlink()
    result = ledger("verify")
    assert result.exit_code == 2 and "cannot be checked" in result.output


def test_seal_refuses_a_key_that_others_may_read(app: LedgerApplication, world, key_env) -> None:
    assert ledger("seal", "--init").exit_code == 0
    key_env.chmod(0o644)
    result = ledger("seal")
    assert result.exit_code == 1 and "chmod 600" in result.output


def test_seal_if_behind_seals_only_when_enough_events_came_since_the_last_seal(app: LedgerApplication, world,
                                                                               key_env) -> None:
    assert ledger("seal").exit_code == 0
    skipped = ledger("seal", "--if-behind", "1")
    assert skipped.exit_code == 0 and "not sealing: 0 events" in skipped.output
    assert len(chained(app).select_seals()) == 1
