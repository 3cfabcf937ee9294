"""The plain lane: a record whose every event is valid and plain, as dicts instead of models.

The live worker needs only a few fields of each event (``streams/logic/facts.py``), and for
it building nine pydantic model classes' instances, ``UUID`` and enum objects is most of the
validator's cost. :func:`plain_events` validates a record with the very same constraints as
the models (a copy of their core schema whose events are typed dicts, UUIDs canonical
lowercase text, enum members their values, times RFC 3339 text of the usual shape) and
applies the same cross-field rules; it answers only for a record it can settle completely:

- a JSON array of at most ``max_events`` events, every one valid under the contract;
- every event plain: 2025 codes of ``expected_province``, no legacy fields, no rule broken.

Anything else (a bad event, a legacy code, a single event object, an unusual but valid
spelling such as an uppercase UUID) gives ``None``: the caller then runs
:func:`schemas.validate_batch`, which says why. So the lane never has reasons of its own and
can only be wrong by accepting what the validator refuses, or by reading a value differently:
tests/unit/schemas/test_validate_plain.py holds it to ``validate_batch`` on generated batches.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic_core import SchemaValidator, ValidationError, core_schema

from antt.perf import gc_paused
from schemas import units
from schemas.fastpath import _bound, _fast_copy
from schemas.recover import LIST
from schemas.validate import _GC_PAUSE_MIN_BYTES, tolerance_of

UUID_TEXT = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
"""The canonical spelling, the one ``str(uuid)`` gives; pydantic accepts more (uppercase,
no hyphens, braces), which the lane leaves to the validator."""


def _as_dicts(node: Any) -> Any:
    """A copy of a core schema with typed dicts for models, text for UUIDs, values for enums."""
    if isinstance(node, list):
        return [_as_dicts(item) for item in node]
    if not isinstance(node, dict):
        return node
    kind = node.get("type")
    if kind == "model":
        if node["config"].get("extra_fields_behavior") != "forbid":
            raise ValueError("the plain lane expects models that forbid extra fields")
        fields = {
            name: core_schema.typed_dict_field(
                _as_dicts(field["schema"]), required=field["schema"]["type"] != "default"
            )
            for name, field in node["schema"]["fields"].items()
        }
        return core_schema.typed_dict_schema(fields, extra_behavior="forbid", total=True)
    if kind == "uuid":
        return core_schema.str_schema(strict=True, pattern=UUID_TEXT)
    if kind == "enum":
        return core_schema.literal_schema([member.value for member in node["members"]])
    if kind == "default":  # (a default enum member becomes its value too)
        default = node["default"]
        copied = {key: _as_dicts(value) for key, value in node.items() if key != "default"}
        return {**copied, "default": getattr(default, "value", default)}
    return {key: _as_dicts(value) for key, value in node.items()}


PLAIN_LIST = SchemaValidator(_as_dicts(_fast_copy(LIST.core_schema)))
"""A JSON array of events as dicts: every field present (defaults filled), times as text."""


def plain_events(
    raw: bytes,
    *,
    now: datetime,
    expected_province: str,
    future_tolerance_s: float,
    max_events: int,
) -> list[dict[str, Any]] | None:
    """The record's events as dicts with ``occurred_at`` / ``recorded_at`` as aware datetimes
    (standard-library offsets), if every event is valid and plain; else ``None``."""
    if type(raw) is not bytes or raw[:1] != b"[":
        return None
    try:
        if len(raw) < _GC_PAUSE_MIN_BYTES:
            events = PLAIN_LIST.validate_json(raw)
        else:
            with gc_paused():
                events = PLAIN_LIST.validate_json(raw)
    except ValidationError:
        return None
    if not 0 < len(events) <= max_events:
        return None
    limit = now + tolerance_of(future_tolerance_s)
    return events if _all_plain(events, limit, expected_province) else None


def _all_plain(events: list[dict[str, Any]], limit: datetime, key: str) -> bool:
    """The cross-field rules of ``schemas.models.rule_violation``, and "plain", for every
    event; times parsed in place. Times of one offset compare as text first, as in
    :func:`schemas.fastpath.fast_scan`."""
    parse, owner = datetime.fromisoformat, units.province_or_none
    bounds: dict[str, str] = {}
    try:
        for e in events:
            occurred, recorded = e["occurred_at"], e["recorded_at"]
            e["occurred_at"] = occurred_at = parse(occurred)
            e["recorded_at"] = recorded_at = parse(recorded)
            suffix = recorded[-6:]
            bound = bounds.get(suffix)
            if bound is None:
                bound = bounds[suffix] = _bound(suffix, limit)
            corrects = e["corrects_event_id"]
            if not (
                (
                    (bound and occurred[-6:] == suffix and occurred <= recorded <= bound)
                    or occurred_at <= recorded_at <= limit
                )
                and e["code_regime"] == "2025"
                and e["province_code"] == key
                and owner(e["commune_code"]) == key
                and (corrects is None or corrects != e["event_id"])
                and e["legacy_commune_code"] is None
                and e["legacy_province_code"] is None
                and (
                    e["event_type"] != "report_resolved"
                    or (e["decision"] == "suspend") is (e["suspension_reason"] is not None)
                )
            ):
                return False
    except ValueError:  # an impossible date such as 2026-02-30
        return False
    return True
