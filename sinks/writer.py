"""Writes batches into ClickHouse exactly once, whatever is retried or replayed.

Per batch (one partition, a contiguous offset range):

1. keep the first event of every event_id in the batch, then drop the event_ids already in
   ``events_raw`` (:class:`sinks.known.KnownIds`, per province and local date: a resend at
   another offset, or a replay of the partition, inserts nothing);
2. insert the rest as ONE insert whose ``insert_deduplication_token`` is
   ``topic:partition:first-last:<digest of the ids>`` (a batch re-sent after a lost
   acknowledgement is dropped by ClickHouse, in the table and in every dependent materialized
   view; the digest keeps a different remainder of the same records from being dropped);
3. when ClickHouse rejects the data itself (a data error code), bisect to find the rows it
   refuses; those come back as dead rows (for the dead-letter topic), the rest is inserted.
   With ``verify`` (default) the writer also counts, after the insert, the rows of the
   batch's offset range carrying this preparation's own ``ingested_at`` (unique per prepared
   batch), and bisects the same way when an acknowledged insert did not store them all;
4. apply corrections: every event corrected by an event of this batch, or corrected earlier
   and arriving now, is copied once into ``events_retracted`` (its views subtract it).

A correction retracts its original only when both carry the same ``province_code`` (the
live counters look for the original in the correcting province only).

Every step is idempotent, so a crash anywhere before the Kafka commit only causes a replay.
The insert body is built by :mod:`sinks.encode` (Native, C-level loops) and sent with
clickhouse-connect's ``raw_insert``; ids are handled as ``uuid.int`` integers.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import repeat
from operator import attrgetter, itemgetter
from typing import Any
from zoneinfo import ZoneInfo

from clickhouse_connect.driver.client import Client

from antt.perf import gc_paused
from antt.settings import Settings
from sinks.encode import ms_ticks, native_block
from sinks.errors import Verdict, classify, error_code
from sinks.known import KnownIds
from sinks.rows import (
    COLUMNS,
    Batch,
    day_date,
    event_ids,
    first_of_each,
    local_days,
)

log = logging.getLogger(__name__)

LOOKUP_CHUNK = 10_000
Key = tuple[str, int]  # (province, local day number)
_PROVINCE = itemgetter("province_code")
_OCCURRED = itemgetter("occurred_at")
_CORRECTS = itemgetter("corrects_event_id")
_ID_INT = attrgetter("int")
NOT_STORED = ("ClickHouse acknowledged the insert but did not store the row "
              "(refused by a CHECK constraint or a default expression)")
_BIG_QUERY = {"max_query_size": 16 * 1024 * 1024}
INSERT_SETTINGS: dict[str, Any] = {
    "insert_deduplicate": 1,
    "deduplicate_blocks_in_dependent_materialized_views": 1,
    # Do not pre-merge each inserted block (the views already GROUP BY their block, events_raw
    # gets distinct ids, and every query must read unmerged parts correctly anyway): chDB spent
    # ~1 us of CPU per row of 4.7 on it.
    "optimize_on_insert": 0,
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class DeadRow:
    """An event ClickHouse refused for good, with the server's code and message."""

    event: dict[str, Any]
    offset: int
    code: int | None
    reason: str


@dataclass(frozen=True)
class Prepared:
    """A batch ready to insert: its distinct events, their ids and cache keys, the fresh ones
    and their Native block (built at preparation time, rows in ``order`` of ``fresh``)."""

    batch: Batch
    unique: Batch
    ids: list[int]
    keys: list[Key]
    fresh_idx: list[int]
    fresh: Batch
    body: bytes
    ingested_ms: int  # the fresh rows' ingested_at (unique per preparation of a writer)
    seq: int  # stores finished when the preparation began


@dataclass
class WriteResult:
    inserted: int = 0
    duplicates: int = 0
    retracted: int = 0
    dead: list[DeadRow] = field(default_factory=list)


def _in_list(values: Iterable[object]) -> str:
    """A SQL literal list of UUIDs/dates/codes (values are typed or validated, never free text)."""
    return "(" + ",".join(f"'{v}'" for v in values) + ")"


def _uuid_list(ids: Iterable[int]) -> str:
    return _in_list(uuid.UUID(int=i) for i in ids)


def _pairs_sql(keys: Iterable[Key]) -> str:
    """``('01','2026-11-22'),...`` for ``(province_code, event_date) IN (...)``."""
    return ",".join(f"('{p}','{day_date(d)}')" for p, d in keys)


def _as_int(answer: object) -> int:
    """The single number a ``client.command`` query answered."""
    assert isinstance(answer, int | str), answer
    return int(answer)


class Writer:
    """Synchronous (clickhouse-connect is); the consumer runs it in a worker thread."""

    def __init__(self, client: Client, settings: Settings,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 verify: bool = True, lookup: Client | None = None) -> None:
        self.client = client
        self.lookup = lookup or client  # queries of prepare() (may run beside a store())
        self.lock = threading.Lock()  # the id cache, shared by prepare() and store()
        self.stores = 0  # store() calls finished
        self.recent: deque[tuple[int, frozenset[Key]]] = deque(maxlen=16)
        self.db = settings.clickhouse_database
        self.tz = ZoneInfo(settings.timezone)
        self.clock = clock
        self.verify = verify
        self.known = KnownIds()
        self.corrected: set[int] | None = None  # ids some stored correction replaces
        self.reset_requested = False  # set from the event loop, applied by the next write
        self.last_ingested_ms = 0
        self.insert_settings = dict(INSERT_SETTINGS)

    def reset(self) -> None:
        """Forget cached state (partitions moved: another sink may have written meanwhile)."""
        with self.lock:
            self.known.clear()
        self.corrected = None

    def write(self, batch: Batch) -> WriteResult:
        """Write one batch: :meth:`prepare` then :meth:`store`."""
        return self.store(self.prepare(batch))

    def prepare(self, batch: Batch) -> Prepared:
        """Drop duplicates (known ids) and build the insert's body; inserts nothing.

        The consumer prepares the next partition's batch while the previous one is stored
        (this thread holds the GIL while that one waits on ClickHouse). Safe because batches
        of different partitions concern different provinces, hence different cache keys;
        every ClickHouse write, correction and cache addition happens in :meth:`store`, in
        partition order.
        """
        if self.reset_requested:
            self.reset_requested = False
            self.reset()
        seq = self.stores
        with gc_paused():
            all_ids = event_ids(batch.events)
            first = first_of_each(all_ids)
            whole = len(first) == len(all_ids)
            unique = batch if whole else batch.keep(first)
            ids = all_ids if whole else list(map(all_ids.__getitem__, first))
            ticks = ms_ticks(map(_OCCURRED, unique.events))
            keys = list(zip(map(_PROVINCE, unique.events), local_days(ticks, self.tz),
                            strict=True))
        try:
            fresh_idx = self._fresh(keys, ids)
            fresh = unique if len(fresh_idx) == len(ids) else unique.keep(fresh_idx)
            ingested = self._ingested_ms()
            body = b""
            if fresh.events:
                with gc_paused():
                    body, _order = native_block(
                        fresh.events, fresh.topic, fresh.partition, fresh.offsets,
                        _EPOCH + timedelta(milliseconds=ingested),
                        list(map(ticks.__getitem__, fresh_idx)))
        except BaseException:
            with self.lock:  # (nothing was written: the corrections cache stays)
                self.known.forget(keys)
            raise
        return Prepared(batch, unique, ids, keys, fresh_idx, fresh, body, ingested, seq)

    def _fresh(self, keys: list[Key], ids: list[int]) -> list[int]:
        """Indices of the ids not yet in ``events_raw`` (cache first, ClickHouse if evicted)."""
        with self.lock:
            self._load_known(keys)
            evicted = set(keys).difference(self.known.pairs)  # one batch outgrew the cache
            fresh_idx = self.known.unknown(keys, ids)
        if evicted:
            stored = self.known_ids([ids[i] for i in fresh_idx if keys[i] in evicted],
                                    self.lookup)
            fresh_idx = [i for i in fresh_idx if ids[i] not in stored]
        return fresh_idx

    def _ingested_ms(self) -> int:
        """Now in ms ticks, strictly after the previous preparation's (the read-back finds a
        preparation's rows by it)."""
        now = ms_ticks([self.clock()])[0]
        self.last_ingested_ms = max(now, self.last_ingested_ms + 1)
        return self.last_ingested_ms

    def store(self, prep: Prepared) -> WriteResult:
        """Insert a prepared batch (token, read-back, bisection) and apply its corrections."""
        if self._outdated(prep):
            prep = self.prepare(prep.batch)  # (stores are sequential: nothing runs beside)
        result = WriteResult(duplicates=len(prep.batch.events) - len(prep.fresh.events))
        try:
            fresh_keys = list(map(prep.keys.__getitem__, prep.fresh_idx))
            if prep.fresh.events:
                result.inserted = self._insert_checked(prep, set(fresh_keys), result.dead)
            with self.lock:
                self.known.add_all(fresh_keys, list(map(prep.ids.__getitem__, prep.fresh_idx)))
            if prep.unique.events:
                result.retracted = self.apply_corrections(prep.unique.events, prep.ids)
        except BaseException:
            with self.lock:  # unsure what was stored: ask ClickHouse again next time
                self.known.forget(prep.keys)
            self.corrected = None
            raise
        finally:
            self.recent.append((self.stores, frozenset(prep.keys)))
            self.stores += 1
        return result

    def _outdated(self, prep: Prepared) -> bool:
        """Did a store that ended after ``prep`` began touch one of its (province, date)
        pairs? Then its duplicate check may have missed ids that store wrote (only possible
        if one province's events came through two partitions, e.g. records without a key)."""
        if prep.seq == self.stores:
            return False
        if not self.recent or self.recent[0][0] > prep.seq:
            return True  # older than what is remembered: check again
        mine = set(prep.keys)
        return any(seq >= prep.seq and not keys.isdisjoint(mine) for seq, keys in self.recent)

    def _load_known(self, keys: list[Key]) -> None:
        missing = self.known.missing(keys)
        for lo in range(0, len(missing), 2000):
            chunk = missing[lo:lo + 2000]
            found: dict[Key, list[int]] = {k: [] for k in chunk}
            for province, day, event_id in self.lookup.query(
                f"SELECT province_code, toUInt16(event_date), toUInt128(event_id) "
                f"FROM {self.db}.events_raw WHERE (province_code, event_date) IN "
                f"({_pairs_sql(chunk)})", settings=_BIG_QUERY,
            ).result_rows:
                found[(province, day)].append(event_id)
            for key, ids in found.items():
                self.known.load(key, ids)

    def known_ids(self, ids: list[int], client: Client | None = None) -> set[int]:
        """Those of ``ids`` (``uuid.int``) that ``events_raw`` holds (asks ClickHouse, no cache)."""
        found: set[int] = set()
        for lo in range(0, len(ids), LOOKUP_CHUNK):
            rows = (client or self.client).query(
                f"SELECT toUInt128(event_id) FROM {self.db}.events_raw "
                f"WHERE event_id IN {_uuid_list(ids[lo:lo + LOOKUP_CHUNK])}",
                settings=_BIG_QUERY,
            ).result_rows
            found.update(row[0] for row in rows)
        return found

    def _insert_checked(self, prep: Prepared, keys: set[Key], dead: list[DeadRow]) -> int:
        """The whole batch in one insert (its prebuilt body); with ``verify``, count what it
        stored (``keys``: the batch's (province, local day) pairs)."""
        batch = prep.fresh
        n = len(batch.events)
        if not self.verify:
            return self._insert(batch, 0, n, dead, body=prep.body)
        inserted = self._insert(batch, 0, n, dead, check=False, body=prep.body)
        if inserted < n or self._stored_in_range(batch, keys, prep.ingested_ms) >= n:
            return inserted  # (rows refused with an error were bisected by _insert)
        # Fewer rows carry this preparation's ingested_at than were sent: another attempt
        # stored some (its block had the same token), or the engine acknowledged rows it did
        # not store (chDB's streaming insert drops a block a CHECK constraint refuses).
        ids = event_ids(batch.events)
        stored = self.known_ids(ids)
        missing = [i for i, event_id in enumerate(ids) if event_id not in stored]
        if not missing:
            return n
        lost = batch.keep(missing)
        return n - len(missing) + self._bisect(lost, 0, len(missing), dead, None, NOT_STORED)

    def _stored_in_range(self, batch: Batch, keys: set[Key], ingested_ms: int) -> int:
        # the (province, date) pairs prune the count to the batch's primary-key ranges
        return _as_int(self.client.command(
            f"SELECT count() FROM {self.db}.events_raw WHERE (province_code, event_date) IN "
            f"({_pairs_sql(sorted(keys))}) "
            f"AND kafka_topic = '{batch.topic}' AND kafka_partition = "
            f"{int(batch.partition)} AND kafka_offset BETWEEN {int(batch.first_offset)} AND "
            f"{int(batch.last_offset)} AND ingested_at = "
            f"fromUnixTimestamp64Milli({int(ingested_ms)}, 'UTC')"))

    def _insert(self, batch: Batch, lo: int, hi: int, dead: list[DeadRow],
                check: bool = True, body: bytes | None = None) -> int:
        """Insert events ``lo..hi-1`` (``body``: their Native block, if already built);
        bisect on data errors. Returns rows inserted."""
        part = batch.events[lo:hi]
        ids = event_ids(part)
        digest = hashlib.blake2b(b"".join(map(int.to_bytes, ids, repeat(16))), digest_size=8)
        token = f"{batch.part_token(lo, hi)}:{digest.hexdigest()}"
        try:
            if body is None:
                body, _order = native_block(part, batch.topic, batch.partition,
                                            batch.offsets[lo:hi], self.clock())
            self.client.raw_insert(
                f"{self.db}.events_raw", list(COLUMNS), body, fmt="Native",
                settings={**self.insert_settings, "insert_deduplication_token": token},
            )
        except Exception as exc:
            if classify(exc) is not Verdict.DATA:
                raise
            return self._bisect(batch, lo, hi, dead, error_code(exc), str(exc))
        if check and self.verify and len(self.known_ids(ids)) != hi - lo:
            return self._bisect(batch, lo, hi, dead, None, NOT_STORED)
        return hi - lo

    def _bisect(self, batch: Batch, lo: int, hi: int, dead: list[DeadRow],
                code: int | None, reason: str) -> int:
        if hi - lo == 1:
            log.warning("ClickHouse refused event %s (topic %s partition %d offset %d): %s",
                        batch.events[lo]["event_id"], batch.topic, batch.partition,
                        batch.offsets[lo], reason[:200])
            dead.append(DeadRow(batch.events[lo], batch.offsets[lo], code, reason[:2000]))
            return 0
        mid = (lo + hi) // 2
        return self._insert(batch, lo, mid, dead) + self._insert(batch, mid, hi, dead)

    def apply_corrections(self, events: list[dict[str, Any]],
                          ids: list[int] | None = None) -> int:
        """Retract (once) every stored event corrected by, or corrected before, ``events``
        (``ids``: their ``uuid.int``), when it has the province of its correction."""
        corrected = self.corrected  # (a reset() in prepare() may set it to None meanwhile)
        if corrected is None:
            corrected = {row[0] for row in self.client.query(
                f"SELECT toUInt128(corrected_event_id) FROM {self.db}.corrections").result_rows}
        targets = set(map(_ID_INT, filter(None, map(_CORRECTS, events))))
        corrected |= targets
        self.corrected = corrected
        targets |= corrected.intersection(event_ids(events) if ids is None else ids)
        if not targets:
            return 0
        wanted = _uuid_list(targets)
        before = self._retracted_count(wanted)
        self.client.command(
            f"INSERT INTO {self.db}.events_retracted "
            f"SELECT * REPLACE (now64(3, 'UTC') AS ingested_at) FROM {self.db}.events_raw "
            f"WHERE event_id IN {wanted} AND (event_id, province_code) IN "
            f"(SELECT corrected_event_id, province_code FROM {self.db}.corrections "
            f"WHERE corrected_event_id IN {wanted}) AND event_id NOT IN "
            f"(SELECT event_id FROM {self.db}.events_retracted WHERE event_id IN {wanted}) "
            f"LIMIT 1 BY event_id",
            settings={**_BIG_QUERY, "insert_deduplicate": 0},
        )
        return self._retracted_count(wanted) - before

    def _retracted_count(self, wanted: str) -> int:
        return _as_int(self.client.command(
            f"SELECT uniqExact(event_id) FROM {self.db}.events_retracted "
            f"WHERE event_id IN {wanted}", settings=_BIG_QUERY))
