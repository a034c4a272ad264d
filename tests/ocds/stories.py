"""Contracting processes recorded through the ledger's use cases, one per kind of story, and small helpers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import jsonschema
from builders import JIANBEI, OTHER_USCC, PROVIDER_USCC, Ledger

BEIJING = timezone(timedelta(hours=8))
# Social work organisations registered with civil affairs (民办非企业单位, USCCs starting 52), check characters valid.
THIRD_USCC = "52130102MJ1234561J"
FOURTH_USCC = "52130102MJ1234572N"
PREFIX = "ocds-213czf"


def schema_errors(validator: jsonschema.Draft4Validator, release: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(release)]


def at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=BEIJING)


@dataclass
class Story:
    """A contracting process recorded through the use cases, and what a test needs to know about it."""

    procurement_id: UUID
    project_id: UUID
    fund_id: UUID
    notes: dict[str, Any]


class Officer:
    """Records procurement steps for one process."""

    def __init__(self, ledger: Ledger, procurement_id: UUID) -> None:
        self.ledger, self.procurement_id = ledger, procurement_id

    def step(self, step: str, day: date, **details: Any) -> None:
        self.ledger.app.record_procurement_step(self.ledger.actor, self.procurement_id, step=step, details=details,
                                                effective_on=day)

    def announce(self, day: date, days_open: int = 21, notice_no: str | None = None) -> None:
        self.step("announced", day, announced_at=at(day), submission_deadline=at(day + timedelta(days=days_open)),
                  notice_no=notice_no)

    def bid(self, day: date, name: str, uscc: str, price: str) -> None:
        self.step("bid_received", day, bidder_name=name, bidder_uscc=uscc, price=price, received_at=at(day, 10))

    def evaluate(self, day: date, qualified: list[str], scores: dict[str, str]) -> None:
        self.step("bids_evaluated", day, scores=scores, qualified=qualified, committee_size=5, expert_count=4)

    def award(self, day: date, name: str, uscc: str, amount: str) -> None:
        self.step("awarded", day, supplier_name=name, supplier_uscc=uscc, amount=amount)

    def sign(self, day: date, **overrides: Any) -> None:
        self.ledger.sign_contract(self.procurement_id, effective_on=day, **overrides)


def _world(ledger: Ledger, township: str = JIANBEI) -> tuple[UUID, UUID]:
    fund_id = ledger.appropriate("1000000.00")
    project_id = ledger.register_project(township_code=township)
    ledger.allocate_to_project(fund_id, project_id, "300000.00")
    return fund_id, project_id


def full_procedure(ledger: Ledger) -> Story:
    """公开招标 from plan to payments: three bids, an award, publications, a contract paid in part (one payment
    made before signing, one reversed)."""
    fund_id, project_id = _world(ledger)
    pid = ledger.open_procurement(project_id, method="open_tender", effective_on=date(2023, 3, 2))
    o = Officer(ledger, pid)
    o.step("plan_approved", date(2023, 3, 3), document_no="石财采〔2023〕7号")
    o.announce(date(2023, 3, 6), notice_no="GK-2023-015")
    o.bid(date(2023, 3, 20), "兰州市城关区社会工作服务中心", PROVIDER_USCC, "178000.00")
    o.bid(date(2023, 3, 21), "长安区启航社会工作服务中心", OTHER_USCC, "175000.00")
    o.bid(date(2023, 3, 22), "长安区晨光社会工作服务中心", THIRD_USCC, "181000.00")
    o.evaluate(date(2023, 3, 28), [PROVIDER_USCC, OTHER_USCC], {PROVIDER_USCC: "91.5", OTHER_USCC: "88"})
    o.award(date(2023, 3, 29), "兰州市城关区社会工作服务中心", PROVIDER_USCC, "178000.00")
    o.step("award_published", date(2023, 3, 30), notice_no="ZB-2023-015")
    early = ledger.disburse(project_id, fund_id, "1000.00", procurement_id=pid, effective_on=date(2023, 3, 31))
    o.sign(date(2023, 4, 1), amount="178000.00", installments=[
        {"no": 1, "amount": "89000.00", "condition": "signing"},
        {"no": 2, "amount": "89000.00", "condition": "midterm_passed"}])
    o.step("contract_published", date(2023, 4, 3), notice_no="HTGG-2023-015")
    first = ledger.disburse(project_id, fund_id, "89000.00", procurement_id=pid, installment=1,
                            effective_on=date(2023, 4, 10))
    wrong = ledger.disburse(project_id, fund_id, "500.00", procurement_id=pid, effective_on=date(2023, 4, 11))
    ledger.reverse(project_id, wrong["entry_id"], effective_on=date(2023, 4, 12))
    ledger.disburse(project_id, fund_id, "1000.00", effective_on=date(2023, 4, 13))  # names no procurement
    return Story(pid, project_id, fund_id, {"early": str(early["entry_id"]), "first": str(first["entry_id"]),
                                            "wrong": str(wrong["entry_id"])})


def amended_contract(ledger: Ledger) -> Story:
    """竞争性磋商 with a contract amended twice: more money and a longer term, then less money."""
    fund_id, project_id = _world(ledger)
    pid = ledger.open_procurement(project_id)
    o = Officer(ledger, pid)
    o.announce(date(2023, 3, 6), days_open=12)
    o.bid(date(2023, 3, 15), "兰州市城关区社会工作服务中心", PROVIDER_USCC, "180000.00")
    o.bid(date(2023, 3, 15), "长安区启航社会工作服务中心", OTHER_USCC, "179000.00")
    o.evaluate(date(2023, 3, 20), [PROVIDER_USCC, OTHER_USCC], {PROVIDER_USCC: "90", OTHER_USCC: "85"})
    o.award(date(2023, 3, 21), "兰州市城关区社会工作服务中心", PROVIDER_USCC, "180000.00")
    o.sign(date(2023, 4, 1))
    o.step("contract_amended", date(2023, 9, 1), amendment_no="BG-1", amount_delta="18000.00",
           new_term_end=date(2024, 3, 31), reason="服务范围增加一个社区")
    o.step("contract_amended", date(2023, 11, 1), amendment_no="BG-2", amount_delta="-8000.00", new_term_end=None,
           reason="督导服务改由区级统一提供")
    return Story(pid, project_id, fund_id, {})


def cancelled_tender(ledger: Ledger) -> Story:
    """竞争性谈判 cancelled after an award decision: the award is cancelled with the tender."""
    fund_id, project_id = _world(ledger)
    pid = ledger.open_procurement(project_id, method="competitive_negotiation")
    o = Officer(ledger, pid)
    o.announce(date(2023, 3, 6), days_open=5)
    o.bid(date(2023, 3, 9), "长安区晨光社会工作服务中心", THIRD_USCC, "170000.00")
    o.bid(date(2023, 3, 9), "长安区明德社会工作服务中心", FOURTH_USCC, "172000.00")
    o.evaluate(date(2023, 3, 12), [THIRD_USCC], {THIRD_USCC: "80", FOURTH_USCC: "50"})
    o.award(date(2023, 3, 13), "长安区晨光社会工作服务中心", THIRD_USCC, "170000.00")
    o.step("cancelled", date(2023, 3, 20), reason="有效供应商不足三家，依法终止")
    return Story(pid, project_id, fund_id, {})


def single_source(ledger: Ledger) -> Story:
    """单一来源: justified, plan approved, contract signed with no separate award decision, then paid."""
    fund_id, project_id = _world(ledger)
    pid = ledger.open_procurement(project_id, method="single_source", estimated_amount=None,
                                  single_source_justification="原承接机构续签，服务连续性要求")
    o = Officer(ledger, pid)
    o.step("plan_approved", date(2023, 3, 8), document_no="石财采〔2023〕9号")
    o.sign(date(2023, 4, 1))
    paid = ledger.disburse(project_id, fund_id, "90000.00", procurement_id=pid, installment=1,
                           effective_on=date(2023, 4, 15), payee_uscc=None, payee_name="兰州市城关区社会工作服务中心")
    return Story(pid, project_id, fund_id, {"paid": str(paid["entry_id"])})


STORIES: dict[str, Callable[[Ledger], Story]] = {
    "full_procedure": full_procedure,
    "amended_contract": amended_contract,
    "cancelled_tender": cancelled_tender,
    "single_source": single_source,
}


def contracted_in(ledger: Ledger, township: str, fund_region: str) -> Story:
    """A process in another region: opened and signed straight away."""
    fund_id = ledger.appropriate("500000.00", holder_region=fund_region)
    project_id = ledger.register_project(township_code=township)
    ledger.allocate_to_project(fund_id, project_id, "200000.00")
    pid = ledger.open_procurement(project_id)
    ledger.sign_contract(pid, contract_no=f"HT-{township}")
    return Story(pid, project_id, fund_id, {})
