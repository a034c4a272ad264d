"""The fields each procurement step carries, checked before the step is recorded."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ledger import validate as v
from ledger.errors import InvalidAmountError, ValidationError
from ledger.identity import validate_uscc
from ledger.money import parse_money, posting_amount
from ledger.procurement import INSTALLMENT_CONDITIONS, STEPS


def _notice(d: dict[str, Any]) -> dict[str, Any]:
    return {"notice_no": v.text(d.get("notice_no"), "notice_no", required=False)}


def _plan_approved(d: dict[str, Any]) -> dict[str, Any]:
    return {"document_no": v.required_text(d.get("document_no"), "document_no")}


def _announced(d: dict[str, Any]) -> dict[str, Any]:
    announced_at = v.aware_datetime(d.get("announced_at"), "announced_at")
    deadline = v.aware_datetime(d.get("submission_deadline"), "submission_deadline")
    if deadline < announced_at:
        raise ValidationError("submission_deadline must not be before announced_at", field="submission_deadline")
    return {"announced_at": announced_at, "submission_deadline": deadline, **_notice(d)}


def _bid_received(d: dict[str, Any]) -> dict[str, Any]:
    return {
        "bidder_name": v.required_text(d.get("bidder_name"), "bidder_name"),
        "bidder_uscc": validate_uscc(d.get("bidder_uscc")),
        "price": posting_amount(d.get("price"), "price"),
        "received_at": v.aware_datetime(d.get("received_at"), "received_at"),
    }


def _bids_evaluated(d: dict[str, Any]) -> dict[str, Any]:
    raw_scores = d.get("scores") or {}
    if not isinstance(raw_scores, dict):
        raise ValidationError("scores must map bidder USCCs to scores", field="scores")
    scores: dict[str, Decimal] = {}
    for uscc, score in raw_scores.items():
        value = parse_money(score, "scores")
        if not Decimal(0) <= value <= Decimal(100):
            raise ValidationError("each score must be between 0 and 100", field="scores")
        scores[validate_uscc(uscc)] = value
    qualified = [validate_uscc(u) for u in (d.get("qualified") or [])]
    committee = v.whole_number(d.get("committee_size"), "committee_size", minimum=1, maximum=99)
    experts = v.whole_number(d.get("expert_count"), "expert_count", minimum=0, maximum=99)
    if experts > committee:
        raise ValidationError("expert_count cannot exceed committee_size", field="expert_count")
    return {"scores": scores, "qualified": qualified, "committee_size": committee, "expert_count": experts}


def _awarded(d: dict[str, Any]) -> dict[str, Any]:
    return {
        "supplier_name": v.required_text(d.get("supplier_name"), "supplier_name"),
        "supplier_uscc": validate_uscc(d.get("supplier_uscc")),
        "amount": posting_amount(d.get("amount")),
    }


def _installments(raw: Any, total: Decimal) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        raise ValidationError("installments must list at least one installment", field="installments")
    result, numbers = [], set()
    for item in raw:
        if not isinstance(item, dict):
            raise ValidationError("each installment needs no, amount and condition", field="installments")
        number = v.whole_number(item.get("no"), "installments.no", minimum=1, maximum=120)
        if number in numbers:
            raise ValidationError(f"installment {number} is listed twice", field="installments")
        numbers.add(number)
        result.append(
            {
                "no": number,
                "amount": posting_amount(item.get("amount"), "installments.amount"),
                "condition": v.choice(item.get("condition"), "installments.condition", INSTALLMENT_CONDITIONS),
            }
        )
    if sum((i["amount"] for i in result), Decimal(0)) != total:
        raise InvalidAmountError("installments must add up to the contract amount", field="installments")
    return sorted(result, key=lambda i: i["no"])


def _contract_signed(d: dict[str, Any]) -> dict[str, Any]:
    amount = posting_amount(d.get("amount"))
    term_start, term_end = v.period(d.get("term_start"), d.get("term_end"), "term_start", "term_end")
    return {
        "contract_no": v.required_text(d.get("contract_no"), "contract_no", max_length=100),
        "supplier_name": v.required_text(d.get("supplier_name"), "supplier_name"),
        "supplier_uscc": validate_uscc(d.get("supplier_uscc")),
        "amount": amount,
        "term_start": term_start,
        "term_end": term_end,
        "installments": _installments(d.get("installments"), amount),
        "term_justification": v.text(d.get("term_justification"), "term_justification", max_length=1000,
                                     required=False),
    }


def _contract_amended(d: dict[str, Any]) -> dict[str, Any]:
    delta = parse_money(d.get("amount_delta"), "amount_delta")
    if delta == 0:
        raise InvalidAmountError("amount_delta must not be zero", field="amount_delta")
    new_end = d.get("new_term_end")
    return {
        "amendment_no": v.required_text(d.get("amendment_no"), "amendment_no", max_length=100),
        "amount_delta": delta,
        "new_term_end": None if new_end is None else v.a_date(new_end, "new_term_end"),
        "reason": v.required_text(d.get("reason"), "reason", max_length=1000),
    }


def _cancelled(d: dict[str, Any]) -> dict[str, Any]:
    return {"reason": v.required_text(d.get("reason"), "reason", max_length=1000)}


PARSERS = {
    "plan_approved": _plan_approved,
    "announced": _announced,
    "bid_received": _bid_received,
    "bids_evaluated": _bids_evaluated,
    "awarded": _awarded,
    "award_published": _notice,
    "contract_signed": _contract_signed,
    "contract_published": _notice,
    "contract_amended": _contract_amended,
    "cancelled": _cancelled,
}
assert set(PARSERS) == set(STEPS)


def parse_step(step: str, details: dict[str, Any]) -> dict[str, Any]:
    """Checks a step's details and returns them typed; unknown fields are refused."""
    v.choice(step, "step", STEPS)
    if not isinstance(details, dict):
        raise ValidationError("details must be an object", field="details")
    parsed = PARSERS[step](details)
    unknown = set(details) - set(parsed)
    if unknown:
        raise ValidationError(f"step {step} has no field(s) {', '.join(sorted(unknown))}", field="details")
    return parsed
