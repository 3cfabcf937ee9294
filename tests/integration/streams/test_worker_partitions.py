"""Records on the wrong partition and dead letters, against the real broker.

- One province produced to two partitions (C2): the records on the second partition are
  dead-lettered with a reason that says so, never dropped silently.
- Dead letters (I4): a letter for a record near the size limit is cut to fit (with its size
  and SHA-256), and letters are on the broker before their source offsets are committed.
"""

from __future__ import annotations

import hashlib
import random
import signal
from datetime import UTC, datetime

import orjson
import pytest
import streams_gen
import streams_truth
from streams_harness import (
    Workers,
    committed_offsets,
    get_json,
    produce,
    produce_at,
    read_topic,
    wait_until,
)

from antt.settings import Settings

pytestmark = pytest.mark.integration
WORKER_SESSION_TIMEOUT_S = 3.0  # see conftest.live_settings


def test_province_on_a_second_partition_is_dead_lettered_not_lost(
    workers: Workers, live_settings: Settings
) -> None:
    rng = random.Random(44)
    now = datetime.now(UTC)
    events = streams_gen.scenario(rng, now, ["01"], n_incidents=150)
    records = streams_gen.records(events, rng, max_batch=30)
    home_recs, stray = records[: len(records) - 6], records[len(records) - 6 :]
    port = workers.start("w1")
    (home,) = produce_at(live_settings, home_recs, None)  # the default partitioner
    other = (home + 1) % live_settings.topic_partitions
    assert produce_at(live_settings, stray, other) == {other}  # a "custom partitioner"
    counted = [e for _, v in home_recs for e in _events(v)]
    n = len({e["event_id"] for e in counted})
    wait_until(lambda: workers.status("w1")["stats"]["misrouted"] == len(stray), 60,
               "the stray records to be dead-lettered")
    assert workers.counted("w1") == n
    status, page = get_json(port, "/api/v1/live/provinces/01")
    assert status == 200
    assert streams_truth.compare(page, streams_truth.figures(counted, datetime.now(UTC),
                                                             province="01")) == []
    letters = read_topic(live_settings, live_settings.dlq_topic, len(stray))
    assert len(letters) == len(stray)
    assert {x["source"]["partition"] for x in letters} == {other}
    assert all("province on a second partition" in x["reason"] for x in letters)
    assert sorted(orjson.dumps(orjson.loads(x["raw"])) for x in letters) == sorted(
        orjson.dumps(orjson.loads(v)) for _, v in stray)


def test_oversize_dead_letters_are_cut_and_delivered_before_the_commit(
    workers: Workers, live_settings: Settings
) -> None:
    big = [b"\x01" * 2_500_000, b"[" + b"7" * 3_000_000, b"\xfe" * 2_000_000]
    small = b"{not json"
    rng = random.Random(45)
    valid = streams_gen.records(streams_gen.scenario(rng, datetime.now(UTC), ["01"], 20), rng)
    records = [(b"01", v) for v in big] + [(b"01", small)] + valid
    workers.start("w1")
    produce(live_settings, records)
    total = len(records)
    wait_until(lambda: sum(committed_offsets(live_settings).values()) >= total, 90,
               "the worker to commit every record")
    workers.signal("w1", signal.SIGKILL)  # nothing more can be sent from here on
    letters = read_topic(live_settings, live_settings.dlq_topic, 4)
    assert len(letters) == 4
    by_size = {x.get("raw_size", len(x["raw"])): x for x in letters}
    for raw in big:
        letter = by_size[len(raw)]
        assert letter["raw_truncated"] is True
        assert letter["raw_sha256"] == hashlib.sha256(raw).hexdigest()
        assert letter["source"]["topic"] == live_settings.events_topic
    assert by_size[len(small)]["raw"] == small.decode()


def _events(value: bytes) -> list[dict]:
    data = orjson.loads(value)
    return data if isinstance(data, list) else [data]
