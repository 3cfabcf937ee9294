"""The worker against the real broker: duplicates, out-of-order, late events, corrections,
malformed records, kill -9 recovery and a two-worker rebalance, each compared with a ground
truth computed independently from what was produced."""

from __future__ import annotations

import random
import signal
import threading
import time
from datetime import UTC, datetime

import pytest
import streams_gen
import streams_truth
from streams_harness import Workers, get_json, produce, read_topic, wait_until

from antt.settings import Settings

pytestmark = pytest.mark.integration
PROVINCES = ["01", "79", "48", "31", "92", "22"]
START_TIMEOUT = 60
WORKER_SESSION_TIMEOUT_S = 3.0  # see conftest.live_settings


def expected_count(events: list[dict]) -> int:
    return len({e["event_id"] for e in events})


def check_truth(port: int, events: list[dict]) -> None:
    """National, per-province children and one province's page equal the ground truth."""
    status, national = get_json(port, "/api/v1/live/national")
    assert status == 200, national
    now = datetime.now(UTC)
    assert national["freshness"]["events_counted"] == expected_count(events)
    assert streams_truth.compare(national, streams_truth.figures(events, now)) == []
    for child in national["children"]:
        if child["code"] in PROVINCES:
            truth = streams_truth.figures(events, now, province=child["code"])
            assert streams_truth.compare(child, truth) == [], child["code"]
    status, page = get_json(port, "/api/v1/live/provinces/01")
    assert status == 200
    assert streams_truth.compare(page, streams_truth.figures(events, now, province="01")) == []
    assert sum(c["periods"]["ytd"]["figures"]["received"] for c in page["children"]) == (
        page["periods"]["ytd"]["figures"]["received"]
    )


def wait_counted(workers: Workers, name: str, n: int, timeout: float = 60) -> None:
    seen: list[int] = []

    def reached() -> bool:
        seen.append(workers.counted(name))
        return seen[-1] == n

    try:
        wait_until(reached, timeout, f"{name} to count {n} events")
    except AssertionError as exc:
        # (the worker's state, log and task stacks: a stall seen twice in CI left little
        # else to go on; docs/known-issues.md)
        raise AssertionError(f"{exc}; counted {seen[-3:]}; status {workers.status(name)}; "
                             f"log:\n{workers.tail(name, 60)}\n"
                             f"stacks:\n{workers.stacks(name)}") from None


def test_records_dropped_before_the_agent_are_fetched_again(
    workers: Workers, live_settings: Settings
) -> None:
    """Records that never reach the agent, with no later record to show the hole: the
    stall watchdog seeks back (streams/agents/delivery.py). The hook drops the last record."""
    rng = random.Random(44)
    events = streams_gen.scenario(rng, datetime.now(UTC), ["79"], n_incidents=60)
    records = streams_gen.records(events, rng, max_batch=40)
    workers.extra_env = {"ANTT_WORKER_TEST_DROP_RECORD": str(len(records)),
                         "ANTT_WORKER_STALL_CHECK_S": "1"}
    port = workers.start("w1")
    produce(live_settings, records)
    wait_counted(workers, "w1", expected_count(events), timeout=START_TIMEOUT)
    check_truth(port, events)
    status = workers.status("w1")
    assert status["stats"]["stalls"] == 1, status
    assert "as if never delivered" in workers.tail("w1", 400)
    wanted = sorted(p["next_offset"] for p in status["positions"].values())
    assert wanted == [0] * (len(wanted) - 1) + [len(records)]  # one province, one partition


def test_a_record_lost_mid_stream_is_fetched_again_at_once(
    workers: Workers, live_settings: Settings
) -> None:
    """A record that does not reach the agent in the middle of a partition: the next one
    shows the gap and the worker seeks back while Faust still hands over the rest of the
    batch it had fetched. Faust's own fetch loop used to drop the records fetched again
    (they were below its "last read offset", which those late records had raised), so the
    partition waited for the stall watchdog (switched off here: 1 h)."""
    rng = random.Random(45)
    events = streams_gen.scenario(rng, datetime.now(UTC), ["79"], n_incidents=150)
    records = streams_gen.records(events, rng, max_batch=20)
    assert len(records) > 12
    produce(live_settings, records)  # (all there before the worker fetches: one batch)
    workers.extra_env = {"ANTT_WORKER_TEST_DROP_RECORD": "4",
                         "ANTT_WORKER_STALL_CHECK_S": "3600"}
    port = workers.start("w1")
    wait_counted(workers, "w1", expected_count(events), timeout=30)
    check_truth(port, events)
    assert workers.status("w1")["stats"]["stalls"] == 0
    assert "were not delivered: seeking back" in workers.tail("w1", 400)


def test_one_worker_exact_with_duplicates_corrections_and_dead_letters(
    workers: Workers, live_settings: Settings
) -> None:
    rng = random.Random(41)
    now = datetime.now(UTC)
    events = streams_gen.scenario(rng, now, PROVINCES, n_incidents=500)
    bad_records, bad_but_valid, n_letters = streams_gen.malformed(now)
    port = workers.start("w1")
    records = streams_gen.records(events, rng)
    produce(live_settings, records[: len(records) // 2] + bad_records)
    produce(live_settings, records[len(records) // 2 :] + records[:50])  # + resent records
    everything = events + bad_but_valid
    wait_counted(workers, "w1", expected_count(everything), timeout=START_TIMEOUT)
    check_truth(port, everything)
    letters = read_topic(live_settings, live_settings.dlq_topic, n_letters)
    assert len(letters) == n_letters
    assert all(x["reason"] and x["source"]["topic"] == live_settings.events_topic
               for x in letters)
    status, missing = get_json(port, "/api/v1/live/provinces/00")
    assert status == 404
    started = time.monotonic()
    workers.signal("w1", signal.SIGINT)  # Ctrl-C: a clean stop, promptly
    assert workers.procs["w1"].returncode == 0
    assert time.monotonic() - started < 20


def test_kill_9_mid_stream_then_restart_counts_exactly(
    workers: Workers, live_settings: Settings
) -> None:
    rng = random.Random(42)
    events = streams_gen.scenario(rng, datetime.now(UTC), PROVINCES, n_incidents=900)
    records = streams_gen.records(events, rng, max_batch=40)
    workers.start("w1")
    third = len(records) // 3
    produce(live_settings, records[:third])
    wait_until(lambda: workers.counted("w1") > 0, START_TIMEOUT, "w1 counting")
    wait_until(lambda: workers.status("w1")["stats"]["chunks_written"], 10, "a checkpoint")
    sender = threading.Thread(target=produce, args=(live_settings, records[third:2 * third]))
    sender.start()
    time.sleep(0.3)  # mid-stream, with facts applied but not yet checkpointed
    workers.signal("w1", signal.SIGKILL)
    sender.join()
    port = workers.start("w1")
    produce(live_settings, records[2 * third :] + records[:third])  # tail, plus resends
    wait_counted(workers, "w1", expected_count(events), timeout=START_TIMEOUT)
    check_truth(port, events)
    stats = workers.status("w1")["stats"]
    assert stats["restored_facts"] > 0  # state came back from the checkpoint chunks
    # (Whether some replayed positions were already in a chunk, and so skipped, depends on
    # when the kill lands relative to the offset commit: the skip itself is proven without
    # timing in tests/unit/streams/test_streams_logic.py::test_restore_from_chunks_then_...)
    assert stats["duplicates"] > 0  # resent records after the restart counted once


def test_two_workers_split_partitions_and_survive_join_and_leave(
    workers: Workers, live_settings: Settings
) -> None:
    rng = random.Random(43)
    events = streams_gen.scenario(rng, datetime.now(UTC), PROVINCES, n_incidents=900)
    records = streams_gen.records(events, rng, max_batch=40)
    part = len(records) // 3
    workers.start("w1")
    produce(live_settings, records[:part])
    wait_until(lambda: workers.counted("w1") > 0, START_TIMEOUT, "w1 counting")
    port2 = workers.start("w2")  # joins mid-stream
    produce(live_settings, records[part : 2 * part])
    first_two = _events_of(records[: 2 * part])
    n = expected_count(first_two)
    wait_counted(workers, "w1", n, timeout=START_TIMEOUT)
    wait_counted(workers, "w2", n, timeout=START_TIMEOUT)
    held = [set(workers.status(name)["partitions"]) for name in ("w1", "w2")]
    assert held[0] and held[1] and not held[0] & held[1]  # the group split the partitions
    for port in workers.ports.values():
        check_truth(port, first_two)
    sender = threading.Thread(target=produce, args=(live_settings, records[2 * part :]))
    sender.start()
    workers.signal("w1", signal.SIGTERM)  # leaves mid-stream
    sender.join()
    wait_counted(workers, "w2", expected_count(events), timeout=START_TIMEOUT)
    check_truth(port2, events)


def _events_of(records: list[tuple[bytes, bytes]]) -> list[dict]:
    import orjson

    out: list[dict] = []
    for _, value in records:
        data = orjson.loads(value)
        out.extend(data if isinstance(data, list) else [data])
    return out
