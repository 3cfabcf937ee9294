"""The known-id cache: per (province, date) sets, bounded, forgettable."""

from __future__ import annotations

from datetime import date

from sinks.known import KnownIds

D1, D2, D3 = date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22)


def test_missing_pairs_are_asked_for_once() -> None:
    known = KnownIds()
    assert known.missing([("01", D1), ("01", D1), ("79", D2)]) == [("01", D1), ("79", D2)]
    known.load(("01", D1), ["a", "b"])
    assert known.missing([("01", D1), ("79", D2)]) == [("79", D2)]
    assert known.contains(("01", D1), "a") and not known.contains(("01", D1), "c")
    assert not known.contains(("79", D2), "a")  # not loaded: unknown, never "stored"


def test_added_ids_count_and_size_stays_exact() -> None:
    known = KnownIds()
    known.load(("01", D1), ["a"])
    known.add(("01", D1), "b")
    known.add(("01", D1), "b")
    known.add(("79", D2), "z")  # pair not loaded: ignored (it will be loaded from ClickHouse)
    assert known.size == 2 and known.contains(("01", D1), "b")
    known.forget([("01", D1)])
    assert known.size == 0 and known.missing([("01", D1)]) == [("01", D1)]


def test_least_recently_used_pairs_are_dropped_beyond_the_bound() -> None:
    known = KnownIds(max_ids=4)
    known.load(("01", D1), ["a", "b"])
    known.load(("01", D2), ["c", "d"])
    assert known.contains(("01", D1), "a")  # D1 is now the most recently used
    known.load(("01", D3), ["e"])
    assert known.size <= 4
    assert known.missing([("01", D1), ("01", D2), ("01", D3)]) == [("01", D2)]
    known.clear()
    assert known.size == 0 and not known.pairs
