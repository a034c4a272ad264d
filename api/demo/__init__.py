"""The demo ledger: a deterministic scenario (from a seed) of the 2023 welfare-lottery funds for social work
stations, built from real division codes: 河北省's fund passed down to all 11 cities and a sample of their counties
and townships, every township station of 兰州市 and its 14 demonstration community rooms, and 拉萨市's 65 bilingual
stations with the first 12 professional social workers; a year of procurement, payments, spending, monthly outputs
and evaluations, with faults of every rule family injected in a few of them (see ``plan.FAULT_FINDINGS``).

``expected_findings`` and ``expected_lags`` state exactly what the audit must find.
"""

from __future__ import annotations

from collections.abc import Callable

from api.demo.expected import ExpectedLag, expected_findings, expected_lags
from api.demo.loader import load_plan
from api.demo.plan import DEFAULT_SEED, FAULT_FINDINGS, Plan, build_plan
from ledger.application import LedgerApplication

__all__ = ["DEFAULT_SEED", "FAULT_FINDINGS", "LOADING_ENV", "ExpectedLag", "Plan", "build_plan",
           "expected_findings", "expected_lags", "load_demo"]

# For the application that loads the demo: one writer, and no command is refused (a refusal stops the load), so
# cached aggregates need not be deep-copied on every use; most of the loading time goes to those copies otherwise.
LOADING_ENV = {"DEEPCOPY_FROM_AGGREGATE_CACHE": "n"}


def load_demo(app: LedgerApplication, *, seed: int = DEFAULT_SEED, scale: float = 1.0,
              progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Loads the scenario into an empty ledger; returns counts (projects, funds, events). Give it an application
    made with ``LOADING_ENV`` in its environment for speed."""
    plan = build_plan(seed, scale)
    load_plan(app, plan, progress)
    return {"projects": len(plan.projects), "funds": len(plan.funds),
            "events": app.recorder.max_notification_id() or 0}
