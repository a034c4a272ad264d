"""Runs the rules over read-model state: per project, across projects for duplicate invoices (EAR-09), and per
procurement (PRC, with the same buyer's other processes for threshold splitting)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from ledger.regions import get_division
from projections.procurement_state import ProcurementState, procurement_on
from projections.rules import REGISTRY, Finding
from projections.rules.earmarking import PROJECT_RULES, ProjectContext, duplicate_invoices
from projections.rules.params import RuleParameters
from projections.rules.performance import PERFORMANCE_RULES
from projections.rules.procurement import DATED_RULES, PRC_RULES, ProcurementContext, evaluate, is_dated
from projections.rules.progress import PROJECT_LAG_RULES, LagContext, fund_lags
from projections.state import FundState, ProjectState, project_on, snapshot


class RuleEngine:
    def __init__(self, parameters: RuleParameters | None = None) -> None:
        self.parameters = parameters or RuleParameters()

    def params_for(self, project: ProjectState, code: str) -> dict[str, Any]:
        return self.parameters.for_rule(code, project.township_code, project.period_start.year)

    def project_findings(self, project: ProjectState, funds: dict[str, FundState],
                         on: date | None = None) -> list[Finding]:
        """Every project-scoped finding; with ``on``, only what had taken effect by that business date counts."""
        state = snapshot(project) if on is None else project_on(project, on)
        context = ProjectContext(state, funds, lambda code: self.params_for(state, code))
        return [f for code in (*PROJECT_RULES, *PERFORMANCE_RULES) for f in REGISTRY[code].check(context)]

    def lag_findings(self, project: ProjectState, funds: dict[str, FundState], on: date) -> list[Finding]:
        """The time-based progress findings of a project on an evaluation date."""
        state = project_on(project, on)
        context = LagContext(state, funds, lambda code: self.params_for(state, code), on)
        return [f for code in PROJECT_LAG_RULES for f in REGISTRY[code].check(context)]

    def fund_lag_findings(self, fund: FundState, on: date) -> list[Finding]:
        level = get_division(fund.holder_region).level
        return list(fund_lags(fund, on, lambda code: self.parameters.for_rule(code, fund.holder_region,
                                                                              fund.fiscal_year), level))

    def procurement_params(self, procurement: ProcurementState, code: str) -> dict[str, Any]:
        """A process's parameters: by its region and the fiscal year it was opened in."""
        return self.parameters.for_rule(code, procurement.region, procurement.opened_on.year)

    def procurement_findings(self, procurement: ProcurementState,
                             others: Iterable[ProcurementState] = ()) -> list[Finding]:
        """The PRC findings that follow from the recorded steps alone (stored by the projection). ``others`` are
        the processes PRC-13 compares with: the same buyer's, category's and provider's."""
        context = ProcurementContext(procurement, lambda code: self.procurement_params(procurement, code), None,
                                     [o for o in others if o.id != procurement.id])
        return evaluate(context, PRC_RULES)

    def procurement_dated_findings(self, procurement: ProcurementState, on: date) -> list[Finding]:
        """The PRC deadline findings on an evaluation date (a step still missing when its time has run out),
        judged on the process as it stood that day."""
        state = procurement_on(procurement, on)
        if state is None:
            return []
        context = ProcurementContext(state, lambda code: self.procurement_params(state, code), on)
        return [f for f in evaluate(context, DATED_RULES) if is_dated(f)]

    def invoice_findings(self, expenditures: Iterable[tuple[ProjectState, dict[str, Any]]]) -> list[Finding]:
        return list(duplicate_invoices(expenditures, self.params_for))


def funds_of(project: ProjectState, lookup: Any) -> dict[str, FundState]:
    """The funds a project's rules look at: those it received from and those its entries name."""
    ids = {r["fund_id"] for r in project.receipts} | {e["fund_id"] for e in project.entries if e.get("fund_id")}
    found = {fund_id: lookup(fund_id) for fund_id in sorted(ids)}
    return {k: v for k, v in found.items() if v is not None}
