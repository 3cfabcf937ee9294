"""The one validator used by the stream, the sink, the gateway and ``antt validate``.

Fast path (:mod:`schemas.fastpath`): pydantic-core parses and validates a whole record in one
call (items that are no valid events come back as plain JSON values), then one loop parses the
times and applies the cross-field rules. Whatever it cannot settle exactly goes the reference
way: the models' own schema, the record split with orjson, every refused event with pydantic's
reasons (:mod:`schemas.recover`). Items that are no valid events, and events that break a rule,
are judged alone the reference way, so one bad event costs little and never stops the others.
:func:`validate_batch_reference` is the reference path alone; tests hold both to one answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from antt.perf import gc_paused
from schemas import legacy, units
from schemas.enums import CodeRegime, Decision
from schemas.fastpath import BROKEN, FAST_LIST, FAST_ONE, FAST_READY, NOT_PLAIN, PLAIN, fast_scan
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
from schemas.report import Outcome, Rejection, ValidationReport, by_index

__all__ = [
    "DEFAULT_FUTURE_TOLERANCE_S",
    "MAX_BATCH_EVENTS",
    "Rejection",
    "ValidationReport",
    "validate_batch",
    "validate_batch_reference",
    "validate_one",
]

logger = logging.getLogger(__name__)

MAX_BATCH_EVENTS = 1000
"""Most events one Kafka record (a JSON array) may carry."""
DEFAULT_FUTURE_TOLERANCE_S = 300
_TOLERANCES: dict[float, timedelta] = {}
# Below this record size, pausing the garbage collector costs more (~1 us) than it saves.
_GC_PAUSE_MIN_BYTES = 8192


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
    check = _validate if FAST_READY else _reference_of
    return _report(raw, now, expected_province, future_tolerance_s, max_events, check)


def validate_batch_reference(
    raw: bytes | bytearray | memoryview | str | list[Any] | dict[str, Any],
    *,
    now: datetime,
    expected_province: str | None = None,
    future_tolerance_s: float = DEFAULT_FUTURE_TOLERANCE_S,
    max_events: int = MAX_BATCH_EVENTS,
) -> ValidationReport:
    """:func:`validate_batch` without its fast path (the models' own schema for every record):
    the reference the fast path must match exactly (tests, benchmarks)."""
    return _report(raw, now, expected_province, future_tolerance_s, max_events, _reference_of)


def _report(
    raw: Any, now: datetime, key: str | None, tolerance_s: float, max_events: int,
    check: Callable[[bytes, datetime, int, str | None], Checked],
) -> ValidationReport:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    data = _as_bytes(raw)
    if isinstance(data, Rejection):
        return ValidationReport([], [data])
    limit = now + tolerance_of(tolerance_s)
    if len(data) < _GC_PAUSE_MIN_BYTES:
        events, indices, rejected, plain = check(data, limit, max_events, key)
    else:
        with gc_paused():
            events, indices, rejected, plain = check(data, limit, max_events, key)
    if plain:  # every event is a 2025 event of the expected province
        return ValidationReport(events, rejected)
    if any(e.code_regime is not CodeRegime.R2025 for e in events):
        events = [_to_2025(e) for e in events]
    if key is not None and any(e.province_code != key for e in events):
        events, rejected = _check_key(events, indices, rejected, key, data)
    return ValidationReport(events, rejected)


def tolerance_of(seconds: float) -> timedelta:
    """``timedelta(seconds=seconds)``, cached (building one costs more than a dict lookup)."""
    tolerance = _TOLERANCES.get(seconds)
    if tolerance is None:
        tolerance = _TOLERANCES[seconds] = timedelta(seconds=seconds)
        if len(_TOLERANCES) > 64:
            _TOLERANCES.clear()
    return tolerance


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


Checked = tuple[list[EventBase], list[int] | None, list[Rejection], bool]
"""(valid, their indices or None, rejections, plain): ``plain``: no post-processing needed."""


def _validate(data: bytes, limit: datetime, max_events: int, key: str | None) -> Checked:
    """The fast path; whatever it cannot settle exactly goes the reference way."""
    array = data.lstrip()[:1] == b"["
    try:
        events = FAST_LIST.validate_json(data) if array else [FAST_ONE.validate_json(data)]
    except ValidationError:  # not JSON; or one event, of a wrong shape
        return _reference(data, limit, max_events, key, array)
    if len(events) > max_events:
        return [], None, [oversized(len(events), max_events, data)], True
    scanned = fast_scan(events, limit, key)
    if scanned is None:
        return _reference(data, limit, max_events, key, array)
    state, suspects, unread = scanned
    if not unread and state is not _BROKEN:
        return events, None, [], state is _PLAIN
    try:
        items = parse_items(data)
    except ValueError:  # (the parsers disagree: let the reference path word it)
        return _reference(data, limit, max_events, key, array)
    if len(items) != len(events):
        return _reference(data, limit, max_events, key, array)
    return (*_settle(events, state, suspects, unread, items, limit), False)


def _settle(
    events: list[Any], state: str, suspects: list[int], unread: list[int], items: list[Any],
    limit: datetime,
) -> Outcome:
    """Reject the events that break a rule (only the scan's suspects can), and judge the items
    that are no valid events alone, the reference way."""
    rejected: list[Rejection] = []
    dropped = set(unread)
    if state is _BROKEN:
        _, _, rejected = apply_rules([events[p] for p in suspects], suspects, items, limit)
        dropped.update(r.index for r in rejected if r.index is not None)
    kept = [p for p in range(len(events)) if p not in dropped]
    return _with_alone(([events[p] for p in kept], kept, rejected), items, unread, limit)


def _reference(
    data: bytes, limit: datetime, max_events: int, key: str | None, array: bool
) -> Checked:
    """The reference path: the models' own schema, which names every broken field."""
    try:
        events = LIST.validate_json(data) if array else [ONE.validate_json(data)]
    except ValidationError as exc:
        return (*recover(data, exc, array, limit, max_events), False)
    if len(events) > max_events:
        return [], None, [oversized(len(events), max_events, data)], True
    return _judged(events, _scan(events, limit, key), data, limit)


def _reference_of(data: bytes, limit: datetime, max_events: int, key: str | None) -> Checked:
    return _reference(data, limit, max_events, key, data.lstrip()[:1] == b"[")


def _judged(events: list[EventBase], state: str, data: bytes, limit: datetime) -> Checked:
    """The outcome of a scan: when some event broke a rule, each event is judged alone."""
    if state is not _BROKEN:
        return events, None, [], state is _PLAIN
    items = parse_items(data)
    return (*apply_rules(events, list(range(len(events))), items, limit), False)


def _with_alone(outcome: Outcome, items: list[Any], alone: list[int], limit: datetime) -> Outcome:
    """Add the events at ``alone``, each judged by itself the reference way."""
    valid, indices, rejected = outcome
    judged = [(i, validate_one(items[i], index=i, limit=limit)) for i in alone]
    rejected = rejected + [r for _, r in judged if isinstance(r, Rejection)]
    passed = [(i, e) for i, e in judged if not isinstance(e, Rejection)]
    if passed:  # a valid event the fast schema could not read (an unusual time format)
        pairs = [*zip(indices or range(len(valid)), valid, strict=True), *passed]
        pairs.sort(key=lambda pair: pair[0])
        indices, valid = [i for i, _ in pairs], [e for _, e in pairs]
    return valid, indices, sorted(rejected, key=by_index)


_PLAIN, _NOT_PLAIN, _BROKEN = PLAIN, NOT_PLAIN, BROKEN


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
