"""Rule parameters: defaults in code, overridden per region prefix and fiscal year from a TOML file.

    [[override]]
    rule = "EAR-04"
    region = "6201"        # a division-code prefix; the longest matching prefix wins
    fiscal_year = 2023     # optional; a year-specific override beats one for all years
    share = "0.15"

    [[override]]
    rule = "PRC-04"
    region = "13"
    open_tender_days = 25  # a list for a list-valued parameter: allowed_justifications = ["emergency"]

The values used are written into every finding, so a result can be explained and reproduced later.
"""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

DEFAULTS: dict[str, dict[str, Any]] = {
    "EAR-03": {"tolerance": Decimal("0.00")},
    "EAR-04": {"share": Decimal("0.10")},
    "EAR-06": {"management_share": Decimal("0.10")},
    "EAR-08": {"grace_days": 30},
    "EAR-12": {"tolerance": Decimal("0.00")},
    "EAR-13": {"share": Decimal("0.30")},
    "LAG-01": {"gap": Decimal("0.10"), "serious_gap": Decimal("0.20"), "q3_minimum": Decimal("0.60")},
    "LAG-02": {"low": Decimal("0.80"), "high": Decimal("1.20"), "months": 2},
    "LAG-03": {"warning": Decimal("0.80"), "serious": Decimal("0.60")},
    "LAG-04": {"days": 90},
    "LAG-05": {"province_days": 30, "lower_days": 60, "project_days": 30},
    "LAG-06": {"days_after_midpoint": 30},
    "LAG-07": {"days": 90},
    "LAG-08": {"due_day": 10},
    "LAG-09": {"days": 30},
    "PRF-02": {"output_effect_minimum": Decimal("60")},
    "PRF-04": {"margin": Decimal("10")},
    # Procurement: minimum submission periods per method (whole days, or working days where so named).
    "PRC-04": {"open_tender_days": 20, "competitive_consultation_days": 10,
               "competitive_negotiation_working_days": 3, "request_for_quotation_working_days": 3,
               "other_days": 15},
    "PRC-05": {"committee_minimum": 5, "expert_share": Decimal("2") / Decimal("3")},
    "PRC-08": {"days": 30},
    "PRC-09": {"working_days": 2},
    "PRC-10": {"years_without_justification": 1, "maximum_years": 3},
    "PRC-11": {"allowed_justifications": ("unique_supplier", "emergency", "continuity",
                                          "只能从唯一供应商处采购", "不可预见的紧急情况",
                                          "必须保证原有采购项目一致性或者服务配套的要求")},
    "PRC-12": {"share": Decimal("0.10")},
    "PRC-13": {"threshold": Decimal("4000000.00"), "window_months": 12},
}


class RuleParameters:
    """Looks up the parameters of a rule for a region and fiscal year."""

    def __init__(self, overrides: list[dict[str, Any]] | None = None, document: dict[str, Any] | None = None) -> None:
        self.overrides = [self._checked(o) for o in overrides or []]
        # the whole file: other sections (coverage and service-point targets) are read where used
        self.document = document or {}

    @classmethod
    def from_file(cls, path: str | Path | None) -> RuleParameters:
        if not path:
            return cls()
        with open(path, "rb") as handle:
            document = tomllib.load(handle)
        unknown = set(document) - {"override", "coverage_target", "service_point_target"}
        if unknown:
            raise ValueError(f"{path}: unknown section(s) {', '.join(sorted(unknown))}")
        from ledger.errors import InvalidRegionError
        from projections.coverage import service_point_targets_from, targets_from  # not at module level: it
        # imports this package

        try:  # a bad plan is refused when the file is read, not at every read
            targets_from(document)
            service_point_targets_from(document)
        except (ValueError, KeyError, ArithmeticError, InvalidRegionError) as error:
            raise ValueError(f"{path}: {error}") from None
        return cls(document.get("override", []), document)

    @staticmethod
    def _checked(override: dict[str, Any]) -> dict[str, Any]:
        rule = override.get("rule")
        if rule not in DEFAULTS:
            raise ValueError(f"rule parameter override names unknown or parameterless rule {rule!r}")
        unknown = set(override) - {"rule", "region", "fiscal_year"} - set(DEFAULTS[rule])
        if unknown:
            raise ValueError(f"{rule} has no parameter(s) {', '.join(sorted(unknown))}")
        for name, default in DEFAULTS[rule].items():
            if name in override:
                try:
                    _typed(default, override[name], rule, name)
                except (ValueError, ArithmeticError) as error:
                    raise ValueError(f"{rule} {name} = {override[name]!r} is not a valid "
                                     f"{type(default).__name__}: {error}") from None
        return override

    def for_rule(self, rule: str, region: str, fiscal_year: int | None) -> dict[str, Any]:
        values = dict(DEFAULTS.get(rule, {}))
        matching = [
            o for o in self.overrides
            if o["rule"] == rule and region.startswith(str(o.get("region", "")))
            and o.get("fiscal_year") in (None, fiscal_year)
        ]
        matching.sort(key=lambda o: (len(str(o.get("region", ""))), o.get("fiscal_year") is not None))
        for override in matching:
            for name, default in DEFAULTS[rule].items():
                if name in override:
                    values[name] = _typed(default, override[name], rule, name)
        return values


def _typed(default: Any, value: Any, rule: str, name: str) -> Any:
    """An override's value as the default's type: a list of strings for a tuple, else from its text."""
    if isinstance(default, tuple):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{rule} {name} must be a list of strings")
        return tuple(value)
    return type(default)(str(value))
