"""The validator's fast path: one pydantic-core call per record, then one tight loop.

The fast schema is a copy of the models' own core schema that builds the same model classes,
except that ``occurred_at`` / ``recorded_at`` stay strings of the usual RFC 3339 shape: the scan
turns them into :class:`datetime.datetime` with ``datetime.fromisoformat`` (standard-library
fixed offsets, like the models' own schema gives) and checks the time rules on the text first,
which avoids most cross-offset datetime comparisons (~0.5-1 us each). Whatever the fast path
cannot settle exactly (a shape error, an impossible date, a broken rule) is left to the
reference path in :mod:`schemas.validate`, so reasons, paths and indexes never differ
(tests/unit/schemas/test_validate_fast_path.py compares both on generated batches).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any

from pydantic_core import SchemaValidator, core_schema

from schemas import units
from schemas.enums import CodeRegime, Decision
from schemas.models import EVENT_CLASSES, ReportResolved, rule_violation
from schemas.recover import LIST, ONE

logger = logging.getLogger(__name__)

PLAIN, NOT_PLAIN, BROKEN = "plain", "not plain", "broken"
"""Scan outcomes. ``PLAIN``: all rules hold and every event is a 2025 event of the record key's
province; ``NOT_PLAIN``: all rules hold, but some event is legacy or of another province;
``BROKEN``: some event breaks a rule."""
BOUND_REUSE = timedelta(seconds=60)  # how long a limit's text may stand in for later limits

# RFC 3339 times of the usual shape, on which ``datetime.fromisoformat`` and pydantic's strict
# datetime parser agree exactly (tests/unit/schemas/test_validate_fast_path.py); a time of any other
# shape sends its event the reference way.
TIME_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
    r"(Z|[+-][0-9]{2}:[0-5][0-9])$"
)
_TIMES = ("occurred_at", "recorded_at")


def _fast_copy(node: Any) -> Any:
    """A copy of a core schema whose events keep their two times as strings of that shape."""
    if isinstance(node, list):
        return [_fast_copy(item) for item in node]
    if not isinstance(node, dict):
        return node
    copied = {key: _fast_copy(value) for key, value in node.items()}
    if copied.get("type") == "model-fields":
        for name in _TIMES:
            field = copied["fields"][name]
            field["schema"] = core_schema.str_schema(strict=True, pattern=TIME_PATTERN)
    return copied


def _fast_validator(schema: Any) -> SchemaValidator:
    """A validator of the fast copy of ``schema`` that builds the very same model classes.

    pydantic-core reuses a complete model class's own validator for a ``model`` schema naming
    that class (its "prebuilt" shortcut), which would ignore the copied fields: the classes
    are marked incomplete while the copy is built.
    """
    classes = [cls for cls in EVENT_CLASSES if cls.__dict__.get("__pydantic_complete__")]
    try:
        for cls in classes:
            type.__setattr__(cls, "__pydantic_complete__", False)
        return SchemaValidator(schema)
    finally:
        for cls in classes:
            type.__setattr__(cls, "__pydantic_complete__", True)


def _list_of_events_or_values(schema: Any) -> Any:
    """A list schema whose items are events or, failing that, any JSON value as it is: one pass
    gives the valid events and the items to judge alone (no second validation of the rest)."""
    schema = _fast_copy(schema)
    schema["items_schema"] = core_schema.union_schema(
        [schema["items_schema"], core_schema.any_schema()], mode="left_to_right"
    )
    return schema


FAST_ONE = _fast_validator(_fast_copy(ONE.core_schema))
FAST_LIST = _fast_validator(_list_of_events_or_values(LIST.core_schema))
"""Events of a JSON array; an item that is not a valid event comes back as its JSON value."""


def _self_check() -> bool:
    """Whether the fast schema keeps the times as text (a pydantic change could stop that)."""
    sample = (
        b'[{"event_id":"00000000-0000-4000-8000-000000000000","event_type":"report_triaged",'
        b'"schema_version":1,"incident_id":"a1b2c3d4e5f6g7h8","province_code":"01",'
        b'"commune_code":"00070","occurred_at":"2026-11-20T09:30:00+07:00",'
        b'"recorded_at":"2026-11-20T09:31:00+07:00","source_system":"hn-qlvv-1",'
        b'"outcome":"accepted"}]'
    )
    try:
        (event,) = FAST_LIST.validate_json(sample)
        one = FAST_ONE.validate_json(sample[1:-1])
    except ValueError:
        return False
    ok = all(isinstance(e.__dict__.get(name), str) for e in (event, one) for name in _TIMES)
    if not ok:
        logger.warning("validator fast path off: the fast schema no longer keeps times as text")
    return ok


FAST_READY = _self_check()
"""False: :func:`schemas.validate_batch` takes the reference path for every record."""


_ZONES: dict[str, timezone | None] = {}  # "+07:00" -> its fixed offset; None: not an offset


def _zone(suffix: str) -> timezone | None:
    zone = _ZONES.get(suffix, _ZONES)
    if zone is _ZONES:
        zone = None
        if suffix[0] in "+-" and suffix[3] == ":":
            offset = timedelta(hours=int(suffix[1:3]), minutes=int(suffix[4:6]))
            if offset < timedelta(hours=24):
                zone = timezone(-offset if suffix[0] == "-" else offset)
        if len(_ZONES) < 4096:  # (senders use a handful of offsets)
            _ZONES[suffix] = zone
    return zone  # type: ignore[return-value]


def _local_bound(suffix: str, limit: datetime) -> str:
    """``limit`` as RFC 3339 text in the UTC offset ``suffix`` ("+07:00"), or "" if ``suffix``
    is not an offset. Two times of one offset compare as text: if the text of ``a`` sorts at
    or before that of ``b``, ``a <= b`` (a shorter fraction sorts first; "53.50" after "53.5"
    is a false "no", which the exact comparison then corrects)."""
    zone = _zone(suffix)
    if zone is None:
        return ""
    try:
        return limit.astimezone(zone).isoformat()[:-6] + suffix
    except OverflowError:  # a limit near the year 9999
        return ""


_BOUNDS: dict[str, tuple[datetime, datetime, str]] = {}  # suffix -> (limit, reuse until, text)


def _bound(suffix: str, limit: datetime) -> str:
    """A text bound for ``recorded_at`` in offset ``suffix``: the local text of ``limit`` or of
    an earlier limit (a time at or before an earlier limit is before this one too). Computing
    one costs ~1 us, so a bound is reused for :data:`BOUND_REUSE` of later limits: with
    ``limit = now + tolerance``, times recorded up to ``now`` still pass on the text."""
    cached = _BOUNDS.get(suffix)
    if cached is not None and cached[0] <= limit <= cached[1]:
        return cached[2]
    text = _local_bound(suffix, limit)
    if text and (suffix in _BOUNDS or len(_BOUNDS) < 64):
        _BOUNDS[suffix] = (limit, limit + BOUND_REUSE, text)
    return text


def fast_scan(
    events: list[Any], limit: datetime, key: str | None
) -> tuple[str, list[int], list[int]] | None:
    """The reference scan (``schemas.validate._scan``) for the fast schema's events, turning
    their time strings into datetimes on the way. ``None``: a time is not a real one (e.g.
    2026-02-30), the reference path says why. Times of one offset are compared as text first
    (see :func:`_local_bound`). Returns the outcome of the events, the positions of those
    that are not plain (only those can break a rule) and of the items that are no valid
    events (plain JSON values from :data:`FAST_LIST`)."""
    parse, owner = datetime.fromisoformat, units.province_or_none
    r2025, suspend, resolved = CodeRegime.R2025, Decision.SUSPEND, ReportResolved
    bounds: dict[str, str] = {}
    state = PLAIN
    suspects: list[int] = []
    unread: list[int] = []
    try:
        for position, e in enumerate(events):
            try:
                fields = e.__dict__
            except AttributeError:  # a JSON value (dict, list, str...), not an event
                unread.append(position)
                continue
            occurred, recorded = fields["occurred_at"], fields["recorded_at"]
            fields["occurred_at"] = parse(occurred)
            fields["recorded_at"] = parse(recorded)
            suffix = recorded[-6:]
            bound = bounds.get(suffix)
            if bound is None:
                bound = bounds[suffix] = _bound(suffix, limit)
            province = fields["province_code"]
            if (
                (
                    (bound and occurred[-6:] == suffix and occurred <= recorded <= bound)
                    or fields["occurred_at"] <= fields["recorded_at"] <= limit
                )
                and fields["code_regime"] is r2025
                and owner(fields["commune_code"]) == province
                and (key is None or province == key)
                and (
                    fields["corrects_event_id"] is None
                    or fields["corrects_event_id"] != fields["event_id"]
                )
                and fields["legacy_commune_code"] is None
                and fields["legacy_province_code"] is None
                and (
                    type(e) is not resolved
                    or (fields["decision"] is suspend) is (fields["suspension_reason"] is not None)
                )
            ):
                continue
            suspects.append(position)
            if state is not BROKEN:
                state = BROKEN if rule_violation(e, limit) is not None else NOT_PLAIN
    except ValueError:
        return None
    return state, suspects, unread
