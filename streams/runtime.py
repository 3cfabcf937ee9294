"""The worker's in-memory side, without Faust: records in, dead letters and chunks out.

:class:`Runtime` owns the :class:`~streams.logic.state.ProvinceState` of every province on the
partitions this worker holds, and the facts accepted since the last checkpoint. The Faust
agent (``streams/agents/count_events.py``) feeds it one record at a time and writes what it
returns; this module never touches Kafka, so it is tested with plain bytes. Its partition
side (partitions restored from the checkpoint table, adopted, dropped) is in
``streams/restore.py``: the functions there are its methods too.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, overload

from aiokafka.partitioner import murmur2

from schemas import validate_batch
from streams import checkpoint, letters
from streams import restore as restoring
from streams.lane import Answer, lane_facts
from streams.logic.calendar import LocalCalendar
from streams.logic.facts import F_ID, F_POS, F_REC, POS_STRIDE, Fact, to_fact
from streams.logic.state import ProvinceState
from streams.snapshots import Policy, Retention, SnapshotJob, SnapshotWrite

log = logging.getLogger(__name__)
_PROVINCE_KEY = re.compile(rb"^[0-9]{2}$")


@dataclass
class Pending:
    """What a partition accepted since its last checkpoint."""

    facts: dict[str, list[Fact]] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)
    records: int = 0
    n_facts: int = 0
    last_flush: float = 0.0


@dataclass
class RecordResult:
    accepted: int = 0
    duplicates: int = 0
    skipped: int = 0
    dead_letters: list[bytes] = field(default_factory=list)


def expected_partition(key: bytes, partition_count: int) -> int:
    """The partition of Kafka's default partitioner (murmur2, as Java and aiokafka) for ``key``."""
    return (murmur2(key) & 0x7FFFFFFF) % partition_count


class Runtime:
    def __init__(
        self,
        cal: LocalCalendar,
        topic: str,
        future_tolerance_s: float = 300,
        flush_interval_s: float = 1.0,
        flush_facts: int = 20_000,
        dlq_max_bytes: int = 1_000_000,
        policy: Policy | None = None,
    ):
        self.cal = cal
        self.topic = topic
        self.future_tolerance_s = future_tolerance_s
        self.flush_interval_s = flush_interval_s
        self.flush_facts = flush_facts
        self.dlq_max_bytes = dlq_max_bytes  # below the producer's max request size
        self.states: dict[str, ProvinceState] = {}
        self.partition_of: dict[str, int] = {}
        self.next_seq: dict[str, int] = {}
        self.pending: dict[int, Pending] = {}
        self.loaded: set[int] = set()
        self.version = 0  # bumped on every change
        self.stats = dict.fromkeys(
            ("records", "accepted", "duplicates", "skipped", "dead_letters", "restored_facts",
             "chunks_written", "misrouted", "letters_truncated", "rebuilds", "stalls"), 0
        )
        self._misrouted_seen: set[tuple[str, int]] = set()
        self.retention = Retention(policy or Policy(), self.stats)
        # The source topic's partition count, when known: a province's partition is then
        # the one Kafka's default partitioner picks for its key (see expected_partition).
        self.partition_count: int | None = None

    # -- records -------------------------------------------------------------------------

    def process(
        self, raw: bytes | None, key: bytes | None, partition: int, offset: int, now_ts: float,
        record_ts: float | None = None, answer: Answer | None = None,
    ) -> RecordResult:
        """Validate, dedup and count one source record; never raises, never stalls.

        ``record_ts`` is the record's Kafka timestamp (seconds): the validator's "now" for
        the future-time rule, as in the sink, so both give the same verdict on every replay
        (``now_ts`` when the record has none). ``answer`` is the validation lane's for this
        record (``streams/lane.py``), if it gave one: the plain lane is then not run here.
        An unexpected error (a bug) dead-letters the whole record with the error as reason.
        """
        pending = self.pending.setdefault(partition, Pending(last_flush=now_ts))
        pending.records += 1
        self.version += 1
        try:
            result = self._process(raw, key, partition, offset, now_ts, pending,
                                   record_ts if record_ts is not None and record_ts >= 0
                                   else now_ts, answer)
        except Exception as exc:
            log.exception("record %s[%d]@%d failed", self.topic, partition, offset)
            if key is not None and _PROVINCE_KEY.match(key):
                restoring.rebuild(self, key.decode(), offset, now_ts)
            result = RecordResult()
            reason = f"internal error: {type(exc).__name__}: {exc}"
            self._dead(result, reason, None, None, None, raw or b"", partition, offset)
        stats = self.stats
        stats["records"] += 1
        stats["accepted"] += result.accepted
        stats["duplicates"] += result.duplicates
        stats["skipped"] += result.skipped
        stats["dead_letters"] += len(result.dead_letters)
        return result

    def _process(
        self,
        raw: bytes | None,
        key: bytes | None,
        partition: int,
        offset: int,
        now_ts: float,
        pending: Pending,
        validate_ts: float,
        answer: Answer | None,
    ) -> RecordResult:
        result = RecordResult()
        if raw is None:
            self._dead(result, "empty record (no value)", None, None, None, b"", partition, offset)
            return result
        if key is None or not _PROVINCE_KEY.match(key):
            reason = f"record key {key!r} is not a 2-digit province code"
            self._dead(result, reason, "", None, None, raw, partition, offset)
            return result
        province = key.decode()
        home = self.partition_of.get(province)
        if home is None and self.partition_count:
            home = expected_partition(key, self.partition_count)
        if home is not None and home != partition:
            self._misrouted(result, province, home, raw, partition, offset)
            return result
        state = self._state(province, partition)
        base = offset * POS_STRIDE
        if answer is None:
            answer = Answer(lane_facts(raw, province, validate_ts, base,
                                       self.future_tolerance_s))
        facts = self._plain_facts(answer, province, state, result)
        if facts is None:
            now = datetime.fromtimestamp(validate_ts, UTC)  # (the lane works out its own)
            facts = self._validated_facts(raw, now, province, state, base, result,
                                          partition, offset)
        accepted = state.apply_many(facts, now_ts)
        pending.facts.setdefault(province, []).extend(accepted)
        result.accepted = len(accepted)
        result.duplicates = len(facts) - len(accepted)
        state.watermark = max(state.watermark, base + POS_STRIDE - 1)
        pending.dirty.add(province)
        pending.n_facts += result.accepted
        return result

    def _plain_facts(
        self, answer: Answer, province: str, state: ProvinceState, result: RecordResult,
    ) -> list[Fact] | None:
        """The facts of a record the validator's plain lane settled (``schemas/plain.py``:
        every event valid, of this province, no legacy code) past the watermark, else
        ``None``. Also ``None`` when an event falls outside the acceptance window:
        :meth:`_validated_facts` dead-letters it."""
        if answer.facts is None:
            return None
        watermark = state.watermark
        facts = [f for f in answer.facts if f[F_POS] > watermark]
        horizon = self.retention.horizon(province)
        if horizon is not None:
            registry = state.registry
            if any(f[F_REC] < horizon and f[F_ID] not in registry for f in facts):
                return None
        result.skipped += len(answer.facts) - len(facts)
        return facts

    def _validated_facts(
        self, raw: bytes, now: datetime, province: str, state: ProvinceState, base: int,
        result: RecordResult, partition: int, offset: int,
    ) -> list[Fact]:
        """Facts of a record the validator judges event by event; its rejections and the
        events outside the acceptance window dead-lettered."""
        report = validate_batch(
            raw, now=now, expected_province=province, future_tolerance_s=self.future_tolerance_s
        )
        for rej in report.rejected:
            if rej.index is None or base + rej.index > state.watermark:
                self._dead(result, rej.reason, rej.path, rej.index, rej.event_id, rej.raw,
                           partition, offset)
        facts = self._facts(report, base, state.watermark, result)
        horizon = self.retention.horizon(province)
        if horizon is not None and facts:
            facts = self._inside_window(facts, state, horizon, report, base, result,
                                        partition, offset)
        return facts

    @staticmethod
    def _facts(report: Any, base: int, watermark: int, result: RecordResult) -> list[Fact]:
        """Facts of the valid events, positioned; those at or below ``watermark`` skipped."""
        valid = report.valid
        if not valid:  # (also when the whole record was refused: its rejection has no index)
            return []
        if not report.rejected:
            positions: Any = range(base, base + len(valid))
        else:
            rejected = {r.index for r in report.rejected}
            total = len(valid) + len(rejected)
            positions = [base + i for i in range(total) if i not in rejected]
        facts = []
        for event, pos in zip(valid, positions, strict=True):
            if pos <= watermark:
                result.skipped += 1
            else:
                facts.append(to_fact(event, pos))
        return facts

    def _inside_window(
        self, facts: list[Fact], state: ProvinceState, horizon: float, report: Any,
        base: int, result: RecordResult, partition: int, offset: int,
    ) -> list[Fact]:
        """Facts recorded before the acceptance horizon and not in memory: dead-lettered.

        Such an event may be a resend of an evicted fact (``streams/logic/retention.py``);
        counting it could count it twice, so the live figures leave it to ClickHouse.
        """
        registry = state.registry
        keep = [f for f in facts if f[F_REC] >= horizon or f[F_ID] in registry]
        if len(keep) == len(facts):
            return facts
        events = {e.event_id.hex: e for e in report.valid}
        when = datetime.fromtimestamp(horizon, UTC).isoformat()
        for fact in facts:
            if fact[F_REC] < horizon and fact[F_ID] not in registry:
                reason = (f"{letters.OUTSIDE_WINDOW}: recorded before {when}; not counted in "
                          "the live figures (it may be a resend of an event no longer in "
                          "memory); ClickHouse stores it")
                raw = events[fact[F_ID]].model_dump_json().encode()
                self._dead(result, reason, "recorded_at", fact[F_POS] - base, fact[F_ID], raw,
                           partition, offset)
                self.stats["outside_window"] += 1
        return keep

    def _misrouted(
        self, result: RecordResult, province: str, home: int, raw: bytes, partition: int,
        offset: int,
    ) -> None:
        """A record on a partition that is not its province's: dead-lettered, counted, logged.

        One province's state (dedup, corrections, the applied-position watermark) belongs to
        one partition; counting a second partition into it would drop or double events. The
        province's partition is the one its state was restored from, else the default
        partitioner's choice for its key (when the partition count is known), else the first
        partition it arrived on here.
        """
        self.stats["misrouted"] += 1
        if (province, partition) not in self._misrouted_seen:
            self._misrouted_seen.add((province, partition))
            log.error("province %s arrives on %s[%d] but is counted from partition %d: its "
                      "records there are dead-lettered (check the producer's partitioner)",
                      province, self.topic, partition, home)
        reason = letters.misrouted_reason(province, home, self.topic, partition)
        self._dead(result, reason, "", None, None, raw, partition, offset)

    def _state(self, province: str, partition: int) -> ProvinceState:
        state = self.states.get(province)
        if state is None:
            state = self.states[province] = ProvinceState(province, self.cal)
            self.partition_of[province] = partition
            self.next_seq.setdefault(province, 0)
        return state

    def _dead(
        self,
        result: RecordResult,
        reason: str,
        path: str | None,
        index: int | None,
        event_id: str | None,
        raw: bytes,
        partition: int,
        offset: int,
    ) -> None:
        letter = {
            "reason": reason,
            "path": path,
            "index": index,
            "event_id": event_id,
            "source": {"topic": self.topic, "partition": partition, "offset": offset},
        }
        encoded, truncated = letters.encode(letter, raw, self.dlq_max_bytes)
        if truncated:
            self.stats["letters_truncated"] += 1
        result.dead_letters.append(encoded)

    # -- checkpoints ---------------------------------------------------------------------

    def flush_due(self, partition: int, now_ts: float) -> bool:
        pending = self.pending.get(partition)
        if pending is None or not pending.records:
            return False
        return (
            now_ts - pending.last_flush >= self.flush_interval_s
            or pending.n_facts >= self.flush_facts
        )

    def take_chunks(self, partition: int, now_ts: float) -> list[checkpoint.Chunk]:
        """The chunks to write for ``partition``; its pending facts are handed over."""
        pending = self.pending.get(partition)
        if pending is None:
            return []
        chunks: list[checkpoint.Chunk] = []
        for province in sorted(pending.dirty):
            facts = pending.facts.pop(province, [])
            seq = self.next_seq.get(province, 0)
            made = checkpoint.make_chunks(
                partition, province, seq, facts, self.states[province].watermark,
                self.retention.epoch(partition),
            )
            self.next_seq[province] = seq + len(made)
            self.retention.wrote_chunks(province, made)
            chunks.extend(made)
        self.pending[partition] = Pending(last_flush=now_ts)
        self.stats["chunks_written"] += len(chunks)
        return chunks

    @overload
    def take_snapshots(self, partition: int, now_ts: float) -> list[SnapshotWrite]: ...
    @overload
    def take_snapshots(
        self, partition: int, now_ts: float, build: Literal[False]
    ) -> list[SnapshotJob]: ...
    def take_snapshots(
        self, partition: int, now_ts: float, build: bool = True
    ) -> list[SnapshotWrite] | list[SnapshotJob]:
        """Snapshots due on ``partition`` (call right after :meth:`take_chunks`), built here
        or, with ``build=False``, to be built by the caller (``SnapshotJob.build_async``:
        the worker's event loop keeps running meanwhile; in the order given)."""
        pending = self.pending.get(partition)
        jobs = []
        for province, part in sorted(self.partition_of.items()):
            state = self.states.get(province)
            if part != partition or state is None:
                continue
            if pending is not None and pending.facts.get(province):
                continue  # facts not in a chunk yet: not covered by the state's watermark
            if self.retention.due(province, len(state.registry)):
                jobs.append(SnapshotJob(self.retention, partition, state,
                                        self.next_seq.get(province, 0), now_ts))
        return [job.build() for job in jobs] if build else jobs

    # -- partitions ----------------------------------------------------------------------
    # The functions of streams/restore.py, as methods (``runtime.restore(...)`` calls
    # ``restoring.restore(runtime, ...)``: a function in a class body binds its first argument).

    restore = restoring.restore
    restore_async = restoring.restore_async
    restore_steps = restoring.restore_steps
    adopt = restoring.adopt
    applied_through = restoring.applied_through
    drop = restoring.drop
