"""China's administrative divisions (NBS 2023 statistical codes) and the region scopes actors act within.

Codes are canonical: 6 digits for a province (``PP0000``), city (``PPCC00``) or county (``PPCCXX``), 9 digits for a
township. The table ships in ``ledger/data/divisions`` (see its README) and is loaded once, on first use.
"""

from __future__ import annotations

import csv
import io
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Literal, TypeGuard

from ledger.errors import InvalidRegionError

__all__ = [
    "VINTAGE",
    "Division",
    "Level",
    "ancestors",
    "children",
    "get_division",
    "in_scope",
    "is_functional_zone",
    "is_valid_code",
    "is_within",
    "normalise_scope",
    "parent_code",
    "township_kind",
    "townships_under",
]

VINTAGE = "NBS-2023"
"""The division-code vintage of the shipped table: NBS 2023 codes, cut-off 2023-06-30."""

Level = Literal["province", "city", "county", "township"]

_SHAPE_HINT = "6 digits (province PP0000, city PPCC00, county PPCCXX) or 9 digits (township)"


@dataclass(frozen=True, slots=True)
class Division:
    """One administrative division; ``code`` and ``parent`` are canonical codes."""

    code: str
    name: str
    level: Level
    parent: str | None


@dataclass(frozen=True, slots=True)
class _Table:
    """The loaded division table with its indexes."""

    by_code: dict[str, Division]
    children: dict[str, tuple[Division, ...]]
    township_codes: list[str]  # sorted, for prefix searches
    townships: tuple[Division, ...]  # in the order of township_codes
    province_prefixes: frozenset[str]
    city_prefixes: frozenset[str]


def _rows(name: str) -> Iterator[list[str]]:
    """Return an iterator over the data rows (header skipped) of one shipped CSV file."""
    text = (files("ledger") / "data" / "divisions" / name).read_text(encoding="utf-8")
    reader = csv.reader(io.StringIO(text, newline=""))
    next(reader)
    return reader


@cache
def _table() -> _Table:
    """Load the four CSV files into one table, once per process."""
    by_code: dict[str, Division] = {}
    for code, name in _rows("provinces.csv"):
        by_code[code + "0000"] = Division(code + "0000", name, "province", None)
    for code, name, province in _rows("cities.csv"):
        by_code[code + "00"] = Division(code + "00", name, "city", province + "0000")
    for code, name, city, _province in _rows("areas.csv"):
        if code == city + "00":
            # 东莞, 中山, 儋州: prefecture cities without counties, listed again as a county with the city's code.
            continue
        by_code[code] = Division(code, name, "county", city + "00")
    townships: list[Division] = []
    for code, name, county, _province, _city in _rows("streets.csv"):
        township = Division(code, name, "township", county)
        by_code[code] = township
        townships.append(township)
    townships.sort(key=lambda d: d.code)

    grouped: dict[str, list[Division]] = {}
    for division in by_code.values():
        if division.parent is not None:
            grouped.setdefault(division.parent, []).append(division)
    children = {parent: tuple(sorted(kids, key=lambda d: d.code)) for parent, kids in grouped.items()}
    return _Table(
        by_code=by_code,
        children=children,
        township_codes=[d.code for d in townships],
        townships=tuple(townships),
        province_prefixes=frozenset(c[:2] for c, d in by_code.items() if d.level == "province"),
        city_prefixes=frozenset(c[:4] for c, d in by_code.items() if d.level == "city"),
    )


def _is_code_shape(code: object) -> TypeGuard[str]:
    """True if ``code`` is a string of 6 or 9 ASCII digits."""
    return isinstance(code, str) and len(code) in (6, 9) and code.isascii() and code.isdigit()


def _check_shape(code: object) -> str:
    """Return ``code`` if it has the shape of a canonical code, else raise InvalidRegionError saying why."""
    if not isinstance(code, str):
        raise InvalidRegionError(
            f"Region code {code!r} is a {type(code).__name__}, not a string: expected a string of {_SHAPE_HINT}."
        )
    if not _is_code_shape(code):
        raise InvalidRegionError(f"Region code {code!r} is malformed: expected {_SHAPE_HINT}.")
    return code


def _prefix(division: Division) -> str:
    """The significant prefix of a division's code: 2 digits for a province, 4 for a city, all of it otherwise."""
    if division.level == "province":
        return division.code[:2]
    if division.level == "city":
        return division.code[:4]
    return division.code


def get_division(code: str) -> Division:
    """Return the division with this canonical code; raise InvalidRegionError if malformed or unknown."""
    division = _table().by_code.get(_check_shape(code))
    if division is None:
        raise InvalidRegionError(
            f"Region code {code!r} is not a known division in the {VINTAGE} statistical division codes."
        )
    return division


def is_valid_code(code: object) -> bool:
    """True if ``code`` is a canonical code of a known division; never raises."""
    return _is_code_shape(code) and code in _table().by_code


def parent_code(code: str) -> str | None:
    """The canonical code of the division's parent (None for a province)."""
    return get_division(code).parent


def ancestors(code: str) -> list[str]:
    """The codes of the division's ancestors, nearest first, ending with the province (empty for a province)."""
    result: list[str] = []
    parent = get_division(code).parent
    while parent is not None:
        result.append(parent)
        parent = _table().by_code[parent].parent
    return result


def is_within(code: str, ancestor: str) -> bool:
    """True if ``code`` is ``ancestor`` itself or lies below it; both must be known codes."""
    get_division(ancestor)
    return code == ancestor or ancestor in ancestors(code)


def children(code: str) -> list[Division]:
    """The divisions directly below this one, sorted by code (empty for a township)."""
    return list(_table().children.get(get_division(code).code, ()))


def townships_under(code: str) -> list[Division]:
    """All townships below a province, city or county, sorted by code; a township gives itself."""
    division = get_division(code)
    if division.level == "township":
        return [division]
    prefix = _prefix(division)
    table = _table()
    start = bisect_left(table.township_codes, prefix)
    end = start
    while end < len(table.township_codes) and table.township_codes[end].startswith(prefix):
        end += 1
    return list(table.townships[start:end])


def township_kind(code: str) -> str:
    """Kind of a township from its last 3 digits: 'street', 'town', 'township', 'enterprise' (政企合一) or 'other'."""
    division = get_division(code)
    if division.level != "township":
        raise InvalidRegionError(f"Region code {code!r} is a {division.level}, not a township.")
    number = int(code[6:])
    if 1 <= number <= 99:
        return "street"
    if 100 <= number <= 199:
        return "town"
    if 200 <= number <= 399:
        return "township"
    if 400 <= number <= 599:
        return "enterprise"
    return "other"


def is_functional_zone(county_code: str) -> bool:
    """True if the county (or a township's county) is a statistical functional zone: county digits 71-80."""
    division = get_division(county_code)
    return division.level in ("county", "township") and 71 <= int(division.code[4:6]) <= 80


def normalise_scope(scope: str) -> str:
    """Turn a scope into its significant code prefix: '620000'→'62', '620100'→'6201', ''→'' (nationwide).

    A canonical code of a known division is accepted, and so is a bare known province or city prefix ('62', '6201').
    """
    if not isinstance(scope, str):
        raise InvalidRegionError(
            f"Region scope {scope!r} is a {type(scope).__name__}, not a string: expected a division code or prefix."
        )
    if scope == "":
        return ""
    if len(scope) in (2, 4) and scope.isascii() and scope.isdigit():
        table = _table()
        known = table.province_prefixes if len(scope) == 2 else table.city_prefixes
        if scope not in known:
            kind = "province" if len(scope) == 2 else "city"
            raise InvalidRegionError(
                f"Region scope {scope!r} is not a known {kind} prefix in the {VINTAGE} statistical division codes."
            )
        return scope
    if not _is_code_shape(scope):
        raise InvalidRegionError(
            f"Region scope {scope!r} is malformed: expected '' (nationwide), a 2-digit province or 4-digit city "
            f"prefix, or {_SHAPE_HINT}."
        )
    return _prefix(get_division(scope))


def in_scope(code: str, scope: str) -> bool:
    """True if the known division ``code`` lies inside ``scope`` (a code or prefix, '' meaning nationwide)."""
    return get_division(code).code.startswith(normalise_scope(scope))
