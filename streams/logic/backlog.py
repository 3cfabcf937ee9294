"""Open crime reports and how many are overdue, readable in O(communes) whatever their number.

A report is open under one commune with one due date (a local day number); it is overdue as
of ``today`` when ``due < today``. Per commune we keep the due date of every open report (to
move or close it) and the number of open reports per due date; the overdue count for the last
``today`` asked is kept up to date on every change, and recomputed from the per-due-date
counts (a few hundred dates at most) only when ``today`` changes. Exact at every step: it
never walks the open reports themselves.
"""

from __future__ import annotations


class CommuneBacklog:
    __slots__ = ("dues", "by_due", "overdue")

    def __init__(self) -> None:
        self.dues: dict[str, int] = {}  # incident_id -> due day
        self.by_due: dict[int, int] = {}  # due day -> open reports
        self.overdue = 0  # open reports with due < Backlog.today


class Backlog:
    """Open reports of one province, per commune; overdue relative to :attr:`today`."""

    def __init__(self) -> None:
        self.communes: dict[str, CommuneBacklog] = {}
        self.today = -1
        self.open = 0
        self.overdue = 0

    def add(self, commune: str, iid: str, due: int) -> None:
        """Report ``iid`` is open under ``commune`` with ``due`` (replaces an earlier entry)."""
        c = self.communes.get(commune)
        if c is None:
            c = self.communes[commune] = CommuneBacklog()
        elif iid in c.dues:
            self.remove(commune, iid)
        c.dues[iid] = due
        c.by_due[due] = c.by_due.get(due, 0) + 1
        self.open += 1
        if due < self.today:
            c.overdue += 1
            self.overdue += 1

    def remove(self, commune: str, iid: str) -> None:
        """Report ``iid`` is no longer open under ``commune`` (no-op if it was not)."""
        c = self.communes.get(commune)
        due = c.dues.pop(iid, None) if c is not None else None
        if c is None or due is None:
            return
        left = c.by_due[due] - 1
        if left:
            c.by_due[due] = left
        else:
            del c.by_due[due]
        self.open -= 1
        if due < self.today:
            c.overdue -= 1
            self.overdue -= 1

    def at(self, today: int) -> dict[str, int]:
        """``{"open", "overdue"}`` of the province as of local day ``today``."""
        if today != self.today:
            self._recount(today)
        return {"open": self.open, "overdue": self.overdue}

    def per_commune(self, today: int) -> dict[str, dict[str, int]]:
        """Communes with open reports: ``{commune: {"open", "overdue"}}`` as of ``today``."""
        if today != self.today:
            self._recount(today)
        return {
            commune: {"open": len(c.dues), "overdue": c.overdue}
            for commune, c in self.communes.items()
            if c.dues
        }

    def _recount(self, today: int) -> None:
        self.today = today
        total = 0
        for c in self.communes.values():
            c.overdue = sum(n for due, n in c.by_due.items() if due < today)
            total += c.overdue
        self.overdue = total
