"""The one validator used by the stream, the sink, the gateway and ``antt validate``.

Fast path: pydantic-core parses and validates a whole record (one event or a JSON array) in one
call, then a tight loop applies the cross-field rules. When something is wrong, the record is
split with orjson: the events pydantic named are rejected with its reasons, the others are
validated again together, so one bad event costs little and never stops the others.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from antt.perf import gc_paused
from schemas import legacy, units
from schemas.enums import CodeRegime, Decision
from schemas.models import EventBase, ReportResolved, rule_violation
from schemas.recover import (
    LIST,
    ONE,
    apply_rules,
    dump,
    oversized,
    parse_items,
    recover,
    validate_one,
)
from schemas.report import Rejection, ValidationReport, by_index

__all__ = [
    "DEFAULT_FUTURE_TOLERANCE_S",
    "MAX_BATCH_EVENTS",
    "Rejection",
    "ValidationReport",
    "validate_batch",
    "validate_one",
]

logger = logging.getLogger(__name__)

MAX_BATCH_EVENTS = 1000
"""Most events one Kafka record (a JSON array) may carry."""
DEFAULT_FUTURE_TOLERANCE_S = 300


def validate_batch(
    raw: bytes | bytearray | memoryview | str | list[Any] | dict[str, Any],
    *,
    now: datetime,
    expected_province: str | None = None,
    future_tolerance_s: float = DEFAULT_FUTURE_TOLERANCE_S,
    max_events: int = MAX_BATCH_EVENTS,
) -> ValidationReport:
    """Validate one record: an event object or a JSON array of events.

    ``raw`` is the Kafka value (bytes), text, or already-parsed JSON (list or dict).
    ``now`` is the clock for the "recorded in the future" rule (``future_tolerance_s``).
    ``expected_province`` is the record key: every event must belong to that 2025 province.
    Legacy (regime 2004) events come back mapped to 2025 codes, originals in ``legacy_*``.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    data = _as_bytes(raw)
    if isinstance(data, Rejection):
        return ValidationReport([], [data])
    limit = now + timedelta(seconds=future_tolerance_s)
    with gc_paused():
        events, indices, rejected, plain = _validate(data, limit, max_events, expected_province)
    if plain:  # every event is a 2025 event of the expected province
        return ValidationReport(events, rejected)
    if any(e.code_regime is not CodeRegime.R2025 for e in events):
        events = [_to_2025(e) for e in events]
    if expected_province is not None and any(e.province_code != expected_province for e in events):
        events, rejected = _check_key(events, indices, rejected, expected_province, data)
    return ValidationReport(events, rejected)


def _as_bytes(raw: Any) -> bytes | Rejection:
    if isinstance(raw, bytes):
        return raw
    if isinstance(raw, bytearray | memoryview):
        return bytes(raw)
    if isinstance(raw, str):
        try:
            return raw.encode("utf-8")
        except UnicodeEncodeError as exc:
            blob = raw.encode("utf-8", errors="surrogatepass")
            return Rejection(None, None, "", f"invalid UTF-8 text: {exc.reason}", blob)
    if isinstance(raw, list | dict):
        return dump(raw)
    raise TypeError(f"cannot validate a {type(raw).__name__}")


def _validate(
    data: bytes, limit: datetime, max_events: int, key: str | None
) -> tuple[list[EventBase], list[int] | None, list[Rejection], bool]:
    """(valid, their indices, rejections, plain): ``plain`` means no post-processing needed."""
    array = data.lstrip()[:1] == b"["
    try:
        events = LIST.validate_json(data) if array else [ONE.validate_json(data)]
    except ValidationError as exc:
        return (*recover(data, exc, array, limit, max_events), False)
    if len(events) > max_events:
        return [], None, [oversized(len(events), max_events, data)], True
    state = _scan(events, limit, key)
    if state is not _BROKEN:
        return events, None, [], state is _PLAIN
    items = parse_items(data)
    return (*apply_rules(events, list(range(len(events))), items, limit), False)


_PLAIN, _NOT_PLAIN, _BROKEN = "plain", "not plain", "broken"


def _scan(events: list[EventBase], limit: datetime, key: str | None) -> str:
    """Cross-field rules over a whole batch; the common case is a few compare/dict operations.

    ``_PLAIN``: all rules hold, and every event is a 2025 event of province ``key`` (if given);
    ``_NOT_PLAIN``: all rules hold, but there is a legacy event or one of another province;
    ``_BROKEN``: some event breaks a rule.
    """
    owner = units.province_or_none
    r2025, suspend, resolved = CodeRegime.R2025, Decision.SUSPEND, ReportResolved
    state = _PLAIN
    for e in events:
        province = e.province_code
        if (
            e.occurred_at <= e.recorded_at <= limit
            and e.code_regime is r2025
            and owner(e.commune_code) == province
            and (key is None or province == key)
            and e.corrects_event_id is None
            and e.legacy_commune_code is None
            and e.legacy_province_code is None
            and (
                type(e) is not resolved
                or (e.decision is suspend) is (e.suspension_reason is not None)  # type: ignore[attr-defined]
            )
        ):
            continue
        if rule_violation(e, limit) is not None:
            return _BROKEN
        state = _NOT_PLAIN
    return state


def _to_2025(event: EventBase) -> EventBase:
    if event.code_regime is CodeRegime.R2025:
        return event
    province, commune = legacy.to_2025(event.province_code, event.commune_code)
    return event.model_copy(
        update={
            "province_code": province,
            "commune_code": commune,
            "code_regime": CodeRegime.R2025,
            "legacy_province_code": event.province_code,
            "legacy_commune_code": event.commune_code,
        }
    )


def _check_key(
    events: list[EventBase],
    indices: list[int] | None,
    rejected: list[Rejection],
    expected: str,
    data: bytes,
) -> tuple[list[EventBase], list[Rejection]]:
    """Refuse events whose (2025) province differs from the record key."""
    items = parse_items(data)
    kept: list[EventBase] = []
    for position, event in enumerate(events):
        if event.province_code == expected:
            kept.append(event)
            continue
        index = position if indices is None else indices[position]
        reason = f"event of province {event.province_code} sent under record key {expected!r}"
        blob = dump(items[index])
        rejected.append(Rejection(index, str(event.event_id), "province_code", reason, blob))
    return kept, sorted(rejected, key=by_index)
