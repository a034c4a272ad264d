"""The procurement rules (PRC) in the live audit views: stored findings with evidence, reconciled batch by batch,
rebuilt identically, replayed as of a past instant, the deadline findings judged on an evaluation date, and the
parameters overridable per region."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from projection_builders import OFFICER, PROVIDER, PROVIDER_USCC, judged, live_content, rebuildable, view_rows
from test_procurement_rules import Scenario, at

from ledger.application import LedgerApplication
from projections.database import SQLiteDatabase
from projections.engine import RuleEngine
from projections.queries import AuditQueries, ProgressQueries
from projections.replay import replay
from projections.rules.params import RuleParameters
from projections.worker import ProjectionWorker

JIANBEI = "130102001"


def _memory_worker(app: LedgerApplication, batch_size: int = 1, engine: RuleEngine | None = None
                   ) -> ProjectionWorker:
    return ProjectionWorker(app, SQLiteDatabase(""), engine, batch_size=batch_size, rebuild_batch_size=batch_size)


def _prc(queries: AuditQueries, rule_code: str = "PRC", **query: Any) -> list[tuple[str, str, str]]:
    return sorted((f["rule"], f["severity"], f["subject_id"]) for f in queries.list_findings(rule=rule_code, **query))


def test_the_live_views_hold_procurement_findings_with_evidence(app: LedgerApplication,
                                                                worker: ProjectionWorker) -> None:
    sc = Scenario(app)
    pid = str(sc.process(deadline=at(2023, 3, 22)))  # 19 whole days for an open tender
    worker.catch_up()
    queries = AuditQueries(worker.store)

    assert _prc(queries) == [("PRC-04", "S2", pid)]
    [finding] = queries.list_findings(rule="PRC-04")
    assert (finding["subject_kind"], finding["project_id"], finding["region_code"]) == (
        "procurement", str(sc.project), JIANBEI)
    assert finding["params"]["open_tender_days"] == 20
    assert [e["type"] for e in finding["evidence"]] == ["Announced"]
    assert finding["evidence"][0]["event_id"].startswith(pid) and finding["evidence"][0]["position"] > 0
    assert queries.list_findings(rule="EAR") == []
    assert [f["rule"] for f in queries.list_findings(project=str(sc.project))] == ["PRC-04"]
    assert {(r["rule"], r["count"]) for r in queries.region_rollup("130102")["findings"]} == {("PRC-04", 1)}
    assert queries.list_findings(rule="PRC", on=date(2023, 3, 2)) == []  # announced on 3 March


def _all_kinds(sc: Scenario) -> dict[str, UUID]:
    """Processes raising most PRC rules, a cancelled one, a PRC-13 pair and a reversed first disbursement."""
    made = {
        "late_award": sc.process(award_published=date(2023, 3, 31), signed=date(2023, 5, 1),
                                 contract_published=date(2023, 5, 1), disbursed=date(2023, 5, 2)),
        "single": sc.process(method="single_source", justification="好用", announced=None),
        "cancelled": sc.process(method="competitive_consultation", deadline=at(2023, 3, 5),
                                cancelled=date(2023, 3, 25)),
        "split_1": sc.process(amount="2500000.00", signed=date(2023, 4, 3), disbursed=None, category="activities"),
        "split_2": sc.process(amount="1500000.00", signed=date(2023, 9, 1), contract_published=date(2023, 9, 1),
                              amendments=[("200000.00", date(2023, 10, 1))], disbursed=None, category="activities"),
    }
    early = sc.process(contract_published=date(2023, 4, 4), disbursed=None)
    entry = sc.app.disburse(OFFICER, sc.project, fund_id=sc.fund, amount="1000.00", payee_name=PROVIDER,
                            payee_uscc=PROVIDER_USCC, installment=1, procurement_id=early,
                            effective_on=date(2023, 4, 3))
    sc.app.reverse_entry(OFFICER, sc.project, entry_id=entry["entry_id"], reason="拨付早于合同公告，收回",
                         effective_on=date(2023, 4, 20))
    made["early_reversed"] = early
    return made


def test_one_event_at_a_time_and_a_rebuild_give_the_same_views_as_the_rules_over_the_whole_log(
        memory_app: LedgerApplication) -> None:
    sc = Scenario(memory_app)
    made = _all_kinds(sc)
    incremental = _memory_worker(memory_app, batch_size=1)
    incremental.catch_up()
    rows = view_rows(incremental.db)
    rebuilt = _memory_worker(memory_app, batch_size=7)
    rebuilt.rebuild()

    assert rebuildable(view_rows(rebuilt.db)) == rebuildable(rows)
    assert live_content(rows) == judged(memory_app)
    found = {(f["rule"], f["subject_id"]) for f in AuditQueries(incremental.store).list_findings(rule="PRC")}
    assert {("PRC-09", str(made["late_award"])), ("PRC-08", str(made["late_award"])),
            ("PRC-11", str(made["single"])), ("PRC-13", str(made["split_1"])), ("PRC-13", str(made["split_2"])),
            ("PRC-12", str(made["split_2"]))} <= found
    assert not {subject for _, subject in found} & {str(made["cancelled"]), str(made["early_reversed"])}
    incremental.db.close()
    rebuilt.db.close()


def test_reversing_the_first_disbursement_retracts_the_order_finding_on_the_reversal_date(
        memory_app: LedgerApplication) -> None:
    sc = Scenario(memory_app)
    worker = _memory_worker(memory_app)
    pid = sc.process(contract_published=date(2023, 4, 12), disbursed=None)
    entry = memory_app.disburse(OFFICER, sc.project, fund_id=sc.fund, amount="1000.00", payee_name=PROVIDER,
                                payee_uscc=PROVIDER_USCC, installment=1, procurement_id=pid,
                                effective_on=date(2023, 4, 11))
    worker.catch_up()
    queries = AuditQueries(worker.store)
    [finding] = queries.list_findings(rule="PRC-01")
    assert [e["type"] for e in finding["evidence"]] == ["ContractPublished", "Disbursed"]

    memory_app.reverse_entry(OFFICER, sc.project, entry_id=entry["entry_id"], reason="拨付早于合同公告",
                             effective_on=date(2023, 4, 20))
    worker.catch_up()

    assert queries.list_findings(rule="PRC-01") == []
    [retracted] = queries.list_findings(rule="PRC-01", status="retracted")
    assert retracted["retracted_on"] == "2023-04-20"
    assert [f["rule"] for f in queries.list_findings(rule="PRC-01", on=date(2023, 4, 19))] == ["PRC-01"]
    worker.db.close()


def test_a_cancellation_retracts_the_findings_of_its_process_on_the_cancellation_date(
        memory_app: LedgerApplication) -> None:
    sc = Scenario(memory_app)
    worker = _memory_worker(memory_app)
    pid = sc.process(method="competitive_consultation", deadline=at(2023, 3, 5), bids=[], evaluation=None,
                     awarded=None, award_published=None, signed=None)
    worker.catch_up()
    queries = AuditQueries(worker.store)
    assert _prc(queries) == [("PRC-04", "S2", str(pid))]

    sc.step(pid, "cancelled", date(2023, 3, 10), reason="等标期不足，重新组织采购")
    worker.catch_up()

    assert _prc(queries) == []
    assert [(f["rule"], f["retracted_on"]) for f in queries.list_findings(rule="PRC", status="retracted")] == [
        ("PRC-04", "2023-03-10")]
    worker.db.close()


def test_threshold_splitting_re_judges_the_earlier_contract_when_a_later_batch_adds_the_second(
        memory_app: LedgerApplication) -> None:
    sc = Scenario(memory_app)
    worker = _memory_worker(memory_app, batch_size=500)
    first = sc.process(amount="2000000.00", disbursed=None)
    worker.catch_up()
    queries = AuditQueries(worker.store)
    assert _prc(queries, rule_code="PRC-13") == []

    second = sc.process(amount="2000000.00", signed=date(2024, 4, 2), contract_published=date(2024, 4, 2),
                        disbursed=None)
    worker.catch_up()

    assert _prc(queries, rule_code="PRC-13") == sorted([("PRC-13", "S2", str(first)), ("PRC-13", "S2", str(second))])
    [finding] = [f for f in queries.list_findings(rule="PRC-13") if f["subject_id"] == str(first)]
    assert finding["effective_on"] == "2024-04-02" and len(finding["evidence"]) == 2
    worker.db.close()


def test_deadline_findings_are_judged_on_the_evaluation_date_with_the_day_first_seen(
        memory_app: LedgerApplication) -> None:
    sc = Scenario(memory_app)
    worker = _memory_worker(memory_app)
    pid = sc.process(awarded=date(2023, 3, 27), award_published=date(2023, 3, 28), signed=None)
    worker.catch_up()
    progress = ProgressQueries(AuditQueries(worker.store))

    assert progress.lag_findings(on=date(2023, 4, 26), rules={"PRC"}) == []  # 30 days after the award
    [late] = progress.lag_findings(on=date(2023, 5, 10), rules={"PRC"})
    assert (late["rule"], late["subject_id"], late["evaluated_on"], late["first_seen"]) == (
        "PRC-08", str(pid), date(2023, 5, 10), date(2023, 4, 27))
    assert progress.lag_findings(on=date(2023, 5, 10), rules={"PRC-08"}, project=str(sc.project)) == [late]
    assert progress.lag_findings(on=date(2023, 5, 10), rules={"PRC"}, region="620000") == []
    assert all(f["rule"].startswith("LAG-") for f in progress.lag_findings(on=date(2023, 5, 10), rules={"LAG"}))
    assert AuditQueries(worker.store).list_findings(rule="PRC") == []  # never stored
    worker.db.close()


def test_a_replay_as_of_a_recorded_instant_gives_the_procurement_findings_known_then(
        memory_app: LedgerApplication) -> None:
    sc = Scenario(memory_app)
    pid = sc.process(award_published=None, signed=None)
    instant = memory_app.get_history(pid)[-1]["recorded_at"]
    sc.step(pid, "award_published", date(2023, 4, 5), notice_no="迟发的成交公告")

    then, _ = replay(memory_app, as_of=instant)
    now, _ = replay(memory_app)

    assert _prc(then) == []
    assert _prc(now) == [("PRC-09", "S3", str(pid))]


def _parameters(tmp_path: Path, text: str) -> RuleParameters:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    return RuleParameters.from_file(path)


def test_an_override_of_the_open_tender_period_changes_the_outcome_and_is_recorded(
        memory_app: LedgerApplication, tmp_path: Path) -> None:
    sc = Scenario(memory_app)
    sc.process()  # 21 whole days from announcement to deadline
    default = _memory_worker(memory_app)
    default.catch_up()
    stricter = _memory_worker(memory_app, engine=RuleEngine(_parameters(tmp_path, """
[[override]]
rule = "PRC-04"
region = "13"
open_tender_days = 25
""")))
    stricter.catch_up()

    assert AuditQueries(default.store).list_findings(rule="PRC") == []
    [finding] = AuditQueries(stricter.store).list_findings(rule="PRC")
    assert (finding["rule"], finding["params"]["open_tender_days"]) == ("PRC-04", 25)
    assert "少于 25 天" in finding["detail"]
    default.db.close()
    stricter.db.close()


def test_a_list_valued_parameter_is_overridden_by_a_list(memory_app: LedgerApplication, tmp_path: Path) -> None:
    sc = Scenario(memory_app)
    sc.process(method="single_source", justification="unique_supplier", announced=None)
    worker = _memory_worker(memory_app, engine=RuleEngine(_parameters(
        tmp_path, '[[override]]\nrule = "PRC-11"\nallowed_justifications = ["emergency"]\n')))
    worker.catch_up()

    [finding] = AuditQueries(worker.store).list_findings(rule="PRC")
    assert (finding["rule"], finding["params"]["allowed_justifications"]) == ("PRC-11", ["emergency"])
    worker.db.close()


@pytest.mark.parametrize(("text", "message"), [
    ('[[override]]\nrule = "PRC-04"\nopen_tender_days = "twenty"\n', "not a valid int"),
    ('[[override]]\nrule = "PRC-11"\nallowed_justifications = "emergency"\n', "list of strings"),
    ('[[override]]\nrule = "PRC-13"\nthreshold = "4,000,000"\n', "not a valid Decimal"),
])
def test_a_procurement_parameter_of_the_wrong_kind_is_refused_when_the_file_is_read(tmp_path: Path, text: str,
                                                                                     message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _parameters(tmp_path, text)


def test_a_year_the_calendar_does_not_cover_gives_an_information_finding_not_a_stopped_projection(
        memory_app: LedgerApplication) -> None:
    sc = Scenario(memory_app)
    pid = sc.process(plan=None, announced=None, bids=[], evaluation=None, awarded=None, award_published=None,
                     signed=None)
    sc.step(pid, "awarded", date(2027, 1, 4), supplier_name=PROVIDER, supplier_uscc=PROVIDER_USCC, amount="1.00")
    sc.step(pid, "award_published", date(2027, 1, 8))
    worker = _memory_worker(memory_app)
    worker.catch_up()

    [finding] = [f for f in AuditQueries(worker.store).list_findings(rule="PRC-09")]
    assert (finding["severity"], finding["finding_key"]) == ("S4", "calendar")
    assert "2027" in finding["detail"]
    assert worker.position() == memory_app.recorder.max_notification_id()
    worker.db.close()
