"""Specifications of the administrative-division table (NBS 2023) and of region scopes."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from ledger import regions
from ledger.errors import InvalidRegionError, ValidationError
from ledger.regions import (
    VINTAGE,
    Division,
    ancestors,
    children,
    get_division,
    in_scope,
    is_functional_zone,
    is_valid_code,
    is_within,
    normalise_scope,
    parent_code,
    township_kind,
    townships_under,
)

LANZHOU = "620100"
LANZHOU_NEW_AREA = "620171"  # 兰州新区, a statistical functional zone
LHASA = "540100"
CHENGGUAN_LHASA = "540102"  # 城关区, 拉萨市
CHENGGUAN_LANZHOU = "620102"  # 城关区, 兰州市
HEBEI = "130000"


# --- the table -------------------------------------------------------------------------------------------------


def test_vintage_names_the_nbs_2023_codes() -> None:
    assert VINTAGE == "NBS-2023"


def test_table_holds_every_division_of_the_shipped_files() -> None:
    table = regions._table()
    levels = [d.level for d in table.by_code.values()]
    # 31 provinces, 342 cities, 2,978 counties less the 3 that repeat their city's code, 41,352 townships.
    assert (levels.count("province"), levels.count("city"), levels.count("county"), levels.count("township")) == (
        31,
        342,
        2975,
        41352,
    )


def test_table_is_loaded_once_per_process() -> None:
    assert regions._table() is regions._table()


def test_division_is_immutable() -> None:
    division = get_division(LANZHOU)
    with pytest.raises(dataclasses.FrozenInstanceError):
        division.name = "x"  # type: ignore[misc]


# --- get_division and canonical codes ---------------------------------------------------------------------------


def test_province_is_found_by_its_canonical_code() -> None:
    assert get_division("620000") == Division("620000", "甘肃省", "province", None)


def test_city_is_found_by_its_canonical_code_and_its_parent_is_its_province() -> None:
    assert get_division(LANZHOU) == Division(LANZHOU, "兰州市", "city", "620000")


def test_county_parent_is_its_city() -> None:
    assert get_division(CHENGGUAN_LHASA) == Division(CHENGGUAN_LHASA, "城关区", "county", LHASA)


def test_township_parent_is_its_county() -> None:
    township = get_division("620102001")
    assert township.level == "township"
    assert township.parent == CHENGGUAN_LANZHOU
    assert township.name.endswith("街道")


def test_municipal_district_grouping_is_a_city() -> None:
    assert get_division("110100") == Division("110100", "市辖区", "city", "110000")
    assert parent_code("110101") == "110100"


def test_province_administered_counties_are_grouped_under_a_city_as_the_csv_says() -> None:
    assert get_division("429000") == Division("429000", "省直辖县级行政区划", "city", "420000")
    assert parent_code("429004") == "429000"  # 仙桃市


def test_prefecture_city_without_counties_is_one_city_parenting_its_townships() -> None:
    dongguan = get_division("441900")
    assert (dongguan.name, dongguan.level, dongguan.parent) == ("东莞市", "city", "440000")
    assert parent_code("441900003") == "441900"
    assert ancestors("441900003") == ["441900", "440000"]
    assert {d.level for d in children("441900")} == {"township"}


@pytest.mark.parametrize(
    "code",
    ["62010", "abc", "6201000000", "62", "6201", "", "62010a", " 620100", "620100 ", "６２０１００", "62010０"],
)
def test_malformed_code_is_refused_as_malformed(code: str) -> None:
    with pytest.raises(InvalidRegionError, match="malformed") as refused:
        get_division(code)
    assert repr(code) in refused.value.message
    assert refused.value.field is None
    assert refused.value.code == "invalid_region"


@pytest.mark.parametrize("code", [620100, 620102001, None, b"620100", ["620100"]])
def test_code_that_is_not_a_string_is_refused(code: Any) -> None:
    with pytest.raises(InvalidRegionError, match="not a string"):
        get_division(code)


@pytest.mark.parametrize("code", ["999999", "000000", "620199", "620102999", "990000", "620000001"])
def test_unknown_code_is_refused_as_unknown(code: str) -> None:
    with pytest.raises(InvalidRegionError, match="not a known division") as refused:
        get_division(code)
    assert code in refused.value.message
    assert "NBS-2023" in refused.value.message


def test_region_refusal_is_a_validation_error() -> None:
    with pytest.raises(ValidationError):
        get_division("999999")


@pytest.mark.parametrize("code", ["620000", LANZHOU, CHENGGUAN_LHASA, "620102001", "441900"])
def test_known_canonical_code_is_valid(code: str) -> None:
    assert is_valid_code(code)


@pytest.mark.parametrize("code", ["62010", "abc", 620100, "6201000000", "999999", None, "62", ""])
def test_malformed_or_unknown_code_is_invalid_without_raising(code: Any) -> None:
    assert not is_valid_code(code)


# --- the hierarchy ----------------------------------------------------------------------------------------------


def test_province_has_no_parent() -> None:
    assert parent_code(HEBEI) is None
    assert ancestors(HEBEI) == []


def test_ancestors_run_nearest_first_and_end_with_the_province() -> None:
    assert ancestors("620102001") == [CHENGGUAN_LANZHOU, LANZHOU, "620000"]
    assert ancestors(CHENGGUAN_LANZHOU) == [LANZHOU, "620000"]
    assert ancestors(LANZHOU) == ["620000"]


def test_parent_code_refuses_an_unknown_code() -> None:
    with pytest.raises(InvalidRegionError):
        parent_code("999999")


def test_a_division_is_within_itself_and_its_ancestors() -> None:
    assert is_within("620102001", "620102001")
    assert is_within("620102001", CHENGGUAN_LANZHOU)
    assert is_within("620102001", LANZHOU)
    assert is_within("620102001", "620000")


def test_a_division_is_not_within_a_sibling_a_descendant_or_a_namesake() -> None:
    assert not is_within(CHENGGUAN_LANZHOU, CHENGGUAN_LHASA)  # both 城关区
    assert not is_within(LANZHOU, CHENGGUAN_LANZHOU)
    assert not is_within("620102001", "540000")


def test_is_within_refuses_an_unknown_ancestor() -> None:
    with pytest.raises(InvalidRegionError):
        is_within("620102001", "999999")


def test_hebei_has_eleven_cities() -> None:
    cities = children(HEBEI)
    assert len(cities) == 11
    assert {d.level for d in cities} == {"city"}
    assert cities[0] == Division("130100", "石家庄市", "city", HEBEI)


def test_children_are_sorted_by_code() -> None:
    for code in (HEBEI, LANZHOU, CHENGGUAN_LANZHOU):
        codes = [d.code for d in children(code)]
        assert codes == sorted(codes)


def test_township_has_no_children() -> None:
    assert children("620102001") == []


def test_hebei_has_2365_townships() -> None:
    townships = townships_under(HEBEI)
    assert len(townships) == 2365
    assert all(d.level == "township" and d.code.startswith("13") for d in townships)


def test_lanzhou_has_112_townships_in_its_counties_and_4_in_lanzhou_new_area() -> None:
    counties = [d for d in children(LANZHOU) if not is_functional_zone(d.code)]
    assert len(counties) == 8
    assert sum(len(townships_under(d.code)) for d in counties) == 112
    assert len(townships_under(LANZHOU_NEW_AREA)) == 4
    assert len(townships_under(LANZHOU)) == 116


def test_lhasa_has_65_townships_outside_its_functional_zones() -> None:
    in_counties = [d for d in townships_under(LHASA) if not is_functional_zone(d.code)]
    assert len(in_counties) == 65
    assert len({d.parent for d in in_counties}) == 8


def test_townships_under_are_sorted_and_each_lies_within_the_division() -> None:
    townships = townships_under(LANZHOU)
    assert [d.code for d in townships] == sorted(d.code for d in townships)
    assert all(is_within(d.code, LANZHOU) for d in townships)


def test_townships_under_a_township_is_the_township_itself() -> None:
    assert townships_under("620102001") == [get_division("620102001")]


def test_townships_under_a_city_without_counties_are_its_own() -> None:
    townships = townships_under("441900")
    assert townships
    assert all(d.parent == "441900" for d in townships)


def test_townships_under_refuses_an_unknown_code() -> None:
    with pytest.raises(InvalidRegionError):
        townships_under("999999")


# --- township kinds and functional zones ------------------------------------------------------------------------


def test_lanzhou_counties_hold_52_streets_43_towns_14_townships_and_3_enterprise_units() -> None:
    counties = [d.code for d in children(LANZHOU) if not is_functional_zone(d.code)]
    kinds = [township_kind(t.code) for c in counties for t in townships_under(c)]
    assert {k: kinds.count(k) for k in set(kinds)} == {"street": 52, "town": 43, "township": 14, "enterprise": 3}


@pytest.mark.parametrize(
    ("code", "kind"),
    [("620102001", "street"), ("620121100", "town"), ("620121201", "township")],
)
def test_township_kind_follows_the_first_of_the_last_three_digits(code: str, kind: str) -> None:
    assert township_kind(code) == kind


def test_township_kind_refuses_a_code_that_is_not_a_township() -> None:
    with pytest.raises(InvalidRegionError, match="not a township"):
        township_kind(LANZHOU)


def test_county_digits_71_to_80_are_functional_zones() -> None:
    assert is_functional_zone(LANZHOU_NEW_AREA)
    assert is_functional_zone("540171")
    assert not is_functional_zone(CHENGGUAN_LHASA)
    assert not is_functional_zone("620121")  # 永登县


def test_a_township_is_in_a_functional_zone_when_its_county_is() -> None:
    new_area_township = townships_under(LANZHOU_NEW_AREA)[0].code
    assert is_functional_zone(new_area_township)
    assert not is_functional_zone("620102001")


def test_provinces_and_cities_are_not_functional_zones() -> None:
    assert not is_functional_zone("620000")
    assert not is_functional_zone(LANZHOU)


# --- region scopes ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "prefix"),
    [
        ("620000", "62"),
        (LANZHOU, "6201"),
        (CHENGGUAN_LANZHOU, CHENGGUAN_LANZHOU),
        ("620102001", "620102001"),
        ("", ""),
        ("62", "62"),
        ("6201", "6201"),
        ("110100", "1101"),
        ("441900", "4419"),
    ],
)
def test_scope_is_normalised_to_its_significant_prefix(scope: str, prefix: str) -> None:
    assert normalise_scope(scope) == prefix
    assert normalise_scope(prefix) == prefix  # idempotent


@pytest.mark.parametrize("scope", ["6", "620", "62010", "99", "6299", "999999", "abc", "62 ", "6201000000", 62])
def test_scope_that_is_not_a_known_division_or_prefix_is_refused(scope: Any) -> None:
    with pytest.raises(InvalidRegionError):
        normalise_scope(scope)


def test_lanzhou_officer_covers_a_lanzhou_township_but_not_lhasa() -> None:
    assert in_scope("620102001", "6201")
    assert in_scope("620102001", LANZHOU)
    assert not in_scope(CHENGGUAN_LHASA, "6201")
    assert not in_scope(CHENGGUAN_LHASA, LANZHOU)


def test_a_scope_covers_its_own_division_but_not_its_parent() -> None:
    assert in_scope(LANZHOU, "6201")
    assert in_scope("620000", "62")
    assert not in_scope("620000", "6201")
    assert not in_scope(LANZHOU, CHENGGUAN_LANZHOU)


def test_nationwide_scope_covers_every_known_division() -> None:
    assert in_scope(CHENGGUAN_LHASA, "")
    assert in_scope("620102001", "")


def test_in_scope_refuses_an_unknown_or_malformed_code() -> None:
    with pytest.raises(InvalidRegionError):
        in_scope("999999", "")
    with pytest.raises(InvalidRegionError):
        in_scope("62010", "62")


def test_in_scope_refuses_an_unknown_scope() -> None:
    with pytest.raises(InvalidRegionError):
        in_scope("620102001", "99")


def test_scope_agrees_with_the_hierarchy() -> None:
    for code in ("620102001", CHENGGUAN_LANZHOU, LANZHOU, "441900003", "110101001"):
        for ancestor in [code, *ancestors(code)]:
            assert in_scope(code, ancestor)
        assert not in_scope(code, CHENGGUAN_LHASA)
