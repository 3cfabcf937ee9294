"""The one validator used by the stream, the sink, the gateway and ``antt validate``.

Fast path: pydantic-core parses and validates a whole record (one event or a JSON array of up
to :data:`MAX_BATCH_EVENTS`) in one call. Only when that fails is the record split with orjson
and each event validated alone, so that every bad event gets its own precise reason and never
stops the others.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any

import orjson
from pydantic import Field, TypeAdapter, ValidationError

from schemas import legacy, units
from schemas.enums import CodeRegime
from schemas.models import Event, EventBase, ReportResolved, rule_violation

logger = logging.getLogger(__name__)

MAX_BATCH_EVENTS = 1000
"""Most events one Kafka record (a JSON array) may carry."""
DEFAULT_FUTURE_TOLERANCE_S = 300

_ONE = TypeAdapter(Event)
_MANY = TypeAdapter(Annotated[list[Event], Field(max_length=MAX_BATCH_EVENTS)])


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why one event (or a whole unreadable record, ``index=None``) was refused."""

    index: int | None
    event_id: str | None
    path: str
    reason: str
    raw: bytes

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``raw`` as text; invalid UTF-8 replaced)."""
        return {
            "index": self.index,
            "event_id": self.event_id,
            "path": self.path,
            "reason": self.reason,
            "raw": self.raw.decode("utf-8", errors="replace"),
        }


@dataclass(frozen=True, slots=True)
class ValidationReport:
    valid: list[EventBase] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.rejected


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
    ``now`` is the clock used for the "recorded in the future" rule. ``expected_province`` is
    the record key: every event must belong to that (2025) province. Legacy (regime 2004)
    events come back mapped to 2025 codes, with the original codes in ``legacy_*``.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    data = _as_bytes(raw)
    if isinstance(data, Rejection):
        return ValidationReport([], [data])
    limit = now + timedelta(seconds=future_tolerance_s)
    events = _fast(data) if max_events == MAX_BATCH_EVENTS else None
    if events is not None and _all_rules_hold(events, limit):
        indices: list[int] | None = None  # positional
        rejected: list[Rejection] = []
    else:
        events, indices, rejected = _slow(data, limit, max_events)
    if any(e.code_regime != CodeRegime.R2025 for e in events):
        events = [_to_2025(e) for e in events]
    if expected_province is not None and any(e.province_code != expected_province for e in events):
        events, rejected = _check_key(events, indices, rejected, expected_province)
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
        return orjson.dumps(raw)
    raise TypeError(f"cannot validate a {type(raw).__name__}")


def _fast(data: bytes) -> list[EventBase] | None:
    """Whole record in one pydantic-core call; ``None`` if any event has a wrong shape."""
    try:
        if data.lstrip()[:1] == b"[":
            return _MANY.validate_json(data)
        return [_ONE.validate_json(data)]
    except ValidationError:
        return None


def _all_rules_hold(events: list[EventBase], limit: datetime) -> bool:
    """Cross-field rules for a whole batch; the common case is a few dict/compare ops."""
    owner = units.COMMUNE_PROVINCE.get
    r2025 = CodeRegime.R2025
    for e in events:
        if (
            e.occurred_at <= e.recorded_at <= limit
            and e.code_regime is r2025
            and owner(e.commune_code) == e.province_code
            and e.corrects_event_id is None
            and e.legacy_commune_code is None
            and type(e) is not ReportResolved
        ):
            continue
        if rule_violation(e, limit) is not None:
            return False
    return True


def _slow(
    data: bytes, limit: datetime, max_events: int
) -> tuple[list[EventBase], list[int], list[Rejection]]:
    """Split the record and validate each event alone, collecting precise reasons."""
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        return [], [], [Rejection(None, None, "", _unparseable_reason(data, exc), data)]
    items = parsed if isinstance(parsed, list) else [parsed]
    if len(items) > max_events:
        reason = f"batch of {len(items)} events exceeds the limit of {max_events}"
        return [], [], [Rejection(None, None, "", reason, data)]
    valid: list[EventBase] = []
    indices: list[int] = []
    rejected: list[Rejection] = []
    for index, item in enumerate(items):
        outcome = validate_one(item, index=index, limit=limit)
        if isinstance(outcome, Rejection):
            rejected.append(outcome)
        else:
            valid.append(outcome)
            indices.append(index)
    return valid, indices, rejected


def _unparseable_reason(data: bytes, exc: Exception) -> str:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as bad:
        return f"invalid UTF-8 at byte {bad.start}: {bad.reason}"
    return f"not valid JSON: {exc}"


def validate_one(item: Any, *, index: int, limit: datetime) -> EventBase | Rejection:
    """Validate one parsed JSON value as an event (JSON semantics: strict types).

    ``limit`` is ``now + future tolerance`` for the "recorded in the future" rule.
    """
    blob = orjson.dumps(item)
    event_id = _event_id_of(item)
    if not isinstance(item, dict):
        kind = type(item).__name__ if item is not None else "null"
        return Rejection(index, None, "", f"expected an event object, got {kind}", blob)
    try:
        event = _ONE.validate_json(blob)
    except ValidationError as exc:
        path, reason = describe_errors(exc)
        return Rejection(index, event_id, path, reason, blob)
    broken = rule_violation(event, limit)
    if broken is not None:
        return Rejection(index, event_id, broken[0], f"{broken[0]}: {broken[1]}", blob)
    return event


def _event_id_of(item: Any) -> str | None:
    if isinstance(item, dict):
        value = item.get("event_id")
        if isinstance(value, str):
            return value[:64]
    return None


def describe_errors(exc: ValidationError) -> tuple[str, str]:
    """(path of the first error, "path: message; ..." for all errors) of one event."""
    parts: list[tuple[str, str]] = []
    for err in exc.errors(include_url=False, include_input=False):
        parts.append((_path_of(err), err["msg"]))
    first = parts[0][0] if parts else ""
    reason = "; ".join(f"{p}: {m}" if p else m for p, m in parts)
    return first, reason


def _path_of(err: Any) -> str:
    if err["type"] in ("union_tag_not_found", "union_tag_invalid"):
        return "event_type"
    loc = list(err["loc"])
    if loc and isinstance(loc[0], str) and loc[0] in _TAGS:
        loc = loc[1:]  # drop the discriminator tag pydantic puts first
    return ".".join(str(part) for part in loc)


_TAGS = frozenset(
    choice
    for cls in EventBase.__subclasses__()
    for choice in cls.model_fields["event_type"].annotation.__args__  # type: ignore[union-attr]
)


def _to_2025(event: EventBase) -> EventBase:
    if event.code_regime == CodeRegime.R2025:
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
    events: list[EventBase], indices: list[int] | None, rejected: list[Rejection], expected: str
) -> tuple[list[EventBase], list[Rejection]]:
    """Refuse events whose (2025) province differs from the record key."""
    kept: list[EventBase] = []
    for position, event in enumerate(events):
        if event.province_code == expected:
            kept.append(event)
            continue
        index = position if indices is None else indices[position]
        reason = f"event of province {event.province_code} sent under record key {expected!r}"
        blob = event.model_dump_json(exclude_defaults=True).encode()
        rejected.append(Rejection(index, str(event.event_id), "province_code", reason, blob))
    rejected.sort(key=lambda r: -1 if r.index is None else r.index)
    return kept, rejected
