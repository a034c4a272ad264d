"""覆盖率: township units with an operating station, per region, against planned targets (LAG-10); and the
village/community service points (村(社区)社工服务点) the stations run, against a region's service-point plan.

Which township codes count is a setting: statistical functional zones (开发区/新区, county digits 71–80) and
政企合一 units (township digits 400–599) are left out by default, and every figure states its denominator.

Service points have no division codes in the shipped table (it stops at township level), so their denominator, the
region's number of villages and communities, is configured with the plan (`[[service_point_target]]`); without it
the figure says so (村(社区)数未配置) and judges nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any

from ledger.regions import get_division, is_functional_zone, township_kind, townships_under
from projections.rules import Finding


@dataclass(frozen=True)
class CoverageTarget:
    """A plan: ``share`` of the region's counted township units operating by ``by``, starting at ``start``."""

    region: str
    share: Decimal
    by: date
    start: date
    note: str = ""


# The plans in the design notes: 兰州市 fully covered in 2023 (its "110 townships"), 拉萨市's 65 bilingual stations
# by end-2024, 河北省 full coverage by end-2023 (campaign from February 2023).
DEFAULT_TARGETS = (
    CoverageTarget("620100", Decimal("1"), date(2023, 12, 31), date(2023, 1, 1), "兰州市乡镇(街道)社工站全覆盖"),
    CoverageTarget("540100", Decimal("1"), date(2024, 12, 31), date(2023, 1, 1), "拉萨市65个双语社工站"),
    CoverageTarget("130000", Decimal("1"), date(2023, 12, 31), date(2023, 2, 1), "河北省乡镇(街道)社工站全覆盖"),
)


def targets_from(document: dict[str, Any]) -> tuple[CoverageTarget, ...]:
    """Coverage plans from the rules configuration (`[[coverage_target]]` tables); the defaults when it has none.

        [[coverage_target]]
        region = "620100"        # a province, city or county code
        share = "1"              # of the counted township units
        by = 2023-12-31
        start = 2023-01-01       # the straight line runs from nothing here to ``share`` at ``by``
        note = "兰州市乡镇(街道)社工站全覆盖"
    """
    tables = document.get("coverage_target")
    if not tables:
        return DEFAULT_TARGETS
    targets = []
    for table in tables:
        unknown = set(table) - {"region", "share", "by", "start", "note"}
        if unknown:
            raise ValueError(f"coverage_target has no field(s) {', '.join(sorted(unknown))}")
        division = get_division(str(table["region"]))
        share = Decimal(str(table["share"]))
        if not (0 < share <= 1) or not isinstance(table["by"], date) or not isinstance(table["start"], date):
            raise ValueError(f"coverage_target for {division.code}: share in (0, 1], by and start as dates")
        if table["start"] >= table["by"]:
            raise ValueError(f"coverage_target for {division.code}: start must come before by")
        targets.append(CoverageTarget(division.code, share, table["by"], table["start"], str(table.get("note", ""))))
    return tuple(targets)


@dataclass(frozen=True)
class CountingRule:
    include_functional_zones: bool = False
    include_enterprise_units: bool = False

    def counts(self, code: str) -> bool:
        if not self.include_functional_zones and is_functional_zone(code[:6]):
            return False
        return self.include_enterprise_units or township_kind(code) != "enterprise"

    def describe(self) -> str:
        left_out = [name for name, included in (("功能区", self.include_functional_zones),
                                                ("政企合一单位", self.include_enterprise_units)) if not included]
        return "统计用区划代码（2023）中的乡级单位" + (f"，不含{'、'.join(left_out)}" if left_out else "")


@cache
def _counted_units(code: str, rule: CountingRule) -> tuple[str, ...]:
    """The township-level units of a region that count, by the counting rule: fixed division data, worked out once
    per region and rule (a province has thousands)."""
    return tuple(t.code for t in townships_under(code) if rule.counts(t.code))


def coverage(region: str, operating: set[str], on: date, rule: CountingRule | None = None,
             targets: tuple[CoverageTarget, ...] = DEFAULT_TARGETS) -> dict[str, Any]:
    """Coverage of one region on a date, given the township codes with an operating station."""
    rule = rule or CountingRule()
    division = get_division(region)
    units = _counted_units(division.code, rule)
    covered = sum(1 for code in units if code in operating)
    share = Decimal(covered) / Decimal(len(units)) if units else Decimal(0)
    target = next((t for t in targets if t.region == division.code), None)
    planned = planned_share(target, on) if target else None
    behind = target is not None and behind_plan(target, on, covered, len(units))
    return {
        "code": division.code, "name": division.name, "level": division.level, "on": on,
        "township_units": len(units), "denominator": rule.describe(), "operating": covered,
        "coverage": share.quantize(Decimal("0.0001")),
        "target": None if target is None else {"share": target.share, "by": target.by, "start": target.start,
                                               "note": target.note, "planned_on_date": planned},
        "behind_plan": behind,
    }


def behind_plan(target: CoverageTarget, on: date, covered: int, units: int) -> bool:
    """Below the straight line, compared exactly: covered ÷ units < share × elapsed ÷ length, nothing rounded."""
    if on >= target.by:
        return Decimal(covered) < target.share * units
    if on <= target.start:
        return False
    return Decimal(covered) * (target.by - target.start).days < target.share * units * (on - target.start).days


def planned_share(target: CoverageTarget, on: date) -> Decimal:
    """The straight line from nothing at the plan's start to its share at its deadline (rounded, for display)."""
    if on >= target.by:
        return target.share
    if on <= target.start:
        return Decimal(0)
    elapsed = Decimal((on - target.start).days) / Decimal((target.by - target.start).days)
    return (target.share * elapsed).quantize(Decimal("0.0001"))


def coverage_finding(figure: dict[str, Any]) -> Finding | None:
    """LAG-10 for a region whose coverage is below the straight line to its target."""
    if not figure["behind_plan"]:
        return None
    target = figure["target"]
    return Finding(rule="LAG-10", version=1, severity="S3", subject_kind="region", subject_id=figure["code"],
                   region_code=figure["code"], key=f"coverage:{target['by']}", title="社工站覆盖滞后",
                   detail=(f"{figure['name']}截至 {figure['on']} 覆盖 {figure['operating']}/{figure['township_units']}"
                           f"（{figure['coverage']:.2%}），低于计划进度 {target['planned_on_date']:.2%}；"
                           f"口径：{figure['denominator']}"),
                   effective_on=figure["on"],
                   params={"target": str(target["share"]), "by": str(target["by"]), "start": str(target["start"]),
                           "planned_on_date": str(target["planned_on_date"]),
                           "township_units": figure["township_units"], "denominator": figure["denominator"]})


# -- 村(社区)社工服务点 --------------------------------------------------------------------------------------------

SERVICE_POINTS = "service_points"  # the output indicator (ledger/vocabulary.py): points newly run that month
NOT_CONFIGURED = "村(社区)数未配置"


@dataclass(frozen=True)
class ServicePointTarget(CoverageTarget):
    """A plan: service points in ``share`` of the region's ``villages`` (村(社区) count, configured) by ``by``."""

    villages: int | None = None


# 拉萨市: "65% coverage of village/community service points by end of 2024" (DOMAIN.md). The design notes give no
# count of its villages and communities, so the default plan has none: configure it to get a figure.
DEFAULT_SERVICE_POINT_TARGETS = (
    ServicePointTarget("540100", Decimal("0.65"), date(2024, 12, 31), date(2023, 1, 1),
                       "拉萨市村(社区)社工服务点覆盖65%"),
)


def service_point_targets_from(document: dict[str, Any]) -> tuple[ServicePointTarget, ...]:
    """Service-point plans from the rules configuration (`[[service_point_target]]`); the default when it has none.

        [[service_point_target]]
        region = "540100"        # a province, city or county code
        villages = 250           # its villages and communities (村(社区)): the denominator; without it no figure
        share = "0.65"           # of them with a service point
        by = 2024-12-31
        start = 2023-01-01       # the straight line runs from nothing here to ``share`` at ``by``
        note = "拉萨市村(社区)社工服务点覆盖65%"
    """
    tables = document.get("service_point_target")
    if not tables:
        return DEFAULT_SERVICE_POINT_TARGETS
    targets = []
    for table in tables:
        unknown = set(table) - {"region", "villages", "share", "by", "start", "note"}
        if unknown:
            raise ValueError(f"service_point_target has no field(s) {', '.join(sorted(unknown))}")
        missing = {"region", "share", "by", "start"} - set(table)
        if missing:
            raise ValueError(f"service_point_target needs {', '.join(sorted(missing))}")
        division = get_division(str(table["region"]))
        if division.level == "township":
            raise ValueError(f"service_point_target for {division.code}: a province, city or county, not a township")
        share = Decimal(str(table["share"]))
        if not (0 < share <= 1) or not isinstance(table["by"], date) or not isinstance(table["start"], date):
            raise ValueError(f"service_point_target for {division.code}: share in (0, 1], by and start as dates")
        if table["start"] >= table["by"]:
            raise ValueError(f"service_point_target for {division.code}: start must come before by")
        villages = table.get("villages")
        if villages is not None and (isinstance(villages, bool) or not isinstance(villages, int) or villages <= 0):
            raise ValueError(f"service_point_target for {division.code}: villages must be a whole number above 0")
        targets.append(ServicePointTarget(division.code, share, table["by"], table["start"],
                                          str(table.get("note", "")), villages))
    return tuple(targets)


def reported_service_points(outputs: Iterable[Mapping[str, Mapping[str, Any]]], on: date) -> int:
    """The service points the given projects run on ``on``: each project's monthly reports (month → report) count
    the points it newly put into service that month, so their sum is what it runs; a project that takes over a
    station's points from an earlier period reports them in its first month. Reports dated after ``on`` do not
    count; a month's corrected report replaces the first (as every output indicator)."""
    return sum(int(report["values"].get(SERVICE_POINTS, 0))
               for months in outputs for report in months.values() if report["effective_on"] <= on)


def service_points(region: str, on: date, reported: int,
                   targets: tuple[ServicePointTarget, ...] = DEFAULT_SERVICE_POINT_TARGETS) -> dict[str, Any] | None:
    """A region's service points on a date against its plan; None when no plan names the region. Without a
    configured village count there is no share, no planned number of points and no judgement (None)."""
    target = next((t for t in targets if t.region == region), None)
    if target is None:
        return None
    division = get_division(region)
    villages = target.villages
    planned = planned_share(target, on)
    figure = {
        "code": division.code, "name": division.name, "on": on, "reported": reported, "villages": villages,
        "denominator": NOT_CONFIGURED if villages is None else f"规则配置的村(社区)数 {villages} 个",
        "coverage": None if villages is None else (Decimal(reported) / Decimal(villages)).quantize(Decimal("0.0001")),
        "target": {"share": target.share, "by": target.by, "start": target.start, "note": target.note,
                   "planned_on_date": planned,
                   "planned_points": None if villages is None else _planned_points(target, on, villages)},
        "behind_plan": None if villages is None else behind_plan(target, on, reported, villages),
    }
    finding = service_point_finding(figure)
    figure["finding"] = None if finding is None else {**finding.as_record(), "status": "open"}
    return figure


def _planned_points(target: ServicePointTarget, on: date, villages: int) -> Decimal:
    """Where the straight line stands in points (two places, for display; the judgement is exact)."""
    if on >= target.by:
        points = target.share * villages
    elif on <= target.start:
        points = Decimal(0)
    else:
        points = target.share * villages * (on - target.start).days / (target.by - target.start).days
    return points.quantize(Decimal("0.01"))


def service_point_finding(figure: dict[str, Any]) -> Finding | None:
    """LAG-10 for a region whose service points are below the straight line to its plan."""
    if not figure["behind_plan"]:
        return None
    target = figure["target"]
    return Finding(rule="LAG-10", version=1, severity="S3", subject_kind="region", subject_id=figure["code"],
                   region_code=figure["code"], key=f"service_points:{target['by']}", title="村(社区)服务点覆盖滞后",
                   detail=(f"{figure['name']}截至 {figure['on']} 运营村(社区)社工服务点 {figure['reported']} 个，"
                           f"覆盖 {figure['reported']}/{figure['villages']}（{figure['coverage']:.2%}），"
                           f"低于计划进度 {target['planned_on_date']:.2%}（{target['planned_points']} 个）；"
                           f"口径：{figure['denominator']}"),
                   effective_on=figure["on"],
                   params={"target": str(target["share"]), "by": str(target["by"]), "start": str(target["start"]),
                           "planned_on_date": str(target["planned_on_date"]), "villages": figure["villages"],
                           "reported": figure["reported"]})
