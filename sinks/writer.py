"""Writes batches into ClickHouse exactly once, whatever is retried or replayed.

Per batch (one partition, a contiguous offset range):

1. keep the first event of every event_id in the batch, then drop the event_ids already in
   ``events_raw`` (looked up by province, local date and id: a resend at another offset, or a
   replay of the partition, inserts nothing);
2. insert the rest as ONE insert whose ``insert_deduplication_token`` is
   ``topic:partition:first-last`` (a batch re-sent after a lost acknowledgement is dropped by
   ClickHouse, in the table and in every dependent materialized view);
3. when ClickHouse rejects the data itself (a data error code), bisect to find the rows it
   refuses; those come back as dead rows (for the dead-letter topic), the rest is inserted.
   With ``verify`` (default) the writer also checks that an acknowledged insert really stored
   its rows, and bisects the same way when it did not;
4. apply corrections: every event corrected by an event of this batch, or corrected earlier
   and arriving now, is copied once into ``events_retracted`` (its views subtract it).

Every step is idempotent, so a crash anywhere before the Kafka commit only causes a replay.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from clickhouse_connect.driver.client import Client

from antt.settings import Settings
from sinks.errors import Verdict, classify, error_code
from sinks.rows import COLUMNS, Batch, first_of_each_id

log = logging.getLogger(__name__)

LOOKUP_CHUNK = 10_000
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


@dataclass
class WriteResult:
    inserted: int = 0
    duplicates: int = 0
    retracted: int = 0
    dead: list[DeadRow] = field(default_factory=list)


def _in_list(values: Iterable[object]) -> str:
    """A SQL literal list of UUIDs/dates/codes (values are typed or validated, never free text)."""
    return "(" + ",".join(f"'{v}'" for v in values) + ")"


class Writer:
    """Synchronous (clickhouse-connect is); the consumer runs it in a worker thread."""

    def __init__(self, client: Client, settings: Settings,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 verify: bool = True) -> None:
        self.client = client
        self.verify = verify
        self.db = settings.clickhouse_database
        self.tz = ZoneInfo(settings.timezone)
        self.clock = clock
        self.insert_settings = {
            "insert_deduplicate": 1,
            "deduplicate_blocks_in_dependent_materialized_views": 1,
        }

    def stored_max_offset(self, topic: str, partition: int) -> int:
        """Highest offset of ``topic``/``partition`` already in ``events_raw`` (-1 if none)."""
        result = self.client.query(
            f"SELECT max(kafka_offset), count() FROM {self.db}.events_raw "
            f"WHERE kafka_topic = {{t:String}} AND kafka_partition = {{p:UInt32}}",
            parameters={"t": topic, "p": partition},
        )
        top, rows = result.result_rows[0]
        return int(top) if rows else -1

    def write(self, batch: Batch) -> WriteResult:
        result = WriteResult()
        unique = batch.keep(first_of_each_id(batch.events))
        known = self.known_ids(unique.events)
        fresh = unique.keep(i for i, e in enumerate(unique.events) if e["event_id"] not in known)
        result.duplicates = len(batch.events) - len(fresh.events)
        if fresh.events:
            result.inserted = self._insert(fresh, 0, len(fresh.events), result.dead)
        if unique.events:
            result.retracted = self.apply_corrections([e["event_id"] for e in unique.events])
        return result

    def known_ids(self, events: list[dict[str, Any]]) -> set[Any]:
        """event_ids of ``events`` that ``events_raw`` already holds."""
        found: set[Any] = set()
        for lo in range(0, len(events), LOOKUP_CHUNK):
            chunk = events[lo:lo + LOOKUP_CHUNK]
            provinces = {e["province_code"] for e in chunk}
            days = {e["occurred_at"].astimezone(self.tz).date() for e in chunk}
            rows = self.client.query(
                f"SELECT event_id FROM {self.db}.events_raw "
                f"WHERE province_code IN {_in_list(provinces)} "
                f"AND event_date IN {_in_list(days)} "
                f"AND event_id IN {_in_list(e['event_id'] for e in chunk)}",
                settings=_BIG_QUERY,
            ).result_rows
            found.update(row[0] for row in rows)
        return found

    def _insert(self, batch: Batch, lo: int, hi: int, dead: list[DeadRow]) -> int:
        """Insert events ``lo..hi-1``; bisect on data errors. Returns rows inserted."""
        token = batch.token if (lo, hi) == (0, len(batch.events)) else batch.part_token(lo, hi)
        try:
            self.client.insert(
                f"{self.db}.events_raw", batch.columns(self.clock(), lo, hi),
                column_names=list(COLUMNS), column_oriented=True,
                settings={**self.insert_settings, "insert_deduplication_token": token},
            )
        except Exception as exc:
            if classify(exc) is not Verdict.DATA:
                raise
            return self._bisect(batch, lo, hi, dead, error_code(exc), str(exc))
        if self.verify and len(self.known_ids(batch.events[lo:hi])) != hi - lo:
            # Acknowledged but not stored: some engines (chDB's streaming insert behind the
            # local server) drop a block a CHECK constraint refuses without reporting it.
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

    def apply_corrections(self, event_ids: list[Any]) -> int:
        """Retract (once) every stored event corrected by, or corrected before, these events."""
        targets: set[Any] = set()
        for lo in range(0, len(event_ids), LOOKUP_CHUNK):
            ids = _in_list(event_ids[lo:lo + LOOKUP_CHUNK])
            rows = self.client.query(
                f"SELECT corrected_event_id FROM {self.db}.corrections "
                f"WHERE corrected_event_id IN {ids} OR correcting_event_id IN {ids}",
                settings=_BIG_QUERY,
            ).result_rows
            targets.update(row[0] for row in rows)
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
        return int(self.client.command(
            f"SELECT uniqExact(event_id) FROM {self.db}.events_retracted "
            f"WHERE event_id IN {wanted}", settings=_BIG_QUERY))
