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
  for the whole province, plus per-minute ``received``/``resolved`` for the last hour;
- a commune's day rows are kept from :attr:`ProvinceState.day_floor` on only: the first day
  the read side (``streams/logic/view.py``) can still ask for (the start of today or of the
  statistical month, whichever is earlier; it only moves forward). Older days are read
  through the month rows only, so their day rows would be memory nobody reads (with the full
  national key space, most of the rows). The province's day rows are all kept (few).
"""

from __future__ import annotations

from bisect import bisect_right

from streams.logic import incidents as inc
from streams.logic.backlog import Backlog
from streams.logic.calendar import EPOCH_ORDINAL, LocalCalendar, Period
from streams.logic.facts import (
    F_A,
    F_B,
    F_COMMUNE,
    F_CORRECTS,
    F_ID,
    F_INCIDENT,
    F_KIND,
    F_OCC,
    F_REC,
    GROUP_RESOLVED,
    INCIDENT_KINDS,
    N_SLOTS,
    RECEIVED,
    RESOLVED,
    SLOT,
    UNIT_SLOTS,
    Fact,
    direct_slots,
)
from streams.logic.rules import DueRules

MINUTE_SLOTS = {SLOT["received"]: 0, SLOT["resolved"]: 1}
# The kinds whose own slots hold ``received`` / ``resolved`` (the per-minute columns).
MINUTE_KINDS = {RECEIVED: 0, RESOLVED: 1}
MINUTES_KEPT_S = 2 * 3600
ON_TIME = SLOT["resolved_on_time"]


class ProvinceState:
    """All live state of one province (one province lives on one partition)."""

    def __init__(self, code: str, cal: LocalCalendar, rules: DueRules | None = None):
        self.code = code
        self.cal = cal
        self.rules = rules or DueRules(tz=cal.tz)
        self.registry: dict[str, Fact] = {}
        self.corrected: set[str] = set()
        # incident_id -> its active lifecycle facts, sorted by inc.sort_key
        self.incidents: dict[str, list[Fact]] = {}
        self.day_cells: dict[tuple[str, int], list[int]] = {}
        self.month_cells: dict[tuple[str, int], list[int]] = {}
        self.prov_day: dict[int, list[int]] = {}
        self.prov_month: dict[int, list[int]] = {}
        self.minutes: dict[int, list[int]] = {}
        self.backlog = Backlog()  # open reports and their due dates, per commune
        self.carry: dict[tuple[str, int], int] = {}
        self.starts: tuple[int, ...] = ()
        self.day_floor = 0  # commune day rows are kept for days >= this (set with the clock)
        # received day -> initial due day: one shared int per due day for the backlog's
        # open reports (a fresh int per report is 32 bytes), and no call per report
        self._initial_due: dict[int, int] = {}
        self.events_counted = 0
        self.newest_recorded_ts: float | None = None
        self.lag_s: float | None = None
        self.watermark = -1  # highest source position applied (see streams/checkpoint.py)
        self._now = 0.0
        self._starts_day = -1

    # -- feeding -------------------------------------------------------------------------

    def apply(self, fact: Fact, now_ts: float) -> bool:
        """Apply one fact; False when its ``event_id`` was seen before (a duplicate)."""
        return bool(self.apply_many([fact], now_ts))

    def apply_many(self, facts: list[Fact], now_ts: float) -> list[Fact]:
        """Apply facts in order; returns those accepted (duplicates left out).

        The hot path: one call per source record, locals instead of attribute lookups, the
        four counter rows of a fact's own slots found inline, and the common incident shapes
        (a report opening a new incident; a fact later than its incident's others) taken
        without re-evaluating the incident.
        """
        self._now = now_ts
        self._ensure_starts(now_ts)
        registry, corrected, incidents = self.registry, self.corrected, self.incidents
        day_cells, month_cells = self.day_cells, self.month_cells
        prov_day, prov_month = self.prov_day, self.prov_month
        months, month_of_day, shift = self.cal.months, self.cal.month, self.cal.offset_s
        floor = self.day_floor
        unit_slots = UNIT_SLOTS
        recent_from = now_ts - MINUTES_KEPT_S
        accepted = []
        newest = self.newest_recorded_ts
        for fact in facts:
            eid = fact[F_ID]
            if eid in registry:
                continue
            registry[eid] = fact
            accepted.append(fact)
            rec = fact[F_REC]
            if newest is None or rec > newest:
                newest = rec
            if fact[F_CORRECTS] is not None:
                self._correct(fact[F_CORRECTS])
            if corrected and eid in corrected:
                continue
            kind = fact[F_KIND]
            slots = unit_slots.get((kind, fact[F_A], fact[F_B])) or direct_slots(fact)
            commune, occ = fact[F_COMMUNE], fact[F_OCC]
            day = int((occ + shift) // 86400) + EPOCH_ORDINAL
            if slots:
                month = months.get(day) or month_of_day(day)
                r2 = month_cells.get((commune, month))
                if r2 is None:
                    r2 = month_cells[commune, month] = [0] * N_SLOTS
                r3 = prov_day.get(day)
                if r3 is None:
                    r3 = prov_day[day] = [0] * N_SLOTS
                r4 = prov_month.get(month)
                if r4 is None:
                    r4 = prov_month[month] = [0] * N_SLOTS
                if day >= floor:
                    r1 = day_cells.get((commune, day))
                    if r1 is None:
                        r1 = day_cells[commune, day] = [0] * N_SLOTS
                    for slot, d in slots:
                        r1[slot] += d
                        r2[slot] += d
                        r3[slot] += d
                        r4[slot] += d
                else:
                    for slot, d in slots:
                        r2[slot] += d
                        r3[slot] += d
                        r4[slot] += d
                if occ >= recent_from and kind in MINUTE_KINDS:
                    self._add_minute(occ, MINUTE_KINDS[kind], 1)
            if kind in INCIDENT_KINDS:
                iid = fact[F_INCIDENT]
                if kind == RECEIVED and iid not in incidents:
                    incidents[iid] = [fact]
                    self._open_new(iid, commune, day)
                else:
                    self._change_incident(fact, add=True)
        self.events_counted += len(accepted)
        if newest is not None and newest != self.newest_recorded_ts:
            self.newest_recorded_ts = newest
            self.lag_s = max(0.0, now_ts - newest)
        return accepted

    def _correct(self, target: str) -> None:
        """An arrived correction names ``target``: it stops counting (now or when it comes)."""
        if target in self.corrected:
            return
        self.corrected.add(target)
        original = self.registry.get(target)
        if original is not None:
            self._deactivate(original)

    def _activate(self, fact: Fact) -> None:
        slots = direct_slots(fact)
        if slots:
            self._add_slots(fact[F_COMMUNE], fact[F_OCC], slots, 1)
        if fact[F_KIND] in INCIDENT_KINDS:
            self._change_incident(fact, add=True)

    def _deactivate(self, fact: Fact) -> None:
        slots = direct_slots(fact)
        if slots:
            self._add_slots(fact[F_COMMUNE], fact[F_OCC], slots, -1)
        if fact[F_KIND] in INCIDENT_KINDS:
            self._change_incident(fact, add=False)

    def _change_incident(self, fact: Fact, add: bool) -> None:
        """Add/remove a state-changing fact; re-derive the incident before and after.

        Only the facts are stored per incident (memory); the previous contribution is
        recomputed from them. A report that opens a new incident takes a short cut with
        the same result as :func:`incidents.evaluate` on that one fact.
        """
        iid = fact[F_INCIDENT]
        facts: list[Fact] | None = self.incidents.get(iid)
        if facts is None:
            self.incidents[iid] = [fact]
            if fact[F_KIND] == RECEIVED:
                self._open_new(iid, fact[F_COMMUNE], self.cal.day(fact[F_OCC]))
            return
        if add and len(facts) == 1 and fact[F_KIND] == RESOLVED and facts[0][F_KIND] == RECEIVED:
            self._resolve_single(iid, facts[0], fact)
            facts.insert(0 if inc.sort_key(facts[0]) > inc.sort_key(fact) else 1, fact)
            return
        if add:
            index = bisect_right(facts, inc.sort_key(fact), key=inc.sort_key)
            step = inc.inserted(facts, index, fact, self.cal, self.rules, self.starts)
            if step is not None:
                facts.insert(index, fact)
                self._replace_derived(iid, *step)
                return
        old = inc.evaluate(facts, self.cal, self.rules, self.starts)
        if add:
            if inc.sort_key(facts[-1]) > inc.sort_key(fact):
                facts.append(fact)
                facts.sort(key=inc.sort_key)
            else:
                facts.append(fact)
        else:
            facts.remove(fact)
            if not facts:
                del self.incidents[iid]
        new = inc.evaluate(facts, self.cal, self.rules, self.starts)
        self._replace_derived(iid, old, new)

    def _resolve_single(self, iid: str, recv: Fact, fact: Fact) -> None:
        """The most common change: a resolution for a report with no other state-changing
        fact. As ``incidents.evaluate`` before and after: the resolution counts under the
        report's crime group (and on time, by the initial due date, whether it comes before
        or after the report), the report closes, and it is no longer carried over into the
        periods that start after both of them."""
        day = self.cal.day(fact[F_OCC])
        recv_day = self.cal.day(recv[F_OCC])
        group = (GROUP_RESOLVED[recv[F_A]], 1)
        on_time = day <= (self._initial_due.get(recv_day) or self._due(recv_day))
        self._add_slots(fact[F_COMMUNE], fact[F_OCC], (group, (ON_TIME, 1)) if on_time
                        else (group,), 1)
        commune = recv[F_COMMUNE]
        self.backlog.remove(commune, iid)
        carry = self.carry
        for start in self.starts:
            if start > recv_day and start > day:
                carry[commune, start] -= 1

    def _open_new(self, iid: str, commune: str, day: int) -> None:
        """A report received on local ``day`` opens incident ``iid`` (its only fact)."""
        self.backlog.add(commune, iid, self._initial_due.get(day) or self._due(day))
        carry = self.carry
        for start in self.starts:
            if day < start:
                key = (commune, start)
                carry[key] = carry.get(key, 0) + 1

    def _due(self, day: int) -> int:
        due = self._initial_due[day] = self.rules.initial_due(day)
        return due

    def _replace_derived(self, iid: str, old: inc.Derived, new: inc.Derived) -> None:
        cells = inc.diff(old, new) if old.cells else new.cells
        for (commune, ts, slot), delta in cells.items():
            self._add_slots(commune, ts, ((slot, delta),), 1)
        if old.open != new.open:
            if old.open is not None:
                self.backlog.remove(old.open[0], iid)
            if new.open is not None:
                self.backlog.add(new.open[0], iid, new.open[1])
        if old.carry != new.carry:
            for key in old.carry:
                self.carry[key] -= 1
            for key in new.carry:
                self.carry[key] = self.carry.get(key, 0) + 1

    def _add_slots(
        self, commune: str, ts: float, slots: tuple[tuple[int, int], ...], sign: int
    ) -> None:
        """Add ``sign * delta`` to each slot in the four rows of (commune|province, day|month)
        (the commune's day row only from :attr:`day_floor` on: a scratch row below it)."""
        day = self.cal.day(ts)
        month = self.cal.month(day)
        key = (commune, day)
        if day >= self.day_floor:
            r1 = self.day_cells.get(key) or _new_row(self.day_cells, key)
        else:
            r1 = [0] * N_SLOTS
        key = (commune, month)
        r2 = self.month_cells.get(key) or _new_row(self.month_cells, key)
        r3 = self.prov_day.get(day) or _new_row(self.prov_day, day)
        r4 = self.prov_month.get(month) or _new_row(self.prov_month, month)
        recent = ts >= self._now - MINUTES_KEPT_S
        for slot, delta in slots:
            d = delta * sign
            r1[slot] += d
            r2[slot] += d
            r3[slot] += d
            r4[slot] += d
            if recent and slot in MINUTE_SLOTS:
                self._add_minute(ts, MINUTE_SLOTS[slot], d)

    def _add_minute(self, ts: float, column: int, d: int) -> None:
        minute = int(ts // 60)
        counts = self.minutes.get(minute)
        if counts is None:
            counts = self.minutes[minute] = [0, 0]
        counts[column] += d

    # -- the clock -----------------------------------------------------------------------

    def _ensure_starts(self, now_ts: float) -> None:
        """Carried-over counts are kept for the current period starts; rebuild on a new day."""
        day = self.cal.day(now_ts)
        if day == self._starts_day:
            return
        self._starts_day = day
        periods = self.cal.periods(now_ts)
        self._raise_day_floor(self.day_floor_at(periods))
        starts = tuple(sorted({p.start for p in periods.values()}))
        if starts == self.starts:
            return
        self.starts = starts
        self.carry = {}
        for facts in self.incidents.values():
            for key in inc.evaluate(facts, self.cal, self.rules, starts).carry:
                self.carry[key] = self.carry.get(key, 0) + 1

    @staticmethod
    def day_floor_at(periods: dict[str, Period]) -> int:
        """The first day whose commune day rows the read side can ask for, given the periods
        of a clock reading (the ``stat_month`` and ``today`` rows of streams/logic/view.py)."""
        return min(periods["today"].start, periods["stat_month"].start)

    def _raise_day_floor(self, floor: int) -> None:
        """Commune day rows before ``floor`` are dropped (the floor never moves back)."""
        if floor <= self.day_floor:
            return
        self.day_floor = floor
        cells = self.day_cells
        if any(day < floor for _, day in cells):
            self.day_cells = {key: row for key, row in cells.items() if key[1] >= floor}

    def tick(self, now_ts: float) -> None:
        """Advance the clock without a fact (before reading); drops minutes out of the hour."""
        self._now = now_ts
        self._ensure_starts(now_ts)
        cutoff = int((now_ts - MINUTES_KEPT_S) // 60)
        for minute in [m for m in self.minutes if m < cutoff]:
            del self.minutes[minute]


def _new_row(cells: dict, key: object) -> list[int]:
    row = cells[key] = [0] * N_SLOTS
    return row
