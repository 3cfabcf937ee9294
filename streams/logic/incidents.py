"""Incident state: what a crime report contributes through its state, whatever the order.

:func:`evaluate` is a pure function of an incident's *active* state-changing facts (received,
extended, resolved, resumed: ``facts.INCIDENT_KINDS``). It walks them in the order of
:func:`sort_key` (``occurred_at`` to the millisecond, then event type, then ``event_id``: the
order of the ClickHouse view ``incidents_current``), so a resolution that arrived before its
report, or a late extension, gives the same result as the in-order stream, and events at the
same instant are ordered as ClickHouse orders them. What a fact counts on its own
(``received``, ``resolved``, the decision...) is ``facts.direct_slots``; :class:`Derived`
holds the rest:

- ``cells``: ``{(commune, occurred_ts, slot): delta}``: per resolution, ``resolved`` under the
  report's crime group and ``resolved_on_time`` (both need the report);
- ``open``: ``(commune, due_day)`` when the report is open after all facts, else ``None``
  (``due_day``: the local day number of the due date in force);
- ``carry``: the period starts (day numbers) at which the report was carried over, i.e.
  received before that day and not resolved at the end of the day before.

The state module subtracts an incident's previous ``Derived`` and adds the new one whenever a
fact is added to or removed from it (arrival, correction).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from streams.logic.calendar import LocalCalendar
from streams.logic.facts import (
    EXTENDED,
    F_A,
    F_B,
    F_COMMUNE,
    F_ID,
    F_KIND,
    F_OCC,
    GROUP_RESOLVED,
    RECEIVED,
    RESOLVED,
    RESUMED,
    SLOT,
    Fact,
)
from streams.logic.rules import DueRules

CellKey = tuple[str, float, int]

_ON_TIME = SLOT["resolved_on_time"]


@dataclass
class Derived:
    cells: dict[CellKey, int] = field(default_factory=dict)
    open: tuple[str, int] | None = None
    carry: tuple[tuple[str, int], ...] = ()


EMPTY = Derived()


# Rank of each kind among a report's events at the same millisecond: the position of its
# event_type in the list of the ClickHouse view incidents_current (sinks/ddl/0008), indexed by
# kind (received, triaged, forwarded, extended, resolved, resumed; 0 for the other kinds, as
# ClickHouse's indexOf answers for a type not in the list).
RANK = (1, 2, 3, 4, 6, 5, 0, 0, 0)


def occurred_ms(fact: Fact) -> int:
    """``occurred_at`` as the sink stores it: milliseconds since the epoch, floored
    (``sinks.encode.ms_ticks``). A fact keeps ``datetime.timestamp()``, the float nearest to
    the whole number of microseconds over 10**6, so rounding ``ts * 10**6`` gives back those
    microseconds exactly (the error stays under 0.5 µs until the year 2106)."""
    return round(fact[F_OCC] * 1e6) // 1000


def sort_key(fact: Fact) -> tuple[int, int, str]:
    """The order of a report's events, the same live and in ClickHouse: ``occurred_at`` to
    the millisecond, then :data:`RANK` (received, extended, resumed, resolved), then the event
    id as text (the fact's hex sorts as ClickHouse's ``toString(event_id)``)."""
    return (round(fact[F_OCC] * 1e6) // 1000, RANK[fact[F_KIND]], fact[F_ID])


def evaluate(
    facts: list[Fact], cal: LocalCalendar, rules: DueRules, starts: Iterable[int]
) -> Derived:
    """Contribution of one incident; ``facts`` must be sorted by :func:`sort_key`."""
    for recv in facts:
        if recv[F_KIND] == RECEIVED:
            break
    else:
        return EMPTY  # a resolution waiting for its report counts only its own slots
    cells: dict[CellKey, int] = {}
    recv_day = cal.day(recv[F_OCC])
    due = rules.initial_due(recv_day)
    status: list[tuple[int, int]] = []  # (local day, kind) of resolutions and resumes
    group_slot = GROUP_RESOLVED[recv[F_A]]
    for f in facts:
        kind = f[F_KIND]
        if kind == RESOLVED:
            day = cal.day(f[F_OCC])
            status.append((day, kind))
            _bump(cells, f, group_slot)
            if day <= due:
                _bump(cells, f, _ON_TIME)
        elif kind == EXTENDED:
            due = rules.extend(recv[F_OCC], due, f[F_A], f[F_B])
        elif kind == RESUMED:
            status.append((cal.day(f[F_OCC]), kind))
            due = rules.resumed(f[F_OCC])
    commune = recv[F_COMMUNE]
    if not status:  # never resolved: open now and at every later period start
        return Derived(cells, (commune, due), tuple((commune, s) for s in starts if recv_day < s))
    open_entry = (commune, due) if _is_open(status, None) else None
    carry = tuple((commune, s) for s in starts if recv_day < s and _is_open(status, s))
    return Derived(cells, open_entry, carry)


@dataclass(frozen=True)
class Current:
    """One report's state after all its facts, in the terms of ClickHouse's
    ``incidents_current`` (``due_date``, ``is_open``, ``resolutions``); not on the hot path."""

    due_day: int | None  # local day number of the due date in force; None without a report
    is_open: bool
    resolutions: tuple[tuple[str, str, bool], ...]  # (event id, decision, on time), in order

    @property
    def decision(self) -> str:
        """The decision of the last resolution ('' when there is none), as the view's."""
        return self.resolutions[-1][1] if self.resolutions else ""


def current(facts: list[Fact], cal: LocalCalendar, rules: DueRules) -> Current:
    """The walk of :func:`evaluate` over ``facts`` (sorted by :func:`sort_key`), keeping the
    due date, the open flag and every resolution with its on-time flag."""
    for recv in facts:
        if recv[F_KIND] == RECEIVED:
            break
    else:  # no report: no due date, not open, no resolution on time
        return Current(None, False, tuple(
            (f[F_ID], f[F_A], False) for f in facts if f[F_KIND] == RESOLVED))
    due = rules.initial_due(cal.day(recv[F_OCC]))
    last = RECEIVED
    resolutions = []
    for f in facts:
        kind = f[F_KIND]
        if kind == RESOLVED:
            resolutions.append((f[F_ID], f[F_A], cal.day(f[F_OCC]) <= due))
            last = kind
        elif kind == EXTENDED:
            due = rules.extend(recv[F_OCC], due, f[F_A], f[F_B])
        elif kind == RESUMED:
            due = rules.resumed(f[F_OCC])
            last = kind
    return Current(due, last != RESOLVED, tuple(resolutions))


def inserted(
    facts: list[Fact],
    index: int,
    fact: Fact,
    cal: LocalCalendar,
    rules: DueRules,
    starts: Iterable[int],
) -> tuple[Derived, Derived] | None:
    """``(old, new)`` differing exactly as ``evaluate`` before and after ``fact`` goes in.

    ``index`` is where ``fact`` goes in the sorted ``facts``. Handled without re-evaluating:
    a resolution anywhere (it changes no due date, so no other fact's cells), an extension
    or a resumption after all other facts. ``old`` leaves the other facts' cells out and
    ``new`` holds only those of ``fact``; ``open`` and ``carry`` are complete in both. None
    for the other shapes (a report; a due date changed before a later resolution).
    """
    kind = fact[F_KIND]
    if kind == RECEIVED or (kind != RESOLVED and index < len(facts)):
        return None
    walked = _walk(facts, index, cal, rules)
    if walked is None:
        return EMPTY, EMPTY  # still no report: the fact counts only its own slots
    recv, recv_day, due, due_at, status, at = walked
    commune = recv[F_COMMUNE]
    old = _state_of(commune, recv_day, due, status, starts, {})
    cells: dict[CellKey, int] = {}
    if kind == RESOLVED:
        day = cal.day(fact[F_OCC])
        _bump(cells, fact, GROUP_RESOLVED[recv[F_A]])
        if day <= due_at:
            _bump(cells, fact, _ON_TIME)
        status.insert(at, (day, RESOLVED))
    elif kind == EXTENDED:
        due = rules.extend(recv[F_OCC], due, fact[F_A], fact[F_B])
    elif kind == RESUMED:
        status.append((cal.day(fact[F_OCC]), RESUMED))
        due = rules.resumed(fact[F_OCC])
    return old, _state_of(commune, recv_day, due, status, starts, cells)


def _state_of(
    commune: str,
    recv_day: int,
    due: int,
    status: list[tuple[int, int]],
    starts: Iterable[int],
    cells: dict[CellKey, int],
) -> Derived:
    is_open = not status or status[-1][1] != RESOLVED
    return Derived(cells, (commune, due) if is_open else None,
                   _carried(commune, recv_day, status, starts))


def _carried(
    commune: str, recv_day: int, status: list[tuple[int, int]], starts: Iterable[int]
) -> tuple[tuple[str, int], ...]:
    """The ``carry`` of :func:`evaluate` (as its ``_is_open`` per start, without calls)."""
    if not status:
        return tuple((commune, s) for s in starts if recv_day < s)
    out = []
    for start in starts:
        if start > recv_day:
            last = None
            for day, kind in status:
                if day >= start:
                    break
                last = kind
            if last != RESOLVED:
                out.append((commune, start))
    return tuple(out)


def _walk(
    facts: list[Fact], index: int, cal: LocalCalendar, rules: DueRules
) -> tuple[Fact, int, int, int, list[tuple[int, int]], int] | None:
    """``(report, its day, due day, due day before facts[index], status changes, how many
    of them before facts[index])`` of sorted facts; None without a report."""
    for recv in facts:
        if recv[F_KIND] == RECEIVED:
            break
    else:
        return None
    recv_day = cal.day(recv[F_OCC])
    due = due_at = rules.initial_due(recv_day)
    status: list[tuple[int, int]] = []
    at = 0
    for i, f in enumerate(facts):
        if i == index:
            due_at, at = due, len(status)
        kind = f[F_KIND]
        if kind == RESOLVED:
            status.append((cal.day(f[F_OCC]), kind))
        elif kind == EXTENDED:
            due = rules.extend(recv[F_OCC], due, f[F_A], f[F_B])
        elif kind == RESUMED:
            status.append((cal.day(f[F_OCC]), kind))
            due = rules.resumed(f[F_OCC])
    if index >= len(facts):
        due_at, at = due, len(status)
    return recv, recv_day, due, due_at, status, at


def _bump(cells: dict[CellKey, int], fact: Fact, slot: int) -> None:
    key = (fact[F_COMMUNE], fact[F_OCC], slot)
    cells[key] = cells.get(key, 0) + 1


def _is_open(status: list[tuple[int, int]], before_day: int | None) -> bool:
    """Open after the status changes on days before ``before_day`` (all if None)."""
    last = None
    for day, kind in status:
        if before_day is not None and day >= before_day:
            break
        last = kind
    return last != RESOLVED


def diff(old: Derived, new: Derived) -> dict[CellKey, int]:
    """Cell deltas that turn ``old`` into ``new`` (zeros dropped)."""
    out = dict(new.cells)
    for key, value in old.cells.items():
        left = out.get(key, 0) - value
        if left:
            out[key] = left
        else:
            out.pop(key, None)
    return out
