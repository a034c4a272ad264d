"""The procurement specifications (features/procurement_rules.feature): every PRC rule fired and held at its
boundary, through the HTTP API on both stores. Officers post each step of a contracting process
(``POST /projects/{id}/procurements``, ``POST /procurements/{id}/steps``); the auditor reads the findings of the
project's current process from ``GET /audit/findings?rule=PRC`` (the family filter), with their evidence, and the
deadline findings on an evaluation date with the shared dated-read steps.

Times are written 2024年3月4日 09:00 (Beijing time); a step's business date is the day of its time. Bidders are the
organisations of ``USCC_OF`` below, each with a valid unified social credit code.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pytest_bdd import given, parsers, scenarios, then, when

from api import testing as t

# The shared steps' conventions (tests/bdd/conftest.py), restated here: a test module cannot import that conftest by
# name, since every test directory has one and the name ``conftest`` means whichever pytest imported last.
DATE_PATTERN = r"[0-9]{4}年[0-9]{1,2}月[0-9]{1,2}日"
METHOD_CODES = {"公开招标": "open_tender", "竞争性磋商": "competitive_consultation",
                "竞争性谈判": "competitive_negotiation", "询价": "request_for_quotation", "单一来源": "single_source"}
Ledger = Any  # tests/bdd/conftest.py's Ledger: the scenario's API, people, ids behind names, last answer


def day(text: str) -> str:
    """2024年3月1日 → 2024-03-01."""
    match = re.fullmatch(r"([0-9]{4})年([0-9]{1,2})月([0-9]{1,2})日", text.strip())
    assert match is not None, f"write dates as 2024年3月1日, not {text!r}"
    return date(*(int(part) for part in match.groups())).isoformat()


def yuan(text: str) -> str:
    """An amount as written in a scenario ("120,000.00") → as the API takes it ("120000.00")."""
    amount = text.replace(",", "").strip()
    assert re.fullmatch(r"[0-9]+\.[0-9]{2}", amount), f"write amounts with two decimals, not {text!r}"
    return amount


def code_of(region: str) -> str:
    match = re.search(r"[0-9]{6,9}", region)
    assert match is not None, f"write regions as 名称(代码), not {region!r}"
    return match.group(0)


def pattern(template: str) -> Any:
    """"{name}" is a quoted value, {on} / {start} / {end} a date written 2024年3月1日, {name} any text."""
    def group(match: re.Match[str]) -> str:
        quote, name = match.group(1), match.group(2)
        if quote:
            return f'"(?P<{name}>[^"]+)"'
        return f"(?P<{name}>{DATE_PATTERN})" if name in ("on", "start", "end") else f"(?P<{name}>.+?)"

    return parsers.re(re.sub(r'("?)\{([a-z_]+)\}\1', group, template))


def posting_step(template: str) -> Any:
    """The same dated posting as a 假如 (given) and as a 当 (when) step; it must succeed."""
    def decorate(function: Any) -> Any:
        return given(pattern(template), stacklevel=2)(when(pattern(template), stacklevel=2)(function))

    return decorate


def _posted(ledger: Ledger, who: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = ledger.post(who, path, body)
    assert response.status_code == 201, (path, response.get_json())
    result: dict[str, Any] = response.get_json()
    return result


def _findings(ledger: Ledger, who: str, **query: str) -> list[dict[str, Any]]:
    """Findings the reader sees once the views have applied everything posted so far (read-your-writes)."""
    response = ledger.people[who].get("/audit/findings", query={"min_position": str(t.log_position(ledger.app)),
                                                               **query})
    assert response.status_code == 200, response.get_json()
    items: list[dict[str, Any]] = response.get_json()["items"]
    return items


pytestmark = pytest.mark.usefixtures("ledger")

scenarios("procurement_rules.feature")

USCC_OF = {"石家庄市长安区启航社会工作服务中心": t.USCC_PROVIDER,
           "石家庄市长安区同心社会工作服务中心": "52130102MJ0000001G",
           "河北仁爱社会工作服务中心": "91620105MA71T4YW8Q"}
NAMES = list(USCC_OF)
RUNNER_UP = dict(zip(NAMES, NAMES[1:] + NAMES[:1], strict=True))  # the other bidder in a lawful procedure
STEP_TYPES = {"开启采购": "Opened", "采购计划批准": "PlanApproved", "采购公告": "Announced", "投标": "BidReceived",
              "评审": "BidsEvaluated", "定标": "Awarded", "成交结果公告": "AwardPublished",
              "合同签订": "ContractSigned", "合同公告": "ContractPublished", "补充协议": "ContractAmended",
              "终止": "Cancelled", "拨付": "Disbursed"}
TIME_PATTERN = DATE_PATTERN + r" [0-9]{1,2}:[0-9]{2}"


def instant(text: str) -> str:
    """2024年3月4日 09:00 → 2024-03-04T09:00:00+08:00."""
    written, clock = text.rsplit(" ", 1)
    hours, minutes = (int(part) for part in clock.split(":"))
    return f"{day(written)}T{hours:02d}:{minutes:02d}:00+08:00"


def timed(template: str) -> str:
    """A posting step's template whose {at} / {deadline} are times written 2024年3月4日 09:00."""
    return template.replace("{at}", f"(?P<at>{TIME_PATTERN})").replace("{deadline}", f"(?P<deadline>{TIME_PATTERN})")


def _procurement(ledger: Ledger, code: str) -> str:
    assert code in ledger.procurements, f"open a procurement for {code} first"
    return ledger.procurements[code]


def _step(ledger: Ledger, who: str, code: str, step: str, on: str, **details: Any) -> dict[str, Any]:
    body = {"step": step, "effective_on": on, "details": details}
    return _posted(ledger, who, f"/procurements/{_procurement(ledger, code)}/steps", body)


def _bidders(ledger: Ledger, code: str) -> list[str]:
    """The USCCs that have bid in the project's current process, in the order they bid."""
    response = ledger.people[next(iter(ledger.people))].get(f"/procurements/{_procurement(ledger, code)}")
    assert response.status_code == 200, response.get_json()
    seen: list[str] = []
    for bid in response.get_json()["bids"]:
        if bid["bidder_uscc"] not in seen:
            seen.append(bid["bidder_uscc"])
    return seen


# -- the steps of a contracting process ------------------------------------------------------------------------------

@posting_step('{on}，"{who}"以单一来源方式为项目"{code}"开启采购，理由"{reason}"')
def open_single_source_on(ledger: Ledger, on: str, who: str, code: str, reason: str) -> None:
    body = t.procurement(method="single_source", effective_on=day(on), single_source_justification=reason,
                         subject=f"{ledger.registrations[code]['station_name']}运营服务")
    ledger.procurements[code] = _posted(ledger, who, f"/projects/{ledger.projects[code]}/procurements",
                                        body)["procurement_id"]


@posting_step('{on}，"{who}"批准项目"{code}"的采购计划，文号"{doc}"')
def approve_plan_on(ledger: Ledger, on: str, who: str, code: str, doc: str) -> None:
    _step(ledger, who, code, "plan_approved", day(on), document_no=doc)


@posting_step(timed('"{who}"于{at}发布项目"{code}"的采购公告，投标截止时间为{deadline}'))
def announce_at(ledger: Ledger, who: str, at: str, code: str, deadline: str) -> None:
    _step(ledger, who, code, "announced", day(at.rsplit(" ", 1)[0]), announced_at=instant(at),
          submission_deadline=instant(deadline))


@posting_step(timed('"{who}"登记项目"{code}"收到"{bidder}"的投标，报价"{price}"元，送达时间{at}'))
def bid_at(ledger: Ledger, who: str, code: str, bidder: str, price: str, at: str) -> None:
    _step(ledger, who, code, "bid_received", day(at.rsplit(" ", 1)[0]), bidder_name=bidder,
          bidder_uscc=USCC_OF[bidder], price=yuan(price), received_at=instant(at))


@posting_step('{on}，"{who}"完成项目"{code}"的评审，评审委员会(?P<size>[0-9]+)人，其中专家(?P<experts>[0-9]+)人，'
              "有效供应商为{names}")
def evaluate_bids_on(ledger: Ledger, on: str, who: str, code: str, size: str, experts: str, names: str) -> None:
    """Every bid received so far is scored; the named bidders are the qualified ones."""
    qualified = [USCC_OF[name] for name in re.findall(r'"([^"]+)"', names)]
    assert qualified, f'name the qualified bidders in quotes, not {names!r}'
    scores = {uscc: "80" for uscc in _bidders(ledger, code)}
    _step(ledger, who, code, "bids_evaluated", day(on), scores=scores, qualified=qualified,
          committee_size=int(size), expert_count=int(experts))


@posting_step('{on}，"{who}"确定"{supplier}"为项目"{code}"的成交供应商，成交金额"{amount}"元')
def award_on(ledger: Ledger, on: str, who: str, supplier: str, code: str, amount: str) -> None:
    _step(ledger, who, code, "awarded", day(on), supplier_name=supplier, supplier_uscc=USCC_OF[supplier],
          amount=yuan(amount))


@posting_step('{on}，"{who}"发布项目"{code}"的成交结果公告')
def publish_award_on(ledger: Ledger, on: str, who: str, code: str) -> None:
    _step(ledger, who, code, "award_published", day(on), notice_no=f"成交公告-{code}")


def _sign(ledger: Ledger, who: str, code: str, on: str, supplier: str, contract_no: str, amount: str,
          start: str, end: str, reason: str | None = None) -> None:
    """One installment of the whole amount, paid on signing."""
    _step(ledger, who, code, "contract_signed", on, contract_no=contract_no, supplier_name=supplier,
          supplier_uscc=USCC_OF[supplier], amount=amount, term_start=start, term_end=end, term_justification=reason,
          installments=[{"no": 1, "amount": amount, "condition": "signing"}])
    ledger.contracts[contract_no] = _procurement(ledger, code)
    ledger.providers[code] = (supplier, USCC_OF[supplier])


@posting_step('{on}，"{who}"与"{supplier}"签订项目"{code}"的采购合同"{contract_no}"，金额"{amount}"元，'
              '合同期限{start}至{end}(?:，期限超过一年的理由"{reason}")?')
def sign_on(ledger: Ledger, on: str, who: str, supplier: str, code: str, contract_no: str, amount: str, start: str,
            end: str, reason: str | None) -> None:
    _sign(ledger, who, code, day(on), supplier, contract_no, yuan(amount), day(start), day(end), reason)


@posting_step('{on}，"{who}"发布合同"{contract_no}"的合同公告')
def publish_contract_on(ledger: Ledger, on: str, who: str, contract_no: str) -> None:
    body = {"step": "contract_published", "effective_on": day(on), "details": {"notice_no": f"合同公告-{contract_no}"}}
    _posted(ledger, who, f"/procurements/{ledger.contracts[contract_no]}/steps", body)


@posting_step('{on}，"{who}"终止项目"{code}"的采购，原因"{reason}"')
def cancel_on(ledger: Ledger, on: str, who: str, code: str, reason: str) -> None:
    _step(ledger, who, code, "cancelled", day(on), reason=reason)


# -- a whole process in one line, when the procedure is not what the scenario is about ------------------------------

def _lawful_procedure(ledger: Ledger, who: str, code: str, method: str, supplier: str, amount: str,
                      awarded: date) -> None:
    """Opens a process and records it lawfully up to a published award on ``awarded``: plan and announcement 23 and
    22 days before, a 21-day submission period, two bids, a committee of 5 with 4 experts scoring both, both
    qualified."""
    opened = awarded - timedelta(days=23)
    body = t.procurement(method=METHOD_CODES[method], effective_on=opened.isoformat(),
                         subject=f"{ledger.registrations[code]['station_name']}运营服务")
    ledger.procurements[code] = _posted(ledger, who, f"/projects/{ledger.projects[code]}/procurements",
                                        body)["procurement_id"]

    def at(when: date, hour: int = 9) -> str:
        return datetime(when.year, when.month, when.day, hour).isoformat() + "+08:00"

    def days_before(n: int) -> date:
        return awarded - timedelta(days=n)

    _step(ledger, who, code, "plan_approved", opened.isoformat(), document_no=f"采购计划-{code}-{awarded}")
    _step(ledger, who, code, "announced", days_before(22).isoformat(), announced_at=at(days_before(22)),
          submission_deadline=at(days_before(1)))
    runner_up = RUNNER_UP[supplier]
    for name, price in ((supplier, amount), (runner_up, str(Decimal(amount) + 1000))):
        _step(ledger, who, code, "bid_received", days_before(2).isoformat(), bidder_name=name,
              bidder_uscc=USCC_OF[name], price=price, received_at=at(days_before(2), 10))
    _step(ledger, who, code, "bids_evaluated", days_before(1).isoformat(),
          scores={USCC_OF[supplier]: "90", USCC_OF[runner_up]: "80"},
          qualified=[USCC_OF[supplier], USCC_OF[runner_up]], committee_size=5, expert_count=4)
    _step(ledger, who, code, "awarded", awarded.isoformat(), supplier_name=supplier,
          supplier_uscc=USCC_OF[supplier], amount=amount)
    _step(ledger, who, code, "award_published", awarded.isoformat(), notice_no=f"成交公告-{code}-{awarded}")


@posting_step('"{who}"已按(?P<method>' + "|".join(METHOD_CODES) + ')方式为项目"{code}"完成定标，'
              '成交供应商"{supplier}"，定标日期{on}')
def lawfully_awarded(ledger: Ledger, who: str, method: str, code: str, supplier: str, on: str) -> None:
    _lawful_procedure(ledger, who, code, method, supplier, "198000.00", date.fromisoformat(day(on)))


@posting_step('"{who}"已按(?P<method>' + "|".join(METHOD_CODES) + ')方式为项目"{code}"依法完成采购，'
              '成交供应商"{supplier}"，于{on}签订合同"{contract_no}"，金额"{amount}"元，合同(?P<published>已公告|未公告)')
def lawfully_contracted(ledger: Ledger, who: str, method: str, code: str, supplier: str, on: str, contract_no: str,
                        amount: str, published: str) -> None:
    """The award the day before signing; the contract's term from signing to the end of the project's period;
    published on the day it is signed, or not at all."""
    signed = date.fromisoformat(day(on))
    _lawful_procedure(ledger, who, code, method, supplier, yuan(amount), signed - timedelta(days=1))
    _sign(ledger, who, code, signed.isoformat(), supplier, contract_no, yuan(amount), signed.isoformat(),
          ledger.registrations[code]["period_end"])
    if published == "已公告":
        publish_contract_on(ledger, on, who, contract_no)


# -- what the auditor finds ------------------------------------------------------------------------------------------

def _process_findings(ledger: Ledger, who: str, code: str, rule: str | None = None) -> list[dict[str, Any]]:
    """Findings about the project's current process, read with the family filter (rule=PRC)."""
    found = _findings(ledger, who, project=ledger.projects[code], rule="PRC")
    assert all(f["rule"].startswith("PRC-") for f in found), found
    return [f for f in found if f["subject_id"] == _procurement(ledger, code) and rule in (None, f["rule"])]


@then(pattern('"{who}"查到项目"{code}"的采购有一条"(?P<rule>PRC-[0-9]{2}) (?P<title>[^"]+)"问题，'
              '严重程度"{severity}"'))
def one_process_finding(ledger: Ledger, who: str, code: str, rule: str, title: str, severity: str) -> None:
    found = _process_findings(ledger, who, code, rule)
    assert len(found) == 1, [(f["rule"], f["detail"]) for f in _process_findings(ledger, who, code)]
    [finding] = found
    assert (finding["title"], finding["severity"], finding["subject_kind"]) == (title, severity, "procurement")
    assert finding["status"] == "open" and finding["rule_version"] >= 1, finding
    response = ledger.people[who].get(f"/audit/findings/{finding['finding_id']}")
    assert response.status_code == 200, response.get_json()
    ledger.finding, ledger.finding_reader = response.get_json(), who


@then(pattern('"{who}"查到项目"{code}"的采购没有"(?P<rule>PRC-[0-9]{2})"问题'))
def no_process_finding_of_rule(ledger: Ledger, who: str, code: str, rule: str) -> None:
    found = _process_findings(ledger, who, code, rule)
    assert found == [], [(f["rule"], f["detail"]) for f in found]


@then(pattern('"{who}"查到项目"{code}"的采购没有任何问题'))
def no_process_findings(ledger: Ledger, who: str, code: str) -> None:
    found = _process_findings(ledger, who, code)
    assert found == [], [(f["rule"], f["detail"]) for f in found]


@then("采购证据依次是:")
def process_evidence(ledger: Ledger, datatable: list[list[str]]) -> None:
    """The table lists 环节 (开启采购, 采购计划批准, 采购公告, 投标, 评审, 定标, 成交结果公告, 合同签订, 合同公告,
    补充协议, 终止, 拨付) | 业务日期."""
    assert ledger.finding is not None, "name a finding first (…的采购有一条…问题)"
    events = ledger.finding["evidence_events"]
    rows = [dict(zip(datatable[0], row, strict=True)) for row in datatable[1:]]
    assert len(events) == len(ledger.finding["evidence"]) == len(rows), events
    for row, event in zip(rows, events, strict=True):
        assert (event["type"], event["effective_on"]) == (STEP_TYPES[row["环节"]], day(row["业务日期"])), (row, event)


@then(pattern('该问题注明公开招标的最短等标期为"(?P<days>[0-9]+)"天'))
def minimum_period_recorded(ledger: Ledger, days: str) -> None:
    assert ledger.finding is not None
    assert ledger.finding["params"]["open_tender_days"] == int(days), ledger.finding["params"]


@then(parsers.re(r'"(?P<who>[^"]+)"查看"(?P<region>[^"]+)"的审计汇总，其中"(?P<rule>[A-Z]{3}-[0-9]{2})"问题'
                 r"(?P<count>[0-9]+)条"))
def rollup_counts(ledger: Ledger, who: str, region: str, rule: str, count: str) -> None:
    response = ledger.people[who].get(f"/audit/regions/{code_of(region)}",
                                      query={"min_position": str(t.log_position(ledger.app))})
    assert response.status_code == 200, response.get_json()
    counted = sum(f["count"] for f in response.get_json()["findings"] if f["rule"] == rule)
    assert counted == int(count), response.get_json()["findings"]
