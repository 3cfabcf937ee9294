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
   With ``verify`` (default) the writer also counts the rows of the batch's offset range
   before and after the insert, and bisects the same way when an acknowledged insert did not
   store them;
4. apply corrections: every event corrected by an event of this batch, or corrected earlier
   and arriving now, is copied once into ``events_retracted`` (its views subtract it).

Every step is idempotent, so a crash anywhere before the Kafka commit only causes a replay.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from clickhouse_connect.driver.client import Client

from antt.settings import Settings
from sinks.errors import Verdict, classify, error_code
from sinks.known import KnownIds
from sinks.rows import COLUMNS, Batch, first_of_each_id, insert_types

log = logging.getLogger(__name__)

LOOKUP_CHUNK = 10_000
INSERT_TYPES = insert_types()
NOT_STORED = ("ClickHouse acknowledged the insert but did not store the row "
              "(refused by a CHECK constraint or a default expression)")
_BIG_QUERY = {"max_query_size": 16 * 1024 * 1024}


@dataclass(frozen=True)
class DeadRow:
    """An event ClickHouse refused for good, with the server's code and message."""

    event: dict[str, Any]
    offset: int
    code: int | None
    reason: str


@dataclass(frozen=True)
class Prepared:
    """A batch ready to insert: its distinct events, their cache keys, the fresh ones and
    their columns (built at preparation time)."""

    batch: Batch
    unique: Batch
    keys: list[tuple[str, date]]
    fresh_idx: list[int]
    fresh: Batch
    columns: list[list[Any]]
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
        self.recent: deque[tuple[int, frozenset[tuple[str, date]]]] = deque(maxlen=16)
        self.db = settings.clickhouse_database
        self.tz = ZoneInfo(settings.timezone)
        self.clock = clock
        self.verify = verify
        self.known = KnownIds()
        self.corrected: set[Any] | None = None  # ids some stored correction replaces
        self.reset_requested = False  # set from the event loop, applied by the next write
        self.insert_settings = {
            "insert_deduplicate": 1,
            "deduplicate_blocks_in_dependent_materialized_views": 1,
        }

    def reset(self) -> None:
        """Forget cached state (partitions moved: another sink may have written meanwhile)."""
        with self.lock:
            self.known.clear()
        self.corrected = None

    def write(self, batch: Batch) -> WriteResult:
        """Write one batch: :meth:`prepare` then :meth:`store`."""
        return self.store(self.prepare(batch))

    def prepare(self, batch: Batch) -> Prepared:
        """Drop duplicates (known ids) and build the insert's columns; inserts nothing.

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
        unique = batch.keep(first_of_each_id(batch.events))
        keys = [self.key(e) for e in unique.events]
        try:
            with self.lock:
                self._load_known(keys)
                evicted = [e for e, k in zip(unique.events, keys, strict=True)
                           if k not in self.known.pairs]  # only if one batch outgrows the cache
            stored = self.known_ids(evicted, self.lookup) if evicted else set()
            with self.lock:
                fresh_idx = [i for i, (e, k) in enumerate(zip(unique.events, keys, strict=True))
                             if e["event_id"] not in stored
                             and not self.known.contains(k, e["event_id"])]
            fresh = unique.keep(fresh_idx)
            columns = fresh.columns(self.clock()) if fresh.events else []
        except BaseException:
            with self.lock:  # (nothing was written: the corrections cache stays)
                self.known.forget(keys)
            raise
        return Prepared(batch, unique, keys, fresh_idx, fresh, columns, seq)

    def store(self, prep: Prepared) -> WriteResult:
        """Insert a prepared batch (token, read-back, bisection) and apply its corrections."""
        if self._outdated(prep):
            prep = self.prepare(prep.batch)  # (stores are sequential: nothing runs beside)
        result = WriteResult(duplicates=len(prep.batch.events) - len(prep.fresh.events))
        try:
            if prep.fresh.events:
                fresh_keys = {prep.keys[i] for i in prep.fresh_idx}
                result.inserted = self._insert_checked(prep.fresh, fresh_keys, result.dead,
                                                       prep.columns)
            with self.lock:
                for i in prep.fresh_idx:
                    self.known.add(prep.keys[i], prep.unique.events[i]["event_id"])
            if prep.unique.events:
                result.retracted = self.apply_corrections(prep.unique.events)
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

    def key(self, event: dict[str, Any]) -> tuple[str, date]:
        return event["province_code"], event["occurred_at"].astimezone(self.tz).date()

    def _load_known(self, keys: list[tuple[str, date]]) -> None:
        missing = self.known.missing(keys)
        for lo in range(0, len(missing), 2000):
            chunk = missing[lo:lo + 2000]
            pairs = ",".join(f"('{p}','{d}')" for p, d in chunk)
            found: dict[tuple[str, date], list[Any]] = {k: [] for k in chunk}
            for province, day, event_id in self.lookup.query(
                f"SELECT province_code, event_date, event_id FROM {self.db}.events_raw "
                f"WHERE (province_code, event_date) IN ({pairs})", settings=_BIG_QUERY,
            ).result_rows:
                found[(province, day)].append(event_id)
            for key, ids in found.items():
                self.known.load(key, ids)

    def known_ids(self, events: list[dict[str, Any]], client: Client | None = None) -> set[Any]:
        """event_ids of ``events`` that ``events_raw`` holds (asks ClickHouse, no cache)."""
        found: set[Any] = set()
        for lo in range(0, len(events), LOOKUP_CHUNK):
            chunk = events[lo:lo + LOOKUP_CHUNK]
            rows = (client or self.client).query(
                f"SELECT event_id FROM {self.db}.events_raw "
                f"WHERE event_id IN {_in_list(e['event_id'] for e in chunk)}",
                settings=_BIG_QUERY,
            ).result_rows
            found.update(row[0] for row in rows)
        return found

    def _insert_checked(self, batch: Batch, keys: set[tuple[str, date]],
                        dead: list[DeadRow], columns: list[list[Any]] | None = None) -> int:
        """The whole batch in one insert; with ``verify``, count its offset range around it
        (``keys``: the batch's (province, local date) pairs; ``columns``: prebuilt)."""
        if not self.verify:
            return self._insert(batch, 0, len(batch.events), dead, columns=columns)
        before = self._stored_in_range(batch, keys)
        inserted = self._insert(batch, 0, len(batch.events), dead, check=False,
                                columns=columns)
        if inserted and self._stored_in_range(batch, keys) - before < inserted:
            # Acknowledged but not stored: chDB's streaming insert (behind the local server)
            # drops a block a CHECK constraint refuses without reporting it. Find the rows.
            return self._bisect(batch, 0, len(batch.events), dead, None, NOT_STORED)
        return inserted

    def _stored_in_range(self, batch: Batch, keys: set[tuple[str, date]]) -> int:
        # the (province, date) pairs prune the count to the batch's primary-key ranges
        return _as_int(self.client.command(
            f"SELECT count() FROM {self.db}.events_raw WHERE (province_code, event_date) IN "
            f"({','.join(f'({p!r},{str(d)!r})' for p, d in sorted(keys))}) "
            f"AND kafka_topic = '{batch.topic}' AND kafka_partition = "
            f"{int(batch.partition)} AND kafka_offset BETWEEN {int(batch.first_offset)} AND "
            f"{int(batch.last_offset)}"))

    def _insert(self, batch: Batch, lo: int, hi: int, dead: list[DeadRow],
                check: bool = True, columns: list[list[Any]] | None = None) -> int:
        """Insert events ``lo..hi-1`` (``columns``: theirs, if already built); bisect on
        data errors. Returns rows inserted."""
        part = batch.events[lo:hi]
        digest = hashlib.blake2b(b"".join(e["event_id"].bytes for e in part), digest_size=8)
        token = f"{batch.part_token(lo, hi)}:{digest.hexdigest()}"
        try:
            self.client.insert(
                f"{self.db}.events_raw", columns or batch.columns(self.clock(), lo, hi),
                column_names=list(COLUMNS), column_type_names=INSERT_TYPES,
                column_oriented=True,
                settings={**self.insert_settings, "insert_deduplication_token": token},
            )
        except Exception as exc:
            if classify(exc) is not Verdict.DATA:
                raise
            return self._bisect(batch, lo, hi, dead, error_code(exc), str(exc))
        if check and self.verify and len(self.known_ids(part)) != hi - lo:
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

    def apply_corrections(self, events: list[dict[str, Any]]) -> int:
        """Retract (once) every stored event corrected by, or corrected before, ``events``."""
        corrected = self.corrected  # (a reset() in prepare() may set it to None meanwhile)
        if corrected is None:
            corrected = {row[0] for row in self.client.query(
                f"SELECT corrected_event_id FROM {self.db}.corrections").result_rows}
        targets = {e["corrects_event_id"] for e in events if e.get("corrects_event_id")}
        corrected |= targets
        self.corrected = corrected
        targets |= {e["event_id"] for e in events if e["event_id"] in corrected}
        if not targets:
            return 0
        wanted = _in_list(targets)
        before = self._retracted_count(wanted)
        self.client.command(
            f"INSERT INTO {self.db}.events_retracted "
            f"SELECT * REPLACE (now64(3, 'UTC') AS ingested_at) FROM {self.db}.events_raw "
            f"WHERE event_id IN {wanted} AND event_id NOT IN "
            f"(SELECT event_id FROM {self.db}.events_retracted WHERE event_id IN {wanted}) "
            f"LIMIT 1 BY event_id",
            settings={**_BIG_QUERY, "insert_deduplicate": 0},
        )
        return self._retracted_count(wanted) - before

    def _retracted_count(self, wanted: str) -> int:
        return _as_int(self.client.command(
            f"SELECT uniqExact(event_id) FROM {self.db}.events_retracted "
            f"WHERE event_id IN {wanted}", settings=_BIG_QUERY))
