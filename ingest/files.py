"""Reading event files for ``antt send``: JSON array or NDJSON, optionally gzip-compressed."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from ingest.body import ndjson_items
from ingest.kafka import Record, batch_records
from ingest.sorting import Refusal, judge_items


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
    if data.lstrip()[:1] != b"[":
        return ndjson_items(data)
    try:
        return list(orjson.loads(data))
    except orjson.JSONDecodeError as exc:
        if _second_line_is_json(data):  # NDJSON whose first line holds an array
            return ndjson_items(data)
        raise EventFileError(f"{path}: not valid JSON ({exc})") from None


def _second_line_is_json(data: bytes) -> bool:
    """Tells NDJSON from a broken (e.g. truncated, pretty-printed) JSON array."""
    second = data.split(b"\n", 2)[1:2]
    try:
        orjson.loads(second[0])  # IndexError: a single line
    except (IndexError, orjson.JSONDecodeError):
        return False
    return True


def check_items(
    items: list[object],
    validate: Callable[..., Any],
    *,
    now: datetime,
    expected_province: str | None = None,
) -> CheckedFile:
    """Validate every item (1000 at a time); keep the valid ones keyed by 2025 province."""
    checked = CheckedFile(total=len(items))
    for index, verdict in judge_items(items, validate, now=now):
        if isinstance(verdict, Refusal):
            checked.rejected.append(verdict)
        elif expected_province and verdict.province_code != expected_province:
            checked.rejected.append(Refusal(
                index, str(verdict.event_id), "province_code",
                f"province {verdict.province_code} is not {expected_province}",
            ))
        else:
            checked.valid.append((verdict.province_code, items[index]))  # type: ignore[arg-type]
    checked.rejected.sort(key=lambda r: r.index)
    return checked
