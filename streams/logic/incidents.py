"""Incident state: what a crime report's lifecycle facts contribute, whatever order they came in.

:func:`evaluate` is a pure function of an incident's *active* lifecycle facts (received,
triaged, forwarded, extended, resolved, resumed). It walks them in ``occurred_at`` order, so a
resolution that arrived before its report, or a late extension, gives the same result as the
in-order stream. The result (:class:`Derived`) holds

- ``cells``: ``{(commune, occurred_ts, slot): delta}`` for the period counters (received,
  triage outcomes, resolutions, ``resolved_on_time`` and the per-group/per-source splits);
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
    DECISION_SLOT,
    EXTENDED,
    F_A,
    F_B,
    F_COMMUNE,
    F_KIND,
    F_OCC,
    F_POS,
    F_REC,
    GROUP_RECEIVED,
    GROUP_RESOLVED,
    RECEIVED,
    RESOLVED,
    RESUMED,
    SLOT,
    SOURCE_RECEIVED,
    TRIAGE_SLOT,
    TRIAGED,
    Fact,
)
from streams.logic.rules import DueRules

CellKey = tuple[str, float, int]

_RECEIVED = SLOT["received"]
_RESOLVED = SLOT["resolved"]
_ON_TIME = SLOT["resolved_on_time"]


@dataclass
class Derived:
    cells: dict[CellKey, int] = field(default_factory=dict)
    open: tuple[str, int] | None = None
    carry: tuple[tuple[str, int], ...] = ()


EMPTY = Derived()


def sort_key(fact: Fact) -> tuple[float, float, int]:
    return (fact[F_OCC], fact[F_REC], fact[F_POS])


def evaluate(
    facts: list[Fact], cal: LocalCalendar, rules: DueRules, starts: Iterable[int]
) -> Derived:
    """Contribution of one incident; ``facts`` must be sorted by :func:`sort_key`."""
    cells: dict[CellKey, int] = {}
    recv = next((f for f in facts if f[F_KIND] == RECEIVED), None)
    due = rules.initial_due(recv[F_OCC]) if recv is not None else None
    for f in facts:
        kind = f[F_KIND]
        where = (f[F_COMMUNE], f[F_OCC])
        if kind == RECEIVED:
            _bump(cells, where, _RECEIVED)
            _bump(cells, where, GROUP_RECEIVED[f[F_A]])
            _bump(cells, where, SOURCE_RECEIVED[f[F_B]])
        elif kind == TRIAGED:
            _bump(cells, where, TRIAGE_SLOT[f[F_A]])
        elif kind == RESOLVED:
            _bump(cells, where, _RESOLVED)
            _bump(cells, where, DECISION_SLOT[f[F_A]])
            if recv is not None and due is not None:
                _bump(cells, where, GROUP_RESOLVED[recv[F_A]])
                if cal.day(f[F_OCC]) <= due:
                    _bump(cells, where, _ON_TIME)
        elif recv is not None and due is not None:
            if kind == EXTENDED:
                due = rules.extend(recv[F_OCC], due, f[F_A], f[F_B])
            elif kind == RESUMED:
                due = rules.resumed(f[F_OCC])
    if recv is None or due is None:
        return Derived(cells)
    opened = _is_open(facts, None, cal)
    open_entry = (recv[F_COMMUNE], due) if opened else None
    recv_day = cal.day(recv[F_OCC])
    carry = tuple(
        (recv[F_COMMUNE], s) for s in starts if recv_day < s and _is_open(facts, s, cal)
    )
    return Derived(cells, open_entry, carry)


def _bump(cells: dict[CellKey, int], where: tuple[str, float], slot: int) -> None:
    key = (where[0], where[1], slot)
    cells[key] = cells.get(key, 0) + 1


def _is_open(facts: list[Fact], before_day: int | None, cal: LocalCalendar) -> bool:
    """Open after the status facts whose local day is before ``before_day`` (all if None)."""
    last = None
    for f in facts:
        kind = f[F_KIND]
        if kind != RESOLVED and kind != RESUMED:
            continue
        if before_day is not None and cal.day(f[F_OCC]) >= before_day:
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
