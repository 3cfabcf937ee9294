"""Valid example events for tests, docs and the simulator.

``make_event("report_received", commune_code="00070")`` returns a JSON-ready dict that
:func:`schemas.validate_batch` accepts (with ``now`` at or after its ``recorded_at``).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from schemas.units import COMMUNE_PROVINCE

ICT = timezone(timedelta(hours=7), "ICT")
DEFAULT_OCCURRED_AT = datetime(2026, 11, 20, 9, 30, tzinfo=ICT)
DEFAULT_COMMUNE = "00070"  # Phường Hoàn Kiếm, Thành phố Hà Nội (01)

_EXTRA: dict[str, dict[str, Any]] = {
    "report_received": {
        "source_type": "denunciation",
        "channel": "in_person",
        "crime_group": "property",
        "severity": "less_serious",
    },
    "report_triaged": {"outcome": "accepted"},
    "report_forwarded": {"handled_by": "commune_police"},
    "deadline_extended": {"extension": "complex_case", "months": 2},
    "report_resolved": {"decision": "institute"},
    "report_resumed": {"reason": "resumed"},
    "offence_cleared": {"crime_group": "property", "severity": "less_serious", "suspects_count": 1},
    "suspects_apprehended": {"count": 2, "crime_group": "drugs"},
    "admin_violation_sanctioned": {
        "field": "road_traffic",
        "violations_detected": 12,
        "violations_sanctioned": 10,
        "violators": 11,
        "fine_vnd": 25_000_000,
    },
}

EVENT_TYPES: tuple[str, ...] = tuple(_EXTRA)


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def make_event(event_type: str, **overrides: Any) -> dict[str, Any]:
    """A valid event dict of ``event_type``; keyword arguments replace or add fields.

    Defaults: a fresh ``event_id`` and ``incident_id``, Phường Hoàn Kiếm (01/00070), occurred
    2026-11-20 09:30 +07:00 and recorded one minute later. Passing only ``commune_code`` also
    sets the matching ``province_code`` (``"01"`` for an unknown commune). ``datetime`` values
    are turned into ISO strings.
    A key whose override is ``...`` (Ellipsis) is removed, e.g. ``make_event(t, channel=...)``.
    """
    if event_type not in _EXTRA:
        raise ValueError(f"unknown event_type {event_type!r}")
    commune = overrides.get("commune_code", DEFAULT_COMMUNE)
    occurred = overrides.get("occurred_at", DEFAULT_OCCURRED_AT)
    event: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "schema_version": 1,
        "incident_id": f"inc-{uuid.uuid4().hex}",
        "province_code": COMMUNE_PROVINCE.get(commune, "01"),
        "commune_code": commune,
        "code_regime": "2025",
        "occurred_at": occurred,
        "recorded_at": occurred + timedelta(minutes=1)
        if isinstance(occurred, datetime)
        else occurred,
        "source_system": "hn-qlvv-1",
        "corrects_event_id": None,
    }
    event.update(_EXTRA[event_type])
    event.update(overrides)
    return {key: _iso(value) for key, value in event.items() if value is not ...}
