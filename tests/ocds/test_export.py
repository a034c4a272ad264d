"""`GET /procurements/{id}/ocds` and `ledger export ocds`: what an auditor receives parses, conforms to the OCDS 1.1
release schema and compiles as the reference merge does; scope, history and the region filter are honoured."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import jsonschema
import ocdsmerge
import pytest
from builders import CHANGAN, JIUQUANLU, LANZHOU, Ledger
from click.testing import CliRunner
from flask import Flask

from api import testing as t
from api.cli import main
from ocds.stories import PREFIX, Story, contracted_in, full_procedure, schema_errors


@pytest.fixture
def api(app_env: dict[str, str]) -> Iterator[Flask]:
    with t.running_app(app_env, LEDGER_OCDS_PREFIX=PREFIX) as app:
        yield app


@pytest.fixture
def recorded(ledger: Ledger) -> Story:
    return full_procedure(ledger)


def conforms(validator: jsonschema.Draft4Validator, releases: list[dict[str, Any]]) -> None:
    for release in releases:
        assert schema_errors(validator, release) == [], release["id"]


def test_an_auditor_reads_a_process_as_an_ocds_record_package(
        api: Flask, recorded: Story, validator: jsonschema.Draft4Validator, merger: ocdsmerge.Merger) -> None:
    auditor = t.Caller(api, t.token(api, "河北审计 赵审", "auditor", "13"))
    response = auditor.get(f"/procurements/{recorded.procurement_id}/ocds")
    assert response.status_code == 200 and response.mimetype == "application/json"
    package = json.loads(response.get_data(as_text=True))
    assert package["version"] == "1.1" and package["uri"].endswith(f"/procurements/{recorded.procurement_id}/ocds")
    assert package["publisher"]["name"] and package["publishedDate"].endswith("+08:00")
    [record] = package["records"]
    assert record["ocid"] == f"{PREFIX}-{recorded.procurement_id}"
    conforms(validator, [*record["releases"], record["compiledRelease"]])
    assert record["compiledRelease"] == merger.create_compiled_release(record["releases"])
    assert record["compiledRelease"]["contracts"][0]["id"] == "HT-2023-001"


def test_as_releases_answers_a_release_package_and_as_of_the_process_as_recorded_then(
        api: Flask, recorded: Story, validator: jsonschema.Draft4Validator) -> None:
    officer = t.Caller(api, t.token(api, "长安区民政局财务 李娜", "officer", CHANGAN))
    path = f"/procurements/{recorded.procurement_id}/ocds"
    releases = officer.get(path, query={"as": "releases"}).get_json()["releases"]
    assert releases == officer.get(path).get_json()["records"][0]["releases"]
    conforms(validator, releases)
    before_signing = next(i for i, r in enumerate(releases) if "contract" in r["tag"]) - 1
    then = officer.get(path, query={"as_of": releases[before_signing]["date"]}).get_json()["records"][0]
    assert [r["id"] for r in then["releases"]] == [r["id"] for r in releases[:before_signing + 1]]
    assert "contracts" not in then["compiledRelease"] and then["compiledRelease"]["awards"][0]["status"] == "active"
    t.assert_problem(officer.get(path, query={"as_of": "2000-01-01T00:00:00+08:00"}), 404, "unknown_procurement")


def test_refuses_unknown_processes_other_regions_and_bad_queries(api: Flask, recorded: Story) -> None:
    lanzhou = t.Caller(api, t.token(api, "兰州审计 钱审", "auditor", "6201"))
    auditor = t.Caller(api, t.token(api, "审计署 孙审", "auditor", ""))
    path = f"/procurements/{recorded.procurement_id}/ocds"
    t.assert_problem(auditor.get(f"/procurements/{uuid4()}/ocds"), 404, "unknown_procurement")
    t.assert_problem(lanzhou.get(path), 403, "out_of_scope")
    t.assert_problem(auditor.get(path, query={"as": "csv"}), 422)
    t.assert_problem(auditor.get(path, query={"format": "json"}), 422)
    t.assert_problem(t.Caller(api, None).get(path), 401)


def test_the_api_document_describes_the_ocds_operation(api: Flask) -> None:
    document = api.test_client().get("/api/v1/openapi.json").get_json()
    operation = document["paths"]["/api/v1/procurements/{procurement_id}/ocds"]["get"]
    assert {"200", "404", "403"} <= set(operation["responses"])
    assert {p["name"] for p in operation["parameters"] if p["in"] == "query"} == {"as", "as_of"}


def test_exports_every_process_of_a_region_as_json_lines_and_a_release_package(
        app_env: dict[str, str], ledger: Ledger, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        validator: jsonschema.Draft4Validator, merger: ocdsmerge.Merger) -> None:
    hebei = full_procedure(ledger)
    lanzhou = contracted_in(ledger, JIUQUANLU, LANZHOU)
    for name, value in {**app_env, "LEDGER_OCDS_PREFIX": PREFIX}.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()

    lines = runner.invoke(main, ["export", "ocds", "--region", CHANGAN, "--format", "jsonl"])
    assert lines.exit_code == 0, lines.output
    releases = [json.loads(line) for line in lines.stdout.splitlines()]
    assert {r["ocid"] for r in releases} == {f"{PREFIX}-{hebei.procurement_id}"}
    conforms(validator, releases)

    target = tmp_path / "ocds.json"
    written = runner.invoke(main, ["export", "ocds", "--output", str(target)])
    assert written.exit_code == 0, written.output
    package = json.loads(target.read_text(encoding="utf-8"))
    assert package["version"] == "1.1" and package["uri"] == "urn:welfare-fund-ledger:ocds:all"
    by_process: dict[str, list[dict[str, Any]]] = {}
    for release in package["releases"]:
        by_process.setdefault(release["ocid"], []).append(release)
    assert set(by_process) == {f"{PREFIX}-{hebei.procurement_id}", f"{PREFIX}-{lanzhou.procurement_id}"}
    assert by_process[f"{PREFIX}-{hebei.procurement_id}"] == releases
    conforms(validator, package["releases"])
    compiled = merger.create_compiled_release(by_process[f"{PREFIX}-{lanzhou.procurement_id}"])
    assert compiled["contracts"][0]["id"] == f"HT-{JIUQUANLU}" and compiled["buyer"]["name"] == "兰州市城关区民政局"


def test_export_refuses_an_unknown_region_and_a_malformed_prefix(app_env: dict[str, str],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in app_env.items():
        monkeypatch.setenv(name, value)
    unknown = CliRunner().invoke(main, ["export", "ocds", "--region", "999999"])
    assert unknown.exit_code != 0 and "999999" in unknown.output
    monkeypatch.setenv("LEDGER_OCDS_PREFIX", "ocds-TOO-LONG")
    malformed = CliRunner().invoke(main, ["export", "ocds"])
    assert malformed.exit_code != 0 and "LEDGER_OCDS_PREFIX" in malformed.output


def test_the_server_refuses_to_start_with_a_malformed_prefix(app_env: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="LEDGER_OCDS_PREFIX"):
        t.make_app(app_env, LEDGER_OCDS_PREFIX="ocds-TOO-LONG")
