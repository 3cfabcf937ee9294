"""Facts: the compact, JSON-able form of an accepted event that the live state is built from.

A fact is a tuple ``(pos, event_id, kind, incident_id, commune, occurred_ts, recorded_ts,
corrects, a, b, c, d)``. ``pos`` is the event's position in its source partition
(``offset * POS_STRIDE + index in the batch``); the payload slots ``a..d`` depend on ``kind``
(see :func:`to_fact`). The whole live state of a province is a deterministic function of its
facts, so the facts are also what the worker checkpoints (``streams/checkpoint.py``).

Counter slots: every cell of the counters is a list of :data:`N_SLOTS` integers laid out as
:data:`BASE_FIGURES`, then ``received/resolved/cleared`` per crime group, then ``received`` per
source type.
"""

from __future__ import annotations

from typing import Any

POS_STRIDE = 1024  # > schemas.MAX_BATCH_EVENTS: (offset, index) -> one sortable int

# Event kinds (fact[2]).
RECEIVED, TRIAGED, FORWARDED, EXTENDED, RESOLVED, RESUMED, CLEARED, APPREHENDED, ADMIN = range(9)
KIND_OF_TYPE = {
    "report_received": RECEIVED,
    "report_triaged": TRIAGED,
    "report_forwarded": FORWARDED,
    "deadline_extended": EXTENDED,
    "report_resolved": RESOLVED,
    "report_resumed": RESUMED,
    "offence_cleared": CLEARED,
    "suspects_apprehended": APPREHENDED,
    "admin_violation_sanctioned": ADMIN,
}
LIFECYCLE_KINDS = frozenset({RECEIVED, TRIAGED, FORWARDED, EXTENDED, RESOLVED, RESUMED})

# Indices into a fact tuple.
F_POS, F_ID, F_KIND, F_INCIDENT, F_COMMUNE, F_OCC, F_REC, F_CORRECTS, F_A, F_B, F_C, F_D = range(12)

BASE_FIGURES = (
    "received",
    "accepted",
    "transferred",
    "not_crime",
    "resolved",
    "instituted",
    "declined",
    "suspended",
    "resolved_on_time",
    "cleared",
    "suspects",
    "admin_violations",
    "admin_sanctioned",
    "admin_violators",
    "fines_vnd",
)
CRIME_GROUPS = (
    "national_security",
    "life_health_dignity",
    "freedoms",
    "property",
    "marriage_family",
    "economic",
    "environment",
    "drugs",
    "public_safety_order",
    "administrative_order",
    "position_corruption",
    "judicial",
    "military",
    "war_crimes",
)
SOURCE_TYPES = (
    "denunciation",
    "report",
    "prosecution_recommendation",
    "confession",
    "surrender",
    "direct_detection",
)
SLOT = {name: i for i, name in enumerate(BASE_FIGURES)}
_GROUP_BASE = len(BASE_FIGURES)
GROUP_RECEIVED = {g: _GROUP_BASE + 3 * i for i, g in enumerate(CRIME_GROUPS)}
GROUP_RESOLVED = {g: _GROUP_BASE + 3 * i + 1 for i, g in enumerate(CRIME_GROUPS)}
GROUP_CLEARED = {g: _GROUP_BASE + 3 * i + 2 for i, g in enumerate(CRIME_GROUPS)}
_SOURCE_BASE = _GROUP_BASE + 3 * len(CRIME_GROUPS)
SOURCE_RECEIVED = {s: _SOURCE_BASE + i for i, s in enumerate(SOURCE_TYPES)}
N_SLOTS = _SOURCE_BASE + len(SOURCE_TYPES)

TRIAGE_SLOT = {o: SLOT[o] for o in ("accepted", "transferred", "not_crime")}
DECISION_SLOT = {"institute": SLOT["instituted"], "decline": SLOT["declined"],
                 "suspend": SLOT["suspended"]}

Fact = tuple[Any, ...]


def to_fact(event: Any, pos: int) -> Fact:
    """Compact one validated event (attribute names of docs/architecture.md)."""
    kind = KIND_OF_TYPE[str(event.event_type)]
    corrects = event.corrects_event_id
    a: Any = None
    b: Any = None
    c: Any = None
    d: Any = None
    if kind == RECEIVED:
        a, b = str(event.crime_group), str(event.source_type)
    elif kind == TRIAGED:
        a = str(event.outcome)
    elif kind == EXTENDED:
        a, b = str(event.extension), int(event.months)
    elif kind == RESOLVED:
        a = str(event.decision)
    elif kind == CLEARED:
        a = str(event.crime_group)
    elif kind == APPREHENDED:
        a, b = int(event.count), str(event.crime_group)
    elif kind == ADMIN:
        a, b = int(event.violations_detected), int(event.violations_sanctioned)
        c, d = int(event.violators), int(event.fine_vnd)
    return (
        pos,
        event.event_id.hex,
        kind,
        event.incident_id,
        event.commune_code,
        event.occurred_at.timestamp(),
        event.recorded_at.timestamp(),
        corrects.hex if corrects is not None else None,
        a,
        b,
        c,
        d,
    )


def from_json(items: list[list[Any]]) -> list[Fact]:
    """Facts read back from a checkpoint (JSON arrays) as tuples."""
    return [tuple(item) for item in items]


def direct_cells(fact: Fact) -> list[tuple[str, float, int, int]]:
    """``(commune, occurred_ts, slot, delta)`` of a non-lifecycle fact (cleared/suspects/admin)."""
    kind = fact[F_KIND]
    commune, ts = fact[F_COMMUNE], fact[F_OCC]
    if kind == CLEARED:
        return [(commune, ts, SLOT["cleared"], 1), (commune, ts, GROUP_CLEARED[fact[F_A]], 1)]
    if kind == APPREHENDED:
        return [(commune, ts, SLOT["suspects"], fact[F_A])]
    if kind == ADMIN:
        return [
            (commune, ts, SLOT["admin_violations"], fact[F_A]),
            (commune, ts, SLOT["admin_sanctioned"], fact[F_B]),
            (commune, ts, SLOT["admin_violators"], fact[F_C]),
            (commune, ts, SLOT["fines_vnd"], fact[F_D]),
        ]
    return []
