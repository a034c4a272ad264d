"""Plain-data views of aggregates for callers of the use cases: dicts of str, int, Decimal, date, UUID."""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate

from ledger.fund import Fund
from ledger.procurement import Procurement
from ledger.project import Project


def _base(aggregate: Aggregate) -> dict[str, Any]:
    return {"id": aggregate.id, "version": aggregate.version, "created_on": aggregate.created_on,
            "modified_on": aggregate.modified_on}


def fund_view(fund: Fund) -> dict[str, Any]:
    return {
        **_base(fund),
        "holder_region": fund.holder_region,
        "fiscal_year": fund.fiscal_year,
        "document_no": fund.document_no,
        "source_level": fund.source_level,
        "purpose": fund.purpose,
        "allowed_categories": list(fund.allowed_categories),
        "service_domains": list(fund.service_domains),
        "valid_from": fund.valid_from,
        "valid_to": fund.valid_to,
        "parent_fund_id": fund.parent_fund_id,
        "appropriated_on": fund.appropriated_on,
        "appropriated": fund.amount,
        "allocated": fund.allocated,
        "returned": fund.returned,
        "available": fund.available,
        "allocations": [{"allocation_id": k, **a} for k, a in fund.allocations.items()],
        "closed_as": fund.closed_as,
    }


def project_view(project: Project) -> dict[str, Any]:
    return {
        **_base(project),
        "code": project.code,
        "name": project.name,
        "township_code": project.township_code,
        "station_name": project.station_name,
        "service_domains": list(project.service_domains),
        "provider_name": project.provider_name,
        "provider_uscc": project.provider_uscc,
        "period_start": project.period_start,
        "period_end": project.period_end,
        "status": project.status,
        "budget_lines": dict(project.budget_lines),
        "budget_total": project.budget_total,
        "received": dict(project.received),
        "received_total": project.received_total,
        "committed_total": project.committed_total,
        "disbursed": dict(project.disbursed),
        "disbursed_total": project.disbursed_total,
        "spent": dict(project.spent),
        "spent_total": project.spent_total,
        "commitments": [{"procurement_id": k, **c} for k, c in project.commitments.items()],
        "monthly_plan": list(project.monthly_plan),
        "output_targets": list(project.output_targets),
        "outputs": dict(project.outputs),
        "evaluations": list(project.evaluations),
        "entries": [{"entry_id": k, **e.as_dict()} for k, e in project.entries.items()],
    }


def procurement_view(procurement: Procurement) -> dict[str, Any]:
    return {
        **_base(procurement),
        "project_id": procurement.project_id,
        "region": procurement.region,
        "method": procurement.method,
        "subject": procurement.subject,
        "category": procurement.category,
        "estimated_amount": procurement.estimated_amount,
        "single_source_justification": procurement.single_source_justification,
        "status": "cancelled" if procurement.cancelled else ("contracted" if procurement.contract else "open"),
        "steps": list(procurement.steps),
        "bids": list(procurement.bids),
        "award": procurement.award,
        "contract": procurement.contract,
    }


EVENT_META = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic", "actor",
                        "effective_on"})


def event_view(event: Any, position: int | None) -> dict[str, Any]:
    """One stored event as an audit-trail row: what, who, when it took effect, when it was recorded, where."""
    return {
        "type": type(event).__name__,
        "aggregate_id": event.originator_id,
        "version": event.originator_version,
        "position": position,
        "actor": getattr(event, "actor", None),
        "effective_on": getattr(event, "effective_on", None),
        "recorded_at": event.timestamp,
        "data": {k: val for k, val in vars(event).items() if k not in EVENT_META},
    }
