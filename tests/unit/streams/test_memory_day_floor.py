"""Commune day rows before the read side's first day are not kept (streams/logic/state.py).

Every figure must stay the same: the summaries (what the live API renders) of a state with the
floor equal those of a state that keeps every day row, fed the same facts at the same clock
readings, including when the clock moves on and the floor rises; and the floor must really
drop rows (else the memory it is for is not saved).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st
from test_streams_state_fastpath import random_facts

from streams.logic.calendar import LocalCalendar, Period
from streams.logic.state import ProvinceState
from streams.logic.view import province_summary

ICT = timezone(timedelta(hours=7))
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=ICT).timestamp()  # stat month from the 15th
DAY = 86_400


class KeepAllDays(ProvinceState):
    """The reference: every commune day row kept, as before the floor."""

    @staticmethod
    def day_floor_at(periods: dict[str, Period]) -> int:
        return 0


def fed(cls: type[ProvinceState], facts: list[tuple], rng: random.Random,
        clocks: list[float]) -> ProvinceState:
    """``facts`` in random batches, each applied at the next of ``clocks`` (non-decreasing)."""
    state = cls("01", LocalCalendar())
    i = 0
    for now in clocks:
        size = rng.randint(1, 12)
        state.apply_many(facts[i : i + size], now)
        i += size
    state.apply_many(facts[i:], clocks[-1])
    return state


def shifted(facts: list[tuple], seconds: float) -> list[tuple]:
    return [(*f[:5], f[5] + seconds, f[6] + seconds, *f[7:]) for f in facts]


@settings(max_examples=80, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(1, 12),
       st.sampled_from((0, 8, 10, 30)), st.sampled_from((0, -8 * DAY, -20 * DAY)))
def test_summaries_equal_with_and_without_the_floor(
    rng: random.Random, n_incidents: int, days_of_clock: int, shift: float
) -> None:
    # Facts around NOW + shift (shift -8 days: "now" is the 14th, the statistical month
    # started in the month before); the clock runs from ``days_of_clock`` days before the
    # end up to it, so the floor rises while facts arrive.
    end = NOW + shift
    facts = shifted(random_facts(rng, n_incidents), shift)
    clocks = sorted(end - rng.uniform(0, days_of_clock) * DAY for _ in range(len(facts)))
    seed = rng.random()
    state = fed(ProvinceState, facts, random.Random(seed), clocks)
    reference = fed(KeepAllDays, facts, random.Random(seed), clocks)
    for at in (end, end + 3 * DAY, end + 40 * DAY):
        assert province_summary(state, at, detail=True) == province_summary(
            reference, at, detail=True)
        assert all(day >= state.day_floor for _, day in state.day_cells)


def test_the_floor_drops_the_rows_nobody_reads() -> None:
    rng = random.Random(4)
    facts = random_facts(rng, 40)  # days 0, 1, 2, 7, 20, 23, 40 and 75 before NOW
    state = fed(ProvinceState, facts, random.Random(1), [NOW] * len(facts))
    reference = fed(KeepAllDays, facts, random.Random(1), [NOW] * len(facts))
    floor = ProvinceState.day_floor_at(state.cal.periods(NOW))
    assert state.day_floor == floor == state.cal.day(NOW) - 7  # the 15th
    kept = {k: v for k, v in reference.day_cells.items() if k[1] >= floor}
    assert state.day_cells == kept
    assert len(kept) < len(reference.day_cells)
    # A clock a month on: the floor rises and the rows below it go.
    later = NOW + 31 * DAY
    state.tick(later)
    assert state.day_floor == ProvinceState.day_floor_at(state.cal.periods(later)) > floor
    assert all(day >= state.day_floor for _, day in state.day_cells)
