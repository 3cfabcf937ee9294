"""A stalled owner ("zombie") against the real broker: worker w1 is frozen (SIGSTOP, as by a
long GC pause or a frozen VM) in the middle of a checkpoint flush or snapshot, w2 takes its
partition over, restores it and checkpoints everything; then w1 goes on and writes what it had
started, for a partition w2 already restored and wrote. After both stop, a fresh worker
restored from the changelog counts exactly the ground truth. Both tests fail without owner
epochs in the checkpoint keys (docs/known-issues.md had it: the restored worker lost facts).
"""

from __future__ import annotations

import os
import random
import signal
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
import streams_gen
from streams_harness import (
    Workers,
    changelog_records,
    check_truth,
    committed_offsets,
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


def stale_chunk_after_new_owner(settings: Settings) -> bool:
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


def stale_manifest_after_new_owner(settings: Settings) -> bool:
    """The scenario happened: a manifest of the province was written after one of a later
    snapshot (a higher ``seq``)."""
    seqs = [orjson.loads(value)["seq"] for key, value in changelog_records(settings)
            if key.endswith(":snap") and value is not None]
    return any(seq < max(seqs[:i]) for i, seq in enumerate(seqs) if i)


def freeze_w1(workers: Workers, settings: Settings, records: list[tuple[bytes, bytes]],
              env: dict[str, str]) -> tuple[int, int]:
    """w1 alone: its first flush (the first record) is checkpointed and committed; the
    second, with the next two records, stops the whole process at the hook ``env`` sets.
    The rest is produced. ``(partition, w1's pid)``."""
    workers.extra_env = env
    workers.start("w1")
    (partition,) = produce_at(settings, records[:1], None)
    wait_until(lambda: committed_through(settings, partition, 1), TIMEOUT,
               "w1's first record checkpointed and committed")
    produce_at(settings, records[1:3], partition)
    pid = workers.procs["w1"].pid
    wait_until(lambda: stopped(pid), TIMEOUT, "w1 stopped in its second flush")
    produce_at(settings, records[3:], partition)
    return partition, pid


def take_over(workers: Workers, settings: Settings, partition: int, n_records: int,
              n_events: int, env: dict[str, str]) -> None:
    """w2 joins; the group drops the silent w1 (session timeout); w2 restores the partition
    and counts and checkpoints every record."""
    workers.extra_env = env
    workers.start("w2")
    wait_until(lambda: workers.counted("w2") == n_events, TIMEOUT, "w2 to count every event")
    wait_until(lambda: committed_through(settings, partition, n_records), TIMEOUT,
               "w2's checkpoint of every record committed")


def wake(workers: Workers, pid: int, written: bytes) -> None:
    """w1 goes on where it stopped, until its log says ``written``."""
    os.kill(pid, signal.SIGCONT)
    log = workers.logs / "w1.log"
    wait_until(lambda: written in log.read_bytes(), TIMEOUT, f"w1's stale write ({written!r})")


def fresh_worker_counts_the_truth(workers: Workers, settings: Settings,
                                  events: list[dict]) -> None:
    """Both stop; a fresh worker restores every partition from the changelog and counts
    exactly the ground truth (no record is left to re-read: w2 committed them all)."""
    workers.signal("w1", signal.SIGKILL)
    workers.signal("w2", signal.SIGKILL)
    workers.extra_env = {}
    port = workers.start("w3")
    all_partitions = list(range(settings.topic_partitions))
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
    check_truth(port, events, [PROVINCE])


def scenario() -> tuple[list[dict], list[tuple[bytes, bytes]]]:
    rng = random.Random(48)
    events = streams_gen.scenario(rng, datetime.now(UTC), [PROVINCE], n_incidents=300)
    records = streams_gen.records(events, rng, max_batch=30)
    assert len(records) > 10
    return events, records


def test_a_stalled_owners_late_chunks_do_not_overwrite_the_new_owners(
    workers: Workers, live_settings: Settings
) -> None:
    """w1 stops before writing the chunks of its second flush; w2 (a long flush interval:
    its first chunk holds more than w1's) writes chunks of the same province and ``seq``;
    then w1 writes its chunks. Without owner epochs w1's chunk had the key of w2's, and
    compaction kept w1's: the restored worker missed the facts only w2's had."""
    events, records = scenario()
    partition, pid = freeze_w1(workers, live_settings, records,
                               {"ANTT_WORKER_TEST_FREEZE_FLUSH": "2"})
    take_over(workers, live_settings, partition, len(records), distinct(events),
              {"ANTT_LIVE_FLUSH_INTERVAL_S": "3"})
    wake(workers, pid, b"chunks of the frozen flush are on the broker")
    assert stale_chunk_after_new_owner(live_settings)  # (else the test proves nothing)
    fresh_worker_counts_the_truth(workers, live_settings, events)


SNAPSHOTS = {"ANTT_WORKER_SNAPSHOT_EVERY_CHUNKS": "2", "ANTT_ACCEPTANCE_WINDOW_DAYS": "0"}


def test_a_stalled_owners_late_snapshot_does_not_replace_the_new_owners(
    workers: Workers, live_settings: Settings
) -> None:
    """w1 stops in a snapshot (built, not written); w2 restores, checkpoints everything and
    writes its own snapshot, tombstoning the chunks it covers; then w1 writes its snapshot
    and tombstones. Without owner epochs w1's manifest replaced w2's under the one fixed key:
    the restored worker took w1's older snapshot and missed the tombstoned chunks' facts."""
    events, records = scenario()
    partition, pid = freeze_w1(workers, live_settings, records,
                               {**SNAPSHOTS, "ANTT_WORKER_SNAPSHOT_PAUSE": "stop:before_parts"})
    take_over(workers, live_settings, partition, len(records), distinct(events), SNAPSHOTS)
    written = f"snapshot of province {PROVINCE} (partition {partition}):".encode()
    wait_until(lambda: written in (workers.logs / "w2.log").read_bytes(), TIMEOUT,
               "w2's own snapshot")
    wake(workers, pid, written)
    assert stale_manifest_after_new_owner(live_settings)  # (else the test proves nothing)
    fresh_worker_counts_the_truth(workers, live_settings, events)


def parts_straddle_new_owner(settings: Settings) -> bool:
    """The scenario happened: a snapshot's parts were written both before and after a key of
    a higher owner epoch (the new owner's), and its manifest after all of them."""
    keys = [checkpoint.parse(key) for key, value in changelog_records(settings)
            if value is not None]
    parsed = [k for k in keys if k is not None]
    for i, key in enumerate(parsed):
        if key.kind != "part":
            continue
        later = parsed[i + 1:]
        newer = [j for j, k in enumerate(later) if k.epoch > key.epoch]
        if newer and any(k.kind == "part" and k.epoch == key.epoch and k.seq == key.seq
                         for k in later[newer[0]:]):
            return True
    return False


def test_a_stalled_owners_half_written_snapshot_is_not_tombstoned_by_the_new_owner(
    workers: Workers, live_settings: Settings
) -> None:
    """w1 stops between the parts of its snapshot; w2 restores (those parts have no manifest
    yet: left by a crash, as far as w2 can tell), counts and checkpoints; then w1 writes its
    other parts, its manifest, and tombstones its chunks the snapshot covers. If w2 had
    tombstoned the parts it found (it did, at its first flush, until a review found it), the
    snapshot would be incomplete and its chunks gone: the restored worker lost those facts."""
    events, records = scenario()
    small_parts = {**SNAPSHOTS, "ANTT_WORKER_SNAPSHOT_PART_BYTES": "256"}
    partition, pid = freeze_w1(workers, live_settings, records,
                               {**small_parts, "ANTT_WORKER_SNAPSHOT_PAUSE":
                                "stop:between_parts"})
    take_over(workers, live_settings, partition, len(records), distinct(events), {})
    wake(workers, pid, f"snapshot of province {PROVINCE} (partition {partition}):".encode())
    assert parts_straddle_new_owner(live_settings)  # (else the test proves nothing)
    fresh_worker_counts_the_truth(workers, live_settings, events)
