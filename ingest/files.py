"""Reading event files for ``antt send``: JSON array or NDJSON, optionally gzip-compressed."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from ingest.body import Unparseable
from ingest.kafka import Record, batch_records
from ingest.sorting import Refusal

VALIDATE_CHUNK = 1000


class EventFileError(ValueError):
    """The file cannot be read as events at all."""


@dataclass
class CheckedFile:
    """The valid events (with their 2025 province) and the refusals of one file."""

    total: int = 0
    valid: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    rejected: list[Refusal] = field(default_factory=list)

    def records(self) -> list[Record]:
        return list(batch_records(self.valid))


def read_items(path: Path) -> list[object]:
    """The items of a file; NDJSON lines that are not JSON become :class:`Unparseable`."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise EventFileError(f"{path}: broken gzip ({exc})") from None
    head = data.lstrip()[:1]
    if head == b"[":
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise EventFileError(f"{path}: not valid JSON ({exc})") from None
        return list(value)
    items: list[object] = []
    for line in data.split(b"\n"):
        line = line.strip()
        if not line:
            continue
        try:
            items.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            items.append(Unparseable(f"line is not valid JSON: {exc}", line))
    return items


def check_items(
    items: list[object],
    validate: Callable[..., Any],
    *,
    now: datetime,
    expected_province: str | None = None,
) -> CheckedFile:
    """Validate every item (1000 at a time); keep the valid ones keyed by 2025 province."""
    checked = CheckedFile(total=len(items))
    positions = [i for i, item in enumerate(items) if not isinstance(item, Unparseable)]
    for i, item in enumerate(items):
        if isinstance(item, Unparseable):
            checked.rejected.append(Refusal(i, None, "", item.reason))
    for start in range(0, len(positions), VALIDATE_CHUNK):
        chunk = positions[start:start + VALIDATE_CHUNK]
        report = validate([items[i] for i in chunk], now=now)
        bad = set()
        for r in report.rejected:
            bad.add(r.index)
            checked.rejected.append(Refusal(chunk[r.index], r.event_id, r.path, r.reason))
        good = [pos for pos in range(len(chunk)) if pos not in bad]
        for pos, event in zip(good, report.valid, strict=True):
            original = chunk[pos]
            if expected_province and event.province_code != expected_province:
                checked.rejected.append(Refusal(
                    original, str(event.event_id), "province_code",
                    f"province {event.province_code} is not {expected_province}",
                ))
                continue
            checked.valid.append((event.province_code, items[original]))  # type: ignore[arg-type]
    checked.rejected.sort(key=lambda r: r.index)
    return checked
