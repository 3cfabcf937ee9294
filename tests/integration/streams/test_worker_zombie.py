"""A stalled owner ("zombie") against the real broker: worker w1 is frozen (SIGSTOP, as by a
long GC pause or a frozen VM) in the middle of a checkpoint flush, w2 takes its partition over,
restores it and checkpoints everything; then w1 goes on and writes the flush it had started,
for a partition w2 already restored and wrote. After both stop, a fresh worker restored from
the changelog counts exactly the ground truth (docs/known-issues.md had it losing facts: the
stale chunk had the key of the new owner's chunk, and compaction kept the stale one)."""

from __future__ import annotations

import os
import random
import signal
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
import streams_gen
import streams_truth
from streams_harness import (
    Workers,
    changelog_records,
    committed_offsets,
    get_json,
    produce_at,
    wait_until,
)

from antt.settings import Settings
from streams import checkpoint
from streams.logic.facts import F_ID

pytestmark = pytest.mark.integration
WORKER_SESSION_TIMEOUT_S = 3.0  # see conftest.live_settings
TIMEOUT = 60
PROVINCE = "01"


def stopped(pid: int) -> bool:
    """Whether the process is stopped (state ``T`` in ``/proc/<pid>/stat``)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2] == "T"


def distinct(events: list[dict]) -> int:
    return len({e["event_id"] for e in events})


def committed_through(settings: Settings, partition: int, n: int) -> bool:
    return committed_offsets(settings).get(partition) == n


def stale_write_after_new_owner(settings: Settings) -> bool:
    """The scenario happened: a chunk of the province was written after another chunk with
    the same ``seq`` (another owner's), and lacks facts that one had."""
    written: dict[int, list[set[str]]] = {}
    for key, value in changelog_records(settings):
        parsed = checkpoint.parse_key(key)  # (partition, province, seq) of a chunk key
        if value is None or parsed is None:
            continue
        ids = {f[F_ID] for f in orjson.loads(value)["facts"]}
        written.setdefault(parsed[2], []).append(ids)
    return any(len(chunks) > 1 and not chunks[-1] >= chunks[0] for chunks in written.values())


def check_truth(port: int, events: list[dict]) -> None:
    now = datetime.now(UTC)
    status, national = get_json(port, "/api/v1/live/national")
    assert status == 200, national
    assert national["freshness"]["events_counted"] == distinct(events)
    assert streams_truth.compare(national, streams_truth.figures(events, now)) == []
    status, page = get_json(port, f"/api/v1/live/provinces/{PROVINCE}")
    assert status == 200
    assert streams_truth.compare(page, streams_truth.figures(events, now, province=PROVINCE)
                                 ) == []


def test_a_stalled_owner_that_writes_after_losing_its_partition_loses_no_fact(
    workers: Workers, live_settings: Settings
) -> None:
    rng = random.Random(48)
    events = streams_gen.scenario(rng, datetime.now(UTC), [PROVINCE], n_incidents=300)
    records = streams_gen.records(events, rng, max_batch=30)
    assert len(records) > 10
    first, second, rest = records[:1], records[1:3], records[3:]
    # 1. w1 alone: its first flush (the first record) is checkpointed and committed; the
    #    second flush with chunks stops the whole process before it writes them
    workers.extra_env = {"ANTT_WORKER_TEST_FREEZE_FLUSH": "2"}
    workers.start("w1")
    (partition,) = produce_at(live_settings, first, None)
    wait_until(lambda: committed_through(live_settings, partition, 1), TIMEOUT,
               "w1's first record checkpointed and committed")
    produce_at(live_settings, second, partition)
    pid = workers.procs["w1"].pid
    wait_until(lambda: stopped(pid), TIMEOUT, "w1 stopped in its second flush")
    # 2. the rest; w2 joins, the group drops the silent w1 (session timeout), w2 restores
    #    the partition and counts and checkpoints everything (a long flush interval: its
    #    first chunk holds more than w1's pending one)
    produce_at(live_settings, rest, partition)
    workers.extra_env = {"ANTT_LIVE_FLUSH_INTERVAL_S": "3"}
    workers.start("w2")
    wait_until(lambda: workers.counted("w2") == distinct(events), TIMEOUT,
               "w2 to count every event")
    wait_until(lambda: committed_through(live_settings, partition, len(records)), TIMEOUT,
               "w2's checkpoint of every record committed")
    # 3. w1 goes on where it stopped: it writes the chunks of its flush
    os.kill(pid, signal.SIGCONT)
    log = workers.logs / "w1.log"
    wait_until(lambda: b"chunks of the frozen flush are on the broker" in log.read_bytes(),
               TIMEOUT, "w1's stale flush written")
    assert stale_write_after_new_owner(live_settings)  # (else the test proves nothing)
    # 4. both stop; a fresh worker restores the partition from the changelog
    workers.signal("w1", signal.SIGKILL)
    workers.signal("w2", signal.SIGKILL)
    workers.extra_env = {}
    port = workers.start("w3")
    all_partitions = list(range(live_settings.topic_partitions))
    wait_until(lambda: workers.status("w3")["partitions"] == all_partitions, TIMEOUT,
               "w3 to restore every partition")
    seen: list[int] = []

    def counted() -> bool:
        seen.append(workers.counted("w3"))
        return seen[-1] == distinct(events)

    try:
        wait_until(counted, 15, "w3 to count every event")
    except AssertionError:
        stats = workers.status("w3")["stats"]
        raise AssertionError(f"w3 counts {seen[-1]} of {distinct(events)} events after its "
                             f"restore; stats {stats}") from None
    check_truth(port, events)
