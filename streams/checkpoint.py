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

Snapshots (state retention, ``streams/logic/retention.py``): chunk keys are never rewritten,
so without more the changelog would only grow. Every so often (settings
``worker_snapshot_every_chunks`` / ``worker_snapshot_min_facts``) a province's whole state is
written as ONE snapshot: the kept facts, the frozen counters of the evicted facts, ``wm``, the
acceptance horizon, and ``seq`` (``S``: it covers every chunk with ``seq < S``). Its body is
zlib-compressed JSON cut into *parts* of at most ``worker_snapshot_part_bytes`` under keys
``"<partition>:<province>:snap:<S>:<k>"``. Once every part is acknowledged by the broker, the
*manifest* is written under the one fixed key ``"<partition>:<province>:snap"``: it names
``S``, the number of parts and the body's SHA-256, so it is what makes a snapshot exist
(atomically: one record). Only after the manifest is acknowledged are *tombstones* (value
``None``) written for the superseded chunks and the previous snapshot's parts, so that log
compaction drops them. Restore = the parts the manifest names + the chunks with
``seq >= S``; anything else found (chunks below ``S``, parts of another ``S``: left by a crash
before or during the tombstones, or between parts) is ignored and tombstoned again. A crash
at any point therefore restores either the previous snapshot + all its chunks, or the new
one + the chunks after it: the same facts either way.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson

from streams.logic.facts import F_POS, Fact, from_json
from streams.logic.retention import Steps, drive

MAX_FACTS_PER_CHUNK = 2000
FORMAT_VERSION = 1
SNAPSHOT_VERSION = 1


class CheckpointError(Exception):
    """The stored checkpoint of a province is inconsistent (never expected)."""


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


def manifest_key(partition: int, province: str) -> str:
    return f"{partition}:{province}:snap"


def part_key(partition: int, province: str, seq: int, k: int) -> str:
    return f"{partition}:{province}:snap:{seq:010d}:{k:05d}"


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


@dataclass
class Stored:
    """What the table holds for one province (of the partitions asked for)."""

    partition: int
    chunks: list[Chunk]
    manifest: dict[str, Any] | None = None
    parts: dict[tuple[int, int], bytes] | None = None

    def snapshot(self) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """``(manifest, body)`` of the snapshot the manifest names, or ``None``."""
        m = self.manifest
        if m is None:
            return None
        return m, orjson.loads(_checked_body(self._pieces(m), m))

    def snapshot_steps(self) -> Steps[tuple[dict[str, Any], SnapshotBody] | None]:
        """:meth:`snapshot` in steps: SHA-256 and zlib in one step that releases the GIL (a
        thread, under the asynchronous driver); the facts are parsed later, a slice at a
        time (:meth:`SnapshotBody.fact_slices`)."""
        m = self.manifest
        if m is None:
            return None
        raw = yield partial(_checked_body, self._pieces(m), m)
        yield None
        return m, split_body(raw)

    def _pieces(self, m: dict[str, Any]) -> list[bytes]:
        parts = self.parts or {}
        try:
            return [parts[(m["seq"], k)] for k in range(m["parts"])]
        except KeyError as exc:
            raise CheckpointError(f"snapshot {m} lacks part {exc}") from None

    def superseded(self, province: str) -> list[str]:
        """Keys left over from before the current snapshot (to tombstone again)."""
        first = self.manifest["seq"] if self.manifest else 0
        keys = [c.key for c in self.chunks if c.seq < first]
        keys += [part_key(self.partition, province, seq, k)
                 for seq, k in (self.parts or {})
                 if self.manifest is None or seq != self.manifest["seq"]]
        return keys


def _checked_body(pieces: list[bytes], m: dict[str, Any]) -> bytes:
    """The JSON of a snapshot's body from its parts, checked against the manifest."""
    blob = b"".join(pieces)
    if hashlib.sha256(blob).hexdigest() != m["sha256"]:
        raise CheckpointError(f"snapshot {m}: parts do not match the manifest")
    return zlib.decompress(blob)


FACT_SLICE_BYTES = 256 * 1024  # JSON of the facts parsed per step: about 2000 facts, ~2 ms
_FACTS_MEMBER = b',"facts":['


@dataclass
class SnapshotBody:
    """A snapshot's body with its facts not parsed yet: ``head`` is the rest (the frozen
    counters); the facts are the JSON items ``raw[start:end]`` (or ``whole``, parsed)."""

    head: dict[str, Any]
    raw: bytes = b""
    start: int = 0
    end: int = 0
    whole: list[list[Any]] | None = None

    def fact_slices(self, slice_bytes: int = FACT_SLICE_BYTES) -> Iterator[list[list[Any]]]:
        """The facts (JSON arrays), about ``slice_bytes`` of JSON at a time.

        A slice ends before a ``],[`` of the text; one that falls inside a string, or
        inside a nested array, leaves text that does not parse as an array of whole items
        (an unterminated string, unbalanced brackets), so the next ``],[`` is tried: the
        items are exactly those of parsing the whole body at once (tested)."""
        if self.whole is not None:
            yield self.whole
            return
        raw, p, end = self.raw, self.start, self.end
        while p < end:
            q = raw.find(b"],[", p + slice_bytes, end)
            while True:
                cut = end if q < 0 else q + 1
                try:
                    items = orjson.loads(b"[" + raw[p:cut] + b"]")
                    break
                except orjson.JSONDecodeError:
                    if q < 0:
                        raise CheckpointError("a snapshot's facts do not parse") from None
                    q = raw.find(b"],[", q + 1, end)
            yield items
            p = cut + 1


def split_body(raw: bytes) -> SnapshotBody:
    """``raw`` (``{..., "facts": [...]}``, facts last, as :func:`encode_snapshot` writes
    it) with everything but the facts parsed; any other shape is parsed whole."""
    at = raw.find(_FACTS_MEMBER)
    if at > 0 and raw.endswith(b"]}"):
        try:
            head = orjson.loads(raw[:at] + b"}")
        except orjson.JSONDecodeError:  # the marker was inside a string or a nested value
            head = None
        if isinstance(head, dict) and "facts" not in head:
            return SnapshotBody(head, raw, at + len(_FACTS_MEMBER), len(raw) - 2)
    body = orjson.loads(raw)
    return SnapshotBody(body, whole=body.pop("facts"))


def encode_snapshot(
    partition: int, province: str, seq: int, wm: int, horizon: float | None,
    body: dict[str, Any],
    part_bytes: int,
) -> tuple[list[tuple[str, bytes]], tuple[str, bytes]]:
    """``(parts, manifest)`` records of a snapshot; write the parts first."""
    return drive(encode_snapshot_steps(partition, province, seq, wm, horizon, body, part_bytes))


def encode_snapshot_steps(
    partition: int, province: str, seq: int, wm: int, horizon: float | None,
    body: dict[str, Any],
    part_bytes: int,
) -> Steps[tuple[list[tuple[str, bytes]], tuple[str, bytes]]]:
    """:func:`encode_snapshot` in steps (``streams/logic/retention.py``'s :data:`Steps`).

    The body's JSON is made in slices of :data:`SNAPSHOT_SLICE` list items, each fed to one
    zlib stream (level 1) and SHA-256 in a step that releases the GIL. The records are the
    same bytes as those of ``zlib.compress(orjson.dumps(body), 1)`` cut every ``part_bytes``
    (tested). ``body`` must not change until the steps end.
    """
    blob = _Blob(part_bytes)
    for piece in _json_pieces(body):
        yield partial(blob.add, piece)
    yield blob.finish
    pieces = blob.parts or [b""]
    parts = [(part_key(partition, province, seq, k), piece) for k, piece in enumerate(pieces)]
    manifest = {
        "v": SNAPSHOT_VERSION, "seq": seq, "wm": wm, "horizon": horizon,
        "parts": len(pieces), "sha256": blob.digest.hexdigest(),
    }
    return parts, (manifest_key(partition, province), orjson.dumps(manifest))


SNAPSHOT_SLICE = 5000  # list items (facts) per JSON slice: about 0.7 MB of JSON


def _json_pieces(body: dict[str, Any]) -> Iterator[bytes]:
    """``orjson.dumps(body)`` in pieces, long lists a slice of items at a time."""
    sep = b"{"
    for key, value in body.items():
        yield sep + orjson.dumps(key) + b":"
        sep = b","
        if not isinstance(value, list) or len(value) <= SNAPSHOT_SLICE:
            yield orjson.dumps(value)
            continue
        for i in range(0, len(value), SNAPSHOT_SLICE):
            inner = orjson.dumps(value[i : i + SNAPSHOT_SLICE])[1:-1]
            yield (b"[" if i == 0 else b",") + inner
        yield b"]"
    yield b"}" if sep == b"," else b"{}"


class _Blob:
    """The compressed body as it grows: zlib stream, SHA-256, and parts of ``part_bytes``."""

    def __init__(self, part_bytes: int):
        self.part_bytes = part_bytes
        self.compressor = zlib.compressobj(1)
        self.digest = hashlib.sha256()
        self.parts: list[bytes] = []
        self.tail = bytearray()

    def add(self, data: bytes) -> None:
        self._out(self.compressor.compress(data))

    def finish(self) -> None:
        self._out(self.compressor.flush())
        if self.tail:
            self.parts.append(bytes(self.tail))
            self.tail.clear()

    def _out(self, data: bytes) -> None:
        self.digest.update(data)
        tail, size = self.tail, self.part_bytes
        tail += data
        while len(tail) >= size:
            self.parts.append(bytes(tail[:size]))
            del tail[:size]


def scan(items: Iterable[tuple[str, bytes]], partitions: set[int]) -> dict[str, Stored]:
    """Chunks, manifests and snapshot parts of the given partitions, per province."""
    return drive(scan_steps(items, partitions))


SCAN_STEP_KEYS = 200  # keys looked at per step when nothing is decoded


def scan_steps(
    items: Iterable[tuple[str, bytes]], partitions: set[int]
) -> Steps[dict[str, Stored]]:
    """:func:`scan` in steps (one per decoded chunk). The items are listed first, in one
    step: the table may change while the event loop runs between the others."""
    listed = list(items)
    yield None
    out: dict[str, Stored] = {}
    for i, (key, value) in enumerate(listed):
        if i % SCAN_STEP_KEYS == 0:
            yield None
        if not isinstance(key, str) or value is None:
            continue
        fields = key.split(":")
        if len(fields) < 3 or not fields[0].isdigit() or int(fields[0]) not in partitions:
            continue
        partition, province = int(fields[0]), fields[1]
        stored = out.get(province)
        if stored is None:
            stored = out[province] = Stored(partition, [], None, {})
        if len(fields) == 3 and fields[2] == "snap":
            stored.manifest = orjson.loads(value)
        elif len(fields) == 5 and fields[2] == "snap":
            stored.parts[(int(fields[3]), int(fields[4]))] = value  # type: ignore[index]
        elif (parsed := parse_key(key)) is not None:
            stored.chunks.append(decode(*parsed, value))
            yield None
    for stored in out.values():
        stored.chunks.sort(key=lambda c: c.seq)
    return out
