"""绩效: the four performance rules (PRF), over a project's evaluations and disbursements."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from projections.rules import Finding, rule
from projections.rules.earmarking import ProjectContext

EXTERNAL_KINDS = ("midterm", "final")


@rule("PRF-01", 1, "评价等级偏低")
def poor_rating(ctx: ProjectContext) -> Iterator[Finding]:
    """An evaluation rated 中 (S3) or 差 (S2), on the bands 优 >= 90, 良 >= 80, 中 >= 60, 差 < 60."""
    for e in ctx.project.evaluations:
        if e["rating"] in ("中", "差"):
            yield ctx.finding("PRF-01", 1, "S2" if e["rating"] == "差" else "S3", e["evaluation_id"],
                              "评价等级偏低", f"{_kind(e['kind'])}得分 {e['total']}，等级为「{e['rating']}」",
                              e["effective_on"], [e["ref"]])


@rule("PRF-02", 1, "指标体系不合规")
def invalid_framework(ctx: ProjectContext) -> Iterator[Finding]:
    """Dimension weights that do not sum to 100, or output + effect weighted below the minimum."""
    minimum = ctx.params("PRF-02")["output_effect_minimum"]
    for e in ctx.project.evaluations:
        weights = e["weights"]
        total = sum(weights.values(), Decimal(0))
        results = weights.get("output", Decimal(0)) + weights.get("effect", Decimal(0))
        problems = []
        if total != 100:
            problems.append(f"四项权重合计 {total}，不等于 100")
        if results < minimum:
            problems.append(f"产出与效益权重合计 {results}，低于 {minimum}")
        if problems:
            yield ctx.finding("PRF-02", 1, "S3", e["evaluation_id"], "指标体系不合规", "；".join(problems),
                              e["effective_on"], [e["ref"]])


@rule("PRF-03", 1, "中期不合格仍拨款")
def paying_through_failed_midterm(ctx: ProjectContext) -> Iterator[Finding]:
    """A disbursement after a mid-term rated 差, with no passing re-evaluation in between."""
    p = ctx.project
    midterms = sorted((e for e in p.evaluations if e["kind"] == "midterm"),
                      key=lambda e: (e["effective_on"], e["ref"]["position"]))
    for d in p.live_entries("disbursement"):
        before = [e for e in midterms if e["effective_on"] <= d["effective_on"]]
        if before and before[-1]["total"] < 60:
            failed = before[-1]
            yield ctx.finding("PRF-03", 1, "S1", d["entry_id"], "中期不合格仍拨款",
                              f"中期评估 {failed['effective_on']} 得分 {failed['total']}（差）后，未经整改合格即拨付 "
                              f"{d['amount']} 元", d["effective_on"], [failed["ref"], d["ref"]])


@rule("PRF-04", 1, "自评虚高")
def inflated_self_evaluation(ctx: ProjectContext) -> Iterator[Finding]:
    """A self-evaluation scoring at least the margin above the external evaluation of the same stage."""
    margin = ctx.params("PRF-04")["margin"]
    externals = sorted((e for e in ctx.project.evaluations if e["kind"] in EXTERNAL_KINDS),
                       key=lambda e: (e["effective_on"], e["ref"]["position"]))
    for s in (e for e in ctx.project.evaluations if e["kind"] == "self"):
        later = [e for e in externals if e["effective_on"] >= s["effective_on"]]
        external = later[0] if later else (externals[-1] if externals else None)
        if external is not None and s["total"] - external["total"] >= margin:
            yield ctx.finding("PRF-04", 1, "S2", s["evaluation_id"], "自评虚高",
                              f"自评 {s['total']} 分，比{_kind(external['kind'])} {external['total']} 分高出 "
                              f"{s['total'] - external['total']} 分", max(s["effective_on"], external["effective_on"]),
                              [s["ref"], external["ref"]])


def _kind(kind: str) -> str:
    return {"self": "自评", "midterm": "中期评估", "final": "结项评估"}.get(kind, kind)


PERFORMANCE_RULES = ("PRF-01", "PRF-02", "PRF-03", "PRF-04")
