"""绩效: the four PRF rules, each with a case that fires and a boundary case that must not.

Evaluations are recorded through the ledger (which computes the one-decimal total and its rating) and judged by the
rule engine with the EAR rules, exactly as the projection does.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from projection_builders import SIGNED, Officer, findings, of_rule

from ledger.application import LedgerApplication
from ledger.evaluation import rating_for, total_of
from projections.rules import REGISTRY, Finding
from projections.rules.params import DEFAULTS
from projections.rules.performance import PERFORMANCE_RULES

MIDTERM = date(2023, 9, 1)


def prf(app: LedgerApplication, rule: str, on: date | None = None) -> list[Finding]:
    return of_rule(findings(app, on=on), rule)


def test_the_four_performance_rules_are_registered() -> None:
    assert PERFORMANCE_RULES == ("PRF-01", "PRF-02", "PRF-03", "PRF-04")
    assert all(REGISTRY[code].code == code and REGISTRY[code].version >= 1 for code in PERFORMANCE_RULES)


# -- PRF-01 评价等级偏低 -----------------------------------------------------------------------------------------------

BANDS = [("59.9", "差", "S2"), ("60.0", "中", "S3"), ("79.9", "中", "S3"), ("80.0", "良", None),
         ("89.9", "良", None), ("90.0", "优", None)]


@pytest.mark.parametrize(("total", "rating"), [(total, rating) for total, rating, _ in BANDS])
def test_prf01_the_rating_bands_are_exact_on_the_one_decimal_total(total: str, rating: str) -> None:
    assert rating_for(Decimal(total)) == rating


def test_prf01_the_total_is_the_sum_of_the_dimension_scores_to_one_decimal() -> None:
    scores = {"decision": Decimal("14.5"), "process": Decimal("15"), "output": Decimal("20.4"),
              "effect": Decimal("10")}
    assert total_of(scores) == Decimal("59.9") and rating_for(total_of(scores)) == "差"


@pytest.mark.parametrize(("total", "rating", "severity"), BANDS)
def test_prf01_an_evaluation_rated_zhong_is_a_warning_and_cha_is_serious(
        officer: Officer, memory_app: LedgerApplication, total: str, rating: str, severity: str | None) -> None:
    _, project = officer.funded_project()
    result = officer.evaluate(project, total, on=MIDTERM)

    found = prf(memory_app, "PRF-01")

    assert result["rating"] == rating
    assert [f.severity for f in found] == ([severity] if severity else [])
    if severity:
        [finding] = found
        assert (finding.key, finding.effective_on) == (str(result["evaluation_id"]), MIDTERM)
        assert f"中期评估得分 {total}，等级为「{rating}」" in finding.detail
        assert finding.evidence[0]["type"] == "Evaluated"


def test_prf01_a_self_evaluation_is_rated_too(officer: Officer, memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project()
    officer.evaluate(project, "65.0", kind="self", on=MIDTERM)

    [finding] = prf(memory_app, "PRF-01")
    assert finding.severity == "S3" and finding.detail.startswith("自评")


# -- PRF-02 指标体系不合规 ---------------------------------------------------------------------------------------------


def test_prf02_output_and_effect_weighted_exactly_60_is_a_valid_framework(officer: Officer,
                                                                         memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project()
    officer.evaluate(project, "70.0", weights={"decision": "20", "process": "20", "output": "30", "effect": "30"})

    assert prf(memory_app, "PRF-02") == []


def test_prf02_output_and_effect_weighted_below_60_is_invalid(officer: Officer,
                                                              memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project()
    result = officer.evaluate(project, "70.0",
                              weights={"decision": "21", "process": "20", "output": "30", "effect": "29"})

    [finding] = prf(memory_app, "PRF-02")

    assert (finding.severity, finding.key) == ("S3", str(result["evaluation_id"]))
    assert finding.detail == "产出与效益权重合计 59.00，低于 60"
    assert finding.params == DEFAULTS["PRF-02"]


@pytest.mark.parametrize("effect", ["34.9", "35.1"])
def test_prf02_weights_not_summing_to_100_are_invalid(officer: Officer, memory_app: LedgerApplication,
                                                      effect: str) -> None:
    _, project = officer.funded_project()
    officer.evaluate(project, "70.0", weights={"decision": "15", "process": "15", "output": "35", "effect": effect})

    [finding] = prf(memory_app, "PRF-02")

    assert "不等于 100" in finding.detail and "产出与效益" not in finding.detail


# -- PRF-03 中期不合格仍拨款 -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("midterm", "fires"), [("59.9", True), ("60.0", False)])
def test_prf03_a_disbursement_after_a_midterm_rated_cha_is_a_violation(
        officer: Officer, memory_app: LedgerApplication, midterm: str, fires: bool) -> None:
    fund, project = officer.funded_project()
    officer.evaluate(project, midterm, on=MIDTERM)
    entry = officer.disburse(project, fund, "10000.00", on=date(2023, 9, 2))

    found = prf(memory_app, "PRF-03")

    assert [(f.severity, f.key) for f in found] == ([("S1", str(entry))] if fires else [])
    if fires:
        assert [e["type"] for e in found[0].evidence] == ["Evaluated", "Disbursed"]
        assert "得分 59.9（差）" in found[0].detail


def test_prf03_a_passing_re_evaluation_in_between_allows_payment(officer: Officer,
                                                                 memory_app: LedgerApplication) -> None:
    fund, project = officer.funded_project()
    officer.evaluate(project, "59.9", on=MIDTERM)
    officer.evaluate(project, "72.0", on=date(2023, 9, 20))
    officer.disburse(project, fund, "10000.00", on=date(2023, 9, 25))

    assert prf(memory_app, "PRF-03") == []


def test_prf03_a_re_evaluation_after_the_payment_does_not_excuse_it(officer: Officer,
                                                                    memory_app: LedgerApplication) -> None:
    fund, project = officer.funded_project()
    officer.evaluate(project, "59.9", on=MIDTERM)
    entry = officer.disburse(project, fund, "10000.00", on=date(2023, 9, 10))
    officer.evaluate(project, "72.0", on=date(2023, 9, 20))

    assert [f.key for f in prf(memory_app, "PRF-03")] == [str(entry)]


def test_prf03_payments_before_the_failed_midterm_or_reversed_do_not_count(officer: Officer,
                                                                           memory_app: LedgerApplication) -> None:
    fund, project = officer.funded_project()
    officer.disburse(project, fund, "10000.00", on=SIGNED)
    officer.evaluate(project, "59.9", on=MIDTERM)
    wrong = officer.disburse(project, fund, "10000.00", on=date(2023, 9, 10))
    officer.reverse(project, wrong, on=date(2023, 9, 11))

    assert prf(memory_app, "PRF-03") == []


# -- PRF-04 自评虚高 ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("self_score", "fires"), [("85.0", True), ("84.9", False)])
def test_prf04_a_self_evaluation_10_points_above_the_external_one_is_inflated(
        officer: Officer, memory_app: LedgerApplication, self_score: str, fires: bool) -> None:
    _, project = officer.funded_project()
    own = officer.evaluate(project, self_score, kind="self", on=date(2023, 8, 25))
    officer.evaluate(project, "75.0", kind="midterm", on=MIDTERM)

    found = prf(memory_app, "PRF-04")

    assert [(f.severity, f.key) for f in found] == ([("S2", str(own["evaluation_id"]))] if fires else [])
    if fires:
        assert found[0].effective_on == MIDTERM
        assert "自评 85.0 分，比中期评估 75.0 分高出 10.0 分" in found[0].detail
        assert found[0].params == DEFAULTS["PRF-04"]


def test_prf04_is_judged_only_once_the_external_evaluation_has_taken_effect(officer: Officer,
                                                                            memory_app: LedgerApplication) -> None:
    _, project = officer.funded_project()
    officer.evaluate(project, "95.0", kind="self", on=date(2023, 8, 25))
    officer.evaluate(project, "75.0", kind="midterm", on=MIDTERM)

    assert prf(memory_app, "PRF-04", on=date(2023, 8, 31)) == []
    assert len(prf(memory_app, "PRF-04", on=MIDTERM)) == 1
