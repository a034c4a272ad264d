"""Reads of the audit views: findings with filters and scope, region roll-ups, project ledgers, the dry-run check."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from projection_builders import (
    CHANGAN,
    HEBEI,
    JIANBEI,
    JIUQUANLU,
    LANZHOU,
    QINGYUAN,
    SHIJIAZHUANG,
    SUPPLIER,
    SUPPLIER_USCC,
    TANGSHAN,
    XUEYUANNANLU,
    Officer,
    view_rows,
)

from ledger.application import LedgerApplication
from projections.database import Database
from projections.queries import AuditQueries
from projections.worker import ProjectionWorker


@dataclass
class Province:
    """Projects in 石家庄 (two townships of 长安区), 唐山 and 兰州, with findings of several rules and severities."""

    hebei_fund: UUID
    city_fund: UUID
    jianbei: UUID
    qingyuan: UUID
    tangshan: UUID
    lanzhou: UUID


@pytest.fixture
def province(posting: Officer, worker: ProjectionWorker) -> Province:
    hebei = posting.fund("2000000.00")
    city = posting.child_fund(hebei, "500000.00", region=SHIJIAZHUANG)
    jianbei = posting.project(township=JIANBEI)
    qingyuan = posting.project(township=QINGYUAN)
    tangshan = posting.project(township=XUEYUANNANLU)
    gansu = posting.fund(region=LANZHOU)
    lanzhou = posting.project(township=JIUQUANLU)
    posting.allocate(city, jianbei, "200000.00")
    posting.allocate(city, qingyuan, "100000.00")
    posting.allocate(hebei, tangshan, "150000.00")
    posting.allocate(gansu, lanzhou, "100000.00")
    for project, fund in ((jianbei, city), (qingyuan, city), (tangshan, hebei), (lanzhou, gansu)):
        posting.contract(project, procedure=True)
        posting.disburse(project, fund, "90000.00", on=date(2023, 4, 1), installment=1)
    posting.spend(jianbei, "10000.01", line="training", on=date(2023, 6, 1))  # EAR-03 S2
    posting.spend(jianbei, "300.00", line="official_reception", payee_kind="supplier")  # EAR-01 S1, EAR-02 S1
    posting.spend(qingyuan, "5000.00", line="activities")
    posting.spend(tangshan, "100.00", on=date(2024, 4, 1))  # EAR-08 S2
    posting.revise(lanzhou, ("staff", "activities", "20000.00"))  # EAR-04 S2
    posting.spend(lanzhou, "4000.00", line="staff")
    worker.catch_up()
    return Province(hebei, city, jianbei, qingyuan, tangshan, lanzhou)


def _rules(found: list[dict[str, Any]]) -> list[str]:
    return sorted(f["rule"] for f in found)


# -- list_findings -----------------------------------------------------------------------------------------------------


def test_findings_can_be_filtered_by_region_rule_severity_and_project(queries: AuditQueries,
                                                                      province: Province) -> None:
    assert _rules(queries.list_findings(region=CHANGAN)) == ["EAR-01", "EAR-02", "EAR-03"]
    assert _rules(queries.list_findings(region=TANGSHAN)) == ["EAR-08"]
    assert _rules(queries.list_findings(region=HEBEI)) == ["EAR-01", "EAR-02", "EAR-03", "EAR-08"]
    assert [f["region_code"] for f in queries.list_findings(rule="EAR-04")] == [JIUQUANLU]
    assert _rules(queries.list_findings(severity="S2")) == ["EAR-03", "EAR-04", "EAR-08"]
    assert _rules(queries.list_findings(severity="S1", region=HEBEI)) == ["EAR-01", "EAR-02"]
    assert {f["project_id"] for f in queries.list_findings(project=str(province.jianbei))} == {str(province.jianbei)}
    assert queries.list_findings(project=str(province.qingyuan)) == []


def test_a_lanzhou_scope_never_sees_a_hebei_finding(queries: AuditQueries, province: Province) -> None:
    assert _rules(queries.list_findings(scope=LANZHOU)) == ["EAR-04"]
    assert queries.list_findings(scope=LANZHOU, region=HEBEI) == []
    assert queries.list_findings(scope=LANZHOU, project=str(province.jianbei)) == []
    assert queries.list_findings(scope=JIUQUANLU, rule="EAR-03") == []
    assert all(f["region_code"].startswith("13") for f in queries.list_findings(scope=HEBEI))


def test_findings_can_be_filtered_by_the_status_auditors_gave_them(queries: AuditQueries, worker: ProjectionWorker,
                                                                  posting: Officer, province: Province) -> None:
    [over_line] = queries.list_findings(rule="EAR-03")
    [shift] = queries.list_findings(rule="EAR-04")
    posting.decide(over_line, "acknowledge")
    posting.decide(shift, "start_rectification")
    posting.decide(shift, "mark_rectified")
    worker.catch_up()

    assert [f["finding_id"] for f in queries.list_findings(status="acknowledged")] == [over_line["finding_id"]]
    assert [f["finding_id"] for f in queries.list_findings(status="rectified")] == [shift["finding_id"]]
    assert _rules(queries.list_findings(status="open")) == ["EAR-01", "EAR-02", "EAR-08"]


def test_findings_come_oldest_first_and_page_after_a_finding_id(queries: AuditQueries, province: Province) -> None:
    everything = queries.list_findings()
    assert [f["first_position"] for f in everything] == sorted(f["first_position"] for f in everything)

    pages, after = [], None
    while page := queries.list_findings(limit=2, after=after):
        pages.append(page)
        after = page[-1]["finding_id"]

    assert [f["finding_id"] for page in pages for f in page] == [f["finding_id"] for f in everything]
    assert all(len(page) <= 2 for page in pages)


def test_on_a_business_date_findings_count_from_their_date_until_they_are_retracted(
        queries: AuditQueries, worker: ProjectionWorker, posting: Officer, province: Province) -> None:
    prohibited = next(f for f in queries.list_findings(rule="EAR-02"))
    over_line = queries.list_findings(rule="EAR-03")[0]
    assert over_line["effective_on"] == "2023-06-01"
    posting.spend(province.jianbei, "100.00", line="staff", on=date(2023, 9, 1))  # a later entry of the project
    worker.catch_up()
    training = next(e for e in posting.app.get_project(province.jianbei)["entries"]
                    if e.get("line") == "training")
    posting.reverse(province.jianbei, training["entry_id"], on=date(2023, 7, 1))
    worker.catch_up()

    def ids(on: date) -> set[str]:
        return {f["finding_id"] for f in queries.list_findings(rule="EAR-03", on=on)}

    assert ids(date(2023, 5, 31)) == set()
    assert ids(date(2023, 6, 30)) == {over_line["finding_id"]}  # it held then (it is retracted now)
    assert queries.list_findings(rule="EAR-03", on=date(2023, 6, 30))[0]["status"] == "retracted"
    assert ids(date(2023, 7, 1)) == set()  # the reversal had taken effect
    assert ids(date(2023, 12, 31)) == set()
    assert prohibited["finding_id"] in {f["finding_id"] for f in queries.list_findings(on=date(2023, 6, 1))}


# -- region roll-ups ---------------------------------------------------------------------------------------------------

MONEY = ("budget", "received", "committed", "disbursed", "spent", "reversed")


def test_a_region_rollup_adds_up_to_the_sum_of_its_children(queries: AuditQueries, province: Province) -> None:
    for code in (HEBEI, SHIJIAZHUANG, CHANGAN):
        rollup = queries.region_rollup(code)
        assert rollup["children"], code
        for figure in (*MONEY, "projects", "open_findings"):
            assert rollup[figure] == sum(child[figure] for child in rollup["children"]), (code, figure)


def test_a_region_rollup_shows_the_money_of_the_projects_below_it(app: LedgerApplication, queries: AuditQueries,
                                                                 province: Province) -> None:
    hebei = queries.region_rollup(HEBEI)
    projects = [app.get_project(p) for p in (province.jianbei, province.qingyuan, province.tangshan)]

    assert (hebei["code"], hebei["level"], hebei["projects"]) == (HEBEI, "province", 3)
    assert hebei["received"] == sum((p["received_total"] for p in projects), Decimal(0)) == Decimal("450000.00")
    assert hebei["disbursed"] == Decimal("270000.00")
    assert hebei["spent"] == sum((p["spent_total"] for p in projects), Decimal(0))
    assert hebei["funds"] == 2 and hebei["funds_in"] == Decimal("2000000.00")  # the city's money came from inside
    assert [c["code"] for c in hebei["children"]] == [SHIJIAZHUANG, TANGSHAN]
    assert {(r["rule"], r["count"]) for r in hebei["findings"]} == {("EAR-01", 1), ("EAR-02", 1), ("EAR-03", 1),
                                                                     ("EAR-08", 1)}
    assert queries.region_rollup(LANZHOU)["projects"] == 1


def test_a_township_rollup_covers_its_own_projects(queries: AuditQueries, province: Province) -> None:
    township = queries.region_rollup(QINGYUAN)

    assert (township["level"], township["projects"], township["children"]) == ("township", 1, [])
    assert (township["received"], township["spent"], township["open_findings"]) == (
        Decimal("100000.00"), Decimal("5000.00"), 0)


# -- project ledger ----------------------------------------------------------------------------------------------------


def test_a_project_ledger_shows_each_budget_line_with_revisions_spending_and_reversals(
        queries: AuditQueries, worker: ProjectionWorker, posting: Officer, province: Province) -> None:
    project = province.qingyuan
    posting.revise(project, ("staff", "training", "2000.00"), approval="冀民发〔2023〕12号")
    posting.revise(project, ("staff", "activities", "3000.00"))  # without approval
    reversed_entry = posting.spend(project, "700.00", line="training")
    posting.reverse(project, reversed_entry)
    posting.spend(project, "1500.00", line="training")
    worker.catch_up()

    ledger = queries.project_ledger(str(project))

    assert ledger is not None
    assert (ledger["budget"], ledger["received"], ledger["spent"], ledger["reversed"]) == (
        Decimal("180000.00"), Decimal("100000.00"), Decimal("6500.00"), Decimal("700.00"))
    assert (ledger["committed"], ledger["disbursed"]) == (Decimal("180000.00"), Decimal("90000.00"))
    lines = {line["line"]: line for line in ledger["lines"]}
    assert [lines["staff"][k] for k in ("budget", "revised", "approved", "spent")] == [
        Decimal("120000.00"), Decimal("115000.00"), Decimal("118000.00"), Decimal("0.00")]
    assert [lines["training"][k] for k in ("budget", "revised", "approved", "spent", "reversed")] == [
        Decimal("10000.00"), Decimal("12000.00"), Decimal("12000.00"), Decimal("1500.00"), Decimal("700.00")]
    assert [lines["activities"][k] for k in ("revised", "approved", "spent")] == [
        Decimal("53000.00"), Decimal("50000.00"), Decimal("5000.00")]
    assert queries.project_ledger("00000000-0000-0000-0000-000000000000") is None


# -- the dry-run check -------------------------------------------------------------------------------------------------


def _expenditure(**overrides: Any) -> dict[str, Any]:
    return {"line": "official_reception", "amount": Decimal("300.00"), "payee_name": "某宾馆",
            "payee_kind": "supplier", "payee_uscc": None, "invoice_no": None, "fund_id": None,
            "effective_on": date(2023, 6, 1), **overrides}


def _posted(posting: Officer, project: UUID, expenditure: dict[str, Any]) -> None:
    posting.spend(project, expenditure["amount"], expenditure["line"], on=expenditure["effective_on"],
                  payee=expenditure["payee_name"], payee_kind=expenditure["payee_kind"],
                  payee_uscc=expenditure["payee_uscc"], invoice_no=expenditure["invoice_no"],
                  fund=expenditure["fund_id"])


def _shape(found: list[Any]) -> list[tuple[str, str, str, str]]:
    return sorted((f.rule, f.severity, f.title, str(f.effective_on)) if hasattr(f, "rule")
                  else (f["rule"], f["severity"], f["title"], f["effective_on"]) for f in found)


@pytest.mark.parametrize("expenditure", [
    _expenditure(),
    _expenditure(line="training", amount=Decimal("10000.01"), payee_name="兰州市城关区社会工作服务中心",
                 payee_kind="provider"),
    _expenditure(line="activities", payee_kind="government_unit", effective_on=date(2024, 4, 1)),
], ids=["prohibited", "over_the_line", "government_payee_out_of_period"])
def test_the_dry_run_returns_the_findings_the_posting_then_raises(app: LedgerApplication, queries: AuditQueries,
                                                                 worker: ProjectionWorker, posting: Officer,
                                                                 province: Province,
                                                                 expenditure: dict[str, Any]) -> None:
    project = province.qingyuan
    before = {f["finding_id"] for f in queries.list_findings()}

    dry_run = queries.check_expenditure(str(project), expenditure)

    assert dry_run
    _posted(posting, project, expenditure)
    worker.catch_up()
    raised = [f for f in queries.list_findings() if f["finding_id"] not in before]
    assert _shape(dry_run) == _shape(raised)


def test_the_dry_run_writes_nothing(app: LedgerApplication, views: Database, queries: AuditQueries,
                                   province: Province) -> None:
    head, rows = app.recorder.max_notification_id(), view_rows(views)

    assert queries.check_expenditure(str(province.jianbei), _expenditure(invoice_no="INV-1")) is not None

    assert app.recorder.max_notification_id() == head
    assert view_rows(views) == rows
    assert queries.check_expenditure("00000000-0000-0000-0000-000000000000", _expenditure()) is None


def test_the_dry_run_finds_an_invoice_already_listed_in_the_same_project(queries: AuditQueries,
                                                                         worker: ProjectionWorker,
                                                                         posting: Officer, province: Province) -> None:
    invoice = _expenditure(line="activities", payee_name=SUPPLIER, payee_uscc=SUPPLIER_USCC,
                           invoice_no="13000231234567")
    _posted(posting, province.qingyuan, invoice)
    worker.catch_up()

    found = queries.check_expenditure(str(province.qingyuan), {**invoice, "effective_on": date(2023, 6, 2)})

    assert found is not None and [f.rule for f in found] == ["EAR-09"]


def test_the_dry_run_finds_an_invoice_already_listed_in_another_project(queries: AuditQueries,
                                                                        worker: ProjectionWorker,
                                                                        posting: Officer, province: Province) -> None:
    invoice = _expenditure(line="activities", payee_name=SUPPLIER, payee_uscc=SUPPLIER_USCC,
                           invoice_no="13000231234567")
    _posted(posting, province.jianbei, invoice)
    worker.catch_up()

    later = queries.check_expenditure(str(province.qingyuan), {**invoice, "effective_on": date(2023, 6, 2)})
    earlier = queries.check_expenditure(str(province.qingyuan), {**invoice, "effective_on": date(2023, 5, 2)})

    assert later is not None and [(f.rule, f.subject_id) for f in later] == [("EAR-09", str(province.qingyuan))]
    # Dated earlier, the new one is the original and the one already listed becomes the duplicate.
    assert earlier is not None and [(f.rule, f.subject_id) for f in earlier] == [("EAR-09", str(province.jianbei))]
