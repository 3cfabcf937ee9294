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

from collections.abc import Iterable
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

# One shared str object per category value and per commune code: facts are kept in memory
# for dedup and corrections, and a private copy of "00070" in each costs ~54 bytes.
_CANONICAL: dict[str, str] = {}


def _canon(value: Any) -> str:
    text = _CANONICAL.get(value)
    if text is None:
        text = _CANONICAL[value] = str(value)
    return text


def to_fact(event: Any, pos: int) -> Fact:
    """Compact one validated event (attribute names of docs/architecture.md).

    The worker's hot path after validation: strings shared through ``_CANONICAL`` inline,
    the event id's hex as ``UUID.hex`` builds it (without its call), timestamps from
    ``datetime.timestamp()`` (cheap for the validator's ``datetime.timezone`` offsets).
    """
    kind = KIND_OF_TYPE[event.event_type]
    canonical = _CANONICAL
    commune = event.commune_code
    commune = canonical.get(commune) or _canon(commune)
    corrects = event.corrects_event_id
    a: Any = None
    b: Any = None
    c: Any = None
    d: Any = None
    if kind == RECEIVED:
        a, b = event.crime_group, event.source_type
        a, b = canonical.get(a) or _canon(a), canonical.get(b) or _canon(b)
    elif kind == TRIAGED:
        a = event.outcome
        a = canonical.get(a) or _canon(a)
    elif kind == RESOLVED:
        a = event.decision
        a = canonical.get(a) or _canon(a)
    elif kind != FORWARDED and kind != RESUMED:
        a, b, c, d = _payload(kind, event)
    return (
        pos,
        "%032x" % event.event_id.int,  # noqa: UP031 (UUID.hex, without its call)
        kind,
        event.incident_id,
        commune,
        event.occurred_at.timestamp(),
        event.recorded_at.timestamp(),
        "%032x" % corrects.int if corrects is not None else None,  # noqa: UP031
        a,
        b,
        c,
        d,
    )


def plain_fact(event: dict[str, Any], pos: int) -> Fact:
    """:func:`to_fact` of an event from the validator's plain lane (``schemas/plain.py``): a
    dict with the same field names, UUIDs as canonical text, enum members as their values."""
    kind = KIND_OF_TYPE[event["event_type"]]
    canonical = _CANONICAL
    commune = event["commune_code"]
    commune = canonical.get(commune) or _canon(commune)
    corrects = event["corrects_event_id"]
    a: Any = None
    b: Any = None
    c: Any = None
    d: Any = None
    if kind == RECEIVED:
        a, b = event["crime_group"], event["source_type"]
        a, b = canonical.get(a) or _canon(a), canonical.get(b) or _canon(b)
    elif kind == TRIAGED:
        a = event["outcome"]
        a = canonical.get(a) or _canon(a)
    elif kind == RESOLVED:
        a = event["decision"]
        a = canonical.get(a) or _canon(a)
    elif kind == ADMIN:
        a, b = event["violations_detected"], event["violations_sanctioned"]
        c, d = event["violators"], event["fine_vnd"]
    elif kind == CLEARED:
        a = _canon(event["crime_group"])
    elif kind == APPREHENDED:
        a, b = event["count"], _canon(event["crime_group"])
    elif kind == EXTENDED:
        a, b = _canon(event["extension"]), event["months"]
    return (
        pos,
        event["event_id"].replace("-", ""),
        kind,
        event["incident_id"],
        commune,
        event["occurred_at"].timestamp(),
        event["recorded_at"].timestamp(),
        corrects.replace("-", "") if corrects is not None else None,
        a,
        b,
        c,
        d,
    )


def to_facts(events: Iterable[Any], positions: Iterable[int]) -> list[Fact]:
    """:func:`to_fact` of each event at its position."""
    return [to_fact(event, pos) for event, pos in zip(events, positions, strict=True)]


def _payload(kind: int, event: Any) -> tuple[Any, Any, Any, Any]:
    """Payload slots ``a..d`` of the less frequent kinds."""
    if kind == EXTENDED:
        return _canon(event.extension), int(event.months), None, None
    if kind == CLEARED:
        return _canon(event.crime_group), None, None, None
    if kind == APPREHENDED:
        return int(event.count), _canon(event.crime_group), None, None
    if kind == ADMIN:
        return (int(event.violations_detected), int(event.violations_sanctioned),
                int(event.violators), int(event.fine_vnd))
    raise ValueError(f"no payload for kind {kind}")


def from_json(items: list[list[Any]]) -> list[Fact]:
    """Facts read back from a checkpoint (JSON arrays) as tuples, strings shared again."""
    out = []
    for item in items:
        item[F_COMMUNE] = _canon(item[F_COMMUNE])
        for i in (F_A, F_B):
            if isinstance(item[i], str):
                item[i] = _canon(item[i])
        out.append(tuple(item))
    return out


INCIDENT_KINDS = frozenset({RECEIVED, EXTENDED, RESOLVED, RESUMED})
"""Kinds that change a report's state (due date, open/closed); the others never do."""

UNIT_SLOTS: dict[tuple[int, Any, Any], tuple[tuple[int, int], ...]] = {}
"""``direct_slots`` by ``(kind, a, b)`` for the kinds whose slots depend only on those
(filled as met; apprehensions and administrative sanctions carry amounts and are not here)."""
_ONE = UNIT_SLOTS


def direct_slots(fact: Fact) -> tuple[tuple[int, int], ...]:
    """``((slot, delta), ...)`` a fact contributes on its own, at its commune and time.

    What depends on the report's state (resolved by the report's crime group,
    ``resolved_on_time``, backlog, carried over) is in ``streams.logic.incidents``.
    """
    kind = fact[F_KIND]
    if kind == APPREHENDED:
        return ((SLOT["suspects"], fact[F_A]),)
    if kind == ADMIN:
        return (
            (SLOT["admin_violations"], fact[F_A]),
            (SLOT["admin_sanctioned"], fact[F_B]),
            (SLOT["admin_violators"], fact[F_C]),
            (SLOT["fines_vnd"], fact[F_D]),
        )
    key = (kind, fact[F_A], fact[F_B])
    slots = _ONE.get(key)
    if slots is None:
        slots = _ONE[key] = tuple((slot, 1) for slot in _unit_slots(kind, fact[F_A], fact[F_B]))
    return slots


def _unit_slots(kind: int, a: Any, b: Any) -> tuple[int, ...]:
    if kind == RECEIVED:
        return (SLOT["received"], GROUP_RECEIVED[a], SOURCE_RECEIVED[b])
    if kind == TRIAGED:
        return (TRIAGE_SLOT[a],)
    if kind == RESOLVED:
        return (SLOT["resolved"], DECISION_SLOT[a])
    if kind == CLEARED:
        return (SLOT["cleared"], GROUP_CLEARED[a])
    return ()
