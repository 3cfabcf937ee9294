"""Events -> rows of ``events_raw`` (pure: no I/O, no clock of its own).

Columns follow :data:`COLUMNS`. Type-specific fields an event does not have become
``''`` or ``0``, matching the table's defaults. ``event_date`` is not sent: the table derives it
from ``occurred_at`` in the statistics time zone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from itertools import repeat
from operator import add, attrgetter, floordiv, itemgetter
from typing import Any

from antt.perf import gc_paused

# (column, event attribute, default when the event type does not carry it)
_FIELDS: tuple[tuple[str, str, Any], ...] = (
    ("event_id", "event_id", None),
    ("event_type", "event_type", None),
    ("schema_version", "schema_version", 1),
    ("incident_id", "incident_id", None),
    ("province_code", "province_code", None),
    ("commune_code", "commune_code", None),
    ("code_regime", "code_regime", "2025"),
    ("legacy_province_code", "legacy_province_code", ""),
    ("legacy_commune_code", "legacy_commune_code", ""),
    ("occurred_at", "occurred_at", None),
    ("recorded_at", "recorded_at", None),
    ("source_system", "source_system", ""),
    ("corrects_event_id", "corrects_event_id", None),
    ("source_type", "source_type", ""),
    ("channel", "channel", ""),
    ("crime_group", "crime_group", ""),
    ("severity", "severity", ""),
    ("outcome", "outcome", ""),
    ("handled_by", "handled_by", ""),
    ("extension", "extension", ""),
    ("months", "months", 0),
    ("decision", "decision", ""),
    ("suspension_reason", "suspension_reason", ""),
    ("resume_reason", "reason", ""),
    ("suspects_count", "suspects_count", 0),
    ("apprehended_count", "count", 0),
    ("admin_field", "field", ""),
    ("violations_detected", "violations_detected", 0),
    ("violations_sanctioned", "violations_sanctioned", 0),
    ("violators", "violators", 0),
    ("fine_vnd", "fine_vnd", 0),
)
EVENT_COLUMNS: tuple[str, ...] = tuple(name for name, _attr, _default in _FIELDS)
META_COLUMNS = ("kafka_topic", "kafka_partition", "kafka_offset", "ingested_at")
COLUMNS: tuple[str, ...] = EVENT_COLUMNS + META_COLUMNS
"""Columns the sink writes into ``events_raw`` (and the order of a row tuple)."""

_NULLABLE = frozenset({"corrects_event_id"})
_TIME_COLUMNS = tuple(EVENT_COLUMNS.index(c) for c in ("occurred_at", "recorded_at"))
# Non-string column types of events_raw (every other column is a String on the wire).
_TYPES = {
    "event_id": "UUID", "schema_version": "UInt8", "occurred_at": "DateTime64(3, 'UTC')",
    "recorded_at": "DateTime64(3, 'UTC')", "corrects_event_id": "Nullable(UUID)",
    "months": "UInt8", "suspects_count": "UInt32", "apprehended_count": "UInt32",
    "violations_detected": "UInt32", "violations_sanctioned": "UInt32", "violators": "UInt32",
    "fine_vnd": "UInt64", "kafka_partition": "UInt32", "kafka_offset": "UInt64",
    "ingested_at": "DateTime64(3, 'UTC')",
}


def _group_by_type(events: Sequence[dict[str, Any]]) -> dict[Any, list[int]]:
    """Indices of ``events`` per (event_type, field count): one model class per group."""
    groups: dict[Any, list[int]] = {}
    for i, d in enumerate(events):
        key = (d["event_type"], len(d))
        group = groups.get(key)
        if group is None:
            groups[key] = group = []
        group.append(i)
    return groups


def _group_columns(group: list[dict[str, Any]]) -> list[list[Any]]:
    """:data:`EVENT_COLUMNS` of events of one model class (the same keys in every dict).

    One ``itemgetter`` call per event takes all its fields (C speed); a column the class does
    not have is its default repeated. A dict missing a key of the first one (not one class
    after all) falls back to per-field ``get``.
    """
    n = len(group)
    keys = group[0].keys()
    present = [attr for _name, attr, _default in _FIELDS if attr in keys]
    try:  # (present always holds the common fields, so itemgetter returns tuples)
        got = list(zip(*map(itemgetter(*present), group), strict=True))
    except KeyError:
        got = [tuple(d.get(attr) for d in group) for attr in present]
    by_attr = dict(zip(present, got, strict=True))
    out = []
    for name, attr, default in _FIELDS:
        col = by_attr.get(attr)
        if col is None:
            out.append([None if name in _NULLABLE else default] * n)
        elif default is not None and name not in _NULLABLE and None in col:
            out.append([default if v is None else v for v in col])
        else:
            out.append(list(col))
    return out


def event_columns(events: Sequence[dict[str, Any]]) -> tuple[list[list[Any]], list[int]]:
    """The :data:`EVENT_COLUMNS` of ``events`` (validated models' ``__dict__``), column-wise,
    and the order of the rows: grouped by event type (``order[j]`` is the index in ``events``
    of row ``j``). Row order does not matter to ClickHouse; grouping lets each event be read
    with one C-level call instead of 31 ``dict.get`` calls.
    """
    columns: list[list[Any]] = [[] for _ in _FIELDS]
    order: list[int] = []
    for idx in _group_by_type(events).values():
        order.extend(idx)
        for col, part in zip(columns, _group_columns([events[i] for i in idx]), strict=True):
            col.extend(part)
    return columns, order


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_ID_INT = attrgetter("int")
_EVENT_ID = itemgetter("event_id")
_DICT = attrgetter("__dict__")


def ms_ticks(moment: datetime) -> int:
    """Milliseconds since the epoch: what a ``DateTime64(3)`` column stores."""
    return (moment - _EPOCH) // _MS


def batch_columns(events: Sequence[dict[str, Any]], topic: str, partition: int,
                  offsets: Sequence[int], ingested_at: datetime) -> list[list[Any]]:
    """All :data:`COLUMNS` for ``events`` read at ``offsets`` of ``topic``/``partition``.

    Rows come grouped by event type (each row keeps its own offset). Times go out as
    millisecond ticks (the client then writes them as they are).
    """
    n = len(events)
    with gc_paused():
        columns, order = event_columns(events)
        for i in _TIME_COLUMNS:
            columns[i] = [(t - _EPOCH) // _MS for t in columns[i]]
    return [*columns, [topic] * n, [partition] * n, [offsets[i] for i in order],
            [ms_ticks(ingested_at)] * n]


def insert_types() -> list[str]:
    """Wire types for the insert: ``LowCardinality(String)`` columns go out as ``String``
    (the server builds the dictionaries, far faster than the Python client)."""
    return [_TYPES.get(name, "String") for name in COLUMNS]


def local_date(moment: datetime, tz: tzinfo) -> date:
    return moment.astimezone(tz).date()


@dataclass
class Batch:
    """Events read from one partition, records ``first_offset``..``last_offset`` (inclusive).

    ``events`` are validated models' ``__dict__``; ``offsets[i]`` is the offset of the record
    that carried ``events[i]``.
    """

    topic: str
    partition: int
    first_offset: int
    last_offset: int
    events: list[dict[str, Any]] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)

    @property
    def token(self) -> str:
        """Deduplication token: the same records always give the same token."""
        return f"{self.topic}:{self.partition}:{self.first_offset}-{self.last_offset}"

    def part_token(self, lo: int, hi: int) -> str:
        """Token of events ``lo..hi-1`` of this batch (used while bisecting poison rows)."""
        return f"{self.token}:rows:{lo}-{hi}"

    def add(self, event: dict[str, Any], offset: int) -> None:
        self.events.append(event)
        self.offsets.append(offset)
        self.last_offset = max(self.last_offset, offset)

    def extend(self, models: Sequence[Any], offset: int) -> None:
        """Add validated models (their ``__dict__``), all read at ``offset``: :meth:`add`
        without a Python call per event."""
        self.events += map(_DICT, models)
        self.offsets += repeat(offset, len(models))
        self.last_offset = max(self.last_offset, offset)

    def columns(self, ingested_at: datetime, lo: int = 0, hi: int | None = None
                ) -> list[list[Any]]:
        return batch_columns(self.events[lo:hi], self.topic, self.partition,
                             self.offsets[lo:hi], ingested_at)

    def keep(self, indices: Iterable[int]) -> Batch:
        """The same batch (same offsets and token) with only the events at ``indices``."""
        idx = list(indices)
        return Batch(self.topic, self.partition, self.first_offset, self.last_offset,
                     [self.events[i] for i in idx], [self.offsets[i] for i in idx])


def first_of_each_id(events: Sequence[dict[str, Any]]) -> list[int]:
    """Indices keeping the first event of every event_id (a resend in one batch counts once)."""
    return first_of_each(event_ids(events))


def event_ids(events: Sequence[dict[str, Any]]) -> list[int]:
    """The events' ``event_id`` as 128-bit integers (``uuid.int``: hashed in C, unlike a UUID)."""
    return list(map(_ID_INT, map(_EVENT_ID, events)))


def first_of_each(ids: Sequence[int]) -> list[int]:
    """Indices of the first occurrence of every id, in order."""
    n = len(ids)
    first = dict(zip(reversed(ids), range(n - 1, -1, -1), strict=True))  # the earliest wins
    if len(first) == n:
        return list(range(n))
    return sorted(first.values())


_DAY_MS = 86_400_000
_HOUR_MS = 3_600_000


def local_days(ticks: Sequence[int], tz: tzinfo) -> list[int]:
    """Local dates in ``tz`` (days since 1970-01-01, ClickHouse's ``Date`` number) of
    millisecond ``ticks``; exact across offset changes (each hour's offset is checked at
    both ends; an hour holding a change is converted instant by instant)."""
    hours = list(map(floordiv, ticks, repeat(_HOUR_MS)))
    offsets: dict[int, int] = {}
    mixed = False
    for hour in set(hours):
        first, last = (_offset_ms(hour * _HOUR_MS + d, tz) for d in (0, _HOUR_MS - 1))
        offsets[hour] = first
        mixed |= first != last
    if mixed:
        return [(t + _offset_ms(t, tz)) // _DAY_MS for t in ticks]
    return list(map(floordiv, map(add, ticks, map(offsets.__getitem__, hours)),
                    repeat(_DAY_MS)))


def _offset_ms(tick: int, tz: tzinfo) -> int:
    moment = _EPOCH + timedelta(milliseconds=tick)
    offset = moment.astimezone(tz).utcoffset()
    assert offset is not None
    return offset // _MS


_DATE_EPOCH = date(1970, 1, 1).toordinal()


def day_date(day: int) -> date:
    """The date of a :func:`local_days` number."""
    return date.fromordinal(_DATE_EPOCH + day)
