"""Checkpoint records: how a province's facts are stored in the ``live_facts_by_province`` table.

Exactly-once effect without Kafka transactions:

- the live state of a province is a function of its accepted facts (``streams/logic``);
- every flush interval, the facts accepted since the last flush are written as ONE table
  record per province (a *chunk*; split at :data:`MAX_FACTS_PER_CHUNK`), key
  ``"<partition>:<province>:<seq>"``, value = JSON with the facts and ``wm``, the highest source
  position (``offset * 1024 + index``) whose decision the chunk covers;
- the source records are acked only after that, and Faust flushes the producer (changelog)
  before it commits source offsets: a committed offset never runs ahead of the checkpoint;
- after a crash the state is rebuilt from the chunks, and the source is re-read from the last
  committed offset; an event at a position ``<= wm`` is skipped (already in a chunk), a later
  one is decided again, so a replayed record counts once.

A chunk record is atomic (one Kafka record), so a crash mid-flush leaves a consistent prefix.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from streams.logic.facts import F_POS, Fact, from_json

MAX_FACTS_PER_CHUNK = 2000
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Chunk:
    partition: int
    province: str
    seq: int
    wm: int
    facts: list[Fact]

    @property
    def key(self) -> str:
        return chunk_key(self.partition, self.province, self.seq)

    def encode(self) -> bytes:
        return orjson.dumps({"v": FORMAT_VERSION, "wm": self.wm, "facts": self.facts})


def chunk_key(partition: int, province: str, seq: int) -> str:
    return f"{partition}:{province}:{seq:010d}"


def parse_key(key: str) -> tuple[int, str, int] | None:
    """``(partition, province, seq)`` of a chunk key, ``None`` for anything else."""
    parts = key.split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), parts[1], int(parts[2])


def decode(partition: int, province: str, seq: int, value: bytes) -> Chunk:
    data: dict[str, Any] = orjson.loads(value)
    return Chunk(partition, province, seq, int(data["wm"]), from_json(data["facts"]))


def make_chunks(
    partition: int, province: str, first_seq: int, facts: list[Fact], wm: int
) -> list[Chunk]:
    """Split pending facts into chunks; every chunk but the last ends at its last fact."""
    if not facts:
        return [Chunk(partition, province, first_seq, wm, [])]
    chunks: list[Chunk] = []
    for i in range(0, len(facts), MAX_FACTS_PER_CHUNK):
        part = facts[i : i + MAX_FACTS_PER_CHUNK]
        last = i + MAX_FACTS_PER_CHUNK >= len(facts)
        chunk_wm = wm if last else part[-1][F_POS]
        chunks.append(Chunk(partition, province, first_seq + len(chunks), chunk_wm, part))
    return chunks


def group_by_province(
    items: Iterable[tuple[str, bytes]], partitions: set[int]
) -> dict[str, list[Chunk]]:
    """Chunks of the given partitions from table items, per province, in ``seq`` order."""
    out: dict[str, list[Chunk]] = {}
    for key, value in items:
        parsed = parse_key(key) if isinstance(key, str) else None
        if parsed is None or parsed[0] not in partitions or value is None:
            continue
        out.setdefault(parsed[1], []).append(decode(*parsed, value))
    for chunks in out.values():
        chunks.sort(key=lambda c: c.seq)
    return out
