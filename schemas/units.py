"""Administrative units: the 34 provinces and 3,321 commune-level units in force since 2025-07-01.

Built from the ``vietnam-provinces`` package (official codes, Decision 19/2025/QĐ-TTg); legacy
(code regime 2004) lookups are in :mod:`schemas.legacy` and load only when first needed.
Lookups are plain dicts and frozensets so that the validator's per-event cost stays tiny.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TypeVar

from vietnam_provinces import Province, Ward

from schemas.enums import CodeRegime

_T = TypeVar("_T")


def _code2(value: int) -> str:
    return f"{int(value):02d}"


def _code5(value: int) -> str:
    return f"{int(value):05d}"


_PROVINCE_NAMES: dict[str, str] = {_code2(p.code): p.name for p in Province.iter_all()}
_COMMUNE_NAMES: dict[str, str] = {_code5(w.code): w.name for w in Ward.iter_all()}
_COMMUNE_PROVINCE: dict[str, str] = {
    _code5(w.code): _code2(w.province_code) for w in Ward.iter_all()
}

PROVINCES: tuple[str, ...] = tuple(sorted(_PROVINCE_NAMES))
"""The 34 province codes in force since 2025-07-01, sorted."""
COMMUNES: frozenset[str] = frozenset(_COMMUNE_NAMES)
"""All 3,321 commune-level unit codes (communes, wards, special zones)."""
COMMUNE_PROVINCE = MappingProxyType(_COMMUNE_PROVINCE)
"""commune code -> province code (2025 regime)."""
province_or_none = _COMMUNE_PROVINCE.get
"""``province_or_none(commune_code)``: the 2025 province, or ``None`` (a bare dict lookup)."""

_COMMUNES_OF: dict[str, list[str]] = {code: [] for code in PROVINCES}
for _commune, _province in sorted(_COMMUNE_PROVINCE.items()):
    _COMMUNES_OF[_province].append(_commune)


class UnitError(ValueError):
    """A code is unknown, mismatched, or (legacy) cannot be mapped without guessing.

    ``path`` names the offending field of an event (``province_code`` or ``commune_code``).
    """

    def __init__(self, message: str, path: str = "commune_code") -> None:
        super().__init__(message)
        self.path = path


def _lookup(table: Mapping[str, _T], code: str, what: str) -> _T:
    try:
        return table[code]
    except KeyError:
        raise UnitError(f"unknown {what} code {code!r}") from None


def province_name(code: str) -> str:
    """Official name of a 2025 province, e.g. ``province_name("15") == "Lào Cai"``."""
    return _lookup(_PROVINCE_NAMES, code, "province")


def commune_name(code: str) -> str:
    """Official name of a 2025 commune-level unit (xã, phường or đặc khu)."""
    return _lookup(_COMMUNE_NAMES, code, "commune")


def communes_of(province_code: str) -> list[str]:
    """Sorted commune codes of a 2025 province (a fresh list)."""
    return list(_lookup(_COMMUNES_OF, province_code, "province"))


def province_of(commune_code: str) -> str:
    """The 2025 province a 2025 commune belongs to."""
    return _lookup(_COMMUNE_PROVINCE, commune_code, "commune")


def check_codes(
    province: str,
    commune: str,
    regime: str,
    legacy_province: str | None = None,
    legacy_commune: str | None = None,
) -> None:
    """Raise :class:`UnitError` unless the codes name real units that belong together."""
    if regime == CodeRegime.R2025:
        owner = _COMMUNE_PROVINCE.get(commune)
        if owner == province:
            if legacy_province is None and legacy_commune is None:
                return
            _check_legacy_origin(province, commune, legacy_province, legacy_commune)
            return
        if province not in _PROVINCE_NAMES:
            raise UnitError(f"unknown province code {province!r} (regime 2025)", "province_code")
        if owner is None:
            raise UnitError(f"unknown commune code {commune!r} (regime 2025)")
        raise UnitError(f"commune {commune} belongs to province {owner}, not {province}")
    if legacy_province is not None or legacy_commune is not None:
        raise UnitError("legacy_* codes are only allowed with code_regime 2025", "code_regime")
    from schemas import legacy

    legacy.to_2025(province, commune)


def _check_legacy_origin(
    province: str, commune: str, legacy_province: str | None, legacy_commune: str | None
) -> None:
    from schemas import legacy

    if legacy_province is None or legacy_commune is None:
        raise UnitError(
            "legacy_province_code and legacy_commune_code go together", "legacy_commune_code"
        )
    mapped = legacy.to_2025(legacy_province, legacy_commune)
    if mapped != (province, commune):
        raise UnitError(
            f"legacy unit {legacy_province}/{legacy_commune} maps to {mapped[0]}/{mapped[1]}, "
            f"not {province}/{commune}",
            "legacy_commune_code",
        )
