"""The live state of one province: dedup, corrections, incidents and counters, from facts.

:class:`ProvinceState` is fed accepted-or-duplicate facts with :meth:`ProvinceState.apply`;
it never sees Kafka. Everything in it is a deterministic function of the set of distinct facts
applied (and of the clock for the clock-relative parts: carried-over counts and the last hour),
which is why replaying the checkpointed facts after a restart rebuilds it exactly.

Rules (docs/live-api.md):

- dedup: an ``event_id`` seen before is a duplicate and changes nothing;
- corrections: an event counts iff it arrived and no arrived event names it in
  ``corrects_event_id`` (order-independent: a correction that arrives first suppresses the
  original when it comes);
- counters live at the finest grain only: ``(commune, day)``, ``(commune, month)`` and the same
  for the whole province, plus per-minute ``received``/``resolved`` for the last hour.
"""

from __future__ import annotations

from typing import Any

from streams.logic import incidents as inc
from streams.logic.calendar import LocalCalendar
from streams.logic.facts import (
    F_CORRECTS,
    F_ID,
    F_INCIDENT,
    F_KIND,
    F_REC,
    LIFECYCLE_KINDS,
    N_SLOTS,
    SLOT,
    Fact,
    direct_cells,
)
from streams.logic.rules import DueRules

MINUTE_SLOTS = {SLOT["received"]: 0, SLOT["resolved"]: 1}
MINUTES_KEPT_S = 2 * 3600


class ProvinceState:
    """All live state of one province (one province lives on one partition)."""

    def __init__(self, code: str, cal: LocalCalendar, rules: DueRules | None = None):
        self.code = code
        self.cal = cal
        self.rules = rules or DueRules(tz=cal.tz)
        self.registry: dict[str, Fact] = {}
        self.corrected: set[str] = set()
        # incident_id -> [sorted active lifecycle facts, Derived]
        self.incidents: dict[str, list[Any]] = {}
        self.day_cells: dict[tuple[str, int], list[int]] = {}
        self.month_cells: dict[tuple[str, int], list[int]] = {}
        self.prov_day: dict[int, list[int]] = {}
        self.prov_month: dict[int, list[int]] = {}
        self.minutes: dict[int, list[int]] = {}
        self.open_by_commune: dict[str, dict[str, int]] = {}
        self.carry: dict[tuple[str, int], int] = {}
        self.starts: tuple[int, ...] = ()
        self.events_counted = 0
        self.newest_recorded_ts: float | None = None
        self.lag_s: float | None = None
        self.watermark = -1  # highest source position applied (see streams/checkpoint.py)
        self._now = 0.0
        self._starts_day = -1

    # -- feeding -------------------------------------------------------------------------

    def apply(self, fact: Fact, now_ts: float) -> bool:
        """Apply one fact; False when its ``event_id`` was seen before (a duplicate)."""
        eid = fact[F_ID]
        if eid in self.registry:
            return False
        self._now = now_ts
        self._ensure_starts(now_ts)
        self.registry[eid] = fact
        self.events_counted += 1
        rec = fact[F_REC]
        if self.newest_recorded_ts is None or rec > self.newest_recorded_ts:
            self.newest_recorded_ts = rec
            self.lag_s = max(0.0, now_ts - rec)
        target = fact[F_CORRECTS]
        if target is not None and target not in self.corrected:
            self.corrected.add(target)
            original = self.registry.get(target)
            if original is not None:
                self._deactivate(original)
        if eid not in self.corrected:
            self._activate(fact)
        return True

    def _activate(self, fact: Fact) -> None:
        if fact[F_KIND] in LIFECYCLE_KINDS:
            self._change_incident(fact, add=True)
        else:
            for commune, ts, slot, delta in direct_cells(fact):
                self._add(commune, ts, slot, delta)

    def _deactivate(self, fact: Fact) -> None:
        if fact[F_KIND] in LIFECYCLE_KINDS:
            self._change_incident(fact, add=False)
        else:
            for commune, ts, slot, delta in direct_cells(fact):
                self._add(commune, ts, slot, -delta)

    def _change_incident(self, fact: Fact, add: bool) -> None:
        iid = fact[F_INCIDENT]
        entry = self.incidents.get(iid)
        if entry is None:
            entry = self.incidents[iid] = [[], inc.EMPTY]
        facts: list[Fact] = entry[0]
        if add:
            key = inc.sort_key(fact)
            if not facts or inc.sort_key(facts[-1]) <= key:
                facts.append(fact)
            else:
                facts.append(fact)
                facts.sort(key=inc.sort_key)
        else:
            facts.remove(fact)
        new = inc.evaluate(facts, self.cal, self.rules, self.starts)
        self._replace_derived(iid, entry[1], new)
        entry[1] = new

    def _replace_derived(self, iid: str, old: inc.Derived, new: inc.Derived) -> None:
        for (commune, ts, slot), delta in inc.diff(old, new).items():
            self._add(commune, ts, slot, delta)
        if old.open != new.open:
            if old.open is not None:
                self.open_by_commune[old.open[0]].pop(iid, None)
            if new.open is not None:
                self.open_by_commune.setdefault(new.open[0], {})[iid] = new.open[1]
        if old.carry != new.carry:
            for key in old.carry:
                self.carry[key] -= 1
            for key in new.carry:
                self.carry[key] = self.carry.get(key, 0) + 1

    def _add(self, commune: str, ts: float, slot: int, delta: int) -> None:
        cal = self.cal
        day = cal.day(ts)
        month = cal.month(day)
        for cells, key in (
            (self.day_cells, (commune, day)),
            (self.month_cells, (commune, month)),
            (self.prov_day, day),
            (self.prov_month, month),
        ):
            row = cells.get(key)  # type: ignore[call-overload]
            if row is None:
                row = cells[key] = [0] * N_SLOTS  # type: ignore[index]
            row[slot] += delta
        minute_slot = MINUTE_SLOTS.get(slot)
        if minute_slot is not None and ts >= self._now - MINUTES_KEPT_S:
            minute = int(ts // 60)
            row = self.minutes.get(minute)
            if row is None:
                row = self.minutes[minute] = [0, 0]
            row[minute_slot] += delta

    # -- the clock -----------------------------------------------------------------------

    def _ensure_starts(self, now_ts: float) -> None:
        """Carried-over counts are kept for the current period starts; rebuild on a new day."""
        day = self.cal.day(now_ts)
        if day == self._starts_day:
            return
        self._starts_day = day
        starts = tuple(sorted({p.start for p in self.cal.periods(now_ts).values()}))
        if starts == self.starts:
            return
        self.starts = starts
        self.carry = {}
        for entry in self.incidents.values():
            new = inc.evaluate(entry[0], self.cal, self.rules, starts)
            for key in new.carry:
                self.carry[key] = self.carry.get(key, 0) + 1
            entry[1] = new

    def tick(self, now_ts: float) -> None:
        """Advance the clock without a fact (before reading); drops minutes out of the hour."""
        self._now = now_ts
        self._ensure_starts(now_ts)
        cutoff = int((now_ts - MINUTES_KEPT_S) // 60)
        for minute in [m for m in self.minutes if m < cutoff]:
            del self.minutes[minute]
