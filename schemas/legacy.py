"""Legacy (code regime 2004) units and their mapping to the 2025 units.

Source: the ``vietnamadminunits`` package (its SQLite dataset of the 63-province units and its
2025 conversion tables). A legacy commune maps to a 2025 commune only when the package lists
exactly one successor; an old unit split across several new ones is *ambiguous* and is reported
with its candidates, never guessed (the package's own "default ward" heuristic is not used).
Loaded once, on first use.

The two packages disagree on about 120 of the 3,321 new commune codes (same unit, different
code). ``vietnam-provinces`` carries the official codes, so every successor named by
``vietnamadminunits`` is re-identified by (province, name) in ``vietnam-provinces``; names are
compared with tone marks, apostrophes and dashes normalised ("Hòa" = "Hoà", "M'gar" = "M’gar").
"""

from __future__ import annotations

import importlib.util
import json
import sqlite3
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from schemas import units
from schemas.units import UnitError


def _data_dir() -> Path:
    """The package's data folder, found without importing it.

    Importing ``vietnamadminunits`` pulls in its address parser (numpy, shapely, geopy...):
    over a second of start-up for every process that imports the validator. Only its data
    files are used here.
    """
    spec = importlib.util.find_spec("vietnamadminunits")
    if spec is None or spec.origin is None:
        raise ImportError("the vietnamadminunits package is not installed")
    return Path(spec.origin).parent / "data"


_DATA = _data_dir()


@dataclass(frozen=True)
class LegacyTables:
    """Everything the mapping needs, keyed by legacy codes."""

    province_names: dict[str, str]  # legacy province code -> name
    commune_province: dict[str, str]  # legacy commune code -> legacy province code
    commune_names: dict[str, str]
    province_to_2025: dict[str, str]  # legacy province code -> 2025 province code
    commune_to_2025: dict[str, tuple[tuple[str, str], ...]]  # legacy commune -> candidates


class AmbiguousUnitError(UnitError):
    """A legacy commune was split across several 2025 communes."""

    def __init__(self, commune: str, candidates: tuple[tuple[str, str], ...]) -> None:
        self.commune = commune
        self.candidates = candidates
        names = ", ".join(f"{p}/{c}" for p, c in candidates)
        super().__init__(
            f"legacy commune {commune} (regime 2004) was split into several 2025 communes "
            f"({names}); send the 2025 code instead"
        )


def _rows(sql: str) -> list[tuple[str, ...]]:
    uri = f"file:{_DATA / 'dataset.db'}?mode=ro"
    with sqlite3.connect(uri, uri=True) as conn:
        return conn.execute(sql).fetchall()


@cache
def tables() -> LegacyTables:
    """Build the legacy lookups (about a second; cached for the process)."""
    converter = json.loads((_DATA / "converter_2025.json").read_text(encoding="utf-8"))
    new_rows = _rows("SELECT provinceKey, wardKey, provinceCode, wardCode, ward FROM admin_units")
    new_province = {pk: pc for pk, _wk, pc, _wc, _wn in new_rows}
    official = _official_codes()
    new_ward = {
        (pk, wk): (pc, official[(pc, name_key(wn))])
        for pk, wk, pc, _wc, wn in new_rows
        if (pc, name_key(wn)) in official
    }
    old_rows = _rows(
        "SELECT provinceKey, districtKey, wardKey, provinceCode, wardCode, province, ward "
        "FROM admin_units_legacy WHERE wardCode IS NOT NULL AND wardCode != ''"
    )
    old_province_key = {pk: pc for pk, _dk, _wk, pc, _wc, _pn, _wn in old_rows}
    province_to_2025: dict[str, str] = {}
    for new_key, old_keys in converter["DICT_PROVINCE"].items():
        for old_key in old_keys:
            if old_key in old_province_key:
                province_to_2025[old_province_key[old_key]] = new_province[new_key]
    successors = _successors(converter, new_ward)
    commune_to_2025: dict[str, tuple[tuple[str, str], ...]] = {}
    for pk, dk, wk, _pc, wc, _pn, _wn in old_rows:
        found = successors.get(f"{pk}_{dk}_{wk}")
        if found:
            commune_to_2025[wc] = tuple(sorted(found))
    return LegacyTables(
        province_names={pc: pn for _pk, _dk, _wk, pc, _wc, pn, _wn in old_rows},
        commune_province={wc: pc for _pk, _dk, _wk, pc, wc, _pn, _wn in old_rows},
        commune_names={wc: wn for _pk, _dk, _wk, _pc, wc, _pn, wn in old_rows},
        province_to_2025=province_to_2025,
        commune_to_2025=commune_to_2025,
    )


_TONES = frozenset("\u0300\u0301\u0303\u0309\u0323")  # huyền, sắc, ngã, hỏi, nặng
_PUNCT = str.maketrans({"’": "'", "‘": "'", "–": "-", "—": "-"})


def name_key(name: str) -> str:
    """A unit name with old/new tone placement, apostrophes, dashes and case normalised."""
    words = []
    for word in unicodedata.normalize("NFD", name.translate(_PUNCT).lower()).split():
        tones = "".join(ch for ch in word if ch in _TONES)
        bare = unicodedata.normalize("NFC", "".join(ch for ch in word if ch not in _TONES))
        words.append(bare + tones)
    return " ".join(words)


def _official_codes() -> dict[tuple[str, str], str]:
    """(2025 province code, name key) -> official commune code (vietnam-provinces)."""
    return {
        (units.province_of(code), name_key(units.commune_name(code))): code
        for code in units.COMMUNES
    }


def _successors(
    converter: dict, new_ward: dict[tuple[str, str], tuple[str, str]]
) -> dict[str, set[tuple[str, str]]]:
    """old "province_district_ward" key -> set of 2025 (province, commune) codes."""
    found: dict[str, set[tuple[str, str]]] = {}
    for new_pk, wards in converter["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for new_wk, old_keys in wards.items():
            target = new_ward.get((new_pk, new_wk))
            if target is not None:
                for old_key in old_keys:
                    found.setdefault(old_key, set()).add(target)
    for new_pk, divided in converter["DICT_PROVINCE_WARD_DIVIDED"].items():
        for old_key, parts in divided.items():
            for part in parts:
                target = new_ward.get((new_pk, part["newWardKey"]))
                if target is not None:
                    found.setdefault(old_key, set()).add(target)
    return found


def to_2025(province: str, commune: str) -> tuple[str, str]:
    """Map a legacy (province, commune) pair to the 2025 pair, or raise :class:`UnitError`."""
    t = tables()
    owner = t.commune_province.get(commune)
    if province not in t.province_names:
        raise UnitError(f"unknown province code {province!r} (regime 2004)", "province_code")
    if owner is None:
        raise UnitError(f"unknown commune code {commune!r} (regime 2004)")
    if owner != province:
        raise UnitError(
            f"commune {commune} belongs to province {owner}, not {province} (regime 2004)"
        )
    candidates = t.commune_to_2025.get(commune, ())
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise UnitError(f"legacy commune {commune} (regime 2004) has no known 2025 successor")
    raise AmbiguousUnitError(commune, candidates)


def province_to_2025(province: str) -> str:
    """The 2025 province a whole legacy province was merged into (always unambiguous)."""
    try:
        return tables().province_to_2025[province]
    except KeyError:
        raise UnitError(f"unknown province code {province!r} (regime 2004)") from None
