"""OCDS 1.1 releases and records of the contracting processes: conformance to the standard's release schema, the
compiled release against the reference merge (ocdsmerge), and what each kind of story publishes."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import ocdsmerge
import pytest
from builders import OTHER_USCC, PROVIDER_USCC, Ledger

from ledger.application import LedgerApplication
from ocds.stories import PREFIX, Story, amended_contract, cancelled_tender, full_procedure, schema_errors, single_source
from projections import ocds


def record_of(app: LedgerApplication, story: Story) -> dict[str, Any]:
    """The record as published: folded, written as JSON and read back."""
    process = ocds.fold(ocds.process_events(app, story.procurement_id), PREFIX)
    return dict(json.loads(ocds.dumps(process.record())))


def by_tag(record: dict[str, Any]) -> list[list[str]]:
    return [release["tag"] for release in record["releases"]]


def test_compiled_release_equals_the_reference_merge_of_the_releases(app: LedgerApplication, story: Story,
                                                                       merger: ocdsmerge.Merger) -> None:
    record = record_of(app, story)
    assert record["compiledRelease"] == merger.create_compiled_release(record["releases"])


def test_every_release_and_the_compiled_release_conform_to_the_release_schema(
        app: LedgerApplication, story: Story, validator: jsonschema.Draft4Validator) -> None:
    record = record_of(app, story)
    for release in [*record["releases"], record["compiledRelease"]]:
        assert schema_errors(validator, release) == [], release["id"]


def test_the_validator_checks_dates_and_codelists(validator: jsonschema.Draft4Validator) -> None:
    release = {"ocid": "ocds-213czf-1", "id": "1", "date": "2023-03-01", "tag": ["tender"],
               "initiationType": "tender", "tender": {"id": "t", "procurementMethod": "competitive"}}
    problems = schema_errors(validator, release)
    assert any(p.startswith("date:") for p in problems) and any("procurementMethod" in p for p in problems)


def test_a_release_per_recorded_fact_with_a_stable_unique_id_in_recorded_order(app: LedgerApplication,
                                                                               ledger: Ledger) -> None:
    story = full_procedure(ledger)
    record = record_of(app, story)
    assert record["ocid"] == f"{PREFIX}-{story.procurement_id}"
    assert by_tag(record) == [["planning"], ["planningUpdate"], ["tender"], ["tenderUpdate"], ["tenderUpdate"],
                              ["tenderUpdate"], ["tenderUpdate"], ["award"], ["awardUpdate"], ["contract"],
                              ["contractUpdate"], ["implementation"], ["implementation"], ["implementationUpdate"]]
    ids = [release["id"] for release in record["releases"]]
    assert len(set(ids)) == len(ids)
    assert all(release["ocid"] == record["ocid"] for release in record["releases"])
    dates = [release["date"] for release in record["releases"]]
    assert dates == sorted(dates) and all(d.endswith("+08:00") for d in dates)
    assert record_of(app, story) == record  # the same facts give the same releases


def test_full_procedure_publishes_tender_bids_award_contract_and_payments(app: LedgerApplication,
                                                                         ledger: Ledger) -> None:
    story = full_procedure(ledger)
    compiled = record_of(app, story)["compiledRelease"]
    tender = compiled["tender"]
    assert (tender["procurementMethod"], tender["procurementMethodDetails"]) == ("open", "公开招标")
    assert tender["status"] == "complete" and tender["mainProcurementCategory"] == "services"
    assert tender["value"] == {"amount": 180000, "currency": "CNY"}
    assert tender["tenderPeriod"]["startDate"] == "2023-03-06T09:00:00+08:00"
    assert tender["tenderPeriod"]["durationInDays"] == 21 and tender["numberOfTenderers"] == 3
    assert [b["status"] for b in compiled["bids"]["details"]] == ["valid", "valid", "disqualified"]
    assert [b["value"]["amount"] for b in compiled["bids"]["details"]] == [178000, 175000, 181000]
    parties = {p["id"]: p for p in compiled["parties"]}
    buyer = parties[compiled["buyer"]["id"]]
    assert buyer["name"] == "石家庄市长安区民政局" and buyer["roles"] == ["buyer", "payer"]
    winner = parties[f"CN-USCC-{PROVIDER_USCC}"]
    assert winner["identifier"] == {"scheme": "CN-USCC", "id": PROVIDER_USCC,
                                    "legalName": "兰州市城关区社会工作服务中心"}
    assert winner["roles"] == ["tenderer", "supplier", "payee"]
    assert parties[f"CN-USCC-{OTHER_USCC}"]["roles"] == ["tenderer"]
    [award] = compiled["awards"]
    assert award["status"] == "active" and award["value"]["amount"] == 178000
    assert award["documents"][0]["documentType"] == "awardNotice"
    [contract] = compiled["contracts"]
    assert contract["id"] == "HT-2023-001" and contract["awardID"] == award["id"] and contract["status"] == "active"
    assert contract["period"] == {"startDate": "2023-04-01T00:00:00+08:00", "endDate": "2024-02-29T23:59:59+08:00"}
    assert [m["code"] for m in contract["milestones"]] == ["signing", "midterm_passed"]
    transactions = contract["implementation"]["transactions"]
    assert [(t["id"], t["value"]["amount"]) for t in transactions][:2] == [(story.notes["first"], 89000),
                                                                          (story.notes["wrong"], 500)]
    assert transactions[2]["value"]["amount"] == -500  # the reversal, a compensating transaction
    assert story.notes["early"] not in {t["id"] for t in transactions}  # paid before signing: no contract to carry it


def test_an_amended_contract_shows_its_amended_value_term_and_amendments(app: LedgerApplication,
                                                                        ledger: Ledger) -> None:
    record = record_of(app, amended_contract(ledger))
    [contract] = record["compiledRelease"]["contracts"]
    assert contract["value"] == {"amount": 190000, "currency": "CNY"}
    assert contract["period"]["endDate"] == "2024-03-31T23:59:59+08:00"
    assert [a["rationale"] for a in contract["amendments"]] == ["服务范围增加一个社区", "督导服务改由区级统一提供"]
    amended = [r for r in record["releases"] if r["tag"] == ["contractAmendment"]]
    assert [a["releaseID"] for a in contract["amendments"]] == [r["id"] for r in amended]
    ids = [r["id"] for r in record["releases"]]
    assert contract["amendments"][0]["amendsReleaseID"] == ids[ids.index(amended[0]["id"]) - 1]
    assert record["compiledRelease"]["tender"]["procurementMethod"] == "selective"
    assert record["compiledRelease"]["tender"]["procurementMethodDetails"] == "竞争性磋商"


def test_a_cancelled_tender_cancels_its_award(app: LedgerApplication, ledger: Ledger) -> None:
    record = record_of(app, cancelled_tender(ledger))
    compiled = record["compiledRelease"]
    assert record["releases"][-1]["tag"] == ["tenderCancellation", "awardCancellation"]
    assert compiled["tender"]["status"] == "cancelled"
    assert compiled["tender"]["documents"][-1]["description"] == "有效供应商不足三家，依法终止"
    assert [a["status"] for a in compiled["awards"]] == ["cancelled"]
    assert "contracts" not in compiled


def test_single_source_is_direct_with_its_rationale_and_the_contract_stands_for_the_award(
        app: LedgerApplication, ledger: Ledger) -> None:
    story = single_source(ledger)
    compiled = record_of(app, story)["compiledRelease"]
    tender = compiled["tender"]
    assert tender["procurementMethod"] == "direct" and tender["procurementMethodDetails"] == "单一来源"
    assert tender["procurementMethodRationale"] == "原承接机构续签，服务连续性要求"
    assert "value" not in tender  # no estimate was recorded
    [award] = compiled["awards"]
    [contract] = compiled["contracts"]
    assert contract["awardID"] == award["id"] and award["status"] == "active"
    [paid] = contract["implementation"]["transactions"]
    assert paid["id"] == story.notes["paid"] and paid["payee"]["id"].startswith("payee-")  # no USCC recorded


def test_the_ocid_prefix_must_look_like_one_the_standard_issues() -> None:
    assert ocds.ocid_of("ocds-213czf", "abc") == "ocds-213czf-abc"
    for bad in ("", "ocds-", "ocds-213CZF", "OCDS-213czf", "ocds-213czf-", "x-213czf"):
        with pytest.raises(ValueError, match="LEDGER_OCDS_PREFIX"):
            ocds.check_prefix(bad)
