"""Static checks of the page's files: texts in both languages, no external resource, config."""

from __future__ import annotations

import json
import re
import unicodedata

import pytest

from streams.screen.views import ASSETS, PACKAGE_DIR, STATIC_DIR

I18N = json.loads((STATIC_DIR / "i18n.json").read_text(encoding="utf-8"))
CONFIG = json.loads((PACKAGE_DIR / "config.json").read_text(encoding="utf-8"))
HTML = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
JS = {p.name: p.read_text(encoding="utf-8") for p in STATIC_DIR.glob("*.js")}


def test_every_served_file_exists_and_is_utf8() -> None:
    for path, _ctype in ASSETS.values():
        path.read_bytes().decode("utf-8")


def test_both_languages_have_the_same_keys() -> None:
    assert set(I18N["vi"]) == set(I18N["en"])


def test_vietnamese_texts_carry_their_diacritics_in_nfc() -> None:
    vi = I18N["vi"]
    for key, text in vi.items():
        assert unicodedata.normalize("NFC", text) == text, key
    assert vi["received"] == "Tiếp nhận tố giác, tin báo"
    assert vi["clearance_rate"] == "Tỷ lệ điều tra, khám phá"
    assert vi["national"] == "Toàn quốc"
    accented = sum(1 for t in vi.values() if any(ord(ch) > 127 for ch in t))
    assert accented > len(vi) * 0.8


def test_every_text_key_the_page_uses_exists() -> None:
    used = set(re.findall(r'data-i18n="([a-z_]+)"', HTML))
    for source in JS.values():
        used |= set(re.findall(r"(?<![\"'])\btr\.([a-z_]+)", source))  # not CSS "tr.drill"
        ids = set(re.findall(r'\{ id: "([a-z_]+)"', source)) - {"name", "code"}
        used |= {"col_" + c for c in ids}
    assert used, "no text keys found: the check itself is broken"
    assert used <= set(I18N["vi"]), used - set(I18N["vi"])


@pytest.mark.parametrize("name", ["index.html", *sorted(JS)])
def test_nothing_is_fetched_from_outside_the_worker(name: str) -> None:
    text = HTML if name == "index.html" else JS[name]
    assert not re.search(r"https?://|//cdn|@import", text), name
    for ref in re.findall(r'(?:src|href)="([^"]+)"', text):
        assert ref.startswith(("/screen/", "#", "data:")), ref


def test_html_declares_utf8_first() -> None:
    head = HTML[: HTML.index("<title>")]
    assert '<meta charset="utf-8">' in head


def test_targets_are_fractions_with_margins() -> None:
    targets = CONFIG["targets"]
    assert set(targets) == {"resolution_rate", "on_time_rate", "clearance_rate"}
    for target in targets.values():
        assert 0 < target["target"] <= 1
        assert set(target["periods"]) <= {"today", "stat_month", "month", "ytd"}
        assert 0 <= target["warn_margin"] < target["target"]
    fresh = CONFIG["freshness"]
    assert fresh["disconnected_after_s"] >= 2, "must survive one missed push"
    assert fresh["stale_event_age_s"] > fresh["disconnected_after_s"]
    assert CONFIG["default_table_period"] in {"today", "stat_month", "month", "ytd"}
