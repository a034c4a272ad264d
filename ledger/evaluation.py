"""Performance evaluation scores: four dimensions, a one-decimal total out of 100, and its rating band."""

from __future__ import annotations

from decimal import Decimal

DIMENSIONS = ("decision", "process", "output", "effect")  # 决策 / 过程 / 产出 / 效益
KINDS = ("self", "midterm", "final")
TENTH = Decimal("0.1")


def rating_for(total: Decimal) -> str:
    """优 >= 90, 良 >= 80, 中 >= 60, 差 < 60, on the one-decimal total (财预〔2020〕10号)."""
    if total >= 90:
        return "优"
    if total >= 80:
        return "良"
    if total >= 60:
        return "中"
    return "差"


def total_of(scores: dict[str, Decimal]) -> Decimal:
    return sum(scores.values(), Decimal("0")).quantize(TENTH)
