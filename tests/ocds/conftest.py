"""OCDS fixtures: the official release schema (fetched when missing, never skipped), a validator, the reference
merge, and one recorded contracting process per kind of story."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import ocdsmerge
import pytest
from builders import NATIONWIDE_OFFICER, Ledger

from ledger.application import LedgerApplication
from ocds.stories import STORIES, Story

ROOT = Path(__file__).resolve().parents[2]
FETCH = ROOT / "scripts" / "fetch_ocds_schema.py"
SCHEMA = ROOT / ".cache" / "ocds" / "release-schema-1__1__4.json"


@pytest.fixture(scope="session")
def release_schema() -> dict[str, Any]:
    """The OCDS 1.1.4 release schema, fetched by scripts/fetch_ocds_schema.py when missing (checked by digest)."""
    result = subprocess.run([sys.executable, str(FETCH)], capture_output=True, text=True, timeout=900, check=False)
    if result.returncode != 0 or not SCHEMA.is_file():
        pytest.fail(f"the OCDS release schema is needed and could not be fetched with {FETCH.relative_to(ROOT)} "
                    f"(exit {result.returncode}):\n{result.stdout}{result.stderr}", pytrace=False)
    return dict(json.loads(SCHEMA.read_text(encoding="utf-8")))


@pytest.fixture(scope="session")
def validator(release_schema: dict[str, Any]) -> jsonschema.Draft4Validator:
    return jsonschema.Draft4Validator(release_schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)


@pytest.fixture(scope="session")
def merger(release_schema: dict[str, Any]) -> ocdsmerge.Merger:
    return ocdsmerge.Merger(schema=release_schema)


@pytest.fixture
def ledger(app: LedgerApplication) -> Ledger:
    """A nationwide officer posting through ``app`` (so processes can be recorded in any region)."""
    return Ledger(app, actor=NATIONWIDE_OFFICER)


@pytest.fixture(params=list(STORIES))
def story(request: pytest.FixtureRequest, ledger: Ledger) -> Story:
    return STORIES[request.param](ledger)
