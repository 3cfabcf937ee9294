"""Dead letters always fit in one Kafka record (I4): oversize raw text is cut and summarised."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import orjson
import pytest

from streams.logic.calendar import LocalCalendar
from streams.runtime import Runtime

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=timezone(timedelta(hours=7))).timestamp()
LIMIT = 100_000


@pytest.mark.parametrize("raw", [
    b"[" + b"x" * 300_000,  # not JSON
    b"\x01" * 200_000,  # JSON-escaped 6 times larger
    b"\xff" * 200_000,  # not UTF-8: base64
    ("\u1ea0" * 70_000).encode(),  # multi-byte UTF-8, cut mid-character
])
def test_oversize_raw_is_truncated_with_size_and_sha256(raw: bytes) -> None:
    runtime = Runtime(LocalCalendar(), "antt.events.v1", dlq_max_bytes=LIMIT)
    (letter,) = runtime.process(raw, b"01", 0, 9, NOW).dead_letters
    assert len(letter) <= LIMIT
    data = orjson.loads(letter)
    assert data["raw_truncated"] is True
    assert data["raw_size"] == len(raw)
    assert data["raw_sha256"] == hashlib.sha256(raw).hexdigest()
    assert data["source"] == {"topic": "antt.events.v1", "partition": 0, "offset": 9}
    assert data["reason"]
    prefix = (data["raw"].encode() if data["raw_encoding"] == "utf-8"
              else __import__("base64").b64decode(data["raw"]))
    assert prefix and raw.startswith(prefix)
    assert runtime.stats["letters_truncated"] == 1


def test_small_letters_carry_the_whole_record() -> None:
    runtime = Runtime(LocalCalendar(), "antt.events.v1", dlq_max_bytes=LIMIT)
    raw = b"[" + b"x" * 1000
    (letter,) = runtime.process(raw, b"01", 0, 0, NOW).dead_letters
    data = orjson.loads(letter)
    assert data["raw"].encode() == raw and "raw_truncated" not in data
