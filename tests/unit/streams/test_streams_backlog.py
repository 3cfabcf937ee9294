"""The incremental backlog against a brute-force count over every open report."""

from __future__ import annotations

import random

import pytest

from streams.logic.backlog import Backlog


def brute(open_reports: dict[str, tuple[str, int]], today: int) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for commune, due in open_reports.values():
        row = out.setdefault(commune, {"open": 0, "overdue": 0})
        row["open"] += 1
        row["overdue"] += due < today
    return out


@pytest.mark.parametrize("seed", range(5))
def test_backlog_equals_brute_force_under_random_changes_and_clock(seed: int) -> None:
    rng = random.Random(seed)
    backlog = Backlog()
    truth: dict[str, tuple[str, int]] = {}
    today = 739_000
    for step in range(4000):
        op = rng.random()
        iid = f"i{rng.randrange(600)}"
        if op < 0.55:  # open, or move to another commune / due date
            commune, due = f"c{rng.randrange(12)}", today + rng.randrange(-40, 40)
            if iid in truth:
                backlog.remove(truth[iid][0], iid)
            backlog.add(commune, iid, due)
            truth[iid] = (commune, due)
        elif op < 0.85 and iid in truth:
            backlog.remove(truth[iid][0], iid)
            del truth[iid]
        elif op < 0.95:  # the clock moves (also backwards: an as_of asked by a peer)
            today += rng.choice((1, 1, 2, 30, -1, -3))
        if step % 50 == 0 or op >= 0.95:
            want = brute(truth, today)
            assert backlog.per_commune(today) == want
            assert backlog.at(today) == {
                "open": sum(r["open"] for r in want.values()),
                "overdue": sum(r["overdue"] for r in want.values()),
            }


def test_remove_of_unknown_report_changes_nothing() -> None:
    backlog = Backlog()
    backlog.add("c1", "a", 10)
    backlog.remove("c1", "zzz")
    backlog.remove("c2", "a")
    assert backlog.at(11) == {"open": 1, "overdue": 1}
    assert backlog.at(10) == {"open": 1, "overdue": 0}
