"""The progress chart, drawn on the server as SVG: 支出进度 and the monthly plan (shares of the budget) against
序时进度, month by month. Readable without JavaScript; the same figures are in a table beside it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

WIDTH, HEIGHT = 720, 320
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 64
SERIES = (("time", "序时进度", "#888888", "6 4"), ("plan", "计划累计支出", "#1f6fb2", "2 3"),
          ("spent", "实际累计支出", "#c0392b", ""))


@dataclass(frozen=True)
class Line:
    key: str
    label: str
    colour: str
    dash: str
    points: str
    dots: list[tuple[float, float, str]]


def _share(amount: Any, budget: Decimal) -> Decimal | None:
    if amount is None or not budget:
        return None
    return Decimal(str(amount)) / budget


def progress_chart(progress: dict[str, Any]) -> dict[str, Any]:
    """Coordinates for the template: each series as a polyline, the axes' ticks and the month labels."""
    months = progress["months"]
    budget = Decimal(str(progress["budget"]))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(months) - 1, 1)
    values = {
        "time": [Decimal(str(m["time_progress"])) for m in months],
        "plan": [_share(m["planned_cumulative"], budget) for m in months],
        "spent": [_share(m["spent_cumulative"], budget) for m in months],
    }
    top = max([Decimal(1), *(v for series in values.values() for v in series if v is not None)])

    def y(value: Decimal) -> float:
        return round(TOP + plot_h - float(value / top) * plot_h, 1)

    lines = []
    for key, label, colour, dash in SERIES:
        dots = [(round(LEFT + i * step, 1), y(v), f"{months[i]['month']} {label} {v * 100:.1f}%")
                for i, v in enumerate(values[key]) if v is not None]
        lines.append(Line(key, label, colour, dash, " ".join(f"{x},{yy}" for x, yy, _ in dots), dots))
    ticks = [(y(Decimal(t) / 100), f"{t}%") for t in range(0, int(top * 100) + 1, 25)]
    labels = [(round(LEFT + i * step, 1), m["month"]) for i, m in enumerate(months)]
    return {"width": WIDTH, "height": HEIGHT, "left": LEFT, "right": WIDTH - RIGHT, "top": TOP,
            "bottom": TOP + plot_h, "lines": lines, "ticks": ticks, "labels": labels,
            "legend_y": HEIGHT - 12}
