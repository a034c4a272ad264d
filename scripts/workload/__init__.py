"""Deterministic synthetic workloads: the province-year (every township of 河北省 runs a station project for a
year, ≈ 0.72 million events) and a nation-year sample, with loaders through the use cases, directly through the
aggregates in large batches, and over HTTP. ``python -m scripts.workload --help`` loads one from the command line.
"""

from __future__ import annotations

from collections.abc import Callable

from ledger.application import LedgerApplication
from scripts.workload.loaders import DirectLoader, events_of, load_direct, load_use_cases
from scripts.workload.plan import INJECTIONS, Posting, ProcurementOf, Workload, nation_sample, province_year

__all__ = ["INJECTIONS", "DirectLoader", "Posting", "ProcurementOf", "Workload", "build_province_year", "events_of",
           "load_direct", "load_use_cases", "nation_sample", "province_year"]


def build_province_year(app: LedgerApplication, *, province: str = "130000", townships: int | None = None,
                        seed: int = 2023, progress: Callable[[int, int], None] | None = None,
                        direct: bool = True) -> dict[str, int]:
    """Loads the province-year (or its first ``townships``) into ``app``; returns counts, ``events`` among them."""
    workload = province_year(province, townships=townships, seed=seed)
    loader = load_direct if direct else load_use_cases
    summary = loader(app, workload, progress=progress)
    return {"projects": len(workload.townships), "events": app.recorder.max_notification_id() or 0,
            "postings": summary["postings"]}
