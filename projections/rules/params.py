"""Rule parameters: defaults in code, overridden per region prefix and fiscal year from a TOML file.

    [[override]]
    rule = "EAR-04"
    region = "6201"        # a division-code prefix; the longest matching prefix wins
    fiscal_year = 2023     # optional; a year-specific override beats one for all years
    share = "0.15"

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
}


class RuleParameters:
    """Looks up the parameters of a rule for a region and fiscal year."""

    def __init__(self, overrides: list[dict[str, Any]] | None = None, document: dict[str, Any] | None = None) -> None:
        self.overrides = [self._checked(o) for o in overrides or []]
        self.document = document or {}  # the whole file: other sections (coverage targets) are read where used

    @classmethod
    def from_file(cls, path: str | Path | None) -> RuleParameters:
        if not path:
            return cls()
        with open(path, "rb") as handle:
            document = tomllib.load(handle)
        unknown = set(document) - {"override", "coverage_target"}
        if unknown:
            raise ValueError(f"{path}: unknown section(s) {', '.join(sorted(unknown))}")
        return cls(document.get("override", []), document)

    @staticmethod
    def _checked(override: dict[str, Any]) -> dict[str, Any]:
        rule = override.get("rule")
        if rule not in DEFAULTS:
            raise ValueError(f"rule parameter override names unknown or parameterless rule {rule!r}")
        unknown = set(override) - {"rule", "region", "fiscal_year"} - set(DEFAULTS[rule])
        if unknown:
            raise ValueError(f"{rule} has no parameter(s) {', '.join(sorted(unknown))}")
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
                    values[name] = type(default)(str(override[name]))
        return values
