"""Reference data: 2025 units from vietnam-provinces, legacy mapping from vietnamadminunits."""

from __future__ import annotations

import pytest
from contract_helpers import NOW, check, reasons

from schemas import PROVINCES, legacy, validate_batch
from schemas.examples import make_event
from schemas.units import (
    COMMUNE_PROVINCE,
    COMMUNES,
    UnitError,
    commune_name,
    communes_of,
    province_name,
    province_of,
)


def test_counts_match_the_2025_reform() -> None:
    assert len(PROVINCES) == 34
    assert len(COMMUNES) == 3321
    assert sum(len(communes_of(p)) for p in PROVINCES) == 3321
    assert all(len(p) == 2 and p.isdigit() for p in PROVINCES)
    assert all(len(c) == 5 and c.isdigit() for c in COMMUNES)


def test_lookups() -> None:
    assert province_name("01") == "Thành phố Hà Nội"
    assert province_name("15") == "Lào Cai"
    assert commune_name("00070") == "Phường Hoàn Kiếm"
    assert province_of("00070") == "01"
    assert "00070" in communes_of("01")
    assert communes_of("01") == sorted(communes_of("01"))
    communes_of("01").clear()  # a copy: the table is not mutable through it
    assert communes_of("01")
    for bad in ("10", "99", "1"):
        with pytest.raises(UnitError):
            province_name(bad)
    with pytest.raises(UnitError):
        commune_name("99999")
    with pytest.raises(UnitError):
        province_of("99999")
    with pytest.raises(UnitError):
        communes_of("10")


def test_every_commune_is_valid_with_its_province_only() -> None:
    events = [
        make_event("report_triaged", commune_code=c, province_code=p)
        for c, p in COMMUNE_PROVINCE.items()
    ]
    for start in range(0, len(events), 1000):
        assert check(*events[start : start + 1000]).rejected == []
    hcm = next(c for c in communes_of("79"))
    report = check(make_event("report_triaged", commune_code=hcm, province_code="01"))
    assert reasons(report) == [(0, "commune_code")]
    assert "belongs to province 79, not 01" in report.rejected[0].reason


@pytest.mark.parametrize(
    ("province", "commune", "path"),
    [
        ("99", "00070", "province_code"),
        ("01", "99999", "commune_code"),
        ("10", "00070", "province_code"),
    ],
)
def test_unknown_units(province: str, commune: str, path: str) -> None:
    report = check(make_event("report_triaged", province_code=province, commune_code=commune))
    assert reasons(report) == [(0, path)]


# --- legacy (code regime 2004) ---------------------------------------------------------------


def _legacy_commune(province: str, successors: int) -> str:
    tables = legacy.tables()
    return next(
        c
        for c, p in sorted(tables.commune_province.items())
        if p == province and len(tables.commune_to_2025[c]) == successors
    )


def test_legacy_tables_cover_the_63_provinces() -> None:
    tables = legacy.tables()
    assert len(tables.province_names) == 63
    assert set(tables.province_to_2025.values()) == set(PROVINCES)
    assert len(tables.commune_province) > 10_000


def test_reused_code_trap_15() -> None:
    """Code 15 is Yên Bái under 2004 and Lào Cai under 2025; old Lào Cai was 10."""
    tables = legacy.tables()
    assert "Yên Bái" in tables.province_names["15"]
    assert "Lào Cai" in tables.province_names["10"]
    assert province_name("15") == "Lào Cai"
    assert legacy.province_to_2025("15") == "15"
    assert legacy.province_to_2025("10") == "15"
    # Old Bắc Giang (24) and old Bắc Ninh (27) became the new Bắc Ninh, code 24.
    assert "Bắc Giang" in tables.province_names["24"]
    assert province_name("24") == "Bắc Ninh"
    assert legacy.province_to_2025("27") == "24"
    # Old Lào Cai's code 10 is no province under 2025: read as 2025 it is refused...
    old_lao_cai = _legacy_commune("10", 1)
    as_2025 = check(make_event("report_triaged", province_code="10", commune_code=old_lao_cai))
    assert reasons(as_2025) == [(0, "province_code")]
    # ...and read as 2004 it lands in the new Lào Cai (15).
    as_2004 = check(
        make_event(
            "report_triaged", province_code="10", commune_code=old_lao_cai, code_regime="2004"
        )
    )
    assert as_2004.rejected == []
    assert as_2004.valid[0].province_code == "15"


def test_same_digits_mean_different_units_per_regime() -> None:
    """A Yên Bái 2004 commune code that is no 2025 code: valid only with regime 2004."""
    tables = legacy.tables()
    code = next(
        c
        for c, p in sorted(tables.commune_province.items())
        if p == "15" and c not in COMMUNES and len(tables.commune_to_2025[c]) == 1
    )
    assert reasons(check(make_event("report_triaged", province_code="15", commune_code=code))) == [
        (0, "commune_code")
    ]
    ok = check(
        make_event("report_triaged", province_code="15", commune_code=code, code_regime="2004")
    )
    (event,) = ok.valid
    assert (event.legacy_province_code, event.legacy_commune_code) == ("15", code)
    assert event.code_regime == "2025"
    assert (event.province_code, event.commune_code) == tables.commune_to_2025[code][0]
    assert event.commune_code != code


def test_unambiguous_legacy_event_is_mapped_and_round_trips() -> None:
    code = _legacy_commune("27", 1)  # old Bắc Ninh
    event = make_event("report_received", province_code="27", commune_code=code, code_regime="2004")
    (model,) = check(event, expected_province="24").valid
    assert model.province_code == "24"
    assert province_of(model.commune_code) == "24"
    again = validate_batch(model.model_dump_json().encode(), now=NOW)
    assert again.valid == [model]


def test_ambiguous_legacy_commune_is_flagged_never_guessed() -> None:
    code = _legacy_commune("01", 2)
    candidates = legacy.tables().commune_to_2025[code]
    report = check(
        make_event("report_triaged", province_code="01", commune_code=code, code_regime="2004")
    )
    assert report.valid == []
    assert reasons(report) == [(0, "commune_code")]
    reason = report.rejected[0].reason
    assert "split into several 2025 communes" in reason
    assert all(f"{p}/{c}" in reason for p, c in candidates)
    with pytest.raises(legacy.AmbiguousUnitError) as caught:
        legacy.to_2025("01", code)
    assert caught.value.candidates == candidates


def test_legacy_commune_must_belong_to_its_legacy_province() -> None:
    code = _legacy_commune("27", 1)
    report = check(
        make_event("report_triaged", province_code="24", commune_code=code, code_regime="2004")
    )
    assert reasons(report) == [(0, "commune_code")]
    assert "(regime 2004)" in report.rejected[0].reason


@pytest.mark.parametrize(
    "overrides",
    [
        {"legacy_commune_code": "00001", "legacy_province_code": "02"},  # maps elsewhere
        {"legacy_commune_code": "00001"},  # half a pair
        {"legacy_province_code": "01"},  # the other half
        {"legacy_commune_code": "00001", "legacy_province_code": "01", "code_regime": "2004"},
    ],
)
def test_forged_legacy_origin_is_rejected(overrides: dict[str, str]) -> None:
    report = check(make_event("report_triaged", **overrides))
    assert report.valid == []
    assert reasons(report)[0][1] in {"legacy_commune_code", "code_regime", "commune_code"}


def test_every_legacy_commune_is_mapped_or_flagged() -> None:
    """All ~10,000 legacy communes: one successor -> mapped to it; several -> refused."""
    tables = legacy.tables()
    communes = sorted(tables.commune_province.items())
    for start in range(0, len(communes), 1000):
        chunk = communes[start : start + 1000]
        events = [
            make_event("report_triaged", province_code=p, commune_code=c, code_regime="2004")
            for c, p in chunk
        ]
        report = check(*events)
        valid = iter(report.valid)
        rejected = {r.index: r for r in report.rejected}
        for i, (commune, province) in enumerate(chunk):
            candidates = tables.commune_to_2025[commune]
            if len(candidates) == 1:
                event = next(valid)
                assert (event.province_code, event.commune_code) == candidates[0]
                assert event.legacy_commune_code == commune
                assert event.province_code == tables.province_to_2025[province]
                assert province_of(event.commune_code) == event.province_code
            else:
                assert "split into several 2025 communes" in rejected[i].reason
        assert next(valid, None) is None
