"""Dead letters of the live worker: what a refused record or event becomes on the DLQ topic.

A letter is one JSON object: ``reason``, ``path``, ``index`` (the event's position in its
record, ``None`` for the whole record), ``event_id``, ``source`` (topic, partition, offset)
and the refused bytes as ``raw`` (UTF-8 text, or base64 with ``raw_encoding``). A letter
that would not fit in one Kafka record carries a prefix of the bytes with ``raw_truncated``,
``raw_size`` and ``raw_sha256``; the original stays readable in the source topic.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import orjson

MISROUTED = "province on a second partition"
OUTSIDE_WINDOW = "outside the live acceptance window"


def raw_fields(raw: bytes) -> dict[str, str]:
    """``raw`` as UTF-8 text when it is (a prefix cut inside a character counts), else base64."""
    try:
        return {"raw": raw.decode("utf-8"), "raw_encoding": "utf-8"}
    except UnicodeDecodeError as exc:
        if exc.start >= len(raw) - 3:  # a prefix that cut a character in two
            return {"raw": raw[: exc.start].decode("utf-8"), "raw_encoding": "utf-8"}
        return {"raw": base64.b64encode(raw).decode("ascii"), "raw_encoding": "base64"}


def encode(letter: dict[str, Any], raw: bytes, max_bytes: int) -> tuple[bytes, bool]:
    """The letter with its bytes, and whether they had to be cut to stay under ``max_bytes``."""
    encoded = orjson.dumps({**letter, **raw_fields(raw)})
    if len(encoded) <= max_bytes:
        return encoded, False
    keep = max(0, (max_bytes - len(orjson.dumps(letter)) - 400) // 8)
    return orjson.dumps({**letter, **raw_fields(raw[:keep]), "raw_truncated": True,
                         "raw_size": len(raw),
                         "raw_sha256": hashlib.sha256(raw).hexdigest()}), True


def misrouted_reason(province: str, home: int, topic: str, partition: int) -> str:
    """Why a record of ``province`` that came on ``partition`` instead of ``home`` is refused."""
    return (
        f"{MISROUTED}: province {province} belongs to partition {home} of "
        f"{topic}, this record came on partition {partition}; all records of a "
        "province must carry its code as key and use Kafka's default (murmur2) "
        "partitioner. NOT counted in the live figures, although the ClickHouse sink "
        "stores its valid events: live and ClickHouse differ by this record until it is "
        "resent on the province's partition (docs/operations.md)"
    )
