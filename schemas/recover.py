"""The validator's slow path: split a record that failed as a whole and judge each event.

Used only when something in a record is wrong, so it favours precise reasons over speed: the
events pydantic named are rejected with its messages, the others are validated again together.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from schemas.models import Event, EventBase, rule_violation
from schemas.report import Outcome, Rejection, by_index

ONE: TypeAdapter[Any] = TypeAdapter(Event)
LIST: TypeAdapter[Any] = TypeAdapter(list[Event])


def apply_rules(
    events: list[EventBase], indices: list[int], items: list[Any], limit: datetime
) -> Outcome:
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
        blob = dump(items[index])
        rejected.append(Rejection(index, str(event.event_id), path, f"{path}: {message}", blob))
    return kept, kept_indices, rejected


def parse_items(data: bytes) -> list[Any]:
    """The record's JSON values; raises ``ValueError`` when it is not UTF-8 JSON."""
    parsed: Any = _UNPARSED
    # orjson reads an integer beyond 64 bits as a float (an inexact value: the event would be
    # refused as "not an integer" instead of for its value), and refuses invalid UTF-8. Then
    # the stdlib parser, which keeps integers exact and bad bytes as lone surrogates, so that
    # only the events holding them are rejected (validate_one), not the whole batch.
    if _LONG_DIGITS.search(data) is None:
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    if parsed is _UNPARSED:
        text = data.decode("utf-8", errors="surrogateescape")
        try:
            parsed = json.loads(text, parse_constant=_no_constants)
        except RecursionError:  # hostile nesting: a refusal, never an exception for the caller
            raise ValueError(f"JSON nested deeper than {_MAX_DEPTH} levels") from None
    return parsed if isinstance(parsed, list) else [parsed]


_UNPARSED = object()
_LONG_DIGITS = re.compile(rb"\d{19}")  # (also in strings: then the exact parser, no harm)


_MAX_DEPTH = 1024  # orjson's limit; deeper values exhaust the stdlib parser's recursion


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


TOO_DEEP = b'"(value nested too deeply to keep)"'


def dump(value: Any) -> bytes:
    """JSON bytes of a parsed value; invalid UTF-8 kept as it came (surrogateescape).

    A value nested too deeply for the stdlib encoder gives the placeholder :data:`TOO_DEEP`.
    """
    try:
        return orjson.dumps(value)
    except TypeError:  # integers beyond 64 bits, lone surrogates, nesting beyond 254 levels
        pass
    try:
        return json.dumps(value, ensure_ascii=False).encode("utf-8", errors="surrogateescape")
    except UnicodeEncodeError:
        return json.dumps(value).encode()
    except RecursionError:
        return TOO_DEEP


def _bad_text(value: Any) -> str | None:
    """Path of the first key or string holding invalid UTF-8 (a lone surrogate), or None.

    Iterative (a stack, not recursion): any nesting depth that parsed is walked safely.
    """
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return path or "(value)"
        elif isinstance(value, dict):
            for key, item in reversed(value.items()):  # keys and values in document order
                stack.append((item, f"{path}.{key}".lstrip(".")))
                stack.append((key, f"{path}.(key)".lstrip(".")))
        elif isinstance(value, list):
            stack.extend((value[i], f"{path}.{i}".lstrip(".")) for i in reversed(range(len(value))))
    return None


def oversized(count: int, max_events: int, data: bytes) -> Rejection:
    reason = f"batch of {count} events exceeds the limit of {max_events}"
    return Rejection(None, None, "", reason, data)


def recover(
    data: bytes, exc: ValidationError, array: bool, limit: datetime, max_events: int
) -> Outcome:
    """Some event has a wrong shape: reject exactly those, keep validating the rest."""
    try:
        items = parse_items(data)
    except ValueError as bad:  # orjson.JSONDecodeError, json.JSONDecodeError, UnicodeError
        return [], None, [Rejection(None, None, "", unparseable_reason(data, bad), data)]
    if len(items) > max_events:
        return [], None, [oversized(len(items), max_events, data)]
    errors = _errors_by_index(exc, array)
    good = [i for i in range(len(items)) if i not in errors] if errors is not None else []
    try:
        events = LIST.validate_json(dump([items[i] for i in good]))
    except ValidationError:
        events = None
    if errors is None or events is None:  # pydantic's errors could not be attributed
        return _one_by_one(items, limit)
    shape = [_shape_rejection(i, items[i], errors[i]) for i in errors]
    valid, indices, broken = apply_rules(events, good, items, limit)
    return valid, indices, sorted(shape + broken, key=by_index)


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


def _one_by_one(items: list[Any], limit: datetime) -> Outcome:
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


def unparseable_reason(data: bytes, exc: Exception) -> str:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as bad:
        return f"invalid UTF-8 at byte {bad.start}: {bad.reason}"
    return f"not valid JSON: {exc}"


def validate_one(item: Any, *, index: int, limit: datetime) -> EventBase | Rejection:
    """Validate one parsed JSON value as an event; ``limit`` is now + future tolerance."""
    blob = dump(item)
    if blob is TOO_DEEP:
        reason = "value nested too deeply to be an event"
        return Rejection(index, _event_id_of(item), "", reason, blob)
    bad = _bad_text(item)
    if bad is not None:
        event_id = _event_id_of(item)
        return Rejection(index, event_id, bad, f"{bad}: invalid UTF-8 (or lone surrogate)", blob)
    try:
        event = ONE.validate_json(blob)
    except ValidationError as exc:
        return _shape_rejection(index, item, exc.errors(include_url=False, include_input=False))
    broken = rule_violation(event, limit)
    if broken is not None:
        path, message = broken
        return Rejection(index, str(event.event_id), path, f"{path}: {message}", blob)
    return event


def _shape_rejection(index: int, item: Any, errors: list[Any]) -> Rejection:
    blob = dump(item)
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
