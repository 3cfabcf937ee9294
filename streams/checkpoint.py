"""Checkpoint records: how a province's facts are stored in the ``live_facts_by_province`` table.

Exactly-once effect without Kafka transactions:

- the live state of a province is a function of its accepted facts (``streams/logic``);
- every flush interval, the facts accepted since the last flush are written as ONE table
  record per province (a *chunk*; split at :data:`MAX_FACTS_PER_CHUNK`), key
  ``"<partition>:<province>:e<epoch>:<seq>"`` (the owner epoch: below), value = JSON with the
  facts and ``wm``, the highest source position (``offset * 1024 + index``) whose decision the
  chunk covers;
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
acceptance horizon, and ``seq`` (``S``: it covers every chunk of its epoch with ``seq < S``,
and every key its owner restored). Its body is zlib-compressed JSON cut into *parts* of at
most ``worker_snapshot_part_bytes`` under keys ``"<partition>:<province>:e<epoch>:snap:<S>:<k>"``.
Once every part is acknowledged by the broker, the *manifest* is written under the key
``"<partition>:<province>:e<epoch>:snap"``: it names ``S``, the number of parts and the body's
SHA-256, so it is what makes a snapshot exist (atomically: one record). Only after the
manifest is acknowledged are *tombstones* (value ``None``) written for the keys the snapshot
supersedes (``snapshots.Province``: the chunks since the previous snapshot, its parts, and
the keys of other epochs the owner restored), so that log compaction drops them. Restore
= the snapshot + the chunks not in it; anything else found (chunks of the snapshot's epoch
below ``S``, other parts and manifests: left by a crash before or during the tombstones, or
between parts, or by a stalled owner still writing its snapshot) is ignored, and
tombstoned by the owner's own next snapshot, after its manifest: never earlier, as the
parts may be a stalled owner's that a manifest completes later. A crash at any point
therefore restores either the previous snapshot + all its chunks, or the new one + the
chunks after it: the same facts either way.

Owner epochs (a stalled owner, "zombie"): a worker that stops answering its consumer group
for longer than the session timeout (a long GC pause, a frozen VM) loses its partitions to
another worker, which restores them from this table and goes on; the stalled one may wake
and finish the flush (or snapshot) it had started before it hears of the rebalance. Kafka
without transactions cannot refuse its writes, so they are made harmless by design:

- every adoption of a partition (a restore) starts a new *owner epoch*, stamped at the
  owner's first flush: the highest epoch among the partition's keys it restored + the
  consumer group generation of the assignment (``app.consumer_generation_id``, read while
  the partition is held: Faust revokes, and the worker drops it, before the consumer joins
  a next generation) + 1. A newer
  owner was assigned the partition in a later generation and restored later, finding an
  epoch at least as high (the highest epoch's keys are only tombstoned by a snapshot of a
  higher one): so its epoch is higher, and two owners never share an epoch even when the
  stalled one wrote nothing before the new one restored. (Generations only need to grow
  while a stalled owner lives: a consumer group deleted and created again with the workers
  stopped starts above the highest epoch found anyway.);
- every key carries its writer's epoch, so two owners never write the same key (the fixed
  manifest key of before is now one per epoch); an owner tombstones only keys it restored
  or wrote itself, after its own snapshot covers them: never a key of a newer owner;
- a restore uses the snapshot of the highest epoch whose parts are all present (a stale
  owner's manifest may name parts that the newer owner, restoring before it, tombstoned as
  left by a crash) and every chunk of every epoch, except the chunks of the snapshot's epoch
  below its ``S``. If that snapshot is a stale owner's (the newer owner has none yet), it
  covers every key the stale owner tombstoned, and the newer owner's own facts are in its
  chunks. A fact found twice counts once (facts are deduplicated by ``event_id``);
  ``wm`` is the highest of every chunk applied, whose facts are all in the state or refused
  by the rule below as a replay would refuse them: a skipped replay loses nothing;
- frozen counters cannot be deduplicated: a stale owner's chunk (or a newer owner's, under a
  stale owner's snapshot) may hold a fact that the snapshot evicted. So the restore applies
  the acceptance rule of ``Runtime`` to chunk facts: one recorded before the snapshot's
  horizon is not replayed (an owner's own chunks after its snapshot hold no such fact but a
  duplicate of a kept one: the rule changes nothing without a stale owner).

What a stale owner can still change: a fact recorded in the days between the horizon the
newer owner inherited and a later horizon of the stale owner's last snapshot, counted live by
the newer owner before it snapshots itself, is not replayed by a restore in that window: the
live figures lose it (ClickHouse is not affected). Keys of the format before epochs (no
``e<epoch>`` field) are read as epoch 0, below every epoch written since.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
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
    epoch: int = 0  # the writer's owner epoch (0: written before epochs existed)

    @property
    def key(self) -> str:
        return chunk_key(self.partition, self.province, self.seq, self.epoch)

    def encode(self) -> bytes:
        return orjson.dumps({"v": FORMAT_VERSION, "wm": self.wm, "facts": self.facts})


def _epoch_field(epoch: int) -> str:
    return f"e{epoch}:" if epoch else ""


def chunk_key(partition: int, province: str, seq: int, epoch: int = 0) -> str:
    return f"{partition}:{province}:{_epoch_field(epoch)}{seq:010d}"


def manifest_key(partition: int, province: str, epoch: int = 0) -> str:
    return f"{partition}:{province}:{_epoch_field(epoch)}snap"


def part_key(partition: int, province: str, seq: int, k: int, epoch: int = 0) -> str:
    return f"{partition}:{province}:{_epoch_field(epoch)}snap:{seq:010d}:{k:05d}"


@dataclass(frozen=True)
class Key:
    """A parsed checkpoint key: ``kind`` is ``chunk`` (``seq``), ``manifest`` or ``part``
    (``seq``, ``k``); ``epoch`` 0 for a key without one (the format before epochs)."""

    partition: int
    province: str
    epoch: int
    kind: str
    seq: int = 0
    k: int = 0


def parse(key: str) -> Key | None:
    """The :class:`Key` of a chunk, manifest or part key; ``None`` for anything else
    (``<partition>:end``, keys of another format)."""
    fields = key.split(":")
    if len(fields) < 3 or not fields[0].isdigit():
        return None
    partition, province, rest = int(fields[0]), fields[1], fields[2:]
    epoch = 0
    if rest[0][:1] == "e" and rest[0][1:].isdigit():
        epoch, rest = int(rest[0][1:]), rest[1:]
    if len(rest) == 1 and rest[0].isdigit():
        return Key(partition, province, epoch, "chunk", int(rest[0]))
    if rest == ["snap"]:
        return Key(partition, province, epoch, "manifest")
    if len(rest) == 3 and rest[0] == "snap" and rest[1].isdigit() and rest[2].isdigit():
        return Key(partition, province, epoch, "part", int(rest[1]), int(rest[2]))
    return None


def parse_key(key: str) -> tuple[int, str, int] | None:
    """``(partition, province, seq)`` of a chunk key (any epoch), ``None`` for anything else."""
    parsed = parse(key)
    if parsed is None or parsed.kind != "chunk":
        return None
    return parsed.partition, parsed.province, parsed.seq


def decode(partition: int, province: str, seq: int, value: bytes, epoch: int = 0) -> Chunk:
    data: dict[str, Any] = orjson.loads(value)
    return Chunk(partition, province, seq, int(data["wm"]), from_json(data["facts"]), epoch)


def make_chunks(
    partition: int, province: str, first_seq: int, facts: list[Fact], wm: int, epoch: int = 0
) -> list[Chunk]:
    """Split pending facts into chunks; every chunk but the last ends at its last fact."""
    if not facts:
        return [Chunk(partition, province, first_seq, wm, [], epoch)]
    chunks: list[Chunk] = []
    for i in range(0, len(facts), MAX_FACTS_PER_CHUNK):
        part = facts[i : i + MAX_FACTS_PER_CHUNK]
        last = i + MAX_FACTS_PER_CHUNK >= len(facts)
        chunk_wm = wm if last else part[-1][F_POS]
        chunks.append(Chunk(partition, province, first_seq + len(chunks), chunk_wm, part,
                            epoch))
    return chunks


@dataclass
class Stored:
    """What the table holds for one province (of the partitions asked for), every epoch."""

    partition: int
    chunks: list[Chunk]  # in (epoch, seq) order
    manifests: dict[int, dict[str, Any]] = field(default_factory=dict)  # epoch -> manifest
    parts: dict[tuple[int, int, int], bytes] = field(default_factory=dict)  # (epoch, seq, k)
    top_epoch: int = 0  # the highest epoch of any of its keys

    @property
    def snap_epoch(self) -> int | None:
        """The epoch of the snapshot a restore uses: the highest one whose parts are all
        there (a stale owner's manifest may name parts a newer owner already tombstoned)."""
        for epoch in sorted(self.manifests, reverse=True):
            m = self.manifests[epoch]
            if all((epoch, m["seq"], k) in self.parts for k in range(m["parts"])):
                return epoch
        return None

    @property
    def manifest(self) -> dict[str, Any] | None:
        epoch = self.snap_epoch
        return None if epoch is None else self.manifests[epoch]

    def snapshot(self) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """``(manifest, body)`` of the snapshot a restore uses, or ``None``."""
        epoch = self.snap_epoch
        if epoch is None:
            return None
        m = self.manifests[epoch]
        return m, orjson.loads(_checked_body(self._pieces(epoch, m), m))

    def snapshot_steps(self) -> Steps[tuple[dict[str, Any], SnapshotBody] | None]:
        """:meth:`snapshot` in steps: SHA-256 and zlib in one step that releases the GIL (a
        thread, under the asynchronous driver); the facts are parsed later, a slice at a
        time (:meth:`SnapshotBody.fact_slices`)."""
        epoch = self.snap_epoch
        if epoch is None:
            return None
        m = self.manifests[epoch]
        raw = yield partial(_checked_body, self._pieces(epoch, m), m)
        yield None
        return m, split_body(raw)

    def _pieces(self, epoch: int, m: dict[str, Any]) -> list[bytes]:
        return [self.parts[(epoch, m["seq"], k)] for k in range(m["parts"])]

    def superseded(self, province: str) -> list[str]:
        """Keys no restore needs any more (to tombstone again): the chunks of the snapshot's
        epoch below its ``seq``, and every other manifest and part. Chunks of other epochs
        are not among them: only a snapshot built over them covers them (``snapshots.py``)."""
        epoch = self.snap_epoch
        m = self.manifests[epoch] if epoch is not None else None
        first = m["seq"] if m else 0
        p = self.partition
        keys = [c.key for c in self.chunks if c.epoch == epoch and c.seq < first]
        keys += [manifest_key(p, province, e) for e in self.manifests if e != epoch]
        keys += [part_key(p, province, seq, k, e) for e, seq, k in self.parts
                 if m is None or (e, seq) != (epoch, first)]
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
    part_bytes: int, epoch: int = 0,
) -> tuple[list[tuple[str, bytes]], tuple[str, bytes]]:
    """``(parts, manifest)`` records of a snapshot; write the parts first."""
    return drive(encode_snapshot_steps(partition, province, seq, wm, horizon, body, part_bytes,
                                       epoch))


def encode_snapshot_steps(
    partition: int, province: str, seq: int, wm: int, horizon: float | None,
    body: dict[str, Any],
    part_bytes: int, epoch: int = 0,
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
    parts = [(part_key(partition, province, seq, k, epoch), piece)
             for k, piece in enumerate(pieces)]
    manifest = {
        "v": SNAPSHOT_VERSION, "seq": seq, "wm": wm, "horizon": horizon,
        "parts": len(pieces), "sha256": blob.digest.hexdigest(),
    }
    return parts, (manifest_key(partition, province, epoch), orjson.dumps(manifest))


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
        parsed = parse(key)
        if parsed is None or parsed.partition not in partitions:
            continue
        stored = out.get(parsed.province)
        if stored is None:
            stored = out[parsed.province] = Stored(parsed.partition, [])
        epoch = parsed.epoch
        stored.top_epoch = max(stored.top_epoch, epoch)
        if parsed.kind == "manifest":
            stored.manifests[epoch] = orjson.loads(value)
        elif parsed.kind == "part":
            stored.parts[(epoch, parsed.seq, parsed.k)] = value
        else:
            stored.chunks.append(decode(parsed.partition, parsed.province, parsed.seq, value,
                                        epoch))
            yield None
    for stored in out.values():
        stored.chunks.sort(key=lambda c: (c.epoch, c.seq))
    return out
