"""State retention: which facts leave memory, and the frozen counters that replace them.

Every accepted fact used to stay in memory (and in the checkpoint) forever, for dedup,
corrections and incident evaluation. With an *acceptance window* of ``W`` days a province
keeps a *horizon* ``H`` (a time stamp, ``now - W`` when it was last moved; it only moves
forward, and only together with a snapshot, see ``streams/checkpoint.py``):

- **eviction** (:func:`evict`): a fact leaves memory when it can no longer matter. That is a
  fact recorded and occurred before ``H`` that takes part in no correction (it neither names
  an event nor is named), and, for a report's state-changing facts (received, extended,
  resolved, resumed), only the whole report together: received, finally closed (not open),
  and not carried over at any current period start. Everything else stays, however old:
  open reports, reports still carried over into this year, correction pairs.
- **frozen layer** (:class:`Frozen`): what the evicted facts contribute to the counters
  (per commune and province, per day and month, and how many were counted). It is computed
  by feeding exactly the evicted facts to a scratch ``ProvinceState``: an evicted report is
  closed and carried over nowhere, so its contribution is a fixed set of cells that never
  changes with the clock (with ``W`` above 35 days every new period start is after ``H``).
  The live state keeps its counters as they are; the frozen layer is what a snapshot stores
  so that a restore = frozen layer + replay of the kept facts gives the same counters.
- **acceptance** (``Runtime``): an arriving event recorded before ``H`` whose ``event_id`` is
  not in memory cannot be told apart from a resend of an evicted fact, so it is not counted
  live: it is dead-lettered ("recorded before the live acceptance window"); ClickHouse stores
  it and stays authoritative. A correction recorded inside the window that names an evicted
  fact is counted, but cannot retract the frozen original; an event inside the window for a
  report whose facts were evicted counts its own figures but does not change that report's
  state (see docs/live-api.md).

Pure logic: no Kafka, time is a parameter. Eviction also comes cut into steps
(:func:`evict_steps`, a generator; :data:`Steps`), so that the worker can let its event loop
run between them while it snapshots a big province (``streams/snapshots.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from streams.logic import incidents as inc
from streams.logic.calendar import LocalCalendar
from streams.logic.facts import (
    F_CORRECTS,
    F_ID,
    F_INCIDENT,
    F_KIND,
    F_OCC,
    F_REC,
    INCIDENT_KINDS,
    RECEIVED,
    Fact,
)
from streams.logic.state import ProvinceState

T = TypeVar("T")
Steps = Generator[Callable[[], Any] | None, Any, T]
"""Work cut into steps: a generator that yields ``None`` where the event loop may run in
between, or a callable (pure CPU work that releases the GIL: zlib, hashlib) to be run and
its result sent back; it returns its value at the end (see :func:`drive`)."""
SLICE = 500  # facts per step: a few milliseconds at most

DAY_S = 86_400.0
MIN_WINDOW_DAYS = 40  # > the longest period that can start after the horizon (a month)


@dataclass
class Frozen:
    """Counters contributed by evicted facts (same layout as ``ProvinceState``'s)."""

    day_cells: dict[tuple[str, int], list[int]] = field(default_factory=dict)
    month_cells: dict[tuple[str, int], list[int]] = field(default_factory=dict)
    prov_day: dict[int, list[int]] = field(default_factory=dict)
    prov_month: dict[int, list[int]] = field(default_factory=dict)
    counted: int = 0
    newest_recorded_ts: float | None = None

    def add(self, scratch: ProvinceState) -> None:
        for mine, theirs in ((self.day_cells, scratch.day_cells),
                             (self.month_cells, scratch.month_cells),
                             (self.prov_day, scratch.prov_day),
                             (self.prov_month, scratch.prov_month)):
            _add_rows(mine, theirs)
        self.counted += scratch.events_counted
        newest = scratch.newest_recorded_ts
        if newest is not None and (self.newest_recorded_ts is None
                                   or newest > self.newest_recorded_ts):
            self.newest_recorded_ts = newest

    def install(self, state: ProvinceState, now_ts: float) -> None:
        """Put the frozen counters into a fresh state (before its kept facts are replayed)."""
        for theirs, mine in ((state.day_cells, self.day_cells),
                             (state.month_cells, self.month_cells),
                             (state.prov_day, self.prov_day),
                             (state.prov_month, self.prov_month)):
            _add_rows(theirs, mine)
        state.events_counted += self.counted
        if self.newest_recorded_ts is not None:
            state.newest_recorded_ts = self.newest_recorded_ts
            state.lag_s = max(0.0, now_ts - self.newest_recorded_ts)

    def to_json(self) -> dict[str, Any]:
        return {
            # copies of the rows: a snapshot encodes them while the event loop runs
            "day": [[c, d, list(row)] for (c, d), row in self.day_cells.items()],
            "month": [[c, m, list(row)] for (c, m), row in self.month_cells.items()],
            "prov_day": [[d, list(row)] for d, row in self.prov_day.items()],
            "prov_month": [[m, list(row)] for m, row in self.prov_month.items()],
            "counted": self.counted,
            "newest": self.newest_recorded_ts,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Frozen:
        return cls(
            {(c, d): row for c, d, row in data["day"]},
            {(c, m): row for c, m, row in data["month"]},
            {d: row for d, row in data["prov_day"]},
            {m: row for m, row in data["prov_month"]},
            int(data["counted"]),
            data["newest"],
        )


def _add_rows(into: dict[Any, list[int]], rows: dict[Any, list[int]]) -> None:
    for key, row in rows.items():
        acc = into.get(key)
        if acc is None:
            into[key] = list(row)
        else:
            for i, v in enumerate(row):
                if v:
                    acc[i] += v


def drive(steps: Steps[T]) -> T:
    """Run ``steps`` to the end at once; what it returns. A step that yields a callable
    gets the callable's result sent back (the asynchronous driver, ``streams/snapshots.py``,
    runs those in a thread and lets the event loop run at the other yields)."""
    result: Any = None
    try:
        while True:
            item = steps.send(result)
            result = item() if callable(item) else None
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


def horizon_at(now_ts: float, window_days: float) -> float:
    """The acceptance horizon ``window_days`` before ``now_ts`` (-inf: no window)."""
    return now_ts - window_days * DAY_S if window_days > 0 else float("-inf")


def period_starts(cal: LocalCalendar, at_ts: float) -> tuple[int, ...]:
    """The period starts (local day numbers) in force at ``at_ts``, as ``ProvinceState``'s."""
    return tuple(sorted({p.start for p in cal.periods(at_ts).values()}))


def evictable(state: ProvinceState, horizon: float, starts: tuple[int, ...]) -> list[Fact]:
    """The facts of ``state`` that may leave memory at ``horizon`` (see the module doc);
    ``starts``: the period starts at which an evicted report must not be carried over."""
    return drive(evictable_steps(state, horizon, starts))


def evictable_steps(
    state: ProvinceState, horizon: float, starts: tuple[int, ...]
) -> Steps[list[Fact]]:
    """:func:`evictable` in slices of :data:`SLICE` facts (reads ``state``, changes nothing)."""
    corrected = state.corrected
    out: list[Fact] = []
    done: set[str] = set()
    facts = list(state.registry.values())
    for i in range(0, len(facts), SLICE):
        for fact in facts[i : i + SLICE]:
            if not _old_and_free(fact, horizon, corrected):
                continue
            if fact[F_KIND] not in INCIDENT_KINDS:
                out.append(fact)
                continue
            iid = fact[F_INCIDENT]
            if iid in done:
                continue
            done.add(iid)
            incident = state.incidents.get(iid)
            if incident and _incident_closed(state, incident, horizon, starts):
                out.extend(incident)
        yield None
    return out


def _old_and_free(fact: Fact, horizon: float, corrected: set[str]) -> bool:
    return (fact[F_REC] < horizon and fact[F_OCC] < horizon and fact[F_CORRECTS] is None
            and fact[F_ID] not in corrected)


def _incident_closed(
    state: ProvinceState, facts: list[Fact], horizon: float, starts: tuple[int, ...]
) -> bool:
    if not any(f[F_KIND] == RECEIVED for f in facts):
        return False  # its report may still come
    if not all(_old_and_free(f, horizon, state.corrected) for f in facts):
        return False
    derived = inc.evaluate(facts, state.cal, state.rules, starts)
    return derived.open is None and not derived.carry


def evict(
    state: ProvinceState, horizon: float, window_days: float, frozen: Frozen, now_ts: float
) -> int:
    """Move the evictable facts out of ``state`` into ``frozen``; returns how many.

    The state's counters are left as they are (they already include those facts); only
    the facts go (``registry``, ``incidents``). The carried-over check uses the period
    starts of the moment the horizon was set for (``horizon + window``, not before
    ``now_ts``): every later period start is after the horizon, so an evicted report,
    closed before it, is carried over at none of them either.
    """
    return drive(evict_steps(state, horizon, window_days, frozen, now_ts))


def evict_steps(
    state: ProvinceState, horizon: float, window_days: float, frozen: Frozen, now_ts: float
) -> Steps[int]:
    """:func:`evict` in slices. Between slices nothing else may change ``state``'s facts
    (the worker holds the partition's lock); its counters stay as they are throughout, and
    ``frozen`` changes in one step, before the first fact leaves."""
    starts = period_starts(state.cal, max(now_ts, horizon + window_days * DAY_S))
    facts = yield from evictable_steps(state, horizon, starts)
    if not facts:
        return 0
    scratch = ProvinceState(state.code, state.cal, state.rules)
    for i in range(0, len(facts), SLICE):
        scratch.apply_many(facts[i : i + SLICE], now_ts)
        yield None
    frozen.add(scratch)
    del scratch
    count = len(facts)
    registry, incidents = state.registry, state.incidents
    while facts:  # from the end, so that the facts are freed a slice at a time too
        for fact in facts[-SLICE:]:
            del registry[fact[F_ID]]
            if fact[F_KIND] in INCIDENT_KINDS:
                incidents.pop(fact[F_INCIDENT], None)
        del facts[-SLICE:]
        yield None
    return count


def contribution(facts: Iterable[Fact], like: ProvinceState, now_ts: float) -> ProvinceState:
    """A scratch state (the province, calendar and rules of ``like``) fed exactly ``facts``."""
    scratch = ProvinceState(like.code, like.cal, like.rules)
    scratch.apply_many(list(facts), now_ts)
    return scratch
