"""Comparing a live-API answer with the simulator's truth, key by key.

Missing counters on either side count as zero (an API may leave out empty groups or
communes); fields the truth cannot know (``as_of``, ``freshness``, ``last_hour``) are skipped.
"""

from __future__ import annotations

from typing import Any

SKIPPED = frozenset({"as_of", "freshness", "last_hour", "meta"})


def _is_zero(value: Any) -> bool:
    if value is None or value == 0:
        return True
    if isinstance(value, dict):
        return all(_is_zero(v) for k, v in value.items() if k not in ("start", "end", "name",
                                                                         "code"))
    if isinstance(value, list):
        return all(_is_zero(v) for v in value)
    return False


def compare(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Differences as ``"path: expected X, got Y"`` lines; empty when they agree."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        diffs: list[str] = []
        for key in sorted(set(expected) | set(actual)):
            if key in SKIPPED:
                continue
            sub = f"{path}.{key}" if path else str(key)
            if key not in actual:
                if not _is_zero(expected[key]):
                    diffs.append(f"{sub}: expected {expected[key]!r}, missing")
            elif key not in expected:
                if not _is_zero(actual[key]):
                    diffs.append(f"{sub}: unexpected {actual[key]!r}")
            else:
                diffs += compare(expected[key], actual[key], sub)
        return diffs
    if isinstance(expected, list) and isinstance(actual, list) and _keyed(expected + actual):
        return compare(_by_code(expected), _by_code(actual), path)
    if isinstance(expected, float) or isinstance(actual, float):
        if expected is None or actual is None or abs(float(expected) - float(actual)) > 5e-5:
            if expected != actual:
                return [f"{path}: expected {expected!r}, got {actual!r}"]
        return []
    return [] if expected == actual else [f"{path}: expected {expected!r}, got {actual!r}"]


def _keyed(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(i, dict) and "code" in i for i in items)


def _by_code(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {str(i["code"]): i for i in items}
