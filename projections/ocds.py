"""The contracting processes (政府购买服务) in the Open Contracting Data Standard, OCDS 1.1.

A release per recorded fact of a process: each Procurement event, and each disbursement paid under its contract (and
the reversal of one). A release carries what its fact added or changed, dated by the instant the ledger recorded it.
The compiled release (the process as it now stands) is rendered from the same fold, not merged from the releases;
merging the releases by the standard's rules must give it again, which the tests check against the reference merge.

Bid prices use the standard's bid extension (``bids.details``). Disbursements recorded before the contract was
signed have no contract to hang on and are left out (they are what PRC-01 reports). Amounts are JSON numbers, as
the standard requires: a ledger amount has two places and stays under 10^12, so at most 15 significant digits,
which a double holds exactly (checked on the way out).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from ledger.application import LedgerApplication
from ledger.errors import UnknownProcurementError
from ledger.positions import positions_of
from ledger.regions import ancestors, get_division, is_within
from ledger.vocabulary import CATEGORIES
from projections.procurement_state import CHINA_STANDARD_TIME

OCDS_VERSION = "1.1"
# A placeholder: a publisher registers its own prefix with the Open Contracting Partnership.
DEFAULT_PREFIX = "ocds-xxxxxx"
PREFIX_SHAPE = re.compile(r"ocds-[a-z0-9]{6}")
CURRENCY = "CNY"
# Organisations are identified by their unified social credit code (统一社会信用代码). The org-id list's Chinese
# register (CN-SAIC) covers only enterprises registered with market regulation, not the social organisations
# registered with civil affairs that most providers are, so the scheme is named after the code itself.
USCC_SCHEME = "CN-USCC"
BID_EXTENSION = "https://raw.githubusercontent.com/open-contracting-extensions/ocds_bid_extension/v1.1.4/extension.json"
PUBLISHER = {"name": "福彩公益金监管账本 (welfare-fund-ledger)"}
LANGUAGE = "zh"

# Our methods → the standard's closed method codelist. The non-tender methods of 政府采购非招标采购方式管理办法
# invite suppliers who meet the qualification conditions (by notice, from the supplier database or on
# recommendation), which is the codelist's "selective".
METHODS: dict[str, tuple[str | None, str]] = {
    "open_tender": ("open", "公开招标"),
    "competitive_consultation": ("selective", "竞争性磋商"),
    "competitive_negotiation": ("selective", "竞争性谈判"),
    "request_for_quotation": ("selective", "询价"),
    "single_source": ("direct", "单一来源"),
    "other": (None, "其他采购方式"),
}
CONDITIONS = {"signing": "合同签订后", "midterm_passed": "中期评估合格后", "final_passed": "末期评估合格后"}

PROCUREMENT = "ledger:Procurement."
REGISTERED = "ledger:Project.Registered"
DISBURSED = "ledger:Project.Disbursed"
REVERSED = "ledger:Project.EntryReversed"
STEP_EVENTS = ("PlanApproved", "Announced", "BidReceived", "BidsEvaluated", "Awarded", "AwardPublished",
               "ContractSigned", "ContractPublished", "ContractAmended", "Cancelled")
TOPICS = (f"{PROCUREMENT}Opened", *(PROCUREMENT + name for name in STEP_EVENTS), REGISTERED, DISBURSED, REVERSED)

Item = tuple[Any, int]  # a domain event and its log position


def check_prefix(prefix: str) -> str:
    """The OCID prefix (LEDGER_OCDS_PREFIX): ``ocds-`` and six lower-case letters or digits, as the OCP issues them."""
    if not isinstance(prefix, str) or not PREFIX_SHAPE.fullmatch(prefix):
        raise ValueError(f"LEDGER_OCDS_PREFIX must be an OCID prefix such as ocds-213czf (ocds- and six lower-case "
                         f"letters or digits), not {prefix!r}")
    return prefix


def ocid_of(prefix: str, procurement_id: UUID | str) -> str:
    return f"{check_prefix(prefix)}-{procurement_id}"


# -- values -----------------------------------------------------------------------------------------------------------


def _number(amount: Decimal) -> int | float:
    number: int | float = int(amount) if amount == amount.to_integral_value() else float(amount)
    if Decimal(repr(number)) != amount:
        raise ValueError(f"amount {amount} cannot be written exactly as a JSON number")
    return number


def _value(amount: Any) -> dict[str, Any]:
    return {"amount": _number(Decimal(str(amount))), "currency": CURRENCY}


def _stamp(instant: datetime) -> str:
    """A recorded instant in Beijing time, to the microsecond so that release dates sort as the facts happened."""
    return instant.astimezone(CHINA_STANDARD_TIME).isoformat(timespec="microseconds")


def _instant(value: datetime) -> str:
    return value.astimezone(CHINA_STANDARD_TIME).isoformat()


def _day(value: date) -> str:
    return f"{value.isoformat()}T00:00:00+08:00"


def _day_end(value: date) -> str:
    return f"{value.isoformat()}T23:59:59+08:00"


def _pruned(value: Any) -> Any:
    """A copy without nulls, empty objects and empty arrays: a null would erase a field when releases are merged, and
    an empty array or object adds nothing."""
    if isinstance(value, dict):
        pruned = ((k, _pruned(v)) for k, v in value.items())
        return {k: v for k, v in pruned if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def _topic(event: Any) -> str:
    return str(getattr(type(event), "TOPIC", ""))


# -- parties ----------------------------------------------------------------------------------------------------------


def _buyer(township: str) -> dict[str, Any]:
    """The purchasing unit: the civil-affairs bureau (民政局) of the county-level division above the township."""
    unit = get_division(get_division(township).parent or township)
    above = [get_division(code) for code in ancestors(unit.code)]  # nearest first, ending with the province
    province = above[-1].name if above else unit.name
    qualified = unit.name
    if unit.level == "county" and above and above[0].level == "city":
        city = above[0].name
        if city in ("市辖区", "县"):  # a municipality's districts and counties: 北京市东城区
            qualified = province + unit.name
        elif not city.endswith("直辖县级行政区划"):
            qualified = city + unit.name
    return {"id": f"civil-affairs-{unit.code}", "name": f"{qualified}民政局",
            "address": {"region": province, "locality": qualified, "countryName": "中国"}}


def _uscc_party(uscc: str, name: str) -> dict[str, Any]:
    return {"id": f"{USCC_SCHEME}-{uscc}", "name": name,
            "identifier": {"scheme": USCC_SCHEME, "id": uscc, "legalName": name}}


def _named_party(name: str) -> dict[str, Any]:
    """A payee known by name only (no USCC recorded)."""
    return {"id": "payee-" + hashlib.sha256(name.encode()).hexdigest()[:16], "name": name}


# -- the fold ---------------------------------------------------------------------------------------------------------


class Process:
    """One contracting process folded fact by fact; each fact yields its release."""

    def __init__(self, prefix: str) -> None:
        self.prefix = check_prefix(prefix)
        self.procurement_id = ""
        self.ocid = ""
        self.subject = ""
        self.projects: dict[str, dict[str, str]] = {}
        self.releases: list[dict[str, Any]] = []
        self.parties: dict[str, dict[str, Any]] = {}
        self.buyer: dict[str, Any] = {}
        self.budget: dict[str, Any] = {}
        self.plan_documents: list[dict[str, Any]] = []
        self.tender: dict[str, Any] = {}
        self.tender_documents: list[dict[str, Any]] = []
        self.tenderers: list[dict[str, Any]] = []
        self.bids: list[dict[str, Any]] = []
        self.bid_uscc: dict[str, str] = {}
        self.awards: list[dict[str, Any]] = []
        self.contract: dict[str, Any] | None = None
        self.contract_amount = Decimal(0)
        self.milestones: list[dict[str, Any]] = []
        self.contract_documents: list[dict[str, Any]] = []
        self.amendments: list[dict[str, Any]] = []
        self.transactions: list[dict[str, Any]] = []
        self.paid: dict[str, dict[str, Any]] = {}  # disbursement entry id -> its transaction

    # -- reading facts ---------------------------------------------------------------------------------------------

    def apply(self, event: Any) -> dict[str, Any] | None:
        """Folds one fact in; returns its release, or None when the fact is not part of this process."""
        topic = _topic(event)
        if topic == REGISTERED:
            self.projects[str(event.originator_id)] = {"code": event.code, "name": event.name}
            return None
        if topic == f"{PROCUREMENT}Opened":
            tags, delta = self._opened(event)
        elif not self.ocid:
            return None
        elif topic.startswith(PROCUREMENT) and str(event.originator_id) == self.procurement_id:
            tags, delta = self._steps()[topic[len(PROCUREMENT):]](event)
        elif topic == DISBURSED and str(event.procurement_id) == self.procurement_id and self.contract is not None:
            tags, delta = self._disbursed(event)
        elif topic == REVERSED and str(event.reversed_entry_id) in self.paid:
            tags, delta = self._reversed(event)
        else:
            return None
        release = {"ocid": self.ocid, "id": f"{event.originator_id}-{event.originator_version}",
                   "date": _stamp(event.timestamp), "tag": tags, "initiationType": "tender", "language": LANGUAGE,
                   **delta}
        release = _pruned(release)  # new containers throughout: later changes to the fold's state do not reach it
        self.releases.append(release)
        return release

    def _steps(self) -> dict[str, Callable[[Any], tuple[list[str], dict[str, Any]]]]:
        return {"PlanApproved": self._plan_approved, "Announced": self._announced, "BidReceived": self._bid_received,
                "BidsEvaluated": self._bids_evaluated, "Awarded": self._awarded,
                "AwardPublished": self._award_published, "ContractSigned": self._contract_signed,
                "ContractPublished": self._contract_published, "ContractAmended": self._contract_amended,
                "Cancelled": self._cancelled}

    def _party(self, party: dict[str, Any], role: str) -> dict[str, Any]:
        """Records a party (its latest name and identifiers) with one more role; returns it as it now stands."""
        known = self.parties.setdefault(party["id"], {"id": party["id"], "roles": []})
        known.update({k: v for k, v in party.items() if k != "roles"})
        if role not in known["roles"]:
            known["roles"].append(role)
        return known

    def _ref(self, party: dict[str, Any]) -> dict[str, Any]:
        return {"id": party["id"], "name": party["name"]}

    def _live_awards(self) -> list[dict[str, Any]]:
        return [a for a in self.awards if a["status"] in ("pending", "active")]

    def _cancel_awards(self) -> list[dict[str, Any]]:
        cancelled = []
        for award in self._live_awards():
            award["status"] = "cancelled"
            cancelled.append({"id": award["id"], "status": "cancelled"})
        return cancelled

    def _contract_ref(self) -> dict[str, Any]:
        assert self.contract is not None  # callers check
        return {"id": self.contract["id"], "awardID": self.contract["awardID"]}

    def _opened(self, e: Any) -> tuple[list[str], dict[str, Any]]:
        self.procurement_id = str(e.originator_id)
        self.ocid = ocid_of(self.prefix, e.originator_id)
        self.subject = e.subject
        buyer = self._party(_buyer(e.region), "buyer")
        self.buyer = self._ref(buyer)
        project = self.projects.get(str(e.project_id), {})
        self.budget = {"description": f"福彩公益金项目预算，采购经费列支科目：{CATEGORIES.get(e.category, e.category)}",
                       "project": project.get("name"), "projectID": project.get("code")}
        method, details = METHODS.get(e.method, (None, e.method))
        self.tender = {"id": self.procurement_id, "title": e.subject, "status": "planning",
                       "procurementMethod": method, "procurementMethodDetails": details,
                       "procurementMethodRationale": e.single_source_justification,
                       "mainProcurementCategory": "services",
                       "value": None if e.estimated_amount is None else _value(e.estimated_amount)}
        return ["planning"], {"parties": [buyer], "buyer": self.buyer, "planning": {"budget": self.budget},
                              "tender": self.tender}

    def _plan_approved(self, e: Any) -> tuple[list[str], dict[str, Any]]:
        document = {"id": f"plan-{e.originator_version}", "documentType": "procurementPlan",
                    "title": f"政府采购计划批复 {e.document_no}", "datePublished": _day(e.effective_on)}
        self.plan_documents.append(document)
        if self.tender["status"] == "planning":
            self.tender["status"] = "planned"
        return ["planningUpdate"], {"planning": {"documents": [document]},
                                    "tender": {"id": self.tender["id"], "status": self.tender["status"]}}

    def _announced(self, e: Any) -> tuple[list[str], dict[str, Any]]:
        tags = ["tenderAmendment"] if "tenderPeriod" in self.tender else ["tender"]
        self.tender["status"] = "active"
        self.tender["tenderPeriod"] = {"startDate": _instant(e.announced_at),
                                       "endDate": _instant(e.submission_deadline),
                                       "durationInDays": (e.submission_deadline - e.announced_at).days}
        document = {"id": f"notice-{e.originator_version}", "documentType": "tenderNotice",
                    "title": " ".join(filter(None, ["采购公告", e.notice_no])),
                    "datePublished": _instant(e.announced_at)}
        self.tender_documents.append(document)
        return tags, {"tender": {"id": self.tender["id"], "status": "active",
                                 "tenderPeriod": self.tender["tenderPeriod"], "documents": [document]}}

    def _bid_received(self, e: Any) -> tuple[list[str], dict[str, Any]]:
        bidder = self._party(_uscc_party(e.bidder_uscc, e.bidder_name), "tenderer")
        if all(t["id"] != bidder["id"] for t in self.tenderers):
            self.tenderers.append(self._ref(bidder))
        self.tender["numberOfTenderers"] = len(self.tenderers)
        bid = {"id": f"bid-{e.originator_version}", "date": _instant(e.received_at), "status": "pending",
               "tenderers": [self._ref(bidder)], "value": _value(e.price)}
        self.bids.append(bid)
        self.bid_uscc[bid["id"]] = e.bidder_uscc
        return ["tenderUpdate"], {"parties": [bidder], "bids": {"details": [bid]},
                                  "tender": {"id": self.tender["id"], "tenderers": self.tenderers,
                                             "numberOfTenderers": len(self.tenderers)}}

    def _bids_evaluated(self, e: Any) -> tuple[list[str], dict[str, Any]]:
        qualified = set(e.qualified)
        for bid in self.bids:
            bid["status"] = "valid" if self.bid_uscc[bid["id"]] in qualified else "disqualified"
        return ["tenderUpdate"], {"bids": {"details": [{"id": b["id"], "status": b["status"]} for b in self.bids]}}

    def _awarded(self, e: Any) -> tuple[list[str], dict[str, Any]]:
        supplier = self._party(_uscc_party(e.supplier_uscc, e.supplier_name), "supplier")
        cancelled = self._cancel_awards()  # a new award decision replaces the earlier one
        award = {"id": f"award-{e.originator_version}", "title": f"{self.subject} 中标（成交）结果",
                 "status": "pending", "date": _day(e.effective_on), "value": _value(e.amount),
                 "suppliers": [self._ref(supplier)]}
        self.awards.append(award)
        tags = ["award", "awardCancellation"] if cancelled else ["award"]
        return tags, {"parties": [supplier], "awards": [*cancelled, award]}

    def _award_published(self, e: Any) -> tuple[list[str], dict[str, Any]]:
        document = {"id": f"award-notice-{e.originator_version}", "documentType": "awardNotice",
                    "title": " ".join(filter(None, ["中标（成交）结果公告", e.notice_no])),
                    "datePublished": _day(e.effective_on)}
        live = self._live_awards()
        if not live:  # published with no award decision recorded: the notice still belongs to the tender
            self.tender_documents.append(document)
            return ["tenderUpdate"], {"tender": {"id": self.tender["id"], "documents": [document]}}
        award = live[-1]
        award["status"] = "active"
        award.setdefault("documents", []).append(document)
        return ["awardUpdate"], {"awards": [{"id": award["id"], "status": "active", "documents": [document]}]}

    def _contract_signed(self, e: Any) -> tuple[list[str], dict[str, Any]]:
        supplier = self._party(_uscc_party(e.supplier_uscc, e.supplier_name), "supplier")
        tags, delta = ["contract"], {"parties": [supplier]}
        live = self._live_awards()
        if live:
            award = live[-1]
        else:  # signed with no award decision recorded (single source, or out of order): the contract is the award
            award = {"id": f"award-{e.originator_version}", "title": f"{self.subject} 中标（成交）结果",
                     "description": "账本未记录单独的定标，授予信息取自所签合同", "status": "active",
                     "date": _day(e.effective_on), "value": _value(e.amount), "suppliers": [self._ref(supplier)]}
            self.awards.append(award)
            tags, delta["awards"] = ["award", "contract"], [award]
        self.tender["status"] = "complete"
        self.contract_amount = Decimal(str(e.amount))
        self.contract = {"id": e.contract_no, "awardID": award["id"], "title": f"{self.subject} 合同 {e.contract_no}",
                         "status": "active",
                         "period": {"startDate": _day(e.term_start), "endDate": _day_end(e.term_end)},
                         "value": _value(e.amount), "dateSigned": _day(e.effective_on)}
        self.milestones = [
            {"id": f"installment-{i['no']}", "title": f"第{i['no']}期付款", "type": "financing",
             "code": i["condition"],
             "description": f"{CONDITIONS.get(i['condition'], i['condition'])}支付 {Decimal(str(i['amount']))} 元"}
            for i in e.installments
        ]
        delta["tender"] = {"id": self.tender["id"], "status": "complete"}
        delta["contracts"] = [{**self.contract, "milestones": self.milestones}]
        return tags, delta

    def _contract_published(self, e: Any) -> tuple[list[str], dict[str, Any]]:
        document = {"id": f"contract-notice-{e.originator_version}", "documentType": "contractNotice",
                    "title": " ".join(filter(None, ["合同公告", e.notice_no])), "datePublished": _day(e.effective_on)}
        self.contract_documents.append(document)
        return ["contractUpdate"], {"contracts": [{**self._contract_ref(), "documents": [document]}]}

    def _contract_amended(self, e: Any) -> tuple[list[str], dict[str, Any]]:
        assert self.contract is not None  # the aggregate refuses an amendment before signing
        delta_amount = Decimal(str(e.amount_delta))
        self.contract_amount += delta_amount
        self.contract["value"] = _value(self.contract_amount)
        direction = "增加" if delta_amount > 0 else "减少"
        change = f"金额{direction} {abs(delta_amount)} 元，变更后 {self.contract_amount} 元"
        if e.new_term_end is not None:
            self.contract["period"]["endDate"] = _day_end(e.new_term_end)
            change += f"；期限变更为至 {e.new_term_end.isoformat()}"
        amendment = {"id": f"amendment-{e.originator_version}", "date": _day(e.effective_on), "rationale": e.reason,
                     "description": f"合同变更 {e.amendment_no}：{change}",
                     "amendsReleaseID": self.releases[-1]["id"],
                     "releaseID": f"{e.originator_id}-{e.originator_version}"}
        self.amendments.append(amendment)
        return ["contractAmendment"], {"contracts": [{**self._contract_ref(), "value": self.contract["value"],
                                                      "period": self.contract["period"], "amendments": [amendment]}]}

    def _cancelled(self, e: Any) -> tuple[list[str], dict[str, Any]]:
        self.tender["status"] = "cancelled"
        document = {"id": f"cancellation-{e.originator_version}", "documentType": "cancellationDetails",
                    "title": "采购终止", "description": e.reason, "datePublished": _day(e.effective_on)}
        self.tender_documents.append(document)
        cancelled = self._cancel_awards()
        tags = ["tenderCancellation", "awardCancellation"] if cancelled else ["tenderCancellation"]
        return tags, {"tender": {"id": self.tender["id"], "status": "cancelled", "documents": [document]},
                      "awards": cancelled}

    def _disbursed(self, e: Any) -> tuple[list[str], dict[str, Any]]:
        buyer = self._party(self.parties[self.buyer["id"]], "payer")
        payee_party = _named_party(e.payee_name) if e.payee_uscc is None else _uscc_party(e.payee_uscc, e.payee_name)
        payee = self._party(payee_party, "payee")
        transaction = {"id": str(e.entry_id), "date": _day(e.effective_on), "value": _value(e.amount),
                       "payer": self.buyer, "payee": self._ref(payee)}
        self.transactions.append(transaction)
        self.paid[str(e.entry_id)] = transaction
        return ["implementation"], {"parties": [buyer, payee], "contracts": [
            {**self._contract_ref(), "implementation": {"transactions": [transaction]}}]}

    def _reversed(self, e: Any) -> tuple[list[str], dict[str, Any]]:
        original = self.paid[str(e.reversed_entry_id)]
        transaction = {"id": str(e.entry_id), "date": _day(e.effective_on), "value": _value(-Decimal(str(e.amount))),
                       "payer": original["payer"], "payee": original["payee"]}
        self.transactions.append(transaction)
        return ["implementationUpdate"], {"contracts": [
            {**self._contract_ref(), "implementation": {"transactions": [transaction]}}]}

    # -- the process as it stands ----------------------------------------------------------------------------------

    def compiled_release(self) -> dict[str, Any]:
        """The process as it now stands, rendered from the fold (what merging the releases must also give)."""
        if not self.releases:
            raise UnknownProcurementError("no contracting process recorded")
        last = self.releases[-1]["date"]
        contracts = []
        if self.contract is not None:
            contracts.append({**self.contract, "milestones": self.milestones, "documents": self.contract_documents,
                              "amendments": self.amendments,
                              "implementation": {"transactions": self.transactions}})
        compiled = {
            "ocid": self.ocid, "id": f"{self.ocid}-{last}", "date": last, "tag": ["compiled"],
            "initiationType": "tender", "language": LANGUAGE,
            "parties": list(self.parties.values()), "buyer": self.buyer,
            "planning": {"budget": self.budget, "documents": self.plan_documents},
            "tender": {**self.tender, "tenderers": self.tenderers, "documents": self.tender_documents},
            "bids": {"details": self.bids}, "awards": self.awards, "contracts": contracts,
        }
        return _pruned(compiled)  # type: ignore[no-any-return]

    def record(self) -> dict[str, Any]:
        return {"ocid": self.ocid, "releases": list(self.releases), "compiledRelease": self.compiled_release()}


def fold(items: Iterable[Item], prefix: str) -> Process:
    """Folds one process's facts (events with their log positions), in the order they were recorded."""
    process = Process(prefix)
    for event, _ in sorted(items, key=lambda item: (item[0].timestamp, item[1])):
        process.apply(event)
    if not process.releases:
        raise UnknownProcurementError("no contracting process recorded")
    return process


# -- reading the ledger ------------------------------------------------------------------------------------------------


def process_events(app: LedgerApplication, procurement_id: UUID, *, as_of: datetime | None = None) -> list[Item]:
    """A procurement's events and its project's registration, disbursements and reversals, as recorded by ``as_of``."""
    events = list(app.events.get(procurement_id))
    if not events or _topic(events[0]) != f"{PROCUREMENT}Opened":
        raise UnknownProcurementError(f"no procurement with id {procurement_id}")
    project_id = events[0].project_id
    items: list[Item] = []
    for aggregate_id, stream in ((procurement_id, events), (project_id, app.events.get(project_id))):
        positions = positions_of(app.recorder, aggregate_id)
        items.extend((e, positions.get(e.originator_version, 0)) for e in stream if _topic(e) in TOPICS)
    if as_of is not None:
        items = [item for item in items if item[0].timestamp <= as_of]
    if not any(_topic(e) == f"{PROCUREMENT}Opened" for e, _ in items):
        raise UnknownProcurementError(f"no procurement with id {procurement_id} as of {as_of}")
    return items


def region_processes(app: LedgerApplication, region: str | None = None, *, batch_size: int = 1000,
                     progress: Callable[[int, int], None] | None = None) -> list[list[Item]]:
    """Every process whose township lies in ``region`` (default: all), each as its facts, in the order opened.

    One pass over the log, reading only the topics a release is made from.
    """
    if region:
        get_division(region)  # refuses an unknown or malformed code
    head = app.recorder.max_notification_id() or 0
    processes: dict[str, list[Item]] = {}
    registrations: dict[str, Item] = {}
    owner_of_entry: dict[str, str] = {}
    position = 0
    while position < head:
        notifications = app.recorder.select_notifications(start=position, limit=batch_size, stop=head,
                                                          topics=TOPICS, inclusive_of_start=False)
        if not notifications:
            break
        for notification in notifications:
            event = app.mapper.to_domain_event(notification)
            item, topic = (event, notification.id), notification.topic
            if topic == REGISTERED:
                registrations[str(event.originator_id)] = item
            elif topic == f"{PROCUREMENT}Opened":
                if not region or is_within(event.region, region):
                    processes[str(event.originator_id)] = [registrations[str(event.project_id)], item]
            elif topic.startswith(PROCUREMENT):
                if str(event.originator_id) in processes:
                    processes[str(event.originator_id)].append(item)
            elif topic == DISBURSED:
                if event.procurement_id is not None and str(event.procurement_id) in processes:
                    processes[str(event.procurement_id)].append(item)
                    owner_of_entry[str(event.entry_id)] = str(event.procurement_id)
            elif topic == REVERSED and str(event.reversed_entry_id) in owner_of_entry:
                processes[owner_of_entry[str(event.reversed_entry_id)]].append(item)
        position = notifications[-1].id
        if progress is not None:
            progress(position, head)
    if progress is not None:
        progress(head, head)
    return list(processes.values())


# -- packages ---------------------------------------------------------------------------------------------------------


def _package(uri: str, published: datetime) -> dict[str, Any]:
    return {"uri": uri, "version": OCDS_VERSION, "extensions": [BID_EXTENSION],
            "publishedDate": published.astimezone(CHINA_STANDARD_TIME).isoformat(timespec="seconds"),
            "publisher": PUBLISHER}


def record_package(records: list[dict[str, Any]], *, uri: str, published: datetime | None = None) -> dict[str, Any]:
    return {**_package(uri, published or datetime.now(UTC)), "records": records}


def release_package(releases: list[dict[str, Any]], *, uri: str, published: datetime | None = None) -> dict[str, Any]:
    return {**_package(uri, published or datetime.now(UTC)), "releases": releases}


def dumps(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False, allow_nan=False)
