"""The one validator used by the stream, the sink, the gateway and ``antt validate``.

Fast path: pydantic-core parses and validates a whole record (one event or a JSON array) in one
call, then a tight loop applies the cross-field rules. When something is wrong, the record is
split with orjson: the events pydantic named are rejected with its reasons, the others are
validated again together, so one bad event costs little and never stops the others.
"""

from __future__ import annotations

import gc
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from schemas import legacy, units
from schemas.enums import CodeRegime, Decision
from schemas.models import Event, EventBase, ReportResolved, rule_violation

logger = logging.getLogger(__name__)

MAX_BATCH_EVENTS = 1000
"""Most events one Kafka record (a JSON array) may carry."""
DEFAULT_FUTURE_TOLERANCE_S = 300

_ONE: TypeAdapter[Any] = TypeAdapter(Event)
_LIST: TypeAdapter[Any] = TypeAdapter(list[Event])


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
    """Valid events in input order, and one rejection per bad event (sorted by index)."""

    valid: list[EventBase] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.rejected


# Valid events plus their record indices (None: positional, i.e. nothing was dropped).
_Outcome = tuple[list[EventBase], list[int] | None, list[Rejection]]


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
    with _gc_paused():
        events, indices, rejected, plain = _validate(data, limit, max_events, expected_province)
    if plain:  # every event is a 2025 event of the expected province
        return ValidationReport(events, rejected)
    if any(e.code_regime is not CodeRegime.R2025 for e in events):
        events = [_to_2025(e) for e in events]
    if expected_province is not None and any(e.province_code != expected_province for e in events):
        events, rejected = _check_key(events, indices, rejected, expected_province, data)
    return ValidationReport(events, rejected)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while a batch's ~10^4 objects are built.

    Each model, dict, datetime and UUID is GC-tracked; left on, the collector runs dozens of
    times per 1000-event batch and halves throughput (bench/validate_bench.py). The objects
    are reference-counted as usual; the collector simply runs once afterwards. If the caller
    disabled the GC, it stays disabled.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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
        return _dump(raw)
    raise TypeError(f"cannot validate a {type(raw).__name__}")


def _validate(
    data: bytes, limit: datetime, max_events: int, key: str | None
) -> tuple[list[EventBase], list[int] | None, list[Rejection], bool]:
    """(valid, their indices, rejections, plain): ``plain`` means no post-processing needed."""
    array = data.lstrip()[:1] == b"["
    try:
        events = _LIST.validate_json(data) if array else [_ONE.validate_json(data)]
    except ValidationError as exc:
        return (*_recover(data, exc, array, limit, max_events), False)
    if len(events) > max_events:
        return [], None, [_oversized(len(events), max_events, data)], True
    state = _scan(events, limit, key)
    if state is not _BROKEN:
        return events, None, [], state is _PLAIN
    items = _parse_items(data)
    return (*_apply_rules(events, list(range(len(events))), items, limit), False)


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


def _apply_rules(
    events: list[EventBase], indices: list[int], items: list[Any], limit: datetime
) -> _Outcome:
    """Drop the events that break a cross-field rule, with a rejection each."""
    kept: list[EventBase] = []
    kept_indices: list[int] = []
    rejected: list[Rejection] = []
    for event, index in zip(events, indices, strict=True):
        broken = rule_violation(event, limit)
        if broken is None:
            kept.append(event)
            kept_indices.append(index)
            continue
        path, message = broken
        blob = _dump(items[index])
        rejected.append(Rejection(index, str(event.event_id), path, f"{path}: {message}", blob))
    return kept, kept_indices, rejected


def _parse_items(data: bytes) -> list[Any]:
    """The record's JSON values; raises ``ValueError`` when it is not UTF-8 JSON."""
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        # orjson refuses integers beyond 64 bits (valid JSON, wrong values) and invalid UTF-8.
        # The stdlib parser keeps bad bytes as lone surrogates, so that only the events holding
        # them are rejected (validate_one), not the whole batch.
        text = data.decode("utf-8", errors="surrogateescape")
        parsed = json.loads(text, parse_constant=_no_constants)
    return parsed if isinstance(parsed, list) else [parsed]


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _dump(value: Any) -> bytes:
    """JSON bytes of a parsed value; invalid UTF-8 kept as it came (surrogateescape)."""
    try:
        return orjson.dumps(value)
    except TypeError:  # integers beyond 64 bits, lone surrogates
        pass
    try:
        return json.dumps(value, ensure_ascii=False).encode("utf-8", errors="surrogateescape")
    except UnicodeEncodeError:
        return json.dumps(value).encode()


def _bad_text(value: Any, path: str = "") -> str | None:
    """Path of the first key or string holding invalid UTF-8 (a lone surrogate), or None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "(value)"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            where = _bad_text(key, "(key)") and f"{path}.(key)".lstrip(".")
            found = where or _bad_text(item, f"{path}.{key}".lstrip("."))
            if found:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _bad_text(item, f"{path}.{i}".lstrip("."))
            if found:
                return found
    return None


def _oversized(count: int, max_events: int, data: bytes) -> Rejection:
    reason = f"batch of {count} events exceeds the limit of {max_events}"
    return Rejection(None, None, "", reason, data)


def _recover(
    data: bytes, exc: ValidationError, array: bool, limit: datetime, max_events: int
) -> _Outcome:
    """Some event has a wrong shape: reject exactly those, keep validating the rest."""
    try:
        items = _parse_items(data)
    except ValueError as bad:  # orjson.JSONDecodeError, json.JSONDecodeError, UnicodeError
        return [], None, [Rejection(None, None, "", _unparseable_reason(data, bad), data)]
    if len(items) > max_events:
        return [], None, [_oversized(len(items), max_events, data)]
    errors = _errors_by_index(exc, array)
    good = [i for i in range(len(items)) if i not in errors] if errors is not None else []
    try:
        events = _LIST.validate_json(_dump([items[i] for i in good]))
    except ValidationError:
        events = None
    if errors is None or events is None:  # pydantic's errors could not be attributed
        return _one_by_one(items, limit)
    shape = [_shape_rejection(i, items[i], errors[i]) for i in errors]
    valid, indices, broken = _apply_rules(events, good, items, limit)
    return valid, indices, sorted(shape + broken, key=_by_index)


def _errors_by_index(exc: ValidationError, array: bool) -> dict[int, list[Any]] | None:
    grouped: dict[int, list[Any]] = {}
    for err in exc.errors(include_url=False, include_input=False):
        loc = err["loc"]
        if not array:
            grouped.setdefault(0, []).append(err)
        elif loc and isinstance(loc[0], int):
            grouped.setdefault(loc[0], []).append({**err, "loc": loc[1:]})
        else:
            return None
    return grouped


def _one_by_one(items: list[Any], limit: datetime) -> _Outcome:
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
    """Validate one parsed JSON value as an event; ``limit`` is now + future tolerance."""
    blob = _dump(item)
    bad = _bad_text(item)
    if bad is not None:
        event_id = _event_id_of(item)
        return Rejection(index, event_id, bad, f"{bad}: invalid UTF-8 (or lone surrogate)", blob)
    try:
        event = _ONE.validate_json(blob)
    except ValidationError as exc:
        return _shape_rejection(index, item, exc.errors(include_url=False, include_input=False))
    broken = rule_violation(event, limit)
    if broken is not None:
        path, message = broken
        return Rejection(index, str(event.event_id), path, f"{path}: {message}", blob)
    return event


def _shape_rejection(index: int, item: Any, errors: list[Any]) -> Rejection:
    blob = _dump(item)
    if not isinstance(item, dict):
        kind = type(item).__name__ if item is not None else "null"
        return Rejection(index, None, "", f"expected an event object, got {kind}", blob)
    path, reason = describe_errors(errors)
    return Rejection(index, _event_id_of(item), path, reason, blob)


def _event_id_of(item: Any) -> str | None:
    event_id = item.get("event_id") if isinstance(item, dict) else None
    if isinstance(event_id, str) and _bad_text(event_id) is None:
        return event_id[:64]
    return None


def describe_errors(errors: list[Any]) -> tuple[str, str]:
    """(path of the first error, "path: message; ..." for all errors) of one event."""
    parts = [(_path_of(err), err["msg"]) for err in errors]
    first = parts[0][0] if parts else ""
    return first, "; ".join(f"{p}: {m}" if p else m for p, m in parts)


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


def _by_index(rejection: Rejection) -> int:
    return -1 if rejection.index is None else rejection.index


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
    items = _parse_items(data)
    kept: list[EventBase] = []
    for position, event in enumerate(events):
        if event.province_code == expected:
            kept.append(event)
            continue
        index = position if indices is None else indices[position]
        reason = f"event of province {event.province_code} sent under record key {expected!r}"
        blob = _dump(items[index])
        rejected.append(Rejection(index, str(event.event_id), "province_code", reason, blob))
    return kept, sorted(rejected, key=_by_index)
