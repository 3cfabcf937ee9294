"""The README's settings table names every setting, and only real ones."""

from __future__ import annotations

import re
from pathlib import Path

from antt.settings import Settings

README = Path(__file__).resolve().parents[3] / "README.md"


def test_readme_lists_exactly_the_settings():
    names = {f"ANTT_{name.upper()}" for name in Settings.model_fields}
    documented = set(re.findall(r"ANTT_[A-Z0-9_]+", README.read_text()))
    assert documented - names == set(), "README names settings that do not exist"
    assert names - documented == set(), "settings missing from the README"
